// Messages between the WorkerPool (caller's thread) and worker.ts (one ORT session per worker thread).
// Tensors travel as transferred ArrayBuffers, never structured-clone copies.
import type { Pooling } from '../models/model-dir.js';

/** What the worker computes from the session's outputs. */
export type WorkerTask =
  | { kind: 'logits'; numLabels: number }                      // cross-encoder: [batch, numLabels]
  | { kind: 'embed'; pooling: Pooling; normalize: boolean };    // bi-encoder: pooled [batch, dim]

export interface WorkerInit {
  modelPath: string;
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionProvider: 'cpu' | 'cuda';
  cudaFallbackToCpu: boolean;
  task: WorkerTask;
}

export interface RunRequest {
  type: 'run';
  id: number;
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

export interface CloseRequest { type: 'close' }
export type ToWorker = RunRequest | CloseRequest;

export interface ReadyMessage {
  type: 'ready';
  inputNames: string[];
  outputNames: string[];
  /** Providers the session was created with (after any allowed CUDA fall back). */
  executionProviders: string[];
  /** Set when 'cuda' was asked, failed, and cudaFallbackToCpu allowed the CPU provider. */
  fallbackReason?: string;
}
export interface InitErrorMessage { type: 'init-error'; message: string }
export interface ResultMessage {
  type: 'result';
  id: number;
  /** Row-major [batchSize, cols]. */
  data: Float32Array;
  cols: number;
}
export interface RunErrorMessage { type: 'error'; id: number; message: string }
export type FromWorker = ReadyMessage | InitErrorMessage | ResultMessage | RunErrorMessage;
