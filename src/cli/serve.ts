// `crossgate serve`: the HTTP + WebSocket server. Config flags and CROSSGATE_* variables come from the
// limits table (src/server/limits.ts); this file adds the model flags, prints what runs where, and turns
// SIGTERM/SIGINT into a graceful shutdown that ends with exit code 0.
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isRepoRef, parseRepoRef } from '../models/hub/index.js';
import { Collection } from '../pipeline/collection.js';
import { engineOf } from '../retrievers/index.js';
import { CONFIG_FIELDS, ConfigError, parseServerConfig, type ConfigSources, type ServerConfig } from '../server/limits.js';
import { startServer, type ModelRef, type RunningServer, type ServedModels } from '../server/server.js';
import { apiKeyFromEnv, OpenAiCompatibleLlm, type LlmConfig } from '../llm/client.js';
import { DEFAULT_FALLBACK, FALLBACK_MODES, type FallbackMode } from '../pipeline/precision.js';
import { formatHelp, optionalString, parseCommandArgv, UsageError, type CommandSpec, type OptionSpec } from './args.js';
import { resolveModelArg } from './model-paths.js';

const PLACEHOLDER: Record<string, string> = { bytes: 'SIZE', ms: 'DURATION', s: 'SECONDS', tokens: 'N', count: 'N', text: 'VALUE', enum: 'NAME' };

const MODEL_OPTIONS: Record<string, OptionSpec> = {
  reranker: { type: 'string', multiple: true, value: 'NAME=REF', description: 'A cross-encoder to serve (repeatable; the first is the default). REF is a model directory or a cached hub repo id (org/name[@rev], see `crossgate models pull`). NAME is what clients pass as "model"; REF alone uses the repo id or the folder name. Env: CROSSGATE_RERANKERS="a=REF,b=REF".' },
  embedder: { type: 'string', multiple: true, value: 'NAME=REF', description: 'A bi-encoder for /embed, /v1/embeddings and /search (repeatable; the first embeds queries); REF as for --reranker. Env: CROSSGATE_EMBEDDERS.' },
  collection: { type: 'string', value: 'PATH', description: 'A collection built by `crossgate index build`, searched by /search and WS search. Without --embedder, the one it was built with is loaded. Env: CROSSGATE_COLLECTION.' },
  retriever: { type: 'string', value: 'URL', description: 'Retrieve for /search from an outside engine instead of --collection: chroma://host:port/collection (embedded with the first --embedder) or postgres://user@host:port/db[?table=name]. The server starts and stays up while the engine is down; /ready and /metrics report its health. Env: CROSSGATE_RETRIEVER.' },
  quantized: { type: 'boolean', description: "Run each model's quantized ONNX file. Env: CROSSGATE_QUANTIZED=true." },
  fallback: { type: 'string', value: 'MODE', description: `Second retrieval of /search and /ask when nothing passes: ${FALLBACK_MODES.join(', ')} (default ${DEFAULT_FALLBACK}; runs only if the collection has that mode). Env: CROSSGATE_FALLBACK.` },
  'gap-log': { type: 'string', value: 'PATH', description: 'Where unanswered decisions are recorded (default <collection>.gaps.jsonl; GET /gaps reads it). Env: CROSSGATE_GAP_LOG (off turns it off).' },
  'no-gap-log': { type: 'boolean', description: 'Record nothing (queries can hold personal data).' },
  'llm-base-url': { type: 'string', value: 'URL', description: 'OpenAI-compatible endpoint for POST /ask, e.g. http://127.0.0.1:8080/v1. Env: CROSSGATE_LLM_BASE_URL. Key: $CROSSGATE_LLM_API_KEY or $OPENAI_API_KEY.' },
  'llm-model': { type: 'string', value: 'NAME', description: 'Model name the endpoint serves. Env: CROSSGATE_LLM_MODEL.' },
};

function configOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const f of CONFIG_FIELDS) {
    const def = typeof f.default === 'function' ? f.defaultText ?? 'computed' : f.default === null ? 'none' : String(f.default);
    out[f.flag.slice(2)] = {
      type: f.unit === 'bool' ? 'boolean' : 'string',
      value: PLACEHOLDER[f.unit],
      description: `${f.reason} Default ${def}; env ${f.env}.`,
    };
  }
  return out;
}

export const serveCommand: CommandSpec & { runArgv(argv: string[]): Promise<void> } = {
  name: 'serve',
  summary: 'run the reranking server: TEI/Cohere/OpenAI-compatible HTTP and streaming WebSocket (/ws)',
  usage: [
    'serve --reranker NAME=REF [--reranker NAME=REF ...] [--embedder NAME=REF] [--collection PATH] [--host H] [--port P] [limit flags]',
  ],
  options: { ...MODEL_OPTIONS, ...configOptions(), help: { type: 'boolean', short: 'h', description: 'Show this help and exit.' } },
  details: [
    'Every limit flag has a CROSSGATE_<NAME> variable (e.g. CROSSGATE_MAX_DOCUMENTS_PER_REQUEST); a flag beats the variable.',
    'Boolean flags take --flag, --no-flag or --flag false. Sizes take 8MiB / 500KB / 1024; durations take 30s / 500ms / 1500.',
    'Routes: POST /rerank /v2/rerank /v1/rerank /embed /v1/embeddings /tokenize /search /ask; GET /health /ready /info /metrics /gaps /openapi.json; WS /ws.',
    'SIGTERM/SIGINT: stop accepting, /ready 503, in-flight requests get shutdown_grace_ms, WebSockets close 1001, exit 0. During start-up: stop after the model being loaded, exit 0.',
    'As a service, run `node_modules/.bin/crossgate serve` (or `exec node dist/src/cli/main.js serve`) so signals reach the server; under a wrapper that does not forward them (npx) the server stops on its own when the wrapper exits.',
  ],
  async run() {
    throw new Error('serve parses its own arguments; call runArgv');
  },
  async runArgv(argv: string[]): Promise<void> {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(formatHelp(serveCommand));
      return;
    }
    let config: ServerConfig;
    let rest: string[];
    let sources: ConfigSources;
    let warnings: string[];
    try {
      ({ config, rest, sources, warnings } = parseServerConfig({ argv, env: process.env }));
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message, serveCommand);
      throw e;
    }
    const models = await modelsFrom(rest, process.env);
    for (const w of warnings) process.stderr.write(`${w}\n`);
    await serve(config, sources, models);
  },
};

/**
 * NAME=REF or REF, where REF is a model directory or a hub repo id in the cache. A repo id is resolved
 * here, before the server listens, so a model that is not pulled fails at once with the flag named.
 */
function parseModelRef(raw: string, flag: string, quantized: boolean): ModelRef {
  const eq = raw.indexOf('=');
  const ref = eq > 0 ? raw.slice(eq + 1) : raw;
  if (raw.trim() === '' || ref.trim() === '') throw new UsageError(`${flag} needs NAME=REF or REF (REF: a model directory or a hub repo id org/name)`, serveCommand);
  const repo = isRepoRef(ref);
  let dir: string;
  try {
    dir = resolveModelArg(flag, ref, { quantized });
  } catch (e) {
    throw new UsageError((e as Error).message, serveCommand);
  }
  if (!repo && !existsSync(dir)) {
    throw new UsageError(`${flag} ${raw}: model directory ${dir} does not exist; pass a directory with config.json, tokenizer.json and an ONNX file, or a hub repo id (org/name) pulled with \`crossgate models pull\``, serveCommand);
  }
  const name = eq > 0 ? raw.slice(0, eq) : repo ? parseRepoRef(ref).repoId : basename(dir);
  return { name, dir };
}

function envList(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The model flags left over after the config flags: --reranker/--embedder (repeatable), --collection, --quantized. */
async function modelsFrom(rest: string[], env: NodeJS.ProcessEnv): Promise<ServedModels> {
  // The config flags are gone (parseServerConfig took them); the rest goes through the same walker against
  // every serve option, so a misspelt limit flag still gets its did-you-mean.
  const { values } = parseCommandArgv(serveCommand, rest);
  const str = (k: string): string | undefined => optionalString(values, k);
  const rerankers = (values.reranker as string[] | undefined) ?? [];
  const embedders = (values.embedder as string[] | undefined) ?? [];
  let collection = str('collection');
  let retriever = str('retriever');
  let quantized = values.quantized === true ? true : undefined;
  let fallback = str('fallback');
  let gapLog: string | null | undefined = values['no-gap-log'] === true ? null : str('gap-log');
  let llmBaseUrl = str('llm-base-url');
  let llmModel = str('llm-model');
  quantized ??= /^(1|true|yes|on)$/i.test(env.CROSSGATE_QUANTIZED ?? '');
  const q = quantized;
  const rr = (rerankers.length > 0 ? rerankers : envList(env.CROSSGATE_RERANKERS)).map((r) => parseModelRef(r, '--reranker', q));
  const ee = (embedders.length > 0 ? embedders : envList(env.CROSSGATE_EMBEDDERS)).map((r) => parseModelRef(r, '--embedder', q));
  collection ??= env.CROSSGATE_COLLECTION || undefined;
  retriever ??= env.CROSSGATE_RETRIEVER || undefined;
  if (retriever !== undefined) {
    if (collection !== undefined) throw new UsageError('--collection and --retriever both name where /search retrieves from; pass one', serveCommand);
    try {
      if (engineOf(retriever) === 'chroma' && ee.length === 0) throw new UsageError(`--retriever ${retriever}: Chroma needs the bi-encoder its documents were embedded with; pass --embedder NAME=REF`, serveCommand);
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError((e as Error).message, serveCommand);
    }
  }
  if (rr.length === 0) throw new UsageError('at least one cross-encoder is needed: pass --reranker NAME=REF (or set CROSSGATE_RERANKERS)', serveCommand);
  if (collection !== undefined) {
    collection = resolve(collection);
    if (ee.length === 0) {
      // The collection records the bi-encoder it was built with; load that one.
      const manifest = await Collection.readManifest(collection);
      if (manifest.biEncoder === null) {
        throw new UsageError(`collection ${collection} is keyword-only; the server searches dense collections for now (use \`crossgate search --mode keyword\`), or rebuild it with --bi-encoder`, serveCommand);
      }
      if (!existsSync(manifest.biEncoder.dir)) {
        throw new UsageError(`collection ${collection} was built with the bi-encoder at ${manifest.biEncoder.dir}, which is gone; pass --embedder NAME=DIR`, serveCommand);
      }
      ee.push({ name: manifest.biEncoder.name, dir: manifest.biEncoder.dir });
    }
  }
  fallback ??= env.CROSSGATE_FALLBACK || undefined;
  if (fallback !== undefined && !(FALLBACK_MODES as readonly string[]).includes(fallback)) {
    throw new UsageError(`--fallback is "${fallback}"; expected one of ${FALLBACK_MODES.join(', ')}`, serveCommand);
  }
  if (gapLog === undefined && env.CROSSGATE_GAP_LOG) gapLog = ['off', 'false', '0', 'none'].includes(env.CROSSGATE_GAP_LOG.trim().toLowerCase()) ? null : env.CROSSGATE_GAP_LOG;
  llmBaseUrl ??= env.CROSSGATE_LLM_BASE_URL || undefined;
  llmModel ??= env.CROSSGATE_LLM_MODEL || undefined;
  if ((llmBaseUrl === undefined) !== (llmModel === undefined)) {
    throw new UsageError(llmBaseUrl ? '--llm-base-url was given without --llm-model; pass the model name the endpoint serves' : '--llm-model was given without --llm-base-url; pass the endpoint, e.g. --llm-base-url http://127.0.0.1:8080/v1', serveCommand);
  }
  let llm: LlmConfig | null = null;
  if (llmBaseUrl && llmModel) {
    llm = { baseURL: llmBaseUrl, model: llmModel };
    const key = apiKeyFromEnv(env);
    if (key) llm.apiKey = key;
    try {
      new OpenAiCompatibleLlm(llm); // checks the URL and the model name now, not at the first /ask
    } catch (e) {
      throw new UsageError((e as Error).message, serveCommand);
    }
  }
  return {
    rerankers: rr, embedders: ee, collection: collection ?? null, retriever: retriever ?? null, quantized, llm,
    ...(fallback !== undefined ? { fallback: fallback as FallbackMode } : {}), ...(gapLog !== undefined ? { gapLog } : {}),
  };
}

/**
 * Calls `onGone` once when this process's parent exits. `npx crossgate serve` (and other wrappers that do not
 * forward signals) leave the server orphaned when the wrapper is killed: a supervisor that stops the wrapper
 * expects the server to stop too. Linux re-parents an orphan (to init or a subreaper), so a changed
 * process.ppid means the parent is gone. Checked every PARENT_CHECK_MS on an unref'd timer.
 */
export const PARENT_CHECK_MS = 500;
export function watchParent(onGone: (ppid: number) => void): () => void {
  const original = process.ppid;
  // Started by init itself (a container's PID 1 setup, a daemon that double-forked): nothing to watch.
  if (original <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid !== original) {
      clearInterval(timer);
      onGone(original);
    }
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

async function serve(config: ServerConfig, sources: ConfigSources, models: ServedModels): Promise<void> {
  const out = (line: string): void => { process.stdout.write(`${line}\n`); };
  let server: RunningServer | null = null;
  let stopping: Promise<void> | null = null;
  let signalled: string | null = null;
  let finished!: () => void;
  const done = new Promise<void>((r) => { finished = r; });
  // Aborted by a signal that arrives while the models load: start-up stops after the model loading now
  // (ONNX Runtime must not be torn down mid-load), skips the rest and the warm-up, and the process exits 0.
  const startup = new AbortController();

  const stop = (): void => {
    if (!server || stopping) return;
    const s = server;
    stopping = s.shutdown(`received ${signalled}`).then(() => {
      out('crossgate serve: stopped');
      finished();
    });
  };
  const onSignal = (sig: string): void => {
    if (signalled) {
      process.stderr.write(`crossgate serve: ${sig} again; still draining (shutdown_grace_ms ${config.shutdownGraceMs}), please wait\n`);
      return;
    }
    signalled = sig;
    if (!server) startup.abort();
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const unwatch = watchParent((ppid) => {
    process.stderr.write(`crossgate serve: parent process ${ppid} exited (a wrapper such as npx that does not forward signals was stopped); shutting down\n`);
    onSignal('parent exit');
  });
  try {
    const t0 = performance.now();
    try {
      server = await startServer(config, models, {
        sources,
        signal: startup.signal,
        onListening: ({ url }) => out(`crossgate serve: listening on ${url} (loading models)`),
        onModel: (m) => out(`  ${m.kind === 'cross-encoder' ? 'reranker' : 'embedder'} "${m.name}": ${m.dir} on ${m.executionProviders.join(', ')}`),
      });
    } catch (e) {
      if (!startup.signal.aborted) throw e;
      out(`crossgate serve: stopped during start-up (${signalled})`);
      return;
    }
    if (server.ctx.collection) out(`  collection: ${models.collection} (${server.ctx.collection.size} documents)`);
    out(`crossgate serve: ready in ${Math.round(performance.now() - t0)} ms; http ${server.url}, websocket ${server.url.replace(/^http/, 'ws')}/ws${config.apiKey ? '; API key required' : ''}`);
    if (signalled) stop();
    await done;
  } finally {
    unwatch();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // Everything is closed (listen socket, connections, encoders), so the process should exit on its own.
    // A handle leaked by a dependency must not keep a stopped server alive; nothing runs in ORT any more.
    setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
  }
}
