//! The crate's JSON value from `serde_json`'s and back, by text: the tests build their
//! inputs with `serde_json::json!` and compare with `serde_json`'s values.

#![allow(dead_code)]

use hf_inference_wasm::json::Value;

/// `v` as the crate's value.
pub fn ours(v: &serde_json::Value) -> Value {
    Value::parse(&v.to_string()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// `v` as `serde_json`'s value.
pub fn theirs(v: &Value) -> serde_json::Value {
    serde_json::from_str(&v.to_text()).unwrap_or_else(|e| panic!("{}: {e}", v.to_text()))
}
