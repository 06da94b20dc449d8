//! The hot-path JSON scanner: one validating pass over one SSE event's `data` that finds
//! the fields a chat client needs, with no `crate::json::Value` and no tree.
//!
//! Owns: [`Reader`], a validating JSON reader that walks the text once ([RFC 8259], with
//! `serde_json`'s choices where the RFC leaves room: nesting deeper than 127 levels and
//! numbers beyond `f64` are rejected, lone surrogates in `\u` escapes are rejected, any
//! value may be the root); [`Span`], where a value lies in the text; [`ChatScan`] and
//! [`TgiScan`], the fields of a `chat.completion.chunk` and of a TGI token event as
//! spans; [`decode_str`], which unescapes a string span into a buffer; [`members`] and
//! [`items`], which read an object's or an array's members again from a span a scan
//! found (the cold paths: error payloads, content parts).
//!
//! Must never: accept text that `serde_json::from_slice::<Value>` rejects or reject
//! text it accepts (the property tests and the `scan` fuzz target hold it to that),
//! allocate per value (spans are offsets into the text; only the scan's reusable lists
//! grow), decode a string nobody asked for, decide what a field means (the `decode`
//! module does), or panic on any input.
//!
//! Duplicate keys: as in `serde_json`'s map, the last one wins. A repeated `choices`,
//! `delta`, `tool_calls`, `token` or `function` key drops what the earlier one added.
//!
//! [RFC 8259]: https://www.rfc-editor.org/rfc/rfc8259

use std::ops::Range;

/// `serde_json`'s recursion limit: it fails when a 128th array or object opens.
const MAX_DEPTH: u32 = 127;

/// The text is not JSON (or not JSON that `serde_json` accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

type Res<T = ()> = Result<T, Invalid>;

/// The JSON type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    False,
    True,
    Number,
    String,
    Array,
    Object,
}

/// Where one value is in the text. For a string, `start..end` is what lies between the
/// quotes (`escaped` says whether it holds a `\`); for anything else, the value's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

impl Span {
    /// The raw text of the value (a string's without its quotes) in `src`.
    #[inline(always)]
    pub fn raw<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or_default()
    }

    /// The value's JSON text (a string's with its quotes).
    pub fn json<'a>(&self, src: &'a str) -> &'a str {
        let (s, e) = match self.kind {
            Kind::String => (self.start.saturating_sub(1), self.end + 1),
            _ => (self.start, self.end),
        };
        src.get(s..e).unwrap_or_default()
    }

    /// The string's text without escapes, when it has none (no copy needed).
    pub fn plain<'a>(&self, src: &'a str) -> Option<&'a str> {
        (self.kind == Kind::String && !self.escaped).then(|| self.raw(src))
    }

    /// A string span equal to `name` once unescaped (for keys).
    pub fn is(&self, src: &str, name: &str, scratch: &mut String) -> bool {
        if !self.escaped {
            return self.raw(src) == name;
        }
        scratch.clear();
        decode_str(src, self, scratch);
        scratch == name
    }
}

/// Append the unescaped text of the string `span` of `src` to `out`. The span was
/// validated by the scan; anything else appends nothing.
pub fn decode_str(src: &str, span: &Span, out: &mut String) {
    if span.kind != Kind::String {
        return;
    }
    let raw = span.raw(src);
    if !span.escaped {
        out.push_str(raw);
        return;
    }
    let bytes = raw.as_bytes();
    // The text is at most as long as its escaped form: one allocation, not one per run.
    out.reserve(bytes.len());
    let mut i = 0;
    let mut run = 0;
    while i < bytes.len() {
        // Runs without a backslash eight bytes at a time (a tool call's arguments are
        // hundreds of bytes, full of escapes, on every chunk).
        while word(bytes, i).is_some_and(|w| !has_byte(w, b'\\')) {
            i += 8;
        }
        match bytes.get(i) {
            Some(b'\\') => {}
            Some(_) => {
                i += 1;
                continue;
            }
            None => break,
        }
        out.push_str(raw.get(run..i).unwrap_or_default());
        let esc = bytes.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let c = match esc {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(bytes, i).unwrap_or(0xFFFD);
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // Validated: a `\uDC00`-`\uDFFF` escape follows.
                    let lo = hex4(bytes, i + 2).unwrap_or(0xDC00);
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    hi
                };
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            other => char::from(other),
        };
        out.push(c);
        run = i;
    }
    out.push_str(raw.get(run..).unwrap_or_default());
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let mut n = 0;
    for &d in digits {
        n = n * 16 + char::from(d).to_digit(16)?;
    }
    Some(n)
}

/// Whether `bytes` is one JSON text `serde_json::from_slice::<Value>` accepts.
pub fn validate(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut r = Reader::new(text);
            r.value().and_then(|_| r.end()).is_ok()
        }
        Err(_) => false,
    }
}

/// A validating one-pass JSON reader over `src`. Every method that reads a value checks
/// it completely; `Err` means the text is not JSON and nothing more should be read.
pub struct Reader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Self {
        Reader {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    /// A reader at byte `pos` of `src`: to read again a value an earlier scan found.
    pub fn at(src: &'a str, pos: usize) -> Self {
        Reader {
            pos,
            ..Reader::new(src)
        }
    }

    /// The byte offset the reader is at (where it stopped, after an `Err`).
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Whitespace then the end of the text.
    pub fn end(&mut self) -> Res {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The next value's kind, after whitespace, without reading it.
    #[inline(always)]
    pub fn peek(&mut self) -> Res<Kind> {
        self.ws();
        Ok(match self.bytes.get(self.pos).ok_or(Invalid)? {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b'n' => Kind::Null,
            b't' => Kind::True,
            b'f' => Kind::False,
            b'-' | b'0'..=b'9' => Kind::Number,
            _ => return Err(Invalid),
        })
    }

    /// Read (validate and skip) the next value.
    pub fn value(&mut self) -> Res<Span> {
        let kind = self.peek()?;
        let start = self.pos;
        match kind {
            Kind::String => return self.string(),
            Kind::Object => {
                self.open()?;
                let mut first = true;
                while self.next_key(&mut first)?.is_some() {
                    self.value()?;
                }
            }
            Kind::Array => {
                self.open()?;
                let mut first = true;
                while self.next_item(&mut first)? {
                    self.value()?;
                }
            }
            Kind::Null => self.literal(b"null")?,
            Kind::True => self.literal(b"true")?,
            Kind::False => self.literal(b"false")?,
            Kind::Number => self.number()?,
        }
        Ok(Span {
            kind,
            start,
            end: self.pos,
            escaped: false,
        })
    }

    fn literal(&mut self, word: &[u8]) -> Res {
        match self.bytes.get(self.pos..self.pos + word.len()) {
            Some(w) if w == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(Invalid),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, within `f64`'s range.
    fn number(&mut self) -> Res {
        let start = self.pos;
        if matches!(self.bytes.get(self.pos), Some(b'-')) {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && matches!(self.bytes.get(int_start), Some(b'0'))) {
            return Err(Invalid);
        }
        if matches!(self.bytes.get(self.pos), Some(b'.')) {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            let negative = match self.bytes.get(self.pos) {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            let e_start = self.pos;
            if self.digits() == 0 {
                return Err(Invalid);
            }
            for &d in self.bytes.get(e_start..self.pos).unwrap_or_default() {
                exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
            }
            if negative {
                exp = -exp;
            }
        }
        // Beyond `u64` an integer is read as `f64` too; `serde_json` rejects what
        // overflows it. Clearly in range: no need to ask. Near or past the edge (rare):
        // the exact reader decides whether the value rounds to a finite `f64`.
        let zero_int = matches!(self.bytes.get(int_start), Some(b'0'));
        let magnitude = if zero_int {
            exp
        } else {
            int_digits as i64 + exp
        };
        if magnitude <= 300 {
            return Ok(());
        }
        let text = self.src.get(start..self.pos).unwrap_or_default();
        match crate::float::parse_number(text) {
            Some(f) if f.is_finite() => Ok(()),
            _ => Err(Invalid),
        }
    }

    /// Read a string (the reader is at its `"`).
    pub fn string(&mut self) -> Res<Span> {
        if !matches!(self.bytes.get(self.pos), Some(b'"')) {
            return Err(Invalid);
        }
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            // The run of ordinary bytes: eight at a time while none of them stops it,
            // then one by one to the byte that does.
            while let Some(word) = self.bytes.get(self.pos..self.pos + 8) {
                match <[u8; 8]>::try_from(word) {
                    Ok(word) if !stops_string(u64::from_le_bytes(word)) => self.pos += 8,
                    _ => break,
                }
            }
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            let &b = self.bytes.get(self.pos).ok_or(Invalid)?;
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Span {
                        kind: Kind::String,
                        start,
                        end: self.pos - 1,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0..=0x1F => return Err(Invalid),
                _ => self.pos += 1,
            }
        }
    }

    /// One escape (the reader is at its `\`), as `serde_json` validates it.
    fn escape(&mut self) -> Res {
        let &e = self.bytes.get(self.pos + 1).ok_or(Invalid)?;
        self.pos += 2;
        match e {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let n = hex4(self.bytes, self.pos).ok_or(Invalid)?;
                self.pos += 4;
                match n {
                    0xDC00..=0xDFFF => Err(Invalid),
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Invalid);
                        }
                        let lo = hex4(self.bytes, self.pos + 2).ok_or(Invalid)?;
                        self.pos += 6;
                        if (0xDC00..=0xDFFF).contains(&lo) {
                            Ok(())
                        } else {
                            Err(Invalid)
                        }
                    }
                    _ => Ok(()),
                }
            }
            _ => Err(Invalid),
        }
    }

    #[inline(always)]
    fn open(&mut self) -> Res {
        self.depth += 1;
        self.pos += 1;
        if self.depth > MAX_DEPTH {
            Err(Invalid)
        } else {
            Ok(())
        }
    }

    /// If the next value is a `kind` container (`{` or `[`), enter it and return where
    /// it starts; read its members with [`Reader::next_key`] or [`Reader::next_item`].
    /// `None`: it is something else, for the caller to read with [`Reader::value`].
    pub fn enter(&mut self, kind: Kind) -> Res<Option<usize>> {
        if self.peek()? != kind {
            return Ok(None);
        }
        let start = self.pos;
        self.open()?;
        Ok(Some(start))
    }

    /// The span of the container entered at `start`, once its members were read.
    pub fn span_from(&self, kind: Kind, start: usize) -> Span {
        Span {
            kind,
            start,
            end: self.pos,
            escaped: false,
        }
    }

    /// The next key of the object entered (`first` on its first call; the caller then
    /// reads the key's value), or `None` past its `}`.
    pub fn next_key(&mut self, first: &mut bool) -> Res<Option<Span>> {
        if !self.next_member(first, b'}')? {
            return Ok(None);
        }
        self.ws();
        let key = self.string()?;
        self.ws();
        if !matches!(self.bytes.get(self.pos), Some(b':')) {
            return Err(Invalid);
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Whether another element of the array entered follows (the caller reads it), or
    /// `false` past its `]`.
    pub fn next_item(&mut self, first: &mut bool) -> Res<bool> {
        self.next_member(first, b']')
    }

    /// One step of a container: past a `,` (or, first, nothing) to a member, or past the
    /// `close` byte out of it.
    #[inline(always)]
    fn next_member(&mut self, first: &mut bool, close: u8) -> Res<bool> {
        self.ws();
        let at = self.bytes.get(self.pos).copied().unwrap_or(0);
        if at == close {
            self.pos += 1;
            self.depth -= 1;
            return Ok(false);
        }
        if !std::mem::replace(first, false) {
            if at != b',' {
                return Err(Invalid);
            }
            self.pos += 1;
            // `[1,]` and `{"a":1,}`: after a comma a member must come.
            self.ws();
            if self.bytes.get(self.pos).is_some_and(|&b| b == close) {
                return Err(Invalid);
            }
        }
        Ok(true)
    }
}

/// Eight bytes as one word (SWAR): the lowest bits of each byte of `ONES * b`.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `word` is below `n` (at most 0x80). Exact as a yes/no: a byte's
/// borrow can only spill into the bytes above one that is already below `n`.
#[inline(always)]
pub fn has_below(word: u64, n: u8) -> bool {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0
}

/// Whether some byte of `word` is `b`.
#[inline(always)]
pub fn has_byte(word: u64, b: u8) -> bool {
    has_below(word ^ (ONES * u64::from(b)), 1)
}

/// Whether some byte of `word` ends a string's run of ordinary bytes: `"`, `\` or a
/// control character.
#[inline(always)]
fn stops_string(word: u64) -> bool {
    has_byte(word, b'"') || has_byte(word, b'\\') || has_below(word, 0x20)
}

/// Short byte strings equal (keys: an inline loop beats a `memcmp` call).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Which known key a key span is; keys with escapes are unescaped first.
fn key_of(src: &str, key: &Span, names: &[&str], scratch: &mut String) -> Option<usize> {
    let text = if key.escaped {
        scratch.clear();
        decode_str(src, key, scratch);
        scratch.as_str()
    } else {
        key.raw(src)
    };
    names
        .iter()
        .position(|n| same(n.as_bytes(), text.as_bytes()))
}

/// The members of the object `obj` of `src` (a span a validating scan of `src` found)
/// named in `names`: `out[i]` is the value of the last member named `names[i]`, as a
/// map keeps the last duplicate. Nothing is found in anything but an object.
pub fn members(src: &str, obj: &Span, names: &[&str], out: &mut [Option<Span>]) {
    if obj.kind != Kind::Object {
        return;
    }
    let mut r = Reader::at(src, obj.start);
    let mut scratch = String::new();
    let mut first = true;
    if !matches!(r.enter(Kind::Object), Ok(Some(_))) {
        return;
    }
    while let Ok(Some(key)) = r.next_key(&mut first) {
        let Ok(v) = r.value() else { return };
        if let Some(slot) = key_of(src, &key, names, &mut scratch).and_then(|i| out.get_mut(i)) {
            *slot = Some(v);
        }
    }
}

/// The elements of the array `arr` of `src` (as [`members`]), in order; nothing for
/// anything but an array.
pub fn items<'a>(src: &'a str, arr: &Span) -> Items<'a> {
    let mut r = Reader::at(src, arr.start);
    let live = arr.kind == Kind::Array && matches!(r.enter(Kind::Array), Ok(Some(_)));
    Items {
        r,
        first: true,
        live,
    }
}

/// See [`items`].
pub struct Items<'a> {
    r: Reader<'a>,
    first: bool,
    live: bool,
}

impl Iterator for Items<'_> {
    type Item = Span;
    fn next(&mut self) -> Option<Span> {
        let v = match self.live && self.r.next_item(&mut self.first) == Ok(true) {
            true => self.r.value().ok(),
            false => None,
        };
        self.live = v.is_some();
        v
    }
}

/// `n` in decimal digits, by hand (no `core::fmt`).
fn push_decimal(n: usize, out: &mut String) {
    let mut digits = [0u8; 20];
    let (mut n, mut i) = (n, digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Append to `out` the way from the root of the validated JSON text `src` to the string
/// value whose text starts at byte `at` (its span's `start`): a JSON array of the keys
/// (as written, escapes and all) and array indices on the way, such as
/// `["choices",0,"delta","content"]`. False (`out` then holds a part of it) when no
/// string value starts there, or when a key on the way is not the only one of its name
/// in its object (a map keeps the last of them, which might not be this one) or is
/// `__proto__` (in JavaScript, assigning to it sets an object's prototype).
pub fn path_to(src: &str, at: usize, out: &mut String) -> bool {
    out.push('[');
    let open = out.len();
    let mut r = Reader::new(src);
    let mut name = String::new();
    let mut scratch = String::new();
    loop {
        let Ok(kind) = r.peek() else { return false };
        let from = r.pos;
        let inside = |v: &Span, value_at: usize| match v.kind {
            Kind::String => v.start == at,
            Kind::Object | Kind::Array => value_at < at && at < v.end,
            _ => false,
        };
        match kind {
            Kind::String => {
                if from + 1 != at {
                    return false;
                }
                out.push(']');
                return true;
            }
            Kind::Object => {
                if r.enter(Kind::Object).is_err() {
                    return false;
                }
                // The member whose value holds `at`: its key, and where the value is.
                let mut hit: Option<(Span, usize)> = None;
                let mut first = true;
                while let Ok(Some(key)) = r.next_key(&mut first) {
                    let value_at = match r.peek() {
                        Ok(_) => r.pos,
                        Err(_) => return false,
                    };
                    let Ok(v) = r.value() else { return false };
                    if hit.is_none() && inside(&v, value_at) {
                        hit = Some((key, value_at));
                    }
                }
                let Some((key, value_at)) = hit else {
                    return false;
                };
                name.clear();
                decode_str(src, &key, &mut name);
                if name == "__proto__" {
                    return false;
                }
                // The key must be its object's only one of that name.
                let mut k = Reader::at(src, from);
                let mut first = true;
                let mut named = 0;
                if !matches!(k.enter(Kind::Object), Ok(Some(_))) {
                    return false;
                }
                while let Ok(Some(other)) = k.next_key(&mut first) {
                    named += usize::from(other.is(src, &name, &mut scratch));
                    if k.value().is_err() {
                        return false;
                    }
                }
                if named != 1 {
                    return false;
                }
                if out.len() > open {
                    out.push(',');
                }
                out.push_str(key.json(src));
                r = Reader::at(src, value_at);
            }
            Kind::Array => {
                if r.enter(Kind::Array).is_err() {
                    return false;
                }
                // The element whose value holds `at`: its index, and where it is.
                let mut hit: Option<(usize, usize)> = None;
                let mut first = true;
                let mut index = 0;
                while let Ok(true) = r.next_item(&mut first) {
                    let value_at = match r.peek() {
                        Ok(_) => r.pos,
                        Err(_) => return false,
                    };
                    let Ok(v) = r.value() else { return false };
                    if hit.is_none() && inside(&v, value_at) {
                        hit = Some((index, value_at));
                    }
                    index += 1;
                }
                let Some((index, value_at)) = hit else {
                    return false;
                };
                if out.len() > open {
                    out.push(',');
                }
                push_decimal(index, out);
                r = Reader::at(src, value_at);
            }
            _ => return false,
        }
    }
}

// ---------------------------------------------------------------------------------
// Chat completion chunks
// ---------------------------------------------------------------------------------

/// One tool-call piece of a chunk's `delta.tool_calls`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolScan {
    /// The element itself (its kind: anything but an object is a shape error).
    pub item: Option<Span>,
    pub index: Option<Span>,
    pub id: Option<Span>,
    pub kind: Option<Span>,
    pub function: Option<Span>,
    pub name: Option<Span>,
    pub arguments: Option<Span>,
}

/// One element of a chunk's `choices`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChoiceScan {
    pub item: Option<Span>,
    pub index: Option<Span>,
    pub finish_reason: Option<Span>,
    pub logprobs: Option<Span>,
    pub delta: Option<Span>,
    pub role: Option<Span>,
    pub content: Option<Span>,
    pub reasoning_content: Option<Span>,
    /// `delta.reasoning` (newer servers).
    pub reasoning: Option<Span>,
    pub tool_calls: Option<Span>,
    /// This choice's pieces in [`ChatScan::tools`].
    pub tools: Range<usize>,
    /// This choice's unknown keys in [`ChatScan::choice_extra`].
    pub extra: Range<usize>,
}

/// The fields of one `chat.completion.chunk`, as spans into its text. Reused from event
/// to event: [`scan_chat`] clears it first and keeps the lists' capacity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatScan {
    /// The root value's kind (anything but an object is a shape error).
    pub root: Option<Kind>,
    pub id: Option<Span>,
    pub object: Option<Span>,
    pub created: Option<Span>,
    pub model: Option<Span>,
    pub system_fingerprint: Option<Span>,
    pub usage: Option<Span>,
    pub error: Option<Span>,
    pub choices: Option<Span>,
    pub choice_list: Vec<ChoiceScan>,
    pub tools: Vec<ToolScan>,
    /// Unknown top-level keys and their values (key spans are strings).
    pub extra: Vec<(Span, Span)>,
    pub choice_extra: Vec<(Span, Span)>,
}

// The keys each scan knows; `key_of` answers a key's position in its list, which the
// scan matches on (a number, not the name again).
const CHUNK_KEYS: &[&str] = &[
    "id",
    "object",
    "created",
    "model",
    "system_fingerprint",
    "usage",
    "error",
    "choices",
];
const CHOICE_KEYS: &[&str] = &["index", "finish_reason", "logprobs", "delta"];
const DELTA_KEYS: &[&str] = &[
    "role",
    "content",
    "reasoning_content",
    "reasoning",
    "tool_calls",
];
const TOOL_KEYS: &[&str] = &["index", "id", "type", "function"];
const FUNCTION_KEYS: &[&str] = &["name", "arguments"];

/// Scan `data` as a chat chunk into `out`. `Err` when `data` is not JSON; a JSON value
/// of the wrong shape scans fine and the caller judges the spans.
pub fn scan_chat(data: &str, out: &mut ChatScan, scratch: &mut String) -> Res {
    out.root = None;
    out.id = None;
    out.object = None;
    out.created = None;
    out.model = None;
    out.system_fingerprint = None;
    out.usage = None;
    out.error = None;
    out.choices = None;
    out.choice_list.clear();
    out.tools.clear();
    out.extra.clear();
    out.choice_extra.clear();
    let mut r = Reader::new(data);
    out.root = Some(r.peek()?);
    let Some(_) = r.enter(Kind::Object)? else {
        r.value()?;
        return r.end();
    };
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let slot = match key_of(data, &key, CHUNK_KEYS, scratch) {
            Some(0) => &mut out.id,
            Some(1) => &mut out.object,
            Some(2) => &mut out.created,
            Some(3) => &mut out.model,
            Some(4) => &mut out.system_fingerprint,
            Some(5) => &mut out.usage,
            Some(6) => &mut out.error,
            Some(_) => {
                // "choices": the last one wins.
                out.choice_list.clear();
                out.tools.clear();
                out.choice_extra.clear();
                out.choices = Some(match r.enter(Kind::Array)? {
                    None => r.value()?,
                    Some(start) => {
                        let mut first = true;
                        while r.next_item(&mut first)? {
                            scan_choice(data, &mut r, out, scratch)?;
                        }
                        r.span_from(Kind::Array, start)
                    }
                });
                continue;
            }
            None => {
                let value = r.value()?;
                out.extra.push((key, value));
                continue;
            }
        };
        *slot = Some(r.value()?);
    }
    r.end()
}

/// What a taken [`rescan_chat`] found `data` to be, next to the chunk before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescan {
    /// The same text.
    Same,
    /// The same JSON but for the value of one string: this one (its span in `data`).
    Changed(Span),
}

/// [`scan_chat`] of `data` made from the scan of the chunk before it: `out` holds the
/// scan of `prev`, and when `data` differs from `prev` only inside one string value, the
/// changed bytes on each side being whole characters and escapes (valid ones, on the
/// new side) that start where one ends, `data` is the same JSON with that string
/// changed, so its scan is `out` with the spans after the change moved. `Some` when
/// `out` is now the scan of `data` (saying what changed); `None` (and `out` untouched)
/// when the caller must scan. Most chunks of a stream repeat the one before but for the
/// delta's text: comparing and reading the changed text is much cheaper than scanning
/// the chunk again.
pub fn rescan_chat(data: &str, prev: &str, out: &mut ChatScan) -> Option<Rescan> {
    let (a, b) = (prev.as_bytes(), data.as_bytes());
    if a.is_empty() {
        return None;
    }
    let p = common_prefix(a, b);
    if p == a.len() && p == b.len() {
        return Some(Rescan::Same);
    }
    let s = common_suffix(a, b, a.len().min(b.len()) - p);
    let (old_end, new_end) = (a.len() - s, b.len() - s);
    let mut target = None;
    out.each_span(|span, value| {
        if value && span.kind == Kind::String && span.start <= p && old_end <= span.end {
            target = Some(*span);
        }
    });
    let t = target?;
    // The change starts between two characters (or escapes) of the old string, and
    // both its old and its new text are whole ones, the new ones valid; then what
    // follows it reads as it did.
    let whole =
        (!t.escaped || between_escapes(a, t.start, p, old_end)) && string_run(data, p, new_end);
    if !whole {
        return None;
    }
    // Every boundary at or past the string's end (so past the change) moves; the
    // string's own start stays.
    let moved = |x: usize| x.saturating_sub(old_end) + new_end;
    let escaped = b
        .get(t.start..moved(t.end))
        .is_some_and(|x| x.contains(&b'\\'));
    out.each_span(|span, _| {
        if span.start == t.start && span.kind == Kind::String {
            span.end = moved(span.end);
            span.escaped = escaped;
            return;
        }
        if span.start >= t.end {
            span.start = moved(span.start);
        }
        if span.end >= t.end {
            span.end = moved(span.end);
        }
    });
    Some(Rescan::Changed(Span {
        end: moved(t.end),
        escaped,
        ..t
    }))
}

/// Whether `src[from..to]` is a run of a string's characters and valid escapes that
/// ends where one of them ends (a surrogate pair's two escapes are one).
fn string_run(src: &str, from: usize, to: usize) -> bool {
    let mut r = Reader::new(src);
    r.pos = from;
    while r.pos < to {
        // Runs of ordinary bytes eight at a time, as `Reader::string` reads them.
        while r.pos + 8 <= to && word(r.bytes, r.pos).is_some_and(|w| !stops_string(w)) {
            r.pos += 8;
        }
        match r.bytes.get(r.pos) {
            _ if r.pos >= to => break,
            Some(b'\\') => {
                if r.escape().is_err() {
                    return false;
                }
            }
            Some(&c) if c != b'"' && c >= 0x20 => r.pos += 1,
            _ => return false,
        }
    }
    r.pos == to
}

/// Whether, in the string text of a validated scan starting at `start`, both `at` and
/// `end` (`at <= end`) lie between characters or escapes, not inside an escape (nor
/// between the two halves of a surrogate pair).
fn between_escapes(text: &[u8], start: usize, at: usize, end: usize) -> bool {
    at_boundary(text, start, at) && at_boundary(text, start, end)
}

/// Whether `x` lies between characters or escapes of the validated string text that
/// starts at `start`: no escape starting in the 11 bytes before `x` (an escape is at most
/// 12 bytes, a surrogate pair) reaches past it. Read backwards from `x`, not walked from
/// the start: a tool call's arguments are hundreds of bytes, on every chunk.
fn at_boundary(text: &[u8], start: usize, x: usize) -> bool {
    let mut j = x.saturating_sub(11).max(start);
    while j < x {
        if text.get(j) == Some(&b'\\') {
            // An escape's backslash: one after an even run of them (within the string).
            // The second half of a surrogate pair counts too; the pair's first half, 6
            // bytes before it, covers it.
            let mut k = j;
            while k > start && text.get(k - 1) == Some(&b'\\') {
                k -= 1;
            }
            if (j - k) % 2 == 0 && j + escape_len(text, j) > x {
                return false;
            }
        }
        j += 1;
    }
    true
}

/// The length of the escape whose backslash is at `j` (a high surrogate's is its pair's).
fn escape_len(text: &[u8], j: usize) -> usize {
    match (text.get(j + 1), text.get(j + 2), text.get(j + 3)) {
        (Some(b'u'), Some(b'd' | b'D'), Some(b'8' | b'9' | b'a' | b'b' | b'A' | b'B')) => 12,
        (Some(b'u'), _, _) => 6,
        _ => 2,
    }
}

/// How many leading bytes `a` and `b` share (eight at a time, as words, while they
/// can: a slice comparison is a `memcmp` call).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n && word(a, i) == word(b, i) {
        i += 8;
    }
    while i < n && a.get(i) == b.get(i) {
        i += 1;
    }
    i
}

/// How many trailing bytes `a` and `b` share, at most `max`.
fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    let mut i = 0;
    while i + 8 <= max && word(a, a.len() - i - 8) == word(b, b.len() - i - 8) {
        i += 8;
    }
    while i < max && a.get(a.len() - 1 - i) == b.get(b.len() - 1 - i) {
        i += 1;
    }
    i
}

/// The eight bytes of `x` at `at` as one word (`None` past the end).
#[inline(always)]
fn word(x: &[u8], at: usize) -> Option<u64> {
    let w: [u8; 8] = x.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// Destructure `$x` whole (a field added to its struct must be named here: a value
/// span to visit, or one to leave) and pass each named `Option<Span>` to `$visit`.
macro_rules! visit_spans {
    ($visit:ident, $x:expr, $ty:ident { $($field:ident),* $(,)? } leaving { $($skip:ident),* $(,)? }) => {{
        let $ty { $($field,)* $($skip: _,)* } = $x;
        $( $visit($field); )*
    }};
}

impl ChatScan {
    /// Every span held, each with whether it is a value (a key is not).
    fn each_span(&mut self, mut f: impl FnMut(&mut Span, bool)) {
        let mut value = |s: &mut Option<Span>| {
            if let Some(s) = s {
                f(s, true);
            }
        };
        visit_spans!(value, &mut *self, ChatScan {
            id, object, created, model, system_fingerprint, usage, error, choices,
        } leaving { root, choice_list, tools, extra, choice_extra });
        for c in &mut self.choice_list {
            visit_spans!(value, c, ChoiceScan {
                item, index, finish_reason, logprobs, delta, role, content,
                reasoning_content, reasoning, tool_calls,
            } leaving { tools, extra });
        }
        for t in &mut self.tools {
            visit_spans!(value, t, ToolScan {
                item, index, id, kind, function, name, arguments,
            } leaving {});
        }
        for (k, v) in self.extra.iter_mut().chain(self.choice_extra.iter_mut()) {
            f(k, false);
            f(v, true);
        }
    }
}

/// One element of `choices`.
fn scan_choice(data: &str, r: &mut Reader<'_>, out: &mut ChatScan, scratch: &mut String) -> Res {
    let mut c = ChoiceScan {
        extra: out.choice_extra.len()..out.choice_extra.len(),
        tools: out.tools.len()..out.tools.len(),
        ..ChoiceScan::default()
    };
    c.item = Some(match r.enter(Kind::Object)? {
        None => r.value()?,
        Some(start) => {
            let mut first = true;
            while let Some(key) = r.next_key(&mut first)? {
                let slot = match key_of(data, &key, CHOICE_KEYS, scratch) {
                    Some(0) => &mut c.index,
                    Some(1) => &mut c.finish_reason,
                    Some(2) => &mut c.logprobs,
                    Some(_) => {
                        scan_delta(data, r, &mut c, &mut out.tools, scratch)?;
                        continue;
                    }
                    None => {
                        let value = r.value()?;
                        out.choice_extra.push((key, value));
                        continue;
                    }
                };
                *slot = Some(r.value()?);
            }
            r.span_from(Kind::Object, start)
        }
    });
    c.extra.end = out.choice_extra.len();
    c.tools.end = out.tools.len();
    out.choice_list.push(c);
    Ok(())
}

/// A choice's `delta` (the last one wins).
fn scan_delta(
    data: &str,
    r: &mut Reader<'_>,
    c: &mut ChoiceScan,
    tools: &mut Vec<ToolScan>,
    scratch: &mut String,
) -> Res {
    tools.truncate(c.tools.start);
    c.role = None;
    c.content = None;
    c.reasoning_content = None;
    c.reasoning = None;
    c.tool_calls = None;
    c.delta = Some(match r.enter(Kind::Object)? {
        None => r.value()?,
        Some(start) => {
            let mut first = true;
            while let Some(key) = r.next_key(&mut first)? {
                let slot = match key_of(data, &key, DELTA_KEYS, scratch) {
                    Some(0) => &mut c.role,
                    Some(1) => &mut c.content,
                    Some(2) => &mut c.reasoning_content,
                    Some(3) => &mut c.reasoning,
                    Some(_) => {
                        // "tool_calls": the last one wins.
                        tools.truncate(c.tools.start);
                        c.tool_calls = Some(match r.enter(Kind::Array)? {
                            None => r.value()?,
                            Some(start) => {
                                let mut first = true;
                                while r.next_item(&mut first)? {
                                    let t = scan_tool(data, r, scratch)?;
                                    tools.push(t);
                                }
                                r.span_from(Kind::Array, start)
                            }
                        });
                        continue;
                    }
                    None => {
                        r.value()?;
                        continue;
                    }
                };
                *slot = Some(r.value()?);
            }
            r.span_from(Kind::Object, start)
        }
    });
    Ok(())
}

/// One element of `tool_calls`.
fn scan_tool(data: &str, r: &mut Reader<'_>, scratch: &mut String) -> Res<ToolScan> {
    let mut t = ToolScan::default();
    t.item = Some(match r.enter(Kind::Object)? {
        None => r.value()?,
        Some(start) => {
            let mut first = true;
            while let Some(key) = r.next_key(&mut first)? {
                let slot = match key_of(data, &key, TOOL_KEYS, scratch) {
                    Some(0) => &mut t.index,
                    Some(1) => &mut t.id,
                    Some(2) => &mut t.kind,
                    Some(_) => {
                        // "function": the last one wins.
                        t.name = None;
                        t.arguments = None;
                        t.function = Some(match r.enter(Kind::Object)? {
                            None => r.value()?,
                            Some(start) => {
                                let mut first = true;
                                while let Some(key) = r.next_key(&mut first)? {
                                    let slot = match key_of(data, &key, FUNCTION_KEYS, scratch) {
                                        Some(0) => &mut t.name,
                                        Some(_) => &mut t.arguments,
                                        None => {
                                            r.value()?;
                                            continue;
                                        }
                                    };
                                    *slot = Some(r.value()?);
                                }
                                r.span_from(Kind::Object, start)
                            }
                        });
                        continue;
                    }
                    None => {
                        r.value()?;
                        continue;
                    }
                };
                *slot = Some(r.value()?);
            }
            r.span_from(Kind::Object, start)
        }
    });
    Ok(t)
}

// ---------------------------------------------------------------------------------
// TGI token events
// ---------------------------------------------------------------------------------

/// The fields of one TGI `/generate_stream` event, as spans into its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TgiScan {
    pub root: Option<Kind>,
    pub token: Option<Span>,
    pub token_id: Option<Span>,
    pub token_text: Option<Span>,
    pub token_logprob: Option<Span>,
    pub token_special: Option<Span>,
    pub generated_text: Option<Span>,
    pub details: Option<Span>,
    pub error: Option<Span>,
    pub error_type: Option<Span>,
    pub object: Option<Span>,
}

const TGI_KEYS: &[&str] = &[
    "generated_text",
    "details",
    "error",
    "error_type",
    "object",
    "token",
];
const TOKEN_KEYS: &[&str] = &["id", "text", "logprob", "special"];

/// Scan `data` as a TGI event into `out`; `Err` when it is not JSON.
pub fn scan_tgi(data: &str, out: &mut TgiScan, scratch: &mut String) -> Res {
    *out = TgiScan::default();
    let mut r = Reader::new(data);
    out.root = Some(r.peek()?);
    let Some(_) = r.enter(Kind::Object)? else {
        r.value()?;
        return r.end();
    };
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let slot = match key_of(data, &key, TGI_KEYS, scratch) {
            Some(0) => &mut out.generated_text,
            Some(1) => &mut out.details,
            Some(2) => &mut out.error,
            Some(3) => &mut out.error_type,
            Some(4) => &mut out.object,
            Some(_) => {
                // "token": the last one wins.
                out.token_id = None;
                out.token_text = None;
                out.token_logprob = None;
                out.token_special = None;
                out.token = Some(match r.enter(Kind::Object)? {
                    None => r.value()?,
                    Some(start) => {
                        let mut first = true;
                        while let Some(key) = r.next_key(&mut first)? {
                            let slot = match key_of(data, &key, TOKEN_KEYS, scratch) {
                                Some(0) => &mut out.token_id,
                                Some(1) => &mut out.token_text,
                                Some(2) => &mut out.token_logprob,
                                Some(_) => &mut out.token_special,
                                None => {
                                    r.value()?;
                                    continue;
                                }
                            };
                            *slot = Some(r.value()?);
                        }
                        r.span_from(Kind::Object, start)
                    }
                });
                continue;
            }
            None => {
                r.value()?;
                continue;
            }
        };
        *slot = Some(r.value()?);
    }
    r.end()
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {
    use super::*;

    fn oracle(text: &str) -> bool {
        serde_json::from_slice::<serde_json::Value>(text.as_bytes()).is_ok()
    }

    #[track_caller]
    fn agrees(text: &str) {
        assert_eq!(validate(text.as_bytes()), oracle(text), "{text:?}");
    }

    /// `after` rescanned from `before`'s scan: whether the rescan was taken, having
    /// checked that it equals a fresh scan (and that a refused one left the scan alone).
    #[track_caller]
    fn rescanned(before: &str, after: &str) -> bool {
        let chunk = |content: &str| {
            format!(
                r#"{{"id":"x","choices":[{{"index":0,"delta":{{"content":"{content}"}}}}],"usage":null}}"#
            )
        };
        let (before, after) = (chunk(before), chunk(after));
        let mut scratch = String::new();
        let mut s = ChatScan::default();
        assert!(scan_chat(&before, &mut s, &mut scratch).is_ok());
        let mut fresh = ChatScan::default();
        let ok = scan_chat(&after, &mut fresh, &mut scratch).is_ok();
        let mut again = s.clone();
        let taken = rescan_chat(&after, &before, &mut again).is_some();
        if taken {
            assert!(ok, "{after}");
            assert_eq!(again, fresh, "{after}");
        } else {
            assert_eq!(again, s);
        }
        taken
    }

    #[test]
    fn a_chunk_changed_inside_its_content_is_rescanned() {
        assert!(rescanned("Okay", " let"));
        assert!(rescanned("", "word"));
        assert!(rescanned("word", ""));
        assert!(rescanned(r"a\nb", r"a\nbc"));
        assert!(rescanned(r#"\"quoted\""#, r"back\\"));
        assert!(rescanned(r"x\uD83D\uDE00", r"x\uD83D\uDE00y"));
    }

    /// The path [`path_to`] gives to the string value whose text starts right after
    /// the first `«` in `marked` (the mark is taken out first).
    fn path(marked: &str) -> Option<String> {
        let at = marked.find('«').expect("a mark");
        let src = marked.replace('«', "");
        assert!(validate(src.as_bytes()), "{src}");
        let mut out = String::from("kept ");
        path_to(&src, at, &mut out).then(|| out["kept ".len()..].to_owned())
    }

    #[test]
    fn a_path_names_each_key_and_index_on_the_way_to_a_string() {
        let p = |s: &str| path(s);
        assert_eq!(p(r#"{"a":"«x"}"#).as_deref(), Some(r#"["a"]"#));
        assert_eq!(
            p(r#"{"choices":[{"index":0},{"delta":{"content":"«hi"}}]}"#).as_deref(),
            Some(r#"["choices",1,"delta","content"]"#)
        );
        assert_eq!(p(r#" [ 1 , [ "a" , "«b" ] ] "#).as_deref(), Some("[1,1]"));
        assert_eq!(p(r#""«root""#).as_deref(), Some("[]"));
        // Keys as written, escapes and all.
        assert_eq!(
            p(r#"{"k\"q":{"c\u006f":"«v"}}"#).as_deref(),
            Some(r#"["k\"q","c\u006f"]"#)
        );
        // Not the start of a string value: inside one, a key, a number.
        assert_eq!(p(r#"{"a":"x«y"}"#), None);
        assert_eq!(p(r#"{"«a":"x"}"#), None);
        assert_eq!(p(r#"{"a":«1}"#), None);
        // A key that is not its object's only one of that name, escaped or not, and
        // `__proto__`: no path.
        assert_eq!(p(r#"{"a":"«x","a":"y"}"#), None);
        assert_eq!(p(r#"{"a":"x","\u0061":"«y"}"#), None);
        assert_eq!(p(r#"{"a":{"b":"«x"},"b":1,"a":2}"#), None);
        assert_eq!(p(r#"{"__proto__":"«x"}"#), None);
        assert_eq!(p(r#"{"__pr\u006fto__":{"a":"«x"}}"#), None);
        // Duplicates elsewhere do not matter.
        assert_eq!(
            p(r#"{"b":1,"b":2,"a":{"c":"«x"}}"#).as_deref(),
            Some(r#"["a","c"]"#)
        );
    }

    #[test]
    fn a_change_that_is_not_whole_characters_is_scanned_again() {
        // Inside an escape, between a surrogate pair's halves, a lone surrogate, a quote
        // or a control character: each goes through the full scan.
        assert!(!rescanned(r"a\nb", r"a\tb"));
        assert!(!rescanned(r"\uD83D\uDE00", r"\uD83D\uDE01"));
        assert!(!rescanned("x", r"\uD800"));
        assert!(!rescanned(r"\uD83D\uDE00", r"\uD83D"));
        assert!(!rescanned("x", "\u{1}"));
        assert!(!rescanned("a", r#"a","b":"c"#));
        assert!(!rescanned("a", r"a\q"));
    }

    #[test]
    fn a_string_stops_at_its_first_quote_backslash_or_control_byte_wherever_it_lies() {
        // The word-at-a-time run must find a stop in any of a word's eight bytes, next
        // to bytes that only differ from one in the high bit (0xA2, 0xDC, 0x9F).
        for len in 0..26 {
            for at in 0..len {
                for stop in ["\"", "\\", "\\n", "\u{0}", "\u{1f}", "\u{7f}", "¢", "Ü"] {
                    let mut body: Vec<&str> = vec!["a"; len];
                    body[at] = stop;
                    let text = format!("\"{}\"", body.concat());
                    agrees(&text);
                    let mut r = Reader::new(&text);
                    let read = r.value().ok().filter(|_| r.end().is_ok());
                    assert_eq!(
                        read.is_some(),
                        !["\"", "\\", "\u{0}", "\u{1f}"].contains(&stop)
                    );
                    if let Some(span) = read {
                        assert_eq!(span.raw(&text), &text[1..text.len() - 1], "{text:?}");
                        assert_eq!(span.escaped, stop == "\\n", "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn has_below_and_has_byte_are_exact_for_every_byte_position() {
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let w = u64::from_le_bytes(word);
                assert_eq!(has_below(w, 0x20), b < 0x20, "{b:#x} at {at}");
                assert_eq!(has_byte(w, b'"'), b == b'"', "{b:#x} at {at}");
                assert_eq!(stops_string(w), b == b'"' || b == b'\\' || b < 0x20);
            }
        }
    }

    #[test]
    fn literals_and_trailing_text() {
        for t in [
            "null",
            "true",
            "false",
            " null ",
            "nul",
            "nulll",
            "true false",
            "",
            " ",
            "[]x",
            "{}",
            "{} ",
            "\u{feff}{}",
            "{}\u{0}",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "[\n\t\r ]",
        ] {
            agrees(t);
        }
    }

    #[test]
    fn numbers_follow_the_grammar_and_the_f64_range() {
        for t in [
            "0",
            "-0",
            "01",
            "-",
            "1.",
            ".5",
            "1.5",
            "1e5",
            "1E+5",
            "1e-5",
            "1e",
            "1e+",
            "-01",
            "1.0e400",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1e309",
            "-1e309",
            "0e99999999999999",
            "0.0000e400",
            "1e-99999",
            "+1",
            "0x10",
            "18446744073709551616",
            "-9223372036854775809",
            "1.5e-400",
            &"9".repeat(400),
            &format!("0.{}", "0".repeat(400)),
        ] {
            agrees(t);
        }
    }

    #[test]
    fn strings_escapes_and_surrogates() {
        for t in [
            r#""a""#,
            r#""\u0041""#,
            r#""\uD83D\uDE00""#,
            r#""\uD83D""#,
            r#""\uDE00""#,
            r#""\uD83Dx""#,
            r#""\uD83D\n""#,
            r#""\uD83D\u0041""#,
            r#""\u00""#,
            r#""\x""#,
            r#""\/""#,
            r#""\'""#,
            "\"\t\"",
            "\"\u{7f}\"",
            "\"\u{1f}\"",
            r#""\uDBFF\uDFFF""#,
            r#""\ud800\udc00""#,
            r#""\u0000""#,
            "\"",
            r#""\""#,
            r#""abc"#,
        ] {
            agrees(t);
        }
        let mut out = String::new();
        let src = r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00\u0000z""#;
        let span = Reader::new(src).string().unwrap();
        decode_str(src, &span, &mut out);
        let want: String = serde_json::from_str(src).unwrap();
        assert_eq!(out, want);
    }

    #[test]
    fn invalid_utf8_is_rejected_like_serde_json() {
        assert!(!validate(b"\"\xff\""));
        assert!(serde_json::from_slice::<serde_json::Value>(b"\"\xff\"").is_err());
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        for depth in [1, 126, 127, 128, 200] {
            agrees(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
            agrees(&format!(
                "{}1{}",
                "{\"a\":".repeat(depth),
                "}".repeat(depth)
            ));
        }
    }

    #[test]
    fn keys_with_escapes_and_duplicates_last_wins() {
        let data = r#"{"choices":[{"delta":{"content":"x"}}],"choices":[{"delta":{"con\u0074ent":"a","content":"b"}}]}"#;
        let mut s = ChatScan::default();
        let mut scratch = String::new();
        scan_chat(data, &mut s, &mut scratch).unwrap();
        assert_eq!(s.choice_list.len(), 1);
        let c = s.choice_list[0].content.unwrap();
        assert_eq!(c.raw(data), "b");
        let data = r#"{"choices":[{"delta":{"con\u0074ent":"a"}}]}"#;
        scan_chat(data, &mut s, &mut scratch).unwrap();
        assert_eq!(s.choice_list[0].content.unwrap().raw(data), "a");
    }

    #[test]
    fn tool_calls_and_unknown_fields_are_kept_as_spans() {
        let data = r#"{"id":"x","provider":{"a":[1,2]},"choices":[{"index":0,"seed":7,"delta":{"tool_calls":[{"index":1,"id":"c","function":{"name":"f","arguments":"{\"q\":1}"}}]}}]}"#;
        let mut s = ChatScan::default();
        let mut scratch = String::new();
        scan_chat(data, &mut s, &mut scratch).unwrap();
        assert_eq!(s.extra.len(), 1);
        assert_eq!(s.extra[0].0.raw(data), "provider");
        assert_eq!(s.extra[0].1.json(data), r#"{"a":[1,2]}"#);
        let c = &s.choice_list[0];
        assert_eq!(s.choice_extra[c.extra.clone()][0].1.json(data), "7");
        let t = &s.tools[c.tools.clone()][0];
        assert_eq!(t.name.unwrap().raw(data), "f");
        let mut args = String::new();
        decode_str(data, &t.arguments.unwrap(), &mut args);
        assert_eq!(args, r#"{"q":1}"#);
        // Invalid JSON anywhere fails the scan.
        assert_eq!(
            scan_chat(r#"{"id":"x",}"#, &mut s, &mut scratch),
            Err(Invalid)
        );
    }

    #[test]
    fn tgi_events() {
        let data = r#"{"index":1,"token":{"id":5,"text":"Hi","logprob":-0.5,"special":false},"generated_text":null,"details":null}"#;
        let mut s = TgiScan::default();
        let mut scratch = String::new();
        scan_tgi(data, &mut s, &mut scratch).unwrap();
        assert_eq!(s.token_text.unwrap().raw(data), "Hi");
        assert_eq!(s.token_special.unwrap().kind, Kind::False);
        assert_eq!(s.generated_text.unwrap().kind, Kind::Null);
        assert_eq!(s.token.unwrap().kind, Kind::Object);
    }

    /// Every one-place edit of a long string full of escapes (runs longer than a word
    /// between them): a rescan is taken only when it gives the fresh scan, and the
    /// string decodes as `serde_json` reads it.
    #[test]
    fn rescans_of_long_escaped_strings_are_fresh_scans() {
        let before = r#"{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":\"notes/a.md\",\"content\":\"line one\\nline two \\\"quoted\\\" \u00e9\ud83d\ude00 tail"}}]}}]}"#;
        let mut prev = ChatScan::default();
        let mut scratch = String::new();
        scan_chat(before, &mut prev, &mut scratch).unwrap();
        let args = prev.tools[0].arguments.unwrap();
        for at in args.start..args.end {
            for len in 0..3 {
                for with in [
                    "",
                    "Q",
                    "\\n",
                    "\\\\",
                    "\\u00e8",
                    "\\",
                    "\\u",
                    "\"",
                    "abcdefghijk",
                ] {
                    let end = (at + len).min(args.end);
                    let (Some(head), Some(tail)) = (before.get(..at), before.get(end..)) else {
                        continue;
                    };
                    let after = format!("{head}{with}{tail}");
                    let mut again = prev.clone();
                    let mut fresh = ChatScan::default();
                    let scanned = scan_chat(&after, &mut fresh, &mut scratch).is_ok();
                    assert_eq!(scanned, oracle(&after), "{after}");
                    if rescan_chat(&after, before, &mut again).is_some() {
                        assert!(scanned, "{after}");
                        assert_eq!(again, fresh, "{after}");
                        let a = fresh.tools[0].arguments.unwrap();
                        let mut text = String::new();
                        decode_str(&after, &a, &mut text);
                        let v: serde_json::Value = serde_json::from_str(a.json(&after)).unwrap();
                        assert_eq!(Some(text.as_str()), v.as_str(), "{after}");
                    } else {
                        assert_eq!(again, prev, "a refused rescan changed the scan");
                    }
                }
            }
        }
    }

    /// The walk `between_escapes` was: from the string's start, one character or escape
    /// at a time.
    fn walked_between_escapes(text: &[u8], start: usize, at: usize, end: usize) -> bool {
        let mut i = start;
        let mut met = at == start;
        while i < end {
            i += match (text.get(i), text.get(i + 1), text.get(i + 2)) {
                (Some(b'\\'), Some(b'u'), Some(b'd' | b'D')) => match text.get(i + 3) {
                    Some(b'8' | b'9' | b'a' | b'b' | b'A' | b'B') => 12,
                    _ => 6,
                },
                (Some(b'\\'), Some(b'u'), _) => 6,
                (Some(b'\\'), _, _) => 2,
                _ => 1,
            };
            met |= i == at;
        }
        met && i == end
    }

    #[test]
    fn boundaries_read_backwards_are_the_walks() {
        let strings = [
            r#""plain text, no escapes at all""#,
            r#""a\\b\\\\c\\\"d\"\\\\\\\\e""#,
            r#""\ud83d\ude00x\uD83D\uDE00\u00e9\n\t\\u0041\\\ud83d\ude00""#,
            r#""\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\""#,
            r#""{\"path\":\"notes/a.md\",\"content\":\"line\\nline \\\"q\\\" \u00e9\ud83d\ude00""#,
        ];
        for text in strings {
            let bytes = text.as_bytes();
            let mut s = Span {
                kind: Kind::Null,
                start: 0,
                end: 0,
                escaped: false,
            };
            let mut r = Reader::new(text);
            s = r.string().unwrap_or(s);
            assert_eq!(s.kind, Kind::String, "{text}");
            for at in s.start..=s.end {
                for end in at..=s.end {
                    assert_eq!(
                        between_escapes(bytes, s.start, at, end),
                        walked_between_escapes(bytes, s.start, at, end),
                        "{text} {at} {end}"
                    );
                }
            }
        }
    }
}
