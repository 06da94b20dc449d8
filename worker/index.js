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
//
// Deploy: `npx wrangler deploy` in this folder (after `make pkg`), then
// `npx wrangler secret put HF_TOKEN`.
import { createProxy } from "hf-inference-wasm/proxy";

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
    // The token and the session secret are read from `env` on each request.
  };
}

// One proxy per isolate (its rate limiter lives as long as the isolate), made on the first
// request because `env` is only known then.
let proxy;

export default {
  fetch(request, env, ctx) {
    proxy ??= createProxy(optionsFromEnv(env));
    return proxy.fetch(request, env, ctx);
  },
};
