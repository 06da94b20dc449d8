//! The usage meter, one behaviour per test: latencies, pricing a record, totals by model
//! and provider (bounded), the bounded record ring, budgets over a sliding window (fail
//! fast with kind `budget`, say when they free up, alert once per crossing), and spike
//! detection (quiet at startup, fires on a spike, once per episode, re-arms). Properties:
//! steady traffic never looks like a spike, and no sequence of records makes a total
//! NaN or grows the meter past its bounds.
// Native only: uses proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::difficulty::Chosen;
use hf_inference_wasm::meter::{
    Alert, Budget, BudgetMetric, CallClock, CallOutcome, Latency, Meter, MeterOptions,
    RequestRecord, SpikeMetric, SpikeOptions, BUDGET_TOKENS_CODE, BUDGET_USD_CODE, OTHER_KEY,
    UNKNOWN_KEY,
};
use hf_inference_wasm::usage::{PriceTable, TokenUsage};
use hf_inference_wasm::ErrorKind;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn meter(o: MeterOptions) -> Meter {
    Meter::new(o).unwrap_or_else(|e| panic!("{e:?}"))
}

fn usage(p: u64, c: u64) -> TokenUsage {
    TokenUsage {
        prompt_tokens: Some(p),
        completion_tokens: Some(c),
        total_tokens: Some(p + c),
        ..TokenUsage::default()
    }
}

/// A completed call at `now` to `model` via `provider`, costing `usd` for `tokens`.
fn call(
    model: &str,
    provider: Option<&str>,
    tokens: u64,
    usd: Option<f64>,
    now: u64,
) -> RequestRecord {
    let mut r = RequestRecord::new(
        &CallClock::start(now),
        "together",
        CallOutcome::Completed,
        now,
    );
    r.model = Some(model.to_owned());
    r.provider = provider.map(str::to_owned);
    r.usage = Some(usage(tokens, 0));
    r.cost_usd = usd;
    r
}

fn spent(usd: f64, now: u64) -> RequestRecord {
    call("org/m", Some("together"), 10, Some(usd), now)
}

fn budget(usd: Option<f64>, tokens: Option<u64>, window_ms: Option<u64>) -> MeterOptions {
    MeterOptions {
        budget: Some(Budget {
            usd,
            tokens,
            window_ms,
        }),
        ..MeterOptions::default()
    }
}

fn spikes(alerts: &[Alert]) -> Vec<SpikeMetric> {
    alerts
        .iter()
        .filter_map(|a| match a {
            Alert::Spike(s) => Some(s.metric),
            Alert::BudgetExceeded(_) => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------

#[test]
fn the_call_clock_measures_headers_first_token_and_total() {
    let mut c = CallClock::start(1_000);
    c.headers(1_120);
    c.headers(1_500);
    c.first_token(1_300);
    assert_eq!(
        c.latency(2_000),
        Latency {
            headers_ms: Some(120),
            first_token_ms: Some(300),
            total_ms: Some(1_000),
        }
    );
    let fresh = CallClock::start(50);
    assert_eq!(
        fresh.latency(10),
        Latency {
            headers_ms: None,
            first_token_ms: None,
            total_ms: Some(0),
        },
        "a clock going backwards reads 0, not a wrap-around"
    );
}

#[test]
fn a_record_is_priced_from_its_model_provider_and_usage() {
    let prices = PriceTable::from_json(
        r#"{"org/m": {"input": 1, "output": 1}, "org/m:groq": {"input": 2, "output": 2}}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let r = call("org/m:fastest", Some("groq"), 1_000_000, None, 0).priced(&prices);
    assert_eq!(r.cost_usd, Some(2.0));
    assert_eq!(r.price_key.as_deref(), Some("org/m:groq"));
    let r = call("org/other", Some("groq"), 10, None, 0).priced(&prices);
    assert_eq!((r.cost_usd, r.price_key), (None, None), "no price, no cost");
}

#[test]
fn a_cache_hit_costs_nothing() {
    let prices = PriceTable::from_json(r#"{"org/m": {"input": 1, "output": 1}}"#)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut r = call("org/m", None, 1_000_000, None, 0);
    r.cache_hit = true;
    r.attempts = 0;
    let r = r.priced(&prices);
    assert_eq!(r.cost_usd, Some(0.0));
    let mut m = meter(MeterOptions::default());
    let _ = m.record(r, 0);
    let t = m.snapshot(0).total;
    assert_eq!((t.requests, t.cache_hits, t.total_tokens), (1, 1, 0));
    assert_eq!(t.cost_usd, 0.0);
}

#[test]
fn records_carry_route_attempts_rule_and_a_sequence() {
    let mut m = meter(MeterOptions::default());
    let mut r = call("org/small", Some("together"), 5, Some(0.01), 10);
    r.attempts = 3;
    r.rule = Some(Chosen {
        index: 0,
        model: "org/small".to_owned(),
        provider: None,
        prompt_tokens: 5,
    });
    let _ = m.record(r, 20);
    let _ = m.record(spent(0.0, 30), 30);
    let recs: Vec<&RequestRecord> = m.records().collect();
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].seq, recs[1].seq), (1, 2));
    assert_eq!(recs[0].attempts, 3);
    assert_eq!(recs[0].url_key, "together");
    assert_eq!(recs[0].rule.as_ref().map(|c| c.index), Some(0));
    assert_eq!(m.last_record().map(|r| r.seq), Some(2));
}

#[test]
fn the_record_ring_is_bounded() {
    let mut m = meter(MeterOptions {
        max_records: 3,
        ..MeterOptions::default()
    });
    for i in 0..10 {
        let _ = m.record(spent(0.0, i), i);
    }
    let seqs: Vec<u64> = m.records().map(|r| r.seq).collect();
    assert_eq!(seqs, [8, 9, 10]);
    assert_eq!(
        m.snapshot(10).total.requests,
        10,
        "totals still count every call"
    );
    assert_eq!(m.last_record().map(|r| r.seq), Some(10));
    // Wrapped part-way round: oldest first still, the newest last.
    let _ = m.record(spent(0.0, 10), 10);
    let seqs: Vec<u64> = m.records().map(|r| r.seq).collect();
    assert_eq!(seqs, [9, 10, 11]);
    assert_eq!(m.last_record().map(|r| r.seq), Some(11));
    m.reset();
    assert_eq!(m.records().count(), 0);
    assert!(m.last_record().is_none());
    let _ = m.record(spent(0.0, 11), 11);
    assert_eq!(m.records().count(), 1);
}

#[test]
fn the_ring_keeps_the_latest_records_oldest_first() {
    for max in 0..6usize {
        for n in 0..20u64 {
            let mut m = meter(MeterOptions {
                max_records: max,
                ..MeterOptions::default()
            });
            for i in 0..n {
                let _ = m.record(spent(0.0, i), i);
            }
            let kept = (n as usize).min(max) as u64;
            let want: Vec<u64> = (n - kept + 1..=n).collect();
            let seqs: Vec<u64> = m.records().map(|r| r.seq).collect();
            assert_eq!(seqs, want, "max {max}, {n} records");
            assert_eq!(m.last_record().map(|r| r.seq), want.last().copied());
        }
    }
}

#[test]
fn no_records_are_kept_when_max_records_is_zero() {
    let mut m = meter(MeterOptions {
        max_records: 0,
        ..MeterOptions::default()
    });
    for i in 0..3 {
        let _ = m.record(spent(0.0, i), i);
    }
    assert_eq!(m.records().count(), 0);
    assert!(m.last_record().is_none());
    assert_eq!(m.snapshot(3).total.requests, 3);
}

// ---------------------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------------------

#[test]
fn totals_add_up_by_model_and_by_provider() {
    let mut m = meter(MeterOptions::default());
    let _ = m.record(call("org/a:groq", Some("groq"), 100, Some(0.5), 0), 0);
    let _ = m.record(call("org/a", Some("together"), 50, Some(0.25), 1), 1);
    let _ = m.record(call("org/b", None, 10, None, 2), 2);
    let s = m.snapshot(3);
    assert_eq!(s.total.requests, 3);
    assert_eq!(s.total.prompt_tokens, 160);
    assert_eq!(s.total.cost_usd, 0.75);
    assert_eq!(s.total.unpriced, 1);
    let by_model: Vec<(&str, u64)> = s
        .by_model
        .iter()
        .map(|(k, t)| (k.as_str(), t.total_tokens))
        .collect();
    assert_eq!(
        by_model,
        [("org/a", 150), ("org/b", 10)],
        "suffix dropped, sorted"
    );
    let by_provider: Vec<(&str, u64)> = s
        .by_provider
        .iter()
        .map(|(k, t)| (k.as_str(), t.requests))
        .collect();
    assert_eq!(
        by_provider,
        [(UNKNOWN_KEY, 1), ("groq", 1), ("together", 1)]
    );
}

#[test]
fn failed_aborted_and_estimated_calls_are_counted_as_such() {
    let mut m = meter(MeterOptions::default());
    let mut failed = RequestRecord::new(
        &CallClock::start(0),
        "u",
        CallOutcome::Failed(ErrorKind::Http),
        5,
    );
    failed.model = Some("org/m".to_owned());
    let _ = m.record(failed, 5);
    let mut aborted = call("org/m", None, 7, Some(0.1), 6);
    aborted.outcome = CallOutcome::Aborted;
    aborted.usage = aborted.usage.map(|u| TokenUsage {
        estimated: true,
        ..u
    });
    let _ = m.record(aborted, 6);
    let t = m.snapshot(7).total;
    assert_eq!((t.requests, t.failed, t.aborted, t.estimated), (2, 1, 1, 1));
    assert_eq!(t.prompt_tokens, 7, "an aborted call's usage still counts");
}

#[test]
fn models_beyond_max_keys_share_one_line() {
    let mut m = meter(MeterOptions {
        max_keys: 3,
        ..MeterOptions::default()
    });
    for i in 0..10 {
        let _ = m.record(call(&format!("org/m{i}"), Some("p"), 1, Some(0.0), i), i);
    }
    let s = m.snapshot(10);
    assert_eq!(s.by_model.len(), 3);
    let other = s
        .by_model
        .iter()
        .find(|(k, _)| k == OTHER_KEY)
        .map(|(_, t)| t.requests);
    assert_eq!(other, Some(8));
    assert_eq!(s.by_model.iter().map(|(_, t)| t.requests).sum::<u64>(), 10);
}

#[test]
fn reset_forgets_everything_but_the_options() {
    let mut m = meter(budget(Some(1.0), None, None));
    let _ = m.record(spent(2.0, 0), 0);
    assert!(m.check_budget(0).is_err());
    m.reset();
    assert!(m.check_budget(1).is_ok());
    assert_eq!(m.snapshot(1).total.requests, 0);
    assert_eq!(m.records().count(), 0);
}

// ---------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------

#[test]
fn without_a_budget_every_call_may_go() {
    let mut m = meter(MeterOptions::default());
    let _ = m.record(spent(1e9, 0), 0);
    assert!(m.check_budget(0).is_ok());
    assert_eq!(m.budget_status(0), None);
}

#[test]
fn over_budget_calls_fail_fast_saying_spent_limit_and_when_it_frees() {
    // A 60 s window in 1 s buckets.
    let mut m = meter(budget(Some(1.0), None, Some(60_000)));
    let _ = m.record(spent(0.6, 0), 0);
    assert!(m.check_budget(29_000).is_ok());
    let _ = m.record(spent(0.5, 30_000), 30_000);
    let e = m.check_budget(30_000).expect_err("over budget");
    assert_eq!(e.kind, ErrorKind::Budget);
    assert_eq!(e.kind.as_str(), "budget");
    assert_eq!(e.code.as_deref(), Some(BUDGET_USD_CODE));
    assert!(e.retryable);
    assert_eq!(
        e.message,
        "budget exceeded: $1.10 spent of the $1.00 `budget.usd` in the last 60 s; it frees up in 31 s. This call was not sent."
    );
}

#[test]
fn the_window_slides_and_frees_late_never_early() {
    let mut m = meter(budget(Some(1.0), None, Some(60_000)));
    let _ = m.record(spent(0.6, 500), 500);
    let _ = m.record(spent(0.5, 30_000), 30_000);
    let status = m.budget_status(30_000).unwrap_or_else(|| panic!("status"));
    assert_eq!(status.exceeded, Some(BudgetMetric::Usd));
    assert_eq!(status.frees_in_ms, Some(31_000));
    // The first spend was at 0.5 s: 60 s later it may still count, until its bucket
    // (0-1 s) has left the window entirely.
    assert!(m.check_budget(60_500).is_err());
    assert!(m.check_budget(60_999).is_err());
    assert!(m.check_budget(61_000).is_ok());
    let status = m.budget_status(61_000).unwrap_or_else(|| panic!("status"));
    assert!((status.usd_spent - 0.5).abs() < 1e-12);
    assert_eq!(status.frees_in_ms, None);
}

#[test]
fn a_token_budget_counts_billed_tokens() {
    let mut m = meter(budget(None, Some(1000), Some(10_000)));
    let _ = m.record(call("org/m", None, 600, None, 0), 0);
    assert!(m.check_budget(0).is_ok());
    let _ = m.record(call("org/m", None, 400, None, 1), 1);
    let e = m.check_budget(1).expect_err("tokens");
    assert_eq!(e.code.as_deref(), Some(BUDGET_TOKENS_CODE));
    assert!(
        e.message.starts_with(
            "budget exceeded: 1000 tokens used of the 1000 `budget.tokens` in the last 10 s"
        ),
        "{}",
        e.message
    );
    // Cache hits bill no tokens.
    let mut m = meter(budget(None, Some(1000), Some(10_000)));
    let mut hit = call("org/m", None, 5000, None, 0);
    hit.cache_hit = true;
    let _ = m.record(hit, 0);
    assert!(m.check_budget(0).is_ok());
}

#[test]
fn a_lifetime_budget_never_frees_and_is_not_retryable() {
    let mut m = meter(budget(Some(0.5), None, None));
    let _ = m.record(spent(0.5, 0), 0);
    let e = m.check_budget(10_000_000).expect_err("over");
    assert!(!e.retryable);
    assert!(e.message.contains("does not renew"), "{}", e.message);
    assert_eq!(m.budget_status(0).and_then(|s| s.frees_in_ms), None);
}

#[test]
fn the_budget_alert_fires_once_per_crossing_and_again_after_it_freed() {
    let mut m = meter(budget(Some(1.0), None, Some(10_000)));
    let crossed = |alerts: &[Alert]| {
        alerts
            .iter()
            .filter(|a| matches!(a, Alert::BudgetExceeded(_)))
            .count()
    };
    assert_eq!(crossed(&m.record(spent(0.9, 0), 0)), 0);
    let alerts = m.record(spent(0.2, 100), 100);
    assert_eq!(crossed(&alerts), 1);
    let Some(Alert::BudgetExceeded(a)) = alerts.first() else {
        panic!("{alerts:?}");
    };
    assert_eq!(a.metric, BudgetMetric::Usd);
    assert!((a.spent - 1.1).abs() < 1e-12 && a.limit == 1.0);
    assert_eq!(
        crossed(&m.record(spent(0.2, 200), 200)),
        0,
        "still over: no repeat"
    );
    // Everything ages out, then a new crossing alerts again.
    assert_eq!(crossed(&m.record(spent(0.5, 20_000), 20_000)), 0);
    assert_eq!(crossed(&m.record(spent(0.6, 20_100), 20_100)), 1);
}

#[test]
fn calls_without_a_price_count_nothing_toward_a_dollar_budget() {
    let mut m = meter(budget(Some(1.0), None, None));
    for i in 0..100 {
        let _ = m.record(call("org/m", None, 1000, None, i), i);
    }
    assert!(m.check_budget(100).is_ok());
    assert_eq!(m.snapshot(100).total.unpriced, 100);
}

#[test]
fn bad_budgets_are_input_errors_naming_the_option() {
    for (b, want) in [
        (
            Budget {
                usd: None,
                tokens: None,
                window_ms: None,
            },
            "`budget` needs `usd` or `tokens`",
        ),
        (
            Budget {
                usd: Some(0.0),
                tokens: None,
                window_ms: None,
            },
            "`budget.usd`",
        ),
        (
            Budget {
                usd: Some(f64::NAN),
                tokens: None,
                window_ms: None,
            },
            "`budget.usd`",
        ),
        (
            Budget {
                usd: Some(-1.0),
                tokens: None,
                window_ms: None,
            },
            "`budget.usd`",
        ),
        (
            Budget {
                usd: None,
                tokens: Some(0),
                window_ms: None,
            },
            "`budget.tokens`",
        ),
        (
            Budget {
                usd: Some(1.0),
                tokens: None,
                window_ms: Some(0),
            },
            "`budget.windowMs`",
        ),
        (
            Budget {
                usd: Some(1.0),
                tokens: None,
                window_ms: Some(u64::MAX),
            },
            "`budget.windowMs`",
        ),
    ] {
        let e = Meter::new(MeterOptions {
            budget: Some(b),
            ..MeterOptions::default()
        })
        .expect_err(want);
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.starts_with(want), "{}", e.message);
    }
}

// ---------------------------------------------------------------------------------------
// Spikes
// ---------------------------------------------------------------------------------------

/// 10 s recent, 295 s baseline: 61 buckets of exactly 5 s.
fn spike_meter() -> Meter {
    meter(MeterOptions {
        spike: Some(SpikeOptions {
            recent_ms: 10_000,
            baseline_ms: 295_000,
            factor: 3.0,
            rearm_factor: None,
            min_baseline_requests: 10,
            min_recent_requests: 2,
            min_baseline_usd: 0.0,
            min_baseline_tokens: 0,
        }),
        ..MeterOptions::default()
    })
}

/// One $0.01 call every 5 s from `from` to `to` (exclusive); the alerts raised.
fn steady(m: &mut Meter, from: u64, to: u64) -> Vec<Alert> {
    let mut alerts = Vec::new();
    let mut t = from;
    while t < to {
        alerts.extend(m.record(spent(0.01, t), t));
        t += 5_000;
    }
    alerts
}

/// `n` $0.01 calls within a second from `at`.
fn burst(m: &mut Meter, at: u64, n: u64) -> Vec<Alert> {
    (0..n)
        .flat_map(|i| m.record(spent(0.01, at + i * 10), at + i * 10))
        .collect()
}

#[test]
fn no_spike_at_startup_however_busy() {
    let mut m = spike_meter();
    // Everything in the first seconds: there is no baseline yet.
    assert!(spikes(&burst(&mut m, 0, 200)).is_empty());
    // Nine calls of baseline are not enough either.
    let mut m = spike_meter();
    let _ = steady(&mut m, 0, 45_000);
    assert!(spikes(&burst(&mut m, 60_000, 200)).is_empty());
}

#[test]
fn a_spike_fires_once_per_episode() {
    let mut m = spike_meter();
    assert!(
        spikes(&steady(&mut m, 0, 600_000)).is_empty(),
        "steady traffic"
    );
    let alerts = burst(&mut m, 600_000, 20);
    assert_eq!(spikes(&alerts), [SpikeMetric::Usd], "{alerts:?}");
    let Some(Alert::Spike(a)) = alerts.iter().find(|a| matches!(a, Alert::Spike(_))) else {
        panic!("no alert");
    };
    assert!(a.ratio > 3.0, "{a:?}");
    assert!(a.recent > a.expected * 3.0);
    assert!(
        a.message.starts_with("spending spike: $0."),
        "{}",
        a.message
    );
    assert!(a.message.contains("x the usual $0."), "{}", a.message);
    // The burst goes on: no second alert.
    assert!(spikes(&burst(&mut m, 601_000, 50)).is_empty());
    assert!(spikes(&burst(&mut m, 603_000, 50)).is_empty());
    assert!(m.snapshot(603_500).spiking);
}

#[test]
fn the_detector_rearms_once_the_rate_is_back_down() {
    let mut m = spike_meter();
    let _ = steady(&mut m, 0, 600_000);
    assert_eq!(spikes(&burst(&mut m, 600_000, 20)).len(), 1);
    // Back to normal for a while: the episode ends.
    assert!(spikes(&steady(&mut m, 620_000, 700_000)).is_empty());
    assert!(!m.snapshot(700_000).spiking);
    // A new spike is a new episode.
    assert_eq!(spikes(&burst(&mut m, 700_000, 40)).len(), 1);
}

#[test]
fn a_quiet_gap_rearms_even_without_calls_in_between() {
    let mut m = spike_meter();
    let _ = steady(&mut m, 0, 300_000);
    assert_eq!(spikes(&burst(&mut m, 300_000, 20)).len(), 1);
    // No call at all for a minute, then a new burst: the recent window was empty in
    // between, so this is a new episode.
    let _ = steady(&mut m, 360_000, 400_000);
    assert_eq!(spikes(&burst(&mut m, 400_000, 40)).len(), 1);
}

#[test]
fn tokens_can_spike_when_cost_is_unknown() {
    let mut m = spike_meter();
    let mut t = 0;
    while t < 300_000 {
        let _ = m.record(call("org/m", None, 100, None, t), t);
        t += 5_000;
    }
    let alerts = m.record(call("org/m", None, 50_000, None, 300_000), 300_000);
    assert_eq!(spikes(&alerts), [SpikeMetric::Tokens]);
    let Some(Alert::Spike(a)) = alerts.first() else {
        panic!("{alerts:?}");
    };
    assert!(a.message.contains("tokens"), "{}", a.message);
}

#[test]
fn a_baseline_below_the_minimum_amount_never_spikes() {
    let mut m = meter(MeterOptions {
        spike: Some(SpikeOptions {
            recent_ms: 10_000,
            baseline_ms: 300_000,
            min_baseline_usd: 1.0,
            min_baseline_tokens: u64::MAX,
            ..SpikeOptions::default()
        }),
        ..MeterOptions::default()
    });
    let _ = steady(&mut m, 0, 600_000);
    assert!(
        spikes(&burst(&mut m, 600_000, 100)).is_empty(),
        "$0.60 of baseline < $1"
    );
}

#[test]
fn bad_spike_options_are_input_errors() {
    for (o, want) in [
        (
            SpikeOptions {
                recent_ms: 0,
                ..SpikeOptions::default()
            },
            "`spike.recentMs`",
        ),
        (
            SpikeOptions {
                factor: 1.0,
                ..SpikeOptions::default()
            },
            "`spike.factor`",
        ),
        (
            SpikeOptions {
                factor: f64::INFINITY,
                ..SpikeOptions::default()
            },
            "`spike.factor`",
        ),
        (
            SpikeOptions {
                rearm_factor: Some(5.0),
                ..SpikeOptions::default()
            },
            "`spike.rearmFactor`",
        ),
        (
            SpikeOptions {
                rearm_factor: Some(0.5),
                ..SpikeOptions::default()
            },
            "`spike.rearmFactor`",
        ),
        (
            SpikeOptions {
                min_baseline_usd: -1.0,
                ..SpikeOptions::default()
            },
            "`spike.minBaselineUsd`",
        ),
        (
            SpikeOptions {
                baseline_ms: u64::MAX,
                ..SpikeOptions::default()
            },
            "`spike.recentMs` + `spike.baselineMs`",
        ),
    ] {
        let e = Meter::new(MeterOptions {
            spike: Some(o),
            ..MeterOptions::default()
        })
        .expect_err(want);
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.starts_with(want), "{}", e.message);
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn steady_traffic_never_spikes(
        interval in 1_000u64..100_000, usd in 0.0001f64..10.0, tokens in 1u64..100_000,
        jitter in proptest::collection::vec(0u64..500, 200), defaults in any::<bool>(),
    ) {
        let mut m = if defaults {
            meter(MeterOptions { spike: Some(SpikeOptions::default()), ..MeterOptions::default() })
        } else {
            spike_meter()
        };
        let mut t = 0;
        for j in jitter {
            let alerts = m.record(call("org/m", None, tokens, Some(usd), t + j), t + j);
            prop_assert!(spikes(&alerts).is_empty(), "at {}", t);
            t += interval;
        }
    }

    #[test]
    fn totals_stay_finite_and_the_meter_bounded(
        calls in proptest::collection::vec(
            (any::<u64>(), proptest::option::of(any::<f64>()), prop_oneof![9 => 0u64..1_000_000, 1 => any::<u64>()], any::<bool>(), 0u8..20),
            1..200,
        ),
    ) {
        let mut m = meter(MeterOptions {
            budget: Some(Budget { usd: Some(10.0), tokens: Some(1 << 40), window_ms: Some(60_000) }),
            spike: Some(SpikeOptions::default()),
            max_records: 5,
            max_keys: 4,
        });
        let mut now = 0u64;
        for (tokens, usd, dt, hit, model) in calls {
            now = now.saturating_add(dt);
            let mut r = call(&format!("org/m{model}"), Some("p"), tokens, usd, now);
            r.cache_hit = hit;
            let _ = m.record(r, now);
            let _ = m.check_budget(now);
            let s = m.snapshot(now);
            prop_assert!(s.total.cost_usd.is_finite() && s.total.cost_usd >= 0.0);
            prop_assert!(s.budget.is_some_and(|b| b.usd_spent.is_finite() && b.usd_spent >= 0.0));
            prop_assert!(s.by_model.len() <= 4);
            prop_assert!(m.records().count() <= 5);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The JSON the client's shell hands to JavaScript (`usage()`, `onRequest`)
// ---------------------------------------------------------------------------------------

fn parsed(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_record_is_json_with_camel_case_fields_and_absent_options_left_out() {
    let mut r = call("org/m", Some("together"), 12, Some(0.000_123_4), 1_000);
    r.seq = 7;
    r.request_id = Some("req \"1\"\n".to_owned());
    r.attempts = 2;
    r.rule = Some(Chosen {
        index: 1,
        model: "org/small".to_owned(),
        provider: None,
        prompt_tokens: 40,
    });
    r.latency = Latency {
        headers_ms: Some(5),
        first_token_ms: None,
        total_ms: Some(9),
    };
    let v = parsed(&hf_inference_wasm::meter::record_json(&r));
    assert_eq!(v["seq"], 7);
    assert_eq!(v["model"], "org/m");
    assert_eq!(v["provider"], "together");
    assert_eq!(v["upstream"], "together");
    assert_eq!(v["requestId"], "req \"1\"\n");
    assert_eq!(v["outcome"], "completed");
    assert_eq!(
        v["latency"],
        serde_json::json!({ "headersMs": 5, "totalMs": 9 })
    );
    assert_eq!(
        v["usage"],
        serde_json::json!({ "promptTokens": 12, "completionTokens": 0, "totalTokens": 12 })
    );
    assert_eq!(v["costUsd"].as_f64(), Some(0.000_123_4));
    assert_eq!(v["attempts"], 2);
    assert_eq!(v["cacheHit"], false);
    assert_eq!(
        v["rule"],
        serde_json::json!({ "index": 1, "model": "org/small", "promptTokens": 40 })
    );
    assert!(v.get("priceKey").is_none());

    let mut failed = RequestRecord::new(
        &CallClock::start(0),
        "u",
        CallOutcome::Failed(ErrorKind::Timeout),
        3,
    );
    failed.usage = Some(TokenUsage {
        estimated: true,
        ..TokenUsage::default()
    });
    let v = parsed(&hf_inference_wasm::meter::record_json(&failed));
    assert_eq!(v["outcome"], "failed:timeout");
    assert_eq!(v["usage"], serde_json::json!({ "estimated": true }));
    for absent in ["model", "provider", "requestId", "costUsd", "rule"] {
        assert!(v.get(absent).is_none(), "{absent} should be left out: {v}");
    }
}

#[test]
fn the_snapshot_is_json_with_totals_by_model_and_provider_budget_and_records() {
    let mut m = meter(budget(Some(1.0), None, Some(60_000)));
    m.record(
        call("org/\"quoted\"", Some("together"), 10, Some(0.25), 1_000),
        1_000,
    );
    m.record(call("org/b", None, 5, None, 2_000), 2_000);
    let s = m.snapshot(2_000);
    let v = parsed(&hf_inference_wasm::meter::snapshot_json(&s, m.records()));
    assert_eq!(v["total"]["requests"], 2);
    assert_eq!(v["total"]["promptTokens"], 15);
    assert_eq!(v["total"]["costUsd"].as_f64(), Some(0.25));
    assert_eq!(v["total"]["unpriced"], 1);
    assert_eq!(v["byModel"]["org/\"quoted\""]["requests"], 1);
    assert_eq!(v["byModel"]["org/b"]["totalTokens"], 5);
    assert_eq!(v["byProvider"]["together"]["costUsd"].as_f64(), Some(0.25));
    assert_eq!(v["budget"]["usdSpent"].as_f64(), Some(0.25));
    assert_eq!(v["budget"]["usdLimit"].as_f64(), Some(1.0));
    assert_eq!(v["budget"]["windowMs"], 60_000);
    assert_eq!(v["budget"]["exceeded"], false);
    assert!(v["budget"].get("tokensLimit").is_none());
    assert_eq!(v["spiking"], false);
    let recent = v["recent"].as_array().map(Vec::len);
    assert_eq!(recent, Some(2));
    assert_eq!(v["recent"][0]["model"], "org/\"quoted\"");

    let empty = meter(MeterOptions::default());
    let v = parsed(&hf_inference_wasm::meter::snapshot_json(
        &empty.snapshot(0),
        empty.records(),
    ));
    assert_eq!(v["byModel"], serde_json::json!({}));
    assert_eq!(v["recent"], serde_json::json!([]));
    assert!(v.get("budget").is_none());
}

#[test]
fn a_budget_alert_is_json_for_its_callback() {
    let mut m = meter(budget(Some(1.0), None, Some(10_000)));
    m.record(spent(0.9, 0), 0);
    let alerts = m.record(spent(0.2, 100), 100);
    let Some(alert) = alerts.first() else {
        panic!("no alert");
    };
    let v = parsed(&hf_inference_wasm::meter::alert_json(alert));
    assert_eq!(v["metric"], BudgetMetric::Usd.name());
    assert!(
        v["spent"].as_f64().is_some_and(|s| (s - 1.1).abs() < 1e-12),
        "{v}"
    );
    assert_eq!(v["limit"].as_f64(), Some(1.0));
    assert!(v["freesInMs"].as_u64().is_some(), "{v}");
    assert!(v.get("message").is_none());
}
