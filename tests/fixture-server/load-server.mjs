// A loopback OpenAI-compatible server whose timing is known, for checking what a load test
// measures (tests/js/loadtest.test.mjs, and the one-off cross-check against guidellm):
//
//   - the first content token leaves `ttftMs` after the request body arrived,
//   - then one token every `itlMs` (scheduled on absolute times, so no drift builds up),
//   - `tokens` tokens per answer (fewer when the request's max_tokens is smaller), reported
//     exactly in `usage.completion_tokens`,
//   - at most `maxConcurrent` answers in flight: a request beyond that gets an immediate 429
//     (OpenAI-shaped body, `Retry-After: 1`), or with `overLimit: "queue"` waits in a FIFO
//     queue for a free slot (as vLLM and TGI do), its clock starting when it gets the slot.
//
// Chat (`…/chat/completions`) and text completions (`…/completions`), streamed or not;
// `GET …/models` lists `model`, `GET …/health` answers 200 (as vLLM does). Node built-ins only; binds 127.0.0.1 only.
//
//   node tests/fixture-server/load-server.mjs --ttft 100 --itl 20 --tokens 40 --limit 8 [--queue] [--port 0]
//   prints LOAD_URL=http://127.0.0.1:<port> and serves until SIGINT/SIGTERM.
//
//   import { startLoadServer } from "./tests/fixture-server/load-server.mjs";
//   const srv = await startLoadServer({ ttftMs: 100, itlMs: 20, tokens: 40, maxConcurrent: 8 });
//   srv.url; srv.stats(); await srv.close();

import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const CREATED = 1700000000;

/**
 * @param {{ ttftMs?: number, itlMs?: number, tokens?: number, maxConcurrent?: number,
 *   model?: string, port?: number, pricing?: { input: number, output: number } }} o
 */
export async function startLoadServer({ ttftMs = 100, itlMs = 20, tokens = 20, maxConcurrent = Infinity, overLimit = "429", model = "loadtest/known-timing", port = 0, pricing } = {}) {
  const sockets = new Set();
  const timers = new Set();
  let inFlight = 0;
  const stats = { requests: 0, answered: 0, rejected: 0, queued: 0, maxInFlight: 0, arrivals: [], authorizations: [], prompts: [] };
  const t0 = performance.now();
  const queue = [];

  const later = (at, fn) => {
    const t = setTimeout(
      () => {
        timers.delete(t);
        fn();
      },
      Math.max(0, at - performance.now()),
    );
    timers.add(t);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const cors = { "access-control-allow-origin": "*" };
      if (req.method === "GET" && url.pathname.endsWith("/models")) {
        const card = { id: model, object: "model", created: CREATED, owned_by: "loadtest" };
        if (pricing) card.providers = [{ provider: "loadtest", status: "live", pricing }];
        res.writeHead(200, { "content-type": "application/json", ...cors });
        return res.end(JSON.stringify({ object: "list", data: [card] }));
      }
      if (req.method === "GET" && url.pathname.endsWith("/health")) {
        res.writeHead(200, { "content-type": "application/json", ...cors });
        return res.end('{"status":"ok"}');
      }
      const chat = url.pathname.endsWith("/chat/completions");
      if (req.method !== "POST" || !(chat || url.pathname.endsWith("/completions"))) {
        res.writeHead(404, { "content-type": "application/json", ...cors });
        return res.end(JSON.stringify({ error: { message: `no route for ${req.method} ${url.pathname}`, type: "not_found" } }));
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json", ...cors });
        return res.end(JSON.stringify({ error: { message: "the body must be JSON", type: "invalid_request_error" } }));
      }
      stats.requests++;
      stats.arrivals.push(performance.now() - t0);
      if (req.headers.authorization) stats.authorizations.push(req.headers.authorization);
      const lastMessage = Array.isArray(body.messages) ? body.messages[body.messages.length - 1] : undefined;
      stats.prompts.push(typeof lastMessage?.content === "string" ? lastMessage.content : String(body.prompt ?? ""));
      const admit = () => {
        inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
        res.on("close", () => {
          inFlight--;
          const next = queue.shift();
          if (next) next();
        });
        answer(body, chat, res, cors);
      };
      if (inFlight >= maxConcurrent && overLimit === "queue") {
        stats.queued++;
        queue.push(() => (res.destroyed ? queue.shift()?.() : admit()));
        return;
      }
      if (inFlight >= maxConcurrent) {
        stats.rejected++;
        res.writeHead(429, { "content-type": "application/json", "retry-after": "1", ...cors });
        return res.end(JSON.stringify({ error: { message: `concurrency limit of ${maxConcurrent} reached`, type: "requests", code: "rate_limit_exceeded" } }));
      }
      admit();
    });
  });

  function answer(body, chat, res, cors) {
    const start = performance.now();
    const max = body.max_completion_tokens ?? body.max_tokens;
    const n = Number.isInteger(max) && max > 0 ? Math.min(max, tokens) : tokens;
    const text = (i) => (i === 0 ? "tok0" : ` tok${i}`);
    const promptChars = chat ? JSON.stringify(body.messages ?? "").length : String(body.prompt ?? "").length;
    const usage = { prompt_tokens: Math.max(1, Math.ceil(promptChars / 4)), completion_tokens: n, total_tokens: Math.max(1, Math.ceil(promptChars / 4)) + n };
    const id = `load-${stats.requests}`;
    const base = { id, object: chat ? "chat.completion.chunk" : "text_completion", created: CREATED, model };
    const choice = (t, finish) => (chat ? { index: 0, delta: t === null ? {} : { content: t }, finish_reason: finish } : { index: 0, text: t ?? "", finish_reason: finish });
    const finish = n < tokens ? "length" : "stop";
    if (body.stream !== true) {
      later(start + ttftMs + (n - 1) * itlMs, () => {
        if (res.destroyed) return;
        const all = Array.from({ length: n }, (_, i) => text(i)).join("");
        const c = chat ? { index: 0, message: { role: "assistant", content: all }, finish_reason: finish } : { index: 0, text: all, finish_reason: finish };
        res.writeHead(200, { "content-type": "application/json", ...cors });
        res.end(JSON.stringify({ ...base, object: chat ? "chat.completion" : "text_completion", choices: [c], usage }));
        stats.answered++;
      });
      return;
    }
    res.socket?.setNoDelay(true);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...cors });
    res.flushHeaders();
    const send = (obj) => !res.destroyed && res.write(`data: ${JSON.stringify(obj)}\n\n`);
    if (chat) send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
    for (let i = 0; i < n; i++) {
      later(start + ttftMs + i * itlMs, () => {
        send({ ...base, choices: [choice(text(i), null)] });
        if (i < n - 1) return;
        send({ ...base, choices: [choice(null, finish)] });
        send({ ...base, choices: [], usage });
        if (!res.destroyed) res.end("data: [DONE]\n\n");
        stats.answered++;
      });
    }
  }

  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    model,
    stats: () => ({ ...stats, arrivals: [...stats.arrivals], authorizations: [...stats.authorizations], prompts: [...stats.prompts], inFlight }),
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const srv = await startLoadServer({
    ttftMs: arg("--ttft", 100),
    itlMs: arg("--itl", 20),
    tokens: arg("--tokens", 20),
    maxConcurrent: arg("--limit", Infinity),
    overLimit: process.argv.includes("--queue") ? "queue" : "429",
    port: arg("--port", 0),
  });
  console.log(`LOAD_URL=${srv.url}`);
  const stop = async () => {
    console.error(`load-server: ${JSON.stringify(srv.stats())}`);
    await srv.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
