// Starts a crossgate server (and optionally the Node http + ws peer front-end) in a child process for the
// server trials, and the small clients they drive it with: POST /rerank over fetch, and a WS client that
// multiplexes rerank requests by id and times the first `partial` and the `final` of each.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ServerConfig } from '../../src/server/limits.js';
import { decodeServerFrame, encodeFrame, type ServerMessage } from '../../src/wire/codec.js';
import type { ChildReady, ChildSpec } from './server-child.js';

export interface BenchServer {
  url: string;
  /** The Node http + ws peer on the same ServerContext, when asked for. */
  peerUrl: string | null;
  info: ChildReady['info'];
  /** The server process's id (for its RSS). */
  pid: number;
  stop(): Promise<void>;
}

export async function startBenchServer(spec: { dir: string; quantized: boolean; config?: Partial<ServerConfig>; peer?: boolean }): Promise<BenchServer> {
  const full: ChildSpec = { dir: spec.dir, quantized: spec.quantized, config: spec.config ?? {}, peer: spec.peer === true };
  const child: ChildProcess = fork(fileURLToPath(new URL('./server-child.js', import.meta.url)), [JSON.stringify(full)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ChildReady));
    child.once('exit', (code) => reject(new Error(`the benchmark server exited with code ${code} before it was ready (its stderr is above)`)));
  });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    peerUrl: ready.peerPort === null ? null : `http://127.0.0.1:${ready.peerPort}`,
    info: ready.info,
    pid: child.pid!,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 20_000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
      child.send('shutdown');
    }),
  };
}

/** POST {url}/rerank (TEI shape); resolves with the wall time in ms; throws on a non-200. */
export async function httpRerank(url: string, query: string, texts: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, texts }) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`POST ${url}/rerank answered ${r.status}: ${text.slice(0, 300)}`);
  return performance.now() - t0;
}

export interface WsTiming {
  /** ms from send to the first `partial` (the final's time when none came). */
  firstPartialMs: number;
  finalMs: number;
  partials: number;
}

interface WsPending { t0: number; first: number | null; partials: number; resolve: (t: WsTiming) => void; reject: (e: Error) => void }

/** One WS connection to /ws; requests are multiplexed by id. JSON frames. */
export class WsRerankClient {
  private readonly pending = new Map<string, WsPending>();
  private seq = 0;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let m: ServerMessage;
      try { m = decodeServerFrame(isBinary ? new Uint8Array(data) : data.toString('utf8'), isBinary); } catch (e) { this.failAll(`undecodable frame: ${(e as Error).message}`); return; }
      const id = 'id' in m ? m.id : undefined;
      const p = id === undefined ? undefined : this.pending.get(id);
      if (!p) { if (m.type === 'error') this.failAll(`${m.error_type}: ${m.error}`); return; }
      const now = performance.now();
      if (m.type === 'partial') { p.partials++; p.first ??= now; }
      else if (m.type === 'final') { this.pending.delete(id!); p.resolve({ firstPartialMs: (p.first ?? now) - p.t0, finalMs: now - p.t0, partials: p.partials }); }
      else if (m.type === 'error') { this.pending.delete(id!); p.reject(new Error(`WS request ${id}: ${m.error_type}: ${m.error}`)); }
    });
    ws.on('close', (code: number) => this.failAll(`socket closed with ${code}`));
  }

  private failAll(why: string): void {
    for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(new Error(why)); }
  }

  static open(url: string): Promise<WsRerankClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => resolve(new WsRerankClient(ws)));
      ws.once('error', reject);
    });
  }

  rerank(query: string, passages: string[]): Promise<WsTiming> {
    const id = `r${this.seq++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { t0: performance.now(), first: null, partials: 0, resolve, reject });
      this.ws.send(encodeFrame({ type: 'rerank', id, query, passages }, 'json'));
    });
  }

  close(): void { this.ws.close(1000); }
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
