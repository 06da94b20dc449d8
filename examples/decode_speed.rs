//! Native decode speed of the stream core: the new `decode::StreamDecoder` (one scan per
//! event, no `Value`) and the old `sse::Decoder` + `protocol::StreamState` path (a
//! `Value` per chunk) on the same generated stream of 20,000 typical chat chunks, fed in
//! 16 KB and in 16 B pieces. Figures only (MB/s, chunks/s, best of 9), never a check.
//!
//! ```sh
//! cargo run --release --example decode_speed
//! ```

use std::time::{Duration, Instant};

use hf_inference_wasm::decode::{DecodeOptions, StreamDecoder};
use hf_inference_wasm::protocol::{Protocol, StreamState};
use hf_inference_wasm::sse::{Decoder, Event, Sink};
use hf_inference_wasm::stream::Step;

const CHUNKS: usize = 20_000;

/// An OpenAI-style stream: role chunk, 20,000 content chunks of one word or so, a stop
/// chunk, a usage chunk and `[DONE]`.
fn stream() -> String {
    let head = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":"#;
    let words = [
        "Hello",
        " there",
        ",",
        " how",
        " can",
        " I",
        " help",
        " you",
        " today",
        "?",
        " \\n",
        " The",
        " answer",
        " is",
        " \\\"42\\\"",
        " —",
        " naïve",
        " 😀",
    ];
    let mut out = String::new();
    out.push_str("data: ");
    out.push_str(head);
    out.push_str(r#"{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}"#);
    out.push_str("\n\n");
    for i in 0..CHUNKS {
        out.push_str("data: ");
        out.push_str(head);
        out.push_str(r#"{"content":""#);
        out.push_str(words[i % words.len()]);
        out.push_str(r#""},"logprobs":null,"finish_reason":null}],"obfuscation":"kq3"}"#);
        out.push_str("\n\n");
    }
    out.push_str("data: ");
    out.push_str(head);
    out.push_str(r#"{},"logprobs":null,"finish_reason":"stop"}]}"#);
    out.push_str("\n\ndata: ");
    out.push_str(r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":20002,"total_tokens":20021,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#);
    out.push_str("\n\ndata: [DONE]\n\n");
    out
}

/// The new decoder: every feed's text, as `onContent` gets it.
fn run_new(body: &[u8], piece: usize, options: DecodeOptions) -> (usize, u64) {
    let mut d = StreamDecoder::new(Protocol::Chat, options);
    let mut text = 0;
    for p in body.chunks(piece) {
        text += d.feed(p).text.len();
    }
    text += d.end().text.len();
    (text, d.chunk_count())
}

/// The old path as the shell drives it: decoded events queued, then each one through
/// `StreamState::on_event` (one `Value` per chunk).
fn run_old(body: &[u8], piece: usize) -> (usize, u64) {
    struct Queue(Vec<Event>);
    impl Sink for Queue {
        fn on_event(&mut self, e: Event) {
            self.0.push(e);
        }
    }
    let mut d = Decoder::new();
    let mut s = StreamState::new(Protocol::Chat);
    let mut q = Queue(Vec::new());
    let (mut text, mut chunks) = (0, 0);
    for p in body.chunks(piece) {
        let _ = d.feed(p, &mut q);
        for ev in q.0.drain(..) {
            if let Ok(Step::Chunk { content, .. }) = s.on_event(&ev) {
                text += content.map_or(0, |c| c.len());
                chunks += 1;
            }
        }
    }
    (text, chunks)
}

fn best(mut f: impl FnMut() -> (usize, u64)) -> (Duration, (usize, u64)) {
    let mut out = f();
    let mut best = Duration::MAX;
    for _ in 0..9 {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() {
    let body = stream();
    let bytes = body.as_bytes();
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{CHUNKS} chat chunks, {:.2} MB; best of 9 runs, native release build\n",
        mb
    );
    println!("| path | feed | MB/s | chunks/s | vs old |\n| --- | --- | ---: | ---: | ---: |");
    let flat = DecodeOptions {
        accumulate: false,
        ..DecodeOptions::default()
    };
    let keep = DecodeOptions {
        keep_chunks: true,
        ..DecodeOptions::default()
    };
    let patch = DecodeOptions {
        keep_chunks: true,
        patch_chunks: true,
        ..DecodeOptions::default()
    };
    for piece in [16 * 1024, 16] {
        let label = if piece >= 1024 { "16 KB" } else { "16 B" };
        // For profiling one path alone (e.g. under `valgrind --tool=callgrind`):
        // `DECODE_SPEED_ONLY=new` or `=old`, one run per feed size.
        if let Some(only) = std::env::var_os("DECODE_SPEED_ONLY") {
            if only == "old" {
                run_old(bytes, piece);
            } else {
                run_new(bytes, piece, DecodeOptions::default());
            }
            continue;
        }
        let (old_t, old_out) = best(|| run_old(bytes, piece));
        let rows: [(&str, Duration, (usize, u64)); 5] = [
            ("old: sse + StreamState (Value)", old_t, old_out),
            {
                let (t, o) = best(|| run_new(bytes, piece, DecodeOptions::default()));
                ("new: StreamDecoder", t, o)
            },
            {
                let (t, o) = best(|| run_new(bytes, piece, flat));
                ("new: StreamDecoder, accumulate: false", t, o)
            },
            {
                let (t, o) = best(|| run_new(bytes, piece, keep));
                ("new: StreamDecoder, keep_chunks", t, o)
            },
            {
                let (t, o) = best(|| run_new(bytes, piece, patch));
                (
                    "new: StreamDecoder, keep_chunks + patch_chunks (for await)",
                    t,
                    o,
                )
            },
        ];
        for (name, t, (text, chunks)) in rows {
            let s = t.as_secs_f64();
            assert_eq!(text, old_out.0, "{name}: same text delivered");
            println!(
                "| {name} | {label} | {:.0} | {:.0} | {:.2}× |",
                mb / s,
                chunks as f64 / s,
                old_t.as_secs_f64() / s
            );
        }
    }
}
