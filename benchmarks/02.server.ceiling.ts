// Trial 2: pairs/s through the server (POST /rerank, all of a round's queries in flight at once, so the
// scheduler is never idle) against the raw ONNX Runtime ceiling: session.run on the same pairs, tokenized
// and padded beforehand and cut into length-sorted micro-batches over the whole round. Same thread budget:
// the server's W workers x T intra-op threads, against raw W sessions x T threads (worker threads, dynamic
// dispatch) and raw 1 session x W*T threads; the ceiling is the better of the two in each round.
import { join } from 'node:path';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { DEFAULT_MAX_BATCH_TOKENS, defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { RawPool } from './lib/ort-raw-pool.js';
import { plannedBatches, rawSession, runAll } from './lib/ort-raw.js';
import { httpRerank, startBenchServer } from './lib/server.js';
import { interleave, ratios, timeMs } from './lib/stats.js';
import { figure, ratio, standalone, type Figure, type Ratio, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';

export const trial: Trial = {
  id: '02',
  file: '02.server.ceiling.ts',
  title: 'Rerank through the server vs the raw ORT ceiling',
  async run({ quick, machine, log, ep }) {
    const model = await crossModel();
    const precisions: ('int8' | 'fp32')[] = quick ? ['int8'] : ['int8', 'fp32'];
    const nq = quick ? 2 : 6;
    const rounds = quick ? 3 : 5;
    const work = ragWorkload(nq, { seed: 202 });
    const pairs = nq * 100;
    const workers = defaultWorkers(ep, machine.cores);
    const threads = ep === 'cuda' ? 1 : defaultThreads(workers, machine.cores);
    const budget = workers * threads;

    // Every pair of the round, tokenized once and cut into length-sorted batches across all queries: the
    // best plan any scheduler could make with the whole round known up front.
    const tok = Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));
    const texts = work.queries.flatMap((q) => new Array<string>(q.passages.length).fill(q.query));
    const enc = tok.encodeRaggedSync(texts, work.queries.flatMap((q) => q.passages));
    const batches = plannedBatches(enc, tok.padId, ep);
    let real = 0, padded = 0;
    for (const b of batches) { for (const l of b.lengths) real += l; padded += b.batchSize * b.seqLen; }

    const figures: Figure[] = [];
    const outRatios: Ratio[] = [];
    const notes: string[] = [
      `thread budget ${budget}: the server runs ${workers} worker(s) x ${threads} intra-op thread(s) (the library default here); ` +
      `raw ORT runs ${workers} session(s) x ${threads} thread(s) in worker threads${ep === 'cpu' && workers > 1 ? (quick ? ` (--quick leaves out 1 session x ${budget} threads in-process, which ran at 0.55-0.65x of ${workers}x${threads} in every run on this machine)` : `, and 1 session x ${budget} threads in-process`) : ''}; ceiling = the better raw layout in each round`,
      `raw batches: ${batches.length} length-sorted micro-batches over all ${pairs} pairs (max ${DEFAULT_MAX_BATCH_TOKENS} padded tokens, long rows counted at their attention cost as the library does), padding waste ${((padded / real - 1) * 100).toFixed(1)}%; tokenization and padding are outside the raw timing, inside the server's`,
    ];
    for (const precision of precisions) {
      const path = precision === 'int8' ? model.int8 : model.fp32;
      const server = await startBenchServer({
        dir: model.dir, quantized: precision === 'int8',
        config: { workers, threads, executionProvider: ep, maxConcurrentRequests: Math.max(64, nq * 2) },
      });
      const layouts: { name: string; close(): Promise<void>; run(): Promise<void> }[] = [];
      const pool = await RawPool.create(path, { sessions: workers, threads, ep });
      await pool.load(batches.slice(-2));
      await pool.runAll();
      await pool.load(batches);
      layouts.push({ name: `raw ${workers}x${threads}`, close: () => pool.close(), run: () => pool.runAll() });
      if (!quick && ep === 'cpu' && workers > 1) {
        const single = await rawSession(path, { threads: budget, ep });
        await runAll(single, batches.slice(-2));
        layouts.push({ name: `raw 1x${budget}`, close: () => single.release(), run: async () => { await runAll(single, batches); } });
      }
      const lib = quick ? null : await CrossEncoder.load(model.dir, { workers, threads, executionProvider: ep, quantized: precision === 'int8' });
      try {
        await httpRerank(server.url, work.queries[0].query, work.queries[0].passages.slice(0, 16));
        await lib?.score(work.queries[0].query, work.queries[0].passages.slice(0, 16));
        const contenders = [
          {
            name: 'server', run: async () => {
              const ms = await timeMs(() => Promise.all(work.queries.map((q) => httpRerank(server.url, q.query, q.passages))));
              return pairs / (ms / 1000);
            },
          },
          ...layouts.map((l) => ({ name: l.name, run: async () => pairs / ((await timeMs(() => l.run())) / 1000) })),
          ...(lib ? [{ name: 'library', run: async () => pairs / ((await timeMs(() => Promise.all(work.queries.map((q) => lib.score(q.query, q.passages))))) / 1000) }] : []),
        ];
        const res = await interleave(rounds, contenders, (r, got) =>
          log(`  ${precision} round ${r + 1}: ${Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} pairs/s`));
        const ceiling = res[layouts[0].name].map((x, i) => Math.max(x, ...layouts.slice(1).map((l) => res[l.name][i])));
        figures.push(figure(`${precision} server (HTTP, ${nq} requests of 100 in flight)`, 'pairs/s', res.server));
        for (const l of layouts) figures.push(figure(`${precision} ${l.name} (session.run on pre-padded batches)`, 'pairs/s', res[l.name]));
        if (lib) figures.push(figure(`${precision} library (CrossEncoder.score, same ${nq} calls at once, in-process)`, 'pairs/s', res.library));
        outRatios.push(ratio(`${precision}: server / raw ceiling`, ratios(res.server, ceiling), { name: `${precision}: server >= 0.9x raw ORT`, op: '>=', value: 0.9 }));
        if (layouts.length > 1) outRatios.push(ratio(`${precision}: server / ${layouts[0].name} (same layout)`, ratios(res.server, res[layouts[0].name])));
        if (lib) outRatios.push(ratio(`${precision}: server / library (the HTTP share)`, ratios(res.server, res.library)));
      } finally {
        await Promise.all([server.stop(), ...layouts.map((l) => l.close()), lib?.close()]);
      }
    }
    return {
      peer: `onnxruntime-node session.run on pre-tokenized, length-sorted batches of the same pairs (${workers}x${threads} sessions in worker threads${!quick && ep === 'cpu' && workers > 1 ? `, or 1x${budget} in-process when faster` : ''})`,
      settings: {
        model: CROSS_PRESET, ep, workers, threads, 'thread budget': budget, precisions: precisions.join(', '),
        workload: `(a) ${nq} queries x 100 passages per round, all in flight at once`, rounds,
      },
      figures,
      ratios: outRatios,
      notes,
    };
  },
};

await standalone(trial, import.meta.url);
