// Documents on stdin for `index build` and `ingest`: one JSON object a line, crossgate's {"id","text",...metadata}
// or a BEIR corpus line {"_id","title","text"}; every field besides id/text becomes metadata.
import type { CollectionDocument } from '../pipeline/collection.js';
import { parseJsonObjectLine, readLines } from './io.js';

export const DOCUMENT_LINE = '{"id": string, "text": string, ...other fields kept as metadata} or BEIR {"_id": string, "title"?: string, "text": string}';

/** One JSONL line -> a document (a lone "metadata" object is unwrapped). */
export function documentFromLine(obj: Record<string, unknown>, n: number): CollectionDocument {
  const { id: rawId, _id, text, ...rest } = obj;
  const id = rawId ?? _id;
  if (typeof id !== 'string' || id.length === 0) {
    throw new Error(`stdin line ${n}: "id" is ${id === undefined ? 'missing' : typeof id === 'string' ? 'empty' : typeof id}; expected a non-empty string (${DOCUMENT_LINE})`);
  }
  if (typeof text !== 'string') throw new Error(`stdin line ${n}: "text" is ${text === undefined ? 'missing' : typeof text}; expected a string (${DOCUMENT_LINE})`);
  const keys = Object.keys(rest);
  const doc: CollectionDocument = { id, text };
  if (keys.length === 1 && keys[0] === 'metadata' && rest.metadata !== null && typeof rest.metadata === 'object' && !Array.isArray(rest.metadata)) {
    doc.metadata = rest.metadata as Record<string, unknown>;
  } else if (keys.length > 0) {
    doc.metadata = rest;
  }
  return doc;
}

/** Every document on stdin, checked before anything is embedded or written: a bad or repeated id stops the run naming its line. */
export async function readDocuments(): Promise<CollectionDocument[]> {
  const docs: CollectionDocument[] = [];
  const lineOf = new Map<string, number>();
  for await (const line of readLines()) {
    if (line.text.trim().length === 0) continue;
    const doc = documentFromLine(parseJsonObjectLine(line, DOCUMENT_LINE), line.n);
    const prev = lineOf.get(doc.id);
    if (prev !== undefined) throw new Error(`stdin line ${line.n}: duplicate id "${doc.id}" (first seen on line ${prev}); ids must be unique`);
    lineOf.set(doc.id, line.n);
    docs.push(doc);
  }
  if (docs.length === 0) throw new Error(`stdin held no documents; expected one ${DOCUMENT_LINE} per line`);
  return docs;
}
