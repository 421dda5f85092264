// `crossgate rerank`: scores stdin passages (one per line) against --query with a cross-encoder and
// prints them by logit, optionally split at a probability threshold.
import { CrossEncoder } from '../infer/cross-encoder.js';
import { rerank } from '../pipeline/precision.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalProbability, requireString, type CommandSpec } from './args.js';
import { f4 } from './format.js';
import { hintIfInteractive, Output, preview, readNonBlankLines } from './io.js';
import { resolveModelArg } from './model-paths.js';

export const rerankCommand: CommandSpec = {
  name: 'rerank',
  summary: 'score passages from stdin against a query with a cross-encoder',
  usage: ['rerank --model DIR --query Q [--threshold P] [--json] < passages.txt'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'Cross-encoder model directory (config.json, tokenizer.json, ONNX file) or a cached hub repo id (org/name[@rev]). Required.' },
    query: { type: 'string', short: 'q', value: 'Q', description: 'The query to score every passage against. Required.' },
    threshold: { type: 'string', value: 'P', description: "Mark passages whose probability is >= P (0..1) as kept (default: the threshold in the model's calibration.json, if any)." },
    json: { type: 'boolean', description: 'Print one JSON object instead of a table.' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'Input: one passage per line; blank lines are skipped. "index" is the 0-based position among the non-blank lines.',
    'JSON output: {"results":[{"index","logit","probability","truncated"}...]} sorted by logit, highest first;',
    'with --threshold also "threshold" and "kept" (the indices at or above it, by logit).',
    'Passages longer than the model max length are truncated and flagged ("truncated": true).',
    'With a calibration.json in the model directory (`crossgate calibrate`), "probability" is calibrated, the output',
    'says "calibrated": true, and its threshold applies unless --threshold is given.',
  ],
  async run(values) {
    const spec = rerankCommand;
    const model = requireString(values, 'model', spec);
    const query = requireString(values, 'query', spec);
    const thresholdFlag = optionalProbability(values, 'threshold', spec);
    const opts = inferOptions(values, spec);
    const dir = resolveModelArg('--model', model, { quantized: opts.quantized });
    hintIfInteractive('passages');
    const passages = (await readNonBlankLines()).map((l) => l.text);
    const encoder = await CrossEncoder.load(dir, opts);
    const threshold = thresholdFlag ?? encoder.calibration?.threshold;
    try {
      const decision = await rerank(encoder, query, passages, threshold !== undefined ? { threshold } : {});
      const ranked = [...decision.candidates].sort((a, b) => b.logit - a.logit || a.index - b.index);
      const out = new Output();
      if (values.json === true) {
        const body: Record<string, unknown> = {
          results: ranked.map((c) => ({ index: c.index, logit: c.logit, probability: c.probability, truncated: c.truncated })),
        };
        if (encoder.calibrated) body.calibrated = true;
        if (threshold !== undefined) {
          body.threshold = threshold;
          body.kept = ranked.filter((c) => c.kept).map((c) => c.index);
        }
        await out.line(JSON.stringify(body));
        return;
      }
      await out.line(`query: ${query}`);
      await out.line(`model: ${encoder.spec.name} (${passages.length} passage${passages.length === 1 ? '' : 's'})${encoder.calibration ? `, calibrated (${encoder.calibration.method}, ${encoder.calibration.path})` : ''}`);
      for (const [rank, c] of ranked.entries()) {
        const mark = threshold === undefined ? '' : c.kept ? ' KEPT' : ' dropped';
        await out.line(
          `${String(rank + 1).padStart(3)}. logit ${f4(c.logit).padStart(8)}  prob ${f4(c.probability)}  #${c.index}${mark}${c.truncated ? ' (truncated)' : ''}  ${preview(c.text, 70)}`,
        );
      }
      if (threshold !== undefined) await out.line(`${decision.kept.length} of ${passages.length} at or above threshold ${threshold}`);
    } finally {
      await encoder.close();
    }
  },
};
