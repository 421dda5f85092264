// Sentence-embedding pooling over a [batch, seq, hidden] tensor (mean over the attention mask, CLS, max)
// and L2 normalisation, with sentence-transformers semantics. Runs inside the worker.
import type { Pooling } from '../models/model-dir.js';

/**
 * Pools hidden states row by row; `mask` is the [batch, seq] attention mask (null: every token counts).
 * Accumulates in float64 so the result does not depend on how much padding follows the row.
 */
export function poolHidden(
  hidden: Float32Array, batch: number, seqLen: number, dim: number,
  mask: BigInt64Array | null, pooling: Pooling, normalize: boolean,
): Float32Array {
  if (hidden.length !== batch * seqLen * dim) {
    throw new RangeError(`hidden state has ${hidden.length} values; expected batch ${batch} x seq ${seqLen} x dim ${dim}`);
  }
  const out = new Float32Array(batch * dim);
  const acc = new Float64Array(dim);
  for (let b = 0; b < batch; b++) {
    const base = b * seqLen * dim;
    const o = b * dim;
    if (pooling === 'cls') {
      for (let d = 0; d < dim; d++) acc[d] = hidden[base + d];
    } else if (pooling === 'mean') {
      acc.fill(0);
      let count = 0;
      for (let t = 0; t < seqLen; t++) {
        if (mask && mask[b * seqLen + t] === 0n) continue;
        count++;
        const row = base + t * dim;
        for (let d = 0; d < dim; d++) acc[d] += hidden[row + d];
      }
      // sentence-transformers clamps the token count at 1e-9; a row with no real tokens pools to 0.
      const inv = 1 / Math.max(count, 1e-9);
      for (let d = 0; d < dim; d++) acc[d] *= inv;
    } else if (pooling === 'max') {
      acc.fill(-Infinity);
      let any = false;
      for (let t = 0; t < seqLen; t++) {
        if (mask && mask[b * seqLen + t] === 0n) continue;
        any = true;
        const row = base + t * dim;
        for (let d = 0; d < dim; d++) if (hidden[row + d] > acc[d]) acc[d] = hidden[row + d];
      }
      if (!any) acc.fill(0);
    } else {
      throw new RangeError(`pooling '${String(pooling)}' is not supported; expected 'mean', 'cls' or 'max'`);
    }
    if (normalize) {
      let ss = 0;
      for (let d = 0; d < dim; d++) ss += acc[d] * acc[d];
      // torch.nn.functional.normalize: divide by max(norm, 1e-12).
      const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
      for (let d = 0; d < dim; d++) out[o + d] = acc[d] * inv;
    } else {
      for (let d = 0; d < dim; d++) out[o + d] = acc[d];
    }
  }
  return out;
}

/** Logistic function, stable for large |x|. */
export function expit(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
