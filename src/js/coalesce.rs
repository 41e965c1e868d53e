//! Fewer requests for the same work: identical calls in flight share one
//! request (de-duplication), and, when asked, single-text classification calls
//! made within a short window go as one batched request (micro-batching).
//!
//! Both wait on a JS promise used only as a signal; the outcome itself stays
//! in Rust, in a slot every waiter reads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::fetch::Timer;
use crate::protocol::error::InferenceError;

/// A promise and the function that resolves it.
fn signal() -> (Promise, Function) {
    let mut resolve = None;
    let promise = Promise::new(&mut |res, _| resolve = Some(res));
    (
        promise,
        resolve.unwrap_or_else(|| Function::new_no_args("")),
    )
}

struct Shared<T> {
    done: Promise,
    outcome: RefCell<Option<Result<T, InferenceError>>>,
}

/// Calls in flight by key; a second identical call waits for the first.
pub struct Deduper<T> {
    calls: RefCell<HashMap<String, Rc<Shared<T>>>>,
}

impl<T: Clone> Default for Deduper<T> {
    fn default() -> Self {
        Deduper {
            calls: RefCell::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Deduper<T> {
    /// Runs `call` unless the same `key` is already in flight, in which case
    /// its outcome is shared.
    pub async fn run<F: Future<Output = Result<T, InferenceError>>>(
        &self,
        key: String,
        call: F,
    ) -> Result<T, InferenceError> {
        let existing = self.calls.borrow().get(&key).cloned();
        if let Some(shared) = existing {
            let _ = JsFuture::from(shared.done.clone()).await;
            if let Some(outcome) = shared.outcome.borrow().clone() {
                return outcome;
            }
        }
        let (done, resolve) = signal();
        let shared = Rc::new(Shared {
            done,
            outcome: RefCell::new(None),
        });
        self.calls.borrow_mut().insert(key.clone(), shared.clone());
        let outcome = call.await;
        self.calls.borrow_mut().remove(&key);
        *shared.outcome.borrow_mut() = Some(outcome.clone());
        let _ = resolve.call0(&JsValue::UNDEFINED);
        outcome
    }
}

/// Micro-batching settings (`batch: {windowMs, maxSize}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// How long the first call of a batch waits for others.
    pub window_ms: u64,
    /// A batch is sent at once when it holds this many texts.
    pub max_size: usize,
}

struct Batch<T> {
    texts: Vec<String>,
    /// Sends the batch before its window ends (it is full).
    send_now: Function,
    done: Promise,
    outcome: Option<Result<Vec<T>, InferenceError>>,
}

/// Open batches by key (model and parameters).
pub struct Batcher<T> {
    open: RefCell<HashMap<String, Rc<RefCell<Batch<T>>>>>,
}

impl<T: Clone> Default for Batcher<T> {
    fn default() -> Self {
        Batcher {
            open: RefCell::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Batcher<T> {
    /// Adds `text` to the open batch of `key` (or opens one) and returns this
    /// text's own result once the batch's one request, `send(texts)`, answers
    /// with one result per text; its failure is every member's.
    pub async fn run<F, Fut>(
        &self,
        key: String,
        text: String,
        config: BatchConfig,
        send: F,
    ) -> Result<T, InferenceError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<Vec<T>, InferenceError>>,
    {
        let joined = self.open.borrow().get(&key).cloned();
        if let Some(batch) = joined {
            let (index, done, full) = {
                let mut b = batch.borrow_mut();
                b.texts.push(text);
                (
                    b.texts.len() - 1,
                    b.done.clone(),
                    b.texts.len() >= config.max_size,
                )
            };
            if full {
                self.open.borrow_mut().remove(&key);
                let _ = batch.borrow().send_now.call0(&JsValue::UNDEFINED);
            }
            let _ = JsFuture::from(done).await;
            // Only this member's own result is copied out.
            return match &batch.borrow().outcome {
                Some(Ok(results)) => results.get(index).cloned().ok_or_else(missing),
                Some(Err(err)) => Err(err.clone()),
                None => Err(missing()),
            };
        }
        // The first text: open the batch, wait for the window (or a full batch), send.
        let (done, resolve) = signal();
        let (window, send_now) = signal();
        let batch = Rc::new(RefCell::new(Batch {
            texts: vec![text],
            send_now: send_now.clone(),
            done,
            outcome: None,
        }));
        if config.max_size > 1 {
            self.open.borrow_mut().insert(key.clone(), batch.clone());
            let _timer = Timer::start(config.window_ms, move || {
                let _ = send_now.call0(&JsValue::UNDEFINED);
            });
            let _ = JsFuture::from(window).await;
        }
        let still_open = self
            .open
            .borrow()
            .get(&key)
            .is_some_and(|b| Rc::ptr_eq(b, &batch));
        if still_open {
            self.open.borrow_mut().remove(&key);
        }
        // Closed: nobody joins any more, so the texts can be moved out.
        let texts = std::mem::take(&mut batch.borrow_mut().texts);
        let outcome = send(texts).await;
        let mine = match &outcome {
            Ok(results) => results.first().cloned().ok_or_else(missing),
            Err(err) => Err(err.clone()),
        };
        batch.borrow_mut().outcome = Some(outcome);
        let _ = resolve.call0(&JsValue::UNDEFINED);
        mine
    }
}

fn missing() -> InferenceError {
    InferenceError::new(
        crate::protocol::error::ErrorCode::BadResponse,
        "the batched answer has fewer results than texts",
    )
}
