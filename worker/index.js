// The Cloudflare Workers entry: the auth proxy, configured from the Worker's environment.
//
//   HF_TOKEN          (secret)  the Hugging Face token the proxy spends; never sent to clients
//   ALLOWED_MODELS    (var)     comma-separated model ids ("org/name" or "org/name:provider"), or "*"
//   ALLOWED_ORIGINS   (var)     comma-separated origins allowed cross-origin (CORS), or "*"
//   ALLOWED_PROVIDERS (var)     comma-separated providers, default any
//   UPSTREAM          (var)     default https://router.huggingface.co
//   MAX_TOKENS_CAP    (var)     default 4096
//   REQUESTS_PER_MINUTE, BURST (vars)  per-client rate limit, default 30 and 10
//   PROXY_KEY         (secret)  optional shared secret clients send in x-proxy-key
//   SESSION_SECRET    (secret)  set it to require short-lived tokens from GET /session
//   TOKENS_PER_DAY, USD_PER_DAY (vars)          the whole proxy's daily budget (UTC days)
//   CLIENT_TOKENS_PER_DAY, CLIENT_USD_PER_DAY (vars)  each client's daily budget
//   PRICES            (var)     JSON {"org/model": {"input": 0.5, "output": 1.5}} (USD per
//                               million tokens), needed by a USD budget
//   PROXY_STATE       (Durable Object binding to ProxyState, see wrangler.toml): makes the
//                               rate limit and budgets hold across every isolate
//   STATE_TIMEOUT_MS  (var)     longest wait for a ProxyState object (default 1000); past it
//                               requests are refused with 503 (fail closed)
//
// Deploy: `npx wrangler deploy` in this folder (after `make pkg`), then
// `npx wrangler secret put HF_TOKEN`.
import { createProxy, ProxyState } from "hf-inference-wasm/proxy";

// The Durable Object class the PROXY_STATE binding names.
export { ProxyState };

const list = (v) => (typeof v === "string" && v.trim() ? v.split(",").map((s) => s.trim()).filter(Boolean) : undefined);
const num = (v) => (v === undefined || v === "" ? undefined : Number(v));

export function optionsFromEnv(env) {
  const rpm = num(env.REQUESTS_PER_MINUTE);
  const burst = num(env.BURST);
  return {
    upstream: env.UPSTREAM || undefined,
    allowedModels: list(env.ALLOWED_MODELS),
    allowedOrigins: list(env.ALLOWED_ORIGINS),
    allowedProviders: list(env.ALLOWED_PROVIDERS),
    maxTokensCap: num(env.MAX_TOKENS_CAP),
    rateLimit: rpm || burst ? { requestsPerMinute: rpm, burst } : undefined,
    requireKey: env.PROXY_KEY || undefined,
    sessions: env.SESSION_SECRET ? true : undefined,
    budget: budgetFromEnv(env),
    prices: env.PRICES ? JSON.parse(env.PRICES) : undefined,
    // One Durable Object per client key and one for the proxy: limits hold globally.
    durableState: env.PROXY_STATE,
    stateTimeoutMs: num(env.STATE_TIMEOUT_MS),
    // The token and the session secret are read from `env` on each request.
  };
}

function budgetFromEnv(env) {
  const caps = (tokens, usd) => {
    const c = { tokensPerDay: num(tokens), usdPerDay: num(usd) };
    return c.tokensPerDay === undefined && c.usdPerDay === undefined ? undefined : c;
  };
  const proxy = caps(env.TOKENS_PER_DAY, env.USD_PER_DAY);
  const perClient = caps(env.CLIENT_TOKENS_PER_DAY, env.CLIENT_USD_PER_DAY);
  return proxy || perClient ? { ...proxy, perClient } : undefined;
}

// One proxy per isolate, made on the first request because `env` is only known then. With
// the PROXY_STATE binding its limits and budgets live in Durable Objects (global); without
// it, in this isolate only (each isolate counts on its own).
let proxy;

export default {
  fetch(request, env, ctx) {
    proxy ??= createProxy(optionsFromEnv(env));
    return proxy.fetch(request, env, ctx);
  },
};
