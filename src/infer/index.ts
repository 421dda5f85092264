// The inference room's public surface: encoders, options, batch statistics and error types.
export { CrossEncoder, type CrossEncoderScores } from './cross-encoder.js';
export { BiEncoder, type Embeddings } from './bi-encoder.js';
export { type InferOptions, type ExecutionProvider, resolveInferOptions, DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_BATCH_ROWS, CUDA_BATCH_OVERHEAD_TOKENS } from './options.js';
export { type BatchStats, paddingWaste, planMicroBatches, DEFAULT_BATCH_OVERHEAD_TOKENS } from './batcher.js';
export { InferenceBackendError, InferenceClosedError } from './errors.js';
