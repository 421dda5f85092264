// A raw keep-alive HTTP/1.1 client for the lifecycle tests: after shutdown starts the server accepts no new
// connections, so requests on an already-open connection are the only way to watch /ready and draining.
import { connect, type Socket } from 'node:net';

/** One keep-alive HTTP/1.1 connection, several requests in turn. */
export class KeepAlive {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake?.(); });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
    socket.on('error', () => undefined);
  }
  static open(port: number): Promise<KeepAlive> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new KeepAlive(s)));
      s.once('error', reject);
    });
  }
  async get(path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = this.buf.subarray(0, end).toString().split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
        const len = Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.subarray(end + 4, end + 4 + len).toString();
          this.buf = this.buf.subarray(end + 4 + len);
          return { status: Number(statusLine.split(' ')[1]), headers, body };
        }
      }
      if (this.closed) throw new Error('connection closed before a full response');
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
  }
  close(): void { this.socket.destroy(); }
}
