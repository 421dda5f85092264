// WorkerPool: N worker threads, one ORT InferenceSession each, fed micro-batches from one FIFO queue.
//
// onnxruntime-node 1.30 in worker_threads, as verified on Node 20.20 / linux-x64:
// - Works: `import * as ort` and InferenceSession.create/run inside a worker; several workers at once,
//   each with its own session; terminating idle workers and creating new ones in the same process
//   (ORT's process-wide environment outlives the worker that created it); a session on the main
//   thread alongside worker sessions; BigInt64Array inputs transferred in, Float32Array results out.
// - Aborts the whole process (SIGABRT, "terminate called after throwing an instance of 'Napi::Error'"):
//   tearing a worker down while it is inside the native run() or session load. That happens on
//   worker.terminate(), and also on process.exit() or an uncaught exception on the main thread while
//   a run is in flight: the binding throws a C++ Napi::Error into the terminating isolate.
//   So close() never terminates a worker: it lets in-flight runs finish, then asks each worker to
//   release its session and close its port, and the thread exits by itself. Callers that exit the
//   process (servers on SIGTERM) must `await close()` first.
// - A worker inherits process.execArgv; `--input-type=module` (node -e scripts) stops it from starting,
//   so workerExecArgv() drops the flags that only apply to an inline entry script.
// - Child processes are not needed: threads give the same isolation from the caller's event loop with
//   transferable buffers and no second copy of Node.
// Workers are unref()'d while idle, so a process that forgets close() still exits; a worker with a
// run in flight is ref()'d, so the event loop does not run dry (and exit) mid-run.
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { InferenceBackendError, InferenceClosedError } from './errors.js';
import type { FromWorker, ReadyMessage, RunRequest, WorkerInit } from './protocol.js';

export interface RunInput {
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

export interface RunOutput { data: Float32Array; cols: number }

interface Job {
  input: RunInput;
  resolve: (r: RunOutput) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  jobId: number;
  exited: Promise<void>;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * The parent's node flags minus the ones that only make sense for an inline entry script: a worker
 * inherits process.execArgv, and `--input-type` (as in `node --input-type=module -e ...`) makes every
 * worker fail to start with "--input-type can only be used with string input".
 */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  const withValue = new Set(['--input-type', '-e', '--eval', '-p', '--print']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (withValue.has(a)) { i++; continue; }
    if (a.startsWith('--input-type=') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}

/** The execArgv every worker of this process starts with, once found (see startWorker). */
let acceptedExecArgv: string[] | null = null;

/**
 * Starts a worker with the parent's node flags, minus those a worker refuses. Node rejects V8 and
 * per-process flags in a worker's execArgv (`node --max-old-space-size=4096 app.js`, the usual way to
 * run a server, made every model load fail with ERR_WORKER_INVALID_EXEC_ARGV); they keep applying to
 * the main thread, so the worker starts without the ones Node names and the rest are kept.
 */
export function startWorker(url: URL, options: Omit<WorkerOptions, 'execArgv'>): Worker {
  const argv = acceptedExecArgv ?? workerExecArgv();
  try {
    const w = new Worker(url, { ...options, execArgv: argv });
    acceptedExecArgv = argv;
    return w;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || acceptedExecArgv) throw e;
    const named = new Set(((e as Error).message.split(': ')[1] ?? '').split(', ').map((f) => f.trim()));
    const kept = argv.filter((a) => !named.has(a));
    if (kept.length === argv.length) throw e;
    const w = new Worker(url, { ...options, execArgv: kept });
    acceptedExecArgv = kept;
    return w;
  }
}

/** Buffers to transfer: each distinct ArrayBuffer once; views over shared buffers are copied first. */
function detachable(input: RunInput): { msg: Omit<RunRequest, 'type' | 'id'>; transfer: ArrayBuffer[] } {
  const seen = new Set<ArrayBufferLike>();
  const own = (a: BigInt64Array): BigInt64Array => {
    const whole = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
    if (whole && !seen.has(a.buffer)) { seen.add(a.buffer); return a; }
    return a.slice();
  };
  const inputIds = own(input.inputIds);
  const attentionMask = own(input.attentionMask);
  const tokenTypeIds = own(input.tokenTypeIds);
  return {
    msg: { batchSize: input.batchSize, seqLen: input.seqLen, inputIds, attentionMask, tokenTypeIds },
    transfer: [inputIds.buffer as ArrayBuffer, attentionMask.buffer as ArrayBuffer, tokenTypeIds.buffer as ArrayBuffer],
  };
}

export class WorkerPool {
  readonly #init: WorkerInit;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closing: Promise<void> | null = null;
  #info!: ReadyMessage;

  private constructor(init: WorkerInit) {
    this.#init = init;
  }

  /** Starts `size` workers and waits until every session is loaded; on any failure none is left running. */
  static async create(init: WorkerInit, size: number): Promise<WorkerPool> {
    const pool = new WorkerPool(init);
    const started = await Promise.allSettled(Array.from({ length: size }, () => pool.#spawn()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    pool.#info = (started[0] as PromiseFulfilledResult<ReadyMessage>).value;
    return pool;
  }

  /** Input/output names and providers of the loaded sessions. */
  get info(): ReadyMessage { return this.#info; }
  get size(): number { return this.#slots.length; }
  get closed(): boolean { return this.#closing !== null; }

  /** Queues one padded micro-batch; its buffers are transferred (the caller's views become empty). */
  run(input: RunInput): Promise<RunOutput> {
    if (this.#closing) return Promise.reject(new InferenceClosedError());
    return new Promise<RunOutput>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      this.#dispatch();
    });
  }

  /**
   * Stops the pool: queued batches are rejected, in-flight runs finish, then each worker releases its
   * session and exits by itself. Idempotent; resolves once every thread has exited.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    for (const job of this.#queue.splice(0)) job.reject(new InferenceClosedError());
    this.#closing = Promise.all(this.#slots.map((s) => this.#retire(s))).then(() => undefined);
    return this.#closing;
  }

  async #retire(slot: Slot): Promise<void> {
    // Wait for the in-flight run, if any: terminating mid-run aborts the process (see header).
    while (slot.job) {
      await new Promise<void>((r) => {
        const done = (): void => { slot.worker.off('message', done); slot.worker.off('exit', done); r(); };
        slot.worker.on('message', done);
        slot.worker.on('exit', done);
      });
    }
    try { slot.worker.postMessage({ type: 'close' }); } catch { /* already gone */ }
    slot.worker.ref(); // keep the process alive until the thread has really exited
    await slot.exited;
  }

  #spawn(): Promise<ReadyMessage> {
    return new Promise<ReadyMessage>((resolve, reject) => {
      const worker = startWorker(WORKER_URL, { workerData: this.#init });
      let lastError: Error | null = null;
      const slot: Slot = { worker, ready: false, job: null, jobId: 0, exited: new Promise((r) => worker.once('exit', () => r())) };
      this.#slots.push(slot);
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          slot.ready = true;
          if (!this.#closing) worker.unref();
          resolve(msg);
          this.#dispatch();
        } else if (msg.type === 'init-error') {
          lastError = new InferenceBackendError(`crossgate: could not load ${this.#init.modelPath}: ${msg.message}`);
          if (!slot.ready) reject(lastError);
        } else if (msg.type === 'result' || msg.type === 'error') {
          const job = slot.job;
          if (!job || msg.id !== slot.jobId) return;
          slot.job = null;
          if (!this.#closing) worker.unref();
          if (msg.type === 'result') job.resolve({ data: msg.data, cols: msg.cols });
          else job.reject(new InferenceBackendError(`crossgate: inference failed in ${this.#init.modelPath}: ${msg.message}`));
          this.#dispatch();
        }
      });
      worker.on('error', (e: unknown) => { lastError = e instanceof Error ? e : new Error(String(e)); });
      worker.on('exit', (code) => {
        const i = this.#slots.indexOf(slot);
        if (i >= 0) this.#slots.splice(i, 1);
        const why = lastError ? lastError.message : `exit code ${code}`;
        if (!slot.ready) reject(lastError instanceof InferenceBackendError ? lastError : new InferenceBackendError(`crossgate: the inference worker for ${this.#init.modelPath} exited while loading (${why})`));
        if (slot.job) {
          const job = slot.job;
          slot.job = null;
          job.reject(new InferenceBackendError(`crossgate: the inference worker for ${this.#init.modelPath} died during a run (${why})`));
        }
        if (slot.ready && !this.#closing) this.#replace(why);
      });
    });
  }

  /** A worker died outside close(): start another so the pool keeps its size. */
  #replace(why: string): void {
    this.#spawn().catch((e: Error) => {
      if (this.#slots.length === 0) {
        const err = new InferenceBackendError(`crossgate: no inference worker is left for ${this.#init.modelPath} (last one died: ${why}; restart failed: ${e.message})`);
        for (const job of this.#queue.splice(0)) job.reject(err);
      }
    });
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.job || !slot.ready) continue;
      const job = this.#queue.shift()!;
      const id = this.#nextId++;
      slot.job = job;
      slot.jobId = id;
      try {
        const { msg, transfer } = detachable(job.input);
        slot.worker.ref();
        slot.worker.postMessage({ type: 'run', id, ...msg } satisfies RunRequest, transfer);
      } catch (e) {
        slot.job = null;
        slot.worker.unref();
        job.reject(new InferenceBackendError(`crossgate: could not send a batch to the inference worker: ${(e as Error).message}`));
      }
    }
  }
}
