//! Raw JavaScript bindings the shell needs beyond `js-sys`/`web-sys`, in one place.
//!
//! Owns: `extern` declarations only. Must never: hold logic. Safe wrappers live in the
//! modules that use them.

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    /// `new InferenceError(message, fields)` from `js/errors.js`, the fields given as
    /// the core's JSON (`Error::fields_json`) plus the two that are JavaScript values.
    #[wasm_bindgen(js_name = makeInferenceError)]
    pub fn make_inference_error(
        message: &str,
        fields: &str,
        partial: &JsValue,
        has_cause: bool,
        cause: &JsValue,
    ) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout` (browsers, workers, Node and workerd all have it; `window`
    /// does not exist in the last three). Returns a number or, in Node, an object.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: i32) -> JsValue;

    /// The global `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);

    /// `performance.now()`: a monotonic clock in milliseconds.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn performance_now() -> f64;

    /// `console.log(message)`.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    pub fn console_log(message: &str);

    /// `console.warn(message)`.
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(message: &str);
}
