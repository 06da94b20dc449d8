//! The SSE decoder against its test vectors (`tests/sse_vectors.json`) and the recorded
//! provider streams (`tests/fixtures/*-recordings.json`), each replayed whole, byte by
//! byte, at every 2-way split and at random splits: every chunking must give the same
//! items, unterminated final event and first error.
// Native only: reads files and uses proptest; the wasm layer is tests/wasm_fetch.rs.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::sse::{Decoder, Event, Item, Limits, SseError};
use serde::Deserialize;

#[path = "support/sse_replay.rs"]
mod sse_replay;
use sse_replay::{replay, Outcome};

/// xorshift64: deterministic splits without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias does not matter for test splits.
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Up to `max_cuts` sorted cut points in `0..=len` (repeats give empty chunks, which a
/// decoder must also take).
fn random_cuts(rng: &mut Rng, len: usize, max_cuts: usize) -> Vec<usize> {
    let count = 1 + rng.below(max_cuts);
    let mut cuts: Vec<usize> = (0..count).map(|_| rng.below(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

fn split_at_cuts<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        chunks.push(&input[start..cut]);
        start = cut;
    }
    chunks.push(&input[start..]);
    chunks
}

// ---- the vectors ------------------------------------------------------------------

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<RawVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    name: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    input_hex: Option<String>,
    #[serde(default)]
    limits: Option<RawLimits>,
    items: Vec<RawItem>,
    unterminated: Option<RawEvent>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_line_bytes: Option<usize>,
    max_event_bytes: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    event: String,
    data: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawItem {
    Event(RawEvent),
    Comment { comment: String },
    Retry { retry: u64 },
}

struct Vector {
    name: String,
    input: Vec<u8>,
    limits: Limits,
    expected: Outcome,
}

fn to_event(raw: RawEvent) -> Event {
    Event {
        event: raw.event,
        data: raw.data,
        id: raw.id,
    }
}

fn parse_hex(name: &str, hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len() % 2 == 0,
        "vector {name}: odd number of hex digits"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(text, 16)
                .unwrap_or_else(|_| panic!("vector {name}: bad hex byte {text:?}"))
        })
        .collect()
}

fn load_vectors() -> Vec<Vector> {
    let text = include_str!("sse_vectors.json");
    let file: VectorFile = serde_json::from_str(text).expect("tests/sse_vectors.json parses");
    file.vectors
        .into_iter()
        .map(|raw| {
            let name = raw.name;
            let _ = raw.note;
            let input = match (raw.input, raw.input_hex) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(hex)) => parse_hex(&name, &hex),
                _ => panic!("vector {name}: give exactly one of input and input_hex"),
            };
            let defaults = Limits::default();
            let limits = raw.limits.map_or(defaults, |l| Limits {
                max_line_bytes: l.max_line_bytes.unwrap_or(defaults.max_line_bytes),
                max_event_bytes: l.max_event_bytes.unwrap_or(defaults.max_event_bytes),
            });
            let error = raw.error.map(|code| match code.as_str() {
                "line_too_long" => SseError::LineTooLong {
                    limit: limits.max_line_bytes,
                },
                "event_too_large" => SseError::EventTooLarge {
                    limit: limits.max_event_bytes,
                },
                other => panic!("vector {name}: unknown error {other:?}"),
            });
            let items = raw
                .items
                .into_iter()
                .map(|item| match item {
                    RawItem::Event(e) => Item::Event(to_event(e)),
                    RawItem::Comment { comment } => Item::Comment(comment),
                    RawItem::Retry { retry } => Item::Retry(retry),
                })
                .collect();
            Vector {
                name,
                input,
                limits,
                expected: Outcome {
                    items,
                    unterminated: raw.unterminated.map(to_event),
                    error,
                },
            }
        })
        .collect()
}

#[test]
fn vectors_are_many_and_uniquely_named() {
    let vectors = load_vectors();
    assert!(vectors.len() >= 40, "only {} vectors", vectors.len());
    let mut names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "vector names must be unique");
}

#[test]
fn vectors_fed_whole() {
    for v in load_vectors() {
        let got = replay(v.limits, [v.input.as_slice()]);
        assert_eq!(got, v.expected, "vector {}: fed whole", v.name);
    }
}

#[test]
fn vectors_fed_byte_by_byte() {
    for v in load_vectors() {
        let got = replay(v.limits, v.input.chunks(1));
        assert_eq!(got, v.expected, "vector {}: fed byte by byte", v.name);
    }
}

#[test]
fn vectors_split_in_two_at_every_point() {
    for v in load_vectors() {
        for cut in 0..=v.input.len() {
            let (head, tail) = v.input.split_at(cut);
            let got = replay(v.limits, [head, tail]);
            assert_eq!(got, v.expected, "vector {}: split at byte {cut}", v.name);
        }
    }
}

#[test]
fn vectors_split_at_random_points() {
    for v in load_vectors() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let cuts = random_cuts(&mut rng, v.input.len(), 8);
            let got = replay(v.limits, split_at_cuts(&v.input, &cuts));
            assert_eq!(
                got, v.expected,
                "vector {}: random split seed {seed}, cuts {cuts:?}",
                v.name
            );
        }
    }
}

#[test]
fn stopping_at_the_first_error_leaves_a_prefix_of_the_items() {
    // A caller that stops at the first Err has seen a prefix of the full item list.
    for v in load_vectors() {
        if v.expected.error.is_none() {
            continue;
        }
        for chunk_len in [1, 3, 7, usize::MAX] {
            let mut decoder = Decoder::with_limits(v.limits);
            let mut items = Vec::new();
            for chunk in v.input.chunks(chunk_len.min(v.input.len().max(1))) {
                if decoder.feed(chunk, &mut items).is_err() {
                    break;
                }
            }
            assert!(
                v.expected.items.starts_with(&items),
                "vector {}: chunks of {chunk_len}: {items:?} is not a prefix",
                v.name
            );
        }
    }
}

// ---- the recordings -----------------------------------------------------------------

#[derive(Deserialize)]
struct Recording {
    id: String,
    content_type: Option<String>,
    body: Option<String>,
}

/// Every `text/event-stream` body in both recording files, as (file:id, body).
fn recorded_streams() -> Vec<(String, String)> {
    let files = [
        (
            "provider",
            include_str!("fixtures/provider-recordings.json"),
        ),
        ("router", include_str!("fixtures/router-recordings.json")),
    ];
    let mut streams = Vec::new();
    for (file, text) in files {
        let recordings: Vec<Recording> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} recordings: {e}"));
        for r in recordings {
            let is_stream = r
                .content_type
                .as_deref()
                .is_some_and(|t| t.contains("event-stream"));
            if let (true, Some(body)) = (is_stream, r.body) {
                streams.push((format!("{file}:{}", r.id), body));
            }
        }
    }
    streams
}

#[test]
fn recordings_decode_the_same_however_chunked() {
    let streams = recorded_streams();
    assert!(
        streams.len() >= 50,
        "only {} recorded streams",
        streams.len()
    );
    for (id, body) in &streams {
        let input = body.as_bytes();
        let whole = replay(Limits::default(), [input]);
        assert_eq!(whole.error, None, "recording {id}: fed whole");
        assert!(
            whole.items.iter().any(|i| matches!(i, Item::Event(_))),
            "recording {id}: no event"
        );
        let got = replay(Limits::default(), input.chunks(1));
        assert_eq!(got, whole, "recording {id}: fed byte by byte");
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
            let cuts = random_cuts(&mut rng, input.len(), 64);
            let got = replay(Limits::default(), split_at_cuts(input, &cuts));
            assert_eq!(got, whole, "recording {id}: random split seed {seed}");
        }
    }
}

#[test]
fn recordings_events_are_data_only_messages() {
    for (id, body) in recorded_streams() {
        let outcome = replay(Limits::default(), [body.as_bytes()]);
        for item in &outcome.items {
            match item {
                Item::Event(e) => {
                    assert_eq!(e.event, "message", "recording {id}");
                    assert_eq!(e.id, "", "recording {id}");
                    assert!(!e.data.is_empty(), "recording {id}: empty data");
                }
                other => panic!("recording {id}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn recordings_only_one_stream_ends_unterminated() {
    // Cerebras (direct) closed the body right after its last `data:` line, with no blank
    // line and no `[DONE]`; every other recorded stream ends with a blank line.
    let unterminated: Vec<(String, Event)> = recorded_streams()
        .into_iter()
        .filter_map(|(id, body)| {
            let outcome = replay(Limits::default(), [body.as_bytes()]);
            outcome.unterminated.map(|e| (id, e))
        })
        .collect();
    let ids: Vec<&str> = unterminated.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["provider:b3cad22ff43c"]);
    let (_, last) = &unterminated[0];
    assert!(
        last.data.contains(r#""finish_reason":"stop""#),
        "{}",
        last.data
    );
}

#[test]
fn recordings_done_marker_is_its_own_event() {
    let mut with_done = 0;
    for (id, body) in recorded_streams() {
        let outcome = replay(Limits::default(), [body.as_bytes()]);
        let done: Vec<usize> = outcome
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i, Item::Event(e) if e.data.contains("[DONE]")))
            .map(|(n, _)| n)
            .collect();
        if done.is_empty() {
            continue;
        }
        with_done += 1;
        assert_eq!(
            done,
            [outcome.items.len() - 1],
            "recording {id}: [DONE] is last"
        );
        assert!(
            matches!(outcome.items.last(), Some(Item::Event(e)) if e.data == "[DONE]"),
            "recording {id}"
        );
    }
    assert!(with_done >= 30, "only {with_done} streams end with [DONE]");
}
