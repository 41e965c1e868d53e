//! Settlements sent to the `USAGE` objects in batches. A request's
//! settlement is put in the isolate's [`Outbox`] and waits a moment; then
//! the first of the requests waiting for the same object that finds it
//! still waiting sends every settlement waiting there in one call, stored
//! once by the object. Each request makes its own calls and only looks at
//! the outbox's states (see [`super::outbox`]). An idle proxy sends each
//! one alone, a moment late; a busy one sends a call per batch rather than
//! per request, which the one total object, told of every request, can
//! keep up with.

use std::cell::{Cell, RefCell};

use worker::Env;

use super::meter::{call, Settlement};
use super::outbox::{Outbox, State};
use crate::client::timer::Sleep;
use crate::client::transport::now_ms;

/// How long a settlement waits for others to go with.
const GATHER_MS: u64 = 5;

/// How often a settlement that another request's call carries looks again.
const POLL_MS: u64 = 5;

/// Calls a request makes for its own settlement before giving it up (its
/// reservation then expires and is charged at its estimate).
const TRIES: u32 = 3;

thread_local! {
    static OUTBOX: RefCell<Outbox<Settlement>> = RefCell::new(Outbox::default());
    /// The next settlement key: a random start per isolate, then counted.
    static NEXT_KEY: Cell<u64> = Cell::new(((js_sys::Math::random() * 4_294_967_296.0) as u64) << 32);
}

/// A key no other settlement of any isolate is likely to have (the object
/// applies a key once: see [`Settlement::key`]).
pub(super) fn key() -> u64 {
    NEXT_KEY.with(|next| {
        let key = next.get();
        next.set(key.wrapping_add(1));
        key
    })
}

/// Settles `settlement` in `object`, in the next batch to it; resolves once
/// a call carrying it was answered, or this request gave up on it.
pub(super) async fn send(env: &Env, object: &str, settlement: Settlement) {
    let ticket = OUTBOX.with(|o| o.borrow_mut().put(object, settlement));
    Sleep::new(GATHER_MS).await;
    let mut tries = 0;
    loop {
        match OUTBOX.with(|o| o.borrow().state(ticket, now_ms())) {
            State::Gone => return,
            State::Sending => Sleep::new(POLL_MS).await,
            State::Waiting if tries == TRIES => {
                OUTBOX.with(|o| o.borrow_mut().drop_ticket(ticket));
                return;
            }
            State::Waiting => {
                tries += 1;
                let Some((batch, items)) = OUTBOX.with(|o| o.borrow_mut().take(object, now_ms()))
                else {
                    continue;
                };
                let stored = call::<usize>(env, object, "settle", &items).await.is_some();
                OUTBOX.with(|o| o.borrow_mut().finish(batch, stored));
            }
        }
    }
}
