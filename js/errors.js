// The error class of hf-inference-wasm. The wasm core builds every error; this file only
// gives it a real `Error` subclass so `instanceof InferenceError` and `instanceof Error`
// work and stack traces point at the caller. Imported by the Rust shell (src/web/sys.rs)
// and re-exported by the package entry, so both see the same class.

export class InferenceError extends Error {
  constructor(message, fields) {
    super(message, fields && fields.cause !== undefined ? { cause: fields.cause } : undefined);
    this.name = "InferenceError";
    const f = fields || {};
    this.kind = f.kind;
    this.status = f.status;
    this.code = f.code;
    this.requestId = f.requestId;
    this.provider = f.provider;
    this.retryable = Boolean(f.retryable);
    this.body = f.body;
    this.timeout = f.timeout;
    this.partial = f.partial;
    this.attempts = f.attempts;
  }

  toJSON() {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      status: this.status,
      code: this.code,
      requestId: this.requestId,
      provider: this.provider,
      retryable: this.retryable,
      body: this.body,
      timeout: this.timeout,
      attempts: this.attempts,
    };
  }
}

// What the wasm side calls: `fields` is the core's JSON of the error's fields;
// `partial` (a stream's completion so far) and `cause` (the JavaScript exception behind
// it, which may be any value, `undefined` included) are JavaScript values.
export function makeInferenceError(message, fields, partial, hasCause, cause) {
  const f = JSON.parse(fields);
  if (partial !== undefined) f.partial = partial;
  if (hasCause) f.cause = cause;
  return new InferenceError(message, f);
}
