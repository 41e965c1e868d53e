//! Deadlines that share one JavaScript timer. A call's deadline (60 s by
//! default) bounds every attempt, but almost every attempt ends long before
//! it: arming a `setTimeout` (and an `AbortController`) per attempt would cost
//! several percent of a call in Node for nothing. Instead every pending
//! deadline of the thread waits on one timer, armed for the earliest of
//! them; most attempts register and leave without touching it.
//!
//! Except in Cloudflare Workers, where a timer belongs to the request that
//! armed it (it is cancelled when that request ends, and may not wake another
//! request's work): there each deadline arms its own timer.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use js_sys::{Function, Reflect};
use slab::Slab;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::timer::{clear_timeout, set_timeout, Sleep, MAX_TIMER_MS};
use super::transport::now_ms;

/// The pending deadlines of this thread and the one timer they share.
struct Deadlines {
    /// The waker of each pending deadline: the very `Slab` type the shared
    /// futures of de-duplication keep their wakers in, so the wasm holds
    /// one copy of its code.
    waiting: Slab<Option<Waker>>,
    /// When each of them passes, by the same key (grown with the slab).
    ats: Vec<u64>,
    /// When the armed timer fires, and its id.
    armed: Option<(u64, JsValue)>,
    /// The timer's callback, made once.
    callback: Option<Closure<dyn FnMut()>>,
}

thread_local! {
    // Built at compile time: no lazy initialisation on each access.
    static DEADLINES: RefCell<Deadlines> = const {
        RefCell::new(Deadlines {
            waiting: Slab::new(),
            ats: Vec::new(),
            armed: None,
            callback: None,
        })
    };
}

impl Deadlines {
    /// Arms the timer for `at` unless it fires sooner already.
    fn arm(&mut self, at: u64, now: u64) {
        if self.armed.as_ref().is_some_and(|(armed, _)| *armed <= at) {
            return;
        }
        if let Some((_, id)) = self.armed.take() {
            clear_timeout(&id);
        }
        let callback = self
            .callback
            .get_or_insert_with(|| Closure::<dyn FnMut()>::new(fire));
        let ms = at.saturating_sub(now).min(MAX_TIMER_MS) as f64;
        let id = set_timeout(callback.as_ref().unchecked_ref(), ms);
        // In Node, a timer keeps the process alive: this one must not (an
        // attempt in flight keeps it alive by its own socket).
        if let Some(unref) = Reflect::get(&id, &"unref".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = unref.call0(&id);
        }
        self.armed = Some((at, id));
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
        let Deadlines { waiting, ats, .. } = &mut *d;
        for (key, waker) in waiting.iter_mut() {
            let at = ats.get(key).copied().unwrap_or_default();
            if at <= now {
                if let Some(waker) = waker.take() {
                    wakers.push(waker);
                }
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
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

thread_local! {
    // Whether timers are per request, once known: a `const` cell read by
    // hand rather than a lazy thread-local (one copy fewer of the standard
    // library's lazy initialisation in the wasm).
    static PER_REQUEST_TIMERS: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Whether each deadline arms its own timer (in Cloudflare Workers).
fn per_request_timers() -> bool {
    PER_REQUEST_TIMERS.with(|known| {
        known.get().unwrap_or_else(|| {
            let per_request = in_workers();
            known.set(Some(per_request));
            per_request
        })
    })
}

/// Whether this runs in Cloudflare Workers (`navigator.userAgent`).
fn in_workers() -> bool {
    let navigator =
        js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or_default();
    js_sys::Reflect::get(&navigator, &"userAgent".into())
        .ok()
        .and_then(|agent| agent.as_string())
        .is_some_and(|agent| agent == "Cloudflare-Workers")
}

/// Resolves once the clock passes `at` (Unix milliseconds).
pub(crate) struct Deadline {
    at: u64,
    key: Option<usize>,
    /// The deadline's own timer, where timers cannot be shared.
    own: Option<Sleep>,
}

impl Deadline {
    /// A deadline at `at`.
    pub fn at(at: u64) -> Deadline {
        let own = per_request_timers().then(|| Sleep::new(at.saturating_sub(now_ms())));
        Deadline { at, key: None, own }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(own) = self.own.as_mut() {
            return Pin::new(own).poll(cx);
        }
        let now = now_ms();
        if now >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        let key = DEADLINES.with(|d| {
            let mut d = d.borrow_mut();
            let key = match self.key {
                Some(key) => {
                    if let Some(waker) = d.waiting.get_mut(key) {
                        *waker = Some(cx.waker().clone());
                    }
                    key
                }
                None => {
                    let key = d.waiting.insert(Some(cx.waker().clone()));
                    // A slab's new key is a freed one or the next past its
                    // end, so `ats` grows in step with it.
                    match d.ats.get_mut(key) {
                        Some(slot) => *slot = at,
                        None => d.ats.push(at),
                    }
                    key
                }
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
                // The timer stays armed (re-arming it per attempt is what
                // this module avoids): when it fires with nothing waiting,
                // it is not armed again. It does not hold a Node process.
            });
        }
    }
}
