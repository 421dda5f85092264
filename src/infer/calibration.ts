// calibration.json: the map from a cross-encoder's raw logit to a calibrated probability that
// `crossgate calibrate` fits (src/eval/calibration.ts), read and checked here so the CrossEncoder can apply
// it at load time. Only the runtime half lives in infer; fitting is an upper room's job.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expit } from './pooling.js';

export const CALIBRATION_FILE = 'calibration.json';
export const CALIBRATION_FORMAT = 'crossgate-calibration';
export const CALIBRATION_VERSION = 1;

export type CalibrationMethodName = 'temperature' | 'platt' | 'isotonic';

/** What calibration.json holds (snake_case on disk, as the JSON outputs of the CLI). */
export interface CalibrationFile {
  format: typeof CALIBRATION_FORMAT;
  version: number;
  method: CalibrationMethodName;
  /** probability = expit(a·logit + b); temperature has b = 0 (a = 1/T); null for isotonic. */
  a: number | null;
  b: number | null;
  /** Isotonic: points (logit ascending, probability non-decreasing), linear between, flat beyond. */
  isotonic: { logits: number[]; probabilities: number[] } | null;
  /** The gate threshold chosen on held-out labels (a calibrated probability); the default threshold while this file is in use. */
  threshold: number;
  /** How the threshold was chosen: {"target_precision": P} or {"best_f1": true}. */
  threshold_rule: { target_precision: number } | { best_f1: true };
  /** Labelled pairs used: all, relevant ones, the fit split, the held-out split, its seed, where they came from. */
  data: { pairs: number; positives: number; fit: number; held_out: number; seed: number; source: string };
  /** On the held-out pairs: log-loss and ECE of the raw expit and of the calibrated probability; the threshold's precision/recall/F1. */
  metrics: {
    before: { log_loss: number; ece: number };
    after: { log_loss: number; ece: number };
    at_threshold: { precision: number; recall: number; f1: number; kept: number };
  };
  /** The model the logits came from (its name and ONNX file): calibration belongs to one set of weights. */
  model: { name: string; onnx: string };
  created_at: string;
}

/** The parameters that define a calibration map (a fit, or the matching fields of calibration.json). */
export interface CalibrationParams {
  method: CalibrationMethodName;
  a: number | null;
  b: number | null;
  isotonic: { logits: number[]; probabilities: number[] } | null;
}

/** The map logit -> calibrated probability for `p`: expit(a·logit + b), or the isotonic curve. */
export function calibrationFunction(p: CalibrationParams): (logit: number) => number {
  if (p.method !== 'isotonic') {
    const a = p.a as number;
    const b = p.b as number;
    return (logit) => expit(a * logit + b);
  }
  const xs = Float64Array.from(p.isotonic!.logits);
  const ys = Float64Array.from(p.isotonic!.probabilities);
  const last = xs.length - 1;
  return (logit) => {
    if (Number.isNaN(logit)) return NaN;
    if (logit <= xs[0]) return ys[0];
    if (logit >= xs[last]) return ys[last];
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] <= logit) lo = mid;
      else hi = mid;
    }
    const span = xs[hi] - xs[lo];
    return span > 0 ? ys[lo] + ((ys[hi] - ys[lo]) * (logit - xs[lo])) / span : ys[hi];
  };
}

/** A loaded calibration: the file's contents, where it came from, and `apply`. */
export class Calibration {
  readonly file: CalibrationFile;
  readonly path: string;
  /** The calibrated probability of a raw logit. */
  readonly apply: (logit: number) => number;

  constructor(file: CalibrationFile, path: string) {
    this.file = file;
    this.path = path;
    this.apply = calibrationFunction(file);
  }

  get method(): CalibrationMethodName { return this.file.method; }
  get threshold(): number { return this.file.threshold; }

  /** What a server's /info (or a log line) shows: method, parameters, threshold, data size, date, file. */
  describe(): { method: CalibrationMethodName; a: number | null; b: number | null; threshold: number; threshold_rule: CalibrationFile['threshold_rule']; pairs: number; created_at: string; path: string } {
    const f = this.file;
    return { method: f.method, a: f.a, b: f.b, threshold: f.threshold, threshold_rule: f.threshold_rule, pairs: f.data.pairs, created_at: f.created_at, path: this.path };
  }
}

function bad(path: string, what: string): Error {
  return new Error(`${path}: ${what}; re-run \`crossgate calibrate\` to rewrite it, or delete it to use the raw expit probabilities`);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks a parsed calibration.json; the error names the file and the field. */
export function checkCalibrationFile(v: unknown, path: string): CalibrationFile {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'is not a JSON object');
  const f = v as Record<string, unknown>;
  if (f.format !== CALIBRATION_FORMAT) throw bad(path, `"format" is ${JSON.stringify(f.format)}; expected "${CALIBRATION_FORMAT}"`);
  if (f.version !== CALIBRATION_VERSION) throw bad(path, `"version" is ${JSON.stringify(f.version)}; this crossgate reads version ${CALIBRATION_VERSION}`);
  if (f.method !== 'temperature' && f.method !== 'platt' && f.method !== 'isotonic') throw bad(path, `"method" is ${JSON.stringify(f.method)}; expected "temperature", "platt" or "isotonic"`);
  if (f.method === 'isotonic') {
    const iso = f.isotonic as { logits?: unknown; probabilities?: unknown } | null;
    const xs = iso?.logits;
    const ys = iso?.probabilities;
    if (!Array.isArray(xs) || !Array.isArray(ys) || xs.length === 0 || xs.length !== ys.length) {
      throw bad(path, '"isotonic" must hold "logits" and "probabilities", two non-empty arrays of the same length');
    }
    for (let i = 0; i < xs.length; i++) {
      if (!finite(xs[i]) || !finite(ys[i]) || ys[i] < 0 || ys[i] > 1) throw bad(path, `"isotonic" point ${i} is (${String(xs[i])}, ${String(ys[i])}); expected a finite logit and a probability in [0, 1]`);
      if (i > 0 && (xs[i] < xs[i - 1] || ys[i] < ys[i - 1])) throw bad(path, `"isotonic" point ${i} breaks the order (logits ascending, probabilities non-decreasing)`);
    }
  } else {
    if (!finite(f.a) || f.a <= 0) throw bad(path, `"a" is ${JSON.stringify(f.a)}; expected a positive number (probability = expit(a·logit + b))`);
    if (!finite(f.b)) throw bad(path, `"b" is ${JSON.stringify(f.b)}; expected a finite number`);
    if (f.method === 'temperature' && f.b !== 0) throw bad(path, `"b" is ${f.b} but temperature scaling has b = 0`);
  }
  if (!finite(f.threshold) || f.threshold < 0 || f.threshold > 1) throw bad(path, `"threshold" is ${JSON.stringify(f.threshold)}; expected a probability between 0 and 1`);
  return f as unknown as CalibrationFile;
}

/**
 * The calibration for a cross-encoder directory: `explicit` (a file) when given, else
 * `<modelDir>/calibration.json` when present, else null. `explicit === false` turns it off.
 */
export function loadCalibration(modelDir: string, explicit?: string | false): Calibration | null {
  if (explicit === false) return null;
  const path = resolve(explicit ?? join(modelDir, CALIBRATION_FILE));
  if (explicit === undefined && !existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`calibration file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass an existing file written by \`crossgate calibrate\``);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad(path, `is not valid JSON (${(e as Error).message})`);
  }
  return new Calibration(checkCalibrationFile(parsed, path), path);
}
