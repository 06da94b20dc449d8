//! Server-Sent Events: bytes in, events out, incrementally.
//!
//! Owns: [`Decoder`], the sans-IO parser that turns the body of a `text/event-stream`
//! response, fed in chunks of any size, into [`Event`]s, comments and `retry` values; the
//! [`Sink`] it reports to; its bounds ([`Limits`]) and their errors ([`SseError`]).
//!
//! Must never: parse JSON (`data` is handed on as text; the `stream` module decides what
//! it means), do I/O, read a clock, panic on any input, or hold more than one pending
//! line and one event's data.
//!
//! # What it follows
//!
//! The WHATWG HTML rules, step by step:
//! - [Parsing an event stream]: one leading U+FEFF BOM is dropped; lines end in CRLF, LF
//!   or CR; bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD.
//! - [Interpreting an event stream]: a blank line dispatches, a line starting with `:` is
//!   a comment, otherwise the field name runs to the first `:` (or the whole line) and
//!   the value is the rest, less one leading space.
//! - [Process the field]: `event`, `data`, `id` (ignored if it contains U+0000) and
//!   `retry` (ASCII digits only); anything else is ignored.
//! - [Dispatch the event]: no dispatch while the data buffer is empty; one trailing LF is
//!   removed from the data; the type defaults to `message`; the last event ID persists
//!   across events.
//!
//! # Where it deliberately differs
//!
//! - **The unterminated final event.** The spec discards an event that the stream did not
//!   end with a blank line ("incomplete events are discarded at end of file").
//!   [`Decoder::finish`] instead treats a pending unterminated line as terminated and
//!   *returns* an event with data as the unterminated final event, without passing it to
//!   [`Sink::on_event`]. Some servers close the body right after the last `data:` line;
//!   the caller chooses whether to accept that event.
//! - **Comments are reported.** The spec ignores them; we pass the text after the `:`,
//!   with one leading space removed exactly as for field values, to [`Sink::on_comment`]
//!   (keep-alive heartbeats reset idle timers).
//! - **Bounds.** A line longer than [`Limits::max_line_bytes`] and an event whose data
//!   outgrows [`Limits::max_event_bytes`] are dropped and reported as [`SseError`]s.
//! - **Huge `retry` values** saturate at `u64::MAX` instead of being unbounded integers.
//!
//! # Cost
//!
//! Linear in the input whatever the chunking: each fed byte is scanned once for a line
//! terminator; a line that spans feeds is appended to one buffer (fragments are never
//! rescanned or re-joined). A line that fits in one feed is parsed in place; fields are
//! split on the raw bytes and only values are decoded, so an ordinary `data:` line
//! allocates nothing beyond the event's own strings.
//!
//! [Parsing an event stream]: https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
//! [Interpreting an event stream]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
//! [Process the field]: https://html.spec.whatwg.org/multipage/server-sent-events.html#processField
//! [Dispatch the event]: https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage

use std::borrow::Cow;

/// The UTF-8 byte order mark, dropped once at the very start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A pending-line buffer that grew past this is freed after use, so one huge line does
/// not pin its memory for the rest of the stream.
const KEEP_LINE_CAPACITY: usize = 64 * 1024;

/// Bounds on what one stream may make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, in bytes, not counting its terminator. Default 1 MiB.
    pub max_line_bytes: usize,
    /// Largest data buffer of one event, in bytes after UTF-8 decoding, counting the `\n`
    /// added after each `data` line. Default 8 MiB.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 1 << 20,
            max_event_bytes: 8 << 20,
        }
    }
}

/// A dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event` field, or "message" when none was given.
    pub event: String,
    /// The `data` lines joined with '\n' (the final '\n' removed per spec).
    pub data: String,
    /// The last event ID buffer at dispatch time (persists across events; "" if never set).
    pub id: String,
}

/// Receives what the decoder finds, eventsource-parser style.
pub trait Sink {
    /// A blank line completed an event with data.
    fn on_event(&mut self, event: Event);
    /// The same event, borrowed from the decoder's buffers: `event` is the type
    /// ("message" when none was given), `data` the joined data, `id` the last event ID.
    /// The decoder calls this; the default builds the owned [`Event`] for
    /// [`Sink::on_event`]. A sink that only reads the event overrides it and the decoder
    /// allocates nothing per event.
    fn on_event_ref(&mut self, event: &str, data: &str, id: &str) {
        self.on_event(Event {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
        });
    }
    /// A line starting with `:`; `comment` is the rest, less one leading space.
    fn on_comment(&mut self, _comment: &str) {}
    /// A valid `retry` field, in milliseconds.
    fn on_retry(&mut self, _ms: u64) {}
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn on_event(&mut self, event: Event) {
        (**self).on_event(event);
    }
    fn on_event_ref(&mut self, event: &str, data: &str, id: &str) {
        (**self).on_event_ref(event, data, id);
    }
    fn on_comment(&mut self, comment: &str) {
        (**self).on_comment(comment);
    }
    fn on_retry(&mut self, ms: u64) {
        (**self).on_retry(ms);
    }
}

/// Everything the decoder reports, for callers that want a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Event(Event),
    Comment(String),
    Retry(u64),
}

impl Sink for Vec<Item> {
    fn on_event(&mut self, event: Event) {
        self.push(Item::Event(event));
    }
    fn on_comment(&mut self, comment: &str) {
        self.push(Item::Comment(comment.to_owned()));
    }
    fn on_retry(&mut self, ms: u64) {
        self.push(Item::Retry(ms));
    }
}

/// A bound in [`Limits`] was exceeded. What was over the bound is dropped; the decoder
/// can go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an SSE line is longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("an SSE event is larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

impl SseError {
    /// The machine-readable code the crate's [`Error`] carries.
    pub fn code(&self) -> &'static str {
        match self {
            SseError::LineTooLong { .. } => "line_too_long",
            SseError::EventTooLarge { .. } => "event_too_large",
        }
    }
}

/// Where the decoder is with the optional BOM at the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Still at the start; this many bytes of [`BOM`] have matched (0..=2) and are held.
    Bom(usize),
    /// Past the start: no byte is a BOM any more.
    Done,
}

/// The incremental SSE decoder. Feed it bytes with [`Decoder::feed`], end the stream with
/// [`Decoder::finish`].
///
/// ```
/// use hf_inference_wire::sse::{Decoder, Item};
///
/// let mut decoder = Decoder::new();
/// let mut items = Vec::new();
/// decoder.feed(b"data: hel", &mut items)?;
/// decoder.feed(b"lo\n\ndata: [DONE]\n\n", &mut items)?;
/// assert_eq!(decoder.finish(&mut items), Ok(None));
/// assert_eq!(items.len(), 2);
/// assert!(matches!(&items[0], Item::Event(e) if e.data == "hello"));
/// # Ok::<(), hf_inference_wire::sse::SseError>(())
/// ```
#[must_use = "a decoder does nothing until fed"]
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    start: Start,
    /// The last byte fed ended a line with CR: an LF opening the next feed belongs to it.
    after_cr: bool,
    /// The start of a line that spans feeds (empty when lines end inside one feed).
    line: Vec<u8>,
    /// The pending line outgrew `max_line_bytes`: drop bytes up to its end.
    skipping_line: bool,
    /// The data buffer: each `data` value followed by '\n'.
    data: String,
    /// The event type buffer.
    event_type: String,
    /// The event's data outgrew `max_event_bytes`: drop it up to the next blank line.
    skipping_event: bool,
    last_event_id: String,
    reconnection_ms: Option<u64>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Self {
        Decoder::with_limits(Limits::default())
    }

    /// A decoder with the given bounds.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits,
            start: Start::Bom(0),
            after_cr: false,
            line: Vec::new(),
            skipping_line: false,
            data: String::new(),
            event_type: String::new(),
            skipping_event: false,
            last_event_id: String::new(),
            reconnection_ms: None,
        }
    }

    /// The bounds this decoder enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Feed the next bytes. Events completed by these bytes go to `sink` before this
    /// returns.
    ///
    /// On `Err`, everything before the offending line has already been delivered and the
    /// offending line is discarded (for [`SseError::EventTooLarge`], the whole event up to
    /// its blank line is). The rest of `bytes` is still decoded and delivered, so the
    /// decoder can continue if fed more and the outcome does not depend on how the stream
    /// was chunked; when several lines in one call are over a bound, the first error is
    /// returned. Callers that treat the error as fatal simply stop feeding.
    pub fn feed(&mut self, bytes: &[u8], sink: &mut impl Sink) -> Result<(), SseError> {
        let mut first_error = None;
        let rest = self.skip_bom(bytes, sink, &mut first_error);
        self.scan(rest, sink, &mut first_error);
        first_error.map_or(Ok(()), Err)
    }

    /// End of input.
    ///
    /// Deliberate difference from the spec (see the module docs): a pending unterminated
    /// line is processed as if terminated (a comment or `retry` on it still reaches
    /// `sink`), and if the event being built has data it is returned as the
    /// *unterminated final event*, **not** passed to [`Sink::on_event`], so the caller can
    /// choose to accept it. On `Err` (that last line was over a bound) there is no such
    /// event.
    ///
    /// Resets the decoder for reuse on a new stream (as after a reconnect): the pending
    /// line, event, BOM and CR state are cleared, while [`Decoder::last_event_id`] and
    /// [`Decoder::reconnection_ms`] are kept, as an `EventSource` keeps them across
    /// reconnects. Use [`Decoder::new`] for a clean slate.
    pub fn finish(&mut self, sink: &mut impl Sink) -> Result<Option<Event>, SseError> {
        let mut first_error = None;
        if let Start::Bom(matched) = self.start {
            // Fewer than three BOM bytes, then the end: they were text after all.
            self.start = Start::Done;
            self.scan(
                BOM.get(..matched).unwrap_or_default(),
                sink,
                &mut first_error,
            );
        }
        if self.skipping_line || !self.line.is_empty() {
            self.end_line(&[], sink, &mut first_error);
        }
        let event = self.take_event();
        self.reset_stream();
        match first_error {
            Some(e) => Err(e),
            None => Ok(event),
        }
    }

    /// The last event ID buffer: the value of the last valid `id` field ("" if none).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Last valid `retry` value seen, if any.
    pub fn reconnection_ms(&self) -> Option<u64> {
        self.reconnection_ms
    }

    /// Everything but the last event ID and reconnection time back to a fresh stream.
    fn reset_stream(&mut self) {
        self.start = Start::Bom(0);
        self.after_cr = false;
        self.clear_line();
        self.skipping_line = false;
        self.data.clear();
        self.event_type.clear();
        self.skipping_event = false;
    }

    fn clear_line(&mut self) {
        if self.line.capacity() > KEEP_LINE_CAPACITY {
            self.line = Vec::new();
        } else {
            self.line.clear();
        }
    }

    /// Drops one UTF-8 BOM at the very start of the stream, even when it arrives split
    /// across feeds; returns what is left of `bytes`.
    fn skip_bom<'a>(
        &mut self,
        bytes: &'a [u8],
        sink: &mut dyn Sink,
        first_error: &mut Option<SseError>,
    ) -> &'a [u8] {
        let Start::Bom(mut matched) = self.start else {
            return bytes;
        };
        for (i, &byte) in bytes.iter().enumerate() {
            if BOM.get(matched) == Some(&byte) {
                matched += 1;
                if matched == BOM.len() {
                    self.start = Start::Done;
                    return bytes.get(i + 1..).unwrap_or_default();
                }
            } else {
                // Not a BOM: the bytes held back so far are ordinary text.
                self.start = Start::Done;
                self.scan(BOM.get(..matched).unwrap_or_default(), sink, first_error);
                return bytes.get(i..).unwrap_or_default();
            }
        }
        self.start = Start::Bom(matched);
        &[]
    }

    /// Splits `bytes` into lines; only these new bytes are scanned for terminators.
    fn scan(&mut self, mut rest: &[u8], sink: &mut dyn Sink, first_error: &mut Option<SseError>) {
        if self.after_cr {
            if let Some((&first, tail)) = rest.split_first() {
                self.after_cr = false;
                if first == b'\n' {
                    // The LF of a CRLF whose CR ended the previous feed.
                    rest = tail;
                }
            }
        }
        while let Some(end) = line_end(rest) {
            let Some((line, terminator)) = rest.split_at_checked(end) else {
                break;
            };
            rest = match terminator {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
            self.end_line(line, sink, first_error);
        }
        self.extend_line(rest, first_error);
    }

    /// Keeps the start of a line that does not end in this feed, within the bound.
    fn extend_line(&mut self, fragment: &[u8], first_error: &mut Option<SseError>) {
        if fragment.is_empty() || self.skipping_line {
            return;
        }
        if self.line.len().saturating_add(fragment.len()) > self.limits.max_line_bytes {
            // Reported now, before the rest of the line arrives: it is never buffered.
            self.line_too_long(first_error);
            return;
        }
        self.line.extend_from_slice(fragment);
    }

    /// A line terminator was reached (or the end of input); `tail` is the line's last
    /// fragment.
    fn end_line(&mut self, tail: &[u8], sink: &mut dyn Sink, first_error: &mut Option<SseError>) {
        if self.skipping_line {
            // The end of a line already reported as too long.
            self.skipping_line = false;
            return;
        }
        if self.line.len().saturating_add(tail.len()) > self.limits.max_line_bytes {
            self.line_too_long(first_error);
            self.skipping_line = false;
            return;
        }
        if self.line.is_empty() {
            // The whole line arrived in this feed: parse it in place.
            self.process_line(tail, sink, first_error);
        } else {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(tail);
            self.process_line(&line, sink, first_error);
            self.line = line;
            self.clear_line();
        }
    }

    fn line_too_long(&mut self, first_error: &mut Option<SseError>) {
        self.clear_line();
        self.skipping_line = true;
        first_error.get_or_insert(SseError::LineTooLong {
            limit: self.limits.max_line_bytes,
        });
    }

    /// One complete line, without its terminator.
    /// <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>
    fn process_line(
        &mut self,
        line: &[u8],
        sink: &mut dyn Sink,
        first_error: &mut Option<SseError>,
    ) {
        match line.split_first() {
            None => self.dispatch(sink),
            Some((b':', comment)) => sink.on_comment(&decode(strip_space(comment))),
            Some(_) => {
                let (name, value) = match line.iter().position(|&b| b == b':') {
                    Some(colon) => (
                        line.get(..colon).unwrap_or_default(),
                        strip_space(line.get(colon + 1..).unwrap_or_default()),
                    ),
                    None => (line, &[][..]),
                };
                self.process_field(name, value, sink, first_error);
            }
        }
    }

    /// <https://html.spec.whatwg.org/multipage/server-sent-events.html#processField>
    fn process_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        sink: &mut dyn Sink,
        first_error: &mut Option<SseError>,
    ) {
        match name {
            b"data" => {
                if self.skipping_event {
                    return;
                }
                let value = decode(value);
                let size = self
                    .data
                    .len()
                    .saturating_add(value.len())
                    .saturating_add(1);
                if size > self.limits.max_event_bytes {
                    self.data = String::new();
                    self.skipping_event = true;
                    first_error.get_or_insert(SseError::EventTooLarge {
                        limit: self.limits.max_event_bytes,
                    });
                    return;
                }
                // One exact allocation for the usual single-line event.
                self.data.reserve(value.len() + 1);
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            // UTF-8 encodes U+0000 only as the byte 0.
            b"id" if !value.contains(&0) => {
                self.last_event_id.clear();
                self.last_event_id.push_str(&decode(value));
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.reconnection_ms = Some(ms);
                    sink.on_retry(ms);
                }
            }
            _ => {}
        }
    }

    /// The dispatch step at a blank line: the event, borrowed, to the sink if the data
    /// buffer has anything, and the event buffers reset (keeping their capacity, unless
    /// one huge event grew them) either way.
    /// <https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage>
    fn dispatch(&mut self, sink: &mut dyn Sink) {
        let skipped = std::mem::replace(&mut self.skipping_event, false);
        if !skipped && !self.data.is_empty() {
            let data = self.data.strip_suffix('\n').unwrap_or(&self.data);
            let event = if self.event_type.is_empty() {
                "message"
            } else {
                &self.event_type
            };
            sink.on_event_ref(event, data, &self.last_event_id);
        }
        if self.data.capacity() > KEEP_LINE_CAPACITY {
            self.data = String::new();
        } else {
            self.data.clear();
        }
        self.event_type.clear();
    }

    /// The dispatch step at [`Decoder::finish`]: the event if the
    /// data buffer has anything, and the event buffers reset either way.
    /// <https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage>
    fn take_event(&mut self) -> Option<Event> {
        let skipped = std::mem::replace(&mut self.skipping_event, false);
        if skipped || self.data.is_empty() {
            self.data.clear();
            self.event_type.clear();
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        Some(Event {
            event,
            data,
            id: self.last_event_id.clone(),
        })
    }
}

/// Where the first CR or LF of `bytes` is: eight bytes at a time (as one word: a byte
/// is `b` where `word ^ b…b` has a zero byte) while none is, then one by one.
fn line_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `w` is zero; exact as a yes/no (a borrow only spills past a
    // zero byte).
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS != 0;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        match <[u8; 8]>::try_from(word) {
            Ok(word) => {
                let w = u64::from_le_bytes(word);
                if has_zero(w ^ (ONES * u64::from(b'\n')))
                    || has_zero(w ^ (ONES * u64::from(b'\r')))
                {
                    break;
                }
                at += 8;
            }
            Err(_) => break,
        }
    }
    let rest = bytes.get(at..).unwrap_or_default();
    rest.iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| at + i)
}

/// The value less one leading U+0020 SPACE, if it has one.
fn strip_space(value: &[u8]) -> &[u8] {
    // A pattern, not `strip_prefix`: that splits with a bounds check that can panic.
    match value {
        [b' ', rest @ ..] => rest,
        _ => value,
    }
}

/// UTF-8 decoding of a complete line part; invalid sequences become U+FFFD. Borrows when
/// the bytes are valid. Splitting a line on the ASCII `:` and space before decoding gives
/// the same text as decoding first, since no invalid sequence swallows an ASCII byte.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `from_utf8` first: its ASCII fast path is much quicker than the lossy decoder's
    // chunk iterator on the usual, valid line.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(lossy(bytes)),
    }
}

/// `String::from_utf8_lossy(bytes)`, by the decoder's own [`decode`]: for the bodies the
/// client's shell reads whole (a non-streamed answer, an error body, the Hub's mapping,
/// the model list), so that std's lossy decoder (1 KB of wasm) is not compiled in too.
pub fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    decode(bytes)
}

/// `String::from_utf8_lossy`'s text (each maximal invalid sequence one U+FFFD), by
/// `from_utf8` and its error's lengths: the lossy decoder's own chunk iterator is
/// another kilobyte of wasm for a cold path.
#[cold]
#[inline(never)]
fn lossy(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at_checked(e.valid_up_to()).unwrap_or_default();
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                match e.error_len() {
                    Some(n) => bytes = rest.get(n..).unwrap_or_default(),
                    None => return out,
                }
            }
        }
    }
}

/// A `retry` value: one or more ASCII digits, base ten, saturating at `u64::MAX`.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |ms, &d| {
        crate::push_digit(ms, d - b'0').unwrap_or(u64::MAX)
    }))
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_decoding_is_from_utf8_lossy() {
        let mut seed: u64 = 7;
        let pool = [
            0x41u8, 0x80, 0xBF, 0xC2, 0xE0, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F,
        ];
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        pool[(seed >> 33) as usize % pool.len()]
                    })
                    .collect();
                assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes), "{bytes:x?}");
                assert_eq!(
                    utf8_lossy(&bytes),
                    String::from_utf8_lossy(&bytes),
                    "{bytes:x?}"
                );
            }
        }
    }

    fn decode_chunks(decoder: &mut Decoder, chunks: &[&[u8]]) -> (Vec<Item>, Option<Event>) {
        let mut items = Vec::new();
        for chunk in chunks {
            decoder
                .feed(chunk, &mut items)
                .expect("within the default limits");
        }
        let last = decoder
            .finish(&mut items)
            .expect("within the default limits");
        (items, last)
    }

    fn message(data: &str) -> Item {
        Item::Event(Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
        })
    }

    #[test]
    fn line_end_finds_the_first_cr_or_lf_at_any_offset() {
        // 0x8A and 0x8D differ from LF and CR only in the high bit.
        for len in 0..27 {
            for at in 0..=len {
                for stop in [b'\n', b'\r', 0x8A, 0x8D, 0x0B] {
                    let mut bytes = vec![b'x'; len];
                    if let Some(b) = bytes.get_mut(at) {
                        *b = stop;
                    }
                    bytes.push(b'\n');
                    let naive = bytes.iter().position(|&b| b == b'\n' || b == b'\r');
                    assert_eq!(line_end(&bytes), naive, "{bytes:?}");
                    bytes.pop();
                    let naive = bytes.iter().position(|&b| b == b'\n' || b == b'\r');
                    assert_eq!(line_end(&bytes), naive, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn lf_opening_the_next_feed_completes_a_crlf() {
        let mut d = Decoder::new();
        let (items, last) = decode_chunks(&mut d, &[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(items, vec![message("a"), message("b")]);
        assert_eq!(last, None);
    }

    #[test]
    fn cr_at_the_end_of_a_feed_ends_the_line_at_once() {
        let mut d = Decoder::new();
        let mut items = Vec::new();
        d.feed(b"data: a\r\r", &mut items).unwrap();
        assert_eq!(items, vec![message("a")]);
    }

    #[test]
    fn bom_split_one_byte_at_a_time_is_dropped() {
        let mut d = Decoder::new();
        let (items, _) = decode_chunks(&mut d, &[b"\xEF", b"", b"\xBB", b"\xBF", b"data: a\n\n"]);
        assert_eq!(items, vec![message("a")]);
    }

    #[test]
    fn partial_bom_is_text() {
        let mut d = Decoder::new();
        let (items, _) = decode_chunks(&mut d, &[b"\xEF\xBB", b"\n:x\n"]);
        assert_eq!(items, vec![Item::Comment("x".into())]);
    }

    #[test]
    fn multibyte_char_split_across_feeds_decodes() {
        let bytes = "data: 😀\n\n".as_bytes();
        let mut d = Decoder::new();
        let (items, _) = decode_chunks(&mut d, &[&bytes[..7], &bytes[7..9], &bytes[9..]]);
        assert_eq!(items, vec![message("😀")]);
    }

    #[test]
    fn one_mib_line_in_four_byte_pieces_decodes() {
        let payload = "x".repeat(1 << 20);
        let input = format!("data:{payload}\n\n");
        let mut d = Decoder::with_limits(Limits {
            max_line_bytes: 2 << 20,
            ..Limits::default()
        });
        let chunks: Vec<&[u8]> = input.as_bytes().chunks(4).collect();
        let (items, last) = decode_chunks(&mut d, &chunks);
        assert_eq!(last, None);
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Item::Event(e) if e.data == payload));
        // The huge line's buffer is not kept for the rest of the stream.
        assert!(d.line.capacity() <= KEEP_LINE_CAPACITY);
    }

    #[test]
    fn too_long_line_is_reported_before_it_is_buffered() {
        let limits = Limits {
            max_line_bytes: 1024,
            max_event_bytes: 4096,
        };
        let mut d = Decoder::with_limits(limits);
        let mut items = Vec::new();
        let chunk = [b'x'; 512];
        assert_eq!(d.feed(b"data:", &mut items), Ok(()));
        assert_eq!(d.feed(&chunk, &mut items), Ok(()));
        assert_eq!(
            d.feed(&chunk, &mut items),
            Err(SseError::LineTooLong { limit: 1024 })
        );
        assert!(d.line.is_empty());
        // The rest of the line is skipped without further errors or buffering.
        for _ in 0..100 {
            assert_eq!(d.feed(&chunk, &mut items), Ok(()));
            assert!(d.line.is_empty());
        }
        assert_eq!(d.feed(b"\n\ndata: next\n\n", &mut items), Ok(()));
        assert_eq!(items, vec![message("next")]);
    }

    #[test]
    fn too_large_event_is_dropped_up_to_its_blank_line() {
        let mut d = Decoder::with_limits(Limits {
            max_line_bytes: 64,
            max_event_bytes: 8,
        });
        let mut items = Vec::new();
        let result = d.feed(
            b"data: 1234\ndata: 5678\ndata: x\n\ndata: ok\n\n",
            &mut items,
        );
        assert_eq!(result, Err(SseError::EventTooLarge { limit: 8 }));
        assert_eq!(items, vec![message("ok")]);
    }

    #[test]
    fn unterminated_final_event_is_returned_not_dispatched() {
        let mut d = Decoder::new();
        let mut items = Vec::new();
        d.feed(b"id: 7\ndata: a\n\ndata: tail", &mut items).unwrap();
        let last = d.finish(&mut items).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            last,
            Some(Event {
                event: "message".into(),
                data: "tail".into(),
                id: "7".into()
            })
        );
    }

    #[test]
    fn finish_resets_the_stream_but_keeps_id_and_retry() {
        let mut d = Decoder::new();
        let mut items = Vec::new();
        d.feed(b"\xEF\xBB\xBFid: 9\nretry: 250\ndata: half", &mut items)
            .unwrap();
        assert!(d.finish(&mut items).unwrap().is_some());
        assert_eq!(d.last_event_id(), "9");
        assert_eq!(d.reconnection_ms(), Some(250));
        // A new stream: its BOM is dropped again and no old data leaks in.
        let (items, last) = decode_chunks(&mut d, &[b"\xEF\xBB\xBFdata: b\n\n"]);
        assert_eq!(last, None);
        assert_eq!(
            items,
            vec![Item::Event(Event {
                event: "message".into(),
                data: "b".into(),
                id: "9".into()
            })]
        );
    }

    #[test]
    fn sink_through_a_trait_object() {
        let mut d = Decoder::new();
        let mut items: Vec<Item> = Vec::new();
        let mut sink: &mut dyn Sink = &mut items;
        d.feed(b"data: a\n\n", &mut sink).unwrap();
        assert_eq!(items, vec![message("a")]);
    }

    #[test]
    fn retry_parsing() {
        assert_eq!(parse_retry(b"1500"), Some(1500));
        assert_eq!(parse_retry(b"007"), Some(7));
        assert_eq!(parse_retry(b""), None);
        assert_eq!(parse_retry(b"10a"), None);
        assert_eq!(parse_retry(b" 10"), None);
        assert_eq!(parse_retry(b"99999999999999999999999"), Some(u64::MAX));
    }
}
