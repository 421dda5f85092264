// One argv walker for every command: the same bad flag on `serve`, `models pull` and `rerank` reads the
// same way (one line naming it with a did-you-mean, the usage line, where the help is; exit 2), and the
// grammar the walker accepts (repeatable options, --no-x, --flag=value, positionals, --) behaves as documented.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { walkArgv, ArgvError } from '../src/cli/args.js';
import { parseServerConfig } from '../src/server/limits.js';
import { crossgate } from './60.cli.run.js';

describe('one argv parser', () => {
  it('the same misspelt flag on serve, models pull and rerank: same shape of error, exit 2, nothing on stdout', () => {
    const cases: [string[], string, string][] = [
      [['serve', '--reranker', 'x=/nowhere', '--quantised'], 'serve', 'serve --reranker NAME=REF'],
      [['models', 'pull', 'org/name', '--quantised'], 'models pull', 'models pull <org/name>[@REV]'],
      [['rerank', '--model', '/nowhere', '--query', 'q', '--quantised'], 'rerank', 'rerank --model DIR'],
    ];
    for (const [argv, name, usage] of cases) {
      const r = crossgate(argv, '', { ...process.env, CROSSGATE_DEBUG: '', HF_HUB_OFFLINE: '1' });
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, '', name);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 3, `${name}: ${r.stderr}`);
      assert.equal(lines[0], `crossgate ${name}: unknown option '--quantised'; did you mean --quantized?`);
      assert.ok(lines[1].startsWith(`Usage: crossgate ${usage}`), `${name}: ${lines[1]}`);
      assert.equal(lines[2], `Run 'crossgate ${name} --help' for all options.`);
    }
  });

  it('a misspelt limit flag on serve gets a did-you-mean from the limits table', () => {
    const r = crossgate(['serve', '--reranker', 'x=/nowhere', '--max-input-token', '5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^crossgate serve: unknown option '--max-input-token'; did you mean --max-input-tokens\?\nUsage: crossgate serve /);
  });

  it('a missing value names the flag the same way on every command', () => {
    for (const [argv, name] of [[['rerank', '--query'], 'rerank'], [['models', 'pull', '--revision'], 'models pull'], [['serve', '--reranker'], 'serve']] as const) {
      const r = crossgate([...argv]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^crossgate ${name}: --\\S+ needs a value\\n`), r.stderr);
    }
  });

  it('walks repeatable options, --flag=value, --no-x, short flags, negative numbers, positionals and --', () => {
    const options = {
      reranker: { type: 'string' as const, multiple: true },
      query: { type: 'string' as const, short: 'q' },
      workers: { type: 'string' as const },
      auto: { type: 'boolean' as const, negatable: true, takesValue: (n: string) => n === 'true' || n === 'false' },
      json: { type: 'boolean' as const },
    };
    const w = walkArgv(['--reranker', 'a=x', '--reranker=b=y', '-q', 'hi', '--workers', '-1', '--no-auto', 'pos', '--json', '--', '--not-a-flag'], options, { positionals: true });
    assert.deepEqual(w.values, { reranker: ['a=x', 'b=y'], query: 'hi', workers: '-1', auto: false, json: true });
    assert.deepEqual(w.positionals, ['pos', '--not-a-flag']);
    assert.equal(walkArgv(['--auto', 'false'], options).values.auto, 'false');
    assert.equal(walkArgv(['--auto'], options).values.auto, true);
    const err = (argv: string[], opts = {}): ArgvError => {
      try { walkArgv(argv, options, opts); } catch (e) { assert.ok(e instanceof ArgvError); return e; }
      throw new Error(`no error for ${argv.join(' ')}`);
    };
    assert.equal(err(['--json=yes']).message, '--json does not take a value');
    assert.equal(err(['--no-json']).message, "unknown option '--no-json'");
    assert.equal(err(['--query', '--json']).message, '--query needs a value');
    assert.equal(err(['stray']).kind, 'positional');
    // parseServerConfig walks the same way and leaves what it does not know, in order.
    const p = parseServerConfig({ env: {}, argv: ['--reranker', 'a=x', '--port=9000', '--no-auto-truncate', '--collection', 'c'] });
    assert.deepEqual(p.rest, ['--reranker', 'a=x', '--collection', 'c']);
    assert.equal(p.config.port, 9000);
    assert.equal(p.config.autoTruncate, false);
  });
});
