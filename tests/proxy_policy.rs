//! The proxy's request policy, one behaviour per test: routes and methods, origins and
//! preflights, the proxy key and session tokens, the rate limiter's timing and bounds,
//! body size and validation, the model and provider allow-lists, the `max_tokens` cap,
//! the headers sent upstream and back, the log line, and the rule above all: no
//! request can change the upstream host and no output carries a secret. Properties:
//! `decide`, `check_chat_body` and `parse_session` never panic, the limiter never admits
//! more than its rate allows, and the upstream URL never moves.
// Native only: uses proptest; the wasm layer is tested from JS.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::proxy::{
    b64url_decode, b64url_encode, check_chat_body, check_options, client_request_id, decide,
    log_line, parse_session, response_headers, session_issued, session_rejected, session_token,
    upstream_error, upstream_headers, upstream_url, usage_from_chunk, Admission, AllowList,
    Decision, Forward, IncomingRequest, LogRecord, MaxTokensMode, ProxyOptions, ProxyState,
    RateLimit, RateLimiter, Reason, Respond, Route, SessionGrant, SessionOptions, SessionProof,
};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const TOKEN: &str = "hf_UPSTREAMtokenNEVERleaks0123456789";
const KEY: &str = "proxy-key-0123456789abcdef";
const APP: &str = "https://app.example";
const SELF: &str = "https://proxy.example";
const CHAT_URL: &str = "https://router.huggingface.co/v1/chat/completions";
const CLIENT: &str = "203.0.113.7";
/// 2024-01-01T00:00:00Z in epoch ms.
const NOW: f64 = 1_704_067_200_000.0;

fn opts() -> ProxyOptions {
    ProxyOptions {
        allowed_origins: AllowList::from_entries([APP]),
        allowed_models: AllowList::from_entries(["org/model", "org/pinned:groq"]),
        ..ProxyOptions::default()
    }
}

fn with_key() -> ProxyOptions {
    ProxyOptions {
        require_key: Some(KEY.into()),
        ..opts()
    }
}

fn with_sessions() -> ProxyOptions {
    ProxyOptions {
        sessions: Some(SessionOptions::default()),
        ..opts()
    }
}

/// An owned request to borrow an [`IncomingRequest`] from.
#[derive(Clone)]
struct Req {
    method: String,
    path: String,
    origin: Option<String>,
    self_origin: Option<String>,
    headers: Vec<(String, String)>,
    content_length: Option<u64>,
    client_key: String,
}

impl Req {
    fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            origin: None,
            self_origin: Some(SELF.into()),
            headers: Vec::new(),
            content_length: None,
            client_key: CLIENT.into(),
        }
    }
    fn chat() -> Req {
        Req::new("POST", "/v1/chat/completions")
    }
    fn origin(mut self, o: &str) -> Req {
        self.origin = Some(o.into());
        self
    }
    fn header(mut self, n: &str, v: &str) -> Req {
        self.headers.push((n.into(), v.into()));
        self
    }
    fn length(mut self, n: u64) -> Req {
        self.content_length = Some(n);
        self
    }
    fn client(mut self, k: &str) -> Req {
        self.client_key = k.into();
        self
    }
    fn incoming(&self) -> IncomingRequest<'_> {
        IncomingRequest {
            method: &self.method,
            path: &self.path,
            origin: self.origin.as_deref(),
            self_origin: self.self_origin.as_deref(),
            headers: &self.headers,
            content_length: self.content_length,
            client_key: &self.client_key,
        }
    }
}

fn run_at(r: &Req, o: &ProxyOptions, state: &mut ProxyState, now: f64) -> Decision {
    decide(&r.incoming(), o, state, now)
}

fn run(r: &Req, o: &ProxyOptions) -> Decision {
    run_at(r, o, &mut ProxyState::new(), NOW)
}

/// The refusal a decision must be.
fn refused(d: Decision) -> Respond {
    match d {
        Decision::Respond(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Status, `error.code`, and the body parsed, checking the OpenAI error shape.
fn error_of(r: &Respond) -> (u16, String, Value) {
    let v = json(&r.body);
    let e = &v["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert!(e["type"].is_string(), "{}", r.body);
    let code = e["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(r.header("content-type"), Some("application/json"));
    (r.status, code, v)
}

fn status_code(d: Decision) -> (u16, String) {
    let r = refused(d);
    let (s, c, _) = error_of(&r);
    (s, c)
}

fn message(r: &Respond) -> String {
    json(&r.body)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn forward(body: &str, o: &ProxyOptions) -> Forward {
    check_chat_body(body.as_bytes(), None, o).unwrap_or_else(|r| panic!("refused: {}", r.body))
}

fn body_refusal(body: &str, o: &ProxyOptions) -> Respond {
    match check_chat_body(body.as_bytes(), Some(APP), o) {
        Ok(f) => panic!("forwarded: {}", f.body),
        Err(r) => r,
    }
}

const HELLO: &str = r#"{"model":"org/model","messages":[{"role":"user","content":"Hello"}]}"#;

fn chat(extra: &str) -> String {
    format!(r#"{{"model":"org/model","messages":[{{"role":"user","content":"Hi"}}]{extra}}}"#)
}

/// A stand-in for the shell's HMAC-SHA-256: any keyed function of the payload will do
/// for checking that the core hands over the right bytes.
fn fake_hmac(secret: &str, payload: &str) -> Vec<u8> {
    let mut out = [0u8; 32];
    for (i, b) in secret.bytes().chain(payload.bytes()).enumerate() {
        out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(b);
    }
    out.to_vec()
}

fn shell_verifies(secret: &str, proof_payload: &str, signature: &[u8]) -> bool {
    fake_hmac(secret, proof_payload) == signature
}

const SESSION_SECRET: &str = "session-secret-of-the-shell";

/// Issue a token the way the shell does: `GET /session`, sign, wrap.
fn issue(r: &Req, o: &ProxyOptions, now: f64) -> (String, SessionGrant) {
    match run_at(r, o, &mut ProxyState::new(), now) {
        Decision::Session(grant) => {
            let sig = fake_hmac(SESSION_SECRET, &grant.payload);
            (session_token(&grant.payload, &sig), grant)
        }
        other => panic!("expected a session grant, got {other:?}"),
    }
}

fn bearer(r: Req, token: &str) -> Req {
    r.header("Authorization", &format!("Bearer {token}"))
}

// ---------------------------------------------------------------------------------------
// Routes and methods
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_route_is_404_with_a_json_error() {
    assert_eq!(
        status_code(run(&Req::new("GET", "/"), &opts())),
        (404, "unknown_route".into())
    );
    assert_eq!(
        status_code(run(&Req::new("POST", "/v1/completions"), &opts())).0,
        404
    );
    assert_eq!(
        status_code(run(&Req::new("GET", "/v1/models/org/model"), &opts())).0,
        404
    );
}

#[test]
fn path_tricks_never_reach_a_route() {
    for path in [
        "/v1/chat/completions/../../x",
        "/v1/chat/completions/..",
        "/x/../v1/chat/completions",
        "/./v1/chat/completions",
        "//evil.com/v1/chat/completions",
        "//evil.com",
        "https://evil.com/v1/chat/completions",
        "http://router.huggingface.co/v1/chat/completions",
        "/v1/chat%2Fcompletions",
        "/v1/chat/completions%00",
        "\\v1\\chat\\completions",
        "/v1/chat/completions;x",
        "/V1/CHAT/COMPLETIONS",
        "v1/chat/completions",
    ] {
        let d = run(&Req::new("POST", path), &opts());
        assert_eq!(status_code(d).0, 404, "{path}");
    }
}

#[test]
fn query_and_one_trailing_slash_still_route() {
    assert!(matches!(
        run(
            &Req::new("POST", "/v1/chat/completions?api-version=1"),
            &opts()
        ),
        Decision::ReadBody { .. }
    ));
    assert!(matches!(
        run(&Req::new("POST", "/v1/chat/completions/"), &opts()),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn wrong_method_is_405_with_allow() {
    let r = refused(run(&Req::new("GET", "/v1/chat/completions"), &opts()));
    assert_eq!(error_of(&r).0, 405);
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    let r = refused(run(&Req::new("DELETE", "/v1/models"), &opts()));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, OPTIONS")));
    // Methods are case-sensitive.
    assert_eq!(
        refused(run(&Req::new("post", "/v1/chat/completions"), &opts())).status,
        405
    );
}

#[test]
fn health_needs_no_credentials_and_is_never_rate_limited() {
    let o = ProxyOptions {
        rate_limit: Some(RateLimit {
            requests_per_minute: 1,
            burst: 1,
            max_clients: 10,
        }),
        ..with_key()
    };
    let mut state = ProxyState::new();
    for _ in 0..5 {
        match run_at(&Req::new("GET", "/health"), &o, &mut state, NOW) {
            Decision::Health(r) => {
                assert_eq!(r.status, 200);
                assert_eq!(json(&r.body)["status"], "ok");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn session_route_exists_only_with_sessions_on() {
    assert_eq!(
        status_code(run(&Req::new("GET", "/session"), &opts())).0,
        404
    );
    assert!(matches!(
        run(&Req::new("GET", "/session"), &with_sessions()),
        Decision::Session(_)
    ));
}

#[test]
fn chat_asks_the_shell_to_read_at_most_the_body_limit() {
    let o = ProxyOptions {
        max_body_bytes: 1000,
        ..opts()
    };
    assert_eq!(run(&Req::chat(), &o), Decision::ReadBody { limit: 1000 });
    assert_eq!(
        run(&Req::chat().length(1000), &o),
        Decision::ReadBody { limit: 1000 }
    );
}

// ---------------------------------------------------------------------------------------
// Origins and CORS
// ---------------------------------------------------------------------------------------

#[test]
fn requests_without_origin_are_served() {
    assert!(matches!(
        run(&Req::chat(), &opts()),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn same_origin_is_served_without_cors_headers() {
    let o = ProxyOptions::default();
    let d = run(&Req::new("GET", "/health").origin(SELF), &o);
    let Decision::Health(r) = d else {
        panic!("{d:?}")
    };
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn unknown_origin_is_403_without_cors_headers() {
    let r = refused(run(&Req::chat().origin("https://evil.example"), &opts()));
    assert_eq!(error_of(&r).1, "origin_not_allowed");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn default_options_allow_no_cross_origin_page() {
    let o = ProxyOptions::default();
    assert_eq!(status_code(run(&Req::chat().origin(APP), &o)).0, 403);
}

#[test]
fn listed_origin_gets_its_origin_echoed_and_vary() {
    let d = run(&Req::new("GET", "/health").origin(APP), &opts());
    let Decision::Health(r) = d else {
        panic!("{d:?}")
    };
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("vary"), Some("origin"));
    assert!(r
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("retry-after")));
    assert_eq!(r.header("access-control-allow-credentials"), None);
}

#[test]
fn star_allows_any_origin_and_echoes_it() {
    let o = ProxyOptions {
        allowed_origins: AllowList::from_entries(["*"]),
        ..opts()
    };
    for origin in ["https://anything.example", "http://localhost:5173", "null"] {
        let d = run(&Req::new("GET", "/health").origin(origin), &o);
        let Decision::Health(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    }
}

#[test]
fn origin_matching_is_exact() {
    let o = ProxyOptions {
        allowed_origins: AllowList::from_entries(["https://app.example/", "http://localhost:8787"]),
        ..opts()
    };
    for ok in [
        "https://app.example",
        "HTTPS://APP.EXAMPLE",
        "http://localhost:8787",
    ] {
        assert!(
            matches!(run(&Req::chat().origin(ok), &o), Decision::ReadBody { .. }),
            "{ok}"
        );
    }
    for bad in [
        "https://app.example.evil.com",
        "https://evil-app.example",
        "http://app.example",
        "https://app.example:8443",
        "https://sub.app.example",
        "http://localhost:8788",
        "http://localhost",
        "null",
        "",
    ] {
        assert_eq!(
            status_code(run(&Req::chat().origin(bad), &o)).0,
            403,
            "{bad:?}"
        );
    }
}

#[test]
fn refusals_to_an_allowed_origin_carry_cors_so_the_page_can_read_them() {
    let r = refused(run(&Req::new("GET", "/nope").origin(APP), &opts()));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let r = body_refusal("{", &opts());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

// ---------------------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------------------

#[test]
fn preflight_from_an_allowed_origin_is_answered() {
    let req = Req::new("OPTIONS", "/v1/chat/completions")
        .origin(APP)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, authorization",
        );
    let d = run(&req, &with_key());
    let Decision::Preflight(r) = d else {
        panic!("{d:?}")
    };
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    let allowed = r.header("access-control-allow-headers").unwrap_or_default();
    for h in ["authorization", "content-type", "x-proxy-key"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.header("vary").is_some_and(|v| v.contains("origin")));
}

#[test]
fn preflight_echoes_the_openai_clients_own_headers() {
    let req = Req::new("OPTIONS", "/v1/chat/completions")
        .origin(APP)
        .header(
            "access-control-request-headers",
            "x-stainless-os,x-stainless-lang,x-stainless-retry-count,content-type",
        );
    let Decision::Preflight(r) = run(&req, &opts()) else {
        panic!()
    };
    let allowed = r.header("access-control-allow-headers").unwrap_or_default();
    assert!(allowed.contains("x-stainless-retry-count"), "{allowed}");
}

#[test]
fn preflight_from_an_unknown_origin_is_403() {
    let req = Req::new("OPTIONS", "/v1/chat/completions").origin("https://evil.example");
    let r = refused(run(&req, &opts()));
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn preflight_needs_no_credentials_and_is_not_rate_limited() {
    let o = ProxyOptions {
        rate_limit: Some(RateLimit {
            requests_per_minute: 1,
            burst: 1,
            max_clients: 10,
        }),
        sessions: Some(SessionOptions::default()),
        ..with_key()
    };
    let mut state = ProxyState::new();
    for _ in 0..5 {
        let req = Req::new("OPTIONS", "/v1/chat/completions").origin(APP);
        assert!(matches!(
            run_at(&req, &o, &mut state, NOW),
            Decision::Preflight(_)
        ));
    }
    assert!(state.limiter.is_empty());
}

#[test]
fn preflight_for_a_route_lists_only_its_method() {
    let req = Req::new("OPTIONS", "/v1/models")
        .origin(APP)
        .header("access-control-request-method", "DELETE");
    let Decision::Preflight(r) = run(&req, &opts()) else {
        panic!()
    };
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, OPTIONS")
    );
}

// ---------------------------------------------------------------------------------------
// Proxy key
// ---------------------------------------------------------------------------------------

#[test]
fn missing_proxy_key_is_401_with_www_authenticate() {
    let r = refused(run(&Req::chat(), &with_key()));
    assert_eq!(error_of(&r).0, 401);
    assert_eq!(error_of(&r).1, "missing_credentials");
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    assert!(message(&r).contains("x-proxy-key"));
}

#[test]
fn wrong_proxy_key_is_401() {
    for wrong in [
        "",
        "x",
        &KEY[..KEY.len() - 1],
        &format!("{KEY}x"),
        &KEY.to_uppercase(),
    ] {
        let d = run(&Req::chat().header("x-proxy-key", wrong), &with_key());
        let (s, code) = status_code(d);
        assert_eq!(s, 401, "{wrong:?}");
        assert!(
            code == "invalid_proxy_key" || code == "missing_credentials",
            "{code}"
        );
    }
    let d = run(&bearer(Req::chat(), "not-the-key"), &with_key());
    assert_eq!(status_code(d), (401, "invalid_proxy_key".into()));
}

#[test]
fn proxy_key_is_accepted_in_its_header_or_as_a_bearer() {
    assert!(matches!(
        run(&Req::chat().header("X-Proxy-Key", KEY), &with_key()),
        Decision::ReadBody { .. }
    ));
    assert!(matches!(
        run(&bearer(Req::chat(), KEY), &with_key()),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn models_need_the_key_too() {
    assert_eq!(
        status_code(run(&Req::new("GET", "/v1/models"), &with_key())).0,
        401
    );
}

#[test]
fn without_key_or_sessions_client_authorization_is_ignored() {
    assert!(matches!(
        run(&bearer(Req::chat(), "sk-whatever"), &opts()),
        Decision::ReadBody { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

#[test]
fn session_issue_and_use_round_trip() {
    let o = with_sessions();
    let (token, grant) = issue(&Req::new("GET", "/session").origin(APP), &o, NOW);
    assert!(token.starts_with("hfp1."));
    assert_eq!(grant.expires_at_ms, NOW as u64 + 600_000);

    let answer = session_issued(&token, grant.expires_at_ms, Some(APP), &o);
    let v = json(&answer.body);
    assert_eq!(
        (answer.status, v["token"].as_str()),
        (200, Some(token.as_str()))
    );
    assert_eq!(v["expires_at"], grant.expires_at_ms);
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    let req = bearer(Req::chat().origin(APP), &token);
    match run_at(&req, &o, &mut ProxyState::new(), NOW + 1000.0) {
        Decision::VerifySession {
            payload,
            signature,
            then,
        } => {
            assert_eq!(payload, grant.payload);
            assert!(shell_verifies(SESSION_SECRET, &payload, &signature));
            assert_eq!(*then, Decision::ReadBody { limit: 64 * 1024 });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chat_without_a_session_is_401() {
    let (s, code) = status_code(run(&Req::chat(), &with_sessions()));
    assert_eq!((s, code.as_str()), (401, "missing_credentials"));
    // An OpenAI client's placeholder key is not a session.
    let (s, _) = status_code(run(
        &bearer(Req::chat(), "sk-placeholder"),
        &with_sessions(),
    ));
    assert_eq!(s, 401);
}

#[test]
fn expired_session_is_401() {
    let o = with_sessions();
    let (token, grant) = issue(&Req::new("GET", "/session"), &o, NOW);
    let at = grant.expires_at_ms as f64;
    let d = run_at(&bearer(Req::chat(), &token), &o, &mut ProxyState::new(), at);
    assert_eq!(status_code(d), (401, "session_expired".into()));
    let d = run_at(
        &bearer(Req::chat(), &token),
        &o,
        &mut ProxyState::new(),
        at - 1.0,
    );
    assert!(matches!(d, Decision::VerifySession { .. }));
}

#[test]
fn session_is_bound_to_its_origin() {
    let o = ProxyOptions {
        allowed_origins: AllowList::from_entries([APP, "https://other.example"]),
        ..with_sessions()
    };
    let (token, _) = issue(&Req::new("GET", "/session").origin(APP), &o, NOW);
    let from = |origin: Option<&str>| {
        let mut r = bearer(Req::chat(), &token);
        r.origin = origin.map(str::to_owned);
        run(&r, &o)
    };
    assert!(matches!(from(Some(APP)), Decision::VerifySession { .. }));
    assert_eq!(
        status_code(from(Some("https://other.example"))),
        (401, "session_mismatch".into())
    );
    assert_eq!(status_code(from(None)), (401, "session_mismatch".into()));
}

#[test]
fn session_issued_without_origin_works_from_a_same_origin_page() {
    // A same-origin GET carries no Origin; the page's POST does.
    let o = with_sessions();
    let (token, _) = issue(&Req::new("GET", "/session"), &o, NOW);
    assert!(matches!(
        run(&bearer(Req::chat().origin(SELF), &token), &o),
        Decision::VerifySession { .. }
    ));
}

#[test]
fn session_is_bound_to_its_client_unless_told_otherwise() {
    let o = with_sessions();
    let (token, _) = issue(&Req::new("GET", "/session"), &o, NOW);
    let d = run(&bearer(Req::chat().client("198.51.100.1"), &token), &o);
    assert_eq!(status_code(d), (401, "session_mismatch".into()));

    let loose = ProxyOptions {
        sessions: Some(SessionOptions {
            bind_client: false,
            ..SessionOptions::default()
        }),
        ..opts()
    };
    let (token, _) = issue(&Req::new("GET", "/session"), &loose, NOW);
    let d = run(&bearer(Req::chat().client("198.51.100.1"), &token), &loose);
    assert!(matches!(d, Decision::VerifySession { .. }));
}

#[test]
fn tampered_session_never_verifies() {
    let o = with_sessions();
    let (token, grant) = issue(&Req::new("GET", "/session").origin(APP), &o, NOW);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5);
    let later = (grant.expires_at_ms + 1000).to_string();
    let evil = b64url_encode(b"https://evil.example");
    let other_client = b64url_encode(b"198.51.100.1");
    let mut flipped_sig = b64url_decode(parts[4]).unwrap_or_default();
    flipped_sig[0] ^= 1;
    let flipped_sig = b64url_encode(&flipped_sig);
    let tampered = [
        // Expiry pushed back: the payload differs, so the signature does not match.
        [parts[0], &later, parts[2], parts[3], parts[4]].join("."),
        // Another origin or client written in.
        [parts[0], parts[1], &evil, parts[3], parts[4]].join("."),
        [parts[0], parts[1], parts[2], &other_client, parts[4]].join("."),
        // A changed signature.
        [parts[0], parts[1], parts[2], parts[3], &flipped_sig].join("."),
    ];
    let sessions = SessionOptions {
        bind_client: false,
        ..SessionOptions::default()
    };
    for t in &tampered {
        for (origin, client) in [
            (APP, CLIENT),
            ("https://evil.example", CLIENT),
            (APP, "198.51.100.1"),
        ] {
            if let Ok(SessionProof { payload, signature }) =
                parse_session(t, NOW, Some(origin), client, &sessions)
            {
                assert!(!shell_verifies(SESSION_SECRET, &payload, &signature), "{t}");
            }
        }
    }
}

#[test]
fn malformed_session_tokens_are_401() {
    let o = with_sessions();
    let (token, _) = issue(&Req::new("GET", "/session"), &o, NOW);
    let short_sig = format!(
        "{}.{}",
        token.rsplit_once('.').map_or("", |p| p.0),
        b64url_encode(&[1; 16])
    );
    for t in [
        "hfp1.",
        "hfp1.1.2.3",
        "hfp1.x.AA.AA.AA",
        "hfp1.99999999999999999999.AA.AA.AA",
        "hfp2.1.AA.AA.AA",
        &format!("{token}.extra"),
        &format!("{token}="),
        &token.replacen("hfp1.", "hfp1.+", 1),
        &short_sig,
        &format!("hfp1.{}", "A".repeat(5000)),
    ] {
        let d = run(&bearer(Req::chat(), t), &o);
        let (s, code) = status_code(d);
        assert_eq!(s, 401, "{t}");
        assert!(
            code == "invalid_session" || code == "missing_credentials",
            "{t}: {code}"
        );
    }
}

#[test]
fn session_expiring_further_ahead_than_the_ttl_is_refused() {
    let sessions = SessionOptions::default();
    // Issued under a one-day TTL, checked under the default ten minutes.
    let long = SessionOptions {
        ttl_ms: 86_400_000,
        ..sessions
    };
    let grant = hf_inference_wasm::proxy::session_payload(None, CLIENT, NOW, &long);
    let token = session_token(&grant.payload, &[7; 32]);
    assert_eq!(
        parse_session(&token, NOW, None, CLIENT, &sessions),
        Err(Reason::InvalidSession)
    );
}

#[test]
fn with_a_key_too_sessions_are_issued_only_to_key_holders() {
    let o = ProxyOptions {
        sessions: Some(SessionOptions::default()),
        ..with_key()
    };
    assert_eq!(status_code(run(&Req::new("GET", "/session"), &o)).0, 401);
    let (token, _) = issue(
        &Req::new("GET", "/session").header("x-proxy-key", KEY),
        &o,
        NOW,
    );
    // The page then uses the session; the key still works on its own.
    assert!(matches!(
        run(&bearer(Req::chat(), &token), &o),
        Decision::VerifySession { .. }
    ));
    assert!(matches!(
        run(&Req::chat().header("x-proxy-key", KEY), &o),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn session_token_is_not_a_proxy_key() {
    // Sessions off: a well-formed session token is just a wrong key.
    let grant =
        hf_inference_wasm::proxy::session_payload(None, CLIENT, NOW, &SessionOptions::default());
    let token = session_token(&grant.payload, &[0; 32]);
    assert_eq!(
        status_code(run(&bearer(Req::chat(), &token), &with_key())).0,
        401
    );
}

#[test]
fn session_rejected_is_a_401_json_error() {
    let r = session_rejected(Some(APP), &with_sessions());
    assert_eq!(error_of(&r), (401, "invalid_session".into(), json(&r.body)));
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

#[test]
fn refusals_are_not_wrapped_in_verification() {
    // A valid-looking session on an oversized body: 413 at once, nothing to verify.
    let o = with_sessions();
    let (token, _) = issue(&Req::new("GET", "/session"), &o, NOW);
    let d = run(&bearer(Req::chat().length(1 << 20), &token), &o);
    assert_eq!(status_code(d).0, 413);
}

// ---------------------------------------------------------------------------------------
// Rate limit
// ---------------------------------------------------------------------------------------

fn limited(per_minute: u32, burst: u32) -> ProxyOptions {
    ProxyOptions {
        rate_limit: Some(RateLimit {
            requests_per_minute: per_minute,
            burst,
            max_clients: 100,
        }),
        ..opts()
    }
}

#[test]
fn over_the_limit_is_429_with_retry_after_rounded_up() {
    let o = limited(60, 2);
    let mut state = ProxyState::new();
    let req = Req::chat();
    for _ in 0..2 {
        assert!(matches!(
            run_at(&req, &o, &mut state, NOW),
            Decision::ReadBody { .. }
        ));
    }
    let r = refused(run_at(&req, &o, &mut state, NOW));
    assert_eq!(error_of(&r).0, 429);
    assert_eq!(error_of(&r).1, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("retry-after-ms"), Some("1000"));
    let r = refused(run_at(&req, &o, &mut state, NOW + 999.0));
    assert_eq!(
        (r.header("retry-after"), r.header("retry-after-ms")),
        (Some("1"), Some("1"))
    );
    assert!(matches!(
        run_at(&req, &o, &mut state, NOW + 1000.0),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn retry_after_counts_whole_seconds_up() {
    // One per minute: the second request waits 60 s; 100.5 s later... 59.5 s → 60.
    let o = limited(1, 1);
    let mut state = ProxyState::new();
    let _ = run_at(&Req::chat(), &o, &mut state, NOW);
    let r = refused(run_at(&Req::chat(), &o, &mut state, NOW + 500.0));
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.header("retry-after-ms"), Some("59500"));
    // 7 per minute: 8571.43 ms per token → 8572 ms → 9 s.
    let o = limited(7, 1);
    let mut state = ProxyState::new();
    let _ = run_at(&Req::chat(), &o, &mut state, NOW);
    let r = refused(run_at(&Req::chat(), &o, &mut state, NOW));
    assert_eq!(
        (r.header("retry-after"), r.header("retry-after-ms")),
        (Some("9"), Some("8572"))
    );
}

#[test]
fn each_client_key_has_its_own_bucket() {
    let o = limited(60, 1);
    let mut state = ProxyState::new();
    assert!(matches!(
        run_at(&Req::chat().client("a"), &o, &mut state, NOW),
        Decision::ReadBody { .. }
    ));
    assert_eq!(
        refused(run_at(&Req::chat().client("a"), &o, &mut state, NOW)).status,
        429
    );
    assert!(matches!(
        run_at(&Req::chat().client("b"), &o, &mut state, NOW),
        Decision::ReadBody { .. }
    ));
}

#[test]
fn models_and_sessions_count_against_the_limit() {
    let o = ProxyOptions {
        sessions: Some(SessionOptions::default()),
        ..limited(60, 2)
    };
    let mut state = ProxyState::new();
    let _ = run_at(&Req::new("GET", "/v1/models"), &o, &mut state, NOW);
    let _ = run_at(&Req::new("GET", "/session"), &o, &mut state, NOW);
    assert_eq!(
        refused(run_at(&Req::new("GET", "/session"), &o, &mut state, NOW)).status,
        429
    );
}

#[test]
fn refused_requests_cost_nothing() {
    let mut r = RateLimiter::new();
    let l = RateLimit {
        requests_per_minute: 60,
        burst: 1,
        max_clients: 10,
    };
    assert!(matches!(r.admit("k", &l, 0.0), Admission::Allowed { .. }));
    for t in 0..100 {
        assert!(matches!(
            r.admit("k", &l, f64::from(t)),
            Admission::Limited { .. }
        ));
    }
    assert!(matches!(
        r.admit("k", &l, 1000.0),
        Admission::Allowed { .. }
    ));
}

#[test]
fn rate_limit_off_never_limits() {
    let o = ProxyOptions {
        rate_limit: None,
        ..opts()
    };
    let mut state = ProxyState::new();
    for _ in 0..1000 {
        assert!(matches!(
            run_at(&Req::chat(), &o, &mut state, NOW),
            Decision::ReadBody { .. }
        ));
    }
}

#[test]
fn limiter_remembers_at_most_max_clients() {
    let l = RateLimit {
        requests_per_minute: 60,
        burst: 5,
        max_clients: 100,
    };
    let mut r = RateLimiter::new();
    for i in 0..10_000 {
        let _ = r.admit(&format!("client-{i}"), &l, NOW);
        assert!(r.len() <= 100);
    }
    assert_eq!(r.len(), 100);
}

#[test]
fn limiter_forgets_full_buckets_before_busy_ones() {
    let l = RateLimit {
        requests_per_minute: 60,
        burst: 1,
        max_clients: 3,
    };
    let mut r = RateLimiter::new();
    // "busy" spends its token last, so it is the most recently used but in debt the
    // longest; "a" and "b" are full again by the time "c" arrives.
    let _ = r.admit("a", &l, 0.0);
    let _ = r.admit("b", &l, 0.0);
    let _ = r.admit("busy", &l, 900.0);
    let _ = r.admit("c", &l, 1500.0);
    assert_eq!(r.len(), 2, "both full buckets forgotten");
    assert!(matches!(
        r.admit("busy", &l, 1500.0),
        Admission::Limited { .. }
    ));
}

#[test]
fn limiter_evicts_the_least_recently_used_when_none_is_full() {
    let l = RateLimit {
        requests_per_minute: 1,
        burst: 1,
        max_clients: 2,
    };
    let mut r = RateLimiter::new();
    let _ = r.admit("old", &l, 0.0);
    let _ = r.admit("recent", &l, 1.0);
    let _ = r.admit("new", &l, 2.0);
    assert_eq!(r.len(), 2);
    // "old" was forgotten (a fresh bucket), "recent" still waits.
    assert!(matches!(
        r.admit("recent", &l, 3.0),
        Admission::Limited { .. }
    ));
    assert!(matches!(r.admit("old", &l, 3.0), Admission::Allowed { .. }));
}

#[test]
fn guessing_the_proxy_key_is_rate_limited() {
    let o = ProxyOptions {
        rate_limit: Some(RateLimit {
            requests_per_minute: 60,
            burst: 3,
            max_clients: 10,
        }),
        ..with_key()
    };
    let mut state = ProxyState::new();
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            let guess = format!("guess-{i}-0123456789abcdef");
            refused(run_at(
                &Req::chat().header("x-proxy-key", &guess),
                &o,
                &mut state,
                NOW,
            ))
            .status
        })
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}

// ---------------------------------------------------------------------------------------
// Body size and validation
// ---------------------------------------------------------------------------------------

#[test]
fn content_length_over_the_limit_is_413_before_reading() {
    let r = refused(run(&Req::chat().length(64 * 1024 + 1), &opts()));
    assert_eq!(error_of(&r).0, 413);
    assert_eq!(error_of(&r).1, "body_too_large");
}

#[test]
fn body_over_the_limit_is_413_when_there_was_no_content_length() {
    let o = ProxyOptions {
        max_body_bytes: 100,
        ..opts()
    };
    let big = chat(&format!(r#","pad":"{}""#, "x".repeat(200)));
    assert_eq!(error_of(&body_refusal(&big, &o)).0, 413);
}

#[test]
fn invalid_json_is_400_naming_the_problem() {
    for (body, needle) in [
        ("", "empty"),
        ("   ", "empty"),
        ("{", "not valid JSON"),
        ("{\"model\":", "not valid JSON"),
        ("\u{feff}{}", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ("\"hi\"", "JSON object"),
        ("null", "JSON object"),
    ] {
        let r = body_refusal(body, &opts());
        assert_eq!(r.status, 400, "{body:?}");
        assert!(message(&r).contains(needle), "{body:?}: {}", message(&r));
    }
    let r = body_refusal("{", &opts());
    assert_eq!(error_of(&r).1, "invalid_json");
}

#[test]
fn invalid_utf8_is_400() {
    let mut body = HELLO.as_bytes().to_vec();
    body[60] = 0xff;
    let r = check_chat_body(&body, None, &opts())
        .err()
        .map(|r| r.status);
    assert_eq!(r, Some(400));
}

#[test]
fn messages_problems_are_400_naming_the_field() {
    for (body, field) in [
        (r#"{"model":"org/model"}"#, "`messages` is required"),
        (
            r#"{"model":"org/model","messages":null}"#,
            "`messages` is required",
        ),
        (
            r#"{"model":"org/model","messages":[]}"#,
            "`messages` must not be empty",
        ),
        (
            r#"{"model":"org/model","messages":"hi"}"#,
            "`messages` must be an array",
        ),
        (
            r#"{"model":"org/model","messages":{"role":"user"}}"#,
            "`messages` must be an array",
        ),
        (
            r#"{"model":"org/model","messages":[{"role":"user"},"x"]}"#,
            "`messages[1]`",
        ),
        (
            r#"{"model":"org/model","messages":[{"content":"x"}]}"#,
            "`messages[0].role`",
        ),
        (
            r#"{"model":"org/model","messages":[{"role":1}]}"#,
            "`messages[0].role`",
        ),
    ] {
        let r = body_refusal(body, &opts());
        assert_eq!(error_of(&r).0, 400, "{body}");
        assert_eq!(error_of(&r).1, "invalid_request", "{body}");
        assert!(message(&r).contains(field), "{body}: {}", message(&r));
    }
}

#[test]
fn model_must_be_present_and_well_formed() {
    for (body, needle) in [
        (r#"{"messages":[{"role":"user"}]}"#, "`model` is required"),
        (
            r#"{"model":null,"messages":[{"role":"user"}]}"#,
            "`model` is required",
        ),
        (
            r#"{"model":5,"messages":[{"role":"user"}]}"#,
            "`model` must be a string",
        ),
        (
            r#"{"model":"../org/model","messages":[{"role":"user"}]}"#,
            "model id",
        ),
        (
            r#"{"model":"https://evil.com/x","messages":[{"role":"user"}]}"#,
            "model id",
        ),
        (
            r#"{"model":"org/model:","messages":[{"role":"user"}]}"#,
            "model id",
        ),
        (
            r#"{"model":"org/model b","messages":[{"role":"user"}]}"#,
            "model id",
        ),
    ] {
        let r = body_refusal(body, &opts());
        assert_eq!(r.status, 400, "{body}");
        assert!(message(&r).contains(needle), "{body}: {}", message(&r));
    }
}

#[test]
fn model_not_on_the_allow_list_is_403() {
    let r = body_refusal(
        r#"{"model":"org/expensive-405b","messages":[{"role":"user"}]}"#,
        &opts(),
    );
    assert_eq!(error_of(&r).0, 403);
    assert_eq!(error_of(&r).1, "model_not_allowed");
    assert!(message(&r).contains("org/model"), "lists what is allowed");
}

#[test]
fn default_allows_no_model_and_says_how_to_fix_it() {
    let o = ProxyOptions::default();
    let r = body_refusal(HELLO, &o);
    assert_eq!(error_of(&r).1, "model_not_allowed");
    assert!(message(&r).contains("allowedModels"));
}

#[test]
fn provider_suffix_is_checked_against_the_provider_list() {
    let o = ProxyOptions {
        allowed_providers: AllowList::from_entries(["together", "fastest"]),
        ..opts()
    };
    assert_eq!(
        forward(&chat("").replace("org/model", "org/model:together"), &o).model,
        "org/model:together"
    );
    assert_eq!(
        forward(&chat("").replace("org/model", "org/model:fastest"), &o).model,
        "org/model:fastest"
    );
    let r = body_refusal(&chat("").replace("org/model", "org/model:groq"), &o);
    assert_eq!(
        (r.status, error_of(&r).1.as_str()),
        (403, "provider_not_allowed")
    );
    // No provider named: pinned to the first allowed one.
    assert_eq!(forward(&chat(""), &o).model, "org/model:together");
}

#[test]
fn model_entry_with_a_provider_pins_it() {
    let f = forward(
        r#"{"model":"ORG/PINNED","messages":[{"role":"user"}]}"#,
        &opts(),
    );
    assert_eq!(f.model, "org/pinned:groq");
    assert_eq!(json(&f.body)["model"], "org/pinned:groq");
    let r = body_refusal(
        r#"{"model":"org/pinned:together","messages":[{"role":"user"}]}"#,
        &opts(),
    );
    assert_eq!(
        error_of(&r),
        (403, "provider_not_allowed".into(), json(&r.body))
    );
}

#[test]
fn any_model_with_star() {
    let o = ProxyOptions {
        allowed_models: AllowList::from_entries(["*"]),
        ..opts()
    };
    let f = forward(
        r#"{"model":"Some/Model:Nebius","messages":[{"role":"user"}]}"#,
        &o,
    );
    // Sent as written: the suffix is not lowercased (Ollama tags are case-sensitive).
    assert_eq!(f.model, "Some/Model:Nebius");
    for id in [
        "qwen2.5:7b-instruct-q4_K_M",
        "@cf/meta/llama-3.1-8b-instruct",
        "ft:gpt-4o-mini-2024-07-18:my-org::9abcDEF",
        "mistral-large@2407",
    ] {
        let f = forward(
            &format!(r#"{{"model":"{id}","messages":[{{"role":"user"}}]}}"#),
            &o,
        );
        assert_eq!(f.model, id);
        assert_eq!(json(&f.body)["model"], id);
    }
}

#[test]
fn an_allow_list_entry_matching_the_whole_id_allows_it_as_spelled() {
    let o = ProxyOptions {
        allowed_models: AllowList::from_entries(["qwen2.5:7b-instruct-q4_K_M"]),
        allowed_providers: AllowList::from_entries(["groq"]),
        ..opts()
    };
    let f = forward(
        r#"{"model":"QWEN2.5:7b-instruct-q4_k_m","messages":[{"role":"user"}]}"#,
        &o,
    );
    assert_eq!(f.model, "qwen2.5:7b-instruct-q4_K_M");
}

#[test]
fn max_tokens_over_the_cap_is_clamped_by_default() {
    let f = forward(&chat(r#","max_tokens":100000"#), &opts());
    assert_eq!(json(&f.body)["max_tokens"], 4096);
    assert_eq!(f.max_tokens, Some(4096));
    let f = forward(&chat(r#","max_completion_tokens":5000"#), &opts());
    assert_eq!(json(&f.body)["max_completion_tokens"], 4096);
}

#[test]
fn max_tokens_over_the_cap_is_400_in_reject_mode() {
    let o = ProxyOptions {
        max_tokens_mode: MaxTokensMode::Reject,
        max_tokens_cap: Some(512),
        ..opts()
    };
    let r = body_refusal(&chat(r#","max_tokens":513"#), &o);
    assert_eq!(error_of(&r).0, 400);
    assert_eq!(error_of(&r).1, "max_tokens_too_large");
    assert!(message(&r).contains("512"));
    assert_eq!(
        json(&forward(&chat(r#","max_tokens":512"#), &o).body)["max_tokens"],
        512
    );
}

#[test]
fn max_tokens_under_the_cap_is_kept_and_absent_stays_absent() {
    assert_eq!(
        json(&forward(&chat(r#","max_tokens":10"#), &opts()).body)["max_tokens"],
        10
    );
    // Nothing inserted by default: reasoning models refuse `max_tokens`, small-context
    // servers refuse a large one, and the client did not ask for a cut.
    let f = forward(HELLO, &opts());
    assert!(json(&f.body).get("max_tokens").is_none(), "{}", f.body);
    assert_eq!(f.max_tokens, None);
    let f = forward(&chat(r#","max_tokens":null"#), &opts());
    assert!(json(&f.body)["max_tokens"].is_null(), "{}", f.body);
    // An operator who wants one sets `default_max_tokens`; it never exceeds the cap.
    let inserting = ProxyOptions {
        default_max_tokens: Some(1000),
        ..opts()
    };
    let f = forward(HELLO, &inserting);
    assert_eq!(json(&f.body)["max_tokens"], 1000);
    assert_eq!(f.max_tokens, Some(1000));
    let f = forward(
        HELLO,
        &ProxyOptions {
            default_max_tokens: Some(100_000),
            ..opts()
        },
    );
    assert_eq!(json(&f.body)["max_tokens"], 4096);
    let uncapped = ProxyOptions {
        max_tokens_cap: None,
        ..opts()
    };
    let f = forward(&chat(r#","max_tokens":1000000"#), &uncapped);
    assert_eq!(json(&f.body)["max_tokens"], 1_000_000);
    assert!(json(&forward(HELLO, &uncapped).body)
        .get("max_tokens")
        .is_none());
}

#[test]
fn max_tokens_must_be_a_non_negative_integer() {
    for v in ["-1", "1.5", "\"100\"", "true", "1e3"] {
        let r = body_refusal(&chat(&format!(r#","max_tokens":{v}"#)), &opts());
        assert_eq!(r.status, 400, "{v}");
        assert!(message(&r).contains("max_tokens"), "{v}");
    }
}

#[test]
fn more_choices_than_allowed_is_400() {
    assert!(check_chat_body(chat(r#","n":1"#).as_bytes(), None, &opts()).is_ok());
    let r = body_refusal(&chat(r#","n":4"#), &opts());
    assert_eq!(
        error_of(&r),
        (400, "too_many_choices".into(), json(&r.body))
    );
    assert_eq!(body_refusal(&chat(r#","n":"2""#), &opts()).status, 400);
}

#[test]
fn stream_flag_is_read_and_must_be_boolean() {
    assert!(forward(&chat(r#","stream":true"#), &opts()).stream);
    assert!(!forward(&chat(r#","stream":false"#), &opts()).stream);
    assert!(!forward(HELLO, &opts()).stream);
    assert_eq!(
        body_refusal(&chat(r#","stream":"yes""#), &opts()).status,
        400
    );
}

#[test]
fn other_fields_pass_through_unchanged() {
    let f = forward(
        &chat(
            r#","temperature":0.25,"tools":[{"type":"function","function":{"name":"f"}}],"stream":true,"stream_options":{"include_usage":true},"seed":18446744073709551615"#,
        ),
        &opts(),
    );
    let v = json(&f.body);
    assert_eq!(v["temperature"], 0.25);
    assert_eq!(v["tools"][0]["function"]["name"], "f");
    assert_eq!(v["stream_options"]["include_usage"], true);
    assert_eq!(v["seed"], u64::MAX);
    assert_eq!(v["messages"][0]["content"], "Hi");
}

#[test]
fn duplicate_model_keys_cannot_smuggle_a_model() {
    let body = r#"{"model":"org/model","messages":[{"role":"user"}],"model":"org/expensive"}"#;
    match check_chat_body(body.as_bytes(), None, &opts()) {
        Ok(f) => {
            assert_eq!(f.body.matches("\"model\"").count(), 1);
            assert_eq!(json(&f.body)["model"], f.model);
            assert!(f.model == "org/model");
        }
        Err(r) => assert!(r.status == 400 || r.status == 403),
    }
}

// ---------------------------------------------------------------------------------------
// The upstream cannot be changed
// ---------------------------------------------------------------------------------------

#[test]
fn url_fields_in_the_body_are_not_honoured_or_forwarded() {
    let f = forward(
        &chat(
            r#","url":"https://evil.com","base_url":"https://evil.com","baseURL":"https://evil.com","endpoint":"https://evil.com","endpoint_url":"https://evil.com","api_base":"https://evil.com","host":"evil.com""#,
        ),
        &opts(),
    );
    assert_eq!(f.url, CHAT_URL);
    assert!(!f.body.contains("evil"), "{}", f.body);
}

#[test]
fn host_and_forwarding_headers_change_nothing() {
    let req = Req::chat()
        .header("Host", "evil.com")
        .header("X-Forwarded-Host", "evil.com")
        .header("Forwarded", "host=evil.com")
        .header("X-Original-URL", "https://evil.com/x");
    assert_eq!(run(&req, &opts()), Decision::ReadBody { limit: 64 * 1024 });
    assert_eq!(forward(HELLO, &opts()).url, CHAT_URL);
    let sent = upstream_headers(&req.headers, TOKEN, "r1");
    assert!(
        sent.iter()
            .all(|(n, v)| !n.contains("host") && !v.contains("evil")),
        "{sent:?}"
    );
}

#[test]
fn models_url_is_fixed_too() {
    let o = ProxyOptions {
        allowed_models: AllowList::Any,
        upstream: "http://127.0.0.1:9/v1".into(),
        ..opts()
    };
    assert_eq!(
        run(&Req::new("GET", "/v1/models?url=https://evil.com"), &o),
        Decision::ModelsUpstream {
            url: "http://127.0.0.1:9/v1/models".into()
        }
    );
    assert_eq!(
        upstream_url(&o, Route::ChatCompletions),
        "http://127.0.0.1:9/v1/chat/completions"
    );
}

#[test]
fn models_are_listed_from_the_allow_list() {
    let d = run(&Req::new("GET", "/v1/models").origin(APP), &opts());
    let Decision::Models(r) = d else {
        panic!("{d:?}")
    };
    let v = json(&r.body);
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["org/model", "org/pinned:groq"]);
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "org");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

// ---------------------------------------------------------------------------------------
// Headers up and down
// ---------------------------------------------------------------------------------------

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn upstream_gets_our_token_and_only_allow_listed_client_headers() {
    let client = headers(&[
        ("Authorization", "Bearer client-token"),
        ("Cookie", "session=abc"),
        ("Host", "evil.com"),
        ("Connection", "keep-alive, x-custom"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Upgrade", "websocket"),
        ("Proxy-Authorization", "Basic abc"),
        ("Proxy-Connection", "keep-alive"),
        ("X-Proxy-Key", KEY),
        ("X-HF-Bill-To", "some-org"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("Origin", APP),
        ("Referer", "https://app.example/chat"),
        ("Content-Type", "text/plain"),
        ("Content-Length", "12"),
        ("Accept", "text/event-stream"),
        ("X-Request-Id", "req-123"),
        ("x-custom", "1"),
    ]);
    // The shell passes the proxy's request id: the client's own when it sent a sane one.
    let id = client_request_id(&client).unwrap_or_default();
    let sent = upstream_headers(&client, TOKEN, &id);
    assert_eq!(
        get(&sent, "authorization"),
        [format!("Bearer {TOKEN}").as_str()]
    );
    assert_eq!(get(&sent, "content-type"), ["application/json"]);
    assert_eq!(get(&sent, "accept"), ["text/event-stream"]);
    assert_eq!(get(&sent, "x-request-id"), ["req-123"]);
    assert_eq!(sent.len(), 4, "{sent:?}");
    let all = format!("{sent:?}");
    for leaked in [
        "client-token",
        "session=abc",
        KEY,
        "some-org",
        "10.0.0.1",
        "evil.com",
        "websocket",
    ] {
        assert!(!all.contains(leaked), "{leaked} leaked: {all}");
    }
}

#[test]
fn upstream_headers_without_client_headers_are_just_ours() {
    let sent = upstream_headers(&[], TOKEN, "proxy-id-1");
    assert_eq!(
        sent,
        headers(&[
            ("x-request-id", "proxy-id-1"),
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {TOKEN}"))
        ])
    );
}

#[test]
fn stream_response_headers_keep_the_stream_flowing() {
    let upstream = headers(&[
        ("Content-Type", "text/event-stream; charset=utf-8"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "1234"),
        ("Transfer-Encoding", "chunked"),
        ("Set-Cookie", "track=1"),
        ("Cache-Control", "public, max-age=3600"),
        ("X-Request-Id", "up-1"),
        ("X-Inference-Provider", "together"),
        ("Server", "nginx"),
    ]);
    let h = response_headers(&upstream, Some(APP), &opts());
    assert_eq!(
        get(&h, "content-type"),
        ["text/event-stream; charset=utf-8"]
    );
    assert_eq!(get(&h, "cache-control"), ["no-cache, no-transform"]);
    assert_eq!(get(&h, "x-accel-buffering"), ["no"]);
    // The client's x-request-id is the proxy's (the shell sets it); the upstream's
    // own id comes back under its own name.
    assert!(get(&h, "x-request-id").is_empty(), "{h:?}");
    assert_eq!(get(&h, "x-upstream-request-id"), ["up-1"]);
    assert_eq!(get(&h, "x-inference-provider"), ["together"]);
    assert_eq!(get(&h, "access-control-allow-origin"), [APP]);
    for gone in [
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "set-cookie",
        "server",
    ] {
        assert!(get(&h, gone).is_empty(), "{gone}: {h:?}");
    }
}

#[test]
fn json_response_headers_are_not_cached_and_cors_only_for_allowed_origins() {
    let upstream = headers(&[("content-type", "application/json"), ("set-cookie", "a=b")]);
    let h = response_headers(&upstream, Some("https://evil.example"), &opts());
    assert_eq!(get(&h, "cache-control"), ["no-store"]);
    assert!(get(&h, "access-control-allow-origin").is_empty());
    assert!(get(&h, "set-cookie").is_empty());
    let h = response_headers(&[], None, &opts());
    assert_eq!(get(&h, "content-type"), ["application/json"]);
}

#[test]
fn upstream_errors_keep_status_and_retry_after_in_the_openai_shape() {
    let r = upstream_error(
        429,
        &headers(&[("Retry-After", "7"), ("set-cookie", "x=y")]),
        r#"{"error":"Rate limit reached","error_type":"overloaded"}"#,
        &[TOKEN],
        Some(APP),
        &opts(),
    );
    let v = json(&r.body);
    assert_eq!(r.status, 429);
    assert_eq!(v["error"]["message"], "Rate limit reached");
    assert_eq!(v["error"]["code"], "overloaded");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("set-cookie"), None);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));

    let r = upstream_error(
        401,
        &[],
        r#"{"error":"Invalid credentials"}"#,
        &[TOKEN],
        None,
        &opts(),
    );
    assert_eq!(
        error_of(&r),
        (502, "upstream_auth_failed".into(), json(&r.body))
    );
    let r = upstream_error(
        503,
        &[],
        "<html>bad gateway</html>",
        &[TOKEN],
        None,
        &opts(),
    );
    assert_eq!(r.status, 503);
    assert!(json(&r.body)["error"]["message"].is_string());
}

#[test]
fn upstream_redirects_are_never_passed_on() {
    let r = upstream_error(
        302,
        &headers(&[("location", "https://evil.example/steal")]),
        "",
        &[TOKEN],
        None,
        &opts(),
    );
    assert_eq!(error_of(&r).0, 502);
    assert_eq!(error_of(&r).1, "upstream_invalid_response");
    assert_eq!(r.header("location"), None);
}

#[test]
fn a_token_cut_in_half_by_the_message_bound_is_still_redacted() {
    for pad in 1000..1030 {
        let body = format!(r#"{{"error":"{}{TOKEN}"}}"#, "x".repeat(pad));
        let r = upstream_error(500, &[], &body, &[TOKEN], None, &opts());
        assert!(!r.body.contains(&TOKEN[..6]), "pad {pad}: {}", r.body);
    }
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

/// Every header and body byte of a response.
fn bytes_of(r: &Respond) -> String {
    let mut s = r.body.clone();
    for (n, v) in &r.headers {
        s.push_str(n);
        s.push_str(v);
    }
    s
}

fn outputs(d: &Decision) -> String {
    match d {
        Decision::Preflight(r)
        | Decision::Respond(r)
        | Decision::Health(r)
        | Decision::Models(r) => bytes_of(r),
        Decision::ModelsUpstream { url } => url.clone(),
        Decision::Session(g) => g.payload.clone(),
        Decision::ReadBody { limit } => limit.to_string(),
        Decision::VerifySession { payload, then, .. } => format!("{payload}{}", outputs(then)),
    }
}

#[test]
fn no_output_ever_carries_the_token_or_the_proxy_key() {
    let o = ProxyOptions {
        sessions: Some(SessionOptions::default()),
        rate_limit: Some(RateLimit {
            requests_per_minute: 60,
            burst: 3,
            max_clients: 10,
        }),
        ..with_key()
    };
    let mut state = ProxyState::new();
    let mut seen = String::new();
    let requests = [
        Req::chat(),
        Req::chat().header("x-proxy-key", KEY),
        Req::chat().header("x-proxy-key", &KEY[..10]),
        bearer(Req::chat(), KEY),
        Req::chat().header("x-proxy-key", KEY).length(1 << 30),
        Req::new("GET", "/v1/models")
            .header("x-proxy-key", KEY)
            .origin(APP),
        Req::new("GET", "/session")
            .header("x-proxy-key", KEY)
            .origin(APP),
        Req::new("GET", "/session"),
        Req::new("OPTIONS", "/v1/chat/completions").origin(APP),
        Req::new("GET", "/health").origin(APP),
        Req::new("GET", &format!("/x?key={KEY}")),
        Req::new("PUT", "/v1/models").header("x-proxy-key", KEY),
        Req::chat()
            .origin("https://evil.example")
            .header("x-proxy-key", KEY),
    ];
    for round in 0..3 {
        for r in &requests {
            seen.push_str(&outputs(&run_at(r, &o, &mut state, NOW + f64::from(round))));
        }
    }
    for body in [
        HELLO.to_owned(),
        "{".to_owned(),
        chat(r#","max_tokens":99999"#),
        chat(r#","n":9"#),
        r#"{"model":"org/nope","messages":[{"role":"user"}]}"#.to_owned(),
        format!(r#"{{"model":"org/model","messages":[{{"role":"user","content":"{KEY}"}}]}}"#),
    ] {
        match check_chat_body(body.as_bytes(), Some(APP), &o) {
            Ok(f) => seen.push_str(&format!(
                "{}{}{}",
                f.url,
                f.model,
                f.max_tokens.unwrap_or(0)
            )),
            Err(r) => seen.push_str(&bytes_of(&r)),
        }
    }
    for (status, body) in [
        (401, format!("bad {TOKEN}")),
        (500, format!(r#"{{"error":"{TOKEN}"}}"#)),
    ] {
        let r = upstream_error(
            status,
            &headers(&[("x-request-id", TOKEN)]),
            &body,
            &[TOKEN],
            None,
            &o,
        );
        seen.push_str(&bytes_of(&r));
    }
    seen.push_str(&format!("{:?}", response_headers(&[], Some(APP), &o)));
    seen.push_str(&bytes_of(&session_rejected(Some(APP), &o)));
    seen.push_str(&log_line(
        &LogRecord {
            request_id: "r",
            path: &format!("/v1/chat/completions?key={KEY}"),
            status: 200,
            content: Some(KEY),
            ..LogRecord::default()
        },
        &o,
    ));
    seen.push_str(&format!(
        "{:?}",
        check_options(&ProxyOptions {
            require_key: Some(format!("{KEY} x")),
            ..o.clone()
        })
    ));
    assert!(!seen.contains(TOKEN), "the upstream token leaked");
    assert!(!seen.contains(KEY), "the proxy key leaked");
    assert!(!seen.contains(&KEY[..10]), "a client's guess was echoed");
}

// ---------------------------------------------------------------------------------------
// Observability
// ---------------------------------------------------------------------------------------

#[test]
fn log_line_is_one_json_line_with_the_request_facts() {
    let usage = usage_from_chunk(
        r#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}"#,
    );
    let line = log_line(
        &LogRecord {
            request_id: "req-1",
            method: "POST",
            path: "/v1/chat/completions",
            origin: Some(APP),
            model: Some("org/model"),
            status: 200,
            reason: None,
            latency_ms: 1234.4,
            first_byte_ms: Some(210.6),
            usage: usage.as_ref(),
            usage_estimated: true,
            upstream_request_id: Some("up-7"),
            content: Some("secret plans"),
        },
        &opts(),
    );
    assert!(!line.contains('\n'));
    let v = json(&line);
    assert_eq!(v["request_id"], "req-1");
    assert_eq!(v["upstream_request_id"], "up-7");
    assert_eq!(v["usage_estimated"], true);
    assert_eq!(v["route"], "/v1/chat/completions");
    assert_eq!(v["origin"], APP);
    assert_eq!(v["model"], "org/model");
    assert_eq!(v["status"], 200);
    assert_eq!(v["latency_ms"], 1234);
    assert_eq!(v["first_byte_ms"], 211);
    assert_eq!(
        (
            v["prompt_tokens"].as_u64(),
            v["completion_tokens"].as_u64(),
            v["total_tokens"].as_u64()
        ),
        (Some(12), Some(30), Some(42))
    );
    assert!(v.get("content").is_none(), "content only when opted in");
    assert!(!line.contains("secret plans"));
}

#[test]
fn log_line_carries_content_only_when_opted_in() {
    let o = ProxyOptions {
        log_content: true,
        ..opts()
    };
    let line = log_line(
        &LogRecord {
            content: Some("hello there"),
            status: 429,
            reason: Some(Reason::RateLimited),
            ..LogRecord::default()
        },
        &o,
    );
    let v = json(&line);
    assert_eq!(v["content"], "hello there");
    assert_eq!(v["code"], "rate_limited");
}

#[test]
fn usage_comes_from_the_final_chunk_only() {
    assert!(usage_from_chunk(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#).is_none());
    assert!(usage_from_chunk(r#"{"choices":[{"delta":{}}],"usage":null}"#).is_none());
    let u = usage_from_chunk(
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
    );
    assert_eq!(u.and_then(|u| u.completion_tokens), Some(2));
    assert!(usage_from_chunk("[DONE]").is_none());
}

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

#[test]
fn options_are_checked_once_with_messages_naming_the_option() {
    assert!(check_options(&ProxyOptions::default()).is_ok());
    assert!(check_options(&with_key()).is_ok());
    let bad = [
        ProxyOptions {
            allowed_origins: AllowList::from_entries(["app.example"]),
            ..opts()
        },
        ProxyOptions {
            allowed_origins: AllowList::from_entries(["https://app.example/path"]),
            ..opts()
        },
        ProxyOptions {
            allowed_models: AllowList::from_entries(["bad model"]),
            ..opts()
        },
        ProxyOptions {
            allowed_providers: AllowList::from_entries(["Bad/Provider"]),
            ..opts()
        },
        ProxyOptions {
            max_body_bytes: 0,
            ..opts()
        },
        ProxyOptions {
            max_tokens_cap: Some(0),
            ..opts()
        },
        ProxyOptions {
            max_choices: 0,
            ..opts()
        },
        ProxyOptions {
            rate_limit: Some(RateLimit {
                requests_per_minute: 0,
                ..RateLimit::default()
            }),
            ..opts()
        },
        ProxyOptions {
            sessions: Some(SessionOptions {
                ttl_ms: 0,
                ..SessionOptions::default()
            }),
            ..opts()
        },
        ProxyOptions {
            sessions: Some(SessionOptions {
                ttl_ms: 7 * 86_400_000,
                ..SessionOptions::default()
            }),
            ..opts()
        },
        ProxyOptions {
            upstream: "https://evil.com@router.huggingface.co".into(),
            ..opts()
        },
    ];
    for o in bad {
        let e = check_options(&o)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains('`'), "no option named for {o:?}: {e:?}");
    }
}

#[test]
fn defaults_are_the_safe_ones() {
    let o = ProxyOptions::default();
    assert_eq!(o.upstream, "https://router.huggingface.co");
    assert_eq!(o.allowed_origins, AllowList::Only(vec![]));
    assert_eq!(o.allowed_models, AllowList::Only(vec![]));
    assert_eq!(o.allowed_providers, AllowList::Any);
    assert_eq!(o.max_body_bytes, 65_536);
    assert_eq!(
        (o.max_tokens_cap, o.max_tokens_mode),
        (Some(4096), MaxTokensMode::Clamp)
    );
    assert_eq!(o.max_choices, 1);
    assert_eq!(
        o.rate_limit,
        Some(RateLimit {
            requests_per_minute: 30,
            burst: 10,
            max_clients: 10_000
        })
    );
    assert_eq!(
        (o.require_key.is_none(), o.sessions.is_none(), o.log_content),
        (true, true, false)
    );
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn any_header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("authorization".to_owned()),
            Just("x-proxy-key".to_owned()),
            Just("access-control-request-headers".to_owned()),
            Just("content-type".to_owned()),
            ".{0,12}",
        ],
        prop_oneof![
            Just(format!("Bearer {KEY}")),
            Just(KEY.to_owned()),
            "Bearer hfp1\\.[0-9]{0,14}\\.[A-Za-z0-9_-]{0,8}\\.[A-Za-z0-9_-]{0,8}\\.[A-Za-z0-9_-]{0,44}",
            ".{0,40}",
        ],
    )
}

fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/v1/chat/completions".to_owned()),
        Just("/v1/models".to_owned()),
        Just("/health".to_owned()),
        Just("/session".to_owned()),
        "/[a-z0-9./%?#:@-]{0,30}",
        ".{0,30}",
    ]
}

fn any_options() -> impl Strategy<Value = ProxyOptions> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..200,
        0u32..5,
    )
        .prop_map(|(key, sessions, star, max_body, cap)| ProxyOptions {
            require_key: key.then(|| KEY.to_owned()),
            sessions: sessions.then(SessionOptions::default),
            allowed_origins: if star {
                AllowList::Any
            } else {
                AllowList::from_entries([APP])
            },
            allowed_models: if star {
                AllowList::Any
            } else {
                AllowList::from_entries(["org/model", "org/pinned:groq"])
            },
            allowed_providers: if star {
                AllowList::Any
            } else {
                AllowList::from_entries(["groq"])
            },
            max_body_bytes: max_body,
            max_tokens_cap: Some(cap),
            rate_limit: Some(RateLimit {
                requests_per_minute: cap,
                burst: cap,
                max_clients: max_body,
            }),
            ..ProxyOptions::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decide_never_panics_and_refusals_are_json(
        method in prop_oneof![Just("GET".to_owned()), Just("POST".to_owned()), Just("OPTIONS".to_owned()), ".{0,8}"],
        path in any_path(),
        origin in proptest::option::of(prop_oneof![Just(APP.to_owned()), ".{0,20}"]),
        headers in proptest::collection::vec(any_header(), 0..6),
        content_length in proptest::option::of(any::<u64>()),
        client_key in ".{0,300}",
        now in prop_oneof![any::<f64>(), 0.0..2e12],
        o in any_options(),
    ) {
        let req = Req { method, path, origin, self_origin: Some(SELF.into()), headers, content_length, client_key };
        let mut state = ProxyState::new();
        for _ in 0..3 {
            let d = run_at(&req, &o, &mut state, now);
            if let Decision::Respond(r) = &d {
                let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                prop_assert!(v["error"]["code"].is_string());
                prop_assert!(r.status >= 400);
            }
            // A preflight reflects the header names the client itself asked for;
            // everything else must never carry the key.
            let reflected = matches!(d, Decision::Preflight(_))
                && req.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("access-control-request-headers") && v.contains(KEY)
                });
            prop_assert!(reflected || !outputs(&d).contains(KEY));
        }
    }

    #[test]
    fn check_chat_body_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..300), o in any_options()) {
        if let Ok(f) = check_chat_body(&body, None, &o) {
            prop_assert_eq!(f.url, upstream_url(&o, Route::ChatCompletions));
        }
    }

    #[test]
    fn check_chat_body_never_panics_on_near_valid_json(
        model in prop_oneof![Just("org/model".to_owned()), Just("org/pinned".to_owned()), ".{0,20}"],
        role in prop_oneof![Just("\"user\"".to_owned()), Just("1".to_owned()), Just("null".to_owned())],
        extra in proptest::collection::vec((
            prop_oneof![Just("max_tokens"), Just("max_completion_tokens"), Just("n"), Just("stream"), Just("url"), Just("model")],
            prop_oneof![Just("1".to_owned()), Just("-1".to_owned()), Just("1e99".to_owned()), Just("18446744073709551616".to_owned()), Just("true".to_owned()), Just("\"https://evil.com\"".to_owned()), Just("{}".to_owned())],
        ), 0..4),
        o in any_options(),
    ) {
        let mut body = format!(r#"{{"model":{},"messages":[{{"role":{role}}}]"#, serde_json::to_string(&model).unwrap_or_default());
        for (k, v) in extra {
            body.push_str(&format!(r#","{k}":{v}"#));
        }
        body.push('}');
        let o = ProxyOptions { max_body_bytes: 10_000, ..o };
        match check_chat_body(body.as_bytes(), None, &o) {
            Ok(f) => {
                prop_assert_eq!(&f.url, &upstream_url(&o, Route::ChatCompletions));
                prop_assert!(!f.body.contains("evil.com"));
                let v: Value = serde_json::from_str(&f.body).unwrap_or(Value::Null);
                if let (Some(cap), Some(m)) = (o.max_tokens_cap, v["max_tokens"].as_u64()) {
                    prop_assert!(m <= u64::from(cap));
                }
            }
            Err(r) => prop_assert!(matches!(r.status, 400 | 403 | 413)),
        }
    }

    #[test]
    fn parse_session_never_panics(token in ".{0,200}", now in any::<f64>(), origin in proptest::option::of(".{0,20}"), key in ".{0,20}") {
        let _ = parse_session(&token, now, origin.as_deref(), &key, &SessionOptions::default());
        let with_prefix = format!("hfp1.{token}");
        let _ = parse_session(&with_prefix, now, origin.as_deref(), &key, &SessionOptions::default());
    }

    #[test]
    fn b64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let encoded = b64url_encode(&bytes);
        prop_assert_eq!(b64url_decode(&encoded), Some(bytes));
    }

    #[test]
    fn limiter_never_admits_more_than_burst_plus_refill(
        per_minute in 1u32..600,
        burst in 1u32..20,
        gaps in proptest::collection::vec(0u32..3000, 1..200),
    ) {
        let l = RateLimit { requests_per_minute: per_minute, burst, max_clients: 10 };
        let mut r = RateLimiter::new();
        let mut t = 0u64;
        let mut admitted = 0u64;
        for gap in gaps {
            t += u64::from(gap);
            match r.admit("k", &l, t as f64) {
                Admission::Allowed { remaining } => {
                    admitted += 1;
                    prop_assert!(remaining < burst);
                }
                Admission::Limited { retry_after_ms } => {
                    prop_assert!(retry_after_ms >= 1);
                    // Exactly then, one more is admitted.
                    let mut probe = r.clone();
                    let then = probe.admit("k", &l, (t + retry_after_ms) as f64);
                    prop_assert!(matches!(then, Admission::Allowed { .. }), "{:?}", then);
                    if retry_after_ms > 1 {
                        let mut early = r.clone();
                        let before = early.admit("k", &l, (t + retry_after_ms - 1) as f64);
                        prop_assert!(matches!(before, Admission::Limited { .. }), "{:?}", before);
                    }
                }
            }
            // Tokens: `burst` at the start plus one per 60000/per_minute ms since.
            let refill = (u128::from(t) * u128::from(per_minute)) / 60_000;
            prop_assert!(u128::from(admitted) <= u128::from(burst) + refill);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Drop-in for the SDKs (issue 13): retry verdicts, upstream errors, the relay, timeouts
// ---------------------------------------------------------------------------------------

use hf_inference_wasm::error::{Error as CoreError, TimeoutKind};
use hf_inference_wasm::proxy::{
    proxy_timeouts, refuse, stream_failure_event, upstream_failure, BodyKind, Relayed, StreamRelay,
};
use hf_inference_wasm::timeouts::Timeouts;

#[test]
fn answers_a_retry_cannot_fix_say_x_should_retry_false() {
    let o = opts();
    let auth = upstream_error(401, &[], "{}", &[TOKEN], None, &o);
    assert_eq!(
        (auth.status, auth.header("x-should-retry")),
        (502, Some("false"))
    );
    let timeout = upstream_failure(&CoreError::timeout(TimeoutKind::Headers, 5), &[], None, &o);
    assert_eq!(timeout.header("x-should-retry"), Some("false"));
    let misconfigured = refuse(Reason::Misconfigured, "no token", None, &o);
    assert_eq!(misconfigured.header("x-should-retry"), Some("false"));
    // A refused connection may be transient: no verdict; nor on a client's own 4xx.
    let unreachable = upstream_failure(&CoreError::network("refused"), &[], None, &o);
    assert_eq!(unreachable.header("x-should-retry"), None);
    assert_eq!(
        refuse(Reason::BodyTooLarge, "big", None, &o).header("x-should-retry"),
        None
    );
    // Quota exhaustion: waiting does not help.
    let quota = upstream_error(
        429,
        &[],
        r#"{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"#,
        &[],
        None,
        &o,
    );
    assert_eq!(quota.header("x-should-retry"), Some("false"));
}

#[test]
fn the_upstreams_own_should_retry_passes_through() {
    let o = opts();
    for v in ["false", "true"] {
        let r = upstream_error(503, &headers(&[("X-Should-Retry", v)]), "{}", &[], None, &o);
        assert_eq!(r.header("x-should-retry"), Some(v));
    }
    let r = upstream_error(
        503,
        &headers(&[("x-should-retry", "maybe")]),
        "{}",
        &[],
        None,
        &o,
    );
    assert_eq!(r.header("x-should-retry"), None);
}

#[test]
fn rewritten_upstream_errors_keep_type_param_and_estimated_time() {
    let o = opts();
    let r = upstream_error(
        400,
        &headers(&[("x-request-id", "up-9")]),
        r#"{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}"#,
        &[],
        None,
        &o,
    );
    let v = json(&r.body);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "temperature");
    assert_eq!(v["error"]["message"], "bad temperature");
    assert_eq!(r.header("x-upstream-request-id"), Some("up-9"));
    let r = upstream_error(
        503,
        &[],
        r#"{"error":"Model is currently loading","estimated_time":2.0}"#,
        &[],
        None,
        &o,
    );
    assert_eq!(json(&r.body)["estimated_time"], 2.0);
    assert_eq!(json(&r.body)["error"]["type"], "upstream_error");
}

#[test]
fn an_unreachable_upstream_gives_no_browser_advice() {
    let r = upstream_failure(
        &CoreError::network("connect ECONNREFUSED"),
        &[],
        None,
        &opts(),
    );
    let m = message(&r);
    assert!(m.contains("ECONNREFUSED"), "{m}");
    assert!(!m.contains("CORS") && !m.contains("browser"), "{m}");
}

#[test]
fn head_health_is_answered_and_unknown_routes_say_what_to_use() {
    let d = run(&Req::new("HEAD", "/health"), &opts());
    assert!(
        matches!(d, Decision::Health(ref r) if r.status == 200),
        "{d:?}"
    );
    for (path, hint) in [
        ("/v1/responses", "openai.chat(model)"),
        ("/generate", "chat_completion"),
        ("/generate_stream", "chat_completion"),
        ("/", "chat_completion"),
    ] {
        let r = refused(run(&Req::new("POST", path), &opts()));
        assert_eq!(r.status, 404, "{path}");
        assert!(message(&r).contains(hint), "{path}: {}", message(&r));
        assert!(message(&r).contains("/v1/chat/completions"), "{path}");
    }
}

#[test]
fn a_stream_gets_include_usage_and_says_so_unless_the_client_asked() {
    let f = forward(&chat(r#","stream":true"#), &opts());
    assert!(f.strip_usage);
    assert_eq!(json(&f.body)["stream_options"]["include_usage"], true);
    let f = forward(
        &chat(r#","stream":true,"stream_options":{"include_usage":true}"#),
        &opts(),
    );
    assert!(!f.strip_usage);
    let f = forward(&chat(""), &opts());
    assert!(!f.strip_usage && json(&f.body).get("stream_options").is_none());
    let off = ProxyOptions {
        stream_usage: false,
        ..opts()
    };
    let f = forward(&chat(r#","stream":true"#), &off);
    assert!(!f.strip_usage && json(&f.body).get("stream_options").is_none());
}

const CHUNK: &str = r#"data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}"#;
const USAGE: &str =
    r#"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#;

fn stream_of(events: &[&str]) -> String {
    events.iter().map(|e| format!("{e}\n\n")).collect()
}

/// Feed `input` to a relay in pieces of `size` bytes; everything it handed on.
fn relayed(relay: &mut StreamRelay, input: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in input.chunks(size.max(1)) {
        out.extend(relay.feed(piece));
    }
    out.extend(relay.finish());
    out
}

#[test]
fn the_relay_strips_only_the_usage_chunk_it_asked_for_in_any_chunking() {
    let input = stream_of(&[CHUNK, USAGE, "data: [DONE]"]);
    for size in [1, 2, 3, 7, 64, 4096] {
        let mut r = StreamRelay::new(BodyKind::EventStream, true, &[TOKEN], 10);
        let out = String::from_utf8(relayed(&mut r, input.as_bytes(), size)).unwrap_or_default();
        assert_eq!(out, stream_of(&[CHUNK, "data: [DONE]"]), "size {size}");
        let u = r.usage();
        assert!(!u.estimated);
        assert_eq!(u.usage.total_tokens, Some(8));
        assert!(r.saw_done());
        // A client that asked keeps every byte.
        let mut keep = StreamRelay::new(BodyKind::EventStream, false, &[TOKEN], 10);
        assert_eq!(relayed(&mut keep, input.as_bytes(), size), input.as_bytes());
    }
    // CRLF events too.
    let crlf = input.replace('\n', "\r\n");
    let mut r = StreamRelay::new(BodyKind::EventStream, true, &[], 0);
    let out = String::from_utf8(relayed(&mut r, crlf.as_bytes(), 5)).unwrap_or_default();
    assert!(!out.contains("usage"), "{out}");
    assert!(out.contains("Hello") && out.contains("[DONE]"));
}

#[test]
fn whole_untouched_events_are_handed_on_as_they_came() {
    let mut r = StreamRelay::new(BodyKind::EventStream, true, &[TOKEN], 0);
    // Whole events, nothing to take out: the input itself (the shell passes its own
    // buffer on).
    assert_eq!(
        r.relay(stream_of(&[CHUNK, CHUNK]).as_bytes()),
        Relayed::Unchanged
    );
    // The usage-only chunk the proxy asked for is taken out: bytes, without it.
    let with_usage = stream_of(&[CHUNK, USAGE, "data: [DONE]"]);
    assert_eq!(
        r.relay(with_usage.as_bytes()),
        Relayed::Bytes(stream_of(&[CHUNK, "data: [DONE]"]).into_bytes())
    );
    // A secret is redacted.
    let secret = stream_of(&[&format!(
        r#"data: {{"choices":[{{"delta":{{"content":"{TOKEN}"}}}}]}}"#
    )]);
    assert_eq!(
        r.relay(secret.as_bytes()),
        Relayed::Bytes(secret.replace(TOKEN, "[redacted]").into_bytes())
    );
    // A chunk that ends inside an event: its whole events now, the rest once complete.
    let mut r = StreamRelay::new(BodyKind::EventStream, false, &[TOKEN], 0);
    let input = stream_of(&[CHUNK, CHUNK]);
    let cut = CHUNK.len() + 2 + 10;
    assert_eq!(
        r.relay(&input.as_bytes()[..cut]),
        Relayed::Bytes(stream_of(&[CHUNK]).into_bytes())
    );
    assert_eq!(
        r.relay(&input.as_bytes()[cut..]),
        Relayed::Bytes(stream_of(&[CHUNK]).into_bytes())
    );
    // With nothing held any more, whole events go on as they came again.
    assert_eq!(r.relay(input.as_bytes()), Relayed::Unchanged);
    assert_eq!(
        r.usage().usage.completion_tokens,
        Some(5),
        "20 bytes of text, ~4 a token"
    );
}

#[test]
fn the_relay_redacts_the_token_across_chunk_boundaries_in_any_body() {
    let doc = format!(r#"{{"choices":[{{"message":{{"content":"Bearer {TOKEN} echoed"}}}}]}}"#);
    let sse = stream_of(&[&format!(
        r#"data: {{"choices":[{{"delta":{{"content":"{TOKEN}"}}}}]}}"#
    )]);
    for (kind, input) in [(BodyKind::Document, doc), (BodyKind::EventStream, sse)] {
        for size in [1, 5, 13, 1000] {
            let mut r = StreamRelay::new(kind, false, &[TOKEN], 0);
            let out =
                String::from_utf8(relayed(&mut r, input.as_bytes(), size)).unwrap_or_default();
            assert!(!out.contains(TOKEN), "{kind:?} {size}: {out}");
            assert_eq!(out, input.replace(TOKEN, "[redacted]"), "{kind:?} {size}");
        }
    }
}

#[test]
fn without_upstream_usage_the_relay_estimates_and_says_so() {
    let mut r = StreamRelay::new(BodyKind::EventStream, true, &[], 12);
    let _ = r.feed(stream_of(&[CHUNK, CHUNK]).as_bytes());
    let u = r.usage();
    assert!(u.estimated);
    assert_eq!(u.usage.prompt_tokens, Some(12));
    // "HelloHello": 10 bytes, ~4 a token.
    assert_eq!(u.usage.completion_tokens, Some(3));
    assert_eq!(u.usage.total_tokens, Some(15));
    // A document's usage is read at the end.
    let mut d = StreamRelay::new(BodyKind::Document, false, &[], 0);
    let body = br#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
    assert_eq!(relayed(&mut d, body, 9), body);
    assert_eq!(d.usage().usage.total_tokens, Some(3));
    assert!(!d.usage().estimated);
}

#[test]
fn a_stream_that_fails_mid_way_ends_with_an_openai_shaped_error_event() {
    let mut r = StreamRelay::new(BodyKind::EventStream, false, &[TOKEN], 0);
    let mut out = r.feed(format!("{CHUNK}\n\ndata: {{\"choi").as_bytes());
    out.extend(r.fail(&CoreError::timeout(TimeoutKind::Idle, 400)));
    let text = String::from_utf8(out).unwrap_or_default();
    // The whole chunk, then (the cut event dropped) one error event, no [DONE].
    assert!(text.starts_with(&format!("{CHUNK}\n\n")), "{text}");
    assert!(!text.contains("choi\""), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap_or("");
    let v = json(last.strip_prefix("data: ").unwrap_or(""));
    assert_eq!(v["error"]["code"], "upstream_timeout");
    assert_eq!(v["error"]["type"], "api_error");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("idle")));
    let net = stream_failure_event(
        &CoreError::network(&format!("reset while sending {TOKEN}")),
        &[TOKEN],
    );
    assert!(
        net.contains("upstream_unreachable") && !net.contains(TOKEN),
        "{net}"
    );
    assert!(!net.contains("CORS"), "{net}");
}

#[test]
fn a_non_streamed_answer_may_take_the_whole_total_to_its_headers() {
    let t = Timeouts::default();
    let non_stream = proxy_timeouts(t, false, false);
    assert_eq!(non_stream.headers_ms, t.total_ms);
    assert_eq!(proxy_timeouts(t, true, false), t);
    // An operator's own headers timeout is kept.
    let set = Timeouts {
        headers_ms: 300,
        ..t
    };
    assert_eq!(proxy_timeouts(set, false, true).headers_ms, 300);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_relay_never_panics_and_never_lets_the_token_through(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        size in 1usize..40,
        sse in any::<bool>(),
        strip in any::<bool>(),
    ) {
        let mut input = body.clone();
        input.extend_from_slice(TOKEN.as_bytes());
        input.extend_from_slice(&body);
        let kind = if sse { BodyKind::EventStream } else { BodyKind::Document };
        let mut r = StreamRelay::new(kind, strip, &[TOKEN], 0);
        let out = relayed(&mut r, &input, size);
        prop_assert!(!out.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
        let _ = r.usage();
    }
}
