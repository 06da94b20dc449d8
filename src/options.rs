//! Which option keys exist, how an options object is read, and what to say about a key
//! or a value that is wrong.
//!
//! Owns: the key lists of every options object the client and the proxy accept (the
//! client's, a call's, the proxy's, and each nested object: `timeouts`, `retry`,
//! `circuitBreaker`, ...); the `input` error for an unknown key, naming the key it
//! probably meant (a misspelled option is a bug the caller cannot see: `timeouts: {
//! idleMs: 300 }` would be no timeout at all, so it is refused rather than ignored); and
//! [`Obj`], the one reader every options object goes through: the options arrive as JSON
//! text (`optionsJson` in `js/wire.js`) in which each JavaScript value JSON cannot carry
//! (a function, an `AbortSignal`, a cache store, `undefined`, `NaN`) is a placeholder
//! string, and [`Obj`] checks each value's type with the words the caller sees
//! ("`timeouts.idle` must be a number, got function"), handing back a JS value as its
//! index in the shell's side array ([`Js`]). The client's and a call's options are read
//! by [`client`], the proxy's by `crate::proxy::options`.
//! Must never: touch a JS value (the shell picks them from the side array by index), or
//! look inside request bodies (unknown body fields such as `top_k` pass through
//! untouched).

pub mod client;

use crate::json::{Map, Value};

use crate::error::Error;

/// `new InferenceClient(options)`.
pub const CLIENT: &[&str] = &[
    "token",
    "baseUrl",
    "endpointUrl",
    "headers",
    "fetch",
    "timeouts",
    "limits",
    "retry",
    "fallback",
    "circuitBreaker",
    "provider",
    "policy",
    "billTo",
    "hubUrl",
    "mappingCache",
    "prices",
    "budget",
    "spike",
    "cache",
    "rateLimit",
    "route",
    "estimateUsage",
    "onUsage",
    "onSpike",
    "onBudget",
];

/// A call's options (`chatCompletion`, `chatCompletionStream`, TGI, `listModels`, ...).
pub const CALL: &[&str] = &[
    "signal",
    "timeouts",
    "headers",
    "retry",
    "fallback",
    "provider",
    "policy",
    "billTo",
    "tier",
    "cache",
    "onRetry",
    "onFallback",
    "onUsage",
    "onContent",
    "onChunk",
    "onFinish",
    "onError",
    "onAbort",
    "accumulate",
];

/// `timeouts: { … }`.
pub const TIMEOUTS: &[&str] = &["headers", "firstChunk", "idle", "total"];
/// `retry: { … }`.
pub const RETRY: &[&str] = &[
    "maxRetries",
    "baseDelayMs",
    "maxDelayMs",
    "budgetMs",
    "jitter",
    "maxServerDelayMs",
];
/// `circuitBreaker: { … }`.
pub const CIRCUIT_BREAKER: &[&str] = &[
    "failureThreshold",
    "failureRate",
    "windowMs",
    "minRequests",
    "openMs",
];
/// `limits: { … }`.
pub const LIMITS: &[&str] = &["maxLineBytes", "maxEventBytes"];
/// `mappingCache: { … }`.
pub const MAPPING_CACHE: &[&str] = &["ttlMs", "maxEntries"];
/// Each `fallback[i]`.
pub const FALLBACK: &[&str] = &["model", "provider", "endpointUrl", "baseUrl"];
/// `budget: { … }`.
pub const BUDGET: &[&str] = &["usd", "tokens", "windowMs"];
/// `spike: { … }`.
pub const SPIKE: &[&str] = &[
    "recentMs",
    "baselineMs",
    "factor",
    "minBaselineRequests",
    "minRecentRequests",
];
/// `cache: { … }`.
pub const CACHE: &[&str] = &[
    "mode",
    "maxEntries",
    "maxBytes",
    "ttlMs",
    "streams",
    "store",
];
/// `rateLimit: { … }`.
pub const RATE_LIMIT: &[&str] = &[
    "requestsPerMinute",
    "tokensPerMinute",
    "maxConcurrent",
    "maxQueue",
];

/// `createProxy(options)`.
pub const PROXY: &[&str] = &[
    "token",
    "upstream",
    "allowedOrigins",
    "allowedModels",
    "allowedProviders",
    "maxBodyBytes",
    "maxTokensCap",
    "defaultMaxTokens",
    "maxTokensMode",
    "maxChoices",
    "streamUsage",
    "rateLimit",
    "clientKey",
    "requireKey",
    "sessions",
    "sessionSecret",
    "timeouts",
    "fetch",
    "onUsage",
    "log",
    "logContent",
    "budget",
    "prices",
    "durableState",
    "stateTimeoutMs",
];
/// The proxy's `rateLimit: { … }`.
pub const PROXY_RATE_LIMIT: &[&str] = &["requestsPerMinute", "burst", "maxClients"];
/// The proxy's `sessions: { … }`.
pub const SESSIONS: &[&str] = &["ttlMs", "bindClient"];

/// The nested objects of the client's and a call's options, for "did you mean
/// `retry.maxRetries`?" when a nested key is written at the top.
const NESTED: &[(&str, &[&str])] = &[
    ("timeouts", TIMEOUTS),
    ("retry", RETRY),
    ("circuitBreaker", CIRCUIT_BREAKER),
    ("limits", LIMITS),
    ("mappingCache", MAPPING_CACHE),
    ("budget", BUDGET),
    ("spike", SPIKE),
    ("cache", CACHE),
    ("rateLimit", RATE_LIMIT),
];

/// Which options object a key was found in, as the caller wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// `new InferenceClient(options)`.
    Client,
    /// A call's options.
    Call,
    /// `createProxy(options)`.
    Proxy,
    /// A nested object, by its path: `"timeouts"`, `"fallback[0]"`, `"rateLimit"`.
    Nested(&'a str),
}

/// Check an options object's own keys against `known`. The first unknown key is an
/// `input` error naming it and, when one is close, the key it probably meant.
pub fn check_keys<'a>(
    at: Place<'_>,
    keys: impl IntoIterator<Item = &'a str>,
    known: &[&str],
) -> Result<(), Error> {
    for key in keys {
        if known.contains(&key) {
            continue;
        }
        let place = match at {
            Place::Client => "the client options".to_owned(),
            Place::Call => "the call options".to_owned(),
            Place::Proxy => "the proxy options".to_owned(),
            Place::Nested(p) => format!("`{p}`"),
        };
        let hint = match suggestion(key, known) {
            Some(k) => format!("; did you mean `{k}`?"),
            None => match at {
                // A nested key written at the top level: point at where it goes.
                Place::Client | Place::Call | Place::Proxy => NESTED
                    .iter()
                    .find(|(_, keys)| keys.contains(&key))
                    .filter(|(parent, _)| known.contains(parent))
                    .map(|(parent, _)| format!("; did you mean `{parent}: {{ {key} }}`?"))
                    .unwrap_or_else(|| format!("; the known options are {}", list(known))),
                Place::Nested(_) => format!("; the known options are {}", list(known)),
            },
        };
        return Err(Error::input(format!(
            "unknown option `{key}` in {place}{hint}"
        )));
    }
    Ok(())
}

/// `` `a`, `b` ``. Pushed by hand: a `join` of `String`s is a second copy of the join code in
/// the wasm (the `&str` one is already there).
fn list(known: &[&str]) -> String {
    let mut out = String::new();
    for (i, k) in known.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(k);
        out.push('`');
    }
    out
}

/// The known key `key` was most likely meant as: the same but for case; the one it shares
/// the longest beginning with, when that is all of the shorter (`idleMs` → `idle`, `ttl` →
/// `ttlMs`; two letters are too few) or five letters and three quarters of it; or the nearest by edit distance (adjacent swaps count as one edit) within a
/// third of the key's length. Ties go to the earlier key in `known`.
pub fn suggestion<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(k);
    }
    // A shared beginning: all of the shorter one (`idleMs` → `idle`), or most of it
    // (`maxRetry` → `maxRetries`). The longest wins, the earlier key on a tie. Loops,
    // not iterator chains: those compiled the prefix closure twice (1 KB of wasm).
    let mut best: Option<(usize, &'k str)> = None;
    for k in known {
        if let Some(p) = shared_prefix(&lower, k) {
            if best.map_or(true, |(b, _)| p > b) {
                best = Some((p, k));
            }
        }
    }
    if let Some((_, k)) = best {
        return Some(k);
    }
    let bound = (key.chars().count() / 3).max(1);
    let mut nearest: Option<(usize, &'k str)> = None;
    for k in known {
        let d = distance(&lower, &k.to_ascii_lowercase());
        if d <= bound && nearest.map_or(true, |(b, _)| d < b) {
            nearest = Some((d, k));
        }
    }
    nearest.map(|(_, k)| k)
}

/// How many bytes `lower` (a key, lowercased) and `k` share at the start, ignoring case,
/// when that is close enough to suggest `k`: all of the shorter (three bytes at least),
/// or five bytes and three quarters of the shorter.
fn shared_prefix(lower: &str, k: &str) -> Option<usize> {
    let kl = k.to_ascii_lowercase();
    let p = lower
        .bytes()
        .zip(kl.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let shorter = lower.len().min(kl.len());
    let close = (p == shorter && shorter >= 3) || (p >= 5 && 4 * p >= 3 * shorter);
    close.then_some(p)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), over
/// chars. Keys are short, so the full table is fine.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, cell) in d.iter_mut().step_by(w).enumerate() {
        *cell = i;
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

// ---------------------------------------------------------------------------------
// Reading an options object
// ---------------------------------------------------------------------------------

/// A JavaScript value an option holds that JSON cannot carry (a function, an
/// `AbortSignal`, a cache store): its index in the side array `optionsJson` filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Js(pub u32);

/// The options' JSON text as `optionsJson` wrote it, parsed. `None` (the caller passed
/// `undefined` or `null`) is an empty object.
pub fn parse(text: Option<&str>) -> Result<Value, Error> {
    match text {
        None => Ok(Value::Object(Map::new())),
        Some(t) => crate::json::parse(t)
            .map_err(|e| Error::input(format!("the options could not be read: {e}"))),
    }
}

/// A placeholder's JavaScript `typeof` and what follows it (an index, or a number's or a
/// string's text), when `s` is one: `"\0"`, the `typeof`, the rest.
fn placeholder(s: &str) -> Option<(&'static str, &str)> {
    let rest = s.strip_prefix('\0')?;
    [
        "function",
        "object",
        "undefined",
        "number",
        "string",
        "symbol",
        "bigint",
    ]
    .into_iter()
    .find_map(|t| rest.strip_prefix(t).map(|r| (t, r)))
}

/// `undefined`: JSON's `null`'s twin, absent to every option.
fn is_undefined(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::String(s)) => matches!(placeholder(s), Some(("undefined", _))),
        Some(_) => false,
    }
}

/// How a message names the type of `v` (`typeof`, or `null`, `an array`).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(s) => placeholder(s).map_or("string", |(t, _)| t),
        Value::Array(_) => "an array",
        Value::Object(_) => "object",
    }
}

/// `v` as a string, when it is one (a placeholder is not, but for a marked string).
pub(crate) fn as_str(v: &Value) -> Option<&str> {
    let Value::String(s) = v else { return None };
    match placeholder(s) {
        None => Some(s),
        Some(("string", rest)) => Some(rest),
        Some(_) => None,
    }
}

/// How JavaScript writes the number `v` (`String(n)`), for a message: `NaN` and
/// `Infinity` arrive as their text.
fn number_text(v: &Value) -> String {
    match v {
        Value::String(s) => placeholder(s).map_or("", |(_, t)| t).to_owned(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => crate::json::float_text(f),
            _ => n.display(),
        },
        _ => String::new(),
    }
}

/// What follows the `typeof` of a placeholder of type `ty`.
fn js_text<'v>(v: &'v Value, ty: &str) -> Option<&'v str> {
    let Value::String(s) = v else { return None };
    placeholder(s)
        .filter(|(t, _)| *t == ty)
        .map(|(_, rest)| rest)
}

/// A JS value's index, when `v` is a placeholder of type `ty`.
fn js_of(v: &Value, ty: &str) -> Option<Js> {
    let digits = js_text(v, ty)?;
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    // Nine digits at most: no overflow (and not `str::parse`, 300 bytes of wasm).
    digits
        .bytes()
        .try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
        .map(Js)
}

/// `v` as `JSON.stringify` would have written it (what the `prices`, `route` and
/// `budget` readers were written for): what it leaves out (functions, symbols,
/// `undefined`) is dropped from objects and `null` in arrays, a number it has no form for
/// is `null`, a marked string is itself again. `Ok(None)`: it writes nothing at all;
/// `Err`: it throws (a `BigInt`, or an object kept as a JS value).
pub(crate) fn plain(v: &Value) -> Result<Option<Value>, ()> {
    Ok(Some(match v {
        Value::String(s) => match placeholder(s) {
            None => v.clone(),
            Some(("string", rest)) => Value::String(rest.to_owned()),
            Some(("number", _)) => Value::Null,
            Some(("function" | "symbol" | "undefined", _)) => return Ok(None),
            Some(_) => return Err(()),
        },
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(plain(item)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, item) in m {
                if let Some(item) = plain(item)? {
                    out.insert(k.clone(), item);
                }
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }))
}

/// One read of an options object: it keeps the first error met, so each read of a value
/// is one call that cannot fail (a wrong value reads as absent and the error waits here),
/// and what the caller sees is that first error, in reading order. (With a `?` after
/// every read, each read was its own early return, dropping whatever had been read so
/// far: most of the readers' code.)
#[derive(Default)]
pub struct Reader {
    first: std::cell::RefCell<Option<Error>>,
}

impl Reader {
    /// Keep `e` unless an error came first.
    #[cold]
    #[inline(never)]
    pub fn fail(&self, e: Error) {
        let mut first = self.first.borrow_mut();
        if first.is_none() {
            *first = Some(e);
        }
    }

    /// `r`'s value, its error kept.
    pub fn ok<T>(&self, r: Result<T, Error>) -> Option<T> {
        r.map_err(|e| self.fail(e)).ok()
    }

    /// `value`, unless an error was kept.
    pub fn done<T>(self, value: T) -> Result<T, Error> {
        match self.first.into_inner() {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }

    /// The top of the options (`options` in messages): an object, or absent (an empty
    /// one), whose keys are all in `known`.
    pub fn top<'a>(&'a self, v: &'a Value, at: Place<'_>, known: &[&str]) -> Obj<'a> {
        let map = match v {
            Value::Object(m) => Some(m),
            v if v.is_null() || is_undefined(Some(v)) => None,
            v => {
                self.fail(Error::input(format!(
                    "`options` must be an object, got {}",
                    type_name(v)
                )));
                None
            }
        };
        let o = Obj {
            map,
            path: "",
            r: self,
        };
        o.known(at, known);
        o
    }
}

/// One options object, with the typed reads of its values. Every message names the
/// option by its path (`timeouts.idle`, `fallback[0].model`); a wrong value reads as
/// `None` and its error is kept by the [`Reader`].
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    /// `None`: not given (empty).
    map: Option<&'a Map<String, Value>>,
    /// The object's own path (`""` at the top, `"timeouts"`, `"fallback[0]"`).
    path: &'a str,
    r: &'a Reader,
}

impl<'a> Obj<'a> {
    /// An object at `path` (an item of a list) whose keys are all in `known`, or `None`
    /// when `v` is absent or not an object.
    #[inline(never)]
    pub fn at(&self, v: Option<&'a Value>, path: &'a str, known: &[&str]) -> Option<Obj<'a>> {
        let map = self.r.ok(object_at(v, path))??;
        let o = Obj {
            map: Some(map),
            path,
            r: self.r,
        };
        o.known(Place::Nested(path), known);
        Some(o)
    }

    fn known(&self, at: Place<'_>, known: &[&str]) {
        if let Some(m) = self.map {
            self.r
                .ok(check_keys(at, m.keys().map(String::as_str), known));
        }
    }

    /// Keep `e` (it is the caller's answer unless an error came first).
    pub fn fail(&self, e: Error) {
        self.r.fail(e);
    }

    /// `r`'s value, its error kept.
    pub fn ok<T>(&self, r: Result<T, Error>) -> Option<T> {
        self.r.ok(r)
    }

    /// `key`'s value, `None` when it is absent, `null` or `undefined`.
    #[inline(never)]
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.raw(key)
            .filter(|v| !v.is_null() && !is_undefined(Some(v)))
    }

    /// Whether `key` holds anything but `undefined` (`null` counts).
    pub fn has(&self, key: &str) -> bool {
        !is_undefined(self.raw(key))
    }

    /// `key`'s value as written, `null` and `undefined` included.
    #[inline(never)]
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key)
    }

    /// The path of `key` in messages.
    #[inline(never)]
    pub fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The nested object `key` (of the top: its path is its key), whose keys are all in
    /// `known`.
    #[inline(never)]
    pub fn object(&self, key: &'a str, known: &[&str]) -> Option<Obj<'a>> {
        self.at(self.get(key), key, known)
    }

    /// A wrong type at `key`: "`path` must be {what}, got {type}".
    #[cold]
    #[inline(never)]
    pub fn wrong(&self, key: &str, what: &str, v: &Value) {
        self.fail(Error::input(format!(
            "`{}` must be {what}, got {}",
            self.path(key),
            type_name(v)
        )));
    }

    #[inline(never)]
    pub fn string(&self, key: &str) -> Option<String> {
        let v = self.get(key)?;
        let s = as_str(v).map(str::to_owned);
        if s.is_none() {
            self.wrong(key, "a string", v);
        }
        s
    }

    /// A non-negative whole number of milliseconds or bytes (at most `u32::MAX`).
    #[inline(never)]
    pub fn number(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        match v.as_f64() {
            Some(n) if n >= 0.0 => return Some(n.min(u32::MAX as f64) as u64),
            _ if type_name(v) == "number" => self.fail(Error::input(format!(
                "`{}` must be a finite number ≥ 0, got {}",
                self.path(key),
                number_text(v)
            ))),
            _ => self.wrong(key, "a number", v),
        }
        None
    }

    /// [`Obj::number`] as a `u32`.
    pub fn count(&self, key: &str) -> Option<u32> {
        self.number(key).map(|n| n.min(u32::MAX as u64) as u32)
    }

    /// A number (any sign; `NaN` and the infinities too), or `None` when `key` holds
    /// anything else.
    #[inline(never)]
    pub fn float(&self, key: &str) -> Option<f64> {
        let v = self.get(key)?;
        match (v.as_f64(), js_text(v, "number")) {
            (Some(n), _) => Some(n),
            (None, Some("NaN")) => Some(f64::NAN),
            (None, Some("Infinity")) => Some(f64::INFINITY),
            (None, Some("-Infinity")) => Some(f64::NEG_INFINITY),
            _ => None,
        }
    }

    /// A number from 0 to 1.
    #[inline(never)]
    pub fn fraction(&self, key: &str) -> Option<f64> {
        let v = self.get(key)?;
        match v.as_f64() {
            Some(r) if (0.0..=1.0).contains(&r) => Some(r),
            _ => {
                self.fail(Error::input(format!(
                    "`{}` must be a number from 0 to 1",
                    self.path(key)
                )));
                None
            }
        }
    }

    #[inline(never)]
    pub fn boolean(&self, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        let b = v.as_bool();
        if b.is_none() {
            self.wrong(key, "true or false", v);
        }
        b
    }

    /// `key` is `false` (not merely absent).
    #[inline(never)]
    pub fn is_false(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(false)))
    }

    /// `key` is `true`.
    #[inline(never)]
    pub fn is_true(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    #[inline(never)]
    pub fn function(&self, key: &str) -> Option<Js> {
        let v = self.get(key)?;
        let f = js_of(v, "function");
        if f.is_none() {
            self.wrong(key, "a function", v);
        }
        f
    }

    /// A JS object kept as it is (`signal`, `cache.store`); `what` says what it must be.
    #[inline(never)]
    pub fn js_object(&self, key: &str, what: &str) -> Option<Js> {
        let v = self.get(key)?;
        let o = js_of(v, "object");
        if o.is_none() {
            self.wrong(key, what, v);
        }
        o
    }

    /// `key`'s value as `JSON.stringify` writes it ([`plain`]); `message` when it cannot
    /// be.
    #[inline(never)]
    pub fn plain(&self, key: &str, message: &str) -> Option<Value> {
        match plain(self.get(key)?) {
            Ok(Some(p)) => Some(p),
            _ => {
                self.fail(Error::input(message));
                None
            }
        }
    }

    /// `{ name: value }` of strings (numbers are written out), or `[name, value]` pairs
    /// (an array, or a `Headers` object, which `optionsJson` writes as its pairs).
    #[inline(never)]
    pub fn headers(&self, key: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(v) = self.get(key) else {
            return out;
        };
        let path = self.path(key);
        if let Value::Array(items) = v {
            for item in items {
                let pair = match item.as_array().map(Vec::as_slice) {
                    Some([n, v]) => as_str(n).zip(as_str(v)),
                    _ => None,
                };
                let Some((n, v)) = pair else {
                    self.fail(Error::input(format!(
                        "`{path}` entries must be [name, value] pairs of strings"
                    )));
                    break;
                };
                out.push((n.to_owned(), v.to_owned()));
            }
            return out;
        }
        let Some(Some(map)) = self.r.ok(object_at(Some(v), &path)) else {
            return out;
        };
        for (name, v) in map {
            let value = match as_str(v) {
                Some(s) => s.to_owned(),
                None if type_name(v) == "number" => number_text(v),
                None if is_undefined(Some(v)) => continue,
                None => {
                    self.fail(Error::input(format!(
                        "`{path}.{name}` must be a string, got {}",
                        type_name(v)
                    )));
                    break;
                }
            };
            out.push((name.clone(), value));
        }
        out
    }
}

/// `v` as an object at `path`: `None` when absent, an error naming its type when it is
/// something else.
fn object_at<'a>(
    v: Option<&'a Value>,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) if is_undefined(Some(v)) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(Error::input(format!(
            "`{path}` must be an object, got {}",
            type_name(v)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn message(at: Place<'_>, key: &str, known: &[&str]) -> String {
        let e = check_keys(at, [key], known).expect_err("an unknown key is refused");
        assert_eq!(e.kind, ErrorKind::Input);
        e.message
    }

    #[test]
    fn the_issues_examples_name_the_key_they_meant() {
        assert_eq!(
            message(Place::Nested("timeouts"), "idleMs", TIMEOUTS),
            "unknown option `idleMs` in `timeouts`; did you mean `idle`?"
        );
        assert_eq!(
            message(Place::Client, "tokn", CLIENT),
            "unknown option `tokn` in the client options; did you mean `token`?"
        );
        assert_eq!(
            message(Place::Nested("retry"), "maxRetry", RETRY),
            "unknown option `maxRetry` in `retry`; did you mean `maxRetries`?"
        );
    }

    #[test]
    fn known_keys_pass() {
        assert!(check_keys(Place::Client, CLIENT.iter().copied(), CLIENT).is_ok());
        assert!(check_keys(Place::Call, ["signal", "onContent"], CALL).is_ok());
    }

    #[test]
    fn case_and_swapped_letters_are_recognised() {
        assert_eq!(suggestion("BaseURL", CLIENT), Some("baseUrl"));
        assert_eq!(suggestion("tiemouts", CLIENT), Some("timeouts"));
        assert_eq!(suggestion("firstchunk", TIMEOUTS), Some("firstChunk"));
        assert_eq!(suggestion("ttl", CACHE), Some("ttlMs"));
        assert_eq!(suggestion("to", CLIENT), None);
    }

    #[test]
    fn ties_go_to_the_earlier_key() {
        // The same shared beginning (`abcde`), then the same distance (one edit).
        assert_eq!(
            suggestion("abcdeX", &["abcdefgh", "abcdeYZ"]),
            Some("abcdefgh")
        );
        assert_eq!(
            suggestion("abcdeX", &["abcdeYZ", "abcdefgh"]),
            Some("abcdeYZ")
        );
        assert_eq!(suggestion("kex", &["key", "kez"]), Some("key"));
        assert_eq!(suggestion("kex", &["kez", "key"]), Some("kez"));
        // A longer shared beginning wins over an earlier key.
        assert_eq!(
            suggestion("maxRetry", &["maxRe", "maxRetries"]),
            Some("maxRetries")
        );
    }

    #[test]
    fn a_nested_key_at_the_top_points_where_it_goes() {
        assert_eq!(
            message(Place::Client, "maxRetries", CLIENT),
            "unknown option `maxRetries` in the client options; did you mean `retry: { maxRetries }`?"
        );
        assert!(message(Place::Call, "firstChunk", CALL).contains("`timeouts: { firstChunk }`"));
    }

    #[test]
    fn a_key_far_from_every_known_one_lists_them() {
        let m = message(Place::Nested("limits"), "zzz", LIMITS);
        assert_eq!(
            m,
            "unknown option `zzz` in `limits`; the known options are `maxLineBytes`, `maxEventBytes`"
        );
        assert_eq!(suggestion("qqqqqqqq", CLIENT), None);
    }

    #[test]
    fn the_proxy_options_say_so() {
        assert_eq!(
            message(Place::Proxy, "allowedModel", PROXY),
            "unknown option `allowedModel` in the proxy options; did you mean `allowedModels`?"
        );
        assert!(
            message(Place::Nested("sessions"), "ttl", SESSIONS).ends_with("did you mean `ttlMs`?")
        );
    }

    #[test]
    fn the_call_options_say_so() {
        assert!(message(Place::Call, "onContnet", CALL).starts_with(
            "unknown option `onContnet` in the call options; did you mean `onContent`?"
        ));
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("abc", "acb"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn placeholders_read_as_their_javascript_types() {
        let v = parse(Some(
            r#"["\u0000function0","\u0000object1","\u0000undefined","\u0000numberNaN","\u0000symbol","\u0000bigint","\u0000string\u0000x","plain",null,[],{}]"#,
        ))
        .expect("valid JSON");
        let names: Vec<&str> = v.as_array().into_iter().flatten().map(type_name).collect();
        assert_eq!(
            names,
            [
                "function",
                "object",
                "undefined",
                "number",
                "symbol",
                "bigint",
                "string",
                "string",
                "null",
                "an array",
                "object"
            ]
        );
        assert_eq!(as_str(&v[6]), Some("\0x"));
        assert_eq!(js_of(&v[0], "function"), Some(Js(0)));
        assert_eq!(js_of(&v[1], "function"), None);
    }

    #[test]
    fn plain_is_what_json_stringify_would_have_written() {
        let v = parse(Some(
            r#"{"a":"\u0000function0","b":["\u0000undefined","\u0000numberNaN",1],"c":"\u0000string\u0000s","d":{"e":"\u0000symbol"}}"#,
        ))
        .expect("valid JSON");
        let p = plain(&v).expect("writable").expect("something");
        assert_eq!(
            crate::json::to_text(&p),
            r#"{"b":[null,null,1],"c":"\u0000s","d":{}}"#
        );
        assert_eq!(plain(&v["a"]), Ok(None));
        assert!(plain(&parse(Some(r#"["\u0000bigint"]"#)).expect("JSON")).is_err());
    }

    #[test]
    fn the_options_must_be_an_object() {
        for (json, ty) in [
            ("5", "number"),
            ("[]", "an array"),
            (r#""\u0000function0""#, "function"),
        ] {
            let r = Reader::default();
            let v = parse(Some(json)).expect("JSON");
            r.top(&v, Place::Client, CLIENT);
            let e = r.done(()).expect_err("refused");
            assert_eq!(e.message, format!("`options` must be an object, got {ty}"));
        }
    }
}
