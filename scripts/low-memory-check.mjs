// Checks that nothing is laid out in a wasm module's low 1 KB of memory, the assumption
// behind wasm-opt's --low-memory-unused (scripts/wasm-opt.sh): every active data segment
// starts at or above 1024 and the first mutable i32 global (the stack pointer) starts
// there too. Exits 1, naming what it found, when that does not hold.
//   node scripts/low-memory-check.mjs FILE.wasm
import { readFileSync } from "node:fs";

const b = readFileSync(process.argv[2]);
let p = 8;
const leb = () => {
  let r = 0, s = 0, x;
  do { x = b[p++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80);
  return r >>> 0;
};
// A constant i32 initializer: i32.const N end.
const constInit = () => {
  if (b[p] !== 0x41) return null;
  p++;
  let r = 0, s = 0, x;
  do { x = b[p++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80);
  if (s < 32 && x & 0x40) r |= -1 << s;
  return b[p++] === 0x0b ? r : null;
};
const problems = [];
let stack = null;
while (p < b.length) {
  const id = b[p++];
  const len = leb();
  const end = p + len;
  if (id === 6) {
    for (let n = leb(), i = 0; i < n; i++) {
      const type = b[p++], mutable = b[p++];
      const v = constInit();
      if (v === null) { p = end; break; }
      if (stack === null && type === 0x7f && mutable === 1) stack = v;
    }
  } else if (id === 11) {
    for (let n = leb(), i = 0; i < n; i++) {
      const flags = leb();
      if (flags === 1) { const n = leb(); p += n; continue; } // passive: copied where the code says
      if (flags === 2) leb();
      const at = constInit();
      if (at === null || at < 1024) problems.push(`data segment ${i} at ${at ?? "a computed address"}`);
      const size = leb();
      p += size;
    }
  }
  p = end;
}
if (stack === null || stack < 1024) problems.push(`stack pointer starts at ${stack}`);
if (problems.length) {
  console.error(`low-memory-check: ${process.argv[2]} uses its low 1 KB (${problems.join("; ")}): drop --low-memory-unused`);
  process.exit(1);
}
