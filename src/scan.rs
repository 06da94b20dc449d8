//! The hot-path JSON scanner: one validating pass over one SSE event's `data` that finds
//! the fields a chat client needs, with no `serde_json::Value` and no tree.
//!
//! Owns: [`Reader`], a validating JSON reader that walks the text once ([RFC 8259], with
//! `serde_json`'s choices where the RFC leaves room: nesting deeper than 127 levels and
//! numbers beyond `f64` are rejected, lone surrogates in `\u` escapes are rejected, any
//! value may be the root); [`Span`], where a value lies in the text; [`ChatScan`] and
//! [`TgiScan`], the fields of a `chat.completion.chunk` and of a TGI token event as
//! spans; [`decode_str`], which unescapes a string span into a buffer.
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
    let mut i = 0;
    let mut run = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
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
            Kind::Object => self.object(|r, _| r.value().map(drop))?,
            Kind::Array => self.array(|r| r.value().map(drop))?,
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
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.bytes.get(int_start) == Some(&b'0')) {
            return Err(Invalid);
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
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
        // `serde_json` itself decides, so the two always agree.
        let zero_int = self.bytes.get(int_start) == Some(&b'0');
        let magnitude = if zero_int {
            exp
        } else {
            int_digits as i64 + exp
        };
        if magnitude <= 300 {
            return Ok(());
        }
        let text = self.src.get(start..self.pos).unwrap_or_default();
        match crate::json::parse(text) {
            Ok(_) => Ok(()),
            Err(_) => Err(Invalid),
        }
    }

    /// Read a string (the reader is at its `"`).
    pub fn string(&mut self) -> Res<Span> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(Invalid);
        }
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            // The run of ordinary bytes, in one tight loop.
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

    fn open(&mut self) -> Res {
        self.depth += 1;
        self.pos += 1;
        if self.depth > MAX_DEPTH {
            Err(Invalid)
        } else {
            Ok(())
        }
    }

    /// Read an object (the reader is at its `{`), handing each key to `f`, which must
    /// read the key's value.
    pub fn object(&mut self, mut f: impl FnMut(&mut Self, Span) -> Res) -> Res {
        self.open()?;
        self.ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(Invalid);
            }
            self.pos += 1;
            f(self, key)?;
            self.ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// Read an array (the reader is at its `[`), calling `f` to read each element.
    pub fn array(&mut self, mut f: impl FnMut(&mut Self) -> Res) -> Res {
        self.open()?;
        self.ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            f(self)?;
            self.ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// Read an object with `f` if the next value is one; otherwise read the value.
    /// Returns the value's span either way (an object's covers its text).
    fn object_or_value(&mut self, f: impl FnMut(&mut Self, Span) -> Res) -> Res<Span> {
        if self.peek()? != Kind::Object {
            return self.value();
        }
        let start = self.pos;
        self.object(f)?;
        Ok(Span {
            kind: Kind::Object,
            start,
            end: self.pos,
            escaped: false,
        })
    }

    /// As [`Reader::object_or_value`] for an array, `f` reading each element.
    fn array_or_value(&mut self, f: impl FnMut(&mut Self) -> Res) -> Res<Span> {
        if self.peek()? != Kind::Array {
            return self.value();
        }
        let start = self.pos;
        self.array(f)?;
        Ok(Span {
            kind: Kind::Array,
            start,
            end: self.pos,
            escaped: false,
        })
    }
}

/// Short byte strings equal (keys: an inline loop beats a `memcmp` call).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Which known key a key span is; keys with escapes are unescaped first.
fn key_of<'k>(src: &str, key: &Span, names: &[&'k str], scratch: &mut String) -> Option<&'k str> {
    let text = if key.escaped {
        scratch.clear();
        decode_str(src, key, scratch);
        scratch.as_str()
    } else {
        key.raw(src)
    };
    names
        .iter()
        .find(|n| same(n.as_bytes(), text.as_bytes()))
        .copied()
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
    let ChatScan {
        root,
        id,
        object,
        created,
        model,
        system_fingerprint,
        usage,
        error,
        choices,
        choice_list,
        tools,
        extra,
        choice_extra,
    } = out;
    *root = None;
    *id = None;
    *object = None;
    *created = None;
    *model = None;
    *system_fingerprint = None;
    *usage = None;
    *error = None;
    *choices = None;
    choice_list.clear();
    tools.clear();
    extra.clear();
    choice_extra.clear();
    let mut r = Reader::new(data);
    let kind = r.peek()?;
    *root = Some(kind);
    if kind != Kind::Object {
        r.value()?;
        return r.end();
    }
    r.object(|r, key| {
        let slot = match key_of(data, &key, CHUNK_KEYS, scratch) {
            Some("id") => &mut *id,
            Some("object") => &mut *object,
            Some("created") => &mut *created,
            Some("model") => &mut *model,
            Some("system_fingerprint") => &mut *system_fingerprint,
            Some("usage") => &mut *usage,
            Some("error") => &mut *error,
            Some(_) => {
                // "choices": the last one wins.
                choice_list.clear();
                tools.clear();
                choice_extra.clear();
                *choices = Some(r.array_or_value(|r| {
                    let mut c = ChoiceScan {
                        extra: choice_extra.len()..choice_extra.len(),
                        tools: tools.len()..tools.len(),
                        ..ChoiceScan::default()
                    };
                    c.item = Some(r.object_or_value(|r, key| {
                        scan_choice_field(data, r, key, &mut c, tools, choice_extra, scratch)
                    })?);
                    c.extra.end = choice_extra.len();
                    c.tools.end = tools.len();
                    choice_list.push(c);
                    Ok(())
                })?);
                return Ok(());
            }
            None => {
                let value = r.value()?;
                extra.push((key, value));
                return Ok(());
            }
        };
        *slot = Some(r.value()?);
        Ok(())
    })?;
    r.end()
}

fn scan_choice_field(
    data: &str,
    r: &mut Reader<'_>,
    key: Span,
    c: &mut ChoiceScan,
    tools: &mut Vec<ToolScan>,
    choice_extra: &mut Vec<(Span, Span)>,
    scratch: &mut String,
) -> Res {
    let slot = match key_of(data, &key, CHOICE_KEYS, scratch) {
        Some("index") => &mut c.index,
        Some("finish_reason") => &mut c.finish_reason,
        Some("logprobs") => &mut c.logprobs,
        Some(_) => {
            // "delta": the last one wins.
            tools.truncate(c.tools.start);
            c.role = None;
            c.content = None;
            c.reasoning_content = None;
            c.reasoning = None;
            c.tool_calls = None;
            let tools_start = c.tools.start;
            c.delta = Some(r.object_or_value(|r, key| {
                let slot = match key_of(data, &key, DELTA_KEYS, scratch) {
                    Some("role") => &mut c.role,
                    Some("content") => &mut c.content,
                    Some("reasoning_content") => &mut c.reasoning_content,
                    Some("reasoning") => &mut c.reasoning,
                    Some(_) => {
                        tools.truncate(tools_start);
                        c.tool_calls = Some(r.array_or_value(|r| {
                            let mut t = ToolScan::default();
                            t.item = Some(r.object_or_value(|r, key| {
                                scan_tool_field(data, r, key, &mut t, scratch)
                            })?);
                            tools.push(t);
                            Ok(())
                        })?);
                        return Ok(());
                    }
                    None => {
                        r.value()?;
                        return Ok(());
                    }
                };
                *slot = Some(r.value()?);
                Ok(())
            })?);
            return Ok(());
        }
        None => {
            let value = r.value()?;
            choice_extra.push((key, value));
            return Ok(());
        }
    };
    *slot = Some(r.value()?);
    Ok(())
}

fn scan_tool_field(
    data: &str,
    r: &mut Reader<'_>,
    key: Span,
    t: &mut ToolScan,
    scratch: &mut String,
) -> Res {
    let slot = match key_of(data, &key, TOOL_KEYS, scratch) {
        Some("index") => &mut t.index,
        Some("id") => &mut t.id,
        Some("type") => &mut t.kind,
        Some(_) => {
            t.name = None;
            t.arguments = None;
            t.function = Some(r.object_or_value(|r, key| {
                let slot = match key_of(data, &key, FUNCTION_KEYS, scratch) {
                    Some("name") => &mut t.name,
                    Some(_) => &mut t.arguments,
                    None => {
                        r.value()?;
                        return Ok(());
                    }
                };
                *slot = Some(r.value()?);
                Ok(())
            })?);
            return Ok(());
        }
        None => {
            r.value()?;
            return Ok(());
        }
    };
    *slot = Some(r.value()?);
    Ok(())
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
    let kind = r.peek()?;
    out.root = Some(kind);
    if kind != Kind::Object {
        r.value()?;
        return r.end();
    }
    r.object(|r, key| {
        let slot = match key_of(data, &key, TGI_KEYS, scratch) {
            Some("generated_text") => &mut out.generated_text,
            Some("details") => &mut out.details,
            Some("error") => &mut out.error,
            Some("error_type") => &mut out.error_type,
            Some("object") => &mut out.object,
            Some(_) => {
                out.token_id = None;
                out.token_text = None;
                out.token_logprob = None;
                out.token_special = None;
                let (id, text, logprob, special) = (
                    &mut out.token_id,
                    &mut out.token_text,
                    &mut out.token_logprob,
                    &mut out.token_special,
                );
                out.token = Some(r.object_or_value(|r, key| {
                    let slot = match key_of(data, &key, TOKEN_KEYS, scratch) {
                        Some("id") => &mut *id,
                        Some("text") => &mut *text,
                        Some("logprob") => &mut *logprob,
                        Some(_) => &mut *special,
                        None => {
                            r.value()?;
                            return Ok(());
                        }
                    };
                    *slot = Some(r.value()?);
                    Ok(())
                })?);
                return Ok(());
            }
            None => {
                r.value()?;
                return Ok(());
            }
        };
        *slot = Some(r.value()?);
        Ok(())
    })?;
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
}
