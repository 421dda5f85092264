// gen_unicode_tables.mjs: regenerates native/core/unicode_tables.cpp from the reference `tokenizers` package.
// Run `node native/core/gen_unicode_tables.mjs` (dev only; the output is committed). Each class is probed
// per code point through the reference's own BertNormalizer / BertPreTokenizer / NFD, so our tables encode
// exactly its (older) Unicode data rather than Node's ICU version.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'package.json'));
const tk = require('tokenizers');
const { version } = require('tokenizers/package.json');

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const cjk = tk.bertNormalizer({ cleanText: false, handleChineseChars: true, stripAccents: false, lowercase: false });
const strip = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const lower = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true });
const pre = tk.bertPreTokenizer();
const nfd = tk.nfdNormalizer();

// Flag bits: keep in sync with unicode.h.
const F = { remove: 1, normSpace: 2, cjk: 4, hasNfd: 8, hasLower: 16, space: 32, punct: 64, nonStarter: 128, mark: 256 };
const MAX = 0x110000;
const flags = new Uint16Array(MAX);
const decomp = new Map(); // cp -> [cps] (non-Hangul)
const lowerMap = new Map();
const isHangulSyllable = (cp) => cp >= 0xac00 && cp < 0xac00 + 11172;
const cps = (s) => Array.from(s, (c) => c.codePointAt(0));
const reorders = (s) => nfd.normalizeString(s) !== s;

for (let cp = 0; cp < MAX; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue; // never reach the core: UTF-8 decoding maps them to U+FFFD
  const c = String.fromCodePoint(cp);
  let f = 0;
  const a = clean.normalizeString(c);
  if (a === '') f |= F.remove;
  else if (a === ' ' && cp !== 0x20) f |= F.normSpace;
  else if (a !== c) throw new Error('unexpected clean_text output for U+' + cp.toString(16));
  if (cjk.normalizeString(c) !== c) f |= F.cjk;
  const s = strip.normalizeString(c);
  if (s === '') f |= F.mark;
  const d = nfd.normalizeString(c);
  if (d !== c) {
    f |= F.hasNfd;
    if (!isHangulSyllable(cp)) decomp.set(cp, cps(d));
  }
  const l = lower.normalizeString(c);
  if (l !== c) { f |= F.hasLower; lowerMap.set(cp, cps(l)); }
  const p = pre.preTokenizeString('a' + c + 'b');
  if (p.length === 2) f |= F.space;
  else if (p.length === 3) f |= F.punct;
  // Canonical combining class != 0, probed by whether the reference reorders it against U+0334 (ccc 1)
  // or U+0301 (ccc 230).
  // Only decomposition-stable chars are asked: the NFD stream holds nothing else.
  if (cp >= 0x300 && d === c && (reorders(c + '\u0334') || reorders('\u0301' + c))) f |= F.nonStarter;
  flags[cp] = f;
}

// Consistency: strip_accents == NFD with marks removed; Hangul follows the algorithm.
for (let cp = 0; cp < MAX; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const c = String.fromCodePoint(cp);
  const d = decomp.get(cp) ?? (isHangulSyllable(cp) ? cps(nfd.normalizeString(c)) : [cp]);
  const want = cps(strip.normalizeString(c));
  const got = d.filter((x) => !(flags[x] & F.mark));
  if (want.join() !== got.join()) throw new Error('strip != nfd-minus-marks at U+' + cp.toString(16));
  if (isHangulSyllable(cp)) {
    const si = cp - 0xac00;
    const alg = [0x1100 + Math.floor(si / 588), 0x1161 + Math.floor((si % 588) / 28)];
    if (si % 28) alg.push(0x11a7 + (si % 28));
    if (alg.join() !== d.join()) throw new Error('Hangul decomposition differs at U+' + cp.toString(16));
  }
}

// Marks that survive stripping but still reorder: rank them by the reference's own pairwise ordering.
const survivors = [];
for (let cp = 0; cp < MAX; cp++) if ((flags[cp] & F.nonStarter) && !(flags[cp] & F.mark)) survivors.push(cp);
const cmp = (x, y) => {
  const sx = String.fromCodePoint(x), sy = String.fromCodePoint(y);
  if (reorders(sx + sy)) return 1;  // ccc(x) > ccc(y)
  if (reorders(sy + sx)) return -1;
  return 0;
};
survivors.sort(cmp);
const rank = new Map();
let r = 1;
survivors.forEach((cp, i) => { if (i > 0 && cmp(survivors[i - 1], cp) !== 0) r++; rank.set(cp, r); });

// Two-stage flag table: 256-code-point blocks, deduplicated.
const blockIndex = [];
const blocks = [];
const seen = new Map();
for (let b = 0; b < MAX / 256; b++) {
  const key = Array.from(flags.subarray(b * 256, b * 256 + 256)).join(',');
  let idx = seen.get(key);
  if (idx === undefined) { idx = blocks.length; seen.set(key, idx); blocks.push(flags.subarray(b * 256, b * 256 + 256)); }
  blockIndex.push(idx);
}

const wrap = (arr, per = 16) => {
  const lines = [];
  for (let i = 0; i < arr.length; i += per) lines.push('  ' + arr.slice(i, i + per).join(', ') + ',');
  return lines.join('\n');
};
const mapTable = (name, map) => {
  const keys = [...map.keys()].sort((x, y) => x - y);
  const pool = [];
  const entries = keys.map((k) => { const v = map.get(k); const e = `{0x${k.toString(16)}, ${pool.length}, ${v.length}}`; pool.push(...v); return e; });
  return `const MapEntry ${name}_entries[] = {\n${wrap(entries, 6)}\n};\nconst std::size_t ${name}_count = ${keys.length};\n` +
    `const char32_t ${name}_pool[] = {\n${wrap(pool.map((x) => '0x' + x.toString(16)))}\n};\n`;
};
let maxDecomp = 0; for (const v of decomp.values()) maxDecomp = Math.max(maxDecomp, v.length);
let maxLower = 0; for (const v of lowerMap.values()) maxLower = Math.max(maxLower, v.length);

const out = `// unicode_tables.cpp: GENERATED by gen_unicode_tables.mjs from tokenizers@${version}; do not edit.
// Per-code-point BERT classes, NFD decompositions, lowercase mappings and reorder ranks, as the reference sees them.
#include "unicode.h"

namespace crossgate {
namespace unicode {
namespace tables {

static_assert(kMaxDecomposition >= ${maxDecomp}, "decomposition buffer too small");
static_assert(kMaxLowercase >= ${maxLower}, "lowercase buffer too small");

const std::uint16_t block_index[${blockIndex.length}] = {
${wrap(blockIndex, 24)}
};
const std::uint16_t blocks[${blocks.length * 256}] = {
${blocks.map((b) => wrap(Array.from(b), 32)).join('\n')}
};
${mapTable('decomp', decomp)}
${mapTable('lower', lowerMap)}
const RankEntry rank_entries[] = {
${wrap([...survivors].sort((x, y) => x - y).map((cp) => `{0x${cp.toString(16)}, ${rank.get(cp)}}`), 8)}
};
const std::size_t rank_count = ${survivors.length};

}  // namespace tables
}  // namespace unicode
}  // namespace crossgate
`;
writeFileSync(join(here, 'unicode_tables.cpp'), out);
console.log(`unicode_tables.cpp: ${blocks.length} blocks, ${decomp.size} decompositions (max ${maxDecomp}), ` +
  `${lowerMap.size} lowercase (max ${maxLower}), ${survivors.length} reordering survivors in ${r} ranks`);
