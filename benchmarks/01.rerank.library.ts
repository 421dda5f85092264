// Trial 1: rerank throughput of the library, CrossEncoder.score against @huggingface/transformers 4.3.1
// on workload (a), fp32 against fp32 and our int8 against their fp32, same intra-op threads, interleaved.
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { paddingWaste } from '../src/infer/batcher.js';
import { crossModel, loadTjs, CROSS_PRESET, TJS_BATCH } from './lib/models.js';
import { interleave, ratios, timeMs } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';
import { packageVersion } from './lib/machine.js';

export const trial: Trial = {
  id: '01',
  file: '01.rerank.library.ts',
  title: 'Rerank throughput, library (CrossEncoder.score vs transformers.js)',
  async run({ quick, machine, log }) {
    const threads = machine.cores;
    const queriesPerRound = quick ? 1 : 6;
    const rounds = quick ? 3 : 5;
    const work = ragWorkload(queriesPerRound, { seed: 101 });
    const pairs = queriesPerRound * 100;
    const model = await crossModel();

    const fp32 = await CrossEncoder.load(model.dir, { workers: 1, threads });
    const int8 = await CrossEncoder.load(model.dir, { workers: 1, threads, quantized: true });
    // Same cores spent differently: one single-threaded session per core, no intra-op thread pool.
    const int8w = await CrossEncoder.load(model.dir, { workers: threads, threads: 1, quantized: true });
    const tjs = await loadTjs(model.dir, threads, 'fp32');
    let waste = { real: 0, padded: 0 };
    try {
      const ours = (enc: CrossEncoder) => async (): Promise<number> => {
        const ms = await timeMs(async () => {
          for (const q of work.queries) {
            const r = await enc.score(q.query, q.passages);
            if (enc === fp32) { waste.real += r.stats.realTokens; waste.padded += r.stats.paddedTokens; }
          }
        });
        return pairs / (ms / 1000);
      };
      const theirs = async (): Promise<number> => {
        const ms = await timeMs(async () => { for (const q of work.queries) await tjs.score(q.query, q.passages); });
        return pairs / (ms / 1000);
      };
      // Warm-up: first runs allocate arenas and JIT the JS paths.
      const w = work.queries[0];
      await fp32.score(w.query, w.passages.slice(0, 32));
      await int8.score(w.query, w.passages.slice(0, 32));
      await int8w.score(w.query, w.passages.slice(0, 32));
      await tjs.score(w.query, w.passages.slice(0, 32));
      waste = { real: 0, padded: 0 };
      tjs.tokens.real = 0; tjs.tokens.padded = 0;
      const res = await interleave(rounds, [
        { name: 'crossgate fp32', run: ours(fp32) },
        { name: 'crossgate int8', run: ours(int8) },
        { name: `crossgate int8 ${threads}x1`, run: ours(int8w) },
        { name: 'transformers.js fp32', run: theirs },
      ], (r, got) => log(`  round ${r + 1}: ${Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} pairs/s`));
      const base = res['transformers.js fp32'];
      return {
        peer: `@huggingface/transformers ${packageVersion('@huggingface/transformers')} (AutoTokenizer + AutoModelForSequenceClassification, fp32, batches of ${TJS_BATCH} padded to the longest, intraOpNumThreads=${threads})`,
        settings: {
          model: CROSS_PRESET, ep: 'cpu', threads, workers: 1, workload: `(a) ${queriesPerRound} queries x 100 passages per round`, rounds,
        },
        figures: [
          figure('crossgate fp32', 'pairs/s', res['crossgate fp32']),
          figure('crossgate int8', 'pairs/s', res['crossgate int8']),
          figure(`crossgate int8, ${threads} workers x 1 thread`, 'pairs/s', res[`crossgate int8 ${threads}x1`]),
          figure('transformers.js fp32', 'pairs/s', base),
        ],
        ratios: [
          ratio('fp32: crossgate / transformers.js', ratios(res['crossgate fp32'], base), { name: 'fp32 >= 3.5x transformers.js', op: '>=', value: 3.5 }),
          ratio('crossgate int8 / transformers.js fp32', ratios(res['crossgate int8'], base), { name: 'int8 >= 7x transformers.js fp32', op: '>=', value: 7 }),
          ratio(`crossgate int8 (${threads} workers x 1 thread) / transformers.js fp32`, ratios(res[`crossgate int8 ${threads}x1`], base)),
        ],
        notes: [
          `padded tokens / real tokens - 1: crossgate ${(paddingWaste({ batches: 0, realTokens: waste.real, paddedTokens: waste.padded }) * 100).toFixed(1)}%, ` +
          `transformers.js ${((tjs.tokens.padded / tjs.tokens.real - 1) * 100).toFixed(1)}% (batches of ${TJS_BATCH} in retrieval order)`,
        ],
      };
    } finally {
      await Promise.all([fp32.close(), int8.close(), int8w.close(), tjs.dispose()]);
    }
  },
};

await standalone(trial, import.meta.url);
