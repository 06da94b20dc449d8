// scripts/low-memory-check.mjs guards wasm-opt's --low-memory-unused (scripts/wasm-opt.sh):
// the shipped modules pass it, and a module with its stack or data in the low 1 KB fails.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
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
