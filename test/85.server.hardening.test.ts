// Hostile-client hardening on a real server over real sockets (issue 15): the HTTP parser's header limits
// as documented, WebSocket close codes for bad frames (1007, 1009), one answer for an empty list per
// surface, a JSON depth limit on HTTP bodies and WS frames, a 413 that a Node http client actually reads,
// 5xx bodies without file paths, and a shutdown that tells cut-off requests to retry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { packageRoot } from '../src/native.js';
import { HTTP_PARSER_LIMITS, defaultConfig, limitsMarkdown, type ServerConfig } from '../src/server/limits.js';
import { jsonDepth } from '../src/server/guards.js';
import { startServer, type ModelRef, type RunningServer } from '../src/server/server.js';
import { TestClient } from './81.server.ws.client.js';

const QUERY = 'how do I reset my password';
const PASSAGES = ["Click on 'Forgot Password' on the login screen", 'Use a strong password', 'Bananas ripen faster in a paper bag'];

function config(over: Partial<ServerConfig> = {}): ServerConfig {
  return { ...defaultConfig(), port: 0, threads: 1, workers: 1, ...over };
}

/** One raw HTTP/1.1 exchange: writes `parts` in separate TCP writes (each after the previous is flushed), collects until the server closes or answers. */
function raw(port: number, parts: string[]): Promise<{ response: string; closedWithoutAnswer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let response = '';
    sock.on('data', (d) => {
      response += d.toString('latin1');
      // A complete answer with a Content-Length body: done.
      const m = /\r\ncontent-length: (\d+)\r\n/i.exec(response);
      const end = response.indexOf('\r\n\r\n');
      if (m && end >= 0 && response.length >= end + 4 + Number(m[1])) { sock.destroy(); resolve({ response, closedWithoutAnswer: false }); }
    });
    sock.on('close', () => resolve({ response, closedWithoutAnswer: response === '' }));
    sock.on('error', reject);
    sock.on('connect', () => {
      const writeNext = (i: number): void => {
        if (i >= parts.length) return;
        sock.write(parts[i], () => setImmediate(() => writeNext(i + 1)));
      };
      writeNext(0);
    });
  });
}

const headerLines = (n: number, valueBytes = 8): string => Array.from({ length: n }, (_, i) => `x-h${i}: ${'v'.repeat(valueBytes)}\r\n`).join('');

describe('server hardening', () => {
  const servers: RunningServer[] = [];
  let dir: string;
  let model: ModelRef;
  const start = async (over: Partial<ServerConfig> = {}, log: (line: string) => void = () => undefined) => {
    const s = await startServer(config(over), { rerankers: [model], embedders: [] }, { log });
    servers.push(s);
    return s;
  };

  before(async () => {
    dir = await ensureGenerated('tiny-cross');
    model = { name: 'a', dir };
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.shutdown('test done')));
  });

  describe('HTTP header limits (fixed in the uWS build, documented)', () => {
    const lines = HTTP_PARSER_LIMITS.find((l) => l.name === 'http_max_header_lines')!.value;
    const bytes = HTTP_PARSER_LIMITS.find((l) => l.name === 'http_max_header_bytes')!.value;

    it('a request with as many header lines as http_max_header_lines (Host included) is answered', async () => {
      const s = await start();
      const r = await raw(s.port, [`GET /health HTTP/1.1\r\nhost: a\r\n${headerLines(lines - 1)}\r\n`]);
      assert.match(r.response, /^HTTP\/1\.1 200 /);
    });

    it('a header block just under http_max_header_bytes arriving in two TCP writes is answered', async () => {
      const s = await start();
      const head = `GET /health HTTP/1.1\r\nhost: a\r\nx-big: ${'c'.repeat(bytes - 200)}\r\n\r\n`;
      assert.ok(head.length < bytes);
      const r = await raw(s.port, [head.slice(0, 1000), head.slice(1000)]);
      assert.match(r.response, /^HTTP\/1\.1 200 /);
    });

    it('an unfinished header block over http_max_header_bytes is closed without an answer, as the README says', async () => {
      // uWS keeps at most http_max_header_bytes of a header block across reads; a first read that is bigger
      // and not yet complete is refused on the spot (the rest is never sent here).
      const s = await start();
      const r = await raw(s.port, [`GET /health HTTP/1.1\r\nhost: a\r\nx-big: ${'c'.repeat(bytes + 100)}`]);
      assert.equal(r.closedWithoutAnswer, true);
    });

    it('the limits table (README, serve --help) names both header limits and the JSON depth limit', () => {
      const md = limitsMarkdown();
      const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
      for (const name of ['http_max_header_lines', 'http_max_header_bytes', 'max_json_depth']) {
        assert.match(md, new RegExp(`\\| \`${name}\` \\|`));
        assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), `README limits table row for ${name}`);
      }
    });
  });

  describe('JSON depth limit', () => {
    it('jsonDepth counts brackets outside strings and stops past the limit', () => {
      const enc = (s: string) => Buffer.from(s);
      assert.equal(jsonDepth(enc('{"a":[1,{"b":"[[[[\\"]]"}]}'), 64), 3);
      assert.equal(jsonDepth(enc('"{{{{"'), 64), 0);
      assert.equal(jsonDepth(enc('['.repeat(1_000_000)), 64), 65);
    });

    it('HTTP: a body nested deeper than max_json_depth gets 400 naming the limit; a normal body still works', async () => {
      const s = await start({ maxJsonDepth: 16 });
      const deep = '{"query":"q","texts":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
      const r = await fetch(`${s.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
      assert.equal(r.status, 400);
      const body = await r.json() as { error: string; error_type: string };
      assert.equal(body.error_type, 'invalid_input');
      assert.match(body.error, /more than 16 levels deep; max_json_depth is 16; .*--max-json-depth/);
      const ok = await fetch(`${s.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, texts: PASSAGES }) });
      assert.equal(ok.status, 200);
    });

    it('WS: a frame nested 4 million levels deep gets an invalid_input error and the socket keeps working', async () => {
      const s = await start();
      const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      c.sendRaw('['.repeat(4_000_000) + ']'.repeat(4_000_000), false);
      await c.until(() => c.received.some((r) => r.msg.type === 'error'), 'the error');
      const err = c.received.find((r) => r.msg.type === 'error')!.msg as { error: string; error_type: string };
      assert.equal(err.error_type, 'invalid_input');
      assert.match(err.error, /max_json_depth is 64/);
      c.send({ type: 'rerank', id: 'after', query: QUERY, passages: PASSAGES });
      const msgs = await c.settled('after');
      assert.equal(msgs.at(-1)!.msg.type, 'final');
      await c.close();
    });
  });

  describe('WebSocket close codes (RFC 6455)', () => {
    it('invalid UTF-8 in a text frame: uWS drops the connection before crossgate sees it (1006, documented)', async () => {
      // This uWS build checks UTF-8 itself and closes the TCP connection without a close frame; a 1007 needs a
      // uWS build that sends one (see the README). Pinned so that a uWS upgrade that changes it is noticed.
      const s = await start();
      const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      c.sendRaw(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), false); // {"\xc3("}: a broken 2-byte sequence
      await c.until(() => c.closed !== null, 'close');
      assert.equal(c.closed!.code, 1006);
      const ok = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      ok.send({ type: 'rerank', id: 'after', query: QUERY, passages: PASSAGES });
      assert.equal((await ok.settled('after')).at(-1)!.msg.type, 'final');
      await ok.close();
    });

    it('a frame over ws_max_message_bytes (up to 2 x) closes with 1009 and a reason naming the limit', async () => {
      const s = await start({ wsMaxMessageBytes: 64 * 1024 });
      for (const size of [64 * 1024 + 1, 2 * 64 * 1024]) {
        const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
        c.sendRaw(Buffer.alloc(size, 0x61), true);
        await c.until(() => c.closed !== null, 'close');
        assert.equal(c.closed!.code, 1009, `frame of ${size} bytes`);
        assert.match(c.closed!.reason, /ws_max_message_bytes is 65,536/);
      }
      // Past 2 x the limit uWS refuses the frame from its header, before buffering it: 1006 (documented).
      const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      c.sendRaw(Buffer.alloc(2 * 64 * 1024 + 1, 0x61), true);
      await c.until(() => c.closed !== null, 'close');
      assert.equal(c.closed!.code, 1006);
    });
  });

  describe('an empty list', () => {
    it('HTTP answers 422 naming the field, and WS answers the same validation error (not a final) and stays open', async () => {
      const s = await start();
      const r = await fetch(`${s.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, texts: [] }) });
      assert.equal(r.status, 422);
      const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'rerank', id: 'empty', query: QUERY, passages: [] });
      const msgs = await c.settled('empty');
      assert.deepEqual(msgs.map((m) => m.msg.type), ['error']);
      const e = msgs[0].msg as { error: string; error_type: string };
      assert.equal(e.error_type, 'validation');
      assert.match(e.error, /^passages has 0 items; it needs at least 1/);
      c.send({ type: 'rerank', id: 'next', query: QUERY, passages: PASSAGES });
      assert.equal((await c.settled('next')).at(-1)!.msg.type, 'final');
      await c.close();
    });
  });

  describe('413 with a Node http client', () => {
    it('a client still writing an over-limit body (up to twice the limit) receives the 413 and its body, not EPIPE', async () => {
      const s = await start({ maxPayloadBytes: 64 * 1024 });
      const size = 100_000;
      for (let round = 0; round < 5; round++) {
        const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: s.port, method: 'POST', path: '/rerank', headers: { 'content-type': 'application/json', 'content-length': String(size) } }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => { body += d.toString(); });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let sent = 0;
          const pump = (): void => {
            while (sent < size) {
              sent += chunk.length;
              if (sent >= size) { req.end(chunk.subarray(0, chunk.length - (sent - size))); return; }
              if (!req.write(chunk)) { req.once('drain', pump); return; }
            }
          };
          pump();
        });
        assert.equal(got.status, 413, `round ${round}`);
        assert.match(got.body, /"error_type":"payload_too_large"/);
        assert.match(got.body, /max_payload_bytes is 65,536 bytes/);
      }
    });
  });

  describe('5xx bodies', () => {
    it('a backend error naming a model file answers without the path; the log line keeps it', async () => {
      const lines: string[] = [];
      const s = await start({}, (l) => lines.push(l));
      const encoder = s.ctx.reranker('a').encoder;
      const modelFile = join(dir, 'model.onnx');
      // The engine failing on its model file (as ONNX Runtime does when the file is gone or unreadable).
      encoder.score = () => Promise.reject(new Error(`Load model from ${modelFile} failed: No such file or directory`));
      const r = await fetch(`${s.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, texts: PASSAGES }) });
      assert.equal(r.status, 500);
      const text = await r.text();
      assert.ok(!text.includes(dir), `the body leaks ${dir}: ${text}`);
      assert.match(text, /Load model from <path> failed/);
      assert.ok(lines.some((l) => l.includes(modelFile)), 'the log line names the file');
      const c = await TestClient.open(`${s.url.replace('http', 'ws')}/ws`);
      c.send({ type: 'rerank', id: 'x', query: QUERY, passages: PASSAGES });
      const msgs = await c.settled('x');
      const e = msgs.at(-1)!.msg as { type: string; error: string };
      assert.equal(e.type, 'error');
      assert.ok(!e.error.includes(dir), `the WS error leaks ${dir}: ${e.error}`);
      await c.close();
    });
  });

  describe('shutdown under load', () => {
    it('requests cut off by shutdown_grace_ms get 503 draining with Retry-After, and the counts are logged', async () => {
      const lines: string[] = [];
      const s = await startServer(config({ shutdownGraceMs: 30 }), { rerankers: [model], embedders: [] }, { log: (l) => lines.push(l) });
      const texts = Array.from({ length: 1000 }, (_, i) => `passage number ${i} about passwords and accounts and more words`);
      const inflight = Array.from({ length: 6 }, (_, i) =>
        fetch(`${s.url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `${QUERY} ${i}`, texts }) })
          .then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() as { error_type?: string } })));
      // Every request admitted (one event-loop turn at a time, no timer).
      while (s.ctx.metrics.inflight.get() < 6) await new Promise((r) => setImmediate(r));
      await s.shutdown('test');
      const results = await Promise.all(inflight);
      const cut = results.filter((r) => r.status === 503);
      assert.ok(cut.length >= 1, `some requests were still running after 30 ms: ${results.map((r) => r.status).join(',')}`);
      for (const r of cut) {
        assert.equal(r.body.error_type, 'draining');
        assert.equal(r.retryAfter, '1', 'a cut-off request is told when to retry');
      }
      const summary = lines.find((l) => /shutdown_grace_ms \(30 ms\) ran out: \d+ of 6 request\(s\) in flight at the start finished; cancelling the \d+ still running/.test(l));
      assert.ok(summary, `a log line with the counts: ${lines.join(' | ')}`);
    });
  });
});
