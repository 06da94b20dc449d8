// node scripts/minify-wasm-names.mjs WASM GLUE: renames WASM's imports, exports and import
// module to the shortest names (binaryen's --minify-imports-and-exports-and-modules) and
// GLUE, its wasm-bindgen JavaScript, to match, both in place. The names wasm-bindgen gives
// them (`__wbg_headers_9ef80dd266706f48`, `exchange_bodyRead`, …) are private to the glue,
// and each is in the wasm once and in the glue once or more: 67 imports and 49 exports of
// the proxy's wasm came to 4 KB raw, 1.6 KB gzip of it (its 16-hex-digit hashes do not
// compress). Stops the build, leaving both files as they were, unless every name is
// found where it is expected: each import's key once in the glue's imports object, the
// module's key once, and after the rewrite no `wasm.<name>` the wasm does not export.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";

const [wasmFile, glueFile] = process.argv.slice(2);
const fail = (why) => {
  rmSync(`${wasmFile}.min`, { force: true });
  console.error(`minify-wasm-names: ${glueFile}: ${why}`);
  process.exit(1);
};
const features = ["bulk-memory", "nontrapping-float-to-int", "sign-ext", "mutable-globals", "reference-types", "multivalue"];
const map = JSON.parse(
  execFileSync(
    "node_modules/.bin/wasm-opt",
    [...features.map((f) => `--enable-${f}`), "--minify-imports-and-exports-and-modules", wasmFile, "-o", `${wasmFile}.min`],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  ),
);
const escape = (s) => s.replace(/[$]/g, "\\$");
let glue = readFileSync(glueFile, "utf8");
const modules = new Set(map.imports.map(([m]) => m));
if (modules.size !== 1) fail(`imports from ${modules.size} modules, expected one`);
const [module] = modules;
// binaryen names the one module "a" (its first short name).
const moduleKey = new RegExp(`^(\\s+)${JSON.stringify(module).replace(/[.$]/g, (c) => `\\${c}`)}: import0,$`, "gm");
if ((glue.match(moduleKey) ?? []).length !== 1) fail(`the module key ${module} is not found once`);
glue = glue.replace(moduleKey, "$1a: import0,");
for (const [, name, short] of map.imports) {
  const key = new RegExp(`^(\\s+)${escape(name)}: `, "gm");
  if ((glue.match(key) ?? []).length !== 1) fail(`the import ${name} is not found once`);
  glue = glue.replace(key, `$1${short}: `);
}
const exports = new Map(map.exports);
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (whole, name) => {
  const short = exports.get(name);
  if (short === undefined) fail(`wasm.${name} is not an export`);
  return `wasm.${short}`;
});
writeFileSync(glueFile, glue);
renameSync(`${wasmFile}.min`, wasmFile);
