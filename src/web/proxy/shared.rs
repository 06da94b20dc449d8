//! What the proxy binding's files share: the checked configuration and the state behind
//! every request (`Shared`), where the limiter and ledger live (`Store`), and the
//! plumbing each request uses: the trace its log line is made from, the upstream token
//! and session secret (from the options or the `env`), the client key, headers and
//! responses built from the core's `Respond`.
//!
//! Owns: those shared pieces, so `exchange`, `relay` and `state` depend on this file and
//! never on their parent (no circle among the binding's files). Must never: decide
//! policy, put the token in a response or a log line, or await.

use std::cell::RefCell;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Headers, Request, Response, ResponseInit};

use crate::error::Error;
use crate::proxy::{
    check_token, log_line, refuse, LogRecord, ProxyOptions, ProxyState, Reason, RelayUsage, Respond,
};
use crate::timeouts::Timeouts;
use crate::web::sys;
use crate::web::transport::header_lines;

/// How long a client may take to send its request body.
pub(super) const BODY_DEADLINE_MS: i32 = 30_000;

pub(super) struct Config {
    pub(super) opts: ProxyOptions,
    pub(super) token: Option<String>,
    pub(super) session_secret: Option<String>,
    pub(super) fetch: Option<Function>,
    pub(super) timeouts: Timeouts,
    /// `timeouts.headers` was set: it applies to non-streamed answers too.
    pub(super) explicit_headers_timeout: bool,
    pub(super) on_usage: Option<Function>,
    /// `None` logs with `console.log`; `log: false` turns logging off.
    pub(super) on_log: Option<Function>,
    pub(super) log: bool,
    pub(super) client_key: Option<Function>,
    /// Spend caps (none by default) and the prices a USD cap needs.
    pub(super) budget: crate::proxy::BudgetOptions,
    pub(super) prices: crate::usage::PriceTable,
}

pub(super) struct Shared {
    pub(super) cfg: Config,
    pub(super) state: RefCell<ProxyState>,
    /// Where the limiter and ledger live: `state` above, or Durable Objects.
    pub(super) store: Store,
    /// The imported HMAC key, per secret (the secret may come from `env`).
    pub(super) hmac: RefCell<Option<(String, JsValue)>>,
}

/// Where the state lives.
pub(super) enum Store {
    /// In [`Shared::state`].
    Local,
    /// In Durable Objects, through this JS store.
    Durable(JsValue),
}

/// Check that a `durableState` store has the methods this module calls.
pub(super) fn store_of(v: &JsValue) -> Result<Store, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(Store::Local);
    }
    for m in ["admit", "check", "record", "ledger"] {
        if !Reflect::get(v, &JsValue::from_str(m)).is_ok_and(|f| f.is_function()) {
            return Err(Error::input(format!(
                "the proxy's state store has no `{m}` method (pass `durableState: env.PROXY_STATE`)"
            )));
        }
    }
    Ok(Store::Durable(v.clone()))
}

/// What the log line needs, filled in as the request goes.
#[derive(Clone)]
pub(super) struct Trace {
    pub(super) request_id: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) origin: Option<String>,
    pub(super) model: Option<String>,
    /// The upstream's own `x-request-id`, once it answered.
    pub(super) upstream_request_id: Option<String>,
    pub(super) started: f64,
    /// Who the limits and budgets count this request against.
    pub(super) client_key: String,
    /// The handler's `ctx` (for `waitUntil`).
    pub(super) ctx: JsValue,
}

pub(super) fn misconfigured(message: &str, origin: Option<&str>, cfg: &Config) -> Respond {
    refuse(Reason::Misconfigured, message, origin, &cfg.opts)
}

pub(super) fn no_token(origin: Option<&str>, cfg: &Config) -> Respond {
    misconfigured(
        "the proxy has no upstream token: set `token` or the `HF_TOKEN` secret",
        origin,
        cfg,
    )
}

pub(super) fn upstream_token(cfg: &Config, env: &JsValue) -> Option<String> {
    cfg.token
        .clone()
        .or_else(|| env_string(env, "HF_TOKEN"))
        .filter(|t| check_token(t).is_ok())
}

pub(super) fn session_secret(cfg: &Config, env: &JsValue) -> Option<String> {
    cfg.session_secret
        .clone()
        .or_else(|| env_string(env, "SESSION_SECRET"))
        .filter(|s| !s.is_empty())
}

pub(super) fn env_string(env: &JsValue, key: &str) -> Option<String> {
    if !env.is_object() {
        return None;
    }
    Reflect::get(env, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
}

/// Who the rate limit counts this request against (`crate::proxy::client_key`
/// decides): the `clientKey` option's answer, `ctx.clientIp`, the headers.
pub(super) fn client_key(
    cfg: &Config,
    request: &Request,
    ctx: &JsValue,
    headers: &[(String, String)],
) -> String {
    let from_hook = cfg
        .client_key
        .as_ref()
        .and_then(|f| f.call2(&JsValue::UNDEFINED, request, ctx).ok())
        .and_then(|v| v.as_string());
    let client_ip = ctx
        .is_object()
        .then(|| Reflect::get(ctx, &JsValue::from_str("clientIp")).ok())
        .flatten()
        .and_then(|v| v.as_string());
    crate::proxy::client_key(from_hook, client_ip, headers)
}

pub(super) fn header_pairs(h: &Headers) -> Vec<(String, String)> {
    let text = header_lines(h);
    let mut out = Vec::new();
    let mut lines = text.split('\n');
    while let (Some(n), Some(v)) = (lines.next(), lines.next()) {
        out.push((n.to_owned(), v.to_owned()));
    }
    out
}

pub(super) fn new_request_id() -> String {
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

pub(super) fn describe_error(e: &Error) -> String {
    e.message.clone()
}

pub(super) fn headers_of(pairs: &[(String, String)], request_id: Option<&str>) -> Headers {
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

pub(super) fn to_response(r: &Respond, request_id: Option<&str>) -> Response {
    let init = ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers_of(&r.headers, request_id));
    let body =
        (!r.body.is_empty() && r.status != 204 && r.status != 304).then_some(r.body.as_str());
    Response::new_with_opt_str_and_init(body, &init).unwrap_or_else(|_| fallback_response())
}

pub(super) fn fallback_response() -> Response {
    let init = ResponseInit::new();
    init.set_status(500);
    Response::new_with_opt_str_and_init(Some("{\"error\":{\"message\":\"the proxy could not build a response\",\"type\":\"api_error\",\"code\":\"proxy_misconfigured\"}}"), &init)
        .unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into())
}

pub(super) fn log(
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
