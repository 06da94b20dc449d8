//! Chat completion stream semantics: decoded SSE events in, deltas out, and the final
//! [`ChatCompletion`] the chunks add up to.
//!
//! Owns: [`ChatStreamState`], the pure state machine the shell feeds every event of a
//! `stream: true` chat response; what counts as the end (`[DONE]`), as an error (an
//! `error` event or an `error` payload), as truncation, and how deltas accumulate
//! (content and reasoning per choice, tool calls by index, the last finish reason, the
//! last usage).
//! Must never: do I/O, panic on any input, re-copy accumulated text (appending a delta
//! is amortised O(len(delta))), or keep the raw chunks (memory grows with the completion
//! being built, not with the number of chunks).
//!
//! Follows the streaming form of the OpenAI Chat Completions API
//! (<https://platform.openai.com/docs/api-reference/chat-streaming>): one
//! `chat.completion.chunk` per `data:` line, a final usage-only chunk with empty
//! `choices` when `stream_options.include_usage` is set, and `data: [DONE]`. Deliberate
//! differences, all seen in real provider streams: TGI's old streams end with no
//! `[DONE]` (a finish reason then marks the end), and a final event with no blank line
//! after it (see [`crate::sse::Decoder::finish`]) is accepted when its data parses.

// `Error` is the crate's one error type (error.rs) and is returned by value on purpose;
// its size is a crate-wide choice, not this module's.

use crate::json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::sse::Event;
use crate::types::{
    is_error_payload, parse_error, ChatChunk, ChatCompletion, Choice, ChunkChoice, FunctionCall,
    Message, ToolCall, ToolCallDelta, Usage,
};

/// What one event means to the caller.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a Step says whether to deliver a chunk or stop reading"]
pub enum Step {
    /// A parsed chunk. `content` is choice 0's content delta when non-empty (what
    /// `onContent` gets); `data` is the raw JSON text (the shell hands it to JS
    /// `JSON.parse`, so every field reaches the caller).
    Chunk {
        content: Option<String>,
        data: String,
    },
    /// `data: [DONE]`: the stream is over; the shell cancels the body at once.
    Done,
    /// Nothing to deliver (empty data, an event type other than `message` such as a
    /// `ping` keep-alive, anything after `[DONE]`).
    Skip,
}

/// How a stream ended: what it added up to, and whether it said it was complete.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub completion: ChatCompletion,
    /// Choice 0's finish reason.
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// Neither `[DONE]` nor any finish reason arrived: the stream was cut. The shell turns
    /// this into a `truncated` error that keeps `completion`.
    pub truncated: bool,
    /// The step of the unterminated final event, when it was accepted. A
    /// [`Step::Chunk`] here has not been delivered yet: the shell delivers it (content
    /// and chunk callbacks) before resolving, as for any other chunk.
    pub tail: Option<Step>,
}

/// The state of one chat completion stream. Feed it every decoded event with
/// [`on_event`](Self::on_event), then call [`finish`](Self::finish) when the body ends.
#[derive(Debug, Default)]
pub struct ChatStreamState {
    id: String,
    model: String,
    created: u64,
    system_fingerprint: Option<String>,
    /// Unknown top-level fields; the last non-null value of each wins.
    extra: Map<String, Value>,
    /// By choice index, sorted (so the completion lists choices in order). A sorted
    /// `Vec` rather than a map: there are few choices, and every map type compiled in
    /// costs the wasm several KB. Boxed so that an insertion moves 8 bytes per choice,
    /// not the whole state (a hostile stream announcing choices in descending order
    /// then costs O(n²) moves of 8 bytes: about 0.4 s natively at 50,000 choices).
    choices: Vec<(u32, Box<ChoiceAcc>)>,
    usage: Option<Usage>,
    done: bool,
    chunks: usize,
}

#[derive(Debug, Default)]
struct ChoiceAcc {
    role: Option<String>,
    /// `None` until a content delta (even `""`) arrives: a tool-call-only message has
    /// `content: null`.
    content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Vec<ToolCallAcc>,
    /// Tool call index -> position in `tool_calls`, sorted by index.
    tool_by_index: Vec<(u32, usize)>,
    /// Tool call id -> position, for servers that send no `index`.
    tool_by_id: Vec<(String, usize)>,
    finish_reason: Option<String>,
    /// `logprobs.content` entries, concatenated across chunks.
    logprob_content: Vec<Value>,
    /// Unknown choice-level fields (`seed`, `stop_reason`, `content_filter_results`,
    /// ...); the last non-null value of each wins.
    extra: Map<String, Value>,
}

#[derive(Debug, Default)]
struct ToolCallAcc {
    index: Option<u32>,
    id: String,
    kind: Option<String>,
    name: String,
    arguments: String,
}

/// Choice-level keys never copied into [`Choice::extra`]: the known fields of a
/// [`Choice`] (copying them would emit a key twice) and Together's legacy `text`, a
/// per-chunk duplicate of the content delta.
const CHOICE_KEYS_NOT_KEPT: &[&str] = &[
    "index",
    "message",
    "finish_reason",
    "logprobs",
    "delta",
    "text",
];

impl ChatStreamState {
    pub fn new() -> Self {
        Self::default()
    }

    /// One decoded SSE event.
    ///
    /// `Err` for an `error` event, a payload with an `error` key (kind
    /// [`ErrorKind::Stream`], with the server's message and code), or data that is not a
    /// chat chunk (kind [`ErrorKind::Parse`], quoting the data). Everything before it was
    /// already returned as steps, so nothing is lost; the state stays usable for
    /// [`snapshot`](Self::snapshot).
    pub fn on_event(&mut self, ev: &Event) -> Result<Step, Error> {
        if self.done {
            return Ok(Step::Skip);
        }
        let data = ev.data.trim();
        if ev.event == "error" {
            return Err(error_event(data));
        }
        if !(ev.event == "message" || ev.event.is_empty()) || data.is_empty() {
            return Ok(Step::Skip);
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Step::Done);
        }
        let chunk = parse_chunk(data)?;
        self.chunks += 1;
        let content = self.absorb(chunk);
        Ok(Step::Chunk {
            content,
            data: ev.data.clone(),
        })
    }

    /// The input ended. `unterminated` is the decoder's unterminated final event: it is
    /// accepted if it is `[DONE]` or parses (real providers end streams that way); one
    /// that does not parse was cut mid-way and is dropped, as the SSE spec drops an
    /// incomplete event, so the stream then counts as truncated unless it had already
    /// finished. An error payload in it is still an error.
    pub fn finish(&mut self, unterminated: Option<&Event>) -> Result<Finish, Error> {
        let mut tail = None;
        if let Some(ev) = unterminated {
            match self.on_event(ev) {
                Ok(Step::Skip) => {}
                Ok(step) => tail = Some(step),
                Err(e) if e.kind == ErrorKind::Parse => {
                    // The recorded Cerebras stream ends `…}}"`: a complete chunk with a
                    // stray byte after it, and no blank line. The unterminated tail (and
                    // only it) is accepted when it opens with one complete JSON object;
                    // a chunk cut mid-object still fails here and is dropped.
                    if let Some(prefix) = leading_json_object(&ev.data) {
                        let trimmed = Event {
                            data: prefix.to_owned(),
                            ..ev.clone()
                        };
                        match self.on_event(&trimmed) {
                            Ok(Step::Skip) | Err(_) => {}
                            Ok(step) => tail = Some(step),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let truncated = !self.done && !self.choices.iter().any(|(_, c)| c.finish_reason.is_some());
        Ok(Finish {
            completion: self.snapshot(),
            finish_reason: self.finish_reason().map(str::to_owned),
            usage: self.usage.clone(),
            truncated,
            tail,
        })
    }

    /// The completion accumulated so far (also what an aborted stream returns).
    pub fn snapshot(&self) -> ChatCompletion {
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
            extra: self.extra.clone(),
        }
    }

    /// Choice 0's finish reason, once one arrived.
    pub fn finish_reason(&self) -> Option<&str> {
        match self.choices.first() {
            Some((0, c)) => c.finish_reason.as_deref(),
            _ => None,
        }
    }

    /// The last usage the stream reported.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// `[DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// How many chunks parsed so far.
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// Fold one chunk in; returns choice 0's non-empty content delta.
    fn absorb(&mut self, chunk: ChatChunk) -> Option<String> {
        if !chunk.id.is_empty() {
            self.id = chunk.id;
        }
        if !chunk.model.is_empty() {
            self.model = chunk.model;
        }
        if chunk.created != 0 {
            self.created = chunk.created;
        }
        if chunk.system_fingerprint.is_some() {
            self.system_fingerprint = chunk.system_fingerprint;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        merge_last_wins(&mut self.extra, chunk.extra, &[]);

        let mut content0 = None;
        for choice in chunk.choices {
            let index = choice.index;
            let slot = match self.choices.binary_search_by_key(&index, |(i, _)| *i) {
                Ok(slot) => slot,
                Err(slot) => {
                    self.choices.insert(slot, (index, Box::default()));
                    slot
                }
            };
            let delta = self.choices[slot].1.absorb(choice);
            if index == 0 && content0.is_none() {
                content0 = delta.filter(|s| !s.is_empty());
            }
        }
        content0
    }
}

impl ChoiceAcc {
    /// Fold one chunk's choice in; returns its content delta.
    fn absorb(&mut self, choice: ChunkChoice) -> Option<String> {
        let delta = choice.delta;
        if delta.role.is_some() {
            self.role = delta.role;
        }
        if let Some(text) = &delta.content {
            self.content.get_or_insert_with(String::new).push_str(text);
        }
        // `reasoning_content` (DeepSeek, vLLM, SGLang) or, from newer servers, `reasoning`.
        let reasoning = delta
            .reasoning_content
            .as_deref()
            .or_else(|| delta.extra.get("reasoning").and_then(Value::as_str));
        if let Some(text) = reasoning {
            self.reasoning
                .get_or_insert_with(String::new)
                .push_str(text);
        }
        for piece in delta.tool_calls.into_iter().flatten() {
            self.absorb_tool_call(piece);
        }
        if choice.finish_reason.is_some() {
            self.finish_reason = choice.finish_reason;
        }
        if let Some(Value::Object(mut lp)) = choice.logprobs {
            if let Some(Value::Array(items)) = lp.remove("content") {
                self.logprob_content.extend(items);
            }
        }
        merge_last_wins(&mut self.extra, choice.extra, CHOICE_KEYS_NOT_KEPT);
        delta.content
    }

    fn absorb_tool_call(&mut self, piece: ToolCallDelta) {
        let pos = match (piece.index, piece.id.as_deref().filter(|id| !id.is_empty())) {
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
            // No index and no id: a continuation of the last call (or the first one).
            (None, None) => match self.tool_calls.len() {
                0 => self.new_tool_call(None),
                n => n - 1,
            },
        };
        if let Some(id) = piece.id.filter(|id| !id.is_empty()) {
            if let Err(slot) = self.find_id(&id) {
                self.tool_by_id.insert(slot, (id.clone(), pos));
            }
            let call = &mut self.tool_calls[pos];
            if call.id.is_empty() {
                call.id = id;
            }
        }
        let call = &mut self.tool_calls[pos];
        if call.kind.is_none() {
            call.kind = piece.kind;
        }
        if let Some(f) = piece.function {
            if let Some(name) = f.name.filter(|n| !n.is_empty()) {
                if call.name.is_empty() {
                    call.name = name;
                }
            }
            if let Some(args) = f.arguments {
                call.arguments.push_str(&args);
            }
        }
    }

    /// Where `id` is (or would go) in `tool_by_id`.
    fn find_id(&self, id: &str) -> Result<usize, usize> {
        self.tool_by_id
            .binary_search_by(|(known, _)| known.as_str().cmp(id))
    }

    /// Append a new tool call; returns its position.
    fn new_tool_call(&mut self, index: Option<u32>) -> usize {
        // A call without an index gets its position, as the non-stream form numbers them.
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
                        arguments: t.arguments.clone(),
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                })
                .collect()
        });
        let logprobs = (!self.logprob_content.is_empty()).then(|| {
            let mut lp = Map::new();
            lp.insert(
                "content".to_owned(),
                Value::Array(self.logprob_content.clone()),
            );
            Value::Object(lp)
        });
        Choice {
            index,
            message: Message {
                role: self.role.clone().unwrap_or_else(|| "assistant".to_owned()),
                content: self.content.clone(),
                reasoning_content: self.reasoning.clone(),
                tool_calls,
                extra: Map::new(),
            },
            finish_reason: self.finish_reason.clone(),
            logprobs,
            extra: self.extra.clone(),
        }
    }
}

/// Copy `from` into `into`: a non-null value replaces, a `null` only fills a gap.
fn merge_last_wins(into: &mut Map<String, Value>, from: Map<String, Value>, skip: &[&str]) {
    for (k, v) in from {
        if skip.contains(&k.as_str()) {
            continue;
        }
        if !v.is_null() || !into.contains_key(&k) {
            into.insert(k, v);
        }
    }
}

/// Parse one `data` payload as a chunk, or say why it is not one.
pub(crate) fn parse_chunk(data: &str) -> Result<ChatChunk, Error> {
    let value = crate::json::parse(data)
        .map_err(|e| parse_error(format!("a stream chunk is not valid JSON: {e}"), data))?;
    if let Value::Object(map) = &value {
        if is_error_payload(map) {
            return Err(crate::error::body_payload_error(data));
        }
    }
    ChatChunk::from_json(value).map_err(|e| {
        parse_error(
            "a stream chunk is not a chat completion chunk: ".to_owned() + &e.message(),
            data,
        )
    })
}

/// The error an `event: error` SSE event carries.
pub(crate) fn error_event(data: &str) -> Error {
    crate::error::event_error(data, false)
}

/// The text of the complete JSON object that `data` opens with, if it opens with one
/// (read by the scan's validating reader; whatever follows the object is ignored).
pub(crate) fn leading_json_object(data: &str) -> Option<&str> {
    let rest = data.trim_start();
    let mut r = crate::scan::Reader::new(rest);
    let v = r
        .value()
        .ok()
        .filter(|v| v.kind == crate::scan::Kind::Object)?;
    rest.get(..v.end)
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {
    use super::{leading_json_object, ChatStreamState};
    use crate::sse::Event;

    fn feed(s: &mut ChatStreamState, data: &str) {
        let ev = Event {
            event: String::new(),
            data: data.to_owned(),
            id: String::new(),
        };
        assert!(s.on_event(&ev).is_ok(), "{data}");
    }

    #[test]
    fn choices_in_any_order_are_listed_by_index() {
        let mut s = ChatStreamState::new();
        for i in [3, 1, 2, 0, 1, 3] {
            feed(
                &mut s,
                &format!(r#"{{"choices":[{{"index":{i},"delta":{{"content":"{i}"}}}}]}}"#),
            );
        }
        let c = s.snapshot();
        let got: Vec<(u32, Option<&str>)> = c
            .choices
            .iter()
            .map(|c| (c.index, c.message.content.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (0, Some("0")),
                (1, Some("11")),
                (2, Some("2")),
                (3, Some("33"))
            ]
        );
    }

    #[test]
    fn tool_calls_are_found_by_index_and_id_in_any_order() {
        let mut s = ChatStreamState::new();
        for (index, id, args) in [(Some(5), "e", "a"), (Some(2), "b", "b"), (None, "e", "c")] {
            let index = index.map_or(String::new(), |i| format!(r#""index":{i},"#));
            feed(
                &mut s,
                &format!(
                    r#"{{"choices":[{{"delta":{{"tool_calls":[{{{index}"id":"{id}","function":{{"arguments":"{args}"}}}}]}}}}]}}"#
                ),
            );
        }
        let c = s.snapshot();
        let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
        let got: Vec<(Option<u32>, &str, &str)> = calls
            .iter()
            .map(|t| (t.index, t.id.as_str(), t.function.arguments.as_str()))
            .collect();
        assert_eq!(got, [(Some(5), "e", "ac"), (Some(2), "b", "b")]);
    }

    #[test]
    fn leading_object_is_found_by_reading_it() {
        let cases = [
            (r#"{"a":1}"}"#, Some(r#"{"a":1}"#)),
            (r#"  {"a":"}{]\"}"}x"#, Some(r#"{"a":"}{]\"}"}"#)),
            (r#"{"a":[{"b":"\\"}]}}"#, Some(r#"{"a":[{"b":"\\"}]}"#)),
            (r#"{"a":[1,2"#, None),
            (r#"[1]"#, None),
            ("", None),
            (r#"{"a":"\"#, None),
        ];
        for (data, want) in cases {
            assert_eq!(leading_json_object(data), want, "{data}");
        }
    }
}
