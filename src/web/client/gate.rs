//! What a call passes before its first attempt, as a synchronous machine that
//! `js/wire.js`'s `pass` drives: a cached answer (the memory cache, or the pluggable
//! store, awaited there), the budget, a rate-limit admission (the queue's wait is
//! there, bounded), then for a direct provider call the provider's model id (the Hub
//! look-up, shared by concurrent calls, sent and awaited there).
//!
//! Owns: the order of those steps and what each answer means for the call: a hit, an
//! error, or the request to send (`spec`, routed with the provider's id). Must never:
//! await, decide what is cached, what the budget allows or when a queued call may go
//! (`crate::cache`, `crate::meter`, `crate::ratelimit` do, through `metering`), or read
//! the Hub's answer itself (`crate::hub` does).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use web_sys::Response;

use super::call::{answer_from_cache, ended, Config, RequestSpec};
use super::hub::{warn, Fetching, Found};
use super::job;
use super::metering::{call_store, Admission, MAX_QUEUE_WAIT_MS};
use crate::error::Error;
use crate::hub::{read_lookup, Mapping, MAX_MAPPING_BYTES};
use crate::providers::{ProviderInfo, Target};
use crate::ratelimit::Ticket;
use crate::response::REQUEST_ID_HEADERS;
use crate::route::ChatInputs;
use crate::web::error::to_js;
use crate::web::transport::Call;

#[wasm_bindgen(module = "/js/wire.js")]
extern "C" {
    /// Pass the gate, then run the call: resolves to the answer, rejects with its error.
    #[wasm_bindgen(js_name = gateThenComplete)]
    fn gate_then_complete(gate: Gate) -> Promise;
}

/// `step()`'s answers.
const SEND: u32 = 0;
const HIT: u32 = 1;
const STORE: u32 = 2;
const QUEUE: u32 = 3;
const WAIT: u32 = 4;
const LOOKUP: u32 = 5;
const FAIL: u32 = 6;

/// A call's gate. Internal to `js/wire.js` and `js/pump.js`; not constructible from
/// JavaScript.
#[wasm_bindgen]
pub struct Gate {
    s: Rc<RefCell<State>>,
}

pub(super) struct State {
    cfg: Rc<Config>,
    /// The request; routed with the provider's model id once the look-up is done.
    pub spec: RequestSpec,
    pending: Option<(&'static ProviderInfo, ChatInputs)>,
    stage: Stage,
    /// A fresh cached answer: nothing is sent.
    pub hit: Option<String>,
    /// Why the call ends before it is sent.
    pub error: Option<Error>,
    /// What `js/wire.js` awaits at this step: the store's answer, the admission, a
    /// look-up another call makes.
    promise: Option<Promise>,
    ticket: Option<Ticket>,
    /// This call already waited for another call's look-up.
    waited: bool,
    fetching: Option<Fetching>,
    call: Option<Call>,
    status: u16,
    request_id: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Cache,
    Budget,
    Admit,
    Admitted,
    Resolve,
    Done,
}

impl Gate {
    pub(super) fn new(
        cfg: Rc<Config>,
        spec: RequestSpec,
        pending: Option<(&'static ProviderInfo, ChatInputs)>,
    ) -> Gate {
        Gate {
            s: Rc::new(RefCell::new(State {
                cfg,
                spec,
                pending,
                stage: Stage::Cache,
                hit: None,
                error: None,
                promise: None,
                ticket: None,
                waited: false,
                fetching: None,
                call: None,
                status: 0,
                request_id: None,
            })),
        }
    }

    /// Another handle on the same gate.
    pub(super) fn share(&self) -> Gate {
        Gate { s: self.s.clone() }
    }

    /// The gate's outcome once `pass` is over.
    pub(super) fn state(&self) -> std::cell::Ref<'_, State> {
        self.s.borrow()
    }

    /// Pass, then run the non-streamed call.
    pub(super) fn run(self) -> Promise {
        gate_then_complete(self)
    }
}

#[wasm_bindgen]
impl Gate {
    /// The next step: 0 send, 1 a cached answer (`answer()`), 2 await `promise` (the
    /// store's answer) then `stored()`, 3 await `promise` (admitted) for at most
    /// `waitMs` then `admitted()`, 4 await `promise` (another call's look-up), 5 the
    /// look-up (`wire`, `lookupResponse()`, `lookupBody()`), 6 the call ends before it
    /// is sent (`error()`).
    pub fn step(&self) -> u32 {
        let mut s = self.s.borrow_mut();
        if s.error.is_some() {
            return FAIL;
        }
        if s.hit.is_some() {
            return HIT;
        }
        loop {
            match s.stage {
                Stage::Cache => {
                    s.stage = Stage::Budget;
                    let Some(r) = s.spec.record.clone() else {
                        continue;
                    };
                    let Some(key) = &r.cache_key else { continue };
                    let m = r.metering();
                    if let Some(hit) = m.cache_memory(key) {
                        r.hit();
                        s.hit = Some(hit);
                        return HIT;
                    }
                    if let Some(store) = m.cache_store() {
                        let args = Array::of1(&key.id.hex().into());
                        s.promise = Some(call_store(store, "get", &args));
                        return STORE;
                    }
                }
                Stage::Budget | Stage::Admitted => {
                    s.stage = if s.stage == Stage::Budget {
                        Stage::Admit
                    } else {
                        Stage::Resolve
                    };
                    // Again after the queue: others may have spent the budget meanwhile.
                    let checked = match &s.spec.record {
                        Some(r) => r.metering().check_budget(),
                        None => Ok(()),
                    };
                    if let Err(e) = checked {
                        s.error = Some(e);
                        return FAIL;
                    }
                }
                Stage::Admit => {
                    s.stage = Stage::Admitted;
                    let Some(r) = s.spec.record.clone() else {
                        continue;
                    };
                    match r.metering().enqueue(r.est_tokens(), &r.url_key) {
                        Ok(Admission::Now(permit)) => r.hold(permit),
                        Ok(Admission::Queued(ticket, admitted)) => {
                            s.ticket = Some(ticket);
                            s.promise = Some(admitted);
                            return QUEUE;
                        }
                        Err(e) => {
                            s.error = Some(e);
                            return FAIL;
                        }
                    }
                }
                Stage::Resolve => {
                    let Some((_, inputs)) = &s.pending else {
                        s.stage = Stage::Done;
                        continue;
                    };
                    let cfg = s.cfg.clone();
                    let found = cfg.lookups.find(
                        &inputs.model,
                        &cfg.auth,
                        cfg.o.hub_url.as_deref(),
                        s.waited,
                    );
                    match found {
                        Ok(Found::Hit(mapping)) => {
                            if let Err(e) = s.route(&mapping) {
                                s.error = Some(e);
                                return FAIL;
                            }
                            s.stage = Stage::Done;
                        }
                        Ok(Found::InFlight(p)) => {
                            s.waited = true;
                            s.promise = Some(p);
                            return WAIT;
                        }
                        Ok(Found::Fetch(f)) => {
                            let spec = &s.spec;
                            let started = Call::start(
                                cfg.fetch.as_ref(),
                                &f.url,
                                &f.headers,
                                None,
                                spec.timeouts,
                                spec.signal.as_ref(),
                                false,
                            );
                            match started {
                                Ok(call) => s.call = Some(call),
                                Err(e) => {
                                    let _ = cfg.lookups.complete(f, Err(e.clone()));
                                    s.error = Some(e);
                                    return FAIL;
                                }
                            }
                            s.fetching = Some(f);
                            return LOOKUP;
                        }
                        Err(e) => {
                            s.error = Some(e);
                            return FAIL;
                        }
                    }
                }
                Stage::Done => return SEND,
            }
        }
    }

    /// What the current step awaits.
    #[wasm_bindgen(getter)]
    pub fn promise(&self) -> Option<Promise> {
        self.s.borrow_mut().promise.take()
    }

    /// The longest a call waits in the rate-limit queue.
    #[wasm_bindgen(getter, js_name = waitMs)]
    pub fn wait_ms(&self) -> f64 {
        MAX_QUEUE_WAIT_MS as f64
    }

    /// The longest the cache store's `get` is awaited (then it is a miss): the call's
    /// `headers` timeout, else 10 s.
    #[wasm_bindgen(getter, js_name = storeWaitMs)]
    pub fn store_wait_ms(&self) -> f64 {
        match self.s.borrow().spec.timeouts.headers_ms {
            0 => 10_000.0,
            ms => ms as f64,
        }
    }

    /// The caller's signal, for the queue's wait.
    #[wasm_bindgen(getter)]
    pub fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.s.borrow().spec.signal.clone()
    }

    /// The store's answer for the cache key (`undefined`: a miss, or the store failed).
    pub fn stored(&self, value: JsValue) {
        let mut s = self.s.borrow_mut();
        let Some(r) = s.spec.record.clone() else {
            return;
        };
        let Some(key) = &r.cache_key else { return };
        let Some(text) = value.as_string() else {
            return;
        };
        if let Some(answer) = key.stored_answer(&text) {
            r.hit();
            s.hit = Some(answer.to_owned());
        }
    }

    /// The queue's wait ended: admitted, or aborted, or out of time.
    pub fn admitted(&self) {
        let mut s = self.s.borrow_mut();
        let (Some(r), Some(ticket)) = (s.spec.record.clone(), s.ticket.take()) else {
            return;
        };
        let aborted = s.spec.aborted();
        match r.metering().dequeue(ticket, aborted) {
            Ok(permit) => r.hold(Some(permit)),
            Err(e) => s.error = Some(e),
        }
    }

    /// The look-up's request, to await its `fetch`.
    #[wasm_bindgen(getter)]
    pub fn wire(&self) -> JsValue {
        Call::wire_of(self.s.borrow().call.as_ref())
    }

    /// Body bytes of the look-up arrived: its idle timeout starts again.
    pub fn activity(&self) {
        if let Some(call) = &self.s.borrow().call {
            call.activity();
        }
    }

    /// The look-up's response came: how many bytes of its body to read, or -1 when it
    /// is not a response (the look-up failed).
    #[wasm_bindgen(js_name = lookupResponse)]
    pub fn lookup_response(&self, response: JsValue) -> f64 {
        let Ok(response) = response.dyn_into::<Response>() else {
            let e = Error::network("the `fetch` function did not return a Response");
            self.looked_up(Err(e));
            return -1.0;
        };
        let mut s = self.s.borrow_mut();
        if let Some(call) = &s.call {
            call.headers_came();
        }
        let headers = response.headers();
        s.request_id = REQUEST_ID_HEADERS
            .iter()
            .find_map(|h| headers.get(h).ok().flatten());
        s.status = response.status();
        MAX_MAPPING_BYTES as f64
    }

    /// The look-up's body, read whole.
    #[wasm_bindgen(js_name = lookupBody)]
    pub fn lookup_body(&self, bytes: &[u8]) {
        let read = {
            let mut s = self.s.borrow_mut();
            let model = match &s.pending {
                Some((_, inputs)) => inputs.model.clone(),
                None => String::new(),
            };
            let text = crate::sse::utf8_lossy(bytes);
            read_lookup(&model, s.status, &text, s.request_id.take())
        };
        self.looked_up(read);
    }

    /// The look-up's `fetch` (`headers`) or a read of its body rejected with `reason`.
    #[wasm_bindgen(js_name = lookupFailed)]
    pub fn lookup_failed(&self, reason: JsValue, headers: bool) {
        let e = Call::rejection_of(self.s.borrow().call.as_ref(), reason, headers).0;
        self.looked_up(Err(e));
    }

    /// A non-streamed call's cached answer, recorded as a hit.
    pub fn answer(&self) -> JsValue {
        let s = self.s.borrow();
        match (&s.spec.record, &s.hit) {
            (Some(r), Some(hit)) => answer_from_cache(r, hit, &s.spec),
            _ => JsValue::UNDEFINED,
        }
    }

    /// A non-streamed call's error when it ends before it is sent: recorded, the token
    /// taken out.
    pub fn error(&self) -> JsValue {
        let s = self.s.borrow();
        let e = s
            .error
            .clone()
            .unwrap_or_else(|| Error::network("the request was not sent"));
        if let Some(r) = &s.spec.record {
            r.end(ended(
                crate::meter::CallOutcome::of_error(&e),
                None,
                &s.spec.primary.url,
                0,
            ));
        }
        to_js(&s.cfg.redact(e), None, None)
    }

    /// A non-streamed call, gated and routed: its attempts' job.
    pub fn job(&self) -> job::Job {
        let s = self.s.borrow();
        job::Job::new(s.spec.clone(), s.cfg.token())
    }
}

impl Gate {
    /// The look-up ended: the mapping shared with calls that waited, and the route.
    fn looked_up(&self, result: Result<Mapping, Error>) {
        let mut s = self.s.borrow_mut();
        if let Some(call) = s.call.take() {
            call.end();
        }
        let Some(f) = s.fetching.take() else { return };
        let cfg = s.cfg.clone();
        match cfg.lookups.complete(f, result) {
            Ok(mapping) => {
                if let Err(e) = s.route(&mapping) {
                    s.error = Some(e);
                }
                s.stage = Stage::Done;
            }
            Err(e) => s.error = Some(e),
        }
    }
}

impl State {
    /// Route a direct provider call with the provider's model id.
    fn route(&mut self, mapping: &Mapping) -> Result<(), Error> {
        let Some((provider, inputs)) = &self.pending else {
            return Ok(());
        };
        let (route, warning) =
            inputs.route_mapped(&self.cfg.o, &self.cfg.auth, provider, mapping)?;
        if let Some(w) = warning {
            warn(&w);
        }
        self.spec.primary = Target::primary(&route.url, &route.body);
        self.spec.headers = route.headers;
        Ok(())
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // A gate left in the queue or mid-look-up gives its place back.
        if let (Some(r), Some(ticket)) = (&self.spec.record, self.ticket.take()) {
            if let Ok(permit) = r.metering().dequeue(ticket, true) {
                r.hold(Some(permit));
            }
        }
        if let Some(call) = self.call.take() {
            call.abort();
        }
        if let Some(f) = self.fetching.take() {
            let _ = self
                .cfg
                .lookups
                .complete(f, Err(Error::network("the look-up was abandoned")));
        }
    }
}
