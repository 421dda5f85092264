// Trial 8: front-end overhead. With the tiny cross-encoder (inference is cheap, so the front-end shows),
// requests/s and p50/p99 latency of crossgate's POST /rerank (uWS) and /ws `rerank` against the same handler
// (runRerank on the same ServerContext, same encoder and scheduler, same JSON shaping) served by Node's
// `http` and the `ws` package, both in one server process. HTTP is driven by autocannon, WS by a small
// closed-loop driver (one request in flight per connection); every contender runs interleaved in each round.
import { createRequire } from 'node:module';
import { ensureGenerated } from '../models/generate.js';
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { packageVersion } from './lib/machine.js';
import { percentile, startBenchServer, WsRerankClient } from './lib/server.js';
import { interleave, ratios } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';

const require = createRequire(import.meta.url);
interface AutocannonResult {
  requests: { total: number }; latency: { p50: number; p99: number }; duration: number; non2xx: number; errors: number; timeouts: number;
}
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

interface Load { reqPerS: number; p50: number; p99: number }

const PRESET = 'tiny-cross';

async function httpLoad(url: string, body: string, connections: number, seconds: number): Promise<Load> {
  const r = await autocannon({
    url: `${url}/rerank`, method: 'POST', headers: { 'content-type': 'application/json' }, body,
    connections, pipelining: 1, duration: seconds,
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`autocannon against ${url}/rerank: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`);
  return { reqPerS: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99 };
}

async function wsLoad(url: string, query: string, passages: string[], connections: number, seconds: number): Promise<Load> {
  const clients = await Promise.all(Array.from({ length: connections }, () => WsRerankClient.open(url)));
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  try {
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < end) lat.push((await c.rerank(query, passages)).finalMs);
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return { reqPerS: lat.length / ((performance.now() - t0) / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export const trial: Trial = {
  id: '08',
  file: '08.frontend.overhead.ts',
  title: 'Front-end overhead: crossgate HTTP/WS vs Node http + ws, same handler',
  async run({ quick, machine, log, ep }) {
    const dir = await ensureGenerated(PRESET);
    const rounds = quick ? 3 : 5;
    const seconds = quick ? 2 : 5;
    const connections = 8;
    const passagesPerRequest = 5;
    const q = ragWorkload(1, { seed: 808 }).queries[0];
    const passages = q.passages.slice(0, passagesPerRequest);
    const body = JSON.stringify({ query: q.query, texts: passages });
    const workers = defaultWorkers(ep, machine.cores);
    const threads = ep === 'cuda' ? 1 : defaultThreads(workers, machine.cores);
    const server = await startBenchServer({ dir, quantized: false, peer: true, config: { workers, threads, executionProvider: ep } });
    const peer = server.peerUrl!;
    let res: Record<string, Load[]>;
    try {
      // Warm-up: JIT both front-ends' paths.
      await httpLoad(server.url, body, connections, 1);
      await httpLoad(peer, body, connections, 1);
      await wsLoad(server.url, q.query, passages, connections, 1);
      await wsLoad(peer, q.query, passages, connections, 1);
      res = await interleave<Load>(rounds, [
        { name: 'crossgate HTTP', run: () => httpLoad(server.url, body, connections, seconds) },
        { name: 'node http', run: () => httpLoad(peer, body, connections, seconds) },
        { name: 'crossgate WS', run: () => wsLoad(server.url, q.query, passages, connections, seconds) },
        { name: 'node ws', run: () => wsLoad(peer, q.query, passages, connections, seconds) },
      ], (r, got) => log(`  round ${r + 1}: ${Object.entries(got).map(([k, v]) => `${k} ${v.reqPerS.toFixed(0)} req/s p50 ${v.p50.toFixed(1)} p99 ${v.p99.toFixed(1)} ms`).join('; ')}`));
    } finally {
      await server.stop();
    }
    const col = (name: string, k: keyof Load) => res[name].map((x) => x[k]);
    const figures = [];
    for (const name of ['crossgate HTTP', 'node http', 'crossgate WS', 'node ws']) {
      figures.push(figure(`${name} throughput`, 'req/s', col(name, 'reqPerS')));
      figures.push(figure(`${name} p50`, 'ms', col(name, 'p50')));
      figures.push(figure(`${name} p99`, 'ms', col(name, 'p99')));
    }
    return {
      peer: `the same handler (runRerank + the same JSON shaping, same ServerContext and encoder) on Node ${process.version} http and ws ${packageVersion('ws')}`,
      settings: {
        model: `${PRESET} fp32`, ep, workers, threads, 'passages per request': passagesPerRequest, connections,
        'seconds per contender per round': seconds, rounds,
        drivers: `autocannon ${packageVersion('autocannon')} (HTTP, keep-alive, pipelining 1; latency in whole ms) and a ws ${packageVersion('ws')} closed loop (WS, JSON frames); driver and server in separate processes`,
      },
      figures,
      ratios: [
        ratio('HTTP req/s: crossgate / node http', ratios(col('crossgate HTTP', 'reqPerS'), col('node http', 'reqPerS'))),
        ratio('WS req/s: crossgate / node ws', ratios(col('crossgate WS', 'reqPerS'), col('node ws', 'reqPerS'))),
        ratio('HTTP p50: crossgate / node http', ratios(col('crossgate HTTP', 'p50'), col('node http', 'p50'))),
        ratio('HTTP p99: crossgate / node http', ratios(col('crossgate HTTP', 'p99'), col('node http', 'p99'))),
        ratio('WS p50: crossgate / node ws', ratios(col('crossgate WS', 'p50'), col('node ws', 'p50'))),
        ratio('WS p99: crossgate / node ws', ratios(col('crossgate WS', 'p99'), col('node ws', 'p99'))),
      ],
      notes: [
        'throughput ratios above 1 and latency ratios below 1 favour crossgate; the model work is the same in both, so the differences are the front-ends (parsing, framing, the event loop)',
      ],
    };
  },
};

await standalone(trial, import.meta.url);
