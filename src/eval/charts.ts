// SVG charts of a calibration: the reliability diagram (before and after) and precision/recall/F1 against
// the threshold. Vega-Lite specs rendered headlessly by vega's View.toSVG(), as the benchmark report does;
// vega is imported on first use so other commands do not pay for loading it.
import { reliabilityBins, thresholdCurve, type CalibrationReport } from './calibration.js';

async function render(spec: unknown): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(spec as Parameters<typeof compile>[0]).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Reliability diagram: mean predicted probability against the observed rate of relevant pairs, per bin. */
export function reliabilitySpec(report: CalibrationReport, title: string): unknown {
  const { raw, calibrated, labels } = report.heldOut;
  const points = [
    ...reliabilityBins(raw, labels).filter((b) => b.count > 0).map((b) => ({ series: `raw expit (ECE ${report.before.ece.toFixed(3)})`, confidence: b.confidence, accuracy: b.accuracy, count: b.count })),
    ...reliabilityBins(calibrated, labels).filter((b) => b.count > 0).map((b) => ({ series: `${report.fit.method} (ECE ${report.after.ece.toFixed(3)})`, confidence: b.confidence, accuracy: b.accuracy, count: b.count })),
  ];
  const axis = { type: 'quantitative', scale: { domain: [0, 1] } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Reliability diagram (held-out pairs, 15 bins)', subtitle: title },
    width: 420,
    height: 420,
    layer: [
      { data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }, mark: { type: 'line', strokeDash: [4, 3], color: '#888' }, encoding: { x: { field: 'x', ...axis, title: 'predicted probability (bin mean)' }, y: { field: 'y', ...axis, title: 'observed fraction relevant' } } },
      {
        data: { values: points },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'confidence', ...axis },
          y: { field: 'accuracy', ...axis },
          color: { field: 'series', type: 'nominal', legend: { title: null, orient: 'top-left', labelLimit: 400 } },
          tooltip: [{ field: 'count', type: 'quantitative' }],
        },
      },
    ],
  };
}

/** Precision, recall and F1 of "probability ≥ t" on the held-out pairs, with the chosen threshold marked. */
export function thresholdSpec(report: CalibrationReport, title: string): unknown {
  const curve = thresholdCurve(report.heldOut.calibrated, report.heldOut.labels);
  const step = Math.max(1, Math.ceil(curve.length / 400));
  const values = curve.filter((_, i) => i % step === 0 || i === curve.length - 1).flatMap((c) => [
    { threshold: c.threshold, measure: 'precision', value: c.precision },
    { threshold: c.threshold, measure: 'recall', value: c.recall },
    { threshold: c.threshold, measure: 'F1', value: c.f1 },
  ]);
  const t = report.threshold;
  const rule = 'targetPrecision' in t.rule ? `target precision ${t.rule.targetPrecision}` : 'best F1';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Precision and recall against the threshold (held-out pairs)', subtitle: `${title}; chosen ${t.threshold.toFixed(4)} (${rule})` },
    width: 480,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'threshold', type: 'quantitative', scale: { domain: [0, 1] }, title: `calibrated probability threshold (${report.fit.method})` },
          y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, title: null },
          color: { field: 'measure', type: 'nominal', legend: { title: null, orient: 'bottom-left' } },
        },
      },
      { data: { values: [{ t: t.threshold }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#333' }, encoding: { x: { field: 't', type: 'quantitative' } } },
    ],
  };
}

export async function renderCalibrationCharts(report: CalibrationReport, title: string): Promise<{ reliability: string; threshold: string }> {
  return { reliability: await render(reliabilitySpec(report, title)), threshold: await render(thresholdSpec(report, title)) };
}
