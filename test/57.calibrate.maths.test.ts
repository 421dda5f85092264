// Calibration maths on synthetic labelled sets whose true calibration is known: logits drawn from a
// normal distribution, labels drawn from a known sigmoid of them. The fitted parameters, the isotonic
// curve and the chosen thresholds must land near the truth, which this file computes by integration.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../models/random.js';
import {
  applyCalibration, calibrate, chooseThreshold, expectedCalibrationError, fitIsotonic, fitPlatt, fitTemperature, logLoss,
  reliabilityBins, splitHeldOut, thresholdCurve,
} from '../src/eval/calibration.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Logits z ~ N(mu, sigma²); label ~ Bernoulli(sigmoid(a·z + b)). */
function synthetic(seed: number, n: number, truth: { a: number; b: number; mu: number; sigma: number }): { z: Float64Array; y: Float64Array } {
  const r = new Rng(seed);
  const z = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = truth.mu + truth.sigma * r.normal();
    y[i] = r.next() < sigmoid(truth.a * z[i] + truth.b) ? 1 : 0;
  }
  return { z, y };
}

/**
 * Expected true positives, false positives and false negatives (per pair) of the rule "true probability
 * ≥ t", by numerical integration over the logit's normal density.
 */
function expectedCounts(t: number, truth: { a: number; b: number; mu: number; sigma: number }): { tp: number; fp: number; fn: number } {
  const z0 = (Math.log(t / (1 - t)) - truth.b) / truth.a;
  const h = 0.0005;
  let tp = 0, fp = 0, fn = 0;
  for (let z = truth.mu - 12 * truth.sigma; z < truth.mu + 12 * truth.sigma; z += h) {
    const density = Math.exp(-0.5 * ((z - truth.mu) / truth.sigma) ** 2) / (truth.sigma * Math.sqrt(2 * Math.PI)) * h;
    const p = sigmoid(truth.a * z + truth.b);
    if (z >= z0) { tp += p * density; fp += (1 - p) * density; } else fn += p * density;
  }
  return { tp, fp, fn };
}

/** The smallest threshold whose true precision reaches `target` (precision rises with t here). */
function trueThresholdForPrecision(target: number, truth: { a: number; b: number; mu: number; sigma: number }): number {
  let lo = 1e-4, hi = 1 - 1e-4;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    const c = expectedCounts(mid, truth);
    if (c.tp / (c.tp + c.fp) >= target) hi = mid; else lo = mid;
  }
  return hi;
}

function trueBestF1Threshold(truth: { a: number; b: number; mu: number; sigma: number }): number {
  let best = 0, bestF1 = -1;
  for (let t = 0.01; t < 0.99; t += 0.005) {
    const c = expectedCounts(t, truth);
    const f1 = (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
    if (f1 > bestF1) { bestF1 = f1; best = t; }
  }
  return best;
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual.toFixed(4)} is not within ${tol} of the truth ${expected.toFixed(4)}`);
}

// A cross-encoder that is overconfident (true slope 0.6) and biased towards "relevant" (true offset −0.8).
const TRUTH = { a: 0.6, b: -0.8, mu: -1, sigma: 3 };
const N = 60_000;

describe('calibration recovers a known truth', () => {
  for (const seed of [11, 12]) {
    it(`Platt: a and b, and the threshold for precision 0.85, match the truth (seed ${seed}, ${N.toLocaleString('en-US')} pairs)`, () => {
      const { z, y } = synthetic(seed, N, TRUTH);
      const report = calibrate(z, y, { method: 'platt', rule: { targetPrecision: 0.85 }, seed });
      // Standard errors at this size are about 0.004 (a) and 0.01 (b): four of them.
      near(report.fit.a!, TRUTH.a, 0.02, 'a');
      near(report.fit.b!, TRUTH.b, 0.05, 'b');
      const tStar = trueThresholdForPrecision(0.85, TRUTH);
      near(report.threshold.threshold, tStar, 0.03, 'threshold for precision 0.85');
      assert.ok(report.threshold.precision >= 0.85, 'the chosen threshold meets the target on the held-out pairs');
      // Raw expit(z) is miscalibrated here; the fit must fix most of it.
      assert.ok(report.before.ece > 0.08, `raw ECE ${report.before.ece} shows the miscalibration`);
      assert.ok(report.after.ece < 0.02, `calibrated ECE ${report.after.ece}`);
      assert.ok(report.after.logLoss < report.before.logLoss, 'log-loss falls');
      assert.equal(report.data.heldOut, Math.round(N * 0.3));
      assert.equal(report.data.fit + report.data.heldOut, N);
    });
  }

  it('best F1: the chosen threshold matches the truth', () => {
    const { z, y } = synthetic(13, N, TRUTH);
    const report = calibrate(z, y, { method: 'platt', rule: { bestF1: true }, seed: 13 });
    near(report.threshold.threshold, trueBestF1Threshold(TRUTH), 0.04, 'best-F1 threshold');
  });

  it('temperature: a = 1/T is recovered and b stays 0', () => {
    const truth = { a: 0.5, b: 0, mu: 0.5, sigma: 4 };
    const { z, y } = synthetic(14, N, truth);
    const fit = fitTemperature(z, y);
    near(fit.a!, 0.5, 0.015, 'a = 1/T');
    assert.equal(fit.b, 0);
    assert.equal(applyCalibration(fit, 4), sigmoid(fit.a! * 4));
  });

  it('isotonic: the step function follows the true curve and is non-decreasing', () => {
    const { z, y } = synthetic(15, N, TRUTH);
    const report = calibrate(z, y, { method: 'isotonic', seed: 15 });
    const iso = report.fit.isotonic!;
    for (let k = 1; k < iso.logits.length; k++) {
      assert.ok(iso.logits[k] >= iso.logits[k - 1] && iso.probabilities[k] >= iso.probabilities[k - 1], 'monotone');
    }
    for (const x of [-4, -2, 0, 2, 4]) near(applyCalibration(report.fit, x), sigmoid(TRUTH.a * x + TRUTH.b), 0.05, `isotonic at logit ${x}`);
    assert.ok(report.after.ece < 0.02, `calibrated ECE ${report.after.ece}`);
    assert.equal(report.fit.a, null);
  });
});

describe('calibration maths, small cases', () => {
  it('PAV pools violators into their mean (hand-computed)', () => {
    // Logits 0..1199; labels alternate 1, 0 for the first 600, then are all 1.
    const z = Float64Array.from({ length: 1200 }, (_, i) => i);
    const y = Float64Array.from({ length: 1200 }, (_, i) => (i < 600 ? [1, 0][i % 2] : 1));
    const fit = fitIsotonic(z, y);
    // The alternating first half pools into one block of mean 0.5; the all-ones second half is one block of 1.
    assert.deepEqual(fit.isotonic, { logits: [0, 599, 600, 1199], probabilities: [0.5, 0.5, 1, 1] });
    assert.equal(applyCalibration(fit, 599.5), 0.75, 'linear between the blocks');
    assert.equal(applyCalibration(fit, -50), 0.5, 'flat below the first point');
  });

  it('equal logits pool before PAV, so the fit is a function of the logit', () => {
    const z = Float64Array.from({ length: 1000 }, (_, i) => Math.floor(i / 10));
    const y = Float64Array.from({ length: 1000 }, (_, i) => (i % 10 < Math.floor(i / 100) ? 1 : 0));
    const fit = fitIsotonic(z, y);
    assert.equal(new Set(fit.isotonic!.logits).size, fit.isotonic!.logits.length);
    assert.equal(applyCalibration(fit, 0), 0);
    assert.equal(applyCalibration(fit, 99), 0.9);
  });

  it('separable labels still give a finite Platt fit (target smoothing)', () => {
    const z = Float64Array.from({ length: 200 }, (_, i) => i - 100);
    const y = Float64Array.from(z, (x) => (x >= 0 ? 1 : 0));
    const fit = fitPlatt(z, y);
    assert.ok(Number.isFinite(fit.a!) && fit.a! > 0 && Number.isFinite(fit.b!));
    assert.ok(applyCalibration(fit, 50) > 0.95 && applyCalibration(fit, -50) < 0.05);
  });

  it('ECE, log-loss, bins and the threshold curve on a hand-sized example', () => {
    const p = [0.1, 0.1, 0.9, 0.9, 0.5];
    const y = [0, 1, 1, 1, 0];
    // Bins of width 1/15: 0.1 in bin 1 (acc 0.5, conf 0.1), 0.9 in bin 13 (acc 1, conf 0.9), 0.5 in bin 7 (acc 0, conf 0.5).
    const ece = (2 / 5) * 0.4 + (2 / 5) * 0.1 + (1 / 5) * 0.5;
    assert.ok(Math.abs(expectedCalibrationError(p, y) - ece) < 1e-12);
    assert.equal(reliabilityBins(p, y).filter((b) => b.count > 0).length, 3);
    const ll = -(Math.log(0.9) + Math.log(0.1) + 2 * Math.log(0.9) + Math.log(0.5)) / 5;
    assert.ok(Math.abs(logLoss(p, y) - ll) < 1e-12);
    assert.deepEqual(thresholdCurve(p, y).map((c) => [c.threshold, c.kept, c.precision, c.recall]), [
      [0.1, 5, 3 / 5, 1],
      [0.5, 3, 2 / 3, 2 / 3],
      [0.9, 2, 1, 2 / 3],
    ]);
    // Precision 0.65 is first reached at 0.5 (2/3); 1.0 only at 0.9.
    assert.equal(chooseThreshold(p, y, { targetPrecision: 0.65 }).threshold, 0.5);
    assert.equal(chooseThreshold(p, y, { targetPrecision: 1 }).threshold, 0.9);
    assert.equal(chooseThreshold(p, y, { bestF1: true }).threshold, 0.9, 'F1 0.8 at 0.9 beats 0.75 at 0.1');
  });

  it('the held-out split is seeded, disjoint and complete', () => {
    const a = splitHeldOut(1000, 0.3, 7);
    assert.deepEqual(a, splitHeldOut(1000, 0.3, 7));
    assert.notDeepEqual(a.heldOut, splitHeldOut(1000, 0.3, 8).heldOut);
    assert.equal(a.heldOut.length, 300);
    assert.deepEqual([...a.fit, ...a.heldOut].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  });

  it('bad input gets an error naming the problem and the fix', () => {
    assert.throws(() => fitPlatt([1, 2], [1, 1]), /all 2 labels are 1; calibration needs both relevant \(1\) and non-relevant \(0\) pairs/);
    assert.throws(() => fitPlatt([1, NaN], [1, 0]), /logits\[1\] is NaN/);
    assert.throws(() => fitPlatt([1, 2], [1, 2]), /labels\[1\] is 2; labels are 0 \(not relevant\) or 1 \(relevant\)/);
    assert.throws(() => fitPlatt([1, 2, 3], [1, 0]), /logits has 3 values but labels 2/);
    assert.throws(() => fitIsotonic([1, 2, 3], [1, 0, 1]), /isotonic calibration needs at least 1,000 labelled pairs for its fit; got 3; use --method platt/);
    assert.throws(() => chooseThreshold([0.2, 0.4], [0, 1], { targetPrecision: 1.5 }), /target precision is 1.5; expected a number in \(0, 1\]/);
    assert.throws(() => chooseThreshold([0.9, 0.4], [0, 1], { targetPrecision: 0.9 }), /no threshold reaches precision 0.9 on the 2 held-out pairs \(the best is 0.5000/);
    assert.throws(() => fitPlatt([3, 2, 1, 0], [0, 0, 1, 1]), /fitted slope a is -.*check that label 1 means relevant/);
  });
});
