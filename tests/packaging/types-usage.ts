// Type-level test of the package's declarations (pkg/index.d.ts, copied from
// js/index.d.ts), imported by name as users do. Never run: the packaging test runs
// `tsc --noEmit --strict` over it with tsconfig.json (moduleResolution "bundler") and
// tsconfig.node16.json (module/moduleResolution "node16"). Each `@ts-expect-error` line
// proves a wrong type is rejected; an unused one is itself an error (TS2578), so the test
// fails if the declarations become too loose.

import {
  InferenceClient,
  InferenceError,
  ChatStream,
  version,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatMessage,
  type ContentPart,
  type FetchLike,
  type InferenceClientOptions,
  type InferenceErrorKind,
  type RequestOptions,
  type StreamCallbacks,
  type StreamFinish,
  type StreamLimits,
  type StreamOptions,
  type TimeoutName,
  type Timeouts,
  type ToolCall,
  type ToolCallDelta,
  type ToolDefinition,
  type Usage,
  cacheApiStore,
  type UsageRecord,
  type UsageSnapshot,
  type TextGenerationOutput,
  type ModelList,
} from "hf-inference-wasm";
import { createProxy, type ProxyHandler, type ProxyOptions } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";

/** The surfaces added with routing, TGI, the proxy and usage tracking. */
export async function exerciseMore(): Promise<void> {
  const client = new InferenceClient({
    provider: "together",
    policy: "cheapest",
    billTo: "my-org",
    prices: { "m/x:together": { input: 1, output: 2 } },
    budget: { usd: 1, windowMs: 60_000 },
    cache: { streams: true, store: cacheApiStore() },
    rateLimit: { requestsPerMinute: 60, maxQueue: 8 },
    route: [{ when: { maxPromptTokens: 100 }, model: "m/small" }, { model: "m/big" }],
    onUsage: (r: UsageRecord) => void r.costUsd,
  });
  // @ts-expect-error not a policy
  void new InferenceClient({ policy: "slowest" });
  const out: TextGenerationOutput = await client.textGeneration({ inputs: "Hi", parameters: { max_new_tokens: 5 } });
  void out.generated_text;
  for await (const ev of client.textGenerationStream({ inputs: "Hi" })) void ev.token.text;
  const list: ModelList = await client.listModels();
  void list.data[0]?.providers[0]?.pricing?.input;
  const n: number = await client.loadPricing();
  const snap: UsageSnapshot = client.usage();
  void [n, snap.total.costUsd, snap.byModel["m/x"]?.requests];
  const results = await client.batch([{ messages: [{ role: "user", content: "x" }] }], { concurrency: 2 });
  void results[0]?.value?.choices;
  const options: ProxyOptions = { allowedModels: ["m/x"] };
  void options;
  const proxy: ProxyHandler = createProxy({ allowedModels: ["m/x"], rateLimit: { burst: 5 }, sessions: true });
  const res: Response = await proxy.fetch(new Request("http://x/health"));
  void res;
  // @ts-expect-error allowedModels is a list or "*"
  createProxy({ allowedModels: 42 });
  const server = await serveNode(proxy, { port: 0 });
  server.close();
}

/** Compile-time equality: `Expect<Equal<A, B>>` fails to compile unless A and B are identical. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export async function exercise(signal: AbortSignal): Promise<void> {
  // --- version ---------------------------------------------------------------------
  const v: string = version;
  void v;

  // --- client options --------------------------------------------------------------
  const timeouts: Timeouts = { headers: 1_000, firstChunk: 2_000, idle: 3_000, total: 60_000 };
  const limits: StreamLimits = { maxLineBytes: 1 << 20, maxEventBytes: 8 << 20 };
  const customFetch: FetchLike = (input, init) => fetch(input, init);
  const options: InferenceClientOptions = {
    token: "hf_xxx",
    baseUrl: "https://router.example",
    endpointUrl: "http://127.0.0.1:8787/v1",
    headers: { "x-test": "1" },
    fetch: customFetch,
    timeouts,
    limits,
  };
  const client = new InferenceClient(options);
  new InferenceClient();
  new InferenceClient({ fetch }); // the global fetch is a FetchLike
  // @ts-expect-error a timeout is a number of milliseconds
  new InferenceClient({ timeouts: { idle: "soon" } });
  // @ts-expect-error unknown client option
  new InferenceClient({ endpointURL: "http://x" });
  // @ts-expect-error headers are a record of strings
  new InferenceClient({ headers: { "x-n": 1 } });
  // @ts-expect-error limits are numbers
  new InferenceClient({ limits: { maxLineBytes: "1MiB" } });

  // --- requests --------------------------------------------------------------------
  const parts: ContentPart[] = [
    { type: "text", text: "What is in this image?" },
    { type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "low" } },
  ];
  const tool: ToolDefinition = {
    type: "function",
    function: { name: "get_weather", description: "Weather", parameters: { type: "object" }, strict: true },
  };
  const call: ToolCall = { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } };
  const messages: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: parts },
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", content: "sunny", tool_call_id: "call_1" },
    { role: "custom-role", content: "any role string is accepted" },
  ];
  const request: ChatCompletionRequest = {
    model: "meta-llama/Llama-3.1-8B-Instruct:cerebras",
    messages,
    max_tokens: 64,
    temperature: 0.2,
    top_p: 0.9,
    stop: ["\n\n"],
    seed: 7,
    tools: [tool],
    tool_choice: { type: "function", function: { name: "get_weather" } },
    response_format: { type: "json_object" },
    stream_options: { include_usage: true },
    some_provider_extension: { anything: true }, // passed through unchanged
  };
  const requestOptions: RequestOptions = { signal, timeouts: { total: 5_000 }, headers: { "x-call": "1" } };

  // @ts-expect-error messages is an array of messages, not a string
  void client.chatCompletion({ messages: "hi" });
  // @ts-expect-error messages is required
  void client.chatCompletion({ model: "m" });
  // @ts-expect-error a message needs a role
  void client.chatCompletion({ messages: [{ content: "hi" }] });
  // @ts-expect-error temperature is a number
  void client.chatCompletion({ messages, temperature: "hot" });
  // @ts-expect-error tool_choice is "auto" | "none" | "required" | a function choice
  void client.chatCompletion({ messages, tool_choice: "sometimes" });

  // --- chatCompletion --------------------------------------------------------------
  const completion = await client.chatCompletion(request, requestOptions);
  type _c = Expect<Equal<typeof completion, ChatCompletion>>;
  const content: string | null = completion.choices[0].message.content;
  const finish: string | null = completion.choices[0].finish_reason;
  const usage: Usage | undefined = completion.usage;
  const total: number | undefined = usage?.total_tokens;
  const toolCalls: ToolCall[] | undefined = completion.choices[0].message.tool_calls;
  void [content, finish, total, toolCalls, completion.id, completion.model, completion.created];
  // @ts-expect-error the content may be null
  const notNull: string = completion.choices[0].message.content;
  void notNull;

  // --- chatCompletionStream with every callback ---------------------------------------
  const callbacks: StreamCallbacks = {
    onContent: (delta: string, snapshot: string) => void [delta, snapshot],
    onChunk: (chunk: ChatCompletionChunk) => void chunk.choices[0]?.delta.content,
    onFinish: (result: StreamFinish) => {
      const c: ChatCompletion = result.completion;
      const reason: string | null = result.finishReason;
      const u: Usage | undefined = result.usage;
      const flags: boolean[] = [result.aborted, result.truncated];
      void [c, reason, u, flags];
    },
    onError: (error: InferenceError) => void error.kind,
    onAbort: (partial: ChatCompletion) => void partial.choices,
  };
  const streamOptions: StreamOptions = { ...requestOptions, ...callbacks };
  const stream = client.chatCompletionStream(request, streamOptions);
  type _s = Expect<Equal<typeof stream, ChatStream>>;
  // @ts-expect-error onContent receives strings, not a number
  client.chatCompletionStream(request, { onContent: (delta: number) => void delta });
  // @ts-expect-error onChunk receives a chunk, not a string
  client.chatCompletionStream(request, { onChunk: (chunk: string) => void chunk });
  // @ts-expect-error onFinish receives a StreamFinish, not a boolean
  client.chatCompletionStream(request, { onFinish: (done: boolean) => void done });
  // @ts-expect-error misspelled callback
  client.chatCompletionStream(request, { onContnet: () => {} });
  // @ts-expect-error chatCompletionStream returns a ChatStream, not a promise
  void (client.chatCompletionStream(request) satisfies Promise<unknown>);

  // --- for await over typed chunks --------------------------------------------------
  let text = "";
  for await (const chunk of stream) {
    type _k = Expect<Equal<typeof chunk, ChatCompletionChunk>>;
    const choice = chunk.choices[0];
    const delta: string | null | undefined = choice?.delta.content;
    const calls: ToolCallDelta[] | undefined = choice?.delta.tool_calls;
    const chunkUsage: Usage | null | undefined = chunk.usage;
    if (typeof delta === "string") text += delta;
    void [calls, chunkUsage];
    // @ts-expect-error chunks carry deltas, not messages
    void choice?.message.content;
  }
  const next = await stream.next();
  if (!next.done) {
    const c: ChatCompletionChunk = next.value;
    void c;
  }
  await stream.return();
  const final: ChatCompletion = await stream.finalCompletion();
  const whole: string = await stream.text();
  const ended: boolean = stream.ended;
  stream.abort();
  void [text, final, whole, ended];
  // @ts-expect-error `ended` is read-only
  stream.ended = true;
  // @ts-expect-error a ChatStream is only made by the client
  new ChatStream();

  // --- toReadableStream ---------------------------------------------------------------
  const body: ReadableStream<Uint8Array> = client.chatCompletionStream(request).toReadableStream();
  const relayed = new Response(body, { headers: { "content-type": "text/event-stream" } });
  void relayed;

  // --- chat.completions.create: both overloads --------------------------------------
  const streamed = await client.chat.completions.create({ ...request, stream: true }, streamOptions);
  type _cs = Expect<Equal<typeof streamed, ChatStream>>;
  for await (const chunk of streamed) void chunk.choices;

  const whole1 = await client.chat.completions.create({ ...request, stream: false }, requestOptions);
  type _cc = Expect<Equal<typeof whole1, ChatCompletion>>;
  const whole2 = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
  type _cc2 = Expect<Equal<typeof whole2, ChatCompletion>>;
  void [whole1.choices, whole2.choices];

  // Unknown at compile time: either.
  const maybe = await client.chat.completions.create({ ...request, stream: Math.random() > 0.5 });
  type _cu = Expect<Equal<typeof maybe, ChatCompletion | ChatStream>>;
  if (maybe instanceof ChatStream) void maybe.text();
  else void maybe.choices;

  // @ts-expect-error a completion is not iterable
  for await (const _ of whole1) void _;
  // @ts-expect-error stream: true resolves to a ChatStream, not a ChatCompletion
  const wrong: ChatCompletion = await client.chat.completions.create({ ...request, stream: true });
  void wrong;
  // @ts-expect-error create needs messages
  void client.chat.completions.create({ stream: true });

  // --- InferenceError -----------------------------------------------------------------
  try {
    await client.chatCompletion(request);
  } catch (e) {
    if (e instanceof InferenceError) {
      const asError: Error = e;
      const name: "InferenceError" = e.name;
      const kind: InferenceErrorKind = e.kind;
      const status: number | undefined = e.status;
      const code: string | undefined = e.code;
      const requestId: string | undefined = e.requestId;
      const provider: string | undefined = e.provider;
      const retryable: boolean = e.retryable;
      const upstream: string | undefined = e.body;
      const which: TimeoutName | undefined = e.timeout;
      const partial: ChatCompletion | undefined = e.partial;
      const cause: unknown = e.cause;
      const message: string = e.message;
      void [asError, name, status, code, requestId, provider, retryable, upstream, which, partial, cause, message];
      switch (kind) {
        case "http":
        case "network":
        case "timeout":
        case "aborted":
        case "stream":
        case "parse":
        case "truncated":
        case "input":
        case "circuit_open":
        case "budget":
        case "rate_limited":
          break;
        default: {
          const never: never = kind;
          void never;
        }
      }
      // @ts-expect-error the fields are read-only
      e.status = 500;
      // @ts-expect-error status is a number
      const s: string = e.status;
      void s;
      // @ts-expect-error not a kind
      const k: InferenceErrorKind = "teapot";
      void k;
    }
  }

  // --- free ----------------------------------------------------------------------------
  client.free();
}
