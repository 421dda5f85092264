// Keyword retrieval from PostgreSQL full-text search with the `pg` client: a tsvector column (English
// configuration) kept by PostgreSQL itself, a GIN index, websearch_to_tsquery for the query, ts_rank_cd to rank.
// Dense retrieval through pgvector is not here: see README "Scaling out" for the plan.
import pg from 'pg';
import type { CollectionDocument } from '../pipeline/collection.js';
import type { RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from '../pipeline/ports.js';
import { DEFAULT_RETRIEVER_TIMEOUT_MS, intParam, redact, RetrieverError, withDeadline } from './errors.js';
import type { IngestOptions, IngestResult, IngestTarget } from './ingest.js';

const ENGINE = 'postgres';
export const DEFAULT_TABLE = 'crossgate_documents';
/** The text search configuration: stemming and stop words for English, as the README documents. */
const TS_CONFIG = 'english';
/** Connections per retriever: enough for a server's concurrent queries without hogging the database's slots. */
const POOL_SIZE = 4;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface PostgresTarget {
  /** The connection string handed to pg (our own parameters removed). */
  connectionString: string;
  /** For messages: the URL without a password. */
  shown: string;
  table: string;
  timeoutMs: number;
}

/** `postgres://user[:password]@host[:port]/db[?table=name&timeout_ms=N]` -> its parts. */
export function parsePostgresUrl(raw: string | URL): PostgresTarget {
  const url = typeof raw === 'string' ? new URL(raw) : new URL(raw.href);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new RetrieverError(ENGINE, 'invalid', `"${redact(url)}" is not a postgres:// URL; expected postgres://user@host:port/db[?table=name]`);
  }
  if (url.pathname.replace(/^\/+/, '').length === 0) {
    throw new RetrieverError(ENGINE, 'invalid', `postgres URL "${redact(url)}" names no database; expected postgres://user@host:port/db[?table=name]`);
  }
  const table = url.searchParams.get('table') ?? DEFAULT_TABLE;
  if (!TABLE_NAME.test(table)) {
    throw new RetrieverError(ENGINE, 'invalid', `postgres URL: table is "${table}"; expected a plain identifier (letters, digits, _; at most 63; default ${DEFAULT_TABLE})`);
  }
  const timeoutMs = intParam(ENGINE, url, 'timeout_ms', DEFAULT_RETRIEVER_TIMEOUT_MS);
  url.searchParams.delete('table');
  url.searchParams.delete('timeout_ms');
  const shown = redact(url);
  return { connectionString: url.href, shown, table, timeoutMs };
}

/** Maps a pg error to a RetrieverError that says what to do. */
function mapError(t: PostgresTarget, e: unknown): unknown {
  if (e instanceof RetrieverError) return e;
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? String(e);
  const code = err?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || /Connection terminated unexpectedly/.test(msg)) {
    return new RetrieverError(ENGINE, 'unreachable', `PostgreSQL at ${t.shown} is not reachable (${code ?? msg}); start it or fix the host/port in the URL`, { cause: e });
  }
  if (/timeout|timed out/i.test(msg) || code === '57014') {
    return new RetrieverError(ENGINE, 'timeout', `PostgreSQL at ${t.shown} did not answer within timeout_ms=${t.timeoutMs}; check the server's load, or raise it (?timeout_ms=N in the URL)`, { cause: e });
  }
  if (code === '3D000') return new RetrieverError(ENGINE, 'not_found', `PostgreSQL ${t.shown}: ${msg}; create the database (createdb) or fix the URL`, { cause: e });
  if (code === '42P01') {
    return new RetrieverError(ENGINE, 'not_found', `PostgreSQL ${t.shown}: table "${t.table}" does not exist; load it with \`crossgate ingest --to ${t.shown}${t.shown.includes('?') ? '&' : '?'}table=${t.table}\` or pass ?table=NAME`, { cause: e });
  }
  if (code === '42703') {
    return new RetrieverError(ENGINE, 'not_found', `PostgreSQL ${t.shown}: table "${t.table}" is not a crossgate table (${msg}); it needs columns id, text, metadata jsonb and tsv tsvector: create it with \`crossgate ingest\``, { cause: e });
  }
  if (code === '28P01' || code === '28000') return new RetrieverError(ENGINE, 'engine', `PostgreSQL ${t.shown} refused the login: ${msg}; fix the user/password in the URL`, { cause: e });
  return new RetrieverError(ENGINE, 'engine', `PostgreSQL ${t.shown}: ${msg}`, { cause: e });
}

export class PostgresRetriever implements Retriever, IngestTarget {
  readonly name = ENGINE;
  readonly modes: readonly RetrievalMode[] = ['keyword'];
  readonly target: PostgresTarget;
  readonly #pool: pg.Pool;
  readonly #table: string;

  private constructor(target: PostgresTarget) {
    this.target = target;
    this.#table = pg.escapeIdentifier(target.table);
    this.#pool = new pg.Pool({
      connectionString: target.connectionString,
      max: POOL_SIZE,
      connectionTimeoutMillis: target.timeoutMs,
      query_timeout: target.timeoutMs,
      idleTimeoutMillis: 30_000,
    });
    // An idle connection the server drops (restart, failover) must not take the process down; the next query reconnects.
    this.#pool.on('error', () => undefined);
  }

  /** A retriever over an existing table (checked: reachable, present, with the tsv column). */
  static async open(url: string | URL | PostgresTarget): Promise<PostgresRetriever> {
    const r = new PostgresRetriever(typeof url === 'object' && 'table' in url ? url : parsePostgresUrl(url));
    try {
      await r.check();
    } catch (e) {
      await r.close();
      throw e;
    }
    return r;
  }

  /** For ingest: creates the table and its GIN index when missing. */
  static async openForIngest(url: string | URL | PostgresTarget): Promise<PostgresRetriever> {
    const r = new PostgresRetriever(typeof url === 'object' && 'table' in url ? url : parsePostgresUrl(url));
    try {
      await r.#query('creating the table', `CREATE TABLE IF NOT EXISTS ${r.#table} (
        id text PRIMARY KEY,
        text text NOT NULL,
        metadata jsonb,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('${TS_CONFIG}', text)) STORED)`);
      await r.#query('creating the index', `CREATE INDEX IF NOT EXISTS ${pg.escapeIdentifier(r.target.table + '_tsv')} ON ${r.#table} USING GIN (tsv)`);
      await r.check();
    } catch (e) {
      await r.close();
      throw e;
    }
    return r;
  }

  async #query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = [], signal?: AbortSignal): Promise<pg.QueryResult<R>> {
    try {
      return await withDeadline(ENGINE, `${what} (${this.target.shown})`, this.target.timeoutMs, signal, () => this.#pool.query<R>(sql, params));
    } catch (e) {
      throw mapError(this.target, e);
    }
  }

  /** Health: the server answers and the table has crossgate's columns. Returns an estimate of the row count. */
  async check(signal?: AbortSignal): Promise<{ count: number }> {
    await this.#query('checking the table', `SELECT id, text, metadata, tsv FROM ${this.#table} LIMIT 0`, [], signal);
    const est = await this.#query<{ n: string }>('counting rows', `SELECT count(*)::text AS n FROM ${this.#table}`, [], signal);
    return { count: Number(est.rows[0]?.n ?? 0) };
  }

  /**
   * The k best rows by ts_rank_cd for websearch_to_tsquery(query) (ties by id, so the order is stable); only
   * rows matching the query come back, so fewer than k is normal. `filter` is a jsonb containment on metadata.
   */
  async retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]> {
    const mode = opts.mode ?? 'keyword';
    if (mode !== 'keyword') throw new RetrieverError(ENGINE, 'invalid', `mode is "${mode}"; the postgres retriever supports keyword (dense through pgvector is not built yet; use a chroma:// retriever)`);
    if (typeof query !== 'string' || query.trim().length === 0) throw new RangeError('query is empty; pass the text to search for');
    if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`k is ${opts.k}; expected a positive integer (e.g. 5)`);
    const params: unknown[] = [query, opts.k];
    let filterSql = '';
    if (opts.filter !== undefined && Object.keys(opts.filter).length > 0) {
      params.push(JSON.stringify(opts.filter));
      filterSql = ' AND d.metadata @> $3::jsonb';
    }
    const res = await this.#query<{ id: string; text: string; metadata: Record<string, unknown> | null; score: number }>(
      'query',
      `SELECT d.id, d.text, d.metadata, ts_rank_cd(d.tsv, q)::float8 AS score
         FROM ${this.#table} d, websearch_to_tsquery('${TS_CONFIG}', $1) q
        WHERE d.tsv @@ q${filterSql}
        ORDER BY score DESC, d.id ASC
        LIMIT $2`,
      params,
      opts.signal,
    );
    return res.rows.map((row, i) => {
      const out: RetrievedCandidate = { id: row.id, text: row.text, score: row.score, sources: { keyword: { rank: i + 1, score: row.score } } };
      if (row.metadata !== null) out.metadata = row.metadata;
      return out;
    });
  }

  /** Inserts each batch in one statement; ids already in the table are skipped (ON CONFLICT DO NOTHING), never overwritten. */
  async ingest(batches: AsyncIterable<CollectionDocument[]>, opts: IngestOptions = {}): Promise<IngestResult> {
    let added = 0;
    let skipped = 0;
    for await (const batch of batches) {
      const res = await this.#query(
        'adding documents',
        `INSERT INTO ${this.#table} (id, text, metadata)
         SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
         ON CONFLICT (id) DO NOTHING`,
        [batch.map((d) => d.id), batch.map((d) => d.text), batch.map((d) => (d.metadata === undefined ? null : JSON.stringify(d.metadata)))],
      );
      const n = res.rowCount ?? 0;
      added += n;
      skipped += batch.length - n;
      opts.onProgress?.(added, skipped);
    }
    return { added, skipped };
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }
}
