// A small OpenAI-compatible stand-in for tests: POST /v1/chat/completions over real HTTP on 127.0.0.1:0,
// streaming Server-Sent Events chunk by chunk like vLLM or llama.cpp server. The requested model name picks
// the behaviour, so one server serves every case: a normal answer, a cut or stalled stream, slow headers,
// 401 (wrong key), 429, 500, a stream that ends without a finish reason, and an error inside the stream.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StandInRequest {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface StandIn {
  /** http://127.0.0.1:PORT/v1 */
  baseURL: string;
  requests: StandInRequest[];
  /** The answer streamed for model "ok" (split into tokens at spaces, each a chunk). */
  answer: string;
  /** The key model "auth" accepts. */
  key: string;
  /** Model "gated" sends its first token, then waits for release() before sending the rest. */
  release(): void;
  /** When set, every request behaves as if it asked for this model (for clients whose model is fixed, like a server). */
  override: string | null;
  close(): Promise<void>;
}

function chunk(model: string, content: string | null, finish: string | null): string {
  const delta = content === null ? {} : { content };
  return `data: ${JSON.stringify({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function tokens(text: string): string[] {
  return text.split(/(?<= )/);
}

export async function startStandIn(): Promise<StandIn> {
  const sockets = new Set<Socket>();
  let releaseGate: () => void = () => undefined;
  let gate = new Promise<void>((r) => (releaseGate = r));
  const state: StandIn = {
    baseURL: '',
    requests: [],
    answer: 'Dogs descend from wolves [1]. Foxes and jackals are canines too [2][1].',
    key: 'good-key',
    release: () => releaseGate(),
    override: null,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let raw = '';
    for await (const c of req) raw += c;
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
      return;
    }
    const body = JSON.parse(raw) as Record<string, unknown>;
    const model = state.override ?? String(body.model);
    state.requests.push({ model, messages: body.messages as StandInRequest['messages'], stream: body.stream === true, authorization: req.headers.authorization, body });
    const fail = (status: number, message: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: { message, type: 'standin_error', code: status } }));
    };
    switch (model) {
      case 'auth':
        if (req.headers.authorization !== `Bearer ${state.key}`) return fail(401, 'Incorrect API key provided');
        break;
      case 'rate-limited':
        return fail(429, 'Rate limit reached for requests', { 'retry-after': '7' });
      case 'broken':
        return fail(500, 'The model crashed while loading');
      case 'missing':
        return fail(404, `The model 'missing' does not exist`);
      case 'slow-headers':
        await gate; // never answers until released (the client times out first)
        break;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const toks = tokens(state.answer);
    const send = (s: string): void => {
      res.write(s);
    };
    switch (model) {
      case 'cut':
        send(chunk(model, toks[0], null));
        // Once the second chunk is flushed to the client, drop the connection mid-answer.
        await new Promise<void>((r) => res.write(chunk(model, toks[1], null), () => r()));
        res.socket!.destroy();
        return;
      case 'stall':
        send(chunk(model, toks[0], null));
        return; // keeps the connection open and silent; the client's idle timeout fires
      case 'no-finish':
        for (const t of toks) send(chunk(model, t, null));
        res.end();
        return;
      case 'error-in-stream':
        send(chunk(model, toks[0], null));
        send(`data: ${JSON.stringify({ error: { message: 'context length exceeded', type: 'invalid_request_error' } })}\n\n`);
        res.end();
        return;
      case 'gated':
        send(chunk(model, toks[0], null));
        await gate;
        gate = new Promise<void>((r) => (releaseGate = r));
        for (const t of toks.slice(1)) send(chunk(model, t, null));
        break;
      default:
        send(chunk(model, '', null));
        for (const t of toks) send(chunk(model, t, null));
    }
    send(chunk(model, null, 'stop'));
    send('data: [DONE]\n\n');
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}
