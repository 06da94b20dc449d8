//! The wasm shell: moves bytes between JavaScript's `fetch` and the core.
//!
//! Owns: everything that touches JS. Must never: decide an HTTP, SSE, retry or policy
//! question itself; it asks the core. Raw bindings live in `sys`.

mod chat_stream;
mod client;
mod error;
mod hub;
mod metering;
mod options;
mod proxy;
mod sys;
mod transport;

pub use chat_stream::ChatStream;
pub use client::InferenceClient;
pub use proxy::{Proxy, ProxyStateCore};
