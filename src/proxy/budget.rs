//! Spend caps and the usage ledger: tokens and US dollars per day, per client and for
//! the whole proxy.
//!
//! Owns: the budget options ([`BudgetOptions`], [`Caps`]); the spend of one window
//! ([`Spend`]); the ledger ([`BudgetLedger`]: the proxy's spend and each client's, in a
//! bounded map); what one finished call is charged ([`charge_of`]); whether a budget is
//! spent ([`BudgetLedger::check_proxy`], [`BudgetLedger::check_client`]) and the 429 that
//! says which one and when it resets ([`budget_refusal`]).
//!
//! Windows are fixed and aligned to the Unix epoch: with the default one-day window a
//! budget resets at 00:00 UTC. A call is checked before it is forwarded and charged when
//! it ends, from the usage the upstream reported; calls already in flight when a budget
//! runs out still finish, so a budget can be overshot by what those calls spend.
//!
//! The same ledger runs in one process (inside [`super::ProxyState`]) and in the Durable
//! Object that makes it global (one object holds one client's spend, one the proxy's):
//! the math lives here only. Must never: read a clock (the shell passes `now_ms`; time
//! only moves forward, as in the rate limiter), panic on any input, or grow without bound.

use super::wire::{pairs, Fields, W};
use super::{refuse, ProxyOptions, Reason, Respond};
use crate::error::cut;
use crate::json::{pairs_text, ObjectText};
use crate::types::Usage;
use crate::usage::{PriceTable, TokenUsage};

/// One day, the default budget window.
pub const DAY_MS: u64 = 86_400_000;
/// Clients whose spend one process remembers (beyond it, the least spent is forgotten).
pub const DEFAULT_MAX_BUDGET_CLIENTS: usize = 10_000;
/// Longest client key kept (as the rate limiter).
const MAX_KEY_BYTES: usize = 256;

/// Caps for one scope (the proxy or one client). `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct Caps {
    /// Tokens (prompt + completion, as reported) per window.
    pub tokens_per_day: Option<u64>,
    /// US dollars per window, priced with the proxy's `prices`.
    pub usd_per_day: Option<f64>,
}

impl Caps {
    pub(super) fn from_wire(w: W) -> Caps {
        let mut f = Fields::of(w);
        Caps {
            tokens_per_day: f.opt_u64(),
            usd_per_day: f.opt_f64(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens_per_day.is_none() && self.usd_per_day.is_none()
    }
}

/// The `budget` option: caps for the whole proxy and for each client.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct BudgetOptions {
    /// What the whole proxy (every client together) may spend per window.
    pub proxy: Caps,
    /// What each client key may spend per window.
    pub per_client: Caps,
    /// The window, in ms (default [`DAY_MS`]); windows start at multiples of it.
    pub window_ms: u64,
    /// Clients remembered in one process.
    pub max_clients: usize,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        BudgetOptions {
            proxy: Caps::default(),
            per_client: Caps::default(),
            window_ms: DAY_MS,
            max_clients: DEFAULT_MAX_BUDGET_CLIENTS,
        }
    }
}

impl BudgetOptions {
    pub(super) fn from_wire(w: W) -> BudgetOptions {
        let d = BudgetOptions::default();
        let mut f = Fields::of(w);
        let mut caps = || match f.next() {
            W::None => Caps::default(),
            w => Caps::from_wire(w),
        };
        let (proxy, per_client) = (caps(), caps());
        BudgetOptions {
            proxy,
            per_client,
            window_ms: f.u64(d.window_ms),
            max_clients: f.usize(d.max_clients),
        }
    }

    /// Whether any cap is set.
    pub fn is_active(&self) -> bool {
        !self.proxy.is_empty() || !self.per_client.is_empty()
    }

    /// Whether a USD cap is set (and so every call needs a price).
    pub fn needs_prices(&self) -> bool {
        self.proxy.usd_per_day.is_some() || self.per_client.usd_per_day.is_some()
    }

    fn window(&self) -> u64 {
        self.window_ms.max(1)
    }
}

/// Check a budget: caps finite and not negative; a USD cap needs a price table.
pub fn check_budget(opts: &BudgetOptions, prices: &PriceTable) -> Result<(), crate::Error> {
    for (scope, caps) in [
        ("budget", &opts.proxy),
        ("budget.perClient", &opts.per_client),
    ] {
        if let Some(usd) = caps.usd_per_day {
            if !usd.is_finite() || usd < 0.0 {
                return Err(crate::Error::input(format!(
                    "`{scope}.usdPerDay` must be a finite number of dollars, at least 0"
                )));
            }
        }
    }
    if opts.needs_prices() && prices.is_empty() {
        return Err(crate::Error::input(
            "a `usdPerDay` budget needs `prices` ({\"org/model\": {\"input\": 0.5, \"output\": 1.5}}, USD per million tokens) to price each call",
        ));
    }
    Ok(())
}

/// What one finished call is charged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct Charge {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt + completion (or the reported total when larger).
    pub tokens: u64,
    pub usd: f64,
}

impl Charge {
    pub(super) fn from_wire(w: W) -> Charge {
        let mut f = Fields::of(w);
        Charge {
            prompt_tokens: f.u64(0),
            completion_tokens: f.u64(0),
            tokens: f.u64(0),
            usd: f.f64(0.0),
        }
    }
}

/// The charge of a call for `model` that reported `usage` (none: the call still counts
/// as a request, at 0 tokens), priced with `prices` (a model with no price costs $0; with
/// a USD budget the shell refuses such models before forwarding, see [`BudgetLedger`]).
pub fn charge_of(usage: Option<&Usage>, model: Option<&str>, prices: &PriceTable) -> Charge {
    let Some(u) = usage else {
        return Charge::default();
    };
    let t = TokenUsage::from_usage(u);
    let prompt = t.prompt_tokens.unwrap_or(0);
    let completion = t.completion_tokens.unwrap_or(0);
    let tokens = t
        .total_tokens
        .unwrap_or(0)
        .max(prompt.saturating_add(completion));
    let usd = model
        .and_then(|m| prices.cost(&t, m, None))
        .map_or(0.0, |c| c.usd);
    Charge {
        prompt_tokens: prompt,
        completion_tokens: completion,
        tokens,
        usd,
    }
}

/// Whether a USD budget can price a call for `model`: `false` when a USD cap is set and
/// `prices` has no entry for it.
pub fn can_price(opts: &BudgetOptions, prices: &PriceTable, model: &str) -> bool {
    !opts.needs_prices() || prices.lookup(model, None).is_some()
}

/// What one scope spent in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct Spend {
    /// Start of the window this spend is for (ms since the epoch).
    pub window_start_ms: u64,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub tokens: u64,
    pub usd: f64,
}

impl Spend {
    pub(super) fn from_wire(w: W) -> Spend {
        let mut f = Fields::of(w);
        Spend {
            window_start_ms: f.u64(0),
            requests: f.u64(0),
            prompt_tokens: f.u64(0),
            completion_tokens: f.u64(0),
            tokens: f.u64(0),
            usd: f.f64(0.0),
        }
    }

    /// This spend as of the window starting at `start`: itself, or nothing if it is
    /// from an earlier window.
    fn in_window(&self, start: u64) -> Spend {
        if self.window_start_ms == start {
            *self
        } else {
            Spend {
                window_start_ms: start,
                ..Spend::default()
            }
        }
    }

    fn add(&mut self, c: &Charge) {
        self.requests = self.requests.saturating_add(1);
        self.prompt_tokens = self.prompt_tokens.saturating_add(c.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(c.completion_tokens);
        self.tokens = self.tokens.saturating_add(c.tokens);
        if c.usd.is_finite() && c.usd > 0.0 {
            self.usd += c.usd;
        }
    }
}

/// Whose budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub enum Scope {
    /// The whole proxy's.
    Proxy,
    /// The requesting client's.
    Client,
}

/// Which cap ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub enum CapKind {
    Tokens,
    Usd,
}

/// A spent budget: which, its cap, what was spent, and when it resets.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct Exhausted {
    pub scope: Scope,
    pub kind: CapKind,
    pub cap: f64,
    pub spent: f64,
    /// When the window ends (ms since the epoch).
    pub resets_at_ms: u64,
    /// The window's length, in ms.
    pub window_ms: u64,
    /// `resets_at_ms` minus the time of the check (at least 1).
    pub resets_in_ms: u64,
}

/// The proxy's spend and each client's, for the current window. Bounded: at most
/// `max_clients` clients; a new one beyond that first forgets clients with nothing spent
/// in the current window, then the one that spent least (so a client cannot wipe its own
/// spend by sending many keys: it would only push out the lightest spenders).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct BudgetLedger {
    total: Spend,
    /// Sorted by key.
    clients: Vec<(String, Spend)>,
    latest_ms: u64,
}

impl Exhausted {
    pub(super) fn from_wire(w: W) -> Exhausted {
        let mut f = Fields::of(w);
        Exhausted {
            scope: if f.u64(0) == 0 {
                Scope::Proxy
            } else {
                Scope::Client
            },
            kind: if f.u64(0) == 0 {
                CapKind::Tokens
            } else {
                CapKind::Usd
            },
            cap: f.f64(0.0),
            spent: f.f64(0.0),
            resets_at_ms: f.u64(0),
            window_ms: f.u64(0),
            resets_in_ms: f.u64(0),
        }
    }
}

impl BudgetLedger {
    pub(super) fn from_wire(w: W) -> BudgetLedger {
        let mut f = Fields::of(w);
        BudgetLedger {
            total: Spend::from_wire(f.next()),
            clients: pairs(f.next(), Spend::from_wire),
            latest_ms: f.u64(0),
        }
    }

    pub fn new() -> Self {
        BudgetLedger::default()
    }

    /// Whole ms of `now_ms`, never earlier than the latest seen.
    fn tick(&mut self, now_ms: f64) -> u64 {
        if now_ms.is_finite() && now_ms > 0.0 {
            // `as` saturates; the clock is epoch ms, far below u64::MAX.
            let now = now_ms.floor() as u64;
            self.latest_ms = self.latest_ms.max(now);
        }
        self.latest_ms
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.clients.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The proxy's spend in the window of `now_ms`.
    pub fn proxy_spend(&mut self, opts: &BudgetOptions, now_ms: f64) -> Spend {
        let now = self.tick(now_ms);
        self.total.in_window(window_start(now, opts.window()))
    }

    /// `key`'s spend in the window of `now_ms`.
    pub fn client_spend(&mut self, key: &str, opts: &BudgetOptions, now_ms: f64) -> Spend {
        let now = self.tick(now_ms);
        let start = window_start(now, opts.window());
        let key = cut(key, MAX_KEY_BYTES);
        self.find(key)
            .ok()
            .and_then(|i| self.clients.get(i))
            .map_or(
                Spend {
                    window_start_ms: start,
                    ..Spend::default()
                },
                |(_, s)| s.in_window(start),
            )
    }

    /// Clients remembered.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Whether the proxy-wide budget is spent at `now_ms`.
    pub fn check_proxy(&mut self, opts: &BudgetOptions, now_ms: f64) -> Option<Exhausted> {
        let spend = self.proxy_spend(opts, now_ms);
        exhausted(Scope::Proxy, &opts.proxy, &spend, opts, self.latest_ms)
    }

    /// Whether `key`'s budget is spent at `now_ms`.
    pub fn check_client(
        &mut self,
        key: &str,
        opts: &BudgetOptions,
        now_ms: f64,
    ) -> Option<Exhausted> {
        let spend = self.client_spend(key, opts, now_ms);
        exhausted(
            Scope::Client,
            &opts.per_client,
            &spend,
            opts,
            self.latest_ms,
        )
    }

    /// Both checks, the proxy's first.
    pub fn check(&mut self, key: &str, opts: &BudgetOptions, now_ms: f64) -> Option<Exhausted> {
        self.check_proxy(opts, now_ms)
            .or_else(|| self.check_client(key, opts, now_ms))
    }

    /// Add a finished call to the proxy's spend.
    pub fn record_proxy(&mut self, charge: &Charge, opts: &BudgetOptions, now_ms: f64) {
        let mut s = self.proxy_spend(opts, now_ms);
        s.add(charge);
        self.total = s;
    }

    /// Add a finished call to `key`'s spend.
    pub fn record_client(&mut self, key: &str, charge: &Charge, opts: &BudgetOptions, now_ms: f64) {
        let mut s = self.client_spend(key, opts, now_ms);
        s.add(charge);
        let key = cut(key, MAX_KEY_BYTES);
        match self.find(key) {
            Ok(i) => {
                if let Some((_, slot)) = self.clients.get_mut(i) {
                    *slot = s;
                }
            }
            Err(_) => {
                self.make_room(opts.max_clients.max(1), s.window_start_ms);
                let at = self.find(key).unwrap_or_else(|at| at);
                self.clients.insert(at, (key.to_owned(), s));
            }
        }
    }

    /// Both records.
    pub fn record(&mut self, key: &str, charge: &Charge, opts: &BudgetOptions, now_ms: f64) {
        self.record_proxy(charge, opts, now_ms);
        self.record_client(key, charge, opts, now_ms);
    }

    fn make_room(&mut self, max: usize, start: u64) {
        if self.clients.len() < max {
            return;
        }
        self.clients.retain(|(_, s)| s.window_start_ms == start);
        while self.clients.len() >= max {
            let lightest = self
                .clients
                .iter()
                .enumerate()
                .min_by(|(_, (_, a)), (_, (_, b))| {
                    a.usd
                        .total_cmp(&b.usd)
                        .then(a.tokens.cmp(&b.tokens))
                        .then(a.requests.cmp(&b.requests))
                })
                .map(|(i, _)| i);
            match lightest {
                Some(i) => {
                    self.clients.remove(i);
                }
                None => break,
            }
        }
    }
}

/// The start of the window holding `now`.
fn window_start(now: u64, window: u64) -> u64 {
    now - now % window
}

fn exhausted(
    scope: Scope,
    caps: &Caps,
    spend: &Spend,
    opts: &BudgetOptions,
    now: u64,
) -> Option<Exhausted> {
    let window = opts.window();
    let resets_at_ms = spend.window_start_ms.saturating_add(window);
    let make = |kind, cap: f64, spent: f64| Exhausted {
        scope,
        kind,
        cap,
        spent,
        resets_at_ms,
        window_ms: window,
        resets_in_ms: resets_at_ms.saturating_sub(now).max(1),
    };
    if let Some(cap) = caps.tokens_per_day {
        if spend.tokens >= cap {
            return Some(make(CapKind::Tokens, cap as f64, spend.tokens as f64));
        }
    }
    if let Some(cap) = caps.usd_per_day {
        if spend.usd >= cap {
            return Some(make(CapKind::Usd, cap, spend.usd));
        }
    }
    None
}

/// The 429 for a spent budget: which budget, its cap, and when it resets, in the message,
/// `Retry-After` (seconds, rounded up) and `Retry-After-Ms`.
pub fn budget_refusal(e: &Exhausted, origin: Option<&str>, opts: &ProxyOptions) -> Respond {
    let whose = match e.scope {
        Scope::Proxy => "this proxy's",
        Scope::Client => "this client's",
    };
    let period = if e.window_ms == DAY_MS {
        "daily".to_owned()
    } else {
        format!("{} s", e.window_ms.div_ceil(1000))
    };
    let cap = match e.kind {
        // Not `format!("{}", e.cap)` (see `float::display`), nor `float::display`: every
        // token cap the ledger sets is a whole number, printed the same way without the
        // general path's code (~3 KB gzipped); anything else, which only a hand-edited
        // state could carry, as JSON writes it.
        CapKind::Tokens => {
            crate::float::display_whole(e.cap).unwrap_or_else(|| crate::json::float_text(e.cap))
                + " tokens"
        }
        CapKind::Usd => crate::usage::usd_text(e.cap),
    };
    let secs = e.resets_in_ms.div_ceil(1000).max(1);
    let when = if e.window_ms == DAY_MS {
        format!("at 00:00 UTC, in {secs} s")
    } else {
        format!("in {secs} s")
    };
    let message = format!(
        "{whose} {period} budget of {cap} is spent; it resets {when} (at {} ms since the epoch)",
        e.resets_at_ms
    );
    let mut r = refuse(Reason::BudgetExhausted, &message, origin, opts);
    r.headers.push(("retry-after".into(), secs.to_string()));
    r.headers
        .push(("retry-after-ms".into(), e.resets_in_ms.to_string()));
    r
}

/// The 503 when the shared state (the Durable Object) did not answer in time: the proxy
/// fails closed, so no limit or budget is skipped while it cannot be checked.
pub fn state_unavailable(detail: &str, origin: Option<&str>, opts: &ProxyOptions) -> Respond {
    let mut r = refuse(
        Reason::StateUnavailable,
        &format!(
            "the proxy's shared limits could not be checked ({}); retry shortly",
            cut(detail, 200)
        ),
        origin,
        opts,
    );
    r.headers.push(("retry-after".into(), "1".into()));
    r
}

// ---------------------------------------------------------------------------------
// JSON text, as the derived `Serialize` wrote it (the fields in declaration order;
// the shared state's bodies and the Durable Object's snapshot)
// ---------------------------------------------------------------------------------

impl Caps {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .number_or_null("tokensPerDay", self.tokens_per_day)
            .float_or_null("usdPerDay", self.usd_per_day)
            .end()
    }
}

impl BudgetOptions {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .raw("proxy", &self.proxy.to_json())
            .raw("perClient", &self.per_client.to_json())
            .number("windowMs", self.window_ms)
            .number("maxClients", self.max_clients as u64)
            .end()
    }
}

impl Charge {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .number("promptTokens", self.prompt_tokens)
            .number("completionTokens", self.completion_tokens)
            .number("tokens", self.tokens)
            .float("usd", self.usd)
            .end()
    }
}

impl Spend {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .number("windowStartMs", self.window_start_ms)
            .number("requests", self.requests)
            .number("promptTokens", self.prompt_tokens)
            .number("completionTokens", self.completion_tokens)
            .number("tokens", self.tokens)
            .float("usd", self.usd)
            .end()
    }
}

impl Exhausted {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .string(
                "scope",
                match self.scope {
                    Scope::Proxy => "proxy",
                    Scope::Client => "client",
                },
            )
            .string(
                "kind",
                match self.kind {
                    CapKind::Tokens => "tokens",
                    CapKind::Usd => "usd",
                },
            )
            .float("cap", self.cap)
            .float("spent", self.spent)
            .number("resetsAtMs", self.resets_at_ms)
            .number("windowMs", self.window_ms)
            .number("resetsInMs", self.resets_in_ms)
            .end()
    }

    /// `null` for `None`.
    pub fn opt_to_json(e: Option<&Exhausted>) -> String {
        e.map_or_else(|| "null".to_owned(), Exhausted::to_json)
    }
}

impl BudgetLedger {
    pub fn to_json(&self) -> String {
        ObjectText::new()
            .raw("total", &self.total.to_json())
            .raw("clients", &pairs_text(&self.clients, Spend::to_json))
            .number("latestMs", self.latest_ms)
            .end()
    }

    /// Read from [`BudgetLedger::to_json`]'s text (missing fields are defaults).
    pub fn from_json(text: &str) -> Result<BudgetLedger, String> {
        super::wire::read(text, &super::wire::Ty::Struct(&super::wire::BUDGET_LEDGER))
            .map(BudgetLedger::from_wire)
    }
}
