// One raw ONNX Runtime session in a worker thread, for the raw ceiling with several single-threaded sessions
// (onnxruntime-node's run() blocks its thread, so parallel sessions need threads of their own). Holds the
// pre-padded batches it was sent once and runs the one it is told to, so nothing but session.run is timed.
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { EncodedBatch } from '../../src/tokenize/pad.js';
import type { BenchEp } from './ep.js';
import { feeds, rawSession } from './ort-raw.js';

export type RawWorkerIn =
  | { type: 'init'; path: string; threads: number; ep: BenchEp; config?: Record<string, string> }
  | { type: 'load'; batches: EncodedBatch[] }
  | { type: 'run'; index: number }
  | { type: 'close' };
export type RawWorkerOut = { type: 'ready' } | { type: 'loaded' } | { type: 'done'; index: number } | { type: 'error'; message: string };

let session: ort.InferenceSession | null = null;
let batches: EncodedBatch[] = [];
const port = parentPort!;

port.on('message', (m: RawWorkerIn) => {
  void (async () => {
    try {
      if (m.type === 'init') {
        session = await rawSession(m.path, { threads: m.threads, ep: m.ep, config: m.config });
        port.postMessage({ type: 'ready' } satisfies RawWorkerOut);
      } else if (m.type === 'load') {
        batches = m.batches;
        port.postMessage({ type: 'loaded' } satisfies RawWorkerOut);
      } else if (m.type === 'run') {
        const s = session!;
        const r = await s.run(feeds(batches[m.index]));
        // Read the scores out, as any caller would.
        const t = r[s.outputNames[0]];
        Float32Array.from(t.data as Float32Array);
        t.dispose?.();
        port.postMessage({ type: 'done', index: m.index } satisfies RawWorkerOut);
      } else {
        await session?.release();
        session = null;
        port.close();
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies RawWorkerOut);
    }
  })();
});
