// CrossEncoder: scores (query, passage) pairs with a sequence-classification ONNX model run in a pool
// of worker threads, batched by token budget. Semantics follow sentence-transformers' CrossEncoder.
import type { BatchStats } from './batcher.js';
import { loadCalibration, type Calibration } from './calibration.js';
import {
  boundedEncodeOptions, checkTexts, emptyStats, LoadedModel, refuseIfTruncated, splitScheduleOptions, startModel, throwIfCancelled, type ModelParts,
} from './engine.js';
import { InferenceBackendError, InferenceClosedError } from './errors.js';
import type { LoadOptions } from './options.js';
import { expit } from './pooling.js';
import type { RequestTimings, ScheduleOptions } from './scheduler.js';

export interface CrossEncoderScores {
  /**
   * One relevance logit per passage. For a 1-logit model it is the raw logit. For a 2-logit model
   * (softmax, positive class = index 1) it is l1 - l0, the log-odds of the positive class, so that
   * for both kinds expit(logit) == probability.
   */
  logits: Float32Array;
  /**
   * expit(logit) for 1-logit models; softmax(...)[1] for 2-logit models. With a calibration
   * (calibration.json in the model directory), the calibrated probability of the raw logit instead.
   */
  probabilities: Float32Array;
  /** True when `probabilities` went through the model's calibration. */
  calibrated: boolean;
  /** 1 where the pair was cut to the max length. */
  truncated: Uint8Array;
  stats: BatchStats;
}

/**
 * Raw [n, cols] rows -> one logit and one probability per row. For 2 columns,
 * softmax([l0, l1])[1] == expit(l1 - l0), computed without overflow for any logits.
 */
function toScores(data: Float32Array, cols: number, n: number, name: string, calibrate: ((logit: number) => number) | null): { logits: Float32Array; probabilities: Float32Array } {
  if (cols !== 1 && cols !== 2) throw new InferenceBackendError(`crossgate: ${name} returned ${cols} logits per pair; expected 1 or 2`);
  const logits = new Float32Array(n);
  const probabilities = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = cols === 1 ? data[i] : data[2 * i + 1] - data[2 * i];
    logits[i] = l;
    probabilities[i] = calibrate ? calibrate(l) : expit(l);
  }
  return { logits, probabilities };
}

/** CrossEncoder.load options: how the model runs, plus which calibration to apply. */
export interface CrossEncoderLoadOptions extends LoadOptions {
  /**
   * A calibration.json to apply (written by `crossgate calibrate`), or false for the raw expit.
   * Default: `<model dir>/calibration.json` when the file exists.
   */
  calibration?: string | false;
}

export class CrossEncoder extends LoadedModel {
  readonly kind = 'cross-encoder' as const;
  get numLabels(): number { return this.spec.numLabels; }
  get activation(): string { return this.spec.activation; }
  /**
   * The calibration applied to every probability (loaded once, at load time), or null for the raw
   * expit. Its `threshold` is the default gate threshold; `describe()` is what /info reports.
   */
  readonly calibration: Calibration | null;
  readonly #calibrate: ((logit: number) => number) | null;

  private constructor(parts: ModelParts, calibration: Calibration | null) {
    super(parts);
    this.calibration = calibration;
    this.#calibrate = calibration ? calibration.apply : null;
  }

  /** True when probabilities are calibrated (a calibration.json is in use). */
  get calibrated(): boolean { return this.calibration !== null; }

  /** Loads a cross-encoder model directory (HF layout) and starts its worker sessions. */
  static async load(dir: string, opts?: CrossEncoderLoadOptions): Promise<CrossEncoder> {
    const calibrationOpt = opts?.calibration;
    if (calibrationOpt !== undefined && calibrationOpt !== false && typeof calibrationOpt !== 'string') {
      throw new TypeError(`'calibration' is invalid: ${String(calibrationOpt)}; expected a calibration.json path or false`);
    }
    let calibration: Calibration | null = null;
    const parts = await startModel(dir, 'cross-encoder', opts, (spec) => {
      if (spec.numLabels !== 1 && spec.numLabels !== 2) {
        throw new RangeError(`${spec.dir}: config num_labels is ${spec.numLabels}; a cross-encoder must have 1 logit (sigmoid) or 2 (softmax, positive class = index 1)`);
      }
      // Read before the workers start, so a bad file fails the load at once.
      calibration = loadCalibration(spec.dir, calibrationOpt);
    }, (spec) => ({ kind: 'logits', numLabels: spec.numLabels }));
    return new CrossEncoder(parts, calibration);
  }

  /**
   * Scores each passage against the query. Pairs are encoded as [CLS] query [SEP] passage [SEP] and
   * truncated longest-first to the model's max length (override with opts). An empty passage list
   * returns empty arrays. The pairs join the model's shared queue: `opts.onPartial` sees each
   * micro-batch's scores as it finishes, and `opts.signal` cancels what has not run yet
   * (RequestCancelledError). A full queue rejects at once with QueueFullError.
   */
  protected async runWarmUp(texts: string[]): Promise<void> {
    await this.score('warm up the cross-encoder', texts);
  }

  async score(query: string, passages: string[], opts?: ScheduleOptions): Promise<CrossEncoderScores & { timings: RequestTimings }> {
    if (this.scheduler.closed) throw new InferenceClosedError();
    if (typeof query !== 'string') throw new TypeError(`query is ${query === null ? 'null' : typeof query}; expected a non-empty string`);
    if (query.trim().length === 0) throw new RangeError('query is empty; pass the text to rank the passages against');
    checkTexts('passages', passages);
    const { encode, signal, onPartial, refuseTruncated } = splitScheduleOptions(opts);
    const encOpts = boundedEncodeOptions(this.spec, encode);
    const n = passages.length;
    if (n === 0) return { logits: new Float32Array(0), probabilities: new Float32Array(0), calibrated: this.calibrated, truncated: new Uint8Array(0), stats: emptyStats(), timings: { tokenizationMs: 0, queueMs: 0, inferenceMs: 0 } };
    throwIfCancelled(signal);

    const t0 = performance.now();
    const queries = new Array<string>(n).fill(query);
    const enc = await this.tokenizer.encodeRagged(queries, passages, encOpts);
    if (refuseTruncated) refuseIfTruncated(this.tokenizer, enc, queries, passages, encOpts.maxLength ?? this.spec.maxLength);
    const tokenizationMs = performance.now() - t0;
    throwIfCancelled(signal);
    const name = this.spec.name;
    const out = await this.scheduler.submit(enc, {
      signal,
      tokenizationMs,
      onRows: onPartial && ((indices, data, cols) => onPartial({ indices, ...toScores(data, cols, indices.length, name, this.#calibrate) })),
    });
    return { ...toScores(out.data, out.cols, n, name, this.#calibrate), calibrated: this.calibrated, truncated: enc.truncated.slice(), stats: out.stats, timings: out.timings };
  }
}
