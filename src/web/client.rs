//! The exported `InferenceClient`.
//!
//! Owns: the client's checked configuration and the two ways to call chat
//! (`chatCompletion`, `chatCompletionStream`). Must never: build a URL or header itself
//! (`crate::providers` does), or interpret a response (`crate::response`,
//! `crate::types`, `crate::stream` do).

use std::rc::Rc;

use js_sys::{Function, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::chat_stream::{Callbacks, ChatStream};
use super::error::{describe, to_js};
use super::options::{self, CallOptions};
use super::transport::{self, Call};
use crate::error::{Error, ErrorKind, MAX_ERROR_BODY_BYTES};
use crate::response::{disposition, Disposition, PROVIDER_HEADER, REQUEST_ID_HEADERS};
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
}

/// A client for chat completions on the Hugging Face router or any
/// OpenAI-compatible server.
#[wasm_bindgen]
pub struct InferenceClient {
    cfg: Rc<Config>,
}

/// A request ready to send.
struct Prepared {
    body: String,
    headers: Vec<(String, String)>,
    call: CallOptions,
}

#[wasm_bindgen]
impl InferenceClient {
    /// `new InferenceClient({ token, baseUrl, endpointUrl, headers, fetch, timeouts, limits })`.
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
            }),
        })
    }

    /// One chat completion, not streamed.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, options: JsValue) -> Promise {
        let cfg = self.cfg.clone();
        let prepared = self.prepare(&request, &options, false);
        future_to_promise(async move {
            let token = cfg.token.clone();
            complete(cfg, prepared?).await.map_err(|(e, cause)| {
                let e = match &token {
                    Some(t) => e.redact(t),
                    None => e,
                };
                to_js(&e, None, cause.as_ref())
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
        let p = self.prepare(&request, &options, true)?;
        let o = p.call.object.as_ref();
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
        let call = Call::start(
            self.cfg.fetch.as_ref(),
            &self.cfg.chat_url,
            &p.headers,
            &p.body,
            p.call.timeouts,
            p.call.signal.as_ref(),
        )
        .map_err(|e| to_js(&e, None, None))?;
        Ok(ChatStream::start(
            call,
            self.cfg.token.clone(),
            self.cfg.limits,
            cb,
        ))
    }
}

impl InferenceClient {
    fn prepare(
        &self,
        request: &JsValue,
        options: &JsValue,
        stream: bool,
    ) -> Result<Prepared, JsValue> {
        let inner = || -> Result<Prepared, Error> {
            let call = options::call_options(options, self.cfg.timeouts, &self.cfg.headers)?;
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
            Ok(Prepared {
                body,
                headers,
                call,
            })
        };
        inner().map_err(|e| to_js(&e, None, None))
    }
}

async fn complete(cfg: Rc<Config>, p: Prepared) -> Result<JsValue, (Error, Option<JsValue>)> {
    let call = Call::start(
        cfg.fetch.as_ref(),
        &cfg.chat_url,
        &p.headers,
        &p.body,
        p.call.timeouts,
        p.call.signal.as_ref(),
    )
    .map_err(|e| (e, None))?;
    let response = call.response().await?;
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
            let text = transport::read_text(&call, &response, MAX_ERROR_BODY_BYTES)
                .await
                .map_err(|(e, c)| (tag(e), c))?;
            Err((tag(Error::http(status, &text)), None))
        }
        Disposition::Json | Disposition::EventStream => {
            let text = transport::read_text(&call, &response, MAX_COMPLETION_BYTES)
                .await
                .map_err(|(e, c)| (tag(e), c))?;
            match types::parse_completion(&text) {
                Err(e) => Err((tag(e), None)),
                Ok(_) => JSON::parse(&text).map_err(|_| {
                    (
                        tag(Error::new(
                            ErrorKind::Parse,
                            "the completion is not valid JSON for JavaScript",
                        )),
                        None,
                    )
                }),
            }
        }
    };
    call.end();
    result
}
