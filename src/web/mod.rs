//! The wasm shell: moves bytes between JavaScript's `fetch` and the core.
//!
//! Owns: everything that touches JS. Must never: decide an HTTP, SSE, retry or policy
//! question itself; it asks the core. Raw bindings live in `sys`.
//!
//! Two entries are built from it, each as its own wasm: the client (`feature = "client"`:
//! `chat_stream`, `client`, `hub`, `metering`) and the proxy (`feature = "proxy"`:
//! `proxy`). `error`, `options`, `sys` and `transport` serve both; in a build of one
//! entry, the pieces only the other uses are dead code, which is expected there.

#[cfg(feature = "client")]
mod chat_stream;
#[cfg(feature = "client")]
mod client;
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod error;
#[cfg(feature = "client")]
mod hub;
#[cfg(feature = "client")]
mod metering;
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod options;
#[cfg(feature = "proxy")]
mod proxy;
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod sys;
#[cfg_attr(
    not(all(feature = "client", feature = "proxy")),
    allow(dead_code, unused_imports)
)]
mod transport;

#[cfg(feature = "client")]
pub use chat_stream::ChatStream;
#[cfg(feature = "client")]
pub use client::InferenceClient;
#[cfg(feature = "proxy")]
pub use proxy::{Proxy, ProxyStateCore};
