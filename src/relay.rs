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
    for line in crate::error::split(data, b'\n') {
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
    let mut err = crate::json::Map::new();
    err.insert("message".into(), e.message.clone().into());
    err.insert("type".into(), e.kind.as_str().into());
    if let Some(code) = &e.code {
        err.insert("code".into(), code.clone().into());
    }
    if let Some(status) = e.status {
        err.insert("status".into(), status.into());
    }
    let mut root = crate::json::Map::new();
    root.insert("error".into(), crate::json::Value::Object(err));
    let mut out = String::from("event: error\n");
    let json = crate::json::Value::Object(root).to_text();
    encode_data(&json, &mut out);
    out
}

/// A complete chat completion (JSON text, as a cache stores it) replayed as a chat
/// stream: per choice, one chunk with the role and the whole message as its delta (tool
/// calls keep their index), then one with its finish reason; then the usage, if any,
/// on a chunk with no choices; then `[DONE]`. `None` if the text is not a completion.
pub fn completion_as_stream(completion: &str) -> Option<String> {
    // No `json!`, `from_str` or `Value::to_string` here: each compiles a second copy of
    // something the crate already has (see `crate::json`).
    use crate::json::{object, parse, to_text};
    use crate::json::{Map, Value};
    let c: Value = parse(completion).ok()?;
    let choices = c.get("choices")?.as_array()?;
    let field = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    let head = |choices: Value| {
        let mut chunk = object(vec![
            ("id", field("id")),
            ("object", "chat.completion.chunk".into()),
            ("created", field("created")),
            ("model", field("model")),
            ("choices", choices),
        ]);
        if let Some(fp) = c.get("system_fingerprint") {
            chunk["system_fingerprint"] = fp.clone();
        }
        chunk
    };
    let choice_delta = |index: Value, delta: Value, reason: Value| {
        Value::Array(vec![object(vec![
            ("index", index),
            ("delta", delta),
            ("logprobs", Value::Null),
            ("finish_reason", reason),
        ])])
    };
    let mut out = String::new();
    for (i, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .cloned()
            .unwrap_or_else(|| Value::from(i));
        let mut delta = choice
            .get("message")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for (k, call) in calls.iter_mut().enumerate() {
                if call.get("index").is_none() {
                    call["index"] = Value::from(k);
                }
            }
        }
        let chunk = head(choice_delta(index, delta, Value::Null));
        encode_data(&to_text(&chunk), &mut out);
    }
    for (i, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .cloned()
            .unwrap_or_else(|| Value::from(i));
        let reason = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        let chunk = head(choice_delta(index, Value::Object(Map::new()), reason));
        encode_data(&to_text(&chunk), &mut out);
    }
    if let Some(usage) = c.get("usage").filter(|u| u.is_object()) {
        let mut chunk = head(Value::Array(Vec::new()));
        chunk["usage"] = usage.clone();
        encode_data(&to_text(&chunk), &mut out);
    }
    out.push_str(DONE);
    Some(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_cached_completion_replays_as_the_same_completion() {
        use crate::stream::{ChatStreamState, Step};
        let completion = r#"{"id":"c1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
        let sse = completion_as_stream(completion).unwrap_or_default();
        let mut events = Vec::new();
        let mut d = crate::sse::Decoder::new();
        let _ = d.feed(sse.as_bytes(), &mut events);
        let mut state = ChatStreamState::new();
        let mut done = false;
        for item in events {
            if let crate::sse::Item::Event(ev) = item {
                if state.on_event(&ev).unwrap_or(Step::Skip) == Step::Done {
                    done = true;
                }
            }
        }
        assert!(done);
        let f = state.finish(None).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!f.truncated);
        let c = &f.completion;
        assert_eq!(c.choices[0].message.content.as_deref(), Some("Hello there"));
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            c.choices[0].message.tool_calls.as_ref().map(|t| t.len()),
            Some(1)
        );
        assert_eq!(f.usage.and_then(|u| u.total_tokens), Some(7));
        assert!(completion_as_stream("not json").is_none());
    }
    use super::*;
    use crate::sse::{Decoder, Item};

    /// The replay as it was written with `json!` and `Value::to_string`: the oracle for
    /// the one that compiles less.
    fn old_completion_as_stream(completion: &str) -> Option<String> {
        use serde_json::{json, Value};
        let c: Value = serde_json::from_str(completion).ok()?;
        let choices = c.get("choices")?.as_array()?;
        let head = |choices: Value| {
            let mut chunk = json!({
                "id": c.get("id").cloned().unwrap_or(Value::Null),
                "object": "chat.completion.chunk",
                "created": c.get("created").cloned().unwrap_or(Value::Null),
                "model": c.get("model").cloned().unwrap_or(Value::Null),
                "choices": choices,
            });
            if let Some(fp) = c.get("system_fingerprint") {
                chunk["system_fingerprint"] = fp.clone();
            }
            chunk
        };
        let mut out = String::new();
        for (i, choice) in choices.iter().enumerate() {
            let index = choice.get("index").cloned().unwrap_or_else(|| json!(i));
            let mut delta = choice.get("message").cloned().unwrap_or_else(|| json!({}));
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (k, call) in calls.iter_mut().enumerate() {
                    if call.get("index").is_none() {
                        call["index"] = json!(k);
                    }
                }
            }
            let chunk = head(
                json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]),
            );
            encode_data(&chunk.to_string(), &mut out);
        }
        for (i, choice) in choices.iter().enumerate() {
            let index = choice.get("index").cloned().unwrap_or_else(|| json!(i));
            let reason = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
            let chunk = head(
                json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": reason}]),
            );
            encode_data(&chunk.to_string(), &mut out);
        }
        if let Some(usage) = c.get("usage").filter(|u| u.is_object()) {
            let mut chunk = head(json!([]));
            chunk["usage"] = usage.clone();
            encode_data(&chunk.to_string(), &mut out);
        }
        out.push_str(DONE);
        Some(out)
    }

    #[test]
    fn the_replay_is_byte_for_byte_what_it_was() {
        for c in [
            r#"{"id":"c1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
            r#"{"choices":[{"message":{"content":"a\nb \u00e9","tool_calls":[{"index":4},{"id":"x"},null]}},{"index":7,"finish_reason":"stop","extra":1.50}],"system_fingerprint":"fp","created":1.5e9,"usage":{"z":1,"a":[1,2.0]}}"#,
            r#"{"id":null,"choices":[],"usage":5}"#,
            r#"{"choices":[{}],"model":{"nested":{"b":1,"a":2}}}"#,
            r#"{"choices":{}}"#,
            r#"[1]"#,
            "not json",
        ] {
            assert_eq!(completion_as_stream(c), old_completion_as_stream(c), "{c}");
        }
    }

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
