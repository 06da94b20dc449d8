//! `decode::StreamDecoder` against the old `sse::Decoder` + `protocol::StreamState` path
//! (the oracle while it exists) on generated streams: random chat chunks and TGI events
//! (see support/json_gen.rs) written as SSE with random line endings, multi-line data,
//! comments, pings, error events, `[DONE]` or not and an unterminated tail, fed at
//! random split points. The snapshot, text, finish reason, usage, delivered text and
//! chunks, errors and truncation must all be the same.
// Native only: proptest.
#![cfg(not(target_arch = "wasm32"))]

use hf_inference_wasm::decode::DecodeOptions;
use hf_inference_wasm::protocol::Protocol;
use hf_inference_wasm::sse::Limits;
use proptest::prelude::*;

#[path = "support/json_gen.rs"]
mod json_gen;
#[path = "support/decode_oracle.rs"]
mod oracle;
use json_gen::{chat_chunk, render, tgi_event, J};
use oracle::{as_deltas, deltas, keeping, new, old, patching, pieces, values_of};

/// One SSE event around a payload.
#[derive(Debug, Clone)]
enum Piece {
    Data(J, u64),
    Done,
    Comment,
    Ping(J),
    ErrorEvent,
    Garbage,
}

fn piece(payload: BoxedStrategy<J>) -> impl Strategy<Value = Piece> {
    prop_oneof![
        20 => (payload.clone(), any::<u64>()).prop_map(|(j, s)| Piece::Data(j, s)),
        1 => Just(Piece::Done),
        2 => Just(Piece::Comment),
        1 => payload.prop_map(Piece::Ping),
        1 => Just(Piece::ErrorEvent),
        1 => Just(Piece::Garbage),
    ]
}

/// Write `pieces` as an SSE body with line ending `eol`; `tail`: the last event has no
/// blank line after it.
fn body(pieces: &[Piece], eol: &str, tail: bool) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Data(j, seed) => {
                // Newlines in the JSON become separate `data:` lines, joined back with
                // '\n' (whitespace) by the SSE decoder.
                let text = render(j, *seed).replace('\r', "\n");
                for line in text.split('\n') {
                    out.push_str("data: ");
                    out.push_str(line);
                    out.push_str(eol);
                }
            }
            Piece::Done => {
                out.push_str("data: [DONE]");
                out.push_str(eol);
            }
            Piece::Comment => {
                out.push_str(": keep-alive");
                out.push_str(eol);
            }
            Piece::Ping(j) => {
                out.push_str("event: ping");
                out.push_str(eol);
                out.push_str("data: ");
                out.push_str(&json_gen::compact(j));
                out.push_str(eol);
            }
            Piece::ErrorEvent => {
                out.push_str("event: error");
                out.push_str(eol);
                out.push_str("data: {\"error\":{\"message\":\"boom\",\"code\":\"x\"}}");
                out.push_str(eol);
            }
            Piece::Garbage => {
                out.push_str("data: {\"choices\": [");
                out.push_str(eol);
            }
        }
        if !(tail && i + 1 == pieces.len()) {
            out.push_str(eol);
        }
    }
    out
}

fn check(
    protocol: Protocol,
    body: &str,
    cuts: &[prop::sample::Index],
) -> Result<(), TestCaseError> {
    let bytes = body.as_bytes();
    let want = old(protocol, bytes, Limits::default());
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let got = new(protocol, pieces(bytes, &cuts), keeping());
    prop_assert_eq!(&got.seen, &want, "{:?} cuts {:?}", body, cuts);
    let whole = new(protocol, [bytes], keeping());
    prop_assert_eq!(&whole.events, &got.events);
    // Without accumulating, the same is delivered.
    let flat = new(
        protocol,
        pieces(bytes, &cuts),
        DecodeOptions {
            accumulate: false,
            keep_chunks: true,
            ..DecodeOptions::default()
        },
    );
    prop_assert_eq!(&flat.seen.delivered, &want.delivered);
    prop_assert_eq!(&flat.seen.chunks, &want.chunks);
    prop_assert_eq!(&flat.seen.error, &want.error);
    prop_assert_eq!(flat.seen.truncated, want.truncated);
    prop_assert_eq!(flat.seen.text.as_str(), "");
    // Chunks kept as changes of the one before make the same chunk objects.
    let patched = new(protocol, pieces(bytes, &cuts), patching());
    let seen = oracle::Seen {
        chunks: want.chunks.clone(),
        ..patched.seen.clone()
    };
    prop_assert_eq!(&seen, &want);
    prop_assert_eq!(&patched.values, &values_of(&want.chunks));
    // Keeping nothing (the decoder core's `ChatDecoder`), the same is delivered.
    let kept_nothing = deltas(protocol, pieces(bytes, &cuts));
    prop_assert_eq!(kept_nothing, as_deltas(&got));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn generated_chat_streams_decode_as_the_old_path_does(
        pieces in prop::collection::vec(piece(chat_chunk()), 0..8),
        eol in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        tail in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        check(Protocol::Chat, &body(&pieces, eol, tail), &cuts)?;
    }

    #[test]
    fn generated_tgi_streams_decode_as_the_old_path_does(
        pieces in prop::collection::vec(piece(tgi_event()), 0..8),
        eol in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        tail in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        check(Protocol::TextGeneration, &body(&pieces, eol, tail), &cuts)?;
    }

    #[test]
    fn well_formed_chat_streams_decode_as_the_old_path_does(
        chunks in prop::collection::vec((chat_chunk(), any::<u64>()), 1..10),
        done in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        // Only chunks that are not errors, so the stream runs to its end.
        let mut pieces: Vec<Piece> = chunks
            .into_iter()
            .filter(|(j, _)| !json_gen::to_value(j).get("error").is_some_and(|e| !e.is_null()))
            .map(|(j, s)| Piece::Data(j, s))
            .collect();
        if done {
            pieces.push(Piece::Done);
        }
        check(Protocol::Chat, &body(&pieces, "\n", false), &cuts)?;
    }
}

/// Chunks that differ from the one before in one string's value, in places a path must
/// get right: nested arrays, a key with an escape that names the same as the key after
/// it (the last one wins, so a change of the first changes nothing a parser keeps), a
/// `__proto__` key, a key with a quote, white space; keys the scan does not know, twice
/// (only the last counts). Raw JSON string contents.
const TEMPLATES: &[&str] = &[
    r#"{"id":"{0}","choices":[{"index":0,"delta":{"content":"{1}"},"finish_reason":null}],"usage":null,"x":{"y":["{2}",{"z":"{3}"}]}}"#,
    r#"{"choices":[{"index":0,"delta":{"con\u0074ent":"{0}","content":"{1}"}},{"index":1,"delta":{"content":"{2}"}}],"__proto__":"{3}"}"#,
    r#"{"x":"{0}","choices":[{"index":0,"delta":{"content":"","foo":"{1}","f\u006fo":"{2}"}}],"x":"{3}"}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{0}"}},{"index":1,"function":{"name":"{1}","arguments":"{2}"}}]}}],"model":"{3}"}"#,
    r#"{ "id" : "{0}" ,	"choices" : [ { "index" : 0 , "delta" : { "reasoning_content" : "{1}" , "content" : "{2}" } } ] , "k\"q" : "{3}" }"#,
];

fn string_text() -> impl Strategy<Value = String> {
    let parts = prop::sample::select(vec![
        "a",
        "é",
        " ",
        "😀",
        r"\n",
        r#"\""#,
        r"\\",
        r"\/",
        r"\u00e9",
        r"\ud83d\ude00",
        r"\u0000",
    ]);
    prop::collection::vec(parts, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn chunks_kept_as_changes_make_the_objects_json_parse_makes(
        template in prop::sample::select(TEMPLATES.to_vec()),
        first in prop::collection::vec(string_text(), 4),
        changes in prop::collection::vec((0..4usize, string_text()), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let chunk = |slots: &[String]| {
            let mut c = template.to_owned();
            for (i, s) in slots.iter().enumerate() {
                c = c.replace(&format!("{{{i}}}"), s);
            }
            format!("data: {c}\n\n")
        };
        let mut slots = first;
        let mut body = chunk(&slots);
        for (slot, text) in changes {
            slots[slot] = text;
            body.push_str(&chunk(&slots));
        }
        body.push_str("data: [DONE]\n\n");
        let bytes = body.as_bytes();
        let want = old(Protocol::Chat, bytes, Limits::default());
        prop_assert!(want.error.is_none(), "{:?}", want.error);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let run = new(Protocol::Chat, pieces(bytes, &cuts), patching());
        prop_assert_eq!(&run.values, &values_of(&want.chunks), "{}", body);
    }
}
