//! The streaming decoder core alone, as its own wasm (`feature = "decoder"`, built by
//! `scripts/build-core-wasm.sh`): what issue 12's "streaming decoder core ≤ 10 KB" figure
//! measures, and the smallest shell a caller with its own `fetch` would put around it.
//!
//! Owns: one `ChatDecoder` class over [`StreamDecoder`] keeping nothing beyond each feed
//! ([`Deltas`]: no snapshot, so none of the answer's code is in this wasm), bytes in, the
//! read's text and the events that matter out, each call synchronous. Must never: fetch, await, retry or
//! decide anything itself; it is not part of the client or proxy entries.

use crate::decode::{DecodeOptions, Deltas, Output, StreamDecoder, StreamEvent};
use crate::protocol::Protocol;
use wasm_bindgen::prelude::*;

/// A chat-completion (or TGI) stream decoder: SSE framing, one scan of each event's
/// JSON, the joined text of each feed.
#[wasm_bindgen]
pub struct ChatDecoder {
    /// Keeps nothing beyond each feed ([`Deltas`]): no snapshot, so none of its code.
    inner: StreamDecoder<Deltas>,
    seen: Seen,
}

#[wasm_bindgen]
impl ChatDecoder {
    /// `tgi`: read TGI's `/generate_stream` events instead of chat chunks.
    #[wasm_bindgen(constructor)]
    pub fn new(tgi: bool) -> ChatDecoder {
        let protocol = if tgi {
            Protocol::TextGeneration
        } else {
            Protocol::Chat
        };
        ChatDecoder {
            inner: StreamDecoder::keeping(protocol, DecodeOptions::default()),
            seen: Seen::default(),
        }
    }

    /// Decode `bytes` (any split); the text their complete events carried.
    pub fn feed(&mut self, bytes: &[u8]) -> String {
        let out = self.inner.feed(bytes);
        self.seen.note(out)
    }

    /// The body ended: the final unterminated event's text, if any.
    pub fn end(&mut self) -> String {
        let out = self.inner.end();
        self.seen.note(out)
    }

    #[wasm_bindgen(getter, js_name = finishReason)]
    pub fn finish_reason(&self) -> Option<String> {
        self.seen.finish.clone()
    }

    /// The in-stream error's message, once one came (nothing after it is decoded).
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> Option<String> {
        self.seen.error.clone()
    }

    /// `[DONE]`, TGI's final event, or an error came.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.seen.done
    }

    /// `end()` came before an end marker or a finish reason.
    #[wasm_bindgen(getter)]
    pub fn truncated(&self) -> bool {
        self.seen.truncated
    }
}

/// What the events so far said.
#[derive(Default)]
struct Seen {
    finish: Option<String>,
    error: Option<String>,
    done: bool,
    truncated: bool,
}

impl Seen {
    /// Takes in one feed's events; answers its text.
    fn note(&mut self, out: &Output) -> String {
        for ev in &out.events {
            match ev {
                StreamEvent::Finish { choice: 0, reason } => self.finish = Some(reason.clone()),
                StreamEvent::Error(e) => {
                    self.error = Some(e.message.clone());
                    self.done = true;
                }
                StreamEvent::Done => self.done = true,
                StreamEvent::Truncated => self.truncated = true,
                _ => {}
            }
        }
        out.text.clone()
    }
}
