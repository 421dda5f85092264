// Real retrieval engines for the tests, on loopback: a Chroma server from the chromadb npm package
// (`chroma run`) and a PostgreSQL server from Debian on a throwaway data directory, each stopped after.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { acceptsConnections, freePort } from '../benchmarks/lib/replicas.js';
import { RetrieverError } from '../src/retrievers/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export { freePort };

/** Asserts that `p` rejects with a RetrieverError of `kind` whose message matches `re`. */
export async function expectRetrieverError(p: Promise<unknown>, kind: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RetrieverError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
}

/** Runs `fn` against a loopback server that accepts connections and never answers (a hung engine). */
export async function withHungServer(fn: (port: number) => Promise<void>): Promise<void> {
  const sockets: Socket[] = [];
  const hung: Server = createServer((s) => { sockets.push(s); });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  try {
    await fn((hung.address() as { port: number }).port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hung.close(r));
  }
}

/** One batch, as ingest() takes them. */
export async function* once<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

/** Waits for a line matching `re` on the child's stdout or stderr; rejects with its output if it exits first. */
function waitForLine(child: ChildProcess, re: RegExp, what: string, deadlineMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`${what} printed no ${re} within ${deadlineMs} ms; output:\n${seen}`)), deadlineMs);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (re.test(seen)) done();
    };
    const onExit = (code: number | null, sig: string | null): void => done(new Error(`${what} exited (${code ?? sig}) before it was ready; output:\n${seen}`));
    function done(e?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (e) reject(e); else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}

export interface ChromaServer {
  port: number;
  url(collection: string): string;
  /** Stops it; keepData leaves the data directory for a restart. */
  stop(keepData?: boolean): Promise<void>;
}

/**
 * `chroma run --path <tmp> --port <free>` from node_modules, ready when its port accepts connections.
 * `again` restarts a stopped server on its port and data (stop(true) keeps them).
 */
export async function startChroma(again?: { port: number; dir: string }): Promise<ChromaServer & { dir: string }> {
  const dir = again?.dir ?? await mkdtemp(join(tmpdir(), 'crossgate-chroma-'));
  const port = again?.port ?? await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/chromadb/dist/cli.mjs'), 'run', '--path', dir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  // The banner comes before the listener; the port accepting connections is the real signal.
  await waitForLine(child, /Connect to Chroma at/, 'chroma run');
  await acceptsConnections(port, 30_000, () => (child.exitCode !== null ? `chroma run exited ${child.exitCode}: ${out}` : null));
  return {
    port,
    dir,
    url: (collection) => `chroma://127.0.0.1:${port}/${collection}`,
    async stop(keepData = false) {
      await stopChild(child);
      if (!keepData) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PostgresServer {
  port: number;
  /** postgres://postgres@127.0.0.1:port/<db> */
  url(db?: string, query?: string): string;
  /** Runs SQL through psql (PostgreSQL's own client, not the adapter under test); returns unaligned rows. */
  psql(sql: string, db?: string): string[];
  stop(): Promise<void>;
}

function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin/postgres'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres); `apt-get install postgresql` (.ci/run does)');
  return join(base, versions[0], 'bin');
}

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` user. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root but there is no postgres user to run PostgreSQL as; `apt-get install postgresql` creates it');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A PostgreSQL server on a fresh data directory and a free loopback port, ready when it says it accepts connections. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBin();
  const user = runAs();
  const dir = await mkdtemp(join(tmpdir(), 'crossgate-pg-'));
  if (user.uid !== undefined) await chown(dir, user.uid, user.gid!);
  const data = join(dir, 'data');
  const env = { ...process.env, LC_ALL: 'C', HOME: dir };
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale'], { ...user, env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  const port = await freePort();
  const child = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], { ...user, env, stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(child, /database system is ready to accept connections/, 'postgres');
  const psqlBin = join(bin, 'psql');
  return {
    port,
    url: (db = 'postgres', query = '') => `postgres://postgres@127.0.0.1:${port}/${db}${query}`,
    psql(sql, db = 'postgres') {
      const r = spawnSync(psqlBin, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-X', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', env });
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l.length > 0);
    },
    async stop() {
      await stopChild(child, 'SIGINT'); // fast shutdown
      await rm(dir, { recursive: true, force: true });
    },
  };
}
