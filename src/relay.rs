//! Re-encoding a chat stream as Server-Sent Events, for a server that relays a stream
//! to a browser.
//!
//! Owns: the bytes of a relayed `data:` event, the closing `[DONE]`, and the error event
//! a relay sends when the upstream failed mid-stream. Must never: re-serialize a chunk
//! (the upstream JSON text is passed through unchanged, so no field or digit is lost).

use crate::error::Error;

/// `data: {data}\n\n`, with one `data:` line per line of `data` (per the SSE format, a
/// line break inside one field would end it).
pub fn encode_data(data: &str, out: &mut String) {
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
}

/// The closing event of an OpenAI-compatible stream.
pub const DONE: &str = "data: [DONE]\n\n";

/// An `event: error` carrying an OpenAI-shaped error object, for a stream that failed
/// after it started (the status line was already sent).
pub fn encode_error(e: &Error) -> String {
    let mut err = serde_json::Map::new();
    err.insert("message".into(), e.message.clone().into());
    err.insert("type".into(), e.kind.as_str().into());
    if let Some(code) = &e.code {
        err.insert("code".into(), code.clone().into());
    }
    if let Some(status) = e.status {
        err.insert("status".into(), status.into());
    }
    let mut root = serde_json::Map::new();
    root.insert("error".into(), serde_json::Value::Object(err));
    let mut out = String::from("event: error\n");
    // `to_string` rather than `Value`'s `Display`: the one JSON writer the crate
    // already compiles in (Display brings a second one, and the pretty printer).
    let json = serde_json::to_string(&serde_json::Value::Object(root)).unwrap_or_default();
    encode_data(&json, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{Decoder, Item};

    fn decode(s: &str) -> Vec<Item> {
        let mut d = Decoder::new();
        let mut items = Vec::new();
        d.feed(s.as_bytes(), &mut items).unwrap_or_default();
        items
    }

    #[test]
    fn data_round_trips_through_the_decoder() {
        let mut out = String::new();
        encode_data(r#"{"a":1}"#, &mut out);
        encode_data("two\nlines", &mut out);
        let items = decode(&out);
        let data: Vec<String> = items
            .into_iter()
            .filter_map(|i| match i {
                Item::Event(e) => Some(e.data),
                _ => None,
            })
            .collect();
        assert_eq!(data, vec![r#"{"a":1}"#.to_owned(), "two\nlines".to_owned()]);
    }

    #[test]
    fn error_event_decodes_to_an_error_payload() {
        let mut e = Error::new(crate::ErrorKind::Stream, "upstream overloaded");
        e.code = Some("overloaded".into());
        let items = decode(&encode_error(&e));
        let Some(Item::Event(ev)) = items.first() else {
            panic!("no event in {items:?}")
        };
        assert_eq!(ev.event, "error");
        let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
        assert_eq!(v["error"]["message"], "upstream overloaded");
        assert_eq!(v["error"]["code"], "overloaded");
    }
}
