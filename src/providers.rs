//! Where a request goes and what it carries.
//!
//! Owns: the chat URL for a base URL or a dedicated endpoint URL (normalized as the
//! official clients do), and the request headers (auth, content negotiation, the
//! caller's own). Must never: send a token anywhere the caller did not point it, or let
//! a header with a line break through (that would be header injection).
//!
//! Provider routing (named providers, policies, direct provider keys) grows here.

use crate::error::Error;

/// The Hugging Face router, the default base URL.
pub const DEFAULT_BASE_URL: &str = "https://router.huggingface.co";

/// Where chat completions go.
///
/// - `endpoint_url` set: a dedicated endpoint (TGI, vLLM, llama.cpp, an Inference
///   Endpoint, our proxy). `…/v1` becomes `…/v1/chat/completions`; a URL already ending
///   in `/chat/completions` is kept; any other path gets `/v1/chat/completions`.
/// - otherwise `{base_url}/v1/chat/completions`, `base_url` defaulting to the router.
///
/// A query string is kept after the path. Only `http:` and `https:` URLs are accepted.
pub fn chat_url(base_url: Option<&str>, endpoint_url: Option<&str>) -> Result<String, Error> {
    match (base_url, endpoint_url) {
        (Some(_), Some(_)) => Err(Error::input(
            "`baseUrl` and `endpointUrl` are both set: use `endpointUrl` for a dedicated endpoint, `baseUrl` for a router-compatible server, not both",
        )),
        (_, Some(endpoint)) => {
            let (path, query) = split_url(endpoint, "endpointUrl")?;
            let path = path.trim_end_matches('/');
            let full = if path.ends_with("/chat/completions") {
                path.to_owned()
            } else if path.ends_with("/v1") {
                format!("{path}/chat/completions")
            } else {
                format!("{path}/v1/chat/completions")
            };
            Ok(full + query)
        }
        (base, None) => {
            let (path, query) = split_url(base.unwrap_or(DEFAULT_BASE_URL), "baseUrl")?;
            Ok(format!("{}/v1/chat/completions{query}", path.trim_end_matches('/')))
        }
    }
}

/// `url` split into everything before the query and the query (with its `?`), after
/// checking it is an absolute http(s) URL with a host. `option` names the option in
/// errors.
fn split_url<'a>(url: &'a str, option: &str) -> Result<(&'a str, &'a str), Error> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::input(format!(
                "`{option}` must be an absolute http:// or https:// URL, got {url:?}"
            ))
        })?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..host_end].is_empty() {
        return Err(Error::input(format!("`{option}` has no host: {url:?}")));
    }
    // A fragment is never sent; drop it.
    let url = url.split('#').next().unwrap_or(url);
    Ok(match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    })
}

/// A fallback target as the caller wrote it: any of a model, a provider (becomes the
/// router's `model:provider` suffix), a dedicated endpoint or a base URL. What is left
/// out is the primary's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FallbackSpec {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub endpoint_url: Option<String>,
    pub base_url: Option<String>,
}

/// Where one target of a call sends its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// The request body for this target (the model may differ from the primary's).
    pub body: String,
    /// The model this target asks for, when the request names one.
    pub model: Option<String>,
    /// What its circuit breaker is keyed by: the provider when the model names one
    /// (`model:provider`), else the URL without its query.
    pub upstream: String,
}

impl Target {
    /// The primary target: `url` with the prepared `body`.
    pub fn primary(url: &str, body: &str) -> Target {
        let model = crate::types::model_of(body);
        Target {
            upstream: upstream_key(url, model.as_deref()),
            url: url.to_owned(),
            body: body.to_owned(),
            model,
        }
    }

    /// A fallback target derived from `primary` by `f`.
    pub fn fallback(primary: &Target, f: &FallbackSpec) -> Result<Target, Error> {
        let url = match (&f.endpoint_url, &f.base_url) {
            (None, None) => primary.url.clone(),
            (e, b) => chat_url(b.as_deref(), e.as_deref())?,
        };
        if let Some(p) = &f.provider {
            let ok = !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(Error::input(format!(
                    "`fallback[].provider` must be a provider name like \"together\", got {p:?}"
                )));
            }
        }
        let base = f.model.clone().or_else(|| primary.model.clone());
        let model = match (&base, &f.provider) {
            (Some(m), Some(p)) => Some(format!("{}:{p}", m.split(':').next().unwrap_or(m))),
            (Some(m), None) => Some(m.clone()),
            (None, Some(_)) => return Err(Error::input(
                "`fallback[].provider` needs a model: set `model` in the request or the fallback",
            )),
            (None, None) => None,
        };
        let body = match &model {
            Some(m) if Some(m) != primary.model.as_ref() => {
                crate::types::with_model(&primary.body, m)?
            }
            _ => primary.body.clone(),
        };
        Ok(Target {
            upstream: upstream_key(&url, model.as_deref()),
            url,
            body,
            model,
        })
    }
}

/// The breaker key of a request: the provider or policy suffix of `model:suffix`, else
/// the URL without its query.
pub fn upstream_key(url: &str, model: Option<&str>) -> String {
    if let Some((_, suffix)) = model.and_then(|m| m.rsplit_once(':')) {
        if !suffix.is_empty() && !suffix.contains('/') {
            return suffix.to_owned();
        }
    }
    url.split('?').next().unwrap_or(url).to_owned()
}

/// The headers of a chat request, in order: the caller's (`extra`, already merged client
/// then call), then ours. Ours win: `Authorization` from `token`, the content type, and
/// `Accept` for a stream. Never adds a header a browser forbids (`User-Agent`, ...).
pub fn chat_headers(
    token: Option<&str>,
    extra: &[(String, String)],
    stream: bool,
) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(extra.len() + 3);
    for (name, value) in extra {
        check_header(name, value)?;
        set(&mut out, name, value);
    }
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        if token.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Error::input(
                "`token` contains a line break or NUL; check how it was read",
            ));
        }
        set(&mut out, "authorization", &format!("Bearer {token}"));
    }
    set(&mut out, "content-type", "application/json");
    if !has(&out, "accept") {
        set(
            &mut out,
            "accept",
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        );
    }
    Ok(out)
}

fn has(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_ascii_lowercase(), value.to_owned()));
}

/// RFC 9110 field names are tokens; values may not hold CR, LF or NUL.
fn check_header(name: &str, value: &str) -> Result<(), Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(Error::input(format!(
            "`headers` has an invalid header name {name:?}"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::input(format!(
            "`headers.{name}` contains a line break or NUL"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: Option<&str>, endpoint: Option<&str>) -> String {
        chat_url(base, endpoint).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn default_is_the_router() {
        assert_eq!(
            url(None, None),
            "https://router.huggingface.co/v1/chat/completions"
        );
    }

    #[test]
    fn base_url_gets_the_chat_route() {
        assert_eq!(
            url(Some("http://127.0.0.1:8080/"), None),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            url(Some("http://h/prefix"), None),
            "http://h/prefix/v1/chat/completions"
        );
    }

    #[test]
    fn endpoint_v1_gets_chat_completions() {
        assert_eq!(
            url(None, Some("http://h:1/v1")),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            url(None, Some("http://h:1/v1/")),
            "http://h:1/v1/chat/completions"
        );
    }

    #[test]
    fn endpoint_other_path_gets_v1_chat_completions() {
        assert_eq!(
            url(None, Some("http://h:1")),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            url(None, Some("https://x.endpoints.huggingface.cloud/")),
            "https://x.endpoints.huggingface.cloud/v1/chat/completions"
        );
        assert_eq!(
            url(None, Some("http://h/models/m")),
            "http://h/models/m/v1/chat/completions"
        );
    }

    #[test]
    fn endpoint_already_complete_is_kept() {
        assert_eq!(
            url(None, Some("http://h/v1/chat/completions")),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            url(None, Some("http://h/openai/chat/completions/")),
            "http://h/openai/chat/completions"
        );
    }

    #[test]
    fn query_is_kept_after_the_path_and_fragment_dropped() {
        assert_eq!(
            url(None, Some("http://h/v1?api-version=2#x")),
            "http://h/v1/chat/completions?api-version=2"
        );
    }

    #[test]
    fn bad_urls_are_input_errors_naming_the_option() {
        for (b, e, name) in [
            (Some("ftp://x"), None, "baseUrl"),
            (None, Some("localhost:8080"), "endpointUrl"),
            (None, Some("http://"), "endpointUrl"),
        ] {
            let err = chat_url(b, e).expect_err("must fail");
            assert_eq!(err.kind, crate::ErrorKind::Input);
            assert!(err.message.contains(name), "{}", err.message);
        }
        assert!(chat_url(Some("http://a"), Some("http://b")).is_err());
    }

    fn primary() -> Target {
        Target::primary(
            "http://h/v1/chat/completions",
            r#"{"model":"org/m","messages":[]}"#,
        )
    }

    #[test]
    fn primary_is_keyed_by_url_or_provider() {
        assert_eq!(primary().upstream, "http://h/v1/chat/completions");
        assert_eq!(primary().model.as_deref(), Some("org/m"));
        let t = Target::primary(
            "http://h/v1/chat/completions?x=1",
            r#"{"model":"org/m:together","messages":[]}"#,
        );
        assert_eq!(t.upstream, "together");
    }

    #[test]
    fn fallback_provider_becomes_the_model_suffix() {
        let f = FallbackSpec {
            provider: Some("fireworks-ai".into()),
            ..Default::default()
        };
        let t = Target::fallback(&primary(), &f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.model.as_deref(), Some("org/m:fireworks-ai"));
        assert_eq!(t.upstream, "fireworks-ai");
        assert!(
            t.body.contains(r#""model":"org/m:fireworks-ai""#),
            "{}",
            t.body
        );
        assert_eq!(t.url, primary().url);
    }

    #[test]
    fn fallback_model_and_endpoint_replace_the_primary() {
        let f = FallbackSpec {
            model: Some("org/small".into()),
            endpoint_url: Some("http://other:1/v1".into()),
            ..Default::default()
        };
        let t = Target::fallback(&primary(), &f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.url, "http://other:1/v1/chat/completions");
        assert!(t.body.contains(r#""model":"org/small""#));
        assert!(t.body.contains(r#""messages":[]"#));
    }

    #[test]
    fn fallback_rejects_a_bad_provider_name_and_a_provider_without_model() {
        let f = FallbackSpec {
            provider: Some("Bad Name".into()),
            ..Default::default()
        };
        assert!(Target::fallback(&primary(), &f).is_err());
        let no_model = Target::primary("http://h/v1/chat/completions", r#"{"messages":[]}"#);
        let f = FallbackSpec {
            provider: Some("together".into()),
            ..Default::default()
        };
        assert!(Target::fallback(&no_model, &f).is_err());
    }

    #[test]
    fn headers_carry_token_and_content_negotiation() {
        let h = chat_headers(Some("hf_abc"), &[], true).unwrap_or_default();
        assert!(h.contains(&("authorization".into(), "Bearer hf_abc".into())));
        assert!(h.contains(&("accept".into(), "text/event-stream".into())));
        assert!(h.contains(&("content-type".into(), "application/json".into())));
        let h = chat_headers(None, &[], false).unwrap_or_default();
        assert!(!h.iter().any(|(n, _)| n == "authorization"));
        assert!(h.contains(&("accept".into(), "application/json".into())));
    }

    #[test]
    fn token_wins_over_a_caller_authorization_header() {
        let extra = vec![
            ("Authorization".to_owned(), "Bearer other".to_owned()),
            ("X-Trace".to_owned(), "1".to_owned()),
        ];
        let h = chat_headers(Some("hf_t"), &extra, false).unwrap_or_default();
        assert_eq!(h.iter().filter(|(n, _)| n == "authorization").count(), 1);
        assert!(h.contains(&("authorization".into(), "Bearer hf_t".into())));
        assert!(h.contains(&("x-trace".into(), "1".into())));
    }

    #[test]
    fn header_injection_is_refused() {
        let bad = vec![("x-a".to_owned(), "v\r\nx-evil: 1".to_owned())];
        assert!(chat_headers(None, &bad, false).is_err());
        let bad = vec![("bad name".to_owned(), "v".to_owned())];
        assert!(chat_headers(None, &bad, false).is_err());
        let err = chat_headers(Some("hf\n"), &[], false).expect_err("must fail");
        assert!(!err.message.contains("hf\n"));
    }
}
