// Type declarations for hf-inference-wasm. Hand-written: they describe the public
// surface as JavaScript sees it, the same in Node, browsers, bundlers and Workers.

// ---------------------------------------------------------------------------
// Requests

export type Role = "system" | "user" | "assistant" | "tool" | "developer" | (string & {});

export interface TextContentPart {
  type: "text";
  text: string;
}
export interface ImageContentPart {
  type: "image_url";
  image_url: { url: string; detail?: "auto" | "low" | "high" };
}
export type ContentPart = TextContentPart | ImageContentPart | { type: string; [key: string]: unknown };

export interface ToolCall {
  /** Position of the call in the message (present on streamed calls). */
  index?: number;
  id: string;
  type: "function" | (string & {});
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: Role;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  /** Reasoning text some providers return beside the answer. */
  reasoning_content?: string;
  [key: string]: unknown;
}

export interface ToolDefinition {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface ChatCompletionRequest {
  /** Model id, optionally with a `:provider` or `:policy` suffix. Optional for a
   *  dedicated endpoint that serves one model. */
  model?: string;
  messages: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  seed?: number;
  stop?: string | string[];
  n?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  tools?: ToolDefinition[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
  response_format?: { type: "text" | "json_object" } | { type: "json_schema"; json_schema: Record<string, unknown> };
  /** Set by the client for streams unless you set it: `{ include_usage: true }`. */
  stream_options?: { include_usage?: boolean };
  /** Any other field is passed to the server unchanged. */
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------
// Responses

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown } | null;
  [key: string]: unknown;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatMessage & { role: "assistant" | (string & {}); content: string | null };
  /** `stop`, `length`, `tool_calls`, `content_filter`, or a provider's own (`eos`). */
  finish_reason: string | null;
  logprobs?: unknown;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion" | (string & {});
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: ChatCompletionChoice[];
  /** Absent when the server did not report usage (never zeros or NaN). */
  usage?: Usage;
  /** Which target answered (set by this client). */
  route?: Route;
  /** Fields the server sent that this package does not know are kept. */
  [key: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function" | (string & {});
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk" | (string & {});
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: Array<{
    index: number;
    delta: {
      role?: string;
      content?: string | null;
      reasoning_content?: string | null;
      tool_calls?: ToolCallDelta[];
      [key: string]: unknown;
    };
    finish_reason: string | null;
    logprobs?: unknown;
    [key: string]: unknown;
  }>;
  usage?: Usage | null;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------
// Options

export interface Timeouts {
  /** From sending the request to the response headers. Default 60 000 ms. */
  headers?: number;
  /** From the headers to the first body chunk of a stream. Default 60 000 ms. */
  firstChunk?: number;
  /** Between two body chunks. Default 30 000 ms. */
  idle?: number;
  /** The whole call, body included. Default 600 000 ms. */
  total?: number;
}

export interface StreamLimits {
  /** Longest SSE line accepted. Default 1 MiB. */
  maxLineBytes?: number;
  /** Largest SSE event accepted. Default 8 MiB. */
  maxEventBytes?: number;
}

/** Headers as a record of strings, a `Headers` object, or `[name, value]` pairs. */
export type HeaderInit = Record<string, string> | Headers | Array<[string, string]>;

export interface RetryOptions {
  /** Retries after the first attempt. Default 2; `0` turns retrying off. */
  maxRetries?: number;
  /** First backoff delay; doubles each retry. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap on one backoff delay. Default 8 000 ms. */
  maxDelayMs?: number;
  /** Total time spent retrying, sleeps included. Default 30 000 ms. */
  budgetMs?: number;
  /** Fraction of a backoff delay that is random, 0 to 1. Default 0.5. */
  jitter?: number;
  /** A server's Retry-After is honoured up to this; longer fails at once. Default 60 000 ms. */
  maxServerDelayMs?: number;
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** Failure rate over `windowMs` that opens it (with `minRequests`). Default 0.5. */
  failureRate?: number;
  windowMs?: number;
  minRequests?: number;
  /** How long it stays open before one probe goes through. Default 30 000 ms. */
  openMs?: number;
}

/** Where to go when the primary target fails in a way retrying will not fix. Left-out
 *  fields are the primary's. */
export interface FallbackTarget {
  model?: string;
  /** Becomes the router's `model:provider` suffix. */
  provider?: string;
  endpointUrl?: string;
  baseUrl?: string;
}

/** Which target answered: 0 is the primary, then the fallbacks in order. */
export interface Route {
  index: number;
  model?: string;
  /** What the circuit breaker is keyed by: the provider, or the chat URL. */
  upstream: string;
}

export interface Attempt {
  status?: number;
  kind: InferenceErrorKind;
  code?: string;
  timeout?: TimeoutName;
  /** How long the call slept after this attempt. */
  delayMs?: number;
}

export interface RetryEvent {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: InferenceError;
}

export interface FallbackEvent {
  from: Route;
  to: Route;
  error: InferenceError;
}

export interface UpstreamHealth {
  upstream: string;
  state: "closed" | "open" | "half_open";
  retryInMs?: number;
  consecutiveFailures: number;
  windowRequests: number;
  windowFailures: number;
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The router's providers (the core's table); `"auto"` lets the router choose. */
export type ProviderName =
  | "auto"
  | "baseten"
  | "black-forest-labs"
  | "cerebras"
  | "clarifai"
  | "cohere"
  | "deepinfra"
  | "fal-ai"
  | "featherless-ai"
  | "fireworks-ai"
  | "groq"
  | "hf-inference"
  | "hyperbolic"
  | "nebius"
  | "novita"
  | "nscale"
  | "ovhcloud"
  | "publicai"
  | "replicate"
  | "sambanova"
  | "scaleway"
  | "together"
  | "wavespeed"
  | "zai-org"
  | (string & {});

/** How the router picks a provider when none is named (also a `model:policy` suffix). */
export type RoutingPolicy = "fastest" | "cheapest" | "preferred";

export interface RoutingOptions {
  /** `"auto"` (default: the router picks) or a provider. With an `hf_…` token the call
   *  goes through the router as `model:provider`; with a provider's own key it goes to
   *  that provider's API directly, with the provider's id for the model from the Hub. */
  provider?: ProviderName;
  /** The router's provider choice for `auto`. */
  policy?: RoutingPolicy;
  /** Bill an organization (`X-HF-Bill-To`); routed calls only. */
  billTo?: string;
}

// ---------------------------------------------------------------------------
// Usage, cost, budgets, cache, rate limit, routing by difficulty

/** Token counts of one call; a count the provider did not send is absent (never NaN). */
export interface TokenUsage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
  /** Some counts are estimates (`estimateUsage: true`): ceil(UTF-8 bytes / 4) per message + 4, + 3 per request. */
  estimated?: true;
}

/** US dollars per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** For prompt tokens served from the provider's cache (else priced as input). */
  cachedInput?: number;
}

export interface UsageRecord {
  seq: number;
  model?: string;
  /** The provider that served it (the router's `x-inference-provider`, the model's suffix, the URL). */
  provider?: string;
  upstream: string;
  requestId?: string;
  outcome: "completed" | "aborted" | `failed:${InferenceErrorKind}`;
  latency: { headersMs?: number; firstTokenMs?: number; totalMs?: number };
  usage?: TokenUsage;
  /** `0` for a cache hit; absent when there is no price or no usage. */
  costUsd?: number;
  priceKey?: string;
  attempts: number;
  cacheHit: boolean;
  /** The `route` rule that chose the model. */
  rule?: { index: number; model: string; promptTokens: number };
}

export interface UsageTotals {
  requests: number;
  failed: number;
  aborted: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** Calls with usage but no price. */
  unpriced: number;
  estimated: number;
}

export interface UsageSnapshot {
  total: UsageTotals;
  byModel: Record<string, UsageTotals>;
  byProvider: Record<string, UsageTotals>;
  budget?: { usdSpent: number; tokensSpent: number; usdLimit?: number; tokensLimit?: number; windowMs?: number; exceeded: boolean; freesInMs?: number };
  spiking: boolean;
  /** The most recent records (oldest first, at most 100). */
  recent: UsageRecord[];
}

export interface SpikeAlert {
  metric: "usd" | "tokens";
  recent: number;
  expected: number;
  ratio: number;
  recentMs: number;
  message: string;
}

export interface BudgetAlert {
  metric: "usd" | "tokens";
  spent: number;
  limit: number;
  freesInMs?: number;
}

export interface CacheStore {
  get(id: string): string | undefined | null | Promise<string | undefined | null>;
  put(id: string, value: string, ttlMs: number): unknown;
}

export interface CacheOptions {
  /** `"auto"` (default): requests with `temperature: 0` only; `"force"`: every request. */
  mode?: "auto" | "force" | "off";
  maxEntries?: number;
  maxBytes?: number;
  ttlMs?: number;
  /** Also cache streams, replayed as a stream. */
  streams?: boolean;
  /** Another store than the in-memory LRU (e.g. `cacheApiStore()`). */
  store?: CacheStore;
}

export interface RouteRule {
  when?: { maxPromptTokens?: number; minPromptTokens?: number; tools?: boolean; tier?: string };
  model: string;
  provider?: string;
}

export interface InferenceClientOptions extends RoutingOptions {
  /** An `hf_…` token or a provider key. Never needed in a browser that talks to the proxy. */
  token?: string;
  /** Where the Hub mapping is looked up for direct provider calls (default `https://huggingface.co`). */
  hubUrl?: string;
  /** The Hub mapping cache: `ttlMs` (default 600000) and `maxEntries` (default 128). */
  mappingCache?: { ttlMs?: number; maxEntries?: number };
  /** Default `https://router.huggingface.co`; chat goes to `{baseUrl}/v1/chat/completions`. */
  baseUrl?: string;
  /** A dedicated endpoint (TGI, vLLM, llama.cpp, an Inference Endpoint, or our proxy):
   *  `…/v1` becomes `…/v1/chat/completions`; a path not ending in `/chat/completions`
   *  gets `/v1/chat/completions`. */
  endpointUrl?: string;
  /** Extra headers sent with every request: a record, a `Headers`, or `[name, value]` pairs. */
  headers?: HeaderInit;
  /** A `fetch` to use instead of the global one. */
  fetch?: FetchLike;
  timeouts?: Timeouts;
  limits?: StreamLimits;
  /** Retry policy; `false` for no retries (as with openai), `true` for the defaults. */
  retry?: RetryOptions | boolean;
  /** Per-upstream circuit breakers; on by default, `false` turns them off. */
  circuitBreaker?: CircuitBreakerOptions | boolean;
  fallback?: FallbackTarget[];
  /** `{ "model[:provider]": { input, output } }` per million tokens; `loadPricing()` adds the router's. */
  prices?: Record<string, ModelPrice>;
  /** Over budget in the window, calls fail fast with `kind: "budget"`. */
  budget?: { usd?: number; tokens?: number; windowMs?: number };
  /** Spike detection thresholds (on when `spike` or `onSpike` is given). */
  spike?: { recentMs?: number; baselineMs?: number; factor?: number; minBaselineRequests?: number; minRecentRequests?: number } | false;
  onSpike?: (alert: SpikeAlert) => void;
  onBudget?: (alert: BudgetAlert) => void;
  /** Every call's usage, cost, latencies, route and attempts, when it ends. */
  onUsage?: (record: UsageRecord) => void;
  /** Estimate the counts a provider did not report (marked `estimated`). */
  estimateUsage?: boolean;
  /** A response cache for non-streamed chat (and, opted in, streams). */
  cache?: boolean | "auto" | "force" | CacheOptions;
  /** Client-side rate limiting: a token bucket and a bounded FIFO queue (full → `kind: "rate_limited"`). */
  rateLimit?: { requestsPerMinute?: number; tokensPerMinute?: number; maxConcurrent?: number; maxQueue?: number };
  /** Pick the model of a request that names none: first matching rule wins. */
  route?: RouteRule[];
}

export interface BatchResult<T> {
  ok: boolean;
  value?: T;
  error?: InferenceError;
}

export interface BatchOptions extends RequestOptions {
  /** At most this many requests in flight (default 4). */
  concurrency?: number;
  onResult?: (result: BatchResult<ChatCompletion>, index: number) => void;
}

export interface RequestOptions extends RoutingOptions {
  signal?: AbortSignal;
  /** Per-call timeouts, merged over the client's. */
  timeouts?: Timeouts;
  /** Per-call extra headers, merged over the client's. */
  headers?: HeaderInit;
  /** Per-call retry options, merged over the client's; `false` for no retries. */
  retry?: RetryOptions | boolean;
  /** Per-call fallback targets, replacing the client's. */
  fallback?: FallbackTarget[];
  /** Before each retry's sleep. */
  onRetry?: (event: RetryEvent) => void;
  /** Before moving to the next fallback target. */
  onFallback?: (event: FallbackEvent) => void;
  /** This call's usage record, when it ends (after the client's `onUsage`). */
  onUsage?: (record: UsageRecord) => void;
  /** The tier `route` rules can match. */
  tier?: string;
  /** `false` skips the cache for this call; `"force"` caches it whatever its temperature. */
  cache?: boolean | "auto" | "force" | "off";
}

export interface StreamFinish<TResult = ChatCompletion> {
  /** What was received: complete, or partial when aborted or truncated. */
  completion: TResult;
  finishReason: string | null;
  usage: Usage | undefined;
  aborted: boolean;
  truncated: boolean;
}

export interface StreamCallbacks<TChunk = ChatCompletionChunk, TResult = ChatCompletion> {
  /** The text that arrived (choice 0's deltas, or the non-special tokens' text, of one
   *  read of the body, joined), with the text so far. The snapshot is kept only for a
   *  callback declared with two parameters: `(delta) => …` keeps no per-chunk memory. */
  onContent?: (delta: string, snapshot: string) => void;
  /** Every parsed chunk (or token event), exactly as the server sent it. */
  onChunk?: (chunk: TChunk) => void;
  /** The stream ended: done, aborted or truncated. Called once. */
  onFinish?: (result: StreamFinish<TResult>) => void;
  /** The stream failed (also called for a truncated stream). */
  onError?: (error: InferenceError) => void;
  /** The stream was aborted; `partial` is what arrived before. */
  onAbort?: (partial: TResult) => void;
}

export interface StreamOptions extends RequestOptions, StreamCallbacks {
  /** `false`: keep none of the text in the stream (memory stays flat however long it
   *  runs); `onContent` still gets every piece, but `text()` and the final completion
   *  carry no content. Default `true`. */
  accumulate?: boolean;
}

// ---------------------------------------------------------------------------
// Text generation (TGI's native API)

export interface TextGenerationParameters {
  max_new_tokens?: number;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  typical_p?: number;
  repetition_penalty?: number;
  frequency_penalty?: number;
  truncate?: number;
  seed?: number;
  best_of?: number;
  top_n_tokens?: number;
  do_sample?: boolean;
  details?: boolean;
  decoder_input_details?: boolean;
  return_full_text?: boolean;
  watermark?: boolean;
  stop?: string[];
  grammar?: { type: string; value: unknown };
  adapter_id?: string;
  [key: string]: unknown;
}

export interface TextGenerationRequest {
  inputs: string;
  parameters?: TextGenerationParameters;
  /** The model, for `hf-inference` through the router (a dedicated endpoint serves its own). */
  model?: string;
  [key: string]: unknown;
}

export interface TextGenerationToken {
  id: number;
  text: string;
  logprob?: number | null;
  special: boolean;
}

export interface TextGenerationDetails {
  finish_reason?: "length" | "eos_token" | "stop_sequence" | (string & {});
  generated_tokens?: number;
  seed?: number | null;
  [key: string]: unknown;
}

export interface TextGenerationOutput {
  generated_text: string;
  details?: TextGenerationDetails;
  [key: string]: unknown;
}

/** One event of `/generate_stream`; the last carries `generated_text` (and `details`). */
export interface TextGenerationStreamOutput {
  index?: number;
  token: TextGenerationToken;
  generated_text: string | null;
  details: TextGenerationDetails | null;
  [key: string]: unknown;
}

export type TextGenerationStream = ChatStream<TextGenerationStreamOutput, TextGenerationOutput>;

export interface TextGenerationStreamOptions
  extends RequestOptions,
    StreamCallbacks<TextGenerationStreamOutput, TextGenerationOutput> {}

// ---------------------------------------------------------------------------
// The model list (`GET /v1/models`)

export interface ModelPricing {
  /** US dollars per million input tokens. */
  input?: number;
  /** US dollars per million output tokens. */
  output?: number;
  [key: string]: unknown;
}

export interface ModelProviderInfo {
  provider: string;
  status?: "live" | "staging" | (string & {});
  context_length?: number;
  pricing?: ModelPricing;
  supports_tools?: boolean;
  supports_structured_output?: boolean;
  /** Seconds to first token, as the router measures it. */
  latency?: number;
  /** Tokens per second, as the router measures it. */
  throughput?: number;
  [key: string]: unknown;
}

export interface ModelCard {
  id: string;
  object: string;
  created?: number;
  owned_by?: string;
  providers: ModelProviderInfo[];
  [key: string]: unknown;
}

export interface ModelList {
  object: string;
  data: ModelCard[];
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------
// Errors

export type InferenceErrorKind =
  | "http"
  | "network"
  | "timeout"
  | "aborted"
  | "stream"
  | "parse"
  | "truncated"
  | "input"
  | "circuit_open"
  | "budget"
  | "rate_limited";

export type TimeoutName = "headers" | "firstChunk" | "idle" | "total";

export interface InferenceErrorFields {
  kind?: InferenceErrorKind;
  status?: number;
  code?: string;
  requestId?: string;
  provider?: string;
  retryable?: boolean;
  body?: string;
  timeout?: TimeoutName;
  partial?: ChatCompletion;
  attempts?: Attempt[];
  cause?: unknown;
}

export declare class InferenceError extends Error {
  /** Errors come from the client; constructing one is for tests and adapters. */
  constructor(message: string, fields?: InferenceErrorFields);
  readonly name: "InferenceError";
  readonly kind: InferenceErrorKind;
  /** HTTP status when there was a response. */
  readonly status: number | undefined;
  /** The server's machine-readable code (`error.code`, `error.type`, TGI `error_type`). */
  readonly code: string | undefined;
  /** The upstream `x-request-id`. */
  readonly requestId: string | undefined;
  readonly provider: string | undefined;
  /** Whether the same request could succeed if sent again. */
  readonly retryable: boolean;
  /** The upstream body (bounded), or the offending stream data for `parse`. */
  readonly body: string | undefined;
  /** Which timeout fired, for `kind: "timeout"`. */
  readonly timeout: TimeoutName | undefined;
  /** What a stream delivered before it failed. */
  readonly partial: ChatCompletion | undefined;
  /** Every failed attempt of the call, on every target, in order. */
  readonly attempts: Attempt[] | undefined;
  /** A JavaScript exception that caused this one (from a custom `fetch`, say). */
  readonly cause: unknown;
  /** The fields above as a plain object (never a token). */
  toJSON(): Omit<InferenceErrorFields, "partial" | "cause"> & { name: "InferenceError"; message: string };
}

// ---------------------------------------------------------------------------
// The client

/** A streamed chat completion (or, as `TextGenerationStream`, a TGI token stream). */
export declare class ChatStream<TChunk = ChatCompletionChunk, TResult = ChatCompletion>
  implements AsyncIterable<TChunk>
{
  private constructor();
  /** Iterate over chunks; breaking out cancels the request. Consume a stream once. */
  [Symbol.asyncIterator](): AsyncIterator<TChunk>;
  next(): Promise<IteratorResult<TChunk, undefined>>;
  return(): Promise<IteratorResult<TChunk, undefined>>;
  /** The whole result (partial if aborted). Drives the stream if nobody iterates. */
  finalCompletion(): Promise<TResult>;
  /** The text of choice 0 (partial if aborted). Drives the stream if nobody iterates. */
  text(): Promise<string>;
  /** Stop now; the partial result stays available. */
  abort(): void;
  /** Resolves once the response headers announce a stream; rejects with the HTTP,
   *  network or timeout error otherwise. Consumes nothing. */
  ready(): Promise<void>;
  /** The stream re-encoded as SSE bytes (`data: {…}\n\n … data: [DONE]\n\n`), for a
   *  server relaying to a browser. Consumes the stream. */
  toReadableStream(): ReadableStream<Uint8Array>;
  /** Whether the stream has ended (done, aborted, failed). */
  readonly ended: boolean;
  /** Which target is answering (changes if the call falls back). */
  readonly route: Route;
  /** Release the stream's wasm memory now (the garbage collector does it otherwise): its
   *  answer goes at once if it has ended; a stream still running is aborted first, unless
   *  its callbacks, `text()` or `finalCompletion()` drive it, and then its memory goes
   *  when it ends. The stream is unusable afterwards. */
  free(): void;
}

export interface ChatCompletionsCreate {
  (request: ChatCompletionRequest & { stream: true }, options?: StreamOptions): Promise<ChatStream>;
  (request: ChatCompletionRequest & { stream?: false | undefined }, options?: RequestOptions): Promise<ChatCompletion>;
  (request: ChatCompletionRequest, options?: StreamOptions): Promise<ChatCompletion | ChatStream>;
}

export declare class InferenceClient {
  constructor(options?: InferenceClientOptions);
  chatCompletion(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletion>;
  chatCompletionStream(request: ChatCompletionRequest, options?: StreamOptions): ChatStream;
  /** TGI's `/generate` (a dedicated `endpointUrl`) or `hf-inference` through the router. */
  textGeneration(request: TextGenerationRequest, options?: RequestOptions): Promise<TextGenerationOutput>;
  /** TGI's `/generate_stream`: token events, with the same surface as a chat stream. */
  textGenerationStream(request: TextGenerationRequest, options?: TextGenerationStreamOptions): TextGenerationStream;
  /** `GET {baseUrl or endpointUrl}/v1/models`: the models and, on the router, their
   *  providers with status, context length and pricing. */
  listModels(options?: Pick<RequestOptions, "signal" | "timeouts" | "headers">): Promise<ModelList>;
  /** The circuit breakers' state, one entry per upstream called. */
  health(): UpstreamHealth[];
  /** Running totals by model and provider, budget, spike state, recent records. */
  usage(): UsageSnapshot;
  /** Load the router's prices (`/v1/models`); the `prices` option wins. Resolves to the number of prices known. */
  loadPricing(options?: Pick<RequestOptions, "signal" | "timeouts" | "headers">): Promise<number>;
  /** Many chat requests, `concurrency` at a time, in order, each success or error. */
  batch(requests: ChatCompletionRequest[], options?: BatchOptions): Promise<BatchResult<ChatCompletion>[]>;
  /** The `huggingface_hub` / OpenAI shape. */
  readonly chat: { readonly completions: { readonly create: ChatCompletionsCreate } };
  /** Release the client's resources (wasm memory). The client is unusable afterwards. */
  free(): void;
}

/** A response-cache store on the Cache API (browsers, Workers): `cache: { store: cacheApiStore() }`. */
export declare function cacheApiStore(options?: { name?: string; prefix?: string }): CacheStore & { delete(id: string): Promise<boolean> };

/** The package version. */
export declare const version: string;
