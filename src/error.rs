//! The one error type of the crate.
//!
//! Owns: [`Error`], its [`ErrorKind`] and [`TimeoutKind`], and the rules that turn an
//! upstream error body (in whatever shape the server used) into a readable message and
//! code ([`message_of`], [`code_of`]: read over the scan's spans, no `crate::json::Value`,
//! so the streaming decoder reports an in-stream error with them too), and the error of an
//! error payload or an `event: error`.
//! Must never: hold a secret (tokens are never passed in here), panic on any body, keep
//! an unbounded copy of what the server sent, or use `core::fmt` (numbers go through
//! `push_uint`: the decoder core has no `core::fmt`).
//!
//! The wasm shell surfaces this value to JavaScript as `InferenceError`, a real `Error`
//! subclass; the fields map one to one.

use crate::scan::{decode_str, items, members, Kind, Reader, Span};

/// Longest upstream body (in bytes) an error keeps. Bodies are cut on a char boundary.
pub const MAX_ERROR_BODY_BYTES: usize = 8 * 1024;

/// Longest offending SSE `data` an error keeps (parse errors quote what failed).
pub const MAX_QUOTED_DATA_BYTES: usize = 1024;

/// What went wrong, as a closed set the caller can `switch` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The server answered with a non-2xx status.
    Http,
    /// The request never got an answer (DNS, refused, reset, CORS, offline).
    Network,
    /// One of the configured timeouts fired; see [`Error::timeout`].
    Timeout,
    /// The caller aborted (signal, `abort()`, or breaking out of iteration).
    Aborted,
    /// The stream itself carried an error (an `error` event or an `error` payload).
    Stream,
    /// The server sent something that is not the JSON it promised.
    Parse,
    /// The stream ended with neither `[DONE]` nor a finish reason.
    Truncated,
    /// The caller's request or options are invalid; nothing was sent.
    Input,
    /// The upstream's circuit breaker is open after repeated failures; nothing was sent.
    CircuitOpen,
    /// The caller's spending budget (`budget.usd` / `budget.tokens`) is used up for the
    /// current window; nothing was sent.
    Budget,
    /// The client-side rate limit's queue is full; nothing was sent.
    RateLimited,
}

impl ErrorKind {
    /// The string JavaScript sees in `error.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Http => "http",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Aborted => "aborted",
            ErrorKind::Stream => "stream",
            ErrorKind::Parse => "parse",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Input => "input",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Budget => "budget",
            ErrorKind::RateLimited => "rate_limited",
        }
    }
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// No response headers arrived in time.
    Headers,
    /// Headers came, but not the first body chunk.
    FirstChunk,
    /// Too long between two body chunks.
    Idle,
    /// The whole call took too long.
    Total,
}

impl TimeoutKind {
    /// The string JavaScript sees in `error.timeout` (and the option's name stem).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Headers => "headers",
            TimeoutKind::FirstChunk => "firstChunk",
            TimeoutKind::Idle => "idle",
            TimeoutKind::Total => "total",
        }
    }
}

/// Every failure the crate reports. Built by the core, surfaced by the shell.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    /// What was wrong and, where we know, what to do about it.
    pub message: String,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// A machine-readable code from the server (`error.code`, `error.type`, TGI's
    /// `error_type`), when it gave one.
    pub code: Option<String>,
    /// The upstream `x-request-id`, to quote in a support request.
    pub request_id: Option<String>,
    /// Which provider answered, when known.
    pub provider: Option<String>,
    /// Whether sending the same request again could succeed.
    pub retryable: bool,
    /// The upstream body (cut to [`MAX_ERROR_BODY_BYTES`]), or the offending data.
    pub body: Option<String>,
    /// Set when `kind` is [`ErrorKind::Timeout`].
    pub timeout: Option<TimeoutKind>,
}

impl Error {
    /// The fields of the JavaScript `InferenceError` for this error, as JSON (`kind`,
    /// `retryable`, and `status`, `code`, `requestId`, `provider`, `body`, `timeout` when
    /// known); `js/errors.js` builds the error from it with one `JSON.parse`.
    pub fn fields_json(&self) -> String {
        let mut o = crate::json::ObjectText::new();
        o.string("kind", self.kind.as_str());
        o.boolean("retryable", self.retryable);
        o.opt_number("status", self.status.map(u64::from));
        o.opt_string("code", self.code.as_deref());
        o.opt_string("requestId", self.request_id.as_deref());
        o.opt_string("provider", self.provider.as_deref());
        o.opt_string("body", self.body.as_deref());
        o.opt_string("timeout", self.timeout.map(TimeoutKind::as_str));
        o.end()
    }

    /// A bare error of `kind`; the builders below fill in the rest.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            code: None,
            request_id: None,
            provider: None,
            retryable: false,
            body: None,
            timeout: None,
        }
    }

    /// The caller's input is wrong; `what` names the option or field.
    pub fn input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Input, message)
    }

    /// The network failed before a response; `detail` is what the runtime said.
    pub fn network(detail: &str) -> Self {
        let mut e = Error::new(
            ErrorKind::Network,
            concat(&[
                "network error: ",
                if detail.is_empty() { "the request failed" } else { detail },
                ". Check that the server is reachable (and, in a browser, that it allows this origin with CORS).",
            ]),
        );
        e.retryable = true;
        e
    }

    /// A configured timeout fired.
    pub fn timeout(which: TimeoutKind, after_ms: u64) -> Self {
        let what = match which {
            TimeoutKind::Headers => "no response headers",
            TimeoutKind::FirstChunk => "no first chunk of the body",
            TimeoutKind::Idle => "no data between two chunks",
            TimeoutKind::Total => "the call did not complete",
        };
        let mut e = Error::new(
            ErrorKind::Timeout,
            concat(&[
                which.as_str(),
                " timeout: ",
                what,
                " within ",
                &uint(after_ms),
                " ms. Raise `timeouts.",
                which.as_str(),
                "` if the model is slow.",
            ]),
        );
        e.timeout = Some(which);
        // Before anything was delivered a timeout is worth another try; the caller's
        // retry logic decides whether anything was delivered.
        e.retryable = matches!(which, TimeoutKind::Headers | TimeoutKind::FirstChunk);
        e
    }

    /// The caller aborted.
    pub fn aborted() -> Self {
        Error::new(ErrorKind::Aborted, "the request was aborted by the caller")
    }

    /// The stream ended before it said it was done.
    pub fn truncated(detail: &str) -> Self {
        let mut e = Error::new(
            ErrorKind::Truncated,
            concat(&[
                "the stream ended early: ",
                detail,
                "; the text so far is kept",
            ]),
        );
        e.retryable = true;
        e
    }

    /// An HTTP error response. `body` is the response text, `content_type` its type.
    pub fn http(status: u16, body: &str) -> Self {
        let detail = message_from_body(body);
        let code = code_from_body(body);
        let message = concat(&[
            "HTTP ",
            &uint(u64::from(status)),
            ": ",
            detail.as_deref().unwrap_or_else(|| reason_phrase(status)),
        ]);
        let mut e = Error::new(ErrorKind::Http, message);
        e.status = Some(status);
        e.code = code;
        e.retryable = matches!(status, 408 | 409 | 425 | 429) || status >= 500;
        if !body.is_empty() {
            e.body = Some(cut(body, MAX_ERROR_BODY_BYTES).to_owned());
        }
        e
    }

    /// Set the request id (builder style).
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        if self.request_id.is_none() {
            self.request_id = id;
        }
        self
    }

    /// Replace every occurrence of `secret` in the message and body (an upstream body can
    /// echo a request header). Secrets shorter than 8 bytes are not searched for: they
    /// would match ordinary words, and no real key is that short.
    pub fn redact(mut self, secret: &str) -> Self {
        if secret.len() >= 8 {
            if contains(&self.message, secret) {
                self.message = replace(&self.message, secret, "[redacted]");
            }
            if let Some(body) = self.body.as_mut() {
                if contains(body, secret) {
                    *body = replace(body, secret, "[redacted]");
                }
            }
        }
        self
    }

    /// Set the provider (builder style).
    pub fn with_provider(mut self, provider: Option<String>) -> Self {
        if self.provider.is_none() {
            self.provider = provider;
        }
        self
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use hf_inference_wire::concat;

/// `parts` with `sep` between them: `[&str]::join` without `join`'s generic code, which
/// the wasm would compile for this alone.
pub(crate) fn join<'a>(parts: impl IntoIterator<Item = &'a str>, sep: &str) -> String {
    let mut out = String::new();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(p);
    }
    out
}

/// `n` in decimal (see [`push_uint`]).
pub(crate) fn uint(n: u64) -> String {
    let mut s = String::new();
    push_uint(&mut s, n);
    s
}

/// Where `needle` first occurs in `hay`, as `hay.find(needle)` says. A byte-wise scan:
/// `str`'s own search for a `&str` is a two-way searcher, 3 KB of the proxy's wasm, for the
/// short texts searched here (messages, URLs, user agents; an error body, bounded).
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| w == n)
}

/// `hay.contains(needle)` (see [`find`]).
pub(crate) fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// `hay.replace(from, to)` for a `from` that is not empty (see [`find`]); an empty `from`
/// leaves `hay` as it is.
pub(crate) fn replace(hay: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(hay.len());
    let mut rest = hay;
    while let Some(i) = find(rest, from).filter(|_| !from.is_empty()) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str(to);
        rest = rest.get(i + from.len()..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// `hay.rsplit_once(at)` for an ASCII `at`: the text before and after its last
/// occurrence. A byte-wise scan from the end: `str`'s reverse char search (its searcher
/// and `memrchr`) was 0.8 KB of the client's wasm for the few short texts split here
/// (model ids, price keys, URL authorities). Not for a non-ASCII `at` (its bytes are
/// compared alone, so a multi-byte char's last byte could match).
pub(crate) fn rsplit_once(hay: &str, at: u8) -> Option<(&str, &str)> {
    let i = hay.bytes().rposition(|b| b == at)?;
    Some((hay.get(..i)?, hay.get(i + 1..)?))
}

/// `hay.split_once(at)` for an ASCII `at` (see [`rsplit_once`]): the text before and
/// after its first occurrence.
pub(crate) fn split_once(hay: &str, at: u8) -> Option<(&str, &str)> {
    let i = find_byte(hay, at)?;
    Some((hay.get(..i)?, hay.get(i + 1..)?))
}

/// `hay.find(at)` for an ASCII `at`.
pub(crate) fn find_byte(hay: &str, at: u8) -> Option<usize> {
    hay.bytes().position(|b| b == at)
}

/// `hay.split(at).next()` for an ASCII `at`: the text before its first occurrence, or
/// all of `hay`.
pub(crate) fn before(hay: &str, at: u8) -> &str {
    split_once(hay, at).map_or(hay, |(a, _)| a)
}

/// `hay.split(at)` for an ASCII `at`: str's forward char search and its split iterator
/// were their own code in the client's wasm, for the few short texts split here
/// (header values, dates, URLs, a chunk's lines when re-encoded as SSE).
pub(crate) fn split(hay: &str, at: u8) -> Split<'_> {
    Split {
        rest: Some(hay),
        at,
    }
}

/// The pieces of [`split`].
pub(crate) struct Split<'a> {
    rest: Option<&'a str>,
    at: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match split_once(rest, self.at) {
            Some((piece, after)) => {
                self.rest = Some(after);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `s` cut to at most `max` bytes on a char boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The human message in an error body, from whichever shape the server used:
/// `{"error": "…"}`, `{"error": {"message": "…"}}`, `{"detail": "…" | [{"msg": "…"}]}`,
/// `{"message": "…"}`, `{"errors": [{"message": "…"}]}`, RFC 7807 `title`/`detail`, or a
/// plain-text body. `None` for an empty body.
pub fn message_from_body(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    match root(trimmed) {
        Some(v) => message_of(trimmed, &v).or_else(|| Some(cut(trimmed, 300).to_owned())),
        // Plain text (TGI and some gateways answer `Failed to deserialize …`).
        None => Some(cut(trimmed, 300).to_owned()),
    }
}

/// The span of the one JSON value `text` is, when it is one.
fn root(text: &str) -> Option<Span> {
    let mut r = Reader::new(text);
    let v = r.value().ok()?;
    r.end().ok()?;
    Some(v)
}

/// [`message_from_body`] for the value `v` of `src`, JSON text a validating scan read
/// (the scan's spans are all it needs: no `crate::json::Value` is built).
pub fn message_of(src: &str, v: &Span) -> Option<String> {
    let mut out = None;
    match v.kind {
        Kind::String => return text_of(src, Some(*v)),
        // The messages of its elements, joined.
        Kind::Array => {
            for item in items(src, v) {
                join_into(&mut out, message_of(src, &item));
            }
            return out;
        }
        Kind::Object => {}
        _ => return None,
    }
    let mut f = [None; 5];
    members(
        src,
        v,
        &["error", "message", "detail", "errors", "title"],
        &mut f,
    );
    let [err, message, detail, errors, title] = f;
    if let Some(err) = err {
        // A string is the message (a blank one: none); an object or an array is read as
        // a body of its own.
        if err.kind == Kind::String {
            return text_of(src, Some(err));
        }
        if let Some(m) = message_of(src, &err) {
            return Some(m);
        }
    }
    if let Some(m) = text_of(src, message) {
        return Some(m);
    }
    if let Some(d) = detail {
        match d.kind {
            Kind::String => return text_of(src, Some(d)),
            // FastAPI's `[{"msg": …}]` (or `message`).
            Kind::Array => {
                for item in items(src, &d) {
                    let mut g = [None; 2];
                    members(src, &item, &["msg", "message"], &mut g);
                    join_into(&mut out, text_of(src, g[0].or(g[1])));
                }
                if out.is_some() {
                    return out;
                }
            }
            Kind::Object => {
                if let Some(m) = message_of(src, &d) {
                    return Some(m);
                }
            }
            _ => {}
        }
    }
    if let Some(m) = errors
        .filter(|e| e.kind == Kind::Array)
        .and_then(|e| message_of(src, &e))
    {
        return Some(m);
    }
    text_of(src, title)
}

/// Add `part` (if any) to the `; `-joined `out`.
fn join_into(out: &mut Option<String>, part: Option<String>) {
    let Some(p) = part else { return };
    match out {
        None => *out = Some(p),
        Some(o) => {
            o.push_str("; ");
            o.push_str(&p);
        }
    }
}

/// A string value's text, trimmed; `None` when it is not a string or is blank.
fn text_of(src: &str, v: Option<Span>) -> Option<String> {
    let v = v.filter(|v| v.kind == Kind::String)?;
    let mut s = String::new();
    decode_str(src, &v, &mut s);
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A machine-readable code in an error body: `error.code`, `error.type`, `error_type`,
/// `code`, `type`. A number is kept as the server wrote it.
pub fn code_from_body(body: &str) -> Option<String> {
    let trimmed = body.trim();
    code_of(trimmed, &root(trimmed)?)
}

/// [`code_from_body`] for the value `v` of `src` (as [`message_of`]).
pub fn code_of(src: &str, v: &Span) -> Option<String> {
    fn scalar(src: &str, v: Option<Span>) -> Option<String> {
        let v = v?;
        match v.kind {
            // A string span is empty exactly when its text is.
            Kind::String if v.end > v.start => {
                let mut s = String::new();
                decode_str(src, &v, &mut s);
                Some(s)
            }
            Kind::Number => Some(v.raw(src).to_owned()),
            _ => None,
        }
    }
    let mut f = [None; 4];
    members(src, v, &["error", "error_type", "code", "type"], &mut f);
    let [err, error_type, code, kind] = f;
    if let Some(inner) = err.filter(|e| e.kind == Kind::Object) {
        let mut g = [None; 2];
        members(src, &inner, &["code", "type"], &mut g);
        if let Some(c) = scalar(src, g[0]).or_else(|| scalar(src, g[1])) {
            return Some(c);
        }
    }
    scalar(src, error_type)
        .or_else(|| scalar(src, code))
        .or_else(|| scalar(src, kind))
}

/// The [`ErrorKind::Stream`] error for an error payload the server sent: `v` is the
/// payload, a value of the JSON text `src`; `raw` is kept (cut) as the body.
pub(crate) fn payload_error(src: &str, v: &Span, raw: &str) -> Error {
    let mut e = Error::new(
        ErrorKind::Stream,
        match message_of(src, v) {
            Some(m) => concat(&["the server reported an error: ", &m]),
            None => "the server reported an error without a message".to_owned(),
        },
    );
    e.code = code_of(src, v);
    e.body = Some(cut(raw, MAX_ERROR_BODY_BYTES).to_owned());
    e
}

/// [`payload_error`] for a body that is (or should be) one JSON text; one that is not
/// reads as a payload without a message.
pub(crate) fn body_payload_error(body: &str) -> Error {
    let v = root(body).unwrap_or(Span {
        kind: Kind::Null,
        start: 0,
        end: 0,
        escaped: false,
    });
    payload_error(body, &v, body)
}

/// The error an `event: error` SSE event with `data` carries: its payload's, when the
/// data is JSON (an object, with `objects_only`), else the data itself as the message.
pub(crate) fn event_error(data: &str, objects_only: bool) -> Error {
    match root(data) {
        Some(v) if !objects_only || v.kind == Kind::Object => payload_error(data, &v, data),
        _ if data.is_empty() => Error::new(
            ErrorKind::Stream,
            "the server sent an `error` event with no details",
        ),
        _ => {
            let mut e = Error::new(
                ErrorKind::Stream,
                concat(&["the server reported an error: ", cut(data, 300)]),
            );
            e.body = Some(cut(data, MAX_ERROR_BODY_BYTES).to_owned());
            e
        }
    }
}

/// Append the decimal digits of `n`: `to_string` goes through `core::fmt`, which the
/// streaming decoder (and its error messages) must not pull into the wasm.
pub(crate) fn push_uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while i > 0 {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits.get(i..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized: check the token",
        402 => "payment required: the account is out of credits",
        403 => "forbidden: the token may not use this model or provider",
        404 => "not found: check the model id and the URL",
        408 => "request timeout",
        413 => "request too large",
        422 => "unprocessable request",
        429 => "rate limited: slow down and retry later",
        500 => "internal server error",
        502 => "bad gateway",
        503 => "service unavailable (the model may be loading)",
        504 => "gateway timeout",
        _ => "request failed",
    }
}

/// An SSE bound the server broke, as the crate's error (the wire crate knows no `Error`).
impl From<crate::sse::SseError> for Error {
    fn from(e: crate::sse::SseError) -> Self {
        use crate::sse::SseError;
        // Pieces pushed, not `format!`: the decoder core has no `core::fmt`.
        let (what, limit, then) = match e {
            SseError::LineTooLong { limit } => (
                "the server sent an event-stream line longer than ",
                limit,
                " bytes; raise `limits.maxLineBytes` if such lines are expected",
            ),
            SseError::EventTooLarge { limit } => (
                "the server sent an event whose data is larger than ",
                limit,
                " bytes; raise `limits.maxEventBytes` if such events are expected",
            ),
        };
        let message = concat(&[what, &uint(limit as u64), then]);
        let mut err = Error::new(ErrorKind::Stream, message);
        err.code = Some(e.code().to_owned());
        // The same request would get the same oversized line again.
        err.retryable = false;
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The readers the scan-based ones replaced (over `crate::json::Value`), kept as
    /// their oracle.
    mod by_value {
        use crate::json::Value;

        pub(super) fn message_from_json(v: &Value) -> Option<String> {
            fn text(v: &Value) -> Option<String> {
                match v {
                    Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    _ => None,
                }
            }
            match v {
                Value::String(_) => text(v),
                Value::Object(map) => {
                    if let Some(err) = map.get("error") {
                        match err {
                            Value::String(_) => return text(err),
                            Value::Object(_) | Value::Array(_) => {
                                if let Some(m) = message_from_json(err) {
                                    return Some(m);
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(m) = map.get("message").and_then(text) {
                        return Some(m);
                    }
                    if let Some(d) = map.get("detail") {
                        match d {
                            Value::String(_) => return text(d),
                            Value::Array(items) => {
                                let parts = items.iter().filter_map(|i| {
                                    i.get("msg").or_else(|| i.get("message")).and_then(text)
                                });
                                if let Some(m) = joined(parts) {
                                    return Some(m);
                                }
                            }
                            Value::Object(_) => {
                                if let Some(m) = message_from_json(d) {
                                    return Some(m);
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(Value::Array(errors)) = map.get("errors") {
                        if let Some(m) = joined(errors.iter().filter_map(message_from_json)) {
                            return Some(m);
                        }
                    }
                    map.get("title").and_then(text)
                }
                Value::Array(items) => joined(items.iter().filter_map(message_from_json)),
                _ => None,
            }
        }

        /// `parts` joined with `; `; `None` when there are none. (Pushing into one string
        /// instead of collecting and `join`ing keeps `join`'s generic code out of the wasm.)
        fn joined(parts: impl Iterator<Item = String>) -> Option<String> {
            let mut out: Option<String> = None;
            for p in parts {
                match &mut out {
                    None => out = Some(p),
                    Some(o) => {
                        o.push_str("; ");
                        o.push_str(&p);
                    }
                }
            }
            out
        }

        pub(super) fn code_from_json(v: &Value) -> Option<String> {
            fn scalar(v: Option<&Value>) -> Option<String> {
                match v? {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.display()),
                    _ => None,
                }
            }
            let map = v.as_object()?;
            if let Some(Value::Object(inner)) = map.get("error") {
                if let Some(c) = scalar(inner.get("code")).or_else(|| scalar(inner.get("type"))) {
                    return Some(c);
                }
            }
            scalar(map.get("error_type"))
                .or_else(|| scalar(map.get("code")))
                .or_else(|| scalar(map.get("type")))
        }
    }

    #[test]
    fn the_scan_reads_message_and_code_as_the_value_readers_did() {
        let leaves = [
            r#""boom""#,
            r#""  spaced  ""#,
            r#""""#,
            r#""\u00e9t\u00e9""#,
            "5",
            "null",
            "true",
            r#"{"message":"inner","code":"c1","type":"t1"}"#,
            r#"{"message":"","code":42,"type":"t"}"#,
            r#"{"msg":"m1"}"#,
            r#"{"msg":5,"message":"m2"}"#,
            r#"[{"msg":"a"},{"message":"b"},{"x":1},"s"]"#,
            r#"[]"#,
            r#"{"title":"T","detail":"D"}"#,
            r#"{"detail":{"message":"deep"}}"#,
        ];
        let keys = [
            "error",
            "message",
            "detail",
            "errors",
            "title",
            "code",
            "type",
            "error_type",
            "msg",
        ];
        let mut bodies = vec![
            "[1,2]".to_owned(),
            r#"{"error":"a","error":{"message":"last wins"}}"#.to_owned(),
            r#"{"message":"first","message":"  "}"#.to_owned(),
            r#"{"errors":[{"message":"a"},{"error":"b"}],"title":"t"}"#.to_owned(),
            r#"{"er\u0072or":"escaped key"}"#.to_owned(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for (j, x) in leaves.iter().enumerate() {
                bodies.push(format!(r#"{{"{a}":{x}}}"#));
                let b = keys[(i + j) % keys.len()];
                let y = leaves[(i * 3 + j) % leaves.len()];
                bodies.push(format!(r#"{{"{a}":{x},"{b}":{y}}}"#));
                bodies.push(format!(r#"[{{"{a}":{x}}},{{"{b}":{y}}}]"#));
                bodies.push(format!(r#"{{"error":{{"{a}":{x},"{b}":{y}}}}}"#));
            }
        }
        for body in &bodies {
            let v = crate::json::parse(body).unwrap();
            assert_eq!(
                message_from_body(body),
                by_value::message_from_json(&v).or_else(|| Some(body.clone())),
                "{body}"
            );
            assert_eq!(code_from_body(body), by_value::code_from_json(&v), "{body}");
        }
    }

    #[test]
    fn push_uint_writes_every_magnitude() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(uint(n), n.to_string());
        }
    }

    #[test]
    fn errors_convert_to_stream_errors_naming_the_option() {
        let e = Error::from(crate::sse::SseError::LineTooLong { limit: 10 });
        assert_eq!(e.kind, ErrorKind::Stream);
        assert_eq!(e.code.as_deref(), Some("line_too_long"));
        assert!(e.message.contains("limits.maxLineBytes"), "{}", e.message);
        assert!(!e.retryable);
        let e = Error::from(crate::sse::SseError::EventTooLarge { limit: 10 });
        assert_eq!(e.code.as_deref(), Some("event_too_large"));
        assert!(e.message.contains("limits.maxEventBytes"), "{}", e.message);
    }

    #[test]
    fn join_puts_the_separator_between_parts_only() {
        assert_eq!(join([], ", "), "");
        assert_eq!(join(["a"], ", "), "a");
        assert_eq!(join(["a", "", "c"], ", "), "a, , c");
        let parts = ["together", "groq", "novita"];
        assert_eq!(join(parts, ", "), parts.join(", "));
    }

    #[test]
    fn message_from_error_string() {
        assert_eq!(
            message_from_body(r#"{"error":"Model not found"}"#).as_deref(),
            Some("Model not found")
        );
    }

    #[test]
    fn message_from_error_object() {
        let body = r#"{"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(message_from_body(body).as_deref(), Some("Invalid API key"));
        assert_eq!(code_from_body(body).as_deref(), Some("invalid_api_key"));
    }

    #[test]
    fn message_from_detail_string_and_list() {
        assert_eq!(
            message_from_body(r#"{"detail":"Not allowed"}"#).as_deref(),
            Some("Not allowed")
        );
        let body = r#"{"detail":[{"loc":["body","x"],"msg":"field required"},{"msg":"bad y"}]}"#;
        assert_eq!(
            message_from_body(body).as_deref(),
            Some("field required; bad y")
        );
    }

    #[test]
    fn message_from_message_and_errors_list() {
        assert_eq!(
            message_from_body(r#"{"message":"Unauthorized"}"#).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(
            message_from_body(r#"{"errors":[{"message":"a"},{"message":"b"}]}"#).as_deref(),
            Some("a; b")
        );
    }

    #[test]
    fn message_from_tgi_error_with_type() {
        let body = r#"{"error":"Input validation error: too long","error_type":"validation"}"#;
        assert_eq!(
            message_from_body(body).as_deref(),
            Some("Input validation error: too long")
        );
        assert_eq!(code_from_body(body).as_deref(), Some("validation"));
    }

    #[test]
    fn message_from_problem_json_title() {
        assert_eq!(
            message_from_body(r#"{"title":"Invalid version","status":422}"#).as_deref(),
            Some("Invalid version")
        );
    }

    #[test]
    fn message_from_plain_text_and_empty() {
        assert_eq!(
            message_from_body("Failed to deserialize").as_deref(),
            Some("Failed to deserialize")
        );
        assert_eq!(message_from_body("   "), None);
    }

    #[test]
    fn message_never_object_object() {
        let e = Error::http(500, r#"{"error":{"nested":true}}"#);
        assert!(!e.message.contains("[object"), "{}", e.message);
        assert!(e.message.starts_with("HTTP 500"));
    }

    #[test]
    fn http_error_retryability_follows_status() {
        for (s, r) in [
            (400, false),
            (401, false),
            (404, false),
            (408, true),
            (429, true),
            (500, true),
            (503, true),
        ] {
            assert_eq!(Error::http(s, "").retryable, r, "status {s}");
        }
    }

    #[test]
    fn http_error_body_is_bounded() {
        let big = "é".repeat(MAX_ERROR_BODY_BYTES);
        let e = Error::http(500, &big);
        let kept = e.body.unwrap_or_default();
        assert!(kept.len() <= MAX_ERROR_BODY_BYTES);
        assert!(!kept.is_empty());
    }

    #[test]
    fn find_contains_and_replace_are_str_s() {
        let texts = [
            "",
            "a",
            "aaa",
            "abcabc",
            "é://é",
            "Gecko/2010 Gecko/x",
            "xx[redacted]x",
        ];
        let needles = [
            "",
            "a",
            "aa",
            "abc",
            "://",
            "é",
            "Gecko/",
            "zz",
            "abcabcabc",
        ];
        for t in texts {
            for n in needles {
                assert_eq!(find(t, n), t.find(n), "{t:?} {n:?}");
                assert_eq!(contains(t, n), t.contains(n), "{t:?} {n:?}");
                if !n.is_empty() {
                    assert_eq!(replace(t, n, "[r]"), t.replace(n, "[r]"), "{t:?} {n:?}");
                }
            }
        }
        assert_eq!(replace("abc", "", "x"), "abc");
        for t in [
            "", ":", "a:", ":b", "a:b", "a:b:c", "é:ü:", "no colon", "x@y@z",
        ] {
            assert_eq!(rsplit_once(t, b':'), t.rsplit_once(':'), "{t:?}");
            assert_eq!(rsplit_once(t, b'@'), t.rsplit_once('@'), "{t:?}");
            assert_eq!(split_once(t, b':'), t.split_once(':'), "{t:?}");
            assert_eq!(find_byte(t, b':'), t.find(':'), "{t:?}");
            assert_eq!(Some(before(t, b':')), t.split(':').next(), "{t:?}");
            assert_eq!(
                split(t, b':').collect::<Vec<_>>(),
                t.split(':').collect::<Vec<_>>(),
                "{t:?}"
            );
        }
        for t in ["", "a", ";", "a;b,c", ",;", "x=1; y=2,z", "é,ü;"] {
            let nested: Vec<&str> = split(t, b';').flat_map(|s| split(s, b',')).collect();
            assert_eq!(nested, t.split([';', ',']).collect::<Vec<_>>(), "{t:?}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn find_and_replace_match_str_s(t in "[ab\\u{e9}]{0,12}", n in "[ab\\u{e9}]{1,3}") {
            proptest::prop_assert_eq!(find(&t, &n), t.find(n.as_str()));
            proptest::prop_assert_eq!(replace(&t, &n, "X"), t.replace(n.as_str(), "X"));
        }
    }

    #[test]
    fn redact_removes_the_secret_from_message_and_body() {
        let e =
            Error::http(401, r#"{"error":"bad token hf_abcdefgh123"}"#).redact("hf_abcdefgh123");
        assert!(!e.message.contains("hf_abcdefgh123"));
        assert!(!e.body.unwrap_or_default().contains("hf_abcdefgh123"));
    }

    #[test]
    fn client_side_kinds_have_their_js_names() {
        assert_eq!(ErrorKind::Budget.as_str(), "budget");
        assert_eq!(ErrorKind::RateLimited.as_str(), "rate_limited");
    }

    #[test]
    fn timeout_names_itself() {
        let e = Error::timeout(TimeoutKind::Idle, 1500);
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(e.timeout, Some(TimeoutKind::Idle));
        assert!(e.message.contains("idle"), "{}", e.message);
        assert!(e.message.contains("1500"));
    }
}
