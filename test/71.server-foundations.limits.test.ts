import { defaultThreads, defaultWorkers, resolveInferOptions } from '../src/infer/options.js';
import { test } from 'node:test';
import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import {
  CONFIG_FIELDS, ConfigError, configWarnings, HTTP_PARSER_LIMITS, defaultConfig, effectiveConfig, inferOptionsFor, limitsInfo, limitsMarkdown, parseServerConfig,
} from '../src/server/limits.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: loopback host, at least 1000 documents, every issue limit present with flag, env var and reason', () => {
  const c = defaultConfig();
  assert.equal(c.host, '127.0.0.1');
  assert.ok(c.maxDocumentsPerRequest >= 1000);
  assert.equal(c.apiKey, null);
  assert.equal(c.executionProvider, 'cpu');
  assert.ok(c.wsBackpressureHardBytes > c.wsBackpressureSoftBytes);
  assert.ok(c.threads >= 1 && c.workers >= 1);
  const names = CONFIG_FIELDS.map((f) => f.name);
  for (const n of ['max_payload_bytes', 'max_documents_per_request', 'max_input_tokens', 'auto_truncate', 'max_concurrent_requests',
    'max_queue_tokens', 'request_timeout_ms', 'max_batch_tokens', 'ws_max_message_bytes', 'ws_idle_timeout_s',
    'ws_backpressure_soft_bytes', 'ws_backpressure_hard_bytes', 'host', 'port', 'api_key', 'workers', 'threads', 'execution_provider']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  for (const f of CONFIG_FIELDS) {
    assert.equal(f.env, `CROSSGATE_${f.name.toUpperCase()}`);
    assert.equal(f.flag, `--${f.name.replace(/_/g, '-')}`);
    assert.ok(f.reason.length > 20, `${f.name} needs a reason`);
  }
  assert.equal(new Set(names).size, names.length);
  // Every default passes its own parser (the table cannot ship a default it would refuse).
  for (const f of CONFIG_FIELDS) {
    const v = (c as unknown as Record<string, unknown>)[f.key];
    if (v !== null) assert.deepEqual(f.parse(String(v)), v, f.name);
  }
});

test('env vars and flags override defaults; flags win over env; units are read', () => {
  const { config, rest, sources } = parseServerConfig({
    env: {
      CROSSGATE_PORT: '9000', CROSSGATE_MAX_PAYLOAD_BYTES: '2MiB', CROSSGATE_REQUEST_TIMEOUT_MS: '5s',
      CROSSGATE_AUTO_TRUNCATE: 'false', CROSSGATE_API_KEY: 'sekret', CROSSGATE_WORKERS: '',
    },
    argv: ['--port', '0', '--model', 'tiny-cross', '--ws-idle-timeout-s=2m', '--max-documents-per-request', '5_000',
      '--auto-truncate', '--execution-provider', 'CUDA', '--ws-max-message-bytes', '512KB', '--no-cuda-fallback', 'extra'],
  });
  assert.equal(config.port, 0);
  assert.equal(sources.port, 'flag');
  assert.equal(config.maxPayloadBytes, 2 * 1024 * 1024);
  assert.equal(sources.maxPayloadBytes, 'env');
  assert.equal(config.requestTimeoutMs, 5000);
  assert.equal(config.autoTruncate, true, 'the bare flag overrides the env var');
  assert.equal(config.apiKey, 'sekret');
  assert.equal(config.workers, defaultWorkers('cuda'), 'an empty env var counts as unset (and the default follows --execution-provider cuda)');
  assert.equal(sources.workers, 'default');
  assert.equal(config.wsIdleTimeoutS, 120);
  assert.equal(config.maxDocumentsPerRequest, 5000);
  assert.equal(config.executionProvider, 'cuda');
  assert.equal(config.wsMaxMessageBytes, 512_000);
  assert.equal(config.cudaFallback, false);
  assert.deepEqual(rest, ['--model', 'tiny-cross', 'extra'], 'non-config arguments are handed back in order');
  assert.equal(parseServerConfig({ env: {}, argv: ['--auto-truncate', 'false'] }).config.autoTruncate, false);
  assert.equal(parseServerConfig({ env: {}, argv: ['--request-timeout-ms', '1500'] }).config.requestTimeoutMs, 1500);
});

test('bad values are refused with the flag or env var, the value and what is accepted', () => {
  const cases: [{ env?: Record<string, string>; argv?: string[] }, RegExp][] = [
    [{ env: { CROSSGATE_PORT: 'abc' } }, /^CROSSGATE_PORT "abc" is not valid; port takes an integer 0\.\.65535/],
    [{ argv: ['--port', '70000'] }, /^--port "70000" is not valid; port takes an integer 0\.\.65535/],
    [{ argv: ['--max-payload-bytes', '8 parsecs'] }, /^--max-payload-bytes "8 parsecs" is not valid; max_payload_bytes takes a size/],
    [{ env: { CROSSGATE_AUTO_TRUNCATE: 'maybe' } }, /^CROSSGATE_AUTO_TRUNCATE "maybe" is not valid; auto_truncate takes true or false/],
    [{ argv: ['--execution-provider', 'tpu'] }, /execution_provider takes 'cpu' or 'cuda'/],
    [{ argv: ['--ws-idle-timeout-s', '5'] }, /ws_idle_timeout_s takes 0 \(off\) or 8\.\.960 seconds/],
    [{ argv: ['--ws-idle-timeout-s', '961'] }, /ws_idle_timeout_s/],
    [{ argv: ['--workers', '0'] }, /workers takes an integer 1\.\.64/],
    [{ argv: ['--workers', '-1'] }, /--workers "-1"/],
    [{ argv: ['--request-timeout-ms', '1.5ms'] }, /request_timeout_ms/],
    [{ argv: ['--max-queue-tokens'] }, /^--max-queue-tokens needs a value; max_queue_tokens takes/],
    [{ argv: ['--host', ''] }, /host takes a host name/],
    [{ env: { CROSSGATE_WS_BACKPRESSURE_SOFT_BYTES: '4MiB' }, argv: ['--ws-backpressure-hard-bytes', '2MiB'] },
      /^--ws-backpressure-hard-bytes \(2097152 bytes\) must be above CROSSGATE_WS_BACKPRESSURE_SOFT_BYTES \(4194304 bytes\)/],
    [{ argv: ['--max-batch-tokens', '256'] }, /--max-batch-tokens \(256\) is below the default max_input_tokens \(512\)/],
  ];
  for (const [input, re] of cases) {
    const e = configError(() => parseServerConfig({ env: input.env ?? {}, argv: input.argv ?? [] }));
    assert.match(e.message, re, JSON.stringify(input));
  }
  // A bad API key value is not echoed back.
  const e = configError(() => parseServerConfig({ env: { CROSSGATE_API_KEY: 'has space' } }));
  assert.doesNotMatch(e.message, /has space/);
  assert.match(e.message, /CROSSGATE_API_KEY \(hidden\)/);
});

test('/info shows every field with value, default, flag, env var and reason, but never the API key', () => {
  const { config } = parseServerConfig({ env: { CROSSGATE_API_KEY: 'sekret' }, argv: ['--max-batch-tokens', '4096'] });
  const info = limitsInfo(config);
  assert.deepEqual(Object.keys(info), CONFIG_FIELDS.map((f) => f.name));
  assert.equal(info.max_batch_tokens.value, 4096);
  assert.equal(info.max_batch_tokens.default, 8192);
  assert.equal(info.max_batch_tokens.flag, '--max-batch-tokens');
  assert.equal(info.max_batch_tokens.env, 'CROSSGATE_MAX_BATCH_TOKENS');
  assert.equal(info.api_key.value, '(set)');
  assert.doesNotMatch(JSON.stringify(info), /sekret/);
  assert.equal(limitsInfo(defaultConfig()).api_key.value, null);
  const md = limitsMarkdown().split('\n');
  assert.equal(md.length, CONFIG_FIELDS.length + 2 + HTTP_PARSER_LIMITS.length);
  assert.match(md.find((l) => l.includes('max_documents_per_request'))!, /\| `--max-documents-per-request` \| `CROSSGATE_MAX_DOCUMENTS_PER_REQUEST` \| 1000 \|/);
});

test('workers/threads left at their defaults follow the execution provider: cuda runs 1 worker, an explicit value is kept', () => {
  const cores = availableParallelism();
  // cuda, no workers flag or env var: the server passes undefined and the encoders resolve 1 worker.
  const cuda = parseServerConfig({ argv: ['--execution-provider', 'cuda'], env: {} });
  assert.equal(cuda.sources.workers, 'default');
  const cudaOpts = inferOptionsFor(cuda.config, cuda.sources);
  assert.equal(cudaOpts.workers, undefined);
  assert.equal(cudaOpts.threads, undefined);
  assert.equal(cudaOpts.executionProvider, 'cuda');
  assert.equal(resolveInferOptions(cudaOpts).workers, 1);
  const cudaRun = effectiveConfig(cuda.config, cudaOpts);
  assert.equal(cudaRun.workers, 1);
  assert.equal(cudaRun.threads, defaultThreads(1, cores));
  // The parsed config and /info agree with what runs, and /info's default is cuda's.
  assert.equal(cuda.config.workers, 1);
  assert.deepEqual([limitsInfo(cudaRun).workers.value, limitsInfo(cudaRun).workers.default], [1, 1]);

  // The same from CROSSGATE_EXECUTION_PROVIDER.
  const envCuda = parseServerConfig({ env: { CROSSGATE_EXECUTION_PROVIDER: 'cuda' } });
  assert.equal(resolveInferOptions(inferOptionsFor(envCuda.config, envCuda.sources)).workers, 1);

  // Chosen values are passed as they are, on either provider, from a flag or an env var.
  const chosen = parseServerConfig({ argv: ['--execution-provider', 'cuda', '--workers', '3'], env: { CROSSGATE_THREADS: '2' } });
  assert.deepEqual([inferOptionsFor(chosen.config, chosen.sources).workers, inferOptionsFor(chosen.config, chosen.sources).threads], [3, 2]);
  assert.deepEqual([effectiveConfig(chosen.config, inferOptionsFor(chosen.config, chosen.sources)).workers], [3]);

  // cpu defaults are unchanged: what the infer layer picks for cpu.
  const cpu = parseServerConfig({ env: {} });
  const cpuRun = effectiveConfig(cpu.config, inferOptionsFor(cpu.config, cpu.sources));
  assert.equal(cpuRun.workers, defaultWorkers('cpu'));
  assert.equal(cpuRun.workers, cpu.config.workers);
  assert.equal(cpuRun.threads, cpu.config.threads);

  // Without sources (a hand-built config) every value counts as chosen.
  const handBuilt = { ...defaultConfig(), executionProvider: 'cuda' as const, workers: 2 };
  assert.equal(inferOptionsFor(handBuilt).workers, 2);
  // quantized passes through.
  assert.equal(inferOptionsFor(cpu.config, cpu.sources, true).quantized, true);
});

test('a config where max_documents_per_request x max_input_tokens cannot fit max_queue_tokens starts with a warning naming the three limits', () => {
  // The defaults fit: 1,000 x 512 = 512,000 tokens in a 524,288-token queue, so a plain start is quiet.
  assert.deepEqual(parseServerConfig({ env: {} }).warnings, []);
  assert.deepEqual(configWarnings(defaultConfig()), []);
  const d = parseServerConfig({ env: {}, argv: ['--max-queue-tokens', '262144'] });
  assert.equal(d.warnings.length, 1);
  assert.match(d.warnings[0],
    /max_documents_per_request \(1,000\) x max_input_tokens \(512\) = 512,000 tokens is more than max_queue_tokens \(262,144\); .*413 batch_too_large .*raise --max-queue-tokens to 512,000 or lower --max-documents-per-request or --max-input-tokens/);
  assert.deepEqual(configWarnings(d.config), d.warnings);
  // Any one of the three fixes it; exactly full is no warning.
  assert.deepEqual(parseServerConfig({ env: {}, argv: ['--max-queue-tokens', '512000'] }).warnings, []);
  assert.deepEqual(parseServerConfig({ env: { CROSSGATE_MAX_DOCUMENTS_PER_REQUEST: '512' }, argv: ['--max-queue-tokens', '262144'] }).warnings, []);
  assert.deepEqual(parseServerConfig({ env: {}, argv: ['--max-queue-tokens', '262144', '--max-input-tokens', '256', '--max-documents-per-request', '1024'] }).warnings, []);
  assert.equal(parseServerConfig({ env: {}, argv: ['--max-queue-tokens', '511999'] }).warnings.length, 1);
});
