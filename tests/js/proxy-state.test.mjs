// The proxy's state in Node: spend budgets in memory (per client, proxy-wide, in dollars),
// the ledger, the options' checks, and the Durable-Object store driven through a Node
// stand-in for a namespace that hosts the real `ProxyState` class (two proxies sharing
// it share one limit), plus fail-closed when the objects fail or do not answer in time.
// The real thing in workerd is tests/js/worker-state.test.mjs.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import { createProxy, ProxyState, InferenceError } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";
import { startFixtureServer, within } from "./helpers.mjs";

const T = { timeout: 20_000 };
const TOKEN = "hf_stateSECRETtoken_0123456789abcdef";
const MODEL = "org/model";
const messages = [{ role: "user", content: "Hi" }];

let fx;
const servers = [];

before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  for (const s of servers) s.closeAllConnections?.(), s.close();
  await fx?.close();
});

/** A proxy to the fixture's scripted stream that reports 22 tokens of usage; the client
 *  key comes from `x-client`. */
async function start(options = {}) {
  const proxy = createProxy({
    upstream: `${fx.url}/script/usage`,
    token: TOKEN,
    allowedModels: "*",
    rateLimit: false,
    log: false,
    clientKey: (request) => request.headers.get("x-client") ?? "anon",
    ...options,
  });
  const server = await serveNode(proxy, { port: 0 });
  servers.push(server);
  return { proxy, url: `http://127.0.0.1:${server.address().port}` };
}

async function chat(url, client = "a", model = MODEL) {
  const res = await within(
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-client": client },
      body: JSON.stringify({ model, messages, stream: true }),
    }),
    10_000,
    "chat",
  );
  const text = await within(res.text(), 10_000, "body");
  return { status: res.status, headers: res.headers, text, json: res.status === 200 ? null : JSON.parse(text) };
}

describe("budgets in memory", () => {
  test("a client's token budget stops that client, names the budget and its reset", T, async () => {
    const { proxy, url } = await start({ budget: { perClient: { tokensPerDay: 50 } } });
    for (let i = 0; i < 3; i++) {
      const r = await chat(url, "a");
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, /\[DONE\]/);
    }
    const spent = await chat(url, "a");
    assert.equal(spent.status, 429);
    assert.equal(spent.json.error.code, "budget_exhausted");
    assert.equal(spent.json.error.type, "insufficient_quota");
    assert.match(spent.json.error.message, /this client's daily budget of 50 tokens is spent; it resets at 00:00 UTC, in \d+ s/);
    const retry = Number(spent.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 86_400, `retry-after ${retry}`);
    assert.equal((await chat(url, "b")).status, 200, "another client still may");
    const a = await proxy.ledger("a");
    assert.equal(a.requests, 3);
    assert.equal(a.tokens, 66);
    assert.equal(a.promptTokens, 36);
    assert.equal(a.windowStartMs % 86_400_000, 0);
    const all = await proxy.ledger();
    assert.equal(all.requests, 4);
    assert.equal(all.tokens, 88);
  });

  test("the proxy-wide budget adds up every client", T, async () => {
    const { url } = await start({ budget: { tokensPerDay: 40 } });
    assert.equal((await chat(url, "a")).status, 200);
    assert.equal((await chat(url, "b")).status, 200);
    const r = await chat(url, "c");
    assert.equal(r.status, 429);
    assert.match(r.json.error.message, /this proxy's daily budget of 40 tokens/);
  });

  test("a dollar budget prices each call and refuses models it cannot price", T, async () => {
    // 12 prompt + 10 completion tokens at $1000 / $2000 per million: $0.032 a call.
    const prices = { [MODEL]: { input: 1000, output: 2000 } };
    const { proxy, url } = await start({ budget: { usdPerDay: 0.05 }, prices });
    assert.equal((await chat(url)).status, 200);
    assert.ok(Math.abs((await proxy.ledger()).usd - 0.032) < 1e-9);
    assert.equal((await chat(url)).status, 200);
    const r = await chat(url);
    assert.equal(r.status, 429);
    assert.match(r.json.error.message, /budget of \$0\.05 is spent/);
    const unpriced = await chat(url, "z", "org/unpriced");
    assert.equal(unpriced.status, 403);
    assert.match(unpriced.json.error.message, /no price for "org\/unpriced"/);
  });

  test("bad budget options throw an input error", () => {
    const bad = (o, re) =>
      assert.throws(
        () => createProxy({ token: TOKEN, ...o }),
        (e) => e instanceof InferenceError && e.kind === "input" && re.test(e.message),
      );
    bad({ budget: { usdPerDay: 5 } }, /needs `prices`/);
    bad({ budget: { tokenPerDay: 5 } }, /tokenPerDay/);
    bad({ budget: { perClient: { tokensPerDay: -1 } } }, /tokensPerDay/);
    bad({ budget: 5 }, /`budget` must be an object/);
    bad({ prices: { [MODEL]: { input: 1 } } }, /output/);
    assert.throws(() => createProxy({ token: TOKEN, durableState: {} }), TypeError);
  });
});

// ---------------------------------------------------------------------------------------
// The Durable-Object store, with a Node stand-in for the namespace
// ---------------------------------------------------------------------------------------

/** A namespace that runs the real ProxyState class: one instance per name, storage in a
 *  Map that outlives the instances (so `restart()` drops every instance and keeps data). */
function fakeNamespace() {
  const storage = new Map();
  let objects = new Map();
  const calls = [];
  const ns = {
    calls,
    restart() {
      objects = new Map();
    },
    idFromName: (name) => ({ name }),
    get({ name }) {
      return {
        async fetch(url, init) {
          calls.push(name);
          let obj = objects.get(name);
          if (!obj) {
            let ready;
            const data = storage.get(name) ?? new Map();
            storage.set(name, data);
            const state = {
              storage: { get: async (k) => data.get(k), put: async (k, v) => void data.set(k, v) },
              blockConcurrencyWhile: (fn) => (ready = fn()),
            };
            obj = new ProxyState(state, {});
            obj.ready = ready;
            objects.set(name, obj);
          }
          await obj.ready;
          return obj.fetch(new Request(url, init));
        },
      };
    },
  };
  return ns;
}

const models = (url, client = "a") => within(fetch(`${url}/v1/models`, { headers: { "x-client": client } }), 10_000, "models");

describe("the Durable-Object store", () => {
  test("two proxies on one namespace share one rate limit, and a restart keeps it", T, async () => {
    const ns = fakeNamespace();
    const opts = { durableState: ns, rateLimit: { requestsPerMinute: 1, burst: 6 } };
    const one = await start(opts);
    const two = await start(opts);
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      const res = await models(i % 2 ? two.url : one.url);
      await res.text();
      statuses.push(res.status);
    }
    assert.equal(statuses.filter((s) => s === 200).length, 6, statuses.join(","));
    assert.deepEqual(statuses.slice(0, 6), [200, 200, 200, 200, 200, 200]);
    assert.ok(ns.calls.every((n) => n === "client:a"), ns.calls.join(","));
    ns.restart();
    const after = await models(one.url);
    await after.text();
    assert.equal(after.status, 429, "the bucket survived the objects' restart");
    const other = await models(two.url, "b");
    await other.text();
    assert.equal(other.status, 200);
  });

  test("budgets and the ledger are shared, per client and proxy-wide", T, async () => {
    const ns = fakeNamespace();
    const opts = { durableState: ns, budget: { tokensPerDay: 60, perClient: { tokensPerDay: 30 } } };
    const one = await start(opts);
    const two = await start(opts);
    assert.equal((await chat(one.url, "a")).status, 200);
    // The record goes out after the stream (waitUntil, or unawaited in Node): wait for it.
    const settled = async (n) => {
      for (let i = 0; i < 200 && (await one.proxy.ledger()).requests < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await settled(1);
    assert.equal((await chat(two.url, "a")).status, 200, "22 of 30");
    await settled(2);
    const r = await chat(two.url, "a");
    assert.equal(r.status, 429);
    assert.match(r.json.error.message, /this client's daily budget of 30 tokens/);
    assert.equal((await chat(one.url, "b")).status, 200);
    await settled(3);
    const p = await chat(one.url, "c");
    assert.equal(p.status, 429, "66 of 60 proxy-wide");
    assert.match(p.json.error.message, /this proxy's daily budget of 60 tokens/);
    assert.deepEqual(
      { requests: (await two.proxy.ledger("a")).requests, tokens: (await two.proxy.ledger()).tokens },
      { requests: 2, tokens: 66 },
    );
  });

  test("fails closed: an object that does not answer in time or fails gives 503", T, async () => {
    const hang = { idFromName: (n) => n, get: () => ({ fetch: () => new Promise(() => {}) }) };
    const { url } = await start({ durableState: hang, stateTimeoutMs: 150, rateLimit: { requestsPerMinute: 60 } });
    const t0 = Date.now();
    const res = await models(url);
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.error.code, "proxy_state_unavailable");
    assert.match(body.error.message, /did not answer within 150 ms/);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.ok(Date.now() - t0 < 5_000);

    const broken = { idFromName: (n) => n, get: () => ({ fetch: async () => new Response("boom", { status: 500 }) }) };
    const b = await start({ durableState: broken, rateLimit: false, budget: { tokensPerDay: 10 } });
    const r = await chat(b.url);
    assert.equal(r.status, 503, "the budget could not be checked: nothing is forwarded");
    assert.match(r.json.error.message, /answered 500: boom/);
    // Routes that need no state still work.
    const health = await within(fetch(`${b.url}/health`), 5_000, "health");
    assert.equal(health.status, 200);
    await health.text();
  });
});
