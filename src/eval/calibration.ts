// Calibration of a cross-encoder's logits from labelled (query, passage) pairs: temperature scaling,
// Platt scaling and isotonic regression; log-loss and ECE before/after on a seeded held-out split; and the
// gate threshold chosen from held-out labels (a target precision, or the best F1). Pure maths, no I/O.
import { Rng } from '../models/random.js';
import { calibrationFunction, type CalibrationMethodName, type CalibrationParams } from '../infer/calibration.js';
import { expit } from '../infer/pooling.js';

export type CalibrationMethod = CalibrationMethodName;
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['temperature', 'platt', 'isotonic'];

/**
 * Isotonic regression needs many labels: with few, its steps follow the noise (it has as many free
 * values as it has blocks). Around a thousand labels is where it starts to beat Platt in Niculescu-Mizil
 * and Caruana (2005); below that, fit Platt.
 */
export const MIN_ISOTONIC_LABELS = 1000;
/** Equal-width bins of the expected calibration error, as Guo et al. (2017) report it. */
export const ECE_BINS = 15;
/** Part of the labelled pairs kept out of the fit to measure it and choose the threshold. */
export const DEFAULT_HELD_OUT = 0.3;
export const DEFAULT_SEED = 42;

/** A fitted map from a raw logit to a calibrated probability (the parameters calibration.json stores). */
export interface CalibrationFit extends CalibrationParams {
  method: CalibrationMethod;
}

export { expit };

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The calibrated probability of one raw logit under `fit` (the same code the CrossEncoder runs). */
export function applyCalibration(fit: CalibrationFit, logit: number): number {
  return calibrationFunction(fit)(logit);
}

function checkLabelled(logits: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (logits.length !== labels.length) throw new RangeError(`logits has ${logits.length} values but labels ${labels.length}; pass one label per logit`);
  let pos = 0;
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i])) throw new RangeError(`logits[${i}] is ${logits[i]}; calibration needs finite logits`);
    if (labels[i] !== 0 && labels[i] !== 1) throw new RangeError(`labels[${i}] is ${labels[i]}; labels are 0 (not relevant) or 1 (relevant)`);
    pos += labels[i];
  }
  if (pos === 0 || pos === logits.length) {
    throw new RangeError(`all ${logits.length} labels are ${pos === 0 ? 0 : 1}; calibration needs both relevant (1) and non-relevant (0) pairs`);
  }
}

/** Mean negative log-likelihood of (a·z + b) against targets t in [0, 1]. */
function nll(z: ArrayLike<number>, t: ArrayLike<number>, a: number, b: number): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const x = a * z[i] + b;
    s += softplus(x) - t[i] * x;
  }
  return s / z.length;
}

/**
 * Minimises the log-loss of expit(a·z + b) by Newton's method with a backtracking line search (the
 * loss is convex in (a, b), so this converges to the one minimum). `fixB` keeps b at 0 (temperature).
 */
function newtonLogistic(z: ArrayLike<number>, t: ArrayLike<number>, fixB: boolean): { a: number; b: number } {
  let a = 1;
  let b = 0;
  let f = nll(z, t, a, b);
  const n = z.length;
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let i = 0; i < n; i++) {
      const p = expit(a * z[i] + b);
      const d = p - t[i];
      const w = p * (1 - p);
      ga += d * z[i];
      gb += d;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    ga /= n; gb /= n; haa /= n; hab /= n; hbb /= n;
    if (fixB) gb = 0;
    if (Math.abs(ga) < 1e-12 && Math.abs(gb) < 1e-12) break;
    // A tiny ridge keeps the system solvable when the data are (nearly) separable.
    const ridge = 1e-12;
    let da: number;
    let db: number;
    if (fixB) {
      da = -ga / (haa + ridge);
      db = 0;
    } else {
      const h11 = haa + ridge;
      const h22 = hbb + ridge;
      const det = h11 * h22 - hab * hab;
      da = -(h22 * ga - hab * gb) / det;
      db = -(h11 * gb - hab * ga) / det;
    }
    const slope = ga * da + gb * db;
    let step = 1;
    let next = nll(z, t, a + da, b + db);
    while (next > f + 1e-4 * step * slope && step > 1e-10) {
      step /= 2;
      next = nll(z, t, a + step * da, b + step * db);
    }
    if (step <= 1e-10) break;
    a += step * da;
    b += step * db;
    const improved = f - next;
    f = next;
    if (improved < 1e-15) break;
  }
  return { a, b };
}

/** Temperature scaling (Guo et al. 2017): probability = expit(logit / T), reported as a = 1/T, b = 0. */
export function fitTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>): CalibrationFit {
  checkLabelled(logits, labels);
  const { a } = newtonLogistic(logits, labels, true);
  if (!(a > 0)) throw new RangeError(`the fitted inverse temperature is ${a}: higher logits are less often relevant in these labels; check that label 1 means relevant`);
  return { method: 'temperature', a, b: 0, isotonic: null };
}

export interface PlattOptions {
  /**
   * Platt's (1999) smoothed targets: (N+ + 1)/(N+ + 2) for positives and 1/(N- + 2) for negatives
   * instead of 1 and 0. They keep the fit finite when the classes are separable; with many labels they
   * change a and b by O(1/N). Default true, as in Platt's paper and scikit-learn's sigmoid calibration.
   */
  targetSmoothing?: boolean;
}

/** Platt scaling: probability = expit(a·logit + b), a and b by maximum likelihood. */
export function fitPlatt(logits: ArrayLike<number>, labels: ArrayLike<number>, opts: PlattOptions = {}): CalibrationFit {
  checkLabelled(logits, labels);
  let targets: ArrayLike<number> = labels;
  if (opts.targetSmoothing ?? true) {
    let pos = 0;
    for (let i = 0; i < labels.length; i++) pos += labels[i];
    const neg = labels.length - pos;
    const hi = (pos + 1) / (pos + 2);
    const lo = 1 / (neg + 2);
    targets = Float64Array.from(labels as ArrayLike<number>, (y) => (y === 1 ? hi : lo));
  }
  const { a, b } = newtonLogistic(logits, targets, false);
  if (!(a > 0)) throw new RangeError(`the fitted slope a is ${a}: higher logits are less often relevant in these labels; check that label 1 means relevant`);
  return { method: 'platt', a, b, isotonic: null };
}

/**
 * Isotonic regression by pool-adjacent-violators: the non-decreasing step function of the logit that
 * minimises squared error to the labels. Equal logits are pooled first, so the fit is a function.
 */
export function fitIsotonic(logits: ArrayLike<number>, labels: ArrayLike<number>): CalibrationFit {
  checkLabelled(logits, labels);
  if (logits.length < MIN_ISOTONIC_LABELS) {
    throw new RangeError(`isotonic calibration needs at least ${MIN_ISOTONIC_LABELS.toLocaleString('en-US')} labelled pairs for its fit; got ${logits.length}; use --method platt, or label more pairs`);
  }
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((i, j) => logits[i] - logits[j]);
  // Blocks: [xmin, xmax, sum of labels, weight].
  const xmin: number[] = [];
  const xmax: number[] = [];
  const sum: number[] = [];
  const weight: number[] = [];
  for (const i of order) {
    const x = logits[i];
    const top = xmin.length - 1;
    if (top >= 0 && xmax[top] === x) {
      sum[top] += labels[i];
      weight[top] += 1;
    } else {
      xmin.push(x); xmax.push(x); sum.push(labels[i]); weight.push(1);
    }
    // Pool while the last block's mean is not above its predecessor's (equal means pool too, which
    // keeps the stored curve short without changing it).
    while (xmin.length > 1) {
      const k = xmin.length - 1;
      if (sum[k - 1] / weight[k - 1] < sum[k] / weight[k]) break;
      xmax[k - 1] = xmax[k];
      sum[k - 1] += sum[k];
      weight[k - 1] += weight[k];
      xmin.pop(); xmax.pop(); sum.pop(); weight.pop();
    }
  }
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < xmin.length; k++) {
    const y = sum[k] / weight[k];
    xs.push(xmin[k]); ys.push(y);
    if (xmax[k] !== xmin[k]) { xs.push(xmax[k]); ys.push(y); }
  }
  return { method: 'isotonic', a: null, b: null, isotonic: { logits: xs, probabilities: ys } };
}

export function fitCalibration(method: CalibrationMethod, logits: ArrayLike<number>, labels: ArrayLike<number>): CalibrationFit {
  switch (method) {
    case 'temperature': return fitTemperature(logits, labels);
    case 'platt': return fitPlatt(logits, labels);
    case 'isotonic': return fitIsotonic(logits, labels);
    default: throw new RangeError(`method is "${String(method)}"; expected ${CALIBRATION_METHODS.join(', ')}`);
  }
}

/** Mean log-loss; probabilities are clipped to [1e-15, 1 − 1e-15] so a confident mistake costs ~34.5, not infinity. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  const eps = 1e-15;
  let s = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]));
    s -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return s / probabilities.length;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted probability in the bin (null when empty). */
  confidence: number | null;
  /** Fraction of relevant labels in the bin (null when empty). */
  accuracy: number | null;
}

/** Equal-width bins over [0, 1] (the last includes 1): the points of a reliability diagram. */
export function reliabilityBins(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = ECE_BINS): ReliabilityBin[] {
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const pos = new Array<number>(bins).fill(0);
  for (let i = 0; i < probabilities.length; i++) {
    const k = Math.min(bins - 1, Math.floor(probabilities[i] * bins));
    count[k]++;
    conf[k] += probabilities[i];
    pos[k] += labels[i];
  }
  return count.map((c, k) => ({ lo: k / bins, hi: (k + 1) / bins, count: c, confidence: c > 0 ? conf[k] / c : null, accuracy: c > 0 ? pos[k] / c : null }));
}

/** Expected calibration error: Σ (n_bin / N) · |accuracy − confidence| over equal-width bins. */
export function expectedCalibrationError(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = ECE_BINS): number {
  let e = 0;
  for (const b of reliabilityBins(probabilities, labels, bins)) {
    if (b.count > 0) e += (b.count / probabilities.length) * Math.abs((b.accuracy as number) - (b.confidence as number));
  }
  return e;
}

export interface ThresholdPoint {
  threshold: number;
  /** Pairs at or above the threshold. */
  kept: number;
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Precision and recall of "probability ≥ t" for every distinct probability t, lowest threshold first.
 * A threshold keeps every pair tied with it, as the gate does.
 */
export function thresholdCurve(probabilities: ArrayLike<number>, labels: ArrayLike<number>): ThresholdPoint[] {
  const order = Array.from({ length: probabilities.length }, (_, i) => i).sort((i, j) => probabilities[j] - probabilities[i]);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i];
  const points: ThresholdPoint[] = [];
  let tp = 0;
  for (let r = 0; r < order.length; r++) {
    tp += labels[order[r]];
    const t = probabilities[order[r]];
    if (r + 1 < order.length && probabilities[order[r + 1]] === t) continue;
    const kept = r + 1;
    const precision = tp / kept;
    const recall = positives > 0 ? tp / positives : 0;
    points.push({ threshold: t, kept, precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 });
  }
  return points.reverse();
}

export type ThresholdRule = { targetPrecision: number } | { bestF1: true };

export interface ChosenThreshold extends ThresholdPoint {
  rule: ThresholdRule;
}

/**
 * The gate threshold for `rule` on held-out pairs: the smallest threshold whose precision reaches the
 * target (the most recall that still meets it), or the one with the best F1 (ties: the smallest).
 */
export function chooseThreshold(probabilities: ArrayLike<number>, labels: ArrayLike<number>, rule: ThresholdRule): ChosenThreshold {
  const curve = thresholdCurve(probabilities, labels);
  if (curve.length === 0) throw new RangeError('no held-out pairs to choose a threshold on; label more pairs');
  if ('targetPrecision' in rule) {
    const p = rule.targetPrecision;
    if (!(p > 0 && p <= 1)) throw new RangeError(`target precision is ${p}; expected a number in (0, 1], e.g. 0.9`);
    const hit = curve.find((c) => c.precision >= p);
    if (!hit) {
      const best = curve.reduce((x, y) => (y.precision > x.precision ? y : x));
      throw new RangeError(
        `no threshold reaches precision ${p} on the ${probabilities.length} held-out pairs (the best is ${best.precision.toFixed(4)}, keeping ${best.kept} pairs at threshold ${best.threshold.toFixed(4)}); lower --target-precision or label more pairs`,
      );
    }
    return { ...hit, rule };
  }
  let best = curve[0];
  for (const c of curve) if (c.f1 > best.f1) best = c;
  return { ...best, rule };
}

export interface QualityMetrics {
  logLoss: number;
  ece: number;
}

export function quality(probabilities: ArrayLike<number>, labels: ArrayLike<number>): QualityMetrics {
  return { logLoss: logLoss(probabilities, labels), ece: expectedCalibrationError(probabilities, labels) };
}

/** A seeded split of n items into fit and held-out index lists (Fisher-Yates with the project's Rng). */
export function splitHeldOut(n: number, fraction: number, seed: number): { fit: number[]; heldOut: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`held-out fraction is ${fraction}; expected a number strictly between 0 and 1 (default ${DEFAULT_HELD_OUT})`);
  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const cut = Math.round(n * fraction);
  return { heldOut: idx.slice(0, cut), fit: idx.slice(cut) };
}

export interface CalibrationReport {
  fit: CalibrationFit;
  threshold: ChosenThreshold;
  data: { pairs: number; positives: number; fit: number; heldOut: number; heldOutFraction: number; seed: number };
  /** On the held-out pairs: the raw expit(logit), then the calibrated probability. */
  before: QualityMetrics;
  after: QualityMetrics;
  /** Held-out pairs, for the charts. */
  heldOut: { raw: Float64Array; calibrated: Float64Array; labels: Float64Array };
}

export interface CalibrateOptions {
  method?: CalibrationMethod;
  rule?: ThresholdRule;
  heldOutFraction?: number;
  seed?: number;
}

/** Fits on one part of the pairs and measures and chooses the threshold on the rest. */
export function calibrate(logits: ArrayLike<number>, labels: ArrayLike<number>, opts: CalibrateOptions = {}): CalibrationReport {
  const method = opts.method ?? 'platt';
  const fraction = opts.heldOutFraction ?? DEFAULT_HELD_OUT;
  const seed = opts.seed ?? DEFAULT_SEED;
  checkLabelled(logits, labels);
  const { fit: fitIdx, heldOut } = splitHeldOut(logits.length, fraction, seed);
  const pick = (src: ArrayLike<number>, idx: number[]): Float64Array => Float64Array.from(idx, (i) => src[i]);
  const fitZ = pick(logits, fitIdx);
  const fitY = pick(labels, fitIdx);
  const hoZ = pick(logits, heldOut);
  const hoY = pick(labels, heldOut);
  if (heldOut.length === 0 || !hoY.some((y) => y === 1)) {
    throw new RangeError(`the held-out split (${heldOut.length} of ${logits.length} pairs) holds no relevant pair; label more pairs or raise the held-out fraction`);
  }
  if (method === 'isotonic' && fitZ.length < MIN_ISOTONIC_LABELS) {
    throw new RangeError(`isotonic calibration needs at least ${MIN_ISOTONIC_LABELS.toLocaleString('en-US')} labelled pairs in its fit split; got ${fitZ.length} of ${logits.length} (the rest are held out); use --method platt, or label more pairs`);
  }
  const fit = fitCalibration(method, fitZ, fitY);
  // float32, as the CrossEncoder returns probabilities: the chosen threshold is then a value the engine can
  // produce, and the pair that set it passes the gate's `probability >= threshold` exactly as it did here.
  const apply = calibrationFunction(fit);
  const raw = hoZ.map((z) => Math.fround(expit(z)));
  const calibrated = hoZ.map((z) => Math.fround(apply(z)));
  const rule = opts.rule ?? { bestF1: true };
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i];
  return {
    fit,
    threshold: chooseThreshold(calibrated, hoY, rule),
    data: { pairs: logits.length, positives, fit: fitIdx.length, heldOut: heldOut.length, heldOutFraction: fraction, seed },
    before: quality(raw, hoY),
    after: quality(calibrated, hoY),
    heldOut: { raw, calibrated, labels: hoY },
  };
}
