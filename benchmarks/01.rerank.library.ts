// Trial 1: rerank throughput of the library, CrossEncoder.score against @huggingface/transformers 4.3.1
// on workload (a), fp32 against fp32 and our int8 against their fp32, on the same cores, interleaved.
// crossgate runs its defaults (on 2 cores: 2 workers x 1 intra-op thread); transformers.js runs one
// session with intraOpNumThreads = the cores. The full run adds crossgate as 1 worker x all cores.
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { paddingWaste } from '../src/infer/batcher.js';
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { crossModel, loadTjs, CROSS_PRESET, TJS_BATCH } from './lib/models.js';
import { interleave, ratios, timeMs, type Contender } from './lib/stats.js';
import { figure, ratio, standalone, type Figure, type Ratio, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';
import { packageVersion } from './lib/machine.js';

export const trial: Trial = {
  id: '01',
  file: '01.rerank.library.ts',
  title: 'Rerank throughput, library (CrossEncoder.score vs transformers.js)',
  async run({ quick, machine, log, ep }) {
    const cores = machine.cores;
    const workers = defaultWorkers(ep, cores);
    const threads = defaultThreads(workers, cores);
    const queriesPerRound = quick ? 1 : 6;
    const rounds = quick ? 3 : 5;
    const work = ragWorkload(queriesPerRound, { seed: 101 });
    const pairs = queriesPerRound * 100;
    const model = await crossModel();

    // Library defaults (what CrossEncoder.load gives with no options), spelled out so the report names them.
    const fp32 = await CrossEncoder.load(model.dir, { workers, threads, executionProvider: ep });
    const int8 = await CrossEncoder.load(model.dir, { workers, threads, executionProvider: ep, quantized: true });
    // The full run also spends the same cores as one session with an intra-op pool.
    const oneSession = !quick && ep === 'cpu' && workers > 1;
    const fp32s = oneSession ? await CrossEncoder.load(model.dir, { workers: 1, threads: cores }) : null;
    const int8s = oneSession ? await CrossEncoder.load(model.dir, { workers: 1, threads: cores, quantized: true }) : null;
    const tjs = await loadTjs(model.dir, cores, 'fp32', ep);
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
      for (const enc of [fp32, int8, fp32s, int8s]) await enc?.score(w.query, w.passages.slice(0, 32));
      await tjs.score(w.query, w.passages.slice(0, 32));
      waste = { real: 0, padded: 0 };
      tjs.tokens.real = 0; tjs.tokens.padded = 0;
      const layout = `${workers}x${threads}`;
      const contenders: Contender[] = [
        { name: `crossgate fp32 ${layout}`, run: ours(fp32) },
        { name: `crossgate int8 ${layout}`, run: ours(int8) },
        { name: 'transformers.js fp32', run: theirs },
      ];
      if (fp32s && int8s) contenders.push({ name: `crossgate fp32 1x${cores}`, run: ours(fp32s) }, { name: `crossgate int8 1x${cores}`, run: ours(int8s) });
      const res = await interleave(rounds, contenders,
        (r, got) => log(`  round ${r + 1}: ${Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} pairs/s`));
      const base = res['transformers.js fp32'];
      const figures: Figure[] = [
        figure(`crossgate fp32 (${workers} workers x ${threads} thread${threads > 1 ? 's' : ''}, the default)`, 'pairs/s', res[`crossgate fp32 ${layout}`]),
        figure(`crossgate int8 (${workers} workers x ${threads} thread${threads > 1 ? 's' : ''}, the default)`, 'pairs/s', res[`crossgate int8 ${layout}`]),
        figure(`transformers.js fp32 (1 session x ${cores} threads)`, 'pairs/s', base),
      ];
      const out: Ratio[] = [
        ratio('fp32: crossgate / transformers.js', ratios(res[`crossgate fp32 ${layout}`], base), { name: 'fp32 >= 3.5x transformers.js', op: '>=', value: 3.5 }),
        ratio('crossgate int8 / transformers.js fp32', ratios(res[`crossgate int8 ${layout}`], base), { name: 'int8 >= 7x transformers.js fp32', op: '>=', value: 7 }),
      ];
      if (fp32s && int8s) {
        figures.push(figure(`crossgate fp32 (1 worker x ${cores} threads)`, 'pairs/s', res[`crossgate fp32 1x${cores}`]));
        figures.push(figure(`crossgate int8 (1 worker x ${cores} threads)`, 'pairs/s', res[`crossgate int8 1x${cores}`]));
        out.push(ratio(`fp32 1x${cores}: crossgate / transformers.js`, ratios(res[`crossgate fp32 1x${cores}`], base)));
        out.push(ratio(`int8 1x${cores}: crossgate / transformers.js fp32`, ratios(res[`crossgate int8 1x${cores}`], base)));
      }
      return {
        peer: `@huggingface/transformers ${packageVersion('@huggingface/transformers')} (AutoTokenizer + AutoModelForSequenceClassification, fp32, device ${ep}, batches of ${TJS_BATCH} padded to the longest, intraOpNumThreads=${cores})`,
        settings: {
          model: CROSS_PRESET, ep: fp32.executionProviders.join('+'), workers, threads, 'peer threads': cores,
          workload: `(a) ${queriesPerRound} queries x 100 passages per round`, rounds,
        },
        figures,
        ratios: out,
        notes: [
          `same cores for both: crossgate ${workers} worker(s) x ${threads} intra-op thread(s), transformers.js 1 session x ${cores} intra-op threads (a Node process runs one transformers.js model per session)`,
          `padded tokens / real tokens - 1: crossgate ${(paddingWaste({ batches: 0, realTokens: waste.real, paddedTokens: waste.padded }) * 100).toFixed(1)}%, ` +
          `transformers.js ${((tjs.tokens.padded / tjs.tokens.real - 1) * 100).toFixed(1)}% (batches of ${TJS_BATCH} in retrieval order)`,
        ],
      };
    } finally {
      await Promise.all([fp32.close(), int8.close(), fp32s?.close(), int8s?.close(), tjs.dispose()]);
    }
  },
};

await standalone(trial, import.meta.url);
