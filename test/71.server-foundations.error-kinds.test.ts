// Every error kind, one by one: the HTTP status and Retry-After a client gets, the WebSocket close code (or
// none), the CLI exit code, and the README error table row that documents it. The expected values are
// written out here, so a change to a mapping shows up as a failing row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceBackendError, InferenceClosedError } from '../src/infer/errors.js';
import { packageRoot } from '../src/native.js';
import {
  ApiError, cliExitCode, ERROR_TYPE_NAMES, ERROR_TYPES, errorHeaders, httpStatus, toApiError, wsCloseCode, type ErrorType,
} from '../src/server/errors.js';
import { WireError } from '../src/wire/codec.js';

const EXPECTED: Record<ErrorType, { status: number; retry?: number; ws: number | null; exit: number }> = {
  invalid_input: { status: 400, ws: null, exit: 2 },
  unauthorized: { status: 401, ws: 1008, exit: 2 },
  not_found: { status: 404, ws: null, exit: 2 },
  method_not_allowed: { status: 405, ws: null, exit: 2 },
  payload_too_large: { status: 413, ws: 1009, exit: 2 },
  batch_too_large: { status: 413, ws: null, exit: 2 },
  validation: { status: 422, ws: null, exit: 2 },
  input_too_long: { status: 422, ws: null, exit: 2 },
  overloaded: { status: 429, retry: 1, ws: null, exit: 3 },
  queue_full: { status: 429, retry: 1, ws: null, exit: 3 },
  backend: { status: 500, ws: null, exit: 1 },
  internal: { status: 500, ws: 1011, exit: 1 },
  not_ready: { status: 503, retry: 2, ws: 1013, exit: 3 },
  draining: { status: 503, ws: 1001, exit: 3 },
  timeout: { status: 504, ws: null, exit: 3 },
};

const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');

test('the closed set is exactly the documented kinds', () => {
  assert.deepEqual([...ERROR_TYPE_NAMES].sort(), Object.keys(EXPECTED).sort());
});

for (const kind of Object.keys(EXPECTED) as ErrorType[]) {
  test(`${kind}: HTTP status, Retry-After, WS close code, CLI exit code, README row`, () => {
    const want = EXPECTED[kind];
    const err = new ApiError(kind, `a ${kind} error`);
    assert.equal(httpStatus(kind), want.status);
    assert.equal(err.status, want.status);
    assert.equal(ERROR_TYPES[kind].status, want.status);
    assert.equal(err.retryAfterS, want.retry);
    assert.equal(errorHeaders(err)['retry-after'], want.retry === undefined ? undefined : String(want.retry));
    assert.equal(wsCloseCode(kind), want.ws);
    assert.equal(cliExitCode(kind), want.exit);
    const row = new RegExp(`^\\| ${want.status} \\| \`${kind}\` \\|.*\\| ${want.retry ?? ''} \\| ${want.ws === null ? 'error message' : `error \\+ close ${want.ws}`} \\|$`, 'm');
    assert.match(readme, row, `README error table row for ${kind}`);
  });
}

test('thrown values map by class: wire errors keep their kind, the infer room\'s failures are backend, anything else the fallback', () => {
  assert.equal(toApiError(new WireError('validation', 'bad', 'query')).type, 'validation');
  const closed = toApiError(new InferenceClosedError());
  assert.equal(closed.type, 'backend');
  assert.match(closed.message, /^inference failed: .*the server is still running/);
  assert.equal(toApiError(new InferenceBackendError('NaN')).type, 'backend');
  assert.equal(toApiError(new Error('boom'), 'internal').type, 'internal');
  const same = new ApiError('timeout', 'slow');
  assert.equal(toApiError(same), same);
});
