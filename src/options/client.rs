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

use crate::json::Value;

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
        providers::drop_header(&mut headers, &k);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse;
    use crate::ErrorKind;

    /// The options `optionsJson` would write (`\u0000function0`: the function at index 0).
    fn client(json: &str) -> Result<ClientOptions, Error> {
        client_options(&parse(Some(json)).expect("valid JSON"))
    }

    fn call(json: &str) -> Result<CallOptions, Error> {
        let base = [("x-client".to_owned(), "c".to_owned())];
        call_options(
            &parse(Some(json)).expect("valid JSON"),
            Timeouts::default(),
            RetryOptions::default(),
            &base,
        )
    }

    fn message<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
        let e = r.expect_err("refused");
        assert_eq!(e.kind, ErrorKind::Input, "{}", e.message);
        e.message
    }

    #[test]
    fn no_options_are_the_defaults() {
        let o = client_options(&parse(None).unwrap_or_default()).expect("defaults");
        assert_eq!(o.timeouts, Timeouts::default());
        assert_eq!(o.retry, RetryOptions::default());
        assert_eq!(o.breaker, Some(BreakerOptions::default()));
        assert!(o.fetch.is_none() && o.headers.is_empty() && o.fallback.is_empty());
        assert!(o.metering.cache.is_none() && o.metering.rate_limit.is_none());
        let c = call("{}").expect("defaults");
        assert_eq!(c.headers, [("x-client".to_owned(), "c".to_owned())]);
        assert!(c.accumulate && c.signal.is_none() && c.fallback.is_none());
    }

    #[test]
    fn values_are_read_and_js_values_are_their_indexes() {
        let o = client(
            r#"{"token":"hf_x","baseUrl":"http://127.0.0.1:1","fetch":"\u0000function0",
                "timeouts":{"idle":300,"total":9000.7},"retry":{"maxRetries":5,"jitter":0.5},
                "limits":{"maxLineBytes":0},"headers":{"x-a":"1","x-n":2},
                "circuitBreaker":false,"mappingCache":{"maxEntries":0},
                "onUsage":"\u0000function1","cache":{"ttlMs":5,"store":"\u0000object2"},
                "rateLimit":{"requestsPerMinute":60},"prices":{"a/b":{"input":1,"output":2}}}"#,
        )
        .expect("accepted");
        assert_eq!(o.token.as_deref(), Some("hf_x"));
        assert_eq!(o.fetch, Some(Js(0)));
        assert_eq!((o.timeouts.idle_ms, o.timeouts.total_ms), (300, 9000));
        assert_eq!(o.timeouts.headers_ms, Timeouts::default().headers_ms);
        assert_eq!((o.retry.max_retries, o.retry.jitter), (5, 0.5));
        assert_eq!(o.limits.max_line_bytes, 1);
        assert_eq!(
            o.headers,
            [("x-a".into(), "1".into()), ("x-n".into(), "2".into())]
        );
        assert_eq!(o.breaker, None);
        assert_eq!(o.mapping_cache.max_entries, 1);
        assert_eq!(o.metering.on_usage, Some(Js(1)));
        let cache = o.metering.cache.expect("a cache");
        assert_eq!((cache.options.ttl_ms, cache.store), (5, Some(Js(2))));
        assert_eq!(
            o.metering.rate_limit.and_then(|r| r.requests_per_minute),
            Some(60)
        );
        assert!(!o.metering.prices.is_empty());
    }

    #[test]
    fn retry_false_means_no_retries_and_true_the_defaults() {
        assert_eq!(
            call(r#"{"retry":false}"#).map(|c| c.retry.max_retries).ok(),
            Some(0)
        );
        assert_eq!(
            client(r#"{"retry":false}"#)
                .map(|c| c.retry.max_retries)
                .ok(),
            Some(0)
        );
        assert_eq!(
            call(r#"{"retry":true}"#).map(|c| c.retry).ok(),
            Some(RetryOptions::default())
        );
    }

    #[test]
    fn wrong_types_name_the_option_and_the_type_they_got() {
        for (json, want) in [
            (
                r#"{"timeouts":{"idle":"\u0000function0"}}"#,
                "`timeouts.idle` must be a number, got function",
            ),
            (
                r#"{"timeouts":{"idle":"soon"}}"#,
                "`timeouts.idle` must be a number, got string",
            ),
            (
                r#"{"timeouts":{"idle":"\u0000numberNaN"}}"#,
                "`timeouts.idle` must be a finite number ≥ 0, got NaN",
            ),
            (
                r#"{"timeouts":{"idle":-5}}"#,
                "`timeouts.idle` must be a finite number ≥ 0, got -5",
            ),
            (
                r#"{"timeouts":{"idle":-0.5}}"#,
                "`timeouts.idle` must be a finite number ≥ 0, got -0.5",
            ),
            (r#"{"fetch":5}"#, "`fetch` must be a function, got number"),
            (r#"{"fetch":"x"}"#, "`fetch` must be a function, got string"),
            (r#"{"headers":5}"#, "`headers` must be an object, got number"),
            (
                r#"{"headers":{"x":true}}"#,
                "`headers.x` must be a string, got boolean",
            ),
            (
                r#"{"headers":[["only-a-name"]]}"#,
                "`headers` entries must be [name, value] pairs of strings",
            ),
            (r#"{"provider":42}"#, "`provider` must be a string, got number"),
            (r#"{"timeouts":[]}"#, "`timeouts` must be an object, got an array"),
            (r#"5"#, "`options` must be an object, got number"),
            (
                r#"{"retry":{"jitter":2}}"#,
                "`retry.jitter` must be a number from 0 to 1",
            ),
            (
                r#"{"circuitBreaker":{"failureRate":"x"}}"#,
                "`circuitBreaker.failureRate` must be a number from 0 to 1",
            ),
            (
                r#"{"fallback":{}}"#,
                "`fallback` must be an array of { model?, provider?, endpointUrl?, baseUrl? }, got object",
            ),
            (r#"{"fallback":[3]}"#, "`fallback[0]` must be an object, got number"),
            (r#"{"fallback":[null]}"#, "`fallback[0]` must be an object"),
            (
                r#"{"fallback":[{}]}"#,
                "`fallback[0]` names no model, provider, endpointUrl or baseUrl",
            ),
            (
                r#"{"fallback":[{"model":1}]}"#,
                "`fallback[0].model` must be a string, got number",
            ),
            (
                r#"{"estimateUsage":"yes"}"#,
                "`estimateUsage` must be true or false, got string",
            ),
            (
                r#"{"budget":{"usd":"\u0000numberInfinity"}}"#,
                "`budget.usd` must be a number of dollars",
            ),
            (r#"{"cache":"bogus"}"#, "`cache` must be an object, got string"),
            (
                r#"{"cache":{"mode":3}}"#,
                "`cache.mode` must be true, false, \"auto\", \"force\" or \"off\", got number",
            ),
            (
                r#"{"cache":{"store":"\u0000function0"}}"#,
                "`cache.store` must be an object, got function",
            ),
            (r#"{"prices":"\u0000function0"}"#, "`prices` cannot be written as JSON"),
            (r#"{"route":"\u0000bigint"}"#, "`route` cannot be written as JSON"),
        ] {
            assert_eq!(message(client(json)), want, "{json}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_a_suggestion() {
        assert_eq!(
            message(client(r#"{"timeouts":{"idleMs":300}}"#)),
            "unknown option `idleMs` in `timeouts`; did you mean `idle`?"
        );
        assert_eq!(
            message(client(r#"{"tokn":"hf_x"}"#)),
            "unknown option `tokn` in the client options; did you mean `token`?"
        );
        assert_eq!(
            message(client(r#"{"fallback":[{"modle":"m"}]}"#)),
            "unknown option `modle` in `fallback[0]`; did you mean `model`?"
        );
        // `undefined` is still a key the caller wrote.
        assert!(message(client(r#"{"tokn":"\u0000undefined"}"#)).contains("`tokn`"));
        assert!(message(call(r#"{"onContnet":"\u0000function0"}"#))
            .starts_with("unknown option `onContnet` in the call options"));
    }

    #[test]
    fn the_first_error_in_reading_order_is_the_one_reported() {
        assert_eq!(
            message(client(r#"{"token":5,"fetch":5}"#)),
            "`token` must be a string, got number"
        );
        // Unknown keys come before any value.
        assert!(message(client(r#"{"token":5,"tokn":1}"#)).contains("`tokn`"));
    }

    #[test]
    fn the_urls_and_conflicts_are_checked_when_the_client_is_made() {
        assert!(message(client(r#"{"endpointUrl":"not a url"}"#)).contains("endpointUrl"));
        assert!(message(client(r#"{"hubUrl":"nope"}"#)).starts_with("`hubUrl` must be"));
        assert!(message(client(
            r#"{"endpointUrl":"http://127.0.0.1:1","provider":"together"}"#
        ))
        .contains("`endpointUrl` are both set"));
        assert!(message(client(r#"{"rateLimit":{"maxConcurrent":0}}"#))
            .contains("rateLimit.maxConcurrent"));
        assert!(message(client(r#"{"cache":{"ttlMs":0}}"#)).contains("cache.ttlMs"));
    }

    #[test]
    fn undefined_and_null_are_absent() {
        let o = client(r#"{"token":"\u0000undefined","fetch":null,"timeouts":"\u0000undefined"}"#)
            .expect("accepted");
        assert!(o.token.is_none() && o.fetch.is_none());
        // `spike: null` or an `onSpike` turns the spike alerts on, `spike: false` off.
        assert!(client(r#"{"spike":null}"#)
            .expect("accepted")
            .metering
            .meter
            .spike
            .is_some());
        assert!(client(r#"{"onSpike":"\u0000function0"}"#)
            .expect("accepted")
            .metering
            .meter
            .spike
            .is_some());
        assert!(client(r#"{"spike":false,"onSpike":"\u0000function0"}"#)
            .expect("accepted")
            .metering
            .meter
            .spike
            .is_none());
    }

    #[test]
    fn a_marked_string_is_the_string_itself() {
        let o = client(r#"{"token":"\u0000string\u0000abc"}"#).expect("accepted");
        assert_eq!(o.token.as_deref(), Some("\0abc"));
    }

    #[test]
    fn the_cache_takes_a_mode_or_an_object() {
        let mode = |json: &str| {
            client(json)
                .expect("accepted")
                .metering
                .cache
                .map(|c| c.mode)
        };
        assert_eq!(mode(r#"{"cache":true}"#), Some(CacheMode::Auto));
        assert_eq!(mode(r#"{"cache":"force"}"#), Some(CacheMode::Force));
        assert_eq!(mode(r#"{"cache":"off"}"#), None);
        assert_eq!(mode(r#"{"cache":false}"#), None);
        assert_eq!(
            mode(r#"{"cache":{"mode":"force"}}"#),
            Some(CacheMode::Force)
        );
        assert_eq!(mode(r#"{"cache":{"mode":false}}"#), None);
        let c = call(r#"{"cache":false}"#).expect("accepted");
        assert_eq!(c.cache, Some(CacheMode::Off));
        assert!(message(call(r#"{"cache":"x"}"#)).starts_with("`cache` must be true, false"));
    }

    #[test]
    fn a_call_merges_over_the_client() {
        let c = call(
            r#"{"signal":"\u0000object0","headers":[["X-Client","k"],["x-call","v"]],
                "timeouts":{"total":5},"onContent":"\u0000function1","accumulate":false,
                "provider":"together","tier":"gold"}"#,
        )
        .expect("accepted");
        assert_eq!(c.signal, Some(Js(0)));
        assert_eq!(
            c.headers,
            [
                ("X-Client".into(), "k".into()),
                ("x-call".into(), "v".into())
            ]
        );
        assert_eq!(c.timeouts.total_ms, 5);
        assert_eq!(c.timeouts.idle_ms, Timeouts::default().idle_ms);
        assert_eq!(c.on_content, Some(Js(1)));
        assert!(!c.accumulate);
        assert_eq!(c.tier.as_deref(), Some("gold"));
        let base = Routing {
            bill_to: Some("org".into()),
            ..Routing::default()
        };
        let r = c.routing.over(&base);
        assert!(r.provider.is_some() && r.bill_to.as_deref() == Some("org"));
    }

    #[test]
    fn a_signal_must_be_an_object_and_callbacks_functions() {
        assert_eq!(
            message(call(r#"{"signal":"x"}"#)),
            "`signal` must be an AbortSignal, got string"
        );
        assert_eq!(
            message(call(r#"{"onChunk":true}"#)),
            "`onChunk` must be a function, got boolean"
        );
        assert_eq!(
            message(call(r#"{"accumulate":"no"}"#)),
            "`accumulate` must be true or false, got string"
        );
    }
}
