//! Micro-batching: single-text `text_classification` calls on one model
//! (with the same parameters) made within a window go as one request of
//! several texts; each caller gets its own list, or the batch's error.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use web_sys::AbortController;

use super::attempts::sleep;
use super::call::Answered;
use crate::protocol::error::Error;

/// The batch's answer: the type of a shared call's (`dedupe.rs`), so that
/// the wasm holds one `Shared` for both (its poll and output cloning were
/// about 1 KB per type).
pub(crate) type BatchAnswer = Shared<LocalBoxFuture<'static, Result<Rc<Answered>, Error>>>;

/// How many texts a batch carried, set when it is sent.
pub(crate) type BatchCount = Rc<Cell<usize>>;

/// An open batch: the texts gathered so far, the trigger that sends it
/// before its window ends (when full, or dropped), and its answer. The
/// trigger is an `AbortController` that the window's wait watches: the wait
/// between attempts is the same, so the wasm holds one such wait.
struct Batch {
    /// Taken and put back (never borrowed across anything).
    texts: Rc<Cell<Vec<String>>>,
    go: Option<AbortController>,
    answer: BatchAnswer,
    count: BatchCount,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(go) = &self.go {
            go.abort();
        }
    }
}

/// The open batches of one client, by model and parameters. A list
/// searched in order rather than a `HashMap`: a client has a batch open per
/// model it batches at once, a handful, and std's map (hashing and its
/// table) would add kilobytes to the wasm.
#[derive(Default)]
pub(crate) struct Batches {
    open: RefCell<Vec<(String, Batch)>>,
}

/// Where `key`'s batch is among the open ones.
fn position(open: &[(String, Batch)], key: &str) -> Option<usize> {
    open.iter().position(|(k, _)| k == key)
}

impl Batches {
    /// Adds `text` to the open batch of `key` (or opens one that `send`
    /// sends, with the texts gathered, when `window_ms` ends or `max_size`
    /// texts are in). Returns the text's index in the batch, its answer,
    /// and how many texts it carried (once sent).
    pub fn join(
        self: &Rc<Self>,
        key: String,
        text: String,
        window_ms: u32,
        max_size: usize,
        send: impl FnOnce(Vec<String>) -> LocalBoxFuture<'static, Result<Rc<Answered>, Error>> + 'static,
    ) -> (usize, BatchAnswer, BatchCount) {
        let mut open = self.open.borrow_mut();
        let at = if let Some(at) = position(&open, &key) {
            at
        } else {
            let texts = Rc::new(Cell::new(Vec::new()));
            // Every runtime the client loads in has `AbortController` (each
            // attempt with a timeout uses one); without it, a full batch
            // would wait out its window rather than go at once.
            let go = AbortController::new().ok();
            let mut ready = Vec::new();
            if let Some(go) = &go {
                ready.push(go.signal());
            }
            let gathered = texts.clone();
            let batches = Rc::downgrade(self);
            let closing_key = key.clone();
            let count = BatchCount::default();
            let sent = count.clone();
            let answer = async move {
                // The window ends, or the batch fills (or is dropped).
                sleep(u64::from(window_ms), &ready).await;
                if let Some(batches) = batches.upgrade() {
                    let mut open = batches.open.borrow_mut();
                    if let Some(at) = position(&open, &closing_key)
                        .filter(|&at| Rc::ptr_eq(&open[at].1.texts, &gathered))
                    {
                        open.swap_remove(at);
                    }
                }
                let texts = gathered.take();
                sent.set(texts.len());
                send(texts).await
            }
            .boxed_local()
            .shared();
            let batch = Batch {
                texts,
                go,
                answer,
                count,
            };
            open.push((key, batch));
            open.len() - 1
        };
        let batch = &open[at].1;
        let mut texts = batch.texts.take();
        texts.push(text);
        let index = texts.len() - 1;
        batch.texts.set(texts);
        let (answer, count) = (batch.answer.clone(), batch.count.clone());
        if index + 1 >= max_size {
            // Full: it goes now (dropped, its trigger fires), and the next
            // text opens another batch.
            open.swap_remove(at);
        }
        (index, answer, count)
    }
}
