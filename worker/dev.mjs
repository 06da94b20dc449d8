// `make demo-worker`: the proxy Worker (worker/index.js) run locally on workerd, the Workers
// runtime, through Miniflare (a pinned dev dependency), in front of the offline simulator,
// with the same chat page as `make demo`.
//
//   node worker/dev.mjs [--port 8080]        (or PORT=…; after `make pkg`)
//
// The Worker is bundled as wrangler bundles it (esbuild, the `workerd` export condition, the
// .wasm as a compiled module) and configured only through its environment, as a deployed
// Worker is: UPSTREAM is the local simulator, ALLOWED_MODELS and ALLOWED_ORIGINS are "*"
// (no real token to protect), HF_TOKEN a placeholder. A small Node server in front serves
// www/, pkg/ and the renderer's libraries and forwards every other request to workerd, so the
// page and the embed work exactly as with `make demo`; /health says offline.
// Deploying the real thing: worker/wrangler.toml and the README's "Cloudflare Workers" section.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { startDemoServer } from "../scripts/demo-server.mjs";
import { startFixtureServer } from "../tests/fixture-server/server.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Bundle a Worker script as wrangler does: the `workerd` conditions, and each `.wasm`
 * copied beside the bundle for Miniflare's `CompiledWasm` rule (workerd refuses to
 * compile wasm from bytes at run time). Used by the demo and the workerd tests.
 */
export async function bundleWorker(entry, outdir) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    loader: { ".wasm": "copy" },
    assetNames: "[name]",
    outdir,
    logLevel: "silent",
  });
}

/**
 * Bundle and start the Worker on workerd, the simulator behind it and the page server in
 * front. `bindings` override the Worker's environment.
 * @returns {Promise<{ url: string, workerUrl: string, close(): Promise<void> }>}
 */
export async function startWorkerDemo({ port = 0, host = "127.0.0.1", pace = 35, seed = "varied", bindings = {} } = {}) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "hf-demo-worker-"));
  let fx;
  let mf;
  let web;
  try {
    await bundleWorker(path.join(ROOT, "worker", "index.js"), tmp);
    fx = await startFixtureServer({ port: 0 });
    const { Miniflare } = await import("miniflare");
    mf = new Miniflare({
      cf: false,
      modules: true,
      modulesRoot: tmp,
      scriptPath: path.join(tmp, "index.js"),
      modulesRules: [
        { type: "CompiledWasm", include: ["**/*.wasm"] },
        { type: "ESModule", include: ["**/*.js"] },
      ],
      compatibilityDate: "2025-01-01",
      bindings: {
        HF_TOKEN: "hf_offline_simulator_not_a_real_token",
        UPSTREAM: `${fx.url}${pace ? `/pace/${pace}` : ""}/demo/${seed}`,
        ALLOWED_MODELS: "*",
        ALLOWED_ORIGINS: "*",
        MAX_TOKENS_CAP: "1024",
        REQUESTS_PER_MINUTE: "120",
        BURST: "30",
        ...bindings,
      },
    });
    const workerUrl = String(await mf.ready).replace(/\/$/, "");
    // The page server forwards the proxy's routes to workerd, body streamed both ways.
    const handler = {
      async fetch(request) {
        const url = new URL(request.url);
        const headers = new Headers(request.headers);
        for (const h of ["host", "connection"]) headers.delete(h);
        const init = { method: request.method, headers, redirect: "manual", signal: request.signal };
        if (request.body && request.method !== "GET" && request.method !== "HEAD") Object.assign(init, { body: request.body, duplex: "half" });
        const res = await fetch(workerUrl + url.pathname + url.search, init);
        // fetch() hands over the body decompressed: drop the encoding headers that described it.
        const out = new Headers(res.headers);
        for (const h of ["content-encoding", "content-length"]) out.delete(h);
        return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
      },
    };
    web = await startDemoServer({ handler, offline: true, port, host });
    return {
      url: web.url,
      workerUrl,
      async close() {
        await web.close();
        await mf.dispose();
        await fx.close();
        await rm(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await web?.close();
    await mf?.dispose();
    await fx?.close();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const i = process.argv.indexOf("--port");
  const port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT || 8080);
  let demo;
  try {
    demo = await startWorkerDemo({ port });
  } catch (err) {
    if (err?.code === "EADDRINUSE") console.error(`demo-worker: port ${port} is in use; set PORT= to another port (e.g. PORT=8081 make demo-worker).`);
    else console.error(`demo-worker: could not start: ${err?.message ?? err}`);
    process.exit(1);
  }
  console.log("OFFLINE on workerd: the proxy Worker (worker/index.js) runs in the Workers runtime, in front of the local simulator.");
  console.log(`demo page:  ${demo.url}/www/`);
  console.log(`embed page: ${demo.url}/www/embed.html`);
  console.log(`proxy:      ${demo.url}/v1/chat/completions  (the Worker itself: ${demo.workerUrl})`);
  const stop = async () => {
    await demo.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
