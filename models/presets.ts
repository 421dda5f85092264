// The model manifest: every offline model the generator can write, with its shape, head and seeds.
// Full-size presets copy the architecture of the public checkpoints they stand in for (random weights).
import type { BertConfig } from './onnx/bert.js';

export type Preset = 'tiny-cross' | 'tiny-bi' | 'tiny-cross-2label' | 'minilm-l6-cross' | 'minilm-l6-bi';

export interface PresetSpec {
  name: Preset;
  description: string;
  kind: 'cross-encoder' | 'bi-encoder';
  /** Cross-encoders: 1 logit (sigmoid) or 2 (softmax, positive class 1). */
  numLabels: number;
  bert: BertConfig;
  /** Seeds weights; the vocabulary has its own seed so presets of one size share a tokenizer. */
  seed: number;
  vocabSeed: number;
  /** tokenizer_config.json model_max_length. */
  modelMaxLength: number;
  /** Bi-encoders: sentence_bert_config.json max_seq_length. */
  maxSeqLength?: number;
  /** The public checkpoint whose architecture this copies. */
  architectureOf?: string;
}

// Tiny: fast enough to generate and run in every test; 128 positions so truncation is cheap to hit.
const TINY: BertConfig = {
  vocabSize: 4096, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64,
  maxPositions: 128, typeVocabSize: 2, layerNormEps: 1e-12,
};

const MINILM_L6: BertConfig = {
  vocabSize: 30522, hiddenSize: 384, numLayers: 6, numHeads: 12, intermediateSize: 1536,
  maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12,
};

export const PRESETS: Record<Preset, PresetSpec> = {
  'tiny-cross': {
    name: 'tiny-cross', description: 'tiny BERT cross-encoder, 1 logit (sigmoid), for tests',
    kind: 'cross-encoder', numLabels: 1, bert: TINY, seed: 1001, vocabSeed: 7, modelMaxLength: 512,
  },
  'tiny-cross-2label': {
    name: 'tiny-cross-2label', description: 'tiny BERT cross-encoder, 2 logits (softmax, positive class 1), for tests',
    kind: 'cross-encoder', numLabels: 2, bert: TINY, seed: 1002, vocabSeed: 7, modelMaxLength: 512,
  },
  'tiny-bi': {
    // max_seq_length below max_position_embeddings so a loader that ignores sentence_bert_config shows up.
    name: 'tiny-bi', description: 'tiny BERT bi-encoder (mean pooling, normalized), for tests',
    kind: 'bi-encoder', numLabels: 0, bert: TINY, seed: 1003, vocabSeed: 7, modelMaxLength: 512, maxSeqLength: 64,
  },
  'minilm-l6-cross': {
    name: 'minilm-l6-cross', description: 'random-weight clone of cross-encoder/ms-marco-MiniLM-L-6-v2 (shape and cost only)',
    kind: 'cross-encoder', numLabels: 1, bert: MINILM_L6, seed: 2001, vocabSeed: 11, modelMaxLength: 512,
    architectureOf: 'cross-encoder/ms-marco-MiniLM-L-6-v2',
  },
  'minilm-l6-bi': {
    name: 'minilm-l6-bi', description: 'random-weight clone of sentence-transformers/all-MiniLM-L6-v2 (shape and cost only)',
    kind: 'bi-encoder', numLabels: 0, bert: MINILM_L6, seed: 2002, vocabSeed: 11, modelMaxLength: 512, maxSeqLength: 256,
    architectureOf: 'sentence-transformers/all-MiniLM-L6-v2',
  },
};

export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];

export function presetSpec(name: string): PresetSpec {
  const spec = (PRESETS as Record<string, PresetSpec | undefined>)[name];
  if (!spec) throw new RangeError(`unknown model preset '${name}'; choose one of ${PRESET_NAMES.join(', ')}`);
  return spec;
}
