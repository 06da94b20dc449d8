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
    let fields = Object::new();
    set(&fields, "kind", &e.kind.as_str().into());
    set(&fields, "retryable", &e.retryable.into());
    if let Some(s) = e.status {
        set(&fields, "status", &s.into());
    }
    for (key, value) in [
        ("code", &e.code),
        ("requestId", &e.request_id),
        ("provider", &e.provider),
        ("body", &e.body),
    ] {
        if let Some(v) = value {
            set(&fields, key, &v.as_str().into());
        }
    }
    if let Some(t) = e.timeout {
        set(&fields, "timeout", &t.as_str().into());
    }
    if let Some(p) = partial {
        set(&fields, "partial", p);
    }
    if let Some(c) = cause {
        set(&fields, "cause", c);
    }
    sys::make_inference_error(&e.message, &fields)
}

/// Set `attempts` on a JS error: one `{ status, kind, code, timeout, delayMs }` per failed
/// attempt, when the call made more than none.
pub(crate) fn attach_attempts(error: &JsValue, attempts: &[crate::retry::Attempt]) {
    if attempts.is_empty() || !error.is_object() {
        return;
    }
    let list = js_sys::Array::new();
    for a in attempts {
        let o = Object::new();
        if let Some(s) = a.status {
            set(&o, "status", &s.into());
        }
        set(&o, "kind", &a.kind.as_str().into());
        if let Some(c) = &a.code {
            set(&o, "code", &c.as_str().into());
        }
        if let Some(t) = a.timeout {
            set(&o, "timeout", &t.as_str().into());
        }
        if let Some(d) = a.delay_ms {
            set(&o, "delayMs", &(d as f64).into());
        }
        list.push(&o);
    }
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
                if !out.contains(&d) {
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
