// `crossgate search --retriever URL`: the same retrieval-only hits or GateDecision as a built-in collection
// search, with the candidates coming from an outside engine (Chroma or PostgreSQL).
import { BiEncoder } from '../infer/bi-encoder.js';
import { CrossEncoder } from '../infer/cross-encoder.js';
import type { RetrievedDocument } from '../pipeline/collection.js';
import type { RetrievalMode } from '../pipeline/ports.js';
import { DEFAULT_TOP_K, PrecisionPipeline } from '../pipeline/precision.js';
import { asPipelineSource, ChromaRetriever, engineOf, fromUrl } from '../retrievers/index.js';
import { inferOptions, optionalInt, optionalProbability, optionalString, requireString, UsageError, type CommandSpec, type ParsedValues } from './args.js';
import { formatDecision, formatHits } from './format.js';
import { Output } from './io.js';
import { resolveModelArg } from './model-paths.js';

export async function searchThroughRetriever(values: ParsedValues, spec: CommandSpec): Promise<void> {
  const url = requireString(values, 'retriever', spec);
  if (values.index !== undefined) throw new UsageError('--index and --retriever both name where to search; pass one', spec);
  const engine = engineOf(url);
  const query = requireString(values, 'query', spec);
  const topK = optionalInt(values, 'top-k', spec, 1) ?? DEFAULT_TOP_K;
  const thresholdFlag = optionalProbability(values, 'threshold', spec);
  const modeArg = typeof values.mode === 'string' ? values.mode : undefined;
  const mode = modeArg as RetrievalMode | undefined;
  const opts = inferOptions(values, spec);
  const crossArg = optionalString(values, 'cross-encoder');
  const crossDir = crossArg === undefined ? undefined : resolveModelArg('--cross-encoder', crossArg, { quantized: opts.quantized });
  let biArg = optionalString(values, 'bi-encoder');
  // Chroma collections loaded by `crossgate ingest` record their bi-encoder, as a collection's manifest does.
  if (engine === 'chroma' && biArg === undefined) biArg = await ChromaRetriever.recordedBiEncoder(url);
  if (engine === 'chroma' && biArg === undefined) throw new UsageError(`${url} records no bi-encoder (not loaded by crossgate ingest); pass --bi-encoder DIR`, spec);
  const bi = biArg === undefined ? undefined : await BiEncoder.load(resolveModelArg('--bi-encoder', biArg, { quantized: opts.quantized }), opts);
  let cross: CrossEncoder | undefined;
  const out = new Output();
  try {
    const retriever = await fromUrl(url, bi ? { biEncoder: bi } : {});
    try {
      const source = asPipelineSource(retriever, mode ? { mode } : {});
      if (crossDir === undefined) {
        const hits: RetrievedDocument[] = await source.search(query, topK);
        if (values.json === true) {
          await out.line(JSON.stringify({ query, hits }));
        } else {
          await out.line(`query: ${query}`);
          await out.line(`retrieved top-${hits.length} from ${retriever.name} (no --cross-encoder: retrieval only, no gate)`);
          for (const l of formatHits(hits)) await out.line(l);
        }
        return;
      }
      cross = await CrossEncoder.load(crossDir, opts);
      const pipeline = new PrecisionPipeline({ collection: source, crossEncoder: cross, topK, ...(thresholdFlag !== undefined ? { threshold: thresholdFlag } : {}) });
      const decision = await pipeline.search(query);
      if (values.json === true) {
        await out.line(JSON.stringify(decision));
      } else {
        await out.line(`query: ${query}`);
        for (const l of formatDecision(decision)) await out.line(l);
      }
    } finally {
      await retriever.close();
    }
  } finally {
    await cross?.close();
    await bi?.close();
  }
}
