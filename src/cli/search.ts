// `crossgate search`: retrieve from a saved collection, then (with --cross-encoder) run the decision flow
// (rerank, gate, fallback retrieval, ambiguous band, gap log) and print the GateDecision. The option table
// and openDecisionFlow() are shared with `ask`; a new retrieval flag is one entry here and one line there.
import { resolve } from 'node:path';
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import { Collection } from '../pipeline/collection.js';
import { defaultGapLogPath, GapLog } from '../pipeline/gaps.js';
import type { RetrievalMode } from '../pipeline/ports.js';
import { checkAmbiguous, DEFAULT_FALLBACK, DEFAULT_THRESHOLD, DEFAULT_TOP_K, FALLBACK_MODES, PrecisionPipeline, type AmbiguousBand, type FallbackMode } from '../pipeline/precision.js';
import { HELP_OPTION, INFER_OPTIONS, inferOptions, optionalInt, optionalProbability, optionalString, requireString, UsageError, type CommandSpec, type OptionSpec, type ParsedValues } from './args.js';
import { formatDecision, formatHits } from './format.js';
import { Output } from './io.js';
import { resolveModelArg } from './model-paths.js';
import { searchThroughRetriever } from './search-retriever.js';

/** The flags of the decision flow, shared by search and ask. */
export const DECISION_OPTIONS: Record<string, OptionSpec> = {
  index: { type: 'string', value: 'PATH', description: 'Collection directory written by `crossgate index build`. Required.' },
  query: { type: 'string', short: 'q', value: 'Q', description: 'The query. Required.' },
  mode: { type: 'string', value: 'MODE', description: 'First retrieval: dense (cosine), keyword (BM25) or hybrid (both fused by reciprocal rank, k = 60). Default: dense, or keyword for a keyword-only collection.' },
  'cross-encoder': { type: 'string', value: 'DIR', description: 'Cross-encoder model directory or cached hub repo id (org/name[@rev]).' },
  'bi-encoder': { type: 'string', value: 'DIR', description: 'Override the bi-encoder recorded in the collection: a directory or cached hub repo id (same dimension required).' },
  'top-k': { type: 'string', short: 'k', value: 'K', description: `Candidates to retrieve and rerank per retrieval (default ${DEFAULT_TOP_K}).` },
  threshold: { type: 'string', value: 'P', description: `Minimum cross-encoder probability to keep a passage (default: the threshold in the cross-encoder's calibration.json, else ${DEFAULT_THRESHOLD}).` },
  fallback: { type: 'string', value: 'MODE', description: `Second retrieval when nothing passes: ${FALLBACK_MODES.join(', ')} (default ${DEFAULT_FALLBACK}; runs only if the collection has that mode).` },
  ambiguous: { type: 'string', value: 'LO,HI', description: 'CRAG band instead of --threshold: keep passages at LO, answer with confidence at HI, "ambiguous" in between (off by default).' },
  'gap-log': { type: 'string', value: 'PATH', description: 'Where unanswered decisions are recorded (default <index>.gaps.jsonl beside the collection; env CROSSGATE_GAP_LOG).' },
  'no-gap-log': { type: 'boolean', description: 'Record nothing (queries can hold personal data; or CROSSGATE_GAP_LOG=off).' },
};

/** The gap log for a collection directory: --no-gap-log / CROSSGATE_GAP_LOG=off turn it off; --gap-log / the env var move it. */
export function gapLogFor(values: ParsedValues, indexDir: string, env: NodeJS.ProcessEnv = process.env): GapLog | null {
  if (values['no-gap-log'] === true) return null;
  const flag = optionalString(values, 'gap-log');
  const fromEnv = env.CROSSGATE_GAP_LOG;
  if (flag === undefined && fromEnv !== undefined && ['off', 'false', '0', 'none'].includes(fromEnv.trim().toLowerCase())) return null;
  return new GapLog(flag ?? (fromEnv && fromEnv.trim() !== '' ? fromEnv : defaultGapLogPath(indexDir)));
}

export function fallbackFlag(values: ParsedValues, spec: CommandSpec): FallbackMode | undefined {
  const v = optionalString(values, 'fallback');
  if (v === undefined) return undefined;
  if (!(FALLBACK_MODES as readonly string[]).includes(v)) throw new UsageError(`--fallback is "${v}"; expected one of ${FALLBACK_MODES.join(', ')}`, spec);
  return v as FallbackMode;
}

export function ambiguousFlag(values: ParsedValues, spec: CommandSpec): AmbiguousBand | undefined {
  const v = optionalString(values, 'ambiguous');
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim());
  const nums = parts.map((s) => (s === '' ? NaN : Number(s)));
  if (parts.length !== 2 || nums.some((n) => !Number.isFinite(n))) throw new UsageError(`--ambiguous is "${v}"; expected two probabilities LO,HI such as 0.1,0.5`, spec);
  if (values.threshold !== undefined) throw new UsageError('--ambiguous and --threshold were both given; with a band passages are kept at LO, so pass one or the other', spec);
  try {
    return checkAmbiguous({ lower: nums[0], upper: nums[1] }, '--ambiguous');
  } catch (e) {
    throw new UsageError((e as Error).message, spec);
  }
}

/** Everything a decision-flow command opened; close() releases the models. */
export interface DecisionFlow {
  query: string;
  indexDir: string;
  collection: Collection;
  /** null without --cross-encoder (retrieval only). */
  pipeline: PrecisionPipeline | null;
  /** The loaded cross-encoder (null without --cross-encoder). */
  crossEncoder: CrossEncoder | null;
  topK: number;
  mode: RetrievalMode;
  close(): Promise<void>;
}

/** Parses the shared flags, loads the collection and models, and builds the pipeline. */
export async function openDecisionFlow(values: ParsedValues, spec: CommandSpec, opts: { requireCrossEncoder?: boolean } = {}): Promise<DecisionFlow> {
  const indexDir = resolve(requireString(values, 'index', spec));
  const query = requireString(values, 'query', spec);
  const topK = optionalInt(values, 'top-k', spec, 1) ?? DEFAULT_TOP_K;
  const threshold = optionalProbability(values, 'threshold', spec);
  const fallback = fallbackFlag(values, spec);
  const ambiguous = ambiguousFlag(values, spec);
  const infer = inferOptions(values, spec);
  const crossArg = optionalString(values, 'cross-encoder');
  if (crossArg === undefined && opts.requireCrossEncoder) throw new UsageError(`--cross-encoder is required: ${spec.name} gates the passages before anything is generated`, spec);
  const crossDir = crossArg === undefined ? undefined : resolveModelArg('--cross-encoder', crossArg, { quantized: infer.quantized });
  const biArg = optionalString(values, 'bi-encoder');
  const biOverride = biArg === undefined ? undefined : resolveModelArg('--bi-encoder', biArg, { quantized: infer.quantized });
  const gapLog = gapLogFor(values, indexDir);
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
  // A collection without a keyword index needs its bi-encoder whatever the mode (only the keyword index loads without one).
  const needsVectors = mode !== 'keyword' || fallback === 'hybrid' || !manifest.keyword;
  // Keyword search needs no model: the bi-encoder loads only when vectors are searched (dense or hybrid, first or as the fallback).
  const bi = needsVectors && biDir !== undefined ? await BiEncoder.load(biDir, infer) : null;
  let cross: CrossEncoder | undefined;
  try {
    const collection = await Collection.load(indexDir, bi);
    let pipeline: PrecisionPipeline | null = null;
    if (crossDir !== undefined) {
      cross = await CrossEncoder.load(crossDir, infer);
      pipeline = new PrecisionPipeline({
        retriever: collection, crossEncoder: cross, topK, mode, gapLog, collectionLabel: indexDir,
        // Without --threshold the pipeline takes the calibration's threshold (calibration.json), else the default.
        ...(threshold !== undefined ? { threshold } : {}), ...(fallback !== undefined ? { fallback } : {}), ...(ambiguous !== undefined ? { ambiguous } : {}),
      });
    }
    const c = cross;
    return {
      query, indexDir, collection, pipeline, crossEncoder: c ?? null, topK, mode,
      async close() {
        // The buffered answer tallies are written before the command exits (a failure here is not the search's).
        await gapLog?.close().catch(() => undefined);
        await c?.close();
        await bi?.close();
      },
    };
  } catch (e) {
    await cross?.close();
    await bi?.close();
    throw e;
  }
}

export const searchCommand: CommandSpec = {
  name: 'search',
  summary: 'retrieve from a collection, rerank with a cross-encoder, gate, and fall back to keyword search',
  usage: [
    'search --index PATH --query Q [--mode dense|keyword|hybrid] [--cross-encoder DIR] [--top-k K] [--threshold P | --ambiguous LO,HI] [--fallback keyword|hybrid|off] [--json]',
    'search --retriever URL --query Q [--bi-encoder DIR] [--cross-encoder DIR] [--top-k K] [--threshold P] [--json]',
  ],
  options: {
    ...DECISION_OPTIONS,
    retriever: { type: 'string', value: 'URL', description: 'Retrieve from an outside engine instead of --index: chroma://host:port/collection (dense) or postgres://user@host:port/db[?table=name] (keyword); see `crossgate ingest`.' },
    json: { type: 'boolean', description: 'Print the decision (or the hits) as one JSON object.' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'With --cross-encoder the output is the GateDecision: outcome (answer, answer_from_fallback, ambiguous or',
    'no_relevant), augment and its reason, path (each retrieval in order: retriever, mode, ran/unavailable/skipped,',
    'what it found), kept and dropped passages (each with the retriever and mode that found it), every candidate,',
    'the LLM prompt (null when nothing passed), timings, and gap (whether the gap log recorded it).',
    'Unanswered, ambiguous and fallback decisions go to the gap log; see `crossgate gaps`.',
    'Without --cross-encoder: {"query", "hits": [{"id", "text", "metadata", "score"}]} ranked by cosine (dense), BM25 (keyword)',
    'or the RRF score (hybrid, where each hit also has "sources": {"dense"?: {rank, score}, "keyword"?: {rank, score}}).',
  ],
  async run(values) {
    if (values.retriever !== undefined) return searchThroughRetriever(values, searchCommand);
    const flow = await openDecisionFlow(values, searchCommand);
    const out = new Output();
    try {
      if (flow.pipeline === null) {
        const hits = flow.mode === 'hybrid' ? await flow.collection.retrieve(flow.query, { k: flow.topK, mode: flow.mode }) : await flow.collection.search(flow.query, flow.topK, flow.mode);
        if (values.json === true) {
          await out.line(JSON.stringify({ query: flow.query, hits }));
        } else {
          await out.line(`query: ${flow.query}`);
          await out.line(`retrieved top-${hits.length} of ${flow.collection.size} (no --cross-encoder: retrieval only, no gate)`);
          for (const l of formatHits(hits)) await out.line(l);
        }
        return;
      }
      const decision = await flow.pipeline.search(flow.query);
      if (values.json === true) {
        await out.line(JSON.stringify(flow.crossEncoder?.calibrated ? { ...decision, calibrated: true } : decision));
      } else {
        await out.line(`query: ${flow.query}`);
        if (flow.crossEncoder?.calibration) await out.line(`calibrated probabilities (${flow.crossEncoder.calibration.method}, ${flow.crossEncoder.calibration.path})`);
        for (const l of formatDecision(decision)) await out.line(l);
      }
    } finally {
      await flow.close();
    }
  },
};
