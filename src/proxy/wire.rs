//! The proxy's JSON reads of its own types: the `budget` option, the shared state's call
//! bodies and answers, and the Durable Object's snapshot.
//!
//! Owns: [`read`], which reads JSON text of a [`Ty`] (a static description of a derived
//! `Deserialize` type) into a [`W`] tree, and the shapes of the types read this way. The
//! derived impls read through `serde_json`'s typed `deserialize_u64`, `deserialize_struct`,
//! …, whose type errors are worded through serde's `Unexpected`, whose `Display` prints
//! floats with `core`'s float formatting (~17 KB of wasm nothing else needs), and each
//! type compiles its own visitor (~26 KB in all). Here one visitor reads every shape
//! through `deserialize_any` (`deserialize_u128` for a `u128`), the types convert from
//! the tree, and the derived impls stay, unused by the wasm, as the oracle the tests hold
//! this to: the same values and the same error messages, positions included.
//!
//! Must never: accept a text the derived impl refuses or refuse one it accepts, or read
//! a value differently. (Known difference, in error text only: a unit variant written as
//! an object, `{"proxy": null}`, that is malformed inside the braces.)

use std::fmt;

use crate::json::Value;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A type as its derived `Deserialize` reads it.
pub(crate) enum Ty {
    U32,
    U64,
    Usize,
    U128,
    F64,
    Bool,
    Str,
    /// `()`: only `null`.
    Unit,
    Opt(&'static Ty),
    Struct(&'static Shape),
    /// A tuple of two, written as a JSON array of two.
    Pair(&'static Ty, &'static Ty),
    /// A `Vec`.
    List(&'static Ty),
    Enum(&'static Variants),
}

/// A struct with named fields.
pub(crate) struct Shape {
    /// As serde words it: "struct Caps".
    pub name: &'static str,
    /// The JSON names, in declaration order.
    pub names: &'static [&'static str],
    /// Each field's type, and whether it has a default (its own `#[serde(default)]` or
    /// the container's) when missing.
    pub fields: &'static [(Ty, bool)],
    /// `#[serde(deny_unknown_fields)]`.
    pub deny_unknown: bool,
}

/// An enum of unit variants.
pub(crate) struct Variants {
    /// As serde words it: "enum Scope".
    pub name: &'static str,
    pub names: &'static [&'static str],
}

/// A read value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum W {
    /// An integer (range-checked for its type), or an enum's variant index.
    U(u128),
    F(f64),
    B(bool),
    S(String),
    /// `null` for an `Opt` or a `Unit`, or a missing field that has a default.
    None,
    /// A struct's fields (in declaration order), a pair, or a list's items.
    Seq(Vec<W>),
}

/// `text` read as `ty`, or the message the derived impl's `serde_json::from_slice` error
/// would print (what `to_string()` gives).
pub(crate) fn read(text: &str, ty: &Ty) -> Result<W, String> {
    let bytes = text.as_bytes();
    let mut d = serde_json::Deserializer::from_slice(bytes);
    Seed(ty)
        .deserialize(&mut d)
        .and_then(|w| d.end().map(|()| w))
        .map_err(|e| message(&e, bytes))
}

/// Marks an error raised where the derived read would have stopped at the `[` or `{`
/// (without entering it) but `deserialize_any` went in: [`message`] moves it back.
const AT_OPENER: char = '\u{1}';
/// Marks an error the derived read raises at the start of a value (`peek_error`).
const AT_START: char = '\u{2}';

/// `e` as `to_string()` words it, marked positions moved to where the derived read
/// reports them.
#[cold]
fn message(e: &serde_json::Error, text: &[u8]) -> String {
    let s = e.to_string();
    let (body, start) = if let Some(b) = s.strip_prefix(AT_OPENER) {
        (b, false)
    } else if let Some(b) = s.strip_prefix(AT_START) {
        (b, true)
    } else {
        return s;
    };
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = body.strip_suffix(suffix.as_str()).unwrap_or(body);
    let mut i = index_of(text, e.line(), e.column());
    let ws = |b: u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let back = |i: &mut usize, f: &dyn Fn(u8) -> bool| {
        while *i > 0 && f(text[*i - 1]) {
            *i -= 1;
        }
    };
    let at = i;
    back(&mut i, &ws);
    if i > 0 && matches!(text[i - 1], b']' | b'}' | b',') {
        i -= 1;
        back(&mut i, &ws);
    }
    if i > 0 && matches!(text[i - 1], b'[' | b'{') {
        i -= 1;
    } else {
        // A scalar: back over its characters.
        i = at;
        back(&mut i, &|b: u8| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')
        });
    }
    if start {
        // `peek_error` reports one past the byte it peeked.
        i = (i + 1).min(text.len());
    }
    let (line, column) = position_of(text, i);
    format!("{msg} at line {line} column {column}")
}

/// The byte index of `serde_json`'s (1-based line, column = bytes before it on the line).
fn index_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].iter().position(|&b| b == b'\n') {
            Some(n) => start += n + 1,
            None => break,
        }
    }
    (start + column).min(text.len())
}

/// `serde_json`'s position of byte index `i`.
fn position_of(text: &[u8], i: usize) -> (usize, usize) {
    let head = &text[..i];
    let start = head.iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
    let line = 1 + head[..start].iter().filter(|&&b| b == b'\n').count();
    (line, i - start)
}

fn expecting(ty: &Ty) -> &'static str {
    match ty {
        Ty::U32 => "u32",
        Ty::U64 => "u64",
        Ty::Usize => "usize",
        Ty::U128 => "u128",
        Ty::F64 => "f64",
        Ty::Bool => "a boolean",
        Ty::Str => "a string",
        Ty::Unit => "unit",
        Ty::Opt(t) => expecting(t),
        Ty::Struct(s) => s.name,
        Ty::Pair(..) => "a tuple of size 2",
        Ty::List(_) => "a sequence",
        Ty::Enum(v) => v.name,
    }
}

/// "invalid type: …" as `serde_json` words it, optionally marked.
#[cold]
fn wrong<E: de::Error>(mark: Option<char>, found: Value, ty: &Ty) -> E {
    let m = crate::json::invalid_type(&found, expecting(ty));
    E::custom(match mark {
        Some(c) => format!("{c}{m}"),
        None => m,
    })
}

/// "invalid value: integer `…`, expected u32" (an integer out of the type's range).
#[cold]
fn out_of_range<E: de::Error>(found: Value, ty: &Ty) -> E {
    let m = crate::json::invalid_type(&found, expecting(ty));
    E::custom(m.replacen("invalid type", "invalid value", 1))
}

struct Seed<'a>(&'a Ty);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = W;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<W, D::Error> {
        match self.0 {
            Ty::U128 => d.deserialize_u128(Read(self.0)),
            _ => d.deserialize_any(Read(self.0)),
        }
    }
}

struct Read<'a>(&'a Ty);

impl<'a> Read<'a> {
    /// The type a non-`null` value is read as: an `Opt`'s inner one.
    fn ty(&self) -> &'a Ty {
        match self.0 {
            Ty::Opt(t) => t,
            t => t,
        }
    }

    fn unsigned<E: de::Error>(&self, v: u64, found: Value) -> Result<W, E> {
        let max = match self.ty() {
            Ty::U32 => u64::from(u32::MAX),
            Ty::Usize => usize::MAX as u64,
            Ty::U64 => u64::MAX,
            Ty::F64 => return Ok(W::F(v as f64)),
            Ty::Enum(_) => return Err(E::custom(format!("{AT_START}expected value"))),
            t => return Err(wrong(None, found, t)),
        };
        if v <= max {
            Ok(W::U(u128::from(v)))
        } else {
            Err(out_of_range(found, self.ty()))
        }
    }
}

impl<'de> Visitor<'de> for Read<'_> {
    type Value = W;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(expecting(self.0))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<W, E> {
        match self.ty() {
            Ty::Bool => Ok(W::B(v)),
            Ty::Enum(_) => Err(E::custom(format!("{AT_START}expected value"))),
            t => Err(wrong(None, Value::Bool(v), t)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<W, E> {
        self.unsigned(v, Value::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<W, E> {
        match u64::try_from(v) {
            Ok(u) => self.unsigned(u, Value::from(v)),
            Err(_) => match self.ty() {
                Ty::F64 => Ok(W::F(v as f64)),
                Ty::U32 | Ty::U64 | Ty::Usize => Err(out_of_range(Value::from(v), self.ty())),
                Ty::Enum(_) => Err(E::custom(format!("{AT_START}expected value"))),
                t => Err(wrong(None, Value::from(v), t)),
            },
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<W, E> {
        // Only `Ty::U128` reads through `deserialize_u128`.
        Ok(W::U(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<W, E> {
        match self.ty() {
            Ty::F64 => Ok(W::F(v)),
            Ty::Enum(_) => Err(E::custom(format!("{AT_START}expected value"))),
            t => Err(wrong(None, Value::from(v), t)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<W, E> {
        match self.ty() {
            Ty::Str => Ok(W::S(v.to_owned())),
            Ty::Enum(e) => variant(e, v),
            t => Err(wrong(None, Value::String(v.to_owned()), t)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<W, E> {
        match self.0 {
            Ty::Opt(_) | Ty::Unit => Ok(W::None),
            Ty::Enum(_) => Err(E::custom(format!("{AT_START}expected value"))),
            t => Err(wrong(None, Value::Null, t)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<W, A::Error> {
        let mut out = Vec::new();
        match self.ty() {
            Ty::Struct(s) => {
                for (i, (ty, default)) in s.fields.iter().enumerate() {
                    match seq.next_element_seed(Seed(ty))? {
                        Some(w) => out.push(w),
                        None if *default => out.push(W::None),
                        None => {
                            let n = s.fields.len();
                            let exp = format!(
                                "{} with {n} element{}",
                                s.name,
                                if n == 1 { "" } else { "s" }
                            );
                            return Err(de::Error::invalid_length(i, &exp.as_str()));
                        }
                    }
                }
            }
            t @ Ty::Pair(a, b) => {
                for (i, ty) in [a, b].into_iter().enumerate() {
                    match seq.next_element_seed(Seed(ty))? {
                        Some(w) => out.push(w),
                        None => return Err(de::Error::invalid_length(i, &expecting(t))),
                    }
                }
            }
            Ty::List(ty) => {
                while let Some(w) = seq.next_element_seed(Seed(ty))? {
                    out.push(w);
                }
            }
            Ty::Enum(_) => return Err(de::Error::custom(format!("{AT_START}expected value"))),
            t => return Err(wrong(Some(AT_OPENER), Value::Array(Vec::new()), t)),
        }
        Ok(W::Seq(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<W, A::Error> {
        match self.ty() {
            Ty::Struct(s) => {
                let mut got: Vec<Option<W>> = vec![None; s.fields.len()];
                while let Some(key) = map.next_key_seed(Key(s))? {
                    match key {
                        Some(i) => {
                            if got[i].is_some() {
                                return Err(de::Error::duplicate_field(s.names[i]));
                            }
                            got[i] = Some(map.next_value_seed(Seed(&s.fields[i].0))?);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let mut out = Vec::with_capacity(got.len());
                for (i, w) in got.into_iter().enumerate() {
                    out.push(match w {
                        Some(w) => w,
                        None if s.fields[i].1 || matches!(s.fields[i].0, Ty::Opt(_)) => W::None,
                        None => return Err(de::Error::missing_field(s.names[i])),
                    });
                }
                Ok(W::Seq(out))
            }
            Ty::Enum(e) => {
                // `{"variant": null}`.
                let Some(w) = map.next_key_seed(VariantKey(e))? else {
                    return Err(de::Error::custom("expected value"));
                };
                map.next_value_seed(Seed(&Ty::Unit))?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("expected value"));
                }
                Ok(w)
            }
            t => Err(wrong(Some(AT_OPENER), Value::Object(Default::default()), t)),
        }
    }
}

fn variant<E: de::Error>(e: &'static Variants, v: &str) -> Result<W, E> {
    match e.names.iter().position(|n| *n == v) {
        Some(i) => Ok(W::U(i as u128)),
        None => Err(E::unknown_variant(v, e.names)),
    }
}

/// A struct's key: `Some(field index)`, or `None` for a field it ignores.
struct Key(&'static Shape);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        match self.0.names.iter().position(|n| *n == v) {
            Some(i) => Ok(Some(i)),
            None if self.0.deny_unknown => Err(E::unknown_field(v, self.0.names)),
            None => Ok(None),
        }
    }
}

/// An enum's variant, as an object's key.
struct VariantKey(&'static Variants);

impl<'de> DeserializeSeed<'de> for VariantKey {
    type Value = W;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<W, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for VariantKey {
    type Value = W;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("variant identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<W, E> {
        variant(self.0, v)
    }
}

/// A struct's fields, to convert from in declaration order.
pub(crate) struct Fields(std::vec::IntoIter<W>);

impl Fields {
    /// The fields of `w` (a struct's [`W::Seq`]).
    pub(crate) fn of(w: W) -> Fields {
        match w {
            W::Seq(v) => Fields(v.into_iter()),
            _ => Fields(Vec::new().into_iter()),
        }
    }

    /// The next field's value ([`W::None`] when missing).
    pub(crate) fn next(&mut self) -> W {
        self.0.next().unwrap_or(W::None)
    }

    pub(crate) fn u128(&mut self, default: u128) -> u128 {
        match self.next() {
            W::U(v) => v,
            _ => default,
        }
    }

    pub(crate) fn u64(&mut self, default: u64) -> u64 {
        match self.next() {
            // Range-checked when read.
            W::U(v) => v as u64,
            _ => default,
        }
    }

    pub(crate) fn u32(&mut self, default: u32) -> u32 {
        match self.next() {
            W::U(v) => v as u32,
            _ => default,
        }
    }

    pub(crate) fn usize(&mut self, default: usize) -> usize {
        match self.next() {
            W::U(v) => v as usize,
            _ => default,
        }
    }

    pub(crate) fn f64(&mut self, default: f64) -> f64 {
        self.opt_f64().unwrap_or(default)
    }

    pub(crate) fn opt_u64(&mut self) -> Option<u64> {
        match self.next() {
            W::U(v) => Some(v as u64),
            _ => None,
        }
    }

    pub(crate) fn opt_f64(&mut self) -> Option<f64> {
        match self.next() {
            W::F(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn bool(&mut self) -> bool {
        matches!(self.next(), W::B(true))
    }

    pub(crate) fn opt_string(&mut self) -> Option<String> {
        match self.next() {
            W::S(s) => Some(s),
            _ => None,
        }
    }
}

/// The items of a list of `(String, T)` pairs, each converted with `f`.
pub(crate) fn pairs<T>(w: W, f: impl Fn(W) -> T) -> Vec<(String, T)> {
    let W::Seq(items) = w else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|p| {
            let mut p = Fields::of(p);
            let k = p.opt_string().unwrap_or_default();
            (k, f(p.next()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The shapes
// ---------------------------------------------------------------------------------

const fn shape(
    name: &'static str,
    names: &'static [&'static str],
    fields: &'static [(Ty, bool)],
) -> Shape {
    Shape {
        name,
        names,
        fields,
        deny_unknown: false,
    }
}

/// [`CapsOption`].
pub(crate) static CAPS_OPTION: Shape = Shape {
    deny_unknown: true,
    ..shape(
        "struct CapsOption",
        &["tokensPerDay", "usdPerDay"],
        &[(Ty::Opt(&Ty::F64), false), (Ty::Opt(&Ty::F64), false)],
    )
};

/// [`BudgetOption`].
pub(crate) static BUDGET_OPTION: Shape = Shape {
    deny_unknown: true,
    ..shape(
        "struct BudgetOption",
        &["tokensPerDay", "usdPerDay", "perClient", "maxClients"],
        &[
            (Ty::Opt(&Ty::F64), false),
            (Ty::Opt(&Ty::F64), false),
            (Ty::Opt(&Ty::Struct(&CAPS_OPTION)), false),
            (Ty::Opt(&Ty::F64), false),
        ],
    )
};

/// [`LimitWire`].
pub(crate) static LIMIT_WIRE: Shape = shape(
    "struct LimitWire",
    &["requestsPerMinute", "burst", "maxClients"],
    &[(Ty::U32, false), (Ty::U32, false), (Ty::Usize, false)],
);

/// [`AdmitWire`].
pub(crate) static ADMIT_WIRE: Shape = shape(
    "struct AdmitWire",
    &["allowed", "remaining", "retryAfterMs"],
    &[(Ty::Bool, false), (Ty::U32, true), (Ty::U64, true)],
);

/// [`super::Exhausted`].
pub(crate) static EXHAUSTED: Shape = shape(
    "struct Exhausted",
    &[
        "scope",
        "kind",
        "cap",
        "spent",
        "resetsAtMs",
        "windowMs",
        "resetsInMs",
    ],
    &[
        (
            Ty::Enum(&Variants {
                name: "enum Scope",
                names: &["proxy", "client"],
            }),
            false,
        ),
        (
            Ty::Enum(&Variants {
                name: "enum CapKind",
                names: &["tokens", "usd"],
            }),
            false,
        ),
        (Ty::F64, false),
        (Ty::F64, false),
        (Ty::U64, false),
        (Ty::U64, false),
        (Ty::U64, false),
    ],
);

/// `Option<Exhausted>`: the shared state's answer to `check`.
pub(crate) static OPT_EXHAUSTED: Ty = Ty::Opt(&Ty::Struct(&EXHAUSTED));

/// [`super::Spend`].
pub(crate) static SPEND: Shape = shape(
    "struct Spend",
    &[
        "windowStartMs",
        "requests",
        "promptTokens",
        "completionTokens",
        "tokens",
        "usd",
    ],
    &[
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::F64, true),
    ],
);

/// [`super::Caps`].
pub(crate) static CAPS: Shape = shape(
    "struct Caps",
    &["tokensPerDay", "usdPerDay"],
    &[(Ty::Opt(&Ty::U64), true), (Ty::Opt(&Ty::F64), true)],
);

/// [`super::BudgetOptions`].
pub(crate) static BUDGET_OPTIONS: Shape = shape(
    "struct BudgetOptions",
    &["proxy", "perClient", "windowMs", "maxClients"],
    &[
        (Ty::Struct(&CAPS), true),
        (Ty::Struct(&CAPS), true),
        (Ty::U64, true),
        (Ty::Usize, true),
    ],
);

/// [`super::Charge`].
pub(crate) static CHARGE: Shape = shape(
    "struct Charge",
    &["promptTokens", "completionTokens", "tokens", "usd"],
    &[
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::U64, true),
        (Ty::F64, true),
    ],
);

/// [`CallWire`].
pub(crate) static CALL_WIRE: Shape = shape(
    "struct CallWire",
    &["key", "limit", "budget", "charge"],
    &[
        (Ty::Opt(&Ty::Str), true),
        (Ty::Opt(&Ty::Struct(&LIMIT_WIRE)), true),
        (Ty::Struct(&BUDGET_OPTIONS), true),
        (Ty::Struct(&CHARGE), true),
    ],
);

/// The rate limiter's `Bucket`.
pub(crate) static BUCKET: Shape = shape(
    "struct Bucket",
    &["full_at", "last_used"],
    &[(Ty::U128, false), (Ty::U64, false)],
);

/// [`super::RateLimiter`].
pub(crate) static RATE_LIMITER: Shape = shape(
    "struct RateLimiter",
    &["buckets", "per_minute", "latest_ms", "uses"],
    &[
        (Ty::List(&Ty::Pair(&Ty::Str, &Ty::Struct(&BUCKET))), true),
        (Ty::U32, true),
        (Ty::U64, true),
        (Ty::U64, true),
    ],
);

/// [`super::BudgetLedger`].
pub(crate) static BUDGET_LEDGER: Shape = shape(
    "struct BudgetLedger",
    &["total", "clients", "latestMs"],
    &[
        (Ty::Struct(&SPEND), true),
        (Ty::List(&Ty::Pair(&Ty::Str, &Ty::Struct(&SPEND))), true),
        (Ty::U64, true),
    ],
);

/// [`Snapshot`].
pub(crate) static SNAPSHOT: Shape = shape(
    "struct Snapshot",
    &["limiter", "ledger"],
    &[
        (Ty::Struct(&RATE_LIMITER), true),
        (Ty::Struct(&BUDGET_LEDGER), true),
    ],
);

// ---------------------------------------------------------------------------------
// The shell's wire types
// ---------------------------------------------------------------------------------

use serde::{Deserialize, Serialize};

use super::{BudgetLedger, BudgetOptions, Charge, Exhausted, RateLimiter, Spend};

/// The `budget` option as JavaScript spells it.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetOption {
    pub tokens_per_day: Option<f64>,
    pub usd_per_day: Option<f64>,
    pub per_client: Option<CapsOption>,
    pub max_clients: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapsOption {
    pub tokens_per_day: Option<f64>,
    pub usd_per_day: Option<f64>,
}

impl CapsOption {
    fn from_wire(w: W) -> CapsOption {
        let mut f = Fields::of(w);
        CapsOption {
            tokens_per_day: f.opt_f64(),
            usd_per_day: f.opt_f64(),
        }
    }
}

impl BudgetOption {
    /// Read as `serde_json::from_str` reads it.
    pub fn from_json(text: &str) -> Result<BudgetOption, String> {
        let mut f = Fields::of(read(text, &Ty::Struct(&BUDGET_OPTION))?);
        Ok(BudgetOption {
            tokens_per_day: f.opt_f64(),
            usd_per_day: f.opt_f64(),
            per_client: match f.next() {
                W::None => None,
                w => Some(CapsOption::from_wire(w)),
            },
            max_clients: f.opt_f64(),
        })
    }
}

/// A rate limit as the shared state receives it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitWire {
    pub requests_per_minute: u32,
    pub burst: u32,
    pub max_clients: usize,
}

impl LimitWire {
    fn from_wire(w: W) -> LimitWire {
        let mut f = Fields::of(w);
        LimitWire {
            requests_per_minute: f.u32(0),
            burst: f.u32(0),
            max_clients: f.usize(0),
        }
    }
}

/// The shared state's answer to `admit`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmitWire {
    pub allowed: bool,
    #[serde(default)]
    pub remaining: u32,
    #[serde(default)]
    pub retry_after_ms: u64,
}

impl AdmitWire {
    /// Read as `serde_json::from_str` reads it.
    pub fn from_json(text: &str) -> Result<AdmitWire, String> {
        let mut f = Fields::of(read(text, &Ty::Struct(&ADMIT_WIRE))?);
        Ok(AdmitWire {
            allowed: f.bool(),
            remaining: f.u32(0),
            retry_after_ms: f.u64(0),
        })
    }
}

/// A state call's body.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallWire {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub limit: Option<LimitWire>,
    #[serde(default)]
    pub budget: BudgetOptions,
    #[serde(default)]
    pub charge: Charge,
}

impl CallWire {
    /// Read as `serde_json::from_str` reads it.
    pub fn from_json(text: &str) -> Result<CallWire, String> {
        let mut f = Fields::of(read(text, &Ty::Struct(&CALL_WIRE))?);
        Ok(CallWire {
            key: f.opt_string(),
            limit: match f.next() {
                W::None => None,
                w => Some(LimitWire::from_wire(w)),
            },
            budget: BudgetOptions::from_wire(f.next()),
            charge: Charge::from_wire(f.next()),
        })
    }
}

/// What one Durable Object saves.
#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Snapshot {
    pub limiter: RateLimiter,
    pub ledger: BudgetLedger,
}

impl Snapshot {
    /// Read as `serde_json::from_str` reads it.
    pub fn from_json(text: &str) -> Result<Snapshot, String> {
        let mut f = Fields::of(read(text, &Ty::Struct(&SNAPSHOT))?);
        Ok(Snapshot {
            limiter: RateLimiter::from_wire(f.next()),
            ledger: BudgetLedger::from_wire(f.next()),
        })
    }
}

/// The shared state's answer to `check`, read as `serde_json::from_str` reads it.
pub fn exhausted_from_json(text: &str) -> Result<Option<Exhausted>, String> {
    Ok(match read(text, &OPT_EXHAUSTED)? {
        W::None => None,
        w => Some(Exhausted::from_wire(w)),
    })
}

/// The shared state's answer to `ledger`, read as `serde_json::from_str` reads it.
pub fn spend_from_json(text: &str) -> Result<Spend, String> {
    Ok(Spend::from_wire(read(text, &Ty::Struct(&SPEND))?))
}

/// Every read against the derived impl it replaces, on generated texts near each shape:
/// the same value, or the same error message.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Texts near a shape, from a seed.
    struct Gen {
        state: u64,
        out: String,
        /// An enum written as an object was generated (its errors may be worded apart).
        enum_object: bool,
    }

    impl Gen {
        fn new(seed: u64) -> Gen {
            Gen {
                state: seed | 1,
                out: String::new(),
                enum_object: false,
            }
        }

        fn next(&mut self) -> u64 {
            let mut x = self.state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.state = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }

        fn pick(&mut self, items: &[&str]) {
            let i = self.below(items.len() as u64) as usize;
            self.out.push_str(items[i]);
        }

        fn ws(&mut self) {
            if self.chance(15) {
                self.pick(&[" ", "\n", "\t", "  ", "\r\n", " \n "]);
            }
        }

        fn junk(&mut self) {
            self.pick(&[
                "null",
                "true",
                "false",
                "0",
                "-1",
                "1.5",
                "-0",
                "1e2",
                "\"x\"",
                "\"\"",
                "[]",
                "{}",
                "[1]",
                "[ ]",
                "{ }",
                "[,1]",
                "{\"a\":1}",
                "[[]]",
                "\"proxy\"",
                "18446744073709551616",
            ]);
        }

        fn value(&mut self, ty: &Ty) {
            self.ws();
            if self.chance(10) {
                self.junk();
            } else {
                self.typed(ty);
            }
            self.ws();
        }

        fn typed(&mut self, ty: &Ty) {
            match ty {
                Ty::U32 | Ty::U64 | Ty::Usize | Ty::U128 => self.pick(&[
                    "0",
                    "1",
                    "42",
                    "4294967295",
                    "4294967296",
                    "18446744073709551615",
                    "18446744073709551616",
                    "340282366920938463463374607431768211455",
                    "340282366920938463463374607431768211456",
                    "-1",
                    "-0",
                    "1.5",
                    "1e3",
                    "0.0",
                    "\"5\"",
                    "00",
                ]),
                Ty::F64 => self.pick(&[
                    "0",
                    "-0",
                    "1.5",
                    "1e300",
                    "-2",
                    "3",
                    "0.1",
                    "1e-7",
                    "12345678901234567890",
                    "1E2",
                    "-0.0",
                    "7",
                ]),
                Ty::Bool => self.pick(&["true", "false"]),
                Ty::Str => self.pick(&["\"a\"", "\"\"", "\"\\u00e9\"", "\"k\\\"ey\"", "\"proxy\""]),
                Ty::Unit => self.out.push_str("null"),
                Ty::Opt(t) => {
                    if self.chance(30) {
                        self.out.push_str("null");
                    } else {
                        self.typed(t);
                    }
                }
                Ty::Struct(s) => {
                    if self.chance(15) {
                        self.out.push('[');
                        let n = self.below(s.fields.len() as u64 + 2) as usize;
                        for i in 0..n {
                            if i > 0 {
                                self.out.push(',');
                            }
                            let t = &s.fields[i.min(s.fields.len() - 1)].0;
                            self.value(t);
                        }
                        self.out.push(']');
                        return;
                    }
                    self.out.push('{');
                    let mut first = true;
                    let n = s.fields.len() as u64 + 2;
                    for _ in 0..self.below(n + 1) {
                        if !first {
                            self.out.push(',');
                        }
                        first = false;
                        self.ws();
                        let i = self.below(n) as usize;
                        if i >= s.fields.len() {
                            self.pick(&["\"x\"", "\"tokensperday\"", "\"\""]);
                            self.ws();
                            self.out.push(':');
                            self.value(&Ty::Bool);
                        } else {
                            self.out.push('"');
                            self.out.push_str(s.names[i]);
                            self.out.push('"');
                            self.ws();
                            self.out.push(':');
                            self.value(&s.fields[i].0);
                        }
                    }
                    self.out.push('}');
                }
                Ty::Pair(a, b) => {
                    self.out.push('[');
                    match self.below(10) {
                        0 => {}
                        1 => self.value(a),
                        2 => {
                            self.value(a);
                            self.out.push(',');
                            self.value(b);
                            self.out.push(',');
                            self.value(b);
                        }
                        _ => {
                            self.value(a);
                            self.out.push(',');
                            self.value(b);
                        }
                    }
                    self.out.push(']');
                }
                Ty::List(t) => {
                    self.out.push('[');
                    for i in 0..self.below(4) {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.value(t);
                    }
                    self.out.push(']');
                }
                Ty::Enum(v) => {
                    if self.chance(10) {
                        self.enum_object = true;
                        self.pick(&[
                            "{\"proxy\":null}",
                            "{\"usd\": null }",
                            "{\"proxy\":1}",
                            "{}",
                            "{\"zzz\":null}",
                            "{\"proxy\":null,\"x\":1}",
                        ]);
                        return;
                    }
                    self.out.push('"');
                    if self.chance(10) {
                        self.out.push_str("zzz");
                    } else {
                        let i = self.below(v.names.len() as u64) as usize;
                        self.out.push_str(v.names[i]);
                    }
                    self.out.push('"');
                }
            }
        }
    }

    fn text(seed: u64, ty: &Ty) -> (String, bool) {
        let mut g = Gen::new(seed);
        g.value(ty);
        if g.chance(3) {
            g.out.push_str(" x");
        }
        (g.out, g.enum_object)
    }

    fn same<T: std::fmt::Debug + for<'de> Deserialize<'de>>(
        ours: fn(&str) -> Result<T, String>,
        text: &str,
        enum_object: bool,
    ) {
        let theirs = serde_json::from_slice::<T>(text.as_bytes()).map_err(|e| e.to_string());
        let ours = ours(text);
        if enum_object {
            assert_eq!(
                ours.as_ref().map(|v| format!("{v:?}")).ok(),
                theirs.as_ref().map(|v| format!("{v:?}")).ok(),
                "{text}"
            );
        } else {
            assert_eq!(
                ours.map(|v| format!("{v:?}")),
                theirs.map(|v| format!("{v:?}")),
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn budget_option_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &Ty::Struct(&BUDGET_OPTION));
            same(BudgetOption::from_json, &t, e);
        }

        #[test]
        fn admit_wire_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &Ty::Struct(&ADMIT_WIRE));
            same(AdmitWire::from_json, &t, e);
        }

        #[test]
        fn exhausted_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &OPT_EXHAUSTED);
            same(exhausted_from_json, &t, e);
        }

        #[test]
        fn spend_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &Ty::Struct(&SPEND));
            same(spend_from_json, &t, e);
        }

        #[test]
        fn call_wire_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &Ty::Struct(&CALL_WIRE));
            same(CallWire::from_json, &t, e);
        }

        #[test]
        fn snapshot_reads_as_derived(seed in any::<u64>()) {
            let (t, e) = text(seed, &Ty::Struct(&SNAPSHOT));
            same(Snapshot::from_json, &t, e);
        }
    }

    #[test]
    fn errors_are_worded_and_placed_as_derived() {
        for t in [
            r#"{"tokensPerDay": {}}"#,
            r#"{"tokensPerDay": [ ]}"#,
            r#"{"tokensPerDay": [1, 2]}"#,
            "{\"tokensPerDay\":\n  {\"a\": 1}}",
            r#"{"tokensperday": 5}"#,
            r#"{"tokensPerDay": "5"}"#,
            r#"{"perClient": 5}"#,
            r#"{"perClient": {"usdPerDay": true}}"#,
            r#"{"tokensPerDay": 1, "tokensPerDay": 2}"#,
            r#"[1, 2, {"tokensPerDay": 3}, 4]"#,
            r#"[1]"#,
            "null",
            "",
            "{} x",
        ] {
            same(BudgetOption::from_json, t, false);
        }
        for t in [
            r#"{"scope":"proxy","kind":"usd","cap":1,"spent":2,"resetsAtMs":3,"windowMs":4,"resetsInMs":5}"#,
            r#"{"scope":7,"kind":"usd"}"#,
            r#"{"scope":[1],"kind":"usd"}"#,
            r#"{"scope":null}"#,
            r#"{"scope":"proxy","kind":"usd","cap":1,"spent":2,"resetsAtMs":-3}"#,
            r#"{"scope":"everyone"}"#,
        ] {
            same(exhausted_from_json, t, false);
        }
        for t in [
            r#"{"limiter":{"buckets":[["k",{"full_at":340282366920938463463374607431768211455,"last_used":1}]],"per_minute":60}}"#,
            r#"{"limiter":{"buckets":[["k",{"full_at":1.5,"last_used":1}]]}}"#,
            r#"{"limiter":{"buckets":[["k"]]}}"#,
            r#"{"limiter":{"buckets":{}}}"#,
            r#"{"ledger":{"clients":[["a",{"tokens":5}]],"latestMs":9}}"#,
        ] {
            same(Snapshot::from_json, t, false);
        }
    }
}
