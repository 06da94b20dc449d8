#!/usr/bin/env node
// The `hf-inference-wasm` command. One subcommand, `loadtest`: steps of fixed concurrency
// (or arrival rate) against a chat-completions server through this package's client, a live
// progress line, a table, `--json` and `--html` reports. Before any request it prints the
// upper bounds on requests, time and (with a price) cost, and refuses to start a run that
// could cost more than `--max-cost` (or whose cost is unknown on a non-local server) without
// `--yes`. Exit codes: 0 run done (a breaking point is a result, not a failure), 1 the run
// could not be done, 2 bad usage or refused.

import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { DEFAULTS, estimateCost, loadTest, lookupPrice, planLoadTest, renderHtml } from "./loadtest.mjs";

const ROUTER = "https://router.huggingface.co";

const USAGE = `Usage: hf-inference-wasm loadtest --model M [options]

Target
  --base-url URL        OpenAI-compatible server, our proxy, or the router (default ${ROUTER})
  --model M             model id (router: "org/name" or "org/name:provider")
  --token-env VAR       send $VAR as the bearer token (default: $HF_TOKEN, sent to Hugging Face hosts only)
  --header "N: V"       extra request header (repeatable), e.g. "x-proxy-key: …"

Load
  --concurrency LIST    steps of fixed concurrency (default ${DEFAULTS.concurrency.join(",")})
  --rate LIST/s         steps of fixed arrival rate instead, e.g. 5/s or 1,2,4/s or 120/m
  --requests N          requests per step (default ${DEFAULTS.requests}; with --duration a cap, default ${DEFAULTS.requestsWithDuration})
  --duration D          also end each step after D (30s, 2m, 500ms)
  --warmup N            unmeasured requests before the first step (default ${DEFAULTS.warmup})
  --max-tokens N        max_tokens of each request (default ${DEFAULTS.maxTokens})
  --prompt FILE         the prompt: a text file, or .jsonl (one string or {"messages": […]} a line, cycled)
  --retries N           retries per request (default ${DEFAULTS.retries}: a load test wants to see the 429s)
  --timeout D           per-request timeout (default ${DEFAULTS.timeoutMs / 1000}s)
  --stop-on-break       stop after the step that is the breaking point

Safety
  --max-time D          hard stop of the whole run (default ${DEFAULTS.maxDurationMs / 60_000}m)
  --prices IN,OUT       US dollars per million input, output tokens (else the target's /v1/models
                        pricing, as the router lists it; "none" skips the lookup)
  --max-cost USD        a run whose upper-bound cost exceeds this needs --yes (default 1)
  --yes                 start even above --max-cost, with an unknown cost on a non-local server,
                        or above ${"1000"} requests / 1 hour

Output
  --json FILE           the report as JSON ("-" for stdout)
  --html FILE           the report as a self-contained HTML page with charts
  --quiet               no progress line

Breaking point: the first step where errors exceed 1% of requests or p95 TTFT exceeds 3× the
first step's. Exit codes: 0 done, 1 the run failed, 2 bad usage or refused.`;

class UsageError extends Error {}

/** `30s`, `2m`, `500ms`, `1h`, or plain seconds. */
export function parseDuration(s, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(s).trim());
  if (!m) throw new UsageError(`${name}: not a duration: ${JSON.stringify(s)} (use 500ms, 30s, 2m, 1h)`);
  const v = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"];
  if (!(v > 0)) throw new UsageError(`${name} must be above zero`);
  return v;
}

const parseList = (s, name) => {
  const items = String(s)
    .split(",")
    .map((x) => x.trim());
  const nums = items.map(Number);
  if (items.some((x) => x === "") || !nums.every((n) => Number.isFinite(n) && n > 0)) throw new UsageError(`${name}: not a list of positive numbers: ${JSON.stringify(s)}`);
  return nums;
};

const parseInteger = (s, name, min = 0) => {
  if (!/^\d+$/.test(String(s)) || Number(s) < min) throw new UsageError(`${name}: not a whole number${min ? ` ≥ ${min}` : ""}: ${JSON.stringify(s)}`);
  return Number(s);
};

/** `5/s`, `1,2,4/s`, `120/m` → requests per second. */
export function parseRate(s) {
  const m = /^([\d.,\s]+)(?:\/(s|m|min))?$/.exec(String(s).trim());
  if (!m) throw new UsageError(`--rate: not a rate: ${JSON.stringify(s)} (use 5/s, 1,2,4/s or 120/m)`);
  const per = m[2] && m[2] !== "s" ? 60 : 1;
  return parseList(m[1], "--rate").map((r) => r / per);
}

function readPrompts(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--prompt: cannot read ${file}: ${e.message}`);
  }
  if (!/\.jsonl$/i.test(file)) {
    if (!text.trim()) throw new UsageError(`--prompt: ${file} is empty`);
    return [text];
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (lines.length === 0) throw new UsageError(`--prompt: ${file} has no lines`);
  return lines.map((l, i) => {
    try {
      const v = JSON.parse(l);
      if (typeof v === "string" || Array.isArray(v) || Array.isArray(v?.messages)) return v;
      if (typeof v?.prompt === "string") return v.prompt;
    } catch {
      // reported below
    }
    throw new UsageError(`--prompt: ${file} line ${i + 1} is not a JSON string, {"messages": […]} or {"prompt": "…"}`);
  });
}

function isLoopback(url) {
  const h = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\./.test(h);
}
const isHuggingFace = (url) => /(^|\.)huggingface\.(co|cloud)$|(^|\.)hf\.space$/.test(new URL(url).hostname);

const fmtMs = (ms) => {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
};
const fmt = (v, w) => String(v === null || v === undefined ? "–" : typeof v === "number" ? (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 10) / 10) : v).padStart(w);

/** The end-of-run table, one line per step. */
export function formatTable(report) {
  const byRate = report.settings.mode === "rate";
  const head = [byRate ? "rate/s" : "conc", "reqs", "ok", "ttft50", "ttft95", "ttft99", "itl50", "itl95", "e2e50", "e2e95", "e2e99", "tok/s", "tok/s/req", "req/s", "errors"];
  const widths = [6, 5, 5, 7, 7, 7, 6, 6, 7, 7, 7, 7, 9, 6, 0];
  const line = (cells) =>
    cells
      .map((c, i) => (widths[i] ? fmt(c, widths[i]) : ` ${c}`))
      .join(" ")
      .trimEnd();
  const out = [line(head)];
  report.steps.forEach((s, i) => {
    const errs = Object.entries(s.errors)
      .map(([k, n]) => `${k}: ${n}`)
      .join(", ");
    const mark = report.breakingPoint?.step === i ? "  ← breaking point" : "";
    out.push(line([byRate ? s.rate : s.concurrency, s.requests, s.ok, s.ttftMs.p50, s.ttftMs.p95, s.ttftMs.p99, s.itlMs.p50, s.itlMs.p95, s.e2eMs.p50, s.e2eMs.p95, s.e2eMs.p99, s.outputTokensPerSec, s.requestOutputTokensPerSec.mean, s.requestsPerSec, (errs || "–") + mark]));
  });
  out.push("latencies in ms; tok/s: output tokens per second of the step, tok/s/req: per request (mean)");
  const bp = report.breakingPoint;
  out.push(bp ? `breaking point: ${byRate ? `${bp.rate} requests/s` : `concurrency ${bp.concurrency}`}: ${bp.reason}` : "breaking point: none in the steps run");
  if (report.costUsd !== null) out.push(`cost: $${report.costUsd.toFixed(6)} (${report.tokens.prompt} prompt + ${report.tokens.output} output tokens)`);
  if (report.stopped) out.push(`stopped early: ${report.stopped}`);
  return out.join("\n");
}

/** Parse `loadtest` arguments into `loadTest` options plus the CLI's own. */
export function parseLoadtestArgs(argv, env = {}) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        "base-url": { type: "string" },
        model: { type: "string" },
        "token-env": { type: "string" },
        header: { type: "string", multiple: true },
        concurrency: { type: "string" },
        rate: { type: "string" },
        requests: { type: "string" },
        duration: { type: "string" },
        warmup: { type: "string" },
        "max-tokens": { type: "string" },
        prompt: { type: "string" },
        retries: { type: "string" },
        timeout: { type: "string" },
        "stop-on-break": { type: "boolean" },
        "max-time": { type: "string" },
        prices: { type: "string" },
        "max-cost": { type: "string" },
        yes: { type: "boolean", short: "y" },
        json: { type: "string" },
        html: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (!v.model) throw new UsageError("--model is required");
  if (v.rate !== undefined && v.concurrency !== undefined) throw new UsageError("give --concurrency or --rate, not both");
  const url = v["base-url"] ?? ROUTER;
  try {
    if (!/^https?:$/.test(new URL(url).protocol)) throw new Error();
  } catch {
    throw new UsageError(`--base-url: not an http(s) URL: ${JSON.stringify(url)}`);
  }
  const router = new URL(url).hostname === "router.huggingface.co";
  let token;
  let tokenFrom = "none";
  if (v["token-env"]) {
    token = env[v["token-env"]];
    if (!token) throw new UsageError(`--token-env ${v["token-env"]}: the variable is not set`);
    tokenFrom = `$${v["token-env"]}`;
  } else if (env.HF_TOKEN && isHuggingFace(url)) {
    token = env.HF_TOKEN;
    tokenFrom = "$HF_TOKEN";
  }
  if (router && !token) throw new UsageError("the Hugging Face router needs a token: set HF_TOKEN (or --token-env VAR)");
  const headers = {};
  for (const h of v.header ?? []) {
    const i = h.indexOf(":");
    if (i <= 0) throw new UsageError(`--header: expected "Name: value", got ${JSON.stringify(h)}`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  let price;
  let pricesMode = "lookup";
  if (v.prices !== undefined) {
    if (v.prices === "none") pricesMode = "none";
    else {
      const p = parseList(v.prices, "--prices");
      if (p.length !== 2) throw new UsageError(`--prices: expected IN,OUT (US dollars per million tokens), got ${JSON.stringify(v.prices)}`);
      price = { input: p[0], output: p[1], source: "--prices" };
      pricesMode = "given";
    }
  }
  const maxCost = v["max-cost"] !== undefined ? Number(v["max-cost"]) : 1;
  if (!(maxCost >= 0)) throw new UsageError(`--max-cost: not an amount: ${JSON.stringify(v["max-cost"])}`);
  const options = {
    ...(router ? { baseUrl: url } : { endpointUrl: url }),
    model: v.model,
    ...(token ? { token } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(v.rate !== undefined ? { rate: parseRate(v.rate) } : { concurrency: v.concurrency !== undefined ? parseList(v.concurrency, "--concurrency") : DEFAULTS.concurrency }),
    ...(v.requests !== undefined ? { requests: parseInteger(v.requests, "--requests", 1) } : {}),
    ...(v.duration !== undefined ? { durationMs: parseDuration(v.duration, "--duration") } : {}),
    ...(v.warmup !== undefined ? { warmup: parseInteger(v.warmup, "--warmup") } : {}),
    ...(v["max-tokens"] !== undefined ? { maxTokens: parseInteger(v["max-tokens"], "--max-tokens", 1) } : {}),
    ...(v.prompt !== undefined ? { prompts: readPrompts(v.prompt) } : {}),
    ...(v.retries !== undefined ? { retries: parseInteger(v.retries, "--retries") } : {}),
    ...(v.timeout !== undefined ? { timeoutMs: parseDuration(v.timeout, "--timeout") } : {}),
    ...(v["max-time"] !== undefined ? { maxDurationMs: parseDuration(v["max-time"], "--max-time") } : {}),
    stopOnBreak: Boolean(v["stop-on-break"]),
  };
  return { options, price, pricesMode, maxCost, yes: Boolean(v.yes), json: v.json, html: v.html, quiet: Boolean(v.quiet), tokenFrom, url };
}

/** What needs `--yes`, given the plan and the cost estimate; `[]` when nothing does. */
export function refusals(plan, cost, { maxCost, url }) {
  const out = [];
  if (cost && cost.usd > maxCost) out.push(`the upper-bound cost $${cost.usd.toFixed(4)} is above --max-cost $${maxCost}`);
  if (!cost && !isLoopback(url)) out.push(`the cost is unknown (no price for the model; pass --prices IN,OUT) and ${new URL(url).host} is not a local server`);
  if (plan.maxRequests > 1000) out.push(`${plan.maxRequests} requests is above 1000`);
  if (plan.maxDurationMs > 3_600_000) out.push(`the run may last ${fmtMs(plan.maxDurationMs)}, above 1 hour`);
  return out;
}

async function loadtestCommand(argv, { env, stdout, stderr }) {
  const args = parseLoadtestArgs(argv, env);
  if (args.help) {
    stdout.write(USAGE + "\n");
    return 0;
  }
  let plan;
  try {
    plan = planLoadTest(args.options);
  } catch (e) {
    throw new UsageError(e.message.replace(/^loadTest: /, ""));
  }
  const say = (s) => stderr.write(s + "\n");
  const stepsText = plan.mode === "rate" ? `fixed arrival rate ${plan.steps.map((s) => `${Math.round(s.rate * 1000) / 1000}/s`).join(", ")}` : `fixed concurrency ${plan.steps.map((s) => s.concurrency).join(", ")}`;
  const perStep = plan.steps.every((s) => s.requests === plan.steps[0].requests) ? `${plan.steps[0].requests}` : plan.steps.map((s) => s.requests).join("/");
  say(`hf-inference-wasm loadtest: ${args.url} · model ${plan.target.model} · auth ${args.tokenFrom}`);
  say(
    `plan: ${plan.steps.length} step${plan.steps.length > 1 ? "s" : ""} of ${stepsText}; ${perStep} requests each${plan.steps[0].durationMs ? ` or ${fmtMs(plan.steps[0].durationMs)}` : ""}` +
      `${plan.warmup ? ` (+${plan.warmup} warm-up)` : ""}; streamed, max_tokens ${plan.maxTokens}, ${plan.retries ? `${plan.retries} retries` : "no retries"}, timeout ${fmtMs(plan.timeoutMs)}`,
  );
  say(
    `bounds: at most ${plan.maxRequests} requests${plan.retries ? ` (${plan.maxAttempts} HTTP attempts with retries)` : ""}, at most ${fmtMs(plan.maxDurationMs)}` +
      (plan.worstCaseMs > plan.durationCapMs ? ` (--max-time; the worst case would be ${fmtMs(plan.worstCaseMs)})` : " (every request taking its full timeout)"),
  );
  let price = args.price;
  if (args.pricesMode === "lookup") {
    try {
      price = await lookupPrice(args.options);
    } catch (e) {
      say(`prices: the lookup of ${args.url} /v1/models failed (${e.kind ?? "error"}: ${String(e.message).slice(0, 120)})`);
    }
  }
  const cost = price ? estimateCost(plan, price) : null;
  say(
    cost
      ? `cost: at most $${cost.usd.toFixed(4)} (${cost.promptTokens} prompt + ${cost.outputTokens} output tokens at $${price.input}/$${price.output} per million, ${price.source})`
      : `cost: unknown (no price for ${plan.target.model}${args.pricesMode === "none" ? ", --prices none" : ""})`,
  );
  const refused = refusals(plan, cost, args);
  if (refused.length && !args.yes) {
    say(`refused: ${refused.join("; ")}. Pass --yes to run anyway.`);
    return 2;
  }

  const tty = Boolean(stderr.isTTY) && !args.quiet;
  const label = (p) => (p.concurrency !== null && p.concurrency !== undefined ? `concurrency ${p.concurrency}` : `rate ${Math.round(p.rate * 1000) / 1000}/s`);
  const controller = new AbortController();
  const onSig = () => controller.abort();
  process.once("SIGINT", onSig);
  let report;
  try {
    report = await loadTest({
      ...args.options,
      price,
      signal: controller.signal,
      onProgress: (p) => {
        if (args.quiet) return;
        if (p.event === "warmup") return say(`warm-up: ${p.ok}/${p.results} ok`);
        if (p.event === "request" && tty) {
          stderr.write(`\r\x1b[K[${p.step + 1}/${p.steps}] ${label(p)}: ${p.done}/${p.total} done, ${p.ok} ok, ${p.errors} errors, ${p.inFlight} in flight, ${fmtMs(p.elapsedMs)}`);
        }
        if (p.event === "end") {
          const s = p.summary;
          const errs = Object.entries(s.errors)
            .map(([k, n]) => `${k}: ${n}`)
            .join(", ");
          stderr.write(
            `${tty ? "\r\x1b[K" : ""}[${p.step + 1}/${p.steps}] ${label(s)}: ${s.ok}/${s.requests} ok${errs ? ` (${errs})` : ""}, TTFT p50 ${fmt(s.ttftMs.p50, 0)} ms p95 ${fmt(s.ttftMs.p95, 0)} ms, ${fmt(s.outputTokensPerSec, 0)} tok/s, ${fmt(s.requestsPerSec, 0)} req/s, ${fmtMs(s.durationMs)}\n`,
          );
        }
      },
    });
  } finally {
    process.off("SIGINT", onSig);
  }
  const table = formatTable(report);
  const toStdout = args.json === "-";
  (toStdout ? stderr : stdout).write(table + "\n");
  if (args.json) {
    const text = JSON.stringify(report, null, 2) + "\n";
    if (toStdout) stdout.write(text);
    else writeFileSync(args.json, text);
  }
  if (args.html) writeFileSync(args.html, renderHtml(report));
  if (args.json && !toStdout) say(`json: ${args.json}`);
  if (args.html) say(`html: ${args.html}`);
  return 0;
}

export async function main(argv = process.argv.slice(2), io = { env: process.env, stdout: process.stdout, stderr: process.stderr }) {
  const [command, ...rest] = argv;
  try {
    if (command === "loadtest") return await loadtestCommand(rest, io);
    if (command === "--version" || command === "-v") {
      const { version } = await import("hf-inference-wasm");
      io.stdout.write(`${version}\n`);
      return 0;
    }
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      io.stdout.write(`hf-inference-wasm <command>\n\nCommands:\n  loadtest   load-test a chat-completions server (--help for its options)\n\n${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)} (the command is "loadtest")`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`hf-inference-wasm: ${e.message}\n(hf-inference-wasm loadtest --help for the options)\n`);
      return 2;
    }
    io.stderr.write(`hf-inference-wasm: ${e?.stack ?? e}\n`);
    return 1;
  }
}

// Run as the bin (also through npm's symlink in node_modules/.bin).
const self = fileURLToPath(import.meta.url);
let invoked = "";
try {
  invoked = process.argv[1] ? realpathSync(process.argv[1]) : "";
} catch {
  invoked = "";
}
if (invoked === self) {
  main().then((code) => {
    process.exitCode = code;
  });
}
