//! The exported `ChatStream`: one streamed chat completion.
//!
//! Owns: pumping the response body through the core's synchronous
//! [`StreamDecoder`] one read at a time (one call per read: the read's joined text, its
//! chunks' raw data when someone wants chunk objects, and the events that end the
//! stream), handing each read's worth to whoever consumes the stream (the async
//! iterator in `api.js`, which parses chunk objects in JavaScript, once, or the stream
//! itself when only callbacks or `finalCompletion()` are used), and ending exactly once
//! with one outcome. Must never: decide what bytes mean (the core does), build a chunk
//! object nobody asked for, buffer the body ahead of the consumer, or call back into
//! JavaScript while holding a borrow of its state (a callback may call `abort()`).
//!
//! Consumption: the first of these claims the stream: iterating it (`next()`), or
//! `finalCompletion()`/`text()`/`toReadableStream()`, or the callbacks given at creation
//! (which start pumping in a later task unless iteration began first). Callbacks fire
//! whoever pumps. Every pull is serialized, so `next()` called twice without awaiting
//! still yields chunks in order.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, JsString, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::ReadableStreamDefaultReader;

use super::{notify_fallback, notify_retry, route_of, set_route};
use crate::decode::{DecodeOptions, StreamDecoder, StreamEvent};
use crate::error::{Error, ErrorKind, MAX_ERROR_BODY_BYTES};
use crate::plan::{Next, Plan};
use crate::protocol::Protocol;
use crate::response::{disposition, Disposition, PROVIDER_HEADER, REQUEST_ID_HEADERS};
use crate::retry::ResponseHints;
use crate::web::error::{attach_attempts, set, to_js};
use crate::web::transport::{self, Call, Cause, RequestSpec, Sleep};
use crate::{relay, tgi, types};

/// The largest JSON body read where a stream was expected (it carries an error).
const MAX_JSON_INSTEAD_OF_STREAM: usize = 1 << 20;

/// A streamed chat completion. Async-iterable over chunks; see the module docs.
#[wasm_bindgen]
#[must_use = "a stream does nothing for the caller until it is iterated or awaited"]
pub struct ChatStream {
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

enum Want {
    Completion,
    Text,
}

struct Waiter {
    resolve: Function,
    reject: Function,
    want: Want,
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
    /// The attempt in flight; `None` when sending it failed (`start_error` says why),
    /// or while `resolving` runs.
    call: Option<Call>,
    /// Settles once the request's route is known and its first attempt sent (a direct
    /// provider call looks up the provider's model id first).
    resolving: Option<Promise>,
    start_error: Option<Error>,
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
    /// The batch the Rust `next()` is handing out, and where in it.
    queued: String,
    queued_at: usize,
    snapshot: JsString,
    mode: Mode,
    /// Pulls scheduled and not finished; a new pull waits for `tail` when non-zero.
    busy: usize,
    tail: Option<Promise>,
    outcome: Option<Outcome>,
    /// The iterator has thrown the failure once; after that it reports `done`.
    failure_reported: bool,
    waiters: Vec<Waiter>,
    final_completion: Option<JsValue>,
    final_text: Option<String>,
    /// The complete result's JSON, for the cache.
    final_json: Option<String>,
    /// `[DONE]` was sent by `nextSse`.
    sse_closed: bool,
    scratch: Vec<u8>,
    request_id: Option<String>,
    provider: Option<String>,
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

/// The real request of a stream started with a provisional one.
pub(crate) type Resolving = std::pin::Pin<Box<dyn Future<Output = Result<RequestSpec, Error>>>>;

/// What one pull produced.
enum Pulled {
    /// One read's chunks: each one's raw data followed by `'\0'` (empty when nobody
    /// wants chunk objects).
    Batch { chunks: String },
    /// The stream is over; see the outcome.
    End,
}

impl ChatStream {
    /// Start a stream. With `resolving`, `spec` is provisional (its route is not known
    /// yet): the first attempt is sent once `resolving` yields the real spec; a failure
    /// to resolve ends the stream with that error, never retried.
    pub(crate) fn start(
        spec: Rc<RequestSpec>,
        resolving: Option<Resolving>,
        token: Option<String>,
        options: DecodeOptions,
        cb: Callbacks,
    ) -> ChatStream {
        let plan = Plan::new(spec.retry, spec.target_count(), js_sys::Date::now());
        // Sent now: the stream is lazy to consume, not to start.
        let (call, start_error) = match resolving {
            Some(_) => (None, None),
            None => match spec.start(0) {
                Ok(call) => (Some(call), None),
                Err(e) => (None, Some(e)),
            },
        };
        let protocol = spec.protocol;
        let inner = Rc::new(RefCell::new(Inner {
            call,
            resolving: None,
            start_error,
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
            queued: String::new(),
            queued_at: 0,
            snapshot: JsString::from(""),
            mode: Mode::Unclaimed,
            busy: 0,
            tail: None,
            outcome: None,
            failure_reported: false,
            waiters: Vec::new(),
            final_completion: None,
            final_text: None,
            final_json: None,
            sse_closed: false,
            scratch: Vec::new(),
            request_id: None,
            provider: None,
        }));
        if let Some(resolving) = resolving {
            let rc = inner.clone();
            let done = future_to_promise(async move {
                let resolved = resolving.await;
                if rc.borrow().outcome.is_some() {
                    return Ok(JsValue::UNDEFINED);
                }
                match resolved {
                    Ok(spec) => {
                        let started = spec.start(0);
                        let mut inner = rc.borrow_mut();
                        inner.spec = Rc::new(spec);
                        match started {
                            Ok(call) => inner.call = Some(call),
                            Err(e) => inner.start_error = Some(e),
                        }
                    }
                    Err(e) => fail(&rc, e, None, false),
                }
                Ok(JsValue::UNDEFINED)
            });
            inner.borrow_mut().resolving = Some(done);
        }
        ChatStream { inner }
    }
}

#[wasm_bindgen]
impl ChatStream {
    /// The async-iterator step: `{ done, value }` with the next chunk. `api.js` replaces
    /// it with its own (the body read in JavaScript, chunks parsed there); this one is
    /// the same pump driven from Rust, for a caller of the bare wasm class.
    pub fn next(&self) -> Promise {
        let rc = self.inner.clone();
        if !claim(&rc, Mode::Iterator) {
            return Promise::reject(&already_consumed());
        }
        schedule(&rc, |rc| async move {
            loop {
                if let Some(chunk) = queued_chunk(&rc)? {
                    return Ok(step(false, &chunk));
                }
                match pull(&rc, true).await {
                    Pulled::Batch { chunks } => {
                        let mut inner = rc.borrow_mut();
                        inner.queued = chunks;
                        inner.queued_at = 0;
                    }
                    end => return batch_or_end(&rc, end).map(|_| step(true, &JsValue::UNDEFINED)),
                }
            }
        })
    }

    /// The async half of the pump in `api.js` (`pullBatch`), for what is not a plain
    /// read: headers, retries and fallbacks, what the last read left pending, the end.
    /// Resolves with the next read's chunks (each one's JSON text followed by `"\0"`;
    /// `""` when `want_chunks` is false and nobody takes chunk objects), `undefined` at
    /// the end, or rejects with the failure, once. Internal: call `next()`.
    #[wasm_bindgen(js_name = _pull)]
    pub fn pull_async(&self, want_chunks: bool) -> Promise {
        schedule(&self.inner, move |rc| async move {
            let pulled = pull(&rc, want_chunks).await;
            batch_or_end(&rc, pulled)
        })
    }

    /// A plain read of the body by `api.js` was rejected: the read's error, retried
    /// when nothing reached the caller yet, then the pump goes on as [`Self::pull_async`].
    /// Internal.
    #[wasm_bindgen(js_name = _readFailed)]
    pub fn read_failed(&self, reason: JsValue, want_chunks: bool) -> Promise {
        schedule(&self.inner, move |rc| async move {
            let call = rc.borrow().call.clone();
            let pulled = match call {
                Some(call) => {
                    let (e, cause) = call.rejection(reason, false);
                    if retry_or_fail(&rc, e, cause, ResponseHints::default()).await {
                        pull(&rc, want_chunks).await
                    } else {
                        Pulled::End
                    }
                }
                None => pull(&rc, want_chunks).await,
            };
            batch_or_end(&rc, pulled)
        })
    }

    /// The body's reader when the next step of the pump is a plain read (the stream is
    /// reading, nothing is pending, nothing ended); `undefined` otherwise, and then the
    /// pump calls [`Self::pull_async`]. Internal.
    #[wasm_bindgen(js_name = _reader)]
    pub fn reader(&self) -> JsValue {
        let inner = self.inner.borrow();
        if inner.outcome.is_some()
            || inner.busy > 0
            || inner.batch.is_some()
            || inner.terminal.is_some()
        {
            return JsValue::UNDEFINED;
        }
        match (&inner.body, &inner.call) {
            (Body::Reading(r), Some(call)) if call.aborted().is_none() => r.clone().into(),
            _ => JsValue::UNDEFINED,
        }
    }

    /// One plain read's result, synchronously: `bytes` (with `done`, the end of the body)
    /// go through the core in one call. Returns the read's chunks as from
    /// [`Self::pull_async`], after the callbacks saw them; `undefined` when this read
    /// completed no chunk and the next step is another plain read of the same reader;
    /// `null` when the next step is `_pull` (the stream ended, or something is pending).
    /// Internal.
    #[wasm_bindgen(js_name = _feed)]
    pub fn feed(&self, bytes: &[u8], done: bool, want_chunks: bool) -> JsValue {
        {
            let mut guard = self.inner.borrow_mut();
            let inner = &mut *guard;
            if inner.outcome.is_some() || !matches!(inner.body, Body::Reading(_)) {
                return JsValue::NULL;
            }
            let keep = want_chunks || inner.cb.on_chunk.is_some();
            inner.dec.set_keep_chunks(keep);
            if done {
                inner.body = Body::Gone;
                absorb(inner, None);
            } else {
                if let Some(call) = &inner.call {
                    call.activity();
                }
                absorb(inner, Some(bytes));
            }
        }
        let batch = self.inner.borrow_mut().batch.take();
        match batch {
            Some(batch) => match deliver(&self.inner, batch) {
                Some(Pulled::Batch { chunks }) => JsValue::from_str(&chunks),
                _ => JsValue::NULL,
            },
            None if self.inner.borrow().terminal.is_some() => JsValue::NULL,
            None => JsValue::UNDEFINED,
        }
    }

    /// Whether chunks already decoded may still go out: false once the stream ended or
    /// its request was aborted. Internal to `api.js`'s iterator.
    #[wasm_bindgen(js_name = _live)]
    pub fn is_live(&self) -> bool {
        live(&self.inner)
    }

    /// Whether callbacks were given at creation: `api.js` then drives the stream from a
    /// microtask, unless iteration claimed it first. Internal.
    #[wasm_bindgen(getter, js_name = _drivesItself)]
    pub fn drives_itself(&self) -> bool {
        self.inner.borrow().cb.any()
    }

    /// Claim the stream for the driver (callbacks, `text()`, `finalCompletion()`): true
    /// only for the claim that takes it. Internal.
    #[wasm_bindgen(js_name = _claimDriver)]
    pub fn claim_driver(&self) -> bool {
        claim_new(&self.inner, Mode::Driver)
    }
}

/// The next chunk object of the batch [`ChatStream::next`] holds, parsed; a chunk
/// JavaScript cannot parse fails the stream.
fn queued_chunk(rc: &Rc<RefCell<Inner>>) -> Result<Option<JsValue>, JsValue> {
    if !live(rc) {
        // Aborted or ended: nothing more goes out, even chunks already decoded.
        rc.borrow_mut().queued.clear();
        return Ok(None);
    }
    let data = {
        let mut inner = rc.borrow_mut();
        let rest = inner.queued.get(inner.queued_at..).unwrap_or_default();
        let Some(nul) = rest.find('\0') else {
            return Ok(None);
        };
        let data = rest[..nul].to_owned();
        inner.queued_at += nul + 1;
        data
    };
    JSON::parse(&data).map(Some).map_err(|_| {
        fail(rc, unparsable(&data), None, false);
        failure_of(rc).unwrap_or(JsValue::UNDEFINED)
    })
}

/// Neither ended nor aborted (by the caller's signal or a timeout, not yet seen by a
/// pull).
fn live(rc: &Rc<RefCell<Inner>>) -> bool {
    let inner = rc.borrow();
    inner.outcome.is_none() && inner.call.as_ref().and_then(Call::aborted).is_none()
}

/// What a pull resolves `_pull` with: the batch, `undefined` at the end, or the
/// failure (once).
fn batch_or_end(rc: &Rc<RefCell<Inner>>, pulled: Pulled) -> Result<JsValue, JsValue> {
    match pulled {
        Pulled::Batch { chunks } => Ok(JsValue::from_str(&chunks)),
        Pulled::End => {
            let mut inner = rc.borrow_mut();
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
    }
}

#[wasm_bindgen]
impl ChatStream {
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

    /// Take the stream for the iterator now (its first `next()`), before a callback
    /// driver scheduled at creation can; rejects if something else consumes it.
    /// Internal to `api.js`.
    #[wasm_bindgen(js_name = claimIterator)]
    pub fn claim_iterator(&self) -> Result<(), JsValue> {
        if claim(&self.inner, Mode::Iterator) {
            Ok(())
        } else {
            Err(already_consumed())
        }
    }

    /// The iterator's `JSON.parse` rejected a chunk the core accepted: fail the stream
    /// with a parse error quoting it, and return that error. Internal to `api.js`.
    #[wasm_bindgen(js_name = failParse)]
    pub fn fail_parse(&self, data: &str) -> JsValue {
        fail(&self.inner, unparsable(data), None, false);
        failure_of(&self.inner).unwrap_or(JsValue::UNDEFINED)
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
        self.wait(Want::Completion)
    }

    /// The text of choice 0; partial if the stream was aborted. Rejects if it failed.
    pub fn text(&self) -> Promise {
        self.wait(Want::Text)
    }

    /// Resolves once the response headers arrived and announce a stream; rejects with
    /// the HTTP (or network, timeout) error otherwise. Consumes nothing.
    pub fn ready(&self) -> Promise {
        schedule(&self.inner, |rc| async move {
            if response_ready(&rc).await {
                Ok(JsValue::UNDEFINED)
            } else {
                Err(failure_of(&rc).unwrap_or(JsValue::UNDEFINED))
            }
        })
    }

    /// The next piece of the stream re-encoded as SSE bytes (`undefined` at the end),
    /// for `toReadableStream()`. A failure becomes a final `event: error`.
    #[wasm_bindgen(js_name = nextSse)]
    pub fn next_sse(&self) -> Promise {
        let rc = self.inner.clone();
        if !claim(&rc, Mode::Iterator) {
            return Promise::reject(&already_consumed());
        }
        schedule(&rc, |rc| async move {
            let mut out = String::new();
            match pull(&rc, true).await {
                Pulled::Batch { chunks } => {
                    for data in chunks.split_terminator('\0') {
                        relay::encode_data(data, &mut out);
                    }
                }
                Pulled::End => {
                    let mut inner = rc.borrow_mut();
                    if inner.sse_closed {
                        return Ok(JsValue::UNDEFINED);
                    }
                    inner.sse_closed = true;
                    match inner.outcome.clone() {
                        Some(Outcome::Failed { core, .. }) => out = relay::encode_error(&core),
                        Some(Outcome::Thrown(e)) => return Err(e),
                        _ => out.push_str(relay::DONE),
                    }
                }
            }
            Ok(Uint8Array::from(out.as_bytes()).into())
        })
    }
}

impl ChatStream {
    fn wait(&self, want: Want) -> Promise {
        let rc = self.inner.clone();
        let mut slots = None;
        // The executor runs synchronously, inside `Promise::new`.
        let promise = Promise::new(&mut |resolve, reject| slots = Some((resolve, reject)));
        if let Some((resolve, reject)) = slots {
            rc.borrow_mut().waiters.push(Waiter {
                resolve,
                reject,
                want,
            });
        }
        // `api.js` claims the stream for its own driver first; this one drives a bare
        // wasm class.
        if rc.borrow().outcome.is_some() {
            settle_waiters(&rc);
        } else if claim_new(&rc, Mode::Driver) {
            wasm_bindgen_futures::spawn_local(drive_to_end(rc));
        }
        promise
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

/// Pull until the end, from Rust (a bare wasm class's `text()`/`finalCompletion()`).
async fn drive_to_end(rc: Rc<RefCell<Inner>>) {
    loop {
        let p = schedule(&rc, |rc| async move {
            Ok(match pull(&rc, false).await {
                Pulled::Batch { .. } => JsValue::TRUE,
                Pulled::End => JsValue::FALSE,
            })
        });
        match JsFuture::from(p).await {
            Ok(v) if v.is_truthy() => continue,
            _ => break,
        }
    }
}

fn already_consumed() -> JsValue {
    to_js(
        &Error::input("this stream is already being consumed by its callbacks or `finalCompletion()`; iterate it or await it, not both"),
        None,
        None,
    )
}

/// Run `op` after every pull scheduled before it has finished.
fn schedule<F, Fut>(rc: &Rc<RefCell<Inner>>, op: F) -> Promise
where
    F: FnOnce(Rc<RefCell<Inner>>) -> Fut + 'static,
    Fut: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let prev = {
        let mut inner = rc.borrow_mut();
        let prev = if inner.busy > 0 {
            inner.tail.take()
        } else {
            None
        };
        inner.busy += 1;
        prev
    };
    let rc2 = rc.clone();
    let promise = future_to_promise(async move {
        if let Some(prev) = prev {
            let _ = JsFuture::from(prev).await;
        }
        let result = op(rc2.clone()).await;
        rc2.borrow_mut().busy -= 1;
        result
    });
    // A settled-either-way copy to chain on, so a rejection is not reported twice.
    let tail = transport::settled(&promise);
    rc.borrow_mut().tail = Some(tail);
    promise
}

fn step(done: bool, value: &JsValue) -> JsValue {
    let o = Object::new();
    set(&o, "done", &done.into());
    set(&o, "value", value);
    o.into()
}

/// Produce the next read's worth of chunks, or end the stream. `want_chunks`: the
/// consumer makes chunk objects (the iterator, `toReadableStream()`); `onChunk` wants
/// them too.
async fn pull(rc: &Rc<RefCell<Inner>>, want_chunks: bool) -> Pulled {
    loop {
        if rc.borrow().outcome.is_some() {
            return Pulled::End;
        }
        // 0. Aborted by the caller's signal or a timeout: nothing more goes out, even
        //    what was already decoded.
        let aborted = rc.borrow().call.as_ref().and_then(Call::aborted);
        match aborted {
            Some(Cause::User) => {
                finish(rc, Outcome::Aborted);
                return Pulled::End;
            }
            Some(Cause::Timeout(kind, ms)) => {
                fail(rc, Error::timeout(kind, ms), None, false);
                return Pulled::End;
            }
            None => {}
        }

        // 1. A decoded read waiting.
        let batch = rc.borrow_mut().batch.take();
        if let Some(batch) = batch {
            return deliver(rc, batch).unwrap_or(Pulled::End);
        }

        // 2. How the stream ends, now that what came before it is out.
        let terminal = rc.borrow_mut().terminal.take();
        if let Some(t) = terminal {
            end_with(rc, t);
            return Pulled::End;
        }

        // 3. Headers first.
        if !response_ready(rc).await {
            return Pulled::End;
        }

        // 4. More bytes; a body that is gone has ended.
        let (call, reader) = {
            let mut inner = rc.borrow_mut();
            let keep = want_chunks || inner.cb.on_chunk.is_some();
            inner.dec.set_keep_chunks(keep);
            match &inner.body {
                Body::Reading(r) => match &inner.call {
                    Some(call) => (call.clone(), r.clone()),
                    None => return Pulled::End,
                },
                Body::Gone => {
                    absorb(&mut inner, None);
                    continue;
                }
                Body::Pending => return Pulled::End,
            }
        };
        let read = call.read(&reader).await;
        if rc.borrow().outcome.is_some() {
            return Pulled::End;
        }
        match read {
            Ok(Some(bytes)) => {
                let mut guard = rc.borrow_mut();
                let inner = &mut *guard;
                let len = bytes.length() as usize;
                inner.scratch.resize(len, 0);
                bytes.copy_to(&mut inner.scratch[..len]);
                let scratch = std::mem::take(&mut inner.scratch);
                absorb(inner, Some(&scratch[..len]));
                inner.scratch = scratch;
            }
            Ok(None) => {
                let mut inner = rc.borrow_mut();
                inner.body = Body::Gone;
                absorb(&mut inner, None);
            }
            Err((e, cause)) => {
                // Before anything was delivered, a failed read (a first-chunk timeout,
                // a dropped connection) may be retried.
                if retry_or_fail(rc, e, cause, ResponseHints::default()).await {
                    continue;
                }
                return Pulled::End;
            }
        }
    }
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

/// Hand one read's worth to the callbacks and the consumer. `None` if a callback threw
/// or ended the stream.
fn deliver(rc: &Rc<RefCell<Inner>>, batch: Batch) -> Option<Pulled> {
    let (on_content, on_chunk) = {
        let inner = rc.borrow();
        (inner.cb.on_content.clone(), inner.cb.on_chunk.clone())
    };
    let first = !std::mem::replace(&mut rc.borrow_mut().delivered, true);
    if first {
        if let Some(r) = &rc.borrow().spec.record {
            r.first_token();
        }
    }
    if let (Some(f), false) = (on_content, batch.text.is_empty()) {
        let delta = JsString::from(batch.text.as_str());
        // The snapshot (a string rope of every delta so far) is kept only for a callback
        // that takes it: `(delta) => …` costs no memory per read.
        let snapshot = if f.length() >= 2 {
            let mut inner = rc.borrow_mut();
            inner.snapshot = inner.snapshot.concat(&delta);
            inner.snapshot.clone().into()
        } else {
            JsValue::UNDEFINED
        };
        if let Err(e) = f.call2(&JsValue::UNDEFINED, &delta, &snapshot) {
            finish(rc, Outcome::Thrown(e));
            return None;
        }
        if rc.borrow().outcome.is_some() {
            return None;
        }
    }
    if let Some(f) = on_chunk {
        for data in batch.chunks.split_terminator('\0') {
            let object = match JSON::parse(data) {
                Ok(v) => v,
                Err(_) => {
                    fail(rc, unparsable(data), None, false);
                    return None;
                }
            };
            if let Err(e) = f.call1(&JsValue::UNDEFINED, &object) {
                finish(rc, Outcome::Thrown(e));
                return None;
            }
            if rc.borrow().outcome.is_some() {
                return None;
            }
        }
    }
    Some(Pulled::Batch {
        chunks: batch.chunks,
    })
}

/// A chunk the core accepted that JavaScript's `JSON.parse` rejects (a scanner bug).
fn unparsable(data: &str) -> Error {
    let mut e = Error::new(
        ErrorKind::Parse,
        "a chunk the decoder accepted is not valid JSON for JavaScript",
    );
    e.body = Some(crate::error::cut(data, crate::error::MAX_QUOTED_DATA_BYTES).to_owned());
    e
}

/// Wait for the headers and set up the body, retrying a failed attempt as the core
/// decides. False if the stream cannot go on (the outcome says why).
async fn response_ready(rc: &Rc<RefCell<Inner>>) -> bool {
    loop {
        match open(rc).await {
            Opened::Ready => return true,
            Opened::Ended => return false,
            Opened::Failed(e, cause, hints) => {
                if !retry_or_fail(rc, e, cause, hints).await {
                    return false;
                }
            }
        }
    }
}

enum Opened {
    Ready,
    Ended,
    Failed(Error, Option<JsValue>, ResponseHints),
}

/// One attempt's headers: a stream to read, or why not.
async fn open(rc: &Rc<RefCell<Inner>>) -> Opened {
    {
        let inner = rc.borrow();
        if inner.outcome.is_some() {
            return Opened::Ended;
        }
        if !matches!(inner.body, Body::Pending) {
            return Opened::Ready;
        }
    }
    let resolving = rc.borrow().resolving.clone();
    if let Some(p) = resolving {
        let _ = JsFuture::from(p).await;
        rc.borrow_mut().resolving = None;
        if rc.borrow().outcome.is_some() {
            return Opened::Ended;
        }
    }
    let call = {
        let mut inner = rc.borrow_mut();
        match inner.call.clone() {
            Some(call) => call,
            None => {
                let e = inner
                    .start_error
                    .take()
                    .unwrap_or_else(|| Error::network("the request was not sent"));
                return Opened::Failed(e, None, ResponseHints::default());
            }
        }
    };
    let response = match call.response().await {
        Ok(r) => r,
        Err((e, cause)) => return Opened::Failed(e, cause, ResponseHints::default()),
    };
    if rc.borrow().outcome.is_some() {
        return Opened::Ended;
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    {
        let mut inner = rc.borrow_mut();
        inner.request_id = REQUEST_ID_HEADERS.iter().find_map(|h| header(h));
        inner.provider = header(PROVIDER_HEADER);
    }
    let status = response.status();
    match disposition(status, header("content-type").as_deref(), true) {
        Disposition::EventStream => {
            let (spec, t) = {
                let inner = rc.borrow();
                (inner.spec.clone(), inner.plan.current())
            };
            spec.record(t, Ok(()));
            if let Some(r) = &spec.record {
                r.headers();
            }
            let reader = response.body().map(|b| {
                b.get_reader()
                    .unchecked_into::<ReadableStreamDefaultReader>()
            });
            let mut inner = rc.borrow_mut();
            match reader {
                Some(r) => inner.body = Body::Reading(r),
                None => inner.body = Body::Gone,
            }
            Opened::Ready
        }
        Disposition::Error => {
            rc.borrow_mut().body = Body::Gone;
            let hints = transport::hints(&response);
            let text = transport::read_text(&call, &response, MAX_ERROR_BODY_BYTES).await;
            let e = match text {
                Ok(t) => Error::http(status, &t),
                Err((e, _)) => Error::http(
                    status,
                    &format!("(the error body could not be read: {})", e.message),
                ),
            };
            Opened::Failed(e, None, hints)
        }
        Disposition::Json => {
            rc.borrow_mut().body = Body::Gone;
            let protocol = rc.borrow().spec.protocol;
            let e = match transport::read_text(&call, &response, MAX_JSON_INSTEAD_OF_STREAM).await {
                Ok(t) => {
                    let parsed = match protocol {
                        Protocol::Chat => types::parse_completion(&t).map(drop),
                        Protocol::TextGeneration => tgi::parse_text_generation(&t).map(drop),
                    };
                    match parsed {
                        Err(e) => e,
                        Ok(()) => crate::response::not_a_stream(&t),
                    }
                }
                Err((e, _)) => e,
            };
            Opened::Failed(e, None, ResponseHints::default())
        }
    }
}

/// A failed attempt: ask the core's plan what follows. On a retry, sleep (cut short by
/// the caller's signal or `abort()`) and send again; on a fallback, send to the next
/// target at once; either way return true. Otherwise end the stream with the error (or
/// as aborted) and return false. Nothing delivered to the caller is ever sent again:
/// the plan gives up once anything was.
async fn retry_or_fail(
    rc: &Rc<RefCell<Inner>>,
    e: Error,
    cause: Option<JsValue>,
    hints: ResponseHints,
) -> bool {
    if e.kind == ErrorKind::Aborted {
        finish(rc, Outcome::Aborted);
        return false;
    }
    if rc.borrow().outcome.is_some() {
        return false;
    }
    let spec = rc.borrow().spec.clone();
    let from = rc.borrow().plan.current();
    spec.record(from, Err(&e));
    if let Some(r) = &spec.record {
        r.metering().failed(&spec.target(from).upstream, &e, &hints);
    }
    let next = {
        let mut inner = rc.borrow_mut();
        let delivered = inner.delivered;
        inner.plan.on_failure(
            &e,
            &hints,
            delivered,
            js_sys::Date::now(),
            transport::random(),
        )
    };
    // The callbacks may call `abort()`, which needs the state: no borrow across them.
    match next {
        Next::GiveUp => {
            let e = rc.borrow().plan.final_error(e);
            fail_recorded(rc, e, cause, false);
            return false;
        }
        Next::Fallback { to } => {
            if let Err(thrown) = notify_fallback(&spec, from, to, &e) {
                finish(rc, Outcome::Thrown(thrown));
                return false;
            }
        }
        Next::Retry { after_ms } => {
            let attempt = rc.borrow().plan.retries();
            if let Err(thrown) = notify_retry(&spec, attempt, &e, after_ms) {
                finish(rc, Outcome::Thrown(thrown));
                return false;
            }
            let sleep = Sleep::new(after_ms, spec.signal.as_ref());
            rc.borrow_mut().wake = Some(sleep.waker());
            sleep.wait().await;
            rc.borrow_mut().wake = None;
        }
    }
    if rc.borrow().outcome.is_some() {
        return false;
    }
    if spec.aborted() {
        finish(rc, Outcome::Aborted);
        return false;
    }
    let t = rc.borrow().plan.current();
    let started = spec.start(t);
    let mut inner = rc.borrow_mut();
    match started {
        Ok(call) => inner.call = Some(call),
        Err(e) => {
            inner.call = None;
            inner.start_error = Some(e);
        }
    }
    inner.body = Body::Pending;
    inner.dec = StreamDecoder::new(inner.spec.protocol, inner.dec.options());
    inner.batch = None;
    inner.terminal = None;
    true
}

/// End as the core said: at `[DONE]`, at the end of the body, or at an error.
fn end_with(rc: &Rc<RefCell<Inner>>, terminal: Terminal) {
    match terminal {
        Terminal::Done => {
            cancel_body(rc);
            let json = rc.borrow().dec.snapshot_json();
            let completion = json_to_js(&json);
            {
                let inner = rc.borrow();
                set_route(&completion, &inner.spec, inner.plan.current());
            }
            {
                let mut inner = rc.borrow_mut();
                inner.final_completion = Some(completion);
                inner.final_text = Some(inner.dec.text().into_owned());
                inner.final_json = Some(json);
            }
            finish(rc, Outcome::Done);
        }
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
        if inner.final_completion.is_none() {
            let partial = json_to_js(&inner.dec.snapshot_json());
            inner.final_completion = Some(partial);
        }
        if inner.final_text.is_none() {
            let text = inner.dec.text().into_owned();
            inner.final_text = Some(text);
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

    let completion = rc
        .borrow()
        .final_completion
        .clone()
        .unwrap_or(JsValue::UNDEFINED);
    let report = |r: Result<JsValue, JsValue>| {
        if let Err(e) = r {
            // A throwing end callback is reported like a throwing event listener.
            let _ = Promise::reject(&e);
        }
    };
    match &outcome {
        Outcome::Done => {
            if let Some(f) = cb_finish {
                report(f.call1(
                    &JsValue::UNDEFINED,
                    &finish_info(rc, &completion, false, false),
                ));
            }
        }
        Outcome::Aborted => {
            if let Some(f) = cb_abort {
                report(f.call1(&JsValue::UNDEFINED, &completion));
            }
            if let Some(f) = cb_finish {
                report(f.call1(
                    &JsValue::UNDEFINED,
                    &finish_info(rc, &completion, true, false),
                ));
            }
        }
        Outcome::Failed {
            error, truncated, ..
        } => {
            if let Some(f) = cb_error {
                report(f.call1(&JsValue::UNDEFINED, error));
            }
            if *truncated {
                if let Some(f) = cb_finish {
                    report(f.call1(
                        &JsValue::UNDEFINED,
                        &finish_info(rc, &completion, false, true),
                    ));
                }
            }
        }
        Outcome::Thrown(_) => {}
    }
    settle_waiters(rc);
}

/// Report the call's usage, cost and latency (and store a complete answer in the cache).
fn end_record(rc: &Rc<RefCell<Inner>>, outcome: &Outcome) {
    let (record, usage, store, provider, request_id, attempts, url) = {
        let inner = rc.borrow();
        let Some(record) = inner.spec.record.clone() else {
            return;
        };
        let usage = inner.dec.token_usage(record.prompt_estimate);
        let store = match outcome {
            Outcome::Done if inner.dec.storable() => inner.final_json.clone(),
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

fn finish_info(
    rc: &Rc<RefCell<Inner>>,
    completion: &JsValue,
    aborted: bool,
    truncated: bool,
) -> JsValue {
    let o = Object::new();
    set(&o, "completion", completion);
    let reason = rc
        .borrow()
        .dec
        .finish_reason()
        .map(JsValue::from_str)
        .unwrap_or(JsValue::NULL);
    set(&o, "finishReason", &reason);
    let usage = Reflect::get(completion, &JsValue::from_str("usage")).unwrap_or(JsValue::UNDEFINED);
    set(
        &o,
        "usage",
        &if usage.is_null() {
            JsValue::UNDEFINED
        } else {
            usage
        },
    );
    set(&o, "aborted", &aborted.into());
    set(&o, "truncated", &truncated.into());
    o.into()
}

fn settle_waiters(rc: &Rc<RefCell<Inner>>) {
    let (waiters, outcome, completion, text) = {
        let mut inner = rc.borrow_mut();
        let Some(outcome) = inner.outcome.clone() else {
            return;
        };
        (
            std::mem::take(&mut inner.waiters),
            outcome,
            inner.final_completion.clone().unwrap_or(JsValue::UNDEFINED),
            inner.final_text.clone().unwrap_or_default(),
        )
    };
    for w in waiters {
        let _ = match &outcome {
            Outcome::Failed { error, .. } | Outcome::Thrown(error) => {
                w.reject.call1(&JsValue::UNDEFINED, error)
            }
            _ => match w.want {
                Want::Completion => w.resolve.call1(&JsValue::UNDEFINED, &completion),
                Want::Text => w
                    .resolve
                    .call1(&JsValue::UNDEFINED, &JsValue::from_str(&text)),
            },
        };
    }
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
