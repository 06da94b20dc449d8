//! Which headers go upstream, which come back, and the CORS ones.
//!
//! Upstream gets an allow-list ([`FORWARDED_HEADERS`]) of the client's headers plus our
//! `Authorization` and `Content-Type`; everything else (the client's `Authorization`,
//! `Cookie`, `Host`, hop-by-hop headers, `x-proxy-key`, billing headers such as
//! `x-hf-bill-to`) is dropped by not being on it. The client gets an allow-list of the
//! upstream's headers: never `set-cookie`, `content-encoding` or `content-length`.

use super::{cors_allowed, AllowList, ProxyOptions};

/// Client headers passed upstream (when their value is sane). `x-request-id` is not the
/// client's but the proxy's request id (the client's when it sent a sane one).
pub const FORWARDED_HEADERS: [&str; 1] = ["accept"];

/// Response headers a page's script may read (`access-control-expose-headers`): the
/// rate-limit countdown needs `retry-after`.
pub const EXPOSED_HEADERS: &str = "retry-after, retry-after-ms, x-request-id, x-inference-provider, x-should-retry, x-upstream-request-id";

/// Request headers always allowed in a preflight answer, besides those asked for.
const PREFLIGHT_BASE_HEADERS: &str = "authorization, content-type, x-proxy-key, x-request-id";
/// Bounds on the header names echoed in a preflight answer.
const MAX_PREFLIGHT_HEADERS: usize = 32;
const MAX_HEADER_NAME_BYTES: usize = 64;
/// Longest client `accept` / `x-request-id` passed on.
const MAX_FORWARDED_VALUE_BYTES: usize = 256;
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The first value of header `name` (any case).
pub(crate) fn get<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Replace header `name` (lowercase) with `value`.
pub(crate) fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

/// The credentials of an `Authorization: Bearer <credentials>` value.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty()).then_some(rest)
}

/// Visible ASCII and spaces only, at most `max` bytes: no header injection, no junk.
pub(crate) fn is_safe_value(v: &str, max: usize) -> bool {
    v.len() <= max
        && v.bytes()
            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
}

/// An RFC 9110 token (header names, methods).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The headers of the upstream request: the client's headers on [`FORWARDED_HEADERS`]
/// (first occurrence, sane values only), `x-request-id: <request_id>` (the proxy's id for
/// this request, so one id runs from the client through the log to the upstream),
/// `content-type: application/json` (the proxy sends the JSON it rewrote) and
/// `authorization: Bearer <token>`. Nothing else the client sent is passed on.
pub fn upstream_headers(
    client_headers: &[(String, String)],
    token: &str,
    request_id: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(FORWARDED_HEADERS.len() + 3);
    for name in FORWARDED_HEADERS {
        if let Some(v) = get(client_headers, name)
            .filter(|v| !v.is_empty() && is_safe_value(v, MAX_FORWARDED_VALUE_BYTES))
        {
            out.push((name.to_owned(), v.to_owned()));
        }
    }
    if !request_id.is_empty() && is_safe_value(request_id, MAX_REQUEST_ID_BYTES) {
        out.push(("x-request-id".to_owned(), request_id.to_owned()));
    }
    out.push(("content-type".to_owned(), "application/json".to_owned()));
    out.push(("authorization".to_owned(), format!("Bearer {token}")));
    out
}

/// The client's `x-request-id`, when it is a sane id to log and pass on (visible
/// ASCII, at most 128 bytes). The shell makes one (`crypto.randomUUID()`) otherwise.
pub fn client_request_id(headers: &[(String, String)]) -> Option<String> {
    get(headers, "x-request-id")
        .filter(|v| {
            !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_graphic())
                && v.len() <= MAX_REQUEST_ID_BYTES
        })
        .map(str::to_owned)
}

/// The request's declared body size (`content-length`), when it is a number.
pub fn content_length(headers: &[(String, String)]) -> Option<u64> {
    get(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// The upstream's own request id (its `x-request-id`), for the log line.
pub fn upstream_request_id(headers: &[(String, String)]) -> Option<String> {
    get(headers, "x-request-id").map(str::to_owned)
}

/// Who the rate limit and budgets count a request against: the `clientKey` hook's
/// answer when it gave a non-empty one, else the socket's address (`ctx.clientIp`, which
/// the Node adapter sets), else Cloudflare's `cf-connecting-ip` (set by Cloudflare's
/// edge, which a client cannot forge there), else one shared bucket, `anonymous`.
pub fn client_key(
    from_hook: Option<String>,
    client_ip: Option<String>,
    headers: &[(String, String)],
) -> String {
    from_hook
        .filter(|k| !k.is_empty())
        .or(client_ip)
        .or_else(|| get(headers, "cf-connecting-ip").map(str::to_owned))
        .unwrap_or_else(|| "anonymous".to_owned())
}

/// CORS headers for a response to `origin`: `access-control-allow-origin` echoing it
/// and `access-control-expose-headers` when it is on the allow-list, and `vary: origin`
/// whenever the answer could depend on the origin. Never
/// `access-control-allow-credentials`: the proxy uses no cookies.
pub fn cors_headers(origin: Option<&str>, opts: &ProxyOptions) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(o) =
        origin.filter(|o| cors_allowed(o, &opts.allowed_origins) && is_safe_value(o, 512))
    {
        out.push(("access-control-allow-origin".to_owned(), o.to_owned()));
        out.push((
            "access-control-expose-headers".to_owned(),
            EXPOSED_HEADERS.to_owned(),
        ));
    }
    if opts.allowed_origins != AllowList::Only(Vec::new()) {
        out.push(("vary".to_owned(), "origin".to_owned()));
    }
    out
}

/// `access-control-allow-headers` for a preflight that asked for `requested`: the base
/// set plus the requested names that are valid tokens (bounded). Allowing a name costs
/// nothing: [`upstream_headers`] still forwards only its allow-list, and clients such as
/// the `openai` package send their own `x-stainless-*` headers.
pub(crate) fn preflight_allow_headers(requested: &str) -> String {
    let mut out = PREFLIGHT_BASE_HEADERS.to_owned();
    // Split at the commas (the names hold no comma or space): a `&str` separator would
    // bring `str`'s two-way searcher into the wasm.
    let base: Vec<&str> = PREFLIGHT_BASE_HEADERS
        .split(',')
        .map(|n| n.trim_start_matches(' '))
        .collect();
    let mut added: Vec<String> = Vec::new();
    for name in requested.split(',').map(str::trim) {
        if added.len() >= MAX_PREFLIGHT_HEADERS {
            break;
        }
        if name.len() > MAX_HEADER_NAME_BYTES || !is_token(name) {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if base.contains(&name.as_str()) || added.contains(&name) {
            continue;
        }
        out.push_str(", ");
        out.push_str(&name);
        added.push(name);
    }
    out
}

/// Upstream response headers passed to the client, under the name given. The upstream's
/// `x-request-id` comes back as `x-upstream-request-id`: the client's `x-request-id` is
/// the proxy's own (set by the shell).
const PASSED_BACK: [(&str, &str); 5] = [
    ("x-request-id", super::respond::UPSTREAM_REQUEST_ID_HEADER),
    (
        crate::response::PROVIDER_HEADER,
        crate::response::PROVIDER_HEADER,
    ),
    ("retry-after", "retry-after"),
    ("retry-after-ms", "retry-after-ms"),
    ("x-should-retry", "x-should-retry"),
];

/// The headers of the response relayed to the client (its status is the upstream's,
/// whatever it is; a non-2xx body is better rewritten by [`super::upstream_error`]):
///
/// - `content-type` as the upstream sent it (if sane, else `application/json`);
/// - for `text/event-stream`: `cache-control: no-cache, no-transform` and
///   `x-accel-buffering: no` so nothing on the way buffers or compresses the stream;
///   otherwise `cache-control: no-store`;
/// - `x-request-id`, the provider header and `retry-after(-ms)` when the upstream sent
///   them; `x-content-type-options: nosniff`; CORS headers for an allowed origin.
///
/// Never `set-cookie`, `content-encoding` (the runtime's fetch already decoded the
/// body), `content-length` or `transfer-encoding` (the body is re-streamed).
/// Whether a `content-type` value is `text/event-stream` (any parameters).
fn is_event_stream_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// Whether response headers announce an event stream (the shell watches such a body
/// for usage chunk by chunk, and reads any other as one JSON document).
pub fn is_event_stream(headers: &[(String, String)]) -> bool {
    get(headers, "content-type").is_some_and(is_event_stream_type)
}

pub fn response_headers(
    upstream_headers: &[(String, String)],
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Vec<(String, String)> {
    let content_type = get(upstream_headers, "content-type")
        .filter(|v| !v.is_empty() && is_safe_value(v, 200))
        .unwrap_or("application/json");
    let stream = is_event_stream_type(content_type);
    let mut out = vec![("content-type".to_owned(), content_type.to_owned())];
    if stream {
        out.push((
            "cache-control".to_owned(),
            "no-cache, no-transform".to_owned(),
        ));
        out.push(("x-accel-buffering".to_owned(), "no".to_owned()));
    } else {
        out.push(("cache-control".to_owned(), "no-store".to_owned()));
    }
    out.push(("x-content-type-options".to_owned(), "nosniff".to_owned()));
    for (name, out_name) in PASSED_BACK {
        if let Some(v) =
            get(upstream_headers, name).filter(|v| !v.is_empty() && is_safe_value(v, 128))
        {
            out.push((out_name.to_owned(), v.to_owned()));
        }
    }
    out.extend(cors_headers(origin, opts));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bearer_is_case_insensitive_and_needs_credentials() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn preflight_echoes_valid_names_only_once() {
        let s = preflight_allow_headers(
            "X-Stainless-OS, content-type, bad name, x-stainless-os, a\r\nb",
        );
        assert_eq!(s, format!("{PREFLIGHT_BASE_HEADERS}, x-stainless-os"));
    }

    #[test]
    fn preflight_header_list_is_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("x-h{i}")).collect();
        let s = preflight_allow_headers(&many.join(","));
        assert_eq!(s.split(", ").count(), 4 + MAX_PREFLIGHT_HEADERS);
    }

    #[test]
    fn forwarded_values_with_line_breaks_are_dropped() {
        let out = upstream_headers(
            &h(&[("accept", "a\r\nx-evil: 1"), ("x-request-id", "client")]),
            "t",
            "r1",
        );
        assert_eq!(get(&out, "accept"), None);
        assert_eq!(get(&out, "x-request-id"), Some("r1"));
    }

    #[test]
    fn a_request_counts_against_the_hook_then_the_socket_then_cloudflare() {
        let cf = h(&[("CF-Connecting-IP", "203.0.113.7")]);
        assert_eq!(
            client_key(Some("team-a".into()), Some("10.0.0.1".into()), &cf),
            "team-a"
        );
        // An empty answer from the hook is no answer.
        assert_eq!(
            client_key(Some(String::new()), Some("10.0.0.1".into()), &cf),
            "10.0.0.1"
        );
        assert_eq!(client_key(None, None, &cf), "203.0.113.7");
        assert_eq!(
            client_key(None, None, &h(&[("x-forwarded-for", "1.2.3.4")])),
            "anonymous"
        );
    }

    #[test]
    fn a_declared_body_size_is_a_number_or_nothing() {
        assert_eq!(content_length(&h(&[("Content-Length", " 42 ")])), Some(42));
        assert_eq!(content_length(&h(&[("content-length", "-1")])), None);
        assert_eq!(content_length(&h(&[("content-length", "4e3")])), None);
        assert_eq!(content_length(&h(&[])), None);
        assert_eq!(
            upstream_request_id(&h(&[("X-Request-Id", "up-1")])).as_deref(),
            Some("up-1")
        );
    }

    #[test]
    fn client_request_id_must_be_visible_ascii() {
        assert_eq!(
            client_request_id(&h(&[("X-Request-Id", "abc-1")])).as_deref(),
            Some("abc-1")
        );
        assert_eq!(client_request_id(&h(&[("x-request-id", "a b")])), None);
        assert_eq!(
            client_request_id(&h(&[("x-request-id", &"a".repeat(129))])),
            None
        );
    }
}
