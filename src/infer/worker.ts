// Worker-thread entry: owns one ORT InferenceSession, runs padded micro-batches sent by WorkerPool and
// answers with logits or pooled embeddings. ORT's run() blocks this thread, never the caller's.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { cudaLoadErrorMessage, isCudaLoadError, sessionOptionsFor } from './execution-providers.js';
import { poolHidden } from './pooling.js';
import type { FromWorker, ReadyMessage, RunRequest, ToWorker, WorkerInit } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('crossgate: src/infer/worker.js is a worker_threads entry; it cannot run on the main thread');
const init = workerData as WorkerInit;

/** The inputs crossgate knows how to feed; an export declaring anything else is rejected at load. */
const FEEDABLE = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function createSession(): Promise<{ session: ort.InferenceSession; ready: ReadyMessage }> {
  const settings = { intraOpNumThreads: init.intraOpNumThreads, interOpNumThreads: init.interOpNumThreads, executionProvider: init.executionProvider };
  let session: ort.InferenceSession;
  let fallbackReason: string | undefined;
  let providers = init.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
  try {
    session = await ort.InferenceSession.create(init.modelPath, sessionOptionsFor(settings));
  } catch (e) {
    const msg = describe(e);
    if (init.executionProvider !== 'cuda' || !isCudaLoadError(msg)) throw e;
    if (!init.cudaFallbackToCpu) throw new Error(cudaLoadErrorMessage(init.modelPath, msg));
    fallbackReason = msg;
    providers = ['cpu'];
    session = await ort.InferenceSession.create(init.modelPath, sessionOptionsFor({ ...settings, executionProvider: 'cpu' }));
  }
  const unknown = session.inputNames.filter((n) => !FEEDABLE.has(n));
  if (unknown.length > 0) {
    await session.release();
    throw new Error(`model ${init.modelPath} declares input(s) ${unknown.map((n) => `'${n}'`).join(', ')} that crossgate cannot feed; ` +
      `supported inputs are ${[...FEEDABLE].join(', ')}; re-export the model with the standard BERT inputs`);
  }
  if (!session.inputNames.includes('input_ids')) {
    await session.release();
    throw new Error(`model ${init.modelPath} has no 'input_ids' input (inputs: ${session.inputNames.join(', ')}); it is not a transformer encoder export`);
  }
  return { session, ready: { type: 'ready', inputNames: [...session.inputNames], outputNames: [...session.outputNames], executionProviders: providers, fallbackReason } };
}

/** Element type of each declared input: some exports take int32 ids. */
function inputTypes(session: ort.InferenceSession): Map<string, string> {
  const m = new Map<string, string>();
  session.inputNames.forEach((name, i) => {
    const meta = session.inputMetadata?.[i] as { isTensor?: boolean; type?: string } | undefined;
    m.set(name, meta && meta.isTensor && meta.type ? meta.type : 'int64');
  });
  return m;
}

function tensorFor(type: string, data: BigInt64Array, dims: number[]): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(data, (v) => Number(v)), dims);
  return new ort.Tensor('int64', data, dims);
}

// The same preference as model-dir.ts's LOGITS_OUTPUTS / EMBEDDING_OUTPUTS, which loadModelDir checks the
// file's declared outputs against; repeated here so a worker does not load model-dir and the hub code.
function pickOutput(names: readonly string[], preferred: string[]): string {
  for (const p of preferred) if (names.includes(p)) return p;
  return names[0];
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  let ready: ReadyMessage;
  try {
    ({ session, ready } = await createSession());
  } catch (e) {
    post({ type: 'init-error', message: describe(e) });
    port!.close();
    return;
  }
  const types = inputTypes(session);
  const task = init.task;
  const outputName = task.kind === 'logits'
    ? pickOutput(session.outputNames, ['logits', 'scores'])
    : pickOutput(session.outputNames, ['last_hidden_state', 'token_embeddings', 'sentence_embedding']);
  post(ready);

  const run = async (req: RunRequest): Promise<void> => {
    const dims = [req.batchSize, req.seqLen];
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const type = types.get(name) ?? 'int64';
      if (name === 'input_ids') feeds[name] = tensorFor(type, req.inputIds, dims);
      else if (name === 'attention_mask') feeds[name] = tensorFor(type, req.attentionMask, dims);
      else if (name === 'token_type_ids') feeds[name] = tensorFor(type, req.tokenTypeIds, dims);
      else if (name === 'position_ids') {
        const pos = new BigInt64Array(req.batchSize * req.seqLen);
        for (let i = 0; i < pos.length; i++) pos[i] = BigInt(i % req.seqLen);
        feeds[name] = tensorFor(type, pos, dims);
      }
    }
    const out = await session.run(feeds, [outputName]);
    const t = out[outputName];
    try {
      if (t.type !== 'float32') throw new Error(`output '${outputName}' is ${t.type}; crossgate expects float32 (export the model in fp32 or a quantized variant with float outputs)`);
      const raw = t.data as Float32Array;
      // NaN and ±Inf are both a broken model: an infinite logit would become probability 1 (or 0) and an
      // infinite hidden state NaN after pooling, so every surface gets the same backend error from here.
      for (let i = 0; i < raw.length; i++) {
        if (!Number.isFinite(raw[i])) {
          const row = Math.floor(i / (raw.length / req.batchSize));
          const value = Number.isNaN(raw[i]) ? 'NaN' : raw[i] > 0 ? '+Infinity' : '-Infinity';
          throw new Error(`model output '${outputName}' is ${value} in batch row ${row} (seqLen ${req.seqLen}); scores must be finite: the ONNX file or its quantization is broken`);
        }
      }
      if (task.kind === 'logits') {
        if (t.dims.length !== 2 || t.dims[0] !== req.batchSize || t.dims[1] !== task.numLabels) {
          throw new Error(`output '${outputName}' has shape [${t.dims.join(', ')}]; expected [${req.batchSize}, ${task.numLabels}] (config num_labels)`);
        }
        const data = Float32Array.from(raw);
        post({ type: 'result', id: req.id, data, cols: task.numLabels }, [data.buffer]);
      } else {
        let data: Float32Array;
        let dim: number;
        if (t.dims.length === 3 && t.dims[0] === req.batchSize && t.dims[1] === req.seqLen) {
          dim = t.dims[2];
          data = poolHidden(raw, req.batchSize, req.seqLen, dim, req.attentionMask, task.pooling, task.normalize);
        } else if (t.dims.length === 2 && t.dims[0] === req.batchSize) {
          // Already pooled by the export (sentence_embedding); only normalisation is left.
          dim = t.dims[1];
          data = poolHidden(raw, req.batchSize, 1, dim, null, 'cls', task.normalize);
        } else {
          throw new Error(`output '${outputName}' has shape [${t.dims.join(', ')}]; expected [${req.batchSize}, ${req.seqLen}, hidden] or [${req.batchSize}, hidden]`);
        }
        post({ type: 'result', id: req.id, data, cols: dim }, [data.buffer as ArrayBuffer]);
      }
    } finally {
      t.dispose?.();
    }
  };

  // Runs are serialised: the pool sends one at a time, and a queue keeps a stray second one safe.
  let chain: Promise<void> = Promise.resolve();
  port!.on('message', (msg: ToWorker) => {
    chain = chain.then(async () => {
      if (msg.type === 'close') {
        await session.release().catch(() => undefined);
        port!.close(); // lets the thread exit on its own; terminate() during a native run aborts the process
        return;
      }
      try {
        await run(msg);
      } catch (e) {
        post({ type: 'error', id: msg.id, message: describe(e) });
      }
    });
  });
}

void main().catch((e) => {
  // Never leave an exception uncaught in this thread: report it and exit cleanly.
  try { post({ type: 'init-error', message: describe(e) }); } catch { /* port already closed */ }
  port.close();
});
