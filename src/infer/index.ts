// The inference room's public surface: encoders, the per-model scheduler, options, batch statistics and error types.
export { CrossEncoder, type CrossEncoderLoadOptions, type CrossEncoderScores } from './cross-encoder.js';
export { Calibration, loadCalibration, CALIBRATION_FILE, type CalibrationFile, type CalibrationMethodName } from './calibration.js';
export { BiEncoder, type Embeddings } from './bi-encoder.js';
export { Scheduler, type PartialResult, type RequestTimings, type ScheduleOptions, type BatchEvent, type SchedulerStats } from './scheduler.js';
export { type InferOptions, type LoadOptions, type ExecutionProvider, resolveInferOptions, DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_QUEUE_TOKENS, CUDA_BATCH_OVERHEAD_TOKENS } from './options.js';
export { type BatchStats, paddingWaste, planMicroBatches, DEFAULT_BATCH_OVERHEAD_TOKENS } from './batcher.js';
export { InferenceBackendError, InferenceClosedError, QueueFullError, RequestCancelledError } from './errors.js';
