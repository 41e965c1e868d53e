//! Streams as JavaScript async iterators. `InferenceStream` (pkg-template's
//! inference_stream.js) gives `for await` its protocol; this `StreamSource`
//! behind it opens the request on the first pull, feeds the body through the
//! core's incremental SSE parser and hands out one chunk per pull.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{AbortController, AbortSignal};

use super::convert::json_to_js;
use super::fetch::BodyStream;
use crate::protocol::error::{ErrorCode, InferenceError};
use crate::protocol::sse::{stream_item, SseParser, StreamItem};

#[wasm_bindgen(raw_module = "./inference_stream.js")]
extern "C" {
    /// The exported JS class: `next`, `return` and `[Symbol.asyncIterator]`.
    #[wasm_bindgen(js_name = InferenceStream)]
    pub type JsInferenceStream;

    #[wasm_bindgen(constructor, js_class = "InferenceStream")]
    fn new(source: StreamSource) -> JsInferenceStream;
}

/// What opening a stream yields: its body and the model, for error reports.
pub type Opening = Pin<Box<dyn Future<Output = Result<(BodyStream, String), InferenceError>>>>;

enum Phase {
    Opening(Opening),
    Open(BodyStream),
    Ended,
}

struct State {
    phase: Phase,
    parser: SseParser,
    queue: VecDeque<StreamItem>,
    model: Option<String>,
    cancelled: bool,
    cancel: AbortController,
}

/// The Rust side of an `InferenceStream`.
#[wasm_bindgen]
pub struct StreamSource {
    state: Rc<RefCell<State>>,
}

/// Makes the stream `open(cancel_signal)` describes; nothing is sent before
/// the first pull. The signal it receives is aborted by `cancel()`.
pub fn open_stream(open: impl FnOnce(AbortSignal) -> Opening) -> JsValue {
    let Ok(cancel) = AbortController::new() else {
        return JsValue::UNDEFINED;
    };
    let opening = open(cancel.signal());
    let source = StreamSource {
        state: Rc::new(RefCell::new(State {
            phase: Phase::Opening(opening),
            parser: SseParser::new(),
            queue: VecDeque::new(),
            model: None,
            cancelled: false,
            cancel,
        })),
    };
    JsInferenceStream::new(source).into()
}

#[wasm_bindgen]
impl StreamSource {
    /// The next chunk, or `undefined` at the end; rejects with an `InferenceError`.
    pub fn pull(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move { next_chunk(&state).await.map_err(JsValue::from) })
    }

    /// Stops the stream: the request is aborted and its connection closed.
    pub fn cancel(&self) {
        let mut state = self.state.borrow_mut();
        state.cancelled = true;
        state.queue.clear();
        state.cancel.abort();
        if let Phase::Open(body) = std::mem::replace(&mut state.phase, Phase::Ended) {
            body.cancel();
        }
    }
}

fn tagged(state: &Rc<RefCell<State>>, mut err: InferenceError) -> InferenceError {
    if err.model.is_none() {
        err.model = state.borrow().model.clone();
    }
    err
}

async fn next_chunk(state: &Rc<RefCell<State>>) -> Result<JsValue, InferenceError> {
    loop {
        let item = state.borrow_mut().queue.pop_front();
        match item {
            Some(StreamItem::Chunk(json)) => return Ok(json_to_js(&json)),
            Some(StreamItem::Done) => {
                finish(state);
                return Ok(JsValue::UNDEFINED);
            }
            Some(StreamItem::Error(err)) => {
                finish(state);
                return Err(tagged(state, err));
            }
            None => {}
        }
        let phase = std::mem::replace(&mut state.borrow_mut().phase, Phase::Ended);
        match phase {
            Phase::Ended => return Ok(JsValue::UNDEFINED),
            Phase::Opening(opening) => {
                let (body, model) = opening.await?;
                let mut s = state.borrow_mut();
                s.model = Some(model);
                if s.cancelled {
                    body.cancel();
                    return Ok(JsValue::UNDEFINED);
                }
                s.phase = Phase::Open(body);
            }
            Phase::Open(body) => {
                let chunks = body.chunks();
                // Back in place while reading, so that cancel() can reach it.
                state.borrow_mut().phase = Phase::Open(body);
                let read = chunks.next().await;
                let mut s = state.borrow_mut();
                if s.cancelled {
                    return Ok(JsValue::UNDEFINED);
                }
                match read {
                    Ok(Some(bytes)) => {
                        let events = s.parser.feed(&bytes);
                        s.queue.extend(events.iter().map(stream_item));
                    }
                    Ok(None) => {
                        let events = s.parser.finish();
                        s.queue.extend(events.iter().map(stream_item));
                        s.phase = Phase::Ended;
                    }
                    Err(err) => {
                        s.phase = Phase::Ended;
                        drop(s);
                        return Err(tagged(state, err));
                    }
                }
            }
        }
    }
}

/// The stream ended by itself ([DONE] or an error event): close the connection.
fn finish(state: &Rc<RefCell<State>>) {
    let mut s = state.borrow_mut();
    s.queue.clear();
    if let Phase::Open(body) = std::mem::replace(&mut s.phase, Phase::Ended) {
        body.cancel();
    }
}

/// An opening that fails at once (bad arguments): the first pull rejects.
pub fn failed_opening(err: InferenceError) -> Opening {
    Box::pin(async move { Err(err) })
}

/// The error when a streamed call came back whole (never for a 2xx stream).
pub fn not_a_stream() -> InferenceError {
    InferenceError::new(ErrorCode::BadResponse, "the answer is not a stream")
}
