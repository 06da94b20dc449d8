//! Text generation with TGI's native API: `{inputs, parameters}` in,
//! `{generated_text, details}` out, and its token stream.
//!
//! Owns: reading the caller's `textGeneration` request ([`TextGenerationRequest`]),
//! where it goes ([`route_text_generation`]: a dedicated endpoint's `/generate` and
//! `/generate_stream`, or the router's `hf-inference` model route), reading a
//! non-stream answer in both shapes servers use ([`parse_text_generation`]), and
//! [`TgiStreamState`], the pure state machine the shell feeds every event of a
//! `/generate_stream` response. Must never: do I/O, panic on any input, drop a field it
//! does not know (unknown fields are kept and serialize back), or re-copy accumulated
//! text.
//!
//! Wire shapes follow TGI's OpenAPI description
//! (<https://huggingface.github.io/text-generation-inference/>): a stream event is
//! `{"index", "token": {"id", "text", "logprob", "special"}, "generated_text": null,
//! "details": null}`, the last one carries `generated_text` (and `details` when asked
//! for); an error is `{"error", "error_type"}`, in the stream with HTTP 200. Deliberate
//! differences, all seen in the recordings: old TGI writes `data:{` with no space and
//! never sends `[DONE]` (the event with `generated_text` is the end; a `[DONE]` is
//! accepted too), and some servers answer a non-stream call with a one-element array.
//!
//! The router's `hf-inference` route is `{router}/hf-inference/models/{id}` with
//! `{"inputs", "parameters", "stream"}` as the official clients send it (recorded in
//! `tests/fixtures/*-recordings.json`); `…/v1/completions` routes are the OpenAI
//! completions API of other providers, a different wire format, not used here.

use crate::json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::json::{
    count, f64_of, invalid_type, optional, required_string, string_of, Expect, ObjectText,
};
#[cfg(test)]
use crate::json::{lenient_bool, lenient_u64, opt_f64, opt_string, opt_u64, string_or_null};
use crate::providers::{
    chat_headers, routing_error, split_model, split_url, with_bill_to, Auth, Policy, Provider,
    Route, Suffix, DEFAULT_BASE_URL,
};
use crate::sse::Event;
use crate::types::{is_error_payload, parse_error};

// ---------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------

/// TGI's `GenerateParameters` and their types; others pass through unchecked.
const PARAMETER_TYPES: &[(&str, Expect)] = &[
    ("max_new_tokens", Expect::Integer),
    ("temperature", Expect::Number),
    ("top_k", Expect::Integer),
    ("top_p", Expect::Number),
    ("typical_p", Expect::Number),
    ("repetition_penalty", Expect::Number),
    ("frequency_penalty", Expect::Number),
    ("truncate", Expect::Integer),
    ("seed", Expect::Integer),
    ("best_of", Expect::Integer),
    ("top_n_tokens", Expect::Integer),
    ("do_sample", Expect::Bool),
    ("details", Expect::Bool),
    ("decoder_input_details", Expect::Bool),
    ("return_full_text", Expect::Bool),
    ("watermark", Expect::Bool),
    ("stop", Expect::Strings),
    ("grammar", Expect::Object),
    ("adapter_id", Expect::String),
];

/// A `textGeneration` request as the caller wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextGenerationRequest {
    /// The `model` field, if the caller put one in the request.
    pub model: Option<String>,
    pub inputs: String,
    pub parameters: Option<Map<String, Value>>,
    /// Other top-level fields (`add_special_tokens`, …), sent as they came. `stream`
    /// is not kept: the call decides it.
    pub extra: Map<String, Value>,
}

impl TextGenerationRequest {
    /// Read and check the caller's request (JSON text). `inputs` must be a string,
    /// `parameters` an object whose known fields have TGI's types; anything wrong is an
    /// [`ErrorKind::Input`] error naming the field.
    pub fn from_json(request_json: &str) -> Result<Self, Error> {
        let value: Value = crate::json::parse(request_json).map_err(|e| {
            Error::input(format!("the textGeneration request is not valid JSON: {e}"))
        })?;
        let Value::Object(mut map) = value else {
            return Err(Error::input(
                "the textGeneration request must be an object such as {\"inputs\": \"Hello\", \"parameters\": {\"max_new_tokens\": 50}}",
            ));
        };
        let inputs = match map.remove("inputs") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => {
                return Err(Error::input(
                    "`inputs` is required: the prompt text, e.g. {\"inputs\": \"Hello\"}",
                ))
            }
            Some(_) => return Err(Error::input("`inputs` must be a string (the prompt text)")),
        };
        let model = match map.remove("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(Error::input("`model` must be a string")),
        };
        let parameters = match map.remove("parameters") {
            None | Some(Value::Null) => None,
            Some(Value::Object(p)) => {
                for &(field, expect) in PARAMETER_TYPES {
                    if let Some(v) = p.get(field) {
                        if !expect.accepts(v) {
                            return Err(Error::input(format!(
                                "`parameters.{field}` must be {}",
                                expect.describe()
                            )));
                        }
                    }
                }
                Some(p)
            }
            Some(_) => {
                return Err(Error::input(
                    "`parameters` must be an object such as {\"max_new_tokens\": 50}",
                ))
            }
        };
        map.remove("stream");
        Ok(TextGenerationRequest {
            model,
            inputs,
            parameters,
            extra: map,
        })
    }

    /// The body to send: `{inputs, parameters?, …extra}`, plus `stream` when given
    /// (the `hf-inference` route reads it; `/generate_stream` does not need it).
    pub fn body(&self, stream: Option<bool>) -> Result<String, Error> {
        let mut map = self.extra.clone();
        map.insert("inputs".to_owned(), Value::String(self.inputs.clone()));
        if let Some(p) = &self.parameters {
            map.insert("parameters".to_owned(), Value::Object(p.clone()));
        }
        if let Some(s) = stream {
            map.insert("stream".to_owned(), Value::Bool(s));
        }
        Ok(Value::Object(map).to_text())
    }
}

// ---------------------------------------------------------------------------------
// Where it goes
// ---------------------------------------------------------------------------------

/// TGI's route on a dedicated endpoint: `/generate`, or `/generate_stream` for a
/// stream. A URL the caller copied with a route already on it (`/generate`,
/// `/generate_stream`, `/v1`, `/v1/chat/completions`, `/v1/completions`) has it
/// replaced; a query is kept.
pub fn generate_url(endpoint_url: &str, stream: bool) -> Result<String, Error> {
    let (path, query) = split_url(endpoint_url, "endpointUrl")?;
    let mut path = path.trim_end_matches('/');
    for route in [
        "/generate_stream",
        "/generate",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1",
    ] {
        if let Some(p) = path.strip_suffix(route) {
            path = p;
            break;
        }
    }
    let route = if stream {
        "/generate_stream"
    } else {
        "/generate"
    };
    Ok(format!("{path}{route}{query}"))
}

/// The router's `hf-inference` route for `model`: `{base}/hf-inference/models/{id}`.
pub fn hf_inference_url(base_url: Option<&str>, model: &str) -> Result<String, Error> {
    let (path, query) = split_url(base_url.unwrap_or(DEFAULT_BASE_URL), "baseUrl")?;
    crate::hub::check_model_id(model)?;
    Ok(format!(
        "{}/hf-inference/models/{model}{query}",
        path.trim_end_matches('/')
    ))
}

/// Everything [`route_text_generation`] decides from (the fields mean what they mean
/// in [`crate::providers::RouteRequest`]).
#[derive(Debug, Clone, Copy)]
pub struct TgiRouteRequest<'a> {
    pub provider: Provider,
    pub policy: Option<Policy>,
    /// The model option; `""` falls back to the request's own `model`.
    pub model: &'a str,
    pub base_url: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
    pub auth: &'a Auth,
    pub bill_to: Option<&'a str>,
    pub request: &'a TextGenerationRequest,
    pub extra_headers: &'a [(String, String)],
    pub stream: bool,
}

/// Decide where a `textGeneration` call goes.
///
/// - `endpoint_url`: `{endpoint}/generate` or `/generate_stream` ([`generate_url`]),
///   whatever token the caller gave, body `{inputs, parameters}`; `provider` or
///   `policy` with it is an input error.
/// - An HF token, or a `base_url`: `{base_url or router}/hf-inference/models/{id}`,
///   body `{inputs, parameters, stream}`, `X-HF-Bill-To` when `bill_to` is set. Only
///   `auto` and `hf-inference` can serve TGI's API; another provider is an input error
///   (its models are reached with chat completions).
/// - A provider key or no key, without either URL: a `routing` error.
pub fn route_text_generation(req: TgiRouteRequest<'_>) -> Result<Route, Error> {
    if let Some(endpoint) = req.endpoint_url {
        if let Provider::Named(p) = req.provider {
            return Err(Error::input(format!(
                "`provider: \"{}\"` and `endpointUrl` are both set: an endpoint serves its own model; drop one of them",
                p.name
            )));
        }
        if req.policy.is_some() {
            return Err(Error::input(
                "`policy` applies to the router, not to a dedicated `endpointUrl`: drop it",
            ));
        }
        if req.base_url.is_some() {
            return Err(Error::input(
                "`baseUrl` and `endpointUrl` are both set: use `endpointUrl` for a dedicated endpoint, `baseUrl` for a router-compatible server, not both",
            ));
        }
        let url = generate_url(endpoint, req.stream)?;
        if let (Auth::ProviderKey(_), Some(host)) = (req.auth, crate::providers::host_of(&url)) {
            if crate::providers::is_hf_host(&host) {
                return Err(routing_error(format!(
                    "the token does not start with `hf_`, so it is taken for a provider's own key, and `endpointUrl` points at {host}, which takes only Hugging Face tokens: pass an HF token (hf_…)"
                )));
            }
        }
        return Ok(Route {
            url,
            headers: chat_headers(req.auth.secret(), req.extra_headers, req.stream)?,
            body: req.request.body(None)?,
            routed: false,
            provider: None,
        });
    }
    match (req.auth, req.base_url) {
        (Auth::HfToken(_), _) | (_, Some(_)) => {}
        (Auth::ProviderKey(_), None) => {
            return Err(routing_error(
                "textGeneration uses TGI's API, which Hugging Face serves as \"hf-inference\" through the router: pass an HF token (hf_…), or point `endpointUrl` at your own TGI server; a provider's own key cannot be used for it",
            ))
        }
        (Auth::None, None) => {
            return Err(routing_error(
                "no token: pass an HF token (hf_…) to use \"hf-inference\" through the router, or point `endpointUrl` at a TGI server (or `baseUrl` at a proxy that adds the key)",
            ))
        }
    }
    if let Provider::Named(p) = req.provider {
        if p.name != "hf-inference" {
            return Err(Error::input(format!(
                "textGeneration (TGI's API) runs on a dedicated `endpointUrl` or on \"hf-inference\"; for \"{}\" use chat.completions.create",
                p.name
            )));
        }
    }
    if req.policy.is_some() {
        return Err(Error::input(
            "`policy` picks among chat providers; textGeneration runs on \"hf-inference\": drop it",
        ));
    }
    let model = match req.model.trim() {
        "" => req.request.model.as_deref().unwrap_or("").trim(),
        m => m,
    };
    if model.is_empty() {
        return Err(Error::input(
            "`model` is required for textGeneration through the router, e.g. \"meta-llama/Llama-3.1-8B\"",
        ));
    }
    let id = match split_model(model) {
        (id, Suffix::None) => id,
        (id, Suffix::Provider(p)) if p.name == "hf-inference" => id,
        (_, other) => {
            let s = match other {
                Suffix::Policy(p) => p.as_str(),
                Suffix::Provider(p) => p.name,
                Suffix::Other(s) => s,
                Suffix::None => "",
            };
            return Err(Error::input(format!(
                "`model` ends in `:{s}`, but textGeneration runs only on \"hf-inference\": drop the suffix"
            )));
        }
    };
    let url = hf_inference_url(req.base_url, id)?;
    if let Auth::ProviderKey(_) = req.auth {
        if let Some(host) =
            crate::providers::host_of(&url).filter(|h| crate::providers::is_hf_host(h))
        {
            return Err(routing_error(format!(
                "the token does not start with `hf_`, so it is taken for a provider's own key, and `baseUrl` points at {host}, which takes only Hugging Face tokens: pass an HF token (hf_…)"
            )));
        }
    }
    let headers = match req.bill_to {
        Some(_) => chat_headers(
            req.auth.secret(),
            &with_bill_to(req.extra_headers, req.bill_to)?,
            req.stream,
        )?,
        None => chat_headers(req.auth.secret(), req.extra_headers, req.stream)?,
    };
    Ok(Route {
        url,
        headers,
        body: req.request.body(Some(req.stream))?,
        routed: true,
        provider: Some("hf-inference"),
    })
}

// ---------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------

/// One generated token.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct Token {
    #[cfg_attr(test, serde(default, deserialize_with = "lenient_u64"))]
    pub id: u64,
    #[cfg_attr(test, serde(default, deserialize_with = "string_or_null"))]
    pub text: String,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_f64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub logprob: Option<f64>,
    /// A special token (`</s>`, `<|eot_id|>`): kept in the events, left out of the text.
    #[cfg_attr(test, serde(default, deserialize_with = "lenient_bool"))]
    pub special: bool,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// What TGI says about a finished generation (`details: true`, or the last stream
/// event). `prefill`, `tokens`, `top_tokens`, `best_of_sequences` are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct Details {
    /// `"length"`, `"eos_token"`, `"stop_sequence"`.
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_string",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub finish_reason: Option<String>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_u64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub generated_tokens: Option<u64>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_u64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub seed: Option<u64>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// The result of a `textGeneration` call (and what a stream adds up to).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct TextGenerationOutput {
    pub generated_text: String,
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub details: Option<Details>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

// Writing the types as JSON text, as their derived `Serialize` did (the named fields in
// order, then `extra`; the unit tests keep the derived impls to check it).

impl Token {
    /// The token's JSON text.
    pub fn to_json(&self) -> String {
        let mut o = ObjectText::new();
        o.number("id", self.id).string("text", &self.text);
        if let Some(l) = self.logprob {
            o.float("logprob", l);
        }
        o.boolean("special", self.special)
            .members(&self.extra)
            .end()
    }
}

impl Details {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .opt_string("finish_reason", self.finish_reason.as_deref())
            .opt_number("generated_tokens", self.generated_tokens)
            .opt_number("seed", self.seed)
            .members(&self.extra)
            .end()
    }
}

impl TextGenerationOutput {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .string("generated_text", &self.generated_text)
            .opt_raw(
                "details",
                self.details.as_ref().map(Details::to_json).as_deref(),
            )
            .members(&self.extra)
            .end()
    }
}

// Reading the types out of a parsed `Value` by hand, the way their derived
// `Deserialize` does (the same fields, leniency and error messages; the tests hold the
// two to each other). The derived impls stay for callers of the Rust API; the crate
// itself reads through these, which keeps serde's typed deserializers, and the float
// formatting their error messages use, out of the wasm.

impl Token {
    pub(crate) fn from_json(v: Value) -> Result<Self, String> {
        let mut m = match v {
            Value::Object(m) => m,
            other => return Err(invalid_type(&other, "struct Token")),
        };
        Ok(Token {
            id: m.remove("id").and_then(|v| count(&v)).unwrap_or(0),
            text: m.remove("text").and_then(string_of).unwrap_or_default(),
            logprob: m.remove("logprob").and_then(f64_of),
            special: matches!(m.remove("special"), Some(Value::Bool(true))),
            extra: m,
        })
    }
}

impl Details {
    pub(crate) fn from_json(v: Value) -> Result<Self, String> {
        let mut m = match v {
            Value::Object(m) => m,
            other => return Err(invalid_type(&other, "struct Details")),
        };
        Ok(Details {
            finish_reason: m.remove("finish_reason").and_then(string_of),
            generated_tokens: m.remove("generated_tokens").and_then(|v| count(&v)),
            seed: m.remove("seed").and_then(|v| count(&v)),
            extra: m,
        })
    }
}

impl TextGenerationOutput {
    pub(crate) fn from_json(v: Value) -> Result<Self, String> {
        let mut m = match v {
            Value::Object(m) => m,
            other => return Err(invalid_type(&other, "struct TextGenerationOutput")),
        };
        // serde meets the fields in key order: `details` before `generated_text`.
        let details = optional(m.remove("details"), Details::from_json)?;
        let generated_text = required_string(m.remove("generated_text"), "generated_text")?;
        Ok(TextGenerationOutput {
            generated_text,
            details,
            extra: m,
        })
    }
}

/// Read a non-stream `textGeneration` answer: `{generated_text, details?}` (TGI) or
/// `[{generated_text, …}]` (the `hf-inference` route, transformers pipelines); the
/// first element of an array is the answer.
///
/// An error report (`{"error", "error_type"}`), even with HTTP 200, is an
/// [`ErrorKind::Stream`] error whose `code` is the error type; anything without
/// `generated_text` is an [`ErrorKind::Parse`] error quoting the body.
pub fn parse_text_generation(body: &str) -> Result<TextGenerationOutput, Error> {
    let value: Value = crate::json::parse(body).map_err(|e| {
        parse_error(
            format!("the textGeneration response is not valid JSON: {e}"),
            body,
        )
    })?;
    let first = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        Value::Array(_) => {
            return Err(parse_error(
                "the textGeneration response is an empty array".to_owned(),
                body,
            ))
        }
        other => other,
    };
    let Value::Object(map) = &first else {
        return Err(parse_error(
            "the textGeneration response is not a JSON object".to_owned(),
            body,
        ));
    };
    if is_error_payload(map) {
        return Err(first_payload_error(body));
    }
    if !matches!(map.get("generated_text"), Some(Value::String(_))) {
        return Err(parse_error(
            "the textGeneration response has no `generated_text`: is the URL a TGI endpoint?"
                .to_owned(),
            body,
        ));
    }
    TextGenerationOutput::from_json(first).map_err(|e| {
        parse_error(
            "the textGeneration response has an unexpected shape: ".to_owned() + &e,
            body,
        )
    })
}

// ---------------------------------------------------------------------------------
// Stream
// ---------------------------------------------------------------------------------

/// One stream event as TGI sends it.
pub(crate) struct StreamEvent {
    token: Option<Token>,
    generated_text: Option<String>,
    details: Option<Details>,
}

impl StreamEvent {
    /// Read like a derived `Deserialize` would (the fields in serde's key order, so the
    /// same error comes first).
    fn from_json(mut m: Map<String, Value>) -> Result<Self, String> {
        // Worded as the decoder's scan words it (`decode::report`).
        for key in ["details", "token"] {
            if let Some(v) = m
                .get(key)
                .filter(|v| !matches!(v, Value::Null | Value::Object(_)))
            {
                return Err(crate::error::concat(&[
                    "`",
                    key,
                    "` must be an object, found ",
                    crate::types::json_kind(v),
                ]));
            }
        }
        let details = optional(m.remove("details"), Details::from_json)?;
        let generated_text = m.remove("generated_text").and_then(string_of);
        let token = optional(m.remove("token"), Token::from_json)?;
        Ok(StreamEvent {
            token,
            generated_text,
            details,
        })
    }
}

/// What one event means to the caller.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a TgiStep says whether to deliver a token or stop reading"]
pub enum TgiStep {
    /// A token event. `text` is the token's text when there is text to show (`None` for
    /// a special token or an empty one); `data` is the raw JSON (the shell hands it to
    /// JS `JSON.parse`, so every field, special tokens included, reaches the caller).
    /// `last`: this event carried `generated_text`, the end of the generation; the
    /// shell stops reading.
    Token {
        text: Option<String>,
        special: bool,
        data: String,
        last: bool,
    },
    /// `data: [DONE]` (OpenAI-style servers): the stream is over.
    Done,
    /// Nothing to deliver (empty data, another event type, anything after the end).
    Skip,
}

/// How a TGI stream ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TgiFinish {
    /// `generated_text` as the server gave it on the last event (it may include the
    /// prompt, with `return_full_text`), else the text of the tokens received.
    pub output: TextGenerationOutput,
    /// Neither a final event nor `[DONE]` arrived: the stream was cut. The shell turns
    /// this into a `truncated` error that keeps `output`.
    pub truncated: bool,
    /// The step of the unterminated final event, when it was accepted; not delivered
    /// yet (the shell delivers it before resolving).
    pub tail: Option<TgiStep>,
}

/// The state of one `/generate_stream` response. Feed it every decoded event with
/// [`on_event`](Self::on_event), then call [`finish`](Self::finish) when the body ends.
#[derive(Debug, Default)]
pub struct TgiStreamState {
    /// The text of the non-special tokens so far.
    text: String,
    generated_text: Option<String>,
    details: Option<Details>,
    tokens: usize,
    done: bool,
}

impl TgiStreamState {
    pub fn new() -> Self {
        Self::default()
    }

    /// One decoded SSE event.
    ///
    /// `Err` for an `error` event or a `{"error", "error_type"}` payload (kind
    /// [`ErrorKind::Stream`], `code` = the error type, `body` = the payload), or data that
    /// is not a TGI token event (kind [`ErrorKind::Parse`], quoting it). Everything
    /// before was already returned as steps; [`snapshot`](Self::snapshot) still works.
    pub fn on_event(&mut self, ev: &Event) -> Result<TgiStep, Error> {
        if self.done {
            return Ok(TgiStep::Skip);
        }
        let data = ev.data.trim();
        if ev.event == "error" {
            return Err(error_event(data));
        }
        if !(ev.event == "message" || ev.event.is_empty()) || data.is_empty() {
            return Ok(TgiStep::Skip);
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(TgiStep::Done);
        }
        let event = parse_event(data)?;
        let (text, special) = match event.token {
            Some(token) => {
                self.tokens += 1;
                if token.special || token.text.is_empty() {
                    (None, token.special)
                } else {
                    self.text.push_str(&token.text);
                    (Some(token.text), false)
                }
            }
            None => (None, false),
        };
        if event.details.is_some() {
            self.details = event.details;
        }
        if let Some(g) = event.generated_text {
            self.generated_text = Some(g);
            self.done = true;
        }
        Ok(TgiStep::Token {
            text,
            special,
            data: ev.data.clone(),
            last: self.done,
        })
    }

    /// The input ended. `unterminated` is the decoder's unterminated final event: it is
    /// accepted if it parses; one cut mid-way is dropped (the stream then counts as
    /// truncated unless it had already ended). An error payload in it is an error.
    pub fn finish(&mut self, unterminated: Option<&Event>) -> Result<TgiFinish, Error> {
        let mut tail = None;
        if let Some(ev) = unterminated {
            match self.on_event(ev) {
                Ok(TgiStep::Skip) => {}
                Ok(step) => tail = Some(step),
                Err(e) if e.kind == ErrorKind::Parse => {}
                Err(e) => return Err(e),
            }
        }
        Ok(TgiFinish {
            output: self.snapshot(),
            truncated: !self.done,
            tail,
        })
    }

    /// The result so far (also what an aborted stream returns).
    pub fn snapshot(&self) -> TextGenerationOutput {
        TextGenerationOutput {
            generated_text: self
                .generated_text
                .clone()
                .unwrap_or_else(|| self.text.clone()),
            details: self.details.clone(),
            extra: Map::new(),
        }
    }

    /// The text of the non-special tokens received so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many token events were read.
    pub fn token_count(&self) -> usize {
        self.tokens
    }

    /// The final event or `[DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// The error payload a `textGeneration` body is, or opens (as an array) with.
#[cold]
fn first_payload_error(body: &str) -> Error {
    let mut r = crate::scan::Reader::new(body);
    match r.value() {
        Ok(v) if v.kind == crate::scan::Kind::Array => match crate::scan::items(body, &v).next() {
            Some(first) => crate::error::payload_error(body, &first, body),
            None => crate::error::body_payload_error(body),
        },
        _ => crate::error::body_payload_error(body),
    }
}

pub(crate) fn parse_event(data: &str) -> Result<StreamEvent, Error> {
    let value: Value = crate::json::parse(data)
        .map_err(|e| parse_error(format!("a TGI stream event is not valid JSON: {e}"), data))?;
    let Value::Object(map) = &value else {
        return Err(parse_error(
            "a TGI stream event is not a JSON object".to_owned(),
            data,
        ));
    };
    if is_error_payload(map) {
        return Err(crate::error::body_payload_error(data));
    }
    if !map.contains_key("token") && !map.contains_key("generated_text") {
        return Err(parse_error(
            "a stream event has neither `token` nor `generated_text`: is the URL TGI's /generate_stream?"
                .to_owned(),
            data,
        ));
    }
    let Value::Object(map) = value else {
        // Checked above.
        return Err(parse_error(
            "a TGI stream event is not a JSON object".to_owned(),
            data,
        ));
    };
    StreamEvent::from_json(map).map_err(|e| {
        parse_error(
            "a TGI stream event has an unexpected shape: ".to_owned() + &e,
            data,
        )
    })
}

/// The error an `event: error` SSE event carries (only an object is read as a
/// payload).
pub(crate) fn error_event(data: &str) -> Error {
    crate::error::event_error(data, true)
}

// ---------------------------------------------------------------------------------
// Lenient field readers: a server sending `null`, a float or a numeric string must not
// make a token unreadable.
// ---------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
        }
    }

    fn req(json: &str) -> TextGenerationRequest {
        TextGenerationRequest::from_json(json).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn request_keeps_parameters_and_drops_stream() {
        let r = req(
            r#"{"inputs":"Hello","parameters":{"max_new_tokens":50,"x":1},"stream":true,"model":"m","add_special_tokens":false}"#,
        );
        assert_eq!(r.model.as_deref(), Some("m"));
        let body: Value =
            serde_json::from_str(&r.body(None).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"inputs":"Hello","parameters":{"max_new_tokens":50,"x":1},"add_special_tokens":false})
        );
        let body: Value =
            serde_json::from_str(&r.body(Some(true)).unwrap_or_default()).unwrap_or_default();
        assert_eq!(body["stream"], Value::Bool(true));
    }

    #[test]
    fn request_errors_name_the_field() {
        for (json, field) in [
            (r#"{}"#, "inputs"),
            (r#"{"inputs":["a"]}"#, "inputs"),
            (r#"{"inputs":"a","parameters":[]}"#, "parameters"),
            (
                r#"{"inputs":"a","parameters":{"max_new_tokens":1.5}}"#,
                "parameters.max_new_tokens",
            ),
            (
                r#"{"inputs":"a","parameters":{"stop":[1]}}"#,
                "parameters.stop",
            ),
            (r#"{"inputs":"a","model":3}"#, "model"),
            ("[]", "object"),
            ("nope", "JSON"),
        ] {
            let e = TextGenerationRequest::from_json(json).expect_err(json);
            assert_eq!(e.kind, ErrorKind::Input);
            assert!(e.message.contains(field), "{json}: {}", e.message);
        }
    }

    #[test]
    fn endpoint_urls_get_tgi_routes() {
        let u = |e: &str, s: bool| generate_url(e, s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u("http://h:8080", false), "http://h:8080/generate");
        assert_eq!(u("http://h:8080/", true), "http://h:8080/generate_stream");
        assert_eq!(u("http://h/v1", true), "http://h/generate_stream");
        assert_eq!(
            u("http://h/v1/chat/completions", false),
            "http://h/generate"
        );
        assert_eq!(u("http://h/generate", true), "http://h/generate_stream");
        assert_eq!(
            u("http://h/generate_stream?x=1", false),
            "http://h/generate?x=1"
        );
        assert_eq!(
            u("https://x.endpoints.huggingface.cloud/prefix", false),
            "https://x.endpoints.huggingface.cloud/prefix/generate"
        );
        assert!(generate_url("localhost:80", false).is_err());
    }

    #[test]
    fn router_url_is_the_hf_inference_model_route() {
        assert_eq!(
            hf_inference_url(None, "google/flan-t5-xxl").unwrap_or_default(),
            "https://router.huggingface.co/hf-inference/models/google/flan-t5-xxl"
        );
        assert_eq!(
            hf_inference_url(Some("http://127.0.0.1:1/"), "gpt2").unwrap_or_default(),
            "http://127.0.0.1:1/hf-inference/models/gpt2"
        );
        assert!(hf_inference_url(None, "../etc").is_err());
    }

    #[test]
    fn output_object_and_array_shapes() {
        let o = parse_text_generation(
            r#"{"generated_text":"hi","details":{"finish_reason":"length","generated_tokens":2,"seed":null,"prefill":[]}}"#,
        )
        .unwrap_or_default();
        assert_eq!(o.generated_text, "hi");
        let d = o.details.unwrap_or_default();
        assert_eq!(d.finish_reason.as_deref(), Some("length"));
        assert_eq!(d.generated_tokens, Some(2));
        assert!(d.extra.contains_key("prefill"));
        let o = parse_text_generation(r#"[{"generated_text":"a"},{"generated_text":"b"}]"#)
            .unwrap_or_default();
        assert_eq!(o.generated_text, "a");
    }

    #[test]
    fn output_errors_are_typed() {
        let e = parse_text_generation(
            r#"{"error":"Input validation error: too long","error_type":"validation"}"#,
        )
        .expect_err("error");
        assert_eq!(e.kind, ErrorKind::Stream);
        assert_eq!(e.code.as_deref(), Some("validation"));
        for bad in ["[]", "{}", "3", r#"{"choices":[]}"#, "nope"] {
            assert_eq!(
                parse_text_generation(bad).map_err(|e| e.kind),
                Err(ErrorKind::Parse),
                "{bad}"
            );
        }
    }

    #[test]
    fn stream_delivers_text_skips_special_tokens_and_ends_on_generated_text() {
        let mut s = TgiStreamState::new();
        let a = r#"{"index":1,"token":{"id":1,"text":"Hi","logprob":-0.1,"special":false},"generated_text":null,"details":null}"#;
        let b = r#"{"index":2,"token":{"id":2,"text":"</s>","logprob":null,"special":true},"generated_text":"Hi","details":{"finish_reason":"eos_token","generated_tokens":2,"seed":null}}"#;
        assert_eq!(
            s.on_event(&ev(a)).ok(),
            Some(TgiStep::Token {
                text: Some("Hi".into()),
                special: false,
                data: a.into(),
                last: false
            })
        );
        assert_eq!(
            s.on_event(&ev(b)).ok(),
            Some(TgiStep::Token {
                text: None,
                special: true,
                data: b.into(),
                last: true
            })
        );
        assert_eq!(s.on_event(&ev(a)).ok(), Some(TgiStep::Skip));
        let f = s.finish(None).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!f.truncated);
        assert_eq!(f.output.generated_text, "Hi");
        assert_eq!(
            f.output.details.and_then(|d| d.finish_reason).as_deref(),
            Some("eos_token")
        );
    }

    #[test]
    fn stream_error_payload_is_a_stream_error_with_the_error_type() {
        let mut s = TgiStreamState::new();
        let e = s
            .on_event(&ev(r#"{"error":"Request failed during generation: Server error: CUDA OOM","error_type":"generation"}"#))
            .expect_err("error");
        assert_eq!(e.kind, ErrorKind::Stream);
        assert_eq!(e.code.as_deref(), Some("generation"));
        assert!(e.message.contains("CUDA OOM"), "{}", e.message);
        assert!(e.body.is_some());
    }

    #[test]
    fn error_events_and_garbage() {
        let mut s = TgiStreamState::new();
        let mut error = ev("boom");
        error.event = "error".into();
        assert_eq!(
            s.on_event(&error).map_err(|e| e.kind),
            Err(ErrorKind::Stream)
        );
        assert_eq!(
            s.on_event(&ev("{\"choices\":[]}")).map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
        assert_eq!(
            s.on_event(&ev("{nope")).map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
        let mut ping = ev("x");
        ping.event = "ping".into();
        assert_eq!(s.on_event(&ping).ok(), Some(TgiStep::Skip));
        assert_eq!(s.on_event(&ev("  ")).ok(), Some(TgiStep::Skip));
    }

    #[test]
    fn a_cut_stream_is_truncated_and_keeps_its_text() {
        let mut s = TgiStreamState::new();
        let _ = s.on_event(&ev(
            r#"{"token":{"id":1,"text":"par","logprob":-1,"special":false},"generated_text":null}"#,
        ));
        let f = s
            .finish(Some(&ev(r#"{"token":{"id":2,"te"#)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(f.truncated);
        assert_eq!(f.tail, None);
        assert_eq!(f.output.generated_text, "par");
    }

    #[test]
    fn an_unterminated_final_event_is_accepted() {
        let mut s = TgiStreamState::new();
        let f = s
            .finish(Some(&ev(
                r#"{"token":{"id":1,"text":"x","special":false},"generated_text":"x"}"#,
            )))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!f.truncated);
        assert!(matches!(f.tail, Some(TgiStep::Token { last: true, .. })));
    }

    #[test]
    fn done_marker_ends_the_stream() {
        let mut s = TgiStreamState::new();
        assert_eq!(s.on_event(&ev("[DONE]")).ok(), Some(TgiStep::Done));
        assert!(s.is_done());
        assert!(!s.finish(None).map(|f| f.truncated).unwrap_or(true));
    }

    #[test]
    fn lenient_token_fields() {
        let t: Token = serde_json::from_str(
            r#"{"id":"7","text":null,"logprob":"-0.5","special":null,"extra":1}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.id, t.text.as_str(), t.logprob, t.special),
            (7, "", Some(-0.5), false)
        );
        assert!(t.extra.contains_key("extra"));
    }
}

/// The hand-written readers against the derived `Deserialize` they stand in for: the
/// same value or the same error message, for any JSON.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod derive_parity {
    use super::*;
    use crate::json::from_serde;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::Value;

    const KEYS: &[&str] = &[
        "id",
        "text",
        "logprob",
        "special",
        "finish_reason",
        "generated_tokens",
        "seed",
        "generated_text",
        "details",
        "token",
    ];

    /// `StreamEvent` as it was derived before it was read by hand.
    #[derive(Deserialize)]
    struct DerivedEvent {
        #[serde(default)]
        token: Option<Token>,
        #[serde(default, deserialize_with = "opt_string")]
        generated_text: Option<String>,
        #[serde(default)]
        details: Option<Details>,
    }

    /// The hand writers against the derived `Serialize`, on what the readers made.
    fn writers_match(v: &Value) -> Result<(), TestCaseError> {
        crate::json::writers_match!(v; Token, Details, TextGenerationOutput)
    }

    proptest! {
        #[test]
        fn writers_match_the_derived_serialize(v in crate::json::arb::value(KEYS)) {
            writers_match(&v)?;
        }
    }

    fn derived<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }

    proptest! {
        #[test]
        fn readers_match_the_derived_impls(v in crate::json::arb::value(KEYS)) {
            prop_assert_eq!(Token::from_json(from_serde(&v)), derived::<Token>(&v));
            prop_assert_eq!(Details::from_json(from_serde(&v)), derived::<Details>(&v));
            prop_assert_eq!(
                TextGenerationOutput::from_json(from_serde(&v)),
                derived::<TextGenerationOutput>(&v)
            );
            if let crate::json::Value::Object(m) = from_serde(&v) {
                // The same event, or an error for both (a stream event's shape error is
                // worded as the decoder's scan words it, not as serde does).
                let ours = StreamEvent::from_json(m)
                    .map(|e| (e.token, e.generated_text, e.details))
                    .map_err(|_| ());
                let theirs = derived::<DerivedEvent>(&v)
                    .map(|e| (e.token, e.generated_text, e.details))
                    .map_err(|_| ());
                prop_assert_eq!(ours, theirs);
            }
        }
    }

    #[test]
    fn readers_match_on_nested_shapes() {
        for v in [
            serde_json::json!({"token": {"id": 1, "text": "a", "special": true, "x": [1]}, "details": {"seed": "7", "y": 1.5}}),
            serde_json::json!({"token": 5, "details": "x"}),
            serde_json::json!({"token": [], "details": null}),
            serde_json::json!({"generated_text": 1, "details": {"finish_reason": "length"}}),
            serde_json::json!({"generated_text": "g", "details": [1]}),
            serde_json::json!({"details": {}}),
        ] {
            assert_eq!(
                TextGenerationOutput::from_json(from_serde(&v)),
                derived::<TextGenerationOutput>(&v)
            );
            let crate::json::Value::Object(m) = from_serde(&v) else {
                continue;
            };
            let ours = StreamEvent::from_json(m).map(|e| (e.token, e.generated_text, e.details));
            let theirs =
                derived::<DerivedEvent>(&v).map(|e| (e.token, e.generated_text, e.details));
            assert_eq!(ours.clone().map_err(|_| ()), theirs.map_err(|_| ()), "{v}");
            if let Err(e) = ours {
                assert!(
                    e.ends_with("must be an object, found a string")
                        || e.ends_with("must be an object, found a number")
                        || e.ends_with("must be an object, found an array"),
                    "{v}: {e}"
                );
            }
        }
    }
}
