// Trial 9: latency under load. Each round first saturates the server (closed loop, 8 requests in flight) to
// find its throughput, then offers 70% of that as open-loop Poisson arrivals (seeded) and records every
// request's latency from its scheduled arrival, so a late send counts against the server rather than
// hiding (no coordinated omission). The figure is p99 / p50 of each window. Beside it, the same ratio for
// an ideal server fed the same arrival times: one FIFO queue with the round's saturated capacity, each
// request taking a time proportional to its tokens, with no jitter and no overhead: what queueing and
// the workload's own spread of sizes leave, before the host and the server add anything.
import { join } from 'node:path';
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { percentile, startBenchServer } from './lib/server.js';
import { ratios } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { rng, ragWorkload, type RagQuery } from './lib/workload.js';

const LOAD = 0.7;
const SATURATE_IN_FLIGHT = 8;
const PASSAGES = 10;

async function post(url: string, q: RagQuery): Promise<void> {
  const r = await fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q.query, texts: q.passages }) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`POST /rerank answered ${r.status}: ${text.slice(0, 300)}`);
}

/** Closed loop: `inFlight` requests always outstanding for `seconds`; requests/s completed. */
async function saturate(url: string, reqs: RagQuery[], inFlight: number, seconds: number): Promise<number> {
  let n = 0;
  let at = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) { await post(url, reqs[at++ % reqs.length]); n++; }
  }));
  return n / ((performance.now() - t0) / 1000);
}

/** Each distinct request alone, one at a time, `reps` times: its median latency in ms. */
async function isolatedMs(url: string, reqs: RagQuery[], reps: number): Promise<number[]> {
  const times = reqs.map((): number[] => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < reqs.length; i++) {
      const t0 = performance.now();
      await post(url, reqs[i]);
      times[i].push(performance.now() - t0);
    }
  }
  return times.map((t) => percentile(t, 50));
}

interface Window { /** Latency of request i, ms. */ lat: number[]; /** Its scheduled arrival, ms after the window's start. */ arrival: number[] }

/** Open loop at `rate`/s for `seconds`: Poisson (exponential gaps) or evenly spaced. Request i is reqs[i % reqs.length]. */
async function openLoop(url: string, reqs: RagQuery[], rate: number, seconds: number, poisson: boolean, seed: number): Promise<Window> {
  const next = rng(seed);
  const lat: number[] = [];
  const arrival: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let due = t0;
  for (let i = 0; ; i++) {
    due += poisson ? -Math.log(1 - next()) * 1000 / rate : 1000 / rate;
    if (due - t0 >= seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 0.5) await new Promise((r) => setTimeout(r, wait));
    const scheduled = due;
    arrival.push(scheduled - t0);
    pending.push(post(url, reqs[i % reqs.length]).then(() => { lat[i] = performance.now() - scheduled; }));
  }
  await Promise.all(pending);
  return { lat, arrival };
}

/**
 * The ideal server on the same arrivals: one FIFO queue (Lindley's recursion) whose capacity is the
 * measured saturated rate, request i costing cost[i % n] (its tokens), scaled so the mean over the n
 * distinct requests takes 1 / saturated seconds. Returns each request's latency, ms.
 */
export function idealFifo(arrival: number[], cost: number[], saturated: number): number[] {
  const mean = cost.reduce((a, b) => a + b, 0) / cost.length;
  const scale = 1000 / saturated / mean;
  let free = 0;
  return arrival.map((t, i) => {
    const start = Math.max(t, free);
    free = start + cost[i % cost.length] * scale;
    return free - t;
  });
}

const tailRatio = (lat: number[]): number => percentile(lat, 99) / percentile(lat, 50);

export const trial: Trial = {
  id: '09',
  file: '09.server.latency.ts',
  title: 'Latency under load: p99/p50 at 70% of saturated throughput, open-loop arrivals',
  async run({ quick, machine, log, ep }) {
    const model = await crossModel();
    const rounds = quick ? 3 : 5;
    const satSeconds = quick ? 3 : 10;
    const windowSeconds = quick ? 5 : 30;
    const reqs = ragWorkload(40, { seed: 909 }).queries.map((q) => ({ query: q.query, passages: q.passages.slice(0, PASSAGES) }));
    const workers = defaultWorkers(ep, machine.cores);
    const threads = ep === 'cuda' ? 1 : defaultThreads(workers, machine.cores);
    const server = await startBenchServer({ dir: model.dir, quantized: true, config: { workers, threads, executionProvider: ep } });
    const sat: number[] = [], offered: number[] = [], p50: number[] = [], p99: number[] = [], tail: number[] = [], achieved: number[] = [];
    const even: { p50: number[]; p99: number[]; tail: number[] } = { p50: [], p99: [], tail: [] };
    const ideal: { poisson: number[]; even: number[] } = { poisson: [], even: [] };
    const tok = Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));
    const tokens = reqs.map((q) => tok.encodeRaggedSync(new Array<string>(q.passages.length).fill(q.query), q.passages).offsets[q.passages.length]);
    let isolated: number[] = [];
    try {
      await saturate(server.url, reqs, SATURATE_IN_FLIGHT, 1);
      isolated = await isolatedMs(server.url, reqs, 3);
      log(`  each request alone (median of 3): p50 ${percentile(isolated, 50).toFixed(0)} ms, slowest ${Math.max(...isolated).toFixed(0)} ms; tokens p50 ${percentile(tokens, 50)}, largest ${Math.max(...tokens)}`);
      for (let r = 0; r < rounds; r++) {
        const s = await saturate(server.url, reqs, SATURATE_IN_FLIGHT, satSeconds);
        const rate = s * LOAD;
        const t0 = performance.now();
        const w = await openLoop(server.url, reqs, rate, windowSeconds, true, 9090 + r);
        const lat = w.lat;
        achieved.push(lat.length / ((performance.now() - t0) / 1000));
        sat.push(s); offered.push(rate);
        p50.push(percentile(lat, 50)); p99.push(percentile(lat, 99)); tail.push(p99[r] / p50[r]);
        ideal.poisson.push(tailRatio(idealFifo(w.arrival, tokens, s)));
        let line = `  round ${r + 1}: saturated ${s.toFixed(2)} req/s; Poisson at ${rate.toFixed(2)} req/s: ${lat.length} requests, p50 ${p50[r].toFixed(0)} ms, p99 ${p99[r].toFixed(0)} ms, p99/p50 ${tail[r].toFixed(2)} (ideal ${ideal.poisson[r].toFixed(2)})`;
        {
          const e = await openLoop(server.url, reqs, rate, windowSeconds, false, 0);
          even.p50.push(percentile(e.lat, 50)); even.p99.push(percentile(e.lat, 99)); even.tail.push(even.p99[r] / even.p50[r]);
          ideal.even.push(tailRatio(idealFifo(e.arrival, tokens, s)));
          line += `; evenly spaced: p50 ${even.p50[r].toFixed(0)} ms, p99 ${even.p99[r].toFixed(0)} ms, p99/p50 ${even.tail[r].toFixed(2)} (ideal ${ideal.even[r].toFixed(2)})`;
        }
        log(line);
      }
    } finally {
      await server.stop();
    }
    const figures = [
      figure(`saturated throughput (closed loop, ${SATURATE_IN_FLIGHT} in flight)`, 'req/s', sat),
      figure('offered load (70%)', 'req/s', offered),
      figure('completed (open-loop window)', 'req/s', achieved),
      figure('p50 latency (Poisson arrivals)', 'ms', p50),
      figure('p99 latency (Poisson arrivals)', 'ms', p99),
    ];
    figures.push(figure('p50 latency (evenly spaced arrivals)', 'ms', even.p50), figure('p99 latency (evenly spaced arrivals)', 'ms', even.p99));
    const out = [
      ratio('p99 / p50 at 70% load, Poisson arrivals', tail, { name: 'p99/p50 <= 1.5 at 70% load (Poisson arrivals)', op: '<=', value: 1.5 }),
      ratio('p99 / p50 at 70% load, evenly spaced arrivals', even.tail, { name: 'p99/p50 <= 1.5 at 70% load (evenly spaced arrivals)', op: '<=', value: 1.5 }),
      ratio('ideal FIFO server, same Poisson arrivals: p99 / p50', ideal.poisson),
      ratio('ideal FIFO server, same evenly spaced arrivals: p99 / p50', ideal.even),
      ratio('crossgate / ideal, Poisson (p99/p50 over p99/p50)', ratios(tail, ideal.poisson)),
      ratio('crossgate / ideal, evenly spaced', ratios(even.tail, ideal.even)),
      ratio('largest / median request, in tokens (the workload\'s own spread)', [Math.max(...tokens) / percentile(tokens, 50)]),
      ratio('each request alone, no queue: slowest / median latency (that spread plus attention\'s square cost plus the host)', [Math.max(...isolated) / percentile(isolated, 50)]),
    ];
    return {
      peer: 'the p50 of the same window (the target is the tail over the median)',
      settings: {
        model: `${CROSS_PRESET} int8`, ep: server.info.executionProviders.join('+'), workers: server.info.workers, threads: server.info.threads,
        workload: `(a) queries with their first ${PASSAGES} candidates, POST /rerank, 40 distinct requests cycled`,
        load: `${LOAD * 100}% of the round's saturated throughput`, 'window s': windowSeconds, 'saturation s': satSeconds, rounds,
      },
      figures,
      ratios: out,
      notes: [
        `requests of ${PASSAGES} passages keep enough samples per window for a p99 at this machine's speed (a 100-passage request takes ~0.7 s of both cores); with fewer than 100 samples in a window its p99 is its slowest request`,
        'both arrival processes are open-loop at the same rate: Poisson gaps model independent clients (bursts queue: a single FIFO server at 70% load has p99/p50 of 4.3 with constant service times (M/D/1) and 6.7 with exponential ones (M/M/1), by simulation of the Lindley recursion); evenly spaced gaps leave only the spread of service times',
        'the ideal server is a reference, not a peer: no jitter, service time proportional to tokens (a long row really costs more per token: attention grows with its square), exactly the saturated capacity, and one request at a time where crossgate overlaps two on its two workers, which is how it can come out under the ideal. With Poisson arrivals no server on 2 cores reaches 1.5 at 70% load: c parallel servers with constant service times (M/D/c) give 4.3 (c=1), 3.5 (c=2), 2.5 (c=4), 1.7 (c=8), 1.3 (c=16) by the same simulation, so the target needs about 12 independent servers or batch-absorbing hardware (a GPU whose batch time barely grows with the batch)',
      ],
    };
  },
};

await standalone(trial, import.meta.url);
