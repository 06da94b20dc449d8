// The package as a user gets it (issues 14 and 17): `npm pack` of the built pkg/, installed
// from the tarball into a scratch project, and `npm install <clone>/pkg` (the README's two
// install commands); exactly the expected files, the README and licence texts, every
// `exports` entry resolving to a file with its types; the ecosystem's linters (publint,
// @arethetypeswrong/cli) on it; the version in one place (Cargo.toml).
//
// Run: node --test tests/js/install.test.mjs   (after `bash scripts/build-pkg.sh`).
// npm installs only local paths here (a tarball, a directory; the package has no
// dependencies), with --offline: no registry is contacted.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile, readdir, readFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = path.join(ROOT, "pkg");
const BIN = path.join(ROOT, "node_modules", ".bin");
const T = { timeout: 120_000 };
const require = createRequire(import.meta.url);

// What the published package holds: the entries, the glue, the wasm (and its embedded
// copy), the declarations, the errors snippet, README, licences, package.json. Nothing else.
const EXPECTED = [
  "LICENSE-APACHE",
  "LICENSE-MIT",
  "README.md",
  "api.js",
  "browser.js",
  "cli.mjs",
  "hf_inference_proxy.js",
  "hf_inference_proxy_bg.wasm",
  "hf_inference_wasm.js",
  "hf_inference_wasm_bg.inline.js",
  "hf_inference_wasm_bg.wasm",
  "index.d.ts",
  "loadtest.d.ts",
  "loadtest.mjs",
  "node-fetch.mjs",
  "node-http.d.ts",
  "node-http.mjs",
  "node.mjs",
  "package.json",
  "proxy-api.js",
  "proxy-node.mjs",
  "proxy-state.js",
  "proxy-workerd.js",
  "proxy.d.ts",
  "proxy.js",
  "snippets/<crate>/js/errors.js",
  "snippets/<crate>/js/proxy-relay.js",
  "snippets/<crate>/js/pump.js",
  "snippets/<crate>/js/wire.js",
  "workerd.js",
];
const normalize = (f) => f.replace(/^snippets\/[^/]+\//, "snippets/<crate>/");

function run(cmd, args, { cwd = ROOT, timeout = 90_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms\n${stdout}${stderr}`));
    }, timeout);
    child.on("error", (e) => (clearTimeout(timer), reject(e)));
    child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}
const ok = async (cmd, args, opts) => {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
};

const cargoVersion = () => readFileSync(path.join(ROOT, "Cargo.toml"), "utf8").match(/^\[package\][^[]*?^version\s*=\s*"([^"]+)"/ms)[1];

/** A scratch project: an empty package.json in a temporary directory. */
async function scratchProject(tmp, name) {
  const dir = path.join(tmp, name);
  await ok("mkdir", ["-p", dir]);
  await writeFile(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, type: "module" }, null, 2));
  return dir;
}
const NPM_LOCAL = ["--offline", "--no-audit", "--no-fund", "--ignore-scripts"];

let tmp;
let tarball;
let manifest;

before(async () => {
  assert.ok(existsSync(path.join(PKG, "package.json")), "pkg/ is not built: run `bash scripts/build-pkg.sh`");
  manifest = JSON.parse(await readFile(path.join(PKG, "package.json"), "utf8"));
  tmp = await mkdtemp(path.join(os.tmpdir(), "hf-inference-wasm-install-"));
  // `npm pack <clone>/pkg`, from the scratch directory, as the README says.
  const { stdout } = await ok("npm", ["pack", PKG, "--json", ...NPM_LOCAL], { cwd: tmp });
  tarball = path.join(tmp, JSON.parse(stdout)[0].filename);
}, T);

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test("the tarball holds exactly the expected files: no tests, no sources, README and licences in", T, async () => {
  const { stdout } = await ok("tar", ["-tzf", tarball]);
  const files = stdout.split("\n").filter(Boolean).map((f) => normalize(f.replace(/^package\//, ""))).sort();
  assert.deepEqual(files, EXPECTED);
});

test("npm install <tarball> in a scratch project: the files, README and licence texts, the Node entry works", T, async () => {
  const app = await scratchProject(tmp, "from-tarball");
  await ok("npm", ["install", tarball, ...NPM_LOCAL], { cwd: app });
  const installed = path.join(app, "node_modules", "hf-inference-wasm");
  const files = (await readdir(installed, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => normalize(path.relative(installed, path.join(d.parentPath, d.name)).split(path.sep).join("/")))
    .sort();
  assert.deepEqual(files, EXPECTED);
  for (const f of ["README.md", "LICENSE-MIT", "LICENSE-APACHE"]) {
    const want = f === "README.md" ? path.join(ROOT, "js", "README.md") : path.join(ROOT, f);
    assert.equal(await readFile(path.join(installed, f), "utf8"), await readFile(want, "utf8"), `${f} is the repository's`);
  }
  assert.match(await readFile(path.join(installed, "LICENSE-MIT"), "utf8"), /^MIT License\n\nCopyright \(c\) \d{4} the hf-inference-wasm developers\n/);
  assert.match(await readFile(path.join(installed, "LICENSE-APACHE"), "utf8"), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  const m = JSON.parse(await readFile(path.join(installed, "package.json"), "utf8"));
  for (const k of ["repository", "homepage", "bugs", "keywords", "license"]) assert.ok(m[k], `package.json has ${k}`);
  assert.equal(m.license, "MIT OR Apache-2.0");

  const { stdout } = await ok(process.execPath, ["--input-type=module", "-e", 'const m = await import("hf-inference-wasm"); console.log(JSON.stringify({ names: Object.keys(m).sort(), version: m.version, ok: typeof new m.InferenceClient({ endpointUrl: "http://127.0.0.1:9" }).chatCompletionStream }))'], { cwd: app });
  const got = JSON.parse(stdout);
  assert.equal(got.version, cargoVersion());
  assert.ok(got.names.includes("InferenceClient") && !got.names.includes("createProxy"), got.names.join(","));
  const proxy = await ok(process.execPath, ["--input-type=module", "-e", 'const m = await import("hf-inference-wasm/proxy"); console.log(typeof m.createProxy({ allowedModels: "*", token: "hf_x" }).fetch)'], { cwd: app });
  assert.equal(proxy.stdout.trim(), "function", "the proxy entry works from the installed package");
  assert.equal(got.ok, "function");
});

test("every exports entry resolves, per condition, to a file of the installed package, and has its types", T, async () => {
  const app = path.join(tmp, "from-tarball");
  const installed = path.join(app, "node_modules", "hf-inference-wasm");
  assert.ok(existsSync(installed), "the previous test installed the tarball");
  const cases = [];
  for (const [sub, target] of Object.entries(manifest.exports)) {
    const spec = "hf-inference-wasm" + sub.slice(1);
    if (typeof target === "string") {
      cases.push({ spec, conditions: [], want: target });
      continue;
    }
    assert.ok(target.types, `${sub} declares its types`);
    assert.equal(Object.keys(target)[0], "types", `${sub}: types comes first`);
    assert.ok(existsSync(path.join(installed, target.types)), `${sub}: ${target.types} is installed`);
    for (const [cond, file] of Object.entries(target)) if (cond !== "types") cases.push({ spec, conditions: cond === "node" || cond === "import" || cond === "default" ? [] : [cond], want: file, cond });
  }
  for (const c of cases) {
    if (c.conditions.length === 0) {
      // Node's own resolver (conditions node, import, default): the node entry.
      const { stdout } = await ok(process.execPath, ["--input-type=module", "-e", `console.log(import.meta.resolve(${JSON.stringify(c.spec)}))`], { cwd: app });
      const file = fileURLToPath(stdout.trim());
      assert.ok(file.startsWith(installed + path.sep) && existsSync(file), `${c.spec} (Node) → ${file}`);
      continue;
    }
    // Another runtime or bundler (browser, workerd): Node's resolver always adds `node`, so
    // walk the conditions in their order as the spec says, with that condition, import, default.
    const target = manifest.exports["." + c.spec.slice("hf-inference-wasm".length)];
    const first = Object.keys(target).find((k) => [c.cond, "import", "default"].includes(k));
    assert.equal(target[first], c.want, `${c.spec} with condition ${c.cond} picks ${c.want}`);
    assert.ok(existsSync(path.join(installed, c.want)), `${c.spec} [${c.cond}] → ${c.want} is installed`);
  }
  // The types, as TypeScript resolves them for a project using the installed package.
  await writeFile(path.join(app, "use.ts"), 'import { InferenceClient, version } from "hf-inference-wasm";\nimport { toNodeListener } from "hf-inference-wasm/node";\nexport const v: string = version;\nexport const c = new InferenceClient({});\nexport const l = toNodeListener;\n');
  const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), "bin", "tsc");
  for (const mode of [["--module", "nodenext", "--moduleResolution", "nodenext"], ["--module", "esnext", "--moduleResolution", "bundler"]]) {
    const { stdout } = await ok(process.execPath, [tsc, ...mode, "--strict", "--noEmit", "--skipLibCheck", "--lib", "es2022,dom", "--listFilesOnly", "use.ts"], { cwd: app });
    const listed = stdout.split("\n").map((l) => path.resolve(app, l.trim()));
    for (const d of ["index.d.ts", "node-http.d.ts"]) assert.ok(listed.includes(path.join(installed, d)), `${mode[3]}: ${d} resolved; listed:\n${stdout}`);
    await ok(process.execPath, [tsc, ...mode, "--strict", "--noEmit", "--skipLibCheck", "--lib", "es2022,dom", "use.ts"], { cwd: app });
  }
});

test("`make pkg` then `npm install <clone>/pkg` from a scratch project: imports by name", T, async () => {
  // `make pkg` is the build this suite ran before (scripts/test-all.sh's build-pkg layer);
  // re-running it here would rebuild pkg/ under the other test files, so check what it runs.
  const { stdout: plan } = await ok("make", ["-n", "pkg"]);
  assert.match(plan, /^bash scripts\/build-pkg\.sh$/m, plan);
  const app = await scratchProject(tmp, "from-directory");
  await ok("npm", ["install", PKG, ...NPM_LOCAL], { cwd: app });
  const { stdout } = await ok(process.execPath, ["--input-type=module", "-e", 'const m = await import("hf-inference-wasm"); console.log(m.version)'], { cwd: app });
  assert.equal(stdout.trim(), cargoVersion());
});

test("publint finds nothing to report on pkg/ (suggestions included)", T, async () => {
  const { stdout } = await ok(path.join(BIN, "publint"), ["run", PKG, "--level", "suggestion", "--strict"]);
  assert.match(stdout, /All good!/, stdout);
});

test("@arethetypeswrong/cli, ESM-only profile: no problem in node16 (ESM) and bundler resolution", T, async () => {
  // The package is ESM only (Node >= 20): node10 resolution (no `exports`; removed from
  // TypeScript 7) and `require` from CommonJS are out of scope, which the profile skips.
  const { stdout } = await ok(path.join(BIN, "attw"), ["--profile", "esm-only", "--format", "json", tarball]);
  const report = JSON.parse(stdout);
  const problems = (report.analysis?.problems ?? []).filter((p) => !["node10", "node16-cjs"].includes(p.resolutionKind));
  assert.deepEqual(problems, [], JSON.stringify(problems, null, 2));
  const entrypoints = Object.keys(report.analysis.entrypoints).sort();
  assert.deepEqual(entrypoints, Object.keys(manifest.exports).sort(), "attw checked every exports entry");
});

test("the version lives in Cargo.toml: pkg/package.json, the exported `version` and CHANGELOG.md agree", async () => {
  const v = cargoVersion();
  assert.equal(manifest.version, v);
  const { version } = await import("hf-inference-wasm");
  assert.equal(version, v);
  const changelog = await readFile(path.join(ROOT, "CHANGELOG.md"), "utf8");
  assert.match(changelog, new RegExp(`^## \\[?${v.replace(/\./g, "\\.")}\\]?`, "m"), "CHANGELOG.md has a section for the current version");
});
