//! The retry policy, circuit breaker and fallback rule, one behaviour per test: which
//! failures are retried and after how long, what the server's headers change, how the
//! budget and `max_retries` stop a call, the error finally surfaced, the breaker's
//! states, and when to move to another target. Properties: bounds hold for any failure
//! sequence and clock, and no header value panics.
// Native only: uses proptest; the wasm layer is tests/wasm_fetch.rs.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::error::{Error, ErrorKind, TimeoutKind};
use hf_inference_wasm::retry::{
    breaker_outcome, circuit_open_error, next_target, Admit, Attempt, Breaker, BreakerOptions,
    BreakerState, Breakers, Decision, GiveUpReason, Outcome, ResponseHints, RetryOptions,
    RetryState, CIRCUIT_OPEN_CODE,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Options without jitter, so delays are exact.
fn exact() -> RetryOptions {
    RetryOptions {
        jitter: 0.0,
        ..RetryOptions::default()
    }
}

fn none() -> ResponseHints {
    ResponseHints::default()
}

fn hints(headers: &[(&str, &str)]) -> ResponseHints {
    ResponseHints::from_headers(headers.iter().copied(), NOW)
}

/// A Unix epoch time: 2024-01-01T00:00:00Z.
const NOW: f64 = 1_704_067_200_000.0;

/// The decision for one failure of a fresh call.
fn first(error: &Error, h: &ResponseHints) -> Decision {
    RetryState::new(exact(), 0.0).on_failure(error, h, false, 0.0, 0.0)
}

fn retried(error: &Error) -> bool {
    matches!(first(error, &none()), Decision::Retry { .. })
}

fn give_up(reason: GiveUpReason) -> Decision {
    Decision::GiveUp { reason }
}

fn retry_after(after_ms: u64) -> Decision {
    Decision::Retry { after_ms }
}

/// The delay a failure with these headers gets on a fresh call.
fn delay_for(headers: &[(&str, &str)]) -> Decision {
    first(&Error::http(503, ""), &hints(headers))
}

fn body_network_error() -> Error {
    let mut e = Error::network("the connection was lost while reading the body");
    e.retryable = false;
    e
}

// ---------------------------------------------------------------------------------------
// What is retried
// ---------------------------------------------------------------------------------------

#[test]
fn retries_408_409_and_429() {
    for status in [408, 409, 429] {
        assert!(retried(&Error::http(status, "")), "{status}");
    }
}

#[test]
fn retries_every_5xx() {
    for status in [500, 501, 502, 503, 504, 507, 520, 599] {
        assert!(retried(&Error::http(status, "")), "{status}");
    }
}

#[test]
fn never_retries_client_errors() {
    for status in [400, 401, 402, 403, 404, 413, 422] {
        assert_eq!(
            first(&Error::http(status, ""), &none()),
            give_up(GiveUpReason::NotRetryable),
            "{status}"
        );
    }
}

#[test]
fn retries_a_network_error_before_the_response() {
    assert!(retried(&Error::network("connection refused")));
}

#[test]
fn never_retries_a_network_error_while_reading_the_body() {
    assert_eq!(
        first(&body_network_error(), &none()),
        give_up(GiveUpReason::NotRetryable)
    );
}

#[test]
fn retries_headers_and_first_chunk_timeouts() {
    assert!(retried(&Error::timeout(TimeoutKind::Headers, 100)));
    assert!(retried(&Error::timeout(TimeoutKind::FirstChunk, 100)));
}

#[test]
fn never_retries_idle_and_total_timeouts() {
    for kind in [TimeoutKind::Idle, TimeoutKind::Total] {
        assert!(!retried(&Error::timeout(kind, 100)), "{kind:?}");
    }
}

#[test]
fn never_retries_input_parse_stream_or_truncation_errors() {
    for e in [
        Error::input("bad option"),
        Error::new(ErrorKind::Parse, "bad json"),
        Error::new(ErrorKind::Stream, "error event"),
        Error::truncated("no [DONE]"),
    ] {
        assert!(!retried(&e), "{:?}", e.kind);
    }
}

#[test]
fn never_retries_a_user_abort() {
    assert_eq!(
        first(&Error::aborted(), &none()),
        give_up(GiveUpReason::NotRetryable)
    );
}

#[test]
fn never_retries_once_something_was_delivered() {
    let mut s = RetryState::new(exact(), 0.0);
    let d = s.on_failure(&Error::http(503, ""), &none(), true, 0.0, 0.0);
    assert_eq!(d, give_up(GiveUpReason::Delivered));
    let d = s.on_failure(&Error::network("reset"), &none(), true, 0.0, 0.0);
    assert_eq!(d, give_up(GiveUpReason::Delivered));
}

#[test]
fn never_retries_a_circuit_open_rejection() {
    assert!(!retried(&circuit_open_error("novita", 1000)));
}

#[test]
fn x_should_retry_true_retries_a_400() {
    let d = first(&Error::http(400, ""), &hints(&[("x-should-retry", "true")]));
    assert!(matches!(d, Decision::Retry { .. }), "{d:?}");
}

#[test]
fn x_should_retry_false_stops_a_503() {
    let d = first(
        &Error::http(503, ""),
        &hints(&[("X-Should-Retry", "FALSE")]),
    );
    assert_eq!(d, give_up(GiveUpReason::NotRetryable));
}

#[test]
fn x_should_retry_with_another_value_is_ignored() {
    assert_eq!(hints(&[("x-should-retry", "maybe")]).should_retry, None);
}

#[test]
fn never_retries_a_429_with_insufficient_quota() {
    let e = Error::http(
        429,
        r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
    );
    assert_eq!(first(&e, &none()), give_up(GiveUpReason::NotRetryable));
}

#[test]
fn never_retries_a_402_out_of_monthly_credits_even_if_the_server_says_retry() {
    let e = Error::http(
        402,
        r#"{"error":"You have Exceeded your monthly included credits for Inference Providers."}"#,
    );
    let d = first(&e, &hints(&[("x-should-retry", "true")]));
    assert_eq!(d, give_up(GiveUpReason::NotRetryable));
}

#[test]
fn never_retries_a_429_about_the_credit_balance() {
    let e = Error::http(429, "Your Credit Balance is too low");
    assert!(!retried(&e));
}

#[test]
fn retries_a_plain_rate_limit_429() {
    assert!(retried(&Error::http(
        429,
        r#"{"error":{"message":"Rate limit reached for requests","code":"rate_limit_exceeded"}}"#
    )));
}

// ---------------------------------------------------------------------------------------
// How long to wait
// ---------------------------------------------------------------------------------------

#[test]
fn retry_after_ms_is_honoured_and_rounded_up() {
    assert_eq!(
        delay_for(&[("retry-after-ms", "1500.2")]),
        retry_after(1501)
    );
}

#[test]
fn retry_after_ms_wins_over_retry_after() {
    assert_eq!(
        delay_for(&[("retry-after", "9"), ("retry-after-ms", "250")]),
        retry_after(250)
    );
}

#[test]
fn retry_after_seconds_may_be_fractional() {
    assert_eq!(delay_for(&[("Retry-After", "1.5")]), retry_after(1500));
}

#[test]
fn retry_after_http_date_in_the_future_waits_until_then() {
    // NOW is 2024-01-01T00:00:00Z.
    assert_eq!(
        delay_for(&[("retry-after", "Mon, 01 Jan 2024 00:00:07 GMT")]),
        retry_after(7000)
    );
}

#[test]
fn retry_after_http_date_in_the_past_means_now() {
    assert_eq!(
        delay_for(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
        retry_after(0)
    );
}

#[test]
fn retry_after_obsolete_date_forms_are_accepted() {
    for v in ["Monday, 01-Jan-24 00:00:03 GMT", "Mon Jan  1 00:00:03 2024"] {
        assert_eq!(delay_for(&[("retry-after", v)]), retry_after(3000), "{v}");
    }
}

#[test]
fn unusable_retry_after_falls_back_to_backoff() {
    for v in [
        "-5",
        "NaN",
        "soon",
        "1e3",
        "Sun, 31 Feb 2024 00:00:00 GMT",
        "",
    ] {
        assert_eq!(hints(&[("retry-after", v)]).retry_after_ms, None, "{v:?}");
        assert_eq!(delay_for(&[("retry-after", v)]), retry_after(500), "{v:?}");
    }
}

#[test]
fn ratelimit_header_t_parameter_is_honoured() {
    assert_eq!(
        delay_for(&[("RateLimit", r#""default";r=0;t=5"#)]),
        retry_after(5000)
    );
}

#[test]
fn ratelimit_header_reset_parameter_of_older_drafts_is_honoured() {
    assert_eq!(
        delay_for(&[("ratelimit", "limit=100, remaining=0, reset=3")]),
        retry_after(3000)
    );
}

#[test]
fn ratelimit_policy_with_requests_remaining_is_ignored() {
    assert_eq!(
        delay_for(&[("ratelimit", r#""default";r=50;t=30"#)]),
        retry_after(500)
    );
}

#[test]
fn separate_ratelimit_reset_header_is_honoured() {
    assert_eq!(
        delay_for(&[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "2")]),
        retry_after(2000)
    );
}

#[test]
fn x_ratelimit_reset_duration_in_minutes_and_seconds() {
    let h = hints(&[("x-ratelimit-reset-requests", "6m0s")]);
    assert_eq!(h.retry_after_ms, Some(360_000.0));
}

#[test]
fn x_ratelimit_reset_duration_in_milliseconds() {
    assert_eq!(
        delay_for(&[("x-ratelimit-reset-requests", "20ms")]),
        retry_after(20)
    );
}

#[test]
fn x_ratelimit_reset_small_number_is_seconds() {
    assert_eq!(delay_for(&[("x-ratelimit-reset", "2")]), retry_after(2000));
}

#[test]
fn x_ratelimit_reset_timestamp_is_not_a_delay() {
    assert_eq!(
        hints(&[("x-ratelimit-reset", "1704067260")]).retry_after_ms,
        None
    );
}

#[test]
fn x_ratelimit_reset_tokens_counts_only_when_tokens_ran_out() {
    let spent = hints(&[
        ("x-ratelimit-remaining-requests", "10"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("x-ratelimit-reset-tokens", "4s"),
    ]);
    assert_eq!(spent.retry_after_ms, Some(4000.0));
    let left = hints(&[("x-ratelimit-reset-tokens", "4s")]);
    assert_eq!(left.retry_after_ms, None);
}

#[test]
fn server_delay_gets_no_jitter() {
    let mut s = RetryState::new(RetryOptions::default(), 0.0);
    let d = s.on_failure(
        &Error::http(429, ""),
        &hints(&[("retry-after", "2")]),
        false,
        0.0,
        0.99,
    );
    assert_eq!(d, retry_after(2000));
}

#[test]
fn server_delay_longer_than_max_delay_is_still_honoured() {
    assert_eq!(delay_for(&[("retry-after", "20")]), retry_after(20_000));
}

#[test]
fn server_delay_above_the_cap_fails_fast_with_the_hint_in_the_message() {
    let mut s = RetryState::new(exact(), 0.0);
    let e = Error::http(429, "");
    let d = s.on_failure(&e, &hints(&[("retry-after", "120")]), false, 0.0, 0.0);
    let reason = GiveUpReason::ServerDelayTooLong { asked_ms: 120_000 };
    assert_eq!(d, give_up(reason));
    let f = s.final_error(e, &reason);
    assert!(
        f.message.contains("the server asked to wait 120 s"),
        "{}",
        f.message
    );
    assert!(f.message.starts_with("HTTP 429"), "{}", f.message);
    assert_eq!(f.status, Some(429));
}

#[test]
fn backoff_doubles_and_caps_at_max_delay() {
    let mut s = RetryState::new(
        RetryOptions {
            max_retries: 6,
            budget_ms: u64::MAX,
            ..exact()
        },
        0.0,
    );
    let e = Error::http(503, "");
    let delays: Vec<Decision> = (0..6)
        .map(|_| s.on_failure(&e, &none(), false, 0.0, 0.0))
        .collect();
    assert_eq!(
        delays,
        [500, 1000, 2000, 4000, 8000, 8000]
            .map(retry_after)
            .to_vec()
    );
}

#[test]
fn jitter_zero_sample_keeps_the_full_delay() {
    let mut s = RetryState::new(RetryOptions::default(), 0.0);
    let d = s.on_failure(&Error::http(503, ""), &none(), false, 0.0, 0.0);
    assert_eq!(d, retry_after(500));
}

#[test]
fn jitter_sample_near_one_takes_off_at_most_the_jitter_fraction() {
    let mut s = RetryState::new(RetryOptions::default(), 0.0);
    let d = s.on_failure(&Error::http(503, ""), &none(), false, 0.0, 0.999_999);
    assert_eq!(d, retry_after(250), "500 * (1 - 0.5 * ~1)");
}

#[test]
fn full_jitter_never_goes_negative() {
    let mut s = RetryState::new(
        RetryOptions {
            jitter: 1.0,
            ..RetryOptions::default()
        },
        0.0,
    );
    let d = s.on_failure(&Error::http(503, ""), &none(), false, 0.0, 5.0);
    assert_eq!(d, retry_after(0));
}

#[test]
fn budget_stops_a_retry_whose_sleep_would_overrun_it() {
    let mut s = RetryState::new(
        RetryOptions {
            budget_ms: 10_000,
            max_retries: 5,
            ..exact()
        },
        1_000.0,
    );
    let e = Error::http(503, "");
    assert_eq!(
        s.on_failure(&e, &none(), false, 2_000.0, 0.0),
        retry_after(500)
    );
    // 9_000 ms spent; the next sleep (1_000) would end exactly at the budget: allowed.
    assert_eq!(
        s.on_failure(&e, &none(), false, 10_000.0, 0.0),
        retry_after(1000)
    );
    // 9_500 ms spent; 2_000 more would pass it.
    assert_eq!(
        s.on_failure(&e, &none(), false, 10_500.0, 0.0),
        give_up(GiveUpReason::Budget)
    );
}

#[test]
fn budget_counts_the_sleeps_even_when_the_clock_lags() {
    let mut s = RetryState::new(
        RetryOptions {
            budget_ms: 1_000,
            max_retries: 5,
            ..exact()
        },
        0.0,
    );
    let e = Error::http(503, "");
    assert_eq!(s.on_failure(&e, &none(), false, 0.0, 0.0), retry_after(500));
    assert_eq!(
        s.on_failure(&e, &none(), false, 0.0, 0.0),
        give_up(GiveUpReason::Budget)
    );
}

#[test]
fn budget_final_error_says_why_it_stopped() {
    let mut s = RetryState::new(
        RetryOptions {
            budget_ms: 30_000,
            ..exact()
        },
        0.0,
    );
    let e = Error::http(503, "");
    let d = s.on_failure(&e, &hints(&[("retry-after", "45")]), false, 0.0, 0.0);
    assert_eq!(d, give_up(GiveUpReason::Budget));
    let m = s.final_error(e, &GiveUpReason::Budget).message;
    assert!(m.contains("the server asked to wait 45 s"), "{m}");
    assert!(m.contains("30 s retry budget"), "{m}");
}

#[test]
fn max_retries_zero_turns_retrying_off() {
    let mut s = RetryState::new(
        RetryOptions {
            max_retries: 0,
            ..exact()
        },
        0.0,
    );
    let d = s.on_failure(&Error::http(503, ""), &none(), false, 0.0, 0.0);
    assert_eq!(d, give_up(GiveUpReason::Exhausted));
}

#[test]
fn gives_up_after_max_retries() {
    let mut s = RetryState::new(exact(), 0.0);
    let e = Error::http(503, "");
    assert!(matches!(
        s.on_failure(&e, &none(), false, 0.0, 0.0),
        Decision::Retry { .. }
    ));
    assert!(matches!(
        s.on_failure(&e, &none(), false, 600.0, 0.0),
        Decision::Retry { .. }
    ));
    assert_eq!(
        s.on_failure(&e, &none(), false, 1700.0, 0.0),
        give_up(GiveUpReason::Exhausted)
    );
    assert_eq!(s.retries(), 2);
    assert_eq!(s.slept_ms(), 1500);
}

// ---------------------------------------------------------------------------------------
// What the caller finally sees
// ---------------------------------------------------------------------------------------

#[test]
fn attempts_record_status_kind_code_and_delay() {
    let mut s = RetryState::new(exact(), 0.0);
    let _ = s.on_failure(&Error::network("refused"), &none(), false, 0.0, 0.0);
    let _ = s.on_failure(
        &Error::timeout(TimeoutKind::Headers, 100),
        &none(),
        false,
        600.0,
        0.0,
    );
    let _ = s.on_failure(
        &Error::http(503, r#"{"error":{"message":"busy","code":"overloaded"}}"#),
        &none(),
        false,
        1700.0,
        0.0,
    );
    assert_eq!(
        s.attempts(),
        [
            Attempt {
                status: None,
                kind: ErrorKind::Network,
                timeout: None,
                code: None,
                delay_ms: Some(500),
            },
            Attempt {
                status: None,
                kind: ErrorKind::Timeout,
                timeout: Some(TimeoutKind::Headers),
                code: None,
                delay_ms: Some(1000),
            },
            Attempt {
                status: Some(503),
                kind: ErrorKind::Http,
                timeout: None,
                code: Some("overloaded".to_owned()),
                delay_ms: None,
            },
        ]
    );
}

#[test]
fn final_error_summarizes_several_attempts() {
    let mut s = RetryState::new(exact(), 0.0);
    let e = Error::http(503, "").with_request_id(Some("req-1".to_owned()));
    let mut reason = None;
    for _ in 0..3 {
        if let Decision::GiveUp { reason: r } = s.on_failure(&e, &none(), false, 0.0, 0.0) {
            reason = Some(r);
        }
    }
    assert_eq!(reason, Some(GiveUpReason::Exhausted));
    let f = s.final_error(e.clone(), &GiveUpReason::Exhausted);
    assert!(
        f.message
            .ends_with("(gave up after 3 attempts: 503, 503, 503)"),
        "{}",
        f.message
    );
    assert_eq!(
        f.request_id.as_deref(),
        Some("req-1"),
        "other fields are kept"
    );
    assert_eq!(f.retryable, e.retryable);
}

#[test]
fn final_error_labels_network_and_timeout_attempts() {
    let mut s = RetryState::new(exact(), 0.0);
    let _ = s.on_failure(&Error::network("x"), &none(), false, 0.0, 0.0);
    let last = Error::timeout(TimeoutKind::FirstChunk, 10);
    let _ = s.on_failure(&last, &none(), false, 0.0, 0.0);
    let m = s.final_error(last, &GiveUpReason::Exhausted).message;
    assert!(
        m.contains("after 2 attempts: network, firstChunk timeout"),
        "{m}"
    );
}

#[test]
fn final_error_after_one_attempt_is_the_error_itself() {
    let mut s = RetryState::new(exact(), 0.0);
    let e = Error::http(400, "bad");
    let _ = s.on_failure(&e, &none(), false, 0.0, 0.0);
    assert_eq!(s.final_error(e.clone(), &GiveUpReason::NotRetryable), e);
}

// ---------------------------------------------------------------------------------------
// Circuit breaker
// ---------------------------------------------------------------------------------------

fn breaker() -> Breaker {
    Breaker::new(BreakerOptions::default())
}

/// A breaker opened at `t` by consecutive failures.
fn opened_at(t: f64) -> Breaker {
    let mut b = breaker();
    for _ in 0..5 {
        b.on_failure(t);
    }
    b
}

#[test]
fn breaker_starts_closed_and_allows() {
    let mut b = breaker();
    assert_eq!(b.state(0.0), BreakerState::Closed);
    assert_eq!(b.admit(0.0), Admit::Allow);
}

#[test]
fn consecutive_failures_open_the_breaker() {
    let mut b = breaker();
    for _ in 0..4 {
        b.on_failure(0.0);
    }
    assert_eq!(b.state(0.0), BreakerState::Closed);
    b.on_failure(0.0);
    assert_eq!(
        b.state(0.0),
        BreakerState::Open {
            retry_in_ms: 30_000
        }
    );
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let mut b = breaker();
    for _ in 0..4 {
        b.on_failure(0.0);
    }
    b.on_success(0.0);
    for _ in 0..4 {
        b.on_failure(0.0);
    }
    assert_eq!(b.state(0.0), BreakerState::Closed);
    assert_eq!(b.consecutive_failures(), 4);
}

#[test]
fn failure_rate_opens_the_breaker_once_min_requests_are_seen() {
    let mut b = breaker();
    // Alternate: never 5 in a row, but half of the requests fail.
    for i in 0..9 {
        if i % 2 == 0 {
            b.on_failure(0.0);
        } else {
            b.on_success(0.0);
        }
    }
    assert_eq!(b.window(0.0), (9, 5));
    assert_eq!(b.state(0.0), BreakerState::Closed, "only 9 requests so far");
    b.on_success(0.0);
    b.on_failure(0.0);
    assert!(matches!(b.state(0.0), BreakerState::Open { .. }));
}

#[test]
fn failure_rate_below_the_threshold_keeps_the_breaker_closed() {
    let mut b = breaker();
    for i in 0..30 {
        if i % 3 == 0 {
            b.on_failure(0.0);
        } else {
            b.on_success(0.0);
        }
    }
    assert_eq!(b.state(0.0), BreakerState::Closed);
}

#[test]
fn open_breaker_rejects_with_a_decreasing_wait() {
    let mut b = opened_at(1_000.0);
    assert_eq!(
        b.admit(1_000.0),
        Admit::Reject {
            retry_in_ms: 30_000
        }
    );
    assert_eq!(
        b.admit(11_000.0),
        Admit::Reject {
            retry_in_ms: 20_000
        }
    );
    assert_eq!(b.admit(30_999.5), Admit::Reject { retry_in_ms: 1 });
}

#[test]
fn half_open_admits_exactly_one_probe() {
    let mut b = opened_at(0.0);
    assert_eq!(b.state(30_000.0), BreakerState::HalfOpen);
    assert_eq!(b.admit(30_000.0), Admit::Probe);
    assert_eq!(
        b.admit(30_001.0),
        Admit::Reject {
            retry_in_ms: 29_999
        }
    );
    assert_eq!(b.state(30_001.0), BreakerState::HalfOpen);
}

#[test]
fn probe_success_closes_the_breaker_and_resets_counters() {
    let mut b = opened_at(0.0);
    assert_eq!(b.admit(30_000.0), Admit::Probe);
    b.on_success(31_000.0);
    assert_eq!(b.state(31_000.0), BreakerState::Closed);
    assert_eq!(b.consecutive_failures(), 0);
    assert_eq!(b.window(31_000.0), (0, 0));
    assert_eq!(b.admit(31_000.0), Admit::Allow);
}

#[test]
fn probe_failure_reopens_for_a_fresh_open_period() {
    let mut b = opened_at(0.0);
    assert_eq!(b.admit(30_000.0), Admit::Probe);
    b.on_failure(32_000.0);
    assert_eq!(
        b.state(32_000.0),
        BreakerState::Open {
            retry_in_ms: 30_000
        }
    );
    assert_eq!(b.admit(61_999.0), Admit::Reject { retry_in_ms: 1 });
    assert_eq!(b.admit(62_000.0), Admit::Probe);
}

#[test]
fn a_cancelled_probe_frees_the_slot() {
    let mut b = opened_at(0.0);
    assert_eq!(b.admit(30_000.0), Admit::Probe);
    b.on_cancel(30_100.0);
    assert_eq!(b.admit(30_200.0), Admit::Probe);
}

#[test]
fn a_probe_never_answered_is_replaced_after_open_ms() {
    let mut b = opened_at(0.0);
    assert_eq!(b.admit(30_000.0), Admit::Probe);
    assert_eq!(b.admit(60_000.0), Admit::Probe);
}

#[test]
fn client_errors_do_not_count_against_the_breaker() {
    for status in [400, 401, 403, 404, 422] {
        assert_eq!(
            breaker_outcome(&Error::http(status, "")),
            Outcome::Success,
            "{status}"
        );
    }
    assert_eq!(breaker_outcome(&Error::aborted()), Outcome::Neutral);
    assert_eq!(breaker_outcome(&Error::input("x")), Outcome::Neutral);
    assert_eq!(
        breaker_outcome(&Error::http(
            429,
            r#"{"error":{"code":"insufficient_quota"}}"#
        )),
        Outcome::Success
    );
    let mut b = breaker();
    for _ in 0..20 {
        b.record(breaker_outcome(&Error::http(404, "")), 0.0);
        b.record(breaker_outcome(&Error::aborted()), 0.0);
    }
    assert_eq!(b.state(0.0), BreakerState::Closed);
    assert_eq!(b.consecutive_failures(), 0);
}

#[test]
fn upstream_failures_count_against_the_breaker() {
    for e in [
        Error::http(500, ""),
        Error::http(503, ""),
        Error::http(429, "slow down"),
        Error::network("reset"),
        body_network_error(),
        Error::timeout(TimeoutKind::Headers, 1),
        Error::timeout(TimeoutKind::FirstChunk, 1),
    ] {
        assert_eq!(breaker_outcome(&e), Outcome::Failure, "{}", e.message);
    }
    assert_eq!(
        breaker_outcome(&circuit_open_error("x", 1)),
        Outcome::Neutral,
        "a call never sent says nothing"
    );
}

#[test]
fn the_window_slides_and_old_failures_are_forgotten() {
    let mut b = Breaker::new(BreakerOptions {
        failure_threshold: 0,
        ..BreakerOptions::default()
    });
    for _ in 0..9 {
        b.on_failure(0.0);
    }
    assert_eq!(b.window(0.0), (9, 9));
    assert_eq!(b.window(61_000.0), (0, 0));
    b.on_failure(61_000.0);
    assert_eq!(
        b.state(61_000.0),
        BreakerState::Closed,
        "one failure in the window"
    );
}

#[test]
fn breaker_memory_is_bounded_however_many_requests() {
    let mut b = breaker();
    for i in 0..100_000u32 {
        b.on_success(f64::from(i));
    }
    let (requests, _) = b.window(100_000.0);
    assert!(requests <= 60_000, "{requests}");
    assert!(std::mem::size_of::<Breaker>() < 512);
}

#[test]
fn breakers_map_keeps_one_breaker_per_upstream() {
    let mut m = Breakers::new(BreakerOptions::default());
    for _ in 0..5 {
        m.record("together", Outcome::Failure, 0.0);
    }
    assert!(matches!(
        m.state("together", 0.0),
        BreakerState::Open { .. }
    ));
    assert_eq!(m.admit("novita", 0.0), Admit::Allow);
    assert!(matches!(m.admit("together", 1.0), Admit::Reject { .. }));
    assert_eq!(m.state("unknown", 0.0), BreakerState::Closed);
}

#[test]
fn breakers_map_is_bounded_and_evicts_the_least_recently_used_closed_one() {
    let mut m = Breakers::with_capacity(BreakerOptions::default(), 3);
    for _ in 0..5 {
        m.record("a", Outcome::Failure, 0.0);
    }
    let _ = m.admit("b", 0.0);
    let _ = m.admit("c", 0.0);
    let _ = m.admit("b", 0.0);
    let _ = m.admit("d", 0.0); // evicts c: a is open, b was used after c
    assert_eq!(m.len(), 3);
    let names: Vec<String> = m.snapshot(0.0).into_iter().map(|s| s.upstream).collect();
    assert_eq!(names, ["a", "b", "d"]);
    for i in 0..1000 {
        let _ = m.admit(&format!("u{i}"), 0.0);
    }
    assert_eq!(m.len(), 3);
    assert!(m.get("a").is_some(), "the open breaker is kept");
}

#[test]
fn snapshot_reports_state_and_counters() {
    let mut m = Breakers::new(BreakerOptions::default());
    m.record("hf", Outcome::Failure, 0.0);
    m.record("hf", Outcome::Failure, 0.0);
    m.record("hf", Outcome::Success, 0.0);
    m.record("hf", Outcome::Failure, 0.0);
    let snap = m.snapshot(0.0);
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].upstream, "hf");
    assert_eq!(snap[0].state, BreakerState::Closed);
    assert_eq!(snap[0].consecutive_failures, 1);
    assert_eq!((snap[0].window_requests, snap[0].window_failures), (4, 3));
}

#[test]
fn circuit_open_error_names_the_upstream_and_the_wait() {
    let e = circuit_open_error("fireworks-ai", 12_000);
    assert_eq!(e.kind, ErrorKind::CircuitOpen);
    assert_eq!(e.code.as_deref(), Some(CIRCUIT_OPEN_CODE));
    assert!(e.retryable);
    assert!(e.message.contains("fireworks-ai"), "{}", e.message);
    assert!(e.message.contains("12 s"), "{}", e.message);
}

// ---------------------------------------------------------------------------------------
// Fallback
// ---------------------------------------------------------------------------------------

#[test]
fn fallback_decision_table() {
    use GiveUpReason::*;
    let not_supported = Error::http(
        400,
        r#"{"error":{"message":"Model foo/bar is not supported by provider x","code":"model_not_supported"}}"#,
    );
    let rows: Vec<(&str, Error, GiveUpReason, bool, bool)> = vec![
        (
            "retries exhausted",
            Error::http(503, ""),
            Exhausted,
            false,
            true,
        ),
        ("budget spent", Error::http(502, ""), Budget, false, true),
        (
            "server asked too long",
            Error::http(429, ""),
            ServerDelayTooLong { asked_ms: 120_000 },
            false,
            true,
        ),
        (
            "circuit open",
            circuit_open_error("x", 1),
            NotRetryable,
            false,
            true,
        ),
        (
            "5xx told not to retry",
            Error::http(500, ""),
            NotRetryable,
            false,
            true,
        ),
        ("network", body_network_error(), NotRetryable, false, true),
        (
            "headers timeout",
            Error::timeout(TimeoutKind::Headers, 1),
            Exhausted,
            false,
            true,
        ),
        (
            "model not supported",
            not_supported,
            NotRetryable,
            false,
            true,
        ),
        (
            "model 404",
            Error::http(404, r#"{"error":"Model does not exist"}"#),
            NotRetryable,
            false,
            true,
        ),
        ("delivered", Error::http(503, ""), Delivered, true, false),
        (
            "delivered flag alone",
            Error::network("x"),
            Exhausted,
            true,
            false,
        ),
        ("user abort", Error::aborted(), NotRetryable, false, false),
        (
            "input error",
            Error::input("bad"),
            NotRetryable,
            false,
            false,
        ),
        (
            "unauthorized",
            Error::http(401, ""),
            NotRetryable,
            false,
            false,
        ),
        (
            "forbidden even if retried",
            Error::http(403, ""),
            Exhausted,
            false,
            false,
        ),
        (
            "plain 400",
            Error::http(400, r#"{"error":"messages: field required"}"#),
            NotRetryable,
            false,
            false,
        ),
        (
            "422",
            Error::http(422, "bad schema"),
            NotRetryable,
            false,
            false,
        ),
        (
            "quota",
            Error::http(402, "You have exceeded your monthly included credits"),
            NotRetryable,
            false,
            false,
        ),
        (
            "parse error",
            Error::new(ErrorKind::Parse, "bad json"),
            NotRetryable,
            false,
            false,
        ),
        (
            "idle timeout",
            Error::timeout(TimeoutKind::Idle, 1),
            NotRetryable,
            false,
            false,
        ),
    ];
    for (name, error, reason, delivered, expected) in rows {
        assert_eq!(next_target(&error, &reason, delivered), expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn any_error() -> impl Strategy<Value = Error> {
    prop_oneof![
        any::<u16>().prop_map(|s| Error::http(s, "")),
        prop::sample::select(vec![408u16, 429, 500, 502, 503, 504])
            .prop_map(|s| Error::http(s, "")),
        Just(Error::http(
            429,
            r#"{"error":{"code":"insufficient_quota"}}"#
        )),
        Just(Error::network("reset")),
        Just(Error::aborted()),
        prop::sample::select(vec![
            TimeoutKind::Headers,
            TimeoutKind::FirstChunk,
            TimeoutKind::Idle,
            TimeoutKind::Total,
        ])
        .prop_map(|k| Error::timeout(k, 1)),
    ]
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        0.0..1.0f64,
        0.0..200_000.0f64,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1.0),
    ]
}

fn any_hints() -> impl Strategy<Value = ResponseHints> {
    (
        proptest::option::of(any_f64()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(retry_after_ms, should_retry)| ResponseHints {
            retry_after_ms,
            should_retry,
        })
}

fn any_options() -> impl Strategy<Value = RetryOptions> {
    (
        0u32..6,
        0u64..3_000,
        0u64..20_000,
        0u64..60_000,
        any_f64(),
        0u64..100_000,
    )
        .prop_map(
            |(max_retries, base_delay_ms, max_delay_ms, budget_ms, jitter, max_server_delay_ms)| {
                RetryOptions {
                    max_retries,
                    base_delay_ms,
                    max_delay_ms,
                    budget_ms,
                    jitter,
                    max_server_delay_ms,
                }
            },
        )
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9.]{0,30}",
        "-?[0-9]{1,400}(\\.[0-9]{0,5})?",
        "[0-9]{1,3}(h|m|s|ms|us|µs|ns|x){1,3}[0-9]{0,3}",
        "[A-Za-z]{0,9},? [0-9]{1,3}[ -][A-Za-z]{3}[ -][0-9]{2,5} [0-9:]{0,9} (GMT|UTC|X)",
        "[\"a-z]{0,8}(;[rt]=[0-9.\\-]{0,5}){0,3}(, ?[a-z]{0,8}=[0-9\\-]{0,4}){0,3}",
        Just("NaN".to_owned()),
        Just("1e999".to_owned()),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "retry-after-ms",
            "Retry-After",
            "RateLimit",
            "ratelimit-reset",
            "ratelimit-remaining",
            "x-ratelimit-reset",
            "x-ratelimit-remaining",
            "x-ratelimit-reset-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-tokens",
            "x-ratelimit-remaining-tokens",
            "x-should-retry",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn retries_sleep_and_delays_stay_within_their_bounds(
        options in any_options(),
        start in any_f64(),
        steps in proptest::collection::vec(
            (any_error(), any_hints(), any::<bool>(), any_f64(), any_f64()),
            0..12,
        ),
    ) {
        let mut s = RetryState::new(options, start);
        let mut now = start;
        let mut retries = 0u32;
        let mut slept = 0u64;
        for (error, hints, delivered, step, rand01) in steps {
            now += step;
            let asked = hints
                .retry_after_ms
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| ms.ceil() as u64);
            if let Decision::Retry { after_ms } = s.on_failure(&error, &hints, delivered, now, rand01) {
                prop_assert!(!delivered);
                retries += 1;
                slept += after_ms;
                let honoured = asked.filter(|a| *a <= options.max_server_delay_ms).unwrap_or(0);
                prop_assert!(after_ms <= options.max_delay_ms.max(honoured), "{after_ms} {options:?} {hints:?}");
                if let Some(a) = asked {
                    prop_assert_eq!(after_ms, a, "a server delay is honoured exactly");
                }
            }
            prop_assert!(retries <= options.max_retries);
            prop_assert!(slept <= options.budget_ms);
            prop_assert_eq!(s.retries(), retries);
            prop_assert_eq!(s.slept_ms(), slept);
        }
    }

    #[test]
    fn no_header_value_panics_and_delays_are_usable(
        headers in proptest::collection::vec((header_name(), header_value()), 0..8),
        now in any_f64(),
    ) {
        let h = ResponseHints::from_headers(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            now,
        );
        if let Some(ms) = h.retry_after_ms {
            prop_assert!(ms.is_finite() && ms >= 0.0, "{ms}");
        }
        // Whatever came out, a retry state takes it without panicking.
        let _ = RetryState::new(RetryOptions::default(), now)
            .on_failure(&Error::http(503, ""), &h, false, now, 0.5);
    }

    #[test]
    fn breaker_never_panics_and_rejects_only_when_not_closed(
        events in proptest::collection::vec((0u8..4, any_f64()), 0..64),
        threshold in 0u32..6,
        min_requests in 0u32..12,
        rate in any_f64(),
        window_ms in 0u64..100_000,
        open_ms in 0u64..50_000,
    ) {
        let mut b = Breaker::new(BreakerOptions {
            failure_threshold: threshold,
            failure_rate: rate,
            window_ms,
            min_requests,
            open_ms,
        });
        for (what, now) in events {
            match what {
                0 => {
                    let closed = b.state(now) == BreakerState::Closed;
                    match b.admit(now) {
                        Admit::Allow => prop_assert!(closed),
                        Admit::Probe => prop_assert!(!closed),
                        Admit::Reject { retry_in_ms } => {
                            prop_assert!(!closed);
                            prop_assert!(retry_in_ms >= 1 && retry_in_ms <= open_ms);
                        }
                    }
                }
                1 => b.on_success(now),
                2 => b.on_failure(now),
                _ => b.on_cancel(now),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The auth proxy's answers (issue 13)
// ---------------------------------------------------------------------------------------

/// The body the proxy sends when the upstream refused its token.
const PROXY_AUTH_FAILED: &str = r#"{"error":{"message":"the upstream refused the proxy's token (HTTP 401): the proxy operator must check HF_TOKEN","type":"api_error","param":null,"code":"upstream_auth_failed"}}"#;

#[test]
fn the_proxys_auth_failure_is_not_retried_even_without_its_header() {
    let e = Error::http(502, PROXY_AUTH_FAILED);
    assert_eq!(e.code.as_deref(), Some("upstream_auth_failed"));
    // With the header the proxy sends, and without it (a browser hides headers that
    // CORS does not expose, a proxy in between may drop them).
    assert_eq!(
        first(&e, &hints(&[("x-should-retry", "false")])),
        give_up(GiveUpReason::NotRetryable)
    );
    assert_eq!(first(&e, &none()), give_up(GiveUpReason::NotRetryable));
    for code in ["upstream_invalid_response", "proxy_misconfigured"] {
        let body = PROXY_AUTH_FAILED.replace("upstream_auth_failed", code);
        assert!(!retried(&Error::http(502, &body)), "{code}");
    }
    // A plain 502 is still retried: only the codes are final.
    assert!(retried(&Error::http(
        502,
        r#"{"error":{"code":"bad_gateway"}}"#
    )));
}

#[test]
fn an_upstreams_should_retry_false_relayed_by_the_proxy_stops_retries_on_a_503() {
    let e = Error::http(503, r#"{"error":"overloaded"}"#);
    assert!(retried(&e));
    assert_eq!(
        first(&e, &hints(&[("x-should-retry", "false")])),
        give_up(GiveUpReason::NotRetryable)
    );
}

#[test]
fn health_json_lists_each_upstream_with_its_state_and_window() {
    let mut m = Breakers::new(BreakerOptions::default());
    for _ in 0..5 {
        m.record("together", Outcome::Failure, 0.0);
    }
    m.record("nov\"ita", Outcome::Success, 0.0);
    let text = hf_inference_wasm::retry::health_json(&m.snapshot(10.0));
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let list = v.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2, "{text}");
    let of = |name: &str| {
        list.iter()
            .find(|b| b["upstream"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    let open = of("together");
    assert_eq!(open["state"], "open");
    assert!(
        open["retryInMs"].as_u64().is_some_and(|ms| ms > 0),
        "{open}"
    );
    assert_eq!(open["consecutiveFailures"], 5);
    assert_eq!(open["windowFailures"], 5);
    let closed = of("nov\"ita");
    assert_eq!(closed["state"], "closed");
    assert!(closed.get("retryInMs").is_none());
    assert_eq!(closed["windowRequests"], 1);
    assert_eq!(hf_inference_wasm::retry::health_json(&[]), "[]");
}

#[test]
fn attempts_json_and_error_fields_json_carry_what_the_js_error_shows() {
    let mut e = Error::http(429, "slow down");
    e.code = Some("rate_limited".to_owned());
    e.request_id = Some("r\"1".to_owned());
    let v: serde_json::Value = serde_json::from_str(&e.fields_json()).unwrap_or_default();
    assert_eq!(v["kind"], "http");
    assert_eq!(v["status"], 429);
    assert_eq!(v["code"], "rate_limited");
    assert_eq!(v["requestId"], "r\"1");
    assert_eq!(v["retryable"], e.retryable);
    assert_eq!(v["body"], "slow down");
    for absent in ["provider", "timeout"] {
        assert!(v.get(absent).is_none(), "{absent}: {v}");
    }
    let t = Error::timeout(TimeoutKind::Idle, 300);
    let v: serde_json::Value = serde_json::from_str(&t.fields_json()).unwrap_or_default();
    assert_eq!(v["kind"], "timeout");
    assert_eq!(v["timeout"], "idle");
    assert!(v.get("status").is_none());

    let attempts = [
        Attempt {
            status: Some(503),
            kind: ErrorKind::Http,
            timeout: None,
            code: None,
            delay_ms: Some(250),
        },
        Attempt {
            status: None,
            kind: ErrorKind::Timeout,
            timeout: Some(TimeoutKind::Headers),
            code: Some("x".to_owned()),
            delay_ms: None,
        },
    ];
    let v: serde_json::Value =
        serde_json::from_str(&hf_inference_wasm::retry::attempts_json(&attempts))
            .unwrap_or_default();
    assert_eq!(
        v,
        serde_json::json!([
            { "status": 503, "kind": "http", "delayMs": 250 },
            { "kind": "timeout", "code": "x", "timeout": "headers" }
        ])
    );
}
