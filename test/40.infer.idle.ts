// Event-driven waits on a Scheduler for tests: its onBatch hook fires as each batch is delivered, so "the
// scheduler is idle" and "a batch ran" are awaited on those events instead of on sleeps.
import type { BatchEvent } from '../src/infer/scheduler.js';
import type { QueueObserver } from '../src/pipeline/ports.js';

/** A served model's queue (the pipeline seam); the built-in one, a Scheduler, also counts running batches. */
export type BatchSource = QueueObserver;

function inFlight(sched: BatchSource): number {
  const n = (sched as { inFlightBatches?: unknown }).inFlightBatches;
  if (typeof n !== 'number') throw new TypeError('untilIdle needs a queue that counts inFlightBatches (the built-in Scheduler)');
  return n;
}

/** Chains a listener onto sched.onBatch until it returns true (earlier hooks keep running). */
function listen(sched: BatchSource, done: (b: BatchEvent) => boolean): void {
  const prev = sched.onBatch;
  let finished = false;
  const hook = (b: BatchEvent) => {
    prev?.(b);
    if (finished || !done(b)) return;
    finished = true;
    if (sched.onBatch === hook) sched.onBatch = prev;  // else a later hook chained onto us: stay a pass-through
  };
  sched.onBatch = hook;
}

/**
 * Resolves once nothing is queued or running: at once if so now, else at the batch after which none is left.
 * A batch is delivered before the scheduler forms the next, so queued rows at that moment mean another batch.
 */
export function untilIdle(sched: BatchSource): Promise<void> {
  const idle = () => sched.queuedRows === 0 && inFlight(sched) === 0;
  if (idle()) return Promise.resolve();
  return new Promise((resolve) => listen(sched, () => { if (!idle()) return false; resolve(); return true; }));
}

/** Resolves with the next batch the scheduler delivers. */
export function nextBatch(sched: BatchSource): Promise<BatchEvent> {
  return new Promise((resolve) => listen(sched, (b) => { resolve(b); return true; }));
}

/**
 * Resolves once cond() holds, checked after each batch the scheduler delivers (one macrotask later, so the
 * sends its results cause have run), or once the scheduler is idle with cond() still false: then nothing
 * more will happen and the caller's assertion reports it, rather than a wait that never ends.
 */
export function untilAfterBatch(sched: BatchSource, cond: () => boolean): Promise<void> {
  const idle = () => sched.queuedRows === 0 && inFlight(sched) === 0;
  if (cond()) return Promise.resolve();
  return new Promise((resolve) => {
    let settled = false;
    listen(sched, () => {
      setImmediate(() => {
        if (!settled && (cond() || idle())) {
          settled = true;
          resolve();
        }
      });
      return settled;
    });
  });
}
