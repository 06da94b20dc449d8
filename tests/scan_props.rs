//! The hot-path JSON scanner (`scan`) against `serde_json` as the oracle: on generated
//! chat chunks and TGI events (random strings with escapes, surrogates and unicode,
//! random numbers, unknown nested fields, duplicate and escaped keys, random
//! whitespace) every field the scanner extracts equals what `serde_json` reads; on
//! random and mutated bytes the scanner accepts exactly what `serde_json` accepts.
// Native only: proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::scan::{
    decode_str, rescan_chat, scan_chat, scan_tgi, validate, ChatScan, Kind, Span, TgiScan,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

#[path = "support/json_gen.rs"]
mod json_gen;
use json_gen::{chat_chunk, mutate, render, text, tgi_event, value};

fn serde_ok(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok()
}

/// What a span holds, read by `serde_json` (and, for strings, by `decode_str` too).
fn val(text: &str, span: Option<Span>) -> Option<Value> {
    let span = span?;
    let v: Value = serde_json::from_str(span.json(text)).expect("a span is one JSON value");
    let kind = match &v {
        Value::Null => Kind::Null,
        Value::Bool(false) => Kind::False,
        Value::Bool(true) => Kind::True,
        Value::Number(_) => Kind::Number,
        Value::String(s) => {
            let mut out = String::new();
            decode_str(text, &span, &mut out);
            assert_eq!(&out, s, "decode_str of {:?}", span.json(text));
            assert_eq!(span.plain(text).is_some(), !span.escaped);
            Kind::String
        }
        Value::Array(_) => Kind::Array,
        Value::Object(_) => Kind::Object,
    };
    assert_eq!(span.kind, kind);
    Some(v)
}

/// `(key, value)` spans as a map, the last duplicate winning.
fn map_of(text: &str, fields: &[(Span, Span)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in fields {
        let mut key = String::new();
        decode_str(text, k, &mut key);
        m.insert(key, val(text, Some(*v)).unwrap_or(Value::Null));
    }
    m
}

/// `v`'s members other than `known`.
fn rest(v: &Value, known: &[&str]) -> Map<String, Value> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !known.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Every field of `s` equals what `serde_json` reads from `text`.
fn check_chat(text: &str, s: &ChatScan) {
    let v: Value = serde_json::from_str(text).unwrap();
    if !v.is_object() {
        assert_ne!(s.root, Some(Kind::Object));
        return;
    }
    assert_eq!(s.root, Some(Kind::Object));
    for (name, span) in [
        ("id", s.id),
        ("object", s.object),
        ("created", s.created),
        ("model", s.model),
        ("system_fingerprint", s.system_fingerprint),
        ("usage", s.usage),
        ("error", s.error),
        ("choices", s.choices),
    ] {
        assert_eq!(val(text, span).as_ref(), v.get(name), "{name} in {text}");
    }
    let known = [
        "id",
        "object",
        "created",
        "model",
        "system_fingerprint",
        "usage",
        "error",
        "choices",
    ];
    assert_eq!(map_of(text, &s.extra), rest(&v, &known), "extra of {text}");
    let Some(Value::Array(choices)) = v.get("choices") else {
        assert!(s.choice_list.is_empty());
        return;
    };
    assert_eq!(s.choice_list.len(), choices.len(), "{text}");
    for (c, cv) in s.choice_list.iter().zip(choices) {
        assert_eq!(val(text, c.item).as_ref(), Some(cv));
        if !cv.is_object() {
            continue;
        }
        for (name, span) in [
            ("index", c.index),
            ("finish_reason", c.finish_reason),
            ("logprobs", c.logprobs),
            ("delta", c.delta),
        ] {
            assert_eq!(val(text, span).as_ref(), cv.get(name), "{name}");
        }
        let extra = &s.choice_extra[c.extra.clone()];
        assert_eq!(
            map_of(text, extra),
            rest(cv, &["index", "finish_reason", "logprobs", "delta"])
        );
        let tools = &s.tools[c.tools.clone()];
        let Some(d) = cv.get("delta").filter(|d| d.is_object()) else {
            assert!(tools.is_empty());
            continue;
        };
        for (name, span) in [
            ("role", c.role),
            ("content", c.content),
            ("reasoning_content", c.reasoning_content),
            ("reasoning", c.reasoning),
            ("tool_calls", c.tool_calls),
        ] {
            assert_eq!(val(text, span).as_ref(), d.get(name), "delta.{name}");
        }
        let Some(Value::Array(calls)) = d.get("tool_calls") else {
            assert!(tools.is_empty());
            continue;
        };
        assert_eq!(tools.len(), calls.len());
        for (t, tv) in tools.iter().zip(calls) {
            assert_eq!(val(text, t.item).as_ref(), Some(tv));
            for (name, span) in [
                ("index", t.index),
                ("id", t.id),
                ("type", t.kind),
                ("function", t.function),
            ] {
                assert_eq!(val(text, span).as_ref(), tv.get(name), "tool.{name}");
            }
            let f = tv.get("function").filter(|f| f.is_object());
            assert_eq!(val(text, t.name).as_ref(), f.and_then(|f| f.get("name")));
            assert_eq!(
                val(text, t.arguments).as_ref(),
                f.and_then(|f| f.get("arguments"))
            );
        }
    }
}

fn check_tgi(text: &str, s: &TgiScan) {
    let v: Value = serde_json::from_str(text).unwrap();
    if !v.is_object() {
        assert_ne!(s.root, Some(Kind::Object));
        return;
    }
    for (name, span) in [
        ("token", s.token),
        ("generated_text", s.generated_text),
        ("details", s.details),
        ("error", s.error),
        ("error_type", s.error_type),
        ("object", s.object),
    ] {
        assert_eq!(val(text, span).as_ref(), v.get(name), "{name} in {text}");
    }
    let token = v.get("token").filter(|t| t.is_object());
    for (name, span) in [
        ("id", s.token_id),
        ("text", s.token_text),
        ("logprob", s.token_logprob),
        ("special", s.token_special),
    ] {
        assert_eq!(
            val(text, span).as_ref(),
            token.and_then(|t| t.get(name)),
            "token.{name}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn chat_chunks_scan_to_what_serde_json_reads(j in chat_chunk(), seed in any::<u64>()) {
        let text = render(&j, seed);
        let mut s = ChatScan::default();
        let mut scratch = String::new();
        let ok = scan_chat(&text, &mut s, &mut scratch).is_ok();
        prop_assert_eq!(ok, serde_ok(text.as_bytes()), "{}", text);
        if ok {
            check_chat(&text, &s);
        }
    }

    #[test]
    fn a_chunk_rescanned_from_the_one_before_scans_as_itself(
        j in chat_chunk(),
        seed in any::<u64>(),
        from in any::<prop::sample::Index>(),
        len in 0usize..16,
        with in prop_oneof![3 => "[a-z ]{0,12}".boxed(), 1 => text().boxed()],
        edits in prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..3),
        ],
    ) {
        let before = render(&j, seed);
        let mut s = ChatScan::default();
        let mut scratch = String::new();
        prop_assume!(scan_chat(&before, &mut s, &mut scratch).is_ok());
        // The next chunk: a piece of the text replaced (often inside a string), then maybe
        // a few bytes changed anywhere.
        let floor = |mut i: usize| {
            while !before.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        // Half the time the piece lies inside one of the chunk's string values.
        let strings: Vec<Span> = [s.id, s.object, s.model, s.system_fingerprint]
            .into_iter()
            .chain(s.choice_list.iter().flat_map(|c| [c.content, c.role, c.finish_reason, c.reasoning_content, c.reasoning]))
            .chain(s.tools.iter().flat_map(|t| [t.id, t.name, t.arguments]))
            .chain(s.extra.iter().chain(&s.choice_extra).map(|(_, v)| Some(*v)))
            .flatten()
            .filter(|v| v.kind == Kind::String)
            .collect();
        let (lo, hi) = match strings.get(from.index(strings.len() * 2 + 1)) {
            Some(v) => (v.start, v.end),
            None => (0, before.len()),
        };
        let at = floor(lo + from.index(hi - lo + 1));
        let end = floor((at + len).min(hi));
        let spliced = format!("{}{}{}", &before[..at], with, &before[end..]);
        let bytes = mutate(spliced.as_bytes(), &edits);
        let Ok(after) = std::str::from_utf8(&bytes) else {
            return Ok(());
        };
        let mut again = s.clone();
        let mut fresh = ChatScan::default();
        let scanned = scan_chat(after, &mut fresh, &mut scratch).is_ok();
        if rescan_chat(after, &before, &mut again).is_some() {
            prop_assert!(scanned, "rescanned text serde_json rejects: {:?} after {:?}", after, before);
            prop_assert_eq!(&again, &fresh, "{:?} after {:?}", after, before);
        } else {
            prop_assert_eq!(&again, &s, "a refused rescan changed the scan");
        }
    }

    #[test]
    fn tgi_events_scan_to_what_serde_json_reads(j in tgi_event(), seed in any::<u64>()) {
        let text = render(&j, seed);
        let mut s = TgiScan::default();
        let mut scratch = String::new();
        let ok = scan_tgi(&text, &mut s, &mut scratch).is_ok();
        prop_assert_eq!(ok, serde_ok(text.as_bytes()), "{}", text);
        if ok {
            check_tgi(&text, &s);
        }
    }

    #[test]
    fn any_value_is_accepted_iff_serde_json_accepts_it(j in value(), seed in any::<u64>()) {
        let text = render(&j, seed);
        prop_assert_eq!(validate(text.as_bytes()), serde_ok(text.as_bytes()), "{}", text);
    }

    #[test]
    fn mutated_chunks_are_accepted_iff_serde_json_accepts_them(
        j in chat_chunk(),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let bytes = mutate(render(&j, seed).as_bytes(), &edits);
        let want = serde_ok(&bytes);
        prop_assert_eq!(validate(&bytes), want, "{:?}", String::from_utf8_lossy(&bytes));
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let mut s = ChatScan::default();
            let mut t = TgiScan::default();
            let mut scratch = String::new();
            prop_assert_eq!(scan_chat(text, &mut s, &mut scratch).is_ok(), want);
            prop_assert_eq!(scan_tgi(text, &mut t, &mut scratch).is_ok(), want);
            if want {
                check_chat(text, &s);
                check_tgi(text, &t);
            }
        }
    }

    #[test]
    fn random_bytes_are_accepted_iff_serde_json_accepts_them(
        bytes in prop::collection::vec(prop::sample::select(json_gen::INTERESTING.to_vec()), 0..24),
    ) {
        prop_assert_eq!(validate(&bytes), serde_ok(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_bytes_are_accepted_iff_serde_json_accepts_them(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
        prop_assert_eq!(validate(&bytes), serde_ok(&bytes));
    }

    #[test]
    fn numbers_are_accepted_iff_serde_json_accepts_them(
        n in "-?[0-9]{0,3}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{0,4})?|-?[1-9][0-9]{290,330}(\\.[0-9]{1,3})?|[0-9]\\.[0-9]{1,20}[eE][+-]?3[0-2][0-9]"
    ) {
        prop_assert_eq!(validate(n.as_bytes()), serde_ok(n.as_bytes()), "{}", n);
    }

    #[test]
    fn escapes_are_accepted_iff_serde_json_accepts_them(
        parts in prop::collection::vec(prop_oneof![
            "\\\\u[dD][89abAB][0-9a-fA-F]{2}",
            "\\\\u[dD][c-fC-F][0-9a-fA-F]{2}",
            "\\\\u[0-9a-fA-F]{0,4}",
            "\\\\[\"\\\\/bfnrtu'x0]",
            "[a\u{0}\u{1f}é]",
        ], 0..5)
    ) {
        let text = format!("\"{}\"", parts.concat());
        prop_assert_eq!(validate(text.as_bytes()), serde_ok(text.as_bytes()), "{}", text);
        if serde_ok(text.as_bytes()) {
            let mut s = ChatScan::default();
            let mut scratch = String::new();
            let chunk = format!("{{\"id\":{text}}}");
            prop_assert!(scan_chat(&chunk, &mut s, &mut scratch).is_ok());
            check_chat(&chunk, &s);
        }
    }
}
