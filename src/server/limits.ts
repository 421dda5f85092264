// Every server setting and limit as one named config field: default, reason, CLI flag, CROSSGATE_* env var.
// Precedence: flag > env var > default. /info and the README limits table are produced from the same table.

import { fmt } from './errors.js';
import { ArgvError, walkArgv, type ArgvOption, type WalkedArgv } from './argv.js';
import { defaultThreads, defaultWorkers, resolveInferOptions, type InferOptions } from '../infer/options.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface ServerConfig {
  host: string;
  port: number;
  apiKey: string | null;
  workers: number;
  threads: number;
  executionProvider: ExecutionProvider;
  cudaFallback: boolean;
  maxPayloadBytes: number;
  maxJsonDepth: number;
  maxDocumentsPerRequest: number;
  maxInputTokens: number;
  autoTruncate: boolean;
  maxConcurrentRequests: number;
  maxQueueTokens: number;
  requestTimeoutMs: number;
  maxBatchTokens: number;
  wsMaxMessageBytes: number;
  wsIdleTimeoutS: number;
  wsBackpressureSoftBytes: number;
  wsBackpressureHardBytes: number;
  shutdownGraceMs: number;
}

export type ConfigKey = keyof ServerConfig;
type Group = 'network' | 'runtime' | 'request' | 'scheduler' | 'websocket';

export interface FieldSpec<K extends ConfigKey = ConfigKey> {
  key: K;
  /** snake_case name used in /info, error messages and the README. */
  name: string;
  flag: string;
  env: string;
  group: Group;
  /** How values are written: 'bytes' takes 8MiB / 500KB / 1024; 'ms' takes 30s / 500ms / 2m / 1500. */
  unit: 'bytes' | 'ms' | 's' | 'tokens' | 'count' | 'bool' | 'text' | 'enum';
  /** A value, or a function of the rest of the config (workers and threads depend on the execution provider). */
  default: ServerConfig[K] | ((c?: Partial<ServerConfig>) => ServerConfig[K]);
  /** The default in words, for help and the README, where it is a function. */
  defaultText?: string;
  /** Why the limit exists and what raising or lowering it trades. */
  reason: string;
  /** Accepted values, in words, for error messages. */
  accepts: string;
  parse(raw: string): ServerConfig[K] | undefined; // undefined = not acceptable
  secret?: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string, readonly field?: string) { super(message); }
}

// ---- value parsers (each returns undefined for an unacceptable value) ----

const INT = /^[+]?\d+$/;
function int(min: number, max: number) {
  return (raw: string): number | undefined => {
    const s = raw.trim().replace(/_/g, '');
    if (!INT.test(s)) return undefined;
    const n = Number(s);
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};
function bytes(min: number, max: number) {
  return (raw: string): number | undefined => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw.replace(/_/g, ''));
    if (!m) return undefined;
    const mult = BYTE_UNITS[m[2].toLowerCase()];
    if (mult === undefined) return undefined;
    const n = Number(m[1]) * mult;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };
}

const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
/** Durations; a bare number is in `bare` units. Returns the value in `bare` units. */
function duration(bare: 'ms' | 's', min: number, max: number) {
  return (raw: string): number | undefined => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(raw);
    if (!m) return undefined;
    const ms = Number(m[1]) * TIME_UNITS[(m[2] ?? bare).toLowerCase()];
    const n = bare === 'ms' ? ms : ms / 1000;
    return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
  };
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);
function bool(raw: string): boolean | undefined {
  const s = raw.trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}

function nonEmpty(raw: string): string | undefined {
  const s = raw.trim();
  return s.length > 0 && !/\s/.test(s) ? s : undefined;
}

const KiB = 1024, MiB = 1024 * 1024, GiB = 1024 * MiB;

function field<K extends ConfigKey>(spec: Omit<FieldSpec<K>, 'flag' | 'env'> & { flag?: string }): FieldSpec<K> {
  return {
    ...spec,
    flag: spec.flag ?? `--${spec.name.replace(/_/g, '-')}`,
    env: `CROSSGATE_${spec.name.toUpperCase()}`,
  };
}

/** The table. Order here is the order of /info, the README and `crossgate serve --help`. */
export const CONFIG_FIELDS: readonly FieldSpec[] = [
  field({ key: 'host', name: 'host', group: 'network', unit: 'text', default: '127.0.0.1', accepts: 'a host name or IP address (0.0.0.0 for all interfaces)',
    reason: 'Loopback by default: a sidecar should not be reachable from the network until you say so.', parse: nonEmpty }),
  field({ key: 'port', name: 'port', group: 'network', unit: 'count', default: 8080, accepts: 'an integer 0..65535 (0 picks a free port)',
    reason: 'TCP port to listen on.', parse: int(0, 65535) }),
  field({ key: 'apiKey', name: 'api_key', group: 'network', unit: 'text', default: null, secret: true, accepts: 'a non-empty string without spaces',
    reason: 'When set, every route except /health needs "Authorization: Bearer <key>". Prefer the env var: flags show up in ps.', parse: nonEmpty }),
  field({ key: 'workers', name: 'workers', group: 'runtime', unit: 'count', default: (c) => defaultWorkers(c?.executionProvider ?? 'cpu'), defaultText: `${defaultWorkers('cpu', Number.MAX_SAFE_INTEGER)} (${defaultWorkers('cuda')} on cuda)`, accepts: 'an integer 1..64',
    reason: 'Inference worker threads per model, one ORT session each. More workers overlap batches but each holds a copy of the model; on 2 cores 2 workers x 1 thread beat 1 x 2 in every measured pair (about 1.2x).', parse: int(1, 64) }),
  field({ key: 'threads', name: 'threads', group: 'runtime', unit: 'count', default: (c) => defaultThreads(c?.workers ?? defaultWorkers(c?.executionProvider ?? 'cpu')), defaultText: 'cores ÷ workers', accepts: 'an integer 1..256',
    reason: 'Intra-op threads per ORT session. workers x threads above the core count makes sessions fight for cores.', parse: int(1, 256) }),
  field({ key: 'executionProvider', name: 'execution_provider', group: 'runtime', unit: 'enum', default: 'cpu', accepts: "'cpu' or 'cuda'",
    reason: 'Where inference runs. cuda needs onnxruntime-node CUDA binaries and a GPU.',
    parse: (raw) => { const s = raw.trim().toLowerCase(); return s === 'cpu' || s === 'cuda' ? s : undefined; } }),
  field({ key: 'cudaFallback', name: 'cuda_fallback', group: 'runtime', unit: 'bool', default: false, accepts: 'true or false',
    reason: 'If cuda was asked for and cannot load: true = warn and run on cpu, false = exit with the reason.', parse: bool }),
  field({ key: 'maxPayloadBytes', name: 'max_payload_bytes', group: 'request', unit: 'bytes', default: 8 * MiB, accepts: 'a size 1KiB..1GiB (e.g. 8MiB)',
    reason: 'Largest HTTP request body. The body is held in memory until parsed. Over it nothing more is kept: a body of up to twice this is read to its end and thrown away, so the client can read the 413; a bigger one gets the 413 and the connection closed.',
    parse: bytes(KiB, GiB) }),
  field({ key: 'maxJsonDepth', name: 'max_json_depth', group: 'request', unit: 'count', default: 64, accepts: 'an integer 1..10000',
    reason: 'Deepest nesting of objects/arrays in an HTTP body or a WS JSON frame, checked by one pass over the bytes before parsing: deeper input gets 400 at once instead of seconds of parsing and hundreds of MiB. Every request shape nests 3 levels or fewer.',
    parse: int(1, 10_000) }),
  field({ key: 'maxDocumentsPerRequest', name: 'max_documents_per_request', group: 'request', unit: 'count', default: 1000, accepts: 'an integer 1..1000000',
    reason: 'Most passages/texts in one request. Bounds the work one caller can queue at once; 1000 covers a typical retrieve-then-rerank page (TEI defaults to 32).',
    parse: int(1, 1_000_000) }),
  field({ key: 'maxInputTokens', name: 'max_input_tokens', group: 'request', unit: 'tokens', default: 512, accepts: 'an integer 1..65536',
    reason: "Longest (query, passage) pair in tokens; also capped by the model's max length. Attention cost grows with the square of the length.",
    parse: int(1, 65536) }),
  field({ key: 'autoTruncate', name: 'auto_truncate', group: 'request', unit: 'bool', default: true, accepts: 'true or false',
    reason: 'What a request without `truncate` gets: true = cut over-long pairs to max_input_tokens (what sentence-transformers does), false = refuse them with 422.',
    parse: bool }),
  field({ key: 'maxConcurrentRequests', name: 'max_concurrent_requests', group: 'scheduler', unit: 'count', default: 512, accepts: 'an integer 1..1000000',
    reason: 'Requests in flight over HTTP and WS together; beyond it new requests get 429 with Retry-After instead of queueing without bound.',
    parse: int(1, 1_000_000) }),
  field({ key: 'maxQueueTokens', name: 'max_queue_tokens', group: 'scheduler', unit: 'tokens', default: 524_288, accepts: 'an integer 1024..1000000000',
    reason: 'Tokens waiting for inference per model. Bounds queueing latency and memory; a request that would overflow it gets 429 (queue_full), and one bigger than the whole queue gets 413 (batch_too_large). The default holds one request at the other defaults (1,000 documents x 512 tokens).',
    parse: int(1024, 1_000_000_000) }),
  field({ key: 'requestTimeoutMs', name: 'request_timeout_ms', group: 'scheduler', unit: 'ms', default: 30_000, accepts: 'a duration 1ms..1h (e.g. 30s, 500ms)',
    reason: 'A request not finished by then fails with 504 and its queued work is dropped, so a stuck client cannot hold capacity forever.',
    parse: duration('ms', 1, 3_600_000) }),
  field({ key: 'maxBatchTokens', name: 'max_batch_tokens', group: 'scheduler', unit: 'tokens', default: 8192, accepts: 'an integer 16..1048576',
    reason: 'Padded tokens per micro-batch. Bigger batches raise throughput; smaller ones lower the time to the first streamed partial and peak memory.',
    parse: int(16, 1_048_576) }),
  field({ key: 'wsMaxMessageBytes', name: 'ws_max_message_bytes', group: 'websocket', unit: 'bytes', default: 8 * MiB, accepts: 'a size 1KiB..1GiB',
    reason: 'Largest WebSocket frame a client may send; bigger frames, up to twice this, close the socket with 1009 and a reason naming the limit. uWS cuts frames over twice this from their header, before buffering them (the client sees 1006). The frame is held in memory while it is decoded.',
    parse: bytes(KiB, GiB) }),
  field({ key: 'wsIdleTimeoutS', name: 'ws_idle_timeout_s', group: 'websocket', unit: 's', default: 120, accepts: '0 (off) or 8..960 seconds (uWS rounds to a multiple of 4)',
    reason: 'A socket with no traffic either way for this long is closed, so dead peers do not pin memory. uWS aborts the process on other values.',
    parse: (raw) => { const n = duration('s', 0, 960)(raw); return n === undefined || (n !== 0 && n < 8) ? undefined : n; } }),
  field({ key: 'wsBackpressureSoftBytes', name: 'ws_backpressure_soft_bytes', group: 'websocket', unit: 'bytes', default: 1 * MiB, accepts: 'a size 1KiB..1GiB',
    reason: 'Bytes buffered for a slow reader before the server stops streaming to it (it resumes on drain).',
    parse: bytes(KiB, GiB) }),
  field({ key: 'wsBackpressureHardBytes', name: 'ws_backpressure_hard_bytes', group: 'websocket', unit: 'bytes', default: 16 * MiB, accepts: 'a size 1KiB..4GiB, above the soft limit',
    reason: 'Bytes buffered for a reader that never catches up; past it the socket is closed (1008), which keeps server memory bounded.',
    parse: bytes(KiB, 4 * GiB) }),
  field({ key: 'shutdownGraceMs', name: 'shutdown_grace_ms', group: 'scheduler', unit: 'ms', default: 10_000, accepts: 'a duration 0..10m',
    reason: 'On SIGTERM/SIGINT, how long in-flight requests get to finish before sockets close with 1001 and the process exits. Requests still running then are answered 503 draining with Retry-After: 1, and the log line counts finished and cut requests.',
    parse: duration('ms', 0, 600_000) }),
];

/**
 * Limits the HTTP parser of the uWS build (@trufflesuite/uws-js-unofficial 20.30) enforces before any
 * crossgate code runs. They are compiled into the binary (UWS_HTTP_MAX_HEADERS_COUNT, MAX_FALLBACK_SIZE; no
 * env var or hook in this build), so they have no flag. Past them uWS answers nothing: too many header
 * lines leave the connection open until uWS's 10 s HTTP idle timeout closes it; a header block over 4 KiB
 * that arrives in more than one TCP read is closed at once. Raising them, or a 431 answer, needs a uWS build
 * compiled with a larger UWS_HTTP_MAX_HEADERS_COUNT / UWS_HTTP_MAX_HEADERS_SIZE (newer uWebSockets answer
 * 431 themselves), or a proxy in front. Measured on this build by test/85.server.hardening.headers.
 */
export const HTTP_PARSER_LIMITS = [
  { name: 'http_max_header_lines', value: 48, unit: 'count' as const,
    reason: 'Most header lines (Host included) in one request, fixed in the uWS build. A request with more gets no answer and is closed after 10 s; proxies and clients send about 10.' },
  { name: 'http_max_header_bytes', value: 4096, unit: 'bytes' as const,
    reason: 'Largest request line + header block when it arrives in more than one TCP read, fixed in the uWS build; a bigger one is closed at once without an answer (one that arrives in one read may be larger). Keep cookies and tokens under it.' },
] as const;

const BY_FLAG = new Map<string, FieldSpec>(CONFIG_FIELDS.map((f) => [f.flag, f]));

/** The config flags as the shared argv walker reads them: booleans also as --no-flag, --flag=false and --flag false. */
const CONFIG_ARGV_OPTIONS: Record<string, ArgvOption> = Object.fromEntries(CONFIG_FIELDS.map((f) => [
  f.flag.slice(2),
  f.unit === 'bool' ? { type: 'boolean' as const, negatable: true, takesValue: (next: string) => bool(next) !== undefined } : { type: 'string' as const },
]));

function defaultOf(f: FieldSpec, c?: Partial<ServerConfig>): unknown {
  return typeof f.default === 'function' ? (f.default as (c?: Partial<ServerConfig>) => unknown)(c) : f.default;
}

/** Every field at its default (workers and threads for the cpu execution provider). */
export function defaultConfig(): ServerConfig {
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELDS) out[f.key] = defaultOf(f, out as Partial<ServerConfig>);
  return out as unknown as ServerConfig;
}

function parseOne(f: FieldSpec, raw: string, source: string): unknown {
  const v = f.parse(raw);
  if (v === undefined) {
    const shown = f.secret ? '(hidden)' : JSON.stringify(raw);
    throw new ConfigError(`${source} ${shown} is not valid; ${f.name} takes ${f.accepts}`, f.name);
  }
  return v;
}

export type ConfigSource = 'default' | 'env' | 'flag';
export type ConfigSources = Record<ConfigKey, ConfigSource>;

export interface ParsedConfig {
  config: ServerConfig;
  /** Arguments that are not config flags, in order (the serve command's own flags, e.g. --model). */
  rest: string[];
  /** Where each field's value came from; pass it to startServer so defaulted workers/threads follow the execution provider. */
  sources: ConfigSources;
  /** Settings that start but refuse some valid-looking requests (configWarnings); serve prints them on stderr. */
  warnings: string[];
}

/**
 * Reads CROSSGATE_* variables from `env` and config flags from `argv` (`--flag value`, `--flag=value`;
 * booleans also as `--flag` / `--no-flag`). Throws ConfigError naming the flag or variable.
 */
export function parseServerConfig(opts: { argv?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): ParsedConfig {
  const env = opts.env ?? process.env;
  const argv = opts.argv ?? [];
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const sources = {} as Record<ConfigKey, 'default' | 'env' | 'flag'>;
  for (const f of CONFIG_FIELDS) {
    sources[f.key] = 'default';
    const raw = env[f.env];
    if (raw !== undefined && raw !== '') {
      config[f.key] = parseOne(f, raw, f.env);
      sources[f.key] = 'env';
    }
  }
  let walked: WalkedArgv;
  try {
    walked = walkArgv(argv, CONFIG_ARGV_OPTIONS, { unknown: 'keep' });
  } catch (e) {
    const f = e instanceof ArgvError && e.flag !== null ? BY_FLAG.get(e.flag) : undefined;
    if (!f) throw e;
    throw new ConfigError(`${e instanceof ArgvError && e.kind === 'missing-value' ? `${f.flag} needs a value` : (e as Error).message}; ${f.name} takes ${f.accepts}`, f.name);
  }
  for (const f of CONFIG_FIELDS) {
    const v = walked.values[f.flag.slice(2)];
    if (v === undefined) continue;
    config[f.key] = v === false ? false : parseOne(f, v === true ? 'true' : String(v), f.flag);
    sources[f.key] = 'flag';
  }
  const rest = walked.rest;
  // Defaults that depend on other fields (workers on the execution provider, threads on workers) are
  // worked out again now that those fields are known, in table order.
  for (const f of CONFIG_FIELDS) {
    if (sources[f.key] === 'default' && typeof f.default === 'function') config[f.key] = defaultOf(f, config as Partial<ServerConfig>);
  }
  const c = config as unknown as ServerConfig;
  checkConsistency(c, sources);
  return { config: c, rest, sources, warnings: configWarnings(c) };
}

/**
 * Combinations that are allowed but mean some requests within the per-request limits still fail: when
 * max_documents_per_request x max_input_tokens is more than max_queue_tokens, a request of many long
 * documents can never be queued and gets 413 batch_too_large. The defaults (1,000 x 512 <= 524,288) fit;
 * an operator who lowers the queue bound is told at start-up instead of being refused.
 */
export function configWarnings(c: ServerConfig): string[] {
  const out: string[] = [];
  const worst = c.maxDocumentsPerRequest * c.maxInputTokens;
  if (worst > c.maxQueueTokens) {
    const fit = Math.floor(c.maxQueueTokens / c.maxInputTokens);
    out.push(
      `crossgate serve: warning: max_documents_per_request (${fmt(c.maxDocumentsPerRequest)}) x max_input_tokens (${fmt(c.maxInputTokens)}) = ${fmt(worst)} tokens ` +
      `is more than max_queue_tokens (${fmt(c.maxQueueTokens)}); a request that big can never be queued and gets 413 batch_too_large ` +
      `(only ${fmt(fit)} full-length documents fit); raise --max-queue-tokens to ${fmt(worst)} or lower --max-documents-per-request or --max-input-tokens`);
  }
  return out;
}


function where(f: FieldSpec, sources: Record<ConfigKey, string>): string {
  return sources[f.key] === 'flag' ? f.flag : sources[f.key] === 'env' ? f.env : `the default ${f.name}`;
}

function spec(key: ConfigKey): FieldSpec {
  return CONFIG_FIELDS.find((f) => f.key === key)!;
}

/** Rules that involve two fields. */
function checkConsistency(c: ServerConfig, sources: Record<ConfigKey, string>): void {
  const soft = spec('wsBackpressureSoftBytes'), hard = spec('wsBackpressureHardBytes');
  if (c.wsBackpressureHardBytes <= c.wsBackpressureSoftBytes) {
    throw new ConfigError(
      `${where(hard, sources)} (${c.wsBackpressureHardBytes} bytes) must be above ${where(soft, sources)} (${c.wsBackpressureSoftBytes} bytes); ` +
      'raise ws_backpressure_hard_bytes or lower ws_backpressure_soft_bytes', hard.name);
  }
  const mbt = spec('maxBatchTokens'), mit = spec('maxInputTokens');
  if (c.maxBatchTokens < c.maxInputTokens) {
    throw new ConfigError(
      `${where(mbt, sources)} (${c.maxBatchTokens}) is below ${where(mit, sources)} (${c.maxInputTokens}): a single full-length pair would not fit a batch; ` +
      'raise max_batch_tokens or lower max_input_tokens', mbt.name);
  }
  const mqt = spec('maxQueueTokens');
  if (c.maxQueueTokens < c.maxInputTokens) {
    throw new ConfigError(
      `${where(mqt, sources)} (${c.maxQueueTokens}) is below ${where(mit, sources)} (${c.maxInputTokens}): one pair could never be queued; raise max_queue_tokens`, mqt.name);
  }
}

/**
 * The InferOptions every served model loads with. workers and threads that came from the defaults are
 * left undefined, so the inference room picks them for the execution provider it runs (1 worker on cuda,
 * 2 on cpu; threads = cores / workers). Without `sources` every value counts as chosen and is passed as is.
 */
export function inferOptionsFor(c: ServerConfig, sources?: Partial<ConfigSources>, quantized = false): InferOptions {
  const chosen = (k: ConfigKey): boolean => sources === undefined || (sources[k] !== undefined && sources[k] !== 'default');
  return {
    threads: chosen('threads') ? c.threads : undefined,
    workers: chosen('workers') ? c.workers : undefined,
    executionProvider: c.executionProvider,
    cudaFallbackToCpu: c.cudaFallback,
    maxBatchTokens: c.maxBatchTokens,
    maxQueueTokens: c.maxQueueTokens,
    quantized,
  };
}

/** The config as the server runs it: workers and threads as the encoders resolve `infer` (what /info shows). */
export function effectiveConfig(c: ServerConfig, infer: InferOptions): ServerConfig {
  const r = resolveInferOptions(infer);
  return { ...c, workers: r.workers, threads: r.threads };
}

export interface LimitView {
  value: unknown;
  default: unknown;
  unit: FieldSpec['unit'];
  flag: string;
  env: string;
  reason: string;
}

/** The `/info` view: every field with its value; the API key shows only whether one is set. */
export function limitsInfo(c: ServerConfig): Record<string, LimitView> {
  const out: Record<string, LimitView> = {};
  for (const f of CONFIG_FIELDS) {
    // Defaults that depend on the execution provider are shown for the one configured.
    const def = defaultOf(f, { executionProvider: c.executionProvider });
    const value = f.secret ? (c[f.key] === null ? null : '(set)') : c[f.key];
    out[f.name] = { value, default: f.secret ? null : def, unit: f.unit, flag: f.flag, env: f.env, reason: f.reason };
  }
  return out;
}

/** A Markdown table of every field, for the README and `serve --help`. */
export function limitsMarkdown(): string {
  const rows = CONFIG_FIELDS.map((f) => {
    const def = typeof f.default === 'function' ? f.defaultText ?? 'computed' : f.default === null ? '(none)' : String(f.default);
    return `| \`${f.name}\` | \`${f.flag}\` | \`${f.env}\` | ${def} | ${f.reason} |`;
  });
  const fixed = HTTP_PARSER_LIMITS.map((l) => `| \`${l.name}\` | (fixed) | (fixed) | ${l.value} | ${l.reason} |`);
  return ['| field | flag | env | default | why |', '|---|---|---|---|---|', ...rows, ...fixed].join('\n');
}
