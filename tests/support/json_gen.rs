//! Generated JSON for the scanner and decoder property tests: a small tree that may hold
//! duplicate keys (which `serde_json::Value` cannot), chat chunks and TGI events built
//! from it, and a renderer that escapes keys and strings and spaces tokens at random.
//! Shared by the property tests (included with `#[path]`).
#![allow(dead_code)] // each includer uses what it needs

use proptest::prelude::*;

/// A JSON value as written: numbers as their text, objects as key lists (duplicates
/// allowed, in order).
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// Numbers per the JSON grammar, from small integers to long mantissas and exponents.
pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..2000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => "-?(0|[1-9][0-9]{0,22})(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?",
    ]
}

/// Text with escapes' worth of characters: quotes, backslashes, controls, non-ASCII,
/// astral-plane characters (surrogate pairs when escaped).
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z ]{0,12}",
        2 => "[\"\\\\/\u{0}-\u{1f}a\u{7f}é\u{2028}\u{fffd}😀𝄞]{0,10}",
        1 => any::<String>(),
    ]
}

pub fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        text().prop_map(J::Str),
    ]
}

/// Any value, nested a few levels.
pub fn value() -> impl Strategy<Value = J> {
    scalar().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..4).prop_map(J::Obj),
        ]
    })
}

/// A field: `key` with a value of the expected kind most of the time.
fn field(key: &'static str, good: BoxedStrategy<J>) -> BoxedStrategy<(String, J)> {
    prop_oneof![8 => good, 1 => value()]
        .prop_map(move |v| (key.to_owned(), v))
        .boxed()
}

fn opt_string() -> BoxedStrategy<J> {
    prop_oneof![4 => text().prop_map(J::Str), 1 => Just(J::Null)].boxed()
}

fn count() -> BoxedStrategy<J> {
    prop_oneof![
        6 => (0u64..5).prop_map(|n| J::Num(n.to_string())),
        1 => number().prop_map(J::Num),
        1 => "[0-9]{1,3}(\\.[0-9])?".prop_map(J::Str),
        1 => Just(J::Null),
    ]
    .boxed()
}

/// An object of some of `fields` (in random order, sometimes twice) and unknown keys.
fn object(fields: Vec<BoxedStrategy<(String, J)>>) -> BoxedStrategy<J> {
    let n = fields.len();
    (
        fields,
        prop::collection::vec(any::<bool>(), n),
        prop::collection::vec(("[a-z_]{1,8}", value()), 0..3),
        prop::collection::vec(any::<prop::sample::Index>(), 0..2),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(fields, keep, unknown, dups, shuffle)| {
            let mut out: Vec<(String, J)> = fields
                .into_iter()
                .zip(keep)
                .filter_map(|(f, k)| k.then_some(f))
                .collect();
            out.extend(unknown);
            for d in dups {
                if !out.is_empty() {
                    let f = out[d.index(out.len())].clone();
                    out.push(f);
                }
            }
            if !out.is_empty() {
                let at = shuffle.index(out.len());
                out.rotate_left(at);
            }
            J::Obj(out)
        })
        .boxed()
}

fn tool_call() -> BoxedStrategy<J> {
    let function = object(vec![
        field("name", opt_string()),
        field(
            "arguments",
            prop_oneof![4 => text().prop_map(J::Str), 1 => value()].boxed(),
        ),
    ]);
    object(vec![
        field("index", count()),
        field("id", opt_string()),
        field("type", opt_string()),
        field("function", function),
    ])
}

fn delta() -> BoxedStrategy<J> {
    let content = prop_oneof![
        6 => text().prop_map(J::Str),
        1 => Just(J::Null),
        1 => prop::collection::vec(
            prop_oneof![
                text().prop_map(J::Str),
                text().prop_map(|t| J::Obj(vec![("type".into(), J::Str("text".into())), ("text".into(), J::Str(t))])),
            ],
            0..3
        )
        .prop_map(J::Arr),
    ]
    .boxed();
    object(vec![
        field("role", opt_string()),
        field("content", content.clone()),
        field("reasoning_content", content),
        field("reasoning", opt_string()),
        field(
            "tool_calls",
            prop_oneof![
                4 => prop::collection::vec(tool_call(), 0..3).prop_map(J::Arr),
                1 => Just(J::Null),
            ]
            .boxed(),
        ),
    ])
}

fn choice() -> BoxedStrategy<J> {
    let logprobs = prop_oneof![
        Just(J::Null),
        prop::collection::vec(value(), 0..3)
            .prop_map(|items| J::Obj(vec![("content".into(), J::Arr(items))])),
    ]
    .boxed();
    object(vec![
        field("index", count()),
        field("delta", delta()),
        field(
            "finish_reason",
            prop_oneof![3 => Just(J::Null), 1 => "stop|length|tool_calls".prop_map(J::Str)].boxed(),
        ),
        field("logprobs", logprobs),
        field("text", opt_string()),
    ])
}

fn usage() -> BoxedStrategy<J> {
    prop_oneof![
        Just(J::Null),
        object(vec![
            field("prompt_tokens", count()),
            field("completion_tokens", count()),
            field("total_tokens", count()),
            field("prompt_tokens_details", value().boxed()),
            field("completion_tokens_details", value().boxed()),
        ]),
    ]
    .boxed()
}

/// A `chat.completion.chunk`, mostly well-formed, with unknown fields and duplicates.
pub fn chat_chunk() -> BoxedStrategy<J> {
    object(vec![
        field("id", opt_string()),
        field(
            "object",
            Just(J::Str("chat.completion.chunk".into())).boxed(),
        ),
        field("created", count()),
        field("model", opt_string()),
        field("system_fingerprint", opt_string()),
        field(
            "choices",
            prop::collection::vec(choice(), 0..3)
                .prop_map(J::Arr)
                .boxed(),
        ),
        field("usage", usage()),
        field(
            "error",
            prop_oneof![8 => Just(J::Null), 1 => value()].boxed(),
        ),
        field("provider", opt_string()),
    ])
}

/// A TGI `/generate_stream` event.
pub fn tgi_event() -> BoxedStrategy<J> {
    let token = object(vec![
        field("id", count()),
        field("text", text().prop_map(J::Str).boxed()),
        field("logprob", number().prop_map(J::Num).boxed()),
        field("special", any::<bool>().prop_map(J::Bool).boxed()),
    ]);
    let details = prop_oneof![
        2 => Just(J::Null),
        1 => object(vec![
            field("finish_reason", opt_string()),
            field("generated_tokens", count()),
            field("seed", count()),
            field("input_length", count()),
        ]),
    ]
    .boxed();
    object(vec![
        field("index", count()),
        field("token", token),
        field(
            "generated_text",
            prop_oneof![4 => Just(J::Null), 1 => text().prop_map(J::Str)].boxed(),
        ),
        field("details", details),
        field("error_type", opt_string()),
    ])
}

/// How to write a tree: a seed for the choices (whitespace, escapes) made per token.
pub struct Style(u64);

impl Style {
    pub fn new(seed: u64) -> Self {
        Style(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 16
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }
    fn ws(&mut self, out: &mut String) {
        if self.one_in(4) {
            for _ in 0..(self.next() % 3) {
                out.push([' ', '\n', '\r', '\t'][(self.next() % 4) as usize]);
            }
        }
    }
    fn string(&mut self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            let must = c == '"' || c == '\\' || (c as u32) < 0x20;
            if must || self.one_in(6) {
                match (c, self.next() % 3) {
                    ('"', 0) => out.push_str("\\\""),
                    ('\\', 0) => out.push_str("\\\\"),
                    ('/', _) => out.push_str("\\/"),
                    ('\n', 0) => out.push_str("\\n"),
                    ('\t', 0) => out.push_str("\\t"),
                    _ => {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            if self.one_in(2) {
                                out.push_str(&format!("\\u{u:04x}"));
                            } else {
                                out.push_str(&format!("\\u{u:04X}"));
                            }
                        }
                    }
                }
            } else {
                out.push(c);
            }
        }
        out.push('"');
    }
    /// `j` as JSON text.
    pub fn write(&mut self, j: &J, out: &mut String) {
        self.ws(out);
        match j {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => self.string(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write(item, out);
                }
                self.ws(out);
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    self.string(k, out);
                    self.ws(out);
                    out.push(':');
                    self.write(v, out);
                }
                self.ws(out);
                out.push('}');
            }
        }
        self.ws(out);
    }
}

/// `j` written in the style `seed` picks.
pub fn render(j: &J, seed: u64) -> String {
    let mut out = String::new();
    Style::new(seed).write(j, &mut out);
    out
}

/// `j` written without whitespace or optional escapes (SSE-safe: no raw newline).
pub fn compact(j: &J) -> String {
    serde_json::to_string(&to_value(j)).unwrap_or_default()
}

/// The `serde_json::Value` of `j` (duplicates: the last wins).
pub fn to_value(j: &J) -> serde_json::Value {
    serde_json::from_str(&render(j, 0)).unwrap_or(serde_json::Value::Null)
}

/// Bytes that matter to a JSON reader, for mutations.
pub const INTERESTING: &[u8] =
    b"{}[]\",:\\/u0123456789eE.-+ \t\n\rtfnrlasx\x00\x1f\x7f\x80\xbf\xc3\xed\xf0\xff";

/// `text` with a few bytes deleted, inserted or replaced.
pub fn mutate(text: &[u8], edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut out = text.to_vec();
    for (at, op, b) in edits {
        let b = INTERESTING[*b as usize % INTERESTING.len()];
        let i = at.index(out.len() + 1);
        match op % 3 {
            0 if i < out.len() => {
                out.remove(i);
            }
            1 => out.insert(i, b),
            _ if i < out.len() => out[i] = b,
            _ => out.push(b),
        }
    }
    out
}
