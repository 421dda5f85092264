// The WebSocket protocol on /ws: rerank/search requests multiplexed on one connection by client-chosen id,
// streamed back as accepted -> [candidates] -> partial... -> final (or error), in the encoding they came in.
//
// Two rules shape this file. Nothing is ever sent on a closed socket: each connection keeps a `closed` flag
// that the uWS close handler sets, and every send goes through Connection.deliver, which checks it. And no
// send goes unchecked: past ws_backpressure_soft_bytes buffered in uWS, outgoing frames wait in a per-socket
// queue that `drain` empties; past ws_backpressure_hard_bytes (uWS buffer + queue) the socket is closed with
// 1008, its requests are aborted and their pending rows never reach inference. Memory per socket is thereby
// bounded by the hard limit, whatever the client does.

import type { ServerContext } from './context.js';
import type { GateDecision } from '../pipeline/precision.js';
import { answerEvents } from '../llm/answer.js';
import { runRerank, runSearch, type RerankResult } from './calls/rerank.js';
import { ApiError, fmt, toApiError, WS_CLOSE, wsCloseCode, wsCloseReason, wsErrorMessage } from './errors.js';
import { checkJsonDepth, publicError } from './guards.js';
import {
  COMPRESSION_DISABLED, readUpgradeHead, Reply, SEND_DROPPED, type TemplatedApp, type WebSocket,
} from './uws.js';
import {
  decodeClientFrame, encodeBinary, encodeJson, type AskMessage, type CandidateHit, type FinalMessage, type FrameEncoding,
  type RerankMessage, type ScoredPassage, type SearchMessage, type ServerMessage, type WirePathStep,
} from '../wire/codec.js';

export interface WsStats {
  /** Open connections. */
  connections: number;
  /** Bytes waiting in the per-socket queues right now (all sockets). */
  queuedBytes: number;
  /** The largest buffered + queued bytes any one socket reached (bounded by ws_backpressure_hard_bytes + one frame). */
  peakSocketBytes: number;
  /** Sockets closed with 1008 because their reader fell past ws_backpressure_hard_bytes. */
  slowReadersClosed: number;
  /** Requests whose pending work was dropped by a cancel message or a closed socket. */
  requestsAbandoned: number;
}

export interface WsHandle {
  readonly connections: number;
  /** Closes every socket with `code` (1001 at shutdown); their in-flight requests are aborted. */
  closeAll(code: number, reason: string): void;
  /** Counters for tests and /info; cheap to read. */
  stats(): WsStats;
}

/** What uWS keeps per socket; the Connection is attached in `open`. */
interface SocketData { conn: Connection | null }

type Route = 'ws:rerank' | 'ws:search' | 'ws:ask';
type EndReason = 'cancel' | 'closed';

interface InFlight {
  readonly id: string;
  readonly encoding: FrameEncoding;
  readonly controller: AbortController;
  /** Set when the request stopped early; from then on nothing more is sent for it. */
  ended: EndReason | null;
}

/** Paths a WS error message may name that are not file-system paths. */
const WS_KEEP_PATHS: ReadonlySet<string> = new Set(['/ws']);

/** Status recorded in crossgate_requests_total for a request dropped by the client (nginx's 499). */
const STATUS_CLIENT_GONE = 499;

function encodeOut(msg: ServerMessage, encoding: FrameEncoding): Uint8Array {
  // JSON goes out as UTF-8 bytes so the queue can count exact bytes and uWS skips its own string conversion.
  return encoding === 'binary' ? encodeBinary(msg) : Buffer.from(encodeJson(msg), 'utf8');
}

class Connection {
  closed = false;
  /** A close the protocol asked for once the in-flight requests finish (a request refused while draining). */
  closeWhenIdle: { code: number; reason: string } | null = null;
  readonly requests = new Map<string, InFlight>();
  private readonly queue: { data: Uint8Array; binary: boolean }[] = [];
  private head = 0;
  queuedBytes = 0;

  constructor(readonly ws: WebSocket<SocketData>, private readonly hub: Hub) {}

  get queueLength(): number { return this.queue.length - this.head; }

  /** Encodes and sends (or queues) one message. Returns false when the socket is, or has just been, closed. */
  send(msg: ServerMessage, encoding: FrameEncoding): boolean {
    if (this.closed) return false;
    return this.deliver(encodeOut(msg, encoding), encoding === 'binary');
  }

  deliver(data: Uint8Array, binary: boolean): boolean {
    if (this.closed) return false;
    const buffered = this.ws.getBufferedAmount();
    if (this.queueLength > 0 || buffered > this.hub.softBytes) {
      // Stop streaming to this socket: keep the order by queueing behind what already waits.
      this.queue.push({ data, binary });
      this.queuedBytes += data.byteLength;
      this.hub.queuedBytes += data.byteLength;
      return this.checkHard(buffered);
    }
    return this.transmit(data, binary);
  }

  private transmit(data: Uint8Array, binary: boolean): boolean {
    let status: number;
    try {
      status = this.ws.send(data, binary, false);
    } catch {
      // uWS throws on a socket it already closed; the close handler runs (or ran) and cleans up.
      this.closed = true;
      return false;
    }
    if (status === SEND_DROPPED) {
      // uWS refused to buffer it (over maxBackpressure = the hard limit): the stream would have a hole.
      this.closeSlow(this.ws.getBufferedAmount() + data.byteLength);
      return false;
    }
    // SEND_BACKPRESSURE: queued in uWS; the next deliver() sees the buffered amount and queues if over soft.
    return this.checkHard(this.ws.getBufferedAmount());
  }

  private checkHard(buffered: number): boolean {
    const total = buffered + this.queuedBytes;
    if (total > this.hub.peakSocketBytes) this.hub.peakSocketBytes = total;
    if (total > this.hub.hardBytes) {
      this.closeSlow(total);
      return false;
    }
    return true;
  }

  /** uWS `drain`: send what waits while the socket stays under the soft limit. */
  drain(): void {
    while (!this.closed && this.queueLength > 0 && this.ws.getBufferedAmount() <= this.hub.softBytes) {
      const next = this.queue[this.head];
      this.queue[this.head++] = undefined as never;
      this.queuedBytes -= next.data.byteLength;
      this.hub.queuedBytes -= next.data.byteLength;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (!this.transmit(next.data, next.binary)) return;
    }
    if (this.queueLength === 0 && this.head > 0) {
      this.queue.length = 0;
      this.head = 0;
    }
  }

  private closeSlow(bytes: number): void {
    this.hub.slowReadersClosed++;
    this.end(WS_CLOSE.policy,
      `slow reader: ${fmt(bytes)} bytes waiting; ws_backpressure_hard_bytes is ${fmt(this.hub.hardBytes)}`);
  }

  /** Closes with a code and reason (uWS runs the close handler at once, which aborts the requests). */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.end(code, wsCloseReason(reason));
    } catch {
      // Already closed underneath us; the close handler did the cleanup.
    }
  }

  /** The close handler's half: forget queued frames, abort every request. Idempotent. */
  cleanup(): void {
    this.closed = true;
    this.hub.queuedBytes -= this.queuedBytes;
    this.queuedBytes = 0;
    this.queue.length = 0;
    this.head = 0;
    for (const r of this.requests.values()) this.hub.abandon(r, 'closed');
    this.requests.clear();
  }

  /** Called when a request leaves: honours a close that waited for the socket to go idle. */
  settled(): void {
    if (this.closeWhenIdle && this.requests.size === 0) this.end(this.closeWhenIdle.code, this.closeWhenIdle.reason);
  }
}

class Hub {
  readonly softBytes: number;
  readonly hardBytes: number;
  readonly connections = new Set<Connection>();
  queuedBytes = 0;
  peakSocketBytes = 0;
  slowReadersClosed = 0;
  requestsAbandoned = 0;

  constructor(readonly ctx: ServerContext, private readonly log: (line: string) => void) {
    this.softBytes = ctx.config.wsBackpressureSoftBytes;
    this.hardBytes = ctx.config.wsBackpressureHardBytes;
  }

  abandon(r: InFlight, why: EndReason): void {
    if (r.ended) return;
    r.ended = why;
    this.requestsAbandoned++;
    r.controller.abort(why);
  }

  /** One frame from a client. Decoding is synchronous: uWS neuters `frame` when this returns. */
  onMessage(conn: Connection, frame: ArrayBuffer, isBinary: boolean): void {
    const encoding: FrameEncoding = isBinary ? 'binary' : 'json';
    let msg;
    try {
      // A JSON frame's nesting is bounded before JSON.parse sees it (binary frames are flatbuffers: flat).
      if (!isBinary) checkJsonDepth(new Uint8Array(frame), this.ctx.config.maxJsonDepth, 'the frame', 'frame');
      msg = decodeClientFrame(frame, isBinary, { maxBytes: this.ctx.config.wsMaxMessageBytes });
    } catch (e) {
      this.refuse(conn, toApiError(e, 'internal'), encoding, undefined, 'ws');
      return;
    }
    switch (msg.type) {
      case 'cancel': {
        const r = conn.requests.get(msg.id);
        if (!r) {
          this.refuse(conn, new ApiError('not_found',
            `cancel: no request '${msg.id}' is in flight on this connection (it finished, was cancelled, or was never sent); nothing to cancel`,
            { field: 'id', requestId: msg.id }), encoding);
          return;
        }
        // The id is free again at once; nothing more is sent for the cancelled request.
        conn.requests.delete(msg.id);
        this.abandon(r, 'cancel');
        conn.settled();
        return;
      }
      case 'rerank':
      case 'search':
      case 'ask':
        void this.run(conn, msg, encoding);
        return;
    }
  }

  /** One log line for a server-side failure (backend, internal); 4xx are the client's, 503/504 are load. */
  logFailure(err: ApiError, route: string, id?: string): void {
    if (err.status < 500 || err.status === 503 || err.status === 504) return;
    this.log(`crossgate: WS ${route}${id === undefined ? '' : ` id ${JSON.stringify(id)}`} -> ${err.status} ${err.type}: ${err.message}`);
  }

  /** An error for one frame or request (logged when it is the server's fault), and the close its type calls for (errors.ts decides). */
  private refuse(conn: Connection, err: ApiError, encoding: FrameEncoding, id?: string, route: Route | 'ws' = 'ws'): void {
    this.logFailure(err, route, id);
    // File paths (model directories) stay in the log line; the client gets them as <path>.
    err = publicError(err, WS_KEEP_PATHS);
    conn.send(wsErrorMessage(err, id), encoding);
    const code = wsCloseCode(err.type);
    if (code === null) return;
    if (err.type === 'draining' && conn.requests.size > 0) {
      // Let this socket's accepted requests finish; shutdown closes it with 1001 anyway.
      conn.closeWhenIdle = { code, reason: err.message };
      return;
    }
    conn.end(code, err.message);
  }

  /** ask: the decision and the answer deltas; returns the final answer, or why the request ended without one. */
  private async streamAnswer(conn: Connection, r: InFlight, result: RerankResult, live: () => boolean): Promise<Record<string, unknown> | 'gone' | 'error'> {
    for await (const ev of answerEvents(result.decision, this.ctx.llm, { signal: r.controller.signal })) {
      if (!live()) return 'gone';
      if (ev.type === 'decision') conn.send({ type: 'decision', id: r.id, decision: ev.decision as unknown as Record<string, unknown> }, r.encoding);
      else if (ev.type === 'delta') conn.send({ type: 'delta', id: r.id, text: ev.text }, r.encoding);
      else if (ev.type === 'final') return ev as unknown as Record<string, unknown>;
      else {
        // The request ends with the error; the socket and the server go on.
        conn.send({ type: 'error', id: r.id, error: ev.error.message, error_type: ev.error.error_type, partial_text: ev.partialText }, r.encoding);
        return 'error';
      }
    }
    // answerEvents always ends with final or error (or throws on abort): this is a bug, reported as one.
    throw new Error('the answer stream ended without a final or error event');
  }

  private async run(conn: Connection, msg: RerankMessage | SearchMessage | AskMessage, encoding: FrameEncoding): Promise<void> {
    const { ctx } = this;
    const route: Route = msg.type === 'rerank' ? 'ws:rerank' : msg.type === 'search' ? 'ws:search' : 'ws:ask';
    const t0 = performance.now();
    const count = (status: number) => {
      ctx.metrics.requests.inc({ route, status });
      ctx.metrics.requestSeconds.observe({ route }, (performance.now() - t0) / 1000);
    };

    if (msg.type === 'rerank' && msg.passages.length === 0) {
      // The same answer as HTTP (/rerank, /v1/rerank: 422 validation), and as TEI; the socket stays open.
      const err = new ApiError('validation', 'passages has 0 items; it needs at least 1: send the passages to rank',
        { field: 'passages', requestId: msg.id });
      this.refuse(conn, err, encoding, msg.id, route);
      count(err.status);
      return;
    }
    if (conn.requests.has(msg.id)) {
      const err = new ApiError('validation',
        `id '${msg.id}' is already in flight on this connection; use an id that is unique among your in-flight requests (the first request goes on)`,
        { field: 'id', requestId: msg.id });
      this.refuse(conn, err, encoding, undefined, route);
      count(err.status);
      return;
    }
    let release: () => void;
    try {
      ctx.checkServing();
      release = ctx.admit();
    } catch (e) {
      const err = toApiError(e, 'internal');
      this.refuse(conn, err, encoding, msg.id, route);
      count(err.status);
      return;
    }

    const r: InFlight = { id: msg.id, encoding, controller: new AbortController(), ended: null };
    conn.requests.set(msg.id, r);
    const live = () => r.ended === null && !conn.closed;
    let status = 200;
    try {
      conn.send({ type: 'accepted', id: r.id }, encoding);
      const onPartial = (p: { indices: Int32Array; logits?: Float32Array; probabilities?: Float32Array }) => {
        if (!live()) return;
        const results = partialScores(p);
        if (results.length > 0) conn.send({ type: 'partial', id: r.id, results }, encoding);
      };
      let work: Promise<RerankResult>;
      if (msg.type === 'rerank') {
        work = runRerank(ctx, {
          route, query: msg.query, documents: msg.passages, documentsField: 'passages', truncate: msg.truncate,
          threshold: msg.threshold, signal: r.controller.signal, onPartial, requestId: r.id,
        });
      } else {
        work = runSearch(ctx, {
          route, query: msg.query, topK: msg.top_k, threshold: msg.threshold, truncate: msg.truncate,
          signal: r.controller.signal, onPartial, requestId: r.id,
          ...(msg.mode !== undefined ? { mode: msg.mode } : {}),
          ...(msg.fallback !== undefined ? { fallback: msg.fallback } : {}),
          onCandidates: (hits) => {
            if (live()) conn.send({ type: 'candidates', id: r.id, hits: hits.map(candidateHit) }, encoding);
          },
        });
      }
      const result = await ctx.track(work);
      if (!live()) {
        status = STATUS_CLIENT_GONE;
        return;
      }
      let answer: Record<string, unknown> | undefined;
      if (msg.type === 'ask') {
        // HTTP /ask's stream (src/llm/answer.ts): decision, deltas, then final or an LLM error after the deltas.
        // Tracked like the search, so that shutdown waits for the answer within shutdown_grace_ms.
        const streamed = await ctx.track(this.streamAnswer(conn, r, result, live));
        if (streamed === 'gone') {
          status = STATUS_CLIENT_GONE;
          return;
        }
        if (streamed === 'error') return;
        answer = streamed;
      }
      let final: Uint8Array;
      try {
        final = encodeOut(finalMessage(r.id, result, msg.type === 'ask' ? undefined : msg.top_n, answer), encoding);
      } catch (e) {
        // A non-finite score that slipped past the service: a backend error for this request, not a crash.
        throw toApiError(e, 'backend');
      }
      conn.deliver(final, encoding === 'binary');
    } catch (e) {
      if (r.ended !== null || conn.closed) {
        status = STATUS_CLIENT_GONE;
        return;
      }
      const err = toApiError(e, 'backend');
      status = err.status;
      this.refuse(conn, err, encoding, r.id, route);
    } finally {
      release();
      if (conn.requests.get(r.id) === r) conn.requests.delete(r.id);
      count(status);
      conn.settled();
    }
  }
}

/** Scores of one finished micro-batch; a non-finite score is left out (the final reports it as a backend error). */
export function partialScores(p: { indices: Int32Array; logits?: Float32Array; probabilities?: Float32Array }): ScoredPassage[] {
  const out: ScoredPassage[] = [];
  const { indices, logits, probabilities } = p;
  if (!logits || !probabilities) return out;
  for (let i = 0; i < indices.length; i++) {
    const logit = logits[i], probability = probabilities[i];
    if (Number.isFinite(logit) && Number.isFinite(probability)) out.push({ index: indices[i], logit, probability });
  }
  return out;
}

/** A retrieval hit on the wire: doc_id is the collection's own id, whatever its form. */
function candidateHit(h: { index: number; id: string; text: string; score: number }): CandidateHit {
  return { index: h.index, doc_id: h.id, retrieval_score: h.score, text: h.text };
}

/** All results sorted by probability (cut to top_n when asked), the indices that passed, and the gate outcome. */
export function finalMessage(id: string, result: RerankResult, topN: number | undefined, answer?: Record<string, unknown>): FinalMessage {
  const d = result.decision;
  // kept and dropped are each sorted by probability and split at the threshold, so together they are sorted.
  let ranked = [...d.kept, ...d.dropped];
  if (topN !== undefined) ranked = ranked.slice(0, topN);
  return {
    type: 'final',
    id,
    results: ranked.map((c) => ({ index: c.index, logit: c.logit, probability: c.probability })),
    kept: ranked.filter((c) => c.kept).map((c) => c.index),
    outcome: d.outcome,
    threshold: d.threshold,
    augment: d.augment,
    // A search's retrievals (JSON frames; binary frames have no slot for them); a rerank has none.
    ...(d.path.length > 0 ? { path: d.path.map(wirePathStep) } : {}),
    ...(answer !== undefined ? { answer } : {}),
  };
}

function wirePathStep(p: GateDecision['path'][number]): WirePathStep {
  return {
    retriever: p.retriever, mode: p.mode, role: p.role, status: p.status, note: p.note,
    retrieved: p.retrieved, scored: p.scored, kept: p.kept, best_probability: p.bestProbability,
  };
}

/**
 * Mounts the protocol on '/ws'. Auth (Authorization: Bearer) and readiness are checked on the upgrade
 * request, so a refused client gets a plain HTTP 401/503 with the {error, error_type} body. `log` gets one
 * line per backend/internal failure (the server passes the same sink HTTP logs its 5xx to); default stderr.
 */
export function registerWebSocket(app: TemplatedApp, ctx: ServerContext, log?: (line: string) => void): WsHandle {
  const hub = new Hub(ctx, log ?? ((line: string) => { process.stderr.write(`${line}\n`); }));
  const c = ctx.config;
  // uWS cuts a frame over maxPayloadLength at the TCP level (the client sees 1006, no reason). Letting frames
  // up to twice the limit in means the usual oversize frame is read and refused with a 1009 that names the
  // limit, while per-socket receive memory stays bounded at 2 x ws_max_message_bytes.
  const maxPayloadLength = Math.min(2 * c.wsMaxMessageBytes, 0x7fffffff);

  app.ws<SocketData>('/ws', {
    compression: COMPRESSION_DISABLED,
    maxPayloadLength,
    idleTimeout: c.wsIdleTimeoutS,
    // Pings keep a quiet but live client open; a dead peer stops answering and idles out.
    sendPingsAutomatically: c.wsIdleTimeoutS > 0,
    // uWS drops (send returns 2) past this; Connection closes the socket before it ever gets there.
    maxBackpressure: c.wsBackpressureHardBytes,
    closeOnBackpressureLimit: 0,
    maxLifetime: 0,

    upgrade: (res, req, context) => {
      const head = readUpgradeHead(req);
      const authorization = req.getHeader('authorization');
      try {
        ctx.checkAuth(authorization === '' ? undefined : authorization);
        ctx.checkServing();
      } catch (e) {
        const err = toApiError(e, 'internal');
        hub.logFailure(err, 'ws:upgrade');
        new Reply(res).sendError(err);
        return;
      }
      // Echo one offered subprotocol at most (a client offering several must get exactly one back).
      const protocol = head.protocol.split(',')[0].trim();
      res.upgrade<SocketData>({ conn: null }, head.key, protocol, head.extensions, context);
    },

    open: (ws) => {
      const conn = new Connection(ws, hub);
      ws.getUserData().conn = conn;
      hub.connections.add(conn);
      ctx.metrics.wsConnections.inc();
    },

    message: (ws, frame, isBinary) => {
      const conn = ws.getUserData().conn;
      if (!conn || conn.closed) return;
      if (frame.byteLength > c.wsMaxMessageBytes) {
        const err = new ApiError('payload_too_large',
          `${isBinary ? 'binary' : 'text'} frame is ${fmt(frame.byteLength)} bytes; ws_max_message_bytes is ${fmt(c.wsMaxMessageBytes)}; ` +
          'send fewer or shorter passages per request, or raise --ws-max-message-bytes', { field: 'frame' });
        conn.send(wsErrorMessage(err), isBinary ? 'binary' : 'json');
        conn.end(WS_CLOSE.tooBig, err.message);
        return;
      }
      hub.onMessage(conn, frame, isBinary);
    },

    drain: (ws) => {
      ws.getUserData().conn?.drain();
    },

    close: (ws) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      conn.cleanup();
      if (hub.connections.delete(conn)) ctx.metrics.wsConnections.dec();
    },
  });

  return {
    get connections() { return hub.connections.size; },
    closeAll(code: number, reason: string) {
      for (const conn of [...hub.connections]) conn.end(code, reason);
    },
    stats() {
      return {
        connections: hub.connections.size,
        queuedBytes: hub.queuedBytes,
        peakSocketBytes: hub.peakSocketBytes,
        slowReadersClosed: hub.slowReadersClosed,
        requestsAbandoned: hub.requestsAbandoned,
      };
    },
  };
}
