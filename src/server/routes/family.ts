// Each API family answers errors in its own shape and statuses, from the one closed set of kinds in
// errors.ts: TEI keeps {error, error_type}; OpenAI {error: {message, type, param, code}}; Cohere {id, message}.
// An unknown model is 404 and a refused body (wrong field, empty list, too long) 400 on OpenAI and Cohere,
// as those APIs answer; the status of every other kind is errors.ts's.
import { randomUUID } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { errorHeaders, httpStatus, type ApiError, type ErrorType } from '../errors.js';
import type { Reply } from '../uws.js';

export type ErrorFamily = 'tei' | 'openai' | 'cohere';

/** What the family needs to know of an error: its kind and the field at fault. */
type ErrorFacts = Pick<ApiError, 'type' | 'field' | 'message'>;

/** True for "that model is not served" (ServerState.reranker/embedder name the field `model`). */
function unknownModel(e: Pick<ErrorFacts, 'type' | 'field'>): boolean {
  return e.type === 'validation' && (e.field === 'model' || e.field === '/model');
}

/** The HTTP status a family answers a kind with (`modelField`: the error names the model field). */
export function familyStatus(f: ErrorFamily, t: ErrorType, modelField = false): number {
  if (f === 'tei') return httpStatus(t);
  if (modelField && t === 'validation') return 404;
  if (t === 'validation' || t === 'input_too_long' || t === 'invalid_input') return 400;
  return httpStatus(t);
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function openAiCode(e: ErrorFacts): string {
  if (unknownModel(e)) return 'model_not_found';
  if (e.type === 'unauthorized') return 'invalid_api_key';
  return e.type;
}

/** A JSON pointer or a path ("/input/2", "texts[3]") as OpenAI's `param` ("input"). */
function param(field: string | undefined): string | null {
  if (field === undefined || field === '') return null;
  return field.replace(/^\//, '').replace(/\//g, '.');
}

export function familyErrorBody(f: ErrorFamily, e: ErrorFacts): unknown {
  const status = familyStatus(f, e.type, unknownModel(e));
  switch (f) {
    case 'tei': return { error: e.message, error_type: e.type };
    case 'openai': return { error: { message: e.message, type: openAiType(status), param: param(e.field), code: openAiCode(e) } };
    case 'cohere': return { id: randomUUID(), message: e.message };
    default: { const never: never = f; throw new Error(`unknown family ${String(never)}`); }
  }
}

/** Sends `err` in the route's family shape (TEI: errors.ts's own body). */
export function sendFamilyError(reply: Reply, f: ErrorFamily | undefined, err: ApiError, closeConnection: boolean): number {
  if (f === undefined || f === 'tei') {
    reply.sendError(err, {}, closeConnection);
    return err.status;
  }
  const status = familyStatus(f, err.type, unknownModel(err));
  reply.send(status, { 'content-type': 'application/json', ...errorHeaders(err) }, JSON.stringify(familyErrorBody(f, err)), closeConnection);
  return status;
}

/** The OpenAPI component name and schema of each family's error body. */
export const FAMILY_ERROR_SCHEMAS: Record<Exclude<ErrorFamily, 'tei'>, { name: string; schema: TSchema }> = {
  openai: {
    name: 'OpenAiError',
    schema: Type.Object({
      error: Type.Object({
        message: Type.String(),
        type: Type.String({ description: 'invalid_request_error, authentication_error, rate_limit_error or server_error.' }),
        param: Type.Union([Type.String(), Type.Null()], { description: 'The request field at fault, when there is one.' }),
        code: Type.String({ description: 'model_not_found, invalid_api_key, or the crossgate error kind.' }),
      }, { additionalProperties: false }),
    }, { additionalProperties: false }),
  },
  cohere: {
    name: 'CohereError',
    schema: Type.Object({ id: Type.String(), message: Type.String() }, { additionalProperties: false }),
  },
};

