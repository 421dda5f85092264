// Errors raised by the inference room. `errorType` is the closed tag the server maps to an HTTP status.

/** The model or ONNX Runtime failed (load error, run error, NaN output, worker died). */
export class InferenceBackendError extends Error {
  readonly errorType = 'backend' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceBackendError';
  }
}

/** The engine was closed while the call was waiting or after it. */
export class InferenceClosedError extends Error {
  readonly errorType = 'unavailable' as const;
  constructor(message = 'crossgate: the model was closed; load it again to run inference') {
    super(message);
    this.name = 'InferenceClosedError';
  }
}

/**
 * The scheduler's queue already holds so many tokens that this request would push it over
 * InferOptions.maxQueueTokens; nothing of the request was queued. Retrying later can succeed unless
 * the request alone is larger than the limit (`requestTokens > maxQueueTokens`).
 */
export class QueueFullError extends Error {
  readonly errorType = 'queue_full' as const;
  readonly requestTokens: number;
  readonly queuedTokens: number;
  readonly maxQueueTokens: number;
  constructor(requestTokens: number, queuedTokens: number, maxQueueTokens: number) {
    const fix = requestTokens > maxQueueTokens
      ? 'this request alone is over the limit: split it into smaller calls or raise maxQueueTokens'
      : 'retry when the queue has drained, or raise maxQueueTokens';
    super(`crossgate: the inference queue holds ${queuedTokens.toLocaleString('en-US')} tokens and this request adds ` +
      `${requestTokens.toLocaleString('en-US')}; maxQueueTokens is ${maxQueueTokens.toLocaleString('en-US')}; ${fix}`);
    this.name = 'QueueFullError';
    this.requestTokens = requestTokens;
    this.queuedTokens = queuedTokens;
    this.maxQueueTokens = maxQueueTokens;
  }
}

/** The caller's AbortSignal fired: the request's rows that had not run were dropped before inference. */
export class RequestCancelledError extends Error {
  readonly errorType = 'cancelled' as const;
  constructor(message = 'crossgate: the request was cancelled; its rows that had not run were dropped', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RequestCancelledError';
  }
}

/** ScheduleOptions.refuseTruncated: input `index` is `tokens` long untruncated; the max length is `maxLength`. */
export class InputTooLongError extends Error {
  readonly errorType = 'input_too_long' as const;
  constructor(readonly index: number, readonly tokens: number, readonly maxLength: number) {
    super(`crossgate: input ${index} is ${tokens.toLocaleString('en-US')} tokens; the max length is ${maxLength.toLocaleString('en-US')}; shorten it or allow truncation`);
    this.name = 'InputTooLongError';
  }
}
