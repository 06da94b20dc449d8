//! hf-inference-wasm: a streaming client and auth proxy for Hugging Face Inference
//! Providers and any OpenAI-compatible or TGI server, compiled to WebAssembly.
//!
//! The crate has two layers (see `DESIGN.md`), and the folders show them:
//! - the **core**, every module at the top of `src/` and `src/proxy/`: pure Rust, no JS,
//!   no I/O, no clock, no randomness (time and jitter are passed in). Wire formats
//!   (`sse`, `scan`, `decode`, `types`, `tgi`, `relay`, `error`, `response`) and
//!   decisions (`retry`, `plan`, `timeouts`, `providers`, `hub`, `cache`, `meter`,
//!   `usage`, `ratelimit`, `difficulty`, `options`, `proxy`). It decides everything and
//!   is tested natively. It must never name a JS type.
//! - the **bindings**, `src/web/` (only on `wasm32`): `web/client/` is the client
//!   entry's (`feature = "client"`), `web/proxy/` the proxy entry's (`feature =
//!   "proxy"`), and `web/{sys,transport,error,options}.rs` what both use. They move
//!   bytes between JavaScript and the core and expose the JavaScript API; they must
//!   never decide an HTTP, SSE, retry or policy question. The client's binding never
//!   awaits: the rest of the shell is plain JavaScript in `js/` (`wire.js` and `pump.js`:
//!   every await of the client, each step asking the wasm synchronously what to do; the
//!   entries, the Node adapter).

// `Error` is large (it keeps status, code, request id and a bounded body) and travels
// only on the cold path; boxing it would cost an allocation per error for nothing.
#![allow(clippy::result_large_err)]

pub mod attempt;
pub mod cache;
pub mod decode;
pub mod difficulty;
pub mod error;
use hf_inference_wire::float;
pub mod hub;
pub mod json;
pub mod meter;
pub mod models;
pub mod options;
pub mod plan;
pub mod protocol;
pub mod providers;
pub mod proxy;
pub mod ratelimit;
pub mod relay;
pub mod response;
pub mod retry;
pub mod route;
pub use hf_inference_wire::scan;
pub use hf_inference_wire::sse;
pub mod stream;
pub mod tgi;
pub mod timeouts;
pub mod types;
pub mod usage;
mod vecmap;

#[cfg(target_arch = "wasm32")]
pub mod web;

/// Talc instead of Rust's default wasm allocator (dlmalloc): about 7 KB less wasm and
/// faster. The module is single-threaded (no `atomics`), which Talc's wasm allocator
/// requires.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use error::{Error, ErrorKind, TimeoutKind};
