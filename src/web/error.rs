//! Crossing the boundary with errors.
//!
//! Owns: turning a core [`Error`] into a JavaScript `InferenceError`, and a JavaScript
//! exception into a short description for a core error. Must never: lose the original
//! exception (it rides along as `cause`), or let a token into a message.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::sys;
use crate::error::Error;

/// A JavaScript `InferenceError` for `e`. `partial` is what a stream delivered before
/// it failed; `cause` the JS exception behind it, if any.
pub(crate) fn to_js(e: &Error, partial: Option<&JsValue>, cause: Option<&JsValue>) -> JsValue {
    let none = JsValue::UNDEFINED;
    sys::make_inference_error(
        &e.message,
        &e.fields_json(),
        partial.unwrap_or(&none),
        cause.is_some(),
        cause.unwrap_or(&none),
    )
}

/// Set `attempts` on a JS error: one `{ status, kind, code, timeout, delayMs }` per failed
/// attempt (`crate::retry::attempts_json`), when the call made more than none.
pub(crate) fn attach_attempts(error: &JsValue, attempts: &[crate::retry::Attempt]) {
    if attempts.is_empty() || !error.is_object() {
        return;
    }
    // The core's own JSON: it always parses.
    let list =
        js_sys::JSON::parse(&crate::retry::attempts_json(attempts)).unwrap_or(JsValue::UNDEFINED);
    let _ = Reflect::set(error, &JsValue::from_str("attempts"), &list);
}

/// `Reflect.set` on a fresh plain object cannot fail (no setters, not frozen, not a
/// proxy), so its result carries no information.
pub(crate) fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// What a JS exception says, for a core error message: `message`, plus Node's
/// `cause.code`/`cause.message` (undici puts `ECONNREFUSED` there).
pub(crate) fn describe(err: &JsValue) -> String {
    let field = |v: &JsValue, k: &str| -> Option<String> {
        if !v.is_object() {
            return None;
        }
        Reflect::get(v, &JsValue::from_str(k))
            .ok()
            .and_then(|x| x.as_string())
            .filter(|s| !s.is_empty())
    };
    let mut out = match err.dyn_ref::<js_sys::Error>() {
        Some(e) => String::from(e.message()),
        None => err.as_string().unwrap_or_default(),
    };
    if err.is_object() {
        if let Ok(cause) = Reflect::get(err, &JsValue::from_str("cause")) {
            let detail = field(&cause, "code").or_else(|| field(&cause, "message"));
            if let Some(d) = detail {
                if !crate::error::contains(&out, &d) {
                    out = if out.is_empty() {
                        d
                    } else {
                        format!("{out} ({d})")
                    };
                }
            }
        }
    }
    out
}
