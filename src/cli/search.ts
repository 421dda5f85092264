// `crossgate search`: retrieve from a saved collection, then (with --cross-encoder) rerank and gate,
// printing the GateDecision.
import { resolve } from 'node:path';
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import { Collection } from '../pipeline/collection.js';
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K, PrecisionPipeline } from '../pipeline/precision.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalProbability, optionalString, requireString, type CommandSpec } from './args.js';
import { formatDecision, formatHits } from './format.js';
import { Output } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { searchThroughRetriever } from './search-retriever.js';

export const searchCommand: CommandSpec = {
  name: 'search',
  summary: 'retrieve from a collection, rerank with a cross-encoder and apply the relevance gate',
  usage: ['search --index PATH --query Q [--cross-encoder DIR] [--top-k K] [--threshold P] [--json]', 'search --retriever URL --query Q [--bi-encoder DIR] [--cross-encoder DIR] [--top-k K] [--threshold P] [--json]'],
  options: {
    index: { type: 'string', value: 'PATH', description: 'Collection directory written by `crossgate index build`. Required.' },
    retriever: { type: 'string', value: 'URL', description: 'Retrieve from an outside engine instead of --index: chroma://host:port/collection (dense) or postgres://user@host:port/db[?table=name] (keyword); see `crossgate ingest`.' },
    query: { type: 'string', short: 'q', value: 'Q', description: 'The query. Required.' },
    'cross-encoder': { type: 'string', value: 'DIR', description: 'Cross-encoder model directory or cached hub repo id (org/name[@rev]); without it only the retrieval step runs.' },
    'bi-encoder': { type: 'string', value: 'DIR', description: 'Override the bi-encoder recorded in the collection: a directory or cached hub repo id (same dimension required).' },
    'top-k': { type: 'string', short: 'k', value: 'K', description: `Candidates to retrieve and rerank (default ${DEFAULT_TOP_K}).` },
    threshold: { type: 'string', value: 'P', description: `Minimum cross-encoder probability to keep a passage (default ${DEFAULT_THRESHOLD}).` },
    json: { type: 'boolean', description: 'Print the decision (or the hits) as one JSON object.' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'With --cross-encoder the output is the GateDecision: query, threshold, outcome ("answer" or "no_relevant"),',
    'kept and dropped passages (by probability), every candidate with retrievalScore/logit/probability/truncated,',
    'and the LLM prompt built from the kept passages (null when nothing passed).',
    'Without it: {"query", "hits": [{"id", "text", "metadata", "score"}]} ranked by cosine.',
  ],
  async run(values) {
    const spec = searchCommand;
    if (values.retriever !== undefined) return searchThroughRetriever(values, spec);
    const indexDir = resolve(requireString(values, 'index', spec));
    const query = requireString(values, 'query', spec);
    const topK = optionalInt(values, 'top-k', spec, 1) ?? DEFAULT_TOP_K;
    const threshold = optionalProbability(values, 'threshold', spec) ?? DEFAULT_THRESHOLD;
    const opts = inferOptions(values, spec);
    const crossArg = optionalString(values, 'cross-encoder');
    const crossDir = crossArg === undefined ? undefined : resolveModelArg('--cross-encoder', crossArg, { quantized: opts.quantized });
    const biArg = optionalString(values, 'bi-encoder');
    const biOverride = biArg === undefined ? undefined : resolveModelArg('--bi-encoder', biArg, { quantized: opts.quantized });
    const manifest = await Collection.readManifest(indexDir);
    const biDir = biOverride ?? manifest.biEncoder.dir;
    const bi = await BiEncoder.load(biDir, opts);
    let cross: CrossEncoder | undefined;
    const out = new Output();
    try {
      const collection = await Collection.load(indexDir, bi);
      if (crossDir === undefined) {
        const hits = await collection.search(query, topK);
        if (values.json === true) {
          await out.line(JSON.stringify({ query, hits }));
        } else {
          await out.line(`query: ${query}`);
          await out.line(`retrieved top-${hits.length} of ${collection.size} (no --cross-encoder: retrieval only, no gate)`);
          for (const l of formatHits(hits)) await out.line(l);
        }
        return;
      }
      cross = await CrossEncoder.load(crossDir, opts);
      const pipeline = new PrecisionPipeline({ collection, crossEncoder: cross, topK, threshold });
      const decision = await pipeline.search(query);
      if (values.json === true) {
        await out.line(JSON.stringify(decision));
      } else {
        await out.line(`query: ${query}`);
        for (const l of formatDecision(decision)) await out.line(l);
      }
    } finally {
      await cross?.close();
      await bi.close();
    }
  },
};
