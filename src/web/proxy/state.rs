//! The proxy's state behind one interface: the rate limiter, the spend budgets and the
//! usage ledger, either in this isolate's memory (the default: one process, one
//! isolate) or in Durable Objects (`durableState`: global across every isolate).
//!
//! Owns: the four state calls the request
//! path makes ([`admit`], [`before_forward`], [`record`], [`ledger`]) for both stores;
//! and [`ProxyStateCore`], the class the Durable Object (`ProxyState` in
//! `js/proxy-state.js`) runs, so the object's decisions are the core's too. Must never:
//! decide policy (the core's `decide_until_limit`, `RateLimiter`, `BudgetLedger` do);
//! wait on the shared state without a bound (the JS store times every call out), or let
//! a request through when the shared state could not be asked (fail closed: 503).
//!
//! The durable store is a JS object (`durableStore()` in `js/proxy-state.js`) with
//! `admit(key, json)`, `check(key?, json)`, `record(key?, json)`, `ledger(key?, json)`,
//! each a promise of JSON text; `key` absent names the proxy-wide object.

use crate::json::ObjectText;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::shared::{Shared, Store};
use crate::error::cut;
use crate::proxy::budget::{budget_refusal, can_price, charge_of, state_unavailable};
use crate::proxy::wire::{
    exhausted_from_json, spend_from_json, AdmitWire, CallWire, LimitWire, Snapshot,
};
use crate::proxy::{
    decide_after_limit, decide_until_limit, rate_limited, refuse, Admission, BudgetOptions, Charge,
    Decision, IncomingRequest, ProxyState, RateLimit, Reason, Respond, Spend,
};
use crate::types::Usage;
use crate::web::error::describe;

/// Longest client key sent to the shared state (the limiter keeps no more either).
const MAX_KEY_BYTES: usize = 256;

/// Call `store.method(key?, body)`: the promise of its JSON text.
fn call(store: &JsValue, method: &str, key: Option<&str>, body: &str) -> Result<Promise, String> {
    let f: Function = Reflect::get(store, &JsValue::from_str(method))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| format!("the state store has no `{method}`"))?;
    let key = key.map_or(JsValue::UNDEFINED, |k| cut(k, MAX_KEY_BYTES).into());
    let p = f
        .call2(store, &key, &body.into())
        .map_err(|e| describe(&e))?;
    Ok(Promise::resolve(&p))
}

/// What a store call's promise settled with (`Err`: it rejected), parsed.
pub(super) type Answer = Result<JsValue, JsValue>;

/// The JSON text a store call resolved to, read by `read`.
fn parse<T>(answer: Answer, read: fn(&str) -> Result<T, String>) -> Result<T, String> {
    let text = answer
        .map_err(|e| describe(&e))?
        .as_string()
        .ok_or_else(|| "the state store answered with no text".to_owned())?;
    read(&text).map_err(|e| format!("the state store answered badly: {e}"))
}

/// A state call's result now, or the store calls to await first (the answers go back
/// to the matching `*_answer` function in the same order).
pub(super) enum Asked<T> {
    Now(T),
    Ask(Vec<Promise>),
}

impl From<&RateLimit> for LimitWire {
    fn from(l: &RateLimit) -> Self {
        LimitWire {
            requests_per_minute: l.requests_per_minute,
            burst: l.burst,
            max_clients: l.max_clients,
        }
    }
}

/// `{"limit": …}`, an `admit` call's body.
fn admit_call(limit: &LimitWire) -> String {
    ObjectText::new().raw("limit", &limit.to_json()).end()
}

impl From<Admission> for AdmitWire {
    fn from(a: Admission) -> Self {
        match a {
            Admission::Allowed { remaining } => AdmitWire {
                allowed: true,
                remaining,
                retry_after_ms: 0,
            },
            Admission::Limited { retry_after_ms } => AdmitWire {
                allowed: false,
                remaining: 0,
                retry_after_ms,
            },
        }
    }
}

/// The decision for a request: at once, or after the store answers the rate limit
/// ([`admit_answer`]).
pub(super) fn admit(shared: &Shared, req: &IncomingRequest<'_>, now_ms: f64) -> Asked<Decision> {
    let opts = &shared.cfg.opts;
    let Store::Durable(store) = &shared.store else {
        let d = crate::proxy::decide(req, opts, &mut shared.state.borrow_mut(), now_ms);
        return Asked::Now(d);
    };
    let limit = match decide_until_limit(req, opts) {
        Err(d) => return Asked::Now(d),
        Ok(None) => return Asked::Now(decide_after_limit(req, opts, now_ms)),
        Ok(Some(l)) => l,
    };
    let body = admit_call(&LimitWire::from(limit));
    match call(store, "admit", Some(req.client_key), &body) {
        Ok(p) => Asked::Ask(vec![p]),
        Err(e) => Asked::Now(Decision::Respond(state_unavailable(&e, req.origin, opts))),
    }
}

/// The decision once the store answered the rate limit.
pub(super) fn admit_answer(
    shared: &Shared,
    req: &IncomingRequest<'_>,
    answers: Vec<Answer>,
    now_ms: f64,
) -> Decision {
    let opts = &shared.cfg.opts;
    let Ok(Some(limit)) = decide_until_limit(req, opts) else {
        return decide_after_limit(req, opts, now_ms);
    };
    let answer = answers
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(JsValue::from_str("no answer")));
    match parse(answer, AdmitWire::from_json) {
        Ok(a) if a.allowed => decide_after_limit(req, opts, now_ms),
        Ok(a) => rate_limited(limit, a.retry_after_ms.max(1), req.origin, opts),
        Err(e) => Decision::Respond(state_unavailable(&e, req.origin, opts)),
    }
}

/// Before forwarding a chat call for `model`: `Some(answer)` when a budget is spent, the
/// model has no price under a USD budget, or the shared state did not answer; the two
/// budget objects are asked at once ([`check_answer`]).
pub(super) fn before_forward(
    shared: &Shared,
    key: &str,
    model: &str,
    origin: Option<&str>,
) -> Asked<Option<Respond>> {
    let cfg = &shared.cfg;
    let budget = &cfg.budget;
    if !budget.is_active() {
        return Asked::Now(None);
    }
    if !can_price(budget, &cfg.prices, model) {
        return Asked::Now(Some(refuse(
            Reason::ModelNotAllowed,
            &format!(
                "this proxy has a dollar budget and no price for {:?}: add it to `prices`",
                cut(model, 100)
            ),
            origin,
            &cfg.opts,
        )));
    }
    match &shared.store {
        Store::Local => {
            let spent = shared
                .state
                .borrow_mut()
                .ledger
                .check(key, budget, js_sys::Date::now());
            Asked::Now(spent.map(|e| budget_refusal(&e, origin, &cfg.opts)))
        }
        Store::Durable(store) => {
            let body = ledger_call(budget);
            let mut asked = Vec::new();
            let keys = [
                (!budget.proxy.is_empty()).then_some(None),
                (!budget.per_client.is_empty()).then_some(Some(key)),
            ];
            for k in keys.into_iter().flatten() {
                match call(store, "check", k, &body) {
                    Ok(p) => asked.push(p),
                    Err(e) => return Asked::Now(Some(state_unavailable(&e, origin, &cfg.opts))),
                }
            }
            Asked::Ask(asked)
        }
    }
}

/// [`before_forward`]'s answer once the store answered.
pub(super) fn check_answer(
    shared: &Shared,
    answers: Vec<Answer>,
    origin: Option<&str>,
) -> Option<Respond> {
    let opts = &shared.cfg.opts;
    let mut spent = None;
    for a in answers {
        match parse(a, exhausted_from_json) {
            Err(e) => return Some(state_unavailable(&e, origin, opts)),
            Ok(e) => spent = spent.or(e),
        }
    }
    spent.map(|e| budget_refusal(&e, origin, opts))
}

/// `{"charge": …, "budget": …}`, a `record` call's body.
fn record_call(charge: &Charge, budget: &BudgetOptions) -> String {
    ObjectText::new()
        .raw("charge", &charge.to_json())
        .raw("budget", &budget.to_json())
        .end()
}

/// A finished chat call reaches the ledger: locally at once; in the Durable Objects through
/// `ctx.waitUntil`, so the stream is not delayed (a failed record is lost, not retried).
pub(super) fn record(
    shared: &Shared,
    key: &str,
    model: Option<&str>,
    usage: Option<&Usage>,
    ctx: &JsValue,
) {
    // Only chat calls spend (a forwarded `GET /v1/models` has no model).
    if model.is_none() {
        return;
    }
    let cfg = &shared.cfg;
    let charge = charge_of(usage, model, &cfg.prices);
    match &shared.store {
        Store::Local => {
            shared
                .state
                .borrow_mut()
                .ledger
                .record(key, &charge, &cfg.budget, js_sys::Date::now())
        }
        Store::Durable(store) => {
            let body = record_call(&charge, &cfg.budget);
            let Ok(f) = Reflect::get(store, &JsValue::from_str("record"))
                .and_then(|f| f.dyn_into::<Function>())
            else {
                return;
            };
            let key = JsValue::from_str(cut(key, MAX_KEY_BYTES));
            let both = Array::new();
            for k in [JsValue::UNDEFINED, key] {
                if let Ok(p) = f.call2(store, &k, &body.as_str().into()) {
                    both.push(&p);
                }
            }
            let all = Promise::all(&both);
            // The store's promises never reject (it catches); `waitUntil` keeps the isolate
            // alive until they settle.
            let wait = Reflect::get(ctx, &JsValue::from_str("waitUntil"))
                .ok()
                .and_then(|w| w.dyn_into::<Function>().ok());
            if let Some(w) = wait {
                let _ = w.call1(ctx, &all);
            }
        }
    }
}

/// `{"budget": …}`, a `check` or `ledger` call's body.
fn ledger_call(budget: &BudgetOptions) -> String {
    ObjectText::new().raw("budget", &budget.to_json()).end()
}

/// What the proxy (`key` = `None`) or one client spent in the current window: now, or
/// once the store answered ([`ledger_answer`]).
pub(super) fn ledger(shared: &Shared, key: Option<&str>) -> Asked<Result<Spend, String>> {
    let cfg = &shared.cfg;
    match &shared.store {
        Store::Local => {
            let now = js_sys::Date::now();
            let mut s = shared.state.borrow_mut();
            Asked::Now(Ok(match key {
                Some(k) => s.ledger.client_spend(k, &cfg.budget, now),
                None => s.ledger.proxy_spend(&cfg.budget, now),
            }))
        }
        Store::Durable(store) => {
            let body = ledger_call(&cfg.budget);
            match call(store, "ledger", key, &body) {
                Ok(p) => Asked::Ask(vec![p]),
                Err(e) => Asked::Now(Err(e)),
            }
        }
    }
}

/// [`ledger`]'s answer once the store answered.
pub(super) fn ledger_answer(answers: Vec<Answer>) -> Result<Spend, String> {
    let answer = answers
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(JsValue::from_str("no answer")));
    parse(answer, spend_from_json)
}

// ---------------------------------------------------------------------------------
// The Durable Object's core
// ---------------------------------------------------------------------------------

/// What one Durable Object holds: the core's [`ProxyState`] (limiter and ledger), saved
/// as a snapshot after every change. `ProxyState` (the object, in `js/proxy-state.js`)
/// makes one per object: `client:<key>` objects hold that client's bucket and spend,
/// the `proxy` object the proxy-wide spend and ledger.
#[wasm_bindgen]
pub struct ProxyStateCore {
    state: ProxyState,
}

#[wasm_bindgen]
impl ProxyStateCore {
    /// From a [`ProxyStateCore::snapshot`] (absent or unreadable: a fresh state).
    #[wasm_bindgen(constructor)]
    pub fn new(snapshot: Option<String>) -> ProxyStateCore {
        let s: Snapshot = snapshot
            .and_then(|s| Snapshot::from_json(&s).ok())
            .unwrap_or_default();
        ProxyStateCore {
            state: ProxyState {
                limiter: s.limiter,
                ledger: s.ledger,
            },
        }
    }

    /// Run one state call (`admit`, `check`, `record`, `ledger`) with its JSON body
    /// (`{ key?, limit?, budget?, charge? }`) at `now_ms`; returns the JSON answer. Bad
    /// input is an error with a message, never a panic.
    pub fn call(&mut self, op: &str, body: &str, now_ms: f64) -> Result<String, JsValue> {
        let w = CallWire::from_json(body)
            .map_err(|e| JsValue::from_str(&format!("bad state call body: {e}")))?;
        let key = w.key.as_deref();
        let out = match op {
            "admit" => {
                let (Some(key), Some(l)) = (key, &w.limit) else {
                    return Err(JsValue::from_str("admit needs a key and a limit"));
                };
                let limit = RateLimit {
                    requests_per_minute: l.requests_per_minute,
                    burst: l.burst,
                    max_clients: l.max_clients,
                };
                AdmitWire::from(self.state.limiter.admit(key, &limit, now_ms)).to_json()
            }
            "check" => crate::proxy::Exhausted::opt_to_json(
                match key {
                    Some(k) => self.state.ledger.check_client(k, &w.budget, now_ms),
                    None => self.state.ledger.check_proxy(&w.budget, now_ms),
                }
                .as_ref(),
            ),
            "record" => {
                match key {
                    Some(k) => self
                        .state
                        .ledger
                        .record_client(k, &w.charge, &w.budget, now_ms),
                    None => self.state.ledger.record_proxy(&w.charge, &w.budget, now_ms),
                }
                "null".to_owned()
            }
            "ledger" => match key {
                Some(k) => self.state.ledger.client_spend(k, &w.budget, now_ms),
                None => self.state.ledger.proxy_spend(&w.budget, now_ms),
            }
            .to_json(),
            other => return Err(JsValue::from_str(&format!("unknown state call {other:?}"))),
        };
        Ok(out)
    }

    /// The state as JSON text, to persist.
    pub fn snapshot(&self) -> String {
        Snapshot {
            limiter: self.state.limiter.clone(),
            ledger: self.state.ledger.clone(),
        }
        .to_json()
    }
}

/// `proxy.ledger(clientKey?)`'s value for JS.
pub(super) fn spend_to_js(s: &Spend) -> JsValue {
    js_sys::JSON::parse(&s.to_json()).unwrap_or(JsValue::NULL)
}
