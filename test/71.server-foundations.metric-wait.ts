// Waits on a metric of the code under test changing, instead of polling /metrics: the Counter or Gauge
// instance's own inc/set are wrapped so that each update checks the condition.
/** A Counter or Gauge: what matters here is that its updates go through its own inc (and set) methods. */
type Updatable = { inc(...a: never[]): void; get(...a: never[]): number };

/** Resolves once cond() holds: at once, or right after the update of `metric` that makes it hold. */
export function untilMetric(metric: Updatable, cond: () => boolean): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve) => {
    const target = metric as unknown as Record<string, (...a: unknown[]) => void>;
    const originals: [string, (...a: unknown[]) => void][] = [];
    for (const name of ['inc', 'set']) {
      const own = target[name];
      if (typeof own !== 'function') continue;
      originals.push([name, own]);
      target[name] = function (this: unknown, ...args: unknown[]) {
        own.apply(metric, args);
        if (cond()) {
          for (const [n] of originals) delete target[n];  // back to the prototype's methods
          resolve();
        }
      };
    }
  });
}
