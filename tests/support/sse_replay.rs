//! Feed bytes to the SSE decoder in given chunks and keep everything it reported.
//! Shared by the vector tests, the property tests and the fuzz target (included with
//! `#[path]`), so all three compare chunkings the same way.

use hf_inference_wasm::sse::{Decoder, Event, Item, Limits, SseError};

/// What one replay produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub items: Vec<Item>,
    pub unterminated: Option<Event>,
    /// The first error any `feed` or `finish` returned (feeding goes on past errors).
    pub error: Option<SseError>,
}

/// Decode `chunks` in order with `limits`, then finish.
pub fn replay<'a>(limits: Limits, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = Decoder::with_limits(limits);
    let mut items = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = decoder.feed(chunk, &mut items) {
            error.get_or_insert(e);
        }
    }
    let unterminated = match decoder.finish(&mut items) {
        Ok(last) => last,
        Err(e) => {
            error.get_or_insert(e);
            None
        }
    };
    Outcome {
        items,
        unterminated,
        error,
    }
}
