#!/usr/bin/env node
// Where a wasm's code bytes go, by function or by module path, from its name section
// (build with names kept: `wasm-bindgen --keep-debug` leaves them; measure before wasm-opt,
// which merges functions and keeps one name for several bodies). A tool for size work,
// not part of any build or test.
//   node scripts/wasm-sizes.mjs FILE.wasm [top N | mod DEPTH]
// `top N` (default 40): the N largest functions. `mod DEPTH`: code bytes summed by the
// first DEPTH `::` segments of each name (generic arguments dropped).
import { readFileSync } from "node:fs";
import { wasmFunctions } from "../benches/lib/wasm-functions.mjs";

const [file, mode = "top", arg = "40"] = process.argv.slice(2);
if (!file || !["top", "mod"].includes(mode)) {
  console.error("usage: node scripts/wasm-sizes.mjs FILE.wasm [top N | mod DEPTH]");
  process.exit(2);
}
const bytes = readFileSync(file);
const { functions, sectionBytes } = wasmFunctions(bytes);
const clean = (f) => (f.name ?? `wasm-function[${f.index}]`).replace(/::h[0-9a-f]{16}$/, "");
const total = functions.reduce((a, f) => a + f.size, 0);
console.log(`${file}: ${bytes.length} bytes, code ${total} in ${functions.length} functions, data ${sectionBytes.get(11) ?? 0}`);
if (mode === "top") {
  for (const f of [...functions].sort((a, b) => b.size - a.size).slice(0, Number(arg))) console.log(String(f.size).padStart(7), clean(f));
} else {
  const by = new Map();
  for (const f of functions) {
    let name = clean(f);
    while (/<[^<>]*>/.test(name)) name = name.replace(/<[^<>]*>/g, "");
    const key = name.split("::").slice(0, Number(arg)).join("::");
    by.set(key, (by.get(key) ?? 0) + f.size);
  }
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(String(v).padStart(7), k);
}
