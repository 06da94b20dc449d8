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
