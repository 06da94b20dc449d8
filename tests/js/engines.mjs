// The browser engines the page tests run in, each launched the way this machine can:
//   chromium  Debian's Chromium driven by playwright-core (its own API)
//   firefox   Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi, behind a
//             small facade with the part of Playwright's page API the tests use
// so one test body runs in both with the same assertions. (playwright-core's own Firefox
// needs its patched build, which downloads; its WebDriver BiDi mode needs commands that
// Firefox 140 ESR lacks, `network.addDataCollector`.)
//
// The facade keeps the Playwright semantics the assertions lean on: CSS locators pierce open
// shadow roots; single-element calls are strict (more than one match is an error) and wait
// (bounded) for the element; `isVisible()`, `count()` and `allTextContents()` do not wait;
// `getByRole(role, { name })` matches the accessible name case-insensitively, as a substring,
// among elements not hidden. Only what the tests call is there; anything else throws.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { within } from "./helpers.mjs";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The engines the tests run in, in order; `BROWSER_ENGINES=firefox` (comma-separated)
 *  narrows them while iterating. */
export const ENGINES = (process.env.BROWSER_ENGINES || "chromium,firefox").split(",").map((s) => s.trim()).filter(Boolean);

export const EXECUTABLES = {
  chromium: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  firefox: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr",
};
const INSTALL = {
  chromium: "apt-get install chromium, or set CHROMIUM_PATH",
  firefox: "apt-get install firefox-esr (scripts/setup.sh --browser), or set FIREFOX_PATH",
};

/**
 * Launch `engine`. Resolves `{ browser, skipReason }`: a Playwright-shaped browser, or no
 * browser and the reason (the executable is missing), which the caller prints.
 */
export async function launchEngine(engine) {
  const executablePath = EXECUTABLES[engine];
  if (!executablePath) throw new Error(`unknown engine ${engine}; known: ${Object.keys(EXECUTABLES)}`);
  if (!existsSync(executablePath)) return { skipReason: `no ${engine} at ${executablePath} (${INSTALL[engine]})` };
  if (engine === "chromium") {
    const { chromium } = await import("playwright-core"); // a devDependency: missing means `npm ci` was not run
    return { browser: await within(chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 20_000 }), 25_000, "chromium.launch") };
  }
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = await mkdtemp(path.join(os.tmpdir(), "hf-firefox-profile-"));
  const launched = puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    protocol: "webDriverBiDi",
    userDataDir: profile,
    timeout: 30_000,
    // Keep a test run offline and quiet: no update checks, telemetry or first-run pages.
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "browser.shell.checkDefaultBrowser": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "toolkit.telemetry.enabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
      "browser.safebrowsing.malware.enabled": false,
      "browser.safebrowsing.phishing.enabled": false,
    },
  });
  const pp = await within(launched, 40_000, "firefox launch").catch(async (e) => {
    await rm(profile, { recursive: true, force: true });
    throw e;
  });
  return { browser: new Browser(pp, profile) };
}

// ---------------------------------------------------------------------------------------
// The facade over puppeteer-core

class Browser {
  constructor(pp, profile) {
    this.pp = pp;
    this.profile = profile;
  }
  version() {
    return this.pp.version();
  }
  async newContext({ viewport = { width: 1280, height: 720 } } = {}) {
    return new Context(await this.pp.createBrowserContext(), viewport);
  }
  async close() {
    await this.pp.close().catch(() => {});
    await rm(this.profile, { recursive: true, force: true });
  }
}

class Context {
  constructor(ctx, viewport) {
    this.ctx = ctx;
    this.viewport = viewport;
    this.timeout = 30_000;
    this.pages = [];
  }
  setDefaultTimeout(ms) {
    this.timeout = ms;
    for (const p of this.pages) p.timeout = ms;
  }
  async newPage() {
    const p = await this.ctx.newPage();
    await p.setViewport(this.viewport);
    p.setDefaultTimeout(this.timeout);
    const page = new Page(p, this.timeout);
    this.pages.push(page);
    return page;
  }
  /** Playwright's names; rejects where the engine refuses (the caller falls back). */
  async grantPermissions(permissions, { origin }) {
    await this.ctx.overridePermissions(origin, permissions);
  }
  async close() {
    await this.ctx.close().catch(() => {});
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Page {
  constructor(p, timeout) {
    this.p = p;
    this.timeout = timeout;
    this.keyboard = {
      press: (combo) => pressCombo(p, combo),
      type: (text) => p.keyboard.type(text),
    };
  }
  on(event, fn) {
    const wrap = {
      console: (m) =>
        fn({
          // Playwright says "warning" where puppeteer says "warn".
          type: () => (m.type() === "warn" ? "warning" : m.type()),
          text: () => m.text(),
          location: () => m.location(),
        }),
      pageerror: (e) => fn(e),
      dialog: (d) => fn({ message: () => d.message(), dismiss: () => d.dismiss() }),
      requestfailed: (r) => fn({ url: () => r.url(), failure: () => r.failure() }),
    }[event];
    if (!wrap) throw new Error(`facade: page.on(${event}) is not implemented`);
    this.p.on(event, wrap);
  }
  async goto(url, { timeout = this.timeout } = {}) {
    return this.p.goto(url, { timeout, waitUntil: "load" });
  }
  async reload() {
    return this.p.reload({ timeout: this.timeout, waitUntil: "load" });
  }
  /** Not strict, like Playwright's: any match will do. */
  async waitForSelector(selector, { state = "visible", timeout = this.timeout } = {}) {
    const loc = this.locator(selector);
    await poll(this, async () => {
      const s = await loc._state();
      return state === "attached" ? s.count > 0 : state === "visible" ? s.visible > 0 : state === "detached" ? s.count === 0 : s.visible === 0;
    }, timeout, `waitForSelector(${selector}, ${state})`);
  }
  screenshot({ path: file, timeout } = {}) {
    return within(this.p.screenshot({ path: file }), timeout ?? this.timeout, "screenshot");
  }
  evaluate(fn, arg) {
    return this.p.evaluate(fn, arg);
  }
  waitForFunction(fn, arg, { timeout = this.timeout, polling } = {}) {
    return this.p.waitForFunction(fn, { timeout, polling: typeof polling === "number" ? polling : "raf" }, arg);
  }
  waitForTimeout(ms) {
    return sleep(ms);
  }
  setViewportSize(viewport) {
    return this.p.setViewport(viewport);
  }
  locator(selector) {
    return new Locator(this, [{ css: selector }]);
  }
  getByRole(role, { name } = {}) {
    return new Locator(this, [{ role, name }]);
  }
}

/** "Shift+Enter" → hold Shift, press Enter, let go. */
async function pressCombo(p, combo) {
  const keys = combo.split("+");
  const key = keys.pop();
  for (const m of keys) await p.keyboard.down(m);
  await p.keyboard.press(key);
  for (const m of keys.reverse()) await p.keyboard.up(m);
}

/** Poll `check` (async, true when done) every 50 ms, bounded by `timeout`. */
async function poll(page, check, timeout, what) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (e) {
      if (e?.strict) throw e;
      last = e;
    }
    if (Date.now() >= end) throw new Error(`facade: ${what} timed out after ${timeout} ms${last ? `: ${last.message}` : ""}`);
    await sleep(50);
  }
}

class Locator {
  constructor(page, steps) {
    this.page = page;
    this.steps = steps;
  }
  locator(selector) {
    return new Locator(this.page, [...this.steps, { css: selector }]);
  }
  getByRole(role, { name } = {}) {
    return new Locator(this.page, [...this.steps, { role, name }]);
  }
  first() {
    return new Locator(this.page, [...this.steps, { nth: 0 }]);
  }
  last() {
    return new Locator(this.page, [...this.steps, { nth: -1 }]);
  }
  toString() {
    return this.steps.map((s) => (s.css ? s.css : s.role ? `role=${s.role}[name=${JSON.stringify(s.name)}]` : `nth=${s.nth}`)).join(" >> ");
  }

  // --- queries in the page
  _run(op, arg) {
    return this.page.p.evaluate(inPage, this.steps, op, arg ?? null);
  }
  _state() {
    return this._run("state");
  }
  /** Wait (bounded) for exactly one element, then run `op` on it. More than one is a
   *  strict-mode error, as in Playwright. */
  async _one(op, arg, { timeout } = {}) {
    timeout ??= this.page.timeout;
    let out;
    await poll(this.page, async () => {
      const r = await this._run(op, arg);
      if (r.count > 1) throw Object.assign(new Error(`facade: strict mode violation: ${this} resolved to ${r.count} elements`), { strict: true });
      if (r.count === 0 || r.retry) return false;
      out = r.value;
      return true;
    }, timeout, `${op} on ${this}`);
    return out;
  }
  async _handle() {
    await this._one("state");
    const h = await this.page.p.evaluateHandle(inPage, this.steps, "element", null);
    const el = h.asElement();
    if (!el) throw new Error(`facade: ${this} is gone`);
    return el;
  }

  // --- Playwright's locator API, the part the tests use
  async count() {
    return (await this._state()).count;
  }
  async isVisible() {
    const s = await this._state();
    if (s.count > 1) throw new Error(`facade: strict mode violation: ${this} resolved to ${s.count} elements`);
    return s.visible === 1;
  }
  isEnabled() {
    return this._one("enabled");
  }
  textContent({ timeout } = {}) {
    return this._one("textContent", null, { timeout });
  }
  innerText() {
    return this._one("innerText");
  }
  inputValue() {
    return this._one("inputValue");
  }
  getAttribute(name) {
    return this._one("attribute", name);
  }
  async allTextContents() {
    return (await this._run("allTextContents")).value;
  }
  async evaluateAll(fn, arg) {
    const h = await this.page.p.evaluateHandle(inPage, this.steps, "elements", null);
    try {
      return await h.evaluate(fn, arg);
    } finally {
      await h.dispose().catch(() => {});
    }
  }
  async waitFor({ state = "visible", timeout = this.page.timeout } = {}) {
    await poll(this.page, async () => {
      const s = await this._state();
      if (s.count > 1 && (state === "visible" || state === "attached")) {
        throw Object.assign(new Error(`facade: strict mode violation: ${this} resolved to ${s.count} elements`), { strict: true });
      }
      return state === "attached" ? s.count === 1 : state === "visible" ? s.visible === 1 : state === "detached" ? s.count === 0 : s.visible === 0;
    }, timeout, `waitFor(${state}) on ${this}`);
  }
  async fill(value) {
    await this._one("fill", value);
  }
  async press(key) {
    await this._one("focus");
    await pressCombo(this.page.p, key);
  }
  async click() {
    await this._one("visible");
    const el = await this._handle();
    try {
      await el.click();
    } finally {
      await el.dispose().catch(() => {});
    }
  }
  async selectOption(value) {
    await this._one("select", value);
  }
  async scrollIntoViewIfNeeded() {
    await this._one("scroll");
  }
}

/**
 * Runs in the page: resolve `steps` (CSS that pierces open shadow roots, role + name, nth)
 * and apply `op`. One self-contained function, since it is sent to the page as source.
 */
function inPage(steps, op, arg) {
  // Every element under `root`, shadow trees included (an element, then its open shadow
  // root's elements, then its children), in that order.
  const descendants = (root) => {
    const out = [];
    const walk = (node) => {
      for (let c = node.firstElementChild; c; c = c.nextElementSibling) {
        out.push(c);
        if (c.shadowRoot) walk(c.shadowRoot);
        walk(c);
      }
    };
    if (root.shadowRoot) walk(root.shadowRoot);
    walk(root);
    return out;
  };
  // The parent across shadow boundaries.
  const up = (el) => el.parentElement || (el.parentNode && el.parentNode.host) || null;
  // Split at top-level occurrences of the characters in `seps`, outside brackets and quotes.
  const split = (s, seps) => {
    const parts = [];
    let depth = 0;
    let quote = "";
    let cur = "";
    for (const ch of s) {
      if (quote) {
        if (ch === quote) quote = "";
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "[" || ch === "(") depth++;
      else if (ch === "]" || ch === ")") depth--;
      else if (depth === 0 && seps.includes(ch)) {
        parts.push(cur, ch);
        cur = "";
        continue;
      }
      cur += ch;
    }
    parts.push(cur);
    return parts;
  };
  // A complex selector as [compound, combinator-before-it] from left to right.
  const compile = (complex) => {
    const tokens = split(complex.trim(), " >");
    const out = [];
    let comb = " ";
    for (let i = 0; i < tokens.length; i += 2) {
      const t = tokens[i].trim();
      const sep = tokens[i + 1];
      if (t) {
        out.push([t, comb]);
        comb = " ";
      }
      if (sep === ">") comb = ">";
    }
    return out;
  };
  const matchesFrom = (el, parts, i) => {
    if (!el.matches(parts[i][0])) return false;
    if (i === 0) return true;
    if (parts[i][1] === ">") {
      const p = up(el);
      return !!p && matchesFrom(p, parts, i - 1);
    }
    for (let p = up(el); p; p = up(p)) if (matchesFrom(p, parts, i - 1)) return true;
    return false;
  };
  const css = (roots, selector) => {
    const list = split(selector, ",").filter((_, i) => i % 2 === 0).map(compile);
    const seen = new Set();
    const out = [];
    for (const root of roots) {
      for (const el of descendants(root)) {
        if (seen.has(el)) continue;
        if (list.some((parts) => parts.length && matchesFrom(el, parts, parts.length - 1))) {
          seen.add(el);
          out.push(el);
        }
      }
    }
    return out;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) return false;
    if (getComputedStyle(el).visibility !== "visible") return false;
    return typeof el.checkVisibility === "function" ? el.checkVisibility() : true;
  };
  const hiddenForAria = (el) => {
    for (let e = el; e; e = up(e)) if (e.getAttribute && e.getAttribute("aria-hidden") === "true") return true;
    return typeof el.checkVisibility === "function" ? !el.checkVisibility({ visibilityProperty: true }) : !visible(el);
  };
  const ROLES = {
    button: (el) => el.tagName === "BUTTON" || (el.tagName === "INPUT" && /^(button|submit|reset)$/i.test(el.type)) || el.getAttribute("role") === "button",
  };
  const accessibleName = (el) => {
    const label = el.getAttribute("aria-label");
    if (label) return label;
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => el.getRootNode().getElementById?.(id)?.textContent ?? "").join(" ");
    const text = (el.tagName === "INPUT" ? el.value : el.textContent) || el.getAttribute("title") || "";
    return text;
  };
  const norm = (s) => s.replace(/\s+/g, " ").trim();
  const role = (roots, r, name) => {
    const is = ROLES[r];
    if (!is) throw new Error(`facade: role ${r} is not implemented`);
    const want = name === undefined ? undefined : norm(String(name)).toLowerCase();
    const out = [];
    for (const root of roots) {
      for (const el of descendants(root)) {
        if (!is(el) || hiddenForAria(el)) continue;
        if (want !== undefined && !norm(accessibleName(el)).toLowerCase().includes(want)) continue;
        if (!out.includes(el)) out.push(el);
      }
    }
    return out;
  };

  let els = [document];
  for (const s of steps) {
    if (s.css !== undefined) els = css(els, s.css);
    else if (s.role !== undefined) els = role(els, s.role, s.name);
    else els = els.length ? [els[s.nth < 0 ? els.length + s.nth : s.nth]].filter(Boolean) : [];
  }
  if (op === "element") return els[0];
  if (op === "elements") return els;
  const count = els.length;
  if (op === "state") return { count, visible: els.filter(visible).length };
  if (op === "allTextContents") return { count, value: els.map((e) => e.textContent) };
  if (count !== 1) return { count };
  const el = els[0];
  switch (op) {
    case "textContent":
      return { count, value: el.textContent };
    case "innerText":
      return { count, value: el.innerText };
    case "inputValue":
      return { count, value: el.value };
    case "attribute":
      return { count, value: el.getAttribute(arg) };
    case "enabled":
      return { count, value: !el.disabled };
    case "visible":
      return { count, retry: !visible(el) };
    case "focus":
      el.focus();
      return { count };
    case "scroll":
      el.scrollIntoView({ block: "nearest", inline: "nearest" });
      return { count };
    case "fill":
      if (!visible(el) || el.disabled) return { count, retry: true };
      el.focus();
      el.value = arg;
      el.dispatchEvent(new InputEvent("input", { bubbles: true, composed: true, inputType: "insertText", data: arg }));
      return { count };
    case "select": {
      if (![...el.options].some((o) => o.value === arg)) return { count, retry: true };
      el.value = arg;
      el.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
      return { count };
    }
    default:
      throw new Error(`facade: locator op ${op} is not implemented`);
  }
}
