// The Firefox facade (./engines.mjs) keeps the Playwright semantics the page tests lean on.
// Each check here is one the page tests would silently lose if the facade were lenient:
// CSS that pierces open shadow roots, strictness, bounded auto-waiting, role + name
// matching that skips hidden elements, and visibility. The same checks run through
// Playwright in Chromium, so the facade is held to what Playwright does, not to itself.
//
// Run: node --test tests/js/engines.test.mjs. An engine whose browser is missing skips with
// the reason printed.

import { test as nodeTest, before, after } from "node:test";
import assert from "node:assert/strict";

import { ENGINES, launchEngine } from "./engines.mjs";

const PAGE = `<!doctype html><html><body>
  <p class="a">one</p><p class="a">two</p>
  <section id="s"><span class="deep">light</span></section>
  <x-host id="h"></x-host>
  <div style="display:none"><button>Retry</button></div>
  <details><summary>More</summary><p class="inside">hidden detail</p></details>
  <button aria-label="Send the message">➤</button><button disabled>Later</button>
  <select id="m"><option value="a">A</option><option value="b">B</option></select>
  <textarea id="t"></textarea>
  <script>
    const root = document.getElementById("h").attachShadow({ mode: "open" });
    root.innerHTML = '<div class="log"><span class="deep">shadow</span><button>Retry</button></div>';
    document.getElementById("m").addEventListener("change", (e) => (document.body.dataset.picked = e.target.value));
    document.getElementById("t").addEventListener("input", (e) => (document.body.dataset.typed = e.target.value));
  </script>
</body></html>`;

const engines = {};
before(async () => {
  for (const e of ENGINES) {
    engines[e] = await launchEngine(e);
    if (engines[e].skipReason) console.log(`# engines: [${e}] tests skipped: ${engines[e].skipReason}`);
  }
}, { timeout: 90_000 });
after(async () => {
  for (const e of Object.values(engines)) await e.browser?.close();
});

function test(name, fn) {
  for (const e of ENGINES) {
    nodeTest(`[${e}] ${name}`, { timeout: 30_000 }, async (t) => {
      const { browser, skipReason } = engines[e];
      if (skipReason) return t.skip(skipReason);
      const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
      context.setDefaultTimeout(2_000);
      try {
        const page = await context.newPage();
        await page.goto("about:blank");
        await page.evaluate((html) => {
          document.open();
          document.write(html);
          document.close();
        }, PAGE);
        await page.waitForSelector("#h", { state: "attached" });
        await fn(page);
      } finally {
        await context.close();
      }
    });
  }
}

test("CSS locators pierce open shadow roots, and descend from an outer match", async (page) => {
  assert.deepEqual(await page.locator(".deep").allTextContents(), ["light", "shadow"]);
  assert.equal(await page.locator("x-host .deep").textContent(), "shadow");
  assert.equal(await page.locator("#s .deep").textContent(), "light");
  assert.equal(await page.locator("x-host").locator(".log span").textContent(), "shadow");
  assert.equal(await page.locator("p.a, #s .deep").count(), 3);
  assert.equal(await page.locator("body > p.a").count(), 2);
});

test("single-element calls are strict; first() and last() pick one", async (page) => {
  await assert.rejects(page.locator("p.a").textContent(), /strict mode violation/);
  assert.equal(await page.locator("p.a").first().textContent(), "one");
  assert.equal(await page.locator("p.a").last().textContent(), "two");
});

test("a call on a missing element waits, then fails within its timeout", async (page) => {
  await assert.rejects(page.locator(".nowhere").textContent({ timeout: 300 }), /Timeout|timed out|exceeded/i);
  await assert.rejects(page.locator(".nowhere").waitFor({ timeout: 300 }), /Timeout|timed out|exceeded/i);
  await page.evaluate(() => setTimeout(() => document.body.insertAdjacentHTML("beforeend", '<b class="late">late</b>'), 200));
  assert.equal(await page.locator(".late").textContent(), "late");
});

test("getByRole matches the accessible name case-insensitively as a substring, among visible elements", async (page) => {
  // The display:none button is left out; the shadow root's is found.
  assert.equal(await page.getByRole("button", { name: "retry" }).count(), 1);
  assert.equal(await page.locator("x-host").getByRole("button", { name: "Retry" }).count(), 1);
  assert.equal(await page.getByRole("button", { name: "send the" }).count(), 1, "aria-label names a button");
  assert.equal(await page.getByRole("button", { name: "Later" }).isEnabled(), false);
});

test("visibility: no box or a closed <details> is not visible", async (page) => {
  assert.equal(await page.locator("#s").isVisible(), true);
  assert.equal(await page.locator("details .inside").isVisible(), false);
  await page.locator("details summary").click();
  await page.locator("details .inside").waitFor();
  assert.equal(await page.locator("details .inside").isVisible(), true);
});

test("fill, press, selectOption and inputValue reach the page's listeners", async (page) => {
  await page.locator("#t").fill("hello");
  assert.equal(await page.evaluate(() => document.body.dataset.typed), "hello");
  await page.locator("#t").press("Shift+Enter");
  await page.keyboard.type("x");
  assert.equal(await page.locator("#t").inputValue(), "hello\nx");
  await page.locator("#m").selectOption("b");
  assert.equal(await page.evaluate(() => document.body.dataset.picked), "b");
  assert.deepEqual(await page.locator("#m option").evaluateAll((os) => os.map((o) => o.value)), ["a", "b"]);
});
