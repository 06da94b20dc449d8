//! The response cache, one behaviour per test: the canonical key (key order,
//! whitespace, nesting, unicode, numbers, ignored fields, route), which requests are
//! cacheable in each mode, what may be stored, and the bounded store (LRU by entries
//! and bytes, TTL, collisions). Properties: the key ignores formatting and key order,
//! and the store never exceeds its bounds under any sequence of operations.
// Native only: uses proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::cache::{
    canonical_json, entry_size, fnv1a64, plan, storable, Admission, CacheId, CacheIndex, CacheKey,
    CacheMode, CacheOptions, CachePlan, Lookup, MemoryCache, Put, SkipReason, ENTRY_OVERHEAD_BYTES,
};
use hf_inference_wasm::types::parse_completion;
use hf_inference_wasm::ErrorKind;
use proptest::prelude::*;
use serde_json::Value;

#[path = "support/ours.rs"]
mod ours;

/// The canonical text of `serde_json`'s value, through the crate's.
fn canonical_of(v: &Value) -> String {
    canonical_json(&ours::ours(v))
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const ROUTE: &str = "https://router.huggingface.co/v1/chat/completions";

/// The key of `body` to `ROUTE` in force mode.
fn key(body: &str) -> CacheKey {
    key_to(body, ROUTE)
}

fn key_to(body: &str, route: &str) -> CacheKey {
    match plan(body, route, CacheMode::Force) {
        CachePlan::Use(k) => k,
        other => panic!("{body}: {other:?}"),
    }
}

fn canon(json: &str) -> String {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    canonical_of(&v)
}

fn opts(max_entries: usize, max_bytes: usize, ttl_ms: u64) -> CacheOptions {
    CacheOptions {
        max_entries,
        max_bytes,
        ttl_ms,
    }
}

/// A distinct key per `n`.
fn nth(n: usize) -> CacheKey {
    key(&format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{n}"}}]}}"#
    ))
}

// ---------------------------------------------------------------------------------------
// Canonical JSON
// ---------------------------------------------------------------------------------------

#[test]
fn key_order_and_whitespace_do_not_matter() {
    let a = r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#;
    let b = "{ \"messages\" : [ { \"content\" : \"hi\" ,\n \"role\" : \"user\" } ] ,\t\"temperature\":0, \"model\":\"m\" }";
    assert_eq!(key(a), key(b));
    assert_eq!(key(a).id, key(b).id);
}

#[test]
fn nested_objects_are_sorted_at_every_level() {
    assert_eq!(
        canon(r#"{"b":{"z":1,"a":[{"y":2,"x":1}]},"a":null}"#),
        r#"{"a":null,"b":{"a":[{"x":1,"y":2}],"z":1}}"#
    );
}

#[test]
fn array_order_matters() {
    assert_ne!(canon("[1,2]"), canon("[2,1]"));
    assert_ne!(
        key(r#"{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#),
        key(r#"{"messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]}"#)
    );
}

#[test]
fn keys_sort_by_code_point() {
    assert_eq!(
        canon(r#"{"é":1,"z":2,"Z":3,"日":4,"a":5,"😀":6}"#),
        r#"{"Z":3,"a":5,"z":2,"é":1,"日":4,"😀":6}"#
    );
}

#[test]
fn escapes_and_raw_unicode_are_one_key() {
    assert_eq!(canon(r#"{"c":"\u00e9\u65e5"}"#), canon(r#"{"c":"é日"}"#));
    assert_eq!(canon(r#""\ud83d\ude00""#), "\"😀\"");
    assert_eq!(canon(r#""\/""#), r#""/""#);
}

#[test]
fn unicode_is_not_normalized() {
    // "é" precomposed and "e" + combining acute are different prompts.
    assert_ne!(canon("\"\u{e9}\""), canon("\"e\u{301}\""));
}

#[test]
fn control_characters_are_escaped_one_way() {
    assert_eq!(
        canon(r#""a\"b\\c\n\t\r\b\f\u0001\u001f\u007f""#),
        "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\u{7f}\""
    );
}

#[test]
fn integral_floats_are_integers() {
    assert_eq!(canon("1.0"), "1");
    assert_eq!(canon("1e0"), "1");
    assert_eq!(canon("1E2"), "100");
    assert_eq!(canon("-0.0"), "0");
    assert_eq!(canon("-2.000"), "-2");
    assert_eq!(
        key(r#"{"messages":[],"temperature":1}"#),
        key(r#"{"messages":[],"temperature":1.0}"#)
    );
}

#[test]
fn other_floats_keep_their_shortest_form() {
    assert_eq!(canon("0.70"), "0.7");
    assert_eq!(canon("7e-1"), "0.7");
    assert_eq!(canon("1e300"), "1e+300");
    assert_eq!(canon("1E+300"), canon("1e300"));
    assert_eq!(canon("0.0000001"), canon("1e-7"));
    assert_eq!(canon("-1.5"), "-1.5");
    assert_ne!(canon("0.1"), canon("0.10000001"));
}

#[test]
fn big_integers_stay_exact() {
    assert_eq!(canon("18446744073709551615"), "18446744073709551615");
    assert_eq!(canon("-9223372036854775808"), "-9223372036854775808");
    assert_ne!(canon("9007199254740993"), canon("9007199254740992"));
}

#[test]
fn literals_are_as_json_writes_them() {
    assert_eq!(canon("[true,false,null]"), "[true,false,null]");
    assert_eq!(canon("{}"), "{}");
    assert_eq!(canon("[]"), "[]");
}

// ---------------------------------------------------------------------------------------
// The key
// ---------------------------------------------------------------------------------------

#[test]
fn transport_and_bookkeeping_options_are_left_out() {
    let base = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let noisy = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"user":"u-123","store":false,"metadata":{"a":"b"}}"#;
    assert_eq!(key(base), key(noisy));
}

#[test]
fn options_that_change_the_answer_are_kept() {
    let base = key(r#"{"model":"m","messages":[]}"#);
    for extra in [
        r#""temperature":0"#,
        r#""max_tokens":5"#,
        r#""seed":1"#,
        r#""n":2"#,
        r#""tools":[]"#,
        r#""response_format":{"type":"json_object"}"#,
        r#""service_tier":"flex""#,
    ] {
        let k = key(&format!(r#"{{"model":"m","messages":[],{extra}}}"#));
        assert_ne!(k, base, "{extra}");
    }
    assert_ne!(
        key(r#"{"model":"a","messages":[]}"#),
        key(r#"{"model":"b","messages":[]}"#)
    );
}

#[test]
fn the_route_is_part_of_the_key() {
    let body = r#"{"model":"m","messages":[]}"#;
    assert_ne!(
        key_to(body, ROUTE),
        key_to(body, "http://localhost:8080/v1/chat/completions")
    );
}

#[test]
fn the_key_has_a_version_and_a_stable_id() {
    let k = key(r#"{"model":"m","messages":[]}"#);
    assert_eq!(
        k.canonical,
        format!(r#"{{"request":{{"messages":[],"model":"m"}},"route":"{ROUTE}","v":1}}"#)
    );
    assert_eq!(k.id, CacheId(fnv1a64(k.canonical.as_bytes())));
    assert_eq!(k.id.hex().len(), 16);
    assert_eq!(CacheKey::of_canonical(k.canonical.clone()), k);
    // Pinned, so that a change to the canonical form is noticed (and KEY_VERSION bumped).
    assert_eq!(
        key_to(r#"{"model":"m","messages":[]}"#, "r").id.hex(),
        CacheId(fnv1a64(
            br#"{"request":{"messages":[],"model":"m"},"route":"r","v":1}"#
        ))
        .hex()
    );
}

// ---------------------------------------------------------------------------------------
// Cacheable or not
// ---------------------------------------------------------------------------------------

#[test]
fn auto_caches_only_temperature_zero() {
    let cached = |body: &str| matches!(plan(body, ROUTE, CacheMode::Auto), CachePlan::Use(_));
    assert!(cached(r#"{"messages":[],"temperature":0}"#));
    assert!(cached(r#"{"messages":[],"temperature":0.0}"#));
    assert!(cached(r#"{"messages":[],"temperature":-0.0}"#));
    for sampling in [
        r#"{"messages":[]}"#,
        r#"{"messages":[],"temperature":null}"#,
        r#"{"messages":[],"temperature":0.7}"#,
        r#"{"messages":[],"temperature":"0"}"#,
        r#"{"messages":[],"seed":42}"#,
    ] {
        assert_eq!(
            plan(sampling, ROUTE, CacheMode::Auto),
            CachePlan::Skip(SkipReason::Sampling),
            "{sampling}"
        );
    }
}

#[test]
fn force_caches_sampling_requests_and_off_caches_nothing() {
    let body = r#"{"messages":[],"temperature":1.2}"#;
    assert!(matches!(
        plan(body, ROUTE, CacheMode::Force),
        CachePlan::Use(_)
    ));
    assert_eq!(
        plan(r#"{"temperature":0}"#, ROUTE, CacheMode::Off),
        CachePlan::Skip(SkipReason::Off)
    );
}

#[test]
fn a_body_that_is_not_an_object_is_not_cached() {
    for bad in ["", "[]", "nope", "{", "null"] {
        assert_eq!(
            plan(bad, ROUTE, CacheMode::Force),
            CachePlan::Skip(SkipReason::NotAnObject),
            "{bad:?}"
        );
    }
}

#[test]
fn mode_names_parse_and_others_are_input_errors() {
    assert_eq!(CacheMode::parse("auto").ok(), Some(CacheMode::Auto));
    assert_eq!(CacheMode::parse(" force ").ok(), Some(CacheMode::Force));
    assert_eq!(CacheMode::parse("off").ok(), Some(CacheMode::Off));
    assert_eq!(CacheMode::default(), CacheMode::Off);
    let e = CacheMode::parse("always").expect_err("unknown");
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("`cache`"), "{}", e.message);
}

#[test]
fn only_complete_answers_are_storable() {
    let done = parse_completion(
        r#"{"choices":[{"message":{"content":"a"},"finish_reason":"stop"},{"index":1,"message":{"content":"b"},"finish_reason":"length"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(storable(&done, false));
    assert!(!storable(&done, true), "a truncated stream");
    let unfinished = parse_completion(
        r#"{"choices":[{"message":{"content":"a"},"finish_reason":"stop"},{"index":1,"message":{"content":"b"},"finish_reason":null}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!storable(&unfinished, false));
    let empty = parse_completion(r#"{"choices":[]}"#).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!storable(&empty, false));
}

// ---------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------

#[test]
fn a_stored_value_is_served_until_its_ttl() {
    let mut c = MemoryCache::new(opts(10, 1 << 20, 1000));
    let k = nth(1);
    assert_eq!(c.put(&k, "v", 100), Put::Stored { evicted: 0 });
    assert_eq!(c.get(&k, 100).as_deref(), Some("v"));
    assert_eq!(c.get(&k, 1099).as_deref(), Some("v"));
    assert_eq!(c.get(&k, 1100), None, "expired at stored + ttl");
    assert!(c.is_empty(), "an expired entry is dropped when seen");
    assert_eq!(c.bytes(), 0);
}

#[test]
fn a_clock_going_backwards_does_not_revive_or_extend() {
    let mut c = MemoryCache::new(opts(10, 1 << 20, 1000));
    let k = nth(1);
    let _ = c.put(&k, "v", 5000);
    assert_eq!(c.get(&k, 6000), None);
    let _ = c.put(&k, "v", 100);
    // Stored "at 100" but the latest time seen is 6000: expired on arrival for the
    // index, which `MemoryCache` reports as not stored.
    assert_eq!(c.get(&k, 200), None);
}

#[test]
fn the_least_recently_used_entry_goes_first() {
    let mut c = MemoryCache::new(opts(2, 1 << 20, 10_000));
    let _ = c.put(&nth(1), "one", 0);
    let _ = c.put(&nth(2), "two", 1);
    assert!(c.get(&nth(1), 2).is_some(), "1 is now more recent than 2");
    assert_eq!(c.put(&nth(3), "three", 3), Put::Stored { evicted: 1 });
    assert!(c.get(&nth(2), 4).is_none());
    assert!(c.get(&nth(1), 4).is_some());
    assert!(c.get(&nth(3), 4).is_some());
    assert_eq!(c.len(), 2);
}

#[test]
fn the_byte_bound_evicts_as_many_as_needed() {
    let k1 = nth(1);
    let size = entry_size(&k1, 100);
    let mut c = MemoryCache::new(opts(100, size * 3, 10_000));
    for n in 1..=3 {
        assert_eq!(
            c.put(&nth(n), &"x".repeat(100), n as u64),
            Put::Stored { evicted: 0 }
        );
    }
    assert_eq!(c.bytes(), size * 3);
    // One entry of twice the size needs two evictions.
    assert_eq!(
        c.put(
            &nth(4),
            &"y".repeat(200 + k1.canonical.len() + ENTRY_OVERHEAD_BYTES),
            5
        ),
        Put::Stored { evicted: 2 }
    );
    assert!(c.bytes() <= size * 3);
    assert!(c.get(&nth(1), 6).is_none() && c.get(&nth(2), 6).is_none());
    assert!(c.get(&nth(3), 6).is_some());
}

#[test]
fn an_entry_larger_than_the_cache_is_not_stored() {
    let mut c = MemoryCache::new(opts(10, 500, 10_000));
    let _ = c.put(&nth(1), "small", 0);
    assert_eq!(c.put(&nth(2), &"x".repeat(600), 0), Put::TooLarge);
    assert!(c.get(&nth(1), 1).is_some(), "nothing was evicted for it");
}

#[test]
fn expired_entries_are_evicted_before_fresh_ones() {
    let mut c = MemoryCache::new(opts(2, 1 << 20, 1000));
    let _ = c.put(&nth(1), "old", 0);
    let _ = c.put(&nth(2), "new", 900);
    // At 1500, entry 1 is expired; making room drops it rather than entry 2.
    assert_eq!(c.put(&nth(3), "newer", 1500), Put::Stored { evicted: 1 });
    assert!(c.get(&nth(2), 1501).is_some());
    assert_eq!(c.purge_expired(5000), 2);
    assert!(c.is_empty());
}

#[test]
fn replacing_a_key_keeps_one_entry() {
    let mut c = MemoryCache::new(opts(10, 1 << 20, 1000));
    let k = nth(1);
    let _ = c.put(&k, "a", 0);
    let _ = c.put(&k, "bb", 1);
    assert_eq!(c.len(), 1);
    assert_eq!(c.bytes(), entry_size(&k, 2));
    assert_eq!(c.get(&k, 2).as_deref(), Some("bb"));
    assert!(c.remove(&k));
    assert!(!c.remove(&k));
    assert_eq!(c.bytes(), 0);
}

#[test]
fn a_hash_collision_is_a_miss_not_a_wrong_answer() {
    let mut c = MemoryCache::new(CacheOptions::default());
    let real = nth(1);
    let _ = c.put(&real, "answer", 0);
    let impostor = CacheKey {
        canonical: "something else".to_owned(),
        id: real.id,
    };
    assert_eq!(c.get(&impostor, 1), None);
    assert_eq!(c.get(&real, 1).as_deref(), Some("answer"));
}

#[test]
fn the_index_tells_a_shell_store_what_to_delete() {
    let mut index = CacheIndex::new(opts(2, 1 << 20, 1000));
    let (a, b, c) = (CacheId(1), CacheId(2), CacheId(3));
    assert_eq!(index.lookup(a, 0), Lookup::Absent);
    assert_eq!(index.admit(a, 10, 0, 0), Admission::Store { evict: vec![] });
    assert_eq!(index.admit(b, 10, 1, 1), Admission::Store { evict: vec![] });
    assert_eq!(
        index.admit(c, 10, 2, 2),
        Admission::Store { evict: vec![a] }
    );
    assert_eq!(index.lookup(b, 1001), Lookup::Expired);
    assert_eq!(
        index.lookup(b, 1001),
        Lookup::Absent,
        "forgotten once reported"
    );
    // Adopting an entry a persistent store kept: its age counts.
    assert_eq!(index.admit(a, 10, 0, 1500), Admission::Stale);
    assert_eq!(
        index.admit(a, 10, 1000, 1500),
        Admission::Store { evict: vec![] }
    );
    assert_eq!(index.lookup(a, 1999), Lookup::Fresh);
    assert_eq!(index.lookup(a, 2000), Lookup::Expired);
    assert_eq!(index.admit(a, 1 << 21, 2000, 2000), Admission::TooLarge);
}

#[test]
fn bounds_must_be_positive() {
    assert!(CacheOptions::default().check().is_ok());
    for (o, name) in [
        (opts(0, 1, 1), "cache.maxEntries"),
        (opts(1, 0, 1), "cache.maxBytes"),
        (opts(1, 1, 0), "cache.ttlMs"),
    ] {
        let e = o.check().expect_err(name);
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains(name), "{}", e.message);
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Floats as requests carry them (0.7, 0.95, 1.25): a few significant digits.
        // (`serde_json` parses a float of more than ~15 digits to within one ulp, so
        // two spellings of such a number can be two keys; see the cache docs.)
        (-1_000_000i64..1_000_000, 1u32..4)
            .prop_map(|(m, d)| Value::from(m as f64 / 10f64.powi(d as i32))),
        "[a-zé日😀\"\\\\\n ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Zé]{0,4}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `v` written with its object keys reversed and spaces everywhere allowed.
fn scrambled(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scrambled).collect();
            format!("[ {} ]", parts.join(" , "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{} :\n{}", Value::String(k.clone()), scrambled(v)))
                .collect();
            format!("{{\t{} }}", parts.join(" ,"))
        }
        other => other.to_string(),
    }
}

proptest! {
    #[test]
    fn formatting_and_key_order_never_change_the_key(v in arb_json()) {
        let text = scrambled(&v);
        let back: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(canonical_of(&back), canonical_of(&v));
    }

    #[test]
    fn canonical_json_is_valid_json_of_the_same_value(v in arb_json()) {
        let c = canonical_of(&v);
        let back: Value = serde_json::from_str(&c).map_err(|e| TestCaseError::fail(format!("{c}: {e}")))?;
        // Re-canonicalizing is a fixed point.
        prop_assert_eq!(canonical_of(&back), c);
    }

    #[test]
    fn the_store_stays_within_its_bounds(
        ops in proptest::collection::vec((0usize..20, 0usize..300, 0u64..50, any::<bool>()), 1..200),
        max_entries in 1usize..8,
        max_bytes in 1usize..2000,
    ) {
        let mut c = MemoryCache::new(opts(max_entries, max_bytes, 300));
        let mut now = 0u64;
        for (n, len, dt, put) in ops {
            now += dt;
            if put {
                let _ = c.put(&nth(n), &"v".repeat(len), now);
            } else {
                let _ = c.get(&nth(n), now);
            }
            prop_assert!(c.len() <= max_entries);
            prop_assert!(c.bytes() <= max_bytes);
        }
    }
}
