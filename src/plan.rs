//! The attempt plan of one call: retries on a target, then the fallback targets.
//!
//! Owns: which target an attempt goes to and what follows a failed attempt: sleep and
//! retry the same target, move to the next target, or give up with the error to surface
//! and every attempt made. The per-target retry rules are `crate::retry`'s; this module
//! only chains them across targets. Must never: read a clock, draw a random number,
//! sleep, or touch JS; and never move on once anything reached the caller (the retry
//! rules already give up then, and [`crate::retry::next_target`] refuses).

use crate::error::Error;
use crate::retry::{
    next_target, Attempt, Decision, GiveUpReason, ResponseHints, RetryOptions, RetryState,
};

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the shell must sleep and re-send, switch targets, or surface the error"]
pub enum Next {
    /// Sleep `after_ms`, then send to the same target again.
    Retry { after_ms: u64 },
    /// Send to target `to` now (its retries start afresh).
    Fallback { to: usize },
    /// Stop: surface [`Plan::final_error`].
    GiveUp,
}

/// The attempts of one call over `targets` targets (the primary is target 0).
#[derive(Debug, Clone)]
pub struct Plan {
    options: RetryOptions,
    targets: usize,
    current: usize,
    retry: RetryState,
    /// Attempts on the targets before the current one.
    earlier: Vec<Attempt>,
    reason: GiveUpReason,
}

impl Plan {
    /// A call with `targets` targets (at least one) starting now.
    pub fn new(options: RetryOptions, targets: usize, now_ms: f64) -> Self {
        Plan {
            options,
            targets: targets.max(1),
            current: 0,
            retry: RetryState::new(options, now_ms),
            earlier: Vec::new(),
            reason: GiveUpReason::NotRetryable,
        }
    }

    /// The target the next attempt goes to.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Retries made on the current target.
    pub fn retries(&self) -> u32 {
        self.retry.retries()
    }

    /// An attempt failed; `delivered` says whether anything reached the caller.
    pub fn on_failure(
        &mut self,
        error: &Error,
        hints: &ResponseHints,
        delivered: bool,
        now_ms: f64,
        rand01: f64,
    ) -> Next {
        match self
            .retry
            .on_failure(error, hints, delivered, now_ms, rand01)
        {
            Decision::Retry { after_ms } => Next::Retry { after_ms },
            Decision::GiveUp { reason } => {
                self.reason = reason;
                if self.current + 1 < self.targets && next_target(error, &reason, delivered) {
                    self.earlier.extend_from_slice(self.retry.attempts());
                    self.current += 1;
                    self.retry = RetryState::new(self.options, now_ms);
                    Next::Fallback { to: self.current }
                } else {
                    Next::GiveUp
                }
            }
        }
    }

    /// Every failed attempt, on every target, in order.
    pub fn attempts(&self) -> Vec<Attempt> {
        let mut all = self.earlier.clone();
        all.extend_from_slice(self.retry.attempts());
        all
    }

    /// The error to surface after [`Next::GiveUp`]: the last attempt's error, with the
    /// retry summary of the last target and, when earlier targets were tried, how many.
    pub fn final_error(&self, last: Error) -> Error {
        let mut e = self.retry.final_error(last, &self.reason);
        if self.current > 0 {
            e.message = format!(
                "{} (every target failed: {} tried)",
                e.message,
                self.current + 1
            );
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn opts(max_retries: u32) -> RetryOptions {
        RetryOptions {
            max_retries,
            base_delay_ms: 10,
            jitter: 0.0,
            ..RetryOptions::default()
        }
    }

    fn no_hints() -> ResponseHints {
        ResponseHints::default()
    }

    #[test]
    fn retries_the_target_then_falls_back_then_gives_up() {
        let mut p = Plan::new(opts(1), 2, 0.0);
        let e = Error::http(503, "");
        assert_eq!(
            p.on_failure(&e, &no_hints(), false, 0.0, 0.0),
            Next::Retry { after_ms: 10 }
        );
        assert_eq!(
            p.on_failure(&e, &no_hints(), false, 20.0, 0.0),
            Next::Fallback { to: 1 }
        );
        assert_eq!(p.current(), 1);
        assert_eq!(p.retries(), 0, "the new target's retries start afresh");
        assert_eq!(
            p.on_failure(&e, &no_hints(), false, 30.0, 0.0),
            Next::Retry { after_ms: 10 }
        );
        assert_eq!(
            p.on_failure(&e, &no_hints(), false, 50.0, 0.0),
            Next::GiveUp
        );
        assert_eq!(p.attempts().len(), 4);
        let f = p.final_error(e);
        assert!(f.message.contains("2 tried"), "{}", f.message);
    }

    #[test]
    fn nothing_moves_on_after_a_delivery() {
        let mut p = Plan::new(opts(2), 3, 0.0);
        let e = Error::network("reset");
        assert_eq!(p.on_failure(&e, &no_hints(), true, 0.0, 0.0), Next::GiveUp);
        assert_eq!(p.current(), 0);
    }

    #[test]
    fn a_client_error_gives_up_without_falling_back() {
        let mut p = Plan::new(opts(2), 2, 0.0);
        let e = Error::http(401, "");
        assert_eq!(p.on_failure(&e, &no_hints(), false, 0.0, 0.0), Next::GiveUp);
    }

    #[test]
    fn an_open_circuit_falls_back_at_once() {
        let mut p = Plan::new(opts(2), 2, 0.0);
        let e = crate::retry::circuit_open_error("a", 1000);
        assert_eq!(e.kind, ErrorKind::CircuitOpen);
        assert_eq!(
            p.on_failure(&e, &no_hints(), false, 0.0, 0.0),
            Next::Fallback { to: 1 }
        );
    }

    #[test]
    fn one_target_never_falls_back() {
        let mut p = Plan::new(opts(0), 1, 0.0);
        assert_eq!(
            p.on_failure(&Error::http(500, ""), &no_hints(), false, 0.0, 0.0),
            Next::GiveUp
        );
        assert!(!p
            .final_error(Error::http(500, ""))
            .message
            .contains("tried"));
    }
}
