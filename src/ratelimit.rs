//! The client-side rate limit: requests and tokens per minute, concurrent calls, a
//! bounded FIFO queue of the calls waiting for their turn, and a pause per upstream
//! after a 429.
//!
//! Owns: [`RateLimitOptions`] with their checks, and [`Limiter`], a sans-IO state
//! machine. The shell asks it before sending ([`Limiter::acquire`]: admitted, queued or
//! rejected), wakes queued calls when it says ([`Limiter::pump`]), and reports the end
//! of every admitted call ([`Limiter::release`], with the tokens it really used) and
//! every 429 ([`Limiter::on_rate_limited`]).
//!
//! Must never: let a later call overtake an earlier one still waiting for the same
//! capacity (the queue is first in, first out: a small request does not jump a big one),
//! hold more than `max_queue` waiting calls (one more is rejected with kind
//! `rate_limited`), remember more than `max_upstreams` pauses, read a clock (`now_ms` is
//! passed in; an earlier time than one already seen counts as the latest), or panic on
//! any option or count.
//!
//! ## Buckets
//!
//! Each limit is a token bucket (the generic cell rate algorithm, as the proxy's
//! [`crate::proxy`] limiter): it holds up to one minute's worth (`requests_per_minute`
//! requests, `tokens_per_minute` tokens) and refills continuously at that rate, so a
//! full bucket lets a minute's quota go at once, as provider limits do. Time is counted
//! in ticks of `1 / rate` ms, so every refill is exact integer arithmetic. A request
//! takes one request and its *estimated* tokens ([`crate::usage::estimate_request_tokens`])
//! when admitted; when it ends, [`Limiter::release`] gives back what it did not use (or
//! takes the excess) from its real usage. A request estimated above `tokens_per_minute`
//! waits for a full bucket, then goes and leaves the bucket in debt: it is slowed down,
//! never refused for its size.
//!
//! ## Pauses
//!
//! A 429 from an upstream (its [`crate::retry::ResponseHints`] `Retry-After`, else
//! [`DEFAULT_PAUSE_MS`], at most `max_pause_ms`) pauses that upstream: calls for it wait
//! until the pause ends, so the queue does not stampede a server that asked for quiet.
//! Calls for other upstreams are not held up by a paused one. The call that got the 429
//! keeps its permit; its own retry sleeps as [`crate::retry`] decides.

use crate::error::{cut, Error, ErrorKind};
use crate::retry::{wait_text, ResponseHints};

/// Default most calls waiting in the queue.
pub const DEFAULT_MAX_QUEUE: usize = 64;
/// Default pause of an upstream after a 429 that did not say how long to wait.
pub const DEFAULT_PAUSE_MS: u64 = 1_000;
/// Default longest pause a 429 can impose.
pub const DEFAULT_MAX_PAUSE_MS: u64 = 60_000;
/// Default most upstreams with a pause remembered.
pub const DEFAULT_MAX_UPSTREAMS: usize = 64;
/// Highest `tokens_per_minute` accepted (keeps the tick arithmetic far from overflow).
pub const MAX_TOKENS_PER_MINUTE: u64 = 1_000_000_000_000;
/// The error code of a call rejected because the queue is full.
pub const QUEUE_FULL_CODE: &str = "queue_full";
/// Longest upstream key remembered, in bytes (longer keys are cut).
const MAX_UPSTREAM_KEY_BYTES: usize = 256;

/// Ticks one unit (a request, a token) costs: a unit is `60 000 / rate` ms.
const TICKS_PER_UNIT: u128 = 60_000;

/// The `rateLimit` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitOptions {
    /// Requests per minute; `None` for no limit.
    pub requests_per_minute: Option<u32>,
    /// Estimated tokens (prompt + completion reservation) per minute; `None` for no
    /// limit.
    pub tokens_per_minute: Option<u64>,
    /// Calls in flight at once; `None` for no limit.
    pub max_concurrent: Option<u32>,
    /// Calls waiting at most; one more is rejected. `0` rejects any call that would
    /// have to wait.
    pub max_queue: usize,
    /// Pause after a 429 that gave no `Retry-After`.
    pub default_pause_ms: u64,
    /// Longest pause a 429 imposes, whatever its `Retry-After` says.
    pub max_pause_ms: u64,
    /// Upstreams with a pause remembered at most.
    pub max_upstreams: usize,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            requests_per_minute: None,
            tokens_per_minute: None,
            max_concurrent: None,
            max_queue: DEFAULT_MAX_QUEUE,
            default_pause_ms: DEFAULT_PAUSE_MS,
            max_pause_ms: DEFAULT_MAX_PAUSE_MS,
            max_upstreams: DEFAULT_MAX_UPSTREAMS,
        }
    }
}

impl RateLimitOptions {
    /// A limit of 0 would never admit anything: kind `input`, naming the option.
    pub fn check(&self) -> Result<(), Error> {
        let bad = if self.requests_per_minute == Some(0) {
            Some(("requestsPerMinute", "at least 1"))
        } else if self.tokens_per_minute == Some(0) {
            Some(("tokensPerMinute", "at least 1"))
        } else if self
            .tokens_per_minute
            .is_some_and(|t| t > MAX_TOKENS_PER_MINUTE)
        {
            Some(("tokensPerMinute", "at most 1000000000000"))
        } else if self.max_concurrent == Some(0) {
            Some(("maxConcurrent", "at least 1"))
        } else if self.max_upstreams == 0 {
            Some(("maxUpstreams", "at least 1"))
        } else {
            None
        };
        match bad {
            Some((name, rule)) => Err(Error::input(crate::error::concat(&[
                "`rateLimit.",
                name,
                "` must be ",
                rule,
            ]))),
            None => Ok(()),
        }
    }
}

/// A waiting call's place in the queue. Its `id` is unique per limiter, for the shell's
/// map of waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Ticket {
    pub fn id(self) -> u64 {
        self.0
    }
}

/// The right to send one call. Hand it back to [`Limiter::release`] when the call ends
/// (success, failure or abort, retries included: one permit covers every attempt).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be released when its call ends, or the concurrency slot and token reservation leak"]
pub struct Permit {
    tokens: u64,
    upstream: String,
}

impl Permit {
    /// The tokens reserved for the call.
    pub fn reserved_tokens(&self) -> u64 {
        self.tokens
    }

    /// The upstream it was admitted for.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }
}

/// The limiter's answer to a new call.
#[derive(Debug, PartialEq)]
#[must_use = "a queued call must wait for pump to admit it; a rejected one must not be sent"]
pub enum Acquire {
    /// Send it now.
    Admit(Permit),
    /// Wait: it is in the queue. Call [`Limiter::pump`] now and whenever it asks; the
    /// call goes when `pump` lists its ticket (or leaves with [`Limiter::cancel`]).
    Queued(Ticket),
    /// The queue is full: fail the call with this error (kind `rate_limited`, code
    /// [`QUEUE_FULL_CODE`], retryable); nothing was sent.
    Reject(Error),
}

/// What [`Limiter::pump`] decided.
#[derive(Debug, Default, PartialEq)]
#[must_use = "admitted calls must be woken and the timer armed"]
pub struct Pump {
    /// Queued calls that may go now, in queue order: wake each with its permit.
    pub admitted: Vec<(Ticket, Permit)>,
    /// When to call `pump` again (a bucket refills or a pause ends), if waiting calls
    /// remain that time alone will let through. `None` with calls still queued means they
    /// wait for a [`Limiter::release`] (concurrency); `pump` after every release.
    pub wake_at_ms: Option<u64>,
}

/// A queued call.
#[derive(Debug, Clone)]
struct Waiter {
    ticket: Ticket,
    tokens: u64,
    upstream: String,
}

/// `n / d` rounded up, at most `u64::MAX` (`u64::try_from(n.div_ceil(d))` saturated),
/// for `d > 0`. By shifts and subtractions: a `u128` division would compile
/// `compiler_builtins`' 128-bit divide (~1 KB of wasm) for this one call.
fn ceil_div(n: u128, d: u64) -> u64 {
    let d = u128::from(d);
    if n >> 64 >= d {
        // The quotient is at least 2^64.
        return u64::MAX;
    }
    let mut r = n >> 64;
    let mut q = 0u64;
    for bit in (0..64).rev() {
        r = r << 1 | (n >> bit) & 1;
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
    }
    if r > 0 {
        q.saturating_add(1)
    } else {
        q
    }
}

/// A token bucket kept as the time it is full again, in ticks of `1 / rate` ms.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Units per minute.
    rate: u128,
    full_at: u128,
}

impl Bucket {
    fn new(rate: u64) -> Bucket {
        Bucket {
            rate: u128::from(rate.max(1)),
            full_at: 0,
        }
    }

    fn capacity(&self) -> u128 {
        self.rate * TICKS_PER_UNIT
    }

    fn now_ticks(&self, now_ms: u64) -> u128 {
        u128::from(now_ms) * self.rate
    }

    /// Ticks `units` cost, capped at a full bucket for the admission check (a request
    /// bigger than the bucket goes when the bucket is full).
    fn check_cost(&self, units: u64) -> u128 {
        (u128::from(units) * TICKS_PER_UNIT).min(self.capacity())
    }

    fn can_take(&self, units: u64, now_ms: u64) -> bool {
        let now = self.now_ticks(now_ms);
        let base = self.full_at.max(now);
        // `base >= now`; a bucket saturated deep in debt simply never has room.
        base.saturating_add(self.check_cost(units)) - now <= self.capacity()
    }

    /// The first whole millisecond at which `units` can be taken.
    fn ready_at_ms(&self, units: u64, now_ms: u64) -> u64 {
        let need = self
            .full_at
            .saturating_add(self.check_cost(units))
            .saturating_sub(self.capacity());
        // `rate` came from a `u64`.
        ceil_div(need, self.rate as u64).max(now_ms)
    }

    fn take(&mut self, units: u64, now_ms: u64) {
        let now = self.now_ticks(now_ms);
        self.full_at = self
            .full_at
            .max(now)
            .saturating_add(u128::from(units) * TICKS_PER_UNIT);
    }

    fn give_back(&mut self, units: u64, now_ms: u64) {
        let now = self.now_ticks(now_ms);
        if self.full_at > now {
            self.full_at = self
                .full_at
                .saturating_sub(u128::from(units) * TICKS_PER_UNIT)
                .max(now);
        }
    }

    /// Whole units available now.
    fn available(&self, now_ms: u64) -> u64 {
        let now = self.now_ticks(now_ms);
        let used = self.full_at.saturating_sub(now);
        let free = self.capacity().saturating_sub(used) / TICKS_PER_UNIT;
        u64::try_from(free).unwrap_or(u64::MAX)
    }
}

/// What [`Limiter::snapshot`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterSnapshot {
    pub in_flight: u32,
    pub queued: usize,
    /// Requests that could start now as far as `requests_per_minute` goes.
    pub requests_available: Option<u64>,
    /// Tokens available now as far as `tokens_per_minute` goes.
    pub tokens_available: Option<u64>,
    /// Paused upstreams and when each pause ends, sorted by upstream.
    pub paused: Vec<(String, u64)>,
}

/// The client's rate limiter. See the module docs for the protocol.
#[derive(Debug, Clone)]
pub struct Limiter {
    options: RateLimitOptions,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    in_flight: u32,
    /// A `Vec`, not a `VecDeque`: it is short (`max_queue`), and the ring buffer's code
    /// would be compiled into the wasm for it alone.
    queue: Vec<Waiter>,
    /// Upstream → end of its pause.
    pauses: Vec<(String, u64)>,
    next_ticket: u64,
    latest_ms: u64,
}

impl Limiter {
    /// A limiter with these options ([`RateLimitOptions::check`] first).
    pub fn new(options: RateLimitOptions) -> Result<Limiter, Error> {
        options.check()?;
        Ok(Limiter {
            options,
            requests: options.requests_per_minute.map(|r| Bucket::new(r.into())),
            tokens: options.tokens_per_minute.map(Bucket::new),
            in_flight: 0,
            queue: Vec::new(),
            pauses: Vec::new(),
            next_ticket: 0,
            latest_ms: 0,
        })
    }

    pub fn options(&self) -> RateLimitOptions {
        self.options
    }

    /// A new call estimated at `est_tokens` tokens, for `upstream` (the target's
    /// [`crate::providers::Target::upstream`]), wants to go at `now_ms`.
    ///
    /// Admitted at once only if no earlier call is waiting that could go before it (calls
    /// for a paused upstream do not count), its upstream is not paused, and every limit
    /// has room. Otherwise queued, or rejected when `max_queue` calls already wait.
    pub fn acquire(&mut self, est_tokens: u64, upstream: &str, now_ms: u64) -> Acquire {
        let now = self.clock(now_ms);
        let upstream = cut(upstream, MAX_UPSTREAM_KEY_BYTES);
        let ahead = self
            .queue
            .iter()
            .any(|w| self.paused_until(&w.upstream, now).is_none());
        if !ahead && self.paused_until(upstream, now).is_none() && self.fits(est_tokens, now) {
            return Acquire::Admit(self.admit(est_tokens, upstream, now));
        }
        if self.queue.len() >= self.options.max_queue {
            let wait = self.wait_hint(est_tokens, upstream, now);
            return Acquire::Reject(queue_full_error(self.queue.len(), wait));
        }
        self.next_ticket += 1;
        let ticket = Ticket(self.next_ticket);
        self.queue.push(Waiter {
            ticket,
            tokens: est_tokens,
            upstream: upstream.to_owned(),
        });
        Acquire::Queued(ticket)
    }

    /// Admit what can go now, first in first out, and say when to look again. Waiters
    /// for a paused upstream keep their place but do not hold up the others; the first
    /// other waiter that does not fit stops the round (no one behind it goes).
    pub fn pump(&mut self, now_ms: u64) -> Pump {
        let now = self.clock(now_ms);
        let mut out = Pump::default();
        let mut wake: Option<u64> = None;
        let mut soonest = |t: u64| wake = Some(wake.map_or(t, |w| w.min(t)));
        let mut i = 0;
        while i < self.queue.len() {
            let (tokens, paused) = {
                let w = &self.queue[i];
                (w.tokens, self.paused_until(&w.upstream, now))
            };
            if let Some(until) = paused {
                soonest(until);
                i += 1;
                continue;
            }
            if self.fits(tokens, now) {
                let w = self.queue.remove(i);
                let permit = self.admit(w.tokens, &w.upstream, now);
                out.admitted.push((w.ticket, permit));
                continue;
            }
            if let Some(at) = self.bucket_ready_ms(tokens, now) {
                soonest(at.max(now.saturating_add(1)));
            }
            break;
        }
        out.wake_at_ms = wake;
        out
    }

    /// A queued call gave up (its caller aborted or timed out). `false` if the ticket is
    /// not queued (already admitted or cancelled). `pump` afterwards: the calls behind
    /// it may go now.
    pub fn cancel(&mut self, ticket: Ticket) -> bool {
        match self.queue.iter().position(|w| w.ticket == ticket) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// An admitted call ended. `actual_tokens` is its real usage
    /// ([`crate::usage::TokenUsage::billable_tokens`]): the reservation is corrected by
    /// the difference (unused tokens come back, extra ones are taken). `None` (usage
    /// unknown) keeps the reservation as spent. The request itself is never given back.
    /// `pump` afterwards.
    pub fn release(&mut self, permit: Permit, actual_tokens: Option<u64>, now_ms: u64) {
        let now = self.clock(now_ms);
        self.in_flight = self.in_flight.saturating_sub(1);
        if let (Some(bucket), Some(actual)) = (self.tokens.as_mut(), actual_tokens) {
            if actual < permit.tokens {
                bucket.give_back(permit.tokens - actual, now);
            } else if actual > permit.tokens {
                bucket.take(actual - permit.tokens, now);
            }
        }
    }

    /// `upstream` answered 429: pause it for the `Retry-After` its headers asked (else
    /// `default_pause_ms`), at most `max_pause_ms`. Returns the pause in ms. `pump`
    /// afterwards.
    pub fn on_rate_limited(&mut self, upstream: &str, hints: &ResponseHints, now_ms: u64) -> u64 {
        let asked = hints
            .retry_after_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            // `as` saturates; the value is finite and not negative.
            .map(|ms| ms.ceil() as u64)
            .unwrap_or(self.options.default_pause_ms);
        let pause = asked.min(self.options.max_pause_ms);
        let now = self.clock(now_ms);
        self.pause(upstream, now.saturating_add(pause), now);
        pause
    }

    /// A call to `upstream` failed with `e`: a 429 pauses the upstream
    /// ([`on_rate_limited`](Self::on_rate_limited)); anything else changes nothing.
    /// Returns the pause in ms, if one was set. `pump` afterwards.
    pub fn on_failure(
        &mut self,
        upstream: &str,
        e: &Error,
        hints: &ResponseHints,
        now_ms: u64,
    ) -> Option<u64> {
        (e.status == Some(429)).then(|| self.on_rate_limited(upstream, hints, now_ms))
    }

    /// Pause `upstream` until `until_ms` (a longer pause already set is kept).
    pub fn pause(&mut self, upstream: &str, until_ms: u64, now_ms: u64) {
        let now = self.clock(now_ms);
        if until_ms <= now {
            return;
        }
        let upstream = cut(upstream, MAX_UPSTREAM_KEY_BYTES);
        if let Some(p) = self.pauses.iter_mut().find(|(u, _)| u == upstream) {
            p.1 = p.1.max(until_ms);
            return;
        }
        if self.pauses.len() >= self.options.max_upstreams {
            self.pauses.retain(|(_, until)| *until > now);
        }
        if self.pauses.len() >= self.options.max_upstreams {
            // Forget the pause that ends soonest.
            if let Some(i) = (0..self.pauses.len()).min_by_key(|&i| self.pauses[i].1) {
                self.pauses.swap_remove(i);
            }
        }
        self.pauses.push((upstream.to_owned(), until_ms));
    }

    /// When `upstream`'s pause ends, if it is paused at `now_ms`.
    pub fn paused_until(&self, upstream: &str, now_ms: u64) -> Option<u64> {
        let upstream = cut(upstream, MAX_UPSTREAM_KEY_BYTES);
        let now = now_ms.max(self.latest_ms);
        self.pauses
            .iter()
            .find(|(u, until)| u == upstream && *until > now)
            .map(|(_, until)| *until)
    }

    /// Calls admitted and not released yet.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Calls waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The state at `now_ms`, for `client.health()`-style reporting.
    pub fn snapshot(&self, now_ms: u64) -> LimiterSnapshot {
        let now = now_ms.max(self.latest_ms);
        let mut paused: Vec<(String, u64)> = self
            .pauses
            .iter()
            .filter(|(_, until)| *until > now)
            .cloned()
            .collect();
        // Insertion sort: at most `max_upstreams` short entries (see `Breakers::snapshot`).
        for i in 1..paused.len() {
            let mut j = i;
            while j > 0 && paused[j - 1].0 > paused[j].0 {
                paused.swap(j - 1, j);
                j -= 1;
            }
        }
        LimiterSnapshot {
            in_flight: self.in_flight,
            queued: self.queue.len(),
            requests_available: self.requests.map(|b| b.available(now)),
            tokens_available: self.tokens.map(|b| b.available(now)),
            paused,
        }
    }

    /// Every limit has room for one call of `tokens` at `now`.
    fn fits(&self, tokens: u64, now: u64) -> bool {
        let concurrency = self
            .options
            .max_concurrent
            .map_or(true, |max| self.in_flight < max);
        concurrency
            && self.requests.map_or(true, |b| b.can_take(1, now))
            && self.tokens.map_or(true, |b| b.can_take(tokens, now))
    }

    /// When the buckets have room for one call of `tokens` (`None` if they have room
    /// now: only concurrency holds it back).
    fn bucket_ready_ms(&self, tokens: u64, now: u64) -> Option<u64> {
        let r = self.requests.map_or(now, |b| b.ready_at_ms(1, now));
        let t = self.tokens.map_or(now, |b| b.ready_at_ms(tokens, now));
        let at = r.max(t);
        (at > now).then_some(at)
    }

    /// Roughly how long a new call would wait: until its upstream's pause ends or the
    /// buckets have room, whichever is later (concurrency not counted).
    fn wait_hint(&self, tokens: u64, upstream: &str, now: u64) -> u64 {
        let pause = self.paused_until(upstream, now).unwrap_or(now);
        let bucket = self.bucket_ready_ms(tokens, now).unwrap_or(now);
        pause.max(bucket) - now
    }

    fn admit(&mut self, tokens: u64, upstream: &str, now: u64) -> Permit {
        if let Some(b) = self.requests.as_mut() {
            b.take(1, now);
        }
        if let Some(b) = self.tokens.as_mut() {
            b.take(tokens, now);
        }
        self.in_flight = self.in_flight.saturating_add(1);
        Permit {
            tokens,
            upstream: upstream.to_owned(),
        }
    }

    fn clock(&mut self, now_ms: u64) -> u64 {
        self.latest_ms = self.latest_ms.max(now_ms);
        self.latest_ms
    }
}

/// The error of a call rejected because `waiting` calls fill the queue.
fn queue_full_error(waiting: usize, wait_ms: u64) -> Error {
    let mut m = String::from("client rate limit: ");
    m.push_str(&waiting.to_string());
    m.push_str(" calls are already waiting (`rateLimit.maxQueue`), so this one was not sent; ");
    if wait_ms > 0 {
        m.push_str("capacity frees up in about ");
        m.push_str(&wait_text(wait_ms));
        m.push_str(". ");
    }
    m.push_str("Retry later, or raise `rateLimit.maxQueue`.");
    let mut e = Error::new(ErrorKind::RateLimited, m);
    e.code = Some(QUEUE_FULL_CODE.to_owned());
    e.retryable = true;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_429_pauses_its_upstream() {
        let mut l = match Limiter::new(RateLimitOptions::default()) {
            Ok(l) => l,
            Err(e) => panic!("{e:?}"),
        };
        let hints = ResponseHints {
            retry_after_ms: Some(2_000.0),
            ..ResponseHints::default()
        };
        assert_eq!(
            l.on_failure("together", &Error::http(503, "busy"), &hints, 0),
            None
        );
        assert_eq!(l.paused_until("together", 0), None);
        assert_eq!(
            l.on_failure("together", &Error::http(429, "slow down"), &hints, 0),
            Some(2_000)
        );
        assert_eq!(l.paused_until("together", 0), Some(2_000));
        assert_eq!(l.paused_until("groq", 0), None, "other upstreams go on");
    }

    #[test]
    fn a_bucket_refills_exactly() {
        // 60 per minute: one a second.
        let mut b = Bucket::new(60);
        for _ in 0..60 {
            assert!(b.can_take(1, 0));
            b.take(1, 0);
        }
        assert!(!b.can_take(1, 0));
        assert_eq!(b.ready_at_ms(1, 0), 1000);
        assert!(!b.can_take(1, 999));
        assert!(b.can_take(1, 1000));
        assert_eq!(b.available(30_000), 30);
    }

    #[test]
    fn option_errors_name_the_option() {
        let e = RateLimitOptions {
            requests_per_minute: Some(0),
            ..RateLimitOptions::default()
        }
        .check()
        .expect_err("0 rpm");
        assert_eq!(
            e.message,
            "`rateLimit.requestsPerMinute` must be at least 1"
        );
    }
}

/// [`ceil_div`] against `u128::div_ceil`, saturated to `u64`.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod ceil_div_parity {
    use super::ceil_div;
    use proptest::prelude::*;

    fn theirs(n: u128, d: u64) -> u64 {
        u64::try_from(n.div_ceil(u128::from(d))).unwrap_or(u64::MAX)
    }

    #[test]
    fn edges() {
        for n in [
            0,
            1,
            59_999,
            60_000,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
            u128::MAX - 1,
            (u128::from(u64::MAX) << 64) - 1,
        ] {
            for d in [
                1,
                2,
                3,
                7,
                60_000,
                u64::from(u32::MAX),
                u64::MAX - 1,
                u64::MAX,
            ] {
                assert_eq!(ceil_div(n, d), theirs(n, d), "{n} / {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn matches_div_ceil(n in any::<u128>(), small in any::<u64>(), d in 1..=u64::MAX, shift in 0u32..128) {
            prop_assert_eq!(ceil_div(n, d), theirs(n, d));
            let m = n >> shift;
            prop_assert_eq!(ceil_div(m, d), theirs(m, d));
            let s = u128::from(small) * u128::from(d);
            prop_assert_eq!(ceil_div(s, d), theirs(s, d));
            prop_assert_eq!(ceil_div(s + 1, d), theirs(s + 1, d));
        }
    }
}
