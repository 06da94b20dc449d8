//! The client-side rate limiter, one behaviour per test, with time passed in: bucket
//! burst and refill, token reservations and their reconciliation, FIFO order (a later
//! small call never overtakes an earlier one), the bounded queue and its `rate_limited`
//! error, concurrency slots freed by `release`, the per-upstream pause after a 429, and
//! `cancel`. Properties: under any sequence of calls the queue, the concurrency and the
//! request rate stay within their limits, and calls are admitted in arrival order.
// Native only: uses proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::ratelimit::{
    Acquire, Limiter, Permit, Pump, RateLimitOptions, Ticket, QUEUE_FULL_CODE,
};
use hf_inference_wasm::retry::ResponseHints;
use hf_inference_wasm::ErrorKind;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const UP: &str = "together";

fn limiter(o: RateLimitOptions) -> Limiter {
    Limiter::new(o).unwrap_or_else(|e| panic!("{e:?}"))
}

fn rpm(n: u32) -> RateLimitOptions {
    RateLimitOptions {
        requests_per_minute: Some(n),
        ..RateLimitOptions::default()
    }
}

fn tpm(n: u64) -> RateLimitOptions {
    RateLimitOptions {
        tokens_per_minute: Some(n),
        ..RateLimitOptions::default()
    }
}

fn admit(l: &mut Limiter, tokens: u64, now: u64) -> Permit {
    match l.acquire(tokens, UP, now) {
        Acquire::Admit(p) => p,
        other => panic!("not admitted at {now}: {other:?}"),
    }
}

fn queue(l: &mut Limiter, tokens: u64, upstream: &str, now: u64) -> Ticket {
    match l.acquire(tokens, upstream, now) {
        Acquire::Queued(t) => t,
        other => panic!("not queued at {now}: {other:?}"),
    }
}

fn tickets(p: &Pump) -> Vec<Ticket> {
    p.admitted.iter().map(|(t, _)| *t).collect()
}

fn release_all(l: &mut Limiter, p: Pump, now: u64) {
    for (_, permit) in p.admitted {
        l.release(permit, None, now);
    }
}

// ---------------------------------------------------------------------------------------
// Requests per minute
// ---------------------------------------------------------------------------------------

#[test]
fn a_full_bucket_lets_a_minutes_quota_go_at_once() {
    let mut l = limiter(rpm(3));
    for _ in 0..3 {
        let p = admit(&mut l, 0, 0);
        l.release(p, None, 0);
    }
    assert!(matches!(l.acquire(0, UP, 0), Acquire::Queued(_)));
}

#[test]
fn the_bucket_refills_one_request_per_interval() {
    // 6 per minute: one every 10 s.
    let mut l = limiter(rpm(6));
    for _ in 0..6 {
        let p = admit(&mut l, 0, 0);
        l.release(p, None, 0);
    }
    let t = queue(&mut l, 0, UP, 1000);
    let p = l.pump(1000);
    assert!(p.admitted.is_empty());
    assert_eq!(p.wake_at_ms, Some(10_000), "refilled at 10 s");
    assert!(l.pump(9_999).admitted.is_empty());
    let p = l.pump(10_000);
    assert_eq!(tickets(&p), vec![t]);
    assert_eq!(p.wake_at_ms, None, "nobody else waits");
}

#[test]
fn an_idle_bucket_does_not_save_more_than_a_minute() {
    let mut l = limiter(rpm(2));
    let _ = admit(&mut l, 0, 0);
    // An hour idle: still only two at once.
    let _ = admit(&mut l, 0, 3_600_000);
    let _ = admit(&mut l, 0, 3_600_000);
    assert!(matches!(l.acquire(0, UP, 3_600_000), Acquire::Queued(_)));
    assert_eq!(l.snapshot(3_600_000).requests_available, Some(0));
}

// ---------------------------------------------------------------------------------------
// Tokens per minute
// ---------------------------------------------------------------------------------------

#[test]
fn token_reservations_hold_back_calls_until_refilled() {
    // 600 tokens a minute: 10 a second.
    let mut l = limiter(tpm(600));
    let _a = admit(&mut l, 500, 0);
    let t = queue(&mut l, 200, UP, 0);
    let p = l.pump(0);
    // 100 left; 100 more arrive in 10 s.
    assert_eq!(p.wake_at_ms, Some(10_000));
    assert_eq!(tickets(&l.pump(10_000)), vec![t]);
}

#[test]
fn release_gives_back_unused_tokens() {
    let mut l = limiter(tpm(600));
    let a = admit(&mut l, 500, 0);
    let t = queue(&mut l, 400, UP, 0);
    assert!(l.pump(0).admitted.is_empty());
    // The call used 100 of its 500: 400 come back, and the waiter fits at once.
    l.release(a, Some(100), 0);
    assert_eq!(tickets(&l.pump(0)), vec![t]);
}

#[test]
fn release_takes_tokens_used_beyond_the_reservation() {
    let mut l = limiter(tpm(600));
    let a = admit(&mut l, 100, 0);
    l.release(a, Some(600), 0);
    assert_eq!(l.snapshot(0).tokens_available, Some(0));
    let _ = queue(&mut l, 60, UP, 0);
    assert_eq!(l.pump(0).wake_at_ms, Some(6_000));
}

#[test]
fn unknown_usage_keeps_the_reservation() {
    let mut l = limiter(tpm(600));
    let a = admit(&mut l, 300, 0);
    l.release(a, None, 0);
    assert_eq!(l.snapshot(0).tokens_available, Some(300));
}

#[test]
fn a_call_bigger_than_the_bucket_goes_when_it_is_full() {
    let mut l = limiter(tpm(600));
    let _ = admit(&mut l, 300, 0);
    let big = queue(&mut l, 5000, UP, 0);
    // Full again at 30 s: it goes then, rather than never.
    assert_eq!(l.pump(0).wake_at_ms, Some(30_000));
    assert_eq!(tickets(&l.pump(30_000)), vec![big]);
    // And leaves the bucket 4400 tokens in debt: the next call waits until it is paid
    // off (440 s at 10 a second) and its own token has come (0.1 s).
    let _ = queue(&mut l, 1, UP, 30_000);
    let p = l.pump(30_000);
    assert!(p.admitted.is_empty());
    assert_eq!(p.wake_at_ms, Some(30_000 + 440_000 + 100));
}

// ---------------------------------------------------------------------------------------
// FIFO and the queue
// ---------------------------------------------------------------------------------------

#[test]
fn a_later_small_call_does_not_overtake_an_earlier_big_one() {
    let mut l = limiter(tpm(600));
    let _ = admit(&mut l, 550, 0);
    let big = queue(&mut l, 400, UP, 0);
    // 50 tokens are free, enough for this one, but it must wait behind `big`.
    let small = queue(&mut l, 10, UP, 0);
    let p = l.pump(0);
    assert!(p.admitted.is_empty());
    assert_eq!(p.wake_at_ms, Some(35_000));
    let p = l.pump(35_000);
    assert_eq!(tickets(&p), vec![big]);
    assert_eq!(p.wake_at_ms, Some(36_000));
    assert_eq!(tickets(&l.pump(36_000)), vec![small]);
}

#[test]
fn calls_that_fit_together_are_admitted_together_in_order() {
    let mut l = limiter(rpm(2));
    let _ = admit(&mut l, 0, 0);
    let _ = admit(&mut l, 0, 0);
    let a = queue(&mut l, 0, UP, 0);
    let b = queue(&mut l, 0, UP, 0);
    let c = queue(&mut l, 0, UP, 0);
    // After a minute the bucket is full again: two go, in order.
    let p = l.pump(60_000);
    assert_eq!(tickets(&p), vec![a, b]);
    assert_eq!(p.wake_at_ms, Some(90_000));
    assert_eq!(tickets(&l.pump(90_000)), vec![c]);
}

#[test]
fn a_full_queue_rejects_with_rate_limited() {
    let mut l = limiter(RateLimitOptions {
        max_queue: 2,
        ..rpm(1)
    });
    let _ = admit(&mut l, 0, 0);
    let _ = queue(&mut l, 0, UP, 0);
    let _ = queue(&mut l, 0, UP, 0);
    let Acquire::Reject(e) = l.acquire(0, UP, 1000) else {
        panic!("not rejected");
    };
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.kind.as_str(), "rate_limited");
    assert_eq!(e.code.as_deref(), Some(QUEUE_FULL_CODE));
    assert!(e.retryable);
    assert!(
        e.message.contains("2 calls are already waiting"),
        "{}",
        e.message
    );
    assert!(e.message.contains("`rateLimit.maxQueue`"), "{}", e.message);
    assert_eq!(l.queued(), 2, "the rejected call is not queued");
}

#[test]
fn no_queue_rejects_any_call_that_would_wait_and_says_when() {
    let mut l = limiter(RateLimitOptions {
        max_queue: 0,
        ..rpm(1)
    });
    let _ = admit(&mut l, 0, 0);
    let Acquire::Reject(e) = l.acquire(0, UP, 15_000) else {
        panic!("not rejected");
    };
    assert!(e.message.contains("in about 45 s"), "{}", e.message);
}

#[test]
fn a_cancelled_waiter_leaves_the_queue_and_unblocks_those_behind() {
    let mut l = limiter(tpm(600));
    let _ = admit(&mut l, 550, 0);
    let big = queue(&mut l, 400, UP, 0);
    let small = queue(&mut l, 10, UP, 0);
    assert!(l.pump(0).admitted.is_empty());
    assert!(l.cancel(big));
    assert!(!l.cancel(big), "only once");
    assert_eq!(tickets(&l.pump(0)), vec![small]);
    assert_eq!(l.queued(), 0);
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[test]
fn concurrency_slots_are_freed_by_release() {
    let mut l = limiter(RateLimitOptions {
        max_concurrent: Some(2),
        ..RateLimitOptions::default()
    });
    let a = admit(&mut l, 0, 0);
    let _b = admit(&mut l, 0, 0);
    let t = queue(&mut l, 0, UP, 0);
    let p = l.pump(5_000);
    assert!(p.admitted.is_empty());
    assert_eq!(p.wake_at_ms, None, "only a release frees a slot");
    l.release(a, None, 6_000);
    assert_eq!(l.in_flight(), 1);
    assert_eq!(tickets(&l.pump(6_000)), vec![t]);
    assert_eq!(l.in_flight(), 2);
}

// ---------------------------------------------------------------------------------------
// 429 pauses
// ---------------------------------------------------------------------------------------

fn retry_after(ms: f64) -> ResponseHints {
    ResponseHints {
        retry_after_ms: Some(ms),
        should_retry: None,
    }
}

#[test]
fn a_429_pauses_its_upstream_for_the_retry_after() {
    let mut l = limiter(RateLimitOptions::default());
    assert_eq!(l.on_rate_limited(UP, &retry_after(2_000.0), 1_000), 2_000);
    assert_eq!(l.paused_until(UP, 1_000), Some(3_000));
    let t = queue(&mut l, 0, UP, 1_500);
    let p = l.pump(1_500);
    assert!(p.admitted.is_empty());
    assert_eq!(p.wake_at_ms, Some(3_000));
    assert_eq!(tickets(&l.pump(3_000)), vec![t]);
    assert_eq!(l.paused_until(UP, 3_000), None);
}

#[test]
fn a_paused_upstream_does_not_hold_up_the_others() {
    let mut l = limiter(RateLimitOptions::default());
    let _ = l.on_rate_limited(UP, &retry_after(10_000.0), 0);
    let waiting = queue(&mut l, 0, UP, 0);
    let Acquire::Admit(_) = l.acquire(0, "groq", 1) else {
        panic!("another upstream should go");
    };
    let p = l.pump(10_000);
    assert_eq!(tickets(&p), vec![waiting]);
}

#[test]
fn queued_calls_for_a_paused_upstream_keep_their_order_when_it_resumes() {
    let mut l = limiter(RateLimitOptions {
        max_concurrent: Some(1),
        ..RateLimitOptions::default()
    });
    let running = admit(&mut l, 0, 0);
    let first = queue(&mut l, 0, UP, 0);
    let second = queue(&mut l, 0, UP, 0);
    let _ = l.on_rate_limited(UP, &retry_after(1_000.0), 0);
    l.release(running, None, 500);
    assert!(l.pump(500).admitted.is_empty(), "paused");
    let p = l.pump(1_000);
    assert_eq!(tickets(&p), vec![first]);
    release_all(&mut l, p, 1_001);
    assert_eq!(tickets(&l.pump(1_001)), vec![second]);
}

#[test]
fn a_429_without_retry_after_pauses_the_default_and_long_ones_are_capped() {
    let mut l = limiter(RateLimitOptions {
        default_pause_ms: 750,
        max_pause_ms: 5_000,
        ..RateLimitOptions::default()
    });
    assert_eq!(l.on_rate_limited(UP, &ResponseHints::default(), 0), 750);
    assert_eq!(l.on_rate_limited("b", &retry_after(3_600_000.0), 0), 5_000);
    assert_eq!(l.on_rate_limited("c", &retry_after(f64::NAN), 0), 750);
    assert_eq!(l.on_rate_limited("d", &retry_after(-5.0), 0), 750);
    assert_eq!(
        l.on_rate_limited("e", &retry_after(0.4), 0),
        1,
        "rounded up"
    );
}

#[test]
fn a_shorter_pause_never_shortens_a_longer_one() {
    let mut l = limiter(RateLimitOptions::default());
    let _ = l.on_rate_limited(UP, &retry_after(10_000.0), 0);
    let _ = l.on_rate_limited(UP, &retry_after(1_000.0), 100);
    assert_eq!(l.paused_until(UP, 100), Some(10_000));
}

#[test]
fn the_pause_map_is_bounded() {
    let mut l = limiter(RateLimitOptions {
        max_upstreams: 3,
        ..RateLimitOptions::default()
    });
    for (i, up) in ["a", "b", "c", "d"].iter().enumerate() {
        l.pause(up, 10_000 + i as u64, 0);
    }
    let paused = l.snapshot(0).paused;
    assert_eq!(paused.len(), 3);
    // The one ending soonest ("a") was forgotten.
    assert_eq!(
        paused.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["b", "c", "d"]
    );
    // Expired pauses make room first.
    l.pause("e", 20_000, 10_002);
    assert_eq!(l.snapshot(10_002).paused.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Options and clock
// ---------------------------------------------------------------------------------------

#[test]
fn zero_limits_are_input_errors_naming_the_option() {
    for (o, name) in [
        (rpm(0), "requestsPerMinute"),
        (tpm(0), "tokensPerMinute"),
        (tpm(u64::MAX), "tokensPerMinute"),
        (
            RateLimitOptions {
                max_concurrent: Some(0),
                ..RateLimitOptions::default()
            },
            "maxConcurrent",
        ),
    ] {
        let e = Limiter::new(o).expect_err(name);
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains(name), "{}", e.message);
    }
}

#[test]
fn no_limits_admit_everything() {
    let mut l = limiter(RateLimitOptions::default());
    for i in 0..1000 {
        let _ = admit(&mut l, u64::MAX, i);
    }
    assert_eq!(l.in_flight(), 1000);
}

#[test]
fn a_clock_going_backwards_counts_as_the_latest_time() {
    let mut l = limiter(rpm(1));
    let _ = admit(&mut l, 0, 60_000);
    let t = queue(&mut l, 0, UP, 0);
    let p = l.pump(0);
    assert_eq!(p.wake_at_ms, Some(120_000));
    assert_eq!(tickets(&l.pump(120_000)), vec![t]);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Call { tokens: u64, upstream: u8 },
    Finish { index: usize, actual: Option<u64> },
    Cancel { index: usize },
    RateLimited { upstream: u8, ms: u32 },
    Wait { ms: u32 },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..400, 0u8..3).prop_map(|(tokens, upstream)| Op::Call { tokens, upstream }),
        3 => (any::<usize>(), proptest::option::of(0u64..800))
            .prop_map(|(index, actual)| Op::Finish { index, actual }),
        1 => any::<usize>().prop_map(|index| Op::Cancel { index }),
        1 => (0u8..3, 0u32..5_000).prop_map(|(upstream, ms)| Op::RateLimited { upstream, ms }),
        3 => (0u32..20_000).prop_map(|ms| Op::Wait { ms }),
    ]
}

proptest! {
    /// A shell that obeys the limiter: every limit holds at every step, and calls for
    /// the same upstream are admitted in the order they arrived.
    #[test]
    fn limits_hold_and_order_is_kept_for_any_sequence(
        ops in proptest::collection::vec(arb_op(), 1..150),
        max_queue in 0usize..6,
    ) {
        let opts = RateLimitOptions {
            requests_per_minute: Some(20),
            tokens_per_minute: Some(1_000),
            max_concurrent: Some(3),
            max_queue,
            ..RateLimitOptions::default()
        };
        let mut l = limiter(opts);
        let mut now = 0u64;
        let mut running: Vec<Permit> = Vec::new();
        let mut waiting: Vec<(Ticket, u8)> = Vec::new();
        let mut admitted_at: Vec<u64> = Vec::new();
        let mut order: Vec<(u8, u64)> = Vec::new(); // (upstream, arrival seq) as admitted
        let mut arrivals: std::collections::HashMap<Ticket, u64> = Default::default();
        let mut seq = 0u64;
        let ups = ["a", "b", "c"];
        for op in ops {
            match op {
                Op::Call { tokens, upstream } => {
                    seq += 1;
                    match l.acquire(tokens, ups[upstream as usize], now) {
                        Acquire::Admit(p) => {
                            running.push(p);
                            admitted_at.push(now);
                            order.push((upstream, seq));
                        }
                        Acquire::Queued(t) => {
                            waiting.push((t, upstream));
                            arrivals.insert(t, seq);
                        }
                        Acquire::Reject(e) => prop_assert_eq!(e.kind, ErrorKind::RateLimited),
                    }
                }
                Op::Finish { index, actual } => {
                    if !running.is_empty() {
                        let p = running.swap_remove(index % running.len());
                        l.release(p, actual, now);
                    }
                }
                Op::Cancel { index } => {
                    if !waiting.is_empty() {
                        let (t, _) = waiting.remove(index % waiting.len());
                        prop_assert!(l.cancel(t));
                    }
                }
                Op::RateLimited { upstream, ms } => {
                    let _ = l.on_rate_limited(ups[upstream as usize], &retry_after(f64::from(ms)), now);
                }
                Op::Wait { ms } => now += u64::from(ms),
            }
            let p = l.pump(now);
            if let Some(at) = p.wake_at_ms {
                prop_assert!(at > now, "wake {} not after now {}", at, now);
            }
            for (t, permit) in p.admitted {
                let pos = waiting.iter().position(|(w, _)| *w == t);
                prop_assert!(pos.is_some(), "admitted a ticket that was not waiting");
                let (_, upstream) = waiting.remove(pos.unwrap_or(0));
                running.push(permit);
                admitted_at.push(now);
                order.push((upstream, arrivals[&t]));
            }
            prop_assert!(l.queued() <= max_queue);
            prop_assert_eq!(l.queued(), waiting.len());
            prop_assert!(l.in_flight() <= 3);
            prop_assert_eq!(l.in_flight() as usize, running.len());
            // At most a full bucket (20) plus the refill (20 a minute) up to now.
            let allowed = 20 + now / 3_000;
            prop_assert!(admitted_at.len() as u64 <= allowed, "{} admitted by {}", admitted_at.len(), now);
        }
        for up in 0..3u8 {
            let seqs: Vec<u64> = order.iter().filter(|(u, _)| *u == up).map(|(_, s)| *s).collect();
            prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "upstream {} out of order: {:?}", up, seqs);
        }
    }
}

proptest! {
    /// Hostile numbers (huge estimates, reconciliations and clocks) never panic, and a
    /// limiter keeps answering.
    #[test]
    fn extreme_values_never_panic(
        steps in proptest::collection::vec((any::<u64>(), any::<u64>(), proptest::option::of(any::<u64>()), any::<f64>()), 1..60),
        tpm in 1u64..=1_000_000_000_000,
        rpm in 1u32..=u32::MAX,
    ) {
        let mut l = limiter(RateLimitOptions {
            requests_per_minute: Some(rpm),
            tokens_per_minute: Some(tpm),
            max_concurrent: Some(2),
            max_queue: 4,
            ..RateLimitOptions::default()
        });
        for (tokens, now, actual, asked) in steps {
            if let Acquire::Admit(p) = l.acquire(tokens, UP, now) {
                l.release(p, actual, now);
            }
            let _ = l.on_rate_limited(UP, &retry_after(asked), now);
            let p = l.pump(now);
            release_all(&mut l, p, now);
            let _ = l.snapshot(now);
        }
    }
}
