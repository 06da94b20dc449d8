//! `listModels()` and `loadPricing()`: one bounded `GET …/v1/models` as a synchronous
//! machine that `js/wire.js`'s `fetchModels` drives (the awaits are there).
//!
//! Owns: the request (from the core's `providers::models_url` and `chat_headers`) and
//! what its answer becomes: the model list as JSON for JavaScript, or the client's price
//! table. Must never: await, or read the list itself (`crate::models` does).

use std::rc::Rc;

use js_sys::{Promise, JSON};
use wasm_bindgen::prelude::*;
use web_sys::Response;

use super::call::{Call as CallOptions, Config};
use crate::error::{Error, ErrorKind};
use crate::response::REQUEST_ID_HEADERS;
use crate::web::error::to_js;
use crate::web::transport::Call;
use crate::{models, providers};

#[wasm_bindgen(module = "/js/wire.js")]
extern "C" {
    /// Drive the GET: resolves to `done()`'s value, rejects with the call's error.
    #[wasm_bindgen(js_name = fetchModels)]
    fn fetch_models(call: ModelsCall) -> Promise;
}

/// The largest model list read (the router's is about 100 KB).
const MAX_MODEL_LIST_BYTES: usize = 8 << 20;

/// What the list is for.
#[derive(Clone, Copy)]
pub(super) enum Want {
    List,
    Pricing,
}

/// One `GET …/v1/models`. Internal to `js/wire.js`; not constructible from JavaScript.
#[wasm_bindgen]
pub struct ModelsCall {
    cfg: Rc<Config>,
    want: Want,
    call: Option<Call>,
    status: u16,
    request_id: Option<String>,
}

/// Send the GET now: a promise of the list (or of the number of prices known).
pub(super) fn start(cfg: Rc<Config>, options: &JsValue, want: Want) -> Promise {
    let call = (|| -> Result<Call, Error> {
        let call = CallOptions::read(&cfg, options)?;
        let url = providers::models_url(cfg.o.base_url.as_deref(), cfg.o.endpoint_url.as_deref())?;
        let mut headers = providers::chat_headers(cfg.auth.secret(), &call.o.headers, false)?;
        headers.retain(|(n, _)| n != "content-type");
        Call::start(
            cfg.fetch.as_ref(),
            &url,
            &headers,
            None,
            call.o.timeouts,
            call.signal.as_ref(),
            false,
        )
    })();
    match call {
        Ok(call) => fetch_models(ModelsCall {
            cfg,
            want,
            call: Some(call),
            status: 0,
            request_id: None,
        }),
        Err(e) => Promise::reject(&to_js(&cfg.redact(e), None, None)),
    }
}

#[wasm_bindgen]
impl ModelsCall {
    /// The request, to await its `fetch`.
    #[wasm_bindgen(getter)]
    pub fn wire(&self) -> JsValue {
        Call::wire_of(self.call.as_ref())
    }

    /// The response came: how many bytes of its body to read; throws when it is not a
    /// response.
    pub fn response(&mut self, response: JsValue) -> Result<f64, JsValue> {
        let response = response.dyn_into::<Response>().map_err(|_| {
            self.error(Error::network(
                "the `fetch` function did not return a Response",
            ))
        })?;
        if let Some(call) = &self.call {
            call.headers_came();
        }
        let headers = response.headers();
        self.request_id = REQUEST_ID_HEADERS
            .iter()
            .find_map(|h| headers.get(h).ok().flatten());
        self.status = response.status();
        Ok(MAX_MODEL_LIST_BYTES as f64)
    }

    /// Body bytes arrived: the idle timeout starts again.
    pub fn activity(&self) {
        if let Some(call) = &self.call {
            call.activity();
        }
    }

    /// The `fetch` (`headers`) or a read of the body rejected with `reason`: the
    /// error to reject with.
    pub fn failed(&self, reason: JsValue, headers: bool) -> JsValue {
        let e = Call::rejection_of(self.call.as_ref(), reason, headers).0;
        self.error(e)
    }

    /// The body, read whole: the model list (or the number of prices known after
    /// loading them); throws the error it carries.
    pub fn done(&mut self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        if let Some(call) = self.call.take() {
            call.end();
        }
        let text = crate::sse::utf8_lossy(bytes);
        let list = models::read_model_list(self.status, &text, self.request_id.take())
            .map_err(|e| self.error(e))?;
        match self.want {
            Want::List => JSON::parse(&list.to_json()).map_err(|_| {
                self.error(Error::new(
                    ErrorKind::Parse,
                    "the model list could not be read",
                ))
            }),
            Want::Pricing => {
                let mut table = crate::usage::PriceTable::from_model_list(&list);
                let mut prices = self.cfg.metering.prices.borrow_mut();
                table.overlay(&prices);
                *prices = table;
                Ok((prices.len() as f64).into())
            }
        }
    }
}

impl ModelsCall {
    fn error(&self, e: Error) -> JsValue {
        to_js(&self.cfg.redact(e), None, None)
    }
}

impl Drop for ModelsCall {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.end();
        }
    }
}
