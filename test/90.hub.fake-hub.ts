// A loopback stand-in for the Hugging Face hub and its CDN, for the hub tests: model-info JSON, resolve
// URLs (302 to the CDN for LFS files, with X-Linked-Etag/-Size), Range requests, gated and missing repos,
// and injected faults (a corrupted file, a connection cut halfway or stalled, 5xx answers and dropped
// connections, slow transfers). Not a test file itself.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';

export interface SeenRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | null;
  auth: string | null;
}

interface RepoFile {
  data: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

interface Repo {
  sha: string;
  files: Map<string, RepoFile>;
  gated: boolean;
}

export interface AddRepoOptions {
  gated?: boolean;
  /** Which files are stored with Git LFS (served through the CDN). Default: .onnx and .safetensors/.bin. */
  lfs?: (path: string) => boolean;
  /** Extra files not on disk (e.g. a model.safetensors crossgate must not fetch). */
  extra?: Record<string, string | Buffer>;
  /** Leave these out of the copy of `dir`. */
  skip?: (path: string) => boolean;
}

const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p, base));
    else out.push(relative(base, p).split(sep).join('/'));
  }
  return out;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export class FakeHub {
  readonly requests: SeenRequest[] = [];
  readonly repos = new Map<string, Repo>();
  /** "repo/path" keys whose bytes are served with one byte flipped. */
  readonly corrupt = new Set<string>();
  /** "repo/path" keys whose next full GET is cut after half of the bytes (each entry is used once). */
  readonly cutOnce = new Set<string>();
  /** "repo/path" keys whose next full GET on the CDN sends half of the bytes and then goes quiet, keeping the connection open. */
  readonly stallOnce = new Set<string>();
  /** Answers for the next requests to the hub (listing, resolve) and to the CDN, consumed in order: an HTTP
   *  status (served as an error), or 'reset' (the connection is dropped before any answer). */
  readonly hubFaults: (number | 'reset')[] = [];
  readonly cdnFaults: (number | 'reset')[] = [];
  /** Milliseconds between 64 KiB chunks on the CDN (to make transfers overlap). */
  slowMs = 0;
  readonly token = 'hf_test_token_0123456789';
  hubUrl = '';
  cdnUrl = '';
  #hub!: Server;
  #cdn!: Server;

  static async start(): Promise<FakeHub> {
    const h = new FakeHub();
    const hub = await listen((req, res) => h.#onHub(req, res));
    const cdn = await listen((req, res) => void h.#onCdn(req, res));
    h.#hub = hub.server;
    h.#cdn = cdn.server;
    h.hubUrl = hub.url;
    h.cdnUrl = cdn.url;
    return h;
  }

  async close(): Promise<void> {
    for (const s of [this.#hub, this.#cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  /** Serves the files of a model directory as repo `repoId` at a commit derived from their content. */
  addRepo(repoId: string, dir: string | null, opts: AddRepoOptions = {}): string {
    const isLfs = opts.lfs ?? ((p: string) => /\.(onnx|onnx_data|safetensors|bin)$/.test(p));
    const files = new Map<string, RepoFile>();
    const put = (path: string, data: Buffer): void => {
      files.set(path, { data, lfs: isLfs(path), sha256: sha256(data), gitOid: gitOid(data) });
    };
    if (dir) for (const p of walk(dir)) if (!opts.skip?.(p)) put(p, readFileSync(join(dir, ...p.split('/'))));
    for (const [p, d] of Object.entries(opts.extra ?? {})) put(p, Buffer.isBuffer(d) ? d : Buffer.from(d));
    put('README.md', Buffer.from(`# ${repoId}\n`));
    const h = createHash('sha1').update(repoId);
    for (const [p, f] of [...files].sort()) h.update(p).update(f.sha256);
    const sha = h.digest('hex');
    this.repos.set(repoId, { sha, files, gated: opts.gated ?? false });
    return sha;
  }

  /** A fresh cache under `root` and an environment that points at this hub and nowhere else (no real token, no real cache). */
  cacheEnv(root: string, extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; cache: string } {
    const cache = mkdtempSync(join(root, 'cache-'));
    return { cache, env: { HF_ENDPOINT: this.hubUrl, HF_HUB_CACHE: cache, HOME: join(root, 'home'), HF_HUB_DOWNLOAD_TIMEOUT: '5', ...extra } };
  }

  countRequests(pred: (r: SeenRequest) => boolean): number {
    return this.requests.filter(pred).length;
  }

  #record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({ server, method: req.method ?? '', path: decodeURIComponent((req.url ?? '').split('?')[0]), range: req.headers.range ?? null, auth: req.headers.authorization ?? null });
  }

  #error(res: ServerResponse, status: number, code: string | null, message: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}), 'x-error-message': message, ...extra });
    res.end(JSON.stringify({ error: message }));
  }

  /** Resolves repo + revision with the hub's errors; null when it already answered. */
  #repo(req: IncomingMessage, res: ServerResponse, repoId: string, rev: string): Repo | null {
    const repo = this.repos.get(repoId);
    if (!repo) {
      this.#error(res, 404, 'RepoNotFound', 'Repository not found');
      return null;
    }
    // As on huggingface.co, a gated repo's listing is public; its files are not.
    if (repo.gated && req.headers.authorization !== `Bearer ${this.token}` && !/^\/api\/models\//.test(req.url ?? '')) {
      this.#error(res, 401, 'GatedRepo', `Access to model ${repoId} is restricted. You must be authenticated to access it.`);
      return null;
    }
    if (rev !== 'main' && rev !== repo.sha) {
      this.#error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return null;
    }
    return repo;
  }

  /** Serves the next queued fault, if any; true when it did. */
  #fault(queue: (number | 'reset')[], res: ServerResponse): boolean {
    const f = queue.shift();
    if (f === undefined) return false;
    if (f === 'reset') res.socket?.destroy();
    else this.#error(res, f, null, `injected HTTP ${f}`);
    return true;
  }

  #onHub(req: IncomingMessage, res: ServerResponse): void {
    this.#record('hub', req);
    if (this.#fault(this.hubFaults, res)) return;
    const url = new URL(req.url ?? '/', this.hubUrl);
    const path = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (m && req.method === 'GET') {
      const repo = this.#repo(req, res, m[1], m[2]);
      if (!repo) return;
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = [...repo.files].map(([p, f]) => ({
        rfilename: p,
        ...(blobs ? { size: f.data.length, blobId: f.lfs ? gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.data.length}\n`)) : f.gitOid } : {}),
        ...(blobs && f.lfs ? { lfs: { sha256: f.sha256, size: f.data.length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ _id: 'x', id: m[1], modelId: m[1], sha: repo.sha, private: false, gated: repo.gated ? 'auto' : false, siblings }));
      return;
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      const repo = this.#repo(req, res, m[1], m[2]);
      if (!repo) return;
      const file = repo.files.get(m[3]);
      if (!file) {
        this.#error(res, 404, 'EntryNotFound', `${m[3]} does not exist on "${m[2]}"`, { 'x-repo-commit': repo.sha });
        return;
      }
      const key = `${m[1]}/${m[3]}`;
      if (file.lfs) {
        res.writeHead(302, {
          location: `${this.cdnUrl}/repos/${encodeURIComponent(m[1])}/${file.sha256}?path=${encodeURIComponent(m[3])}`,
          'x-repo-commit': repo.sha,
          'x-linked-etag': `"${file.sha256}"`,
          'x-linked-size': String(file.data.length),
          etag: `"${gitOid(Buffer.from(file.sha256))}"`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      const body = this.corrupt.has(key) ? flip(file.data) : file.data;
      res.writeHead(200, { 'x-repo-commit': repo.sha, etag: `"${file.gitOid}"`, 'content-length': String(body.length), 'accept-ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    this.#error(res, 404, null, 'Not found');
  }

  async #onCdn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#record('cdn', req);
    if (this.#fault(this.cdnFaults, res)) return;
    const url = new URL(req.url ?? '/', this.cdnUrl);
    const m = /^\/repos\/([^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    const repoId = m ? decodeURIComponent(m[1]) : '';
    const path = url.searchParams.get('path') ?? '';
    const file = this.repos.get(repoId)?.files.get(path);
    if (!m || !file || file.sha256 !== m[2]) {
      res.writeHead(404);
      res.end('NoSuchKey');
      return;
    }
    const key = `${repoId}/${path}`;
    const data = this.corrupt.has(key) ? flip(file.data) : file.data;
    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const r = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!r || Number(r[1]) >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        res.end();
        return;
      }
      start = Number(r[1]);
      end = r[2] ? Math.min(Number(r[2]), data.length - 1) : data.length - 1;
      status = 206;
    }
    const body = data.subarray(start, end + 1);
    res.writeHead(status, {
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      etag: `"${file.sha256}"`,
      ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cut = !range && this.cutOnce.delete(key);
    const stall = !range && !cut && this.stallOnce.delete(key);
    const limit = cut || stall ? Math.floor(body.length / 2) : body.length;
    const chunk = 64 * 1024;
    for (let off = 0; off < limit; off += chunk) {
      const piece = body.subarray(off, Math.min(limit, off + chunk));
      // A cut body waits for each piece to be handed to the kernel (its write callback), so the first half
      // goes out before the FIN that destroy() sends.
      if (cut) await new Promise<void>((r) => { res.write(piece, () => r()); });
      else if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      if (this.slowMs) await new Promise((r) => setTimeout(r, this.slowMs));
    }
    if (stall) {
      // Half the bytes, then silence with the connection open, until the client gives up on it.
      await new Promise((r) => res.once('close', r));
      return;
    }
    if (cut) {
      // The first half has reached the socket: drop the connection mid-body.
      res.socket?.destroy();
      return;
    }
    res.end();
  }
}

function flip(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[Math.floor(c.length / 2)] ^= 0x5a;
  return c;
}
