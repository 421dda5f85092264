// Argument parsing shared by every command: one argv walker (walkArgv) for every command and for the server
// limits, generated --help text,
// typed readers for numeric flags, and the UsageError that main.ts turns into exit code 2.
import { ArgvError, walkArgv, type ArgvOption, type WalkedArgv } from '../server/argv.js';
import { DEFAULT_CPU_WORKERS, defaultThreads, defaultWorkers, type InferOptions } from '../infer/options.js';

export interface OptionSpec extends ArgvOption {
  /** Placeholder shown in help, e.g. DIR or N. */
  value?: string;
  description: string;
}

export interface CommandSpec {
  /** As typed: 'rerank', 'index build'. */
  name: string;
  summary: string;
  /** Usage line(s) after "crossgate ". */
  usage: string[];
  /** Lines printed after the options (input/output formats). */
  details?: string[];
  options: Record<string, OptionSpec>;
  run(values: ParsedValues): Promise<void>;
  /** Commands with their own argument grammar (repeatable flags, subcommands) parse argv themselves. */
  runArgv?(argv: string[]): Promise<void>;
}

export type { ParsedValues, WalkedArgv } from '../server/argv.js';
export { ArgvError, walkArgv } from '../server/argv.js';
import type { ParsedValues } from '../server/argv.js';

/** A mistake in how the command was called: main prints it with the usage and exits 2. */
export class UsageError extends Error {
  readonly command: CommandSpec | null;
  constructor(message: string, command: CommandSpec | null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

export const HELP_OPTION: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'Show this help and exit.' },
};

/** --threads/--workers/--quantized: how models run. Shared by every command that loads a model. */
export const INFER_OPTIONS: Record<string, OptionSpec> = {
  threads: {
    type: 'string', value: 'N',
    description: `Intra-op threads per ONNX Runtime session (default: the cores ÷ workers, at least 1; ${defaultThreads(defaultWorkers('cpu'))} here with the default workers).`,
  },
  workers: {
    type: 'string', value: 'N',
    description: `Worker threads, one ONNX Runtime session (and model copy) each (default ${DEFAULT_CPU_WORKERS} on CPU, never more than the cores; 1 on CUDA).`,
  },
  quantized: { type: 'boolean', description: "Run the model's quantized ONNX file (onnx/model_quantized.onnx or similar) instead of fp32." },
};

/** walkArgv against `spec`'s options; an ArgvError becomes a UsageError naming the flag, with a did-you-mean. */
export function parseCommandArgv(spec: CommandSpec, argv: readonly string[], opts: { positionals?: boolean } = {}): WalkedArgv {
  try {
    return walkArgv(argv, spec.options, { positionals: opts.positionals });
  } catch (e) {
    if (!(e instanceof ArgvError)) throw e;
    const hint = e.kind === 'unknown' && e.flag !== null ? didYouMean(e.flag.replace(/^-+/, ''), Object.keys(spec.options)) : null;
    throw new UsageError(hint ? `${e.message}; did you mean --${hint}?` : e.message, spec);
  }
}

/** Parses `argv` for `spec`; throws UsageError for unknown flags, missing values or stray arguments. */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedValues {
  return parseCommandArgv(spec, argv).values;
}

/** Edit distance (insert, delete, substitute, swap of neighbours), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate within a third of the word's length (at least 1, at most 3 edits), or a unique prefix match; else null. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => c.startsWith(w) && w.length >= 2);
  if (prefixed.length === 1) return prefixed[0];
  let best: string | null = null;
  let bestD = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  for (const c of candidates) {
    const dd = distance(w, c.toLowerCase());
    if (dd <= bestD && (best === null || dd < distance(w, best.toLowerCase()))) { best = c; bestD = dd; }
  }
  return best;
}

/**
 * A usage error as well-kept CLIs print it: the problem (naming the flag), one usage line, and where the
 * full help is; never the whole help. main() exits 2 after it.
 */
export function formatUsageError(e: UsageError): string {
  const spec = e.command;
  if (!spec) return `crossgate: ${e.message}\nUsage: crossgate <command> [options]\nRun 'crossgate --help' for the commands.\n`;
  return `crossgate ${spec.name}: ${e.message}\nUsage: crossgate ${spec.usage[0]}\nRun 'crossgate ${spec.name} --help' for all options.\n`;
}

/** The full help text for one command. */
export function formatHelp(spec: CommandSpec): string {
  const lines: string[] = [];
  lines.push(`crossgate ${spec.name}: ${spec.summary}`, '', 'Usage:');
  for (const u of spec.usage) lines.push(`  crossgate ${u}`);
  lines.push('', 'Options:');
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  for (const [flag, desc] of rows) lines.push(`  ${flag.padEnd(width)}${desc}`);
  if (spec.details && spec.details.length > 0) lines.push('', ...spec.details);
  return lines.join('\n') + '\n';
}

/** A required string flag. */
export function requireString(values: ParsedValues, name: string, spec: CommandSpec): string {
  const v = values[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`, spec);
  return v;
}

export function optionalString(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An optional integer flag with a minimum; the error names the flag and the accepted range. */
export function optionalInt(values: ParsedValues, name: string, spec: CommandSpec, min: number): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} is "${String(v)}"; expected an integer >= ${min}`, spec);
  return n;
}

/** An optional probability flag in [0, 1]. */
export function optionalProbability(values: ParsedValues, name: string, spec: CommandSpec): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--${name} is "${String(v)}"; expected a probability between 0 and 1`, spec);
  return n;
}

/** InferOptions from --threads/--workers/--quantized. */
export function inferOptions(values: ParsedValues, spec: CommandSpec): InferOptions {
  const opts: InferOptions = {};
  const threads = optionalInt(values, 'threads', spec, 1);
  const workers = optionalInt(values, 'workers', spec, 1);
  if (threads !== undefined) opts.threads = threads;
  if (workers !== undefined) opts.workers = workers;
  if (values.quantized === true) opts.quantized = true;
  return opts;
}
