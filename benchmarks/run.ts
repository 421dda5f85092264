// The benchmark runner: `npm run bench` runs every trial in order and writes benchmarks/results/latest.json,
// REPORT.md and targets.svg. `-- --quick` shrinks workloads and rounds (under 5 minutes on 2 idle cores);
// `-- --only 01,06` runs a subset; `-- --out DIR` writes elsewhere; `-- --ep cuda` (or CROSSGATE_BENCH_EP=cuda)
// runs the model trials on the CUDA execution provider; `-- --render` rewrites REPORT.md and the chart from an
// existing latest.json without running anything.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/native.js';
import { loadNow, machineInfo } from './lib/machine.js';
import { renderChart, renderMarkdown, type RunRecord } from './lib/report.js';
import { runTrial, type Trial, type TrialResult } from './lib/trial.js';
import { benchEp, type BenchEp } from './lib/ep.js';
import { trial as t01 } from './01.rerank.library.js';
import { trial as t02 } from './02.server.ceiling.js';
import { trial as t03 } from './03.rerank.padding.js';
import { trial as t04 } from './04.rerank.int8.js';
import { trial as t05 } from './05.tokenize.batch.js';
import { trial as t06 } from './06.index.flat.js';
import { trial as t07 } from './07.ws.streaming.js';
import { trial as t08 } from './08.frontend.overhead.js';
import { trial as t09 } from './09.server.latency.js';
import { trial as t10 } from './10.keyword.bm25.js';
import { trial as t11 } from './11.infer.mixed-load.js';
import { trial as t12 } from './12.server.soak.js';

const TRIALS: Trial[] = [t01, t02, t03, t04, t05, t06, t07, t08, t09, t10, t11, t12];

const USAGE = 'usage: node dist/benchmarks/run.js [--quick] [--only 01,04] [--ep cpu|cuda] [--out DIR] [--render] [--minutes N]';

function parseArgs(argv: string[]): { quick: boolean; only: Set<string> | null; out: string; render: boolean; ep: BenchEp; minutes?: number } {
  const ep = benchEp(argv);
  let quick = false;
  let render = false;
  let only: Set<string> | null = null;
  let minutes: number | undefined;
  let out = join(packageRoot(), 'benchmarks', 'results');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--render') render = true;
    else if (a === '--only') only = new Set((argv[++i] ?? '').split(',').map((s) => s.trim().padStart(2, '0')));
    else if (a === '--out') out = argv[++i] ?? out;
    else if (a === '--ep') i++;
    else if (a === '--minutes') {
      minutes = Number(argv[++i]);
      if (!(minutes > 0)) throw new RangeError(`--minutes needs a positive number of minutes; ${USAGE}`);
    }
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new RangeError(`unknown argument '${a}'; ${USAGE}`);
  }
  return { quick, only, out, render, ep, minutes };
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
    results.push(await runTrial(t, { quick: args.quick, ep: args.ep, minutes: args.minutes, machine, log: (l) => console.log(l) }));
  }
  const rec: RunRecord = {
    quick: args.quick, startedAt, finishedAt: new Date().toISOString(), seconds: (performance.now() - t0) / 1000,
    machine, loadBefore, loadAfter: loadNow(), trials: results,
    notRun: TRIALS.filter((t) => args.only && !args.only.has(t.id)).map((t) => ({ id: t.id, title: t.title, why: `not selected (--only ${[...args.only!].join(',')})` })),
  };
  await writeReport(rec, args.out);
  console.log(`\nwrote ${join(args.out, 'REPORT.md')}, latest.json and targets.svg (${rec.seconds.toFixed(0)} s)`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();
