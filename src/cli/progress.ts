// Progress reporting for long jobs (indexing, model generation, downloads): a cli-progress bar when stderr
// is a terminal, otherwise a few plain lines so logs stay readable and stdout stays clean for data. Amounts,
// rates and the ETA are in human units: "12.5/87.1 MB, 4.2 MB/s, eta 18 s", "300/1,000 docs, 150 docs/s".
import cliProgress from 'cli-progress';
import { humanBytes, humanSeconds } from './format.js';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** Lines printed at most this often without a TTY: one every 10% keeps CI logs short. */
const PLAIN_STEP = 0.1;

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** What is counted ("docs", "steps"); ignored with `bytes`. */
  unit?: string;
  /** done/total are bytes: shown as KB/MB/GB and MB/s. */
  bytes?: boolean;
  /** The clock, for tests. */
  now?: () => number;
}

/** "12.5/87.1 MB, 4.2 MB/s, eta 18 s" for the state of a job that started at `t0`. */
export function progressText(done: number, total: number, elapsedS: number, opts: Pick<ProgressOptions, 'unit' | 'bytes'> = {}): string {
  const rate = elapsedS > 0 ? done / elapsedS : NaN;
  const eta = rate > 0 ? (total - done) / rate : NaN;
  let amount: string;
  let speed: string;
  if (opts.bytes) {
    const [d, t] = [humanBytes(done), humanBytes(total)];
    const unitOfTotal = t.split(' ')[1];
    amount = d.endsWith(` ${unitOfTotal}`) ? `${d.split(' ')[0]}/${t}` : `${d}/${t}`;
    speed = Number.isFinite(rate) ? `${humanBytes(rate)}/s` : '? B/s';
  } else {
    const u = opts.unit ? ` ${opts.unit}` : '';
    amount = `${Math.round(done).toLocaleString('en-US')}/${Math.round(total).toLocaleString('en-US')}${u}`;
    speed = Number.isFinite(rate) ? `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} ${opts.unit ?? 'items'}/s` : `? ${opts.unit ?? 'items'}/s`;
  }
  return `${amount}, ${speed}, ${done >= total ? `done in ${humanSeconds(elapsedS)}` : `eta ${humanSeconds(eta)}`}`;
}

export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const text = (done: number, total: number): string => progressText(done, total, (now() - t0) / 1000, opts);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} [{bar}] {percentage}% | {text}`, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(rawDone, total) {
        const done = Math.round(rawDone);
        if (!started) {
          bar.start(total, done, { text: text(done, total) });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done, { text: text(done, total) });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let nextFraction = 0;
  let last = -1;
  return {
    update(rawDone, total) {
      // Producers may report fractional work units (the generator counts half-steps); show whole ones.
      const done = Math.round(rawDone);
      const f = total > 0 ? done / total : 1;
      if (done === last) return;
      if (f >= nextFraction || done === total) {
        const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
        stream.write(`${label}: ${pct}% (${text(done, total)})\n`);
        last = done;
        nextFraction = Math.min(1, Math.floor(f / PLAIN_STEP) * PLAIN_STEP + PLAIN_STEP);
      }
    },
    stop() {},
  };
}
