// Outside retrieval engines behind the Retriever seam, chosen by URL: chroma://host:port/collection (dense,
// crossgate's bi-encoder embeds) or postgres://user@host:port/db?table=name (keyword, PostgreSQL full-text search).
import type { Collection, RetrievedDocument } from '../pipeline/collection.js';
import type { RetrieveOptions, RetrievalMode, Retriever } from '../pipeline/ports.js';
import { ChromaRetriever, parseChromaUrl, type VectorEncoder } from './chroma.js';
import { RetrieverError } from './errors.js';
import type { IngestTarget } from './ingest.js';
import { parsePostgresUrl, PostgresRetriever } from './postgres.js';

export { ChromaRetriever, parseChromaUrl, type VectorEncoder } from './chroma.js';
export { PostgresRetriever, parsePostgresUrl, DEFAULT_TABLE } from './postgres.js';
export { RetrieverError, DEFAULT_RETRIEVER_TIMEOUT_MS, type RetrieverErrorKind } from './errors.js';
export type { IngestOptions, IngestResult, IngestTarget } from './ingest.js';

/** A retriever that holds connections: close() releases them. */
export type OutsideRetriever = (ChromaRetriever | PostgresRetriever) & Retriever;

export type EngineKind = 'chroma' | 'postgres';

const EXPECTED = 'chroma://host:port/collection or postgres://user@host:port/db[?table=name]';

/** Which engine a retriever URL names; throws a RetrieverError naming the accepted forms otherwise. */
export function engineOf(raw: string): EngineKind {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RetrieverError('retriever', 'invalid', `retriever URL "${raw}" is not a URL; expected ${EXPECTED}`);
  }
  if (url.protocol === 'chroma:') return 'chroma';
  if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') return 'postgres';
  throw new RetrieverError('retriever', 'invalid', `retriever URL scheme "${url.protocol}" is not supported; expected ${EXPECTED}`);
}

/** Opens (and health-checks) the retriever a URL names. Chroma needs the bi-encoder that embedded its documents. */
export async function fromUrl(raw: string, opts: { biEncoder?: VectorEncoder } = {}): Promise<OutsideRetriever> {
  const engine = engineOf(raw);
  if (engine === 'chroma') {
    const target = parseChromaUrl(raw);
    if (!opts.biEncoder) throw new RetrieverError('chroma', 'invalid', `${raw}: a chroma retriever needs the bi-encoder its documents were embedded with; pass --bi-encoder DIR`);
    return ChromaRetriever.open(target, opts.biEncoder);
  }
  return PostgresRetriever.open(parsePostgresUrl(raw));
}

/** Opens the engine a URL names for loading documents, creating the collection / table when missing. */
export async function ingestTargetFromUrl(raw: string, opts: { biEncoder?: VectorEncoder } = {}): Promise<IngestTarget> {
  const engine = engineOf(raw);
  if (engine === 'chroma') {
    const target = parseChromaUrl(raw);
    if (!opts.biEncoder) throw new RetrieverError('chroma', 'invalid', `${raw}: loading into Chroma embeds the documents; pass --bi-encoder DIR`);
    return ChromaRetriever.openForIngest(target, opts.biEncoder);
  }
  return PostgresRetriever.openForIngest(parsePostgresUrl(raw));
}

/**
 * Any Retriever with a fixed mode and filter, in the shape PrecisionPipeline's `collection` option takes (it
 * reads `name`, `modes` and `retrieve`; `search(query, k)` serves callers of the older Collection shape).
 */
export function asPipelineSource(retriever: Retriever, opts: { mode?: RetrievalMode; filter?: Record<string, unknown> } = {}): Collection {
  const preset = (o: RetrieveOptions): RetrieveOptions => ({ ...o, ...(opts.mode ? { mode: opts.mode } : {}), ...(opts.filter ? { filter: opts.filter } : {}) });
  // A Retriever (what the decision flow takes) that also answers Collection.search (what older callers use).
  const source = {
    name: retriever.name,
    modes: opts.mode ? [opts.mode] : retriever.modes,
    retrieve: (query: string, o: RetrieveOptions) => retriever.retrieve(query, preset(o)),
    async search(query: string, k: number): Promise<RetrievedDocument[]> {
      const hits = await retriever.retrieve(query, preset({ k }));
      return hits.map((h) => {
        const d: RetrievedDocument = { id: h.id, text: h.text, score: h.score };
        if (h.metadata !== undefined) d.metadata = h.metadata;
        return d;
      });
    },
  };
  return source as unknown as Collection;
}
