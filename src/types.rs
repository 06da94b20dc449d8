//! OpenAI-compatible chat types: the request we send and the responses we read.
//!
//! Owns: validating and completing the caller's chat request ([`prepare_chat_body`]), the
//! serde types of a chat completion ([`ChatCompletion`]) and of a stream chunk
//! ([`ChatChunk`]), and reading a non-stream response body ([`parse_completion`]).
//! Must never: drop a field it does not know (unknown fields are kept in `extra` and
//! serialize back out), turn an integer into a float, or fail on a field a real
//! provider omits or sends as `null`.
//!
//! Wire shapes follow the OpenAI Chat Completions API
//! (<https://platform.openai.com/docs/api-reference/chat>) as Hugging Face Inference
//! Providers and TGI speak it. Where providers differ the types are lenient: `id: ""`
//! or missing (TGI), `usage: null` (Together, TGI), `finish_reason: "eos"` or
//! `"eos_token"`, `content: null` in deltas, extra fields such as `token_id`,
//! `content_filter_results`, `time_info` or `seed` (kept as they came, integers above
//! 2^53 included, since `serde_json` keeps any integer that fits `u64`/`i64` exact).

// `Error` is the crate's one error type (error.rs) and is returned by value on purpose;
// its size is a crate-wide choice, not this module's.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{
    code_from_json, cut, message_from_json, Error, ErrorKind, MAX_ERROR_BODY_BYTES,
    MAX_QUOTED_DATA_BYTES,
};

// ---------------------------------------------------------------------------------
// Request side
// ---------------------------------------------------------------------------------

/// The JSON type a known request field must have (`null` is always accepted: it means
/// "use the default" to every OpenAI-compatible server).
#[derive(Clone, Copy)]
enum Expect {
    Bool,
    Integer,
    Number,
    String,
    Object,
    Array,
    StringOrArray,
    StringOrObject,
}

impl Expect {
    fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Expect::Bool, Value::Bool(_)) => true,
            (Expect::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Expect::Number, Value::Number(_)) => true,
            (Expect::String, Value::String(_)) => true,
            (Expect::Object, Value::Object(_)) => true,
            (Expect::Array, Value::Array(_)) => true,
            (Expect::StringOrArray, Value::String(_) | Value::Array(_)) => true,
            (Expect::StringOrObject, Value::String(_) | Value::Object(_)) => true,
            _ => false,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Bool => "a boolean",
            Expect::Integer => "an integer",
            Expect::Number => "a number",
            Expect::String => "a string",
            Expect::Object => "an object",
            Expect::Array => "an array",
            Expect::StringOrArray => "a string or an array of strings",
            Expect::StringOrObject => "a string or an object",
        }
    }
}

/// Known optional fields and the type each must have when present.
const FIELD_TYPES: &[(&str, Expect)] = &[
    ("stream", Expect::Bool),
    ("stream_options", Expect::Object),
    ("max_tokens", Expect::Integer),
    ("max_completion_tokens", Expect::Integer),
    ("n", Expect::Integer),
    ("seed", Expect::Integer),
    ("top_logprobs", Expect::Integer),
    ("top_k", Expect::Integer),
    ("temperature", Expect::Number),
    ("top_p", Expect::Number),
    ("min_p", Expect::Number),
    ("frequency_penalty", Expect::Number),
    ("presence_penalty", Expect::Number),
    ("repetition_penalty", Expect::Number),
    ("logprobs", Expect::Bool),
    ("parallel_tool_calls", Expect::Bool),
    ("stop", Expect::StringOrArray),
    ("tools", Expect::Array),
    ("tool_choice", Expect::StringOrObject),
    ("response_format", Expect::Object),
    ("logit_bias", Expect::Object),
    ("user", Expect::String),
];

/// Validate the caller's chat request (JSON text, as JS `JSON.stringify` made it) and
/// return the body to send.
///
/// - `messages` must be a non-empty array of objects, each with a string `role`;
///   `model`, when present, must be a string; known options (`max_tokens`,
///   `temperature`, `stop`, ...) must have their JSON type. Anything else is an
///   [`ErrorKind::Input`] error naming the field (e.g. "`messages[2].role` must be a
///   string").
/// - `"stream"` is set to `stream`. When streaming, `"stream_options":
///   {"include_usage": true}` is added so the final chunk carries token usage, unless
///   the caller set `stream_options` (theirs is kept unchanged; `{}` opts out). When
///   not streaming, `stream_options` is removed: OpenAI rejects it without `stream`.
/// - Every other field passes through untouched. Integers stay integers (`5` is never
///   sent as `5.0`) and integers up to `u64::MAX` round-trip exactly. Key order is not
///   kept (it carries no meaning in JSON objects).
pub fn prepare_chat_body(request_json: &str, stream: bool) -> Result<String, Error> {
    let value: Value = serde_json::from_str(request_json)
        .map_err(|e| Error::input(format!("the chat request is not valid JSON: {e}")))?;
    let Value::Object(mut body) = value else {
        return Err(Error::input(
            "the chat request must be a JSON object with `model` and `messages`",
        ));
    };

    match body.get("messages") {
        None | Some(Value::Null) => {
            return Err(Error::input(
                "`messages` is required: pass an array such as [{\"role\": \"user\", \"content\": \"Hello\"}]",
            ))
        }
        Some(Value::Array(messages)) => {
            if messages.is_empty() {
                return Err(Error::input("`messages` must not be empty: pass at least one message"));
            }
            for (i, m) in messages.iter().enumerate() {
                let Value::Object(m) = m else {
                    return Err(Error::input(format!(
                        "`messages[{i}]` must be an object with `role` and `content`"
                    )));
                };
                if !matches!(m.get("role"), Some(Value::String(_))) {
                    return Err(Error::input(format!(
                        "`messages[{i}].role` must be a string such as \"user\", \"assistant\" or \"system\""
                    )));
                }
            }
        }
        Some(_) => {
            return Err(Error::input(
                "`messages` must be an array of message objects, e.g. [{\"role\": \"user\", \"content\": \"Hello\"}]",
            ))
        }
    }

    if let Some(model) = body.get("model") {
        if !model.is_string() {
            return Err(Error::input(
                "`model` must be a string, e.g. \"meta-llama/Llama-3.1-8B-Instruct\"",
            ));
        }
    }

    for &(field, expect) in FIELD_TYPES {
        if let Some(v) = body.get(field) {
            if !expect.accepts(v) {
                return Err(Error::input(format!(
                    "`{field}` must be {}",
                    expect.describe()
                )));
            }
        }
    }
    if let Some(Value::Array(stops)) = body.get("stop") {
        if let Some(i) = stops.iter().position(|s| !s.is_string()) {
            return Err(Error::input(format!("`stop[{i}]` must be a string")));
        }
    }

    body.insert("stream".to_owned(), Value::Bool(stream));
    if stream {
        let caller_set = matches!(body.get("stream_options"), Some(v) if !v.is_null());
        if !caller_set {
            let mut opts = Map::new();
            opts.insert("include_usage".to_owned(), Value::Bool(true));
            body.insert("stream_options".to_owned(), Value::Object(opts));
        }
    } else {
        body.remove("stream_options");
    }

    serde_json::to_string(&Value::Object(body))
        .map_err(|e| Error::input(format!("the chat request could not be serialized: {e}")))
}

// ---------------------------------------------------------------------------------
// Response side
// ---------------------------------------------------------------------------------

fn default_role() -> String {
    "assistant".to_owned()
}

fn default_completion_object() -> String {
    "chat.completion".to_owned()
}

fn default_chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

/// A complete (non-stream) chat completion, or the one a stream accumulates to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `""` when the provider sent none (TGI sends `""`).
    #[serde(default, deserialize_with = "string_or_null")]
    pub id: String,
    #[serde(
        default = "default_completion_object",
        deserialize_with = "string_or_null"
    )]
    pub object: String,
    /// Unix seconds; `0` when absent.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub created: u64,
    #[serde(default, deserialize_with = "string_or_null")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage; `None` when the provider did not report it (never zeros).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Every field not named above, as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ChatCompletion {
    fn default() -> Self {
        ChatCompletion {
            id: String::new(),
            object: default_completion_object(),
            created: 0,
            model: String::new(),
            system_fingerprint: None,
            choices: Vec::new(),
            usage: None,
            extra: Map::new(),
        }
    }
}

/// One choice of a [`ChatCompletion`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default, deserialize_with = "lenient_u32")]
    pub index: u32,
    #[serde(default)]
    pub message: Message,
    /// `stop`, `length`, `tool_calls`, ... (TGI: `eos_token`, Together: `eos`). Always
    /// serialized, `null` when unknown, as OpenAI does.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The assistant's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default = "default_role", deserialize_with = "string_or_null")]
    pub role: String,
    /// `null` when the model only called tools. Always serialized, as OpenAI does.
    #[serde(default, deserialize_with = "opt_text")]
    pub content: Option<String>,
    /// The reasoning ("thinking") text of reasoning models that separate it.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub reasoning_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            role: default_role(),
            content: None,
            reasoning_content: None,
            tool_calls: None,
            extra: Map::new(),
        }
    }
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Position in a streamed response (absent in non-stream responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, deserialize_with = "string_or_null")]
    pub id: String,
    #[serde(
        rename = "type",
        default = "default_tool_type",
        deserialize_with = "string_or_null"
    )]
    pub kind: String,
    #[serde(default)]
    pub function: FunctionCall,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_tool_type() -> String {
    "function".to_owned()
}

/// The function a [`ToolCall`] names, with its arguments as JSON text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default, deserialize_with = "string_or_null")]
    pub name: String,
    /// JSON text, as OpenAI sends it (an object sent instead is kept as its JSON text).
    #[serde(default, deserialize_with = "json_text")]
    pub arguments: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token usage. Counts a provider did not send are `None`, never `0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_tokens: Option<u64>,
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub completion_tokens: Option<u64>,
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `data:` payload of a chat completion stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    #[serde(default, deserialize_with = "string_or_null")]
    pub id: String,
    #[serde(default = "default_chunk_object", deserialize_with = "string_or_null")]
    pub object: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub created: u64,
    #[serde(default, deserialize_with = "string_or_null")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Empty on the usage-only final chunk (`stream_options.include_usage`).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One choice of a [`ChatChunk`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default, deserialize_with = "lenient_u32")]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    /// Always serialized (`null` until the last chunk), as OpenAI does.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What one chunk adds to a choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub reasoning_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A piece of a tool call: the first piece names it, later ones add argument text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call this piece belongs to. Some OpenAI-compatible servers omit it;
    /// the stream state then matches by `id` (or continues the last call).
    #[serde(
        default,
        deserialize_with = "opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A piece of a [`FunctionCall`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_json_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether a parsed payload is an error report rather than data: a non-null `error`
/// key (OpenAI, TGI, most providers) or vLLM's `{"object": "error", ...}`.
/// The `model` of a prepared request body, if it names one.
pub fn model_of(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Only {
        model: Option<String>,
    }
    serde_json::from_str::<Only>(body)
        .ok()
        .and_then(|o| o.model)
}

/// A prepared request body with its `model` set to `model` (every other field kept).
pub fn with_model(body: &str, model: &str) -> Result<String, Error> {
    let mut v: Map<String, Value> = serde_json::from_str(body)
        .map_err(|e| Error::input(format!("the request is not a JSON object: {e}")))?;
    v.insert("model".to_owned(), Value::String(model.to_owned()));
    serde_json::to_string(&v)
        .map_err(|e| Error::input(format!("the request cannot be written as JSON: {e}")))
}

pub(crate) fn is_error_payload(map: &Map<String, Value>) -> bool {
    let has_error = matches!(map.get("error"), Some(v) if !v.is_null() && *v != Value::Bool(false));
    has_error || matches!(map.get("object"), Some(Value::String(s)) if s == "error")
}

/// The [`ErrorKind::Stream`] error for an error payload the server sent (`value` is the
/// parsed payload, `raw` its text).
pub(crate) fn error_from_payload(value: &Value, raw: &str) -> Error {
    let message = match message_from_json(value) {
        Some(m) => format!("the server reported an error: {m}"),
        None => "the server reported an error without a message".to_owned(),
    };
    let mut e = Error::new(ErrorKind::Stream, message);
    e.code = code_from_json(value);
    e.body = Some(cut(raw, MAX_ERROR_BODY_BYTES).to_owned());
    e
}

/// A [`ErrorKind::Parse`] error quoting (a bounded prefix of) the offending text.
pub(crate) fn parse_error(message: String, offending: &str) -> Error {
    let mut e = Error::new(ErrorKind::Parse, message);
    e.body = Some(cut(offending, MAX_QUOTED_DATA_BYTES).to_owned());
    e
}

/// Read a non-stream chat completion body.
///
/// - A body with a non-null `error` key (or vLLM's `"object": "error"`), even with HTTP
///   200, is an [`ErrorKind::Stream`] error with the server's message and code.
/// - Invalid JSON, or JSON without `choices`, is an [`ErrorKind::Parse`] error whose
///   `body` quotes the start of what came.
pub fn parse_completion(body: &str) -> Result<ChatCompletion, Error> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        parse_error(
            format!("the chat completion response is not valid JSON: {e}"),
            body,
        )
    })?;
    let Value::Object(map) = &value else {
        return Err(parse_error(
            "the chat completion response is not a JSON object".to_owned(),
            body,
        ));
    };
    if is_error_payload(map) {
        return Err(error_from_payload(&value, body));
    }
    if !map.contains_key("choices") {
        return Err(parse_error(
            "the chat completion response has no `choices`: is the URL a chat completions endpoint?"
                .to_owned(),
            body,
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        parse_error(
            format!("the chat completion response has an unexpected shape: {e}"),
            body,
        )
    })
}

// ---------------------------------------------------------------------------------
// Lenient field readers: a provider sending `null` (or a float, or an object where
// OpenAI has text) must not make a whole response unreadable.
// ---------------------------------------------------------------------------------

fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn number_to_u64(n: &serde_json::Number) -> Option<u64> {
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    if n.is_i64() {
        // Negative: not a count or a time we can use.
        return None;
    }
    n.as_f64()
        .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
        // Truncation is the intent: `1741627526.7` seconds is second 1741627526.
        .map(|f| f as u64)
}

fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => number_to_u64(&n),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(opt_u64(d)?.unwrap_or(0))
}

fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(opt_u64(d)?.and_then(|u| u32::try_from(u).ok()))
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(opt_u32(d)?.unwrap_or(0))
}

/// Text that is a string, `null`, or (Mistral and others) an array of content parts,
/// whose `text` pieces are joined.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in &parts {
                match part {
                    Value::String(s) => text.push_str(s),
                    Value::Object(p) => {
                        if let Some(Value::String(s)) = p.get("text") {
                            text.push_str(s);
                        }
                    }
                    _ => {}
                }
            }
            Ok(Some(text))
        }
        other => Err(de::Error::custom(format_args!(
            "expected text (a string, null or an array of content parts), found {}",
            json_kind(&other)
        ))),
    }
}

/// JSON text: a string as is; `null` as empty; any other value as its JSON text.
fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_json_text(d)?.unwrap_or_default())
}

fn opt_json_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tgi_completion_with_empty_id_parses() {
        let body = r#"{"id":"","object":"text_completion","created":1714681500,"model":"m","system_fingerprint":"2.0.1","choices":[{"index":0,"message":{"role":"assistant","content":"two"},"logprobs":null,"finish_reason":"eos_token"}],"usage":{"prompt_tokens":21,"completion_tokens":12,"total_tokens":33}}"#;
        let c = parse_completion(body).unwrap();
        assert_eq!(c.id, "");
        assert_eq!(c.choices[0].message.content.as_deref(), Some("two"));
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("eos_token"));
        assert_eq!(c.usage.and_then(|u| u.total_tokens), Some(33));
    }

    #[test]
    fn content_parts_are_joined() {
        let d: Delta = serde_json::from_str(
            r#"{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(d.content.as_deref(), Some("ab"));
    }

    #[test]
    fn float_created_and_null_fields_are_tolerated() {
        let c: ChatChunk =
            serde_json::from_str(r#"{"id":null,"model":null,"created":1.5e9,"choices":[{"index":null,"delta":{"content":null}}]}"#)
                .unwrap();
        assert_eq!(c.created, 1_500_000_000);
        assert_eq!(c.choices[0].index, 0);
        assert_eq!(c.choices[0].delta.content, None);
    }

    #[test]
    fn object_arguments_become_json_text() {
        let t: ToolCall = serde_json::from_str(
            r#"{"id":"c","type":"function","function":{"name":"f","arguments":{"x":1}}}"#,
        )
        .unwrap();
        assert_eq!(t.function.arguments, r#"{"x":1}"#);
    }

    #[test]
    fn vllm_error_object_is_an_error() {
        let e = parse_completion(
            r#"{"object":"error","message":"bad model","type":"BadRequestError","code":400}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Stream);
        assert_eq!(e.message, "the server reported an error: bad model");
        assert_eq!(e.code.as_deref(), Some("400"));
    }
}
