//! Handing options from JavaScript to the core.
//!
//! Owns: turning an options object into the JSON text the core reads
//! (`crate::options`, through `optionsJson` in `js/wire.js`), and the side array of the
//! JS values the text points at (functions, the signal, the cache store), picked by the
//! index the core hands back. Must never: check or read an option itself (the core
//! does, with the messages the caller sees).

use crate::json::Value;
use js_sys::{Array, Function};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;
use crate::options::Js;
use crate::web::error::describe;

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/wire.js")]
extern "C" {
    /// The options as JSON text, JS values as placeholders into `values`.
    #[wasm_bindgen(js_name = optionsJson, catch)]
    fn options_json(options: &JsValue, values: &Array) -> Result<String, JsValue>;
}

/// An options object as the core reads it, with the JS values it points at.
pub(crate) struct Handed {
    pub json: Value,
    values: Option<Array>,
}

/// Hand `options` over: `undefined` and `null` are no options.
pub(crate) fn hand_over(options: &JsValue) -> Result<Handed, Error> {
    if options.is_undefined() || options.is_null() {
        return Ok(Handed {
            json: crate::options::parse(None)?,
            values: None,
        });
    }
    let values = Array::new();
    let text = options_json(options, &values).map_err(|e| {
        Error::input(format!(
            "the options could not be read as JSON: {}",
            describe(&e)
        ))
    })?;
    Ok(Handed {
        json: crate::options::parse(Some(&text))?,
        values: Some(values),
    })
}

impl Handed {
    /// The JS value `js` points at.
    pub(crate) fn value(&self, js: Option<Js>) -> Option<JsValue> {
        Some(self.values.as_ref()?.get(js?.0))
    }

    /// A function the core found at `js` (its `typeof` was `"function"`).
    pub(crate) fn function(&self, js: Option<Js>) -> Option<Function> {
        self.value(js).map(JsCast::unchecked_into)
    }
}
