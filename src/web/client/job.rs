//! One non-streamed call's attempts as a synchronous state machine that `js/wire.js`'s
//! `complete` drives: the loop, the awaits and the backoff sleep are JavaScript; each
//! step's decision is taken here, synchronously, by the core.
//!
//! Owns: the call's attempt plan (`crate::plan`), the current attempt's `Call` and what
//! its response said, the failure to act on, and the call's record when it ends. Must
//! never: await, decide a retry itself (`crate::plan` does), interpret a response or a
//! body (`crate::attempt` does), or build a URL or header (`crate::providers` did, into
//! the `RequestSpec`).

use js_sys::{Promise, JSON};
use wasm_bindgen::prelude::*;
use web_sys::Response;

use super::call::{announce, decide, ended, finish_record, set_route, Done, RequestSpec};
use crate::attempt::Answer;
use crate::error::{Error, ErrorKind};
use crate::meter::CallOutcome;
use crate::plan::{Next, Plan};
use crate::response::Disposition;
use crate::retry::ResponseHints;
use crate::web::error::{attach_attempts, to_js};
use crate::web::transport::{header_lines, Call};

#[wasm_bindgen(module = "/js/wire.js")]
extern "C" {
    /// Drive a job to its end: resolves to the answer, rejects with the call's error.
    fn complete(job: Job) -> Promise;
}

/// What `failed()` answers besides a sleep of that many milliseconds.
const GO_NOW: f64 = -1.0;
const GIVE_UP: f64 = -2.0;

/// One non-streamed call. Internal to `js/wire.js`; not constructible from JavaScript.
#[wasm_bindgen]
pub struct Job {
    spec: RequestSpec,
    /// The token, to take out of every error.
    token: Option<String>,
    plan: Plan,
    /// The current attempt.
    call: Option<Call>,
    /// The current attempt's response, once its headers came.
    answer: Option<Answer>,
    /// The failed attempt to act on, with the JS value that caused it.
    failure: Option<(Error, Option<JsValue>, ResponseHints)>,
    /// The error the call ends with, once it gave up.
    error: JsValue,
    /// The answer, until `answer` takes it.
    value: JsValue,
}

/// A prepared non-streamed call (gated and resolved): a promise of its answer.
pub(super) fn run(spec: RequestSpec, token: Option<String>) -> Promise {
    complete(Job::new(spec, token))
}

impl Job {
    pub(super) fn new(spec: RequestSpec, token: Option<String>) -> Job {
        let plan = Plan::new(spec.retry, spec.target_count(), js_sys::Date::now());
        Job {
            spec,
            token,
            plan,
            call: None,
            answer: None,
            failure: None,
            error: JsValue::UNDEFINED,
            value: JsValue::UNDEFINED,
        }
    }
}

#[wasm_bindgen]
impl Job {
    /// Send the next attempt: true when it went (await `wire`'s `fetch`), false when it
    /// could not be sent (then call `failed()`). Booleans, not values, from calls that
    /// run JavaScript (the caller's `fetch`): see `StreamCore::step`.
    pub fn send(&mut self) -> bool {
        self.end_call();
        if self.spec.aborted() {
            return self.fail(Error::aborted(), None, ResponseHints::default());
        }
        match self.spec.start(self.plan.current()) {
            Ok(call) => {
                self.call = Some(call);
                true
            }
            Err(e) => self.fail(e, None, ResponseHints::default()),
        }
    }

    /// The attempt's request, after `send()`.
    #[wasm_bindgen(getter)]
    pub fn wire(&self) -> JsValue {
        Call::wire_of(self.call.as_ref())
    }

    /// The answer, after `body()` said true.
    #[wasm_bindgen(getter)]
    pub fn answer(&mut self) -> JsValue {
        std::mem::replace(&mut self.value, JsValue::UNDEFINED)
    }

    /// The attempt's `fetch` or a read of its body rejected with `reason` (`headers`:
    /// before the response came). Call `failed()` next.
    pub fn rejected(&mut self, reason: JsValue, headers: bool) {
        let (e, cause) = Call::rejection_of(self.call.as_ref(), reason, headers);
        // An error body that could not be read still says when to retry.
        let (e, hints) = match &self.answer {
            Some(a) => (a.unreadable(e), a.hints),
            None => (e, ResponseHints::default()),
        };
        self.fail(e, cause, hints);
    }

    /// The response came: how many bytes of its body to read (then `body()`), or -1
    /// when it is not a response at all (then `failed()`).
    pub fn response(&mut self, response: JsValue) -> f64 {
        let Ok(response) = response.dyn_into::<Response>() else {
            let e = Error::network("the `fetch` function did not return a Response");
            self.fail(e, None, ResponseHints::default());
            return -1.0;
        };
        if let Some(call) = &self.call {
            call.headers_came();
        }
        if let Some(r) = &self.spec.record {
            r.headers();
        }
        let lines = header_lines(&response.headers());
        let answer = Answer::read(response.status(), &lines, false, js_sys::Date::now());
        let limit = answer.body_limit();
        self.answer = Some(answer);
        limit as f64
    }

    /// Body bytes arrived: the idle timeout starts again.
    pub fn activity(&self) {
        if let Some(call) = &self.call {
            call.activity();
        }
    }

    /// The body read whole (cut at the bound `response()` gave): true when it is the
    /// answer (`answer`), false when the attempt failed (then `failed()`).
    pub fn body(&mut self, bytes: &[u8]) -> bool {
        if let Some(call) = &self.call {
            call.end();
        }
        let Some(answer) = self.answer.take() else {
            return self.fail(
                Error::network("no response"),
                None,
                ResponseHints::default(),
            );
        };
        let text = crate::sse::utf8_lossy(bytes);
        let completion = answer.completion(self.spec.protocol, &text);
        if answer.disposition != Disposition::Error {
            if let Some(r) = &self.spec.record {
                r.first_token();
            }
        }
        let (text, parsed) = match completion {
            Ok(read) => read,
            Err(e) => return self.fail(e, None, answer.hints),
        };
        let Ok(value) = JSON::parse(&text) else {
            let e = answer.tag(Error::new(
                ErrorKind::Parse,
                "the completion is not valid JSON for JavaScript",
            ));
            return self.fail(e, None, ResponseHints::default());
        };
        let t = self.plan.current();
        self.spec.record(t, Ok(()));
        set_route(&value, &self.spec, t);
        let done = Done {
            value,
            text,
            parsed,
            provider: answer.provider,
            request_id: answer.request_id,
            url: self.spec.target(t).url.clone(),
        };
        let attempts = self.plan.attempts().len() as u32 + 1;
        let value = done.value.clone();
        if let Some(r) = &self.spec.record {
            finish_record(r, done, attempts);
        }
        self.value = value;
        true
    }

    /// The attempt failed: what the core's plan says follows. A sleep of that many
    /// milliseconds before `send()`; -1: `send()` now (a fallback); -2: stop and
    /// reject with `error()`.
    pub fn failed(&mut self) -> f64 {
        let Some((e, cause, hints)) = self.failure.take() else {
            return self.give_up(Error::network("the request failed"), None);
        };
        self.end_call();
        if e.kind == ErrorKind::Aborted {
            return self.give_up(e, cause);
        }
        let from = self.plan.current();
        let next = decide(&self.spec, &mut self.plan, &e, &hints, false);
        if let Err(thrown) = announce(&self.spec, next, from, self.plan.retries(), &e) {
            return self.give_up(e, Some(thrown));
        }
        match next {
            Next::GiveUp => {
                let e = self.plan.final_error(e);
                self.give_up(e, cause)
            }
            Next::Fallback { .. } => GO_NOW,
            Next::Retry { after_ms } => after_ms as f64,
        }
    }

    /// The caller's signal, for the backoff sleep.
    #[wasm_bindgen(getter)]
    pub fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.spec.signal.clone()
    }

    /// The error the call ends with, after `failed()` said to stop.
    pub fn error(&self) -> JsValue {
        self.error.clone()
    }
}

impl Job {
    fn fail(&mut self, e: Error, cause: Option<JsValue>, hints: ResponseHints) -> bool {
        self.failure = Some((e, cause, hints));
        false
    }

    fn end_call(&mut self) {
        if let Some(call) = self.call.take() {
            call.end();
        }
        self.answer = None;
    }

    /// End the call with `e`: its record, then the error handed out (token taken out,
    /// every attempt listed).
    fn give_up(&mut self, e: Error, cause: Option<JsValue>) -> f64 {
        let attempts = self.plan.attempts();
        if let Some(r) = &self.spec.record {
            let usage = r.prompt_estimate.and_then(|p| {
                crate::usage::resolve_usage(
                    None,
                    Some(crate::usage::UsageEstimate {
                        prompt_tokens: p,
                        completion_tokens: 0,
                    }),
                )
            });
            r.end(ended(
                CallOutcome::of_error(&e),
                usage,
                &self.spec.target(self.plan.current()).url,
                (attempts.len() as u32).max(1),
            ));
        }
        let e = match &self.token {
            Some(t) => e.redact(t),
            None => e,
        };
        let js = to_js(&e, None, cause.as_ref());
        attach_attempts(&js, &attempts);
        self.error = js;
        GIVE_UP
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.end_call();
    }
}
