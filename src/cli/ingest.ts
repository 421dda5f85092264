// `crossgate ingest`: JSONL documents on stdin -> an outside engine (Chroma, embedded with crossgate's
// bi-encoder; PostgreSQL, full-text indexed by the database), in batches, skipping ids already there (resume).
import { BiEncoder } from '../infer/bi-encoder.js';
import type { CollectionDocument } from '../pipeline/collection.js';
import { engineOf, ingestTargetFromUrl } from '../retrievers/index.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalString, requireString, UsageError, type CommandSpec } from './args.js';
import { DOCUMENT_LINE, readDocuments } from './documents.js';
import { hintIfInteractive } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { createProgress } from './progress.js';

const DEFAULT_BATCH_SIZE = 64;

async function* batches(docs: CollectionDocument[], size: number): AsyncGenerator<CollectionDocument[]> {
  for (let i = 0; i < docs.length; i += size) yield docs.slice(i, i + size);
}

export const ingestCommand: CommandSpec = {
  name: 'ingest',
  summary: 'load JSONL documents from stdin into Chroma or PostgreSQL, for search --retriever',
  usage: ['ingest --to chroma://host:port/collection --bi-encoder DIR [--batch-size N] < docs.jsonl', 'ingest --to postgres://user@host:port/db[?table=name] [--batch-size N] < docs.jsonl'],
  options: {
    to: { type: 'string', value: 'URL', description: 'Where to load: chroma://host:port/collection or postgres://user@host:port/db[?table=name] (default table crossgate_documents). Required.' },
    'bi-encoder': { type: 'string', value: 'DIR', description: 'Bi-encoder model directory or cached hub repo id; embeds the documents for Chroma (recorded in the collection for search). Required for chroma://.' },
    'batch-size': { type: 'string', value: 'N', description: `Documents per write (default ${DEFAULT_BATCH_SIZE}); also how often progress updates and how much a crash can lose.` },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    `Input: one JSON document per line, ${DOCUMENT_LINE}; the same lines as \`index build\`. Blank lines are skipped.`,
    'A bad or duplicate line stops the run (naming the line) before anything is written.',
    'Resume: ids the engine already holds are skipped, never overwritten, so re-running the same file after an',
    'interrupted run loads only what is missing. Chroma collections are created in cosine space; PostgreSQL tables',
    'get id, text, metadata jsonb and a generated tsvector column (English) with a GIN index.',
    'Progress goes to stderr; the last line says how many were added and skipped.',
  ],
  async run(values) {
    const spec = ingestCommand;
    const to = requireString(values, 'to', spec);
    const engine = engineOf(to);
    const biArg = optionalString(values, 'bi-encoder');
    if (engine === 'chroma' && biArg === undefined) throw new UsageError('--bi-encoder is required for chroma:// (crossgate embeds the documents)', spec);
    const batchSize = optionalInt(values, 'batch-size', spec, 1) ?? DEFAULT_BATCH_SIZE;
    hintIfInteractive('JSON documents');
    const docs = await readDocuments();
    const encoder = biArg === undefined ? undefined : await BiEncoder.load(resolveModelArg('--bi-encoder', biArg, { quantized: values.quantized === true }), inferOptions(values, spec));
    const progress = createProgress('ingesting', { unit: 'docs' });
    const t0 = performance.now();
    try {
      const target = await ingestTargetFromUrl(to, encoder ? { biEncoder: encoder } : {});
      try {
        progress.update(0, docs.length);
        const r = await target.ingest(batches(docs, batchSize), { onProgress: (added, skipped) => progress.update(added + skipped, docs.length) });
        progress.stop();
        const secs = (performance.now() - t0) / 1000;
        process.stderr.write(`ingested into ${target.name}: ${r.added} added, ${r.skipped} skipped (already present) of ${docs.length} in ${secs.toFixed(1)} s\n`);
      } finally {
        await target.close();
      }
    } finally {
      progress.stop();
      await encoder?.close();
    }
  },
};
