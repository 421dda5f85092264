// Finds the models a command runs: an explicit directory or cached hub repo id, else a Hugging Face hub
// cache snapshot that holds an ONNX export, else a generated random-weight clone (built once, with progress).
import { existsSync } from 'node:fs';
import { findCachedSnapshot, HubError, hubCacheDir, isRepoRef, resolveModelRef } from '../models/hub/index.js';
import { isGeneratedModel, randomWeightsWarning } from '../models/generated.js';
import { createProgress } from './progress.js';

/** Where a model directory came from; `generated` models have random weights and meaningless scores. */
export type ModelOrigin = 'explicit' | 'hf-cache' | 'generated';

export interface ResolvedModel {
  dir: string;
  origin: ModelOrigin;
  /** True when the weights are random (a generated clone), whatever path led to it. */
  randomWeights: boolean;
}

/**
 * The hub cache, resolved the way huggingface_hub resolves it ($HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub): one folder, so crossgate and Python always agree on where models are.
 */
export function hubCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [hubCacheDir(env)];
}

/**
 * The snapshot directory of `repoId` (e.g. "cross-encoder/ms-marco-MiniLM-L-6-v2") in the hub cache that
 * has an ONNX file and a tokenizer.json, preferring the revision refs/main points at; null if none.
 */
export function findHubSnapshot(repoId: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const hit = findCachedSnapshot(hubCacheDir(env), repoId, 'main');
  return hit.found ? hit.dir : null;
}

/**
 * What a --model / --bi-encoder / --cross-encoder value names: a directory (used as is) or a hub repo id
 * "org/name[@rev]" already in the cache (see `crossgate models pull`). The error names the flag.
 */
export function resolveModelArg(flag: string, value: string, opts: { quantized?: boolean; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    const dir = resolveModelRef(value, opts);
    warnIfGenerated(dir);
    return dir;
  } catch (e) {
    if (e instanceof HubError) throw new HubError(e.code, `${flag} ${value}: ${e.message}`, { status: e.status, cause: e });
    throw e;
  }
}

export { isGeneratedModel } from '../models/generated.js';

const warned = new Set<string>();
/** Prints the random-weights line on stderr, once per model directory and process. */
export function warnIfGenerated(dir: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  if (warned.has(dir) || !isGeneratedModel(dir)) return;
  warned.add(dir);
  write(randomWeightsWarning(dir));
}

export const HUB_REPOS = {
  cross: 'cross-encoder/ms-marco-MiniLM-L-6-v2',
  bi: 'sentence-transformers/all-MiniLM-L6-v2',
} as const;

/** ONNX mirrors of the same checkpoints (transformers.js exports), tried when the originals are not cached. */
export const HUB_MIRRORS = {
  cross: ['Xenova/ms-marco-MiniLM-L-6-v2'],
  bi: ['Xenova/all-MiniLM-L6-v2'],
} as const;

const PRESETS = { cross: 'minilm-l6-cross', bi: 'minilm-l6-bi' } as const;

/**
 * The offline model generator is a dev tool (top-level models/), not part of the shipped CLI: it is loaded
 * only when no real model is found, and its absence is explained instead of failing the CLI at start-up.
 */
async function loadGenerator(): Promise<typeof import('../../models/generate.js')> {
  try {
    return await import('../../models/generate.js');
  } catch (e) {
    throw new Error(`no model found and the offline model generator (models/generate.js) is not installed (${(e as Error).message}); pass --model DIR or pull one with \`crossgate models pull\``);
  }
}

/** An explicit dir, else the hub cache, else the full-size generated clone (built once). */
export async function resolveDemoModel(which: 'cross' | 'bi', explicit: string | undefined): Promise<ResolvedModel> {
  if (explicit !== undefined) {
    const fromHub = isRepoRef(explicit);
    const dir = resolveModelArg(which === 'cross' ? '--model' : '--bi-encoder', explicit);
    if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist; pass a directory with config.json, tokenizer.json and an ONNX file, or a hub repo id (org/name) pulled with \`crossgate models pull\``);
    return { dir, origin: fromHub ? 'hf-cache' : 'explicit', randomWeights: isGeneratedModel(dir) };
  }
  for (const repo of [HUB_REPOS[which], ...HUB_MIRRORS[which]]) {
    const cached = findHubSnapshot(repo);
    if (cached) return { dir: cached, origin: 'hf-cache', randomWeights: isGeneratedModel(cached) };
  }
  const preset = PRESETS[which];
  const progress = createProgress(`generating ${preset}`);
  try {
    const { ensureGenerated } = await loadGenerator();
    const dir = await ensureGenerated(preset, { onProgress: (done, total) => progress.update(done, total) });
    return { dir, origin: 'generated', randomWeights: true };
  } finally {
    progress.stop();
  }
}
