// Generated models (models/generate.ts, random weights): how to tell one from a real model, and the one
// line every surface (CLI commands, the serve log, GET /info) uses to say so.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The config.json key models/generate.ts stamps (version, preset, seed) on everything it writes. */
const GENERATED_MARKERS = ['crossgate_generator'];

/**
 * True for models written by models/generate.ts. A model without the stamp is treated as real (we cannot
 * prove its weights are trained, but we do not claim they are not).
 */
export function isGeneratedModel(dir: string): boolean {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    return GENERATED_MARKERS.some((k) => config[k] !== undefined && config[k] !== false);
  } catch {
    return false;
  }
}

/** The one-line warning for a generated model, naming the real model of the same kind to pull instead. */
export function randomWeightsWarning(dir: string): string {
  let real = 'cross-encoder/ms-marco-MiniLM-L-6-v2';
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
    const archs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
    if (!archs.some((a) => a.endsWith('ForSequenceClassification'))) real = 'sentence-transformers/all-MiniLM-L6-v2';
  } catch {
    // unreadable config: keep the cross-encoder suggestion
  }
  return `crossgate: warning: ${dir} is a generated model with random weights: its scores are noise; pull a real one with \`crossgate models pull ${real}\``;
}
