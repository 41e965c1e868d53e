//! The tokens of an answer as it is passed on: a stream relayed event by
//! event through a [`StreamTally`] (the usage chunk the proxy asked for kept
//! from the client), or a JSON answer's body teed and its `usage` read on
//! the side. Both hand the client its answer at once and count in a future
//! that `ctx.waitUntil` runs, so accounting never holds the answer back.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader, TransformStream};

use super::usage::cost::Tokens;
use super::usage::tokens::{reported, StreamTally};

/// How the tokens of an answer are known.
pub(super) enum Reading {
    /// Not at all (not a chat or completion answer, or an error).
    Nothing,
    /// From a JSON answer's body, read on the side.
    Json(ReadableStream),
    /// From a stream, as it is relayed.
    Stream(Relay),
}

/// The tokens an answer counted, and whether the proxy estimated them.
pub(super) struct Counted {
    pub tokens: Option<Tokens>,
    pub estimated: bool,
}

impl Reading {
    /// Reads the tokens to the end of the answer (for a stream, relaying
    /// it to the client meanwhile); `prompt_estimate` stands in for a
    /// stream's prompt tokens when upstream counted none.
    pub async fn count(self, prompt_estimate: u64) -> Counted {
        match self {
            Reading::Nothing => Counted {
                tokens: None,
                estimated: false,
            },
            Reading::Json(body) => Counted {
                tokens: json_usage(body).await,
                estimated: false,
            },
            Reading::Stream(relay) => {
                let tally = relay.run().await;
                let (tokens, estimated) = tally.tokens(prompt_estimate);
                Counted {
                    tokens: Some(tokens),
                    estimated,
                }
            }
        }
    }
}

/// Splits `body` in two: the one to pass on, and one whose `usage` is read
/// (the Fetch API's `tee`: each side gets every byte, and the client going
/// away does not stop the other side).
pub(super) fn tee(body: &ReadableStream) -> Option<(ReadableStream, ReadableStream)> {
    let sides = body.tee();
    let passed = sides.get(0).dyn_into().ok()?;
    let read = sides.get(1).dyn_into().ok()?;
    Some((passed, read))
}

/// The `usage` of a JSON answer, parsed by the runtime: the answer stays
/// in JavaScript memory (an embeddings answer can be megabytes, and wasm
/// memory never shrinks), and only `usage` is read into Rust.
async fn json_usage(body: ReadableStream) -> Option<Tokens> {
    let response = web_sys::Response::new_with_opt_readable_stream(Some(&body)).ok()?;
    let answer = JsFuture::from(response.json().ok()?).await.ok()?;
    reported(&answer)
}

/// A stream on its way to the client: upstream's body read, judged, and
/// written into the writable side of a `TransformStream` whose readable
/// side is the client's answer.
pub(super) struct Relay {
    upstream: ReadableStreamDefaultReader,
    writer: web_sys::WritableStreamDefaultWriter,
    tally: StreamTally,
}

/// The stream to answer with, and the relay that fills it from `body`;
/// `keep_usage`: the proxy asked for the usage chunk, which the client
/// then does not see.
pub(super) fn relay(body: &ReadableStream, keep_usage: bool) -> Option<(ReadableStream, Relay)> {
    let pipe = TransformStream::new().ok()?;
    let writer = pipe.writable().get_writer().ok()?;
    let upstream = body.get_reader().dyn_into().ok()?;
    let relay = Relay {
        upstream,
        writer,
        tally: StreamTally::new(keep_usage),
    };
    Some((pipe.readable(), relay))
}

impl Relay {
    /// Relays to the end of the stream, or until the client goes away or
    /// upstream fails (then upstream's body is cancelled, and the client's
    /// stream errored).
    async fn run(mut self) -> StreamTally {
        let aborted = loop {
            let Ok(read) = JsFuture::from(self.upstream.read()).await else {
                break true;
            };
            let done = Reflect::get(&read, &JsValue::from_str("done"))
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                break false;
            }
            let Ok(value) = Reflect::get(&read, &JsValue::from_str("value")) else {
                break true;
            };
            let Some(chunk) = value.dyn_ref::<Uint8Array>() else {
                break true;
            };
            let passed = match self.tally.feed(&chunk.to_vec()) {
                None => Some(chunk.clone()),
                Some(bytes) if bytes.is_empty() => None,
                Some(bytes) => Some(Uint8Array::from(bytes.as_slice())),
            };
            if let Some(passed) = passed {
                if !self.write(&passed).await {
                    break true;
                }
            }
        };
        if aborted {
            let _ = JsFuture::from(self.upstream.cancel()).await;
            let _ = JsFuture::from(self.writer.abort()).await;
        } else {
            if let Some(rest) = self.tally.finish().filter(|rest| !rest.is_empty()) {
                self.write(&Uint8Array::from(rest.as_slice())).await;
            }
            let _ = JsFuture::from(self.writer.close()).await;
        }
        self.tally
    }

    /// Writes to the client; `false` once it has gone away.
    async fn write(&self, chunk: &Uint8Array) -> bool {
        JsFuture::from(self.writer.write_with_chunk(chunk))
            .await
            .is_ok()
    }
}
