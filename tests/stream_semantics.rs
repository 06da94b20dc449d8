//! The chat stream semantics, one behaviour per test: how `[DONE]`, errors, malformed
//! data, deltas, tool calls, usage and truncation turn into steps and a final
//! completion; and how a caller's request becomes the body we send.
// Native only: reads files and uses proptest; the wasm layer is tests/wasm_fetch.rs.
#![cfg(not(target_arch = "wasm32"))]
// The replay helpers return the crate's `Error` by value, as the library does.
#![allow(clippy::result_large_err)]

use hf_inference_wasm::error::{ErrorKind, MAX_QUOTED_DATA_BYTES};
use hf_inference_wasm::sse::{Decoder, Event, Item};
use hf_inference_wasm::stream::{ChatStreamState, Finish, Step};
use hf_inference_wasm::types::{parse_completion, prepare_chat_body, ChatChunk, ChatCompletion};
use hf_inference_wasm::Error;
use serde_json::{json, Value};

#[path = "support/ours.rs"]
mod ours;
use ours::theirs;

/// What a whole body decodes to: every step, then how the stream finished (or the error
/// that stopped it).
struct Run {
    steps: Vec<Step>,
    state: ChatStreamState,
    end: Result<Finish, Error>,
}

/// Decode `body` and drive a [`ChatStreamState`] the way the shell does: stop at the
/// first error or at `[DONE]`, otherwise hand the decoder's unterminated final event to
/// `finish`.
fn run(body: &str) -> Run {
    let mut decoder = Decoder::new();
    let mut state = ChatStreamState::new();
    let mut steps = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let end = (|| {
        decoder.feed(body.as_bytes(), &mut items)?;
        for item in items.drain(..) {
            if let Item::Event(ev) = item {
                let step = state.on_event(&ev)?;
                let done = step == Step::Done;
                steps.push(step);
                if done {
                    return state.finish(None);
                }
            }
        }
        let unterminated = decoder.finish(&mut items)?;
        for item in items.drain(..) {
            if let Item::Event(ev) = item {
                steps.push(state.on_event(&ev)?);
            }
        }
        let f = state.finish(unterminated.as_ref())?;
        steps.extend(f.tail.clone());
        Ok(f)
    })();
    Run { steps, state, end }
}

/// Feed one `message` event that must be accepted.
fn feed(s: &mut ChatStreamState, data: &str) {
    let _step = s.on_event(&message(data)).unwrap();
}

fn message(data: &str) -> Event {
    Event {
        event: "message".to_owned(),
        data: data.to_owned(),
        id: String::new(),
    }
}

fn chunk(v: Value) -> String {
    format!("data: {v}\n\n")
}

fn content_chunk(index: u32, text: &str) -> String {
    chunk(
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": index, "delta": {"content": text}, "finish_reason": null}]}),
    )
}

fn stop_chunk(index: u32) -> String {
    chunk(
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]}),
    )
}

fn text_of(c: &ChatCompletion, choice: usize) -> &str {
    c.choices[choice].message.content.as_deref().unwrap_or("")
}

fn contents(steps: &[Step]) -> Vec<&str> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Chunk {
                content: Some(c), ..
            } => Some(c.as_str()),
            _ => None,
        })
        .collect()
}

// --- the end of a stream ----------------------------------------------------------

#[test]
fn done_with_space_ends_the_stream() {
    let r = run(&format!("{}data: [DONE]\n\n", content_chunk(0, "hi")));
    assert_eq!(r.steps.last(), Some(&Step::Done));
    assert!(r.state.is_done());
    let f = r.end.unwrap();
    assert!(!f.truncated);
    assert_eq!(text_of(&f.completion, 0), "hi");
}

#[test]
fn done_without_space_ends_the_stream() {
    let r = run(&format!("{}data:[DONE]\n\n", content_chunk(0, "hi")));
    assert_eq!(r.steps.last(), Some(&Step::Done));
    assert!(!r.end.unwrap().truncated);
}

#[test]
fn done_with_surrounding_whitespace_ends_the_stream() {
    let mut s = ChatStreamState::new();
    assert_eq!(s.on_event(&message("  [DONE] \t")).unwrap(), Step::Done);
    assert!(s.is_done());
}

#[test]
fn data_after_done_is_ignored() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
    );
    assert_eq!(s.on_event(&message("[DONE]")).unwrap(), Step::Done);
    assert_eq!(
        s.on_event(&message(
            r#"{"choices":[{"index":0,"delta":{"content":"b"}}]}"#
        ))
        .unwrap(),
        Step::Skip
    );
    assert_eq!(s.on_event(&message("not json at all")).unwrap(), Step::Skip);
    assert_eq!(
        s.on_event(&message(r#"{"error":"late"}"#)).unwrap(),
        Step::Skip
    );
    let f = s.finish(Some(&message("{broken"))).unwrap();
    assert_eq!(text_of(&f.completion, 0), "a");
    assert_eq!(s.chunk_count(), 1);
}

#[test]
fn finish_reason_without_done_is_not_truncated() {
    // Old TGI streams: `data:{` with no space and no `[DONE]`; the finish reason ends them.
    let body = format!(
        "{}{}",
        content_chunk(0, "hi").replace("data: ", "data:"),
        stop_chunk(0)
    );
    let f = run(&body).end.unwrap();
    assert!(!f.truncated);
    assert_eq!(f.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn stream_without_done_or_finish_reason_is_truncated_and_keeps_the_text() {
    let body = format!("{}{}", content_chunk(0, "Hello"), content_chunk(0, " wor"));
    let f = run(&body).end.unwrap();
    assert!(f.truncated);
    assert_eq!(f.finish_reason, None);
    assert_eq!(text_of(&f.completion, 0), "Hello wor");
}

#[test]
fn empty_stream_is_truncated() {
    let f = run("").end.unwrap();
    assert!(f.truncated);
    assert!(f.completion.choices.is_empty());
}

#[test]
fn unterminated_final_event_is_accepted_when_it_parses() {
    // Cerebras style: the last event has no blank line after it and there is no [DONE].
    let last = json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}});
    let body = format!("{}data: {last}", content_chunk(0, "hi"));
    let r = run(&body);
    let f = r.end.unwrap();
    assert!(!f.truncated);
    assert_eq!(f.finish_reason.as_deref(), Some("stop"));
    assert_eq!(f.usage.and_then(|u| u.total_tokens), Some(6));
    assert_eq!(text_of(&f.completion, 0), "hi!");
    assert!(
        matches!(&f.tail, Some(Step::Chunk { content: Some(c), .. }) if c == "!"),
        "the accepted final event is handed back for delivery: {:?}",
        f.tail
    );
    assert_eq!(contents(&r.steps), ["hi", "!"]);
    assert_eq!(r.state.chunk_count(), 2);
}

#[test]
fn unterminated_final_done_is_accepted() {
    let f = run(&format!("{}data: [DONE]", content_chunk(0, "hi")))
        .end
        .unwrap();
    assert!(!f.truncated);
    assert_eq!(f.tail, Some(Step::Done));
}

#[test]
fn unterminated_final_event_that_does_not_parse_is_dropped_as_truncation() {
    let body = format!(
        "{}data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"wor",
        content_chunk(0, "hi")
    );
    let f = run(&body).end.unwrap();
    assert!(f.truncated);
    assert_eq!(text_of(&f.completion, 0), "hi");
}

#[test]
fn unterminated_final_error_payload_is_still_an_error() {
    let mut s = ChatStreamState::new();
    let e = s.finish(Some(&message(r#"{"error":"boom"}"#))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
}

// --- errors -------------------------------------------------------------------------

#[test]
fn error_event_is_a_stream_error_with_message_and_code() {
    let body = format!(
        "{}event: error\ndata: {{\"error\":{{\"message\":\"overloaded\",\"type\":\"server_error\"}}}}\n\n",
        content_chunk(0, "partial")
    );
    let r = run(&body);
    assert_eq!(
        contents(&r.steps),
        ["partial"],
        "what came before the error was delivered"
    );
    let e = r.end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("overloaded"), "{}", e.message);
    assert_eq!(e.code.as_deref(), Some("server_error"));
    assert!(e.body.unwrap().contains("overloaded"));
    assert_eq!(text_of(&r.state.snapshot(), 0), "partial");
}

#[test]
fn error_event_with_plain_text_data_keeps_the_text() {
    let mut s = ChatStreamState::new();
    let ev = Event {
        event: "error".to_owned(),
        data: "upstream went away".to_owned(),
        id: String::new(),
    };
    let e = s.on_event(&ev).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("upstream went away"), "{}", e.message);
}

#[test]
fn error_json_as_a_string_is_a_stream_error() {
    let e = ChatStreamState::new()
        .on_event(&message(r#"{"error":"Model is overloaded"}"#))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("Model is overloaded"), "{}", e.message);
    assert_eq!(e.code, None);
}

#[test]
fn error_json_as_an_object_is_a_stream_error_with_code() {
    let data = r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
    let e = ChatStreamState::new().on_event(&message(data)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("Rate limit reached"), "{}", e.message);
    assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(e.body.as_deref(), Some(data));
}

#[test]
fn error_json_with_a_chunk_shape_is_still_an_error() {
    let data = r#"{"id":"x","object":"chat.completion.chunk","choices":[],"error":{"message":"cut off","code":500}}"#;
    let e = ChatStreamState::new().on_event(&message(data)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("cut off"));
    assert_eq!(e.code.as_deref(), Some("500"));
}

#[test]
fn tgi_error_type_becomes_the_code() {
    let body = "data:{\"error\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096\",\"error_type\":\"validation\"}\n\n";
    let e = run(body).end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(
        e.message.contains("Input validation error"),
        "{}",
        e.message
    );
    assert_eq!(e.code.as_deref(), Some("validation"));
}

#[test]
fn vllm_error_object_in_a_stream_is_a_stream_error() {
    let data = r#"{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}"#;
    let e = ChatStreamState::new().on_event(&message(data)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(
        e.message.contains("maximum context length"),
        "{}",
        e.message
    );
    assert_eq!(e.code.as_deref(), Some("400"));
}

#[test]
fn null_error_key_is_not_an_error() {
    let mut s = ChatStreamState::new();
    let step = s
        .on_event(&message(
            r#"{"error":null,"choices":[{"index":0,"delta":{"content":"ok"}}]}"#,
        ))
        .unwrap();
    assert!(matches!(step, Step::Chunk { content: Some(ref c), .. } if c == "ok"));
}

#[test]
fn malformed_json_is_a_parse_error_quoting_the_data() {
    let r = run(&format!(
        "{}data: {{\"choices\": [oops\n\n",
        content_chunk(0, "ok")
    ));
    let e = r.end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert!(e.message.contains("not valid JSON"), "{}", e.message);
    assert_eq!(e.body.as_deref(), Some("{\"choices\": [oops"));
    assert_eq!(contents(&r.steps), ["ok"]);
}

#[test]
fn malformed_json_quote_is_bounded() {
    let data = format!("{{\"x\": \"{}", "é".repeat(4 * MAX_QUOTED_DATA_BYTES));
    let e = ChatStreamState::new()
        .on_event(&message(&data))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    let quoted = e.body.unwrap();
    assert!(quoted.len() <= MAX_QUOTED_DATA_BYTES && !quoted.is_empty());
}

#[test]
fn json_of_the_wrong_shape_is_a_parse_error() {
    let e = ChatStreamState::new()
        .on_event(&message(r#"{"choices":"nope"}"#))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert!(
        e.message.contains("not a chat completion chunk"),
        "{}",
        e.message
    );
    let e = ChatStreamState::new().on_event(&message("42")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
}

// --- skips ------------------------------------------------------------------------

#[test]
fn empty_data_and_ping_events_are_skipped() {
    let mut s = ChatStreamState::new();
    assert_eq!(s.on_event(&message("")).unwrap(), Step::Skip);
    assert_eq!(s.on_event(&message("  \n ")).unwrap(), Step::Skip);
    let ping = Event {
        event: "ping".to_owned(),
        data: "{\"not\": \"a chunk\"}".to_owned(),
        id: String::new(),
    };
    assert_eq!(s.on_event(&ping).unwrap(), Step::Skip);
    assert_eq!(s.chunk_count(), 0);
}

#[test]
fn comments_are_not_chunks() {
    let body = format!(
        ": keep-alive\n\n{}: OPENROUTER PROCESSING\n\n{}data: [DONE]\n\n",
        content_chunk(0, "a"),
        stop_chunk(0)
    );
    let r = run(&body);
    assert_eq!(r.state.chunk_count(), 2);
    assert_eq!(text_of(&r.end.unwrap().completion, 0), "a");
}

// --- accumulation -----------------------------------------------------------------

#[test]
fn chunk_step_carries_choice_zero_content_and_the_raw_data() {
    let data = r#"{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"mine"}}],"x_extra":1}"#;
    let step = ChatStreamState::new().on_event(&message(data)).unwrap();
    assert_eq!(
        step,
        Step::Chunk {
            content: Some("mine".to_owned()),
            data: data.to_owned()
        }
    );
}

#[test]
fn empty_and_null_content_deltas_deliver_no_content() {
    let mut s = ChatStreamState::new();
    for data in [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":null}}]}"#,
        r#"{"choices":[{"index":0,"delta":{}}]}"#,
    ] {
        assert!(
            matches!(
                s.on_event(&message(data)).unwrap(),
                Step::Chunk { content: None, .. }
            ),
            "{data}"
        );
    }
    assert_eq!(s.snapshot().choices[0].message.content.as_deref(), Some(""));
}

#[test]
fn content_and_reasoning_accumulate_separately() {
    let mut s = ChatStreamState::new();
    for data in [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning_content":"think.","content":null}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Two"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}]}"#,
    ] {
        feed(&mut s, data);
    }
    let c = s.snapshot();
    let m = &c.choices[0].message;
    assert_eq!(m.reasoning_content.as_deref(), Some("Let me think."));
    assert_eq!(m.content.as_deref(), Some("Two."));
    assert_eq!(m.role, "assistant");
    assert_eq!(c.object, "chat.completion");
}

#[test]
fn reasoning_field_counts_as_reasoning_content() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"reasoning":"Hmm, ","content":null}}]}"#,
    );
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"reasoning":"two.","content":""}}]}"#,
    );
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"Two"}}]}"#,
    );
    let c = s.snapshot();
    assert_eq!(
        c.choices[0].message.reasoning_content.as_deref(),
        Some("Hmm, two.")
    );
    assert_eq!(c.choices[0].message.content.as_deref(), Some("Two"));
}

#[test]
fn tool_call_arguments_accumulate_across_chunks() {
    let mut s = ChatStreamState::new();
    for data in [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\": \"Paris\"}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
    ] {
        feed(&mut s, data);
    }
    let c = s.snapshot();
    let m = &c.choices[0].message;
    assert_eq!(m.content, None, "a tool-call-only message has null content");
    let calls = m.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_1");
    assert_eq!(calls[0].kind, "function");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, r#"{"location": "Paris"}"#);
    assert_eq!(calls[1].id, "call_2");
    assert_eq!(calls[1].function.name, "get_time");
    assert_eq!(calls[1].function.arguments, "{}");
    assert_eq!(s.finish_reason(), Some("tool_calls"));
    let out = serde_json::from_str::<Value>(&c.to_json()).unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["type"],
        "function"
    );
}

#[test]
fn tool_calls_without_index_are_matched_by_id() {
    let mut s = ChatStreamState::new();
    for data in [
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}"#,
    ] {
        feed(&mut s, data);
    }
    let c = s.snapshot();
    let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.arguments.as_str()),
        ("a", "{\"x\":1}")
    );
    assert_eq!(
        (calls[1].id.as_str(), calls[1].function.name.as_str()),
        ("b", "g")
    );
}

#[test]
fn two_choices_accumulate_independently() {
    let body = format!(
        "{}{}{}{}{}{}data: [DONE]\n\n",
        content_chunk(0, "Hel"),
        content_chunk(1, "Bon"),
        content_chunk(1, "jour"),
        content_chunk(0, "lo"),
        stop_chunk(1),
        chunk(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})),
    );
    let r = run(&body);
    assert_eq!(
        contents(&r.steps),
        ["Hel", "lo"],
        "onContent gets choice 0 only"
    );
    let f = r.end.unwrap();
    let c = &f.completion;
    assert_eq!(c.choices.len(), 2);
    assert_eq!((c.choices[0].index, text_of(c, 0)), (0, "Hello"));
    assert_eq!((c.choices[1].index, text_of(c, 1)), (1, "Bonjour"));
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(c.choices[1].finish_reason.as_deref(), Some("stop"));
    assert_eq!(f.finish_reason.as_deref(), Some("length"));
}

#[test]
fn finish_reason_is_the_last_non_null_one() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"eos_token"}]}"#,
    );
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":null}]}"#,
    );
    assert_eq!(s.finish_reason(), Some("eos_token"));
}

#[test]
fn usage_on_final_empty_choices_chunk_is_kept() {
    let body = format!(
        "{}{}{}data: [DONE]\n\n",
        content_chunk(0, "hi"),
        stop_chunk(0),
        chunk(
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                      "completion_tokens_details": {"reasoning_tokens": 0}}})
        ),
    );
    let r = run(&body);
    assert_eq!(r.state.usage().and_then(|u| u.prompt_tokens), Some(9));
    let f = r.end.unwrap();
    let u = f.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(9), Some(2), Some(11))
    );
    assert_eq!(
        u.completion_tokens_details.as_ref().map(theirs),
        Some(json!({"reasoning_tokens": 0}))
    );
    assert_eq!(f.completion.usage, Some(u));
    assert_eq!(f.finish_reason.as_deref(), Some("stop"));
    assert_eq!(text_of(&f.completion, 0), "hi");
}

#[test]
fn usage_is_the_last_non_null_one() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":1,"total_tokens":2,"completion_tokens":1}}"#,
    );
    feed(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":1,"total_tokens":5,"completion_tokens":4}}"#,
    );
    feed(&mut s, r#"{"choices":[],"usage":null}"#);
    assert_eq!(s.usage().and_then(|u| u.total_tokens), Some(5));
}

#[test]
fn missing_usage_is_none_not_zeros() {
    let r = run(&format!(
        "{}{}data: [DONE]\n\n",
        content_chunk(0, "hi"),
        stop_chunk(0)
    ));
    let f = r.end.unwrap();
    assert_eq!(f.usage, None);
    assert_eq!(f.completion.usage, None);
    let out = serde_json::from_str::<Value>(&f.completion.to_json()).unwrap();
    assert!(out.get("usage").is_none(), "{out}");
}

#[test]
fn top_level_fields_last_seen_win_and_unknown_fields_are_kept() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"id":"a","model":"m1","created":5,"system_fingerprint":"fp1","service_tier":"default","choices":[{"index":0,"delta":{"content":"x"},"seed":null}]}"#,
    );
    feed(
        &mut s,
        r#"{"id":"","model":"m2","created":6,"time_info":{"queue_time":0.1},"choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":null,"seed":9313781139405380000,"text":"dup"}]}"#,
    );
    let c = s.snapshot();
    assert_eq!((c.id.as_str(), c.model.as_str(), c.created), ("a", "m2", 6));
    assert_eq!(c.system_fingerprint.as_deref(), Some("fp1"));
    assert_eq!(c.extra["service_tier"], "default");
    assert_eq!(theirs(&c.extra["time_info"]), json!({"queue_time": 0.1}));
    assert_eq!(
        theirs(&c.choices[0].extra["seed"]),
        json!(9313781139405380000u64)
    );
    assert!(c.choices[0].extra.contains_key("stop_reason"));
    assert!(
        !c.choices[0].extra.contains_key("text"),
        "Together's per-chunk `text` is not kept"
    );
}

#[test]
fn unknown_fields_are_kept_through_serialization() {
    let data = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","x_top":{"a":[1,2]},"choices":[{"index":0,"delta":{"content":"hi","token_id":17,"refusal":null},"finish_reason":null,"content_filter_results":{"hate":{"filtered":false}}}],"usage":{"prompt_tokens":1,"queue_time":0.5}}"#;
    let c = ChatChunk::from_text(data).unwrap();
    assert_eq!(theirs(&c.extra["x_top"]), json!({"a": [1, 2]}));
    assert_eq!(c.choices[0].delta.extra["token_id"], 17);
    assert_eq!(c.usage.as_ref().unwrap().extra["queue_time"], 0.5);
    let out = serde_json::from_str::<Value>(&c.to_json()).unwrap();
    assert_eq!(out["x_top"], json!({"a": [1, 2]}));
    assert_eq!(
        out["choices"][0]["content_filter_results"],
        json!({"hate": {"filtered": false}})
    );
    assert_eq!(out["choices"][0]["delta"]["token_id"], 17);
}

#[test]
fn seed_above_2_pow_53_round_trips_exactly() {
    let seed: u64 = (1 << 53) + 1;
    let big: u64 = 14963699883243452000;
    let chunk = format!(
        r#"{{"choices":[{{"index":0,"delta":{{"content":"x"}},"seed":{seed}}}],"seed":{big}}}"#
    );
    let parsed = ChatChunk::from_text(&chunk).unwrap();
    let text = parsed.to_json();
    assert!(text.contains(&format!("\"seed\":{seed}")), "{text}");
    assert!(text.contains(&format!("\"seed\":{big}")), "{text}");

    let body = format!(
        r#"{{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"hi"}},"finish_reason":"eos","seed":{big}}}]}}"#
    );
    let completion = parse_completion(&body).unwrap();
    let text = completion.to_json();
    assert!(text.contains(&format!("\"seed\":{big}")), "{text}");
    let again = ChatCompletion::from_text(&text).unwrap();
    assert_eq!(again, completion);
}

#[test]
fn logprobs_content_is_concatenated() {
    let mut s = ChatStreamState::new();
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.1}]}}]}"#,
    );
    feed(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"b"},"logprobs":{"content":[{"token":"b","logprob":-0.2}]}}]}"#,
    );
    let c = s.snapshot();
    assert_eq!(
        c.choices[0].logprobs.as_ref().map(theirs),
        Some(
            json!({"content": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.2}]})
        )
    );
}

#[test]
fn long_streams_accumulate_every_delta() {
    let mut s = ChatStreamState::new();
    let n = 20_000;
    for i in 0..n {
        let data = format!(
            r#"{{"choices":[{{"index":0,"delta":{{"content":"{}"}}}}]}}"#,
            i % 10
        );
        feed(&mut s, &data);
    }
    assert_eq!(s.chunk_count(), n);
    assert_eq!(text_of(&s.snapshot(), 0).len(), n);
}

#[test]
fn odd_inputs_never_panic() {
    let inputs = [
        "null",
        "[]",
        "{}",
        "\"str\"",
        "true",
        "{\"choices\":null}",
        "{\"choices\":[null]}",
        "{\"choices\":[{\"index\":-1}]}",
        "{\"choices\":[{\"index\":4294967296}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":null}}]}",
        "{\"usage\":{\"prompt_tokens\":-3,\"total_tokens\":1e400}}",
        "{\"created\":-1}",
        "{\"error\":false}",
        "{\"error\":{}}",
        "{\"error\":[]}",
        "{\"object\":\"error\"}",
        "\u{0}",
        "{\"choices\":[{\"delta\":{\"content\":5}}]}",
    ];
    for data in inputs {
        let mut s = ChatStreamState::new();
        let _ = s.on_event(&message(data));
        let _ = s.snapshot();
        let _ = s.finish(Some(&message(data)));
    }
}

// --- non-stream bodies --------------------------------------------------------------

#[test]
fn completion_with_error_key_is_a_stream_error_even_with_status_200() {
    let e = parse_completion(r#"{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","code":null}}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("you must provide a model parameter"));
    assert_eq!(e.code.as_deref(), Some("invalid_request_error"));
}

#[test]
fn completion_that_is_not_json_is_a_parse_error_quoting_the_body() {
    let e = parse_completion("Failed to deserialize the JSON body").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert_eq!(
        e.body.as_deref(),
        Some("Failed to deserialize the JSON body")
    );
}

#[test]
fn completion_without_choices_is_a_parse_error_saying_so() {
    let e = parse_completion(r#"{"detail":"Not Found"}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert!(e.message.contains("`choices`"), "{}", e.message);
}

#[test]
fn completion_with_defaults_for_omitted_fields() {
    let c = parse_completion(r#"{"choices":[{"message":{"content":""}}]}"#).unwrap();
    assert_eq!(c.id, "");
    assert_eq!(c.object, "chat.completion");
    assert_eq!(c.choices[0].message.role, "assistant");
    assert_eq!(c.choices[0].message.content.as_deref(), Some(""));
    assert_eq!(c.usage, None);
}

// --- the request body ---------------------------------------------------------------

fn body_of(req: Value, stream: bool) -> Value {
    serde_json::from_str(&prepare_chat_body(&req.to_string(), stream).unwrap()).unwrap()
}

fn input_error(req: &str) -> String {
    let e = prepare_chat_body(req, true).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input, "{req}");
    e.message
}

#[test]
fn streaming_request_gets_stream_true_and_include_usage() {
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        true,
    );
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
}

#[test]
fn streaming_request_keeps_the_callers_stream_options() {
    let b = body_of(
        json!({"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": false, "x": 1}}),
        true,
    );
    assert_eq!(b["stream_options"], json!({"include_usage": false, "x": 1}));
}

#[test]
fn non_streaming_request_gets_stream_false_and_no_stream_options() {
    let b = body_of(
        json!({"messages": [{"role": "user", "content": "hi"}], "stream": true, "stream_options": {"include_usage": true}}),
        false,
    );
    assert_eq!(b["stream"], false);
    assert!(b.get("stream_options").is_none(), "{b}");
}

#[test]
fn request_fields_pass_through_and_integers_stay_integers() {
    let req = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":5,"temperature":0.7,"seed":9007199254740993,"top_k":-1,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"x_custom":{"nested":[1,2.5,null]}}"#;
    let out = prepare_chat_body(req, true).unwrap();
    assert!(out.contains("\"max_tokens\":5"), "{out}");
    assert!(!out.contains("5.0"), "{out}");
    assert!(out.contains("\"seed\":9007199254740993"), "{out}");
    assert!(out.contains("\"temperature\":0.7"), "{out}");
    assert!(out.contains("\"top_k\":-1"), "{out}");
    let b: Value = serde_json::from_str(&out).unwrap();
    let original: Value = serde_json::from_str(req).unwrap();
    for key in ["model", "messages", "tools", "x_custom"] {
        assert_eq!(b[key], original[key], "{key}");
    }
}

#[test]
fn request_input_errors_name_the_field() {
    let cases = [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        (r#"{"model":"m"}"#, "`messages`"),
        (r#"{"messages":[]}"#, "`messages`"),
        (r#"{"messages":"hi"}"#, "`messages`"),
        (r#"{"messages":[{"role":"user"},"hi"]}"#, "`messages[1]`"),
        (
            r#"{"messages":[{"role":"user"},{"role":"user"},{"content":"x"}]}"#,
            "`messages[2].role` must be a string",
        ),
        (
            r#"{"messages":[{"role":7}]}"#,
            "`messages[0].role` must be a string",
        ),
        (
            r#"{"messages":[{"role":"user"}],"model":3}"#,
            "`model` must be a string",
        ),
        (
            r#"{"messages":[{"role":"user"}],"stream":"yes"}"#,
            "`stream` must be a boolean",
        ),
        (
            r#"{"messages":[{"role":"user"}],"max_tokens":"5"}"#,
            "`max_tokens` must be an integer",
        ),
        (
            r#"{"messages":[{"role":"user"}],"max_tokens":5.5}"#,
            "`max_tokens` must be an integer",
        ),
        (
            r#"{"messages":[{"role":"user"}],"temperature":"hot"}"#,
            "`temperature` must be a number",
        ),
        (
            r#"{"messages":[{"role":"user"}],"stop":[1]}"#,
            "`stop[0]` must be a string",
        ),
        (
            r#"{"messages":[{"role":"user"}],"stream_options":true}"#,
            "`stream_options` must be an object",
        ),
    ];
    for (req, expected) in cases {
        let m = input_error(req);
        assert!(m.contains(expected), "{req}: {m}");
    }
}

#[test]
fn request_null_options_mean_default() {
    let b = body_of(
        json!({"messages": [{"role": "user"}], "temperature": null, "stream_options": null}),
        true,
    );
    assert_eq!(b["temperature"], Value::Null);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
}
