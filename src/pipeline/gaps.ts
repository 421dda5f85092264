// The gap log: an append-only JSON Lines file that durably records every decision the collection could not
// answer well (no_relevant, ambiguous, answer_from_fallback), plus query-free tallies of the answered ones
// so a no-result rate can be computed. One writer at a time across processes (a pid lock file); bounded by age and size.
import { open, mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { DecisionRecorder, GapRecordStatus, GateDecision, GateOutcome } from './precision.js';

export const GAP_LOG_FORMAT = 'crossgate-gaps';
export const GAP_LOG_VERSION = 1;
/** Queries can hold personal data: keep them 90 days by default, then drop them at the next compaction. */
export const DEFAULT_GAP_MAX_AGE_DAYS = 90;
/** The log never grows past this; compaction keeps the newest entries in half of it. 16 MiB is ~50,000 gaps. */
export const DEFAULT_GAP_MAX_BYTES = 16 * 1024 * 1024;
/** How long a write waits for another process holding the log before giving up (the search still answers). */
export const DEFAULT_GAP_LOCK_TIMEOUT_MS = 2000;
/** Candidate ids kept per entry: enough to see what the collection offered, small enough to keep lines short. */
export const GAP_TOP_IDS = 5;
/**
 * Answer tallies are counted in memory and written with the next gap or after this long, so an answered
 * search never waits for the file (a crash loses at most this much of the tallies, never a gap).
 */
export const TALLY_FLUSH_MS = 5000;
/** How often a long-running writer drops entries past the retention age (besides whenever the size limit is hit). */
export const AGE_CHECK_INTERVAL_MS = 3_600_000;
/** A query longer than this is cut in the log (a pasted document is not a query worth keeping whole). */
export const GAP_MAX_QUERY_CHARS = 2000;

/** One line of the log. Tallies (outcome answer) carry no query, only the time, outcome and collection. */
export interface GapEntry {
  t: string;
  outcome: GateOutcome;
  collection: string;
  query?: string;
  /** Best cross-encoder probability over every candidate; null when nothing was retrieved. */
  best?: number | null;
  /** Ids of the best candidates, highest probability first. */
  top?: string[];
  /** 'retriever:mode' of every retrieval that ran. */
  path?: string[];
  candidates?: number;
  /** Answer tallies: how many answers this line stands for (buffered ones are written together). */
  count?: number;
}

/** What record() did; it never throws, so the search that called it always answers. */
export type { GapRecordStatus };

export type GapLogErrorKind = 'corrupt' | 'locked' | 'io';

export class GapLogError extends Error {
  readonly kind: GapLogErrorKind;
  constructor(kind: GapLogErrorKind, message: string) {
    super(message);
    this.name = 'GapLogError';
    this.kind = kind;
  }
}

export interface GapLogOptions {
  maxAgeDays?: number;
  maxBytes?: number;
  lockTimeoutMs?: number;
  /** Also append query-free tallies of answered decisions (not fsynced), for the no-result rate. Default true. */
  recordAnswers?: boolean;
}

/** The default log of a collection directory: a sibling file, because saving a collection replaces its directory. */
export function defaultGapLogPath(indexDir: string): string {
  return `${resolve(indexDir)}.gaps.jsonl`;
}

function header(): string {
  return JSON.stringify({ format: GAP_LOG_FORMAT, version: GAP_LOG_VERSION, created: new Date().toISOString() });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function positive(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new RangeError(`${name} is ${String(x)}; expected a positive number (default ${dflt})`);
  return x;
}

/** Checks the first line of a log; throws a corrupt GapLogError naming the file and the fix. */
export function checkHeader(path: string, firstLine: string): void {
  let h: { format?: unknown; version?: unknown } | null = null;
  try {
    h = JSON.parse(firstLine) as { format?: unknown; version?: unknown };
  } catch {
    h = null;
  }
  if (!h || h.format !== GAP_LOG_FORMAT) {
    throw new GapLogError('corrupt', `gap log ${path} is not a crossgate gap log (its first line is ${JSON.stringify(firstLine.slice(0, 60))}); move it aside or point --gap-log elsewhere`);
  }
  if (h.version !== GAP_LOG_VERSION) {
    throw new GapLogError('corrupt', `gap log ${path} is format version ${String(h.version)}; this crossgate writes version ${GAP_LOG_VERSION}; move it aside to start a new log`);
  }
}

/**
 * An append-only, fsynced JSONL gap log. record() is safe to call concurrently (in one process the writes
 * queue; across processes a pid lock file serialises them and a lock left by a dead process is taken over).
 */
export class GapLog implements DecisionRecorder {
  readonly path: string;
  readonly lockPath: string;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly lockTimeoutMs: number;
  readonly recordAnswers: boolean;
  #queue: Promise<unknown> = Promise.resolve();
  /** Answers counted but not written yet, per collection. */
  readonly #pending = new Map<string, number>();
  #flushTimer: NodeJS.Timeout | null = null;
  /** When the next write checks the oldest entry's age (the first write, then hourly: a server runs for months). */
  #nextAgeCheck = 0;

  constructor(path: string, opts: GapLogOptions = {}) {
    this.path = resolve(path);
    this.lockPath = `${this.path}.lock`;
    this.maxAgeMs = positive('maxAgeDays', opts.maxAgeDays, DEFAULT_GAP_MAX_AGE_DAYS) * 86_400_000;
    this.maxBytes = positive('maxBytes', opts.maxBytes, DEFAULT_GAP_MAX_BYTES);
    this.lockTimeoutMs = positive('lockTimeoutMs', opts.lockTimeoutMs, DEFAULT_GAP_LOCK_TIMEOUT_MS);
    this.recordAnswers = opts.recordAnswers ?? true;
  }

  /** The entry a decision becomes: a gap for no_relevant/ambiguous/fallback, a tally for an answer. */
  static entryOf(decision: GateDecision, collection: string, now = new Date()): GapEntry {
    const base: GapEntry = { t: now.toISOString(), outcome: decision.outcome, collection };
    if (decision.outcome === 'answer') return base;
    const ranked = [...decision.kept, ...decision.dropped];
    return {
      ...base,
      query: decision.query.length > GAP_MAX_QUERY_CHARS ? decision.query.slice(0, GAP_MAX_QUERY_CHARS) : decision.query,
      best: decision.bestProbability,
      top: ranked.slice(0, GAP_TOP_IDS).map((c) => c.id ?? `#${c.index}`),
      path: decision.path.filter((s) => s.status === 'ran').map((s) => `${s.retriever}:${s.mode}`),
      candidates: decision.candidates.length,
    };
  }

  /**
   * Records `decision`. Gaps are written and fsynced before the promise resolves; answers are counted in
   * memory (recorded: true means counted) and written with the next gap, within TALLY_FLUSH_MS, or at
   * close() (or not at all with recordAnswers false). Never throws: a failure comes back as {recorded: false, error}.
   */
  async record(decision: GateDecision, collection: string): Promise<GapRecordStatus> {
    const kind = decision.outcome === 'answer' ? 'tally' : 'gap';
    if (kind === 'tally' && !this.recordAnswers) return { path: this.path, kind, recorded: false, error: null };
    if (kind === 'tally') {
      this.#pending.set(collection, (this.#pending.get(collection) ?? 0) + 1);
      if (this.#flushTimer === null) {
        this.#flushTimer = setTimeout(() => {
          this.#flushTimer = null;
          this.flush().catch(() => undefined); // a failed flush keeps the counts for the next write
        }, TALLY_FLUSH_MS);
        this.#flushTimer.unref();
      }
      return { path: this.path, kind, recorded: true, error: null };
    }
    try {
      await this.append(GapLog.entryOf(decision, collection), kind === 'gap');
      return { path: this.path, kind, recorded: true, error: null };
    } catch (e) {
      return { path: this.path, kind, recorded: false, error: (e as Error).message };
    }
  }

  /** Appends one entry (and the buffered tallies); resolves once written (and fsynced when `sync`). Throws GapLogError. */
  append(entry: GapEntry, sync = true): Promise<void> {
    return this.#enqueue(JSON.stringify(entry), sync);
  }

  /** Writes the buffered answer tallies now. Throws GapLogError (the counts stay buffered). */
  flush(): Promise<void> {
    return this.#enqueue(null, false);
  }

  /** Writes the buffered tallies and stops the flush timer; call it before the process exits. */
  async close(): Promise<void> {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    await this.flush();
  }

  #enqueue(line: string | null, sync: boolean): Promise<void> {
    const p = this.#queue.then(() => this.#appendNow(line, sync));
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** The buffered tallies as lines (cleared); `restore` puts them back when the write fails. */
  #takeTallies(): { text: string; restore(): void } {
    const taken = [...this.#pending.entries()];
    this.#pending.clear();
    const t = new Date().toISOString();
    return {
      text: taken.map(([collection, count]) => JSON.stringify({ t, outcome: 'answer', collection, count }) + '\n').join(''),
      restore: () => {
        for (const [c, n] of taken) this.#pending.set(c, (this.#pending.get(c) ?? 0) + n);
      },
    };
  }

  async #appendNow(line: string | null, sync: boolean): Promise<void> {
    if (line === null && this.#pending.size === 0) return;
    try {
      await mkdir(dirname(this.path), { recursive: true });
    } catch (e) {
      throw new GapLogError('io', `gap log ${this.path}: cannot create its directory (${(e as Error).message}); pass a writable --gap-log path or --no-gap-log`);
    }
    const release = await this.#lock();
    try {
      let fh;
      try {
        fh = await open(this.path, 'a+');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EISDIR') throw new GapLogError('corrupt', `gap log ${this.path} is a directory; pass a file path with --gap-log`);
        throw new GapLogError('io', `gap log ${this.path} cannot be opened for appending (${(e as Error).message}); pass a writable --gap-log path or --no-gap-log`);
      }
      let size: number;
      let created = false;
      try {
        const st = await fh.stat();
        let prefix = '';
        if (st.size === 0) {
          prefix = header() + '\n';
          created = true;
        } else {
          const head = Buffer.alloc(Math.min(st.size, 256));
          await fh.read(head, 0, head.length, 0);
          checkHeader(this.path, head.toString('utf8').split('\n')[0]);
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, st.size - 1);
          // A line torn by a crash mid-write (never acknowledged) is left for readers to skip; start a fresh line.
          if (last[0] !== 0x0a) prefix = '\n';
        }
        const tallies = this.#takeTallies();
        const data = prefix + tallies.text + (line === null ? '' : line + '\n');
        try {
          await fh.appendFile(data, 'utf8');
          if (sync) await fh.datasync();
        } catch (e) {
          tallies.restore();
          throw e;
        }
        size = st.size + Buffer.byteLength(data);
      } catch (e) {
        if (e instanceof GapLogError) throw e;
        throw new GapLogError('io', `gap log ${this.path}: write failed (${(e as Error).message}); the decision was not recorded`);
      } finally {
        await fh.close();
      }
      if (created) await syncDir(dirname(this.path));
      if (size > this.maxBytes || Date.now() >= this.#nextAgeCheck) {
        this.#nextAgeCheck = Date.now() + AGE_CHECK_INTERVAL_MS;
        await this.#compactIfNeeded(size);
      }
    } finally {
      await release();
    }
  }

  /** Drops entries older than maxAge, then the oldest until the file fits in half of maxBytes. Holds the lock. */
  async #compactIfNeeded(size: number): Promise<void> {
    const cutoff = Date.now() - this.maxAgeMs;
    if (size <= this.maxBytes) {
      // Under the size limit: only the oldest entry's age matters, and it is on line 2.
      const fh = await open(this.path, 'r');
      let head: string;
      try {
        const buf = Buffer.alloc(Math.min(size, 8192));
        await fh.read(buf, 0, buf.length, 0);
        head = buf.toString('utf8');
      } finally {
        await fh.close();
      }
      let oldest: number;
      try {
        oldest = Date.parse((JSON.parse(head.split('\n')[1] ?? '') as GapEntry).t);
      } catch {
        oldest = -Infinity; // unreadable (or longer than the head): let compaction clean it up
      }
      if (oldest >= cutoff) return;
    }
    const lines = (await readFile(this.path, 'utf8')).split('\n');
    const budget = Math.floor(this.maxBytes / 2);
    const keep: string[] = [];
    let bytes = 0;
    for (let i = lines.length - 1; i >= 1; i--) {
      const l = lines[i];
      if (l.length === 0) continue;
      let t: number;
      try {
        t = Date.parse((JSON.parse(l) as GapEntry).t);
      } catch {
        continue;
      }
      if (!(t >= cutoff)) continue;
      const n = Buffer.byteLength(l) + 1;
      if (bytes + n > budget) break;
      bytes += n;
      keep.push(l);
    }
    keep.reverse();
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(lines[0] + '\n' + keep.map((l) => l + '\n').join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
  }

  /** Takes the cross-process lock: creates <log>.lock holding our pid; a dead holder's lock is taken over. */
  async #lock(): Promise<() => Promise<void>> {
    const deadline = performance.now() + this.lockTimeoutMs;
    let wait = 5;
    for (;;) {
      try {
        await writeFile(this.lockPath, String(process.pid), { flag: 'wx' });
        return async () => {
          await unlink(this.lockPath).catch(() => undefined);
        };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new GapLogError('io', `gap log ${this.path}: cannot create its lock file ${this.lockPath} (${(e as Error).message}); pass a writable --gap-log path or --no-gap-log`);
        }
      }
      const holder = await readFile(this.lockPath, 'utf8').catch(() => '');
      const pid = /^\d+$/.test(holder.trim()) ? Number(holder.trim()) : NaN;
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
        await rm(this.lockPath, { force: true });
        continue;
      }
      if (!Number.isInteger(pid)) {
        // Created but not yet written (or left empty by a crash right after creating it): stale once old.
        const st = await stat(this.lockPath).catch(() => null);
        if (st && Date.now() - st.mtimeMs > this.lockTimeoutMs) {
          await rm(this.lockPath, { force: true });
          continue;
        }
      }
      if (performance.now() >= deadline) {
        throw new GapLogError(
          'locked',
          `gap log ${this.path} is locked by ${Number.isInteger(pid) ? `process ${pid}` : 'another process'} (lock file ${this.lockPath}) for over ${this.lockTimeoutMs} ms; ` +
            `the decision was not recorded; if that process is gone, delete ${this.lockPath}`,
        );
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 50);
    }
  }
}

async function syncDir(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
  } finally {
    await fh?.close();
  }
}

/** What readGapLog found: the entries (oldest first) and the lines it had to skip. */
export interface GapLogContents {
  path: string;
  exists: boolean;
  entries: GapEntry[];
  /** Lines that are not an entry (a line torn by a crash, hand edits). */
  skipped: number;
  firstSkippedLine: number | null;
}

/** Reads a gap log; entries before `since` are left out. A missing file is an empty log; a foreign file is a corrupt GapLogError. */
export async function readGapLog(path: string, opts: { since?: Date } = {}): Promise<GapLogContents> {
  const full = resolve(path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { path: full, exists: false, entries: [], skipped: 0, firstSkippedLine: null };
    if (code === 'EISDIR') throw new GapLogError('corrupt', `gap log ${full} is a directory; pass the log file with --gap-log`);
    throw new GapLogError('io', `gap log ${full} cannot be read (${(e as Error).message})`);
  }
  const lines = text.split('\n');
  if (text.length === 0) return { path: full, exists: true, entries: [], skipped: 0, firstSkippedLine: null };
  checkHeader(full, lines[0]);
  const since = opts.since?.getTime() ?? -Infinity;
  const entries: GapEntry[] = [];
  let skipped = 0;
  let firstSkippedLine: number | null = null;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.length === 0) continue;
    let e: GapEntry | null = null;
    try {
      e = JSON.parse(l) as GapEntry;
    } catch {
      e = null;
    }
    const t = e && typeof e.t === 'string' ? Date.parse(e.t) : NaN;
    if (!e || typeof e !== 'object' || !Number.isFinite(t) || typeof e.outcome !== 'string') {
      skipped++;
      firstSkippedLine ??= i + 1;
      continue;
    }
    if (t >= since) entries.push(e);
  }
  return { path: full, exists: true, entries, skipped, firstSkippedLine };
}
