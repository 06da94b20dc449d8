// A tiny static file server for the packaging tests: serves directories under URL
// prefixes on 127.0.0.1 with the content types a browser insists on (`text/javascript`
// for module scripts, `application/wasm` for streaming compilation). Node built-ins
// only. Every response is logged in `requests` so a test can see what a page loaded.

import http from "node:http";

import { CONTENT_TYPES, mountTable, serveFile } from "../../scripts/static-files.mjs";

export { CONTENT_TYPES };

/**
 * Start a static server.
 * @param {Record<string, string>} mounts URL prefix (e.g. "/pkg/") → directory on disk.
 * @returns {Promise<{ url: string, requests: Array<{path: string, status: number, type: string}>, close(): Promise<void> }>}
 */
export async function startStaticServer(mounts, { port = 0 } = {}) {
  const table = mountTable(mounts);
  const requests = [];
  const sockets = new Set();

  const server = http.createServer(async (req, res) => {
    const pathname = new URL(req.url, "http://x").pathname;
    let decoded = pathname;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {}
    const entry = { path: decoded, status: 404, type: "" };
    requests.push(entry);
    await serveFile(table, pathname, req.method, (status, type, body) => {
      entry.status = status;
      entry.type = type;
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
