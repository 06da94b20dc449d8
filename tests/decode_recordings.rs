//! Every recorded `text/event-stream` response (tests/fixtures/*-recordings.json)
//! through the new `decode::StreamDecoder`, against the old `sse::Decoder` +
//! `protocol::StreamState` path as the oracle: the same delivered text, chunk data,
//! errors, truncation, snapshot, text, finish reason, usage and cacheability, fed whole,
//! split in two at many points, byte by byte and at 20 pseudo-random split sets.
// Native only: reads files.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::decode::{DecodeOptions, StreamEvent};
use hf_inference_wasm::protocol::Protocol;
use hf_inference_wasm::sse::{Decoder, Item, Limits};
use serde_json::Value;

#[path = "support/decode_oracle.rs"]
mod oracle;
#[path = "support/recordings.rs"]
mod recordings;
#[path = "support/splits.rs"]
mod splits;

use oracle::{as_deltas, deltas, keeping, new, old, patching, pieces, values_of};
use recordings::{recordings, Recording};
use splits::{random_cut_sets, seed_of};

/// The `data` payloads of every event of a body.
fn event_data(body: &str) -> Vec<String> {
    let mut decoder = Decoder::new();
    let mut items: Vec<Item> = Vec::new();
    let _ = decoder.feed(body.as_bytes(), &mut items);
    if let Ok(Some(last)) = decoder.finish(&mut items) {
        items.push(Item::Event(last));
    }
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Event(ev) => Some(ev.data),
            _ => None,
        })
        .collect()
}

/// A TGI-native stream (as tests/tgi_recordings.rs tells them apart).
fn protocol_of(r: &Recording) -> Protocol {
    let data = event_data(&r.body);
    let tgi = !r.url.contains("/chat/completions")
        && !data.is_empty()
        && data.iter().all(|d| {
            serde_json::from_str::<Value>(d).is_ok_and(|v| {
                v.get("token").is_some()
                    || v.get("generated_text").is_some()
                    || v.get("error_type").is_some()
            })
        });
    if tgi {
        Protocol::TextGeneration
    } else {
        Protocol::Chat
    }
}

fn streams() -> Vec<(&'static Recording, Protocol)> {
    recordings()
        .iter()
        .filter(|r| r.is_event_stream())
        .map(|r| (r, protocol_of(r)))
        .collect()
}

#[test]
fn the_fixtures_hold_chat_and_tgi_streams() {
    let s = streams();
    assert_eq!(s.len(), 56);
    assert!(s.iter().any(|(_, p)| *p == Protocol::TextGeneration));
    assert!(s.iter().filter(|(_, p)| *p == Protocol::Chat).count() > 30);
}

#[test]
fn every_recorded_stream_matches_the_old_path_at_any_chunking() {
    for (r, protocol) in streams() {
        let body = r.body.as_bytes();
        let want = old(protocol, body, Limits::default());
        let label = format!("{} {}", r.file, r.id);
        // Whole, byte by byte, and split in two at (up to ~300) points.
        assert_eq!(
            new(protocol, [body], keeping()).seen,
            want,
            "{label}: whole"
        );
        assert_eq!(
            new(protocol, body.chunks(1), keeping()).seen,
            want,
            "{label}: bytes"
        );
        let stride = (body.len() / 300).max(1);
        for at in (0..=body.len()).step_by(stride) {
            let run = new(protocol, pieces(body, &[at]), keeping());
            assert_eq!(run.seen, want, "{label}: split at {at}");
        }
        for cuts in random_cut_sets(body.len(), seed_of(&r.id)) {
            let run = new(protocol, pieces(body, &cuts), keeping());
            assert_eq!(run.seen, want, "{label}: cuts {cuts:?}");
        }
    }
}

/// What `for await` yields is each recorded chunk as `JSON.parse` reads it, when the
/// chunks are kept as changes of the one before (`patch_chunks`, as the iterator gets
/// them), whole, byte by byte, and in random pieces; and most chunks of a real stream are
/// kept as a change.
#[test]
fn every_recorded_stream_keeps_its_chunk_objects_as_changes() {
    let (mut changes, mut all) = (0, 0);
    for (r, protocol) in streams() {
        let body = r.body.as_bytes();
        let want = values_of(&old(protocol, body, Limits::default()).chunks);
        let label = format!("{} {}", r.file, r.id);
        let whole = new(protocol, [body], patching());
        assert_eq!(whole.values, want, "{label}: whole");
        assert_eq!(
            new(protocol, body.chunks(1), patching()).values,
            want,
            "{label}: bytes"
        );
        for cuts in random_cut_sets(body.len(), seed_of(&r.id)) {
            assert_eq!(
                new(protocol, pieces(body, &cuts), patching()).values,
                want,
                "{label}: cuts {cuts:?}"
            );
        }
        if protocol == Protocol::Chat {
            let mut d = hf_inference_wasm::decode::StreamDecoder::new(protocol, patching());
            let out = d.feed(body);
            all += out.chunk_count;
            changes += out
                .chunks
                .split_terminator('\0')
                .filter(|e| e.starts_with(['"', '\'']) || *e == "=")
                .count();
        }
    }
    assert!(
        changes * 10 > all as usize * 7,
        "{changes} of {all} recorded chat chunks kept as changes"
    );
}

#[test]
fn every_recorded_stream_delivers_the_same_without_accumulating() {
    for (r, protocol) in streams() {
        let body = r.body.as_bytes();
        let full = new(protocol, body.chunks(7), keeping());
        // Keeping nothing (the decoder core's `ChatDecoder`), the same is delivered.
        for piece in [1, 7, body.len().max(1)] {
            assert_eq!(
                deltas(protocol, body.chunks(piece)),
                as_deltas(&full),
                "{} {}: keeping nothing, {piece}-byte feeds",
                r.file,
                r.id
            );
        }
        let flat = new(
            protocol,
            body.chunks(7),
            DecodeOptions {
                accumulate: false,
                keep_chunks: true,
                ..DecodeOptions::default()
            },
        );
        let label = format!("{} {}", r.file, r.id);
        assert_eq!(flat.seen.delivered, full.seen.delivered, "{label}");
        assert_eq!(flat.seen.chunks, full.seen.chunks, "{label}");
        assert_eq!(flat.reasoning, full.reasoning, "{label}");
        assert_eq!(flat.seen.finish_reason, full.seen.finish_reason, "{label}");
        assert_eq!(flat.seen.error, full.seen.error, "{label}");
        assert_eq!(flat.seen.text, "", "{label}");
        let snap: Value = serde_json::from_str(&flat.seen.snapshot).unwrap();
        let content = match protocol {
            Protocol::Chat => snap["choices"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|c| c["message"]["content"].is_null()),
            Protocol::TextGeneration => snap["generated_text"] == "",
        };
        assert!(content, "{label}: {snap}");
    }
}

#[test]
fn recorded_streams_report_their_finish_usage_and_end() {
    let mut finishes = 0;
    let mut usages = 0;
    let mut tools = 0;
    for (r, protocol) in streams() {
        let run = new(protocol, r.body.as_bytes().chunks(16 * 1024), keeping());
        let ev = &run.events;
        finishes += ev
            .iter()
            .filter(|e| matches!(e, StreamEvent::Finish { .. }))
            .count();
        usages += ev
            .iter()
            .filter(|e| matches!(e, StreamEvent::Usage(_)))
            .count();
        tools += ev
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCall { .. }))
            .count();
        // The last finish event names the finish reason the decoder reports.
        let last_finish = ev.iter().rev().find_map(|e| match e {
            StreamEvent::Finish { choice: 0, reason } => Some(reason.clone()),
            _ => None,
        });
        assert_eq!(last_finish, run.seen.finish_reason, "{}", r.id);
        // An error, `Done` or `Truncated` ends the stream; at most one of them, last.
        let ends = ev
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    StreamEvent::Error(_) | StreamEvent::Done | StreamEvent::Truncated
                )
            })
            .count();
        assert!(ends <= 1, "{}: {ev:?}", r.id);
    }
    assert!(finishes > 30, "{finishes}");
    assert!(usages > 10, "{usages}");
    // No recorded stream calls a tool (Together's send `tool_calls: null`); the
    // semantics tests cover tool calls.
    assert_eq!(tools, 0);
}
