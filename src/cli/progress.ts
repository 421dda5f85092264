// Progress reporting for long jobs (indexing, model generation): a cli-progress bar when stderr is a
// terminal, otherwise a few plain lines so logs stay readable and stdout stays clean for data.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** Lines printed at most this often without a TTY: one every 10% keeps CI logs short. */
const PLAIN_STEP = 0.1;

export function createProgress(label: string, opts: { stream?: NodeJS.WriteStream; unit?: string } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const unit = opts.unit ?? '';
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total}${unit ? ' ' + unit : ''} | eta {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(rawDone, total) {
        const done = Math.round(rawDone);
        if (!started) {
          bar.start(total, done);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done);
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
        stream.write(`${label}: ${pct}% (${done}/${total}${unit ? ' ' + unit : ''})\n`);
        last = done;
        nextFraction = Math.min(1, Math.floor(f / PLAIN_STEP) * PLAIN_STEP + PLAIN_STEP);
      }
    },
    stop() {},
  };
}
