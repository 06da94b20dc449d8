//! The exported `ChatStream`: one streamed chat completion.
//!
//! Owns: the stream's state as a synchronous machine (`StreamCore`) that `js/pump.js`
//! drives: each read's bytes go through the core's [`StreamDecoder`] in one call (the
//! read's joined text, its chunks' raw data when someone wants chunk objects, and the
//! events that end the stream); each response, failure and backoff gets the core's
//! decision (`crate::plan`) synchronously; the stream ends exactly once with one
//! outcome, which reaches the waiters (`text()`, `finalCompletion()`) and, through
//! `js/pump.js`'s `announceEnd`, the end callbacks. Every await (the response, the
//! reads, the sleep) and every call of `onContent`/`onChunk` is `js/pump.js`'s, on what
//! the core hands over (`fedText`, `fedChunks`). Must never:
//! await, decide what bytes mean (the core does), build a chunk object or the final
//! completion object nobody asked for (the completion is made on first need), buffer the body ahead of the consumer, or call back into JavaScript while
//! holding a borrow of its state (a callback may call `abort()`).
//!
//! Consumption: the first of these claims the stream: iterating it (`next()`), or
//! `finalCompletion()`/`text()`/`toReadableStream()`, or the callbacks given at creation
//! (which start pumping in a later task unless iteration began first). Callbacks fire
//! whoever pumps. The pump serializes its steps, so `next()` called twice without
//! awaiting still yields chunks in order.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ReadableStreamDefaultReader, Response};

use super::call::{announce, decide, replay_fetch, route_of, set_route, RequestSpec};
use super::gate::Gate;
use crate::attempt::{unparsable, Answer};
use crate::decode::{DecodeOptions, StreamDecoder, StreamEvent};
use crate::error::{Error, ErrorKind};
use crate::plan::{Next, Plan};
use crate::relay;
use crate::response::Disposition;
use crate::retry::ResponseHints;
use crate::web::error::{attach_attempts, set, to_js};
use crate::web::transport::{self, Call, Cause};

#[wasm_bindgen(module = "/js/pump.js")]
extern "C" {
    /// `js/pump.js`'s `Pump`: the awaits of one stream, driving its `StreamCore`.
    #[derive(Clone)]
    type Pump;
    #[wasm_bindgen(constructor)]
    fn new(core: StreamCore, on_content: JsValue, on_chunk: JsValue, waiters: &Waiters) -> Pump;
    /// A promise of the text (`0`) or the completion (`1`), settled when the stream ends.
    #[wasm_bindgen(method)]
    fn wait(this: &Pump, what: u32) -> Promise;
    /// `js/pump.js`'s `Waiters`: the promises of `text()` and `finalCompletion()`.
    #[derive(Clone)]
    type Waiters;
    #[wasm_bindgen(constructor)]
    fn new() -> Waiters;
    /// How many of them wait for the text.
    #[wasm_bindgen(method, getter)]
    fn texts(this: &Waiters) -> u32;
    /// How many of them wait for the completion.
    #[wasm_bindgen(method, getter)]
    fn completions(this: &Waiters) -> u32;
    #[wasm_bindgen(method)]
    fn settle(this: &Waiters, failed: bool, value: &JsValue, text: &JsValue);
    #[wasm_bindgen(method)]
    fn next(this: &Pump) -> Promise;
    #[wasm_bindgen(method)]
    fn drive(this: &Pump);
    #[wasm_bindgen(method)]
    fn ready(this: &Pump) -> Promise;
    #[wasm_bindgen(method, js_name = nextSse)]
    fn next_sse(this: &Pump) -> Promise;
    /// The end callbacks, called once as the stream ends (`kind`: see [`finish`]).
    #[wasm_bindgen(js_name = announceEnd)]
    fn announce_end(
        kind: u32,
        completion: &JsValue,
        error: &JsValue,
        finish_reason: &JsValue,
        on_finish: &JsValue,
        on_error: &JsValue,
        on_abort: &JsValue,
    );
}

/// `StreamCore::step`'s answers.
const END: u32 = 0;
const OPEN: u32 = 1;
const READ: u32 = 2;
const BATCH: u32 = 3;
/// What [`StreamCore::feed`] answers: read on (the read completed no chunk), a batch
/// ([`StreamCore::fed_chunks`]), or the next step is `step()`'s.
const FED_READ_ON: u32 = 0;
const FED_BATCH: u32 = 1;
const FED_CORE_TURN: u32 = 2;

/// The largest inbox: a bigger read goes through `feed` (its copy costs more than the
/// allocation then).
const INBOX_MAX: usize = 64 * 1024;

thread_local! {
    /// The inbox: one buffer in wasm memory that `js/pump.js` copies each read into
    /// (through a `Uint8Array` on wasm memory at [`StreamCore::inbox`]'s address) and
    /// hands over with `feedInbox`, so that a read costs no allocation. One for every
    /// stream: each read is decoded by the call that hands it over, before any callback
    /// runs. It only grows, in [`StreamCore::inbox`], so the address stays valid until
    /// the next `inbox` call.
    static INBOX: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `failed()`'s answers besides a sleep of that many milliseconds.
const GO_NOW: f64 = -1.0;
const ENDED: f64 = -2.0;

/// A streamed chat completion. Async-iterable over chunks; see the module docs.
#[wasm_bindgen]
#[must_use = "a stream does nothing for the caller until it is iterated or awaited"]
pub struct ChatStream {
    inner: Rc<RefCell<Inner>>,
    pump: Pump,
}

/// The stream's state, as `js/pump.js` sees it: one synchronous call per step. Internal;
/// not constructible from JavaScript.
#[wasm_bindgen]
pub struct StreamCore {
    inner: Rc<RefCell<Inner>>,
}

pub(crate) struct Callbacks {
    pub on_content: Option<Function>,
    pub on_chunk: Option<Function>,
    pub on_finish: Option<Function>,
    pub on_error: Option<Function>,
    pub on_abort: Option<Function>,
}

impl Callbacks {
    fn any(&self) -> bool {
        self.on_content.is_some()
            || self.on_chunk.is_some()
            || self.on_finish.is_some()
            || self.on_error.is_some()
            || self.on_abort.is_some()
    }
}

enum Body {
    /// Waiting for the response headers.
    Pending,
    /// Reading the event stream.
    Reading(ReadableStreamDefaultReader),
    /// The body is read to its end, or was never going to be.
    Gone,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unclaimed,
    Iterator,
    Driver,
}

#[derive(Clone)]
enum Outcome {
    Done,
    Aborted,
    /// `error` is the `InferenceError` made from `core` (kept for re-encoding as an SSE
    /// error event); `truncated` when the stream just stopped.
    Failed {
        error: JsValue,
        core: Box<Error>,
        truncated: bool,
    },
    /// A caller's callback threw this; it comes back out as itself.
    Thrown(JsValue),
}

/// What one read decoded, not yet handed to the caller.
struct Batch {
    /// Choice 0's content deltas of the read, joined.
    text: String,
    /// Each chunk's raw data followed by `'\0'` (only when chunk objects are wanted).
    chunks: String,
}

/// How the stream ends once the batch before it is out.
enum Terminal {
    /// `[DONE]`, TGI's last event, or the end of a body whose answer was complete.
    Done,
    /// The body just stopped.
    Truncated,
    Failed(Error),
}

struct Inner {
    /// The attempt in flight; `None` when sending it failed (`failure` says why), or
    /// while the gate is not passed.
    call: Option<Call>,
    /// What the call passes before its first attempt is sent (the cache, the budget,
    /// the rate limit, a direct provider's model id), until the pump passed it.
    gate: Option<Gate>,
    /// The failed attempt to act on (`failed()`), with the JS value that caused it.
    failure: Option<(Error, Option<JsValue>, ResponseHints)>,
    /// The current attempt's response, once its headers came.
    answer: Option<Answer>,
    /// The request, to send again on a retry or to a fallback target.
    spec: Rc<RequestSpec>,
    plan: Plan,
    /// A chunk reached the caller: from now on nothing is retried.
    delivered: bool,
    /// Ends the backoff sleep in progress, if any (`abort()` calls it).
    wake: Option<Function>,
    token: Option<String>,
    body: Body,
    /// The core: SSE, one scan per event, the answer so far.
    dec: StreamDecoder,
    /// The last read's output, waiting for the consumer.
    batch: Option<Batch>,
    /// How the stream ends, found by the last read; applied once `batch` is out.
    terminal: Option<Terminal>,
    cb: Callbacks,
    mode: Mode,
    outcome: Option<Outcome>,
    /// The iterator has thrown the failure once; after that it reports `done`.
    failure_reported: bool,
    waiters: Waiters,
    /// The completion as a JavaScript object, made on first need ([`completion`]): an
    /// error's partial at once, else only for `onFinish`/`onAbort`/`onError` or a
    /// `finalCompletion()` (the snapshot of a long answer is JSON written and parsed).
    final_completion: Option<JsValue>,
    /// `[DONE]` was sent by `nextSse`.
    sse_closed: bool,
    /// The chunks of the last read `feed` decoded, until `fedChunks` takes them.
    fed: String,
    /// Choice 0's text of that read, until `fedText` takes it.
    fed_text: String,
    request_id: Option<String>,
    provider: Option<String>,
    /// The `ChatStream` was freed (or collected): nothing reads the answer any more, so
    /// it goes once the stream has ended ([`release`]).
    freed: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A stream dropped unconsumed (or garbage-collected) cancels its request.
        if self.outcome.is_none() {
            if let Some(call) = &self.call {
                call.abort();
            }
        }
        if let Body::Reading(reader) = &self.body {
            transport::cancel(reader);
        }
    }
}

impl Drop for ChatStream {
    /// `free()`, or the collector: the caller holds the stream no more, so the answer it
    /// keeps (the text, the last read's chunks, the completion) goes now, not when the
    /// pump's `StreamCore` (which `js/pump.js` holds) is collected too; wasm memory
    /// never shrinks, and a loop of freed 1 MiB streams grew it 1 MiB a stream. A stream
    /// still running is aborted first, as a collected one would be, unless its callbacks,
    /// `text()` or `finalCompletion()` drive it: then it goes when the stream ends.
    fn drop(&mut self) {
        let running = match self.inner.try_borrow() {
            // Callbacks given at creation drive it from a microtask, unless iterated.
            Ok(inner) => {
                let driven = match inner.mode {
                    Mode::Driver => true,
                    Mode::Unclaimed => inner.cb.any(),
                    Mode::Iterator => false,
                };
                inner.outcome.is_none() && !driven
            }
            Err(_) => return,
        };
        if running {
            finish(&self.inner, Outcome::Aborted);
        }
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.freed = true;
            if inner.outcome.is_some() {
                release(&mut inner);
            }
        }
    }
}

/// Drop what only a reader of the stream needs, once it has ended and its `ChatStream` is
/// gone: the decoder and its answer (a fresh, empty one stays), the last read, the
/// completion.
fn release(inner: &mut Inner) {
    let options = inner.dec.options();
    inner.dec = StreamDecoder::new(inner.spec.protocol, options);
    inner.batch = None;
    inner.fed = String::new();
    inner.fed_text = String::new();
    inner.final_completion = None;
}

impl ChatStream {
    /// Start a stream. With a `gate`, `spec` is provisional (its route may not be known
    /// yet): the first attempt is sent once the pump passed the gate; a failure there
    /// ends the stream with that error, never retried.
    pub(crate) fn start(
        spec: Rc<RequestSpec>,
        gate: Option<Gate>,
        token: Option<String>,
        options: DecodeOptions,
        cb: Callbacks,
    ) -> ChatStream {
        let plan = Plan::new(spec.retry, spec.target_count(), js_sys::Date::now());
        let waiters = Waiters::new();
        // Sent now: the stream is lazy to consume, not to start.
        let (call, failure) = match gate {
            Some(_) => (None, None),
            None => match spec.start(0) {
                Ok(call) => (Some(call), None),
                Err(e) => (None, Some((e, None, ResponseHints::default()))),
            },
        };
        let protocol = spec.protocol;
        let inner = Rc::new(RefCell::new(Inner {
            call,
            gate,
            failure,
            answer: None,
            spec,
            plan,
            delivered: false,
            wake: None,
            token,
            body: Body::Pending,
            dec: StreamDecoder::new(protocol, options),
            batch: None,
            terminal: None,
            cb,
            mode: Mode::Unclaimed,
            outcome: None,
            failure_reported: false,
            waiters: waiters.clone(),
            final_completion: None,
            sse_closed: false,
            fed: String::new(),
            fed_text: String::new(),
            request_id: None,
            provider: None,
            freed: false,
        }));
        let (on_content, on_chunk) = {
            let cb = &inner.borrow().cb;
            (
                js_or_undefined(&cb.on_content),
                js_or_undefined(&cb.on_chunk),
            )
        };
        let pump = Pump::new(
            StreamCore {
                inner: inner.clone(),
            },
            on_content,
            on_chunk,
            &waiters,
        );
        ChatStream { inner, pump }
    }
}

#[wasm_bindgen]
impl ChatStream {
    /// The async-iterator step: `{ done, value }` with the next chunk.
    pub fn next(&self) -> Promise {
        self.pump.next()
    }

    /// The async-iterator exit (`break`, `return`, a thrown loop body): cancels the
    /// request and keeps what arrived.
    #[wasm_bindgen(js_name = "return")]
    pub fn return_(&self) -> Promise {
        self.abort();
        Promise::resolve(&step(true, &JsValue::UNDEFINED))
    }

    /// Stop now. The partial completion stays available; `onAbort` and `onFinish` fire.
    pub fn abort(&self) {
        finish(&self.inner, Outcome::Aborted);
    }

    /// Which target is answering: `{ index, model, upstream }` (index 0 is the primary,
    /// then the fallbacks in order).
    #[wasm_bindgen(getter)]
    pub fn route(&self) -> JsValue {
        let inner = self.inner.borrow();
        route_of(&inner.spec, inner.plan.current())
    }

    /// Whether the stream has ended (done, aborted or failed).
    #[wasm_bindgen(getter)]
    pub fn ended(&self) -> bool {
        self.inner.borrow().outcome.is_some()
    }

    /// The whole completion; partial if the stream was aborted. Rejects if it failed.
    #[wasm_bindgen(js_name = finalCompletion)]
    pub fn final_completion(&self) -> Promise {
        self.wait(1)
    }

    /// The text of choice 0; partial if the stream was aborted. Rejects if it failed.
    pub fn text(&self) -> Promise {
        self.wait(0)
    }

    /// The wasm module's memory (the tests watch it grow). Internal.
    #[wasm_bindgen(js_name = _memory)]
    pub fn memory() -> JsValue {
        wasm_bindgen::memory()
    }

    /// Resolves once the response headers arrived and announce a stream; rejects with
    /// the HTTP (or network, timeout) error otherwise. Consumes nothing.
    pub fn ready(&self) -> Promise {
        self.pump.ready()
    }

    /// The next piece of the stream re-encoded as SSE bytes (`undefined` at the end),
    /// for `toReadableStream()`. A failure becomes a final `event: error`.
    #[wasm_bindgen(js_name = nextSse)]
    pub fn next_sse(&self) -> Promise {
        self.pump.next_sse()
    }
}

impl StreamCore {
    /// Run one read's `bytes` (`None`: the body ended) through the core; false when the
    /// stream no longer reads (the next step is `step()`'s).
    fn absorb_read(&self, bytes: Option<&[u8]>, want: u32) -> bool {
        let mut guard = self.inner.borrow_mut();
        let inner = &mut *guard;
        if inner.outcome.is_some() || !matches!(inner.body, Body::Reading(_)) {
            return false;
        }
        keep_chunks(inner, want);
        if bytes.is_none() {
            inner.body = Body::Gone;
        } else if let Some(call) = &inner.call {
            call.activity();
        }
        absorb(inner, bytes);
        true
    }

    /// Hand what the read just absorbed made to the pump; what `feed` answers.
    fn hand_read(&self) -> u32 {
        let batch = self.inner.borrow_mut().batch.take();
        match batch {
            Some(batch) => {
                hand_over(&self.inner, batch);
                FED_BATCH
            }
            None if self.inner.borrow().terminal.is_some() => FED_CORE_TURN,
            None => FED_READ_ON,
        }
    }
}

#[wasm_bindgen]
impl ChatStream {
    /// The stream's pump, for `api.js`, which calls it directly: a JavaScript caller's
    /// call then never has a wasm frame between it and the pump's JavaScript (see
    /// `StreamCore::step`). Internal.
    #[wasm_bindgen(getter, js_name = _pump)]
    pub fn pump(&self) -> JsValue {
        self.pump.clone().into()
    }
}

impl ChatStream {
    fn wait(&self, what: u32) -> Promise {
        let promise = self.pump.wait(what);
        if self.inner.borrow().outcome.is_none() {
            self.pump.drive();
        }
        promise
    }
}

#[wasm_bindgen]
impl StreamCore {
    /// The next step of a pull, taken synchronously: `BATCH` (the read's chunks are
    /// `fedChunks()`), `READ` (read `reader()` plainly), `OPEN` (await the response of
    /// the attempt in flight: `open`), or `END` (then `endValue()`). A number: V8 (Node
    /// 20) crashes when it deoptimizes a JavaScript caller that inlined a wasm call with
    /// a reference result while the call runs JavaScript (a callback, the timer's end).
    pub fn step(&self, want: u32) -> u32 {
        let rc = &self.inner;
        loop {
            if rc.borrow().outcome.is_some() {
                return END;
            }
            // Aborted by the caller's signal or a timeout: nothing more goes out, even
            // what was already decoded.
            let aborted = rc.borrow().call.as_ref().and_then(Call::aborted);
            match aborted {
                Some(Cause::User) => {
                    finish(rc, Outcome::Aborted);
                    return END;
                }
                Some(Cause::Timeout(kind, ms)) => {
                    fail(rc, Error::timeout(kind, ms), None, false);
                    return END;
                }
                None => {}
            }
            // A decoded read waiting.
            let batch = rc.borrow_mut().batch.take();
            if let Some(batch) = batch {
                hand_over(rc, batch);
                return BATCH;
            }
            // How the stream ends, now that what came before it is out.
            let terminal = rc.borrow_mut().terminal.take();
            if let Some(t) = terminal {
                end_with(rc, t);
                return END;
            }
            let mut inner = rc.borrow_mut();
            keep_chunks(&mut inner, want);
            match &inner.body {
                Body::Reading(_) => return READ,
                Body::Pending => return OPEN,
                // A body that is gone has ended.
                Body::Gone => absorb(&mut inner, None),
            }
        }
    }

    /// The body's reader, once `step()` said `READ`.
    pub fn reader(&self) -> JsValue {
        match &self.inner.borrow().body {
            Body::Reading(r) => r.clone().into(),
            _ => JsValue::UNDEFINED,
        }
    }

    /// One plain read's result: `bytes` (with `done`, the end of the body) go through
    /// the core in one call, then the callbacks see what they made. Answers
    /// [`FED_READ_ON`] when this read completed no chunk and the next step is another
    /// plain read of the same reader, [`FED_BATCH`] when it completed some (their data,
    /// each one's JSON text followed by `"\0"`, is [`Self::fed_chunks`]), or
    /// [`FED_CORE_TURN`] when the next step is `step()`'s. A number, not a value: this
    /// runs once per read.
    pub fn feed(&self, bytes: &[u8], done: bool, want: u32) -> u32 {
        if self.absorb_read(Some(bytes).filter(|_| !done), want) {
            self.hand_read()
        } else {
            FED_CORE_TURN
        }
    }

    /// [`Self::feed`] for a read `js/pump.js` copied into the inbox (see
    /// [`Self::inbox`]): its first `len` bytes, never the end of the body. Spares the read
    /// a trip through the allocator.
    #[wasm_bindgen(js_name = feedInbox)]
    pub fn feed_inbox(&self, len: usize, want: u32) -> u32 {
        // Decoded before any callback runs (one inbox serves every stream).
        let absorbed = INBOX.with_borrow(|inbox| match inbox.get(..len) {
            Some(bytes) => self.absorb_read(Some(bytes), want),
            // Not what `inbox` handed out: nothing arrived that can be decoded.
            None => false,
        });
        if absorbed {
            self.hand_read()
        } else {
            FED_CORE_TURN
        }
    }

    /// The inbox's address in wasm memory, once it holds at least `len` bytes (at most
    /// 64 KiB); 0 when `len` is bigger than that.
    pub fn inbox(len: usize) -> usize {
        if len > INBOX_MAX {
            return 0;
        }
        INBOX.with_borrow_mut(|inbox| {
            if inbox.len() < len {
                *inbox = vec![0; len];
            }
            inbox.as_ptr() as usize
        })
    }

    /// The wasm module's memory, for the pump's view on the inbox.
    pub fn memory() -> JsValue {
        wasm_bindgen::memory()
    }

    /// The chunks of the last read [`Self::feed`] answered [`FED_BATCH`] for, once: each
    /// one's JSON text followed by `"\0"` (a JSON text has no raw NUL). Taken, not
    /// copied: a buffer kept from read to read made the wasm memory of a long iterated
    /// stream grow half as fast again as its text (`benches/memory.mjs`).
    #[wasm_bindgen(js_name = fedChunks)]
    pub fn fed_chunks(&self) -> String {
        std::mem::take(&mut self.inner.borrow_mut().fed)
    }

    /// Choice 0's text of the last read [`Self::feed`] answered [`FED_BATCH`] for, once
    /// (for `onContent`).
    #[wasm_bindgen(js_name = fedText)]
    pub fn fed_text(&self) -> String {
        std::mem::take(&mut self.inner.borrow_mut().fed_text)
    }

    /// A callback threw `error`: the stream ends with it, and it comes back out as
    /// itself (from the iterator, `text()`, `finalCompletion()`).
    pub fn thrown(&self, error: JsValue) {
        finish(&self.inner, Outcome::Thrown(error));
    }

    /// Settle the waiters now: the stream has ended (`js/pump.js`'s `wait` asks).
    #[wasm_bindgen(js_name = settleWaiters)]
    pub fn settle_waiters(&self) {
        settle_waiters(&self.inner);
    }

    /// Whether the stream has ended (a callback may have ended it).
    #[wasm_bindgen(getter)]
    pub fn over(&self) -> bool {
        self.inner.borrow().outcome.is_some()
    }

    /// Something threw in the pump (a bug): the stream fails with it, so that no
    /// waiter is left waiting. Nothing happens if the stream already ended.
    pub fn crashed(&self, error: JsValue) {
        if self.inner.borrow().outcome.is_some() {
            return;
        }
        let e = Error::network(&format!(
            "the stream's read loop failed: {}",
            crate::web::error::describe(&error)
        ));
        fail(&self.inner, e, Some(error), false);
    }

    /// Whether chunks already decoded may still go out: false once the stream ended or
    /// its request was aborted.
    pub fn live(&self) -> bool {
        let inner = self.inner.borrow();
        inner.outcome.is_none() && inner.call.as_ref().and_then(Call::aborted).is_none()
    }

    /// Whether callbacks were given at creation: the pump then drives the stream from a
    /// microtask, unless iteration claimed it first.
    #[wasm_bindgen(getter, js_name = drivesItself)]
    pub fn drives_itself(&self) -> bool {
        self.inner.borrow().cb.any()
    }

    /// Claim the stream for the driver (callbacks, `text()`, `finalCompletion()`): true
    /// only for the claim that takes it.
    #[wasm_bindgen(js_name = claimDriver)]
    pub fn claim_driver(&self) -> bool {
        claim_new(&self.inner, Mode::Driver)
    }

    /// Take the stream for the iterator (or `toReadableStream()`); throws if something
    /// else consumes it.
    #[wasm_bindgen(js_name = claimIterator)]
    pub fn claim_iterator(&self) -> Result<(), JsValue> {
        if claim(&self.inner, Mode::Iterator) {
            Ok(())
        } else {
            Err(already_consumed())
        }
    }

    /// The iterator's `JSON.parse` rejected a chunk the core accepted: fail the stream
    /// with a parse error quoting it, and return that error.
    #[wasm_bindgen(js_name = failParse)]
    pub fn fail_parse(&self, data: &str) -> JsValue {
        fail(&self.inner, unparsable(data), None, false);
        failure_of(&self.inner).unwrap_or(JsValue::UNDEFINED)
    }

    /// What a pull that found the end yields: `undefined`, or throws the failure (once).
    #[wasm_bindgen(js_name = endValue)]
    pub fn end_value(&self) -> Result<JsValue, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let failure = match &inner.outcome {
            Some(Outcome::Failed { error, .. }) | Some(Outcome::Thrown(error))
                if !inner.failure_reported =>
            {
                Some(error.clone())
            }
            _ => None,
        };
        match failure {
            Some(e) => {
                inner.failure_reported = true;
                Err(e)
            }
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// A read's chunks as SSE bytes.
    #[wasm_bindgen(js_name = sseOf)]
    pub fn sse_of(&self, chunks: &str) -> Uint8Array {
        let mut out = String::new();
        // `chunks.split_terminator('\0')`, split byte-wise (crate::error::split says why).
        if !chunks.is_empty() {
            let chunks = chunks.strip_suffix('\0').unwrap_or(chunks);
            for data in crate::error::split(chunks, 0) {
                relay::encode_data(data, &mut out);
            }
        }
        Uint8Array::from(out.as_bytes())
    }

    /// The SSE bytes of the end (`[DONE]`, or the failure as an `error` event), once;
    /// `undefined` after. Throws what a callback threw.
    #[wasm_bindgen(js_name = sseEnd)]
    pub fn sse_end(&self) -> Result<JsValue, JsValue> {
        let mut inner = self.inner.borrow_mut();
        if inner.sse_closed {
            return Ok(JsValue::UNDEFINED);
        }
        inner.sse_closed = true;
        let out = match inner.outcome.clone() {
            Some(Outcome::Failed { core, .. }) => relay::encode_error(&core),
            Some(Outcome::Thrown(e)) => return Err(e),
            _ => relay::DONE.to_owned(),
        };
        Ok(Uint8Array::from(out.as_bytes()).into())
    }

    /// After `open`: throws unless the response announced a stream.
    #[wasm_bindgen(js_name = readyResult)]
    pub fn ready_result(&self) -> Result<(), JsValue> {
        if self.inner.borrow().outcome.is_some() {
            return Err(failure_of(&self.inner).unwrap_or(JsValue::UNDEFINED));
        }
        Ok(())
    }

    /// What the call passes before its first attempt (once): `pass` it, then
    /// `passed()`.
    pub fn gate(&self) -> Option<Gate> {
        self.inner.borrow().gate.as_ref().map(Gate::share)
    }

    /// The gate is passed: the stream fails with its error, or its first attempt is sent
    /// (a cached answer replays as a stream through the same pump).
    pub fn passed(&self) {
        let rc = &self.inner;
        let Some(gate) = rc.borrow_mut().gate.take() else {
            return;
        };
        if rc.borrow().outcome.is_some() {
            return;
        }
        let (mut spec, error, hit) = {
            let s = gate.state();
            (s.spec.clone(), s.error.clone(), s.hit.clone())
        };
        if let Some(e) = error {
            fail(rc, e, None, false);
            return;
        }
        if let Some(hit) = hit {
            match relay::completion_as_stream(&hit) {
                Some(sse) => spec.fetch = Some(replay_fetch(sse)),
                None => {
                    let e = Error::new(ErrorKind::Parse, "a cached answer could not be replayed");
                    fail(rc, e, None, false);
                    return;
                }
            }
        }
        let started = spec.start(0);
        let mut inner = rc.borrow_mut();
        inner.spec = Rc::new(spec);
        match started {
            Ok(call) => inner.call = Some(call),
            Err(e) => inner.failure = Some((e, None, ResponseHints::default())),
        }
    }

    /// The attempt in flight, to await its `fetch`; `undefined` when it could not be
    /// sent (then `failed()`); `null` when there is nothing to open (the stream is
    /// open, or ended).
    pub fn wire(&self) -> JsValue {
        let inner = self.inner.borrow();
        if inner.outcome.is_some() || !matches!(inner.body, Body::Pending) {
            return JsValue::NULL;
        }
        match &inner.call {
            Some(call) => call.wire(),
            None => JsValue::UNDEFINED,
        }
    }

    /// The attempt's `fetch` rejected with `reason` (`headers`), or a read of its body
    /// did. Call `failed()` next.
    pub fn rejected(&self, reason: JsValue, headers: bool) {
        let mut inner = self.inner.borrow_mut();
        let (e, cause) = Call::rejection_of(inner.call.as_ref(), reason, headers);
        inner.failure = Some((e, cause, ResponseHints::default()));
    }

    /// The response came: 0 when the stream is open (or ended meanwhile), else how many
    /// bytes of its body to read (it carries an error: then `errorBody()`); -1 when it
    /// is not a response (then `failed()`).
    pub fn response(&self, response: JsValue) -> f64 {
        let rc = &self.inner;
        if rc.borrow().outcome.is_some() {
            return 0.0;
        }
        let Ok(response) = response.dyn_into::<Response>() else {
            let e = Error::network("the `fetch` function did not return a Response");
            rc.borrow_mut().failure = Some((e, None, ResponseHints::default()));
            return -1.0;
        };
        let mut inner = rc.borrow_mut();
        if let Some(call) = &inner.call {
            call.headers_came();
        }
        let lines = transport::header_lines(&response.headers());
        let answer = Answer::read(response.status(), &lines, true, js_sys::Date::now());
        inner.request_id = answer.request_id.clone();
        inner.provider = answer.provider.clone();
        let limit = answer.body_limit();
        if answer.disposition == Disposition::EventStream {
            let t = inner.plan.current();
            inner.spec.record(t, Ok(()));
            if let Some(r) = &inner.spec.record {
                r.headers();
            }
            inner.body = match response.body() {
                Some(b) => Body::Reading(b.get_reader().unchecked_into()),
                None => Body::Gone,
            };
        } else {
            inner.body = Body::Gone;
            inner.answer = Some(answer);
        }
        limit as f64
    }

    /// Body bytes arrived: the idle timeout starts again.
    pub fn activity(&self) {
        if let Some(call) = &self.inner.borrow().call {
            call.activity();
        }
    }

    /// The body of a response that is not a stream, read whole: the error it carries.
    /// Call `failed()` next.
    #[wasm_bindgen(js_name = errorBody)]
    pub fn error_body(&self, bytes: &[u8]) {
        let mut inner = self.inner.borrow_mut();
        let Some(answer) = inner.answer.take() else {
            return;
        };
        let text = crate::sse::utf8_lossy(bytes);
        let e = match answer.completion(inner.spec.protocol, &text) {
            Err(e) => e,
            Ok(_) => crate::response::not_a_stream(&text),
        };
        inner.failure = Some((e, None, answer.hints));
    }

    /// Reading the body of a response that is not a stream failed with `reason`. Call
    /// `failed()` next.
    #[wasm_bindgen(js_name = errorBodyFailed)]
    pub fn error_body_failed(&self, reason: JsValue) {
        let mut inner = self.inner.borrow_mut();
        let Some(answer) = inner.answer.take() else {
            return;
        };
        let e = Call::rejection_of(inner.call.as_ref(), reason, false).0;
        inner.failure = Some((answer.unreadable(e), None, answer.hints));
    }

    /// A plain read of the body was rejected with `reason`: as `failed()` (retried when
    /// nothing reached the caller yet).
    #[wasm_bindgen(js_name = readFailed)]
    pub fn read_failed(&self, reason: JsValue) -> f64 {
        self.rejected(reason, false);
        self.failed()
    }

    /// The attempt failed: ask the core's plan what follows. A sleep of that many
    /// milliseconds, then `nextAttempt()`; -1: `nextAttempt()` now (a fallback); -2:
    /// the stream ended (with the error, or as aborted). Nothing delivered to the
    /// caller is ever sent again: the plan gives up once anything was.
    pub fn failed(&self) -> f64 {
        let rc = &self.inner;
        let failure = rc.borrow_mut().failure.take();
        let (e, cause, hints) = failure.unwrap_or_else(|| {
            (
                Error::network("the request failed"),
                None,
                ResponseHints::default(),
            )
        });
        if e.kind == ErrorKind::Aborted {
            finish(rc, Outcome::Aborted);
            return ENDED;
        }
        if rc.borrow().outcome.is_some() {
            return ENDED;
        }
        let spec = rc.borrow().spec.clone();
        let (next, from, retries) = {
            let mut inner = rc.borrow_mut();
            let inner = &mut *inner;
            let from = inner.plan.current();
            let next = decide(&spec, &mut inner.plan, &e, &hints, inner.delivered);
            (next, from, inner.plan.retries())
        };
        // The callbacks may call `abort()`, which needs the state: no borrow across them.
        if let Err(thrown) = announce(&spec, next, from, retries, &e) {
            finish(rc, Outcome::Thrown(thrown));
            return ENDED;
        }
        match next {
            Next::GiveUp => {
                let e = rc.borrow().plan.final_error(e);
                fail_recorded(rc, e, cause, false);
                ENDED
            }
            Next::Fallback { .. } => GO_NOW,
            Next::Retry { after_ms } => after_ms as f64,
        }
    }

    /// The backoff sleep in progress ends when `wake` is called (`abort()` does).
    pub fn sleeping(&self, wake: Function) {
        self.inner.borrow_mut().wake = Some(wake);
    }

    /// After the backoff sleep (or at once, for a fallback): send the next attempt.
    /// False when the stream ended meanwhile.
    #[wasm_bindgen(js_name = nextAttempt)]
    pub fn next_attempt(&self) -> bool {
        let rc = &self.inner;
        rc.borrow_mut().wake = None;
        if rc.borrow().outcome.is_some() {
            return false;
        }
        let spec = rc.borrow().spec.clone();
        if spec.aborted() {
            finish(rc, Outcome::Aborted);
            return false;
        }
        let started = spec.start(rc.borrow().plan.current());
        let mut inner = rc.borrow_mut();
        if let Some(old) = inner.call.take() {
            old.end();
        }
        match started {
            Ok(call) => inner.call = Some(call),
            Err(e) => inner.failure = Some((e, None, ResponseHints::default())),
        }
        inner.body = Body::Pending;
        inner.answer = None;
        inner.dec = StreamDecoder::new(inner.spec.protocol, inner.dec.options());
        inner.batch = None;
        inner.terminal = None;
        true
    }

    /// The caller's signal, for the backoff sleep.
    #[wasm_bindgen(getter)]
    pub fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.inner.borrow().spec.signal.clone()
    }
}

/// Take the stream for `mode` if nobody has; true if `mode` holds it now.
fn claim(rc: &Rc<RefCell<Inner>>, mode: Mode) -> bool {
    let mut inner = rc.borrow_mut();
    if inner.mode == Mode::Unclaimed {
        inner.mode = mode;
    }
    inner.mode == mode
}

/// Take the stream for `mode` if nobody has; true only for the claim that took it.
fn claim_new(rc: &Rc<RefCell<Inner>>, mode: Mode) -> bool {
    let mut inner = rc.borrow_mut();
    if inner.mode == Mode::Unclaimed && inner.outcome.is_none() {
        inner.mode = mode;
        return true;
    }
    false
}

fn already_consumed() -> JsValue {
    to_js(
        &Error::input("this stream is already being consumed by its callbacks or `finalCompletion()`; iterate it or await it, not both"),
        None,
        None,
    )
}

fn step(done: bool, value: &JsValue) -> JsValue {
    let o = Object::new();
    set(&o, "done", &done.into());
    set(&o, "value", value);
    o.into()
}

/// Hand one read's bytes (`None`: the body ended) to the core and keep what it made:
/// the batch for the consumer, and how the stream ends if this read said so. The core
/// delivers the chunks before an error or `[DONE]` in the same read; so do we.
fn absorb(inner: &mut Inner, bytes: Option<&[u8]>) {
    let out = match bytes {
        Some(b) => inner.dec.feed(b),
        None => inner.dec.end(),
    };
    let mut terminal = out.events.iter().find_map(|ev| match ev {
        StreamEvent::Done => Some(Terminal::Done),
        StreamEvent::Truncated => Some(Terminal::Truncated),
        StreamEvent::Error(e) => Some(Terminal::Failed(e.clone())),
        _ => None,
    });
    if bytes.is_none() && terminal.is_none() {
        // The body ended after a finish reason: a complete answer.
        terminal = Some(Terminal::Done);
    }
    if out.chunk_count > 0 {
        inner.batch = Some(Batch {
            text: out.text.clone(),
            chunks: out.chunks.clone(),
        });
    }
    inner.terminal = terminal;
}

/// Hand a decoded read over to the pump (`fedText`, `fedChunks`), which gives it to
/// `onContent`/`onChunk` and the consumer. The first chunk is the call's first token;
/// from then on nothing is retried.
fn hand_over(rc: &Rc<RefCell<Inner>>, batch: Batch) {
    let mut inner = rc.borrow_mut();
    if !std::mem::replace(&mut inner.delivered, true) {
        if let Some(r) = &inner.spec.record {
            r.first_token();
        }
    }
    inner.fed_text = batch.text;
    inner.fed = batch.chunks;
}

/// What a pull wants of the chunks it reads (`js/pump.js`'s `want`): nothing, objects
/// (the iterator: chat chunks given as changes of the one before when they are, see
/// `decode::Output::chunks`), or their SSE bytes (whole chunks). `onChunk` wants objects.
const WANT_NONE: u32 = 0;
const WANT_SSE: u32 = 2;

fn keep_chunks(inner: &mut Inner, want: u32) {
    let keep = want != WANT_NONE || inner.cb.on_chunk.is_some();
    inner.dec.set_keep_chunks(keep, want != WANT_SSE);
}

fn js_or_undefined(f: &Option<Function>) -> JsValue {
    f.as_ref().map_or(JsValue::UNDEFINED, |f| f.clone().into())
}

/// End as the core said: at `[DONE]`, at the end of the body, or at an error.
fn end_with(rc: &Rc<RefCell<Inner>>, terminal: Terminal) {
    match terminal {
        // `finish` stops the transfer (`[DONE]` needs no EOF).
        Terminal::Done => finish(rc, Outcome::Done),
        Terminal::Truncated => {
            let reason = "the body ended with neither `[DONE]` nor a finish reason";
            fail(rc, Error::truncated(reason), None, true);
        }
        Terminal::Failed(e) => fail(rc, e, None, false),
    }
}

/// Fail with `e` (made into an `InferenceError` carrying the partial completion).
fn fail(rc: &Rc<RefCell<Inner>>, e: Error, cause: Option<JsValue>, truncated: bool) {
    // Recorded as the call's last attempt; the core gives up on it (these failures are
    // not retryable, or came after a delivery), so `attempts` lists every attempt.
    {
        let mut inner = rc.borrow_mut();
        if inner.outcome.is_none() {
            let _ = inner.plan.on_failure(
                &e,
                &ResponseHints::default(),
                true,
                js_sys::Date::now(),
                0.0,
            );
        }
    }
    fail_recorded(rc, e, cause, truncated);
}

/// [`fail`] for an error the retry state has already seen.
fn fail_recorded(rc: &Rc<RefCell<Inner>>, e: Error, cause: Option<JsValue>, truncated: bool) {
    let (e, partial) = {
        let inner = rc.borrow();
        if inner.outcome.is_some() {
            return;
        }
        let mut e = e
            .with_request_id(inner.request_id.clone())
            .with_provider(inner.provider.clone());
        if let Some(t) = &inner.token {
            e = e.redact(t);
        }
        (e, json_to_js(&inner.dec.snapshot_json()))
    };
    let error = to_js(&e, Some(&partial), cause.as_ref());
    attach_attempts(&error, &rc.borrow().plan.attempts());
    rc.borrow_mut().final_completion = Some(partial);
    finish(
        rc,
        Outcome::Failed {
            error,
            core: Box::new(e),
            truncated,
        },
    );
}

fn cancel_body(rc: &Rc<RefCell<Inner>>) {
    let body = std::mem::replace(&mut rc.borrow_mut().body, Body::Gone);
    if let Body::Reading(reader) = body {
        // `[DONE]` or an error: stop the transfer now instead of waiting for EOF.
        transport::cancel(&reader);
    }
}

/// End the stream once with `outcome`: stop the request, fire the callbacks, settle
/// the waiters.
fn finish(rc: &Rc<RefCell<Inner>>, outcome: Outcome) {
    let (call, cb_finish, cb_error, cb_abort) = {
        let mut inner = rc.borrow_mut();
        if inner.outcome.is_some() {
            return;
        }
        inner.outcome = Some(outcome.clone());
        if let Some(wake) = inner.wake.take() {
            let _ = wake.call0(&JsValue::UNDEFINED);
        }
        (
            inner.call.clone(),
            inner.cb.on_finish.clone(),
            inner.cb.on_error.clone(),
            inner.cb.on_abort.clone(),
        )
    };
    match &outcome {
        Outcome::Done => call.iter().for_each(Call::end),
        _ => call.iter().for_each(Call::abort),
    }
    cancel_body(rc);
    end_record(rc, &outcome);

    // The end callbacks (`js/pump.js`'s `announce`): 0 done, 1 aborted, 2 failed,
    // 3 truncated; none when a callback threw.
    let (kind, error) = match &outcome {
        Outcome::Done => (0, JsValue::UNDEFINED),
        Outcome::Aborted => (1, JsValue::UNDEFINED),
        Outcome::Failed {
            error, truncated, ..
        } => (if *truncated { 3 } else { 2 }, error.clone()),
        Outcome::Thrown(_) => (4, JsValue::UNDEFINED),
    };
    if kind < 4 && (cb_finish.is_some() || cb_error.is_some() || cb_abort.is_some()) {
        let completion = completion(rc);
        let reason = rc
            .borrow()
            .dec
            .finish_reason()
            .map_or(JsValue::NULL, JsValue::from_str);
        announce_end(
            kind,
            &completion,
            &error,
            &reason,
            &js_or_undefined(&cb_finish),
            &js_or_undefined(&cb_error),
            &js_or_undefined(&cb_abort),
        );
    }
    settle_waiters(rc);
    if let Ok(mut inner) = rc.try_borrow_mut() {
        if inner.freed {
            release(&mut inner);
        }
    }
}

/// Report the call's usage, cost and latency (and store a complete answer in the cache).
fn end_record(rc: &Rc<RefCell<Inner>>, outcome: &Outcome) {
    let (record, usage, store, provider, request_id, attempts, url) = {
        let inner = rc.borrow();
        let Some(record) = inner.spec.record.clone() else {
            return;
        };
        let usage = inner.dec.token_usage(record.prompt_estimate);
        // The complete result's JSON, written only when there is a cache to store it.
        let store = match outcome {
            Outcome::Done if record.cache_key.is_some() && inner.dec.storable() => {
                Some(inner.dec.snapshot_json())
            }
            _ => None,
        };
        let failed = inner.plan.attempts().len() as u32;
        let attempts = if matches!(outcome, Outcome::Done) {
            failed + 1
        } else {
            failed.max(1)
        };
        (
            record,
            usage,
            store,
            inner.provider.clone(),
            inner.request_id.clone(),
            attempts,
            inner.spec.target(inner.plan.current()).url.clone(),
        )
    };
    let outcome = match outcome {
        Outcome::Done => crate::meter::CallOutcome::Completed,
        Outcome::Aborted | Outcome::Thrown(_) => crate::meter::CallOutcome::Aborted,
        Outcome::Failed { core, .. } => crate::meter::CallOutcome::Failed(core.kind),
    };
    record.end(super::metering::Ended {
        outcome,
        usage,
        provider_header: provider.as_deref(),
        body_extra: None,
        request_id,
        attempts,
        store: store.as_deref(),
        url: &url,
    });
}

/// Settle the waiters (`js/pump.js`'s `Waiters`) with the outcome, once it is known.
fn settle_waiters(rc: &Rc<RefCell<Inner>>) {
    let (waiters, outcome, text) = {
        let inner = rc.borrow();
        let Some(outcome) = inner.outcome.clone() else {
            return;
        };
        let text = match inner.waiters.texts() {
            0 => JsValue::UNDEFINED,
            // The decoder's: nothing is read into it once the stream has ended (a copy
            // kept at the end held the whole text twice until the stream was freed).
            _ => JsValue::from_str(&inner.dec.text()),
        };
        (inner.waiters.clone(), outcome, text)
    };
    match &outcome {
        Outcome::Failed { error, .. } | Outcome::Thrown(error) => {
            waiters.settle(true, error, &JsValue::UNDEFINED)
        }
        _ => {
            let completion = match waiters.completions() {
                0 => JsValue::UNDEFINED,
                _ => completion(rc),
            };
            waiters.settle(false, &completion, &text)
        }
    }
}

/// The completion as a JavaScript object, made once, on first need, from the decoder
/// (which no read changes once the stream has ended); a complete answer's carries its
/// route.
fn completion(rc: &Rc<RefCell<Inner>>) -> JsValue {
    if let Some(completion) = &rc.borrow().final_completion {
        return completion.clone();
    }
    let completion = {
        let inner = rc.borrow();
        let completion = json_to_js(&inner.dec.snapshot_json());
        if matches!(inner.outcome, Some(Outcome::Done)) {
            set_route(&completion, &inner.spec, inner.plan.current());
        }
        completion
    };
    rc.borrow_mut().final_completion = Some(completion.clone());
    completion
}

fn failure_of(rc: &Rc<RefCell<Inner>>) -> Option<JsValue> {
    match &rc.borrow().outcome {
        Some(Outcome::Failed { error, .. }) | Some(Outcome::Thrown(error)) => Some(error.clone()),
        Some(Outcome::Aborted) => Some(to_js(&Error::aborted(), None, None)),
        _ => None,
    }
}

/// The core's JSON as a JS object (every field, integers exact up to 2^53).
fn json_to_js(json: &str) -> JsValue {
    JSON::parse(json).unwrap_or(JsValue::UNDEFINED)
}
