// The clients under measurement, each behind the same small interface, used as their users
// use them: hf-inference-wasm imported by package name (pkg/, through node_modules), the
// peers from the root's pinned dev dependencies, eventsource-parser from benches/.
//
//   const c = await makeClient(id, { fetch })   // `fetch`: an optional fetch to hand the client
//   await c.consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText })
//       → { text, chunks }  (raw: { bytes, reads })
//
// `base` is a loopback URL prefix ending in `/v1`; `kind` is "text" (assemble choice 0's
// content) or "tool" (assemble tool call 0's arguments). `onFirst()` is called at the first
// piece of content (the first body bytes for the raw floor), `onDelta(piece)` at each piece
// (`onBytes(n)` at each read for the raw floor); `keepText: false` counts without keeping the
// text (the memory benchmark). Every call takes a signal.

export const MODEL = "bench/model";
export const MESSAGES = [{ role: "user", content: "Say this is a test" }];

export const CLIENTS = {
  raw: { title: "raw floor: fetch + getReader() (bytes only)", short: "raw floor" },
  esp: { title: "eventsource-parser + JSON.parse over fetch", short: "eventsource-parser" },
  openai: { title: "openai", short: "openai" },
  hf: { title: "@huggingface/inference", short: "@huggingface/inference" },
  ours: { title: "hf-inference-wasm (for await)", short: "ours: for await" },
  oursCb: { title: "hf-inference-wasm (onContent callback; finalCompletion() for tool calls)", short: "ours: onContent" },
  oursFlat: { title: "hf-inference-wasm (onContent callback, `accumulate: false`)", short: "ours: onContent, accumulate: false" },
};
/** The JavaScript peers (the raw floor is not a peer). */
export const PEER_IDS = ["esp", "openai", "hf"];
export const OUR_IDS = ["ours", "oursCb"];

const post = (base, signal, fetchImpl) =>
  fetchImpl(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true }),
    signal,
  });

function deltaOf(chunk, kind) {
  const d = chunk?.choices?.[0]?.delta;
  if (!d) return undefined;
  return kind === "tool" ? d.tool_calls?.[0]?.function?.arguments : d.content;
}

export async function makeClient(id, { fetch: fetchImpl } = {}) {
  const f = fetchImpl ?? ((...a) => globalThis.fetch(...a));
  switch (id) {
    case "raw":
      return {
        async consume(base, _kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
          const res = await post(base, signal, f);
          const reader = res.body.getReader();
          let bytes = 0;
          let reads = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (reads === 0) onFirst?.();
            reads++;
            bytes += value.byteLength;
            onBytes?.(value.byteLength);
          }
          return { bytes, reads };
        },
      };

    case "esp": {
      const { createParser } = await import("eventsource-parser");
      return {
        async consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
          const res = await post(base, signal, f);
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          let text = "";
          let chunks = 0;
          let seen = 0;
          let done = false;
          const parser = createParser({
            onEvent(ev) {
              if (done) return;
              if (ev.data === "[DONE]") {
                done = true;
                return;
              }
              const chunk = JSON.parse(ev.data);
              chunks++;
              const d = deltaOf(chunk, kind);
              if (typeof d === "string" && d) {
                if (!seen++) onFirst?.();
                onDelta?.(d);
                if (keepText) text += d;
              }
            },
          });
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          while (!done) {
            const { done: end, value } = await reader.read();
            if (end) break;
            parser.feed(decoder.decode(value, { stream: true }));
          }
          if (done) await reader.cancel().catch(() => {});
          return { text, chunks };
        },
      };
    }

    case "openai": {
      const { default: OpenAI } = await import("openai");
      const client = new OpenAI({ apiKey: "bench", baseURL: "http://127.0.0.1/v1", maxRetries: 0, timeout: 120_000, fetch: f });
      const clients = new Map();
      return {
        async consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
          let c = clients.get(base);
          if (!c) clients.set(base, (c = client.withOptions({ baseURL: base })));
          const stream = await c.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true }, { signal });
          let text = "";
          let chunks = 0;
          let seen = 0;
          for await (const chunk of stream) {
            chunks++;
            const d = deltaOf(chunk, kind);
            if (typeof d === "string" && d) {
              if (!seen++) onFirst?.();
              onDelta?.(d);
              if (keepText) text += d;
            }
          }
          return { text, chunks };
        },
      };
    }

    case "hf": {
      const { InferenceClient } = await import("@huggingface/inference");
      const clients = new Map();
      return {
        async consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
          let c = clients.get(base);
          if (!c) clients.set(base, (c = new InferenceClient("hf_bench", { endpointUrl: base, fetch: f })));
          let text = "";
          let chunks = 0;
          let seen = 0;
          for await (const chunk of c.chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal })) {
            chunks++;
            const d = deltaOf(chunk, kind);
            if (typeof d === "string" && d) {
              if (!seen++) onFirst?.();
              onDelta?.(d);
              if (keepText) text += d;
            }
          }
          return { text, chunks };
        },
      };
    }

    case "ours":
    case "oursCb":
    case "oursFlat": {
      // BENCH_OURS_MODULE: profile.mjs points this at a build that keeps wasm function names.
      const { InferenceClient } = await import(process.env.BENCH_OURS_MODULE || "hf-inference-wasm");
      const clients = new Map();
      const clientFor = (base) => {
        let c = clients.get(base);
        if (!c) {
          // Generous timeouts: the benchmark bounds each call with its own signal.
          const opts = { endpointUrl: base, timeouts: { headers: 120_000, firstChunk: 120_000, idle: 120_000, total: 600_000 }, retry: { maxRetries: 0 } };
          if (fetchImpl) opts.fetch = fetchImpl;
          clients.set(base, (c = new InferenceClient(opts)));
        }
        return c;
      };
      if (id === "ours")
        return {
          async consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
            const stream = clientFor(base).chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal });
            let text = "";
            let chunks = 0;
            let seen = 0;
            try {
              for await (const chunk of stream) {
                chunks++;
                const d = deltaOf(chunk, kind);
                if (typeof d === "string" && d) {
                  if (!seen++) onFirst?.();
                  onDelta?.(d);
                  if (keepText) text += d;
                }
              }
            } finally {
              stream.free?.();
            }
            return { text, chunks };
          },
        };
      return {
        async consume(base, kind, { signal, onFirst, onDelta, onBytes, keepText = true } = {}) {
          if (kind === "tool") {
            // No per-delta callback exists for tool-call arguments: the completion
            // assembled by the package is the way to get them without parsing chunks in JS.
            const stream = clientFor(base).chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal });
            try {
              const completion = await stream.finalCompletion();
              return { text: completion.choices?.[0]?.message?.tool_calls?.[0]?.function?.arguments ?? "", chunks: NaN };
            } finally {
              stream.free?.();
            }
          }
          let text = "";
          let chunks = 0;
          let seen = 0;
          const stream = clientFor(base).chatCompletionStream(
            { model: MODEL, messages: MESSAGES },
            {
              signal,
              ...(id === "oursFlat" ? { accumulate: false } : {}),
              onContent(delta) {
                if (!seen++) onFirst?.();
                chunks++;
                onDelta?.(delta);
                if (keepText) text += delta;
              },
            },
          );
          try {
            await stream.text();
          } finally {
            stream.free?.();
          }
          return { text, chunks };
        },
      };
    }
    default:
      throw new Error(`unknown client ${id}`);
  }
}

/** mulberry32, seeded (the same split for every client). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A `fetch` whose response body reaches the client in 4–16 byte pieces (seeded): each piece
 *  is its own chunk of the body's ReadableStream, so every reader sees it as one read.
 *  (Writing tiny pieces from the server does not do this: see decode.mjs.) */
export function tinyChunkFetch(inner = (...a) => globalThis.fetch(...a), seed = 7) {
  return async (input, init) => {
    const res = await inner(input, init);
    if (!res.body) return res;
    const rnd = prng(seed);
    const split = new TransformStream({
      transform(chunk, controller) {
        for (let at = 0; at < chunk.byteLength; ) {
          const n = 4 + Math.floor(rnd() * 13);
          controller.enqueue(chunk.subarray(at, at + n));
          at += n;
        }
      },
    });
    return new Response(res.body.pipeThrough(split), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
