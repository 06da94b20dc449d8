//! What one attempt's response means, from its headers to its body.
//!
//! Owns: reading a response's status and headers (the shell hands them over as one
//! string of `name\nvalue\n` lines) into an [`Answer`]: who answered (request id,
//! provider), how to read the body (`crate::response::disposition`) and how much of it,
//! what a failed response's headers ask for (`retry-after`, ...); then what the body
//! read means: the completion to hand out, or the error it carries. Must never: read a
//! body, await, or touch JS; the shell reads what this says and hands the bytes back.

use crate::error::{Error, ErrorKind, MAX_ERROR_BODY_BYTES};
use crate::protocol::{Parsed, Protocol};
use crate::response::REQUEST_ID_HEADERS;
use crate::response::{disposition, not_a_stream, Disposition, PROVIDER_HEADER};
use crate::retry::ResponseHints;
use crate::{tgi, types};

/// The largest non-streamed completion body read.
pub const MAX_COMPLETION_BYTES: usize = 64 << 20;
/// The largest JSON body read where a stream was expected (it carries an error).
pub const MAX_JSON_INSTEAD_OF_STREAM: usize = 1 << 20;

/// One attempt's response as its headers describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub disposition: Disposition,
    pub request_id: Option<String>,
    pub provider: Option<String>,
    /// What a failed response's headers ask for; `default()` for any other response.
    pub hints: ResponseHints,
    /// The request asked for a stream.
    pub stream: bool,
}

impl Answer {
    /// A response with `status` and `headers` (`name\nvalue\n` per header, names in
    /// lower case as `Headers` iterates them) to a request that did (`stream`) or did
    /// not ask for a stream, at `now_ms` (for a `retry-after` date).
    pub fn read(status: u16, headers: &str, stream: bool, now_ms: f64) -> Answer {
        let pairs = || {
            let mut it = crate::error::split(headers, b'\n');
            std::iter::from_fn(move || Some((it.next()?, it.next()?)))
        };
        let header = |name: &str| {
            pairs()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_owned())
        };
        let disposition = disposition(status, header("content-type").as_deref(), stream);
        let hints = match disposition {
            Disposition::Error => ResponseHints::from_headers(pairs(), now_ms),
            _ => ResponseHints::default(),
        };
        Answer {
            status,
            disposition,
            request_id: REQUEST_ID_HEADERS.iter().find_map(|h| header(h)),
            provider: header(PROVIDER_HEADER),
            hints,
            stream,
        }
    }

    /// How many bytes of the body to read whole: none for an event stream (it is fed to
    /// the decoder as it arrives).
    pub fn body_limit(&self) -> usize {
        match self.disposition {
            Disposition::EventStream => 0,
            Disposition::Error => MAX_ERROR_BODY_BYTES,
            Disposition::Json if self.stream => MAX_JSON_INSTEAD_OF_STREAM,
            Disposition::Json => MAX_COMPLETION_BYTES,
        }
    }

    /// `e`, naming who answered.
    pub fn tag(&self, e: Error) -> Error {
        e.with_request_id(self.request_id.clone())
            .with_provider(self.provider.clone())
    }

    /// A body read whole: the completion's JSON text to hand out (a chat completion as
    /// the server wrote it, every field; a TGI answer in the core's one shape, since
    /// servers differ: an object or an array), or the error it carries. A streamed
    /// call's body read whole is always an error: it is not a stream.
    /// With the text comes the answer as read ([`Parsed`]), for its usage and
    /// cacheability without a second parse.
    pub fn completion(&self, protocol: Protocol, body: &str) -> Result<(String, Parsed), Error> {
        if self.disposition == Disposition::Error {
            return Err(self.tag(Error::http(self.status, body)));
        }
        let parsed = match protocol {
            Protocol::Chat => {
                types::parse_completion(body).map(|c| (body.to_owned(), Parsed::Chat(c)))
            }
            Protocol::TextGeneration => tgi::parse_text_generation(body)
                .map(|out| (out.to_json(), Parsed::TextGeneration(out))),
        };
        match parsed {
            Ok(_) if self.stream => Err(self.tag(not_a_stream(body))),
            Ok(read) => Ok(read),
            Err(e) => Err(self.tag(e)),
        }
    }

    /// The body could not be read whole (`e`, the read's error): the error to act on.
    /// An error response still names its status.
    pub fn unreadable(&self, e: Error) -> Error {
        match self.disposition {
            Disposition::Error if self.stream => Error::http(
                self.status,
                &format!("(the error body could not be read: {})", e.message),
            ),
            _ => self.tag(e),
        }
    }
}

/// The error for a chunk the decoder accepted that JavaScript's `JSON.parse` rejects (a
/// scanner bug), quoting it.
pub fn unparsable(data: &str) -> Error {
    let mut e = Error::new(
        ErrorKind::Parse,
        "a chunk the decoder accepted is not valid JSON for JavaScript",
    );
    e.body = Some(crate::error::cut(data, crate::error::MAX_QUOTED_DATA_BYTES).to_owned());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"extra":1}"#;

    #[test]
    fn headers_name_who_answered_and_how_to_read() {
        let a = Answer::read(
            200,
            "content-type\ntext/event-stream; charset=utf-8\nx-inference-provider\ntogether\nx-request-id\nr-1\n",
            true,
            0.0,
        );
        assert_eq!(a.disposition, Disposition::EventStream);
        assert_eq!(a.provider.as_deref(), Some("together"));
        assert_eq!(a.request_id.as_deref(), Some("r-1"));
        assert_eq!(a.body_limit(), 0);
        assert_eq!(a.hints, ResponseHints::default());
    }

    #[test]
    fn a_failed_response_keeps_what_its_headers_ask_for() {
        let a = Answer::read(429, "retry-after\n7\n", false, 0.0);
        assert_eq!(a.disposition, Disposition::Error);
        assert_eq!(a.body_limit(), MAX_ERROR_BODY_BYTES);
        assert_ne!(a.hints, ResponseHints::default());
        let e = a
            .completion(Protocol::Chat, r#"{"error":"slow down"}"#)
            .unwrap_err();
        assert_eq!(e.status, Some(429));
    }

    #[test]
    fn a_completion_goes_out_as_written_and_a_json_answer_to_a_stream_is_an_error() {
        let plain = Answer::read(200, "content-type\napplication/json\n", false, 0.0);
        assert_eq!(plain.body_limit(), MAX_COMPLETION_BYTES);
        let (text, parsed) = plain.completion(Protocol::Chat, COMPLETION).unwrap();
        assert_eq!(text, COMPLETION);
        // What it read is what the facts are read from: the same facts as from the text.
        assert_eq!(
            crate::protocol::answer_facts_of(parsed, Some(5)),
            crate::protocol::answer_facts(Protocol::Chat, COMPLETION, Some(5))
        );
        let stream = Answer::read(
            200,
            "content-type\napplication/json\nrequest-id\nq\n",
            true,
            0.0,
        );
        assert_eq!(stream.body_limit(), MAX_JSON_INSTEAD_OF_STREAM);
        let e = stream.completion(Protocol::Chat, COMPLETION).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parse);
        assert_eq!(e.request_id.as_deref(), Some("q"));
        // A JSON error body with status 200 is the error it carries.
        let e = stream
            .completion(
                Protocol::Chat,
                r#"{"error":{"message":"no streaming here"}}"#,
            )
            .unwrap_err();
        assert!(e.message.contains("no streaming here"), "{}", e.message);
    }

    #[test]
    fn a_tgi_answer_comes_out_in_one_shape() {
        let a = Answer::read(200, "", false, 0.0);
        let one = a
            .completion(Protocol::TextGeneration, r#"[{"generated_text":"x"}]"#)
            .unwrap();
        let two = a
            .completion(Protocol::TextGeneration, r#"{"generated_text":"x"}"#)
            .unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn an_unreadable_error_body_still_names_its_status() {
        let a = Answer::read(503, "", true, 0.0);
        let e = a.unreadable(Error::network("reset"));
        assert_eq!(e.status, Some(503));
        assert!(
            e.message
                .contains("could not be read: network error: reset"),
            "{}",
            e.message
        );
        let ok = Answer::read(200, "x-request-id\nz\n", false, 0.0);
        let e = ok.unreadable(Error::network("reset"));
        assert_eq!(e.status, None);
        assert_eq!(e.request_id.as_deref(), Some("z"));
    }
}
