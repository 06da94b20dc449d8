// Declarations for `hf-inference-wasm/proxy`: the auth proxy, its own entry and wasm, so
// the client entry (what a browser downloads) carries none of it.
import type { Usage, Timeouts, FetchLike } from "./index.js";
export { InferenceError } from "./index.js";

export interface ProxyRateLimit {
  /** Sustained requests per minute per client (default 30). */
  requestsPerMinute?: number;
  /** Requests a client may make at once from a full bucket (default 10). */
  burst?: number;
  /** Clients remembered at most (default 10000). */
  maxClients?: number;
}

export interface ProxyUsageRecord {
  requestId: string;
  model?: string;
  usage: Usage;
  latencyMs: number;
  /** False when the client went away before the end. */
  complete: boolean;
}

export interface ProxyOptions {
  /** The Hugging Face token; else `env.HF_TOKEN` on each request. Never sent to clients. */
  token?: string;
  /** The one upstream (default `https://router.huggingface.co`). Clients cannot change it. */
  upstream?: string;
  /** Origins allowed cross-origin (CORS), or `"*"`. Default none: same-origin pages and non-browser clients only. */
  allowedOrigins?: string[] | "*";
  /** `org/name` or `org/name:provider` the proxy pays for, or `"*"`. Default none (fail closed). */
  allowedModels?: string[] | "*";
  /** Providers (and policies) a client may name as a `:suffix`. Default any. */
  allowedProviders?: string[] | "*";
  /** Largest request body (default 65536). */
  maxBodyBytes?: number;
  /** Cap on `max_tokens` (default 4096, inserted when a request sets none); `null` for no cap. */
  maxTokensCap?: number | null;
  /** Clamp a larger `max_tokens` to the cap (default) or refuse it with 400. */
  maxTokensMode?: "clamp" | "reject";
  /** Largest `n` (default 1). */
  maxChoices?: number;
  /** Per-client token bucket (default 30/min, burst 10); `false` turns it off. */
  rateLimit?: ProxyRateLimit | false;
  /** Who a request counts against; default the client IP (`ctx.clientIp`, `cf-connecting-ip`). */
  clientKey?: (request: Request, ctx: unknown) => string;
  /** A shared secret every `/v1/*` request must carry (`x-proxy-key` or `Authorization: Bearer`). */
  requireKey?: string;
  /** Require short-lived HMAC tokens from `GET /session` on `/v1/*`. */
  sessions?: boolean | { ttlMs?: number; bindClient?: boolean };
  /** The sessions' HMAC secret; else `env.SESSION_SECRET`. */
  sessionSecret?: string;
  /** Upstream timeouts (the client's defaults otherwise). */
  timeouts?: Timeouts;
  /** A `fetch` to reach the upstream with. */
  fetch?: FetchLike;
  /** Each request's usage, when the response ends (never delays the stream). */
  onUsage?: (record: ProxyUsageRecord) => void;
  /** One JSON line per request; `console.log` by default, `false` for none. */
  log?: boolean | ((line: string) => void);
  /** Allow message content in log lines (default false). */
  logContent?: boolean;
}

export interface ProxyHandler {
  /** A complete module Worker: `export default createProxy({...})`. Never rejects. */
  fetch(request: Request, env?: Record<string, unknown>, ctx?: unknown): Promise<Response>;
}

/** The auth proxy: OpenAI-compatible `POST /v1/chat/completions`, `GET /v1/models`,
 *  `GET /health` (and `GET /session`), holding the token server-side. Throws an
 *  `InferenceError` of kind `input` for a bad option. */
export declare function createProxy(options?: ProxyOptions): ProxyHandler;

/** The package version (the same as the client entry's). */
export declare const version: string;
