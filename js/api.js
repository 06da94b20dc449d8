// The package's public surface, shared by every entry (node.mjs, browser.js,
// workerd.js). The classes come from the wasm module; this file only adds what
// JavaScript syntax needs and wasm-bindgen cannot declare: the async-iterator symbol,
// the `chat.completions.create` shape, and a ReadableStream view. No logic lives here.
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

// The pump. The body is read here, in plain JavaScript: each read's bytes go to the
// wasm in one synchronous call (`_feed`), which runs them through the core and the
// callbacks and returns the read's chunks (their JSON text, each followed by "\0", or
// "" when nobody wants chunk objects), undefined when the read completed none (read on),
// or null when the next step is the wasm's.
// Whatever is not a plain read (headers, retries, fallbacks, the end, a failed read) is
// the wasm's async `_pull` / `_readFailed`. No HTTP decision is made here.
async function pullBatch(stream, wantChunks) {
  for (;;) {
    const reader = stream._reader();
    if (reader === undefined) return stream._pull(wantChunks);
    for (;;) {
      let read;
      try {
        read = await reader.read();
      } catch (e) {
        return stream._readFailed(e, wantChunks);
      }
      if (!read.done && !(read.value instanceof Uint8Array)) {
        return stream._readFailed(new TypeError(`the response body yielded ${typeof read.value}, not bytes`), wantChunks);
      }
      const chunks = read.done ? stream._feed(EMPTY, true, wantChunks) : stream._feed(read.value, false, wantChunks);
      if (typeof chunks === "string") return chunks;
      if (chunks === null) break; // the wasm has the next step
    }
  }
}
const EMPTY = new Uint8Array(0);

// The driver: callbacks given at creation, `text()`, `finalCompletion()`. Started once,
// by whichever claims the stream first; it ends with the stream (its outcome reaches the
// callbacks and the waiters through the wasm, not through this loop).
function drive(stream) {
  if (!stream._claimDriver()) return;
  (async () => {
    try {
      while ((await pullBatch(stream, false)) !== undefined);
    } catch {
      // Reported by the stream itself (onError, the waiters).
    }
  })();
}

for (const name of ["chatCompletionStream", "textGenerationStream"]) {
  const make = InferenceClient.prototype[name];
  if (typeof make !== "function") continue;
  InferenceClient.prototype[name] = function (...args) {
    const stream = make.apply(this, args);
    // Later, so that a caller who starts iterating right away keeps the stream.
    if (stream._drivesItself) queueMicrotask(() => drive(stream));
    return stream;
  };
}

for (const name of ["text", "finalCompletion"]) {
  const wait = ChatStream.prototype[name];
  ChatStream.prototype[name] = function () {
    drive(this); // first: the wasm's own driver starts only if nobody claimed the stream
    return wait.call(this);
  };
}

// The async iterator: chunk objects are parsed here, once, and only because the caller
// iterates. Steps are serialized: `next()` called twice without awaiting still yields
// the chunks in order.
const iterators = new WeakMap();

ChatStream.prototype.next = function () {
  let it = iterators.get(this);
  if (!it) {
    try {
      this.claimIterator();
    } catch (e) {
      return Promise.reject(e);
    }
    iterators.set(this, (it = { queue: [], at: 0, busy: 0, tail: undefined }));
  }
  if (it.busy === 0 && it.at < it.queue.length && this._live()) return Promise.resolve({ done: false, value: it.queue[it.at++] });
  it.busy++;
  const step = (it.tail ?? Promise.resolve()).then(() => nextChunk(this, it));
  it.tail = step.then(
    () => void it.busy--,
    () => void it.busy--,
  );
  return step;
};

async function nextChunk(stream, it) {
  // Once aborted (the signal, a timeout, `abort()`), nothing more goes out, even chunks
  // already decoded: the wasm's pull reports the end.
  if (it.at < it.queue.length && !stream._live()) it.queue = [];
  while (it.at >= it.queue.length) {
    const text = await pullBatch(stream, true);
    if (text === undefined) return { done: true, value: undefined };
    const queue = [];
    let from = 0;
    for (let nul = text.indexOf("\0"); nul !== -1; nul = text.indexOf("\0", from)) {
      const data = text.slice(from, nul);
      from = nul + 1;
      try {
        queue.push(JSON.parse(data));
      } catch {
        throw stream.failParse(data);
      }
    }
    it.queue = queue;
    it.at = 0;
  }
  return { done: false, value: it.queue[it.at++] };
}

const wasmReturn = ChatStream.prototype.return;
ChatStream.prototype.return = function () {
  const it = iterators.get(this);
  if (it) it.queue = [];
  return wasmReturn.call(this);
};

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
