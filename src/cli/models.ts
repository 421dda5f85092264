// `crossgate models pull|list|rm|quantize`: real models from a Hugging Face hub into the shared cache,
// what the cache holds, removing one, and int8 quantization with a measured agreement against fp32.
import { cosine } from '../index/vector-math.js';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { COMMON_WORDS, DEMO_WORDS } from '../models/words.js';
import { Rng } from '../models/random.js';
import { quantizeOnnxFile, type QuantizeFileResult } from '../models/onnx/quantize.js';
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import type { InferOptions } from '../infer/options.js';
import { loadModelDir, type ModelKind } from '../models/model-dir.js';
import { activeLockHolders } from '../models/hub/lock.js';
import { HubError, hubSettings, listCachedModels, pullModel, removeCachedModel, resolveModelRef, describeCachedModel, parseRepoRef, type CachedModel, type PullEvent } from '../models/hub/index.js';
import { locksDir } from '../models/hub/cache.js';
import { DEMO_CORPUS, DEMO_QUERIES } from '../pipeline/demo-corpus.js';
import { formatHelp, parseCommandArgv, UsageError, type CommandSpec, type OptionSpec, type ParsedValues } from './args.js';
import { createProgress, type Progress } from './progress.js';
import { isGeneratedModel } from '../models/generated.js';
import { packageRoot } from '../native.js';

/** Where the command writes: data (dirs, tables) to out, progress and notes to err. */
export interface ModelsIo {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown; isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

const CACHE_DIR: OptionSpec = { type: 'string', value: 'DIR', description: 'Hub cache to use (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub).' };
const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help and exit.' };

interface Sub {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  positionals: { min: number; max: number; names: string };
  details: string[];
  run(values: ParsedValues, positionals: string[], io: ModelsIo): Promise<void>;
}

function subSpec(sub: Sub): CommandSpec {
  return {
    name: `models ${sub.name}`,
    summary: sub.summary,
    usage: [sub.usage],
    options: sub.options,
    details: sub.details,
    run: async () => {
      throw new Error('use modelsCommand.runArgv');
    },
  };
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function settingsFor(values: ParsedValues, io: ModelsIo): ReturnType<typeof hubSettings> {
  const cacheDir = typeof values['cache-dir'] === 'string' ? values['cache-dir'] : undefined;
  return hubSettings({ env: io.env ?? process.env, cacheDir });
}

// ---------------------------------------------------------------------------------------------- pull

/** Files at least this big get a progress bar (TTY) or progress lines (CI); smaller ones one line. */
const PROGRESS_MIN_BYTES = 1 << 20;

function pullReporter(io: ModelsIo): (e: PullEvent) => void {
  let bar: Progress | null = null;
  let started = 0;
  return (e) => {
    switch (e.type) {
      case 'plan':
        io.err.write(`pulling ${e.repoId}@${e.revision} (commit ${e.commit.slice(0, 12)}): ${e.files.map((f) => f.path).join(', ')}\n`);
        break;
      case 'file':
        if (e.state === 'cached') io.err.write(`  ${e.path} (${human(e.size)}): already in the cache\n`);
        else if (e.state === 'downloading') {
          started = Date.now();
          if (e.size >= PROGRESS_MIN_BYTES) bar = createProgress(`  ${e.path}`, { stream: io.err as NodeJS.WriteStream, bytes: true });
        } else {
          bar?.stop();
          bar = null;
          if (started) {
            const s = (Date.now() - started) / 1000;
            io.err.write(`  ${e.path} (${human(e.size)}): downloaded and verified in ${s.toFixed(1)} s\n`);
            started = 0;
          } else {
            io.err.write(`  ${e.path} (${human(e.size)}): linked from a blob already in the cache\n`);
          }
        }
        break;
      case 'bytes':
        // The bar shows whole MB: round the total the same way as the count so the end reads 100%.
        bar?.update(e.done, e.total);
        break;
      case 'wait':
        io.err.write(`  ${e.path}: waiting for ${e.holder}, which is downloading the same file\n`);
        break;
      case 'warning':
        io.err.write(`crossgate models pull: warning: ${e.message}\n`);
        break;
    }
  };
}

const pull: Sub = {
  name: 'pull',
  summary: 'download a model from the Hugging Face hub into the shared cache and print its directory',
  usage: 'models pull <org/name>[@REV] [--revision REV] [--quantized] [--cache-dir DIR]',
  positionals: { min: 1, max: 1, names: '<org/name>' },
  options: {
    revision: { type: 'string', value: 'REV', description: 'Branch, tag or commit to pull (default main; also accepted as org/name@REV).' },
    quantized: { type: 'boolean', description: 'Also fetch the quantized ONNX file (onnx/model_quantized.onnx, or the per-CPU int8 build).' },
    'cache-dir': CACHE_DIR,
    help: HELP,
  },
  details: [
    'Fetches only what crossgate runs: config.json, tokenizer.json (+ tokenizer_config.json, special_tokens_map.json),',
    'the fp32 ONNX file (onnx/model.onnx or model.onnx; + the quantized one with --quantized), and sentence-transformers\'',
    'modules.json, sentence_bert_config.json and pooling config when the repo has them.',
    'The cache has huggingface_hub\'s layout (models--org--name/blobs, snapshots/<commit>, refs/<rev>), so models pulled',
    'by Python are reused and vice versa. Every file is checked against the size and sha256 the hub reports; a',
    'download cut short resumes (HTTP Range) on the next try; concurrent pulls of one model wait for each other.',
    'Prints the snapshot directory on stdout: pass it, or simply the repo id, as --model.',
    '',
    'Environment: HF_ENDPOINT (mirror), HF_TOKEN (gated/private repos), HF_HUB_CACHE / HF_HOME (cache location),',
    'HF_HUB_OFFLINE=1 (no network: use the cache or fail saying what is missing), HF_HUB_DOWNLOAD_TIMEOUT (stall, s).',
    '',
    'Repos without an ONNX export (e.g. the original sentence-transformers checkpoints at an old revision) fail with',
    'the list of formats they have: export with `optimum-cli export onnx --model <org/name> DIR`, or pull an ONNX',
    'mirror such as Xenova/ms-marco-MiniLM-L-6-v2.',
    '',
    'Examples:',
    '  crossgate models pull cross-encoder/ms-marco-MiniLM-L-6-v2',
    '  crossgate models pull sentence-transformers/all-MiniLM-L6-v2 --quantized',
    '  crossgate rerank --model cross-encoder/ms-marco-MiniLM-L-6-v2 --query "reset password" < passages.txt',
  ],
  async run(values, [ref], io) {
    const settings = settingsFor(values, io);
    const revision = typeof values.revision === 'string' ? values.revision : undefined;
    const result = await pullModel(ref, {
      env: io.env ?? process.env,
      cacheDir: settings.cacheDir,
      revision,
      quantized: values.quantized === true,
      onEvent: pullReporter(io),
    });
    const fetched = result.files.filter((f) => f.downloaded);
    if (result.source === 'cache') {
      io.err.write(`${result.repoId}@${result.revision}: using the cached snapshot ${result.commit.slice(0, 12)}${settings.offline ? ' (HF_HUB_OFFLINE is set)' : ''}\n`);
    } else {
      io.err.write(`${result.repoId}@${result.revision}: ${result.files.length} files, ${fetched.length} downloaded (${human(fetched.reduce((a, f) => a + f.size, 0))}), ${result.files.length - fetched.length} already cached\n`);
    }
    io.out.write(result.dir + '\n');
  },
};

// ---------------------------------------------------------------------------------------------- list

function revisionText(m: CachedModel): string {
  if (!m.current) return '-';
  const refs = m.current.refs.length ? m.current.refs.join(',') + ' ' : '';
  return `${refs}${m.current.commit.slice(0, 12)}${m.snapshots.length > 1 ? ` (+${m.snapshots.length - 1} older)` : ''}`;
}

function onnxText(m: CachedModel): string {
  const parts = [m.onnx.fp32 ? 'fp32' : '', m.onnx.quantized ? 'int8' : ''].filter(Boolean);
  return parts.length ? parts.join('+') : 'none';
}

/** The generated random-weight clones (models/generate.ts writes them under $CROSSGATE_MODELS_DIR or models/.generated). */
function generatedClones(env: NodeJS.ProcessEnv): { repo: string; kind: string; bytes: number; dir: string }[] {
  const root = env.CROSSGATE_MODELS_DIR || join(packageRoot(), 'models', '.generated');
  let names: string[];
  try { names = readdirSync(root).sort(); } catch { return []; }
  const out: { repo: string; kind: string; bytes: number; dir: string }[] = [];
  for (const name of names) {
    const dir = join(root, name);
    if (!isGeneratedModel(dir)) continue;
    const size = (p: string): number => {
      const st = statSync(p);
      return st.isDirectory() ? readdirSync(p).reduce((n, f) => n + size(join(p, f)), 0) : st.size;
    };
    let kind = '-';
    try { kind = loadModelDir(dir).kind; } catch { /* listed as "-" */ }
    out.push({ repo: `generated/${name}`, kind, bytes: size(dir), dir });
  }
  return out;
}

const list: Sub = {
  name: 'list',
  summary: 'list the models in the hub cache with their kind, size and revision',
  usage: 'models list [--cache-dir DIR] [--json]',
  positionals: { min: 0, max: 0, names: '' },
  options: {
    json: { type: 'boolean', description: 'One JSON object per model (repo, kind, bytes, revision, commit, dir, onnx, problem).' },
    'cache-dir': CACHE_DIR,
    help: HELP,
  },
  details: [
    'Lists every model repo in the cache, including those downloaded by Python (huggingface_hub, transformers,',
    'sentence-transformers). KIND is what crossgate would load it as; "-" with a note when it cannot be loaded',
    '(e.g. no ONNX export). SIZE counts the blobs on disk; REVISION is the ref and commit of the current snapshot.',
  ],
  async run(values, _pos, io) {
    const settings = settingsFor(values, io);
    const models = listCachedModels(settings.cacheDir);
    const clones = generatedClones(io.env ?? process.env);
    if (values.json === true) {
      // One JSON array ([] when there is nothing), so `| jq` always has a document to read.
      const rows: unknown[] = models.map((m) => ({ repo: m.repoId, kind: m.kind, bytes: m.sizeBytes, revision: m.current?.refs[0] ?? null, commit: m.current?.commit ?? null, dir: m.current?.dir ?? null, onnx: m.onnx, problem: m.problem, generated: false }));
      for (const g of clones) rows.push({ repo: g.repo, kind: g.kind, bytes: g.bytes, revision: null, commit: null, dir: g.dir, onnx: 'fp32+int8', problem: null, generated: true });
      io.out.write(JSON.stringify(rows) + '\n');
      return;
    }
    io.out.write(`hub cache: ${settings.cacheDir}\n`);
    if (models.length === 0 && clones.length === 0) {
      io.out.write('no models; get one with `crossgate models pull cross-encoder/ms-marco-MiniLM-L-6-v2`\n');
      return;
    }
    const rows = models.map((m) => [m.repoId, m.kind ?? '-', human(m.sizeBytes), revisionText(m), onnxText(m), m.problem ? `(${m.problem.split(';')[0]})` : '']);
    for (const g of clones) rows.push([g.repo, g.kind, human(g.bytes), '-', 'fp32', '(generated: random weights)']);
    const head = ['REPO', 'KIND', 'SIZE', 'REVISION', 'ONNX', ''];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) io.out.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n');
  },
};

// ------------------------------------------------------------------------------------------------ rm

const rm: Sub = {
  name: 'rm',
  summary: 'remove a model (every revision) from the hub cache',
  usage: 'models rm <org/name> [--cache-dir DIR]',
  positionals: { min: 1, max: 1, names: '<org/name>' },
  options: { 'cache-dir': CACHE_DIR, help: HELP },
  details: ['Deletes models--org--name (blobs, snapshots, refs) and its lock folder. Refuses while a pull of it is running.'],
  async run(values, [ref], io) {
    const settings = settingsFor(values, io);
    const { repoId, explicitRevision } = parseRepoRef(ref);
    if (explicitRevision) throw new UsageError(`models rm removes every revision of a repo; pass ${repoId} without @revision`, subSpec(rm));
    if (!describeCachedModel(settings.cacheDir, repoId)) {
      throw new Error(`${repoId} is not in the hub cache ${settings.cacheDir}; \`crossgate models list\` shows what is`);
    }
    const holders = activeLockHolders(locksDir(settings.cacheDir, repoId));
    if (holders.length > 0) throw new Error(`a pull of ${repoId} is running (${holders.join(', ')}); wait for it to finish or stop it, then run rm again`);
    const freed = await removeCachedModel(settings.cacheDir, repoId);
    io.out.write(`removed ${repoId} from ${settings.cacheDir} (${human(freed ?? 0)} freed)\n`);
  },
};

// ------------------------------------------------------------------------------------------ quantize

/** Queries x passages the agreement check scores: the demo's real sentences plus seeded word salads. */
export interface AgreementWorkload {
  queries: string[];
  passages: string[];
}

/** Deterministic: the same workload on every run and machine, so reported numbers are comparable. */
export function agreementWorkload(passagesPerQuery = 64, seed = 20240611): AgreementWorkload {
  const words = [...new Set(`${DEMO_WORDS} ${COMMON_WORDS}`.split(/\s+/).filter(Boolean))];
  const rng = new Rng(seed);
  const queries = [...DEMO_QUERIES, 'How to reset password', 'why do cats purr'];
  const passages = DEMO_CORPUS.map((d) => d.text);
  while (passages.length < passagesPerQuery) {
    const n = 6 + rng.int(24);
    const q = queries[rng.int(queries.length)].split(/\s+/);
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(rng.next() < 0.15 ? q[rng.int(q.length)] : words[rng.int(Math.min(words.length, 2000))]);
    const s = w.join(' ');
    passages.push(s[0].toUpperCase() + s.slice(1) + '.');
  }
  return { queries, passages: passages.slice(0, passagesPerQuery) };
}

export interface Agreement {
  kind: ModelKind;
  /** 'logit' for cross-encoders, 'cosine' for bi-encoders. */
  score: 'logit' | 'cosine';
  queries: number;
  passages: number;
  maxAbsDelta: number;
  meanAbsDelta: number;
  /** Mean over queries of |top-10 fp32 ∩ top-10 int8| / 10. */
  top10: number;
  top10Min: number;
  /** Queries whose best passage is the same under both models. */
  top1: number;
}


function topK(scores: Float32Array | number[], k: number): number[] {
  return Array.from(scores, (s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

/** Per query, the score of every passage under the model in `dir`. */
async function scoreWorkload(dir: string, kind: ModelKind, quantized: boolean, w: AgreementWorkload, infer: InferOptions): Promise<Float32Array[]> {
  const opts = { ...infer, quantized };
  if (kind === 'cross-encoder') {
    const ce = await CrossEncoder.load(dir, opts);
    try {
      const out: Float32Array[] = [];
      for (const q of w.queries) out.push((await ce.score(q, w.passages)).logits);
      return out;
    } finally {
      await ce.close();
    }
  }
  const be = await BiEncoder.load(dir, opts);
  try {
    const qv = await be.embed(w.queries);
    const pv = await be.embed(w.passages);
    return qv.map((q) => Float32Array.from(pv, (p) => cosine(q, p)));
  } finally {
    await be.close();
  }
}

/** Scores `w` with the fp32 model in `fp32Dir` and the quantized one in `int8Dir` and compares them. */
export async function measureAgreement(fp32Dir: string, int8Dir: string, w: AgreementWorkload = agreementWorkload(), infer: InferOptions = {}): Promise<Agreement> {
  const kind = loadModelDir(fp32Dir).kind;
  const a = await scoreWorkload(fp32Dir, kind, false, w, infer);
  const b = await scoreWorkload(int8Dir, kind, true, w, infer);
  let max = 0;
  let sum = 0;
  let n = 0;
  let top10 = 0;
  let top10Min = 1;
  let top1 = 0;
  const k = Math.min(10, w.passages.length);
  for (let q = 0; q < a.length; q++) {
    for (let i = 0; i < a[q].length; i++) {
      const d = Math.abs(a[q][i] - b[q][i]);
      if (d > max) max = d;
      sum += d;
      n++;
    }
    const ta = topK(a[q], k);
    const tb = new Set(topK(b[q], k));
    const agree = ta.filter((i) => tb.has(i)).length / k;
    top10 += agree;
    top10Min = Math.min(top10Min, agree);
    if (ta[0] === topK(b[q], 1)[0]) top1++;
  }
  return { kind, score: kind === 'cross-encoder' ? 'logit' : 'cosine', queries: a.length, passages: w.passages.length, maxAbsDelta: max, meanAbsDelta: sum / Math.max(1, n), top10: top10 / a.length, top10Min, top1 };
}

/** Copies a model directory's non-ONNX files (following hub-cache symlinks) so `out` loads on its own. */
function copyModelFiles(dir: string, out: string): void {
  for (const name of readdirSync(dir)) {
    if (name === 'onnx' || /\.onnx(_data|\.data)?$/.test(name)) continue;
    cpSync(join(dir, name), join(out, name), { recursive: true, dereference: true });
  }
}

const quantize: Sub = {
  name: 'quantize',
  summary: 'write an int8 (dynamically quantized) ONNX next to an fp32 model and measure its agreement',
  usage: 'models quantize <DIR|org/name> [--per-channel] [--out DIR] [--threads N] [--no-check]',
  positionals: { min: 1, max: 1, names: '<DIR|org/name>' },
  options: {
    'per-channel': { type: 'boolean', description: 'One scale per output column of each weight (closer to fp32, same size) instead of one per tensor.' },
    out: { type: 'string', value: 'DIR', description: 'Write the result into DIR (config and tokenizer files are copied) instead of the model directory itself.' },
    threads: { type: 'string', value: 'N', description: 'Intra-op threads for the agreement check (default: every core).' },
    'no-check': { type: 'boolean', description: 'Skip the agreement check (scoring the workload with both models).' },
    help: HELP,
  },
  details: [
    'Reads the fp32 ONNX (onnx/model.onnx or model.onnx) of any BERT-family model - crossgate\'s generated ones or an',
    'export by Optimum/sentence-transformers - and writes onnx/model_quantized.onnx the way onnxruntime\'s',
    'quantize_dynamic does: int8 weights, DynamicQuantizeLinear + MatMulInteger, int8 embedding tables.',
    'Run it afterwards with --quantized. A repo id resolves through the hub cache (the file is added to that snapshot).',
    '',
    'It then scores a fixed generated workload (the demo corpus plus seeded sentences, every query against every',
    'passage) with both files and prints max and mean |Δlogit| (|Δcosine| for bi-encoders), and top-10 / top-1',
    'agreement: how often the quantized model keeps the fp32 model\'s ten best passages.',
  ],
  async run(values, [ref], io) {
    const dir = resolveModelRef(ref, { env: io.env ?? process.env });
    const spec = loadModelDir(dir);
    const fp32 = spec.onnxFiles.fp32;
    if (!fp32) throw new Error(`${dir} has no fp32 ONNX file to quantize`);
    const out = typeof values.out === 'string' ? resolve(values.out) : dir;
    if (out !== dir) {
      if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, 'config.json'))) {
        throw new Error(`--out ${out} exists and is not a model directory; pass an empty or new folder`);
      }
      copyModelFiles(dir, out);
    }
    const target = join(out, 'onnx', 'model_quantized.onnx');
    const perChannel = values['per-channel'] === true;
    const t0 = performance.now();
    const r: QuantizeFileResult = quantizeOnnxFile(fp32, target, { perChannel });
    io.out.write(`quantized ${relative(dir, fp32)} -> ${target} (${perChannel ? 'per-channel' : 'per-tensor'}; ${r.report.matmuls} MatMul and ${r.report.gathers} Gather weights; ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    io.out.write(`size: ${human(r.bytes.input)} -> ${human(statSync(target).size)} (${((100 * r.bytes.output) / r.bytes.input).toFixed(1)}% of fp32)\n`);
    if (values['no-check'] === true) return;
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && (!Number.isSafeInteger(threads) || threads < 1)) throw new UsageError(`--threads is "${String(values.threads)}"; expected an integer >= 1`, subSpec(quantize));
    const w = agreementWorkload();
    const a = await measureAgreement(dir, out, w, threads ? { threads } : {});
    const d = a.score === 'logit' ? '|Δlogit|' : '|Δcosine|';
    io.out.write(
      `agreement with fp32 on a generated workload (${a.queries} queries x ${a.passages} passages): max ${d} ${a.maxAbsDelta.toFixed(4)}, mean ${d} ${a.meanAbsDelta.toFixed(4)}, ` +
        `top-10 agreement ${(100 * a.top10).toFixed(1)}% (worst query ${(100 * a.top10Min).toFixed(0)}%), same top-1 for ${a.top1}/${a.queries} queries\n`,
    );
    io.out.write(`run it with --quantized (e.g. crossgate ${a.kind === 'cross-encoder' ? 'rerank' : 'embed'} --model ${out} --quantized)\n`);
  },
};

// ----------------------------------------------------------------------------------------- the group

const SUBS: readonly Sub[] = [pull, list, rm, quantize];

function groupHelp(): string {
  const width = Math.max(...SUBS.map((s) => s.name.length)) + 2;
  return [
    'crossgate models: real models from the Hugging Face hub: pull, list, remove, quantize',
    '',
    'Usage:',
    ...SUBS.map((s) => `  crossgate ${s.usage}`),
    '',
    'Subcommands:',
    ...SUBS.map((s) => `  ${s.name.padEnd(width)}${s.summary}`),
    '',
    'Every --model / --bi-encoder / --cross-encoder flag also takes a repo id (org/name[@rev]) that is in the cache.',
    'Run `crossgate models <subcommand> --help` for its options.',
    '',
  ].join('\n');
}

/** Runs `crossgate models ...` with argv after "models". Throws UsageError for bad calls. */
export async function runModels(argv: string[], io: ModelsIo = { out: process.stdout, err: process.stderr }): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('models needs a subcommand: pull, list, rm or quantize', modelsCommand);
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out.write(groupHelp());
    return;
  }
  const sub = SUBS.find((s) => s.name === name);
  if (!sub) throw new UsageError(`unknown subcommand "models ${name}"; expected one of ${SUBS.map((s) => s.name).join(', ')}`, modelsCommand);
  const spec = subSpec(sub);
  const parsed = parseCommandArgv(spec, rest, { positionals: true });
  const values = parsed.values as ParsedValues;
  if (values.help === true) {
    io.out.write(formatHelp(spec));
    return;
  }
  const pos = parsed.positionals;
  if (pos.length < sub.positionals.min) throw new UsageError(`models ${sub.name} needs ${sub.positionals.names}`, spec);
  if (pos.length > sub.positionals.max) throw new UsageError(`unexpected argument "${pos[sub.positionals.max]}"`, spec);
  try {
    await sub.run(values, pos, io);
  } catch (e) {
    if (e instanceof Error && !(e instanceof HubError) && /is not a hub repo id/.test(e.message)) throw new UsageError(e.message, spec);
    throw e;
  }
}

export const modelsCommand: CommandSpec & { runArgv(argv: string[]): Promise<void> } = {
  name: 'models',
  summary: 'pull real models from the Hugging Face hub, list/remove cached ones, quantize to int8',
  usage: SUBS.map((s) => s.usage),
  options: { help: HELP },
  details: groupHelp().split('\n').slice(5, -1),
  async run() {
    throw new Error('models parses its own arguments; call runArgv');
  },
  runArgv: (argv) => runModels(argv),
};
