//! The caller's `AbortSignal`s: waiting for one to fire, and passing an
//! abort on to an attempt's own `AbortController`. Every listener is removed
//! when its holder is dropped, so nothing outlives a call.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, AbortSignal};

use super::timer::Alarm;

/// `abort` listeners on some signals, removed on drop.
pub(crate) struct Listeners {
    signals: Vec<AbortSignal>,
    callback: Closure<dyn FnMut()>,
}

impl Listeners {
    /// Calls `on_abort` when any of `signals` aborts.
    pub fn new(signals: &[AbortSignal], on_abort: impl FnMut() + 'static) -> Listeners {
        let callback = Closure::<dyn FnMut()>::new(on_abort);
        for signal in signals {
            let _ =
                signal.add_event_listener_with_callback("abort", callback.as_ref().unchecked_ref());
        }
        Listeners {
            signals: signals.to_vec(),
            callback,
        }
    }

    /// Aborts `controller` when any of `signals` aborts.
    pub fn forward(signals: &[AbortSignal], controller: &AbortController) -> Listeners {
        let controller = controller.clone();
        Listeners::new(signals, move || controller.abort())
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for signal in &self.signals {
            let _ = signal.remove_event_listener_with_callback(
                "abort",
                self.callback.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Resolves when any of the signals aborts.
pub(crate) struct AbortWait {
    aborted: Rc<Alarm>,
    _listeners: Listeners,
}

impl AbortWait {
    /// Waits for any of `signals` (never resolves without any).
    pub fn new(signals: &[AbortSignal]) -> AbortWait {
        let aborted = Rc::new(Alarm::default());
        let rung = aborted.clone();
        let listeners = Listeners::new(signals, move || rung.ring());
        AbortWait {
            aborted,
            _listeners: listeners,
        }
    }
}

impl Future for AbortWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.aborted.poll(cx)
    }
}
