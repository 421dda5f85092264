// The benchmark runner: `npm run bench` runs every trial in order and writes benchmarks/results/latest.json,
// REPORT.md and targets.svg. `-- --quick` shrinks workloads and rounds (under 5 minutes on 2 idle cores);
// `-- --only 01,06` runs a subset; `-- --out DIR` writes elsewhere; `-- --render` rewrites REPORT.md and the
// chart from an existing latest.json without running anything.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/native.js';
import { loadNow, machineInfo } from './lib/machine.js';
import { renderChart, renderMarkdown, type RunRecord } from './lib/report.js';
import { runTrial, type Trial, type TrialResult } from './lib/trial.js';
import { trial as t01 } from './01.rerank.library.js';
import { trial as t03 } from './03.rerank.padding.js';
import { trial as t04 } from './04.rerank.int8.js';
import { trial as t05 } from './05.tokenize.batch.js';
import { trial as t06 } from './06.index.flat.js';

const TRIALS: Trial[] = [t01, t03, t04, t05, t06];

/** Trials of issue 5 that need the server (issue 3); listed in the report until they exist. */
const PENDING = [
  { id: '02', title: 'Rerank through the server vs the raw ORT ceiling (>= 0.9x)' },
  { id: '07', title: 'Streaming: time to first partial / time to final over WS (<= 0.15)' },
  { id: '08', title: 'Front-end overhead: crossgate HTTP/WS vs Node http + ws, same handler' },
  { id: '09', title: 'Latency under load: p99/p50 at 70% of saturated throughput (<= 1.5)' },
];

function parseArgs(argv: string[]): { quick: boolean; only: Set<string> | null; out: string; render: boolean } {
  let quick = false;
  let render = false;
  let only: Set<string> | null = null;
  let out = join(packageRoot(), 'benchmarks', 'results');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--render') render = true;
    else if (a === '--only') only = new Set((argv[++i] ?? '').split(',').map((s) => s.trim().padStart(2, '0')));
    else if (a === '--out') out = argv[++i] ?? out;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/benchmarks/run.js [--quick] [--only 01,04] [--out DIR] [--render]');
      process.exit(0);
    } else throw new RangeError(`unknown argument '${a}'; usage: run.js [--quick] [--only 01,04] [--out DIR] [--render]`);
  }
  return { quick, only, out, render };
}

async function writeReport(rec: RunRecord, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), JSON.stringify(rec, null, 2) + '\n');
  writeFileSync(join(out, 'targets.svg'), await renderChart(rec));
  writeFileSync(join(out, 'REPORT.md'), renderMarkdown(rec, 'targets.svg'));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    const rec = JSON.parse(readFileSync(join(args.out, 'latest.json'), 'utf8')) as RunRecord;
    await writeReport(rec, args.out);
    console.log(`rewrote ${join(args.out, 'REPORT.md')} and targets.svg from latest.json`);
    return;
  }
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const loadBefore = loadNow();
  const t0 = performance.now();
  const results: TrialResult[] = [];
  for (const t of TRIALS) {
    if (args.only && !args.only.has(t.id)) continue;
    results.push(await runTrial(t, { quick: args.quick, machine, log: (l) => console.log(l) }));
  }
  const rec: RunRecord = {
    quick: args.quick, startedAt, finishedAt: new Date().toISOString(), seconds: (performance.now() - t0) / 1000,
    machine, loadBefore, loadAfter: loadNow(), trials: results,
    notRun: PENDING.filter((p) => !args.only || args.only.has(p.id)).map((p) => ({ ...p, why: 'needs the server (issue 3); trial file not written yet' })),
  };
  await writeReport(rec, args.out);
  console.log(`\nwrote ${join(args.out, 'REPORT.md')}, latest.json and targets.svg (${rec.seconds.toFixed(0)} s)`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();
