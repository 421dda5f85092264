// The shape of a trial and of its result record, the console printing every trial shares, and the
// entry point that lets each trial file run alone (`node dist/benchmarks/01.rerank.library.js --quick`).
import { pathToFileURL } from 'node:url';
import { describeMachine, loadNow, machineInfo, type MachineInfo } from './machine.js';
import { fmt, fmtSummary, summarize, type Summary } from './stats.js';
import { benchEp, type BenchEp } from './ep.js';

export interface TrialOptions {
  /** Smaller workloads and fewer rounds: the whole suite in under 5 minutes on 2 cores. */
  quick: boolean;
  machine: MachineInfo;
  /** Execution provider for the trials that run a model: 'cpu', or 'cuda' (`--ep cuda` / CROSSGATE_BENCH_EP=cuda). */
  ep: BenchEp;
  log: (line: string) => void;
  /** `--minutes N`: the length of the long-running trials (the soak); each has its own default. */
  minutes?: number;
}

export interface Figure {
  name: string;
  unit: string;
  summary: Summary;
}

export interface Target {
  /** Human label, e.g. "fp32: crossgate / transformers.js". */
  name: string;
  op: '>=' | '<=';
  value: number;
}

export interface Ratio {
  name: string;
  summary: Summary;
  target?: Target;
  /** Median compared with the target; undefined without one. */
  met?: boolean;
}

export interface TrialResult {
  id: string;
  file: string;
  title: string;
  peer: string;
  /** Threads, workers, execution provider, model, workload sizes: whatever decides the numbers. */
  settings: Record<string, string | number | boolean>;
  figures: Figure[];
  ratios: Ratio[];
  /** Findings in sentences (variants tried, profile story). */
  notes: string[];
  /** Free-form tables for the report (variant results, per-shape numbers). */
  tables?: { title: string; columns: string[]; rows: (string | number)[][] }[];
  loadBefore: number[];
  loadAfter: number[];
  seconds: number;
  error?: string;
}

export interface Trial {
  id: string;
  file: string;
  title: string;
  run(opts: TrialOptions): Promise<Omit<TrialResult, 'id' | 'file' | 'title' | 'loadBefore' | 'loadAfter' | 'seconds'>>;
}

export function figure(name: string, unit: string, rounds: number[]): Figure {
  return { name, unit, summary: summarize(rounds) };
}

export function ratio(name: string, rounds: number[], target?: Target): Ratio {
  const summary = summarize(rounds);
  const met = target ? (target.op === '>=' ? summary.median >= target.value : summary.median <= target.value) : undefined;
  return { name, summary, target, met };
}

export function printResult(r: TrialResult, log: (l: string) => void): void {
  log(`peer: ${r.peer}`);
  log(`settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  for (const f of r.figures) log(`  ${f.name}: ${fmtSummary(f.summary, ` ${f.unit}`)}`);
  for (const q of r.ratios) {
    const t = q.target ? `  target ${q.target.op} ${q.target.value}: ${q.met ? 'MET' : 'MISSED'}` : '';
    log(`  ratio ${q.name}: ${fmtSummary(q.summary, '')}${t}`);
  }
  for (const t of r.tables ?? []) {
    log(`  ${t.title}`);
    log(`    ${t.columns.join(' | ')}`);
    for (const row of t.rows) log(`    ${row.map((c) => (typeof c === 'number' ? fmt(c) : c)).join(' | ')}`);
  }
  for (const n of r.notes) log(`  note: ${n}`);
  log(`load average ${r.loadBefore.join('/')} -> ${r.loadAfter.join('/')}, ${r.seconds.toFixed(1)} s`);
}

/** Runs one trial with its header and timing; failures become a result with `error` set. */
export async function runTrial(trial: Trial, opts: TrialOptions): Promise<TrialResult> {
  const { log } = opts;
  log(`\n== trial ${trial.id}: ${trial.title} (${trial.file}) ==`);
  log(describeMachine(opts.machine));
  const loadBefore = loadNow();
  const t0 = performance.now();
  let body: Awaited<ReturnType<Trial['run']>>;
  let error: string | undefined;
  try {
    body = await trial.run(opts);
  } catch (e) {
    error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    body = { peer: '-', settings: {}, figures: [], ratios: [], notes: [`failed: ${error.split('\n')[0]}`] };
  }
  const result: TrialResult = {
    id: trial.id, file: trial.file, title: trial.title, ...body,
    loadBefore, loadAfter: loadNow(), seconds: (performance.now() - t0) / 1000, error,
  };
  printResult(result, log);
  if (error) log(error);
  return result;
}

/** When the trial's own file is the entry point: run it alone and print. */
export async function standalone(trial: Trial, moduleUrl: string): Promise<void> {
  if (!process.argv[1] || pathToFileURL(process.argv[1]).href !== moduleUrl) return;
  const quick = process.argv.includes('--quick');
  const m = process.argv.indexOf('--minutes');
  const minutes = m >= 0 ? Number(process.argv[m + 1]) : undefined;
  const r = await runTrial(trial, { quick, minutes, ep: benchEp(process.argv.slice(2)), machine: machineInfo(), log: (l) => console.log(l) });
  if (r.error) process.exitCode = 1;
}
