// The servers the real-client tests talk to: the fixture server as the upstream and one
// proxy (`createProxy` from the built package, served by its own Node adapter) per
// scenario, each on 127.0.0.1 with a port of its own, plus a small control server that
// shows what the proxies logged and reported (`GET /logs`, `GET /usages`, `POST /reset`).
//
// `startAll()` is used by the Node client tests; run as a script (`node serve.mjs`), it
// prints one line of JSON `{fixture, control, proxies: {name: url}}` and serves until its
// standard input closes or it gets SIGTERM, so a Python test session can start and stop it.

import http from "node:http";
import { createProxy } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";
import { startFixtureServer } from "../fixture-server/server.mjs";

/** The proxies' upstream token: must reach the upstream and never a client. */
export const TOKEN = "hf_clientsLAYERsecret_0123456789abcdef";

/** The scenarios: proxy name → upstream path under the fixture server and options. */
const SCENARIOS = {
  // The simulator: chat, streams, usage, tools by request.
  main: { path: "" },
  // An upstream that refuses the proxy's token.
  auth401: { path: "/status/401" },
  // A 503 whose upstream says "do not retry".
  noretry503: { path: "/fault/x-should-retry-false/clients" },
  // Two chunks, then silence: the proxy's idle timeout fires mid-stream.
  stallmid: { path: "/fault/stall-mid/clients", options: { timeouts: { idle: 400 } } },
  // An upstream that echoes the request (headers included) back as the answer.
  echo: { path: "/echo" },
  // A streamed tool call.
  tools: { path: "/script/tool-calls/clients" },
  // OpenAI-shaped 400 with a type and no code; TGI-style 503 with estimated_time.
  bad400: { path: "/fault/400/clients" },
  loading503: { path: "/fault/503-then-ok/clients/1000000" },
  // An operator-set headers timeout shorter than the upstream's answer time.
  slow: { path: "/fault/slow-headers/1500", options: { timeouts: { headers: 300 } } },
  // A stream that takes longer than the headers timeout would allow a non-stream answer.
  paced: { path: "/pace/40", options: { timeouts: { headers: 300, firstChunk: 2000, idle: 2000 } } },
};

export async function startAll() {
  const fx = await startFixtureServer({ port: 0 });
  const logs = [];
  const usages = [];
  const servers = [];
  const proxies = {};
  for (const [name, { path, options = {} }] of Object.entries(SCENARIOS)) {
    const proxy = createProxy({
      upstream: fx.url + path,
      token: TOKEN,
      allowedModels: "*",
      rateLimit: false,
      log: (line) => logs.push(JSON.parse(line)),
      onUsage: (u) => usages.push(u),
      ...options,
    });
    const server = await serveNode(proxy, { port: 0 });
    servers.push(server);
    proxies[name] = `http://127.0.0.1:${server.address().port}`;
  }
  const control = http.createServer((req, res) => {
    if (req.method === "POST" && req.url === "/reset") {
      logs.length = 0;
      usages.length = 0;
      fx.reset();
      res.writeHead(204).end();
      return;
    }
    const body = { "/logs": logs, "/usages": usages, "/requests": fx.requests }[req.url];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise((r) => control.listen(0, "127.0.0.1", r));
  servers.push(control);
  return {
    fx,
    logs,
    usages,
    proxies,
    fixture: fx.url,
    control: `http://127.0.0.1:${control.address().port}`,
    async close() {
      for (const s of servers) {
        s.closeAllConnections?.();
        s.close();
      }
      await fx.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const all = await startAll();
  process.stdout.write(JSON.stringify({ fixture: all.fixture, control: all.control, proxies: all.proxies, token: TOKEN }) + "\n");
  const stop = async () => {
    await all.close();
    process.exit(0);
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
