// What a browser downloads for `import { InferenceClient } from "hf-inference-wasm"` built
// by each bundler with its plain setup (tests/bundlers/build.mjs: esbuild minified, Rollup +
// node-resolve unminified, Vite and webpack 5 production builds): the JS and wasm files each
// build emits (index.html left out), each compressed on its own with gzip level 9
// (node:zlib), summed. Figures only.
//
// Run alone: node benches/bundlers.mjs   (after `bash scripts/build-pkg.sh`)

import { readFileSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { buildApp, BUNDLERS, ROOT } from "../tests/bundlers/build.mjs";
import { kb, table, versionOf } from "./lib/common.mjs";

export async function run() {
  // Under the repository, so that the bundlers resolve "hf-inference-wasm" from node_modules.
  mkdirSync(path.join(ROOT, "target"), { recursive: true });
  const tmp = mkdtempSync(path.join(ROOT, "target", "bench-bundlers-"));
  const rows = [];
  try {
    const entry = path.join(tmp, "app.mjs");
    writeFileSync(entry, 'import { InferenceClient } from "hf-inference-wasm";\nglobalThis.__bench = InferenceClient;\n');
    for (const b of BUNDLERS) {
      const out = path.join(tmp, b);
      const { files } = await buildApp(b, out, entry);
      const loaded = files.filter((f) => /\.(m?js|wasm)$/.test(f));
      let raw = 0;
      let gz = 0;
      for (const f of loaded) {
        const buf = readFileSync(path.join(out, f));
        raw += buf.length;
        gz += gzipSync(buf, { level: 9 }).length;
      }
      rows.push([`${b} ${versionOf(b === "rollup" ? "rollup" : b)}`, kb(raw), kb(gz), loaded.map((f) => path.basename(f)).join(", ")]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const body = "`import { InferenceClient }`, bundled; JS + wasm emitted, gzip level 9 each, summed. KB = 1024 bytes.\n\n" + table(["bundler", "raw", "gzip", "files"], rows, "lrrl");
  return { sections: [{ title: "3b. Size per bundler", body }], targets: [] };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run();
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
}
