// `make demo` as a person starts it (scripts/demo-server.mjs run as a process): what it says
// at start about a bad HF_TOKEN, a busy port, the origins it lets embed the chat; that
// `make demo*` skips rebuilding an unchanged package; and the offline simulator's variety.
// Only loopback servers these tests start; every wait is bounded.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile, utimes, copyFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createProxy } from "hf-inference-wasm/proxy";
import { startFixtureServer } from "../fixture-server/server.mjs";
import { demoReply, DEMO_MODELS } from "../fixture-server/demo-simulator.mjs";
import { liveOptionsFromEnv, startDemoServer } from "../../scripts/demo-server.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const T = { timeout: 30_000 };

/** Run the demo server with `env` until it printed `until` (or exited); then stop it. */
function runDemo(env, { until = /demo page:/, timeout = 20_000, args = ["--port", "0"] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "scripts", "demo-server.mjs"), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let done = false;
    const finish = (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGTERM");
      resolve({ stdout, stderr, code });
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the demo server printed nothing matching ${until} within ${timeout} ms:\n${stdout}\n${stderr}`));
    }, timeout);
    child.stdout.on("data", (d) => {
      stdout += d;
      if (until.test(stdout)) finish(null);
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => finish(code));
  });
}

/** A loopback stand-in for the Hub's whoami-v2: `status` and `body`. */
async function fakeHub(status, body) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url, authorization: req.headers.authorization });
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

describe("make demo at start", () => {
  test("a refused HF_TOKEN is said plainly at start (one whoami check, before the URL)", T, async () => {
    const hub = await fakeHub(401, { error: "Invalid credentials in Authorization header" });
    try {
      const { stdout } = await runDemo({ HF_TOKEN: "hf_bad_token_for_the_test_0123456789", HF_HUB_URL: hub.url, HF_ROUTER_URL: hub.url });
      assert.match(stdout, /TOKEN REFUSED: .* answered HTTP 401 to HF_TOKEN: it is wrong, expired or revoked\./);
      assert.ok(stdout.indexOf("TOKEN REFUSED") < stdout.indexOf("demo page:"), "said before the page's URL");
      assert.deepEqual(hub.seen, [{ path: "/api/whoami-v2", authorization: "Bearer hf_bad_token_for_the_test_0123456789" }], "one check");
      assert.ok(!stdout.includes("hf_bad_token_for_the_test"), "the token is never printed");
    } finally {
      await hub.close();
    }
  });

  test("a good token says OK with the account name; an unreachable Hub does not stop the demo", T, async () => {
    const hub = await fakeHub(200, { name: "alice", type: "user" });
    try {
      const ok = await runDemo({ HF_TOKEN: "hf_good_token_for_the_test_0123456789", HF_HUB_URL: hub.url, HF_ROUTER_URL: hub.url });
      assert.match(ok.stdout, /^token: OK \(alice\)\.$/m);
      assert.doesNotMatch(ok.stdout, /REFUSED/);
    } finally {
      await hub.close();
    }
    const gone = await runDemo({ HF_TOKEN: "hf_good_token_for_the_test_0123456789", HF_HUB_URL: "http://127.0.0.1:1", HF_ROUTER_URL: "http://127.0.0.1:1" });
    assert.match(gone.stdout, /^token: could not be checked \(.+\); starting anyway\.$/m);
    assert.match(gone.stdout, /demo page:/);
  });

  test("a busy port: one line saying so and how to pick another, exit 1, no stack trace", T, async () => {
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
    const port = blocker.address().port;
    try {
      const { stdout, stderr, code } = await runDemo({ PORT: String(port) }, { args: [], until: /never/ });
      assert.equal(code, 1);
      assert.equal(stderr.trim(), `demo: port ${port} is in use; set PORT= to another port (e.g. PORT=8081 make demo).`);
      assert.doesNotMatch(stdout + stderr, /^\s+at /m);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  test("offline it allows any origin; live only DEMO_ALLOWED_ORIGINS, printed at start", T, async () => {
    const fx = await startFixtureServer({ port: 0 });
    try {
      const live = liveOptionsFromEnv({ HF_TOKEN: "hf_x_0123456789abcdef", HF_ROUTER_URL: fx.url, DEMO_MODELS: "fixture/chat-simulator", DEMO_ALLOWED_ORIGINS: "https://shop.example, http://127.0.0.1:9000" });
      assert.match(live.lines.join("\n"), /embedding: pages on https:\/\/shop\.example, http:\/\/127\.0\.0\.1:9000 may use this proxy \(DEMO_ALLOWED_ORIGINS\)\./);
      assert.match(liveOptionsFromEnv({ HF_TOKEN: "hf_x_0123456789abcdef" }).lines.join("\n"), /only pages of this server may use the proxy; set DEMO_ALLOWED_ORIGINS=/);
      const { lines, ...options } = live;
      const liveWeb = await startDemoServer({ ...options, proxyOptions: { ...options.proxyOptions, log: false } });
      const offWeb = await startDemoServer({ upstream: fx.url, token: "hf_x_0123456789abcdef", offline: true, proxyOptions: { allowedModels: "*", log: false } });
      try {
        const models = (base, origin) => fetch(`${base}/v1/models`, { headers: { origin } });
        const allowed = await models(liveWeb.url, "https://shop.example");
        assert.equal(allowed.status, 200);
        assert.equal(allowed.headers.get("access-control-allow-origin"), "https://shop.example");
        const refused = await models(liveWeb.url, "https://other.example");
        assert.equal(refused.status, 403);
        assert.equal((await refused.json()).error.code, "origin_not_allowed");
        const anyOrigin = await models(offWeb.url, "https://other.example");
        assert.equal(anyOrigin.status, 200, "offline: no token to protect");
        // The page's files may be loaded from any page (the embed snippet does).
        const js = await fetch(`${offWeb.url}/www/hf-chat.js`, { headers: { origin: "https://other.example" } });
        assert.equal(js.status, 200);
        assert.equal(js.headers.get("access-control-allow-origin"), "*");
        const md = await fetch(`${offWeb.url}/vendor/markdown-it/markdown-it.esm.min.mjs`);
        assert.equal(md.status, 200);
        assert.match(md.headers.get("content-type"), /^text\/javascript/);
      } finally {
        await liveWeb.close();
        await offWeb.close();
      }
    } finally {
      await fx.close();
    }
  });
});

describe("make demo* rebuilds the package only when its sources changed", () => {
  // The Makefile's own rule, in a scratch tree whose file dates the test sets.
  test("`make -q pkg-fresh`: up to date after a build, out of date when a source is newer", T, async (t) => {
    const make = spawnSync("make", ["--version"]);
    if (make.status !== 0) return t.skip("make is not installed");
    const dir = await mkdtemp(path.join(os.tmpdir(), "hf-make-"));
    try {
      await copyFile(path.join(ROOT, "Makefile"), path.join(dir, "Makefile"));
      for (const d of ["src", "js", "scripts", "pkg"]) await mkdir(path.join(dir, d));
      const files = ["src/lib.rs", "js/api.js", "Cargo.toml", "Cargo.lock", "scripts/build-pkg.sh"];
      for (const f of files) await writeFile(path.join(dir, f), "x");
      await writeFile(path.join(dir, "pkg/package.json"), "{}");
      const at = (f, s) => utimes(path.join(dir, f), s, s);
      for (const f of files) await at(f, 1_000_000);
      await at("pkg/package.json", 2_000_000);
      const q = () => spawnSync("make", ["-q", "pkg-fresh"], { cwd: dir }).status;
      assert.equal(q(), 0, "nothing changed since the build: no rebuild");
      await at("js/api.js", 3_000_000);
      assert.equal(q(), 1, "a changed source: rebuild");
      await at("js/api.js", 1_000_000);
      await at("Cargo.lock", 3_000_000);
      assert.equal(q(), 1, "a changed lockfile: rebuild");
      // demo, demo-worker, demo-cli and demo-usage go through pkg-fresh, not pkg.
      const plan = spawnSync("make", ["-n", "demo"], { cwd: dir, encoding: "utf8" }).stdout;
      assert.match(plan, /build-pkg\.sh/);
      await at("Cargo.lock", 1_000_000);
      const plan2 = spawnSync("make", ["-n", "demo"], { cwd: dir, encoding: "utf8" }).stdout;
      assert.doesNotMatch(plan2, /build-pkg\.sh/, plan2);
      assert.match(plan2, /node scripts\/demo-server\.mjs/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the offline simulator", () => {
  const ask = (fx, base, model, content) =>
    fetch(`${fx.url}${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
    }).then((r) => r.json().then((b) => b.choices[0].message.content));

  test("varied by default, fixed by a seed, different per model, on topic, costs from made-up prices", T, async () => {
    const fx = await startFixtureServer({ port: 0 });
    try {
      const q = "Why compile a chat client to WebAssembly?";
      const varied = new Set();
      for (let i = 0; i < 8; i++) varied.add(await ask(fx, "/demo/varied", "simulator/careful-70b", q));
      assert.ok(varied.size >= 2, `the demo's replies vary: ${varied.size} distinct of 8`);
      const seeded = new Set();
      for (let i = 0; i < 3; i++) seeded.add(await ask(fx, "/demo/7", "simulator/careful-70b", q));
      assert.deepEqual([...seeded], [demoReply({ model: "simulator/careful-70b", messages: [{ role: "user", content: q }], seed: 7 })], "a seed fixes the reply");
      const perModel = await Promise.all(DEMO_MODELS.map((m) => ask(fx, "/demo/7", m.id, q)));
      assert.equal(new Set(perModel).size, 3, "each simulated model writes its own reply");
      for (const r of perModel) assert.match(r, /WebAssembly/, "on topic");
      const rust = await ask(fx, "/demo/7", "simulator/quick-8b", "Show me code that reverses a string in Rust");
      assert.match(rust, /```rust\nfn reverse\(s: &str\) -> String \{/);
      const py = await ask(fx, "/demo/7", "simulator/quick-8b", "How do I reverse a string in Python?");
      assert.match(py, /```python\ndef reverse/);
      const models = await fetch(`${fx.url}/demo/varied/v1/models`).then((r) => r.json());
      assert.deepEqual(models.data.map((m) => m.id), DEMO_MODELS.map((m) => m.id));
      // Without /demo the deterministic echo the other test layers rely on is unchanged.
      assert.match(await ask(fx, "", "fixture/chat-simulator", "hi"), /^You asked: "hi"\. This is a \*\*deterministic\*\* reply/);
    } finally {
      await fx.close();
    }
  });

  test("the client reports a simulated model's usage and the provider it names", T, async () => {
    const fx = await startFixtureServer({ port: 0 });
    const proxy = createProxy({ upstream: `${fx.url}/demo/3`, token: "hf_x_0123456789abcdef", allowedModels: "*", log: false });
    try {
      const res = await proxy.fetch(
        new Request("http://demo.local/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "simulator/chatty-mini", messages: [{ role: "user", content: "hello" }] }) }),
        {},
        {},
      );
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-inference-provider"), "simulator");
      const body = await res.json();
      assert.equal(body.choices[0].message.content, demoReply({ model: "simulator/chatty-mini", messages: [{ role: "user", content: "hello" }], seed: 3 }));
      assert.ok(body.usage.completion_tokens > 10);
    } finally {
      await fx.close();
    }
  });
});
