// `crossgate index build`: JSONL documents on stdin -> a saved Collection directory (vectors and/or BM25).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BiEncoder } from '../infer/bi-encoder.js';
import { Collection } from '../pipeline/collection.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalString, requireString, UsageError, type CommandSpec } from './args.js';
import { DOCUMENT_LINE, readDocuments } from './documents.js';
import { hintIfInteractive } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { createProgress } from './progress.js';
import { plural } from './format.js';

export const indexBuildCommand: CommandSpec = {
  name: 'index build',
  summary: 'embed JSONL documents from stdin and save them as a searchable collection',
  usage: [
    'index build --bi-encoder DIR --out PATH [--storage f32|f16|int8] [--dense-only] [--force] < docs.jsonl',
    'index build --keyword --out PATH [--force] < docs.jsonl',
  ],
  options: {
    'bi-encoder': { type: 'string', value: 'DIR', description: 'Bi-encoder model directory or cached hub repo id (org/name[@rev]); recorded in the collection so search can reload it. Required unless --keyword.' },
    keyword: { type: 'boolean', description: 'Build a keyword-only collection (BM25, English analyzer): no bi-encoder, no vectors.' },
    'dense-only': { type: 'boolean', description: 'With --bi-encoder: skip the BM25 keyword index that is built beside the vectors by default.' },
    out: { type: 'string', short: 'o', value: 'PATH', description: 'Directory to write the collection to (created if missing). Required.' },
    storage: { type: 'string', value: 'KIND', description: 'Vector storage: f32 (default, exact), f16 (2x smaller) or int8 (4x smaller, slightly lossy).' },
    'batch-size': { type: 'string', value: 'N', description: 'Documents embedded per call (default 64); also how often progress updates.' },
    force: { type: 'boolean', description: 'Overwrite an existing collection at PATH.' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    `Input: one JSON document per line, ${DOCUMENT_LINE}. Blank lines are skipped.`,
    'Ids must be unique; a bad or duplicate line stops the build (naming the line) before anything is embedded or written.',
    'Progress goes to stderr: a bar on a terminal, a few plain lines otherwise.',
  ],
  async run(values) {
    const spec = indexBuildCommand;
    const keywordOnly = values.keyword === true;
    if (keywordOnly && values['bi-encoder'] !== undefined) throw new UsageError('--keyword builds a keyword-only collection; drop --bi-encoder (a collection with a bi-encoder gets a keyword index by default)', spec);
    if (keywordOnly && values['dense-only'] === true) throw new UsageError('--keyword and --dense-only exclude each other', spec);
    const modelDir = keywordOnly ? null : resolveModelArg('--bi-encoder', requireString(values, 'bi-encoder', spec), { quantized: values.quantized === true });
    const out = resolve(requireString(values, 'out', spec));
    const storage = optionalString(values, 'storage') ?? 'f32';
    if (storage !== 'f32' && storage !== 'f16' && storage !== 'int8') throw new UsageError(`--storage is "${storage}"; expected f32, f16 or int8`, spec);
    const batchSize = optionalInt(values, 'batch-size', spec, 1) ?? 64;
    if (existsSync(join(out, 'collection.json')) && values.force !== true) {
      throw new Error(`${out} already holds a collection; pass --force to overwrite it or choose another --out`);
    }
    hintIfInteractive('JSON documents');
    const docs = await readDocuments();
    if (modelDir === null) {
      const t0 = performance.now();
      const collection = Collection.createKeyword();
      await collection.add(docs);
      await collection.save(out);
      const secs = (performance.now() - t0) / 1000;
      const stats = collection.keywordIndex!.stats();
      process.stderr.write(
        `indexed ${docs.length} documents for keyword search (${stats.terms} terms, postings ${stats.postingsBytes} bytes) in ${secs.toFixed(2)} s -> ${out}\n`,
      );
      return;
    }
    const encoder = await BiEncoder.load(modelDir, inferOptions(values, spec));
    const progress = createProgress('indexing', { unit: 'docs' });
    const t0 = performance.now();
    try {
      const collection = Collection.create(encoder, { storage, keyword: values['dense-only'] !== true });
      await collection.add(docs, { batchSize, onProgress: (d, t) => progress.update(d, t) });
      progress.stop();
      await collection.save(out);
      const secs = (performance.now() - t0) / 1000;
      process.stderr.write(
        `indexed ${plural(docs.length, 'document')} (dim ${encoder.dim}, ${storage}) in ${secs.toFixed(1)} s (${(docs.length / secs).toFixed(1)} docs/s) -> ${out}\n`,
      );
    } finally {
      progress.stop();
      await encoder.close();
    }
  },
};
