// The proxy's per-request and per-chunk plumbing in plain JavaScript, imported by the
// proxy's wasm (src/web/proxy/mod.rs, a wasm-bindgen snippet). Each function does only what
// would otherwise cost a crossing or a promise per step from Rust: the decisions (what a
// chunk becomes, what an error means, what is logged) stay in the wasm, which each of
// these calls synchronously, once per step.

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
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return all;
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
