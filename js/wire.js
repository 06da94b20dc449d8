// One HTTP call's mechanics in plain JavaScript, imported by both wasm entries
// (src/web/transport.rs, a wasm-bindgen snippet): calling `fetch`, the AbortController
// behind it, the caller's AbortSignal, the one timer, backoff sleeps. No decision lives
// here: when the timer fires it asks the wasm's watchdog (`deadlines.check(now)`: the
// milliseconds to wait, -1 for nothing to wait for, or a timeout's code when one ran
// out), and a timeout or the caller's abort is only recorded (`cause`) for the wasm to
// turn into its typed error. Written in JS because every one of these is a callback:
// from Rust each would be a wasm-bindgen closure and its glue.

const noop = () => {};

/** `cause` values: why the controller was aborted. Timeouts are `TIMEOUT + kind`. */
export const USER = 1;

export class Wire {
  /**
   * Send a request now. `headers`: `name\nvalue\n` per header, in order; `body`: the
   * text of a POST, undefined for a GET. Throws (synchronously) when `fetch` does.
   */
  constructor(fetchFn, url, headers, body, signal, manualRedirect, deadlines) {
    this.cause = 0;
    this.timer = undefined;
    this.deadlines = deadlines;
    this.controller = new AbortController();
    const h = {};
    const lines = headers.split("\n");
    for (let i = 0; i + 1 < lines.length; i += 2) h[lines[i]] = lines[i + 1];
    const init = { method: body === undefined ? "GET" : "POST", headers: h, signal: this.controller.signal };
    if (body !== undefined) init.body = body;
    // The proxy's token must never follow a redirect to another host.
    if (manualRedirect) init.redirect = "manual";
    let sent;
    try {
      if (fetchFn) sent = fetchFn(url, init);
      else if (typeof globalThis.fetch === "function") sent = globalThis.fetch(url, init);
      // Thrown as the message itself: the wasm reports it as it is.
      else throw "there is no global `fetch`; pass `fetch` in the client options";
    } catch (e) {
      this.end();
      throw e;
    }
    this.fetch = Promise.resolve(sent);
    // A call nobody consumes must not report an unhandled rejection; awaiting
    // `this.fetch` still sees it.
    this.fetch.catch(noop);
    if (signal) {
      this.signal = signal;
      this.onAbort = () => this.abort(USER);
      signal.addEventListener("abort", this.onAbort);
    }
    this.arm();
  }

  /** (Re-)arm the one timer for the watchdog's next possible deadline. */
  arm() {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.deadlines === undefined) return;
    const wait = this.deadlines.check(performance.now());
    if (wait < -1) this.abort(-wait);
    // setTimeout takes a 32-bit delay; the total timeout bounds it anyway.
    else if (wait >= 0) this.timer = setTimeout(() => this.arm(), Math.min(wait, 0x7fffffff));
  }

  /** Abort the request, recording why (`USER`, or a timeout's code) unless it already was. */
  abort(cause) {
    if (this.cause === 0) {
      this.cause = cause;
      this.controller.abort();
    }
    this.end();
  }

  /** The call is over: stop the timer, let go of the caller's signal and the watchdog.
   *  Does not abort the request (a finished body needs no abort). */
  end() {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.signal) this.signal.removeEventListener("abort", this.onAbort);
    this.signal = undefined;
    const d = this.deadlines;
    this.deadlines = undefined;
    if (d) d.free();
  }
}

/** The headers as one string, `name\nvalue\n` per header (in `Headers` iteration order:
 *  sorted, combined): one crossing instead of several per header. WHATWG header names
 *  and values cannot hold a `\n`. */
export function headerLines(headers) {
  let out = "";
  headers.forEach((value, name) => {
    out += `${name}\n${value}\n`;
  });
  return out;
}

/**
 * An options object as JSON text for the wasm's one options reader (src/options.rs). A
 * value JSON cannot carry becomes a string: "\0", its `typeof`, then its index in
 * `values` (a function; the `signal`, `durableState` and `cache.store` objects, kept as
 * they are) or its text (`NaN`, `Infinity`; a string that starts with "\0"); `undefined`
 * stays a key. A `Headers` object under `headers` becomes its [name, value] pairs. Own
 * enumerable properties, as JSON.stringify reads them (`toJSON` is not called). Throws
 * what JSON.stringify throws (a cycle).
 */
export function optionsJson(options, values) {
  const cache = options.cache;
  return JSON.stringify(options, function (key, value) {
    value = this[key];
    switch (typeof value) {
      case "object":
        if (value === null || Array.isArray(value)) return value;
        if (this === options ? key !== "signal" && key !== "durableState" : key !== "store" || this !== cache) {
          // A plain object first: touching the global `Headers` loads undici in Node (35 ms).
          if (key === "headers" && this === options && Object.getPrototypeOf(value) !== Object.prototype && typeof Headers === "function" && value instanceof Headers) return [...value];
          return value;
        }
        break;
      case "function":
        break;
      case "string":
        return value.charCodeAt(0) === 0 ? "\0string" + value : value;
      case "number":
        return Number.isFinite(value) ? value : "\0number" + value;
      case "boolean":
        return value;
      default:
        return "\0" + typeof value;
    }
    return "\0" + typeof value + (values.push(value) - 1);
  });
}

/** A backoff sleep of `ms`, cut short by the caller's signal or `wake()`. */
export class Nap {
  constructor(ms, signal) {
    this.promise = new Promise((resolve) => (this.wake = resolve));
    this.timer = setTimeout(this.wake, Math.min(ms, 0x7fffffff));
    if (signal) {
      this.signal = signal;
      signal.addEventListener("abort", this.wake);
    }
  }

  /** Remove the timer and the listener. */
  cancel() {
    clearTimeout(this.timer);
    if (this.signal) this.signal.removeEventListener("abort", this.wake);
    this.signal = undefined;
  }
}

/** Cancel a body reader. The promise rejects when the body already failed (an aborted
 *  request): that is expected and must not surface as an unhandled rejection. */
export function cancelReader(reader) {
  reader.cancel().catch(noop);
}

/** A promise that settles (never rejects) when `p` does. */
export function settled(p) {
  return p.then(noop, noop);
}

/** `navigator.userAgent`, where there is one. */
export function userAgent() {
  const ua = globalThis.navigator?.userAgent;
  return typeof ua === "string" ? ua : undefined;
}

/**
 * Drive one non-streamed call (a wasm `Job`) to its end: every decision is the job's,
 * taken synchronously; this only awaits and sleeps. Resolves to the answer, rejects with
 * the call's error.
 */
export async function complete(job) {
  try {
    for (;;) {
      const answer = await attempt(job);
      if (answer !== undefined) return answer;
      const wait = job.failed();
      if (wait === -2) throw job.error();
      if (wait >= 0) {
        const nap = new Nap(wait, job.signal);
        await nap.promise;
        nap.cancel();
      }
    }
  } finally {
    job.free();
  }
}

// One attempt: its answer, or undefined when it failed (the job knows why).
async function attempt(job) {
  if (!job.send()) return undefined;
  const wire = job.wire;
  let response;
  try {
    response = await wire.fetch;
  } catch (e) {
    job.rejected(e, true);
    return undefined;
  }
  const max = job.response(response);
  if (max < 0) return undefined;
  let bytes;
  try {
    bytes = await readAll(job, response.body, max);
  } catch (e) {
    job.rejected(e, false);
    return undefined;
  }
  return job.body(bytes) ? job.answer : undefined;
}

/** A whole body, at most `max` bytes (the rest is cancelled); `job.activity()` after
 *  each read. */
export async function readAll(job, body, max) {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const parts = [];
  let size = 0;
  while (size < max) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      cancelReader(reader);
      throw new TypeError("the response body yielded something other than bytes");
    }
    job.activity();
    const part = value.length > max - size ? value.subarray(0, max - size) : value;
    parts.push(part);
    size += part.length;
  }
  if (size >= max) cancelReader(reader);
  return joined(parts, size);
}

/** `parts` (byte arrays of `size` bytes in all) as one. */
export function joined(parts, size) {
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return all;
}

/**
 * Pass a call's gate (a wasm `Gate`: the cache, the budget, the rate-limit queue, the
 * Hub look-up of a direct provider call), awaiting what it asks for. Resolves to 0
 * (send), 1 (a cached answer) or 6 (the call ends before it is sent); never rejects.
 */
export async function pass(gate) {
  for (;;) {
    const step = gate.step();
    if (step === 0 || step === 1 || step === 6) return step;
    if (step === 2) {
      // A failing store, or one slower than `storeWaitMs`, is a miss: the cache is an
      // optimisation.
      const nap = new Nap(gate.storeWaitMs, gate.signal);
      let value;
      try {
        value = await Promise.race([gate.promise, nap.promise]);
      } catch {
        value = undefined;
      }
      nap.cancel();
      gate.stored(value);
    } else if (step === 3) {
      const nap = new Nap(gate.waitMs, gate.signal);
      await Promise.race([gate.promise, nap.promise]);
      nap.cancel();
      gate.admitted();
    } else if (step === 4) {
      await gate.promise; // another call's look-up; it never rejects
    } else {
      await lookUp(gate);
    }
  }
}

async function lookUp(gate) {
  const wire = gate.wire;
  let response;
  try {
    response = await wire.fetch;
  } catch (e) {
    gate.lookupFailed(e, true);
    return;
  }
  const max = gate.lookupResponse(response);
  if (max < 0) return;
  try {
    gate.lookupBody(await readAll(gate, response.body, max));
  } catch (e) {
    gate.lookupFailed(e, false);
  }
}

/** A non-streamed call that has a gate: pass it, then run the call's attempts. */
export async function gateThenComplete(gate) {
  let job;
  try {
    const step = await pass(gate);
    if (step === 1) return gate.answer();
    if (step === 6) throw gate.error();
    job = gate.job();
  } finally {
    gate.free();
  }
  return complete(job);
}

/** `listModels()` / `loadPricing()`: drive one GET (a wasm `ModelsCall`). */
export async function fetchModels(call) {
  try {
    let response;
    try {
      response = await call.wire.fetch;
    } catch (e) {
      throw call.failed(e, true);
    }
    const max = call.response(response);
    let bytes;
    try {
      bytes = await readAll(call, response.body, max);
    } catch (e) {
      throw call.failed(e, false);
    }
    return call.done(bytes);
  } finally {
    call.free();
  }
}
