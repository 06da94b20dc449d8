//! Whether a failed call is tried again and after how long, which upstreams to stop
//! calling for a while, and when to move on to a fallback target.
//!
//! Owns: the [`RetryOptions`] with their defaults; [`ResponseHints`], what a failed
//! response's headers ask for (`retry-after-ms`, `retry-after` in seconds or as an
//! HTTP-date, the IETF `RateLimit` header, OpenAI's `x-ratelimit-reset-*`,
//! `x-should-retry`); [`RetryState`], the per-call state machine that answers "retry
//! after N ms, or give up, and why" and builds the error to surface; the circuit
//! [`Breaker`] per upstream and the bounded [`Breakers`] map behind `client.health()`;
//! and [`next_target`], the fallback rule.
//!
//! Must never: read a clock, draw a random number, sleep, or touch JS. The shell passes
//! `now_ms` (any clock in milliseconds; Unix epoch milliseconds where an HTTP-date has to
//! be compared against it) and a jitter sample `rand01` in `[0, 1)`, then sleeps and
//! re-sends as told. Nothing here panics on any header, option or clock value: hostile
//! numbers, NaN, a clock that goes backwards.
//!
//! The one rule above all others: once anything reached the caller, a failure is
//! surfaced, never retried and never sent to another target (the caller would see the
//! start of the answer twice).

use crate::error::{cut, Error, ErrorKind, TimeoutKind};

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/// Default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default first backoff delay.
pub const DEFAULT_BASE_DELAY_MS: u64 = 500;
/// Default cap on one backoff delay (a server-requested delay may be longer).
pub const DEFAULT_MAX_DELAY_MS: u64 = 8_000;
/// Default bound on the time a call may spend retrying, sleeps included.
pub const DEFAULT_BUDGET_MS: u64 = 30_000;
/// Default fraction of a backoff delay that is randomized.
pub const DEFAULT_JITTER: f64 = 0.5;
/// Default longest server-requested delay that is honoured; beyond it the call fails fast.
pub const DEFAULT_MAX_SERVER_DELAY_MS: u64 = 60_000;

/// How a call retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryOptions {
    /// Retries after the first attempt; `0` turns retrying off.
    pub max_retries: u32,
    /// First backoff delay; the n-th retry waits `base * 2^(n-1)`.
    pub base_delay_ms: u64,
    /// Cap on one backoff delay.
    pub max_delay_ms: u64,
    /// Total time the call may spend retrying, sleeps included, measured from the first
    /// attempt. A retry whose sleep would end past it is not made.
    pub budget_ms: u64,
    /// Fraction of a backoff delay that is randomized, `0..=1` (out-of-range values are
    /// clamped, NaN means none): the delay is `d * (1 - jitter * rand01)`.
    pub jitter: f64,
    /// A server-requested delay is honoured up to this; beyond it the call gives up at
    /// once with [`GiveUpReason::ServerDelayTooLong`].
    pub max_server_delay_ms: u64,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay_ms: DEFAULT_BASE_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            budget_ms: DEFAULT_BUDGET_MS,
            jitter: DEFAULT_JITTER,
            max_server_delay_ms: DEFAULT_MAX_SERVER_DELAY_MS,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Response hints
// ---------------------------------------------------------------------------------------

/// Header values longer than this are ignored: no legitimate hint is that long.
const MAX_HINT_VALUE_BYTES: usize = 1024;

/// A bare number in `x-ratelimit-reset*` is taken as seconds only up to this (a day);
/// larger values are most likely Unix timestamps, whose meaning varies by server.
const MAX_PLAIN_RESET_SECONDS: f64 = 86_400.0;

/// What a failed response's headers ask of the client. Build it with
/// [`ResponseHints::from_headers`]; `ResponseHints::default()` is "no response" (a
/// network error or a timeout before headers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResponseHints {
    /// How long the server asked to wait, in milliseconds (finite, `>= 0`). From the
    /// first source that gave a usable value, in this order: `retry-after-ms`,
    /// `retry-after` (seconds, or an HTTP-date against `now_ms`), `RateLimit` (`t=` or
    /// `reset=` of a policy with nothing remaining), `RateLimit-Reset`, and the
    /// `x-ratelimit-reset`, `-reset-requests`, `-reset-tokens` headers.
    pub retry_after_ms: Option<f64>,
    /// `x-should-retry: true|false`: the server's own verdict, which overrides the status
    /// rule in both directions.
    pub should_retry: Option<bool>,
}

/// The headers [`ResponseHints::from_headers`] reads, by index.
const HINT_HEADERS: [&str; 12] = [
    "retry-after-ms",
    "retry-after",
    "ratelimit",
    "ratelimit-reset",
    "ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-remaining",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-remaining-tokens",
    "x-should-retry",
];
const H_RETRY_AFTER_MS: usize = 0;
const H_RETRY_AFTER: usize = 1;
const H_RATELIMIT: usize = 2;
const H_RATELIMIT_RESET: usize = 3;
const H_RATELIMIT_REMAINING: usize = 4;
const H_X_RESET: usize = 5;
const H_X_REMAINING: usize = 6;
const H_X_RESET_REQUESTS: usize = 7;
const H_X_REMAINING_REQUESTS: usize = 8;
const H_X_RESET_TOKENS: usize = 9;
const H_X_REMAINING_TOKENS: usize = 10;
const H_SHOULD_RETRY: usize = 11;

impl ResponseHints {
    /// Read the hints from a response's headers (names in any case; the first occurrence
    /// of a name wins). `now_ms` is Unix epoch milliseconds, used only for a
    /// `retry-after` HTTP-date; a date in the past means "retry now" (`Some(0.0)`).
    /// Unusable values (negative, NaN, garbage, absurd dates) are skipped as if absent.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: f64,
    ) -> Self {
        let mut found: [Option<&str>; HINT_HEADERS.len()] = [None; HINT_HEADERS.len()];
        for (name, value) in headers {
            let name = name.trim();
            if let Some(i) = HINT_HEADERS
                .iter()
                .position(|h| name.eq_ignore_ascii_case(h))
            {
                if found[i].is_none() && value.len() <= MAX_HINT_VALUE_BYTES {
                    found[i] = Some(value.trim());
                }
            }
        }
        let get = |i: usize| found[i];

        let retry_after_ms = get(H_RETRY_AFTER_MS)
            .and_then(parse_decimal)
            .or_else(|| {
                get(H_RETRY_AFTER).and_then(|v| {
                    parse_decimal(v)
                        .map(|s| s * 1000.0)
                        .or_else(|| http_date_delay_ms(v, now_ms))
                })
            })
            .or_else(|| {
                get(H_RATELIMIT)
                    .and_then(ratelimit_wait_secs)
                    .map(|s| s * 1000.0)
            })
            .or_else(|| {
                reset_if_spent(
                    get(H_RATELIMIT_RESET),
                    get(H_RATELIMIT_REMAINING),
                    false,
                    parse_decimal,
                )
                .map(|s| s * 1000.0)
            })
            .or_else(|| {
                [
                    reset_if_spent(get(H_X_RESET), get(H_X_REMAINING), false, parse_reset),
                    reset_if_spent(
                        get(H_X_RESET_REQUESTS),
                        get(H_X_REMAINING_REQUESTS),
                        false,
                        parse_reset,
                    ),
                    // Token limits come with every OpenAI response; only an exhausted
                    // one explains the failure.
                    reset_if_spent(
                        get(H_X_RESET_TOKENS),
                        get(H_X_REMAINING_TOKENS),
                        true,
                        parse_reset,
                    ),
                ]
                .into_iter()
                .flatten()
                .reduce(f64::max)
                .map(|s| s * 1000.0)
            })
            .filter(|ms| ms.is_finite() && *ms >= 0.0);

        let should_retry = get(H_SHOULD_RETRY).and_then(|v| {
            if v.eq_ignore_ascii_case("true") {
                Some(true)
            } else if v.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        });

        ResponseHints {
            retry_after_ms,
            should_retry,
        }
    }

    /// The server-requested delay if it is usable (the fields are public, so a caller
    /// could have put anything there).
    fn asked_ms(&self) -> Option<f64> {
        self.retry_after_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
    }
}

/// A non-negative decimal: digits with at most one `.` (`5`, `1.5`, `.5`, `5.`). No sign,
/// exponent, `inf` or `NaN`, which `str::parse::<f64>` would accept. `None` if the value
/// overflows to infinity.
fn parse_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let (int, frac) = crate::error::split_once(s, b'.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(decimal_to_f64(int, frac)).filter(|v| v.is_finite())
}

/// The ASCII digits `int.frac` as an `f64`, without `str::parse::<f64>` (its tables and
/// slow path would add ~15 KB to the wasm for a few header values).
///
/// The first 19 significant digits make an exact integer `m`, the value is
/// `m * 10^e`. When `m <= 2^53` and `-22 <= e <= 22` (every delay a server sends) both
/// factors are exact `f64`s and one multiplication or division rounds once: the result
/// is the correctly rounded one, as `parse` gives. Longer inputs may land an ulp away.
fn decimal_to_f64(int: &str, frac: &str) -> f64 {
    let mut m: u64 = 0;
    let mut digits = 0;
    let mut e: i32 = 0;
    for (i, b) in int.bytes().chain(frac.bytes()).enumerate() {
        let in_frac = i >= int.len();
        if m == 0 && b == b'0' {
            // A leading zero: only its place counts.
            e -= i32::from(in_frac);
        } else if digits < 19 {
            m = m * 10 + u64::from(b - b'0');
            digits += 1;
            e -= i32::from(in_frac);
        } else if !in_frac {
            // An integer digit beyond the 19th: a power of ten more. (Fraction digits
            // beyond it are below an ulp and dropped.)
            e = e.saturating_add(1);
        }
    }
    let mut v = m as f64;
    // 1e22 is the largest power of ten that is exact in an `f64`.
    while e > 22 && v.is_finite() {
        v *= 1e22;
        e -= 22;
    }
    while e < -22 && v > 0.0 {
        v /= 1e22;
        e += 22;
    }
    let mut p = 1.0;
    for _ in 0..e.unsigned_abs() {
        p *= 10.0;
    }
    if e < 0 {
        v / p
    } else {
        v * p
    }
}

/// A reset value from `x-ratelimit-reset*`, in seconds: a bare number of seconds (up to
/// [`MAX_PLAIN_RESET_SECONDS`]) or a Go-style duration as OpenAI sends (`1s`, `6m0s`,
/// `20ms`, `1h2m3.5s`).
fn parse_reset(s: &str) -> Option<f64> {
    match parse_decimal(s) {
        Some(secs) => (secs <= MAX_PLAIN_RESET_SECONDS).then_some(secs),
        None => parse_duration_secs(s),
    }
}

/// A Go `time.Duration` string (`72h3m0.5s`, `300ms`, `1.5µs`), unsigned, in seconds.
fn parse_duration_secs(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let bytes = s.as_bytes();
    let is_num = |b: u8| b.is_ascii_digit() || b == b'.';
    let mut i = 0;
    let mut total = 0.0_f64;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && is_num(bytes[i]) {
            i += 1;
        }
        let value = parse_decimal(s.get(start..i)?)?;
        let unit_start = i;
        while i < bytes.len() && !is_num(bytes[i]) {
            i += 1;
        }
        // `i` stops on an ASCII byte or at the end, so both slices are on char
        // boundaries; `get` returns `None` rather than panicking if that were wrong.
        let scale = match s.get(unit_start..i)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
    }
    total.is_finite().then_some(total)
}

/// `reset` (parsed by `parse`) when the matching `remaining` says the limit is spent. An
/// absent or unreadable `remaining` counts as spent unless `need_zero`.
fn reset_if_spent(
    reset: Option<&str>,
    remaining: Option<&str>,
    need_zero: bool,
    parse: fn(&str) -> Option<f64>,
) -> Option<f64> {
    let spent = match remaining.and_then(parse_decimal) {
        Some(r) => r == 0.0,
        None => !need_zero,
    };
    if spent {
        reset.and_then(parse)
    } else {
        None
    }
}

/// Seconds to wait according to an IETF `RateLimit` header: the longest `t=` (newer
/// drafts: `"default";r=0;t=5`) or `reset=` (older drafts: `limit=100, remaining=0,
/// reset=5`) among the policies with nothing remaining (`r=`/`remaining=` absent or 0).
/// See <https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/>.
fn ratelimit_wait_secs(value: &str) -> Option<f64> {
    // The older form is one dictionary spread over comma-separated members; the newer
    // form is a list of policies, each a name with `;` parameters.
    let dictionary = crate::error::split(value, b',')
        .all(|member| crate::error::before(member, b';').contains('='));
    let policy = |item: &str| -> Option<f64> {
        let mut reset = None;
        let mut remaining = None;
        for param in crate::error::split(item, b';').flat_map(|s| crate::error::split(s, b',')) {
            let Some((key, val)) = crate::error::split_once(param, b'=') else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "t" | "reset" => reset = reset.or_else(|| parse_decimal(val)),
                "r" | "remaining" => remaining = remaining.or_else(|| parse_decimal(val)),
                _ => {}
            }
        }
        match remaining {
            Some(r) if r > 0.0 => None,
            _ => reset,
        }
    };
    if dictionary {
        policy(value)
    } else {
        crate::error::split(value, b',')
            .filter_map(policy)
            .reduce(f64::max)
    }
}

/// Milliseconds from `now_ms` (Unix epoch ms) until the HTTP-date `s`, `0.0` if it is in
/// the past. Accepts the three forms of RFC 9110 §5.6.7
/// (<https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7>): IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`
/// and asctime `Sun Nov  6 08:49:37 1994`. `None` for anything else, or a clock that is
/// not a plausible epoch time.
fn http_date_delay_ms(s: &str, now_ms: f64) -> Option<f64> {
    // ±1e15 ms is about ±31,000 years: beyond it day arithmetic could overflow.
    if !now_ms.is_finite() || now_ms.abs() > 1e15 || s.len() > 64 {
        return None;
    }
    let tokens: Vec<&str> = s.split_ascii_whitespace().collect();
    let (weekday, day, month, year, time) = match tokens.as_slice() {
        [wd, d, mon, y, time, zone] if is_gmt(zone) => {
            (wd.strip_suffix(',')?, *d, *mon, year4(y)?, *time)
        }
        [wd, dmy, time, zone] if is_gmt(zone) => {
            let mut parts = crate::error::split(dmy, b'-');
            let (d, mon, yy) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            (
                wd.strip_suffix(',')?,
                d,
                mon,
                two_digit_year(yy, now_ms)?,
                *time,
            )
        }
        [wd, mon, d, time, y] => (*wd, *d, *mon, year4(y)?, *time),
        _ => return None,
    };
    if weekday.is_empty() || !weekday.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let day = digits(day, 1, 2)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut hms = crate::error::split(time, b':');
    let (h, m, sec) = (
        digits(hms.next()?, 2, 2)?,
        digits(hms.next()?, 2, 2)?,
        digits(hms.next()?, 2, 2)?,
    );
    if hms.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + sec);
    let at_ms = secs as f64 * 1000.0;
    Some((at_ms - now_ms).max(0.0))
}

fn is_gmt(zone: &str) -> bool {
    zone == "GMT" || zone == "UTC"
}

/// `s` as a number if it is `min..=max` ASCII digits (at most 4, so no overflow).
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max.min(4) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn year4(s: &str) -> Option<i64> {
    digits(s, 4, 4).map(i64::from)
}

/// RFC 9110: a two-digit year more than 50 years in the future is the most recent past
/// year with the same last two digits.
fn two_digit_year(s: &str, now_ms: f64) -> Option<i64> {
    let yy = i64::from(digits(s, 2, 2)?);
    let current = civil_year_from_days((now_ms / 86_400_000.0).floor() as i64);
    let mut year = current - current.rem_euclid(100) + yy;
    if year > current + 50 {
        year -= 100;
    }
    Some(year)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`). Callers
/// keep `z` within ±4e8 days, far from overflow.
fn civil_year_from_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

// ---------------------------------------------------------------------------------------
// What is worth another try
// ---------------------------------------------------------------------------------------

/// Phrases (lowercase) that mark a 429 or 402 as "out of quota or credits": waiting will
/// not help, so it is never retried.
const QUOTA_MARKERS: [&str; 4] = [
    "insufficient_quota",
    "exceeded your monthly included credits",
    "quota",
    "credit balance",
];

/// Phrases (lowercase) that mark a 400 or 404 as "this target does not serve that model",
/// which another target may.
const MODEL_UNAVAILABLE_MARKERS: [&str; 5] = [
    "not supported",
    "not_supported",
    "does not exist",
    "not found",
    "not_found",
];

/// Whether the status alone says another try could succeed: 408, 409, 425, 429 and every
/// 5xx (the same rule as [`Error::http`] uses for `retryable`).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || status >= 500
}

/// A 429 or 402 whose code, message or body says the quota or credits are exhausted.
pub fn is_quota_exhausted(error: &Error) -> bool {
    matches!(error.status, Some(402 | 429)) && mentions(error, &QUOTA_MARKERS)
}

/// Whether `error`'s code, message or body contains one of `markers` (lowercase),
/// ignoring ASCII case.
fn mentions(error: &Error, markers: &[&str]) -> bool {
    [
        error.code.as_deref(),
        Some(error.message.as_str()),
        error.body.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|text| {
        let text = text.to_ascii_lowercase();
        markers.iter().any(|m| crate::error::contains(&text, m))
    })
}

/// Error codes that say a retry cannot succeed whatever the status: the auth proxy's
/// answers when the upstream refused its token, answered something it does not pass on,
/// or the proxy itself is misconfigured (502 / 500, which the status rule would retry).
/// The proxy also sends `x-should-retry: false` with them; the code covers a response
/// whose headers a browser hides (CORS) or a proxy in between dropped.
pub const FINAL_ERROR_CODES: [&str; 3] = [
    "upstream_auth_failed",
    "upstream_invalid_response",
    "proxy_misconfigured",
];

/// Whether the failure's code is one of [`FINAL_ERROR_CODES`].
pub fn has_final_code(error: &Error) -> bool {
    error
        .code
        .as_deref()
        .is_some_and(|c| FINAL_ERROR_CODES.contains(&c))
}

/// Whether the failure is worth another try on the same target, assuming nothing was
/// delivered yet.
fn worth_retrying(error: &Error, hints: &ResponseHints) -> bool {
    match error.kind {
        ErrorKind::Http => {
            if is_quota_exhausted(error) || has_final_code(error) {
                return false;
            }
            match hints.should_retry {
                Some(verdict) => verdict,
                None => error.status.is_some_and(is_retryable_status),
            }
        }
        // The transport clears `retryable` on a network error that happened after the
        // headers (the body was being read) or before anything was sent (fetch threw).
        // A rejected call is not retried here: the breaker already said when, and a
        // fallback target is the better move.
        ErrorKind::Network => error.retryable && !is_circuit_open(error),
        ErrorKind::CircuitOpen => false,
        ErrorKind::Timeout => matches!(
            error.timeout,
            Some(TimeoutKind::Headers | TimeoutKind::FirstChunk)
        ),
        ErrorKind::Aborted
        | ErrorKind::Stream
        | ErrorKind::Parse
        | ErrorKind::Truncated
        | ErrorKind::Input
        | ErrorKind::Budget
        | ErrorKind::RateLimited => false,
    }
}

// ---------------------------------------------------------------------------------------
// The per-call retry state
// ---------------------------------------------------------------------------------------

/// At most this many attempts are kept in [`RetryState::attempts`] (the oldest are
/// dropped); the count in the final message stays exact.
pub const MAX_RECORDED_ATTEMPTS: usize = 32;

/// Longest error code kept per attempt.
const MAX_ATTEMPT_CODE_BYTES: usize = 128;

/// At most this many attempts are listed in a final error's message.
const MAX_SUMMARY_LABELS: usize = 10;

/// One failed attempt of a call, for the error the caller finally sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    pub kind: ErrorKind,
    /// Which wait ran out, for a timeout.
    pub timeout: Option<TimeoutKind>,
    /// The server's error code, when it gave one.
    pub code: Option<String>,
    /// How long the call slept after this attempt before the next one; `None` for the
    /// attempt after which it gave up.
    pub delay_ms: Option<u64>,
}

/// A call's failed attempts as the JSON of an error's `attempts`: one `{ status?, kind,
/// code?, timeout?, delayMs? }` each.
pub fn attempts_json(attempts: &[Attempt]) -> String {
    crate::json::array_text(attempts.iter().map(|a| {
        let mut o = crate::json::ObjectText::new();
        o.opt_number("status", a.status.map(u64::from));
        o.string("kind", a.kind.as_str());
        o.opt_string("code", a.code.as_deref());
        o.opt_string("timeout", a.timeout.map(TimeoutKind::as_str));
        o.opt_number("delayMs", a.delay_ms);
        o.end()
    }))
}

impl Attempt {
    /// How the attempt reads in a summary: the status, else the timeout or the kind.
    fn push_label(&self, out: &mut String) {
        match (self.status, self.timeout) {
            (Some(status), _) => out.push_str(&status.to_string()),
            (None, Some(t)) => {
                out.push_str(t.as_str());
                out.push_str(" timeout");
            }
            (None, None) => out.push_str(self.kind.as_str()),
        }
    }
}

/// Why a call stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The failure is not worth another try (a 4xx, an abort, a parse error, ...).
    NotRetryable,
    /// Part of the answer already reached the caller.
    Delivered,
    /// `max_retries` retries were made.
    Exhausted,
    /// The next sleep would end past `budget_ms`.
    Budget,
    /// The server asked to wait `asked_ms`, more than `max_server_delay_ms`.
    ServerDelayTooLong { asked_ms: u64 },
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the shell must sleep and re-send, or surface the error"]
pub enum Decision {
    /// Sleep `after_ms`, then send the same request again.
    Retry { after_ms: u64 },
    /// Stop; surface [`RetryState::final_error`] (or try [`next_target`]).
    GiveUp { reason: GiveUpReason },
}

/// The retry state of one call. Create it when the first attempt starts, report every
/// failed attempt to [`RetryState::on_failure`], and obey the decision.
#[derive(Debug, Clone)]
pub struct RetryState {
    options: RetryOptions,
    started_ms: f64,
    attempts: Vec<Attempt>,
    /// Failed attempts so far (the list above may have dropped the oldest).
    failures: u32,
    retries: u32,
    slept_ms: u64,
    /// What the last failed response asked to wait, in whole ms.
    asked_ms: Option<u64>,
}

impl RetryState {
    /// A call whose first attempt starts at `now_ms`.
    pub fn new(options: RetryOptions, now_ms: f64) -> Self {
        RetryState {
            options,
            started_ms: now_ms,
            attempts: Vec::new(),
            failures: 0,
            retries: 0,
            slept_ms: 0,
            asked_ms: None,
        }
    }

    /// The options in force.
    pub fn options(&self) -> RetryOptions {
        self.options
    }

    /// An attempt failed with `error`; `hints` are from its response (default when there
    /// was none), `delivered` says whether anything reached the caller, `rand01` is a
    /// jitter sample in `[0, 1)` (out-of-range values are clamped).
    ///
    /// In order: anything delivered, or a failure not worth another try, gives up; then
    /// `max_retries`; then a server-requested delay longer than `max_server_delay_ms`;
    /// then the budget: the sleep must end within `budget_ms` of the first attempt
    /// (counting time by `now_ms`, and never less than the sleeps already made).
    pub fn on_failure(
        &mut self,
        error: &Error,
        hints: &ResponseHints,
        delivered: bool,
        now_ms: f64,
        rand01: f64,
    ) -> Decision {
        self.record(error);
        let asked = hints.asked_ms();
        self.asked_ms = asked.map(ceil_ms);
        let reason = if delivered {
            GiveUpReason::Delivered
        } else if !worth_retrying(error, hints) {
            GiveUpReason::NotRetryable
        } else if self.retries >= self.options.max_retries {
            GiveUpReason::Exhausted
        } else {
            match self.next_delay(asked, rand01) {
                Err(asked_ms) => GiveUpReason::ServerDelayTooLong { asked_ms },
                Ok(delay)
                    if self.elapsed_ms(now_ms).saturating_add(delay) > self.options.budget_ms =>
                {
                    GiveUpReason::Budget
                }
                Ok(delay) => {
                    self.retries += 1;
                    self.slept_ms = self.slept_ms.saturating_add(delay);
                    if let Some(last) = self.attempts.last_mut() {
                        last.delay_ms = Some(delay);
                    }
                    return Decision::Retry { after_ms: delay };
                }
            }
        };
        Decision::GiveUp { reason }
    }

    /// The failed attempts so far, oldest first (at most [`MAX_RECORDED_ATTEMPTS`]).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Total time slept between attempts so far.
    pub fn slept_ms(&self) -> u64 {
        self.slept_ms
    }

    /// The error to surface once the state gave up for `reason`: `last` (the error of
    /// the last attempt) with, in its message, the attempts when there was more than one
    /// (`after 3 attempts: 503, 503, 503`), what the server asked to wait, and why
    /// retrying stopped early when it did. Every other field of `last` is kept.
    pub fn final_error(&self, last: Error, reason: &GiveUpReason) -> Error {
        // Pushed into one string: a `Vec` of notes and `join` cost the wasm more code.
        let mut notes = String::new();
        if self.failures > 1 {
            let skipped = self.attempts.len().saturating_sub(MAX_SUMMARY_LABELS);
            notes.push_str("gave up after ");
            notes.push_str(&self.failures.to_string());
            notes.push_str(" attempts: ");
            let mut first = true;
            if skipped > 0 || self.failures as usize > self.attempts.len() {
                notes.push('…');
                first = false;
            }
            for a in &self.attempts[skipped..] {
                if !first {
                    notes.push_str(", ");
                }
                first = false;
                a.push_label(&mut notes);
            }
        }
        match *reason {
            GiveUpReason::ServerDelayTooLong { asked_ms } => push_note(
                &mut notes,
                &[
                    "the server asked to wait ",
                    &wait_text(asked_ms),
                    ", longer than the ",
                    &wait_text(self.options.max_server_delay_ms),
                    " this client waits at most; try again after that",
                ],
            ),
            GiveUpReason::Delivered => {}
            GiveUpReason::NotRetryable | GiveUpReason::Exhausted | GiveUpReason::Budget => {
                if let Some(asked) = self.asked_ms.filter(|ms| *ms > 0) {
                    push_note(
                        &mut notes,
                        &["the server asked to wait ", &wait_text(asked)],
                    );
                }
                if *reason == GiveUpReason::Budget {
                    push_note(
                        &mut notes,
                        &[
                            "the next wait would pass the ",
                            &wait_text(self.options.budget_ms),
                            " retry budget",
                        ],
                    );
                }
            }
        }
        let mut e = last;
        if !notes.is_empty() {
            e.message.push_str(" (");
            e.message.push_str(&notes);
            e.message.push(')');
        }
        e
    }

    fn record(&mut self, error: &Error) {
        if self.attempts.len() >= MAX_RECORDED_ATTEMPTS {
            self.attempts.remove(0);
        }
        self.attempts.push(Attempt {
            status: error.status,
            kind: error.kind,
            timeout: error.timeout,
            code: error
                .code
                .as_deref()
                .map(|c| cut(c, MAX_ATTEMPT_CODE_BYTES).to_owned()),
            delay_ms: None,
        });
        self.failures = self.failures.saturating_add(1);
    }

    /// The sleep before the next retry: the server's delay when it gave one (`Err` when
    /// it is too long), else exponential backoff with jitter.
    fn next_delay(&self, asked: Option<f64>, rand01: f64) -> Result<u64, u64> {
        if let Some(ms) = asked {
            let ms = ceil_ms(ms);
            return if ms > self.options.max_server_delay_ms {
                Err(ms)
            } else {
                Ok(ms)
            };
        }
        let factor = if self.retries >= 64 {
            u64::MAX
        } else {
            1u64 << self.retries
        };
        let delay = self
            .options
            .base_delay_ms
            .saturating_mul(factor)
            .min(self.options.max_delay_ms);
        let jitter = clamp01(self.options.jitter);
        let sample = clamp01(rand01);
        let jittered = (delay as f64 * (1.0 - jitter * sample)).floor();
        // `as` saturates (and maps NaN to 0); `min` keeps float rounding from ever
        // adding to the delay.
        Ok((jittered as u64).min(delay))
    }

    /// Time spent since the first attempt: by the clock, but never less than the sleeps
    /// already made (so a clock that lags or goes backwards cannot stretch the budget).
    fn elapsed_ms(&self, now_ms: f64) -> u64 {
        let by_clock = now_ms - self.started_ms;
        let by_clock = if by_clock.is_finite() && by_clock > 0.0 {
            ceil_ms(by_clock)
        } else {
            0
        };
        by_clock.max(self.slept_ms)
    }
}

/// `x` in `[0, 1]`; NaN is 0.
fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// Whole milliseconds, rounded up (never below what was asked), saturating.
fn ceil_ms(ms: f64) -> u64 {
    ms.ceil() as u64
}

/// A wait for a message: `250 ms` under a second, else whole seconds rounded up (`120 s`).
pub(crate) fn wait_text(ms: u64) -> String {
    let (n, unit) = if ms < 1000 {
        (ms, " ms")
    } else {
        (ms.div_ceil(1000), " s")
    };
    let mut s = n.to_string();
    s.push_str(unit);
    s
}

/// Append a note made of `parts` to `notes`, after a `; ` if there is one already.
fn push_note(notes: &mut String, parts: &[&str]) {
    if !notes.is_empty() {
        notes.push_str("; ");
    }
    for p in parts {
        notes.push_str(p);
    }
}

// ---------------------------------------------------------------------------------------
// Fallback
// ---------------------------------------------------------------------------------------

/// Whether, after the current target gave up for `reason` with `error`, a fallback
/// target (another provider or endpoint) should be tried.
///
/// Never when anything was delivered, on a user abort, on an input error, on 401/403
/// (auth problems repeat on every target) or when the quota or credits are exhausted.
/// Yes when retries ran out (count, budget or a too-long server delay), when the circuit
/// is open, on a network error or a headers/first-chunk timeout, a 5xx, a 429, and a
/// 400/404 saying this target does not serve the model. Anything else (other 4xx,
/// parse or stream errors) would fail the same way elsewhere.
pub fn next_target(error: &Error, reason: &GiveUpReason, delivered: bool) -> bool {
    if delivered || *reason == GiveUpReason::Delivered {
        return false;
    }
    if matches!(error.kind, ErrorKind::Aborted | ErrorKind::Input)
        || matches!(error.status, Some(401 | 403))
        || is_quota_exhausted(error)
    {
        return false;
    }
    if matches!(
        reason,
        GiveUpReason::Exhausted | GiveUpReason::Budget | GiveUpReason::ServerDelayTooLong { .. }
    ) {
        return true;
    }
    match error.kind {
        ErrorKind::Network | ErrorKind::CircuitOpen => true,
        ErrorKind::Timeout => matches!(
            error.timeout,
            Some(TimeoutKind::Headers | TimeoutKind::FirstChunk)
        ),
        ErrorKind::Http => match error.status {
            Some(s) if s >= 500 || s == 429 => true,
            Some(400 | 404) => mentions(error, &MODEL_UNAVAILABLE_MARKERS),
            _ => false,
        },
        ErrorKind::Aborted
        | ErrorKind::Stream
        | ErrorKind::Parse
        | ErrorKind::Truncated
        | ErrorKind::Input
        | ErrorKind::Budget
        | ErrorKind::RateLimited => false,
    }
}

// ---------------------------------------------------------------------------------------
// Circuit breaker
// ---------------------------------------------------------------------------------------

/// Default consecutive failures that open a breaker.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// Default failure rate over the window that opens a breaker.
pub const DEFAULT_FAILURE_RATE: f64 = 0.5;
/// Default length of the failure-rate window.
pub const DEFAULT_WINDOW_MS: u64 = 60_000;
/// Default requests the window must hold before the rate counts.
pub const DEFAULT_MIN_REQUESTS: u32 = 10;
/// Default time an open breaker rejects before letting a probe through.
pub const DEFAULT_OPEN_MS: u64 = 30_000;
/// Default number of upstreams a [`Breakers`] map remembers.
pub const DEFAULT_MAX_UPSTREAMS: usize = 64;

/// The window is this many buckets of `window_ms / WINDOW_BUCKETS`; a request is
/// forgotten between `(WINDOW_BUCKETS - 1) / WINDOW_BUCKETS` and one whole window later.
const WINDOW_BUCKETS: usize = 10;

/// The code of the error for a call the breaker rejected.
pub const CIRCUIT_OPEN_CODE: &str = "circuit_open";

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerOptions {
    /// Consecutive failures that open the breaker; `0` turns this rule off.
    pub failure_threshold: u32,
    /// Failure rate (`0 < rate <= 1`) over `window_ms` that opens the breaker once the
    /// window holds `min_requests`; any other value turns this rule off.
    pub failure_rate: f64,
    /// Length of the failure-rate window; `0` turns the rate rule off.
    pub window_ms: u64,
    /// Requests (successes and failures) the window must hold before the rate counts.
    pub min_requests: u32,
    /// Time an open breaker rejects calls before letting one probe through. Also the
    /// longest a probe may stay unanswered before another is let through.
    pub open_ms: u64,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            failure_rate: DEFAULT_FAILURE_RATE,
            window_ms: DEFAULT_WINDOW_MS,
            min_requests: DEFAULT_MIN_REQUESTS,
            open_ms: DEFAULT_OPEN_MS,
        }
    }
}

/// Whether a call may go to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a rejected call must not be sent"]
pub enum Admit {
    /// Closed: send it.
    Allow,
    /// Half-open: send it as the one probe; its outcome closes or reopens the breaker.
    Probe,
    /// Open (or a probe is in flight): do not send; fail with [`circuit_open_error`].
    /// `retry_in_ms` is the longest until a call could be admitted again.
    Reject { retry_in_ms: u64 },
}

/// A breaker's state, for `client.health()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Rejecting calls for `retry_in_ms` more.
    Open {
        retry_in_ms: u64,
    },
    /// Letting one probe through (or ready to).
    HalfOpen,
}

/// What a finished call tells the breaker of its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered (a 2xx, or an error that is the request's fault).
    Success,
    /// The upstream failed (5xx, 429, network, no headers or first chunk in time).
    Failure,
    /// Nothing learned (user abort, input error, a call never sent, a failure of the
    /// stream itself); a probe that ends so only frees the probe slot.
    Neutral,
}

/// How a failed call counts for its upstream's breaker. Failures are the upstream's
/// retryable failures: 5xx, 408, 409, 425, 429 (unless quota is exhausted: that is the
/// account, not the upstream), network errors, headers and first-chunk timeouts. Other
/// HTTP errors prove the upstream answered. Aborts, input errors, rejected calls, parse,
/// stream and truncation errors and idle/total timeouts say nothing either way.
pub fn breaker_outcome(error: &Error) -> Outcome {
    match error.kind {
        ErrorKind::Http => match error.status {
            Some(s) if is_retryable_status(s) && !is_quota_exhausted(error) => Outcome::Failure,
            _ => Outcome::Success,
        },
        ErrorKind::CircuitOpen => Outcome::Neutral,
        ErrorKind::Network if is_circuit_open(error) => Outcome::Neutral,
        ErrorKind::Network => Outcome::Failure,
        ErrorKind::Timeout => match error.timeout {
            Some(TimeoutKind::Headers | TimeoutKind::FirstChunk) => Outcome::Failure,
            _ => Outcome::Neutral,
        },
        ErrorKind::Aborted
        | ErrorKind::Input
        | ErrorKind::Stream
        | ErrorKind::Parse
        | ErrorKind::Truncated
        | ErrorKind::Budget
        | ErrorKind::RateLimited => Outcome::Neutral,
    }
}

fn is_circuit_open(error: &Error) -> bool {
    error.kind == ErrorKind::CircuitOpen || error.code.as_deref() == Some(CIRCUIT_OPEN_CODE)
}

/// The error for a call the breaker of `upstream` rejected: kind
/// [`ErrorKind::CircuitOpen`], code [`CIRCUIT_OPEN_CODE`], retryable (later, or on
/// another target).
pub fn circuit_open_error(upstream: &str, retry_in_ms: u64) -> Error {
    let mut e = Error::new(
        ErrorKind::CircuitOpen,
        format!(
            "circuit open for {}: its recent calls failed, so this call was not sent; try again in {} or use another provider",
            cut(upstream, 200),
            wait_text(retry_in_ms)
        ),
    );
    e.code = Some(CIRCUIT_OPEN_CODE.to_owned());
    e.retryable = true;
    e
}

/// Requests and failures that ended in one slice of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    /// Which slice: `now / bucket_ms`.
    epoch: u64,
    requests: u32,
    failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open {
        since: f64,
    },
    /// `probe_since`: when the probe in flight was admitted, if one is.
    HalfOpen {
        probe_since: Option<f64>,
    },
}

/// The circuit breaker of one upstream: closed → open (after `failure_threshold`
/// consecutive failures, or `failure_rate` over the window) → after `open_ms`, half-open
/// (exactly one probe) → closed on the probe's success, open again on its failure.
///
/// Results arrive without saying which call they belong to: while half-open, any success
/// closes the breaker (the upstream evidently works) and any failure reopens it. While
/// open, late results of calls admitted earlier are ignored. Time only moves forward: an
/// earlier or NaN `now_ms` counts as the latest seen.
#[derive(Debug, Clone)]
pub struct Breaker {
    options: BreakerOptions,
    phase: Phase,
    consecutive_failures: u32,
    buckets: [Bucket; WINDOW_BUCKETS],
    latest_ms: f64,
}

impl Breaker {
    /// A closed breaker with no history.
    pub fn new(options: BreakerOptions) -> Self {
        Breaker {
            options,
            phase: Phase::Closed,
            consecutive_failures: 0,
            buckets: [Bucket::default(); WINDOW_BUCKETS],
            latest_ms: 0.0,
        }
    }

    /// May a call go now? Moves an open breaker whose `open_ms` passed to half-open and
    /// admits the caller as its probe.
    pub fn admit(&mut self, now_ms: f64) -> Admit {
        let now = self.tick(now_ms);
        let open_ms = self.options.open_ms;
        match self.phase {
            Phase::Closed => Admit::Allow,
            Phase::Open { since }
            | Phase::HalfOpen {
                probe_since: Some(since),
            } => match remaining_ms(open_ms, since, now) {
                0 => {
                    self.phase = Phase::HalfOpen {
                        probe_since: Some(now),
                    };
                    Admit::Probe
                }
                retry_in_ms => Admit::Reject { retry_in_ms },
            },
            Phase::HalfOpen { probe_since: None } => {
                self.phase = Phase::HalfOpen {
                    probe_since: Some(now),
                };
                Admit::Probe
            }
        }
    }

    /// A call to the upstream succeeded (or failed by the request's own fault).
    pub fn on_success(&mut self, now_ms: f64) {
        let now = self.tick(now_ms);
        match self.phase {
            Phase::Closed => {
                self.consecutive_failures = 0;
                self.count(now, false);
            }
            Phase::HalfOpen { .. } => self.close(),
            Phase::Open { .. } => {}
        }
    }

    /// A call to the upstream failed in a way that counts (see [`breaker_outcome`]).
    pub fn on_failure(&mut self, now_ms: f64) {
        let now = self.tick(now_ms);
        match self.phase {
            Phase::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.count(now, true);
                if self.trips(now) {
                    self.phase = Phase::Open { since: now };
                }
            }
            Phase::HalfOpen { .. } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.phase = Phase::Open { since: now };
            }
            Phase::Open { .. } => {}
        }
    }

    /// A call ended without telling anything about the upstream (aborted, say). A probe
    /// that ends so frees the slot for the next caller.
    pub fn on_cancel(&mut self, now_ms: f64) {
        self.tick(now_ms);
        if let Phase::HalfOpen {
            probe_since: Some(_),
        } = self.phase
        {
            self.phase = Phase::HalfOpen { probe_since: None };
        }
    }

    /// Report an [`Outcome`]: `on_success`, `on_failure` or `on_cancel`.
    pub fn record(&mut self, outcome: Outcome, now_ms: f64) {
        match outcome {
            Outcome::Success => self.on_success(now_ms),
            Outcome::Failure => self.on_failure(now_ms),
            Outcome::Neutral => self.on_cancel(now_ms),
        }
    }

    /// The state at `now_ms`, without changing anything: an open breaker whose `open_ms`
    /// passed reads as half-open.
    pub fn state(&self, now_ms: f64) -> BreakerState {
        let now = self.clock(now_ms);
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { since } => match remaining_ms(self.options.open_ms, since, now) {
                0 => BreakerState::HalfOpen,
                retry_in_ms => BreakerState::Open { retry_in_ms },
            },
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Failures in a row since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// `(requests, failures)` in the window at `now_ms`.
    pub fn window(&self, now_ms: f64) -> (u32, u32) {
        self.window_counts(self.clock(now_ms))
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.consecutive_failures = 0;
        self.buckets = [Bucket::default(); WINDOW_BUCKETS];
    }

    fn trips(&self, now: f64) -> bool {
        let threshold = self.options.failure_threshold;
        if threshold > 0 && self.consecutive_failures >= threshold {
            return true;
        }
        let rate = self.options.failure_rate;
        if self.options.window_ms == 0 || !(rate > 0.0 && rate <= 1.0) {
            return false;
        }
        let (requests, failures) = self.window_counts(now);
        requests >= self.options.min_requests.max(1)
            && f64::from(failures) >= rate * f64::from(requests)
    }

    /// `now_ms`, or the latest time seen if that is later (or `now_ms` is NaN).
    fn clock(&self, now_ms: f64) -> f64 {
        if now_ms > self.latest_ms {
            now_ms
        } else {
            self.latest_ms
        }
    }

    fn tick(&mut self, now_ms: f64) -> f64 {
        let now = self.clock(now_ms);
        if now.is_finite() {
            self.latest_ms = now;
        }
        self.latest_ms
    }

    fn bucket_ms(&self) -> u64 {
        self.options
            .window_ms
            .div_ceil(WINDOW_BUCKETS as u64)
            .max(1)
    }

    fn epoch(&self, now: f64) -> u64 {
        // `now >= 0` (the clock starts at 0 and only moves forward); `as` saturates.
        (now / self.bucket_ms() as f64).floor() as u64
    }

    fn count(&mut self, now: f64, failed: bool) {
        if self.options.window_ms == 0 {
            return;
        }
        let epoch = self.epoch(now);
        let slot = &mut self.buckets[(epoch % WINDOW_BUCKETS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Bucket {
                epoch,
                requests: 0,
                failures: 0,
            };
        }
        slot.requests = slot.requests.saturating_add(1);
        if failed {
            slot.failures = slot.failures.saturating_add(1);
        }
    }

    fn window_counts(&self, now: f64) -> (u32, u32) {
        if self.options.window_ms == 0 {
            return (0, 0);
        }
        let epoch = self.epoch(now);
        self.buckets
            .iter()
            .filter(|b| b.epoch <= epoch && epoch - b.epoch < WINDOW_BUCKETS as u64)
            .fold((0u32, 0u32), |(r, f), b| {
                (r.saturating_add(b.requests), f.saturating_add(b.failures))
            })
    }
}

/// Whole milliseconds left of `limit` started at `since`, rounded up; 0 once passed.
fn remaining_ms(limit: u64, since: f64, now: f64) -> u64 {
    let elapsed = now - since;
    let elapsed = if elapsed.is_finite() && elapsed > 0.0 {
        elapsed
    } else {
        0.0
    };
    let left = limit as f64 - elapsed;
    if left <= 0.0 {
        0
    } else {
        ceil_ms(left)
    }
}

/// One upstream's line in `client.health()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSnapshot {
    pub upstream: String,
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// Requests and failures in the failure-rate window.
    pub window_requests: u32,
    pub window_failures: u32,
}

/// What the client's `health()` answers, as JSON: one entry per upstream, `{ upstream,
/// state: "closed" | "open" | "half_open", retryInMs?, consecutiveFailures,
/// windowRequests, windowFailures }`.
pub fn health_json(list: &[BreakerSnapshot]) -> String {
    crate::json::array_text(list.iter().map(|b| {
        let mut o = crate::json::ObjectText::new();
        o.string("upstream", &b.upstream);
        match b.state {
            BreakerState::Closed => o.string("state", "closed"),
            BreakerState::Open { retry_in_ms } => {
                o.string("state", "open").number("retryInMs", retry_in_ms)
            }
            BreakerState::HalfOpen => o.string("state", "half_open"),
        };
        o.number("consecutiveFailures", u64::from(b.consecutive_failures));
        o.number("windowRequests", u64::from(b.window_requests));
        o.number("windowFailures", u64::from(b.window_failures));
        o.end()
    }))
}

#[derive(Debug, Clone)]
struct Entry {
    upstream: String,
    breaker: Breaker,
    last_used: u64,
}

/// The breakers of a client, one per upstream (a provider or an endpoint), at most
/// `capacity` of them. A new upstream beyond that evicts the least recently used closed
/// breaker (or, if every one is open, the least recently used of all).
#[derive(Debug, Clone)]
pub struct Breakers {
    options: BreakerOptions,
    capacity: usize,
    entries: Vec<Entry>,
    uses: u64,
}

impl Breakers {
    /// Room for [`DEFAULT_MAX_UPSTREAMS`] upstreams.
    pub fn new(options: BreakerOptions) -> Self {
        Breakers::with_capacity(options, DEFAULT_MAX_UPSTREAMS)
    }

    /// Room for `capacity` upstreams (at least one).
    pub fn with_capacity(options: BreakerOptions, capacity: usize) -> Self {
        Breakers {
            options,
            capacity: capacity.max(1),
            entries: Vec::new(),
            uses: 0,
        }
    }

    /// [`Breaker::admit`] for `upstream` (remembered from now on).
    pub fn admit(&mut self, upstream: &str, now_ms: f64) -> Admit {
        self.entry(upstream, now_ms).admit(now_ms)
    }

    /// Report how a call to `upstream` ended.
    pub fn record(&mut self, upstream: &str, outcome: Outcome, now_ms: f64) {
        if outcome == Outcome::Neutral && self.find(upstream).is_none() {
            return;
        }
        self.entry(upstream, now_ms).record(outcome, now_ms);
    }

    /// The state of `upstream`'s breaker; closed if it is not remembered.
    pub fn state(&self, upstream: &str, now_ms: f64) -> BreakerState {
        self.get(upstream)
            .map_or(BreakerState::Closed, |b| b.state(now_ms))
    }

    /// `upstream`'s breaker, if remembered.
    pub fn get(&self, upstream: &str) -> Option<&Breaker> {
        self.find(upstream).map(|i| &self.entries[i].breaker)
    }

    /// Upstreams remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every remembered upstream's state, sorted by name.
    pub fn snapshot(&self, now_ms: f64) -> Vec<BreakerSnapshot> {
        let mut out: Vec<BreakerSnapshot> = self
            .entries
            .iter()
            .map(|e| {
                let (window_requests, window_failures) = e.breaker.window(now_ms);
                BreakerSnapshot {
                    upstream: e.upstream.clone(),
                    state: e.breaker.state(now_ms),
                    consecutive_failures: e.breaker.consecutive_failures(),
                    window_requests,
                    window_failures,
                }
            })
            .collect();
        // Insertion sort: at most `capacity` entries, and a library sort would compile a
        // general sort (~3 KB of wasm) for this one short list.
        for i in 1..out.len() {
            let mut j = i;
            while j > 0 && out[j - 1].upstream > out[j].upstream {
                out.swap(j - 1, j);
                j -= 1;
            }
        }
        out
    }

    fn find(&self, upstream: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.upstream == upstream)
    }

    fn entry(&mut self, upstream: &str, now_ms: f64) -> &mut Breaker {
        self.uses = self.uses.wrapping_add(1);
        let index = match self.find(upstream) {
            Some(i) => i,
            None => {
                if self.entries.len() >= self.capacity {
                    let lru = |closed_only: bool| {
                        self.entries
                            .iter()
                            .enumerate()
                            .filter(|(_, e)| {
                                !closed_only || e.breaker.state(now_ms) == BreakerState::Closed
                            })
                            .min_by_key(|(_, e)| e.last_used)
                            .map(|(i, _)| i)
                    };
                    if let Some(victim) = lru(true).or_else(|| lru(false)) {
                        self.entries.swap_remove(victim);
                    }
                }
                self.entries.push(Entry {
                    upstream: upstream.to_owned(),
                    breaker: Breaker::new(self.options),
                    last_used: 0,
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.last_used = self.uses;
        &mut entry.breaker
    }
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, the RFC's example date, in epoch ms.
    const RFC_EXAMPLE_MS: f64 = 784_111_777_000.0;

    #[test]
    fn decimal_accepts_only_plain_non_negative_numbers() {
        assert_eq!(parse_decimal("5"), Some(5.0));
        assert_eq!(parse_decimal(" 1.5 "), Some(1.5));
        assert_eq!(parse_decimal(".5"), Some(0.5));
        assert_eq!(parse_decimal("5."), Some(5.0));
        for bad in [
            "", ".", "-1", "+1", "1e3", "NaN", "inf", "1.2.3", "0x10", "1 2",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_decimal(&"9".repeat(400)),
            None,
            "overflows to infinity"
        );
    }

    #[test]
    fn decimal_matches_the_standard_parser() {
        let cases = [
            "0",
            "00",
            "1",
            "5.",
            ".5",
            "1.5",
            "0.001",
            "0.02",
            "20",
            "120.25",
            "86400",
            "3723.5",
            "0.000001",
            "1234567.891",
            "9007199254740992",
            "9007199254740993",
            "18446744073709551615",
            "0.1",
            "0.3",
            "123456789012345.6",
            "1700000000",
        ];
        for c in cases {
            let (int, frac) = c.split_once('.').unwrap_or((c, ""));
            assert_eq!(
                decimal_to_f64(int, frac).to_bits(),
                c.parse::<f64>().unwrap().to_bits(),
                "{c}"
            );
        }
        assert_eq!(decimal_to_f64(&"9".repeat(400), ""), f64::INFINITY);
        let tiny = format!("0.{}5", "0".repeat(320));
        let (int, frac) = tiny.split_once('.').unwrap();
        assert!(decimal_to_f64(int, frac) > 0.0, "a tiny delay is not zero");
    }

    #[test]
    fn durations_in_go_syntax() {
        assert_eq!(parse_duration_secs("1s"), Some(1.0));
        assert_eq!(parse_duration_secs("6m0s"), Some(360.0));
        assert_eq!(parse_duration_secs("20ms"), Some(0.02));
        assert_eq!(parse_duration_secs("1h2m3.5s"), Some(3723.5));
        assert_eq!(parse_duration_secs("1500µs"), Some(0.0015));
        for bad in ["", "s", "1x", "1m30", "-1s", "1 s", "ms20"] {
            assert_eq!(parse_duration_secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plain_reset_numbers_are_seconds_only_when_small() {
        assert_eq!(parse_reset("2"), Some(2.0));
        assert_eq!(parse_reset("1700000000"), None, "a timestamp, not a delay");
    }

    #[test]
    fn civil_day_arithmetic_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_year_from_days(0), 1970);
        assert_eq!(civil_year_from_days(11_016), 2000);
        assert_eq!(civil_year_from_days(-1), 1969);
        for y in [1, 1600, 1900, 1999, 2024, 9999] {
            assert_eq!(civil_year_from_days(days_from_civil(y, 12, 31)), y);
            assert_eq!(civil_year_from_days(days_from_civil(y, 1, 1)), y);
        }
    }

    #[test]
    fn all_three_http_date_forms_parse_to_the_same_instant() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                http_date_delay_ms(s, RFC_EXAMPLE_MS - 2_000.0),
                Some(2_000.0),
                "{s}"
            );
        }
    }

    #[test]
    fn two_digit_years_more_than_50_years_ahead_are_last_century() {
        let now_2030 = days_from_civil(2030, 1, 1) as f64 * 86_400_000.0;
        assert_eq!(two_digit_year("79", now_2030), Some(2079));
        assert_eq!(two_digit_year("81", now_2030), Some(1981));
    }

    #[test]
    fn garbage_dates_are_rejected() {
        for s in [
            "Sun, 31 Feb 2024 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 006 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37:00 GMT",
            "",
        ] {
            assert_eq!(http_date_delay_ms(s, RFC_EXAMPLE_MS), None, "{s:?}");
        }
        assert_eq!(
            http_date_delay_ms("Sun, 06 Nov 1994 08:49:37 GMT", f64::NAN),
            None
        );
        assert_eq!(
            http_date_delay_ms("Sun, 06 Nov 1994 08:49:37 GMT", 1e300),
            None
        );
    }

    #[test]
    fn ratelimit_policies_with_remaining_left_are_ignored() {
        assert_eq!(ratelimit_wait_secs(r#""default";r=0;t=5"#), Some(5.0));
        assert_eq!(ratelimit_wait_secs(r#""default";r=3;t=5"#), None);
        assert_eq!(
            ratelimit_wait_secs(r#""a";r=0;t=5, "b";r=0;t=30, "c";r=9;t=90"#),
            Some(30.0)
        );
        assert_eq!(
            ratelimit_wait_secs("limit=100, remaining=0, reset=5"),
            Some(5.0)
        );
        assert_eq!(ratelimit_wait_secs("limit=100, remaining=7, reset=5"), None);
        assert_eq!(ratelimit_wait_secs("garbage"), None);
    }

    #[test]
    fn backoff_factor_saturates_for_huge_retry_counts() {
        let mut s = RetryState::new(
            RetryOptions {
                max_delay_ms: u64::MAX,
                jitter: 0.0,
                ..RetryOptions::default()
            },
            0.0,
        );
        s.retries = 200;
        assert_eq!(s.next_delay(None, 0.0), Ok(u64::MAX));
    }

    #[test]
    fn wait_text_reads_naturally() {
        assert_eq!(wait_text(250), "250 ms");
        assert_eq!(wait_text(120_000), "120 s");
        assert_eq!(wait_text(1_001), "2 s");
    }

    #[test]
    fn breaker_clock_never_goes_backwards() {
        let mut b = Breaker::new(BreakerOptions {
            failure_threshold: 1,
            ..BreakerOptions::default()
        });
        b.on_failure(100_000.0);
        assert_eq!(
            b.admit(0.0),
            Admit::Reject {
                retry_in_ms: 30_000
            }
        );
        assert_eq!(
            b.admit(f64::NAN),
            Admit::Reject {
                retry_in_ms: 30_000
            }
        );
    }

    #[test]
    fn attempts_list_is_bounded_but_the_count_is_exact() {
        let mut s = RetryState::new(
            RetryOptions {
                max_retries: 1000,
                base_delay_ms: 0,
                budget_ms: u64::MAX,
                ..RetryOptions::default()
            },
            0.0,
        );
        let e = Error::http(503, "");
        for _ in 0..100 {
            let _ = s.on_failure(&e, &ResponseHints::default(), false, 0.0, 0.0);
        }
        assert_eq!(s.attempts().len(), MAX_RECORDED_ATTEMPTS);
        let msg = s.final_error(e, &GiveUpReason::Exhausted).message;
        assert!(msg.contains("after 100 attempts: …, 503"), "{msg}");
        assert_eq!(msg.matches("503").count(), 1 + MAX_SUMMARY_LABELS, "{msg}");
    }
}
