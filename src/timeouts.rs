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
//!
//! Engines differ in when `fetch()` resolves ([`FetchResolves`]): Chromium, Node, workerd
//! resolve it at the response headers; Gecko (Firefox) only once the first body bytes (or
//! the end of the body) arrived, so a shell there cannot see headers before the body. For
//! a request that asks for an event stream in such an engine, the first-chunk wait counts
//! from the request instead of from the headers it cannot see
//! ([`Watchdog::for_request`]); everything else is the same in every engine.

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

/// When the engine's `fetch()` resolves, which decides what a shell can see while the
/// request is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchResolves {
    /// At the response headers (Chromium, Node's undici, workerd, Deno): the headers
    /// wait and the first-chunk wait are told apart.
    AtHeaders,
    /// Only with the first body bytes, or the end of the body (Gecko: measured in Firefox
    /// 140 ESR, where a server that sent its headers and then nothing leaves `fetch()`
    /// pending; `XMLHttpRequest` reaches `HEADERS_RECEIVED` no sooner). Headers and the
    /// first chunk arrive together, as far as the shell can tell.
    AtFirstBytes,
}

impl FetchResolves {
    /// The engine's behaviour from its `navigator.userAgent`. There is no feature to
    /// detect (it is not an API, only a timing), so the engine token is the only signal:
    /// Gecko's user agent carries `Gecko/<build date>` (every Gecko browser: Firefox,
    /// its forks, Firefox for Android), while WebKit and Blink only say "like Gecko".
    /// No user agent (older Node) means an engine that resolves at headers.
    pub fn for_user_agent(user_agent: Option<&str>) -> FetchResolves {
        let gecko = user_agent.is_some_and(|mut ua| {
            // Each `Gecko/` in turn (`crate::error::find`: no two-way searcher in the wasm).
            while let Some(i) = crate::error::find(ua, "Gecko/") {
                ua = ua.get(i + 6..).unwrap_or_default();
                if ua.starts_with(|c: char| c.is_ascii_digit()) {
                    return true;
                }
            }
            false
        });
        if gecko {
            FetchResolves::AtFirstBytes
        } else {
            FetchResolves::AtHeaders
        }
    }
}

/// Whether a request's headers ask for an event stream (`accept: text/event-stream`, as
/// [`crate::providers::chat_headers`] sets for every stream). Only a stream waits for its
/// first chunk after the headers; a non-streamed answer's body follows its headers.
pub fn expects_event_stream<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> bool {
    headers.iter().any(|(n, v)| {
        n.as_ref().eq_ignore_ascii_case("accept")
            && crate::error::split(v.as_ref(), b',').any(|m| {
                crate::error::before(m, b';')
                    .trim()
                    .eq_ignore_ascii_case("text/event-stream")
            })
    })
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
    /// In [`Phase::Headers`], the first-chunk wait runs too, from the request: the engine
    /// shows no headers before the first body bytes ([`Watchdog::for_request`]).
    first_chunk_from_request: bool,
    /// Body bytes arrived since the last [`Watchdog::tick`] ([`Watchdog::touch`]).
    touched: bool,
}

impl Watchdog {
    /// A call that starts now, waiting for headers.
    pub fn new(t: Timeouts, now_ms: f64) -> Self {
        Watchdog {
            t,
            started: now_ms,
            phase: Phase::Headers,
            mark: now_ms,
            first_chunk_from_request: false,
            touched: false,
        }
    }

    /// A call that starts now, in an engine whose `fetch()` resolves as `resolves` says,
    /// for a request that does (`stream`) or does not ask for an event stream.
    ///
    /// Where `fetch()` resolves only with the first body bytes ([`FetchResolves::AtFirstBytes`])
    /// and the request is a stream, the headers wait and the first-chunk wait both run
    /// from the request, and the one that runs out first fires under its own name: the
    /// first-chunk wait cannot start at headers the engine does not show, and without it
    /// a stream stalled after its headers would wait for the (long) headers timeout
    /// instead. So there `firstChunk` bounds "request sent → first body bytes", which is
    /// stricter than "headers → first body bytes" by the time the server took to send its
    /// headers (for a stream, normally a fraction of a second). A non-streamed answer's
    /// body follows its headers, so its wait stays the headers timeout, as everywhere.
    /// Where `fetch()` resolves at the headers, this is [`Watchdog::new`].
    pub fn for_request(t: Timeouts, now_ms: f64, resolves: FetchResolves, stream: bool) -> Self {
        let mut w = Watchdog::new(t, now_ms);
        w.first_chunk_from_request = stream && resolves == FetchResolves::AtFirstBytes;
        w
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

    /// Body bytes arrived, without reading a clock (a read costs one call of this):
    /// in the body phase the read is only noted, for the next [`Watchdog::tick`]. True
    /// when the caller must call [`Watchdog::activity`] with the time instead (the first
    /// bytes: the phase changes).
    #[must_use = "the first bytes need `activity(now)`"]
    pub fn touch(&mut self) -> bool {
        match self.phase {
            Phase::FirstChunk => true,
            Phase::Body => {
                self.touched = true;
                false
            }
            Phase::Headers | Phase::Done => false,
        }
    }

    /// [`Watchdog::check`] for the shell's timer, at `now_ms`, after reads noted by
    /// [`Watchdog::touch`]: a noted read counts as if it came now (it came since the last
    /// tick, never later), so the idle wait never fires early; and in the body phase the
    /// timer is asked back every quarter of the idle wait, so that it fires at most a
    /// quarter late: between `idle` and `1.25 × idle` after the last bytes.
    pub fn tick(&mut self, now_ms: f64) -> Check {
        if self.phase == Phase::Body && std::mem::take(&mut self.touched) {
            self.mark = now_ms;
        }
        match self.check(now_ms) {
            Check::Wait(w) if self.phase == Phase::Body && self.t.idle_ms > 0 => {
                let step = (self.t.idle_ms / 4).max(1);
                Check::Wait(Some(w.map_or(step, |w| w.min(step))))
            }
            c => c,
        }
    }

    /// Has a deadline passed at `now_ms`? The total bound wins a tie, since it is the
    /// one the caller cannot extend; of two phase waits that both ran out (the headers
    /// and first-chunk waits of [`Watchdog::for_request`]), the one that ran out first,
    /// the headers wait on a tie.
    pub fn check(&self, now_ms: f64) -> Check {
        let mut waits = [None, None];
        match self.phase {
            Phase::Done => return Check::Wait(None),
            Phase::Headers => {
                waits[0] = Some((self.t.headers_ms, TimeoutKind::Headers));
                if self.first_chunk_from_request {
                    waits[1] = Some((self.t.first_chunk_ms, TimeoutKind::FirstChunk));
                }
            }
            Phase::FirstChunk => waits[0] = Some((self.t.first_chunk_ms, TimeoutKind::FirstChunk)),
            Phase::Body => waits[0] = Some((self.t.idle_ms, TimeoutKind::Idle)),
        }
        if remaining(self.t.total_ms, self.started, now_ms) == Some(0) {
            return Check::Expired {
                which: TimeoutKind::Total,
                after_ms: self.t.total_ms,
            };
        }
        // Both phase waits start at `mark`, so the shorter limit is the one that ran
        // out first.
        let expired = waits
            .iter()
            .flatten()
            .filter(|&&(limit, _)| remaining(limit, self.mark, now_ms) == Some(0))
            .min_by_key(|&&(limit, _)| limit);
        if let Some(&(limit, which)) = expired {
            return Check::Expired {
                which,
                after_ms: limit,
            };
        }
        let next = waits
            .iter()
            .flatten()
            .filter_map(|&(limit, _)| remaining(limit, self.mark, now_ms))
            .chain(remaining(self.t.total_ms, self.started, now_ms))
            .min();
        Check::Wait(next)
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

    /// Reads noted by `touch` every `gap` ms, then silence: the idle wait fires no
    /// sooner than `idle` after the last read and no later than a quarter after, however
    /// the reads fall between the timer's ticks.
    #[test]
    fn touched_reads_keep_the_idle_wait_never_early_at_most_a_quarter_late() {
        for idle in [4u64, 40, 100, 30_000] {
            for gap_fraction in [0.01f64, 0.1, 0.3, 0.7, 0.99] {
                for reads in [1u32, 5, 50] {
                    let gap = idle as f64 * gap_fraction;
                    let mut w = Watchdog::new(t(0, 0, idle, 0), 0.0);
                    w.enter(Phase::FirstChunk, 0.0);
                    assert!(w.touch(), "the first bytes change the phase");
                    assert!(w.activity(0.0));
                    let wait = |c: Check| match c {
                        Check::Wait(Some(ms)) => ms.max(1) as f64,
                        c => panic!("{c:?}"),
                    };
                    let mut tick_at = wait(w.tick(0.0));
                    let last = f64::from(reads) * gap;
                    let mut done = 0;
                    let fired = loop {
                        let read = f64::from(done + 1) * gap;
                        if done < reads && read < tick_at {
                            assert!(!w.touch());
                            done += 1;
                            continue;
                        }
                        match w.tick(tick_at) {
                            Check::Expired { which, .. } => {
                                assert_eq!(which, TimeoutKind::Idle);
                                break tick_at;
                            }
                            c => tick_at += wait(c),
                        }
                    };
                    let silence = fired - last;
                    let case = format!("idle {idle}, gap {gap}, {reads} reads");
                    assert!(
                        silence >= idle as f64,
                        "early by {}: {case}",
                        idle as f64 - silence
                    );
                    assert!(
                        silence <= 1.25 * idle as f64 + 1.0,
                        "late: {silence} ms, {case}"
                    );
                }
            }
        }
    }

    #[test]
    fn touch_outside_the_body_phase_is_ignored_or_asks_for_the_clock() {
        let mut w = Watchdog::new(t(100, 50, 30, 1000), 0.0);
        assert!(!w.touch());
        w.enter(Phase::FirstChunk, 10.0);
        assert!(w.touch());
        w.enter(Phase::Done, 20.0);
        assert!(!w.touch());
        assert_eq!(w.tick(25.0), Check::Wait(None));
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

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    const FIREFOX_ANDROID: &str =
        "Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0";
    const CHROMIUM: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
    const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15";
    const FIREFOX_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/140.0 Mobile/15E148 Safari/605.1.15";

    #[test]
    fn gecko_is_told_apart_by_its_engine_token_not_by_like_gecko() {
        use FetchResolves::*;
        assert_eq!(FetchResolves::for_user_agent(Some(FIREFOX)), AtFirstBytes);
        assert_eq!(
            FetchResolves::for_user_agent(Some(FIREFOX_ANDROID)),
            AtFirstBytes
        );
        for ua in [
            CHROMIUM,
            SAFARI,
            FIREFOX_IOS,
            "Node.js/22",
            "Cloudflare-Workers",
            "Deno/2.1",
            "",
            "Gecko/",
            "Gecko/x",
        ] {
            assert_eq!(FetchResolves::for_user_agent(Some(ua)), AtHeaders, "{ua}");
        }
        assert_eq!(FetchResolves::for_user_agent(None), AtHeaders);
        // Not a panic on a multi-byte neighbour.
        assert_eq!(FetchResolves::for_user_agent(Some("Gecko/é")), AtHeaders);
    }

    #[test]
    fn a_stream_is_a_request_that_accepts_an_event_stream() {
        fn h(v: &str) -> Vec<(&str, &str)> {
            vec![("content-type", "application/json"), ("Accept", v)]
        }
        assert!(expects_event_stream(&h("text/event-stream")));
        assert!(expects_event_stream(&h(
            "application/json, Text/Event-Stream; q=0.9"
        )));
        assert!(!expects_event_stream(&h("application/json")));
        assert!(!expects_event_stream(&h("text/event-streams")));
        assert!(!expects_event_stream(&[("x-accept", "text/event-stream")]));
        assert!(!expects_event_stream::<&str, &str>(&[]));
    }

    #[test]
    fn where_fetch_resolves_with_the_first_bytes_a_streams_first_chunk_wait_counts_from_the_request(
    ) {
        // The server sent its headers at once and then nothing: the shell still awaits
        // fetch(), in the headers phase, and the first-chunk wait runs out first.
        let w = Watchdog::for_request(
            t(1000, 150, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(w.phase(), Phase::Headers);
        assert_eq!(w.check(100.0), Check::Wait(Some(50)));
        assert_eq!(
            w.check(150.0),
            Check::Expired {
                which: TimeoutKind::FirstChunk,
                after_ms: 150
            }
        );
    }

    #[test]
    fn where_fetch_resolves_with_the_first_bytes_a_shorter_headers_wait_still_fires_as_headers() {
        let w = Watchdog::for_request(
            t(100, 500, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(w.check(40.0), Check::Wait(Some(60)));
        assert_eq!(
            w.check(100.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 100
            }
        );
        // Equal waits: named as the headers wait.
        let w = Watchdog::for_request(
            t(100, 100, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(
            w.check(100.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 100
            }
        );
    }

    #[test]
    fn a_late_timer_names_the_wait_that_ran_out_first() {
        let w = Watchdog::for_request(
            t(300, 150, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(
            w.check(400.0),
            Check::Expired {
                which: TimeoutKind::FirstChunk,
                after_ms: 150
            }
        );
        let w = Watchdog::for_request(
            t(150, 300, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(
            w.check(400.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 150
            }
        );
    }

    #[test]
    fn where_fetch_resolves_with_the_first_bytes_the_total_bound_still_wins() {
        let w = Watchdog::for_request(
            t(1000, 150, 30, 150),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        assert_eq!(
            w.check(150.0),
            Check::Expired {
                which: TimeoutKind::Total,
                after_ms: 150
            }
        );
    }

    #[test]
    fn a_disabled_first_chunk_wait_leaves_the_headers_wait_alone() {
        let w = Watchdog::for_request(t(1000, 0, 30, 0), 0.0, FetchResolves::AtFirstBytes, true);
        assert_eq!(w.check(500.0), Check::Wait(Some(500)));
        assert_eq!(
            w.check(1000.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 1000
            }
        );
    }

    #[test]
    fn once_fetch_resolved_the_phases_are_the_same_in_every_engine() {
        let mut w = Watchdog::for_request(
            t(1000, 150, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            true,
        );
        w.enter(Phase::FirstChunk, 120.0);
        assert_eq!(w.check(200.0), Check::Wait(Some(70)));
        assert!(w.activity(200.0));
        assert_eq!(
            w.check(230.0),
            Check::Expired {
                which: TimeoutKind::Idle,
                after_ms: 30
            }
        );
    }

    #[test]
    fn a_slow_headers_server_gets_the_headers_timeout_where_fetch_resolves_at_headers() {
        // Chromium, Node, workerd: the first-chunk wait starts at the headers, so a server
        // slow to answer is bounded by the headers wait alone, stream or not.
        for stream in [true, false] {
            let mut w = Watchdog::for_request(
                t(1000, 150, 30, 5000),
                0.0,
                FetchResolves::AtHeaders,
                stream,
            );
            assert_eq!(w.check(900.0), Check::Wait(Some(100)));
            assert_eq!(
                w.check(1000.0),
                Check::Expired {
                    which: TimeoutKind::Headers,
                    after_ms: 1000
                }
            );
            // Headers at 900: the first chunk has its 150 from there.
            w.enter(Phase::FirstChunk, 900.0);
            assert_eq!(w.check(1000.0), Check::Wait(Some(50)));
        }
    }

    #[test]
    fn a_non_streamed_answer_waits_for_the_headers_timeout_in_every_engine() {
        // Its body follows its headers, so the first-chunk wait never applies before them.
        let w = Watchdog::for_request(
            t(1000, 150, 30, 5000),
            0.0,
            FetchResolves::AtFirstBytes,
            false,
        );
        assert_eq!(w.check(900.0), Check::Wait(Some(100)));
        assert_eq!(
            w.check(1000.0),
            Check::Expired {
                which: TimeoutKind::Headers,
                after_ms: 1000
            }
        );
    }

    #[test]
    fn for_request_where_fetch_resolves_at_headers_is_new() {
        for (h, f, total) in [
            (0, 0, 0),
            (100, 50, 1000),
            (50, 100, 1000),
            (100, 100, 60),
            (0, 50, 0),
        ] {
            let a = Watchdog::new(t(h, f, 30, total), 3.0);
            let b = Watchdog::for_request(t(h, f, 30, total), 3.0, FetchResolves::AtHeaders, true);
            for now in [0.0, 3.0, 52.0, 53.0, 63.0, 102.0, 103.0, 104.0, 2000.0] {
                assert_eq!(a.check(now), b.check(now), "{h} {f} {total} at {now}");
            }
        }
    }
}
