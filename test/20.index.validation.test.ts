// VectorIndex argument checks: each bad input fails with an error that names it, at the JS layer
// and again at the native layer (called directly), and a failed add changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorIndex } from '../src/index/index.js';
import { loadNative, type NativeVectorIndexConstructor } from '../src/native.js';

const Native = loadNative().NativeVectorIndex as NativeVectorIndexConstructor;

test('constructor rejects bad dim and storage', () => {
  assert.throws(() => new VectorIndex({ dim: 0 }), { name: 'RangeError', message: /dim is 0; dim must be an integer from 1 to 65536/ });
  assert.throws(() => new VectorIndex({ dim: 2.5 }), { name: 'RangeError', message: /dim is 2.5/ });
  assert.throws(() => new VectorIndex({ dim: 70000 }), /from 1 to 65536/);
  assert.throws(() => new VectorIndex({ dim: '3' as unknown as number }), { name: 'TypeError', message: /dim must be a number; got '3'/ });
  assert.throws(() => new VectorIndex({ dim: 3, storage: 'int4' as 'int8' }), { name: 'RangeError', message: /storage is 'int4'; use 'f32', 'f16' or 'int8'/ });
  assert.throws(() => new Native(0, 'f32'), { name: 'RangeError', message: /dim is 0/ });
  assert.throws(() => new Native(3, 'int4'), { name: 'RangeError', message: /storage is 'int4'/ });
});

test('add names the NaN/Inf cell, the wrong-length row and the bad id', () => {
  const index = new VectorIndex({ dim: 3 });
  assert.throws(() => index.add([1, 2], [[1, 2, 3], [4, NaN, 6]]), { name: 'RangeError', message: 'vectors[1][1] is NaN; every value must be finite' });
  assert.throws(() => index.add([1], [new Float32Array([Infinity, 0, 0])]), /vectors\[0\]\[0\] is Infinity/);
  assert.throws(() => index.add([1], [[1e39, 0, 0]]), /vectors\[0\]\[0\] is 1e\+39, which overflows float32/);
  assert.throws(() => index.add([1, 2], new Float32Array([1, 2, 3, 4, 5, -Infinity])), /vectors\[1\]\[2\] is -Infinity/);
  assert.throws(() => index.add([1], [[1, 2]]), { name: 'RangeError', message: 'vectors[0] has 2 values; the index dim is 3' });
  assert.throws(() => index.add([1, 2], new Float32Array(5)), /vectors has 5 values; 2 ids x dim 3 needs 6/);
  assert.throws(() => index.add([1, 2], [[1, 2, 3]]), /vectors has 1 rows but ids has 2/);
  assert.throws(() => index.add([1], [[1, 'x', 3]] as unknown as number[][]), { name: 'TypeError', message: /vectors\[0\]\[1\] is 'x'/ });
  assert.throws(() => index.add([-1], [[1, 2, 3]]), { name: 'RangeError', message: /ids\[0\] is -1; ids must be integers from 0 to 2\^53 - 1/ });
  assert.throws(() => index.add([1.5], [[1, 2, 3]]), /ids\[0\] is 1.5/);
  assert.throws(() => index.add([2 ** 53], [[1, 2, 3]]), /ids\[0\] is 9007199254740992/);
  assert.throws(() => index.add([7, 8, 7], [[1, 2, 3], [1, 2, 3], [1, 2, 3]]), { name: 'RangeError', message: 'ids[2] = 7 repeats ids[0]; ids must be unique' });
  assert.equal(index.count, 0, 'nothing was added by the failed calls');
  index.add([7], [[1, 2, 3]]);
  assert.throws(() => index.add([9, 7], [[1, 2, 3], [1, 2, 3]]), /ids\[1\] = 7 is already in the index; remove it first/);
  assert.equal(index.count, 1);
  assert.equal(index.has(9), false, 'all-or-nothing: id 9 was not added');
  const f16 = new VectorIndex({ dim: 2, storage: 'f16' });
  assert.throws(() => f16.add([1], [[0, 1e5]]), /vectors\[0\]\[1\] is 100000, outside the f16 range/);
});

test('the native layer checks the same things again', () => {
  const n = new Native(3, 'f32');
  assert.throws(() => n.add(new Float64Array([1]), new Float32Array([0, NaN, 0])), { name: 'RangeError', message: /vectors\[0\]\[1\] is NaN/ });
  assert.throws(() => n.add(new Float64Array([1, 1]), new Float32Array(6)), /ids\[1\] = 1 repeats ids\[0\]/);
  assert.throws(() => n.add(new Float64Array([-3]), new Float32Array(3)), /ids\[0\] is -3/);
  assert.throws(() => n.add(new Float64Array([1]), new Float32Array(4)), /vectors has 4 values; 1 ids x dim 3 needs 3/);
  assert.throws(() => n.add([1] as unknown as Float64Array, new Float32Array(3)), { name: 'TypeError', message: /ids must be a Float64Array/ });
  n.add(new Float64Array([1]), new Float32Array([1, 2, 3]));
  assert.throws(() => n.add(new Float64Array([1]), new Float32Array(3)), /ids\[0\] = 1 is already in the index/);
  assert.throws(() => n.searchSync(new Float32Array(2), 1), { name: 'RangeError', message: 'query has 2 values; the index dim is 3' });
  assert.throws(() => n.searchSync(new Float32Array([0, Infinity, 0]), 1), /query\[1\] is Infinity/);
  assert.throws(() => n.searchSync(new Float32Array(3), 0), /k is 0; k must be a positive integer/);
  assert.throws(() => n.searchSync(new Float32Array(3), 1.5), /k is 1.5/);
  assert.throws(() => n.searchSync(new Float32Array(3), '2' as unknown as number), { name: 'TypeError', message: /k must be a number/ });
  assert.throws(() => n.searchBatch(new Float32Array(4), 1), /queries has 4 values, not a multiple of the index dim 3/);
  assert.throws(() => n.has(-1), /id is -1/);
});

test('search validates the query and k', async () => {
  const index = new VectorIndex({ dim: 3 });
  index.add([1], [[1, 0, 0]]);
  assert.throws(() => index.searchSync([1, 2], 1), { name: 'RangeError', message: 'query has 2 values; the index dim is 3' });
  await assert.rejects(index.search([1, NaN, 0], 1), { name: 'RangeError', message: 'query[1] is NaN; every value must be finite' });
  for (const k of [0, -2, 1.5, NaN, Infinity]) {
    await assert.rejects(index.search([1, 0, 0], k), { name: 'RangeError', message: /k must be a positive integer/ }, `k = ${k}`);
  }
  await assert.rejects(index.search([1, 0, 0], '3' as unknown as number), { name: 'TypeError', message: "k must be a number; got '3'" });
  await assert.rejects(index.searchBatch([[1, 0, 0], [0, 0]], 1), /queries\[1\] has 2 values; the index dim is 3/);
  await assert.rejects(index.searchBatch([[1, 0, 0], [0, -Infinity, 0]], 1), /queries\[1\]\[1\] is -Infinity/);
  assert.throws(() => index.has(-1), /id is -1/);
  assert.throws(() => index.remove([0.5]), /ids\[0\] is 0.5/);
  await assert.rejects(index.save(''), { name: 'TypeError', message: /path must be a non-empty string/ });
});
