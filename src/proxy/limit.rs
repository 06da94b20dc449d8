//! The per-client rate limit: a token bucket per client key, in a bounded map.
//!
//! Each bucket is kept as one number, its "theoretical arrival time" (the generic cell
//! rate algorithm, which is exactly a token bucket): the time at which the bucket would
//! be full again. Time is counted in ticks of `1 / requests_per_minute` ms, so one token
//! is exactly 60 000 ticks and every wait is an exact integer; the only rounding is the
//! last one, up to whole milliseconds (and the shell's `Retry-After`, up to seconds).
//!
//! Bounded: at most `max_clients` buckets. A new client beyond that first forgets every
//! full bucket (a full bucket is the same as no bucket), then, if none was full, the
//! least recently used one. Time only moves forward: an earlier or NaN `now_ms` counts
//! as the latest seen.

use super::wire::{pairs, Fields, W};
use super::RateLimit;
use crate::error::cut;
use crate::json::{pairs_text, ObjectText};

/// Ticks per token: a token is `60 000 / requests_per_minute` ms.
const TICKS_PER_TOKEN: u128 = 60_000;
/// Longest client key kept; longer keys are cut (so they still count, as their prefix).
pub const MAX_CLIENT_KEY_BYTES: usize = 256;

/// The limiter's answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; `remaining` more requests would be allowed right now.
    Allowed { remaining: u32 },
    /// Refused; a request would be allowed again in `retry_after_ms` (at least 1).
    Limited { retry_after_ms: u64 },
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
struct Bucket {
    /// When the bucket is full again, in ticks.
    full_at: u128,
    /// Use counter at the last admission, for least-recently-used eviction.
    last_used: u64,
}

/// Token buckets per client key. Lives in [`super::ProxyState`] (and, serialized, in
/// the Durable Object that shares it across isolates).
#[derive(Debug, Clone, Default)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(default))]
pub struct RateLimiter {
    /// Sorted by key, found by binary search. A `Vec` rather than a `BTreeMap`: a map
    /// of one more key/value type costs the wasm about 11 KB of B-tree code. Inserting
    /// a new client moves the tail (at most `max_clients` small entries), and making
    /// room was a scan of every bucket anyway.
    buckets: Vec<(String, Bucket)>,
    /// The rate the ticks are counted at; buckets are reset if the rate changes.
    per_minute: u32,
    latest_ms: u64,
    uses: u64,
}

impl RateLimiter {
    pub(super) fn from_wire(w: W) -> RateLimiter {
        let mut f = Fields::of(w);
        RateLimiter {
            buckets: pairs(f.next(), |b| {
                let mut b = Fields::of(b);
                Bucket {
                    full_at: b.u128(0),
                    last_used: b.u64(0),
                }
            }),
            per_minute: f.u32(0),
            latest_ms: f.u64(0),
            uses: f.u64(0),
        }
    }

    pub fn new() -> Self {
        RateLimiter::default()
    }

    /// Count one request from `key` at `now_ms` against `limit`. A refused request
    /// costs nothing.
    pub fn admit(&mut self, key: &str, limit: &RateLimit, now_ms: f64) -> Admission {
        let per_minute = limit.requests_per_minute.max(1);
        let burst = u128::from(limit.burst.max(1));
        if per_minute != self.per_minute {
            self.buckets.clear();
            self.per_minute = per_minute;
        }
        let now = self.tick(now_ms);
        let now_ticks = u128::from(now) * u128::from(per_minute);
        let capacity = burst * TICKS_PER_TOKEN;
        let key = cut(key, MAX_CLIENT_KEY_BYTES);
        self.uses = self.uses.wrapping_add(1);

        let found = self.find(key);
        let full_at = found
            .ok()
            .and_then(|i| self.buckets.get(i))
            .map_or(now_ticks, |(_, b)| b.full_at)
            .max(now_ticks);
        let next = full_at + TICKS_PER_TOKEN;
        let debt = next - now_ticks;
        if debt > capacity {
            // Ticks until the debt fits again, in whole ms (rounded up).
            let (whole, rest) = div_rem(debt - capacity, per_minute);
            let wait_ms = whole + u128::from(rest != 0);
            return Admission::Limited {
                retry_after_ms: u64::try_from(wait_ms).unwrap_or(u64::MAX).max(1),
            };
        }
        let bucket = Bucket {
            full_at: next,
            last_used: self.uses,
        };
        match found.ok().and_then(|i| self.buckets.get_mut(i)) {
            Some((_, b)) => *b = bucket,
            None => {
                self.make_room(limit.max_clients.max(1), now_ticks);
                // `make_room` may have removed buckets: find the place again.
                let at = self.find(key).unwrap_or_else(|at| at);
                self.buckets.insert(at, (key.to_owned(), bucket));
            }
        }
        let remaining = div_rem(capacity - debt, TICKS_PER_TOKEN as u32).0;
        Admission::Allowed {
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        }
    }

    /// Where `key`'s bucket is, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.buckets.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Clients remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Make room for one more bucket under `max` (full buckets first, then the least
    /// recently used).
    fn make_room(&mut self, max: usize, now_ticks: u128) {
        if self.buckets.len() < max {
            return;
        }
        self.buckets.retain(|(_, b)| b.full_at > now_ticks);
        while self.buckets.len() >= max {
            let lru = self
                .buckets
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, b))| b.last_used)
                .map(|(i, _)| i);
            match lru {
                Some(i) => {
                    self.buckets.remove(i);
                }
                None => break,
            }
        }
    }

    /// Whole ms of `now_ms`, never earlier than the latest seen.
    fn tick(&mut self, now_ms: f64) -> u64 {
        if now_ms.is_finite() && now_ms > 0.0 {
            // `as` saturates; the clock is epoch ms or less, far below u64::MAX.
            let now = now_ms.floor() as u64;
            if now > self.latest_ms {
                self.latest_ms = now;
            }
        }
        self.latest_ms
    }
}

/// `x / d` and `x % d` (`d` at least 1), by long division in 32-bit digits: `u128`'s own
/// `/` is a 1 KB routine in the wasm, for the two divisions here by a `u32`.
fn div_rem(x: u128, d: u32) -> (u128, u32) {
    let d = u64::from(d.max(1));
    let (mut q, mut r) = (0u128, 0u64);
    for shift in [96, 64, 32, 0] {
        // `r < d < 2^32`, so the digit quotient fits in 32 bits.
        let digit = (r << 32) | u64::from((x >> shift) as u32);
        q |= u128::from(digit / d) << shift;
        r = digit % d;
    }
    (q, r as u32)
}

/// `x` in decimal, as `x.to_string()` writes it: `u128`'s own formatting is a 1.3 KB
/// routine in the wasm (it divides by 10^19 in 128 bits). A bucket's `full_at` (epoch ms
/// times the rate) fits a `u64`, whose formatting is there anyway; a larger one is written
/// a digit at a time with [`div_rem`].
fn u128_text(mut x: u128) -> String {
    if let Ok(v) = u64::try_from(x) {
        return v.to_string();
    }
    let mut digits = Vec::with_capacity(39);
    while x > 0 {
        let (q, r) = div_rem(x, 10);
        digits.push(b'0' + r as u8);
        x = q;
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

// JSON text, as the derived `Serialize` wrote it (the Durable Object's snapshot).

impl Bucket {
    fn json_text(&self) -> String {
        ObjectText::new()
            .raw("full_at", &u128_text(self.full_at))
            .number("last_used", self.last_used)
            .end()
    }
}

impl RateLimiter {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .raw("buckets", &pairs_text(&self.buckets, Bucket::json_text))
            .number("per_minute", u64::from(self.per_minute))
            .number("latest_ms", self.latest_ms)
            .number("uses", self.uses)
            .end()
    }

    /// Read from [`RateLimiter::to_json`]'s text (missing fields are defaults).
    pub fn from_json(text: &str) -> Result<RateLimiter, String> {
        super::wire::read(text, &super::wire::Ty::Struct(&super::wire::RATE_LIMITER))
            .map(RateLimiter::from_wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32, max_clients: usize) -> RateLimit {
        RateLimit {
            requests_per_minute: per_minute,
            burst,
            max_clients,
        }
    }

    #[test]
    fn burst_then_one_token_per_interval() {
        let l = limit(60, 3, 10);
        let mut r = RateLimiter::new();
        assert_eq!(r.admit("a", &l, 0.0), Admission::Allowed { remaining: 2 });
        assert_eq!(r.admit("a", &l, 0.0), Admission::Allowed { remaining: 1 });
        assert_eq!(r.admit("a", &l, 0.0), Admission::Allowed { remaining: 0 });
        assert_eq!(
            r.admit("a", &l, 0.0),
            Admission::Limited {
                retry_after_ms: 1000
            }
        );
        assert_eq!(
            r.admit("a", &l, 999.0),
            Admission::Limited { retry_after_ms: 1 }
        );
        assert_eq!(
            r.admit("a", &l, 1000.0),
            Admission::Allowed { remaining: 0 }
        );
    }

    #[test]
    fn fractional_intervals_round_up_to_whole_ms() {
        // 7 per minute: one token every 8571.43 ms.
        let l = limit(7, 1, 10);
        let mut r = RateLimiter::new();
        assert!(matches!(r.admit("a", &l, 0.0), Admission::Allowed { .. }));
        assert_eq!(
            r.admit("a", &l, 0.0),
            Admission::Limited {
                retry_after_ms: 8572
            }
        );
        assert_eq!(
            r.admit("a", &l, 8571.0),
            Admission::Limited { retry_after_ms: 1 }
        );
        assert!(matches!(
            r.admit("a", &l, 8572.0),
            Admission::Allowed { .. }
        ));
    }

    #[test]
    fn clock_going_backwards_or_nan_is_the_latest_seen() {
        let l = limit(60, 1, 10);
        let mut r = RateLimiter::new();
        assert!(matches!(
            r.admit("a", &l, 5000.0),
            Admission::Allowed { .. }
        ));
        assert_eq!(
            r.admit("a", &l, 0.0),
            Admission::Limited {
                retry_after_ms: 1000
            }
        );
        assert_eq!(
            r.admit("a", &l, f64::NAN),
            Admission::Limited {
                retry_after_ms: 1000
            }
        );
    }

    #[test]
    fn a_rate_change_resets_the_buckets() {
        let mut r = RateLimiter::new();
        assert!(matches!(
            r.admit("a", &limit(60, 1, 10), 0.0),
            Admission::Allowed { .. }
        ));
        assert!(matches!(
            r.admit("a", &limit(120, 1, 10), 0.0),
            Admission::Allowed { .. }
        ));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn long_keys_are_cut() {
        let l = limit(60, 1, 10);
        let mut r = RateLimiter::new();
        let long = "k".repeat(10_000);
        assert!(matches!(r.admit(&long, &l, 0.0), Admission::Allowed { .. }));
        assert!(matches!(r.admit(&long, &l, 0.0), Admission::Limited { .. }));
        assert!(r
            .buckets
            .iter()
            .all(|(k, _)| k.len() <= MAX_CLIENT_KEY_BYTES));
    }
}

/// The limiter against the `BTreeMap` one it replaced: the same answers and the same
/// number of clients remembered, for any sequence of requests.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod map_parity {
    use super::*;
    use proptest::prelude::*;

    mod old {
        use super::super::{Admission, Bucket, RateLimit, MAX_CLIENT_KEY_BYTES, TICKS_PER_TOKEN};
        use crate::error::cut;
        use std::collections::BTreeMap;

        /// The limiter as it was, on a `BTreeMap`.
        #[derive(Debug, Clone, Default)]
        pub(super) struct MapLimiter {
            buckets: BTreeMap<String, Bucket>,
            /// The rate the ticks are counted at; buckets are reset if the rate changes.
            per_minute: u32,
            latest_ms: u64,
            uses: u64,
        }

        impl MapLimiter {
            pub(super) fn new() -> Self {
                MapLimiter::default()
            }

            /// Count one request from `key` at `now_ms` against `limit`. A refused request
            /// costs nothing.
            pub(super) fn admit(&mut self, key: &str, limit: &RateLimit, now_ms: f64) -> Admission {
                let per_minute = limit.requests_per_minute.max(1);
                let burst = u128::from(limit.burst.max(1));
                if per_minute != self.per_minute {
                    self.buckets.clear();
                    self.per_minute = per_minute;
                }
                let now = self.tick(now_ms);
                let rate = u128::from(per_minute);
                let now_ticks = u128::from(now) * rate;
                let capacity = burst * TICKS_PER_TOKEN;
                let key = cut(key, MAX_CLIENT_KEY_BYTES);
                self.uses = self.uses.wrapping_add(1);

                let full_at = self
                    .buckets
                    .get(key)
                    .map_or(now_ticks, |b| b.full_at)
                    .max(now_ticks);
                let next = full_at + TICKS_PER_TOKEN;
                let debt = next - now_ticks;
                if debt > capacity {
                    // Ticks until the debt fits again, in whole ms (rounded up).
                    let wait_ticks = debt - capacity;
                    let wait_ms = wait_ticks.div_ceil(rate);
                    return Admission::Limited {
                        retry_after_ms: u64::try_from(wait_ms).unwrap_or(u64::MAX).max(1),
                    };
                }
                if !self.buckets.contains_key(key) {
                    self.make_room(limit.max_clients.max(1), now_ticks);
                }
                self.buckets.insert(
                    key.to_owned(),
                    Bucket {
                        full_at: next,
                        last_used: self.uses,
                    },
                );
                let remaining = (capacity - debt) / TICKS_PER_TOKEN;
                Admission::Allowed {
                    remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                }
            }

            /// Clients remembered.
            pub(super) fn len(&self) -> usize {
                self.buckets.len()
            }

            /// Make room for one more bucket under `max` (full buckets first, then the least
            /// recently used).
            fn make_room(&mut self, max: usize, now_ticks: u128) {
                if self.buckets.len() < max {
                    return;
                }
                self.buckets.retain(|_, b| b.full_at > now_ticks);
                while self.buckets.len() >= max {
                    let lru = self
                        .buckets
                        .iter()
                        .min_by_key(|(_, b)| b.last_used)
                        .map(|(k, _)| k.clone());
                    match lru {
                        Some(k) => {
                            self.buckets.remove(&k);
                        }
                        None => break,
                    }
                }
            }

            /// Whole ms of `now_ms`, never earlier than the latest seen.
            fn tick(&mut self, now_ms: f64) -> u64 {
                if now_ms.is_finite() && now_ms > 0.0 {
                    // `as` saturates; the clock is epoch ms or less, far below u64::MAX.
                    let now = now_ms.floor() as u64;
                    if now > self.latest_ms {
                        self.latest_ms = now;
                    }
                }
                self.latest_ms
            }
        }
    }

    proptest! {
        #[test]
        fn u128_text_is_to_string(x in any::<u128>(), small in any::<u64>()) {
            for x in [x, u128::from(small), x >> 64, u128::from(u64::MAX) + u128::from(small % 3)] {
                prop_assert_eq!(u128_text(x), x.to_string());
            }
        }

        #[test]
        fn div_rem_is_u128_division(x in any::<u128>(), small in any::<u64>(), d in 1u32..) {
            for x in [x, u128::from(small), x >> 64] {
                prop_assert_eq!(div_rem(x, d), (x / u128::from(d), (x % u128::from(d)) as u32));
            }
        }

        #[test]
        fn the_vec_limiter_answers_as_the_map_one_did(
            steps in proptest::collection::vec(
                ("[a-e]{0,2}", 0u32..3, 0.0f64..5000.0),
                1..200,
            ),
            max_clients in 1usize..5,
            burst in 1u32..4,
        ) {
            let mut new = RateLimiter::new();
            let mut old = old::MapLimiter::new();
            let mut now = 0.0;
            for (key, rate, dt) in steps {
                now += dt;
                let limit = RateLimit {
                    requests_per_minute: [60, 120, 7][rate as usize],
                    burst,
                    max_clients,
                };
                prop_assert_eq!(new.admit(&key, &limit, now), old.admit(&key, &limit, now));
                prop_assert_eq!(new.len(), old.len());
            }
        }
    }
}
