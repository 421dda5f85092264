// Writes the offline test/benchmark models (models/presets.ts) as Hugging Face model directories:
// ensureGenerated() for code, `node dist/models/generate.js <preset...>` for people.
import { processAlive } from '../src/platform.js';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/native.js';
import { bertParamCount, buildBert } from './onnx/bert.js';
import { encodeModel } from '../src/models/onnx/graph.js';
import { quantizeDynamic, type QuantizeReport } from '../src/models/onnx/quantize.js';
import { PRESET_NAMES, presetSpec, type Preset, type PresetSpec } from './presets.js';
import { buildVocab, CALIBRATION_PAIRS, encodePairForCalibration, specialTokensMapJson, tokenizerConfigJson, tokenizerJson, vocabTxt } from './vocab.js';

export type { Preset } from './presets.js';
export { PRESETS, PRESET_NAMES } from './presets.js';

/** Bumped whenever the bytes a preset produces change, so stale directories get rewritten. */
export const GENERATOR_VERSION = 1;

export interface EnsureOptions {
  /** Folder holding one sub-folder per preset. Default: $CROSSGATE_MODELS_DIR, else <package>/models/.generated. */
  root?: string;
  onProgress?: (done: number, total: number) => void;
}

export function defaultModelsRoot(): string {
  return process.env.CROSSGATE_MODELS_DIR || join(packageRoot(), 'models', '.generated');
}

function expectedFiles(spec: PresetSpec): string[] {
  const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'onnx/model.onnx', 'onnx/model_quantized.onnx'];
  if (spec.kind === 'bi-encoder') files.push('modules.json', 'sentence_bert_config.json', '1_Pooling/config.json');
  return files;
}

/** Complete = every file present and config.json stamped by this generator version for this preset. */
function isComplete(dir: string, spec: PresetSpec): boolean {
  if (!expectedFiles(spec).every((f) => existsSync(join(dir, f)))) return false;
  try {
    const stamp = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).crossgate_generator;
    return stamp?.version === GENERATOR_VERSION && stamp?.preset === spec.name;
  } catch {
    return false;
  }
}

function sortedJson(value: Record<string, unknown>): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  // transformers writes config.json with sorted keys and 2-space indent.
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

function configJson(spec: PresetSpec): string {
  const b = spec.bert;
  const config: Record<string, unknown> = {
    _name_or_path: `crossgate/${spec.name}`,
    architectures: [spec.kind === 'cross-encoder' ? 'BertForSequenceClassification' : 'BertModel'],
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    gradient_checkpointing: false,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: b.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: b.intermediateSize,
    layer_norm_eps: b.layerNormEps,
    max_position_embeddings: b.maxPositions,
    model_type: 'bert',
    num_attention_heads: b.numHeads,
    num_hidden_layers: b.numLayers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    transformers_version: '4.41.2',
    type_vocab_size: b.typeVocabSize,
    use_cache: true,
    vocab_size: b.vocabSize,
    crossgate_generator: {
      version: GENERATOR_VERSION,
      preset: spec.name,
      seed: spec.seed,
      note: spec.architectureOf
        ? `random weights in the architecture of ${spec.architectureOf}; scores carry no meaning`
        : 'random weights for tests; scores carry no meaning',
    },
  };
  if (spec.kind === 'cross-encoder') {
    const labels = Array.from({ length: spec.numLabels }, (_, i) => `LABEL_${i}`);
    config.num_labels = spec.numLabels;
    config.id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
    config.label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  }
  return sortedJson(config);
}

/** The files sentence-transformers saves next to a bi-encoder: module list, pooling, max_seq_length. */
function sentenceTransformersFiles(spec: PresetSpec): Record<string, string> {
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ];
  const pooling = {
    word_embedding_dimension: spec.bert.hiddenSize,
    pooling_mode_cls_token: false,
    pooling_mode_mean_tokens: true,
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false,
    include_prompt: true,
  };
  return {
    'modules.json': JSON.stringify(modules, null, 2) + '\n',
    'sentence_bert_config.json': JSON.stringify({ max_seq_length: spec.maxSeqLength ?? 256, do_lower_case: false }, null, 2) + '\n',
    '1_Pooling/config.json': JSON.stringify(pooling, null, 2) + '\n',
  };
}

export interface GenerateResult {
  dir: string;
  quantize: QuantizeReport;
  bytes: { fp32: number; quantized: number };
}

/** Writes every file of `spec` into `dir` (which must exist). Deterministic: same bytes on every run. */
export async function writePreset(dir: string, spec: PresetSpec, onProgress?: (done: number, total: number) => void): Promise<GenerateResult> {
  const head = spec.kind === 'cross-encoder' ? { kind: spec.kind, numLabels: spec.numLabels } : { kind: spec.kind };
  const params = bertParamCount(spec.bert, head);
  // Progress units: parameters built, then parameters quantized, then the two files written.
  const total = params * 3;
  let done = 0;
  const tick = (n: number): void => {
    done += n;
    onProgress?.(done, total);
  };

  const vocab = buildVocab(spec.bert.vocabSize, spec.vocabSeed);
  const text: Record<string, string> = {
    'config.json': configJson(spec),
    'tokenizer.json': tokenizerJson(vocab),
    'tokenizer_config.json': tokenizerConfigJson(spec.modelMaxLength),
    'special_tokens_map.json': specialTokensMapJson(),
    'vocab.txt': vocabTxt(vocab),
    ...(spec.kind === 'bi-encoder' ? sentenceTransformersFiles(spec) : {}),
  };
  await mkdir(join(dir, 'onnx'), { recursive: true });
  if (spec.kind === 'bi-encoder') await mkdir(join(dir, '1_Pooling'), { recursive: true });
  for (const [name, body] of Object.entries(text)) await writeFile(join(dir, name), body);

  const fp32 = buildBert(spec.bert, head, {
    seed: spec.seed,
    onTensor: tick,
    calibration: { targetStd: 2, pairs: CALIBRATION_PAIRS.map(([q, p]) => encodePairForCalibration(vocab, q, p)) },
  });
  const fp32Bytes = encodeModel(fp32);
  await writeFile(join(dir, 'onnx', 'model.onnx'), fp32Bytes);
  tick(params / 2);
  const { model: int8, report } = quantizeDynamic(fp32, { perChannel: false });
  tick(params);
  const int8Bytes = encodeModel(int8);
  await writeFile(join(dir, 'onnx', 'model_quantized.onnx'), int8Bytes);
  tick(total - done);
  return { dir, quantize: report, bytes: { fp32: fp32Bytes.length, quantized: int8Bytes.length } };
}


/** Removes temp dirs left by generations that were killed part-way (their process is gone). */
async function sweepAbandoned(root: string, preset: string): Promise<void> {
  const prefix = `.${preset}.tmp-`;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * Returns `<root>/<preset>`, generating it first unless a complete copy from this generator version is
 * there. Files are written into a temp dir and renamed into place, so a killed generation never leaves
 * a directory that looks complete, and two processes racing both end with the same finished directory.
 */
export async function ensureGenerated(preset: Preset, opts: EnsureOptions = {}): Promise<string> {
  const spec = presetSpec(preset);
  const root = resolve(opts.root ?? defaultModelsRoot());
  const dir = join(root, spec.name);
  if (isComplete(dir, spec)) return dir;

  await mkdir(root, { recursive: true });
  await sweepAbandoned(root, spec.name);
  const tmp = join(root, `.${spec.name}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  await mkdir(tmp);
  try {
    await writePreset(tmp, spec, opts.onProgress);
    if (existsSync(dir)) {
      if (isComplete(dir, spec)) return dir; // another process finished first
      const old = `${tmp}.old`;
      await rename(dir, old);
      await rm(old, { recursive: true, force: true });
    }
    try {
      await rename(tmp, dir);
    } catch (e) {
      if (!isComplete(dir, spec)) throw e;
    }
    return dir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  let root: string | undefined;
  const presets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = argv[++i];
    else presets.push(argv[i] === '-h' ? '--help' : argv[i]);
  }
  if (presets.length === 0 || presets.includes('--help')) {
    process.stdout.write(`usage: node dist/models/generate.js [--root DIR] <preset...|all>\npresets:\n${PRESET_NAMES.map((p) => `  ${p.padEnd(18)} ${presetSpec(p).description}`).join('\n')}\n`);
    process.exitCode = presets.length === 0 ? 2 : 0;
    return;
  }
  const names = presets.includes('all') ? PRESET_NAMES : presets.map((p) => presetSpec(p).name);
  for (const name of names) {
    const started = Date.now();
    let lastPct = -1;
    const dir = await ensureGenerated(name, {
      root,
      onProgress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (pct >= lastPct + 10 || done === total) {
          lastPct = pct;
          process.stderr.write(`\r${name}: ${pct}%`);
        }
      },
    });
    process.stderr.write(lastPct >= 0 ? '\n' : '');
    process.stdout.write(`${name}: ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`crossgate models: ${e.message}\n`);
    process.exitCode = 1;
  });
}
