// Trial 12: soak. The server runs for `--minutes` (default 10; 2 with --quick) at 70% of its measured
// saturated throughput, HTTP POST /rerank and WS rerank requests mixed half and half as open-loop Poisson
// arrivals (seeded). Printed per minute: requests, errors, p50/p99 per transport, the server's RSS and its V8
// heap in use (from its /metrics: resident growth with a flat heap is native memory). The
// first minute is the warm-up; the targets are no error at all and RSS at the end within 5% of RSS after
// the warm-up (a leak of a few hundred bytes per request shows as steady growth over 10 minutes).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { httpRerank, percentile, startBenchServer, WsRerankClient } from './lib/server.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { rng, ragWorkload, type RagQuery } from './lib/workload.js';

const LOAD = 0.7;
const PASSAGES = 10;
const SATURATE_IN_FLIGHT = 8;
const WS_CLIENTS = 4;
const RSS_EVERY_MS = 5000;

/** Resident set size of process `pid` in bytes (Linux /proc, else ps). */
export function rssBytes(pid: number): number {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(status, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}

interface Minute { http: number[]; ws: number[]; errors: number; rss: number[]; heap: number[] }

/** The server's V8 heap in use, from its own /metrics (nodejs_heap_size_used_bytes); NaN when unreadable. */
async function heapUsed(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export const trial: Trial = {
  id: '12',
  file: '12.server.soak.ts',
  title: 'Soak: 70% of saturation for minutes, HTTP and WS mixed: 0 errors, RSS growth after warm-up <= 5%',
  async run({ quick, minutes: asked, machine, log, ep }) {
    const minutes = asked ?? (quick ? 2 : 10);
    if (minutes < 2) throw new RangeError('the soak needs --minutes 2 or more: the first minute is the warm-up');
    const model = await crossModel();
    const reqs: RagQuery[] = ragWorkload(40, { seed: 1010 }).queries.map((q) => ({ query: q.query, passages: q.passages.slice(0, PASSAGES) }));
    const workers = defaultWorkers(ep, machine.cores);
    const threads = ep === 'cuda' ? 1 : defaultThreads(workers, machine.cores);
    const server = await startBenchServer({ dir: model.dir, quantized: true, config: { workers, threads, executionProvider: ep } });
    const clients = await Promise.all(Array.from({ length: WS_CLIENTS }, () => WsRerankClient.open(server.url)));
    const perMinute: Minute[] = [];
    let errors = 0;
    const firstErrors: string[] = [];
    const fail = (e: unknown): void => {
      errors++;
      if (firstErrors.length < 5) firstErrors.push(e instanceof Error ? e.message : String(e));
    };
    let saturated = 0;
    try {
      // Saturation with the same mix: half the closed-loop clients on HTTP, half on WS.
      const satSeconds = quick ? 5 : 15;
      let n = 0, at = 0;
      const t0 = performance.now();
      const end = t0 + satSeconds * 1000;
      await Promise.all(Array.from({ length: SATURATE_IN_FLIGHT }, async (_, k) => {
        while (performance.now() < end) {
          const q = reqs[at++ % reqs.length];
          if (k % 2 === 0) await httpRerank(server.url, q.query, q.passages);
          else await clients[k % WS_CLIENTS].rerank(q.query, q.passages);
          n++;
        }
      }));
      saturated = n / ((performance.now() - t0) / 1000);
      const rate = saturated * LOAD;
      log(`  saturated ${saturated.toFixed(2)} req/s (${SATURATE_IN_FLIGHT} in flight, HTTP and WS mixed); soaking at ${rate.toFixed(2)} req/s for ${minutes} min`);

      // The soak: open-loop Poisson arrivals; latency from the scheduled arrival (no coordinated omission).
      const next = rng(1011);
      const start = performance.now();
      const minuteOf = (t: number): Minute => {
        const i = Math.min(minutes - 1, Math.floor((t - start) / 60_000));
        while (perMinute.length <= i) perMinute.push({ http: [], ws: [], errors: 0, rss: [], heap: [] });
        return perMinute[i];
      };
      // RSS from /proc; the V8 heap from the server's /metrics, so growth can be told apart: JS or native.
      const sampler = setInterval(() => {
        const m = minuteOf(performance.now());
        m.rss.push(rssBytes(server.pid));
        void heapUsed(server.url).then((h) => { if (Number.isFinite(h)) m.heap.push(h); });
      }, RSS_EVERY_MS);
      const pending = new Set<Promise<void>>();
      let due = start;
      let printed = 0;
      for (let i = 0; ; i++) {
        due += -Math.log(1 - next()) * 1000 / rate;
        if (due - start >= minutes * 60_000) break;
        const wait = due - performance.now();
        if (wait > 0.5) await new Promise((r) => setTimeout(r, wait));
        const scheduled = due;
        const q = reqs[i % reqs.length];
        const viaWs = i % 2 === 1;
        const p: Promise<void> = (viaWs ? clients[i % WS_CLIENTS].rerank(q.query, q.passages) : httpRerank(server.url, q.query, q.passages))
          .then(() => { const m = minuteOf(scheduled); (viaWs ? m.ws : m.http).push(performance.now() - scheduled); },
            (e: unknown) => { minuteOf(scheduled).errors++; fail(e); })
          .finally(() => pending.delete(p));
        pending.add(p);
        // Print each minute as soon as the next one starts (its late answers still count in its row).
        const current = Math.floor((performance.now() - start) / 60_000);
        while (printed < current && printed < perMinute.length) printMinute(log, printed, perMinute[printed++]);
      }
      await Promise.all(pending);
      clearInterval(sampler);
      const last = minuteOf(performance.now() - 1);
      last.rss.push(rssBytes(server.pid));
      const h = await heapUsed(server.url);
      if (Number.isFinite(h)) last.heap.push(h);
      while (printed < perMinute.length) printMinute(log, printed, perMinute[printed++]);
    } finally {
      for (const c of clients) c.close();
      await server.stop();
    }
    const afterWarmup = perMinute[0].rss.at(-1) ?? perMinute[1].rss[0];
    const later = perMinute.slice(1).flatMap((m) => m.rss);
    const atEnd = later.at(-1)!;
    const peak = Math.max(...later);
    const http = perMinute.slice(1).flatMap((m) => m.http);
    const ws = perMinute.slice(1).flatMap((m) => m.ws);
    const heapAfterWarmup = perMinute[0].heap.at(-1) ?? NaN;
    const heapAtEnd = perMinute.at(-1)!.heap.at(-1) ?? NaN;
    log(`  RSS after the warm-up minute ${mib(afterWarmup)}, at the end ${mib(atEnd)}, peak after warm-up ${mib(peak)}; ` +
      `V8 heap used ${mib(heapAfterWarmup)} -> ${mib(heapAtEnd)}; errors ${errors}`);
    for (const e of firstErrors) log(`  error: ${e}`);
    return {
      peer: 'the same server after its warm-up minute (RSS) and the target of no error',
      settings: {
        model: `${CROSS_PRESET} int8`, ep: server.info.executionProviders.join('+'), workers: server.info.workers, threads: server.info.threads,
        workload: `queries with their first ${PASSAGES} candidates, 40 distinct requests cycled; every other request over WS (${WS_CLIENTS} connections), the rest POST /rerank`,
        load: `${LOAD * 100}% of the saturated throughput (Poisson arrivals)`, minutes, 'warm-up minutes': 1,
      },
      figures: [
        figure(`saturated throughput (closed loop, ${SATURATE_IN_FLIGHT} in flight, mixed)`, 'req/s', [saturated]),
        figure('errors (HTTP non-200, WS error or close)', 'count', [errors]),
        figure('HTTP p50 after warm-up', 'ms', [percentile(http, 50)]),
        figure('HTTP p99 after warm-up', 'ms', [percentile(http, 99)]),
        figure('WS p50 after warm-up', 'ms', [percentile(ws, 50)]),
        figure('WS p99 after warm-up', 'ms', [percentile(ws, 99)]),
        figure('server RSS after warm-up', 'MiB', [afterWarmup / 2 ** 20]),
        figure('server RSS at the end', 'MiB', [atEnd / 2 ** 20]),
        figure('server V8 heap used after warm-up', 'MiB', [heapAfterWarmup / 2 ** 20]),
        figure('server V8 heap used at the end', 'MiB', [heapAtEnd / 2 ** 20]),
      ],
      ratios: [
        ratio('RSS at the end / RSS after the warm-up minute', [atEnd / afterWarmup], { name: 'RSS growth after warm-up <= 5%', op: '<=', value: 1.05 }),
        ratio('peak RSS after warm-up / RSS after the warm-up minute', [peak / afterWarmup]),
      ],
      tables: [{
        title: 'per minute (latency from the scheduled arrival)',
        columns: ['minute', 'HTTP n', 'HTTP p50 ms', 'HTTP p99 ms', 'WS n', 'WS p50 ms', 'WS p99 ms', 'errors', 'RSS MiB (last sample)', 'V8 heap used MiB (last sample)'],
        rows: perMinute.map((m, i) => [i + 1, m.http.length, round(percentile(m.http, 50)), round(percentile(m.http, 99)),
          m.ws.length, round(percentile(m.ws, 50)), round(percentile(m.ws, 99)), m.errors, m.rss.length ? round(m.rss.at(-1)! / 2 ** 20) : '-',
          m.heap.length ? round(m.heap.at(-1)! / 2 ** 20) : '-']),
      }],
      notes: [
        'a soak is not a latency benchmark: the per-minute p50/p99 show drift (a leak, a queue that never empties), and trial 09 owns the tail target',
        errors === 0 ? 'no request failed' : `${errors} request(s) failed; the first: ${firstErrors.join(' | ')}`,
      ],
    };
  },
};

const round = (x: number): number => (Number.isFinite(x) ? Math.round(x) : NaN);
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

function printMinute(log: (l: string) => void, i: number, m: Minute): void {
  const rss = m.rss.length ? mib(m.rss.at(-1)!) : '-';
  const heap = m.heap.length ? mib(m.heap.at(-1)!) : '-';
  log(`  minute ${i + 1}${i === 0 ? ' (warm-up)' : ''}: HTTP ${m.http.length} p50 ${round(percentile(m.http, 50))} ms p99 ${round(percentile(m.http, 99))} ms; ` +
    `WS ${m.ws.length} p50 ${round(percentile(m.ws, 50))} ms p99 ${round(percentile(m.ws, 99))} ms; errors ${m.errors}; RSS ${rss}; V8 heap used ${heap}`);
}

await standalone(trial, import.meta.url);
