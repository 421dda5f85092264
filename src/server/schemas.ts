// Every HTTP request and response shape, declared once with TypeBox: each declaration is at the same time
// the TypeScript type (Static<>), the compiled validator (validate.ts) and the OpenAPI component (openapi.ts).
// To add a route's shapes: add a request and a response declaration here, and name them in the route.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K } from '../pipeline/precision.js';

// ---------------------------------------------------------------------------------------------
// Request pieces shared by several routes. Descriptions say where each field comes from.
// ---------------------------------------------------------------------------------------------

const Truncate = Type.Optional(Type.Union([Type.Boolean(), Type.Null()], {
  title: 'true, false or null',
  description: 'Cut over-long inputs to the token limit (min of max_input_tokens and the model max length). Default: the server\'s auto_truncate. false + too long = 422 input_too_long.',
}));
const TruncationDirection = Type.Optional(Type.Union([Type.Literal('left'), Type.Literal('right'), Type.Literal('Left'), Type.Literal('Right')], {
  default: 'right',
  description: 'Which end of an over-long input is cut (TEI).',
}));
const MODEL_DOC = 'Name of a served model (see GET /info); omitted or null = the first one served.';
const Model = (what: string) => Type.Optional(Type.Union([Type.String(), Type.Null()], { title: 'a string or null', description: `${what}${MODEL_DOC}` }));
const Inputs = Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { title: 'a string or a non-empty array of strings' });
const PromptName = Type.Optional(Type.Null({ description: 'Not supported (no sentence-transformers prompts); must be absent or null.' }));

// ---------------------------------------------------------------------------------------------
// Requests (one per route body). Unknown keys are allowed: TEI/Cohere/OpenAI clients send extra fields.
// ---------------------------------------------------------------------------------------------

const teiRerankFields = {
  query: Type.String({ minLength: 1, examples: ['What is Deep Learning?'] }),
  texts: Type.Array(Type.String(), { minItems: 1, description: 'Passages to score; at most max_documents_per_request (413 batch_too_large).' }),
  truncate: Truncate,
  truncation_direction: TruncationDirection,
  raw_scores: Type.Optional(Type.Boolean({ default: false, description: 'Return the logit instead of the probability.' })),
  return_text: Type.Optional(Type.Boolean({ default: false, description: 'Echo each passage as `text`.' })),
  model: Model('crossgate extension: the cross-encoder to use. '),
};
export const TeiRerankRequest = Type.Object(teiRerankFields, { $id: 'TeiRerankRequest', examples: [{ query: 'What is Deep Learning?', texts: ['Deep Learning is ...', 'Bananas are yellow'] }] });

export const CohereRerankRequest = Type.Object({
  model: Model('Cross-encoder name (Cohere/Jina require it; crossgate accepts it missing). '),
  query: Type.String({ minLength: 1 }),
  documents: Type.Array(
    Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })], { title: 'a string or an object (structured document)' }),
    { minItems: 1, description: 'Strings, or objects ranked on rank_fields (default ["text"]); at most max_documents_per_request (413 batch_too_large).' },
  ),
  rank_fields: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: 'For object documents: the keys ranked on, each as "key: value" on its own line, in this order (Cohere v1 / Jina). Default ["text"].' })),
  top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'Return only the best N results (default: all).' })),
  max_tokens_per_doc: Type.Optional(Type.Integer({ minimum: 1, description: 'Each document is cut to this many tokens; the query is not cut by it (Cohere default 4096). The pair limit (min of max_input_tokens and the model max length) still applies and cuts the document further.' })),
  return_documents: Type.Optional(Type.Boolean({ default: false, description: 'Include the document per result ({text} for a string, the object as sent for an object). Default false, as Cohere documents it for v1 and v2.' })),
}, { $id: 'CohereRerankRequest', examples: [{ model: 'rerank', query: 'What is Deep Learning?', documents: ['Deep Learning is ...', { title: 'Bananas', text: 'Bananas are yellow' }], top_n: 1 }] });

const teiEmbedFields = {
  inputs: Inputs,
  truncate: Truncate,
  truncation_direction: TruncationDirection,
  normalize: Type.Optional(Type.Boolean({ default: true, description: 'L2-normalise each vector.' })),
  prompt_name: PromptName,
  model: Model('crossgate extension: the bi-encoder to use. '),
};
export const TeiEmbedRequest = Type.Object(teiEmbedFields, { $id: 'TeiEmbedRequest', examples: [{ inputs: ['What is Deep Learning?'] }] });

const Text = Type.String();
const Pair = Type.Array(Text, { minItems: 1, maxItems: 2, title: '[text] or [text, text_pair]' });
const teiPredictFields = {
  inputs: Type.Union([Text, Pair, Type.Array(Pair, { minItems: 1 })], {
    title: 'a pair [query, text], or a batch of pairs [[query, text], ...]',
    description: 'TEI\'s sequence-classification input. crossgate\'s cross-encoders score pairs: a single text (a string or [text]) is refused with 422.',
  }),
  truncate: Truncate,
  truncation_direction: TruncationDirection,
  raw_scores: Type.Optional(Type.Boolean({ default: false, description: 'The logit instead of the sigmoid / softmax probability.' })),
  model: Model('crossgate extension: the cross-encoder to use. '),
};
export const TeiPredictRequest = Type.Object(teiPredictFields, {
  $id: 'TeiPredictRequest', examples: [{ inputs: ['What is Deep Learning?', 'Deep Learning is a branch of machine learning.'] }, { inputs: [['q', 'a'], ['q', 'b']], raw_scores: true }],
});

const teiSimilarityFields = {
  inputs: Type.Object({
    source_sentence: Type.String({ examples: ['What is Deep Learning?'] }),
    sentences: Type.Array(Type.String(), { minItems: 1, examples: [['What is Machine Learning?']] }),
  }),
  parameters: Type.Optional(Type.Union([Type.Null(), Type.Object({
    truncate: Truncate,
    truncation_direction: TruncationDirection,
    prompt_name: PromptName,
  })], { title: 'null or {truncate, truncation_direction}' })),
  model: Model('crossgate extension: the bi-encoder to use. '),
};
export const TeiSimilarityRequest = Type.Object(teiSimilarityFields, {
  $id: 'TeiSimilarityRequest', examples: [{ inputs: { source_sentence: 'What is Deep Learning?', sentences: ['What is Machine Learning?'] } }],
});


export const TeiRootRequest = Type.Union([
  Type.Object(teiRerankFields, { title: 'rerank ({query, texts})' }),
  Type.Object(teiSimilarityFields, { title: 'similarity ({inputs: {source_sentence, sentences}})' }),
  Type.Object(teiEmbedFields, { title: 'embed ({inputs: text or texts}, when a bi-encoder is served)' }),
  Type.Object(teiPredictFields, { title: 'predict ({inputs: pair or pairs})' }),
], { $id: 'TeiRootRequest', title: 'a TEI /rerank, /similarity, /embed or /predict body' });

export const EMBEDDING_TYPES = ['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64'] as const;
export type EmbeddingType = typeof EMBEDDING_TYPES[number];
const EmbeddingTypes = Type.Array(
  Type.Union(EMBEDDING_TYPES.map((t) => Type.Literal(t))),
  { minItems: 1, description: 'float, int8/uint8 (scalar-quantised: round(v*127) / round((v+1)*127.5)), binary/ubinary (sign bits packed 8 per byte; binary = ubinary - 128; needs a dimension divisible by 8), base64 (little-endian float32).' },
);
const CohereTruncate = Type.Optional(Type.Union([Type.Literal('NONE'), Type.Literal('START'), Type.Literal('END')], {
  default: 'END', description: 'NONE = refuse over-long inputs (422 input_too_long), START = cut the start, END = cut the end.',
}));
const InputType = Type.Optional(Type.Union(['search_document', 'search_query', 'classification', 'clustering', 'image'].map((t) => Type.Literal(t)), {
  description: 'Accepted and recorded; crossgate\'s bi-encoders use no prompt per input type.',
}));
export const CohereEmbedV1Request = Type.Object({
  texts: Type.Array(Type.String(), { minItems: 1, description: 'At most max_documents_per_request (413 batch_too_large).' }),
  model: Model('Bi-encoder name. '),
  input_type: InputType,
  embedding_types: Type.Optional(EmbeddingTypes),
  truncate: CohereTruncate,
}, { $id: 'CohereEmbedV1Request', examples: [{ texts: ['hello', 'goodbye'], input_type: 'search_document' }] });
export const CohereEmbedV2Request = Type.Object({
  texts: Type.Array(Type.String(), { minItems: 1, description: 'At most max_documents_per_request (413 batch_too_large).' }),
  model: Model('Bi-encoder name (Cohere requires it; crossgate accepts it missing). '),
  input_type: InputType,
  embedding_types: Type.Optional(EmbeddingTypes),
  truncate: CohereTruncate,
  output_dimension: Type.Optional(Type.Integer({ minimum: 1, description: 'Must equal the model dimension when given.' })),
}, { $id: 'CohereEmbedV2Request', examples: [{ model: 'bi', texts: ['hello'], input_type: 'search_query', embedding_types: ['float', 'int8'] }] });

export const OpenAiEmbeddingsRequest = Type.Object({
  input: Inputs,
  model: Model('Bi-encoder name. '),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')], { default: 'float', description: 'base64 = little-endian float32 bytes, base64-encoded.' })),
  dimensions: Type.Optional(Type.Integer({ minimum: 1, description: 'Must equal the model dimension when given (no Matryoshka truncation).' })),
  user: Type.Optional(Type.String({ description: 'Accepted and ignored.' })),
}, { $id: 'OpenAiEmbeddingsRequest', examples: [{ input: ['hello'], model: 'bi', encoding_format: 'float' }] });

export const TokenizeRequest = Type.Object({
  inputs: Inputs,
  add_special_tokens: Type.Optional(Type.Boolean({ default: true })),
  prompt_name: PromptName,
  model: Model('crossgate extension: any served model (rerankers first). '),
}, { $id: 'TokenizeRequest' });

const SearchMode = Type.Optional(Type.Union([Type.Literal('dense'), Type.Literal('keyword'), Type.Literal('hybrid')], { description: 'The first retrieval\'s mode (default: the served retriever\'s first mode, see GET /info). A mode the served collection lacks is 422 naming what it supports.' }));

export const SearchRequest = Type.Object({
  query: Type.String({ minLength: 1 }),
  top_k: Type.Optional(Type.Integer({ minimum: 1, default: DEFAULT_TOP_K, description: 'Candidates to retrieve and rerank; at most max_documents_per_request.' })),
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_THRESHOLD, description: 'Minimum probability for a passage to be kept.' })),
  truncate: Truncate,
  fallback: Type.Optional(Type.Union([Type.Literal('keyword'), Type.Literal('hybrid'), Type.Literal('off')], { description: 'Second retrieval when nothing passes (default: the server\'s --fallback, keyword).' })),
  mode: SearchMode,
}, { $id: 'SearchRequest' });

export const AskRequest = Type.Object({
  query: Type.String({ minLength: 1 }),
  top_k: Type.Optional(Type.Integer({ minimum: 1, default: DEFAULT_TOP_K, description: 'Candidates to retrieve and rerank; at most max_documents_per_request.' })),
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_THRESHOLD, description: 'Minimum probability for a passage to be kept.' })),
  fallback: Type.Optional(Type.Union([Type.Literal('keyword'), Type.Literal('hybrid'), Type.Literal('off')], { description: 'Second retrieval when nothing passes (default: the server\'s --fallback, keyword).' })),
  truncate: Truncate,
  mode: SearchMode,
}, { $id: 'AskRequest' });
export type AskBody = Static<typeof AskRequest>;

export type TeiRerankBody = Static<typeof TeiRerankRequest>;
export type CohereRerankBody = Static<typeof CohereRerankRequest>;
export type TeiEmbedBody = Static<typeof TeiEmbedRequest>;
export type TeiPredictBody = Static<typeof TeiPredictRequest>;
export type TeiSimilarityBody = Static<typeof TeiSimilarityRequest>;
export type TeiRootBody = Static<typeof TeiRootRequest>;
export type CohereEmbedV1Body = Static<typeof CohereEmbedV1Request>;
export type CohereEmbedV2Body = Static<typeof CohereEmbedV2Request>;
export type OpenAiEmbeddingsBody = Static<typeof OpenAiEmbeddingsRequest>;
export type TokenizeBody = Static<typeof TokenizeRequest>;
export type SearchBody = Static<typeof SearchRequest>;

// ---------------------------------------------------------------------------------------------
// Responses: strict (additionalProperties false) so the OpenAPI test catches undocumented keys.
// ---------------------------------------------------------------------------------------------

const strict = { additionalProperties: false } as const;
const Int = Type.Integer();
const Num = Type.Number();
const Str = Type.String();
const Bool = Type.Boolean();

const Candidate = Type.Object({
  index: Type.Integer({ description: 'Retrieval rank (search) or input position (rerank).' }),
  id: Type.Optional(Type.String({ description: 'Document id in the collection.' })),
  text: Str,
  metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
  retrievalScore: Type.Union([Type.Number(), Type.Null()], { description: 'Cosine similarity from the bi-encoder.' }),
  logit: Num,
  probability: Num,
  truncated: Bool,
  kept: Bool,
  retriever: Type.Union([Type.String(), Type.Null()], { description: 'The retriever that found it; null for caller passages.' }),
  mode: Type.Union([Type.Literal('dense'), Type.Literal('keyword'), Type.Literal('hybrid'), Type.Null()], { description: 'How it was found; null for caller passages.' }),
  sources: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Its rank in each list (hybrid).' })),
}, strict);

const NullOr = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const PathStep = Type.Object({
  retriever: Str,
  mode: Type.Union([Type.Literal('dense'), Type.Literal('keyword'), Type.Literal('hybrid')]),
  role: Type.Union([Type.Literal('primary'), Type.Literal('fallback')]),
  status: Type.Union([Type.Literal('ran'), Type.Literal('unavailable'), Type.Literal('skipped')]),
  note: NullOr(Str), retrieved: Int, scored: Int, kept: Int, bestProbability: NullOr(Num), retrieveMs: Num, rerankMs: Num,
}, strict);

const LimitView = Type.Object({
  value: Type.Unknown(), default: Type.Unknown(), unit: Str, flag: Str, env: Str, reason: Str,
}, strict);

export const TeiRerankResponse = Type.Array(
  Type.Object({ index: Int, text: Type.Optional(Str), score: Type.Number({ description: 'Probability, or the logit with raw_scores.' }) }, strict),
  { description: 'Sorted by score, highest first.' },
);
export type TeiRerankReply = Static<typeof TeiRerankResponse>;

export const CohereRerankResponse = Type.Object({
  id: Type.String({ description: 'A UUID for this response.' }),
  results: Type.Array(
    Type.Object({
      index: Int,
      relevance_score: Type.Number({ description: 'Probability in [0, 1].' }),
      document: Type.Optional(Type.Object({}, { additionalProperties: true, description: '{text} for a string document; an object document as it was sent.' })),
    }, strict),
    { description: 'Sorted by relevance_score, highest first; top_n long when top_n is given.' },
  ),
  meta: Type.Object({
    api_version: Type.Object({ version: Str }, strict),
    billed_units: Type.Object({ search_units: Type.Integer({ description: 'ceil(documents / 100), as Cohere counts.' }) }, strict),
    tokens: Type.Object({ input_tokens: Int, output_tokens: Int }, strict),
  }, strict),
  model: Type.String({ description: 'The served cross-encoder that ranked (Jina shape).' }),
  usage: Type.Object({ total_tokens: Int }, strict),
}, strict);
export type CohereRerankReply = Static<typeof CohereRerankResponse>;

export const TeiEmbedResponse = Type.Array(Type.Array(Num), { description: 'One vector per input, in input order.' });

const Prediction = Type.Object({ score: Num, label: Str }, strict);
export const TeiPredictResponse = Type.Union([
  Type.Array(Prediction, { title: 'one input: its labels by score' }),
  Type.Array(Type.Array(Prediction), { title: 'a batch: one label list per pair' }),
], { description: 'TEI shape: per pair, every label with its score, highest first (LABEL_0 for a 1-logit model; LABEL_1 = the relevant class, LABEL_0 = 1 - p for a 2-logit model; raw_scores gives the relevant logit only).' });
export type TeiPrediction = Static<typeof Prediction>;

export const TeiSimilarityResponse = Type.Array(Num, { description: 'Cosine similarity of source_sentence to each sentence, in order (TEI).' });

const EmbeddingsByType = Type.Object({
  float: Type.Optional(Type.Array(Type.Array(Num))),
  int8: Type.Optional(Type.Array(Type.Array(Int))),
  uint8: Type.Optional(Type.Array(Type.Array(Int))),
  binary: Type.Optional(Type.Array(Type.Array(Int))),
  ubinary: Type.Optional(Type.Array(Type.Array(Int))),
  base64: Type.Optional(Type.Array(Str)),
}, strict);
const CohereEmbedMeta = Type.Object({
  api_version: Type.Object({ version: Str }, strict),
  billed_units: Type.Object({ input_tokens: Int }, strict),
}, strict);
export const CohereEmbedV1Response = Type.Object({
  id: Str,
  response_type: Type.Union([Type.Literal('embeddings_floats'), Type.Literal('embeddings_by_type')], { description: 'embeddings_floats (a list of vectors) without embedding_types, else embeddings_by_type.' }),
  embeddings: Type.Union([Type.Array(Type.Array(Num)), EmbeddingsByType]),
  texts: Type.Array(Str),
  meta: CohereEmbedMeta,
}, strict);
export const CohereEmbedV2Response = Type.Object({
  id: Str,
  response_type: Type.Literal('embeddings_by_type'),
  embeddings: EmbeddingsByType,
  texts: Type.Array(Str),
  meta: CohereEmbedMeta,
}, strict);
export type CohereEmbeddingsByType = Static<typeof EmbeddingsByType>;

export const TeiRootResponse = Type.Union([TeiRerankResponse, TeiSimilarityResponse, TeiEmbedResponse, TeiPredictResponse], {
  description: 'The answer of the route the body is for: /rerank, /similarity, /embed or /predict.',
});

export const OpenAiEmbeddingsResponse = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({
    object: Type.Literal('embedding'),
    index: Int,
    embedding: Type.Union([Type.Array(Num), Type.String({ description: 'base64 of little-endian float32' })]),
  }, strict)),
  model: Str,
  usage: Type.Object({ prompt_tokens: Int, total_tokens: Int }, strict),
}, strict);
export type OpenAiEmbeddingsReply = Static<typeof OpenAiEmbeddingsResponse>;

export const TokenizeResponse = Type.Array(
  Type.Array(Type.Object({
    id: Int, text: Str, special: Bool,
    start: Type.Union([Type.Integer(), Type.Null()]),
    stop: Type.Union([Type.Integer(), Type.Null()]),
  }, strict)),
  { description: 'One token list per input (TEI shape). start/stop are UTF-8 byte offsets into the input; null for special tokens.' },
);
export type TokenizeReply = Static<typeof TokenizeResponse>;

export const SearchResponse = Type.Object({
  query: Str,
  threshold: Num,
  outcome: Type.Union([Type.Literal('answer'), Type.Literal('answer_from_fallback'), Type.Literal('ambiguous'), Type.Literal('no_relevant')]),
  augment: Type.Boolean({ description: 'The collection lacks a confident answer (no_relevant, ambiguous).' }),
  reason: NullOr(Type.Object({ bestProbability: NullOr(Num), candidates: Int, retrievers: Type.Array(Str), summary: Str }, strict)),
  path: Type.Array(PathStep, { description: 'The retrievals, in order.' }),
  bestProbability: NullOr(Num),
  fallback: Type.Union([Type.Literal('keyword'), Type.Literal('hybrid'), Type.Literal('off')]),
  ambiguous: NullOr(Type.Object({ lower: Num, upper: Num }, strict)),
  gap: NullOr(Type.Object({ path: Str, kind: Type.Union([Type.Literal('gap'), Type.Literal('tally')]), recorded: Bool, error: NullOr(Str) }, strict)),
  kept: Type.Array(Candidate, { description: 'Passed the threshold, by probability.' }),
  dropped: Type.Array(Candidate, { description: 'Below the threshold, by probability.' }),
  candidates: Type.Array(Candidate, { description: 'Every candidate in retrieval order.' }),
  prompt: Type.Union([Type.String(), Type.Null()], { description: 'Grounded prompt from the kept passages; null when nothing passed.' }),
  message: Type.Union([Type.String(), Type.Null()]),
  timings: Type.Object({ retrieveMs: Num, rerankMs: Num, totalMs: Num }, strict),
}, strict);

const AskFinal = Type.Object({
  type: Type.Literal('final'),
  outcome: Type.Union([Type.Literal('answer'), Type.Literal('answer_from_fallback'), Type.Literal('ambiguous'), Type.Literal('no_relevant')]),
  generated: Type.Boolean({ description: 'True when the LLM wrote `text`; false for no_relevant and without an LLM.' }),
  text: Str,
  citations: Type.Array(Type.Object({ n: Int, id: NullOr(Str), index: Int, probability: Num, retriever: NullOr(Str) }, strict), { description: 'Each [n] the answer cites, mapped to kept[n-1].' }),
  unknownCitations: Type.Array(Int),
  prompt: NullOr(Str),
  model: NullOr(Str),
  finishReason: NullOr(Str),
  reason: NullOr(Str),
  timings: Type.Object({ firstTokenMs: NullOr(Num), generateMs: Num }, strict),
}, strict);

/** POST /ask without Accept: text/event-stream: the whole exchange in one object. */
export const AskResponse = Type.Object({
  decision: SearchResponse,
  final: NullOr(AskFinal),
  error: NullOr(Type.Object({ error: Str, error_type: Str, status: NullOr(Int), partialText: Str }, strict)),
}, strict);

export const GapsResponse = Type.Object({
  log: Str, exists: Bool, since: NullOr(Str),
  decisions: Type.Object({ total: Int, answer: Int, answer_from_fallback: Int, ambiguous: Int, no_relevant: Int }, strict),
  noResultRate: NullOr(Num), noAnswerRate: NullOr(Num), fallbackRate: NullOr(Num),
  groups: Type.Array(Type.Object({
    query: Str, variants: Type.Array(Str), count: Int, outcomes: Type.Object({}, { additionalProperties: Int }),
    bestProbability: NullOr(Num), topCandidates: Type.Array(Str), collections: Type.Array(Str), firstSeen: Str, lastSeen: Str,
  }, strict)),
  skippedLines: Int, firstSkippedLine: NullOr(Int), fuzzyGrouping: Bool,
}, strict);

export const HealthResponse = Type.Object({
  status: Type.Literal('ok'),
  phase: Type.Union(['loading', 'warming', 'ready', 'draining', 'closed'].map((p) => Type.Literal(p))),
}, strict);
export const ReadyResponse = Type.Object({
  status: Type.Literal('ready'),
  retriever: Type.Optional(Type.Object({
    engine: Type.Union([Type.Literal('chroma'), Type.Literal('postgres')]),
    url: Str,
    ok: Bool,
    error: Type.Union([Type.Null(), Type.Object({ kind: Str, message: Str }, strict)]),
    checked_at: Type.Union([Type.Null(), Str]),
  }, { ...strict, description: 'Health of serve --retriever: reported, not gating readiness (a replica without its retriever still reranks).' })),
}, strict);
export const InfoResponse = Type.Object({
  name: Str,
  version: Str,
  phase: Str,
  models: Type.Array(Type.Object({
    name: Str, kind: Type.Union([Type.Literal('cross-encoder'), Type.Literal('bi-encoder')]), dir: Str, max_length: Int,
    num_labels: Type.Optional(Int), activation: Type.Optional(Str), dim: Type.Optional(Int), pooling: Type.Optional(Str),
    normalize: Type.Optional(Bool), execution_providers: Type.Array(Str),
    calibration: Type.Optional(Type.Union([Type.Null(), Type.Object({
      method: Type.Union([Type.Literal('temperature'), Type.Literal('platt'), Type.Literal('isotonic')]),
      a: Type.Union([Type.Null(), Type.Number()]), b: Type.Union([Type.Null(), Type.Number()]),
      threshold: Type.Number(),
      threshold_rule: Type.Union([Type.Object({ target_precision: Type.Number() }, strict), Type.Object({ best_f1: Type.Literal(true) }, strict)]),
      pairs: Int, created_at: Str, path: Str,
    }, { ...strict, description: 'The calibration.json in force (crossgate calibrate): probability = expit(a·logit + b) or the isotonic map; its threshold is the default gate threshold.' })])),
    generated: Type.Boolean({ description: 'True for a model generated by crossgate (random weights: its scores are noise).' }),
  }, strict)),
  execution_providers: Type.Array(Str),
  collection: Type.Union([Type.Null(), Type.Object({ documents: Int, dim: Int, embedder: Str }, strict)]),
  limits: Type.Record(Type.String(), LimitView, { description: 'Every config field with its value (limitsInfo).' }),
  server: Str,
}, strict);
export const MetricsResponse = Type.String({ description: 'Prometheus text format 0.0.4.' });
export const OpenApiResponse = Type.Object({}, { additionalProperties: true });

/** The error body every route answers with on failure: exactly {error, error_type}. */
export function errorSchema(types: readonly string[]): TSchema {
  return Type.Object({
    error: Type.String({ description: 'What went wrong, the limit, and the fix.' }),
    error_type: Type.Unsafe<string>({ type: 'string', enum: [...types] }),
  }, strict);
}

/** Response components by the name the OpenAPI document gives them (#/components/schemas/<name>). */
export const RESPONSES = {
  TeiRerankResponse, CohereRerankResponse, TeiEmbedResponse, OpenAiEmbeddingsResponse, TokenizeResponse,
  TeiPredictResponse, TeiSimilarityResponse, TeiRootResponse, CohereEmbedV1Response, CohereEmbedV2Response,
  SearchResponse, AskResponse, GapsResponse, HealthResponse, ReadyResponse, InfoResponse, MetricsResponse, OpenApiResponse,
} as const;
export type ResponseName = keyof typeof RESPONSES;
