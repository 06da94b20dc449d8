// Builds one tiny browser app (tests/packaging/bundle-entry.js: `import ... from
// "hf-inference-wasm"` and the packaging scenario) with each bundler the README names,
// each with its plain, zero-config setup as a user would write it:
//   esbuild   esbuild.build({ bundle: true, format: "esm", minify: true })
//   rollup    rollup({ plugins: [nodeResolve()] }), output format "es"
//   vite      vite build of an index.html whose module script is the entry
//   webpack   webpack({ mode: "production" }), the default target "web"
// Each build writes `<outDir>/index.html` (loading the bundle the way that bundler's users
// load it) next to the bundle, and returns the files it wrote and the warnings it printed.
// Used by tests/js/bundlers.test.mjs (run in Chromium) and benches/bundlers.mjs (sizes).

import { mkdir, readdir, writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ENTRY = path.join(ROOT, "tests", "packaging", "bundle-entry.js");
export const BUNDLERS = ["esbuild", "rollup", "vite", "webpack"];

// Loaded first by every page: a failed module graph lands in `document.body.dataset.error`.
const REPORT_ERRORS = '<script src="/tests/packaging/report-errors.js"></script>';
const page = (script) =>
  `<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>bundled</title>${REPORT_ERRORS}</head>\n<body>${script}</body></html>\n`;

async function listFiles(dir) {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join("/"))
    .sort();
}

const builders = {
  async esbuild(outDir, entry) {
    const esbuild = await import("esbuild");
    const r = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { app: entry },
      bundle: true,
      format: "esm",
      minify: true,
      outdir: outDir,
      logLevel: "silent",
    });
    await writeFile(path.join(outDir, "index.html"), page('<script type="module" src="./app.js"></script>'));
    return r.warnings.map((w) => w.text);
  },

  async rollup(outDir, entry) {
    const { rollup } = await import("rollup");
    const { nodeResolve } = await import("@rollup/plugin-node-resolve");
    const warnings = [];
    const bundle = await rollup({ input: { app: entry }, plugins: [nodeResolve()], onwarn: (w) => warnings.push(w.message) });
    await bundle.write({ dir: outDir, format: "es" });
    await bundle.close();
    await writeFile(path.join(outDir, "index.html"), page('<script type="module" src="./app.js"></script>'));
    return warnings;
  },

  async vite(outDir, entry) {
    const { build } = await import("vite");
    // A Vite app is an index.html at its root; the entry module sits next to it.
    const src = `${outDir}.src`;
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "main.js"), `import ${JSON.stringify(entry)};\n`);
    await writeFile(path.join(src, "index.html"), page('<script type="module" src="./main.js"></script>'));
    const warnings = [];
    try {
      await build({
        configFile: false,
        root: src,
        base: "./",
        logLevel: "silent",
        customLogger: { info() {}, warn: (m) => warnings.push(m), warnOnce: (m) => warnings.push(m), error: (m) => warnings.push(m), clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
        build: { outDir, emptyOutDir: true },
      });
    } finally {
      await rm(src, { recursive: true, force: true });
    }
    return warnings;
  },

  async webpack(outDir, entry) {
    const { default: webpack } = await import("webpack");
    const stats = await new Promise((resolve, reject) =>
      webpack({ mode: "production", context: ROOT, entry, output: { path: outDir, filename: "app.js", clean: true } }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    const info = stats.toJson({ all: false, errors: true, warnings: true });
    if (stats.hasErrors()) throw new Error(`webpack: ${info.errors.map((e) => e.message).join("\n")}`);
    // webpack's output is a classic script (HtmlWebpackPlugin's default tag).
    await writeFile(path.join(outDir, "index.html"), page('<script defer src="./app.js"></script>'));
    return info.warnings.map((w) => w.message);
  },
};

/**
 * Build the app (`entry`, by default the packaging scenario) with `bundler` into `outDir`
 * (emptied first).
 * @returns {Promise<{ files: string[], warnings: string[] }>} files relative to outDir
 */
export async function buildApp(bundler, outDir, entry = ENTRY) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const warnings = await builders[bundler](outDir, entry);
  return { files: await listFiles(outDir), warnings };
}
