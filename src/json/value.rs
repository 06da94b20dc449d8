//! The crate's own JSON value: [`Value`], its object [`Map`] and its [`Number`], read by
//! [`crate::scan::Reader`] (the one, oracle-tested, JSON grammar in the wasm) and written
//! with [`super::push_string`] (the one string escaper).
//!
//! Owns: the tree for the cold paths (options, request bodies, error payloads, the
//! proxy's state) and its text in and out. Must never: accept text `scan` rejects, panic
//! on any input, or reorder what it was given other than by sorting object keys.
//!
//! Choices, each made to keep what `serde_json`'s `Value` (with its default `Map`) did:
//! - An object's keys are kept sorted (byte order of the key text, as a `BTreeMap` of
//!   `String` sorts), a duplicate key's last value wins: the text written for a map is
//!   the one `serde_json` wrote. It is a sorted `Vec`, not a `BTreeMap`: the objects are
//!   small and a `BTreeMap` cost each wasm ~12 KB of code.
//! - A number keeps its JSON text, and is read on demand: [`Number::as_u64`],
//!   [`Number::as_i64`] as `serde_json` classifies integers (`-0` and anything beyond
//!   `u64`/`i64` is a float), [`Number::as_f64`] by [`crate::float::parse`] (exact; no
//!   `core` float tables). It is written as `serde_json` wrote it: an integer as its
//!   digits (its text, unchanged), a float as the shortest text that reads back the
//!   same (`zmij`, the printer `serde_json` used: `1e2` is written `100.0`, `0.50`
//!   `0.5`), so every body, key and answer the crate writes is byte for byte what it
//!   was. (Writing a parsed float's own text would save the print, but change what a
//!   pass-through body, a cache replay or a proxy answer looks like.)

use crate::scan::{self, Kind, Reader};

/// A JSON value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number, as its text (valid JSON number text, always).
#[derive(Debug, Clone)]
pub struct Number(String);

/// A JSON object: members sorted by key, keys unique. (Its parameters are only there so
/// that code written for `serde_json::Map<String, Value>` reads the same; only
/// `Map<String, Value>` has methods.)
#[derive(Debug, Clone, PartialEq)]
pub struct Map<K = String, V = Value>(Vec<(K, V)>);

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

/// Where a text stopped being JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset where the reader stopped.
    pub at: usize,
    /// 1-based line, and the column as `serde_json` counted it: the bytes read on that
    /// line before `at` (the column of the last one read).
    pub line: usize,
    pub column: usize,
    /// Whether the text ended before its value did.
    pub eof: bool,
}

impl ParseError {
    /// The error at byte `at` of `text`.
    pub(crate) fn new(text: &str, at: usize) -> ParseError {
        let at = at.min(text.len());
        let mut end = at;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = text.get(..end).unwrap_or_default();
        // One pass over the bytes (`rfind` would bring `memrchr` along).
        let (mut line, mut line_start) = (1, 0);
        for (i, b) in before.bytes().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        let column = before.len() - line_start;
        ParseError {
            at,
            line,
            column,
            eof: at >= text.len(),
        }
    }

    /// `message` then where: "duplicate field `id` at line 1 column 17", for the errors a
    /// hand reader finds in text that is JSON.
    pub fn at_position(text: &str, at: usize, message: &str) -> String {
        let e = ParseError::new(text, at);
        let mut m = String::from(message);
        e.push_position(&mut m);
        m
    }

    /// " at line L column C".
    fn push_position(&self, m: &mut String) {
        m.push_str(" at line ");
        crate::error::push_uint(m, self.line as u64);
        m.push_str(" column ");
        crate::error::push_uint(m, self.column as u64);
    }

    /// "unexpected end of the text at line 1 column 5" or "unexpected character at line
    /// 2 column 3" (a character that cannot be where it is: a syntax error, a number out
    /// of `f64`'s range, a lone surrogate escape, nesting deeper than 127).
    pub fn message(&self) -> String {
        let mut m = String::new();
        self.push_message(&mut m);
        m
    }

    /// [`ParseError::message`], appended to `m`.
    pub fn push_message(&self, m: &mut String) {
        m.push_str(if self.eof {
            "unexpected end of the text"
        } else {
            "unexpected character"
        });
        self.push_position(m);
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// `text` as one JSON value (whitespace around it allowed).
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut r = Reader::new(text);
    match read(&mut r, text).and_then(|v| r.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(scan::Invalid) => Err(ParseError::new(text, r.pos())),
    }
}

/// `bytes` as one JSON value; bytes that are not UTF-8 are an error where they start.
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            // The valid prefix, read as far as it goes, says where the value broke first.
            let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let text = std::str::from_utf8(valid).unwrap_or_default();
            match parse(text) {
                Err(pe) if !pe.eof => Err(pe),
                _ => {
                    let mut pe = ParseError::new(text, text.len());
                    pe.eof = false;
                    Err(pe)
                }
            }
        }
    }
}

/// The next value of `r`. Depth is bounded by the reader (127 levels), so the recursion is.
pub(crate) fn read(r: &mut Reader<'_>, src: &str) -> Result<Value, scan::Invalid> {
    Ok(match r.peek()? {
        Kind::Object => {
            r.enter(Kind::Object)?;
            let mut map = Map::new();
            let mut first = true;
            while let Some(key) = r.next_key(&mut first)? {
                let mut k = String::new();
                scan::decode_str(src, &key, &mut k);
                let v = read(r, src)?;
                map.insert(k, v);
            }
            Value::Object(map)
        }
        Kind::Array => {
            r.enter(Kind::Array)?;
            let mut items = Vec::new();
            let mut first = true;
            while r.next_item(&mut first)? {
                items.push(read(r, src)?);
            }
            Value::Array(items)
        }
        Kind::String => {
            let span = r.string()?;
            let mut s = String::new();
            scan::decode_str(src, &span, &mut s);
            Value::String(s)
        }
        Kind::Number => Value::Number(Number(r.value()?.raw(src).to_owned())),
        Kind::Null => {
            r.value()?;
            Value::Null
        }
        Kind::True => {
            r.value()?;
            Value::Bool(true)
        }
        Kind::False => {
            r.value()?;
            Value::Bool(false)
        }
    })
}

static NULL: Value = Value::Null;

impl std::fmt::Display for Value {
    /// The compact JSON text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Value {
    /// `text` as one JSON value: see [`parse`].
    pub fn parse(text: &str) -> Result<Value, ParseError> {
        parse(text)
    }

    /// The compact JSON text (no spaces), keys in map order.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Appends the compact JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => n.write(out),
            Value::String(s) => super::push_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(map) => map.write(out),
        }
    }

    /// The member `key` of an object; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }

    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }

    pub fn is_f64(&self) -> bool {
        self.as_number().is_some_and(Number::is_f64)
    }

    /// The value, leaving `null` in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The member `key`, or `null` (as `serde_json` indexes).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    /// The element `i`, or `null`.
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// The member `key`, or `null`.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::IndexMut<&str> for Value {
    /// The member `key`, added as `null` when missing; a value that is not an object
    /// becomes an empty one first (where `serde_json` turned `null` into one and panicked
    /// on the rest).
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if !self.is_object() {
            *self = Value::Object(Map::new());
        }
        match self {
            Value::Object(m) => m.or_insert_with(key, || Value::Null),
            other => other,
        }
    }
}

impl Number {
    /// The number's JSON text.
    pub fn as_text(&self) -> &str {
        &self.0
    }

    /// A whole number in `u64`'s range written without a sign, fraction or exponent.
    /// By the wire crate's digit reader: `str::parse`'s generic integer code is its own
    /// function in the wasm, for the same answer on digits alone (`None` past `u64::MAX`).
    pub fn as_u64(&self) -> Option<u64> {
        hf_inference_wire::digits_u64(&self.0)
    }

    /// A whole number in `i64`'s range written without a fraction or exponent; `-0` is a
    /// float, as `serde_json` reads it.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0.strip_prefix('-') {
            Some(digits) => {
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                self.0.parse().ok().filter(|&n: &i64| n != 0)
            }
            None => self.as_u64().and_then(|u| i64::try_from(u).ok()),
        }
    }

    pub fn is_u64(&self) -> bool {
        self.as_u64().is_some()
    }

    /// An integer `serde_json` keeps as `i64` or as a `u64` that fits one.
    pub fn is_i64(&self) -> bool {
        self.as_i64().is_some()
    }

    /// Not an integer `serde_json` would keep as one.
    pub fn is_f64(&self) -> bool {
        !self.is_u64() && !self.is_i64()
    }

    /// The value, exactly rounded (valid number text is always finite: the reader rejects
    /// what overflows).
    pub fn as_f64(&self) -> Option<f64> {
        crate::float::parse_number(&self.0)
    }

    /// Appends [`Number::display`] to `out`.
    fn write(&self, out: &mut String) {
        if self.is_f64() {
            out.push_str(&self.display());
        } else {
            out.push_str(&self.0);
        }
    }

    /// The text `serde_json` printed for this number: an integer's digits, a float's
    /// shortest round-trip text (`1e2` is `100.0`, `0.50` is `0.5`).
    pub fn display(&self) -> String {
        if !self.is_f64() {
            return self.0.clone();
        }
        match self.as_f64().and_then(Number::from_f64) {
            Some(n) => n.0,
            None => self.0.clone(),
        }
    }

    /// A finite `f64` written as its shortest round-trip text; `None` for NaN and the
    /// infinities, which JSON has no text for.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        Some(Number(zmij::Buffer::new().format_finite(f).to_owned()))
    }
}

impl PartialEq for Number {
    /// Equal as `serde_json` compares numbers: an integer only to the same integer, a
    /// float only to a float of the same value.
    fn eq(&self, other: &Number) -> bool {
        if let (Some(a), Some(b)) = (self.as_u64(), other.as_u64()) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.as_i64(), other.as_i64()) {
            return a == b;
        }
        self.is_f64() && other.is_f64() && self.as_f64() == other.as_f64()
    }
}

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => self
                .0
                .get_mut(i)
                .map(|slot| std::mem::replace(&mut slot.1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.find(key).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.find(key).ok()?;
        self.0.get_mut(i).map(|(_, v)| v)
    }

    /// The member `key`, set to `make()` first when missing.
    pub fn or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key.to_owned(), make()));
                i
            }
        };
        // `i` is the member found or just inserted.
        &mut self.0[i].1
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.find(key).ok()?;
        Some(self.0.remove(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Keeps the members `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// Appends the object's compact JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            super::push_string(out, k);
            out.push(':');
            v.write(out);
        }
        out.push('}');
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Map {
        let mut m = Map::new();
        m.extend(iter);
        m
    }
}

impl Extend<(String, Value)> for Map {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

// Comparisons with plain values, as `serde_json::Value` has them (`v["n"] == 3`).
macro_rules! eq_plain {
    ($($t:ty => $read:ident as $as:ty),* $(,)?) => {$(
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                self.$read() == Some(*other as $as)
            }
        }
    )*};
}

eq_plain!(i32 => as_i64 as i64, i64 => as_i64 as i64, u32 => as_u64 as u64, u64 => as_u64 as u64, usize => as_u64 as u64, f64 => as_f64 as f64);

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(Number(n.to_string()))
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::from(u64::from(n))
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::from(u64::from(n))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::from(n as u64)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number(n.to_string()))
    }
}

impl From<f64> for Value {
    /// A finite float as a number, NaN and the infinities as `null` (as `serde_json`).
    fn from(f: f64) -> Value {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

// For the tests only: the derived `Serialize`/`Deserialize` impls they keep as oracles
// of the hand readers and writers go through `serde_json`'s value, by text.
#[cfg(test)]
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::json::to_serde(self).serialize(s)
    }
}

#[cfg(test)]
impl serde::Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::new();
        self.write(&mut text);
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_default()
            .serialize(s)
    }
}

#[cfg(test)]
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(crate::json::from_serde(&v))
    }
}

#[cfg(test)]
impl<'de> serde::Deserialize<'de> for Map {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
        let m = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match crate::json::from_serde(&serde_json::Value::Object(m)) {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        }
    }
}

// For the tests only: comparisons with `serde_json`'s values and with plain values, as
// `serde_json::Value` has them (`assert_eq!(v["n"], 3)`).
#[cfg(test)]
impl PartialEq<serde_json::Value> for Value {
    fn eq(&self, other: &serde_json::Value) -> bool {
        crate::json::to_serde(self) == *other
    }
}

#[cfg(test)]
impl PartialEq<Value> for serde_json::Value {
    fn eq(&self, other: &Value) -> bool {
        *self == crate::json::to_serde(other)
    }
}

/// Held to `serde_json` (the oracle): the same texts accepted, the same values read, the
/// same text written for what `serde_json` writes, numbers classified the same.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod oracle {
    use super::*;
    use proptest::prelude::*;

    /// Ours against `serde_json::from_str`: both accept or both reject; when they accept,
    /// our text reads back (in `serde_json`) as the value it read.
    fn same(text: &str) -> Result<(), TestCaseError> {
        let theirs = serde_json::from_str::<serde_json::Value>(text).ok();
        let ours = parse(text).ok();
        prop_assert_eq!(ours.is_some(), theirs.is_some(), "{:?}", text);
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            let back: serde_json::Value = serde_json::from_str(&ours.to_text())
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(ours.to_text(), theirs.to_string(), "{:?}", text);
            prop_assert_eq!(back, theirs, "{:?}", text);
        }
        Ok(())
    }

    fn numbers_agree(text: &str) -> Result<(), TestCaseError> {
        let theirs: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let ours = parse(text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(ours.as_u64(), theirs.as_u64(), "{:?}", text);
        prop_assert_eq!(ours.as_i64(), theirs.as_i64(), "{:?}", text);
        prop_assert_eq!(ours.is_f64(), theirs.is_f64(), "{:?}", text);
        // `serde_json`'s float reading is best-effort; ours is exact, as `core`'s.
        let exact = text.trim().parse::<f64>().ok();
        prop_assert_eq!(
            ours.as_f64().map(f64::to_bits),
            exact.map(f64::to_bits),
            "{:?}",
            text
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn writes_what_serde_json_writes(v in crate::json::arb::value(&["a", "b", "a\"\\\u{1}é😀", ""])) {
            let text = serde_json::to_string(&v).unwrap_or_default();
            let ours = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(ours.to_text(), text);
        }

        #[test]
        fn accepts_what_serde_json_accepts(
            v in crate::json::arb::value(&["a", "b"]),
            cut in any::<proptest::sample::Index>(),
            noise in "[\\PC\\\\\"{}:,\\[\\]\n\u{0}eE.+-]{0,4}",
        ) {
            let text = serde_json::to_string(&v).unwrap_or_default();
            same(&text)?;
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            same(&text[..at])?;
            same(&format!("{}{noise}{}", &text[..at], &text[at..]))?;
        }

        #[test]
        fn accepts_any_text_as_serde_json_does(text in "\\PC{0,12}") {
            same(&text)?;
        }

        #[test]
        fn numbers_read_as_serde_json_reads_them(
            sign in "-?",
            int in "(0|[1-9][0-9]{0,22})",
            frac in "(\\.[0-9]{1,20})?",
            exp in "([eE][+-]?[0-9]{1,3})?",
        ) {
            let text = format!("{sign}{int}{frac}{exp}");
            if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
                numbers_agree(&text)?;
            }
            same(&text)?;
        }

        #[test]
        fn floats_made_in_rust_are_written_as_serde_json_writes_them(f in any::<f64>()) {
            let theirs = serde_json::to_string(&serde_json::Value::from(f)).unwrap_or_default();
            prop_assert_eq!(Value::from(f).to_text(), theirs);
        }

        #[test]
        fn integers_made_in_rust_are_written_as_serde_json_writes_them(u in any::<u64>(), i in any::<i64>()) {
            prop_assert_eq!(Value::from(u).to_text(), serde_json::Value::from(u).to_string());
            prop_assert_eq!(Value::from(i).to_text(), serde_json::Value::from(i).to_string());
        }
    }

    #[test]
    fn escapes_surrogates_numbers_and_depth_read_as_serde_json_reads_them() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for text in [
            r#""\ud800""#,
            r#""\ud83d\ude00""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            r#"{"a":"\u00e9\n\t\/","b":[1,2.5e3,-0]}"#,
            r#"{"k\"\u0000\ud83d\ude00":1,"k":2}"#,
            r#"{"a":1,"a":2}"#,
            "\"é😀\"",
            "\"\u{1}\"",
            r#"{"a":1,}"#,
            "[1,]",
            "[1,2",
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e308",
            "1.7976931348623157e308",
            "1.8e308",
            "-1e309",
            "1e-400",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "-0",
            "-0.0",
            "  {\"a\" : [ true , false , null ] }  ",
            &deep(127),
            &deep(128),
        ] {
            assert!(same(text).is_ok(), "{text}");
            if serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_number()) {
                assert!(numbers_agree(text).is_ok(), "{text}");
            }
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_keys_are_sorted() {
        let v = parse(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(v.to_text(), r#"{"a":2,"b":3}"#);
        assert_eq!(v["b"].as_u64(), Some(3));
        assert!(v["zz"].is_null());
    }

    #[test]
    fn parsed_numbers_are_written_as_serde_json_wrote_them() {
        let text = r#"{"a":1e2,"b":0.50,"c":-0,"d":1E+3,"e":18446744073709551616,"f":7}"#;
        let v = parse(text).unwrap();
        assert_eq!(
            v.to_text(),
            r#"{"a":100.0,"b":0.5,"c":-0.0,"d":1000.0,"e":1.8446744073709552e+19,"f":7}"#
        );
        assert_eq!(v["b"].as_number().map(Number::as_text), Some("0.50"));
    }

    #[test]
    fn errors_say_where_the_text_broke() {
        let e = parse("[1,2").unwrap_err();
        assert_eq!(e.message(), "unexpected end of the text at line 1 column 4");
        let e = parse("{\n  \"a\": x}").unwrap_err();
        assert_eq!(e.message(), "unexpected character at line 2 column 7");
        assert_eq!(e.at, 9);
        let e = parse_bytes(b"[\"\xff\"]").unwrap_err();
        assert_eq!((e.at, e.eof), (2, false));
        assert_eq!(parse_bytes(b"[1]").unwrap().to_text(), "[1]");
    }

    #[test]
    fn map_operations_keep_keys_sorted_and_unique() {
        let mut m = Map::new();
        assert_eq!(m.insert("b".into(), Value::from(1u64)), None);
        m.insert("a".into(), Value::from("x"));
        assert_eq!(
            m.insert("b".into(), Value::from(2u64)),
            Some(Value::from(1u64))
        );
        assert_eq!(m.keys().cloned().collect::<Vec<_>>(), ["a", "b"]);
        assert!(m.contains_key("a"));
        assert_eq!(m.remove("a"), Some(Value::from("x")));
        assert_eq!(m.len(), 1);
        assert_eq!(Value::from(m).to_text(), r#"{"b":2}"#);
        assert_eq!(Value::from(f64::NAN), Value::Null);
    }
}
