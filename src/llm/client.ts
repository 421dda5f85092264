// The generation seam: an LlmClient streams a chat answer as text deltas. The one implementation talks to
// any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio, TGI's Messages API)
// through the official `openai` client, and turns every failure into an LlmError with a kind and a fix.
import OpenAI from 'openai';

/** What went wrong talking to the LLM, one closed set for every surface (CLI, HTTP, WS). */
export type LlmErrorKind =
  | 'llm_timeout' // no response (or no token for idleTimeoutMs) in time
  | 'llm_auth' // 401/403: missing or wrong key
  | 'llm_rate_limited' // 429
  | 'llm_unavailable' // 5xx
  | 'llm_request' // another 4xx: unknown model, bad URL
  | 'llm_connection' // nothing listening, DNS, TLS
  | 'llm_stream_cut' // the stream ended or broke before the answer finished
  | 'llm_error'; // an error the server put inside the stream, or anything else

export class LlmError extends Error {
  readonly kind: LlmErrorKind;
  /** The HTTP status, when the endpoint answered with one. */
  readonly status: number | null;
  constructor(kind: LlmErrorKind, message: string, status: number | null = null) {
    super(message);
    this.name = 'LlmError';
    this.kind = kind;
    this.status = status;
  }
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface StreamChunk {
  /** Text to append (may be empty on the last chunk). */
  delta: string;
  /** Set on the chunk that ends the answer: 'stop', 'length', ... */
  finishReason: string | null;
}

/** Anything that can stream a chat answer. Errors are LlmErrors; an abort through `signal` rethrows its reason. */
export interface LlmClient {
  readonly model: string;
  readonly baseURL: string;
  stream(messages: readonly ChatMessage[], opts?: { signal?: AbortSignal }): AsyncIterable<StreamChunk>;
}

/** Time to the response headers. Local models can take a while to load, so a minute. */
export const DEFAULT_LLM_TIMEOUT_MS = 60_000;
/** Longest silence between two tokens once the answer has started; a stalled stream becomes llm_timeout. */
export const DEFAULT_LLM_IDLE_TIMEOUT_MS = 30_000;
/**
 * No retries by default: an answer that is already streaming cannot be retried transparently, and a
 * 429 or 5xx is better shown at once than hidden behind backoff. The openai client retries only before the first byte.
 */
export const DEFAULT_LLM_MAX_RETRIES = 0;

export interface LlmConfig {
  /** e.g. http://127.0.0.1:8080/v1 (llama.cpp), http://127.0.0.1:11434/v1 (Ollama), https://api.openai.com/v1 */
  baseURL: string;
  model: string;
  /** Default: $CROSSGATE_LLM_API_KEY, then $OPENAI_API_KEY; local servers accept any key. */
  apiKey?: string;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  maxRetries?: number;
  /** Sampling temperature; default the server's. */
  temperature?: number;
  /** Longest answer in tokens; default the server's. */
  maxTokens?: number;
}

/** The API key from the environment: CROSSGATE_LLM_API_KEY wins over OPENAI_API_KEY. */
export function apiKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.CROSSGATE_LLM_API_KEY || env.OPENAI_API_KEY || undefined;
}

function checkConfig(c: LlmConfig): void {
  let url: URL;
  try {
    url = new URL(c.baseURL);
  } catch {
    throw new RangeError(`llm base URL is "${c.baseURL}"; expected an http(s) URL such as http://127.0.0.1:8080/v1`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`llm base URL is "${c.baseURL}"; expected an http(s) URL such as http://127.0.0.1:8080/v1`);
  if (typeof c.model !== 'string' || c.model.trim() === '') throw new RangeError('llm model is empty; pass the model name the endpoint serves (--llm-model)');
  for (const [name, v] of [['timeoutMs', c.timeoutMs], ['idleTimeoutMs', c.idleTimeoutMs]] as const) {
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new RangeError(`llm ${name} is ${v}; expected a positive number of milliseconds`);
  }
  if (c.maxRetries !== undefined && (!Number.isInteger(c.maxRetries) || c.maxRetries < 0)) throw new RangeError(`llm maxRetries is ${c.maxRetries}; expected an integer >= 0`);
}

const isAbort = (e: unknown): boolean => e instanceof Error && (e.name === 'AbortError' || e instanceof OpenAI.APIUserAbortError);

/** Streams chat completions from an OpenAI-compatible endpoint. */
export class OpenAiCompatibleLlm implements LlmClient {
  readonly model: string;
  readonly baseURL: string;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly #client: OpenAI;
  readonly #config: LlmConfig;

  constructor(config: LlmConfig) {
    checkConfig(config);
    this.#config = config;
    this.model = config.model;
    this.baseURL = config.baseURL.replace(/\/+$/, '');
    this.timeoutMs = config.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS;
    this.idleTimeoutMs = config.idleTimeoutMs ?? DEFAULT_LLM_IDLE_TIMEOUT_MS;
    this.#client = new OpenAI({
      baseURL: this.baseURL,
      // Local servers need no key, but the client refuses to start without one.
      apiKey: config.apiKey ?? apiKeyFromEnv() ?? 'not-needed',
      timeout: this.timeoutMs,
      maxRetries: config.maxRetries ?? DEFAULT_LLM_MAX_RETRIES,
    });
  }

  async *stream(messages: readonly ChatMessage[], opts: { signal?: AbortSignal } = {}): AsyncIterable<StreamChunk> {
    const controller = new AbortController();
    let idleFired = false;
    const onAbort = (): void => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idleFired = true;
        controller.abort();
      }, this.idleTimeoutMs);
    };
    let chars = 0;
    let finished = false;
    try {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const body: OpenAI.Chat.ChatCompletionCreateParamsStreaming = { model: this.model, messages: messages.map((m) => ({ role: m.role, content: m.content })), stream: true };
      if (this.#config.temperature !== undefined) body.temperature = this.#config.temperature;
      if (this.#config.maxTokens !== undefined) body.max_tokens = this.#config.maxTokens;
      let stream;
      try {
        stream = await this.#client.chat.completions.create(body, { signal: controller.signal });
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        throw this.#classify(e, 0);
      }
      arm();
      try {
        for await (const chunk of stream) {
          arm();
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const delta = choice.delta?.content ?? '';
          const finishReason = choice.finish_reason ?? null;
          chars += delta.length;
          if (finishReason !== null) finished = true;
          if (delta.length > 0 || finishReason !== null) yield { delta, finishReason };
        }
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (idleFired) throw this.#stalled(chars);
        throw this.#classify(e, chars);
      }
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (idleFired) throw this.#stalled(chars);
      if (!finished) {
        throw new LlmError('llm_stream_cut', `the LLM stream from ${this.baseURL} ended after ${chars} characters without a finish reason; the answer is incomplete`);
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  #stalled(chars: number): LlmError {
    return new LlmError('llm_timeout', `the LLM at ${this.baseURL} sent no token for ${this.idleTimeoutMs} ms after ${chars} characters; the answer is incomplete (raise --llm-idle-timeout if the model is slow)`);
  }

  #classify(e: unknown, chars: number): LlmError {
    if (e instanceof LlmError) return e;
    const where = `the LLM at ${this.baseURL} (model ${this.model})`;
    const detail = (err: unknown): string => {
      const m = err instanceof Error ? err.message : String(err);
      return m.length > 200 ? m.slice(0, 200) + '…' : m;
    };
    if (e instanceof OpenAI.APIConnectionTimeoutError) {
      return new LlmError('llm_timeout', `${where} did not answer within ${this.timeoutMs} ms; check that it is running, or raise --llm-timeout`);
    }
    if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
      const s = e.status;
      if (s === 401 || s === 403) return new LlmError('llm_auth', `${where} refused the request with ${s} (${detail(e)}); set CROSSGATE_LLM_API_KEY or OPENAI_API_KEY to a key it accepts`, s);
      if (s === 429) {
        const after = e.headers?.get?.('retry-after');
        return new LlmError('llm_rate_limited', `${where} is rate limiting (429${after ? `, retry after ${after} s` : ''}): ${detail(e)}; retry later or lower the request rate`, s);
      }
      if (s >= 500) return new LlmError('llm_unavailable', `${where} failed with ${s} (${detail(e)}); the server may be overloaded or the model not loaded; retry later`, s);
      return new LlmError('llm_request', `${where} rejected the request with ${s} (${detail(e)}); check --llm-model and --llm-base-url (it usually ends in /v1)`, s);
    }
    if (e instanceof OpenAI.APIError && !(e instanceof OpenAI.APIConnectionError) && !(e instanceof OpenAI.APIUserAbortError)) {
      return new LlmError('llm_error', `${where} reported an error inside the stream after ${chars} characters: ${detail(e)}`);
    }
    if (chars > 0 || (e instanceof TypeError && /terminated|other side closed/i.test(String(e) + String((e as { cause?: unknown }).cause ?? '')))) {
      return new LlmError('llm_stream_cut', `the LLM stream from ${this.baseURL} broke after ${chars} characters (${detail(e)}); the answer is incomplete`);
    }
    if (e instanceof OpenAI.APIConnectionError) {
      const cause = (e as { cause?: unknown }).cause;
      return new LlmError('llm_connection', `cannot reach ${where}: ${detail(cause ?? e)}; check --llm-base-url and that the server is running`);
    }
    if (isAbort(e)) return new LlmError('llm_stream_cut', `the LLM stream from ${this.baseURL} was aborted after ${chars} characters`);
    return new LlmError('llm_error', `${where} failed: ${detail(e)}`);
  }
}
