//! Streamed answers: the body's `ReadableStream` read chunk by chunk through
//! the server-sent-events parser, one event's JSON at a time. Dropping a
//! stream cancels its request and closes the connection.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{self, LocalBoxStream, StreamExt};
use js_sys::{Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

use super::call::Secrets;
use super::json;
use super::transport::{when_settled, BodyGuard, ABORTED_MESSAGE};
use crate::protocol::completion::{CompletionStream, TgiChunk};
use crate::protocol::document::Document;
use crate::protocol::error::{embedded, Error, ErrorCode};
use crate::protocol::sse::{event_error, event_kind, EventKind, SseEvent, SseParser};

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextDecoder` (UTF-8, not fatal: invalid bytes are
    /// U+FFFD), bound here rather than through web-sys: its `decode` gives a
    /// JS string, read by the string reading the wasm has anyway, where
    /// web-sys's returns a `String` through one more copy of the glue's.
    #[wasm_bindgen(js_name = TextDecoder)]
    type Utf8Decoder;

    #[wasm_bindgen(constructor, js_class = TextDecoder, catch)]
    fn new() -> Result<Utf8Decoder, JsValue>;

    // Neither throws: a `Uint8Array` is always a valid input.
    #[wasm_bindgen(method, js_class = TextDecoder, js_name = decode)]
    fn decode_chunk(this: &Utf8Decoder, chunk: &Uint8Array, options: &JsValue) -> JsValue;

    #[wasm_bindgen(method, js_class = TextDecoder, js_name = decode)]
    fn decode_end(this: &Utf8Decoder) -> JsValue;
}

/// The events of one streamed answer, read as they arrive.
pub(crate) struct EventSource {
    reader: Option<ReadableStreamDefaultReader>,
    guard: Option<BodyGuard>,
    /// The platform's lossy UTF-8 decoder (see `protocol::sse`) and its
    /// `{stream: true}`; `None` if it could not be made (the glue itself
    /// needs a `TextDecoder`, so never where the client loads).
    decoder: Option<(Utf8Decoder, JsValue)>,
    parser: SseParser,
    /// The events of the last chunk not yet handed out: refilled only when
    /// empty, so a `Vec`'s iterator serves (a `VecDeque` was 1 KB of wasm).
    queue: std::vec::IntoIter<SseEvent>,
    /// What every error inside the stream reports.
    status: u16,
    request_id: Option<String>,
    attempts: u32,
    model: String,
    secrets: Secrets,
    /// Set when completion chunks are read as TGI chunks.
    tgi: Option<CompletionStream>,
}

impl EventSource {
    /// Reads the events of `body`; errors inside it carry `status`,
    /// `request_id`, `attempts` and `model`.
    pub fn new(
        body: Option<web_sys::ReadableStream>,
        guard: BodyGuard,
        status: u16,
        request_id: Option<String>,
        attempts: u32,
        model: String,
        secrets: Secrets,
    ) -> EventSource {
        // `getReader()` without a mode always gives a default reader.
        let reader = body.map(|b| {
            b.get_reader()
                .unchecked_into::<ReadableStreamDefaultReader>()
        });
        EventSource {
            reader,
            guard: Some(guard),
            decoder: Utf8Decoder::new().ok().map(|decoder| {
                let options = js_sys::Object::new();
                let _ = Reflect::set(&options, &JsValue::from_str("stream"), &JsValue::TRUE);
                (decoder, options.into())
            }),
            parser: SseParser::new(),
            queue: Vec::new().into_iter(),
            status,
            request_id,
            attempts,
            model,
            secrets,
            tgi: None,
        }
    }

    /// The same source, its completion chunks (`{choices: [{text}]}`) given
    /// in TGI's shape from `state`; TGI's own chunks pass as they are.
    pub fn into_tgi(mut self, state: CompletionStream) -> EventSource {
        self.tgi = Some(state);
        self
    }

    /// An error inside the stream, with the answer's facts and no token.
    fn facts(&self, error: Error) -> Error {
        error
            .with_call_facts(Some(self.status), self.request_id.as_deref(), self.attempts)
            .with_model(&self.model)
            .redacted(&self.secrets)
    }

    /// Ends the stream: cancels the body and aborts the request.
    fn close(&mut self) {
        self.queue = Vec::new().into_iter();
        if let Some(reader) = self.reader.take() {
            // The cancellation's promise rejects once the request is
            // aborted: awaited here, so that no rejection goes unhandled.
            when_settled(JsFuture::from(reader.cancel()), drop);
        }
        self.guard = None;
    }

    /// The next chunk (the JSON of one event), `None` at the end, or the
    /// error that ends the stream.
    pub async fn next(&mut self) -> Option<Result<JsValue, Error>> {
        loop {
            if let Some(event) = self.queue.next() {
                match event_kind(&event) {
                    EventKind::Skip => continue,
                    EventKind::Done => {
                        self.close();
                        return None;
                    }
                    EventKind::Data(data) => {
                        let parsed = json::parse(data);
                        if let Some(error) = event_error(&event, parsed.as_ref()) {
                            self.close();
                            return Some(Err(self.facts(error)));
                        }
                        let (Some(tgi), Some(doc)) = (&mut self.tgi, &parsed) else {
                            return parsed.map(Ok);
                        };
                        if doc.member("choices").is_none() {
                            return parsed.map(Ok);
                        }
                        match tgi.chunk(doc) {
                            Ok(Some(chunk)) => return Some(Ok(tgi_chunk(&chunk))),
                            Ok(None) => continue,
                            Err(error) => {
                                self.close();
                                return Some(Err(self.facts(error)));
                            }
                        }
                    }
                }
            }
            let reader = self.reader.as_ref()?;
            let read = JsFuture::from(reader.read()).await;
            let result = match read {
                Ok(result) => result,
                Err(error) => {
                    let failure = match &self.guard {
                        Some(guard) if guard.aborted() => {
                            Error::new(ErrorCode::Aborted, ABORTED_MESSAGE)
                        }
                        Some(guard) => Error::new(
                            ErrorCode::Network,
                            format!(
                                "the stream from {} was cut: {}",
                                guard.url(),
                                guard.failure(&error).message()
                            ),
                        ),
                        None => return None,
                    };
                    self.close();
                    return Some(Err(self.facts(failure)));
                }
            };
            let done = Reflect::get(&result, &JsValue::from_str("done"))
                .map(|d| d.is_truthy())
                .unwrap_or(true);
            if done {
                // A character cut short by the end is U+FFFD; a last event
                // without its blank line still counts.
                let mut events = match self
                    .decoder
                    .as_ref()
                    .and_then(|(d, _)| d.decode_end().as_string())
                {
                    Some(rest) => self.parser.feed_text(&rest),
                    None => Vec::new(),
                };
                events.append(&mut self.parser.finish());
                self.reader = None;
                self.queue = events.into_iter();
                if self.queue.as_slice().is_empty() {
                    self.close();
                    return None;
                }
                continue;
            }
            let chunk =
                Reflect::get(&result, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
            if let Some(bytes) = chunk.dyn_ref::<Uint8Array>() {
                let text = self.decoder.as_ref().and_then(|(decoder, options)| {
                    decoder.decode_chunk(bytes, options).as_string()
                });
                let Some(text) = text else {
                    self.close();
                    let error = Error::new(
                        ErrorCode::BadResponse,
                        "the stream could not be decoded as UTF-8",
                    );
                    return Some(Err(self.facts(error)));
                };
                self.queue = self.parser.feed_text(&text).into_iter();
            }
        }
    }
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.close();
    }
}

/// The error of a streamed call answered 2xx with something other than an
/// event stream: the error its body carries, else BAD_RESPONSE naming its type.
pub(crate) fn not_a_stream(content_type: &str, body: &str) -> Error {
    json::parse(body)
        .and_then(|doc| embedded(&doc))
        .unwrap_or_else(|| {
            let got = if content_type.is_empty() {
                "no content type"
            } else {
                content_type
            };
            Error::new(
                ErrorCode::BadResponse,
                format!("expected an event stream, got {got}"),
            )
        })
}

/// A stream of typed chunks (`futures::Stream`). Nothing is sent before the
/// first poll; dropping it cancels the request. The stream ends after an
/// error.
///
/// ```ignore
/// use futures_util::StreamExt;
/// let mut stream = hf.chat_completion_stream(&request, None);
/// while let Some(chunk) = stream.next().await {
///     print!("{}", chunk?.choices[0].delta.content.as_deref().unwrap_or(""));
/// }
/// ```
pub struct ChunkStream<T> {
    inner: LocalBoxStream<'static, Result<JsValue, Error>>,
    kind: &'static str,
    _chunk: PhantomData<fn() -> T>,
}

impl<T> ChunkStream<T> {
    /// A stream of the chunks of `open`'s source, read as `T`.
    pub(crate) fn new(
        open: LocalBoxFuture<'static, Result<EventSource, Error>>,
        kind: &'static str,
    ) -> ChunkStream<T> {
        let chunks = stream::unfold(Chunks::new(open), |mut chunks| async move {
            let item = chunks.next().await?;
            Some((item, chunks))
        });
        ChunkStream {
            inner: chunks.boxed_local(),
            kind,
            _chunk: PhantomData,
        }
    }
}

/// The JSON of each event of the source `open` makes: the call opens on
/// the first `next`, and the chunks end after an error.
pub(crate) struct Chunks(ChunksState);

enum ChunksState {
    Opening(LocalBoxFuture<'static, Result<EventSource, Error>>),
    Open(Box<EventSource>),
    Over,
}

impl Chunks {
    /// The chunks of the call `open` makes, once polled.
    pub fn new(open: LocalBoxFuture<'static, Result<EventSource, Error>>) -> Chunks {
        Chunks(ChunksState::Opening(open))
    }

    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<JsValue, Error>> {
        let mut source = match core::mem::replace(&mut self.0, ChunksState::Over) {
            ChunksState::Opening(open) => match open.await {
                Ok(source) => Box::new(source),
                Err(error) => return Some(Err(error)),
            },
            ChunksState::Open(source) => source,
            ChunksState::Over => return None,
        };
        let item = source.next().await;
        if let Some(Ok(_)) = &item {
            self.0 = ChunksState::Open(source);
        }
        item
    }
}

impl<T: DeserializeOwned> Stream for ChunkStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let kind = self.kind;
        self.inner.poll_next_unpin(cx).map(|item| {
            item.map(|chunk| {
                let chunk = chunk?;
                chunk.read::<T>().ok_or_else(|| {
                    Error::new(
                        ErrorCode::BadResponse,
                        format!("a stream chunk is not a {kind} chunk"),
                    )
                })
            })
        })
    }
}

/// A chunk as `TgiChunk`'s serde derive writes it: `{index, token: {text,
/// special}, generated_text, details: {finish_reason, generated_tokens}}`,
/// the last two `null` until the chunk that finishes (`json::Members`).
fn tgi_chunk(chunk: &TgiChunk) -> JsValue {
    let out = json::Members::new();
    out.number("index", f64::from(chunk.index));
    let token = json::Members::new();
    token.text("text", &chunk.token.text);
    token.set("special", &JsValue::from_bool(chunk.token.special));
    out.set("token", &token.into_value());
    match &chunk.generated_text {
        Some(text) => out.text("generated_text", text),
        None => out.set("generated_text", &JsValue::NULL),
    }
    match &chunk.details {
        Some(details) => {
            let d = json::Members::new();
            d.text("finish_reason", &details.finish_reason);
            d.number("generated_tokens", f64::from(details.generated_tokens));
            out.set("details", &d.into_value());
        }
        None => out.set("details", &JsValue::NULL),
    }
    out.into_value()
}
