// `loadTest(options)`: a load test of a chat-completions server through this package's own
// streaming client. Steps of fixed concurrency (or a fixed arrival rate); per step the
// requests ok, errors by kind and status, TTFT / inter-token / end-to-end latency
// percentiles, output tokens per second; then the breaking point. Plain JavaScript on the
// public client API only (InferenceClient, InferenceError), so it runs wherever the client
// runs (Node, Workers); the `hf-inference-wasm loadtest` command (cli.mjs) is built on it.
// Imported as `hf-inference-wasm/loadtest`, never from the client entries (their size).

import { InferenceClient, InferenceError, version } from "hf-inference-wasm";

/** Defaults of `loadTest` (and the CLI). */
export const DEFAULTS = Object.freeze({
  concurrency: [1, 2, 4, 8, 16],
  requests: 16,
  /** Per-step cap on requests when the step is bounded by `durationMs`. */
  requestsWithDuration: 200,
  maxTokens: 256,
  retries: 0,
  warmup: 1,
  timeoutMs: 60_000,
  maxDurationMs: 10 * 60_000,
  errorRate: 0.01,
  ttftFactor: 3,
  prompt: "Write a detailed, step-by-step explanation of how a hash map works, with an example in a programming language of your choice.",
});

/** Hard limits a run cannot exceed, whatever it is told. */
export const LIMITS = Object.freeze({ maxRequests: 100_000, maxConcurrency: 4096, maxDurationMs: 24 * 3600_000 });

const inputError = (message) => new InferenceError(`loadTest: ${message}`, { kind: "input", code: "loadtest_options" });
const isPosInt = (n) => Number.isInteger(n) && n > 0;

/** The prompt tokens of messages, estimated as the client does: ceil(UTF-8 bytes / 4) per message + 4, + 3. */
export function estimatePromptTokens(messages) {
  const bytes = (s) => new TextEncoder().encode(s).length;
  let n = 3;
  for (const m of messages) {
    const c = typeof m.content === "string" ? m.content : Array.isArray(m.content) ? m.content.map((p) => p?.text ?? "").join("") : "";
    n += Math.ceil(bytes(c) / 4) + 4;
  }
  return n;
}

function normalizePrompts(o) {
  let list;
  if (o.messages !== undefined) list = [o.messages];
  else if (o.prompts !== undefined) list = o.prompts;
  else list = [o.prompt ?? DEFAULTS.prompt];
  if (!Array.isArray(list) || list.length === 0) throw inputError("`prompts` must be a non-empty array");
  return list.map((p, i) => {
    const messages = typeof p === "string" ? [{ role: "user", content: p }] : Array.isArray(p) ? p : p && Array.isArray(p.messages) ? p.messages : null;
    if (!messages || messages.length === 0 || !messages.every((m) => m && typeof m.role === "string")) {
      throw inputError(`prompt ${i} must be a string, an array of messages or { messages }`);
    }
    return messages;
  });
}

/**
 * Check and complete the options; every bound is explicit in the result. Throws an
 * `InferenceError` of kind `input` for a bad option. No network.
 */
export function planLoadTest(options = {}) {
  const o = options ?? {};
  if (o.baseUrl === undefined && o.endpointUrl === undefined) throw inputError("give `endpointUrl` (any OpenAI-compatible server, our proxy) or `baseUrl` (the router)");
  if (o.baseUrl !== undefined && o.endpointUrl !== undefined) throw inputError("give `endpointUrl` or `baseUrl`, not both");
  const url = String(o.endpointUrl ?? o.baseUrl);
  try {
    new URL(url);
  } catch {
    throw inputError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (typeof o.model !== "string" || o.model === "") throw inputError("`model` is required");
  if (o.rate !== undefined && o.concurrency !== undefined) throw inputError("give `concurrency` or `rate`, not both");
  const mode = o.rate !== undefined ? "rate" : "concurrency";
  const list = (v, name) => {
    const a = Array.isArray(v) ? v : [v];
    if (a.length === 0 || !a.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0)) throw inputError(`\`${name}\` must be a positive number or a non-empty list of them`);
    return a;
  };
  const levels = mode === "rate" ? list(o.rate, "rate") : list(o.concurrency ?? DEFAULTS.concurrency, "concurrency");
  if (mode === "concurrency" && !levels.every((c) => isPosInt(c) && c <= LIMITS.maxConcurrency)) throw inputError(`concurrency levels must be whole numbers from 1 to ${LIMITS.maxConcurrency}`);
  const durationMs = o.durationMs;
  if (durationMs !== undefined && !(Number.isFinite(durationMs) && durationMs > 0)) throw inputError("`durationMs` must be a positive number");
  const requests = o.requests ?? (durationMs !== undefined ? DEFAULTS.requestsWithDuration : DEFAULTS.requests);
  if (!isPosInt(requests)) throw inputError("`requests` must be a positive whole number");
  const num = (v, d, name, ok) => {
    const x = v ?? d;
    if (!ok(x)) throw inputError(`\`${name}\` is out of range: ${JSON.stringify(v)}`);
    return x;
  };
  const maxTokens = num(o.maxTokens, DEFAULTS.maxTokens, "maxTokens", isPosInt);
  const retries = num(o.retries, DEFAULTS.retries, "retries", (x) => Number.isInteger(x) && x >= 0 && x <= 10);
  const warmup = num(o.warmup, DEFAULTS.warmup, "warmup", (x) => Number.isInteger(x) && x >= 0 && x <= 100);
  const timeoutMs = num(o.timeoutMs, DEFAULTS.timeoutMs, "timeoutMs", (x) => Number.isFinite(x) && x > 0);
  const maxDurationMs = num(o.maxDurationMs, DEFAULTS.maxDurationMs, "maxDurationMs", (x) => Number.isFinite(x) && x > 0 && x <= LIMITS.maxDurationMs);
  const errorRate = num(o.thresholds?.errorRate, DEFAULTS.errorRate, "thresholds.errorRate", (x) => x >= 0 && x < 1);
  const ttftFactor = num(o.thresholds?.ttftFactor, DEFAULTS.ttftFactor, "thresholds.ttftFactor", (x) => x > 1);
  const prompts = normalizePrompts(o);

  const steps = levels.map((level) => {
    const n = mode === "rate" && durationMs !== undefined ? Math.max(1, Math.min(requests, Math.floor((level * durationMs) / 1000))) : requests;
    return mode === "rate" ? { rate: level, requests: n, durationMs } : { concurrency: level, requests: n, durationMs };
  });
  const maxRequests = warmup + steps.reduce((s, st) => s + st.requests, 0);
  if (maxRequests > LIMITS.maxRequests) throw inputError(`${maxRequests} requests is above the limit of ${LIMITS.maxRequests}`);
  // Retrying sleeps are bounded by the client's retry budget (30 s a request by default).
  const perRequestMs = timeoutMs * (retries + 1) + (retries > 0 ? 30_000 : 0);
  const stepWorstMs = (st) => {
    if (mode === "rate") return Math.min(st.durationMs ?? Infinity, ((st.requests - 1) * 1000) / st.rate) + perRequestMs;
    const waves = Math.ceil(st.requests / st.concurrency) * perRequestMs;
    return st.durationMs !== undefined ? Math.min(waves, st.durationMs + perRequestMs) : waves;
  };
  const worstCaseMs = warmup * perRequestMs + steps.reduce((s, st) => s + stepWorstMs(st), 0);
  return {
    target: { url, router: o.baseUrl !== undefined, model: o.model },
    mode,
    steps,
    prompts,
    promptTokens: Math.max(...prompts.map(estimatePromptTokens)),
    maxTokens,
    retries,
    warmup,
    timeoutMs,
    thresholds: { errorRate, ttftFactor },
    maxRequests,
    /** HTTP attempts, retries included. */
    maxAttempts: maxRequests * (retries + 1),
    /** The run never lasts longer than this: `min(worst case, maxDurationMs)`. */
    maxDurationMs: Math.min(worstCaseMs, maxDurationMs),
    worstCaseMs,
    durationCapMs: maxDurationMs,
  };
}

/** Upper bound of a run's cost: every attempt with its full prompt and `maxTokens` output.
 *  `price` is US dollars per million tokens, `{ input, output }`. */
export function estimateCost(plan, price) {
  const promptTokens = plan.maxAttempts * plan.promptTokens;
  const outputTokens = plan.maxAttempts * plan.maxTokens;
  return { usd: (promptTokens * price.input + outputTokens * price.output) / 1e6, promptTokens, outputTokens };
}

/** The price of `model` (`id` or `id:provider`) in a `/v1/models` list with the router's
 *  `providers[].pricing`: the named provider's, else the highest of those listed (an
 *  upper bound: the router may pick any). `undefined` when none is listed. */
export function priceFromModelList(list, model) {
  const [id, provider] = String(model).split(":");
  const card = list?.data?.find?.((m) => m?.id === id);
  if (!card || !Array.isArray(card.providers)) return undefined;
  const priced = card.providers
    .filter((p) => !provider || p.provider === provider)
    .map((p) => ({ provider: p.provider, input: Number(p.pricing?.input), output: Number(p.pricing?.output) }))
    .filter((p) => Number.isFinite(p.input) && Number.isFinite(p.output));
  if (priced.length === 0) return undefined;
  const top = priced.reduce((a, b) => (b.input + b.output > a.input + a.output ? b : a));
  return { input: top.input, output: top.output, source: `/v1/models (${provider ? provider : priced.length > 1 ? `highest of ${priced.length} providers: ${top.provider}` : top.provider})` };
}

/** Look the model's price up in the target's `GET /v1/models` (the router lists prices). */
export async function lookupPrice(options) {
  const plan = planLoadTest(options);
  const client = makeClient(plan, options);
  try {
    const list = await client.listModels({ timeouts: { total: 15_000 } });
    return priceFromModelList(list, plan.target.model);
  } finally {
    client.free();
  }
}

function makeClient(plan, o) {
  return new InferenceClient({
    ...(plan.target.router ? { baseUrl: plan.target.url } : { endpointUrl: plan.target.url }),
    ...(o.token ? { token: o.token } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
    // A load test wants to see the 429s: no retries unless asked, no circuit breaker that
    // would turn failures into fast `circuit_open`, no response cache.
    retry: { maxRetries: plan.retries },
    circuitBreaker: false,
    cache: false,
    timeouts: { total: plan.timeoutMs },
    ...(o.clientOptions ?? {}),
  });
}

/** Linear-interpolated percentile (`p` in 0–100) of a sorted array; `null` when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 100) / 100);
function pcts(values, ps) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return Object.fromEntries(ps.map((p) => [`p${p}`, r2(percentile(s, p))]));
}

/** `http 429`, `timeout`, `truncated`, … for an error of the client. */
export function errorKey(e) {
  if (e instanceof InferenceError || e?.name === "InferenceError") {
    if (e.kind === "http" && e.status) return `http ${e.status}`;
    return e.kind ?? "unknown";
  }
  return "exception";
}

/** One streamed request, timed. Never throws. */
async function timedRequest(client, body, signal) {
  const t0 = performance.now();
  let first;
  let last;
  let chunks = 0;
  const gaps = [];
  let finish;
  // A token event is a chunk that carries output: text, reasoning text or a tool call.
  const onChunk = (chunk) => {
    const d = chunk?.choices?.[0]?.delta;
    if (!d || !(d.content || d.reasoning_content || d.reasoning || d.tool_calls?.length)) return;
    const t = performance.now();
    if (first === undefined) first = t;
    else gaps.push(t - last);
    last = t;
    chunks++;
  };
  let stream;
  try {
    stream = client.chatCompletionStream(body, { signal, onChunk, onFinish: (f) => (finish = f) });
    await stream.finalCompletion();
    const end = performance.now();
    if (finish?.aborted) return { ok: false, key: "aborted", message: "aborted (the run was stopped)", e2eMs: end - t0 };
    const reported = finish?.usage?.completion_tokens;
    const tokens = Number.isFinite(reported) ? reported : chunks;
    return {
      ok: true,
      ttftMs: first === undefined ? undefined : first - t0,
      e2eMs: end - t0,
      // Decode time per output token after the first (what guidellm calls ITL, others TPOT).
      tpotMs: first !== undefined && tokens > 1 ? (last - first) / (tokens - 1) : undefined,
      gaps,
      outputTokens: tokens,
      promptTokens: finish?.usage?.prompt_tokens,
      tokensEstimated: !Number.isFinite(reported),
    };
  } catch (e) {
    return { ok: false, key: errorKey(e), message: String(e?.message ?? e), e2eMs: performance.now() - t0 };
  } finally {
    try {
      stream?.free();
    } catch {
      // already released
    }
  }
}

/** Sum up one step's requests. */
export function summarizeStep(step, results, wallMs, peakInFlight) {
  const ok = results.filter((r) => r.ok);
  const errors = {};
  const errorMessages = {};
  for (const r of results) {
    if (r.ok) continue;
    errors[r.key] = (errors[r.key] ?? 0) + 1;
    errorMessages[r.key] ??= r.message.slice(0, 300);
  }
  const secs = wallMs / 1000;
  const outputTokens = ok.reduce((s, r) => s + r.outputTokens, 0);
  const perRequest = ok.filter((r) => r.e2eMs > 0).map((r) => r.outputTokens / (r.e2eMs / 1000));
  return {
    ...(step.concurrency !== undefined ? { concurrency: step.concurrency } : { concurrency: null, rate: step.rate }),
    requests: results.length,
    ok: ok.length,
    errors,
    ttftMs: pcts(
      ok.map((r) => r.ttftMs),
      [50, 95, 99],
    ),
    itlMs: pcts(
      ok.flatMap((r) => r.gaps),
      [50, 95],
    ),
    tpotMs: pcts(
      ok.map((r) => r.tpotMs),
      [50, 95],
    ),
    e2eMs: pcts(
      ok.map((r) => r.e2eMs),
      [50, 95, 99],
    ),
    outputTokensPerSec: secs > 0 ? r2(outputTokens / secs) : null,
    requestOutputTokensPerSec: { mean: perRequest.length ? r2(perRequest.reduce((a, b) => a + b, 0) / perRequest.length) : null, ...pcts(perRequest, [50]) },
    requestsPerSec: secs > 0 ? r2(ok.length / secs) : null,
    outputTokens,
    promptTokens: ok.reduce((s, r) => s + (r.promptTokens ?? 0), 0),
    tokensEstimated: ok.some((r) => r.tokensEstimated),
    durationMs: r2(wallMs),
    peakInFlight,
    errorMessages,
  };
}

/** The first step where errors exceed `errorRate` of its requests or p95 TTFT exceeds
 *  `ttftFactor` × the first step's; `null` if none. */
export function findBreakingPoint(steps, { errorRate = DEFAULTS.errorRate, ttftFactor = DEFAULTS.ttftFactor } = {}) {
  const base = steps[0]?.ttftMs?.p95;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (!s.requests) continue;
    const failed = s.requests - s.ok;
    const at = s.concurrency !== null && s.concurrency !== undefined ? { concurrency: s.concurrency } : { concurrency: null, rate: s.rate };
    if (failed / s.requests > errorRate) {
      const kinds = Object.entries(s.errors)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}: ${n}`)
        .join(", ");
      return { ...at, step: i, reason: `errors: ${failed} of ${s.requests} requests (${(100 * (failed / s.requests)).toFixed(1)}%, ${kinds}) exceed ${100 * errorRate}%` };
    }
    const p95 = s.ttftMs?.p95;
    if (i > 0 && base > 0 && p95 !== null && p95 > ttftFactor * base) {
      return { ...at, step: i, reason: `p95 TTFT ${Math.round(p95)} ms is ${(p95 / base).toFixed(1)}× the first step's ${Math.round(base)} ms (limit ${ttftFactor}×)` };
    }
  }
  return null;
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/**
 * Run the load test. Resolves to the report:
 * `{ steps: [{ concurrency, requests, ok, errors, ttftMs, itlMs, e2eMs, outputTokensPerSec,
 * requestsPerSec, … }], breakingPoint: { concurrency, reason } | null, … }`.
 * Rejects only for bad options (`InferenceError` of kind `input`).
 */
export async function loadTest(options = {}) {
  const plan = planLoadTest(options);
  const onProgress = typeof options.onProgress === "function" ? options.onProgress : () => {};
  const stop = new AbortController();
  const cap = setTimeout(() => stop.abort("max-duration"), plan.durationCapMs);
  const outer = options.signal;
  const onOuter = () => stop.abort("aborted");
  if (outer?.aborted) onOuter();
  outer?.addEventListener?.("abort", onOuter, { once: true });
  // One listener on the run's signal aborts every request in flight (a listener per request
  // on one signal would pile up: Node warns past 10).
  const live = new Set();
  stop.signal.addEventListener("abort", () => live.forEach((c) => c.abort()), { once: true });
  const request = async (body) => {
    const c = new AbortController();
    if (stop.signal.aborted) c.abort();
    live.add(c);
    try {
      return await timedRequest(client, body, c.signal);
    } finally {
      live.delete(c);
    }
  };
  const client = makeClient(plan, options);
  const started = new Date();
  const runStart = performance.now();
  let seq = 0;
  const bodyFor = () => ({ model: plan.target.model, messages: plan.prompts[seq++ % plan.prompts.length], max_tokens: plan.maxTokens, stream: true });
  const steps = [];
  let breakingPoint = null;
  try {
    const warm = [];
    for (let i = 0; i < plan.warmup && !stop.signal.aborted; i++) warm.push(await request(bodyFor()));
    if (warm.length) onProgress({ event: "warmup", results: warm.length, ok: warm.filter((r) => r.ok).length });

    for (let index = 0; index < plan.steps.length && !stop.signal.aborted; index++) {
      const step = plan.steps[index];
      const results = [];
      let inFlight = 0;
      let peak = 0;
      const t0 = performance.now();
      const deadline = step.durationMs !== undefined ? t0 + step.durationMs : Infinity;
      const progress = (event) => {
        const ok = results.filter((r) => r.ok).length;
        onProgress({ event, step: index, steps: plan.steps.length, concurrency: step.concurrency ?? null, rate: step.rate, done: results.length, total: step.requests, ok, errors: results.length - ok, inFlight, elapsedMs: performance.now() - t0 });
      };
      const one = async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        const r = await request(bodyFor());
        inFlight--;
        results.push(r);
        progress("request");
      };
      progress("start");
      if (plan.mode === "concurrency") {
        let started = 0;
        const worker = async () => {
          while (started < step.requests && performance.now() < deadline && !stop.signal.aborted) {
            started++;
            await one();
          }
        };
        await Promise.all(Array.from({ length: step.concurrency }, worker));
      } else {
        const pending = [];
        for (let i = 0; i < step.requests && !stop.signal.aborted; i++) {
          const at = t0 + (i * 1000) / step.rate;
          if (at >= deadline) break;
          await sleep(at - performance.now(), stop.signal);
          if (stop.signal.aborted) break;
          pending.push(one());
        }
        await Promise.all(pending);
      }
      const summary = summarizeStep(step, results, performance.now() - t0, peak);
      steps.push(summary);
      onProgress({ event: "end", step: index, steps: plan.steps.length, summary });
      breakingPoint = findBreakingPoint(steps, plan.thresholds);
      if (breakingPoint && options.stopOnBreak) break;
    }
  } finally {
    clearTimeout(cap);
    outer?.removeEventListener?.("abort", onOuter);
    client.free();
  }
  const tokens = steps.reduce((t, s) => ({ prompt: t.prompt + s.promptTokens, output: t.output + s.outputTokens }), { prompt: 0, output: 0 });
  const price = options.price;
  return {
    tool: "hf-inference-wasm loadtest",
    version,
    startedAt: started.toISOString(),
    durationMs: r2(performance.now() - runStart),
    target: { url: plan.target.url, model: plan.target.model, router: plan.target.router },
    settings: {
      mode: plan.mode,
      maxTokens: plan.maxTokens,
      retries: plan.retries,
      warmup: plan.warmup,
      timeoutMs: plan.timeoutMs,
      requestsPerStep: plan.steps.map((s) => s.requests),
      durationMs: plan.steps[0].durationMs ?? null,
      thresholds: plan.thresholds,
    },
    bounds: { maxRequests: plan.maxRequests, maxAttempts: plan.maxAttempts, maxDurationMs: plan.maxDurationMs },
    steps,
    breakingPoint,
    stopped: stop.signal.aborted ? String(stop.signal.reason ?? "aborted") : breakingPoint && options.stopOnBreak && steps.length < plan.steps.length ? "breaking-point" : null,
    tokens,
    costUsd: price ? Math.round(tokens.prompt * price.input + tokens.output * price.output) / 1e6 : null,
  };
}

// ---------------------------------------------------------------------------------------------
// The HTML report: one self-contained page (inline CSS and SVG, no script, no external URL).

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

function chart({ title, unit, labels, series, bars = false, breakAt }) {
  const W = 640;
  const H = 280;
  const L = 64;
  const R = 16;
  const T = 36;
  const B = 44;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const stackMax = bars ? Math.max(0, ...labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0))) : 0;
  const max = Math.max(bars ? stackMax : Math.max(0, ...all), 1e-9);
  const nice = niceCeil(max);
  const x = (i) => L + (labels.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
  const bw = Math.max(6, Math.min(48, (W - L - R) / labels.length / 2));
  const xb = (i) => L + ((i + 0.5) * (W - L - R)) / labels.length;
  const y = (v) => T + (H - T - B) * (1 - v / nice);
  let g = `<text x="${W / 2}" y="20" text-anchor="middle" class="t">${esc(title)}</text>`;
  for (let k = 0; k <= 4; k++) {
    const v = (nice * k) / 4;
    g += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmtNum(v))}</text>`;
  }
  labels.forEach((lab, i) => {
    g += `<text x="${bars ? xb(i) : x(i)}" y="${H - B + 18}" text-anchor="middle">${esc(lab)}</text>`;
  });
  g += `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">${esc(unit.x)}</text><text x="14" y="${T + (H - T - B) / 2}" transform="rotate(-90 14 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit.y)}</text>`;
  if (breakAt !== undefined && breakAt !== null) {
    const bx = bars ? xb(breakAt) : x(breakAt);
    const left = bx > W / 2;
    g += `<line x1="${bx}" x2="${bx}" y1="${T}" y2="${H - B}" class="brk"/><text x="${left ? bx - 4 : bx + 4}" y="${T + 12}" text-anchor="${left ? "end" : "start"}" class="brkt">breaking point</text>`;
  }
  if (bars) {
    labels.forEach((_, i) => {
      let acc = 0;
      series.forEach((s, j) => {
        const v = s.values[i] ?? 0;
        if (v <= 0) return;
        g += `<rect x="${xb(i) - bw / 2}" y="${y(acc + v)}" width="${bw}" height="${y(acc) - y(acc + v)}" fill="${COLORS[j % COLORS.length]}"><title>${esc(`${s.name}: ${fmtNum(v)}`)}</title></rect>`;
        acc += v;
      });
    });
    if (stackMax === 0) g += `<text x="${W / 2}" y="${T + (H - T - B) / 2}" text-anchor="middle" class="none">no errors</text>`;
  } else {
    series.forEach((s, j) => {
      const pts = s.values.map((v, i) => (Number.isFinite(v) ? [x(i), y(v), v] : null)).filter(Boolean);
      const c = COLORS[j % COLORS.length];
      if (pts.length > 1) g += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ")}"/>`;
      for (const p of pts) g += `<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3.5" fill="${c}"><title>${esc(`${s.name}: ${fmtNum(p[2])}`)}</title></circle>`;
    });
  }
  const legend = series.map((s, j) => `<span><i style="background:${COLORS[j % COLORS.length]}"></i>${esc(s.name)}</span>`).join("");
  return `<figure><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${g}</svg><figcaption>${legend}</figcaption></figure>`;
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const fmtNum = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10));

/** The report as one self-contained HTML page with charts of latency percentiles, errors and
 *  throughput against concurrency (or rate). */
export function renderHtml(report) {
  const steps = report.steps;
  const byRate = report.settings?.mode === "rate";
  const labels = steps.map((s) => (byRate ? `${s.rate}/s` : String(s.concurrency)));
  const unitX = byRate ? "arrival rate (requests/s)" : "concurrency";
  const bp = report.breakingPoint;
  const breakAt = bp ? bp.step : undefined;
  const kinds = [...new Set(steps.flatMap((s) => Object.keys(s.errors)))].sort();
  const charts = [
    chart({ title: "Time to first token", unit: { x: unitX, y: "ms" }, labels, breakAt, series: ["p50", "p95", "p99"].map((p) => ({ name: `TTFT ${p}`, values: steps.map((s) => s.ttftMs[p]) })) }),
    chart({ title: "End-to-end latency", unit: { x: unitX, y: "ms" }, labels, breakAt, series: ["p50", "p95", "p99"].map((p) => ({ name: `E2E ${p}`, values: steps.map((s) => s.e2eMs[p]) })) }),
    chart({ title: "Inter-token latency", unit: { x: unitX, y: "ms" }, labels, breakAt, series: ["p50", "p95"].map((p) => ({ name: `ITL ${p}`, values: steps.map((s) => s.itlMs[p]) })) }),
    chart({ title: "Errors (% of requests)", unit: { x: unitX, y: "% of requests" }, labels, breakAt, bars: true, series: kinds.map((k) => ({ name: k, values: steps.map((s) => (s.requests ? (100 * (s.errors[k] ?? 0)) / s.requests : 0)) })) }),
    chart({ title: "Output throughput", unit: { x: unitX, y: "tokens/s" }, labels, breakAt, series: [{ name: "output tokens/s (all requests)", values: steps.map((s) => s.outputTokensPerSec) }, { name: "per request (mean)", values: steps.map((s) => s.requestOutputTokensPerSec?.mean) }] }),
  ];
  const td = (v) => `<td>${esc(fmtNum(v))}</td>`;
  const rows = steps
    .map((s, i) => {
      const errs = Object.entries(s.errors)
        .map(([k, n]) => `${k}: ${n}`)
        .join(", ");
      return `<tr${bp && bp.step === i ? ' class="bp"' : ""}><td>${esc(labels[i])}</td><td>${s.requests}</td><td>${s.ok}</td><td>${esc(errs || "–")}</td>${td(s.ttftMs.p50)}${td(s.ttftMs.p95)}${td(s.ttftMs.p99)}${td(s.itlMs.p50)}${td(s.itlMs.p95)}${td(s.e2eMs.p50)}${td(s.e2eMs.p95)}${td(s.e2eMs.p99)}${td(s.outputTokensPerSec)}${td(s.requestOutputTokensPerSec?.mean)}${td(s.requestsPerSec)}</tr>`;
    })
    .join("\n");
  const verdict = bp ? `Breaking point at ${esc(byRate ? `${bp.rate} requests/s` : `concurrency ${bp.concurrency}`)}: ${esc(bp.reason)}.` : "No breaking point in the steps run.";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test: ${esc(report.target.model)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1340px;padding:0 16px;color:#111}
h1{font-size:20px;margin:0 0 4px}.meta{color:#555;margin:0 0 12px}.verdict{font-weight:600;margin:12px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:8px}svg{width:100%;height:auto;font-size:11px}
svg .t{font-size:14px;font-weight:600}.grid{stroke:#e5e5e5}.brk{stroke:#dc2626;stroke-dasharray:5 4}.brkt{fill:#dc2626}.none{fill:#16a34a}
figcaption span{margin-right:14px;white-space:nowrap}figcaption i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;margin-top:16px;font-variant-numeric:tabular-nums}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}
tr.bp{background:#fee2e2}td:nth-child(4){text-align:left}
</style></head><body>
<h1>Load test: ${esc(report.target.model)}</h1>
<p class="meta">${esc(report.target.url)} · ${esc(report.startedAt)} · ${esc(report.tool)} ${esc(report.version)} · ${esc(report.settings.mode === "rate" ? "fixed arrival rate" : "fixed concurrency")} · max_tokens ${esc(report.settings.maxTokens)} · retries ${esc(report.settings.retries)}${report.costUsd !== null && report.costUsd !== undefined ? ` · cost $${esc(report.costUsd.toFixed(4))}` : ""}${report.stopped ? ` · stopped: ${esc(report.stopped)}` : ""}</p>
<p class="verdict">${verdict}</p>
<div class="charts">
${charts.join("\n")}
</div>
<table>
<thead><tr><th>${esc(byRate ? "rate" : "concurrency")}</th><th>requests</th><th>ok</th><th>errors</th><th>TTFT p50</th><th>TTFT p95</th><th>TTFT p99</th><th>ITL p50</th><th>ITL p95</th><th>E2E p50</th><th>E2E p95</th><th>E2E p99</th><th>out tok/s</th><th>tok/s per req</th><th>req/s</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="meta">Latencies in ms. TTFT: request sent → first output chunk. ITL: gaps between output chunks. E2E: request sent → stream end. Throughput over the step's wall time; errors by kind or HTTP status.</p>
</body></html>
`;
}
