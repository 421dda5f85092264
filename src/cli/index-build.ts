// `crossgate index build`: JSONL documents on stdin -> a saved Collection directory (vectors and/or BM25).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BiEncoder } from '../infer/bi-encoder.js';
import { Collection, type CollectionDocument } from '../pipeline/collection.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalString, requireString, UsageError, type CommandSpec } from './args.js';
import { hintIfInteractive, parseJsonObjectLine, readLines } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { createProgress } from './progress.js';

const EXPECTED = '{"id" (or BEIR "_id"): string, "text": string, ...other fields kept as metadata; a "title" string is also indexed for keyword search}';

/** One JSONL line -> a document; every field besides id/text becomes metadata (a lone "metadata" object is unwrapped). */
function toDocument(obj: Record<string, unknown>, n: number): CollectionDocument {
  // BEIR corpora name the id "_id"; take it when "id" is absent.
  const { id: plainId, _id, text, ...rest } = obj;
  const id = plainId === undefined ? _id : plainId;
  if (plainId !== undefined && _id !== undefined) rest._id = _id;
  if (typeof id !== 'string' || id.length === 0) {
    throw new Error(`stdin line ${n}: "id" is ${id === undefined ? 'missing' : typeof id === 'string' ? 'empty' : typeof id}; expected a non-empty string (${EXPECTED})`);
  }
  if (typeof text !== 'string') throw new Error(`stdin line ${n}: "text" is ${text === undefined ? 'missing' : typeof text}; expected a string (${EXPECTED})`);
  const keys = Object.keys(rest);
  const doc: CollectionDocument = { id, text };
  if (keys.length === 1 && keys[0] === 'metadata' && rest.metadata !== null && typeof rest.metadata === 'object' && !Array.isArray(rest.metadata)) {
    doc.metadata = rest.metadata as Record<string, unknown>;
  } else if (keys.length > 0) {
    doc.metadata = rest;
  }
  return doc;
}

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
    `Input: one JSON document per line, ${EXPECTED}. Blank lines are skipped.`,
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
    const docs: CollectionDocument[] = [];
    const lineOf = new Map<string, number>();
    for await (const line of readLines()) {
      if (line.text.trim().length === 0) continue;
      const doc = toDocument(parseJsonObjectLine(line, EXPECTED), line.n);
      const prev = lineOf.get(doc.id);
      if (prev !== undefined) throw new Error(`stdin line ${line.n}: duplicate id "${doc.id}" (first seen on line ${prev}); ids must be unique`);
      lineOf.set(doc.id, line.n);
      docs.push(doc);
    }
    if (docs.length === 0) throw new Error(`stdin held no documents; expected one ${EXPECTED} per line`);
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
        `indexed ${docs.length} documents (dim ${encoder.dim}, ${storage}) in ${secs.toFixed(1)} s (${(docs.length / secs).toFixed(1)} docs/s) -> ${out}\n`,
      );
    } finally {
      progress.stop();
      await encoder.close();
    }
  },
};
