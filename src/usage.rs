//! Token usage and what it cost.
//!
//! Owns: [`TokenUsage`], the one usage shape every completion and every finished,
//! aborted or failed stream reports (read leniently from OpenAI's `usage` and TGI's
//! `details`); the documented token estimates ([`estimate_text_tokens`],
//! [`estimate_prompt_tokens`], [`estimate_completion_tokens`],
//! [`estimate_request_tokens`]) and when they fill in for what the provider did not say
//! ([`resolve_usage`]); the [`PriceTable`] (`"model[:provider]"` → USD per million
//! tokens, from the caller or from the router's `/v1/models`) and the cost arithmetic
//! ([`cost_usd`], [`PriceTable::cost`]); and which provider served a response
//! ([`served_provider`]).
//!
//! Must never: produce NaN or an infinity (counts are integers, prices are checked to be
//! finite and bounded, every sum saturates), report `0` for a count the provider did not
//! send (absent is `None`), guess a price (no price is `None`, never `$0`), read a clock,
//! or panic on any body, header or option.
//!
//! Where the numbers come from (OpenAI Chat Completions `usage`,
//! <https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage>):
//! `prompt_tokens`, `completion_tokens`, `total_tokens`,
//! `prompt_tokens_details.cached_tokens` (part of `prompt_tokens`) and
//! `completion_tokens_details.reasoning_tokens` (part of `completion_tokens`); DeepSeek's
//! `prompt_cache_hit_tokens` is read as cached tokens when the details are absent. TGI's
//! native API reports `details.generated_tokens` and, from newer servers,
//! `details.input_length`; with `decoder_input_details: true` the `details.prefill` list
//! has one entry per prompt token. Every count may arrive as an integer, a float
//! (`12.0`), a numeric string or `null` ([`crate::json::count`]).

use crate::json::{Map, Value};

use crate::error::{cut, Error};
use crate::models::{ModelList, Price};
use crate::providers::{
    host_of, is_hf_host, model_base, provider_info, split_model, Suffix, PROVIDERS,
};
use crate::tgi::Details;
use crate::types::{ChatCompletion, Usage};
use crate::vecmap::VecMap;

// ---------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------

/// Token counts of one call. JavaScript sees `{ promptTokens, completionTokens,
/// totalTokens, cachedTokens?, reasoningTokens?, estimated? }`, with `undefined` for a
/// `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// As the provider sent it; when it sent none, `prompt + completion` if both are
    /// known. (Likewise a missing prompt or completion count is `total` minus the other
    /// when the provider sent those two: arithmetic, not an estimate.)
    pub total_tokens: Option<u64>,
    /// Prompt tokens served from the provider's prompt cache (included in
    /// `prompt_tokens`).
    pub cached_tokens: Option<u64>,
    /// Reasoning ("thinking") tokens (included in `completion_tokens`).
    pub reasoning_tokens: Option<u64>,
    /// At least one of `prompt_tokens`, `completion_tokens` (and so `total_tokens`) is
    /// an estimate ([`resolve_usage`]), not the provider's count.
    pub estimated: bool,
}

impl TokenUsage {
    /// Read an OpenAI-style usage already parsed into [`Usage`] (a completion's or a
    /// stream's last `usage`).
    pub fn from_usage(u: &Usage) -> TokenUsage {
        let detail = |d: &Option<Value>, key: &str| {
            d.as_ref()
                .and_then(|v| v.get(key))
                .and_then(crate::json::count)
        };
        let cached = detail(&u.prompt_tokens_details, "cached_tokens").or_else(|| {
            u.extra
                .get("prompt_cache_hit_tokens")
                .and_then(crate::json::count)
        });
        TokenUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            cached_tokens: cached,
            reasoning_tokens: detail(&u.completion_tokens_details, "reasoning_tokens"),
            estimated: false,
        }
        .with_total()
    }

    /// Read a raw `usage` JSON value (as in a cached response body). `None` when it is
    /// not an object.
    pub fn from_json(v: &Value) -> Option<TokenUsage> {
        let map = v.as_object()?;
        let get = |k: &str| map.get(k).and_then(crate::json::count);
        let nested = |outer: &str, k: &str| {
            map.get(outer)
                .and_then(|d| d.get(k))
                .and_then(crate::json::count)
        };
        Some(
            TokenUsage {
                prompt_tokens: get("prompt_tokens"),
                completion_tokens: get("completion_tokens"),
                total_tokens: get("total_tokens"),
                cached_tokens: nested("prompt_tokens_details", "cached_tokens")
                    .or_else(|| get("prompt_cache_hit_tokens")),
                reasoning_tokens: nested("completion_tokens_details", "reasoning_tokens"),
                estimated: false,
            }
            .with_total(),
        )
    }

    /// The usage of a chat completion (or of what a stream accumulated), `None` when it
    /// carries none.
    pub fn from_completion(c: &ChatCompletion) -> Option<TokenUsage> {
        c.usage.as_ref().map(TokenUsage::from_usage)
    }

    /// Read TGI's `details`: `generated_tokens` is the completion; the prompt is
    /// `input_length` when sent, else the length of a non-empty `prefill` list (it is
    /// empty unless `decoder_input_details` was asked for, and empty means unknown).
    pub fn from_tgi(d: &Details) -> TokenUsage {
        let prompt = d
            .extra
            .get("input_length")
            .and_then(crate::json::count)
            .or_else(|| match d.extra.get("prefill") {
                Some(Value::Array(items)) if !items.is_empty() => u64::try_from(items.len()).ok(),
                _ => None,
            });
        TokenUsage {
            prompt_tokens: prompt,
            completion_tokens: d.generated_tokens,
            ..TokenUsage::default()
        }
        .with_total()
    }

    /// No count at all.
    pub fn is_empty(&self) -> bool {
        self.prompt_tokens.is_none()
            && self.completion_tokens.is_none()
            && self.total_tokens.is_none()
            && self.cached_tokens.is_none()
            && self.reasoning_tokens.is_none()
    }

    /// The tokens this usage counts toward token budgets and limits: `total_tokens`,
    /// else whichever of prompt and completion is known, else `None`.
    pub fn billable_tokens(&self) -> Option<u64> {
        self.total_tokens
            .or(match (self.prompt_tokens, self.completion_tokens) {
                (None, None) => None,
                (p, c) => Some(p.unwrap_or(0).saturating_add(c.unwrap_or(0))),
            })
    }

    /// The counts that follow from the others by arithmetic: `total = prompt +
    /// completion` when the total is absent; `completion = total - prompt` (or `prompt =
    /// total - completion`) when only one of them is absent and the total covers the
    /// other.
    fn with_total(mut self) -> Self {
        match (
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
        ) {
            (Some(p), Some(c), None) => self.total_tokens = Some(p.saturating_add(c)),
            (Some(p), None, Some(t)) if t >= p => self.completion_tokens = Some(t - p),
            (None, Some(c), Some(t)) if t >= c => self.prompt_tokens = Some(t - c),
            _ => {}
        }
        self
    }
}

// ---------------------------------------------------------------------------------
// Estimates
// ---------------------------------------------------------------------------------

/// Bytes per token in every estimate here: the usual rule of thumb for English text
/// with BPE tokenizers (about 4 characters a token); CJK text and code run denser, so
/// the estimate is low there. Estimates are for budgets, limits and routing, never a
/// bill.
pub const BYTES_PER_TOKEN: u64 = 4;
/// Tokens added per message for its role and delimiters (OpenAI's chat format uses 3-4).
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 4;
/// Tokens added once per request: the assistant reply's priming.
pub const REPLY_PRIMING_TOKENS: u64 = 3;
/// Tokens counted for each non-text content part (an image, audio, a file), whatever
/// its size: OpenAI's figure for a low-detail image. A base64 data URL's length says
/// nothing about its tokens.
pub const NON_TEXT_PART_TOKENS: u64 = 85;
/// Completion tokens reserved per choice by [`estimate_request_tokens`] when the request
/// sets no `max_tokens`/`max_completion_tokens`.
pub const DEFAULT_COMPLETION_RESERVE: u64 = 256;
/// Choices (`n`) counted at most by [`estimate_request_tokens`].
const MAX_COUNTED_CHOICES: u64 = 128;

/// `ceil(bytes / 4)` tokens for `bytes` bytes of UTF-8 text.
pub fn tokens_for_bytes(bytes: u64) -> u64 {
    bytes.div_ceil(BYTES_PER_TOKEN)
}

/// Estimated tokens of a text: `ceil(utf8_bytes / 4)`.
pub fn estimate_text_tokens(text: &str) -> u64 {
    tokens_for_bytes(text.len() as u64)
}

/// Estimated prompt tokens of a chat request (the parsed request JSON):
///
/// - per message: [`MESSAGE_OVERHEAD_TOKENS`] + `ceil(B / 4)`, where `B` is the UTF-8
///   bytes of its text: `content` (a string, or the `text` of each content part),
///   `reasoning_content`, `name`, and each tool call's function `name` and `arguments`;
///   plus [`NON_TEXT_PART_TOKENS`] per content part that is not text;
/// - plus `ceil(B / 4)` of the JSON text of `tools` and of `response_format` (schemas
///   count);
/// - plus [`REPLY_PRIMING_TOKENS`].
///
/// Anything else (or a request that is not an object) counts nothing; the result
/// saturates instead of overflowing.
pub fn estimate_prompt_tokens(request: &Value) -> u64 {
    let mut total = REPLY_PRIMING_TOKENS;
    let Some(req) = request.as_object() else {
        return total;
    };
    if let Some(Value::Array(messages)) = req.get("messages") {
        for m in messages {
            total = total.saturating_add(message_tokens(m));
        }
    }
    for key in ["tools", "response_format"] {
        if let Some(v) = req.get(key).filter(|v| !v.is_null()) {
            total = total.saturating_add(tokens_for_bytes(json_len(v) as u64));
        }
    }
    total
}

fn message_tokens(m: &Value) -> u64 {
    let Some(m) = m.as_object() else {
        return 0;
    };
    let mut bytes: u64 = 0;
    let mut parts: u64 = 0;
    let mut add = |n: usize| bytes = bytes.saturating_add(n as u64);
    match m.get("content") {
        Some(Value::String(s)) => add(s.len()),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => add(s.len()),
                    Value::Object(p) => match p.get("text") {
                        Some(Value::String(s)) => add(s.len()),
                        _ => parts = parts.saturating_add(1),
                    },
                    _ => {}
                }
            }
        }
        _ => {}
    }
    for key in ["reasoning_content", "name"] {
        if let Some(Value::String(s)) = m.get(key) {
            add(s.len());
        }
    }
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        for call in calls {
            if let Some(f) = call.get("function") {
                if let Some(Value::String(s)) = f.get("name") {
                    add(s.len());
                }
                match f.get("arguments") {
                    Some(Value::String(s)) => add(s.len()),
                    Some(v) if !v.is_null() => add(json_len(v)),
                    _ => {}
                }
            }
        }
    }
    MESSAGE_OVERHEAD_TOKENS
        .saturating_add(tokens_for_bytes(bytes))
        .saturating_add(parts.saturating_mul(NON_TEXT_PART_TOKENS))
}

/// Bytes of a value's compact JSON text.
fn json_len(v: &Value) -> usize {
    v.to_text().len()
}

/// Estimated completion tokens of a completion (or what a stream accumulated): the sum
/// over its choices of `ceil(B / 4)`, `B` being the UTF-8 bytes of the content, the
/// reasoning text and each tool call's name and arguments.
pub fn estimate_completion_tokens(c: &ChatCompletion) -> u64 {
    let mut total: u64 = 0;
    for choice in &c.choices {
        let m = &choice.message;
        let mut bytes: u64 = 0;
        for s in [&m.content, &m.reasoning_content].into_iter().flatten() {
            bytes = bytes.saturating_add(s.len() as u64);
        }
        for call in m.tool_calls.iter().flatten() {
            bytes = bytes
                .saturating_add(call.function.name.len() as u64)
                .saturating_add(call.function.arguments.len() as u64);
        }
        total = total.saturating_add(tokens_for_bytes(bytes));
    }
    total
}

/// What a request may use at most, for a tokens-per-minute reservation before it is
/// sent: [`estimate_prompt_tokens`] + `n` × (`max_completion_tokens`, else `max_tokens`,
/// else [`DEFAULT_COMPLETION_RESERVE`]). `n` counts up to 128.
pub fn estimate_request_tokens(request: &Value) -> u64 {
    let prompt = estimate_prompt_tokens(request);
    let field = |k: &str| request.get(k).and_then(crate::json::count);
    let per_choice = field("max_completion_tokens")
        .or_else(|| field("max_tokens"))
        .unwrap_or(DEFAULT_COMPLETION_RESERVE);
    let n = field("n").unwrap_or(1).clamp(1, MAX_COUNTED_CHOICES);
    prompt.saturating_add(per_choice.saturating_mul(n))
}

/// Token counts to fill in when the provider did not send them (the caller opted in to
/// estimates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageEstimate {
    /// Usually [`estimate_prompt_tokens`] of the request sent.
    pub prompt_tokens: u64,
    /// Usually [`estimate_completion_tokens`] of what arrived (for TGI streams, the
    /// number of token events, which is exact).
    pub completion_tokens: u64,
}

/// The usage to report for a finished, aborted or failed call.
///
/// - The provider's counts are kept as they are. With `estimate` given, a
///   `prompt_tokens` or `completion_tokens` still missing (after the arithmetic of
///   [`TokenUsage::total_tokens`]) is filled in from it, and the result is marked
///   `estimated: true`; `total_tokens` stays the provider's when it sent one, else is
///   the sum. Cached and reasoning tokens are never estimated.
/// - No reported usage: the estimate alone (`estimated: true`), or `None` without one.
/// - A reported usage with no count at all counts as none.
pub fn resolve_usage(
    reported: Option<TokenUsage>,
    estimate: Option<UsageEstimate>,
) -> Option<TokenUsage> {
    let reported = reported
        .filter(|u| !u.is_empty())
        .map(TokenUsage::with_total);
    let Some(est) = estimate else {
        return reported;
    };
    let mut u = reported.unwrap_or_default();
    if u.prompt_tokens.is_some() && u.completion_tokens.is_some() {
        return Some(u);
    }
    if u.prompt_tokens.is_none() {
        u.prompt_tokens = Some(est.prompt_tokens);
    }
    if u.completion_tokens.is_none() {
        u.completion_tokens = Some(est.completion_tokens);
    }
    u.estimated = true;
    Some(u.with_total())
}

// ---------------------------------------------------------------------------------
// Prices and cost
// ---------------------------------------------------------------------------------

/// Highest price accepted, USD per million tokens ($1 a token). Bounds every product
/// of a `u64` count and a price well inside `f64` range.
pub const MAX_PRICE_PER_MILLION: f64 = 1e6;
/// Most entries a [`PriceTable`] holds; further ones are ignored (from the router) or
/// an input error (from the caller).
pub const MAX_PRICE_ENTRIES: usize = 4096;
/// Longest price key, in bytes.
const MAX_PRICE_KEY_BYTES: usize = 512;

/// One model's price, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// The price of cached prompt tokens; `None` prices them as input.
    pub cached_input_per_million: Option<f64>,
}

impl From<Price> for ModelPrice {
    fn from(p: Price) -> Self {
        ModelPrice {
            input_per_million: p.input_per_million,
            output_per_million: p.output_per_million,
            cached_input_per_million: None,
        }
    }
}

impl ModelPrice {
    fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && (0.0..=MAX_PRICE_PER_MILLION).contains(&v);
        ok(self.input_per_million)
            && ok(self.output_per_million)
            && self.cached_input_per_million.map_or(true, ok)
    }
}

/// The cost of `usage` at `price`, in USD:
/// `((prompt − cached) × input + cached × cached_input + completion × output) / 1e6`,
/// with `cached_input` = `input` when the price has none and `cached` capped at
/// `prompt`. Reasoning tokens are part of `completion_tokens` and priced as output.
/// `None` unless both `prompt_tokens` and `completion_tokens` are known (reported or
/// estimated), or if the price is not finite, negative or above
/// [`MAX_PRICE_PER_MILLION`]. Always finite and `>= 0` otherwise.
pub fn cost_usd(usage: &TokenUsage, price: &ModelPrice) -> Option<f64> {
    if !price.is_valid() {
        return None;
    }
    let prompt = usage.prompt_tokens?;
    let completion = usage.completion_tokens?;
    let cached = usage.cached_tokens.unwrap_or(0).min(prompt);
    let cached_price = price
        .cached_input_per_million
        .unwrap_or(price.input_per_million);
    // Each product is at most 1.8e19 × 1e6: far inside `f64` range.
    let micro = (prompt - cached) as f64 * price.input_per_million
        + cached as f64 * cached_price
        + completion as f64 * price.output_per_million;
    let usd = micro / 1e6;
    (usd.is_finite() && usd >= 0.0).then_some(usd)
}

/// What a call cost, and which price entry said so.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub usd: f64,
    /// The [`PriceTable`] key used (`"model:provider"` or `"model"`).
    pub price_key: String,
    /// The usage it was computed from was (partly) estimated.
    pub estimated: bool,
}

/// Prices by `"model"` or `"model:provider"` (the router's model id, the provider's
/// name as the router spells it). Built from the caller's `prices` option
/// ([`PriceTable::from_json`]), from the router's model list
/// ([`PriceTable::from_model_list`]), or both ([`PriceTable::overlay`]: the caller's
/// entries win).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    entries: VecMap<String, ModelPrice>,
}

impl PriceTable {
    pub fn new() -> Self {
        PriceTable::default()
    }

    /// Read the caller's price table, JSON text of
    /// `{ "model[:provider]": { "input": n, "output": n, "cached_input"?: n } }`, prices
    /// in USD per million tokens (`cachedInput` is accepted for `cached_input`). Each
    /// price must be a JSON number, finite, `>= 0` and at most
    /// [`MAX_PRICE_PER_MILLION`]; `input` and `output` are required; an unknown field is
    /// an error (a typo would silently price at nothing). Errors are kind `input` and
    /// name the entry and field.
    pub fn from_json(json: &str) -> Result<PriceTable, Error> {
        let v: Value = crate::json::parse(json)
            .map_err(|e| Error::input(format!("`prices` is not valid JSON: {e}")))?;
        PriceTable::from_value(&v)
    }

    /// [`PriceTable::from_json`] of a parsed value.
    pub fn from_value(v: &Value) -> Result<PriceTable, Error> {
        let Value::Object(map) = v else {
            return Err(Error::input(
                "`prices` must be an object such as {\"org/model\": {\"input\": 0.5, \"output\": 1.5}} (USD per million tokens)",
            ));
        };
        if map.len() > MAX_PRICE_ENTRIES {
            return Err(Error::input(format!(
                "`prices` has {} entries; at most {MAX_PRICE_ENTRIES} are accepted",
                map.len()
            )));
        }
        let mut table = PriceTable::new();
        for (key, entry) in map {
            let price = read_price(key, entry)?;
            let k = normalize_price_key(key).ok_or_else(|| {
                Error::input(format!(
                    "`prices` key {:?} must be \"model\" or \"model:provider\" (at most {MAX_PRICE_KEY_BYTES} bytes)",
                    cut(key, 80)
                ))
            })?;
            table.entries.insert(k, price);
        }
        Ok(table)
    }

    /// The prices the router's `/v1/models` reports (`providers[].pricing`), keyed
    /// `"model:provider"`. Providers without both an input and an output price are left
    /// out (see [`crate::models::price_table`]).
    pub fn from_model_list(list: &ModelList) -> PriceTable {
        let mut table = PriceTable::new();
        for (key, price) in crate::models::prices(list).iter() {
            let price = ModelPrice::from(*price);
            if table.entries.len() >= MAX_PRICE_ENTRIES {
                break;
            }
            if let (true, Some(k)) = (price.is_valid(), normalize_price_key(key)) {
                table.entries.insert(k, price);
            }
        }
        table
    }

    /// Add (or replace) one entry. `Err` (kind `input`) for a bad key or price, or a
    /// full table.
    pub fn insert(&mut self, key: &str, price: ModelPrice) -> Result<(), Error> {
        let k = normalize_price_key(key).ok_or_else(|| {
            Error::input(format!(
                "price key {:?} must be \"model\" or \"model:provider\"",
                cut(key, 80)
            ))
        })?;
        if !price.is_valid() {
            return Err(Error::input(format!(
                "the price of {:?} must be finite numbers from 0 to 1000000 USD per million tokens",
                cut(key, 80)
            )));
        }
        if !self.entries.contains_key(&k) && self.entries.len() >= MAX_PRICE_ENTRIES {
            return Err(Error::input(format!(
                "the price table is full ({MAX_PRICE_ENTRIES} entries)"
            )));
        }
        self.entries.insert(k, price);
        Ok(())
    }

    /// `other`'s entries on top of these (theirs win). Use it as
    /// `loaded_from_router.overlay(&callers)`.
    pub fn overlay(&mut self, other: &PriceTable) {
        for (k, p) in other.entries.iter() {
            if self.entries.contains_key(k) || self.entries.len() < MAX_PRICE_ENTRIES {
                self.entries.insert(k.clone(), *p);
            }
        }
    }

    /// The price for `model` served by `provider`: the entry `"model:provider"`, else
    /// `"model"`. `model`'s own `:suffix` (a provider or a policy such as `:fastest`) is
    /// dropped first; `provider` is the one that served the call
    /// ([`served_provider`]), compared lowercase. Returns the key used and the price.
    pub fn lookup(&self, model: &str, provider: Option<&str>) -> Option<(&str, &ModelPrice)> {
        let base = model_base(model.trim());
        if let Some(p) = provider.map(str::trim).filter(|p| !p.is_empty()) {
            let mut key = String::with_capacity(base.len() + 1 + p.len());
            key.push_str(base);
            key.push(':');
            key.push_str(&p.to_ascii_lowercase());
            if let Some((k, v)) = self.entries.get_key_value(&key) {
                return Some((k.as_str(), v));
            }
        }
        self.entries
            .get_key_value(base)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// The cost of `usage` for `model` served by `provider` ([`PriceTable::lookup`],
    /// [`cost_usd`]); `None` when no entry matches or the usage lacks counts.
    pub fn cost(&self, usage: &TokenUsage, model: &str, provider: Option<&str>) -> Option<Cost> {
        let (key, price) = self.lookup(model, provider)?;
        Some(Cost {
            usd: cost_usd(usage, price)?,
            price_key: key.to_owned(),
            estimated: usage.estimated,
        })
    }

    pub fn get(&self, key: &str) -> Option<&ModelPrice> {
        self.entries.get(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A key trimmed, with its `:provider` part lowercased; `None` if empty or too long.
fn normalize_price_key(key: &str) -> Option<String> {
    let key = key.trim();
    if key.is_empty() || key.len() > MAX_PRICE_KEY_BYTES || key.starts_with(':') {
        return None;
    }
    match crate::error::rsplit_once(key, b':') {
        Some((base, p)) if !base.is_empty() && !p.is_empty() && !p.contains('/') => {
            let mut out = String::with_capacity(key.len());
            out.push_str(base);
            out.push(':');
            out.push_str(&p.to_ascii_lowercase());
            Some(out)
        }
        Some((_, "")) => None,
        _ => Some(key.to_owned()),
    }
}

fn read_price(key: &str, entry: &Value) -> Result<ModelPrice, Error> {
    let entry_name = format!("`prices[{:?}]`", cut(key, 80));
    let where_ = |field: &str| format!("{}.{field}`", &entry_name[..entry_name.len() - 1]);
    let Value::Object(fields) = entry else {
        return Err(Error::input(format!(
            "{entry_name} must be an object such as {{\"input\": 0.5, \"output\": 1.5}}"
        )));
    };
    let number = |field: &str, v: Option<&Value>| -> Result<Option<f64>, Error> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() && (0.0..=MAX_PRICE_PER_MILLION).contains(&f) => {
                    Ok(Some(f))
                }
                _ => Err(Error::input(format!(
                    "{} must be from 0 to 1000000 (USD per million tokens)",
                    where_(field)
                ))),
            },
            Some(_) => Err(Error::input(format!(
                "{} must be a number (USD per million tokens)",
                where_(field)
            ))),
        }
    };
    for k in fields.keys() {
        if !matches!(
            k.as_str(),
            "input" | "output" | "cached_input" | "cachedInput"
        ) {
            return Err(Error::input(format!(
                "{} is not a price field: use `input`, `output` and optionally `cached_input`",
                where_(cut(k, 40))
            )));
        }
    }
    let cached = match (
        number("cached_input", fields.get("cached_input"))?,
        number("cachedInput", fields.get("cachedInput"))?,
    ) {
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let required = |field: &str| -> Result<f64, Error> {
        number(field, fields.get(field))?.ok_or_else(|| {
            Error::input(format!(
                "{} is required (USD per million tokens)",
                where_(field)
            ))
        })
    };
    Ok(ModelPrice {
        input_per_million: required("input")?,
        output_per_million: required("output")?,
        cached_input_per_million: cached,
    })
}

// ---------------------------------------------------------------------------------
// Which provider served a call
// ---------------------------------------------------------------------------------

/// The response header in which the Hugging Face router names the provider that
/// served a call (read by Hugging Face's own chat-ui).
pub const PROVIDER_HEADER: &str = "x-inference-provider";

/// Which provider served a call, for pricing and the per-provider totals. The first
/// usable answer, in this order:
///
/// 1. the response header `x-inference-provider` (the router sets it, and it is the
///    truth even when a policy such as `:fastest` chose);
/// 2. a top-level string `provider` in the response body (`body` is the completion's
///    [`ChatCompletion::extra`]; OpenRouter-style servers send one);
/// 3. the `:provider` suffix of the model asked for (`model:together`; a policy suffix
///    names no provider);
/// 4. the URL: a Hugging Face router path `/{provider}/…` (as the official clients
///    call it, recorded in `tests/fixtures/router-recordings.json`), or the API host of
///    a provider called directly (`api.together.xyz`).
///
/// The recorded router responses in `tests/fixtures` keep only their rate-limit and
/// request-id headers and have no `provider` field; there the URL path is what names
/// the provider. Names are trimmed and lowercased; a value that is not a plausible name
/// (1-64 bytes of ASCII letters, digits, `-`, `_`, `.`) is skipped.
pub fn served_provider<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: Option<&Map<String, Value>>,
    model: Option<&str>,
    url: &str,
) -> Option<String> {
    for (name, value) in headers {
        if name.trim().eq_ignore_ascii_case(PROVIDER_HEADER) {
            if let Some(p) = provider_name(value) {
                return Some(p);
            }
        }
    }
    if let Some(Value::String(p)) = body.and_then(|b| b.get("provider")) {
        if let Some(p) = provider_name(p) {
            return Some(p);
        }
    }
    if let Some(m) = model {
        match split_model(m.trim()).1 {
            Suffix::Provider(p) => return Some(p.name.to_owned()),
            Suffix::Other(s) if !s.eq_ignore_ascii_case("auto") => {
                if let Some(p) = provider_name(s) {
                    return Some(p);
                }
            }
            Suffix::None | Suffix::Policy(_) | Suffix::Other(_) => {}
        }
    }
    provider_from_url(url)
}

fn provider_from_url(url: &str) -> Option<String> {
    let host = host_of(url)?;
    if is_hf_host(&host) {
        let rest = url.trim();
        let rest = rest
            .strip_prefix("https://")
            .or_else(|| rest.strip_prefix("http://"))?;
        let path = rest.get(crate::error::find_byte(rest, b'/')?..)?;
        let first = path.trim_start_matches('/');
        let first = first.get(..crate::providers::authority_end(first))?;
        return provider_info(first).map(|p| p.name.to_owned());
    }
    PROVIDERS
        .iter()
        .filter(|p| p.provider_keys)
        .find(|p| host_of(p.base_url).is_some_and(|h| h == host))
        .map(|p| p.name.to_owned())
}

/// `s` as a provider name (trimmed, lowercased), if it looks like one.
fn provider_name(s: &str) -> Option<String> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------

/// `usd` as `$1.50`, `$0.000123`: at least two decimals, at most six (rounded), without
/// the float formatting machinery. Non-finite or negative amounts read `$0.00`.
pub fn usd_text(usd: f64) -> String {
    let micros = if usd.is_finite() && usd > 0.0 {
        // `as` saturates; amounts beyond u64 micro-dollars are not a real budget.
        (usd * 1e6).round() as u64
    } else {
        0
    };
    let mut frac = (micros % 1_000_000).to_string();
    while frac.len() < 6 {
        frac.insert(0, '0');
    }
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    let mut out = String::from("$");
    out.push_str(&(micros / 1_000_000).to_string());
    out.push('.');
    out.push_str(&frac);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_text_rounds_to_micro_dollars() {
        assert_eq!(usd_text(1.5), "$1.50");
        assert_eq!(usd_text(0.000123), "$0.000123");
        assert_eq!(usd_text(12.0), "$12.00");
        assert_eq!(usd_text(0.1234567), "$0.123457");
        assert_eq!(usd_text(f64::NAN), "$0.00");
        assert_eq!(usd_text(-3.0), "$0.00");
        assert_eq!(usd_text(f64::INFINITY), "$0.00");
    }

    #[test]
    fn price_keys_lowercase_only_the_provider() {
        assert_eq!(
            normalize_price_key(" Org/M:Together ").as_deref(),
            Some("Org/M:together")
        );
        assert_eq!(normalize_price_key("org/m").as_deref(), Some("org/m"));
        assert_eq!(normalize_price_key("org/m:"), None);
        assert_eq!(normalize_price_key(":x"), None);
        assert_eq!(normalize_price_key("  "), None);
    }

    #[test]
    fn provider_names_are_checked() {
        assert_eq!(provider_name(" Together ").as_deref(), Some("together"));
        assert_eq!(provider_name("a b"), None);
        assert_eq!(provider_name(""), None);
        assert_eq!(provider_name(&"x".repeat(65)), None);
    }
}
