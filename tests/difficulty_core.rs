//! Routing by difficulty, one behaviour per test: each condition, first match wins,
//! the default rule, the chosen rule as reported, a request's own model winning, and
//! every validation error naming its rule index and field. Property: a router with a
//! default rule always chooses, and the choice is the first rule that matches.
// Native only: uses proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::difficulty::{
    apply_route, Chosen, RequestFacts, RouteRule, Routed, Router, When, MAX_RULES,
};
use hf_inference_wasm::usage::estimate_prompt_tokens;
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

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn router(json: &str) -> Router {
    Router::from_json(json).unwrap_or_else(|e| panic!("{json}: {e:?}"))
}

fn facts(prompt_tokens: u64, has_tools: bool, tier: Option<&str>) -> RequestFacts {
    RequestFacts {
        prompt_tokens,
        has_tools,
        tier: tier.map(str::to_owned),
    }
}

fn chosen_index(r: &Router, f: &RequestFacts) -> Option<usize> {
    r.choose(f).map(|c| c.index)
}

/// The input error for `json`, with its message.
fn invalid(json: &str) -> String {
    let e = Router::from_json(json).expect_err(json);
    assert_eq!(e.kind, ErrorKind::Input, "{json}");
    e.message
}

const TIERED: &str = r#"[
  {"when": {"maxPromptTokens": 2000, "tools": false}, "model": "org/small"},
  {"when": {"tier": "pro"}, "model": "org/large", "provider": "together"},
  {"when": {"minPromptTokens": 50000}, "model": "org/long-context"},
  {"model": "org/medium"}
]"#;

// ---------------------------------------------------------------------------------------
// Choosing
// ---------------------------------------------------------------------------------------

#[test]
fn max_prompt_tokens_is_inclusive() {
    let r = router(TIERED);
    assert_eq!(chosen_index(&r, &facts(2000, false, None)), Some(0));
    assert_eq!(chosen_index(&r, &facts(2001, false, None)), Some(3));
}

#[test]
fn min_prompt_tokens_is_inclusive() {
    let r = router(TIERED);
    assert_eq!(chosen_index(&r, &facts(50_000, false, None)), Some(2));
    assert_eq!(chosen_index(&r, &facts(49_999, false, None)), Some(3));
}

#[test]
fn tools_condition_checks_presence() {
    let r = router(TIERED);
    assert_eq!(chosen_index(&r, &facts(10, true, None)), Some(3));
    let r = router(r#"[{"when": {"tools": true}, "model": "org/tool-user"}, {"model": "d"}]"#);
    assert_eq!(chosen_index(&r, &facts(10, true, None)), Some(0));
    assert_eq!(chosen_index(&r, &facts(10, false, None)), Some(1));
}

#[test]
fn tier_must_match_exactly_and_a_call_without_tier_matches_no_tier_rule() {
    let r = router(TIERED);
    assert_eq!(chosen_index(&r, &facts(5000, false, Some("pro"))), Some(1));
    assert_eq!(chosen_index(&r, &facts(5000, false, Some("Pro"))), Some(3));
    assert_eq!(chosen_index(&r, &facts(5000, false, None)), Some(3));
}

#[test]
fn the_first_matching_rule_wins() {
    let r = router(TIERED);
    // Small and "pro": rule 0 comes first.
    assert_eq!(chosen_index(&r, &facts(10, false, Some("pro"))), Some(0));
}

#[test]
fn conditions_of_one_rule_must_all_hold() {
    let r = router(
        r#"[{"when": {"minPromptTokens": 10, "maxPromptTokens": 20, "tools": true, "tier": "t"}, "model": "m"}]"#,
    );
    assert_eq!(chosen_index(&r, &facts(15, true, Some("t"))), Some(0));
    for f in [
        facts(9, true, Some("t")),
        facts(21, true, Some("t")),
        facts(15, false, Some("t")),
        facts(15, true, Some("u")),
    ] {
        assert_eq!(chosen_index(&r, &f), None, "{f:?}");
    }
}

#[test]
fn the_chosen_rule_reports_its_index_model_and_provider() {
    let r = router(TIERED);
    assert_eq!(
        r.choose(&facts(5000, false, Some("pro"))),
        Some(Chosen {
            index: 1,
            model: "org/large:together".to_owned(),
            provider: Some("together".to_owned()),
            prompt_tokens: 5000,
        })
    );
}

#[test]
fn facts_come_from_the_documented_estimate() {
    let req = json!({"messages": [{"role": "user", "content": "x".repeat(4000)}], "tools": [{"type": "function", "function": {"name": "f"}}]});
    let f = RequestFacts::of_request(&req, Some("pro"));
    assert_eq!(f.prompt_tokens, estimate_prompt_tokens(&req));
    assert!(f.has_tools);
    assert_eq!(f.tier.as_deref(), Some("pro"));
    let no_tools = json!({"messages": [], "tools": []});
    assert!(
        !RequestFacts::of_request(&no_tools, None).has_tools,
        "an empty list is no tools"
    );
}

// ---------------------------------------------------------------------------------------
// Applying to a request
// ---------------------------------------------------------------------------------------

#[test]
fn a_request_without_model_gets_the_chosen_one() {
    let r = router(TIERED);
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0,"seed":18446744073709551615}"#;
    let Ok(Routed::Chosen { body, choice }) = apply_route(body, &r, None) else {
        panic!("not routed");
    };
    assert_eq!(choice.index, 0);
    let v = Value::parse(&body).unwrap_or(Value::Null);
    assert_eq!(v["model"], "org/small");
    assert_eq!(v["temperature"], 0);
    assert_eq!(
        v["seed"],
        json!(18446744073709551615u64),
        "other fields kept exactly"
    );
}

#[test]
fn a_request_naming_its_model_is_left_alone() {
    let r = router(TIERED);
    let body = r#"{"model":"org/mine","messages":[]}"#;
    assert_eq!(apply_route(body, &r, Some("pro")), Ok(Routed::Explicit));
    // An empty model names nothing.
    let body = r#"{"model":"","messages":[]}"#;
    assert!(matches!(
        apply_route(body, &r, None),
        Ok(Routed::Chosen { .. })
    ));
}

#[test]
fn no_match_and_no_default_is_an_input_error_saying_why() {
    let r = router(r#"[{"when": {"tier": "pro"}, "model": "org/large"}]"#);
    let e = apply_route(
        r#"{"messages":[{"role":"user","content":"abcd"}]}"#,
        &r,
        None,
    )
    .expect_err("no match");
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message.contains("no `route` rule matched"),
        "{}",
        e.message
    );
    assert!(e.message.contains("about 8 prompt tokens"), "{}", e.message);
    assert!(e.message.contains("no tools, no tier"), "{}", e.message);
    let e = apply_route("[]", &r, None).expect_err("not an object");
    assert_eq!(e.kind, ErrorKind::Input);
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

#[test]
fn a_default_rule_before_others_is_an_error() {
    let m = invalid(r#"[{"model": "a"}, {"when": {"tier": "x"}, "model": "b"}]"#);
    assert!(m.starts_with("`route[0]` has no `when`"), "{m}");
    let m = invalid(
        r#"[{"when": {"tier": "x"}, "model": "b"}, {"when": {}, "model": "a"}, {"model": "c"}]"#,
    );
    assert!(m.starts_with("`route[1]` has no `when`"), "{m}");
}

#[test]
fn every_field_error_names_the_rule_and_field() {
    let cases = [
        (r#"{}"#, "`route` must be an array"),
        (r#"[]"#, "`route` must list at least one rule"),
        (r#"[3]"#, "`route[0]` must be an object"),
        (r#"[{"when": {}}]"#, "`route[0].model` is required"),
        (r#"[{"model": 1}]"#, "`route[0].model` must be a string"),
        (r#"[{"model": " "}]"#, "`route[0].model` must not be empty"),
        (
            r#"[{"model": "m", "modle": "x"}]"#,
            "`route[0].modle` is not a rule field",
        ),
        (
            r#"[{"model": "m", "provider": 7}]"#,
            "`route[0].provider` must be a string",
        ),
        (
            r#"[{"model": "m", "provider": "Together AI"}]"#,
            "`route[0].provider` must be a provider name",
        ),
        (
            r#"[{"model": "m:groq", "provider": "together"}]"#,
            "`route[0].model` already has a `:suffix`",
        ),
        (
            r#"[{"model": "m", "when": []}]"#,
            "`route[0].when` must be an object",
        ),
        (
            r#"[{"when": {"tier": "a"}, "model": "m"}, {"when": {"maxPromptToken": 5}, "model": "m"}]"#,
            "`route[1].when.maxPromptToken` is not a condition",
        ),
        (
            r#"[{"when": {"maxPromptTokens": -1}, "model": "m"}]"#,
            "`route[0].when.maxPromptTokens` must be a whole number",
        ),
        (
            r#"[{"when": {"minPromptTokens": 1.5}, "model": "m"}]"#,
            "`route[0].when.minPromptTokens` must be a whole number",
        ),
        (
            r#"[{"when": {"maxPromptTokens": "100"}, "model": "m"}]"#,
            "`route[0].when.maxPromptTokens` must be a whole number",
        ),
        (
            r#"[{"when": {"tools": "yes"}, "model": "m"}]"#,
            "`route[0].when.tools` must be true or false",
        ),
        (
            r#"[{"when": {"tier": 1}, "model": "m"}]"#,
            "`route[0].when.tier` must be a string",
        ),
        (
            r#"[{"when": {"tier": ""}, "model": "m"}]"#,
            "`route[0].when.tier` must be a non-empty string",
        ),
        (
            r#"[{"when": {"minPromptTokens": 10, "maxPromptTokens": 5}, "model": "m"}]"#,
            "`route[0].when` can never match",
        ),
        ("[", "`route` is not valid JSON"),
    ];
    for (json, want) in cases {
        let m = invalid(json);
        assert!(m.starts_with(want), "{json}: {m}");
    }
}

#[test]
fn whole_floats_and_nulls_are_accepted() {
    let r = router(
        r#"[{"when": {"maxPromptTokens": 100.0, "tier": null, "tools": null}, "provider": null, "model": "m"}]"#,
    );
    assert_eq!(r.rules()[0].when.max_prompt_tokens, Some(100));
    assert_eq!(r.rules()[0].when.tier, None);
}

#[test]
fn too_many_rules_are_refused() {
    let rules: Vec<Value> = (0..=MAX_RULES)
        .map(|i| json!({"when": {"maxPromptTokens": i}, "model": "m"}))
        .collect();
    let m = invalid(&Value::Array(rules).to_string());
    assert!(m.contains("at most 64"), "{m}");
}

#[test]
fn rules_built_in_rust_are_checked_the_same_way() {
    let bad = Router::new(vec![RouteRule {
        when: When::default(),
        model: String::new(),
        provider: None,
    }]);
    assert_eq!(bad.map_err(|e| e.kind), Err(ErrorKind::Input));
}

// ---------------------------------------------------------------------------------------
// Property
// ---------------------------------------------------------------------------------------

fn arb_when() -> impl Strategy<Value = When> {
    (
        proptest::option::of(0u64..5000),
        proptest::option::of(0u64..5000),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![Just("a".to_owned()), Just("b".to_owned())]),
    )
        .prop_map(|(max, min, tools, tier)| When {
            max_prompt_tokens: max,
            min_prompt_tokens: match (min, max) {
                (Some(lo), Some(hi)) => Some(lo.min(hi)),
                (lo, _) => lo,
            },
            tools,
            tier,
        })
        .prop_filter("a condition", |w| !w.is_empty())
}

proptest! {
    #[test]
    fn with_a_default_something_is_always_chosen_and_it_is_the_first_match(
        whens in proptest::collection::vec(arb_when(), 0..8),
        prompt in 0u64..6000, tools in any::<bool>(),
        tier in proptest::option::of(prop_oneof![Just("a"), Just("b"), Just("c")]),
    ) {
        let mut rules: Vec<RouteRule> = whens
            .iter()
            .enumerate()
            .map(|(i, w)| RouteRule { when: w.clone(), model: format!("m{i}"), provider: None })
            .collect();
        rules.push(RouteRule { when: When::default(), model: "default".to_owned(), provider: None });
        let r = Router::new(rules.clone()).map_err(|e| TestCaseError::fail(e.message))?;
        let f = facts(prompt, tools, tier);
        let c = r.choose(&f);
        prop_assert!(c.is_some());
        let i = c.map_or(usize::MAX, |c| c.index);
        prop_assert!(rules[i].when.matches(&f));
        prop_assert!(rules[..i].iter().all(|r| !r.when.matches(&f)));
    }
}
