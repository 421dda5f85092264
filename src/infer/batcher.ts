// Token-budget micro-batch planning: sort ragged items by length, then cut the sorted run into
// micro-batches that minimise padded tokens plus a per-run overhead, under a token and a row cap.

/** Counts over one call. Padding waste = paddedTokens / realTokens - 1. */
export interface BatchStats { batches: number; realTokens: number; paddedTokens: number }

export interface MicroBatch {
  /** Input indices in this batch, longest first (row 0 sets seqLen). */
  rows: Int32Array;
  seqLen: number;
  realTokens: number;
  paddedTokens: number;
}

export interface BatchPlan { batches: MicroBatch[]; stats: BatchStats }

export interface PlanOptions {
  /** Padded-token budget per batch (rows x seqLen). A single row longer than it still runs, alone. */
  maxBatchTokens: number;
  maxBatchRows: number;
  /** Split into at least this many batches when there are enough items, so that several workers
   *  all get work (pass the worker count). Default 1. */
  minBatches?: number;
  /** What one extra `run()` costs, in padded tokens: the message round trip to the worker, tensor
   *  setup and ORT's fixed per-run work. Without it the optimum is one batch per distinct length;
   *  with it the planner only splits where the padding saved pays for the extra run. */
  batchOverheadTokens?: number;
  /** Count a row of L tokens as L + L^2 / this (attention's square cost; InferOptions.attentionCostLength).
   *  The budget then bounds cost, which is at least the padded tokens. Default Infinity: tokens only. */
  attentionCostLength?: number;
}

/** The CPU default of InferOptions.batchOverheadTokens (see there for the measurement behind it). */
export const DEFAULT_BATCH_OVERHEAD_TOKENS = 32;

/** Padded/real - 1, or 0 for an empty call. */
export function paddingWaste(stats: BatchStats): number {
  return stats.realTokens === 0 ? 0 : stats.paddedTokens / stats.realTokens - 1;
}

/** Item lengths from ragged offsets (length count+1). */
export function lengthsFromOffsets(offsets: Int32Array): Int32Array {
  const n = offsets.length - 1;
  const out = new Int32Array(Math.max(n, 0));
  for (let i = 0; i < n; i++) out[i] = offsets[i + 1] - offsets[i];
  return out;
}

/**
 * Plans micro-batches over items of the given token lengths. Items are sorted longest first and cut
 * into contiguous runs by dynamic programming: the cost of a run of k items starting at the longest
 * length L is k*L + overhead, subject to k*L <= maxBatchTokens and k <= maxBatchRows. Contiguous runs
 * of the sorted order are optimal for this cost (exchanging items across runs never lowers a max).
 * Batches come back ordered by padded tokens, largest first, so a pool that hands them out in order
 * finishes with small ones (longest-processing-time-first scheduling).
 */
export function planMicroBatches(lengths: ArrayLike<number>, opts: PlanOptions): BatchPlan {
  const n = lengths.length;
  const budget = opts.maxBatchTokens;
  const overhead = opts.batchOverheadTokens ?? DEFAULT_BATCH_OVERHEAD_TOKENS;
  const minBatches = Math.max(1, opts.minBatches ?? 1);
  if (!(budget >= 1) || !(opts.maxBatchRows >= 1)) throw new RangeError(`planMicroBatches: maxBatchTokens (${budget}) and maxBatchRows (${opts.maxBatchRows}) must be >= 1`);
  const rowCap = Math.max(1, Math.min(opts.maxBatchRows, Math.ceil(n / minBatches)));

  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Longest first; ties by input index so plans are deterministic.
  order.sort((a, b) => (lengths[b] - lengths[a]) || (a - b));
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = lengths[order[i]];

  const take = planCuts(sorted, budget, rowCap, overhead, opts.attentionCostLength ?? Infinity);

  const batches: MicroBatch[] = [];
  let realTokens = 0;
  let paddedTokens = 0;
  for (let i = 0; i < n; i += take[i]) {
    const k = take[i];
    const rows = order.slice(i, i + k);
    const seqLen = sorted[i];
    let real = 0;
    for (let r = i; r < i + k; r++) real += sorted[r];
    const padded = k * seqLen;
    batches.push({ rows, seqLen, realTokens: real, paddedTokens: padded });
    realTokens += real;
    paddedTokens += padded;
  }
  batches.sort((a, b) => b.paddedTokens - a.paddedTokens);
  return { batches, stats: { batches: batches.length, realTokens, paddedTokens } };
}

/**
 * The cut step of planMicroBatches, shared with the Scheduler: over lengths sorted longest first,
 * take[i] is the row count of the batch that starts at i in the cheapest plan of items i..n-1, where a
 * batch of k rows starting at length L costs k*c(L) + overhead, with k*c(L) <= budget (a lone costlier
 * row still runs) and k <= rowCap; c(L) = rowCost(L, costLength), which is L when costLength is
 * Infinity. c grows with L, so contiguous runs stay optimal. Walk i += take[i] from 0 to read the plan.
 */
export function planCuts(sorted: ArrayLike<number>, budget: number, rowCap: number, overhead: number, costLength = Infinity): Int32Array {
  const n = sorted.length;
  const best = new Float64Array(n + 1); // best[i]: min cost of items i..n-1
  const take = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const len = rowCost(Math.max(1, sorted[i]), costLength);
    const kMax = Math.min(rowCap, n - i, Math.max(1, Math.floor(budget / len)));
    let bestCost = Infinity;
    let bestK = 1;
    for (let k = 1; k <= kMax; k++) {
      const c = k * len + overhead + best[i + k];
      if (c <= bestCost) { bestCost = c; bestK = k; } // ties: fewer, larger batches
    }
    best[i] = bestCost;
    take[i] = bestK;
  }
  return take;
}

/**
 * What one row of `len` tokens costs to run, in token units: len + len^2 / costLength. The square term
 * is attention (scores and softmax over len x len per head), which outgrows the dense layers' linear
 * cost past costLength tokens; Infinity counts tokens only.
 */
export function rowCost(len: number, costLength: number): number {
  return costLength === Infinity ? len : len + (len * len) / costLength;
}

export function addStats(into: BatchStats, s: BatchStats): BatchStats {
  into.batches += s.batches;
  into.realTokens += s.realTokens;
  into.paddedTokens += s.paddedTokens;
  return into;
}
