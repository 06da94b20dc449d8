//! One structured log line per request, and the usage of a stream's final chunk.
//!
//! The line is JSON with bounded fields. It has no field for a token or a key, logs the
//! route rather than the raw path (a query string could carry anything), and carries
//! message content only when [`super::ProxyOptions::log_content`] is on.

use super::{ProxyOptions, Reason, Route};
use crate::error::cut;
use crate::json::ObjectText;
use crate::json::Value;
use crate::types::Usage;

const MAX_FIELD_BYTES: usize = 256;
/// Longest content kept in a log line (when content logging is on).
pub const MAX_LOGGED_CONTENT_BYTES: usize = 16 * 1024;

/// What happened to one request. The shell fills it in when the response ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogRecord<'a> {
    /// The client's `x-request-id` or one the shell made.
    pub request_id: &'a str,
    pub method: &'a str,
    /// The request path; only the route it names is logged.
    pub path: &'a str,
    pub origin: Option<&'a str>,
    /// The model sent upstream ([`super::Forward::model`]).
    pub model: Option<&'a str>,
    /// The status sent to the client.
    pub status: u16,
    /// Why the proxy refused or failed, when it did.
    pub reason: Option<Reason>,
    /// From request to the end of the response.
    pub latency_ms: f64,
    /// From request to the first body byte sent, for a forwarded request.
    pub first_byte_ms: Option<f64>,
    /// Token usage, from [`usage_from_chunk`] or a non-stream body.
    pub usage: Option<&'a Usage>,
    /// The usage is the proxy's estimate (the upstream sent none, or the client left
    /// early), not the upstream's count.
    pub usage_estimated: bool,
    /// The upstream's own `x-request-id`, when it sent one.
    pub upstream_request_id: Option<&'a str>,
    /// Message content; dropped unless content logging is on.
    pub content: Option<&'a str>,
}

/// The log line (one line of JSON, no trailing newline).
pub fn log_line(record: &LogRecord<'_>, opts: &ProxyOptions) -> String {
    fn text(s: &str) -> &str {
        cut(s, MAX_FIELD_BYTES)
    }
    let ms = |v: f64| (v.is_finite() && v >= 0.0).then(|| v.round() as u64);
    let usage = record.usage;
    let count = |n: fn(&Usage) -> Option<u64>| usage.map(n);
    // Members in key order, as the `Map` this was once printed from sorted them.
    let mut line = ObjectText::new();
    line.string_or_null("code", record.reason.map(Reason::code));
    if let Some(n) = count(|u| u.completion_tokens) {
        line.number_or_null("completion_tokens", n);
    }
    if let Some(c) = record.content.filter(|_| opts.log_content) {
        line.string("content", cut(c, MAX_LOGGED_CONTENT_BYTES));
    }
    line.string("event", "proxy_request")
        .number_or_null("first_byte_ms", record.first_byte_ms.and_then(ms))
        .number_or_null("latency_ms", ms(record.latency_ms))
        .string("method", text(record.method))
        .string_or_null("model", record.model.map(text))
        .string_or_null("origin", record.origin.map(text));
    if let Some(n) = count(|u| u.prompt_tokens) {
        line.number_or_null("prompt_tokens", n);
    }
    line.string("request_id", text(record.request_id))
        .string(
            "route",
            Route::from_path(record.path).map_or("other", Route::path),
        )
        .number("status", u64::from(record.status));
    if let Some(n) = count(|u| u.total_tokens) {
        line.number_or_null("total_tokens", n);
    }
    if let Some(id) = record.upstream_request_id {
        line.string("upstream_request_id", text(id));
    }
    if usage.is_some() {
        line.raw(
            "usage_estimated",
            if record.usage_estimated {
                "true"
            } else {
                "false"
            },
        );
    }
    line.end()
}

/// The usage in one SSE `data` payload of a chat stream (OpenAI sends it in the last
/// chunk, with `stream_options.include_usage`; TGI and many providers always do).
/// `None` for `[DONE]`, other chunks, `"usage": null` or a usage without counts. Cheap
/// on the chunks without usage: they are not parsed.
pub fn usage_from_chunk(data: &str) -> Option<Usage> {
    if !data.contains("\"usage\"") {
        return None;
    }
    let value: Value = crate::json::parse(data).ok()?;
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let usage = Usage::from_json(usage.clone()).ok()?;
    (usage.prompt_tokens.is_some()
        || usage.completion_tokens.is_some()
        || usage.total_tokens.is_some())
    .then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_only_from_chunks_that_carry_it() {
        let u = usage_from_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        );
        assert_eq!(u.as_ref().and_then(|u| u.total_tokens), Some(8));
        assert_eq!(usage_from_chunk("[DONE]"), None);
        assert_eq!(
            usage_from_chunk(r#"{"choices":[{"delta":{"content":"hi"}}]}"#),
            None
        );
        assert_eq!(usage_from_chunk(r#"{"usage":null}"#), None);
        assert_eq!(usage_from_chunk(r#"{"usage":{}}"#), None);
        assert_eq!(usage_from_chunk(r#"{"usage":{"total_tokens":"#), None);
        // The word in content is not usage.
        assert_eq!(
            usage_from_chunk(r#"{"choices":[{"delta":{"content":"\"usage\""}}]}"#),
            None
        );
    }

    #[test]
    fn log_line_logs_the_route_not_the_query() {
        let line = log_line(
            &LogRecord {
                path: "/v1/models?key=hunter2",
                ..LogRecord::default()
            },
            &ProxyOptions::default(),
        );
        assert!(line.contains(r#""route":"/v1/models""#), "{line}");
        assert!(!line.contains("hunter2"));
    }

    #[test]
    fn log_line_is_one_line_and_bounded() {
        let long = "x\n".repeat(10_000);
        let line = log_line(
            &LogRecord {
                request_id: &long,
                content: Some(&long),
                ..LogRecord::default()
            },
            &ProxyOptions {
                log_content: true,
                ..ProxyOptions::default()
            },
        );
        assert!(!line.contains('\n'));
        assert!(line.len() < MAX_LOGGED_CONTENT_BYTES * 2 + 1024);
    }
}

/// The line against the one printed from a `serde_json` map before it was written
/// straight to text: the same bytes, for any record.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod map_parity {
    use super::*;
    use crate::json::Map;
    use proptest::prelude::*;

    fn old_log_line(record: &LogRecord<'_>, opts: &ProxyOptions) -> String {
        let mut m = Map::new();
        let text = |s: &str| Value::String(cut(s, MAX_FIELD_BYTES).to_owned());
        let ms = |v: f64| {
            if v.is_finite() && v >= 0.0 {
                Value::from(v.round() as u64)
            } else {
                Value::Null
            }
        };
        m.insert("event".into(), "proxy_request".into());
        m.insert("request_id".into(), text(record.request_id));
        m.insert("method".into(), text(record.method));
        m.insert(
            "route".into(),
            Route::from_path(record.path)
                .map_or("other", Route::path)
                .into(),
        );
        m.insert("origin".into(), record.origin.map_or(Value::Null, text));
        m.insert("model".into(), record.model.map_or(Value::Null, text));
        m.insert("status".into(), record.status.into());
        m.insert(
            "code".into(),
            record.reason.map_or(Value::Null, |r| r.code().into()),
        );
        m.insert("latency_ms".into(), ms(record.latency_ms));
        m.insert(
            "first_byte_ms".into(),
            record.first_byte_ms.map_or(Value::Null, ms),
        );
        if let Some(u) = record.usage {
            let n = |v: Option<u64>| v.map_or(Value::Null, Value::from);
            m.insert("prompt_tokens".into(), n(u.prompt_tokens));
            m.insert("completion_tokens".into(), n(u.completion_tokens));
            m.insert("total_tokens".into(), n(u.total_tokens));
            m.insert("usage_estimated".into(), record.usage_estimated.into());
        }
        if let Some(id) = record.upstream_request_id {
            m.insert("upstream_request_id".into(), text(id));
        }
        if opts.log_content {
            if let Some(c) = record.content {
                m.insert(
                    "content".into(),
                    cut(c, MAX_LOGGED_CONTENT_BYTES).to_owned().into(),
                );
            }
        }
        crate::json::to_text(&Value::Object(m))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z/?\"\\\\\u{0}-\u{1f}\u{7f}\u{e9}\u{2028}\u{1F600}]{0,12}",
            Just("x".repeat(300)),
        ]
    }

    fn ms() -> impl Strategy<Value = f64> {
        prop_oneof![
            0.0f64..1e7,
            Just(f64::NAN),
            Just(-1.0),
            Just(f64::INFINITY),
            Just(1e30)
        ]
    }

    proptest! {
        #[test]
        fn the_line_is_the_one_the_map_printed(
            (id, method, origin, model, upstream, content) in
                (text(), text(), proptest::option::of(text()), proptest::option::of(text()),
                 proptest::option::of(text()), proptest::option::of(text())),
            path in prop_oneof![Just("/v1/chat/completions?x"), Just("/nope"), Just("/health")],
            status in any::<u16>(),
            reason in proptest::option::of(prop_oneof![
                Just(Reason::RateLimited), Just(Reason::UpstreamTimeout)
            ]),
            (latency, first) in (ms(), proptest::option::of(ms())),
            usage in proptest::option::of((
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u64>()),
            )),
            (estimated, log_content) in (any::<bool>(), any::<bool>()),
        ) {
            let usage = usage.map(|(p, c, t)| Usage {
                prompt_tokens: p,
                completion_tokens: c,
                total_tokens: t,
                ..Usage::default()
            });
            let record = LogRecord {
                request_id: &id,
                method: &method,
                path,
                origin: origin.as_deref(),
                model: model.as_deref(),
                status,
                reason,
                latency_ms: latency,
                first_byte_ms: first,
                usage: usage.as_ref(),
                usage_estimated: estimated,
                upstream_request_id: upstream.as_deref(),
                content: content.as_deref(),
            };
            let opts = ProxyOptions { log_content, ..ProxyOptions::default() };
            prop_assert_eq!(log_line(&record, &opts), old_log_line(&record, &opts));
        }
    }
}
