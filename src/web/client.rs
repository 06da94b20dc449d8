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

use super::chat_stream::{Callbacks, ChatStream, Resolving};
use super::error::{attach_attempts, describe, set, to_js};
use super::hub::{warn, LookupRequest, Lookups};
use super::options::{self, CallOptions, Routing};
use super::transport::{self, Call, RequestSpec, Sleep};
use crate::error::{Error, ErrorKind, MAX_ERROR_BODY_BYTES};
use crate::hub::{CacheConfig, TASK_CHAT};
use crate::plan::{Next, Plan};
use crate::protocol::Protocol;
use crate::providers::{Auth, FallbackSpec, Provider, ProviderInfo, Route, RouteRequest, Target};
use crate::response::{disposition, Disposition, PROVIDER_HEADER, REQUEST_ID_HEADERS};
use crate::retry::{BreakerOptions, BreakerState, Breakers, ResponseHints, RetryOptions};
use crate::sse::Limits;
use crate::tgi::{TextGenerationRequest, TgiRouteRequest};
use crate::timeouts::Timeouts;
use crate::{models, providers, tgi, types};

/// The largest non-streamed completion body read.
const MAX_COMPLETION_BYTES: usize = 64 << 20;
/// The largest model list read (the router's is about 100 KB).
const MAX_MODEL_LIST_BYTES: usize = 8 << 20;

struct Config {
    auth: Auth,
    base_url: Option<String>,
    endpoint_url: Option<String>,
    hub_url: Option<String>,
    routing: Routing,
    headers: Vec<(String, String)>,
    fetch: Option<Function>,
    timeouts: Timeouts,
    limits: Limits,
    retry: RetryOptions,
    fallback: Vec<FallbackSpec>,
    breakers: Rc<RefCell<Breakers>>,
    lookups: Lookups,
}

impl Config {
    fn token(&self) -> Option<String> {
        self.auth.secret().map(str::to_owned)
    }
}

/// A chat call's routing inputs, owned, so the route can be decided again once a direct
/// call's model id is known.
struct ChatInputs {
    routing: Routing,
    model: String,
    body: String,
    headers: Vec<(String, String)>,
    stream: bool,
}

impl ChatInputs {
    fn request<'a>(&'a self, cfg: &'a Config, mapped: Option<&'a str>) -> RouteRequest<'a> {
        RouteRequest {
            provider: self.routing.provider.unwrap_or_default(),
            policy: self.routing.policy,
            model: &self.model,
            base_url: cfg.base_url.as_deref(),
            endpoint_url: cfg.endpoint_url.as_deref(),
            auth: &cfg.auth,
            bill_to: self.routing.bill_to.as_deref(),
            mapped_model: mapped,
            body: &self.body,
            extra_headers: &self.headers,
            stream: self.stream,
        }
    }
}

/// A call ready to send, or (a direct provider call) waiting for the Hub mapping.
struct Prepared {
    spec: RequestSpec,
    object: Option<Object>,
    /// The provider whose model id must be looked up before sending.
    pending: Option<(&'static ProviderInfo, ChatInputs)>,
}

/// A client for chat completions and text generation on the Hugging Face router, a
/// provider's own API, or any OpenAI-compatible or TGI server.
#[wasm_bindgen]
pub struct InferenceClient {
    cfg: Rc<Config>,
}

#[wasm_bindgen]
impl InferenceClient {
    /// `new InferenceClient({ token, provider, policy, billTo, baseUrl, endpointUrl,
    /// hubUrl, headers, fetch, timeouts, limits, retry, circuitBreaker, fallback })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<InferenceClient, JsValue> {
        let o = options::client_options(&options).map_err(|e| to_js(&e, None, None))?;
        // URLs and option conflicts are reported now, not on the first call.
        let check = || -> Result<(), Error> {
            providers::chat_url(o.base_url.as_deref(), o.endpoint_url.as_deref())?;
            if let Some(hub) = &o.hub_url {
                providers::chat_url(Some(hub), None).map_err(|_| {
                    Error::input(format!(
                        "`hubUrl` must be an absolute http:// or https:// URL, got {hub:?}"
                    ))
                })?;
            }
            if let (Some(_), Some(Provider::Named(p))) = (&o.endpoint_url, o.routing.provider) {
                return Err(Error::input(format!(
                    "`provider: \"{}\"` and `endpointUrl` are both set: an endpoint serves its own model; drop one of them",
                    p.name
                )));
            }
            Ok(())
        };
        check().map_err(|e| to_js(&e, None, None))?;
        Ok(InferenceClient {
            cfg: Rc::new(Config {
                auth: Auth::from_token(o.token.as_deref()),
                base_url: o.base_url,
                endpoint_url: o.endpoint_url,
                hub_url: o.hub_url,
                routing: o.routing,
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
                lookups: Lookups::new(CacheConfig::default()),
            }),
        })
    }

    /// One chat completion, not streamed.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, options: JsValue) -> Promise {
        let prepared = self.prepare_chat(&request, &options, false);
        self.run(prepared)
    }

    /// One chat completion, streamed. Returns at once; the request is already on its way
    /// (after the provider's model id is looked up, for a direct provider call).
    #[wasm_bindgen(js_name = chatCompletionStream)]
    pub fn chat_completion_stream(
        &self,
        request: JsValue,
        options: JsValue,
    ) -> Result<ChatStream, JsValue> {
        let prepared = self.prepare_chat(&request, &options, true)?;
        self.stream(prepared)
    }

    /// TGI text generation, not streamed: `{ generated_text, details? }`.
    #[wasm_bindgen(js_name = textGeneration)]
    pub fn text_generation(&self, request: JsValue, options: JsValue) -> Promise {
        let prepared = self.prepare_tgi(&request, &options, false);
        self.run(prepared)
    }

    /// TGI text generation, streamed: a stream of token events, with the same surface
    /// as `chatCompletionStream` (its final result is `{ generated_text, details? }`).
    #[wasm_bindgen(js_name = textGenerationStream)]
    pub fn text_generation_stream(
        &self,
        request: JsValue,
        options: JsValue,
    ) -> Result<ChatStream, JsValue> {
        let prepared = self.prepare_tgi(&request, &options, true)?;
        self.stream(prepared)
    }

    /// The models the router (or `baseUrl`/`endpointUrl`) serves: `GET …/v1/models`,
    /// with each model's providers, status, context length and pricing.
    #[wasm_bindgen(js_name = listModels)]
    pub fn list_models(&self, options: JsValue) -> Promise {
        let cfg = self.cfg.clone();
        future_to_promise(async move {
            let token = cfg.token();
            let redact = |e: Error| match &token {
                Some(t) => e.redact(t),
                None => e,
            };
            let inner = async {
                let call = options::call_options(&options, cfg.timeouts, cfg.retry, &cfg.headers)?;
                let url =
                    providers::models_url(cfg.base_url.as_deref(), cfg.endpoint_url.as_deref())?;
                let mut headers = providers::chat_headers(cfg.auth.secret(), &call.headers, false)?;
                headers.retain(|(n, _)| n != "content-type");
                let got = transport::get_text(
                    cfg.fetch.as_ref(),
                    &url,
                    &headers,
                    call.timeouts,
                    call.signal.as_ref(),
                    MAX_MODEL_LIST_BYTES,
                )
                .await
                .map_err(|(e, _)| e)?;
                if !(200..300).contains(&got.status) {
                    return Err(Error::http(got.status, &got.body).with_request_id(got.request_id));
                }
                let list = models::parse_model_list(&got.body)?;
                Ok::<_, Error>(serde_json::to_string(&list).unwrap_or_default())
            };
            match inner.await {
                Ok(json) => JSON::parse(&json).map_err(|_| {
                    to_js(
                        &Error::new(ErrorKind::Parse, "the model list could not be read"),
                        None,
                        None,
                    )
                }),
                Err(e) => Err(to_js(&redact(e), None, None)),
            }
        })
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
    /// Run a prepared non-streamed call to its end.
    fn run(&self, prepared: Result<Prepared, JsValue>) -> Promise {
        let cfg = self.cfg.clone();
        future_to_promise(async move {
            let token = cfg.token();
            let redact = |e: Error| match &token {
                Some(t) => e.redact(t),
                None => e,
            };
            let Prepared { spec, pending, .. } = prepared?;
            let spec = match pending {
                Some((provider, inputs)) => resolve(cfg.clone(), spec, provider, inputs)
                    .await
                    .map_err(|e| to_js(&redact(e), None, None))?,
                None => spec,
            };
            let mut plan = Plan::new(spec.retry, spec.target_count(), js_sys::Date::now());
            complete(&spec, &mut plan).await.map_err(|(e, cause)| {
                let js = to_js(&redact(e), None, cause.as_ref());
                attach_attempts(&js, &plan.attempts());
                js
            })
        })
    }

    /// Start a prepared streamed call.
    fn stream(&self, prepared: Prepared) -> Result<ChatStream, JsValue> {
        let o = prepared.object.as_ref();
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
        let resolving: Option<Resolving> = prepared.pending.map(|(provider, inputs)| {
            Box::pin(resolve(
                self.cfg.clone(),
                prepared.spec.clone(),
                provider,
                inputs,
            )) as Resolving
        });
        Ok(ChatStream::start(
            Rc::new(prepared.spec),
            resolving,
            self.cfg.token(),
            self.cfg.limits,
            cb,
        ))
    }

    /// The call's options and the request as JSON text.
    fn read_call(
        &self,
        request: &JsValue,
        options: &JsValue,
        what: &str,
    ) -> Result<(CallOptions, String), Error> {
        let call = options::call_options(
            options,
            self.cfg.timeouts,
            self.cfg.retry,
            &self.cfg.headers,
        )?;
        if !request.is_object() || js_sys::Array::is_array(request) {
            return Err(Error::input(format!(
                "`request` must be an object with {what}"
            )));
        }
        let json = JSON::stringify(request).map_err(|e| {
            Error::input(format!(
                "`request` cannot be written as JSON: {}",
                describe(&e)
            ))
        })?;
        Ok((call, String::from(json)))
    }

    /// Check a chat request and its options and decide where it goes.
    fn prepare_chat(
        &self,
        request: &JsValue,
        options: &JsValue,
        stream: bool,
    ) -> Result<Prepared, JsValue> {
        let inner = || -> Result<Prepared, Error> {
            let cfg = &self.cfg;
            let (call, json) =
                self.read_call(request, options, "`messages` (and usually `model`)")?;
            let body = types::prepare_chat_body(&json, stream)?;
            let inputs = ChatInputs {
                routing: call.routing.over(&cfg.routing),
                model: types::model_of(&body).unwrap_or_default(),
                body,
                headers: call.headers.clone(),
                stream,
            };
            let fallback = call.fallback.as_ref().unwrap_or(&cfg.fallback);
            let direct = providers::direct_provider(&inputs.request(cfg, None));
            if let Some(p) = direct {
                if !fallback.is_empty() {
                    return Err(Error::input(format!(
                        "`fallback` is for calls through a router or to endpoints; a direct call to \"{}\" with its own key would send that key elsewhere: drop `fallback`, or use an HF token",
                        p.name
                    )));
                }
                // Provisional until the mapping gives the provider's model id.
                let url = p.direct_chat_url().unwrap_or_default();
                let route = Route {
                    url,
                    headers: Vec::new(),
                    body: inputs.body.clone(),
                    routed: false,
                    provider: Some(p.name),
                };
                let spec = self.spec(Protocol::Chat, &route, &[], &call)?;
                return Ok(Prepared {
                    spec,
                    object: call.object,
                    pending: Some((p, inputs)),
                });
            }
            let route = providers::route_chat(inputs.request(cfg, None))?;
            let spec = self.spec(Protocol::Chat, &route, fallback, &call)?;
            Ok(Prepared {
                spec,
                object: call.object,
                pending: None,
            })
        };
        inner().map_err(|e| to_js(&e, None, None))
    }

    /// Check a `textGeneration` request and its options and decide where it goes.
    fn prepare_tgi(
        &self,
        request: &JsValue,
        options: &JsValue,
        stream: bool,
    ) -> Result<Prepared, JsValue> {
        let inner = || -> Result<Prepared, Error> {
            let cfg = &self.cfg;
            let (call, json) = self.read_call(request, options, "`inputs` (and `parameters`)")?;
            if call.fallback.is_some() {
                return Err(Error::input(
                    "`fallback` applies to chat completions; textGeneration has one target",
                ));
            }
            let req = TextGenerationRequest::from_json(&json)?;
            let routing = call.routing.over(&cfg.routing);
            let route = tgi::route_text_generation(TgiRouteRequest {
                provider: routing.provider.unwrap_or_default(),
                policy: routing.policy,
                model: "",
                base_url: cfg.base_url.as_deref(),
                endpoint_url: cfg.endpoint_url.as_deref(),
                auth: &cfg.auth,
                bill_to: routing.bill_to.as_deref(),
                request: &req,
                extra_headers: &call.headers,
                stream,
            })?;
            let spec = self.spec(Protocol::TextGeneration, &route, &[], &call)?;
            Ok(Prepared {
                spec,
                object: call.object,
                pending: None,
            })
        };
        inner().map_err(|e| to_js(&e, None, None))
    }

    fn spec(
        &self,
        protocol: Protocol,
        route: &Route,
        fallback: &[FallbackSpec],
        call: &CallOptions,
    ) -> Result<RequestSpec, Error> {
        let primary = Target::primary(&route.url, &route.body);
        let fallbacks = fallback
            .iter()
            .map(|f| Target::fallback(&primary, f))
            .collect::<Result<Vec<_>, _>>()?;
        let o = call.object.as_ref();
        Ok(RequestSpec {
            protocol,
            fetch: self.cfg.fetch.clone(),
            primary,
            fallbacks,
            headers: route.headers.clone(),
            timeouts: call.timeouts,
            signal: call.signal.clone(),
            retry: call.retry,
            breakers: self.cfg.breakers.clone(),
            on_retry: options::callback(o, "onRetry")?,
            on_fallback: options::callback(o, "onFallback")?,
        })
    }
}

/// A direct provider call's real request: look up the provider's id for the model on
/// the Hub (cached), then route with it.
async fn resolve(
    cfg: Rc<Config>,
    mut spec: RequestSpec,
    provider: &'static ProviderInfo,
    inputs: ChatInputs,
) -> Result<RequestSpec, Error> {
    let mapping = cfg
        .lookups
        .get(LookupRequest {
            fetch: cfg.fetch.as_ref(),
            hub_url: cfg.hub_url.as_deref(),
            auth: &cfg.auth,
            model: &inputs.model,
            timeouts: spec.timeouts,
            signal: spec.signal.as_ref(),
        })
        .await?;
    let entry = mapping.require(provider.name, TASK_CHAT)?;
    if let Some(w) = entry.staging_warning(&inputs.model) {
        warn(&w);
    }
    let route = providers::route_chat(inputs.request(&cfg, Some(&entry.provider_id)))?;
    spec.primary = Target::primary(&route.url, &route.body);
    spec.headers = route.headers;
    Ok(spec)
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
            // A chat completion goes out as the server wrote it (every field); a TGI
            // answer in the core's one shape (servers differ: an object or an array).
            let parsed = match spec.protocol {
                Protocol::Chat => types::parse_completion(&text).map(|_| text),
                Protocol::TextGeneration => tgi::parse_text_generation(&text)
                    .map(|out| serde_json::to_string(&out).unwrap_or_default()),
            };
            match parsed {
                Err(e) => Err((tag(e), None, ResponseHints::default())),
                Ok(text) => JSON::parse(&text).map_err(|_| {
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
