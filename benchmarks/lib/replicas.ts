// Replicas on loopback: N `crossgate serve` processes behind a real HAProxy (Debian's) that health-checks
// /ready, and a closed-loop HTTP client that records every request's start, end, status and serving replica.
// Used by test/97.replicas.* (drain loses nothing) and benchmarks/replicas.ts (throughput per replica count).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Replica {
  name: string;
  port: number;
  child: ChildProcess;
  /** Everything it printed (stdout + stderr). */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function lineWaiter(child: ChildProcess, re: RegExp, what: string, deadlineMs: number, seen: () => string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no ${re} within ${deadlineMs} ms:\n${seen()}`)), deadlineMs);
    const check = (): void => {
      const m = re.exec(seen());
      if (m) done(undefined, m);
    };
    const onExit = (): void => done(new Error(`${what} exited before ${re}:\n${seen()}`));
    function done(e?: Error, m?: RegExpExecArray): void {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      if (e) reject(e); else resolve(m!);
    }
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/** `crossgate serve --reranker tiny=<dir> --port 0`, resolved once it prints `ready`. */
export async function startReplica(name: string, modelDir: string, opts: { workers?: number; threads?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Replica> {
  const child = spawn(process.execPath, [CLI, 'serve', '--reranker', `tiny=${modelDir}`, '--host', '127.0.0.1', '--port', '0', '--workers', String(opts.workers ?? 1), '--threads', String(opts.threads ?? 1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const m = await lineWaiter(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/, `replica ${name}`, 60_000, () => out);
  await lineWaiter(child, /crossgate serve: ready in/, `replica ${name}`, 120_000, () => out);
  return { name, port: Number(m[1]), child, log: () => out, exited };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` accepts a TCP connection (tries again on each refusal, up to `deadlineMs`; `exited` explains a dead server). */
export async function acceptsConnections(port: number, deadlineMs = 30_000, exited?: () => string | null): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const why = exited?.();
    if (why) throw new Error(why);
    if (Date.now() > until) throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function haproxyVersion(): string | null {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0] : null;
}

export interface Balancer {
  port: number;
  url: string;
  config: string;
  /** What HAProxy printed (one line per request with opts.log). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * HAProxy in front of the replicas: round robin, /ready checked every 200 ms (one failure takes a replica out),
 * one server connection per request (http-server-close: no request is sent on a kept-alive connection that a
 * draining replica is closing), and a request retried on another replica when it never reached one
 * (conn-failure), was refused with 503 by a draining one, or got no response at all because its replica died
 * (empty-response: safe because every crossgate route is a pure computation, so running it twice is harmless).
 */
/** HAProxy's retry-on: the default retries what a crossgate replica cannot have half-done or whose work is idempotent. */
export const DEFAULT_RETRY_ON = 'conn-failure empty-response 503';

export async function startHaproxy(replicas: readonly Replica[], opts: { log?: boolean; retryOn?: string } = {}): Promise<Balancer> {
  const dir = await mkdtemp(join(tmpdir(), 'crossgate-haproxy-'));
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 2000',
    // L7 retries replay the request from HAProxy's buffer: a body larger than it cannot be retried.
    '  tune.bufsize 131072',
    ...(opts.log ? ['  log stderr format raw local0 info'] : []),
    'defaults',
    '  mode http',
    ...(opts.log ? ['  log global', '  option httplog'] : []),
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  retries 3',
    '  option redispatch 1',
    `  retry-on ${opts.retryOn ?? DEFAULT_RETRY_ON}`,
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    '  option http-server-close',
    // uWebSockets.js does not answer HTTP/1.0, HAProxy's default check: send an HTTP/1.1 request with a Host.
    '  option httpchk',
    '  http-check send meth GET uri /ready ver HTTP/1.1 hdr Host crossgate',
    '  http-check expect status 200',
    '  default-server inter 200ms fall 1 rise 1',
    '  http-response set-header x-served-by %s',
    ...replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`),
    '',
  ].join('\n');
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, config);
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its config: ${check.stderr}${check.stdout}`);
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Ready when its frontend accepts connections.
  await acceptsConnections(port, 20_000, () => (child.exitCode !== null ? `haproxy exited ${child.exitCode}: ${out}` : null));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    config,
    log: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** crossgate_requests_in_flight of one replica, read from its own /metrics (not through the balancer). */
export async function inFlight(r: Replica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
  const m = /^crossgate_requests_in_flight (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** SIGTERM once the replica has a request in flight (read from its metrics; gives up after `tries`), so a drain has work to finish. */
export async function drainWhileBusy(r: Replica, tries = 500): Promise<void> {
  for (let i = 0; i < tries && (await inFlight(r)) < 1; i++);
  r.child.kill('SIGTERM');
}

/** Tokens waiting in the replica's queue (crossgate_queue_tokens, summed over its models). */
export async function queuedTokens(r: Replica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^crossgate_queue_tokens\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

export interface RequestRecord {
  start: number;
  end: number;
  status: number | null;
  /** The replica HAProxy sent it to (x-served-by), when a response came back. */
  server: string | null;
  error: string | null;
}

const PASSAGES = [
  "Click on 'Forgot Password' on the login screen",
  'Use a strong password with numbers and symbols',
  'The cafeteria serves lunch from noon until two',
  'Contact support if your account is locked',
];
/**
 * 32 passages of about 200 tokens: a retrieve-then-rerank page whose inference, not the proxying, takes most of
 * a request's time, so a replica has requests in flight when it is signalled.
 */
export const RERANK_BODY = JSON.stringify({ query: 'how do I reset my password', texts: Array.from({ length: 32 }, (_, i) => `${PASSAGES[i % 4]} (${i}). `.repeat(16)) });

/**
 * `concurrency` closed loops of POST /rerank through the balancer until `stop()` is true (checked before each
 * request) or `deadlineMs` passes; every request is recorded and `onRecord` sees each as it ends.
 */
export async function closedLoop(url: string, opts: { concurrency: number; stop: () => boolean; deadlineMs: number; onRecord?: (r: RequestRecord) => void }): Promise<RequestRecord[]> {
  const records: RequestRecord[] = [];
  const until = performance.now() + opts.deadlineMs;
  const loop = async (): Promise<void> => {
    while (!opts.stop() && performance.now() < until) {
      const start = performance.now();
      let rec: RequestRecord;
      try {
        const res = await fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: RERANK_BODY });
        const text = await res.text();
        const ok = res.status === 200 && Array.isArray(JSON.parse(text));
        rec = { start, end: performance.now(), status: res.status, server: res.headers.get('x-served-by'), error: ok ? null : `HTTP ${res.status}: ${text.slice(0, 200)}` };
      } catch (e) {
        rec = { start, end: performance.now(), status: null, server: null, error: String((e as Error).cause ?? e) };
      }
      records.push(rec);
      opts.onRecord?.(rec);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return records;
}
