// The one error type the hub code throws: a code a caller can branch on, and a message that names the
// repo, what went wrong, and what to do about it.

export type HubErrorCode =
  | 'repo_not_found'
  | 'revision_not_found'
  | 'entry_not_found'
  | 'gated'
  | 'unauthorized'
  | 'rate_limited'
  | 'server'
  | 'network'
  | 'protocol'
  | 'integrity'
  | 'offline'
  | 'not_cached'
  | 'no_onnx';

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly status: number | undefined;
  constructor(code: HubErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'HubError';
    this.code = code;
    this.status = opts.status;
  }
}

/** "connect ECONNREFUSED 127.0.0.1:9" from undici's "fetch failed" and its cause chain. */
export function networkReason(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 4; i++) {
    const err = cur as { message?: string; code?: string; cause?: unknown };
    const m = err.code && !String(err.message).includes(err.code) ? `${err.message} (${err.code})` : String(err.message ?? cur);
    if (m && m !== 'fetch failed' && !parts.includes(m)) parts.push(m);
    cur = err.cause;
  }
  return parts.join(': ') || 'fetch failed';
}
