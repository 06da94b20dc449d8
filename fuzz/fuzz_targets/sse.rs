//! Fuzz target for the SSE decoder: arbitrary bytes, split at fuzzer-chosen points, must
//! decode exactly as when fed whole (same items, unterminated final event and first
//! error), under default and under tiny limits, and never panic.
//!
//! Input layout: byte 0 = number of cuts (mod 16); then two bytes per cut (little-endian
//! offset, taken modulo the body length); then one byte each for `max_line_bytes` and
//! `max_event_bytes` of the tiny limits; the rest is the body.

#![no_main]

use hf_inference_wasm::sse::Limits;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/sse_replay.rs"]
mod sse_replay;
use sse_replay::replay;

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 16);
    if rest.len() < count * 2 + 2 {
        return;
    }
    let (cut_bytes, rest) = rest.split_at(count * 2);
    let (limit_bytes, body) = rest.split_at(2);

    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])) % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        chunks.push(&body[start..cut]);
        start = cut;
    }
    chunks.push(&body[start..]);

    let tiny = Limits {
        max_line_bytes: usize::from(limit_bytes[0]),
        max_event_bytes: usize::from(limit_bytes[1]),
    };
    for limits in [Limits::default(), tiny] {
        let whole = replay(limits, [body]);
        let split = replay(limits, chunks.iter().copied());
        assert_eq!(split, whole, "cut at {chunks:?}");
        let bytes = replay(limits, body.chunks(1));
        assert_eq!(bytes, whole, "fed byte by byte");
    }
});
