//! The index of clients the proxy's total object keeps, so that `GET /usage`
//! can page through every client's object: each client's name and the last
//! day it was heard from, pruned with the counts (62 days).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::Day;
use super::ledger::KEEP_DAYS;

/// Clients by name, with the day each was last heard from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIndex {
    seen: BTreeMap<String, Day>,
}

/// One page of client names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The names, in order.
    pub clients: Vec<String>,
    /// What to pass as `?cursor=` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl ClientIndex {
    /// Notes that `client` was heard from at `now_ms`, and forgets clients
    /// whose counts are all pruned; answers whether the index changed (a
    /// client heard from again the same day changes nothing, so the object
    /// stores the index once per client and day, not once per request).
    pub fn touch(&mut self, client: &str, now_ms: u64) -> bool {
        let today = Day::of(now_ms);
        let changed = match self.seen.get_mut(client) {
            Some(day) if *day == today => false,
            Some(day) => {
                *day = today;
                true
            }
            None => {
                self.seen.insert(client.to_owned(), today);
                true
            }
        };
        if changed {
            // Only a change can come with a new day: pruning waits for one.
            let first = Day(today.0.saturating_sub(KEEP_DAYS - 1));
            self.seen.retain(|_, day| *day >= first);
        }
        changed
    }

    /// Up to `limit` (at least 1) names after `cursor` (a name; the first
    /// page without one).
    pub fn page(&self, cursor: Option<&str>, limit: usize) -> Page {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = cursor.map_or(Unbounded, Excluded);
        let mut names = self
            .seen
            .range::<str, _>((from, Unbounded))
            .map(|(name, _)| name.clone());
        let clients: Vec<String> = names.by_ref().take(limit.max(1)).collect();
        // A next page only when there is one: the last page says null.
        let next_cursor = names.next().and_then(|_| clients.last().cloned());
        Page {
            clients,
            next_cursor,
        }
    }

    /// How many clients the index holds.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether the index holds no client.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::usage::calendar::tests::at;

    #[test]
    fn pages_follow_the_cursor_to_a_null_at_the_end() {
        let mut index = ClientIndex::default();
        let now = at(2026, 12, 1, (12, 0, 0));
        for name in [
            "ip:10.0.0.1",
            "mobile-app",
            "ip:2001:db8::/64",
            "batch",
            "mobile-app",
        ] {
            index.touch(name, now);
        }
        assert_eq!(index.len(), 4);
        let first = index.page(None, 2);
        assert_eq!(first.clients, ["batch", "ip:10.0.0.1"]);
        assert_eq!(first.next_cursor.as_deref(), Some("ip:10.0.0.1"));
        let second = index.page(first.next_cursor.as_deref(), 2);
        assert_eq!(second.clients, ["ip:2001:db8::/64", "mobile-app"]);
        assert_eq!(second.next_cursor, None);
        // A cursor between names, or past the end.
        assert_eq!(
            index.page(Some("c"), 10).clients,
            ["ip:10.0.0.1", "ip:2001:db8::/64", "mobile-app"]
        );
        assert_eq!(
            index.page(Some("z"), 10),
            Page {
                clients: vec![],
                next_cursor: None
            }
        );
        assert_eq!(index.page(None, 0).clients, ["batch"]);
    }

    #[test]
    fn clients_unheard_of_for_sixty_two_days_are_forgotten() {
        let mut index = ClientIndex::default();
        let start = at(2026, 12, 1, (12, 0, 0));
        index.touch("old", start);
        index.touch("kept", start);
        index.touch("kept", start + 30 * 86_400_000);
        assert!(index.touch("new", start + 61 * 86_400_000));
        assert!(!index.touch("new", start + 61 * 86_400_000 + 1_000));
        assert_eq!(index.len(), 3);
        assert!(index.touch("new", start + 62 * 86_400_000));
        assert_eq!(index.page(None, 10).clients, ["kept", "new"]);
    }
}
