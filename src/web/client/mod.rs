//! The client binding: the exported `InferenceClient` and `ChatStream`, what the
//! browser, Node, bundler and Workers entries of `hf-inference-wasm` load (built with
//! `feature = "client"` only, so it carries no proxy code).
//!
//! Owns: the client's checked configuration and the ways to call chat and text
//! generation (`chatCompletion`, `chatCompletionStream`, `textGeneration…`), including
//! the attempt loop of a non-streamed call; `chat_stream` (one stream, pumped one read
//! at a time through `crate::decode`; the read loop itself is plain JS in `js/api.js`),
//! `hub` (the mapping cache and look-ups in flight), `metering` (meter, price table,
//! response cache, rate limiter and route rules around each call). Must never: build a
//! URL or header itself (`crate::providers` does), interpret a response
//! (`crate::response`, `crate::types`, `crate::decode` do), decide whether to retry
//! (`crate::retry` does; this only sleeps and re-sends), or import anything from the
//! proxy binding.
//!
//! The files depend only downwards, no circle: this one on all; `chat_stream` on `gate`;
//! `gate` on `job`; those and `models` on `call` (the configuration, a call's options
//! and request, the steps around an attempt); `call` on `metering` and `hub`, which
//! depend on no other file here.

mod call;
mod chat_stream;
mod gate;
mod hub;
mod job;
pub(crate) mod metering;
mod models;

pub use chat_stream::ChatStream;
pub(crate) use gate::Gate;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, JSON};
use wasm_bindgen::prelude::*;

use crate::error::Error;

use crate::protocol::Protocol;
use crate::providers::{Auth, FallbackSpec, ProviderInfo, Route, Target};

use crate::options::client::client_options;
use crate::retry::{BreakerOptions, Breakers};
use crate::route::{text_generation_route, ChatInputs, ChatTarget};
use crate::types;
use crate::web::error::{describe, to_js};
use crate::web::options::hand_over;
use call::{Call, Config, RequestSpec};
use chat_stream::Callbacks;

use hub::Lookups;
use metering::{CallRecord, Metering};

/// A call ready to send, or (a direct provider call) waiting for the Hub mapping.
struct Prepared {
    spec: RequestSpec,
    call: Call,
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
        let read = || -> Result<Config, Error> {
            let handed = hand_over(&options)?;
            let mut o = client_options(&handed.json)?;
            // Off is a breaker that never trips.
            let breaker = o.breaker.unwrap_or(BreakerOptions {
                failure_threshold: 0,
                failure_rate: 0.0,
                ..BreakerOptions::default()
            });
            Ok(Config {
                auth: Auth::from_token(o.token.take().as_deref()),
                fetch: handed.function(o.fetch),
                breakers: Rc::new(RefCell::new(Breakers::new(breaker))),
                lookups: Lookups::new(o.mapping_cache),
                metering: Metering::new(std::mem::take(&mut o.metering), &handed)?,
                o,
            })
        };
        match read() {
            Ok(cfg) => Ok(InferenceClient { cfg: Rc::new(cfg) }),
            Err(e) => Err(to_js(&e, None, None)),
        }
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
        models::start(self.cfg.clone(), &options, models::Want::List)
    }

    /// Load prices from the router's model list (`providers[].pricing`) into the
    /// client's price table; prices given in the `prices` option win. Resolves to the
    /// number of `model:provider` prices known afterwards.
    #[wasm_bindgen(js_name = loadPricing)]
    pub fn load_pricing(&self, options: JsValue) -> Promise {
        models::start(self.cfg.clone(), &options, models::Want::Pricing)
    }

    /// Running totals (all, by model, by provider), the budget, whether a cost or token
    /// spike is in progress, and the most recent request records.
    pub fn usage(&self) -> JsValue {
        self.cfg.metering.snapshot()
    }
}

#[wasm_bindgen]
impl InferenceClient {
    /// The circuit breakers' state, one entry per upstream this client called:
    /// `{ upstream, state: "closed" | "open" | "half_open", retryInMs?,
    /// consecutiveFailures, windowRequests, windowFailures }`.
    pub fn health(&self) -> JsValue {
        let list = self.cfg.breakers.borrow().snapshot(js_sys::Date::now());
        // The core's own JSON: it always parses.
        js_sys::JSON::parse(&crate::retry::health_json(&list)).unwrap_or(JsValue::UNDEFINED)
    }
}

impl InferenceClient {
    /// Run a prepared non-streamed call to its end: gated (cache, budget, rate limit)
    /// and resolved (a direct provider's model id) here, then its attempts driven by
    /// `js/wire.js` through a [`job::Job`].
    fn run(&self, prepared: Result<Prepared, JsValue>) -> Promise {
        let Prepared { spec, pending, .. } = match prepared {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        let gated = spec.record.as_ref().is_some_and(|r| r.metering().gates());
        if !gated && pending.is_none() {
            return job::run(spec, self.cfg.token());
        }
        Gate::new(self.cfg.clone(), spec, pending).run()
    }

    /// Start a prepared streamed call.
    fn stream(&self, prepared: Prepared) -> Result<ChatStream, JsValue> {
        let call = &prepared.call;
        let cb = Callbacks {
            on_content: call.function(call.o.on_content),
            on_chunk: call.function(call.o.on_chunk),
            on_finish: call.function(call.o.on_finish),
            on_error: call.function(call.o.on_error),
            on_abort: call.function(call.o.on_abort),
        };
        // `accumulate: false`: the stream keeps no text (memory stays flat however long
        // it runs); `onContent` still gets every delta, the final completion has none.
        let accumulate = call.o.accumulate;
        let decode = crate::decode::DecodeOptions {
            limits: self.cfg.o.limits,
            keep_chunks: false,
            patch_chunks: false,
            accumulate,
        };
        // Sent at once, unless the call must first pass the cache, the budget and the
        // rate limiter, or look up a direct provider's model id.
        let gated = prepared
            .spec
            .record
            .as_ref()
            .is_some_and(|r| r.metering().gates());
        let gate = (gated || prepared.pending.is_some())
            .then(|| Gate::new(self.cfg.clone(), prepared.spec.clone(), prepared.pending));
        Ok(ChatStream::start(
            Rc::new(prepared.spec),
            gate,
            self.cfg.token(),
            decode,
            cb,
        ))
    }

    /// The call's options and the request as JSON text.
    fn read_call(
        &self,
        request: &JsValue,
        options: &JsValue,
        what: &str,
    ) -> Result<(Call, String), Error> {
        let call = Call::read(&self.cfg, options)?;
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
            let tier = call.o.tier.as_deref();
            let (body, rule) = match &cfg.metering.router {
                None => (body, None),
                Some(router) => match crate::difficulty::apply_route(&body, router, tier)? {
                    crate::difficulty::Routed::Explicit => (body, None),
                    crate::difficulty::Routed::Chosen { body, choice } => (body, Some(choice)),
                },
            };
            let inputs = ChatInputs {
                routing: call.o.routing.over(&cfg.o.routing),
                model: types::model_of(&body).unwrap_or_default(),
                body,
                headers: call.o.headers.clone(),
                stream,
            };
            let fallback = call.o.fallback.as_ref().unwrap_or(&cfg.o.fallback);
            match inputs.target(&cfg.o, &cfg.auth, !fallback.is_empty())? {
                ChatTarget::Direct {
                    provider,
                    provisional,
                } => {
                    let spec = self.spec(Protocol::Chat, &provisional, &[], &call, rule, stream)?;
                    Ok(Prepared {
                        spec,
                        call,
                        pending: Some((provider, inputs)),
                    })
                }
                ChatTarget::Routed(route) => {
                    let spec = self.spec(Protocol::Chat, &route, fallback, &call, rule, stream)?;
                    Ok(Prepared {
                        spec,
                        call,
                        pending: None,
                    })
                }
            }
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
            let route = text_generation_route(
                &cfg.o,
                &cfg.auth,
                &call.o.routing.over(&cfg.o.routing),
                &json,
                &call.o.headers,
                stream,
                call.o.fallback.is_some(),
            )?;
            let spec = self.spec(Protocol::TextGeneration, &route, &[], &call, None, stream)?;
            Ok(Prepared {
                spec,
                call,
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
        call: &Call,
        rule: Option<crate::difficulty::Chosen>,
        stream: bool,
    ) -> Result<RequestSpec, Error> {
        let primary = Target::primary(&route.url, &route.body);
        let m = &self.cfg.metering;
        let (prompt, est_tokens) = crate::protocol::request_estimates(protocol, &route.body);
        let chat = protocol == Protocol::Chat;
        let cache_key = m.cache_key(chat, stream, &route.body, &primary.url, call.o.cache);
        let record = CallRecord::new(
            m,
            primary.model.clone(),
            primary.upstream.clone(),
            rule,
            m.estimate.then_some(prompt),
            cache_key,
            call.function(call.o.on_usage),
            est_tokens,
        );
        let fallbacks = fallback
            .iter()
            .map(|f| Target::fallback(&primary, f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RequestSpec {
            protocol,
            fetch: self.cfg.fetch.clone(),
            primary,
            fallbacks,
            headers: route.headers.clone(),
            timeouts: call.o.timeouts,
            signal: call.signal.clone(),
            retry: call.o.retry,
            breakers: self.cfg.breakers.clone(),
            on_retry: call.function(call.o.on_retry),
            on_fallback: call.function(call.o.on_fallback),
            record: Some(record),
        })
    }
}
