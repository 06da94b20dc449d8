// scripts/low-memory-check.mjs guards wasm-opt's --low-memory-unused (scripts/wasm-opt.sh):
// the shipped modules pass it, and a module with its stack or data in the low 1 KB fails.
// scripts/minify-wasm-names.mjs renames a wasm's imports and exports and its glue to match,
// or stops the build.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const check = (file) => spawnSync(process.execPath, [path.join(ROOT, "scripts/low-memory-check.mjs"), file], { encoding: "utf8" });

test("the shipped wasm modules keep the low 1 KB free", () => {
  for (const f of ["hf_inference_wasm_bg.wasm", "hf_inference_proxy_bg.wasm"]) {
    const r = check(path.join(ROOT, "pkg", f));
    assert.equal(r.status, 0, r.stderr);
  }
});

test("the shipped glues name the wasm's imports and exports by the short names", () => {
  // pkg/browser.js bundles the browser's own glue (the size build's), pkg/node.mjs the
  // release glue; a wasm-bindgen name (`__wbg_fetch_…` and its hash) in one would mean the
  // renaming was skipped for it.
  for (const f of ["hf_inference_wasm.js", "browser.js", "node.mjs", "hf_inference_proxy.js"]) {
    const glue = readFileSync(path.join(ROOT, "pkg", f), "utf8");
    assert.doesNotMatch(glue, /__wbg_\w+_[0-9a-f]{16}\b|wasm\.__wbg_|wasm\.__wbindgen_/, f);
  }
});

test("a module with its stack or a data segment in the low 1 KB is refused", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lowmem-"));
  try {
    const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    // A mutable i32 global (the stack pointer) starting at 16.
    const lowStack = [...header, 0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x10, 0x0b];
    // A memory, a stack at 1 MiB, and one active data segment at 8.
    const lowData = [
      ...header,
      0x05, 0x03, 0x01, 0x00, 0x11,
      0x06, 0x09, 0x01, 0x7f, 0x01, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x0b,
      0x0b, 0x08, 0x01, 0x00, 0x41, 0x08, 0x0b, 0x02, 0x68, 0x69,
    ];
    // The same with the segment at 2048: accepted.
    const fine = [...lowData.slice(0, -10), 0x0b, 0x09, 0x01, 0x00, 0x41, 0x80, 0x10, 0x0b, 0x02, 0x68, 0x69];
    const cases = [
      ["stack.wasm", lowStack, 1, /stack pointer starts at 16/],
      ["data.wasm", lowData, 1, /data segment 0 at 8/],
      ["fine.wasm", fine, 0, /^$/],
    ];
    for (const [name, bytes, status, message] of cases) {
      const f = path.join(dir, name);
      writeFileSync(f, Buffer.from(bytes));
      const r = check(f);
      assert.equal(r.status, status, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("minify-wasm-names renames a wasm's names and its glue's, or refuses and changes nothing", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "minify-"));
  try {
    const wat = path.join(dir, "m.wat");
    const wasm = path.join(dir, "m_bg.wasm");
    writeFileSync(
      wat,
      '(module (import "./m_bg.js" "__wbg_f_0123456789abcdef" (func $f)) (func (export "thing_run") (call $f)) (memory (export "memory") 1))',
    );
    const as = spawnSync(path.join(ROOT, "node_modules/.bin/wasm-as"), [wat, "-o", wasm], { encoding: "utf8" });
    assert.equal(as.status, 0, as.stderr);
    const glue = [
      "function __wbg_get_imports() {",
      "    const import0 = {",
      "        __proto__: null,",
      "        __wbg_f_0123456789abcdef: function() { globalThis.__called = true; },",
      "    };",
      "    return {",
      "        __proto__: null,",
      '        "./m_bg.js": import0,',
      "    };",
      "}",
      "export function run(module) {",
      "    const wasm = new WebAssembly.Instance(module, __wbg_get_imports()).exports;",
      "    wasm.thing_run();",
      "    return wasm.memory instanceof WebAssembly.Memory;",
      "}",
      "",
    ].join("\n");
    const minify = (g) => {
      writeFileSync(path.join(dir, "m.js"), g);
      const bytes = readFileSync(wasm);
      const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/minify-wasm-names.mjs"), wasm, path.join(dir, "m.js")], { encoding: "utf8", cwd: ROOT });
      return { r, bytes };
    };
    // A glue without the import's key: refused, both files as they were.
    const broken = glue.replace("__wbg_f_0123456789abcdef:", "__wbg_g:");
    const bad = minify(broken);
    assert.equal(bad.r.status, 1);
    assert.match(bad.r.stderr, /the import __wbg_f_0123456789abcdef is not found once/);
    assert.deepEqual(readFileSync(wasm), bad.bytes);
    assert.equal(readFileSync(path.join(dir, "m.js"), "utf8"), broken);
    // The real glue: renamed, and the pair still works.
    const ok = minify(glue);
    assert.equal(ok.r.status, 0, ok.r.stderr);
    const out = readFileSync(path.join(dir, "m.js"), "utf8");
    assert.doesNotMatch(out, /__wbg_f_0123456789abcdef|thing_run|m_bg\.js|wasm\.memory/);
    assert.ok(readFileSync(wasm).length < ok.bytes.length);
    const src = `data:text/javascript;base64,${Buffer.from(out).toString("base64")}`;
    const check = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `const { run } = await import(${JSON.stringify(src)}); const { readFileSync } = await import("node:fs"); const m = new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)})); if (!run(m) || !globalThis.__called) process.exit(3);`],
      { encoding: "utf8" },
    );
    assert.equal(check.status, 0, check.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
