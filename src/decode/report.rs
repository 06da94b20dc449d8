//! The errors of the decode path, told from the one scan of the event that failed.
//!
//! Owns: the [`ErrorKind::Parse`] error for data that is not JSON (where it stopped, as
//! `crate::json::parse` says it: "unexpected character at line 1 column 5"), or not a
//! chunk (the first field, in the chunk reader's order, whose type it refuses: "`choices[0].delta.content`
//! must be text (…), found a number"), and the [`ErrorKind::Stream`] error of an error
//! payload ([`crate::error::payload_error`]), each quoting the data cut to the `MAX_`
//! bounds. Must never: build a `crate::json::Value`, use `core::fmt` (messages are
//! pushed piece by piece, numbers by [`crate::error::push_uint`]), or panic.
//!
//! The words are those of `crate::stream::parse_chunk` and `crate::tgi::parse_event`,
//! which read through `Value`; the decoder tests hold the two paths to the same errors.

use super::is_error;
use crate::error::{payload_error, push_uint, Error};
use crate::json::ParseError;
use crate::scan::{ChatScan, Kind, Reader, Span, TgiScan};
use crate::types::parse_error;

/// Why a chat chunk was refused; `scanned` is whether `data` is JSON (`s` then holds
/// its scan).
#[cold]
#[inline(never)]
pub(super) fn chat_error(data: &str, scanned: bool, s: &ChatScan, scratch: &mut String) -> Error {
    if !scanned {
        return not_json("a stream chunk is not valid JSON: ", data);
    }
    if s.root == Some(Kind::Object) && is_error(data, s.error, s.object, scratch) {
        return payload_error(data, &whole(data), data);
    }
    let mut m = "a stream chunk is not a chat completion chunk: ".to_owned();
    if !chat_shape(s, &mut m) {
        m.push_str("it could not be read");
    }
    parse_error(m, data)
}

/// Why a TGI event was refused (as [`chat_error`]).
#[cold]
#[inline(never)]
pub(super) fn tgi_error(data: &str, scanned: bool, s: &TgiScan, scratch: &mut String) -> Error {
    if !scanned {
        return not_json("a TGI stream event is not valid JSON: ", data);
    }
    if s.root != Some(Kind::Object) {
        return parse_error("a TGI stream event is not a JSON object".to_owned(), data);
    }
    if is_error(data, s.error, s.object, scratch) {
        return payload_error(data, &whole(data), data);
    }
    if s.token.is_none() && s.generated_text.is_none() {
        return parse_error(
            "a stream event has neither `token` nor `generated_text`: is the URL TGI's /generate_stream?"
                .to_owned(),
            data,
        );
    }
    let mut m = "a TGI stream event has an unexpected shape: ".to_owned();
    const OBJ: &[Kind] = &[Kind::Object, Kind::Null];
    let _ = bad(&mut m, "details", s.details, OBJ, "an object")
        || bad(&mut m, "token", s.token, OBJ, "an object")
        || {
            m.push_str("it could not be read");
            true
        };
    parse_error(m, data)
}

/// The root object that a trimmed `data` is, whole.
fn whole(data: &str) -> Span {
    Span {
        kind: Kind::Object,
        start: 0,
        end: data.len(),
        escaped: false,
    }
}

/// `prefix` and where `data` stopped being JSON.
fn not_json(prefix: &str, data: &str) -> Error {
    let mut r = Reader::new(data);
    let at = match r.value().and_then(|_| r.end()) {
        Ok(()) => data.len(),
        Err(_) => r.pos(),
    };
    let mut m = prefix.to_owned();
    ParseError::new(data, at).push_message(&mut m);
    parse_error(m, data)
}

/// What the chunk reader calls a value of `kind`.
fn kind_name(kind: Option<Kind>) -> &'static str {
    match kind {
        Some(Kind::Null) | None => "null",
        Some(Kind::True | Kind::False) => "a boolean",
        Some(Kind::Number) => "a number",
        Some(Kind::String) => "a string",
        Some(Kind::Array) => "an array",
        Some(Kind::Object) => "an object",
    }
}

/// When the field at `path` is there and is none of `kinds`, push "`path` must be
/// `what`, found …" (the root's: "expected …") and answer true.
#[inline(never)]
fn bad(m: &mut String, path: &str, v: Option<Span>, kinds: &[Kind], what: &str) -> bool {
    let Some(v) = v.filter(|v| !kinds.contains(&v.kind)) else {
        return false;
    };
    if path.is_empty() {
        m.push_str("expected ");
    } else {
        m.push('`');
        m.push_str(path);
        m.push_str("` must be ");
    }
    m.push_str(what);
    m.push_str(", found ");
    m.push_str(kind_name(Some(v.kind)));
    true
}

const STR: &[Kind] = &[Kind::String, Kind::Null];
const TEXT: &[Kind] = &[Kind::String, Kind::Null, Kind::Array];
const OBJ: &[Kind] = &[Kind::Object, Kind::Null];
const A_STRING: &str = "a string";
const AN_OBJECT: &str = "an object";
const A_TEXT: &str = "text (a string, null or an array of content parts)";

/// The first field of `s` whose type the chunk reader (`crate::types::ChatChunk`)
/// refuses, in the order it reads them, as its shape error words it; false when there
/// is none.
fn chat_shape(s: &ChatScan, m: &mut String) -> bool {
    if s.root != Some(Kind::Object) {
        m.push_str("expected an object, found ");
        m.push_str(kind_name(s.root));
        return true;
    }
    if bad(m, "id", s.id, STR, A_STRING)
        || bad(m, "object", s.object, STR, A_STRING)
        || bad(m, "model", s.model, STR, A_STRING)
        || bad(m, "system_fingerprint", s.system_fingerprint, STR, A_STRING)
        || bad(m, "choices", s.choices, &[Kind::Array], "an array")
    {
        return true;
    }
    let mut p = String::new();
    for (i, c) in s.choice_list.iter().enumerate() {
        p.clear();
        p.push_str("choices");
        index(&mut p, i);
        let choice = p.len();
        if bad(m, &p, c.item, &[Kind::Object], AN_OBJECT) {
            return true;
        }
        p.push_str(".delta");
        let delta = p.len();
        if bad(m, &p, c.delta, &[Kind::Object], AN_OBJECT)
            || field(m, &mut p, delta, ".role", c.role, STR, A_STRING)
            || field(m, &mut p, delta, ".content", c.content, TEXT, A_TEXT)
            || field(
                m,
                &mut p,
                delta,
                ".reasoning_content",
                c.reasoning_content,
                TEXT,
                A_TEXT,
            )
            || field(
                m,
                &mut p,
                delta,
                ".tool_calls",
                c.tool_calls,
                &[Kind::Array, Kind::Null],
                "an array",
            )
        {
            return true;
        }
        for (j, t) in s
            .tools
            .get(c.tools.clone())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            p.truncate(delta);
            p.push_str(".tool_calls");
            index(&mut p, j);
            let tool = p.len();
            if bad(m, &p, t.item, &[Kind::Object], AN_OBJECT)
                || field(m, &mut p, tool, ".id", t.id, STR, A_STRING)
                || field(m, &mut p, tool, ".type", t.kind, STR, A_STRING)
                || field(m, &mut p, tool, ".function", t.function, OBJ, AN_OBJECT)
                || field(m, &mut p, tool, ".function.name", t.name, STR, A_STRING)
            {
                return true;
            }
        }
        if field(
            m,
            &mut p,
            choice,
            ".finish_reason",
            c.finish_reason,
            STR,
            A_STRING,
        ) {
            return true;
        }
    }
    bad(m, "usage", s.usage, OBJ, AN_OBJECT)
}

/// [`bad`] for the field `name` under the path `p` cut back to `at`.
#[inline(never)]
fn field(
    m: &mut String,
    p: &mut String,
    at: usize,
    name: &str,
    v: Option<Span>,
    kinds: &[Kind],
    what: &str,
) -> bool {
    p.truncate(at);
    p.push_str(name);
    bad(m, p, v, kinds, what)
}

/// `[i]`.
fn index(p: &mut String, i: usize) {
    p.push('[');
    push_uint(p, i as u64);
    p.push(']');
}
