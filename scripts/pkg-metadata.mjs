#!/usr/bin/env node
// Usage: node scripts/pkg-metadata.mjs pkg/package.json
//
// Adds the registry metadata (repository, homepage, bugs, keywords) and the licence files
// to `files` in the package.json
// that scripts/build-pkg.sh wrote. The repository URL is read from Cargo.toml, as the
// version is, so each fact lives in one place.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/pkg-metadata.mjs <package.json>");
  process.exit(2);
}
const cargo = readFileSync(fileURLToPath(new URL("../Cargo.toml", import.meta.url)), "utf8");
const pkgSection = cargo.split(/^\[/m).find((s) => s.startsWith("package]")) ?? "";
const repo = pkgSection.match(/^repository\s*=\s*"([^"]+)"/m)?.[1];
if (!repo || !/^https:\/\/github\.com\/[^/]+\/[^/]+$/.test(repo)) {
  console.error(`pkg-metadata: Cargo.toml's [package] repository must be a https://github.com/owner/name URL (found: ${repo})`);
  process.exit(1);
}

const manifest = JSON.parse(readFileSync(file, "utf8"));
// npm ships README* and LICENSE/LICENCE* by itself, but not LICENSE-MIT / LICENSE-APACHE.
manifest.files = [...new Set([...(manifest.files ?? []), "LICENSE-MIT", "LICENSE-APACHE"])];
const metadata = {
  keywords: ["huggingface", "inference", "llm", "openai", "chat", "streaming", "sse", "webassembly", "wasm", "cloudflare-workers", "proxy"],
  homepage: `${repo}#readme`,
  bugs: { url: `${repo}/issues` },
  repository: { type: "git", url: `git+${repo}.git` },
};
// Keep the usual order: the metadata right after name, version, description, license.
const out = {};
for (const [k, v] of Object.entries(manifest)) {
  out[k] = v;
  if (k === "license") Object.assign(out, metadata);
}
if (!("repository" in out)) Object.assign(out, metadata);
writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
