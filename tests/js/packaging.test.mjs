// Packaging tests: the built package (pkg/) imported with no init call wherever users
// import it, each through the entry its package.json `exports` picks:
//   browser <script type="module">  → pkg/browser.js (import map, and a relative path)
//   a bundler (esbuild, browser)    → pkg/browser.js, bundled, in Chromium and Firefox
//   Cloudflare Workers (workerd)    → pkg/workerd.js, bundled, in workerd via Miniflare
//   TypeScript                      → pkg/index.d.ts, `tsc --noEmit --strict`
// (Node's entry, pkg/node.mjs, is what tests/js/client.test.mjs imports.)
//
// Run: node --test tests/js/packaging.test.mjs   (after `bash scripts/build-pkg.sh`).
// Everything talks to servers started here on 127.0.0.1; every wait is bounded; a layer
// whose tool cannot run here (no Chromium, no Firefox) skips with the reason printed.

import { test, test as nodeTest, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, rm, readFile, readdir } from "node:fs/promises";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startFixtureServer, scripts, simulate, simulatorReply, referenceChat, within, FAULT_PARTIAL_TEXT } from "./helpers.mjs";
import { startStaticServer } from "../packaging/static-server.mjs";
import { ENGINES, launchEngine } from "./engines.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = path.join(ROOT, "pkg");
const PACKAGING = path.join(ROOT, "tests", "packaging");
const WASM_NAME = "hf_inference_wasm_bg.wasm";
const INLINE_NAME = "hf_inference_wasm_bg.inline.js";
const EMOJI = scripts.emoji.expected.text;
const EMOJI_PATH = "/split/1/script/emoji";
const T = { timeout: 30_000 };
const HOOK = { timeout: 40_000 };
const require = createRequire(import.meta.url);

// --- preconditions: a built package, linked as node_modules/hf-inference-wasm ------------------

/** Fail (never skip) when the package is not built or not linked: that is a broken setup. */
function assertPackageBuilt() {
  const hint = "run `bash scripts/build-pkg.sh` (after `npm ci`, which removes the node_modules link)";
  assert.ok(existsSync(path.join(PKG, "package.json")), `pkg/package.json is missing: ${hint}`);
  const linked = path.join(ROOT, "node_modules", "hf-inference-wasm");
  assert.ok(existsSync(linked), `node_modules/hf-inference-wasm is missing: ${hint}`);
  assert.equal(realpathSync(linked), realpathSync(PKG), `node_modules/hf-inference-wasm does not point at pkg/: ${hint}`);
}

/** The value exports `pkg/index.d.ts` declares (`export declare class|const|function X`). */
async function declaredValueExports() {
  const dts = await readFile(path.join(PKG, "index.d.ts"), "utf8");
  return [...dts.matchAll(/^export\s+declare\s+(?:abstract\s+)?(?:class|const|let|function)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]).sort();
}

/** The esbuild metafile inputs under pkg/, as "pkg/<file>". */
const pkgInputs = (metafile) => Object.keys(metafile.inputs).filter((p) => p.startsWith("pkg/")).sort();

/** Run a command, bounded; resolves `{ code, stdout, stderr }`. */
function run(cmd, args, { timeout = 30_000, cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms\n${stdout}${stderr}`));
    }, timeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// --- shared servers ----------------------------------------------------------------------------

let fx; // fixture server
let web; // static server: /pkg/ → pkg/, /tests/packaging/ → tests/packaging/, /bundle/ → tmp
let tmp; // bundles written by the tests
let declared; // the value exports index.d.ts declares: every entry must export exactly these
let manifest; // pkg/package.json

before(async () => {
  assertPackageBuilt();
  tmp = await mkdtemp(path.join(os.tmpdir(), "hf-inference-wasm-packaging-"));
  fx = await startFixtureServer({ port: 0 });
  web = await startStaticServer({ "/pkg/": PKG, "/tests/packaging/": PACKAGING, "/bundle/": path.join(tmp, "bundle") });
  declared = await declaredValueExports();
  manifest = JSON.parse(await readFile(path.join(PKG, "package.json"), "utf8"));
}, HOOK);

after(async () => {
  await web?.close();
  await fx?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test("index.d.ts declares the five value exports, and the Node entry exports exactly those", async () => {
  assert.deepEqual(declared, ["ChatStream", "InferenceClient", "InferenceError", "cacheApiStore", "version"]);
  const node = await import("hf-inference-wasm");
  assert.deepEqual(Object.keys(node).sort(), declared);
  assert.equal(node.version, manifest.version);
});

test("the proxy is its own entry: proxy.d.ts's exports, its own wasm, the client's error class", async () => {
  const dts = await readFile(path.join(PKG, "proxy.d.ts"), "utf8");
  const proxyDeclared = [...dts.matchAll(/^export\s+declare\s+(?:class|const|let|function)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  proxyDeclared.push(...[...dts.matchAll(/^export\s+\{\s*([A-Za-z_$][\w$]*)\s*\}/gm)].map((m) => m[1]));
  const proxy = await import("hf-inference-wasm/proxy");
  assert.deepEqual(Object.keys(proxy).sort(), proxyDeclared.sort());
  assert.equal(proxy.version, manifest.version);
  const client = await import("hf-inference-wasm");
  assert.equal(proxy.InferenceError, client.InferenceError, "one InferenceError class across both entries");
  // The client's wasm and glue hold none of the proxy: no `Proxy` class binding.
  const glue = await readFile(path.join(PKG, "hf_inference_wasm.js"), "utf8");
  assert.doesNotMatch(glue, /class Proxy\b/);
  assert.match(await readFile(path.join(PKG, "hf_inference_proxy.js"), "utf8"), /class Proxy\b/);
  const p = manifest.exports["./proxy"];
  assert.equal(Object.keys(p)[0], "types");
  for (const file of Object.values(p)) assert.ok(existsSync(path.join(PKG, file)), `${file} is named in ./proxy but missing`);
});

test("pkg/package.json maps each environment to its entry, and every entry file exists", () => {
  const dot = manifest.exports["."];
  assert.equal(Object.keys(dot)[0], "types", "`types` must come first in the conditions");
  assert.equal(dot.workerd, "./workerd.js");
  assert.equal(dot.node, "./node.mjs");
  assert.equal(dot.browser, "./browser.js");
  assert.ok(Object.keys(dot).indexOf("workerd") < Object.keys(dot).indexOf("browser"), "workerd must win over browser (wrangler sets both)");
  assert.ok(Object.keys(dot).indexOf("node") < Object.keys(dot).indexOf("import"), "node must win over import");
  for (const file of [dot.types, dot.workerd, dot.node, dot.browser, dot.import, dot.default, manifest.main, manifest.types]) {
    assert.ok(existsSync(path.join(PKG, file)), `${file} is named in pkg/package.json but missing`);
  }
  assert.ok(existsSync(path.join(PKG, WASM_NAME)));
  // No top-level `browser` field (publint: the `exports` browser condition says it; the
  // bundlers that read only the field, webpack 4 and browserify, cannot load an ESM entry
  // with top-level await anyway).
  assert.equal(manifest.browser, undefined);
});

test("npm pack ships every file of pkg/ the entries load (JS, wasm, snippets, types)", T, async () => {
  const { code, stdout, stderr } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: PKG });
  assert.equal(code, 0, stderr);
  const packed = new Set(JSON.parse(stdout)[0].files.map((f) => f.path));
  const wanted = (await readdir(PKG, { recursive: true })).filter((f) => /\.(m?js|wasm|d\.ts)$|^package\.json$/.test(f)).map((f) => f.split(path.sep).join("/"));
  assert.ok(wanted.some((f) => f.startsWith("snippets/") && f.endsWith("/errors.js")), "the errors.js snippet is in pkg/");
  assert.deepEqual(wanted.filter((f) => !packed.has(f)).sort(), [], "files in pkg/ that `npm publish` would leave out");
});

// --- browser: <script type="module"> and a bundle, in Chromium and in Firefox ------------------
// The same pages and assertions in each engine (./engines.mjs); each test's name says which.

for (const engine of ENGINES) describe(`browser [${engine}]`, () => {
  let browser;
  let skipReason;
  const test = (name, ...rest) => nodeTest(`[${engine}] ${name}`, ...rest);

  before(async () => {
    ({ browser, skipReason } = await launchEngine(engine));
    if (skipReason) console.log(`# packaging: [${engine}] browser tests skipped: ${skipReason}`);
  }, { timeout: 60_000 });
  after(async () => {
    await browser?.close();
  });

  /** Open `pagePath` on the static server, wait (bounded) for the scenario's result. */
  async function runPage(pagePath) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const console_ = [];
    page.on("console", (m) => console_.push({ kind: m.type(), text: m.text(), url: m.location()?.url ?? "" }));
    page.on("pageerror", (e) => console_.push({ kind: "pageerror", text: String(e.stack || e), url: "" }));
    page.on("requestfailed", (r) => console_.push({ kind: "requestfailed", text: String(r.failure()?.errorText), url: r.url() }));
    const mark = web.requests.length;
    try {
      await page.goto(`${web.url}${pagePath}?fixture=${encodeURIComponent(fx.url)}`, { timeout: 10_000 });
      await page.waitForFunction(() => document.body && (document.body.dataset.result || document.body.dataset.error), null, {
        timeout: 20_000,
        polling: 50,
      });
      const { result, error } = await page.evaluate(() => ({ result: document.body.dataset.result, error: document.body.dataset.error }));
      const log = console_.map((l) => `${l.kind}: ${l.text} ${l.url}`).join("\n");
      assert.equal(error, undefined, `the page failed: ${error}\nconsole:\n${log}`);
      return { result: JSON.parse(result), console: console_, served: web.requests.slice(mark) };
    } finally {
      await context.close();
    }
  }

  /** What every page must have seen, whichever way it loaded the package. */
  function assertScenario({ result, console: log, served }, { inlinePath }) {
    const show = (s) => JSON.stringify(s);
    assert.deepEqual(result.exports, declared, "the browser entry exports what index.d.ts declares");
    assert.equal(result.version, manifest.version);

    assert.equal(result.forAwait.text, EMOJI, `for await text: ${show(result.forAwait.text)}`);
    assert.ok(Buffer.from(result.forAwait.text, "utf8").equals(Buffer.from(EMOJI, "utf8")), "byte for byte");
    assert.ok(result.forAwait.chunks >= 2, `chunks: ${result.forAwait.chunks}`);
    assert.equal(result.forAwait.isChatStream, true);
    assert.equal(result.forAwait.ended, true);

    assert.equal(result.onContent.text, EMOJI, `onContent deltas: ${show(result.onContent.text)}`);
    assert.equal(result.onContent.snapshot, EMOJI);
    assert.equal(result.onContent.finalText, EMOJI);
    assert.deepEqual(result.onContent.finishes, [{ finishReason: "stop", aborted: false, truncated: false }]);
    assert.deepEqual(result.onContent.errors, []);

    assert.deepEqual(result.create, { isChatStream: true, text: EMOJI });

    assert.equal(result.nonStream.object, "chat.completion");
    assert.equal(result.nonStream.content, simulatorReply(result.nonStream.prompt));

    assert.equal(result.error.threw, true, "a 404 must reject");
    assert.equal(result.error.isInferenceError, true, "instanceof InferenceError (the exported class) must hold");
    assert.equal(result.error.isError, true);
    assert.equal(result.error.name, "InferenceError");
    assert.equal(result.error.kind, "http");
    assert.equal(result.error.status, 404);
    assert.equal(result.error.requestId, "req-404");

    // The wasm is embedded in the browser entry's JS (hf_inference_wasm_bg.inline.js): no
    // .wasm is fetched, and a page that loads pkg/ unbundled fetches the embedding once.
    assert.deepEqual(served.filter((r) => r.path.endsWith(".wasm")), [], `no .wasm fetched; served: ${show(served)}`);
    if (inlinePath) assert.equal(served.filter((r) => r.path === inlinePath).length, 1, `${inlinePath} fetched once; served: ${show(served)}`);
    for (const r of served.filter((r) => r.path.endsWith(".js"))) assert.match(r.type, /^text\/javascript/, r.path);
    assert.deepEqual(served.filter((r) => r.status !== 200), [], "every file the page asked for exists");
    // Abort mid-stream: the caller's signal ends it with what arrived, as a normal outcome.
    const { abort } = result;
    const full = simulatorReply(abort.prompt);
    assert.ok(abort.final.length >= 5 && abort.final.length < full.length && full.startsWith(abort.final), `a partial reply: ${show(abort)}`);
    assert.equal(abort.text, abort.final, "what onContent delivered is what finalCompletion resolved with");
    assert.deepEqual(abort.aborts, [abort.final], "onAbort(partial) once");
    assert.deepEqual(abort.finishes, [{ aborted: true }]);
    assert.deepEqual(abort.errors, []);

    // Every named timeout fires under its own name, in every engine.
    const timedOut = (timeout) => ({ threw: true, isInferenceError: true, kind: "timeout", timeout });
    const { timeouts } = result;
    assert.deepEqual(timeouts.headers, timedOut("headers"));
    assert.deepEqual(timeouts.firstChunk, timedOut("firstChunk"));
    assert.deepEqual(timeouts.idle, { ...timedOut("idle"), partial: FAULT_PARTIAL_TEXT }, "the idle timeout keeps what arrived");
    const { partial: totalPartial = "", ...total } = timeouts.total;
    assert.deepEqual(total, timedOut("total"));
    assert.ok(full.startsWith(totalPartial), `the total timeout keeps a prefix of the reply: ${show(totalPartial)}`);
    assert.deepEqual(timeouts.slowHeadersAnswer, { threw: false }, "a non-streamed answer waits for the headers timeout, not firstChunk");
    // Where the engines differ (DESIGN.md, "Firefox"): Chromium's fetch() resolves at the
    // headers, so a stream whose headers come after 400 ms and its chunks at once is whole;
    // Firefox's resolves only with the first bytes, so its firstChunk wait counts from the
    // request and fires first. If Firefox ever resolves at headers, this says so.
    if (engine === "firefox") {
      assert.equal(result.fetchResolves, "pending after 1 s", "Firefox's fetch() waits for the first body bytes");
      assert.deepEqual(timeouts.slowHeadersStream, timedOut("firstChunk"));
    } else {
      assert.equal(result.fetchResolves, "at headers");
      assert.deepEqual(timeouts.slowHeadersStream, { threw: false });
    }

    // A clean console, but for what the scenario causes on purpose: the 404 it asks for,
    // and the fetches that end early (cancelled after `[DONE]`, aborted, timed out); each
    // engine words a cancelled fetch its own way.
    const CANCELLED = { chromium: /^net::ERR_ABORTED$/, firefox: /^NS_BINDING_ABORTED$/ }[engine];
    const endsEarly = [EMOJI_PATH, "/pace/", "/fault/stall-", "/fault/slow-headers/"];
    const expectedNoise = (l) =>
      (l.kind === "error" && /status of 404/.test(l.text) && l.url.startsWith(fx.url + "/status/404")) ||
      (l.kind === "requestfailed" && CANCELLED.test(l.text) && endsEarly.some((p) => l.url.startsWith(fx.url + p)));
    assert.deepEqual(log.filter((l) => /^(error|warning|pageerror|requestfailed)$/.test(l.kind) && !expectedNoise(l)), [], "a clean console");
  }

  test("<script type=module> with an import map: import by name, no init call", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const seen = await runPage("/tests/packaging/importmap.html");
    assertScenario(seen, { inlinePath: `/pkg/${INLINE_NAME}` });
    assert.ok(seen.served.some((r) => r.path === "/pkg/browser.js"), "resolved through the import map to /pkg/browser.js");
  });

  test("<script type=module> importing /pkg/browser.js by a relative path, no import map", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const seen = await runPage("/tests/packaging/relative.html");
    assertScenario(seen, { inlinePath: `/pkg/${INLINE_NAME}` });
  });

  test("esbuild (platform browser) resolves the browser entry; the bundle streams in the browser", T, async (t) => {
    const esbuild = await import("esbuild");
    const outdir = path.join(tmp, "bundle");
    const built = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(PACKAGING, "bundle-entry.js")],
      bundle: true,
      platform: "browser",
      format: "esm",
      outdir,
      metafile: true,
      write: true,
      logLevel: "silent",
    });
    assert.deepEqual(built.errors, []);
    assert.deepEqual(
      built.warnings.map((w) => w.text),
      [],
      "bundling the package must not warn",
    );
    const inputs = pkgInputs(built.metafile);
    assert.ok(inputs.includes("pkg/browser.js"), `resolved through exports → browser.js; inputs: ${inputs}`);
    assert.ok(!inputs.includes("pkg/node.mjs") && !inputs.includes("pkg/workerd.js"), `only the browser entry: ${inputs}`);
    const code = await readFile(path.join(outdir, "bundle-entry.js"), "utf8");
    assert.ok(!/node:fs|readFileSync/.test(code), "no Node built-ins in a browser bundle");
    // The wasm is embedded in the JS: nothing to copy next to the bundle (esbuild would
    // leave a `new URL("./x.wasm", import.meta.url)` as it is, and the page would hang on
    // a 404). tests/js/bundlers.test.mjs runs the other bundlers.
    assert.ok(!/_bg\.wasm["'`]/.test(code), "the bundle names no .wasm file");
    assert.ok(inputs.includes(`pkg/${INLINE_NAME}`), `the embedded wasm is bundled; inputs: ${inputs}`);

    if (skipReason) return t.skip(`bundle built and checked; not run: ${skipReason}`);
    const seen = await runPage("/tests/packaging/bundle.html");
    assertScenario(seen, {});
    assert.ok(!seen.served.some((r) => r.path.startsWith("/pkg/")), "the bundle needs nothing from pkg/ at run time");
  });
});

// --- Cloudflare Workers: workerd via Miniflare -----------------------------------------------

describe("Cloudflare Workers (workerd via miniflare)", () => {
  let mf;
  let metafileInputs;

  before(async () => {
    const esbuild = await import("esbuild");
    const outdir = path.join(tmp, "worker");
    // workerd resolves no bare specifiers: bundle the Worker as wrangler does, with the
    // Workers conditions, and leave the .wasm import as a file next to the bundle for the
    // CompiledWasm module rule (workerd refuses to compile wasm from bytes at run time).
    const built = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(PACKAGING, "worker.js")],
      bundle: true,
      format: "esm",
      platform: "neutral",
      conditions: ["workerd", "worker", "browser"],
      loader: { ".wasm": "copy" },
      assetNames: "[name]",
      outdir,
      metafile: true,
      write: true,
      logLevel: "silent",
    });
    assert.deepEqual(built.warnings.map((w) => w.text), [], "bundling the Worker must not warn");
    metafileInputs = pkgInputs(built.metafile);
    assert.ok(existsSync(path.join(outdir, WASM_NAME)), `${WASM_NAME} copied next to the Worker bundle`);

    const { Miniflare } = await import("miniflare");
    mf = new Miniflare({
      cf: false, // no download of the Request.cf object (no internet here); placeholder values
      modules: true,
      modulesRoot: outdir, // module names are relative to this (the bundle lives in a temp dir)
      scriptPath: path.join(outdir, "worker.js"),
      modulesRules: [
        { type: "CompiledWasm", include: ["**/*.wasm"] },
        { type: "ESModule", include: ["**/*.js"] },
      ],
      compatibilityDate: "2025-01-01",
      bindings: { FIXTURE_URL: fx.url },
    });
    await within(mf.ready, 20_000, "miniflare ready");
  }, HOOK);
  after(async () => {
    await mf?.dispose();
  });

  /** GET a route of the Worker, bounded. */
  const call = (route) => within(mf.dispatchFetch(`http://worker.test${route}`), 20_000, `dispatchFetch ${route}`);
  const json = async (route) => {
    const res = await call(route);
    const body = await res.text();
    assert.equal(res.status, 200, `${route}: ${body}`);
    return JSON.parse(body);
  };

  test("the Worker bundle went through workerd.js, not the browser or Node entry", () => {
    assert.ok(metafileInputs.includes("pkg/workerd.js"), `inputs: ${metafileInputs}`);
    assert.ok(!metafileInputs.includes("pkg/browser.js") && !metafileInputs.includes("pkg/node.mjs"), `inputs: ${metafileInputs}`);
  });

  test("the workerd entry exports what index.d.ts declares, and the package version", T, async () => {
    const { exports, version } = await json("/exports");
    assert.deepEqual(exports, declared);
    assert.equal(version, manifest.version);
  });

  test("chatCompletionStream in workerd: the emoji stream byte for byte (for await and onContent)", T, async () => {
    const got = await json(`/stream?path=${encodeURIComponent(EMOJI_PATH)}`);
    assert.equal(got.text, EMOJI, JSON.stringify(got.text));
    assert.ok(Buffer.from(got.text, "utf8").equals(Buffer.from(EMOJI, "utf8")));
    assert.equal(got.onContent, EMOJI);
    assert.equal(got.snapshot, EMOJI);
    assert.ok(got.chunks >= 2);
    assert.equal(got.isChatStream, true);
    assert.deepEqual(got.finish, { finishReason: "stop", aborted: false, truncated: false });
  });

  test("chatCompletionStream in workerd against the simulator reports usage", T, async () => {
    const prompt = "Usage from workerd please";
    const want = simulate({ model: "fixture/tiny-chat", messages: [{ role: "user", content: prompt }] });
    const got = await json(`/stream?prompt=${encodeURIComponent(prompt)}`);
    assert.equal(got.text, want.text);
    assert.deepEqual(got.usage, want.usage);
    assert.equal(got.finish.finishReason, "stop");
  });

  test("toReadableStream() relayed as a Worker response re-encodes the same stream", T, async () => {
    const res = await call(`/sse?path=${encodeURIComponent(EMOJI_PATH)}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /text\/event-stream/);
    const body = await within(res.text(), 20_000, "SSE body");
    const ref = referenceChat(body);
    assert.equal(ref.error, undefined, body);
    assert.equal(ref.text, EMOJI);
    assert.equal(ref.finishReason, "stop");
    assert.match(body, /data: \[DONE\]\n\n$/);
  });

  test("chatCompletion (non-stream) in workerd", T, async () => {
    const prompt = "A whole completion from workerd";
    const completion = await json(`/complete?prompt=${encodeURIComponent(prompt)}`);
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.choices[0].message.content, simulatorReply(prompt));
    assert.equal(completion.choices[0].finish_reason, "stop");
    assert.deepEqual(completion.usage, simulate({ messages: [{ role: "user", content: prompt }] }).usage);
  });

  test("an HTTP error in workerd is an instance of the exported InferenceError", T, async () => {
    const got = await json("/error");
    assert.deepEqual(got, {
      threw: true,
      isInferenceError: true,
      isError: true,
      name: "InferenceError",
      kind: "http",
      status: 404,
      code: "404",
      requestId: "req-404",
    });
  });
});

// --- TypeScript declarations --------------------------------------------------------------------

describe("TypeScript declarations (tsc --noEmit --strict)", () => {
  const tsc = () => path.join(path.dirname(require.resolve("typescript/package.json")), "bin", "tsc");

  for (const config of ["tsconfig.json", "tsconfig.node16.json"]) {
    test(`types-usage.ts type-checks with ${config}, and every @ts-expect-error is needed`, T, async () => {
      const { code, stdout, stderr } = await run(process.execPath, [tsc(), "-p", path.join(PACKAGING, config), "--noEmit", "--strict", "--pretty", "false"]);
      assert.equal(code, 0, `tsc failed:\n${stdout}${stderr}`);
    });
  }

  test("tsc resolves the package's own declarations (pkg/index.d.ts) through exports", T, async () => {
    const { code, stdout, stderr } = await run(process.execPath, [tsc(), "-p", path.join(PACKAGING, "tsconfig.json"), "--listFilesOnly"]);
    assert.equal(code, 0, stdout + stderr);
    const files = stdout.split("\n").map((l) => l.trim()).filter(Boolean).map((f) => path.resolve(f));
    assert.ok(files.includes(path.join(PKG, "index.d.ts")), `pkg/index.d.ts not among:\n${stdout}`);
  });
});
