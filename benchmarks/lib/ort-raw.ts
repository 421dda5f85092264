// onnxruntime-node used directly, with no worker or scheduler in between: pre-tokenized, length-sorted
// micro-batches fed to session.run. The ceiling any scheduler can reach with this runtime, and the bench
// for trying model variants and session options. Also aggregates ORT's own profile by operator type.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { planMicroBatches } from '../../src/infer/batcher.js';
import { DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BATCH_TOKENS, defaultAttentionCostLength } from '../../src/infer/options.js';
import { ortProviders, type BenchEp } from './ep.js';
import { padBatch, type EncodedBatch, type RaggedEncoding } from '../../src/tokenize/pad.js';

export interface RawSessionOptions {
  threads: number;
  /** Execution provider (default cpu). */
  ep?: BenchEp;
  /** Session config entries (ORT's "session.*" / "optimization.*" keys). */
  config?: Record<string, string>;
  profilePrefix?: string;
}

export async function rawSession(path: string, o: RawSessionOptions): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ortProviders(o.ep ?? 'cpu'),
  };
  if (o.config) opts.extra = { ...o.config };
  if (o.profilePrefix) { opts.enableProfiling = true; opts.profileFilePrefix = o.profilePrefix; }
  return ort.InferenceSession.create(path, opts);
}

/** Length-sorted micro-batches under the library's default budget and cost model for `ep`, padded once up front. */
export function plannedBatches(enc: RaggedEncoding, padId: number, ep: 'cpu' | 'cuda' = 'cpu'): EncodedBatch[] {
  const lengths = new Int32Array(enc.count);
  for (let i = 0; i < enc.count; i++) lengths[i] = enc.offsets[i + 1] - enc.offsets[i];
  const plan = planMicroBatches(lengths, { maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS, maxBatchRows: DEFAULT_MAX_BATCH_ROWS, attentionCostLength: defaultAttentionCostLength(ep) });
  return plan.batches.map((b) => padBatch(enc, b.rows, padId));
}

export function feeds(b: EncodedBatch): Record<string, ort.Tensor> {
  const dims = [b.batchSize, b.seqLen];
  return {
    input_ids: new ort.Tensor('int64', b.inputIds, dims),
    attention_mask: new ort.Tensor('int64', b.attentionMask, dims),
    token_type_ids: new ort.Tensor('int64', b.tokenTypeIds, dims),
  };
}

/** Runs every batch once; returns the first output column per row, in batch order. */
export async function runAll(s: ort.InferenceSession, batches: EncodedBatch[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const b of batches) {
    const r = await s.run(feeds(b));
    const t = r[s.outputNames[0]];
    out.push(Float32Array.from(t.data as Float32Array));
    t.dispose?.();
  }
  return out;
}

export interface OpProfile { op: string; ms: number; share: number }

/**
 * Ends profiling of a session created with `profilePrefix` and sums kernel time per operator type, per
 * session.run() call after the first `skipRuns` calls. onnxruntime-node's endProfiling() does not return the file name, so it is found by its prefix.
 * Deletes the profile file.
 */
export function opProfile(s: ort.InferenceSession, prefix: string, skipRuns: number): OpProfile[] {
  s.endProfiling();
  const dir = dirname(prefix);
  const name = readdirSync(dir).find((f) => f.startsWith(basename(prefix)) && f.endsWith('.json'));
  if (!name) return [];
  const file = join(dir, name);
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } }[];
  rmSync(file, { force: true });
  // Skip the first `skipRuns` runs (cold: arena growth, prepacking, first-touch page faults).
  const starts = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts + e.dur).sort((a, b) => a - b);
  const from = skipRuns > 0 && starts.length >= skipRuns ? starts[skipRuns - 1] : -Infinity;
  const runs = Math.max(1, starts.length - skipRuns);
  const by = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const op = e.args?.op_name ?? '?';
    by.set(op, (by.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
  return [...by].sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, ms: us / 1000 / runs, share: us / total }));
}
