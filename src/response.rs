//! What an HTTP response means before its body is read.
//!
//! Owns: the decision "is this an error, an event stream or a JSON body?" from the
//! status and content type, which response headers name the request, and the error for a
//! response that is not what was asked for. Must never: read a body or touch JS; the
//! shell asks here and then reads.

use crate::error::{cut, Error, ErrorKind, MAX_QUOTED_DATA_BYTES};

/// How the shell must read a response's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A non-2xx status: read the body (bounded) into an [`Error::http`].
    Error,
    /// An event stream: feed the body to the SSE decoder as it arrives.
    EventStream,
    /// One JSON document: a completion, or an error some servers send with status 200.
    Json,
}

/// The disposition of a response to a request that did (`stream`) or did not ask for a
/// stream. A stream answered with JSON is read as JSON: servers that refuse to stream
/// say why in a JSON body. A stream with no content type is read as a stream.
pub fn disposition(status: u16, content_type: Option<&str>, stream: bool) -> Disposition {
    if !(200..300).contains(&status) {
        return Disposition::Error;
    }
    let ct = content_type.unwrap_or("").trim().to_ascii_lowercase();
    if !stream {
        return Disposition::Json;
    }
    if ct.is_empty() || ct.starts_with("text/event-stream") {
        Disposition::EventStream
    } else {
        Disposition::Json
    }
}

/// Response headers that carry a request id, most specific first.
pub const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "request-id", "x-amzn-requestid"];

/// Response header in which the router names the provider that served the call.
pub const PROVIDER_HEADER: &str = "x-inference-provider";

/// The error for a 2xx JSON body received where a stream was requested and the body is
/// no error either.
pub fn not_a_stream(body: &str) -> Error {
    let mut e = Error::new(
        ErrorKind::Parse,
        "the server answered a streaming request with a JSON body instead of an event stream; check that the endpoint supports `stream: true`",
    );
    e.body = Some(cut(body, MAX_QUOTED_DATA_BYTES).to_owned());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_2xx_is_an_error_whatever_the_type() {
        assert_eq!(
            disposition(404, Some("text/event-stream"), true),
            Disposition::Error
        );
        assert_eq!(disposition(500, None, false), Disposition::Error);
        assert_eq!(disposition(199, None, false), Disposition::Error);
    }

    #[test]
    fn stream_requests_read_event_streams() {
        assert_eq!(
            disposition(200, Some("text/event-stream; charset=utf-8"), true),
            Disposition::EventStream
        );
        assert_eq!(
            disposition(200, Some("Text/Event-Stream"), true),
            Disposition::EventStream
        );
        assert_eq!(disposition(200, None, true), Disposition::EventStream);
    }

    #[test]
    fn a_stream_answered_with_json_is_read_as_json() {
        assert_eq!(
            disposition(200, Some("application/json"), true),
            Disposition::Json
        );
    }

    #[test]
    fn non_stream_requests_read_json() {
        assert_eq!(
            disposition(200, Some("application/json; charset=utf-8"), false),
            Disposition::Json
        );
        assert_eq!(
            disposition(201, Some("text/plain"), false),
            Disposition::Json
        );
    }
}
