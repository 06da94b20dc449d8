// The stream pump in plain JavaScript, imported by the client's wasm
// (src/web/client/chat_stream.rs, a wasm-bindgen snippet): every await of a stream —
// its response, each read of its body, the backoff sleep before a retry — is here, and
// every decision is the wasm's `StreamCore`, called synchronously once per step. Each
// read's bytes go to the core in one call (`feedInbox` from the inbox, or `feed`),
// which runs them through the decoder and the callbacks and answers with a number:
// read on, a batch (the read's chunks, `fedChunks()`, which `Chunks` makes objects for
// the iterator and `onChunk`; "" stands for them when nobody wants them), or the core's
// turn (the next step is not a plain read).

import { Nap, pass, readAll } from "./wire.js";

// What a pull wants of a read's chunks: nothing, objects (the iterator), SSE bytes.
const NONE = 0;
const OBJECTS = 1;
const SSE = 2;
// `StreamCore.step()`'s answers.
const END = 0;
const OPEN = 1; // and 2: read `reader()` plainly
const STEP_BATCH = 3;
// `failed()` / `readFailed()`: stop (the stream ended); else sleep that many ms (or,
// at -1, none) and send the next attempt.
const ENDED = -2;
// `feed()`'s answers besides "read on" (0).
const BATCH = 1;
const CORE_TURN = 2;
const EMPTY = new Uint8Array(0);

// The view on the inbox. It empties itself when the wasm memory grows (the old buffer
// is detached); it is then taken again, at the address the wasm gives.
let inbox = EMPTY;
let inboxSize = 4096;
const INBOX_MAX = 65536; // as in chat_stream.rs
// `Core` is the wasm's `StreamCore` class (this snippet cannot import the glue that
// imports it).
function openInbox(Core, len) {
  if (len > INBOX_MAX) return false;
  while (inboxSize < len) inboxSize *= 2;
  const at = Core.inbox(inboxSize);
  inbox = at === 0 ? EMPTY : new Uint8Array(Core.memory().buffer, at, inboxSize);
  return len <= inbox.length;
}

// The end callbacks, as `StreamCore` calls them once when the stream ends: kind 0 done,
// 1 aborted, 2 failed, 3 truncated. One that throws is reported like a throwing event
// listener (an unhandled rejection); the others still run.
export function announceEnd(kind, completion, error, finishReason, onFinish, onError, onAbort) {
  const call = (f, value) => {
    if (f === undefined) return;
    try {
      f(value);
    } catch (e) {
      Promise.reject(e);
    }
  };
  if (kind === 1) call(onAbort, completion);
  if (kind >= 2) call(onError, error);
  if (kind !== 2) {
    const usage = completion?.usage ?? undefined;
    call(onFinish, { completion, finishReason, usage, aborted: kind === 1, truncated: kind === 3 });
  }
}

// The promises of `text()` (0) and `finalCompletion()` (1), settled by the core once
// the stream ends. Apart from the pump: the core holds this, and nothing here holds the
// core (a cycle through the wasm's table of JavaScript values would never be collected).
export class Waiters {
  constructor() {
    this.list = [];
    this.texts = 0;
    this.completions = 0;
  }

  add(what) {
    return new Promise((resolve, reject) => {
      this.list.push(what, resolve, reject);
      if (what === 0) this.texts++;
      else this.completions++;
    });
  }

  // `failed`: reject with `value` (the error); else resolve with `value` (the
  // completion) or `text`.
  settle(failed, value, text) {
    const list = this.list;
    this.list = [];
    this.texts = 0;
    this.completions = 0;
    for (let i = 0; i < list.length; i += 3) {
      if (failed) list[i + 2](value);
      else list[i + 1](list[i] === 0 ? text : value);
    }
  }
}

// A JSON value as `JSON.parse` would give it again: each object's own keys in their
// order, `__proto__` as an own key (as `JSON.parse` makes it), not the prototype.
function copy(v) {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = copy(v[i]);
    return a;
  }
  const o = {};
  for (const k of Object.keys(v)) {
    if (k === "__proto__") Object.defineProperty(o, k, { value: copy(v[k]), writable: true, enumerable: true, configurable: true });
    else o[k] = copy(v[k]);
  }
  return o;
}

// A read's chunks (`fedChunks()`) made objects, for one consumer (the iterator, or
// `onChunk`): each keeps the last chunk. An entry ends at "\0" and is a chunk's JSON
// text; or "=", the chunk before it again; or "'" and a text, the chunk before it with
// the string at the last path changed to this text (a JSON string instead, for a text
// holding a NUL); or that path, a JSON array of keys and indices (decode::Output::chunks
// in the wasm). Most chunks of a stream are the one before
// with a new delta text: copying an object is about a third of `JSON.parse`'s time.
// Throws (a SyntaxError or TypeError) only if the core and this disagree.
export class Chunks {
  constructor() {
    // The last chunk: its text, and (once a change of it came) the object each change
    // is made to, never handed out.
    this.text = "";
    this.last = undefined;
    this.path = undefined;
  }

  read(raw) {
    const out = [];
    for (let at = 0; at < raw.length; ) {
      let end = raw.indexOf("\0", at);
      if (end < 0) end = raw.length;
      const c = raw.charCodeAt(at);
      if (c === 0x5b /* [ */) this.path = JSON.parse(raw.slice(at, end));
      else if (c === 0x27 /* ' */ || c === 0x22 /* " */ || c === 0x3d /* = */) {
        const last = (this.last ??= JSON.parse(this.text));
        if (c !== 0x3d) {
          const value = c === 0x27 ? raw.slice(at + 1, end) : JSON.parse(raw.slice(at, end));
          const path = this.path;
          const n = path.length - 1;
          let o = last;
          for (let i = 0; i < n; i++) o = o[path[i]];
          if (typeof o !== "object" || o === null || typeof o[path[n]] !== "string") throw new TypeError("a chunk's change does not fit the chunk before it");
          o[path[n]] = value;
        }
        out.push(copy(last));
      } else {
        const text = raw.slice(at, end);
        out.push(JSON.parse(text));
        this.text = text;
        this.last = undefined;
      }
      at = end + 1;
    }
    return out;
  }
}

// What the core's `failParse` quotes of a read the iterator could not make objects.
const quoted = (raw) => raw.replaceAll("\0", "\n");

export class Pump {
  constructor(core, onContent, onChunk, waiters) {
    this.core = core;
    this.waiters = waiters;
    this.onContent = onContent;
    this.onChunk = onChunk;
    // Every delta so far, kept only for an `onContent` that takes it (a V8 rope).
    this.snapshot = "";
    // Every operation runs after the one before it: `next()` called twice without
    // awaiting still yields the chunks in order.
    this.tail = Promise.resolve();
    this.queue = [];
    this.at = 0;
    this.busy = 0;
    this.iterating = false;
    // The iterator's chunks and onChunk's, each made objects from the core's batches.
    this.chunks = new Chunks();
    this.chunkObjects = onChunk === undefined ? undefined : new Chunks();
    // Callbacks given at creation: pump from a later task, so that a caller who starts
    // iterating right away keeps the stream.
    if (core.drivesItself) queueMicrotask(() => this.drive());
  }

  // A promise of the text (0) or the completion (1); it does not start the pump.
  wait(what) {
    const done = this.waiters.add(what);
    if (this.core.over) this.core.settleWaiters();
    return done;
  }

  // Run `op` after every operation queued before it.
  serial(op) {
    this.busy++;
    const run = this.tail.then(op);
    this.tail = run.then(
      () => void this.busy--,
      () => void this.busy--,
    );
    return run;
  }

  // The async iterator's step: chunk objects are parsed here, once, and only because
  // the caller iterates.
  next() {
    // Once the iterator holds the stream it always will: ask the core only the first time.
    if (!this.iterating) {
      try {
        this.core.claimIterator();
      } catch (e) {
        return Promise.reject(e);
      }
      this.iterating = true;
    }
    if (this.busy === 0 && this.at < this.queue.length && this.core.live()) {
      return Promise.resolve({ done: false, value: this.queue[this.at++] });
    }
    return this.serial(() => this.nextChunk());
  }

  async nextChunk() {
    const core = this.core;
    // Once aborted (the signal, a timeout, `abort()`), nothing more goes out, even
    // chunks already decoded.
    if (this.at < this.queue.length && !core.live()) this.queue = [];
    while (this.at >= this.queue.length) {
      const raw = await this.pull(OBJECTS);
      if (raw === undefined) return { done: true, value: undefined };
      // The core scanned every chunk (stricter than JSON.parse), so this cannot throw
      // unless the two disagree; then the stream fails with a parse error.
      let queue;
      try {
        queue = this.chunks.read(raw);
      } catch {
        throw core.failParse(quoted(raw));
      }
      this.queue = queue;
      this.at = 0;
    }
    return { done: false, value: this.queue[this.at++] };
  }

  // The driver: callbacks, `text()`, `finalCompletion()`. Its outcome reaches the
  // callbacks and the waiters through the core, not through this loop.
  drive() {
    if (!this.core.claimDriver()) return;
    this.serial(async () => {
      try {
        while ((await this.pull(NONE)) !== undefined);
      } catch {
        // Reported by the stream itself (onError, the waiters).
      }
    });
  }

  // Resolves once the response announced a stream; rejects otherwise.
  ready() {
    return this.serial(async () => {
      await this.open();
      this.core.readyResult();
    });
  }

  // The next piece of the stream as SSE bytes, undefined after the last.
  nextSse() {
    try {
      this.core.claimIterator();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.serial(async () => {
      const chunks = await this.pull(SSE, true);
      return chunks === undefined ? this.core.sseEnd() : this.core.sseOf(chunks);
    });
  }

  // The next read's chunks; at the end undefined, or (once, unless `quiet`) the
  // failure thrown. Anything else thrown on the way (a bug) fails the stream, so that
  // no waiter is left waiting.
  async pull(want, quiet = false) {
    try {
      return await this.pullOnce(want, quiet);
    } catch (e) {
      if (this.core.live()) {
        this.core.crashed(e);
        return quiet ? undefined : this.core.endValue();
      }
      throw e;
    }
  }

  async pullOnce(want, quiet) {
    const core = this.core;
    const wantChunks = want !== NONE;
    for (;;) {
      const step = core.step(want);
      if (step === STEP_BATCH) {
        const raw = wantChunks || this.onChunk !== undefined ? core.fedChunks() : "";
        if (!this.deliver(raw)) continue;
        return raw;
      }
      if (step === END) return quiet ? undefined : core.endValue();
      if (step === OPEN) {
        await this.open();
        continue;
      }
      // READ: plain reads, each fed to the core in one call.
      const reader = core.reader();
      for (;;) {
        let read;
        try {
          read = await reader.read();
        } catch (e) {
          await this.retry(core.readFailed(e));
          break;
        }
        let fed;
        if (read.done) fed = core.feed(EMPTY, true, want);
        else {
          const bytes = read.value;
          if (!(bytes instanceof Uint8Array)) {
            await this.retry(core.readFailed(new TypeError(`the response body yielded ${typeof bytes}, not bytes`)));
            break;
          }
          // A read of up to 64 KiB is copied into the inbox, one buffer in wasm memory
          // (no allocation per read); a bigger one goes as bytes.
          fed =
            bytes.length <= inbox.length || openInbox(core.constructor, bytes.length)
              ? (inbox.set(bytes), core.feedInbox(bytes.length, want))
              : core.feed(bytes, false, want);
        }
        if (fed === BATCH) {
          const raw = wantChunks || this.onChunk !== undefined ? core.fedChunks() : "";
          if (!this.deliver(raw)) break;
          return raw;
        }
        if (fed === CORE_TURN) break; // the core has the next step
      }
    }
  }

  // The callbacks' turn with the read the core just decoded (before the consumer's;
  // `raw`: its chunks, as `fedChunks()` gives them): false when one of them threw or
  // ended the stream (the core has the next step).
  deliver(raw) {
    const { core, onContent, onChunk } = this;
    if (onContent !== undefined) {
      const text = core.fedText();
      if (text !== "") {
        const snapshot = onContent.length >= 2 ? (this.snapshot += text) : undefined;
        try {
          onContent(text, snapshot);
        } catch (e) {
          core.thrown(e);
          return false;
        }
        if (core.over) return false;
      }
    }
    if (onChunk !== undefined) {
      let chunks;
      try {
        chunks = this.chunkObjects.read(raw);
      } catch {
        core.failParse(quoted(raw));
        return false;
      }
      for (const chunk of chunks) {
        try {
          onChunk(chunk);
        } catch (e) {
          core.thrown(e);
          return false;
        }
        if (core.over) return false;
      }
    }
    return true;
  }

  // Wait for the response of the attempt in flight, retrying failed attempts as the
  // core decides, until the stream is open or has ended.
  async open() {
    const core = this.core;
    const gate = core.gate();
    if (gate !== undefined) {
      await pass(gate);
      gate.free();
      core.passed();
    }
    for (;;) {
      // null: nothing to open (the stream is open or has ended); undefined: the attempt
      // could not be sent (the core knows why).
      const wire = core.wire();
      if (wire === null) return;
      if (wire !== undefined) {
        let response;
        let came = false;
        try {
          response = await wire.fetch;
          came = true;
        } catch (e) {
          core.rejected(e, true);
        }
        if (came) {
          const max = core.response(response);
          if (max === 0) return;
          if (max > 0) {
            try {
              core.errorBody(await readAll(core, response.body, max));
            } catch (e) {
              core.errorBodyFailed(e);
            }
          }
        }
      }
      if (!(await this.retry(core.failed()))) return;
    }
  }

  // Act on the core's answer to a failure: false when the stream ended, else after the
  // backoff sleep (cut short by the signal or `abort()`) the next attempt is sent.
  async retry(wait) {
    const core = this.core;
    if (wait === ENDED) return false;
    if (wait >= 0) {
      const nap = new Nap(wait, core.signal);
      core.sleeping(nap.wake);
      await nap.promise;
      nap.cancel();
    }
    return core.nextAttempt();
  }
}
