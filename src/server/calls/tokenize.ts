// /tokenize as the server runs it: any served model (rerankers first), no truncation.
import type { TokenSpan } from '../../tokenize/tokenizer.js';
import type { ServerContext } from '../context.js';
import { checkDocumentCount } from '../validate.js';

export async function runTokenize(ctx: ServerContext, body: { inputs: string[]; addSpecialTokens: boolean; model?: string | null }): Promise<TokenSpan[][]> {
  checkDocumentCount(ctx.config, 'inputs', body.inputs.length);
  const name = body.model ?? null;
  const served = name !== null && !ctx.rerankers.has(name) && ctx.embedders.has(name) ? ctx.embedder(name) : ctx.reranker(name);
  return served.encoder.tokenize(body.inputs, body.addSpecialTokens);
}
