//! What a [`StreamDecoder`](super::StreamDecoder) keeps for the final answer, when it
//! keeps it ([`Answer`], the default): content and reasoning per choice, tool calls by
//! index, the last finish reason, the last usage, unknown fields last non-null wins,
//! logprobs, TGI's text and `details`; and the snapshot, text, usage and cache answers
//! read from them.
//!
//! Owns: [`Answer`] and its accumulators; the `ToolCall` and `Usage` events (they need
//! the accumulated tool calls and the usage object). Must never: be reachable from a
//! decoder that keeps nothing ([`super::Deltas`]: the `ChatDecoder` of the decoder core
//! has none of this code), keep raw chunks, or build a `crate::json::Value` for an
//! ordinary chunk (only cold paths do: a `usage` or `details` object, a tool call's
//! non-string arguments, an unknown field or logprobs when the snapshot is written).

use super::{count, non_empty_string, string_of, Accumulate, StreamEvent, Work, ERROR_KEY};
use crate::json::{Map, Value};
use crate::protocol::Protocol;
use crate::scan::{decode_str, members, ChatScan, ChoiceScan, Kind, Span};
use crate::types::{ChatCompletion, Choice, FunctionCall, Message, ToolCall, Usage};
use crate::usage::{TokenUsage, UsageEstimate};
use std::borrow::Cow;

/// The answer the stream adds up to, kept for the snapshot (chat or TGI: one of the two
/// stays empty).
#[derive(Debug, Default)]
pub struct Answer {
    chat: ChatAcc,
    tgi: TgiAcc,
}

impl Accumulate for Answer {
    fn chat_head(&mut self, src: &str, s: &ChatScan, w: &mut Work<'_>) {
        let acc = &mut self.chat;
        if let Some(id) = s.id.filter(non_empty_string) {
            acc.id.clear();
            decode_str(src, &id, &mut acc.id);
        }
        if let Some(model) = s.model.filter(non_empty_string) {
            acc.model.clear();
            decode_str(src, &model, &mut acc.model);
        }
        if let Some(created) = s.created.and_then(|c| count(src, &c)) {
            if created != 0 {
                acc.created = created;
            }
        }
        if let Some(fp) = s.system_fingerprint.filter(|f| f.kind == Kind::String) {
            let v = acc.system_fingerprint.get_or_insert_with(String::new);
            v.clear();
            decode_str(src, &fp, v);
        }
        if let Some(usage) = s.usage.filter(|u| u.kind == Kind::Object) {
            let usage = read_usage(usage.json(src));
            w.out
                .events
                .push(StreamEvent::Usage(TokenUsage::from_usage(&usage)));
            acc.usage = Some(usage);
        }
        // `error: null` (or `false`) is an unknown field like any other.
        let error = s.error.map(|e| (ERROR_KEY, e));
        merge_extra(
            src,
            s.extra.iter().copied().chain(error),
            &mut acc.extra,
            &[],
            w.scratch,
            w.key,
        );
    }

    fn chat_choice(
        &mut self,
        src: &str,
        s: &ChatScan,
        c: &ChoiceScan,
        index: u32,
        got: Got<'_>,
        w: &mut Work<'_>,
    ) {
        let acc = &mut self.chat;
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
            let v = choice.role.get_or_insert_with(String::new);
            v.clear();
            decode_str(src, &role, v);
        }
        if w.accumulate {
            if let Some(start) = got.content {
                let delta = w.out.text.get(start..).unwrap_or_default();
                choice
                    .content
                    .get_or_insert_with(Rope::default)
                    .push_str(delta);
            }
            if let Some(start) = got.reasoning {
                let delta = w.out.reasoning.get(start..).unwrap_or_default();
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
                    .and_then(|i| count(src, &i))
                    .and_then(|i| u32::try_from(i).ok()),
                id: t.id.filter(non_empty_string).map(|i| string_of(src, &i)),
                kind: t
                    .kind
                    .filter(|k| k.kind == Kind::String)
                    .map(|k| string_of(src, &k)),
                name: t.name.filter(non_empty_string).map(|n| string_of(src, &n)),
                arguments: t.arguments.and_then(|a| json_text(src, &a)),
            };
            let event = choice.absorb_tool_call(piece, w.accumulate);
            w.out.events.push(StreamEvent::ToolCall {
                choice: index,
                index: event.0,
                id: event.1,
                name: event.2,
                arguments: event.3,
            });
        }
        if let Some(reason) = got.finish {
            choice.finish_reason = Some(reason.to_owned());
        }
        if w.accumulate {
            if let Some(lp) = c.logprobs.filter(|l| l.kind == Kind::Object) {
                let mut content = [None];
                members(src, &lp, &["content"], &mut content);
                // An empty `content` adds nothing (and no `logprobs` to the snapshot).
                if let Some(content) = content[0].filter(|c| {
                    c.kind == Kind::Array
                        && c.json(src).get(1..).unwrap_or_default().trim_start() != "]"
                }) {
                    choice.logprob_content.push(content.json(src).to_owned());
                }
            }
        }
        let extra = s.choice_extra.get(c.extra.clone()).unwrap_or_default();
        merge_extra(
            src,
            extra.iter().copied(),
            &mut choice.extra,
            &["message", "text"],
            w.scratch,
            w.key,
        );
    }

    fn tgi_token(&mut self, text: Option<usize>, w: &mut Work<'_>) {
        self.tgi.tokens += 1;
        if let (Some(start), true) = (text, w.accumulate) {
            self.tgi
                .text
                .push_str(w.out.text.get(start..).unwrap_or_default());
        }
    }

    fn tgi_details(&mut self, src: &str, details: &Span, w: &mut Work<'_>) {
        let details = crate::json::parse(details.json(src))
            .ok()
            .and_then(|v| crate::tgi::Details::from_json(v).ok())
            .unwrap_or_default();
        let usage = TokenUsage::from_tgi(&details);
        if !usage.is_empty() {
            w.out.events.push(StreamEvent::Usage(usage));
        }
        self.tgi.details = Some(details);
    }

    fn tgi_generated(&mut self, src: &str, g: &Span, w: &mut Work<'_>) {
        let mut text = String::new();
        if w.accumulate {
            decode_str(src, g, &mut text);
        }
        self.tgi.generated_text = Some(text);
    }
}

/// What one choice of a chat chunk delivered: where the text its `content` and its
/// reasoning added start in the output's text and reasoning (when they were there), its
/// finish reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct Got<'a> {
    pub(super) content: Option<usize>,
    pub(super) reasoning: Option<usize>,
    pub(super) finish: Option<&'a str>,
}

impl Answer {
    /// See [`super::StreamDecoder::snapshot_json`].
    pub(super) fn snapshot_json(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Chat => self.chat.snapshot().to_json(),
            Protocol::TextGeneration => self.tgi.snapshot().to_json(),
        }
    }

    /// See [`super::StreamDecoder::text`].
    pub(super) fn text(&self, protocol: Protocol) -> Cow<'_, str> {
        match protocol {
            // The first choice listed, as `StreamState::text` reads it (choice 0 when
            // there is one).
            Protocol::Chat => self
                .chat
                .choices
                .first()
                .and_then(|(_, c)| c.content.as_ref())
                .map(Rope::text)
                .unwrap_or_default(),
            Protocol::TextGeneration => match &self.tgi.generated_text {
                Some(t) => Cow::Borrowed(t.as_str()),
                None => self.tgi.text.text(),
            },
        }
    }

    /// See [`super::StreamDecoder::finish_reason`].
    pub(super) fn finish_reason(&self, protocol: Protocol) -> Option<&str> {
        match protocol {
            Protocol::Chat => match self.chat.choices.first() {
                Some((0, c)) => c.finish_reason.as_deref(),
                _ => None,
            },
            Protocol::TextGeneration => self
                .tgi
                .details
                .as_ref()
                .and_then(|d| d.finish_reason.as_deref()),
        }
    }

    /// See [`super::StreamDecoder::token_usage`].
    pub(super) fn token_usage(
        &self,
        protocol: Protocol,
        prompt_estimate: Option<u64>,
    ) -> Option<TokenUsage> {
        let reported = match protocol {
            Protocol::Chat => self.chat.usage.as_ref().map(TokenUsage::from_usage),
            Protocol::TextGeneration => self.tgi.details.as_ref().map(TokenUsage::from_tgi),
        };
        // Only when asked for, and read off the accumulators: a snapshot here copied the
        // whole answer at the end of every stream.
        let estimate = prompt_estimate.map(|p| UsageEstimate {
            prompt_tokens: p,
            completion_tokens: match protocol {
                Protocol::Chat => self.chat.completion_tokens_estimate(),
                Protocol::TextGeneration => {
                    crate::usage::tokens_for_bytes(self.tgi.text.len() as u64)
                }
            },
        });
        crate::usage::resolve_usage(reported.filter(|u| !u.is_empty()), estimate)
    }

    /// See [`super::StreamDecoder::storable`].
    pub(super) fn storable(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Chat => crate::cache::storable(&self.chat.snapshot(), false),
            Protocol::TextGeneration => false,
        }
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
    /// [`crate::usage::estimate_completion_tokens`] of the snapshot, without making it.
    fn completion_tokens_estimate(&self) -> u64 {
        let len = |r: &Option<Rope>| r.as_ref().map_or(0, Rope::len) as u64;
        self.choices.iter().fold(0u64, |total, (_, c)| {
            let calls = c.tool_calls.iter().fold(0u64, |b, t| {
                b.saturating_add(t.name.len() as u64)
                    .saturating_add(t.arguments.len() as u64)
            });
            let bytes = len(&c.content)
                .saturating_add(len(&c.reasoning))
                .saturating_add(calls);
            total.saturating_add(crate::usage::tokens_for_bytes(bytes))
        })
    }

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

    fn len(&self) -> usize {
        self.full.iter().map(String::len).sum::<usize>() + self.tail.len()
    }

    fn joined(&self) -> String {
        let len = self.len();
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
