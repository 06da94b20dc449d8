// Serving files from directories mounted under URL prefixes, for the demo server and the
// packaging tests' static server: the content types a browser insists on (`text/javascript`
// for module scripts, `application/wasm` for streaming compilation), no path escaping its
// directory, `index.html` for a directory. Node built-ins only.

import { readFile, stat } from "node:fs/promises";
import path from "node:path";

export const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

/** `{ "/pkg/": dir }` → `[["/pkg/", absolute dir]]`. */
export function mountTable(mounts) {
  return Object.entries(mounts).map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : prefix + "/", path.resolve(dir)]);
}

/** The mount a URL path falls under, if any. */
export const findMount = (table, pathname) => table.find(([prefix]) => pathname.startsWith(prefix));

/**
 * Answer a GET/HEAD for `pathname` (not yet decoded) from its mount with
 * `send(status, contentType, body)`.
 */
export async function serveFile(table, pathname, method, send) {
  if (method !== "GET" && method !== "HEAD") return send(405, "text/plain", "method not allowed");
  const mount = findMount(table, pathname);
  if (!mount) return send(404, "text/plain", "not found");
  const [prefix, dir] = mount;
  let rel;
  try {
    rel = decodeURIComponent(pathname.slice(prefix.length));
  } catch {
    return send(400, "text/plain", "bad path");
  }
  if (rel === "" || rel.endsWith("/")) rel += "index.html";
  const file = path.resolve(dir, "." + path.posix.normalize("/" + rel));
  if (file !== dir && !file.startsWith(dir + path.sep)) return send(403, "text/plain", "forbidden");
  try {
    const st = await stat(file);
    if (!st.isFile()) return send(404, "text/plain", "not a file");
    send(200, CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", method === "HEAD" ? undefined : await readFile(file));
  } catch {
    send(404, "text/plain", "not found");
  }
}
