//! Reading options that come from JavaScript.
//!
//! Owns: checking the type of every option a caller passes and turning it into Rust
//! values, with an `input` error that names the option when the type is wrong. Must
//! never: trust a JS value's type, or decide anything about HTTP (defaults and
//! URL rules live in the core).

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;
use crate::options as keys;
use crate::providers::{parse_provider, FallbackSpec, Policy, Provider};
use crate::retry::{BreakerOptions, RetryOptions};
use crate::sse::Limits;
use crate::timeouts::Timeouts;

/// The client's options, checked.
pub(crate) struct ClientOptions {
    pub token: Option<String>,
    pub base_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub fetch: Option<Function>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub retry: RetryOptions,
    pub fallback: Vec<FallbackSpec>,
    /// `None` when `circuitBreaker: false`.
    pub breaker: Option<BreakerOptions>,
    pub routing: Routing,
    pub hub_url: Option<String>,
}

/// Where calls go: the `provider`, `policy` and `billTo` options (client or call).
#[derive(Debug, Clone, Default)]
pub(crate) struct Routing {
    pub provider: Option<Provider>,
    pub policy: Option<Policy>,
    pub bill_to: Option<String>,
}

impl Routing {
    /// This call's options over the client's.
    pub(crate) fn over(&self, base: &Routing) -> Routing {
        Routing {
            provider: self.provider.or(base.provider),
            policy: self.policy.or(base.policy),
            bill_to: self.bill_to.clone().or_else(|| base.bill_to.clone()),
        }
    }
}

fn routing(o: &Object) -> Result<Routing, Error> {
    let provider = match string(o, "provider", "provider")? {
        Some(p) => Some(parse_provider(&p)?),
        None => None,
    };
    let policy = match string(o, "policy", "policy")? {
        Some(p) => Some(Policy::parse(&p)?),
        None => None,
    };
    Ok(Routing {
        provider,
        policy,
        bill_to: string(o, "billTo", "billTo")?,
    })
}

/// A call's options, checked (callbacks are read by the stream).
pub(crate) struct CallOptions {
    pub signal: Option<web_sys::AbortSignal>,
    pub timeouts: Timeouts,
    pub retry: RetryOptions,
    /// The call's own `fallback`, replacing the client's when given.
    pub fallback: Option<Vec<FallbackSpec>>,
    pub headers: Vec<(String, String)>,
    pub routing: Routing,
    pub object: Option<Object>,
}

pub(crate) fn client_options(v: &JsValue) -> Result<ClientOptions, Error> {
    let o = object(v, "options")?;
    let Some(o) = o else {
        return Ok(ClientOptions {
            token: None,
            base_url: None,
            endpoint_url: None,
            headers: Vec::new(),
            fetch: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            retry: RetryOptions::default(),
            fallback: Vec::new(),
            breaker: Some(BreakerOptions::default()),
            routing: Routing::default(),
            hub_url: None,
        });
    };
    known(&o, keys::Place::Client, keys::CLIENT)?;
    let mut limits = Limits::default();
    if let Some(l) = object(&get(&o, "limits"), "limits")? {
        known(&l, keys::Place::Nested("limits"), keys::LIMITS)?;
        if let Some(n) = number(&l, "maxLineBytes", "limits.maxLineBytes")? {
            limits.max_line_bytes = n.max(1) as usize;
        }
        if let Some(n) = number(&l, "maxEventBytes", "limits.maxEventBytes")? {
            limits.max_event_bytes = n.max(1) as usize;
        }
    }
    Ok(ClientOptions {
        token: string(&o, "token", "token")?,
        base_url: string(&o, "baseUrl", "baseUrl")?,
        endpoint_url: string(&o, "endpointUrl", "endpointUrl")?,
        headers: headers(&o, "headers")?,
        fetch: function(&o, "fetch", "fetch")?,
        timeouts: timeouts(&o, Timeouts::default())?,
        retry: retry(&o, RetryOptions::default())?,
        fallback: fallback(&o)?.unwrap_or_default(),
        breaker: breaker(&o)?,
        routing: routing(&o)?,
        hub_url: string(&o, "hubUrl", "hubUrl")?,
        limits,
    })
}

pub(crate) fn call_options(
    v: &JsValue,
    base: Timeouts,
    base_retry: RetryOptions,
    base_headers: &[(String, String)],
) -> Result<CallOptions, Error> {
    let o = object(v, "options")?;
    let Some(o) = o else {
        return Ok(CallOptions {
            signal: None,
            timeouts: base,
            retry: base_retry,
            fallback: None,
            headers: base_headers.to_vec(),
            routing: Routing::default(),
            object: None,
        });
    };
    known(&o, keys::Place::Call, keys::CALL)?;
    let signal = match get(&o, "signal") {
        s if s.is_undefined() || s.is_null() => None,
        s => Some(s.dyn_into::<web_sys::AbortSignal>().map_err(|s| {
            Error::input(format!(
                "`signal` must be an AbortSignal, got {}",
                type_name(&s)
            ))
        })?),
    };
    let mut merged = base_headers.to_vec();
    for (k, v) in headers(&o, "headers")? {
        merged.retain(|(n, _)| !n.eq_ignore_ascii_case(&k));
        merged.push((k, v));
    }
    Ok(CallOptions {
        signal,
        timeouts: timeouts(&o, base)?,
        retry: retry(&o, base_retry)?,
        fallback: fallback(&o)?,
        headers: merged,
        routing: routing(&o)?,
        object: Some(o),
    })
}

/// `mappingCache: { ttlMs, maxEntries }`: the Hub mapping cache of direct provider calls.
pub(crate) fn mapping_cache(v: &JsValue) -> Result<crate::hub::CacheConfig, Error> {
    let mut c = crate::hub::CacheConfig::default();
    let Some(o) = object(v, "options")? else {
        return Ok(c);
    };
    if let Some(m) = object(&get(&o, "mappingCache"), "mappingCache")? {
        known(&m, keys::Place::Nested("mappingCache"), keys::MAPPING_CACHE)?;
        if let Some(n) = number(&m, "ttlMs", "mappingCache.ttlMs")? {
            c.ttl_ms = n;
        }
        if let Some(n) = number(&m, "maxEntries", "mappingCache.maxEntries")? {
            c.max_entries = (n as usize).max(1);
        }
    }
    Ok(c)
}

/// The callback `key` of a call's options, if any.
pub(crate) fn callback(o: Option<&Object>, key: &str) -> Result<Option<Function>, Error> {
    match o {
        Some(o) => function(o, key, key),
        None => Ok(None),
    }
}

/// `fallback: [{ model?, provider?, endpointUrl?, baseUrl? }, …]`.
fn fallback(o: &Object) -> Result<Option<Vec<FallbackSpec>>, Error> {
    let v = get(o, "fallback");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !Array::is_array(&v) {
        return Err(Error::input(format!(
            "`fallback` must be an array of {{ model?, provider?, endpointUrl?, baseUrl? }}, got {}",
            type_name(&v)
        )));
    }
    let mut out = Vec::new();
    for (i, item) in Array::from(&v).iter().enumerate() {
        let path = format!("fallback[{i}]");
        let Some(f) = object(&item, &path)? else {
            return Err(Error::input(format!("`{path}` must be an object")));
        };
        known(&f, keys::Place::Nested(&path), keys::FALLBACK)?;
        let spec = FallbackSpec {
            model: string(&f, "model", &format!("{path}.model"))?,
            provider: string(&f, "provider", &format!("{path}.provider"))?,
            endpoint_url: string(&f, "endpointUrl", &format!("{path}.endpointUrl"))?,
            base_url: string(&f, "baseUrl", &format!("{path}.baseUrl"))?,
        };
        if spec == FallbackSpec::default() {
            return Err(Error::input(format!(
                "`{path}` names no model, provider, endpointUrl or baseUrl"
            )));
        }
        out.push(spec);
    }
    Ok(Some(out))
}

/// `circuitBreaker: false | { failureThreshold, failureRate, windowMs, minRequests,
/// openMs }`.
fn breaker(o: &Object) -> Result<Option<BreakerOptions>, Error> {
    let v = get(o, "circuitBreaker");
    let mut b = BreakerOptions::default();
    if v.is_undefined() || v.is_null() || v.as_bool() == Some(true) {
        return Ok(Some(b));
    }
    if v.as_bool() == Some(false) {
        return Ok(None);
    }
    let Some(bo) = object(&v, "circuitBreaker")? else {
        return Ok(Some(b));
    };
    known(
        &bo,
        keys::Place::Nested("circuitBreaker"),
        keys::CIRCUIT_BREAKER,
    )?;
    if let Some(n) = number(&bo, "failureThreshold", "circuitBreaker.failureThreshold")? {
        b.failure_threshold = n.min(u32::MAX as u64) as u32;
    }
    if let Some(n) = number(&bo, "minRequests", "circuitBreaker.minRequests")? {
        b.min_requests = n.min(u32::MAX as u64) as u32;
    }
    if let Some(n) = number(&bo, "windowMs", "circuitBreaker.windowMs")? {
        b.window_ms = n;
    }
    if let Some(n) = number(&bo, "openMs", "circuitBreaker.openMs")? {
        b.open_ms = n;
    }
    let rate = get(&bo, "failureRate");
    if !rate.is_undefined() && !rate.is_null() {
        match rate.as_f64() {
            Some(r) if (0.0..=1.0).contains(&r) => b.failure_rate = r,
            _ => {
                return Err(Error::input(
                    "`circuitBreaker.failureRate` must be a number from 0 to 1",
                ))
            }
        }
    }
    Ok(Some(b))
}

/// `retry: { maxRetries, baseDelayMs, maxDelayMs, budgetMs, jitter, maxServerDelayMs }`,
/// merged over `r`; `retry: false` means no retries (as openai users write it), `true`
/// the defaults.
fn retry(o: &Object, mut r: RetryOptions) -> Result<RetryOptions, Error> {
    let v = get(o, "retry");
    match v.as_bool() {
        Some(false) => {
            r.max_retries = 0;
            return Ok(r);
        }
        Some(true) => return Ok(r),
        None => {}
    }
    let Some(ro) = object(&v, "retry")? else {
        return Ok(r);
    };
    known(&ro, keys::Place::Nested("retry"), keys::RETRY)?;
    if let Some(n) = number(&ro, "maxRetries", "retry.maxRetries")? {
        r.max_retries = n.min(u32::MAX as u64) as u32;
    }
    for (key, slot) in [
        ("baseDelayMs", &mut r.base_delay_ms),
        ("maxDelayMs", &mut r.max_delay_ms),
        ("budgetMs", &mut r.budget_ms),
        ("maxServerDelayMs", &mut r.max_server_delay_ms),
    ] {
        if let Some(ms) = number(&ro, key, &format!("retry.{key}"))? {
            *slot = ms;
        }
    }
    let jitter = get(&ro, "jitter");
    if !jitter.is_undefined() && !jitter.is_null() {
        match jitter.as_f64() {
            Some(j) if (0.0..=1.0).contains(&j) => r.jitter = j,
            _ => return Err(Error::input("`retry.jitter` must be a number from 0 to 1")),
        }
    }
    Ok(r)
}

fn timeouts(o: &Object, mut t: Timeouts) -> Result<Timeouts, Error> {
    if let Some(to) = object(&get(o, "timeouts"), "timeouts")? {
        known(&to, keys::Place::Nested("timeouts"), keys::TIMEOUTS)?;
        for (key, slot) in [
            ("headers", &mut t.headers_ms),
            ("firstChunk", &mut t.first_chunk_ms),
            ("idle", &mut t.idle_ms),
            ("total", &mut t.total_ms),
        ] {
            if let Some(ms) = number(&to, key, &format!("timeouts.{key}"))? {
                *slot = ms;
            }
        }
    }
    Ok(t)
}

/// Refuse a key of `o` that is not in `known` ([`crate::options::check_keys`]).
pub(crate) fn known(o: &Object, at: keys::Place<'_>, known: &[&str]) -> Result<(), Error> {
    let own: Vec<String> = Object::keys(o)
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    keys::check_keys(at, own.iter().map(String::as_str), known)
}

pub(crate) fn get(o: &Object, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    if Array::is_array(v) {
        return "an array".into();
    }
    v.js_typeof()
        .as_string()
        .unwrap_or_else(|| "unknown".into())
}

use js_sys::Array;

/// How JavaScript writes a number (`String(n)`); formatting floats in Rust would pull
/// in float-printing code for no gain.
fn js_text(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Number>()
        .and_then(|n| n.to_string_with_radix(10).ok())
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// `v` as an object; `undefined`/`null` are `None`.
pub(crate) fn object(v: &JsValue, path: &str) -> Result<Option<Object>, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_object() || Array::is_array(v) || v.is_function() {
        return Err(Error::input(format!(
            "`{path}` must be an object, got {}",
            type_name(v)
        )));
    }
    Ok(Some(v.clone().unchecked_into()))
}

pub(crate) fn string(o: &Object, key: &str, path: &str) -> Result<Option<String>, Error> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| Error::input(format!("`{path}` must be a string, got {}", type_name(&v))))
}

/// A non-negative whole number of milliseconds or bytes.
pub(crate) fn number(o: &Object, key: &str, path: &str) -> Result<Option<u64>, Error> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n.min(u32::MAX as f64) as u64)),
        Some(_) => Err(Error::input(format!(
            "`{path}` must be a finite number ≥ 0, got {}",
            js_text(&v)
        ))),
        None => Err(Error::input(format!(
            "`{path}` must be a number, got {}",
            type_name(&v)
        ))),
    }
}

/// `true` or `false`.
pub(crate) fn boolean(o: &Object, key: &str, path: &str) -> Result<Option<bool>, Error> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or_else(|| {
        Error::input(format!(
            "`{path}` must be true or false, got {}",
            type_name(&v)
        ))
    })
}

pub(crate) fn function(o: &Object, key: &str, path: &str) -> Result<Option<Function>, Error> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<Function>().map(Some).map_err(|v| {
        Error::input(format!(
            "`{path}` must be a function, got {}",
            type_name(&v)
        ))
    })
}

/// A `{ name: value }` record of strings (numbers are accepted and written out).
fn headers(o: &Object, path: &str) -> Result<Vec<(String, String)>, Error> {
    let v = get(o, "headers");
    if v.is_undefined() || v.is_null() {
        // Checked first: touching the global `Headers` (below) loads undici in Node,
        // 35 ms of a client's cold start.
        return Ok(Vec::new());
    }
    // A `Headers` object (or anything iterable, like an array of pairs) is read through
    // its iterator: its own keys are empty.
    if Array::is_array(&v) || v.is_instance_of::<web_sys::Headers>() {
        let mut out = Vec::new();
        let iter = js_sys::try_iter(&v).ok().flatten().ok_or_else(|| {
            Error::input(format!(
                "`{path}` must be an object of header names to strings"
            ))
        })?;
        for entry in iter {
            let entry = entry.map_err(|_| Error::input(format!("`{path}` could not be read")))?;
            let pair = Array::from(&entry);
            match (
                pair.get(0).as_string(),
                pair.get(1).as_string(),
                pair.length(),
            ) {
                (Some(name), Some(value), 2) => out.push((name, value)),
                _ => {
                    return Err(Error::input(format!(
                        "`{path}` entries must be [name, value] pairs of strings"
                    )))
                }
            }
        }
        return Ok(out);
    }
    let Some(h) = object(&v, path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in Object::keys(&h).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let v = Reflect::get(&h, &key).unwrap_or(JsValue::UNDEFINED);
        let value = if let Some(s) = v.as_string() {
            s
        } else if v.as_f64().is_some() {
            js_text(&v)
        } else if v.is_undefined() {
            continue;
        } else {
            return Err(Error::input(format!(
                "`{path}.{name}` must be a string, got {}",
                type_name(&v)
            )));
        };
        out.push((name, value));
    }
    Ok(out)
}
