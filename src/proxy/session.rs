//! Session tokens: the format and every check except the MAC itself.
//!
//! A token is `payload.signature`:
//!
//! ```text
//! hfp1.<expires_at_ms>.<b64url(origin)>.<b64url(client key)>.<b64url(HMAC-SHA-256(secret, payload))>
//! └───────────────────────── payload ──────────────────────┘
//! ```
//!
//! - `hfp1`: format version (and how the proxy tells a session token from a proxy key).
//! - `expires_at_ms`: Unix epoch milliseconds, decimal.
//! - origin: the `Origin` of the `GET /session` request, lowercase; empty when it had
//!   none (a same-origin `GET` sends none). A token bound to an origin is refused from
//!   any other origin and from none.
//! - client key: the rate-limit key of the issuing request when
//!   [`SessionOptions::bind_client`] is on, else empty.
//!
//! The shell signs the payload's UTF-8 bytes with the session secret (WebCrypto
//! `HMAC`/`SHA-256`), makes the token with [`session_token`], and on later requests
//! verifies the signature [`parse_session`] extracted. This module never sees the
//! secret. Base64url is RFC 4648 §5 without padding
//! (<https://www.rfc-editor.org/rfc/rfc4648#section-5>), decoded strictly (canonical
//! form only).

use super::{Reason, SessionOptions};
use crate::error::cut;

/// How every session token starts.
pub const SESSION_PREFIX: &str = "hfp1.";
/// Bytes of an HMAC-SHA-256 signature.
pub const SIGNATURE_BYTES: usize = 32;
/// Longest token looked at; anything longer is malformed.
pub const MAX_TOKEN_BYTES: usize = 2048;
/// Longest origin bound into a token.
const MAX_BOUND_ORIGIN_BYTES: usize = 512;
/// A token may expire at most this much later than `ttl_ms` from now (clock skew
/// between the instances that issue and check tokens).
const MAX_SKEW_MS: u64 = 60_000;

/// What `GET /session` hands the shell to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    /// The text to sign (its UTF-8 bytes).
    pub payload: String,
    /// When the token expires, Unix epoch ms (also inside the payload).
    pub expires_at_ms: u64,
}

/// A token that passed every check but the signature: verify `signature` over
/// `payload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionProof {
    pub payload: String,
    pub signature: Vec<u8>,
}

/// The payload of a new token for a request from `origin` with `client_key`, issued at
/// `now_ms` (Unix epoch ms). A NaN or negative clock gives a token that has already
/// expired (fail closed).
pub fn session_payload(
    origin: Option<&str>,
    client_key: &str,
    now_ms: f64,
    opts: &SessionOptions,
) -> SessionGrant {
    let expires_at_ms = epoch_ms(now_ms).map_or(0, |now| now.saturating_add(opts.ttl_ms));
    let origin = origin
        .map(|o| cut(o, MAX_BOUND_ORIGIN_BYTES).to_ascii_lowercase())
        .unwrap_or_default();
    let client = if opts.bind_client {
        cut(client_key, super::limit::MAX_CLIENT_KEY_BYTES)
    } else {
        ""
    };
    SessionGrant {
        payload: format!(
            "{SESSION_PREFIX}{expires_at_ms}.{}.{}",
            b64url_encode(origin.as_bytes()),
            b64url_encode(client.as_bytes())
        ),
        expires_at_ms,
    }
}

/// The token for a signed payload.
pub fn session_token(payload: &str, signature: &[u8]) -> String {
    format!("{payload}.{}", b64url_encode(signature))
}

/// Check a token's format, expiry and bindings at `now_ms` for a request from
/// `origin` with `client_key`; the shell then verifies the signature.
///
/// - malformed (wrong shape, version, encoding, signature length, or an expiry further
///   ahead than `ttl_ms` allows) → [`Reason::InvalidSession`];
/// - expired (or a NaN clock) → [`Reason::SessionExpired`];
/// - bound to another origin, or to an origin when the request has none, or to another
///   client key → [`Reason::SessionMismatch`].
pub fn parse_session(
    token: &str,
    now_ms: f64,
    origin: Option<&str>,
    client_key: &str,
    opts: &SessionOptions,
) -> Result<SessionProof, Reason> {
    if token.len() > MAX_TOKEN_BYTES || !token.starts_with(SESSION_PREFIX) {
        return Err(Reason::InvalidSession);
    }
    let Some((payload, sig)) = token.rsplit_once('.') else {
        return Err(Reason::InvalidSession);
    };
    let mut parts = payload.split('.');
    let (Some(_version), Some(exp), Some(bound_origin), Some(bound_client), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Reason::InvalidSession);
    };
    if exp.is_empty() || exp.len() > 16 || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::InvalidSession);
    }
    let expires_at: u64 = exp.parse().map_err(|_| Reason::InvalidSession)?;
    let bound_origin = b64url_decode(bound_origin)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(Reason::InvalidSession)?;
    let bound_client = b64url_decode(bound_client)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(Reason::InvalidSession)?;
    let signature = b64url_decode(sig)
        .filter(|s| s.len() == SIGNATURE_BYTES)
        .ok_or(Reason::InvalidSession)?;

    let Some(now) = epoch_ms(now_ms) else {
        return Err(Reason::SessionExpired);
    };
    if expires_at <= now {
        return Err(Reason::SessionExpired);
    }
    if expires_at - now > opts.ttl_ms.saturating_add(MAX_SKEW_MS) {
        return Err(Reason::InvalidSession);
    }
    if !bound_origin.is_empty() {
        let same = origin
            .is_some_and(|o| cut(o, MAX_BOUND_ORIGIN_BYTES).eq_ignore_ascii_case(&bound_origin));
        if !same {
            return Err(Reason::SessionMismatch);
        }
    }
    if !bound_client.is_empty()
        && bound_client != cut(client_key, super::limit::MAX_CLIENT_KEY_BYTES)
    {
        return Err(Reason::SessionMismatch);
    }
    Ok(SessionProof {
        payload: payload.to_owned(),
        signature,
    })
}

/// Whole epoch ms of a clock reading, `None` if it is not a usable time.
fn epoch_ms(now_ms: f64) -> Option<u64> {
    // `as` saturates; 1e18 ms is far beyond any real clock.
    (0.0..1e18).contains(&now_ms).then(|| now_ms.floor() as u64)
}

/// Whether `given` equals `expected`, in time that depends only on `expected`'s
/// length (never on where the first difference is, nor on `given`'s length).
pub fn ct_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(B64URL[index as usize]));
        }
    }
    out
}

/// Base64url without padding, strictly: only the URL alphabet, no `=`, no impossible
/// length, no stray bits in the last character. `None` for anything else.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1; // 4 chars → 3 bytes, 3 → 2, 2 → 1.
                                        // Bits below the produced bytes must be zero (canonical form).
        let used_bits = 8 * produced;
        if used_bits < 24 && n & ((1 << (24 - used_bits)) - 1) != 0 {
            return None;
        }
        for i in 0..produced {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_matches_rfc4648_vectors() {
        // RFC 4648 §10, in the URL alphabet without padding.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64url_encode(plain.as_bytes()), enc);
            assert_eq!(b64url_decode(enc).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn b64url_decoding_is_strict() {
        for bad in ["Zg==", "Z", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v Yg", "é"] {
            assert_eq!(b64url_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn b64url_round_trips_every_byte_pattern() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let enc = b64url_encode(&all[..len]);
            assert_eq!(b64url_decode(&enc).as_deref(), Some(&all[..len]));
        }
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"secret-key", b"secret-key"));
        assert!(!ct_eq(b"secret-kez", b"secret-key"));
        assert!(!ct_eq(b"secret-ke", b"secret-key"));
        assert!(!ct_eq(b"secret-key\0", b"secret-key"));
        assert!(!ct_eq(b"", b"x"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn nan_clock_issues_an_expired_token() {
        let g = session_payload(None, "k", f64::NAN, &SessionOptions::default());
        assert_eq!(g.expires_at_ms, 0);
        let token = session_token(&g.payload, &[0; 32]);
        assert_eq!(
            parse_session(&token, 1000.0, None, "k", &SessionOptions::default()),
            Err(Reason::SessionExpired)
        );
    }
}
