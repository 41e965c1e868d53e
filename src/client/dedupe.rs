//! In-flight de-duplication: identical deterministic calls made while one is
//! in flight share its request. Each caller reads the shared answer into its
//! own result, so no two callers share a result object or an error.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared, WeakShared};
use js_sys::WeakMap;
use wasm_bindgen::{JsCast, JsValue};

use super::call::Answered;
use crate::protocol::error::Error;
use crate::protocol::task::Task;

/// A call's answer, awaited by every caller that shares it.
pub(crate) type SharedAnswer = Shared<LocalBoxFuture<'static, Result<Rc<Answered>, Error>>>;

/// What the map of calls in flight keeps: callers hold the call alive.
type WeakAnswer = WeakShared<LocalBoxFuture<'static, Result<Rc<Answered>, Error>>>;

/// What makes two calls the same call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub task: Task,
    pub model: String,
    pub content_type: Option<String>,
    pub body: BodyKey,
}

/// A body, as far as sharing goes: JSON text, or the identity of the
/// caller's byte object (the same `Blob` or view; equal bytes in another
/// object are another call).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BodyKey {
    Text(String),
    Object(u32),
}

/// The calls in flight of one client.
#[derive(Default)]
pub(crate) struct InFlight {
    calls: RefCell<HashMap<Key, (u64, WeakAnswer)>>,
    generation: Cell<u64>,
    ids: RefCell<Option<WeakMap>>,
    next_id: Cell<u32>,
}

impl InFlight {
    /// A number for a JS object, the same for as long as the object lives.
    pub fn object_id(&self, object: &JsValue) -> Option<u32> {
        let object = object.dyn_ref::<js_sys::Object>()?;
        let mut ids = self.ids.borrow_mut();
        let ids = ids.get_or_insert_with(WeakMap::new);
        if let Some(id) = ids.get(object).as_f64() {
            return Some(id as u32);
        }
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        ids.set(object, &JsValue::from(id));
        Some(id)
    }

    /// The answer of the call in flight under `key`, or of a new one that
    /// `start` makes. The entry goes when that call settles (a later
    /// identical call asks again) or when every caller drops it.
    pub fn share(
        self: &Rc<Self>,
        key: Key,
        start: impl FnOnce() -> LocalBoxFuture<'static, Result<Rc<Answered>, Error>>,
    ) -> SharedAnswer {
        if let Some(shared) = self
            .calls
            .borrow()
            .get(&key)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return shared;
        }
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let work = start();
        let forget = Forget {
            calls: Rc::downgrade(self),
            key: key.clone(),
            generation,
        };
        let shared = async move {
            // Forgotten when it settles, and also when every caller gave up on it.
            let _forget = forget;
            work.await
        }
        .boxed_local()
        .shared();
        if let Some(weak) = shared.downgrade() {
            self.calls.borrow_mut().insert(key, (generation, weak));
        }
        shared
    }
}

/// Forgets a call's entry when dropped (unless a newer call took its key).
struct Forget {
    calls: std::rc::Weak<InFlight>,
    key: Key,
    generation: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Some(in_flight) = self.calls.upgrade() {
            let mut calls = in_flight.calls.borrow_mut();
            if calls
                .get(&self.key)
                .is_some_and(|(g, _)| *g == self.generation)
            {
                calls.remove(&self.key);
            }
        }
    }
}
