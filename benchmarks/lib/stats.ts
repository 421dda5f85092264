// Rounds, medians and spreads. Contenders run interleaved (A B, then B A, ...) so that drift in the
// machine's load hits both alike, and ratios are taken per round before the median.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: the spread as a fraction of the median. */
  spread: number;
  rounds: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  const med = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { median: med, min, max, spread: med === 0 ? 0 : (max - min) / Math.abs(med), rounds: [...xs] };
}

/** Per-round a[i] / b[i]. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]);
}

export interface Contender<T = number> {
  name: string;
  /** One measurement; returns the figure for this round (e.g. pairs/s). */
  run: () => Promise<T>;
}

/**
 * Runs `rounds` rounds over the contenders, reversing their order every other round.
 * Returns each contender's per-round results, in round order.
 */
export async function interleave<T = number>(rounds: number, contenders: Contender<T>[], onRound?: (round: number, results: Record<string, T>) => void): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = {};
  for (const c of contenders) out[c.name] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    const got: Record<string, T> = {};
    for (const c of order) got[c.name] = await c.run();
    for (const c of contenders) out[c.name].push(got[c.name]);
    onRound?.(r, got);
  }
  return out;
}

/** Wall time of fn in ms. */
export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toPrecision(digits);
}

export function fmtSummary(s: Summary, unit = ''): string {
  return `${fmt(s.median)}${unit} (min ${fmt(s.min)}, max ${fmt(s.max)}, spread ${(s.spread * 100).toFixed(0)}%, n=${s.rounds.length})`;
}
