// Stream a chat reply in Node, token by token.
//
//   node examples/stream-node.mjs                     # offline: starts the fixture server
//   FIXTURE_URL=http://127.0.0.1:8787 node examples/stream-node.mjs
//   HF_TOKEN=hf_… node examples/stream-node.mjs        # the Hugging Face router (HF_MODEL to choose)

import { InferenceClient, InferenceError } from "hf-inference-wasm";

const question = process.argv.slice(2).join(" ") || "Explain in a few sentences what streaming a chat reply means, with some code.";

let fixture;
let clientOptions;
let model;
if (process.env.HF_TOKEN && !process.env.FIXTURE_URL) {
  model = process.env.HF_MODEL || "meta-llama/Llama-3.1-8B-Instruct";
  clientOptions = { token: process.env.HF_TOKEN };
  console.error(`# Hugging Face router, model ${model}`);
} else {
  let url = process.env.FIXTURE_URL;
  if (!url) {
    const { startFixtureServer } = await import("../tests/fixture-server/server.mjs");
    fixture = await startFixtureServer();
    url = fixture.url;
  }
  model = "fixture/chat-simulator";
  // `/pace/25` makes the simulator send a token every 25 ms, like a model generating.
  clientOptions = { endpointUrl: url.replace(/\/$/, "") + "/pace/25" };
  console.error(`# fixture server at ${url}`);
}

const client = new InferenceClient(clientOptions);
const request = { model, messages: [{ role: "user", content: question }], max_tokens: 300 };

try {
  // 1. Callbacks: print each delta as it arrives.
  console.log(`> ${question}\n`);
  let deltas = 0;
  const stream = client.chatCompletionStream(request, {
    onContent(delta) {
      deltas++;
      process.stdout.write(delta);
    },
  });
  const completion = await stream.finalCompletion();
  const { finish_reason } = completion.choices[0];
  console.log(`\n\n[${deltas} deltas, finish_reason: ${finish_reason}, usage: ${completion.usage ? JSON.stringify(completion.usage) : "not reported"}]\n`);

  // 2. The same with `for await` over the chunks.
  console.log("> the same question, with for await:\n");
  for await (const chunk of client.chatCompletionStream(request)) {
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) process.stdout.write(delta);
  }
  console.log("\n");
} catch (err) {
  if (err instanceof InferenceError) {
    console.error(`\n${err.kind} error${err.status ? ` (HTTP ${err.status})` : ""}: ${err.message}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
} finally {
  client.free();
  await fixture?.close();
}
