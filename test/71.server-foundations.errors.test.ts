import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError, ERROR_TYPE_NAMES, ERROR_TYPES, WS_CLOSE, errorBody, errorHeaders, isErrorType, limitError, statusLine,
  toApiError, wsCloseCode, wsCloseReason, wsErrorMessage,
} from '../src/server/errors.js';
import { decodeJson, encodeJson, WireError } from '../src/wire/codec.js';

test('the error table: every type maps to the status, Retry-After and WS behaviour the API promises', () => {
  // [type, status, Retry-After?, ws close code or null = per-request error message]
  const table: [string, number, boolean, number | null][] = [
    ['invalid_input', 400, false, null],
    ['unauthorized', 401, false, 1008],
    ['not_found', 404, false, null],
    ['method_not_allowed', 405, false, null],
    ['payload_too_large', 413, false, 1009],
    ['batch_too_large', 413, false, null],
    ['validation', 422, false, null],
    ['input_too_long', 422, false, null],
    ['overloaded', 429, true, null],
    ['queue_full', 429, true, null],
    ['backend', 500, false, null],
    ['internal', 500, false, 1011],
    ['not_ready', 503, true, 1013],
    ['draining', 503, false, 1001],
    ['timeout', 504, false, null],
  ];
  assert.deepEqual([...ERROR_TYPE_NAMES].sort(), table.map((r) => r[0]).sort(), 'the enum is closed: the table lists every type');
  for (const [type, status, retry, close] of table) {
    assert.ok(isErrorType(type));
    const err = new ApiError(type as keyof typeof ERROR_TYPES, `msg for ${type}`);
    assert.equal(err.status, status, type);
    assert.deepEqual(errorBody(err), { error: `msg for ${type}`, error_type: type });
    assert.deepEqual(Object.keys(errorBody(err)), ['error', 'error_type']);
    assert.equal('retry-after' in errorHeaders(err), retry, `${type} Retry-After`);
    assert.equal(wsCloseCode(err.type), close, `${type} ws close`);
  }
  assert.equal(errorHeaders(new ApiError('overloaded', 'x'))['retry-after'], '1');
  assert.equal(errorHeaders(new ApiError('queue_full', 'x', { retryAfterS: 2.2 }))['retry-after'], '3');
  assert.equal(errorHeaders(new ApiError('unauthorized', 'x'))['www-authenticate'], 'Bearer');
  assert.equal(isErrorType('teapot'), false);
  assert.deepEqual(WS_CLOSE, { normal: 1000, goingAway: 1001, policy: 1008, tooBig: 1009, internal: 1011, tryAgainLater: 1013 });
});

test('status lines are full HTTP reason phrases (uWS writes them verbatim)', () => {
  assert.equal(statusLine(413), '413 Payload Too Large');
  assert.equal(statusLine(422), '422 Unprocessable Entity');
  assert.equal(statusLine(429), '429 Too Many Requests');
  assert.equal(statusLine(503), '503 Service Unavailable');
});

test('limit errors read "<input> is <n> <unit>; <limit> is <max>; <fix>"', () => {
  const e = limitError('input_too_long', { subject: 'texts[3]', actual: 9812, unit: 'tokens', limit: 'max_input_tokens', max: 512, fix: 'pass truncate=true', requestId: 'r9' });
  assert.equal(e.message, 'texts[3] is 9,812 tokens; max_input_tokens is 512; pass truncate=true');
  assert.equal(e.status, 422);
  assert.equal(e.field, 'texts[3]');
  assert.deepEqual(wsErrorMessage(e), { type: 'error', id: 'r9', error: e.message, error_type: 'input_too_long' });
});

test('codec errors keep their type; anything else becomes a backend error that says the server is alive', () => {
  let wire: unknown;
  try { decodeJson('{"type":"rerank","id":"q7","query":"q","passages":[1]}'); } catch (e) { wire = e; }
  assert.ok(wire instanceof WireError);
  const a = toApiError(wire);
  assert.equal(a.type, 'validation');
  assert.equal(a.status, 422);
  assert.equal(a.requestId, 'q7');
  assert.equal(a.field, 'passages[0]');
  assert.equal(toApiError(new WireError('invalid_input', 'bad frame')).status, 400);
  assert.equal(toApiError(new WireError('payload_too_large', 'big')).status, 413);

  const b = toApiError(new Error('ORT returned NaN for row 3'));
  assert.equal(b.type, 'backend');
  assert.equal(b.status, 500);
  assert.match(b.message, /^inference failed: ORT returned NaN for row 3; the server is still running/);
  assert.equal(toApiError('weird').type, 'backend');
  assert.equal(toApiError(new TypeError('x'), 'internal').type, 'internal');
  const same = new ApiError('queue_full', 'full');
  assert.equal(toApiError(same), same);
});

test('WS error messages encode as wire messages; id is left out when unknown', () => {
  const e = new ApiError('invalid_input', 'text frame is not valid JSON');
  const m = wsErrorMessage(e);
  assert.deepEqual(m, { type: 'error', error: 'text frame is not valid JSON', error_type: 'invalid_input' });
  assert.deepEqual(decodeJson(encodeJson(m)), m);
  assert.equal(wsErrorMessage(e, 'abc').id, 'abc');
});

test('close reasons fit the 123-byte control-frame budget without splitting a character', () => {
  assert.equal(wsCloseReason('short'), 'short');
  const long = 'é'.repeat(200);
  const r = wsCloseReason(long);
  assert.ok(Buffer.byteLength(r) <= 123, `${Buffer.byteLength(r)} bytes`);
  assert.ok(r.endsWith('...'));
  assert.equal(Buffer.from(r).toString(), r, 'valid UTF-8');
});
