// A cross-process lock file for one blob download: O_EXCL create, a heartbeat that keeps its mtime fresh,
// and stale-lock recovery (dead owner on this host, or no heartbeat for a while on a shared disk).
import { processAlive } from '../../platform.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

export interface LockOptions {
  /** A lock whose heartbeat is older than this is taken over (ms). */
  staleMs?: number;
  heartbeatMs?: number;
  pollMs?: number;
  /** Called once when another live process holds the lock. */
  onWait?: (holder: string) => void;
  signal?: AbortSignal;
}

export type ReleaseLock = () => Promise<void>;

interface Holder {
  pid: number;
  host: string;
}

function readHolder(path: string): Holder | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host } : null;
  } catch {
    return null;
  }
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for and takes the lock at `path`; resolves to the function that releases it. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<ReleaseLock> {
  const staleMs = opts.staleMs ?? 30_000;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(100, Math.floor(staleMs / 6));
  const pollMs = opts.pollMs ?? 100;
  await mkdir(dirname(path), { recursive: true });
  let told = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      } finally {
        await fh.close();
      }
      const beat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, heartbeatMs);
      beat.unref();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        clearInterval(beat);
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(path);
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released between our open and stat
    }
    const deadHere = holder !== null && holder.host === hostname() && holder.pid !== process.pid && !processAlive(holder.pid);
    if (deadHere || age > staleMs) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (!told) {
      told = true;
      opts.onWait?.(holder ? `process ${holder.pid} on ${holder.host}` : 'another process');
    }
    await sleep(pollMs);
  }
}

/** Holders of the live crossgate lock files in `dir` ("process 123 on host"), for refusing to delete under a pull. */
export function activeLockHolders(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (!n.endsWith('.crossgate.lock')) continue;
    const h = readHolder(join(dir, n));
    if (h && (h.host !== hostname() || processAlive(h.pid))) out.push(`process ${h.pid} on ${h.host}`);
  }
  return out;
}
