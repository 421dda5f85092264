// HTTP against a Hugging Face hub (or a mirror at HF_ENDPOINT): the model-info listing, per-file metadata
// from resolve URLs (X-Repo-Commit, X-Linked-Etag/-Size, the CDN redirect), and resumable, verified
// downloads. Node's built-in fetch; redirects followed by hand so the token never leaves the hub's origin.
import { VERSION } from '../../version.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, truncate, unlink } from 'node:fs/promises';
import { HubError, networkReason } from './errors.js';
import type { HubSettings } from './settings.js';

export interface Sibling {
  rfilename: string;
  size?: number;
  /** Git object id of the file (for LFS files: of the pointer). */
  blobId?: string;
  lfs?: { sha256: string; size: number; pointerSize?: number };
}

export interface ModelInfo {
  id: string;
  /** The commit the revision resolved to. */
  sha: string;
  siblings: Sibling[];
  gated?: boolean | string;
  private?: boolean;
}

export interface FileMetadata {
  path: string;
  commit: string;
  /** Normalised: quotes and W/ stripped. sha256 for LFS files, git blob id otherwise. */
  etag: string;
  size: number;
  /** Where to GET the bytes (the CDN URL for LFS files). */
  location: string;
  lfs: boolean;
}

export interface ExpectedContent {
  size: number;
  sha256?: string;
  /** Git blob id: sha1("blob <size>\0" + bytes). */
  gitOid?: string;
}

export interface DownloadOptions {
  onBytes?: (done: number, total: number) => void;
  /** Attempts after a cut, stall or transient 5xx before giving up (the partial file is kept for the next run). Default RETRY.retries. */
  retries?: number;
  /** First wait before a retry; it doubles up to RETRY.maxDelayMs. Default RETRY.baseDelayMs. */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * How transient failures are retried, on the shape of huggingface_hub's `http_backoff` (max_retries 5,
 * base_wait_time 1 s, max_wait_time 8 s): a dropped connection, a timeout (no headers within
 * HF_HUB_ETAG_TIMEOUT, no body bytes within HF_HUB_DOWNLOAD_TIMEOUT) and HTTP 500/502/503/504 are tried
 * again after 1, 2, 4, 8, 8 s; a download resumes where it stopped with a Range request. Everything else
 * (401/403 gated or private, 404, 429 rate limit, a checksum mismatch) fails at once: retrying cannot fix it.
 */
export const RETRY = { retries: 5, baseDelayMs: 1000, maxDelayMs: 8000, statuses: [500, 502, 503, 504] as readonly number[] };

export interface RetryOptions {
  retries?: number;
  retryDelayMs?: number;
}

/** Whether a failure is worth another try: the network, a timeout, or a transient server error. */
export function isTransient(e: unknown): boolean {
  return e instanceof HubError && (e.code === 'network' || (e.code === 'server' && e.status !== undefined && RETRY.statuses.includes(e.status)));
}

function backoffMs(attempt: number, baseMs: number): number {
  return Math.min(RETRY.maxDelayMs, baseMs * 2 ** attempt);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const USER_AGENT = `crossgate/${VERSION}; node/${process.versions.node}`;
const MAX_REDIRECTS = 10;

function normalizeEtag(v: string | null): string | null {
  if (!v) return null;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '') || null;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** One request/response exchange the client made, for callers and tests that want to see the traffic. */
export interface RequestRecord {
  method: string;
  url: string;
  status: number;
  range?: string;
}

export class HubClient {
  readonly settings: HubSettings;
  readonly log: RequestRecord[] = [];

  readonly #retries: number;
  readonly #retryDelayMs: number;

  constructor(settings: HubSettings, retry: RetryOptions = {}) {
    this.settings = settings;
    this.#retries = retry.retries ?? RETRY.retries;
    this.#retryDelayMs = retry.retryDelayMs ?? RETRY.baseDelayMs;
  }

  /** Runs `fn`, retrying transient failures (isTransient) with RETRY's backoff. */
  async #retrying<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e) || attempt >= this.#retries || signal?.aborted) throw e;
        await sleep(backoffMs(attempt, this.#retryDelayMs), signal);
      }
    }
  }

  resolveUrl(repoId: string, revision: string, path: string): string {
    return `${this.settings.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
  }

  modelInfoUrl(repoId: string, revision: string): string {
    return `${this.settings.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  }

  #headers(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
    // The token is for the hub only: never sent to the CDN a resolve URL redirects to.
    if (this.settings.token && new URL(url).origin === new URL(this.settings.endpoint).origin) h.authorization = `Bearer ${this.settings.token}`;
    return h;
  }

  /**
   * fetch with a header timeout; network failures become HubError('network'). With `stream`, `signal`
   * stays linked to the request after the headers, so aborting it also aborts reading the body (the
   * download's stall timer relies on that).
   */
  async #fetch(url: string, init: { method: string; headers?: Record<string, string>; signal?: AbortSignal; stream?: boolean }, what: string): Promise<Response> {
    if (this.settings.offline) throw new HubError('offline', `HF_HUB_OFFLINE is set: not fetching ${what} from ${url}`);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no response within ${this.settings.etagTimeoutS} s (HF_HUB_ETAG_TIMEOUT)`)), this.settings.etagTimeoutS * 1000);
    const onAbort = (): void => ctl.abort(init.signal?.reason);
    init.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await fetch(url, { method: init.method, headers: this.#headers(url, init.headers), redirect: 'manual', signal: ctl.signal });
      this.log.push({ method: init.method, url, status: res.status, ...(init.headers?.range ? { range: init.headers.range } : {}) });
      return res;
    } catch (e) {
      if (init.signal?.aborted) throw init.signal.reason;
      const reason = ctl.signal.aborted ? String((ctl.signal.reason as Error)?.message ?? ctl.signal.reason) : networkReason(e);
      throw new HubError('network', `cannot reach ${new URL(url).origin} for ${what}: ${reason}`, { cause: e });
    } finally {
      clearTimeout(timer);
      if (!init.stream) init.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Turns a failed response into a HubError whose message says what to do. */
  async #fail(res: Response, repoId: string, what: string): Promise<never> {
    const code = res.headers.get('x-error-code');
    const msg = res.headers.get('x-error-message');
    let body = '';
    try {
      body = (await res.text()).slice(0, 200);
    } catch {
      // body unreadable
    }
    const detail = msg ?? (body.trim() || undefined);
    const page = `${this.settings.endpoint}/${repoId}`;
    const tokenNote = this.settings.token
      ? `a token was sent (from ${this.settings.tokenSource}) but that account has no access`
      : 'no token was sent: set HF_TOKEN (or run `huggingface-cli login`)';
    const status = res.status;
    if (code === 'GatedRepo') {
      throw new HubError('gated', `${repoId} is a gated repo (HTTP ${status}); ${tokenNote}. Accept its conditions at ${page} while logged in, then set HF_TOKEN to a read token of that account`, { status });
    }
    if (code === 'RevisionNotFound') throw new HubError('revision_not_found', `${what}: revision not found in ${repoId} (HTTP ${status}); check the branch, tag or commit at ${page}/tree/main`, { status });
    if (code === 'EntryNotFound') throw new HubError('entry_not_found', `${what}: no such file in ${repoId} (HTTP ${status})`, { status });
    if (status === 401 && msg === 'Invalid credentials in Authorization header') {
      throw new HubError('unauthorized', `${what}: the hub rejected the token from ${this.settings.tokenSource} as invalid (HTTP 401); create a new read token at ${this.settings.endpoint}/settings/tokens and set HF_TOKEN`, { status });
    }
    if (status === 401 || status === 403) {
      throw new HubError('unauthorized', `${what}: HTTP ${status}${detail ? ` (${detail})` : ''}; ${repoId} is private, gated or does not exist, and ${tokenNote}. Check the id at ${page}`, { status });
    }
    if (code === 'RepoNotFound' || status === 404) {
      throw new HubError('repo_not_found', `${what}: ${repoId} was not found on ${this.settings.endpoint} (HTTP ${status}); check the spelling (ids look like cross-encoder/ms-marco-MiniLM-L-6-v2)${this.settings.token ? '' : ', or set HF_TOKEN if it is private'}`, { status });
    }
    if (status === 429) throw new HubError('rate_limited', `${what}: the hub is rate-limiting this machine (HTTP 429); wait a minute and run it again${this.settings.token ? '' : ', or set HF_TOKEN (logged-in users get higher limits)'}`, { status });
    if (status >= 500) throw new HubError('server', `${what}: the hub answered HTTP ${status}${detail ? ` (${detail})` : ''}; it is a server-side problem, try again later`, { status });
    throw new HubError('protocol', `${what}: unexpected HTTP ${status}${detail ? ` (${detail})` : ''} from ${res.url || this.settings.endpoint}`, { status });
  }

  /** GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true: the commit and the file listing. */
  modelInfo(repoId: string, revision: string, signal?: AbortSignal): Promise<ModelInfo> {
    return this.#retrying(() => this.#modelInfo(repoId, revision, signal), signal);
  }

  async #modelInfo(repoId: string, revision: string, signal?: AbortSignal): Promise<ModelInfo> {
    const what = `the file listing of ${repoId}@${revision}`;
    let url = this.modelInfoUrl(repoId, revision);
    let res = await this.#fetch(url, { method: 'GET', signal }, what);
    // A renamed repo answers with a relative redirect to its new name.
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < MAX_REDIRECTS; hops++) {
      const loc = res.headers.get('location');
      if (!loc) break;
      url = new URL(loc, url).toString();
      res = await this.#fetch(url, { method: 'GET', signal }, what);
    }
    if (!res.ok) await this.#fail(res, repoId, what);
    let json: unknown;
    try {
      json = await res.json();
    } catch (e) {
      throw new HubError('protocol', `${what}: the answer from ${url} is not JSON (${(e as Error).message}); is HF_ENDPOINT (${this.settings.endpoint}) a Hugging Face hub or mirror?`);
    }
    const info = json as Partial<ModelInfo>;
    if (!info || typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
      throw new HubError('protocol', `${what}: the answer from ${url} has no "sha" and "siblings"; is HF_ENDPOINT (${this.settings.endpoint}) a Hugging Face hub or mirror?`);
    }
    return { id: String(info.id ?? repoId), sha: info.sha, siblings: info.siblings.filter((s) => s && typeof s.rfilename === 'string'), gated: info.gated, private: info.private };
  }

  /**
   * HEAD on the resolve URL, following only relative redirects (a renamed repo) and stopping at the
   * CDN redirect, whose headers carry the LFS file's sha256 (X-Linked-Etag) and size (X-Linked-Size).
   */
  fileMetadata(repoId: string, revision: string, path: string, signal?: AbortSignal): Promise<FileMetadata> {
    return this.#retrying(() => this.#fileMetadata(repoId, revision, path, signal), signal);
  }

  async #fileMetadata(repoId: string, revision: string, path: string, signal?: AbortSignal): Promise<FileMetadata> {
    const what = `${path} of ${repoId}@${revision}`;
    let url = this.resolveUrl(repoId, revision, path);
    let res = await this.#fetch(url, { method: 'HEAD', signal }, what);
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < MAX_REDIRECTS; hops++) {
      const loc = res.headers.get('location');
      if (!loc || /^[a-z][a-z0-9+.-]*:\/\//i.test(loc)) break; // absolute: the CDN; stop here
      url = new URL(loc, url).toString();
      res = await this.#fetch(url, { method: 'HEAD', signal }, what);
    }
    const redirect = res.status >= 300 && res.status < 400;
    if (!res.ok && !redirect) await this.#fail(res, repoId, what);
    const commit = res.headers.get('x-repo-commit');
    const linkedEtag = normalizeEtag(res.headers.get('x-linked-etag'));
    const etag = linkedEtag ?? normalizeEtag(res.headers.get('etag'));
    const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    const size = sizeHeader === null ? NaN : Number(sizeHeader);
    if (!commit) throw new HubError('protocol', `${what}: the answer has no X-Repo-Commit header; ${this.settings.endpoint} does not look like a Hugging Face hub`);
    if (!etag) throw new HubError('protocol', `${what}: the answer has no ETag or X-Linked-Etag; without it the file cannot be verified or cached`);
    if (!Number.isSafeInteger(size) || size < 0) throw new HubError('protocol', `${what}: the answer has no usable size (X-Linked-Size / Content-Length is ${JSON.stringify(sizeHeader)})`);
    const loc = redirect ? res.headers.get('location') : null;
    return { path, commit, etag, size, location: loc ? new URL(loc, url).toString() : url, lfs: linkedEtag !== null || /^[0-9a-f]{64}$/.test(etag) };
  }

  /** GET following every redirect; the token goes only to the hub's own origin. */
  async #get(url: string, headers: Record<string, string>, what: string, signal?: AbortSignal): Promise<Response> {
    let res = await this.#fetch(url, { method: 'GET', headers, signal, stream: true }, what);
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      const loc = res.headers.get('location');
      if (!loc) break;
      if (hops >= MAX_REDIRECTS) throw new HubError('protocol', `${what}: more than ${MAX_REDIRECTS} redirects from ${url}`);
      await res.body?.cancel();
      url = new URL(loc, url).toString();
      res = await this.#fetch(url, { method: 'GET', headers, signal, stream: true }, what);
    }
    return res;
  }

  /**
   * Downloads `meta` into `partPath`, resuming from the bytes already there with a Range request (after a
   * cut within this run, or one from an earlier run), then checks size and hash. A file that does not
   * match is deleted and the call fails; a cut that outlasts the retries keeps the partial file.
   */
  async download(repoId: string, meta: FileMetadata, partPath: string, expected: ExpectedContent, opts: DownloadOptions = {}): Promise<void> {
    const what = `${meta.path} of ${repoId}@${meta.commit.slice(0, 12)}`;
    const retries = opts.retries ?? this.#retries;
    const total = expected.size;
    for (let attempt = 0; ; attempt++) {
      let have = 0;
      try {
        have = (await stat(partPath)).size;
      } catch {
        have = 0;
      }
      if (have > total) {
        await truncate(partPath, 0);
        have = 0;
      }
      if (have === total) break;
      try {
        await this.#fetchInto(repoId, meta, partPath, have, total, what, opts);
        break;
      } catch (e) {
        if (e instanceof HubError && !isTransient(e)) throw e;
        if (opts.signal?.aborted) throw e;
        if (attempt >= retries) {
          let kept = 0;
          try {
            kept = (await stat(partPath)).size;
          } catch {
            // nothing kept
          }
          throw new HubError('network', `${what}: the download broke off ${attempt + 1} times (${e instanceof Error ? e.message : String(e)}); ${kept} of ${total} bytes are kept in ${partPath}, and running the same pull again resumes from there`, { cause: e });
        }
        await sleep(backoffMs(attempt, opts.retryDelayMs ?? this.#retryDelayMs), opts.signal);
      }
    }
    await verifyFile(partPath, expected, what);
  }

  async #fetchInto(repoId: string, meta: FileMetadata, partPath: string, have: number, total: number, what: string, opts: DownloadOptions): Promise<void> {
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    const stall = new AbortController();
    const outer = opts.signal;
    const onAbort = (): void => stall.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    const res = await this.#get(meta.location, headers, what, stall.signal);
    let append = false;
    if (have > 0 && res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel();
        throw new HubError('protocol', `${what}: asked for bytes ${have}- and got Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
      }
      append = true;
    } else if (res.status === 416) {
      // The server cannot serve our range: the partial file is not a prefix of this blob. Start over.
      await res.body?.cancel();
      await truncate(partPath, 0);
      throw new HubError('network', `${what}: the server refused to resume at byte ${have} (HTTP 416); starting over`);
    } else if (res.status !== 200) {
      await this.#fail(res, repoId, what);
    }
    if (!res.body) throw new HubError('protocol', `${what}: the response has no body`);
    const fh = await open(partPath, append ? 'a' : 'w');
    let done = append ? have : 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error(`no data for ${this.settings.downloadTimeoutS} s (HF_HUB_DOWNLOAD_TIMEOUT)`)), this.settings.downloadTimeoutS * 1000);
    };
    try {
      arm();
      opts.onBytes?.(done, total);
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        arm();
        await fh.write(chunk);
        done += chunk.length;
        if (done > total) throw new HubError('integrity', `${what}: the server sent more than the ${total} bytes the hub announced`);
        opts.onBytes?.(done, total);
      }
    } catch (e) {
      if (e instanceof HubError) {
        if (e.code === 'integrity') {
          await fh.close();
          await unlink(partPath).catch(() => undefined);
        }
        throw e;
      }
      if (outer?.aborted) throw outer.reason;
      const reason = stall.signal.aborted ? String((stall.signal.reason as Error)?.message ?? stall.signal.reason) : networkReason(e);
      throw new HubError('network', `connection lost after ${done} of ${total} bytes: ${reason}`, { cause: e });
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
      await fh.close().catch(() => undefined);
    }
    if (done < total) throw new HubError('network', `the response ended after ${done} of ${total} bytes`);
  }
}

/** Checks size, sha256 and/or git blob id of a finished download; deletes the file and throws on mismatch. */
export async function verifyFile(path: string, expected: ExpectedContent, what: string): Promise<void> {
  const size = (await stat(path)).size;
  const fail = async (detail: string): Promise<never> => {
    await unlink(path).catch(() => undefined);
    throw new HubError('integrity', `${what} is corrupt: ${detail}. The partial file was deleted; run the pull again, and if it fails the same way the server (or a proxy in between) is serving a damaged file`);
  };
  if (size !== expected.size) await fail(`got ${size} bytes, the hub announced ${expected.size}`);
  if (!expected.sha256 && !expected.gitOid) return;
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1');
  sha1.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    if (expected.sha256) sha256.update(chunk as Buffer);
    if (expected.gitOid) sha1.update(chunk as Buffer);
  }
  if (expected.sha256) {
    const got = sha256.digest('hex');
    if (got !== expected.sha256.toLowerCase()) await fail(`its sha256 is ${got}, the hub says ${expected.sha256}`);
  }
  if (expected.gitOid) {
    const got = sha1.digest('hex');
    if (got !== expected.gitOid.toLowerCase()) await fail(`its git blob id is ${got}, the hub says ${expected.gitOid}`);
  }
}
