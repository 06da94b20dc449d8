//! Routing by difficulty: which model answers a request, from simple, inspectable
//! rules.
//!
//! Owns: the `route` option ([`Router::from_json`]: a list of `{ when?, model,
//! provider? }` rules, checked once, with `input` errors naming the rule index and
//! field), the facts a rule looks at ([`RequestFacts`]: estimated prompt tokens, tools,
//! the caller's tier), the choice ([`Router::choose`]: first match wins) and applying it
//! to a request body ([`apply_route`]). Must never: pick a model the caller did not list,
//! override a `model` the request names itself, read anything but the request and the
//! call's tier, or panic on any option or body.
//!
//! ## Rules
//!
//! ```json
//! [
//!   { "when": { "maxPromptTokens": 2000, "tools": false }, "model": "org/small" },
//!   { "when": { "tier": "pro" }, "model": "org/large", "provider": "together" },
//!   { "model": "org/medium" }
//! ]
//! ```
//!
//! A rule matches when every condition in its `when` holds:
//! - `maxPromptTokens: N`: the estimated prompt tokens are `<= N`;
//! - `minPromptTokens: N`: they are `>= N`;
//! - `tools: true|false`: the request has (or has not) a non-empty `tools` array;
//! - `tier: "name"`: the call's `tier` option is exactly `name` (a call with no tier
//!   matches no tier rule).
//!
//! The prompt estimate is [`crate::usage::estimate_prompt_tokens`] (UTF-8 bytes / 4
//! rounded up per message, plus 4 per message, plus 3; tools and `response_format`
//! count as their JSON text). A rule without `when` (or with `when: {}`) matches every
//! request: it is the default and must be the last rule (anywhere else it would hide
//! the rules after it, which is reported as an error). The first rule that matches
//! wins; its index and model are reported with the call's usage.
//!
//! A request that names its own `model` is sent as it is: the rules choose only for
//! requests without one.

use crate::json::{Map, Value};

use crate::error::{cut, Error};
use crate::usage::estimate_prompt_tokens;

/// Most rules a `route` may have.
pub const MAX_RULES: usize = 64;
/// Longest model id in a rule, in bytes.
const MAX_MODEL_BYTES: usize = 256;
/// Longest tier name, in bytes.
const MAX_TIER_BYTES: usize = 64;

/// The conditions of a rule; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    pub max_prompt_tokens: Option<u64>,
    pub min_prompt_tokens: Option<u64>,
    pub tools: Option<bool>,
    pub tier: Option<String>,
}

impl When {
    /// No condition: matches everything.
    pub fn is_empty(&self) -> bool {
        self.max_prompt_tokens.is_none()
            && self.min_prompt_tokens.is_none()
            && self.tools.is_none()
            && self.tier.is_none()
    }

    /// Every condition holds for `facts`.
    pub fn matches(&self, facts: &RequestFacts) -> bool {
        self.max_prompt_tokens
            .map_or(true, |n| facts.prompt_tokens <= n)
            && self
                .min_prompt_tokens
                .map_or(true, |n| facts.prompt_tokens >= n)
            && self.tools.map_or(true, |t| facts.has_tools == t)
            && self
                .tier
                .as_deref()
                .map_or(true, |t| facts.tier.as_deref() == Some(t))
    }
}

/// One rule of the `route` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Empty for the default rule.
    pub when: When,
    /// The model to use (a Hub id; may carry a `:provider` or `:policy` suffix when
    /// `provider` is not set).
    pub model: String,
    /// The provider to pin, sent as the router's `model:provider` suffix.
    pub provider: Option<String>,
}

impl RouteRule {
    /// The `model` to send: `model:provider` when a provider is set.
    pub fn model_string(&self) -> String {
        match &self.provider {
            Some(p) => {
                let mut s = String::with_capacity(self.model.len() + 1 + p.len());
                s.push_str(&self.model);
                s.push(':');
                s.push_str(p);
                s
            }
            None => self.model.clone(),
        }
    }
}

/// What the rules look at in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// [`estimate_prompt_tokens`] of the request.
    pub prompt_tokens: u64,
    /// The request has a non-empty `tools` array.
    pub has_tools: bool,
    /// The call's `tier` option.
    pub tier: Option<String>,
}

impl RequestFacts {
    /// The facts of a parsed request, with the call's `tier`.
    pub fn of_request(request: &Value, tier: Option<&str>) -> RequestFacts {
        RequestFacts {
            prompt_tokens: estimate_prompt_tokens(request),
            has_tools: matches!(request.get("tools"), Some(Value::Array(t)) if !t.is_empty()),
            tier: tier.map(str::to_owned),
        }
    }
}

/// The rule that chose a request's model, as reported with its usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The rule's index in `route`.
    pub index: usize,
    /// The model sent (`model:provider` when the rule pins a provider).
    pub model: String,
    /// The rule's provider, if it pins one.
    pub provider: Option<String>,
    /// The prompt estimate the rule was checked against.
    pub prompt_tokens: u64,
}

/// The checked `route` option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Router {
    rules: Vec<RouteRule>,
}

impl Router {
    /// Read the `route` option (JSON text of an array of rules). Errors are kind
    /// `input` and name the rule and field (``route[2].when.maxPromptTokens` must be a
    /// whole number ≥ 0``).
    pub fn from_json(json: &str) -> Result<Router, Error> {
        let v: Value = crate::json::parse(json)
            .map_err(|e| Error::input(format!("`route` is not valid JSON: {e}")))?;
        Router::from_value(&v)
    }

    /// [`Router::from_json`] of a parsed value.
    pub fn from_value(v: &Value) -> Result<Router, Error> {
        let Value::Array(items) = v else {
            return Err(Error::input(
                "`route` must be an array of rules such as [{\"when\": {\"maxPromptTokens\": 2000}, \"model\": \"org/small\"}, {\"model\": \"org/large\"}]",
            ));
        };
        let mut rules = Vec::with_capacity(items.len().min(MAX_RULES));
        for (i, item) in items.iter().enumerate() {
            if i >= MAX_RULES {
                return Err(Error::input(format!(
                    "`route` has {} rules; at most {MAX_RULES} are accepted",
                    items.len()
                )));
            }
            rules.push(read_rule(i, item)?);
        }
        Router::new(rules)
    }

    /// Check rules built in Rust: at least one, at most [`MAX_RULES`], each with a model
    /// and a well-formed provider, consistent bounds, and a default (empty `when`) only
    /// last.
    pub fn new(rules: Vec<RouteRule>) -> Result<Router, Error> {
        if rules.is_empty() {
            return Err(Error::input(
                "`route` must list at least one rule; leave it out to use the request's own `model`",
            ));
        }
        if rules.len() > MAX_RULES {
            return Err(Error::input(format!(
                "`route` has {} rules; at most {MAX_RULES} are accepted",
                rules.len()
            )));
        }
        let last = rules.len() - 1;
        for (i, r) in rules.iter().enumerate() {
            check_model(i, &r.model, r.provider.is_some())?;
            if let Some(p) = &r.provider {
                check_provider(i, p)?;
            }
            if let Some(t) = &r.when.tier {
                check_tier(i, t)?;
            }
            if let (Some(min), Some(max)) = (r.when.min_prompt_tokens, r.when.max_prompt_tokens) {
                if min > max {
                    return Err(rule_error(
                        i,
                        "when",
                        &format!(
                            "can never match: `minPromptTokens` ({min}) is above `maxPromptTokens` ({max})"
                        ),
                    ));
                }
            }
            if r.when.is_empty() && i != last {
                return Err(Error::input(format!(
                    "`route[{i}]` has no `when`, so it matches every request and the rules after it (route[{}]…) would never apply: move the default rule last",
                    i + 1
                )));
            }
        }
        Ok(Router { rules })
    }

    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }

    /// The first rule that matches `facts`, or `None` (no rule matched and there is no
    /// default).
    pub fn choose(&self, facts: &RequestFacts) -> Option<Chosen> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.when.matches(facts))
            .map(|(index, r)| Chosen {
                index,
                model: r.model_string(),
                provider: r.provider.clone(),
                prompt_tokens: facts.prompt_tokens,
            })
    }
}

/// What [`apply_route`] did to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// The request names its own `model`: sent unchanged, no rule reported.
    Explicit,
    /// A rule chose: send `body` (the request with `model` set) and report `choice`.
    Chosen { body: String, choice: Chosen },
}

/// Route a prepared request body (JSON text) by `router`, for a call with `tier`.
///
/// A request with a non-empty string `model` is [`Routed::Explicit`]. Otherwise the
/// first matching rule sets `model` (every other field is kept). No rule matching (and
/// no default rule) is an `input` error that says what the request looked like to the
/// rules, as is a body that is not a JSON object.
pub fn apply_route(body: &str, router: &Router, tier: Option<&str>) -> Result<Routed, Error> {
    let mut map: Map<String, Value> = match crate::json::parse(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(Error::input("the request to route is not a JSON object")),
    };
    if matches!(map.get("model"), Some(Value::String(m)) if !m.is_empty()) {
        return Ok(Routed::Explicit);
    }
    let request = Value::Object(map);
    let facts = RequestFacts::of_request(&request, tier);
    let Some(choice) = router.choose(&facts) else {
        let mut m = String::from("no `route` rule matched this request (about ");
        m.push_str(&facts.prompt_tokens.to_string());
        m.push_str(" prompt tokens, ");
        m.push_str(if facts.has_tools { "with" } else { "no" });
        m.push_str(" tools, ");
        match &facts.tier {
            Some(t) => {
                m.push_str("tier ");
                m.push_str(&format!("{:?}", cut(t, MAX_TIER_BYTES)));
            }
            None => m.push_str("no tier"),
        }
        m.push_str(") and it names no `model`: add a default rule (one without `when`) last, or pass `model`");
        return Err(Error::input(m));
    };
    map = match request {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("model".to_owned(), Value::String(choice.model.clone()));
    let body = Value::Object(map).to_text();
    Ok(Routed::Chosen { body, choice })
}

// ---------------------------------------------------------------------------------
// Reading and checking
// ---------------------------------------------------------------------------------

fn rule_error(i: usize, field: &str, what: &str) -> Error {
    let mut m = String::from("`route[");
    m.push_str(&i.to_string());
    m.push(']');
    if !field.is_empty() {
        m.push('.');
        m.push_str(field);
    }
    m.push_str("` ");
    m.push_str(what);
    Error::input(m)
}

fn read_rule(i: usize, item: &Value) -> Result<RouteRule, Error> {
    let Value::Object(rule) = item else {
        return Err(rule_error(
            i,
            "",
            "must be an object with `model` and optionally `when` and `provider`",
        ));
    };
    for key in rule.keys() {
        if !matches!(key.as_str(), "when" | "model" | "provider") {
            return Err(rule_error(
                i,
                cut(key, 40),
                "is not a rule field: use `when`, `model` and `provider`",
            ));
        }
    }
    let model = match rule.get("model") {
        Some(Value::String(m)) => m.trim().to_owned(),
        None | Some(Value::Null) => {
            return Err(rule_error(
                i,
                "model",
                "is required: the model this rule sends to",
            ))
        }
        Some(_) => return Err(rule_error(i, "model", "must be a string")),
    };
    let provider = match rule.get("provider") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.trim().to_owned()),
        Some(_) => return Err(rule_error(i, "provider", "must be a string")),
    };
    let when = match rule.get("when") {
        None | Some(Value::Null) => When::default(),
        Some(Value::Object(w)) => read_when(i, w)?,
        Some(_) => {
            return Err(rule_error(
                i,
                "when",
                "must be an object of conditions (`maxPromptTokens`, `minPromptTokens`, `tools`, `tier`)",
            ))
        }
    };
    Ok(RouteRule {
        when,
        model,
        provider,
    })
}

fn read_when(i: usize, w: &Map<String, Value>) -> Result<When, Error> {
    let mut when = When::default();
    for (key, v) in w {
        match key.as_str() {
            "maxPromptTokens" => when.max_prompt_tokens = whole(i, "when.maxPromptTokens", v)?,
            "minPromptTokens" => when.min_prompt_tokens = whole(i, "when.minPromptTokens", v)?,
            "tools" => {
                when.tools = match v {
                    Value::Null => None,
                    Value::Bool(b) => Some(*b),
                    _ => return Err(rule_error(i, "when.tools", "must be true or false")),
                }
            }
            "tier" => {
                when.tier = match v {
                    Value::Null => None,
                    Value::String(t) => Some(t.clone()),
                    _ => return Err(rule_error(i, "when.tier", "must be a string")),
                }
            }
            other => {
                let field = String::from("when.") + cut(other, 40);
                return Err(rule_error(
                    i,
                    &field,
                    "is not a condition: use `maxPromptTokens`, `minPromptTokens`, `tools` or `tier`",
                ));
            }
        }
    }
    Ok(when)
}

/// A whole number `>= 0` (`2000` or `2000.0`); `null` is unset.
fn whole(i: usize, field: &str, v: &Value) -> Result<Option<u64>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Ok(Some(u));
            }
            match n.as_f64() {
                Some(f) if f >= 0.0 && f.trunc() == f && f < u64::MAX as f64 => {
                    // Integral, non-negative and below u64::MAX: `as` is exact enough
                    // for a token count.
                    Ok(Some(f as u64))
                }
                _ => Err(rule_error(i, field, "must be a whole number >= 0")),
            }
        }
        _ => Err(rule_error(i, field, "must be a whole number >= 0")),
    }
}

fn check_model(i: usize, model: &str, has_provider: bool) -> Result<(), Error> {
    if model.is_empty() {
        return Err(rule_error(i, "model", "must not be empty"));
    }
    if model.len() > MAX_MODEL_BYTES || model.chars().any(char::is_control) {
        return Err(rule_error(
            i,
            "model",
            "must be a model id such as \"meta-llama/Llama-3.1-8B-Instruct\"",
        ));
    }
    if has_provider {
        if let Some((_, suffix)) = crate::error::rsplit_once(model, b':') {
            if !suffix.contains('/') {
                return Err(rule_error(
                    i,
                    "model",
                    "already has a `:suffix`; with `provider` set, give the model without it",
                ));
            }
        }
    }
    Ok(())
}

fn check_provider(i: usize, p: &str) -> Result<(), Error> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(rule_error(
            i,
            "provider",
            "must be a provider name such as \"together\" (lowercase letters, digits and `-`)",
        ))
    }
}

fn check_tier(i: usize, t: &str) -> Result<(), Error> {
    if t.is_empty() || t.len() > MAX_TIER_BYTES {
        Err(rule_error(
            i,
            "when.tier",
            "must be a non-empty string of at most 64 bytes",
        ))
    } else {
        Ok(())
    }
}
