// WordPiece vocabulary for generated models (bert-base-uncased's special-token layout) and the writers for
// tokenizer.json, tokenizer_config.json, special_tokens_map.json and vocab.txt in Hugging Face's formats.
import { COMMON_WORDS, DEMO_WORDS } from './words.js';
import { Rng } from './random.js';

export const SPECIAL = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' } as const;
export const SPECIAL_IDS = { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 } as const;

// A sample of frequent CJK ideographs: BertNormalizer isolates each one as a word of its own, so they
// need whole-word entries (and no ## forms).
const CJK = '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科';

const SUFFIXES = `s es ed ing ly er ers est ness ment ments tion tions sion sions able ible al ful less ize ized izes izing
ization ise ism ist ists ity ities ive ous ic ical ically y ie ies en an ian ians ant ants ent ence ance ary ory ery ship
hood ward wards wise like d n t a e o i u on in ar or ors le el et ette ling lings ings ation ations ator ators ure ured
age ages ial ially ally th st nd rd ate ated ates ating ify ified ess ee ees ry ty my ny ky ot ock ick ack ine ines ite
ites ide ides one ones ome ose ore ure ere ire ade ake ike oke ane ene one une`;

function charInventory(): { chars: string[]; continued: string[] } {
  const chars: string[] = [];
  const continued: string[] = [];
  // Printable ASCII minus A-Z: the normalizer lowercases, so uppercase letters can never be looked up.
  for (let c = 0x21; c <= 0x7e; c++) if (c < 0x41 || c > 0x5a) chars.push(String.fromCharCode(c));
  // Latin-1 symbols and lowercase letters (0xad is a format character the normalizer removes; 0xf7 is ÷).
  for (let c = 0xa1; c <= 0xbf; c++) if (c !== 0xad) chars.push(String.fromCharCode(c));
  for (let c = 0xdf; c <= 0xff; c++) if (c !== 0xf7) chars.push(String.fromCharCode(c));
  chars.push(...CJK);
  // ## forms only for characters that can sit inside a word: BertPreTokenizer splits punctuation off,
  // and CJK characters are always words of their own.
  for (const ch of chars) if (/[\p{L}\p{N}]/u.test(ch) && !CJK.includes(ch)) continued.push('##' + ch);
  return { chars, continued };
}

const ONSETS = ['', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'ch', 'cl', 'cr', 'dr', 'fl', 'gr', 'pl', 'pr', 'sh', 'sl', 'st', 'str', 'th', 'tr'];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ee', 'io', 'oo', 'ou', 'y'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'ng', 'nt', 'rk', 'st', 'x'];

/**
 * The vocabulary in id order: specials and [unusedN] exactly where bert-base-uncased has them, then
 * characters, ## characters, suffixes, demo-topic words, 0-100, common words, years, and finally seeded
 * pronounceable pieces until `size` entries. Small vocabularies simply stop earlier in that list.
 */
export function buildVocab(size: number, seed: number): string[] {
  const vocab: string[] = [];
  const seen = new Set<string>();
  const add = (t: string): void => {
    if (vocab.length < size && !seen.has(t)) {
      seen.add(t);
      vocab.push(t);
    }
  };
  add(SPECIAL.pad);
  for (let i = 0; i < 99; i++) add(`[unused${i}]`);
  add(SPECIAL.unk);
  add(SPECIAL.cls);
  add(SPECIAL.sep);
  add(SPECIAL.mask);
  const { chars, continued } = charInventory();
  const minimum = vocab.length + chars.length + continued.length;
  if (size < minimum) throw new RangeError(`vocab_size ${size} is too small; the specials and single characters alone need ${minimum}`);
  chars.forEach(add);
  continued.forEach(add);
  for (const s of SUFFIXES.split(/\s+/)) if (s) add('##' + s);
  const words = (list: string): string[] => list.split(/\s+/).filter((w) => /^[a-z0-9]+$/.test(w));
  words(DEMO_WORDS).forEach(add);
  for (let n = 0; n <= 100; n++) add(String(n));
  words(COMMON_WORDS).forEach(add);
  for (let y = 1900; y <= 2030; y++) add(String(y));

  const rng = Rng.forTensor(seed, 'vocab.synthetic');
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)];
  while (vocab.length < size) {
    const syllables = 1 + rng.int(3);
    let piece = '';
    for (let s = 0; s < syllables; s++) piece += pick(ONSETS) + pick(NUCLEI) + pick(CODAS);
    // About a third continuation pieces, like a trained WordPiece vocabulary.
    add(rng.next() < 0.35 ? '##' + piece : piece);
  }
  return vocab;
}

const SPECIAL_ORDER: [string, number][] = [
  [SPECIAL.pad, SPECIAL_IDS.pad],
  [SPECIAL.unk, SPECIAL_IDS.unk],
  [SPECIAL.cls, SPECIAL_IDS.cls],
  [SPECIAL.sep, SPECIAL_IDS.sep],
  [SPECIAL.mask, SPECIAL_IDS.mask],
];

/** tokenizer.json exactly as `tokenizers` saves a BERT (uncased) tokenizer, vocabulary in id order. */
export function tokenizerJson(vocab: string[]): string {
  const addedTokens = SPECIAL_ORDER.map(([content, id]) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const special = (t: string, typeId: number): unknown => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number): unknown => ({ Sequence: { id, type_id: typeId } });
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(SPECIAL.cls, 0), seq('A', 0), special(SPECIAL.sep, 0)],
      pair: [special(SPECIAL.cls, 0), seq('A', 0), special(SPECIAL.sep, 0), seq('B', 1), special(SPECIAL.sep, 1)],
      special_tokens: {
        [SPECIAL.cls]: { id: SPECIAL.cls, ids: [SPECIAL_IDS.cls], tokens: [SPECIAL.cls] },
        [SPECIAL.sep]: { id: SPECIAL.sep, ids: [SPECIAL_IDS.sep], tokens: [SPECIAL.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: SPECIAL.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: '__VOCAB__',
    },
  };
  // Written by hand so the vocab stays in id order: JSON.stringify would hoist numeric keys like "19".
  const entries = vocab.map((t, i) => `      ${JSON.stringify(t)}: ${i}`).join(',\n');
  return JSON.stringify(doc, null, 2).replace('"__VOCAB__"', `{\n${entries}\n    }`) + '\n';
}

export function tokenizerConfigJson(modelMaxLength: number): string {
  const decoder: Record<string, unknown> = {};
  for (const [content, id] of SPECIAL_ORDER) {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return JSON.stringify({
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: true,
    cls_token: SPECIAL.cls,
    do_basic_tokenize: true,
    do_lower_case: true,
    mask_token: SPECIAL.mask,
    model_max_length: modelMaxLength,
    never_split: null,
    pad_token: SPECIAL.pad,
    sep_token: SPECIAL.sep,
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
    unk_token: SPECIAL.unk,
  }, null, 2) + '\n';
}

export function specialTokensMapJson(): string {
  return JSON.stringify({ cls_token: SPECIAL.cls, mask_token: SPECIAL.mask, pad_token: SPECIAL.pad, sep_token: SPECIAL.sep, unk_token: SPECIAL.unk }, null, 2) + '\n';
}

export function vocabTxt(vocab: string[]): string {
  return vocab.join('\n') + '\n';
}

/**
 * Greedy longest-match WordPiece over `vocab` with BERT's lowercase + punctuation split. Only for the
 * generator's own use (classifier calibration); crossgate's real tokenizer lives in src/tokenize.
 */
export function wordpiece(vocab: string[], text: string): number[] {
  const index = new Map(vocab.map((t, i) => [t, i]));
  const ids: number[] = [];
  const words = text.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
  for (const word of words) {
    const pieces: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let id: number | undefined;
      for (; end > start; end--) {
        id = index.get((start > 0 ? '##' : '') + word.slice(start, end));
        if (id !== undefined) break;
      }
      if (id === undefined) break;
      pieces.push(id);
      start = end;
    }
    if (start < word.length) ids.push(SPECIAL_IDS.unk);
    else ids.push(...pieces);
  }
  return ids;
}

/** Query/passage pairs the generator calibrates cross-encoder heads on: demo-like text, mixed relevance. */
export const CALIBRATION_PAIRS: [string, string][] = [
  ['how do i reset my password', 'open the login page and click forgot password.'],
  ['are ferrets related to weasels', 'dogs are loyal canine companions.'],
  ['what is a black hole', 'a black hole bends light with its gravity.'],
  ['how long should i boil pasta', 'stocks and bonds carry different risks.'],
  ['do cats purr when happy', 'cats purr when they are content.'],
  ['what is attention in a transformer', 'simmer the sauce with garlic for ten minutes.'],
];

/** [CLS] q [SEP] p [SEP] with segment ids, as the TemplateProcessing in tokenizerJson() would produce. */
export function encodePairForCalibration(vocab: string[], q: string, p: string): { ids: number[]; typeIds: number[] } {
  const a = wordpiece(vocab, q);
  const b = wordpiece(vocab, p);
  const ids = [SPECIAL_IDS.cls, ...a, SPECIAL_IDS.sep, ...b, SPECIAL_IDS.sep];
  return { ids, typeIds: ids.map((_, i) => (i < a.length + 2 ? 0 : 1)) };
}
