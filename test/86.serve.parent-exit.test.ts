// `crossgate serve` under a wrapper that does not forward signals (npx): killing the wrapper must stop the
// server too, not leave it running orphaned. And a SIGTERM while the models load exits 0 without waiting
// for the rest of the start-up. Synchronised on output lines and pipe/exit events only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { CLI } from './60.cli.run.js';

/** Resolves with everything the stream carried once it ends (every process holding its pipe has exited). */
function collect(stream: NodeJS.ReadableStream, onText: (all: string) => void = () => undefined): Promise<string> {
  return new Promise((resolve) => {
    let all = '';
    stream.on('data', (d: Buffer) => { all += d.toString(); onText(all); });
    stream.on('end', () => resolve(all));
  });
}

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp): { seen: Promise<void>; all: Promise<string> } {
  let resolveSeen!: () => void;
  const seen = new Promise<void>((r) => { resolveSeen = r; });
  const all = collect(child[stream]!, (text) => { if (pattern.test(text)) resolveSeen(); });
  return { seen, all };
}

describe('crossgate serve as a service', () => {
  it('stops (exit lines printed, pipes closed) when the npx wrapper that started it is killed with SIGTERM', { timeout: 60_000 }, async () => {
    const dir = await ensureGenerated('tiny-cross');
    // The real wrapper: npm exec (npx) starting node on the CLI, as `npx crossgate serve` does for an installed package.
    const npx = join(dirname(process.execPath), 'npx');
    const wrapper = spawn(npx, ['--no', '--', process.execPath, CLI, 'serve', '--reranker', `a=${dir}`, '--port', '0', '--threads', '1', '--workers', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CROSSGATE_API_KEY: '' } });
    const out = waitFor(wrapper, 'stdout', /ready in \d+ ms/);
    const err = collect(wrapper.stderr!);
    await out.seen;
    const wrapperGone = new Promise((r) => wrapper.once('exit', r));
    assert.ok(wrapper.kill('SIGTERM'));
    await wrapperGone;
    // The pipes end only when the server (which inherited them) has exited as well.
    const [stdout, stderr] = await Promise.all([out.all, err]);
    assert.match(stderr, /parent process \d+ exited .*shutting down/);
    assert.match(stdout, /crossgate serve: stopped/);
  });

  it('a SIGTERM while the models load stops after the model being loaded: no warm-up, no ready, exit 0', { timeout: 60_000 }, async () => {
    const a = await ensureGenerated('tiny-cross');
    const b = await ensureGenerated('tiny-cross-2label');
    const child = spawn(process.execPath, [CLI, 'serve', '--reranker', `a=${a}`, '--reranker', `b=${b}`, '--port', '0', '--threads', '1', '--workers', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CROSSGATE_API_KEY: '' } });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const out = waitFor(child, 'stdout', /listening on /);
    await out.seen;
    assert.ok(child.kill('SIGTERM'));
    assert.equal(await exited, 0);
    const stdout = await out.all;
    assert.match(stdout, /stopped during start-up \(SIGTERM\)/);
    assert.doesNotMatch(stdout, /ready in/);
  });
});
