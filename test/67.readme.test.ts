// Every shell command of the README and of docs/guides/*.md runs, as a user would paste it, on a fresh
// checkout with generated models: each fenced `sh` block is run with bash -e; a block marked
// `<!-- serve -->` starts a server (its last line) that the file's later blocks talk to; a block marked
// `<!-- skip: reason -->` is not run and must be listed in SKIPPED below (network, real models, minutes of CPU).
// The only rewrites: `npx crossgate` runs the built CLI, the demo's full-size generated models become the tiny
// generated ones (same kind, same generator), ./kb a temporary folder, port 8080 a free port, and `curl -s`
// fails on an HTTP error status (-f), so an error answer fails the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { CLI } from './60.cli.run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs', 'guides')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/guides/${f}`)];

/** Blocks not run, each with its reason (file: reason). A new skip must be added here. */
const SKIPPED = [
  'README.md: the set-up itself; the test runs after it',
  'README.md: the test suite itself',
  'README.md: needs a local LLM server and real models',
  'README.md: needs a running crossgate serve with a collection and an LLM; test/64 runs /ask against a stand-in',
  'README.md: needs the CACM corpus under ../shared/eval, not in the clone',
  'README.md: needs your own BEIR data and real models from the hub',
  'README.md: needs trec_eval built from source and a run file of your data',
  'README.md: needs your own labelled data and real models from the hub',
  'README.md: needs network (the Hugging Face hub)',
  'README.md: needs a real model pulled from the hub',
  'README.md: needs network (the Hugging Face hub)',
  'README.md: needs real models under /models',
  'README.md: needs a Chroma server and PostgreSQL',
  'README.md: needs docker, a registry and a Kubernetes cluster',
  'README.md: needs HAProxy; test/97.replicas.drain runs this set-up',
  'README.md: the benchmarks take minutes to an hour',
  'README.md: needs a CUDA GPU and network',
  'docs/guides/load-testing.md: a benchmark run takes minutes of CPU; run it by hand',
];

interface Block { file: string; line: number; marker: 'run' | 'serve' | 'skip'; reason?: string; script: string }

function blocks(file: string): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Block[] = [];
  const re = /(?:<!--\s*(serve|skip)(?::\s*([^>]*?))?\s*-->\s*\n)?```sh\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ file, line: text.slice(0, m.index).split('\n').length, marker: (m[1] as 'serve' | 'skip' | undefined) ?? 'run', reason: m[2], script: m[3] });
  }
  return out;
}

describe('README and guide commands', () => {
  let tmp: string;
  let subst: (s: string, port?: number) => string;
  let server: ChildProcess | null = null;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'crossgate-readme-'));
    const [cross, bi] = [await ensureGenerated('tiny-cross'), await ensureGenerated('tiny-bi')];
    subst = (s, port) => {
      let out = s.replace(/npx crossgate /g, `node ${CLI} `)
        .replace(/models\/\.generated\/minilm-l6-cross/g, cross)
        .replace(/models\/\.generated\/minilm-l6-bi/g, bi)
        .replace(/\.\/kb\b/g, join(tmp, 'kb'))
        .replace(/curl -s /g, 'curl -sSf ');
      if (port !== undefined) out = out.replace(/--port 8080/g, `--port ${port}`).replace(/(localhost|127\.0\.0\.1):8080/g, `127.0.0.1:${port}`);
      return out;
    };
  });
  const stop = async (): Promise<void> => {
    if (!server) return;
    const s = server;
    server = null;
    if (s.exitCode !== null || s.signalCode !== null) return;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGTERM');
    await exited;
  };
  after(async () => {
    await stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('the skipped blocks are exactly the listed ones', () => {
    const skipped = FILES.flatMap(blocks).filter((b) => b.marker === 'skip').map((b) => `${b.file}: ${b.reason ?? '(no reason)'}`);
    assert.deepEqual(skipped, SKIPPED);
  });

  for (const file of FILES) {
    it(`every sh block of ${file} runs`, async () => {
      let port: number | undefined;
      try {
        for (const b of blocks(file)) {
          if (b.marker === 'skip') continue;
          const where = `${b.file}:${b.line}`;
          const env = { ...process.env, CROSSGATE_DEBUG: '' };
          if (b.marker === 'serve') {
            await stop();
            const lines = b.script.trimEnd().split('\n');
            // Continuation lines belong to the command before them; the last command starts the server.
            const cmds: string[] = [];
            for (const l of lines) {
              if (cmds.length > 0 && cmds[cmds.length - 1].endsWith('\\')) cmds[cmds.length - 1] += `\n${l}`;
              else cmds.push(l);
            }
            const serve = cmds.pop()!;
            if (cmds.length > 0) {
              const pre = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', subst(cmds.join('\n'))], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
              assert.equal(pre.status, 0, `${where}: ${pre.stderr}`);
            }
            const child = spawn('bash', ['-c', `exec env ${subst(serve, 0)}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
            server = child;
            let stderr = '';
            child.stderr!.on('data', (d) => { stderr += d; });
            port = await new Promise<number>((resolve, reject) => {
              let out = '';
              child.stdout!.on('data', (d) => {
                out += d;
                const m = /ready in \d+ ms; http http:\/\/[^:]+:(\d+)/.exec(out);
                if (m) resolve(Number(m[1]));
              });
              child.once('exit', (code) => reject(new Error(`${where}: the server exited (${code}) before ready: ${stderr}`)));
            });
            assert.match(stderr, /generated model with random weights/, `${where}: the server warns about the generated models`);
            continue;
          }
          const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', subst(b.script, port)], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
          assert.equal(r.status, 0, `${where} exited ${r.status}:\n${b.script}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
        }
      } finally {
        await stop();
      }
    });
  }
});
