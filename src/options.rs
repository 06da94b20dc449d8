//! Which option keys exist, and what to say about one that does not.
//!
//! Owns: the key lists of every options object the client accepts (the client's, a
//! call's, and each nested object: `timeouts`, `retry`, `circuitBreaker`, ...), and the
//! `input` error for an unknown key, naming the key it probably meant. A misspelled
//! option is a bug the caller cannot see (`timeouts: { idleMs: 300 }` would be no
//! timeout at all), so it is refused rather than ignored.
//! Must never: read option values (the shell type-checks them), or look inside request
//! bodies (unknown body fields such as `top_k` pass through untouched), `headers`, or the
//! JSON readers' own shapes (`prices`, `route`).

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
    // (`maxRetry` → `maxRetries`).
    let prefix = |k: &str| {
        let kl = k.to_ascii_lowercase();
        let p = lower
            .bytes()
            .zip(kl.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let shorter = lower.len().min(kl.len());
        let close = (p == shorter && shorter >= 3) || (p >= 5 && 4 * p >= 3 * shorter);
        close.then_some(p)
    };
    if let Some((_, k)) = known
        .iter()
        .rev()
        .filter_map(|k| prefix(k).map(|p| (p, *k)))
        .max_by_key(|(p, _)| *p)
    {
        return Some(k);
    }
    let bound = (key.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= bound)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
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
}
