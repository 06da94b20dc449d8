#!/usr/bin/env node
// Where a wasm's bytes go: the code size of each function, by the name section's names
// (build with names kept: `wasm-bindgen --keep-debug` and `wasm-opt -g`), plus the data
// section. A tool for size work, not part of any build or test.
//   node scripts/wasm-sizes.mjs FILE.wasm [top N | mod DEPTH]
// `top N`: the N largest functions. `mod DEPTH`: code bytes summed by the first DEPTH
// `::` segments of each (demangled-ish) name.
import { readFileSync } from "node:fs";

const [file, mode = "top", arg = "40"] = process.argv.slice(2);
const bytes = readFileSync(file);
let pos = 8;
const leb = () => {
  let result = 0, shift = 0, b;
  do { b = bytes[pos++]; result += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
  return result;
};
const sections = [];
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = leb();
  sections.push({ id, start: pos, size });
  pos += size;
}
let imports = 0;
const names = new Map();
const bodies = [];
let data = 0;
for (const s of sections) {
  pos = s.start;
  if (s.id === 2) {
    const n = leb();
    for (let i = 0; i < n; i++) {
      const skip = () => { const l = leb(); pos += l; };
      skip(); skip();
      const kind = bytes[pos++];
      if (kind === 0) { leb(); imports++; }
      else if (kind === 1) { pos++; const f = bytes[pos++]; leb(); if (f & 1) leb(); }
      else if (kind === 2) { const f = bytes[pos++]; leb(); if (f & 1) leb(); }
      else if (kind === 3) { pos += 2; }
    }
  } else if (s.id === 10) {
    const n = leb();
    for (let i = 0; i < n; i++) { const size = leb(); bodies.push(size); pos += size; }
  } else if (s.id === 11) {
    data = s.size;
  } else if (s.id === 0) {
    const nl = leb();
    const name = bytes.subarray(pos, pos + nl).toString();
    pos += nl; // nl was read before this line
    if (name !== "name") continue;
    while (pos < s.start + s.size) {
      const sub = bytes[pos++];
      const len = leb();
      const end = pos + len;
      if (sub === 1) {
        const n = leb();
        for (let i = 0; i < n; i++) {
          const idx = leb(); const l = leb();
          names.set(idx, bytes.subarray(pos, pos + l).toString()); pos += l;
        }
      }
      pos = end;
    }
  }
}
const clean = (n) => n.replace(/::h[0-9a-f]{16}$/, "").replace(/^_ZN/, "");
const fns = bodies.map((size, i) => ({ size, name: clean(names.get(i + imports) ?? `#${i + imports}`) }));
const total = bodies.reduce((a, b) => a + b, 0);
console.log(`${file}: ${bytes.length} bytes, code ${total} in ${fns.length} functions, data ${data}`);
if (mode === "top") {
  for (const f of fns.sort((a, b) => b.size - a.size).slice(0, Number(arg))) console.log(String(f.size).padStart(7), f.name);
} else {
  const depth = Number(arg);
  const by = new Map();
  for (const f of fns) {
    const key = f.name.replace(/<[^<>]*>/g, "").split("::").slice(0, depth).join("::");
    by.set(key, (by.get(key) ?? 0) + f.size);
  }
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(String(v).padStart(7), k);
}
