//! The forwarded answer on its way back to the client: what is passed on, what is taken
//! out, what is learnt from it, and how a failure after the status line is told.
//!
//! Owns: [`StreamRelay`], fed the upstream body's bytes as they come and answering the
//! bytes to hand on: an event stream is cut into whole events (passed on byte for byte),
//! the usage-only chunk the proxy asked for on the client's behalf is dropped, every
//! secret (the token, should an upstream echo the request's headers) is replaced by
//! `[redacted]`, usage is read, and the text delivered is counted for an estimate when
//! the upstream sends no usage or the client leaves early; [`stream_failure_event`], the
//! final SSE event of a stream that failed mid-way (an OpenAI-shaped `{"error": …}`,
//! which the `openai` SDKs, `huggingface_hub` and the AI SDK raise as an API error);
//! [`proxy_timeouts`], the waits the proxy applies to one upstream call.
//!
//! Must never: hold more than [`MAX_EVENT_BYTES`] of one event or [`MAX_JSON_BYTES`] of a
//! JSON body (past them bytes are passed on with only the redaction applied); change a
//! byte of an event it passes on other than a secret; panic on any input.

use super::Reason;
use crate::error::{Error, ErrorKind};
use crate::json::Value;
use crate::timeouts::Timeouts;
use crate::types::Usage;
use crate::usage::tokens_for_bytes;
use std::borrow::Cow;

/// Longest single SSE event held back to look at (a 2 MiB `data:` line passes).
pub const MAX_EVENT_BYTES: usize = 4 << 20;
/// Largest non-stream body read for its usage (a completion is a few KB).
pub const MAX_JSON_BYTES: usize = 1 << 20;
/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The answer's body as the relay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `text/event-stream`: cut into events.
    EventStream,
    /// Anything else (a `chat.completion` JSON document): passed on as it comes, kept up
    /// to [`MAX_JSON_BYTES`] to read its usage at the end.
    Document,
}

/// Usage as the log line and `onUsage` get it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayUsage {
    pub usage: Usage,
    /// Counted by the proxy (prompt from the request, completion from the text
    /// delivered, ~4 bytes a token), not reported by the upstream.
    pub estimated: bool,
}

/// What [`StreamRelay::relay`] hands on for one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// Exactly the bytes fed: whole events, none taken out or redacted (the common case;
    /// the shell passes its own buffer on without a copy).
    Unchanged,
    /// These bytes (possibly none).
    Bytes(Vec<u8>),
}

/// One forwarded body. Feed it every chunk ([`StreamRelay::feed`]), then
/// [`StreamRelay::finish`] at the end or [`StreamRelay::fail`] when the upstream body
/// broke; each returns the bytes to send now.
#[derive(Debug, Clone)]
pub struct StreamRelay {
    kind: BodyKind,
    strip_usage: bool,
    secrets: Vec<String>,
    /// Longest secret, in bytes (what a chunk boundary may cut).
    hold: usize,
    /// Bytes not yet handed on: an unfinished event, or a redaction tail.
    pending: Vec<u8>,
    /// Where the scan for the end of the pending event resumes.
    scanned: usize,
    /// Whether the last line seen in `pending` ended (the next byte starts a line).
    at_line_start: bool,
    /// An event outgrew [`MAX_EVENT_BYTES`]: pass through (redaction only) from now on.
    passthrough: bool,
    /// A document body, kept for its usage; `None` once over the bound.
    document: Option<Vec<u8>>,
    usage: Option<Usage>,
    /// UTF-8 bytes of delivered text (content, reasoning, tool-call arguments).
    delivered_text: u64,
    prompt_estimate: u64,
    done: bool,
}

impl StreamRelay {
    /// A relay for a body of `kind`. `strip_usage`: the client did not ask for usage, so
    /// the usage-only chunk (`"choices": []`) is taken out. `prompt_estimate`: the
    /// request's estimated prompt tokens, for [`StreamRelay::usage`] when the upstream
    /// reports none.
    pub fn new(kind: BodyKind, strip_usage: bool, secrets: &[&str], prompt_estimate: u64) -> Self {
        let secrets: Vec<String> = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
            .collect();
        let hold = secrets.iter().map(String::len).max().unwrap_or(0);
        StreamRelay {
            kind,
            strip_usage,
            secrets,
            hold,
            pending: Vec::new(),
            scanned: 0,
            at_line_start: true,
            passthrough: false,
            document: (kind == BodyKind::Document).then(Vec::new),
            usage: None,
            delivered_text: 0,
            prompt_estimate,
            done: false,
        }
    }

    /// The next chunk of the upstream body; returns the bytes to send now.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self.relay(bytes) {
            Relayed::Unchanged => bytes.to_vec(),
            Relayed::Bytes(out) => out,
        }
    }

    /// [`StreamRelay::feed`] that says when the answer is the input itself: with no
    /// unfinished event held from before, the chunk's events are looked at where they lie
    /// (no copy into the pending buffer), and bytes are only built once one of them is
    /// taken out or changed, or the chunk ends inside an event.
    pub fn relay(&mut self, bytes: &[u8]) -> Relayed {
        if let Some(doc) = &mut self.document {
            if doc.len() + bytes.len() <= MAX_JSON_BYTES {
                doc.extend_from_slice(bytes);
            } else {
                self.document = None;
            }
        }
        if self.kind == BodyKind::Document || self.passthrough || !self.pending.is_empty() {
            self.pending.extend_from_slice(bytes);
            if self.kind == BodyKind::Document || self.passthrough {
                return Relayed::Bytes(self.release_redacted(false));
            }
            let mut out = Vec::new();
            let mut scanned = self.scanned;
            let mut line_start = self.at_line_start;
            while let Some(end) = event_end(&self.pending, &mut scanned, &mut line_start) {
                let event: Vec<u8> = self.pending.drain(..end).collect();
                scanned = 0;
                line_start = true;
                if let Some(kept) = self.look(&event) {
                    out.extend_from_slice(&kept);
                }
            }
            self.scanned = scanned;
            self.at_line_start = line_start;
            self.overflow(&mut out);
            return Relayed::Bytes(out);
        }
        // Nothing held: the events are read in place. `out` stays `None` while every
        // event so far goes on unchanged.
        let mut out: Option<Vec<u8>> = None;
        let mut at = 0;
        let mut scanned = 0;
        let mut line_start = true;
        while let Some(len) = event_end(&bytes[at..], &mut scanned, &mut line_start) {
            let event = &bytes[at..at + len];
            match self.look(event) {
                Some(Cow::Borrowed(_)) => {
                    if let Some(o) = &mut out {
                        o.extend_from_slice(event);
                    }
                }
                kept => {
                    let o = out.get_or_insert_with(|| bytes[..at].to_vec());
                    if let Some(k) = kept {
                        o.extend_from_slice(&k);
                    }
                }
            }
            at += len;
            scanned = 0;
            line_start = true;
        }
        if at == bytes.len() {
            return out.map_or(Relayed::Unchanged, Relayed::Bytes);
        }
        // The chunk ends inside an event: hold that event back.
        let mut out = out.unwrap_or_else(|| bytes[..at].to_vec());
        self.pending.extend_from_slice(&bytes[at..]);
        self.scanned = scanned;
        self.at_line_start = line_start;
        self.overflow(&mut out);
        Relayed::Bytes(out)
    }

    /// An event outgrew [`MAX_EVENT_BYTES`]: pass through (redaction only) from now on.
    fn overflow(&mut self, out: &mut Vec<u8>) {
        if self.pending.len() > MAX_EVENT_BYTES {
            self.passthrough = true;
            out.extend(self.release_redacted(false));
        }
    }

    /// The upstream body ended; returns what is left to send.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.kind == BodyKind::EventStream && !self.passthrough && !self.pending.is_empty() {
            // A last event without its blank line still counts (and is passed on as is).
            let event = std::mem::take(&mut self.pending);
            if let Some(kept) = self.look(&event) {
                out.extend_from_slice(&kept);
            }
        } else {
            out = self.release_redacted(true);
        }
        if let Some(doc) = self.document.take() {
            self.read_document(&doc);
        }
        out
    }

    /// The upstream body broke after the status line: what is left to send, then (for
    /// an event stream) [`stream_failure_event`]. A document cannot carry an error after
    /// its first byte: the shell ends the response abruptly after these bytes.
    pub fn fail(&mut self, error: &Error) -> Vec<u8> {
        self.document = None;
        if self.kind == BodyKind::EventStream && !self.passthrough {
            // An event cut by the failure is not passed on: its bytes would run into
            // the error event's line.
            self.pending.clear();
        }
        let mut out = self.release_redacted(true);
        if !out.is_empty() && self.kind == BodyKind::EventStream {
            out.extend_from_slice(b"\n\n");
        }
        if self.kind == BodyKind::EventStream && !self.done {
            let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
            out.extend_from_slice(stream_failure_event(error, &secrets).as_bytes());
        }
        out
    }

    /// What the body is.
    pub fn kind(&self) -> BodyKind {
        self.kind
    }

    /// Whether the stream's `[DONE]` went by.
    pub fn saw_done(&self) -> bool {
        self.done
    }

    /// The usage to log: the upstream's when it sent one, else an estimate (the prompt
    /// from the request, the completion from the text delivered so far).
    pub fn usage(&self) -> RelayUsage {
        match &self.usage {
            Some(u) => RelayUsage {
                usage: u.clone(),
                estimated: false,
            },
            None => {
                let completion = tokens_for_bytes(self.delivered_text);
                RelayUsage {
                    usage: Usage {
                        prompt_tokens: Some(self.prompt_estimate),
                        completion_tokens: Some(completion),
                        total_tokens: Some(self.prompt_estimate.saturating_add(completion)),
                        ..Usage::default()
                    },
                    estimated: true,
                }
            }
        }
    }

    /// Look at one whole event: what to pass on (redacted; borrowed when that changed
    /// nothing), or `None` to drop it.
    fn look<'a>(&mut self, event: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        // One `data:` line (the usual event) is read where it lies; more are joined.
        let mut data: Cow<[u8]> = Cow::Borrowed(b"");
        let mut lines = 0;
        let mut named = false;
        for line in event.split(|&b| b == b'\n' || b == b'\r') {
            if let Some(v) = line.strip_prefix(b"data:") {
                let v = v.strip_prefix(b" ").unwrap_or(v);
                if lines == 0 {
                    data = Cow::Borrowed(v);
                } else {
                    let d = data.to_mut();
                    d.push(b'\n');
                    d.extend_from_slice(v);
                }
                lines += 1;
            } else if let Some(v) = line.strip_prefix(b"event:") {
                named = !matches!(String::from_utf8_lossy(v).trim(), "" | "message");
            }
        }
        let mut drop = false;
        if !named && !data.is_empty() {
            // Invalid UTF-8 reads as U+FFFD, as everywhere else in the relay.
            let data = String::from_utf8_lossy(&data);
            if data.trim() == "[DONE]" {
                self.done = true;
            } else if let Some(facts) = super::facts::read(data.as_bytes()) {
                drop = self.strip_usage
                    && facts.choices.is_some_and(|c| c.len == 0)
                    && facts.usage.as_ref().is_some_and(Value::is_object);
                self.learn(facts);
            }
        }
        (!drop).then(|| self.redact(event))
    }

    /// Usage and delivered text from one chunk.
    fn learn(&mut self, facts: super::facts::ChunkFacts) {
        if let Some(u) = facts.usage.as_ref().and_then(usage_in) {
            self.usage = Some(u);
        }
        if let Some(c) = facts.choices {
            self.delivered_text = self.delivered_text.saturating_add(c.text);
        }
    }

    fn read_document(&mut self, doc: &[u8]) {
        let Ok(v) = crate::json::parse(&String::from_utf8_lossy(doc)) else {
            return;
        };
        if let Some(u) = usage_of(&v) {
            self.usage = Some(u);
        }
        if let Some(Value::Array(choices)) = v.get("choices") {
            for c in choices {
                if let Some(m) = c.get("message") {
                    self.delivered_text = self.delivered_text.saturating_add(text_bytes(m));
                }
            }
        }
    }

    /// Hand on `pending` with secrets replaced, keeping back (unless `all`) a tail that
    /// could be the start of a secret cut by the chunk boundary.
    fn release_redacted(&mut self, all: bool) -> Vec<u8> {
        let redacted = self.redact(&self.pending).into_owned();
        self.pending.clear();
        self.scanned = 0;
        self.at_line_start = true;
        if all || self.hold <= 1 {
            return redacted;
        }
        let keep = (self.hold - 1).min(redacted.len());
        let cut = redacted.len() - keep;
        self.pending.extend_from_slice(&redacted[cut..]);
        let mut out = redacted;
        out.truncate(cut);
        out
    }

    /// `bytes` with every secret replaced, one secret after the other; borrowed when no
    /// secret occurs (nothing is copied for the usual event).
    fn redact<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for s in &self.secrets {
            if find(&out, s.as_bytes()).is_some() {
                out = Cow::Owned(replace_all(&out, s.as_bytes(), REDACTED.as_bytes()));
            }
        }
        out
    }
}

/// The end of the first complete event in `p` (after its blank line), scanning from
/// `*i` with `*line_start` saying whether `p[*i]` starts a line; when there is none yet,
/// both are left where the scan stopped, for the next call with more bytes.
fn event_end(p: &[u8], i: &mut usize, line_start: &mut bool) -> Option<usize> {
    while *i < p.len() {
        match p[*i] {
            b'\n' => {
                if *line_start {
                    return Some(*i + 1);
                }
                *line_start = true;
                *i += 1;
            }
            b'\r' => {
                // `\r\n` is one line end; a `\r` last in the buffer waits for the next
                // byte to know.
                let Some(&next) = p.get(*i + 1) else {
                    break;
                };
                let len = if next == b'\n' { 2 } else { 1 };
                if *line_start {
                    return Some(*i + len);
                }
                *line_start = true;
                *i += len;
            }
            _ => {
                *line_start = false;
                *i += 1;
            }
        }
    }
    None
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || hay.len() < needle.len() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while let Some(p) = find(&hay[i..], needle) {
        out.extend_from_slice(&hay[i..i + p]);
        out.extend_from_slice(with);
        i += p + needle.len();
    }
    out.extend_from_slice(&hay[i..]);
    out
}

/// A chunk that only carries usage: `"choices": []` and a `usage` object.
fn usage_of(v: &Value) -> Option<Usage> {
    usage_in(v.get("usage")?)
}

/// A `usage` value that says something: an object with at least one token count.
fn usage_in(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    let u = Usage::from_json(u.clone()).ok()?;
    (u.prompt_tokens.is_some() || u.completion_tokens.is_some() || u.total_tokens.is_some())
        .then_some(u)
}

/// UTF-8 bytes of the text in a delta or message: content, reasoning, tool-call
/// arguments.
pub(crate) fn text_bytes(m: &Value) -> u64 {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map_or(0, |t| t.len() as u64);
    let mut n = s(m.get("content"))
        .saturating_add(s(m.get("reasoning_content")))
        .saturating_add(s(m.get("reasoning")));
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        for c in calls {
            let f = c.get("function");
            n = n
                .saturating_add(s(f.and_then(|f| f.get("arguments"))))
                .saturating_add(s(f.and_then(|f| f.get("name"))));
        }
    }
    n
}

/// The last event of a stream whose upstream failed after it started:
/// `data: {"error":{"message","type","param","code"}}` followed by a blank line, with no
/// `event:` name (so every OpenAI-compatible client reads it as a chunk, finds `error` and
/// raises it). A timeout is [`Reason::UpstreamTimeout`], anything else
/// [`Reason::UpstreamUnreachable`]; `secrets` are redacted from the message.
pub fn stream_failure_event(error: &Error, secrets: &[&str]) -> String {
    let mut e = error.clone();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        e = e.redact(s);
    }
    let (reason, message) = match e.kind {
        ErrorKind::Timeout => (
            Reason::UpstreamTimeout,
            format!(
                "the upstream stopped mid-stream and the proxy gave up: {}",
                e.message
            ),
        ),
        _ => (
            Reason::UpstreamUnreachable,
            format!(
                "the upstream connection broke mid-stream: {}",
                super::respond::server_side_message(&e.message)
            ),
        ),
    };
    let mut body =
        super::respond::error_body(&message, reason.error_type(), Some(reason.code()), None);
    let mut out = String::from("data: ");
    out.push_str(&body.end());
    out.push_str("\n\n");
    out
}

/// The waits of one upstream chat call, from the configured ones. A non-streamed answer
/// has its headers only once the whole answer is generated, so its headers wait is the
/// total bound (unless the operator set `timeouts.headers`, `explicit_headers`): the
/// default never cuts a non-streamed answer that a stream of the same length would
/// finish.
pub fn proxy_timeouts(configured: Timeouts, stream: bool, explicit_headers: bool) -> Timeouts {
    if stream || explicit_headers {
        return configured;
    }
    let mut t = configured;
    if t.total_ms > 0 {
        t.headers_ms = t.headers_ms.max(t.total_ms);
    } else {
        t.headers_ms = 0;
    }
    t
}
