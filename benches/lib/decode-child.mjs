// One client's decode and first-token measurements, in a fresh process of its own (so one
// client's JIT state and garbage never weigh on another's). Started by decode.mjs:
//
//   node --expose-gc lib/decode-child.mjs '<json config>'
//
// config: { client, url, runs, warmup, scenarios: [{ name, route, kind, tiny, runs?, warmup? }],
//           ttft: { route, n } | null, expected: { text: {len, hash}, tool: {len, hash} } }
// Prints one JSON line: { scenarios: { name: { times: [ms…], chunks, bytes, reads, ok, error,
//                                                failures: [message…] } },
//                         ttft: { times: [ms…], floor: [ms…] } }  (floor: paired raw-floor calls)

import { createHash } from "node:crypto";
import { loopbackOnly } from "./common.mjs";
import { makeClient, tinyChunkFetch } from "./clients.mjs";
import { textStream, toolStream } from "./bodies.mjs";

const cfg = JSON.parse(process.argv[2]);
loopbackOnly();
const gc = globalThis.gc ?? (() => {});
const hash = (s) => createHash("sha1").update(s).digest("hex");
const CALL_CAP_MS = 60_000;

const normal = await makeClient(cfg.client);
const tiny = await makeClient(cfg.client, { fetch: tinyChunkFetch() });

// In memory: no socket. The same bodies, already in memory, reach every client as a
// ReadableStream of 16 KB pieces from a `fetch` of this process (the request is not sent).
// What is left is the client's own work: the decode, callbacks and objects.
const MEM_BODIES = cfg.scenarios.some((s) => s.mem) ? { text: textStream().body, tool: toolStream().body } : {};
const MEM_PIECE = 16 * 1024;
function memoryFetch(input, init) {
  const url = String(input?.url ?? input);
  const bytes = MEM_BODIES[url.includes("/s/tool/") ? "tool" : "text"];
  let at = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(new Uint8Array(bytes.subarray(at, (at += MEM_PIECE))));
    },
  });
  init?.signal?.throwIfAborted?.();
  return Promise.resolve(new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } }));
}
const mem = cfg.scenarios.some((s) => s.mem) ? await makeClient(cfg.client, { fetch: memoryFetch }) : null;

async function once(client, base, kind, onFirst) {
  const signal = AbortSignal.timeout(CALL_CAP_MS);
  const t0 = performance.now();
  let first = NaN;
  const r = await client.consume(base, kind, {
    signal,
    onFirst: () => {
      if (Number.isNaN(first)) first = performance.now() - t0;
      onFirst?.();
    },
  });
  return { ms: performance.now() - t0, first, ...r };
}

const out = { scenarios: {}, ttft: null };
for (const s of cfg.scenarios) {
  const client = s.mem ? mem : s.tiny ? tiny : normal;
  const base = `${cfg.url}${s.route}/v1`;
  const res = { times: [], chunks: NaN, bytes: NaN, reads: NaN, ok: true, error: null, failures: [] };
  const runs = s.runs ?? cfg.runs;
  const warmup = s.warmup ?? cfg.warmup;
  // A failed call is recorded and the next one still runs: one transient error must not
  // take a client's whole row away (a wrong output, in contrast, marks the row).
  for (let i = 0; i < warmup + runs; i++) {
    gc();
    let r;
    try {
      r = await once(client, base, s.kind);
    } catch (e) {
      res.failures.push(`${e?.constructor?.name ?? "Error"}: ${String(e?.message ?? e).slice(0, 160)}`);
      continue;
    }
    if (i < warmup) continue;
    res.times.push(r.ms);
    if (cfg.client === "raw") {
      res.bytes = r.bytes;
      res.reads = r.reads;
    } else {
      res.chunks = r.chunks;
      const want = cfg.expected[s.kind];
      if (r.text.length !== want.len || hash(r.text) !== want.hash) {
        res.ok = false;
        res.error = `wrong output: ${r.text.length} chars, expected ${want.len}`;
      }
    }
  }
  out.scenarios[s.name] = res;
}

if (cfg.ttft) {
  // Each of this client's calls is paired with a raw-floor call right before or after it
  // (alternating), in this same process, so the difference does not depend on how busy the
  // machine was when.
  const base = `${cfg.url}${cfg.ttft.route}/v1`;
  const raw = cfg.client === "raw" ? normal : await makeClient("raw");
  const times = [];
  const floor = [];
  try {
    for (let i = 0; i < 3 + cfg.ttft.n; i++) {
      // Alternate which of the pair goes first, so neither always follows the other.
      let f;
      let r;
      gc();
      if (i % 2) r = await once(normal, base, "text");
      else f = await once(raw, base, "text");
      gc();
      if (i % 2) f = await once(raw, base, "text");
      else r = await once(normal, base, "text");
      if (i >= 3) {
        times.push(r.first);
        floor.push(f.first);
      }
    }
    out.ttft = { times, floor };
  } catch (e) {
    out.ttft = { times, floor, error: String(e?.message ?? e).slice(0, 160) };
  }
}

process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
