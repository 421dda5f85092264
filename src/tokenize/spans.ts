// Token spans for /tokenize: each token's id, vocabulary string, special flag and UTF-8 byte offsets into
// the input. The native tokenizer exposes ids only, so the strings come from tokenizer.json and the offsets
// from matching the word pieces against the text normalised as the tokenizer's normalizer does.
/** One token in TEI's /tokenize shape. start/stop are UTF-8 byte offsets into the input (null when unknown). */
export interface TokenSpan { id: number; text: string; special: boolean; start: number | null; stop: number | null }

/** What the tokenizer's BertNormalizer does to text before WordPiece, as far as offsets care. */
export interface Normalization { lowercase: boolean; stripAccents: boolean }
export interface Vocab { tokens: string[]; special: Set<number>; unk: number; norm: Normalization; prefix: string }

/**
 * The normalizer settings the native tokenizer reads from the same tokenizer.json: no normalizer = text
 * as is; BertNormalizer lowercase defaults to true, and a null/absent strip_accents follows lowercase
 * (as in HF tokenizers). A cased model (lowercase false) keeps case and accents.
 */
export function normalizationOf(normalizer: { type?: string; lowercase?: boolean | null; strip_accents?: boolean | null } | null | undefined): Normalization {
  if (!normalizer) return { lowercase: false, stripAccents: false };
  const lowercase = typeof normalizer.lowercase === 'boolean' ? normalizer.lowercase : true;
  const stripAccents = typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : lowercase;
  return { lowercase, stripAccents };
}

/** id -> token string from tokenizer.json (the native tokenizer exposes ids only), and its normalizer settings. */
export function vocabOf(tokenizerJson: string): Vocab {
  const json = JSON.parse(tokenizerJson) as {
    model?: { vocab?: Record<string, number> | [string, number][]; unk_token?: string; continuing_subword_prefix?: string };
    added_tokens?: { id: number; content: string; special?: boolean }[];
    normalizer?: { type?: string; lowercase?: boolean | null; strip_accents?: boolean | null } | null;
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
  const unkToken = json.model?.unk_token ?? '[UNK]';
  return { tokens, special, unk: tokens.indexOf(unkToken), norm: normalizationOf(json.normalizer), prefix: json.model?.continuing_subword_prefix ?? '##' };
}

/**
 * Byte offsets of each token in `text`, found by matching the WordPiece pieces against a copy of the
 * text normalised as the tokenizer does (accents stripped and/or lower-cased only where its normalizer
 * says so) that remembers which input character each normalised character came from.
 */
export function alignOffsets(text: string, pieces: (string | null)[], norm: Normalization): { start: number | null; stop: number | null }[] {
  let normed = '';
  const from: number[] = []; const to: number[] = [];
  let byte = 0;
  for (const ch of text) {
    const len = Buffer.byteLength(ch);
    // strip_accents is NFD then dropping nonspacing marks (Mn), as the native normalizer does.
    let n = norm.stripAccents ? ch.normalize('NFD').replace(/\p{Mn}/gu, '') : ch;
    if (norm.lowercase) n = n.toLowerCase();
    for (let i = 0; i < n.length; i++) { from.push(byte); to.push(byte + len); }
    normed += n;
    byte += len;
  }
  let cursor = 0;
  return pieces.map((p) => {
    if (p === null || p.length === 0) return { start: null, stop: null };
    const at = normed.indexOf(p, cursor);
    if (at < 0) return { start: null, stop: null };
    cursor = at + p.length;
    return { start: from[at], stop: to[at + p.length - 1] };
  });
}

/** Spans of each text from its encoded ids (the ids of one item, special tokens included when asked). */
export function spansOf(vocab: Vocab, text: string, ids: number[]): TokenSpan[] {
  const pieces = ids.map((id) => {
    if (vocab.special.has(id) || id === vocab.unk) return null;
    const t = vocab.tokens[id] ?? '';
    return t.startsWith(vocab.prefix) ? t.slice(vocab.prefix.length) : t;
  });
  const offsets = alignOffsets(text, pieces, vocab.norm);
  return ids.map((id, i) => ({ id, text: vocab.tokens[id] ?? '', special: vocab.special.has(id), start: offsets[i].start, stop: offsets[i].stop }));
}
