// Section 3: what a browser downloads.
//
// Ours: the `browser` entry of pkg/ and every JS file it imports, plus the .wasm, each file
// as shipped (raw, gzip -9, brotli q11 via node:zlib, summed over the files, since each is
// fetched on its own), and the same entry bundled and minified by esbuild (the browser entry
// embeds the wasm as base64 in a JS module, so the .wasm is counted once, inside the JS). Peers: esbuild (the root's pinned version), platform
// browser, ESM, minified, tree-shaken, for the whole client and for chat alone.
//
// Run alone: node benches/size.mjs

import { readFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, kb, num, table, verdict, versionOf } from "./lib/common.mjs";
import { shellSize } from "./lib/shell.mjs";

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length;
const measure = (buf) => ({ raw: buf.length, gzip: gz(buf), brotli: br(buf) });
const add = (a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli });
const ZERO = { raw: 0, gzip: 0, brotli: 0 };

/** The browser entry's static import graph inside pkg/ (relative specifiers only). */
function importGraph(entry) {
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    // A statement starts a line, or follows `;` (minified code: the shipped browser.js).
    for (const m of src.matchAll(/(?:^|[\n;])\s*(?:import|export)\s*[^'";]*?from\s*['"](\.[^'"]+)['"]|(?:^|[\n;])\s*import\s*['"](\.[^'"]+)['"]/g)) {
      walk(path.resolve(path.dirname(file), m[1] ?? m[2]));
    }
  };
  walk(entry);
  return [...seen];
}

/** The streaming decoder core alone (cargo feature `decoder`), built here the way the
 * shipped wasm is (scripts/build-core-wasm.sh); null, with the reason, when it cannot be. */
function decoderCore() {
  const r = spawnSync("bash", [path.join(ROOT, "scripts/build-core-wasm.sh")], { cwd: ROOT, encoding: "utf8" });
  const file = path.join(ROOT, "target/core-wasm/decoder_bg.wasm");
  if (r.status !== 0 || !existsSync(file)) return { why: `not built: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}` };
  return { size: measure(readFileSync(file)) };
}

async function bundle(esbuild, dir, name, source) {
  const entry = path.join(dir, `${name}.mjs`);
  writeFileSync(entry, source);
  const out = path.join(dir, `${name}.out.js`);
  const r = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    nodePaths: [path.join(ROOT, "node_modules")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: out,
    write: true,
    logLevel: "silent",
    metafile: true,
  });
  return { size: measure(readFileSync(out)), warnings: r.warnings.map((w) => w.text), inputs: Object.keys(r.metafile.inputs).length };
}

export async function run() {
  const pkg = path.join(ROOT, "pkg");
  const lines = [];
  const targets = [];
  if (!existsSync(path.join(pkg, "browser.js"))) {
    return { sections: [{ title: "3. Size", body: "skipped: pkg/ is not built" }], targets: [] };
  }
  const esbuild = await import("esbuild");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-size-"));
  try {
    const wasmFile = path.join(pkg, "hf_inference_wasm_bg.wasm");
    const nodeWasm = measure(readFileSync(wasmFile));
    const jsFiles = importGraph(path.join(pkg, "browser.js"));
    let glue = ZERO;
    for (const f of jsFiles) glue = add(glue, measure(readFileSync(f)));
    // The browser entry embeds the wasm (base64 in *.inline.js): then it is in the glue.
    // That one is the size build (scripts/build-pkg.sh); Node and workerd load the .wasm.
    const inline = jsFiles.find((f) => f.endsWith(".inline.js"));
    const embedded = inline !== undefined;
    const wasm = embedded ? measure(Buffer.from(await (await import(pathToFileURL(inline).href)).default())) : nodeWasm;
    const shipped = embedded ? glue : add(wasm, glue);
    // The proxy entry (`hf-inference-wasm/proxy`): its own wasm and glue, never in the client's.
    const proxyWasm = existsSync(path.join(pkg, "hf_inference_proxy_bg.wasm")) ? measure(readFileSync(path.join(pkg, "hf_inference_proxy_bg.wasm"))) : null;
    let proxyGlue = ZERO;
    const proxyFiles = proxyWasm ? importGraph(path.join(pkg, "proxy.js")) : [];
    for (const f of proxyFiles) proxyGlue = add(proxyGlue, measure(readFileSync(f)));
    const proxyShipped = proxyWasm ? add(proxyWasm, proxyGlue) : null;

    // Ours bundled: the JS minified into one file; the .wasm beside it unchanged.
    const ourBundle = await bundle(esbuild, tmp, "ours", 'import { InferenceClient } from "hf-inference-wasm";\nglobalThis.__bench = InferenceClient;\n');
    const ourBundled = embedded ? ourBundle.size : add(ourBundle.size, wasm);

    const peers = [
      ["@huggingface/inference: whole client (`InferenceClient`)", 'import { InferenceClient } from "@huggingface/inference";\nglobalThis.__bench = new InferenceClient("hf_x");\n'],
      ["@huggingface/inference: `import *`", 'import * as hf from "@huggingface/inference";\nglobalThis.__bench = hf;\n'],
      ["@huggingface/inference: chat only (`chatCompletionStream`)", 'import { chatCompletionStream } from "@huggingface/inference";\nglobalThis.__bench = chatCompletionStream;\n'],
      ["openai: whole client (`new OpenAI()`)", 'import OpenAI from "openai";\nglobalThis.__bench = new OpenAI({ apiKey: "x", dangerouslyAllowBrowser: true });\n'],
      ["openai: chat only (`new OpenAI().chat.completions`)", 'import OpenAI from "openai";\nglobalThis.__bench = new OpenAI({ apiKey: "x", dangerouslyAllowBrowser: true }).chat.completions;\n'],
    ];
    const peerRows = [];
    for (const [label, src] of peers) {
      const b = await bundle(esbuild, tmp, `peer${peerRows.length}`, src);
      peerRows.push([label, kb(b.size.raw), kb(b.size.gzip), kb(b.size.brotli), `${b.inputs} modules${b.warnings.length ? `; ${b.warnings.length} warnings` : ""}`]);
    }

    const core = decoderCore();
    const rows = [
      ...(embedded
        ? [
            ["hf-inference-wasm: the browser's `.wasm` (embedded)", kb(wasm.raw), kb(wasm.gzip), kb(wasm.brotli), `${path.relative(pkg, inline)}: compiled for size throughout`],
            ["hf-inference-wasm: Node and workerd's `.wasm`", kb(nodeWasm.raw), kb(nodeWasm.gzip), kb(nodeWasm.brotli), "pkg/hf_inference_wasm_bg.wasm: the wire crate compiled for speed"],
          ]
        : [["hf-inference-wasm: `.wasm`", kb(wasm.raw), kb(wasm.gzip), kb(wasm.brotli), "pkg/hf_inference_wasm_bg.wasm"]]),
      ["hf-inference-wasm: JS glue as shipped", kb(glue.raw), kb(glue.gzip), kb(glue.brotli), jsFiles.map((f) => path.relative(pkg, f)).join(", ")],
      ["**hf-inference-wasm: .wasm + glue as shipped** (whole = chat only)", kb(shipped.raw), kb(shipped.gzip), kb(shipped.brotli), "each file compressed on its own, summed"],
      [embedded ? "hf-inference-wasm: esbuild bundle (minified JS, wasm embedded)" : "hf-inference-wasm: esbuild bundle (minified JS) + .wasm", kb(ourBundled.raw), kb(ourBundled.gzip), kb(ourBundled.brotli), `JS ${kb(ourBundle.size.raw)} raw / ${kb(ourBundle.size.gzip)} gzip`],
      ...(proxyShipped
        ? [["hf-inference-wasm/proxy: .wasm + glue (server side, not in the client's)", kb(proxyShipped.raw), kb(proxyShipped.gzip), kb(proxyShipped.brotli), `${kb(proxyWasm.gzip)} gzip of it .wasm; ${proxyFiles.map((f) => path.relative(pkg, f)).join(", ")}`]]
        : []),
      core.size
        ? ["hf-inference-wasm: streaming decoder core alone (`ChatDecoder`, never shipped)", kb(core.size.raw), kb(core.size.gzip), kb(core.size.brotli), "scripts/build-core-wasm.sh: SSE + one scan per event + the read's text and events, no glue; compiled for size throughout, as the browser's wasm is"]
        : ["hf-inference-wasm: streaming decoder core alone", "-", "-", "-", core.why],
      ...peerRows,
    ];
    lines.push(
      `esbuild ${versionOf("esbuild")}, \`platform: "browser"\`, ESM, minified, tree-shaken; gzip level 9 and brotli quality 11 (node:zlib). ` +
        "For hf-inference-wasm \"chat only\" is the whole client entry: one wasm module and one class, nothing to shake off; the proxy is a separate entry. " +
        `Peers: @huggingface/inference ${versionOf("@huggingface/inference")}, openai ${versionOf("openai")}. KB = 1024 bytes.`,
    );
    lines.push("");
    lines.push(table(["what", "raw", "gzip", "brotli", "notes"], rows, "lrrrl"));
    targets.push({
      target: "browser client entry (.wasm + glue) ≤ 40 KB gzip",
      ours: `${kb(shipped.gzip)} gzip (${kb(wasm.gzip)} of it .wasm)`,
      verdict: verdict(shipped.gzip / 1024, 40, "lower", " KB", (x) => num(x, 1)),
    });
    targets.push({
      target: "streaming decoder core alone (.wasm) ≤ 10 KB gzip",
      ours: core.size ? `${kb(core.size.gzip)} gzip` : core.why,
      verdict: core.size ? verdict(core.size.gzip / 1024, 10, "lower", " KB", (x) => num(x, 1)) : "not measured",
    });
    if (proxyShipped) {
      targets.push({
        target: "proxy entry (.wasm + glue) ≤ 80 KB gzip",
        ours: `${kb(proxyShipped.gzip)} gzip (${kb(proxyWasm.gzip)} of it .wasm)`,
        verdict: verdict(proxyShipped.gzip / 1024, 80, "lower", " KB", (x) => num(x, 1)),
      });
    }
    // The shell: the bindings in src/web/ and the JS beside the wasm (benches/lib/shell.mjs).
    const shell = shellSize(ROOT);
    lines.push("");
    lines.push(
      `The shell (code lines: no blank lines, comments or Rust tests; benches/lib/shell.mjs): the client's ${shell.client.rust} lines of Rust bindings (src/web/client/ and the shared src/web/*.rs) and ${shell.client.js} of JS, ` +
        `the proxy's ${shell.proxy.rust} and ${shell.proxy.js} (shared files in both), ${shell.total} lines in all. Largest: ${shell.largest.join(", ")}. ` +
        (shell.circles.length ? `Circles among the files' references: ${shell.circles.map((c) => c.join(" ↔ ")).join("; ")}.` : "No circle among the files' references."),
    );
    targets.push({
      target: "the shell (Rust bindings + JS) under 1,500 lines",
      ours: `${shell.total} lines (client ${shell.client.rust} + ${shell.client.js}, proxy ${shell.proxy.rust} + ${shell.proxy.js})`,
      verdict: verdict(shell.total, 1500, "lower", " lines", (x) => String(Math.round(x))),
    });
    targets.push({
      target: "no circle between the shell's files",
      ours: shell.circles.length ? `${shell.circles.length} circle(s), ${shell.circles.reduce((a, c) => a + c.length, 0)} files` : "none",
      verdict: shell.circles.length ? "missed" : "met",
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { sections: [{ title: "3. Size", body: lines.join("\n") }], targets };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run();
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
  console.log(table(["target", "ours", "verdict"], r.targets.map((t) => [t.target, t.ours, t.verdict])));
}
