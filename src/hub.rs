//! The Hub's inference provider mapping: which providers serve a model, and under
//! which id.
//!
//! Owns: the look-up URL and headers ([`mapping_request`]), reading the Hub's answer in
//! both shapes it has used ([`parse_mapping`]), and [`MappingCache`], the bounded,
//! time-limited cache that makes concurrent look-ups of the same model share one
//! request. Must never: do I/O or read a clock (the shell fetches and passes `now_ms`),
//! keep a token (the cache is keyed by a caller-supplied *identity*, such as a hash of
//! the token, never the token), send a provider's key to the Hub, fail on a provider
//! this version does not know, or panic on any body.
//!
//! The Hub answers `GET {hub}/api/models/{id}?expand[]=inferenceProviderMapping` with
//! `{"id": …, "inferenceProviderMapping": …}` where the mapping is either an object
//! keyed by provider (`{"together": {"status": "live", "providerId": "…", "task":
//! "conversational"}}`, as recorded in `tests/fixtures/router-recordings.json`) or,
//! from newer Hub versions, an array of `{"provider", "providerId", "status", "task",
//! "adapter"?, "adapterWeightsPath"?}`. Statuses: `live` is kept, `staging` is kept and
//! flagged (the official clients warn that it is for testing only), `error` is skipped.
//! Providers keep the Hub's order (the account's preference order).

use std::sync::Arc;

use crate::json::{invalid_type, read_value, ParseError, Value};
use crate::scan::{self, Kind, Reader};

use crate::error::{cut, Error, MAX_ERROR_BODY_BYTES};
use crate::providers::{provider_info, routing_error, split_model, split_url, Auth, ProviderInfo};

/// The Hub, the default `hubUrl`.
pub const DEFAULT_HUB_URL: &str = "https://huggingface.co";

/// The Hub's task name for chat completions.
pub const TASK_CHAT: &str = "conversational";
/// The Hub's task name for text generation (TGI's native API).
pub const TASK_TEXT_GENERATION: &str = "text-generation";

/// At most this many provider entries of one answer are read (the router has a few
/// dozen providers); the rest are ignored.
pub const MAX_MAPPING_ENTRIES: usize = 256;
/// Longest model id accepted for a look-up, in bytes.
const MAX_MODEL_ID_BYTES: usize = 256;
/// Strings read from an answer (ids, tasks, names) are cut to this many bytes.
const MAX_FIELD_BYTES: usize = 1024;

/// The URL and headers of a mapping look-up for `model` (its `:suffix`, if any, is
/// dropped). An HF token is sent (private and gated models need it); a provider's key
/// never is: the Hub does not take it, and it belongs to the provider.
pub fn mapping_request(
    hub_url: Option<&str>,
    model: &str,
    auth: &Auth,
) -> Result<(String, Vec<(String, String)>), Error> {
    let (base, _) = split_model(model.trim());
    check_model_id(base)?;
    let (path, query) = split_url(hub_url.unwrap_or(DEFAULT_HUB_URL), "hubUrl")?;
    let mut url = format!(
        "{}/api/models/{base}?expand[]=inferenceProviderMapping",
        path.trim_end_matches('/')
    );
    if let Some(q) = query.strip_prefix('?').filter(|q| !q.is_empty()) {
        url.push('&');
        url.push_str(q);
    }
    let token = match auth {
        Auth::HfToken(t) => Some(t.as_str()),
        Auth::None | Auth::ProviderKey(_) => None,
    };
    let mut headers = crate::providers::chat_headers(token, &[], false)?;
    // A GET has no body.
    headers.retain(|(n, _)| n != "content-type");
    Ok((url, headers))
}

/// The cache identity of a credential: `""` for none, else a 64-bit FNV-1a hash of it
/// in hex. Not a secret-keeping hash (nothing here needs one): it only keeps the token
/// itself out of the cache's keys, so two tokens never share a private model's mapping.
pub fn token_identity(auth: &Auth) -> String {
    let Some(secret) = auth.secret() else {
        return String::new();
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in secret.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A Hub model id: `name` or `namespace/name`, of ASCII letters, digits, `-`, `_`, `.`.
pub(crate) fn check_model_id(id: &str) -> Result<(), Error> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let segments: Vec<&str> = crate::error::split(id, b'/').collect();
    let ok = !id.is_empty()
        && id.len() <= MAX_MODEL_ID_BYTES
        && segments.len() <= 2
        && segments
            .iter()
            .all(|s| !s.is_empty() && *s != "." && *s != ".." && s.bytes().all(ok_char));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "`model` must be a Hub model id such as \"meta-llama/Llama-3.3-70B-Instruct\" to look up its providers, got {:?}",
            cut(id, 100)
        )))
    }
}

/// How far a provider's deployment of a model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingStatus {
    Live,
    /// Registered but not public: works, meant for testing (the shell warns).
    Staging,
}

/// One provider serving a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMapping {
    pub provider: &'static ProviderInfo,
    /// The model's id on the provider's own API (what a direct call sends as `model`).
    pub provider_id: String,
    pub status: MappingStatus,
    /// The Hub task (`"conversational"`, `"text-generation"`, `"text-to-image"`, …).
    pub task: String,
    /// LoRA adapter type and weights path, for adapter deployments.
    pub adapter: Option<String>,
    pub adapter_weights_path: Option<String>,
}

impl ProviderMapping {
    /// The warning the shell shows when it uses a staging deployment.
    pub fn staging_warning(&self, model: &str) -> Option<String> {
        (self.status == MappingStatus::Staging).then(|| {
            format!(
                "model {model} is in staging on provider \"{}\": meant for testing only",
                self.provider.name
            )
        })
    }
}

/// Why an entry of the Hub's answer was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A provider this version does not know (newer than this table).
    UnknownProvider,
    /// `status: "error"`: the deployment is broken.
    ErrorStatus,
    /// A status other than `live`, `staging`, `error`.
    UnknownStatus(String),
    /// No `providerId`, or not an object.
    Malformed,
    /// The provider was listed twice; the first entry is kept.
    Duplicate,
}

/// An entry of the Hub's answer that is not in [`Mapping::providers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The provider name as the Hub wrote it (cut to a bounded length).
    pub provider: String,
    pub reason: SkipReason,
}

/// Which providers serve a model, in the Hub's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// The Hub id, as the Hub spelled it (`""` if the answer had none).
    pub model: String,
    pub providers: Vec<ProviderMapping>,
    pub skipped: Vec<Skipped>,
}

impl Mapping {
    /// The entry for `provider`, whatever its task.
    pub fn get(&self, provider: &str) -> Option<&ProviderMapping> {
        self.providers.iter().find(|m| m.provider.name == provider)
    }

    /// The first provider (in the account's order) serving `task`.
    pub fn first_for_task(&self, task: &str) -> Option<&ProviderMapping> {
        self.providers.iter().find(|m| m.task == task)
    }

    /// The entry a direct call to `provider` for `task` uses, or a `routing` error that
    /// says which providers do serve the model.
    pub fn require(&self, provider: &str, task: &str) -> Result<&ProviderMapping, Error> {
        let model = if self.model.is_empty() {
            "this model"
        } else {
            self.model.as_str()
        };
        match self.get(provider) {
            Some(m) if m.task == task => Ok(m),
            Some(m) => Err(routing_error(format!(
                "provider \"{provider}\" serves {model} for the task \"{}\", not \"{task}\"",
                m.task
            ))),
            None => {
                let serving: Vec<&str> = self
                    .providers
                    .iter()
                    .filter(|m| m.task == task)
                    .map(|m| m.provider.name)
                    .collect();
                Err(routing_error(if serving.is_empty() {
                    format!("no provider serves {model} for \"{task}\" according to the Hub: check the model id, or use a dedicated `endpointUrl`")
                } else {
                    format!(
                        "provider \"{provider}\" does not serve {model}; it is served by {}: name one of those, or pass an HF token (hf_…) and let the router choose",
                        crate::error::join(serving.iter().copied(), ", ")
                    )
                }))
            }
        }
    }
}

/// The mapping value in whichever shape it came, object order kept (serde_json's `Map`
/// would sort the keys, losing the account's preference order).
enum RawMapping {
    Object(Vec<(String, Value)>),
    Array(Vec<Value>),
    Absent,
}

const MAPPING_EXPECTED: &str = "an object keyed by provider, or an array of provider entries";

/// The fields of the Hub's answer that a look-up reads, each `None` when absent.
struct ModelInfo {
    id: Option<Value>,
    mapping: Option<RawMapping>,
    error: Option<Value>,
}

/// Reads the Hub's answer in one pass over the text, the way a derived `Deserialize`
/// with `#[serde(default)]` fields read it: a repeated field is an error, unknown fields
/// are skipped (validated, not kept), a mapping of the wrong type is refused with
/// serde's words; the first error in the text is the error, with where it is.
fn read_info(body: &str) -> Result<ModelInfo, String> {
    let mut r = Reader::new(body);
    match read_fields(&mut r, body) {
        Ok(read) => read,
        Err(scan::Invalid) => Err(ParseError::new(body, r.pos()).message()),
    }
}

/// A refusal found in valid JSON, worded with where it is.
#[cold]
fn refusal(body: &str, at: usize, message: &str) -> Result<ModelInfo, String> {
    Err(ParseError::at_position(body, at, message))
}

type Scan<T> = Result<T, scan::Invalid>;

fn read_fields(r: &mut Reader<'_>, body: &str) -> Scan<Result<ModelInfo, String>> {
    let mut info = ModelInfo {
        id: None,
        mapping: None,
        error: None,
    };
    if r.enter(Kind::Object)?.is_none() {
        // `parse_mapping` only hands over text that starts with `{`.
        let at = r.pos();
        let v = read_value(r, body)?;
        return Ok(refusal(body, at, &invalid_type(&v, "struct ModelInfo")));
    }
    let mut first = true;
    let mut scratch = String::new();
    while let Some(key) = r.next_key(&mut first)? {
        // Where serde reported a repeated field: its key's closing quote.
        let at = key.end + 1;
        if key.is(body, "id", &mut scratch) {
            if info.id.is_some() {
                return Ok(refusal(body, at, "duplicate field `id`"));
            }
            info.id = Some(read_value(r, body)?);
        } else if key.is(body, "inferenceProviderMapping", &mut scratch) {
            if info.mapping.is_some() {
                return Ok(refusal(
                    body,
                    at,
                    "duplicate field `inferenceProviderMapping`",
                ));
            }
            match read_mapping(r, body)? {
                Ok(m) => info.mapping = Some(m),
                Err(found) => {
                    return Ok(refusal(
                        body,
                        r.pos(),
                        &invalid_type(&found, MAPPING_EXPECTED),
                    ))
                }
            }
        } else if key.is(body, "error", &mut scratch) {
            if info.error.is_some() {
                return Ok(refusal(body, at, "duplicate field `error`"));
            }
            info.error = Some(read_value(r, body)?);
        } else {
            r.value()?;
        }
    }
    r.end()?;
    Ok(Ok(info))
}

/// The mapping in whichever shape it came, at most [`MAX_MAPPING_ENTRIES`] entries kept
/// (the rest validated and dropped); `Err` with the value when it is neither.
fn read_mapping(r: &mut Reader<'_>, body: &str) -> Scan<Result<RawMapping, Value>> {
    let mut first = true;
    Ok(Ok(match r.peek()? {
        Kind::Object => {
            r.enter(Kind::Object)?;
            let mut out = Vec::new();
            while let Some(key) = r.next_key(&mut first)? {
                if out.len() < MAX_MAPPING_ENTRIES {
                    let mut name = String::new();
                    scan::decode_str(body, &key, &mut name);
                    out.push((name, read_value(r, body)?));
                } else {
                    r.value()?;
                }
            }
            RawMapping::Object(out)
        }
        Kind::Array => {
            r.enter(Kind::Array)?;
            let mut out = Vec::new();
            while r.next_item(&mut first)? {
                if out.len() < MAX_MAPPING_ENTRIES {
                    out.push(read_value(r, body)?);
                } else {
                    r.value()?;
                }
            }
            RawMapping::Array(out)
        }
        // `null`: no mapping (what `Option<RawMapping>` read as `None`).
        Kind::Null => {
            r.value()?;
            RawMapping::Absent
        }
        _ => return Ok(Err(read_value(r, body)?)),
    }))
}

/// The Hub's answer is a model card: a few KB, rarely more. A look-up reads no more.
pub const MAX_MAPPING_BYTES: usize = 1 << 20;

/// The Hub's answer to a look-up of `model`: its mapping, or the error.
pub fn read_lookup(
    model: &str,
    status: u16,
    body: &str,
    request_id: Option<String>,
) -> Result<Mapping, Error> {
    if !(200..300).contains(&status) {
        let body = cut(body, MAX_ERROR_BODY_BYTES);
        let mut e = Error::http(status, body).with_request_id(request_id);
        e.message = format!(
            "looking up which providers serve {} on the Hub failed: {}",
            cut(model, 100),
            e.message
        );
        return Err(e);
    }
    parse_mapping(body)
}

/// Read the Hub's answer to a mapping look-up.
///
/// A provider this version does not know, an `error` status or a malformed entry is
/// skipped (and listed in [`Mapping::skipped`]), never an error. A model with no
/// mapping at all gives an empty [`Mapping`]. Only a body that is not a JSON object
/// ([`crate::ErrorKind::Parse`]) or is an error report ([`crate::ErrorKind::Stream`],
/// with the Hub's message) fails.
pub fn parse_mapping(body: &str) -> Result<Mapping, Error> {
    if !body.trim_start().starts_with('{') {
        // serde would read `[]` as a struct written as a sequence.
        return Err(crate::types::parse_error(
            "the Hub's model info is not a JSON object".to_owned(),
            body,
        ));
    }
    let info = read_info(body).map_err(|e| {
        crate::types::parse_error(
            format!("the Hub's model info is not the JSON object expected: {e}"),
            body,
        )
    })?;
    let mapping = info.mapping.unwrap_or(RawMapping::Absent);
    if info.error.as_ref().is_some_and(|e| !e.is_null()) && matches!(mapping, RawMapping::Absent) {
        return Err(crate::error::body_payload_error(body));
    }
    let mut out = Mapping {
        model: info
            .id
            .as_ref()
            .and_then(Value::as_str)
            .map(|s| cut(s, MAX_FIELD_BYTES).to_owned())
            .unwrap_or_default(),
        ..Mapping::default()
    };
    match mapping {
        RawMapping::Object(entries) => {
            for (name, v) in entries {
                out.add(&name, &v);
            }
        }
        RawMapping::Array(items) => {
            for v in items {
                let name = v.get("provider").and_then(Value::as_str).unwrap_or("");
                out.add(name, &v);
            }
        }
        RawMapping::Absent => {}
    }
    Ok(out)
}

impl Mapping {
    fn add(&mut self, name: &str, v: &Value) {
        let skip = |out: &mut Mapping, reason| {
            out.skipped.push(Skipped {
                provider: cut(name, 64).to_owned(),
                reason,
            });
        };
        let Some(provider) = provider_info(name) else {
            return skip(self, SkipReason::UnknownProvider);
        };
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(|s| cut(s, MAX_FIELD_BYTES).to_owned())
        };
        let Some(provider_id) = text("providerId").filter(|s| !s.is_empty()) else {
            return skip(self, SkipReason::Malformed);
        };
        let status = match v.get("status").and_then(Value::as_str) {
            // An entry without a status predates statuses: it was live.
            None | Some("live") => MappingStatus::Live,
            Some("staging") => MappingStatus::Staging,
            Some("error") => return skip(self, SkipReason::ErrorStatus),
            Some(other) => return skip(self, SkipReason::UnknownStatus(cut(other, 64).to_owned())),
        };
        if self.get(provider.name).is_some() {
            return skip(self, SkipReason::Duplicate);
        }
        self.providers.push(ProviderMapping {
            provider,
            provider_id,
            status,
            task: text("task").unwrap_or_default(),
            adapter: text("adapter"),
            adapter_weights_path: text("adapterWeightsPath"),
        });
    }
}

// ---------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------

/// Bounds of a [`MappingCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a fetched mapping is used. Default 10 minutes.
    pub ttl_ms: u64,
    /// Most mappings kept; the least recently used goes first. Default 128.
    pub max_entries: usize,
    /// A look-up in flight longer than this is presumed lost: the next caller starts a
    /// new one instead of waiting. Default 60 s.
    pub in_flight_timeout_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl_ms: 10 * 60 * 1000,
            max_entries: 128,
            in_flight_timeout_ms: 60 * 1000,
        }
    }
}

/// What the shell does for a look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLookup {
    /// Use this mapping.
    Hit(Arc<Mapping>),
    /// Nothing usable: call [`MappingCache::begin`] and fetch.
    Miss,
    /// Another caller is fetching it: wait for that fetch's result.
    InFlight,
}

type Key = (String, String);

/// Proof that a fetch was started; hand it back to [`MappingCache::complete`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a started look-up must be completed, or its waiters hang until the in-flight timeout"]
pub struct Ticket {
    key: Key,
    id: u64,
}

#[derive(Debug)]
enum Slot {
    Ready {
        mapping: Arc<Mapping>,
        expires_at: u64,
        last_used: u64,
    },
    InFlight {
        id: u64,
        started_at: u64,
    },
}

/// Mappings by (model, token identity), with a TTL and an LRU bound; a look-up in
/// flight is shared by every caller asking for the same key meanwhile.
///
/// The protocol, for the shell: `get`; on [`CacheLookup::Miss`] call `begin`, fetch,
/// then `complete` with the parsed result and resolve every waiter with what it
/// returns; on [`CacheLookup::InFlight`] wait for that. Failures are not cached.
///
/// ```
/// use hf_inference_wasm::hub::{CacheConfig, CacheLookup, Mapping, MappingCache};
///
/// let mut cache = MappingCache::new(CacheConfig::default());
/// assert_eq!(cache.get("org/m", "id1", 0), CacheLookup::Miss);
/// let ticket = cache.begin("org/m", "id1", 0);
/// assert_eq!(cache.get("org/m", "id1", 5), CacheLookup::InFlight);
/// let shared = cache.complete(ticket, Ok(Mapping::default()), 10)?;
/// assert_eq!(cache.get("org/m", "id1", 20), CacheLookup::Hit(shared));
/// # Ok::<(), hf_inference_wasm::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MappingCache {
    config: CacheConfig,
    slots: Slots,
    next_id: u64,
    /// A use counter for LRU order (deterministic, unlike times).
    tick: u64,
}

/// The cache's slots by key. A `Vec` searched from end to end rather than a `HashMap`:
/// it holds at most `max_entries` mappings (128 by default) plus the look-ups in
/// flight, and a hash map of one more key/value type costs the wasm a few KB.
#[derive(Debug, Default)]
struct Slots(Vec<(Key, Slot)>);

impl Slots {
    fn position(&self, key: &Key) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    fn get(&self, key: &Key) -> Option<&Slot> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut Slot> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, s)| s)
    }

    fn insert(&mut self, key: Key, slot: Slot) {
        match self.get_mut(&key) {
            Some(s) => *s = slot,
            None => self.0.push((key, slot)),
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(i) = self.position(key) {
            self.0.swap_remove(i);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn key(model: &str, token_identity: &str) -> Key {
    (
        split_model(model.trim()).0.to_owned(),
        token_identity.to_owned(),
    )
}

impl MappingCache {
    pub fn new(config: CacheConfig) -> Self {
        MappingCache {
            config,
            ..MappingCache::default()
        }
    }

    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// What to do for `model` (its `:suffix` is ignored) as seen with `token_identity`
    /// (an opaque string, such as a hash of the token; `""` for anonymous).
    pub fn get(&mut self, model: &str, token_identity: &str, now_ms: u64) -> CacheLookup {
        let k = key(model, token_identity);
        self.tick += 1;
        let tick = self.tick;
        let timeout = self.config.in_flight_timeout_ms;
        match self.slots.get_mut(&k) {
            Some(Slot::Ready {
                mapping,
                expires_at,
                last_used,
            }) => {
                if now_ms < *expires_at {
                    *last_used = tick;
                    CacheLookup::Hit(Arc::clone(mapping))
                } else {
                    self.slots.remove(&k);
                    CacheLookup::Miss
                }
            }
            Some(Slot::InFlight { started_at, .. }) => {
                if now_ms.saturating_sub(*started_at) < timeout {
                    CacheLookup::InFlight
                } else {
                    CacheLookup::Miss
                }
            }
            None => CacheLookup::Miss,
        }
    }

    /// A fetch for the key starts now; later `get`s answer [`CacheLookup::InFlight`]
    /// until it completes (or times out).
    pub fn begin(&mut self, model: &str, token_identity: &str, now_ms: u64) -> Ticket {
        let k = key(model, token_identity);
        self.next_id += 1;
        let id = self.next_id;
        self.slots.insert(
            k.clone(),
            Slot::InFlight {
                id,
                started_at: now_ms,
            },
        );
        self.make_room(now_ms);
        Ticket { key: k, id }
    }

    /// The fetch of `ticket` ended with `result`. A mapping is stored (if the ticket is
    /// still the current fetch for its key) and returned shared, for every waiter; an
    /// error clears the in-flight mark so the next call tries again, and is returned.
    pub fn complete(
        &mut self,
        ticket: Ticket,
        result: Result<Mapping, Error>,
        now_ms: u64,
    ) -> Result<Arc<Mapping>, Error> {
        let current = matches!(
            self.slots.get(&ticket.key),
            Some(Slot::InFlight { id, .. }) if *id == ticket.id
        );
        match result {
            Ok(mapping) => {
                let mapping = Arc::new(mapping);
                if current {
                    self.tick += 1;
                    self.slots.insert(
                        ticket.key,
                        Slot::Ready {
                            mapping: Arc::clone(&mapping),
                            expires_at: now_ms.saturating_add(self.config.ttl_ms),
                            last_used: self.tick,
                        },
                    );
                    self.make_room(now_ms);
                }
                Ok(mapping)
            }
            Err(e) => {
                if current {
                    self.slots.remove(&ticket.key);
                }
                Err(e)
            }
        }
    }

    /// Forget one key (e.g. after a call failed because the mapping was stale).
    pub fn invalidate(&mut self, model: &str, token_identity: &str) {
        self.slots.remove(&key(model, token_identity));
    }

    /// How many keys are held (ready or in flight).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Drop expired entries and lost fetches, then the least recently used mappings,
    /// until at most `max_entries` mappings are held. Fetches in flight are never
    /// evicted (their waiters need the slot); they are bounded by the calls in progress.
    fn make_room(&mut self, now_ms: u64) {
        let ready = |slots: &Slots| {
            slots
                .0
                .iter()
                .filter(|(_, s)| matches!(s, Slot::Ready { .. }))
                .count()
        };
        if ready(&self.slots) <= self.config.max_entries
            && self.slots.len() <= self.config.max_entries
        {
            return;
        }
        let timeout = self.config.in_flight_timeout_ms;
        self.slots.0.retain(|(_, s)| match s {
            Slot::Ready { expires_at, .. } => now_ms < *expires_at,
            Slot::InFlight { started_at, .. } => now_ms.saturating_sub(*started_at) < timeout,
        });
        while ready(&self.slots) > self.config.max_entries {
            let oldest = self
                .slots
                .0
                .iter()
                .filter_map(|(k, s)| match s {
                    Slot::Ready { last_used, .. } => Some((*last_used, k)),
                    Slot::InFlight { .. } => None,
                })
                .min_by_key(|(t, _)| *t)
                .map(|(_, k)| k.clone());
            match oldest {
                Some(k) => {
                    self.slots.remove(&k);
                }
                None => break,
            }
        }
    }
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {

    #[test]
    fn a_look_up_answer_is_read_with_its_status() {
        let card = r#"{"id":"org/m","inferenceProviderMapping":{"together":{"status":"live","providerId":"t/m","task":"conversational"}}}"#;
        let m = read_lookup("org/m", 200, card, None).unwrap();
        assert_eq!(m, parse_mapping(card).unwrap());
        let e = read_lookup(
            "org/secret-model",
            401,
            r#"{"error":"Invalid credentials"}"#,
            Some("req-1".into()),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Http);
        assert_eq!(e.status, Some(401));
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        assert!(
            e.message.starts_with(
                "looking up which providers serve org/secret-model on the Hub failed: "
            ),
            "{}",
            e.message
        );
        // A 2xx body that is not a model card is a parse error, not a mapping.
        assert_eq!(
            read_lookup("org/m", 200, "<html>", None).unwrap_err().kind,
            ErrorKind::Parse
        );
        // An error body is kept only up to the bound every error body has.
        let long = "x".repeat(MAX_ERROR_BODY_BYTES * 2);
        let e = read_lookup("org/m", 500, &long, None).unwrap_err();
        assert!(e.body.unwrap().len() <= MAX_ERROR_BODY_BYTES);
    }

    #[test]
    fn a_token_identity_never_contains_the_token_and_tells_tokens_apart() {
        let a = token_identity(&Auth::from_token(Some("hf_secretAAAA")));
        let b = token_identity(&Auth::from_token(Some("hf_secretAAAB")));
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(!a.contains("secret"));
        assert_eq!(token_identity(&Auth::None), "");
        assert_eq!(a, token_identity(&Auth::from_token(Some("hf_secretAAAA"))));
    }
    use super::*;
    use crate::ErrorKind;

    const OBJECT: &str = r#"{"_id":"x","id":"meta-llama/Llama-3.3-70B-Instruct","inferenceProviderMapping":{"fireworks-ai":{"status":"live","providerId":"accounts/fireworks/models/llama-v3p3-70b-instruct","task":"conversational"},"nebius":{"status":"staging","providerId":"meta-llama/Llama-3.3-70B-Instruct-fast","task":"conversational"},"brand-new":{"status":"live","providerId":"x","task":"conversational"},"cerebras":{"status":"error","providerId":"llama-3.3-70b","task":"conversational"}}}"#;

    fn parsed(body: &str) -> Mapping {
        parse_mapping(body).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn object_shape_keeps_the_hubs_order() {
        let m = parsed(OBJECT);
        assert_eq!(m.model, "meta-llama/Llama-3.3-70B-Instruct");
        let names: Vec<&str> = m.providers.iter().map(|p| p.provider.name).collect();
        assert_eq!(names, ["fireworks-ai", "nebius"]);
        assert_eq!(
            m.get("fireworks-ai").map(|p| p.provider_id.as_str()),
            Some("accounts/fireworks/models/llama-v3p3-70b-instruct")
        );
    }

    #[test]
    fn unknown_providers_and_error_statuses_are_skipped_not_errors() {
        let m = parsed(OBJECT);
        assert_eq!(
            m.skipped,
            vec![
                Skipped {
                    provider: "brand-new".into(),
                    reason: SkipReason::UnknownProvider
                },
                Skipped {
                    provider: "cerebras".into(),
                    reason: SkipReason::ErrorStatus
                },
            ]
        );
    }

    #[test]
    fn staging_is_kept_with_a_warning() {
        let m = parsed(OBJECT);
        let nebius = m.get("nebius").expect("kept");
        assert_eq!(nebius.status, MappingStatus::Staging);
        let w = nebius.staging_warning(&m.model).unwrap_or_default();
        assert!(w.contains("staging") && w.contains("nebius"), "{w}");
        assert_eq!(
            m.get("fireworks-ai").and_then(|p| p.staging_warning("m")),
            None
        );
    }

    #[test]
    fn array_shape_is_read_too() {
        let m = parsed(
            r#"{"id":"org/m","inferenceProviderMapping":[{"provider":"groq","providerId":"llama-3.3-70b-versatile","status":"live","task":"conversational","adapter":"lora","adapterWeightsPath":"w.safetensors"},{"provider":"together","providerId":"t","status":"weird","task":"conversational"},{"providerId":"no-provider"},7]}"#,
        );
        let groq = m.get("groq").expect("groq");
        assert_eq!(groq.provider_id, "llama-3.3-70b-versatile");
        assert_eq!(groq.adapter.as_deref(), Some("lora"));
        assert_eq!(groq.adapter_weights_path.as_deref(), Some("w.safetensors"));
        assert_eq!(m.providers.len(), 1);
        assert_eq!(
            m.skipped[0].reason,
            SkipReason::UnknownStatus("weird".into())
        );
        assert_eq!(m.skipped.len(), 3);
    }

    #[test]
    fn no_mapping_is_an_empty_mapping() {
        assert!(parsed(r#"{"id":"org/m"}"#).providers.is_empty());
        assert!(parsed(r#"{"id":"org/m","inferenceProviderMapping":null}"#)
            .providers
            .is_empty());
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert_eq!(
            parse_mapping("nope").map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
        assert_eq!(
            parse_mapping("[]").map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
        assert_eq!(
            parse_mapping(r#"{"inferenceProviderMapping":"x"}"#).map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
        let e = parse_mapping(r#"{"error":"Repository not found"}"#).expect_err("error");
        assert!(e.message.contains("Repository not found"), "{}", e.message);
    }

    #[test]
    fn duplicates_keep_the_first() {
        let m = parsed(
            r#"{"inferenceProviderMapping":[{"provider":"groq","providerId":"a","task":"conversational"},{"provider":"groq","providerId":"b","task":"conversational"}]}"#,
        );
        assert_eq!(m.get("groq").map(|p| p.provider_id.as_str()), Some("a"));
        assert_eq!(m.skipped[0].reason, SkipReason::Duplicate);
    }

    #[test]
    fn require_names_the_providers_that_do_serve_the_model() {
        let m = parsed(OBJECT);
        assert!(m.require("fireworks-ai", TASK_CHAT).is_ok());
        let e = m.require("groq", TASK_CHAT).expect_err("not served");
        assert_eq!(e.code.as_deref(), Some("routing"));
        assert!(e.message.contains("fireworks-ai, nebius"), "{}", e.message);
        let e = m
            .require("nebius", "text-to-image")
            .expect_err("wrong task");
        assert!(e.message.contains("conversational"), "{}", e.message);
        assert_eq!(
            m.first_for_task(TASK_CHAT).map(|p| p.provider.name),
            Some("fireworks-ai")
        );
    }

    #[test]
    fn request_url_and_headers() {
        let hf = Auth::from_token(Some("hf_abc"));
        let (url, headers) = mapping_request(None, "meta-llama/Llama-3.3-70B-Instruct:groq", &hf)
            .unwrap_or_default();
        assert_eq!(
            url,
            "https://huggingface.co/api/models/meta-llama/Llama-3.3-70B-Instruct?expand[]=inferenceProviderMapping"
        );
        assert!(headers.contains(&("authorization".into(), "Bearer hf_abc".into())));
        assert!(!headers.iter().any(|(n, _)| n == "content-type"));
        let key = Auth::from_token(Some("gsk_provider_key"));
        let (url, headers) =
            mapping_request(Some("http://127.0.0.1:9/hub/?x=1"), "gpt2", &key).unwrap_or_default();
        assert_eq!(
            url,
            "http://127.0.0.1:9/hub/api/models/gpt2?expand[]=inferenceProviderMapping&x=1"
        );
        assert!(!headers.iter().any(|(n, _)| n == "authorization"));
    }

    #[test]
    fn request_refuses_ids_that_are_not_hub_ids() {
        for bad in ["", "a/b/c", "../x", "a b", "a?b", "org/", "a/..", "x#y"] {
            let e = mapping_request(None, bad, &Auth::None).expect_err(bad);
            assert_eq!(e.kind, ErrorKind::Input, "{bad}");
        }
    }

    fn m(id: &str) -> Mapping {
        Mapping {
            model: id.into(),
            ..Mapping::default()
        }
    }

    #[test]
    fn concurrent_lookups_share_one_fetch() {
        let mut c = MappingCache::new(CacheConfig::default());
        assert_eq!(c.get("org/m", "u", 0), CacheLookup::Miss);
        let t = c.begin("org/m", "u", 0);
        assert_eq!(c.get("org/m", "u", 1), CacheLookup::InFlight);
        assert_eq!(c.get("org/m:groq", "u", 1), CacheLookup::InFlight);
        // Another identity does not share it.
        assert_eq!(c.get("org/m", "other", 1), CacheLookup::Miss);
        let shared = c.complete(t, Ok(m("org/m")), 2).expect("ok");
        assert_eq!(c.get("org/m", "u", 3), CacheLookup::Hit(shared));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let mut c = MappingCache::new(CacheConfig {
            ttl_ms: 100,
            ..CacheConfig::default()
        });
        let t = c.begin("a", "", 0);
        let _ = c.complete(t, Ok(m("a")), 10);
        assert!(matches!(c.get("a", "", 109), CacheLookup::Hit(_)));
        assert_eq!(c.get("a", "", 110), CacheLookup::Miss);
        assert!(c.is_empty());
    }

    #[test]
    fn failures_are_not_cached() {
        let mut c = MappingCache::new(CacheConfig::default());
        let t = c.begin("a", "", 0);
        let e = c.complete(t, Err(Error::network("down")), 1);
        assert!(e.is_err());
        assert_eq!(c.get("a", "", 2), CacheLookup::Miss);
    }

    #[test]
    fn a_lost_fetch_stops_blocking_after_the_timeout() {
        let mut c = MappingCache::new(CacheConfig {
            in_flight_timeout_ms: 50,
            ..CacheConfig::default()
        });
        let old = c.begin("a", "", 0);
        assert_eq!(c.get("a", "", 49), CacheLookup::InFlight);
        assert_eq!(c.get("a", "", 50), CacheLookup::Miss);
        let new = c.begin("a", "", 50);
        // The old fetch finally answers: its result is handed back but not stored over
        // the newer fetch.
        assert!(c.complete(old, Ok(m("old")), 60).is_ok());
        assert_eq!(c.get("a", "", 61), CacheLookup::InFlight);
        let fresh = c.complete(new, Ok(m("new")), 70).expect("ok");
        assert_eq!(c.get("a", "", 71), CacheLookup::Hit(fresh));
    }

    #[test]
    fn the_least_recently_used_mapping_is_evicted() {
        let mut c = MappingCache::new(CacheConfig {
            max_entries: 2,
            ..CacheConfig::default()
        });
        for id in ["a", "b"] {
            let t = c.begin(id, "", 0);
            let _ = c.complete(t, Ok(m(id)), 0);
        }
        assert!(matches!(c.get("a", "", 1), CacheLookup::Hit(_)));
        let t = c.begin("c", "", 2);
        let _ = c.complete(t, Ok(m("c")), 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("b", "", 3), CacheLookup::Miss);
        assert!(matches!(c.get("a", "", 3), CacheLookup::Hit(_)));
        assert!(matches!(c.get("c", "", 3), CacheLookup::Hit(_)));
    }

    #[test]
    fn fetches_in_flight_are_never_evicted() {
        let mut c = MappingCache::new(CacheConfig {
            max_entries: 1,
            ..CacheConfig::default()
        });
        let ta = c.begin("a", "", 0);
        let tb = c.begin("b", "", 0);
        assert_eq!(c.get("a", "", 1), CacheLookup::InFlight);
        assert_eq!(c.get("b", "", 1), CacheLookup::InFlight);
        let _ = c.complete(ta, Ok(m("a")), 2);
        let _ = c.complete(tb, Ok(m("b")), 3);
        assert_eq!(c.len(), 1);
    }
}

/// `parse_mapping` against the derived reader it replaced: the same mapping or the
/// same error (message and position included), for any text.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod derive_parity {
    use super::*;
    use proptest::prelude::*;
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;
    use std::fmt;

    /// The reader as it was: derived, with serde's default refusals.
    enum DerivedMapping {
        Object(Vec<(String, Value)>),
        Array(Vec<Value>),
        Absent,
    }

    impl<'de> Deserialize<'de> for DerivedMapping {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = DerivedMapping;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object keyed by provider, or an array of provider entries")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, Value>()? {
                        if out.len() < MAX_MAPPING_ENTRIES {
                            out.push((k, v));
                        }
                    }
                    Ok(DerivedMapping::Object(out))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some(v) = seq.next_element::<Value>()? {
                        if out.len() < MAX_MAPPING_ENTRIES {
                            out.push(v);
                        }
                    }
                    Ok(DerivedMapping::Array(out))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(DerivedMapping::Absent)
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(DerivedMapping::Absent)
                }
            }
            d.deserialize_any(V)
        }
    }

    #[derive(Deserialize)]
    struct DerivedInfo {
        #[serde(default)]
        id: Option<Value>,
        #[serde(default, rename = "inferenceProviderMapping")]
        mapping: Option<DerivedMapping>,
        #[serde(default)]
        error: Option<Value>,
    }

    fn derived_parse_mapping(body: &str) -> Result<Mapping, Error> {
        if !body.trim_start().starts_with('{') {
            return Err(crate::types::parse_error(
                "the Hub's model info is not a JSON object".to_owned(),
                body,
            ));
        }
        let info: DerivedInfo = serde_json::from_str(body).map_err(|e| {
            crate::types::parse_error(
                format!("the Hub's model info is not the JSON object expected: {e}"),
                body,
            )
        })?;
        let mapping = info.mapping.unwrap_or(DerivedMapping::Absent);
        if matches!(&info.error, Some(v) if !v.is_null())
            && matches!(mapping, DerivedMapping::Absent)
        {
            return Err(crate::error::body_payload_error(body));
        }
        let mut out = Mapping {
            model: info
                .id
                .as_ref()
                .and_then(Value::as_str)
                .map(|s| cut(s, MAX_FIELD_BYTES).to_owned())
                .unwrap_or_default(),
            ..Mapping::default()
        };
        match mapping {
            DerivedMapping::Object(entries) => {
                for (name, v) in entries {
                    out.add(&name, &v);
                }
            }
            DerivedMapping::Array(items) => {
                for v in items {
                    let name = v.get("provider").and_then(Value::as_str).unwrap_or("");
                    out.add(name, &v);
                }
            }
            DerivedMapping::Absent => {}
        }
        Ok(out)
    }

    const KEYS: &[&str] = &[
        "id",
        "inferenceProviderMapping",
        "error",
        "provider",
        "providerId",
        "status",
        "task",
        "together",
        "groq",
        "live",
    ];

    /// An object's text with any keys (repeats included), cut short or padded.
    fn body() -> impl Strategy<Value = String> {
        let entry = (crate::json::arb::key(KEYS), crate::json::arb::value(KEYS));
        (
            proptest::collection::vec(entry, 0..5),
            0usize..4,
            any::<proptest::sample::Index>(),
        )
            .prop_map(|(entries, form, cut_at)| {
                let mut text = String::from("{");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(&serde_json::Value::String(k.clone()).to_string());
                    text.push_str(": ");
                    text.push_str(&v.to_string());
                }
                text.push('}');
                match form {
                    0 => {
                        let mut at = cut_at.index(text.len() + 1);
                        while !text.is_char_boundary(at) {
                            at -= 1;
                        }
                        text.truncate(at);
                        text
                    }
                    1 => format!(" \n{text} x"),
                    _ => text,
                }
            })
    }

    /// The same mapping or the same error; a syntax error is worded our own way (only
    /// its kind and prefix are compared), a refusal in valid JSON word for word, with the
    /// same position. Text that is not JSON is a syntax error for us, whatever serde met
    /// first on its way (a duplicate field before the text breaks off, say).
    fn same(body: &str) -> Result<(), TestCaseError> {
        let (ours, theirs) = (parse_mapping(body), derived_parse_mapping(body));
        let json = serde_json::from_str::<serde_json::Value>(body).is_ok();
        match (&ours, &theirs) {
            (Err(o), Err(t))
                if t.message.contains("not the JSON object expected")
                    && (!json
                        || (!t.message.contains("duplicate field")
                            && !t.message.contains("invalid type"))) =>
            {
                prop_assert_eq!(o.kind, t.kind, "{}", body);
                prop_assert!(
                    o.message == t.message
                        || o.message.starts_with(
                            "the Hub's model info is not the JSON object expected: unexpected "
                        ),
                    "{}: {}",
                    body,
                    o.message
                );
            }
            _ => prop_assert_eq!(ours, theirs, "{}", body),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn parse_mapping_matches_the_derived_reader(body in body()) {
            same(&body)?;
        }
    }

    #[test]
    fn parse_mapping_matches_on_refusals() {
        for body in [
            r#"{"id": "a", "id": "b"}"#,
            r#"{"inferenceProviderMapping": null, "inferenceProviderMapping": {}}"#,
            r#"{"error": 1, "error": 2}"#,
            r#"{"inferenceProviderMapping": "x"}"#,
            r#"{"inferenceProviderMapping": 1.5e300}"#,
            r#"{"inferenceProviderMapping": -3}"#,
            r#"{"inferenceProviderMapping": 7}"#,
            r#"{"inferenceProviderMapping": true}"#,
            r#"{"inferenceProviderMapping": nul}"#,
            r#"{"inferenceProviderMapping": {"groq": {"providerId": "g"}}, "error": "e"}"#,
            r#"{"error": "not found"}"#,
            r#"{"id": "m"} {"#,
            "\u{a0}{}",
        ] {
            assert!(same(body).is_ok(), "{body}");
        }
        assert!(parse_mapping(r#"{"inferenceProviderMapping": "x"}"#)
            .is_err_and(|e| e.message.contains("invalid type: string \"x\"")));
    }
}
