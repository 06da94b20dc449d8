// The benchmark suite: runs every section and prints one Markdown report on stdout (progress
// goes to stderr). Benchmarks print figures; they never assert and never fail on a number.
//
//   node benches/run.mjs                      # everything (`make bench`), under ten minutes
//   node benches/run.mjs --quick              # fewer runs and samples, smaller streams
//   node benches/run.mjs --only decode        # one section: decode, size, coldstart, memory, proxy
//   node benches/run.mjs --json /tmp/b.json   # also write the raw measurements
//
// Sections (one file each; see benches/README.md for how each figure is measured):
//   decode.mjs      1. stream decode throughput and 2. time to first token
//   size.mjs        3. size of what a browser downloads
//   bundlers.mjs    3b. the same per bundler (esbuild, Rollup, Vite, webpack 5)
//   coldstart.mjs   4. cold start in Node and in workerd
//   memory.mjs      5. memory while streaming 100 MiB
//   proxy-load.mjs  6. the auth proxy under load (skipped until pkg/ exports createProxy)
// Every server is a loopback server started here; every wait is bounded; the process exits
// on its own.

import os from "node:os";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { statSync } from "node:fs";
import path from "node:path";
import { machine, versionOf, pkgInfo, table, ROOT } from "./lib/common.mjs";

const argv = process.argv.slice(2);
const argOf = (name) => {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
};
const QUICK = argv.includes("--quick");
const ONLY = argOf("--only");
const JSON_OUT = argOf("--json");

const SECTIONS = [
  { id: "decode", file: "./decode.mjs", also: ["ttft", "throughput"] },
  { id: "size", file: "./size.mjs" },
  { id: "bundlers", file: "./bundlers.mjs" },
  { id: "coldstart", file: "./coldstart.mjs", also: ["cold"] },
  { id: "memory", file: "./memory.mjs", also: ["mem"] },
  { id: "proxy", file: "./proxy-load.mjs", also: ["proxy-load", "load"] },
];
const chosen = ONLY ? SECTIONS.filter((s) => s.id === ONLY || s.also?.includes(ONLY)) : SECTIONS;
if (ONLY && chosen.length === 0) {
  console.error(`--only ${ONLY}: no such section; use one of ${SECTIONS.map((s) => s.id).join(", ")}`);
  process.exit(2);
}

const log = (s) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)} s] ${s}\n`);
const started = Date.now();
const m = machine();
const pkg = pkgInfo();
const loadBefore = os.loadavg();
// What pkg/ was built from: the last commit that changed its sources (HEAD may be newer).
let commit = "?";
try {
  commit = execFileSync("git", ["-C", ROOT, "log", "-1", "--format=%h", "--", "src", "js", "Cargo.toml", "Cargo.lock", "scripts/build-pkg.sh"], { encoding: "utf8" }).trim();
  const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--", "src", "js", "Cargo.toml", "Cargo.lock"], { encoding: "utf8" }).trim();
  if (dirty) commit += " + uncommitted changes";
} catch {}
let builtAt = "";
try {
  builtAt = statSync(path.join(ROOT, "pkg", "hf_inference_wasm_bg.wasm")).mtime.toISOString().replace(/\.\d+Z$/, "Z");
} catch {}

const outputs = [];
const targets = [];
const raw = {};
for (const s of chosen) {
  log(`${s.id}: starting`);
  const t0 = Date.now();
  try {
    const mod = await import(s.file);
    const r = await mod.run({ quick: QUICK, log });
    outputs.push(...r.sections);
    targets.push(...r.targets);
    raw[s.id] = r.raw ?? null;
  } catch (e) {
    outputs.push({ title: s.id, body: `failed: ${e?.stack ?? e}` });
  }
  log(`${s.id}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const wall = (Date.now() - started) / 1000;
const loadAfter = os.loadavg();

const out = [];
out.push(`# hf-inference-wasm benchmarks${QUICK ? " (--quick)" : ""}`);
out.push("");
out.push(
  table(
    ["machine", ""],
    [
      ["CPU", `${m.cpu} × ${m.cores} cores`],
      ["memory", m.memory],
      ["OS", m.os],
      ["Node", m.node],
      ["load average (1 min) before / after", `${loadBefore[0].toFixed(2)} / ${loadAfter[0].toFixed(2)}`],
      ["hf-inference-wasm", pkg.built ? `${pkg.version}: pkg/ built ${builtAt}; its sources (src/, js/, Cargo.*) last changed in ${commit}` : "pkg/ not built"],
      ["peers", `openai ${versionOf("openai")}, @huggingface/inference ${versionOf("@huggingface/inference")}, eventsource-parser ${versionOf("eventsource-parser")}`],
      ["tools", `esbuild ${versionOf("esbuild")}, miniflare ${versionOf("miniflare")}`],
    ],
    "ll",
  ),
);
out.push("");
out.push("All servers are loopback servers the benchmark starts on 127.0.0.1; figures are printed, never asserted. See benches/README.md for how each is measured.");
for (const s of outputs) {
  out.push("");
  out.push(`## ${s.title}`);
  out.push("");
  out.push(s.body);
}
if (targets.length) {
  out.push("");
  out.push("## Targets");
  out.push("");
  out.push(table(["target", "hf-inference-wasm", "verdict"], targets.map((t) => [t.target, t.ours, t.verdict]), "lll"));
}
out.push("");
out.push(`Total wall time: ${wall.toFixed(0)} s.`);
console.log(out.join("\n"));

if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify({ machine: m, pkg, commit, quick: QUICK, wallSeconds: wall, targets, raw }, null, 2));
process.exit(0);
