//! The shell really streams through `fetch` and `ReadableStream`, in Node, headless
//! Chromium and headless Firefox, from the loopback fixture server
//! (`tests/fixture-server/server.mjs`).
//!
//! The server's URL is fixed at build time from `FIXTURE_URL` (`make test-wasm` starts
//! the server and sets it). The same file runs in every runtime: Node by default, a
//! browser with `WASM_BINDGEN_USE_BROWSER=1` and the driver named (`CHROMEDRIVER=…` or
//! `GECKODRIVER=…`; scripts/test-all.sh names one per layer).
#![cfg(target_arch = "wasm32")]

use hf_inference_wasm::web::{ChatStream, InferenceClient};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

fn fixture(path: &str) -> String {
    let Some(base) = option_env!("FIXTURE_URL") else {
        panic!("FIXTURE_URL must be set at build time: run `make test-wasm`, which starts the fixture server")
    };
    format!("{base}{path}")
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).expect("set on a plain object");
    }
    o.into()
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |acc, key| {
        let key: JsValue = key
            .parse::<u32>()
            .map(JsValue::from)
            .unwrap_or_else(|_| JsValue::from_str(key));
        Reflect::get(&acc, &key).unwrap_or(JsValue::UNDEFINED)
    })
}

fn client(endpoint: &str, extra: &[(&str, JsValue)]) -> InferenceClient {
    let mut pairs = vec![("endpointUrl", JsValue::from_str(&fixture(endpoint)))];
    pairs.extend(extra.iter().cloned());
    InferenceClient::new(obj(&pairs)).unwrap_or_else(|e| panic!("client: {e:?}"))
}

fn request(text: &str) -> JsValue {
    let msg = obj(&[("role", "user".into()), ("content", text.into())]);
    let messages = js_sys::Array::of1(&msg);
    obj(&[
        ("model", "test-model".into()),
        ("messages", messages.into()),
    ])
}

async fn await_ok(p: Promise) -> JsValue {
    JsFuture::from(p)
        .await
        .unwrap_or_else(|e| panic!("rejected: {}", describe(&e)))
}

async fn await_err(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => e,
    }
}

fn describe(e: &JsValue) -> String {
    format!(
        "{} ({})",
        get(e, "message").as_string().unwrap_or_default(),
        get(e, "kind").as_string().unwrap_or_default()
    )
}

/// Iterate with `next()`, joining choice 0's content deltas.
async fn iterate_text(stream: &ChatStream) -> (String, usize) {
    let mut text = String::new();
    let mut chunks = 0;
    loop {
        let step = await_ok(stream.next()).await;
        if get(&step, "done").is_truthy() {
            return (text, chunks);
        }
        chunks += 1;
        if let Some(s) = get(&get(&step, "value"), "choices.0.delta.content").as_string() {
            text.push_str(&s);
        }
    }
}

#[wasm_bindgen_test]
async fn stream_text_is_identical_at_every_split() {
    let req = request("tell me about emoji");
    let whole = client("/script/emoji", &[])
        .chat_completion_stream(req.clone(), JsValue::UNDEFINED)
        .expect("stream");
    let (expected, _) = iterate_text(&whole).await;
    assert!(
        expected.contains('🦀') && expected.contains("日本語"),
        "script text: {expected:?}"
    );
    for split in [
        "/split/1",
        "/split/2",
        "/split/3",
        "/split/random/7",
        "/split/random/42/delay/1",
    ] {
        let c = client(&format!("{split}/script/emoji"), &[]);
        let s = c
            .chat_completion_stream(req.clone(), JsValue::UNDEFINED)
            .expect("stream");
        let (text, chunks) = iterate_text(&s).await;
        assert_eq!(text, expected, "split {split}");
        assert!(chunks > 3, "split {split}: {chunks} chunks");
    }
}

#[wasm_bindgen_test]
async fn final_completion_matches_the_non_streamed_answer() {
    let c = client("/split/5", &[]);
    let req = request("What is streaming?");
    let s = c
        .chat_completion_stream(req.clone(), JsValue::UNDEFINED)
        .expect("stream");
    let streamed = await_ok(s.final_completion()).await;
    let plain = await_ok(c.chat_completion(req, JsValue::UNDEFINED)).await;
    let a = get(&streamed, "choices.0.message.content")
        .as_string()
        .expect("streamed text");
    let b = get(&plain, "choices.0.message.content")
        .as_string()
        .expect("plain text");
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(
        get(&streamed, "choices.0.finish_reason")
            .as_string()
            .as_deref(),
        Some("stop")
    );
    assert!(
        get(&streamed, "usage.total_tokens")
            .as_f64()
            .is_some_and(|t| t > 0.0),
        "usage from the final chunk"
    );
}

#[wasm_bindgen_test]
async fn http_error_is_an_inference_error_with_status_and_request_id() {
    let c = client("/status/404", &[("token", "hf_wasm_test_secret".into())]);
    let e = await_err(c.chat_completion(request("x"), JsValue::UNDEFINED)).await;
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(
        get(&e, "name").as_string().as_deref(),
        Some("InferenceError")
    );
    assert_eq!(get(&e, "kind").as_string().as_deref(), Some("http"));
    assert_eq!(get(&e, "status").as_f64(), Some(404.0));
    assert_eq!(get(&e, "requestId").as_string().as_deref(), Some("req-404"));
    let msg = get(&e, "message").as_string().unwrap_or_default();
    assert!(msg.contains("scripted 404"), "{msg}");
    assert!(!msg.contains("hf_wasm_test_secret"));
}

#[wasm_bindgen_test]
async fn first_chunk_timeout_names_itself() {
    let timeouts = obj(&[("firstChunk", 150.into())]);
    let c = client("/fault/stall-first-chunk", &[("timeouts", timeouts)]);
    let s = c
        .chat_completion_stream(request("x"), JsValue::UNDEFINED)
        .expect("stream");
    let e = await_err(s.next()).await;
    assert_eq!(
        get(&e, "kind").as_string().as_deref(),
        Some("timeout"),
        "{}",
        describe(&e)
    );
    assert_eq!(
        get(&e, "timeout").as_string().as_deref(),
        Some("firstChunk")
    );
}

/// The error's `timeout` field, after checking it is a timeout.
fn timeout_name(e: &JsValue) -> Option<String> {
    assert_eq!(
        get(e, "kind").as_string().as_deref(),
        Some("timeout"),
        "{}",
        describe(e)
    );
    get(e, "timeout").as_string()
}

/// Whether this runs in Firefox, whose `fetch()` resolves only with the first body bytes.
fn in_firefox() -> bool {
    let ua = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .ok()
        .filter(|n| n.is_object())
        .and_then(|n| Reflect::get(&n, &JsValue::from_str("userAgent")).ok())
        .and_then(|ua| ua.as_string())
        .unwrap_or_default();
    ua.contains("Firefox/")
}

#[wasm_bindgen_test]
async fn headers_timeout_names_itself() {
    let timeouts = obj(&[("headers", 150.into())]);
    let c = client(
        "/fault/stall-headers",
        &[("timeouts", timeouts), ("retry", false.into())],
    );
    let s = c
        .chat_completion_stream(request("x"), JsValue::UNDEFINED)
        .expect("stream");
    let e = await_err(s.next()).await;
    assert_eq!(timeout_name(&e).as_deref(), Some("headers"));
}

#[wasm_bindgen_test]
async fn total_timeout_names_itself() {
    // A stream paced 100 ms a chunk, bounded to 300 ms in all.
    let timeouts = obj(&[("total", 300.into())]);
    let c = client(
        "/pace/100",
        &[("timeouts", timeouts), ("retry", false.into())],
    );
    let s = c
        .chat_completion_stream(request("tell me a long story"), JsValue::UNDEFINED)
        .expect("stream");
    let e = await_err(s.final_completion()).await;
    assert_eq!(timeout_name(&e).as_deref(), Some("total"));
}

#[wasm_bindgen_test]
async fn a_non_streamed_answer_slower_than_first_chunk_is_not_cut_in_any_engine() {
    // Headers (with the whole answer) after 400 ms, `firstChunk` 150 ms: the wait for a
    // non-streamed answer is the headers wait everywhere, Firefox included.
    let timeouts = obj(&[("headers", 5000.into()), ("firstChunk", 150.into())]);
    let c = client(
        "/fault/slow-headers/400",
        &[("timeouts", timeouts), ("retry", false.into())],
    );
    let done = await_ok(c.chat_completion(request("x"), JsValue::UNDEFINED)).await;
    assert!(get(&done, "choices.0.message.content")
        .as_string()
        .is_some());
}

#[wasm_bindgen_test]
async fn where_fetch_waits_for_the_body_a_streams_first_chunk_wait_counts_from_the_request() {
    // Headers after 400 ms, then the stream at once; `firstChunk` 150 ms. Where `fetch()`
    // resolves at the headers (Node, Chromium) the first chunk is 0 ms after them: the
    // stream is whole. Firefox shows no headers before the first bytes, so there the
    // first-chunk wait runs from the request and fires (DESIGN.md, "Firefox").
    let timeouts = obj(&[("headers", 5000.into()), ("firstChunk", 150.into())]);
    let c = client(
        "/fault/slow-headers/400",
        &[("timeouts", timeouts), ("retry", false.into())],
    );
    let s = c
        .chat_completion_stream(request("x"), JsValue::UNDEFINED)
        .expect("stream");
    let result = JsFuture::from(s.final_completion()).await;
    if in_firefox() {
        let e = result.expect_err("Firefox: the first-chunk wait counts from the request");
        assert_eq!(timeout_name(&e).as_deref(), Some("firstChunk"));
    } else {
        let done = result.unwrap_or_else(|e| panic!("rejected: {}", describe(&e)));
        assert!(get(&done, "choices.0.message.content")
            .as_string()
            .is_some());
    }
}

#[wasm_bindgen_test]
async fn idle_timeout_keeps_the_partial_text() {
    let timeouts = obj(&[("idle", 150.into())]);
    let c = client("/fault/stall-mid", &[("timeouts", timeouts)]);
    let s = c
        .chat_completion_stream(request("x"), JsValue::UNDEFINED)
        .expect("stream");
    let e = await_err(s.final_completion()).await;
    assert_eq!(
        get(&e, "timeout").as_string().as_deref(),
        Some("idle"),
        "{}",
        describe(&e)
    );
    let partial = get(&e, "partial.choices.0.message.content")
        .as_string()
        .unwrap_or_default();
    assert!(!partial.is_empty(), "the chunks before the stall are kept");
}

#[wasm_bindgen_test]
async fn abort_signal_ends_the_stream_with_the_partial_text() {
    let controller = web_sys::AbortController::new().expect("AbortController");
    let c = client("/fault/stall-mid", &[]);
    let opts = obj(&[("signal", controller.signal().into())]);
    let s = c
        .chat_completion_stream(request("x"), opts)
        .expect("stream");
    let first = await_ok(s.next()).await;
    assert!(!get(&first, "done").is_truthy());
    controller.abort();
    let rest = await_ok(s.next()).await;
    assert!(
        get(&rest, "done").is_truthy(),
        "an abort ends iteration normally"
    );
    assert!(s.ended());
    let partial = await_ok(s.final_completion()).await;
    assert!(get(&partial, "choices").is_object());
}

#[wasm_bindgen_test]
async fn wrong_option_types_are_input_errors_naming_the_option() {
    let e = InferenceClient::new(obj(&[("timeouts", obj(&[("idle", "soon".into())]))]))
        .err()
        .expect("must fail");
    assert_eq!(get(&e, "kind").as_string().as_deref(), Some("input"));
    assert!(get(&e, "message")
        .as_string()
        .unwrap_or_default()
        .contains("timeouts.idle"));
    let c = client("", &[]);
    let bad = obj(&[("messages", "hi".into())]);
    let e = c
        .chat_completion_stream(bad, JsValue::UNDEFINED)
        .err()
        .expect("must fail");
    assert!(
        get(&e, "message")
            .as_string()
            .unwrap_or_default()
            .contains("messages"),
        "{}",
        describe(&e)
    );
}

/// A fault key unique to this run (Node and Chromium share one fixture server).
fn fault_key() -> String {
    format!("w{}", (js_sys::Math::random() * 1e12) as u64)
}

#[wasm_bindgen_test]
async fn a_503_is_retried_before_anything_was_delivered() {
    let retry = obj(&[("baseDelayMs", 20.into())]);
    let c = client(
        &format!("/fault/503-then-ok/{}/2", fault_key()),
        &[("retry", retry)],
    );
    let s = c
        .chat_completion_stream(request("retry me"), JsValue::UNDEFINED)
        .expect("stream");
    let (text, _) = iterate_text(&s).await;
    assert!(text.contains("retry me"), "{text:?}");
}

#[wasm_bindgen_test]
async fn giving_up_lists_every_attempt() {
    let retry = obj(&[("baseDelayMs", 10.into()), ("maxRetries", 1.into())]);
    let c = client(
        &format!("/fault/500-always/{}", fault_key()),
        &[("retry", retry)],
    );
    let e = await_err(c.chat_completion(request("x"), JsValue::UNDEFINED)).await;
    assert_eq!(get(&e, "status").as_f64(), Some(500.0));
    assert_eq!(
        get(&e, "attempts.length").as_f64(),
        Some(2.0),
        "{}",
        describe(&e)
    );
}

#[wasm_bindgen_test]
async fn abort_during_the_backoff_sleep_ends_the_call() {
    // The server asks for a 20 s wait; the test runner's own timeout would catch a sleep
    // that the signal did not cut short.
    let controller = web_sys::AbortController::new().expect("AbortController");
    let c = client(
        &format!("/fault/429-retry-after-seconds/{}/3/20", fault_key()),
        &[],
    );
    let opts = obj(&[("signal", controller.signal().into())]);
    let p = c.chat_completion(request("x"), opts);
    let abort = wasm_bindgen::closure::Closure::once_into_js(move || controller.abort());
    let set_timeout =
        Reflect::get(&js_sys::global(), &JsValue::from_str("setTimeout")).expect("setTimeout");
    let set_timeout: js_sys::Function = set_timeout.dyn_into().expect("a function");
    set_timeout
        .call2(&JsValue::UNDEFINED, &abort, &100.into())
        .expect("armed");
    let e = await_err(p).await;
    assert_eq!(
        get(&e, "kind").as_string().as_deref(),
        Some("aborted"),
        "{}",
        describe(&e)
    );
}

// The decoder core alone (`ChatDecoder`, the `decoder` feature benches/size.mjs measures):
// the same bytes in pieces of every size give the same text, a split UTF-8 character
// included, and the events that matter come out.
#[wasm_bindgen_test]
fn decoder_core_alone_reads_any_split() {
    let body = concat!(
        "\u{feff}data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\u{e9}\"}}]}\r\n\r\n",
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llo \u{1f600}\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    )
    .as_bytes();
    for piece in [1, 2, 3, 7, body.len()] {
        let mut d = hf_inference_wasm::web::ChatDecoder::new(false);
        let mut text = String::new();
        for part in body.chunks(piece) {
            text.push_str(&d.feed(part));
        }
        text.push_str(&d.end());
        assert_eq!(text, "h\u{e9}llo \u{1f600}", "pieces of {piece}");
        assert_eq!(d.finish_reason().as_deref(), Some("stop"));
        assert!(d.done() && !d.truncated() && d.error().is_none());
    }
}

// Bad JSON in the middle: the text before it stays delivered, the error names the cause,
// nothing after it is decoded; a body cut short is reported truncated.
#[wasm_bindgen_test]
fn decoder_core_alone_keeps_text_before_an_error() {
    let mut d = hf_inference_wasm::web::ChatDecoder::new(false);
    let first = d.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\ndata: {\"choices\":[\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lost\"}}]}\n\n");
    assert_eq!(first, "ok");
    assert!(d.done());
    let message = d.error().expect("an error for the bad chunk");
    assert!(
        message.contains("JSON") || message.contains("chunk"),
        "{message}"
    );
    assert_eq!(
        d.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"),
        ""
    );

    let mut cut = hf_inference_wasm::web::ChatDecoder::new(false);
    assert_eq!(
        cut.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n"),
        "par"
    );
    assert_eq!(cut.end(), "");
    assert!(cut.truncated() && cut.error().is_none());
}
