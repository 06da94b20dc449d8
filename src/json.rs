//! The crate's JSON: its value and the helpers shared by the modules that read or
//! check JSON by hand.
//!
//! Owns: [`Value`] (with [`Map`] and [`Number`], in `value`), parsed by
//! [`crate::scan::Reader`] and written by [`push_string`], the one string escaper;
//! [`Expect`], the JSON type a known request field must have (with the wording used in
//! `input` errors); the lenient readers used where a server may send `null`, a float or
//! a numeric string for a number; serde's wording of type errors ([`invalid_type`]);
//! and [`ObjectText`], JSON objects written straight to text. Must never: decide what a
//! field means (each module does), or fail on a field a server got slightly wrong.

mod value;

pub(crate) use value::read as read_value;
pub use value::{parse_bytes, Map, Number, ParseError, Value};

/// `text` parsed by [`crate::scan::Reader`] into a [`Value`]: the one JSON grammar in the
/// crate (the one the property tests hold to `serde_json`), the error saying where the
/// text broke.
pub(crate) fn parse(text: &str) -> Result<Value, ParseError> {
    value::parse(text)
}

/// The JSON text of `v` (compact, keys in map order, numbers as they were read or made).
pub(crate) fn to_text(v: &Value) -> String {
    v.to_text()
}

/// `v` made from `serde_json`'s value, by its text: for the tests, which build inputs with
/// `serde_json::json!`.
#[cfg(test)]
pub(crate) fn from_serde(v: &serde_json::Value) -> Value {
    parse(&v.to_string()).unwrap_or_default()
}

/// `v` as `serde_json`'s value, by its text: for the tests' comparisons.
#[cfg(test)]
pub(crate) fn to_serde(v: &Value) -> serde_json::Value {
    serde_json::from_str(&v.to_text()).unwrap_or_default()
}

/// `s` as a JSON string, escaped as `serde_json` escapes it (`\"`, `\\`, the short forms
/// of `\b \f \n \r \t`, `\u00XX` for the other control characters, nothing else).
pub(crate) fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    // Every byte that needs escaping is ASCII, so the runs between them are whole UTF-8
    // and go in with one copy each (a char at a time, a tool call's megabyte of
    // arguments took most of `finalCompletion()`'s time).
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        run = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

/// A JSON array of `[key, value]` pairs (how serde wrote a `Vec<(String, T)>`), each
/// value written by `write`.
pub(crate) fn pairs_text<T>(items: &[(String, T)], write: fn(&T) -> String) -> String {
    array_text(items.iter().map(|(k, v)| {
        let mut pair = String::from("[");
        push_string(&mut pair, k);
        pair.push(',');
        pair.push_str(&write(v));
        pair.push(']');
        pair
    }))
}

/// A JSON array of `items`, each already JSON text.
pub(crate) fn array_text(items: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// A JSON object written straight to text, its members in the order they are added:
/// for the answers the proxy builds, where a `Value` (a B-tree map, then its serializer)
/// only to print a fixed shape cost code for each (callers there add members in key
/// order, so the text is the one `serde_json` prints for the same `Map`, which sorts its
/// keys), and for what the client's shell hands to JavaScript as text (the error's
/// fields, `usage()`, records, alerts, `health()`: one `JSON.parse` there, where
/// building the object from wasm costs a `Reflect.set` and a string per field). An
/// absent optional member is left out (`opt_*`) or `null` (`*_or_null`), as the shape
/// says.
pub(crate) struct ObjectText(String);

impl ObjectText {
    pub(crate) fn new() -> ObjectText {
        ObjectText(String::from("{"))
    }

    /// Starts member `key`; its value is written next.
    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_string(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }

    /// Member `key` with `json`, a JSON text, as its value.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut ObjectText {
        self.key(key).push_str(json);
        self
    }

    pub(crate) fn string(&mut self, key: &str, value: &str) -> &mut ObjectText {
        push_string(self.key(key), value);
        self
    }

    /// A string, or `null` for `None`.
    pub(crate) fn string_or_null(&mut self, key: &str, value: Option<&str>) -> &mut ObjectText {
        match value {
            Some(v) => self.string(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn number(&mut self, key: &str, value: u64) -> &mut ObjectText {
        self.raw(key, &value.to_string())
    }

    /// A number, or `null` for `None`.
    pub(crate) fn number_or_null(&mut self, key: &str, value: Option<u64>) -> &mut ObjectText {
        match value {
            Some(v) => self.number(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn opt_string(&mut self, key: &str, value: Option<&str>) -> &mut ObjectText {
        if let Some(v) = value {
            self.string(key, v);
        }
        self
    }

    pub(crate) fn opt_number(&mut self, key: &str, value: Option<u64>) -> &mut ObjectText {
        if let Some(v) = value {
            self.number(key, v);
        }
        self
    }

    /// An `f64`, written so that JavaScript reads back the same value (`serde_json`
    /// writes the shortest such text); a non-finite one, which no total can be, as `null`.
    pub(crate) fn float(&mut self, key: &str, value: f64) -> &mut ObjectText {
        self.raw(key, &float_text(value))
    }

    /// A parsed or built [`Value`].
    pub(crate) fn value(&mut self, key: &str, value: &Value) -> &mut ObjectText {
        value.write(self.key(key));
        self
    }

    pub(crate) fn opt_value(&mut self, key: &str, value: Option<&Value>) -> &mut ObjectText {
        if let Some(v) = value {
            self.value(key, v);
        }
        self
    }

    /// A JSON text member, left out for `None`.
    pub(crate) fn opt_raw(&mut self, key: &str, json: Option<&str>) -> &mut ObjectText {
        if let Some(j) = json {
            self.raw(key, j);
        }
        self
    }

    /// Every member of `map`, after those written so far (as serde's `flatten` wrote
    /// them: the named fields first, then the rest in key order).
    pub(crate) fn members(&mut self, map: &Map) -> &mut ObjectText {
        for (k, v) in map {
            self.value(k, v);
        }
        self
    }

    /// A float, or `null` for `None`.
    pub(crate) fn float_or_null(&mut self, key: &str, value: Option<f64>) -> &mut ObjectText {
        match value {
            Some(v) => self.float(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn boolean(&mut self, key: &str, value: bool) -> &mut ObjectText {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// The object's text.
    pub(crate) fn end(&mut self) -> String {
        let mut text = std::mem::take(&mut self.0);
        text.push('}');
        text
    }
}

/// `value` as JSON text: the shortest that reads back the same (`zmij`, what `serde_json`
/// wrote), `null` for NaN and the infinities.
pub(crate) fn float_text(value: f64) -> String {
    match Number::from_f64(value) {
        Some(n) => n.as_text().to_owned(),
        None => "null".to_owned(),
    }
}

/// An object of `pairs`. Use this, not `serde_json::json!`: the macro converts each
/// interpolated value through `serde_json::to_value`, which brings serde's `Value`
/// serializer into the wasm.
pub(crate) fn object(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

/// The JSON type a known field must have. `null` always passes: it means "use the
/// default" to every OpenAI-compatible and TGI server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Bool,
    Integer,
    Number,
    String,
    Object,
    Array,
    /// An array whose items are all strings.
    Strings,
    StringOrArray,
    StringOrObject,
}

impl Expect {
    pub(crate) fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Expect::Bool, Value::Bool(_)) => true,
            (Expect::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Expect::Number, Value::Number(_)) => true,
            (Expect::String, Value::String(_)) => true,
            (Expect::Object, Value::Object(_)) => true,
            (Expect::Array, Value::Array(_)) => true,
            (Expect::Strings, Value::Array(items)) => items.iter().all(Value::is_string),
            (Expect::StringOrArray, Value::String(_) | Value::Array(_)) => true,
            (Expect::StringOrObject, Value::String(_) | Value::Object(_)) => true,
            _ => false,
        }
    }

    /// How an error message names the type.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Expect::Bool => "a boolean",
            Expect::Integer => "an integer",
            Expect::Number => "a number",
            Expect::String => "a string",
            Expect::Object => "an object",
            Expect::Array => "an array",
            Expect::Strings => "an array of strings",
            Expect::StringOrArray => "a string or an array of strings",
            Expect::StringOrObject => "a string or an object",
        }
    }
}

/// A count (tokens, a time, an index) as servers send it: a non-negative integer, a
/// float (truncated: `1741627526.7` seconds is second 1741627526, `12.0` tokens is 12)
/// or a string of one (`"12"`, `" 12.0 "`); anything else (negative, `null`, `NaN`,
/// an exponent, garbage, beyond `u64`) is `None`.
pub(crate) fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Some(u);
            }
            if n.is_i64() {
                // Negative: not a count or a time we can use.
                return None;
            }
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
                // Truncation is the intent (see above).
                .map(|f| f as u64)
        }
        Value::String(s) => count_from_str(s),
        _ => None,
    }
}

/// [`count`] of a string: ASCII digits with an optional `.` and fraction digits, spaces
/// around allowed; the fraction is dropped. No sign, exponent or `inf` (and no
/// `str::parse::<f64>`, whose tables would cost the wasm ~15 KB).
pub(crate) fn count_from_str(s: &str) -> Option<u64> {
    let s = s.trim();
    let (int, frac) = match s.bytes().position(|b| b == b'.') {
        Some(dot) => (s.get(..dot)?, s.get(dot + 1..)?),
        None => (s, ""),
    };
    if int.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits only (`u64::from_str` would accept a leading `+`; a count has no sign),
    // within `u64`.
    digits_u64(int)
}

// `text` as a `u64` when it is only ASCII digits: the wire crate's, which the chat
// chunks' reader uses too.
pub(crate) use hf_inference_wire::digits_u64;

/// A finite number, or a string holding one (read as `str::parse::<f64>` reads it, by
/// [`crate::float::parse`], which costs the wasm far less); anything else is `None`.
pub(crate) fn f64_of(v: Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::float::parse(s.trim()).filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A string; anything else is `None`.
pub(crate) fn string_of(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A boolean; anything else is `None`.
pub(crate) fn bool_of(v: &Value) -> Option<bool> {
    v.as_bool()
}

// Errors worded as `serde_json` words them. The readers that replaced derived
// `Deserialize` impls (models, tgi, hub) keep their error messages word for word with
// these, without going through serde's `Unexpected`: its `Display` prints floats with
// `core`'s float formatting, about 18 KB of wasm that nothing else needs.

/// "invalid type: integer `5`, expected a string": `found` is not what `expected`
/// (serde's wording of a type: "a string", "a sequence", "struct Token") must be.
#[cold]
pub(crate) fn invalid_type(found: &Value, expected: &str) -> String {
    let mut m = String::from("invalid type: ");
    match found {
        Value::Null => m.push_str("null"),
        Value::Bool(b) => {
            m.push_str(if *b {
                "boolean `true`"
            } else {
                "boolean `false`"
            });
        }
        Value::Number(n) => {
            // An integer's text is its digits; a float is printed as `serde_json` quoted
            // it, the shortest text of its value.
            if n.is_f64() {
                m.push_str("floating point `");
                m.push_str(&float_text(n.as_f64().unwrap_or_default()));
            } else {
                m.push_str("integer `");
                m.push_str(n.as_text());
            }
            m.push('`');
        }
        Value::String(s) => {
            m.push_str("string ");
            m.push_str(&format!("{s:?}"));
        }
        Value::Array(_) => m.push_str("sequence"),
        Value::Object(_) => m.push_str("map"),
    }
    m.push_str(", expected ");
    m.push_str(expected);
    m
}

/// "missing field `id`".
#[cold]
pub(crate) fn missing_field(field: &str) -> String {
    crate::error::concat(&["missing field `", field, "`"])
}

/// A required string field of a derived-style read: `Err` with serde's words when it
/// is absent or not a string.
pub(crate) fn required_string(v: Option<Value>, field: &str) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(invalid_type(&other, "a string")),
        None => Err(missing_field(field)),
    }
}

/// A field read by `read` where `null` (or absence) is `None`, as serde reads an
/// `Option<T>`.
pub(crate) fn optional<T>(
    v: Option<Value>,
    read: fn(Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v).map(Some),
    }
}

/// An array whose elements `read` reads, `null` (or absence) as empty, as serde reads
/// an `Option<Vec<T>>` then unwraps it to its default. The first failing element's
/// error is the error.
pub(crate) fn vec_or_null<T>(
    v: Option<Value>,
    read: fn(Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            // A loop, not `collect::<Result<Vec<_>, _>>()`: its adapter is compiled
            // again for every element type.
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(read(item)?);
            }
            Ok(out)
        }
        Some(other) => Err(invalid_type(&other, "a sequence")),
    }
}

// The lenient `serde` field readers, for the derived `Deserialize` impls the tests keep
// as the oracle of the hand readers (the shipped code has no serde).

/// A count: see [`count`].
#[cfg(test)]
pub(crate) fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(count(&from_serde(&serde::Deserialize::deserialize(d)?)))
}

/// [`opt_u64`], `0` when absent.
#[cfg(test)]
pub(crate) fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(opt_u64(d)?.unwrap_or(0))
}

/// [`f64_of`] as a field reader.
#[cfg(test)]
pub(crate) fn opt_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(f64_of(from_serde(&serde::Deserialize::deserialize(d)?)))
}

/// [`bool_of`] as a field reader.
#[cfg(test)]
pub(crate) fn opt_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(bool_of(&from_serde(&serde::Deserialize::deserialize(d)?)))
}

/// `true` only for `true`.
#[cfg(test)]
pub(crate) fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(bool_of(&from_serde(&serde::Deserialize::deserialize(d)?)) == Some(true))
}

/// [`string_of`] as a field reader.
#[cfg(test)]
pub(crate) fn opt_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(string_of(from_serde(&serde::Deserialize::deserialize(d)?)))
}

/// A string, `""` for `null` or anything else.
#[cfg(test)]
pub(crate) fn string_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string(d)?.unwrap_or_default())
}

/// For the tests that hold hand writers to the derived `Serialize`: for each type, when
/// its `from_json` reads `v` (`serde_json`'s value), its `to_json` is the derived text.
#[cfg(all(test, not(target_arch = "wasm32")))]
macro_rules! writers_match {
    ($v:expr; $($t:ty),* $(,)?) => {{
        $(
            if let Ok(x) = <$t>::from_json($crate::json::from_serde($v)) {
                proptest::prop_assert_eq!(x.to_json(), serde_json::to_string(&x).unwrap_or_default());
            }
        )*
        Ok(())
    }};
}
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) use writers_match;

/// Arbitrary JSON for the tests that hold a hand-written reader to the derived
/// `Deserialize` it replaced: objects keyed mostly by the field names the reader knows,
/// values of every JSON type (floats, negative and huge integers, strings that need
/// escaping).
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod arb {
    use proptest::prelude::*;
    use serde_json::Value;

    pub(crate) fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(keys).prop_map(str::to_owned),
            1 => "[a-z_]{0,4}",
        ]
    }

    pub(crate) fn value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            proptest::sample::select(&[0.5, 12.0, -0.0, 1e300, 1.5e-7, 0.1][..])
                .prop_map(Value::from),
            "[a-z0-9 .\"\\\\\u{0}\u{7f}\u{e9}\u{1F600}-]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key(keys), inner), 0..7)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// The escaper writes what serde_json writes, for any text (control characters,
        /// quotes, backslashes and non-ASCII among plain runs).
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(
            s in "[a-z \"\\\\\u{0}-\u{1f}\u{7f}\u{e9}\u{2028}\u{1F600}]{0,40}"
        ) {
            let mut out = String::from("x");
            push_string(&mut out, &s);
            proptest::prop_assert_eq!(&out[1..], serde_json::to_string(&s).unwrap_or_default());
        }
    }

    #[test]
    fn digits_read_to_the_edge_of_u64() {
        assert_eq!(digits_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(digits_u64("18446744073709551616"), None);
        assert_eq!(digits_u64("99999999999999999999"), None);
        assert_eq!(digits_u64("0018"), Some(18));
        assert_eq!(digits_u64(""), None);
        assert_eq!(digits_u64("1+"), None);
        for n in [0, 9, 10, 12345, u64::MAX / 10, u64::MAX - 1] {
            assert_eq!(digits_u64(&n.to_string()), Some(n));
        }
    }
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
    }

    fn probe(v: Value) -> Probe {
        serde_json::from_value(v).unwrap_or(Probe {
            n: Some(999),
            f: Some(999.0),
        })
    }

    #[test]
    fn counts_accept_integers_floats_and_numeric_strings() {
        assert_eq!(probe(json!({"n": 5})).n, Some(5));
        assert_eq!(probe(json!({"n": 1741627526.7})).n, Some(1741627526));
        assert_eq!(probe(json!({"n": " 42 "})).n, Some(42));
        assert_eq!(probe(json!({"n": "12.0"})).n, Some(12));
        assert_eq!(probe(json!({"n": 12.0})).n, Some(12));
        assert_eq!(probe(json!({"n": "12.9"})).n, Some(12));
        for bad in [
            "",
            ".5",
            "+3",
            "-3",
            "1e3",
            "inf",
            "NaN",
            "1.2.3",
            "12.x",
            "99999999999999999999",
        ] {
            assert_eq!(probe(json!({ "n": bad })).n, None, "{bad:?}");
        }
        assert_eq!(probe(json!({"n": -1})).n, None);
        assert_eq!(probe(json!({"n": null})).n, None);
        assert_eq!(probe(json!({})).n, None);
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(probe(json!({"f": "0.5"})).f, Some(0.5));
        assert_eq!(probe(json!({"f": "inf"})).f, None);
        assert_eq!(probe(json!({"f": true})).f, None);
    }

    #[test]
    fn invalid_type_words_every_json_type_as_serde_json_does() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            s: String,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct B {
            s: bool,
        }
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(5),
            json!(-5),
            json!(u64::MAX),
            json!(0.5),
            json!(-0.0),
            json!(1e300),
            json!(1.5e-7),
            json!("a\"b\\c\u{0}\u{7f}\u{e9}\u{1F600}\n"),
            json!([1]),
            json!({"a": 1}),
        ] {
            let (serde, expected) = if v.is_string() {
                let r = serde_json::from_value::<B>(json!({ "s": v.clone() })).map(|_| ());
                (r, "a boolean")
            } else {
                let r = serde_json::from_value::<S>(json!({ "s": v.clone() })).map(|_| ());
                (r, "a string")
            };
            let serde = serde.map_err(|e| e.to_string());
            assert_eq!(serde, Err(invalid_type(&from_serde(&v), expected)), "{v}");
        }
        let serde = serde_json::from_value::<S>(json!({})).map(|_| ());
        assert_eq!(serde.map_err(|e| e.to_string()), Err(missing_field("s")));
    }

    #[test]
    fn expect_accepts_null_and_names_types() {
        let accepts = |e: Expect, v: Value| e.accepts(&from_serde(&v));
        assert!(accepts(Expect::Integer, Value::Null));
        assert!(!accepts(Expect::Integer, json!(1.5)));
        assert!(accepts(Expect::Integer, json!(-3)));
        assert!(!accepts(Expect::Integer, json!(-0.0)));
        assert!(accepts(Expect::Strings, json!(["a", "b"])));
        assert!(!accepts(Expect::Strings, json!(["a", 1])));
        assert_eq!(
            Expect::StringOrArray.describe(),
            "a string or an array of strings"
        );
    }
}
