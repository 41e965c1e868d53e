//! One-shot timers on the runtime's `setTimeout`: a callback run after a
//! wait ([`Timeout`]) and a future that resolves after one ([`Sleep`]).
//!
//! gloo-timers does the same, but binds `setTimeout` and `clearTimeout` a
//! second time beside the shared deadline timer's bindings (which need the
//! timer's id to `unref` it in Node), and its future waits on a
//! `futures-channel` oneshot, thread-safe where everything here runs on one
//! thread: an [`Alarm`] (a `Cell` and a waker) does what the oneshot did,
//! here and for the caller's abort signals (`abort.rs`).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Longest wait `setTimeout` takes without firing at once.
pub(crate) const MAX_TIMER_MS: u64 = 0x7FFF_FFFF;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    pub(crate) fn clear_timeout(id: &JsValue);
}

/// A callback that runs once after a wait, unless this is dropped first.
pub(crate) struct Timeout {
    id: JsValue,
    /// Kept alive until the timer fires or is cleared.
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Runs `callback` once `ms` have passed (at most [`MAX_TIMER_MS`]).
    pub fn new(ms: u64, callback: Closure<dyn FnMut()>) -> Timeout {
        let id = set_timeout(
            callback.as_ref().unchecked_ref(),
            ms.min(MAX_TIMER_MS) as f64,
        );
        Timeout {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // Clearing a timer that already fired does nothing.
        clear_timeout(&self.id);
    }
}

/// Something that happens once (a timer fires, a signal aborts), and the
/// task to wake when it does.
#[derive(Default)]
pub(crate) struct Alarm {
    rung: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Alarm {
    /// It happened: wakes the waiting task, if any.
    pub fn ring(&self) {
        self.rung.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Ready once rung; else `cx`'s task is woken when it is.
    pub fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        if self.rung.get() {
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// Resolves once a wait has passed; dropped, it clears its timer.
pub(crate) struct Sleep {
    alarm: Rc<Alarm>,
    _timeout: Timeout,
}

impl Sleep {
    /// A wait of `ms` (at most [`MAX_TIMER_MS`]). Armed even at 0: it then
    /// resolves once the tasks queued now have run.
    pub fn new(ms: u64) -> Sleep {
        let alarm = Rc::new(Alarm::default());
        let fired = alarm.clone();
        let callback = Closure::<dyn FnMut()>::new(move || fired.ring());
        Sleep {
            alarm,
            _timeout: Timeout::new(ms, callback),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.alarm.poll(cx)
    }
}
