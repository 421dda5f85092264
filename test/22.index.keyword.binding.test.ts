// The raw NativeKeywordIndex checks its own arguments (the TS wrapper is not the only caller): wrong types
// and ranges are TypeError / RangeError naming the argument, never a crash or a C++ exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative, type NativeKeywordIndexConstructor } from '../src/native.js';

const Native = loadNative().NativeKeywordIndex as NativeKeywordIndexConstructor;

test('every native entry point names its bad argument', async () => {
  assert.throws(() => new Native({ k1: 'x' } as never), { name: 'TypeError', message: /options.k1 must be a number; got string/ });
  assert.throws(() => new Native({ b: 7 }), { name: 'RangeError', message: /b is 7.*between 0 and 1/ });
  assert.throws(() => new Native({ language: 'xx' }), { name: 'RangeError', message: /language is 'xx'/ });
  assert.throws(() => new Native({ stopWords: 'some' as never }), { name: 'RangeError', message: /options.stopWords is 'some'/ });
  assert.throws(() => new Native({ stopWords: [1] as never }), { name: 'TypeError', message: /options.stopWords\[0\] must be a string/ });
  assert.throws(() => new Native(5 as never), { name: 'TypeError', message: /options must be an object/ });
  const idx = new Native();
  assert.throws(() => idx.add([1] as never, [''], ['']), { name: 'TypeError', message: /ids must be a Float64Array; got an array/ });
  assert.throws(() => idx.add(new Float64Array([1]), [], []), { name: 'RangeError', message: /titles has 0 items; ids has 1/ });
  assert.throws(() => idx.add(new Float64Array([1]), [''], [3 as never]), { name: 'TypeError', message: /texts\[0\] must be a string; got number/ });
  assert.throws(() => idx.add(new Float64Array([1.5]), [''], ['']), { name: 'RangeError', message: /ids\[0\] is 1.5; ids must be integers/ });
  assert.throws(() => idx.searchSync(undefined as never, 3), { name: 'TypeError', message: /query must be a string; got undefined/ });
  assert.throws(() => idx.searchSync('x', -1), { name: 'RangeError', message: /k is -1/ });
  assert.throws(() => idx.has('1' as never), { name: 'TypeError', message: /id must be a number/ });
  assert.throws(() => idx.save(''), { name: 'TypeError', message: /path is empty/ });
  assert.throws(() => idx.save('a\u0000b'), { name: 'TypeError', message: /path contains a NUL byte/ });
  assert.throws(() => Native.load(7 as never), { name: 'TypeError', message: /path must be a string/ });
  await idx.add(new Float64Array([1]), ['Title'], ['text body']);
  await assert.rejects(idx.add(new Float64Array([1]), [''], ['again']), { name: 'RangeError', message: /ids\[0\] = 1 is already in the index/ });
  assert.equal(idx.count, 1);
  assert.deepEqual([...idx.searchSync('title', 5).ids], [1]);
});
