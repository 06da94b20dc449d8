//! What every call of the client shares, whatever drives it (a stream's pump, a
//! non-streamed job, the gate before the first attempt): the client's checked
//! configuration, a call's options and its request (`RequestSpec`), and the steps around
//! an attempt: the breaker and the plan after a failure (`decide`), the caller's
//! `onRetry`/`onFallback` (`announce`), the record at the end.
//!
//! Owns: those shared pieces, so the files that drive calls depend on this one and never
//! on each other's parent (no circle among the binding's files). Must never: await, or
//! decide a retry, a route or a cache question itself (`crate::plan`, `crate::providers`,
//! `crate::cache` do).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use super::hub::Lookups;
use super::metering::{CallRecord, Ended, Metering};
use crate::error::Error;
use crate::options::client::{CallOptions, ClientOptions, NOT_A_SIGNAL};
use crate::plan::{Next, Plan};
use crate::protocol::Protocol;
use crate::providers::{Auth, Target};
use crate::retry::{
    breaker_outcome, circuit_open_error, Admit, Breakers, Outcome as BreakerOutcome, ResponseHints,
    RetryOptions,
};
use crate::timeouts::Timeouts;
use crate::types;
use crate::web::error::{set, to_js};
use crate::web::options::{hand_over, Handed};
use crate::web::transport::Call as Wire;

pub(super) struct Config {
    pub(super) auth: Auth,
    /// The checked options (their token is in `auth`, their metering in `metering`).
    pub(super) o: ClientOptions,
    pub(super) fetch: Option<Function>,
    pub(super) breakers: Rc<RefCell<Breakers>>,
    pub(super) lookups: Lookups,
    pub(super) metering: Rc<Metering>,
}

impl Config {
    pub(super) fn token(&self) -> Option<String> {
        self.auth.secret().map(str::to_owned)
    }

    pub(super) fn redact(&self, e: Error) -> Error {
        match self.auth.secret() {
            Some(t) => e.redact(t),
            None => e,
        }
    }
}

/// A call's options as the core read them, with the JS values they point at.
pub(super) struct Call {
    pub o: CallOptions,
    pub handed: Handed,
    pub signal: Option<AbortSignal>,
}

impl Call {
    /// Read a call's `options` over the client's.
    pub(super) fn read(cfg: &Config, options: &JsValue) -> Result<Call, Error> {
        let handed = hand_over(options)?;
        let o = crate::options::client::call_options(
            &handed.json,
            cfg.o.timeouts,
            cfg.o.retry,
            &cfg.o.headers,
        )?;
        let signal = match handed.value(o.signal) {
            None => None,
            Some(s) => Some(s.dyn_into().map_err(|_| Error::input(NOT_A_SIGNAL))?),
        };
        Ok(Call { o, handed, signal })
    }

    pub(super) fn function(&self, js: Option<crate::options::Js>) -> Option<Function> {
        self.handed.function(js)
    }
}

/// Everything needed to send a request again, to its primary target or a fallback: a
/// retry re-sends exactly this.
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
    pub record: Option<Rc<super::metering::CallRecord>>,
}

impl RequestSpec {
    /// Send one attempt to target `t` now, unless its circuit breaker refuses (then the
    /// error is of kind `circuit_open` and nothing was sent).
    pub(crate) fn start(&self, t: usize) -> Result<Wire, Error> {
        let target = self.target(t);
        let now = js_sys::Date::now();
        if let Admit::Reject { retry_in_ms } =
            self.breakers.borrow_mut().admit(&target.upstream, now)
        {
            return Err(circuit_open_error(&target.upstream, retry_in_ms));
        }
        Wire::start(
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

/// A jitter sample in `[0, 1)`.
pub(super) fn random() -> f64 {
    js_sys::Math::random()
}

/// `route` on a completion: which target answered (`{ index, model, upstream }`).
pub(super) fn route_of(spec: &RequestSpec, t: usize) -> JsValue {
    let target = spec.target(t);
    let o = Object::new();
    set(&o, "index", &(t as f64).into());
    if let Some(m) = &target.model {
        set(&o, "model", &m.as_str().into());
    }
    set(&o, "upstream", &target.upstream.as_str().into());
    o.into()
}

pub(super) fn set_route(completion: &JsValue, spec: &RequestSpec, t: usize) {
    if completion.is_object() {
        let _ = js_sys::Reflect::set(completion, &JsValue::from_str("route"), &route_of(spec, t));
    }
}

/// A failed attempt to target `t`: its breaker and the rate limiter hear of it, then
/// the core's plan says what follows (`delivered`: something reached the caller).
pub(super) fn decide(
    spec: &RequestSpec,
    plan: &mut Plan,
    e: &Error,
    hints: &ResponseHints,
    delivered: bool,
) -> Next {
    let t = plan.current();
    spec.record(t, Err(e));
    if let Some(r) = &spec.record {
        r.metering().failed(&spec.target(t).upstream, e, hints);
    }
    plan.on_failure(e, hints, delivered, js_sys::Date::now(), random())
}

/// The caller's callback for what [`decide`] said after a failure on target `from`
/// (`onRetry` before retry number `retries`'s sleep, `onFallback` before moving on). An
/// exception thrown by the callback stops the call and comes back out as the cause.
pub(super) fn announce(
    spec: &RequestSpec,
    next: Next,
    from: usize,
    retries: u32,
    e: &Error,
) -> Result<(), JsValue> {
    match next {
        Next::GiveUp => Ok(()),
        Next::Fallback { to } => notify_fallback(spec, from, to, e),
        Next::Retry { after_ms } => notify_retry(spec, retries, e, after_ms),
    }
}

/// `onRetry({ attempt, delayMs, error })` before a retry's sleep. An exception thrown by
/// the callback stops the call and comes back out as the cause.
pub(super) fn notify_retry(
    spec: &RequestSpec,
    attempt: u32,
    e: &Error,
    after_ms: u64,
) -> Result<(), JsValue> {
    let Some(f) = &spec.on_retry else {
        return Ok(());
    };
    let info = Object::new();
    set(&info, "attempt", &(attempt as f64).into());
    set(&info, "delayMs", &(after_ms as f64).into());
    set(&info, "error", &to_js(e, None, None));
    f.call1(&JsValue::UNDEFINED, &info).map(|_| ())
}

/// `onFallback({ from, to, error })` before moving to the next target (`from`/`to` are
/// routes). An exception thrown by the callback stops the call.
pub(super) fn notify_fallback(
    spec: &RequestSpec,
    from: usize,
    to: usize,
    e: &Error,
) -> Result<(), JsValue> {
    let Some(f) = &spec.on_fallback else {
        return Ok(());
    };
    let info = Object::new();
    set(&info, "from", &route_of(spec, from));
    set(&info, "to", &route_of(spec, to));
    set(&info, "error", &to_js(e, None, None));
    f.call1(&JsValue::UNDEFINED, &info).map(|_| ())
}

/// A non-streamed answer: the JS value handed out, the text it was made from (what the
/// cache stores and usage is read from), and who answered.
pub(super) struct Done {
    pub value: JsValue,
    pub text: String,
    /// The answer as the core read it, for its facts.
    pub parsed: crate::protocol::Parsed,
    pub provider: Option<String>,
    pub request_id: Option<String>,
    pub url: String,
}

/// A record's ending with no answer.
pub(super) fn ended<'a>(
    outcome: crate::meter::CallOutcome,
    usage: Option<crate::usage::TokenUsage>,
    url: &'a str,
    attempts: u32,
) -> Ended<'a> {
    Ended {
        outcome,
        usage,
        provider_header: None,
        body_extra: None,
        request_id: None,
        attempts,
        store: None,
        url,
    }
}

/// Record a non-streamed answer: its usage (reported, else estimated when asked), who
/// served it, and the answer for the cache when it is complete.
pub(super) fn finish_record(r: &CallRecord, done: Done, attempts: u32) {
    let facts = crate::protocol::answer_facts_of(done.parsed, r.prompt_estimate);
    r.end(Ended {
        outcome: crate::meter::CallOutcome::Completed,
        usage: facts.usage,
        provider_header: done.provider.as_deref(),
        body_extra: facts.extra.as_ref(),
        request_id: done.request_id.clone(),
        attempts,
        store: facts.storable.then_some(done.text.as_str()),
        url: &done.url,
    });
}

/// A cached answer handed out as a completion, recorded as a hit.
pub(super) fn answer_from_cache(r: &CallRecord, hit: &str, spec: &RequestSpec) -> JsValue {
    let value = JSON::parse(hit).unwrap_or(JsValue::UNDEFINED);
    if value.is_object() {
        let _ = js_sys::Reflect::set(&value, &JsValue::from_str("cached"), &JsValue::TRUE);
    }
    let usage = types::parse_completion(hit)
        .ok()
        .and_then(|c| crate::usage::TokenUsage::from_completion(&c));
    r.end(ended(
        crate::meter::CallOutcome::Completed,
        usage,
        &spec.primary.url,
        0,
    ));
    value
}

/// A `fetch` that answers with `sse` as an event stream: a cached answer replayed
/// through the stream pump.
pub(super) fn replay_fetch(sse: String) -> Function {
    let f =
        Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |_: JsValue, _: JsValue| {
            let init = web_sys::ResponseInit::new();
            init.set_status(200);
            let headers = web_sys::Headers::new().ok();
            if let Some(h) = &headers {
                let _ = h.set("content-type", "text/event-stream");
                let _ = h.set("x-cache", "hit");
                init.set_headers(h);
            }
            match web_sys::Response::new_with_opt_str_and_init(Some(&sse), &init) {
                Ok(r) => Promise::resolve(&r).into(),
                Err(e) => Promise::reject(&e).into(),
            }
        });
    f.into_js_value().unchecked_into()
}
