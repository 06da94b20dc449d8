// The benchmarks' loopback SSE server. Runs in its own process (so writing the body does not
// share a core with the client being measured), binds 127.0.0.1 only, and exits when its
// parent closes its stdin (or on SIGTERM), so it can never outlive the benchmark.
//
//   node benches/lib/stream-server.mjs      → prints `URL=http://127.0.0.1:<port>` when ready
//
// Routes are path prefixes; whatever a client appends (`/v1/chat/completions`,
// `/chat/completions`) is ignored, and every request body is read before answering.
//
//   /s/<text|tool>/bulk/…         the 10k-token text stream or the 1 MiB tool-call stream
//                                 (bodies.mjs), written in 16 KiB writes as fast as the
//                                 socket takes them
//   /s/<text|tool>/tinyserver/…   the same body in 4–16 byte writes, each its own write with
//                                 an event-loop turn between them (shows what arrives)
//   /mem/<MiB>/…                  a text stream of at least <MiB> MiB (memPlan in bodies.mjs)
//                                 generated on the fly, respecting backpressure (the memory
//                                 benchmark)
//   /ttft/<holdMs>/…              headers, the role chunk and the first content chunk in
//                                 one write at once; the rest <holdMs> later
//   /paced/<n>/<ms>/…             role chunk, then n content chunks <ms> apart, finish, [DONE]
//                                 (the proxy benchmark's upstream)
//   GET /__stats                  { requests, open } as JSON
//   anything else                 BENCH_DEFAULT_ROUTE (e.g. `paced/20/50`) when set, else 404

import http from "node:http";
import { textStream, toolStream, textEvents, memPlan, chunkEvent, DONE } from "./bodies.mjs";

const HOST = "127.0.0.1";
const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

const bodies = { text: textStream(), tool: toolStream() };

/** mulberry32, seeded: the same split every run. */
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

const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref?.());

let requests = 0;
let open = 0;

/** Write, awaiting `drain` when the socket buffer is full. False once the client is gone. */
function write(res, buf) {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(buf)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve(!res.destroyed);
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

// A route for paths that name none (`/v1/chat/completions` alone), so a client that only
// takes a base URL, like the proxy under test, can be pointed here: BENCH_DEFAULT_ROUTE=paced/20/50.
const DEFAULT_ROUTE = (process.env.BENCH_DEFAULT_ROUTE ?? "").split("/").filter(Boolean);
const ROUTES = new Set(["s", "mem", "ttft", "paced", "__stats"]);

async function handle(req, res) {
  let parts = (req.url ?? "/").split("?")[0].split("/").filter(Boolean);
  if (DEFAULT_ROUTE.length && !ROUTES.has(parts[0])) parts = [...DEFAULT_ROUTE, ...parts];
  for await (const _ of req); // the request body, discarded
  if (parts[0] === "__stats") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ requests, open }));
  }
  requests++;
  res.on("close", () => open--);
  open++;
  req.socket.setNoDelay(true);
  const head = () => {
    res.writeHead(200, { ...SSE, "x-request-id": `bench-${requests}` });
    res.flushHeaders();
  };

  if (parts[0] === "s" && bodies[parts[1]]) {
    const { body } = bodies[parts[1]];
    head();
    if (parts[2] === "tinyserver") {
      const rnd = prng(7);
      for (let at = 0; at < body.length; ) {
        const n = 4 + Math.floor(rnd() * 13);
        if (!(await write(res, body.subarray(at, at + n)))) return;
        at += n;
        await turn();
      }
    } else {
      for (let at = 0; at < body.length; at += 16384) {
        if (!(await write(res, body.subarray(at, at + 16384)))) return;
      }
    }
    return res.end();
  }

  if (parts[0] === "mem" && /^\d+$/.test(parts[1] ?? "")) {
    const { tokens } = memPlan(Number(parts[1]));
    const gen = textEvents();
    head();
    let batch = [gen.next()]; // the role chunk
    let size = batch[0].length;
    for (let i = 0; i < tokens; i++) {
      const ev = gen.next();
      batch.push(ev);
      size += ev.length;
      // ~64 KiB per write: the client, not this loop, must be the bottleneck.
      if (size >= 65536 || i === tokens - 1) {
        if (!(await write(res, Buffer.concat(batch, size)))) return;
        batch = [];
        size = 0;
      }
    }
    await write(res, gen.finish(tokens));
    return res.end();
  }

  if (parts[0] === "ttft" && /^\d+$/.test(parts[1] ?? "")) {
    const gen = textEvents();
    head();
    // Role chunk and first content chunk leave together, at once.
    if (!(await write(res, Buffer.concat([gen.next(), gen.next()])))) return;
    await sleep(Number(parts[1]));
    const rest = [];
    for (let i = 0; i < 20; i++) rest.push(gen.next());
    rest.push(gen.finish(21));
    await write(res, Buffer.concat(rest));
    return res.end();
  }

  if (parts[0] === "paced" && /^\d+$/.test(parts[1] ?? "") && /^\d+$/.test(parts[2] ?? "")) {
    const n = Number(parts[1]);
    const gap = Number(parts[2]);
    const gen = textEvents();
    head();
    if (!(await write(res, gen.next()))) return; // the role chunk
    for (let i = 0; i < n; i++) {
      if (i > 0) await sleep(gap);
      if (!(await write(res, gen.next()))) return;
    }
    await write(res, gen.finish(n));
    return res.end();
  }

  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { message: `no bench route for ${req.url}`, type: "bench" } }));
}

export async function startStreamServer({ port = 0 } = {}) {
  const sockets = new Set();
  // A long keep-alive: with the default 5 s, a client whose event loop is busy past its
  // idle-socket timer reuses a connection the server has just closed (UND_ERR_SOCKET; seen
  // twice in full runs with retries off). That race is not what the decode figures measure.
  const server = http.createServer({ keepAliveTimeout: 65_000, headersTimeout: 70_000, requestTimeout: 120_000 }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.maxConnections = 20_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (_e, s) => s.destroy());
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: HOST, backlog: 4096 }, resolve);
  });
  return {
    url: `http://${HOST}:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// Self-test bodies for callers: what a correct client assembles from each /s/ route.
export const EXPECTED = {
  text: { text: bodies.text.text, chunks: bodies.text.chunks, bytes: bodies.text.body.length, contentChunks: bodies.text.contentChunks },
  tool: { text: bodies.tool.text, chunks: bodies.tool.chunks, bytes: bodies.tool.body.length, contentChunks: bodies.tool.contentChunks },
};

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const s = await startStreamServer();
  const stop = () => s.close().then(() => process.exit(0));
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
  process.once("SIGTERM", stop);
  process.stdout.write(`URL=${s.url}\n`);
}

export { chunkEvent, DONE };
