//! Fuzz target for the hot-path JSON scanner (`scan`) and the stream core over it
//! (`decode::StreamDecoder`): arbitrary bytes must be accepted by the scanner exactly
//! when `serde_json::from_slice::<Value>` accepts them (as a whole value, and through
//! the chat-chunk and TGI-event scans), and a stream carrying them as one event's data
//! must decode the same fed whole, split where the fuzzer says and byte by byte, for
//! both protocols, and never panic.
//!
//! Input layout: byte 0 = a split point into the stream (taken modulo its length); the
//! rest is the JSON text.

#![no_main]

use hf_inference_wasm::decode::{DecodeOptions, Output, StreamDecoder};
use hf_inference_wasm::protocol::Protocol;
use hf_inference_wasm::scan::{scan_chat, scan_tgi, validate, ChatScan, TgiScan};
use libfuzzer_sys::fuzz_target;

/// Everything the decoder delivered for `pieces`, and its snapshot.
fn decode<'a>(protocol: Protocol, pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Output>, String) {
    let options = DecodeOptions {
        keep_chunks: true,
        ..DecodeOptions::default()
    };
    let mut d = StreamDecoder::new(protocol, options);
    let mut outs = Vec::new();
    let mut all = Output::default();
    for p in pieces {
        let out = d.feed(p);
        all.text.push_str(&out.text);
        all.reasoning.push_str(&out.reasoning);
        all.chunks.push_str(&out.chunks);
        all.chunk_count += out.chunk_count;
        all.events.extend(out.events.iter().cloned());
    }
    let out = d.end();
    all.text.push_str(&out.text);
    all.chunks.push_str(&out.chunks);
    all.chunk_count += out.chunk_count;
    all.events.extend(out.events.iter().cloned());
    outs.push(all);
    (outs, d.snapshot_json())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, json)) = data.split_first() else {
        return;
    };
    let want = serde_json::from_slice::<serde_json::Value>(json).is_ok();
    assert_eq!(validate(json), want, "validate");
    if let Ok(text) = std::str::from_utf8(json) {
        let mut scratch = String::new();
        assert_eq!(scan_chat(text, &mut ChatScan::default(), &mut scratch).is_ok(), want);
        assert_eq!(scan_tgi(text, &mut TgiScan::default(), &mut scratch).is_ok(), want);
    }
    let mut body = b"data: ".to_vec();
    body.extend(json.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    body.extend_from_slice(b"\n\ndata: [DONE]\n\n");
    let at = usize::from(cut) % (body.len() + 1);
    for protocol in [Protocol::Chat, Protocol::TextGeneration] {
        let whole = decode(protocol, [&body[..]]);
        let split = decode(protocol, [&body[..at], &body[at..]]);
        assert_eq!(split, whole, "split at {at}");
        let bytes = decode(protocol, body.chunks(1));
        assert_eq!(bytes, whole, "byte by byte");
    }
});
