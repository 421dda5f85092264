// Finds the models a command runs: an explicit directory, else a Hugging Face hub cache snapshot that
// holds an ONNX export, else a generated random-weight clone (built once, with progress).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureGenerated, type Preset } from '../../models/generate.js';
import { createProgress } from './progress.js';

/** Where a model directory came from; `generated` models have random weights and meaningless scores. */
export type ModelOrigin = 'explicit' | 'hf-cache' | 'generated';

export interface ResolvedModel {
  dir: string;
  origin: ModelOrigin;
  /** True when the weights are random (a generated clone), whatever path led to it. */
  randomWeights: boolean;
}

/** The hub caches searched, in the order huggingface_hub itself uses. */
export function hubCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  if (env.HF_HUB_CACHE) dirs.push(env.HF_HUB_CACHE);
  if (env.HF_HOME) dirs.push(join(env.HF_HOME, 'hub'));
  dirs.push(join(homedir(), '.cache', 'huggingface', 'hub'));
  return [...new Set(dirs.map((d) => resolve(d)))];
}

function hasOnnx(dir: string): boolean {
  if (existsSync(join(dir, 'model.onnx'))) return true;
  const onnxDir = join(dir, 'onnx');
  try {
    return statSync(onnxDir).isDirectory() && readdirSync(onnxDir).some((f) => f.endsWith('.onnx'));
  } catch {
    return false;
  }
}

/**
 * The snapshot directory of `repoId` (e.g. "cross-encoder/ms-marco-MiniLM-L-6-v2") in a hub cache that
 * has an ONNX file and a tokenizer.json, preferring the revision refs/main points at; null if none.
 */
export function findHubSnapshot(repoId: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const folder = 'models--' + repoId.replace(/\//g, '--');
  for (const cache of hubCacheDirs(env)) {
    const base = join(cache, folder);
    const snapshots = join(base, 'snapshots');
    if (!existsSync(snapshots)) continue;
    const revs: string[] = [];
    try {
      revs.push(readFileSync(join(base, 'refs', 'main'), 'utf8').trim());
    } catch {
      // no refs/main: fall back to any snapshot
    }
    try {
      revs.push(...readdirSync(snapshots).sort());
    } catch {
      continue;
    }
    for (const rev of revs) {
      const dir = join(snapshots, rev);
      if (rev && existsSync(join(dir, 'tokenizer.json')) && hasOnnx(dir)) return dir;
    }
  }
  return null;
}

/**
 * True for models written by models/generate.ts. The generator stamps its config.json; a model without
 * that stamp is treated as real (we cannot prove its weights are trained, but we do not claim they are not).
 */
export function isGeneratedModel(dir: string): boolean {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    return GENERATED_MARKERS.some((k) => config[k] !== undefined && config[k] !== false);
  } catch {
    return false;
  }
}

/** The config.json key models/generate.ts stamps (version, preset, seed) on everything it writes. */
const GENERATED_MARKERS = ['crossgate_generator'];

export const HUB_REPOS = {
  cross: 'cross-encoder/ms-marco-MiniLM-L-6-v2',
  bi: 'sentence-transformers/all-MiniLM-L6-v2',
} as const;

const PRESETS: Record<'cross' | 'bi', Preset> = { cross: 'minilm-l6-cross', bi: 'minilm-l6-bi' };

/** An explicit dir, else the hub cache, else the full-size generated clone (built once). */
export async function resolveDemoModel(which: 'cross' | 'bi', explicit: string | undefined): Promise<ResolvedModel> {
  if (explicit !== undefined) {
    const dir = resolve(explicit);
    if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist; pass a directory with config.json, tokenizer.json and an ONNX file`);
    return { dir, origin: 'explicit', randomWeights: isGeneratedModel(dir) };
  }
  const cached = findHubSnapshot(HUB_REPOS[which]);
  if (cached) return { dir: cached, origin: 'hf-cache', randomWeights: isGeneratedModel(cached) };
  const preset = PRESETS[which];
  const progress = createProgress(`generating ${preset}`);
  try {
    const dir = await ensureGenerated(preset, { onProgress: (done, total) => progress.update(done, total) });
    return { dir, origin: 'generated', randomWeights: true };
  } finally {
    progress.stop();
  }
}
