//! The client's options (`new InferenceClient(options)`) and a call's, read from the
//! options JSON into checked Rust values.
//!
//! Owns: what each key of the client's and a call's options means, its default, how it
//! merges with the client's (a call's `timeouts`, `retry`, `headers`, routing), and the
//! checks a bad value fails with, worded for the caller ("`retry.jitter` must be a
//! number from 0 to 1"), including those made once when the client is created (its URLs,
//! `provider` with `endpointUrl`). Must never: touch a JavaScript value (functions, the
//! signal and the cache store are [`Js`] indexes the shell resolves), or look inside a
//! request body.

use serde_json::Value;

use super::{
    Js, Obj, Place, Reader, BUDGET, CACHE, CALL, CIRCUIT_BREAKER, CLIENT, FALLBACK, LIMITS,
    MAPPING_CACHE, RATE_LIMIT, RETRY, SPIKE, TIMEOUTS,
};
use crate::cache::{CacheMode, CacheOptions};
use crate::difficulty::Router;
use crate::error::Error;
use crate::hub::CacheConfig;
use crate::meter::{Budget, MeterOptions, SpikeOptions};
use crate::providers::{self, parse_provider, FallbackSpec, Policy, Provider};
use crate::ratelimit::RateLimitOptions;
use crate::retry::{BreakerOptions, RetryOptions};
use crate::sse::Limits;
use crate::timeouts::Timeouts;
use crate::usage::PriceTable;

/// The message for a `signal` that is an object but not an `AbortSignal` (the shell
/// tells them apart).
pub const NOT_A_SIGNAL: &str = "`signal` must be an AbortSignal, got object";

/// The value of an option the caller did not give, for a struct read field by field.
impl Default for MeteringOptions {
    fn default() -> Self {
        MeteringOptions {
            prices: PriceTable::new(),
            meter: MeterOptions::default(),
            cache: None,
            rate_limit: None,
            router: None,
            estimate: false,
            on_usage: None,
            on_spike: None,
            on_budget: None,
        }
    }
}

/// The client's options, checked.
#[derive(Debug)]
pub struct ClientOptions {
    pub token: Option<String>,
    pub base_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub hub_url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub fetch: Option<Js>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub retry: RetryOptions,
    pub fallback: Vec<FallbackSpec>,
    /// `None` when `circuitBreaker: false`.
    pub breaker: Option<BreakerOptions>,
    pub routing: Routing,
    pub mapping_cache: CacheConfig,
    pub metering: MeteringOptions,
}

/// What the client meters and limits: `prices`, `budget`, `spike`, `cache`,
/// `rateLimit`, `route`, `estimateUsage` and the callbacks `onUsage`, `onSpike`,
/// `onBudget`.
#[derive(Debug)]
pub struct MeteringOptions {
    pub prices: PriceTable,
    /// Checked: `Meter::new` accepts it.
    pub meter: MeterOptions,
    pub cache: Option<CacheSetup>,
    /// Checked: `Limiter::new` accepts it.
    pub rate_limit: Option<RateLimitOptions>,
    pub router: Option<Router>,
    pub estimate: bool,
    pub on_usage: Option<Js>,
    pub on_spike: Option<Js>,
    pub on_budget: Option<Js>,
}

/// The response cache, when it is on.
#[derive(Debug)]
pub struct CacheSetup {
    pub mode: CacheMode,
    /// Cached streams replay as streams (opt-in).
    pub streams: bool,
    /// Checked.
    pub options: CacheOptions,
    /// `{ get(id), put(id, value, ttlMs) }`: the shell checks its methods.
    pub store: Option<Js>,
}

/// Where calls go: the `provider`, `policy` and `billTo` options (client or call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    pub provider: Option<Provider>,
    pub policy: Option<Policy>,
    pub bill_to: Option<String>,
}

impl Routing {
    /// This call's options over the client's.
    pub fn over(&self, base: &Routing) -> Routing {
        Routing {
            provider: self.provider.or(base.provider),
            policy: self.policy.or(base.policy),
            bill_to: self.bill_to.clone().or_else(|| base.bill_to.clone()),
        }
    }
}

/// A call's options, checked and merged over the client's.
#[derive(Debug)]
pub struct CallOptions {
    /// An object the shell must find to be an `AbortSignal` ([`NOT_A_SIGNAL`]).
    pub signal: Option<Js>,
    pub timeouts: Timeouts,
    pub retry: RetryOptions,
    /// The call's own `fallback`, replacing the client's when given.
    pub fallback: Option<Vec<FallbackSpec>>,
    /// The client's headers, then the call's (a call's header replaces the client's of
    /// the same name, whatever its case).
    pub headers: Vec<(String, String)>,
    pub routing: Routing,
    pub tier: Option<String>,
    /// `cache: false` skips the cache, `"force"` caches whatever the temperature.
    pub cache: Option<CacheMode>,
    /// `accumulate: false`: a stream keeps no text (memory stays flat).
    pub accumulate: bool,
    pub on_usage: Option<Js>,
    pub on_retry: Option<Js>,
    pub on_fallback: Option<Js>,
    pub on_content: Option<Js>,
    pub on_chunk: Option<Js>,
    pub on_finish: Option<Js>,
    pub on_error: Option<Js>,
    pub on_abort: Option<Js>,
}

/// `new InferenceClient(options)`'s options (`v` from [`super::parse`]), checked:
/// unknown keys, every value's type, the URLs, and what the meter, cache and rate
/// limiter would refuse.
pub fn client_options(v: &Value) -> Result<ClientOptions, Error> {
    let r = Reader::default();
    let o = r.top(v, Place::Client, CLIENT);
    let mut limits = Limits::default();
    if let Some(l) = o.object("limits", LIMITS) {
        if let Some(n) = l.number("maxLineBytes") {
            limits.max_line_bytes = n.max(1) as usize;
        }
        if let Some(n) = l.number("maxEventBytes") {
            limits.max_event_bytes = n.max(1) as usize;
        }
    }
    let mut c = ClientOptions {
        token: o.string("token"),
        base_url: o.string("baseUrl"),
        endpoint_url: o.string("endpointUrl"),
        headers: o.headers("headers"),
        fetch: o.function("fetch"),
        timeouts: timeouts(&o, Timeouts::default()),
        retry: retry(&o, RetryOptions::default()),
        fallback: fallback(&o).unwrap_or_default(),
        breaker: breaker(&o),
        routing: routing(&o),
        hub_url: o.string("hubUrl"),
        limits,
        // After the URLs' checks, as the caller reads them.
        metering: MeteringOptions::default(),
        mapping_cache: CacheConfig::default(),
    };
    // URLs and option conflicts are reported now, not on the first call.
    o.ok(providers::chat_url(
        c.base_url.as_deref(),
        c.endpoint_url.as_deref(),
    ));
    if let Some(hub) = &c.hub_url {
        if providers::chat_url(Some(hub), None).is_err() {
            o.fail(Error::input(format!(
                "`hubUrl` must be an absolute http:// or https:// URL, got {hub:?}"
            )));
        }
    }
    if let (Some(_), Some(Provider::Named(p))) = (&c.endpoint_url, c.routing.provider) {
        o.fail(Error::input(format!(
            "`provider: \"{}\"` and `endpointUrl` are both set: an endpoint serves its own model; drop one of them",
            p.name
        )));
    }
    c.metering = metering(&o);
    c.mapping_cache = mapping_cache(&o);
    r.done(c)
}

/// A call's options (`v` from [`super::parse`]) over the client's `timeouts`, `retry`
/// and `headers`.
pub fn call_options(
    v: &Value,
    timeouts_base: Timeouts,
    retry_base: RetryOptions,
    headers_base: &[(String, String)],
) -> Result<CallOptions, Error> {
    let r = Reader::default();
    let o = r.top(v, Place::Call, CALL);
    let signal = o.js_object("signal", "an AbortSignal");
    let mut headers = headers_base.to_vec();
    for (k, v) in o.headers("headers") {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&k));
        headers.push((k, v));
    }
    let call = CallOptions {
        signal,
        headers,
        timeouts: timeouts(&o, timeouts_base),
        retry: retry(&o, retry_base),
        fallback: fallback(&o),
        routing: routing(&o),
        tier: o.string("tier"),
        cache: cache_mode(&o, "cache"),
        accumulate: o.boolean("accumulate").unwrap_or(true),
        on_usage: o.function("onUsage"),
        on_retry: o.function("onRetry"),
        on_fallback: o.function("onFallback"),
        on_content: o.function("onContent"),
        on_chunk: o.function("onChunk"),
        on_finish: o.function("onFinish"),
        on_error: o.function("onError"),
        on_abort: o.function("onAbort"),
    };
    r.done(call)
}

fn routing(o: &Obj<'_>) -> Routing {
    Routing {
        provider: o.string("provider").and_then(|p| o.ok(parse_provider(&p))),
        policy: o.string("policy").and_then(|p| o.ok(Policy::parse(&p))),
        bill_to: o.string("billTo"),
    }
}

/// `timeouts: { headers, firstChunk, idle, total }` over `t`.
fn timeouts(o: &Obj<'_>, mut t: Timeouts) -> Timeouts {
    if let Some(to) = o.object("timeouts", TIMEOUTS) {
        for (key, slot) in [
            ("headers", &mut t.headers_ms),
            ("firstChunk", &mut t.first_chunk_ms),
            ("idle", &mut t.idle_ms),
            ("total", &mut t.total_ms),
        ] {
            if let Some(ms) = to.number(key) {
                *slot = ms;
            }
        }
    }
    t
}

/// `retry: { maxRetries, baseDelayMs, maxDelayMs, budgetMs, jitter, maxServerDelayMs }`,
/// merged over `r`; `retry: false` means no retries (as openai users write it), `true`
/// the defaults.
fn retry(o: &Obj<'_>, mut r: RetryOptions) -> RetryOptions {
    if o.is_false("retry") {
        r.max_retries = 0;
        return r;
    }
    if o.is_true("retry") {
        return r;
    }
    let Some(ro) = o.object("retry", RETRY) else {
        return r;
    };
    if let Some(n) = ro.count("maxRetries") {
        r.max_retries = n;
    }
    for (key, slot) in [
        ("baseDelayMs", &mut r.base_delay_ms),
        ("maxDelayMs", &mut r.max_delay_ms),
        ("budgetMs", &mut r.budget_ms),
        ("maxServerDelayMs", &mut r.max_server_delay_ms),
    ] {
        if let Some(ms) = ro.number(key) {
            *slot = ms;
        }
    }
    if let Some(j) = ro.fraction("jitter") {
        r.jitter = j;
    }
    r
}

/// `circuitBreaker: false | { failureThreshold, failureRate, windowMs, minRequests,
/// openMs }`.
fn breaker(o: &Obj<'_>) -> Option<BreakerOptions> {
    let mut b = BreakerOptions::default();
    if o.is_false("circuitBreaker") {
        return None;
    }
    if o.is_true("circuitBreaker") {
        return Some(b);
    }
    if let Some(bo) = o.object("circuitBreaker", CIRCUIT_BREAKER) {
        if let Some(n) = bo.count("failureThreshold") {
            b.failure_threshold = n;
        }
        if let Some(n) = bo.count("minRequests") {
            b.min_requests = n;
        }
        if let Some(n) = bo.number("windowMs") {
            b.window_ms = n;
        }
        if let Some(n) = bo.number("openMs") {
            b.open_ms = n;
        }
        if let Some(r) = bo.fraction("failureRate") {
            b.failure_rate = r;
        }
    }
    Some(b)
}

/// `fallback: [{ model?, provider?, endpointUrl?, baseUrl? }, …]`.
fn fallback(o: &Obj<'_>) -> Option<Vec<FallbackSpec>> {
    let v = o.get("fallback")?;
    let Value::Array(items) = v else {
        o.wrong(
            "fallback",
            "an array of { model?, provider?, endpointUrl?, baseUrl? }",
            v,
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("fallback[{i}]");
        let Some(f) = o.at(Some(item), &path, FALLBACK) else {
            o.fail(Error::input(format!("`{path}` must be an object")));
            break;
        };
        let spec = FallbackSpec {
            model: f.string("model"),
            provider: f.string("provider"),
            endpoint_url: f.string("endpointUrl"),
            base_url: f.string("baseUrl"),
        };
        if spec == FallbackSpec::default() {
            o.fail(Error::input(format!(
                "`{path}` names no model, provider, endpointUrl or baseUrl"
            )));
        }
        out.push(spec);
    }
    Some(out)
}

/// `mappingCache: { ttlMs, maxEntries }`: the Hub mapping cache of direct provider calls.
fn mapping_cache(o: &Obj<'_>) -> CacheConfig {
    let mut c = CacheConfig::default();
    if let Some(m) = o.object("mappingCache", MAPPING_CACHE) {
        if let Some(n) = m.number("ttlMs") {
            c.ttl_ms = n;
        }
        if let Some(n) = m.number("maxEntries") {
            c.max_entries = (n as usize).max(1);
        }
    }
    c
}

/// `key`: `true`, `false`, `"auto"`, `"force"` or `"off"`.
fn cache_mode(o: &Obj<'_>, key: &str) -> Option<CacheMode> {
    let v = o.get(key)?;
    match v {
        Value::Bool(b) => Some(if *b { CacheMode::Auto } else { CacheMode::Off }),
        v => match super::as_str(v) {
            Some(s) => o.ok(CacheMode::parse(s)),
            None => {
                o.wrong(key, "true, false, \"auto\", \"force\" or \"off\"", v);
                None
            }
        },
    }
}

fn metering(o: &Obj<'_>) -> MeteringOptions {
    let prices = o
        .plain("prices", "`prices` cannot be written as JSON")
        .and_then(|v| o.ok(PriceTable::from_value(&v)))
        .unwrap_or_default();
    let mut meter = MeterOptions::default();
    if let Some(b) = o.object("budget", BUDGET) {
        let usd = b.get("usd").map(|_| {
            let usd = b.float("usd").filter(|x| x.is_finite());
            if usd.is_none() {
                o.fail(Error::input("`budget.usd` must be a number of dollars"));
            }
            usd.unwrap_or_default()
        });
        meter.budget = Some(Budget {
            usd,
            tokens: b.number("tokens"),
            window_ms: b.number("windowMs"),
        });
    }
    // On with `spike: {…}` (or `true`, or `null`), or with an `onSpike` callback.
    if !o.is_false("spike") && (o.has("spike") || o.has("onSpike")) {
        let mut s = SpikeOptions::default();
        // Anything but an object is the defaults.
        if let Some(Value::Object(_)) = o.get("spike") {
            if let Some(so) = o.object("spike", SPIKE) {
                if let Some(n) = so.number("recentMs") {
                    s.recent_ms = n;
                }
                if let Some(n) = so.number("baselineMs") {
                    s.baseline_ms = n;
                }
                if let Some(f) = so.float("factor") {
                    s.factor = f;
                }
                if let Some(n) = so.number("minBaselineRequests") {
                    s.min_baseline_requests = n;
                }
                if let Some(n) = so.number("minRecentRequests") {
                    s.min_recent_requests = n;
                }
            }
        }
        meter.spike = Some(s);
    }
    // What `Meter::new` refuses.
    if let Some(b) = &meter.budget {
        o.ok(b.check());
    }
    if let Some(s) = &meter.spike {
        o.ok(s.check());
    }
    let cache = cache(o);
    let rate_limit = o.object("rateLimit", RATE_LIMIT).map(|r| {
        let ro = RateLimitOptions {
            requests_per_minute: r.count("requestsPerMinute"),
            tokens_per_minute: r.number("tokensPerMinute"),
            max_concurrent: r.count("maxConcurrent"),
            max_queue: r
                .number("maxQueue")
                .map_or(RateLimitOptions::default().max_queue, |n| n as usize),
            ..RateLimitOptions::default()
        };
        o.ok(ro.check());
        ro
    });
    let router = o
        .plain("route", "`route` cannot be written as JSON")
        .and_then(|v| o.ok(Router::from_value(&v)));
    MeteringOptions {
        prices,
        meter,
        cache,
        rate_limit,
        router,
        estimate: o.boolean("estimateUsage").unwrap_or(false),
        on_usage: o.function("onUsage"),
        on_spike: o.function("onSpike"),
        on_budget: o.function("onBudget"),
    }
}

/// `cache: true | false | "auto" | "force" | "off" | { mode, maxEntries, maxBytes,
/// ttlMs, streams, store }`.
fn cache(o: &Obj<'_>) -> Option<CacheSetup> {
    let v = o.get("cache")?;
    let mut options = CacheOptions::default();
    let mut setup = CacheSetup {
        mode: CacheMode::Auto,
        streams: false,
        options,
        store: None,
    };
    match v {
        Value::Bool(false) => return None,
        Value::Bool(true) => {}
        // A string that is no mode is refused as not the object.
        v if super::as_str(v).is_some_and(|s| CacheMode::parse(s).is_ok()) => {
            setup.mode = cache_mode(o, "cache")?;
        }
        v => {
            let co = o.at(Some(v), "cache", CACHE)?;
            setup.mode = cache_mode(&co, "mode").unwrap_or(CacheMode::Auto);
            if let Some(n) = co.number("maxEntries") {
                options.max_entries = n as usize;
            }
            if let Some(n) = co.number("maxBytes") {
                options.max_bytes = n as usize;
            }
            if let Some(n) = co.number("ttlMs") {
                options.ttl_ms = n;
            }
            setup.streams = co.is_true("streams");
            setup.store = co.js_object("store", "an object");
        }
    }
    o.ok(options.check());
    setup.options = options;
    (setup.mode != CacheMode::Off).then_some(setup)
}
