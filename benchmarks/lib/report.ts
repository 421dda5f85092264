// Turns trial results into the committed report: latest.json (everything), REPORT.md (targets table, chart,
// one section per trial) and targets.svg, a Vega-Lite chart rendered headlessly by vega's View.toSVG().
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { describeMachine, type MachineInfo } from './machine.js';
import { fmt } from './stats.js';
import type { TrialResult } from './trial.js';

export interface RunRecord {
  quick: boolean;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: MachineInfo;
  loadBefore: number[];
  loadAfter: number[];
  trials: TrialResult[];
  /** Trials of the issue that this run did not include, with the reason. */
  notRun: { id: string; title: string; why: string }[];
}

/** Each targeted ratio as "how far along to its target": >= 1 means met, for both >= and <= targets. */
function targetRows(rec: RunRecord): { label: string; progress: number; lo: number; hi: number; met: boolean; text: string }[] {
  const rows = [];
  for (const t of rec.trials) {
    for (const r of t.ratios) {
      if (!r.target) continue;
      const v = r.target.op === '>=' ? (x: number) => x / r.target!.value : (x: number) => (x <= 0 ? 10 : r.target!.value / x);
      const a = v(r.summary.min);
      const b = v(r.summary.max);
      rows.push({
        label: `${t.id} ${r.target.name}`,
        progress: v(r.summary.median),
        lo: Math.min(a, b),
        hi: Math.max(a, b),
        met: r.met === true,
        text: `${fmt(r.summary.median)} (target ${r.target.op} ${r.target.value})`,
      });
    }
  }
  return rows;
}

export async function renderChart(rec: RunRecord): Promise<string> {
  const values = targetRows(rec);
  // y is set per layer, not on the parent: the target line layer has its own data and no label field.
  const y = { field: 'label', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'crossgate vs targets (median; whisker = min..max of rounds)', subtitle: `${rec.machine.cpuModel}, ${rec.machine.cores} cores, ${rec.quick ? 'quick' : 'full'} run ${rec.finishedAt.slice(0, 10)}, load ${rec.loadBefore[0]}..${rec.loadAfter[0]}` },
    width: 460,
    height: { step: 26 },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', height: 16 },
        encoding: {
          y,
          x: { field: 'progress', type: 'quantitative', title: 'measured / target (>= 1 is met; <= targets inverted)', scale: { type: 'log', domain: [0.2, 20], clamp: true, nice: false } },
          color: { field: 'met', type: 'nominal', scale: { domain: [true, false], range: ['#2e7d32', '#c62828'] }, legend: { title: 'target met' } },
        },
      },
      { mark: { type: 'rule', color: '#333' }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
      { mark: { type: 'text', align: 'left', dx: 6, fontSize: 10 }, encoding: { y, x: { field: 'hi', type: 'quantitative' }, text: { field: 'text' } } },
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { field: 'one', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function cellOf(v: string | number): string {
  return typeof v === 'number' ? fmt(v) : v.replace(/\|/g, '\\|');
}

export function renderMarkdown(rec: RunRecord, chartFile: string): string {
  const L: string[] = [];
  L.push('# crossgate benchmark report', '');
  L.push(`${rec.quick ? 'Quick' : 'Full'} run (\`npm run bench${rec.quick ? ' -- --quick' : ''}\`), ${rec.startedAt} to ${rec.finishedAt} (${rec.seconds.toFixed(0)} s).`, '');
  L.push('```', describeMachine(rec.machine), `load average before the run ${rec.loadBefore.join(' / ')}, after ${rec.loadAfter.join(' / ')} (1/5/15 min; ${rec.machine.cores} cores)`, '```', '');
  L.push('The machine is shared and noisy: every ratio is taken per round between contenders run interleaved, and the median of the rounds is reported with its min..max.', '');
  L.push('## Targets', '');
  L.push('| trial | target | measured (median) | min..max | met |', '|---|---|---|---|---|');
  for (const t of rec.trials) {
    for (const r of t.ratios) {
      if (!r.target) continue;
      L.push(`| ${t.id} | ${r.target.name} | ${fmt(r.summary.median)} | ${fmt(r.summary.min)}..${fmt(r.summary.max)} | ${r.met ? 'met' : '**missed**'} |`);
    }
    if (t.error) L.push(`| ${t.id} | ${t.title} | failed: ${cellOf(t.error.split('\n')[0])} | | **failed** |`);
  }
  for (const n of rec.notRun) L.push(`| ${n.id} | ${n.title} | not run: ${n.why} | | - |`);
  L.push('', `![targets](${chartFile})`, '');
  for (const t of rec.trials) {
    L.push(`## Trial ${t.id}: ${t.title}`, '');
    L.push(`\`benchmarks/${t.file}\`. Peer: ${t.peer}.`, '');
    L.push(`Settings: ${Object.entries(t.settings).map(([k, v]) => `${k} = ${v}`).join('; ')}. Load average ${t.loadBefore.join('/')} -> ${t.loadAfter.join('/')}; ${t.seconds.toFixed(0)} s.`, '');
    if (t.error) L.push('```', t.error, '```', '');
    if (t.figures.length) {
      L.push('| figure | median | min | max | rounds |', '|---|---|---|---|---|');
      for (const f of t.figures) L.push(`| ${cellOf(f.name)} (${f.unit}) | ${fmt(f.summary.median)} | ${fmt(f.summary.min)} | ${fmt(f.summary.max)} | ${f.summary.rounds.length} |`);
      L.push('');
    }
    if (t.ratios.length) {
      L.push('| ratio | median | min..max | target |', '|---|---|---|---|');
      for (const r of t.ratios) L.push(`| ${cellOf(r.name)} | ${fmt(r.summary.median)} | ${fmt(r.summary.min)}..${fmt(r.summary.max)} | ${r.target ? `${r.target.op} ${r.target.value}: ${r.met ? 'met' : '**missed**'}` : '-'} |`);
      L.push('');
    }
    for (const tb of t.tables ?? []) {
      L.push(`**${tb.title}**`, '', `| ${tb.columns.join(' | ')} |`, `|${tb.columns.map(() => '---').join('|')}|`);
      for (const row of tb.rows) L.push(`| ${row.map(cellOf).join(' | ')} |`);
      L.push('');
    }
    for (const n of t.notes) L.push(`- ${n}`);
    if (t.notes.length) L.push('');
  }
  if (rec.notRun.length) {
    L.push('## Not run', '');
    for (const n of rec.notRun) L.push(`- Trial ${n.id} (${n.title}): ${n.why}`);
    L.push('');
  }
  return L.join('\n');
}
