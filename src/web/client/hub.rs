//! Fetching the Hub's inference-provider mapping for direct provider calls.
//!
//! Owns: the client's [`MappingCache`] and the promises of look-ups in flight, so that
//! concurrent calls for the same model share one request. Must never: decide what the
//! Hub's answer means (`crate::hub` does), send a provider's key to the Hub (the core's
//! `mapping_request` leaves it out), or wait without a bound (the call's timeouts and
//! signal apply to the look-up, and a waiter waits at most for one look-up).

use std::cell::RefCell;
use std::sync::Arc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{Error, MAX_ERROR_BODY_BYTES};
use crate::hub::{
    mapping_request, parse_mapping, token_identity, CacheConfig, CacheLookup, Mapping, MappingCache,
};
use crate::providers::Auth;
use crate::timeouts::Timeouts;
use crate::web::sys;
use crate::web::transport;

/// The Hub's answer is a model card: a few KB, rarely more.
const MAX_MAPPING_BYTES: usize = 1 << 20;

/// A client's mappings.
pub(crate) struct Lookups {
    cache: RefCell<MappingCache>,
    /// By key, at most one each. A `Vec`, not a `HashMap`: only a few look-ups are ever
    /// in flight, and this was the wasm's last hash map (hashbrown and SipHash, ~5 KB).
    in_flight: RefCell<Vec<((String, String), Promise)>>,
}

/// What one look-up needs.
pub(crate) struct LookupRequest<'a> {
    pub fetch: Option<&'a Function>,
    pub hub_url: Option<&'a str>,
    pub auth: &'a Auth,
    pub model: &'a str,
    pub timeouts: Timeouts,
    pub signal: Option<&'a AbortSignal>,
}

impl Lookups {
    pub(crate) fn new(config: CacheConfig) -> Lookups {
        Lookups {
            cache: RefCell::new(MappingCache::new(config)),
            in_flight: RefCell::new(Vec::new()),
        }
    }

    /// The mapping of `req.model`: from the cache, from a look-up another call started,
    /// or fetched now. A failed look-up is not cached; a caller that waited on one that
    /// failed tries once itself.
    pub(crate) async fn get(&self, req: LookupRequest<'_>) -> Result<Arc<Mapping>, Error> {
        let identity = token_identity(req.auth);
        let key = (
            crate::providers::split_model(req.model.trim()).0.to_owned(),
            identity.clone(),
        );
        let mut waited = false;
        loop {
            let now = js_sys::Date::now() as u64;
            let lookup = self.cache.borrow_mut().get(req.model, &identity, now);
            match lookup {
                CacheLookup::Hit(m) => return Ok(m),
                CacheLookup::InFlight if !waited => {
                    let pending = self
                        .in_flight
                        .borrow()
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, p)| p.clone());
                    waited = true;
                    if let Some(p) = pending {
                        let _ = JsFuture::from(p).await;
                        continue;
                    }
                }
                _ => {}
            }
            return self.fetch(&req, &identity, key).await;
        }
    }

    async fn fetch(
        &self,
        req: &LookupRequest<'_>,
        identity: &str,
        key: (String, String),
    ) -> Result<Arc<Mapping>, Error> {
        let (url, headers) = mapping_request(req.hub_url, req.model, req.auth)?;
        let ticket = self
            .cache
            .borrow_mut()
            .begin(req.model, identity, js_sys::Date::now() as u64);
        // Waiters await this promise; it settles when our look-up does.
        let mut slot = None;
        let done = Promise::new(&mut |resolve, _| slot = Some(resolve));
        {
            let mut in_flight = self.in_flight.borrow_mut();
            in_flight.retain(|(k, _)| *k != key);
            in_flight.push((key.clone(), done));
        }
        let result = fetch_mapping(req, &url, &headers).await;
        let shared = self
            .cache
            .borrow_mut()
            .complete(ticket, result, js_sys::Date::now() as u64);
        self.in_flight.borrow_mut().retain(|(k, _)| *k != key);
        if let Some(resolve) = slot {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
        shared
    }
}

async fn fetch_mapping(
    req: &LookupRequest<'_>,
    url: &str,
    headers: &[(String, String)],
) -> Result<Mapping, Error> {
    let got = transport::get_text(
        req.fetch,
        url,
        headers,
        req.timeouts,
        req.signal,
        MAX_MAPPING_BYTES,
    )
    .await
    .map_err(|(e, _)| e)?;
    if !(200..300).contains(&got.status) {
        let body = crate::error::cut(&got.body, MAX_ERROR_BODY_BYTES);
        let mut e = Error::http(got.status, body).with_request_id(got.request_id);
        e.message = format!(
            "looking up which providers serve {} on the Hub failed: {}",
            crate::error::cut(req.model, 100),
            e.message
        );
        return Err(e);
    }
    let mapping = parse_mapping(&got.body)?;
    Ok(mapping)
}

/// `console.warn` a staging deployment once per look-up.
pub(crate) fn warn(message: &str) {
    sys::console_warn(message);
}
