// A module Worker that uses hf-inference-wasm as a Workers user would: imported by name,
// no init call. The packaging test bundles it with esbuild (conditions workerd, worker,
// browser) and runs it in workerd through Miniflare. `env.FIXTURE_URL` is the loopback
// fixture server. Routes (query `path` = a fixture scenario prefix, `prompt` = user text):
//   /stream    chatCompletionStream + for await and onContent → JSON { text, chunks, usage, … }
//   /sse       chatCompletionStream(...).toReadableStream() relayed as text/event-stream
//   /complete  chatCompletion → the completion JSON
//   /error     an HTTP error from /status/404 → its InferenceError fields
//   /exports   the names the package exports, and its version
import * as ns from "hf-inference-wasm";
import { InferenceClient, InferenceError, ChatStream, version } from "hf-inference-wasm";

const MODEL = "fixture/tiny-chat";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const endpointUrl = env.FIXTURE_URL + (url.searchParams.get("path") ?? "");
    const chat = { model: MODEL, messages: [{ role: "user", content: url.searchParams.get("prompt") ?? "Hello from workerd" }] };
    try {
      switch (url.pathname) {
        case "/stream": {
          const client = new InferenceClient({ endpointUrl });
          const deltas = [];
          let snapshot = "";
          let finish;
          const stream = client.chatCompletionStream(chat, {
            onContent(delta, snap) {
              deltas.push(delta);
              snapshot = snap;
            },
            onFinish: (f) => (finish = { finishReason: f.finishReason, usage: f.usage, aborted: f.aborted, truncated: f.truncated }),
          });
          let text = "";
          let chunks = 0;
          let usage = null;
          for await (const chunk of stream) {
            chunks++;
            const delta = chunk.choices?.[0]?.delta?.content;
            if (typeof delta === "string") text += delta;
            if (chunk.usage) usage = chunk.usage;
          }
          return Response.json({ text, chunks, usage, onContent: deltas.join(""), snapshot, finish, isChatStream: stream instanceof ChatStream });
        }
        case "/sse": {
          const client = new InferenceClient({ endpointUrl });
          const stream = client.chatCompletionStream(chat);
          return new Response(stream.toReadableStream(), { headers: { "content-type": "text/event-stream; charset=utf-8" } });
        }
        case "/complete": {
          const client = new InferenceClient({ endpointUrl });
          return Response.json(await client.chatCompletion(chat));
        }
        case "/error": {
          const client = new InferenceClient({ endpointUrl: env.FIXTURE_URL + "/status/404" });
          try {
            await client.chatCompletion(chat);
            return Response.json({ threw: false });
          } catch (e) {
            return Response.json({
              threw: true,
              isInferenceError: e instanceof InferenceError,
              isError: e instanceof Error,
              name: e.name,
              kind: e.kind,
              status: e.status,
              code: e.code,
              requestId: e.requestId,
            });
          }
        }
        case "/exports":
          return Response.json({ exports: Object.keys(ns).sort(), version });
        default:
          return new Response("no such route", { status: 404 });
      }
    } catch (e) {
      return Response.json({ thrown: String((e && e.stack) || e), kind: e && e.kind }, { status: 500 });
    }
  },
};
