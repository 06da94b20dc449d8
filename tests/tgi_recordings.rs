//! Replays every recorded TGI text-generation stream (`tests/fixtures/*-recordings.json`,
//! the `/generate_stream`-shaped bodies with `token`/`generated_text`, and TGI's
//! in-stream `{"error", "error_type"}`) through `sse::Decoder` + `tgi::TgiStreamState`:
//! whole, byte by byte and at 20 pseudo-random split sets, which must all agree; then
//! checks what each adds up to. Old TGI streams (`data:{` with no space, no `[DONE]`)
//! are among them.
// Native only: reads files and uses proptest.
#![cfg(not(target_arch = "wasm32"))]
// The replay helpers return the crate's `Error` by value, as the library does.
#![allow(clippy::result_large_err)]

use hf_inference_wasm::sse::{Decoder, Event, Item};
use hf_inference_wasm::tgi::{parse_text_generation, TgiFinish, TgiStep, TgiStreamState};
use hf_inference_wasm::{Error, ErrorKind};
use proptest::prelude::*;
use serde_json::Value;

#[path = "support/splits.rs"]
mod splits;
use splits::{random_cut_sets, seed_of};
#[path = "support/recordings.rs"]
mod recordings;
use recordings::{recordings, Recording};

fn event_data(body: &str) -> Vec<String> {
    let mut decoder = Decoder::new();
    let mut items: Vec<Item> = Vec::new();
    if decoder.feed(body.as_bytes(), &mut items).is_ok() {
        if let Ok(Some(last)) = decoder.finish(&mut items) {
            items.push(Item::Event(last));
        }
    }
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e.data),
            _ => None,
        })
        .collect()
}

/// A TGI-native stream: every event is a token event or a TGI error, and the URL is not
/// an OpenAI-compatible route.
fn is_tgi_stream(url: &str, body: &str) -> bool {
    let data = event_data(body);
    !url.contains("/chat/completions")
        && !data.is_empty()
        && data.iter().all(|d| {
            serde_json::from_str::<Value>(d).is_ok_and(|v| {
                v.get("token").is_some()
                    || v.get("generated_text").is_some()
                    || v.get("error_type").is_some()
            })
        })
}

/// The TGI streams of the fixtures, read once.
fn tgi_streams() -> &'static [&'static Recording] {
    static STREAMS: std::sync::OnceLock<Vec<&'static Recording>> = std::sync::OnceLock::new();
    STREAMS.get_or_init(load_tgi_streams)
}

fn load_tgi_streams() -> Vec<&'static Recording> {
    recordings()
        .iter()
        .filter(|r| r.is_event_stream() && is_tgi_stream(&r.url, &r.body))
        .collect()
}

/// Everything one decoding of a body produced. Every chunking must give the same.
#[derive(Debug, PartialEq)]
struct Outcome {
    steps: Vec<TgiStep>,
    finish: Option<TgiFinish>,
    error: Option<Error>,
    snapshot: String,
}

/// Decode `body` fed in the pieces that `cuts` (sorted byte offsets) make, driving a
/// `TgiStreamState` as the shell does: stop at the last token event or `[DONE]`.
fn replay(body: &[u8], cuts: &[usize]) -> Outcome {
    let mut decoder = Decoder::new();
    let mut state = TgiStreamState::new();
    let mut steps = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let result: Result<TgiFinish, Error> = (|| {
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&body.len())) {
            decoder.feed(&body[start..end], &mut items)?;
            start = end;
            for item in items.drain(..) {
                if let Item::Event(ev) = item {
                    let step = state.on_event(&ev)?;
                    let end = matches!(step, TgiStep::Done | TgiStep::Token { last: true, .. });
                    steps.push(step);
                    if end {
                        return state.finish(None);
                    }
                }
            }
        }
        let unterminated: Option<Event> = decoder.finish(&mut items)?;
        for item in items.drain(..) {
            if let Item::Event(ev) = item {
                steps.push(state.on_event(&ev)?);
            }
        }
        let f = state.finish(unterminated.as_ref())?;
        steps.extend(f.tail.clone());
        Ok(f)
    })();
    let (finish, error) = match result {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    Outcome {
        steps,
        finish,
        error,
        snapshot: state.snapshot().to_json(),
    }
}

#[test]
fn fixtures_hold_the_expected_tgi_streams() {
    let streams = tgi_streams();
    let errors = streams
        .iter()
        .filter(|r| r.body.contains("\"error_type\""))
        .count();
    let ids: Vec<&str> = streams.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(streams.len(), 16, "{ids:?}");
    assert_eq!(errors, 4, "{ids:?}");
    // Old TGI: `data:{` with no space and no `[DONE]`.
    assert!(streams.iter().any(|r| r.body.starts_with("data:{")));
    assert!(streams.iter().all(|r| !r.body.contains("[DONE]")));
}

#[test]
fn every_tgi_stream_decodes_the_same_whole_byte_by_byte_and_at_random_splits() {
    for r in tgi_streams() {
        let body = r.body.as_bytes();
        let whole = replay(body, &[]);
        let every_byte: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            replay(body, &every_byte),
            whole,
            "{} {}: byte by byte",
            r.file,
            r.id
        );
        for (i, cuts) in random_cut_sets(body.len(), seed_of(&r.id))
            .iter()
            .enumerate()
        {
            assert_eq!(
                replay(body, cuts),
                whole,
                "{} {}: split set {i} {cuts:?}",
                r.file,
                r.id
            );
        }
    }
}

#[test]
fn every_token_stream_adds_up_to_its_generated_text() {
    let mut seen = 0;
    for r in tgi_streams() {
        if r.body.contains("\"error_type\"") {
            continue;
        }
        let data = event_data(&r.body);
        let out = replay(r.body.as_bytes(), &[]);
        let f = out
            .finish
            .as_ref()
            .unwrap_or_else(|| panic!("{}: {:?}", r.id, out.error));
        assert!(
            !f.truncated,
            "{}: the event with generated_text ends it",
            r.id
        );
        assert_eq!(out.steps.len(), data.len(), "{}: one step per event", r.id);
        assert!(
            matches!(out.steps.last(), Some(TgiStep::Token { last: true, .. })),
            "{}",
            r.id
        );
        // The recorded final event's generated_text is the result.
        let last: Value =
            serde_json::from_str(data.last().map_or("", String::as_str)).unwrap_or(Value::Null);
        assert_eq!(
            Some(f.output.generated_text.as_str()),
            last["generated_text"].as_str(),
            "{}",
            r.id
        );
        // Delivered text: every non-special token, in order; special tokens still
        // arrive as events (their data), with no text.
        let mut delivered = String::new();
        for (step, d) in out.steps.iter().zip(&data) {
            let v: Value = serde_json::from_str(d).unwrap_or(Value::Null);
            let TgiStep::Token {
                text,
                special,
                data: raw,
                ..
            } = step
            else {
                panic!("{}: {step:?}", r.id);
            };
            assert_eq!(raw, d);
            assert_eq!(*special, v["token"]["special"] == Value::Bool(true));
            if *special {
                assert_eq!(text, &None, "{}: special token text is not delivered", r.id);
            } else {
                assert_eq!(
                    text.as_deref(),
                    v["token"]["text"].as_str().filter(|t| !t.is_empty())
                );
            }
            delivered.push_str(text.as_deref().unwrap_or(""));
        }
        // With `return_full_text` the server's text starts with the prompt.
        assert!(
            f.output.generated_text.ends_with(delivered.trim()),
            "{}: {:?} vs {:?}",
            r.id,
            f.output.generated_text,
            delivered
        );
        if let Some(d) = last.get("details").filter(|d| !d.is_null()) {
            let got = f.output.details.as_ref().expect("details kept");
            assert_eq!(got.finish_reason.as_deref(), d["finish_reason"].as_str());
            assert_eq!(got.generated_tokens, d["generated_tokens"].as_u64());
        }
        seen += 1;
        eprintln!(
            "{} {}: {} tokens, text {:?}",
            r.id,
            r.url,
            data.len(),
            f.output.generated_text
        );
    }
    assert_eq!(seen, 12);
}

#[test]
fn tgi_stream_errors_carry_the_error_type_as_code() {
    let mut seen = 0;
    for r in tgi_streams() {
        if !r.body.contains("\"error_type\"") {
            continue;
        }
        let out = replay(r.body.as_bytes(), &[]);
        let e = out.error.unwrap_or_else(|| panic!("{}: no error", r.id));
        assert_eq!(e.kind, ErrorKind::Stream, "{}", r.id);
        assert_eq!(e.code.as_deref(), Some("validation"), "{}", r.id);
        assert!(
            e.message.contains("Input validation error"),
            "{}",
            e.message
        );
        assert!(e.body.as_deref().is_some_and(|b| b.contains("error_type")));
        assert!(out.steps.is_empty(), "{}", r.id);
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn recorded_non_stream_tgi_errors_are_typed_too() {
    // `test_generate_validation_error`: a 422 body; the shell reads it with
    // `Error::http`, and the same body with HTTP 200 would be a stream error.
    let body = r#"{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 1512. Given: 2 `inputs` tokens and 10000 `max_new_tokens`","error_type":"validation"}"#;
    let e = parse_text_generation(body).expect_err("error");
    assert_eq!(e.code.as_deref(), Some("validation"));
    let e = Error::http(422, body);
    assert_eq!(e.code.as_deref(), Some("validation"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_event_data_is_a_step_or_an_error(data in ".{0,120}", kind in prop::sample::select(vec!["message", "error", "", "ping"])) {
        let mut s = TgiStreamState::new();
        let ev = Event { event: kind.to_owned(), data, id: String::new() };
        let _ = s.on_event(&ev);
        let _ = s.finish(Some(&ev));
    }

    #[test]
    fn any_split_of_a_recorded_stream_agrees(index in 0usize..16, cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        let streams = tgi_streams();
        let r = &streams[index % streams.len()];
        let body = r.body.as_bytes();
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        prop_assert_eq!(replay(body, &cuts), replay(body, &[]));
    }
}
