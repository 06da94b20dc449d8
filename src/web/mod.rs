//! The wasm shell: moves bytes between JavaScript's `fetch` and the core.
//!
//! Owns: everything that touches JS. Must never: decide an HTTP, SSE, retry or policy
//! question itself; it asks the core. Raw bindings live in `sys`.
//!
//! Two entries are built from it, each as its own wasm: the client binding
//! (`feature = "client"`: `client/`) and the proxy binding (`feature = "proxy"`:
//! `proxy/`); neither imports the other. A third, `decoder` (`feature = "decoder"`), is
//! the streaming decoder core alone, measured but never shipped. `error`, `options`, `sys` and `transport` serve both; in a build of one
//! entry, the pieces only the other uses are dead code, which is expected there.

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "decoder")]
mod decoder;
#[cfg(any(feature = "client", feature = "proxy"))]
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod error;
#[cfg(any(feature = "client", feature = "proxy"))]
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod options;
#[cfg(feature = "proxy")]
mod proxy;
#[cfg(any(feature = "client", feature = "proxy"))]
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod sys;
#[cfg(any(feature = "client", feature = "proxy"))]
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod transport;

#[cfg(feature = "client")]
pub use client::{ChatStream, InferenceClient};
#[cfg(feature = "decoder")]
pub use decoder::ChatDecoder;
#[cfg(feature = "proxy")]
pub use proxy::{Proxy, ProxyStateCore};
