// `make loadtest`: the load test against the demo's offline stack — the project's chat
// simulator (the fixture server, paced 35 ms a token as in `make demo`) behind our auth proxy
// (its per-client rate limit off, so the figures are the simulator's and the proxy's, not a
// 30-a-minute bucket's). No token, no network. Writes target/loadtest/report.{json,html}.
// Extra arguments go to the command: `make loadtest ARGS="--concurrency 1,4,16 --requests 32"`.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startFixtureServer } from "../tests/fixture-server/server.mjs";
import { startDemoServer } from "./demo-server.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const out = path.join(ROOT, "target", "loadtest");
mkdirSync(out, { recursive: true });

const fx = await startFixtureServer({ port: 0 });
const web = await startDemoServer({
  upstream: `${fx.url}/pace/35`,
  token: "hf_offline_simulator_not_a_real_token",
  offline: true,
  proxyOptions: { allowedModels: "*", rateLimit: false, log: false },
});
const args = [
  path.join(ROOT, "pkg", "cli.mjs"),
  "loadtest",
  "--base-url", `${web.url}/v1`,
  "--model", "fixture/chat-simulator",
  "--concurrency", "1,2,4,8,16",
  "--requests", "16",
  "--max-tokens", "64",
  "--json", path.join(out, "report.json"),
  "--html", path.join(out, "report.html"),
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, args, { stdio: "inherit" });
const code = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
await web.close();
await fx.close();
process.exit(code);
