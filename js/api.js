// The package's public surface, shared by every entry (node.mjs, browser.js,
// workerd.js). The classes come from the wasm module; this file only adds what
// JavaScript syntax needs and wasm-bindgen cannot declare: the async-iterator symbol,
// the `chat.completions.create` shape, and a ReadableStream view. No logic lives here.
// Nothing in this file calls into wasm while it is evaluated, so it may load before the
// entry instantiates the module.

import { InferenceClient, ChatStream, Proxy } from "./hf_inference_wasm.js";
export { InferenceError } from "__ERRORS_MODULE__";
export { InferenceClient, ChatStream };

/**
 * The auth proxy as a module Worker / fetch handler: `export default createProxy({...})`.
 * Options are checked now (a bad one throws); the token may instead come from
 * `env.HF_TOKEN` on each request.
 */
export function createProxy(options) {
  const proxy = new Proxy(options);
  return {
    fetch(request, env, ctx) {
      return proxy.fetch(request, env, ctx);
    },
  };
}
export const version = "__VERSION__";

ChatStream.prototype[Symbol.asyncIterator] = function () {
  return this;
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
