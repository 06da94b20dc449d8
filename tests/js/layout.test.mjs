// Issue 12's layout rule: no circle among the shell's files (the Rust bindings in src/web/
// and the JS beside the wasm). benches/lib/shell.mjs finds the circles the size bench
// prints; this holds the checkout to none, and checks that the finder does find one.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { shellSize, codeLines } from "../../benches/lib/shell.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

test("no circle among the shell's files", () => {
  const s = shellSize(ROOT);
  assert.deepEqual(s.circles, []);
  assert.ok(s.total > 0 && s.client.rust > 0 && s.proxy.rust > 0 && s.client.js > 0);
});

test("the circle finder sees a child using its parent, and a JS import loop", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "layout-"));
  try {
    mkdirSync(path.join(dir, "src/web/client"), { recursive: true });
    mkdirSync(path.join(dir, "js"));
    writeFileSync(path.join(dir, "src/web/mod.rs"), "mod client;\nmod sys;\n");
    writeFileSync(path.join(dir, "src/web/sys.rs"), "pub fn now() {}\n");
    writeFileSync(path.join(dir, "src/web/client/mod.rs"), "mod a;\nmod b;\nuse a::A;\nstruct Config;\n");
    writeFileSync(path.join(dir, "src/web/client/a.rs"), "use super::Config;\nuse crate::web::sys;\npub struct A;\n");
    writeFileSync(path.join(dir, "src/web/client/b.rs"), "pub struct B;\n#[cfg(test)]\nmod tests {}\n");
    for (const f of ["wire.js", "api.js", "errors.js", "browser.js", "node.mjs", "workerd.js", "proxy-relay.js", "proxy-api.js", "proxy-state.js", "proxy.js", "proxy-node.mjs", "proxy-workerd.js", "node-fetch.mjs"]) {
      writeFileSync(path.join(dir, "js", f), "export const x = 1;\n");
    }
    writeFileSync(path.join(dir, "js/wire.js"), 'import { p } from "./pump.js";\nexport const w = p;\n');
    writeFileSync(path.join(dir, "js/pump.js"), 'import { w } from "./wire.js";\n/* a block\n comment */\nexport const p = w;\n');
    const s = shellSize(dir);
    const circles = s.circles.map((c) => c.join(" "));
    assert.ok(circles.includes("js/pump.js js/wire.js"), circles.join("; "));
    assert.ok(circles.some((c) => c.includes("src/web/client/a.rs") && c.includes("src/web/client/mod.rs")), circles.join("; "));
    assert.equal(codeLines("fn a() {}\n\n// note\n#[cfg(test)]\nmod tests { fn t() {} }\n", true), 1);
    assert.equal(codeLines("/* x\n y */\nconst a = 1;\n * not code\n", false), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The size tools' reader (benches/lib/wasm-functions.mjs): a module built here by hand
// with two imported functions and three defined ones of known sizes and names.
test("the wasm function reader names each body by its index past the imports", async () => {
  const { wasmFunctions } = await import("../../benches/lib/wasm-functions.mjs");
  const u = (n) => {
    const out = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const str = (s) => [...u(s.length), ...Buffer.from(s)];
  const section = (id, body) => [id, ...u(body.length), ...body];
  const vec = (items) => [...u(items.length), ...items.flat()];
  // One type, () -> (); imports "m"."a" and "m"."b"; bodies of 1, 4 and 200 `nop`s (a
  // size counts the locals byte and `end` too).
  const body = (nops) => {
    const code = [0, ...Array(nops).fill(0x01), 0x0b]; // no locals, nops, end
    return [...u(code.length), ...code];
  };
  const names = [[0, "imp_a"], [1, "imp_b"], [2, "small"], [3, "medium"], [4, "big"]];
  const nameSub = vec(names.map(([i, n]) => [...u(i), ...str(n)]));
  const bytes = Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 0, 0]])),
    ...section(2, vec([[...str("m"), ...str("a"), 0, 0], [...str("m"), ...str("b"), 0, 0]])),
    ...section(3, vec([[0], [0], [0]])),
    ...section(10, vec([body(1), body(4), body(200)])),
    ...section(0, [...str("name"), 1, ...u(nameSub.length), ...nameSub]),
  ]);
  const { functions, imported } = wasmFunctions(bytes);
  assert.equal(imported, 2);
  assert.deepEqual(
    functions.map((f) => [f.index, f.name, f.size]),
    [[2, "small", 3], [3, "medium", 6], [4, "big", 202]],
  );
});
