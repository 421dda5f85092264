// The OpenAI family: POST /v1/embeddings (with usage; float or base64 vectors).
import { runEmbed } from '../calls/embed.js';
import { ApiError } from '../errors.js';
import { OpenAiEmbeddingsRequest, type OpenAiEmbeddingsReply } from '../schemas.js';
import { INFER_ERRORS, post, type Route } from './route.js';
import { asList } from './tei.js';

/** float32 little-endian bytes, base64 (OpenAI encoding_format=base64). */
function base64Vector(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf.toString('base64');
}

export const OPENAI_ROUTES: Route[] = [
  post(OpenAiEmbeddingsRequest, {
    path: '/v1/embeddings', operationId: 'embeddingsOpenAI', tag: 'OpenAI', auth: true, family: 'openai', response: 'OpenAiEmbeddingsResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Embed texts (OpenAI-compatible, with usage)',
    needsReady: true, admits: true, countField: 'input',
  }, async ({ ctx, body: b, signal, route }) => {
    const served = ctx.embedder(b.model);
    if (b.dimensions !== undefined && b.dimensions !== served.encoder.dim) {
      throw new ApiError('validation', `dimensions is ${b.dimensions} but model "${served.name}" makes ${served.encoder.dim}-dimensional vectors; leave dimensions out or pass ${served.encoder.dim}`, { field: '/dimensions' });
    }
    const r = await runEmbed(ctx, { route, model: served.name, inputs: asList(b.input), inputsField: 'input', signal });
    const b64 = b.encoding_format === 'base64';
    const json: OpenAiEmbeddingsReply = {
      object: 'list',
      data: r.vectors.map((v, index) => ({ object: 'embedding', index, embedding: b64 ? base64Vector(v) : Array.from(v) })),
      model: r.model,
      usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
    };
    return { json, timings: r.timings, tokens: r.tokens };
  }),
];
