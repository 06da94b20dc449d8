// Type declarations for `hf-inference-wasm/loadtest` (hand-written, like index.d.ts).

import type { ChatMessage, HeaderInit, InferenceClientOptions } from "./index.js";

/** US dollars per million tokens. */
export interface LoadTestPrice {
  input: number;
  output: number;
  /** Where the price came from (printed by the CLI). */
  source?: string;
}

export interface LoadTestOptions {
  /** Any OpenAI-compatible server or our proxy (`…/v1` or a base URL). One of the two. */
  endpointUrl?: string;
  /** A router-compatible base URL (the Hugging Face router). */
  baseUrl?: string;
  /** `org/name`, or `org/name:provider` through the router. */
  model: string;
  token?: string;
  headers?: HeaderInit;
  /** Steps of fixed concurrency (default 1, 2, 4, 8, 16). Not with `rate`. */
  concurrency?: number | number[];
  /** Steps of fixed arrival rate, in requests per second. Not with `concurrency`. */
  rate?: number | number[];
  /** Requests per step (default 16; with `durationMs` a cap, default 200). */
  requests?: number;
  /** Also end each step after this long (requests in flight finish). */
  durationMs?: number;
  /** Unmeasured requests before the first step (default 1). */
  warmup?: number;
  /** `max_tokens` of every request (default 256). */
  maxTokens?: number;
  /** One prompt for every request (default: a request for a long explanation). */
  prompt?: string;
  /** One conversation for every request. */
  messages?: ChatMessage[];
  /** Prompts used in turn: strings, message arrays or `{ messages }`. */
  prompts?: Array<string | ChatMessage[] | { messages: ChatMessage[] }>;
  /** Retries per request (default 0: a load test wants to see the 429s). */
  retries?: number;
  /** The whole of one request (default 60 000 ms). */
  timeoutMs?: number;
  /** Hard stop of the run: requests in flight are aborted (default 600 000 ms). */
  maxDurationMs?: number;
  /** Breaking-point thresholds: error rate (default 0.01) and p95 TTFT factor over the first step (default 3). */
  thresholds?: { errorRate?: number; ttftFactor?: number };
  /** Stop after the step that is the breaking point. */
  stopOnBreak?: boolean;
  /** For the report's `costUsd` (from the reported usage). */
  price?: LoadTestPrice;
  signal?: AbortSignal;
  onProgress?: (progress: LoadTestProgress) => void;
  /** More client options (a custom `fetch`, say); they win over the load test's. */
  clientOptions?: InferenceClientOptions;
}

export type LoadTestProgress =
  | { event: "warmup"; results: number; ok: number }
  | { event: "start" | "request"; step: number; steps: number; concurrency: number | null; rate?: number; done: number; total: number; ok: number; errors: number; inFlight: number; elapsedMs: number }
  | { event: "end"; step: number; steps: number; summary: LoadTestStep };

export interface Percentiles3 {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
export interface Percentiles2 {
  p50: number | null;
  p95: number | null;
}

export interface LoadTestStep {
  /** `null` for a step of fixed arrival rate (then `rate` is set). */
  concurrency: number | null;
  rate?: number;
  /** Requests that ended in the step (ok + errors). */
  requests: number;
  ok: number;
  /** By kind (`timeout`, `truncated`, `network`, …) or HTTP status (`http 429`). */
  errors: Record<string, number>;
  /** The first message seen for each error key. */
  errorMessages: Record<string, string>;
  /** Request sent → first output chunk (text, reasoning or tool call). */
  ttftMs: Percentiles3;
  /** Gaps between consecutive output chunks, all requests pooled. */
  itlMs: Percentiles2;
  /** (last chunk − first chunk) / (output tokens − 1), per request. */
  tpotMs: Percentiles2;
  /** Request sent → end of stream. */
  e2eMs: Percentiles3;
  /** Output tokens of the ok requests / the step's wall time. */
  outputTokensPerSec: number | null;
  /** Output tokens / end-to-end time, per ok request. */
  requestOutputTokensPerSec: { mean: number | null; p50: number | null };
  /** Ok requests / the step's wall time. */
  requestsPerSec: number | null;
  outputTokens: number;
  promptTokens: number;
  /** Some counts are chunk counts: the server reported no usage. */
  tokensEstimated: boolean;
  durationMs: number;
  peakInFlight: number;
}

export interface BreakingPoint {
  concurrency: number | null;
  rate?: number;
  /** Index of the step. */
  step: number;
  reason: string;
}

export interface LoadTestReport {
  tool: "hf-inference-wasm loadtest";
  version: string;
  startedAt: string;
  durationMs: number;
  target: { url: string; model: string; router: boolean };
  settings: {
    mode: "concurrency" | "rate";
    maxTokens: number;
    retries: number;
    warmup: number;
    timeoutMs: number;
    requestsPerStep: number[];
    durationMs: number | null;
    thresholds: { errorRate: number; ttftFactor: number };
  };
  bounds: { maxRequests: number; maxAttempts: number; maxDurationMs: number };
  steps: LoadTestStep[];
  breakingPoint: BreakingPoint | null;
  /** `"max-duration"`, `"aborted"`, `"breaking-point"` (with `stopOnBreak`), or `null`. */
  stopped: string | null;
  tokens: { prompt: number; output: number };
  /** From the reported usage and `price`; `null` without a price. */
  costUsd: number | null;
}

export interface LoadTestPlan {
  target: { url: string; router: boolean; model: string };
  mode: "concurrency" | "rate";
  steps: Array<{ concurrency?: number; rate?: number; requests: number; durationMs?: number }>;
  prompts: ChatMessage[][];
  /** The largest prompt's estimated tokens. */
  promptTokens: number;
  maxTokens: number;
  retries: number;
  warmup: number;
  timeoutMs: number;
  thresholds: { errorRate: number; ttftFactor: number };
  maxRequests: number;
  maxAttempts: number;
  /** The run never lasts longer: min(worst case, `maxDurationMs`). */
  maxDurationMs: number;
  worstCaseMs: number;
  durationCapMs: number;
}

/** Run the load test. Rejects only for bad options (`InferenceError`, kind `input`). */
export declare function loadTest(options: LoadTestOptions): Promise<LoadTestReport>;
/** The options checked and completed, with every bound. No network. */
export declare function planLoadTest(options: LoadTestOptions): LoadTestPlan;
/** Upper-bound cost: every attempt with its full prompt and `maxTokens` output. */
export declare function estimateCost(plan: LoadTestPlan, price: LoadTestPrice): { usd: number; promptTokens: number; outputTokens: number };
/** The model's price from the target's `GET /v1/models` (the router's `providers[].pricing`). */
export declare function lookupPrice(options: LoadTestOptions): Promise<LoadTestPrice | undefined>;
export declare function priceFromModelList(list: unknown, model: string): LoadTestPrice | undefined;
export declare function findBreakingPoint(steps: LoadTestStep[], thresholds?: { errorRate?: number; ttftFactor?: number }): BreakingPoint | null;
/** Linear-interpolated percentile (0–100) of a sorted array; `null` when empty. */
export declare function percentile(sorted: number[], p: number): number | null;
export declare function estimatePromptTokens(messages: ChatMessage[]): number;
/** The report as a self-contained HTML page (inline CSS and SVG charts, no script, no external URL). */
export declare function renderHtml(report: LoadTestReport): string;
export declare const DEFAULTS: Readonly<Record<string, unknown>>;
export declare const LIMITS: Readonly<{ maxRequests: number; maxConcurrency: number; maxDurationMs: number }>;
