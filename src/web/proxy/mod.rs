//! The auth proxy's fetch handler: a WHATWG `Request` in, a `Response` out.
//!
//! Owns: handing the proxy's options to the core (`crate::proxy::proxy_options` reads
//! and checks them) and keeping the JS functions they name, turning a `Request` into the
//! core's [`IncomingRequest`], acting on the core's [`Decision`] (reading the body with
//! a bound, WebCrypto HMAC for session tokens, the upstream `fetch`), and passing the
//! upstream body through a `TransformStream` that hands every chunk on before looking
//! at it for usage. Must never: decide policy (`crate::proxy` does), let a client choose
//! the upstream URL, put the token in a response, an error or a log line, buffer a
//! streamed body, or wait without a bound (the request body has a deadline; the
//! upstream call has the client's named timeouts, re-armed by every chunk).
//!
//! The files: this one (`Proxy`, the options, `ledger()`), `exchange` (one request,
//! step by step), `relay` (one forwarded body), `state` (the limiter and ledger, here
//! or in Durable Objects), `shared` (what they all use). Each depends only on files
//! below it (`shared` on none of them): no circle.

mod exchange;
mod relay;
mod shared;
mod state;

pub use state::ProxyStateCore;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Request;

use super::error::to_js;
use super::options::hand_over;
use crate::error::Error;
use crate::proxy::{proxy_options, refuse, ProxyState, Reason};
use shared::{store_of, to_response, Config, Shared};

#[wasm_bindgen(module = "/js/proxy-relay.js")]
extern "C" {
    /// Drive one request to its response (never rejects).
    fn serve(exchange: exchange::Exchange) -> Promise;

    /// The store's answer to `ledger()`, read by `reader`.
    #[wasm_bindgen(js_name = askLedger)]
    fn ask_ledger(answer: &Promise, reader: LedgerAnswer) -> Promise;

}

/// The proxy. `createProxy(options)` wraps it as `{ fetch(request, env, ctx) }`.
#[wasm_bindgen]
pub struct Proxy {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Proxy {
    /// Check the options once; a bad option throws an `InferenceError` of kind `input`.
    #[wasm_bindgen(constructor)]
    /// `store` is the shared-state store `createProxy` makes for `durableState`
    /// (`undefined`: in memory).
    pub fn new(options: JsValue, store: JsValue) -> Result<Proxy, JsValue> {
        let cfg = read_options(&options).map_err(|e| to_js(&e, None, None))?;
        let store = store_of(&store).map_err(|e| to_js(&e, None, None))?;
        Ok(Proxy {
            shared: Rc::new(Shared {
                cfg,
                state: RefCell::new(ProxyState::new()),
                store,
                hmac: RefCell::new(None),
            }),
        })
    }

    /// Answer one request. Never rejects: every failure is a JSON error response.
    pub fn fetch(&self, request: JsValue, env: JsValue, ctx: JsValue) -> Promise {
        let Ok(request) = request.dyn_into::<Request>() else {
            let r = refuse(
                Reason::InvalidRequest,
                "the proxy's fetch handler needs a Request",
                None,
                &self.shared.cfg.opts,
            );
            return Promise::resolve(&JsValue::from(to_response(&r, None)));
        };
        serve(exchange::Exchange::new(
            self.shared.clone(),
            request,
            env,
            ctx,
        ))
    }

    /// What the whole proxy (no `clientKey`) or one client spent in the current budget
    /// window: `{ windowStartMs, requests, promptTokens, completionTokens, tokens, usd }`.
    /// Rejects (kind `network`) when the shared state does not answer.
    pub fn ledger(&self, client_key: Option<String>) -> Promise {
        match state::ledger(&self.shared, client_key.as_deref()) {
            state::Asked::Now(spent) => match LedgerAnswer::read(spent) {
                Ok(v) => Promise::resolve(&v),
                Err(e) => Promise::reject(&e),
            },
            state::Asked::Ask(calls) => match calls.first() {
                Some(p) => ask_ledger(p, LedgerAnswer { _private: () }),
                None => Promise::reject(&JsValue::UNDEFINED),
            },
        }
    }
}

/// Reads the shared state's answer to `ledger()`. Internal to `js/proxy-relay.js`.
#[wasm_bindgen]
pub struct LedgerAnswer {
    _private: (),
}

#[wasm_bindgen]
impl LedgerAnswer {
    /// The store's promise settled (`ok`) with `value`, or rejected with it.
    pub fn answer(&self, ok: bool, value: JsValue) -> Result<JsValue, JsValue> {
        let answer = if ok { Ok(value) } else { Err(value) };
        LedgerAnswer::read(state::ledger_answer(vec![answer]))
    }
}

impl LedgerAnswer {
    fn read(spent: Result<crate::proxy::Spend, String>) -> Result<JsValue, JsValue> {
        spent.map(|s| state::spend_to_js(&s)).map_err(|e| {
            to_js(
                &Error::network(&format!("the proxy's shared state did not answer: {e}")),
                None,
                None,
            )
        })
    }
}

/// The proxy's configuration: the core's checked options, with the JS values they
/// point at.
fn read_options(v: &JsValue) -> Result<Config, Error> {
    let handed = hand_over(v)?;
    let o = proxy_options(&handed.json)?;
    Ok(Config {
        opts: o.opts,
        token: o.token,
        session_secret: o.session_secret,
        fetch: handed.function(o.fetch),
        timeouts: o.timeouts,
        explicit_headers_timeout: o.explicit_headers_timeout,
        on_usage: handed.function(o.on_usage),
        on_log: handed.function(o.on_log),
        log: o.log,
        client_key: handed.function(o.client_key),
        budget: o.budget,
        prices: o.prices,
    })
}
