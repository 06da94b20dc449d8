//! The exported `InferenceClient`.
//!
//! Owns: the client's checked configuration and the two ways to call chat
//! (`chatCompletion`, `chatCompletionStream`), including the attempt loop of a
//! non-streamed call. Must never: build a URL or header itself (`crate::providers`
//! does), interpret a response (`crate::response`, `crate::types`, `crate::stream` do),
//! or decide whether to retry (`crate::retry` does; this file only sleeps and re-sends).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::chat_stream::{Callbacks, ChatStream};
use super::error::{attach_attempts, describe, set, to_js};
use super::options;
use super::transport::{self, Call, RequestSpec, Sleep};
use crate::error::{Error, ErrorKind, MAX_ERROR_BODY_BYTES};
use crate::plan::{Next, Plan};
use crate::providers::{FallbackSpec, Target};
use crate::response::{disposition, Disposition, PROVIDER_HEADER, REQUEST_ID_HEADERS};
use crate::retry::{BreakerOptions, BreakerState, Breakers, ResponseHints, RetryOptions};
use crate::sse::Limits;
use crate::timeouts::Timeouts;
use crate::{providers, types};

/// The largest non-streamed completion body read.
const MAX_COMPLETION_BYTES: usize = 64 << 20;

struct Config {
    token: Option<String>,
    chat_url: String,
    headers: Vec<(String, String)>,
    fetch: Option<Function>,
    timeouts: Timeouts,
    limits: Limits,
    retry: RetryOptions,
    fallback: Vec<FallbackSpec>,
    breakers: Rc<RefCell<Breakers>>,
}

/// A client for chat completions on the Hugging Face router or any
/// OpenAI-compatible server.
#[wasm_bindgen]
pub struct InferenceClient {
    cfg: Rc<Config>,
}

#[wasm_bindgen]
impl InferenceClient {
    /// `new InferenceClient({ token, baseUrl, endpointUrl, headers, fetch, timeouts,
    /// limits, retry })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<InferenceClient, JsValue> {
        let o = options::client_options(&options).map_err(|e| to_js(&e, None, None))?;
        let chat_url = providers::chat_url(o.base_url.as_deref(), o.endpoint_url.as_deref())
            .map_err(|e| to_js(&e, None, None))?;
        Ok(InferenceClient {
            cfg: Rc::new(Config {
                token: o.token,
                chat_url,
                headers: o.headers,
                fetch: o.fetch,
                timeouts: o.timeouts,
                limits: o.limits,
                retry: o.retry,
                fallback: o.fallback,
                // Off is a breaker that never trips.
                breakers: Rc::new(RefCell::new(Breakers::new(o.breaker.unwrap_or(
                    BreakerOptions {
                        failure_threshold: 0,
                        failure_rate: 0.0,
                        ..BreakerOptions::default()
                    },
                )))),
            }),
        })
    }

    /// One chat completion, not streamed.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, options: JsValue) -> Promise {
        let token = self.cfg.token.clone();
        let spec = self.prepare(&request, &options, false);
        future_to_promise(async move {
            let (spec, _) = spec?;
            let mut plan = Plan::new(spec.retry, spec.target_count(), js_sys::Date::now());
            complete(&spec, &mut plan).await.map_err(|(e, cause)| {
                let e = match &token {
                    Some(t) => e.redact(t),
                    None => e,
                };
                let js = to_js(&e, None, cause.as_ref());
                attach_attempts(&js, &plan.attempts());
                js
            })
        })
    }

    /// One chat completion, streamed. Returns at once; the request is already on its way.
    #[wasm_bindgen(js_name = chatCompletionStream)]
    pub fn chat_completion_stream(
        &self,
        request: JsValue,
        options: JsValue,
    ) -> Result<ChatStream, JsValue> {
        let (spec, o) = self.prepare(&request, &options, true)?;
        let o = o.as_ref();
        let cb = (|| -> Result<Callbacks, Error> {
            Ok(Callbacks {
                on_content: options::callback(o, "onContent")?,
                on_chunk: options::callback(o, "onChunk")?,
                on_finish: options::callback(o, "onFinish")?,
                on_error: options::callback(o, "onError")?,
                on_abort: options::callback(o, "onAbort")?,
            })
        })()
        .map_err(|e| to_js(&e, None, None))?;
        Ok(ChatStream::start(
            Rc::new(spec),
            self.cfg.token.clone(),
            self.cfg.limits,
            cb,
        ))
    }
}

#[wasm_bindgen]
impl InferenceClient {
    /// The circuit breakers' state, one entry per upstream this client called:
    /// `{ upstream, state: "closed" | "open" | "half_open", retryInMs?,
    /// consecutiveFailures, windowRequests, windowFailures }`.
    pub fn health(&self) -> js_sys::Array {
        let list = js_sys::Array::new();
        for b in self.cfg.breakers.borrow().snapshot(js_sys::Date::now()) {
            let o = Object::new();
            set(&o, "upstream", &b.upstream.as_str().into());
            let (state, retry_in) = match b.state {
                BreakerState::Closed => ("closed", None),
                BreakerState::Open { retry_in_ms } => ("open", Some(retry_in_ms)),
                BreakerState::HalfOpen => ("half_open", None),
            };
            set(&o, "state", &state.into());
            if let Some(ms) = retry_in {
                set(&o, "retryInMs", &(ms as f64).into());
            }
            set(&o, "consecutiveFailures", &b.consecutive_failures.into());
            set(&o, "windowRequests", &b.window_requests.into());
            set(&o, "windowFailures", &b.window_failures.into());
            list.push(&o);
        }
        list
    }
}

impl InferenceClient {
    /// Check the request and options and make the request to send (and the options
    /// object, for callbacks).
    fn prepare(
        &self,
        request: &JsValue,
        options: &JsValue,
        stream: bool,
    ) -> Result<(RequestSpec, Option<Object>), JsValue> {
        let inner = || -> Result<(RequestSpec, Option<Object>), Error> {
            let call = options::call_options(
                options,
                self.cfg.timeouts,
                self.cfg.retry,
                &self.cfg.headers,
            )?;
            if !request.is_object() || js_sys::Array::is_array(request) {
                return Err(Error::input(
                    "`request` must be an object with `messages` (and usually `model`)",
                ));
            }
            let json = JSON::stringify(request).map_err(|e| {
                Error::input(format!(
                    "`request` cannot be written as JSON: {}",
                    describe(&e)
                ))
            })?;
            let json = String::from(json);
            let body = types::prepare_chat_body(&json, stream)?;
            let headers =
                providers::chat_headers(self.cfg.token.as_deref(), &call.headers, stream)?;
            let on_retry = options::callback(call.object.as_ref(), "onRetry")?;
            let on_fallback = options::callback(call.object.as_ref(), "onFallback")?;
            let primary = Target::primary(&self.cfg.chat_url, &body);
            let fallbacks = call
                .fallback
                .as_ref()
                .unwrap_or(&self.cfg.fallback)
                .iter()
                .map(|f| Target::fallback(&primary, f))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((
                RequestSpec {
                    fetch: self.cfg.fetch.clone(),
                    primary,
                    fallbacks,
                    headers,
                    timeouts: call.timeouts,
                    signal: call.signal,
                    retry: call.retry,
                    breakers: self.cfg.breakers.clone(),
                    on_retry,
                    on_fallback,
                },
                call.object,
            ))
        };
        inner().map_err(|e| to_js(&e, None, None))
    }
}

/// Send attempts until one succeeds or the core's plan says to give up.
async fn complete(
    spec: &RequestSpec,
    plan: &mut Plan,
) -> Result<JsValue, (Error, Option<JsValue>)> {
    loop {
        let t = plan.current();
        let (e, cause, hints) = match attempt(spec, t).await {
            Ok(v) => {
                set_route(&v, spec, t);
                return Ok(v);
            }
            Err(failure) => failure,
        };
        if e.kind == ErrorKind::Aborted {
            return Err((e, cause));
        }
        let next = plan.on_failure(&e, &hints, false, js_sys::Date::now(), transport::random());
        match next {
            Next::GiveUp => return Err((plan.final_error(e), cause)),
            Next::Fallback { to } => {
                if let Err(thrown) = notify_fallback(spec, t, to, &e) {
                    return Err((e, Some(thrown)));
                }
            }
            Next::Retry { after_ms } => {
                if let Err(thrown) = notify_retry(spec, plan.retries(), &e, after_ms) {
                    return Err((e, Some(thrown)));
                }
                Sleep::new(after_ms, spec.signal.as_ref()).wait().await;
                if spec.aborted() {
                    return Err((Error::aborted(), None));
                }
            }
        }
    }
}

/// `route` on a completion: which target answered (`{ index, model, upstream }`).
pub(crate) fn route_of(spec: &RequestSpec, t: usize) -> JsValue {
    let target = spec.target(t);
    let o = Object::new();
    set(&o, "index", &(t as f64).into());
    if let Some(m) = &target.model {
        set(&o, "model", &m.as_str().into());
    }
    set(&o, "upstream", &target.upstream.as_str().into());
    o.into()
}

pub(crate) fn set_route(completion: &JsValue, spec: &RequestSpec, t: usize) {
    if completion.is_object() {
        let _ = js_sys::Reflect::set(completion, &JsValue::from_str("route"), &route_of(spec, t));
    }
}

/// `onRetry({ attempt, delayMs, error })` before a retry's sleep. An exception thrown by
/// the callback stops the call and comes back out as the cause.
pub(crate) fn notify_retry(
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
pub(crate) fn notify_fallback(
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

type Failure = (Error, Option<JsValue>, ResponseHints);

/// One attempt of a non-streamed call to target `t`, reported to its breaker.
async fn attempt(spec: &RequestSpec, t: usize) -> Result<JsValue, Failure> {
    let result = attempt_once(spec, t).await;
    match &result {
        Ok(_) => spec.record(t, Ok(())),
        Err((e, _, _)) => spec.record(t, Err(e)),
    }
    result
}

async fn attempt_once(spec: &RequestSpec, t: usize) -> Result<JsValue, Failure> {
    let none = |(e, c): (Error, Option<JsValue>)| (e, c, ResponseHints::default());
    let call: Call = spec
        .start(t)
        .map_err(|e| (e, None, ResponseHints::default()))?;
    let response = call.response().await.map_err(none)?;
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let request_id = REQUEST_ID_HEADERS.iter().find_map(|h| header(h));
    let provider = header(PROVIDER_HEADER);
    let status = response.status();
    let tag = |e: Error| {
        e.with_request_id(request_id.clone())
            .with_provider(provider.clone())
    };
    let result = match disposition(status, header("content-type").as_deref(), false) {
        Disposition::Error => {
            let hints = transport::hints(&response);
            let text = transport::read_text(&call, &response, MAX_ERROR_BODY_BYTES)
                .await
                .map_err(|(e, c)| (tag(e), c, hints))?;
            Err((tag(Error::http(status, &text)), None, hints))
        }
        Disposition::Json | Disposition::EventStream => {
            let text = transport::read_text(&call, &response, MAX_COMPLETION_BYTES)
                .await
                .map_err(|(e, c)| (tag(e), c, ResponseHints::default()))?;
            match types::parse_completion(&text) {
                Err(e) => Err((tag(e), None, ResponseHints::default())),
                Ok(_) => JSON::parse(&text).map_err(|_| {
                    (
                        tag(Error::new(
                            ErrorKind::Parse,
                            "the completion is not valid JSON for JavaScript",
                        )),
                        None,
                        ResponseHints::default(),
                    )
                }),
            }
        }
    };
    call.end();
    result
}
