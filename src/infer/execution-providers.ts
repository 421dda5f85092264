// Maps InferOptions onto ORT session options and turns a CUDA load failure into an error that says
// how to install ORT's CUDA binaries (onnxruntime-node ships them separately from the npm package).
import type { InferenceSession } from 'onnxruntime-node';

export interface SessionSettings {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionProvider: 'cpu' | 'cuda';
}

export function sessionOptionsFor(s: SessionSettings): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: s.intraOpNumThreads,
    // Encoder graphs are one chain of ops; inter-op parallelism only adds thread wake-ups.
    interOpNumThreads: s.interOpNumThreads,
    graphOptimizationLevel: 'all',
    executionProviders: s.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
  };
}

/** How to get the CUDA provider: onnxruntime-node's install script fetches it unless told to skip. */
export const CUDA_INSTALL_HINT =
  "install ONNX Runtime's CUDA binaries with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` " +
  '(or reinstall without ONNXRUNTIME_NODE_INSTALL_CUDA=skip / --onnxruntime-node-install=skip), ' +
  'make the CUDA 12 and cuDNN 9 runtime libraries visible on LD_LIBRARY_PATH, ' +
  "or pass executionProvider: 'cpu' (cudaFallbackToCpu: true falls back automatically)";

/** True when an ORT session-creation error comes from loading the CUDA provider. */
export function isCudaLoadError(message: string): boolean {
  return /cuda|providers_shared|cudnn|cublas/i.test(message);
}

export function cudaLoadErrorMessage(modelPath: string, ortMessage: string): string {
  return `crossgate: executionProvider 'cuda' could not be loaded for ${modelPath}: the CUDA binaries are missing or unusable ` +
    `(ONNX Runtime said: ${ortMessage.trim()}); ${CUDA_INSTALL_HINT}`;
}
