// No C++ exception crosses into JS: an allocation that fails inside a binding entry point (here the
// tokenizer copying an absurdly long texts array) is a catchable RangeError, not std::terminate.
// Runs in a child process, because before the guard the failure aborted the whole process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';

const NATIVE_JS = fileURLToPath(new URL('../src/native.js', import.meta.url));

test('an input too large to copy is a RangeError from encodeSync and encodeAsync; the process lives on', async () => {
  const dir = await ensureGenerated('tiny-cross');
  const scratch = mkdtempSync(join(tmpdir(), 'crossgate-binding-errors-'));
  try {
    const script = join(scratch, 'child.mjs');
    // Sparse arrays of 2^32 - 1 holes cost nothing in JS, but the binding reserves room for 4 offsets
    // per text before reading any (137 GB), which throws std::bad_alloc where memory is not overcommitted.
    // Where the reservation succeeds, the first hole is a TypeError instead: either way a JS error.
    writeFileSync(script, [
      `import { loadNative } from ${JSON.stringify(NATIVE_JS)};`,
      "import { readFileSync } from 'node:fs';",
      'const tok = new (loadNative().NativeTokenizer)(readFileSync(process.argv[2], "utf8"));',
      'const texts = []; texts.length = 2 ** 32 - 1;',
      'const pairs = []; pairs.length = 2 ** 32 - 1;',
      'const seen = [];',
      'try { tok.encodeSync(texts, pairs, 128, "longest_first", "right"); seen.push("no error"); } catch (e) { seen.push(`${e.name}: ${e.message}`); }',
      'try { await tok.encodeAsync(texts, pairs, 128, "longest_first", "right"); seen.push("no error"); } catch (e) { seen.push(`${e.name}: ${e.message}`); }',
      'const after = tok.encodeSync(["hello world"], null, 128, "longest_first", "right");',
      'console.log(JSON.stringify({ seen, ids: after.ids.length }));',
    ].join('\n'));
    const child = spawnSync(process.execPath, [script, join(dir, 'tokenizer.json')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, `the child died by ${child.signal}: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout.trim()) as { seen: string[]; ids: number };
    assert.equal(out.seen.length, 2);
    const [sync, async] = out.seen;
    const outOfMemory = (where: string) => new RegExp(`^RangeError: crossgate: NativeTokenizer\\.${where} ran out of memory; pass fewer or shorter texts per call$`);
    const firstHole = /^TypeError: texts\[0\] must be a string or a Buffer$/;
    assert.ok(outOfMemory('encodeSync').test(sync) || firstHole.test(sync), sync);
    assert.ok(outOfMemory('encodeAsync').test(async) || firstHole.test(async), async);
    assert.ok(out.ids > 2, 'the tokenizer still encodes after the failure');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
