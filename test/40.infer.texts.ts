// Seeded word salad for the inference tests: the same texts for the same seed, from the project's Rng.
import { Rng } from '../models/random.js';
import { COMMON_WORDS, DEMO_WORDS } from '../models/words.js';

const WORDS = `${DEMO_WORDS} ${COMMON_WORDS}`.split(/\s+/).filter(Boolean);

/** `n` texts of lo..hi words drawn from the demo and common vocabularies. */
export function texts(seed: number, n: number, lo: number, hi: number): string[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: lo + Math.floor(r.next() * (hi - lo + 1)) }, () => WORDS[Math.floor(r.next() * WORDS.length)]).join(' '));
}
