// `crossgate embed`: embeds stdin texts (one per line) with a bi-encoder.
import { BiEncoder } from '../infer/bi-encoder.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, requireString, type CommandSpec } from './args.js';
import { f4 } from './format.js';
import { hintIfInteractive, Output, preview, readNonBlankLines } from './io.js';
import { resolveModelArg } from './model-paths.js';

/**
 * Texts embedded per call. Output streams chunk by chunk, so memory stays bounded by this many vectors
 * plus the input lines, whatever the input size.
 */
const EMBED_CHUNK = 256;

export const embedCommand: CommandSpec = {
  name: 'embed',
  summary: 'embed texts from stdin with a bi-encoder',
  usage: ['embed --model DIR [--json] < texts.txt'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'Bi-encoder model directory (sentence-transformers layout with an ONNX file) or a cached hub repo id (org/name[@rev]). Required.' },
    json: { type: 'boolean', description: 'Print {"embeddings": number[][]} (one object for all texts).' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'Input: one text per line; blank lines are skipped.',
    'Output: with --json one {"embeddings": [[...], ...]} in input order; otherwise one line per text with its dimension, norm and first values.',
  ],
  async run(values) {
    const spec = embedCommand;
    const model = requireString(values, 'model', spec);
    const opts = inferOptions(values, spec);
    const dir = resolveModelArg('--model', model, { quantized: opts.quantized });
    hintIfInteractive('texts');
    const texts = (await readNonBlankLines()).map((l) => l.text);
    const encoder = await BiEncoder.load(dir, opts);
    const out = new Output();
    try {
      if (values.json === true) await out.write('{"embeddings":[');
      for (let start = 0; start < texts.length; start += EMBED_CHUNK) {
        const chunk = texts.slice(start, start + EMBED_CHUNK);
        const vectors = await encoder.embed(chunk);
        for (let j = 0; j < vectors.length; j++) {
          const v = vectors[j];
          if (values.json === true) {
            await out.write((start + j > 0 ? ',' : '') + '[' + Array.from(v).join(',') + ']');
          } else {
            let norm = 0;
            for (const x of v) norm += x * x;
            const head = Array.from(v.subarray(0, 4), f4).join(', ');
            await out.line(`#${start + j} dim ${v.length} norm ${f4(Math.sqrt(norm))} [${head}, …]  ${preview(chunk[j], 50)}`);
          }
        }
      }
      if (values.json === true) await out.line(']}');
    } finally {
      await encoder.close();
    }
  },
};
