// The package's public surface, shared by every entry (node.mjs, browser.js,
// workerd.js). The classes come from the wasm module (whose awaits are js/wire.js and
// js/pump.js); this file only adds what JavaScript syntax needs and wasm-bindgen cannot
// declare: the async-iterator symbol, the `chat.completions.create` shape, a
// ReadableStream view, `batch` and the Cache API store. No HTTP decision lives here.
// Nothing in this file calls into wasm while it is evaluated, so it may load before the
// entry instantiates the module.

import { InferenceClient, ChatStream } from "./hf_inference_wasm.js";
import { InferenceError } from "__ERRORS_MODULE__";
export { InferenceError };
export { InferenceClient, ChatStream };

export const version = "__VERSION__";

ChatStream.prototype[Symbol.asyncIterator] = function () {
  return this;
};

// The stream's methods that wait, calling its pump (js/pump.js) directly rather than
// through the wasm: Node 20's V8 crashes when it deoptimizes a caller that inlined a wasm
// call with a reference result while that call runs JavaScript.
const TEXT = 0;
const COMPLETION = 1;
// The pump, asked of the wasm once per stream: `_pump` is a wasm call that also takes a
// slot of its table of JavaScript values, and `next()` runs once per chunk. A freed
// stream (`__wbg_ptr` 0) asks again, and throws as it always did.
const PUMP = Symbol("pump");
function pumpOf(stream) {
  const pump = stream[PUMP];
  if (pump !== undefined && stream.__wbg_ptr !== 0) return pump;
  return (stream[PUMP] = stream._pump);
}
ChatStream.prototype.next = function () {
  return pumpOf(this).next();
};
ChatStream.prototype.ready = function () {
  return pumpOf(this).ready();
};
ChatStream.prototype.nextSse = function () {
  return pumpOf(this).nextSse();
};
for (const [name, what] of [
  ["text", TEXT],
  ["finalCompletion", COMPLETION],
]) {
  ChatStream.prototype[name] = function () {
    const pump = pumpOf(this);
    const done = pump.wait(what);
    if (!this.ended) pump.drive();
    return done;
  };
}

ChatStream.prototype.toReadableStream = function () {
  const stream = this;
  return new ReadableStream({
    async pull(controller) {
      const bytes = await stream.nextSse();
      if (bytes === undefined) controller.close();
      else controller.enqueue(bytes);
    },
    cancel() {
      stream.abort();
    },
  });
};

/**
 * Run many chat requests with at most `concurrency` in flight; the results keep the
 * requests' order, each `{ ok: true, value }` or `{ ok: false, error }` (one failure
 * never fails the others). `signal` cancels what is running and what has not started.
 * `onResult(result, index)` fires as each one settles.
 */
InferenceClient.prototype.batch = async function (requests, { concurrency = 4, signal, onResult, ...callOptions } = {}) {
  if (!Array.isArray(requests)) throw new TypeError("batch(requests): `requests` must be an array of chat requests");
  const limit = Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 4;
  const results = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      let result;
      if (signal?.aborted) {
        result = { ok: false, error: abortedError() };
      } else {
        try {
          result = { ok: true, value: await this.chatCompletion(requests[i], { ...callOptions, signal }) };
        } catch (error) {
          result = { ok: false, error };
        }
      }
      results[i] = result;
      if (onResult) {
        try {
          onResult(result, i);
        } catch (e) {
          // A throwing callback is reported like an event listener's, not into the batch.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, requests.length) }, worker));
  return results;
};

function abortedError() {
  return new InferenceError("the batch was aborted before this request was sent", { kind: "aborted", retryable: false });
}

/**
 * A response-cache store on the Cache API (`caches`, in browsers and Workers): pass as
 * `cache: { store: cacheApiStore() }`. Entries expire after the cache's `ttlMs`.
 */
export function cacheApiStore({ name = "hf-inference-wasm", prefix = "https://cache.hf-inference-wasm.invalid/" } = {}) {
  if (typeof caches === "undefined") throw new TypeError("cacheApiStore(): there is no Cache API (`caches`) here");
  const open = () => caches.open(name);
  return {
    async get(id) {
      const res = await (await open()).match(prefix + id);
      if (!res) return undefined;
      const expires = Number(res.headers.get("x-expires-at"));
      if (Number.isFinite(expires) && expires <= Date.now()) {
        await (await open()).delete(prefix + id);
        return undefined;
      }
      return res.text();
    },
    async put(id, value, ttlMs) {
      const headers = { "content-type": "text/plain; charset=utf-8", "x-expires-at": String(Date.now() + (Number(ttlMs) || 0)) };
      await (await open()).put(prefix + id, new Response(value, { headers }));
    },
    async delete(id) {
      return (await open()).delete(prefix + id);
    },
  };
}

Object.defineProperty(InferenceClient.prototype, "chat", {
  configurable: true,
  get() {
    const client = this;
    return {
      completions: {
        create(request, options) {
          if (request !== null && typeof request === "object" && request.stream === true) {
            let stream;
            try {
              stream = client.chatCompletionStream(request, options);
            } catch (e) {
              return Promise.reject(e);
            }
            return stream.ready().then(() => stream);
          }
          return client.chatCompletion(request, options);
        },
      },
    };
  },
});
