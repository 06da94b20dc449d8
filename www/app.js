// The demo chat page (www/index.html). Talks only to the proxy on this page's origin:
//   POST {base}/chat/completions   streamed through hf-inference-wasm's InferenceClient
//   GET  {base}/models             fills the model picker (a default if it fails)
//   GET  {health}                  `{ offline: true }` shows the offline-mode notice
// `base` comes from <meta name="hf-proxy-base"> (default /v1) or `?base=` (same origin
// only, so a link cannot send someone's conversation elsewhere).
//
// Model text is rendered by ./markdown.js (markdown-it's tokens turned into DOM nodes, updated
// in place while streaming); user text is set with textContent. Nothing here uses innerHTML.
// Error wording comes from ./errors.js (the error's typed fields → words for a person).
//
// The conversation is kept in localStorage (`hf-chat-demo:conversation`) so it survives a
// reload; "New chat" clears it. A reply that failed part-way is kept on screen but left out of
// the next request (it says so); a question that got no answer is marked "not sent".

import { renderInto } from "./markdown.js";
import { describeError } from "./errors.js";
import "./hf-chat.js"; // defines <hf-chat> for the embed section

// ---------------------------------------------------------------------------------------
// Configuration

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content?.trim() || undefined;

function sameOriginPath(value, fallback) {
  if (!value) return fallback;
  try {
    const url = new URL(value, location.href);
    if (url.origin !== location.origin) {
      console.warn(`hf-chat demo: ignoring ${value}: the proxy must be on this page's origin`);
      return fallback;
    }
    return url.pathname.replace(/\/+$/, "") || "/";
  } catch {
    return fallback;
  }
}

const params = new URLSearchParams(location.search);
const CONFIG = {
  base: sameOriginPath(params.get("base") ?? meta("hf-proxy-base"), "/v1"),
  health: sameOriginPath(params.get("health") ?? meta("hf-proxy-health"), "/health"),
  defaultModel: meta("hf-default-model") ?? "meta-llama/Llama-3.3-70B-Instruct",
  maxTokens: Number(meta("hf-max-tokens") ?? 1024) || undefined,
  // Optional: a key the proxy wants from its page (sent as `x-proxy-key`); the proxy can
  // write it into the page it serves. It is not a provider token.
  proxyKey: meta("hf-proxy-key"),
};
const proxyHeaders = CONFIG.proxyKey ? { "x-proxy-key": CONFIG.proxyKey } : {};
const endpointUrl = new URL(CONFIG.base, location.origin).href;
/** `{base}/{name}` on this origin (never `//name`, which would leave the origin). */
const routeUrl = (name) => new URL(`${CONFIG.base.replace(/\/+$/, "")}/${name}`, location.origin).href;

// ---------------------------------------------------------------------------------------
// Elements and state

const $ = (id) => document.getElementById(id);
const ui = {
  log: $("log"),
  empty: $("empty"),
  banners: $("banners"),
  form: $("composer"),
  input: $("input"),
  send: $("send"),
  stop: $("stop"),
  model: $("model"),
  modelNote: $("model-note"),
  newChat: $("new-chat"),
  offline: $("offline-notice"),
  status: $("status"),
  element: $("demo-element"),
};

const state = {
  /** @type {Array<{ role: "user"|"assistant", content: string, status?: string, excluded?: boolean, el: HTMLElement }>} */
  messages: [],
  /** The reply being streamed: { stream, reply } */
  streaming: null,
  client: null,
  clientError: null,
};

// A read-only view for debugging (and the browser tests): what the conversation holds.
Object.defineProperty(window, "hfChatDemo", {
  value: Object.freeze({
    config: Object.freeze({ ...CONFIG, proxyKey: CONFIG.proxyKey ? "(set)" : undefined, endpointUrl }),
    get messages() {
      return state.messages.map(({ role, content, status, excluded }) => ({ role, content, status, excluded: !!excluded }));
    },
    get streaming() {
      return !!state.streaming;
    },
  }),
});

// ---------------------------------------------------------------------------------------
// The client (the package is loaded through the import map; a failure is shown, not thrown)

const clientReady = import("hf-inference-wasm").then(
  ({ InferenceClient }) => {
    state.client = new InferenceClient({
      endpointUrl,
      headers: proxyHeaders,
      // Wait for a server's Retry-After up to 20 s (shown as a countdown); longer fails
      // at once and the banner counts down instead.
      retry: { maxRetries: 2, maxServerDelayMs: 20_000 },
      timeouts: { headers: 60_000, firstChunk: 60_000, idle: 30_000 },
    });
    // Prices from the proxy's model list (the router's `providers[].pricing`), so a reply's
    // cost can be shown when the serving provider has one; without them, no cost figure.
    state.client.loadPricing({ headers: proxyHeaders }).catch(() => {});
    return state.client;
  },
  (err) => {
    state.clientError = err;
    showBanner({
      kind: "fatal",
      title: "The chat client did not load",
      text: `Loading hf-inference-wasm from /pkg/browser.js failed: ${err?.message ?? err}. Is the package built (bash scripts/build-pkg.sh)?`,
    });
    return null;
  },
);

// ---------------------------------------------------------------------------------------
// Models and health

const MODEL_KEY = "hf-chat-demo:model";

async function loadModels() {
  const select = ui.model;
  let ids = [];
  let failed = null;
  try {
    const res = await fetch(routeUrl("models"), { headers: { accept: "application/json", ...proxyHeaders }, signal: AbortSignal.timeout(8_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    ids = (Array.isArray(body?.data) ? body.data : [])
      .map((m) => (typeof m === "string" ? m : m?.id))
      .filter((id) => typeof id === "string" && id.length > 0 && id.length < 200);
    if (ids.length === 0) throw new Error("no models listed");
  } catch (err) {
    failed = err;
    ids = [CONFIG.defaultModel];
  }
  const saved = safeStorage("get", MODEL_KEY);
  const chosen = ids.includes(saved) ? saved : ids.includes(CONFIG.defaultModel) ? CONFIG.defaultModel : ids[0];
  select.replaceChildren(
    ...ids.map((id) => {
      const o = document.createElement("option");
      o.value = id;
      o.textContent = id;
      o.selected = id === chosen;
      return o;
    }),
  );
  select.disabled = false;
  select.dataset.source = failed ? "fallback" : "server";
  select.title = failed ? `Could not load the model list (${failed.message}); using the default model` : `${ids.length} models from ${CONFIG.base}/models`;
  ui.modelNote.textContent = failed ? "The model list could not be loaded; the default model is used." : "";
}

async function checkHealth() {
  try {
    const res = await fetch(new URL(CONFIG.health, location.origin).href, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return;
    const health = await res.json();
    ui.offline.hidden = health?.offline !== true;
    document.documentElement.dataset.offline = String(health?.offline === true);
  } catch {
    // No health route: say nothing; errors on send speak for themselves.
  }
}

function safeStorage(op, key, value) {
  try {
    if (op === "get") return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Messages

const CONVERSATION_KEY = "hf-chat-demo:conversation";

function addMessage(role, content, { model } = {}) {
  ui.empty.hidden = true;
  const article = document.createElement("article");
  article.className = `msg msg--${role}`;
  article.dataset.role = role;
  // Each message opens with a heading, so a screen reader can jump message by message.
  const heading = document.createElement("h2");
  const body = document.createElement("div");
  body.className = role === "assistant" ? "msg__body md" : "msg__body";
  const actions = document.createElement("div");
  actions.className = "msg__actions";
  if (role === "assistant") {
    const head = document.createElement("div");
    head.className = "msg__meta";
    heading.className = "msg__who";
    heading.textContent = "Assistant";
    const m = document.createElement("span");
    m.className = "msg__model";
    m.textContent = model ?? "";
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.hidden = true;
    head.append(heading, m, badge);
    const note = document.createElement("p");
    note.className = "msg__note";
    note.hidden = true;
    const foot = document.createElement("footer");
    foot.className = "msg__foot";
    const figures = document.createElement("div");
    figures.className = "figures";
    figures.setAttribute("aria-label", "Reply figures");
    foot.append(figures, actions);
    article.append(head, body, note, foot);
  } else {
    heading.className = "sr-only";
    heading.textContent = "You said";
    body.textContent = content;
    const badge = document.createElement("span");
    badge.className = "badge badge--not-sent";
    badge.dataset.kind = "error";
    badge.textContent = "not sent";
    badge.title = "This message got no answer, so it is left out of the next request";
    badge.hidden = true;
    article.append(heading, body, badge, actions);
  }
  ui.log.append(article);
  const msg = { role, content, model, el: article };
  state.messages.push(msg);
  refreshActions();
  return msg;
}

function removeMessage(msg) {
  msg.el.remove();
  const i = state.messages.indexOf(msg);
  if (i !== -1) state.messages.splice(i, 1);
  if (state.messages.length === 0) ui.empty.hidden = false;
  refreshActions();
}

/** A question that got no answer: marked, and left out of later requests. */
function setFailed(msg, failed) {
  msg.failed = failed;
  msg.el.classList.toggle("msg--failed", failed);
  msg.el.querySelector(".badge--not-sent").hidden = !failed;
}

/** A reply left out of the conversation the model sees (it failed part-way). */
function setExcluded(msg, excluded) {
  msg.excluded = excluded;
  const note = msg.el.querySelector(".msg__note");
  if (!note) return;
  note.hidden = !excluded;
  note.textContent = excluded ? "This reply was interrupted, so it is not sent back to the model with your next message." : "";
}

function actionButton(label, title, run) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "link-btn";
  b.textContent = label;
  b.title = title;
  b.dataset.action = label.toLowerCase();
  b.addEventListener("click", run);
  return b;
}

/** Regenerate on the last reply, Edit on the last question; nothing while a reply streams. */
function refreshActions() {
  const lastReply = [...state.messages].reverse().find((m) => m.role === "assistant");
  const lastUser = [...state.messages].reverse().find((m) => m.role === "user");
  const last = state.messages.at(-1);
  for (const m of state.messages) {
    const box = m.el.querySelector(".msg__actions");
    const out = [];
    if (m.role === "assistant" && m.content && m.status !== "streaming") out.push(copyButton(m));
    if (!state.streaming) {
      if (m === lastReply && last === m) out.push(actionButton("Regenerate", "Ask for a new reply to the same question", () => regenerate(m)));
      if (m === lastUser) out.push(actionButton("Edit", "Edit this message and send it again", () => editLast(m)));
    }
    box.replaceChildren(...out);
  }
}

function copyButton(msg) {
  const copy = actionButton("Copy", "Copy the reply as Markdown", async () => {
    try {
      await navigator.clipboard.writeText(msg.content);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  return copy;
}

function regenerate(reply) {
  if (state.streaming) return;
  removeMessage(reply);
  clearRequestBanners();
  saveConversation();
  streamReply();
}

function editLast(msg) {
  if (state.streaming) return;
  const i = state.messages.indexOf(msg);
  for (const m of state.messages.slice(i)) m.el.remove();
  state.messages.splice(i);
  if (state.messages.length === 0) ui.empty.hidden = false;
  clearRequestBanners();
  refreshActions();
  saveConversation();
  ui.input.value = msg.content;
  autosize();
  ui.input.focus();
  ui.input.setSelectionRange(msg.content.length, msg.content.length);
  announce("Editing your last message: change it, then press Enter to send it again.");
}

function saveConversation() {
  const data = state.messages
    .filter((m) => m.role === "user" || m.content)
    .map(({ role, content, status, excluded, failed, model, label }) => ({ role, content, status, excluded: !!excluded, failed: !!failed, model, label }));
  try {
    if (data.length === 0) localStorage.removeItem(CONVERSATION_KEY);
    else localStorage.setItem(CONVERSATION_KEY, JSON.stringify({ version: 1, messages: data }));
  } catch {
    // Storage full or disabled: the conversation just does not survive a reload.
  }
}

function restoreConversation() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(CONVERSATION_KEY) ?? "null");
  } catch {
    return;
  }
  if (!Array.isArray(saved?.messages)) return;
  for (const m of saved.messages) {
    if ((m?.role !== "user" && m?.role !== "assistant") || typeof m.content !== "string") continue;
    if (m.role === "user") {
      const msg = addMessage("user", m.content);
      if (m.failed) setFailed(msg, true);
      continue;
    }
    if (!m.content) continue;
    const msg = addMessage("assistant", m.content, { model: typeof m.model === "string" ? m.model : undefined });
    msg.content = m.content;
    // A reply that was still streaming when the page went away did not finish.
    const status = m.status === "streaming" ? "error" : ["done", "stopped", "error"].includes(m.status) ? m.status : "done";
    const label = m.status === "streaming" ? "interrupted" : typeof m.label === "string" ? m.label : undefined;
    setReplyStatus(msg, status, label);
    if (m.excluded || m.status === "streaming") setExcluded(msg, true);
    renderReply(msg);
  }
  refreshActions();
  scrollToEnd();
}

const atBottom = () => ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 48;
const scrollToEnd = () => {
  ui.log.scrollTop = ui.log.scrollHeight;
};
// Keep the end of the conversation in view when the log shrinks (a banner or a taller
// composer takes room), unless the reader scrolled up.
let pinned = true;
ui.log.addEventListener("scroll", () => (pinned = atBottom()), { passive: true });
new ResizeObserver(() => pinned && scrollToEnd()).observe(ui.log);

function renderReply(msg) {
  const follow = atBottom();
  const body = msg.el.querySelector(".msg__body");
  if (msg.content) renderInto(body, msg.content, { streaming: msg.status === "streaming" });
  else if (msg.status === "streaming") {
    const dots = document.createElement("span");
    dots.className = "typing";
    dots.setAttribute("aria-label", "The model is thinking");
    dots.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
    body.replaceChildren(dots);
  } else body.replaceChildren();
  if (follow) scrollToEnd();
}

/** Render at most once per frame while streaming (rAF, with a timer in case frames stall). */
function scheduleRender(msg) {
  if (msg.renderPending) return;
  msg.renderPending = true;
  const run = () => {
    if (!msg.renderPending) return;
    msg.renderPending = false;
    renderReply(msg);
  };
  requestAnimationFrame(run);
  setTimeout(run, 100);
}

function setReplyStatus(msg, status, label) {
  msg.status = status;
  msg.label = label;
  msg.el.dataset.status = status;
  msg.el.setAttribute("aria-busy", String(status === "streaming"));
  const badge = msg.el.querySelector(".msg__meta .badge");
  if (badge) {
    badge.hidden = !label;
    badge.textContent = label ?? "";
    badge.dataset.kind = status;
  }
}

// ---------------------------------------------------------------------------------------
// Figures

const fmtMs = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);

/** A reply's cost in USD: the client's usage record (its price table × the tokens the
 *  serving provider reported), else a `cost` the completion itself carries. Shown only
 *  when it is a finite number. */
export function costOf(completion, record) {
  const c = record?.costUsd ?? completion?.cost ?? completion?.usage?.cost ?? completion?.usage?.total_cost;
  return typeof c === "number" && Number.isFinite(c) && c >= 0 ? c : undefined;
}

const fmtCost = (usd) => (usd === 0 ? "$0" : usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(usd < 1 ? 4 : 2)}`);

function figure(name, text, title) {
  const span = document.createElement("span");
  span.className = "figure";
  span.dataset.figure = name;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

const isOffline = () => document.documentElement.dataset.offline === "true";

function showFigures(msg, t) {
  const out = [];
  if (t.first !== undefined) out.push(figure("ttft", `${fmtMs(t.first - t.start)} to first token`, "Time from sending to the first piece of the reply"));
  const reported = t.usage?.completion_tokens;
  const tokens = Number.isFinite(reported) ? reported : msg.content ? Math.max(1, Math.round(msg.content.length / 4)) : 0;
  const estimated = !Number.isFinite(reported);
  // A rate over a burst that arrived at once (a cached or local reply) means nothing.
  if (t.first !== undefined && t.end - t.first >= 100 && tokens > 1) {
    const rate = tokens / ((t.end - t.first) / 1000);
    out.push(figure("rate", `${estimated ? "~" : ""}${rate < 10 ? rate.toFixed(1) : Math.round(rate)} tok/s`, "Completion tokens per second after the first token"));
  }
  if (tokens > 0) {
    out.push(
      figure(
        "tokens",
        `${estimated ? "~" : ""}${tokens} token${tokens === 1 ? "" : "s"}`,
        estimated ? "Estimated (characters ÷ 4): the server reported no usage" : `Reported by the server${t.usage?.prompt_tokens !== undefined ? `; prompt: ${t.usage.prompt_tokens}` : ""}`,
      ),
    );
  }
  const cost = costOf(t.completion, t.record);
  msg.cost = cost;
  if (cost !== undefined) {
    const by = t.record?.provider ? ` by ${t.record.provider}` : "";
    const simulated = isOffline();
    out.push(
      figure(
        "cost",
        `${t.record?.usage?.estimated ? "~" : ""}${fmtCost(cost)}${simulated ? " (simulated)" : ""}`,
        simulated ? "Simulated: the offline simulator's made-up price × its token count. Nothing is billed." : `Cost of this reply${by}, from the provider's price per million tokens`,
      ),
    );
  }
  const follow = atBottom();
  msg.el.querySelector(".figures").replaceChildren(...out);
  if (follow) scrollToEnd();
}

// ---------------------------------------------------------------------------------------
// Banners (errors, rate limits, retries, offline)

const countdowns = new Set();
let ticker = 0;

function tick() {
  const now = Date.now();
  for (const c of countdowns) {
    const left = Math.max(0, Math.ceil((c.deadline - now) / 1000));
    if (left > 0) {
      c.span.textContent = c.format(left);
      c.span.dataset.seconds = String(left);
    } else {
      countdowns.delete(c);
      c.span.dataset.seconds = "0";
      c.span.textContent = c.done;
      c.onDone?.();
    }
  }
  if (countdowns.size === 0) {
    clearInterval(ticker);
    ticker = 0;
  }
}

function startCountdown(span, ms, format, done, onDone) {
  const c = { span, deadline: Date.now() + ms, format, done, onDone };
  countdowns.add(c);
  if (!ticker) ticker = setInterval(tick, 200);
  tick();
  return c;
}

/** Show a banner; `kind` replaces any banner of the same kind. `detail` (technical) and the
 *  request id sit under a closed "Details". Returns the element. */
function showBanner({ kind, title, text, detail, requestId, countdown, action, tone }) {
  removeBanner(kind);
  const follow = pinned || atBottom();
  const div = document.createElement("div");
  div.className = `banner banner--${tone ?? kind}`;
  div.dataset.kind = kind;
  div.setAttribute("role", kind === "retrying" ? "status" : "alert");
  const body = document.createElement("div");
  body.className = "banner__body";
  const strong = document.createElement("strong");
  strong.className = "banner__title";
  strong.textContent = title;
  body.append(strong);
  if (text) {
    const p = document.createElement("p");
    p.className = "banner__text";
    p.textContent = text;
    body.append(p);
  }
  let actionBtn;
  if (action) {
    actionBtn = document.createElement("button");
    actionBtn.type = "button";
    actionBtn.className = "btn btn--small";
    actionBtn.textContent = action.label;
    actionBtn.addEventListener("click", () => {
      removeBanner(kind);
      action.run();
    });
  }
  if (countdown) {
    const p = document.createElement("p");
    p.className = "banner__countdown";
    const span = document.createElement("span");
    span.className = "countdown";
    p.append(span);
    body.append(p);
    div.dataset.retryAfterMs = String(countdown.ms);
    if (actionBtn) actionBtn.disabled = true;
    div.countdown = startCountdown(span, countdown.ms, countdown.format, countdown.done, () => {
      if (actionBtn) actionBtn.disabled = false;
      div.dataset.ready = "true";
    });
  }
  if (detail || requestId) {
    const details = document.createElement("details");
    details.className = "banner__details";
    const summary = document.createElement("summary");
    summary.textContent = "Details";
    details.append(summary);
    if (detail) {
      const p = document.createElement("p");
      p.className = "banner__detail";
      p.textContent = detail;
      details.append(p);
    }
    if (requestId) {
      const p = document.createElement("p");
      p.className = "banner__meta";
      p.append("Request id: ");
      const code = document.createElement("code");
      code.className = "request-id";
      code.textContent = requestId;
      p.append(code);
      details.append(p);
    }
    body.append(details);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "banner__close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => {
    removeBanner(kind);
    ui.input.focus();
  });
  const actions = document.createElement("div");
  actions.className = "banner__actions";
  if (actionBtn) actions.append(actionBtn);
  actions.append(close);
  div.append(body, actions);
  ui.banners.append(div);
  if (follow) scrollToEnd();
  return div;
}

function removeBanner(kind) {
  for (const b of ui.banners.querySelectorAll(`.banner[data-kind="${kind}"]`)) {
    if (b.countdown) countdowns.delete(b.countdown);
    b.remove();
  }
}

/** Clear the banners a new request makes stale (keeps "offline" and "fatal"). */
function clearRequestBanners() {
  for (const b of [...ui.banners.children]) if (!["offline", "fatal"].includes(b.dataset.kind)) removeBanner(b.dataset.kind);
}

const secs = (n) => `${n} s`;

/** Show `err` to the person: plain words from ./errors.js, Retry only when it can help. */
function showError(err, retry, { partial = false } = {}) {
  const d = describeError(err, { partial, offline: navigator.onLine === false });
  const countdown =
    d.wait !== undefined
      ? { ms: d.wait, format: (n) => (d.kind === "circuit" ? `Trying again is allowed in ${secs(n)}.` : `You can try again in ${secs(n)}.`), done: "You can try again now." }
      : undefined;
  return showBanner({
    kind: d.kind,
    tone: d.tone,
    title: d.title,
    text: d.text,
    detail: d.detail,
    requestId: err?.requestId,
    countdown,
    action: d.canRetry && retry ? { label: "Retry", run: retry } : undefined,
  });
}

// ---------------------------------------------------------------------------------------
// Sending, streaming, stopping

function announce(text) {
  ui.status.textContent = "";
  // A fresh text node each time so screen readers announce repeats too.
  requestAnimationFrame(() => (ui.status.textContent = text));
}

function setStreaming(on) {
  const hadFocus = document.activeElement;
  ui.stop.hidden = !on;
  ui.send.hidden = on;
  ui.send.disabled = on;
  ui.form.dataset.streaming = String(on);
  document.documentElement.dataset.streaming = String(on);
  // Keep the keyboard where the user is: a hidden button loses focus, so move it to the
  // message box (or to Stop when the user was on Send).
  if (hadFocus === ui.send && on) ui.stop.focus();
  else if ((hadFocus === ui.stop || hadFocus === document.body || hadFocus === null) && !on) ui.input.focus();
}

/** What the model is sent: the conversation minus replies that failed part-way, questions
 *  that got no answer, and the reply being streamed. */
function requestMessages() {
  return state.messages.filter((m) => !m.excluded && !m.failed && m.content && m.status !== "streaming").map((m) => ({ role: m.role, content: m.content }));
}

async function send(text) {
  if (state.streaming) {
    announce("A reply is still streaming: press Escape to stop it first.");
    return;
  }
  const content = text.trim();
  if (!content) return;
  addMessage("user", content);
  ui.input.value = "";
  autosize();
  scrollToEnd();
  saveConversation();
  await streamReply();
}

async function streamReply() {
  if (state.streaming) return;
  // Claimed before the first await, so a double Enter cannot start two replies.
  const current = { stream: null, reply: null, stopRequested: false };
  state.streaming = current;
  setStreaming(true);
  clearRequestBanners();
  refreshActions();
  const client = state.client ?? (await clientReady);
  if (!client || current.stopRequested) {
    state.streaming = null;
    setStreaming(false);
    refreshActions();
    return;
  }
  const model = ui.model.disabled ? CONFIG.defaultModel : ui.model.value;
  const asked = [...state.messages].reverse().find((m) => m.role === "user");
  if (asked?.failed) setFailed(asked, false); // asked again
  const messages = requestMessages();
  const reply = addMessage("assistant", "", { model });
  current.reply = reply;
  setReplyStatus(reply, "streaming");
  renderReply(reply);
  scrollToEnd();
  refreshActions();

  const t = { start: performance.now(), first: undefined, end: undefined, usage: undefined, completion: undefined, record: undefined };
  let finish;
  let stream;
  const retry = () => streamReply();
  try {
    stream = client.chatCompletionStream(
      { model, messages, ...(CONFIG.maxTokens ? { max_tokens: CONFIG.maxTokens } : {}) },
      {
        onContent: (delta, snapshot) => {
          if (t.first === undefined && snapshot) {
            t.first = performance.now();
            removeBanner("retrying");
          }
          reply.content = snapshot;
          scheduleRender(reply);
        },
        onRetry: ({ attempt, delayMs, error }) => {
          const what = error?.status === 429 ? "The server is busy" : error?.kind === "network" ? "The connection failed" : "The model service had a problem";
          showBanner({
            kind: "retrying",
            tone: error?.status === 429 ? "rate-limit" : "info",
            title: `${what}: trying again (attempt ${attempt + 1})`,
            countdown: { ms: delayMs, format: (n) => `Next try in ${secs(n)}…`, done: "Trying again…" },
          });
        },
        onFinish: (f) => {
          finish = f;
        },
        onUsage: (r) => {
          t.record = r;
        },
      },
    );
  } catch (err) {
    removeMessage(reply);
    if (asked) setFailed(asked, true);
    state.streaming = null;
    setStreaming(false);
    refreshActions();
    saveConversation();
    showError(err, retry);
    return;
  }
  current.stream = stream;
  if (current.stopRequested) stream.abort();
  announce("The assistant is replying.");

  try {
    const completion = await stream.finalCompletion();
    t.completion = completion;
    t.usage = finish?.usage ?? completion?.usage;
    reply.content = completion?.choices?.[0]?.message?.content ?? reply.content;
    const aborted = finish ? finish.aborted : current.stopRequested;
    if (aborted) setReplyStatus(reply, "stopped", "stopped");
    else if (finish?.finishReason === "length") setReplyStatus(reply, "done", "cut off: max tokens");
    else if (finish?.finishReason === "content_filter") setReplyStatus(reply, "done", "filtered");
    else setReplyStatus(reply, "done");
    announce(aborted ? "Reply stopped." : "Reply finished.");
  } catch (err) {
    // The note, the badge and the banner below all take room: keep the end in view.
    const follow = pinned || atBottom();
    const partial = err?.partial?.choices?.[0]?.message?.content || reply.content;
    reply.content = partial ?? "";
    t.usage = err?.partial?.usage;
    removeBanner("retrying");
    if (reply.content) {
      // Kept on screen, marked, and left out of what the model is sent next.
      setReplyStatus(reply, "error", "interrupted");
      setExcluded(reply, true);
    } else {
      removeMessage(reply);
      if (asked) setFailed(asked, true);
    }
    const retryThis = reply.content ? () => regenerate(reply) : retry;
    showError(err, retryThis, { partial: !!reply.content });
    announce(`Error: ${describeError(err, { partial: !!reply.content }).title}`);
    if (follow) {
      pinned = true;
      scrollToEnd();
    }
  } finally {
    t.end = performance.now();
    reply.renderPending = false;
    if (reply.el.isConnected) {
      renderReply(reply);
      showFigures(reply, t);
    }
    if (state.streaming === current) {
      state.streaming = null;
      setStreaming(false);
    }
    refreshActions();
    saveConversation();
    if (pinned) scrollToEnd();
  }
}

function stop() {
  if (!state.streaming) return false;
  state.streaming.stopRequested = true;
  state.streaming.stream?.abort();
  return true;
}

function newChat() {
  stop();
  for (const m of state.messages) m.el.remove();
  state.messages.length = 0;
  clearRequestBanners();
  ui.empty.hidden = false;
  saveConversation();
  ui.input.focus();
}

// ---------------------------------------------------------------------------------------
// Wiring

function autosize() {
  const el = ui.input;
  el.style.height = "auto";
  el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
}

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  send(ui.input.value);
});

ui.input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    send(ui.input.value);
  }
});
ui.input.addEventListener("input", autosize);

ui.stop.addEventListener("click", () => {
  stop();
  ui.input.focus();
});

document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || e.defaultPrevented) return;
  // The embedded element handles its own Escape.
  if (e.composedPath().some((n) => n instanceof HTMLElement && n.localName === "hf-chat")) return;
  if (stop()) {
    e.preventDefault();
    ui.input.focus();
  }
});

ui.newChat.addEventListener("click", newChat);

for (const chip of document.querySelectorAll(".chip[data-prompt]")) {
  chip.addEventListener("click", () => {
    ui.input.focus();
    send(chip.dataset.prompt);
  });
}

ui.model.addEventListener("change", () => safeStorage("set", MODEL_KEY, ui.model.value));

window.addEventListener("offline", () =>
  showBanner({ kind: "offline", tone: "network", title: "You are offline", text: "Replies will fail until your connection is back." }),
);
window.addEventListener("online", () => removeBanner("offline"));

// The embedded element uses the same proxy base as the page.
ui.element?.setAttribute("endpoint", CONFIG.base);

restoreConversation();
await Promise.all([clientReady, loadModels(), checkHealth()]);
document.documentElement.dataset.ready = state.client ? "true" : "error";
