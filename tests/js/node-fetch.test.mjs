// The proxy's upstream `fetch` on Node (js/node-fetch.mjs, `upstreamFetch`): against a
// loopback server it starts, what Node's global fetch would answer for the calls the proxy
// makes (status, headers, the body streamed as it comes, redirects not followed, aborts,
// failures), and that `createProxy` uses it by default on Node and the operator's `fetch`
// when one is given.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import zlib from "node:zlib";

import { upstreamFetch } from "../../js/node-fetch.mjs";
import { createProxy } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";
import { within, waitFor } from "./helpers.mjs";

const T = { timeout: 15_000 };
let server;
let base;
/** The requests the server saw: { method, url, headers, body }. */
const seen = [];
/** Sockets closed by the client before the server finished a response, by path. */
const cut = new Set();

before(async () => {
  server = http.createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    res.on("close", () => {
      if (!res.writableFinished) cut.add(req.url);
    });
    const path = req.url.split("?")[0];
    if (path === "/json") {
      res.writeHead(201, { "content-type": "application/json", "x-upstream": "yes", "set-cookie": ["a=1", "b=2"] });
      return res.end(JSON.stringify({ echo: body }));
    }
    if (path === "/redirect") {
      res.writeHead(302, { location: "/json" });
      return res.end("moved");
    }
    if (path === "/empty") {
      res.writeHead(204);
      return res.end();
    }
    if (path === "/gzip") {
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
      return res.end(zlib.gzipSync("decoded text"));
    }
    if (path === "/slow" || path === "/drop") {
      // One piece now, the next only when the test says so (or a cut connection).
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      if (path === "/drop") return setTimeout(() => res.destroy(), 50);
      const timer = setTimeout(() => res.end("data: last\n\n"), 5_000);
      res.on("close", () => clearTimeout(timer));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const text = async (res) => new TextDecoder().decode(await res.arrayBuffer());

describe("upstreamFetch", () => {
  test("a POST with a string body: status, headers and body as Node's fetch gives them", T, async () => {
    const res = await upstreamFetch(`${base}/json`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer t" }, body: '{"a":"é"}', redirect: "manual" });
    assert.ok(res instanceof Response);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-upstream"), "yes");
    assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
    assert.deepEqual(JSON.parse(await text(res)), { echo: '{"a":"é"}' });
    const req = seen.at(-1);
    assert.equal(req.method, "POST");
    assert.equal(req.headers["content-length"], String(Buffer.byteLength('{"a":"é"}')), "a string body is sent with its length, not chunked");
    assert.equal(req.headers.authorization, "Bearer t");
    assert.equal(req.headers.accept, "*/*");
    assert.equal(req.headers["user-agent"], "node");
    assert.equal(req.headers["accept-encoding"], undefined, "no compression asked for");
    // The caller's own accept is kept.
    await (await upstreamFetch(`${base}/json`, { headers: { accept: "text/event-stream" } })).arrayBuffer();
    assert.equal(seen.at(-1).headers.accept, "text/event-stream");
  });

  test("a redirect is answered as it is, never followed; 204 has no body; gzip is decoded", T, async () => {
    const before = seen.length;
    const r = await upstreamFetch(`${base}/redirect`, { redirect: "manual" });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "/json");
    assert.equal(await text(r), "moved");
    assert.equal(seen.length, before + 1, "the location was not fetched");
    const e = await upstreamFetch(`${base}/empty`);
    assert.equal(e.status, 204);
    assert.equal(e.body, null);
    const g = await upstreamFetch(`${base}/gzip`);
    assert.equal(await text(g), "decoded text");
  });

  test("the body streams: the first bytes arrive before the upstream finishes", T, async () => {
    const res = await upstreamFetch(`${base}/slow`);
    const reader = res.body.getReader();
    const first = await within(reader.read(), 2_000, "the first piece");
    assert.equal(new TextDecoder().decode(first.value), "data: first\n\n");
    await reader.cancel();
    await waitFor(() => cut.has("/slow"), { message: "cancelling the body closes the upstream connection" });
  });

  test("an abort before the answer rejects with the signal's reason; mid-body it errors the body", T, async () => {
    const early = new AbortController();
    early.abort();
    await assert.rejects(upstreamFetch(`${base}/json`, { signal: early.signal }), { name: "AbortError" });
    cut.delete("/slow?mid");
    const ac = new AbortController();
    const res = await upstreamFetch(`${base}/slow?mid`, { signal: ac.signal });
    const reader = res.body.getReader();
    await reader.read();
    const pending = reader.read();
    ac.abort();
    await assert.rejects(within(pending, 2_000, "the read after the abort"), { name: "AbortError" });
    await waitFor(() => cut.has("/slow?mid"), { message: "the abort closes the upstream connection" });
  });

  test("failures: refused → TypeError('fetch failed') with the socket's code; a cut body → TypeError('terminated')", T, async () => {
    const closed = http.createServer();
    await new Promise((r) => closed.listen(0, "127.0.0.1", r));
    const port = closed.address().port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(upstreamFetch(`http://127.0.0.1:${port}/`), (e) => e instanceof TypeError && e.message === "fetch failed" && e.cause?.code === "ECONNREFUSED");
    const res = await upstreamFetch(`${base}/drop`);
    await assert.rejects(within(text(res), 3_000, "reading a dropped body"), (e) => e instanceof TypeError && e.message === "terminated");
  });

  test("anything but the proxy's own calls goes to the global fetch", T, async () => {
    const real = globalThis.fetch;
    const calls = [];
    globalThis.fetch = (input, init) => (calls.push(input), real(input, init));
    try {
      await (await upstreamFetch(new Request(`${base}/json`))).arrayBuffer();
      await (await upstreamFetch(`${base}/json`, { method: "POST", body: new Uint8Array([1]) })).arrayBuffer();
      await (await upstreamFetch(`${base}/json`, { headers: new Headers({ a: "b" }) })).arrayBuffer();
    } finally {
      globalThis.fetch = real;
    }
    assert.equal(calls.length, 3);
  });
});

describe("createProxy on Node", () => {
  const options = (extra) => ({ upstream: base, token: "hf_nodefetchSECRETtoken_0123456789", allowedModels: "*", rateLimit: false, log: false, ...extra });
  const chat = async (proxy) => {
    const s = await serveNode(proxy, { port: 0 });
    try {
      const res = await fetch(`http://127.0.0.1:${s.address().port}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
      });
      await res.arrayBuffer();
      return res.status;
    } finally {
      s.closeAllConnections();
      s.close();
    }
  };

  test("reaches the upstream with upstreamFetch by default, and with the operator's fetch when given", T, async () => {
    const real = globalThis.fetch;
    let globalCalls = 0;
    globalThis.fetch = (input, init) => {
      if (String(input.url ?? input).startsWith(base)) globalCalls++;
      return real(input, init);
    };
    try {
      // The upstream answers 404 for /v1/chat/completions: the proxy maps it; what matters
      // here is which fetch reached it.
      const before = seen.length;
      await chat(createProxy(options()));
      assert.equal(seen.length, before + 1, "the upstream got the call");
      assert.equal(globalCalls, 0, "not through the global fetch");
      const mine = [];
      await chat(createProxy(options({ fetch: (u, i) => (mine.push(u), real(u, i)) })));
      assert.equal(mine.length, 1, "the operator's fetch was used");
      assert.equal(seen.length, before + 2);
    } finally {
      globalThis.fetch = real;
    }
  });
});
