// The library's public entry point: re-exports the typed classes from each room.
import type { ServerConfig } from './server/limits.js';
import type { RunningServer, ServedModels, StartOptions } from './server/server.js';

export { packageRoot } from './native.js';
export * from './tokenize/index.js';
export * from './index/index.js';
export { loadModelDir, ModelKindError, readOnnxOutputs, type LoadModelOptions, type ModelKind, type ModelSpec, type OnnxOutput, type Pooling } from './models/model-dir.js';
export * from './infer/index.js';
export {
  Collection,
  fuse,
  RRF_K,
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
  checkFallback,
  checkAmbiguous,
  coarseOutcome,
  DEFAULT_THRESHOLD,
  DEFAULT_TOP_K,
  DEFAULT_FALLBACK,
  FALLBACK_MODES,
  GATE_OUTCOMES,
  type AmbiguousBand,
  type AugmentReason,
  type CandidateBatchInfo,
  type DecisionRecorder,
  type FallbackMode,
  type GateCandidate,
  type GateDecision,
  type GateOptions,
  type GateOutcome,
  type PathStep,
  type PipelineOptions,
  type SearchOptions,
} from './pipeline/precision.js';
export {
  GapLog,
  GapLogError,
  readGapLog,
  defaultGapLogPath,
  type GapEntry,
  type GapLogContents,
  type GapLogOptions,
  type GapRecordStatus,
} from './pipeline/gaps.js';
export { buildGapReport, formatGapReport, parseDuration, type GapGroup, type GapReport } from './pipeline/gaps-report.js';
export * from './llm/index.js';
export type { ListRank, RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from './pipeline/ports.js';
export { AMBIGUOUS_MESSAGE, buildPrompt, NO_RELEVANT_MESSAGE, SYSTEM_MESSAGE, type PromptOptions, type PromptPassage } from './pipeline/prompt.js';

// Evaluation (trec_eval's metrics, BEIR collections, TREC run files, the gate sweep) and calibration fitting.
export {
  evaluateQuery,
  evaluateRun,
  rankLikeTrecEval,
  METRIC_NAMES,
  TREC_EVAL_NAMES,
  type Metrics,
  type MetricName,
  type Qrels,
  type Run,
  type RunEvaluation,
  type ScoredDoc,
} from './eval/metrics.js';
export { loadBeir, readCorpus, readQueries, readQrels, documentText, BeirFormatError, type BeirCollection, type BeirDocument, type BeirQuery } from './eval/beir.js';
export { readRun, writeRun, formatRun } from './eval/trec-run.js';
export { evaluate, type EvaluateOptions, type EvaluateResult, type EvalReranker } from './eval/evaluate.js';
export { gateSweep, type GateQuery, type GateRow, type GateSweep } from './eval/gate-sweep.js';
export {
  calibrate,
  fitCalibration,
  fitTemperature,
  fitPlatt,
  fitIsotonic,
  applyCalibration,
  chooseThreshold,
  thresholdCurve,
  logLoss,
  expectedCalibrationError,
  reliabilityBins,
  type CalibrationFit,
  type CalibrationMethod,
  type CalibrationReport,
  type ThresholdRule,
} from './eval/calibration.js';
export { pairsFromBeir, readPairs, type LabelledPair } from './eval/pairs.js';

// The WebSocket wire codec, so a JS client can speak both encodings of /ws: `encodeFrame(msg, 'binary')`
// for a flatbuffers frame (send it as binary), `decodeServerFrame(data, true)` for a binary reply.
export {
  encodeFrame,
  decodeServerFrame,
  decodeClientFrame,
  decodeFrame,
  encodeJson,
  decodeJson,
  encodeBinary,
  decodeBinary,
  validateMessage,
  WireError,
  FILE_IDENTIFIER,
  MAX_ID_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  CLIENT_MESSAGE_TYPES,
  SERVER_MESSAGE_TYPES,
  type AcceptedMessage,
  type CancelMessage,
  type CandidateHit,
  type CandidatesMessage,
  type ClientMessage,
  type DecodeOptions,
  type ErrorMessage,
  type FinalMessage,
  type FrameEncoding,
  type GateOutcome as WireGateOutcome,
  type PartialMessage,
  type RerankMessage,
  type ScoredPassage,
  type SearchMessage,
  type ServerMessage,
  type WireMessage,
  type WireMessageType,
} from './wire/codec.js';

// The server's config table (no uWS needed to read or parse it).
export {
  CONFIG_FIELDS,
  ConfigError,
  defaultConfig,
  parseServerConfig,
  limitsInfo,
  type ConfigKey,
  type ConfigSource,
  type ConfigSources,
  type FieldSpec as ConfigFieldSpec,
  type LimitView,
  type ParsedConfig,
  type ServerConfig,
} from './server/limits.js';
export type { ModelRef, RunningServer, ServedModels, StartOptions } from './server/server.js';
export type { WsHandle, WsStats } from './server/ws.js';
export type { ServerContext } from './server/context.js';

/**
 * Starts the crossgate server (src/server/server.ts): HTTP + WebSocket on uWS. Loaded on first call, so
 * importing the library does not load the uWS native module unless a server is started.
 */
export async function startServer(config: ServerConfig, models: ServedModels, opts?: StartOptions): Promise<RunningServer> {
  const server = await import('./server/server.js');
  return server.startServer(config, models, opts);
}
