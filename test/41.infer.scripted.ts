// A scripted stand-in for the worker pool, shared by the scheduler's policy tests (40.infer.scheduler,
// 41.infer.fairness): batches are held until released (or finish on their own with `auto`), each row's
// "logit" is the sum of its ids and its tag is ids[0] / 1000, so results and batch make-up are checkable.
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { InferenceBackendError } from '../src/infer/errors.js';
import type { BatchRunner } from '../src/infer/scheduler.js';
import type { RunInput, RunOutput } from '../src/infer/pool.js';
import type { RaggedEncoding } from '../src/tokenize/index.js';

export interface Ran { rows: number; seqLen: number; tags: number[] }
export class ScriptedRunner implements BatchRunner {
  readonly ran: Ran[] = [];
  readonly held: { resolve: (o: RunOutput) => void; reject: (e: Error) => void; out: RunOutput; failed: boolean }[] = [];
  /** Tags (id / 1000) whose presence makes a batch fail. */
  poison = new Set<number>();
  auto = false;
  run(input: RunInput): Promise<RunOutput> {
    const data = new Float32Array(input.batchSize);
    const tags: number[] = [];
    let failed = false;
    for (let b = 0; b < input.batchSize; b++) {
      let s = 0;
      for (let t = 0; t < input.seqLen; t++) if (input.attentionMask[b * input.seqLen + t] === 1n) s += Number(input.inputIds[b * input.seqLen + t]);
      data[b] = s;
      const tag = Math.floor(Number(input.inputIds[b * input.seqLen]) / 1000);
      tags.push(tag);
      if (this.poison.has(tag)) failed = true;
    }
    this.ran.push({ rows: input.batchSize, seqLen: input.seqLen, tags });
    return new Promise((resolve, reject) => {
      const job = { resolve, reject, out: { data, cols: 1 }, failed };
      if (this.auto) setImmediate(() => this.#finish(job));
      else this.held.push(job);
    });
  }
  #finish(job: ScriptedRunner['held'][number]): void {
    if (job.failed) job.reject(new InferenceBackendError('model output is NaN in batch row 0'));
    else job.resolve(job.out);
  }
  /** Finishes the oldest held batch. */
  async release(): Promise<void> {
    const job = this.held.shift();
    assert.ok(job, 'no batch is running');
    this.#finish(job);
    await tick();
  }
}

/** A ragged encoding whose row i has `lengths[i]` tokens: [tag*1000 + i, 1, 1, ...]. */
export function encoding(tag: number, lengths: ArrayLike<number>): RaggedEncoding {
  const n = lengths.length;
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + lengths[i];
  const ids = new Int32Array(offsets[n]).fill(1);
  for (let i = 0; i < n; i++) ids[offsets[i]] = tag * 1000 + i;
  return { count: n, ids, typeIds: new Uint8Array(offsets[n]), offsets, truncated: new Uint8Array(n) };
}
/** The logit ScriptedRunner gives row i (of `len` tokens) of the encoding tagged `tag`. */
export const expected = (tag: number, i: number, len: number): number => tag * 1000 + i + len - 1;
