//! In-flight de-duplication: identical deterministic calls made while one is
//! in flight share its request. Each caller reads the shared answer into its
//! own result, so no two callers share a result object or an error.
//!
//! Calls are keyed by a JavaScript string (task, model, content type, then
//! the body's JSON text or the identity of the caller's byte object) in a JS
//! `Map`: the body stays a JS string, never copied into the wasm to be hashed.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures_util::future::{FutureExt, LocalBoxFuture, Shared, WeakShared};
use js_sys::{JsString, Map, WeakMap};
use slab::Slab;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// A `Map` or a `WeakMap`, whose `get`, `set` and `delete` are the same
    /// in JS: bound once for both (js-sys binds each class's own).
    pub(crate) type Keyed;

    #[wasm_bindgen(method)]
    fn get(this: &Keyed, key: &JsValue) -> JsValue;

    #[wasm_bindgen(method)]
    fn set(this: &Keyed, key: &JsValue, value: &JsValue);

    #[wasm_bindgen(method)]
    fn delete(this: &Keyed, key: &JsValue) -> bool;
}

use super::call::Answered;
use crate::protocol::error::Error;

type Work = LocalBoxFuture<'static, Result<Rc<Answered>, Error>>;

/// A call's answer, awaited by every caller that shares it.
pub(crate) type SharedAnswer = Shared<Work>;

/// The calls in flight of one client.
pub(crate) struct InFlight {
    /// Key → slot in `calls`, a `Map`. (A JS object is used through `&self`:
    /// the two maps need no cell.)
    keys: Keyed,
    /// Callers hold a call alive; this only finds it.
    calls: RefCell<Slab<WeakShared<Work>>>,
    /// Object → its id, a `WeakMap`.
    ids: Keyed,
    next_id: Cell<u32>,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight {
            keys: Map::new().unchecked_into(),
            calls: RefCell::default(),
            ids: WeakMap::new().unchecked_into(),
            next_id: Cell::new(0),
        }
    }
}

impl InFlight {
    /// A number for a JS object, the same for as long as the object lives.
    pub fn object_id(&self, object: &js_sys::Object) -> u32 {
        if let Some(id) = self.ids.get(object).as_f64() {
            return id as u32;
        }
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        self.ids.set(object, &JsValue::from(id));
        id
    }

    /// The answer of the call in flight under `key`, or of a new one that
    /// `start` makes. The entry goes when that call settles (a later
    /// identical call asks again) or when every caller drops it.
    pub fn share(self: &Rc<Self>, key: JsString, start: impl FnOnce() -> Work) -> SharedAnswer {
        if let Some(slot) = self.keys.get(&key).as_f64() {
            if let Some(shared) = self
                .calls
                .borrow()
                .get(slot as usize)
                .and_then(WeakShared::upgrade)
            {
                return shared;
            }
        }
        let slot = self.calls.borrow_mut().vacant_key();
        let forget = Forget {
            in_flight: Rc::downgrade(self),
            key: key.clone(),
            slot,
        };
        let work = start();
        let shared = async move {
            // Forgotten when it settles, and also when every caller gave up on it.
            let _forget = forget;
            work.await
        }
        .boxed_local()
        .shared();
        if let Some(weak) = shared.downgrade() {
            self.calls.borrow_mut().insert(weak);
            self.keys.set(&key, &JsValue::from(slot as u32));
        }
        shared
    }
}

/// Forgets a call's entry when dropped.
struct Forget {
    in_flight: Weak<InFlight>,
    key: JsString,
    slot: usize,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let Some(in_flight) = self.in_flight.upgrade() else {
            return;
        };
        {
            let mut calls = in_flight.calls.borrow_mut();
            if calls.contains(self.slot) {
                calls.remove(self.slot);
            }
        }
        let map = &in_flight.keys;
        if map.get(&self.key).as_f64() == Some(self.slot as f64) {
            map.delete(&self.key);
        }
    }
}
