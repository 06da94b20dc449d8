//! One streamed response, whichever wire protocol it speaks: OpenAI chat completion
//! chunks or TGI's token events.
//!
//! Owns: [`StreamState`], the one face the shell's stream pump sees, so that
//! `chatCompletionStream` and `textGenerationStream` share a pump instead of copying
//! it. Each protocol's meaning stays in its own module (`crate::stream`,
//! `crate::tgi`); this only translates their steps and endings into one shape. Must
//! never: interpret bytes itself, or lose a step either protocol reports.

use crate::error::Error;
use crate::sse::Event;
use crate::stream::{ChatStreamState, Step};
use crate::tgi::{TgiStep, TgiStreamState};
use crate::usage::{TokenUsage, UsageEstimate};

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `chat.completion.chunk` events ending with `[DONE]`.
    Chat,
    /// TGI's `/generate_stream` token events; the one with `generated_text` ends it.
    TextGeneration,
}

/// How a stream ended, in either protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// The whole result as JSON: a `chat.completion`, or `{generated_text, details}`.
    pub result: String,
    /// Choice 0's text, or the generated text.
    pub text: String,
    /// Neither an end marker nor a finish reason arrived: the stream was cut.
    pub truncated: bool,
    /// The step of the unterminated final event, not yet delivered.
    pub tail: Option<Step>,
}

/// The state of one streamed response. Feed it every decoded event, then
/// [`finish`](Self::finish) when the body ends or [`is_done`](Self::is_done) says so.
#[derive(Debug)]
pub enum StreamState {
    Chat(ChatStreamState),
    TextGeneration(TgiStreamState),
}

impl StreamState {
    pub fn new(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Chat => StreamState::Chat(ChatStreamState::new()),
            Protocol::TextGeneration => StreamState::TextGeneration(TgiStreamState::new()),
        }
    }

    /// One decoded event. A TGI token is a [`Step::Chunk`] whose `content` is its text
    /// (`None` for a special token); after the token that ends the generation,
    /// [`is_done`](Self::is_done) is true and the shell stops reading.
    pub fn on_event(&mut self, ev: &Event) -> Result<Step, Error> {
        match self {
            StreamState::Chat(s) => s.on_event(ev),
            StreamState::TextGeneration(s) => s.on_event(ev).map(from_tgi),
        }
    }

    /// The end marker was seen: nothing after it matters.
    pub fn is_done(&self) -> bool {
        match self {
            StreamState::Chat(s) => s.is_done(),
            StreamState::TextGeneration(s) => s.is_done(),
        }
    }

    /// The input ended (or the end marker was seen); see the protocols' `finish`.
    pub fn finish(&mut self, unterminated: Option<&Event>) -> Result<Ended, Error> {
        match self {
            StreamState::Chat(s) => {
                let f = s.finish(unterminated)?;
                Ok(Ended {
                    result: f.completion.to_json(),
                    text: first_text(&f.completion),
                    truncated: f.truncated,
                    tail: f.tail,
                })
            }
            StreamState::TextGeneration(s) => {
                let f = s.finish(unterminated)?;
                Ok(Ended {
                    result: f.output.to_json(),
                    text: f.output.generated_text.clone(),
                    truncated: f.truncated,
                    tail: f.tail.map(from_tgi),
                })
            }
        }
    }

    /// The result so far as JSON (what an aborted or failed stream keeps).
    pub fn snapshot_json(&self) -> String {
        match self {
            StreamState::Chat(s) => s.snapshot().to_json(),
            StreamState::TextGeneration(s) => s.snapshot().to_json(),
        }
    }

    /// The text so far.
    pub fn text(&self) -> String {
        match self {
            StreamState::Chat(s) => first_text(&s.snapshot()),
            StreamState::TextGeneration(s) => s.snapshot().generated_text,
        }
    }

    /// Why generation stopped, once the server said.
    pub fn finish_reason(&self) -> Option<String> {
        match self {
            StreamState::Chat(s) => s.finish_reason().map(str::to_owned),
            StreamState::TextGeneration(s) => s.snapshot().details.and_then(|d| d.finish_reason),
        }
    }
}

impl StreamState {
    /// The usage the server reported so far: the chat stream's last `usage`, or TGI's
    /// `details` (generated tokens, prompt length). With `prompt_estimate` (the caller
    /// opted in to estimates), counts the server did not send are estimated
    /// ([`crate::usage::resolve_usage`]).
    pub fn token_usage(&self, prompt_estimate: Option<u64>) -> Option<TokenUsage> {
        let (reported, completion_estimate) = match self {
            StreamState::Chat(s) => {
                let snap = s.snapshot();
                (
                    s.usage().map(TokenUsage::from_usage),
                    crate::usage::estimate_completion_tokens(&snap),
                )
            }
            StreamState::TextGeneration(s) => {
                let snap = s.snapshot();
                (
                    snap.details.as_ref().map(TokenUsage::from_tgi),
                    crate::usage::estimate_text_tokens(s.text()),
                )
            }
        };
        let estimate = prompt_estimate.map(|p| UsageEstimate {
            prompt_tokens: p,
            completion_tokens: completion_estimate,
        });
        crate::usage::resolve_usage(reported.filter(|u| !u.is_empty()), estimate)
    }

    /// Whether the result so far is a complete chat answer the cache may keep (TGI
    /// results are not cached).
    pub fn storable(&self) -> bool {
        match self {
            StreamState::Chat(s) => crate::cache::storable(&s.snapshot(), false),
            StreamState::TextGeneration(_) => false,
        }
    }
}

/// What a complete non-streamed answer (its JSON text) means for metering and caching.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerFacts {
    /// Reported usage, with missing counts estimated when a prompt estimate is given.
    pub usage: Option<TokenUsage>,
    /// The answer's fields the core does not model (a `provider` field, say).
    pub extra: Option<crate::json::Map<String, crate::json::Value>>,
    /// A complete chat answer the cache may keep (TGI answers are not cached).
    pub storable: bool,
}

/// A complete non-streamed answer, read: what [`answer_facts_of`] reads its facts from
/// (so the body is parsed once for its checks and its facts).
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Chat(crate::types::ChatCompletion),
    TextGeneration(crate::tgi::TextGenerationOutput),
}

/// Read a non-streamed answer of `protocol` for its usage and cacheability, as
/// [`StreamState::token_usage`] and [`StreamState::storable`] do for a stream. An
/// answer that does not parse has no usage and is not stored. The tests' form from the
/// text: calls read their facts from the parse they already made ([`answer_facts_of`]).
#[cfg(test)]
pub(crate) fn answer_facts(
    protocol: Protocol,
    text: &str,
    prompt_estimate: Option<u64>,
) -> AnswerFacts {
    let parsed = match protocol {
        Protocol::Chat => crate::types::parse_completion(text).map(Parsed::Chat),
        Protocol::TextGeneration => {
            crate::tgi::parse_text_generation(text).map(Parsed::TextGeneration)
        }
    };
    match parsed {
        Ok(p) => answer_facts_of(p, prompt_estimate),
        Err(_) => AnswerFacts {
            usage: None,
            extra: None,
            storable: false,
        },
    }
}

/// A non-streamed answer's usage and cacheability, from the answer as
/// `attempt::Answer::completion` read it, as [`StreamState::token_usage`] and
/// [`StreamState::storable`] do for a stream.
pub fn answer_facts_of(parsed: Parsed, prompt_estimate: Option<u64>) -> AnswerFacts {
    let estimate = |completion_tokens: u64| {
        prompt_estimate.map(|prompt_tokens| UsageEstimate {
            prompt_tokens,
            completion_tokens,
        })
    };
    match parsed {
        Parsed::Chat(c) => AnswerFacts {
            usage: crate::usage::resolve_usage(
                TokenUsage::from_completion(&c),
                estimate(crate::usage::estimate_completion_tokens(&c)),
            ),
            storable: crate::cache::storable(&c, false),
            extra: Some(c.extra),
        },
        Parsed::TextGeneration(out) => AnswerFacts {
            usage: crate::usage::resolve_usage(
                out.details.as_ref().map(TokenUsage::from_tgi),
                estimate(crate::usage::estimate_text_tokens(&out.generated_text)),
            ),
            extra: None,
            storable: false,
        },
    }
}

/// A request body's token estimates: `(prompt, reservation)`, the prompt for usage
/// estimates and the reservation (prompt plus the most the answer may use) for the
/// client's token rate limit. TGI's `inputs` count as the prompt and
/// `parameters.max_new_tokens` (else 256) as the answer.
pub fn request_estimates(protocol: Protocol, body: &str) -> (u64, u64) {
    let value: crate::json::Value = crate::json::parse(body).unwrap_or_default();
    match protocol {
        Protocol::Chat => (
            crate::usage::estimate_prompt_tokens(&value),
            crate::usage::estimate_request_tokens(&value),
        ),
        Protocol::TextGeneration => {
            let prompt = crate::usage::estimate_text_tokens(value["inputs"].as_str().unwrap_or(""));
            let answer = value["parameters"]["max_new_tokens"]
                .as_u64()
                .unwrap_or(256);
            (prompt, prompt.saturating_add(answer))
        }
    }
}

fn from_tgi(step: TgiStep) -> Step {
    match step {
        TgiStep::Token { text, data, .. } => Step::Chunk {
            content: text,
            data,
        },
        TgiStep::Done => Step::Done,
        TgiStep::Skip => Step::Skip,
    }
}

fn first_text(c: &crate::types::ChatCompletion) -> String {
    c.choices
        .first()
        .and_then(|c| c.message.content.clone())
        .unwrap_or_default()
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {

    #[test]
    fn a_non_stream_answer_gives_its_usage_and_whether_it_may_be_cached() {
        let chat = r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"provider":"together"}"#;
        let f = answer_facts(Protocol::Chat, chat, None);
        assert_eq!(f.usage.and_then(|u| u.total_tokens), Some(4));
        assert!(f.storable);
        assert_eq!(
            f.extra
                .as_ref()
                .and_then(|e| e.get("provider"))
                .and_then(|v| v.as_str()),
            Some("together")
        );
        let tgi = r#"{"generated_text":"Hello there","details":{"finish_reason":"length","generated_tokens":2}}"#;
        let t = answer_facts(Protocol::TextGeneration, tgi, Some(5));
        assert_eq!(t.usage.and_then(|u| u.completion_tokens), Some(2));
        assert_eq!(t.usage.and_then(|u| u.prompt_tokens), Some(5));
        assert!(t.usage.is_some_and(|u| u.estimated));
        assert!(!t.storable, "TGI answers are not cached");
        assert_eq!(
            answer_facts(Protocol::Chat, "nope", Some(1)),
            AnswerFacts {
                usage: None,
                extra: None,
                storable: false
            }
        );
    }

    #[test]
    fn tgi_requests_reserve_their_inputs_and_max_new_tokens() {
        let (p, r) = request_estimates(
            Protocol::TextGeneration,
            r#"{"inputs":"abcdefgh","parameters":{"max_new_tokens":50}}"#,
        );
        assert_eq!((p, r), (2, 52));
        let (p, r) = request_estimates(Protocol::TextGeneration, r#"{"inputs":"abcd"}"#);
        assert_eq!((p, r), (1, 257));
        let (p, r) = request_estimates(
            Protocol::Chat,
            r#"{"messages":[{"role":"user","content":"hello"}]}"#,
        );
        assert!(p > 0 && r > p);
    }
    use super::*;

    fn ev(data: &str) -> Event {
        Event {
            event: "message".to_owned(),
            data: data.to_owned(),
            id: String::new(),
        }
    }

    #[test]
    fn a_tgi_stream_ends_at_the_token_with_generated_text() {
        let mut s = StreamState::new(Protocol::TextGeneration);
        let a = s
            .on_event(&ev(r#"{"index":1,"token":{"id":1,"text":"Hi","logprob":0,"special":false},"generated_text":null,"details":null}"#))
            .unwrap();
        assert!(matches!(a, Step::Chunk { content: Some(ref t), .. } if t == "Hi"));
        assert!(!s.is_done());
        let b = s
            .on_event(&ev(r#"{"index":2,"token":{"id":2,"text":"</s>","logprob":0,"special":true},"generated_text":"Hi","details":{"finish_reason":"eos_token","generated_tokens":2}}"#))
            .unwrap();
        assert!(matches!(b, Step::Chunk { content: None, .. }));
        assert!(s.is_done());
        let end = s.finish(None).unwrap();
        assert!(!end.truncated);
        assert_eq!(end.text, "Hi");
        assert_eq!(s.finish_reason().as_deref(), Some("eos_token"));
        let v: serde_json::Value = serde_json::from_str(&end.result).unwrap();
        assert_eq!(v["generated_text"], "Hi");
        assert_eq!(v["details"]["generated_tokens"], 2);
    }

    #[test]
    fn a_cut_tgi_stream_is_truncated_and_keeps_its_text() {
        let mut s = StreamState::new(Protocol::TextGeneration);
        let _ = s
            .on_event(&ev(
                r#"{"token":{"id":1,"text":"Par","special":false},"generated_text":null}"#,
            ))
            .unwrap();
        let end = s.finish(None).unwrap();
        assert!(end.truncated);
        assert_eq!(end.text, "Par");
        assert_eq!(s.text(), "Par");
    }

    #[test]
    fn a_chat_stream_reports_its_text_and_finish_reason() {
        let mut s = StreamState::new(Protocol::Chat);
        let _ = s
            .on_event(&ev(r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#))
            .unwrap();
        let _ = s
            .on_event(&ev(r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#))
            .unwrap();
        assert_eq!(s.text(), "Hello");
        assert!(matches!(s.on_event(&ev("[DONE]")).unwrap(), Step::Done));
        let end = s.finish(None).unwrap();
        assert!(!end.truncated);
        assert_eq!(end.text, "Hello");
        assert_eq!(s.finish_reason().as_deref(), Some("stop"));
        let v: serde_json::Value = serde_json::from_str(&end.result).unwrap();
        assert_eq!(v["object"], "chat.completion");
    }

    #[test]
    fn a_tgi_error_payload_keeps_its_type_as_the_code() {
        let mut s = StreamState::new(Protocol::TextGeneration);
        let e = s
            .on_event(&ev(r#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#))
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("generation"));
        assert!(e.message.contains("CUDA out of memory"));
    }
}
