//! What the relay learns from one streamed chunk, read without building the chunk.
//!
//! Owns: [`ChunkFacts`], read from an event's `data` in one pass of [`crate::scan::Reader`]
//! that keeps only what [`super::StreamRelay`] uses (the `usage` value, whether `choices`
//! is an array and how long, and the UTF-8 bytes of the text its choices carry) and walks
//! past everything else without allocating. Must never: accept or reject a text other
//! than `json::parse` does (the same reader validates every value it walks past:
//! numbers, escapes, surrogates and depth), or read a field otherwise than `Value::get`
//! would: a
//! repeated key counts once, its last occurrence (as in `serde_json`'s map), and a field
//! of an unexpected type counts as absent or as no text.
//!
//! Why: parsing every chunk into a `Value` (a map per object, a `String` per key and
//! string) was most of the relay's time per chunk on the proxy's hot path.

use crate::json::{read_value, Value};
use crate::scan::{decode_str, Invalid, Kind, Reader};

type Res<T> = Result<T, Invalid>;

/// The parts of a chunk the relay reads.
#[derive(Debug, Default)]
pub(super) struct ChunkFacts {
    /// The root's `usage` value, when the root is an object that has one.
    pub usage: Option<Value>,
    /// `choices`, when the root is an object whose `choices` is an array.
    pub choices: Option<Choices>,
}

/// An array of choices.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Choices {
    pub len: usize,
    /// UTF-8 bytes of text in the choices' `delta` (or, without one, `message`):
    /// `content`, `reasoning_content`, `reasoning`, and each tool call's
    /// `function.arguments` and `function.name`, strings only.
    pub text: u64,
}

/// What a value is read as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Walked past.
    Skip,
    /// A string's UTF-8 bytes.
    StrLen,
    /// `function`: `arguments` and `name`.
    Function,
    /// One tool call: its `function`.
    ToolCall,
    /// `tool_calls`: each tool call.
    ToolCalls,
    /// `delta` or `message`: the text fields and `tool_calls`.
    Message,
    /// One choice: its `delta`, else its `message`.
    Choice,
    /// `choices`: each choice.
    Choices,
    /// The chunk: `usage` and `choices`.
    Root,
}

/// What reading one value gave.
#[derive(Default)]
struct Out {
    /// Text bytes.
    text: u64,
    /// `choices` was an array of this many items.
    array: Option<usize>,
    /// The root's `usage`.
    usage: Option<Value>,
}

/// The field names each mode reads, in the order of its slots.
fn names(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Function => &["arguments", "name"],
        Mode::ToolCall => &["function"],
        Mode::Message => &["content", "reasoning_content", "reasoning", "tool_calls"],
        Mode::Choice => &["delta", "message"],
        Mode::Root => &["usage", "choices"],
        _ => &[],
    }
}

/// How field `i` of `mode` is read.
fn field_mode(mode: Mode, i: usize) -> Mode {
    match (mode, i) {
        (Mode::Function, _) => Mode::StrLen,
        (Mode::ToolCall, _) => Mode::Function,
        (Mode::Message, 3) => Mode::ToolCalls,
        (Mode::Message, _) => Mode::StrLen,
        (Mode::Choice, _) => Mode::Message,
        (Mode::Root, 1) => Mode::Choices,
        _ => Mode::Skip,
    }
}

/// Reads the next value of `r` as `mode` says. The depth is the reader's (127 levels at
/// most), so the recursion is bounded.
fn walk(r: &mut Reader<'_>, src: &str, mode: Mode, scratch: &mut String) -> Res<Out> {
    match r.peek()? {
        Kind::Array if matches!(mode, Mode::Choices | Mode::ToolCalls) => {
            let item = if mode == Mode::Choices {
                Mode::Choice
            } else {
                Mode::ToolCall
            };
            r.enter(Kind::Array)?;
            let mut out = Out::default();
            let mut len = 0;
            let mut first = true;
            while r.next_item(&mut first)? {
                len += 1;
                let o = walk(r, src, item, scratch)?;
                out.text = out.text.saturating_add(o.text);
            }
            if mode == Mode::Choices {
                out.array = Some(len);
            }
            Ok(out)
        }
        Kind::Object if !names(mode).is_empty() => walk_object(r, src, mode, scratch),
        Kind::String if mode == Mode::StrLen => {
            let span = r.string()?;
            let text = match span.plain(src) {
                Some(plain) => plain.len(),
                None => {
                    scratch.clear();
                    decode_str(src, &span, scratch);
                    scratch.len()
                }
            };
            Ok(Out {
                text: text as u64,
                ..Out::default()
            })
        }
        // Anything else is walked past (validated, nothing kept).
        _ => {
            r.value()?;
            Ok(Out::default())
        }
    }
}

fn walk_object(r: &mut Reader<'_>, src: &str, mode: Mode, scratch: &mut String) -> Res<Out> {
    let wanted = names(mode);
    r.enter(Kind::Object)?;
    // One slot per wanted field: its last occurrence counts, as in a `Value`'s map.
    let mut slots: [Option<Out>; 4] = Default::default();
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let k = wanted.iter().position(|n| key.is(src, n, scratch));
        match k {
            Some(0) if mode == Mode::Root => {
                let usage = read_value(r, src)?;
                slots[0] = Some(Out {
                    usage: Some(usage),
                    ..Out::default()
                });
            }
            Some(i) => {
                let o = walk(r, src, field_mode(mode, i), scratch)?;
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(o);
                }
            }
            None => {
                r.value()?;
            }
        }
    }
    let mut out = Out::default();
    match mode {
        // A choice's `delta` when it has the key (whatever its value), else `message`.
        Mode::Choice => {
            let [delta, message, ..] = &mut slots;
            out.text = delta.take().or(message.take()).map_or(0, |o| o.text);
        }
        Mode::Root => {
            let [usage, choices, ..] = &mut slots;
            out.usage = usage.take().and_then(|o| o.usage);
            // `choices`' text counts only when it is an array.
            if let Some(c) = choices.take().filter(|c| c.array.is_some()) {
                out.array = c.array;
                out.text = c.text;
            }
        }
        _ => out.text = slots_text(&slots),
    }
    Ok(out)
}

fn slots_text(slots: &[Option<Out>]) -> u64 {
    slots
        .iter()
        .flatten()
        .fold(0u64, |a, o| a.saturating_add(o.text))
}

/// The facts of one chunk's `data`, or `None` when it is not JSON (as `json::parse`
/// would say).
pub(super) fn read(data: &[u8]) -> Option<ChunkFacts> {
    let src = std::str::from_utf8(data).ok()?;
    let mut r = Reader::new(src);
    let mut scratch = String::new();
    let out = walk(&mut r, src, Mode::Root, &mut scratch).ok()?;
    r.end().ok()?;
    Some(ChunkFacts {
        usage: out.usage,
        choices: out.array.map(|len| Choices {
            len,
            text: out.text,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage value, and the choices' count and text bytes.
    type Read = (Option<Value>, Option<(usize, u64)>);

    /// What `StreamRelay` computed from a `Value` before, for comparison.
    fn from_value(data: &[u8]) -> Option<Read> {
        let v: Value = serde_json::from_slice(data).ok()?;
        let usage = v.get("usage").cloned();
        // The old path's own count, the one the relay still uses for whole messages.
        let text = crate::proxy::relay::text_bytes;
        let choices = match v.get("choices") {
            Some(Value::Array(cs)) => Some((
                cs.len(),
                cs.iter()
                    .filter_map(|c| c.get("delta").or_else(|| c.get("message")))
                    .map(text)
                    .fold(0u64, |a, b| a.saturating_add(b)),
            )),
            _ => None,
        };
        Some((usage, choices))
    }

    fn same(data: &str) {
        let want = from_value(data.as_bytes());
        let got = read(data.as_bytes()).map(|f| (f.usage, f.choices.map(|c| (c.len, c.text))));
        assert_eq!(got, want, "{data}");
    }

    #[test]
    fn reads_what_a_value_would_say() {
        for data in [
            r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
            r#"{"choices":[{"delta":{"content":"a\"b\u00e9","reasoning_content":"rc","reasoning":"r"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"x\":1}"}},{"function":null},7]}}]}"#,
            r#"{"choices":[{"message":{"content":"hi"}},{"delta":null,"message":{"content":"ignored"}},"x",{"delta":{"content":5}}]}"#,
            r#"{"choices":{"delta":{"content":"not an array"}}}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"bcd"}}],"choices":[{"delta":{"content":"last"}}]}"#,
            r#"{"usage":{"total_tokens":1},"usage":null}"#,
            r#"[{"choices":[]}]"#,
            r#""a string""#,
            "12",
            "null",
            r#"{"\u0063hoices":[{"delta":{"\u0063ontent":"escaped keys"}}]}"#,
            r#"{"choices":[{"delta":{"content":"x"}}],"deep":[[[[{"a":[1,2,{"b":true}]}]]]]}"#,
        ] {
            same(data);
        }
    }

    /// JSON text built from pairs (so keys may repeat), with the relay's field names
    /// likely at every level.
    #[cfg(not(target_arch = "wasm32"))]
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("choices"),
            Just("delta"),
            Just("message"),
            Just("content"),
            Just("reasoning"),
            Just("reasoning_content"),
            Just("tool_calls"),
            Just("function"),
            Just("arguments"),
            Just("name"),
            Just("usage"),
            Just("total_tokens"),
            Just("other"),
        ];
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i32>().prop_map(|n| n.to_string()),
            Just("1.5e3".to_owned()),
            "[a-z\u{e9}\u{1F600} ]{0,6}".prop_map(|s| format!("{s:?}")),
            Just(r#""esc\"aped\n""#.to_owned()),
        ];
        leaf.prop_recursive(5, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((key.clone(), inner), 0..5).prop_map(|v| {
                    let fields: Vec<String> = v.iter().map(|(k, x)| format!("{k:?}:{x}")).collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    /// Objects of `keys` (repeats allowed) whose values come from `value`.
    #[cfg(not(target_arch = "wasm32"))]
    fn object_of(
        keys: &'static [&'static str],
        value: impl proptest::strategy::Strategy<Value = String> + Clone,
    ) -> impl proptest::strategy::Strategy<Value = String> + Clone {
        use proptest::prelude::*;
        proptest::collection::vec((proptest::sample::select(keys), value), 0..4).prop_map(|v| {
            let fields: Vec<String> = v.iter().map(|(k, x)| format!("{k:?}:{x}")).collect();
            format!("{{{}}}", fields.join(","))
        })
    }

    /// Chunk-shaped JSON: `choices` of `delta`/`message` objects with text fields and
    /// tool calls, `usage`, with other types mixed in at every level.
    #[cfg(not(target_arch = "wasm32"))]
    fn chunk_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let any = json_text().boxed();
        let text = prop_oneof![
            4 => "[a-z\u{e9} ]{0,5}".prop_map(|s| format!("{s:?}")),
            1 => any.clone()
        ]
        .boxed();
        let function = prop_oneof![
            4 => object_of(&["arguments", "name", "x"], text.clone()).boxed(),
            1 => any.clone()
        ]
        .boxed();
        let call = prop_oneof![
            4 => object_of(&["function", "index"], function).boxed(),
            1 => any.clone()
        ]
        .boxed();
        let calls = prop_oneof![
            4 => proptest::collection::vec(call, 0..3)
                .prop_map(|v| format!("[{}]", v.join(",")))
                .boxed(),
            1 => any.clone()
        ]
        .boxed();
        let msg_value = prop_oneof![text.clone(), calls].boxed();
        let message = prop_oneof![
            4 => object_of(
                &[
                    "content",
                    "reasoning",
                    "reasoning_content",
                    "tool_calls",
                    "role"
                ],
                msg_value
            )
            .boxed(),
            1 => any.clone()
        ]
        .boxed();
        let choice = prop_oneof![
            4 => object_of(&["delta", "message", "index"], message).boxed(),
            1 => any.clone()
        ]
        .boxed();
        let choices = prop_oneof![
            4 => proptest::collection::vec(choice, 0..3)
                .prop_map(|v| format!("[{}]", v.join(",")))
                .boxed(),
            1 => any.clone()
        ]
        .boxed();
        let root_value = prop_oneof![4 => choices, 1 => any.clone()].boxed();
        prop_oneof![
            4 => object_of(&["choices", "usage", "id"], root_value).boxed(),
            1 => any
        ]
        .boxed()
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn chunk_shaped_json_reads_as_a_value_would(text in chunk_text()) {
            let want = from_value(text.as_bytes());
            let got = read(text.as_bytes()).map(|f| (f.usage, f.choices.map(|c| (c.len, c.text))));
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn any_json_reads_as_a_value_would(text in json_text()) {
            let want = from_value(text.as_bytes());
            let got = read(text.as_bytes()).map(|f| (f.usage, f.choices.map(|c| (c.len, c.text))));
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn refuses_what_a_value_refuses() {
        for data in [
            "",
            "{",
            r#"{"choices":[1e400]}"#,
            r#"{"n":1e400,"choices":[]}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} trailing"#,
            &format!("{}{}", "[".repeat(200), "]".repeat(200)),
        ] {
            assert!(from_value(data.as_bytes()).is_none(), "{data}");
            assert!(read(data.as_bytes()).is_none(), "{data}");
        }
        // Within the depth limit both accept.
        same(&format!("{}{}", "[".repeat(100), "]".repeat(100)));
    }
}
