//! The Hub's inference-provider mapping for direct provider calls.
//!
//! Owns: the client's [`MappingCache`] and the promises of look-ups in flight, so that
//! concurrent calls for the same model share one request (the look-up itself is sent
//! and awaited by the call's gate, `gate.rs` and `js/wire.js`). Must never: await,
//! decide what the Hub's answer means (`crate::hub` does), send a provider's key to the
//! Hub (the core's `mapping_request` leaves it out), or let a waiter wait for more than
//! one look-up.

use std::cell::RefCell;
use std::sync::Arc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use crate::error::Error;
use crate::hub::{
    mapping_request, token_identity, CacheConfig, CacheLookup, Mapping, MappingCache, Ticket,
};
use crate::providers::Auth;
use crate::web::sys;

/// A client's mappings.
pub(crate) struct Lookups {
    cache: RefCell<MappingCache>,
    /// By key, at most one each. A `Vec`, not a `HashMap`: only a few look-ups are ever
    /// in flight, and this was the wasm's last hash map (hashbrown and SipHash, ~5 KB).
    in_flight: RefCell<Vec<((String, String), Promise)>>,
}

/// Where a model's mapping comes from.
pub(crate) enum Found {
    Hit(Arc<Mapping>),
    /// Another call is looking it up: wait for this promise, then ask again.
    InFlight(Promise),
    /// Look it up: GET `url` with `headers`, then [`Lookups::complete`].
    Fetch(Fetching),
}

/// A look-up this call makes.
pub(crate) struct Fetching {
    pub url: String,
    pub headers: Vec<(String, String)>,
    ticket: Ticket,
    key: (String, String),
    /// Settles the promise other calls wait on.
    resolve: Option<Function>,
}

impl Lookups {
    pub(crate) fn new(config: CacheConfig) -> Lookups {
        Lookups {
            cache: RefCell::new(MappingCache::new(config)),
            in_flight: RefCell::new(Vec::new()),
        }
    }

    /// The mapping of `model`: from the cache, from a look-up another call started (once:
    /// `waited` after the wait, and a caller that waited on one that failed tries once
    /// itself), or to fetch now.
    pub(crate) fn find(
        &self,
        model: &str,
        auth: &Auth,
        hub_url: Option<&str>,
        waited: bool,
    ) -> Result<Found, Error> {
        let identity = token_identity(auth);
        let key = (
            crate::providers::split_model(model.trim()).0.to_owned(),
            identity.clone(),
        );
        let now = js_sys::Date::now() as u64;
        let lookup = self.cache.borrow_mut().get(model, &identity, now);
        match lookup {
            CacheLookup::Hit(m) => return Ok(Found::Hit(m)),
            CacheLookup::InFlight if !waited => {
                let pending = self
                    .in_flight
                    .borrow()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, p)| p.clone());
                if let Some(p) = pending {
                    return Ok(Found::InFlight(p));
                }
            }
            _ => {}
        }
        let (url, headers) = mapping_request(hub_url, model, auth)?;
        let ticket = self.cache.borrow_mut().begin(model, &identity, now);
        // Waiters await this promise; it settles when our look-up does.
        let mut resolve = None;
        let done = Promise::new(&mut |r, _| resolve = Some(r));
        {
            let mut in_flight = self.in_flight.borrow_mut();
            in_flight.retain(|(k, _)| *k != key);
            in_flight.push((key.clone(), done));
        }
        Ok(Found::Fetch(Fetching {
            url,
            headers,
            ticket,
            key,
            resolve,
        }))
    }

    /// A look-up ended with `result` (a failure is not cached): the mapping to use.
    pub(crate) fn complete(
        &self,
        f: Fetching,
        result: Result<Mapping, Error>,
    ) -> Result<Arc<Mapping>, Error> {
        let shared = self
            .cache
            .borrow_mut()
            .complete(f.ticket, result, js_sys::Date::now() as u64);
        self.in_flight.borrow_mut().retain(|(k, _)| *k != f.key);
        if let Some(resolve) = f.resolve {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
        shared
    }
}

/// `console.warn` a staging deployment once per look-up.
pub(crate) fn warn(message: &str) {
    sys::console_warn(message);
}
