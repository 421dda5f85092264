// A small WebSocket test client (the `ws` package) for the /ws protocol tests: sends client messages in
// either encoding, decodes every server frame and lets a test wait for conditions on what arrived.
import WebSocket from 'ws';
import {
  decodeServerFrame, encodeFrame, type ClientMessage, type FrameEncoding, type ServerMessage,
} from '../src/wire/codec.js';

export interface Received { msg: ServerMessage; binary: boolean; at: number }

export class TestClient {
  readonly received: Received[] = [];
  closed: { code: number; reason: string } | null = null;
  /** Frames the client could not decode (must stay empty: the server only sends valid frames). */
  readonly undecodable: string[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      try {
        this.received.push({ msg: decodeServerFrame(isBinary ? new Uint8Array(bytes) : bytes.toString('utf8'), isBinary), binary: isBinary, at: performance.now() });
      } catch (e) {
        this.undecodable.push((e as Error).message);
      }
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, maxPayload: 256 * 1024 * 1024 });
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
      });
      ws.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(msg: ClientMessage, encoding: FrameEncoding = 'json'): void {
    const frame = encodeFrame(msg, encoding);
    this.ws.send(frame, { binary: encoding === 'binary' });
  }

  sendRaw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Resolves when `cond()` holds; rejects after `ms` naming `what`. */
  until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const check = () => {
        if (cond()) { clearTimeout(timer); resolve(); } else this.waiters.push(check);
      };
      check();
    });
  }

  of(id: string): Received[] {
    return this.received.filter((r) => 'id' in r.msg && r.msg.id === id);
  }

  /** The messages of request `id` once its final or error has arrived. */
  async settled(id: string, ms = 30_000): Promise<Received[]> {
    await this.until(() => this.of(id).some((r) => r.msg.type === 'final' || r.msg.type === 'error') || this.closed !== null, `final/error for '${id}'`, ms);
    return this.of(id);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ws.close(1000);
    return this.until(() => this.closed !== null, 'close');
  }
}
