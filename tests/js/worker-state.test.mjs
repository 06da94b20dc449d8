// Global limits on workerd (Miniflare): two separate Worker scripts bound to one
// `ProxyState` Durable Object namespace. Script "a" is the real worker/index.js (it
// defines the class); script "b" is a second Worker that imports the package, binds the
// same namespace by script name, and serves `GET /__ledger` so the test can see when a
// usage record (sent with ctx.waitUntil) has landed. Requests alternate between them: the
// rate limit and the budget hold in total; a restart of the runtime (storage persisted
// to disk) loses nothing; an object that does not answer gets 503 (fail closed).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { bundleWorker } from "../../worker/dev.mjs";
import { startFixtureServer, within } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const T = { timeout: 60_000 };
const TOKEN = "hf_workerSTATEtoken_0123456789abcdef";
const MODEL = "meta-llama/Llama-3.3-70B-Instruct";

let fx;
let tmp;
let mf;

const SECOND = `
import { createProxy } from "hf-inference-wasm/proxy";
import { optionsFromEnv } from "./index.js";
let proxy;
export default {
  async fetch(request, env, ctx) {
    proxy ??= createProxy(optionsFromEnv(env));
    const url = new URL(request.url);
    if (url.pathname === "/__ledger") {
      return Response.json(await proxy.ledger(url.searchParams.get("key") ?? undefined));
    }
    return proxy.fetch(request, env, ctx);
  },
};
`;

const HANG = `
import { createProxy } from "hf-inference-wasm/proxy";
export class Hang {
  fetch() { return new Promise(() => {}); }
}
let proxy;
export default {
  fetch(request, env, ctx) {
    proxy ??= createProxy({ token: env.HF_TOKEN, upstream: env.UPSTREAM, allowedModels: "*", log: false, durableState: env.PROXY_STATE, stateTimeoutMs: 200 });
    return proxy.fetch(request, env, ctx);
  },
};
`;

const rules = [
  { type: "CompiledWasm", include: ["**/*.wasm"] },
  { type: "ESModule", include: ["**/*.js"] },
];

async function startRuntime() {
  const { Miniflare } = await import("miniflare");
  const bindings = {
    HF_TOKEN: TOKEN,
    UPSTREAM: `${fx.url}/script/usage`,
    ALLOWED_MODELS: MODEL,
    REQUESTS_PER_MINUTE: "1",
    BURST: "6",
    TOKENS_PER_DAY: "60",
    STATE_TIMEOUT_MS: "5000",
  };
  const m = new Miniflare({
    durableObjectsPersist: path.join(tmp, "do"),
    workers: [
      {
        name: "a",
        modules: true,
        modulesRoot: path.join(tmp, "a"),
        scriptPath: path.join(tmp, "a", "index.js"),
        modulesRules: rules,
        compatibilityDate: "2025-01-01",
        bindings,
        durableObjects: { PROXY_STATE: "ProxyState" },
      },
      {
        name: "b",
        modules: true,
        modulesRoot: path.join(tmp, "b"),
        scriptPath: path.join(tmp, "b", "second.js"),
        modulesRules: rules,
        compatibilityDate: "2025-01-01",
        bindings,
        durableObjects: { PROXY_STATE: { className: "ProxyState", scriptName: "a" } },
      },
      {
        name: "hang",
        modules: true,
        modulesRoot: path.join(tmp, "hang"),
        scriptPath: path.join(tmp, "hang", "hang.js"),
        modulesRules: rules,
        compatibilityDate: "2025-01-01",
        bindings: { HF_TOKEN: TOKEN, UPSTREAM: fx.url },
        durableObjects: { PROXY_STATE: "Hang" },
      },
    ],
  });
  await within(m.ready, 30_000, "miniflare ready");
  return m;
}

before(async () => {
  fx = await startFixtureServer({ port: 0 });
  tmp = await mkdtemp(path.join(os.tmpdir(), "hf-proxy-state-"));
  await bundleWorker(path.join(ROOT, "worker", "index.js"), path.join(tmp, "a"));
  // The second script imports worker/index.js's option reader, as another Worker of the
  // same operator would share its config code.
  await writeFile(path.join(ROOT, "worker", ".second.test.js"), SECOND);
  await writeFile(path.join(ROOT, "worker", ".hang.test.js"), HANG);
  try {
    await bundleWorker(path.join(ROOT, "worker", ".second.test.js"), path.join(tmp, "b"));
    await bundleWorker(path.join(ROOT, "worker", ".hang.test.js"), path.join(tmp, "hang"));
  } finally {
    await rm(path.join(ROOT, "worker", ".second.test.js"), { force: true });
    await rm(path.join(ROOT, "worker", ".hang.test.js"), { force: true });
  }
  const { rename } = await import("node:fs/promises");
  await rename(path.join(tmp, "b", ".second.test.js"), path.join(tmp, "b", "second.js"));
  await rename(path.join(tmp, "hang", ".hang.test.js"), path.join(tmp, "hang", "hang.js"));
  mf = await startRuntime();
}, { timeout: 90_000 });

after(async () => {
  await mf?.dispose();
  await fx?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const CLIENT = { "cf-connecting-ip": "198.51.100.7" };

async function send(worker, pathName, init = {}) {
  const w = await mf.getWorker(worker);
  const res = await within(w.fetch(`http://proxy.test${pathName}`, { ...init, headers: { ...CLIENT, ...init.headers } }), 20_000, `${worker} ${pathName}`);
  const text = await within(res.text(), 20_000, "body");
  return { status: res.status, text, headers: res.headers };
}

const chat = (worker) =>
  send(worker, "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hi" }], stream: true }),
  });

async function ledgerRequests(n) {
  for (let i = 0; i < 300; i++) {
    const l = JSON.parse((await send("b", "/__ledger")).text);
    if (l.requests >= n) return l;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the ledger never reached ${n} requests`);
}

describe("ProxyState on workerd: two scripts, one namespace", () => {
  test("a 6-request bucket lets exactly 6 of 12 alternating requests through", T, async () => {
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await send(i % 2 ? "b" : "a", "/v1/models")).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
  });

  test("the proxy-wide budget stops spending across both scripts", T, async () => {
    // Another client key: its own (full) bucket; the budget is proxy-wide, 22 tokens a call.
    CLIENT["cf-connecting-ip"] = "198.51.100.8";
    const first = await chat("a");
    assert.equal(first.status, 200, first.text);
    assert.match(first.text, /\[DONE\]/);
    await ledgerRequests(1);
    assert.equal((await chat("b")).status, 200);
    await ledgerRequests(2);
    assert.equal((await chat("a")).status, 200, "44 of 60 spent");
    const l = await ledgerRequests(3);
    assert.equal(l.tokens, 66);
    const spent = await chat("b");
    assert.equal(spent.status, 429);
    const body = JSON.parse(spent.text);
    assert.equal(body.error.code, "budget_exhausted");
    assert.match(body.error.message, /this proxy's daily budget of 60 tokens is spent; it resets at 00:00 UTC/);
    assert.equal((await chat("a")).status, 429);
  });

  test("a restart of the runtime loses nothing (the objects' storage persists)", T, async () => {
    await mf.dispose();
    mf = await startRuntime();
    const l = JSON.parse((await send("b", "/__ledger")).text);
    assert.equal(l.tokens, 66);
    assert.equal((await chat("b")).status, 429, "the budget is still spent");
    CLIENT["cf-connecting-ip"] = "198.51.100.7";
    assert.equal((await send("a", "/v1/models")).status, 429, "the first client's bucket is still empty");
  });

  test("an object that does not answer: 503 proxy_state_unavailable, nothing forwarded", T, async () => {
    const before = fx.requests.length;
    const r = await send("hang", "/v1/models");
    assert.equal(r.status, 503);
    const body = JSON.parse(r.text);
    assert.equal(body.error.code, "proxy_state_unavailable");
    assert.match(body.error.message, /did not answer within 200 ms/);
    assert.equal(fx.requests.length, before);
  });
});
