// `crossgate search`: retrieve from a saved collection, then (with --cross-encoder) rerank and gate,
// printing the GateDecision.
import { resolve } from 'node:path';
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import { Collection } from '../pipeline/collection.js';
import type { RetrievalMode } from '../pipeline/ports.js';
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K, PrecisionPipeline } from '../pipeline/precision.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalProbability, optionalString, requireString, UsageError, type CommandSpec } from './args.js';
import { formatDecision, formatHits } from './format.js';
import { Output } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { searchThroughRetriever } from './search-retriever.js';

export const searchCommand: CommandSpec = {
  name: 'search',
  summary: 'retrieve from a collection, rerank with a cross-encoder and apply the relevance gate',
  usage: ['search --index PATH --query Q [--mode dense|keyword|hybrid] [--cross-encoder DIR] [--top-k K] [--threshold P] [--json]', 'search --retriever URL --query Q [--bi-encoder DIR] [--cross-encoder DIR] [--top-k K] [--threshold P] [--json]'],
  options: {
    index: { type: 'string', value: 'PATH', description: 'Collection directory written by `crossgate index build`. Required.' },
    retriever: { type: 'string', value: 'URL', description: 'Retrieve from an outside engine instead of --index: chroma://host:port/collection (dense) or postgres://user@host:port/db[?table=name] (keyword); see `crossgate ingest`.' },
    query: { type: 'string', short: 'q', value: 'Q', description: 'The query. Required.' },
    mode: { type: 'string', value: 'MODE', description: 'dense (cosine), keyword (BM25) or hybrid (both fused by reciprocal rank, k = 60). Default: dense, or keyword for a keyword-only collection.' },
    'cross-encoder': { type: 'string', value: 'DIR', description: 'Cross-encoder model directory or cached hub repo id (org/name[@rev]); without it only the retrieval step runs.' },
    'bi-encoder': { type: 'string', value: 'DIR', description: 'Override the bi-encoder recorded in the collection: a directory or cached hub repo id (same dimension required).' },
    'top-k': { type: 'string', short: 'k', value: 'K', description: `Candidates to retrieve and rerank (default ${DEFAULT_TOP_K}).` },
    threshold: { type: 'string', value: 'P', description: `Minimum cross-encoder probability to keep a passage (default: the threshold in the cross-encoder's calibration.json, else ${DEFAULT_THRESHOLD}).` },
    json: { type: 'boolean', description: 'Print the decision (or the hits) as one JSON object.' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'With --cross-encoder the output is the GateDecision: query, threshold, outcome ("answer" or "no_relevant"),',
    'kept and dropped passages (by probability), every candidate with retrievalScore/logit/probability/truncated,',
    'and the LLM prompt built from the kept passages (null when nothing passed).',
    'Without it: {"query", "hits": [{"id", "text", "metadata", "score"}]} ranked by cosine (dense), BM25 (keyword)',
    'or the RRF score (hybrid, where each hit also has "sources": {"dense"?: {rank, score}, "keyword"?: {rank, score}}).',
  ],
  async run(values) {
    const spec = searchCommand;
    if (values.retriever !== undefined) return searchThroughRetriever(values, spec);
    const indexDir = resolve(requireString(values, 'index', spec));
    const query = requireString(values, 'query', spec);
    const topK = optionalInt(values, 'top-k', spec, 1) ?? DEFAULT_TOP_K;
    const thresholdFlag = optionalProbability(values, 'threshold', spec);
    const opts = inferOptions(values, spec);
    const crossArg = optionalString(values, 'cross-encoder');
    const crossDir = crossArg === undefined ? undefined : resolveModelArg('--cross-encoder', crossArg, { quantized: opts.quantized });
    const biArg = optionalString(values, 'bi-encoder');
    const biOverride = biArg === undefined ? undefined : resolveModelArg('--bi-encoder', biArg, { quantized: opts.quantized });
    const manifest = await Collection.readManifest(indexDir);
    const modeArg = optionalString(values, 'mode');
    if (modeArg !== undefined && modeArg !== 'dense' && modeArg !== 'keyword' && modeArg !== 'hybrid') {
      throw new UsageError(`--mode is "${modeArg}"; expected dense, keyword or hybrid`, spec);
    }
    const mode: RetrievalMode = modeArg ?? (manifest.biEncoder ? 'dense' : 'keyword');
    if (mode !== 'keyword' && manifest.biEncoder === null) {
      throw new UsageError(`--mode ${mode} needs vectors, but ${indexDir} is a keyword-only collection; use --mode keyword or rebuild it with --bi-encoder`, spec);
    }
    if (mode !== 'dense' && !manifest.keyword) {
      throw new UsageError(`--mode ${mode} needs a keyword index, but ${indexDir} has none (built with --dense-only or before keyword search existed); use --mode dense or rebuild it`, spec);
    }
    const biDir = biOverride ?? manifest.biEncoder?.dir;
    // Keyword search needs no model: the bi-encoder loads only for dense and hybrid.
    const bi = mode === 'keyword' || biDir === undefined ? null : await BiEncoder.load(biDir, opts);
    let cross: CrossEncoder | undefined;
    const out = new Output();
    try {
      const collection = await Collection.load(indexDir, bi);
      if (crossDir === undefined) {
        const hits = mode === 'hybrid' ? await collection.retrieve(query, { k: topK, mode }) : await collection.search(query, topK, mode);
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
      const threshold = thresholdFlag ?? cross.calibration?.threshold ?? DEFAULT_THRESHOLD;
      const pipeline = new PrecisionPipeline({ collection, crossEncoder: cross, topK, threshold, mode });
      const decision = await pipeline.search(query);
      if (values.json === true) {
        await out.line(JSON.stringify(cross.calibrated ? { ...decision, calibrated: true } : decision));
      } else {
        await out.line(`query: ${query}`);
        if (cross.calibration) await out.line(`calibrated probabilities (${cross.calibration.method}, ${cross.calibration.path})`);
        for (const l of formatDecision(decision)) await out.line(l);
      }
    } finally {
      await cross?.close();
      await bi?.close();
    }
  },
};
