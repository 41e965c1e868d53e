//! Streams for JavaScript: a Rust source of chunks (`pull`, `cancel`)
//! inside the package's `InferenceStream` class
//! (pkg-template/inference_stream.js), which gives it `Symbol.asyncIterator`
//! (wasm-bindgen cannot give a class one) and serialises `next()` calls.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use futures_util::future::FutureExt;
use futures_util::stream::{LocalBoxStream, StreamExt};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortController;

use super::error::to_js_error;
use crate::client::stream::{raw_chunks, EventSource};
use crate::protocol::error::Error;

#[wasm_bindgen(module = "/pkg-template/inference_stream.js")]
extern "C" {
    #[wasm_bindgen(js_name = InferenceStream)]
    type JsInferenceStream;

    #[wasm_bindgen(constructor, js_class = InferenceStream)]
    fn new(source: JsValue) -> JsInferenceStream;
}

/// The chunks still to come, taken out by a pull while it waits.
type Chunks = Rc<RefCell<Option<LocalBoxStream<'static, Result<JsValue, Error>>>>>;

/// The chunks of one streamed call, pulled one at a time.
#[wasm_bindgen]
pub struct StreamSource {
    chunks: Chunks,
    failure: Option<JsValue>,
    cancelled: Rc<Cell<bool>>,
    cancel: Option<AbortController>,
}

#[wasm_bindgen]
impl StreamSource {
    /// The next chunk, `undefined` at the end; rejects with the error that
    /// ends the stream.
    pub fn pull(&mut self) -> Promise {
        if let Some(failure) = self.failure.take() {
            self.chunks.borrow_mut().take();
            return Promise::reject(&failure);
        }
        let (chunks, cancelled) = (self.chunks.clone(), self.cancelled.clone());
        future_to_promise(async move {
            let Some(mut stream) = chunks.borrow_mut().take() else {
                return Ok(JsValue::UNDEFINED);
            };
            let item = stream.next().await;
            if cancelled.get() {
                return Ok(JsValue::UNDEFINED);
            }
            match item {
                Some(Ok(chunk)) => {
                    *chunks.borrow_mut() = Some(stream);
                    Ok(chunk)
                }
                Some(Err(error)) => Err(to_js_error(&error)),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    /// Cancels the call: its request is aborted and its connection closed.
    pub fn cancel(&mut self) {
        self.cancelled.set(true);
        self.failure = None;
        if let Some(cancel) = &self.cancel {
            cancel.abort();
        }
        self.chunks.borrow_mut().take();
    }
}

/// An `InferenceStream` whose call `open` makes on the first pull, with the
/// stream's own abort signal.
pub(crate) fn stream_of<F, Fut>(open: F) -> JsValue
where
    F: FnOnce(web_sys::AbortSignal) -> Fut + 'static,
    Fut: Future<Output = Result<EventSource, Error>> + 'static,
{
    let cancel = AbortController::new().ok();
    let signal = cancel.as_ref().map(AbortController::signal);
    let opening = async move {
        match signal {
            Some(signal) => open(signal).await,
            None => Err(Error::new(
                crate::protocol::error::ErrorCode::Network,
                "AbortController is not available",
            )),
        }
    }
    .boxed_local();
    let source = StreamSource {
        chunks: Rc::new(RefCell::new(Some(raw_chunks(opening)))),
        failure: None,
        cancelled: Rc::new(Cell::new(false)),
        cancel,
    };
    JsInferenceStream::new(source.into()).into()
}

/// An `InferenceStream` whose first pull rejects with `error`.
pub(crate) fn failed_stream(error: JsValue) -> JsValue {
    let source = StreamSource {
        chunks: Rc::new(RefCell::new(None)),
        failure: Some(error),
        cancelled: Rc::new(Cell::new(false)),
        cancel: None,
    };
    JsInferenceStream::new(source.into()).into()
}
