// The library's public entry point: re-exports the typed classes from each room.
export { packageRoot } from './native.js';
export * from './tokenize/index.js';
export * from './index/index.js';
export { loadModelDir, type LoadModelOptions, type ModelKind, type ModelSpec, type Pooling } from './models/model-dir.js';
export * from './infer/index.js';
export {
  Collection,
  type AddOptions,
  type CollectionDocument,
  type CollectionManifest,
  type CollectionOptions,
  type RetrievedDocument,
} from './pipeline/collection.js';
export {
  PrecisionPipeline,
  rerank,
  checkThreshold,
  DEFAULT_THRESHOLD,
  DEFAULT_TOP_K,
  type GateCandidate,
  type GateDecision,
  type GateOptions,
  type GateOutcome,
  type SearchOptions,
} from './pipeline/precision.js';
export { buildPrompt, NO_RELEVANT_MESSAGE, type PromptPassage } from './pipeline/prompt.js';
