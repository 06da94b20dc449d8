//! Where a request goes and what it carries.
//!
//! Owns: the chat URL for a base URL or a dedicated endpoint URL (normalized as the
//! official clients do), the request headers (auth, content negotiation, the caller's
//! own), the table of the router's providers ([`PROVIDERS`]) and the routing decision
//! for a chat call ([`route_chat`]: router, named provider, policy, direct provider key,
//! dedicated endpoint). Must never: send a token anywhere the caller did not point it
//! (an HF token goes only to the router or the caller's own `baseUrl`/`endpointUrl`; a
//! provider key only to that provider's own host or the caller's own non-Hugging-Face
//! URL), send `X-HF-Bill-To` to anyone but a router, or let a header with a line break
//! through (that would be header injection).
//!
//! The routing rules follow the official clients (`huggingface_hub`'s
//! `inference/_providers/`, `@huggingface/inference`'s `providers/`): an `hf_` token goes
//! through the router, any other key goes straight to the provider named, with the
//! provider's own model id from the Hub mapping (see [`crate::hub`]).

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

/// Where the model list is: `{endpoint or base}/v1/models` (the router by default). An
/// endpoint URL copied with a route on it (`/v1`, `/v1/chat/completions`) has it
/// replaced; a query is kept.
pub fn models_url(base_url: Option<&str>, endpoint_url: Option<&str>) -> Result<String, Error> {
    let chat = chat_url(base_url, endpoint_url)?;
    let (path, query) = split_url(&chat, "baseUrl")?;
    let mut root = path.strip_suffix("/chat/completions").unwrap_or(path);
    // `trim_end_matches("/v1")`, without the reverse substring searcher it compiles.
    while let Some(r) = root.strip_suffix("/v1") {
        root = r;
    }
    Ok(format!("{root}/v1/models{query}"))
}

/// `url` split into everything before the query and the query (with its `?`), after
/// checking it is an absolute http(s) URL with a host. `option` names the option in
/// errors.
pub(crate) fn split_url<'a>(url: &'a str, option: &str) -> Result<(&'a str, &'a str), Error> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::input(format!(
                "`{option}` must be an absolute http:// or https:// URL, got {url:?}"
            ))
        })?;
    let host_end = authority_end(rest);
    if rest[..host_end].is_empty() {
        return Err(Error::input(format!("`{option}` has no host: {url:?}")));
    }
    // A fragment is never sent; drop it.
    let url = crate::error::before(url, b'#');
    Ok(match crate::error::find_byte(url, b'?') {
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
            (Some(m), Some(p)) => Some(format!("{}:{p}", crate::error::before(m, b':'))),
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
    if let Some((_, suffix)) = model.and_then(|m| crate::error::rsplit_once(m, b':')) {
        if !suffix.is_empty() && !suffix.contains('/') {
            return suffix.to_owned();
        }
    }
    crate::error::before(url, b'?').to_owned()
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
    drop_header(headers, name);
    headers.push((name.to_ascii_lowercase(), value.to_owned()));
}

/// `headers` without those named `name` (in any case). One function for every caller:
/// each `retain` with its own closure was a copy of `retain`'s loop in the wasm.
#[inline(never)]
pub(crate) fn drop_header(headers: &mut Vec<(String, String)>, name: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
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

// ---------------------------------------------------------------------------------
// The router's providers
// ---------------------------------------------------------------------------------

/// Where a [`ProviderInfo`] entry's direct URL comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Seen in a recorded response in `tests/fixtures/` (direct call or the router's
    /// per-provider path) and in the official clients' source.
    Recorded,
    /// Read from the official clients' source (`huggingface_hub`
    /// `inference/_providers/*.py`, `@huggingface/inference` `providers/*.ts`); no
    /// recording of a direct call.
    Client,
}

/// One provider the Hugging Face router serves.
#[derive(Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The name the router and the Hub use (`"together"`, `"fireworks-ai"`).
    pub name: &'static str,
    /// The provider's own API origin, for calls made with the provider's own key.
    pub base_url: &'static str,
    /// The OpenAI-compatible chat route on `base_url`; `None` for providers the router
    /// lists for other tasks only (images, video, speech).
    pub chat_route: Option<&'static str>,
    /// Whether the provider can be called directly with its own key. `false` for
    /// `hf-inference`, which is Hugging Face's own and takes only HF tokens.
    pub provider_keys: bool,
    /// Headers the official clients add to direct calls (Z.ai's channel header).
    pub direct_headers: &'static [(&'static str, &'static str)],
    pub source: Source,
}

impl ProviderInfo {
    /// The direct chat URL (`base_url` + `chat_route`), when the provider serves chat.
    pub fn direct_chat_url(&self) -> Option<String> {
        self.chat_route.map(|r| format!("{}{r}", self.base_url))
    }
}

const fn chat(
    name: &'static str,
    base_url: &'static str,
    route: &'static str,
    source: Source,
) -> ProviderInfo {
    ProviderInfo {
        name,
        base_url,
        chat_route: Some(route),
        provider_keys: true,
        direct_headers: &[],
        source,
    }
}

const fn no_chat(name: &'static str, base_url: &'static str, source: Source) -> ProviderInfo {
    ProviderInfo {
        name,
        base_url,
        chat_route: None,
        provider_keys: true,
        direct_headers: &[],
        source,
    }
}

/// Every provider this version knows, sorted by name. Names the Hub mapping returns
/// that are not here are skipped, not errors (see [`crate::hub`]).
///
/// Sources (see [`Source`]): `Recorded` entries appear as direct calls in
/// `tests/fixtures/provider-recordings.json` (Together, Fireworks, Cerebras, Cohere,
/// Novita, SambaNova, Hyperbolic, Nebius, Replicate, fal) and as the router's
/// per-provider paths in `router-recordings.json`. `Client` entries are read from the
/// official clients' source only and are not verified against a live call.
pub static PROVIDERS: &[ProviderInfo] = &[
    chat(
        "baseten",
        "https://inference.baseten.co",
        "/v1/chat/completions",
        Source::Client,
    ),
    no_chat(
        "black-forest-labs",
        "https://api.us1.bfl.ai",
        Source::Client,
    ),
    chat(
        "cerebras",
        "https://api.cerebras.ai",
        "/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "clarifai",
        "https://api.clarifai.com",
        "/v2/ext/openai/v1/chat/completions",
        Source::Client,
    ),
    chat(
        "cohere",
        "https://api.cohere.com",
        "/compatibility/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "deepinfra",
        "https://api.deepinfra.com",
        "/v1/openai/chat/completions",
        Source::Client,
    ),
    no_chat("fal-ai", "https://fal.run", Source::Recorded),
    chat(
        "featherless-ai",
        "https://api.featherless.ai",
        "/v1/chat/completions",
        Source::Client,
    ),
    chat(
        "fireworks-ai",
        "https://api.fireworks.ai",
        "/inference/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "groq",
        "https://api.groq.com",
        "/openai/v1/chat/completions",
        Source::Client,
    ),
    ProviderInfo {
        name: "hf-inference",
        // Hugging Face's own: reached only through the router, with an HF token.
        base_url: DEFAULT_BASE_URL,
        chat_route: Some("/v1/chat/completions"),
        provider_keys: false,
        direct_headers: &[],
        source: Source::Recorded,
    },
    chat(
        "hyperbolic",
        "https://api.hyperbolic.xyz",
        "/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "nebius",
        "https://api.studio.nebius.ai",
        "/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "novita",
        "https://api.novita.ai",
        "/v3/openai/chat/completions",
        Source::Recorded,
    ),
    chat(
        "nscale",
        "https://inference.api.nscale.com",
        "/v1/chat/completions",
        Source::Client,
    ),
    chat(
        "ovhcloud",
        "https://oai.endpoints.kepler.ai.cloud.ovh.net",
        "/v1/chat/completions",
        Source::Client,
    ),
    chat(
        "publicai",
        "https://api.publicai.co",
        "/v1/chat/completions",
        Source::Client,
    ),
    no_chat("replicate", "https://api.replicate.com", Source::Recorded),
    chat(
        "sambanova",
        "https://api.sambanova.ai",
        "/v1/chat/completions",
        Source::Recorded,
    ),
    chat(
        "scaleway",
        "https://api.scaleway.ai",
        "/v1/chat/completions",
        Source::Client,
    ),
    chat(
        "together",
        "https://api.together.xyz",
        "/v1/chat/completions",
        Source::Recorded,
    ),
    no_chat("wavespeed", "https://api.wavespeed.ai", Source::Client),
    ProviderInfo {
        name: "zai-org",
        base_url: "https://api.z.ai",
        chat_route: Some("/api/paas/v4/chat/completions"),
        provider_keys: true,
        direct_headers: &[
            ("accept-language", "en-US,en"),
            ("x-source-channel", "hugging_face"),
        ],
        source: Source::Client,
    },
];

/// The table entry for `name` (exact, lowercase), if this version knows it.
pub fn provider_info(name: &str) -> Option<&'static ProviderInfo> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// `"auto"` and every provider name, comma separated, for error messages.
fn valid_providers() -> String {
    let mut out = String::from("\"auto\"");
    for p in PROVIDERS {
        out.push_str(", \"");
        out.push_str(p.name);
        out.push('"');
    }
    out
}

/// The `provider` option: the router picks, or one named provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// `"auto"` (the default): the router chooses, by the account's preference order
    /// and the policy.
    #[default]
    Auto,
    Named(&'static ProviderInfo),
}

impl Provider {
    /// The provider's name, `"auto"` for [`Provider::Auto`].
    pub fn name(self) -> &'static str {
        match self {
            Provider::Auto => "auto",
            Provider::Named(p) => p.name,
        }
    }
}

/// Read the `provider` option. Case and surrounding spaces are forgiven; an unknown
/// name is an [`ErrorKind::Input`](crate::ErrorKind::Input) error listing the valid ones.
pub fn parse_provider(name: &str) -> Result<Provider, Error> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("auto") {
        return Ok(Provider::Auto);
    }
    PROVIDERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(trimmed))
        .map(Provider::Named)
        .ok_or_else(|| {
            Error::input(format!(
                "unknown provider {:?}: use one of {}",
                crate::error::cut(trimmed, 64),
                valid_providers()
            ))
        })
}

/// How the router picks among the providers serving a model when none is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Highest throughput (the router's default).
    Fastest,
    /// Lowest price per output token.
    Cheapest,
    /// The account's order at <https://hf.co/settings/inference-providers>.
    Preferred,
}

impl Policy {
    /// The suffix the router reads (`model:fastest`).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Fastest => "fastest",
            Policy::Cheapest => "cheapest",
            Policy::Preferred => "preferred",
        }
    }

    fn from_suffix(s: &str) -> Option<Policy> {
        match s {
            "fastest" => Some(Policy::Fastest),
            "cheapest" => Some(Policy::Cheapest),
            "preferred" => Some(Policy::Preferred),
            _ => None,
        }
    }

    /// Read the `policy` option (`"fastest"`, `"cheapest"`, `"preferred"`, with or
    /// without a leading `:`).
    pub fn parse(s: &str) -> Result<Policy, Error> {
        let t = s.trim();
        let t = t.strip_prefix(':').unwrap_or(t);
        Policy::from_suffix(&t.to_ascii_lowercase()).ok_or_else(|| {
            Error::input(format!(
                "unknown policy {:?}: use \"fastest\", \"cheapest\" or \"preferred\"",
                crate::error::cut(s, 64)
            ))
        })
    }
}

/// The caller's credential, classified. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No token: only a `baseUrl`/`endpointUrl` that adds its own (a proxy) can work.
    #[default]
    None,
    /// A Hugging Face token (`hf_…`): calls go through the router.
    HfToken(String),
    /// Any other key: a provider's own, for direct calls to that provider.
    ProviderKey(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::HfToken(_) => "Auth::HfToken([redacted])",
            Auth::ProviderKey(_) => "Auth::ProviderKey([redacted])",
        })
    }
}

impl Auth {
    /// Classify a token: empty or absent is [`Auth::None`], `hf_…` an HF token,
    /// anything else a provider key.
    pub fn from_token(token: Option<&str>) -> Auth {
        match token {
            None | Some("") => Auth::None,
            Some(t) if t.starts_with("hf_") => Auth::HfToken(t.to_owned()),
            Some(t) => Auth::ProviderKey(t.to_owned()),
        }
    }

    /// The secret, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::HfToken(t) | Auth::ProviderKey(t) => Some(t),
        }
    }
}

/// Everything [`route_chat`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub provider: Provider,
    /// The `policy` option (the `:fastest`/`:cheapest`/`:preferred` suffix may instead
    /// be in `model`).
    pub policy: Option<Policy>,
    /// The model as the caller wrote it, suffix included (`""` when none was given).
    pub model: &'a str,
    /// A router-compatible server of the caller's (the router at another address, a
    /// proxy).
    pub base_url: Option<&'a str>,
    /// A dedicated endpoint (TGI, vLLM, llama.cpp, an Inference Endpoint, our proxy).
    pub endpoint_url: Option<&'a str>,
    pub auth: &'a Auth,
    /// The `billTo` option: sent as `X-HF-Bill-To` on routed calls only.
    pub bill_to: Option<&'a str>,
    /// The provider's own model id from the Hub mapping, for direct calls.
    pub mapped_model: Option<&'a str>,
    /// The prepared request body ([`crate::types::prepare_chat_body`]).
    pub body: &'a str,
    /// The caller's headers (client then call, merged).
    pub extra_headers: &'a [(String, String)],
    pub stream: bool,
}

/// Where one chat call goes, with what.
#[derive(Clone, PartialEq, Eq)]
pub struct Route {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Through a router (the Hugging Face router or the caller's router-compatible
    /// `baseUrl`), as opposed to a direct provider call or a dedicated endpoint.
    pub routed: bool,
    /// The provider the call is pinned to, when one is (named, or the model's suffix).
    pub provider: Option<&'static str>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The authorization header holds a secret; never print it.
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if n == "authorization" {
                    "[redacted]"
                } else {
                    v.as_str()
                };
                (n.as_str(), v)
            })
            .collect();
        f.debug_struct("Route")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .field("routed", &self.routed)
            .field("provider", &self.provider)
            .finish()
    }
}

/// An [`ErrorKind::Input`](crate::ErrorKind::Input) error with `code = "routing"`: the
/// options do not say where the call can go. `message` says what to do.
pub fn routing_error(message: impl Into<String>) -> Error {
    let mut e = Error::input(message);
    e.code = Some("routing".to_owned());
    e
}

/// What the part of a model string after its last `:` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix<'a> {
    None,
    Policy(Policy),
    Provider(&'static ProviderInfo),
    /// Something this version does not know; the router may.
    Other(&'a str),
}

/// `model` split into the Hub id and what its `:suffix` means. A suffix is the text
/// after the last `:` when it is non-empty and holds no `/`.
pub(crate) fn split_model(model: &str) -> (&str, Suffix<'_>) {
    match split_suffix(model) {
        Some((base, s)) => {
            let suffix = if let Some(p) = Policy::from_suffix(s) {
                Suffix::Policy(p)
            } else if let Some(p) = provider_info(s) {
                Suffix::Provider(p)
            } else {
                Suffix::Other(s)
            };
            (base, suffix)
        }
        _ => (model, Suffix::None),
    }
}

/// `model`'s base and `:suffix`, when it has one: a last `:` with something before it
/// and something after it that holds no `/`.
fn split_suffix(model: &str) -> Option<(&str, &str)> {
    crate::error::rsplit_once(model, b':')
        .filter(|(base, s)| !base.is_empty() && !s.is_empty() && !s.contains('/'))
}

/// The model id without its `:suffix`, [`split_model`]'s first half, for callers that do
/// not look at the suffix: classifying it would compile the provider table (its names and
/// URLs) into the proxy's wasm, which prices a model by its base alone.
pub(crate) fn model_base(model: &str) -> &str {
    split_suffix(model).map_or(model, |(base, _)| base)
}

fn suffix_text(s: Suffix<'_>) -> &str {
    match s {
        Suffix::None => "",
        Suffix::Policy(p) => p.as_str(),
        Suffix::Provider(p) => p.name,
        Suffix::Other(s) => s,
    }
}

/// The host of an absolute http(s) URL, lowercased, without port or credentials.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = &rest[..authority_end(rest)];
    let host_port = crate::error::rsplit_once(authority, b'@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        // An IPv6 literal keeps its brackets.
        &host_port[..crate::error::find_byte(host_port, b']').map_or(host_port.len(), |i| i + 1)]
    } else {
        crate::error::before(host_port, b':')
    };
    Some(host.to_ascii_lowercase())
}

/// Where `rest` (a URL after its scheme's `//`) stops being its authority: at the first
/// `/`, `?` or `#`, else its end. Bytes compared, not a search for one of three chars
/// (`str`'s char-array searcher, its own code in the wasm).
pub(crate) fn authority_end(rest: &str) -> usize {
    rest.bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len())
}

/// Hugging Face's own hosts: the router, the Hub and their subdomains.
pub(crate) fn is_hf_host(host: &str) -> bool {
    ["huggingface.co", "hf.co"]
        .iter()
        .any(|d| host == *d || host.strip_suffix(d).is_some_and(|s| s.ends_with('.')))
}

/// A provider key must not go to a Hugging Face host (they take only HF tokens, and
/// the key belongs to someone else).
fn refuse_provider_key_to_hf(auth: &Auth, url: &str, option: &str) -> Result<(), Error> {
    if let Auth::ProviderKey(_) = auth {
        if let Some(host) = host_of(url).filter(|h| is_hf_host(h)) {
            return Err(routing_error(format!(
                "the token does not start with `hf_`, so it is taken for a provider's own key, and `{option}` points at {host}, which takes only Hugging Face tokens: pass an HF token (hf_…), or name the provider (`provider: \"groq\"`) to call it directly with its key"
            )));
        }
    }
    Ok(())
}

/// The caller's headers with `X-HF-Bill-To` set to `bill_to` (routed calls) or removed
/// (`None`: direct provider calls never carry it, even when the caller set it).
pub(crate) fn with_bill_to(
    extra: &[(String, String)],
    bill_to: Option<&str>,
) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = extra
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-hf-bill-to"))
        .cloned()
        .collect();
    if let Some(b) = bill_to {
        let b = b.trim();
        if b.is_empty() || b.bytes().any(|c| c.is_ascii_control()) {
            return Err(Error::input(
                "`billTo` must be an organization name such as \"my-org\"",
            ));
        }
        out.push(("x-hf-bill-to".to_owned(), b.to_owned()));
    }
    Ok(out)
}

/// The body with `model` set, unless it already names exactly that model.
fn body_with_model(body: &str, model: &str) -> Result<String, Error> {
    if crate::types::model_of(body).as_deref() == Some(model) {
        Ok(body.to_owned())
    } else {
        crate::types::with_model(body, model)
    }
}

/// Decide where a chat call goes.
///
/// - `endpoint_url`: the dedicated endpoint's chat URL ([`chat_url`]), whatever token
///   the caller gave (a provider key to a Hugging Face host is refused), the model as
///   given; `provider` or `policy` with it is an input error. The `billTo` option is
///   not sent (a caller's own `X-HF-Bill-To` header is).
/// - An HF token, or a `base_url` (a router-compatible server of the caller's, such as
///   the proxy): `{base_url or router}/v1/chat/completions`; a named provider becomes
///   the `model:provider` suffix, a policy the `model:policy` suffix; a suffix already
///   in the model is kept; a conflicting one is an input error. `X-HF-Bill-To` when
///   `bill_to` is set.
/// - A provider key: straight to the provider (named, or the model's `:provider`
///   suffix) at its own base URL and chat route, with `mapped_model` as the model.
///   `auto`, a missing mapping, or `hf-inference` are `routing` errors. Never
///   `X-HF-Bill-To`, not even the caller's own header.
/// - No key and neither URL: a `routing` error.
pub fn route_chat(req: RouteRequest<'_>) -> Result<Route, Error> {
    if let Some(endpoint) = req.endpoint_url {
        return route_to_endpoint(&req, endpoint);
    }
    match (req.auth, req.base_url) {
        (Auth::HfToken(_), _) | (_, Some(_)) => route_via_router(&req),
        (Auth::ProviderKey(key), None) => route_direct(&req, key),
        (Auth::None, None) => Err(routing_error(
            "no token: pass an HF token (hf_…) to use the router, a provider's own key with `provider` to call it directly, or point `baseUrl`/`endpointUrl` at a proxy that adds the key",
        )),
    }
}

/// The provider a call would go to directly, with the caller's own key, when
/// [`route_chat`] needs `mapped_model` for it: a provider key, no `baseUrl` or
/// `endpointUrl`, and a provider that takes keys, named by `provider` or by the model's
/// `:provider` suffix. The shell looks up the Hub mapping ([`crate::hub`]) for exactly
/// these calls and passes the provider's id as `mapped_model`; for every other call
/// (and for conflicting options, which `route_chat` reports) it is `None`.
pub fn direct_provider(req: &RouteRequest<'_>) -> Option<&'static ProviderInfo> {
    if req.endpoint_url.is_some() || req.base_url.is_some() {
        return None;
    }
    let Auth::ProviderKey(_) = req.auth else {
        return None;
    };
    let p = match (req.provider, split_model(req.model).1) {
        (Provider::Named(p), Suffix::None) => p,
        (Provider::Named(p), Suffix::Provider(q)) if p == q => p,
        (Provider::Auto, Suffix::Provider(q)) => q,
        _ => return None,
    };
    (p.provider_keys && p.chat_route.is_some() && req.policy.is_none()).then_some(p)
}

fn route_to_endpoint(req: &RouteRequest<'_>, endpoint: &str) -> Result<Route, Error> {
    if let Provider::Named(p) = req.provider {
        return Err(Error::input(format!(
            "`provider: \"{}\"` and `endpointUrl` are both set: an endpoint serves its own model; drop one of them",
            p.name
        )));
    }
    if let Some(policy) = req.policy {
        return Err(Error::input(format!(
            "`policy: \"{}\"` applies to the router, not to a dedicated `endpointUrl`: drop it",
            policy.as_str()
        )));
    }
    let url = chat_url(req.base_url, Some(endpoint))?;
    refuse_provider_key_to_hf(req.auth, &url, "endpointUrl")?;
    // The `billTo` option is for routers; a header the caller set is theirs to send.
    let headers = chat_headers(req.auth.secret(), req.extra_headers, req.stream)?;
    let body = if req.model.is_empty() {
        req.body.to_owned()
    } else {
        body_with_model(req.body, req.model)?
    };
    Ok(Route {
        url,
        headers,
        body,
        routed: false,
        provider: None,
    })
}

fn route_via_router(req: &RouteRequest<'_>) -> Result<Route, Error> {
    let url = chat_url(req.base_url, None)?;
    refuse_provider_key_to_hf(req.auth, &url, "baseUrl")?;
    if req.model.trim().is_empty() {
        return Err(Error::input(
            "`model` is required to call the router, e.g. \"meta-llama/Llama-3.3-70B-Instruct\"",
        ));
    }
    let (base, suffix) = split_model(req.model);
    let conflict = |what: &str| {
        Error::input(format!(
            "`model` already ends in `:{}` and {what}: keep one of them",
            suffix_text(suffix)
        ))
    };
    let (model, pinned) = match (req.provider, req.policy) {
        (Provider::Named(p), Some(policy)) => {
            return Err(Error::input(format!(
                "`provider: \"{}\"` and `policy: \"{}\"` are both set: a policy picks among providers, so use one or the other",
                p.name,
                policy.as_str()
            )))
        }
        (Provider::Named(p), None) => match suffix {
            Suffix::None => (format!("{base}:{}", p.name), Some(p)),
            Suffix::Provider(q) if q == p => (req.model.to_owned(), Some(p)),
            _ => return Err(conflict(&format!("`provider` is \"{}\"", p.name))),
        },
        (Provider::Auto, Some(policy)) => match suffix {
            Suffix::None => (format!("{base}:{}", policy.as_str()), None),
            Suffix::Policy(q) if q == policy => (req.model.to_owned(), None),
            _ => return Err(conflict(&format!("`policy` is \"{}\"", policy.as_str()))),
        },
        (Provider::Auto, None) => match suffix {
            Suffix::Provider(q) => (req.model.to_owned(), Some(q)),
            _ => (req.model.to_owned(), None),
        },
    };
    if let Some(p) = pinned {
        if p.chat_route.is_none() {
            return Err(no_chat_error(p));
        }
    }
    let headers = match req.bill_to {
        Some(_) => chat_headers(
            req.auth.secret(),
            &with_bill_to(req.extra_headers, req.bill_to)?,
            req.stream,
        )?,
        None => chat_headers(req.auth.secret(), req.extra_headers, req.stream)?,
    };
    Ok(Route {
        url,
        headers,
        body: body_with_model(req.body, &model)?,
        routed: true,
        provider: pinned.map(|p| p.name),
    })
}

fn no_chat_error(p: &ProviderInfo) -> Error {
    let chat = PROVIDERS
        .iter()
        .filter(|q| q.chat_route.is_some())
        .map(|q| q.name);
    Error::input(format!(
        "provider \"{}\" serves no chat models through the router (it serves images, video or speech): use \"auto\" or one of {}",
        p.name,
        crate::error::join(chat, ", ")
    ))
}

fn route_direct(req: &RouteRequest<'_>, key: &str) -> Result<Route, Error> {
    let (_, suffix) = split_model(req.model);
    let p = match (req.provider, suffix) {
        (Provider::Named(p), Suffix::None) => p,
        (Provider::Named(p), Suffix::Provider(q)) if q == p => p,
        (Provider::Named(p), _) => {
            return Err(Error::input(format!(
                "`model` ends in `:{}` but `provider` is \"{}\": keep one of them",
                suffix_text(suffix),
                p.name
            )))
        }
        (Provider::Auto, Suffix::Provider(q)) => q,
        (Provider::Auto, _) => {
            return Err(routing_error(
                "the token does not start with `hf_`, so it is taken for a provider's own key, and `provider` is \"auto\": only the router can choose a provider, and it needs an HF token. Pass an HF token (hf_…), or name the provider the key belongs to (`provider: \"groq\"`)",
            ))
        }
    };
    if let Some(policy) = req.policy {
        return Err(Error::input(format!(
            "`policy: \"{}\"` applies to the router; a direct call to \"{}\" with its own key has no policy: drop it",
            policy.as_str(),
            p.name
        )));
    }
    if !p.provider_keys {
        return Err(routing_error(format!(
            "\"{}\" is Hugging Face's own provider and takes only HF tokens: pass an HF token (hf_…)",
            p.name
        )));
    }
    let Some(url) = p.direct_chat_url() else {
        return Err(no_chat_error(p));
    };
    let mapped = req.mapped_model.map(str::trim).filter(|m| !m.is_empty());
    let Some(mapped) = mapped else {
        return Err(routing_error(format!(
            "a direct call to \"{}\" needs the provider's own id for this model: pass an HF token (hf_…) to go through the router, or give `provider` with a model the Hub maps to \"{}\" so its id can be looked up",
            p.name, p.name
        )));
    };
    let mut extra = with_bill_to(req.extra_headers, None)?;
    for (n, v) in p.direct_headers {
        drop_header(&mut extra, n);
        extra.push(((*n).to_owned(), (*v).to_owned()));
    }
    let headers = chat_headers(Some(key), &extra, req.stream)?;
    Ok(Route {
        url,
        headers,
        body: body_with_model(req.body, mapped)?,
        routed: false,
        provider: Some(p.name),
    })
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {

    #[test]
    fn a_provider_with_no_chat_route_names_every_one_with_a_chat_route() {
        let Some(p) = PROVIDERS.iter().find(|p| p.chat_route.is_none()) else {
            panic!("every provider has a chat route")
        };
        let chat: Vec<&str> = PROVIDERS
            .iter()
            .filter(|q| q.chat_route.is_some())
            .map(|q| q.name)
            .collect();
        assert!(chat.len() > 1);
        assert_eq!(
            no_chat_error(p).message,
            format!(
                "provider \"{}\" serves no chat models through the router (it serves images, video or speech): use \"auto\" or one of {}",
                p.name,
                chat.join(", ")
            )
        );
    }

    #[test]
    fn the_model_list_sits_next_to_chat_completions() {
        assert_eq!(
            models_url(None, None).unwrap(),
            "https://router.huggingface.co/v1/models"
        );
        assert_eq!(
            models_url(Some("http://127.0.0.1:9/proxy/"), None).unwrap(),
            "http://127.0.0.1:9/proxy/v1/models"
        );
        for e in [
            "http://h:1/v1/chat/completions?k=1",
            "http://h:1/v1?k=1",
            "http://h:1?k=1",
        ] {
            assert_eq!(
                models_url(None, Some(e)).unwrap(),
                "http://h:1/v1/models?k=1"
            );
        }
        assert!(models_url(None, Some("ftp://h")).is_err());
        // Every trailing `/v1` goes, as `trim_end_matches` takes them.
        assert_eq!(
            models_url(None, Some("http://h:1/x/v1/v1")).unwrap(),
            "http://h:1/x/v1/models"
        );
    }
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

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod routing_tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn table_is_sorted_unique_and_https() {
        for w in PROVIDERS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for p in PROVIDERS {
            assert!(p.base_url.starts_with("https://"), "{}", p.name);
            assert!(!p.base_url.ends_with('/'), "{}", p.name);
            if let Some(r) = p.chat_route {
                assert!(
                    r.starts_with('/') && r.ends_with("/chat/completions"),
                    "{r}"
                );
            }
        }
    }

    #[test]
    fn parse_provider_forgives_case_and_spaces() {
        assert_eq!(parse_provider("auto").ok(), Some(Provider::Auto));
        assert_eq!(parse_provider(" AUTO ").ok(), Some(Provider::Auto));
        let p = parse_provider("Together").unwrap_or_default();
        assert_eq!(p.name(), "together");
    }

    #[test]
    fn unknown_provider_lists_the_valid_ones() {
        let e = parse_provider("togethr").expect_err("unknown");
        assert_eq!(e.kind, ErrorKind::Input);
        for p in PROVIDERS {
            assert!(e.message.contains(p.name), "{}", e.message);
        }
        assert!(e.message.contains("\"auto\""));
        assert!(e.message.contains("togethr"));
    }

    #[test]
    fn policy_parses_with_or_without_colon() {
        assert_eq!(Policy::parse("fastest").ok(), Some(Policy::Fastest));
        assert_eq!(Policy::parse(":cheapest").ok(), Some(Policy::Cheapest));
        assert_eq!(Policy::parse("Preferred").ok(), Some(Policy::Preferred));
        assert!(Policy::parse("slowest").is_err());
    }

    #[test]
    fn auth_is_classified_by_prefix_and_never_printed() {
        assert_eq!(Auth::from_token(None), Auth::None);
        assert_eq!(Auth::from_token(Some("")), Auth::None);
        assert!(matches!(Auth::from_token(Some("hf_abc")), Auth::HfToken(_)));
        assert!(matches!(
            Auth::from_token(Some("gsk_abc")),
            Auth::ProviderKey(_)
        ));
        let printed = format!("{:?}", Auth::from_token(Some("hf_secretsecret")));
        assert!(!printed.contains("secretsecret"), "{printed}");
    }

    #[test]
    fn route_debug_redacts_authorization() {
        let r = Route {
            url: "u".into(),
            headers: vec![("authorization".into(), "Bearer hf_secretsecret".into())],
            body: "{}".into(),
            routed: true,
            provider: None,
        };
        assert!(!format!("{r:?}").contains("secretsecret"));
    }

    #[test]
    fn model_suffixes_are_classified() {
        for m in [
            "org/m",
            "org/m:fastest",
            "org/m:groq",
            "org/m:new-one",
            "org/m:",
            ":groq",
            "a:b/c",
            "a:b:c",
            "",
        ] {
            assert_eq!(model_base(m), split_model(m).0, "{m}");
        }
        assert_eq!(split_model("org/m"), ("org/m", Suffix::None));
        assert_eq!(
            split_model("org/m:fastest"),
            ("org/m", Suffix::Policy(Policy::Fastest))
        );
        let (b, s) = split_model("org/m:groq");
        assert_eq!(b, "org/m");
        assert!(matches!(s, Suffix::Provider(p) if p.name == "groq"));
        assert_eq!(
            split_model("org/m:new-one"),
            ("org/m", Suffix::Other("new-one"))
        );
        assert_eq!(split_model("org/m:"), ("org/m:", Suffix::None));
        assert_eq!(split_model(":groq"), (":groq", Suffix::None));
        assert_eq!(split_model("a:b/c"), ("a:b/c", Suffix::None));
    }

    #[test]
    fn hosts_are_extracted_and_hf_hosts_recognized() {
        assert_eq!(
            host_of("https://User:pw@Router.HuggingFace.co:443/v1").as_deref(),
            Some("router.huggingface.co")
        );
        assert_eq!(host_of("http://[::1]:8080/x").as_deref(), Some("[::1]"));
        assert_eq!(host_of("ftp://x"), None);
        assert!(is_hf_host("router.huggingface.co"));
        assert!(is_hf_host("huggingface.co"));
        assert!(is_hf_host("hf.co"));
        assert!(!is_hf_host("nothuggingface.co"));
        assert!(!is_hf_host("x.endpoints.huggingface.cloud"));
        assert!(!is_hf_host("127.0.0.1"));
    }

    #[test]
    fn bill_to_rejects_control_characters() {
        assert!(with_bill_to(&[], Some("org\r\nx: y")).is_err());
        assert!(with_bill_to(&[], Some("  ")).is_err());
        let h =
            with_bill_to(&[("X-HF-Bill-To".into(), "old".into())], Some("new")).unwrap_or_default();
        assert_eq!(h, vec![("x-hf-bill-to".to_owned(), "new".to_owned())]);
    }
}
