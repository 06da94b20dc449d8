//! The chat request body: validated against the policy and rewritten before it goes
//! upstream.
//!
//! The body is parsed once and re-serialized, so the upstream sees exactly what was
//! checked (a duplicated `"model"` key cannot mean one thing here and another there).

use super::{refuse, upstream_url, AllowList, MaxTokensMode, ProxyOptions, Reason, Respond, Route};
use crate::error::cut;
use crate::json::{Map, Value};

/// Fields that name a place to send the request. The proxy never honours them (the URL
/// is fixed by configuration) and does not forward them either.
const URL_FIELDS: [&str; 10] = [
    "url",
    "base_url",
    "baseURL",
    "baseUrl",
    "endpoint",
    "endpoint_url",
    "endpointUrl",
    "api_base",
    "host",
    "upstream",
];

/// Longest model id accepted (`org/name:provider`).
const MAX_MODEL_BYTES: usize = 200;
/// Longest provider name accepted.
const MAX_PROVIDER_BYTES: usize = 64;
/// Allowed models quoted in a refusal, at most.
const MAX_LISTED_MODELS: usize = 10;

/// A chat request that passed every check: send `body` to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Always `{upstream}/v1/chat/completions`.
    pub url: String,
    /// The rewritten JSON body.
    pub body: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The model sent upstream (the allow-list's spelling, provider pinned if needed).
    pub model: String,
    /// The `max_tokens` sent upstream, when there is one.
    pub max_tokens: Option<u64>,
    /// The proxy asked for `stream_options.include_usage` on the client's behalf: take
    /// the usage-only chunk (`"choices": []`) out of the stream on the way back
    /// ([`super::StreamRelay`]).
    pub strip_usage: bool,
    /// The request's estimated prompt tokens (`crate::usage::estimate_prompt_tokens`),
    /// for the usage record when the upstream reports none.
    pub prompt_tokens_estimate: u64,
}

/// Check and rewrite a chat request body (what the shell read after
/// [`super::Decision::ReadBody`]). `Err` is the refusal to send:
///
/// - more than `max_body_bytes` → 413;
/// - empty, not JSON, not an object → 400 naming the problem;
/// - `messages` missing, empty, not an array of objects with a string `role` → 400
///   naming the field; `model` missing or not a string → 400; `stream` not a boolean,
///   `max_tokens` / `max_completion_tokens` / `n` not non-negative integers → 400;
/// - model not allowed → 403, provider not allowed → 403 (see [`resolve_model`]);
/// - `max_tokens` (or `max_completion_tokens`) over the cap → lowered to it, or 400 in
///   [`MaxTokensMode::Reject`]; neither set → `max_tokens` set to
///   [`ProxyOptions::default_max_tokens`] when there is one (default: left unset);
/// - a stream without `stream_options.include_usage: true` gets it when
///   [`ProxyOptions::stream_usage`] is on, and [`Forward::strip_usage`] says so;
/// - `n` over `max_choices` → 400.
///
/// URL-like fields (`url`, `base_url`, `endpoint`, ...) are dropped; every other field
/// passes through unchanged.
pub fn check_chat_body(
    body: &[u8],
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Result<Forward, Respond> {
    check_chat(body, opts).map_err(|(reason, message)| refuse(reason, &message, origin, opts))
}

fn check_chat(body: &[u8], opts: &ProxyOptions) -> Result<Forward, (Reason, String)> {
    let bad = |m: &str| (Reason::InvalidRequest, m.to_owned());
    if body.len() > opts.max_body_bytes {
        return Err((
            Reason::BodyTooLarge,
            format!(
                "the request body is larger than {} bytes, the most this proxy accepts",
                opts.max_body_bytes
            ),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err((
            Reason::InvalidJson,
            "the request body is empty: send a JSON chat request with `model` and `messages`"
                .to_owned(),
        ));
    }
    let value: Value = crate::json::parse_bytes(body).map_err(|e| {
        (
            Reason::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(bad(
            "the request body must be a JSON object with `model` and `messages`",
        ));
    };

    check_messages(&map).map_err(|m| bad(&m))?;

    let requested = match map.get("model") {
        Some(Value::String(m)) => m.clone(),
        None | Some(Value::Null) => {
            return Err(bad(
                "`model` is required: GET /v1/models lists the models this proxy allows",
            ))
        }
        Some(_) => return Err(bad("`model` must be a string such as \"org/name\"")),
    };
    let model = resolve_model(&requested, opts)?;
    map.insert("model".to_owned(), Value::String(model.clone()));

    let stream = match map.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("`stream` must be true or false")),
    };

    let max_tokens = cap_max_tokens(&mut map, opts)?;
    let strip_usage = stream && opts.stream_usage && ask_for_usage(&mut map);

    match map.get("n") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64() {
            None => return Err(bad("`n` must be a positive integer")),
            Some(n) if n > u64::from(opts.max_choices) => {
                return Err((
                    Reason::TooManyChoices,
                    format!(
                        "`n` is {n}; this proxy allows at most {} choice(s) per request",
                        opts.max_choices
                    ),
                ))
            }
            Some(_) => {}
        },
    }

    for field in URL_FIELDS {
        map.remove(field);
    }

    let value = Value::Object(map);
    let prompt_tokens_estimate = crate::usage::estimate_prompt_tokens(&value);
    let body = value.to_text();
    Ok(Forward {
        url: upstream_url(opts, Route::ChatCompletions),
        body,
        stream,
        model,
        max_tokens,
        strip_usage,
        prompt_tokens_estimate,
    })
}

/// Set `stream_options.include_usage: true` unless the client already asked; `true`
/// when it was added (so the client's stream must not show the extra chunk). A
/// `stream_options` that is not an object is left as the client sent it.
fn ask_for_usage(map: &mut Map<String, Value>) -> bool {
    let options = map.or_insert_with("stream_options", || Value::Object(Map::new()));
    if options.is_null() {
        *options = Value::Object(Map::new());
    }
    let Some(options) = options.as_object_mut() else {
        return false;
    };
    if options.get("include_usage") == Some(&Value::Bool(true)) {
        return false;
    }
    options.insert("include_usage".to_owned(), Value::Bool(true));
    true
}

/// The same rules, in the same words, as `types::prepare_chat_body`.
fn check_messages(map: &Map<String, Value>) -> Result<(), String> {
    match map.get("messages") {
        None | Some(Value::Null) => Err(
            "`messages` is required: pass an array such as [{\"role\": \"user\", \"content\": \"Hello\"}]"
                .to_owned(),
        ),
        Some(Value::Array(messages)) => {
            if messages.is_empty() {
                return Err("`messages` must not be empty: pass at least one message".to_owned());
            }
            for (i, m) in messages.iter().enumerate() {
                let Value::Object(m) = m else {
                    return Err(format!(
                        "`messages[{i}]` must be an object with `role` and `content`"
                    ));
                };
                if !matches!(m.get("role"), Some(Value::String(_))) {
                    return Err(format!(
                        "`messages[{i}].role` must be a string such as \"user\", \"assistant\" or \"system\""
                    ));
                }
            }
            Ok(())
        }
        Some(_) => Err(
            "`messages` must be an array of message objects, e.g. [{\"role\": \"user\", \"content\": \"Hello\"}]"
                .to_owned(),
        ),
    }
}

/// Apply the cap to `max_tokens` and `max_completion_tokens`; insert `max_tokens` when
/// neither is set. Returns the value the upstream will see.
fn cap_max_tokens(
    map: &mut Map<String, Value>,
    opts: &ProxyOptions,
) -> Result<Option<u64>, (Reason, String)> {
    let cap = opts.max_tokens_cap.map(u64::from);
    let mut seen: Option<u64> = None;
    for field in ["max_tokens", "max_completion_tokens"] {
        let Some(v) = map.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(n) = v.as_u64() else {
            return Err((
                Reason::InvalidRequest,
                format!("`{field}` must be a non-negative integer"),
            ));
        };
        let sent = match cap {
            Some(c) if n > c => match opts.max_tokens_mode {
                MaxTokensMode::Clamp => {
                    map.insert(field.to_owned(), Value::from(c));
                    c
                }
                MaxTokensMode::Reject => {
                    return Err((
                        Reason::MaxTokensTooLarge,
                        format!("`{field}` is {n}; this proxy allows at most {c}"),
                    ))
                }
            },
            _ => n,
        };
        seen = Some(seen.map_or(sent, |s| s.min(sent)));
    }
    if seen.is_none() {
        if let Some(d) = opts.default_max_tokens.map(u64::from) {
            let d = cap.map_or(d, |c| d.min(c));
            map.insert("max_tokens".to_owned(), Value::from(d));
            return Ok(Some(d));
        }
    }
    Ok(seen)
}

/// A model id as accepted here: 1 to 200 bytes of ASCII letters, digits and
/// `-_./:@+~=`; no `:` at either end, no `://`, no empty `/` segment and no `.`/`..`
/// segment. That takes every id in use (`org/name:provider`,
/// `qwen2.5:7b-instruct-q4_K_M`, `@cf/meta/llama-3.1-8b-instruct`,
/// `ft:gpt-4o-mini-2024-07-18:my-org::9abcDEF`, `mistral-large@2407`) and nothing that
/// looks like a URL or a path escape. The id only ever travels in the JSON body.
pub(crate) fn is_model_syntax(m: &str) -> bool {
    m.len() <= MAX_MODEL_BYTES
        && !m.is_empty()
        && !m.starts_with(':')
        && !m.ends_with(':')
        && !crate::error::contains(m, "://")
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@+~=".contains(&b))
        && m.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// A provider or routing policy name: ASCII letters, digits, `-`, `_`.
pub(crate) fn is_provider_syntax(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PROVIDER_BYTES
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `org/name:provider` → (`org/name`, `Some("provider")`): the suffix after the last
/// `:` when it reads as a provider name and something precedes it.
fn split_model(m: &str) -> (&str, Option<&str>) {
    match m.rsplit_once(':') {
        Some((base, suffix)) if !base.is_empty() && is_provider_syntax(suffix) => {
            (base, Some(suffix))
        }
        _ => (m, None),
    }
}

/// The model to send upstream for the one a client `requested`, or the refusal.
///
/// - The id must be well formed (400).
/// - With any model and any provider allowed, the id is sent exactly as written (case
///   included: `…q4_K_M` is not `…q4_k_m` to Ollama).
/// - An entry with a `:` suffix equal to the whole id (any case) allows it as the entry
///   spells it.
/// - `allowed_models`: an entry `org/name` allows that model with any provider the
///   provider list allows; an entry `org/name:p` allows it with provider `p` only, and
///   pins `p` when the client names no provider. Anything else is 403. Model ids compare
///   case-insensitively and the allow-list's spelling is sent.
/// - `allowed_providers` (unless the model entry named the provider): a named provider
///   must be on it (403); with none named and a restricted list, the first provider on
///   it is pinned.
pub fn resolve_model(requested: &str, opts: &ProxyOptions) -> Result<String, (Reason, String)> {
    if !is_model_syntax(requested) {
        return Err((
            Reason::InvalidRequest,
            format!(
                "`model` must be a model id like \"org/name\" or \"org/name:provider\", got {:?}",
                cut(requested, 100)
            ),
        ));
    }
    if opts.allowed_models == AllowList::Any && opts.allowed_providers == AllowList::Any {
        return Ok(requested.to_owned());
    }
    if let AllowList::Only(list) = &opts.allowed_models {
        // An entry naming its provider (or tag) allows exactly that id; the provider
        // list does not apply to it.
        if let Some(e) = list
            .iter()
            .find(|e| e.eq_ignore_ascii_case(requested) && split_model(e).1.is_some())
        {
            return Ok(e.clone());
        }
    }
    let (base, suffix) = split_model(requested);
    let suffix = suffix.map(str::to_owned);

    let (base, suffix, entry_named_provider) = match &opts.allowed_models {
        AllowList::Any => (base.to_owned(), suffix, false),
        AllowList::Only(list) => {
            // The first entry for `base` naming the requested provider, the first naming
            // none, and the first naming one: one pass, no list of split entries.
            let (mut exact, mut bare, mut pinned) = (None, None, None);
            for e in list {
                let e = split_model(e);
                if !e.0.eq_ignore_ascii_case(base) {
                    continue;
                }
                match (e.1, &suffix) {
                    (None, _) => {
                        bare.get_or_insert(e);
                    }
                    (Some(es), s) => {
                        if s.as_deref().is_some_and(|s| es.eq_ignore_ascii_case(s)) {
                            exact.get_or_insert(e);
                        }
                        pinned.get_or_insert(e);
                    }
                }
            }
            match (exact, bare, pinned, &suffix) {
                (Some(e), _, _, _) => (e.0.to_owned(), suffix, true),
                (None, Some(e), _, _) => (e.0.to_owned(), suffix, false),
                (None, None, Some(e), None) => (e.0.to_owned(), e.1.map(str::to_owned), true),
                (None, None, Some(_), Some(s)) => {
                    return Err((
                        Reason::ProviderNotAllowed,
                        format!(
                            "provider {:?} is not allowed for model {:?} by this proxy",
                            cut(s, 64),
                            cut(base, 100)
                        ),
                    ))
                }
                (None, None, None, _) => {
                    return Err((Reason::ModelNotAllowed, model_refusal(requested, list)))
                }
            }
        }
    };

    let suffix =
        if entry_named_provider {
            suffix
        } else {
            match (suffix, &opts.allowed_providers) {
                (Some(s), providers) if providers.allows(&s) => Some(s),
                (Some(s), _) => {
                    return Err((
                        Reason::ProviderNotAllowed,
                        format!("provider {:?} is not allowed by this proxy", cut(&s, 64)),
                    ))
                }
                (None, AllowList::Any) => None,
                (None, AllowList::Only(list)) => match list.first() {
                    Some(p) => Some(p.clone()),
                    None => return Err((
                        Reason::ProviderNotAllowed,
                        "this proxy allows no providers: its operator must set `allowedProviders`"
                            .to_owned(),
                    )),
                },
            }
        };
    Ok(match suffix {
        Some(s) => format!("{base}:{s}"),
        None => base,
    })
}

fn model_refusal(requested: &str, list: &[String]) -> String {
    if list.is_empty() {
        return "this proxy allows no models yet: its operator must set `allowedModels`".to_owned();
    }
    // Pushed, not `join`ed: the proxy's only `join` would compile the join code for it.
    let mut shown = String::new();
    for (i, m) in list.iter().take(MAX_LISTED_MODELS).enumerate() {
        if i > 0 {
            shown.push_str(", ");
        }
        shown.push_str(m);
    }
    let more = if list.len() > MAX_LISTED_MODELS {
        ", ..."
    } else {
        ""
    };
    format!(
        "model {:?} is not allowed by this proxy; allowed: {}{more}",
        cut(requested, 100),
        shown
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(models: &[&str], providers: &[&str]) -> ProxyOptions {
        ProxyOptions {
            allowed_models: AllowList::from_entries(models),
            allowed_providers: if providers.is_empty() {
                AllowList::Any
            } else {
                AllowList::from_entries(providers)
            },
            ..ProxyOptions::default()
        }
    }

    fn resolved(models: &[&str], providers: &[&str], requested: &str) -> Result<String, Reason> {
        resolve_model(requested, &opts(models, providers)).map_err(|(r, _)| r)
    }

    #[test]
    fn model_syntax() {
        for ok in [
            "a",
            "org/name",
            "org/name-1.5_x",
            "org/name:together",
            "a/b/c",
        ] {
            assert!(is_model_syntax(ok), "{ok}");
        }
        for ok in [
            "qwen2.5:7b-instruct-q4_K_M",
            "@cf/meta/llama-3.1-8b-instruct",
            "ft:gpt-4o-mini-2024-07-18:my-org::9abcDEF",
            "mistral-large@2407",
        ] {
            assert!(is_model_syntax(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/./b", "a:", ":p", "a b", "a/b?x", "http://x",
            "a\u{e9}", "a\"b", "a\nb",
        ] {
            assert!(!is_model_syntax(bad), "{bad}");
        }
        assert!(!is_model_syntax(&"a".repeat(MAX_MODEL_BYTES + 1)));
    }

    #[test]
    fn bare_entry_allows_any_allowed_provider() {
        assert_eq!(resolved(&["org/m"], &[], "org/m"), Ok("org/m".into()));
        assert_eq!(
            resolved(&["org/m"], &[], "ORG/M:together"),
            Ok("org/m:together".into())
        );
        assert_eq!(
            resolved(&["org/m"], &["groq"], "org/m:together"),
            Err(Reason::ProviderNotAllowed)
        );
        assert_eq!(
            resolved(&["org/m"], &["groq"], "org/m"),
            Ok("org/m:groq".into())
        );
    }

    #[test]
    fn provider_entry_pins_and_restricts() {
        assert_eq!(
            resolved(&["org/m:groq"], &[], "org/m"),
            Ok("org/m:groq".into())
        );
        assert_eq!(
            resolved(&["org/m:groq"], &[], "org/m:groq"),
            Ok("org/m:groq".into())
        );
        assert_eq!(
            resolved(&["org/m:groq"], &[], "org/m:together"),
            Err(Reason::ProviderNotAllowed)
        );
        // The operator named the provider with the model: the provider list does not apply.
        assert_eq!(
            resolved(&["org/m:groq"], &["together"], "org/m"),
            Ok("org/m:groq".into())
        );
    }

    #[test]
    fn unknown_model_is_refused_and_empty_list_says_what_to_do() {
        assert_eq!(
            resolved(&["org/m"], &[], "org/other"),
            Err(Reason::ModelNotAllowed)
        );
        let (_, msg) = resolve_model("org/m", &ProxyOptions::default())
            .err()
            .unwrap_or((Reason::InvalidJson, String::new()));
        assert!(msg.contains("allowedModels"), "{msg}");
    }

    #[test]
    fn empty_provider_list_refuses_unpinned_models() {
        let o = ProxyOptions {
            allowed_models: AllowList::Any,
            allowed_providers: AllowList::Only(vec![]),
            ..ProxyOptions::default()
        };
        assert_eq!(
            resolve_model("org/m", &o).map_err(|(r, _)| r),
            Err(Reason::ProviderNotAllowed)
        );
    }

    #[test]
    fn refusal_names_the_allowed_models_comma_separated() {
        let list = vec!["org/a".to_owned(), "org/b:together".to_owned()];
        assert_eq!(
            model_refusal("org/c", &list),
            "model \"org/c\" is not allowed by this proxy; allowed: org/a, org/b:together"
        );
    }

    #[test]
    fn refusal_lists_a_bounded_number_of_models() {
        let list: Vec<String> = (0..50).map(|i| format!("org/m{i}")).collect();
        let msg = model_refusal("x", &list);
        assert!(msg.ends_with(", ..."), "{msg}");
        assert!(!msg.contains("org/m10"));
    }

    #[test]
    fn both_token_fields_are_capped() {
        let o = opts(&["*"], &[]);
        let f = check_chat(
            br#"{"model":"m","messages":[{"role":"user"}],"max_tokens":9000,"max_completion_tokens":100}"#,
            &o,
        );
        let f = f.unwrap_or_else(|e| panic!("{e:?}"));
        let v: Value = serde_json::from_str(&f.body).unwrap_or_default();
        assert_eq!(v["max_tokens"], 4096);
        assert_eq!(v["max_completion_tokens"], 100);
        assert_eq!(f.max_tokens, Some(100));
    }
}
