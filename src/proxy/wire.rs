//! The proxy's JSON reads of its own types: the `budget` option, the shared state's call
//! bodies and answers, and the Durable Object's snapshot.
//!
//! Owns: [`read`], which reads JSON text of a [`Ty`] (a static description of a derived
//! `Deserialize` type) into a [`W`] tree, in one pass of [`crate::scan::Reader`], and the
//! shapes of the types read this way; the types convert from the tree. The derived
//! impls (one visitor per type, and serde's typed deserializers whose error messages
//! print floats with `core`'s formatting) are not in the wasm: they stay, under
//! `cfg(test)`, as the oracle the tests hold this to: the same values, and the same
//! error messages where the text is JSON but not the type's (invalid type or value,
//! missing, duplicate or unknown field, unknown variant, invalid length), with our
//! reader's position; a text that is not JSON gets [`crate::json::ParseError`]'s words.
//!
//! Must never: accept a text the derived impl refuses or refuse one it accepts, or read
//! a value differently.

use crate::json::{invalid_type, ParseError, Value};
use crate::scan::{decode_str, Invalid, Kind, Reader};

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

/// `text` read as `ty`, or the message of the derived impl's error (its words; the
/// position, "at line L column C", is where our reader found it).
pub(crate) fn read(text: &str, ty: &Ty) -> Result<W, String> {
    let mut r = Reader::new(text);
    let read = value(&mut r, text, ty).and_then(|w| {
        r.end()?;
        Ok(w)
    });
    read.map_err(|stop| match stop {
        Stop::Syntax => ParseError::new(text, r.pos()).message(),
        Stop::At(at, m) => ParseError::at_position(text, at, &m),
    })
}

/// Why a read stopped: the text is not JSON (where the reader is), or a value is not
/// what its type reads (the message, and where).
enum Stop {
    Syntax,
    At(usize, String),
}

impl From<Invalid> for Stop {
    fn from(_: Invalid) -> Stop {
        Stop::Syntax
    }
}

type Read<T> = Result<T, Stop>;

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

/// "invalid type: …, expected …" as serde words it, at `at`.
#[cold]
fn wrong<T>(at: usize, found: &Value, ty: &Ty) -> Read<T> {
    Err(Stop::At(at, invalid_type(found, expecting(ty))))
}

/// "invalid value: integer `…`, expected u32" (an integer out of the type's range).
#[cold]
fn out_of_range<T>(at: usize, found: &Value, ty: &Ty) -> Read<T> {
    let m = invalid_type(found, expecting(ty));
    // `m` starts with "invalid type" (`invalid_type`'s words).
    let m = match m.strip_prefix("invalid type") {
        Some(rest) => crate::error::concat(&["invalid value", rest]),
        None => m,
    };
    Err(Stop::At(at, m))
}

/// serde's `OneOf`: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
fn one_of(names: &[&str], none: &str) -> String {
    match names {
        [] => none.to_owned(),
        [a] => crate::error::concat(&["`", a, "`"]),
        [a, b] => crate::error::concat(&["`", a, "` or `", b, "`"]),
        _ => {
            let mut m = String::from("one of ");
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    m.push_str(", ");
                }
                m.push('`');
                m.push_str(n);
                m.push('`');
            }
            m
        }
    }
}

#[cold]
fn unknown<T>(at: usize, what: &str, v: &str, names: &[&str], none: &str) -> Read<T> {
    let mut m = String::from("unknown ");
    m.push_str(what);
    m.push_str(" `");
    m.push_str(v);
    m.push_str("`, ");
    if !names.is_empty() {
        m.push_str("expected ");
    }
    m.push_str(&one_of(names, none));
    Err(Stop::At(at, m))
}

#[cold]
fn invalid_length<T>(at: usize, n: usize, expected: &str) -> Read<T> {
    let m = crate::error::concat(&["invalid length ", &n.to_string(), ", expected ", expected]);
    Err(Stop::At(at, m))
}

/// The type a non-`null` value is read as: an `Opt`'s inner one.
fn inner(ty: &Ty) -> &Ty {
    match ty {
        Ty::Opt(t) => t,
        t => t,
    }
}

/// The next value of `r` read as `ty`. The reader bounds the depth (127), so the
/// recursion is bounded.
fn value(r: &mut Reader<'_>, src: &str, ty: &Ty) -> Read<W> {
    let kind = r.peek()?;
    let start = r.pos();
    let t = inner(ty);
    if let (Ty::U128, false) = (ty, kind == Kind::Number) {
        // Read as `serde_json` reads a `u128`: digits, or not a number at all.
        return Err(Stop::At(start + 1, "invalid number".to_owned()));
    }
    match kind {
        Kind::Null => {
            r.value()?;
            match ty {
                Ty::Opt(_) | Ty::Unit => Ok(W::None),
                Ty::Enum(_) => Err(Stop::At(start + 1, "expected value".to_owned())),
                t => wrong(r.pos(), &Value::Null, t),
            }
        }
        Kind::True | Kind::False => {
            let b = kind == Kind::True;
            r.value()?;
            match t {
                Ty::Bool => Ok(W::B(b)),
                Ty::Enum(_) => Err(Stop::At(start + 1, "expected value".to_owned())),
                t => wrong(r.pos(), &Value::Bool(b), t),
            }
        }
        Kind::Number => {
            let span = r.value()?;
            number(span.raw(src), r.pos(), start, t)
        }
        Kind::String => {
            let span = r.string()?;
            let mut s = String::new();
            decode_str(src, &span, &mut s);
            match t {
                Ty::Str => Ok(W::S(s)),
                Ty::Enum(e) => variant(r.pos(), e, &s),
                t => wrong(r.pos(), &Value::String(s), t),
            }
        }
        Kind::Array => array(r, src, start, t),
        Kind::Object => object(r, src, start, t),
    }
}

/// A number's text `text` (read, ending at `end`) as `ty`.
fn number(text: &str, end: usize, start: usize, ty: &Ty) -> Read<W> {
    let Value::Number(n) = crate::json::parse(text).unwrap_or_default() else {
        return Err(Stop::Syntax);
    };
    let found = || Value::Number(n.clone());
    if let Ty::U128 = ty {
        // `serde_json` reads a `u128` as digits only: a sign is out of range, and a
        // fraction or exponent is what follows the number, not part of it.
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u128>() {
                Ok(v) => Ok(W::U(v)),
                Err(_) => Err(Stop::At(end, "number out of range".to_owned())),
            };
        }
        if text.starts_with('-') {
            return Err(Stop::At(start + 1, "number out of range".to_owned()));
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        return Err(Stop::At(
            start + digits + 1,
            "trailing characters".to_owned(),
        ));
    }
    if let Some(u) = n.as_u64() {
        let max = match ty {
            Ty::U32 => u64::from(u32::MAX),
            Ty::Usize => usize::MAX as u64,
            Ty::U64 => u64::MAX,
            Ty::F64 => return Ok(W::F(u as f64)),
            Ty::Enum(_) => return Err(Stop::At(start + 1, "expected value".to_owned())),
            t => return wrong(end, &found(), t),
        };
        return if u <= max {
            Ok(W::U(u128::from(u)))
        } else {
            out_of_range(end, &found(), ty)
        };
    }
    if let Some(i) = n.as_i64() {
        return match ty {
            Ty::F64 => Ok(W::F(i as f64)),
            Ty::U32 | Ty::U64 | Ty::Usize => out_of_range(end, &found(), ty),
            Ty::Enum(_) => Err(Stop::At(start + 1, "expected value".to_owned())),
            t => wrong(end, &found(), t),
        };
    }
    match ty {
        Ty::F64 => Ok(W::F(n.as_f64().unwrap_or_default())),
        Ty::Enum(_) => Err(Stop::At(start + 1, "expected value".to_owned())),
        t => wrong(end, &found(), t),
    }
}

fn array(r: &mut Reader<'_>, src: &str, start: usize, ty: &Ty) -> Read<W> {
    let mut out = Vec::new();
    let mut first = true;
    match ty {
        Ty::Struct(s) => {
            r.enter(Kind::Array)?;
            let mut done = false;
            for (i, (fty, default)) in s.fields.iter().enumerate() {
                if !done && r.next_item(&mut first)? {
                    out.push(value(r, src, fty)?);
                    continue;
                }
                done = true;
                if !*default {
                    let n = s.fields.len();
                    let exp = crate::error::concat(&[
                        s.name,
                        " with ",
                        &n.to_string(),
                        if n == 1 { " element" } else { " elements" },
                    ]);
                    return invalid_length(r.pos(), i, &exp);
                }
                out.push(W::None);
            }
            if !done {
                end_array(r, &mut first)?;
            }
        }
        Ty::Pair(a, b) => {
            r.enter(Kind::Array)?;
            for (i, t) in [a, b].into_iter().enumerate() {
                if !r.next_item(&mut first)? {
                    return invalid_length(r.pos(), i, expecting(ty));
                }
                out.push(value(r, src, t)?);
            }
            end_array(r, &mut first)?;
        }
        Ty::List(t) => {
            r.enter(Kind::Array)?;
            while r.next_item(&mut first)? {
                out.push(value(r, src, t)?);
            }
        }
        Ty::Enum(_) => return Err(Stop::At(start + 1, "expected value".to_owned())),
        t => return wrong(start + 1, &Value::Array(Vec::new()), t),
    }
    Ok(W::Seq(out))
}

/// The `]` after the elements a shape reads; another element is serde's "trailing
/// characters".
fn end_array(r: &mut Reader<'_>, first: &mut bool) -> Read<()> {
    if r.next_item(first)? {
        return Err(Stop::At(r.pos(), "trailing characters".to_owned()));
    }
    Ok(())
}

fn object(r: &mut Reader<'_>, src: &str, start: usize, ty: &Ty) -> Read<W> {
    let mut first = true;
    let mut scratch = String::new();
    match ty {
        Ty::Struct(s) => {
            r.enter(Kind::Object)?;
            let mut got: Vec<Option<W>> = vec![None; s.fields.len()];
            while let Some(key) = r.next_key(&mut first)? {
                let at = key.end + 1;
                match s.names.iter().position(|n| key.is(src, n, &mut scratch)) {
                    Some(i) => {
                        let (Some(slot), Some((fty, _))) = (got.get_mut(i), s.fields.get(i)) else {
                            return Err(Stop::Syntax);
                        };
                        if slot.is_some() {
                            let m = crate::error::concat(&["duplicate field `", s.names[i], "`"]);
                            return Err(Stop::At(at, m));
                        }
                        *slot = Some(value(r, src, fty)?);
                    }
                    None if s.deny_unknown => {
                        let mut k = String::new();
                        decode_str(src, &key, &mut k);
                        return unknown(at, "field", &k, s.names, "there are no fields");
                    }
                    None => {
                        r.value()?;
                    }
                }
            }
            let mut out = Vec::with_capacity(got.len());
            for (i, w) in got.into_iter().enumerate() {
                out.push(match w {
                    Some(w) => w,
                    None if s.fields[i].1 || matches!(s.fields[i].0, Ty::Opt(_)) => W::None,
                    None => {
                        let m = crate::json::missing_field(s.names[i]);
                        return Err(Stop::At(r.pos(), m));
                    }
                });
            }
            Ok(W::Seq(out))
        }
        Ty::Enum(e) => {
            // `{"variant": null}`.
            r.enter(Kind::Object)?;
            let Some(key) = r.next_key(&mut first)? else {
                return Err(Stop::At(r.pos(), "expected value".to_owned()));
            };
            let mut k = String::new();
            decode_str(src, &key, &mut k);
            let w = variant(key.end + 1, e, &k)?;
            value(r, src, &Ty::Unit)?;
            if r.next_key(&mut first)?.is_some() {
                return Err(Stop::At(r.pos(), "expected value".to_owned()));
            }
            Ok(w)
        }
        t => wrong(start + 1, &Value::Object(Default::default()), t),
    }
}

fn variant(at: usize, e: &'static Variants, v: &str) -> Read<W> {
    match e.names.iter().position(|n| *n == v) {
        Some(i) => Ok(W::U(i as u128)),
        None => unknown(at, "variant", v, e.names, "there are no variants"),
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

use super::{BudgetLedger, BudgetOptions, Charge, Exhausted, RateLimiter, Spend};
use crate::json::ObjectText;

/// The `budget` option as JavaScript spells it.
#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", deny_unknown_fields))]
pub struct BudgetOption {
    pub tokens_per_day: Option<f64>,
    pub usd_per_day: Option<f64>,
    pub per_client: Option<CapsOption>,
    pub max_clients: Option<f64>,
}

#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", deny_unknown_fields))]
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
#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct LimitWire {
    pub requests_per_minute: u32,
    pub burst: u32,
    pub max_clients: usize,
}

impl LimitWire {
    /// The JSON text (the fields in declaration order, as the derived `Serialize`).
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .number("requestsPerMinute", u64::from(self.requests_per_minute))
            .number("burst", u64::from(self.burst))
            .number("maxClients", self.max_clients as u64)
            .end()
    }

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
#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct AdmitWire {
    pub allowed: bool,
    #[cfg_attr(test, serde(default))]
    pub remaining: u32,
    #[cfg_attr(test, serde(default))]
    pub retry_after_ms: u64,
}

impl AdmitWire {
    /// The JSON text (the fields in declaration order, as the derived `Serialize`).
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .boolean("allowed", self.allowed)
            .number("remaining", u64::from(self.remaining))
            .number("retryAfterMs", self.retry_after_ms)
            .end()
    }

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
#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct CallWire {
    #[cfg_attr(test, serde(default))]
    pub key: Option<String>,
    #[cfg_attr(test, serde(default))]
    pub limit: Option<LimitWire>,
    #[cfg_attr(test, serde(default))]
    pub budget: BudgetOptions,
    #[cfg_attr(test, serde(default))]
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
#[derive(Debug, Default)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(default))]
pub struct Snapshot {
    pub limiter: RateLimiter,
    pub ledger: BudgetLedger,
}

impl Snapshot {
    /// The JSON text (the fields in declaration order, as the derived `Serialize`).
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .raw("limiter", &self.limiter.to_json())
            .raw("ledger", &self.ledger.to_json())
            .end()
    }

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

    /// `serde_json`'s messages for text that is not JSON (its `ErrorCode`s), worded our
    /// own way by `json::ParseError`.
    const SYNTAX: &[&str] = &[
        "EOF while parsing",
        "expected value",
        "expected `",
        "expected ident",
        "trailing characters",
        "trailing comma",
        "invalid number",
        "number out of range",
        "invalid escape",
        "control character",
        "key must be a string",
        "lone leading surrogate",
        "invalid unicode code point",
        "recursion limit exceeded",
        "unexpected end of hex escape",
    ];

    /// A message without its " at line L column C".
    fn words(m: &str) -> &str {
        m.rfind(" at line ").map_or(m, |i| &m[..i])
    }

    fn is_syntax(m: &str) -> bool {
        SYNTAX.iter().any(|s| m.starts_with(s)) || m.starts_with("unexpected ")
    }

    fn same<T: std::fmt::Debug + for<'de> serde::Deserialize<'de>>(
        ours: fn(&str) -> Result<T, String>,
        text: &str,
        enum_object: bool,
    ) {
        let theirs = serde_json::from_slice::<T>(text.as_bytes()).map_err(|e| e.to_string());
        let ours = ours(text);
        let shown = |r: &Result<T, String>| r.as_ref().map(|v| format!("{v:?}")).ok();
        assert_eq!(shown(&ours), shown(&theirs), "{text}");
        if let (Err(o), Err(t)) = (&ours, &theirs) {
            if enum_object {
                return;
            }
            if is_syntax(t) {
                assert!(is_syntax(o), "{text}: ours {o:?}, theirs {t:?}");
            } else {
                assert_eq!(words(o), words(t), "{text}");
                assert!(o.contains(" at line "), "{text}: {o}");
            }
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
