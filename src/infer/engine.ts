// The shared run path of CrossEncoder and BiEncoder: ragged encodings -> planned micro-batches ->
// padded tensors -> worker pool -> rows scattered back to input order.
import { padBatch } from '../tokenize/index.js';
import type { EncodeOptions, RaggedEncoding } from '../tokenize/index.js';
import type { ModelSpec } from '../models/model-dir.js';
import { lengthsFromOffsets, planMicroBatches, type BatchStats } from './batcher.js';
import { InferenceBackendError } from './errors.js';
import type { ResolvedInferOptions } from './options.js';
import type { WorkerPool } from './pool.js';

export interface PlannedOutput { data: Float32Array; cols: number; stats: BatchStats }

/**
 * Runs every item of `enc` through the pool and returns row-major [count, cols] in input order.
 * Padded batches are built just before they are handed out (at most two per worker wait in the
 * queue), so a 100k-text embed never holds all its padded tensors at once.
 */
export async function runPlanned(pool: WorkerPool, enc: RaggedEncoding, padId: number, o: ResolvedInferOptions): Promise<PlannedOutput> {
  const lengths = lengthsFromOffsets(enc.offsets);
  const plan = planMicroBatches(lengths, { maxBatchTokens: o.maxBatchTokens, maxBatchRows: o.maxBatchRows, minBatches: pool.size, batchOverheadTokens: o.batchOverheadTokens });
  let data: Float32Array | null = null;
  let cols = -1;
  let next = 0;
  let failure: Error | null = null;
  const inFlightCap = Math.max(2, pool.size * 2);

  const feed = async (): Promise<void> => {
    while (next < plan.batches.length && failure === null) {
      const mb = plan.batches[next++];
      const eb = padBatch(enc, mb.rows, padId);
      if (eb.seqLen !== mb.seqLen || eb.batchSize !== mb.rows.length) {
        throw new InferenceBackendError(`crossgate: padBatch returned [${eb.batchSize}, ${eb.seqLen}] for a planned [${mb.rows.length}, ${mb.seqLen}] batch`);
      }
      const out = await pool.run({ batchSize: eb.batchSize, seqLen: eb.seqLen, inputIds: eb.inputIds, attentionMask: eb.attentionMask, tokenTypeIds: eb.tokenTypeIds });
      if (data === null) {
        cols = out.cols;
        data = new Float32Array(enc.count * cols);
      } else if (out.cols !== cols) {
        throw new InferenceBackendError(`crossgate: the model returned ${out.cols} values per row in one batch and ${cols} in another`);
      }
      if (out.data.length !== mb.rows.length * cols) {
        throw new InferenceBackendError(`crossgate: the worker returned ${out.data.length} values for ${mb.rows.length} rows x ${cols}`);
      }
      for (let r = 0; r < mb.rows.length; r++) data.set(out.data.subarray(r * cols, (r + 1) * cols), mb.rows[r] * cols);
    }
  };
  // A fixed number of feeders, each keeping one batch in the pool's queue or in a worker.
  const feeders = Array.from({ length: Math.min(inFlightCap, plan.batches.length) }, () => feed().catch((e: Error) => { failure ??= e; }));
  await Promise.all(feeders);
  if (failure) throw failure;
  return { data: data ?? new Float32Array(0), cols: Math.max(cols, 0), stats: plan.stats };
}

/** Encode options bounded by the model: maxLength defaults to, and may not exceed, spec.maxLength. */
export function boundedEncodeOptions(spec: ModelSpec, opts: EncodeOptions | undefined): EncodeOptions {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError(`encode options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const maxLength = opts?.maxLength ?? spec.maxLength;
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > spec.maxLength) {
    throw new RangeError(`maxLength ${String(maxLength)} is out of range for ${spec.name}: it must be an integer from 2 to the model's max length ${spec.maxLength}`);
  }
  return { ...opts, maxLength };
}

/** Rejects anything but an array of strings, naming the first bad index. */
export function checkTexts(name: string, texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts)) throw new TypeError(`${name} must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  for (let i = 0; i < texts.length; i++) {
    const t: unknown = texts[i];
    if (typeof t !== 'string') throw new TypeError(`${name}[${i}] is ${t === null ? 'null' : typeof t}; expected a string`);
  }
}

export function emptyStats(): BatchStats { return { batches: 0, realTokens: 0, paddedTokens: 0 }; }
