// startServer: listens first (so /health and /ready answer during start-up), loads and warms the models,
// turns ready, and shuts down in order: stop accepting, drain in-flight work, close WebSockets with 1001,
// close the encoders (never exit while ONNX Runtime runs).
import { isGeneratedModel } from '../models/generated.js';
import { VERSION } from '../version.js';
import { setMaxListeners } from 'node:events';
import { timingSafeEqual, createHash } from 'node:crypto';
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import type { BatchEvent } from '../infer/scheduler.js';
import { Collection } from '../pipeline/collection.js';
import { asPipelineSource } from '../retrievers/index.js';
import { RetrieverLink } from '../retrievers/link.js';
import { resolve } from 'node:path';
import { PrecisionPipeline, type FallbackMode } from '../pipeline/precision.js';
import { defaultGapLogPath, GapLog } from '../pipeline/gaps.js';
import { OpenAiCompatibleLlm, type LlmClient, type LlmConfig } from '../llm/client.js';
import type { ServedEmbedder, ServedReranker, ServerContext, ServerPhase } from './context.js';
import { ApiError, fmt } from './errors.js';
import { registerHttp } from './http.js';
import { effectiveConfig, inferOptionsFor, limitsInfo, type ConfigSources, type ServerConfig } from './limits.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { App, closeAll, listen, UWS_PACKAGE, type Listening } from './uws.js';
import { registerWebSocket, type WsHandle } from './ws.js';

export interface ModelRef { name: string; dir: string }

export interface ServedModels {
  rerankers: ModelRef[];
  embedders: ModelRef[];
  /** A collection directory (crossgate index build); needs an embedder of the same dimension. */
  collection?: string | null;
  /** Run each model's quantized ONNX file. */
  quantized?: boolean;
  /**
   * Where /search retrieves from instead of a collection: chroma://host:port/collection (dense; embedded with
   * the first embedder) or postgres://user@host:port/db?table=name (keyword). Opened on first use and again
   * after a failure, so the server stays up while the engine is down; /ready and /metrics report its health.
   */
  retriever?: string | null;
  /** The search's fallback retrieval (default keyword, run only when the collection has that mode). */
  fallback?: FallbackMode;
  /** The gap log: a path; null turns it off; undefined: <collection>.gaps.jsonl. */
  gapLog?: string | null;
  /** The LLM for /ask; null or absent: /ask returns the decision and the prompt. */
  llm?: LlmConfig | null;
}

export interface StartOptions {
  /** Called once the port is bound, before the models load. */
  onListening?: (where: { host: string; port: number; url: string }) => void;
  /** Called as each model finishes loading. */
  onModel?: (m: { name: string; kind: 'cross-encoder' | 'bi-encoder'; dir: string; executionProviders: readonly string[] }) => void;
  /** The server turns ready only once this settles as well (for an embedding app's own warm-up). */
  readyGate?: Promise<unknown>;
  /** One line per event worth an operator's eye (HTTP and WS 5xx, shutdown steps). Default: stderr. */
  log?: (line: string) => void;
  /**
   * Where each config value came from (parseServerConfig's `sources`). workers/threads marked 'default'
   * are left to the inference room, which picks them for the execution provider (1 worker on cuda).
   * Without it every value in `config` is used as given.
   */
  sources?: Partial<ConfigSources>;
  /**
   * Aborts start-up: checked after each model load (a load in progress is not interrupted: ONNX Runtime
   * must not be torn down mid-load) and before the warm-up; startServer then closes what it opened and
   * rejects with the abort reason.
   */
  signal?: AbortSignal;
}

export interface RunningServer {
  ctx: ServerContext;
  host: string;
  port: number;
  url: string;
  ws: WsHandle;
  /**
   * Stop accepting, /ready 503, let in-flight requests finish within shutdown_grace_ms (then abort them),
   * close WebSockets with 1001, close the encoders. Idempotent; resolves when all of it is done.
   */
  shutdown(reason?: string): Promise<void>;
}

export { VERSION };

/** Retry-After (seconds) on the 503 of a request cut off when shutdown_grace_ms runs out. */
export const SHUTDOWN_RETRY_AFTER_S = 1;

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The ServerContext of one running server. */
class ServerState implements ServerContext {
  readonly config: ServerConfig;
  readonly metrics: ServerMetrics;
  readonly rerankers = new Map<string, ServedReranker>();
  readonly embedders = new Map<string, ServedEmbedder>();
  collection: Collection | null = null;
  retriever: RetrieverLink | null = null;
  pipeline: PrecisionPipeline | null = null;
  gapLog: GapLog | null = null;
  llm: LlmClient | null = null;
  phase: ServerPhase = 'loading';
  readonly inflight = new Set<Promise<unknown>>();
  admitted = 0;
  readonly #keyDigest: Buffer | null;

  constructor(config: ServerConfig, metrics: ServerMetrics) {
    this.config = config;
    this.metrics = metrics;
    this.#keyDigest = config.apiKey === null ? null : sha(config.apiKey);
  }

  reranker(name?: string | null): ServedReranker {
    if (name === undefined || name === null) {
      const first = this.rerankers.values().next();
      if (first.done) throw new ApiError('not_ready', 'no cross-encoder is loaded yet; retry after the Retry-After delay');
      return first.value;
    }
    const m = this.rerankers.get(name);
    if (!m) {
      throw new ApiError('validation', `model "${name}" is not a served cross-encoder; served: ${[...this.rerankers.keys()].map((n) => `"${n}"`).join(', ')}; pass one of them or leave model out for the first`, { field: 'model' });
    }
    return m;
  }

  embedder(name?: string | null): ServedEmbedder {
    if (this.embedders.size === 0) {
      throw new ApiError('validation', 'no bi-encoder is served, so there is nothing to embed with; start `crossgate serve` with --embedder NAME=DIR', { field: 'model' });
    }
    if (name === undefined || name === null) return this.embedders.values().next().value as ServedEmbedder;
    const m = this.embedders.get(name);
    if (!m) {
      throw new ApiError('validation', `model "${name}" is not a served bi-encoder; served: ${[...this.embedders.keys()].map((n) => `"${n}"`).join(', ')}; pass one of them or leave model out for the first`, { field: 'model' });
    }
    return m;
  }

  checkServing(): void {
    if (this.phase === 'ready') return;
    if (this.phase === 'loading' || this.phase === 'warming') {
      throw new ApiError('not_ready', `the server is ${this.phase === 'loading' ? 'loading its models' : 'warming up its models'}; retry after the Retry-After delay, or poll GET /ready until it answers 200`);
    }
    throw new ApiError('draining', 'the server is shutting down and takes no new requests; send it to another instance or retry once this one is restarted');
  }

  checkAuth(authorization: string | undefined): void {
    if (this.#keyDigest === null) return;
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) {
      throw new ApiError('unauthorized', authorization ? 'the Authorization header is not "Bearer <key>"; send Authorization: Bearer <your api key>' : 'this server needs an API key; send Authorization: Bearer <key> (every route except /health)');
    }
    // Compare digests in constant time: neither the key's length nor its prefix leaks through timing.
    if (!timingSafeEqual(sha(m[1]), this.#keyDigest)) throw new ApiError('unauthorized', 'the API key in Authorization: Bearer is not valid; check the key the server was started with (CROSSGATE_API_KEY)');
  }

  admit(): () => void {
    const max = this.config.maxConcurrentRequests;
    if (this.admitted >= max) {
      throw new ApiError('overloaded', `requests in flight is ${fmt(this.admitted)}; max_concurrent_requests is ${fmt(max)}; retry after the Retry-After delay, or raise --max-concurrent-requests`);
    }
    this.admitted++;
    this.metrics.inflight.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admitted--;
      this.metrics.inflight.dec();
    };
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const done = (): void => { this.inflight.delete(work); };
    work.then(done, done);
    return work;
  }

  /** Every served model's encoder, for closing. */
  encoders(): { close(): Promise<void> }[] {
    return [...[...this.rerankers.values()].map((m) => m.encoder), ...[...this.embedders.values()].map((m) => m.encoder)];
  }
}

function checkNames(models: ServedModels): void {
  if (models.rerankers.length === 0) throw new Error('at least one cross-encoder is needed; pass --reranker NAME=DIR');
  const seen = new Set<string>();
  for (const m of [...models.rerankers, ...models.embedders]) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(m.name)) {
      throw new Error(`model name "${m.name}" is not valid; use letters, digits and . _ : / - (it is what clients pass as "model")`);
    }
    if (seen.has(m.name)) throw new Error(`model name "${m.name}" is used twice; give each --reranker/--embedder its own NAME`);
    seen.add(m.name);
  }
}

/** Observes one finished micro-batch in the batch histograms and token counters. */
function batchObserver(metrics: ServerMetrics, model: string): (b: BatchEvent) => void {
  return (b) => {
    metrics.batchSize.observe({ model }, b.rows);
    metrics.batchTokens.observe({ model }, b.paddedTokens);
    if (b.realTokens > 0) metrics.paddingWaste.observe({ model }, b.paddedTokens / b.realTokens - 1);
    metrics.tokens.inc({ model, kind: 'real' }, b.realTokens);
    metrics.tokens.inc({ model, kind: 'padded' }, b.paddedTokens);
  };
}

function modelInfo(m: ServedReranker | ServedEmbedder): Record<string, unknown> {
  const e = m.encoder;
  // e.dir is the folder that was loaded (a hub repo id shows as its cache snapshot).
  const base: Record<string, unknown> = { name: m.name, kind: m.kind, dir: e.dir, max_length: e.maxLength };
  // calibration.json in force (`crossgate calibrate`): method, a, b, threshold, data size and date; null for the raw expit.
  if (m.kind === 'cross-encoder') Object.assign(base, { num_labels: m.encoder.numLabels, activation: m.encoder.activation, calibration: m.encoder.calibration?.describe() ?? null });
  else Object.assign(base, { dim: m.encoder.dim, pooling: m.encoder.pooling, normalize: m.encoder.normalizes });
  base.execution_providers = [...m.encoder.executionProviders];
  base.generated = isGeneratedModel(e.dir);
  return base;
}

export async function startServer(requested: ServerConfig, models: ServedModels, opts: StartOptions = {}): Promise<RunningServer> {
  checkNames(models);
  if (models.collection && models.embedders.length === 0) {
    throw new Error('a collection needs the bi-encoder it was built with; pass --embedder NAME=DIR');
  }
  if (models.collection && models.retriever) {
    throw new Error('--collection and --retriever both name where /search retrieves from; pass one');
  }
  const inferOptions = inferOptionsFor(requested, opts.sources, models.quantized === true);
  // From here on the config holds what runs (workers/threads as the encoders resolve them): /info shows it.
  const config = effectiveConfig(requested, inferOptions);
  const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  const metrics = createServerMetrics();
  const state = new ServerState(config, metrics);
  const shutdownController = new AbortController();
  // Every in-flight HTTP request listens on it: thousands of listeners are expected, not a leak.
  setMaxListeners(0, shutdownController.signal);

  const app = App();
  const info = (): unknown => {
    const all = [...state.rerankers.values(), ...state.embedders.values()];
    return {
      name: 'crossgate',
      version: VERSION,
      phase: state.phase,
      models: all.map(modelInfo),
      execution_providers: [...new Set(all.flatMap((m) => [...m.encoder.executionProviders]))],
      collection: state.collection
        ? { documents: state.collection.size, dim: state.collection.dim, embedder: [...state.embedders.values()][0].name }
        : null,
      limits: limitsInfo(config),
      server: UWS_PACKAGE,
    };
  };
  registerHttp(app, { ctx: state, shutdownSignal: shutdownController.signal, info, version: VERSION, log });
  const ws = registerWebSocket(app, state, log);

  let listening: Listening;
  try {
    listening = await listen(app, config.host, config.port);
  } catch (e) {
    closeAll(app);
    throw e;
  }
  const urlHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${urlHost}:${listening.port}`;
  opts.onListening?.({ host: config.host, port: listening.port, url });

  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('start-up was cancelled');
  };
  try {
    checkAbort();
    for (const m of models.rerankers) {
      const encoder = await CrossEncoder.load(m.dir, inferOptions);
      state.rerankers.set(m.name, { name: m.name, kind: 'cross-encoder', dir: encoder.spec.dir, encoder });
      opts.onModel?.({ name: m.name, kind: 'cross-encoder', dir: encoder.spec.dir, executionProviders: encoder.executionProviders });
      checkAbort();
    }
    for (const m of models.embedders) {
      const encoder = await BiEncoder.load(m.dir, inferOptions);
      state.embedders.set(m.name, { name: m.name, kind: 'bi-encoder', dir: encoder.spec.dir, encoder });
      opts.onModel?.({ name: m.name, kind: 'bi-encoder', dir: encoder.spec.dir, executionProviders: encoder.executionProviders });
      checkAbort();
    }
    if (models.collection) {
      const embedder = [...state.embedders.values()][0];
      state.collection = await Collection.load(models.collection, embedder.encoder);
      state.gapLog = models.gapLog === null ? null : new GapLog(models.gapLog ?? defaultGapLogPath(models.collection));
      state.pipeline = new PrecisionPipeline({
        collection: state.collection, crossEncoder: state.reranker(null).encoder, gapLog: state.gapLog, collectionLabel: resolve(models.collection),
        ...(models.fallback ? { fallback: models.fallback } : {}),
      });
    }
    if (models.retriever) {
      const embedder = [...state.embedders.values()][0];
      const link = new RetrieverLink(models.retriever, embedder ? { biEncoder: embedder.encoder } : {});
      link.onError = (kind) => metrics.retrieverErrors.inc({ engine: link.name, kind });
      state.retriever = link;
      state.pipeline = new PrecisionPipeline({ collection: asPipelineSource(link), crossEncoder: state.reranker(null).encoder });
      // Checked once now for the log; a failure does not stop the server (the engine may come up later).
      const h = await link.check();
      log(h.ok ? `crossgate: retriever ${h.engine} ${h.url} answers` : `crossgate: retriever ${h.engine} ${h.url} is not usable yet (${h.error?.kind}): ${h.error?.message}`);
    }
    if (models.llm) state.llm = new OpenAiCompatibleLlm(models.llm);

    checkAbort();
    // The largest micro-batches once per worker of every model (see LoadedModel.warmUp): the first client
    // does not pay for lazy allocations, and resident memory is at its plateau before traffic starts.
    state.phase = 'warming';
    for (const m of [...state.rerankers.values(), ...state.embedders.values()]) await m.encoder.warmUp();
    if (opts.readyGate) await opts.readyGate;
  } catch (e) {
    state.phase = 'closed';
    listening.close();
    await Promise.allSettled([...state.encoders().map((enc) => enc.close()), state.retriever?.close()]);
    closeAll(app);
    throw e;
  }

  // Metrics hooks go on after the warm-up so the histograms show client traffic only.
  for (const m of [...state.rerankers.values(), ...state.embedders.values()]) {
    m.encoder.queue.onBatch = batchObserver(metrics, m.name);
  }
  const served = (): [string, { queuedRows: number; queuedTokens: number }][] =>
    [...state.rerankers.values(), ...state.embedders.values()].map((m) => [m.name, m.encoder.queue]);
  metrics.queueSize.collect((g) => { for (const [model, s] of served()) g.set({ model }, s.queuedRows); });
  metrics.queueTokens.collect((g) => { for (const [model, s] of served()) g.set({ model }, s.queuedTokens); });
  metrics.retrieverUp.collect((g) => { if (state.retriever) g.set({ engine: state.retriever.name }, state.retriever.health.ok ? 1 : 0); });
  if (state.phase === 'warming') state.phase = 'ready';

  let shutdownPromise: Promise<void> | null = null;
  const shutdown = (reason = 'shutdown requested'): Promise<void> => {
    shutdownPromise ??= (async () => {
      state.phase = 'draining';
      listening.close();
      const grace = config.shutdownGraceMs;
      const accepted = state.inflight.size;
      log(`crossgate: ${reason}; draining ${accepted} in-flight request(s) (shutdown_grace_ms ${fmt(grace)})`);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), grace); });
      const drained = (async () => { while (state.inflight.size > 0) await Promise.allSettled([...state.inflight]); return 'drained' as const; })();
      const outcome = await Promise.race([drained, graceOver]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        const cut = state.inflight.size;
        log(`crossgate: shutdown_grace_ms (${fmt(grace)} ms) ran out: ${fmt(Math.max(0, accepted - cut))} of ${fmt(accepted)} request(s) in flight at the start finished; ` +
          `cancelling the ${fmt(cut)} still running: they are answered 503 draining with Retry-After ${SHUTDOWN_RETRY_AFTER_S} s (raise --shutdown-grace-ms to let more finish)`);
        // A retryable answer: the request was fine, this instance is going away; another one (or this one restarted) can take it.
        shutdownController.abort(new ApiError('draining',
          `the server is shutting down and shutdown_grace_ms (${fmt(grace)} ms) ran out before this request finished; retry it on another instance or after the restart`,
          { retryAfterS: SHUTDOWN_RETRY_AFTER_S }));
      } else {
        log(`crossgate: drained: all ${fmt(accepted)} request(s) in flight at the start finished within shutdown_grace_ms`);
      }
      ws.closeAll(1001, 'server shutting down');
      // Cancelled work settles quickly (its pending rows are dropped); give it a moment to answer.
      await Promise.race([Promise.allSettled([...state.inflight]), new Promise((r) => setTimeout(r, 1000).unref())]);
      closeAll(app);
      await Promise.allSettled([...state.encoders().map((enc) => enc.close()), state.retriever?.close()]);
      // The buffered answer tallies go to the gap log before the process ends.
      await state.gapLog?.close().catch((e: unknown) => log(`crossgate: gap log: ${(e as Error).message}`));
      state.phase = 'closed';
    })();
    return shutdownPromise;
  };

  return { ctx: state, host: config.host, port: listening.port, url, ws, shutdown };
}
