//! The usage features end to end in the core, in the order the shell will call them:
//! route by difficulty, plan the cache, acquire from the rate limiter, check the budget,
//! stream a recorded router response, read its usage and provider, price it, record it,
//! release the permit with the real usage, store the answer; then the same request is a
//! cache hit at no cost, and an aborted stream reports an estimated usage. Serves as the
//! worked example for wiring the shell.
// Native only: reads the recordings.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::cache::{plan, storable, CacheMode, CacheOptions, CachePlan, MemoryCache};
use hf_inference_wasm::difficulty::{apply_route, Routed, Router};
use hf_inference_wasm::meter::{
    Alert, Budget, CallClock, CallOutcome, Meter, MeterOptions, RequestRecord,
};
use hf_inference_wasm::providers::upstream_key;
use hf_inference_wasm::ratelimit::{Acquire, Limiter, RateLimitOptions};
use hf_inference_wasm::sse::{Decoder, Item};
use hf_inference_wasm::stream::{ChatStreamState, Step};
use hf_inference_wasm::types::{parse_completion, prepare_chat_body, ChatCompletion};
use hf_inference_wasm::usage::{
    estimate_completion_tokens, estimate_prompt_tokens, estimate_request_tokens, resolve_usage,
    served_provider, PriceTable, TokenUsage, UsageEstimate,
};

#[path = "support/recordings.rs"]
mod recordings;
use recordings::recordings;

const RECORDING: &str =
    "TestInferenceClient.test_chat_completion_with_stream[together,conversational]#1";
const URL: &str = "https://router.huggingface.co/v1/chat/completions";

/// The client's state, as the shell would hold it.
struct Client {
    router: Router,
    prices: PriceTable,
    cache: MemoryCache,
    limiter: Limiter,
    meter: Meter,
}

fn client() -> Client {
    Client {
        router: Router::from_json(
            r#"[{"when": {"maxPromptTokens": 1000, "tools": false}, "model": "meta-llama/Meta-Llama-3-8B-Instruct", "provider": "together"},
                {"model": "meta-llama/Llama-3.3-70B-Instruct"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}")),
        prices: PriceTable::from_json(
            r#"{"meta-llama/Meta-Llama-3-8B-Instruct:together": {"input": 0.18, "output": 0.18}}"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}")),
        cache: MemoryCache::new(CacheOptions::default()),
        limiter: Limiter::new(RateLimitOptions {
            requests_per_minute: Some(60),
            tokens_per_minute: Some(100_000),
            ..RateLimitOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e:?}")),
        meter: Meter::new(MeterOptions {
            budget: Some(Budget {
                usd: Some(1.0),
                tokens: None,
                window_ms: Some(3_600_000),
            }),
            ..MeterOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e:?}")),
    }
}

/// The recorded body fed to the stream state, stopping after `max_events` events
/// (`None`: all). Returns the completion so far, its usage, and whether it finished.
fn stream(max_events: Option<usize>) -> (ChatCompletion, Option<TokenUsage>, bool) {
    let body = recordings()
        .iter()
        .find(|r| r.id == RECORDING)
        .map(|r| r.body.clone())
        .unwrap_or_else(|| panic!("no recording {RECORDING}"));
    let mut decoder = Decoder::new();
    let mut state = ChatStreamState::new();
    let mut items = Vec::new();
    let _ = decoder.feed(body.as_bytes(), &mut items);
    let mut seen = 0;
    for item in items {
        if let Item::Event(ev) = item {
            if max_events.is_some_and(|m| seen >= m) {
                // Aborted: what arrived is all there is.
                let c = state.snapshot();
                return (c.clone(), TokenUsage::from_completion(&c), false);
            }
            seen += 1;
            if state.on_event(&ev) == Ok(Step::Done) {
                break;
            }
        }
    }
    let finish = state.finish(None).unwrap_or_else(|e| panic!("{e:?}"));
    let usage = finish.usage.as_ref().map(TokenUsage::from_usage);
    (finish.completion, usage, !finish.truncated)
}

#[test]
fn a_routed_metered_cached_call_then_a_free_hit_then_an_estimated_abort() {
    let mut c = client();
    let request = r#"{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is deep learning?"}],"max_tokens":20,"temperature":0}"#;
    let body = prepare_chat_body(request, true).unwrap_or_else(|e| panic!("{e:?}"));

    // 1. Route: the request names no model; rule 0 chooses.
    let Ok(Routed::Chosen { body, choice }) = apply_route(&body, &c.router, None) else {
        panic!("not routed");
    };
    assert_eq!(choice.index, 0);
    assert_eq!(choice.model, "meta-llama/Meta-Llama-3-8B-Instruct:together");
    let model = choice.model.clone();
    let upstream = upstream_key(URL, Some(&model));
    assert_eq!(upstream, "together");

    // 2. Cache: temperature 0 is cacheable; a miss.
    let CachePlan::Use(key) = plan(&body, URL, CacheMode::Auto) else {
        panic!("not cacheable");
    };
    assert!(c.cache.get(&key, 0).is_none());

    // 3. Rate limit and budget.
    let parsed = hf_inference_wasm::json::Value::parse(&body).unwrap_or_default();
    let Acquire::Admit(permit) = c
        .limiter
        .acquire(estimate_request_tokens(&parsed), &upstream, 0)
    else {
        panic!("not admitted");
    };
    assert!(c.meter.check_budget(0).is_ok());

    // 4. The call: headers at 80 ms, first chunk at 200 ms, done at 900 ms.
    let mut clock = CallClock::start(0);
    clock.headers(80);
    clock.first_token(200);
    let (completion, usage, complete) = stream(None);
    assert!(complete);
    let usage = resolve_usage(usage, None).unwrap_or_else(|| panic!("no usage"));
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (Some(26), Some(20), Some(46))
    );

    // 5. Who served it, what it cost, and the record.
    let provider = served_provider([], Some(&completion.extra), Some(&model), URL);
    assert_eq!(provider.as_deref(), Some("together"));
    let mut record = RequestRecord::new(&clock, &upstream, CallOutcome::Completed, 900);
    record.model = Some(model.clone());
    record.provider = provider;
    record.usage = Some(usage);
    record.rule = Some(choice);
    let record = record.priced(&c.prices);
    let cost = record.cost_usd.unwrap_or(f64::NAN);
    assert!((cost - 46.0 * 0.18 / 1e6).abs() < 1e-15, "{cost}");
    assert_eq!(
        record.price_key.as_deref(),
        Some("meta-llama/Meta-Llama-3-8B-Instruct:together")
    );
    let alerts: Vec<Alert> = c.meter.record(record, 900);
    assert!(alerts.is_empty());
    c.limiter.release(permit, usage.billable_tokens(), 900);
    assert_eq!(c.limiter.in_flight(), 0);

    // 6. Store the complete answer.
    assert!(storable(&completion, !complete));
    let stored = completion.to_json();
    let _ = c.cache.put(&key, &stored, 900);

    // 7. The same request again (streamed or not: same key) is a hit, at no cost.
    let again = prepare_chat_body(request, false).unwrap_or_else(|e| panic!("{e:?}"));
    let Ok(Routed::Chosen { body: again, .. }) = apply_route(&again, &c.router, None) else {
        panic!("not routed");
    };
    let CachePlan::Use(key2) = plan(&again, URL, CacheMode::Auto) else {
        panic!("not cacheable");
    };
    assert_eq!(key2, key);
    let hit = c.cache.get(&key2, 5_000).unwrap_or_else(|| panic!("miss"));
    let cached = parse_completion(&hit).unwrap_or_else(|e| panic!("{e:?}"));
    let mut record = RequestRecord::new(
        &CallClock::start(5_000),
        &upstream,
        CallOutcome::Completed,
        5_001,
    );
    record.model = Some(model.clone());
    record.usage = TokenUsage::from_completion(&cached);
    record.cache_hit = true;
    record.attempts = 0;
    let record = record.priced(&c.prices);
    assert_eq!(record.cost_usd, Some(0.0));
    let _ = c.meter.record(record, 5_001);

    // 8. An aborted stream with estimates opted in: usage is estimated, so is its cost.
    let (partial, reported, complete) = stream(Some(5));
    assert!(!complete && reported.is_none());
    assert!(!storable(&partial, true), "never cache a partial answer");
    let usage = resolve_usage(
        reported,
        Some(UsageEstimate {
            prompt_tokens: estimate_prompt_tokens(&parsed),
            completion_tokens: estimate_completion_tokens(&partial),
        }),
    )
    .unwrap_or_else(|| panic!("no estimate"));
    assert!(usage.estimated);
    let mut record = RequestRecord::new(
        &CallClock::start(6_000),
        &upstream,
        CallOutcome::Aborted,
        6_300,
    );
    record.model = Some(model);
    record.provider = Some("together".to_owned());
    record.usage = Some(usage);
    let record = record.priced(&c.prices);
    assert!(record.cost_usd.is_some_and(|c| c > 0.0));
    let _ = c.meter.record(record, 6_300);

    // The totals: three requests, one cache hit, one aborted, one estimated.
    let s = c.meter.snapshot(7_000);
    assert_eq!(
        (
            s.total.requests,
            s.total.cache_hits,
            s.total.aborted,
            s.total.estimated
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(s.by_model.len(), 1);
    assert_eq!(s.by_model[0].0, "meta-llama/Meta-Llama-3-8B-Instruct");
    assert!(s
        .budget
        .is_some_and(|b| b.exceeded.is_none() && b.usd_spent > 0.0));
    let first = c.meter.records().next().map(|r| r.latency);
    assert_eq!(
        first.map(|l| (l.headers_ms, l.first_token_ms, l.total_ms)),
        Some((Some(80), Some(200), Some(900)))
    );
}
