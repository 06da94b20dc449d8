// Browser tests of the demo chat page (www/index.html) and the embeddable <hf-chat>
// element (www/embed.html), in two engines with the same assertions: Debian's Chromium
// driven by playwright-core and Debian's Firefox ESR driven by puppeteer-core (through the
// Playwright-shaped facade in ./engines.mjs). Every test runs once per engine and its name
// says which: "[chromium] …", "[firefox] …".
//
// The pages are served the way the proxy's local run will serve them, same-origin:
// tests/browser/server.mjs serves www/ at /www/ and pkg/ at /pkg/, answers /health with
// {"ok":true,"offline":true}, and pipes every `…/v1/…` path to the fixture server's chat
// simulator (so `?base=/pace/40/v1` reaches a paced stream, `?base=/status/429/v1` a 429).
//
// `?base=/demo/1/v1` reaches the offline demo's simulated models with a fixed seed. The last
// sections (issue 14) cover what a person expects of a chat page: the simulated models, code
// blocks, reading and selecting while a reply streams, the conversation kept across reloads,
// Regenerate/Edit, errors in plain words, the README's embed snippet from another origin and
// `make demo-worker`, with screenshots at desktop width and 390 px.
//
// Run: node --test tests/js/browser.test.mjs   (after `bash scripts/build-pkg.sh`).
// Every wait is bounded; nothing asserts on timing. Screenshots go to
// test-results/browser/<engine>/ (gitignored). Without an engine's browser (Chromium at
// /usr/bin/chromium or CHROMIUM_PATH, Firefox at /usr/bin/firefox-esr or FIREFOX_PATH) that
// engine's tests skip with the reason printed. BROWSER_ENGINES=firefox runs one engine.

import { test as nodeTest, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startFixtureServer, simulate, MODELS, FAULT_PARTIAL_TEXT } from "../fixture-server/server.mjs";
import { demoReply, DEMO_MODELS } from "../fixture-server/demo-simulator.mjs";
import { startStaticServer } from "../packaging/static-server.mjs";
import { within, waitFor } from "./helpers.mjs";
import { startWebServer, TEST_TOKEN } from "../browser/server.mjs";
import { ENGINES, launchEngine } from "./engines.mjs";

const PAGE_KEY = "page-key-0123456789";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SHOTS = path.join(ROOT, "test-results", "browser");
const T = { timeout: 30_000 };
const WAIT = 10_000; // any single wait for the page
const OFFLINE_TEXT = "Offline mode: replies come from the local simulator; set HF_TOKEN for real models";

const replyTo = (content) => simulate({ messages: [{ role: "user", content }] });

let fx;
let web;
/** Each engine's browser, or why it is skipped. */
const engines = {};
// The engine of the test running now (tests run one at a time), and its browser.
let engine;
let browser;
let skipReason;

/** Register `name` once per engine, as "[engine] name"; the body sees that engine's
 *  `browser` (and `skipReason`). */
function test(name, options, fn) {
  for (const e of ENGINES) {
    nodeTest(`[${e}] ${name}`, options, (t) => {
      engine = e;
      ({ browser, skipReason } = engines[e]);
      return fn(t);
    });
  }
}

before(async () => {
  const hint = "run `bash scripts/build-pkg.sh` first";
  assert.ok(existsSync(path.join(ROOT, "pkg", "browser.js")), `pkg/browser.js is missing: ${hint}`);
  assert.ok(existsSync(path.join(ROOT, "pkg", "hf_inference_wasm_bg.wasm")), `pkg/hf_inference_wasm_bg.wasm is missing: ${hint}`);
  fx = await startFixtureServer({ port: 0 });
  web = await startWebServer({ upstream: fx.url });
  for (const e of ENGINES) {
    await mkdir(path.join(SHOTS, e), { recursive: true });
    engines[e] = await launchEngine(e);
    if (engines[e].skipReason) console.log(`# browser: [${e}] tests skipped: ${engines[e].skipReason}`);
    else console.log(`# browser: [${e}] ${await engines[e].browser.version()}`);
  }
}, { timeout: 90_000 });

after(async () => {
  for (const e of Object.values(engines)) await e.browser?.close();
  await web?.close();
  await fx?.close();
});

/** A fresh context and page at `url` (relative to the web server); records console
 *  errors, page errors and dialogs. */
async function open(url, { viewport = { width: 1100, height: 800 }, server = web, ready = "html[data-ready]" } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const errors = [];
  const dialogs = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.stack || e}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()} ${m.location()?.url ?? ""}`));
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await page.goto(server.url + url, { timeout: WAIT });
  if (ready) await page.waitForSelector(ready, { state: "attached", timeout: WAIT });
  return { context, page, errors, dialogs };
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, engine, `${name}.png`), timeout: WAIT });

/** Start recording each distinct text of the last reply, as the page renders it.
 *  `where` is "demo" (the page's log) or "embed" (inside <hf-chat>'s shadow root). */
function recordReplyStates(page, where) {
  return page.evaluate((where) => {
    window.__states = [];
    const log = where === "demo" ? document.getElementById("log") : document.querySelector("hf-chat").shadowRoot.querySelector(".log");
    const selector = where === "demo" ? "article.msg--assistant .msg__body" : ".msg--assistant .body";
    new MutationObserver(() => {
      const all = log.querySelectorAll(selector);
      const text = all[all.length - 1]?.textContent ?? "";
      if (text && text !== window.__states.at(-1)) window.__states.push(text);
    }).observe(log, { subtree: true, childList: true, characterData: true });
  }, where);
}

/** The `x-request-id` the proxy sent with the last chat request under `prefix`: the id the
 *  client is shown (one id from the client through the log to the upstream). */
const lastRequestId = (prefix) =>
  fx.requests.filter((r) => r.path.startsWith(prefix) && r.path.endsWith("/chat/completions")).at(-1)?.headers["x-request-id"];

/** The chat requests the fixture server received since `mark`. */
const chatRequests = (mark) => fx.requests.slice(mark).filter((r) => r.path.endsWith("/chat/completions"));

/** Wait (bounded) until the fixture server saw the last chat request's connection close. */
async function lastChatClosed(mark) {
  return waitFor(
    () => {
      const reqs = chatRequests(mark);
      const last = reqs[reqs.length - 1];
      return last && last.closedAt ? last : false;
    },
    { timeout: WAIT, message: "the chat request to close" },
  );
}

const demoMessages = (page) => page.evaluate(() => window.hfChatDemo.messages);

// ---------------------------------------------------------------------------------------
// The demo page

describe("demo page (www/index.html)", () => {
  test("a reply streams in (several intermediate states), ends as the simulator's text, with figures", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "Tell me how streaming works";
    const want = replyTo(prompt);
    const mark = fx.requests.length;
    const webMark = web.requests.length;
    const { context, page, errors } = await open("/www/?base=/pace/40/v1");
    try {
      await page.locator("#offline-notice").waitFor({ state: "visible" });
      assert.equal((await page.locator("#offline-notice").innerText()).trim(), OFFLINE_TEXT);

      await recordReplyStates(page, "demo");
      await page.locator("#input").fill(prompt);
      await page.locator("#input").press("Enter");

      // Mid-stream: Stop is offered, the reply is busy, text is arriving.
      await page.waitForFunction(() => (window.__states?.length ?? 0) >= 3, null, { timeout: WAIT });
      assert.equal(await page.locator("#stop").isVisible(), true, "Stop is shown while streaming");
      assert.equal(await page.locator("article.msg--assistant").getAttribute("aria-busy"), "true");
      await shot(page, "demo-streaming");

      await page.locator('article.msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      const messages = await demoMessages(page);
      assert.deepEqual(
        messages.map((m) => [m.role, m.status ?? null]),
        [
          ["user", null],
          ["assistant", "done"],
        ],
      );
      assert.equal(messages[0].content, prompt);
      assert.equal(messages[1].content, want.text, "the whole reply, exactly as the simulator wrote it");

      const states = await page.evaluate(() => window.__states);
      const finalText = await page.locator("article.msg--assistant .msg__body").textContent();
      assert.equal(states.at(-1), finalText);
      const intermediate = new Set(states.slice(0, -1));
      assert.ok(intermediate.size >= 3, `at least 3 intermediate renderings, saw ${intermediate.size}: ${JSON.stringify(states.slice(0, 5))}`);

      // The Markdown became elements, not asterisks.
      const reply = page.locator("article.msg--assistant .msg__body");
      assert.equal(await reply.locator("strong").first().textContent(), "deterministic");
      assert.equal(await reply.locator("em").first().textContent(), "Tell");
      assert.equal(await reply.locator("li").count(), 2);
      assert.ok(!finalText.includes("**"));

      // Figures: time to first token, tokens/s, tokens from usage (no "~").
      const fig = (name) => page.locator(`article.msg--assistant [data-figure="${name}"]`).textContent();
      assert.match(await fig("ttft"), /^\d+(\.\d+)? m?s to first token$/);
      assert.match(await fig("rate"), /^\d+(\.\d+)? tok\/s$/);
      assert.equal(await fig("tokens"), `${want.usage.completion_tokens} tokens`);
      // Cost: the simulator names "together" as the serving provider (as the router does),
      // whose price ($0.88 per million tokens both ways) came from /v1/models via loadPricing.
      // The page is in offline mode (its /health says so), so the cost is labelled simulated.
      assert.equal(await fig("cost"), `$${((want.usage.total_tokens * 0.88) / 1e6).toPrecision(2)} (simulated)`);
      assert.match(await page.locator('article.msg--assistant [data-figure="cost"]').getAttribute("title"), /^Simulated: .*Nothing is billed\.$/);
      assert.equal(await page.locator("article.msg--assistant").getAttribute("aria-busy"), "false");
      assert.equal(await page.locator("#banners .banner").count(), 0);
      assert.equal(await page.evaluate(() => document.activeElement?.id), "input", "focus stays in the message box");

      // What went over the wire: one streamed request, through the same-origin base.
      const reqs = chatRequests(mark);
      assert.equal(reqs.length, 1);
      assert.equal(reqs[0].path, "/pace/40/v1/chat/completions");
      const body = JSON.parse(reqs[0].body);
      assert.equal(body.stream, true);
      assert.equal(body.model, MODELS[0].id);
      assert.deepEqual(body.messages, [{ role: "user", content: prompt }]);
      assert.deepEqual(web.requests.slice(webMark).filter((r) => r.status >= 400), [], "every file and route the page asked for answered");
      // The page (import map) and <hf-chat> (relative import) share one instance of the package.
      // (The browser entry's wasm is embedded in hf_inference_wasm_bg.inline.js.)
      assert.equal(web.requests.slice(webMark).filter((r) => r.path === "/pkg/hf_inference_wasm_bg.inline.js").length, 1, "the wasm module is fetched once");
      assert.deepEqual(web.requests.slice(webMark).filter((r) => r.path.endsWith(".wasm")), [], "no .wasm file fetched: it is embedded");
      await shot(page, "demo-done");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("a follow-up sends the conversation history", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const mark = fx.requests.length;
    const { context, page, errors } = await open("/www/");
    try {
      for (const [i, prompt] of ["First question", "Second question"].entries()) {
        await page.locator("#input").fill(prompt);
        await page.locator("#input").press("Enter");
        await waitFor(async () => (await page.locator('article.msg--assistant[data-status="done"]').count()) === i + 1, { timeout: WAIT, message: `reply ${i + 1}` });
      }
      const reqs = chatRequests(mark);
      assert.equal(reqs.length, 2);
      assert.deepEqual(JSON.parse(reqs[1].body).messages, [
        { role: "user", content: "First question" },
        { role: "assistant", content: replyTo("First question").text },
        { role: "user", content: "Second question" },
      ]);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("Stop mid-stream keeps the partial reply, marks it stopped, shows no error, cancels the request", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "Please write a long answer that I will interrupt";
    const full = replyTo(prompt).text;
    const mark = fx.requests.length;
    const { context, page, errors } = await open("/www/?base=/pace/100/v1");
    try {
      await page.locator("#input").fill(prompt);
      await page.locator("#input").press("Enter");
      await page.waitForFunction(() => (window.hfChatDemo.messages.at(-1)?.content?.length ?? 0) >= 30, null, { timeout: WAIT });
      await page.locator("#stop").click();

      const article = page.locator("article.msg--assistant");
      await page.locator('article.msg--assistant[data-status="stopped"]').waitFor({ timeout: WAIT });
      const partial = (await demoMessages(page)).at(-1);
      assert.equal(partial.status, "stopped");
      assert.ok(partial.content.length >= 30 && partial.content.length < full.length, `a partial reply: ${JSON.stringify(partial.content)}`);
      assert.ok(full.startsWith(partial.content), "what arrived is a prefix of the whole reply");
      assert.equal((await article.locator(".badge").textContent()).trim(), "stopped");
      assert.equal(await article.locator(".badge").isVisible(), true);
      assert.ok((await article.locator(".msg__body").textContent()).length > 0, "the partial text stays on screen");
      assert.match(await article.locator('[data-figure="tokens"]').textContent(), /^~\d+ tokens?$/, "no usage on a stopped stream: an estimate, marked ~");
      assert.equal(await article.locator('[data-figure="cost"]').count(), 0, "no usage, so no cost is claimed");
      assert.equal(await page.locator("#banners .banner").count(), 0, "stopping is not an error");
      assert.equal(await page.locator("#stop").isVisible(), false);
      assert.equal(await page.locator("#send").isVisible(), true);

      const req = await lastChatClosed(mark);
      assert.equal(req.aborted, true, "the fixture server saw the request cancelled before it finished");
      await shot(page, "demo-stopped");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("keyboard: Shift+Enter adds a line, Enter sends, Esc stops, focus returns to the message box", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page, errors } = await open("/www/?base=/pace/100/v1");
    try {
      assert.equal(await page.evaluate(() => document.activeElement?.id), "input", "the message box has focus on load");
      await page.keyboard.type("line one");
      await page.keyboard.press("Shift+Enter");
      await page.keyboard.type("line two");
      assert.equal(await page.locator("#input").inputValue(), "line one\nline two");
      assert.equal(await page.locator("article.msg").count(), 0, "Shift+Enter does not send");

      await page.keyboard.press("Enter");
      await page.waitForFunction(() => (window.hfChatDemo.messages.at(-1)?.content?.length ?? 0) >= 10, null, { timeout: WAIT });
      assert.equal((await demoMessages(page))[0].content, "line one\nline two");
      assert.equal(await page.locator("#input").inputValue(), "", "the box is cleared on send");

      await page.keyboard.press("Escape");
      await page.locator('article.msg--assistant[data-status="stopped"]').waitFor({ timeout: WAIT });
      assert.equal(await page.evaluate(() => document.activeElement?.id), "input");
      assert.equal(await page.locator("#banners .banner").count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("a 429 shows the rate-limit banner with a live countdown from Retry-After, then offers Retry", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page, dialogs } = await open("/www/?base=/status/429/v1");
    try {
      // The model list is rate limited too: the picker falls back to the default model.
      assert.equal(await page.locator("#model").getAttribute("data-source"), "fallback");
      assert.equal(await page.locator("#model option").count(), 1);

      // Record every banner kind and countdown text the page shows.
      await page.evaluate(() => {
        window.__banners = [];
        const box = document.getElementById("banners");
        new MutationObserver(() => {
          for (const b of box.querySelectorAll(".banner")) {
            const entry = `${b.dataset.kind}|${b.querySelector(".countdown")?.textContent ?? ""}`;
            if (window.__banners.at(-1) !== entry) window.__banners.push(entry);
          }
        }).observe(box, { subtree: true, childList: true, characterData: true });
      });
      await page.locator("#input").fill("hello");
      await page.locator("#input").press("Enter");

      const banner = page.locator('#banners .banner[data-kind="rate-limit"]');
      await banner.waitFor({ timeout: 15_000 }); // the client first retries twice, 1 s apart, as Retry-After asks
      await shot(page, "demo-rate-limited");
      assert.equal(await banner.getAttribute("role"), "alert");
      assert.equal((await banner.locator(".banner__title").textContent()).trim(), "Too many messages right now");
      assert.equal(await banner.getAttribute("data-retry-after-ms"), "1000", "the wait the server asked for");
      assert.equal((await banner.locator(".banner__text").textContent()).trim(), "The server asked for a short pause before the next message.");
      // The technical detail is one click away, not in the sentence.
      assert.equal(await banner.locator(".banner__detail").isVisible(), false);
      await banner.locator(".banner__details summary").click();
      assert.match(await banner.locator(".banner__detail").textContent(), /scripted 429/);
      assert.equal((await banner.locator(".request-id").textContent()).trim(), lastRequestId("/status/429/"));

      // The countdown runs down to "now", then Retry is enabled.
      await banner.locator('.countdown[data-seconds="0"]').waitFor({ timeout: WAIT });
      assert.equal((await banner.locator(".countdown").textContent()).trim(), "You can try again now.");
      assert.equal(await banner.getByRole("button", { name: "Retry" }).isEnabled(), true);
      const seen = await page.evaluate(() => window.__banners);
      assert.ok(seen.some((e) => e.startsWith("retrying|")), `a "retrying" notice while the client waited: ${JSON.stringify(seen)}`);
      assert.ok(seen.includes("rate-limit|You can try again in 1 s."), `the live countdown was shown: ${JSON.stringify(seen)}`);

      // No reply bubble was left behind; the question stays, ready to retry.
      assert.equal(await page.locator("article.msg--assistant").count(), 0);
      assert.equal(await page.locator("article.msg--user").count(), 1);
      assert.deepEqual(dialogs, []);
    } finally {
      await context.close();
    }
  });

  test("an upstream 5xx shows its message and request id; a dropped connection says the server is unreachable", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    let { context, page } = await open("/www/?base=/status/502/v1");
    try {
      await page.locator("#input").fill("hello");
      await page.locator("#input").press("Enter");
      const banner = page.locator('#banners .banner[data-kind="upstream"]');
      await banner.waitFor({ timeout: 15_000 });
      assert.equal((await banner.locator(".banner__title").textContent()).trim(), "The model service had a problem");
      assert.equal((await banner.locator(".banner__text").textContent()).trim(), "It answered with an error (HTTP 502). Try again in a moment.");
      assert.match(await banner.locator(".banner__detail").textContent(), /HTTP 502: scripted 502/);
      assert.equal((await banner.locator(".request-id").textContent()).trim(), lastRequestId("/status/502/"));
      assert.equal(await banner.getByRole("button", { name: "Retry" }).count(), 1, "a 5xx may heal: Retry is offered");
      await shot(page, "demo-upstream-error");
    } finally {
      await context.close();
    }

    // The upstream drops the connection: the proxy answers 502 upstream_unreachable.
    ({ context, page } = await open("/www/?base=/fault/reset-before-headers/v1"));
    try {
      await page.locator("#input").fill("hello");
      await page.locator("#input").press("Enter");
      const banner = page.locator('#banners .banner[data-kind="upstream"]');
      await banner.waitFor({ timeout: 15_000 });
      assert.equal((await banner.locator(".banner__title").textContent()).trim(), "The model service can't be reached");
      assert.match(await banner.locator(".banner__text").textContent(), /chat server is up, but it could not reach the model provider/);
      assert.match(await banner.locator(".banner__detail").textContent(), /upstream could not be reached/);
    } finally {
      await context.close();
    }

    // The proxy itself goes away after the page loaded: the page says it cannot reach it.
    const doomed = await startWebServer({ upstream: fx.url });
    ({ context, page } = await open("/www/", { server: doomed }));
    try {
      await doomed.close();
      await page.locator("#input").fill("hello");
      await page.locator("#input").press("Enter");
      const banner = page.locator('#banners .banner[data-kind="network"]');
      await banner.waitFor({ timeout: 15_000 });
      assert.equal((await banner.locator(".banner__title").textContent()).trim(), "Can't reach the chat server");
      const text = await banner.locator(".banner__text").textContent();
      assert.match(text, /could not connect to its server/);
      // Same-origin page: no CORS hint, no doubled parentheses, no jargon in what is shown
      // (the client's own message is under the closed "Details").
      assert.doesNotMatch((await banner.locator(".banner__title").textContent()) + text, /CORS|\(\(|\)\)/);
      assert.equal(await banner.locator(".banner__detail").isVisible(), false);
      assert.doesNotMatch(text, /network error/);
    } finally {
      await context.close();
    }
  });

  test("the model picker is filled from /v1/models and the chosen model is sent", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const mark = fx.requests.length;
    // A cross-origin ?base= is ignored: the page only ever talks to its own origin.
    const { context, page, errors } = await open("/www/?base=http://example.com/v1");
    try {
      assert.equal(await page.evaluate(() => window.hfChatDemo.config.base), "/v1");
      const options = await page.locator("#model option").evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, MODELS.map((m) => m.id));
      assert.equal(await page.locator("#model").getAttribute("data-source"), "server");
      await page.locator("#model").selectOption("fixture/tiny-chat");
      await page.locator("#input").fill("Which model are you?");
      await page.locator("#send").click();
      await page.locator('article.msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      assert.equal(JSON.parse(chatRequests(mark).at(-1).body).model, "fixture/tiny-chat");
      assert.equal((await page.locator("article.msg--assistant .msg__model").textContent()).trim(), "fixture/tiny-chat");

      // The page also shows the embeddable element, pointed at the same base.
      const el = await page.evaluate(() => {
        const e = document.querySelector("hf-chat");
        return { defined: !!customElements.get("hf-chat"), shadow: !!e?.shadowRoot, endpoint: e?.getAttribute("endpoint") };
      });
      assert.deepEqual(el, { defined: true, shadow: true, endpoint: "/v1" });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("without offline mode in /health there is no offline notice", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const live = await startWebServer({ upstream: fx.url, health: { ok: true, offline: false } });
    const { context, page } = await open("/www/", { server: live });
    try {
      assert.equal(await page.locator("#offline-notice").isVisible(), false);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.offline), "false");
    } finally {
      await context.close();
      await live.close();
    }
  });

  test("Markdown never injects HTML: an echoed <img onerror> and <script> stay text, no dialog", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "<img src=x onerror=alert(1)> <script>alert(2)</script> <b>bold</b>";
    const { context, page, dialogs, errors } = await open("/www/");
    try {
      await page.locator("#input").fill(prompt);
      await page.locator("#input").press("Enter");
      await page.locator('article.msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      const log = page.locator("#log");
      assert.equal(await log.locator("img, script, b, iframe, svg").count(), 0, "no element came from the text");
      const replyText = await page.locator("article.msg--assistant .msg__body").textContent();
      assert.ok(replyText.includes(prompt), `the markup is shown as text: ${replyText}`);
      assert.ok((await page.locator("article.msg--user .msg__body").textContent()).includes(prompt));

      // The renderer itself, on hostile input: only its own elements, only safe links.
      const report = await page.evaluate(async () => {
        const { renderMarkdown } = await import("/www/markdown.js");
        const inputs = [
          "<img src=x onerror=alert(1)>",
          "<svg onload=alert(1)>",
          "[click](javascript:alert(1))",
          "[click](JaVaScRiPt:alert(1))",
          "[click]( java\tscript:alert(1))",
          "[x](data:text/html,<script>alert(1)</script>)",
          "[x](vbscript:msgbox(1))",
          "<javascript:alert(1)>",
          '<https://example.com/" onmouseover="alert(1)>',
          "![img](https://example.com/x.png)",
          "```html\n</code></pre><img src=x onerror=alert(1)>\n```",
          "`<img src=x onerror=alert(1)>`",
          "**<b>bold</b>** _<i>it</i>_ &lt;img&gt; &amp;",
          "| <img src=x> | b |\n|---|---|\n| <script>x</script> | [ok](https://example.com) |",
          "> <iframe src=https://example.com></iframe>",
          "- <a href=javascript:alert(1)>x</a>",
          "[docs](https://huggingface.co/docs) and https://example.com/a_(b).",
        ];
        // BUTTON: the renderer's own Copy button on code blocks (checked below: nothing else).
        const allowed = new Set(["P", "BR", "STRONG", "EM", "DEL", "CODE", "PRE", "A", "UL", "OL", "LI", "BLOCKQUOTE", "HR", "H3", "H4", "H5", "H6", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "DIV", "SPAN", "BUTTON"]);
        const out = { bad: [], links: [], text: [] };
        for (const input of inputs) {
          const div = document.createElement("div");
          div.append(renderMarkdown(input));
          for (const el of div.querySelectorAll("*")) {
            if (!allowed.has(el.tagName)) out.bad.push(`${input} → <${el.tagName}>`);
            for (const a of el.attributes) if (/^on/i.test(a.name) || (a.name !== "href" && /script:/i.test(a.value))) out.bad.push(`${input} → ${a.name}=${a.value}`);
            if (el.tagName === "BUTTON" && (el.className !== "code__copy" || el.textContent !== "Copy")) out.bad.push(`${input} → a button that is not the code Copy button`);
          }
          for (const a of div.querySelectorAll("a")) out.links.push({ href: a.getAttribute("href"), rel: a.rel, target: a.target });
          for (const b of div.querySelectorAll("button")) b.remove(); // its label is not reply text
          out.text.push(div.textContent);
        }
        return out;
      });
      assert.deepEqual(report.bad, []);
      for (const l of report.links) {
        assert.match(l.href, /^(https?:|mailto:)/, `only http(s)/mailto links: ${l.href}`);
        assert.ok(l.rel.split(" ").includes("noopener"), `rel=noopener: ${JSON.stringify(l)}`);
      }
      const hrefs = report.links.map((l) => l.href);
      assert.ok(hrefs.includes("https://huggingface.co/docs") && hrefs.includes("https://example.com/a_(b)"), `real links still work: ${hrefs}`);
      assert.ok(!hrefs.some((h) => /["'<>\s]/.test(h)), `no quote or bracket ends up in an href: ${hrefs}`);
      assert.ok(report.text[0].includes("<img src=x onerror=alert(1)>"));
      // markdown-it decodes entities as CommonMark says, into text: `&lt;img&gt;` shows "<img>"
      // and makes no element (the element check above covers every input).
      assert.ok(report.text[12].includes("<img> &"), `entities become text: ${report.text[12]}`);

      await page.waitForTimeout(100); // give a stray onerror handler its chance to fire
      assert.deepEqual(dialogs, [], "no alert() ran");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("at phone width (375×700) nothing scrolls sideways, even with code and long words", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "Show me code for Pneumonoultramicroscopicsilicovolcanoconiosis_and_another_extremely_long_identifier_name";
    const { context, page, errors } = await open("/www/", { viewport: { width: 375, height: 700 } });
    try {
      await page.locator("#input").fill(prompt);
      await page.locator("#input").press("Enter");
      await page.locator('article.msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      assert.equal(await page.locator("article.msg--assistant pre").count(), 1, "the reply has a code block");
      const layout = await page.evaluate(() => {
        const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
        return {
          scrollWidth: document.documentElement.scrollWidth,
          bodyScrollWidth: document.body.scrollWidth,
          width: window.innerWidth,
          send: box("send"),
          input: box("input"),
          model: box("model"),
          pre: document.querySelector("article.msg--assistant pre").getBoundingClientRect().toJSON(),
        };
      });
      assert.ok(layout.scrollWidth <= layout.width && layout.bodyScrollWidth <= layout.width, `no horizontal scroll: ${JSON.stringify(layout)}`);
      for (const k of ["send", "input", "model", "pre"]) {
        assert.ok(layout[k].left >= 0 && layout[k].right <= layout.width, `${k} fits the width: ${JSON.stringify(layout[k])}`);
      }
      assert.ok(layout.send.bottom <= 700 && layout.input.bottom <= 700, "the composer is on screen");
      assert.ok(layout.send.height >= 40, "a finger-sized Send button");
      await shot(page, "demo-phone");

      // The embed section below the chat fits too.
      await page.locator("#embed").scrollIntoViewIfNeeded();
      const embedWidth = await page.evaluate(() => ({ el: document.querySelector("hf-chat").getBoundingClientRect().right, sw: document.documentElement.scrollWidth }));
      assert.ok(embedWidth.el <= 375 && embedWidth.sw <= 375, JSON.stringify(embedWidth));
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// <hf-chat> in a plain page

describe("<hf-chat> embedded in a plain page (www/embed.html)", () => {
  const EMBED_READY = "hf-chat:defined";
  const shadow = (page, fn, arg) => page.evaluate(([src, a]) => new Function("root", "el", "arg", src)(document.querySelector("hf-chat").shadowRoot, document.querySelector("hf-chat"), a), [fn, arg]);

  test("streams a reply inside its shadow root (several intermediate states), final text as the simulator's", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "How do I clean the brass?";
    const want = replyTo(prompt);
    const mark = fx.requests.length;
    // A proxy that wants a key from its page: the element's proxy-key attribute carries it.
    const keyed = await startWebServer({ upstream: fx.url, proxyOptions: { requireKey: PAGE_KEY } });
    t.after(() => keyed.close());
    const { context, page, errors } = await open("/www/embed.html?base=/pace/40/v1", { ready: EMBED_READY, server: keyed });
    try {
      await page.evaluate((key) => {
        window.__replies = [];
        document.addEventListener("hf-chat-reply", (e) => window.__replies.push(e.detail.text));
        document.querySelector("hf-chat").setAttribute("proxy-key", key);
      }, PAGE_KEY);
      await recordReplyStates(page, "embed");
      const input = page.locator("hf-chat textarea"); // Playwright's CSS locators pierce open shadow roots
      await input.fill(prompt);
      await input.press("Enter");

      await page.waitForFunction(() => (window.__states?.length ?? 0) >= 3, null, { timeout: WAIT });
      assert.equal(await page.locator("hf-chat .stop").isVisible(), true);
      await shot(page, "embed-streaming");
      await page.locator('hf-chat .msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });

      const messages = await page.evaluate(() => document.querySelector("hf-chat").messages);
      assert.equal(messages.at(-1).content, want.text);
      assert.equal(messages.at(-1).status, "done");
      const states = await page.evaluate(() => window.__states);
      assert.ok(new Set(states.slice(0, -1)).size >= 3, `at least 3 intermediate renderings: ${states.length}`);
      assert.deepEqual(await page.evaluate(() => window.__replies), [want.text], "hf-chat-reply fired once with the text");

      // Rendered inside the shadow root, not in the page.
      assert.equal(await shadow(page, "return root.querySelectorAll('.msg--assistant strong').length"), 1);
      assert.equal(await page.evaluate(() => document.querySelectorAll(".msg--assistant, .body strong").length), 0);
      assert.equal(await page.locator("hf-chat .error").isVisible(), false);

      // The element asked /models for a default model and streamed from the same origin.
      const reqs = chatRequests(mark);
      assert.equal(reqs.length, 1);
      assert.equal(reqs[0].path, "/pace/40/v1/chat/completions");
      assert.equal(JSON.parse(reqs[0].body).model, MODELS[0].id);
      const models = fx.requests.slice(mark).filter((r) => r.path.endsWith("/models"));
      assert.equal(models.length, 1);
      // The proxy accepted the page's key (the requests got through) and did not pass it on;
      // the upstream got the proxy's own token.
      assert.deepEqual([models[0].headers["x-proxy-key"], reqs[0].headers["x-proxy-key"]], [undefined, undefined]);
      assert.equal(reqs[0].headers.authorization, `Bearer ${TEST_TOKEN}`);
      assert.deepEqual(
        keyed.requests.filter((r) => r.proxied).map((r) => r.status),
        [200, 200],
        "the models list and the chat were both admitted with the key",
      );
      await shot(page, "embed-done");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("Stop keeps the partial reply, marked stopped, with no error", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "Tell me everything about lamps";
    const full = replyTo(prompt).text;
    const mark = fx.requests.length;
    const { context, page, errors } = await open("/www/embed.html?base=/pace/100/v1", { ready: EMBED_READY });
    try {
      await page.locator("hf-chat textarea").fill(prompt);
      await page.locator("hf-chat textarea").press("Enter");
      await page.waitForFunction(() => (document.querySelector("hf-chat").messages.at(-1)?.content?.length ?? 0) >= 30, null, { timeout: WAIT });
      await page.locator("hf-chat .stop").click();
      await page.locator('hf-chat .msg--assistant[data-status="stopped"]').waitFor({ timeout: WAIT });
      const last = (await page.evaluate(() => document.querySelector("hf-chat").messages)).at(-1);
      assert.ok(last.content.length >= 30 && full.startsWith(last.content) && last.content.length < full.length, JSON.stringify(last.content));
      assert.equal((await page.locator("hf-chat .msg--assistant .badge").textContent()).trim(), "stopped");
      assert.equal(await page.locator("hf-chat .error").isVisible(), false, "no error shown");
      assert.equal(await page.locator("hf-chat .send").isVisible(), true);
      const req = await lastChatClosed(mark);
      assert.equal(req.aborted, true);
      await shot(page, "embed-stopped");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("CSS custom properties theme the element through its shadow root", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await open("/www/embed.html", { ready: EMBED_READY });
    try {
      const styles = () =>
        page.evaluate(() => {
          const el = document.querySelector("hf-chat");
          const cs = (n) => getComputedStyle(n);
          const send = el.shadowRoot.querySelector(".send");
          return {
            accent: cs(send).backgroundColor,
            bg: cs(el).backgroundColor,
            fg: cs(el).color,
            radius: cs(el).borderTopLeftRadius,
            font: cs(el.shadowRoot.querySelector("textarea")).fontFamily,
          };
        });
      // embed.html's theme: --hf-chat-accent #b45309, bg #fffdf9, fg #2b2118, radius 18px, "Trebuchet MS".
      const themed = await styles();
      assert.deepEqual(
        { ...themed, font: themed.font.split(",")[0].replaceAll('"', "") },
        { accent: "rgb(180, 83, 9)", bg: "rgb(255, 253, 249)", fg: "rgb(43, 33, 24)", radius: "18px", font: "Trebuchet MS" },
      );
      // Changing a variable restyles it live.
      await page.evaluate(() => document.querySelector("hf-chat").style.setProperty("--hf-chat-accent", "#00aa77"));
      assert.equal((await styles()).accent, "rgb(0, 170, 119)");
      await page.evaluate(() => document.querySelector("hf-chat").style.setProperty("--hf-chat-radius", "3px"));
      assert.equal((await styles()).radius, "3px");
    } finally {
      await context.close();
    }
  });

  test("a 429 shows the error inside the element with a countdown", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await open("/www/embed.html?base=/status/429/v1", { ready: EMBED_READY });
    try {
      // The model list is rate limited too, so the element is told its model (the proxy
      // refuses a request without one).
      await page.evaluate(() => document.querySelector("hf-chat").setAttribute("model", "fixture/chat-simulator"));
      await page.locator("hf-chat textarea").fill("hello");
      await page.locator("hf-chat textarea").press("Enter");
      const error = page.locator('hf-chat .error[data-kind="rate-limit"]');
      await error.waitFor({ timeout: 15_000 });
      assert.match(await error.textContent(), /Too many messages right now/);
      assert.ok((await error.textContent()).includes(lastRequestId("/status/429/")), "the proxy's request id, as sent upstream");
      assert.match(await error.locator(".countdown").textContent(), /^(Try again in \d+ s\.|You can try again now\.)$/);
      await shot(page, "embed-rate-limited");
      await error.locator('.countdown[data-seconds="0"]').waitFor({ timeout: WAIT });
      assert.equal(await page.locator("hf-chat .msg--assistant").count(), 0);
    } finally {
      await context.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// What people expect of a chat page (issue 14): the offline simulator's models, code blocks,
// streaming that can be read and selected, the conversation kept, errors in plain words,
// the embed from another origin, the Worker. Screenshots at desktop and 390 px wide.

const PHONE = { width: 390, height: 780 };
const DESKTOP = { width: 1100, height: 800 };
const demoText = (model, content, seed = 1) => demoReply({ model, messages: [{ role: "user", content }], seed });
const lastReply = (page) => page.locator("article.msg--assistant").last();
const doneCount = (page) => page.locator('article.msg--assistant[data-status="done"]').count();
async function ask(page, text, { done = true } = {}) {
  const before = await doneCount(page);
  await page.locator("#input").fill(text);
  await page.locator("#input").press("Enter");
  if (done) await waitFor(async () => (await doneCount(page)) > before, { timeout: WAIT, message: `the reply to ${JSON.stringify(text)}` });
}
const pickModel = (page, id) => page.locator("#model").selectOption(id);

describe("the offline demo's simulated models", () => {
  test("each simulated model answers the same question in its own words; the Rust chip gets highlighted Rust with a working Copy", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page, errors } = await open("/www/?base=/demo/1/v1", { viewport: DESKTOP });
    try {
      // Clipboard permissions are engine-specific; without them the Copy button's fallback
      // (select the code, say "Press Ctrl+C") is what is checked.
      const clipboard = await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: web.url }).then(
        () => true,
        () => false,
      );
      const options = await page.locator("#model option").evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, DEMO_MODELS.map((m) => m.id), "the picker lists the simulated models");
      const prompt = "Why compile a chat client to WebAssembly?";
      const texts = [];
      for (const model of ["simulator/quick-8b", "simulator/chatty-mini"]) {
        await pickModel(page, model);
        await ask(page, prompt);
        texts.push((await demoMessages(page)).at(-1).content);
        assert.equal(texts.at(-1), demoText(model, prompt), `${model}'s seeded reply`);
      }
      assert.notEqual(texts[0], texts[1], "two models, two different answers");
      assert.doesNotMatch(texts.join("\n"), /You asked:|deterministic reply/, "no echoed template");

      await page.locator("#new-chat").click();
      await pickModel(page, "simulator/careful-70b");
      await page.getByRole("button", { name: "Show me some Rust code" }).click();
      await waitFor(async () => (await doneCount(page)) === 1, { timeout: WAIT, message: "the Rust reply" });
      const block = lastReply(page).locator(".code");
      assert.equal(await block.count(), 1);
      assert.equal((await block.locator(".code__lang").textContent()).trim(), "rust");
      assert.equal(await block.locator("pre code.language-rust").count(), 1);
      // highlight.js coloured it: `fn` is a keyword span, and the text is exactly the code.
      await block.locator("pre[data-hl='rust'] .hljs-keyword").first().waitFor({ timeout: WAIT });
      assert.equal((await block.locator(".hljs-keyword").first().textContent()).trim(), "fn");
      const code = await block.locator("pre code").textContent();
      assert.ok(code.startsWith("fn reverse(s: &str) -> String {") && code.includes("s.chars().rev().collect()"), code);
      await block.locator(".code__copy").click();
      // What the button says right after the click: "Copied" (the clipboard took the code)
      // or the fallback "Press Ctrl+C" (the code is selected). With the permission granted
      // (Chromium) it must be "Copied"; Firefox refuses the grant but lets a click write the
      // clipboard, and reading it back needs a paste, so there a paste checks it.
      let said;
      await waitFor(async () => ["Copied", "Press Ctrl+C"].includes((said = await block.locator(".code__copy").textContent())), { timeout: WAIT, message: "Copied or the fallback" });
      if (clipboard) assert.equal(said, "Copied", "with the clipboard permission, Copy copies");
      if (said === "Copied" && clipboard) {
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code, "Copy put the code on the clipboard");
      } else if (said === "Copied") {
        await page.locator("#input").fill("");
        await page.locator("#input").press("Control+V");
        await waitFor(async () => (await page.locator("#input").inputValue()) !== "", { timeout: WAIT, message: "the paste" });
        assert.equal(await page.locator("#input").inputValue(), code, "Copy put the code on the clipboard (pasted back)");
        await page.locator("#input").fill("");
      } else {
        assert.equal(await page.evaluate(() => getSelection().toString()), code, "the code is selected for copying");
      }
      // Offline costs are labelled simulated.
      assert.match(await lastReply(page).locator('[data-figure="cost"]').textContent(), /^\$[\d.e-]+ \(simulated\)$/);
      await shot(page, "sim-rust-desktop");
      await page.setViewportSize(PHONE);
      await shot(page, "sim-rust-390");
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= PHONE.width, `nothing scrolls sideways at 390 px: ${wide}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("while a reply streams: no raw ** appears, earlier text keeps its nodes and a selection in it survives", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const prompt = "Explain server-sent events in one paragraph";
    const model = "simulator/careful-70b";
    const want = demoText(model, prompt);
    assert.match(want, /\*\*Caveat:\*\*/, "the reply has bold text to stream");
    const { context, page, errors } = await open("/www/?base=/pace/40/demo/1/v1", { viewport: DESKTOP });
    try {
      await pickModel(page, model);
      await recordReplyStates(page, "demo");
      await ask(page, prompt, { done: false });
      // The first paragraph is there: select part of it, tag its node.
      const selected = await page.waitForFunction(
        () => {
          const p = document.querySelector("article.msg--assistant .msg__body p");
          if (!p || (p.textContent?.length ?? 0) < 40 || !p.nextElementSibling) return false;
          p.__tag = "first";
          const range = document.createRange();
          range.setStart(p.firstChild, 0);
          range.setEnd(p.firstChild, 30);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          return getSelection().toString();
        },
        null,
        { timeout: WAIT },
      );
      const want30 = await selected.jsonValue();
      assert.equal(want30.length, 30);
      const grown = await page.evaluate(() => window.hfChatDemo.messages.at(-1).content.length);
      await page.waitForFunction((n) => window.hfChatDemo.messages.at(-1).content.length > n + 150, grown, { timeout: WAIT });
      const during = await page.evaluate(() => ({
        streaming: window.hfChatDemo.streaming,
        same: document.querySelector("article.msg--assistant .msg__body p").__tag === "first",
        selection: getSelection().toString(),
      }));
      assert.deepEqual(during, { streaming: true, same: true, selection: want30 }, "the paragraph was not rebuilt and the selection held while text kept arriving");
      await page.locator('article.msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      assert.equal((await demoMessages(page)).at(-1).content, want);
      const states = await page.evaluate(() => window.__states);
      assert.ok(states.length >= 10, `streamed in many steps: ${states.length}`);
      const starred = states.filter((s) => s.includes("*"));
      assert.deepEqual(starred, [], "no asterisk was ever shown");
      assert.equal(await lastReply(page).locator("blockquote strong").textContent(), "Caveat:");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

describe("the conversation", () => {
  test("survives a reload, with a heading per message for screen readers; New chat clears it for good", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page, errors } = await open("/www/?base=/demo/1/v1", { viewport: DESKTOP });
    try {
      await ask(page, "hello");
      await ask(page, "Tell me about tokens");
      const before = await demoMessages(page);
      assert.equal(before.length, 4);
      await page.reload();
      await page.waitForSelector("html[data-ready]", { state: "attached", timeout: WAIT });
      const after = await demoMessages(page);
      assert.deepEqual(after.map((m) => [m.role, m.content, m.status ?? null]), before.map((m) => [m.role, m.content, m.status ?? null]));
      assert.equal(await page.locator("article.msg--assistant .msg__body p").count() > 0, true, "restored replies are rendered");
      assert.deepEqual(
        await page.locator("article.msg h2").allTextContents(),
        ["You said", "Assistant", "You said", "Assistant"],
        "one heading per message",
      );
      assert.equal(await page.locator("#empty").isVisible(), false);
      await shot(page, "conversation-restored");

      await page.locator("#new-chat").click();
      assert.equal(await page.locator("article.msg").count(), 0);
      assert.equal(await page.locator("#empty").isVisible(), true);
      await page.reload();
      await page.waitForSelector("html[data-ready]", { state: "attached", timeout: WAIT });
      assert.equal(await page.locator("article.msg").count(), 0, "a new chat stays new after a reload");
      assert.equal(await page.evaluate(() => localStorage.getItem("hf-chat-demo:conversation")), null);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("Regenerate asks again without the old reply; Edit puts the last message back in the box", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const mark = fx.requests.length;
    const { context, page, errors } = await open("/www/?base=/demo/1/v1", { viewport: DESKTOP });
    try {
      await ask(page, "hello");
      assert.equal(await page.getByRole("button", { name: "Regenerate" }).count(), 1, "Regenerate on the last reply");
      assert.equal(await page.getByRole("button", { name: "Edit" }).count(), 1, "Edit on the last message");
      await page.getByRole("button", { name: "Regenerate" }).click();
      await waitFor(async () => chatRequests(mark).length === 2 && (await doneCount(page)) === 1, { timeout: WAIT, message: "the regenerated reply" });
      assert.deepEqual(JSON.parse(chatRequests(mark)[1].body).messages, [{ role: "user", content: "hello" }], "the old reply is not sent back");
      assert.equal((await demoMessages(page)).length, 2, "the new reply replaced the old one");

      await page.getByRole("button", { name: "Edit" }).click();
      assert.equal(await page.locator("#input").inputValue(), "hello");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "input");
      assert.equal(await page.locator("article.msg").count(), 0, "the message and its reply are taken back");
      await page.locator("#input").fill("Tell me about tokens");
      await page.locator("#input").press("Enter");
      await waitFor(async () => (await doneCount(page)) === 1, { timeout: WAIT, message: "the edited message's reply" });
      assert.deepEqual(JSON.parse(chatRequests(mark).at(-1).body).messages, [{ role: "user", content: "Tell me about tokens" }]);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("a message that got no answer is marked not sent and left out of the next request", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const mark = fx.requests.length;
    const { context, page } = await open(`/www/?base=/fault/fail-then-ok/400/3/notsent-${engine}/demo/1/v1`, { viewport: DESKTOP }); // a counter per engine; the model list and the price list (either order), then the first message
    try {
      await ask(page, "First try", { done: false });
      const banner = page.locator('#banners .banner[data-kind="request"]');
      await banner.waitFor({ timeout: 15_000 });
      assert.equal((await banner.locator(".banner__title").textContent()).trim(), "The server could not use this request");
      assert.equal(await banner.getByRole("button", { name: "Retry" }).count(), 0, "a 400 will fail again: no Retry");
      const first = page.locator("article.msg--user").first();
      assert.equal(await first.locator(".badge--not-sent").isVisible(), true);
      assert.equal((await first.locator(".badge--not-sent").textContent()).trim(), "not sent");
      await ask(page, "hello");
      assert.deepEqual(JSON.parse(chatRequests(mark).at(-1).body).messages, [{ role: "user", content: "hello" }]);
      assert.equal(await first.locator(".badge--not-sent").isVisible(), true, "still marked");
      await shot(page, "not-sent");
    } finally {
      await context.close();
    }
  });
});

describe("errors a person can read", () => {
  test("a bad server token: said in plain words, no Retry, at desktop and 390 px", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    for (const [name, viewport] of [
      ["desktop", DESKTOP],
      ["390", PHONE],
    ]) {
      const { context, page } = await open("/www/?base=/status/401/v1", { viewport });
      try {
        await ask(page, "hello", { done: false });
        const banner = page.locator('#banners .banner[data-kind="token"]');
        await banner.waitFor({ timeout: 15_000 });
        assert.equal((await banner.locator(".banner__title").textContent()).trim(), "The server's access token was refused");
        assert.match(await banner.locator(".banner__text").textContent(), /needs to set a valid HF_TOKEN and restart it; trying again will not help\./);
        assert.equal(await banner.getByRole("button", { name: "Retry" }).count(), 0, "no Retry for a refused server token");
        assert.doesNotMatch(await banner.locator(".banner__text").textContent(), /HTTP|502|attempts/);
        await banner.locator(".banner__details summary").click();
        assert.match(await banner.locator(".banner__detail").textContent(), /HF_TOKEN/);
        await shot(page, `error-token-${name}`);
      } finally {
        await context.close();
      }
    }
  });

  test("a connection lost mid-reply keeps the partial reply in view, says so plainly, and does not send it back", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    for (const [name, viewport] of [
      ["390", PHONE],
      ["desktop", DESKTOP],
    ]) {
      const mark = fx.requests.length;
      const { context, page } = await open("/www/?base=/fault/drop-mid/v1", { viewport });
      try {
        // Some history first, so the interrupted reply sits at the bottom of a full log.
        await page.evaluate(() => {
          const saved = Array.from({ length: 6 }, (_, i) => [
            { role: "user", content: `Earlier question ${i}` },
            { role: "assistant", content: `Earlier answer ${i}.\n\n- one point\n- another point`, status: "done" },
          ]).flat();
          localStorage.setItem("hf-chat-demo:conversation", JSON.stringify({ version: 1, messages: saved }));
        });
        await page.reload();
        await page.waitForSelector("html[data-ready]", { state: "attached", timeout: WAIT });
        await ask(page, "Tell me a story", { done: false });
        const reply = page.locator('article.msg--assistant[data-status="error"]');
        await reply.waitFor({ timeout: 15_000 });
        assert.equal((await reply.locator(".msg__body").textContent()).trim(), FAULT_PARTIAL_TEXT, "what arrived is kept");
        assert.equal((await reply.locator(".badge").textContent()).trim(), "interrupted");
        assert.match(await reply.locator(".msg__note").textContent(), /not sent back to the model/);
        const banner = page.locator("#banners .banner").first();
        await banner.waitFor({ timeout: WAIT });
        const title = (await banner.locator(".banner__title").textContent()).trim();
        const text = (await banner.locator(".banner__text").textContent()).trim();
        assert.match(text, /The part of the reply that arrived is kept above\./);
        assert.doesNotMatch(title + text, /CORS|\(\(|\)\)|network error|HTTP/, `plain words: ${title} ${text}`);
        assert.equal(await banner.locator(".banner__detail").isVisible(), false, "the technical detail is one click away");
        // Not covered: the reply's text is inside the log's visible box, above the banner.
        await page.waitForTimeout(150); // let the resize observer keep the end in view
        const box = await page.evaluate(() => {
          const log = document.getElementById("log").getBoundingClientRect();
          const body = [...document.querySelectorAll('article.msg--assistant[data-status="error"] .msg__body')].at(-1).getBoundingClientRect();
          const banner = document.querySelector("#banners .banner").getBoundingClientRect();
          return { logTop: log.top, logBottom: log.bottom, top: body.top, bottom: body.bottom, bannerTop: banner.top };
        });
        assert.ok(box.top >= box.logTop && box.bottom <= box.logBottom && box.bottom <= box.bannerTop, `the partial reply is in view: ${JSON.stringify(box)}`);
        await shot(page, `error-interrupted-${name}`);

        await ask(page, "And then?", { done: false });
        await waitFor(() => chatRequests(mark).length >= 2, { timeout: 15_000, message: "the follow-up request" });
        const sent = JSON.parse(chatRequests(mark).at(-1).body).messages;
        assert.ok(!sent.some((m) => m.role === "assistant" && m.content === FAULT_PARTIAL_TEXT), `the interrupted reply is not sent as context: ${JSON.stringify(sent.slice(-3))}`);
        assert.deepEqual(sent.at(-1), { role: "user", content: "And then?" });
      } finally {
        await context.close();
      }
    }
  });
});

describe("the embed from another origin, and the Worker", () => {
  test("the README's embed snippet, verbatim, works from a page on another port", T, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const m = /<!-- embed-snippet -->\s*```html\n([\s\S]*?)```/.exec(readme);
    assert.ok(m, "the README has the embed snippet");
    const snippet = m[1];
    assert.match(snippet, /http:\/\/127\.0\.0\.1:8080\/www\/hf-chat\.js/);
    // The demo server on its own port (as `make demo` is on 8080), the page on another.
    const dir = await mkdtemp(path.join(os.tmpdir(), "hf-embed-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, "index.html"), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another site</title><link rel="icon" href="data:,"></head><body><h1>Another site</h1>\n${snippet.replaceAll("http://127.0.0.1:8080", web.url)}\n</body></html>`);
    const site = await startStaticServer({ "/": dir });
    t.after(() => site.close());
    assert.notEqual(new URL(site.url).port, new URL(web.url).port);
    const mark = fx.requests.length;
    const { context, page, errors } = await open("/", { server: site, ready: "hf-chat:defined", viewport: DESKTOP });
    try {
      await page.locator("hf-chat textarea").fill("hello");
      await page.locator("hf-chat textarea").press("Enter");
      await page.locator('hf-chat .msg--assistant[data-status="done"]').waitFor({ timeout: WAIT });
      const last = (await page.evaluate(() => document.querySelector("hf-chat").messages)).at(-1);
      assert.equal(last.content, replyTo("hello").text);
      const req = chatRequests(mark).at(-1);
      assert.equal(req.headers.authorization, `Bearer ${TEST_TOKEN}`, "through the demo's proxy");
      assert.equal(await page.locator("hf-chat .error").isVisible(), false);
      await shot(page, "embed-cross-origin");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("make demo-worker: the page streams a reply through the proxy Worker running on workerd", { timeout: 60_000 }, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { startWorkerDemo } = await import("../../worker/dev.mjs");
    const demo = await within(startWorkerDemo({ pace: 5, seed: 1 }), 40_000, "startWorkerDemo");
    t.after(() => demo.close());
    const { context, page, errors } = await open("/www/", { server: demo, viewport: DESKTOP });
    try {
      await page.locator("#offline-notice").waitFor({ state: "visible" });
      await pickModel(page, "simulator/chatty-mini");
      await ask(page, "hello");
      assert.equal((await demoMessages(page)).at(-1).content, demoText("simulator/chatty-mini", "hello"));
      await shot(page, "demo-worker");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
