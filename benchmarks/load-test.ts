// Load test for a crossgate server: open-loop arrivals at --rate for --duration against POST /rerank (HTTP)
// and the /ws `rerank` stream, with a cap on requests in flight. Prints throughput, p50/p95/p99 latency and
// errors per protocol, the machine and the server's threads/workers/execution provider (from GET /info).
// Without --url it starts a server with a generated model in a child process (so the load generator and
// the server do not share an event loop) and measures the raw model's saturated throughput as the peer.
// `--mode ttfp` measures time to first partial vs time to final over WS instead.
//
//   node dist/benchmarks/load-test.js --rate 20 --duration 10 --passages 100
//   node dist/benchmarks/load-test.js --mode ttfp --preset minilm-l6-cross --passages 100 --reps 20
//   node dist/benchmarks/load-test.js --url http://127.0.0.1:8080 --mode ws --rate 50
//
// Latency is measured from each request's scheduled arrival, not from when it was sent, so a generator
// that falls behind shows up as latency instead of hiding it (no coordinated omission).

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, platform, arch, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ensureGenerated, type Preset } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { defaultConfig, type ServerConfig } from '../src/server/limits.js';
import { startServer } from '../src/server/server.js';
import { decodeServerFrame, encodeFrame, type FrameEncoding, type ServerMessage } from '../src/wire/codec.js';

// ---------------------------------------------------------------------------------------------
// Arguments (every one bounded: this is a loopback tool, not a traffic cannon)
// ---------------------------------------------------------------------------------------------

type Mode = 'http' | 'ws' | 'both' | 'ttfp';
interface Args {
  url: string | null;
  mode: Mode;
  rate: number;
  duration: number;
  concurrency: number;
  passages: number;
  preset: Preset;
  wsConnections: number;
  encoding: FrameEncoding;
  apiKey: string | null;
  workers: number | null;
  threads: number | null;
  maxBatchTokens: number | null;
  raw: boolean;
  reps: number;
  json: boolean;
}

const PRESETS: readonly Preset[] = ['tiny-cross', 'minilm-l6-cross'];
const USAGE = `usage: load-test [--url http://127.0.0.1:PORT] [--mode http|ws|both|ttfp] [--rate REQ_PER_S] [--duration S]
       [--concurrency N] [--passages N] [--preset ${PRESETS.join('|')}] [--ws-connections N] [--encoding json|binary]
       [--api-key KEY] [--workers N] [--threads N] [--max-batch-tokens N] [--no-raw] [--reps N] [--json]`;

function parseArgs(argv: string[]): Args {
  const a: Args = {
    url: null, mode: 'both', rate: 10, duration: 10, concurrency: 64, passages: 100, preset: 'tiny-cross',
    wsConnections: 4, encoding: 'json', apiKey: process.env.CROSSGATE_API_KEY ?? null, workers: null, threads: null,
    maxBatchTokens: null, raw: true, reps: 20, json: false,
  };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} takes a number from ${min} to ${max}; got ${v ?? 'nothing'}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const v = argv[i + 1];
    switch (f) {
      case '--url': a.url = v ?? ''; i++; break;
      case '--mode':
        if (!['http', 'ws', 'both', 'ttfp'].includes(v ?? '')) throw new Error(`--mode takes http, ws, both or ttfp; got ${v}\n${USAGE}`);
        a.mode = v as Mode; i++; break;
      case '--rate': a.rate = num(f, v, 0.1, 5000); i++; break;
      case '--duration': a.duration = num(f, v, 1, 300); i++; break;
      case '--concurrency': a.concurrency = Math.floor(num(f, v, 1, 1024)); i++; break;
      case '--passages': a.passages = Math.floor(num(f, v, 1, 1000)); i++; break;
      case '--preset':
        if (!PRESETS.includes(v as Preset)) throw new Error(`--preset takes ${PRESETS.join(' or ')}; got ${v}`);
        a.preset = v as Preset; i++; break;
      case '--ws-connections': a.wsConnections = Math.floor(num(f, v, 1, 64)); i++; break;
      case '--encoding':
        if (v !== 'json' && v !== 'binary') throw new Error(`--encoding takes json or binary; got ${v}`);
        a.encoding = v; i++; break;
      case '--api-key': a.apiKey = v ?? null; i++; break;
      case '--workers': a.workers = Math.floor(num(f, v, 1, 64)); i++; break;
      case '--threads': a.threads = Math.floor(num(f, v, 1, 256)); i++; break;
      case '--max-batch-tokens': a.maxBatchTokens = Math.floor(num(f, v, 16, 1_048_576)); i++; break;
      case '--no-raw': a.raw = false; break;
      case '--reps': a.reps = Math.floor(num(f, v, 1, 1000)); i++; break;
      case '--json': a.json = true; break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${f}\n${USAGE}`);
    }
  }
  if (a.url !== null) {
    let u: URL;
    try { u = new URL(a.url); } catch { throw new Error(`--url ${a.url} is not a URL; e.g. http://127.0.0.1:8080`); }
    if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(u.hostname)) {
      throw new Error(`--url ${a.url}: this load test only drives loopback servers (127.0.0.1, localhost, ::1)`);
    }
    a.url = `${u.protocol}//${u.host}`;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------------------------

const WORDS = ('the of and a to in is was for on that with as by at from his her an were are which this be or has had ' +
  'river bank loan interest rate model score rank passage query vector index batch token worker thread queue stream ' +
  'socket frame partial final cancel gate answer relevant search retrieve dense cross encoder memory buffer drain ' +
  'limit close open schema spring autumn city market history science music language student research').split(' ');

/** Deterministic passages of 30..90 words (about 40..120 tokens), like retrieved paragraphs. */
function makePassages(n: number, seed: number): string[] {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  return Array.from({ length: n }, () => {
    const len = 30 + Math.floor(rnd() * 60);
    const w: string[] = [];
    for (let k = 0; k < len; k++) w.push(WORDS[Math.floor(rnd() * WORDS.length)]);
    return w.join(' ');
  });
}
const QUERY = 'what interest rate does the river bank charge on a loan';

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

interface PhaseResult {
  protocol: 'http' | 'ws';
  scheduled: number;
  completed: number;
  /** Arrivals skipped because --concurrency requests were already in flight. */
  shed: number;
  errors: Record<string, number>;
  elapsedS: number;
  throughput: number;
  pairsPerS: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  firstPartialMs?: { p50: number; p95: number; p99: number };
}

function summarize(protocol: 'http' | 'ws', scheduled: number, shed: number, lat: number[], ttfp: number[], errors: Record<string, number>, elapsedS: number, passages: number): PhaseResult {
  const s = [...lat].sort((a, b) => a - b);
  const r: PhaseResult = {
    protocol, scheduled, completed: lat.length, shed, errors, elapsedS,
    throughput: lat.length / elapsedS, pairsPerS: (lat.length * passages) / elapsedS,
    latencyMs: { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.at(-1) ?? NaN },
  };
  if (ttfp.length > 0) {
    const t = [...ttfp].sort((a, b) => a - b);
    r.firstPartialMs = { p50: percentile(t, 50), p95: percentile(t, 95), p99: percentile(t, 99) };
  }
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fires `fire(i, due)` at `rate` per second for `durationS`, skipping arrivals while `concurrency`
 * are in flight; resolves when every fired request settled (or 60 s after the last arrival).
 */
async function openLoop(rate: number, durationS: number, concurrency: number, fire: (i: number, due: number) => Promise<void>): Promise<{ scheduled: number; shed: number; elapsedS: number }> {
  const interval = 1000 / rate;
  const t0 = performance.now();
  const end = t0 + durationS * 1000;
  let inFlight = 0;
  let shed = 0;
  let i = 0;
  const pending = new Set<Promise<void>>();
  for (; ; i++) {
    const due = t0 + i * interval;
    if (due >= end) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    if (inFlight >= concurrency) { shed++; continue; }
    inFlight++;
    const p = fire(i, due).finally(() => { inFlight--; pending.delete(p); });
    pending.add(p);
  }
  await Promise.race([Promise.allSettled([...pending]), sleep(60_000)]);
  return { scheduled: i, shed, elapsedS: (performance.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

async function runHttp(base: string, a: Args, passages: string[]): Promise<PhaseResult> {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  const body = JSON.stringify({ query: QUERY, texts: passages });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (a.apiKey) headers.authorization = `Bearer ${a.apiKey}`;
  const { scheduled, shed, elapsedS } = await openLoop(a.rate, a.duration, a.concurrency, async (_i, due) => {
    try {
      const r = await fetch(`${base}/rerank`, { method: 'POST', headers, body });
      const text = await r.text();
      if (r.status === 200) lat.push(performance.now() - due);
      else {
        let type = `http_${r.status}`;
        try { type = (JSON.parse(text) as { error_type?: string }).error_type ?? type; } catch { /* not JSON */ }
        errors[type] = (errors[type] ?? 0) + 1;
      }
    } catch (e) {
      const type = `network: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`;
      errors[type] = (errors[type] ?? 0) + 1;
    }
  });
  return summarize('http', scheduled, shed, lat, [], errors, elapsedS, passages.length);
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

interface Pending { due: number; firstPartial: number | null; resolve: (m: ServerMessage) => void }

class WsConn {
  readonly pending = new Map<string, Pending>();
  closed: string | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let m: ServerMessage;
      try {
        m = decodeServerFrame(isBinary ? new Uint8Array(data) : data.toString('utf8'), isBinary);
      } catch (e) {
        this.failAll(`undecodable frame: ${(e as Error).message}`);
        return;
      }
      const id = 'id' in m ? m.id : undefined;
      const p = id === undefined ? undefined : this.pending.get(id);
      if (!p) return;
      if (m.type === 'partial' && p.firstPartial === null) p.firstPartial = performance.now();
      if (m.type === 'final' || m.type === 'error') {
        this.pending.delete(id!);
        p.resolve(m);
      }
    });
    ws.on('close', (code: number, reason: Buffer) => this.failAll(`socket closed ${code} ${reason.toString()}`));
    ws.on('error', (e: Error) => this.failAll(`socket error ${e.message}`));
  }

  private failAll(why: string): void {
    this.closed ??= why;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ type: 'error', id, error: why, error_type: 'connection' });
    }
  }

  static open(url: string, apiKey: string | null): Promise<WsConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {}, maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => resolve(new WsConn(ws)));
      ws.once('unexpected-response', (_q, res) => reject(new Error(`WS upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  request(id: string, passages: string[], encoding: FrameEncoding, due: number): Promise<{ msg: ServerMessage; firstPartial: number | null }> {
    return new Promise((resolve) => {
      if (this.closed) { resolve({ msg: { type: 'error', id, error: this.closed, error_type: 'connection' }, firstPartial: null }); return; }
      const p: Pending = { due, firstPartial: null, resolve: (msg) => resolve({ msg, firstPartial: p.firstPartial }) };
      this.pending.set(id, p);
      this.ws.send(encodeFrame({ type: 'rerank', id, query: QUERY, passages }, encoding), { binary: encoding === 'binary' });
    });
  }

  close(): void { this.ws.close(1000); }
}

function wsUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}/ws`;
}

async function runWs(base: string, a: Args, passages: string[]): Promise<PhaseResult> {
  const conns = await Promise.all(Array.from({ length: a.wsConnections }, () => WsConn.open(wsUrl(base), a.apiKey)));
  const lat: number[] = [];
  const ttfp: number[] = [];
  const errors: Record<string, number> = {};
  const { scheduled, shed, elapsedS } = await openLoop(a.rate, a.duration, a.concurrency, async (i, due) => {
    const { msg, firstPartial } = await conns[i % conns.length].request(`q${i}`, passages, a.encoding, due);
    if (msg.type === 'final') {
      lat.push(performance.now() - due);
      if (firstPartial !== null) ttfp.push(firstPartial - due);
    } else {
      const type = msg.type === 'error' ? msg.error_type : msg.type;
      errors[type] = (errors[type] ?? 0) + 1;
    }
  });
  for (const c of conns) c.close();
  return summarize('ws', scheduled, shed, lat, ttfp, errors, elapsedS, passages.length);
}

/** Sequential requests on one socket: time to first partial vs time to final. */
async function runTtfp(base: string, a: Args, passages: string[]): Promise<{ reps: number; firstMs: number[]; finalMs: number[]; partials: number[] }> {
  const conn = await WsConn.open(wsUrl(base), a.apiKey);
  const firstMs: number[] = [];
  const finalMs: number[] = [];
  const partials: number[] = [];
  // Partials are counted from the frames of each request.
  let partialCount = 0;
  conn.ws.on('message', (data: Buffer, isBinary: boolean) => {
    if ((isBinary ? -1 : data.indexOf('"type":"partial"')) >= 0) partialCount++;
  });
  const warm = 3;
  for (let k = 0; k < warm + a.reps; k++) {
    partialCount = 0;
    const ps = makePassages(passages.length, 1000 + k);
    const t0 = performance.now();
    const { msg, firstPartial } = await conn.request(`t${k}`, ps, 'json', t0);
    const t1 = performance.now();
    if (msg.type !== 'final') throw new Error(`request t${k} failed: ${msg.type === 'error' ? `${msg.error_type}: ${msg.error}` : msg.type}`);
    if (k < warm) continue;
    firstMs.push((firstPartial ?? t1) - t0);
    finalMs.push(t1 - t0);
    partials.push(partialCount);
  }
  conn.close();
  return { reps: a.reps, firstMs, finalMs, partials };
}

// ---------------------------------------------------------------------------------------------
// Machine, server info, and the raw-model peer
// ---------------------------------------------------------------------------------------------

function machine(): Record<string, unknown> {
  let flags: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^(flags|Features)\s*:\s*(.*)$/m.exec(info);
    if (line) flags = line[2].split(/\s+/).filter((f) => /^(avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16|amx_tile|fma|f16c|asimd|neon|sve)$/.test(f));
  } catch { /* not Linux */ }
  return {
    cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), platform: `${platform()} ${arch()}`,
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1), cpu_flags: flags, node: process.version,
  };
}

interface ServerInfo { execution_providers?: string[]; models?: { name: string; kind: string; execution_providers?: string[] }[]; limits?: Record<string, { value: unknown }> }

async function serverInfo(base: string, apiKey: string | null): Promise<ServerInfo> {
  const r = await fetch(`${base}/info`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (r.status !== 200) throw new Error(`GET ${base}/info answered ${r.status}: ${await r.text()}`);
  return await r.json() as ServerInfo;
}

/** The peer: the same model in this process, saturated by `concurrency` parallel score() calls, in pairs/s. */
async function rawThroughput(dir: string, a: Args, cfg: ServerConfig, passages: string[], seconds: number): Promise<number> {
  const enc = await CrossEncoder.load(dir, { workers: cfg.workers, threads: cfg.threads, maxBatchTokens: cfg.maxBatchTokens });
  try {
    await enc.score(QUERY, passages.slice(0, 8));
    const end = performance.now() + seconds * 1000;
    let pairs = 0;
    const t0 = performance.now();
    const loops = Math.max(1, Math.min(a.concurrency, 8));
    await Promise.all(Array.from({ length: loops }, async () => {
      while (performance.now() < end) {
        await enc.score(QUERY, passages);
        pairs += passages.length;
      }
    }));
    return pairs / ((performance.now() - t0) / 1000);
  } finally {
    await enc.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A server in a child process (when no --url): this same file, run with --serve-child.
// ---------------------------------------------------------------------------------------------

async function serveChild(): Promise<void> {
  const { config, dir } = JSON.parse(process.argv[3]) as { config: ServerConfig; dir: string };
  const s = await startServer(config, { rerankers: [{ name: 'bench', dir }], embedders: [] }, { log: () => undefined });
  process.send!({ port: s.port });
  process.on('message', (m) => {
    if (m === 'shutdown') void s.shutdown('load test over').then(() => process.exit(0));
  });
}

function startChild(config: ServerConfig, dir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--serve-child', JSON.stringify({ config, dir })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`the server child exited with ${code} before listening`)));
  });
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function fmtMs(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1);
}

function printPhase(r: PhaseResult): void {
  const errs = Object.entries(r.errors).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
  console.log(`${r.protocol.toUpperCase().padEnd(4)} scheduled ${r.scheduled}, completed ${r.completed}, shed ${r.shed} (concurrency cap), errors: ${errs}`);
  console.log(`     throughput ${r.throughput.toFixed(2)} req/s = ${r.pairsPerS.toFixed(0)} pairs/s over ${r.elapsedS.toFixed(1)} s`);
  console.log(`     latency ms p50 ${fmtMs(r.latencyMs.p50)}  p95 ${fmtMs(r.latencyMs.p95)}  p99 ${fmtMs(r.latencyMs.p99)}  max ${fmtMs(r.latencyMs.max)}`);
  if (r.firstPartialMs) console.log(`     first partial ms p50 ${fmtMs(r.firstPartialMs.p50)}  p95 ${fmtMs(r.firstPartialMs.p95)}  p99 ${fmtMs(r.firstPartialMs.p99)}`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve-child') { await serveChild(); return; }
  const a = parseArgs(process.argv.slice(2));
  const passages = makePassages(a.passages, 42);
  let base = a.url;
  let child: ChildProcess | null = null;
  let rawPairsPerS: number | null = null;
  try {
    if (base === null) {
      const dir = await ensureGenerated(a.preset);
      const config: ServerConfig = { ...defaultConfig(), host: '127.0.0.1', port: 0, apiKey: a.apiKey };
      if (a.workers !== null) config.workers = a.workers;
      if (a.threads !== null) config.threads = a.threads;
      if (a.maxBatchTokens !== null) config.maxBatchTokens = a.maxBatchTokens;
      config.maxConcurrentRequests = Math.max(config.maxConcurrentRequests, a.concurrency);
      // The peer runs first, alone on the machine, with the server's inference settings.
      if (a.raw && a.mode !== 'ttfp') rawPairsPerS = await rawThroughput(dir, a, config, passages, Math.min(10, a.duration));
      const started = await startChild(config, dir);
      child = started.child;
      base = `http://127.0.0.1:${started.port}`;
    }
    const info = await serverInfo(base, a.apiKey);
    const lim = (k: string) => info.limits?.[k]?.value;
    const header = {
      machine: machine(),
      server: { url: base, started_here: child !== null, preset: child ? a.preset : null, models: info.models?.map((m) => m.name),
        execution_providers: info.execution_providers, workers: lim('workers'), threads: lim('threads'), max_batch_tokens: lim('max_batch_tokens') },
      load: { mode: a.mode, rate: a.rate, duration_s: a.duration, concurrency: a.concurrency, passages: a.passages, ws_connections: a.wsConnections, encoding: a.encoding },
    };
    if (!a.json) {
      const m = header.machine;
      console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.platform}, ${m.memory_gib} GiB, flags [${(m.cpu_flags as string[]).join(' ')}], node ${m.node}`);
      console.log(`server:  ${base}${child ? ` (started here, ${a.preset})` : ''}; models ${header.server.models?.join(', ')}; ` +
        `execution provider ${header.server.execution_providers?.join(',')}; workers ${header.server.workers}, threads ${header.server.threads}, max_batch_tokens ${header.server.max_batch_tokens}`);
      console.log(`load:    ${a.mode === 'ttfp' ? `ttfp, ${a.reps} sequential WS requests` : `${a.rate} req/s open-loop for ${a.duration} s, cap ${a.concurrency} in flight`}, ${a.passages} passages per request`);
    }

    if (a.mode === 'ttfp') {
      const t = await runTtfp(base, a, passages);
      const ratios = t.firstMs.map((f, i) => f / t.finalMs[i]);
      const out = { ...header, ttfp: { reps: t.reps, first_partial_ms_p50: median(t.firstMs), final_ms_p50: median(t.finalMs), ratio_of_medians: median(t.firstMs) / median(t.finalMs), ratio_p50: median(ratios), ratio_max: Math.max(...ratios), partials_p50: median(t.partials) } };
      if (a.json) console.log(JSON.stringify(out, null, 2));
      else {
        console.log(`WS time to first partial: p50 ${fmtMs(out.ttfp.first_partial_ms_p50)} ms; time to final: p50 ${fmtMs(out.ttfp.final_ms_p50)} ms; ` +
          `${out.ttfp.partials_p50} partials per request`);
        console.log(`ratio first/final: ${out.ttfp.ratio_of_medians.toFixed(3)} (of medians); per request p50 ${out.ttfp.ratio_p50.toFixed(3)}, max ${out.ttfp.ratio_max.toFixed(3)}; target <= 0.15`);
      }
      return;
    }

    const results: PhaseResult[] = [];
    if (a.mode === 'http' || a.mode === 'both') results.push(await runHttp(base, a, passages));
    if (a.mode === 'ws' || a.mode === 'both') results.push(await runWs(base, a, passages));
    if (a.json) {
      console.log(JSON.stringify({ ...header, peer: rawPairsPerS === null ? null : { raw_model_pairs_per_s: rawPairsPerS }, results }, null, 2));
    } else {
      for (const r of results) printPhase(r);
      if (rawPairsPerS !== null) {
        console.log(`peer: raw CrossEncoder.score in-process, same workers/threads, saturated: ${rawPairsPerS.toFixed(0)} pairs/s`);
        for (const r of results) console.log(`     ${r.protocol} pairs/s / raw pairs/s = ${(r.pairsPerS / rawPairsPerS).toFixed(3)}${r.shed > 0 || Object.keys(r.errors).length > 0 ? ' (saturated)' : ' (offered load below saturation: raise --rate to compare)'}`);
      }
    }
  } finally {
    if (child) {
      child.send('shutdown');
      await new Promise((r) => { child!.once('exit', r); setTimeout(r, 15_000).unref(); });
    }
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message ?? e);
  process.exitCode = 1;
});
