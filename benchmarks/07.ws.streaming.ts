// Trial 7: streaming over WS. For a rerank of 100 passages (workload (a)), the time from sending the request
// to its first `partial` frame against the time to its `final`, per request, on a server with the library's
// default workers; the same request over POST /rerank (which answers only when everything is scored) is
// timed in the same rounds as the non-streaming peer.
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { httpRerank, startBenchServer, WsRerankClient } from './lib/server.js';
import { median, ratios } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';

export const trial: Trial = {
  id: '07',
  file: '07.ws.streaming.ts',
  title: 'Streaming: time to first partial / time to final over WS (100 passages)',
  async run({ quick, machine, log, ep }) {
    const model = await crossModel();
    const rounds = quick ? 5 : 15;
    const work = ragWorkload(rounds + 1, { seed: 707 });
    const workers = defaultWorkers(ep, machine.cores);
    const threads = ep === 'cuda' ? 1 : defaultThreads(workers, machine.cores);
    const server = await startBenchServer({ dir: model.dir, quantized: true, config: { workers, threads, executionProvider: ep } });
    const first: number[] = [], final: number[] = [], http: number[] = [], partials: number[] = [];
    let ws: WsRerankClient | null = null;
    try {
      ws = await WsRerankClient.open(server.url);
      // Warm-up: one full-size request each way (arena growth for the longest shapes).
      await ws.rerank(work.queries[rounds].query, work.queries[rounds].passages);
      await httpRerank(server.url, work.queries[rounds].query, work.queries[rounds].passages);
      for (let r = 0; r < rounds; r++) {
        const q = work.queries[r];
        const runWs = async () => { const t = await ws!.rerank(q.query, q.passages); first.push(t.firstPartialMs); final.push(t.finalMs); partials.push(t.partials); };
        const runHttp = async () => { http.push(await httpRerank(server.url, q.query, q.passages)); };
        if (r % 2 === 0) { await runWs(); await runHttp(); } else { await runHttp(); await runWs(); }
        log(`  round ${r + 1}: first partial ${first[r].toFixed(0)} ms, final ${final[r].toFixed(0)} ms (${partials[r]} partials), HTTP ${http[r].toFixed(0)} ms`);
      }
    } finally {
      ws?.close();
      await server.stop();
    }
    return {
      peer: 'the final of the same WS request, and the same request over POST /rerank (no streaming), interleaved',
      settings: {
        model: `${CROSS_PRESET} int8`, ep: server.info.executionProviders.join('+'), workers: server.info.workers, threads: server.info.threads,
        maxBatchTokens: server.info.maxBatchTokens, workload: '(a) one query x 100 passages per request, one request in flight', rounds, encoding: 'json',
      },
      figures: [
        figure('WS time to first partial', 'ms', first),
        figure('WS time to final', 'ms', final),
        figure('HTTP POST /rerank, same request', 'ms', http),
        figure('partial frames per request', 'frames', partials),
      ],
      ratios: [
        ratio('first partial / final (per request)', ratios(first, final), { name: 'first partial <= 0.15x final', op: '<=', value: 0.15 }),
        ratio('WS final / HTTP (per round)', ratios(final, http)),
      ],
      notes: [`ratio of the medians: ${(median(first) / median(final)).toFixed(3)}`],
    };
  },
};

await standalone(trial, import.meta.url);
