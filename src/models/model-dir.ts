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
  /** The graph outputs of onnxPath as the file declares them; empty when the file could not be read that far. */
  outputs: OnnxOutput[];
}

/** One declared graph output: its name and shape (a number per fixed axis, the symbol or '?' per free one). */
export interface OnnxOutput {
  name: string;
  /** Undefined when the export declares no shape. */
  dims?: (number | string)[];
}

export interface LoadModelOptions {
  quantized?: boolean;
  /**
   * Skip detection and take the directory as this kind (for exports whose config.json misdescribes
   * them). The ONNX outputs are still checked against it.
   */
  kind?: ModelKind;
  /**
   * The kind the caller will run the model as (CrossEncoder, BiEncoder). A directory detected as the
   * other kind, or whose ONNX outputs are the other kind's, is refused with a message naming the class
   * to use; one that does not say what it is is taken as this kind. Ignored when `kind` is given.
   */
  expectKind?: ModelKind;
}

// src/infer/worker.ts picks the output it reads with the same two lists; change both together.
/** Output names a cross-encoder run reads, in order of preference (else the first output). */
export const LOGITS_OUTPUTS = ['logits', 'scores'];
/** Output names a bi-encoder run reads, in order of preference (else the first output). */
export const EMBEDDING_OUTPUTS = ['last_hidden_state', 'token_embeddings', 'sentence_embedding'];

/** The output a run of `kind` reads: the first preferred name the model has, else its first output. */
export function pickOutputName(names: readonly string[], kind: ModelKind): string {
  for (const p of kind === 'cross-encoder' ? LOGITS_OUTPUTS : EMBEDDING_OUTPUTS) if (names.includes(p)) return p;
  return names[0];
}

/** A directory that is one kind of model loaded as the other; the message names the class and flags to use. */
export class ModelKindError extends Error {
  readonly dir: string;
  readonly detected: ModelKind;
  /** The message for CLI users: the flag to use, no library-only option. */
  readonly cliMessage: string;
  constructor(dir: string, detected: ModelKind, evidence: string, overridable: boolean) {
    const use = detected === 'bi-encoder'
      ? 'load it with BiEncoder / pass it as --embedder / --bi-encoder'
      : 'load it with CrossEncoder / pass it as --reranker / --model / --cross-encoder';
    const other = detected === 'bi-encoder' ? 'cross-encoder' : 'bi-encoder';
    const override = overridable ? `; if it really is a ${other} export, pass assumeKind: true to skip detection` : '';
    super(`${dir} is a ${detected} (${evidence}); ${use}${override}`);
    this.name = 'ModelKindError';
    // The CLI has no detection override: its words name only the flag that takes this kind.
    this.cliMessage = `${dir} is a ${detected} (${evidence}); pass it as ${detected === 'bi-encoder' ? '--bi-encoder (serve: --embedder NAME=DIR)' : '--model / --cross-encoder (serve: --reranker NAME=DIR)'}`;
    this.dir = dir;
    this.detected = detected;
  }
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

function architectures(config: Record<string, unknown>): string[] {
  return Array.isArray(config.architectures) ? (config.architectures as unknown[]).map(String) : [];
}

function hasSentenceTransformersLayout(dir: string): boolean {
  return existsSync(join(dir, 'modules.json')) || existsSync(join(dir, 'sentence_bert_config.json'));
}

/** What the directory says it is, with the words that say it; undefined when it does not say. */
function sniffKind(dir: string, config: Record<string, unknown>): { kind: ModelKind; evidence: string } | undefined {
  const archs = architectures(config);
  const cls = archs.find((a) => a.endsWith('ForSequenceClassification'));
  if (cls) return { kind: 'cross-encoder', evidence: `config.json architectures ${cls}` };
  if (hasSentenceTransformersLayout(dir)) return { kind: 'bi-encoder', evidence: 'sentence-transformers layout' };
  const base = archs.find((a) => /Model$/.test(a));
  if (base) return { kind: 'bi-encoder', evidence: `config.json architectures ${base}` };
  if (archs.length === 0 && (config.id2label !== undefined || config.num_labels !== undefined)) return { kind: 'cross-encoder', evidence: 'config.json declares labels' };
  return undefined;
}

function detectKind(dir: string, config: Record<string, unknown>): ModelKind {
  const sniffed = sniffKind(dir, config);
  if (sniffed) return sniffed.kind;
  const archs = architectures(config);
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

/**
 * Protobuf reading just deep enough to list a model's graph outputs. The weights (graph initializers)
 * are skipped by their length prefix, never read, so this costs a few reads even for a 1 GB file.
 */
type ByteAt = (pos: number) => number;

function fileBytes(fd: number, size: number): ByteAt {
  const buf = Buffer.alloc(64 * 1024);
  let start = -1;
  let len = 0;
  return (pos) => {
    if (pos < 0 || pos >= size) throw new RangeError('past the end');
    if (start < 0 || pos < start || pos >= start + len) {
      len = readSync(fd, buf, 0, buf.length, pos);
      start = pos;
      if (len <= 0) throw new RangeError('short read');
    }
    return buf[pos - start];
  };
}

function varintAt(byte: ByteAt, pos: number): { value: number; next: number } {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = byte(pos + i);
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  throw new RangeError('varint too long');
}

interface ProtoField { field: number; wire: number; start: number; end: number; value: number }

/** The fields in [start, end): for length-delimited ones, [start, end) is the payload; for varints, value. */
function* protoFields(byte: ByteAt, start: number, end: number): Generator<ProtoField> {
  let pos = start;
  while (pos < end) {
    const tag = varintAt(byte, pos);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    pos = tag.next;
    if (wire === 0) {
      const v = varintAt(byte, pos);
      yield { field, wire, start: pos, end: v.next, value: v.value };
      pos = v.next;
    } else if (wire === 2) {
      const n = varintAt(byte, pos);
      if (n.next + n.value > end) throw new RangeError('field runs past its parent');
      yield { field, wire, start: n.next, end: n.next + n.value, value: n.value };
      pos = n.next + n.value;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
    } else {
      throw new RangeError(`wire type ${wire}`);
    }
  }
  if (pos !== end) throw new RangeError('field runs past its parent');
}

const MAX_VALUE_INFO_BYTES = 1 << 20;

/** ValueInfoProto {1: name, 2: TypeProto {1: Tensor {2: TensorShapeProto {1: Dimension {1: dim_value, 2: dim_param}}}}}. */
function decodeValueInfo(buf: Buffer): OnnxOutput {
  const byte: ByteAt = (pos) => {
    if (pos >= buf.length) throw new RangeError('past the end');
    return buf[pos];
  };
  const text = (f: ProtoField): string => buf.toString('utf8', f.start, f.end);
  const sub = (f: ProtoField, n: number): ProtoField[] => [...protoFields(byte, f.start, f.end)].filter((g) => g.field === n && g.wire === 2);
  const out: OnnxOutput = { name: '' };
  for (const f of protoFields(byte, 0, buf.length)) {
    if (f.field === 1 && f.wire === 2) out.name = text(f);
    if (f.field !== 2 || f.wire !== 2) continue;
    for (const tensor of sub(f, 1)) {
      for (const shape of sub(tensor, 2)) {
        out.dims = sub(shape, 1).map((dim) => {
          let d: number | string = '?';
          for (const g of protoFields(byte, dim.start, dim.end)) {
            if (g.field === 1 && g.wire === 0) d = g.value;
            else if (g.field === 2 && g.wire === 2) d = text(g);
          }
          return d;
        });
      }
    }
  }
  return out;
}

/** The graph outputs (ModelProto.graph = 7, GraphProto.output = 12); [] when the file is not that far readable. */
export function readOnnxOutputs(path: string): OnnxOutput[] {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    const byte = fileBytes(fd, size);
    const outputs: OnnxOutput[] = [];
    for (const f of protoFields(byte, 0, size)) {
      if (f.field !== 7 || f.wire !== 2) continue;
      for (const g of protoFields(byte, f.start, f.end)) {
        if (g.field !== 12 || g.wire !== 2 || g.end - g.start > MAX_VALUE_INFO_BYTES) continue;
        const buf = Buffer.alloc(g.end - g.start);
        readSync(fd, buf, 0, buf.length, g.start);
        outputs.push(decodeValueInfo(buf));
      }
    }
    return outputs.filter((o) => o.name !== '');
  } catch {
    return []; // not protobuf as expected: ORT's own load error will say what is wrong
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function describeOutput(o: OnnxOutput): string {
  return `output ${o.name}${o.dims ? ` [${o.dims.join(', ')}]` : ''}`;
}

/** The kind an output serves, by name and then by shape; undefined when it cannot tell. */
function outputKind(o: OnnxOutput, hiddenSize: number | undefined): ModelKind | undefined {
  if (LOGITS_OUTPUTS.includes(o.name)) return 'cross-encoder';
  if (EMBEDDING_OUTPUTS.includes(o.name)) return 'bi-encoder';
  if (!o.dims) return undefined;
  if (o.dims.length === 3) return 'bi-encoder';
  const last = o.dims[o.dims.length - 1];
  if (o.dims.length === 2 && typeof last === 'number') {
    if (last === hiddenSize) return 'bi-encoder';
    if (last === 1 || last === 2) return 'cross-encoder';
  }
  return undefined;
}

/** The output a run of `kind` reads, and what it says about the model. */
function readOutput(outputs: OnnxOutput[], kind: ModelKind, hiddenSize: number | undefined): { output?: OnnxOutput; kind?: ModelKind } {
  if (outputs.length === 0) return {};
  const name = pickOutputName(outputs.map((o) => o.name), kind);
  const output = outputs.find((o) => o.name === name)!;
  return { output, kind: outputKind(output, hiddenSize) };
}

/**
 * The kind to run the directory as, for callers that know what they want (opts.kind / expectKind):
 * a directory or an ONNX file that is the other kind is refused here, not at the first run.
 */
function resolveKind(dir: string, config: Record<string, unknown>, outputs: OnnxOutput[], opts: LoadModelOptions): ModelKind {
  const want = (opts.kind ?? opts.expectKind)!;
  const other: ModelKind = want === 'cross-encoder' ? 'bi-encoder' : 'cross-encoder';
  const hidden = positiveInt(config.hidden_size) ?? positiveInt(config.d_model) ?? positiveInt(config.dim);
  const dirSays = sniffKind(dir, config);
  const sniffed = opts.kind === undefined ? dirSays : undefined;
  if (sniffed && sniffed.kind !== want) {
    const seen = readOutput(outputs, sniffed.kind, hidden).output;
    throw new ModelKindError(dir, sniffed.kind, [sniffed.evidence, ...(seen ? [describeOutput(seen)] : [])].join(', '), true);
  }
  const read = readOutput(outputs, want, hidden);
  if (read.kind === other) {
    const evidence = [...(dirSays?.kind === other ? [dirSays.evidence] : []), describeOutput(read.output!)].join(', ');
    throw new ModelKindError(dir, other, evidence, false);
  }
  return want;
}

/** The output the run reads has the width the config promises (labels, hidden size) where the file fixes it. */
function checkOutputWidth(dir: string, onnxPath: string, outputs: OnnxOutput[], kind: ModelKind, numLabels: number, hiddenSize: number): void {
  const { output } = readOutput(outputs, kind, hiddenSize);
  if (!output?.dims) return;
  const rel = relative(dir, onnxPath);
  const last = output.dims[output.dims.length - 1];
  if (kind === 'cross-encoder') {
    if (output.dims.length !== 2) {
      throw new ModelDirError(dir, `${rel} ${describeOutput(output)} is not [batch, labels]; a cross-encoder export needs a logits output (\`optimum-cli export onnx --task text-classification\`)`);
    }
    if (typeof last === 'number' && last !== numLabels) {
      throw new ModelDirError(dir, `${rel} ${describeOutput(output)} has ${last} labels but config.json declares ${numLabels}; fix num_labels / id2label in config.json`);
    }
  } else {
    if (output.dims.length !== 2 && output.dims.length !== 3) {
      throw new ModelDirError(dir, `${rel} ${describeOutput(output)} is not [batch, seq, hidden] or [batch, hidden]; a bi-encoder export needs last_hidden_state (\`optimum-cli export onnx --task feature-extraction\`)`);
    }
    if (typeof last === 'number' && last !== hiddenSize) {
      throw new ModelDirError(dir, `${rel} ${describeOutput(output)} is ${last} wide but config.json hidden_size is ${hiddenSize}; fix hidden_size in config.json`);
    }
  }
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
      throw new ModelDirError(abs, `quantized: true but there is no quantized ONNX file (looked for *_quantized.onnx, *_int8.onnx, *_qint8*.onnx in onnx/ and the top level; ${found}); create one with \`crossgate models quantize ${abs}\`, or drop --quantized`);
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

  if (opts.expectKind !== undefined && opts.expectKind !== 'cross-encoder' && opts.expectKind !== 'bi-encoder') {
    throw new TypeError(`'expectKind' is invalid: ${JSON.stringify(opts.expectKind)}; expected 'cross-encoder' or 'bi-encoder'`);
  }
  const outputs = readOnnxOutputs(onnxPath);
  const checked = opts.kind !== undefined || opts.expectKind !== undefined;
  const kind = checked ? resolveKind(abs, config, outputs, opts) : detectKind(abs, config);

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

  if (checked) checkOutputWidth(abs, onnxPath, outputs, kind, numLabels, hiddenSize);

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
    outputs,
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
