// The proxy's per-request and per-chunk plumbing in plain JavaScript, imported by the
// proxy's wasm (src/web/proxy/mod.rs, a wasm-bindgen snippet). Each function does only what
// would otherwise cost a crossing or a promise per step from Rust: the decisions (what a
// chunk becomes, what an error means, what is logged) stay in the wasm, which each of
// these calls synchronously, once per step. `serve` holds every await of a request: the
// proxy's Rust does not await.

import { joined, readAll } from "./wire.js";

/**
 * Read a request body of at most `limit` bytes within `ms` milliseconds. Resolves to the
 * bytes (a `Uint8Array`), or to `"large"` (over the limit), `"late"` (the deadline
 * passed) or `"bytes"` (the body yielded something other than bytes); rejects with the
 * read's error. On anything but success the body is cancelled.
 */
export async function readBody(body, limit, ms) {
  const reader = body.getReader();
  const LATE = {};
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, LATE);
  });
  const parts = [];
  let size = 0;
  const fail = (outcome) => {
    reader.cancel().catch(() => {});
    return outcome;
  };
  try {
    for (;;) {
      let step;
      try {
        step = await Promise.race([reader.read(), late]);
      } catch (err) {
        fail();
        throw err;
      }
      if (step === LATE) return fail("late");
      if (step.done) break;
      const bytes = step.value;
      if (!(bytes instanceof Uint8Array)) return fail("bytes");
      if (size + bytes.byteLength > limit) return fail("large");
      parts.push(bytes);
      size += bytes.byteLength;
    }
  } finally {
    clearTimeout(timer);
  }
  return joined(parts, size);
}

/**
 * The forwarded body: a pull stream (highWaterMark 0: nothing is read from the upstream
 * before the client asks) over the upstream `body`, each read handed to `relay` (the
 * wasm's `ProxyRelay`) in one synchronous call, which answers `true` (pass these very
 * bytes on), `undefined` (nothing to send yet) or the bytes to send. At the end the
 * relay's tail is sent and the stream closed; when the upstream breaks, the relay's tail
 * (for an event stream, its error event) is sent and the stream closed, or, for any other
 * body, errored with the relay's message. A client that leaves cancels the stream, and the
 * relay aborts the upstream call.
 */
export function relayBody(body, relay) {
  const reader = body.getReader();
  let over = false;
  const finish = () => {
    over = true;
    relay.free();
  };
  return new ReadableStream(
    {
      async pull(controller) {
        for (;;) {
          let step;
          try {
            step = await reader.read();
          } catch (err) {
            if (over) return;
            const tail = relay.fail(err);
            const message = relay.failMessage();
            finish();
            if (tail !== undefined) controller.enqueue(tail);
            if (message === undefined) controller.close();
            else controller.error(message);
            return;
          }
          if (over) return;
          if (step.done) {
            const tail = relay.end();
            finish();
            if (tail !== undefined) controller.enqueue(tail);
            controller.close();
            return;
          }
          const out = relay.chunk(step.value);
          if (out === true) return controller.enqueue(step.value);
          if (out !== undefined) return controller.enqueue(out);
        }
      },
      cancel() {
        if (over) return;
        relay.cancel();
        finish();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Drive one request (a wasm `Exchange`) to its response: every decision is the
 * exchange's, taken synchronously; this only awaits what it asks for (the shared
 * state's calls, WebCrypto, the request body, the upstream). Never rejects.
 */
export async function serve(x) {
  try {
    for (;;) {
      const step = x.step();
      if (step === 0) return x.response;
      if (step === 1) {
        const flat = [];
        for (const s of await Promise.allSettled(x.calls)) {
          const ok = s.status === "fulfilled";
          flat.push(ok, ok ? s.value : s.reason);
        }
        x.stored(flat);
      } else if (step === 2) {
        try {
          const { signature, key } = await hmac(x.secret, x.payload, x.hmacKey);
          x.signed(signature, key);
        } catch (e) {
          x.signFailed(e);
        }
      } else if (step === 3) {
        try {
          x.bodyRead(await readBody(x.requestBody, x.limit, x.deadlineMs), false);
        } catch (e) {
          x.bodyRead(e, true);
        }
      } else {
        let response;
        try {
          response = await x.wire.fetch;
        } catch (e) {
          x.upstreamFailed(e);
          continue;
        }
        const max = x.upstream(response);
        if (max > 0) {
          let bytes;
          try {
            bytes = await readAll(x, response.body, max);
          } catch {
            bytes = new Uint8Array(0); // the status still says what failed
          }
          x.upstreamError(bytes);
        }
      }
    }
  } catch (e) {
    return x.crashed(e);
  } finally {
    x.free();
  }
}

// HMAC-SHA-256 of `payload` with `secret` by WebCrypto; `key`: the key imported before.
async function hmac(secret, payload, key) {
  const subtle = globalThis.crypto.subtle;
  const utf8 = new TextEncoder();
  if (key === undefined) {
    key = await subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }
  const signature = new Uint8Array(await subtle.sign("HMAC", key, utf8.encode(payload)));
  return { signature, key };
}

/** `proxy.ledger()` with a shared state: await the store's answer, read by the wasm. */
export async function askLedger(p, reader) {
  let ok = true;
  let value;
  try {
    value = await p;
  } catch (e) {
    ok = false;
    value = e;
  }
  try {
    return reader.answer(ok, value);
  } finally {
    reader.free();
  }
}
