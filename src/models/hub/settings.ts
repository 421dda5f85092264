// Where the hub lives and how to talk to it: endpoint, token, cache folder, offline mode and timeouts,
// read from the same environment variables huggingface_hub reads, so both tools share one cache.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** Base URL without a trailing slash (HF_ENDPOINT, for mirrors). */
  endpoint: string;
  /** Bearer token (HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file `huggingface-cli login` writes). */
  token: string | null;
  /** Where the token came from, for error messages ("HF_TOKEN", "$HF_HOME/token"). */
  tokenSource: string | null;
  /** The hub cache: models--{org}--{name}/{blobs,snapshots,refs} live here. */
  cacheDir: string;
  /** HF_HUB_OFFLINE: never touch the network. */
  offline: boolean;
  /** Seconds to wait for response headers (HF_HUB_ETAG_TIMEOUT, default 10 as in huggingface_hub). */
  etagTimeoutS: number;
  /** Seconds a download may stall without a byte arriving (HF_HUB_DOWNLOAD_TIMEOUT, default 10). */
  downloadTimeoutS: number;
}

/** huggingface_hub's truthy spellings for boolean variables. */
function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

function seconds(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p.startsWith('~') ? join(env.HOME || homedir(), p.slice(1)) : p;
}

/** HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return resolve(expandHome(env.HF_HOME, env));
  const xdg = env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME, env) : join(env.HOME || homedir(), '.cache');
  return resolve(join(xdg, 'huggingface'));
}

/** The hub cache huggingface_hub uses: $HF_HUB_CACHE (or legacy $HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return explicit ? resolve(expandHome(explicit, env)) : join(hfHome(env), 'hub');
}

function readToken(env: NodeJS.ProcessEnv): { token: string | null; source: string | null } {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const v = env[name]?.trim();
    if (v) return { token: v, source: name };
  }
  const path = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH, env) : join(hfHome(env), 'token');
  try {
    const t = readFileSync(path, 'utf8').trim();
    if (t) return { token: t, source: path };
  } catch {
    // no saved login
  }
  return { token: null, source: null };
}

export interface SettingsOverrides {
  endpoint?: string;
  token?: string | null;
  cacheDir?: string;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function hubSettings(o: SettingsOverrides = {}): HubSettings {
  const env = o.env ?? process.env;
  const endpoint = (o.endpoint ?? (env.HF_ENDPOINT || DEFAULT_ENDPOINT)).replace(/\/+$/, '');
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(u.protocol);
  } catch {
    throw new Error(`hub endpoint "${endpoint}" is not an http(s) URL; set HF_ENDPOINT to e.g. ${DEFAULT_ENDPOINT}`);
  }
  const fromEnv = o.token === undefined ? readToken(env) : { token: o.token, source: o.token ? 'the token option' : null };
  return {
    endpoint,
    token: fromEnv.token,
    tokenSource: fromEnv.source,
    cacheDir: o.cacheDir ? resolve(expandHome(o.cacheDir, env)) : hubCacheDir(env),
    offline: o.offline ?? (truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE)),
    etagTimeoutS: seconds(env.HF_HUB_ETAG_TIMEOUT, 10),
    downloadTimeoutS: seconds(env.HF_HUB_DOWNLOAD_TIMEOUT, 10),
  };
}
