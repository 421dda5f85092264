// What can go wrong talking to an outside retrieval engine, as one error class with a closed set of kinds,
// so the CLI prints one clear line and the server can report engine health without parsing messages.

/**
 * unreachable: nothing answers at the address (engine down, wrong host/port).
 * not_found:   the engine answers but the collection / table / database is not there.
 * dimension:   the stored vectors have another dimension than the bi-encoder's.
 * timeout:     the engine did not answer within timeout_ms.
 * invalid:     the URL or an option is wrong (caught before any request).
 * engine:      anything else the engine reported.
 */
export type RetrieverErrorKind = 'unreachable' | 'not_found' | 'dimension' | 'timeout' | 'invalid' | 'engine';

export class RetrieverError extends Error {
  readonly kind: RetrieverErrorKind;
  /** 'chroma' or 'postgres'. */
  readonly engine: string;

  constructor(engine: string, kind: RetrieverErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetrieverError';
    this.engine = engine;
    this.kind = kind;
  }
}

/** Default per-request deadline: long enough for a cold engine on a busy node, short enough that a hung one surfaces. */
export const DEFAULT_RETRIEVER_TIMEOUT_MS = 10_000;

/**
 * Runs `work` under a deadline and the caller's signal. The engine's client may keep its request going after
 * the deadline; the caller is released either way and gets a `timeout` error naming the limit and the fix.
 */
export async function withDeadline<T>(engine: string, what: string, timeoutMs: number, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw signal.reason;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new RetrieverError(engine, 'timeout', `${engine}: ${what} took longer than timeout_ms=${timeoutMs}; check the engine's load, or raise it (?timeout_ms=N in the retriever URL)`));
    }, timeoutMs);
    if (signal) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([work(), stop]);
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** A positive integer option from a retriever URL's query string. */
export function intParam(engine: string, url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RetrieverError(engine, 'invalid', `${engine} URL: ${name} is "${raw}"; expected a positive integer (default ${fallback})`);
  }
  return n;
}

/** The URL as shown in messages: no password. */
export function redact(url: URL): string {
  const u = new URL(url.href);
  if (u.password) u.password = '***';
  return u.href;
}
