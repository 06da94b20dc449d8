//! The stream semantics of tests/stream_semantics.rs, tests/tgi_recordings.rs and
//! src/protocol.rs, one behaviour per test, checked on the new `decode::StreamDecoder`:
//! `[DONE]`, skipped events, errors, truncation, the unterminated final event, deltas,
//! tool calls, reasoning, usage, unknown fields, TGI streams and the SSE bounds. Every
//! body is fed whole, split in two at every point and one byte at a time, and all must
//! agree (and agree with the old path, the oracle while it exists).
// Native only.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::decode::{DecodeOptions, StreamDecoder, StreamEvent};
use hf_inference_wasm::error::{ErrorKind, MAX_QUOTED_DATA_BYTES};
use hf_inference_wasm::protocol::Protocol;
use hf_inference_wasm::sse::Limits;
use hf_inference_wasm::Error;
use serde_json::{json, Value};

#[path = "support/decode_oracle.rs"]
mod oracle;
use oracle::{agrees_at_every_split, as_deltas, deltas, keeping, new, old, NewRun};

/// What a body decodes to, once every chunking agreed.
struct R {
    run: NewRun,
    snap: Value,
}

impl R {
    fn error(&self) -> &Error {
        self.run.seen.error.as_ref().expect("an error")
    }
    fn text(&self, choice: usize) -> &str {
        self.snap["choices"][choice]["message"]["content"]
            .as_str()
            .unwrap_or("")
    }
    fn truncated(&self) -> bool {
        self.run.seen.truncated
    }
    fn has(&self, want: &StreamEvent) -> bool {
        self.run.events.contains(want)
    }
}

fn run_as(protocol: Protocol, body: &str) -> R {
    let bytes = body.as_bytes();
    let want = old(protocol, bytes, Limits::default());
    agrees_at_every_split(protocol, bytes, &want, body);
    let run = new(protocol, [bytes], keeping());
    // Events too (not only what the oracle can see) are the same at any chunking.
    for piece in [1, 3, 16] {
        let other = new(protocol, bytes.chunks(piece), keeping());
        assert_eq!(
            other.events, run.events,
            "{body}: events, {piece}-byte feeds"
        );
        assert_eq!(other.reasoning, run.reasoning, "{body}: reasoning");
        // Keeping nothing (the decoder core's `ChatDecoder`), the same is delivered.
        assert_eq!(
            deltas(protocol, bytes.chunks(piece)),
            as_deltas(&run),
            "{body}: keeping nothing, {piece}-byte feeds"
        );
    }
    let snap = serde_json::from_str(&run.seen.snapshot).expect("snapshot is JSON");
    R { run, snap }
}

fn run(body: &str) -> R {
    run_as(Protocol::Chat, body)
}

fn message(data: &str) -> String {
    format!("data: {data}\n\n")
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

// --- the end of a stream ----------------------------------------------------------

#[test]
fn done_with_or_without_space_or_whitespace_ends_the_stream() {
    for done in [
        "data: [DONE]\n\n",
        "data:[DONE]\n\n",
        "data:   [DONE] \t\n\n",
    ] {
        let r = run(&format!("{}{done}", content_chunk(0, "hi")));
        assert_eq!(r.run.events.last(), Some(&StreamEvent::Done), "{done:?}");
        assert!(!r.truncated());
        assert_eq!(r.text(0), "hi");
        assert_eq!(r.run.seen.delivered, "hi");
    }
}

#[test]
fn data_after_done_is_ignored() {
    let body = format!(
        "{}data: [DONE]\n\n{}{}{}data: {{broken",
        content_chunk(0, "a"),
        content_chunk(0, "b"),
        message("not json at all"),
        message(r#"{"error":"late"}"#),
    );
    let r = run(&body);
    assert_eq!(r.text(0), "a");
    assert_eq!(r.run.seen.chunk_count, 1);
    assert!(r.run.seen.error.is_none());
    assert_eq!(r.run.events, vec![StreamEvent::Done]);
}

#[test]
fn done_stops_the_decoder_and_later_feeds_do_nothing() {
    let mut d = StreamDecoder::new(Protocol::Chat, DecodeOptions::default());
    let out = d.feed(format!("{}data: [DONE]\n\n", content_chunk(0, "a")).as_bytes());
    assert_eq!(out.text, "a");
    assert!(d.is_done());
    let out = d.feed(content_chunk(0, "b").as_bytes());
    assert_eq!((out.text.as_str(), out.chunk_count), ("", 0));
    assert!(d.end().events.is_empty(), "no truncation after [DONE]");
    assert_eq!(d.text(), "a");
}

#[test]
fn finish_reason_without_done_is_not_truncated() {
    let body = format!(
        "{}{}",
        content_chunk(0, "hi").replace("data: ", "data:"),
        stop_chunk(0)
    );
    let r = run(&body);
    assert!(!r.truncated());
    assert_eq!(r.run.seen.finish_reason.as_deref(), Some("stop"));
    assert!(r.has(&StreamEvent::Finish {
        choice: 0,
        reason: "stop".into()
    }));
}

#[test]
fn stream_without_done_or_finish_reason_is_truncated_and_keeps_the_text() {
    let r = run(&format!(
        "{}{}",
        content_chunk(0, "Hello"),
        content_chunk(0, " wor")
    ));
    assert!(r.truncated());
    assert_eq!(r.run.events.last(), Some(&StreamEvent::Truncated));
    assert_eq!(r.run.seen.finish_reason, None);
    assert_eq!(r.text(0), "Hello wor");
}

#[test]
fn empty_stream_is_truncated() {
    let r = run("");
    assert!(r.truncated());
    assert_eq!(r.snap["choices"], json!([]));
}

#[test]
fn unterminated_final_event_is_accepted_when_it_parses() {
    let last = json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}});
    let r = run(&format!("{}data: {last}", content_chunk(0, "hi")));
    assert!(!r.truncated());
    assert_eq!(r.run.seen.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.snap["usage"]["total_tokens"], 6);
    assert_eq!(r.text(0), "hi!");
    assert_eq!(r.run.seen.delivered, "hi!");
    assert_eq!(r.run.seen.chunk_count, 2);
    assert!(r
        .run
        .events
        .iter()
        .any(|e| matches!(e, StreamEvent::Usage(u) if u.total_tokens == Some(6))));
}

#[test]
fn unterminated_final_done_is_accepted() {
    let r = run(&format!("{}data: [DONE]", content_chunk(0, "hi")));
    assert!(!r.truncated());
    assert_eq!(r.run.events.last(), Some(&StreamEvent::Done));
}

#[test]
fn unterminated_final_chunk_with_a_stray_byte_is_accepted_for_its_object() {
    let last = r#"{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}""#;
    let r = run(&format!("{}data: {last}", content_chunk(0, "hi")));
    assert!(!r.truncated());
    assert_eq!(r.text(0), "hi!");
    assert_eq!(
        r.run.seen.chunks.last().map(String::as_str),
        last.strip_suffix('"')
    );
}

#[test]
fn unterminated_final_event_that_does_not_parse_is_dropped_as_truncation() {
    let body = format!(
        "{}data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"wor",
        content_chunk(0, "hi")
    );
    let r = run(&body);
    assert!(r.truncated());
    assert!(r.run.seen.error.is_none());
    assert_eq!(r.text(0), "hi");
}

#[test]
fn unterminated_final_error_payload_is_still_an_error() {
    let r = run(r#"data: {"error":"boom"}"#);
    assert_eq!(r.error().kind, ErrorKind::Stream);
    assert!(!r.truncated());
}

// --- errors -------------------------------------------------------------------------

#[test]
fn error_event_is_a_stream_error_with_message_and_code() {
    let body = format!(
        "{}event: error\ndata: {{\"error\":{{\"message\":\"overloaded\",\"type\":\"server_error\"}}}}\n\n{}",
        content_chunk(0, "partial"),
        content_chunk(0, "after")
    );
    let r = run(&body);
    assert_eq!(
        r.run.seen.delivered, "partial",
        "what came before was delivered"
    );
    let e = r.error();
    assert_eq!(e.kind, ErrorKind::Stream);
    assert!(e.message.contains("overloaded"), "{}", e.message);
    assert_eq!(e.code.as_deref(), Some("server_error"));
    assert!(e.body.as_deref().unwrap().contains("overloaded"));
    assert_eq!(r.text(0), "partial", "nothing after the error is processed");
    assert!(matches!(r.run.events.last(), Some(StreamEvent::Error(_))));
    assert!(!r.truncated());
}

#[test]
fn the_text_before_an_error_is_in_the_same_output() {
    let mut d = StreamDecoder::new(Protocol::Chat, DecodeOptions::default());
    let body = format!(
        "{}data: {{oops\n\n{}",
        content_chunk(0, "ok"),
        content_chunk(0, "no")
    );
    let out = d.feed(body.as_bytes());
    assert_eq!(out.text, "ok");
    assert!(matches!(&out.events[..], [StreamEvent::Error(e)] if e.kind == ErrorKind::Parse));
    assert!(d.is_done());
    assert!(d.end().events.is_empty());
}

#[test]
fn error_event_with_plain_text_data_keeps_the_text() {
    let r = run("event: error\ndata: upstream went away\n\n");
    assert_eq!(r.error().kind, ErrorKind::Stream);
    assert!(r.error().message.contains("upstream went away"));
    let r = run("event: error\ndata:\n\n");
    assert!(
        r.error().message.contains("no details"),
        "{}",
        r.error().message
    );
}

#[test]
fn error_payloads_are_stream_errors_with_their_code() {
    let cases = [
        (
            r#"{"error":"Model is overloaded"}"#,
            "Model is overloaded",
            None,
        ),
        (
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
            "Rate limit reached",
            Some("rate_limit_exceeded"),
        ),
        (
            r#"{"id":"x","object":"chat.completion.chunk","choices":[],"error":{"message":"cut off","code":500}}"#,
            "cut off",
            Some("500"),
        ),
        (
            r#"{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}"#,
            "maximum context length",
            Some("400"),
        ),
        (
            r#"{"error":"Input validation error: `inputs` must be <= 4096","error_type":"validation"}"#,
            "Input validation error",
            Some("validation"),
        ),
        (r#"{"err\u006fr":"escaped key"}"#, "escaped key", None),
    ];
    for (data, text, code) in cases {
        let r = run(&format!("{}{}", content_chunk(0, "a"), message(data)));
        let e = r.error();
        assert_eq!(e.kind, ErrorKind::Stream, "{data}");
        assert!(e.message.contains(text), "{}", e.message);
        assert_eq!(e.code.as_deref(), code, "{data}");
        assert_eq!(e.body.as_deref(), Some(data));
        assert_eq!(r.run.seen.delivered, "a");
    }
}

#[test]
fn null_or_false_error_key_is_not_an_error() {
    for error in ["null", "false"] {
        let r = run(&message(&format!(
            r#"{{"error":{error},"choices":[{{"index":0,"delta":{{"content":"ok"}},"finish_reason":"stop"}}]}}"#
        )));
        assert!(r.run.seen.error.is_none());
        assert_eq!(r.run.seen.delivered, "ok");
        assert_eq!(
            r.snap["error"],
            serde_json::from_str::<Value>(error).unwrap()
        );
    }
}

#[test]
fn malformed_json_is_a_parse_error_quoting_the_data() {
    let r = run(&format!(
        "{}data: {{\"choices\": [oops\n\n",
        content_chunk(0, "ok")
    ));
    let e = r.error();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert!(e.message.contains("not valid JSON"), "{}", e.message);
    assert_eq!(e.body.as_deref(), Some("{\"choices\": [oops"));
    assert_eq!(r.run.seen.delivered, "ok");
}

#[test]
fn malformed_json_quote_is_bounded() {
    let data = format!("{{\"x\": \"{}", "é".repeat(4 * MAX_QUOTED_DATA_BYTES));
    let mut d = StreamDecoder::new(Protocol::Chat, DecodeOptions::default());
    let out = d.feed(message(&data).as_bytes());
    let Some(StreamEvent::Error(e)) = out.events.first() else {
        panic!("{:?}", out.events)
    };
    assert_eq!(e.kind, ErrorKind::Parse);
    let quoted = e.body.as_deref().unwrap();
    assert!(quoted.len() <= MAX_QUOTED_DATA_BYTES && !quoted.is_empty());
}

#[test]
fn json_of_the_wrong_shape_is_a_parse_error_naming_the_field() {
    let cases = [
        (r#"{"choices":"nope"}"#, "choices"),
        ("42", "expected an object"),
        (
            r#"{"choices":[{"delta":{"content":5}}]}"#,
            "choices[0].delta.content",
        ),
        (r#"{"choices":[{"delta":null}]}"#, "delta"),
        (r#"{"choices":null}"#, "choices"),
        (r#"{"id":7,"choices":[]}"#, "id"),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"function":5}]}}]}"#,
            "function",
        ),
        (r#"{"usage":[1]}"#, "usage"),
    ];
    for (data, names) in cases {
        let r = run(&message(data));
        let e = r.error();
        assert_eq!(e.kind, ErrorKind::Parse, "{data}");
        assert!(e.message.contains(names), "{data}: {}", e.message);
    }
}

#[test]
fn the_first_wrong_field_in_reading_order_is_the_one_named() {
    // `run` holds each error to the old path's (`types::ChatChunk` over `json::Value`),
    // word for word; the scan tells it without building a value.
    let cases = [
        (r#"{"model":1,"id":2}"#, "`id` must be a string, found a number"),
        (r#"{"object":[],"usage":5}"#, "`object` must be a string, found an array"),
        (r#"{"system_fingerprint":{},"choices":5}"#, "`system_fingerprint` must be a string, found an object"),
        (r#"{"usage":true,"choices":[1]}"#, "`choices[0]` must be an object, found a number"),
        (r#"{"choices":[{},{"finish_reason":2,"delta":{"role":3}}]}"#, "`choices[1].delta.role` must be a string, found a number"),
        (r#"{"choices":[{"delta":{"reasoning_content":{}}}]}"#, "`choices[0].delta.reasoning_content` must be text (a string, null or an array of content parts), found an object"),
        (r#"{"choices":[{"delta":{"tool_calls":{}}}]}"#, "`choices[0].delta.tool_calls` must be an array, found an object"),
        (r#"{"choices":[{"delta":{"tool_calls":[{},7]}}]}"#, "`choices[0].delta.tool_calls[1]` must be an object, found a number"),
        (r#"{"choices":[{"delta":{"tool_calls":[{"type":1,"id":2}]}}]}"#, "`choices[0].delta.tool_calls[0].id` must be a string, found a number"),
        (r#"{"choices":[{"delta":{"tool_calls":[{"type":false}]}}]}"#, "`choices[0].delta.tool_calls[0].type` must be a string, found a boolean"),
        (r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":[]}}]}}]}"#, "`choices[0].delta.tool_calls[0].function.name` must be a string, found an array"),
        (r#"{"choices":[{"finish_reason":1,"delta":{}}]}"#, "`choices[0].finish_reason` must be a string, found a number"),
        (r#"{"choices":[{"delta":"x"}],"usage":1}"#, "`choices[0].delta` must be an object, found a string"),
        (r#"[]"#, "expected an object, found an array"),
        ("null", "expected an object, found null"),
    ];
    for (data, want) in cases {
        let r = run(&message(data));
        let e = r.error();
        assert_eq!(e.kind, ErrorKind::Parse, "{data}");
        assert_eq!(
            e.message,
            format!("a stream chunk is not a chat completion chunk: {want}"),
            "{data}"
        );
        assert_eq!(e.body.as_deref(), Some(data));
    }
    // Two data lines: one JSON text with a line break in it.
    let r = run("data: {\"a\":\ndata:   tru}\n\n");
    assert_eq!(
        r.error().message,
        "a stream chunk is not valid JSON: unexpected character at line 2 column 2"
    );
    let r = run(&message(r#"{"a":[1,"#));
    assert_eq!(
        r.error().message,
        "a stream chunk is not valid JSON: unexpected end of the text at line 1 column 8"
    );
}

#[test]
fn a_tgi_event_of_the_wrong_shape_names_the_field() {
    for (data, want) in [
        (
            r#"{"token":5,"details":"x"}"#,
            "`details` must be an object, found a string",
        ),
        (
            r#"{"token":[],"generated_text":"g"}"#,
            "`token` must be an object, found an array",
        ),
    ] {
        let r = run_as(Protocol::TextGeneration, &message(data));
        assert_eq!(
            r.error().message,
            format!("a TGI stream event has an unexpected shape: {want}"),
            "{data}"
        );
    }
}

// --- skips ------------------------------------------------------------------------

#[test]
fn empty_data_ping_events_and_comments_are_skipped() {
    let body = format!(
        "data:\n\ndata:  \ndata: \n\nevent: ping\ndata: {{\"not\": \"a chunk\"}}\n\n: keep-alive\n\n{}: OPENROUTER PROCESSING\n\n{}data: [DONE]\n\n",
        content_chunk(0, "a"),
        stop_chunk(0)
    );
    let r = run(&body);
    assert_eq!(r.run.seen.chunk_count, 2);
    assert_eq!(r.text(0), "a");
    assert!(r.run.seen.error.is_none());
}

// --- accumulation -----------------------------------------------------------------

#[test]
fn output_carries_choice_zero_content_and_the_raw_data() {
    let data = r#"{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"mine"}}],"x_extra":1}"#;
    let r = run(&message(data));
    assert_eq!(r.run.seen.delivered, "mine");
    assert_eq!(r.run.seen.chunks, [data]);
    assert_eq!(r.text(1), "other");
}

#[test]
fn empty_and_null_content_deltas_deliver_no_content() {
    let body: String = [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":null}}]}"#,
        r#"{"choices":[{"index":0,"delta":{}}]}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    assert_eq!(r.run.seen.delivered, "");
    assert_eq!(r.run.seen.chunk_count, 3);
    assert_eq!(r.snap["choices"][0]["message"]["content"], "");
}

#[test]
fn content_and_reasoning_accumulate_separately() {
    let body: String = [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning_content":"think.","content":null}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Two"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}]}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    let m = &r.snap["choices"][0]["message"];
    assert_eq!(m["reasoning_content"], "Let me think.");
    assert_eq!(m["content"], "Two.");
    assert_eq!(m["role"], "assistant");
    assert_eq!(r.snap["object"], "chat.completion");
    assert_eq!(r.run.reasoning, "Let me think.");
    assert_eq!(r.run.seen.delivered, "Two.");
}

#[test]
fn reasoning_field_counts_as_reasoning_content() {
    let body: String = [
        r#"{"choices":[{"index":0,"delta":{"reasoning":"Hmm, ","content":null}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning":"two.","content":""}}]}"#,
        r#"{"choices":[{"index":1,"delta":{"reasoning":"not choice 0"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Two"}}]}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    assert_eq!(
        r.snap["choices"][0]["message"]["reasoning_content"],
        "Hmm, two."
    );
    assert_eq!(r.snap["choices"][0]["message"]["content"], "Two");
    assert_eq!(r.run.reasoning, "Hmm, two.");
}

#[test]
fn content_as_an_array_of_parts_is_joined() {
    let r = run(&message(
        r#"{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"},"b",{"type":"image"}]}}]}"#,
    ));
    assert_eq!(r.run.seen.delivered, "ab");
    assert_eq!(r.text(0), "ab");
}

#[test]
fn tool_call_arguments_accumulate_across_chunks() {
    let body: String = [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\": \"Paris\"}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    let m = &r.snap["choices"][0]["message"];
    assert_eq!(
        m["content"],
        Value::Null,
        "a tool-call-only message has null content"
    );
    let calls = m["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_1");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        calls[0]["function"]["arguments"],
        r#"{"location": "Paris"}"#
    );
    assert_eq!(calls[1]["id"], "call_2");
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(r.run.seen.finish_reason.as_deref(), Some("tool_calls"));
    let tool_events: Vec<_> = r
        .run
        .events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall {
                choice,
                index,
                id,
                name,
                arguments,
            } => Some((*choice, *index, id.clone(), name.clone(), arguments.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        tool_events,
        vec![
            (
                0,
                0,
                Some("call_1".into()),
                Some("get_weather".into()),
                String::new()
            ),
            (0, 0, None, None, "{\"loc".into()),
            (
                0,
                1,
                Some("call_2".into()),
                Some("get_time".into()),
                "{}".into()
            ),
            (0, 0, None, None, "ation\": \"Paris\"}".into()),
        ]
    );
}

#[test]
fn tool_calls_without_index_are_matched_by_id_and_arguments_may_be_objects() {
    let body: String = [
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","type":"function","function":{"name":"g","arguments":{"z": [1, 2]}}}]}}]}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    let calls = r.snap["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (&calls[0]["id"], &calls[0]["function"]["arguments"]),
        (&json!("a"), &json!("{\"x\":1}"))
    );
    assert_eq!(
        (&calls[1]["id"], &calls[1]["function"]["arguments"]),
        (&json!("b"), &json!("{\"z\":[1,2]}"))
    );
    assert!(r.has(&StreamEvent::ToolCall {
        choice: 0,
        index: 1,
        id: Some("b".into()),
        name: Some("g".into()),
        arguments: "{\"z\":[1,2]}".into()
    }));
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
        r.run.seen.delivered, "Hello",
        "Output.text is choice 0 only"
    );
    assert_eq!(
        (r.snap["choices"][0]["index"].clone(), r.text(0)),
        (json!(0), "Hello")
    );
    assert_eq!(
        (r.snap["choices"][1]["index"].clone(), r.text(1)),
        (json!(1), "Bonjour")
    );
    assert_eq!(r.snap["choices"][0]["finish_reason"], "length");
    assert_eq!(r.snap["choices"][1]["finish_reason"], "stop");
    assert_eq!(r.run.seen.finish_reason.as_deref(), Some("length"));
    assert!(r.has(&StreamEvent::Finish {
        choice: 1,
        reason: "stop".into()
    }));
}

#[test]
fn choices_in_any_order_are_listed_by_index() {
    let body: String = [3, 1, 2, 0, 1, 3]
        .map(|i| {
            message(&format!(
                r#"{{"choices":[{{"index":{i},"delta":{{"content":"{i}"}}}}]}}"#
            ))
        })
        .concat();
    let r = run(&body);
    let got: Vec<(u64, &str)> = (0..4)
        .map(|c| (r.snap["choices"][c]["index"].as_u64().unwrap(), r.text(c)))
        .collect();
    assert_eq!(got, [(0, "0"), (1, "11"), (2, "2"), (3, "33")]);
}

#[test]
fn finish_reason_is_the_last_non_null_one() {
    let body = format!(
        "{}{}",
        message(r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"eos_token"}]}"#),
        message(r#"{"choices":[{"index":0,"delta":{},"finish_reason":null}]}"#)
    );
    assert_eq!(
        run(&body).run.seen.finish_reason.as_deref(),
        Some("eos_token")
    );
}

#[test]
fn usage_on_final_empty_choices_chunk_is_kept_and_reported() {
    let body = format!(
        "{}{}{}data: [DONE]\n\n",
        content_chunk(0, "hi"),
        stop_chunk(0),
        chunk(
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                      "completion_tokens_details": {"reasoning_tokens": 1}}})
        ),
    );
    let r = run(&body);
    let u = &r.snap["usage"];
    assert_eq!(
        (
            &u["prompt_tokens"],
            &u["completion_tokens"],
            &u["total_tokens"]
        ),
        (&json!(9), &json!(2), &json!(11))
    );
    assert_eq!(
        u["completion_tokens_details"],
        json!({"reasoning_tokens": 1})
    );
    let usage = r.run.seen.usage.unwrap();
    assert_eq!(
        (usage.total_tokens, usage.reasoning_tokens, usage.estimated),
        (Some(11), Some(1), false)
    );
    assert!(r.has(&StreamEvent::Usage(usage)));
    assert!(r.run.seen.storable);
}

#[test]
fn usage_is_the_last_non_null_one() {
    let body: String = [
        r#"{"choices":[],"usage":{"prompt_tokens":1,"total_tokens":2,"completion_tokens":1}}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":1,"total_tokens":5,"completion_tokens":4}}"#,
        r#"{"choices":[],"usage":null}"#,
    ]
    .map(message)
    .concat();
    let r = run(&body);
    assert_eq!(r.snap["usage"]["total_tokens"], 5);
    let usages = r
        .run
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Usage(_)))
        .count();
    assert_eq!(usages, 2, "a null usage is no usage");
}

#[test]
fn missing_usage_is_none_not_zeros_and_estimates_are_opt_in() {
    let r = run(&format!(
        "{}{}data: [DONE]\n\n",
        content_chunk(0, "hi there"),
        stop_chunk(0)
    ));
    assert!(r.snap.get("usage").is_none(), "{}", r.snap);
    assert_eq!(r.run.seen.usage, None);
    let est = r.run.seen.usage_estimated.unwrap();
    assert!(est.estimated);
    assert_eq!(
        (est.prompt_tokens, est.completion_tokens),
        (Some(7), Some(2))
    );
}

#[test]
fn top_level_fields_last_seen_win_and_unknown_fields_are_kept() {
    let body = format!(
        "{}{}",
        message(
            r#"{"id":"a","model":"m1","created":5,"system_fingerprint":"fp1","service_tier":"default","provider":"x","choices":[{"index":0,"delta":{"content":"x"},"seed":null}]}"#
        ),
        message(
            r#"{"id":"","model":"m2","created":6,"provider":null,"time_info":{"queue_time":0.1},"choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":null,"seed":9313781139405380000,"text":"dup","message":"no"}]}"#
        )
    );
    let r = run(&body);
    let s = &r.snap;
    assert_eq!(
        (&s["id"], &s["model"], &s["created"]),
        (&json!("a"), &json!("m2"), &json!(6))
    );
    assert_eq!(s["system_fingerprint"], "fp1");
    assert_eq!(s["service_tier"], "default");
    assert_eq!(s["provider"], "x", "a null does not replace a value");
    assert_eq!(s["time_info"], json!({"queue_time": 0.1}));
    let c = &s["choices"][0];
    assert_eq!(c["seed"], json!(9313781139405380000u64));
    assert!(c.get("stop_reason").is_some());
    assert!(
        c.get("text").is_none(),
        "Together's per-chunk `text` is not kept"
    );
    assert_eq!(c["message"]["content"], "x");
}

#[test]
fn duplicate_keys_last_wins_and_escaped_keys_are_their_names() {
    let body = format!(
        "{}{}",
        message(
            r#"{"choices":[{"index":0,"delta":{"content":"lost"}}],"choices":[{"index":0,"delta":{"con\u0074ent":"a","content":"b"}}],"p":1,"p":null}"#
        ),
        message(
            r#"{"ch\u006fices":[{"index":0,"delta":{"content":"c"},"delta":{"content":"d"},"finish_reason":"x","finish_reason":null}]}"#
        )
    );
    let r = run(&body);
    assert_eq!(r.run.seen.delivered, "bd");
    assert_eq!(r.snap["p"], Value::Null);
    assert_eq!(r.run.seen.finish_reason, None);
}

#[test]
fn escapes_and_unicode_in_content_are_decoded() {
    let r = run(&message(
        r#"{"choices":[{"index":0,"delta":{"content":"a\"b\\c\n\u00e9\ud83d\ude00 ✓"}}]}"#,
    ));
    assert_eq!(r.run.seen.delivered, "a\"b\\c\né😀 ✓");
}

#[test]
fn lenient_counts_read_as_the_old_reader_reads_them() {
    let body = message(
        r#"{"created":"17.9","choices":[{"index":"1","delta":{"content":"x"}},{"index":2.7,"delta":{"content":"y"}},{"index":-1,"delta":{"content":"z"}}]}"#,
    );
    let r = run(&body);
    assert_eq!(r.snap["created"], 17);
    let indexes: Vec<_> = r.snap["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].clone())
        .collect();
    assert_eq!(indexes, [json!(0), json!(1), json!(2)]);
}

#[test]
fn logprobs_content_is_concatenated() {
    let body = format!(
        "{}{}",
        message(
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.1}]}}]}"#
        ),
        message(
            r#"{"choices":[{"index":0,"delta":{"content":"b"},"logprobs":{"content":[{"token":"b","logprob":-0.2}]}}]}"#
        )
    );
    let r = run(&body);
    assert_eq!(
        r.snap["choices"][0]["logprobs"],
        json!({"content": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.2}]})
    );
}

#[test]
fn long_streams_accumulate_every_delta() {
    let n = 20_000;
    let body: String = (0..n)
        .map(|i| {
            message(&format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"{}"}}}}]}}"#,
                i % 10
            ))
        })
        .collect();
    let mut d = StreamDecoder::new(Protocol::Chat, DecodeOptions::default());
    let mut delivered = 0;
    for piece in body.as_bytes().chunks(16 * 1024) {
        delivered += d.feed(piece).text.len();
    }
    assert_eq!(d.end().events, vec![StreamEvent::Truncated]);
    assert_eq!(d.chunk_count(), n);
    assert_eq!(d.text().len(), n as usize);
    assert_eq!(delivered, n as usize);
}

#[test]
fn without_accumulate_nothing_grows_but_every_feed_delivers() {
    let opts = DecodeOptions {
        accumulate: false,
        ..DecodeOptions::default()
    };
    let mut d = StreamDecoder::new(Protocol::Chat, opts);
    let piece = message(
        r#"{"id":"x","choices":[{"index":0,"delta":{"content":"0123456789","reasoning_content":"r","tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
    );
    for _ in 0..2_000 {
        let out = d.feed(piece.as_bytes());
        assert_eq!(out.text, "0123456789");
        assert_eq!(out.reasoning, "r");
        assert_eq!(out.events.len(), 1);
    }
    assert_eq!(d.text(), "");
    let snap: Value = serde_json::from_str(&d.snapshot_json()).unwrap();
    let m = &snap["choices"][0]["message"];
    assert_eq!(m["content"], Value::Null);
    assert!(m.get("reasoning_content").is_none());
    assert_eq!(m["tool_calls"][0]["function"]["arguments"], "");
    assert!(d.snapshot_json().len() < 300, "{}", d.snapshot_json());
}

#[test]
fn odd_inputs_never_panic_and_agree_with_the_old_path() {
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
        "{\"usage\":{\"prompt_tokens\":-3,\"total_tokens\":1e300}}",
        "{\"created\":-1}",
        "{\"error\":false}",
        "{\"error\":{}}",
        "{\"error\":[]}",
        "{\"object\":\"error\"}",
        "\u{0}",
        "{\"choices\":[{\"delta\":{\"content\":5}}]}",
        "{\"a\":\"\\ud800\"}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"\",\"function\":null}]}}]}",
    ];
    for data in inputs {
        for body in [message(data), format!("data: {data}")] {
            for protocol in [Protocol::Chat, Protocol::TextGeneration] {
                let want = old(protocol, body.as_bytes(), Limits::default());
                agrees_at_every_split(protocol, body.as_bytes(), &want, &body);
            }
        }
    }
}

// --- TGI ------------------------------------------------------------------------

#[test]
fn a_tgi_stream_skips_special_tokens_and_ends_at_generated_text() {
    let body: String = [
        r#"{"index":1,"token":{"id":1,"text":"Hi","logprob":-0.1,"special":false},"generated_text":null,"details":null}"#,
        r#"{"index":2,"token":{"id":2,"text":" there","logprob":0,"special":false},"generated_text":null,"details":null}"#,
        r#"{"index":3,"token":{"id":3,"text":"</s>","logprob":0,"special":true},"generated_text":"Hi there","details":{"finish_reason":"eos_token","generated_tokens":3,"input_length":4}}"#,
        r#"{"index":4,"token":{"id":4,"text":"late","special":false}}"#,
    ]
    .map(message)
    .concat();
    let r = run_as(Protocol::TextGeneration, &body);
    assert_eq!(r.run.seen.delivered, "Hi there");
    assert_eq!(r.run.seen.chunk_count, 3);
    assert_eq!(r.snap["generated_text"], "Hi there");
    assert_eq!(r.snap["details"]["generated_tokens"], 3);
    assert_eq!(r.run.seen.finish_reason.as_deref(), Some("eos_token"));
    assert!(!r.truncated());
    let u = r.run.seen.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (Some(4), Some(3)));
    assert_eq!(r.run.events.last(), Some(&StreamEvent::Done));
    assert!(r.has(&StreamEvent::Finish {
        choice: 0,
        reason: "eos_token".into()
    }));
}

#[test]
fn a_cut_tgi_stream_is_truncated_and_keeps_its_text() {
    let r = run_as(
        Protocol::TextGeneration,
        &message(r#"{"token":{"id":1,"text":"Par","special":false},"generated_text":null}"#),
    );
    assert!(r.truncated());
    assert_eq!(r.run.seen.text, "Par");
    assert_eq!(r.snap["generated_text"], "Par");
}

#[test]
fn tgi_errors_keep_their_type_as_the_code() {
    let r = run_as(
        Protocol::TextGeneration,
        &message(
            r#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#,
        ),
    );
    assert_eq!(r.error().code.as_deref(), Some("generation"));
    assert!(r.error().message.contains("CUDA out of memory"));
    for (body, kind) in [
        (
            "event: error\ndata: {\"error\":\"x\",\"error_type\":\"overloaded\"}\n\n",
            ErrorKind::Stream,
        ),
        ("data: {\"neither\":1}\n\n", ErrorKind::Parse),
        ("data: [1]\n\n", ErrorKind::Parse),
        ("data: {\"token\":5}\n\n", ErrorKind::Parse),
        ("data: nope\n\n", ErrorKind::Parse),
    ] {
        assert_eq!(
            run_as(Protocol::TextGeneration, body).error().kind,
            kind,
            "{body}"
        );
    }
}

#[test]
fn tgi_done_marker_and_unterminated_tail() {
    let tok = r#"{"token":{"id":1,"text":"a","special":false},"generated_text":null}"#;
    let r = run_as(
        Protocol::TextGeneration,
        &format!("{}data: [DONE]\n\n", message(tok)),
    );
    assert!(!r.truncated());
    let fin = r#"{"token":{"id":2,"text":"b","special":false},"generated_text":"ab"}"#;
    let r = run_as(
        Protocol::TextGeneration,
        &format!("{}data: {fin}", message(tok)),
    );
    assert!(!r.truncated());
    assert_eq!(r.run.seen.delivered, "ab");
    let r = run_as(
        Protocol::TextGeneration,
        &format!("{}data: {{\"tok", message(tok)),
    );
    assert!(r.truncated() && r.run.seen.error.is_none());
}

// --- SSE bounds ---------------------------------------------------------------------

#[test]
fn sse_bounds_are_stream_errors_after_what_came_before() {
    let opts = DecodeOptions {
        limits: Limits {
            max_line_bytes: 64,
            max_event_bytes: 1 << 20,
        },
        ..DecodeOptions::default()
    };
    let body = format!("{}data: {}\n\n", content_chunk(0, "ok"), "x".repeat(100));
    let mut d = StreamDecoder::new(Protocol::Chat, opts);
    let mut text = String::new();
    let mut events = Vec::new();
    for piece in body.as_bytes().chunks(1) {
        let out = d.feed(piece);
        text.push_str(&out.text);
        events.extend(out.events.iter().cloned());
    }
    // content_chunk's line is longer than 64 bytes too: the first line is the error.
    assert_eq!(text, "");
    let Some(StreamEvent::Error(e)) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(e.code.as_deref(), Some("line_too_long"));
    assert!(d.is_done());
    // Within the bound, the chunk before the bad line is delivered first.
    let opts = DecodeOptions {
        limits: Limits {
            max_line_bytes: 200,
            max_event_bytes: 200,
        },
        ..DecodeOptions::default()
    };
    let body = format!(
        "{}data: {}\ndata: {}\n\n",
        content_chunk(0, "ok"),
        "x".repeat(150),
        "y".repeat(150)
    );
    let mut d = StreamDecoder::new(Protocol::Chat, opts);
    let out = d.feed(body.as_bytes());
    assert_eq!(out.text, "ok");
    assert!(
        matches!(&out.events[..], [StreamEvent::Error(e)] if e.code.as_deref() == Some("event_too_large"))
    );
    let want = old(Protocol::Chat, body.as_bytes(), opts.limits);
    let got = new(
        Protocol::Chat,
        [body.as_bytes()],
        DecodeOptions {
            keep_chunks: true,
            ..opts
        },
    );
    assert_eq!(got.seen, want);
}

#[test]
fn bom_crlf_cr_and_split_utf8_decode_like_lf() {
    let lf = format!("{}{}", content_chunk(0, "é😀"), stop_chunk(0));
    let want = run(&lf).run.seen;
    for body in [
        format!("\u{feff}{lf}"),
        lf.replace('\n', "\r\n"),
        lf.replace('\n', "\r"),
    ] {
        let got = run(&body).run.seen;
        assert_eq!(got.delivered, want.delivered);
        assert_eq!(got.snapshot, want.snapshot);
    }
}
