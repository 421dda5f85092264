// A retriever a long-running process (the server) holds by URL: opened on first use and again after a
// failure, so an engine that is down at start or restarts later does not take the process down; every
// success or failure is recorded, for /ready and /metrics.
import type { RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from '../pipeline/ports.js';
import type { VectorEncoder } from './chroma.js';
import { RetrieverError, redact, type RetrieverErrorKind } from './errors.js';
import { engineOf, fromUrl, type EngineKind, type OutsideRetriever } from './index.js';

export interface RetrieverHealth {
  engine: EngineKind;
  /** The URL without a password. */
  url: string;
  ok: boolean;
  /** The last failure's kind and message (null after a success). */
  error: { kind: RetrieverErrorKind; message: string } | null;
  /** When the engine last answered or failed (ms since the epoch); null before the first attempt. */
  checkedAt: number | null;
}

/** How long a health answer is reused: readiness probes every few seconds should not each query the engine. */
const CHECK_REUSE_MS = 1000;

export class RetrieverLink implements Retriever {
  readonly name: EngineKind;
  readonly modes: readonly RetrievalMode[];
  readonly #url: string;
  readonly #encoder: VectorEncoder | undefined;
  #retriever: OutsideRetriever | null = null;
  #opening: Promise<OutsideRetriever> | null = null;
  #health: RetrieverHealth;
  /** Called after each failure (the server counts them by kind). */
  onError?: (kind: RetrieverErrorKind) => void;

  constructor(url: string, opts: { biEncoder?: VectorEncoder } = {}) {
    this.name = engineOf(url);
    this.modes = this.name === 'chroma' ? ['dense'] : ['keyword'];
    if (this.name === 'chroma' && !opts.biEncoder) throw new RetrieverError('chroma', 'invalid', `${url}: a chroma retriever needs the bi-encoder its documents were embedded with; serve one with --embedder`);
    this.#url = url;
    this.#encoder = opts.biEncoder;
    let shown = url;
    try { shown = redact(new URL(url)); } catch { /* engineOf accepted it, so it parses */ }
    this.#health = { engine: this.name, url: shown, ok: false, error: null, checkedAt: null };
  }

  get health(): RetrieverHealth {
    return { ...this.#health, error: this.#health.error && { ...this.#health.error } };
  }

  #record(e: unknown): never {
    const kind = e instanceof RetrieverError ? e.kind : 'engine';
    const message = e instanceof Error ? e.message : String(e);
    this.#health = { ...this.#health, ok: false, error: { kind, message }, checkedAt: Date.now() };
    this.onError?.(kind);
    throw e;
  }

  #ok(): void {
    this.#health = { ...this.#health, ok: true, error: null, checkedAt: Date.now() };
  }

  async #open(): Promise<OutsideRetriever> {
    if (this.#retriever) return this.#retriever;
    this.#opening ??= fromUrl(this.#url, this.#encoder ? { biEncoder: this.#encoder } : {}).finally(() => { this.#opening = null; });
    this.#retriever = await this.#opening;
    return this.#retriever;
  }

  /** Asks the engine (at most once a second) whether the collection/table is there and usable. */
  async check(): Promise<RetrieverHealth> {
    const h = this.#health;
    if (h.checkedAt !== null && Date.now() - h.checkedAt < CHECK_REUSE_MS) return this.health;
    try {
      const r = await this.#open();
      await r.check();
      this.#ok();
    } catch (e) {
      await this.#drop();
      try { this.#record(e); } catch { /* recorded */ }
    }
    return this.health;
  }

  async retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]> {
    try {
      const hits = await (await this.#open()).retrieve(query, opts);
      this.#ok();
      return hits;
    } catch (e) {
      // A caller's mistake (bad k, an aborted request) says nothing about the engine.
      if (!(e instanceof RetrieverError) || e.kind === 'invalid') throw e;
      if (e.kind === 'unreachable' || e.kind === 'timeout') await this.#drop();
      return this.#record(e);
    }
  }

  /** Forgets the open retriever so the next call connects afresh (after the engine went away). */
  async #drop(): Promise<void> {
    const r = this.#retriever;
    this.#retriever = null;
    await r?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#drop();
  }
}
