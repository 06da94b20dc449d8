// Where our client's decode time goes: a CPU profile (`node --cpu-prof`) of hf-inference-wasm
// streaming the decode benchmark's 10k-token stream (written in bulk, then in 4–16 byte pieces),
// summarized as the top functions by self time and by layer (wasm, our JS glue, Node's
// streams/undici, GC). Prints Markdown. Not part of `make bench`; run it when a throughput
// target is missed:
//
//   node benches/profile.mjs            # profiles pkg/ as shipped (wasm names stripped by wasm-opt)
//   node benches/profile.mjs --named    # profiles a copy of pkg/ whose .wasm keeps its name
//                                       # section (built from target/…/hf_inference_wasm.wasm
//                                       # with wasm-bindgen and scripts/wasm-opt.sh's passes + `-g`, into
//                                       # benches/.profile-pkg/), so wasm functions have names
//
// The named copy differs from the shipped module only by its name section (same wasm-opt
// level), so the profile is of the same code.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createHash } from "node:crypto";
import { textStream } from "./lib/bodies.mjs";
import { BENCH_DIR, ROOT, runChild, startHelper, table, num } from "./lib/common.mjs";
import { wasmFunctions } from "./lib/wasm-functions.mjs";

const NAMED = process.argv.includes("--named");
const NAME = "hf_inference_wasm";

/** Build benches/.profile-pkg: pkg/'s JS files, and the .wasm again with its names kept. */
function buildNamedCopy() {
  // The client's wasm (build-pkg.sh builds the proxy's last, into the same file).
  execFileSync("cargo", ["build", "--lib", "--target", "wasm32-unknown-unknown", "--release", "--quiet", "--no-default-features", "--features", "client"], { cwd: ROOT, stdio: "inherit", timeout: 600_000 });
  const src = path.join(ROOT, "target", "wasm32-unknown-unknown", "release", `${NAME}.wasm`);
  if (!existsSync(src)) throw new Error(`${path.relative(ROOT, src)} not found: run scripts/build-pkg.sh first`);
  const out = path.join(BENCH_DIR, ".profile-pkg");
  rmSync(out, { recursive: true, force: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-prof-"));
  try {
    execFileSync("wasm-bindgen", ["--target", "web", "--weak-refs", "--out-dir", tmp, "--out-name", NAME, src], { stdio: "inherit", timeout: 120_000 });
    cpSync(path.join(ROOT, "pkg"), out, { recursive: true });
    // The shipped passes (scripts/wasm-opt.sh's optimize), the name section kept.
    cpSync(path.join(tmp, `${NAME}_bg.wasm`), path.join(out, `${NAME}_bg.wasm`));
    execFileSync("bash", ["-c", '. scripts/wasm-opt.sh && optimize "$1"', "optimize", path.join(out, `${NAME}_bg.wasm`)], {
      cwd: ROOT,
      stdio: "inherit",
      timeout: 300_000,
      env: { ...process.env, WASM_OPT_KEEP_NAMES: "1" },
    });
    // The glue must match the module it instantiates: take the fresh one (same snippet hash).
    cpSync(path.join(tmp, `${NAME}.js`), path.join(out, `${NAME}.js`));
    // pkg/node.mjs is a bundle holding pkg's glue: bundle it again over the fresh one, as
    // scripts/build-pkg.sh does.
    const errors = readdirSync(path.join(out, "snippets")).map((d) => `./snippets/${d}/js/errors.js`).find((f) => existsSync(path.join(out, f)));
    cpSync(path.join(ROOT, "js", "node.mjs"), path.join(out, "node.mjs"));
    execFileSync(
      path.join(ROOT, "node_modules", ".bin", "esbuild"),
      [path.join(out, "node.mjs"), "--bundle", "--format=esm", "--platform=node", `--external:${errors}`, "--log-level=warning", `--outfile=${path.join(out, "node.bundled.mjs")}`],
      { stdio: "inherit", timeout: 120_000 },
    );
    cpSync(path.join(out, "node.bundled.mjs"), path.join(out, "node.mjs"));
    // Before wasm-opt, for the size breakdown: its names are the compiler's own (wasm-opt
    // folds and merges functions, so names after it do not say whose bytes they are).
    cpSync(path.join(tmp, `${NAME}_bg.wasm`), path.join(out, "pre-opt.wasm"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return pathToFileURL(path.join(out, "node.mjs")).href;
}

/** Code bytes per function, from the code and name sections of a .wasm: Markdown lines
 *  with the code size by crate / module (what the size target is made of). */
function wasmSizeByArea(file, shipped) {
  const b = readFileSync(file);
  const shippedBytes = readFileSync(shipped).length;
  const { functions, sectionBytes } = wasmFunctions(b);
  const area = (n) => {
    const m = n.match(/^<?(?:&(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::([A-Za-z_][A-Za-z0-9_]*)?/);
    if (!m) return n.startsWith("__") ? "runtime (__wbindgen, __rust, externref)" : "other";
    return m[1] === "hf_inference_wasm" && m[2] ? `hf_inference_wasm::${m[2]}` : m[1];
  };
  const byArea = new Map();
  let total = 0;
  for (const f of functions) {
    const a = area(f.name ?? "");
    byArea.set(a, (byArea.get(a) ?? 0) + f.size);
    total += f.size;
  }
  const rows = [...byArea].sort((x, y) => y[1] - x[1]).slice(0, 20).map(([a, n]) => [`\`${a}\``, `${num(n / 1024, 1)} KB`, `${num((100 * n) / total, 1)} %`]);
  const biggest = functions
    .map((f) => ({ len: f.size, name: f.name ?? `wasm-function[${f.index}]` }))
    .sort((x, y) => y.len - x.len)
    .slice(0, 15)
    .map((f) => [`\`${f.name.replace(/::h[0-9a-f]{16}$/, "").slice(0, 120)}\``, `${num(f.len / 1024, 1)} KB`]);
  return [
    `## Where the .wasm's bytes go (by crate or our module, top 20)`,
    "",
    `Measured on the module as wasm-bindgen leaves it, before wasm-opt (${num(b.length / 1024, 1)} KB with its name section: code ${num(total / 1024, 1)} KB, data ${num((sectionBytes.get(11) ?? 0) / 1024, 1)} KB; ` +
      `shipped after wasm-opt: ${num(shippedBytes / 1024, 1)} KB): wasm-opt folds and merges functions, so only the compiler's own names say whose bytes they are. ` +
      "Shares carry over roughly, not exactly. Generic functions count under the crate that defines them (a serde_json deserializer instantiated for our types counts as serde_json; " +
      "an async fn's state machine inlined into the `future_to_promise` instance that polls it counts as js_sys). Raw bytes, before compression.",
    "",
    table(["crate / module", "code bytes", "share"], rows, "lrr"),
    "",
    "Largest functions:",
    "",
    table(["function", "code bytes"], biggest, "lr"),
  ];
}

const sources = new Map();
/** "import __wbg_parse: const ret = JSON.parse(…)" for an anonymous import function of the
 *  glue; "(anonymous, line N)" otherwise. */
function describeAnonymous(url, line) {
  let lines = sources.get(url);
  if (lines === undefined) {
    try {
      lines = readFileSync(new URL(url), "utf8").split("\n");
    } catch {
      lines = null;
    }
    sources.set(url, lines);
  }
  const here = lines?.[line] ?? "";
  // wasm-bindgen's names (`__wbg_parse_…:`), or the short ones build-pkg.sh gives them.
  const m = here.match(/(__wbg_[A-Za-z0-9_]+?)_[0-9a-f]{16}\s*:/) ?? here.match(/^\s*([A-Za-z0-9_$]+): function\(/);
  if (!m) return `(anonymous, line ${line + 1})`;
  const body = (lines[line + 1] ?? "").trim().replace(/^const ret = /, "").slice(0, 70);
  return `import ${m[1]}: ${body}`;
}

/** Self time per function from a .cpuprofile: [{ name, url, ms, layer }], and the total. */
function summarize(file) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(prof.samples[i]);
    if (!n) continue;
    total += dt;
    const cf = n.callFrame;
    // Anonymous JS functions are told apart by their line (1-based, as an editor shows it);
    // in the wasm-bindgen glue, by the import they implement and its first statement.
    const name = cf.functionName || (cf.url && !cf.url.startsWith("wasm://") ? describeAnonymous(cf.url, cf.lineNumber) : "(anonymous)");
    const key = `${name}\u0000${cf.url}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const layer = (name, url) => {
    if (url.startsWith("wasm://")) return "wasm";
    if (name === "(garbage collector)") return "GC";
    if (name === "(idle)") return "idle";
    if (name === "(program)") return "V8/native";
    if (/hf_inference_wasm\.js|\/api\.js|\/errors\.js/.test(url)) return "our JS glue";
    if (/benches\//.test(url)) return "benchmark loop";
    if (url.startsWith("node:") || url === "" || /internal\//.test(url)) return "Node (streams, undici, timers)";
    return "other";
  };
  const rows = [...self].map(([k, ms]) => {
    const [name, url] = k.split("\u0000");
    return { name, url, ms, layer: layer(name, url) };
  });
  rows.sort((a, b) => b.ms - a.ms);
  return { rows, total };
}

const text = textStream();
const hash = (s) => createHash("sha1").update(s).digest("hex");
const expected = { text: { len: text.text.length, hash: hash(text.text) }, tool: { len: 0, hash: "" } };

let moduleUrl = "";
if (NAMED) moduleUrl = buildNamedCopy();
const hasNames = (() => {
  const wasmFile = NAMED ? path.join(BENCH_DIR, ".profile-pkg", `${NAME}_bg.wasm`) : path.join(ROOT, "pkg", `${NAME}_bg.wasm`);
  return WebAssembly.Module.customSections(new WebAssembly.Module(readFileSync(wasmFile)), "name").length > 0;
})();

const out = [];
if (NAMED) out.push(...wasmSizeByArea(path.join(BENCH_DIR, ".profile-pkg", "pre-opt.wasm"), path.join(ROOT, "pkg", `${NAME}_bg.wasm`)), "");
const server = await startHelper(path.join(BENCH_DIR, "lib/stream-server.mjs"));
out.push(`# CPU profile of hf-inference-wasm (for await) decoding the benchmark streams`);
out.push("");
out.push(
  `Module: ${NAMED ? "benches/.profile-pkg (pkg/ with the wasm name section kept)" : "pkg/ as shipped"}; ` +
    (hasNames ? "wasm functions are named." : "the .wasm has no name section (wasm-opt strips it), so wasm functions show as `wasm-function[N]`; run with `--named` for names."),
);
try {
  for (const sc of [
    { name: "bulk", runs: 15, scenario: { name: "text", route: "/s/text/bulk", kind: "text" } },
    { name: "tiny pieces", runs: 3, scenario: { name: "text-tiny", route: "/s/text/bulk", kind: "text", tiny: true } },
  ]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-cpuprof-"));
    try {
      const cfg = { client: "ours", url: server.url, runs: sc.runs, warmup: 2, expected, scenarios: [sc.scenario], ttft: null };
      const r = await runChild(path.join(BENCH_DIR, "lib/decode-child.mjs"), [JSON.stringify(cfg)], {
        nodeArgs: ["--expose-gc", "--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=200"],
        env: moduleUrl ? { BENCH_OURS_MODULE: moduleUrl } : {},
        timeoutMs: 240_000,
      });
      if (!r.ok) throw new Error(r.error);
      const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
      const { rows, total } = summarize(path.join(dir, file));
      const busy = rows.filter((x) => x.layer !== "idle").reduce((a, x) => a + x.ms, 0);
      const layers = new Map();
      for (const x of rows) if (x.layer !== "idle") layers.set(x.layer, (layers.get(x.layer) ?? 0) + x.ms);
      out.push("");
      out.push(`## 10k-token stream, ${sc.name}: ${sc.runs + 2} calls, ${num(busy, 0)} ms busy of ${num(total, 0)} ms profiled`);
      out.push("");
      out.push(table(["layer", "self time", "share of busy"], [...layers].sort((a, b) => b[1] - a[1]).map(([l, t]) => [l, `${num(t, 0)} ms`, `${num((100 * t) / busy, 1)} %`]), "lrr"));
      // The wasm share by area, from the function names (only with a name section).
      if (hasNames) {
        const area = (n) => {
          if (/serde_json|serde_core|serde::/.test(n)) return "serde_json (parsing each chunk into a Value tree, writing JSON)";
          if (/btree/i.test(n)) return "BTreeMap (serde_json::Map of the chunk's fields)";
          if (/dlmalloc|__rdl_|__rust_(alloc|dealloc|realloc)|alloc::raw_vec|to_vec|memcpy|memmove|memset/.test(n)) return "allocator and copies";
          if (/str::lossy|from_utf8|Utf8Chunks/.test(n)) return "UTF-8 checks (lossy decoding)";
          if (/hf_inference_wasm::sse/.test(n)) return "hf_inference_wasm::sse (SSE decoder)";
          if (/hf_inference_wasm::(stream|types|json)/.test(n)) return "hf_inference_wasm::stream/types/json (chunk semantics)";
          if (/hf_inference_wasm::web/.test(n)) return "hf_inference_wasm::web (shell: pull loop, transport)";
          if (/wasm_bindgen|js_sys|web_sys|wasm-to-js|externref|__wbindgen|futures/.test(n)) return "wasm-bindgen / js-sys / futures glue";
          return "other";
        };
        const areas = new Map();
        const wasmRows = rows.filter((x) => x.layer === "wasm");
        const wasmTotal = wasmRows.reduce((a, x) => a + x.ms, 0);
        for (const x of wasmRows) areas.set(area(x.name), (areas.get(area(x.name)) ?? 0) + x.ms);
        out.push("");
        out.push(table(["inside wasm, by area", "self time", "share of busy"], [...areas].sort((a, b) => b[1] - a[1]).map(([l, t]) => [l, `${num(t, 0)} ms`, `${num((100 * t) / busy, 1)} %`]), "lrr"));
        void wasmTotal;
      }
      out.push("");
      out.push(
        table(
          [`function (top ${process.env.PROFILE_TOP ?? 25} by self time, idle excluded)`, "layer", "self", "share"],
          rows
            .filter((x) => x.layer !== "idle")
            .slice(0, Number(process.env.PROFILE_TOP ?? 25))
            .map((x) => [`\`${x.name.slice(0, 110)}\`${x.url && !x.url.startsWith("wasm://") ? ` (${path.basename(x.url)})` : ""}`, x.layer, `${num(x.ms, 0)} ms`, `${num((100 * x.ms) / busy, 1)} %`]),
          "llrr",
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  await server.stop();
}
console.log(out.join("\n"));
process.exit(0);
