// The one module that imports uWebSockets.js (the @trufflesuite unofficial build, which loads on this glibc;
// swap the import for 'uWebSockets.js' to use the official one), plus the request/response helpers that keep
// uWS's rules: onAborted before any async work, copy body chunks, cork writes, never touch a finished response.

import uws from '@trufflesuite/uws-js-unofficial';
import type {
  HttpRequest, HttpResponse, RecognizedString, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket, us_socket,
} from '@trufflesuite/uws-js-unofficial';
import { ApiError, errorBody, errorHeaders, fmt, statusLine } from './errors.js';

export type { HttpRequest, HttpResponse, RecognizedString, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket };

export const UWS_PACKAGE = '@trufflesuite/uws-js-unofficial';
export const App = uws.App;
/** Compression off: this build has no permessage-deflate, and binary frames compress poorly anyway. */
export const COMPRESSION_DISABLED = uws.DISABLED;

/** WebSocket.send results (uWS returns a number; an unchecked send is a bug). */
export const SEND_BACKPRESSURE = 0; // queued, but the socket's buffer grew: stop producing until drain
export const SEND_OK = 1;
export const SEND_DROPPED = 2;      // over maxBackpressure: the message was not queued at all

export interface Listening {
  port: number;
  host: string;
  /** Stops accepting; open connections stay until they close. */
  close(): void;
}

type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => TemplatedApp;
/** Not in this build's .d.ts, but exported at run time (uSockets LIBUS_LISTEN_EXCLUSIVE_PORT = 1). */
const EXCLUSIVE_PORT: number = (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1;

/**
 * Listens and resolves with the bound port (port 0 picks a free one). The port is exclusive: uWS's
 * default listen sets SO_REUSEPORT, so a second `crossgate serve` on the same port would silently
 * share it (each getting some of the connections) instead of failing.
 */
export function listen(app: TemplatedApp, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    (app.listen as unknown as ListenWithOptions).call(app, host, port, EXCLUSIVE_PORT, (socket) => {
      if (!socket) {
        reject(new Error(`could not listen on ${host}:${port} (port in use, address not on this machine, or not permitted); pick another --port or --host`));
        return;
      }
      let open = true;
      resolve({
        host,
        port: uws.us_socket_local_port(socket as unknown as us_socket),
        close() {
          if (open) { open = false; uws.us_listen_socket_close(socket); }
        },
      });
    });
  });
}

/**
 * Closes the listen sockets and every open connection at once (uWS App.close(): present at run time in
 * this build, missing from its .d.ts). For the end of a graceful shutdown, after in-flight work is done.
 */
export function closeAll(app: TemplatedApp): void {
  const close = (app as unknown as { close?: () => void }).close;
  if (typeof close !== 'function') throw new Error(`${UWS_PACKAGE}: App.close() is missing; close the listen socket and each connection instead`);
  close.call(app);
}

/** What a handler needs from the request, copied out: HttpRequest dies when the handler returns or awaits. */
export interface RequestHead {
  method: string;   // upper case
  url: string;
  query: string;
  headers: Record<string, string>; // lower-case names; a repeated header keeps the last value
}

export function readHead(req: HttpRequest): RequestHead {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => { headers[k] = v; });
  return { method: req.getMethod().toUpperCase(), url: req.getUrl(), query: req.getQuery() ?? '', headers };
}

/**
 * A response and whether it may still be written. Create it first thing in the handler: it registers the
 * one onAborted handler uWS allows (a handler that returns without responding or onAborted kills the process).
 */
export class Reply {
  aborted = false;
  /** A response was written (or an attempt after abort was swallowed). */
  done = false;
  /** startStream() ran: the status and headers are out, the body follows in write()s. */
  streaming = false;
  private readonly abortListeners: (() => void)[] = [];

  constructor(readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
      for (const fn of this.abortListeners.splice(0)) {
        try { fn(); } catch { /* an abort listener must not take the event loop down */ }
      }
    });
  }

  /** Runs `fn` when the client goes away before the response is written (cancel pending work here). */
  onAbort(fn: () => void): void {
    if (this.aborted) fn();
    else if (!this.done) this.abortListeners.push(fn);
  }

  get open(): boolean {
    return !this.aborted && !this.done;
  }

  /**
   * Writes status, headers and body in one corked write. Returns false (and writes nothing) when the
   * client is gone or a response was already sent.
   */
  send(status: number, headers: Record<string, string>, body: RecognizedString, closeConnection = false): boolean {
    if (!this.open || this.streaming) return false;
    this.done = true;
    this.abortListeners.length = 0;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const k in headers) this.res.writeHeader(k, headers[k]);
      this.res.end(body, closeConnection);
    });
    return true;
  }

  /**
   * Starts a streamed response (Server-Sent Events): status and headers now, the body in write()s, then
   * end(). Returns false when the client is gone or a response was already sent.
   */
  startStream(status: number, headers: Record<string, string>): boolean {
    if (!this.open || this.streaming) return false;
    this.streaming = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const k in headers) this.res.writeHeader(k, headers[k]);
    });
    return true;
  }

  /** Writes one chunk of a started stream; waits for the socket to drain when uWS reports backpressure. False once the client is gone. */
  async write(chunk: string): Promise<boolean> {
    if (!this.streaming || !this.open) return false;
    let flushed = true;
    this.res.cork(() => {
      flushed = this.res.write(chunk);
    });
    if (!flushed && this.open) {
      await new Promise<void>((resolve) => {
        this.res.onWritable(() => {
          resolve();
          return true;
        });
        this.onAbort(resolve);
      });
    }
    return this.open;
  }

  /** Ends a started stream. */
  end(closeConnection = false): void {
    if (!this.streaming || !this.open) return;
    this.done = true;
    this.abortListeners.length = 0;
    this.res.cork(() => this.res.end(undefined, closeConnection));
  }

  sendJson(status: number, value: unknown, headers: Record<string, string> = {}): boolean {
    return this.send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify(value));
  }

  /** The error as {error, error_type} with its status (and Retry-After where it applies). */
  sendError(err: ApiError, headers: Record<string, string> = {}, closeConnection = false): boolean {
    return this.send(err.status, { 'content-type': 'application/json', ...errorHeaders(err), ...headers }, JSON.stringify(errorBody(err)), closeConnection);
  }
}

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'aborted' | 'too_large' | 'timeout' };

/** A body's first buffer: small requests never reallocate, and a lying Content-Length costs no more than this. */
export const BODY_INITIAL_BYTES = 16 * 1024;

/**
 * A request body collected chunk by chunk into one buffer that grows with what has arrived (doubling, up
 * to `limit`), never with what the client declared: a client that announces 8 MiB and sends 10 bytes
 * holds BODY_INITIAL_BYTES, not 8 MiB. Chunks are copied in (uWS neuters them after the callback).
 */
export class BodyBuffer {
  #buf: Buffer = Buffer.alloc(0);
  #length = 0;

  /** `limit`: the most bytes it will take (max_payload_bytes, or a smaller declared Content-Length). */
  constructor(readonly limit: number) {}

  get length(): number { return this.#length; }
  /** Bytes allocated now: at most max(BODY_INITIAL_BYTES, 2 x length), and never over `limit`. */
  get capacity(): number { return this.#buf.length; }

  /** Appends a copy of `chunk`; false (and nothing appended) when it would pass `limit`. */
  push(chunk: ArrayBuffer | Uint8Array): boolean {
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    const need = this.#length + bytes.byteLength;
    if (need > this.limit) return false;
    if (need > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, BODY_INITIAL_BYTES, this.#buf.length * 2)));
      this.#buf.copy(grown, 0, 0, this.#length);
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#length);
    this.#length = need;
    return true;
  }

  /** The body so far (a view: no copy). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }
}

export interface ReadBodyOptions {
  /** The limit's name in the 413 message and its flag. */
  limitName?: string;
  /**
   * Milliseconds the whole body may take to arrive (request_timeout_ms). A client that sends headers and
   * then trickles or stops gets 504 timeout and its connection closed, so it cannot hold an admission slot
   * or a buffer forever.
   */
  timeoutMs?: number;
  /** The timeout's name in the 504 message and its flag. */
  timeoutName?: string;
}

/**
 * An over-limit body is read and thrown away up to this many times the limit in all before the 413 is sent.
 * Answering at once and closing resets the connection while the client is still writing: a Node http client
 * can then see EPIPE or ECONNRESET instead of the 413. Reading the rest (without keeping it) lets the client
 * finish its write and read the answer. A body bigger than that (declared, or counted as it arrives) gets
 * the 413 and the connection closed at once, so a client cannot make the server read without end; the
 * same 2x rule as WebSocket frames (ws_max_message_bytes).
 */
export const BODY_DISCARD_FACTOR = 2;

/**
 * Reads the whole request body, refusing more than `maxBytes`. Call it synchronously in the handler
 * (before any await) so no chunk is missed. Over the limit nothing more is kept: a body of up to
 * BODY_DISCARD_FACTOR x maxBytes is read to its end and discarded, then 413 is sent and the connection stays
 * usable; a bigger one (declared or counted) gets 413 and the connection closed. Past `timeoutMs`
 * it answers 504 and closes; then, or when the client aborts, it resolves { ok: false } and the caller
 * just returns.
 */
export function readBody(reply: Reply, head: RequestHead, maxBytes: number, opts: ReadBodyOptions = {}): Promise<BodyResult> {
  const limitName = opts.limitName ?? 'max_payload_bytes';
  const timeoutName = opts.timeoutName ?? 'request_timeout_ms';
  return new Promise((resolve) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: BodyResult): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(r);
    };
    /** Over the limit: bytes seen so far while discarding (null while the body is still kept). */
    let discarded: number | null = null;
    let overWhat = '';
    const tooLarge = (what: string, close: boolean) => {
      reply.sendError(new ApiError('payload_too_large',
        `request body ${what}; ${limitName} is ${fmt(maxBytes)} bytes; send fewer or shorter documents per request, or raise --${limitName.replace(/_/g, '-')}`,
        { field: 'body' }), {}, close);
      finish({ ok: false, reason: 'too_large' });
    };
    if (!reply.open) { finish({ ok: false, reason: 'aborted' }); return; }
    reply.onAbort(() => finish({ ok: false, reason: 'aborted' }));

    const declared = head.headers['content-length'];
    const length = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
    if (length !== undefined && length > maxBytes) {
      // Too big to ever read in full: answer now and close (the client may see a reset while writing).
      if (length > BODY_DISCARD_FACTOR * maxBytes) { tooLarge(`is ${fmt(length)} bytes`, true); return; }
      discarded = 0;
      overWhat = `is ${fmt(length)} bytes`;
    }

    const body = new BodyBuffer(discarded !== null ? 0 : length ?? maxBytes);
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      timer = setTimeout(() => {
        if (finished) return;
        const of = length !== undefined ? ` of the ${fmt(length)} declared` : '';
        const came = discarded !== null ? Math.max(discarded, body.length) : body.length;
        reply.sendError(new ApiError('timeout',
          `request body did not arrive within ${timeoutName} (${fmt(ms)} ms): ${fmt(came)} bytes${of} came; send the whole body without pausing, or raise --${timeoutName.replace(/_/g, '-')}`,
          { field: 'body' }), {}, true);
        finish({ ok: false, reason: 'timeout' });
      }, ms);
    }
    reply.res.onData((chunk, isLast) => {
      if (finished) return;
      if (discarded === null && !body.push(chunk)) {
        // A chunked body that passed the limit: keep counting, keep nothing.
        discarded = body.length;
        overWhat = `is more than ${fmt(maxBytes)} bytes`;
      }
      if (discarded !== null) {
        discarded += chunk.byteLength;
        if (isLast) tooLarge(overWhat, false);
        else if (discarded > BODY_DISCARD_FACTOR * maxBytes) tooLarge(overWhat, true);
        return;
      }
      if (isLast) finish({ ok: true, body: body.bytes() });
    });
  });
}

/** Upgrade headers that must be read before the upgrade handler returns or awaits. */
export interface UpgradeHead {
  key: string;
  protocol: string;
  extensions: string;
}
export function readUpgradeHead(req: HttpRequest): UpgradeHead {
  return {
    key: req.getHeader('sec-websocket-key'),
    protocol: req.getHeader('sec-websocket-protocol'),
    extensions: req.getHeader('sec-websocket-extensions'),
  };
}
