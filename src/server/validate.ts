// Validation at the edge: a request body is parsed and checked once, by the TypeBox validator compiled from
// its declaration in schemas.ts; everything past this point takes typed values. A failure names the field
// with a JSON pointer ("/texts/2 must be a string; got number 3").
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { Static, TSchema } from '@sinclair/typebox';
import { ApiError, fmt, limitError } from './errors.js';
import type { ServerConfig } from './limits.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/** Checks a parsed JSON body against its declaration; throws ApiError('validation') naming the field. */
export function validateBody<T extends TSchema>(schema: T, body: unknown, requestId?: string): Static<T> {
  const check = checkerFor(schema);
  if (check.Check(body)) return body;
  const first = check.Errors(body).First();
  const e = first ? explain(first) : { field: '', message: `body must be ${describe(schema)}` };
  throw new ApiError('validation', e.message, { field: e.field || '/', requestId });
}

/** Parses a request body; malformed JSON is 400 invalid_input, as TEI and the error table say. */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) throw new ApiError('invalid_input', 'the request body is empty; send a JSON object (Content-Type: application/json)', { field: '/' });
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ApiError('invalid_input', `the request body is not valid JSON (${(e as Error).message}); send a JSON object`, { field: '/' });
  }
}

/**
 * The document-count limit, checked before the per-item schema so a 100k-item request gets 413 at once.
 * `field` is the request's name for the list (texts, documents, inputs, passages).
 */
export function checkDocumentCount(config: ServerConfig, field: string, n: number, requestId?: string): void {
  const max = config.maxDocumentsPerRequest;
  if (n > max) {
    throw limitError('batch_too_large', {
      subject: field, actual: n, unit: 'items', limit: 'max_documents_per_request', max,
      fix: `split the request into batches of at most ${fmt(max)} or raise --max-documents-per-request`, requestId,
    });
  }
}

/** checkDocumentCount for a raw JSON body whose list may be an array or a single string. */
export function precheckCount(config: ServerConfig, body: unknown, field: string): void {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const v = (body as Record<string, unknown>)[field];
    if (Array.isArray(v)) checkDocumentCount(config, field, v.length);
  }
}

// ---------------------------------------------------------------------------------------------
// Error words: what the schema wanted, what came. Only runs on the failure path.
// ---------------------------------------------------------------------------------------------

type Json = 'object' | 'array' | 'string' | 'boolean' | 'integer' | 'number' | 'null';

function typeOf(v: unknown): Json {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as Json;
}

/** The value as the message shows it: `string "abc"`, `number 3`, `an array`. */
export function shown(v: unknown): string {
  const t = typeOf(v);
  if (t === 'string') { const s = v as string; return `string ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s)}`; }
  if (t === 'integer' || t === 'number' || t === 'boolean') return `${t === 'integer' ? 'number' : t} ${String(v)}`;
  return t === 'array' ? 'an array' : t === 'object' ? 'an object' : t;
}

interface Schemaish {
  title?: string; type?: string; const?: unknown; anyOf?: Schemaish[]; items?: Schemaish;
  minimum?: number; maximum?: number; minLength?: number; required?: string[]; properties?: Record<string, Schemaish>;
}

/** Words for what a schema accepts ("an integer >= 1", "one of \"left\", \"right\""). */
export function describe(schema: TSchema): string {
  const s = schema as Schemaish;
  if (s.title) return s.title;
  if (s.anyOf) {
    if (s.anyOf.every((o) => 'const' in o)) return `one of ${s.anyOf.map((o) => JSON.stringify(o.const)).join(', ')}`;
    return s.anyOf.map((o) => describe(o as TSchema)).join(' or ');
  }
  if ('const' in s) return JSON.stringify(s.const);
  switch (s.type) {
    case 'array': return s.items ? `an array of ${plural(describe(s.items as TSchema))}` : 'an array';
    case 'integer': return `an integer${range(s)}`;
    case 'number': return `a number${range(s)}`;
    case 'string': return s.minLength ? 'a non-empty string' : 'a string';
    case 'boolean': return 'true or false';
    case 'object': return 'an object';
    case 'null': return 'null';
    default: return 'any value';
  }
}
function plural(d: string): string {
  return d.replace(/^an? (non-empty )?string$/, '$1strings').replace(/^an? (\w+)$/, '$1s');
}
function range(s: Schemaish): string {
  if (s.minimum !== undefined && s.maximum !== undefined) return ` from ${s.minimum} to ${s.maximum}`;
  if (s.minimum !== undefined) return ` >= ${s.minimum}`;
  if (s.maximum !== undefined) return ` <= ${s.maximum}`;
  return '';
}

/** One TypeBox error as {field (JSON pointer), message}. */
function explain(e: ValueError, base = ''): { field: string; message: string } {
  const field = base + e.path;
  const at = field || 'body';
  const s = e.schema as Schemaish;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return { field, message: `${at} is required: ${describe(e.schema)}` };
    case ValueErrorType.StringMinLength:
      return { field, message: `${at} is empty; pass a non-empty string` };
    case ValueErrorType.ArrayMinItems:
      return { field, message: `${at} has ${(e.value as unknown[]).length} items; it needs at least ${(e.schema as unknown as { minItems: number }).minItems}` };
    case ValueErrorType.ArrayMaxItems:
      return { field, message: `${at} has ${fmt((e.value as unknown[]).length)} items; at most ${fmt((e.schema as unknown as { maxItems: number }).maxItems)} are allowed` };
    case ValueErrorType.Union: {
      // One alternative of the right JSON type: its error is more precise than "X or Y".
      const same = (s.anyOf ?? []).filter((o) => typeMatches(e.value, o));
      if (same.length === 1 && !('const' in same[0])) {
        const inner = Value.Errors(same[0] as TSchema, e.value).First();
        if (inner) return explain(inner, field);
      }
      return { field, message: `${at} must be ${describe(e.schema)}; got ${shown(e.value)}` };
    }
    case ValueErrorType.IntegerMinimum: case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMinimum: case ValueErrorType.NumberMaximum:
      return { field, message: `${at} must be ${describe(e.schema)}; got ${String(e.value)}` };
    default:
      return { field, message: `${at} must be ${describe(e.schema)}; got ${shown(e.value)}` };
  }
}

function typeMatches(value: unknown, s: Schemaish): boolean {
  if (s.type === undefined) return true;
  const t = typeOf(value);
  return s.type === t || (s.type === 'number' && t === 'integer');
}
