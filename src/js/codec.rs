//! Request bodies and answers: JavaScript hands over its arguments as
//! `JSON.stringify` text and gets back the body to send, or the normalised
//! result of an answer, as JSON text. Errors are thrown as error JSON
//! (see `wire::error_json`), which JavaScript turns into an `InferenceError`.

use wasm_bindgen::prelude::*;

use super::wire::{argument, error_json, generated_text, per_input};
use crate::prelude::*;
use crate::protocol::error::{embedded_error, ErrorCode, InferenceError};
use crate::protocol::json::Json;
use crate::protocol::response::{
    parse_image_classification, parse_text_classification, parse_text_generation, parse_zero_shot,
};
use crate::protocol::sse::{stream_item, SseParser, StreamItem};
use crate::protocol::task::{
    chat_body, image_json_body, sniff_image_type, text_body, text_stream_body,
    validate_candidate_labels, validate_model_id, validate_parameters, zero_shot_body, TextInput,
};

const TEXT_CLASSIFICATION: u8 = 1;
const TEXT_GENERATION: u8 = 2;
const TEXT_GENERATION_STREAM: u8 = 3;
const ZERO_SHOT: u8 = 4;
const CHAT: u8 = 5;
const CHAT_STREAM: u8 = 6;
const IMAGE_CLASSIFICATION: u8 = 7;

type Thrown = String;

fn thrown(err: InferenceError) -> Thrown {
    error_json(&err)
}

fn checked_model(model: Option<String>) -> Result<(), InferenceError> {
    let model = model.ok_or_else(|| {
        InferenceError::invalid_input(
            "model",
            "must be a string such as \"openai-community/gpt2\"",
        )
    })?;
    validate_model_id(&model)
}

/// `text` or `text[]`, none of them empty.
fn text_input(value: Option<&Json>, name: &str) -> Result<TextInput, InferenceError> {
    let input = match value {
        Some(Json::String(text)) => TextInput::One(text.clone()),
        Some(Json::Array(items)) => TextInput::Many(strings(items, name)?),
        _ => {
            return Err(InferenceError::invalid_input(
                name,
                "must be a string or an array of strings",
            ))
        }
    };
    input.validate(name)?;
    Ok(input)
}

/// Every element a string, naming the first that is not.
fn strings(items: &[Json], name: &str) -> Result<Vec<String>, InferenceError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| InferenceError::invalid_element(name, i, "must be a string"))
        })
        .collect()
}

fn prompt(value: Option<&Json>) -> Result<String, InferenceError> {
    value
        .and_then(Json::as_str)
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| InferenceError::invalid_input("prompt", "must be a non-empty string"))
}

fn parameters(params: Option<String>) -> Result<Option<Json>, InferenceError> {
    let parameters = argument(params);
    validate_parameters(parameters.as_ref())?;
    Ok(parameters)
}

fn body_of(
    kind: u8,
    model: Option<String>,
    input: Option<String>,
    labels: Option<String>,
    params: Option<String>,
) -> Result<String, InferenceError> {
    let input = argument(input);
    if kind == CHAT || kind == CHAT_STREAM {
        let request = input.filter(Json::is_object).ok_or_else(|| {
            InferenceError::invalid_input(
                "request",
                "must be an OpenAI chat request object {model, messages, ...}",
            )
        })?;
        return Ok(chat_body(&request, kind == CHAT_STREAM)?.1);
    }
    checked_model(model)?;
    Ok(match kind {
        TEXT_CLASSIFICATION => {
            let texts = text_input(input.as_ref(), "text")?;
            text_body(&texts, parameters(params)?.as_ref())
        }
        TEXT_GENERATION => {
            let prompt = TextInput::One(prompt(input.as_ref())?);
            text_body(&prompt, parameters(params)?.as_ref())
        }
        TEXT_GENERATION_STREAM => {
            let prompt = prompt(input.as_ref())?;
            text_stream_body(&prompt, parameters(params)?.as_ref())
        }
        ZERO_SHOT => {
            let texts = text_input(input.as_ref(), "text")?;
            let labels = match argument(labels) {
                Some(Json::Array(items)) => strings(&items, "candidate_labels")?,
                _ => {
                    return Err(InferenceError::invalid_input(
                        "candidate_labels",
                        "must be an array of strings",
                    ))
                }
            };
            validate_candidate_labels(&labels)?;
            zero_shot_body(&texts, &labels, parameters(params)?.as_ref())
        }
        _ => String::new(),
    })
}

/// Checks a call's arguments and returns the JSON body to send. Other
/// kinds (0: `query` and raw image bytes) only check the model: the body is
/// JavaScript's. `input`, `labels` and `params` are `JSON.stringify` text;
/// `input` is the chat request object for the chat kinds.
#[wasm_bindgen(js_name = requestBody)]
pub fn request_body(
    kind: u8,
    model: Option<String>,
    input: Option<String>,
    labels: Option<String>,
    params: Option<String>,
) -> Result<String, Thrown> {
    body_of(kind, model, input, labels, params).map_err(thrown)
}

/// The JSON body of an image call with parameters (they only travel in
/// JSON, so the image goes as base64 there).
#[wasm_bindgen(js_name = imageBody)]
pub fn image_body(image: &[u8], params: Option<String>) -> Result<String, Thrown> {
    match parameters(params).map_err(thrown)? {
        Some(parameters) => Ok(image_json_body(image, &parameters)),
        None => Ok(String::new()),
    }
}

/// The image type of these first bytes, if known.
#[wasm_bindgen(js_name = sniffImage)]
pub fn sniff_image(head: &[u8]) -> Option<String> {
    sniff_image_type(head).map(str::to_owned)
}

/// The result of a 2xx answer as JSON text. `many`: the input was an array,
/// answered one list per text, `count` of them.
#[wasm_bindgen(js_name = parseResult)]
pub fn parse_result(kind: u8, many: bool, count: usize, body: &str) -> Result<String, Thrown> {
    let inputs = if many { count } else { 1 };
    let result = match kind {
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
    };
    result.map_err(thrown)
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
            ["expected an event stream, got ", got].concat(),
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

fn items_json(events: &[crate::protocol::sse::SseEvent]) -> String {
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
