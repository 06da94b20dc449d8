// The auth proxy as a drop-in OpenAI-compatible server for the Node SDKs people use:
// openai-node and the Vercel AI SDK (`ai` + `@ai-sdk/openai`, `.chat(model)`), pointed at
// the proxy by base URL, in front of the fixture server (tests/clients/serve.mjs). Issue
// 13, point by point, streamed and not, with the error classes each SDK raises.

import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import OpenAI from "openai";
import { generateText, streamText, APICallError } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { InferenceClient, InferenceError } from "hf-inference-wasm";
import { startAll, TOKEN } from "./serve.mjs";

const version = (name) => JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), "utf8")).version;
console.log(`client versions: openai (node) ${version("openai")}, ai ${version("ai")}, @ai-sdk/openai ${version("@ai-sdk/openai")}`);

const T = { timeout: 30_000 };
const messages = [{ role: "user", content: "Tell me a story" }];
let env;

before(async () => {
  env = await startAll();
});
after(async () => env?.close());
beforeEach(() => {
  env.logs.length = 0;
  env.usages.length = 0;
  env.fx.reset();
});

const oa = (name, opts = {}) => new OpenAI({ baseURL: `${env.proxies[name]}/v1`, apiKey: "unused", timeout: 10_000, ...opts });
const sdk = (name) => createOpenAI({ baseURL: `${env.proxies[name]}/v1`, apiKey: "unused" });
const hits = (prefix) => env.fx.requests.filter((r) => r.path.startsWith(prefix));
async function usages(n) {
  for (let i = 0; i < 200 && env.usages.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(env.usages.length, n, JSON.stringify(env.usages));
  return env.usages;
}

// --- the normal paths ------------------------------------------------------------------

test("openai-node: non-stream, usage and one request id end to end", T, async () => {
  const { data, response } = await oa("main").chat.completions.create({ model: "org/m", messages }).withResponse();
  assert.ok(data.choices[0].message.content);
  const id = response.headers.get("x-request-id");
  const [up] = hits("/v1/chat/completions");
  assert.equal(up.headers["x-request-id"], id);
  const [u] = await usages(1);
  assert.equal(u.requestId, id);
  assert.equal(u.usage.total_tokens, data.usage.total_tokens);
  assert.ok(env.logs.some((l) => l.request_id === id));
});

test("openai-node: a stream without include_usage has no usage chunk; onUsage has real counts", T, async () => {
  const chunks = [];
  for await (const ch of await oa("main").chat.completions.create({ model: "org/m", messages, stream: true })) chunks.push(ch);
  assert.ok(chunks.length > 2 && chunks.every((c) => c.choices.length === 1));
  const [u] = await usages(1);
  assert.equal(u.estimated, false);
  assert.ok(u.usage.completion_tokens > 0);
});

test("openai-node: a streamed tool call", T, async () => {
  let args = "";
  let finish;
  for await (const ch of await oa("tools").chat.completions.create({ model: "org/m", messages, stream: true, tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] })) {
    for (const tc of ch.choices[0]?.delta?.tool_calls ?? []) args += tc.function?.arguments ?? "";
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, "tool_calls");
  JSON.parse(args);
});

test("AI SDK: generateText and streamText with usage through .chat(model)", T, async () => {
  const g = await generateText({ model: sdk("main").chat("org/m"), messages });
  assert.ok(g.text.length > 0);
  assert.ok(g.usage.totalTokens > 0);
  const s = streamText({ model: sdk("main").chat("org/m"), messages });
  let text = "";
  for await (const t of s.textStream) text += t;
  assert.ok(text.length > 0);
  // The AI SDK asks for usage itself when streaming; it gets it.
  assert.ok((await s.usage).totalTokens > 0);
  await usages(2);
});

test("AI SDK: the default openai(model) calls /v1/responses, which answers 404 naming .chat(model)", T, async () => {
  const err = await generateText({ model: sdk("main")("org/m"), messages, maxRetries: 0 }).catch((e) => e);
  assert.ok(APICallError.isInstance(err), String(err));
  assert.equal(err.statusCode, 404);
  assert.match(err.responseBody, /openai\.chat\(model\)/);
});

// --- 1. retry signals ------------------------------------------------------------------

test("openai-node: a refused proxy token is 502 upstream_auth_failed, sent once", T, async () => {
  const err = await oa("auth401").chat.completions.create({ model: "org/m", messages }).catch((e) => e);
  assert.ok(err instanceof OpenAI.InternalServerError, String(err));
  assert.equal(err.status, 502);
  assert.equal(err.code, "upstream_auth_failed");
  assert.equal(hits("/status/401/").length, 1);
});

test("openai-node: the upstream's x-should-retry: false on a 503 means one upstream hit", T, async () => {
  const err = await oa("noretry503").chat.completions.create({ model: "org/m", messages }).catch((e) => e);
  assert.ok(err instanceof OpenAI.InternalServerError, String(err));
  assert.equal(hits("/fault/x-should-retry-false/").length, 1);
});

test("AI SDK: a refused proxy token is an APICallError with the proxy's message (the SDK retries by status alone)", T, async () => {
  const err = await generateText({ model: sdk("auth401").chat("org/m"), messages, maxRetries: 0 }).catch((e) => e);
  assert.ok(APICallError.isInstance(err), String(err));
  assert.equal(err.statusCode, 502);
  assert.match(err.message, /HF_TOKEN/);
  assert.equal(err.responseHeaders["x-should-retry"], "false");
});

test("our own InferenceClient: a refused proxy token is one request, and the 503 the upstream says not to retry too", T, async () => {
  for (const [name, prefix] of [
    ["auth401", "/status/401/"],
    ["noretry503", "/fault/x-should-retry-false/"],
  ]) {
    const client = new InferenceClient({ endpointUrl: env.proxies[name], retry: { baseDelayMs: 1 } });
    const err = await client.chatCompletion({ model: "org/m", messages }).catch((e) => e);
    assert.ok(err instanceof InferenceError, String(err));
    assert.equal(hits(prefix).length, 1, `${name}: ${err.message}`);
  }
});

// --- 5. usage of streams the client left -------------------------------------------------

test("a stream the client leaves early is still recorded, as an estimate, not complete", T, async () => {
  const stream = await oa("paced").chat.completions.create({ model: "org/m", messages, stream: true });
  let n = 0;
  for await (const ch of stream) {
    if (ch.choices[0]?.delta?.content && ++n === 3) break; // break cancels the body
  }
  const [u] = await usages(1);
  assert.equal(u.complete, false);
  assert.equal(u.estimated, true);
  assert.ok(u.usage.prompt_tokens > 0 && u.usage.completion_tokens > 0, JSON.stringify(u));
  assert.ok(env.logs.some((l) => l.usage_estimated === true && l.request_id === u.requestId));
});

// --- 2. large bodies -------------------------------------------------------------------

test("openai-node and the AI SDK get 413 for a large body", T, async () => {
  const big = [{ role: "user", content: "data:image/png;base64," + "A".repeat(300_000) }];
  const err = await oa("main", { maxRetries: 0 }).chat.completions.create({ model: "org/m", messages: big }).catch((e) => e);
  assert.ok(err instanceof OpenAI.APIError && err.status === 413, String(err));
  assert.equal(err.code, "body_too_large");
  const e2 = await generateText({ model: sdk("main").chat("org/m"), messages: big, maxRetries: 0 }).catch((e) => e);
  assert.ok(APICallError.isInstance(e2) && e2.statusCode === 413, String(e2));
  assert.equal(hits("/v1/").length, 0);
});

// --- 3. a timeout mid-stream -------------------------------------------------------------

test("openai-node: a mid-stream timeout is an APIError after the deltas, not a connection error", T, async () => {
  let got = "";
  const err = await (async () => {
    for await (const ch of await oa("stallmid").chat.completions.create({ model: "org/m", messages, stream: true })) got += ch.choices[0]?.delta?.content ?? "";
  })().catch((e) => e);
  assert.equal(got, "Hello world");
  assert.ok(err instanceof OpenAI.APIError && !(err instanceof OpenAI.APIConnectionError), String(err));
  assert.match(err.message, /idle timeout/);
  const [u] = await usages(1);
  assert.equal(u.complete, false);
  assert.equal(u.estimated, true);
});

test("AI SDK: a mid-stream timeout is an error part carrying the proxy's message", T, async () => {
  const errors = [];
  const s = streamText({ model: sdk("stallmid").chat("org/m"), messages, onError: ({ error }) => errors.push(error) });
  let text = "";
  for await (const t of s.textStream) text += t;
  assert.equal(text, "Hello world");
  assert.equal(errors.length, 1, String(errors));
  assert.match(JSON.stringify(errors[0]) + String(errors[0]?.message), /upstream_timeout|idle timeout/);
});

// --- 4. non-streamed answers, max_tokens -------------------------------------------------

test("no max_tokens is inserted; a stream is not held to the headers timeout", T, async () => {
  await oa("main").chat.completions.create({ model: "org/m", messages });
  assert.equal(JSON.parse(hits("/v1/")[0].body).max_tokens, undefined);
  // `paced` has a 300 ms headers timeout and a 40 ms pace: the stream's headers come at
  // once, so it runs to the end.
  let text = "";
  for await (const ch of await oa("paced").chat.completions.create({ model: "org/m", messages, stream: true })) text += ch.choices[0]?.delta?.content ?? "";
  assert.ok(text.length > 0);
});

// --- 6. ids ------------------------------------------------------------------------------

test("model ids reach the upstream as written (openai-node and the AI SDK)", T, async () => {
  for (const model of ["qwen2.5:7b-instruct-q4_K_M", "@cf/meta/llama-3.1-8b-instruct", "ft:gpt-4o-mini-2024-07-18:my-org::9abcDEF", "mistral-large@2407"]) {
    const r = await oa("echo").chat.completions.create({ model, messages });
    assert.equal(JSON.parse(JSON.parse(r.choices[0].message.content).body).model, model);
    const g = await generateText({ model: sdk("echo").chat(model), messages });
    assert.equal(JSON.parse(JSON.parse(g.text).body).model, model);
  }
});

// --- 7. smaller ----------------------------------------------------------------------

test("an echoing upstream never shows the token; errors keep type and estimated_time; HEAD /health", T, async () => {
  const r = await oa("echo").chat.completions.create({ model: "org/m", messages });
  assert.ok(!r.choices[0].message.content.includes(TOKEN));
  assert.match(r.choices[0].message.content, /\[redacted\]/);
  const bad = await oa("bad400").chat.completions.create({ model: "org/m", messages }).catch((e) => e);
  assert.ok(bad instanceof OpenAI.BadRequestError, String(bad));
  assert.equal(bad.type, "invalid_request_error");
  const loading = await fetch(`${env.proxies.loading503}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "org/m", messages }) });
  assert.equal(loading.status, 503);
  assert.equal((await loading.json()).estimated_time, 2);
  const head = await fetch(`${env.proxies.main}/health`, { method: "HEAD" });
  assert.equal(head.status, 200);
});
