//! What the proxy answers by itself: the closed set of refusal [`Reason`]s with their
//! status, OpenAI error `type` and `code`; the [`Respond`] value; and the builders for
//! refusals, session answers and rewritten upstream errors.
//!
//! Must never: put a secret in a body or header. Refusal messages quote client input
//! only where it helps (a model id), cut short; upstream error bodies are redacted.

use super::{cors_headers, headers, ProxyOptions};
use crate::error::cut;
use crate::json::ObjectText;
use crate::json::Value;

/// Why a request was refused (or failed upstream): status, OpenAI error `type` and
/// `code` in one closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    UnknownRoute,
    MethodNotAllowed,
    OriginNotAllowed,
    MissingCredentials,
    InvalidProxyKey,
    InvalidSession,
    SessionExpired,
    SessionMismatch,
    RateLimited,
    BodyTooLarge,
    InvalidJson,
    InvalidRequest,
    ModelNotAllowed,
    ProviderNotAllowed,
    MaxTokensTooLarge,
    TooManyChoices,
    UpstreamAuth,
    UpstreamUnreachable,
    UpstreamInvalid,
    UpstreamTimeout,
    Misconfigured,
    /// A `budget` cap is spent (429 until its window resets).
    BudgetExhausted,
    /// The shared state (`durableState`) did not answer in time: fail closed (503).
    StateUnavailable,
}

impl Reason {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Reason::InvalidJson
            | Reason::InvalidRequest
            | Reason::MaxTokensTooLarge
            | Reason::TooManyChoices => 400,
            Reason::MissingCredentials
            | Reason::InvalidProxyKey
            | Reason::InvalidSession
            | Reason::SessionExpired
            | Reason::SessionMismatch => 401,
            Reason::OriginNotAllowed | Reason::ModelNotAllowed | Reason::ProviderNotAllowed => 403,
            Reason::UnknownRoute => 404,
            Reason::MethodNotAllowed => 405,
            Reason::BodyTooLarge => 413,
            Reason::RateLimited | Reason::BudgetExhausted => 429,
            Reason::Misconfigured => 500,
            Reason::StateUnavailable => 503,
            Reason::UpstreamAuth | Reason::UpstreamUnreachable | Reason::UpstreamInvalid => 502,
            Reason::UpstreamTimeout => 504,
        }
    }

    /// The OpenAI-style `error.type`.
    pub fn error_type(self) -> &'static str {
        if self == Reason::BudgetExhausted {
            // OpenAI's type for "out of credits": clients do not retry it.
            return "insufficient_quota";
        }
        match self.status() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            500..=599 => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// The `x-should-retry` verdict sent with this reason, when it has one. `false` for
    /// failures a retry cannot fix and would only repeat upstream: the upstream refused
    /// the proxy's token, answered something the proxy does not pass on, or did not answer
    /// within the proxy's (long) bound; and the proxy's own misconfiguration. The
    /// `openai` SDKs and this crate's client honour the header over the status (a 502 or
    /// 504 is otherwise retried). 4xx refusals need none: no client retries them.
    pub fn should_retry(self) -> Option<bool> {
        match self {
            Reason::UpstreamAuth
            | Reason::UpstreamInvalid
            | Reason::UpstreamTimeout
            | Reason::Misconfigured => Some(false),
            _ => None,
        }
    }

    /// The machine-readable `error.code`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::UnknownRoute => "unknown_route",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::OriginNotAllowed => "origin_not_allowed",
            Reason::MissingCredentials => "missing_credentials",
            Reason::InvalidProxyKey => "invalid_proxy_key",
            Reason::InvalidSession => "invalid_session",
            Reason::SessionExpired => "session_expired",
            Reason::SessionMismatch => "session_mismatch",
            Reason::RateLimited => "rate_limited",
            Reason::BodyTooLarge => "body_too_large",
            Reason::InvalidJson => "invalid_json",
            Reason::InvalidRequest => "invalid_request",
            Reason::ModelNotAllowed => "model_not_allowed",
            Reason::ProviderNotAllowed => "provider_not_allowed",
            Reason::MaxTokensTooLarge => "max_tokens_too_large",
            Reason::TooManyChoices => "too_many_choices",
            Reason::UpstreamAuth => "upstream_auth_failed",
            Reason::UpstreamUnreachable => "upstream_unreachable",
            Reason::UpstreamInvalid => "upstream_invalid_response",
            Reason::UpstreamTimeout => "upstream_timeout",
            Reason::Misconfigured => "proxy_misconfigured",
            Reason::BudgetExhausted => "budget_exhausted",
            Reason::StateUnavailable => "proxy_state_unavailable",
        }
    }
}

/// A complete response the shell sends as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respond {
    pub status: u16,
    /// Names lowercase.
    pub headers: Vec<(String, String)>,
    /// JSON text (empty for a 204).
    pub body: String,
    /// Why, when this is a refusal or an error.
    pub reason: Option<Reason>,
}

impl Respond {
    /// The value of header `name` (lowercase), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::get(&self.headers, name)
    }
}

pub(super) fn session_message(reason: Reason) -> &'static str {
    match reason {
        Reason::SessionExpired => "the session token has expired: get a new one from GET /session",
        Reason::SessionMismatch => {
            "the session token was issued to another origin or client: get a new one from GET /session"
        }
        _ => "the session token is not valid: get a new one from GET /session",
    }
}

/// A JSON response with the proxy's standard headers (and CORS ones for an allowed
/// origin).
pub(super) fn reply(
    status: u16,
    body: String,
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Respond {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
        ("x-content-type-options".to_owned(), "nosniff".to_owned()),
    ];
    headers.extend(cors_headers(origin, opts));
    Respond {
        status,
        headers,
        body,
        reason: None,
    }
}

/// `{"error": {"code", "message", "param", "type"}}`, OpenAI's error shape, as the text
/// of its outer object's members: `{` then this, then any more members, then `}`.
pub(crate) fn error_body(
    message: &str,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
) -> ObjectText {
    let error = ObjectText::new()
        .string_or_null("code", code)
        .string("message", message)
        .string_or_null("param", param)
        .string("type", kind)
        .end();
    let mut body = ObjectText::new();
    body.raw("error", &error);
    body
}

/// The header carrying a retry verdict, read by the `openai` SDKs and this crate.
pub const SHOULD_RETRY_HEADER: &str = "x-should-retry";

/// A refusal or proxy-side error: `reason`'s status and an OpenAI-shaped body
/// `{"error":{"message","type","code"}}`. The shell uses it for what only it can see
/// (upstream unreachable → [`Reason::UpstreamUnreachable`], timed out, no token).
pub fn refuse(reason: Reason, message: &str, origin: Option<&str>, opts: &ProxyOptions) -> Respond {
    let body = error_body(message, reason.error_type(), Some(reason.code()), None).end();
    let mut r = reply(reason.status(), body, origin, opts);
    r.reason = Some(reason);
    if let Some(v) = reason.should_retry() {
        r.headers
            .push((SHOULD_RETRY_HEADER.to_owned(), v.to_string()));
    }
    r
}

/// The answer to `GET /session` once the shell has signed the grant.
pub fn session_issued(
    token: &str,
    expires_at_ms: u64,
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Respond {
    let body = ObjectText::new()
        .number("expires_at", expires_at_ms)
        .string("token", token)
        .string("token_type", "Bearer")
        .end();
    reply(200, body, origin, opts)
}

/// The answer when a session token's signature does not verify.
pub fn session_rejected(origin: Option<&str>, opts: &ProxyOptions) -> Respond {
    let mut r = refuse(
        Reason::InvalidSession,
        session_message(Reason::InvalidSession),
        origin,
        opts,
    );
    r.headers.push((
        "www-authenticate".into(),
        "Bearer realm=\"hf-inference-proxy\"".into(),
    ));
    r
}

/// The answer when the upstream call failed before any response: a timeout is 504
/// [`Reason::UpstreamTimeout`], anything else (a refused connection, a client that went
/// away first) 502 [`Reason::UpstreamUnreachable`]. `secrets` are redacted from the
/// error's message.
pub fn upstream_failure(
    e: &crate::Error,
    secrets: &[&str],
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Respond {
    let mut e = e.clone();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        e = e.redact(s);
    }
    let (reason, message) = match e.kind {
        crate::ErrorKind::Timeout => (
            Reason::UpstreamTimeout,
            format!("the upstream did not answer in time: {}", e.message),
        ),
        crate::ErrorKind::Aborted => (
            Reason::UpstreamUnreachable,
            "the client went away before the upstream answered".to_owned(),
        ),
        _ => (
            Reason::UpstreamUnreachable,
            format!(
                "the upstream could not be reached: {}",
                server_side_message(&e.message)
            ),
        ),
    };
    refuse(reason, &message, origin, opts)
}

/// A transport error's message as a server-side caller should read it: the proxy's
/// upstream call is not a browser's, so the browser advice (CORS, this origin) the
/// client transport appends is dropped.
pub(super) fn server_side_message(message: &str) -> &str {
    match crate::error::find(message, ". Check that the server is reachable") {
        Some(i) => message.get(..i).unwrap_or_default(),
        None => message,
    }
}

/// Longest upstream error message passed on.
const MAX_UPSTREAM_MESSAGE_BYTES: usize = 1024;

/// The answer for a non-2xx upstream response, whose (bounded) body the shell read.
///
/// - 4xx and 5xx keep their status, except an upstream 401 (the proxy's token was
///   refused, which the client cannot fix): 502 [`Reason::UpstreamAuth`].
/// - Anything else (a 3xx: the shell fetches with `redirect: "manual"` so the token
///   never follows a redirect) is 502 [`Reason::UpstreamInvalid`].
///
/// The body is rewritten into the OpenAI shape with the upstream's `message`, `type`,
/// `param` and `code` (and a top-level `estimated_time`, which TGI and the Hugging Face
/// router send with a 503 while a model loads), every `secret` (the token) redacted before
/// anything is cut; `retry-after(-ms)`, `x-request-id` (as `x-upstream-request-id`) and
/// the provider header pass through, redacted too. `x-should-retry` is the upstream's own
/// verdict when it sent one, `false` for a quota or credit exhaustion (a 429 or 402 that
/// waiting does not fix) and for the reasons of [`Reason::should_retry`].
pub fn upstream_error(
    status: u16,
    upstream_headers: &[(String, String)],
    body: &str,
    secrets: &[&str],
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Respond {
    let redact = |s: String| {
        secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(s, |acc, secret| {
                crate::error::replace(&acc, secret, "[redacted]")
            })
    };
    let parsed: Option<Value> = crate::json::parse(body.trim()).ok();
    let inner = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object());
    let field = |name: &str| -> Option<String> {
        match inner?.get(name)? {
            Value::String(s) if !s.is_empty() => Some(cut(&redact(s.clone()), 100).to_owned()),
            Value::Number(n) => Some(n.display()),
            _ => None,
        }
    };
    let (status, reason, message) = match status {
        401 => (
            502,
            Some(Reason::UpstreamAuth),
            "the upstream refused the proxy's token (HTTP 401): the proxy operator must check HF_TOKEN".to_owned(),
        ),
        400..=599 => {
            let detail = crate::error::message_from_body(&redact(body.to_owned()))
                .unwrap_or_else(|| {
                    // `error::uint`: no `u16` `Display` in the wasm for a status.
                    let s = crate::error::uint(u64::from(status));
                    crate::error::concat(&["the upstream answered HTTP ", &s])
                });
            (status, None, cut(&detail, MAX_UPSTREAM_MESSAGE_BYTES).to_owned())
        }
        _ => (
            502,
            Some(Reason::UpstreamInvalid),
            crate::error::concat(&[
                "the upstream answered HTTP ",
                &crate::error::uint(u64::from(status)),
                ", which the proxy does not pass on",
            ]),
        ),
    };
    let code = match reason {
        Some(r) => Some(r.code().to_owned()),
        None => crate::error::code_from_body(body).map(|c| cut(&redact(c), 100).to_owned()),
    };
    let kind = match reason {
        Some(r) => r.error_type().to_owned(),
        None => field("type")
            .or_else(|| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get("error_type"))
                    .and_then(Value::as_str)
                    .map(|t| cut(t, 100).to_owned())
            })
            .unwrap_or_else(|| "upstream_error".to_owned()),
    };
    let param = reason.is_none().then(|| field("param")).flatten();
    let mut body_text = error_body(&message, &kind, code.as_deref(), param.as_deref());
    let estimated = parsed
        .as_ref()
        .filter(|_| reason.is_none())
        .and_then(|v| v.get("estimated_time"))
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0);
    if let Some(t) = estimated {
        // As `serde_json` writes an `f64` (`2.0`, `1e-7`).
        body_text.float("estimated_time", t);
    }
    let mut r = reply(status, body_text.end(), origin, opts);
    r.reason = reason;
    let upstream_verdict = headers::get(upstream_headers, SHOULD_RETRY_HEADER)
        .map(str::to_ascii_lowercase)
        .filter(|v| v == "true" || v == "false");
    let quota = crate::retry::is_quota_exhausted(&crate::Error::http(status, body));
    let verdict = match reason.and_then(Reason::should_retry) {
        Some(v) => Some(v.to_string()),
        None if quota => Some("false".to_owned()),
        None => upstream_verdict,
    };
    if let Some(v) = verdict {
        r.headers.push((SHOULD_RETRY_HEADER.to_owned(), v));
    }
    for (name, out) in [
        ("retry-after", "retry-after"),
        ("retry-after-ms", "retry-after-ms"),
        ("x-request-id", UPSTREAM_REQUEST_ID_HEADER),
        (
            crate::response::PROVIDER_HEADER,
            crate::response::PROVIDER_HEADER,
        ),
    ] {
        if let Some(v) =
            headers::get(upstream_headers, name).filter(|v| headers::is_safe_value(v, 128))
        {
            let v = redact(v.to_owned());
            r.headers.push((out.to_owned(), v));
        }
    }
    r
}

/// The header the upstream's own request id is passed back in (the client's
/// `x-request-id` is the proxy's id, the one in the log line and `onUsage`).
pub const UPSTREAM_REQUEST_ID_HEADER: &str = "x-upstream-request-id";

/// The answers written straight to text are the ones `serde_json` printed from a
/// `Value` before: text that `serde_json` reads and prints back byte for byte (keys in
/// order, the same escapes and numbers), with the members the tests above check.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod text_parity {
    use super::*;
    use proptest::prelude::*;

    fn reprinted(body: &str) -> String {
        crate::json::parse(body).map_or_else(|e| e.to_string(), |v| crate::json::to_text(&v))
    }

    fn json(s: &str) -> String {
        serde_json::to_string(s).unwrap_or_default()
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z \"\\\\\u{0}-\u{1f}\u{7f}\u{e9}\u{2028}\u{1F600}]{0,12}"
    }

    proptest! {
        #[test]
        fn refusals_and_session_answers_print_as_serde_json(
            message in text(),
            token in text(),
            expires in any::<u64>(),
        ) {
            let o = ProxyOptions::default();
            for reason in [Reason::RateLimited, Reason::UpstreamAuth] {
                let r = refuse(reason, &message, None, &o);
                prop_assert_eq!(reprinted(&r.body), r.body.clone());
                let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
                prop_assert_eq!(v["error"]["message"].as_str(), Some(message.as_str()));
                prop_assert_eq!(v["error"]["code"].as_str(), Some(reason.code()));
                prop_assert!(v["error"]["param"].is_null());
            }
            let s = session_issued(&token, expires, None, &o);
            prop_assert_eq!(reprinted(&s.body), s.body.clone());
            let v: Value = serde_json::from_str(&s.body).unwrap_or_default();
            prop_assert_eq!(v["expires_at"].as_u64(), Some(expires));
            prop_assert_eq!(v["token"].as_str(), Some(token.as_str()));
            let event = super::super::stream_failure_event(&crate::Error::network(&message), &[]);
            let data = event.strip_prefix("data: ").and_then(|e| e.strip_suffix("\n\n"));
            let again = data.map(reprinted);
            prop_assert_eq!(again.as_deref(), data);
        }

        #[test]
        fn rewritten_upstream_errors_print_as_serde_json(
            message in text(),
            kind in text(),
            param in prop_oneof![text().prop_map(|p| json(&p)), Just("7".to_owned()), Just("null".to_owned())],
            code in prop_oneof![text().prop_map(|c| json(&c)), Just("429".to_owned())],
            estimated in prop_oneof![Just("2.0"), Just("1e-7"), Just("3"), Just("-1"), Just("\"x\"")],
            status in prop_oneof![Just(400u16), Just(401), Just(302), Just(503)],
        ) {
            let body = format!(
                r#"{{"error":{{"message":{},"type":{},"param":{param},"code":{code}}},"estimated_time":{estimated}}}"#,
                json(&message),
                json(&kind),
            );
            let r = upstream_error(status, &[], &body, &[], None, &ProxyOptions::default());
            prop_assert_eq!(reprinted(&r.body), r.body.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_the_documented_statuses() {
        assert_eq!(Reason::UnknownRoute.status(), 404);
        assert_eq!(Reason::RateLimited.error_type(), "rate_limit_error");
        assert_eq!(Reason::ModelNotAllowed.error_type(), "permission_error");
        assert_eq!(Reason::UpstreamAuth.status(), 502);
    }

    #[test]
    fn upstream_401_becomes_502_and_the_client_never_sees_the_token() {
        let o = ProxyOptions::default();
        let r = upstream_error(
            401,
            &[],
            r#"{"error":"bad token hf_secret_123456"}"#,
            &["hf_secret_123456"],
            None,
            &o,
        );
        assert_eq!(r.status, 502);
        assert!(!r.body.contains("hf_secret"));
        let r = upstream_error(
            400,
            &[],
            r#"{"error":"echo hf_secret_123456"}"#,
            &["hf_secret_123456"],
            None,
            &o,
        );
        assert_eq!(r.status, 400);
        assert!(
            r.body.contains("[redacted]") && !r.body.contains("hf_secret"),
            "{}",
            r.body
        );
    }
}
