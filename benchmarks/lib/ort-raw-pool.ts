// Several raw ONNX Runtime sessions, one per worker thread, fed pre-padded batches by dynamic dispatch
// (a worker that finishes takes the next batch, largest first): the raw ceiling for an N workers x T
// threads layout, with no tokenizer, scheduler, or message of scores back to a caller in the timed part.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../src/infer/pool.js';
import type { EncodedBatch } from '../../src/tokenize/pad.js';
import type { BenchEp } from './ep.js';
import type { RawWorkerIn, RawWorkerOut } from './ort-raw-worker.js';

interface Slot { worker: Worker; wait: (() => void) | null; error: string | null }

function next(slot: Slot): Promise<void> {
  return new Promise((resolve, reject) => {
    if (slot.error) { reject(new Error(slot.error)); return; }
    slot.wait = () => (slot.error ? reject(new Error(slot.error)) : resolve());
  });
}

export class RawPool {
  private constructor(private readonly slots: Slot[], private count = 0) {}

  static async create(path: string, o: { sessions: number; threads: number; ep?: BenchEp; config?: Record<string, string> }): Promise<RawPool> {
    const slots: Slot[] = [];
    for (let i = 0; i < o.sessions; i++) {
      const worker = startWorker(new URL('./ort-raw-worker.js', import.meta.url), {}); // the library's flag filter
      const slot: Slot = { worker, wait: null, error: null };
      worker.on('message', (m: RawWorkerOut) => {
        if (m.type === 'error') slot.error = m.message;
        const w = slot.wait;
        slot.wait = null;
        w?.();
      });
      worker.on('error', (e: Error) => { slot.error = e.message; const w = slot.wait; slot.wait = null; w?.(); });
      slots.push(slot);
    }
    const pool = new RawPool(slots);
    await Promise.all(slots.map((s) => {
      const p = next(s);
      s.worker.postMessage({ type: 'init', path, threads: o.threads, ep: o.ep ?? 'cpu', config: o.config } satisfies RawWorkerIn);
      return p;
    }));
    return pool;
  }

  /** Copies the batches into every worker (untimed). Order matters: they are handed out first to last. */
  async load(batches: EncodedBatch[]): Promise<void> {
    this.count = batches.length;
    await Promise.all(this.slots.map((s) => {
      const p = next(s);
      s.worker.postMessage({ type: 'load', batches } satisfies RawWorkerIn);
      return p;
    }));
  }

  /** Runs every loaded batch once across the sessions; resolves when the last one is done. */
  async runAll(): Promise<void> {
    let at = 0;
    await Promise.all(this.slots.map(async (s) => {
      while (at < this.count) {
        const index = at++;
        const p = next(s);
        s.worker.postMessage({ type: 'run', index } satisfies RawWorkerIn);
        await p;
      }
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => new Promise<void>((resolve) => {
      s.worker.once('exit', () => resolve());
      s.worker.postMessage({ type: 'close' } satisfies RawWorkerIn);
      setTimeout(() => { void s.worker.terminate(); }, 5000).unref();
    })));
  }
}
