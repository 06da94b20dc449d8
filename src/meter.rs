//! The usage meter: running totals, a record per request, spending budgets and spike
//! alerts.
//!
//! Owns: [`RequestRecord`] (what one call used and cost, how long it took, where it
//! went and why), [`CallClock`] (the latencies of one call from the times the shell
//! passes), [`Meter`] (totals overall, by model and by provider; the last records; the
//! [`Budget`] check that fails a call fast with kind `budget`; the [`SpikeOptions`]
//! detector), and the [`Alert`]s a record can raise.
//!
//! Must never: grow with the number of calls (records are a bounded ring, totals are
//! kept for at most `max_keys` models and providers, budget and spike windows are
//! fixed rings of time buckets), produce NaN or an infinity (dollar sums saturate at
//! `f64::MAX`), fire a spike alert at startup (the baseline must hold enough history)
//! or more than once per episode, read a clock (`now_ms` is passed in; an earlier time
//! than one seen counts as the latest), or panic on any record or option.
//!
//! ## What counts
//!
//! Totals, budgets and spikes count what was billed: a call's `usage` (reported or, if
//! the caller opted in, estimated) and its cost. A cache hit is counted as a request and
//! a cache hit, with no tokens and no cost. A call without a price counts its tokens
//! and `$0` toward `budget.usd` (it is counted in `unpriced`: set `prices`, or a token
//! budget, to cap it).
//!
//! ## Budget windows
//!
//! With `window_ms`, spending is kept in [`BUDGET_BUCKETS`] buckets of `window_ms /
//! 60` (rounded up). A bucket counts while any part of it is within the window, so a
//! spend is held between `window_ms` and `window_ms` + one bucket: the budget frees up
//! late, never early. Without `window_ms` the budget covers the meter's lifetime (until
//! [`Meter::reset`]).
//!
//! ## Spikes
//!
//! Cost and tokens are kept in a ring of [`SPIKE_BUCKETS`] buckets of `(recent_ms +
//! baseline_ms) / 61` (rounded up). A spike is the rate (per ms) over the recent window
//! exceeding `factor` × the rate over the baseline window just before it, for cost or
//! for tokens (cost is reported when both do). The recent window is the bucket in
//! progress plus enough whole buckets before it to cover `recent_ms`, so it is never
//! shorter than asked (a single call in a short window would look like a burst). The
//! baseline rate is over the part of the baseline window the meter has seen (from its
//! first record), and counts only once it holds `min_baseline_requests` calls and at
//! least `min_baseline_usd` / `min_baseline_tokens`; a metric whose baseline is zero
//! never spikes. The recent window must hold `min_recent_requests` calls (default 2: with
//! steady traffic, a window holding one call can show up to twice the baseline rate by
//! the luck of where the window falls). One alert per episode: after firing, the
//! detector waits until the recent rate is back to `rearm_factor` × baseline or below
//! (checked before each new record is added) before it can fire again.

use crate::vecmap::VecMap;

use crate::difficulty::Chosen;
use crate::error::{Error, ErrorKind};
use crate::json::{array_text, ObjectText};
use crate::retry::wait_text;
use crate::usage::{usd_text, PriceTable, TokenUsage};

/// Buckets of a budget window.
pub const BUDGET_BUCKETS: usize = 60;
/// Buckets spanning the spike detector's recent and baseline windows.
pub const SPIKE_BUCKETS: usize = 64;
/// Default records kept.
pub const DEFAULT_MAX_RECORDS: usize = 100;
/// Default models (and, separately, providers) with their own totals.
pub const DEFAULT_MAX_KEYS: usize = 256;
/// The totals key for models or providers beyond `max_keys`.
pub const OTHER_KEY: &str = "(other)";
/// The totals key for calls whose model or provider is unknown.
pub const UNKNOWN_KEY: &str = "(unknown)";
/// Longest budget window accepted: a year.
pub const MAX_WINDOW_MS: u64 = 366 * 24 * 60 * 60 * 1000;
/// The error code of a call refused for `budget.usd`.
pub const BUDGET_USD_CODE: &str = "budget_usd";
/// The error code of a call refused for `budget.tokens`.
pub const BUDGET_TOKENS_CODE: &str = "budget_tokens";

// ---------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Completed,
    /// The caller aborted (what arrived before is still counted).
    Aborted,
    /// It failed with an error of this kind.
    Failed(ErrorKind),
}

impl CallOutcome {
    /// How a call that failed with `e` ended: aborted by the caller, or failed.
    pub fn of_error(e: &Error) -> CallOutcome {
        if e.kind == ErrorKind::Aborted {
            CallOutcome::Aborted
        } else {
            CallOutcome::Failed(e.kind)
        }
    }
}

/// The latencies of one call, from its start (when it was admitted to send).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// To the response headers (of the attempt that answered).
    pub headers_ms: Option<u64>,
    /// To the first content delivered (first chunk of a stream; the body of a
    /// non-stream call).
    pub first_token_ms: Option<u64>,
    /// To the end of the call.
    pub total_ms: Option<u64>,
}

/// The times of one call, as the shell sees them; the first report of each wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallClock {
    started_at_ms: u64,
    headers_at_ms: Option<u64>,
    first_token_at_ms: Option<u64>,
}

impl CallClock {
    pub fn start(now_ms: u64) -> CallClock {
        CallClock {
            started_at_ms: now_ms,
            headers_at_ms: None,
            first_token_at_ms: None,
        }
    }

    pub fn started_at_ms(&self) -> u64 {
        self.started_at_ms
    }

    /// Response headers arrived.
    pub fn headers(&mut self, now_ms: u64) {
        self.headers_at_ms.get_or_insert(now_ms);
    }

    /// The first content arrived.
    pub fn first_token(&mut self, now_ms: u64) {
        self.first_token_at_ms.get_or_insert(now_ms);
    }

    /// The latencies of a call ending at `now_ms` (a time before the start counts as 0).
    pub fn latency(&self, now_ms: u64) -> Latency {
        let since = |t: u64| t.saturating_sub(self.started_at_ms);
        Latency {
            headers_ms: self.headers_at_ms.map(since),
            first_token_ms: self.first_token_at_ms.map(since),
            total_ms: Some(since(now_ms)),
        }
    }
}

/// What one call used, cost and took. Filled by the shell when the call ends (any
/// way), priced with [`RequestRecord::priced`], then handed to [`Meter::record`].
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Set by [`Meter::record`]: 1, 2, 3… per meter.
    pub seq: u64,
    /// The model sent (with its `:suffix`, if any).
    pub model: Option<String>,
    /// The provider that served it ([`crate::usage::served_provider`]).
    pub provider: Option<String>,
    /// The target's upstream key ([`crate::providers::Target::upstream`]).
    pub url_key: String,
    /// The upstream's request id, to quote in a support request.
    pub request_id: Option<String>,
    pub started_at_ms: u64,
    pub latency: Latency,
    pub usage: Option<TokenUsage>,
    /// `Some(0.0)` for a cache hit; `None` when there is no price or usage.
    pub cost_usd: Option<f64>,
    /// The price table key that priced it.
    pub price_key: Option<String>,
    /// Attempts made (1 with no retry; 0 for a cache hit).
    pub attempts: u32,
    pub cache_hit: bool,
    /// The `route` rule that chose the model, if one did.
    pub rule: Option<Chosen>,
    pub outcome: CallOutcome,
}

impl RequestRecord {
    /// A record for a call that started at `clock` and ends at `now_ms`, with no usage,
    /// cost, rule or cache hit yet.
    pub fn new(clock: &CallClock, url_key: &str, outcome: CallOutcome, now_ms: u64) -> Self {
        RequestRecord {
            seq: 0,
            model: None,
            provider: None,
            url_key: url_key.to_owned(),
            request_id: None,
            started_at_ms: clock.started_at_ms(),
            latency: clock.latency(now_ms),
            usage: None,
            cost_usd: None,
            price_key: None,
            attempts: 1,
            cache_hit: false,
            rule: None,
            outcome,
        }
    }

    /// The record with its cost: `0` for a cache hit, else `prices`' cost of its usage
    /// for its model and provider ([`PriceTable::cost`]); `None` without a model, usage
    /// or matching price.
    pub fn priced(mut self, prices: &PriceTable) -> Self {
        if self.cache_hit {
            self.cost_usd = Some(0.0);
            self.price_key = None;
            return self;
        }
        let cost = match (&self.usage, &self.model) {
            (Some(u), Some(m)) => prices.cost(u, m, self.provider.as_deref()),
            _ => None,
        };
        self.cost_usd = cost.as_ref().map(|c| c.usd);
        self.price_key = cost.map(|c| c.price_key);
        self
    }

    /// The tokens it was billed: none for a cache hit.
    fn billed_tokens(&self) -> u64 {
        if self.cache_hit {
            return 0;
        }
        self.usage.and_then(|u| u.billable_tokens()).unwrap_or(0)
    }

    /// The dollars it was billed: none for a cache hit or without a price.
    fn billed_usd(&self) -> f64 {
        if self.cache_hit {
            return 0.0;
        }
        self.cost_usd
            .filter(|c| c.is_finite() && *c >= 0.0)
            .unwrap_or(0.0)
    }
}

// ---------------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------------

/// Running totals of a set of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub failed: u64,
    pub aborted: u64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    /// Billed calls with usage but no price (their cost is not in `cost_usd`).
    pub unpriced: u64,
    /// Calls whose usage was (partly) estimated.
    pub estimated: u64,
}

impl Totals {
    fn add(&mut self, r: &RequestRecord) {
        let inc = |v: &mut u64, by: u64| *v = v.saturating_add(by);
        inc(&mut self.requests, 1);
        match r.outcome {
            CallOutcome::Completed => {}
            CallOutcome::Aborted => inc(&mut self.aborted, 1),
            CallOutcome::Failed(_) => inc(&mut self.failed, 1),
        }
        if r.cache_hit {
            inc(&mut self.cache_hits, 1);
            return;
        }
        let Some(u) = r.usage else {
            return;
        };
        inc(&mut self.prompt_tokens, u.prompt_tokens.unwrap_or(0));
        inc(
            &mut self.completion_tokens,
            u.completion_tokens.unwrap_or(0),
        );
        inc(&mut self.total_tokens, u.billable_tokens().unwrap_or(0));
        inc(&mut self.cached_tokens, u.cached_tokens.unwrap_or(0));
        inc(&mut self.reasoning_tokens, u.reasoning_tokens.unwrap_or(0));
        if u.estimated {
            inc(&mut self.estimated, 1);
        }
        match r.cost_usd.filter(|c| c.is_finite() && *c >= 0.0) {
            Some(c) => self.cost_usd = saturating_usd(self.cost_usd + c),
            None => inc(&mut self.unpriced, 1),
        }
    }
}

fn saturating_usd(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::MAX
    }
}

/// Totals by key, at most `max` keys; later keys share [`OTHER_KEY`].
fn add_keyed(map: &mut VecMap<String, Totals>, key: &str, max: usize, r: &RequestRecord) {
    if let Some(t) = map.get_mut(key) {
        t.add(r);
        return;
    }
    let key = if map.len() + 1 >= max.max(1) && key != OTHER_KEY {
        OTHER_KEY
    } else {
        key
    };
    match map.get_mut(key) {
        Some(t) => t.add(r),
        None => {
            let mut t = Totals::default();
            t.add(r);
            map.insert(key.to_owned(), t);
        }
    }
}

// ---------------------------------------------------------------------------------
// Time buckets
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Slot {
    /// Which slice of time: `now / bucket_ms`; `None` while unused.
    epoch: Option<u64>,
    usd: f64,
    tokens: u64,
    requests: u32,
}

/// Amounts per bucket of time, in a fixed ring.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    bucket_ms: u64,
    slots: Vec<Slot>,
    first_epoch: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sum {
    usd: f64,
    tokens: u64,
    requests: u64,
}

impl Series {
    /// `span_ms` cut into `buckets` buckets (rounded up to whole ms), kept in a ring of
    /// `slots` (at least `buckets`: a window that does not start on a bucket boundary
    /// touches one or two more).
    fn new(span_ms: u64, buckets: usize, slots: usize) -> Series {
        let n = buckets.max(1) as u64;
        Series {
            bucket_ms: span_ms.div_ceil(n).max(1),
            slots: vec![Slot::default(); slots.max(buckets).max(1)],
            first_epoch: None,
        }
    }

    fn epoch(&self, now: u64) -> u64 {
        now / self.bucket_ms
    }

    fn slot_of(&self, epoch: u64) -> usize {
        (epoch % self.slots.len() as u64) as usize
    }

    fn add(&mut self, now: u64, usd: f64, tokens: u64) {
        let epoch = self.epoch(now);
        let i = self.slot_of(epoch);
        let slot = &mut self.slots[i];
        if slot.epoch != Some(epoch) {
            *slot = Slot {
                epoch: Some(epoch),
                ..Slot::default()
            };
        }
        slot.usd = saturating_usd(slot.usd + usd);
        slot.tokens = slot.tokens.saturating_add(tokens);
        slot.requests = slot.requests.saturating_add(1);
        self.first_epoch.get_or_insert(epoch);
    }

    /// The amounts in epochs `from..=to` (only those still in the ring).
    fn sum(&self, from: u64, to: u64) -> Sum {
        let mut s = Sum::default();
        for slot in &self.slots {
            if let Some(e) = slot.epoch {
                if e >= from && e <= to {
                    s.usd = saturating_usd(s.usd + slot.usd);
                    s.tokens = s.tokens.saturating_add(slot.tokens);
                    s.requests = s.requests.saturating_add(u64::from(slot.requests));
                }
            }
        }
        s
    }

    /// The used slots in `from..=to`, oldest first.
    fn slots_in(&self, from: u64, to: u64) -> Vec<Slot> {
        let mut out: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.epoch.is_some_and(|e| e >= from && e <= to))
            .copied()
            .collect();
        // Insertion sort: at most a few dozen slots (see `Breakers::snapshot`).
        for i in 1..out.len() {
            let mut j = i;
            while j > 0 && out[j - 1].epoch > out[j].epoch {
                out.swap(j - 1, j);
                j -= 1;
            }
        }
        out
    }

    fn clear(&mut self) {
        for s in &mut self.slots {
            *s = Slot::default();
        }
        self.first_epoch = None;
    }
}

// ---------------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------------

/// The `budget` option: spending caps over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// US dollars; calls fail once the window's cost reaches it.
    pub usd: Option<f64>,
    /// Tokens (billed, reported or estimated); calls fail once the window's tokens
    /// reach it.
    pub tokens: Option<u64>,
    /// The sliding window; `None` for the meter's whole lifetime.
    pub window_ms: Option<u64>,
}

impl Budget {
    /// At least one cap; `usd` finite and above 0; `tokens` at least 1; `window_ms` from
    /// 1 ms to a year. Errors are kind `input`, naming the option.
    pub fn check(&self) -> Result<(), Error> {
        if self.usd.is_none() && self.tokens.is_none() {
            return Err(Error::input(
                "`budget` needs `usd` or `tokens` (or both), e.g. { usd: 5, windowMs: 86400000 }",
            ));
        }
        if let Some(u) = self.usd {
            if !(u.is_finite() && u > 0.0) {
                return Err(Error::input(
                    "`budget.usd` must be a number of US dollars above 0",
                ));
            }
        }
        if self.tokens == Some(0) {
            return Err(Error::input("`budget.tokens` must be at least 1"));
        }
        if let Some(w) = self.window_ms {
            if w == 0 || w > MAX_WINDOW_MS {
                return Err(Error::input(
                    "`budget.windowMs` must be from 1 to 31622400000 (a year); leave it out for a budget over the client's lifetime",
                ));
            }
        }
        Ok(())
    }
}

/// Which cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetMetric {
    Usd,
    Tokens,
}

impl BudgetMetric {
    /// The name JS sees: `"usd"` or `"tokens"`.
    pub fn name(self) -> &'static str {
        match self {
            BudgetMetric::Usd => "usd",
            BudgetMetric::Tokens => "tokens",
        }
    }
}

/// Where a budget stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetStatus {
    /// Spent in the window (or lifetime).
    pub usd_spent: f64,
    pub tokens_spent: u64,
    pub usd_limit: Option<f64>,
    pub tokens_limit: Option<u64>,
    pub window_ms: Option<u64>,
    /// The cap reached, if one is (`Usd` first).
    pub exceeded: Option<BudgetMetric>,
    /// When every reached cap is under its limit again; `None` if none is reached, or
    /// never (no window).
    pub frees_in_ms: Option<u64>,
}

/// The budget crossed its limit (raised once per crossing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetAlert {
    pub metric: BudgetMetric,
    /// Spent (dollars, or tokens as a number).
    pub spent: f64,
    pub limit: f64,
    pub window_ms: Option<u64>,
    pub frees_in_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct BudgetState {
    budget: Budget,
    /// Per-bucket spend when there is a window.
    series: Option<Series>,
    lifetime: Sum,
    /// A crossing alert was raised and the budget has not been under since.
    alerted: bool,
}

impl BudgetState {
    fn new(budget: Budget) -> BudgetState {
        BudgetState {
            budget,
            // One more slot than buckets: the oldest bucket overlaps the window's start.
            series: budget
                .window_ms
                .map(|w| Series::new(w, BUDGET_BUCKETS, BUDGET_BUCKETS + 1)),
            lifetime: Sum::default(),
            alerted: false,
        }
    }

    fn add(&mut self, now: u64, usd: f64, tokens: u64) {
        self.lifetime.usd = saturating_usd(self.lifetime.usd + usd);
        self.lifetime.tokens = self.lifetime.tokens.saturating_add(tokens);
        if let Some(s) = self.series.as_mut() {
            s.add(now, usd, tokens);
        }
    }

    /// The first epoch of the window at `now` (the bucket holding `now - window`).
    fn window_epochs(&self, s: &Series, now: u64) -> (u64, u64) {
        let w = self.budget.window_ms.unwrap_or(0);
        (s.epoch(now.saturating_sub(w)), s.epoch(now))
    }

    fn status(&self, now: u64) -> BudgetStatus {
        let spent = match &self.series {
            Some(s) => {
                let (from, to) = self.window_epochs(s, now);
                s.sum(from, to)
            }
            None => self.lifetime,
        };
        let usd_over = self.budget.usd.is_some_and(|l| spent.usd >= l);
        let tokens_over = self.budget.tokens.is_some_and(|l| spent.tokens >= l);
        let exceeded = if usd_over {
            Some(BudgetMetric::Usd)
        } else if tokens_over {
            Some(BudgetMetric::Tokens)
        } else {
            None
        };
        let frees_in_ms = match (&self.series, exceeded) {
            (Some(s), Some(_)) => {
                let usd = usd_over.then(|| self.frees_in(s, now, BudgetMetric::Usd));
                let tokens = tokens_over.then(|| self.frees_in(s, now, BudgetMetric::Tokens));
                usd.into_iter().chain(tokens).max()
            }
            _ => None,
        };
        BudgetStatus {
            usd_spent: spent.usd,
            tokens_spent: spent.tokens,
            usd_limit: self.budget.usd,
            tokens_limit: self.budget.tokens,
            window_ms: self.budget.window_ms,
            exceeded,
            frees_in_ms,
        }
    }

    /// Ms until the window's `metric` is under its limit, as buckets age out.
    fn frees_in(&self, s: &Series, now: u64, metric: BudgetMetric) -> u64 {
        let w = self.budget.window_ms.unwrap_or(0);
        let (from, to) = self.window_epochs(s, now);
        let slots = s.slots_in(from, to);
        let amount = |slot: &Slot| match metric {
            BudgetMetric::Usd => slot.usd,
            BudgetMetric::Tokens => slot.tokens as f64,
        };
        let limit = match metric {
            BudgetMetric::Usd => self.budget.usd.unwrap_or(f64::MAX),
            BudgetMetric::Tokens => self.budget.tokens.map_or(f64::MAX, |t| t as f64),
        };
        // Drop buckets oldest first until what is left is under the limit; the last one
        // dropped leaves the window when its slice ends `w` ms later.
        let mut left: f64 = slots.iter().map(amount).sum();
        for slot in &slots {
            left -= amount(slot);
            let e = slot.epoch.unwrap_or(to);
            if left < limit {
                let leaves_at = e
                    .saturating_add(1)
                    .saturating_mul(s.bucket_ms)
                    .saturating_add(w);
                return leaves_at.saturating_sub(now).max(1);
            }
        }
        // Only reachable with a limit of 0 or less, which `Budget::check` refuses.
        to.saturating_add(1)
            .saturating_mul(s.bucket_ms)
            .saturating_add(w)
            .saturating_sub(now)
            .max(1)
    }
}

/// The error for a call refused because `status` is over budget.
fn budget_error(status: &BudgetStatus) -> Error {
    let metric = status.exceeded.unwrap_or(BudgetMetric::Usd);
    let mut m = String::from("budget exceeded: ");
    match metric {
        BudgetMetric::Usd => {
            m.push_str(&usd_text(status.usd_spent));
            m.push_str(" spent of the ");
            m.push_str(&usd_text(status.usd_limit.unwrap_or(0.0)));
            m.push_str(" `budget.usd`");
        }
        BudgetMetric::Tokens => {
            m.push_str(&status.tokens_spent.to_string());
            m.push_str(" tokens used of the ");
            m.push_str(&status.tokens_limit.unwrap_or(0).to_string());
            m.push_str(" `budget.tokens`");
        }
    }
    match (status.window_ms, status.frees_in_ms) {
        (Some(w), frees) => {
            m.push_str(" in the last ");
            m.push_str(&wait_text(w));
            if let Some(f) = frees {
                m.push_str("; it frees up in ");
                m.push_str(&wait_text(f));
            }
            m.push_str(". This call was not sent.");
        }
        (None, _) => m.push_str(
            " since the client was created, and it does not renew. This call was not sent: raise the budget or reset the meter.",
        ),
    }
    let mut e = Error::new(ErrorKind::Budget, m);
    e.code = Some(
        match metric {
            BudgetMetric::Usd => BUDGET_USD_CODE,
            BudgetMetric::Tokens => BUDGET_TOKENS_CODE,
        }
        .to_owned(),
    );
    e.retryable = status.window_ms.is_some();
    e
}

// ---------------------------------------------------------------------------------
// Spikes
// ---------------------------------------------------------------------------------

/// The `spike` option: when recent spending is out of line with the recent past.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeOptions {
    /// The recent window. Default 1 minute.
    pub recent_ms: u64,
    /// The baseline window, just before the recent one. Default 15 minutes.
    pub baseline_ms: u64,
    /// The recent rate must exceed this multiple of the baseline rate. Default 3.
    pub factor: f64,
    /// The episode ends when the recent rate is at most this multiple of the baseline
    /// rate. Default `(1 + factor) / 2`. From 1 to `factor`.
    pub rearm_factor: Option<f64>,
    /// Calls the baseline must hold before anything fires. Default 10.
    pub min_baseline_requests: u64,
    /// Calls the recent window must hold for a spike. Default 2.
    pub min_recent_requests: u64,
    /// Dollars the baseline must hold before cost can spike. Default 0.
    pub min_baseline_usd: f64,
    /// Tokens the baseline must hold before tokens can spike. Default 0.
    pub min_baseline_tokens: u64,
}

impl Default for SpikeOptions {
    fn default() -> Self {
        SpikeOptions {
            recent_ms: 60_000,
            baseline_ms: 15 * 60_000,
            factor: 3.0,
            rearm_factor: None,
            min_baseline_requests: 10,
            min_recent_requests: 2,
            min_baseline_usd: 0.0,
            min_baseline_tokens: 0,
        }
    }
}

impl SpikeOptions {
    /// Windows of at least 1 ms whose sum fits a year, `factor` above 1,
    /// `rearm_factor` from 1 to `factor`, `min_baseline_usd` finite and `>= 0`.
    pub fn check(&self) -> Result<(), Error> {
        let bad = if self.recent_ms == 0 || self.baseline_ms == 0 {
            Some("`spike.recentMs` and `spike.baselineMs` must be at least 1")
        } else if self.recent_ms.saturating_add(self.baseline_ms) > MAX_WINDOW_MS {
            Some("`spike.recentMs` + `spike.baselineMs` must be at most a year")
        } else if !(self.factor.is_finite() && self.factor > 1.0) {
            Some("`spike.factor` must be a number above 1 (e.g. 3: three times the baseline)")
        } else if self
            .rearm_factor
            .is_some_and(|r| !(r.is_finite() && r >= 1.0 && r <= self.factor))
        {
            Some("`spike.rearmFactor` must be from 1 to `spike.factor`")
        } else if !(self.min_baseline_usd.is_finite() && self.min_baseline_usd >= 0.0) {
            Some("`spike.minBaselineUsd` must be a number >= 0")
        } else {
            None
        };
        match bad {
            Some(m) => Err(Error::input(m)),
            None => Ok(()),
        }
    }

    fn rearm(&self) -> f64 {
        self.rearm_factor.unwrap_or((1.0 + self.factor) / 2.0)
    }
}

/// Which amount spiked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpikeMetric {
    Usd,
    Tokens,
}

impl SpikeMetric {
    /// The name JS sees: `"usd"` or `"tokens"`.
    pub fn name(self) -> &'static str {
        match self {
            SpikeMetric::Usd => "usd",
            SpikeMetric::Tokens => "tokens",
        }
    }
}

/// Recent spending is out of line with the baseline (raised once per episode).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeAlert {
    pub metric: SpikeMetric,
    /// Spent in the recent window (dollars, or tokens as a number).
    pub recent: f64,
    /// What the baseline rate would have spent over the same time.
    pub expected: f64,
    /// `recent / expected`.
    pub ratio: f64,
    pub recent_ms: u64,
    /// A sentence for a log or a notification.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
struct SpikeState {
    options: SpikeOptions,
    series: Series,
    recent_buckets: u64,
    baseline_buckets: u64,
    firing: bool,
}

/// One metric's numbers at a moment.
struct Rates {
    recent: f64,
    recent_span_ms: f64,
    baseline: f64,
    baseline_span_ms: f64,
}

impl Rates {
    fn ratio(&self) -> Option<f64> {
        if self.baseline <= 0.0 || self.baseline_span_ms <= 0.0 || self.recent_span_ms <= 0.0 {
            return None;
        }
        let baseline_rate = self.baseline / self.baseline_span_ms;
        Some((self.recent / self.recent_span_ms) / baseline_rate)
    }

    fn expected(&self) -> f64 {
        if self.baseline_span_ms > 0.0 {
            self.baseline / self.baseline_span_ms * self.recent_span_ms
        } else {
            0.0
        }
    }
}

impl SpikeState {
    fn new(options: SpikeOptions) -> SpikeState {
        // Three slots of slack: each window rounds up to whole buckets, and the recent
        // one has the bucket in progress on top.
        let series = Series::new(
            options.recent_ms.saturating_add(options.baseline_ms),
            SPIKE_BUCKETS - 3,
            SPIKE_BUCKETS,
        );
        let bm = series.bucket_ms;
        SpikeState {
            options,
            recent_buckets: options.recent_ms.div_ceil(bm).max(1),
            baseline_buckets: options.baseline_ms.div_ceil(bm).max(1),
            series,
            firing: false,
        }
    }

    /// Both metrics' numbers at `now`, if the baseline qualifies.
    fn rates(&self, now: u64) -> Option<(Rates, Rates)> {
        let s = &self.series;
        let bm = s.bucket_ms;
        let cur = s.epoch(now);
        let recent_from = cur.saturating_sub(self.recent_buckets);
        let first = s.first_epoch?;
        let baseline_from = recent_from.saturating_sub(self.baseline_buckets).max(first);
        if baseline_from >= recent_from {
            return None;
        }
        let baseline = s.sum(baseline_from, recent_from - 1);
        if baseline.requests < self.options.min_baseline_requests.max(1) {
            return None;
        }
        let recent = s.sum(recent_from, cur);
        if recent.requests < self.options.min_recent_requests {
            return None;
        }
        let baseline_span = ((recent_from - baseline_from) * bm) as f64;
        let recent_span = now.saturating_sub(recent_from * bm).max(1) as f64;
        let usd = Rates {
            recent: recent.usd,
            recent_span_ms: recent_span,
            baseline: if baseline.usd >= self.options.min_baseline_usd {
                baseline.usd
            } else {
                0.0
            },
            baseline_span_ms: baseline_span,
        };
        let tokens = Rates {
            recent: recent.tokens as f64,
            recent_span_ms: recent_span,
            baseline: if baseline.tokens >= self.options.min_baseline_tokens {
                baseline.tokens as f64
            } else {
                0.0
            },
            baseline_span_ms: baseline_span,
        };
        Some((usd, tokens))
    }

    /// The metric that spikes at `now` (cost first), or `None`.
    fn spiking(&self, now: u64) -> Option<(SpikeMetric, Rates, f64)> {
        let (usd, tokens) = self.rates(now)?;
        let factor = self.options.factor;
        if let Some(r) = usd.ratio().filter(|r| *r > factor) {
            return Some((SpikeMetric::Usd, usd, r));
        }
        let r = tokens.ratio().filter(|r| *r > factor)?;
        Some((SpikeMetric::Tokens, tokens, r))
    }

    /// Both metrics are at most `rearm_factor` × baseline (or have no usable baseline).
    fn quiet(&self, now: u64) -> bool {
        let Some((usd, tokens)) = self.rates(now) else {
            return true;
        };
        let limit = self.options.rearm();
        [usd.ratio(), tokens.ratio()]
            .into_iter()
            .flatten()
            .all(|r| r <= limit)
    }

    /// Record `usd`/`tokens` at `now`; the alert if a new episode starts.
    fn add(&mut self, now: u64, usd: f64, tokens: u64) -> Option<SpikeAlert> {
        if self.firing && self.quiet(now) {
            self.firing = false;
        }
        self.series.add(now, usd, tokens);
        if self.firing {
            return None;
        }
        let (metric, rates, ratio) = self.spiking(now)?;
        self.firing = true;
        Some(spike_alert(metric, &rates, ratio, self.options.recent_ms))
    }
}

fn spike_alert(metric: SpikeMetric, r: &Rates, ratio: f64, recent_ms: u64) -> SpikeAlert {
    // A baseline of a few atto-dollars can make the ratio overflow; keep it a number.
    let ratio = saturating_usd(ratio);
    let amount = |v: f64| match metric {
        SpikeMetric::Usd => usd_text(v),
        SpikeMetric::Tokens => {
            let mut s = (v.round() as u64).to_string();
            s.push_str(" tokens");
            s
        }
    };
    let mut m = String::from("spending spike: ");
    m.push_str(&amount(r.recent));
    m.push_str(" in the last ");
    m.push_str(&wait_text(recent_ms));
    m.push_str(", ");
    m.push_str(&tenths(ratio));
    m.push_str("x the usual ");
    m.push_str(&amount(r.expected()));
    SpikeAlert {
        metric,
        recent: r.recent,
        expected: r.expected(),
        ratio,
        recent_ms,
        message: m,
    }
}

/// `v` with one decimal (`4.2`), without the float formatting machinery.
fn tenths(v: f64) -> String {
    let t = if v.is_finite() && v > 0.0 {
        (v * 10.0).round() as u64
    } else {
        0
    };
    let mut s = (t / 10).to_string();
    s.push('.');
    s.push_str(&(t % 10).to_string());
    s
}

// ---------------------------------------------------------------------------------
// The meter
// ---------------------------------------------------------------------------------

/// What a recorded call raised.
#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    Spike(SpikeAlert),
    BudgetExceeded(BudgetAlert),
}

/// The meter's options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterOptions {
    pub budget: Option<Budget>,
    pub spike: Option<SpikeOptions>,
    /// Records kept (the oldest go first). Default 100.
    pub max_records: usize,
    /// Models (and, separately, providers) with their own totals; the rest are summed
    /// under [`OTHER_KEY`]. Default 256.
    pub max_keys: usize,
}

impl Default for MeterOptions {
    fn default() -> Self {
        MeterOptions {
            budget: None,
            spike: None,
            max_records: DEFAULT_MAX_RECORDS,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

/// The meter at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterSnapshot {
    pub total: Totals,
    /// By the model sent, its `:suffix` dropped; sorted by model.
    pub by_model: Vec<(String, Totals)>,
    /// By the provider that served it ([`UNKNOWN_KEY`] when unknown); sorted.
    pub by_provider: Vec<(String, Totals)>,
    pub budget: Option<BudgetStatus>,
    /// A spike episode is in progress (an alert fired and the rate is not back down).
    pub spiking: bool,
}

/// Running totals, recent records, budget and spike detection for one client.
///
/// The shell, per call: before sending, [`check_budget`](Self::check_budget) (fail the
/// call with its error); when the call ends (any way), build a [`RequestRecord`],
/// [`priced`](RequestRecord::priced), and [`record`](Self::record) it; hand the
/// returned alerts to the caller's `onAlert`.
#[derive(Debug, Clone)]
pub struct Meter {
    options: MeterOptions,
    total: Totals,
    by_model: VecMap<String, Totals>,
    by_provider: VecMap<String, Totals>,
    /// The kept records, oldest at `first`: a ring once `max_records` are kept. A `Vec`,
    /// not a `VecDeque`, whose code the wasm would otherwise compile for this alone.
    records: Vec<RequestRecord>,
    first: usize,
    budget: Option<BudgetState>,
    spike: Option<SpikeState>,
    seq: u64,
    latest_ms: u64,
}

impl Meter {
    /// A meter with these options (the budget and spike options are checked).
    pub fn new(options: MeterOptions) -> Result<Meter, Error> {
        if let Some(b) = &options.budget {
            b.check()?;
        }
        if let Some(s) = &options.spike {
            s.check()?;
        }
        Ok(Meter {
            options,
            total: Totals::default(),
            by_model: VecMap::new(),
            by_provider: VecMap::new(),
            records: Vec::new(),
            first: 0,
            budget: options.budget.map(BudgetState::new),
            spike: options.spike.map(SpikeState::new),
            seq: 0,
            latest_ms: 0,
        })
    }

    pub fn options(&self) -> MeterOptions {
        self.options
    }

    /// `Err` (kind `budget`, code [`BUDGET_USD_CODE`] or [`BUDGET_TOKENS_CODE`]) when
    /// the budget is used up at `now_ms`: the message says what was spent of which
    /// limit, over which window, and when it frees up. The check is before sending, so
    /// calls in flight can take the spend past the limit.
    pub fn check_budget(&self, now_ms: u64) -> Result<(), Error> {
        let now = now_ms.max(self.latest_ms);
        match self.budget.as_ref().map(|b| b.status(now)) {
            Some(status) if status.exceeded.is_some() => Err(budget_error(&status)),
            _ => Ok(()),
        }
    }

    /// The budget's state at `now_ms`, if there is a budget.
    pub fn budget_status(&self, now_ms: u64) -> Option<BudgetStatus> {
        let now = now_ms.max(self.latest_ms);
        self.budget.as_ref().map(|b| b.status(now))
    }

    /// Count a finished call. Returns the alerts it raised: the budget crossing its
    /// limit (once per crossing) and a spike (once per episode).
    pub fn record(&mut self, mut record: RequestRecord, now_ms: u64) -> Vec<Alert> {
        let now = self.clock(now_ms);
        self.seq += 1;
        record.seq = self.seq;
        let mut alerts = Vec::new();

        self.total.add(&record);
        let model_key = record
            .model
            .as_deref()
            .map(|m| crate::providers::split_model(m.trim()).0)
            .filter(|m| !m.is_empty())
            .unwrap_or(UNKNOWN_KEY);
        add_keyed(
            &mut self.by_model,
            model_key,
            self.options.max_keys,
            &record,
        );
        let provider_key = record.provider.as_deref().unwrap_or(UNKNOWN_KEY);
        add_keyed(
            &mut self.by_provider,
            provider_key,
            self.options.max_keys,
            &record,
        );

        let billed = !record.cache_hit;
        let (usd, tokens) = (record.billed_usd(), record.billed_tokens());
        if let Some(b) = self.budget.as_mut() {
            if b.status(now).exceeded.is_none() {
                b.alerted = false;
            }
            if billed {
                b.add(now, usd, tokens);
            }
            let status = b.status(now);
            if let (Some(metric), false) = (status.exceeded, b.alerted) {
                b.alerted = true;
                let (spent, limit) = match metric {
                    BudgetMetric::Usd => (status.usd_spent, status.usd_limit.unwrap_or(0.0)),
                    BudgetMetric::Tokens => (
                        status.tokens_spent as f64,
                        status.tokens_limit.unwrap_or(0) as f64,
                    ),
                };
                alerts.push(Alert::BudgetExceeded(BudgetAlert {
                    metric,
                    spent,
                    limit,
                    window_ms: status.window_ms,
                    frees_in_ms: status.frees_in_ms,
                }));
            }
        }
        if let (Some(s), true) = (self.spike.as_mut(), billed) {
            if let Some(alert) = s.add(now, usd, tokens) {
                alerts.push(Alert::Spike(alert));
            }
        }

        let max = self.options.max_records;
        if self.records.len() < max {
            self.records.push(record);
        } else if max > 0 {
            // Full: the new record takes the oldest one's place.
            self.records[self.first] = record;
            self.first = (self.first + 1) % max;
        }
        alerts
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &RequestRecord> {
        let (newer, older) = self.records.split_at(self.first);
        older.iter().chain(newer)
    }

    /// The most recent record.
    pub fn last_record(&self) -> Option<&RequestRecord> {
        let n = self.records.len();
        self.records.get((self.first + n).checked_sub(1)? % n)
    }

    /// Totals, budget state and spike state at `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> MeterSnapshot {
        MeterSnapshot {
            total: self.total,
            by_model: self.by_model.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            by_provider: self
                .by_provider
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            budget: self.budget_status(now_ms),
            spiking: self.spike.as_ref().is_some_and(|s| s.firing),
        }
    }

    /// Forget every total, record, budget spend and spike history (the options stay).
    pub fn reset(&mut self) {
        self.total = Totals::default();
        self.by_model.clear();
        self.by_provider.clear();
        self.records.clear();
        self.first = 0;
        if let Some(b) = self.budget.as_mut() {
            *b = BudgetState::new(b.budget);
        }
        if let Some(s) = self.spike.as_mut() {
            s.series.clear();
            s.firing = false;
        }
    }

    fn clock(&mut self, now_ms: u64) -> u64 {
        self.latest_ms = self.latest_ms.max(now_ms);
        self.latest_ms
    }
}

// --- The JSON the client's shell hands to JavaScript: `usage()` and each record.

/// A call's token usage as `usage` of a record: `{ promptTokens?, completionTokens?,
/// totalTokens?, cachedTokens?, reasoningTokens?, estimated? }`.
pub fn usage_json(u: &TokenUsage) -> String {
    let mut o = ObjectText::new();
    o.opt_number("promptTokens", u.prompt_tokens);
    o.opt_number("completionTokens", u.completion_tokens);
    o.opt_number("totalTokens", u.total_tokens);
    o.opt_number("cachedTokens", u.cached_tokens);
    o.opt_number("reasoningTokens", u.reasoning_tokens);
    if u.estimated {
        o.boolean("estimated", true);
    }
    o.end()
}

/// One request record, as `onRequest` and `usage().recent` give it.
pub fn record_json(r: &RequestRecord) -> String {
    let mut o = ObjectText::new();
    o.number("seq", r.seq);
    o.opt_string("model", r.model.as_deref());
    o.opt_string("provider", r.provider.as_deref());
    o.string("upstream", &r.url_key);
    o.opt_string("requestId", r.request_id.as_deref());
    match r.outcome {
        CallOutcome::Completed => o.string("outcome", "completed"),
        CallOutcome::Aborted => o.string("outcome", "aborted"),
        CallOutcome::Failed(kind) => o.string("outcome", &format!("failed:{}", kind.as_str())),
    };
    let mut latency = ObjectText::new();
    latency.opt_number("headersMs", r.latency.headers_ms);
    latency.opt_number("firstTokenMs", r.latency.first_token_ms);
    latency.opt_number("totalMs", r.latency.total_ms);
    o.raw("latency", &latency.end());
    if let Some(u) = &r.usage {
        o.raw("usage", &usage_json(u));
    }
    if let Some(c) = r.cost_usd {
        o.float("costUsd", c);
    }
    o.opt_string("priceKey", r.price_key.as_deref());
    o.number("attempts", u64::from(r.attempts));
    o.boolean("cacheHit", r.cache_hit);
    if let Some(c) = &r.rule {
        let mut rule = ObjectText::new();
        rule.number("index", c.index as u64);
        rule.string("model", &c.model);
        rule.number("promptTokens", c.prompt_tokens);
        o.raw("rule", &rule.end());
    }
    o.end()
}

fn totals_json(t: &Totals) -> String {
    let mut o = ObjectText::new();
    for (k, v) in [
        ("requests", t.requests),
        ("failed", t.failed),
        ("aborted", t.aborted),
        ("cacheHits", t.cache_hits),
        ("promptTokens", t.prompt_tokens),
        ("completionTokens", t.completion_tokens),
        ("totalTokens", t.total_tokens),
        ("cachedTokens", t.cached_tokens),
        ("reasoningTokens", t.reasoning_tokens),
        ("unpriced", t.unpriced),
        ("estimated", t.estimated),
    ] {
        o.number(k, v);
    }
    o.float("costUsd", t.cost_usd);
    o.end()
}

/// An alert as its callback gets it: `onSpike` `{ metric, recent, expected, ratio,
/// recentMs, message }`, `onBudget` `{ metric, spent, limit, freesInMs? }`.
pub fn alert_json(alert: &Alert) -> String {
    let mut o = ObjectText::new();
    match alert {
        Alert::Spike(s) => {
            o.string("metric", s.metric.name());
            o.float("recent", s.recent);
            o.float("expected", s.expected);
            o.float("ratio", s.ratio);
            o.number("recentMs", s.recent_ms);
            o.string("message", &s.message);
        }
        Alert::BudgetExceeded(b) => {
            o.string("metric", b.metric.name());
            o.float("spent", b.spent);
            o.float("limit", b.limit);
            o.opt_number("freesInMs", b.frees_in_ms);
        }
    }
    o.end()
}

/// What `usage()` answers: `{ total, byModel, byProvider, budget?, spiking, recent }`.
pub fn snapshot_json<'a>(
    s: &MeterSnapshot,
    records: impl IntoIterator<Item = &'a RequestRecord>,
) -> String {
    let mut o = ObjectText::new();
    o.raw("total", &totals_json(&s.total));
    for (key, list) in [("byModel", &s.by_model), ("byProvider", &s.by_provider)] {
        // Names are data (a model may be called anything): `ObjectText` escapes keys.
        let mut m = ObjectText::new();
        for (name, t) in list {
            m.raw(name, &totals_json(t));
        }
        o.raw(key, &m.end());
    }
    if let Some(b) = &s.budget {
        let mut bo = ObjectText::new();
        bo.float("usdSpent", b.usd_spent);
        bo.number("tokensSpent", b.tokens_spent);
        if let Some(l) = b.usd_limit {
            bo.float("usdLimit", l);
        }
        bo.opt_number("tokensLimit", b.tokens_limit);
        bo.opt_number("windowMs", b.window_ms);
        bo.boolean("exceeded", b.exceeded.is_some());
        bo.opt_number("freesInMs", b.frees_in_ms);
        o.raw("budget", &bo.end());
    }
    o.boolean("spiking", s.spiking);
    o.raw("recent", &array_text(records.into_iter().map(record_json)));
    o.end()
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_aborted_call_is_aborted_and_any_other_error_failed() {
        assert_eq!(
            CallOutcome::of_error(&Error::aborted()),
            CallOutcome::Aborted
        );
        assert_eq!(
            CallOutcome::of_error(&Error::http(500, "x")),
            CallOutcome::Failed(ErrorKind::Http)
        );
    }
    use super::*;

    #[test]
    fn metric_names_are_the_lowercased_variant_names_js_has_always_seen() {
        for (m, name) in [(BudgetMetric::Usd, "usd"), (BudgetMetric::Tokens, "tokens")] {
            assert_eq!(m.name(), name);
            assert_eq!(format!("{m:?}").to_lowercase(), name);
        }
        for (m, name) in [(SpikeMetric::Usd, "usd"), (SpikeMetric::Tokens, "tokens")] {
            assert_eq!(m.name(), name);
            assert_eq!(format!("{m:?}").to_lowercase(), name);
        }
    }

    #[test]
    fn tenths_rounds_without_float_formatting() {
        assert_eq!(tenths(4.24), "4.2");
        assert_eq!(tenths(4.25), "4.3");
        assert_eq!(tenths(10.0), "10.0");
        assert_eq!(tenths(f64::NAN), "0.0");
    }

    #[test]
    fn series_keeps_only_its_ring() {
        let mut s = Series::new(1000, 10, 10);
        assert_eq!(s.bucket_ms, 100);
        for t in (0..2000).step_by(100) {
            s.add(t, 1.0, 1);
        }
        let all = s.sum(0, 100);
        assert_eq!(all.requests, 10, "only the last ten buckets are kept");
        assert_eq!(s.sum(10, 19).tokens, 10);
    }
}
