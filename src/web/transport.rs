//! The only code that awaits the network.
//!
//! Owns: one HTTP call as the Rust side sees it: its core [`Watchdog`] (shared with the
//! call's timer as a [`Deadlines`]), awaiting the headers and each body read, mapping a
//! rejection to a typed error, and reading a body whole. The mechanics are JavaScript
//! (`js/wire.js`): calling `fetch` (the caller's or the global one), the
//! `AbortController`, the listener on the caller's `AbortSignal`, the one timer, the
//! backoff sleep; each is a callback, which from Rust would be a wasm-bindgen closure and
//! its glue. Must never: decide what a status or a body means (that is
//! `crate::response` and `crate::stream`), or wait without a bound: every await here is
//! cut short by the controller, which the watchdog and the caller's signal abort.
//!
//! Why a rejection happened is recorded before the controller is aborted (`Wire.cause`,
//! and the deadline that ran out in the `Deadlines`), so a rejected `fetch` or `read()`
//! maps to the right error: the caller aborted, a named timeout fired, or the network
//! failed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use web_sys::{AbortSignal, Headers, ReadableStreamDefaultReader};

use super::error::describe;
use super::sys;
use crate::error::{Error, TimeoutKind};
use crate::timeouts::{expects_event_stream, Check, FetchResolves, Phase, Timeouts, Watchdog};

#[wasm_bindgen(module = "/js/wire.js")]
extern "C" {
    /// `js/wire.js`'s `Wire`: the fetch, its controller, the caller's signal, the timer.
    #[derive(Clone)]
    type Wire;
    #[wasm_bindgen(constructor, catch)]
    fn new(
        fetch: Option<&Function>,
        url: &str,
        headers: &str,
        body: Option<&str>,
        signal: Option<&AbortSignal>,
        manual_redirect: bool,
        deadlines: Deadlines,
    ) -> Result<Wire, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn fetch(this: &Wire) -> Promise;
    #[wasm_bindgen(method, getter)]
    fn cause(this: &Wire) -> u32;
    #[wasm_bindgen(method)]
    fn arm(this: &Wire);
    #[wasm_bindgen(method)]
    fn abort(this: &Wire, cause: u32);
    #[wasm_bindgen(method)]
    fn end(this: &Wire);

    /// The headers as `name\nvalue\n` lines: one crossing for all of them.
    #[wasm_bindgen(js_name = headerLines)]
    pub(crate) fn header_lines(headers: &Headers) -> String;
    // `catch` on these two also keeps wasm-bindgen from importing them raw, which it
    // does through one duplicate `import * as` per function (a bundler warning).
    #[wasm_bindgen(catch, js_name = cancelReader)]
    fn cancel_reader(reader: &ReadableStreamDefaultReader) -> Result<(), JsValue>;
    /// A promise that settles, never rejects, when `p` does.
    #[wasm_bindgen(catch, js_name = settled)]
    fn settled_js(p: &Promise) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = userAgent)]
    fn user_agent() -> Option<String>;
}

/// `Wire.cause`: not aborted, the caller's signal (or `abort()`), a watchdog deadline.
const NOT_ABORTED: u32 = 0;
const BY_USER: u32 = 1;
const BY_TIMEOUT: u32 = 2;

/// Why the call's controller was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    User,
    Timeout(TimeoutKind, u64),
}

/// The core's watchdog of one call, shared with its `Wire`, whose timer asks it when to
/// fire (`check`). Not constructible from JavaScript.
#[wasm_bindgen]
pub struct Deadlines {
    watch: Rc<Watch>,
}

struct Watch {
    watchdog: RefCell<Watchdog>,
    /// The deadline that ran out, once one did.
    expired: Cell<Option<(TimeoutKind, u64)>>,
}

#[wasm_bindgen]
impl Deadlines {
    /// Milliseconds until the next possible deadline, -1 for none, or -2 when one ran
    /// out (recorded here for the call's error).
    pub fn check(&self, now: f64) -> f64 {
        let check = self.watch.watchdog.borrow_mut().tick(now);
        match check {
            Check::Expired { which, after_ms } => {
                self.watch.expired.set(Some((which, after_ms)));
                -(BY_TIMEOUT as f64)
            }
            Check::Wait(None) => -1.0,
            Check::Wait(Some(ms)) => ms as f64,
        }
    }
}

/// One HTTP request and its body, cancellable, with its deadlines. Clones share the
/// call; the watchdog stops when the last one is dropped.
#[derive(Clone)]
pub(crate) struct Call {
    shared: Rc<Shared>,
}

struct Shared {
    wire: Wire,
    watch: Rc<Watch>,
}

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
        let watch = Rc::new(Watch {
            watchdog: RefCell::new(Watchdog::for_request(
                timeouts,
                sys::performance_now(),
                FETCH_RESOLVES.with(|r| *r),
                expects_event_stream(headers),
            )),
            expired: Cell::new(None),
        });
        let mut lines = String::new();
        for (name, value) in headers {
            lines.push_str(name);
            lines.push('\n');
            lines.push_str(value);
            lines.push('\n');
        }
        let deadlines = Deadlines {
            watch: watch.clone(),
        };
        let wire = Wire::new(fetch, url, &lines, body, signal, manual_redirect, deadlines)
            .map_err(|e| {
                let mut err = Error::network(&describe(&e));
                err.retryable = false;
                err
            })?;
        Ok(Call {
            shared: Rc::new(Shared { wire, watch }),
        })
    }

    /// Body bytes moved (each read; the proxy's pass-through reports them): the idle
    /// timeout starts again. Reads no clock (this runs once per read): the watchdog notes the read, and its
    /// timer counts it when it next ticks ([`Watchdog::touch`]); only the first bytes,
    /// which end the first-chunk wait, take the time.
    pub(crate) fn activity(&self) {
        let rearm = {
            let mut w = self.shared.watch.watchdog.borrow_mut();
            w.touch() && w.activity(sys::performance_now())
        };
        if rearm {
            self.shared.wire.arm();
        }
    }

    /// The `Wire` behind the call, for a JavaScript loop that awaits it itself.
    pub(crate) fn wire(&self) -> JsValue {
        self.shared.wire.clone().into()
    }

    /// [`Call::rejection`] of a call that may not be there (its rejection then can only
    /// mean it was never sent: the JavaScript loops await only a call's own `Wire`).
    pub(crate) fn rejection_of(
        call: Option<&Call>,
        e: JsValue,
        before_headers: bool,
    ) -> (Error, Option<JsValue>) {
        match call {
            Some(call) => call.rejection(e, before_headers),
            None => (Error::network("the request was not sent"), None),
        }
    }

    /// [`Call::wire`] of a call that may not be there (`undefined` then).
    pub(crate) fn wire_of(call: Option<&Call>) -> JsValue {
        call.map_or(JsValue::UNDEFINED, Call::wire)
    }

    /// The response headers came (the fetch resolved): the first-chunk wait begins.
    pub(crate) fn headers_came(&self) {
        self.shared
            .watch
            .watchdog
            .borrow_mut()
            .enter(Phase::FirstChunk, sys::performance_now());
        self.shared.wire.arm();
    }

    /// Why the request was aborted, if it was.
    pub(crate) fn aborted(&self) -> Option<Cause> {
        match self.shared.wire.cause() {
            NOT_ABORTED => None,
            BY_USER => Some(Cause::User),
            _ => self
                .shared
                .watch
                .expired
                .get()
                .map(|(kind, ms)| Cause::Timeout(kind, ms)),
        }
    }

    /// Abort the request because the caller asked.
    pub(crate) fn abort(&self) {
        self.shared.wire.abort(BY_USER);
    }

    /// The call is over: stop the watchdog and let go of the caller's signal. Does not
    /// abort the request (a finished body needs no abort).
    pub(crate) fn end(&self) {
        self.shared.end();
    }

    /// Map a rejected `fetch` or `read()` to our error, by why the controller was
    /// aborted, if it was.
    pub(crate) fn rejection(&self, e: JsValue, before_headers: bool) -> (Error, Option<JsValue>) {
        match self.aborted() {
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
    fn end(&self) {
        self.watch.watchdog.borrow_mut().enter(Phase::Done, 0.0);
        self.wire.end();
    }
}

thread_local! {
    /// When this engine's `fetch()` resolves (at headers, or only with the first body
    /// bytes: Gecko), from `navigator.userAgent`, read once.
    static FETCH_RESOLVES: FetchResolves = FetchResolves::for_user_agent(user_agent().as_deref());
}

/// Cancel a body reader. The returned promise rejects when the body already failed (an
/// aborted request): that is expected and must not surface as an unhandled rejection.
pub(crate) fn cancel(reader: &ReadableStreamDefaultReader) {
    let _ = cancel_reader(reader);
}

/// A promise that settles, never rejects, when `p` does.
pub(crate) fn settled(p: &Promise) -> Promise {
    settled_js(p).unwrap_or_else(|_| p.clone())
}
