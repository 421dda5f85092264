// Checks the transport runs on untrusted bytes before the expensive step, and the scrub that keeps
// server-side details out of what a client is sent. Pure functions: no uWS, no config.
import { ApiError } from './errors.js';

const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c;

/**
 * The deepest nesting of objects/arrays in JSON text, counted by one linear scan of the bytes (brackets
 * inside strings do not count), stopping as soon as `limit` is passed. Returns the depth reached, which is
 * `limit + 1` when the text nests deeper than `limit`. It does not validate the JSON: JSON.parse still
 * does, on text now known to be shallow, so a 4-million-deep frame costs one pass over its bytes and no
 * allocation instead of seconds of parsing and hundreds of MiB.
 */
export function jsonDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0, max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && depth > 0) depth--;
  }
  return max;
}

/** Throws 400 invalid_input naming max_json_depth when `bytes` nests deeper than `limit`. */
export function checkJsonDepth(bytes: Uint8Array, limit: number, what: string, field = '/'): void {
  if (jsonDepth(bytes, limit) > limit) {
    throw new ApiError('invalid_input',
      `${what} nests objects/arrays more than ${limit} levels deep; max_json_depth is ${limit}; flatten the JSON, or raise --max-json-depth`,
      { field });
  }
}

// An absolute path of two or more segments (POSIX, or a Windows drive path); the characters around paths
// in error messages (quotes, spaces, colons, brackets, commas) end it.
const PATH = /(?<![\w.~-])(?:[A-Za-z]:)?[\\/](?:[^\s'"`,;:()<>[\]{}\\/]+[\\/])+[^\s'"`,;:()<>[\]{}\\/]*/g;

/**
 * The error as a client may see it: a server-side failure (5xx) has absolute file-system paths (model
 * directories, the collection, the install) replaced with `<path>`; the full message belongs in the log.
 * Paths in `keep` (the route table: "/v1/rerank") are left alone. 4xx messages are about the client's own
 * input and pass through unchanged.
 */
export function publicError(err: ApiError, keep: ReadonlySet<string> = new Set()): ApiError {
  if (err.status < 500) return err;
  const message = err.message.replace(PATH, (p) => (keep.has(p) ? p : '<path>'));
  if (message === err.message) return err;
  return new ApiError(err.type, message, { field: err.field, requestId: err.requestId, retryAfterS: err.retryAfterS });
}
