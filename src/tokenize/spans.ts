// Token spans for /tokenize: each token's id, vocabulary string, special flag and UTF-8 byte offsets into
// the input. The offsets come from the native tokenizer (its alignment through the normalizer); the
// strings come from tokenizer.json, since the native side keeps ids only.
/** One token in TEI's /tokenize shape. start/stop are UTF-8 byte offsets into the input (null when unknown). */
export interface TokenSpan { id: number; text: string; special: boolean; start: number | null; stop: number | null }

export interface Vocab { tokens: string[]; special: Set<number> }

/** id -> token string from tokenizer.json, and which ids are special added tokens. */
export function vocabOf(tokenizerJson: string): Vocab {
  const json = JSON.parse(tokenizerJson) as {
    model?: { vocab?: Record<string, number> | [string, number][] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  const tokens: string[] = [];
  const vocab = json.model?.vocab ?? {};
  if (Array.isArray(vocab)) vocab.forEach(([t], i) => { tokens[i] = t; });
  else for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
  const special = new Set<number>();
  for (const a of json.added_tokens ?? []) {
    tokens[a.id] = a.content;
    if (a.special) special.add(a.id);
  }
  return { tokens, special };
}

/**
 * Spans of tokens [from, to) of a ragged encoding made with offsets: the native tokenizer marks special and
 * unknown tokens with -1, which become null.
 */
export function spansOf(vocab: Vocab, ids: Int32Array, starts: Int32Array, stops: Int32Array, from: number, to: number): TokenSpan[] {
  const out: TokenSpan[] = [];
  for (let i = from; i < to; i++) {
    const id = ids[i];
    const known = starts[i] >= 0;
    out.push({ id, text: vocab.tokens[id] ?? '', special: vocab.special.has(id), start: known ? starts[i] : null, stop: known ? stops[i] : null });
  }
  return out;
}
