// The peer of trial 8: the same rerank handler as crossgate's POST /rerank and /ws `rerank` (runRerank from
// src/server/calls/ on the same ServerContext, so the same encoder, scheduler, validation and JSON
// shaping) behind Node's own `http` server and the `ws` package. Only the front-end differs; this one keeps
// admission and validation but skips crossgate's backpressure queue and metrics, so it is, if anything, the
// lighter of the two.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerContext } from '../../src/server/context.js';
import { ApiError, toApiError, wsErrorMessage } from '../../src/server/errors.js';
import { runRerank } from '../../src/server/calls/rerank.js';
import { teiRerankReply, truncationSide } from '../../src/server/routes/tei.js';
import { finalMessage, partialScores } from '../../src/server/ws.js';
import { TeiRerankRequest } from '../../src/server/schemas.js';
import { parseJsonBody, precheckCount, validateBody } from '../../src/server/validate.js';
import { decodeClientFrame, encodeJson, type ServerMessage } from '../../src/wire/codec.js';

export interface NodeFront { port: number; close(): Promise<void> }

function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function onHttp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST' || req.url !== '/rerank') {
    sendJson(res, 404, {}, JSON.stringify({ error: `no route ${req.method} ${req.url}`, error_type: 'not_found' }));
    return;
  }
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > ctx.config.maxPayloadBytes) tooBig = true;
    else chunks.push(c);
  });
  req.on('end', () => {
    void (async () => {
      const ac = new AbortController();
      res.on('close', () => { if (!res.writableFinished) ac.abort(); });
      let release: (() => void) | null = null;
      try {
        if (tooBig) throw new ApiError('payload_too_large', `the body is over max_payload_bytes (${ctx.config.maxPayloadBytes})`);
        ctx.checkAuth(req.headers.authorization);
        ctx.checkServing();
        release = ctx.admit();
        const body = parseJsonBody(Buffer.concat(chunks));
        precheckCount(ctx.config, body, 'texts');
        const b = validateBody(TeiRerankRequest, body);
        const r = await ctx.track(runRerank(ctx, {
          route: '/rerank', model: b.model, query: b.query, documents: b.texts, documentsField: 'texts',
          truncate: b.truncate, truncationDirection: truncationSide(b.truncation_direction), signal: ac.signal,
        }));
        if (res.destroyed) return;
        sendJson(res, 200, {
          'x-compute-time': String(Math.round(performance.now() - t0)),
          'x-tokenization-time': String(Math.round(r.timings.tokenizationMs)),
          'x-queue-time': String(Math.round(r.timings.queueMs)),
          'x-inference-time': String(Math.round(r.timings.inferenceMs)),
          'x-compute-tokens': String(r.tokens),
        }, JSON.stringify(teiRerankReply(b, r)));
      } catch (e) {
        if (res.destroyed) return;
        const err = toApiError(e, 'backend');
        sendJson(res, err.status, {}, JSON.stringify({ error: err.message, error_type: err.type }));
      } finally {
        release?.();
      }
    })();
  });
}

function onWs(ctx: ServerContext, ws: WebSocket): void {
  const send = (m: ServerMessage): void => { if (ws.readyState === ws.OPEN) ws.send(encodeJson(m)); };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    void (async () => {
      let msg;
      try {
        msg = decodeClientFrame(isBinary ? new Uint8Array(data) : data.toString('utf8'), isBinary, { maxBytes: ctx.config.wsMaxMessageBytes });
      } catch (e) {
        send(wsErrorMessage(toApiError(e, 'internal')));
        return;
      }
      if (msg.type !== 'rerank') { send({ type: 'error', error: `the peer serves rerank only, not ${msg.type}`, error_type: 'validation' }); return; }
      let release: (() => void) | null = null;
      try {
        ctx.checkServing();
        release = ctx.admit();
        send({ type: 'accepted', id: msg.id });
        const id = msg.id;
        const result = await ctx.track(runRerank(ctx, {
          route: 'ws:rerank', query: msg.query, documents: msg.passages, documentsField: 'passages', truncate: msg.truncate,
          threshold: msg.threshold, requestId: id,
          onPartial: (p) => {
            const results = partialScores(p);
            if (results.length > 0) send({ type: 'partial', id, results });
          },
        }));
        // The `final` shape crossgate's ws.ts sends: every result sorted, the kept indices, the outcome.
        send(finalMessage(id, result, msg.top_n));
      } catch (e) {
        send(wsErrorMessage(toApiError(e, 'backend'), msg.id));
      } finally {
        release?.();
      }
    })();
  });
}

/** Starts the peer front-end on 127.0.0.1 (an ephemeral port): POST /rerank and /ws. */
export async function startNodeFront(ctx: ServerContext): Promise<NodeFront> {
  const server: Server = createServer((req, res) => onHttp(ctx, req, res));
  server.keepAliveTimeout = 60_000;
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 2 * ctx.config.wsMaxMessageBytes, perMessageDeflate: false });
  wss.on('connection', (ws) => onWs(ctx, ws));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
