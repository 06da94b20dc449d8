//! A client's usage features in the shell: the meter and price table, the response
//! cache, the client-side rate limiter and the difficulty router, and the per-call
//! record each call fills in as it goes.
//!
//! Owns: holding the core's state (`crate::meter`, `crate::usage`, `crate::cache`,
//! `crate::ratelimit`, `crate::difficulty`) for one client, waiting for a rate-limit
//! admission (one timer for the whole queue), calling a pluggable cache store, and
//! turning records, snapshots and alerts into JS objects. Must never: decide what is
//! cacheable, what a call costs, whether a budget is spent or when a queued call may
//! go (the core does), or wait without a bound (a queued call waits for the limiter's
//! wake time or the caller's signal, never longer than `maxWaitMs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::json::Value;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::cache::{self, CacheKey, CacheMode, MemoryCache};
use crate::difficulty::{Chosen, Router};
use crate::error::Error;
use crate::meter::{Alert, CallClock, CallOutcome, Meter, MeterSnapshot, RequestRecord};
use crate::options::client::MeteringOptions;
use crate::ratelimit::{Acquire, Limiter, Permit, Ticket};
use crate::retry::ResponseHints;
use crate::usage::{PriceTable, TokenUsage};
use crate::vecmap::VecMap;
use crate::web::options::Handed;
use crate::web::sys;

/// The longest a call waits in the client's rate-limit queue.
pub(crate) const MAX_QUEUE_WAIT_MS: u64 = 10 * 60 * 1000;

/// The rate limiter's answer to a call.
pub(crate) enum Admission {
    /// Go now, holding this permit (`None`: there is no limiter).
    Now(Option<Permit>),
    /// Wait in the queue until the promise settles.
    Queued(Ticket, Promise),
}

/// Milliseconds since the epoch, as the core's clock.
pub(crate) fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// The response cache of a client.
pub(crate) struct Cache {
    pub mode: CacheMode,
    /// Cached streams replay as streams (opt-in).
    pub streams: bool,
    memory: RefCell<MemoryCache>,
    /// `{ get(id), put(id, value, ttlMs) }`, both may return promises.
    store: Option<Object>,
    ttl_ms: u64,
}

/// What a client meters and limits; one per `InferenceClient`.
pub(crate) struct Metering {
    pub prices: RefCell<PriceTable>,
    meter: RefCell<Meter>,
    pub cache: Option<Cache>,
    limiter: Option<RefCell<Limiter>>,
    /// Queued calls' resolvers by ticket, and the one wake-up timer.
    waiters: RefCell<VecMap<Ticket, Function>>,
    /// Permits granted to queued calls, until they pick them up.
    permits: RefCell<VecMap<Ticket, Permit>>,
    timer: RefCell<Option<JsValue>>,
    on_timer: RefCell<Option<Closure<dyn FnMut()>>>,
    pub router: Option<Router>,
    pub estimate: bool,
    on_usage: Option<Function>,
    on_spike: Option<Function>,
    on_budget: Option<Function>,
}

impl Metering {
    /// The client's metering, from its checked options (`handed`: the JS values they
    /// point at).
    pub(crate) fn new(o: MeteringOptions, handed: &Handed) -> Result<Rc<Metering>, Error> {
        let cache = match o.cache {
            None => None,
            Some(c) => Some(Cache {
                mode: c.mode,
                streams: c.streams,
                memory: RefCell::new(MemoryCache::new(c.options)),
                store: match handed.value(c.store) {
                    None => None,
                    Some(s) => Some(store(s)?),
                },
                ttl_ms: c.options.ttl_ms,
            }),
        };
        let limiter = match o.rate_limit {
            None => None,
            Some(r) => Some(RefCell::new(Limiter::new(r)?)),
        };
        Ok(Rc::new(Metering {
            prices: RefCell::new(o.prices),
            meter: RefCell::new(Meter::new(o.meter)?),
            cache,
            limiter,
            waiters: RefCell::new(VecMap::new()),
            permits: RefCell::new(VecMap::new()),
            timer: RefCell::new(None),
            on_timer: RefCell::new(None),
            router: o.router,
            estimate: o.estimate,
            on_usage: handed.function(o.on_usage),
            on_spike: handed.function(o.on_spike),
            on_budget: handed.function(o.on_budget),
        }))
    }

    /// Whether a call must pass through [`CallRecord::gate`] before it is sent (a cache,
    /// a budget or a rate limit is configured).
    pub(crate) fn gates(&self) -> bool {
        self.cache.is_some()
            || self.limiter.is_some()
            || self.meter.borrow().options().budget.is_some()
    }

    /// Fail fast when the budget is spent.
    pub(crate) fn check_budget(&self) -> Result<(), Error> {
        self.meter.borrow().check_budget(now())
    }

    /// The key a call is cached under (`crate::cache::call_key` decides), `None` when
    /// the client has no cache or the call is not cached.
    pub(crate) fn cache_key(
        &self,
        chat: bool,
        stream: bool,
        body: &str,
        url: &str,
        call: Option<CacheMode>,
    ) -> Option<CacheKey> {
        let c = self.cache.as_ref()?;
        cache::call_key(chat, stream, c.streams, c.mode, call, body, url)
    }

    /// A stored answer for `key` in the memory cache, if fresh.
    pub(crate) fn cache_memory(&self, key: &CacheKey) -> Option<String> {
        let c = self.cache.as_ref()?;
        let v = c.memory.borrow_mut().get(key, now())?;
        Some(v.to_string())
    }

    /// The pluggable cache store, when there is one.
    pub(crate) fn cache_store(&self) -> Option<&Object> {
        self.cache.as_ref()?.store.as_ref()
    }

    /// Store a complete answer under `key` (errors of an external store are ignored:
    /// the cache is an optimisation).
    pub(crate) fn cache_put(&self, key: &CacheKey, answer: &str) {
        let Some(c) = &self.cache else { return };
        match &c.store {
            None => {
                let _ = c.memory.borrow_mut().put(key, answer, now());
            }
            Some(store) => {
                let value = key.store_entry(answer);
                let args = Array::of3(
                    &key.id.hex().into(),
                    &value.into(),
                    &(c.ttl_ms as f64).into(),
                );
                let _ = call_store(store, "put", &args);
            }
        }
    }

    /// Ask the rate limiter to admit a call of `est_tokens` to `upstream`: a permit (or
    /// `None`: there is no limiter) now, or a ticket in the queue and the promise that
    /// settles when the call is admitted (then [`Metering::dequeue`]). A full queue is
    /// a `rate_limited` error.
    pub(crate) fn enqueue(
        self: &Rc<Self>,
        est_tokens: u64,
        upstream: &str,
    ) -> Result<Admission, Error> {
        let Some(limiter) = &self.limiter else {
            return Ok(Admission::Now(None));
        };
        let acquired = limiter.borrow_mut().acquire(est_tokens, upstream, now());
        let ticket = match acquired {
            Acquire::Admit(p) => return Ok(Admission::Now(Some(p))),
            Acquire::Reject(e) => return Err(e),
            Acquire::Queued(t) => t,
        };
        let mut slot = None;
        let admitted = Promise::new(&mut |resolve, _| slot = Some(resolve));
        if let Some(resolve) = slot {
            self.waiters.borrow_mut().insert(ticket, resolve);
        }
        self.pump();
        Ok(Admission::Queued(ticket, admitted))
    }

    /// A queued call's wait ended (admitted, aborted, or out of time): its permit, or
    /// the error that ends the call.
    pub(crate) fn dequeue(self: &Rc<Self>, ticket: Ticket, aborted: bool) -> Result<Permit, Error> {
        let permit = self.permits.borrow_mut().remove(&ticket);
        if let Some(p) = permit {
            return Ok(p);
        }
        self.waiters.borrow_mut().remove(&ticket);
        if let Some(limiter) = &self.limiter {
            limiter.borrow_mut().cancel(ticket);
        }
        self.pump();
        if aborted {
            return Err(Error::aborted());
        }
        let mut e = Error::new(
            crate::ErrorKind::RateLimited,
            format!(
                "waited {} s in the client's rate-limit queue without being admitted",
                MAX_QUEUE_WAIT_MS / 1000
            ),
        );
        e.code = Some("queue_timeout".to_owned());
        Err(e)
    }

    /// Admit what the limiter can now, and re-arm the one timer for the next wake-up.
    fn pump(self: &Rc<Self>) {
        let Some(limiter) = &self.limiter else { return };
        let pump = limiter.borrow_mut().pump(now());
        for (ticket, permit) in pump.admitted {
            let resolve = self.waiters.borrow_mut().remove(&ticket);
            match resolve {
                Some(r) => {
                    self.permits.borrow_mut().insert(ticket, permit);
                    let _ = r.call0(&JsValue::UNDEFINED);
                }
                // Nobody waits any more: give the slot back.
                None => limiter.borrow_mut().release(permit, Some(0), now()),
            }
        }
        if let Some(t) = self.timer.borrow_mut().take() {
            sys::clear_timeout(&t);
        }
        if let Some(at) = pump.wake_at_ms {
            let weak = Rc::downgrade(self);
            let f = Closure::<dyn FnMut()>::new(move || {
                if let Some(m) = weak.upgrade() {
                    m.timer.borrow_mut().take();
                    m.pump();
                }
            });
            let wait = at.saturating_sub(now()).min(i32::MAX as u64) as i32;
            *self.timer.borrow_mut() =
                Some(sys::set_timeout(f.as_ref().unchecked_ref(), wait.max(1)));
            // Replacing the previous closure drops it; its timer was cleared above.
            *self.on_timer.borrow_mut() = Some(f);
        }
    }

    /// An attempt to `upstream` failed with `e`: the limiter decides whether that
    /// pauses the upstream's queue (a 429 does, for what the server asked).
    pub(crate) fn failed(self: &Rc<Self>, upstream: &str, e: &Error, hints: &ResponseHints) {
        if let Some(l) = &self.limiter {
            let paused = l.borrow_mut().on_failure(upstream, e, hints, now());
            if paused.is_some() {
                self.pump();
            }
        }
    }

    fn release(self: &Rc<Self>, permit: Permit, tokens: Option<u64>) {
        if let Some(l) = &self.limiter {
            l.borrow_mut().release(permit, tokens, now());
            self.pump();
        }
    }

    /// The meter's snapshot as `client.usage()` returns it.
    pub(crate) fn snapshot(&self) -> JsValue {
        snapshot_js(&self.meter.borrow().snapshot(now()), &self.meter.borrow())
    }
}

/// Call `store[name](...args)`: its result as a promise (a throw is a rejection).
pub(crate) fn call_store(store: &Object, name: &str, args: &Array) -> Promise {
    let called = Reflect::get(store, &JsValue::from_str(name))
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|f| f.apply(store, args));
    let p = match called {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    };
    // Nobody may be waiting (a `put`): a failing store is not an unhandled rejection.
    let _ = crate::web::transport::settled(&p);
    p
}

/// `cache.store`: an object with `get` and `put` methods.
fn store(s: JsValue) -> Result<Object, Error> {
    for m in ["get", "put"] {
        if !Reflect::get(&s, &JsValue::from_str(m)).is_ok_and(|f| f.is_function()) {
            return Err(Error::input(format!(
                "`cache.store` must have a `{m}` method"
            )));
        }
    }
    Ok(s.unchecked_into())
}

// ---------------------------------------------------------------------------------
// One call
// ---------------------------------------------------------------------------------

/// What one call reports when it ends: filled in as the call goes, recorded once.
pub(crate) struct CallRecord {
    m: Rc<Metering>,
    clock: RefCell<CallClock>,
    pub model: Option<String>,
    pub url_key: String,
    pub rule: Option<Chosen>,
    /// The prompt estimate, when the caller opted in to estimates.
    pub prompt_estimate: Option<u64>,
    pub cache_key: Option<CacheKey>,
    /// What the rate limiter reserves for the call.
    est_tokens: u64,
    permit: RefCell<Option<Permit>>,
    on_usage: Option<Function>,
    cache_hit: Cell<bool>,
    done: Cell<bool>,
}

/// How a call ended, as the shell saw it.
pub(crate) struct Ended<'a> {
    pub outcome: CallOutcome,
    pub usage: Option<TokenUsage>,
    /// The `x-inference-provider` header, if the response had one.
    pub provider_header: Option<&'a str>,
    /// The answer's own fields (a `provider` field), for `served_provider`.
    pub body_extra: Option<&'a crate::json::Map<String, Value>>,
    pub request_id: Option<String>,
    pub attempts: u32,
    /// A complete answer to store in the cache.
    pub store: Option<&'a str>,
    /// The URL the answer came from (for `served_provider`).
    pub url: &'a str,
}

impl CallRecord {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        m: &Rc<Metering>,
        model: Option<String>,
        url_key: String,
        rule: Option<Chosen>,
        prompt_estimate: Option<u64>,
        cache_key: Option<CacheKey>,
        on_usage: Option<Function>,
        est_tokens: u64,
    ) -> Rc<CallRecord> {
        Rc::new(CallRecord {
            m: m.clone(),
            clock: RefCell::new(CallClock::start(now())),
            model,
            url_key,
            rule,
            prompt_estimate,
            cache_key,
            est_tokens,
            permit: RefCell::new(None),
            on_usage,
            cache_hit: Cell::new(false),
            done: Cell::new(false),
        })
    }

    /// The rate limiter's estimate of the call's tokens.
    pub(crate) fn est_tokens(&self) -> u64 {
        self.est_tokens
    }

    /// The call is a cache hit.
    pub(crate) fn hit(&self) {
        self.cache_hit.set(true);
    }

    pub(crate) fn metering(&self) -> &Rc<Metering> {
        &self.m
    }

    pub(crate) fn hold(&self, permit: Option<Permit>) {
        *self.permit.borrow_mut() = permit;
    }

    pub(crate) fn headers(&self) {
        self.clock.borrow_mut().headers(now());
    }

    pub(crate) fn first_token(&self) {
        self.clock.borrow_mut().first_token(now());
    }

    /// The call ended: price and record it, report it, give back its permit, store a
    /// complete answer. Only the first call counts.
    pub(crate) fn end(&self, e: Ended<'_>) {
        if self.done.replace(true) {
            return;
        }
        let t = now();
        let mut rec = RequestRecord::new(&self.clock.borrow(), &self.url_key, e.outcome, t);
        rec.model = self.model.clone();
        rec.provider = crate::usage::served_provider(
            e.provider_header.map(|p| ("x-inference-provider", p)),
            e.body_extra,
            self.model.as_deref(),
            e.url,
        );
        rec.request_id = e.request_id;
        rec.usage = e.usage;
        rec.attempts = if self.cache_hit.get() { 0 } else { e.attempts };
        rec.cache_hit = self.cache_hit.get();
        rec.rule = self.rule.clone();
        let rec = rec.priced(&self.m.prices.borrow());
        let tokens = rec.usage.and_then(|u| u.billable_tokens());
        let listeners = [&self.m.on_usage, &self.on_usage];
        let heard = listeners.iter().any(|f| f.is_some());
        let (alerts, js) = {
            let mut meter = self.m.meter.borrow_mut();
            let alerts = meter.record(rec, t);
            // The meter numbers the record; written for JavaScript only when someone
            // listens (a JSON text and a `JSON.parse` per call otherwise).
            let js = match meter.last_record() {
                Some(r) if heard => record_js(r),
                _ => JsValue::UNDEFINED,
            };
            (alerts, js)
        };
        if let Some(p) = self.permit.borrow_mut().take() {
            self.m.release(p, tokens);
        }
        if let (Some(key), Some(answer), false) = (&self.cache_key, e.store, self.cache_hit.get()) {
            self.m.cache_put(key, answer);
        }
        // Callbacks last: they may call back into the client.
        for f in listeners.into_iter().flatten() {
            report(f.call1(&JsValue::UNDEFINED, &js));
        }
        for a in alerts {
            let f = match a {
                Alert::Spike(_) => &self.m.on_spike,
                Alert::BudgetExceeded(_) => &self.m.on_budget,
            };
            if let Some(f) = f {
                report(f.call1(&JsValue::UNDEFINED, &json_js(&crate::meter::alert_json(&a))));
            }
        }
    }
}

/// A callback's exception is reported like an event listener's, not thrown into the call.
fn report(r: Result<JsValue, JsValue>) {
    if let Err(e) = r {
        let _ = Promise::reject(&e);
    }
}

/// A record as JavaScript gets it (the core writes it as JSON: `meter::record_json`).
fn record_js(r: &RequestRecord) -> JsValue {
    json_js(&crate::meter::record_json(r))
}

fn snapshot_js(s: &MeterSnapshot, meter: &Meter) -> JsValue {
    json_js(&crate::meter::snapshot_json(s, meter.records()))
}

fn json_js(text: &str) -> JsValue {
    // The core's own JSON: it always parses.
    js_sys::JSON::parse(text).unwrap_or(JsValue::UNDEFINED)
}
