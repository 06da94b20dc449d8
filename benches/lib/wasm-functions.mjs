// The functions of a .wasm with their code sizes and, where the module keeps a name
// section, their names: what benches/profile.mjs's size breakdown and
// scripts/wasm-sizes.mjs read. Built with names kept (`wasm-bindgen --keep-debug`, or
// `wasm-opt -g`) the names are the compiler's.

/** `{ functions: [{ index, name, size }], sectionBytes: Map<id, bytes>, imported }` of the
 *  module in `b` (a Buffer). `name` is null where the module names none. */
export function wasmFunctions(b) {
  let at = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = b[at++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) return result;
    }
  };
  const skip = () => {
    const l = leb(); // read the length first: `at += leb()` would add it to the old `at`
    at += l;
  };
  let imported = 0;
  const sizes = [];
  const names = new Map();
  const sectionBytes = new Map();
  while (at < b.length) {
    const id = b[at++];
    const size = leb();
    const end = at + size;
    sectionBytes.set(id, (sectionBytes.get(id) ?? 0) + size);
    if (id === 2) {
      // Imports: count the function imports (they come first in the function index space).
      for (let n = leb(), i = 0; i < n; i++) {
        skip(); // module
        skip(); // name
        const kind = b[at++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          at++;
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 2) {
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 3) at += 2;
        else if (kind === 4) {
          at++;
          leb();
        }
      }
    } else if (id === 10) {
      for (let n = leb(), i = 0; i < n; i++) {
        const len = leb();
        sizes.push(len);
        at += len;
      }
    } else if (id === 0) {
      const nameLen = leb();
      const name = b.subarray(at, at + nameLen).toString("utf8");
      at += nameLen;
      if (name === "name") {
        while (at < end) {
          const sub = b[at++];
          const subSize = leb(); // as in skip(): the length first
          const subEnd = at + subSize;
          if (sub === 1) {
            for (let n = leb(), i = 0; i < n; i++) {
              const idx = leb();
              const l = leb();
              names.set(idx, b.subarray(at, at + l).toString("utf8"));
              at += l;
            }
          }
          at = subEnd;
        }
      }
    }
    at = end;
  }
  const expected = WebAssembly.Module.imports(new WebAssembly.Module(b)).filter((i) => i.kind === "function").length;
  if (imported !== expected) throw new Error(`wasm functions: counted ${imported} function imports, the module has ${expected}`);
  const functions = sizes.map((size, i) => ({ index: imported + i, name: names.get(imported + i) ?? null, size }));
  return { functions, sectionBytes, imported };
}
