//! Which wait applies when, and when it runs out.
//!
//! Owns: the [`Timeouts`] settings with their defaults, and the [`Watchdog`], a small
//! state machine that knows the phase of a call (waiting for headers, for the first body
//! chunk, or inside the body) and answers "has a deadline passed, and if not, how long
//! until the next one could?". Must never: read a clock or arm a timer. The shell passes
//! `now_ms` in and owns the one timer per call; it re-arms it for as long as
//! [`Watchdog::check`] says.
//!
//! One timer per call instead of one per chunk: body activity only moves a timestamp.
//! When the timer fires early (because activity pushed the idle deadline back), `check`
//! answers [`Check::Wait`] with the remainder.

use crate::error::TimeoutKind;

/// Default wait for response headers. Long, because a non-streaming call gets its
/// headers only once the whole answer is generated.
pub const DEFAULT_HEADERS_MS: u64 = 120_000;
/// Default wait from headers to the first body chunk of a stream.
pub const DEFAULT_FIRST_CHUNK_MS: u64 = 60_000;
/// Default wait between two body chunks.
pub const DEFAULT_IDLE_MS: u64 = 60_000;
/// Default bound on the whole call, body included.
pub const DEFAULT_TOTAL_MS: u64 = 600_000;

/// Each wait of a call, in milliseconds. `0` disables that wait (the total bound never
/// goes away unless it too is `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub headers_ms: u64,
    pub first_chunk_ms: u64,
    pub idle_ms: u64,
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            headers_ms: DEFAULT_HEADERS_MS,
            first_chunk_ms: DEFAULT_FIRST_CHUNK_MS,
            idle_ms: DEFAULT_IDLE_MS,
            total_ms: DEFAULT_TOTAL_MS,
        }
    }
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Request sent, no headers yet.
    Headers,
    /// Headers received, no body bytes yet.
    FirstChunk,
    /// Body bytes are flowing.
    Body,
    /// The call is over; nothing can expire.
    Done,
}

/// The watchdog's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `which` ran out; it was configured to `after_ms`.
    Expired { which: TimeoutKind, after_ms: u64 },
    /// Nothing has run out; ask again in `ms` (`None`: nothing to wait for).
    Wait(Option<u64>),
}

/// Deadlines of one call. Times are milliseconds on any monotonic-enough clock.
#[derive(Debug, Clone)]
pub struct Watchdog {
    t: Timeouts,
    started: f64,
    phase: Phase,
    /// When the current phase began, or the last body activity in [`Phase::Body`].
    mark: f64,
}

impl Watchdog {
    /// A call that starts now, waiting for headers.
    pub fn new(t: Timeouts, now_ms: f64) -> Self {
        Watchdog {
            t,
            started: now_ms,
            phase: Phase::Headers,
            mark: now_ms,
        }
    }

    /// The settings in force.
    pub fn timeouts(&self) -> Timeouts {
        self.t
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Move to `phase`. The shell re-arms its timer after a phase change, since the new
    /// phase's deadline may come sooner than the armed one.
    pub fn enter(&mut self, phase: Phase, now_ms: f64) {
        self.phase = phase;
        self.mark = now_ms;
    }

    /// Body bytes arrived: the idle deadline moves back. Leaves the first-chunk phase
    /// for the body phase, and then returns true: the idle wait may be shorter than the
    /// first-chunk wait the timer was armed for, so the shell must re-arm.
    #[must_use = "a phase change needs the timer re-armed"]
    pub fn activity(&mut self, now_ms: f64) -> bool {
        match self.phase {
            Phase::FirstChunk => {
                self.phase = Phase::Body;
                self.mark = now_ms;
                true
            }
            Phase::Body => {
                self.mark = now_ms;
                false
            }
            Phase::Headers | Phase::Done => false,
        }
    }

    /// Has a deadline passed at `now_ms`? The total bound wins a tie, since it is the
    /// one the caller cannot extend.
    pub fn check(&self, now_ms: f64) -> Check {
        if self.phase == Phase::Done {
            return Check::Wait(None);
        }
        let (phase_limit, phase_kind) = match self.phase {
            Phase::Headers => (self.t.headers_ms, TimeoutKind::Headers),
            Phase::FirstChunk => (self.t.first_chunk_ms, TimeoutKind::FirstChunk),
            Phase::Body => (self.t.idle_ms, TimeoutKind::Idle),
            Phase::Done => return Check::Wait(None),
        };
        let total_left = remaining(self.t.total_ms, self.started, now_ms);
        let phase_left = remaining(phase_limit, self.mark, now_ms);
        if total_left == Some(0) {
            return Check::Expired {
                which: TimeoutKind::Total,
                after_ms: self.t.total_ms,
            };
        }
        if phase_left == Some(0) {
            return Check::Expired {
                which: phase_kind,
                after_ms: phase_limit,
            };
        }
        Check::Wait(match (total_left, phase_left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

/// Milliseconds left of a `limit` that began at `since`; `None` when the limit is off.
fn remaining(limit: u64, since: f64, now: f64) -> Option<u64> {
    if limit == 0 {
        return None;
    }
    let elapsed = now - since;
    let elapsed = if elapsed.is_finite() && elapsed > 0.0 {
        elapsed
    } else {
        0.0
    };
    let left = limit as f64 - elapsed;
    Some(if left <= 0.0 { 0 } else { left.ceil() as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u64, f: u64, i: u64, total: u64) -> Timeouts {
        Timeouts {
            headers_ms: h,
            first_chunk_ms: f,
            idle_ms: i,
            total_ms: total,
        }
    }

    #[test]
    fn headers_deadline_fires_in_headers_phase() {
        let w = Watchdog::new(t(100, 50, 30, 1000), 0.0);
        assert_eq!(w.check(99.0), Check::Wait(Some(1)));
        assert_eq!(
            w.check(100.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 100
            }
        );
    }

    #[test]
    fn first_chunk_deadline_counts_from_headers() {
        let mut w = Watchdog::new(t(100, 50, 30, 1000), 0.0);
        w.enter(Phase::FirstChunk, 80.0);
        assert_eq!(w.check(120.0), Check::Wait(Some(10)));
        assert_eq!(
            w.check(130.0),
            Check::Expired {
                which: TimeoutKind::FirstChunk,
                after_ms: 50
            }
        );
    }

    #[test]
    fn activity_pushes_idle_deadline_back() {
        let mut w = Watchdog::new(t(100, 50, 30, 1000), 0.0);
        w.enter(Phase::FirstChunk, 10.0);
        assert!(w.activity(20.0), "first bytes change the phase");
        assert_eq!(w.phase(), Phase::Body);
        assert!(!w.activity(45.0), "later bytes do not");
        // The timer armed for 20+30=50 fires early: wait the rest.
        assert_eq!(w.check(50.0), Check::Wait(Some(25)));
        assert_eq!(
            w.check(75.0),
            Check::Expired {
                which: TimeoutKind::Idle,
                after_ms: 30
            }
        );
    }

    #[test]
    fn total_bound_wins_over_phase() {
        let mut w = Watchdog::new(t(100, 50, 30, 60), 0.0);
        w.enter(Phase::FirstChunk, 5.0);
        let _ = w.activity(40.0);
        assert_eq!(w.check(59.0), Check::Wait(Some(1)));
        assert_eq!(
            w.check(60.0),
            Check::Expired {
                which: TimeoutKind::Total,
                after_ms: 60
            }
        );
    }

    #[test]
    fn zero_disables_a_wait() {
        let w = Watchdog::new(t(0, 0, 0, 0), 0.0);
        assert_eq!(w.check(1e12), Check::Wait(None));
        let w = Watchdog::new(t(0, 0, 0, 500), 0.0);
        assert_eq!(w.check(100.0), Check::Wait(Some(400)));
    }

    #[test]
    fn done_never_expires() {
        let mut w = Watchdog::new(t(1, 1, 1, 1), 0.0);
        w.enter(Phase::Done, 0.0);
        assert_eq!(w.check(1e9), Check::Wait(None));
    }

    #[test]
    fn activity_before_headers_does_not_skip_the_headers_phase() {
        let mut w = Watchdog::new(t(100, 50, 30, 1000), 0.0);
        assert!(!w.activity(90.0));
        assert_eq!(w.phase(), Phase::Headers);
        assert_eq!(
            w.check(100.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 100
            }
        );
    }

    #[test]
    fn clock_going_backwards_is_not_a_panic_or_an_expiry() {
        let w = Watchdog::new(t(100, 50, 30, 1000), 500.0);
        assert_eq!(w.check(0.0), Check::Wait(Some(100)));
        assert_eq!(w.check(f64::NAN), Check::Wait(Some(100)));
    }
}
