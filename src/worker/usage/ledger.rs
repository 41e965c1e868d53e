//! The counts one `USAGE` Durable Object keeps: per UTC day and month, in
//! all and per model, what was forwarded, what it cost, and what is
//! reserved by requests still under way. One ledger per client, and one for
//! the whole proxy (its total cap). The object runs one call at a time, so
//! `reserve` sees every earlier reservation: concurrent requests cannot
//! together pass a cap that each alone would not.
//!
//! A request reserves an estimate before it is forwarded ([`Ledger::reserve`],
//! refused when spent + reserved + estimate would pass a cap), then settles
//! its real usage ([`Ledger::settle`]) or, not forwarded after all, releases
//! it ([`Ledger::release`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::budgets::{Cap, Refusal};
use super::calendar::{Day, Month, Period};
use super::cost::{Cost, Tokens};
use super::money::MicroUsd;
use super::prices::Prices;

/// Days of counts kept, today included.
pub const KEEP_DAYS: u32 = 62;

/// How long a reservation may stay open. One still open after this is
/// taken to be lost (its isolate died before settling) and is charged at
/// its estimate: a brake that forgot it would let the spend through
/// uncounted. An hour is far past any upstream timeout (at most 600 s).
pub const RESERVATION_TTL_MS: u64 = 3_600_000;

/// Costs a model's running average weighs: past this many, the sum and the
/// count are halved, so the average follows a model whose cost changes.
const AVERAGE_WINDOW: u64 = 1024;

/// The counts of a period, in all or for one model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests forwarded (and settled).
    pub requests: u64,
    /// Upstream attempts they made.
    pub attempts: u64,
    /// Requests that ended in an error.
    pub errors: u64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Upstream compute time (`x-compute-time`), in milliseconds.
    pub compute_ms: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, in micro-USD.
    pub cost_micro_usd: MicroUsd,
    /// Some of the cost is estimated, not billed.
    pub estimated: bool,
}

impl Counters {
    fn add(&mut self, usage: &Usage, cost: Cost) {
        self.requests += 1;
        self.attempts += u64::from(usage.attempts);
        self.errors += u64::from(usage.error);
        self.cache_hits += u64::from(usage.cache_hit);
        self.compute_ms += usage.compute_ms;
        self.prompt_tokens += usage.tokens.prompt;
        self.completion_tokens += usage.tokens.completion;
        self.charge(cost);
    }

    fn charge(&mut self, cost: Cost) {
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(cost.micro_usd);
        self.estimated |= cost.estimated;
    }
}

/// A period's counts: in all, and per model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Every model's counts together (and expired reservations' charges,
    /// which name no model).
    pub all: Counters,
    /// Each model's counts.
    pub models: BTreeMap<String, Counters>,
}

impl Totals {
    fn add(&mut self, usage: &Usage, cost: Cost) {
        self.all.add(usage, cost);
        self.models
            .entry(usage.model.clone())
            .or_default()
            .add(usage, cost);
    }
}

/// What a forwarded request used, as it is settled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The model (its Hugging Face id).
    pub model: String,
    /// Upstream attempts made.
    pub attempts: u32,
    /// It ended in an error.
    pub error: bool,
    /// It was answered from the cache.
    pub cache_hit: bool,
    /// Upstream compute time, in milliseconds.
    pub compute_ms: u64,
    /// Its tokens (zero when the answer counted none).
    pub tokens: Tokens,
    /// Its cost ([`super::cost::cost`]); `None` when no rule prices it, and
    /// the reservation's estimate is charged instead.
    pub cost: Option<Cost>,
}

/// A reservation, as `reserve` hands it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReservationId(pub u64);

/// An open reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Open {
    micro_usd: MicroUsd,
    at_ms: u64,
}

/// A model's running average cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Average {
    sum: MicroUsd,
    count: u64,
}

/// What the caps of a period leave, at the least (`None`: no cap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Left {
    /// Left today.
    pub day: Option<MicroUsd>,
    /// Left this month.
    pub month: Option<MicroUsd>,
}

impl Left {
    /// The least of both, period by period.
    pub fn min(self, other: Left) -> Left {
        let least = |a: Option<MicroUsd>, b: Option<MicroUsd>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Left {
            day: least(self.day, other.day),
            month: least(self.month, other.month),
        }
    }
}

/// One client's (or the proxy's) counts and open reservations.
///
/// Only the counts are stored ([`Ledger::to_json`]): reservations live in
/// the object's memory, so that the budget check, the one wait on a
/// request's path, is not also a storage write. An object restarted while
/// requests are under way (a deploy, or an eviction after it went a while
/// without a call) forgets their reservations: until they settle the cap
/// does not hold back their estimates, and their settlements still count
/// in full, at their own cost or else what they reserved
/// ([`Ledger::settle_held`]). Reservation ids are numbered from a start given per object
/// instance ([`Ledger::number_from`]), so an id from before a restart never
/// closes one made after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    days: BTreeMap<Day, Totals>,
    months: BTreeMap<Month, Totals>,
    #[serde(skip)]
    open: BTreeMap<ReservationId, Open>,
    #[serde(skip)]
    next_id: u64,
    /// Reservations charged when they expired, and when: a late settlement
    /// is then not charged again.
    #[serde(skip)]
    charged: BTreeMap<ReservationId, u64>,
    averages: BTreeMap<String, Average>,
}

impl Ledger {
    /// What a request for `model` reserves: `PRICES.models[model].request_usd`,
    /// else the model's running average cost, else `default_request_usd`.
    pub fn estimate(&self, model: &str, prices: &Prices) -> MicroUsd {
        if let Some(request) = prices.model(model).and_then(|m| m.request) {
            return request;
        }
        match self.averages.get(model) {
            Some(average) if average.count > 0 => average.sum.div_ceil(average.count),
            _ => prices.default_request,
        }
    }

    /// Reserves `estimate` at `now_ms` under `caps`, or refuses when spent +
    /// reserved + estimate would pass one (or one is already reached). Of
    /// several caps passed, the refusal names the one that resets last: the
    /// one `Retry-After` has to wait for.
    pub fn reserve(
        &mut self,
        estimate: MicroUsd,
        caps: &[Cap],
        now_ms: u64,
    ) -> Result<ReservationId, Refusal> {
        self.tidy(now_ms);
        let reserved = self.reserved(now_ms);
        let refusal = caps
            .iter()
            .filter(|cap| {
                let used = self.spent(cap.period, now_ms).saturating_add(reserved);
                used >= cap.micro_usd || used.saturating_add(estimate) > cap.micro_usd
            })
            .map(|cap| Refusal {
                cap: cap.clone(),
                retry_after_seconds: cap.period.seconds_left(now_ms),
            })
            .max_by_key(|refusal| refusal.retry_after_seconds);
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        let id = ReservationId(self.next_id);
        self.next_id += 1;
        self.open.insert(
            id,
            Open {
                micro_usd: estimate,
                at_ms: now_ms,
            },
        );
        Ok(id)
    }

    /// Records `usage` at `now_ms` and closes reservation `id`; answers the
    /// cost recorded. Without a cost of its own, the usage is charged at the
    /// reservation's estimate, marked estimated. A reservation already
    /// expired (and charged) has its usage recorded all the same, with its
    /// own cost or none: counts stay exact, and a spend is never forgotten.
    pub fn settle(&mut self, id: ReservationId, usage: &Usage, now_ms: u64) -> Cost {
        self.settle_held(id, usage, 0, now_ms)
    }

    /// [`Ledger::settle`], for a reservation of `estimate`: one this
    /// instance does not know (the object was restarted, or evicted while
    /// idle, since it was made) is charged `estimate` when the usage has no
    /// cost of its own, rather than nothing.
    pub fn settle_held(
        &mut self,
        id: ReservationId,
        usage: &Usage,
        estimate: MicroUsd,
        now_ms: u64,
    ) -> Cost {
        self.tidy(now_ms);
        let reserved = match self.open.remove(&id) {
            Some(open) => open.micro_usd,
            // Expired, and charged then.
            None if self.charged.remove(&id).is_some() => 0,
            None => estimate,
        };
        let cost = usage.cost.unwrap_or(Cost {
            micro_usd: reserved,
            estimated: true,
        });
        if usage.cost.is_some_and(|c| !c.estimated) {
            self.learn(&usage.model, cost.micro_usd);
        }
        self.count(usage, cost, now_ms);
        cost
    }

    /// Records `usage` at `now_ms` that held no reservation (a request no
    /// cap applied to, or an answer from the proxy's cache); answers the
    /// cost recorded. Without a cost of its own, it is charged what it
    /// would have reserved ([`Ledger::estimate`]), marked estimated. A cache
    /// hit is kept out of the model's average: a free answer would pull the
    /// next reservation under the real cost.
    pub fn record(&mut self, usage: &Usage, prices: &Prices, now_ms: u64) -> Cost {
        self.tidy(now_ms);
        let cost = usage.cost.unwrap_or_else(|| Cost {
            micro_usd: self.estimate(&usage.model, prices),
            estimated: true,
        });
        if !usage.cache_hit && usage.cost.is_some_and(|c| !c.estimated) {
            self.learn(&usage.model, cost.micro_usd);
        }
        self.count(usage, cost, now_ms);
        cost
    }

    fn count(&mut self, usage: &Usage, cost: Cost, now_ms: u64) {
        let (day, month) = (Day::of(now_ms), Month::of(now_ms));
        self.days.entry(day).or_default().add(usage, cost);
        self.months.entry(month).or_default().add(usage, cost);
    }

    /// Closes reservation `id` without recording anything (the request was
    /// not forwarded after all); `false` when it was not open.
    pub fn release(&mut self, id: ReservationId, now_ms: u64) -> bool {
        self.tidy(now_ms);
        self.open.remove(&id).is_some()
    }

    /// The counts of the day `now_ms` falls in.
    pub fn day(&self, now_ms: u64) -> Option<&Totals> {
        self.days.get(&Day::of(now_ms))
    }

    /// The counts of the month `now_ms` falls in.
    pub fn month(&self, now_ms: u64) -> Option<&Totals> {
        self.months.get(&Month::of(now_ms))
    }

    /// Spent in the `period` `now_ms` falls in.
    pub fn spent(&self, period: Period, now_ms: u64) -> MicroUsd {
        let totals = match period {
            Period::Day => self.day(now_ms),
            Period::Month => self.month(now_ms),
        };
        totals.map_or(0, |t| t.all.cost_micro_usd)
    }

    /// Reserved by the reservations still open at `now_ms`.
    pub fn reserved(&self, now_ms: u64) -> MicroUsd {
        self.open
            .values()
            .filter(|open| !expired(open, now_ms))
            .fold(0, |sum, open| sum.saturating_add(open.micro_usd))
    }

    /// What `caps` leave at `now_ms`, spent and reserved taken off.
    pub fn left(&self, caps: &[Cap], now_ms: u64) -> Left {
        let reserved = self.reserved(now_ms);
        let left = |period: Period| {
            let used = self.spent(period, now_ms).saturating_add(reserved);
            caps.iter()
                .filter(|cap| cap.period == period)
                .map(|cap| cap.micro_usd.saturating_sub(used))
                .min()
        };
        Left {
            day: left(Period::Day),
            month: left(Period::Month),
        }
    }

    /// Numbers this instance's reservations from `first` (an object takes a
    /// random start each time it loads its ledger).
    pub fn number_from(&mut self, first: u64) {
        self.next_id = first;
    }

    /// The ledger's counts as JSON, for the object's storage (open
    /// reservations are not stored).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A ledger from its stored JSON.
    pub fn from_json(text: &str) -> Result<Ledger, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Charges lost reservations and prunes the periods past keeping.
    fn tidy(&mut self, now_ms: u64) {
        let lost: Vec<ReservationId> = self
            .open
            .iter()
            .filter(|(_, open)| expired(open, now_ms))
            .map(|(id, _)| *id)
            .collect();
        self.charged
            .retain(|_, at| now_ms.saturating_sub(*at) < RESERVATION_TTL_MS);
        for id in lost {
            if let Some(open) = self.open.remove(&id) {
                self.charged.insert(id, now_ms);
                let cost = Cost {
                    micro_usd: open.micro_usd,
                    estimated: true,
                };
                self.days
                    .entry(Day::of(now_ms))
                    .or_default()
                    .all
                    .charge(cost);
                self.months
                    .entry(Month::of(now_ms))
                    .or_default()
                    .all
                    .charge(cost);
            }
        }
        let first = Day(Day::of(now_ms).0.saturating_sub(KEEP_DAYS - 1));
        self.days = self.days.split_off(&first);
        // A month is kept while any of its days is; a model's average while
        // a kept month counted it (so the map cannot grow without bound).
        let months = self.months.len();
        self.months = self.months.split_off(&first.month());
        if self.months.len() < months {
            let months = &self.months;
            self.averages
                .retain(|model, _| months.values().any(|t| t.models.contains_key(model)));
        }
    }

    /// Counts a known cost into `model`'s running average.
    fn learn(&mut self, model: &str, micro_usd: MicroUsd) {
        let average = self.averages.entry(model.to_owned()).or_default();
        if average.count >= AVERAGE_WINDOW {
            average.sum /= 2;
            average.count /= 2;
        }
        average.sum = average.sum.saturating_add(micro_usd);
        average.count += 1;
    }
}

/// Whether a reservation has been open too long.
fn expired(open: &Open, now_ms: u64) -> bool {
    now_ms.saturating_sub(open.at_ms) >= RESERVATION_TTL_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::random::SplitMix64;
    use crate::worker::usage::budgets::tests::cap;
    use crate::worker::usage::budgets::{Budgets, Scope};
    use crate::worker::usage::calendar::tests::at;
    use crate::worker::usage::prices::tests::EXAMPLE;

    const USD: MicroUsd = 1_000_000;

    /// 2026-12-01 at noon UTC.
    fn noon() -> u64 {
        at(2026, 12, 1, (12, 0, 0))
    }

    fn usage(model: &str, micro_usd: MicroUsd) -> Usage {
        Usage {
            model: model.to_owned(),
            attempts: 1,
            compute_ms: 500,
            cost: Some(Cost {
                micro_usd,
                estimated: false,
            }),
            ..Usage::default()
        }
    }

    fn day_caps(usd: u64) -> Vec<Cap> {
        vec![cap(Scope::Client, Period::Day, usd)]
    }

    #[test]
    fn the_estimate_is_the_price_else_the_average_else_the_default() {
        let prices = Prices::parse(
            r#"{"default_request_usd": 0.002, "models": {"priced": {"request_usd": 0.01}}}"#,
        )
        .unwrap();
        let mut ledger = Ledger::default();
        assert_eq!(ledger.estimate("priced", &prices), 10_000);
        assert_eq!(ledger.estimate("gpt2", &prices), 2_000);
        for micro_usd in [100, 200, 201] {
            let id = ledger.reserve(0, &[], noon()).unwrap();
            ledger.settle(id, &usage("gpt2", micro_usd), noon());
            ledger.settle(id, &usage("priced", 1), noon());
        }
        // 501 / 3, rounded up.
        assert_eq!(ledger.estimate("gpt2", &prices), 167);
        assert_eq!(ledger.estimate("priced", &prices), 10_000);
        // Estimated costs (no cost of its own, or an aborted stream) do not
        // move the average.
        let id = ledger.reserve(5_000, &[], noon()).unwrap();
        let unpriced = Usage {
            cost: None,
            ..usage("gpt2", 0)
        };
        ledger.settle(id, &unpriced, noon());
        let aborted = Usage {
            cost: Some(Cost {
                micro_usd: 9_999,
                estimated: true,
            }),
            ..usage("gpt2", 0)
        };
        ledger.settle(ReservationId(99), &aborted, noon());
        assert_eq!(ledger.estimate("gpt2", &prices), 167);
        // The average follows a model whose cost changes: past the window,
        // old costs weigh half.
        for _ in 0..AVERAGE_WINDOW {
            ledger.settle(ReservationId(99), &usage("gpt2", 1_000), noon());
        }
        let average = ledger.averages["gpt2"];
        assert!(average.count <= AVERAGE_WINDOW, "{average:?}");
        assert!(ledger.estimate("gpt2", &prices) > 900);
    }

    #[test]
    fn a_reservation_is_refused_when_it_would_pass_a_cap() {
        let mut ledger = Ledger::default();
        let caps = day_caps(1);
        let now = noon();
        let ids: Vec<_> = (0..3)
            .map(|_| ledger.reserve(300_000, &caps, now).unwrap())
            .collect();
        assert_eq!(ledger.reserved(now), 900_000);
        let refusal = ledger.reserve(300_000, &caps, now).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                cap: cap(Scope::Client, Period::Day, 1),
                retry_after_seconds: 12 * 3600,
            }
        );
        // What fits exactly is let through; then the cap is reached and
        // even a free request waits.
        let last = ledger.reserve(100_000, &caps, now).unwrap();
        assert!(ledger.reserve(0, &caps, now).is_err());
        // Released: its room is back.
        assert!(ledger.release(last, now));
        assert!(!ledger.release(last, now));
        assert_eq!(ledger.left(&caps, now).day, Some(100_000));
        // Settled for less than reserved: the difference is back.
        let settled = ledger.settle(ids[0], &usage("gpt2", 100_000), now);
        assert_eq!(settled.micro_usd, 100_000);
        assert_eq!(ledger.spent(Period::Day, now), 100_000);
        assert_eq!(ledger.reserved(now), 600_000);
        assert_eq!(ledger.left(&caps, now).day, Some(300_000));
        assert!(ledger.reserve(300_000, &caps, now).is_ok());
        assert!(ledger.reserve(1, &caps, now).is_err());
        // A cap of 0 refuses everything.
        assert!(Ledger::default().reserve(0, &day_caps(0), now).is_err());
    }

    #[test]
    fn the_refusal_names_the_cap_that_resets_last() {
        let budgets = Budgets::parse(
            r#"{"client": {"daily_usd": 1, "monthly_usd": 10}, "keys": {"mobile-app": {"daily_usd": 5}}}"#,
        )
        .unwrap();
        let caps = budgets.client_caps(Some("mobile-app"));
        let mut ledger = Ledger::default();
        // Ten days of 1 USD spend the month's 10.
        for day in 1..=10 {
            let now = at(2026, 12, day, (9, 0, 0));
            let id = ledger.reserve(USD, &caps, now).unwrap();
            ledger.settle(id, &usage("gpt2", USD), now);
        }
        let now = at(2026, 12, 11, (9, 0, 0));
        assert_eq!(
            ledger.left(&caps, now),
            Left {
                day: Some(5 * USD),
                month: Some(0)
            }
        );
        let refusal = ledger.reserve(USD, &caps, now).unwrap_err();
        assert_eq!(refusal.cap, cap(Scope::Client, Period::Month, 10));
        // From 11 December 09:00 to 1 January: 20 days and 15 hours.
        assert_eq!(refusal.retry_after_seconds, 20 * 86_400 + 15 * 3600);
        assert_eq!(
            refusal.message(),
            "the request would go over this client's monthly budget (10 USD); it resets on the first of the month at 00:00 UTC, in 1782000 s"
        );
        // The day's key cap and the month's client cap both passed: the
        // month's, which resets last, is named.
        let mut busy = Ledger::default();
        let id = busy.reserve(0, &[], now).unwrap();
        busy.settle(id, &usage("gpt2", 10 * USD), now);
        let both = busy.reserve(1, &caps, now).unwrap_err();
        assert_eq!(both.cap.period, Period::Month);
        // The key's own cap, named by the key.
        let mut today = Ledger::default();
        let id = today.reserve(0, &[], now).unwrap();
        today.settle(id, &usage("gpt2", 5 * USD), now);
        let key = today.reserve(1, &caps, now).unwrap_err();
        assert_eq!(
            key.cap,
            cap(Scope::Key("mobile-app".into()), Period::Day, 5)
        );
        assert_eq!(key.retry_after_seconds, 15 * 3600);
    }

    #[test]
    fn thirty_two_at_once_against_a_budget_for_four_forward_four() {
        let estimate = 250_000;
        let caps = day_caps(1);
        let mut ledger = Ledger::default();
        // Every reservation comes before any answer settles.
        let passed: Vec<_> = (0..32)
            .filter_map(|_| ledger.reserve(estimate, &caps, noon()).ok())
            .collect();
        assert_eq!(passed.len(), 4);
        for id in passed {
            ledger.settle(id, &usage("gpt2", estimate), noon());
        }
        assert_eq!(ledger.spent(Period::Day, noon()), USD);
        assert!(ledger.reserve(estimate, &caps, noon()).is_err());
    }

    #[test]
    fn thirty_two_interleaved_against_a_budget_for_four_forward_at_most_five() {
        // The object runs one call at a time: each interleaving is an
        // order of the 32 requests' reserve and settle calls, each settle
        // after its reserve, each real cost within a quarter of the
        // estimate.
        let estimate: MicroUsd = 250_000;
        let caps = day_caps(1);
        let mut most = 0;
        for seed in 0..500 {
            let mut random = SplitMix64::new(seed);
            let mut ledger = Ledger::default();
            // Request i's events: 2i is its reserve, 2i + 1 its settle.
            let mut pending: Vec<u64> = (0..32).map(|i| 2 * i).collect();
            let mut open = BTreeMap::new();
            let (mut forwarded, mut misses) = (0, 0);
            while !pending.is_empty() {
                let pick = (random.next_u64() % pending.len() as u64) as usize;
                let event = pending.swap_remove(pick);
                let request = event / 2;
                if event % 2 == 0 {
                    if let Ok(id) = ledger.reserve(estimate, &caps, noon()) {
                        forwarded += 1;
                        open.insert(request, id);
                        pending.push(event + 1);
                    }
                } else {
                    let real = estimate * 3 / 4 + random.next_u64() % (estimate / 2 + 1);
                    misses += real.saturating_sub(estimate);
                    let id = open.remove(&request).unwrap();
                    ledger.settle(id, &usage("gpt2", real), noon());
                }
            }
            most = most.max(forwarded);
            // Over the cap by no more than the estimates fell short.
            assert!(
                ledger.spent(Period::Day, noon()) <= USD + misses,
                "seed {seed}"
            );
        }
        assert!((4..=5).contains(&most), "{most} forwarded");
    }

    #[test]
    fn counts_are_kept_per_model_and_in_all() {
        let mut ledger = Ledger::default();
        let now = noon();
        let chat = Usage {
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            attempts: 2,
            error: false,
            cache_hit: false,
            compute_ms: 0,
            tokens: Tokens {
                prompt: 10,
                completion: 20,
            },
            cost: Some(Cost {
                micro_usd: 5,
                estimated: false,
            }),
        };
        let failed = Usage {
            error: true,
            attempts: 3,
            cost: None,
            ..usage("gpt2", 0)
        };
        let cached = Usage {
            cache_hit: true,
            attempts: 0,
            compute_ms: 0,
            ..usage("gpt2", 0)
        };
        let id = ledger.reserve(700, &[], now).unwrap();
        ledger.settle(id, &chat, now);
        let id = ledger.reserve(700, &[], now).unwrap();
        // No cost of its own: its reservation's, estimated.
        assert_eq!(
            ledger.settle(id, &failed, now),
            Cost {
                micro_usd: 700,
                estimated: true
            }
        );
        let id = ledger.reserve(700, &[], now).unwrap();
        ledger.settle(id, &cached, now);
        let day = ledger.day(now).unwrap();
        assert_eq!(
            day.all,
            Counters {
                requests: 3,
                attempts: 5,
                errors: 1,
                cache_hits: 1,
                compute_ms: 500,
                prompt_tokens: 10,
                completion_tokens: 20,
                cost_micro_usd: 705,
                estimated: true,
            }
        );
        assert_eq!(
            day.models["gpt2"],
            Counters {
                requests: 2,
                attempts: 3,
                errors: 1,
                cache_hits: 1,
                compute_ms: 500,
                cost_micro_usd: 700,
                estimated: true,
                ..Counters::default()
            }
        );
        assert!(!day.models["meta-llama/Llama-3.1-8B-Instruct"].estimated);
        assert_eq!(ledger.month(now), Some(day));
        assert_eq!(ledger.reserved(now), 0);
    }

    #[test]
    fn days_and_months_roll_over_at_utc_boundaries() {
        let caps = vec![
            cap(Scope::Client, Period::Day, 1),
            cap(Scope::Client, Period::Month, 3),
        ];
        let mut ledger = Ledger::default();
        let spend = |ledger: &mut Ledger, now| {
            let id = ledger.reserve(USD, &caps, now)?;
            ledger.settle(id, &usage("gpt2", USD), now);
            Ok::<_, Refusal>(())
        };
        // 2028 is a leap year: the 28th, the 29th, then March.
        let feb28 = at(2028, 2, 28, (23, 59, 59));
        spend(&mut ledger, feb28).unwrap();
        let refusal = spend(&mut ledger, feb28).unwrap_err();
        assert_eq!(
            (refusal.cap.period, refusal.retry_after_seconds),
            (Period::Day, 1)
        );
        let leap_day = at(2028, 2, 29, (0, 0, 0));
        assert_eq!(ledger.spent(Period::Day, leap_day), 0);
        assert_eq!(ledger.spent(Period::Month, leap_day), USD);
        spend(&mut ledger, leap_day).unwrap();
        let late = at(2028, 2, 29, (23, 59, 59)) + 999;
        let refusal = spend(&mut ledger, late).unwrap_err();
        assert_eq!(
            (refusal.cap.period, refusal.retry_after_seconds),
            (Period::Day, 1)
        );
        assert_eq!(ledger.spent(Period::Month, late), 2 * USD);
        let march = at(2028, 3, 1, (0, 0, 0));
        assert_eq!(ledger.spent(Period::Month, march), 0);
        assert_eq!(ledger.month(march), None);
        spend(&mut ledger, march).unwrap();
        assert_eq!(ledger.day(march).unwrap().all.requests, 1);
        assert_eq!(ledger.month(march).unwrap().all.requests, 1);
        // The month's cap, reached on 1 to 3 December, waits for January.
        let mut december = Ledger::default();
        for day in 1..=3 {
            spend(&mut december, at(2026, 12, day, (8, 0, 0))).unwrap();
        }
        let refusal = spend(&mut december, at(2026, 12, 31, (23, 0, 0))).unwrap_err();
        assert_eq!(
            (refusal.cap.period, refusal.retry_after_seconds),
            (Period::Month, 3600)
        );
        spend(&mut december, at(2027, 1, 1, (0, 0, 0))).unwrap();
        // And past the year's end the old months still read.
        assert_eq!(
            december.spent(Period::Month, at(2026, 12, 15, (0, 0, 0))),
            3 * USD
        );
    }

    #[test]
    fn sixty_two_days_are_kept() {
        let mut ledger = Ledger::default();
        let first = at(2026, 1, 1, (12, 0, 0));
        for day in 0..200 {
            let now = first + day * 86_400_000;
            let id = ledger.reserve(0, &[], now).unwrap();
            ledger.settle(id, &usage(&format!("model-{}", day / 40), 1), now);
        }
        let last = first + 199 * 86_400_000;
        assert_eq!(Day::of(last).iso(), "2026-07-19");
        assert_eq!(ledger.days.len(), 62);
        assert_eq!(ledger.days.keys().next().unwrap().iso(), "2026-05-19");
        // May (a kept day's month), June, July.
        assert_eq!(ledger.months.len(), 3);
        // Averages of models no kept month counted are dropped.
        assert_eq!(
            ledger.averages.keys().collect::<Vec<_>>(),
            ["model-3", "model-4"]
        );
        assert_eq!(ledger.spent(Period::Day, first), 0);
    }

    #[test]
    fn a_lost_reservation_is_charged_at_its_estimate() {
        let caps = day_caps(1);
        let mut ledger = Ledger::default();
        let lost = ledger.reserve(400_000, &caps, noon()).unwrap();
        let later = noon() + RESERVATION_TTL_MS;
        // Past its time it no longer counts as reserved but as spent.
        assert_eq!(ledger.reserved(later), 0);
        let id = ledger.reserve(400_000, &caps, later).unwrap();
        assert_eq!(ledger.reserved(later), 400_000);
        let day = ledger.day(later).unwrap();
        assert_eq!(day.all.cost_micro_usd, 400_000);
        assert!(day.all.estimated);
        assert_eq!(day.all.requests, 0);
        ledger.release(id, later);
        // Settled late, its counts are recorded; no cost of its own adds
        // nothing to the charge.
        let unpriced = Usage {
            cost: None,
            ..usage("gpt2", 0)
        };
        assert_eq!(
            ledger.settle(lost, &unpriced, later),
            Cost {
                micro_usd: 0,
                estimated: true
            }
        );
        let day = ledger.day(later).unwrap();
        assert_eq!((day.all.requests, day.all.cost_micro_usd), (1, 400_000));
    }

    #[test]
    fn a_reservation_this_instance_does_not_know_is_charged_its_estimate() {
        let mut ledger = Ledger::default();
        let unpriced = Usage {
            cost: None,
            ..usage("gpt2", 0)
        };
        // Made by an instance before a restart: unknown here.
        assert_eq!(
            ledger.settle_held(ReservationId(7), &unpriced, 2_500, noon()),
            Cost {
                micro_usd: 2_500,
                estimated: true
            }
        );
        // An open one is charged what it holds; its own cost wins.
        let id = ledger.reserve(900, &[], noon()).unwrap();
        assert_eq!(
            ledger.settle_held(id, &unpriced, 2_500, noon()).micro_usd,
            900
        );
        let id = ledger.reserve(900, &[], noon()).unwrap();
        assert_eq!(
            ledger
                .settle_held(id, &usage("gpt2", 40), 2_500, noon())
                .micro_usd,
            40
        );
        // One that expired was charged then, and is not charged again.
        let lost = ledger.reserve(1_000, &[], noon()).unwrap();
        let later = noon() + RESERVATION_TTL_MS;
        assert_eq!(ledger.reserved(later), 0);
        assert_eq!(
            ledger.settle_held(lost, &unpriced, 2_500, later).micro_usd,
            0
        );
        let charged = ledger.day(later).unwrap().all.cost_micro_usd;
        assert_eq!(charged, 2_500 + 900 + 40 + 1_000);
    }

    #[test]
    fn a_cache_hit_is_counted_without_a_reservation_or_a_charge() {
        let prices = Prices::parse(r#"{"default_request_usd": 0.002}"#).unwrap();
        let mut ledger = Ledger::default();
        let id = ledger.reserve(0, &[], noon()).unwrap();
        ledger.settle(id, &usage("gpt2", 300), noon());
        let hit = Usage {
            attempts: 0,
            cache_hit: true,
            compute_ms: 0,
            cost: Some(Cost::default()),
            ..usage("gpt2", 0)
        };
        assert_eq!(ledger.record(&hit, &prices, noon()), Cost::default());
        assert_eq!(ledger.record(&hit, &prices, noon()), Cost::default());
        let day = ledger.day(noon()).unwrap();
        let counted = (
            day.all.requests,
            day.all.attempts,
            day.all.cache_hits,
            day.all.cost_micro_usd,
            day.all.estimated,
        );
        assert_eq!(counted, (3, 1, 2, 300, false));
        assert_eq!(day.models["gpt2"].cache_hits, 2);
        assert_eq!(ledger.reserved(noon()), 0);
        // The average is the forwarded answer's, not pulled down by free hits.
        assert_eq!(ledger.estimate("gpt2", &prices), 300);
    }

    #[test]
    fn a_request_without_a_reservation_is_charged_its_cost_else_its_estimate() {
        let prices = Prices::parse(r#"{"default_request_usd": 0.002}"#).unwrap();
        let mut ledger = Ledger::default();
        let charged = |micro_usd, estimated| Cost {
            micro_usd,
            estimated,
        };
        // Unpriced before any known cost: the default estimate, estimated.
        let unpriced = Usage {
            cost: None,
            ..usage("gpt2", 0)
        };
        assert_eq!(
            ledger.record(&unpriced, &prices, noon()),
            charged(2_000, true)
        );
        // A known cost is charged and learnt, as a settlement's is.
        assert_eq!(
            ledger.record(&usage("gpt2", 500), &prices, noon()),
            charged(500, false)
        );
        assert_eq!(
            ledger.record(&unpriced, &prices, noon()),
            charged(500, true)
        );
        let day = ledger.day(noon()).unwrap();
        assert_eq!(
            (day.all.requests, day.all.cost_micro_usd, day.all.estimated),
            (3, 3_000, true)
        );
        assert_eq!(ledger.reserved(noon()), 0);
    }

    #[test]
    fn the_ledger_round_trips_through_its_stored_json() {
        let mut ledger = Ledger::default();
        let prices = Prices::parse(EXAMPLE).unwrap();
        let id = ledger
            .reserve(ledger.estimate("gpt2", &prices), &[], noon())
            .unwrap();
        ledger.settle(id, &usage("gpt2", 240), noon());
        let counted = ledger.clone();
        ledger.reserve(1_000, &[], noon()).unwrap();
        let stored = ledger.to_json();
        // The counts come back; the open reservation is not stored.
        let restored = Ledger::from_json(&stored).unwrap();
        assert_eq!(restored.day(noon()), counted.day(noon()));
        assert_eq!(restored.to_json(), counted.to_json());
        assert_eq!(
            (ledger.reserved(noon()), restored.reserved(noon())),
            (1_000, 0)
        );
        assert_eq!(restored.estimate("gpt2", &prices), 240);
        assert!(Ledger::from_json("{").is_err());
        // Ids of a new instance start where it is told to.
        let mut restarted = Ledger::from_json(&stored).unwrap();
        restarted.number_from(7 << 32);
        assert_eq!(
            restarted.reserve(1_000, &[], noon()),
            Ok(ReservationId(7 << 32))
        );
    }
}
