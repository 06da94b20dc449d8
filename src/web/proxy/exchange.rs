//! One request through the proxy as a synchronous machine that `js/proxy-relay.js`'s
//! `serve` drives: every await (the shared state's answers, WebCrypto's HMAC, the
//! request body, the upstream call) is there; each step here acts on the core's
//! [`Decision`] synchronously and says what to await next.
//!
//! Owns: the request's path through the handler (admit, verify or issue a session,
//! read and check the body, the budget, forward, relay) and its one response. Must
//! never: await, decide policy (`crate::proxy` does), or put the token anywhere but
//! the upstream request.

use std::rc::Rc;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response, ResponseInit};

use super::relay::{relay_body, ChatRelay, ProxyRelay, Watcher};
use super::shared::{
    client_key, fallback_response, header_pairs, headers_of, log, misconfigured, new_request_id,
    no_token, session_secret, to_response, upstream_token, Shared, Trace, BODY_DEADLINE_MS,
};
use super::state::{self, Answer, Asked};
use crate::error::{Error, MAX_ERROR_BODY_BYTES};
use crate::proxy::{
    check_chat_body, client_request_id, content_length, ct_eq, is_event_stream, proxy_timeouts,
    refuse, response_headers, session_issued, session_rejected, session_token, split_request_url,
    upstream_error, upstream_failure, upstream_headers, upstream_request_id, BodyKind, Decision,
    IncomingRequest, Reason, Respond, StreamRelay,
};
use crate::web::error::describe;
use crate::web::sys;
use crate::web::transport::Call;

/// `step()`'s answers.
const DONE: u32 = 0;
const STORE: u32 = 1;
const SIGN: u32 = 2;
const BODY: u32 = 3;
const UPSTREAM: u32 = 4;

enum Stage {
    Admit,
    /// The store is asked for the rate limit.
    Admitting,
    Act(Decision),
    /// The HMAC of a session token's payload is being computed; `then` if it matches.
    Verifying {
        signature: Vec<u8>,
        then: Box<Decision>,
    },
    /// The HMAC of a new session's payload is being computed.
    Issuing {
        payload: String,
        expires_at_ms: u64,
    },
    /// The request body is being read.
    Reading,
    /// The request body came whole.
    Read(Vec<u8>),
    /// The store is asked whether a budget is spent.
    Checking(Forwarding),
    Forward(Forwarding),
    /// The upstream call is out.
    Upstream(Forwarding),
    Done,
}

/// A request to forward.
struct Forwarding {
    url: String,
    body: Option<String>,
    chat: Option<ChatRelay>,
    token: String,
}

/// One request. Internal to `js/proxy-relay.js`; not constructible from JavaScript.
#[wasm_bindgen]
pub struct Exchange {
    shared: Rc<Shared>,
    request: Request,
    env: JsValue,
    headers: Vec<(String, String)>,
    method: String,
    path: String,
    origin: Option<String>,
    self_origin: Option<String>,
    content_length: Option<u64>,
    trace: Trace,
    stage: Stage,
    /// What JS awaits at this step: store calls, or the HMAC's input.
    calls: Vec<Promise>,
    secret: String,
    payload: String,
    body_limit: usize,
    call: Option<Call>,
    /// The upstream's failed answer, while its error body is read.
    status: u16,
    upstream_headers: Vec<(String, String)>,
    response: Option<Response>,
}

impl Exchange {
    pub(super) fn new(shared: Rc<Shared>, request: Request, env: JsValue, ctx: JsValue) -> Self {
        let cfg = &shared.cfg;
        let started = sys::performance_now();
        let headers = header_pairs(&request.headers());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let (path, self_origin) = split_request_url(&request.url());
        let origin = header("origin");
        let method = request.method();
        let key = client_key(cfg, &request, &ctx, &headers);
        let content_length = content_length(&headers);
        let trace = Trace {
            request_id: client_request_id(&headers).unwrap_or_else(new_request_id),
            method: method.clone(),
            path: path.clone(),
            origin: origin.clone(),
            model: None,
            upstream_request_id: None,
            started,
            client_key: key,
            ctx,
        };
        Exchange {
            shared,
            request,
            env,
            headers,
            method,
            path,
            origin,
            self_origin,
            content_length,
            trace,
            stage: Stage::Admit,
            calls: Vec::new(),
            secret: String::new(),
            payload: String::new(),
            body_limit: 0,
            call: None,
            status: 0,
            upstream_headers: Vec::new(),
            response: None,
        }
    }

    fn incoming(&self) -> IncomingRequest<'_> {
        IncomingRequest {
            method: &self.method,
            path: &self.path,
            origin: self.origin.as_deref(),
            self_origin: self.self_origin.as_deref(),
            headers: &self.headers,
            content_length: self.content_length,
            client_key: &self.trace.client_key,
        }
    }

    /// Answer with `r` (logged; no body for `HEAD`).
    fn respond(&mut self, mut r: Respond) -> u32 {
        if self.method == "HEAD" {
            r.body.clear();
        }
        let response = self.logged(&r);
        self.finish(response)
    }

    /// `r` as the response, logged.
    fn logged(&self, r: &Respond) -> Response {
        log(
            &self.shared.cfg,
            &self.trace,
            r.status,
            r.reason,
            None,
            None,
        );
        to_response(r, Some(&self.trace.request_id))
    }

    fn finish(&mut self, response: Response) -> u32 {
        self.response = Some(response);
        self.stage = Stage::Done;
        DONE
    }

    fn ask(&mut self, calls: Vec<Promise>, next: Stage) -> u32 {
        self.calls = calls;
        self.stage = next;
        STORE
    }

    /// Compute the HMAC of `payload` next (`SIGN`), or answer the 500 when there is no
    /// secret.
    fn sign(&mut self, payload: String, next: Stage) -> u32 {
        let cfg = &self.shared.cfg;
        let Some(secret) = session_secret(cfg, &self.env) else {
            let r = misconfigured(
                "sessions are on but there is no `sessionSecret` (or SESSION_SECRET)",
                self.origin.as_deref(),
                cfg,
            );
            return self.respond(r);
        };
        self.secret = secret;
        self.payload = payload;
        self.stage = next;
        SIGN
    }

    /// Act on the core's decision.
    fn act(&mut self, decision: Decision) -> u32 {
        let o = self.origin.clone();
        let o = o.as_deref();
        let cfg = &self.shared.cfg;
        match decision {
            Decision::Preflight(r)
            | Decision::Respond(r)
            | Decision::Health(r)
            | Decision::Models(r) => self.respond(r),
            Decision::VerifySession {
                payload,
                signature,
                then,
            } => self.sign(payload, Stage::Verifying { signature, then }),
            Decision::Session(grant) => {
                let next = Stage::Issuing {
                    payload: grant.payload.clone(),
                    expires_at_ms: grant.expires_at_ms,
                };
                self.sign(grant.payload, next)
            }
            Decision::ModelsUpstream { url } => {
                let Some(token) = upstream_token(cfg, &self.env) else {
                    return self.respond(no_token(o, cfg));
                };
                self.stage = Stage::Forward(Forwarding {
                    url,
                    body: None,
                    chat: None,
                    token,
                });
                self.step()
            }
            Decision::ReadBody { limit } => {
                if self.request.body().is_none() {
                    return self.body_read_bytes(&[]);
                }
                self.body_limit = limit;
                self.stage = Stage::Reading;
                BODY
            }
        }
    }

    fn body_read_bytes(&mut self, body: &[u8]) -> u32 {
        let o = self.origin.clone();
        let o = o.as_deref();
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        let fwd = match check_chat_body(body, o, &cfg.opts) {
            Ok(f) => f,
            Err(r) => return self.respond(r),
        };
        let Some(token) = upstream_token(cfg, &self.env) else {
            return self.respond(no_token(o, cfg));
        };
        self.trace.model = Some(fwd.model.clone());
        let forwarding = Forwarding {
            url: fwd.url,
            body: Some(fwd.body),
            chat: Some(ChatRelay {
                stream: fwd.stream,
                strip_usage: fwd.strip_usage,
                prompt_estimate: fwd.prompt_tokens_estimate,
            }),
            token,
        };
        match state::before_forward(&shared, &self.trace.client_key, &fwd.model, o) {
            Asked::Now(Some(r)) => self.respond(r),
            Asked::Now(None) => {
                self.stage = Stage::Forward(forwarding);
                self.step()
            }
            Asked::Ask(calls) => self.ask(calls, Stage::Checking(forwarding)),
        }
    }

    /// Send the upstream request (`UPSTREAM`), or answer why it could not be sent.
    fn forward(&mut self, f: Forwarding) -> u32 {
        let cfg = &self.shared.cfg;
        let mut up_headers = upstream_headers(&self.headers, &f.token, &self.trace.request_id);
        if f.body.is_none() {
            up_headers.retain(|(n, _)| n != "content-type");
        }
        let timeouts = proxy_timeouts(
            cfg.timeouts,
            f.chat.map_or(true, |c| c.stream),
            cfg.explicit_headers_timeout,
        );
        // The client's disconnect (the request's signal, where the runtime provides it)
        // cancels the upstream request.
        let signal = Some(self.request.signal());
        match Call::start(
            cfg.fetch.as_ref(),
            &f.url,
            &up_headers,
            f.body.as_deref(),
            timeouts,
            signal.as_ref(),
            true,
        ) {
            Ok(c) => {
                self.call = Some(c);
                self.stage = Stage::Upstream(f);
                UPSTREAM
            }
            Err(e) => self.upstream_failed_with(&e, &f.token),
        }
    }

    fn upstream_failed_with(&mut self, e: &Error, token: &str) -> u32 {
        let r = upstream_failure(e, &[token], self.origin.as_deref(), &self.shared.cfg.opts);
        self.respond(r)
    }
}

#[wasm_bindgen]
impl Exchange {
    /// The next step: 0 done (`response`), 1 await every promise of `calls` then
    /// `stored()`, 2 the HMAC-SHA-256 of `payload` with `secret` then `signed()`, 3 read
    /// the request body (at most `limit` bytes within `deadlineMs`) then `bodyRead()`,
    /// 4 await the upstream `wire`'s fetch then `upstream()`.
    pub fn step(&mut self) -> u32 {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Admit => {
                let shared = self.shared.clone();
                match state::admit(&shared, &self.incoming(), js_sys::Date::now()) {
                    Asked::Now(d) => self.act(d),
                    Asked::Ask(calls) => self.ask(calls, Stage::Admitting),
                }
            }
            Stage::Act(d) => self.act(d),
            Stage::Read(body) => self.body_read_bytes(&body),
            Stage::Forward(f) => self.forward(f),
            // Still waiting for an answer: the same step again.
            s => {
                let code = match &s {
                    Stage::Admitting | Stage::Checking(_) => STORE,
                    Stage::Verifying { .. } | Stage::Issuing { .. } => SIGN,
                    Stage::Reading => BODY,
                    Stage::Upstream(_) => UPSTREAM,
                    _ => DONE,
                };
                self.stage = s;
                code
            }
        }
    }

    /// The store calls to await.
    #[wasm_bindgen(getter)]
    pub fn calls(&mut self) -> Array {
        self.calls.drain(..).collect()
    }

    /// The store calls settled: `[fulfilled, value or reason, ...]`, in order.
    pub fn stored(&mut self, settled: Array) {
        let mut answers: Vec<Answer> = Vec::new();
        let mut i = 0;
        while i + 1 < settled.length() {
            let value = settled.get(i + 1);
            answers.push(if settled.get(i).is_truthy() {
                Ok(value)
            } else {
                Err(value)
            });
            i += 2;
        }
        let shared = self.shared.clone();
        self.stage = match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Admitting => Stage::Act(state::admit_answer(
                &shared,
                &self.incoming(),
                answers,
                js_sys::Date::now(),
            )),
            Stage::Checking(f) => {
                match state::check_answer(&shared, answers, self.origin.as_deref()) {
                    Some(r) => {
                        self.respond(r);
                        return;
                    }
                    None => Stage::Forward(f),
                }
            }
            s => s,
        };
    }

    /// The session secret, for the HMAC.
    #[wasm_bindgen(getter)]
    pub fn secret(&self) -> String {
        self.secret.clone()
    }

    /// The text to sign.
    #[wasm_bindgen(getter)]
    pub fn payload(&self) -> String {
        self.payload.clone()
    }

    /// The imported HMAC key of `secret`, if one was imported before.
    #[wasm_bindgen(getter, js_name = hmacKey)]
    pub fn hmac_key(&self) -> JsValue {
        self.shared
            .hmac
            .borrow()
            .as_ref()
            .filter(|(s, _)| *s == self.secret)
            .map(|(_, k)| k.clone())
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// The HMAC came: `signature`, made with `key` (kept for the next request).
    pub fn signed(&mut self, signature: &[u8], key: JsValue) {
        *self.shared.hmac.borrow_mut() = Some((self.secret.clone(), key));
        let o = self.origin.clone();
        let o = o.as_deref();
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Verifying { signature: s, then } if ct_eq(&s, signature) => {
                self.stage = Stage::Act(*then);
            }
            Stage::Verifying { .. } => {
                self.respond(session_rejected(o, &cfg.opts));
            }
            Stage::Issuing {
                payload,
                expires_at_ms,
            } => {
                let token = session_token(&payload, signature);
                self.respond(session_issued(&token, expires_at_ms, o, &cfg.opts));
            }
            s => self.stage = s,
        }
    }

    /// WebCrypto failed with `error`.
    #[wasm_bindgen(js_name = signFailed)]
    pub fn sign_failed(&mut self, error: JsValue) {
        let r = misconfigured(
            &format!("WebCrypto HMAC failed: {}", describe(&error)),
            self.origin.as_deref(),
            &self.shared.cfg,
        );
        self.respond(r);
    }

    /// The request body.
    #[wasm_bindgen(getter, js_name = requestBody)]
    pub fn request_body(&self) -> Option<web_sys::ReadableStream> {
        self.request.body()
    }

    /// The most body bytes the proxy reads.
    #[wasm_bindgen(getter)]
    pub fn limit(&self) -> f64 {
        self.body_limit as f64
    }

    /// How long the client may take to send its body.
    #[wasm_bindgen(getter, js_name = deadlineMs)]
    pub fn deadline_ms(&self) -> i32 {
        BODY_DEADLINE_MS
    }

    /// The body read (`readBody`'s outcome: the bytes, or `"large"`, `"late"`,
    /// `"bytes"`), or its read rejected (`failed`: the reason).
    #[wasm_bindgen(js_name = bodyRead)]
    pub fn body_read(&mut self, outcome: JsValue, failed: bool) {
        let limit = self.body_limit;
        let o = self.origin.clone();
        let refused = |reason: Reason, message: String| {
            refuse(reason, &message, o.as_deref(), &self.shared.cfg.opts)
        };
        if failed {
            let r = refused(
                Reason::InvalidRequest,
                format!("the request body could not be read: {}", describe(&outcome)),
            );
            self.respond(r);
            return;
        }
        if let Some(bytes) = outcome.dyn_ref::<Uint8Array>() {
            self.stage = Stage::Read(bytes.to_vec());
            return;
        }
        let r = match outcome.as_string().as_deref() {
            Some("large") => refused(
                Reason::BodyTooLarge,
                format!("the request body is over {limit} bytes, the most this proxy accepts"),
            ),
            Some("late") => refused(
                Reason::InvalidRequest,
                // Written with `error::uint`: the `i32` `Display` would be in the wasm for
                // this constant alone.
                crate::error::concat(&[
                    "the request body did not arrive within ",
                    &crate::error::uint(u64::from((BODY_DEADLINE_MS / 1000).unsigned_abs())),
                    " s",
                ]),
            ),
            _ => refused(
                Reason::InvalidRequest,
                "the request body is not bytes".to_owned(),
            ),
        };
        self.respond(r);
    }

    /// The upstream call, to await its `fetch`.
    #[wasm_bindgen(getter)]
    pub fn wire(&self) -> JsValue {
        Call::wire_of(self.call.as_ref())
    }

    /// The upstream's `fetch` rejected with `reason`.
    #[wasm_bindgen(js_name = upstreamFailed)]
    pub fn upstream_failed(&mut self, reason: JsValue) {
        let Stage::Upstream(f) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return;
        };
        let e = Call::rejection_of(self.call.as_ref(), reason, true).0;
        if let Some(call) = self.call.take() {
            call.end();
        }
        self.upstream_failed_with(&e, &f.token);
    }

    /// The upstream answered: 0 when the response is ready (`response`), else how many
    /// bytes of its error body to read, then `upstreamError()`.
    pub fn upstream(&mut self, response: JsValue) -> f64 {
        let Stage::Upstream(f) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return 0.0;
        };
        let Some(call) = self.call.take() else {
            return 0.0;
        };
        let Ok(response) = response.dyn_into::<Response>() else {
            call.end();
            let e = Error::network("the `fetch` function did not return a Response");
            self.upstream_failed_with(&e, &f.token);
            return 0.0;
        };
        call.headers_came();
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        let o = self.origin.clone();
        let o = o.as_deref();
        let status = response.status();
        let resp_headers = header_pairs(&response.headers());
        self.trace.upstream_request_id = upstream_request_id(&resp_headers);
        if !(200..300).contains(&status) {
            self.status = status;
            self.upstream_headers = resp_headers;
            self.call = Some(call);
            self.stage = Stage::Upstream(f);
            return MAX_ERROR_BODY_BYTES as f64;
        }
        let out_headers = response_headers(&resp_headers, o, &cfg.opts);
        let init = ResponseInit::new();
        init.set_status(status);
        init.set_headers(&headers_of(&out_headers, Some(&self.trace.request_id)));
        let Some(upstream_body) = response.body() else {
            call.end();
            log(cfg, &self.trace, status, None, None, None);
            let r = Response::new_with_opt_str_and_init(None, &init)
                .unwrap_or_else(|_| fallback_response());
            self.finish(r);
            return 0.0;
        };
        let kind = if is_event_stream(&out_headers) {
            BodyKind::EventStream
        } else {
            BodyKind::Document
        };
        let chat = f.chat;
        let relay = StreamRelay::new(
            kind,
            chat.is_some_and(|c| c.strip_usage),
            &[&f.token],
            chat.map_or(0, |c| c.prompt_estimate),
        );
        let watcher = Rc::new(std::cell::RefCell::new(Watcher {
            shared: shared.clone(),
            trace: self.trace.clone(),
            status,
            call,
            relay,
            chat: chat.is_some(),
            first_byte_ms: None,
            logged: false,
            failure: None,
        }));
        let handle = ProxyRelay {
            watcher: watcher.clone(),
        };
        let r = match relay_body(&upstream_body, handle) {
            Ok(body) => Response::new_with_opt_readable_stream_and_init(Some(&body), &init)
                .unwrap_or_else(|_| fallback_response()),
            Err(_) => {
                // No ReadableStream constructor here: answer with the error, not
                // unredacted bytes.
                watcher.borrow_mut().finish(false);
                fallback_response()
            }
        };
        self.finish(r);
        0.0
    }

    /// Body bytes of the upstream's error arrived: its idle timeout starts again.
    pub fn activity(&self) {
        if let Some(call) = &self.call {
            call.activity();
        }
    }

    /// The upstream's error body, read whole (empty if it could not be read).
    #[wasm_bindgen(js_name = upstreamError)]
    pub fn upstream_error(&mut self, bytes: &[u8]) {
        let Stage::Upstream(f) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return;
        };
        if let Some(call) = self.call.take() {
            call.end();
        }
        let cfg = &self.shared.cfg;
        let text = String::from_utf8_lossy(bytes);
        let r = upstream_error(
            self.status,
            &self.upstream_headers,
            &text,
            &[&f.token],
            self.origin.as_deref(),
            &cfg.opts,
        );
        self.respond(r);
    }

    /// Something threw on the way (a bug, or a runtime without what the proxy needs):
    /// the 500 to answer, never the exception.
    pub fn crashed(&mut self, error: JsValue) -> Response {
        if let Some(call) = self.call.take() {
            call.abort();
        }
        let r = misconfigured(
            &format!("the proxy failed: {}", describe(&error)),
            self.origin.as_deref(),
            &self.shared.cfg,
        );
        self.logged(&r)
    }

    /// The response, once `step()` said done.
    #[wasm_bindgen(getter)]
    pub fn response(&mut self) -> Response {
        self.response.take().unwrap_or_else(fallback_response)
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.abort();
        }
    }
}
