//! The only code that awaits the network.
//!
//! Owns: one HTTP call: calling `fetch` (the caller's or the global one), the
//! `AbortController` behind it, the caller's `AbortSignal`, the one watchdog timer that
//! enforces the core's [`Watchdog`] deadlines, and reading the body. Must never: decide
//! what a status or a body means (that is `crate::response` and `crate::stream`), or
//! wait without a bound: every await here is cut short by the controller, which the
//! watchdog and the caller's signal abort.
//!
//! Why a rejection happened is recorded before the controller is aborted, so a rejected
//! `fetch` or `read()` maps to the right error: the caller aborted, a named timeout
//! fired, or the network failed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, Response};

use super::error::{describe, set};
use super::sys;
use crate::error::{Error, TimeoutKind};
use crate::protocol::Protocol;
use crate::providers::Target;
use crate::retry::{
    breaker_outcome, circuit_open_error, Admit, Breakers, Outcome as BreakerOutcome, ResponseHints,
    RetryOptions,
};
use crate::timeouts::{expects_event_stream, Check, FetchResolves, Phase, Timeouts, Watchdog};

/// Why the call's controller was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    User,
    Timeout(TimeoutKind, u64),
}

/// One HTTP request and its body, cancellable, with its deadlines. Clones share the
/// call; the watchdog stops when the last one is dropped.
#[derive(Clone)]
pub(crate) struct Call {
    shared: Rc<Shared>,
    fetch: Promise,
}

struct Shared {
    controller: AbortController,
    cause: Cell<Option<Cause>>,
    watchdog: RefCell<Watchdog>,
    /// The pending `setTimeout` handle.
    timer: RefCell<Option<JsValue>>,
    /// The watchdog's handler, re-armed as long as the call lives. Holds a `Weak` to
    /// `Shared`, so no cycle keeps the call alive.
    on_timer: RefCell<Option<Closure<dyn FnMut()>>>,
    /// The caller's signal and our listener on it, removed when the call ends.
    signal: RefCell<Option<SignalListener>>,
}

/// A listener we added to the caller's `AbortSignal`.
type SignalListener = (AbortSignal, Closure<dyn FnMut()>);

impl Call {
    /// Send a request now. `headers` in order; `body` the JSON text of a POST, `None`
    /// for a GET.
    pub(crate) fn start(
        fetch: Option<&Function>,
        url: &str,
        headers: &[(String, String)],
        body: Option<&str>,
        timeouts: Timeouts,
        signal: Option<&AbortSignal>,
        manual_redirect: bool,
    ) -> Result<Call, Error> {
        if signal.is_some_and(|s| s.aborted()) {
            return Err(Error::aborted());
        }
        let controller = AbortController::new().map_err(|e| Error::network(&describe(&e)))?;
        let shared = Rc::new(Shared {
            controller,
            cause: Cell::new(None),
            watchdog: RefCell::new(Watchdog::for_request(
                timeouts,
                sys::performance_now(),
                FETCH_RESOLVES.with(|r| *r),
                expects_event_stream(headers),
            )),
            timer: RefCell::new(None),
            on_timer: RefCell::new(None),
            signal: RefCell::new(None),
        });

        let weak = Rc::downgrade(&shared);
        *shared.on_timer.borrow_mut() = Some(Closure::new(move || {
            if let Some(s) = weak.upgrade() {
                s.timer_fired();
            }
        }));
        if let Some(signal) = signal {
            let weak = Rc::downgrade(&shared);
            let listener: Closure<dyn FnMut()> = Closure::new(move || {
                if let Some(s) = weak.upgrade() {
                    s.abort(Cause::User);
                }
            });
            let _ =
                signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
            *shared.signal.borrow_mut() = Some((signal.clone(), listener));
        }

        let init = Object::new();
        set(
            &init,
            "method",
            &if body.is_some() { "POST" } else { "GET" }.into(),
        );
        let h = Object::new();
        for (name, value) in headers {
            set(&h, name, &value.into());
        }
        set(&init, "headers", &h);
        if let Some(body) = body {
            set(&init, "body", &body.into());
        }
        if manual_redirect {
            // The proxy's token must never follow a redirect to another host.
            set(&init, "redirect", &"manual".into());
        }
        set(&init, "signal", &shared.controller.signal());

        let fetch_result = match fetch {
            Some(f) => f.call2(&JsValue::UNDEFINED, &url.into(), &init),
            None => global_fetch().and_then(|f| f.call2(&js_sys::global(), &url.into(), &init)),
        };
        let promise = match fetch_result {
            Ok(p) => Promise::resolve(&p),
            Err(e) => {
                shared.end();
                let mut err = Error::network(&describe(&e));
                err.retryable = false;
                return Err(err);
            }
        };
        // Mark the promise handled: a call nobody consumes must not report an
        // unhandled rejection. Awaiting `promise` itself still sees the rejection.
        NOOP.with(|noop| {
            let _ = promise.catch(noop);
        });
        shared.arm();
        Ok(Call {
            shared,
            fetch: promise,
        })
    }

    /// Body bytes moved (the proxy's pass-through reports them): the idle timeout
    /// starts again.
    pub(crate) fn activity(&self) {
        self.shared.activity();
    }

    /// Wait for the response headers.
    pub(crate) async fn response(&self) -> Result<Response, (Error, Option<JsValue>)> {
        let result = JsFuture::from(self.fetch.clone()).await;
        match result {
            Ok(v) => {
                let response: Response = v.dyn_into().map_err(|_| {
                    (
                        Error::network("the `fetch` function did not return a Response"),
                        None,
                    )
                })?;
                self.shared.enter(Phase::FirstChunk);
                Ok(response)
            }
            Err(e) => Err(self.rejection(e, true)),
        }
    }

    /// The next body chunk, `None` at the end of the body.
    pub(crate) async fn read(
        &self,
        reader: &ReadableStreamDefaultReader,
    ) -> Result<Option<Uint8Array>, (Error, Option<JsValue>)> {
        let result = JsFuture::from(reader.read()).await;
        match result {
            Ok(r) => {
                let done = Reflect::get(&r, &JsValue::from_str("done"))
                    .map(|d| d.is_truthy())
                    .unwrap_or(true);
                if done {
                    return Ok(None);
                }
                let value =
                    Reflect::get(&r, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
                let bytes: Uint8Array = value.dyn_into().map_err(|_| {
                    (
                        Error::network("the response body yielded something other than bytes"),
                        None,
                    )
                })?;
                self.shared.activity();
                Ok(Some(bytes))
            }
            Err(e) => Err(self.rejection(e, false)),
        }
    }

    /// Why the request was aborted, if it was.
    pub(crate) fn aborted(&self) -> Option<Cause> {
        self.shared.cause.get()
    }

    /// Abort the request because the caller asked.
    pub(crate) fn abort(&self) {
        self.shared.abort(Cause::User);
    }

    /// The call is over: stop the watchdog and let go of the caller's signal. Does not
    /// abort the request (a finished body needs no abort).
    pub(crate) fn end(&self) {
        self.shared.end();
    }

    /// Map a rejected `fetch` or `read()` to our error, by why the controller was
    /// aborted, if it was.
    pub(crate) fn rejection(&self, e: JsValue, before_headers: bool) -> (Error, Option<JsValue>) {
        match self.shared.cause.get() {
            Some(Cause::User) => (Error::aborted(), None),
            Some(Cause::Timeout(kind, ms)) => (Error::timeout(kind, ms), None),
            None => {
                let what = describe(&e);
                let err = if before_headers {
                    Error::network(&what)
                } else {
                    let mut err = Error::network(&format!(
                        "the connection was lost while reading the body ({what})"
                    ));
                    err.retryable = false;
                    err
                };
                (err, Some(e))
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.end();
    }
}

impl Shared {
    fn enter(&self, phase: Phase) {
        self.watchdog
            .borrow_mut()
            .enter(phase, sys::performance_now());
        self.arm();
    }

    fn activity(&self) {
        let rearm = self.watchdog.borrow_mut().activity(sys::performance_now());
        if rearm {
            self.arm();
        }
    }

    /// (Re-)arm the one timer for the watchdog's next possible deadline.
    fn arm(&self) {
        if let Some(handle) = self.timer.borrow_mut().take() {
            sys::clear_timeout(&handle);
        }
        let wait = self.watchdog.borrow().check(sys::performance_now());
        match wait {
            Check::Expired { which, after_ms } => self.abort(Cause::Timeout(which, after_ms)),
            Check::Wait(None) => {}
            Check::Wait(Some(ms)) => {
                let on_timer = self.on_timer.borrow();
                if let Some(f) = on_timer.as_ref() {
                    // setTimeout takes a 32-bit delay; the total timeout bounds it anyway.
                    let ms = ms.min(i32::MAX as u64) as i32;
                    *self.timer.borrow_mut() =
                        Some(sys::set_timeout(f.as_ref().unchecked_ref(), ms));
                }
            }
        }
    }

    fn timer_fired(&self) {
        self.timer.borrow_mut().take();
        self.arm();
    }

    fn abort(&self, cause: Cause) {
        if self.cause.get().is_none() {
            self.cause.set(Some(cause));
            self.controller.abort();
        }
        self.end();
    }

    fn end(&self) {
        self.watchdog.borrow_mut().enter(Phase::Done, 0.0);
        if let Some(handle) = self.timer.borrow_mut().take() {
            sys::clear_timeout(&handle);
        }
        if let Some((signal, listener)) = self.signal.borrow_mut().take() {
            let _ = signal
                .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
            // The listener may be running right now (the signal fired): dropping its
            // closure inside its own call is not allowed, so hand it to a later task.
            wasm_bindgen_futures::spawn_local(async move { drop(listener) });
        }
    }
}

thread_local! {
    /// When this engine's `fetch()` resolves (at headers, or only with the first body
    /// bytes: Gecko), from `navigator.userAgent`, read once.
    static FETCH_RESOLVES: FetchResolves = {
        let ua = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
            .ok()
            .filter(|n| n.is_object())
            .and_then(|n| Reflect::get(&n, &JsValue::from_str("userAgent")).ok())
            .and_then(|ua| ua.as_string());
        FetchResolves::for_user_agent(ua.as_deref())
    };

    /// A do-nothing rejection handler, made once.
    pub(crate) static NOOP: Closure<dyn FnMut(JsValue)> = Closure::new(|_| {});
}

/// Everything needed to send a request again, to its primary target or a fallback: a
/// retry re-sends exactly this.
#[cfg(feature = "client")]
#[derive(Clone)]
pub(crate) struct RequestSpec {
    /// What the response stream speaks.
    pub protocol: Protocol,
    pub fetch: Option<Function>,
    pub primary: Target,
    /// Tried in order after the primary, when the core says to move on.
    pub fallbacks: Vec<Target>,
    pub headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    pub signal: Option<AbortSignal>,
    pub retry: RetryOptions,
    /// The client's circuit breakers, one per upstream.
    pub breakers: Rc<RefCell<Breakers>>,
    /// `onRetry` and `onFallback` from the call's options.
    pub on_retry: Option<Function>,
    pub on_fallback: Option<Function>,
    /// What the call reports when it ends (usage, cost, latency), when metered.
    pub record: Option<Rc<super::client::metering::CallRecord>>,
}

#[cfg(feature = "client")]
impl RequestSpec {
    /// Send one attempt to target `t` now, unless its circuit breaker refuses (then the
    /// error is of kind `circuit_open` and nothing was sent).
    pub(crate) fn start(&self, t: usize) -> Result<Call, Error> {
        let target = self.target(t);
        let now = js_sys::Date::now();
        if let Admit::Reject { retry_in_ms } =
            self.breakers.borrow_mut().admit(&target.upstream, now)
        {
            return Err(circuit_open_error(&target.upstream, retry_in_ms));
        }
        Call::start(
            self.fetch.as_ref(),
            &target.url,
            &self.headers,
            Some(&target.body),
            self.timeouts,
            self.signal.as_ref(),
            false,
        )
    }

    /// Target `t`: 0 is the primary, then the fallbacks (the primary again if `t` is
    /// out of range, which the core's plan never asks for).
    pub(crate) fn target(&self, t: usize) -> &Target {
        t.checked_sub(1)
            .and_then(|i| self.fallbacks.get(i))
            .unwrap_or(&self.primary)
    }

    /// How many targets the call has.
    pub(crate) fn target_count(&self) -> usize {
        1 + self.fallbacks.len()
    }

    /// Tell target `t`'s breaker how an attempt went (`Ok` when headers arrived).
    pub(crate) fn record(&self, t: usize, result: Result<(), &Error>) {
        let outcome = match result {
            Ok(()) => BreakerOutcome::Success,
            Err(e) => breaker_outcome(e),
        };
        let upstream = self.target(t).upstream.clone();
        self.breakers
            .borrow_mut()
            .record(&upstream, outcome, js_sys::Date::now());
    }

    /// Whether the caller's signal has fired.
    pub(crate) fn aborted(&self) -> bool {
        self.signal.as_ref().is_some_and(|s| s.aborted())
    }
}

/// What a failed response's headers ask for (`retry-after`, `x-should-retry`, ...).
pub(crate) fn hints(response: &Response) -> ResponseHints {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Ok(Some(iter)) = js_sys::try_iter(&response.headers()) {
        for entry in iter.flatten() {
            let pair = js_sys::Array::from(&entry);
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                pairs.push((name, value));
            }
        }
    }
    ResponseHints::from_headers(
        pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        js_sys::Date::now(),
    )
}

/// A backoff sleep that ends early when the caller's signal fires or [`Sleep::waker`]
/// is called. Its timer and listener are removed when it is dropped.
pub(crate) struct Sleep {
    promise: Promise,
    wake: Function,
    timer: JsValue,
    signal: Option<AbortSignal>,
}

impl Sleep {
    pub(crate) fn new(ms: u64, signal: Option<&AbortSignal>) -> Sleep {
        let mut slot = None;
        // The executor runs synchronously, inside `Promise::new`.
        let promise = Promise::new(&mut |resolve, _reject| slot = Some(resolve));
        let wake = slot.unwrap_or_else(|| Function::from(JsValue::UNDEFINED));
        let ms = ms.min(i32::MAX as u64) as i32;
        let timer = sys::set_timeout(&wake, ms);
        if let Some(signal) = signal {
            let _ = signal.add_event_listener_with_callback("abort", &wake);
        }
        Sleep {
            promise,
            wake,
            timer,
            signal: signal.cloned(),
        }
    }

    /// A function that ends the sleep now.
    pub(crate) fn waker(&self) -> Function {
        self.wake.clone()
    }

    pub(crate) async fn wait(&self) {
        let _ = JsFuture::from(self.promise.clone()).await;
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        sys::clear_timeout(&self.timer);
        if let Some(signal) = &self.signal {
            let _ = signal.remove_event_listener_with_callback("abort", &self.wake);
        }
    }
}

/// A jitter sample in `[0, 1)`.
pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}

/// Cancel a body reader. The returned promise rejects when the body already failed (an
/// aborted request): that is expected and must not surface as an unhandled rejection.
pub(crate) fn cancel(reader: &ReadableStreamDefaultReader) {
    NOOP.with(|noop| {
        let _ = reader.cancel().catch(noop);
    });
}

fn global_fetch() -> Result<Function, JsValue> {
    let f = Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))?;
    f.dyn_into::<Function>().map_err(|_| {
        JsValue::from_str("there is no global `fetch`; pass `fetch` in the client options")
    })
}

/// Read a whole body, up to `max` bytes (the rest is cancelled), as lossy UTF-8.
pub(crate) async fn read_text(
    call: &Call,
    response: &Response,
    max: usize,
) -> Result<String, (Error, Option<JsValue>)> {
    let Some(body) = response.body() else {
        return Ok(String::new());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match call.read(&reader).await? {
            None => break,
            Some(chunk) => {
                let len = chunk.length() as usize;
                let take = len.min(max.saturating_sub(buf.len()));
                let start = buf.len();
                buf.resize(start + take, 0);
                chunk.subarray(0, take as u32).copy_to(&mut buf[start..]);
                if buf.len() >= max {
                    cancel(&reader);
                    break;
                }
            }
        }
    }
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A GET's answer: its status, its body (up to `max` bytes) and the request id.
pub(crate) struct Fetched {
    pub status: u16,
    pub body: String,
    pub request_id: Option<String>,
}

/// One bounded GET (the Hub mapping, the model list): the call's timeouts and signal
/// apply, the body is read whole up to `max` bytes.
pub(crate) async fn get_text(
    fetch: Option<&Function>,
    url: &str,
    headers: &[(String, String)],
    timeouts: Timeouts,
    signal: Option<&AbortSignal>,
    max: usize,
) -> Result<Fetched, (Error, Option<JsValue>)> {
    let call =
        Call::start(fetch, url, headers, None, timeouts, signal, false).map_err(|e| (e, None))?;
    let response = call.response().await?;
    let request_id = crate::response::REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| response.headers().get(h).ok().flatten());
    let body = read_text(&call, &response, max).await?;
    call.end();
    Ok(Fetched {
        status: response.status(),
        body,
        request_id,
    })
}
