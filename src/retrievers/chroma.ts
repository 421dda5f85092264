// Dense retrieval from a Chroma server through the official `chromadb` client: crossgate's VectorEncoder embeds
// the query (and the documents at ingest), Chroma finds the nearest stored vectors, metadata filters pass through.
import { ChromaClient, ChromaConnectionError, ChromaNotFoundError, type Collection as ChromaCollection, type EmbeddingFunction, type Metadata, type Where } from 'chromadb';
import { unit, type CollectionDocument } from '../pipeline/collection.js';
import type { Embedder, RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from '../pipeline/ports.js';
import { DEFAULT_RETRIEVER_TIMEOUT_MS, intParam, RetrieverError, withDeadline } from './errors.js';
import type { IngestOptions, IngestResult, IngestTarget } from './ingest.js';

const ENGINE = 'chroma';
const DEFAULT_PORT = 8000;
/** Chroma's own rule for collection names, checked before any request. */
const COLLECTION_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$/;
/** Collection metadata crossgate writes at ingest, checked when a retriever opens the collection. */
const META_DIM = 'crossgate:dim';
const META_BI_ENCODER = 'crossgate:bi_encoder';
const META_BI_ENCODER_DIR = 'crossgate:bi_encoder_dir';
/** Chroma metadata values are flat scalars; a document whose metadata is not keeps all of it here as JSON. */
const META_JSON = 'crossgate:json';

/** What Chroma needs of a bi-encoder: a VectorEncoder, or the server's served Embedder. */
export type VectorEncoder = Pick<Embedder, 'dim' | 'embed' | 'modelName' | 'dir'>;

export interface ChromaTarget {
  host: string;
  port: number;
  collection: string;
  /** Per-request deadline (ms). */
  timeoutMs: number;
}

/** `chroma://host[:port]/collection[?timeout_ms=N]` -> its parts. */
export function parseChromaUrl(raw: string | URL): ChromaTarget {
  const url = typeof raw === 'string' ? new URL(raw) : raw;
  if (url.protocol !== 'chroma:') throw new RetrieverError(ENGINE, 'invalid', `"${url.href}" is not a chroma:// URL; expected chroma://host:port/collection`);
  const collection = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (collection.length === 0 || collection.includes('/')) {
    throw new RetrieverError(ENGINE, 'invalid', `chroma URL "${url.href}" names no collection; expected chroma://host:port/collection (e.g. chroma://127.0.0.1:8000/docs)`);
  }
  if (!COLLECTION_NAME.test(collection)) {
    throw new RetrieverError(ENGINE, 'invalid', `chroma URL: collection is "${collection}"; Chroma takes 3-512 characters from a-z A-Z 0-9 . _ -, starting and ending with a letter or digit`);
  }
  if (url.hostname.length === 0) throw new RetrieverError(ENGINE, 'invalid', `chroma URL "${url.href}" has no host; expected chroma://host:port/collection`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : DEFAULT_PORT,
    collection,
    timeoutMs: intParam(ENGINE, url, 'timeout_ms', DEFAULT_RETRIEVER_TIMEOUT_MS),
  };
}

function describe(t: ChromaTarget): string {
  return `chroma://${t.host}:${t.port}/${t.collection}`;
}

/** Maps a chromadb client error to a RetrieverError that says what to do. */
function mapError(t: ChromaTarget, e: unknown, encoderDim?: number): unknown {
  if (e instanceof RetrieverError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof ChromaConnectionError || /fetch failed|ECONNREFUSED|Failed to connect/i.test(msg)) {
    return new RetrieverError(ENGINE, 'unreachable', `Chroma at http://${t.host}:${t.port} is not reachable; start it (\`npx chroma run --path DIR --port ${t.port}\`) or fix the host/port in ${describe(t)}`, { cause: e });
  }
  if (e instanceof ChromaNotFoundError) {
    return new RetrieverError(ENGINE, 'not_found', `Chroma collection "${t.collection}" does not exist at http://${t.host}:${t.port}; load it with \`crossgate ingest --to ${describe(t)}\` or check the name`, { cause: e });
  }
  const dim = /expecting embedding with dimension of (\d+), got (\d+)/.exec(msg);
  if (dim) {
    return new RetrieverError(ENGINE, 'dimension', `Chroma collection "${t.collection}" holds ${dim[1]}-dimensional vectors; the bi-encoder gives ${encoderDim ?? dim[2]}; use the bi-encoder it was loaded with or ingest into a new collection`, { cause: e });
  }
  return new RetrieverError(ENGINE, 'engine', `Chroma ${describe(t)}: ${msg}`, { cause: e });
}

/** Chroma metadata: the scalar fields as themselves (filterable), the whole object as JSON when any field is not a scalar. */
export function toChromaMetadata(metadata: Record<string, unknown> | undefined): Metadata | null {
  if (metadata === undefined) return null;
  const out: Metadata = {};
  let flat = true;
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
    else if (v !== undefined) flat = false;
  }
  if (!flat) out[META_JSON] = JSON.stringify(metadata);
  return Object.keys(out).length > 0 ? out : null; // Chroma refuses an empty metadata object
}

export function fromChromaMetadata(m: Metadata | null | undefined): Record<string, unknown> | undefined {
  if (m === null || m === undefined) return undefined;
  const json = m[META_JSON];
  if (typeof json === 'string') return JSON.parse(json) as Record<string, unknown>;
  return { ...m };
}

/** RetrieveOptions.filter -> Chroma `where`: several equality fields become $and; an operator form passes as it is. */
export function toWhere(filter: Record<string, unknown> | undefined): Where | undefined {
  if (filter === undefined) return undefined;
  const keys = Object.keys(filter);
  if (keys.length === 0) return undefined;
  if (keys.length === 1 || keys.some((k) => k.startsWith('$'))) return filter as Where;
  return { $and: keys.map((k) => ({ [k]: filter[k] })) } as Where;
}

/**
 * Vectors reach Chroma as unit vectors, so every space ranks like the cosine; the score is the cosine
 * recovered from Chroma's distance: cosine and ip give 1 - d, l2 (squared) gives 1 - d/2.
 */
function scoreOf(space: string, distance: number): number {
  return space === 'l2' ? 1 - distance / 2 : 1 - distance;
}

function toNumbers(v: Float32Array): number[] {
  return Array.from(unit(v));
}

export class ChromaRetriever implements Retriever, IngestTarget {
  readonly name = ENGINE;
  readonly modes: readonly RetrievalMode[] = ['dense'];
  readonly target: ChromaTarget;
  readonly #encoder: VectorEncoder;
  readonly #client: ChromaClient;
  readonly #ef: EmbeddingFunction;
  #collection: ChromaCollection | undefined;

  private constructor(target: ChromaTarget, encoder: VectorEncoder) {
    this.target = target;
    this.#encoder = encoder;
    this.#client = new ChromaClient({ host: target.host, port: target.port });
    // Given so the client never reaches for its default embedding package; crossgate passes vectors itself.
    this.#ef = { generate: async (texts: string[]) => (await encoder.embed(texts)).map(toNumbers) };
  }

  /** A retriever over an existing collection (checked: reachable, present, same dimension as `encoder`). */
  static async open(url: string | URL | ChromaTarget, encoder: VectorEncoder): Promise<ChromaRetriever> {
    const r = new ChromaRetriever(typeof url === 'object' && 'collection' in url ? url : parseChromaUrl(url), encoder);
    await r.check();
    return r;
  }

  /** For ingest: opens the collection, creating it (cosine space, crossgate's bi-encoder recorded) when missing. */
  static async openForIngest(url: string | URL | ChromaTarget, encoder: VectorEncoder): Promise<ChromaRetriever> {
    const r = new ChromaRetriever(typeof url === 'object' && 'collection' in url ? url : parseChromaUrl(url), encoder);
    const t = r.target;
    r.#collection = await r.#call('opening the collection', undefined, () =>
      r.#client.getOrCreateCollection({
        name: t.collection,
        embeddingFunction: r.#ef,
        configuration: { hnsw: { space: 'cosine' } },
        metadata: { [META_DIM]: encoder.dim, [META_BI_ENCODER]: encoder.modelName, [META_BI_ENCODER_DIR]: encoder.dir },
      }),
    );
    await r.check();
    return r;
  }

  /** The bi-encoder directory recorded in a collection at ingest (search uses it when --bi-encoder is absent). */
  static async recordedBiEncoder(url: string | URL): Promise<string | undefined> {
    const t = parseChromaUrl(url);
    const client = new ChromaClient({ host: t.host, port: t.port });
    const ef: EmbeddingFunction = { generate: async () => { throw new Error('internal: no embedding here'); } };
    try {
      const c = await withDeadline(ENGINE, 'reading the collection', t.timeoutMs, undefined, () => client.getCollection({ name: t.collection, embeddingFunction: ef }));
      const dir = c.metadata?.[META_BI_ENCODER_DIR];
      return typeof dir === 'string' ? dir : undefined;
    } catch (e) {
      throw mapError(t, e);
    }
  }

  async #call<T>(what: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(ENGINE, `${what} (${describe(this.target)})`, this.target.timeoutMs, signal, work);
    } catch (e) {
      throw mapError(this.target, e, this.#encoder.dim);
    }
  }

  async #open(signal?: AbortSignal): Promise<ChromaCollection> {
    if (this.#collection) return this.#collection;
    const c = await this.#call('opening the collection', signal, () => this.#client.getCollection({ name: this.target.collection, embeddingFunction: this.#ef }));
    this.#collection = c;
    return c;
  }

  get space(): string {
    return this.#collection?.configuration.hnsw?.space ?? 'cosine';
  }

  /**
   * Health: the server answers, the collection exists, and its vectors have the bi-encoder's dimension
   * (from the metadata crossgate recorded, else from one stored vector). Returns the document count.
   */
  async check(signal?: AbortSignal): Promise<{ count: number; dim: number | null }> {
    const c = await this.#open(signal);
    const recorded = c.metadata?.[META_DIM];
    let dim: number | null = typeof recorded === 'number' ? recorded : null;
    const count = await this.#call('counting documents', signal, () => c.count());
    if (dim === null && count > 0) {
      const peek = await this.#call('reading one vector', signal, () => c.get({ limit: 1, include: ['embeddings'] }));
      dim = peek.embeddings[0]?.length ?? null;
    }
    if (dim !== null && dim !== this.#encoder.dim) {
      const by = typeof c.metadata?.[META_BI_ENCODER] === 'string' ? ` (embedded with "${String(c.metadata[META_BI_ENCODER])}")` : '';
      throw new RetrieverError(ENGINE, 'dimension', `Chroma collection "${this.target.collection}" holds ${dim}-dimensional vectors${by}; the bi-encoder "${this.#encoder.modelName}" gives ${this.#encoder.dim}; pass the bi-encoder it was loaded with (--bi-encoder) or ingest into a new collection`);
    }
    return { count, dim };
  }

  async retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]> {
    const mode = opts.mode ?? 'dense';
    if (mode !== 'dense') throw new RetrieverError(ENGINE, 'invalid', `mode is "${mode}"; the chroma retriever supports dense (use a postgres:// retriever for keyword)`);
    if (typeof query !== 'string' || query.trim().length === 0) throw new RangeError('query is empty; pass the text to search for');
    if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`k is ${opts.k}; expected a positive integer (e.g. 5)`);
    const c = await this.#open(opts.signal);
    const [vector] = await this.#encoder.embed([query], opts.signal ? { signal: opts.signal } : undefined);
    const where = toWhere(opts.filter);
    const res = await this.#call('query', opts.signal, () =>
      c.query({ queryEmbeddings: [toNumbers(vector)], nResults: opts.k, ...(where ? { where } : {}), include: ['documents', 'metadatas', 'distances'] }),
    );
    const space = this.space;
    const ids = res.ids[0] ?? [];
    return ids.map((id, i) => {
      const distance = res.distances[0]?.[i];
      const out: RetrievedCandidate = { id, text: res.documents[0]?.[i] ?? '', score: distance == null ? Number.NaN : scoreOf(space, distance) };
      const metadata = fromChromaMetadata(res.metadatas[0]?.[i]);
      if (metadata !== undefined) out.metadata = metadata;
      out.sources = { dense: { rank: i + 1, score: out.score } };
      return out;
    });
  }

  /**
   * Embeds and adds `docs` in batches; ids already in the collection are skipped (resume after an interrupted
   * run, or re-running the same file), never overwritten.
   */
  async ingest(docs: AsyncIterable<CollectionDocument[]>, opts: IngestOptions = {}): Promise<IngestResult> {
    const c = await this.#open();
    let added = 0;
    let skipped = 0;
    for await (const batch of docs) {
      const present = new Set((await this.#call('looking up ids', undefined, () => c.get({ ids: batch.map((d) => d.id), include: [] }))).ids);
      const fresh = batch.filter((d) => !present.has(d.id));
      skipped += batch.length - fresh.length;
      if (fresh.length > 0) {
        const vectors = await this.#encoder.embed(fresh.map((d) => d.text));
        await this.#call('adding documents', undefined, () =>
          c.add({
            ids: fresh.map((d) => d.id),
            embeddings: vectors.map(toNumbers),
            documents: fresh.map((d) => d.text),
            metadatas: fresh.map((d) => toChromaMetadata(d.metadata)) as Metadata[],
          }),
        );
        added += fresh.length;
      }
      opts.onProgress?.(added, skipped);
    }
    return { added, skipped };
  }

  async close(): Promise<void> {
    // The chromadb client holds no sockets of its own beyond fetch's keep-alive pool.
  }
}
