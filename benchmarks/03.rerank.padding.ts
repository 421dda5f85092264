// Trial 3: padding waste on workload (a): tokens computed / real tokens - 1, as CrossEncoder.score reports
// it (BatchStats from the scheduler that really ran the batches), against the batching most callers
// write (transformers.js style: batches of 32 in retrieval order, padded to the longest).
import { join } from 'node:path';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { planMicroBatches, DEFAULT_BATCH_OVERHEAD_TOKENS } from '../src/infer/batcher.js';
import { DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BATCH_TOKENS } from '../src/infer/options.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { crossModel, CROSS_PRESET, TJS_BATCH } from './lib/models.js';
import { median } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';

/** Padded / real - 1 of fixed batches of `size` in input order, each padded to its longest row. */
export function fixedBatchWaste(lengths: ArrayLike<number>, size: number): number {
  let real = 0;
  let padded = 0;
  for (let i = 0; i < lengths.length; i += size) {
    let max = 0;
    const end = Math.min(lengths.length, i + size);
    for (let j = i; j < end; j++) { real += lengths[j]; max = Math.max(max, lengths[j]); }
    padded += max * (end - i);
  }
  return padded / real - 1;
}

export const trial: Trial = {
  id: '03',
  file: '03.rerank.padding.ts',
  title: 'Padding waste on workload (a)',
  async run({ quick, machine }) {
    const model = await crossModel();
    const measured = quick ? 2 : 8;
    const planned = quick ? 100 : 400;
    const work = ragWorkload(planned, { seed: 303 });
    const tok = Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));

    // Planner over many queries (no inference): the distribution, cheaply.
    const plannerWaste: number[] = [];
    const peerWaste: number[] = [];
    const allLengths: number[] = [];
    for (const q of work.queries) {
      const enc = tok.encodeRaggedSync(new Array<string>(q.passages.length).fill(q.query), q.passages);
      const lengths = Array.from({ length: enc.count }, (_, i) => enc.offsets[i + 1] - enc.offsets[i]);
      allLengths.push(...lengths);
      const plan = planMicroBatches(lengths, { maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS, maxBatchRows: DEFAULT_MAX_BATCH_ROWS, batchOverheadTokens: DEFAULT_BATCH_OVERHEAD_TOKENS });
      plannerWaste.push(plan.stats.paddedTokens / plan.stats.realTokens - 1);
      peerWaste.push(fixedBatchWaste(lengths, TJS_BATCH));
    }

    // The real thing: what CrossEncoder.score ran (int8: the plan does not depend on precision).
    const enc = await CrossEncoder.load(model.dir, { workers: 1, threads: machine.cores, quantized: true });
    const scoreWaste: number[] = [];
    const batches: number[] = [];
    try {
      for (const q of work.queries.slice(0, measured)) {
        const r = await enc.score(q.query, q.passages);
        scoreWaste.push(r.stats.paddedTokens / r.stats.realTokens - 1);
        batches.push(r.stats.batches);
      }
    } finally {
      await enc.close();
    }
    const sorted = [...allLengths].sort((a, b) => a - b);
    const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    const pooled = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      peer: `fixed batches of ${TJS_BATCH} in retrieval order, padded to the longest (what transformers.js does with padding: true)`,
      settings: {
        model: CROSS_PRESET, tokenizer: 'crossgate native', maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS, batchOverheadTokens: DEFAULT_BATCH_OVERHEAD_TOKENS,
        'queries measured through score()': measured, 'queries planned': planned,
      },
      figures: [
        figure('waste, CrossEncoder.score (per query)', 'fraction', scoreWaste),
        figure('waste, planner only (per query)', 'fraction', plannerWaste),
        figure(`waste, fixed batches of ${TJS_BATCH} (per query)`, 'fraction', peerWaste),
        figure('micro-batches per query (score)', 'batches', batches),
      ],
      ratios: [
        ratio('padding waste, CrossEncoder.score', scoreWaste, { name: 'waste <= 5%', op: '<=', value: 0.05 }),
        ratio(`peer waste / crossgate waste`, [pooled(peerWaste) / Math.max(1e-9, pooled(plannerWaste))]),
      ],
      notes: [
        `pair lengths (tokens, specials included) over ${allLengths.length} pairs: p5 ${pct(0.05)}, p50 ${pct(0.5)}, p95 ${pct(0.95)}, max ${sorted[sorted.length - 1]}; median planner waste ${(median(plannerWaste) * 100).toFixed(2)}%`,
      ],
    };
  },
};

await standalone(trial, import.meta.url);
