//! Deadlines that share one JavaScript timer. A call's deadline (60 s by
//! default) bounds every attempt, but almost every attempt ends long before
//! it: arming a `setTimeout` (and an `AbortController`) per attempt would cost
//! several percent of a call in Node for nothing. Instead every pending
//! deadline of the thread waits on one timer, armed for the earliest of
//! them; most attempts register and leave without touching it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::Timeout;
use slab::Slab;

use super::transport::now_ms;

/// Longest wait `setTimeout` takes without firing at once.
const MAX_TIMER_MS: u64 = 0x7FFF_FFFF;

/// The pending deadlines of this thread and the one timer they share.
#[derive(Default)]
struct Deadlines {
    waiting: Slab<(u64, Option<Waker>)>,
    /// When the armed timer fires, and the timer.
    armed: Option<(u64, Timeout)>,
}

thread_local! {
    static DEADLINES: RefCell<Deadlines> = RefCell::new(Deadlines::default());
}

impl Deadlines {
    /// Arms the timer for `at` unless it fires sooner already.
    fn arm(&mut self, at: u64, now: u64) {
        if self.armed.as_ref().is_some_and(|(armed, _)| *armed <= at) {
            return;
        }
        if let Some((_, timer)) = self.armed.take() {
            timer.cancel();
        }
        let ms = at.saturating_sub(now).min(MAX_TIMER_MS) as u32;
        self.armed = Some((at, Timeout::new(ms, fire)));
    }
}

/// The timer fired: wakes every deadline that has passed and arms the timer
/// for the earliest one left.
fn fire() {
    let wakers: Vec<Waker> = DEADLINES.with(|d| {
        let mut d = d.borrow_mut();
        d.armed = None;
        let now = now_ms();
        let mut wakers = Vec::new();
        let mut next: Option<u64> = None;
        for (_, (at, waker)) in d.waiting.iter_mut() {
            if *at <= now {
                wakers.extend(waker.take());
            } else {
                next = Some(next.map_or(*at, |n| n.min(*at)));
            }
        }
        if let Some(at) = next {
            d.arm(at, now);
        }
        wakers
    });
    // Woken outside the borrow: a woken task may register a new deadline.
    for waker in wakers {
        waker.wake();
    }
}

/// Resolves once the clock passes `at` (Unix milliseconds).
pub(crate) struct Deadline {
    at: u64,
    key: Option<usize>,
}

impl Deadline {
    /// A deadline at `at`.
    pub fn at(at: u64) -> Deadline {
        Deadline { at, key: None }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = now_ms();
        if now >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        let key = DEADLINES.with(|d| {
            let mut d = d.borrow_mut();
            let key = match self.key {
                Some(key) => {
                    if let Some(entry) = d.waiting.get_mut(key) {
                        entry.1 = Some(cx.waker().clone());
                    }
                    key
                }
                None => d.waiting.insert((at, Some(cx.waker().clone()))),
            };
            d.arm(at, now);
            key
        });
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            DEADLINES.with(|d| {
                let mut d = d.borrow_mut();
                if d.waiting.contains(key) {
                    d.waiting.remove(key);
                }
                // The timer stays armed: when it fires with nothing waiting,
                // it simply is not armed again.
            });
        }
    }
}
