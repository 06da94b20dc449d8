//! What a [`StreamDecoder`](super::StreamDecoder) keeps for the final answer, when it
//! keeps it ([`Answer`], the default): the chat chunks' answer (content and reasoning per
//! choice, tool calls by index, the last finish reason, unknown fields last non-null
//! wins, logprobs: the chunk crate's [`ChatAnswer`], kept as it reads each chunk), the
//! last usage, TGI's text and `details`; and the snapshot, text, usage and cache answers
//! read from them.
//!
//! Owns: [`Answer`]; the `Usage` events' usage (the chunk crate says where a chunk's
//! `usage` object is); the cold paths the chunk crate leaves to this crate (a `usage` or
//! `details` object, a tool call's non-string arguments, the snapshot). Must never: be
//! reachable from a decoder that keeps nothing ([`super::Deltas`]: the `ChatDecoder` of
//! the decoder core has none of this code), keep raw chunks, or build a
//! `crate::json::Value` for an ordinary chunk (only cold paths do: a `usage` or
//! `details` object, a tool call's non-string arguments, an unknown field or logprobs
//! when the snapshot is written).

use super::{Accumulate, StreamEvent, Work};
use crate::json::{Map, Value};
use crate::protocol::Protocol;
use crate::scan::{decode_str, Span};
use crate::types::{ChatCompletion, Choice, FunctionCall, Message, ToolCall, Usage};
use crate::usage::{TokenUsage, UsageEstimate};
use hf_inference_chunk::{ChatAnswer, ChatReader, ChoiceAnswer, Cold, Out, Refused, Rope};
use std::borrow::Cow;

/// The answer the stream adds up to, kept for the snapshot (chat or TGI: one of the two
/// stays empty).
#[derive(Debug, Default)]
pub struct Answer {
    chat: ChatAnswer,
    /// The last chat chunk's usage.
    usage: Option<Usage>,
    tgi: TgiAcc,
}

impl Accumulate for Answer {
    fn chat(
        &mut self,
        reader: &mut ChatReader,
        data: &str,
        out: Out<'_>,
        accumulate: bool,
    ) -> Result<(), Refused> {
        reader.answer(data, out, &mut self.chat, accumulate, &COLD)
    }

    fn chat_usage(&mut self, json: &str) -> Option<TokenUsage> {
        let usage = read_usage(json);
        let tokens = TokenUsage::from_usage(&usage);
        self.usage = Some(usage);
        Some(tokens)
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

impl Answer {
    /// See [`super::StreamDecoder::snapshot_json`].
    pub(super) fn snapshot_json(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Chat => chat_snapshot(&self.chat, &self.usage).to_json(),
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
        let (reported, completion_estimate) = match protocol {
            Protocol::Chat => (
                self.usage.as_ref().map(TokenUsage::from_usage),
                completion_estimate(&self.chat),
            ),
            Protocol::TextGeneration => (
                self.tgi.details.as_ref().map(TokenUsage::from_tgi),
                crate::usage::tokens_for_bytes(self.tgi.text.len() as u64),
            ),
        };
        let estimate = prompt_estimate.map(|p| UsageEstimate {
            prompt_tokens: p,
            completion_tokens: completion_estimate,
        });
        crate::usage::resolve_usage(reported.filter(|u| !u.is_empty()), estimate)
    }

    /// See [`super::StreamDecoder::storable`].
    pub(super) fn storable(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Chat => {
                crate::cache::storable(&chat_snapshot(&self.chat, &self.usage), false)
            }
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

/// What the chunk crate leaves to this crate.
const COLD: Cold = Cold {
    count_text: crate::json::count_from_str,
    json_text: slow_json_text,
};

/// A tool call's arguments that are JSON but not a string, as compact JSON text (the
/// chunk crate's cold path).
#[cold]
#[inline(never)]
fn slow_json_text(json: &str) -> String {
    crate::json::parse(json)
        .map(|v| crate::json::to_text(&v))
        .unwrap_or_default()
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

/// [`crate::usage::estimate_completion_tokens`] of the answer's snapshot, from the
/// lengths of its texts: every stream's end asks it (metering), and the snapshot would
/// copy every text (a tool call's megabyte of arguments included) to count its bytes.
fn completion_estimate(chat: &ChatAnswer) -> u64 {
    let rope = |r: &Option<Rope>| r.as_ref().map_or(0, |r| r.len() as u64);
    chat.choices.iter().fold(0u64, |total, (_, c)| {
        let calls = c.tool_calls.iter().fold(0u64, |n, t| {
            n.saturating_add(t.name.len() as u64)
                .saturating_add(t.arguments.len() as u64)
        });
        let bytes = rope(&c.content)
            .saturating_add(rope(&c.reasoning))
            .saturating_add(calls);
        total.saturating_add(crate::usage::tokens_for_bytes(bytes))
    })
}

/// The chat chunks' answer so far as a `chat.completion`.
fn chat_snapshot(chat: &ChatAnswer, usage: &Option<Usage>) -> ChatCompletion {
    ChatCompletion {
        id: chat.id.clone(),
        object: "chat.completion".to_owned(),
        created: chat.created,
        model: chat.model.clone(),
        system_fingerprint: chat.system_fingerprint.clone(),
        choices: chat
            .choices
            .iter()
            .map(|(index, c)| to_choice(c, *index))
            .collect(),
        usage: usage.clone(),
        extra: extra_map(&chat.extra),
    }
}

fn to_choice(c: &ChoiceAnswer, index: u32) -> Choice {
    let tool_calls = (!c.tool_calls.is_empty()).then(|| {
        c.tool_calls
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
    let logprobs = (!c.logprob_content.is_empty()).then(|| {
        let mut items = Vec::new();
        for text in &c.logprob_content {
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
            role: c.role.clone().unwrap_or_else(|| "assistant".to_owned()),
            content: c.content.as_ref().map(Rope::joined),
            reasoning_content: c.reasoning.as_ref().map(Rope::joined),
            tool_calls,
            extra: Map::new(),
        },
        finish_reason: c.finish_reason.clone(),
        logprobs,
        extra: extra_map(&c.extra),
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

#[cfg(test)]
mod tests {
    use super::super::{DecodeOptions, StreamDecoder};
    use crate::protocol::Protocol;

    /// The estimate read from the texts' lengths is the one read from the snapshot.
    #[test]
    fn the_completion_estimate_is_the_snapshots() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hé\",\"reasoning_content\":\"th\"}},",
            "{\"index\":2,\"delta\":{\"content\":\"abcdefg\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",",
            "\"function\":{\"name\":\"write\",\"arguments\":\"{\\\"a\\\":1\"}},",
            "{\"index\":1,\"function\":{\"name\":\"x\",\"arguments\":{\"b\":[1, 2]}}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,",
            "\"function\":{\"arguments\":\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let mut d = StreamDecoder::new(Protocol::Chat, DecodeOptions::default());
        d.feed(body.as_bytes());
        let snapshot = crate::types::ChatCompletion::from_text(&d.snapshot_json()).unwrap();
        let want = crate::usage::estimate_completion_tokens(&snapshot);
        assert!(want > 3, "{want}");
        assert_eq!(super::completion_estimate(&d.core.acc.chat), want);
        let usage = d.token_usage(Some(5)).unwrap();
        assert_eq!(usage.completion_tokens, Some(want));
    }
}
