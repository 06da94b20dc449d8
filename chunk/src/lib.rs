//! The chat stream's per-chunk work: what each chat chunk delivers and what it adds to
//! the answer. Every chunk of every chat stream goes through it, so it is compiled for
//! speed (`opt-level = 3`, the root Cargo.toml's profile override) in the Node and
//! workerd build, while the rest of `hf-inference-wasm` is compiled for size.
//!
//! Owns: [`ChatReader`], one stream's reading of its chat chunks (the scan of each
//! chunk's data, from the one before it when it can, `hf_inference_wire::scan`); what a
//! chunk delivers (choice 0's content and reasoning, tool-call deltas, finish reasons,
//! where its usage object is: [`Delivery`]); when a chunk is refused ([`Refused`]: not
//! JSON, or a field of a type the chunk reader refuses); [`ChatAnswer`], what the chunks
//! add up to (content and reasoning per choice, tool calls, unknown fields and logprobs
//! as JSON text), which the caller turns into its snapshot.
//!
//! Must never: word an error (the caller reports a refused chunk from the scan,
//! `decode/report.rs`), build a JSON tree (the caller's cold paths do: the usage object,
//! non-string tool arguments and counts given as strings through the [`Cold`] functions
//! it passes), know about TGI, use
//! `core::fmt`, be generic in what it exports (a generic would be compiled in the calling
//! crate, for size), or panic on any input.

use hf_inference_wire::scan::{
    decode_str, items, members, rescan_chat, scan_chat, ChatScan, ChoiceScan, Kind, Rescan, Span,
};

/// The longest chunk kept to compare the next one with: chunks are a few hundred bytes;
/// a bigger one is scanned and not kept.
const PREV_MAX: usize = 4096;

/// What a chat chunk delivered besides its text, in the order the chunk delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The chunk's `usage` object (a span of its data), for the caller to read.
    Usage(Span),
    /// A tool-call delta; `index` is the call's index (its position if it had none),
    /// `arguments` this delta's argument text.
    ToolCall {
        choice: u32,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// A choice's finish reason arrived.
    Finish { choice: u32, reason: String },
}

/// Where a chunk's deliveries go: choice 0's content and reasoning are appended to
/// `text` and `reasoning`, the rest pushed to `deliveries`.
pub struct Out<'a> {
    pub text: &'a mut String,
    pub reasoning: &'a mut String,
    pub deliveries: &'a mut Vec<Delivery>,
}

/// A chunk the chat chunk reader refuses; nothing was delivered or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Whether its data is JSON (then a field has a type the reader refuses, or it is
    /// an error report).
    pub scanned: bool,
}

/// The caller's readers for what is rare in a chunk (kept out of this crate, so that
/// it compiles none of their code).
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    /// A count given as a string (`"3"`), as `hf_inference_wasm::json::count` reads it.
    pub count_text: fn(&str) -> Option<u64>,
    /// A tool call's arguments that are JSON but not a string, as compact JSON text.
    pub json_text: fn(&str) -> String,
}

/// One stream's chat chunks, read one at a time.
#[derive(Debug, Default)]
pub struct ChatReader {
    scan: ChatScan,
    /// The last chunk's data, whose scan `scan` holds ("" when it holds none): the next
    /// chunk is compared with it before it is scanned ([`rescan_chat`]).
    prev: String,
    /// What the last chunk was next to the one before it, when the rescan read it
    /// (`None`: it was scanned afresh, or refused).
    change: Option<Rescan>,
    scratch: String,
    key: String,
}

impl ChatReader {
    /// Read one chunk's data (the event's data, trimmed) and deliver what it carries,
    /// keeping nothing: no `Usage` or `ToolCall` deliveries. `count_text` is
    /// [`Cold::count_text`].
    pub fn deltas(
        &mut self,
        data: &str,
        out: Out<'_>,
        count_text: fn(&str) -> Option<u64>,
    ) -> Result<(), Refused> {
        self.apply(data, out, count_text, &mut Nothing)
    }

    /// [`ChatReader::deltas`], and fold the chunk into `acc`; with `accumulate` the text
    /// (content, reasoning, tool arguments, logprobs) is kept too.
    pub fn answer(
        &mut self,
        data: &str,
        out: Out<'_>,
        acc: &mut ChatAnswer,
        accumulate: bool,
        cold: &Cold,
    ) -> Result<(), Refused> {
        self.apply(
            data,
            out,
            cold.count_text,
            &mut Keeping {
                acc,
                accumulate,
                json_text: cold.json_text,
            },
        )
    }

    /// What the last chunk read was next to the one before it: the same text, or the
    /// same but for one string's value (its span); `None` when it was scanned afresh.
    pub fn change(&self) -> Option<Rescan> {
        self.change
    }

    /// The scan of the last chunk read, and a buffer, for the report of a refused one.
    pub fn refused_parts(&mut self) -> (&ChatScan, &mut String) {
        (&self.scan, &mut self.scratch)
    }

    fn apply<K: Keep>(
        &mut self,
        data: &str,
        out: Out<'_>,
        count_text: fn(&str) -> Option<u64>,
        keep: &mut K,
    ) -> Result<(), Refused> {
        self.change = rescan_chat(data, &self.prev, &mut self.scan);
        let scanned = if self.change.is_some() {
            Ok(())
        } else {
            scan_chat(data, &mut self.scan, &mut self.scratch)
        };
        self.prev.clear();
        if scanned.is_ok() && data.len() <= PREV_MAX {
            self.prev.push_str(data);
        }
        if scanned.is_err() || !chat_shape_ok(data, &self.scan, &mut self.scratch) {
            return Err(Refused {
                scanned: scanned.is_ok(),
            });
        }
        let s = &self.scan;
        let mut w = Work {
            text: out.text,
            reasoning: out.reasoning,
            deliveries: out.deliveries,
            scratch: &mut self.scratch,
            key: &mut self.key,
            count_text,
        };
        keep.head(data, s, &mut w);
        let mut content0_given = false;
        for c in &s.choice_list {
            let index = c
                .index
                .and_then(|i| count(data, &i, count_text))
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0);
            let content_start = w.text.len();
            let content = c.content.filter(|t| t.kind != Kind::Null);
            if let Some(content) = content {
                text_into(data, &content, w.text);
            }
            let reasoning_start = w.reasoning.len();
            let reasoning = match c.reasoning_content.filter(|t| t.kind != Kind::Null) {
                Some(r) => Some(r),
                None => c.reasoning.filter(|r| r.kind == Kind::String),
            };
            if let Some(r) = reasoning {
                text_into(data, &r, w.reasoning);
            }
            let mut reason = String::new();
            let finish = c.finish_reason.filter(|f| f.kind == Kind::String);
            if let Some(f) = finish {
                decode_str(data, &f, &mut reason);
            }
            let got = Got {
                content: content.map(|_| content_start),
                reasoning: reasoning.map(|_| reasoning_start),
                finish: finish.map(|_| reason.as_str()),
            };
            keep.choice(data, s, c, index, got, &mut w);
            if content.is_some() {
                // Only the first non-empty content of choice 0 per chunk is delivered,
                // as the old state's step does.
                if index != 0 || content0_given {
                    w.text.truncate(content_start);
                } else {
                    content0_given = w.text.len() > content_start;
                }
            }
            if reasoning.is_some() && index != 0 {
                w.reasoning.truncate(reasoning_start);
            }
            if finish.is_some() {
                w.deliveries.push(Delivery::Finish {
                    choice: index,
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// What a chunk's reading works with: where its deliveries go, and buffers.
struct Work<'a> {
    text: &'a mut String,
    reasoning: &'a mut String,
    deliveries: &'a mut Vec<Delivery>,
    scratch: &'a mut String,
    key: &'a mut String,
    count_text: fn(&str) -> Option<u64>,
}

/// What one choice of a chat chunk delivered: where the text its `content` and its
/// reasoning added start in the output's text and reasoning (when they were there), its
/// finish reason.
#[derive(Debug, Clone, Copy, Default)]
struct Got<'a> {
    content: Option<usize>,
    reasoning: Option<usize>,
    finish: Option<&'a str>,
}

/// What is kept of each chunk beyond its deliveries (by default nothing). Private and
/// instantiated here only, by [`ChatReader::deltas`] and [`ChatReader::answer`], so
/// that both are compiled in this crate.
trait Keep {
    /// A chat chunk's top-level fields, before its choices.
    fn head(&mut self, _src: &str, _s: &ChatScan, _w: &mut Work<'_>) {}
    /// One choice (`index`) of a chat chunk, and what it delivered.
    fn choice(
        &mut self,
        _src: &str,
        _s: &ChatScan,
        _c: &ChoiceScan,
        _index: u32,
        _got: Got<'_>,
        _w: &mut Work<'_>,
    ) {
    }
}

/// `into` made the text of the string `span` of `src` (a field the last chunk sets).
fn set_text(src: &str, span: &Span, into: &mut String) {
    into.clear();
    decode_str(src, span, into);
}

struct Nothing;

impl Keep for Nothing {}

struct Keeping<'a> {
    acc: &'a mut ChatAnswer,
    accumulate: bool,
    json_text: fn(&str) -> String,
}

impl Keep for Keeping<'_> {
    fn head(&mut self, src: &str, s: &ChatScan, w: &mut Work<'_>) {
        let acc = &mut *self.acc;
        if let Some(id) = s.id.filter(non_empty_string) {
            set_text(src, &id, &mut acc.id);
        }
        if let Some(model) = s.model.filter(non_empty_string) {
            set_text(src, &model, &mut acc.model);
        }
        if let Some(created) = s.created.and_then(|c| count(src, &c, w.count_text)) {
            if created != 0 {
                acc.created = created;
            }
        }
        if let Some(fp) = s.system_fingerprint.filter(|f| f.kind == Kind::String) {
            set_text(
                src,
                &fp,
                acc.system_fingerprint.get_or_insert_with(String::new),
            );
        }
        if let Some(usage) = s.usage.filter(|u| u.kind == Kind::Object) {
            w.deliveries.push(Delivery::Usage(usage));
        }
        // `error: null` (or `false`) is an unknown field like any other.
        let error = s.error.map(|e| (ERROR_KEY, e));
        merge_extra(src, &s.extra, error, &mut acc.extra, &[], w.scratch, w.key);
    }

    fn choice(
        &mut self,
        src: &str,
        s: &ChatScan,
        c: &ChoiceScan,
        index: u32,
        got: Got<'_>,
        w: &mut Work<'_>,
    ) {
        let accumulate = self.accumulate;
        let acc = &mut *self.acc;
        let slot = match acc.choices.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(slot) => slot,
            Err(slot) => {
                acc.choices.insert(slot, (index, Box::default()));
                slot
            }
        };
        let Some((_, choice)) = acc.choices.get_mut(slot) else {
            return;
        };
        if let Some(role) = c.role.filter(|r| r.kind == Kind::String) {
            set_text(src, &role, choice.role.get_or_insert_with(String::new));
        }
        if accumulate {
            if let Some(start) = got.content {
                let delta = w.text.get(start..).unwrap_or_default();
                choice
                    .content
                    .get_or_insert_with(Rope::default)
                    .push_str(delta);
            }
            if let Some(start) = got.reasoning {
                let delta = w.reasoning.get(start..).unwrap_or_default();
                choice
                    .reasoning
                    .get_or_insert_with(Rope::default)
                    .push_str(delta);
            }
        }
        for t in s.tools.get(c.tools.clone()).unwrap_or_default() {
            let piece = ToolPiece {
                index: t
                    .index
                    .and_then(|i| count(src, &i, w.count_text))
                    .and_then(|i| u32::try_from(i).ok()),
                id: t.id.filter(non_empty_string).map(|i| string_of(src, &i)),
                kind: t
                    .kind
                    .filter(|k| k.kind == Kind::String)
                    .map(|k| string_of(src, &k)),
                name: t.name.filter(non_empty_string).map(|n| string_of(src, &n)),
                arguments: t.arguments.and_then(|a| json_text(src, &a, self.json_text)),
            };
            let (index_of_call, id, name, arguments) = choice.absorb_tool_call(piece, accumulate);
            w.deliveries.push(Delivery::ToolCall {
                choice: index,
                index: index_of_call,
                id,
                name,
                arguments,
            });
        }
        if let Some(reason) = got.finish {
            choice.finish_reason = Some(reason.to_owned());
        }
        if accumulate {
            if let Some(lp) = c.logprobs.filter(|l| l.kind == Kind::Object) {
                let mut content = [None];
                members(src, &lp, &["content"], &mut content);
                // An empty `content` adds nothing (and no `logprobs` to the snapshot).
                // (JSON text: the only white space between its tokens is ASCII.)
                let empty = |c: &Span| {
                    let inside = c.json(src).as_bytes().get(1..).unwrap_or_default();
                    inside.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b']')
                };
                if let Some(content) = content[0].filter(|c| c.kind == Kind::Array && !empty(c)) {
                    choice.logprob_content.push(content.json(src).to_owned());
                }
            }
        }
        let extra = s.choice_extra.get(c.extra.clone()).unwrap_or_default();
        merge_extra(
            src,
            extra,
            None,
            &mut choice.extra,
            &["message", "text"],
            w.scratch,
            w.key,
        );
    }
}

/// The key [`merge_extra`] is given for a chunk's `error` field (a null or false one is
/// an unknown field): no span of the text.
const ERROR_KEY: Span = Span {
    kind: Kind::String,
    start: 0,
    end: 0,
    escaped: false,
};

fn non_empty_string(s: &Span) -> bool {
    s.kind == Kind::String && s.end > s.start
}

/// The text of the string `s` of `src`.
pub fn string_of(src: &str, s: &Span) -> String {
    let mut v = String::new();
    decode_str(src, s, &mut v);
    v
}

/// Whether a root object is an error report: a non-null, non-false `error`, or
/// `object: "error"` (vLLM).
pub fn is_error(
    src: &str,
    error: Option<Span>,
    object: Option<Span>,
    scratch: &mut String,
) -> bool {
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

/// A count as `hf_inference_wasm::json::count` reads it, with no JSON tree: a
/// non-negative number (a float is truncated) or a string of one (by `count_text`).
fn count(src: &str, s: &Span, count_text: fn(&str) -> Option<u64>) -> Option<u64> {
    match s.kind {
        Kind::Number => {
            let raw = s.raw(src);
            hf_inference_wire::digits_u64(raw).or_else(|| slow_count(raw))
        }
        Kind::String => {
            let mut v = String::new();
            decode_str(src, s, &mut v);
            count_text(&v)
        }
        _ => None,
    }
}

/// A number that is not plain digits within `u64` (`1.0`, `1e3`, `-2`, 25 digits):
/// as a float, truncated, when it is a finite non-negative one below `u64::MAX`.
#[cold]
#[inline(never)]
fn slow_count(raw: &str) -> Option<u64> {
    hf_inference_wire::float::parse_number(raw)
        .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
        // Truncation is the intent (as `hf_inference_wasm::json::count`).
        .map(|f| f as u64)
}

/// Text that is a string or an array of content parts (whose `text` pieces join: a
/// string part, or an object's `text` string).
fn text_into(src: &str, s: &Span, out: &mut String) {
    match s.kind {
        Kind::String => decode_str(src, s, out),
        Kind::Array => {
            for part in items(src, s) {
                match part.kind {
                    Kind::String => decode_str(src, &part, out),
                    Kind::Object => {
                        let mut text = [None];
                        members(src, &part, &["text"], &mut text);
                        if let Some(t) = text[0] {
                            decode_str(src, &t, out);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// JSON text: a string as is, `null` as `None`, anything else as its JSON text (by
/// `write`, the caller's: cold).
fn json_text(src: &str, s: &Span, write: fn(&str) -> String) -> Option<String> {
    match s.kind {
        Kind::Null => None,
        Kind::String => Some(string_of(src, s)),
        _ => Some(write(s.json(src))),
    }
}

/// Fold one object's unknown fields (`fields`, then `last`) into `into`: within the
/// object the last duplicate wins; then a non-null value replaces, a `null` only fills a
/// gap. A slice and an option read by index, not an iterator: one small copy of this for
/// both callers.
fn merge_extra(
    src: &str,
    fields: &[(Span, Span)],
    last: Option<(Span, Span)>,
    into: &mut Vec<(String, String)>,
    skip: &[&str],
    scratch: &mut String,
    key: &mut String,
) {
    let n = fields.len() + usize::from(last.is_some());
    let field = |i: usize| fields.get(i).copied().or(last);
    for i in 0..n {
        let Some((k, v)) = field(i) else {
            continue;
        };
        key.clear();
        if k == ERROR_KEY {
            key.push_str("error");
        } else {
            decode_str(src, &k, key);
        }
        if skip.contains(&key.as_str()) {
            continue;
        }
        let later = (i + 1..n).any(|j| {
            field(j).is_some_and(|(k2, _)| {
                if k2 == ERROR_KEY {
                    key == "error"
                } else {
                    k2.is(src, key, scratch)
                }
            })
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

/// What the chat chunks added up to so far (all but the usage, which the caller reads
/// and keeps).
#[derive(Debug, Default)]
pub struct ChatAnswer {
    pub id: String,
    pub model: String,
    pub created: u64,
    pub system_fingerprint: Option<String>,
    /// Unknown top-level fields (name, JSON text); the last non-null value wins.
    pub extra: Vec<(String, String)>,
    /// By choice index, sorted; boxed so an insertion moves 8 bytes per choice.
    pub choices: Vec<(u32, Box<ChoiceAnswer>)>,
}

/// What one choice's deltas added up to.
#[derive(Debug, Default)]
pub struct ChoiceAnswer {
    pub role: Option<String>,
    pub content: Option<Rope>,
    pub reasoning: Option<Rope>,
    pub tool_calls: Vec<ToolCallAnswer>,
    /// Tool call index -> position in `tool_calls`, sorted by index.
    tool_by_index: Vec<(u32, usize)>,
    /// Tool call id -> position, for servers that send no `index`.
    tool_by_id: Vec<(String, usize)>,
    pub finish_reason: Option<String>,
    /// The JSON text of each chunk's `logprobs.content` array.
    pub logprob_content: Vec<String>,
    /// Unknown choice-level fields (name, JSON text).
    pub extra: Vec<(String, String)>,
}

/// One tool call, put together from its deltas.
#[derive(Debug, Default)]
pub struct ToolCallAnswer {
    pub index: Option<u32>,
    pub id: String,
    pub kind: Option<String>,
    pub name: String,
    pub arguments: Rope,
}

struct ToolPiece {
    index: Option<u32>,
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

impl ChoiceAnswer {
    /// Fold a tool-call piece in; returns the delivery's (index, id, name, arguments).
    fn absorb_tool_call(
        &mut self,
        piece: ToolPiece,
        accumulate: bool,
    ) -> (u32, Option<String>, Option<String>, String) {
        let pos = match (piece.index, piece.id.as_deref()) {
            (Some(index), _) => match self.tool_by_index.binary_search_by_key(&index, |e| e.0) {
                Ok(slot) => self.tool_by_index.get(slot).map_or(0, |e| e.1),
                Err(slot) => {
                    self.tool_by_index
                        .insert(slot, (index, self.tool_calls.len()));
                    self.new_tool_call(Some(index))
                }
            },
            (None, Some(id)) => match self.find_id(id) {
                Ok(slot) => self.tool_by_id.get(slot).map_or(0, |e| e.1),
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
        }
        let arguments = piece.arguments.unwrap_or_default();
        // Every position above is one of `tool_calls`.
        let Some(call) = self.tool_calls.get_mut(pos) else {
            return (u32::MAX, piece.id, piece.name, arguments);
        };
        if let Some(id) = &piece.id {
            if call.id.is_empty() {
                call.id = id.clone();
            }
        }
        if call.kind.is_none() {
            call.kind = piece.kind;
        }
        if let Some(name) = &piece.name {
            if call.name.is_empty() {
                call.name = name.clone();
            }
        }
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
        self.tool_calls.push(ToolCallAnswer {
            index,
            ..ToolCallAnswer::default()
        });
        self.tool_calls.len() - 1
    }
}

/// Text accumulated over a stream, in segments: one `String` that doubles as it grows
/// leaves each smaller predecessor behind as a hole the next, larger one cannot reuse, so
/// a long answer took about three times its size in linear memory (which never shrinks).
/// Past [`Rope::SEGMENT`] bytes the text goes on in new segments of that size, so it takes
/// its own size and a bounded slack. Joined when the answer is read.
#[derive(Debug, Default, Clone)]
pub struct Rope {
    full: Vec<String>,
    tail: String,
}

impl Rope {
    const SEGMENT: usize = 64 * 1024;

    pub fn push_str(&mut self, s: &str) {
        let len = self.tail.len() + s.len();
        if len > self.tail.capacity() && len > Self::SEGMENT && !self.tail.is_empty() {
            self.full.push(std::mem::take(&mut self.tail));
            self.tail.reserve_exact(Self::SEGMENT.max(s.len()));
        }
        self.tail.push_str(s);
    }

    /// The whole text: borrowed while it is one segment.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        if self.full.is_empty() {
            std::borrow::Cow::Borrowed(&self.tail)
        } else {
            std::borrow::Cow::Owned(self.joined())
        }
    }

    /// The text's length in bytes.
    pub fn len(&self) -> usize {
        self.full.iter().map(String::len).sum::<usize>() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn joined(&self) -> String {
        let mut out = String::with_capacity(self.len());
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
