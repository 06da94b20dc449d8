// The browser tests' server: the demo's local run (scripts/demo-server.mjs: the page, the
// package and the real auth proxy on one 127.0.0.1 origin) in front of the fixture server.
// `prefixUpstreams` lets a page pointed at `?base=/pace/40/v1` reach the fixture's paced route
// (`{fixture}/pace/40/v1/chat/completions`) through a proxy configured with that upstream, so
// every test still goes through `createProxy`'s policy and pass-through.
//
//   node tests/browser/server.mjs [--port 8080]   # starts a fixture server too; prints the URL

import path from "node:path";
import { pathToFileURL } from "node:url";

import { startDemoServer } from "../../scripts/demo-server.mjs";

/** A token the fixture server accepts and the tests scan responses for. */
export const TEST_TOKEN = "hf_browserTestSECRET_0123456789abcdef";

/**
 * Start the page + proxy server in front of `upstream` (the fixture server's URL).
 * `health.offline` is what `/health` reports.
 */
export function startWebServer({ upstream, port = 0, health = { offline: true }, mounts, proxyOptions = {} } = {}) {
  return startDemoServer({
    upstream,
    token: TEST_TOKEN,
    offline: health.offline === true,
    port,
    mounts,
    prefixUpstreams: true,
    proxyOptions: { allowedModels: "*", rateLimit: false, log: false, ...proxyOptions },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { startFixtureServer } = await import("../fixture-server/server.mjs");
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const fx = await startFixtureServer({ port: 0 });
  const web = await startWebServer({ upstream: fx.url, port });
  console.log(`demo page: ${web.url}/www/   (embed: ${web.url}/www/embed.html; paced: ${web.url}/www/?base=/pace/40/v1)`);
  const stop = async () => {
    await web.close();
    await fx.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
