// The offline demo's simulated models: replies that read like a chat model's, picked from a
// small bundled corpus by the question's words, written differently by each simulated model,
// and varied from one request to the next (or fixed by a seed, for tests).
//
//   demoReply({ model, messages, seed })  → the reply's Markdown text
//   DEMO_MODELS                           → the `/v1/models` list of the offline demo
//
// The fixture server serves them under the `/demo/<seed>` modifier: `/demo/varied/...` picks a
// fresh seed per request (what `make demo` uses), `/demo/<n>/...` fixes it, so the same
// question to the same model always gets the same reply (what the tests use).
// Nothing here is a language model: it is a few dozen hand-written answers and a PRNG.

const CREATED = 1700000000;

/** Prices are made up (the page labels every cost in offline mode "simulated"). */
export const DEMO_MODELS = [
  {
    id: "simulator/careful-70b",
    object: "model",
    created: CREATED,
    owned_by: "simulator",
    context_length: 32768,
    description: "Structured answers: a heading, points, code, caveats.",
    providers: [{ provider: "simulator", status: "live", context_length: 32768, pricing: { input: 0.9, output: 0.9 } }],
  },
  {
    id: "simulator/quick-8b",
    object: "model",
    created: CREATED,
    owned_by: "simulator",
    context_length: 8192,
    description: "Short and direct.",
    providers: [{ provider: "simulator", status: "live", context_length: 8192, pricing: { input: 0.05, output: 0.08 } }],
  },
  {
    id: "simulator/chatty-mini",
    object: "model",
    created: CREATED,
    owned_by: "simulator",
    context_length: 8192,
    description: "Friendly and conversational, ends with a question.",
    providers: [{ provider: "simulator", status: "live", context_length: 8192, pricing: { input: 0.1, output: 0.2 } }],
  },
];

const STYLE_OF = { "simulator/careful-70b": "careful", "simulator/quick-8b": "quick", "simulator/chatty-mini": "chatty" };

/** The style a model id writes in: one of the three, chosen by a hash for unknown ids. */
export function styleOf(model) {
  const id = String(model ?? "").replace(/:[^/:]+$/, "");
  if (Object.hasOwn(STYLE_OF, id)) return STYLE_OF[id];
  return ["careful", "quick", "chatty"][hash(id) % 3];
}

// ---------------------------------------------------------------------------------------
// Code samples, by language. Each language has a generic sample and samples per task.

const CODE = {
  rust: {
    reverse: 'fn reverse(s: &str) -> String {\n    // chars(), not bytes: "héllo" stays valid UTF-8\n    s.chars().rev().collect()\n}\n\nfn main() {\n    let word = "streaming";\n    println!("{} -> {}", word, reverse(word));\n}',
    sse: 'use std::io::{self, BufRead};\n\n/// Print the data of each server-sent event read from stdin.\nfn main() {\n    for line in io::stdin().lock().lines() {\n        let line = line.expect("read a line");\n        if let Some(data) = line.strip_prefix("data: ") {\n            if data == "[DONE]" {\n                break;\n            }\n            println!("{data}");\n        }\n    }\n}',
    retry: "use std::time::Duration;\n\n/// Exponential backoff with a cap: 250 ms, 500 ms, 1 s, 2 s, ...\nfn backoff(attempt: u32) -> Duration {\n    let ms = 250u64.saturating_mul(1 << attempt.min(10));\n    Duration::from_millis(ms.min(8_000))\n}",
    generic: 'fn main() {\n    let words = ["wasm", "streams", "tokens"];\n    for (i, w) in words.iter().enumerate() {\n        println!("{}: {}", i + 1, w);\n    }\n}',
  },
  python: {
    reverse: 'def reverse(s: str) -> str:\n    """Reverse a string (slicing walks it backwards)."""\n    return s[::-1]\n\nprint(reverse("streaming"))',
    sse: 'import json\nimport httpx\n\nwith httpx.stream("POST", url, json=body) as r:\n    for line in r.iter_lines():\n        if line.startswith("data: ") and line != "data: [DONE]":\n            chunk = json.loads(line[6:])\n            print(chunk["choices"][0]["delta"].get("content", ""), end="")',
    retry: 'import random, time\n\ndef with_retries(call, attempts=3):\n    for i in range(attempts):\n        try:\n            return call()\n        except TimeoutError:\n            time.sleep(min(8, 0.25 * 2 ** i) * random.uniform(0.5, 1))\n    return call()',
    generic: 'from collections import Counter\n\nwords = "the quick brown fox jumps over the lazy dog the end".split()\nprint(Counter(words).most_common(3))',
  },
  javascript: {
    reverse: 'const reverse = (s) => [...s].reverse().join("");\n\nconsole.log(reverse("streaming")); // "gnimaerts"',
    sse: 'const res = await fetch("/v1/chat/completions", { method: "POST", body });\nconst reader = res.body.pipeThrough(new TextDecoderStream()).getReader();\nfor (;;) {\n  const { value, done } = await reader.read();\n  if (done) break;\n  console.log(value); // "data: {...}\\n\\n" lines\n}',
    retry: "async function withRetries(call, attempts = 3) {\n  for (let i = 0; ; i++) {\n    try {\n      return await call();\n    } catch (err) {\n      if (i + 1 >= attempts) throw err;\n      await new Promise((r) => setTimeout(r, Math.min(8000, 250 * 2 ** i)));\n    }\n  }\n}",
    generic: 'const counts = new Map();\nfor (const w of "to be or not to be".split(" ")) counts.set(w, (counts.get(w) ?? 0) + 1);\nconsole.log([...counts]);',
  },
  typescript: {
    reverse: 'export function reverse(s: string): string {\n  return Array.from(s).reverse().join("");\n}',
    generic: 'interface Message {\n  role: "user" | "assistant";\n  content: string;\n}\n\nconst history: Message[] = [{ role: "user", content: "Hello!" }];',
  },
  go: {
    reverse: 'func reverse(s string) string {\n\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}',
    generic: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfor i := 1; i <= 3; i++ {\n\t\tfmt.Println("token", i)\n\t}\n}',
  },
  bash: {
    sse: 'curl -N http://127.0.0.1:8080/v1/chat/completions \\\n  -H "content-type: application/json" \\\n  -d \'{"model":"simulator/quick-8b","stream":true,"messages":[{"role":"user","content":"hi"}]}\'',
    reverse: 'echo "streaming" | rev',
    generic: 'for f in *.md; do\n  printf "%s: %s lines\\n" "$f" "$(wc -l < "$f")"\ndone',
  },
  sql: {
    generic: "SELECT model, count(*) AS calls, sum(total_tokens) AS tokens\nFROM usage\nGROUP BY model\nORDER BY tokens DESC\nLIMIT 5;",
  },
};

const LANGUAGE_WORDS = [
  ["rust", /\b(rust|cargo|rustc)\b/i],
  ["python", /\b(python|py|pip)\b/i],
  ["typescript", /\b(typescript|ts)\b/i],
  ["javascript", /\b(javascript|js|node|nodejs|browser)\b/i],
  ["go", /\b(golang|go)\b(?!\s+(on|ahead|back|through|over))/i],
  ["bash", /\b(bash|shell|curl|terminal)\b/i],
  ["sql", /\b(sql|query|database|postgres|sqlite)\b/i],
];

const LANG_NAME = { rust: "Rust", python: "Python", javascript: "JavaScript", typescript: "TypeScript", go: "Go", bash: "the shell", sql: "SQL" };

// ---------------------------------------------------------------------------------------
// Topics: words that pick them, and what the simulated models say about them.

const TOPICS = [
  {
    id: "sse",
    words: /\b(sse|server[- ]sent|event[- ]?stream|streaming|stream|streams|chunks?)\b/i,
    title: "Server-sent events",
    task: "sse",
    gist: [
      "Server-sent events (SSE) are a plain HTTP response that never quite ends: the server keeps the connection open and writes `data: ...` lines, each event followed by a blank line.",
      "With **server-sent events** the server answers once and then keeps writing: every event is a `data:` line and a blank line, over one long-lived HTTP response.",
    ],
    points: [
      "The response has `content-type: text/event-stream`, so proxies and browsers know not to buffer it.",
      "Chat APIs send one JSON chunk per event, each with a small *delta* of the reply, and finish with `data: [DONE]`.",
      "It is one-way (server to client); for a chat that is all you need, and it works through ordinary HTTP infrastructure.",
      "A client must cope with events split across network reads, even in the middle of a line or a multi-byte character.",
      "If the connection drops mid-reply, what already arrived is still valid text; the rest is simply missing.",
    ],
    caveat: "Some proxies buffer responses unless told otherwise; `cache-control: no-cache` and flushing each event help.",
  },
  {
    id: "wasm",
    words: /\b(wasm|webassembly|web assembly|compile|compiled)\b/i,
    title: "Why WebAssembly",
    task: "generic",
    gist: [
      "Compiling the client to **WebAssembly** means one implementation of the tricky parts (stream parsing, retries, timeouts) runs the same in browsers, Node and edge workers.",
      "WebAssembly lets a library written once in Rust ship as a single portable module, so the browser, Node and Cloudflare Workers all run *exactly* the same logic.",
    ],
    points: [
      "Behaviour is identical everywhere: a bug fixed once is fixed for every runtime.",
      "Rust's type system makes the error cases explicit, which matters for network code.",
      "The module is small when optimized (tens of kilobytes gzipped) and starts quickly.",
      "The JavaScript side stays thin: it hands bytes to the module and gets events back.",
      "There is a cost: a build step, and a boundary between JS and wasm that data must cross.",
    ],
    caveat: "For a tiny script a plain JS client is simpler; the wasm route pays off when the same logic must be exact in several places.",
  },
  {
    id: "reverse",
    words: /\b(revers\w*|backwards|palindrome)\b/i,
    title: "Reversing a string",
    task: "reverse",
    gist: [
      "Reversing a string is easy until Unicode shows up: reverse *characters*, not bytes, or accented letters and emoji break.",
      "The short answer: iterate over the characters in reverse and collect them. The catch is what counts as a character.",
    ],
    points: [
      "Reversing bytes corrupts multi-byte UTF-8 characters such as `é`.",
      "Reversing code points is fine for most text, but splits combined emoji and accents.",
      "For user-visible text, reverse grapheme clusters (a library such as `unicode-segmentation` does that).",
    ],
    caveat: "Flags and family emoji are several code points each: only grapheme-aware code keeps them whole.",
  },
  {
    id: "retry",
    words: /\b(retry|retries|retrying|backoff|rate[- ]?limit\w*|429|timeout\w*|fail\w*|error\w*)\b/i,
    title: "Retries and rate limits",
    task: "retry",
    gist: [
      "Retry only what can succeed next time: timeouts before any data, 429s and 5xx answers. A 400 or 401 will fail the same way again.",
      "A good retry policy is mostly about **when not to retry**: after part of a reply was delivered, or when the server says `x-should-retry: false`.",
    ],
    points: [
      "Honour `Retry-After` on a 429: the server is telling you exactly how long to wait.",
      "Back off exponentially with jitter so many clients do not retry in lockstep.",
      "Cap the total time, so a person is never left waiting on a spinner.",
      "Never replay a stream that already showed text: the reply would repeat itself.",
    ],
    caveat: "A retry spends credits again on a paid API; keep the count small.",
  },
  {
    id: "tokens",
    words: /\b(tokens?|tokeni[sz]\w*|llms?|language models?|context|prompt)\b/i,
    title: "Tokens",
    task: "generic",
    gist: [
      "Models read and write **tokens**, pieces of words about four characters long on average in English.",
      "A token is the unit a model works in: often a whole short word, sometimes a fragment like `ing` or a single punctuation mark.",
    ],
    points: [
      "Prices are per million tokens, with input and output priced separately.",
      "The context window (for example 8,192 tokens) bounds the prompt *and* the reply together.",
      "Streaming sends roughly one token per event, which is why text appears word by word.",
      "`max_tokens` caps the reply; a reply cut by it ends with `finish_reason: \"length\"`.",
    ],
    caveat: "Other languages and code often take more tokens per word than English prose.",
  },
  {
    id: "cors",
    words: /\b(cors|origin|cross[- ]origin|embed\w*)\b/i,
    title: "Cross-origin requests",
    task: "generic",
    gist: [
      "A browser lets a page call another origin only when that origin answers with `Access-Control-Allow-Origin` naming the page (or `*`).",
      "**CORS** is the server's way of telling the browser which other sites may read its answers.",
    ],
    points: [
      "A JSON POST with custom headers triggers a preflight `OPTIONS` request first.",
      "Headers the page should read (such as `x-request-id`) must be listed in `Access-Control-Expose-Headers`.",
      "A proxy that holds a secret token should allow only the origins it trusts.",
    ],
    caveat: "CORS protects users in browsers; it is not authentication: a server-side caller ignores it.",
  },
  {
    id: "hf",
    words: /\b(hugging ?face|hf|providers?|router|inference)\b/i,
    title: "Inference Providers",
    task: "sse",
    gist: [
      "Hugging Face's router gives one OpenAI-compatible endpoint in front of many inference providers; you pick a model, and optionally a provider with `model:provider`.",
      "The **Inference Providers** router speaks the OpenAI chat API, so the same client code can reach models served by many companies.",
    ],
    points: [
      "Billing goes through your Hugging Face account, per token, at the provider's price.",
      "The router tells you which provider answered, so you can compare speed and cost.",
      "Keep the token on a server (a proxy like this demo's): anything in a web page is public.",
    ],
    caveat: "Not every provider serves every model; the model list says which do.",
  },
  {
    id: "markdown",
    words: /\b(markdown|table|format\w*|list)\b/i,
    title: "Formatting",
    task: "generic",
    table: true,
    gist: ["Chat replies are usually Markdown: the page turns it into headings, lists, tables and code blocks as it streams."],
    points: [
      "Emphasis: `*italic*` and `**bold**`.",
      "Code: backticks inline, and fenced blocks with a language for highlighting.",
      "Tables: pipes and a separator row.",
      "Raw HTML is shown as text, never run: a reply cannot inject a script.",
    ],
    caveat: "Half-written Markdown mid-stream (an opened `**` with no close yet) is the tricky part for a renderer.",
  },
];

const GREETING = /^\s*(hi|hello|hey|good (morning|afternoon|evening)|yo|hiya)\b/i;
const WANTS_CODE = /\b(code|snippet|example|function|program|script|implement\w*|write|show me)\b/i;

const FALLBACK = {
  id: "fallback",
  title: "A simulated answer",
  task: "generic",
  gist: [
    "This is the offline demo, so I am a small simulator rather than a real model: I know a handful of topics and write about them in the style of the model you picked.",
    "I am the offline simulator: no model is running, just a few prepared answers picked by the words of your question.",
  ],
  points: [
    "Ask about **streaming**, **WebAssembly**, **retries**, **tokens**, **CORS** or **Markdown** for an on-topic answer.",
    "Ask for code in Rust, Python, JavaScript, TypeScript, Go, the shell or SQL to see a highlighted block.",
    "Switch models in the picker: each simulated model writes differently.",
    "Set `HF_TOKEN` and restart `make demo` to talk to real models.",
  ],
  caveat: "Replies here are canned, so they only roughly follow your question.",
};

// ---------------------------------------------------------------------------------------
// Writing a reply

function hash(text) {
  let h = 2166136261;
  for (const c of String(text)) h = Math.imul(h ^ c.codePointAt(0), 16777619);
  return h >>> 0;
}

/** mulberry32: a tiny seeded PRNG (the fixture server's `/split/random/<seed>` uses it too). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (r, list) => list[Math.floor(r() * list.length) % list.length];
/** `n` distinct items of `list`, in a seeded order. */
function sample(r, list, n) {
  const pool = [...list];
  const out = [];
  while (pool.length && out.length < n) out.push(pool.splice(Math.floor(r() * pool.length) % pool.length, 1)[0]);
  return out;
}

function lastUser(messages) {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === "user") {
      if (typeof m.content === "string") return m.content;
      if (Array.isArray(m.content)) return m.content.map((p) => (p && typeof p.text === "string" ? p.text : "")).join("");
    }
  }
  return "";
}

/** The topic and code language a question is about. */
export function classify(question) {
  const q = String(question);
  const language = LANGUAGE_WORDS.find(([, re]) => re.test(q))?.[0];
  // The topic whose words come earliest in the question wins (the subject comes first).
  let topic = FALLBACK;
  let best = Infinity;
  for (const t of TOPICS) {
    const m = t.words.exec(q);
    if (m && m.index < best) {
      best = m.index;
      topic = t;
    }
  }
  const greeting = GREETING.test(q) && topic === FALLBACK;
  const wantsCode = WANTS_CODE.test(q) || language !== undefined;
  return { topic, language, greeting, wantsCode };
}

function codeBlock(topic, language) {
  const lang = language ?? (topic.task === "reverse" ? "rust" : "javascript");
  const samples = CODE[lang];
  const code = samples[topic.task] ?? samples.generic;
  return { lang, text: "```" + lang + "\n" + code + "\n```" };
}

const TABLE = "| model | style | best for |\n| --- | --- | --- |\n| careful-70b | structured | explanations |\n| quick-8b | short | quick facts |\n| chatty-mini | friendly | conversation |";

/**
 * The simulated reply of `model` to the last user message of `messages`. `seed` picks among the
 * variants: the same (model, question, seed) always gives the same text.
 */
export function demoReply({ model, messages, seed = 0 }) {
  const question = lastUser(messages).replace(/\s+/g, " ").trim();
  const style = styleOf(model);
  const r = prng(hash(`${seed}\u0000${style}\u0000${question.toLowerCase()}`));
  const { topic, language, greeting, wantsCode } = classify(question);
  const code = wantsCode || (style === "careful" && topic.task !== "generic") ? codeBlock(topic, language) : null;
  const langNote = code ? (language ? `in ${LANG_NAME[code.lang]}` : `in ${LANG_NAME[code.lang]} (ask for another language by name)`) : "";
  const parts = [];

  if (greeting) {
    const hello = {
      careful: "## Hello\n\nI am the **offline simulator**, standing in for a large model. I can talk about a few topics in some depth:",
      quick: "Hi! Offline simulator here. Try one of these:",
      chatty: "Hello there! Lovely to meet you. I'm the offline simulator, so my repertoire is small, but I'm happy to chat about:",
    }[style];
    parts.push(hello);
    parts.push(sample(r, ["- streaming and server-sent events", "- why WebAssembly", "- retries and rate limits", "- tokens and context windows", "- CORS and embedding", "- code in Rust, Python, Go or JavaScript"], style === "quick" ? 3 : 5).join("\n"));
    if (style === "chatty") parts.push(pick(r, ["What would you like to start with?", "Which one sounds fun?"]));
    return parts.join("\n\n");
  }

  if (style === "careful") {
    parts.push(`## ${topic.title}`);
    parts.push(pick(r, topic.gist));
    const n = Math.min(topic.points.length, 3 + Math.floor(r() * 2));
    parts.push(
      "Key points:\n\n" +
        sample(r, topic.points, n)
          .map((p, i) => `${i + 1}. ${p}`)
          .join("\n"),
    );
    if (topic.table) parts.push(TABLE);
    if (code) parts.push(`Here is an example ${langNote}:`, code.text);
    parts.push(`> **Caveat:** ${topic.caveat}`);
  } else if (style === "quick") {
    parts.push(pick(r, topic.gist).split(/(?<=[.!?])\s/)[0]);
    if (code) parts.push(code.text);
    else parts.push(sample(r, topic.points, 2).map((p) => `- ${p}`).join("\n"));
  } else {
    parts.push(pick(r, ["Great question!", "Ooh, I like this one.", "Happy to help with that.", "Good one!"]) + " " + pick(r, topic.gist));
    const [a, b] = sample(r, topic.points, 2);
    parts.push(`The thing I'd remember first: ${lowerFirst(a)} And ${lowerFirst(b ?? topic.caveat)}`);
    if (code) parts.push(`Here's a small example ${langNote}, nothing fancy:`, code.text);
    if (topic.table) parts.push(TABLE);
    parts.push(pick(r, ["Want me to go deeper on any of that?", code ? "Shall I show it in another language?" : "Shall I show some code for it?", "Does that help? Happy to expand on any part."]));
  }
  return parts.join("\n\n");
}

/** Lower-case a sentence's first letter to continue a sentence, unless it starts with a name. */
const lowerFirst = (s) => (/^[A-Z][a-z]/.test(s) && !/^(Rust|Python|Go|JavaScript|TypeScript|WebAssembly|Hugging|Markdown|CORS|SSE)\b/.test(s) ? s[0].toLowerCase() + s.slice(1) : s);
