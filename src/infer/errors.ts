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
