//! The response cache: which requests may be answered from it, under which key, and
//! what to keep and evict.
//!
//! Owns: the cache policy ([`CacheMode`], [`plan`]: is this request cacheable, and its
//! [`CacheKey`]), the canonical JSON the key is made of ([`canonical_json`]), the short
//! stable id of a key ([`fnv1a64`], [`CacheId`], usable in a Cache API URL), what may be
//! stored ([`storable`]), the bookkeeping of a bounded store ([`CacheIndex`]: LRU by
//! entries and bytes, TTL; it decides, a store of the shell's holds the bytes), and
//! [`MemoryCache`], the default in-memory store built on it.
//!
//! Must never: store a failed, truncated or aborted response (the shell asks
//! [`storable`]), let a request the caller did not allow be served from the cache
//! (sampling requests are not cacheable unless the mode is [`CacheMode::Force`]), grow
//! past its bounds, read a clock (`now_ms` is passed in), or panic on any request text.
//!
//! ## The key
//!
//! The key is the canonical JSON of `{"v": 1, "route": <route>, "request": <body>}`,
//! where `<body>` is the request body as sent, minus the options that do not change the
//! answer ([`IGNORED_FIELDS`]: `stream`, `stream_options`, `user`, `store`, `metadata`),
//! and `<route>` is where it is sent (the shell passes the target URL: the same body to
//! another server or provider is another answer). Canonical means:
//!
//! - object keys sorted by their UTF-8 bytes (which is Unicode code point order; RFC
//!   8785 sorts by UTF-16 units, which differs only beyond U+FFFF), duplicate keys
//!   resolved as the JSON parser does (the last wins);
//! - no whitespace outside strings;
//! - strings with exactly `"`, `\` and the control characters U+0000-U+001F escaped
//!   (`\b \f \n \r \t`, else `\u00XX` lowercase hex), everything else as UTF-8. So
//!   `"\u00e9"` and `"é"` in the request are the same key; Unicode is not normalized
//!   (`é` as one code point and as `e` + U+0301 are two keys, as they are two prompts);
//! - numbers: integers as decimal integers (exact up to `u64`/`i64`); a float with an
//!   integral value below 2^53 in magnitude as that integer (`1.0`, `1e0` and `1` are
//!   one key, and `-0.0` is `0`); any other float in its shortest round-trip form
//!   (`0.7`, `1e+300`). Floats are compared as `serde_json` parses them, which is exact
//!   for the few significant digits sampling options have (`0.7`, `0.95`); beyond ~15
//!   significant digits it may land one ulp off, so two spellings of such a number can
//!   make two keys (a miss, never a wrong answer).
//!
//! ## Cacheable
//!
//! [`CacheMode::Auto`] caches only requests that ask for a deterministic answer:
//! `temperature` present and `0`. An absent temperature is the server's default, which
//! for OpenAI-compatible servers is 1 (sampling), so it is not cached; a `seed` alone
//! does not make sampling repeatable across providers. [`CacheMode::Force`] caches any
//! request; [`CacheMode::Off`] none.

use crate::vecmap::VecMap;
use std::sync::Arc;

use crate::json::{Map, Number, Value};

use crate::error::Error;
use crate::types::ChatCompletion;

/// Top-level request fields left out of the key: they do not change the answer.
/// `stream`/`stream_options` change only its transport (a cached answer is replayed
/// either way), `user` is an end-user id for the provider's abuse monitoring, and
/// `store`/`metadata` are OpenAI's retention options.
pub const IGNORED_FIELDS: [&str; 5] = ["stream", "stream_options", "user", "store", "metadata"];

/// Version of the key format, part of every key: a change of the canonical form bumps
/// it, so entries a persistent store kept from an older version are never matched.
pub const KEY_VERSION: u64 = 1;

/// Default most entries a cache holds.
pub const DEFAULT_MAX_ENTRIES: usize = 256;
/// Default most bytes (keys and values) a cache holds.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Default time an entry is used.
pub const DEFAULT_TTL_MS: u64 = 10 * 60 * 1000;
/// What an entry costs besides its key and value bytes, for the byte bound.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;

// ---------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------

/// Which requests the cache answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// No caching (the default: a client never answers from a cache unless asked).
    #[default]
    Off,
    /// Deterministic requests only (`temperature: 0`).
    Auto,
    /// Every request, sampling ones included (the caller accepts a repeated answer).
    Force,
}

impl CacheMode {
    /// Read the `cache` option's string form: `"off"`, `"auto"`, `"force"`. (The shell
    /// maps `false` to `Off` and `true` to `Auto`.)
    pub fn parse(s: &str) -> Result<CacheMode, Error> {
        match s.trim() {
            "off" => Ok(CacheMode::Off),
            "auto" => Ok(CacheMode::Auto),
            "force" => Ok(CacheMode::Force),
            other => Err(Error::input(format!(
                "`cache` must be true, false, \"auto\", \"force\" or \"off\", got {:?}",
                crate::error::cut(other, 40)
            ))),
        }
    }
}

/// Why a request is not looked up in (or stored to) the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The mode is [`CacheMode::Off`].
    Off,
    /// `temperature` is absent or not `0` and the mode is [`CacheMode::Auto`].
    Sampling,
    /// The body is not a JSON object.
    NotAnObject,
}

impl SkipReason {
    /// What the per-request record says.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Off => "off",
            SkipReason::Sampling => "sampling",
            SkipReason::NotAnObject => "not_an_object",
        }
    }
}

/// What the cache does for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlan {
    /// Look it up under this key; on a miss, send it and offer the answer to the store
    /// if [`storable`].
    Use(CacheKey),
    /// Send it; nothing is looked up or stored.
    Skip(SkipReason),
}

/// The key one call is cached under, `None` when it is not cached: a `textGeneration`
/// answer never is, a stream only when the cache replays streams (`streams`), and the
/// call's `cache` option, when given, is used instead of the client's (`off` turns it
/// off for that call). Then [`plan`] decides by the request itself.
pub fn call_key(
    chat: bool,
    stream: bool,
    streams: bool,
    client: CacheMode,
    call: Option<CacheMode>,
    body: &str,
    route: &str,
) -> Option<CacheKey> {
    if !chat || (stream && !streams) {
        return None;
    }
    match plan(body, route, call.unwrap_or(client)) {
        CachePlan::Use(key) => Some(key),
        CachePlan::Skip(_) => None,
    }
}

/// The cache plan for a request: `body` is the JSON text as it will be sent (after
/// routing chose the model), `route` where it goes (the target URL).
pub fn plan(body: &str, route: &str, mode: CacheMode) -> CachePlan {
    if mode == CacheMode::Off {
        return CachePlan::Skip(SkipReason::Off);
    }
    let Ok(Value::Object(map)) = crate::json::parse(body) else {
        return CachePlan::Skip(SkipReason::NotAnObject);
    };
    if mode == CacheMode::Auto && !is_deterministic(&map) {
        return CachePlan::Skip(SkipReason::Sampling);
    }
    CachePlan::Use(CacheKey::of_request(map, route))
}

/// `temperature` is present and zero.
fn is_deterministic(request: &Map<String, Value>) -> bool {
    matches!(request.get("temperature"), Some(Value::Number(n)) if n.as_f64() == Some(0.0))
}

/// Whether an answer may be stored: the stream was not truncated, and there is at least
/// one choice and every choice has a finish reason (the answer is complete; `length`
/// counts, since the same request stops at the same place). Failed and aborted calls
/// have no completion to offer and are never stored.
pub fn storable(completion: &ChatCompletion, truncated: bool) -> bool {
    !truncated
        && !completion.choices.is_empty()
        && completion
            .choices
            .iter()
            .all(|c| c.finish_reason.as_deref().is_some_and(|r| !r.is_empty()))
}

// ---------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------

/// The short, stable id of a key: FNV-1a 64 of its canonical text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheId(pub u64);

impl CacheId {
    /// 16 lowercase hex digits.
    pub fn hex(self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(16);
        for i in (0..16).rev() {
            out.push(char::from(DIGITS[((self.0 >> (i * 4)) & 0xf) as usize]));
        }
        out
    }

    /// `prefix` + the hex id, e.g. a Cache API request URL
    /// (`https://hf-inference-wasm.invalid/cache/` + id). A 64-bit hash can collide:
    /// a store keyed by it keeps [`CacheKey::canonical`] beside the value and compares
    /// it on read ([`MemoryCache`] does).
    pub fn url(self, prefix: &str) -> String {
        let mut out = String::with_capacity(prefix.len() + 16);
        out.push_str(prefix);
        out.push_str(&self.hex());
        out
    }
}

/// A request's cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The canonical JSON the key is made of (see the module docs).
    pub canonical: String,
    pub id: CacheId,
}

impl CacheKey {
    /// What a pluggable store keeps under [`CacheId::hex`] for `answer`: the canonical
    /// request, a line break, the answer (JSON text has no raw line break, so the first
    /// one splits them).
    pub fn store_entry(&self, answer: &str) -> String {
        let mut out = String::with_capacity(self.canonical.len() + 1 + answer.len());
        out.push_str(&self.canonical);
        out.push('\n');
        out.push_str(answer);
        out
    }

    /// The answer in a store's `entry` for this key: `None` when the entry is not one
    /// [`store_entry`](Self::store_entry) wrote, or was written for another request whose
    /// id collided with this one's (then it is a miss, never another request's answer).
    pub fn stored_answer<'a>(&self, entry: &'a str) -> Option<&'a str> {
        let (canonical, answer) = crate::error::split_once(entry, b'\n')?;
        (canonical == self.canonical).then_some(answer)
    }

    /// The key of a request body (a parsed JSON object) sent to `route`.
    pub fn of_request(mut request: Map<String, Value>, route: &str) -> CacheKey {
        for f in IGNORED_FIELDS {
            request.remove(f);
        }
        let mut material = Map::new();
        material.insert("v".to_owned(), Value::from(KEY_VERSION));
        material.insert("route".to_owned(), Value::String(route.to_owned()));
        material.insert("request".to_owned(), Value::Object(request));
        CacheKey::of_canonical(canonical_json(&Value::Object(material)))
    }

    /// The key whose canonical text is `canonical` (as read back from a store).
    pub fn of_canonical(canonical: String) -> CacheKey {
        let id = CacheId(fnv1a64(canonical.as_bytes()));
        CacheKey { canonical, id }
    }
}

/// FNV-1a, 64-bit (<http://www.isthe.com/chongo/tech/comp/fnv/>): offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`. Stable across versions and platforms;
/// not collision-resistant against a chosen input, hence the canonical-text check.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The canonical JSON text of `v` (see the module docs for the rules).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => crate::json::push_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // `json::Map` keeps its keys sorted (byte order), as the key needs.
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::json::push_string(out, k);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// 2^53: below it every integer is exact in an `f64`.
const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0;

fn write_number(n: &Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        if f.trunc() == f && f.abs() < EXACT_INT_LIMIT {
            // Integral and exact: `as` is lossless here; `-0.0` becomes `0`.
            out.push_str(&(f as i64).to_string());
        } else {
            // `serde_json` prints a finite float in its shortest round-trip form.
            out.push_str(&n.display());
        }
    }
}

// ---------------------------------------------------------------------------------
// Bounded bookkeeping
// ---------------------------------------------------------------------------------

/// Bounds of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Most entries held; the least recently used goes first. Default 256.
    pub max_entries: usize,
    /// Most bytes held: each entry counts its canonical key, its value and
    /// [`ENTRY_OVERHEAD_BYTES`]. A single entry larger than this is not stored.
    /// Default 8 MiB.
    pub max_bytes: usize,
    /// How long an entry is used after it was stored. Default 10 minutes.
    pub ttl_ms: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
            ttl_ms: DEFAULT_TTL_MS,
        }
    }
}

impl CacheOptions {
    /// Every bound must be at least 1 (kind `input`, naming the option).
    pub fn check(&self) -> Result<(), Error> {
        let bad = if self.max_entries == 0 {
            Some("cache.maxEntries")
        } else if self.max_bytes == 0 {
            Some("cache.maxBytes")
        } else if self.ttl_ms == 0 {
            Some("cache.ttlMs")
        } else {
            None
        };
        match bad {
            Some(name) => Err(Error::input(format!(
                "`{name}` must be at least 1; use `cache: false` to turn the cache off"
            ))),
            None => Ok(()),
        }
    }
}

/// What a look-up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Held and fresh: serve it (and the index counted it as used).
    Fresh,
    /// Held but past its TTL: the index forgot it; delete it from the store.
    Expired,
    /// Not held.
    Absent,
}

/// Whether an entry offered to the index is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "evicted entries must be deleted from the store"]
pub enum Admission {
    /// Store it, and delete these entries from the store first (expired ones and the
    /// least recently used, as many as the bounds need).
    Store { evict: Vec<CacheId> },
    /// Larger than `max_bytes` on its own: not stored (nothing was evicted).
    TooLarge,
    /// Already past its TTL (`stored_at_ms` too old): not stored.
    Stale,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    size: usize,
    expires_at: u64,
    /// Its place in the LRU order.
    tick: u64,
}

/// The bookkeeping of a bounded cache: which ids are held, their sizes, when they
/// expire and their LRU order. It decides; the store (the shell's, e.g. the Cache API,
/// or [`MemoryCache`]) holds the bytes and obeys.
///
/// Protocol: on a [`CachePlan::Use`], [`lookup`](Self::lookup): `Fresh` → read the
/// store (a store keyed by id compares the canonical key it kept; on a mismatch, a
/// hash collision, treat it as a miss); `Expired` → delete it from the store; `Absent`
/// → send the call. Then, if [`storable`], [`admit`](Self::admit) the answer and obey
/// the [`Admission`]. Time only moves forward: an earlier `now_ms` than one seen counts
/// as the latest.
#[derive(Debug, Clone, Default)]
pub struct CacheIndex {
    options: CacheOptions,
    slots: VecMap<CacheId, Slot>,
    /// tick → id, oldest first.
    order: VecMap<u64, CacheId>,
    bytes: usize,
    tick: u64,
    latest_ms: u64,
}

impl CacheIndex {
    /// An empty index with these bounds (bounds of 0 count as 1).
    pub fn new(options: CacheOptions) -> Self {
        CacheIndex {
            options: CacheOptions {
                max_entries: options.max_entries.max(1),
                max_bytes: options.max_bytes.max(1),
                ttl_ms: options.ttl_ms.max(1),
            },
            ..CacheIndex::default()
        }
    }

    pub fn options(&self) -> CacheOptions {
        self.options
    }

    /// Is `id` held and fresh at `now_ms`? A fresh entry becomes the most recently used.
    pub fn lookup(&mut self, id: CacheId, now_ms: u64) -> Lookup {
        let now = self.clock(now_ms);
        let Some(slot) = self.slots.get(&id).copied() else {
            return Lookup::Absent;
        };
        if now >= slot.expires_at {
            self.forget(id);
            return Lookup::Expired;
        }
        self.touch(id);
        Lookup::Fresh
    }

    /// Offer an entry of `size` bytes (key + value + [`ENTRY_OVERHEAD_BYTES`]; see
    /// [`entry_size`]) stored at `stored_at_ms` (usually `now_ms`; earlier when adopting
    /// an entry a persistent store kept). Replaces an entry with the same id.
    pub fn admit(&mut self, id: CacheId, size: usize, stored_at_ms: u64, now_ms: u64) -> Admission {
        let now = self.clock(now_ms);
        if size > self.options.max_bytes {
            return Admission::TooLarge;
        }
        let expires_at = stored_at_ms.saturating_add(self.options.ttl_ms);
        if now >= expires_at {
            return Admission::Stale;
        }
        self.forget(id);
        let mut evict = Vec::new();
        let over = |s: &CacheIndex| {
            s.slots.len() >= s.options.max_entries
                || s.bytes.saturating_add(size) > s.options.max_bytes
        };
        if over(self) {
            let expired: Vec<CacheId> = self
                .slots
                .iter()
                .filter(|(_, s)| now >= s.expires_at)
                .map(|(id, _)| *id)
                .collect();
            for old in expired {
                self.forget(old);
                evict.push(old);
            }
        }
        while over(self) {
            let Some((_, oldest)) = self.order.first().map(|(t, id)| (*t, *id)) else {
                break;
            };
            self.forget(oldest);
            evict.push(oldest);
        }
        self.tick += 1;
        self.slots.insert(
            id,
            Slot {
                size,
                expires_at,
                tick: self.tick,
            },
        );
        self.order.insert(self.tick, id);
        self.bytes = self.bytes.saturating_add(size);
        Admission::Store { evict }
    }

    /// Forget `id` (the store deleted it, or the caller invalidated it).
    pub fn remove(&mut self, id: CacheId) -> bool {
        self.forget(id)
    }

    /// Forget every expired entry; returns them, for the store to delete.
    pub fn purge_expired(&mut self, now_ms: u64) -> Vec<CacheId> {
        let now = self.clock(now_ms);
        let expired: Vec<CacheId> = self
            .slots
            .iter()
            .filter(|(_, s)| now >= s.expires_at)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.forget(*id);
        }
        expired
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Entries held (fresh or not yet noticed to be expired).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held, as counted by [`admit`](Self::admit).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn forget(&mut self, id: CacheId) -> bool {
        match self.slots.remove(&id) {
            Some(slot) => {
                self.order.remove(&slot.tick);
                self.bytes = self.bytes.saturating_sub(slot.size);
                true
            }
            None => false,
        }
    }

    fn touch(&mut self, id: CacheId) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(slot) = self.slots.get_mut(&id) {
            self.order.remove(&slot.tick);
            slot.tick = tick;
            self.order.insert(tick, id);
        }
    }

    fn clock(&mut self, now_ms: u64) -> u64 {
        self.latest_ms = self.latest_ms.max(now_ms);
        self.latest_ms
    }
}

/// The size an entry counts for: its canonical key, its value and
/// [`ENTRY_OVERHEAD_BYTES`].
pub fn entry_size(key: &CacheKey, value_bytes: usize) -> usize {
    key.canonical
        .len()
        .saturating_add(value_bytes)
        .saturating_add(ENTRY_OVERHEAD_BYTES)
}

// ---------------------------------------------------------------------------------
// The default store
// ---------------------------------------------------------------------------------

/// What [`MemoryCache::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Stored; `evicted` older entries made room.
    Stored { evicted: usize },
    /// Not stored: larger than `max_bytes` on its own. (`put` stores at `now_ms`, so
    /// an entry is never stale on arrival.)
    TooLarge,
}

/// An in-memory LRU + TTL cache of response texts, bounded by entries and bytes: a
/// [`CacheIndex`] and the values it admits. The shell's default store.
///
/// ```
/// use hf_inference_wasm::cache::{plan, CacheMode, CacheOptions, CachePlan, MemoryCache};
///
/// let mut cache = MemoryCache::new(CacheOptions::default());
/// let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}"#;
/// let CachePlan::Use(key) = plan(body, "https://router.huggingface.co/v1/chat/completions", CacheMode::Auto) else {
///     unreachable!()
/// };
/// assert!(cache.get(&key, 0).is_none());
/// let _ = cache.put(&key, r#"{"choices":[]}"#, 0);
/// assert_eq!(cache.get(&key, 1).as_deref(), Some(r#"{"choices":[]}"#));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryCache {
    index: CacheIndex,
    values: VecMap<CacheId, (String, Arc<str>)>,
}

impl MemoryCache {
    pub fn new(options: CacheOptions) -> Self {
        MemoryCache {
            index: CacheIndex::new(options),
            values: VecMap::new(),
        }
    }

    /// The value stored under `key`, if fresh (it becomes the most recently used). A
    /// different key with the same id (a hash collision) is a miss.
    pub fn get(&mut self, key: &CacheKey, now_ms: u64) -> Option<Arc<str>> {
        match self.index.lookup(key.id, now_ms) {
            Lookup::Fresh => match self.values.get(&key.id) {
                Some((canonical, value)) if *canonical == key.canonical => Some(Arc::clone(value)),
                _ => None,
            },
            Lookup::Expired => {
                self.values.remove(&key.id);
                None
            }
            Lookup::Absent => None,
        }
    }

    /// Store `value` under `key` (replacing what was there), evicting as the bounds
    /// need.
    pub fn put(&mut self, key: &CacheKey, value: &str, now_ms: u64) -> Put {
        match self
            .index
            .admit(key.id, entry_size(key, value.len()), now_ms, now_ms)
        {
            Admission::TooLarge | Admission::Stale => Put::TooLarge,
            Admission::Store { evict } => {
                for id in &evict {
                    self.values.remove(id);
                }
                self.values
                    .insert(key.id, (key.canonical.clone(), Arc::from(value)));
                Put::Stored {
                    evicted: evict.len(),
                }
            }
        }
    }

    /// Forget `key`.
    pub fn remove(&mut self, key: &CacheKey) -> bool {
        self.values.remove(&key.id);
        self.index.remove(key.id)
    }

    /// Drop every expired entry; returns how many.
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let gone = self.index.purge_expired(now_ms);
        for id in &gone {
            self.values.remove(id);
        }
        gone.len()
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.values.clear();
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Bytes held (keys, values and per-entry overhead).
    pub fn bytes(&self) -> usize {
        self.index.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_call_is_keyed_by_its_kind_its_stream_and_the_mode_it_is_given() {
        let det = r#"{"model":"m","messages":[],"temperature":0}"#;
        let sampled = r#"{"model":"m","messages":[]}"#;
        let url = "https://r/v1/chat/completions";
        let key = |chat, stream, streams, client, call, body| {
            call_key(chat, stream, streams, client, call, body, url)
        };
        assert!(key(true, false, false, CacheMode::Auto, None, det).is_some());
        // textGeneration answers are never cached.
        assert!(key(false, false, true, CacheMode::Force, None, det).is_none());
        // A stream only when the cache replays streams.
        assert!(key(true, true, false, CacheMode::Auto, None, det).is_none());
        assert!(key(true, true, true, CacheMode::Auto, None, det).is_some());
        // The call's mode over the client's, both ways.
        assert!(key(
            true,
            false,
            false,
            CacheMode::Auto,
            Some(CacheMode::Off),
            det
        )
        .is_none());
        assert!(key(
            true,
            false,
            false,
            CacheMode::Off,
            Some(CacheMode::Auto),
            det
        )
        .is_some());
        assert!(key(true, false, false, CacheMode::Auto, None, sampled).is_none());
        assert!(key(
            true,
            false,
            false,
            CacheMode::Auto,
            Some(CacheMode::Force),
            sampled
        )
        .is_some());
        let planned = match plan(det, url, CacheMode::Auto) {
            CachePlan::Use(k) => Some(k),
            CachePlan::Skip(_) => None,
        };
        assert!(planned.is_some());
        assert_eq!(key(true, false, false, CacheMode::Auto, None, det), planned);
    }

    #[test]
    fn a_store_entry_gives_its_answer_back_only_for_its_own_request() {
        let key = |model: &str| {
            let mut m = Map::new();
            m.insert("model".into(), Value::from(model));
            m.insert(
                "messages".into(),
                crate::json::parse(r#"[{"role": "user", "content": "a\nb"}]"#).unwrap(),
            );
            CacheKey::of_request(m, "https://r/v1/chat/completions")
        };
        let (a, b) = (key("m/a"), key("m/b"));
        let answer = r#"{"choices":[{"message":{"content":"two\nlines"}}]}"#;
        let entry = a.store_entry(answer);
        assert_eq!(a.stored_answer(&entry), Some(answer));
        // Another request's entry under a colliding id is a miss, not its answer.
        assert_eq!(b.stored_answer(&entry), None);
        // Not an entry this cache wrote: no line break, or only the answer.
        assert_eq!(a.stored_answer(answer), None);
        assert_eq!(a.stored_answer(""), None);
        assert_eq!(
            a.stored_answer(&format!("{}x\n{answer}", a.canonical)),
            None
        );
    }

    #[test]
    fn ids_print_as_sixteen_hex_digits() {
        assert_eq!(CacheId(0xab).hex(), "00000000000000ab");
        assert_eq!(CacheId(u64::MAX).hex(), "ffffffffffffffff");
        assert_eq!(CacheId(1).url("x/"), "x/0000000000000001");
    }
}
