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

mod exchange;
mod state;

pub use state::ProxyStateCore;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Headers, Request, Response, ResponseInit};

use super::error::{set, to_js};
use super::options::hand_over;
use super::sys;
use super::transport::{header_lines, Call};
use crate::error::Error;
use crate::proxy::{
    check_token, log_line, proxy_options, refuse, BodyKind, LogRecord, ProxyOptions, ProxyState,
    Reason, RelayUsage, Relayed, Respond, StreamRelay,
};
use crate::timeouts::Timeouts;

#[wasm_bindgen(module = "/js/proxy-relay.js")]
extern "C" {
    /// Drive one request to its response (never rejects).
    fn serve(exchange: exchange::Exchange) -> Promise;

    /// The store's answer to `ledger()`, read by `reader`.
    #[wasm_bindgen(js_name = askLedger)]
    fn ask_ledger(answer: &Promise, reader: LedgerAnswer) -> Promise;

    /// The forwarded body: a pull stream over `body` that hands each read to `relay`.
    #[wasm_bindgen(js_name = relayBody, catch)]
    fn relay_body(
        body: &web_sys::ReadableStream,
        relay: ProxyRelay,
    ) -> Result<web_sys::ReadableStream, JsValue>;
}

/// How long a client may take to send its request body.
const BODY_DEADLINE_MS: i32 = 30_000;

struct Config {
    opts: ProxyOptions,
    token: Option<String>,
    session_secret: Option<String>,
    fetch: Option<Function>,
    timeouts: Timeouts,
    /// `timeouts.headers` was set: it applies to non-streamed answers too.
    explicit_headers_timeout: bool,
    on_usage: Option<Function>,
    /// `None` logs with `console.log`; `log: false` turns logging off.
    on_log: Option<Function>,
    log: bool,
    client_key: Option<Function>,
    /// Spend caps (none by default) and the prices a USD cap needs.
    budget: crate::proxy::BudgetOptions,
    prices: crate::usage::PriceTable,
}

struct Shared {
    cfg: Config,
    state: RefCell<ProxyState>,
    /// Where the limiter and ledger live: `state` above, or Durable Objects.
    store: state::Store,
    /// The imported HMAC key, per secret (the secret may come from `env`).
    hmac: RefCell<Option<(String, JsValue)>>,
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
        let store = state::store_of(&store).map_err(|e| to_js(&e, None, None))?;
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

// ---------------------------------------------------------------------------------
// One request
// ---------------------------------------------------------------------------------

/// What the log line needs, filled in as the request goes.
#[derive(Clone)]
struct Trace {
    request_id: String,
    method: String,
    path: String,
    origin: Option<String>,
    model: Option<String>,
    /// The upstream's own `x-request-id`, once it answered.
    upstream_request_id: Option<String>,
    started: f64,
    /// Who the limits and budgets count this request against.
    client_key: String,
    /// The handler's `ctx` (for `waitUntil`).
    ctx: JsValue,
}

fn misconfigured(message: &str, origin: Option<&str>, cfg: &Config) -> Respond {
    refuse(Reason::Misconfigured, message, origin, &cfg.opts)
}

fn no_token(origin: Option<&str>, cfg: &Config) -> Respond {
    misconfigured(
        "the proxy has no upstream token: set `token` or the `HF_TOKEN` secret",
        origin,
        cfg,
    )
}

fn upstream_token(cfg: &Config, env: &JsValue) -> Option<String> {
    cfg.token
        .clone()
        .or_else(|| env_string(env, "HF_TOKEN"))
        .filter(|t| check_token(t).is_ok())
}

fn session_secret(cfg: &Config, env: &JsValue) -> Option<String> {
    cfg.session_secret
        .clone()
        .or_else(|| env_string(env, "SESSION_SECRET"))
        .filter(|s| !s.is_empty())
}

fn env_string(env: &JsValue, key: &str) -> Option<String> {
    if !env.is_object() {
        return None;
    }
    Reflect::get(env, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
}

/// Who the rate limit counts this request against: the `clientKey` option's answer,
/// else `ctx.clientIp` (the Node adapter sets it from the socket), else Cloudflare's
/// `cf-connecting-ip` (set by Cloudflare's edge, which a client cannot forge there),
/// else one shared bucket.
fn client_key(
    cfg: &Config,
    request: &Request,
    ctx: &JsValue,
    headers: &[(String, String)],
) -> String {
    if let Some(f) = &cfg.client_key {
        if let Ok(v) = f.call2(&JsValue::UNDEFINED, request, ctx) {
            if let Some(s) = v.as_string().filter(|s| !s.is_empty()) {
                return s;
            }
        }
    }
    if ctx.is_object() {
        if let Some(ip) = Reflect::get(ctx, &JsValue::from_str("clientIp"))
            .ok()
            .and_then(|v| v.as_string())
        {
            return ip;
        }
    }
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("cf-connecting-ip"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "anonymous".to_owned())
}

fn header_pairs(h: &Headers) -> Vec<(String, String)> {
    let text = header_lines(h);
    let mut out = Vec::new();
    let mut lines = text.split('\n');
    while let (Some(n), Some(v)) = (lines.next(), lines.next()) {
        out.push((n.to_owned(), v.to_owned()));
    }
    out
}

fn new_request_id() -> String {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok();
    crypto
        .and_then(|c| {
            let f: Function = Reflect::get(&c, &JsValue::from_str("randomUUID"))
                .ok()?
                .dyn_into()
                .ok()?;
            f.call0(&c).ok()?.as_string()
        })
        .unwrap_or_else(|| format!("proxy-{}", js_sys::Date::now() as u64))
}

// ---------------------------------------------------------------------------------
// Forwarding
// ---------------------------------------------------------------------------------

/// How a forwarded chat answer is relayed (from the core's [`crate::proxy::Forward`]);
/// `None` for `GET /v1/models`.
#[derive(Clone, Copy)]
struct ChatRelay {
    stream: bool,
    strip_usage: bool,
    prompt_estimate: u64,
}

/// Watches a forwarded body on its way to the client: the core's [`StreamRelay`] says
/// what to hand on; the first byte's time, the end (log line and `onUsage`) and body
/// activity (for the upstream call's idle timeout) are the shell's.
struct Watcher {
    shared: Rc<Shared>,
    trace: Trace,
    status: u16,
    call: Call,
    relay: StreamRelay,
    /// A chat answer (usage is reported), not the model list.
    chat: bool,
    first_byte_ms: Option<f64>,
    logged: bool,
    /// The upstream broke a body that is not an event stream: the message to error the
    /// client's stream with.
    failure: Option<String>,
}

impl Watcher {
    fn chunk(&mut self, bytes: &[u8]) -> Relayed {
        if self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(sys::performance_now() - self.trace.started);
        }
        // Body bytes arrived: the idle timeout starts again.
        self.call.activity();
        self.relay.relay(bytes)
    }

    /// The body ended (`complete`) or the client went away; log and report usage once.
    fn finish(&mut self, complete: bool) {
        if self.logged {
            return;
        }
        self.logged = true;
        if complete {
            self.call.end();
        } else {
            self.call.abort();
        }
        let cfg = &self.shared.cfg;
        let usage = self.chat.then(|| self.relay.usage());
        log(
            cfg,
            &self.trace,
            self.status,
            None,
            self.first_byte_ms,
            usage.as_ref(),
        );
        if let (Some(f), Some(u)) = (&cfg.on_usage, &usage) {
            let rec = Object::new();
            set(&rec, "requestId", &self.trace.request_id.as_str().into());
            if let Some(id) = &self.trace.upstream_request_id {
                set(&rec, "upstreamRequestId", &id.as_str().into());
            }
            if let Some(m) = &self.trace.model {
                set(&rec, "model", &m.as_str().into());
            }
            let usage = js_sys::JSON::parse(&u.usage.to_json()).unwrap_or(JsValue::UNDEFINED);
            set(&rec, "usage", &usage);
            set(&rec, "estimated", &u.estimated.into());
            set(
                &rec,
                "latencyMs",
                &(sys::performance_now() - self.trace.started).into(),
            );
            set(&rec, "complete", &complete.into());
            if f.call1(&JsValue::UNDEFINED, &rec).is_err() {
                // A throwing hook must not break the response that already went out.
            }
        }
        state::record(
            &self.shared,
            &self.trace.client_key,
            self.trace.model.as_deref(),
            usage.as_ref().map(|u| &u.usage),
            &self.trace.ctx,
        );
    }
}

/// One forwarded body, as `relayBody` in `js/proxy-relay.js` drives it: every read of
/// the upstream body goes through [`ProxyRelay::chunk`] (one synchronous call, no
/// promise), the end through [`ProxyRelay::end`], a broken upstream through
/// [`ProxyRelay::fail`], a client that left through [`ProxyRelay::cancel`].
#[wasm_bindgen]
pub struct ProxyRelay {
    watcher: Rc<RefCell<Watcher>>,
}

#[wasm_bindgen]
impl ProxyRelay {
    /// One read: `true` when exactly these bytes go on to the client (the common case:
    /// whole events, nothing to take out; the JS side passes its own buffer on, no
    /// copy), `undefined` when nothing is to be sent yet, else the bytes to send.
    pub fn chunk(&self, bytes: &[u8]) -> JsValue {
        match self.watcher.borrow_mut().chunk(bytes) {
            Relayed::Unchanged => JsValue::TRUE,
            Relayed::Bytes(out) if out.is_empty() => JsValue::UNDEFINED,
            Relayed::Bytes(out) => Uint8Array::from(out.as_slice()).into(),
        }
    }

    /// The upstream body ended: the relay's tail, if any. Logs and reports usage.
    pub fn end(&self) -> Option<Vec<u8>> {
        let mut w = self.watcher.borrow_mut();
        let tail = w.relay.finish();
        w.finish(true);
        (!tail.is_empty()).then_some(tail)
    }

    /// Reading the upstream body failed with `error`: what is left to send (for an
    /// event stream, ending with the error event). Afterwards [`ProxyRelay::fail_message`]
    /// says whether the client's stream closes (`undefined`) or errors.
    pub fn fail(&self, error: JsValue) -> Option<Vec<u8>> {
        let mut w = self.watcher.borrow_mut();
        let (e, _) = w.call.rejection(error, false);
        let tail = w.relay.fail(&e);
        if w.relay.kind() != BodyKind::EventStream {
            w.failure = Some(describe_error(&e));
        }
        w.finish(false);
        (!tail.is_empty()).then_some(tail)
    }

    /// After [`ProxyRelay::fail`]: the message to error a non-event-stream body with.
    #[wasm_bindgen(js_name = failMessage)]
    pub fn fail_message(&self) -> Option<String> {
        self.watcher.borrow().failure.clone()
    }

    /// The client went away: abort the upstream call; log and report usage once.
    pub fn cancel(&self) {
        self.watcher.borrow_mut().finish(false);
    }
}

fn describe_error(e: &Error) -> String {
    e.message.clone()
}

// ---------------------------------------------------------------------------------
// Responses and logs
// ---------------------------------------------------------------------------------

fn headers_of(pairs: &[(String, String)], request_id: Option<&str>) -> Headers {
    let h = Headers::new().unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into());
    for (n, v) in pairs {
        let _ = h.append(n, v);
    }
    if let Some(id) = request_id {
        if !pairs
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
        {
            let _ = h.set("x-request-id", id);
        }
    }
    h
}

fn to_response(r: &Respond, request_id: Option<&str>) -> Response {
    let init = ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers_of(&r.headers, request_id));
    let body =
        (!r.body.is_empty() && r.status != 204 && r.status != 304).then_some(r.body.as_str());
    Response::new_with_opt_str_and_init(body, &init).unwrap_or_else(|_| fallback_response())
}

fn fallback_response() -> Response {
    let init = ResponseInit::new();
    init.set_status(500);
    Response::new_with_opt_str_and_init(Some("{\"error\":{\"message\":\"the proxy could not build a response\",\"type\":\"api_error\",\"code\":\"proxy_misconfigured\"}}"), &init)
        .unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into())
}

fn log(
    cfg: &Config,
    trace: &Trace,
    status: u16,
    reason: Option<Reason>,
    first_byte_ms: Option<f64>,
    usage: Option<&RelayUsage>,
) {
    if !cfg.log {
        return;
    }
    let line = log_line(
        &LogRecord {
            request_id: &trace.request_id,
            method: &trace.method,
            path: &trace.path,
            origin: trace.origin.as_deref(),
            model: trace.model.as_deref(),
            status,
            reason,
            latency_ms: sys::performance_now() - trace.started,
            first_byte_ms,
            usage: usage.map(|u| &u.usage),
            usage_estimated: usage.is_some_and(|u| u.estimated),
            upstream_request_id: trace.upstream_request_id.as_deref(),
            content: None,
        },
        &cfg.opts,
    );
    match &cfg.on_log {
        Some(f) => {
            let _ = f.call1(&JsValue::UNDEFINED, &line.as_str().into());
        }
        None => sys::console_log(&line),
    }
}
