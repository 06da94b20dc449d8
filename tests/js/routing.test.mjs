// Provider routing and TGI text generation, end to end: the package as users import it,
// with the fixture server standing in for the router (`baseUrl`), the Hub (`hubUrl`), a
// dedicated endpoint (`endpointUrl`) and providers' own APIs (a `fetch` that sends the
// providers' real URLs to loopback and records them). Each test asserts the exact URL,
// headers and body the server received, and what the caller got back.

import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";

import { InferenceClient, InferenceError } from "hf-inference-wasm";
import { startFixtureServer, within, settle } from "./helpers.mjs";

const T = { timeout: 15_000 };
const HF = "hf_fixtureSECRETtoken_0123456789abcdef";
const GROQ_KEY = "gsk_fixtureGROQkey_0123456789";
const MODEL = "meta-llama/Llama-3.3-70B-Instruct";
const messages = [{ role: "user", content: "Tell me a story" }];

let fx;
before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  await fx?.close();
});
beforeEach(() => fx.reset());

/** The requests the server logged, without the test-control ones. */
const logged = () => fx.requests.map((r) => ({ ...r, json: r.body ? JSON.parse(r.body) : undefined }));

/**
 * A `fetch` that sends every https URL to the fixture server under /direct/<host>/<path>, so a
 * direct provider call (whose base URL is fixed in the core's table) reaches loopback; `seen`
 * collects the URLs as the client asked for them. Anything but https or loopback is refused.
 */
function loopbackFetch() {
  const seen = [];
  const f = (input, init) => {
    const url = String(input);
    seen.push({ url, headers: { ...(init?.headers ?? {}) } });
    if (url.startsWith(fx.url)) return fetch(url, init);
    const m = url.match(/^https:\/\/([^/]+)(\/.*)$/);
    if (!m) return Promise.reject(new TypeError(`refused: ${url}`));
    return fetch(`${fx.url}/direct/${m[1]}${m[2]}`, init);
  };
  return { fetch: f, seen };
}

async function collect(stream) {
  let text = "";
  for await (const chunk of stream) text += chunk.choices?.[0]?.delta?.content ?? chunk.token?.text ?? "";
  return text;
}

describe("routed calls through the router (an HF token)", () => {
  test("the seed's example: provider auto, chat.completions.create, streamed with for await", T, async () => {
    const client = new InferenceClient({ provider: "auto", token: HF, baseUrl: fx.url });
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 512, stream: true });
    const text = await within(collect(stream), 5_000, "stream");
    assert.ok(text.length > 0);
    const [r] = logged();
    assert.equal(r.method, "POST");
    assert.equal(r.path, "/v1/chat/completions");
    assert.equal(r.headers.authorization, `Bearer ${HF}`);
    assert.equal(r.json.model, MODEL, "auto leaves the model as written");
    assert.equal(r.json.max_tokens, 512);
    assert.equal(r.json.stream, true);
    assert.equal(r.headers["x-hf-bill-to"], undefined);
  });

  test("a named provider becomes the model's :provider suffix", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url, provider: "together" });
    const c = await client.chatCompletion({ model: MODEL, messages });
    assert.equal(c.object, "chat.completion");
    assert.equal(logged()[0].json.model, `${MODEL}:together`);
    assert.equal(c.route.upstream, "together", "the breaker key is the provider");
  });

  test("a policy option and a policy suffix in the model are the same request", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url });
    await client.chatCompletion({ model: MODEL, messages }, { policy: "cheapest" });
    await client.chatCompletion({ model: `${MODEL}:cheapest`, messages });
    const [a, b] = logged();
    assert.equal(a.json.model, `${MODEL}:cheapest`);
    assert.equal(b.json.model, `${MODEL}:cheapest`);
  });

  test("the per-call provider overrides the client's", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url, provider: "groq" });
    await client.chatCompletion({ model: MODEL, messages }, { provider: "cerebras" });
    assert.equal(logged()[0].json.model, `${MODEL}:cerebras`);
  });

  test("billTo is sent as X-HF-Bill-To on routed calls", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url, billTo: "my-org" });
    await client.chatCompletion({ model: MODEL, messages });
    assert.equal(logged()[0].headers["x-hf-bill-to"], "my-org");
  });

  test("conflicting provider and suffix, or provider and policy, are input errors naming both", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url, provider: "groq" });
    const a = await settle(() => client.chatCompletion({ model: `${MODEL}:together`, messages }));
    assert.ok(a.error instanceof InferenceError);
    assert.equal(a.error.kind, "input");
    assert.match(a.error.message, /:together/);
    assert.match(a.error.message, /groq/);
    const b = await settle(() => client.chatCompletion({ model: MODEL, messages }, { policy: "fastest" }));
    assert.equal(b.error.kind, "input");
    assert.match(b.error.message, /policy/);
    assert.equal(fx.requests.length, 0, "nothing was sent");
  });

  test("an unknown provider is an input error listing the valid ones, at construction", () => {
    assert.throws(
      () => new InferenceClient({ token: HF, provider: "not-a-provider" }),
      (e) => e instanceof InferenceError && e.kind === "input" && /"together"/.test(e.message) && /"groq"/.test(e.message),
    );
    assert.throws(() => new InferenceClient({ policy: "quickest" }), (e) => e.kind === "input" && /cheapest/.test(e.message));
    assert.throws(() => new InferenceClient({ provider: 42 }), (e) => e.kind === "input" && /`provider` must be a string/.test(e.message));
  });

  test("a provider with endpointUrl is an input error at construction", () => {
    assert.throws(
      () => new InferenceClient({ endpointUrl: fx.url, provider: "groq" }),
      (e) => e.kind === "input" && /endpointUrl/.test(e.message),
    );
  });

  test("no token and no URL is a routing error that says what to do", T, async () => {
    const client = new InferenceClient();
    const r = await settle(() => client.chatCompletion({ model: MODEL, messages }));
    assert.equal(r.error.kind, "input");
    assert.equal(r.error.code, "routing");
    assert.match(r.error.message, /hf_/);
  });

  test("a provider key with provider auto is a routing error, and nothing is sent", T, async () => {
    const { fetch, seen } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, fetch });
    const r = await settle(() => client.chatCompletion({ model: MODEL, messages }));
    assert.equal(r.error.code, "routing");
    assert.doesNotMatch(r.error.message, /gsk_fixture/);
    assert.equal(seen.length, 0);
  });
});

describe("direct provider calls (a provider's own key) with the Hub mapping", () => {
  test("groq: the Hub is asked without the key, then Groq's own URL with Groq's model id", T, async () => {
    const { fetch, seen } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    const text = await within(collect(client.chatCompletionStream({ model: "fixture-hub/array-shape", messages })), 5_000, "stream");
    assert.ok(text.length > 0);
    const [hub, chat] = seen;
    assert.equal(hub.url, `${fx.url}/api/models/fixture-hub/array-shape?expand[]=inferenceProviderMapping`);
    assert.equal(hub.headers.authorization, undefined, "a provider key never goes to the Hub");
    assert.equal(chat.url, "https://api.groq.com/openai/v1/chat/completions");
    assert.equal(chat.headers.authorization, `Bearer ${GROQ_KEY}`);
    const sent = logged().find((r) => r.path.startsWith("/direct/"));
    assert.equal(sent.json.model, "array-shape-groq");
    assert.equal(sent.headers["x-hf-bill-to"], undefined);
  });

  test("the recorded Hub answer (object shape) maps Llama 3.3 for fireworks-ai", T, async () => {
    const { fetch, seen } = loopbackFetch();
    const client = new InferenceClient({ token: "fw_key_123", provider: "fireworks-ai", fetch, hubUrl: fx.url });
    const c = await client.chatCompletion({ model: MODEL, messages });
    assert.equal(c.object, "chat.completion");
    assert.equal(seen[1].url, "https://api.fireworks.ai/inference/v1/chat/completions");
    const sent = logged().find((r) => r.path.startsWith("/direct/"));
    assert.match(sent.json.model, /^accounts\/fireworks\/models\/llama-v3p3-70b/);
  });

  test("the mapping is cached: a second call does not ask the Hub again", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    assert.equal(fx.count("/api/models/"), 1);
    assert.equal(fx.count("/direct/"), 2);
  });

  test("a cached mapping expires after mappingCache.ttlMs, and is then looked up again", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url, mappingCache: { ttlMs: 150 } });
    await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    assert.equal(fx.count("/api/models/"), 1, "fresh: a hit");
    await new Promise((r) => setTimeout(r, 200));
    await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    assert.equal(fx.count("/api/models/"), 2, "expired: looked up again");
    assert.throws(() => new InferenceClient({ mappingCache: { ttlMs: "soon" } }), /mappingCache.ttlMs/);
  });

  test("concurrent look-ups of the same model share one request", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => client.chatCompletion({ model: "fixture-hub/array-shape", messages })),
    );
    assert.equal(results.length, 5);
    assert.equal(fx.count("/api/models/"), 1);
  });

  test("a different token does not reuse another token's mapping", T, async () => {
    const { fetch } = loopbackFetch();
    const a = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    const b = new InferenceClient({ token: "gsk_other", provider: "groq", fetch, hubUrl: fx.url });
    await a.chatCompletion({ model: "fixture-hub/array-shape", messages });
    await b.chatCompletion({ model: "fixture-hub/array-shape", messages });
    assert.equal(fx.count("/api/models/"), 2, "each client keeps its own cache");
  });

  test("a provider the mapping does not list (an error status) is a routing error naming the others", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: "tg_key", provider: "together", fetch, hubUrl: fx.url });
    const r = await settle(() => client.chatCompletion({ model: "fixture-hub/array-shape", messages }));
    assert.equal(r.error.kind, "input");
    assert.equal(r.error.code, "routing");
    assert.match(r.error.message, /groq/, "says which providers do serve it");
    assert.equal(fx.count("/direct/"), 0);
  });

  test("providers this version does not know are skipped, not an error", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    const r = await settle(() => client.chatCompletion({ model: "fixture-hub/unknown-only", messages }));
    assert.equal(r.error.code, "routing", "groq is not mapped, the unknown provider did not break the parse");
  });

  test("a staging deployment works and warns once", T, async () => {
    const { fetch } = loopbackFetch();
    const warnings = [];
    const warn = console.warn;
    console.warn = (m) => warnings.push(String(m));
    try {
      const client = new InferenceClient({ token: "nv_key", provider: "novita", fetch, hubUrl: fx.url });
      await client.chatCompletion({ model: "fixture-hub/array-shape", messages });
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /staging/);
    const sent = logged().find((r) => r.path.startsWith("/direct/api.novita.ai/"));
    assert.equal(sent.path, "/direct/api.novita.ai/v3/openai/chat/completions");
    assert.equal(sent.json.model, "array-shape-novita");
  });

  test("a model the Hub does not know is an http 404 error, and the failure is not cached", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: fx.url });
    for (let i = 0; i < 2; i++) {
      const r = await settle(() => client.chatCompletion({ model: "nobody/nothing", messages }));
      assert.equal(r.error.kind, "http");
      assert.equal(r.error.status, 404);
      assert.match(r.error.message, /Repository not found/);
    }
    assert.equal(fx.count("/api/models/"), 2);
  });

  test("a direct call with fallbacks is refused (the key would go elsewhere)", T, async () => {
    const { fetch, seen } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, fallback: [{ model: "other/model" }] });
    const r = await settle(() => client.chatCompletion({ model: MODEL, messages }));
    assert.equal(r.error.kind, "input");
    assert.match(r.error.message, /fallback/);
    assert.equal(seen.length, 0);
  });

  test("a direct stream can be aborted while its mapping is looked up", T, async () => {
    const { fetch } = loopbackFetch();
    const client = new InferenceClient({ token: GROQ_KEY, provider: "groq", fetch, hubUrl: `${fx.url}/fault/slow-headers/300` });
    const s = client.chatCompletionStream({ model: "fixture-hub/array-shape", messages });
    setTimeout(() => s.abort(), 50);
    const text = await within(s.text(), 3_000, "aborted stream");
    assert.equal(text, "");
    assert.equal(s.ended, true);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(fx.count("/direct/"), 0, "the chat request is never sent after the abort");
  });
});

describe("dedicated endpoints and TGI", () => {
  test("the seed's example: textGeneration on an endpoint URL", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/tgi` });
    const out = await client.textGeneration({ inputs: "Hello", parameters: { max_new_tokens: 50 } });
    assert.equal(typeof out.generated_text, "string");
    assert.ok(out.generated_text.length > 0);
    assert.ok(out.details.generated_tokens > 0);
    const [r] = logged();
    assert.equal(r.path, "/tgi/generate");
    assert.deepEqual(r.json, { inputs: "Hello", parameters: { max_new_tokens: 50 } });
  });

  test("textGenerationStream yields TGI token events and ends at generated_text", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/tgi/v1/` });
    const s = client.textGenerationStream({ inputs: "Hello there", parameters: { max_new_tokens: 20 } });
    const tokens = [];
    let last;
    for await (const ev of s) {
      tokens.push(ev.token.text);
      last = ev;
    }
    assert.ok(tokens.length > 1);
    assert.equal(typeof last.generated_text, "string");
    assert.equal(last.generated_text, tokens.join(""));
    const final = await s.finalCompletion();
    assert.equal(final.generated_text, last.generated_text);
    assert.equal(logged()[0].path, "/tgi/generate_stream");
  });

  test("textGenerationStream with callbacks: onContent snapshots and onFinish", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url });
    const snaps = [];
    let finish;
    const s = client.textGenerationStream(
      { inputs: "Hello", parameters: { max_new_tokens: 8 } },
      { onContent: (_d, snap) => snaps.push(snap), onFinish: (f) => (finish = f) },
    );
    const text = await within(s.text(), 5_000, "tgi text");
    assert.equal(snaps.at(-1), text);
    assert.equal(finish.completion.generated_text, text);
    assert.ok(["length", "eos_token"].includes(finish.finishReason));
  });

  test("the recorded old-TGI streams (data:{ with no space, no [DONE]) replay to their generated text", T, async () => {
    const ids = [...fx.recordings.values()].filter((r) => r.status === 200 && r.url.includes("/hf-inference/models/") && !r.url.endsWith("/chat/completions") && /^data:\{/.test(r.body ?? ""));
    assert.ok(ids.length >= 1, "the recordings hold old TGI streams");
    const seen = { ok: 0 };
    for (const rec of ids) {
      for (const split of ["", "/split/1", "/split/random/7"]) {
        const client = new InferenceClient({ endpointUrl: `${fx.url}${split}/replay/${encodeURIComponent(rec.id)}` });
        const events = rec.body.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
        const failure = events.find((e) => typeof e.error === "string");
        const s = client.textGenerationStream({ inputs: "x" });
        let text = "";
        const r = await settle(async () => {
          for await (const ev of s) if (!ev.token?.special) text += ev.token?.text ?? "";
        });
        if (failure) {
          // A recorded in-stream error: typed, with TGI's error_type as the code.
          assert.ok(r.error instanceof InferenceError, `${rec.id} ${split}`);
          assert.equal(r.error.code, failure.error_type);
          assert.ok(r.error.message.includes(failure.error.slice(0, 40)));
          continue;
        }
        assert.ok(r.ok, `${rec.id} ${split}: ${r.error}`);
        const final = await s.finalCompletion();
        const generated = events.findLast((e) => typeof e.generated_text === "string")?.generated_text;
        assert.equal(final.generated_text, generated ?? text, `${rec.id} ${split}`);
        seen.ok++;
      }
    }
    assert.ok(seen.ok >= 3, "at least one recording replays to a complete generation");
  });

  test("TGI's in-stream error becomes a typed error with code = error_type, keeping the tokens before it", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/script/tgi-error-midstream` });
    const r = await settle(async () => {
      const s = client.textGenerationStream({ inputs: "x" });
      for await (const _ of s);
    });
    if (r.ok) assert.fail("the stream should fail");
    assert.ok(r.error instanceof InferenceError);
    assert.equal(r.error.kind, "stream");
    assert.equal(r.error.code, "generation");
    assert.ok(r.error.partial.generated_text.length > 0, "the tokens before the error are kept");
  });

  test("hf-inference through the router: {router}/hf-inference/models/{id} with inputs, parameters, stream", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url, billTo: "acme" });
    const s = client.textGenerationStream({ model: "fixture/tgi-compatible", inputs: "Hi", parameters: { max_new_tokens: 5 } });
    const text = await within(s.text(), 5_000, "hf-inference stream");
    assert.ok(text.length > 0);
    const [r] = logged();
    assert.equal(r.path, "/hf-inference/models/fixture/tgi-compatible");
    assert.equal(r.json.stream, true);
    assert.equal(r.json.inputs, "Hi");
    assert.equal(r.headers.authorization, `Bearer ${HF}`);
    assert.equal(r.headers["x-hf-bill-to"], "acme");
  });

  test("textGeneration refuses another provider, and a bad request shape, before sending", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url });
    const a = await settle(() => client.textGeneration({ model: "m/x", inputs: "x" }, { provider: "groq" }));
    assert.equal(a.error.kind, "input");
    assert.match(a.error.message, /hf-inference/);
    const b = await settle(() => client.textGeneration({ model: "m/x", inputs: 42 }));
    assert.equal(b.error.kind, "input");
    assert.match(b.error.message, /inputs/);
    assert.equal(fx.requests.length, 0);
  });

  test("an endpoint URL for chat is normalized as the official clients do", T, async () => {
    for (const [endpoint, path] of [
      ["/ep", "/ep/v1/chat/completions"],
      ["/ep/v1", "/ep/v1/chat/completions"],
      ["/ep/v1/chat/completions", "/ep/v1/chat/completions"],
    ]) {
      fx.reset();
      const client = new InferenceClient({ endpointUrl: fx.url + endpoint });
      await client.chatCompletion({ messages });
      assert.equal(logged()[0].path, path, endpoint);
      assert.equal(logged()[0].json.model, undefined, "no model is invented for an endpoint");
    }
  });
});

describe("listModels", () => {
  test("typed model list with providers, status, context length and pricing", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: fx.url });
    const list = await client.listModels();
    assert.equal(list.object, "list");
    const m = list.data.find((x) => x.id === "fixture/chat-simulator");
    assert.ok(m);
    const together = m.providers.find((p) => p.provider === "together");
    assert.deepEqual(together.pricing, { input: 0.88, output: 0.88 });
    assert.equal(together.supports_tools, true);
    const novita = m.providers.find((p) => p.provider === "novita");
    assert.equal(novita.context_length, 131072, "a numeric string is read as a number");
    assert.equal(novita.status, "staging");
    const [r] = logged();
    assert.equal(r.method, "GET");
    assert.equal(r.path, "/v1/models");
    assert.equal(r.headers.authorization, `Bearer ${HF}`);
  });

  test("an HTTP error from the list is a typed error without the token", T, async () => {
    const client = new InferenceClient({ token: HF, baseUrl: `${fx.url}/status/503` });
    const r = await settle(() => client.listModels());
    assert.equal(r.error.kind, "http");
    assert.equal(r.error.status, 503);
    assert.doesNotMatch(JSON.stringify(r.error), /fixtureSECRET/);
  });
});
