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
  /** The request's id: the client's `x-request-id` or one the proxy made; sent upstream and back. */
  requestId: string;
  /** The upstream's own `x-request-id`, when it sent one. */
  upstreamRequestId?: string;
  model?: string;
  usage: Usage;
  /** True when the proxy estimated the usage (the upstream sent none, or the client left early). */
  estimated: boolean;
  latencyMs: number;
  /** False when the client went away before the end, or the upstream broke mid-way. */
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
  /** Cap on a `max_tokens` / `max_completion_tokens` a request sets (default 4096); `null` for no cap. */
  maxTokensCap?: number | null;
  /** `max_tokens` inserted when a request sets none (default: none inserted; never above the cap). */
  defaultMaxTokens?: number;
  /** Ask the upstream for usage on every stream and hide the extra chunk from clients that did not ask (default true). */
  streamUsage?: boolean;
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
  /** Upstream timeouts (the client's defaults otherwise). A non-streamed answer's headers may take
   *  `total` unless `headers` is set here. */
  timeouts?: Timeouts;
  /** A `fetch` to reach the upstream with. Default: the global `fetch`; in Node, the entry's
   *  own over `node:http` / `node:https` (faster than Node's global fetch; pass
   *  `globalThis.fetch` to use that one). */
  fetch?: FetchLike;
  /** Each request's usage, when the response ends (never delays the stream). */
  onUsage?: (record: ProxyUsageRecord) => void;
  /** One JSON line per request; `console.log` by default, `false` for none. */
  log?: boolean | ((line: string) => void);
  /** Allow message content in log lines (default false). */
  logContent?: boolean;
  /** Spend caps per UTC day, for the whole proxy and per client; a spent one answers 429
   *  naming the budget and its reset. Charged from the usage the upstream reports. */
  budget?: ProxyBudget;
  /** USD per million tokens by `"org/model"` or `"org/model:provider"`; a `usdPerDay`
   *  budget needs it (a model with no price is refused under a USD budget). */
  prices?: Record<string, { input: number; output: number; cached_input?: number }>;
  /** A Durable Object namespace bound to `ProxyState` (`env.PROXY_STATE`): the rate limit,
   *  budgets and ledger hold across every isolate. Default: in this isolate / process. */
  durableState?: DurableObjectNamespaceLike;
  /** Longest wait for a `ProxyState` object (default 1000 ms); past it the request is
   *  refused with 503 `proxy_state_unavailable` (fail closed). */
  stateTimeoutMs?: number;
}

export interface ProxyBudgetCaps {
  tokensPerDay?: number;
  usdPerDay?: number;
}

export interface ProxyBudget extends ProxyBudgetCaps {
  /** The same caps for each client key. */
  perClient?: ProxyBudgetCaps;
  /** Clients whose spend one process remembers (default 10000; the lightest spender goes first). */
  maxClients?: number;
}

/** What a proxy or one client spent in the current budget window. */
export interface ProxySpend {
  windowStartMs: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  usd: number;
}

/** The part of a Workers `DurableObjectNamespace` the proxy uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

export interface ProxyHandler {
  /** A complete module Worker: `export default createProxy({...})`. Never rejects. */
  fetch(request: Request, env?: Record<string, unknown>, ctx?: unknown): Promise<Response>;
  /** The current window's spend of the whole proxy (no key) or of one client. */
  ledger(clientKey?: string): Promise<ProxySpend>;
}

/** The Durable Object class behind `durableState`: export it from the Worker and bind it
 *  (wrangler.toml `[[durable_objects.bindings]]` + a `new_classes` migration). */
export declare class ProxyState {
  constructor(state: unknown, env: unknown);
  fetch(request: Request): Promise<Response>;
}

/** The auth proxy: OpenAI-compatible `POST /v1/chat/completions`, `GET /v1/models`,
 *  `GET`/`HEAD /health` (and `GET /session`), holding the token server-side. Throws an
 *  `InferenceError` of kind `input` for a bad option. */
export declare function createProxy(options?: ProxyOptions): ProxyHandler;

/** The package version (the same as the client entry's). */
export declare const version: string;
