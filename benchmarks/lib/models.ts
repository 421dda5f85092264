// The models and peers the rerank trials share: the generated MiniLM-L6 clones and transformers.js set up
// the way a user would (local directory, no hub, batches of 32 padded to the longest, same threads).
import { basename, dirname, join } from 'node:path';
import { ensureGenerated, type Preset } from '../../models/generate.js';

export const CROSS_PRESET: Preset = 'minilm-l6-cross';

export interface CrossModel { dir: string; fp32: string; int8: string }

export async function crossModel(): Promise<CrossModel> {
  const dir = await ensureGenerated(CROSS_PRESET);
  return { dir, fp32: join(dir, 'onnx', 'model.onnx'), int8: join(dir, 'onnx', 'model_quantized.onnx') };
}

/** transformers.js reranker: tokenizer + sequence-classification model on one local model directory. */
export interface TjsReranker {
  /** Logits of (query, passage) pairs, in batches of `batch` padded to their longest row. */
  score(query: string, passages: string[]): Promise<Float32Array>;
  /** Real and padded tokens fed so far (padding waste of the peer). */
  tokens: { real: number; padded: number };
  dispose(): Promise<void>;
}

export const TJS_BATCH = 32;

export async function loadTjs(dir: string, threads: number, dtype: 'fp32' | 'q8' = 'fp32', ep: 'cpu' | 'cuda' = 'cpu'): Promise<TjsReranker> {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = dirname(dir) + '/';
  const name = basename(dir);
  const tok = await tjs.AutoTokenizer.from_pretrained(name);
  const model = await tjs.AutoModelForSequenceClassification.from_pretrained(name, {
    dtype,
    device: ep,
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  const tokens = { real: 0, padded: 0 };
  return {
    tokens,
    async score(query: string, passages: string[]): Promise<Float32Array> {
      const out = new Float32Array(passages.length);
      for (let i = 0; i < passages.length; i += TJS_BATCH) {
        const chunk = passages.slice(i, i + TJS_BATCH);
        const inputs = tok(new Array<string>(chunk.length).fill(query), { text_pair: chunk, padding: true, truncation: true });
        const mask = inputs.attention_mask as { data: BigInt64Array; dims: number[] };
        let real = 0;
        for (let j = 0; j < mask.data.length; j++) real += Number(mask.data[j]);
        tokens.real += real;
        tokens.padded += mask.data.length;
        const res = await model(inputs);
        const logits = res.logits as { data: Float32Array; dims: number[] };
        const cols = logits.dims[1];
        for (let j = 0; j < chunk.length; j++) out[i + j] = logits.data[j * cols + cols - 1];
      }
      return out;
    },
    async dispose(): Promise<void> {
      await model.dispose();
    },
  };
}
