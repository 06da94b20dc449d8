// Shared helpers for the benchmarks: statistics, formatting, the machine description, child
// processes with hard time limits, and the loopback-only guard on `fetch`.

import os from "node:os";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const BENCH_DIR = fileURLToPath(new URL("../", import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, "..");
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Statistics

export const median = (xs) => percentile(xs, 50);
export function percentile(xs, p) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const k = ((v.length - 1) * p) / 100;
  const lo = Math.floor(k);
  const hi = Math.ceil(k);
  return v[lo] + (v[hi] - v[lo]) * (k - lo);
}
/** Least-squares slope of y over x. */
export function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function num(x, digits) {
  if (!Number.isFinite(x)) return "–";
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}
export const kb = (bytes) => `${num(bytes / 1024, 1)} KB`;
export const mb = (bytes) => `${num(bytes / 1024 / 1024, 1)} MB`;
export const ms = (t, d) => (Number.isFinite(t) ? `${num(t, d ?? (t < 10 ? 2 : t < 100 ? 1 : 0))} ms` : "–");
export const us = (t) => (Number.isFinite(t) ? `${num(t, t < 10 ? 2 : t < 100 ? 1 : 0)} µs` : "–");
export const ratio = (x, best) => (Number.isFinite(x) && Number.isFinite(best) && best > 0 ? `${num(x / best, 2)}×` : "–");
export const md = (s) => String(s).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** A Markdown table from a header row and rows of cells. `align`: one letter per column,
 *  "l" or "r" (default: the first column left, the others right). */
export function table(header, rows, align) {
  const a = (i) => (align ? align[i] : i === 0 ? "l" : "r") === "r";
  const out = [`| ${header.map(md).join(" | ")} |`, `| ${header.map((_, i) => (a(i) ? "---:" : "---")).join(" | ")} |`];
  for (const r of rows) out.push(`| ${r.map((c) => md(c ?? "")).join(" | ")} |`);
  return out.join("\n");
}

/** "met" or "missed by X" for a target: `better` is "higher" or "lower". */
export function verdict(value, target, better, unit = "", fmt = (x) => num(x)) {
  if (!Number.isFinite(value)) return "not measured";
  const ok = better === "higher" ? value >= target : value <= target;
  if (ok) return "met";
  const gap = Math.abs(value - target);
  return `missed by ${fmt(gap)}${unit}`;
}

// ---------------------------------------------------------------------------------------------
// The machine and the versions

export function machine() {
  const cpus = os.cpus();
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = readFileSync("/etc/os-release", "utf8");
    const m = rel.match(/^PRETTY_NAME="?([^"\n]+)"?/m);
    if (m) osName = `${m[1]} (${os.type()} ${os.release()}, ${os.arch()})`;
  } catch {}
  return {
    cpu: cpus[0]?.model?.trim() || "unknown",
    cores: cpus.length,
    memory: `${Math.round(os.totalmem() / 1024 ** 3)} GiB`,
    node: process.version,
    os: osName,
  };
}

/** A dependency's version from its package.json on disk. */
export function versionOf(name) {
  for (const base of [path.join(BENCH_DIR, "node_modules"), path.join(ROOT, "node_modules")]) {
    try {
      return JSON.parse(readFileSync(path.join(base, name, "package.json"), "utf8")).version;
    } catch {}
  }
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return "?";
  }
}

// ---------------------------------------------------------------------------------------------
// Loopback only

/** Wrap `globalThis.fetch` so that any destination other than 127.0.0.1 is refused. */
export function loopbackOnly() {
  const real = globalThis.fetch;
  if (real.__loopbackOnly) return real;
  const guarded = function loopbackOnlyFetch(input, init) {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    if (url.hostname !== "127.0.0.1") return Promise.reject(new TypeError(`bench: refused non-loopback request to ${url.origin}`));
    return real(input, init);
  };
  guarded.__loopbackOnly = true;
  globalThis.fetch = guarded;
  return guarded;
}

// ---------------------------------------------------------------------------------------------
// Child processes, always bounded

const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/** Start a long-running helper (a server) that prints `URL=…`; it exits when we close its stdin. */
export async function startHelper(script, args = [], { timeoutMs = 20_000, nodeArgs = [], env } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/URL=(\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited (${code}) before it was ready: ${out}`));
    });
  });
  child.stdout.resume();
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      const t = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Run a child to completion and parse the JSON it prints on its last stdout line. Killed
 *  (and reported as a failure) after `timeoutMs`. */
export function runChild(script, args = [], { timeoutMs = 120_000, nodeArgs = [], env, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
      cwd,
    });
    children.add(child);
    let out = "";
    let err = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const last = out.trim().split("\n").pop() ?? "";
      let json;
      try {
        json = JSON.parse(last);
      } catch {}
      if (json && code === 0) resolve({ ok: true, ...json, stderr: err });
      else
        resolve({
          ok: false,
          error: timedOut ? `timed out after ${timeoutMs} ms` : `exit ${code ?? signal}: ${(err || out).trim().split("\n").slice(-3).join(" ⏎ ")}`,
          ...(json ?? {}),
        });
    });
  });
}

/** Race `promise` against a timer; rejects with `what` after `ms`. */
export function within(promise, msLimit, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${msLimit} ms`)), msLimit);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Whether pkg/ exists and what it exports (without loading it in this process). */
export function pkgInfo() {
  try {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, "pkg", "package.json"), "utf8"));
    return { built: true, version: manifest.version };
  } catch {
    return { built: false };
  }
}
