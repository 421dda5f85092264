// Reads a Hugging Face model directory (config.json, tokenizer.json, ONNX files, sentence-transformers
// modules) into a ModelSpec: which file to run, what kind of model it is, and how to pool and score it.
import { existsSync, readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { isRepoRef, resolveModelRef } from './hub/resolve.js';
import { repoIdFromFolder } from './hub/repo-id.js';

export type ModelKind = 'cross-encoder' | 'bi-encoder';
export type Pooling = 'mean' | 'cls' | 'max';

export interface ModelSpec {
  dir: string;
  name: string;
  kind: ModelKind;
  /** The file to run (fp32 unless quantized was requested). */
  onnxPath: string;
  onnxFiles: { fp32?: string; quantized: string[] };
  tokenizerPath: string;
  config: Record<string, unknown>;
  /** sentence-transformers semantics: max_seq_length for bi-encoders. */
  maxLength: number;
  hiddenSize: number;
  /** Cross-encoders: logits per pair. 0 for bi-encoders. */
  numLabels: number;
  /** 1 logit -> sigmoid; 2 -> softmax, positive class = index 1. */
  activation: 'sigmoid' | 'softmax';
  /** Bi-encoders. Cross-encoders report 'cls' (the pooler reads [CLS]) and false. */
  pooling: Pooling;
  normalize: boolean;
}

export interface LoadModelOptions {
  quantized?: boolean;
  /** Skip detection (for checkpoints whose config.json does not say what they are). */
  kind?: ModelKind;
}

/** Above this, tokenizer_config.json's model_max_length is transformers' "no limit" sentinel (1e30). */
const SANE_MODEL_MAX_LENGTH = 1_000_000;
/** What BERT-family checkpoints accept when nothing in the directory says otherwise. */
const DEFAULT_MAX_LENGTH = 512;
const FP32_NAMES = ['onnx/model.onnx', 'model.onnx'];
// Optimum writes model_quantized.onnx; sentence-transformers repos ship model_qint8_avx512.onnx and friends.
const QUANTIZED_PATTERN = /(_quantized|_int8|_uint8|_qint8[a-z0-9_]*|_quint8[a-z0-9_]*)\.onnx$/;
const EXPORT_HINT = 'export one with `optimum-cli export onnx --model <hub id> <dir>`';

class ModelDirError extends Error {
  constructor(dir: string, message: string) {
    super(`model dir ${dir}: ${message}`);
    this.name = 'ModelDirError';
  }
}

function readJson(dir: string, file: string, expected: string, required: true): Record<string, unknown>;
function readJson(dir: string, file: string, expected: string, required: false): Record<string, unknown> | undefined;
function readJson(dir: string, file: string, expected: string, required: boolean): Record<string, unknown> | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) {
    if (required) throw new ModelDirError(dir, `${file} is missing; expected ${expected}`);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ModelDirError(dir, `cannot read ${file} (${(e as Error).message}); expected ${expected}`);
  }
  if (text.startsWith('version https://git-lfs')) {
    throw new ModelDirError(dir, `${file} is a Git LFS pointer, not the file; run \`git lfs pull\` in the model repo`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelDirError(dir, `${file} is not valid JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) && file !== 'modules.json') {
    throw new ModelDirError(dir, `${file} holds ${Array.isArray(value) ? 'an array' : typeof value}, not an object; expected ${expected}`);
  }
  return value as Record<string, unknown>;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** First bytes of a ModelProto: a field tag for one of its fields (1-8, 14, 20, 25). */
function checkOnnxFile(dir: string, path: string): void {
  const rel = relative(dir, path);
  const size = statSync(path).size;
  if (size === 0) throw new ModelDirError(dir, `${rel} is empty; expected an ONNX model (${EXPORT_HINT})`);
  const head = Buffer.alloc(Math.min(size, 40));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1').startsWith('version https://git-lfs')) {
    throw new ModelDirError(dir, `${rel} is a Git LFS pointer (${size} bytes), not the model; run \`git lfs pull\` in the model repo`);
  }
  const modelTags = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca]);
  if (!modelTags.has(head[0])) {
    throw new ModelDirError(dir, `${rel} does not start like an ONNX protobuf (first byte 0x${head[0].toString(16).padStart(2, '0')}); expected an ONNX model (${EXPORT_HINT})`);
  }
}

function findOnnxFiles(dir: string): { fp32?: string; quantized: string[]; all: string[] } {
  const all: string[] = [];
  for (const sub of ['onnx', '']) {
    const folder = join(dir, sub);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) continue;
    for (const f of readdirSync(folder).sort()) if (f.endsWith('.onnx')) all.push(sub ? `${sub}/${f}` : f);
  }
  const fp32 = FP32_NAMES.find((n) => all.includes(n));
  // Preference: Optimum's model_quantized.onnx in onnx/, then at top level, then the others by name.
  const rank = (f: string): number => (f.endsWith('/model_quantized.onnx') ? 0 : f === 'model_quantized.onnx' ? 1 : f.startsWith('onnx/') ? 2 : 3);
  const quantized = all.filter((f) => QUANTIZED_PATTERN.test(basename(f))).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return { fp32: fp32 && join(dir, fp32), quantized: quantized.map((f) => join(dir, f)), all };
}

function detectKind(dir: string, config: Record<string, unknown>): ModelKind {
  const archs = Array.isArray(config.architectures) ? (config.architectures as unknown[]).map(String) : [];
  if (archs.some((a) => a.endsWith('ForSequenceClassification'))) return 'cross-encoder';
  if (existsSync(join(dir, 'modules.json')) || existsSync(join(dir, 'sentence_bert_config.json'))) return 'bi-encoder';
  if (archs.some((a) => /Model$/.test(a))) return 'bi-encoder';
  if (archs.length === 0 && (config.id2label !== undefined || config.num_labels !== undefined)) return 'cross-encoder';
  throw new ModelDirError(
    dir,
    `cannot tell whether this is a cross-encoder or a bi-encoder: config.json architectures is ${JSON.stringify(archs)} and there is no modules.json; pass kind: 'cross-encoder' or 'bi-encoder'`,
  );
}

function countLabels(dir: string, config: Record<string, unknown>): number {
  const explicit = positiveInt(config.num_labels);
  const id2label = config.id2label && typeof config.id2label === 'object' ? Object.keys(config.id2label as object).length : undefined;
  if (explicit !== undefined && id2label !== undefined && id2label > 0 && explicit !== id2label) {
    throw new ModelDirError(dir, `config.json num_labels is ${explicit} but id2label has ${id2label} entries; fix one of them`);
  }
  // transformers' default for a classification head with no labels declared is 2.
  return explicit ?? (id2label || 2);
}

/** Positions the model can embed: RoBERTa-family checkpoints reserve pad_token_id + 1 slots of theirs. */
function positionLimit(config: Record<string, unknown>): number | undefined {
  const max = positiveInt(config.max_position_embeddings);
  if (max === undefined) return undefined;
  const type = String(config.model_type ?? '');
  if (['roberta', 'xlm-roberta', 'camembert', 'longformer'].includes(type)) {
    const pad = typeof config.pad_token_id === 'number' ? config.pad_token_id : 1;
    return max - pad - 1;
  }
  return max;
}

interface StModules {
  pooling: Pooling;
  normalize: boolean;
  poolingDim?: number;
}

function readSentenceTransformers(dir: string): StModules {
  const modulesRaw = readJson(dir, 'modules.json', 'a sentence-transformers modules.json (a list of modules)', false);
  if (modulesRaw === undefined) return { pooling: 'mean', normalize: false }; // sentence-transformers' default for plain HF models
  if (!Array.isArray(modulesRaw)) throw new ModelDirError(dir, 'modules.json is not a list; expected a sentence-transformers modules.json');
  const modules = modulesRaw as { type?: unknown; path?: unknown }[];
  const normalize = modules.some((m) => String(m.type ?? '').endsWith('.Normalize'));
  const poolingModule = modules.find((m) => String(m.type ?? '').endsWith('.Pooling'));
  if (!poolingModule) return { pooling: 'mean', normalize };
  const file = join(String(poolingModule.path ?? '1_Pooling'), 'config.json');
  const cfg = readJson(dir, file, 'a sentence-transformers Pooling config', true);
  const modes: [string, Pooling | null][] = [
    ['pooling_mode_mean_tokens', 'mean'],
    ['pooling_mode_cls_token', 'cls'],
    ['pooling_mode_max_tokens', 'max'],
    ['pooling_mode_mean_sqrt_len_tokens', null],
    ['pooling_mode_weightedmean_tokens', null],
    ['pooling_mode_lasttoken', null],
  ];
  const on = modes.filter(([k]) => cfg[k] === true);
  if (on.length === 0) throw new ModelDirError(dir, `${file} turns on no pooling mode; expected one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens`);
  if (on.length > 1) throw new ModelDirError(dir, `${file} turns on ${on.map(([k]) => k).join(' and ')}; crossgate supports one pooling mode (mean, cls or max), not their concatenation`);
  const [key, pooling] = on[0];
  if (!pooling) throw new ModelDirError(dir, `${file} uses ${key}, which crossgate does not implement; supported: mean, cls, max`);
  return { pooling, normalize, poolingDim: positiveInt(cfg.word_embedding_dimension) };
}

/** Loads and checks the model directory `dir`. Throws an error naming the file and the fix. */
export function loadModelDir(dir: string, opts: LoadModelOptions = {}): ModelSpec {
  if (opts.kind !== undefined && opts.kind !== 'cross-encoder' && opts.kind !== 'bi-encoder') {
    throw new TypeError(`'kind' is invalid: ${JSON.stringify(opts.kind)}; expected 'cross-encoder' or 'bi-encoder'`);
  }
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`'dir' is invalid: ${JSON.stringify(dir)}; expected the path of a model directory`);
  // A hub repo id ("org/name[@rev]") that is not a path on disk resolves through the HF cache, offline.
  const abs = isRepoRef(dir) ? resolveModelRef(dir, { quantized: opts.quantized }) : resolve(dir);
  if (!existsSync(abs)) throw new ModelDirError(abs, 'does not exist; pass the folder that holds config.json, tokenizer.json and the ONNX files');
  if (!statSync(abs).isDirectory()) throw new ModelDirError(abs, 'is a file, not a directory; pass the folder that holds it');

  const config = readJson(abs, 'config.json', 'a Hugging Face config.json', true);
  const tokenizerJson = readJson(abs, 'tokenizer.json', 'a Hugging Face fast-tokenizer file (save it with `tokenizer.save_pretrained(dir)` from transformers; vocab.txt alone is not enough)', true);
  const tokenizerConfig = readJson(abs, 'tokenizer_config.json', 'a Hugging Face tokenizer_config.json', false);

  const files = findOnnxFiles(abs);
  let onnxPath: string;
  if (opts.quantized) {
    if (files.quantized.length === 0) {
      const found = files.all.length ? `found only ${files.all.join(', ')}` : 'found no .onnx file at all';
      throw new ModelDirError(abs, `quantized: true but there is no quantized ONNX file (looked for *_quantized.onnx, *_int8.onnx, *_qint8*.onnx in onnx/ and the top level; ${found}); create one with \`optimum-cli onnxruntime quantize\` or drop quantized`);
    }
    onnxPath = files.quantized[0];
  } else if (files.fp32) {
    onnxPath = files.fp32;
  } else if (files.quantized.length > 0) {
    throw new ModelDirError(abs, `no fp32 ONNX file (looked for ${FP32_NAMES.join(', ')}), but found ${files.quantized.map((f) => relative(abs, f)).join(', ')}; pass quantized: true to run it`);
  } else {
    const others = files.all.length ? ` (found ${files.all.join(', ')})` : '';
    throw new ModelDirError(abs, `no ONNX file: looked for ${FP32_NAMES.join(', ')}${others}; ${EXPORT_HINT}`);
  }
  checkOnnxFile(abs, onnxPath);

  const kind = opts.kind ?? detectKind(abs, config);

  const st = kind === 'bi-encoder' ? readSentenceTransformers(abs) : { pooling: 'cls' as Pooling, normalize: false };
  const hiddenSize = positiveInt(config.hidden_size) ?? positiveInt(config.d_model) ?? positiveInt(config.dim) ?? ('poolingDim' in st ? st.poolingDim : undefined);
  if (hiddenSize === undefined) throw new ModelDirError(abs, 'config.json has no hidden_size (nor d_model or dim); expected a Hugging Face config.json for a transformer encoder');

  let numLabels = 0;
  let activation: 'sigmoid' | 'softmax' = 'sigmoid';
  if (kind === 'cross-encoder') {
    numLabels = countLabels(abs, config);
    if (numLabels === 1) activation = 'sigmoid';
    // Two logits: relevance = softmax(logits)[1]. Binary classifiers fine-tuned for relevance (e.g. the
    // MS MARCO / NLI-style rerankers) put "not relevant" at label 0 and "relevant" at label 1.
    else if (numLabels === 2) activation = 'softmax';
    else {
      throw new ModelDirError(abs, `config.json declares ${numLabels} labels; crossgate scores relevance from 1 logit (sigmoid) or 2 (softmax, positive class 1), not ${numLabels}-way classifiers`);
    }
  }

  // Every limit the directory states; the model can take no more than the smallest.
  const limits: number[] = [];
  const positions = positionLimit(config);
  if (positions !== undefined) limits.push(positions);
  const tokMax = typeof tokenizerConfig?.model_max_length === 'number' ? tokenizerConfig.model_max_length : undefined;
  const truncation = tokenizerJson.truncation as { max_length?: unknown } | null | undefined;
  const truncMax = positiveInt(truncation?.max_length);
  let maxLength: number;
  const stConfig = kind === 'bi-encoder' ? readJson(abs, 'sentence_bert_config.json', 'a sentence-transformers sentence_bert_config.json', false) : undefined;
  const stMax = positiveInt(stConfig?.max_seq_length);
  if (stMax !== undefined) {
    // sentence-transformers truncates to max_seq_length even when the tokenizer allows more; clamp to
    // the position table so a bad config cannot index past it.
    maxLength = Math.min(stMax, ...(positions !== undefined ? [positions] : []));
  } else {
    if (tokMax !== undefined && tokMax > 0 && tokMax < SANE_MODEL_MAX_LENGTH) limits.push(Math.floor(tokMax));
    if (truncMax !== undefined) limits.push(truncMax);
    maxLength = limits.length ? Math.min(...limits) : DEFAULT_MAX_LENGTH;
  }

  return {
    dir: abs,
    name: modelName(abs),
    kind,
    onnxPath,
    onnxFiles: { fp32: files.fp32, quantized: files.quantized },
    tokenizerPath: join(abs, 'tokenizer.json'),
    config,
    maxLength,
    hiddenSize,
    numLabels,
    activation,
    pooling: st.pooling,
    normalize: st.normalize,
  };
}


/** A snapshot in the HF cache (…/models--org--name/snapshots/<rev>) is named by its repo id, not its commit. */
function modelName(abs: string): string {
  const parent = dirname(abs);
  if (basename(parent) === 'snapshots') {
    const repoId = repoIdFromFolder(basename(dirname(parent)));
    if (repoId) return repoId;
  }
  return basename(abs);
}
