//! The auth proxy's request policy: validate, rewrite, limit.
//!
//! Owns: the proxy's options ([`ProxyOptions`]) and their safe defaults; [`decide`],
//! which turns one incoming request (a plain [`IncomingRequest`]) into a [`Decision`]
//! (answer it, refuse it, or read its body and forward it); [`check_chat_body`], which
//! validates and rewrites a chat request body; the per-client rate limiter
//! ([`RateLimiter`], inside [`ProxyState`]); the session token format ([`session`]); the
//! headers sent upstream and back ([`upstream_headers`], [`response_headers`]); and
//! the structured log line ([`log_line`]).
//!
//! Must never: read a clock, do I/O, compute a MAC or draw a random number (the shell
//! passes `now_ms`, does the HMAC with WebCrypto and makes request ids); let anything a
//! client sends choose the upstream host or path (the URL is always
//! `{upstream}{fixed route path}`); put the upstream token, the proxy key or the session
//! secret in any response, error or log line (the token and the session secret never
//! enter this module; the proxy key is only ever compared, in constant time); panic on
//! any input.
//!
//! # One request, as the shell runs it
//!
//! 1. Build an [`IncomingRequest`] from the WHATWG `Request` and call [`decide`].
//! 2. Act on the [`Decision`]:
//!    - [`Decision::Preflight`], [`Decision::Respond`], [`Decision::Health`],
//!      [`Decision::Models`]: send the [`Respond`] as it is.
//!    - [`Decision::ModelsUpstream`]: `GET` the URL with [`upstream_headers`], answer
//!      with the upstream status, [`response_headers`] and the body streamed through
//!      (or [`upstream_error`] for a non-2xx).
//!    - [`Decision::Session`]: HMAC-SHA-256 the grant's `payload` with the session
//!      secret, then answer [`session_issued`]`(`[`session_token`]`(payload, sig), …)`.
//!    - [`Decision::VerifySession`]: verify `signature` over `payload` with the session
//!      secret (`crypto.subtle.verify`); if it fails answer [`session_rejected`], else
//!      act on `then`.
//!    - [`Decision::ReadBody`]: read the body, stopping once more than `limit` bytes
//!      arrived, and call [`check_chat_body`] with what was read. `Err` is a response to
//!      send; `Ok(`[`Forward`]`)` is sent upstream (`POST forward.url`,
//!      [`upstream_headers`] with the request id, the waits of [`proxy_timeouts`]) and
//!      its answer streamed back with [`response_headers`] (or [`upstream_error`] for a
//!      non-2xx), every chunk going through a [`StreamRelay`], which says what to hand
//!      on (the usage chunk the proxy asked for dropped, the token redacted), reads the
//!      usage (or estimates it) and, when the upstream breaks mid-stream, gives the
//!      final error event.
//! 3. Write one [`log_line`].

mod body;
pub mod budget;
mod facts;
mod headers;
mod limit;
mod log;
mod options;
mod relay;
mod respond;
pub mod session;
pub mod wire;

pub use body::{check_chat_body, resolve_model, Forward};
pub use budget::{
    budget_refusal, charge_of, state_unavailable, BudgetLedger, BudgetOptions, Caps, Charge,
    Exhausted, Spend,
};
pub use headers::{
    client_key, client_request_id, content_length, cors_headers, is_event_stream, response_headers,
    upstream_headers, upstream_request_id, EXPOSED_HEADERS, FORWARDED_HEADERS,
};
pub use limit::{Admission, RateLimiter};
pub use log::{log_line, usage_from_chunk, LogRecord};
pub use options::{
    check_options, check_token, proxy_options, upstream_url, AllowList, MaxTokensMode,
    ProxyOptions, ProxySetup, RateLimit, SessionOptions, DEFAULT_BURST, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CHOICES, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_TOKENS_CAP, DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_SESSION_TTL_MS, DEFAULT_UPSTREAM, MAX_SESSION_TTL_MS, MIN_PROXY_KEY_BYTES,
    PREFLIGHT_MAX_AGE_SECS, PROXY_KEY_HEADER,
};
pub use relay::{
    proxy_timeouts, stream_failure_event, BodyKind, RelayUsage, Relayed, StreamRelay,
    MAX_EVENT_BYTES, MAX_JSON_BYTES, REDACTED,
};
pub use respond::{
    refuse, session_issued, session_rejected, upstream_error, upstream_failure, Reason, Respond,
    SHOULD_RETRY_HEADER, UPSTREAM_REQUEST_ID_HEADER,
};
pub use session::{
    b64url_decode, b64url_encode, ct_eq, parse_session, session_payload, session_token,
    SessionGrant, SessionProof, SESSION_PREFIX,
};

use crate::json::ObjectText;
use respond::{reply, session_message};

// ---------------------------------------------------------------------------------------
// Requests, routes, decisions
// ---------------------------------------------------------------------------------------

/// One incoming request, as the shell sees it before reading the body.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// As sent (`GET`, `POST`, `OPTIONS`, ...); methods are case-sensitive.
    pub method: &'a str,
    /// Path and query, as received (`url.pathname + url.search`, or the raw request
    /// target in a Node adapter). Matched exactly: no decoding, no dot segments.
    pub path: &'a str,
    /// The `Origin` header, if any.
    pub origin: Option<&'a str>,
    /// The origin this proxy is served at (`new URL(request.url).origin`): a request
    /// whose `Origin` equals it is same-origin and always allowed.
    pub self_origin: Option<&'a str>,
    /// Every request header, names in any case.
    pub headers: &'a [(String, String)],
    /// The `Content-Length`, when the client sent one.
    pub content_length: Option<u64>,
    /// Who the rate limit and session binding count this request against: the client
    /// IP, or what the caller's key function returned. Cut to 256 bytes.
    pub client_key: &'a str,
}

/// The routes the proxy serves. Everything else is 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `GET /v1/models`
    Models,
    /// `GET /health`
    Health,
    /// `GET /session` (only when sessions are on)
    Session,
}

impl Route {
    /// The route of a request path (query ignored, one trailing `/` tolerated). Exact
    /// match only: `/v1/chat/completions/../x`, `//host/…`, `https://host/…` and
    /// percent-encoded spellings are not routes.
    pub fn from_path(path: &str) -> Option<Route> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        [
            Route::ChatCompletions,
            Route::Models,
            Route::Health,
            Route::Session,
        ]
        .into_iter()
        .find(|r| r.path() == path)
    }

    /// The path of the route (and, for `/v1/*`, of the upstream URL).
    pub fn path(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/v1/chat/completions",
            Route::Models => "/v1/models",
            Route::Health => "/health",
            Route::Session => "/session",
        }
    }

    /// The one method the route answers (besides `OPTIONS`, and `HEAD` on `/health`).
    pub fn method(self) -> &'static str {
        match self {
            Route::ChatCompletions => "POST",
            Route::Models | Route::Health | Route::Session => "GET",
        }
    }

    /// Whether `method` is one the route answers: its [`Route::method`], or `HEAD` on
    /// `/health` (uptime checkers send HEAD).
    pub fn accepts(self, method: &str) -> bool {
        method == self.method() || (self == Route::Health && method == "HEAD")
    }

    /// The `Allow` header value of the route.
    fn allow(self) -> String {
        match self {
            Route::Health => "GET, HEAD, OPTIONS".to_owned(),
            r => format!("{}, OPTIONS", r.method()),
        }
    }

    /// Whether the route spends something worth limiting.
    fn is_limited(self) -> bool {
        !matches!(self, Route::Health)
    }
}

/// What the shell does with a request. See the module docs for each arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a decision does nothing until the shell acts on it"]
pub enum Decision {
    /// A CORS preflight, answered.
    Preflight(Respond),
    /// A refusal (4xx) with an OpenAI-shaped JSON error body.
    Respond(Respond),
    /// `GET /health`, answered.
    Health(Respond),
    /// `GET /v1/models`, answered from the allow-list.
    Models(Respond),
    /// `GET /v1/models` with any model allowed: fetch this URL's list upstream.
    ModelsUpstream { url: String },
    /// `GET /session`: sign `payload`, answer [`session_issued`].
    Session(SessionGrant),
    /// `POST /v1/chat/completions`: read at most `limit` bytes (stop once more than
    /// `limit` arrived), then call [`check_chat_body`].
    ReadBody { limit: usize },
    /// The request carries a session token whose format, expiry and binding are fine:
    /// verify `signature` (HMAC-SHA-256 over `payload`'s UTF-8 bytes) before acting on
    /// `then`; on failure answer [`session_rejected`].
    VerifySession {
        payload: String,
        signature: Vec<u8>,
        then: Box<Decision>,
    },
}

/// Mutable state of one proxy instance (one isolate, one Node process): the default,
/// in-memory implementation of the proxy's state. With `durableState` the same two
/// parts live in Durable Objects instead (see [`budget`]).
#[derive(Debug, Clone, Default)]
pub struct ProxyState {
    pub limiter: RateLimiter,
    /// Spend per budget window, the proxy's and each client's.
    pub ledger: BudgetLedger,
}

impl ProxyState {
    pub fn new() -> Self {
        ProxyState::default()
    }
}

/// Decide what to do with a request, before its body is read. Checks run in this
/// order, each answering with its status: route (404), preflight (answered), origin
/// (403), method (405), rate limit (429), credentials (401), `Content-Length` (413).
/// `/health` skips the rate limit and credentials. Requests refused before the rate
/// limit cost no token; one refused for its credentials does, so guessing keys is
/// rate limited too.
///
/// The same decision in two steps, for a shell whose limiter answers asynchronously
/// (shared state in a Durable Object): [`decide_until_limit`], then the limiter's
/// [`Admission`] (refused: [`rate_limited`]), then [`decide_after_limit`].
pub fn decide(
    req: &IncomingRequest<'_>,
    opts: &ProxyOptions,
    state: &mut ProxyState,
    now_ms: f64,
) -> Decision {
    match decide_until_limit(req, opts) {
        Err(d) => d,
        Ok(None) => decide_after_limit(req, opts, now_ms),
        Ok(Some(limit)) => match state.limiter.admit(req.client_key, limit, now_ms) {
            Admission::Limited { retry_after_ms } => {
                rate_limited(limit, retry_after_ms, req.origin, opts)
            }
            Admission::Allowed { .. } => decide_after_limit(req, opts, now_ms),
        },
    }
}

/// The 429 for a request the rate limiter refused.
pub fn rate_limited(
    limit: &RateLimit,
    retry_after_ms: u64,
    origin: Option<&str>,
    opts: &ProxyOptions,
) -> Decision {
    let secs = retry_after_ms.div_ceil(1000).max(1);
    let mut r = refuse(
        Reason::RateLimited,
        &format!(
            "rate limit exceeded ({} requests per minute, bursts of {}); retry in {secs} s",
            limit.requests_per_minute.max(1),
            limit.burst.max(1)
        ),
        origin,
        opts,
    );
    r.headers.push(("retry-after".into(), secs.to_string()));
    r.headers
        .push(("retry-after-ms".into(), retry_after_ms.to_string()));
    Decision::Respond(r)
}

/// The checks before the rate limit (route, preflight, origin, method). `Err` is the
/// decision; `Ok(Some(limit))`: count the request against `limit` for
/// `req.client_key`, then [`decide_after_limit`]; `Ok(None)`: not limited, go on.
pub fn decide_until_limit<'o>(
    req: &IncomingRequest<'_>,
    opts: &'o ProxyOptions,
) -> Result<Option<&'o RateLimit>, Decision> {
    let origin = req.origin;
    let refuse_with =
        |reason: Reason, message: &str| Decision::Respond(refuse(reason, message, origin, opts));
    let Some(route) = route_of(req, opts) else {
        return Err(refuse_with(
            Reason::UnknownRoute,
            &unknown_route_message(req.path),
        ));
    };

    if req.method == "OPTIONS" {
        return Err(preflight(req, route, opts));
    }

    if !origin_allowed(origin, req.self_origin, opts) {
        return Err(refuse_with(
            Reason::OriginNotAllowed,
            "this origin is not allowed to use the proxy: add it to `allowedOrigins`",
        ));
    }

    if !route.accepts(req.method) {
        let mut r = refuse(
            Reason::MethodNotAllowed,
            &format!("{} accepts {} only", route.path(), route.method()),
            origin,
            opts,
        );
        r.headers.push(("allow".into(), route.allow()));
        return Err(Decision::Respond(r));
    }

    Ok(match (route.is_limited(), &opts.rate_limit) {
        (true, Some(limit)) => Some(limit),
        _ => None,
    })
}

fn route_of(req: &IncomingRequest<'_>, opts: &ProxyOptions) -> Option<Route> {
    match Route::from_path(req.path) {
        Some(Route::Session) if opts.sessions.is_none() => None,
        r => r,
    }
}

/// The checks after the rate limit admitted the request (credentials, body size) and
/// the route's action. Call only after [`decide_until_limit`] returned `Ok`.
pub fn decide_after_limit(req: &IncomingRequest<'_>, opts: &ProxyOptions, now_ms: f64) -> Decision {
    let origin = req.origin;
    let refuse_with =
        |reason: Reason, message: &str| Decision::Respond(refuse(reason, message, origin, opts));
    let Some(route) = route_of(req, opts) else {
        return refuse_with(Reason::UnknownRoute, "unknown route");
    };

    let proof = match authenticate(req, route, opts, now_ms) {
        Ok(p) => p,
        Err((reason, message)) => {
            let mut r = refuse(reason, &message, origin, opts);
            r.headers.push((
                "www-authenticate".into(),
                "Bearer realm=\"hf-inference-proxy\"".into(),
            ));
            return Decision::Respond(r);
        }
    };

    let action = match route {
        Route::ChatCompletions => {
            let limit = opts.max_body_bytes;
            match req.content_length {
                Some(n) if n > limit as u64 => refuse_with(
                    Reason::BodyTooLarge,
                    &format!("the request body is {n} bytes; this proxy accepts at most {limit}"),
                ),
                _ => Decision::ReadBody { limit },
            }
        }
        Route::Models => models(origin, opts),
        Route::Session => match &opts.sessions {
            Some(s) => Decision::Session(session_payload(origin, req.client_key, now_ms, s)),
            // Unreachable: the route is only recognized with sessions on.
            None => refuse_with(Reason::UnknownRoute, "unknown route"),
        },
        Route::Health => Decision::Health(reply(
            200,
            ObjectText::new().string("status", "ok").end(),
            origin,
            opts,
        )),
    };

    match proof {
        Some(SessionProof { payload, signature }) if !matches!(action, Decision::Respond(_)) => {
            Decision::VerifySession {
                payload,
                signature,
                then: Box::new(action),
            }
        }
        _ => action,
    }
}

/// A request's absolute URL split into what [`IncomingRequest`] needs: the path and
/// query as sent (no fragment; `/` when empty) and the origin (`scheme://authority`,
/// lowercased), read without a URL parser. A URL with no scheme is all path.
pub fn split_request_url(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = crate::error::find(url, "://") else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end + 3..];
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = format!("{}{}", &url[..scheme_end + 3], &rest[..cut]).to_ascii_lowercase();
    let mut path = rest[cut..].split('#').next().unwrap_or("").to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    (path, Some(origin))
}

/// Whether a request from `origin` may be served: no `Origin` (not a cross-origin
/// browser request), the proxy's own origin, or an allowed one.
pub fn origin_allowed(
    origin: Option<&str>,
    self_origin: Option<&str>,
    opts: &ProxyOptions,
) -> bool {
    match origin {
        None => true,
        Some(o) => {
            self_origin.is_some_and(|s| s.eq_ignore_ascii_case(o))
                || cors_allowed(o, &opts.allowed_origins)
        }
    }
}

/// Whether `origin` is allowed cross-origin (and so gets CORS headers).
fn cors_allowed(origin: &str, list: &AllowList) -> bool {
    match list {
        AllowList::Any => true,
        AllowList::Only(list) => list
            .iter()
            .any(|e| e.trim_end_matches('/').eq_ignore_ascii_case(origin)),
    }
}

/// The 404 message: the routes this proxy serves, and for the routes clients commonly
/// try (the Responses API, legacy completions, TGI's own), what to use instead.
fn unknown_route_message(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let hint = match path.trim_end_matches('/') {
        "/v1/responses" => " The Responses API is not served: with the AI SDK use `openai.chat(model)` (not `openai(model)`); with the openai SDKs use `chat.completions.create`.",
        "/v1/completions" => " Legacy completions are not served: send a chat request to /v1/chat/completions.",
        "" | "/generate" | "/generate_stream" => " TGI's own routes (POST /, /generate, /generate_stream) are not served: use `chat_completion` (OpenAI-compatible chat), which TGI also serves.",
        "/chat/completions" => " Use the base URL ending in /v1.",
        _ => "",
    };
    format!("unknown route: this proxy serves POST /v1/chat/completions, GET /v1/models and GET /health.{hint}")
}

fn preflight(req: &IncomingRequest<'_>, route: Route, opts: &ProxyOptions) -> Decision {
    let methods = route.allow();
    let Some(origin) = req.origin else {
        // Not a CORS preflight: a plain OPTIONS asking what the route allows.
        return Decision::Preflight(Respond {
            status: 204,
            headers: vec![("allow".into(), methods)],
            body: String::new(),
            reason: None,
        });
    };
    if !origin_allowed(Some(origin), req.self_origin, opts) {
        return Decision::Respond(refuse(
            Reason::OriginNotAllowed,
            "this origin is not allowed to use the proxy: add it to `allowedOrigins`",
            Some(origin),
            opts,
        ));
    }
    let mut headers = cors_headers(Some(origin), opts);
    headers.push(("access-control-allow-methods".into(), methods));
    let requested = headers::get(req.headers, "access-control-request-headers").unwrap_or("");
    headers.push((
        "access-control-allow-headers".into(),
        headers::preflight_allow_headers(requested),
    ));
    headers.push((
        "access-control-max-age".into(),
        PREFLIGHT_MAX_AGE_SECS.to_string(),
    ));
    headers::set(
        &mut headers,
        "vary",
        "origin, access-control-request-method, access-control-request-headers",
    );
    Decision::Preflight(Respond {
        status: 204,
        headers,
        body: String::new(),
        reason: None,
    })
}

/// `Ok(None)`: no session to verify; `Ok(Some)`: verify this session; `Err`: 401.
fn authenticate(
    req: &IncomingRequest<'_>,
    route: Route,
    opts: &ProxyOptions,
    now_ms: f64,
) -> Result<Option<SessionProof>, (Reason, String)> {
    let sessions = opts.sessions.as_ref().filter(|_| route != Route::Session);
    let needed = match route {
        Route::Health => false,
        Route::Session => opts.require_key.is_some(),
        Route::ChatCompletions | Route::Models => opts.require_key.is_some() || sessions.is_some(),
    };
    if !needed {
        return Ok(None);
    }
    let key_header = headers::get(req.headers, PROXY_KEY_HEADER);
    let bearer = headers::get(req.headers, "authorization").and_then(headers::bearer);
    if let Some(key) = &opts.require_key {
        let matches =
            |given: Option<&str>| given.is_some_and(|g| ct_eq(g.as_bytes(), key.as_bytes()));
        if matches(key_header) || matches(bearer) {
            return Ok(None);
        }
    }
    if let (Some(s), Some(token)) = (sessions, bearer.filter(|b| b.starts_with(SESSION_PREFIX))) {
        return match parse_session(token, now_ms, req.origin, req.client_key, s) {
            Ok(proof) => Ok(Some(proof)),
            Err(reason) => Err((reason, session_message(reason).to_owned())),
        };
    }
    if opts.require_key.is_some() && (key_header.is_some() || bearer.is_some()) {
        return Err((
            Reason::InvalidProxyKey,
            "the proxy key is wrong: send the configured key in `x-proxy-key`".to_owned(),
        ));
    }
    let how = match (opts.require_key.is_some(), sessions.is_some()) {
        (true, true) => "send the proxy key in `x-proxy-key`, or a session token from GET /session as `Authorization: Bearer <token>`",
        (true, false) => "send the proxy key in `x-proxy-key`",
        _ => "get a session token from GET /session and send it as `Authorization: Bearer <token>`",
    };
    Err((
        Reason::MissingCredentials,
        format!("this proxy needs credentials: {how}"),
    ))
}

fn models(origin: Option<&str>, opts: &ProxyOptions) -> Decision {
    match &opts.allowed_models {
        AllowList::Any => Decision::ModelsUpstream {
            url: upstream_url(opts, Route::Models),
        },
        AllowList::Only(list) => {
            let data = crate::json::array_text(list.iter().map(|id| {
                let owner = id.split('/').next().unwrap_or(id);
                ObjectText::new()
                    .number("created", 0)
                    .string("id", id)
                    .string("object", "model")
                    .string("owned_by", owner)
                    .end()
            }));
            let body = ObjectText::new()
                .raw("data", &data)
                .string("object", "list")
                .end();
            Decision::Models(reply(200, body, origin, opts))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_url_splits_into_path_and_origin() {
        use super::split_request_url as split;
        assert_eq!(
            split("HTTP://Proxy.Example:8787/v1/models?x=1#frag"),
            (
                "/v1/models?x=1".to_owned(),
                Some("http://proxy.example:8787".to_owned())
            )
        );
        assert_eq!(
            split("https://h?q"),
            ("/?q".to_owned(), Some("https://h".to_owned()))
        );
        assert_eq!(split("/v1/models"), ("/v1/models".to_owned(), None));
    }

    #[test]
    fn an_upstream_failure_is_504_for_a_timeout_else_502_and_never_quotes_the_token() {
        use crate::{Error, TimeoutKind};
        let opts = ProxyOptions::default();
        let t =
            super::upstream_failure(&Error::timeout(TimeoutKind::Headers, 300), &[], None, &opts);
        assert_eq!(t.status, 504);
        assert_eq!(t.reason, Some(Reason::UpstreamTimeout));
        let n = super::upstream_failure(
            &Error::network("connect to hf_secret failed"),
            &["hf_secret"],
            None,
            &opts,
        );
        assert_eq!(n.status, 502);
        assert!(!n.body.contains("hf_secret"), "{}", n.body);
        let a = super::upstream_failure(&Error::aborted(), &[], None, &opts);
        assert!(a.body.contains("client went away"));
    }

    #[test]
    fn only_an_event_stream_content_type_is_a_stream() {
        let h = |v: &str| vec![("Content-Type".to_owned(), v.to_owned())];
        assert!(super::is_event_stream(&h(
            "text/event-stream; charset=utf-8"
        )));
        assert!(super::is_event_stream(&h("Text/Event-Stream")));
        assert!(!super::is_event_stream(&h("application/json")));
        assert!(!super::is_event_stream(&[]));
    }

    use super::*;

    fn req<'a>(
        method: &'a str,
        path: &'a str,
        headers: &'a [(String, String)],
    ) -> IncomingRequest<'a> {
        IncomingRequest {
            method,
            path,
            origin: None,
            self_origin: None,
            headers,
            content_length: None,
            client_key: "203.0.113.7",
        }
    }

    #[test]
    fn routes_match_exactly() {
        assert_eq!(
            Route::from_path("/v1/chat/completions"),
            Some(Route::ChatCompletions)
        );
        assert_eq!(
            Route::from_path("/v1/chat/completions/"),
            Some(Route::ChatCompletions)
        );
        assert_eq!(Route::from_path("/v1/models?x=1"), Some(Route::Models));
        for p in [
            "",
            "/",
            "//",
            "/v1/chat/completions//",
            "/v1/chat/completions/../models",
            "/v1/./models",
            "/V1/models",
            "/v1%2Fmodels",
            "https://router.huggingface.co/v1/models",
        ] {
            assert_eq!(Route::from_path(p), None, "{p:?}");
        }
    }

    #[test]
    fn the_models_and_health_answers_print_as_serde_json_did() {
        let o = ProxyOptions {
            allowed_models: AllowList::Only(vec!["org/a\"b".into(), "plain".into()]),
            ..ProxyOptions::default()
        };
        let Decision::Models(r) = models(None, &o) else {
            panic!("not answered from the list")
        };
        assert_eq!(
            r.body,
            r#"{"data":[{"created":0,"id":"org/a\"b","object":"model","owned_by":"org"},{"created":0,"id":"plain","object":"model","owned_by":"plain"}],"object":"list"}"#
        );
        let h = [];
        let d = decide(&req("GET", "/health", &h), &o, &mut ProxyState::new(), 0.0);
        let Decision::Health(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.body, r#"{"status":"ok"}"#);
    }

    #[test]
    fn plain_options_without_origin_lists_the_method() {
        let h = [];
        let o = ProxyOptions::default();
        let d = decide(
            &req("OPTIONS", "/health", &h),
            &o,
            &mut ProxyState::new(),
            0.0,
        );
        let Decision::Preflight(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.status, 204);
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
}
