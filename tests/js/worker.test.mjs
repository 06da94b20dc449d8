// The proxy's Workers entry (worker/index.js) in the real Workers runtime: bundled as
// wrangler does (esbuild, the `workerd` condition, the .wasm as a CompiledWasm module) and
// run in workerd through Miniflare, configured only from `env` as a deployed Worker is,
// forwarding to the loopback fixture server. Stream and non-stream, policy from env vars,
// the token from a secret binding that never reaches the client.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { bundleWorker } from "../../worker/dev.mjs";
import { startFixtureServer, within, referenceChat } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const T = { timeout: 30_000 };
const TOKEN = "hf_workerSECRETtoken_0123456789abcdef";
const MODEL = "meta-llama/Llama-3.3-70B-Instruct";
const messages = [{ role: "user", content: "Hello from workerd" }];

let fx;
let mf;
let tmp;

before(async () => {
  fx = await startFixtureServer({ port: 0 });
  tmp = await mkdtemp(path.join(os.tmpdir(), "hf-proxy-worker-"));
  await bundleWorker(path.join(ROOT, "worker", "index.js"), tmp);
  const { Miniflare } = await import("miniflare");
  mf = new Miniflare({
    cf: false,
    modules: true,
    modulesRoot: tmp,
    scriptPath: path.join(tmp, "index.js"),
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "ESModule", include: ["**/*.js"] },
    ],
    compatibilityDate: "2025-01-01",
    bindings: {
      HF_TOKEN: TOKEN,
      UPSTREAM: fx.url,
      ALLOWED_MODELS: `${MODEL},fixture/chat-simulator`,
      MAX_TOKENS_CAP: "256",
      REQUESTS_PER_MINUTE: "600",
      BURST: "50",
    },
  });
  await within(mf.ready, 30_000, "miniflare ready");
}, { timeout: 60_000 });

after(async () => {
  await mf?.dispose();
  await fx?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const post = (body) =>
  within(
    mf.dispatchFetch("http://proxy.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    20_000,
    "dispatchFetch",
  );

describe("the proxy Worker in workerd", () => {
  test("non-stream: forwarded with the secret token, max_tokens capped from env", T, async () => {
    fx.reset();
    const res = await post({ model: MODEL, messages, max_tokens: 9999 });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(JSON.parse(text).object, "chat.completion");
    assert.ok(!text.includes(TOKEN));
    const up = fx.requests.find((r) => r.path === "/v1/chat/completions");
    assert.equal(up.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(JSON.parse(up.body).max_tokens, 256);
  });

  test("stream: SSE passes through to [DONE] and decodes to the simulator's reply", T, async () => {
    const res = await post({ model: MODEL, messages, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const body = await within(res.text(), 20_000, "stream body");
    const ref = referenceChat(body);
    assert.equal(ref.error, undefined);
    assert.match(ref.text, /Hello from workerd/);
    assert.match(body, /data: \[DONE\]/);
    for (const [, v] of res.headers) assert.ok(!v.includes(TOKEN));
  });

  test("policy from env: a model not in ALLOWED_MODELS is 403; unknown routes 404", T, async () => {
    const res = await post({ model: "other/model", messages });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "model_not_allowed");
    const nf = await within(mf.dispatchFetch("http://proxy.test/admin"), 20_000, "404");
    assert.equal(nf.status, 404);
    await nf.text();
  });

  test("GET /v1/models lists the allow-list", T, async () => {
    const res = await within(mf.dispatchFetch("http://proxy.test/v1/models"), 20_000, "models");
    const list = await res.json();
    assert.deepEqual(list.data.map((m) => m.id).sort(), ["fixture/chat-simulator", MODEL].sort());
  });
});
