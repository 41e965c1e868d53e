//! Checks and encodings the JS client asks for before a call, and the
//! reading of answers: results as JSON text, stream events one push at a
//! time. A failure is returned as error JSON after `wire::ERROR_MARK`, which
//! JavaScript turns into an `InferenceError`.

use wasm_bindgen::prelude::*;

use super::wire::{error_json, generated_text, outcome, per_input};
use crate::prelude::*;
use crate::protocol::error::{embedded_error, ErrorCode, InferenceError};
use crate::protocol::json::Json;
use crate::protocol::response::{
    parse_image_classification, parse_text_classification, parse_text_generation, parse_zero_shot,
};
use crate::protocol::sse::{stream_item, SseEvent, SseParser, StreamItem};
use crate::protocol::task::{
    base64_encode_into, sniff_image_type, validate_chat_model, validate_model_id,
};
use crate::protocol::text::join;

const TEXT_CLASSIFICATION: u8 = 1;
const TEXT_GENERATION: u8 = 2;
const ZERO_SHOT: u8 = 4;
const IMAGE_CLASSIFICATION: u8 = 7;

/// Checks a model id (`chat`: a chat model, `:provider` allowed, named
/// `request.model`). The output is empty, or the error after `ERROR_MARK`.
#[wasm_bindgen(js_name = checkModel)]
pub fn check_model(model: Option<String>, chat: bool) -> String {
    let checked = match (model, chat) {
        (Some(model), true) => validate_chat_model(&model, "request.model"),
        (Some(model), false) => validate_model_id(&model),
        (None, true) => Err(InferenceError::invalid_input(
            "request.model",
            "must be a model id string",
        )),
        (None, false) => Err(InferenceError::invalid_input(
            "model",
            "must be a string such as \"openai-community/gpt2\"",
        )),
    };
    outcome(checked.map(|()| String::new()))
}

/// Standard base64 of bytes (an image inside a JSON body).
#[wasm_bindgen]
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    base64_encode_into(bytes, &mut out);
    out
}

/// The image type of these first bytes, if known.
#[wasm_bindgen(js_name = sniffImage)]
pub fn sniff_image(head: &[u8]) -> Option<String> {
    sniff_image_type(head).map(str::to_owned)
}

/// The result of a 2xx answer as JSON text. `texts` is how many texts an
/// array input held, answered one list per text; 0 for a single input.
/// Kinds: 1 text classification, 2 text generation, 4 zero-shot, 7 image
/// classification, anything else a chat completion (returned as sent once
/// checked).
pub fn read_result(kind: u8, texts: usize, body: &str) -> Result<String, InferenceError> {
    let (inputs, many) = (texts.max(1), texts > 0);
    match kind {
        TEXT_CLASSIFICATION => parse_text_classification(body, inputs).map(|l| per_input(&l, many)),
        ZERO_SHOT => parse_zero_shot(body, inputs).map(|l| per_input(&l, many)),
        IMAGE_CLASSIFICATION => parse_image_classification(body).map(|l| per_input(&[l], false)),
        TEXT_GENERATION => parse_text_generation(body).map(|r| generated_text(&r)),
        _ => match Json::parse(body) {
            Ok(json) if json.get("choices").is_some() => Ok(body.to_owned()),
            _ => Err(InferenceError::new(
                ErrorCode::BadResponse,
                "the chat answer is not a chat completion ({choices, ...})",
            )),
        },
    }
}

/// The error of a streamed call answered 2xx with something other than an
/// event stream: the error it carries, else BAD_RESPONSE naming its type.
#[wasm_bindgen(js_name = notAStream)]
pub fn not_a_stream(content_type: &str, body: &str) -> String {
    let embedded = Json::parse(body)
        .ok()
        .and_then(|json| embedded_error(&json));
    error_json(&embedded.unwrap_or_else(|| {
        let got = if content_type.is_empty() {
            "no content type"
        } else {
            content_type
        };
        InferenceError::new(
            ErrorCode::BadResponse,
            join(&["expected an event stream, got ", got]),
        )
    }))
}

/// The events of one streamed answer, fed its body bytes as they come.
#[wasm_bindgen]
pub struct Events {
    parser: SseParser,
}

impl Default for Events {
    fn default() -> Events {
        Events::new()
    }
}

#[wasm_bindgen]
impl Events {
    /// A parser at the start of a stream.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Events {
        Events {
            parser: SseParser::new(),
        }
    }

    /// Feeds bytes; returns the items they complete as a JSON array of
    /// `{"chunk": ...}`, `{"done": true}` and `{"error": {...}}`.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        items_json(&self.parser.feed(bytes))
    }

    /// The body ended: the items of a last, unterminated event.
    pub fn end(&mut self) -> String {
        items_json(&self.parser.finish())
    }
}

fn items_json(events: &[SseEvent]) -> String {
    let mut out = String::from("[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match stream_item(event) {
            StreamItem::Chunk(json) => {
                out.push_str("{\"chunk\":");
                json.write_to(&mut out);
                out.push('}');
            }
            StreamItem::Done => out.push_str("{\"done\":true}"),
            StreamItem::Error(err) => {
                out.push_str("{\"error\":");
                out.push_str(&error_json(&err));
                out.push('}');
            }
        }
    }
    out.push(']');
    out
}
