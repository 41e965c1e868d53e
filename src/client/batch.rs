//! Micro-batching: single-text `text_classification` calls on one model
//! (with the same parameters) made within a window go as one request of
//! several texts; each caller gets its own list, or the batch's error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::future::{select, FutureExt, LocalBoxFuture, Shared};
use gloo_timers::future::TimeoutFuture;

use super::call::Answered;
use crate::protocol::error::Error;

/// The batch's answer, and how many texts it carried.
pub(crate) type BatchAnswer = Shared<LocalBoxFuture<'static, Result<(Rc<Answered>, usize), Error>>>;

/// An open batch: the texts gathered so far, the trigger that sends it
/// before its window ends (when full), and its answer.
struct Batch {
    texts: Rc<RefCell<Vec<String>>>,
    go: oneshot::Sender<()>,
    answer: BatchAnswer,
}

/// The open batches of one client, by model and parameters.
#[derive(Default)]
pub(crate) struct Batches {
    open: RefCell<HashMap<String, Batch>>,
}

impl Batches {
    /// Adds `text` to the open batch of `key` (or opens one that `send`
    /// sends, with the texts gathered, when `window_ms` ends or `max_size`
    /// texts are in). Returns the text's index in the batch and its answer.
    pub fn join(
        self: &Rc<Self>,
        key: String,
        text: String,
        window_ms: u32,
        max_size: usize,
        send: impl FnOnce(Vec<String>) -> LocalBoxFuture<'static, Result<Rc<Answered>, Error>> + 'static,
    ) -> (usize, BatchAnswer) {
        let mut open = self.open.borrow_mut();
        if !open.contains_key(&key) {
            let texts = Rc::new(RefCell::new(Vec::new()));
            let (go, ready) = oneshot::channel::<()>();
            let gathered = texts.clone();
            let batches = Rc::downgrade(self);
            let closing_key = key.clone();
            let answer = async move {
                // The window ends, or the batch fills (or is dropped).
                select(TimeoutFuture::new(window_ms), ready).await;
                if let Some(batches) = batches.upgrade() {
                    let mut open = batches.open.borrow_mut();
                    if open
                        .get(&closing_key)
                        .is_some_and(|b| Rc::ptr_eq(&b.texts, &gathered))
                    {
                        open.remove(&closing_key);
                    }
                }
                let texts = gathered.take();
                let count = texts.len();
                send(texts).await.map(|answered| (answered, count))
            }
            .boxed_local()
            .shared();
            open.insert(key.clone(), Batch { texts, go, answer });
        }
        let batch = open.get_mut(&key).expect("just inserted");
        let index = {
            let mut texts = batch.texts.borrow_mut();
            texts.push(text);
            texts.len() - 1
        };
        let answer = batch.answer.clone();
        if index + 1 >= max_size {
            // Full: it goes now, and the next text opens another batch.
            if let Some(batch) = open.remove(&key) {
                let _ = batch.go.send(());
            }
        }
        (index, answer)
    }
}
