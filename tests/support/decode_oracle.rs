//! Drive the new `decode::StreamDecoder` and, as the oracle, the old `sse::Decoder` +
//! `protocol::StreamState` pair the way the shell drives it, and reduce each run to what
//! a caller can see. Shared by the decoder tests (included with `#[path]`).
#![allow(dead_code)] // each includer uses what it needs

use hf_inference_wasm::decode::{DecodeOptions, Deltas, StreamDecoder, StreamEvent};
use hf_inference_wasm::protocol::{Protocol, StreamState};
use hf_inference_wasm::sse::{Decoder, Item, Limits};
use hf_inference_wasm::stream::Step;
use hf_inference_wasm::usage::TokenUsage;
use hf_inference_wasm::Error;

/// What a caller sees of one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Choice 0's content as delivered, piece by piece joined.
    pub delivered: String,
    /// The raw data of each delivered chunk.
    pub chunks: Vec<String>,
    pub error: Option<Error>,
    pub truncated: bool,
    pub snapshot: String,
    pub text: String,
    pub finish_reason: Option<String>,
    pub usage: Option<TokenUsage>,
    pub usage_estimated: Option<TokenUsage>,
    pub storable: bool,
    pub chunk_count: u64,
}

/// The old path, fed `body` whole, driven as `src/web/chat_stream.rs` drives it.
pub fn old(protocol: Protocol, body: &[u8], limits: Limits) -> Seen {
    let mut decoder = Decoder::with_limits(limits);
    let mut state = StreamState::new(protocol);
    let mut items: Vec<Item> = Vec::new();
    let mut seen = Seen {
        delivered: String::new(),
        chunks: Vec::new(),
        error: None,
        truncated: false,
        snapshot: String::new(),
        text: String::new(),
        finish_reason: None,
        usage: None,
        usage_estimated: None,
        storable: false,
        chunk_count: 0,
    };
    let deliver = |seen: &mut Seen, step: Step| {
        if let Step::Chunk { content, data } = step {
            seen.delivered
                .push_str(content.as_deref().unwrap_or_default());
            seen.chunks.push(data);
            seen.chunk_count += 1;
        }
    };
    let pending = decoder.feed(body, &mut items).err();
    let mut ended = false;
    for item in items.drain(..) {
        let Item::Event(ev) = item else { continue };
        match state.on_event(&ev) {
            Ok(Step::Done) => {
                ended = true;
                break;
            }
            Ok(step) => deliver(&mut seen, step),
            Err(e) => {
                seen.error = Some(e);
                ended = true;
                break;
            }
        }
        if state.is_done() {
            ended = true;
            break;
        }
    }
    if !ended {
        if let Some(e) = pending {
            seen.error = Some(e.into());
        } else {
            match decoder.finish(&mut items) {
                Err(e) => seen.error = Some(e.into()),
                Ok(tail) => match state.finish(tail.as_ref()) {
                    Ok(f) => {
                        if let Some(step) = f.tail {
                            deliver(&mut seen, step);
                        }
                        seen.truncated = f.truncated;
                    }
                    Err(e) => seen.error = Some(e),
                },
            }
        }
    }
    seen.snapshot = state.snapshot_json();
    seen.text = state.text();
    seen.finish_reason = state.finish_reason();
    seen.usage = state.token_usage(None);
    seen.usage_estimated = state.token_usage(Some(7));
    seen.storable = state.storable();
    seen
}

/// What the new decoder reported, beyond [`Seen`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub seen: Seen,
    pub reasoning: String,
    pub events: Vec<StreamEvent>,
    /// `Output::text` of each feed, for the `accumulate: false` checks.
    pub feeds: usize,
    /// With `patch_chunks`: the chunk objects a consumer makes of the kept chunks
    /// ([`Patched`]); `None` for a whole chunk serde_json cannot read.
    pub values: Vec<Option<serde_json::Value>>,
}

/// What `js/pump.js`'s `Chunks` makes of `Output::chunks` kept with `patch_chunks`, made
/// here with serde_json: each entry is a chunk's JSON text, `=` (the chunk before it
/// again), a path (a JSON array of keys and indices), or `'` and a text or a JSON string
/// (the chunk before it with the string at the last path changed to this).
#[derive(Debug, Default)]
pub struct Patched {
    last: Option<serde_json::Value>,
    path: Vec<serde_json::Value>,
    pub values: Vec<Option<serde_json::Value>>,
}

impl Patched {
    #[track_caller]
    pub fn read(&mut self, kept: &str) {
        use serde_json::Value;
        for e in kept.split_terminator('\0') {
            match e.as_bytes().first() {
                Some(b'[') => self.path = serde_json::from_str(e).expect("a path is a JSON array"),
                Some(b'=') => {
                    assert_eq!(e, "=");
                    let last = self.last.clone().expect("`=` follows a chunk");
                    self.values.push(Some(last));
                }
                Some(b'"' | b'\'') => {
                    let text: String = match e.strip_prefix('\'') {
                        Some(text) => text.to_owned(),
                        None => serde_json::from_str(e).expect("a change is a JSON string"),
                    };
                    let last = self.last.as_mut().expect("a change follows a chunk");
                    let mut at = &mut *last;
                    for k in &self.path {
                        at = match k {
                            Value::String(k) => at.get_mut(k.as_str()),
                            Value::Number(n) => n.as_u64().and_then(|i| at.get_mut(i as usize)),
                            _ => None,
                        }
                        .unwrap_or_else(|| {
                            panic!("the path {:?} leads nowhere in the chunk before", self.path)
                        });
                    }
                    assert!(at.is_string(), "the path {:?} leads to a string", self.path);
                    *at = Value::String(text);
                    self.values.push(Some(last.clone()));
                }
                _ => {
                    let v: Option<Value> = serde_json::from_str(e).ok();
                    self.last = v.clone();
                    self.values.push(v);
                }
            }
        }
    }
}

/// The new decoder fed `pieces` in order, then ended.
pub fn new<'a>(
    protocol: Protocol,
    pieces: impl IntoIterator<Item = &'a [u8]>,
    options: DecodeOptions,
) -> NewRun {
    let mut d = StreamDecoder::new(protocol, options);
    let mut delivered = String::new();
    let mut reasoning = String::new();
    let mut chunks = Vec::new();
    let mut events = Vec::new();
    let mut feeds = 0;
    let mut patched = Patched::default();
    let mut take = |out: &hf_inference_wasm::decode::Output| {
        delivered.push_str(&out.text);
        reasoning.push_str(&out.reasoning);
        if options.keep_chunks && options.patch_chunks {
            let before = patched.values.len();
            patched.read(&out.chunks);
            assert_eq!(
                patched.values.len() - before,
                out.chunk_count as usize,
                "one chunk per delivered chunk"
            );
        } else if options.keep_chunks {
            let mut n = 0;
            for c in out.chunks.split_terminator('\0') {
                chunks.push(c.to_owned());
                n += 1;
            }
            assert_eq!(n, out.chunk_count, "one chunk text per delivered chunk");
        }
        events.extend(out.events.iter().cloned());
    };
    for piece in pieces {
        feeds += 1;
        let out = d.feed(piece);
        take(out);
    }
    let out = d.end();
    take(out);
    assert!(d.is_done());
    let error = events.iter().find_map(|e| match e {
        StreamEvent::Error(e) => Some(e.clone()),
        _ => None,
    });
    let truncated = events.contains(&StreamEvent::Truncated);
    NewRun {
        seen: Seen {
            delivered,
            chunks,
            error,
            truncated,
            snapshot: d.snapshot_json(),
            text: d.text().into_owned(),
            finish_reason: d.finish_reason().map(str::to_owned),
            usage: d.token_usage(None),
            usage_estimated: d.token_usage(Some(7)),
            storable: d.storable(),
            chunk_count: d.chunk_count(),
        },
        reasoning,
        events,
        feeds,
        values: patched.values,
    }
}

/// What a decoder that keeps nothing (`StreamDecoder<Deltas>`, the decoder core's)
/// delivered: the text, the reasoning and the events.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRun {
    pub delivered: String,
    pub reasoning: String,
    pub events: Vec<StreamEvent>,
    pub chunk_count: u64,
}

/// A `StreamDecoder<Deltas>` fed `pieces` in order, then ended.
pub fn deltas<'a>(protocol: Protocol, pieces: impl IntoIterator<Item = &'a [u8]>) -> DeltaRun {
    let mut d = StreamDecoder::<Deltas>::keeping(protocol, DecodeOptions::default());
    let mut run = DeltaRun {
        delivered: String::new(),
        reasoning: String::new(),
        events: Vec::new(),
        chunk_count: 0,
    };
    let take = |out: &hf_inference_wasm::decode::Output, run: &mut DeltaRun| {
        run.delivered.push_str(&out.text);
        run.reasoning.push_str(&out.reasoning);
        run.events.extend(out.events.iter().cloned());
    };
    for piece in pieces {
        take(d.feed(piece), &mut run);
    }
    take(d.end(), &mut run);
    assert!(d.is_done());
    run.chunk_count = d.chunk_count();
    run
}

/// What the `Deltas` decoder must deliver for a run of the answer-keeping one: the same,
/// but for the events only the answer makes (`ToolCall`, `Usage`).
pub fn as_deltas(run: &NewRun) -> DeltaRun {
    DeltaRun {
        delivered: run.seen.delivered.clone(),
        reasoning: run.reasoning.clone(),
        events: run
            .events
            .iter()
            .filter(|e| !matches!(e, StreamEvent::ToolCall { .. } | StreamEvent::Usage(_)))
            .cloned()
            .collect(),
        chunk_count: run.seen.chunk_count,
    }
}

/// Options that keep chunks as changes of the one before where they are.
pub fn patching() -> DecodeOptions {
    DecodeOptions {
        keep_chunks: true,
        patch_chunks: true,
        ..DecodeOptions::default()
    }
}

/// The chunk objects a consumer of whole chunks makes (`JSON.parse` of each).
pub fn values_of(chunks: &[String]) -> Vec<Option<serde_json::Value>> {
    chunks
        .iter()
        .map(|c| serde_json::from_str(c).ok())
        .collect()
}

/// Options that keep chunks (so the oracle's chunk data can be compared).
pub fn keeping() -> DecodeOptions {
    DecodeOptions {
        keep_chunks: true,
        ..DecodeOptions::default()
    }
}

/// `body` cut at `cuts` (sorted offsets).
pub fn pieces<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts.iter().chain(std::iter::once(&body.len())) {
        let c = c.clamp(start, body.len());
        out.push(&body[start..c]);
        start = c;
    }
    out
}

/// The new decoder must give `want` for `body` whole, at every split point in two, and
/// fed one byte at a time.
#[track_caller]
pub fn agrees_at_every_split(protocol: Protocol, body: &[u8], want: &Seen, label: &str) {
    let whole = new(protocol, [body], keeping());
    assert_eq!(&whole.seen, want, "{label}: whole");
    for at in 0..=body.len() {
        let run = new(protocol, pieces(body, &[at]), keeping());
        assert_eq!(&run.seen, want, "{label}: split at {at}");
    }
    let bytes = new(protocol, body.chunks(1), keeping());
    assert_eq!(&bytes.seen, want, "{label}: byte by byte");
}
