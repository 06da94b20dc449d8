//! The synchronous, sans-IO stream core: response bytes in, one compact [`Output`] per
//! call out.
//!
//! Owns: [`StreamDecoder`], which owns the SSE decoder ([`crate::sse::Decoder`]), the
//! one scan of each event's JSON ([`crate::scan`]) and the accumulation of the answer
//! (content and reasoning per choice, tool calls by index, the last finish reason, the
//! last usage, unknown fields last non-null wins); what counts as the end (`[DONE]`,
//! TGI's event with `generated_text`), as an error (an `error` event, an error payload,
//! data that is not a chunk, an SSE bound) and as truncation; [`Output`], what one feed
//! produced; [`StreamEvent`], the events that matter to the shell.
//!
//! Must never: do I/O, read a clock, panic on any input, build a `crate::json::Value` for
//! an ordinary chunk (only cold paths do: an error, a `usage` or `details` object, an
//! unknown field when the snapshot is written, content sent as an array of parts),
//! keep raw chunks (memory grows with the answer being built, and not even that with
//! `accumulate: false`), or lose what was delivered before an error.
//!
//! The semantics are those of [`crate::stream::ChatStreamState`],
//! [`crate::tgi::TgiStreamState`] and [`crate::protocol::StreamState`] (the tests hold
//! the two to each other): the same snapshot JSON, text, finish reason, usage and
//! errors, whatever the chunking of the bytes.

use crate::error::{Error, ErrorKind};
use crate::json::{Map, Value};
use crate::protocol::Protocol;
use crate::scan::{
    decode_str, rescan_chat, scan_chat, scan_tgi, ChatScan, Kind, Reader, Span, TgiScan,
};
use crate::sse::{Decoder, Event, Limits, Sink};
use crate::types::{ChatCompletion, Choice, FunctionCall, Message, ToolCall, Usage};
use crate::usage::{TokenUsage, UsageEstimate};
use std::borrow::Cow;

/// The longest chunk kept to compare the next one with: chunks are a few hundred bytes;
/// a bigger one is scanned and not kept.
const PREV_MAX: usize = 4096;

/// How a [`StreamDecoder`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The SSE bounds.
    pub limits: Limits,
    /// Put each delivered chunk's raw data in [`Output::chunks`] (for `for await`).
    pub keep_chunks: bool,
    /// Keep the text (content, reasoning, tool arguments, logprobs) for the snapshot.
    /// Without it memory stays flat: [`Output::text`] still delivers each feed's text.
    pub accumulate: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            limits: Limits::default(),
            keep_chunks: false,
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
    /// Only with `keep_chunks`: the raw data text of each delivered chunk, each followed
    /// by `'\0'`.
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

/// One streamed response: feed it the body's bytes as they come, then [`end`](Self::end).
#[derive(Debug)]
pub struct StreamDecoder {
    sse: Decoder,
    core: Core,
}

impl StreamDecoder {
    pub fn new(protocol: Protocol, options: DecodeOptions) -> Self {
        StreamDecoder {
            sse: Decoder::with_limits(options.limits),
            core: Core {
                protocol,
                options,
                out: Output::default(),
                chat: ChatAcc::default(),
                tgi: TgiAcc::default(),
                scan: ChatScan::default(),
                tscan: TgiScan::default(),
                scratch: String::new(),
                key: String::new(),
                prev: String::new(),
                marker: false,
                stopped: false,
                chunks: 0,
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
                if !self.core.is_done() && !self.core.finished() {
                    self.core.out.events.push(StreamEvent::Truncated);
                }
            }
        }
        self.core.stopped = true;
        &self.core.out
    }

    /// The result so far as JSON: a `chat.completion`, or `{generated_text, details}`
    /// (the same JSON as [`crate::protocol::StreamState::snapshot_json`]).
    pub fn snapshot_json(&self) -> String {
        match self.core.protocol {
            Protocol::Chat => self.core.chat.snapshot().to_json(),
            Protocol::TextGeneration => self.core.tgi.snapshot().to_json(),
        }
    }

    /// Choice 0's content so far (the lowest choice index's, when no choice 0 came, as
    /// `StreamState::text`), or TGI's generated text ("" when `!accumulate`).
    pub fn text(&self) -> Cow<'_, str> {
        match self.core.protocol {
            // The first choice listed, as `StreamState::text` reads it (choice 0 when
            // there is one).
            Protocol::Chat => self
                .core
                .chat
                .choices
                .first()
                .and_then(|(_, c)| c.content.as_ref())
                .map(Rope::text)
                .unwrap_or_default(),
            Protocol::TextGeneration => match &self.core.tgi.generated_text {
                Some(t) => Cow::Borrowed(t.as_str()),
                None => self.core.tgi.text.text(),
            },
        }
    }

    /// Choice 0's finish reason (TGI: `details.finish_reason`), once it came.
    pub fn finish_reason(&self) -> Option<&str> {
        match self.core.protocol {
            Protocol::Chat => match self.core.chat.choices.first() {
                Some((0, c)) => c.finish_reason.as_deref(),
                _ => None,
            },
            Protocol::TextGeneration => self
                .core
                .tgi
                .details
                .as_ref()
                .and_then(|d| d.finish_reason.as_deref()),
        }
    }

    /// As [`crate::protocol::StreamState::token_usage`].
    pub fn token_usage(&self, prompt_estimate: Option<u64>) -> Option<TokenUsage> {
        let (reported, completion_estimate) = match self.core.protocol {
            Protocol::Chat => (
                self.core.chat.usage.as_ref().map(TokenUsage::from_usage),
                crate::usage::estimate_completion_tokens(&self.core.chat.snapshot()),
            ),
            Protocol::TextGeneration => (
                self.core.tgi.details.as_ref().map(TokenUsage::from_tgi),
                crate::usage::estimate_text_tokens(&self.core.tgi.text.text()),
            ),
        };
        let estimate = prompt_estimate.map(|p| UsageEstimate {
            prompt_tokens: p,
            completion_tokens: completion_estimate,
        });
        crate::usage::resolve_usage(reported.filter(|u| !u.is_empty()), estimate)
    }

    /// Whether the result so far is a complete chat answer the cache may keep.
    pub fn storable(&self) -> bool {
        match self.core.protocol {
            Protocol::Chat => crate::cache::storable(&self.core.chat.snapshot(), false),
            Protocol::TextGeneration => false,
        }
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
    pub fn set_keep_chunks(&mut self, keep: bool) {
        self.core.options.keep_chunks = keep;
    }

    /// The options this decoder was made with (and `keep_chunks` as set since).
    pub fn options(&self) -> DecodeOptions {
        self.core.options
    }
}

#[derive(Debug)]
struct Core {
    protocol: Protocol,
    options: DecodeOptions,
    out: Output,
    chat: ChatAcc,
    tgi: TgiAcc,
    scan: ChatScan,
    tscan: TgiScan,
    scratch: String,
    key: String,
    /// The last chat chunk's data, whose scan `scan` holds ("" when it holds none):
    /// the next chunk is compared with it before it is scanned ([`rescan_chat`]).
    prev: String,
    /// `[DONE]` or TGI's final event came.
    marker: bool,
    /// An error was reported, or the body ended.
    stopped: bool,
    chunks: u64,
}

impl Sink for Core {
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

impl Core {
    fn is_done(&self) -> bool {
        self.marker || self.stopped
    }

    /// A finish reason ends a stream that has no `[DONE]` (old TGI chat streams).
    fn finished(&self) -> bool {
        match self.protocol {
            Protocol::Chat => self
                .chat
                .choices
                .iter()
                .any(|(_, c)| c.finish_reason.is_some()),
            Protocol::TextGeneration => false,
        }
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
        let data = raw.trim();
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
        if self.options.keep_chunks {
            self.out.chunks.push_str(raw);
            self.out.chunks.push('\0');
        }
        if self.marker {
            self.out.events.push(StreamEvent::Done);
        }
        Ok(())
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
        let scanned = if rescan_chat(data, &self.prev, &mut self.scan) {
            Ok(())
        } else {
            scan_chat(data, &mut self.scan, &mut self.scratch)
        };
        self.prev.clear();
        if scanned.is_ok() && data.len() <= PREV_MAX {
            self.prev.push_str(data);
        }
        if scanned.is_err() || !chat_shape_ok(data, &self.scan, &mut self.scratch) {
            return Err(slow_chat_error(data));
        }
        let accumulate = self.options.accumulate;
        let s = &self.scan;
        let acc = &mut self.chat;
        let out = &mut self.out;
        let scratch = &mut self.scratch;
        let key = &mut self.key;
        if let Some(id) = s.id.filter(non_empty_string) {
            acc.id.clear();
            decode_str(data, &id, &mut acc.id);
        }
        if let Some(model) = s.model.filter(non_empty_string) {
            acc.model.clear();
            decode_str(data, &model, &mut acc.model);
        }
        if let Some(created) = s.created.and_then(|c| count(data, &c)) {
            if created != 0 {
                acc.created = created;
            }
        }
        if let Some(fp) = s.system_fingerprint.filter(|f| f.kind == Kind::String) {
            let v = acc.system_fingerprint.get_or_insert_with(String::new);
            v.clear();
            decode_str(data, &fp, v);
        }
        if let Some(usage) = s.usage.filter(|u| u.kind == Kind::Object) {
            let usage = read_usage(usage.json(data));
            out.events
                .push(StreamEvent::Usage(TokenUsage::from_usage(&usage)));
            acc.usage = Some(usage);
        }
        // `error: null` (or `false`) is an unknown field like any other.
        let error = s.error.map(|e| (ERROR_KEY, e));
        merge_extra(
            data,
            s.extra.iter().copied().chain(error),
            &mut acc.extra,
            &[],
            scratch,
            key,
        );

        let mut content0_given = false;
        for c in &s.choice_list {
            let index = c
                .index
                .and_then(|i| count(data, &i))
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0);
            let slot = match acc.choices.binary_search_by_key(&index, |(i, _)| *i) {
                Ok(slot) => slot,
                Err(slot) => {
                    acc.choices.insert(slot, (index, Box::default()));
                    slot
                }
            };
            let (_, choice) = &mut acc.choices[slot];
            if let Some(role) = c.role.filter(|r| r.kind == Kind::String) {
                let v = choice.role.get_or_insert_with(String::new);
                v.clear();
                decode_str(data, &role, v);
            }
            if let Some(content) = c.content.filter(|t| t.kind != Kind::Null) {
                let start = out.text.len();
                text_into(data, &content, &mut out.text);
                if accumulate {
                    let delta = out.text.get(start..).unwrap_or_default();
                    choice
                        .content
                        .get_or_insert_with(Rope::default)
                        .push_str(delta);
                }
                // Only the first non-empty content of choice 0 per chunk is delivered,
                // as the old state's step does.
                if index != 0 || content0_given {
                    out.text.truncate(start);
                } else {
                    content0_given = out.text.len() > start;
                }
            }
            let reasoning = match c.reasoning_content.filter(|t| t.kind != Kind::Null) {
                Some(r) => Some(r),
                None => c.reasoning.filter(|r| r.kind == Kind::String),
            };
            if let Some(r) = reasoning {
                let start = out.reasoning.len();
                text_into(data, &r, &mut out.reasoning);
                if accumulate {
                    let delta = out.reasoning.get(start..).unwrap_or_default();
                    choice
                        .reasoning
                        .get_or_insert_with(Rope::default)
                        .push_str(delta);
                }
                if index != 0 {
                    out.reasoning.truncate(start);
                }
            }
            for t in s.tools.get(c.tools.clone()).unwrap_or_default() {
                let piece = ToolPiece {
                    index: t
                        .index
                        .and_then(|i| count(data, &i))
                        .and_then(|i| u32::try_from(i).ok()),
                    id: t.id.filter(non_empty_string).map(|i| string_of(data, &i)),
                    kind: t
                        .kind
                        .filter(|k| k.kind == Kind::String)
                        .map(|k| string_of(data, &k)),
                    name: t.name.filter(non_empty_string).map(|n| string_of(data, &n)),
                    arguments: t.arguments.and_then(|a| json_text(data, &a)),
                };
                let event = choice.absorb_tool_call(piece, accumulate);
                out.events.push(StreamEvent::ToolCall {
                    choice: index,
                    index: event.0,
                    id: event.1,
                    name: event.2,
                    arguments: event.3,
                });
            }
            if let Some(reason) = c.finish_reason.filter(|f| f.kind == Kind::String) {
                let reason = string_of(data, &reason);
                choice.finish_reason = Some(reason.clone());
                out.events.push(StreamEvent::Finish {
                    choice: index,
                    reason,
                });
            }
            if accumulate {
                if let Some(lp) = c.logprobs.filter(|l| l.kind == Kind::Object) {
                    // An empty `content` adds nothing (and no `logprobs` to the snapshot).
                    if let Some(content) = logprob_content(data, &lp, scratch)
                        .filter(|c| c.json(data).get(1..).unwrap_or_default().trim_start() != "]")
                    {
                        choice.logprob_content.push(content.json(data).to_owned());
                    }
                }
            }
            let extra = s.choice_extra.get(c.extra.clone()).unwrap_or_default();
            merge_extra(
                data,
                extra.iter().copied(),
                &mut choice.extra,
                &["message", "text"],
                scratch,
                key,
            );
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
            return Err(slow_tgi_error(data));
        }
        let acc = &mut self.tgi;
        if s.token.is_some_and(|t| t.kind == Kind::Object) {
            acc.tokens += 1;
            let special = s.token_special.is_some_and(|b| b.kind == Kind::True);
            if !special {
                if let Some(text) = s.token_text.filter(|t| t.kind == Kind::String) {
                    let start = self.out.text.len();
                    decode_str(data, &text, &mut self.out.text);
                    if self.options.accumulate {
                        acc.text
                            .push_str(self.out.text.get(start..).unwrap_or_default());
                    }
                }
            }
        }
        if let Some(details) = s.details.filter(|d| d.kind == Kind::Object) {
            let details = crate::json::parse(details.json(data))
                .ok()
                .and_then(|v| crate::tgi::Details::from_json(v).ok())
                .unwrap_or_default();
            if let Some(reason) = &details.finish_reason {
                self.out.events.push(StreamEvent::Finish {
                    choice: 0,
                    reason: reason.clone(),
                });
            }
            let usage = TokenUsage::from_tgi(&details);
            if !usage.is_empty() {
                self.out.events.push(StreamEvent::Usage(usage));
            }
            acc.details = Some(details);
        }
        if let Some(g) = s.generated_text.filter(|g| g.kind == Kind::String) {
            let mut text = String::new();
            if self.options.accumulate {
                decode_str(data, &g, &mut text);
            }
            acc.generated_text = Some(text);
            self.marker = true;
        }
        Ok(())
    }
}

const ERROR_KEY: Span = Span {
    kind: Kind::String,
    start: 0,
    end: 0,
    escaped: false,
};

fn non_empty_string(s: &Span) -> bool {
    s.kind == Kind::String && s.end > s.start
}

fn string_of(src: &str, s: &Span) -> String {
    let mut v = String::new();
    decode_str(src, s, &mut v);
    v
}

/// Whether a root object is an error report: a non-null, non-false `error`, or
/// `object: "error"` (vLLM).
fn is_error(src: &str, error: Option<Span>, object: Option<Span>, scratch: &mut String) -> bool {
    let has_error = error.is_some_and(|e| !matches!(e.kind, Kind::Null | Kind::False));
    has_error || object.is_some_and(|o| o.kind == Kind::String && o.is(src, "error", scratch))
}

/// Whether every known field of a scanned chunk has a type the chunk reader accepts
/// (anything else is the old reader's shape error, reported through it).
fn chat_shape_ok(src: &str, s: &ChatScan, scratch: &mut String) -> bool {
    fn is(s: Option<Span>, kinds: &[Kind]) -> bool {
        s.map_or(true, |s| kinds.contains(&s.kind))
    }
    const STR: &[Kind] = &[Kind::String, Kind::Null];
    const TEXT: &[Kind] = &[Kind::String, Kind::Null, Kind::Array];
    const OBJ: &[Kind] = &[Kind::Object, Kind::Null];
    s.root == Some(Kind::Object)
        && !is_error(src, s.error, s.object, scratch)
        && is(s.id, STR)
        && is(s.object, STR)
        && is(s.model, STR)
        && is(s.system_fingerprint, STR)
        && is(s.usage, OBJ)
        && is(s.choices, &[Kind::Array])
        && s.choice_list.iter().all(|c| {
            is(c.item, &[Kind::Object])
                && is(c.delta, &[Kind::Object])
                && is(c.finish_reason, STR)
                && is(c.role, STR)
                && is(c.content, TEXT)
                && is(c.reasoning_content, TEXT)
                && is(c.tool_calls, &[Kind::Array, Kind::Null])
        })
        && s.tools.iter().all(|t| {
            is(t.item, &[Kind::Object])
                && is(t.id, STR)
                && is(t.kind, STR)
                && is(t.function, OBJ)
                && is(t.name, STR)
        })
}

/// The error the old chunk reader gives for data the scan refused (cold).
#[cold]
#[inline(never)]
fn slow_chat_error(data: &str) -> Error {
    match crate::stream::parse_chunk(data) {
        Err(e) => e,
        Ok(_) => crate::types::parse_error("a stream chunk could not be read".to_owned(), data),
    }
}

#[cold]
#[inline(never)]
fn slow_tgi_error(data: &str) -> Error {
    match crate::tgi::parse_event(data) {
        Err(e) => e,
        Ok(_) => crate::types::parse_error("a TGI stream event could not be read".to_owned(), data),
    }
}

#[cold]
#[inline(never)]
fn read_usage(json: &str) -> Usage {
    crate::json::parse(json)
        .ok()
        .and_then(|v| Usage::from_json(v).ok())
        .unwrap_or_default()
}

/// A count as [`crate::json::count`] reads it: plain digits here, the rest cold.
fn count(src: &str, s: &Span) -> Option<u64> {
    match s.kind {
        Kind::Number => {
            let raw = s.raw(src);
            if raw.len() < 20 && raw.bytes().all(|b| b.is_ascii_digit()) {
                // At most 19 digits: no overflow (`str::parse` was a call per chunk).
                return Some(raw.bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
            }
            slow_count(raw)
        }
        Kind::String => {
            let mut v = String::new();
            decode_str(src, s, &mut v);
            crate::json::count_from_str(&v)
        }
        _ => None,
    }
}

#[cold]
#[inline(never)]
fn slow_count(raw: &str) -> Option<u64> {
    crate::json::count(&crate::json::parse(raw).ok()?)
}

/// Text that is a string or an array of content parts (whose `text` pieces join).
fn text_into(src: &str, s: &Span, out: &mut String) {
    match s.kind {
        Kind::String => decode_str(src, s, out),
        Kind::Array => join_parts(s.json(src), out),
        _ => {}
    }
}

#[cold]
#[inline(never)]
fn join_parts(json: &str, out: &mut String) {
    if let Ok(Value::Array(parts)) = crate::json::parse(json) {
        for part in &parts {
            match part {
                Value::String(s) => out.push_str(s),
                Value::Object(p) => {
                    if let Some(Value::String(s)) = p.get("text") {
                        out.push_str(s);
                    }
                }
                _ => {}
            }
        }
    }
}

/// JSON text: a string as is, `null` as `None`, anything else as its JSON text.
fn json_text(src: &str, s: &Span) -> Option<String> {
    match s.kind {
        Kind::Null => None,
        Kind::String => Some(string_of(src, s)),
        _ => Some(slow_json_text(s.json(src))),
    }
}

#[cold]
#[inline(never)]
fn slow_json_text(json: &str) -> String {
    crate::json::parse(json)
        .map(|v| crate::json::to_text(&v))
        .unwrap_or_default()
}

/// The `content` array of a `logprobs` object (the last `content` key wins).
fn logprob_content(src: &str, lp: &Span, scratch: &mut String) -> Option<Span> {
    let text = lp.json(src);
    let mut r = Reader::new(text);
    let mut found = None;
    let base = lp.start;
    r.enter(Kind::Object).ok()??;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first).ok()? {
        let v = r.value().ok()?;
        if key.is(text, "content", scratch) {
            found = Some(v);
        }
    }
    let v = found.filter(|v| v.kind == Kind::Array)?;
    Some(Span {
        start: v.start + base,
        end: v.end + base,
        ..v
    })
}

/// Fold one object's unknown fields into `into`: within the object the last duplicate
/// wins; then a non-null value replaces, a `null` only fills a gap.
fn merge_extra(
    src: &str,
    fields: impl Iterator<Item = (Span, Span)> + Clone,
    into: &mut Vec<(String, String)>,
    skip: &[&str],
    scratch: &mut String,
    key: &mut String,
) {
    for (i, (k, v)) in fields.clone().enumerate() {
        key.clear();
        if k == ERROR_KEY {
            key.push_str("error");
        } else {
            decode_str(src, &k, key);
        }
        if skip.contains(&key.as_str()) {
            continue;
        }
        let later = fields.clone().skip(i + 1).any(|(k2, _)| {
            if k2 == ERROR_KEY {
                key == "error"
            } else {
                k2.is(src, key, scratch)
            }
        });
        if later {
            continue;
        }
        let json = v.json(src);
        match into.iter_mut().find(|(known, _)| known == key) {
            Some((_, old)) => {
                if v.kind != Kind::Null {
                    old.clear();
                    old.push_str(json);
                }
            }
            None => into.push((key.clone(), json.to_owned())),
        }
    }
}

#[cold]
fn extra_map(fields: &[(String, String)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Ok(v) = crate::json::parse(v) {
            m.insert(k.clone(), v);
        }
    }
    m
}

/// What the chat chunks added up to so far.
#[derive(Debug, Default)]
struct ChatAcc {
    id: String,
    model: String,
    created: u64,
    system_fingerprint: Option<String>,
    /// Unknown top-level fields (name, JSON text); the last non-null value wins.
    extra: Vec<(String, String)>,
    /// By choice index, sorted; boxed so an insertion moves 8 bytes per choice.
    choices: Vec<(u32, Box<ChoiceAcc>)>,
    usage: Option<Usage>,
}

#[derive(Debug, Default)]
struct ChoiceAcc {
    role: Option<String>,
    content: Option<Rope>,
    reasoning: Option<Rope>,
    tool_calls: Vec<ToolCallAcc>,
    /// Tool call index -> position in `tool_calls`, sorted by index.
    tool_by_index: Vec<(u32, usize)>,
    /// Tool call id -> position, for servers that send no `index`.
    tool_by_id: Vec<(String, usize)>,
    finish_reason: Option<String>,
    /// The JSON text of each chunk's `logprobs.content` array.
    logprob_content: Vec<String>,
    /// Unknown choice-level fields (name, JSON text).
    extra: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct ToolCallAcc {
    index: Option<u32>,
    id: String,
    kind: Option<String>,
    name: String,
    arguments: Rope,
}

struct ToolPiece {
    index: Option<u32>,
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

impl ChatAcc {
    fn snapshot(&self) -> ChatCompletion {
        ChatCompletion {
            id: self.id.clone(),
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: self.system_fingerprint.clone(),
            choices: self
                .choices
                .iter()
                .map(|(index, c)| c.to_choice(*index))
                .collect(),
            usage: self.usage.clone(),
            extra: extra_map(&self.extra),
        }
    }
}

impl ChoiceAcc {
    /// Fold a tool-call piece in; returns the event's (index, id, name, arguments).
    fn absorb_tool_call(
        &mut self,
        piece: ToolPiece,
        accumulate: bool,
    ) -> (u32, Option<String>, Option<String>, String) {
        let pos = match (piece.index, piece.id.as_deref()) {
            (Some(index), _) => match self.tool_by_index.binary_search_by_key(&index, |e| e.0) {
                Ok(slot) => self.tool_by_index[slot].1,
                Err(slot) => {
                    self.tool_by_index
                        .insert(slot, (index, self.tool_calls.len()));
                    self.new_tool_call(Some(index))
                }
            },
            (None, Some(id)) => match self.find_id(id) {
                Ok(slot) => self.tool_by_id[slot].1,
                Err(_) => self.new_tool_call(None),
            },
            (None, None) => match self.tool_calls.len() {
                0 => self.new_tool_call(None),
                n => n - 1,
            },
        };
        if let Some(id) = &piece.id {
            if let Err(slot) = self.find_id(id) {
                self.tool_by_id.insert(slot, (id.clone(), pos));
            }
            let call = &mut self.tool_calls[pos];
            if call.id.is_empty() {
                call.id = id.clone();
            }
        }
        let call = &mut self.tool_calls[pos];
        if call.kind.is_none() {
            call.kind = piece.kind;
        }
        if let Some(name) = &piece.name {
            if call.name.is_empty() {
                call.name = name.clone();
            }
        }
        let arguments = piece.arguments.unwrap_or_default();
        if accumulate {
            call.arguments.push_str(&arguments);
        }
        let index = call
            .index
            .unwrap_or_else(|| u32::try_from(pos).unwrap_or(u32::MAX));
        (index, piece.id, piece.name, arguments)
    }

    fn find_id(&self, id: &str) -> Result<usize, usize> {
        self.tool_by_id
            .binary_search_by(|(known, _)| known.as_str().cmp(id))
    }

    fn new_tool_call(&mut self, index: Option<u32>) -> usize {
        let index = index.or_else(|| u32::try_from(self.tool_calls.len()).ok());
        self.tool_calls.push(ToolCallAcc {
            index,
            ..ToolCallAcc::default()
        });
        self.tool_calls.len() - 1
    }

    fn to_choice(&self, index: u32) -> Choice {
        let tool_calls = (!self.tool_calls.is_empty()).then(|| {
            self.tool_calls
                .iter()
                .map(|t| ToolCall {
                    index: t.index,
                    id: t.id.clone(),
                    kind: t.kind.clone().unwrap_or_else(|| "function".to_owned()),
                    function: FunctionCall {
                        name: t.name.clone(),
                        arguments: t.arguments.joined(),
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                })
                .collect()
        });
        let logprobs = (!self.logprob_content.is_empty()).then(|| {
            let mut items = Vec::new();
            for text in &self.logprob_content {
                if let Ok(Value::Array(a)) = crate::json::parse(text) {
                    items.extend(a);
                }
            }
            let mut lp = Map::new();
            lp.insert("content".to_owned(), Value::Array(items));
            Value::Object(lp)
        });
        Choice {
            index,
            message: Message {
                role: self.role.clone().unwrap_or_else(|| "assistant".to_owned()),
                content: self.content.as_ref().map(Rope::joined),
                reasoning_content: self.reasoning.as_ref().map(Rope::joined),
                tool_calls,
                extra: Map::new(),
            },
            finish_reason: self.finish_reason.clone(),
            logprobs,
            extra: extra_map(&self.extra),
        }
    }
}

/// What the TGI events added up to so far.
#[derive(Debug, Default)]
struct TgiAcc {
    text: Rope,
    generated_text: Option<String>,
    details: Option<crate::tgi::Details>,
    tokens: u64,
}

impl TgiAcc {
    fn snapshot(&self) -> crate::tgi::TextGenerationOutput {
        crate::tgi::TextGenerationOutput {
            generated_text: self
                .generated_text
                .clone()
                .unwrap_or_else(|| self.text.joined()),
            details: self.details.clone(),
            extra: Map::new(),
        }
    }
}

/// Text accumulated over a stream, in segments: one `String` that doubles as it grows
/// leaves each smaller predecessor behind as a hole the next, larger one cannot reuse, so
/// a long answer took about three times its size in linear memory (which never shrinks).
/// Past [`Rope::SEGMENT`] bytes the text goes on in new segments of that size, so it takes
/// its own size and a bounded slack. Joined when the answer is read.
#[derive(Debug, Default, Clone)]
struct Rope {
    full: Vec<String>,
    tail: String,
}

impl Rope {
    const SEGMENT: usize = 64 * 1024;

    fn push_str(&mut self, s: &str) {
        let len = self.tail.len() + s.len();
        if len > self.tail.capacity() && len > Self::SEGMENT && !self.tail.is_empty() {
            self.full.push(std::mem::take(&mut self.tail));
            self.tail.reserve_exact(Self::SEGMENT.max(s.len()));
        }
        self.tail.push_str(s);
    }

    /// The whole text: borrowed while it is one segment.
    fn text(&self) -> Cow<'_, str> {
        if self.full.is_empty() {
            Cow::Borrowed(&self.tail)
        } else {
            Cow::Owned(self.joined())
        }
    }

    fn joined(&self) -> String {
        let len = self.full.iter().map(String::len).sum::<usize>() + self.tail.len();
        let mut out = String::with_capacity(len);
        self.full.iter().for_each(|p| out.push_str(p));
        out.push_str(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Rope;

    #[test]
    fn a_rope_keeps_every_piece_in_order_and_grows_by_segments() {
        let mut rope = Rope::default();
        let mut want = String::new();
        // Pieces of every size, a multi-byte character in each, past several segments.
        for i in 0..40_000usize {
            let piece = format!("{i}é{}", "x".repeat(i % 37));
            rope.push_str(&piece);
            want.push_str(&piece);
        }
        assert!(want.len() > 10 * Rope::SEGMENT);
        assert_eq!(rope.text(), want.as_str());
        // The first segment may have doubled once past SEGMENT; the rest are SEGMENT each.
        assert!(
            rope.full.len() >= want.len() / Rope::SEGMENT - 2,
            "{} segments",
            rope.full.len()
        );
        // Every segment after the first was reserved at its final size: no doubling.
        for part in rope.full.iter().skip(1) {
            assert!(part.capacity() <= Rope::SEGMENT + 64, "{}", part.capacity());
        }
        let total: usize =
            rope.full.iter().map(String::capacity).sum::<usize>() + rope.tail.capacity();
        assert!(
            total < want.len() + 3 * Rope::SEGMENT,
            "{total} bytes held for {}",
            want.len()
        );
    }

    #[test]
    fn a_short_rope_is_borrowed_whole() {
        let mut rope = Rope::default();
        rope.push_str("ab");
        rope.push_str("c");
        assert!(matches!(rope.text(), std::borrow::Cow::Borrowed("abc")));
    }
}
