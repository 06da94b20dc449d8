//! The proxy's shared-state decisions, natively: spend budgets (per client and for the
//! whole proxy, tokens and dollars, day windows that reset at 00:00 UTC), the ledger's
//! bound, the 429 that names the spent budget and its reset, the fail-closed 503, the
//! snapshot the Durable Object persists (limiter and ledger survive a round trip), and
//! `decide` in two steps (as the Durable-Object shell runs it) answering exactly as
//! `decide` in one.
// Native only: uses proptest; the wasm layer is tested from JS.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::proxy::budget::{
    budget_refusal, can_price, charge_of, check_budget, state_unavailable, BudgetLedger,
    BudgetOptions, CapKind, Caps, Charge, Scope, DAY_MS,
};
use hf_inference_wasm::proxy::{
    decide, decide_after_limit, decide_until_limit, rate_limited, Admission, AllowList, Decision,
    IncomingRequest, ProxyOptions, ProxyState, RateLimit, RateLimiter, Reason,
};
use hf_inference_wasm::types::Usage;
use hf_inference_wasm::usage::PriceTable;
use proptest::prelude::*;
use serde_json::Value;

/// 2024-01-01T00:00:00Z in epoch ms.
const MIDNIGHT: f64 = 1_704_067_200_000.0;
const HOUR: f64 = 3_600_000.0;

fn tokens(n: u64) -> Charge {
    Charge {
        prompt_tokens: n / 2,
        completion_tokens: n - n / 2,
        tokens: n,
        usd: 0.0,
    }
}

fn budget(proxy: Caps, per_client: Caps) -> BudgetOptions {
    BudgetOptions {
        proxy,
        per_client,
        ..BudgetOptions::default()
    }
}

fn caps_tokens(n: u64) -> Caps {
    Caps {
        tokens_per_day: Some(n),
        usd_per_day: None,
    }
}

fn body(r: &hf_inference_wasm::proxy::Respond) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn a_client_token_budget_stops_that_client_only() {
    let b = budget(Caps::default(), caps_tokens(1000));
    let mut l = BudgetLedger::new();
    let now = MIDNIGHT + HOUR;
    assert_eq!(l.check("a", &b, now), None);
    l.record("a", &tokens(600), &b, now);
    assert_eq!(l.check("a", &b, now), None, "600 of 1000 spent");
    l.record("a", &tokens(400), &b, now);
    let e = l.check("a", &b, now).expect("1000 of 1000 spent");
    assert_eq!((e.scope, e.kind), (Scope::Client, CapKind::Tokens));
    assert_eq!(e.spent, 1000.0);
    assert_eq!(l.check("b", &b, now), None, "another client is not stopped");
    let s = l.client_spend("a", &b, now);
    assert_eq!((s.requests, s.tokens, s.prompt_tokens), (2, 1000, 500));
}

#[test]
fn the_proxy_budget_adds_up_every_client() {
    let b = budget(caps_tokens(100), Caps::default());
    let mut l = BudgetLedger::new();
    for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
        assert_eq!(l.check(key, &b, MIDNIGHT), None, "call {i}");
        l.record(key, &tokens(30), &b, MIDNIGHT);
    }
    let e = l.check("e", &b, MIDNIGHT).expect("120 of 100 spent");
    assert_eq!(e.scope, Scope::Proxy);
    assert_eq!(l.proxy_spend(&b, MIDNIGHT).requests, 4);
}

#[test]
fn a_day_budget_resets_at_midnight_utc() {
    let b = budget(Caps::default(), caps_tokens(10));
    let mut l = BudgetLedger::new();
    let late = MIDNIGHT + 23.0 * HOUR;
    l.record("a", &tokens(10), &b, late);
    let e = l.check("a", &b, late).unwrap();
    assert_eq!(e.resets_at_ms, (MIDNIGHT as u64) + DAY_MS);
    assert_eq!(e.resets_in_ms, HOUR as u64);
    assert!(l.check("a", &b, MIDNIGHT + DAY_MS as f64 - 1.0).is_some());
    assert_eq!(
        l.check("a", &b, MIDNIGHT + DAY_MS as f64),
        None,
        "a new day"
    );
    assert_eq!(l.client_spend("a", &b, MIDNIGHT + DAY_MS as f64).tokens, 0);
}

#[test]
fn a_clock_going_backwards_does_not_unspend() {
    let b = budget(Caps::default(), caps_tokens(10));
    let mut l = BudgetLedger::new();
    l.record("a", &tokens(10), &b, MIDNIGHT + DAY_MS as f64 + 5.0);
    assert!(
        l.check("a", &b, MIDNIGHT).is_some(),
        "an earlier time is the latest seen"
    );
    assert!(l.check("a", &b, f64::NAN).is_some());
}

#[test]
fn dollars_are_priced_from_the_usage_and_capped() {
    let prices = PriceTable::from_json(r#"{"org/model": {"input": 1.0, "output": 2.0}}"#).unwrap();
    let usage = Usage::from_text(
        r#"{"prompt_tokens": 1000000, "completion_tokens": 500000, "total_tokens": 1500000}"#,
    )
    .unwrap();
    let c = charge_of(Some(&usage), Some("org/model"), &prices);
    assert_eq!(c.tokens, 1_500_000);
    assert!((c.usd - 2.0).abs() < 1e-9, "{}", c.usd);
    assert_eq!(charge_of(Some(&usage), Some("org/other"), &prices).usd, 0.0);
    assert_eq!(
        charge_of(None, Some("org/model"), &prices),
        Charge::default()
    );

    let b = budget(
        Caps {
            tokens_per_day: None,
            usd_per_day: Some(3.0),
        },
        Caps::default(),
    );
    let mut l = BudgetLedger::new();
    l.record("a", &c, &b, MIDNIGHT);
    assert_eq!(l.check("a", &b, MIDNIGHT), None, "$2 of $3");
    l.record("b", &c, &b, MIDNIGHT);
    let e = l.check("c", &b, MIDNIGHT).unwrap();
    assert_eq!((e.scope, e.kind), (Scope::Proxy, CapKind::Usd));
    assert!((l.proxy_spend(&b, MIDNIGHT).usd - 4.0).abs() < 1e-9);
}

#[test]
fn a_usd_budget_needs_prices_and_sane_caps() {
    let usd = budget(
        Caps {
            tokens_per_day: None,
            usd_per_day: Some(5.0),
        },
        Caps::default(),
    );
    let none = PriceTable::new();
    let prices = PriceTable::from_json(r#"{"org/model": {"input": 1, "output": 1}}"#).unwrap();
    let e = check_budget(&usd, &none).unwrap_err();
    assert!(e.message.contains("prices"), "{}", e.message);
    assert!(check_budget(&usd, &prices).is_ok());
    let mut bad = usd;
    bad.per_client.usd_per_day = Some(f64::NAN);
    assert!(check_budget(&bad, &prices).is_err());
    bad.per_client.usd_per_day = Some(-1.0);
    assert!(check_budget(&bad, &prices).is_err());
    assert!(check_budget(&budget(caps_tokens(1), Caps::default()), &none).is_ok());

    assert!(can_price(&usd, &prices, "org/model"));
    assert!(
        can_price(&usd, &prices, "org/model:groq"),
        "the provider suffix is dropped"
    );
    assert!(!can_price(&usd, &prices, "org/unpriced"));
    assert!(can_price(
        &budget(caps_tokens(1), Caps::default()),
        &none,
        "org/unpriced"
    ));
}

#[test]
fn the_refusal_names_the_budget_and_its_reset() {
    let b = budget(Caps::default(), caps_tokens(50));
    let mut l = BudgetLedger::new();
    let now = MIDNIGHT + 20.0 * HOUR;
    l.record("a", &tokens(50), &b, now);
    let e = l.check("a", &b, now).unwrap();
    let opts = ProxyOptions {
        allowed_origins: AllowList::from_entries(["https://app.example"]),
        ..ProxyOptions::default()
    };
    let r = budget_refusal(&e, Some("https://app.example"), &opts);
    assert_eq!(r.status, 429);
    assert_eq!(r.reason, Some(Reason::BudgetExhausted));
    assert_eq!(r.header("retry-after"), Some("14400"));
    assert_eq!(r.header("retry-after-ms"), Some("14400000"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let v = body(&r);
    assert_eq!(v["error"]["code"], "budget_exhausted");
    assert_eq!(v["error"]["type"], "insufficient_quota");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("this client's daily budget of 50 tokens"), "{m}");
    assert!(m.contains("00:00 UTC, in 14400 s"), "{m}");

    let usd = budget(
        Caps {
            tokens_per_day: None,
            usd_per_day: Some(1.5),
        },
        Caps::default(),
    );
    let mut l = BudgetLedger::new();
    l.record(
        "a",
        &Charge {
            usd: 2.0,
            ..Charge::default()
        },
        &usd,
        now,
    );
    let m = body(&budget_refusal(
        &l.check("a", &usd, now).unwrap(),
        None,
        &opts,
    ))["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(m.contains("this proxy's daily budget of $1.50"), "{m}");
}

#[test]
fn an_unreachable_state_fails_closed_with_503() {
    let r = state_unavailable("timed out after 1000 ms", None, &ProxyOptions::default());
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, Some(Reason::StateUnavailable));
    assert_eq!(r.header("retry-after"), Some("1"));
    let v = body(&r);
    assert_eq!(v["error"]["code"], "proxy_state_unavailable");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timed out after 1000 ms"));
}

#[test]
fn the_ledger_is_bounded_and_forgets_the_lightest_spender() {
    let b = BudgetOptions {
        per_client: caps_tokens(100),
        max_clients: 3,
        ..BudgetOptions::default()
    };
    let mut l = BudgetLedger::new();
    l.record("heavy", &tokens(100), &b, MIDNIGHT);
    for i in 0..50 {
        l.record(&format!("light{i}"), &tokens(1), &b, MIDNIGHT);
        assert!(l.clients() <= 3);
    }
    assert!(
        l.check("heavy", &b, MIDNIGHT).is_some(),
        "a client cannot wipe its spend by sending many keys"
    );
    // Spends from an earlier window go first.
    let next = MIDNIGHT + DAY_MS as f64;
    l.record("new", &tokens(1), &b, next);
    assert_eq!(l.clients(), 1);
}

#[test]
fn limiter_and_ledger_survive_a_snapshot() {
    let limit = RateLimit {
        requests_per_minute: 7,
        burst: 2,
        max_clients: 10,
    };
    let mut r = RateLimiter::new();
    assert!(matches!(
        r.admit("a", &limit, MIDNIGHT),
        Admission::Allowed { .. }
    ));
    let mut back = RateLimiter::from_json(&r.to_json()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            back.admit("a", &limit, MIDNIGHT + 1.0),
            r.admit("a", &limit, MIDNIGHT + 1.0)
        );
    }
    let b = budget(Caps::default(), caps_tokens(10));
    let mut l = BudgetLedger::new();
    l.record("a", &tokens(7), &b, MIDNIGHT);
    let mut back = BudgetLedger::from_json(&l.to_json()).unwrap();
    assert_eq!(back, l);
    back.record("a", &tokens(3), &b, MIDNIGHT);
    assert!(back.check("a", &b, MIDNIGHT).is_some());
    // An empty or partial snapshot is a fresh state, not an error.
    let fresh = BudgetLedger::from_json("{}").unwrap();
    assert_eq!(fresh, BudgetLedger::new());
}

// ---------------------------------------------------------------------------------------
// decide in two steps = decide in one
// ---------------------------------------------------------------------------------------

fn two_step(
    req: &IncomingRequest<'_>,
    opts: &ProxyOptions,
    limiter: &mut RateLimiter,
    now: f64,
) -> Decision {
    match decide_until_limit(req, opts) {
        Err(d) => d,
        Ok(None) => decide_after_limit(req, opts, now),
        Ok(Some(limit)) => match limiter.admit(req.client_key, limit, now) {
            Admission::Limited { retry_after_ms } => {
                rate_limited(limit, retry_after_ms, req.origin, opts)
            }
            Admission::Allowed { .. } => decide_after_limit(req, opts, now),
        },
    }
}

proptest! {
    #[test]
    fn two_steps_answer_as_one(
        steps in proptest::collection::vec(
            (0usize..5, 0usize..4, proptest::option::of(0usize..2), 0usize..3, 0.0f64..3000.0),
            1..60,
        ),
        key in proptest::option::of(Just("k")),
    ) {
        let opts = ProxyOptions {
            allowed_origins: AllowList::from_entries(["https://app.example"]),
            allowed_models: AllowList::Any,
            rate_limit: Some(RateLimit { requests_per_minute: 60, burst: 2, max_clients: 4 }),
            require_key: key.map(|k| format!("{k}-0123456789abcdef")),
            ..ProxyOptions::default()
        };
        let mut one = ProxyState::new();
        let mut two = RateLimiter::new();
        let mut now = MIDNIGHT;
        let paths = ["/v1/chat/completions", "/v1/models", "/health", "/nope", "/session"];
        let methods = ["GET", "POST", "OPTIONS", "PUT"];
        let origins = ["https://app.example", "https://evil.example"];
        let clients = ["a", "b", "c"];
        for (p, m, o, c, dt) in steps {
            now += dt;
            let headers = vec![("x-proxy-key".to_owned(), "k-0123456789abcdef".to_owned())];
            let req = IncomingRequest {
                method: methods[m],
                path: paths[p],
                origin: o.map(|i| origins[i]),
                self_origin: Some("https://proxy.example"),
                headers: &headers,
                content_length: None,
                client_key: clients[c],
            };
            prop_assert_eq!(decide(&req, &opts, &mut one, now), two_step(&req, &opts, &mut two, now));
        }
    }
}
