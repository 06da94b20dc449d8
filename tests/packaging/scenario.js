// The scenario every browser page of the packaging tests runs against the package it
// was given (however the page imported it: import map, relative path, bundle). It talks
// to the fixture server whose URL is in the page's `?fixture=` query, and writes what it
// saw into `document.body.dataset.result` (JSON) or, if it threw, `dataset.error`.
// It calls no init function: the package must be ready once its import resolved.

const MODEL = "fixture/tiny-chat";
const PROMPT = "Say hello to the packaging tests";

/**
 * @param {{ InferenceClient: any, InferenceError: any, ChatStream: any, version: string }} pkg
 * @param {string[]} exportNames the names the module namespace exports
 */
export async function run(pkg, exportNames) {
  const { InferenceClient, InferenceError, ChatStream, version } = pkg;
  const fixture = new URL(location.href).searchParams.get("fixture");
  if (!fixture) throw new Error("the page needs ?fixture=<fixture server URL>");
  const emojiUrl = fixture + "/split/1/script/emoji";
  const request = () => ({ model: MODEL, messages: [{ role: "user", content: PROMPT }] });
  const result = { exports: [...exportNames].sort(), version };

  // 1. for await over typed chunks.
  {
    const client = new InferenceClient({ endpointUrl: emojiUrl });
    const stream = client.chatCompletionStream(request());
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      const delta = chunk.choices?.[0]?.delta?.content;
      if (typeof delta === "string") text += delta;
    }
    result.forAwait = { text, chunks, isChatStream: stream instanceof ChatStream, ended: stream.ended };
  }

  // 2. the same stream through the callbacks.
  {
    const client = new InferenceClient({ endpointUrl: emojiUrl });
    const deltas = [];
    let snapshot = "";
    const finishes = [];
    const errors = [];
    const stream = client.chatCompletionStream(request(), {
      onContent(delta, snap) {
        deltas.push(delta);
        snapshot = snap;
      },
      onFinish: (f) => finishes.push({ finishReason: f.finishReason, aborted: f.aborted, truncated: f.truncated }),
      onError: (e) => errors.push(String(e)),
    });
    const final = await stream.finalCompletion();
    result.onContent = {
      text: deltas.join(""),
      snapshot,
      finalText: final.choices[0].message.content,
      finishes,
      errors,
    };
  }

  // 3. the OpenAI shape, streaming: narrows to a ChatStream.
  {
    const client = new InferenceClient({ endpointUrl: emojiUrl });
    const stream = await client.chat.completions.create({ ...request(), stream: true });
    result.create = { isChatStream: stream instanceof ChatStream, text: await stream.text() };
  }

  // 4. a non-stream completion from the chat simulator.
  {
    const client = new InferenceClient({ endpointUrl: fixture });
    const completion = await client.chatCompletion(request());
    result.nonStream = { object: completion.object, content: completion.choices[0].message.content, prompt: PROMPT };
  }

  // 5. an HTTP error is an InferenceError (the very class the package exports).
  {
    const client = new InferenceClient({ endpointUrl: fixture + "/status/404" });
    try {
      await client.chatCompletion(request());
      result.error = { threw: false };
    } catch (e) {
      result.error = {
        threw: true,
        isInferenceError: e instanceof InferenceError,
        isError: e instanceof Error,
        name: e.name,
        kind: e.kind,
        status: e.status,
        code: e.code,
        requestId: e.requestId,
        retryable: e.retryable,
      };
    }
  }
  // 6. abort mid-stream: a paced stream, aborted by the caller's signal after the first
  //    text arrived, resolves with the partial text and reports the abort.
  {
    const client = new InferenceClient({ endpointUrl: fixture + "/pace/50" });
    const controller = new AbortController();
    const seen = { aborts: [], finishes: [], errors: [] };
    let text = "";
    const stream = client.chatCompletionStream(request(), {
      signal: controller.signal,
      onContent(delta) {
        text += delta;
        if (text.length >= 5) controller.abort();
      },
      onAbort: (partial) => seen.aborts.push(partial.choices[0].message.content),
      onFinish: (f) => seen.finishes.push({ aborted: f.aborted }),
      onError: (e) => seen.errors.push(String(e)),
    });
    const final = await stream.finalCompletion();
    result.abort = { text, final: final.choices[0].message.content, prompt: PROMPT, ...seen };
  }

  // 7. each named timeout fires under its own name (no retries, so one attempt each).
  {
    const timeoutOf = async (path, timeouts, call = "stream") => {
      const client = new InferenceClient({ endpointUrl: fixture + path, timeouts, retry: false });
      try {
        if (call === "stream") await client.chatCompletionStream(request()).finalCompletion();
        else await client.chatCompletion(request());
        return { threw: false };
      } catch (e) {
        const partial = e.partial?.choices?.[0]?.message?.content;
        return { threw: true, isInferenceError: e instanceof InferenceError, kind: e.kind, timeout: e.timeout, ...(partial ? { partial } : {}) };
      }
    };
    result.timeouts = {
      headers: await timeoutOf("/fault/stall-headers", { headers: 150 }),
      firstChunk: await timeoutOf("/fault/stall-first-chunk", { firstChunk: 150 }),
      idle: await timeoutOf("/fault/stall-mid", { idle: 150 }),
      total: await timeoutOf("/pace/100", { total: 300 }),
      // Headers after 400 ms with the whole answer or the whole stream; firstChunk 150 ms.
      slowHeadersAnswer: await timeoutOf("/fault/slow-headers/400", { firstChunk: 150 }, "completion"),
      slowHeadersStream: await timeoutOf("/fault/slow-headers/400", { firstChunk: 150 }),
    };
  }

  // 8. when this engine's fetch() resolves: at the headers, or only with the first body
  //    bytes (why a stream's firstChunk wait counts from the request in Firefox). The
  //    server sends headers and then nothing; pending after 1 s means "with the bytes".
  {
    const controller = new AbortController();
    const resolved = fetch(fixture + "/fault/stall-first-chunk/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ ...request(), stream: true }),
      signal: controller.signal,
    }).then(
      () => "at headers",
      () => "rejected",
    );
    const verdict = await Promise.race([resolved, new Promise((r) => setTimeout(() => r("pending after 1 s"), 1000))]);
    controller.abort();
    await resolved;
    result.fetchResolves = verdict;
  }
  return result;
}

/** Run the scenario and publish its outcome on the page. */
export function publish(pkg, exportNames) {
  run(pkg, exportNames).then(
    (result) => {
      document.body.dataset.result = JSON.stringify(result);
    },
    (e) => {
      document.body.dataset.error = String((e && e.stack) || e) + (e && e.kind ? ` (kind ${e.kind})` : "");
    },
  );
}
