// A small, safe Markdown renderer for streamed chat replies: model text in, DOM nodes out.
//
// Safety rule: model text only ever becomes Text nodes (`createTextNode`, `textContent`).
// Nothing here parses HTML: no `innerHTML`, no `insertAdjacentHTML`, no `DOMParser`, so a
// reply that says `<img src=x onerror=…>` shows exactly those characters. The only
// attributes set from model text are a link's `href` (http:, https: and mailto: only;
// anything else renders the link text without a link) and a code block's language class
// (letters, digits and `+#.-` only).
//
// Supported: paragraphs (single newlines become line breaks, as chat UIs do), ATX headings,
// **bold**, *italic* / _italic_, ~~strikethrough~~, `inline code`, fenced code blocks
// (``` or ~~~, with an optional language; an unclosed fence, as while a reply is still
// streaming, runs to the end), bullet and numbered lists (nested by indentation),
// blockquotes, horizontal rules, GFM tables, [links](https://…), <https://…> and bare
// https:// URLs, backslash escapes. Raw HTML is shown as text.
//
// It re-parses the whole text on each call; replies are short enough that this is cheap,
// and it means a half-streamed `**bold` simply shows its asterisks until the closing pair
// arrives. Every delimiter search is bounded (a failed search is remembered), so hostile
// input stays near-linear.

const MAX_DEPTH = 12; // nesting of lists / quotes / inline spans; deeper is shown as text
const MAX_LINK_LABEL = 1000; // longer `[…]` / titles are not links
const MAX_LINK_HREF = 2048; // longer URLs are not links

// ---------------------------------------------------------------------------------------
// Public API

/** Render `src` to a DocumentFragment. `doc` is the Document that creates the nodes. */
export function renderMarkdown(src, doc = globalThis.document) {
  const frag = doc.createDocumentFragment();
  for (const block of parseBlocks(normalize(src), 0)) frag.append(blockToDom(block, doc));
  return frag;
}

/** Replace `el`'s children with the rendering of `src`. */
export function renderInto(el, src) {
  el.replaceChildren(renderMarkdown(src, el.ownerDocument));
}

/** Escape text for an HTML string context (for callers that build strings; this module
 *  itself never does). */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The href a link may have, or null: absolute http(s) and mailto URLs only. */
export function safeHref(raw) {
  // Browsers ignore ASCII whitespace and control characters inside a scheme
  // (`java\tscript:`); drop them before deciding, and decide on the URL parser's verdict.
  const cleaned = String(raw).replace(/[\u0000-\u0020\u007f]+/g, "");
  if (!/^(https?:\/\/|mailto:)/i.test(cleaned)) return null;
  try {
    const url = new URL(cleaned);
    if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "mailto:") return null;
    return url.href;
  } catch {
    return null;
  }
}

/** Parse to a plain tree (exported for tests): blocks of `{ type, … }`. */
export function parseMarkdown(src) {
  return parseBlocks(normalize(src), 0);
}

// ---------------------------------------------------------------------------------------
// Blocks

const normalize = (src) => String(src ?? "").replace(/\r\n?/g, "\n").replace(/\t/g, "    ").replace(/\u0000/g, "\uFFFD");

const RE = {
  fence: /^( {0,3})(`{3,}|~{3,})[ ]*([^\s`]*)[^`]*$/,
  heading: /^ {0,3}(#{1,6})(?:[ ]+(.*?))?(?:[ ]+#+)?[ ]*$/,
  hr: /^ {0,3}(?:(?:-[ ]*){3,}|(?:\*[ ]*){3,}|(?:_[ ]*){3,})$/,
  quote: /^ {0,3}> ?(.*)$/,
  item: /^( *)([-*+]|\d{1,9}[.)])(?:[ ]+(.*)|[ ]*$)/,
  tableSep: /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/,
  blank: /^[ ]*$/,
};

function parseBlocks(text, depth) {
  const lines = text.split("\n");
  const blocks = [];
  let para = [];
  const flush = () => {
    if (para.length) blocks.push({ type: "paragraph", inline: parseInline(para.join("\n").trim(), depth) });
    para = [];
  };

  for (let i = 0; i < lines.length; ) {
    const line = lines[i];

    if (RE.blank.test(line)) {
      flush();
      i++;
      continue;
    }

    const fence = RE.fence.exec(line);
    if (fence && !(fence[2][0] === "`" && line.slice(fence[1].length + fence[2].length).includes("`"))) {
      flush();
      const [, indent, marks, lang] = fence;
      const body = [];
      let closed = false;
      const close = new RegExp(`^ {0,3}${marks[0] === "`" ? "`" : "~"}{${marks.length},}[ ]*$`);
      i++;
      while (i < lines.length) {
        if (close.test(lines[i])) {
          closed = true;
          i++;
          break;
        }
        body.push(stripIndent(lines[i], indent.length));
        i++;
      }
      blocks.push({ type: "code", lang: /^[\w+#.-]{1,32}$/.test(lang) ? lang : "", text: body.join("\n"), closed });
      continue;
    }

    const heading = RE.heading.exec(line);
    if (heading) {
      flush();
      blocks.push({ type: "heading", level: heading[1].length, inline: parseInline(heading[2] ?? "", depth) });
      i++;
      continue;
    }

    if (RE.hr.test(line)) {
      // `---` under a paragraph line would be a setext heading in CommonMark; chat
      // replies use it as a rule, so a rule it is.
      flush();
      blocks.push({ type: "hr" });
      i++;
      continue;
    }

    if (RE.quote.test(line)) {
      flush();
      const inner = [];
      while (i < lines.length && !RE.blank.test(lines[i])) {
        const q = RE.quote.exec(lines[i]);
        inner.push(q ? q[1] : lines[i]); // lazy continuation
        i++;
      }
      blocks.push(depth >= MAX_DEPTH ? textBlock(inner.join("\n"), depth) : { type: "quote", blocks: parseBlocks(inner.join("\n"), depth + 1) });
      continue;
    }

    const item = RE.item.exec(line);
    if (item && (para.length === 0 || item[3] !== undefined)) {
      flush();
      const list = parseList(lines, i, depth);
      blocks.push(list.block);
      i = list.next;
      continue;
    }

    if (line.includes("|") && i + 1 < lines.length && RE.tableSep.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const header = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) => (c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : ""));
      if (header.length === aligns.length) {
        flush();
        const rows = [];
        i += 2;
        while (i < lines.length && lines[i].includes("|") && !RE.blank.test(lines[i])) {
          rows.push(splitRow(lines[i]));
          i++;
        }
        blocks.push({
          type: "table",
          aligns,
          header: header.map((c) => parseInline(c, depth)),
          rows: rows.map((r) => aligns.map((_, k) => parseInline(r[k] ?? "", depth))),
        });
        continue;
      }
    }

    para.push(line);
    i++;
  }
  flush();
  return blocks;
}

const textBlock = (text, depth) => ({ type: "paragraph", inline: parseInline(text, depth) });

function stripIndent(line, n) {
  let k = 0;
  while (k < n && line[k] === " ") k++;
  return line.slice(k);
}

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  const cells = [];
  let cur = "";
  for (let k = 0; k < s.length; k++) {
    if (s[k] === "\\" && s[k + 1] === "|") {
      cur += "|";
      k++;
    } else if (s[k] === "|") {
      cells.push(cur.trim());
      cur = "";
    } else cur += s[k];
  }
  cells.push(cur.trim());
  return cells;
}

/** A list starting at `lines[start]`: items of the same kind (bullet or number), each
 *  item's lines (indented continuation, nested lists) parsed as blocks. */
function parseList(lines, start, depth) {
  const first = RE.item.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const baseIndent = first[1].length;
  const items = [];
  let i = start;
  let loose = false;

  while (i < lines.length) {
    const m = RE.item.exec(lines[i]);
    if (!m || m[1].length > baseIndent + 1 || m[1].length < baseIndent || /\d/.test(m[2]) !== ordered) break;
    const contentIndent = m[1].length + m[2].length + 1;
    const body = [m[3] ?? ""];
    i++;
    let sawBlank = false;
    while (i < lines.length) {
      const l = lines[i];
      if (RE.blank.test(l)) {
        sawBlank = true;
        body.push("");
        i++;
        continue;
      }
      const indent = l.length - l.trimStart().length;
      if (indent >= Math.min(contentIndent, baseIndent + 2)) {
        body.push(stripIndent(l, contentIndent));
        sawBlank = false;
        i++;
        continue;
      }
      // An unindented line right after the item text continues it (lazy continuation),
      // unless it starts another block.
      if (!sawBlank && !RE.item.test(l) && !RE.fence.test(l) && !RE.heading.test(l) && !RE.hr.test(l) && !RE.quote.test(l)) {
        body.push(l);
        i++;
        continue;
      }
      break;
    }
    while (body.length && body[body.length - 1] === "") body.pop();
    if (sawBlank && i < lines.length && RE.item.test(lines[i])) loose = true;
    const blocks = depth >= MAX_DEPTH ? [textBlock(body.join("\n"), depth)] : parseBlocks(body.join("\n"), depth + 1);
    items.push(blocks);
  }
  const startNum = ordered ? Number.parseInt(first[2], 10) : 1;
  return { block: { type: "list", ordered, start: startNum, loose, items }, next: i };
}

// ---------------------------------------------------------------------------------------
// Inlines

const PUNCT = /[!-/:-@[-`{-~]/;
const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
const isSpace = (c) => c === undefined || /\s/.test(c);

/** Parse inline Markdown into nodes: text, strong, em, del, code, link, br. */
export function parseInline(text, depth = 0) {
  const out = [];
  let buf = "";
  const pushText = () => {
    if (buf) out.push({ type: "text", text: buf });
    buf = "";
  };
  // Positions from which a closing delimiter is known to be absent (a failed search
  // from p fails from any later p too), so runs of unmatched delimiters stay linear.
  const noClose = new Map();
  const findClose = (delim, from, test) => {
    const known = noClose.get(delim);
    if (known !== undefined && from >= known) return -1;
    let j = text.indexOf(delim, from);
    while (j !== -1 && !test(j)) j = text.indexOf(delim, j + 1);
    if (j === -1) noClose.set(delim, Math.min(known ?? Infinity, from));
    return j;
  };

  // The next "](" and ")" at or after i (-1: none), so `[[[[` and `[a](` runs stay linear.
  let linkMid = 0;
  let parenNext = 0;

  let i = 0;
  while (i < text.length) {
    const c = text[i];

    if (c === "\\" && i + 1 < text.length && PUNCT.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }

    if (c === "\n") {
      pushText();
      out.push({ type: "br" });
      i++;
      continue;
    }

    if (c === "`") {
      let n = 1;
      while (text[i + n] === "`") n++;
      const run = "`".repeat(n);
      const j = findClose(run, i + n, (j) => text[j - 1] !== "`" && text[j + n] !== "`");
      if (j !== -1) {
        pushText();
        let code = text.slice(i + n, j).replace(/\n/g, " ");
        if (code.length > 2 && code.startsWith(" ") && code.endsWith(" ") && code.trim()) code = code.slice(1, -1);
        out.push({ type: "code", text: code });
        i = j + n;
      } else {
        buf += run;
        i += n;
      }
      continue;
    }

    if ((c === "*" || c === "_" || c === "~") && depth < MAX_DEPTH) {
      const double = text[i + 1] === c;
      if (c === "~" && !double) {
        buf += c;
        i++;
        continue;
      }
      const delim = double ? c + c : c;
      const n = delim.length;
      const leftOk = !isSpace(text[i + n]) && !(c === "_" && isWordChar(text[i - 1]));
      if (leftOk) {
        const j = findClose(
          delim,
          i + n + 1,
          (j) =>
            !isSpace(text[j - 1]) &&
            !(c === "_" && isWordChar(text[j + n])) &&
            // `*a **b** c*`: a single `*` must not close on half of a `**`.
            (n === 2 || (text[j + 1] !== c && text[j - 1] !== c)),
        );
        if (j !== -1) {
          pushText();
          const type = c === "~" ? "del" : n === 2 ? "strong" : "em";
          out.push({ type, children: parseInline(text.slice(i + n, j), depth + 1) });
          i = j + n;
          continue;
        }
      }
      buf += delim;
      i += n;
      continue;
    }

    if (c === "[" && depth < MAX_DEPTH) {
      if (linkMid !== -1 && linkMid < i) linkMid = text.indexOf("](", i);
      if (parenNext !== -1 && parenNext < i) parenNext = text.indexOf(")", i);
      const link = linkMid === -1 || parenNext === -1 ? null : matchLink(text, i);
      if (link) {
        pushText();
        const children = parseInline(link.label, depth + 1);
        const href = safeHref(link.href);
        out.push(href ? { type: "link", href, children } : { type: "span", children });
        i = link.end;
        continue;
      }
    }

    if (c === "<") {
      const m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(i, i + 2048));
      const href = m && safeHref(m[1]);
      if (href) {
        pushText();
        out.push({ type: "link", href, children: [{ type: "text", text: m[1] }] });
        i += m[0].length;
        continue;
      }
    }

    if ((c === "h" || c === "H") && !isWordChar(text[i - 1])) {
      const m = /^https?:\/\/[^\s<>"`]+/i.exec(text.slice(i, i + 2048));
      if (m) {
        let url = m[0];
        // Trailing punctuation belongs to the sentence, as does an unbalanced `)`.
        for (;;) {
          const last = url[url.length - 1];
          if (/[.,:;!?'"*_~]/.test(last)) url = url.slice(0, -1);
          else if (last === ")" && (url.match(/\(/g) ?? []).length < (url.match(/\)/g) ?? []).length) url = url.slice(0, -1);
          else break;
        }
        const href = safeHref(url);
        if (href && url.length > 8) {
          pushText();
          out.push({ type: "link", href, children: [{ type: "text", text: url }] });
          i += url.length;
          continue;
        }
      }
    }

    buf += c;
    i++;
  }
  pushText();
  return out;
}

/** `[label](href "title")` at `i`: `{ label, href, end }` or null. */
function matchLink(text, i) {
  let depth = 0;
  let k = i;
  for (; k < text.length; k++) {
    const c = text[k];
    if (c === "\\") {
      k++;
      continue;
    }
    if (c === "`") {
      // A code span inside the label: skip it whole.
      const close = text.indexOf("`", k + 1);
      if (close === -1) return null;
      k = close;
      continue;
    }
    if (c === "[") depth++;
    else if (c === "]" && --depth === 0) break;
    if (k - i > MAX_LINK_LABEL) return null;
  }
  if (depth !== 0 || text[k + 1] !== "(") return null;
  const label = text.slice(i + 1, k);
  let p = k + 2;
  while (text[p] === " ") p++;
  let hrefStart = p;
  let hrefEnd = p;
  let parens = 0;
  if (text[p] === "<") {
    const close = text.indexOf(">", p);
    if (close === -1 || close - p > MAX_LINK_HREF) return null;
    hrefStart = p + 1;
    hrefEnd = close;
    p = close + 1;
  } else {
    const limit = Math.min(text.length, p + MAX_LINK_HREF);
    for (; p < limit; p++) {
      const c = text[p];
      if (c === "(") parens++;
      else if (c === ")") {
        if (parens === 0) break;
        parens--;
      } else if (c === " " || c === "\n") break;
    }
    hrefEnd = p;
  }
  while (text[p] === " ") p++;
  if (text[p] === '"' || text[p] === "'") {
    const close = text.indexOf(text[p], p + 1);
    if (close === -1 || close - p > MAX_LINK_LABEL) return null;
    p = close + 1;
    while (text[p] === " ") p++;
  }
  if (text[p] !== ")") return null;
  return { label, href: text.slice(hrefStart, hrefEnd), end: p + 1 };
}

// ---------------------------------------------------------------------------------------
// DOM (text nodes and a fixed set of elements only)

function el(doc, tag, children, attrs) {
  const node = doc.createElement(tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (children) node.append(...children);
  return node;
}

function inlineToDom(nodes, doc) {
  return nodes.map((n) => {
    switch (n.type) {
      case "text":
        return doc.createTextNode(n.text);
      case "br":
        return doc.createElement("br");
      case "code":
        return el(doc, "code", [doc.createTextNode(n.text)]);
      case "strong":
      case "em":
      case "del":
        return el(doc, n.type, inlineToDom(n.children, doc));
      case "span":
        return el(doc, "span", inlineToDom(n.children, doc));
      case "link":
        return el(doc, "a", inlineToDom(n.children, doc), { href: n.href, rel: "noopener noreferrer nofollow", target: "_blank" });
      default:
        return doc.createTextNode("");
    }
  });
}

function blockToDom(b, doc) {
  switch (b.type) {
    case "paragraph":
      return el(doc, "p", inlineToDom(b.inline, doc));
    case "heading":
      // Reply headings sit inside a message: keep them below the page's own h1/h2.
      return el(doc, `h${Math.min(6, b.level + 2)}`, inlineToDom(b.inline, doc));
    case "hr":
      return doc.createElement("hr");
    case "code": {
      const code = el(doc, "code", [doc.createTextNode(b.text)], b.lang ? { class: `language-${b.lang}` } : undefined);
      const attrs = { tabindex: "0" }; // scrollable regions must be keyboard-reachable
      if (b.lang) attrs["data-lang"] = b.lang;
      if (!b.closed) attrs["data-open"] = "";
      return el(doc, "pre", [code], attrs);
    }
    case "quote":
      return el(doc, "blockquote", b.blocks.map((x) => blockToDom(x, doc)));
    case "list": {
      const attrs = b.ordered && b.start !== 1 ? { start: String(b.start) } : undefined;
      const items = b.items.map((blocks) => {
        // A tight list item holding one paragraph renders its text directly.
        if (!b.loose && blocks.length >= 1 && blocks[0].type === "paragraph") {
          const [head, ...rest] = blocks;
          return el(doc, "li", [...inlineToDom(head.inline, doc), ...rest.map((x) => blockToDom(x, doc))]);
        }
        return el(doc, "li", blocks.map((x) => blockToDom(x, doc)));
      });
      return el(doc, b.ordered ? "ol" : "ul", items, attrs);
    }
    case "table": {
      const cell = (tag, content, k) => el(doc, tag, inlineToDom(content, doc), b.aligns[k] ? { style: `text-align: ${b.aligns[k]}` } : undefined);
      const thead = el(doc, "thead", [el(doc, "tr", b.header.map((c, k) => cell("th", c, k)))]);
      const tbody = el(doc, "tbody", b.rows.map((r) => el(doc, "tr", r.map((c, k) => cell("td", c, k)))));
      return el(doc, "div", [el(doc, "table", [thead, tbody])], { class: "md-table", tabindex: "0" });
    }
    default:
      return doc.createTextNode("");
  }
}
