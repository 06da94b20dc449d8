//! The wire formats' hot path: SSE framing ([`sse`]), the validating JSON scanner
//! ([`scan`]) and the float reader it checks numbers with ([`float`]). Every byte of
//! every stream goes through this crate, so it is compiled for speed (`opt-level = 3`,
//! the root Cargo.toml's profile override) while everything else is compiled for size.
//!
//! Owns: turning bytes into events and an event's JSON text into spans, exactly and
//! without a tree. Must never: know what a chat chunk means, build an error message for
//! a caller (the `hf-inference-wasm` crate turns [`sse::SseError`] into its `Error`),
//! depend on anything but `std` (it is the bottom of the dependency graph), or panic on
//! any input.

pub mod float;
pub mod scan;
pub mod sse;

/// `parts` joined into one string. Messages are built with this rather than `format!`:
/// each `format!` site compiles its own argument table and formatting calls, and in
/// the wasm those add up (a `[&str]::concat` would bring in `join`'s generic code).
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// `n * 10 + d`, `None` past `u64::MAX` (compared, not `checked_mul`: that is a 128-bit
/// multiplication call in the wasm).
pub fn push_digit(n: u64, d: u8) -> Option<u64> {
    const LAST: u64 = u64::MAX / 10;
    if n > LAST || (n == LAST && u64::from(d) > u64::MAX % 10) {
        return None;
    }
    Some(n * 10 + u64::from(d))
}

/// `text` as a `u64` when it is only ASCII digits (at least one) and fits; by hand, as
/// `str::parse` costs the wasm its generic code for this alone.
pub fn digits_u64(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for d in text.bytes() {
        if !d.is_ascii_digit() {
            return None;
        }
        n = push_digit(n, d - b'0')?;
    }
    Some(n)
}
