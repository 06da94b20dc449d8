// Section 4: cold start — from importing a client to its first request.
//
// Node: a fresh `node` process per sample (lib/coldstart-child.mjs) imports the client by
// package name, creates it and starts one streaming request to a loopback server in this
// process. The child reports the import time and the time until the client calls `fetch`;
// this process notes when the request arrives. A "no library" child that calls `fetch`
// directly gives the floor: Node loads its fetch implementation (undici) at the first call,
// and every client pays that the same way.
//
// workerd: the Worker runtime cannot time itself (its clocks stand still while JavaScript
// runs and move only across I/O), so the figures are taken from outside: a fresh Miniflare
// (its own workerd process) per sample runs a Worker bundled as wrangler would, that on its
// first request creates the client and streams one chat call from the same loopback server.
// We time `new Miniflare()` → ready (workerd start, module compile and top-level evaluation,
// where our `initSync` instantiates the wasm) and `dispatchFetch` → the request reaching the
// loopback server, for our Worker and for a Worker that calls `fetch` itself.
//
// Run alone: node benches/coldstart.mjs [--quick]

import http from "node:http";
import path from "node:path";
import os from "node:os";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { chunkEvent, DONE } from "./lib/bodies.mjs";
import { BENCH_DIR, ROOT, median, percentile, ms, num, table, verdict, runChild, within } from "./lib/common.mjs";

const now = () => performance.timeOrigin + performance.now();

/** A loopback chat server that notes when each request arrives (headers parsed). */
async function arrivalServer() {
  const arrivals = [];
  const body = chunkEvent({ role: "assistant" }) + chunkEvent({ content: "Hi" }) + chunkEvent({}, { finish: "stop" }) + DONE;
  const server = http.createServer(async (req, res) => {
    arrivals.push({ abs: now(), rel: performance.now() });
    for await (const _ of req);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    arrivals,
    close: () => new Promise((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
}

const NODE_CLIENTS = [
  ["none", "no library: `fetch` called directly"],
  ["ours", "hf-inference-wasm"],
  ["openai", "openai"],
  ["hf", "@huggingface/inference"],
];

async function nodeColdStart(samples, log) {
  const srv = await arrivalServer();
  const res = {};
  try {
    for (const [id] of NODE_CLIENTS) res[id] = { imp: [], toFetch: [], toServer: [], errors: [] };
    // Interleaved, so a burst of background load spreads over every client.
    for (let i = 0; i < samples; i++) {
      for (const [id] of NODE_CLIENTS) {
        const before = srv.arrivals.length;
        const r = await runChild(path.join(BENCH_DIR, "lib/coldstart-child.mjs"), [id, `${srv.url}/v1`], { timeoutMs: 30_000, cwd: ROOT });
        if (!r.ok) {
          res[id].errors.push(r.error);
          continue;
        }
        res[id].imp.push(r.importMs);
        res[id].toFetch.push(r.toFetchMs);
        const a = srv.arrivals[before];
        if (a) res[id].toServer.push(a.abs - r.t0Abs);
      }
    }
  } finally {
    await srv.close();
  }
  log(`coldstart: node done`);
  return res;
}

async function workerdColdStart(samples, log) {
  const pkgBuilt = existsSync(path.join(ROOT, "pkg", "workerd.js"));
  const esbuild = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-workerd-"));
  const srv = await arrivalServer();
  const workers = {
    none: `export default { async fetch(req, env) {
  const res = await fetch(env.URL + "/chat/completions", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "bench/model", messages: [{ role: "user", content: "Say this is a test" }], stream: true }) });
  return new Response(await res.text());
} };\n`,
    ours: `import { InferenceClient } from "hf-inference-wasm";
export default { async fetch(req, env) {
  const client = new InferenceClient({ endpointUrl: env.URL });
  const text = await client.chatCompletionStream({ model: "bench/model", messages: [{ role: "user", content: "Say this is a test" }] }).text();
  return new Response(text);
} };\n`,
  };
  const res = {};
  try {
    for (const [id, src] of Object.entries(workers)) {
      res[id] = { ready: [], toServer: [], total: [], errors: [] };
      if (id === "ours" && !pkgBuilt) {
        res[id].errors.push("pkg/ not built");
        continue;
      }
      const dir = path.join(tmp, id);
      writeFileSync(path.join(tmp, `${id}-entry.js`), src);
      await esbuild.build({
        absWorkingDir: ROOT,
        entryPoints: [path.join(tmp, `${id}-entry.js`)],
        bundle: true,
        format: "esm",
        platform: "neutral",
        conditions: ["workerd", "worker", "browser"],
        loader: { ".wasm": "copy" },
        assetNames: "[name]",
        outfile: path.join(dir, "worker.js"),
        nodePaths: [path.join(ROOT, "node_modules")],
        logLevel: "silent",
      });
    }
    for (let i = 0; i < samples; i++) {
      for (const id of Object.keys(workers)) {
        if (res[id].errors.includes("pkg/ not built")) continue;
        const dir = path.join(tmp, id);
        let mf;
        try {
          const t0 = performance.now();
          mf = new Miniflare({
            cf: false,
            modules: true,
            modulesRoot: dir,
            scriptPath: path.join(dir, "worker.js"),
            modulesRules: [
              { type: "CompiledWasm", include: ["**/*.wasm"] },
              { type: "ESModule", include: ["**/*.js"] },
            ],
            compatibilityDate: "2025-01-01",
            bindings: { URL: `${srv.url}/v1` },
          });
          await within(mf.ready, 30_000, "miniflare ready");
          const t1 = performance.now();
          const before = srv.arrivals.length;
          const r = await within(mf.dispatchFetch("http://worker.bench/"), 30_000, "dispatchFetch");
          const text = await within(r.text(), 30_000, "worker response body");
          const t3 = performance.now();
          const okText = id === "none" ? text.includes('"content":"Hi"') : text === "Hi";
          if (r.status !== 200 || !okText) throw new Error(`worker answered ${r.status}: ${text.slice(0, 120)}`);
          const a = srv.arrivals[before];
          res[id].ready.push(t1 - t0);
          if (a) res[id].toServer.push(a.rel - t1);
          res[id].total.push(t3 - t0);
        } catch (e) {
          res[id].errors.push(String(e?.message ?? e).slice(0, 160));
        } finally {
          if (mf) await within(mf.dispose(), 15_000, "miniflare dispose").catch(() => {});
        }
      }
    }
  } finally {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`coldstart: workerd done`);
  return res;
}

export async function run({ quick = false, log = () => {} } = {}) {
  const nodeSamples = quick ? 5 : 15;
  const wdSamples = quick ? 3 : 9;
  const node = await nodeColdStart(nodeSamples, log);
  let wd;
  try {
    wd = await workerdColdStart(wdSamples, log);
  } catch (e) {
    wd = { error: String(e?.message ?? e) };
  }

  const base = median(node.none.toServer);
  const rows = NODE_CLIENTS.map(([id, label]) => {
    const r = node[id];
    if (!r.imp.length) return [label, `error: ${r.errors[0] ?? "no samples"}`, "", "", "", ""];
    return [
      label,
      id === "none" ? "–" : ms(median(r.imp)),
      ms(median(r.toFetch)),
      `${ms(median(r.toServer))} (p90 ${ms(percentile(r.toServer, 90))})`,
      id === "none" ? "" : ms(median(r.toServer) - base),
      r.errors.length ? `${r.errors.length} failed: ${r.errors[0]}` : `${r.imp.length} ok`,
    ];
  });
  const lines = [
    `Node ${process.version}: median of ${nodeSamples} fresh processes per client (interleaved). "import" is \`await import()\` of the package ` +
      "(for hf-inference-wasm: reading the .wasm, compiling and instantiating it); \"→ fetch() called\" runs from the start of the import until the client calls `fetch` " +
      "(the client constructed and the request prepared); \"→ request at server\" until the loopback server has the request's headers, which includes Node loading " +
      "its fetch implementation on the first call (the no-library row is that floor; the clocks of the two processes are compared through `performance.timeOrigin`). " +
      "The target is read on \"− no-library floor\": what importing and using the client adds to the first request. " +
      "hf-inference-wasm's \"→ fetch() called\" includes Node loading undici already in the constructor (the options check touches the global `Headers`), which the others pay inside their first `fetch`.",
    "",
    table(["client", "import", "→ fetch() called", "→ request at server", "− no-library floor", "samples"], rows, "lrrrrl"),
  ];
  if (wd.error) lines.push("", `workerd: not measured (${wd.error}).`);
  else {
    const wb = { ready: median(wd.none.ready), toServer: median(wd.none.toServer) };
    const wrows = [
      ["no library: `fetch` in the Worker", "none"],
      ["hf-inference-wasm (Worker bundled with the `workerd` condition)", "ours"],
    ].map(([label, id]) => {
      const r = wd[id];
      if (!r.ready.length) return [label, `error: ${r.errors[0] ?? "no samples"}`, "", "", ""];
      return [
        label,
        ms(median(r.ready)),
        ms(median(r.toServer)),
        id === "none" ? "" : `${ms(median(r.ready) - wb.ready)} / ${ms(median(r.toServer) - wb.toServer)}`,
        r.errors.length ? `${r.errors.length} failed: ${r.errors[0]}` : `${r.ready.length} ok`,
      ];
    });
    lines.push(
      "",
      `workerd (miniflare ${(await import("./lib/common.mjs")).versionOf("miniflare")}): median of ${wdSamples} fresh Miniflare instances per Worker. ` +
        "\"start → ready\" is `new Miniflare()` to `ready`: the workerd process starting and loading the Worker (modules compiled, top level evaluated: " +
        "our `initSync` instantiates the precompiled .wasm there). \"dispatch → request at server\" is the first `dispatchFetch` until the loopback server " +
        "has the Worker's request (client created, request prepared, sent by workerd). The Worker cannot time this itself: workerd's clocks stand still while JavaScript runs.",
      "",
      table(["Worker", "start → ready", "dispatch → request at server", "− no-library (ready / dispatch)", "samples"], wrows, "lrrrl"),
    );
  }

  // The target is read against what the package adds to Node's own first-request cost.
  const added = median(node.ours.toServer) - base;
  const targets = [
    {
      target: "cold start ≤ 5 ms in Node (import → request at server, over the no-library floor)",
      ours: `${ms(added)} (import alone ${ms(median(node.ours.imp))}; → fetch() called ${ms(median(node.ours.toFetch))})`,
      verdict: verdict(added, 5, "lower", " ms", (x) => num(x, 1)),
    },
  ];
  return { sections: [{ title: "4. Cold start", body: lines.join("\n") }], targets, raw: { node, workerd: wd } };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run({ quick: process.argv.includes("--quick"), log: (s) => process.stderr.write(s + "\n") });
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
  console.log(table(["target", "ours", "verdict"], r.targets.map((t) => [t.target, t.ours, t.verdict])));
}
