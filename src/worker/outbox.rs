//! The settlements one isolate owes the `USAGE` objects, held as data so
//! that they can go in batches: a request's settlement waits here a moment,
//! then leaves with the next call to its object, whoever makes it (another
//! request's reservation, or the batch its owner sends). Pure: the caller
//! makes the calls and reports how they ended, and the clock is passed in.
//!
//! Only data is shared between requests, never a call under way: workerd
//! ties I/O to the request that started it, so each request makes its own
//! calls and the others only look at the states here.

use std::collections::{BTreeMap, HashMap};

/// A settlement put in, to ask after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// A batch taken out, to report on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(u64);

/// Where a settlement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for a call to carry it.
    Waiting,
    /// In a call under way.
    Sending,
    /// Stored by its object, or given up (no longer held).
    Gone,
}

/// How long a call may carry a batch before the batch counts as lost (its
/// request's context ended with the call still open) and waits again.
pub const SENDING_LIMIT_MS: u64 = 10_000;

#[derive(Debug)]
struct Entry<T> {
    object: String,
    item: T,
    sending: Option<(BatchId, u64)>,
}

/// The settlements not yet stored, by ticket.
#[derive(Debug)]
pub struct Outbox<T> {
    entries: BTreeMap<Ticket, Entry<T>>,
    batches: HashMap<BatchId, Vec<Ticket>>,
    next: u64,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox {
            entries: BTreeMap::new(),
            batches: HashMap::new(),
            next: 0,
        }
    }
}

impl<T: Clone> Outbox<T> {
    /// Holds `item` for `object`.
    pub fn put(&mut self, object: &str, item: T) -> Ticket {
        let ticket = Ticket(self.bump());
        self.entries.insert(
            ticket,
            Entry {
                object: object.to_owned(),
                item,
                sending: None,
            },
        );
        ticket
    }

    /// Where the settlement of `ticket` is at `now_ms`.
    pub fn state(&self, ticket: Ticket, now_ms: u64) -> State {
        match self.entries.get(&ticket) {
            None => State::Gone,
            Some(entry) => match entry.sending {
                Some((_, at)) if now_ms.saturating_sub(at) < SENDING_LIMIT_MS => State::Sending,
                _ => State::Waiting,
            },
        }
    }

    /// Takes every settlement waiting for `object` into a batch for a call
    /// about to be made; `None` when none waits.
    pub fn take(&mut self, object: &str, now_ms: u64) -> Option<(BatchId, Vec<T>)> {
        let batch = BatchId(self.next);
        let mut tickets = Vec::new();
        let mut items = Vec::new();
        for (ticket, entry) in &mut self.entries {
            let waiting = match entry.sending {
                Some((_, at)) => now_ms.saturating_sub(at) >= SENDING_LIMIT_MS,
                None => true,
            };
            if waiting && entry.object == object {
                entry.sending = Some((batch, now_ms));
                tickets.push(*ticket);
                items.push(entry.item.clone());
            }
        }
        if tickets.is_empty() {
            return None;
        }
        self.bump();
        self.batches.insert(batch, tickets);
        Some((batch, items))
    }

    /// Reports how the call that carried `batch` ended: stored (its
    /// settlements are gone), or not (they wait again, unless a later
    /// batch has taken them meanwhile).
    pub fn finish(&mut self, batch: BatchId, stored: bool) {
        for ticket in self.batches.remove(&batch).unwrap_or_default() {
            let Some(entry) = self.entries.get_mut(&ticket) else {
                continue;
            };
            if entry.sending.map(|(b, _)| b) != Some(batch) {
                continue;
            }
            if stored {
                self.entries.remove(&ticket);
            } else {
                entry.sending = None;
            }
        }
    }

    /// Gives up the settlement of `ticket` (its owner tried long enough).
    pub fn drop_ticket(&mut self, ticket: Ticket) {
        self.entries.remove(&ticket);
    }

    /// Settlements held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_carries_every_settlement_waiting_for_its_object() {
        let mut outbox = Outbox::default();
        let a = outbox.put("total", 1);
        let b = outbox.put("client:x", 2);
        let c = outbox.put("total", 3);
        let (batch, items) = outbox.take("total", 0).unwrap();
        assert_eq!(items, [1, 3]);
        assert_eq!(
            [outbox.state(a, 1), outbox.state(b, 1), outbox.state(c, 1)],
            [State::Sending, State::Waiting, State::Sending]
        );
        // Nothing more waits for the total meanwhile.
        assert_eq!(outbox.take("total", 1), None);
        let d = outbox.put("total", 4);
        outbox.finish(batch, true);
        assert_eq!(
            [outbox.state(a, 2), outbox.state(c, 2), outbox.state(d, 2)],
            [State::Gone, State::Gone, State::Waiting]
        );
        assert_eq!(outbox.take("total", 2).map(|(_, i)| i), Some(vec![4]));
        assert_eq!(outbox.len(), 2);
    }

    #[test]
    fn a_failed_call_leaves_its_settlements_waiting_again() {
        let mut outbox = Outbox::default();
        let a = outbox.put("total", 1);
        let (batch, _) = outbox.take("total", 0).unwrap();
        outbox.finish(batch, false);
        assert_eq!(outbox.state(a, 1), State::Waiting);
        let (again, items) = outbox.take("total", 1).unwrap();
        assert_eq!(items, [1]);
        assert_ne!(again, batch);
        outbox.finish(again, true);
        assert_eq!(outbox.state(a, 2), State::Gone);
        assert!(outbox.is_empty());
        // A ticket given up is gone too.
        let b = outbox.put("total", 2);
        outbox.drop_ticket(b);
        assert_eq!(outbox.state(b, 3), State::Gone);
        assert_eq!(outbox.take("total", 3), None);
    }

    #[test]
    fn a_batch_whose_call_never_ends_is_taken_again_and_its_late_report_ignored() {
        let mut outbox = Outbox::default();
        let a = outbox.put("total", 1);
        let (lost, _) = outbox.take("total", 0).unwrap();
        assert_eq!(outbox.state(a, SENDING_LIMIT_MS - 1), State::Sending);
        assert_eq!(outbox.state(a, SENDING_LIMIT_MS), State::Waiting);
        let (later, items) = outbox.take("total", SENDING_LIMIT_MS).unwrap();
        assert_eq!(items, [1]);
        // The lost call's report, coming late, changes nothing.
        outbox.finish(lost, false);
        assert_eq!(outbox.state(a, SENDING_LIMIT_MS), State::Sending);
        outbox.finish(later, true);
        assert_eq!(outbox.state(a, SENDING_LIMIT_MS), State::Gone);
    }
}
