//! OpenAI-compatible chat types: the request we send and the responses we read.
//!
//! Owns: validating and completing the caller's chat request ([`prepare_chat_body`]), the
//! serde types of a chat completion ([`ChatCompletion`]) and of a stream chunk
//! ([`ChatChunk`]), and reading a non-stream response body ([`parse_completion`]).
//! Responses are read by hand out of one parsed `crate::json::Value` (see "Response
//! side"); derived, flattened deserializers would cost the wasm tens of KB.
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

use crate::json::ObjectText;
use crate::json::{Map, Value};

use crate::error::{cut, Error, ErrorKind, MAX_QUOTED_DATA_BYTES};
use crate::json::Expect;

// ---------------------------------------------------------------------------------
// Request side
// ---------------------------------------------------------------------------------

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
    let value: Value = crate::json::parse(request_json)
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

    Ok(Value::Object(body).to_text())
}

// ---------------------------------------------------------------------------------
// Response side
//
// A response is read in two steps: `serde_json` parses the text into one `Value`, then
// each type takes its fields out of it by hand (`from_json`). One parse path for every
// type keeps the wasm small: derived, flattened deserializers cost tens of KB of
// instantiations (and pull in float printing for serde's error messages). The
// `Deserialize` impls go through the same code, so `serde_json::from_str::<ChatChunk>`
// and the stream state read a chunk the same way.
// ---------------------------------------------------------------------------------

fn default_role() -> String {
    "assistant".to_owned()
}

fn default_completion_object() -> String {
    "chat.completion".to_owned()
}

/// A complete (non-stream) chat completion, or the one a stream accumulates to.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct ChatCompletion {
    /// `""` when the provider sent none (TGI sends `""`).
    pub id: String,
    /// `"chat.completion"` when absent, `""` when `null`.
    pub object: String,
    /// Unix seconds; `0` when absent.
    pub created: u64,
    pub model: String,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub system_fingerprint: Option<String>,
    pub choices: Vec<Choice>,
    /// Token usage; `None` when the provider did not report it (never zeros).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub usage: Option<Usage>,
    /// Every field not named above, as it came.
    #[cfg_attr(test, serde(flatten))]
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
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Choice {
    pub index: u32,
    pub message: Message,
    /// `stop`, `length`, `tool_calls`, ... (TGI: `eos_token`, Together: `eos`). Always
    /// serialized, `null` when unknown, as OpenAI does.
    pub finish_reason: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub logprobs: Option<Value>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// The assistant's message.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Message {
    /// `"assistant"` when absent, `""` when `null`.
    pub role: String,
    /// `null` when the model only called tools. Always serialized, as OpenAI does.
    pub content: Option<String>,
    /// The reasoning ("thinking") text of reasoning models that separate it.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub reasoning_content: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[cfg_attr(test, serde(flatten))]
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
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct ToolCall {
    /// Position in a streamed response (absent in non-stream responses).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub index: Option<u32>,
    pub id: String,
    /// `"function"` when absent, `""` when `null`.
    #[cfg_attr(test, serde(rename = "type"))]
    pub kind: String,
    pub function: FunctionCall,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// The function a [`ToolCall`] names, with its arguments as JSON text.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct FunctionCall {
    pub name: String,
    /// JSON text, as OpenAI sends it (an object sent instead is kept as its JSON text).
    pub arguments: String,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// Token usage. Counts a provider did not send are `None`, never `0`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Usage {
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub prompt_tokens: Option<u64>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub completion_tokens: Option<u64>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub total_tokens: Option<u64>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub prompt_tokens_details: Option<Value>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub completion_tokens_details: Option<Value>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// One `data:` payload of a chat completion stream.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct ChatChunk {
    pub id: String,
    /// `"chat.completion.chunk"` when absent, `""` when `null`.
    pub object: String,
    pub created: u64,
    pub model: String,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub system_fingerprint: Option<String>,
    /// Empty on the usage-only final chunk (`stream_options.include_usage`).
    pub choices: Vec<ChunkChoice>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub usage: Option<Usage>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// One choice of a [`ChatChunk`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    /// Always serialized (`null` until the last chunk), as OpenAI does.
    pub finish_reason: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub logprobs: Option<Value>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// What one chunk adds to a choice.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Delta {
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub role: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub content: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub reasoning_content: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// A piece of a tool call: the first piece names it, later ones add argument text.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct ToolCallDelta {
    /// Which tool call this piece belongs to. Some OpenAI-compatible servers omit it;
    /// the stream state then matches by `id` (or continues the last call).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub index: Option<u32>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub id: Option<String>,
    #[cfg_attr(test, serde(rename = "type", skip_serializing_if = "Option::is_none"))]
    pub kind: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub function: Option<FunctionCallDelta>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// A piece of a [`FunctionCall`].
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct FunctionCallDelta {
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub name: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub arguments: Option<String>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

// Writing each type as JSON text: the named fields in their order, a `None` the shape
// marks optional left out, then `extra` (what serde's derived, flattened `Serialize`
// wrote; the unit tests hold the two to each other).

fn list<T>(items: &[T], write: fn(&T) -> String) -> String {
    crate::json::array_text(items.iter().map(write))
}

/// The fields a completion and a chunk share, in their order, then `extra`.
struct Head<'a> {
    id: &'a str,
    object: &'a str,
    created: u64,
    model: &'a str,
    system_fingerprint: Option<&'a str>,
    usage: Option<&'a Usage>,
    extra: &'a Map<String, Value>,
}

impl Head<'_> {
    fn text(&self, choices: &str) -> String {
        ObjectText::new()
            .string("id", self.id)
            .string("object", self.object)
            .number("created", self.created)
            .string("model", self.model)
            .opt_string("system_fingerprint", self.system_fingerprint)
            .raw("choices", choices)
            .opt_raw("usage", self.usage.map(Usage::to_json).as_deref())
            .members(self.extra)
            .end()
    }
}

/// A choice of a completion (`message`) or of a chunk (`delta`): `inner` is its JSON.
fn choice_text(
    index: u32,
    name: &str,
    inner: &str,
    finish_reason: Option<&str>,
    logprobs: Option<&Value>,
    extra: &Map<String, Value>,
) -> String {
    ObjectText::new()
        .number("index", u64::from(index))
        .raw(name, inner)
        .string_or_null("finish_reason", finish_reason)
        .opt_value("logprobs", logprobs)
        .members(extra)
        .end()
}

impl ChatCompletion {
    /// The completion's JSON text.
    pub fn to_json(&self) -> String {
        Head {
            id: &self.id,
            object: &self.object,
            created: self.created,
            model: &self.model,
            system_fingerprint: self.system_fingerprint.as_deref(),
            usage: self.usage.as_ref(),
            extra: &self.extra,
        }
        .text(&list(&self.choices, Choice::to_json))
    }
}

impl Choice {
    pub fn to_json(&self) -> String {
        choice_text(
            self.index,
            "message",
            &self.message.to_json(),
            self.finish_reason.as_deref(),
            self.logprobs.as_ref(),
            &self.extra,
        )
    }
}

impl Message {
    pub fn to_json(&self) -> String {
        let calls = self.tool_calls.as_ref().map(|c| list(c, ToolCall::to_json));
        ObjectText::new()
            .string("role", &self.role)
            .string_or_null("content", self.content.as_deref())
            .opt_string("reasoning_content", self.reasoning_content.as_deref())
            .opt_raw("tool_calls", calls.as_deref())
            .members(&self.extra)
            .end()
    }
}

impl ToolCall {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .opt_number("index", self.index.map(u64::from))
            .string("id", &self.id)
            .string("type", &self.kind)
            .raw("function", &self.function.to_json())
            .members(&self.extra)
            .end()
    }
}

impl FunctionCall {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .string("name", &self.name)
            .string("arguments", &self.arguments)
            .members(&self.extra)
            .end()
    }
}

impl Usage {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .opt_number("prompt_tokens", self.prompt_tokens)
            .opt_number("completion_tokens", self.completion_tokens)
            .opt_number("total_tokens", self.total_tokens)
            .opt_value("prompt_tokens_details", self.prompt_tokens_details.as_ref())
            .opt_value(
                "completion_tokens_details",
                self.completion_tokens_details.as_ref(),
            )
            .members(&self.extra)
            .end()
    }
}

impl ChatChunk {
    pub fn to_json(&self) -> String {
        Head {
            id: &self.id,
            object: &self.object,
            created: self.created,
            model: &self.model,
            system_fingerprint: self.system_fingerprint.as_deref(),
            usage: self.usage.as_ref(),
            extra: &self.extra,
        }
        .text(&list(&self.choices, ChunkChoice::to_json))
    }
}

impl ChunkChoice {
    pub fn to_json(&self) -> String {
        choice_text(
            self.index,
            "delta",
            &self.delta.to_json(),
            self.finish_reason.as_deref(),
            self.logprobs.as_ref(),
            &self.extra,
        )
    }
}

impl Delta {
    pub fn to_json(&self) -> String {
        let calls = self
            .tool_calls
            .as_ref()
            .map(|c| list(c, ToolCallDelta::to_json));
        ObjectText::new()
            .opt_string("role", self.role.as_deref())
            .opt_string("content", self.content.as_deref())
            .opt_string("reasoning_content", self.reasoning_content.as_deref())
            .opt_raw("tool_calls", calls.as_deref())
            .members(&self.extra)
            .end()
    }
}

impl ToolCallDelta {
    pub fn to_json(&self) -> String {
        let function = self.function.as_ref().map(FunctionCallDelta::to_json);
        ObjectText::new()
            .opt_number("index", self.index.map(u64::from))
            .opt_string("id", self.id.as_deref())
            .opt_string("type", self.kind.as_deref())
            .opt_raw("function", function.as_deref())
            .members(&self.extra)
            .end()
    }
}

impl FunctionCallDelta {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .opt_string("name", self.name.as_deref())
            .opt_string("arguments", self.arguments.as_deref())
            .members(&self.extra)
            .end()
    }
}

// Reading each type out of a parsed `Value` (see `Fields` for the rules per field).

impl ChatCompletion {
    pub(crate) fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = ChatCompletion {
            id: f.string("id"),
            object: f.string_or("object", "chat.completion"),
            created: f.count("created").unwrap_or(0),
            model: f.string("model"),
            system_fingerprint: f.opt_string("system_fingerprint"),
            choices: f.array("choices", Choice::from_json).unwrap_or_default(),
            usage: f.nested("usage", true, Usage::from_json),
            extra: f.rest(),
        };
        f.result(c)
    }
}

impl Choice {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = Choice {
            index: f.count_u32("index").unwrap_or(0),
            message: f
                .nested("message", false, Message::from_json)
                .unwrap_or_default(),
            finish_reason: f.opt_string("finish_reason"),
            logprobs: f.value("logprobs"),
            extra: f.rest(),
        };
        f.result(c)
    }
}

impl Message {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let m = Message {
            role: f.string_or("role", "assistant"),
            content: f.text("content"),
            reasoning_content: f.text("reasoning_content"),
            tool_calls: f.opt_array("tool_calls", ToolCall::from_json),
            extra: f.rest(),
        };
        f.result(m)
    }
}

impl ToolCall {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let t = ToolCall {
            index: f.strict_u32("index"),
            id: f.string("id"),
            kind: f.string_or("type", "function"),
            function: f
                .nested("function", false, FunctionCall::from_json)
                .unwrap_or_default(),
            extra: f.rest(),
        };
        f.result(t)
    }
}

impl FunctionCall {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = FunctionCall {
            name: f.string("name"),
            arguments: f.json_text("arguments").unwrap_or_default(),
            extra: f.rest(),
        };
        f.result(c)
    }
}

impl Usage {
    pub(crate) fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let u = Usage {
            prompt_tokens: f.count("prompt_tokens"),
            completion_tokens: f.count("completion_tokens"),
            total_tokens: f.count("total_tokens"),
            prompt_tokens_details: f.value("prompt_tokens_details"),
            completion_tokens_details: f.value("completion_tokens_details"),
            extra: f.rest(),
        };
        f.result(u)
    }
}

impl ChatChunk {
    pub(crate) fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = ChatChunk {
            id: f.string("id"),
            object: f.string_or("object", "chat.completion.chunk"),
            created: f.count("created").unwrap_or(0),
            model: f.string("model"),
            system_fingerprint: f.opt_string("system_fingerprint"),
            choices: f
                .array("choices", ChunkChoice::from_json)
                .unwrap_or_default(),
            usage: f.nested("usage", true, Usage::from_json),
            extra: f.rest(),
        };
        f.result(c)
    }
}

impl ChunkChoice {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = ChunkChoice {
            index: f.count_u32("index").unwrap_or(0),
            delta: f
                .nested("delta", false, Delta::from_json)
                .unwrap_or_default(),
            finish_reason: f.opt_string("finish_reason"),
            logprobs: f.value("logprobs"),
            extra: f.rest(),
        };
        f.result(c)
    }
}

impl Delta {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let d = Delta {
            role: f.opt_string("role"),
            content: f.text("content"),
            reasoning_content: f.text("reasoning_content"),
            tool_calls: f.opt_array("tool_calls", ToolCallDelta::from_json),
            extra: f.rest(),
        };
        f.result(d)
    }
}

impl ToolCallDelta {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let t = ToolCallDelta {
            index: f.count_u32("index"),
            id: f.opt_string("id"),
            kind: f.opt_string("type"),
            function: f.nested("function", true, FunctionCallDelta::from_json),
            extra: f.rest(),
        };
        f.result(t)
    }
}

impl FunctionCallDelta {
    fn from_json(v: Value) -> Read<Self> {
        let mut f = Fields::of(v)?;
        let c = FunctionCallDelta {
            name: f.opt_string("name"),
            arguments: f.json_text("arguments"),
            extra: f.rest(),
        };
        f.result(c)
    }
}

/// Reading the response types from JSON text, through `from_json` (see the section
/// header): `from_text` for callers, and (for the unit tests, which keep serde as the
/// oracle) `Deserialize`.
macro_rules! deserialize_via_value {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// Read from JSON text: a parse error or a shape error, as a message.
            pub fn from_text(text: &str) -> Result<Self, String> {
                let v = crate::json::parse(text).map_err(|e| e.message())?;
                <$t>::from_json(v).map_err(|e| e.message())
            }
        }

        #[cfg(test)]
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <Value as serde::Deserialize>::deserialize(d)?;
                <$t>::from_json(v).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_via_value!(
    ChatCompletion,
    Choice,
    Message,
    ToolCall,
    FunctionCall,
    Usage,
    ChatChunk,
    ChunkChoice,
    Delta,
    ToolCallDelta,
    FunctionCallDelta,
);

/// The `model` of a prepared request body, if it names one.
pub fn model_of(body: &str) -> Option<String> {
    match crate::json::parse(body) {
        Ok(Value::Object(mut m)) => match m.remove("model") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// A prepared request body with its `model` set to `model` (every other field kept).
pub fn with_model(body: &str, model: &str) -> Result<String, Error> {
    let parsed = crate::json::parse(body).map_err(|e| e.to_string());
    let mut v = match parsed.and_then(|v| Fields::of(v).map_err(|e| e.message())) {
        Ok(f) => f.map,
        Err(why) => {
            return Err(Error::input(
                "the request is not a JSON object: ".to_owned() + &why,
            ))
        }
    };
    v.insert("model".to_owned(), Value::String(model.to_owned()));
    Ok(Value::Object(v).to_text())
}

/// Whether a parsed payload is an error report rather than data: a non-null `error`
/// key (OpenAI, TGI, most providers) or vLLM's `{"object": "error", ...}`.
pub(crate) fn is_error_payload(map: &Map<String, Value>) -> bool {
    let has_error = !matches!(
        map.get("error"),
        None | Some(Value::Null | Value::Bool(false))
    );
    has_error || matches!(map.get("object"), Some(Value::String(s)) if s == "error")
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
    let value: Value = crate::json::parse(body).map_err(|e| {
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
        return Err(crate::error::body_payload_error(body));
    }
    if !map.contains_key("choices") {
        return Err(parse_error(
            "the chat completion response has no `choices`: is the URL a chat completions endpoint?"
                .to_owned(),
            body,
        ));
    }
    ChatCompletion::from_json(value).map_err(|e| {
        parse_error(
            "the chat completion response has an unexpected shape: ".to_owned() + &e.message(),
            body,
        )
    })
}

// ---------------------------------------------------------------------------------
// Field readers: a provider sending `null` (or a float, or an object where OpenAI has
// text) must not make a whole response unreadable.
// ---------------------------------------------------------------------------------

/// What reading a type out of a `Value` gives.
pub(crate) type Read<T> = Result<T, ShapeError>;

/// A JSON value that does not have the shape of the type read from it: which field,
/// what it must be and what it was. Reads as "`choices[0].delta.content` must be text
/// (...), found a number", or "expected an object, found an array" at the root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShapeError {
    /// The field from the root of the type read (`choices[0].delta`); empty for the root.
    path: String,
    expected: &'static str,
    found: &'static str,
}

impl ShapeError {
    #[cold]
    fn new(expected: &'static str, found: &Value) -> Self {
        ShapeError {
            path: String::new(),
            expected,
            found: json_kind(found),
        }
    }

    /// The same error seen from one level up: `segment` is the field name (`delta`) or
    /// the array index (`[2]`) it happened in.
    #[cold]
    fn within(mut self, segment: &str) -> Self {
        let mut path = segment.to_owned();
        if !self.path.is_empty() && !self.path.starts_with('[') {
            path.push('.');
        }
        path.push_str(&self.path);
        self.path = path;
        self
    }

    /// The error as a sentence.
    pub(crate) fn message(&self) -> String {
        let mut m = String::new();
        if self.path.is_empty() {
            m.push_str("expected ");
        } else {
            m.push('`');
            m.push_str(&self.path);
            m.push_str("` must be ");
        }
        m.push_str(self.expected);
        m.push_str(", found ");
        m.push_str(self.found);
        m
    }
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The fields of one JSON object being read into a type. Each reader takes its field
/// out of the map (what is left at the end is the type's `extra`) and applies the rule
/// for its kind of field:
/// - absent is `None` (the type then uses its default); `null` is `None` too, or `""`
///   for a string the type always has;
/// - counts and indexes are lenient ([`Fields::count`]); only `ToolCall::index` must be
///   a `u32`;
/// - text may be a string, `null` or an array of content parts ([`Fields::text`]);
/// - any other wrong type is remembered as the read's [`ShapeError`] (the first one
///   wins) and the field reads as absent, so a read has no early exits: one error check
///   in [`Fields::result`] instead of one per field, which keeps the code small.
///
/// Other modules reading JSON into their own types should use this too: a derived
/// `Deserialize` brings serde's typed deserializers, and with them float printing (for
/// serde's error messages), back into the wasm.
pub(crate) struct Fields {
    map: Map<String, Value>,
    error: Option<ShapeError>,
}

impl Fields {
    pub(crate) fn of(v: Value) -> Read<Fields> {
        match v {
            Value::Object(map) => Ok(Fields { map, error: None }),
            other => Err(ShapeError::new("an object", &other)),
        }
    }

    /// The fields not read yet: the type's `extra`, read last.
    pub(crate) fn rest(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.map)
    }

    /// `value`, or the first shape error the read met.
    pub(crate) fn result<T>(self, value: T) -> Read<T> {
        match self.error {
            None => Ok(value),
            Some(e) => Err(e),
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, key: &str, e: ShapeError) {
        if self.error.is_none() {
            self.error = Some(e.within(key));
        }
    }

    /// A string or `null`.
    #[inline(never)]
    pub(crate) fn opt_string(&mut self, key: &str) -> Option<String> {
        match self.map.remove(key)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => {
                self.fail(key, ShapeError::new("a string", &other));
                None
            }
        }
    }

    /// A string that is `""` when absent or `null`.
    pub(crate) fn string(&mut self, key: &str) -> String {
        self.opt_string(key).unwrap_or_default()
    }

    /// A string that is `absent` when absent and `""` when `null`.
    #[inline(never)]
    pub(crate) fn string_or(&mut self, key: &str, absent: &str) -> String {
        if self.map.contains_key(key) {
            self.string(key)
        } else {
            absent.to_owned()
        }
    }

    /// Text that is a string, `null`, or (Mistral and others) an array of content parts,
    /// whose `text` pieces are joined.
    #[inline(never)]
    pub(crate) fn text(&mut self, key: &str) -> Option<String> {
        match self.map.remove(key)? {
            Value::Null => None,
            Value::String(s) => Some(s),
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
                Some(text)
            }
            other => {
                let e =
                    ShapeError::new("text (a string, null or an array of content parts)", &other);
                self.fail(key, e);
                None
            }
        }
    }

    /// A count, time or index: a non-negative number (a float is truncated) or a string
    /// of one; anything else (a negative number, `null`, garbage) is `None`, never an
    /// error. See [`crate::json::count`].
    #[inline(never)]
    pub(crate) fn count(&mut self, key: &str) -> Option<u64> {
        crate::json::count(&self.map.remove(key)?)
    }

    /// [`Fields::count`], `None` beyond `u32`.
    pub(crate) fn count_u32(&mut self, key: &str) -> Option<u32> {
        self.count(key).and_then(|u| u32::try_from(u).ok())
    }

    /// `null`, or an integer that fits `u32` (no float, no string).
    #[inline(never)]
    pub(crate) fn strict_u32(&mut self, key: &str) -> Option<u32> {
        let v = self.map.remove(key)?;
        if v.is_null() {
            return None;
        }
        let u = v.as_u64().and_then(|u| u32::try_from(u).ok());
        if u.is_none() {
            self.fail(key, ShapeError::new("an integer from 0 to 4294967295", &v));
        }
        u
    }

    /// Any value; `null` is `None`.
    #[inline(never)]
    pub(crate) fn value(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// JSON text: a string as is; `null` as `None`; any other value as its JSON text.
    #[inline(never)]
    pub(crate) fn json_text(&mut self, key: &str) -> Option<String> {
        match self.map.remove(key)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_text()),
        }
    }

    /// An object read by `read`. `null` is `None` when `nullable`, else a shape error.
    pub(crate) fn nested<T>(
        &mut self,
        key: &str,
        nullable: bool,
        read: fn(Value) -> Read<T>,
    ) -> Option<T> {
        let v = self.map.remove(key)?;
        if nullable && v.is_null() {
            return None;
        }
        read(v).map_err(|e| self.fail(key, e)).ok()
    }

    /// An array, each element read by `read`; `null` is a shape error.
    pub(crate) fn array<T>(&mut self, key: &str, read: fn(Value) -> Read<T>) -> Option<Vec<T>> {
        let mut out = Vec::new();
        self.each(key, false, &mut |v| {
            out.push(read(v)?);
            Ok(())
        })
        .then_some(out)
    }

    /// [`Fields::array`] where `null` is `None`.
    pub(crate) fn opt_array<T>(&mut self, key: &str, read: fn(Value) -> Read<T>) -> Option<Vec<T>> {
        let mut out = Vec::new();
        self.each(key, true, &mut |v| {
            out.push(read(v)?);
            Ok(())
        })
        .then_some(out)
    }

    /// Hand each element of the array `key` to `f`. False when the field is absent or
    /// `null` (a shape error unless `nullable`), is not an array, or an element failed;
    /// errors are remembered. One loop for every element type, compiled once.
    #[inline(never)]
    fn each(&mut self, key: &str, nullable: bool, f: &mut dyn FnMut(Value) -> Read<()>) -> bool {
        let items = match self.map.remove(key) {
            None => return false,
            Some(Value::Null) if nullable => return false,
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.fail(key, ShapeError::new("an array", &other));
                return false;
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            if let Err(e) = f(item) {
                self.fail(key, e.within(&index_segment(i)));
                return false;
            }
        }
        true
    }
}

#[cold]
fn index_segment(i: usize) -> String {
    let mut s = "[".to_owned();
    s.push_str(&i.to_string());
    s.push(']');
    s
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
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

    fn shape_error(body: &str) -> String {
        let e = parse_completion(body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parse, "{}", e.message);
        assert_eq!(e.body.as_deref(), Some(body));
        e.message
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_its_path() {
        assert_eq!(
            shape_error(r#"{"choices":"nope"}"#),
            "the chat completion response has an unexpected shape: `choices` must be an array, found a string"
        );
        assert_eq!(
            shape_error(r#"{"choices":[{"message":{"content":"a"}},{"message":{"content":7}}]}"#),
            "the chat completion response has an unexpected shape: `choices[1].message.content` must be text (a string, null or an array of content parts), found a number"
        );
        assert_eq!(
            shape_error(r#"{"choices":[{"message":{"tool_calls":[{"index":-1}]}}]}"#),
            "the chat completion response has an unexpected shape: `choices[0].message.tool_calls[0].index` must be an integer from 0 to 4294967295, found a number"
        );
        assert_eq!(
            shape_error(r#"{"choices":[],"usage":[1]}"#),
            "the chat completion response has an unexpected shape: `usage` must be an object, found an array"
        );
    }

    #[test]
    fn the_first_wrong_field_is_the_one_reported() {
        assert!(shape_error(r#"{"id":1,"model":2,"choices":[]}"#)
            .ends_with("`id` must be a string, found a number"));
    }

    #[test]
    fn null_where_an_array_or_object_is_required_is_a_shape_error() {
        // As `serde`'s derive had it: `default` covers an absent field, not `null`.
        assert!(
            shape_error(r#"{"choices":null}"#).ends_with("`choices` must be an array, found null")
        );
        assert!(shape_error(r#"{"choices":[{"message":null}]}"#)
            .ends_with("`choices[0].message` must be an object, found null"));
        let d = serde_json::from_str::<ChatChunk>(r#"{"choices":[{"delta":null}]}"#).unwrap_err();
        assert!(
            d.to_string()
                .starts_with("`choices[0].delta` must be an object, found null"),
            "{d}"
        );
    }

    #[test]
    fn absent_and_null_strings_differ_where_there_is_a_default() {
        let c: ChatCompletion = serde_json::from_str(r#"{"choices":[{"message":{}}]}"#).unwrap();
        assert_eq!(
            (c.object.as_str(), c.choices[0].message.role.as_str()),
            ("chat.completion", "assistant")
        );
        let c: ChatCompletion =
            serde_json::from_str(r#"{"object":null,"choices":[{"message":{"role":null}}]}"#)
                .unwrap();
        assert_eq!(
            (c.object.as_str(), c.choices[0].message.role.as_str()),
            ("", "")
        );
        let t: ToolCall = serde_json::from_str(r#"{"type":null}"#).unwrap();
        assert_eq!(t.kind, "");
        let t: ToolCall = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(t.kind, "function");
        let c: ChatChunk = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(c.object, "chat.completion.chunk");
    }

    #[test]
    fn counts_are_lenient_and_never_an_error() {
        let u: Usage = serde_json::from_str(
            r#"{"prompt_tokens":"12","completion_tokens":-3,"total_tokens":{"x":1},"cached":true}"#,
        )
        .unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (Some(12), None, None)
        );
        assert_eq!(u.extra["cached"], true);
        let d: ToolCallDelta = serde_json::from_str(r#"{"index":5000000000}"#).unwrap();
        assert_eq!(d.index, None, "beyond u32");
    }

    #[test]
    fn nullable_fields_read_null_as_none() {
        let d: ToolCallDelta =
            serde_json::from_str(r#"{"id":null,"type":null,"function":null}"#).unwrap();
        assert_eq!((d.id, d.kind, d.function), (None, None, None));
        let c: ChatChunk = serde_json::from_str(
            r#"{"usage":null,"choices":[{"logprobs":null,"delta":{"tool_calls":null}}]}"#,
        )
        .unwrap();
        assert_eq!(c.usage, None);
        assert_eq!(c.choices[0].logprobs, None);
        assert_eq!(c.choices[0].delta.tool_calls, None);
        assert!(
            c.choices[0].extra.is_empty(),
            "known fields never land in `extra`"
        );
    }

    #[test]
    fn model_of_and_with_model() {
        assert_eq!(model_of(r#"{"model":"m","x":1}"#).as_deref(), Some("m"));
        assert_eq!(model_of(r#"{"model":3}"#), None);
        assert_eq!(model_of("[1]"), None);
        let b = with_model(r#"{"model":"a","seed":18446744073709551615}"#, "b").unwrap();
        assert_eq!(b, r#"{"model":"b","seed":18446744073709551615}"#);
        let e = with_model("[]", "b").unwrap_err();
        assert_eq!(
            e.message,
            "the request is not a JSON object: expected an object, found an array"
        );
    }
}

/// The hand writers (`to_json`) against the derived `Serialize` they replaced (kept for
/// the tests only), on whatever the readers make of arbitrary JSON.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod writer_parity {
    use super::*;
    use crate::json::from_serde;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "id",
        "object",
        "created",
        "model",
        "system_fingerprint",
        "choices",
        "usage",
        "index",
        "message",
        "delta",
        "finish_reason",
        "logprobs",
        "role",
        "content",
        "reasoning_content",
        "tool_calls",
        "type",
        "function",
        "name",
        "arguments",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
    ];

    fn derived<T: serde::Serialize>(t: &T) -> String {
        serde_json::to_string(t).unwrap_or_default()
    }

    fn check(v: &serde_json::Value) -> Result<(), TestCaseError> {
        let v = from_serde(v);
        if let Ok(c) = ChatCompletion::from_json(v.clone()) {
            prop_assert_eq!(c.to_json(), derived(&c));
        }
        if let Ok(c) = ChatChunk::from_json(v.clone()) {
            prop_assert_eq!(c.to_json(), derived(&c));
        }
        if let Ok(m) = Message::from_json(v.clone()) {
            prop_assert_eq!(m.to_json(), derived(&m));
        }
        if let Ok(d) = Delta::from_json(v.clone()) {
            prop_assert_eq!(d.to_json(), derived(&d));
        }
        if let Ok(u) = Usage::from_json(v) {
            prop_assert_eq!(u.to_json(), derived(&u));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn writers_match_the_derived_serialize(v in crate::json::arb::value(KEYS)) {
            check(&v)?;
        }

        #[test]
        fn writers_match_on_chunks_and_completions(
            message in crate::json::arb::value(KEYS),
            usage in crate::json::arb::value(KEYS),
            call in crate::json::arb::value(KEYS),
            extra in crate::json::arb::value(KEYS),
        ) {
            let calls = serde_json::json!([call, {"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]);
            let msg = serde_json::json!({"role": "assistant", "content": "hi", "tool_calls": calls, "x": message});
            check(&serde_json::json!({"id": "a", "choices": [{"index": 0, "message": msg, "z": extra}], "usage": usage, "extra": 1.5}))?;
            check(&serde_json::json!({"id": "a", "choices": [{"index": 1, "delta": msg, "logprobs": usage}], "usage": {"prompt_tokens": 1, "x": extra}}))?;
        }
    }
}
