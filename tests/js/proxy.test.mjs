// The auth proxy (`createProxy`), end to end in Node: the package as users import it,
// served by its own Node adapter (`serveNode`), forwarding to the fixture server as the
// upstream. Every policy rule and its status; the token reaches the upstream and never a
// client (every response header and body byte of every test is scanned); nothing a client
// sends changes the upstream host; streams pass through incrementally; a client that
// disconnects cancels the upstream request; the official `openai` client works through it.

import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";

import OpenAI from "openai";
import { InferenceClient, InferenceError } from "hf-inference-wasm";
import { createProxy, InferenceError as ProxyInferenceError } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";
import { startFixtureServer, within, waitFor } from "./helpers.mjs";

const T = { timeout: 20_000 };
const TOKEN = "hf_proxySECRETtoken_0123456789abcdef";
const PROXY_KEY = "proxy-key-0123456789abcdef";
const SESSION_SECRET = "session-secret-0123456789abcdef";
const MODEL = "meta-llama/Llama-3.3-70B-Instruct";
const messages = [{ role: "user", content: "Tell me a story" }];

let fx;
let evil; // a server nothing may ever reach
let evilHits = 0;
const servers = [];
/** Every byte any proxy sent to a client, scanned for the token at the end. */
const seenByClients = [];

before(async () => {
  fx = await startFixtureServer({ port: 0 });
  evil = http.createServer((req, res) => {
    evilHits++;
    res.end("pwned");
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
});
after(async () => {
  for (const s of servers) s.closeAllConnections?.(), s.close();
  evil.closeAllConnections?.();
  evil.close();
  await fx?.close();
});
beforeEach(() => fx.reset());

/** Start a proxy with `options` (upstream = the fixture server, our token, any model). */
async function start(options = {}, path = "") {
  const logs = [];
  const usages = [];
  const proxy = createProxy({
    upstream: fx.url + path,
    token: TOKEN,
    allowedModels: "*",
    log: (line) => logs.push(line),
    onUsage: (u) => usages.push(u),
    ...options,
  });
  const server = await serveNode(proxy, { port: 0 });
  servers.push(server);
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, logs, usages, server };
}

/** `fetch` that records what the client saw (headers and body) for the token scan. */
async function call(url, init = {}) {
  const res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(10_000) });
  const text = await res.text();
  const headers = Object.fromEntries(res.headers);
  seenByClients.push(JSON.stringify(headers), text);
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers, text, json };
}

const post = (url, body, headers = {}) =>
  call(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const upstreamChats = () => fx.requests.filter((r) => r.path.endsWith("/chat/completions"));

describe("routes", () => {
  test("unknown routes are 404 with a JSON error; wrong methods 405 with Allow", T, async () => {
    const p = await start();
    for (const path of ["/", "/v1", "/v1/completions", "/admin", "/v1/chat/completions/x"]) {
      const r = await call(p.url + path);
      assert.equal(r.status, 404, path);
      assert.equal(r.json.error.code, "unknown_route");
    }
    const r = await call(`${p.url}/v1/chat/completions`);
    assert.equal(r.status, 405);
    assert.match(r.headers.allow, /POST/);
    assert.equal(fx.requests.length, 0);
  });

  test("GET /health answers without spending anything", T, async () => {
    const p = await start();
    const r = await call(`${p.url}/health`);
    assert.equal(r.status, 200);
    assert.equal(r.json.status, "ok");
    assert.equal(fx.requests.length, 0);
  });

  test("GET /v1/models lists only the allowed models; with '*' it forwards the upstream list", T, async () => {
    const p = await start({ allowedModels: [MODEL, "Qwen/Qwen2.5-7B-Instruct:together"] });
    const r = await call(`${p.url}/v1/models`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data.map((m) => m.id).sort(), ["Qwen/Qwen2.5-7B-Instruct:together", MODEL].sort());
    assert.equal(fx.requests.length, 0);
    const any = await start();
    const up = await call(`${any.url}/v1/models`);
    assert.equal(up.status, 200);
    assert.ok(up.json.data.some((m) => m.id === "fixture/chat-simulator"));
    assert.equal(fx.requests[0].headers.authorization, `Bearer ${TOKEN}`);
  });
});

describe("chat completions through the proxy", () => {
  test("non-stream: the upstream gets our token and the rewritten body; the client gets the completion", T, async () => {
    const p = await start();
    const r = await post(p.url, { model: MODEL, messages }, { authorization: "Bearer client-supplied", cookie: "session=abc" });
    assert.equal(r.status, 200);
    assert.equal(r.json.object, "chat.completion");
    const [up] = upstreamChats();
    assert.equal(up.path, "/v1/chat/completions");
    assert.equal(up.headers.authorization, `Bearer ${TOKEN}`, "the client's Authorization is replaced");
    assert.equal(up.headers.cookie, undefined, "cookies are dropped");
    assert.equal(JSON.parse(up.body).max_tokens, undefined, "no max_tokens is inserted by default");
    await waitFor(() => p.usages.length === 1, { message: "onUsage" });
    assert.equal(p.usages[0].usage.total_tokens, JSON.parse(r.text).usage.total_tokens, "usage from a non-stream body");
  });

  test("stream: SSE headers, every chunk, usage recorded from the last chunk", T, async () => {
    const p = await start();
    const res = await fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    assert.match(res.headers.get("cache-control"), /no-cache/);
    assert.match(res.headers.get("cache-control"), /no-transform/);
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    assert.equal(res.headers.get("content-encoding"), null);
    const text = await res.text();
    seenByClients.push(text);
    assert.match(text, /data: \[DONE\]/);
    await waitFor(() => p.usages.length === 1, { message: "onUsage" });
    assert.ok(p.usages[0].usage.completion_tokens > 0);
    assert.equal(p.usages[0].complete, true);
  });

  test("our own client streams through the proxy (endpointUrl at the proxy, no token in the client)", T, async () => {
    const p = await start();
    const client = new InferenceClient({ endpointUrl: p.url });
    const s = client.chatCompletionStream({ model: MODEL, messages });
    let text = "";
    for await (const c of s) text += c.choices[0]?.delta?.content ?? "";
    assert.match(text, /Tell me a story/);
  });

  test("the official openai client streams through the proxy's /v1", T, async () => {
    const p = await start();
    const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "not-a-real-key", maxRetries: 0, timeout: 10_000 });
    const stream = await openai.chat.completions.create({ model: MODEL, messages, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    assert.match(text, /deterministic/);
    const models = await openai.models.list();
    assert.ok(models.data.length > 0);
  });

  test("streaming is incremental: the first bytes reach the client long before the upstream finishes", T, async () => {
    const p = await start({}, "/pace/100");
    const t0 = performance.now();
    const res = await fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages, stream: true }),
    });
    const reader = res.body.getReader();
    await reader.read();
    const firstAt = performance.now() - t0;
    let rest = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += value.length;
    }
    const totalAt = performance.now() - t0;
    assert.ok(rest > 0);
    // 40+ chunks 100 ms apart: the whole takes seconds; the first chunk comes at once.
    assert.ok(totalAt > 1_000, `the upstream is paced (${totalAt} ms)`);
    assert.ok(firstAt < totalAt / 4, `first bytes after ${firstAt.toFixed(0)} ms of ${totalAt.toFixed(0)} ms`);
  });

  test("a client that disconnects mid-stream cancels the upstream request", T, async () => {
    const p = await start({}, "/pace/200");
    const ac = new AbortController();
    const res = await fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body.getReader();
    await reader.read();
    ac.abort();
    const entry = await waitFor(() => upstreamChats().find((r) => r.closedAt !== null), { timeout: 3_000, message: "upstream closed" });
    assert.equal(entry.aborted, true, "the upstream response was cut off, not finished");
    await waitFor(() => p.logs.length === 1, { message: "log line" });
  });
});

describe("policy", () => {
  test("origins: unknown → 403; allowed → CORS headers; preflight answered", T, async () => {
    const p = await start({ allowedOrigins: ["https://app.example"] });
    const bad = await post(p.url, { model: MODEL, messages }, { origin: "https://evil.example" });
    assert.equal(bad.status, 403);
    assert.equal(bad.json.error.code, "origin_not_allowed");
    assert.equal(bad.headers["access-control-allow-origin"], undefined);
    const ok = await post(p.url, { model: MODEL, messages }, { origin: "https://app.example" });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "https://app.example");
    const pre = await call(`${p.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-stainless-os" },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers["access-control-allow-methods"], /POST/);
    assert.match(pre.headers["access-control-allow-headers"], /x-stainless-os/);
    assert.equal(upstreamChats().length, 1);
  });

  test("models and providers: not allowed → 403 naming the problem; nothing sent", T, async () => {
    const p = await start({ allowedModels: [MODEL], allowedProviders: ["together", "groq"] });
    const m = await post(p.url, { model: "other/model", messages });
    assert.equal(m.status, 403);
    assert.equal(m.json.error.code, "model_not_allowed");
    const pr = await post(p.url, { model: `${MODEL}:novita`, messages });
    assert.equal(pr.status, 403);
    assert.equal(pr.json.error.code, "provider_not_allowed");
    const ok = await post(p.url, { model: MODEL, messages });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(upstreamChats()[0].body).model, `${MODEL}:together`, "pinned to the first allowed provider");
    const none = await start({ allowedModels: undefined });
    const closed = await post(none.url, { model: MODEL, messages });
    assert.equal(closed.status, 403, "models fail closed by default");
  });

  test("body size: a declared or a streamed body over the limit → 413", T, async () => {
    const p = await start({ maxBodyBytes: 1024 });
    const big = { model: MODEL, messages: [{ role: "user", content: "x".repeat(5000) }] };
    const r = await post(p.url, big);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, "body_too_large");
    // No Content-Length: a chunked body is counted as it arrives.
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request(`${p.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write(JSON.stringify(big).slice(i * 500, (i + 1) * 500));
      req.end();
    });
    seenByClients.push(chunked.body);
    assert.equal(chunked.status, 413);
    assert.equal(upstreamChats().length, 0);
  });

  test("invalid JSON and bad messages → 400 naming the problem", T, async () => {
    const p = await start();
    const a = await post(p.url, "{not json");
    assert.equal(a.status, 400);
    assert.equal(a.json.error.code, "invalid_json");
    const b = await post(p.url, { model: MODEL });
    assert.equal(b.status, 400);
    assert.match(b.json.error.message, /messages/);
    const c = await post(p.url, { model: MODEL, messages: [{ role: 42, content: "x" }] });
    assert.equal(c.status, 400);
    assert.equal(upstreamChats().length, 0);
  });

  test("max_tokens over the cap is clamped, or refused with maxTokensMode: reject; n over maxChoices → 400", T, async () => {
    const p = await start({ maxTokensCap: 100 });
    assert.equal((await post(p.url, { model: MODEL, messages, max_tokens: 5000 })).status, 200);
    assert.equal(JSON.parse(upstreamChats()[0].body).max_tokens, 100);
    const q = await start({ maxTokensCap: 100, maxTokensMode: "reject" });
    const r = await post(q.url, { model: MODEL, messages, max_tokens: 5000 });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, "max_tokens_too_large");
    const n = await post(p.url, { model: MODEL, messages, n: 3 });
    assert.equal(n.status, 400);
    assert.equal(n.json.error.code, "too_many_choices");
  });

  test("rate limit per client: over the burst → 429 with Retry-After; /health is not limited", T, async () => {
    const p = await start({ rateLimit: { requestsPerMinute: 60, burst: 2 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(p.url, { model: MODEL, messages })).status);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const r = await post(p.url, { model: MODEL, messages });
    assert.equal(r.json.error.code, "rate_limited");
    assert.ok(Number(r.headers["retry-after"]) >= 1);
    assert.equal((await call(`${p.url}/health`)).status, 200);
    // A caller-supplied key function: each key has its own bucket.
    const q = await start({ rateLimit: { requestsPerMinute: 60, burst: 1 }, clientKey: (req) => req.headers.get("x-user") ?? "anon" });
    assert.equal((await post(q.url, { model: MODEL, messages }, { "x-user": "a" })).status, 200);
    assert.equal((await post(q.url, { model: MODEL, messages }, { "x-user": "b" })).status, 200);
    assert.equal((await post(q.url, { model: MODEL, messages }, { "x-user": "a" })).status, 429);
  });

  test("a shared proxy key: missing or wrong → 401; right (header or bearer) → 200", T, async () => {
    const p = await start({ requireKey: PROXY_KEY });
    assert.equal((await post(p.url, { model: MODEL, messages })).status, 401);
    assert.equal((await post(p.url, { model: MODEL, messages }, { "x-proxy-key": "wrong-key-0123456789" })).status, 401);
    assert.equal((await post(p.url, { model: MODEL, messages }, { "x-proxy-key": PROXY_KEY })).status, 200);
    assert.equal((await post(p.url, { model: MODEL, messages }, { authorization: `Bearer ${PROXY_KEY}` })).status, 200);
    assert.equal(upstreamChats().length, 2);
    for (const r of upstreamChats()) assert.equal(r.headers.authorization, `Bearer ${TOKEN}`, "the proxy key is not forwarded");
  });

  test("signed sessions: GET /session issues a token (WebCrypto HMAC) that /v1 accepts; a forged one is 401", T, async () => {
    const p = await start({ sessions: { ttlMs: 60_000 }, sessionSecret: SESSION_SECRET });
    assert.equal((await post(p.url, { model: MODEL, messages })).status, 401, "no session");
    const s = await call(`${p.url}/session`);
    assert.equal(s.status, 200);
    assert.match(s.json.token, /^hfp1\./);
    assert.ok(s.json.expires_at > Date.now());
    const ok = await post(p.url, { model: MODEL, messages }, { authorization: `Bearer ${s.json.token}` });
    assert.equal(ok.status, 200);
    const forged = s.json.token.slice(0, -4) + (s.json.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const bad = await post(p.url, { model: MODEL, messages }, { authorization: `Bearer ${forged}` });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, "invalid_session");
    // Another proxy with another secret does not accept it.
    const q = await start({ sessions: true, sessionSecret: "another-secret-0123456789" });
    assert.equal((await post(q.url, { model: MODEL, messages }, { authorization: `Bearer ${s.json.token}` })).status, 401);
  });

  test("bad options throw at creation with the option named", () => {
    assert.throws(() => createProxy({ allowedOrigins: ["https://x.example/path"] }), (e) => e instanceof InferenceError && e instanceof ProxyInferenceError && /allowedOrigins/.test(e.message));
    assert.throws(() => createProxy({ maxTokensMode: "sometimes" }), /maxTokensMode/);
    assert.throws(() => createProxy({ upstream: "ftp://x" }), /upstream/);
    assert.throws(() => createProxy({ requireKey: "Q7zKx9" }), (e) => /requireKey/.test(e.message) && !e.message.includes("Q7zKx9"));
    assert.throws(() => createProxy({ rateLimit: { burst: "ten" } }), /rateLimit.burst/);
  });

  test("no token anywhere → 500 that says to set HF_TOKEN; env.HF_TOKEN works", T, async () => {
    const proxy = createProxy({ upstream: fx.url, allowedModels: "*", log: false });
    const req = () => new Request("http://proxy.local/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: MODEL, messages }) });
    const r = await proxy.fetch(req(), {}, {});
    assert.equal(r.status, 500);
    assert.match(await r.text(), /HF_TOKEN/);
    const ok = await proxy.fetch(req(), { HF_TOKEN: TOKEN }, {});
    assert.equal(ok.status, 200);
    seenByClients.push(await ok.text());
    assert.equal(upstreamChats()[0].headers.authorization, `Bearer ${TOKEN}`);
  });
});

describe("upstream errors", () => {
  test("an upstream 401 becomes a 502 the operator can act on; a 429 keeps its Retry-After", T, async () => {
    const p401 = await start({}, "/status/401");
    const a = await post(p401.url, { model: MODEL, messages });
    assert.equal(a.status, 502);
    assert.equal(a.json.error.code, "upstream_auth_failed");
    const p429 = await start({}, "/status/429");
    const b = await post(p429.url, { model: MODEL, messages });
    assert.equal(b.status, 429);
    assert.equal(b.headers["retry-after"], "1");
  });

  test("an unreachable upstream is a 502 JSON error", T, async () => {
    const p = await start({ upstream: "http://127.0.0.1:9" });
    const r = await post(p.url, { model: MODEL, messages });
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, "upstream_unreachable");
  });

  test("a stalled upstream is cut by the proxy's timeouts (504)", T, async () => {
    const p = await start({ timeouts: { headers: 300 } }, "/fault/stall-headers/k-stall");
    const r = await post(p.url, { model: MODEL, messages });
    assert.equal(r.status, 504);
    assert.equal(r.json.error.code, "upstream_timeout");
  });
});

describe("nothing a client sends changes the upstream host", () => {
  test("paths, headers and body fields that name another host reach only the configured upstream", T, async () => {
    const p = await start();
    const evilUrl = `http://127.0.0.1:${evil.address().port}`;
    const paths = [
      `//127.0.0.1:${evil.address().port}/v1/chat/completions`,
      "/v1/chat/completions/../../evil",
      "/v1/chat/completions%2F..%2F..",
    ];
    for (const path of paths) {
      const r = await new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: p.server.address().port, path, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("error", reject);
        req.end(JSON.stringify({ model: MODEL, messages }));
      });
      seenByClients.push(r.body);
      assert.equal(r.status, 404, path);
    }
    // `/%2e%2e/v1/…` is the route itself once the URL is parsed (WHATWG dot segments):
    // it is served, by the configured upstream.
    fx.reset();
    assert.equal((await call(`${p.url}/%2e%2e/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: MODEL, messages }) })).status, 200);
    assert.equal(upstreamChats()[0].path, "/v1/chat/completions");
    fx.reset();
    const r = await post(
      p.url,
      { model: MODEL, messages, url: evilUrl, base_url: evilUrl, endpoint: evilUrl },
      { host: `127.0.0.1:${evil.address().port}`, "x-forwarded-host": "evil.example", "x-original-url": evilUrl, forwarded: `host=${evilUrl}` },
    );
    assert.equal(r.status, 200);
    const [up] = upstreamChats();
    assert.equal(up.path, "/v1/chat/completions");
    const sent = JSON.parse(up.body);
    assert.equal(sent.url, undefined);
    assert.equal(sent.base_url, undefined);
    assert.equal(sent.endpoint, undefined);
    assert.equal(up.headers["x-forwarded-host"], undefined);
    assert.equal(evilHits, 0, "the other server was never contacted");
  });
});

describe("secrets and logs", () => {
  test("log lines carry request id, model, status, latency and tokens, never the token or message content", T, async () => {
    const p = await start();
    await post(p.url, { model: MODEL, messages: [{ role: "user", content: "my secret diary entry" }] }, { "x-request-id": "req-abc" });
    await waitFor(() => p.logs.length === 1, { message: "log line" });
    const line = JSON.parse(p.logs[0]);
    assert.equal(line.request_id, "req-abc");
    assert.equal(line.model, MODEL);
    assert.equal(line.status, 200);
    assert.equal(typeof line.latency_ms, "number");
    assert.ok(line.total_tokens > 0);
    assert.doesNotMatch(p.logs[0], /hf_proxySECRET/);
    assert.doesNotMatch(p.logs[0], /secret diary/);
  });

  test("the token never reached any client: every response header and body of this file", () => {
    assert.ok(seenByClients.length > 40, `scanned ${seenByClients.length} responses`);
    for (const s of seenByClients) {
      assert.ok(!s.includes(TOKEN), "token in a response");
      assert.ok(!s.includes("hf_proxySECRET"), "part of the token in a response");
      assert.ok(!s.includes(SESSION_SECRET), "session secret in a response");
    }
  });
});

describe("the default entry (`proxy.js`: Deno, bundlers, any runtime with fetch)", () => {
  // Node takes the `node` condition, so this entry runs here only when imported by path,
  // in a child process whose `fetch` also reads file: URLs (as Deno's does): the entry
  // fetches its wasm from the URL next to it.
  test("instantiates its wasm from the URL beside it, serves /health, and throws the package's InferenceError", T, async () => {
    const { execFile } = await import("node:child_process");
    const entry = new URL("../../pkg/proxy.js", import.meta.url).href;
    const script = `
      import { readFile } from "node:fs/promises";
      const realFetch = globalThis.fetch;
      globalThis.fetch = async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.protocol !== "file:") return realFetch(input, init);
        return new Response(await readFile(url), { headers: { "content-type": "application/wasm" } });
      };
      const { createProxy, InferenceError } = await import(${JSON.stringify(entry)});
      const proxy = createProxy({ upstream: "http://127.0.0.1:9", token: "hf_x", allowedModels: "*" });
      const r = await proxy.fetch(new Request("http://127.0.0.1/health"));
      let refused = "";
      try { createProxy({ maxTokensMode: "sometimes" }); } catch (e) { refused = e instanceof InferenceError && e.kind + ": " + e.message; }
      console.log(JSON.stringify({ status: r.status, body: await r.json(), refused }));
    `;
    const out = await new Promise((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const got = JSON.parse(out.trim().split("\n").pop());
    assert.equal(got.status, 200);
    assert.equal(got.body.status, "ok");
    assert.match(got.refused, /^input: .*maxTokensMode/);
  });
});
