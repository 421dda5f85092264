// Running the built `crossgate` CLI from tests: one-shot commands (spawnSync) and `crossgate serve` as a
// child whose start-up is awaited on its own "ready in N ms" line (an output event, not a polling sleep).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface Run { code: number | null; stdout: string; stderr: string }

export function crossgate(args: string[], input = '', env: NodeJS.ProcessEnv = { ...process.env, CROSSGATE_DEBUG: '' }): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** crossgate() without blocking this process's event loop: for tests that serve something (an LLM stand-in) to the child. */
export function crossgateAsync(args: string[], env: NodeJS.ProcessEnv = { ...process.env, CROSSGATE_DEBUG: '' }, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}; stderr: ${r.stderr}`);
  return r;
}

export interface ServeChild {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves with the base URL once the server prints its ready line; rejects if the process exits first. */
  ready: Promise<string>;
  /** Resolves once stderr has printed a line matching `re` (an output event, not a poll). */
  stderrLine(re: RegExp): Promise<void>;
  kill(): void;
}

export function spawnServe(args: string[], env: NodeJS.ProcessEnv): ServeChild {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (/ready in \d+ ms/.test(stdout)) resolve(/listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]);
    });
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before it was ready: ${stdout} ${stderr}`)));
  });
  const waiting: { re: RegExp; resolve: () => void }[] = [];
  child.stderr!.on('data', (d) => {
    stderr += d;
    for (const w of [...waiting]) if (w.re.test(stderr)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(); }
  });
  return {
    child, exited, ready,
    stderrLine(re: RegExp) {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push({ re, resolve }));
    },
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    kill() { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); },
  };
}
