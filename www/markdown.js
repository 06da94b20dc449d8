// Model text in, DOM nodes out, safely, for streamed chat replies.
//
// Parsing is markdown-it's (pinned dev dependency, served at /vendor/markdown-it/ from
// node_modules), with raw HTML off (`html: false`: `<img onerror=…>` is text) and images off.
// Its token stream is turned into DOM here with createElement/createTextNode only: model text
// never goes through an HTML parser, and the only attributes set from it are a link's `href`
// (http:, https:, mailto: only, checked again on the URL parser's verdict), a list's `start`
// (digits), a table cell's alignment (left/right/center) and a code block's language
// (letters, digits, `+#.-`).
//
// Syntax highlighting is highlight.js's (the pre-built ES modules of @highlightjs/cdn-assets,
// served at /vendor/highlight/), loaded only when a reply has a code block, one grammar per
// language on demand. Its output is markup it escaped itself; it is parsed in an inert
// <template> and copied over keeping only <span class="hljs-…"> and text, so even a
// highlighter bug could not add an element or attribute.
//
// Streaming: `renderInto(el, text, { streaming: true })` closes a half-written `**`, `*`,
// `~~` or `` ` `` at the end (so no raw asterisks flash mid-stream) and updates `el` in place:
// nodes that did not change are kept (text that grew is appended to), so text can be selected
// while a reply streams, and only the tail of the DOM changes per frame.

import markdownit from "../vendor/markdown-it/markdown-it.esm.min.mjs";

const MAX_HREF = 2048;

const md = markdownit({ html: false, linkify: true, breaks: true, typographer: false });
md.disable(["image"]);
md.validateLink = (url) => safeHref(url) !== null;

// ---------------------------------------------------------------------------------------
// Public API

/** Render `src` to a DocumentFragment. `doc` is the Document that creates the nodes. */
export function renderMarkdown(src, doc = globalThis.document, { streaming = false } = {}) {
  const text = streaming ? closeOpenMarks(String(src ?? "")) : String(src ?? "");
  const frag = doc.createDocumentFragment();
  build(md.parse(text, {}), frag, doc);
  return frag;
}

/** Make `el`'s children the rendering of `src`, changing only what differs. */
export function renderInto(el, src, options) {
  const frag = renderMarkdown(src, el.ownerDocument, options);
  const fresh = el.ownerDocument.createElement("div");
  fresh.append(frag);
  morph(el, fresh);
  highlightIn(el);
}

/** The href a link may have, or null: absolute http(s) and mailto URLs only. */
export function safeHref(raw) {
  // Browsers ignore ASCII whitespace and control characters inside a scheme
  // (`java\tscript:`); drop them before deciding, and decide on the URL parser's verdict.
  const cleaned = String(raw).replace(/[\u0000-\u0020\u007f]+/g, "");
  if (cleaned.length > MAX_HREF || !/^(https?:\/\/|mailto:)/i.test(cleaned)) return null;
  try {
    const url = new URL(cleaned);
    if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "mailto:") return null;
    return url.href;
  } catch {
    return null;
  }
}

/**
 * Close the inline marks a streaming reply has opened but not yet closed, in its last
 * paragraph (outside code), so a half-written `**bold` shows as bold rather than asterisks;
 * a mark that just arrived with nothing after it is dropped until its text comes.
 */
export function closeOpenMarks(src) {
  const lines = src.split("\n");
  let fence = null;
  for (const line of lines) {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (!m) continue;
    if (fence === null) fence = m[1];
    else if (m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = null;
  }
  if (fence !== null) return src; // inside an open code block: nothing to close
  const cut = src.lastIndexOf("\n\n") + 1;
  const head = src.slice(0, cut);
  let tail = src.slice(cut);
  // An odd number of backticks: a code span is open; close it (its content is literal).
  const ticks = (tail.match(/`/g) ?? []).length;
  if (ticks % 2 === 1) return head + (/`\s*$/.test(tail) ? tail.replace(/`\s*$/, "") : tail + "`");
  const plain = tail.replace(/`[^`]*`/g, "").replace(/\\[*_~`]/g, "");
  const closers = [];
  for (const mark of ["**", "~~"]) {
    const n = plain.split(mark).length - 1;
    if (n % 2 === 1) {
      if (new RegExp(`${escapeRe(mark)}\\s*$`).test(tail)) tail = tail.replace(new RegExp(`${escapeRe(mark)}\\s*$`), "");
      else closers.unshift(mark);
    }
  }
  // Single `*` (emphasis), not a list bullet at a line's start and not part of `**`.
  const singles = plain.replace(/\*\*/g, "").replace(/^\s*\*\s/gm, "").split("*").length - 1;
  if (singles % 2 === 1) {
    if (/(?<!\*)\*\s*$/.test(tail)) tail = tail.replace(/\*\s*$/, "");
    else closers.unshift("*");
  }
  if (closers.length === 0) return head + tail;
  // Marks close before trailing spaces (`**bold **` is not bold).
  const trimmed = tail.replace(/\s+$/, "");
  return head + trimmed + closers.join("");
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// ---------------------------------------------------------------------------------------
// Tokens → DOM

/** markdown-it's block and inline tags → what we create (anything else adds no element). */
const TAGS = new Map([
  ["p", "p"],
  ["blockquote", "blockquote"],
  ["ul", "ul"],
  ["ol", "ol"],
  ["li", "li"],
  ["strong", "strong"],
  ["em", "em"],
  ["s", "del"],
  ["table", "table"],
  ["thead", "thead"],
  ["tbody", "tbody"],
  ["tr", "tr"],
  ["th", "th"],
  ["td", "td"],
  // Reply headings sit inside a message: keep them below the page's own h1/h2.
  ["h1", "h3"],
  ["h2", "h4"],
  ["h3", "h5"],
  ["h4", "h6"],
  ["h5", "h6"],
  ["h6", "h6"],
]);

function build(tokens, root, doc) {
  const stack = [root];
  const top = () => stack[stack.length - 1];
  for (const t of tokens) {
    if (t.type === "inline") {
      build(t.children ?? [], top(), doc);
      continue;
    }
    if (t.nesting === 1) {
      const el = openElement(t, doc);
      if (el) top().append(el.outer ?? el);
      stack.push(el ? (el.inner ?? el) : top());
      continue;
    }
    if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const node = leaf(t, doc);
    if (node) top().append(node);
  }
}

function openElement(t, doc) {
  if (t.type === "paragraph_open" && t.hidden) return null; // tight list items: text directly in <li>
  if (t.type === "link_open") {
    const href = safeHref(t.attrGet("href") ?? "");
    if (!href) return null;
    const a = doc.createElement("a");
    a.href = href;
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
    return a;
  }
  const tag = TAGS.get(t.tag);
  if (!tag) return null;
  const el = doc.createElement(tag);
  if (tag === "ol") {
    const start = t.attrGet("start");
    if (start && /^\d{1,9}$/.test(start) && start !== "1") el.setAttribute("start", start);
  }
  if (tag === "th" || tag === "td") {
    const align = /^text-align:(left|right|center)$/.exec(t.attrGet("style") ?? "");
    if (align) el.style.textAlign = align[1];
  }
  if (tag === "table") {
    // A wide table scrolls inside its own keyboard-reachable box, not the page.
    const box = doc.createElement("div");
    box.className = "md-table";
    box.tabIndex = 0;
    box.append(el);
    return { outer: box, inner: el };
  }
  return el;
}

function leaf(t, doc) {
  switch (t.type) {
    case "text":
    case "text_special":
    case "html_inline":
    case "html_block":
      return doc.createTextNode(t.content);
    case "softbreak":
    case "hardbreak":
      return doc.createElement("br");
    case "code_inline": {
      const code = doc.createElement("code");
      code.textContent = t.content;
      return code;
    }
    case "fence":
    case "code_block":
      return codeBlock(t.content.replace(/\n$/, ""), t.type === "fence" ? t.info : "", doc);
    case "hr":
      return doc.createElement("hr");
    default:
      return t.content ? doc.createTextNode(t.content) : null;
  }
}

/** A code block: a bar with the language and a Copy button, then the (scrollable) code. */
function codeBlock(text, info, doc) {
  const lang = /^[A-Za-z0-9+#.-]{1,32}/.exec(info.trim())?.[0]?.toLowerCase() ?? "";
  const box = doc.createElement("div");
  box.className = "code";
  const bar = doc.createElement("div");
  bar.className = "code__bar";
  const label = doc.createElement("span");
  label.className = "code__lang";
  label.textContent = lang || "code";
  const copy = doc.createElement("button");
  copy.type = "button";
  copy.className = "code__copy";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy the ${lang || "code"} code`);
  copy.addEventListener("click", onCopy);
  bar.append(label, copy);
  const pre = doc.createElement("pre");
  pre.tabIndex = 0; // scrollable regions must be keyboard-reachable
  if (lang) pre.dataset.lang = lang;
  const code = doc.createElement("code");
  if (lang) code.className = `language-${lang}`;
  code.textContent = text;
  pre.append(code);
  box.append(bar, pre);
  return box;
}

/** Copy the code of the block the button is in (read at click time: the text may have grown). */
async function onCopy(e) {
  const btn = e.currentTarget;
  const code = btn.closest(".code")?.querySelector("pre code");
  if (!code) return;
  clearTimeout(btn.resetTimer);
  try {
    await navigator.clipboard.writeText(code.textContent);
    btn.textContent = "Copied";
  } catch {
    // No clipboard access (insecure origin, permission): select the code instead.
    const range = document.createRange();
    range.selectNodeContents(code);
    const sel = btn.ownerDocument.defaultView.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    btn.textContent = "Press Ctrl+C";
  }
  btn.resetTimer = setTimeout(() => (btn.textContent = "Copy"), 1500);
}

// ---------------------------------------------------------------------------------------
// In-place update

/** Make `target`'s children match `source`'s, keeping every node that is the same. */
function morph(target, source) {
  const olds = [...target.childNodes];
  const news = [...source.childNodes];
  for (let i = 0; i < news.length; i++) {
    const o = olds[i];
    const n = news[i];
    if (!o) target.append(n);
    else if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) {
      target.replaceChild(n, o);
    } else if (o.nodeType === 3) {
      if (o.data !== n.data) {
        // appendData keeps a selection inside the node; replacing the data would reset it.
        if (n.data.startsWith(o.data)) o.appendData(n.data.slice(o.data.length));
        else o.data = n.data;
      }
    } else if (o.nodeType === 1) {
      if (o.hlSource !== undefined && o.hlSource === n.textContent) continue; // highlighted, unchanged
      o.hlSource = undefined;
      syncAttributes(o, n);
      morph(o, n);
    }
  }
  for (let i = news.length; i < olds.length; i++) olds[i].remove();
}

function syncAttributes(o, n) {
  for (const a of [...o.attributes]) if (!n.hasAttribute(a.name)) o.removeAttribute(a.name);
  for (const a of n.attributes) if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
}

// ---------------------------------------------------------------------------------------
// Syntax highlighting (lazy)

const HLJS = new URL("../vendor/highlight/", import.meta.url).href;
/** The grammars served (a few common ones, to keep the download small), by name or alias. */
const GRAMMARS = {
  rust: "rust",
  rs: "rust",
  python: "python",
  py: "python",
  javascript: "javascript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  node: "javascript",
  typescript: "typescript",
  ts: "typescript",
  tsx: "typescript",
  go: "go",
  golang: "go",
  bash: "bash",
  sh: "bash",
  shell: "bash",
  zsh: "bash",
  console: "bash",
  sql: "sql",
  json: "json",
  html: "xml",
  xml: "xml",
  svg: "xml",
};
let hljsPromise;
const grammarPromises = new Map();

function loadGrammar(name) {
  hljsPromise ??= import(HLJS + "core.min.js").then((m) => m.default);
  if (!grammarPromises.has(name)) {
    grammarPromises.set(
      name,
      Promise.all([hljsPromise, import(`${HLJS}languages/${name}.min.js`)]).then(([hljs, g]) => {
        if (!hljs.getLanguage(name)) hljs.registerLanguage(name, g.default);
        return hljs;
      }),
    );
  }
  return grammarPromises.get(name);
}

/** Highlight every code block in `root` whose language has a grammar (async, idempotent). */
function highlightIn(root) {
  for (const code of root.querySelectorAll("pre > code[class^='language-']")) {
    const name = GRAMMARS[code.className.slice("language-".length)];
    if (!name) continue;
    const pre = code.parentElement;
    const source = code.textContent;
    if (pre.hlSource === source) continue;
    loadGrammar(name).then(
      (hljs) => {
        if (!pre.isConnected || code.textContent !== source) return; // changed meanwhile
        const html = hljs.highlight(source, { language: name, ignoreIllegals: true }).value;
        const tpl = pre.ownerDocument.createElement("template");
        tpl.innerHTML = html; // inert: a template's content runs and loads nothing
        code.replaceChildren(...copySpans(tpl.content, pre.ownerDocument));
        if (code.textContent !== source) code.textContent = source; // never show other text
        pre.dataset.hl = name;
        pre.hlSource = source; // a property, not an attribute: model text stays out of attributes
      },
      () => {}, // no grammar: the code stays plain
    );
  }
}

/** Copy highlight.js's markup keeping only text and <span class="hljs-…">. */
function copySpans(from, doc) {
  const out = [];
  for (const n of from.childNodes) {
    if (n.nodeType === 3) out.push(doc.createTextNode(n.data));
    else if (n.nodeType === 1 && n.localName === "span") {
      const span = doc.createElement("span");
      const cls = [...n.classList].filter((c) => /^hljs-[a-z_-]+$|^[a-z_]+_$/.test(c));
      if (cls.length) span.className = cls.join(" ");
      span.append(...copySpans(n, doc));
      out.push(span);
    } else if (n.nodeType === 1) out.push(doc.createTextNode(n.textContent));
  }
  return out;
}
