//! The synchronous, sans-IO stream core: response bytes in, one compact [`Output`] per
//! call out.
//!
//! Owns: [`StreamDecoder`], which owns the SSE decoder ([`crate::sse::Decoder`]) and the
//! one scan of each event's JSON ([`crate::scan`]); what each event delivers (choice 0's
//! text, reasoning, finish reasons); what counts as the end (`[DONE]`, TGI's event with
//! `generated_text`), as an error (an `error` event, an error payload, data that is not a
//! chunk, an SSE bound) and as truncation; [`Output`], what one feed produced;
//! [`StreamEvent`], the events that matter to the shell; [`Accumulate`], what is kept
//! beyond each feed: the final answer ([`Answer`], the default, in `answer.rs`) or
//! nothing ([`Deltas`], the decoder core's). Errors are told from the scan (`report.rs`).
//!
//! Must never: do I/O, read a clock, panic on any input, build a `crate::json::Value` or
//! use `core::fmt` on the way from bytes to text, finish reasons and errors (only
//! [`Answer`] does, on its cold paths), keep raw chunks (memory grows with the answer
//! being built, and not even that with `accumulate: false` or [`Deltas`]), or lose what
//! was delivered before an error.
//!
//! The semantics are those of [`crate::stream::ChatStreamState`],
//! [`crate::tgi::TgiStreamState`] and [`crate::protocol::StreamState`] (the tests hold
//! the two to each other): the same snapshot JSON, text, finish reason, usage and
//! errors, whatever the chunking of the bytes.

mod answer;
mod report;

pub use answer::Answer;

use crate::error::{Error, ErrorKind};
use crate::protocol::Protocol;
use crate::scan::{decode_str, members, path_to, scan_tgi, Kind, Rescan, Span, TgiScan};
use crate::sse::{Decoder, Event, Limits, Sink};
use crate::usage::TokenUsage;
use hf_inference_chunk::{is_error, string_of, ChatReader, Delivery, Out, Refused};
use std::borrow::Cow;

/// How a [`StreamDecoder`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The SSE bounds.
    pub limits: Limits,
    /// Put each delivered chunk's raw data in [`Output::chunks`] (for `for await`).
    pub keep_chunks: bool,
    /// With `keep_chunks`, a chat chunk that repeats the one before it but for one
    /// string's value is kept as that value alone ([`Output::chunks`] says how).
    pub patch_chunks: bool,
    /// Keep the text (content, reasoning, tool arguments, logprobs) for the snapshot.
    /// Without it memory stays flat: [`Output::text`] still delivers each feed's text.
    pub accumulate: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            limits: Limits::default(),
            keep_chunks: false,
            patch_chunks: false,
            accumulate: true,
        }
    }
}

/// An event of the stream that matters to the shell.
#[derive(Debug, Clone, PartialEq)]
// An error is rare and ends the stream; boxing it would cost every caller a deref.
#[allow(clippy::large_enum_variant)]
pub enum StreamEvent {
    /// A choice's finish reason arrived (TGI: `details.finish_reason`, choice 0).
    Finish { choice: u32, reason: String },
    /// A chunk carried `usage` (TGI: `details`), as read by [`TokenUsage::from_usage`].
    Usage(TokenUsage),
    /// A tool-call delta; `index` is the call's index (its position if it had none),
    /// `arguments` this delta's argument text.
    ToolCall {
        choice: u32,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// An in-stream error: nothing after it is processed.
    Error(Error),
    /// `data: [DONE]`, or TGI's final event (the one with `generated_text`): stop
    /// reading.
    Done,
    /// Only from [`StreamDecoder::end`]: neither an end marker nor a finish reason came.
    Truncated,
}

/// What one [`StreamDecoder::feed`] or [`StreamDecoder::end`] produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Choice 0's content deltas of this feed joined (chat), or the non-special tokens'
    /// text (TGI).
    pub text: String,
    /// Choice 0's reasoning deltas of this feed joined (`reasoning_content` or
    /// `reasoning`).
    pub reasoning: String,
    /// Only with `keep_chunks`: each delivered chunk followed by `'\0'` (a JSON text
    /// holds no raw NUL). Its raw data; with `patch_chunks`, a chat chunk that repeats
    /// the chunk before it is instead `=` (the same chunk again), or `'` and a text (the
    /// chunk before it with the string at the last path given changed to this text),
    /// or a JSON string (the same, for a text that holds a NUL), a path
    /// (`["choices",0,"delta","content"]`, from the root to that string) coming first
    /// when it differs from the last one given since a chunk was given whole. Nothing
    /// else starts with `=`, `'`, `"` or `[`: a chat chunk is an object.
    pub chunks: String,
    /// How many chunks this feed delivered.
    pub chunk_count: u32,
    pub events: Vec<StreamEvent>,
}

impl Output {
    fn clear(&mut self) {
        self.text.clear();
        self.reasoning.clear();
        self.chunks.clear();
        self.chunk_count = 0;
        self.events.clear();
    }
}

/// What a [`StreamDecoder`] keeps beyond each feed's [`Output`], told each event as the
/// decoder reads it: [`Answer`] keeps the final answer (and sends the `ToolCall` and
/// `Usage` events, which need it), [`Deltas`] nothing (each method's default is to keep
/// nothing). A type parameter, so that a decoder keeping nothing compiles none of the
/// accumulation. A chat chunk is read by the chunk crate's [`ChatReader`] (compiled for
/// speed), which keeps the answer's chat part itself: `chat` chooses which of its two
/// readings runs.
pub trait Accumulate: Default + std::fmt::Debug {
    /// Read one chat chunk's data with `reader`, delivering into `out` (and keeping it,
    /// with `accumulate` its text too).
    fn chat(
        &mut self,
        reader: &mut ChatReader,
        data: &str,
        out: Out<'_>,
        _accumulate: bool,
    ) -> Result<(), Refused> {
        reader.deltas(data, out, crate::json::count_from_str)
    }
    /// A chat chunk's `usage` object (its JSON text), delivered by `chat`: the `Usage`
    /// event's usage, if there is one.
    fn chat_usage(&mut self, _json: &str) -> Option<TokenUsage> {
        None
    }
    /// A TGI token; its text (unless it is special) is the output's text from `text`.
    fn tgi_token(&mut self, _text: Option<usize>, _w: &mut Work<'_>) {}
    /// A TGI event's `details` object.
    fn tgi_details(&mut self, _src: &str, _details: &Span, _w: &mut Work<'_>) {}
    /// TGI's final event's `generated_text` string.
    fn tgi_generated(&mut self, _src: &str, _g: &Span, _w: &mut Work<'_>) {}
}

/// Keeps nothing: each feed's [`Output`] (text, reasoning, finish reasons, errors,
/// `[DONE]`, truncation) is all there is; no `ToolCall` or `Usage` events.
#[derive(Debug, Default)]
pub struct Deltas;

/// Every method is the trait's default: it keeps nothing.
impl Accumulate for Deltas {}

/// What an [`Accumulate`] works with: the feed's output and the decoder's buffers.
pub struct Work<'a> {
    out: &'a mut Output,
    /// [`DecodeOptions::accumulate`].
    accumulate: bool,
}

/// One streamed response: feed it the body's bytes as they come, then [`end`](Self::end).
/// `A` is what it keeps beyond each feed: the answer (the default), or nothing.
#[derive(Debug)]
pub struct StreamDecoder<A: Accumulate = Answer> {
    sse: Decoder,
    core: Core<A>,
}

impl StreamDecoder {
    /// A decoder that keeps the answer ([`Answer`]).
    pub fn new(protocol: Protocol, options: DecodeOptions) -> Self {
        StreamDecoder::keeping(protocol, options)
    }

    /// The result so far as JSON: a `chat.completion`, or `{generated_text, details}`
    /// (the same JSON as [`crate::protocol::StreamState::snapshot_json`]).
    pub fn snapshot_json(&self) -> String {
        self.core.acc.snapshot_json(self.core.protocol)
    }

    /// Choice 0's content so far (the lowest choice index's, when no choice 0 came, as
    /// `StreamState::text`), or TGI's generated text ("" when `!accumulate`).
    pub fn text(&self) -> Cow<'_, str> {
        self.core.acc.text(self.core.protocol)
    }

    /// Choice 0's finish reason (TGI: `details.finish_reason`), once it came.
    pub fn finish_reason(&self) -> Option<&str> {
        self.core.acc.finish_reason(self.core.protocol)
    }

    /// As [`crate::protocol::StreamState::token_usage`].
    pub fn token_usage(&self, prompt_estimate: Option<u64>) -> Option<TokenUsage> {
        self.core
            .acc
            .token_usage(self.core.protocol, prompt_estimate)
    }

    /// Whether the result so far is a complete chat answer the cache may keep.
    pub fn storable(&self) -> bool {
        self.core.acc.storable(self.core.protocol)
    }
}

impl<A: Accumulate> StreamDecoder<A> {
    /// A decoder that keeps what `A` keeps.
    pub fn keeping(protocol: Protocol, options: DecodeOptions) -> Self {
        StreamDecoder {
            sse: Decoder::with_limits(options.limits),
            core: Core {
                protocol,
                options,
                out: Output::default(),
                acc: A::default(),
                chat: ChatReader::default(),
                deliveries: Vec::new(),
                tscan: TgiScan::default(),
                scratch: String::new(),
                marker: false,
                finished: false,
                stopped: false,
                chunks: 0,
                template: false,
                patch_at: None,
            },
        }
    }

    /// Process every complete event in `bytes` (any split: mid-line, mid-UTF-8,
    /// CR/LF/CRLF, BOM). The returned Output is cleared at the start of each call.
    pub fn feed(&mut self, bytes: &[u8]) -> &Output {
        self.core.out.clear();
        if !self.core.is_done() {
            if let Err(e) = self.sse.feed(bytes, &mut self.core) {
                // Events before (and after) the bad line in these bytes went out first,
                // as the SSE decoder delivers them.
                self.core.fail(e.into());
            }
        }
        &self.core.out
    }

    /// The body ended: flush the unterminated final event (accepted when its data
    /// parses), and report `Truncated` when neither `[DONE]` nor a finish reason came.
    pub fn end(&mut self) -> &Output {
        self.core.out.clear();
        if self.core.is_done() {
            self.core.stopped = true;
            return &self.core.out;
        }
        match self.sse.finish(&mut self.core) {
            Err(e) => self.core.fail(e.into()),
            Ok(tail) => {
                if let Some(ev) = tail {
                    self.core.tail(&ev);
                }
                if !self.core.is_done() && !self.core.finished {
                    self.core.out.events.push(StreamEvent::Truncated);
                }
            }
        }
        self.core.stopped = true;
        &self.core.out
    }

    /// `[DONE]` (or TGI's final event), an error, or [`end`](Self::end) was called.
    pub fn is_done(&self) -> bool {
        self.core.is_done() || self.core.stopped
    }

    /// How many chunks were delivered so far.
    pub fn chunk_count(&self) -> u64 {
        self.core.chunks
    }

    /// The protocol this decoder reads.
    pub fn protocol(&self) -> Protocol {
        self.core.protocol
    }

    /// Whether [`Output::chunks`] is filled from now on (a shell learns only when the
    /// stream is first consumed whether anyone wants chunk objects).
    pub fn set_keep_chunks(&mut self, keep: bool, patch: bool) {
        let o = &mut self.core.options;
        if (o.keep_chunks, o.patch_chunks) != (keep, patch) {
            // What the consumer holds may no longer be the last chunk.
            self.core.template = false;
        }
        o.keep_chunks = keep;
        o.patch_chunks = patch;
    }

    /// The options this decoder was made with (and `keep_chunks` as set since).
    pub fn options(&self) -> DecodeOptions {
        self.core.options
    }
}

/// Append the path entry to the string value of `data` whose text starts at `at`; false
/// (and nothing appended) when [`path_to`] gives none.
fn push_path(data: &str, at: usize, out: &mut String) -> bool {
    let from = out.len();
    if path_to(data, at, out) {
        out.push('\0');
        true
    } else {
        out.truncate(from);
        false
    }
}

/// Append the string `t`'s text after `'`, or (the rare text holding a NUL, which ends an
/// entry) its JSON.
fn push_text(data: &str, t: &Span, out: &mut String) {
    let from = out.len();
    out.push('\'');
    decode_str(data, t, out);
    if out
        .as_bytes()
        .get(from + 1..)
        .is_some_and(|b| b.contains(&0))
    {
        out.truncate(from);
        out.push_str(t.json(data));
    }
}

#[derive(Debug)]
struct Core<A> {
    protocol: Protocol,
    options: DecodeOptions,
    out: Output,
    acc: A,
    /// The chat chunks' reader (the chunk crate's).
    chat: ChatReader,
    /// What the last chat chunk delivered besides its text, made events here.
    deliveries: Vec<Delivery>,
    tscan: TgiScan,
    scratch: String,
    /// `[DONE]` or TGI's final event came.
    marker: bool,
    /// A chat choice's finish reason came: that ends a stream that has no `[DONE]`
    /// (old TGI chat streams).
    finished: bool,
    /// An error was reported, or the body ended.
    stopped: bool,
    chunks: u64,
    /// Patched chunks (`patch_chunks`): the consumer holds the last chunk kept, so the
    /// next one may be given as a change of it.
    template: bool,
    /// The start of the string the last path given leads to (`None`: none was given
    /// since the last whole chunk).
    patch_at: Option<usize>,
}

impl<A: Accumulate> Sink for Core<A> {
    fn on_event(&mut self, event: Event) {
        self.on_event_ref(&event.event, &event.data, &event.id);
    }
    fn on_event_ref(&mut self, event: &str, data: &str, _id: &str) {
        if self.is_done() {
            return;
        }
        if let Err(e) = self.event(event, data) {
            self.fail(e);
        }
    }
}

impl<A: Accumulate> Core<A> {
    fn is_done(&self) -> bool {
        self.marker || self.stopped
    }

    #[cold]
    fn fail(&mut self, e: Error) {
        if !self.is_done() {
            self.out.events.push(StreamEvent::Error(e));
            self.stopped = true;
        }
    }

    /// One dispatched SSE event.
    fn event(&mut self, event_type: &str, raw: &str) -> Result<(), Error> {
        // Data that starts and ends with an ASCII character other than a space (`{…}`)
        // has no white space to trim.
        let plain = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x80).contains(b));
        let data = if plain(raw.as_bytes().first()) && plain(raw.as_bytes().last()) {
            raw
        } else {
            raw.trim()
        };
        if event_type == "error" {
            return Err(match self.protocol {
                Protocol::Chat => crate::stream::error_event(data),
                Protocol::TextGeneration => crate::tgi::error_event(data),
            });
        }
        if !(event_type == "message" || event_type.is_empty()) || data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.marker = true;
            self.out.events.push(StreamEvent::Done);
            return Ok(());
        }
        match self.protocol {
            Protocol::Chat => self.chat_chunk(data)?,
            Protocol::TextGeneration => self.tgi_event(data)?,
        }
        self.chunks += 1;
        self.out.chunk_count = self.out.chunk_count.saturating_add(1);
        if !self.options.keep_chunks {
            self.template = false;
        } else if self.options.patch_chunks && self.protocol == Protocol::Chat {
            self.keep_patched(data);
        } else {
            self.out.chunks.push_str(raw);
            self.out.chunks.push('\0');
        }
        if self.marker {
            self.out.events.push(StreamEvent::Done);
        }
        Ok(())
    }

    /// Keep the chat chunk `data` just read for the consumer, as a change of the last
    /// one when it is one (see [`Output::chunks`]).
    fn keep_patched(&mut self, data: &str) {
        let out = &mut self.out.chunks;
        let kept = match self.chat.change().filter(|_| self.template) {
            Some(Rescan::Same) => {
                out.push('=');
                true
            }
            Some(Rescan::Changed(t)) => {
                let known = self.patch_at == Some(t.start) || push_path(data, t.start, out);
                if known {
                    self.patch_at = Some(t.start);
                    push_text(data, &t, out);
                }
                known
            }
            None => false,
        };
        if !kept {
            out.push_str(data);
            self.patch_at = None;
        }
        out.push('\0');
        self.template = true;
    }

    /// The unterminated final event: accepted when it parses (a chat chunk followed by
    /// stray bytes is accepted for its leading object); one cut mid-way is dropped.
    fn tail(&mut self, ev: &Event) {
        match self.event(&ev.event, &ev.data) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Parse => {
                if self.protocol == Protocol::Chat {
                    if let Some(prefix) = crate::stream::leading_json_object(&ev.data) {
                        // Errors here are dropped as the old state drops them.
                        let _ = self.event(&ev.event, prefix);
                    }
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn chat_chunk(&mut self, data: &str) -> Result<(), Error> {
        let out = Out {
            text: &mut self.out.text,
            reasoning: &mut self.out.reasoning,
            deliveries: &mut self.deliveries,
        };
        if let Err(refused) = self
            .acc
            .chat(&mut self.chat, data, out, self.options.accumulate)
        {
            self.deliveries.clear();
            let (scan, scratch) = self.chat.refused_parts();
            return Err(report::chat_error(data, refused.scanned, scan, scratch));
        }
        for d in self.deliveries.drain(..) {
            let event = match d {
                Delivery::Usage(usage) => match self.acc.chat_usage(usage.json(data)) {
                    Some(u) => StreamEvent::Usage(u),
                    None => continue,
                },
                Delivery::ToolCall {
                    choice,
                    index,
                    id,
                    name,
                    arguments,
                } => StreamEvent::ToolCall {
                    choice,
                    index,
                    id,
                    name,
                    arguments,
                },
                Delivery::Finish { choice, reason } => {
                    self.finished = true;
                    StreamEvent::Finish { choice, reason }
                }
            };
            self.out.events.push(event);
        }
        Ok(())
    }

    fn tgi_event(&mut self, data: &str) -> Result<(), Error> {
        let scanned = scan_tgi(data, &mut self.tscan, &mut self.scratch);
        let s = &self.tscan;
        let shape_ok = scanned.is_ok()
            && s.root == Some(Kind::Object)
            && !is_error(data, s.error, s.object, &mut self.scratch)
            && (s.token.is_some() || s.generated_text.is_some())
            && s.token
                .map_or(true, |t| matches!(t.kind, Kind::Null | Kind::Object))
            && s.details
                .map_or(true, |d| matches!(d.kind, Kind::Null | Kind::Object));
        if !shape_ok {
            return Err(report::tgi_error(
                data,
                scanned.is_ok(),
                s,
                &mut self.scratch,
            ));
        }
        let mut w = Work {
            out: &mut self.out,
            accumulate: self.options.accumulate,
        };
        if s.token.is_some_and(|t| t.kind == Kind::Object) {
            let special = s.token_special.is_some_and(|b| b.kind == Kind::True);
            let start = w.out.text.len();
            let text = s.token_text.filter(|t| !special && t.kind == Kind::String);
            if let Some(text) = text {
                decode_str(data, &text, &mut w.out.text);
            }
            self.acc.tgi_token(text.map(|_| start), &mut w);
        }
        if let Some(details) = s.details.filter(|d| d.kind == Kind::Object) {
            let mut reason = [None];
            members(data, &details, &["finish_reason"], &mut reason);
            if let Some(r) = reason[0].filter(|r| r.kind == Kind::String) {
                w.out.events.push(StreamEvent::Finish {
                    choice: 0,
                    reason: string_of(data, &r),
                });
            }
            self.acc.tgi_details(data, &details, &mut w);
        }
        if let Some(g) = s.generated_text.filter(|g| g.kind == Kind::String) {
            self.acc.tgi_generated(data, &g, &mut w);
            self.marker = true;
        }
        Ok(())
    }
}
