//! Properties of the SSE decoder: any chunking of the same bytes decodes to the same
//! items, unterminated final event and first error; the result matches a plain
//! whole-input reading of the WHATWG rules; no input panics; a huge line fed in tiny
//! pieces decodes correctly.
// Native only: reads files and uses proptest; the wasm layer is tests/wasm_fetch.rs.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::sse::{Event, Item, Limits, SseError};
use proptest::prelude::*;

#[path = "support/sse_replay.rs"]
mod sse_replay;
use sse_replay::{replay, Outcome};

/// `input` cut at the given points (taken modulo its length, sorted; repeats give empty
/// chunks).
fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(input[start..cut].to_vec());
        start = cut;
    }
    chunks.push(input[start..].to_vec());
    chunks
}

/// Pieces that hit the decoder's edge cases, glued together at random.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"id".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"retry".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\0".to_vec()),
        Just("😀".as_bytes().to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xEF\xBB".to_vec()),
        Just(b"[DONE]".to_vec()),
        proptest::collection::vec(b'0'..=b'9', 1..4),
        proptest::collection::vec(b'a'..=b'z', 1..4),
        proptest::collection::vec(any::<u8>(), 1..3),
    ]
}

fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(token(), 0..60).prop_map(|tokens| tokens.concat())
}

fn small_limits() -> impl Strategy<Value = Limits> {
    (0usize..24, 0usize..48).prop_map(|(line, event)| Limits {
        max_line_bytes: line,
        max_event_bytes: event,
    })
}

/// A straightforward reading of the spec over the whole input at once, for comparison:
/// decode everything, drop one BOM, split into lines, interpret. No limits.
fn reference(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(end) => {
                lines.push(&rest[..end]);
                let after = &rest[end..];
                // `after` starts with the one-byte CR or LF.
                rest = after.strip_prefix("\r\n").unwrap_or(&after[1..]);
            }
            None => {
                // An unterminated last line is processed like any other.
                lines.push(rest);
                rest = "";
            }
        }
    }
    let mut items = Vec::new();
    let (mut data, mut event_type, mut last_id) = (String::new(), String::new(), String::new());
    for line in lines {
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                let event = if event_type.is_empty() {
                    "message".to_owned()
                } else {
                    event_type.clone()
                };
                items.push(Item::Event(Event {
                    event,
                    data: data.clone(),
                    id: last_id.clone(),
                }));
            }
            data.clear();
            event_type.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(Item::Comment(
                comment.strip_prefix(' ').unwrap_or(comment).to_owned(),
            ));
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "event" => event_type = value.to_owned(),
            "id" if !value.contains('\0') => last_id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                items.push(Item::Retry(value.parse().unwrap_or(u64::MAX)));
            }
            _ => {}
        }
    }
    let unterminated = (!data.is_empty()).then(|| {
        data.pop();
        Event {
            event: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            id: last_id,
        }
    });
    Outcome {
        items,
        unterminated,
        error: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_decodes_like_feeding_whole(
        input in sse_like(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = replay(Limits::default(), [input.as_slice()]);
        let chunks = chunked(&input, &cuts);
        let got = replay(Limits::default(), chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(got, whole);
    }

    #[test]
    fn byte_by_byte_decodes_like_feeding_whole(input in sse_like()) {
        let whole = replay(Limits::default(), [input.as_slice()]);
        let got = replay(Limits::default(), input.chunks(1));
        prop_assert_eq!(got, whole);
    }

    #[test]
    fn decoding_matches_the_spec_read_over_the_whole_input(input in sse_like()) {
        prop_assert_eq!(replay(Limits::default(), [input.as_slice()]), reference(&input));
    }

    #[test]
    fn any_chunking_gives_the_same_errors_under_small_limits(
        input in sse_like(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        limits in small_limits(),
    ) {
        let whole = replay(limits, [input.as_slice()]);
        let chunks = chunked(&input, &cuts);
        let got = replay(limits, chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(&got, &whole);
        let bytes = replay(limits, input.chunks(1));
        prop_assert_eq!(bytes, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        limits in small_limits(),
    ) {
        let chunks = chunked(&input, &cuts);
        let _ = replay(limits, chunks.iter().map(Vec::as_slice));
        let _ = replay(Limits::default(), chunks.iter().map(Vec::as_slice));
    }

    #[test]
    fn events_never_exceed_the_limits(input in sse_like(), limits in small_limits()) {
        let outcome = replay(limits, input.chunks(3));
        let events = outcome.items.iter().filter_map(|item| match item {
            Item::Event(e) => Some(e),
            _ => None,
        });
        for e in events.chain(&outcome.unterminated) {
            // The data buffer held the data plus one '\n'.
            prop_assert!(e.data.len() < limits.max_event_bytes);
        }
    }
}

#[test]
fn one_mib_line_in_four_byte_pieces_decodes() {
    let payload: String = (0..(1usize << 20))
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let input = format!("data:{payload}\n\n");
    let limits = Limits {
        max_line_bytes: 2 << 20,
        ..Limits::default()
    };
    let outcome = replay(limits, input.as_bytes().chunks(4));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.unterminated, None);
    assert_eq!(outcome.items.len(), 1);
    match &outcome.items[0] {
        Item::Event(e) => assert!(e.data == payload, "the 1 MiB data came back changed"),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn one_mib_line_over_the_default_limit_is_an_error_not_a_buffer() {
    let input = format!("data:{}\n\ndata: after\n\n", "x".repeat(1 << 20));
    let outcome = replay(Limits::default(), input.as_bytes().chunks(4));
    assert_eq!(
        outcome.error,
        Some(SseError::LineTooLong {
            limit: Limits::default().max_line_bytes
        })
    );
    assert_eq!(
        outcome.items,
        [Item::Event(Event {
            event: "message".into(),
            data: "after".into(),
            id: String::new(),
        })]
    );
}
