// Which files of a hub repository crossgate needs: config, tokenizer, sentence-transformers modules and
// the ONNX export(s). Shared by the pull planner (remote listing) and the cache checks (local snapshot).
import { arch } from 'node:os';

/** Always fetched; a repo without them cannot be run. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;
/** Fetched when the repo has them. */
export const OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json', 'modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'] as const;
/** sentence-transformers pooling module configs (1_Pooling/config.json and the like). */
export const POOLING_CONFIG = /^\d+_Pooling\/config\.json$/;

export const FP32_ONNX = ['onnx/model.onnx', 'model.onnx'] as const;
// Optimum writes model_quantized.onnx; sentence-transformers repos ship model_qint8_avx512.onnx and friends.
export const QUANTIZED_ONNX = /(?:^|\/)model(_quantized|_int8|_uint8|_qint8[a-z0-9_]*|_quint8[a-z0-9_]*)\.onnx$/;

/** Other weights a repo may hold, named in the "no ONNX export" error so the user knows what exists. */
const OTHER_EXPORTS: [RegExp, string][] = [
  [/\.onnx$/, 'ONNX (other variants)'],
  [/(^|\/)model(-\d+-of-\d+)?\.safetensors$/, 'safetensors (PyTorch)'],
  [/(^|\/)pytorch_model(-\d+-of-\d+)?\.bin$/, 'PyTorch .bin'],
  [/(^|\/)tf_model\.h5$/, 'TensorFlow'],
  [/(^|\/)flax_model\.msgpack$/, 'Flax'],
  [/(^|\/)openvino\//, 'OpenVINO'],
  [/(^|\/)rust_model\.ot$/, 'Rust (tch)'],
  [/\.gguf$/, 'GGUF'],
];

/** Human summary of the weight formats among `files` (e.g. "safetensors (PyTorch): model.safetensors"). */
export function describeExports(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const [re, label] of OTHER_EXPORTS) {
    const hits = files.filter((f) => re.test(f));
    if (hits.length > 0) out.push(`${label}: ${hits.slice(0, 4).join(', ')}${hits.length > 4 ? `, +${hits.length - 4} more` : ''}`);
  }
  return out;
}

/** The fp32 ONNX file among `files`, preferring onnx/model.onnx as Optimum lays it out. */
export function pickFp32(files: readonly string[]): string | undefined {
  return FP32_ONNX.find((f) => files.includes(f));
}

/**
 * The quantized file to fetch. Optimum's model_quantized.onnx first; among sentence-transformers'
 * per-ISA files, the one built for this CPU family (arm64, else the AVX2 build that every x86-64 with
 * AVX2 runs; AVX-512 builds are only chosen when nothing else is there).
 */
export function pickQuantized(files: readonly string[], cpu: string = arch()): string | undefined {
  const q = files.filter((f) => QUANTIZED_ONNX.test(f) && (f.startsWith('onnx/') || !f.includes('/')));
  if (q.length === 0) return undefined;
  const prefs = [
    'onnx/model_quantized.onnx',
    'model_quantized.onnx',
    ...(cpu === 'arm64' ? ['onnx/model_qint8_arm64.onnx'] : ['onnx/model_quint8_avx2.onnx', 'onnx/model_qint8_avx512_vnni.onnx', 'onnx/model_qint8_avx512.onnx']),
    'onnx/model_int8.onnx',
    'onnx/model_uint8.onnx',
  ];
  return prefs.find((p) => q.includes(p)) ?? [...q].sort()[0];
}

/** External-data companions of an ONNX file (model.onnx_data, model.onnx.data) that ORT loads beside it. */
export function externalDataFor(onnx: string, files: readonly string[]): string[] {
  return files.filter((f) => f === `${onnx}_data` || f === `${onnx}.data`);
}

export interface FilePlan {
  /** Paths in the repo, in download order (small files first, the ONNX last). */
  files: string[];
  fp32?: string;
  quantized?: string;
}

export class NoOnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoOnnxExportError';
  }
}

/** Chooses what to fetch from a repo listing; throws a message that says what exists and what to do. */
export function planFiles(repoId: string, revision: string, files: readonly string[], opts: { quantized?: boolean } = {}): FilePlan {
  const missing = REQUIRED_FILES.filter((f) => !files.includes(f));
  const fp32 = pickFp32(files);
  const quantized = pickQuantized(files);
  const mirror = repoId.startsWith('Xenova/') || repoId.startsWith('onnx-community/') ? null : `Xenova/${repoId.split('/')[1]}`;
  const todo = [
    `export one with Optimum: \`optimum-cli export onnx --model ${repoId} ${repoId.split('/')[1]}-onnx/\`, then pass that directory as --model (and \`crossgate models quantize DIR\` for int8)`,
    ...(mirror ? [`or pull an ONNX mirror if one exists, e.g. \`crossgate models pull ${mirror}\``] : []),
  ];
  if (!fp32 && !quantized) {
    const exports = describeExports(files);
    const have = exports.length ? `it has ${exports.join('; ')}` : `it has no model weights at all (${files.length} files)`;
    throw new NoOnnxExportError(`${repoId}@${revision} has no ONNX export (looked for ${FP32_ONNX.join(', ')} and onnx/model_quantized.onnx); ${have}. To run it with crossgate, ${todo.join('; ')}`);
  }
  if (missing.length > 0) {
    const hint = missing.includes('tokenizer.json') && files.includes('vocab.txt')
      ? ' (it has only vocab.txt: crossgate needs the fast-tokenizer file; save it with `AutoTokenizer.from_pretrained(...).save_pretrained(dir)` from transformers, or use an ONNX mirror that ships it)'
      : '';
    throw new NoOnnxExportError(`${repoId}@${revision} has an ONNX export but no ${missing.join(' or ')}${hint}; crossgate needs ${REQUIRED_FILES.join(' and ')} next to the ONNX file`);
  }
  const onnx: string[] = [];
  if (opts.quantized) {
    if (!quantized) {
      throw new NoOnnxExportError(`${repoId}@${revision} has no quantized ONNX file (found ${files.filter((f) => f.endsWith('.onnx')).join(', ')}); pull without --quantized and run \`crossgate models quantize <dir>\` to make one`);
    }
    if (fp32) onnx.push(fp32, ...externalDataFor(fp32, files));
    onnx.push(quantized, ...externalDataFor(quantized, files));
  } else {
    if (!fp32) {
      throw new NoOnnxExportError(`${repoId}@${revision} has only quantized ONNX files (${files.filter((f) => f.endsWith('.onnx')).join(', ')}); pull it with --quantized and run it with --quantized`);
    }
    onnx.push(fp32, ...externalDataFor(fp32, files));
  }
  const small = [...REQUIRED_FILES, ...OPTIONAL_FILES.filter((f) => files.includes(f)), ...files.filter((f) => POOLING_CONFIG.test(f)).sort()];
  return { files: [...small, ...onnx], fp32, quantized: opts.quantized ? quantized : undefined };
}
