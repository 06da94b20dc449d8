//! The proxy's options: what each one means, its safe default, how `createProxy(options)`
//! is read ([`proxy_options`], from the options JSON through `crate::options::Obj`), and
//! the checks run once when the proxy is created.
//!
//! Must never: quote a secret (the proxy key, the upstream token) in an error, or touch a
//! JavaScript value (functions are `Js` indexes the shell resolves).

use crate::json::Value;

use super::budget::check_budget;
use super::wire::BudgetOption;
use super::{body, BudgetOptions, Caps, Route};
use crate::error::{cut, Error};
use crate::options::{self as keys, as_str, type_name, Js, Obj, Place, Reader};
use crate::timeouts::Timeouts;
use crate::usage::PriceTable;

/// The only host the proxy ever contacts unless configured otherwise.
pub const DEFAULT_UPSTREAM: &str = crate::providers::DEFAULT_BASE_URL;
/// Default largest request body accepted.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default cap on a `max_tokens` / `max_completion_tokens` a request sets. Nothing is
/// inserted when it sets none (see [`ProxyOptions::default_max_tokens`]).
pub const DEFAULT_MAX_TOKENS_CAP: u32 = 4096;
/// Default largest `n` (choices per request): each choice is billed.
pub const DEFAULT_MAX_CHOICES: u32 = 1;
/// Default sustained rate per client.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 30;
/// Default burst per client (requests allowed at once from a full bucket).
pub const DEFAULT_BURST: u32 = 10;
/// Default bound on the clients the rate limiter remembers.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;
/// Default lifetime of a session token.
pub const DEFAULT_SESSION_TTL_MS: u64 = 10 * 60 * 1000;
/// Longest session lifetime [`check_options`] accepts.
pub const MAX_SESSION_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// Shortest proxy key [`check_options`] accepts.
pub const MIN_PROXY_KEY_BYTES: usize = 16;
/// The header a caller sends the shared secret in.
pub const PROXY_KEY_HEADER: &str = "x-proxy-key";
/// How long a browser may cache a preflight answer, in seconds.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// A list of allowed names, or anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowList {
    /// Every name is allowed.
    Any,
    /// Only these (compared ASCII case-insensitively). Empty allows nothing.
    Only(Vec<String>),
}

impl AllowList {
    /// A list as a user writes it: an entry `"*"` anywhere means [`AllowList::Any`].
    /// Entries are trimmed; empty ones are dropped.
    pub fn from_entries<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            if e == "*" {
                return AllowList::Any;
            }
            if !e.is_empty() {
                out.push(e.to_owned());
            }
        }
        AllowList::Only(out)
    }

    /// Whether `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            AllowList::Any => true,
            AllowList::Only(list) => list.iter().any(|e| e.eq_ignore_ascii_case(name)),
        }
    }
}

/// What happens to a `max_tokens` over the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensMode {
    /// Lower it to the cap and forward.
    #[default]
    Clamp,
    /// Refuse the request with 400.
    Reject,
}

/// A per-client token bucket: `burst` requests at once, refilled at
/// `requests_per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests_per_minute: u32,
    pub burst: u32,
    /// Clients remembered at most; beyond it full buckets, then the least recently used,
    /// are forgotten.
    pub max_clients: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            burst: DEFAULT_BURST,
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }
}

/// Signed session tokens from `GET /session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// How long a token is valid.
    pub ttl_ms: u64,
    /// Bind the token to the client key it was issued to (as well as to the origin), so
    /// a token copied to another client does not work.
    pub bind_client: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            ttl_ms: DEFAULT_SESSION_TTL_MS,
            bind_client: true,
        }
    }
}

/// The proxy's policy. `ProxyOptions::default()` is the safe configuration; see each
/// field for its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Base URL of the one upstream (default [`DEFAULT_UPSTREAM`]). Route paths are
    /// appended to it; a trailing `/v1` is dropped so both spellings work.
    pub upstream: String,
    /// Origins allowed cross-origin (CORS). Default: none, so only same-origin pages and
    /// clients that send no `Origin` (servers, curl) get through. `Any` is `"*"`.
    pub allowed_origins: AllowList,
    /// Models a client may ask for: `org/name` (any provider the provider list allows)
    /// or `org/name:provider` (that provider only, pinned if the client names none).
    /// Default: none. Every request spends the operator's credits, so the operator
    /// names what they pay for; `Any` is `"*"`.
    pub allowed_models: AllowList,
    /// Providers (and routing policies such as `fastest`) a client may name in a
    /// `model:provider` suffix. Default `Any`: the model list is what bounds cost. When
    /// restricted, a request naming no provider is pinned to the first one.
    pub allowed_providers: AllowList,
    /// Largest request body (default 64 KiB).
    pub max_body_bytes: usize,
    /// Cap on `max_tokens` / `max_completion_tokens` (default 4096) when a request sets
    /// one. `None` removes the cap.
    pub max_tokens_cap: Option<u32>,
    /// `max_tokens` inserted when a request sets neither field (default: none). Off by
    /// default: an inserted `max_tokens` breaks servers whose context is smaller, is
    /// refused by OpenAI's reasoning models (which take only `max_completion_tokens`), and
    /// cuts answers the client did not ask to cut. Lowered to the cap.
    pub default_max_tokens: Option<u32>,
    /// Ask the upstream for usage on every stream (`stream_options.include_usage`), so the
    /// log and `onUsage` have real counts; the extra usage chunk is taken out of the stream
    /// for a client that did not ask for it. Default true; false forwards
    /// `stream_options` as the client sent it.
    pub stream_usage: bool,
    /// Clamp (default) or reject a `max_tokens` over the cap.
    pub max_tokens_mode: MaxTokensMode,
    /// Largest `n` (default 1).
    pub max_choices: u32,
    /// Per-client rate limit (default 30/min, burst 10). `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// A shared secret every request to `/v1/*` and `/session` must carry, in
    /// `x-proxy-key` or as `Authorization: Bearer <key>`. Default: none.
    pub require_key: Option<String>,
    /// Signed session tokens from `GET /session`, required on `/v1/*`. Default: off.
    pub sessions: Option<SessionOptions>,
    /// Whether a log line may carry message content (default false).
    pub log_content: bool,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            upstream: DEFAULT_UPSTREAM.to_owned(),
            allowed_origins: AllowList::Only(Vec::new()),
            allowed_models: AllowList::Only(Vec::new()),
            allowed_providers: AllowList::Any,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_tokens_cap: Some(DEFAULT_MAX_TOKENS_CAP),
            default_max_tokens: None,
            stream_usage: true,
            max_tokens_mode: MaxTokensMode::Clamp,
            max_choices: DEFAULT_MAX_CHOICES,
            rate_limit: Some(RateLimit::default()),
            require_key: None,
            sessions: None,
            log_content: false,
        }
    }
}

/// Check options once, when the proxy is created. Errors name the option and never
/// quote a secret.
pub fn check_options(opts: &ProxyOptions) -> Result<(), Error> {
    check_upstream(&opts.upstream)?;
    if let AllowList::Only(list) = &opts.allowed_origins {
        for o in list {
            if !is_origin_syntax(o) {
                return Err(Error::input(format!(
                    "`allowedOrigins` entries must be origins like \"https://example.com\" (scheme, host, optional port, no path), \"null\" or \"*\"; got {:?}",
                    cut(o, 100)
                )));
            }
        }
    }
    if let AllowList::Only(list) = &opts.allowed_models {
        for m in list {
            if !body::is_model_syntax(m) {
                return Err(Error::input(format!(
                    "`allowedModels` entries must be model ids like \"org/name\" or \"org/name:provider\", or \"*\"; got {:?}",
                    cut(m, 100)
                )));
            }
        }
    }
    if let AllowList::Only(list) = &opts.allowed_providers {
        for p in list {
            if !body::is_provider_syntax(p) {
                return Err(Error::input(format!(
                    "`allowedProviders` entries must be provider names like \"together\", or \"*\"; got {:?}",
                    cut(p, 100)
                )));
            }
        }
    }
    if opts.max_body_bytes == 0 {
        return Err(Error::input("`maxBodyBytes` must be at least 1"));
    }
    if opts.max_tokens_cap == Some(0) {
        return Err(Error::input(
            "`maxTokensCap` must be at least 1 (leave it unset for no cap)",
        ));
    }
    if opts.default_max_tokens == Some(0) {
        return Err(Error::input(
            "`defaultMaxTokens` must be at least 1 (leave it unset to insert none)",
        ));
    }
    if opts.max_choices == 0 {
        return Err(Error::input("`maxChoices` must be at least 1"));
    }
    if let Some(r) = &opts.rate_limit {
        if r.requests_per_minute == 0 || r.burst == 0 || r.max_clients == 0 {
            return Err(Error::input(
                "`rateLimit.requestsPerMinute`, `rateLimit.burst` and `rateLimit.maxClients` must be at least 1 (set `rateLimit: false` to turn limiting off)",
            ));
        }
    }
    if let Some(k) = &opts.require_key {
        if k.len() < MIN_PROXY_KEY_BYTES {
            return Err(Error::input(format!(
                "`requireKey` is too short: use at least {MIN_PROXY_KEY_BYTES} random characters"
            )));
        }
        if !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::input(
                "`requireKey` may hold only visible ASCII characters (no spaces or line breaks)",
            ));
        }
    }
    if let Some(s) = &opts.sessions {
        if s.ttl_ms == 0 || s.ttl_ms > MAX_SESSION_TTL_MS {
            return Err(Error::input(
                "`sessions.ttlMs` must be between 1 and 86400000 (a day); sessions are meant to be short-lived",
            ));
        }
    }
    Ok(())
}

/// Check the upstream token once, when the proxy is created. The message never quotes it.
pub fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::input(
            "the proxy has no upstream token: set `token` or the `HF_TOKEN` secret",
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::input(
            "the upstream token contains spaces, line breaks or non-ASCII characters; check how it was read",
        ));
    }
    Ok(())
}

fn check_upstream(url: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::input(format!(
            "`upstream` must be an http:// or https:// base URL such as \"{DEFAULT_UPSTREAM}\": {why}; got {:?}",
            cut(url, 200)
        )))
    };
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return bad("it has no http(s) scheme");
    };
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("it contains spaces or control characters");
    }
    if url.contains(['?', '#']) {
        return bad("it has a query or fragment");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return bad("it has no host");
    }
    if authority.contains('@') {
        return bad("it has credentials in it");
    }
    Ok(())
}

/// `scheme://host[:port]`, `null`, lowercase or not.
fn is_origin_syntax(o: &str) -> bool {
    if o == "null" {
        return true;
    }
    let Some((scheme, host)) =
        crate::error::find(o, "://").and_then(|i| Some((o.get(..i)?, o.get(i + 3..)?)))
    else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// `{upstream}{route path}`: the only URLs the proxy fetches.
pub fn upstream_url(opts: &ProxyOptions, route: Route) -> String {
    let base = opts.upstream.trim().trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}{}", route.path())
}

/// `createProxy(options)`'s options, checked.
#[derive(Debug)]
pub struct ProxySetup {
    pub opts: ProxyOptions,
    pub token: Option<String>,
    pub session_secret: Option<String>,
    pub fetch: Option<Js>,
    pub timeouts: Timeouts,
    /// `timeouts.headers` was set: it applies to non-streamed answers too.
    pub explicit_headers_timeout: bool,
    pub on_usage: Option<Js>,
    /// `log: false` turns logging off.
    pub log: bool,
    /// `log: fn`; `None` logs with `console.log`.
    pub on_log: Option<Js>,
    pub client_key: Option<Js>,
    /// Spend caps (none by default) and the prices a USD cap needs.
    pub budget: BudgetOptions,
    pub prices: PriceTable,
}

/// `createProxy(options)`'s options (`v` from `crate::options::parse`), checked: unknown
/// keys, every value's type, [`check_options`], the budget and the token.
pub fn proxy_options(v: &Value) -> Result<ProxySetup, Error> {
    let r = Reader::default();
    let o = r.top(v, Place::Proxy, keys::PROXY);
    let mut opts = ProxyOptions::default();
    if let Some(u) = o.string("upstream") {
        opts.upstream = u;
    }
    for (key, slot) in [
        ("allowedOrigins", &mut opts.allowed_origins),
        ("allowedModels", &mut opts.allowed_models),
        ("allowedProviders", &mut opts.allowed_providers),
    ] {
        if let Some(l) = allow_list(&o, key) {
            *slot = l;
        }
    }
    if let Some(n) = o.number("maxBodyBytes") {
        opts.max_body_bytes = n as usize;
    }
    if matches!(o.raw("maxTokensCap"), Some(Value::Null)) || o.is_false("maxTokensCap") {
        opts.max_tokens_cap = None;
    } else if let Some(n) = o.count("maxTokensCap") {
        opts.max_tokens_cap = Some(n);
    }
    if let Some(n) = o.count("defaultMaxTokens") {
        opts.default_max_tokens = Some(n);
    }
    if let Some(b) = o.boolean("streamUsage") {
        opts.stream_usage = b;
    }
    match o.string("maxTokensMode").as_deref() {
        None | Some("clamp") => {}
        Some("reject") => opts.max_tokens_mode = MaxTokensMode::Reject,
        Some(other) => o.fail(Error::input(format!(
            "`maxTokensMode` must be \"clamp\" or \"reject\", got {other:?}"
        ))),
    }
    if let Some(n) = o.count("maxChoices") {
        opts.max_choices = n;
    }
    if o.is_false("rateLimit") {
        opts.rate_limit = None;
    } else if let Some(rl) = o.object("rateLimit", keys::PROXY_RATE_LIMIT) {
        let mut limit = RateLimit::default();
        if let Some(n) = rl.count("requestsPerMinute") {
            limit.requests_per_minute = n;
        }
        if let Some(n) = rl.count("burst") {
            limit.burst = n;
        }
        if let Some(n) = rl.number("maxClients") {
            limit.max_clients = n as usize;
        }
        opts.rate_limit = Some(limit);
    }
    opts.require_key = o.string("requireKey");
    if o.is_true("sessions") {
        opts.sessions = Some(SessionOptions::default());
    } else if !o.is_false("sessions") {
        if let Some(so) = o.object("sessions", keys::SESSIONS) {
            let mut s = SessionOptions::default();
            if let Some(n) = so.number("ttlMs") {
                s.ttl_ms = n;
            }
            if let Some(b) = so.boolean("bindClient") {
                s.bind_client = b;
            }
            opts.sessions = Some(s);
        }
    }
    opts.log_content = o.boolean("logContent").unwrap_or(false);
    o.ok(check_options(&opts));
    let (budget, prices) = budget(&o);
    let token = o.string("token");
    if let Some(t) = &token {
        o.ok(check_token(t));
    }
    let mut timeouts = Timeouts::default();
    let mut explicit_headers_timeout = false;
    if let Some(to) = o.object("timeouts", keys::TIMEOUTS) {
        explicit_headers_timeout = to.get("headers").is_some();
        for (key, slot) in [
            ("headers", &mut timeouts.headers_ms),
            ("firstChunk", &mut timeouts.first_chunk_ms),
            ("idle", &mut timeouts.idle_ms),
            ("total", &mut timeouts.total_ms),
        ] {
            if let Some(ms) = to.number(key) {
                *slot = ms;
            }
        }
    }
    let (log, on_log) = if o.is_false("log") {
        (false, None)
    } else if o.get("log").is_none() || o.is_true("log") {
        (true, None)
    } else {
        (true, o.function("log"))
    };
    let setup = ProxySetup {
        opts,
        token,
        session_secret: o.string("sessionSecret"),
        fetch: o.function("fetch"),
        timeouts,
        explicit_headers_timeout,
        on_usage: o.function("onUsage"),
        log,
        on_log,
        client_key: o.function("clientKey"),
        budget,
        prices,
    };
    r.done(setup)
}

/// `"*"`, one name, or a list of names.
fn allow_list(o: &Obj<'_>, key: &str) -> Option<AllowList> {
    let v = o.get(key)?;
    if let Some(s) = as_str(v) {
        return Some(AllowList::from_entries([s]));
    }
    let Value::Array(items) = v else {
        o.wrong(key, "an array of strings or \"*\"", v);
        return None;
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        match as_str(item) {
            Some(s) => entries.push(s),
            None => {
                o.fail(Error::input(format!(
                    "`{key}` entries must be strings, got {}",
                    type_name(item)
                )));
                return None;
            }
        }
    }
    Some(AllowList::from_entries(entries))
}

/// `budget` and `prices`. No `budget`: no caps (the ledger still counts).
fn budget(o: &Obj<'_>) -> (BudgetOptions, PriceTable) {
    let mut opts = BudgetOptions::default();
    let prices = match o.get("prices") {
        None => PriceTable::new(),
        Some(Value::Object(_) | Value::Array(_)) => o
            .plain("prices", "`prices` must be a plain object")
            .and_then(|p| o.ok(PriceTable::from_value(&p)))
            .unwrap_or_default(),
        Some(p) => {
            o.wrong("prices", "an object", p);
            return (opts, PriceTable::new());
        }
    };
    match o.get("budget") {
        None | Some(Value::Bool(false)) => return (opts, prices),
        Some(Value::Object(_) | Value::Array(_)) => {}
        Some(b) => {
            o.wrong(
                "budget",
                "an object such as { tokensPerDay: 1000000, perClient: { tokensPerDay: 50000 } }",
                b,
            );
            return (opts, prices);
        }
    }
    let Some(text) = o
        .plain("budget", "`budget` must be a plain object")
        .map(|b| crate::json::to_text(&b))
    else {
        return (opts, prices);
    };
    let read = match BudgetOption::from_json(&text) {
        Ok(read) => read,
        Err(e) => {
            o.fail(Error::input(format!(
                "`budget` takes tokensPerDay, usdPerDay, perClient {{ tokensPerDay, usdPerDay }} and maxClients (numbers): {e}"
            )));
            return (opts, prices);
        }
    };
    opts.proxy = caps(o, read.tokens_per_day, read.usd_per_day, "budget");
    if let Some(pc) = read.per_client {
        opts.per_client = caps(o, pc.tokens_per_day, pc.usd_per_day, "budget.perClient");
    }
    if let Some(n) = read.max_clients {
        if !(n.is_finite() && n >= 1.0) {
            o.fail(Error::input("`budget.maxClients` must be at least 1"));
        }
        opts.max_clients = n.clamp(1.0, 1e9) as usize;
    }
    o.ok(check_budget(&opts, &prices));
    (opts, prices)
}

fn caps(o: &Obj<'_>, tokens: Option<f64>, usd: Option<f64>, path: &str) -> Caps {
    if tokens.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
        o.fail(Error::input(format!(
            "`{path}.tokensPerDay` must be a whole number of tokens, at least 0"
        )));
    }
    Caps {
        // `as` saturates: any cap beyond u64 is no cap worth telling apart.
        tokens_per_day: tokens.map(|t| t.floor() as u64),
        usd_per_day: usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_url_is_base_plus_fixed_path() {
        let mut o = ProxyOptions::default();
        assert_eq!(
            upstream_url(&o, Route::ChatCompletions),
            "https://router.huggingface.co/v1/chat/completions"
        );
        o.upstream = "http://127.0.0.1:8787/v1/".into();
        assert_eq!(
            upstream_url(&o, Route::Models),
            "http://127.0.0.1:8787/v1/models"
        );
    }

    #[test]
    fn upstream_option_is_checked() {
        let mut o = ProxyOptions::default();
        assert!(check_options(&o).is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://u:p@host",
            "https://h/?q",
            "router.huggingface.co",
        ] {
            o.upstream = bad.into();
            assert!(check_options(&o).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_proxy_key_is_refused_without_quoting_it() {
        let o = ProxyOptions {
            require_key: Some("hunter2hunter".into()),
            ..ProxyOptions::default()
        };
        let e = check_options(&o)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains("requireKey"), "{e}");
        assert!(!e.contains("hunter2hunter"));
    }

    #[test]
    fn token_check_never_quotes_the_token() {
        let e = check_token("hf_abc def")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(!e.is_empty() && !e.contains("hf_abc"));
        assert!(check_token("hf_abcdef").is_ok());
    }

    #[test]
    fn allow_list_star_means_any() {
        assert_eq!(AllowList::from_entries(["a", " * "]), AllowList::Any);
        assert_eq!(
            AllowList::from_entries(["a", " ", "b"]),
            AllowList::Only(vec!["a".into(), "b".into()])
        );
    }

    fn setup(json: &str) -> Result<ProxySetup, Error> {
        proxy_options(&crate::options::parse(Some(json)).expect("valid JSON"))
    }

    fn refused(json: &str) -> String {
        let e = setup(json).expect_err("refused");
        assert_eq!(e.kind, crate::ErrorKind::Input, "{}", e.message);
        e.message
    }

    #[test]
    fn no_options_are_the_safe_defaults() {
        let s = proxy_options(&crate::options::parse(None).unwrap_or_default()).expect("ok");
        assert_eq!(s.opts, ProxyOptions::default());
        assert!(s.log && s.on_log.is_none() && s.fetch.is_none() && s.token.is_none());
        assert!(!s.explicit_headers_timeout);
        assert_eq!(s.budget, BudgetOptions::default());
    }

    #[test]
    fn options_are_read_and_functions_are_indexes() {
        let s = setup(
            r#"{"token":"hf_x","upstream":"http://127.0.0.1:1","allowedModels":["a/b"],
                "allowedOrigins":"*","maxTokensCap":null,"rateLimit":false,"sessions":true,
                "timeouts":{"headers":5},"log":"\u0000function0","fetch":"\u0000function1",
                "clientKey":"\u0000function2","budget":{"tokensPerDay":1000},
                "maxTokensMode":"reject","durableState":"\u0000object3"}"#,
        )
        .expect("accepted");
        assert_eq!(s.opts.allowed_models, AllowList::Only(vec!["a/b".into()]));
        assert_eq!(s.opts.allowed_origins, AllowList::Any);
        assert_eq!(s.opts.max_tokens_cap, None);
        assert_eq!(s.opts.rate_limit, None);
        assert_eq!(s.opts.sessions, Some(SessionOptions::default()));
        assert_eq!(s.opts.max_tokens_mode, MaxTokensMode::Reject);
        assert!(s.explicit_headers_timeout && s.timeouts.headers_ms == 5);
        assert_eq!((s.log, s.on_log), (true, Some(Js(0))));
        assert_eq!((s.fetch, s.client_key), (Some(Js(1)), Some(Js(2))));
        assert_eq!(s.budget.proxy.tokens_per_day, Some(1000));
        assert!(!setup(r#"{"log":false}"#).expect("accepted").log);
    }

    #[test]
    fn wrong_options_are_refused_by_name() {
        for (json, want) in [
            (
                r#"{"allowedModel":["a/b"]}"#,
                "unknown option `allowedModel` in the proxy options; did you mean `allowedModels`?",
            ),
            (
                r#"{"allowedModels":5}"#,
                "`allowedModels` must be an array of strings or \"*\", got number",
            ),
            (
                r#"{"allowedModels":["a/b",5]}"#,
                "`allowedModels` entries must be strings, got number",
            ),
            (r#"{"maxTokensCap":true}"#, "`maxTokensCap` must be a number, got boolean"),
            (
                r#"{"maxTokensMode":"drop"}"#,
                "`maxTokensMode` must be \"clamp\" or \"reject\", got \"drop\"",
            ),
            (r#"{"log":5}"#, "`log` must be a function, got number"),
            (r#"{"fetch":"x"}"#, "`fetch` must be a function, got string"),
            (
                r#"{"sessions":{"bindClient":1}}"#,
                "`sessions.bindClient` must be true or false, got number",
            ),
            (r#"{"budget":5}"#, "`budget` must be an object such as { tokensPerDay: 1000000, perClient: { tokensPerDay: 50000 } }, got number"),
            (r#"{"prices":"x"}"#, "`prices` must be an object, got string"),
            (r#"{"rateLimit":{"brust":5}}"#, "unknown option `brust` in `rateLimit`; did you mean `burst`?"),
        ] {
            assert_eq!(refused(json), want, "{json}");
        }
        assert!(refused(r#"{"budget":{"usdPerDay":5}}"#).contains("needs `prices`"));
        assert!(refused(r#"{"budget":{"tokenPerDay":5}}"#).contains("tokenPerDay"));
        assert!(refused(r#"{"budget":{"perClient":{"tokensPerDay":-1}}}"#)
            .contains("budget.perClient.tokensPerDay"));
        assert!(refused(r#"{"token":"hf_a b"}"#).contains("upstream token"));
        assert!(refused(r#"{"upstream":"ftp://x"}"#).starts_with("`upstream` must be"));
    }
}
