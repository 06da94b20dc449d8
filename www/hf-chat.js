// <hf-chat>: a streaming chat box for any page, talking to an hf-inference-wasm proxy.
//
//   <script type="module" src="https://your-proxy.example/www/hf-chat.js"></script>
//   <hf-chat endpoint="https://your-proxy.example/v1" placeholder="Ask me anything"></hf-chat>
//
// Attributes
//   endpoint     the proxy's OpenAI-compatible base (`…/v1`); default: the page's
//                <meta name="hf-proxy-base">, else "/v1". Relative to the page.
//   model        model id; default: the first one `GET {endpoint}/models` lists (or none,
//                letting the server pick).
//   placeholder  the message box placeholder.
//   heading      a title shown above the conversation (none by default).
//   system       a system prompt sent first with every request.
//   max-tokens   `max_tokens` for each reply.
//   proxy-key    sent as `x-proxy-key` when the proxy asks its pages for one (not a
//                provider token: anything in a page is public).
//
// Theming (CSS custom properties on the element or any ancestor)
//   --hf-chat-accent  buttons, focus rings, the user's bubbles    (default #2563eb)
//   --hf-chat-accent-fg  text on the accent colour               (default #fff)
//   --hf-chat-bg      background                                 (default #fff)
//   --hf-chat-fg      text colour                                (default #1f2328)
//   --hf-chat-radius  corner radius                              (default 12px)
//   --hf-chat-font    font family                                (default system-ui)
//   --hf-chat-height  height of the element                      (default 28rem)
// and ::part(log | input | send | stop | error | message | user | assistant) for more.
//
// API: `el.send(text)`, `el.stop()`, `el.clear()`, `el.messages` (a copy of the
// conversation); events `hf-chat-reply` ({ text, status, usage, finishReason }) and
// `hf-chat-error` ({ error }), both bubbling and composed.
//
// The package is imported from ../pkg/browser.js next to this file (override with
// <meta name="hf-chat-package" content="…">). Model text is rendered by ./markdown.js
// (markdown-it tokens → DOM nodes, HTML off); error wording comes from ./errors.js.

import { renderInto } from "./markdown.js";
import { describeError } from "./errors.js";

const packageUrl = () => document.querySelector('meta[name="hf-chat-package"]')?.content || new URL("../pkg/browser.js", import.meta.url).href;
let packagePromise;
const loadPackage = () => (packagePromise ??= import(packageUrl()));

const STYLE = `
:host {
  --_accent: var(--hf-chat-accent, #2563eb);
  --_accent-fg: var(--hf-chat-accent-fg, #fff);
  --_bg: var(--hf-chat-bg, #fff);
  --_fg: var(--hf-chat-fg, #1f2328);
  --_radius: var(--hf-chat-radius, 12px);
  --_muted: color-mix(in srgb, var(--_fg) 60%, var(--_bg));
  --_line: color-mix(in srgb, var(--_fg) 14%, var(--_bg));
  --_soft: color-mix(in srgb, var(--_fg) 5%, var(--_bg));
  display: block;
  box-sizing: border-box;
  height: var(--hf-chat-height, 28rem);
  max-width: 100%;
  font-family: var(--hf-chat-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  font-size: 15px;
  line-height: 1.5;
  color: var(--_fg);
  background: var(--_bg);
  border: 1px solid var(--_line);
  border-radius: var(--_radius);
  overflow: hidden;
  contain: content;
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
.chat { display: flex; flex-direction: column; height: 100%; min-width: 0; }
.heading { margin: 0; padding: .6rem .9rem; font-size: .95rem; font-weight: 600; border-bottom: 1px solid var(--_line); }
.log { flex: 1; overflow-y: auto; padding: .75rem .9rem; display: flex; flex-direction: column; gap: .6rem; overscroll-behavior: contain; min-width: 0; }
.empty { margin: auto; color: var(--_muted); text-align: center; font-size: .9rem; }
.msg { max-width: 100%; min-width: 0; overflow-wrap: anywhere; }
.msg--user { align-self: flex-end; max-width: 85%; background: var(--_accent); color: var(--_accent-fg); padding: .45rem .75rem; border-radius: var(--_radius) var(--_radius) 4px var(--_radius); white-space: pre-wrap; }
.msg--assistant { align-self: stretch; }
.msg--assistant .body > :first-child { margin-top: 0; }
.msg--assistant .body > :last-child { margin-bottom: 0; }
.msg[data-status="streaming"] .body > :last-child::after,
.msg[data-status="streaming"] .body:empty::after { content: "▍"; color: var(--_accent); animation: blink 1s steps(1) infinite; margin-left: 1px; }
@keyframes blink { 50% { opacity: 0; } }
@media (prefers-reduced-motion: reduce) { .msg[data-status="streaming"] .body > :last-child::after { animation: none; } }
.badge { display: inline-block; margin-top: .25rem; font-size: .72rem; font-weight: 600; letter-spacing: .02em; text-transform: uppercase; padding: .05rem .45rem; border-radius: 999px; background: var(--_soft); color: var(--_muted); border: 1px solid var(--_line); }
.badge[data-kind="error"] { color: #b42318; border-color: #f2b8b5; }
.body p { margin: .4rem 0; }
.body ul, .body ol { margin: .4rem 0; padding-left: 1.3rem; }
.body h3, .body h4, .body h5, .body h6 { margin: .6rem 0 .3rem; font-size: 1em; }
.body code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; background: var(--_soft); border: 1px solid var(--_line); border-radius: 4px; padding: 0 .25em; }
.body pre { margin: 0; padding: .5rem .75rem .6rem; background: #0f172a; color: #e2e8f0; overflow-x: auto; max-width: 100%; }
.body .code { margin: .5rem 0; background: #0f172a; border-radius: calc(var(--_radius) * .6); overflow: hidden; }
.body .code__bar { display: flex; justify-content: space-between; align-items: center; padding: .2rem .4rem .2rem .75rem; font: .72rem ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #94a3b8; border-bottom: 1px solid rgb(148 163 184 / .2); }
.body .code__copy { font: inherit; min-height: 1.6rem; padding: .1rem .5rem; color: #cbd5e1; background: transparent; border: 1px solid rgb(148 163 184 / .35); border-radius: 6px; font-weight: 500; }
.body .hljs-keyword, .body .hljs-selector-tag { color: #c792ea; }
.body .hljs-string, .body .hljs-regexp { color: #a5d6a7; }
.body .hljs-number, .body .hljs-literal { color: #f9ae58; }
.body .hljs-comment { color: #8b98a9; font-style: italic; }
.body .hljs-title { color: #82aaff; }
.body .hljs-built_in, .body .hljs-type { color: #ffcb6b; }
.body .hljs-attr, .body .hljs-variable, .body .hljs-params { color: #f07178; }
.body .hljs-meta, .body .hljs-punctuation, .body .hljs-operator { color: #89ddff; }
.error details { margin-top: .2rem; font-size: .8rem; }
.error summary { cursor: pointer; }
.body pre code { background: none; border: 0; padding: 0; color: inherit; font-size: .85em; white-space: pre; }
.body a { color: var(--_accent); }
.body blockquote { margin: .4rem 0; padding-left: .7rem; border-left: 3px solid var(--_line); color: var(--_muted); }
.body .md-table { overflow-x: auto; }
.body table { border-collapse: collapse; font-size: .9em; }
.body th, .body td { border: 1px solid var(--_line); padding: .2rem .45rem; }
.error { margin: 0 .9rem .5rem; padding: .5rem .7rem; border-radius: calc(var(--_radius) * .6); background: #fef3f2; color: #912018; border: 1px solid #fecdca; font-size: .875rem; overflow-wrap: anywhere; }
.error[data-kind="rate-limit"] { background: #fffaeb; color: #93370d; border-color: #fedf89; }
.error > * { display: block; }
.error .countdown { font-weight: 600; margin-top: .15rem; font-variant-numeric: tabular-nums; }
.error .request-id { opacity: .8; margin-top: .15rem; }
.error[hidden] { display: none; }
form { display: flex; gap: .5rem; align-items: flex-end; padding: .6rem .9rem .75rem; border-top: 1px solid var(--_line); background: var(--_bg); }
textarea { flex: 1; min-width: 0; resize: none; font: inherit; color: inherit; background: var(--_soft); border: 1px solid var(--_line); border-radius: calc(var(--_radius) * .75); padding: .5rem .7rem; max-height: 8rem; line-height: 1.4; }
textarea:focus-visible, button:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
button { font: inherit; font-weight: 600; border-radius: calc(var(--_radius) * .75); padding: .5rem .95rem; cursor: pointer; min-height: 2.5rem; }
.send { background: var(--_accent); color: var(--_accent-fg); border: 1px solid var(--_accent); }
.send:disabled { opacity: .5; cursor: default; }
.stop { background: var(--_bg); color: var(--_fg); border: 1px solid var(--_line); }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
[hidden] { display: none !important; }
`;

/** The element's DOM, built with createElement only (nothing in this file parses HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== undefined) el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

function template() {
  return h(
    "div",
    { class: "chat", part: "container" },
    h("h2", { class: "heading", part: "heading", hidden: true }),
    h(
      "div",
      { class: "log", part: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Conversation", tabindex: "-1" },
      h("p", { class: "empty", part: "empty" }, "Ask a question to start."),
    ),
    h("div", { class: "error", part: "error", role: "alert", hidden: true }),
    h(
      "form",
      { part: "composer" },
      h("label", { class: "sr-only", for: "message" }, "Message"),
      h("textarea", { id: "message", part: "input", rows: "1", enterkeyhint: "send", placeholder: "Message…" }),
      h("button", { class: "stop", part: "stop button", type: "button", "aria-keyshortcuts": "Escape", hidden: true }, "Stop"),
      h("button", { class: "send", part: "send button", type: "submit", "aria-keyshortcuts": "Enter" }, "Send"),
    ),
    h("p", { class: "sr-only status", role: "status" }),
  );
}

let sheet;
function styles() {
  if (sheet === undefined) {
    try {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
    } catch {
      sheet = null; // no constructable stylesheets: a <style> element instead
    }
  }
  return sheet;
}

export class HfChatElement extends HTMLElement {
  static observedAttributes = ["placeholder", "heading", "endpoint", "proxy-key"];

  #root;
  #ui;
  #messages = [];
  #streaming = null;
  #client = null;
  #clientEndpoint = null;
  #defaultModel;
  #countdown = 0;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open", delegatesFocus: true });
    const s = styles();
    if (s) this.#root.adoptedStyleSheets = [s];
    else {
      const style = document.createElement("style");
      style.textContent = STYLE;
      this.#root.append(style);
    }
    this.#root.append(template());
    const q = (sel) => this.#root.querySelector(sel);
    this.#ui = { log: q(".log"), empty: q(".empty"), error: q(".error"), form: q("form"), input: q("textarea"), send: q(".send"), stop: q(".stop"), status: q(".status"), heading: q(".heading") };

    this.#ui.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send(this.#ui.input.value);
    });
    this.#ui.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.send(this.#ui.input.value);
      }
    });
    this.#ui.input.addEventListener("input", () => this.#autosize());
    this.#ui.stop.addEventListener("click", () => {
      this.stop();
      this.#ui.input.focus();
    });
    this.#root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.#streaming) {
        e.preventDefault();
        this.stop();
        this.#ui.input.focus();
      }
    });
  }

  connectedCallback() {
    this.#sync();
    loadPackage().catch(() => {}); // start loading early; errors show on send
  }

  disconnectedCallback() {
    // Removed from the page: do not keep a stream (and the provider's meter) running.
    this.stop();
    clearInterval(this.#countdown);
  }

  attributeChangedCallback() {
    this.#sync();
  }

  #sync() {
    this.#ui.input.placeholder = this.getAttribute("placeholder") ?? "Message…";
    const heading = this.getAttribute("heading");
    this.#ui.heading.hidden = !heading;
    this.#ui.heading.textContent = heading ?? "";
    if (heading) this.#ui.log.setAttribute("aria-label", heading);
  }

  get endpoint() {
    const raw = this.getAttribute("endpoint") || document.querySelector('meta[name="hf-proxy-base"]')?.content || "/v1";
    return new URL(raw, document.baseURI).href.replace(/\/+$/, "");
  }

  /** The conversation so far (a copy). */
  get messages() {
    return this.#messages.map(({ role, content, status }) => ({ role, content, status }));
  }

  get streaming() {
    return !!this.#streaming;
  }

  async #getClient() {
    const endpoint = this.endpoint;
    const key = `${endpoint} ${this.getAttribute("proxy-key") ?? ""}`;
    if (!this.#client || this.#clientEndpoint !== key) {
      const { InferenceClient } = await loadPackage();
      this.#client?.free?.();
      this.#client = new InferenceClient({ endpointUrl: endpoint, headers: this.#headers(), retry: { maxRetries: 1, maxServerDelayMs: 10_000 } });
      this.#clientEndpoint = key;
      this.#defaultModel = undefined;
    }
    return this.#client;
  }

  #headers() {
    const key = this.getAttribute("proxy-key");
    return key ? { "x-proxy-key": key } : {};
  }

  async #model() {
    const attr = this.getAttribute("model");
    if (attr) return attr;
    if (this.#defaultModel === undefined) {
      this.#defaultModel = null;
      try {
        const res = await fetch(`${this.endpoint}/models`, { headers: this.#headers(), signal: AbortSignal.timeout(5_000) });
        const body = res.ok ? await res.json() : null;
        const id = body?.data?.[0]?.id;
        if (typeof id === "string" && id) this.#defaultModel = id;
      } catch {
        // no model list: let the server choose
      }
    }
    return this.#defaultModel ?? undefined;
  }

  /** Send `text` as the user and stream the reply. Resolves when the reply ends. */
  async send(text) {
    const content = String(text ?? "").trim();
    if (!content || this.#streaming) return;
    this.#ui.input.value = "";
    this.#autosize();
    this.#hideError();
    this.#add("user", content);
    const reply = this.#add("assistant", "");
    this.#setStatus(reply, "streaming");
    const current = { reply, stream: null, stopRequested: false };
    this.#streaming = current;
    this.#setBusy(true);

    let finish;
    try {
      const [client, model] = await Promise.all([this.#getClient(), this.#model()]);
      const system = this.getAttribute("system");
      const maxTokens = Number(this.getAttribute("max-tokens")) || undefined;
      const messages = [
        ...(system ? [{ role: "system", content: system }] : []),
        // Left out: a question that got no answer, a reply that failed part-way.
        ...this.#messages.filter((m) => m !== reply && m.content && !m.failed && !m.excluded).map(({ role, content }) => ({ role, content })),
      ];
      if (current.stopRequested) throw Object.assign(new Error("stopped"), { kind: "aborted" });
      current.stream = client.chatCompletionStream(
        { ...(model ? { model } : {}), messages, ...(maxTokens ? { max_tokens: maxTokens } : {}) },
        {
          onContent: (_delta, snapshot) => {
            reply.content = snapshot;
            this.#schedule(reply);
          },
          onFinish: (f) => (finish = f),
        },
      );
      const completion = await current.stream.finalCompletion();
      reply.content = completion?.choices?.[0]?.message?.content ?? reply.content;
      const aborted = finish ? finish.aborted : current.stopRequested;
      this.#setStatus(reply, aborted ? "stopped" : "done", aborted ? "stopped" : finish?.finishReason === "length" ? "cut off" : undefined);
      this.#announce(aborted ? "Reply stopped." : "Reply finished.");
      this.#emit("hf-chat-reply", { text: reply.content, status: reply.status, usage: finish?.usage ?? completion?.usage, finishReason: finish?.finishReason ?? null });
    } catch (err) {
      if (err?.kind === "aborted") {
        this.#setStatus(reply, "stopped", "stopped");
      } else {
        reply.content = err?.partial?.choices?.[0]?.message?.content || reply.content;
        if (reply.content) {
          this.#setStatus(reply, "error", "interrupted");
          reply.excluded = true;
        } else {
          reply.el.remove();
          const i = this.#messages.indexOf(reply);
          if (i !== -1) this.#messages.splice(i, 1);
          const asked = this.#messages[this.#messages.length - 1];
          if (asked?.role === "user") asked.failed = true;
        }
        this.#showError(err, !!reply.content);
        this.#emit("hf-chat-error", { error: err });
      }
    } finally {
      reply.pending = false;
      if (reply.el.isConnected) this.#render(reply);
      if (this.#streaming === current) {
        this.#streaming = null;
        this.#setBusy(false);
      }
    }
  }

  /** Stop the reply being streamed; what arrived is kept and marked "stopped". */
  stop() {
    if (!this.#streaming) return false;
    this.#streaming.stopRequested = true;
    this.#streaming.stream?.abort();
    return true;
  }

  /** Forget the conversation. */
  clear() {
    this.stop();
    for (const m of this.#messages) m.el.remove();
    this.#messages = [];
    this.#ui.empty.hidden = false;
    this.#hideError();
  }

  #add(role, content) {
    this.#ui.empty.hidden = true;
    const el = document.createElement("div");
    el.className = `msg msg--${role}`;
    el.setAttribute("part", `message ${role}`);
    el.dataset.role = role;
    const body = document.createElement("div");
    body.className = "body";
    if (role === "user") body.textContent = content;
    el.append(body);
    this.#ui.log.append(el);
    const msg = { role, content, el, status: role === "user" ? "sent" : "streaming" };
    this.#messages.push(msg);
    this.#ui.log.scrollTop = this.#ui.log.scrollHeight;
    return msg;
  }

  #render(msg) {
    const log = this.#ui.log;
    const follow = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const body = msg.el.querySelector(".body");
    if (msg.content) renderInto(body, msg.content, { streaming: msg.status === "streaming" });
    else body.replaceChildren();
    if (follow) log.scrollTop = log.scrollHeight;
  }

  #schedule(msg) {
    if (msg.pending) return;
    msg.pending = true;
    const run = () => {
      if (!msg.pending) return;
      msg.pending = false;
      this.#render(msg);
    };
    requestAnimationFrame(run);
    setTimeout(run, 100);
  }

  #setStatus(msg, status, label) {
    msg.status = status;
    msg.el.dataset.status = status;
    msg.el.setAttribute("aria-busy", String(status === "streaming"));
    msg.el.querySelector(".badge")?.remove();
    if (label) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.dataset.kind = status;
      badge.textContent = label;
      msg.el.append(badge);
    }
  }

  #setBusy(on) {
    const hadFocus = this.#root.activeElement;
    this.#ui.stop.hidden = !on;
    this.#ui.send.hidden = on;
    this.toggleAttribute("streaming", on);
    if (on && hadFocus === this.#ui.send) this.#ui.stop.focus();
    if (!on && hadFocus === this.#ui.stop) this.#ui.input.focus();
  }

  #showError(err, partial = false) {
    // Plain words from the error's typed fields; the technical message under "Details".
    const d = describeError(err, { partial, offline: navigator.onLine === false });
    const box = this.#ui.error;
    box.dataset.kind = d.kind;
    const parts = [h("strong", {}, d.title), h("span", { class: "message" }, d.text)];
    clearInterval(this.#countdown);
    if (d.wait !== undefined) {
      const count = h("span", { class: "countdown" });
      const deadline = Date.now() + d.wait;
      const tick = () => {
        const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
        count.dataset.seconds = String(left);
        count.textContent = left > 0 ? `Try again in ${left} s.` : "You can try again now.";
        if (left === 0) clearInterval(this.#countdown);
      };
      tick();
      this.#countdown = setInterval(tick, 250);
      parts.push(count);
    }
    const details = h("details", {}, h("summary", {}, "Details"), h("span", { class: "detail" }, d.detail));
    if (err?.requestId) details.append(h("small", { class: "request-id" }, `Request id: ${err.requestId}`));
    parts.push(details);
    box.replaceChildren(...parts);
    box.hidden = false;
    this.#announce(`${d.title}. ${d.text}`);
  }

  #hideError() {
    clearInterval(this.#countdown);
    this.#ui.error.hidden = true;
    this.#ui.error.replaceChildren();
  }

  #announce(text) {
    this.#ui.status.textContent = text;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #autosize() {
    const el = this.#ui.input;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 128)}px`;
  }
}

if (!customElements.get("hf-chat")) customElements.define("hf-chat", HfChatElement);
