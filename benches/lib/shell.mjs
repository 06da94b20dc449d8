// The shell's size (issue 12: "the shell, JS + Rust shell code together, under 1,500 lines,
// and no circle between its files"): code lines (not blank, not comments, Rust before its
// `#[cfg(test)]` module) of the Rust bindings in src/web/ and of the JS beside the wasm,
// per entry, and the circles among those files' references.

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

/** Code lines of a Rust or JS source: blank lines, `//` lines and Rust tests left out. */
export function codeLines(text, rust) {
  let n = 0;
  let inBlock = false;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (rust && t.startsWith("#[cfg(test)]")) break;
    if (inBlock) {
      if (t.includes("*/")) inBlock = false;
      continue;
    }
    if (t === "" || t.startsWith("//")) continue;
    if (t.startsWith("/*")) {
      if (!t.includes("*/")) inBlock = true;
      continue;
    }
    if (t.startsWith("*")) continue;
    n++;
  }
  return n;
}

const rustFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? rustFiles(path.join(dir, e.name)) : e.name.endsWith(".rs") ? [path.join(dir, e.name)] : [],
  );

/** The module file a Rust file refers to by `super::x`, `crate::web::x::y` or `use super::{x, …}`. */
function rustEdges(file, files, web) {
  const src = readFileSync(file, "utf8");
  const dir = path.dirname(file);
  const isMod = path.basename(file) === "mod.rs";
  const parentDir = isMod ? path.dirname(dir) : dir;
  const fileOf = (base, name) => [path.join(base, `${name}.rs`), path.join(base, name, "mod.rs")].find((f) => files.includes(f));
  const out = new Set();
  const superMod = [path.join(parentDir, "mod.rs")].find((f) => files.includes(f));
  const names = [];
  for (const m of src.matchAll(/\bsuper::(\{[^}]*\}|\w+)/g)) {
    for (const n of m[1].replace(/[{}]/g, "").split(",")) names.push(n.trim().split("::")[0]);
  }
  for (const n of names) {
    if (!n) continue;
    const f = fileOf(parentDir, n) ?? superMod;
    if (f && f !== file) out.add(f);
  }
  // A mod.rs using its own child modules (`gate::Gate`, `self::job::…`, `use job::{…}`).
  if (isMod) {
    for (const m of src.matchAll(/(?<![:\w])(?:self::)?(\w+)::/g)) {
      const f = m[1] !== "super" && m[1] !== "crate" ? fileOf(dir, m[1]) : undefined;
      if (f && f !== file) out.add(f);
    }
  }
  for (const m of src.matchAll(/\bcrate::web::(\w+)(?:::(\w+))?/g)) {
    const top = fileOf(web, m[1]);
    const sub = top && path.basename(top) === "mod.rs" && m[2] ? fileOf(path.dirname(top), m[2]) : undefined;
    const f = sub ?? top;
    if (f && f !== file) out.add(f);
  }
  return [...out];
}

/** Relative JS imports of a file, resolved within `dir`. */
function jsEdges(file, dir, files) {
  const src = readFileSync(file, "utf8");
  const out = [];
  for (const m of src.matchAll(/(?:import|export)\s*[^'";]*?from\s*['"](\.\/[^'"]+)['"]/g)) {
    const f = path.join(dir, m[1]);
    if (files.includes(f)) out.push(f);
  }
  return out;
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) out.push(c);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const CLIENT_JS = ["wire.js", "pump.js", "api.js", "errors.js", "browser.js", "node.mjs", "workerd.js"];
const PROXY_JS = ["proxy-relay.js", "proxy-api.js", "proxy-state.js", "proxy.js", "proxy-node.mjs", "proxy-workerd.js", "node-fetch.mjs", "wire.js", "errors.js"];

/** { client, proxy, total, rows, circles } for the checkout at `root`. */
export function shellSize(root) {
  const web = path.join(root, "src/web");
  const js = path.join(root, "js");
  // `decoder.rs` is the measured decoder core's binding, in neither entry.
  const rs = rustFiles(web).filter((f) => !f.endsWith("decoder.rs"));
  const lines = new Map();
  for (const f of rs) lines.set(f, codeLines(readFileSync(f, "utf8"), true));
  const jsFiles = [...new Set([...CLIENT_JS, ...PROXY_JS])].map((f) => path.join(js, f));
  for (const f of jsFiles) lines.set(f, codeLines(readFileSync(f, "utf8"), false));
  const sum = (fs) => fs.reduce((a, f) => a + (lines.get(f) ?? 0), 0);
  const shared = rs.filter((f) => !f.includes(`${path.sep}client${path.sep}`) && !f.includes(`${path.sep}proxy${path.sep}`));
  const clientRs = rs.filter((f) => f.includes(`${path.sep}client${path.sep}`)).concat(shared);
  const proxyRs = rs.filter((f) => f.includes(`${path.sep}proxy${path.sep}`)).concat(shared);
  const graph = new Map();
  for (const f of rs) graph.set(f, rustEdges(f, rs, web));
  for (const f of jsFiles) graph.set(f, jsEdges(f, js, jsFiles));
  const rel = (f) => path.relative(root, f);
  return {
    client: { rust: sum(clientRs), js: sum(CLIENT_JS.map((f) => path.join(js, f))) },
    proxy: { rust: sum(proxyRs), js: sum(PROXY_JS.map((f) => path.join(js, f))) },
    total: sum([...lines.keys()]),
    largest: [...lines].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([f, n]) => `${rel(f)} ${n}`),
    circles: circles(graph).map((c) => c.map(rel).sort()),
  };
}
