//! Streams for JavaScript: a Rust source of chunks (`pull`, `cancel`)
//! inside the package's `InferenceStream` class
//! (pkg-template/inference_stream.js), which gives it `Symbol.asyncIterator`
//! (wasm-bindgen cannot give a class one) and serialises `next()` calls.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::future::{ready, FutureExt, LocalBoxFuture};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, AbortSignal};

use super::error::to_js_error;
use super::functions::promise_of;
use crate::client::stream::{Chunks, EventSource};
use crate::protocol::error::{Error, ErrorCode};

#[wasm_bindgen(module = "/pkg-template/inference_stream.js")]
extern "C" {
    #[wasm_bindgen(js_name = InferenceStream)]
    type JsInferenceStream;

    #[wasm_bindgen(constructor, js_class = InferenceStream)]
    fn new(source: JsValue) -> JsInferenceStream;
}

/// The chunks of one streamed call (the client's own stream of them),
/// pulled one at a time: a pull takes the stream out while it waits, and
/// puts it back if the stream goes on and was not cancelled meanwhile.
#[wasm_bindgen]
pub struct StreamSource {
    // A `Cell` taken and put back, as a `RefCell`'s borrows would only add
    // their panics: nothing holds the source across a borrow.
    chunks: Rc<Cell<Option<Chunks>>>,
    cancel: Option<AbortController>,
}

#[wasm_bindgen]
impl StreamSource {
    /// The next chunk, `undefined` at the end; rejects with the error that
    /// ends the stream.
    pub fn pull(&mut self) -> Promise {
        let chunks = self.chunks.clone();
        let signal = self.cancel.as_ref().map(AbortController::signal);
        promise_of(
            async move {
                let Some(mut source) = chunks.take() else {
                    return Ok(JsValue::UNDEFINED);
                };
                let item = source.next().await;
                // Cancelled while opening or reading: the end, not an error.
                if signal.as_ref().is_some_and(AbortSignal::aborted) {
                    return Ok(JsValue::UNDEFINED);
                }
                match item {
                    Some(Ok(chunk)) => {
                        chunks.set(Some(source));
                        Ok(chunk)
                    }
                    Some(Err(error)) => Err(to_js_error(&error)),
                    None => Ok(JsValue::UNDEFINED),
                }
            }
            .boxed_local(),
        )
    }

    /// Cancels the call: its request is aborted and its connection closed.
    pub fn cancel(&mut self) {
        if let Some(cancel) = &self.cancel {
            cancel.abort();
        }
        self.chunks.take();
    }
}

/// An `InferenceStream` of the call `open` makes on the first pull, given
/// the stream's own abort signal.
pub(crate) fn stream_of(
    open: impl FnOnce(AbortSignal) -> LocalBoxFuture<'static, Result<EventSource, Error>>,
) -> JsValue {
    let cancel = AbortController::new().ok();
    let opened = match &cancel {
        Some(cancel) => open(cancel.signal()),
        None => ready(Err(Error::new(
            ErrorCode::Network,
            "AbortController is not available",
        )))
        .boxed_local(),
    };
    let source = StreamSource {
        chunks: Rc::new(Cell::new(Some(Chunks::new(opened)))),
        cancel,
    };
    JsInferenceStream::new(source.into()).into()
}
