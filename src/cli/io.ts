// Line-oriented stdin/stdout for the commands: lines in with their 1-based numbers, output that waits
// for 'drain' so piping millions of lines into a slow reader does not buffer them all in memory.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface NumberedLine {
  /** 1-based line number, for error messages. */
  n: number;
  text: string;
}

/** Every line of `input` (default stdin), trailing '\r' removed. */
export async function* readLines(input: Readable = process.stdin): AsyncGenerator<NumberedLine> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    yield { n, text: line };
  }
}

/** Reads all non-blank lines; blank lines are skipped (they carry no passage). */
export async function readNonBlankLines(input: Readable = process.stdin): Promise<NumberedLine[]> {
  const out: NumberedLine[] = [];
  for await (const l of readLines(input)) if (l.text.trim().length > 0) out.push(l);
  return out;
}

/** Writes to a stream, pausing on backpressure. */
export class Output {
  readonly #stream: Writable;
  constructor(stream: Writable = process.stdout) {
    this.#stream = stream;
  }

  async write(chunk: string): Promise<void> {
    if (!this.#stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.#stream.off('error', onError);
          resolve();
        };
        const onError = (e: Error): void => {
          this.#stream.off('drain', onDrain);
          reject(e);
        };
        this.#stream.once('drain', onDrain);
        this.#stream.once('error', onError);
      });
    }
  }

  line(text = ''): Promise<void> {
    return this.write(text + '\n');
  }
}

/** Parses one JSONL line as an object; the error names the line and says what was expected. */
export function parseJsonObjectLine(line: NumberedLine, expected: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line.text);
  } catch (e) {
    throw new Error(`stdin line ${line.n}: invalid JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`stdin line ${line.n}: got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}; expected ${expected}`);
  }
  return v as Record<string, unknown>;
}

/** Tells a user who ran a stdin-reading command interactively why it seems to hang. */
export function hintIfInteractive(what: string): void {
  if (process.stdin.isTTY) process.stderr.write(`crossgate: reading ${what} from stdin, one per line; end with Ctrl-D\n`);
}

/** Shortens `text` to one line of at most `max` characters for human output. */
export function preview(text: string, max = 80): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : one.slice(0, max - 1) + '…';
}
