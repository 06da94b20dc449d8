//! Token usage and cost, one behaviour per test: reading OpenAI and TGI usage leniently,
//! the documented estimates and when they fill in, the price table (the caller's and
//! the router's) and its lookup order, the cost arithmetic (cached tokens, missing
//! prices, big numbers), and which provider served a call. Properties: a cost is never
//! NaN, infinite or negative, whatever the counts and prices.
// Native only: uses proptest and reads the recordings.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::models::parse_model_list;
use hf_inference_wasm::tgi::parse_text_generation;
use hf_inference_wasm::types::parse_completion;
use hf_inference_wasm::usage::{
    cost_usd, estimate_completion_tokens, estimate_prompt_tokens, estimate_request_tokens,
    estimate_text_tokens, resolve_usage, served_provider, usd_text, ModelPrice, PriceTable,
    TokenUsage, UsageEstimate, DEFAULT_COMPLETION_RESERVE, MAX_PRICE_PER_MILLION,
};
use hf_inference_wasm::ErrorKind;
use proptest::prelude::*;
#[path = "support/ours.rs"]
mod ours;
use hf_inference_wasm::json::Value;
use ours::ours;

/// `serde_json::json!`, as the crate's value.
macro_rules! json {
    ($($t:tt)*) => {
        ours(&serde_json::json!($($t)*))
    };
}

#[path = "support/recordings.rs"]
mod recordings;
use recordings::recordings;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn usage_of(usage_json: &str) -> Option<TokenUsage> {
    let body = format!(
        r#"{{"choices":[{{"message":{{"content":"x"}},"finish_reason":"stop"}}],"usage":{usage_json}}}"#
    );
    let c = parse_completion(&body).unwrap_or_else(|e| panic!("{usage_json}: {e:?}"));
    TokenUsage::from_completion(&c)
}

fn counts(p: u64, c: u64) -> TokenUsage {
    TokenUsage {
        prompt_tokens: Some(p),
        completion_tokens: Some(c),
        total_tokens: Some(p + c),
        ..TokenUsage::default()
    }
}

fn price(input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        input_per_million: input,
        output_per_million: output,
        cached_input_per_million: None,
    }
}

fn table(json: &str) -> PriceTable {
    PriceTable::from_json(json).unwrap_or_else(|e| panic!("{json}: {e:?}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn assert_usd(got: Option<f64>, want: f64) {
    match got {
        Some(g) => assert!(close(g, want), "got {g}, want {want}"),
        None => panic!("no cost, want {want}"),
    }
}

// ---------------------------------------------------------------------------------------
// Reading usage
// ---------------------------------------------------------------------------------------

#[test]
fn openai_usage_with_details_reads_cached_and_reasoning_tokens() {
    let u = usage_of(
        r#"{"prompt_tokens":19,"completion_tokens":4,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}"#,
    );
    assert_eq!(
        u,
        Some(TokenUsage {
            prompt_tokens: Some(19),
            completion_tokens: Some(4),
            total_tokens: Some(23),
            cached_tokens: Some(8),
            reasoning_tokens: Some(2),
            estimated: false,
        })
    );
}

#[test]
fn counts_sent_as_strings_floats_or_null_are_read_leniently() {
    let u = usage_of(
        r#"{"prompt_tokens":"12","completion_tokens":12.0,"total_tokens":null,"prompt_tokens_details":{"cached_tokens":"3.0"},"completion_tokens_details":null}"#,
    )
    .unwrap_or_default();
    assert_eq!(u.prompt_tokens, Some(12));
    assert_eq!(u.completion_tokens, Some(12));
    assert_eq!(u.total_tokens, Some(24), "derived from the two counts");
    assert_eq!(u.cached_tokens, Some(3));
    assert_eq!(u.reasoning_tokens, None);
}

#[test]
fn counts_the_provider_did_not_send_are_none_never_zero() {
    let u = usage_of(r#"{"completion_tokens":5}"#).unwrap_or_default();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (None, Some(5), None)
    );
    assert_eq!(
        (u.cached_tokens, u.reasoning_tokens),
        (None, None),
        "no details"
    );
    let u = usage_of(r#"{"prompt_tokens":-4,"completion_tokens":"lots"}"#).unwrap_or_default();
    assert!(u.is_empty(), "{u:?}");
}

#[test]
fn a_completion_without_usage_has_none() {
    let c = parse_completion(r#"{"choices":[],"usage":null}"#).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(TokenUsage::from_completion(&c), None);
}

#[test]
fn a_missing_count_follows_from_the_total_and_the_other() {
    let u = usage_of(r#"{"prompt_tokens":46,"total_tokens":50}"#).unwrap_or_default();
    assert_eq!(u.completion_tokens, Some(4));
    assert!(!u.estimated);
    let u = usage_of(r#"{"completion_tokens":4,"total_tokens":50}"#).unwrap_or_default();
    assert_eq!(u.prompt_tokens, Some(46));
    // A total smaller than a part is not used to derive anything.
    let u = usage_of(r#"{"prompt_tokens":60,"total_tokens":50}"#).unwrap_or_default();
    assert_eq!(u.completion_tokens, None);
}

#[test]
fn deepseek_cache_hit_tokens_count_as_cached() {
    let u = usage_of(r#"{"prompt_tokens":100,"completion_tokens":1,"prompt_cache_hit_tokens":64}"#)
        .unwrap_or_default();
    assert_eq!(u.cached_tokens, Some(64));
}

#[test]
fn raw_usage_json_reads_like_a_parsed_one() {
    let v = json!({"prompt_tokens": 7, "completion_tokens": "5", "prompt_tokens_details": {"cached_tokens": 2}});
    let u = TokenUsage::from_json(&v).unwrap_or_default();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_tokens
        ),
        (Some(7), Some(5), Some(12), Some(2))
    );
    assert_eq!(TokenUsage::from_json(&json!([1])), None);
    assert_eq!(TokenUsage::from_json(&Value::Null), None);
}

#[test]
fn tgi_details_give_generated_tokens_and_input_length() {
    let o = parse_text_generation(
        r#"{"generated_text":".","details":{"finish_reason":"length","generated_tokens":1,"seed":null,"input_length":"12"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let u = TokenUsage::from_tgi(&o.details.unwrap_or_default());
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(12), Some(1), Some(13))
    );
}

#[test]
fn tgi_prefill_counts_only_when_it_lists_tokens() {
    let with = parse_text_generation(
        r#"{"generated_text":"a","details":{"generated_tokens":2,"prefill":[{"id":1,"text":"<s>"},{"id":2,"text":"hi"},{"id":3,"text":"!"}]}}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let u = TokenUsage::from_tgi(&with.details.unwrap_or_default());
    assert_eq!((u.prompt_tokens, u.completion_tokens), (Some(3), Some(2)));
    // `prefill: []` is what TGI sends without `decoder_input_details`: unknown, not 0.
    let without = parse_text_generation(
        r#"{"generated_text":"a","details":{"generated_tokens":2,"prefill":[]}}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let u = TokenUsage::from_tgi(&without.details.unwrap_or_default());
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (None, Some(2), None)
    );
}

#[test]
fn every_recorded_completion_with_usage_reads_consistent_counts() {
    let mut seen = 0;
    for r in recordings() {
        if r.is_event_stream() || r.status != 200 || !r.body.contains("\"usage\"") {
            continue;
        }
        let Ok(c) = parse_completion(&r.body) else {
            continue;
        };
        let Some(u) = TokenUsage::from_completion(&c) else {
            continue;
        };
        seen += 1;
        let (Some(p), Some(c), Some(t)) = (u.prompt_tokens, u.completion_tokens, u.total_tokens)
        else {
            panic!("{}: {u:?}", r.id);
        };
        assert_eq!(p + c, t, "{}", r.id);
        assert!(!u.estimated);
    }
    assert!(seen >= 10, "only {seen} recorded completions with usage");
}

// ---------------------------------------------------------------------------------------
// Estimates
// ---------------------------------------------------------------------------------------

#[test]
fn text_estimate_is_utf8_bytes_over_four_rounded_up() {
    assert_eq!(estimate_text_tokens(""), 0);
    assert_eq!(estimate_text_tokens("abcd"), 1);
    assert_eq!(estimate_text_tokens("abcde"), 2);
    // "é" is two bytes, "日" three.
    assert_eq!(estimate_text_tokens("éé日"), 2);
}

#[test]
fn prompt_estimate_follows_the_documented_rule() {
    // 3 priming + (4 + ceil(16/4)) + (4 + ceil(5/4)) = 3 + 8 + 6.
    let req = json!({"messages": [
        {"role": "system", "content": "You are a bot.!!"},
        {"role": "user", "content": [{"type": "text", "text": "hello"}]}
    ]});
    assert_eq!(estimate_prompt_tokens(&req), 17);
}

#[test]
fn prompt_estimate_counts_images_tool_calls_and_tools() {
    let image = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", "A".repeat(100_000))}}
    ]}]});
    assert_eq!(
        estimate_prompt_tokens(&image),
        3 + 4 + 85,
        "a flat figure per image"
    );
    let calls = json!({"messages": [{"role": "assistant", "content": null, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "get", "arguments": "{\"a\":1}"}}
    ]}]});
    // name 3 bytes + arguments 7 bytes = 10 → 3 tokens.
    assert_eq!(estimate_prompt_tokens(&calls), 3 + 4 + 3);
    let tools = json!({"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]});
    let tools_bytes = tools["tools"].to_text().len() as u64;
    assert_eq!(estimate_prompt_tokens(&tools), 3 + tools_bytes.div_ceil(4));
}

#[test]
fn prompt_estimate_of_garbage_is_just_the_priming() {
    for v in [
        json!(null),
        json!([1, 2]),
        json!({"messages": "x"}),
        json!({"messages": [7, null]}),
    ] {
        assert_eq!(estimate_prompt_tokens(&v), 3, "{v}");
    }
}

#[test]
fn request_estimate_reserves_the_completion_budget_per_choice() {
    let base = json!({"messages": [{"role": "user", "content": "abcd"}]});
    let prompt = estimate_prompt_tokens(&base);
    assert_eq!(
        estimate_request_tokens(&base),
        prompt + DEFAULT_COMPLETION_RESERVE
    );
    let mut capped = base.clone();
    capped["max_tokens"] = json!(100);
    capped["n"] = json!(3);
    assert_eq!(estimate_request_tokens(&capped), prompt + 300);
    capped["max_completion_tokens"] = json!("50");
    assert_eq!(
        estimate_request_tokens(&capped),
        prompt + 150,
        "the newer field wins"
    );
    capped["max_tokens"] = json!(u64::MAX);
    capped["max_completion_tokens"] = Value::Null;
    assert_eq!(estimate_request_tokens(&capped), u64::MAX, "saturates");
}

#[test]
fn completion_estimate_counts_content_reasoning_and_tool_calls() {
    let c = parse_completion(
        r#"{"choices":[{"message":{"content":"12345678","reasoning_content":"abcd","tool_calls":[{"id":"x","function":{"name":"f","arguments":"{}"}}]}},{"index":1,"message":{"content":"a"}}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    // choice 0: 8 + 4 + 1 + 2 = 15 bytes → 4; choice 1: 1 byte → 1.
    assert_eq!(estimate_completion_tokens(&c), 5);
}

const EST: UsageEstimate = UsageEstimate {
    prompt_tokens: 40,
    completion_tokens: 10,
};

#[test]
fn reported_usage_wins_over_an_estimate() {
    let reported = counts(46, 4);
    assert_eq!(resolve_usage(Some(reported), Some(EST)), Some(reported));
}

#[test]
fn no_usage_and_no_opt_in_is_none() {
    assert_eq!(resolve_usage(None, None), None);
    assert_eq!(resolve_usage(Some(TokenUsage::default()), None), None);
}

#[test]
fn no_usage_with_opt_in_is_the_estimate_marked_estimated() {
    assert_eq!(
        resolve_usage(None, Some(EST)),
        Some(TokenUsage {
            prompt_tokens: Some(40),
            completion_tokens: Some(10),
            total_tokens: Some(50),
            cached_tokens: None,
            reasoning_tokens: None,
            estimated: true,
        })
    );
}

#[test]
fn a_partial_usage_is_completed_by_the_estimate() {
    let partial = TokenUsage {
        prompt_tokens: Some(46),
        ..TokenUsage::default()
    };
    let u = resolve_usage(Some(partial), Some(EST)).unwrap_or_default();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.estimated
        ),
        (Some(46), Some(10), Some(56), true)
    );
    // Without the opt-in the partial usage stays as the provider sent it.
    assert_eq!(resolve_usage(Some(partial), None), Some(partial));
}

// ---------------------------------------------------------------------------------------
// Prices and cost
// ---------------------------------------------------------------------------------------

#[test]
fn cost_is_input_and_output_per_million() {
    // 1000 × 0.5 / 1e6 + 500 × 1.5 / 1e6 = 0.0005 + 0.00075.
    assert_usd(cost_usd(&counts(1000, 500), &price(0.5, 1.5)), 0.00125);
    assert_usd(cost_usd(&counts(0, 0), &price(0.5, 1.5)), 0.0);
    assert_usd(cost_usd(&counts(1_000_000, 0), &price(0.59, 0.79)), 0.59);
}

#[test]
fn cached_tokens_are_priced_as_input_unless_a_cached_price_is_given() {
    let mut u = counts(1000, 0);
    u.cached_tokens = Some(600);
    assert_usd(cost_usd(&u, &price(1.0, 2.0)), 0.001);
    let cheaper = ModelPrice {
        cached_input_per_million: Some(0.25),
        ..price(1.0, 2.0)
    };
    // 400 × 1.0 + 600 × 0.25 = 550 micro-dollars.
    assert_usd(cost_usd(&u, &cheaper), 0.00055);
    // More cached than prompt tokens (a provider bug) is capped at the prompt.
    u.cached_tokens = Some(5000);
    assert_usd(cost_usd(&u, &cheaper), 0.00025);
}

#[test]
fn reasoning_tokens_are_output_already_counted_in_completion() {
    let mut u = counts(0, 100);
    u.reasoning_tokens = Some(80);
    assert_usd(cost_usd(&u, &price(1.0, 10.0)), 0.001);
}

#[test]
fn no_cost_without_both_counts() {
    let p = price(1.0, 1.0);
    let only_total = TokenUsage {
        total_tokens: Some(10),
        ..TokenUsage::default()
    };
    assert_eq!(cost_usd(&only_total, &p), None);
    let only_prompt = TokenUsage {
        prompt_tokens: Some(10),
        ..TokenUsage::default()
    };
    assert_eq!(cost_usd(&only_prompt, &p), None);
}

#[test]
fn invalid_prices_give_no_cost_rather_than_nan() {
    for bad in [f64::NAN, f64::INFINITY, -1.0, MAX_PRICE_PER_MILLION * 2.0] {
        assert_eq!(cost_usd(&counts(1, 1), &price(bad, 1.0)), None, "{bad}");
        assert_eq!(cost_usd(&counts(1, 1), &price(1.0, bad)), None, "{bad}");
    }
}

#[test]
fn big_counts_stay_finite() {
    let huge = TokenUsage {
        prompt_tokens: Some(u64::MAX),
        completion_tokens: Some(u64::MAX),
        total_tokens: Some(u64::MAX),
        cached_tokens: Some(u64::MAX / 2),
        ..TokenUsage::default()
    };
    let usd = cost_usd(&huge, &price(MAX_PRICE_PER_MILLION, MAX_PRICE_PER_MILLION));
    assert!(usd.is_some_and(f64::is_finite), "{usd:?}");
    // A billion tokens at $15 per million is $15,000, to the cent.
    assert_usd(
        cost_usd(&counts(0, 1_000_000_000), &price(3.0, 15.0)),
        15_000.0,
    );
}

#[test]
fn provider_specific_price_comes_before_the_model_price() {
    let t = table(
        r#"{"org/m": {"input": 1, "output": 2}, "org/m:together": {"input": 0.5, "output": 0.5}}"#,
    );
    let c = t.cost(&counts(1_000_000, 0), "org/m", Some("together"));
    assert_eq!(
        c.as_ref().map(|c| c.price_key.as_str()),
        Some("org/m:together")
    );
    assert_usd(c.map(|c| c.usd), 0.5);
    let c = t.cost(&counts(1_000_000, 0), "org/m", Some("groq"));
    assert_eq!(c.as_ref().map(|c| c.price_key.as_str()), Some("org/m"));
    assert_usd(c.map(|c| c.usd), 1.0);
    let c = t.cost(&counts(1_000_000, 0), "org/m", None);
    assert_eq!(c.map(|c| c.price_key), Some("org/m".to_owned()));
}

#[test]
fn the_models_own_suffix_is_dropped_for_lookup() {
    let t =
        table(r#"{"org/m": {"input": 1, "output": 2}, "org/m:groq": {"input": 3, "output": 3}}"#);
    assert_eq!(
        t.lookup("org/m:fastest", None).map(|(k, _)| k),
        Some("org/m")
    );
    assert_eq!(
        t.lookup("org/m:groq", Some("GROQ")).map(|(k, _)| k),
        Some("org/m:groq")
    );
}

#[test]
fn no_price_is_no_cost_not_zero() {
    let t = table(r#"{"org/m": {"input": 1, "output": 2}}"#);
    assert_eq!(t.cost(&counts(10, 10), "org/other", Some("together")), None);
    assert_eq!(PriceTable::new().cost(&counts(10, 10), "org/m", None), None);
}

#[test]
fn estimated_usage_makes_an_estimated_cost() {
    let t = table(r#"{"org/m": {"input": 1, "output": 1}}"#);
    let u = resolve_usage(None, Some(EST)).unwrap_or_default();
    assert_eq!(t.cost(&u, "org/m", None).map(|c| c.estimated), Some(true));
    assert_eq!(
        t.cost(&counts(1, 1), "org/m", None).map(|c| c.estimated),
        Some(false)
    );
}

#[test]
fn caller_prices_accept_cached_input_in_both_spellings() {
    let t = table(
        r#"{"a": {"input": 1, "output": 2, "cached_input": 0.1}, "b": {"input": 1, "output": 2, "cachedInput": 0.2}, "c": {"input": 0, "output": 0}}"#,
    );
    assert_eq!(
        t.get("a").and_then(|p| p.cached_input_per_million),
        Some(0.1)
    );
    assert_eq!(
        t.get("b").and_then(|p| p.cached_input_per_million),
        Some(0.2)
    );
    assert_eq!(t.get("c").map(|p| p.output_per_million), Some(0.0));
}

#[test]
fn bad_caller_prices_are_input_errors_naming_the_entry_and_field() {
    let cases = [
        (r#"[]"#, "`prices` must be an object"),
        (r#"{"m": 3}"#, "`prices[\"m\"]` must be an object"),
        (
            r#"{"m": {"input": 1}}"#,
            "`prices[\"m\"].output` is required",
        ),
        (
            r#"{"m": {"input": -1, "output": 1}}"#,
            "`prices[\"m\"].input` must be from 0",
        ),
        (
            r#"{"m": {"input": "1", "output": 1}}"#,
            "`prices[\"m\"].input` must be a number",
        ),
        (
            r#"{"m": {"input": 1e7, "output": 1}}"#,
            "`prices[\"m\"].input` must be from 0",
        ),
        (
            r#"{"m": {"input": 1, "output": 1, "ouput": 1}}"#,
            "`prices[\"m\"].ouput` is not a price field",
        ),
        (r#"{"": {"input": 1, "output": 1}}"#, "key \"\""),
        (r#"{"m:": {"input": 1, "output": 1}}"#, "key \"m:\""),
        ("{", "not valid JSON"),
    ];
    for (json, want) in cases {
        let e = PriceTable::from_json(json).expect_err(json);
        assert_eq!(e.kind, ErrorKind::Input, "{json}");
        assert!(e.message.contains(want), "{json}: {}", e.message);
    }
}

#[test]
fn router_prices_load_from_the_model_list_and_the_caller_overrides_them() {
    let list = parse_model_list(
        r#"{"object":"list","data":[{"id":"org/m","providers":[
            {"provider":"groq","pricing":{"input":0.59,"output":0.79}},
            {"provider":"together","pricing":{"input":"0.88","output":0.88}},
            {"provider":"novita","pricing":{"input":0.1}},
            {"provider":"bad","pricing":{"input":-1,"output":1}}]}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let mut prices = PriceTable::from_model_list(&list);
    assert_eq!(prices.len(), 2, "{prices:?}");
    assert_usd(
        prices
            .cost(&counts(0, 1_000_000), "org/m", Some("groq"))
            .map(|c| c.usd),
        0.79,
    );
    prices.overlay(&table(r#"{"org/m:groq": {"input": 0, "output": 0.5}}"#));
    assert_usd(
        prices
            .cost(&counts(0, 1_000_000), "org/m", Some("groq"))
            .map(|c| c.usd),
        0.5,
    );
    assert_usd(
        prices
            .cost(&counts(1_000_000, 0), "org/m", Some("together"))
            .map(|c| c.usd),
        0.88,
    );
}

#[test]
fn insert_checks_key_and_price() {
    let mut t = PriceTable::new();
    assert!(t.insert("org/m:Groq", price(1.0, 1.0)).is_ok());
    assert!(t.get("org/m:groq").is_some(), "provider lowercased");
    assert_eq!(
        t.insert("org/m", price(f64::NAN, 1.0)).map_err(|e| e.kind),
        Err(ErrorKind::Input)
    );
    assert_eq!(
        t.insert(" ", price(1.0, 1.0)).map_err(|e| e.kind),
        Err(ErrorKind::Input)
    );
}

#[test]
fn usd_text_never_prints_float_noise() {
    assert_eq!(usd_text(0.1 + 0.2), "$0.30");
    assert_eq!(usd_text(15_000.0), "$15000.00");
}

proptest! {
    #[test]
    fn cost_is_finite_and_not_negative_for_any_counts(
        p in any::<u64>(), c in any::<u64>(), cached in proptest::option::of(any::<u64>()),
        input in 0.0..=MAX_PRICE_PER_MILLION, output in 0.0..=MAX_PRICE_PER_MILLION,
        cached_price in proptest::option::of(0.0..=MAX_PRICE_PER_MILLION),
    ) {
        let u = TokenUsage {
            prompt_tokens: Some(p),
            completion_tokens: Some(c),
            cached_tokens: cached,
            ..TokenUsage::default()
        };
        let pr = ModelPrice { input_per_million: input, output_per_million: output, cached_input_per_million: cached_price };
        let usd = cost_usd(&u, &pr);
        prop_assert!(usd.is_some_and(|v| v.is_finite() && v >= 0.0), "{:?}", usd);
    }

    #[test]
    fn cost_grows_with_tokens(p in 0u64..1_000_000_000, c in 0u64..1_000_000_000, extra in 1u64..1_000_000) {
        let pr = price(0.5, 1.5);
        let a = cost_usd(&counts(p, c), &pr).unwrap_or(f64::NAN);
        let b = cost_usd(&counts(p, c + extra), &pr).unwrap_or(f64::NAN);
        prop_assert!(b > a, "{} then {}", a, b);
    }

    #[test]
    fn usage_reading_never_panics(v in proptest::collection::vec(any::<u8>(), 0..64)) {
        let text = String::from_utf8_lossy(&v);
        let _ = TokenUsage::from_json(&json!({"prompt_tokens": text, "completion_tokens": text, "total_tokens": text}));
    }
}

// ---------------------------------------------------------------------------------------
// Which provider served it
// ---------------------------------------------------------------------------------------

const ROUTER: &str = "https://router.huggingface.co/v1/chat/completions";

#[test]
fn the_router_header_names_the_provider_first() {
    let body = json!({"provider": "groq"});
    let p = served_provider(
        [("X-Inference-Provider", " Together ")],
        body.as_object(),
        Some("org/m:fastest"),
        ROUTER,
    );
    assert_eq!(p.as_deref(), Some("together"));
}

#[test]
fn then_a_provider_field_in_the_body() {
    let body = json!({"provider": "Fireworks-AI"});
    let p = served_provider(
        [("x-request-id", "1")],
        body.as_object(),
        Some("org/m:groq"),
        ROUTER,
    );
    assert_eq!(p.as_deref(), Some("fireworks-ai"));
}

#[test]
fn then_the_models_provider_suffix_but_not_a_policy() {
    assert_eq!(
        served_provider([], None, Some("org/m:groq"), ROUTER).as_deref(),
        Some("groq")
    );
    assert_eq!(
        served_provider([], None, Some("org/m:cheapest"), ROUTER),
        None
    );
    assert_eq!(
        served_provider([], None, Some("org/m:newprovider"), ROUTER).as_deref(),
        Some("newprovider"),
        "a provider this version does not know yet"
    );
}

#[test]
fn then_the_router_path_as_recorded() {
    let mut seen = 0;
    for r in recordings() {
        let Some(path) = r.url.strip_prefix("https://router.huggingface.co/") else {
            continue;
        };
        let first = path.split('/').next().unwrap_or("");
        seen += 1;
        assert_eq!(
            served_provider([], None, None, &r.url).as_deref(),
            Some(first),
            "{}",
            r.url
        );
    }
    assert!(seen > 20, "{seen}");
}

#[test]
fn then_the_host_of_a_direct_call() {
    assert_eq!(
        served_provider(
            [],
            None,
            None,
            "https://api.together.xyz/v1/chat/completions"
        )
        .as_deref(),
        Some("together")
    );
    assert_eq!(
        served_provider([], None, None, "http://localhost:8080/v1/chat/completions"),
        None
    );
    assert_eq!(served_provider([], None, None, "not a url"), None);
}

#[test]
fn implausible_provider_names_are_skipped() {
    let body = json!({"provider": {"name": "x"}});
    let p = served_provider(
        [("x-inference-provider", "<script>")],
        body.as_object(),
        None,
        "https://router.huggingface.co/nebius/v1/chat/completions",
    );
    assert_eq!(p.as_deref(), Some("nebius"));
}
