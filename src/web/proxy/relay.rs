//! One forwarded body on its way to the client: `relayBody` in `js/proxy-relay.js` pulls
//! the upstream body and hands each read to [`ProxyRelay`], which asks the core's
//! [`StreamRelay`] what to pass on, keeps the upstream call's idle timeout alive, and at
//! the end writes the log line, calls `onUsage` and records the usage in the state.
//!
//! Owns: the `Watcher` of one body and its exported handle. Must never: buffer a
//! streamed body, decide what is stripped or counted (`crate::proxy` does), or await.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Uint8Array};
use wasm_bindgen::prelude::*;

use super::shared::{describe_error, log, Shared, Trace};
use super::state;
use crate::proxy::{BodyKind, Relayed, StreamRelay};
use crate::web::error::set;
use crate::web::sys;
use crate::web::transport::Call;

#[wasm_bindgen(module = "/js/proxy-relay.js")]
extern "C" {
    /// The forwarded body: a pull stream over `body` that hands each read to `relay`.
    #[wasm_bindgen(js_name = relayBody, catch)]
    pub(super) fn relay_body(
        body: &web_sys::ReadableStream,
        relay: ProxyRelay,
    ) -> Result<web_sys::ReadableStream, JsValue>;
}

/// How a forwarded chat answer is relayed (from the core's [`crate::proxy::Forward`]);
/// `None` for `GET /v1/models`.
#[derive(Clone, Copy)]
pub(super) struct ChatRelay {
    pub(super) stream: bool,
    pub(super) strip_usage: bool,
    pub(super) prompt_estimate: u64,
}

/// Watches a forwarded body on its way to the client: the core's [`StreamRelay`] says
/// what to hand on; the first byte's time, the end (log line and `onUsage`) and body
/// activity (for the upstream call's idle timeout) are the shell's.
pub(super) struct Watcher {
    pub(super) shared: Rc<Shared>,
    pub(super) trace: Trace,
    pub(super) status: u16,
    pub(super) call: Call,
    pub(super) relay: StreamRelay,
    /// A chat answer (usage is reported), not the model list.
    pub(super) chat: bool,
    pub(super) first_byte_ms: Option<f64>,
    pub(super) logged: bool,
    /// The upstream broke a body that is not an event stream: the message to error the
    /// client's stream with.
    pub(super) failure: Option<String>,
}

impl Watcher {
    pub(super) fn chunk(&mut self, bytes: &[u8]) -> Relayed {
        if self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(sys::performance_now() - self.trace.started);
        }
        // Body bytes arrived: the idle timeout starts again.
        self.call.activity();
        self.relay.relay(bytes)
    }

    /// The body ended (`complete`) or the client went away; log and report usage once.
    pub(super) fn finish(&mut self, complete: bool) {
        if self.logged {
            return;
        }
        self.logged = true;
        if complete {
            self.call.end();
        } else {
            self.call.abort();
        }
        let cfg = &self.shared.cfg;
        let usage = self.chat.then(|| self.relay.usage());
        log(
            cfg,
            &self.trace,
            self.status,
            None,
            self.first_byte_ms,
            usage.as_ref(),
        );
        if let (Some(f), Some(u)) = (&cfg.on_usage, &usage) {
            let rec = Object::new();
            set(&rec, "requestId", &self.trace.request_id.as_str().into());
            if let Some(id) = &self.trace.upstream_request_id {
                set(&rec, "upstreamRequestId", &id.as_str().into());
            }
            if let Some(m) = &self.trace.model {
                set(&rec, "model", &m.as_str().into());
            }
            let usage = js_sys::JSON::parse(&u.usage.to_json()).unwrap_or(JsValue::UNDEFINED);
            set(&rec, "usage", &usage);
            set(&rec, "estimated", &u.estimated.into());
            set(
                &rec,
                "latencyMs",
                &(sys::performance_now() - self.trace.started).into(),
            );
            set(&rec, "complete", &complete.into());
            if f.call1(&JsValue::UNDEFINED, &rec).is_err() {
                // A throwing hook must not break the response that already went out.
            }
        }
        state::record(
            &self.shared,
            &self.trace.client_key,
            self.trace.model.as_deref(),
            usage.as_ref().map(|u| &u.usage),
            &self.trace.ctx,
        );
    }
}

/// One forwarded body, as `relayBody` in `js/proxy-relay.js` drives it: every read of
/// the upstream body goes through [`ProxyRelay::chunk`] (one synchronous call, no
/// promise), the end through [`ProxyRelay::end`], a broken upstream through
/// [`ProxyRelay::fail`], a client that left through [`ProxyRelay::cancel`].
#[wasm_bindgen]
pub struct ProxyRelay {
    pub(super) watcher: Rc<RefCell<Watcher>>,
}

#[wasm_bindgen]
impl ProxyRelay {
    /// One read: `true` when exactly these bytes go on to the client (the common case:
    /// whole events, nothing to take out; the JS side passes its own buffer on, no
    /// copy), `undefined` when nothing is to be sent yet, else the bytes to send.
    pub fn chunk(&self, bytes: &[u8]) -> JsValue {
        match self.watcher.borrow_mut().chunk(bytes) {
            Relayed::Unchanged => JsValue::TRUE,
            Relayed::Bytes(out) if out.is_empty() => JsValue::UNDEFINED,
            Relayed::Bytes(out) => Uint8Array::from(out.as_slice()).into(),
        }
    }

    /// The upstream body ended: the relay's tail, if any. Logs and reports usage.
    pub fn end(&self) -> Option<Vec<u8>> {
        let mut w = self.watcher.borrow_mut();
        let tail = w.relay.finish();
        w.finish(true);
        (!tail.is_empty()).then_some(tail)
    }

    /// Reading the upstream body failed with `error`: what is left to send (for an
    /// event stream, ending with the error event). Afterwards [`ProxyRelay::fail_message`]
    /// says whether the client's stream closes (`undefined`) or errors.
    pub fn fail(&self, error: JsValue) -> Option<Vec<u8>> {
        let mut w = self.watcher.borrow_mut();
        let (e, _) = w.call.rejection(error, false);
        let tail = w.relay.fail(&e);
        if w.relay.kind() != BodyKind::EventStream {
            w.failure = Some(describe_error(&e));
        }
        w.finish(false);
        (!tail.is_empty()).then_some(tail)
    }

    /// After [`ProxyRelay::fail`]: the message to error a non-event-stream body with.
    #[wasm_bindgen(js_name = failMessage)]
    pub fn fail_message(&self) -> Option<String> {
        self.watcher.borrow().failure.clone()
    }

    /// The client went away: abort the upstream call; log and report usage once.
    pub fn cancel(&self) {
        self.watcher.borrow_mut().finish(false);
    }
}
