// Every bundler, zero config (issue 12 point 5, issue 14 point 3): the same tiny app
// (tests/packaging/bundle-entry.js: `import … from "hf-inference-wasm"` and the packaging
// scenario) bundled by esbuild, Rollup + @rollup/plugin-node-resolve, Vite and webpack 5 with
// their plain setups (tests/bundlers/build.mjs), each bundle built once and run in headless
// Chromium against the loopback fixture server: a streamed reply must arrive, byte for byte,
// with no `.wasm` to fetch or copy (the browser entry embeds it).
//
// Run: node --test tests/js/bundlers.test.mjs   (after `bash scripts/build-pkg.sh`).
// Without Chromium the bundles are still built and checked; running them is skipped with
// the reason printed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { startFixtureServer, scripts, within } from "./helpers.mjs";
import { startStaticServer } from "../packaging/static-server.mjs";
import { buildApp, BUNDLERS, ROOT } from "../bundlers/build.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const EMOJI = scripts.emoji.expected.text;
const EMOJI_PATH = "/split/1/script/emoji";
const T = { timeout: 90_000 };
const HOOK = { timeout: 40_000 };

// What the bundlers may say about this app and still be "zero config": size hints (the
// embedded wasm makes one large chunk), and Vite noting that the test's error reporter
// (a classic script, on purpose) is not bundled.
const HARMLESS = [/larger than 500 kB/, /asset size limit/, /entrypoint size limit/, /performance recommendations/, /report-errors\.js.*can't be bundled without type="module"/s];

let fx;
let web;
let tmp;
let browser;
let skipReason;
let manifest;

before(async () => {
  assert.ok(existsSync(path.join(ROOT, "node_modules", "hf-inference-wasm", "browser.js")), "pkg/ is not built and linked: run `bash scripts/build-pkg.sh`");
  manifest = JSON.parse(await readFile(path.join(ROOT, "pkg", "package.json"), "utf8"));
  tmp = await mkdtemp(path.join(os.tmpdir(), "hf-inference-wasm-bundlers-"));
  fx = await startFixtureServer({ port: 0 });
  web = await startStaticServer({ "/tests/packaging/": path.join(ROOT, "tests", "packaging"), "/bundle/": tmp });
  if (!existsSync(CHROMIUM)) {
    skipReason = `no Chromium at ${CHROMIUM} (bash scripts/setup.sh --browser, or set CHROMIUM_PATH)`;
    console.log(`# bundlers: running the bundles skipped: ${skipReason}`);
    return;
  }
  const { chromium } = await import("playwright-core");
  browser = await within(chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 }), 25_000, "chromium.launch");
}, HOOK);

after(async () => {
  await browser?.close();
  await web?.close();
  await fx?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Open a bundle's index.html, wait (bounded) for the scenario's result. */
async function runPage(pagePath) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = [];
  page.on("console", (m) => log.push({ kind: m.type(), text: m.text(), url: m.location()?.url ?? "" }));
  page.on("pageerror", (e) => log.push({ kind: "pageerror", text: String(e.stack || e), url: "" }));
  page.on("requestfailed", (r) => log.push({ kind: "requestfailed", text: String(r.failure()?.errorText), url: r.url() }));
  const mark = web.requests.length;
  try {
    await page.goto(`${web.url}${pagePath}?fixture=${encodeURIComponent(fx.url)}`, { timeout: 10_000 });
    await page.waitForFunction(() => document.body && (document.body.dataset.result || document.body.dataset.error), null, { timeout: 20_000, polling: 50 });
    const { result, error } = await page.evaluate(() => ({ result: document.body.dataset.result, error: document.body.dataset.error }));
    assert.equal(error, undefined, `the page failed: ${error}\nconsole:\n${log.map((l) => `${l.kind}: ${l.text} ${l.url}`).join("\n")}`);
    return { result: JSON.parse(result), log, served: web.requests.slice(mark) };
  } finally {
    await context.close();
  }
}

for (const bundler of BUNDLERS) {
  test(`${bundler}: the app bundles with no configuration and streams a reply in Chromium`, T, async (t) => {
    const out = path.join(tmp, bundler);
    const { files, warnings } = await buildApp(bundler, out);
    assert.deepEqual(warnings.filter((w) => !HARMLESS.some((re) => re.test(w))), [], `${bundler} warned`);
    assert.deepEqual(files.filter((f) => f.endsWith(".wasm")), [], "nothing to copy: the wasm is in the JS");
    const js = files.filter((f) => /\.m?js$/.test(f));
    assert.ok(js.length >= 1 && files.includes("index.html"), `files: ${files}`);
    let code = "";
    for (const f of js) code += await readFile(path.join(out, f), "utf8");
    assert.ok(!/node:fs|readFileSync/.test(code), "no Node built-ins in a browser bundle");
    assert.ok(!/_bg\.wasm["'`]/.test(code), "the bundle names no .wasm file to fetch");

    if (skipReason) return t.skip(`bundle built and checked; not run: ${skipReason}`);
    const { result, log, served } = await runPage(`/bundle/${bundler}/index.html`);
    assert.equal(result.version, manifest.version);
    assert.ok(result.exports.includes("InferenceClient") && result.exports.includes("InferenceError"), `exports: ${result.exports}`);
    assert.equal(result.forAwait.text, EMOJI, `streamed text: ${JSON.stringify(result.forAwait.text)}`);
    assert.ok(result.forAwait.chunks >= 2, `chunks: ${result.forAwait.chunks}`);
    assert.equal(result.forAwait.isChatStream, true);
    assert.equal(result.onContent.text, EMOJI);
    assert.deepEqual(result.onContent.finishes, [{ finishReason: "stop", aborted: false, truncated: false }]);
    assert.equal(result.error.isInferenceError, true, "instanceof InferenceError holds in the bundle");
    assert.equal(result.error.status, 404);

    assert.deepEqual(served.filter((r) => r.status !== 200), [], "every file the page asked for exists");
    assert.deepEqual(served.filter((r) => r.path.endsWith(".wasm")), [], "no .wasm fetched");
    // The scenario's abort and timeouts work in the bundle too (tests/js/packaging.test.mjs
    // checks them in full, in Chromium and Firefox).
    assert.deepEqual(result.abort.finishes, [{ aborted: true }]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(result.timeouts).map(([k, v]) => [k, v.timeout ?? null])),
      { headers: "headers", firstChunk: "firstChunk", idle: "idle", total: "total", slowHeadersAnswer: null, slowHeadersStream: null },
    );
    // Cancelled on purpose: the stream after `[DONE]`, the abort and the timed-out fetches.
    const endsEarly = [EMOJI_PATH, "/pace/", "/fault/stall-", "/fault/slow-headers/"];
    const expectedNoise = (l) =>
      (l.kind === "error" && /status of 404/.test(l.text) && l.url.startsWith(fx.url + "/status/404")) ||
      (l.kind === "requestfailed" && l.text === "net::ERR_ABORTED" && endsEarly.some((p) => l.url.startsWith(fx.url + p)));
    assert.deepEqual(log.filter((l) => /^(error|warning|pageerror|requestfailed)$/.test(l.kind) && !expectedNoise(l)), [], "a clean console");
  });
}
