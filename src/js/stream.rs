//! Streams for JavaScript: a Rust source of chunks (`pull`, `cancel`)
//! inside the package's `InferenceStream` class
//! (pkg-template/inference_stream.js), which gives it `Symbol.asyncIterator`
//! (wasm-bindgen cannot give a class one) and serialises `next()` calls.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{AbortController, AbortSignal};

use super::error::to_js_error;
use crate::client::stream::EventSource;
use crate::protocol::error::{Error, ErrorCode};

#[wasm_bindgen(module = "/pkg-template/inference_stream.js")]
extern "C" {
    #[wasm_bindgen(js_name = InferenceStream)]
    type JsInferenceStream;

    #[wasm_bindgen(constructor, js_class = InferenceStream)]
    fn new(source: JsValue) -> JsInferenceStream;
}

/// Where a stream is: its call still to open, its events, or the end.
enum State {
    Opening(LocalBoxFuture<'static, Result<EventSource, Error>>),
    Open(EventSource),
    Over,
}

/// The chunks of one streamed call, pulled one at a time; a pull takes the
/// state out while it waits, and puts it back if the stream goes on.
#[wasm_bindgen]
pub struct StreamSource {
    state: Rc<RefCell<State>>,
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
            return Promise::reject(&failure);
        }
        let (state, cancelled) = (self.state.clone(), self.cancelled.clone());
        future_to_promise(async move {
            let taken = std::mem::replace(&mut *state.borrow_mut(), State::Over);
            let mut source = match taken {
                State::Opening(open) => open.await,
                State::Open(source) => Ok(source),
                State::Over => return Ok(JsValue::UNDEFINED),
            }
            .map_err(|e| to_js_error(&e))?;
            let item = source.next().await;
            if cancelled.get() {
                return Ok(JsValue::UNDEFINED);
            }
            match item {
                Some(Ok(chunk)) => {
                    *state.borrow_mut() = State::Open(source);
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
        *self.state.borrow_mut() = State::Over;
    }
}

/// An `InferenceStream` whose call `open` makes on the first pull, with the
/// stream's own abort signal.
pub(crate) fn stream_of(
    open: impl FnOnce(AbortSignal) -> LocalBoxFuture<'static, Result<EventSource, Error>>,
) -> JsValue {
    let cancel = AbortController::new().ok();
    let state = match &cancel {
        Some(cancel) => State::Opening(open(cancel.signal())),
        None => State::Opening(
            futures_util::future::ready(Err(Error::new(
                ErrorCode::Network,
                "AbortController is not available",
            )))
            .boxed_local(),
        ),
    };
    let source = StreamSource {
        state: Rc::new(RefCell::new(state)),
        failure: None,
        cancelled: Rc::new(Cell::new(false)),
        cancel,
    };
    JsInferenceStream::new(source.into()).into()
}

/// An `InferenceStream` whose first pull rejects with `error`.
pub(crate) fn failed_stream(error: JsValue) -> JsValue {
    let source = StreamSource {
        state: Rc::new(RefCell::new(State::Over)),
        failure: Some(error),
        cancelled: Rc::new(Cell::new(false)),
        cancel: None,
    };
    JsInferenceStream::new(source.into()).into()
}
