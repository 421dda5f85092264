// Embeddings as the server runs them: limits, deadline, the truncate=false length check, normalisation.
import { l2normalize } from '../../index/vector-math.js';
import type { EncodeOptions } from '../../tokenize/tokenizer.js';
import type { ServedEmbedder, ServerContext } from '../context.js';
import { ApiError, fmt } from '../errors.js';
import { checkDocumentCount } from '../validate.js';
import { callError, deadline, raceSignal, recordTimings, timingsOf, tokenLimit, tooLongError, type RequestTimings } from './common.js';
import { InputTooLongError } from '../../infer/errors.js';

export interface EmbedCall {
  route: string;
  model?: string | null;
  inputs: string[];
  /** How the request names its list ('inputs' for TEI, 'input' for OpenAI). */
  inputsField?: string;
  truncate?: boolean | null;
  truncationDirection?: 'left' | 'right';
  /** L2-normalise each vector (TEI's default is true). */
  normalize?: boolean;
  signal?: AbortSignal;
}

export interface EmbedResult { vectors: Float32Array[]; dim: number; model: string; tokens: number; timings: RequestTimings }

export async function runEmbed(ctx: ServerContext, call: EmbedCall): Promise<EmbedResult> {
  const field = call.inputsField ?? 'inputs';
  const served: ServedEmbedder = ctx.embedder(call.model);
  const inputs = call.inputs;
  checkDocumentCount(ctx.config, field, inputs.length);
  const lim = tokenLimit(ctx, served.name, served.encoder.maxLength);
  const truncate = call.truncate ?? ctx.config.autoTruncate;
  const encode: EncodeOptions = { maxLength: lim.max };
  if (call.truncationDirection) encode.side = call.truncationDirection;

  const d = deadline(ctx, call.signal, `embedding of ${fmt(inputs.length)} ${field}`);
  const t0 = performance.now();
  try {
    // truncate=false: the encoder refuses an over-long input as it tokenizes (one pass).
    const out = await raceSignal(served.encoder.embedDetailed(inputs, { ...encode, signal: d.signal, refuseTruncated: !truncate }), d.signal);
    const timings = timingsOf(out, performance.now() - t0);
    recordTimings(ctx, served.name, timings);
    let vectors = out.vectors;
    for (let i = 0; i < vectors.length; i++) {
      for (let j = 0; j < vectors[i].length; j++) {
        if (!Number.isFinite(vectors[i][j])) {
          throw new ApiError('backend', `inference failed: model "${served.name}" returned a non-finite embedding for ${field}[${i}]; the server is still running; the model file may be broken`);
        }
      }
    }
    if (call.normalize !== false && !served.encoder.normalizes) vectors = vectors.map(l2normalize);
    return { vectors, dim: out.dim, model: served.name, tokens: out.stats.realTokens, timings };
  } catch (e) {
    if (e instanceof InputTooLongError) throw tooLongError(e, `${field}[${e.index}]`, 'tokens', lim);
    throw callError(e, d, call.signal, served.name, { field, count: inputs.length });
  } finally {
    d.dispose();
  }
}


