// Trial 6: exact top-10 by inner product over n x 384 unit vectors (1M, or 100k with --quick), one query at a
// time and in batches of 64, against usearch's exactSearch and hnswlib-node's BruteforceSearch, all on one
// thread; the memory-bandwidth bound measured in the same run; and the f16 / int8 storages' speed and recall@10.
import { createRequire } from 'node:module';
import { VectorIndex, type VectorStorage } from '../src/index/index.js';
import { packageVersion } from './lib/machine.js';
import { interleave, median, ratios, timeMs } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { unitVectors } from './lib/workload.js';

const require = createRequire(import.meta.url);
const usearch = require('usearch') as typeof import('usearch');
const { BruteforceSearch } = require('hnswlib-node') as typeof import('hnswlib-node');

const DIM = 384;
const K = 10;
const BATCH = 64;

/**
 * Single-thread read bandwidth, measured by streaming `bytes` bytes through glibc's SIMD memcmp: two
 * equal halves of a buffer compared against each other, so memcmp reads every byte once and cannot stop
 * early (comparing a buffer with itself would short-circuit on the equal pointers). Returns GB/s.
 */
export function streamBandwidth(bytes: number, reps: number): number[] {
  const half = Math.floor(bytes / 2);
  const buf = Buffer.alloc(half * 2, 0x5a);
  const a = buf.subarray(0, half);
  const b = buf.subarray(half);
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    if (Buffer.compare(a, b) !== 0) throw new Error('bandwidth probe: halves differ');
    out.push(half * 2 / Number(process.hrtime.bigint() - t0));
  }
  return out;
}

function recallAt(truth: number[][], got: number[][]): number {
  let hit = 0;
  let all = 0;
  for (let q = 0; q < truth.length; q++) {
    const t = new Set(truth[q]);
    for (const id of got[q]) if (t.has(id)) hit++;
    all += truth[q].length;
  }
  return hit / all;
}

export const trial: Trial = {
  id: '06',
  file: '06.index.flat.ts',
  title: `Index: exact top-${K} over n x ${DIM} f32, single query and batch of ${BATCH}`,
  async run({ quick, log }) {
    const n = quick ? 100_000 : 1_000_000;
    const nSingle = quick ? 20 : 20;
    const rounds = quick ? 5 : 7;
    const t0 = performance.now();
    const data = unitVectors(n, DIM, 606);
    const queries = unitVectors(BATCH, DIM, 607);
    const ids = Array.from({ length: n }, (_, i) => i);
    const indexes: Record<VectorStorage, VectorIndex> = {
      f32: new VectorIndex({ dim: DIM, storage: 'f32' }),
      f16: new VectorIndex({ dim: DIM, storage: 'f16' }),
      int8: new VectorIndex({ dim: DIM, storage: 'int8' }),
    };
    for (const ix of Object.values(indexes)) ix.add(ids, data);
    const hnsw = new BruteforceSearch('ip', DIM);
    hnsw.initIndex(n);
    for (let i = 0; i < n; i++) hnsw.addPoint(Array.from(data.subarray(i * DIM, (i + 1) * DIM)), i);
    log(`  built ${n.toLocaleString('en-US')} x ${DIM} (crossgate f32/f16/int8 + hnswlib) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Own buffers, not subarray views: usearch's binding reads a view's whole underlying buffer (a view
    // of query 3 came back with query 0's results), so every query gets a buffer of its own.
    const single = Array.from({ length: nSingle }, (_, i) => queries.slice(i * DIM, (i + 1) * DIM));
    const batchList = Array.from({ length: BATCH }, (_, i) => queries.slice(i * DIM, (i + 1) * DIM));

    // Correctness first: every exact engine returns the same top-10 (ties aside: random floats have none).
    const truth = single.map((q) => indexes.f32.searchSync(q, K).map((h) => h.id));
    const us = single.map((q) => Array.from((usearch.exactSearch(data, q, DIM, K, usearch.MetricKind.IP, 1) as import('usearch').Matches).keys, Number));
    const hn = single.map((q) => hnsw.searchKnn(Array.from(q), K).neighbors);
    const rUs = recallAt(truth, us);
    const rHn = recallAt(truth, hn);
    if (rUs < 1 || rHn < 1) throw new Error(`exact engines disagree with crossgate f32: recall vs usearch ${rUs}, vs hnswlib ${rHn}`);
    const recallF16 = recallAt(truth, single.map((q) => indexes.f16.searchSync(q, K).map((h) => h.id)));
    const recallInt8 = recallAt(truth, single.map((q) => indexes.int8.searchSync(q, K).map((h) => h.id)));

    // Single queries: ms per query (each round = all nSingle queries).
    const perQuery = (fn: (q: Float32Array) => unknown) => async (): Promise<number> => (await timeMs(() => { for (const q of single) fn(q); })) / single.length;
    const f32Bytes = n * DIM * 4;
    const f16Bytes = n * DIM * 2;
    const int8Bytes = n * (DIM + 4); // rows + one f32 scale each
    const probeMs = (bytes: number): number => bytes / median(streamBandwidth(bytes, single.length)) / 1e6;
    const res = await interleave(rounds, [
      { name: 'crossgate f32', run: perQuery((q) => indexes.f32.searchSync(q, K)) },
      { name: 'usearch exactSearch', run: perQuery((q) => usearch.exactSearch(data, q, DIM, K, usearch.MetricKind.IP, 1)) },
      { name: 'hnswlib BruteforceSearch', run: perQuery((q) => hnsw.searchKnn(Array.from(q), K)) },
      { name: 'crossgate f16', run: perQuery((q) => indexes.f16.searchSync(q, K)) },
      { name: 'crossgate int8', run: perQuery((q) => indexes.int8.searchSync(q, K)) },
      // The bounds, interleaved like contenders and repeated back to back like the queries (so caches
      // help them exactly as much): time to stream each storage's bytes once.
      { name: 'bandwidth bound (f32 bytes)', run: async () => probeMs(f32Bytes) },
      { name: 'bandwidth bound (f16 bytes)', run: async () => probeMs(f16Bytes) },
      { name: 'bandwidth bound (int8 bytes)', run: async () => probeMs(int8Bytes) },
    ]);
    const bwGBs = res['bandwidth bound (f32 bytes)'].map((ms) => f32Bytes / (ms * 1e6));

    // Batches of 64: ms per batch.
    const batchRounds = quick ? 3 : 5;
    const resB = await interleave(batchRounds, [
      { name: 'crossgate f32 batch', run: async () => timeMs(() => indexes.f32.searchBatch(batchList, K)) },
      { name: 'usearch exactSearch batch', run: async () => timeMs(() => usearch.exactSearch(data, queries, DIM, K, usearch.MetricKind.IP, 1)) },
      { name: 'hnswlib batch', run: async () => timeMs(() => { for (const q of batchList) hnsw.searchKnn(Array.from(q), K); }) },
    ]);

    const cg = res['crossgate f32'];
    const boundF16 = res['bandwidth bound (f16 bytes)'];
    const boundInt8 = res['bandwidth bound (int8 bytes)'];
    return {
      peer: `usearch ${packageVersion('usearch')} exactSearch(dataset, query, ${DIM}, ${K}, MetricKind.IP, threads=1) and hnswlib-node ${packageVersion('hnswlib-node')} BruteforceSearch('ip').searchKnn`,
      settings: {
        vectors: n, dim: DIM, k: K, threads: 1, simd: VectorIndex.simdLevel, 'single queries per round': nSingle, rounds, batch: BATCH,
        'bandwidth probe': 'glibc memcmp of two equal halves (Buffer.compare) of a buffer the size of each storage, repeated like the queries',
      },
      figures: [
        figure('crossgate f32, single query', 'ms', cg),
        figure('usearch exact, single query', 'ms', res['usearch exactSearch']),
        figure('hnswlib brute force, single query', 'ms', res['hnswlib BruteforceSearch']),
        figure('crossgate f16, single query', 'ms', res['crossgate f16']),
        figure('crossgate int8, single query', 'ms', res['crossgate int8']),
        figure('bandwidth bound (stream the f32 bytes)', 'ms', res['bandwidth bound (f32 bytes)']),
        figure('measured read bandwidth, 1 thread', 'GB/s', bwGBs),
        figure(`crossgate f32, batch of ${BATCH}`, 'ms', resB['crossgate f32 batch']),
        figure(`usearch exact, batch of ${BATCH}`, 'ms', resB['usearch exactSearch batch']),
        figure(`hnswlib brute force, ${BATCH} queries`, 'ms', resB['hnswlib batch']),
      ],
      ratios: [
        ratio('single query: usearch time / crossgate time', ratios(res['usearch exactSearch'], cg), { name: 'index >= 1.5x usearch (single query)', op: '>=', value: 1.5 }),
        ratio('single query: crossgate time / bandwidth bound', ratios(cg, res['bandwidth bound (f32 bytes)']), { name: 'index <= 1.3x bandwidth bound', op: '<=', value: 1.3 }),
        ratio('single query: hnswlib time / crossgate time', ratios(res['hnswlib BruteforceSearch'], cg)),
        ratio(`batch of ${BATCH}: usearch time / crossgate time`, ratios(resB['usearch exactSearch batch'], resB['crossgate f32 batch'])),
        ratio(`batch of ${BATCH}: hnswlib time / crossgate time`, ratios(resB['hnswlib batch'], resB['crossgate f32 batch'])),
        ratio('f16: time / bandwidth bound of its bytes', ratios(res['crossgate f16'], boundF16)),
        ratio('int8: time / bandwidth bound of its bytes', ratios(res['crossgate int8'], boundInt8)),
        ratio('recall@10 f16 vs exact', [recallF16]),
        ratio('recall@10 int8 vs exact', [recallInt8]),
      ],
      notes: [
        `top-${K} of crossgate f32 equals usearch's and hnswlib's on all ${nSingle} checked queries`,
        `storage: f32 ${(f32Bytes / 2 ** 20).toFixed(0)} MiB, f16 ${(indexes.f16.vectorBytes / 2 ** 20).toFixed(0)} MiB, int8 ${(indexes.int8.vectorBytes / 2 ** 20).toFixed(0)} MiB (vectorBytes incl. ids/scales); ` +
        `recall@10 vs exact over ${nSingle} random unit queries: f16 ${recallF16.toFixed(3)}, int8 ${recallInt8.toFixed(3)}`,
        `batch of ${BATCH}: crossgate ${(median(resB['crossgate f32 batch']) / BATCH).toFixed(3)} ms/query amortised vs ${median(cg).toFixed(2)} ms single`,
      ],
    };
  },
};

await standalone(trial, import.meta.url);
