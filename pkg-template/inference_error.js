// The error every rejection of hf-inference-wasm carries, built by the wasm
// from the client's error (src/js/error.rs); it never holds an access token.
export class InferenceError extends Error {
  constructor(message, code, details = {}) {
    super(message);
    this.name = "InferenceError";
    this.code = code;
    this.status = details.status;
    this.model = details.model;
    this.requestId = details.requestId;
    this.attempts = details.attempts ?? 0;
    this.retryAfterMs = details.retryAfterMs;
    // A call over a list of providers: each failed attempt, in order.
    if (details.failures) this.failures = details.failures;
  }
}
