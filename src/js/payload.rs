//! Request bodies: JSON text, or caller's bytes passed to fetch untouched.

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use super::convert::parameters_arg;
use crate::protocol::error::InferenceError;
use crate::protocol::task::{image_json_body, sniff_image_type, validate_parameters, SNIFF_BYTES};

const JSON_TYPE: &str = "application/json";

/// A request body and its content type.
pub struct Payload {
    /// What fetch sends.
    pub body: JsValue,
    /// Its content type, when known.
    pub content_type: Option<String>,
}

impl Payload {
    /// A JSON body.
    pub fn json(text: String) -> Payload {
        Payload {
            body: JsValue::from_str(&text),
            content_type: Some(JSON_TYPE.to_owned()),
        }
    }
}

/// Binary input: a `Blob`, an `ArrayBuffer` or a `Uint8Array` (a Node `Buffer` is one).
enum Bytes {
    Blob(Blob),
    View(Uint8Array),
}

impl Bytes {
    fn from_js(value: &JsValue, argument: &str) -> Option<Result<Bytes, InferenceError>> {
        let bytes = if let Some(blob) = value.dyn_ref::<Blob>() {
            Bytes::Blob(blob.clone())
        } else if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
            Bytes::View(Uint8Array::new(buffer))
        } else if let Some(view) = value.dyn_ref::<Uint8Array>() {
            Bytes::View(view.clone())
        } else {
            return None;
        };
        let empty = match &bytes {
            Bytes::Blob(blob) => blob.size() == 0.0,
            Bytes::View(view) => view.length() == 0,
        };
        Some(if empty {
            Err(InferenceError::invalid_input(
                argument,
                "is empty (0 bytes)",
            ))
        } else {
            Ok(bytes)
        })
    }

    /// The declared type of a Blob, else one sniffed from the first bytes.
    async fn content_type(&self) -> Result<Option<String>, InferenceError> {
        let head = match self {
            Bytes::Blob(blob) if !blob.type_().is_empty() => return Ok(Some(blob.type_())),
            Bytes::Blob(blob) => {
                let head = blob
                    .slice_with_i32_and_i32(0, SNIFF_BYTES as i32)
                    .map_err(read_error)?;
                Uint8Array::new(
                    &JsFuture::from(head.array_buffer())
                        .await
                        .map_err(read_error)?,
                )
                .to_vec()
            }
            Bytes::View(view) => view.subarray(0, SNIFF_BYTES as u32).to_vec(),
        };
        Ok(sniff_image_type(&head).map(str::to_owned))
    }

    /// A copy of all the bytes in wasm memory (only for JSON bodies that embed them).
    async fn to_vec(&self) -> Result<Vec<u8>, InferenceError> {
        Ok(match self {
            Bytes::Blob(blob) => Uint8Array::new(
                &JsFuture::from(blob.array_buffer())
                    .await
                    .map_err(read_error)?,
            )
            .to_vec(),
            Bytes::View(view) => view.to_vec(),
        })
    }

    /// The value fetch sends as is: no copy into wasm, no base64.
    fn into_body(self) -> JsValue {
        match self {
            Bytes::Blob(blob) => blob.into(),
            Bytes::View(view) => view.into(),
        }
    }
}

fn read_error(_: JsValue) -> InferenceError {
    InferenceError::invalid_input("image", "could not be read")
}

/// The body of an image call: raw bytes, or base64 JSON when there are parameters.
pub async fn image_payload(image: &JsValue, params: &JsValue) -> Result<Payload, InferenceError> {
    let bytes = Bytes::from_js(image, "image").unwrap_or_else(|| {
        Err(InferenceError::invalid_input(
            "image",
            "must be a Blob, an ArrayBuffer or a Uint8Array",
        ))
    })?;
    match checked_parameters(params)? {
        // Parameters only travel in JSON, so the image goes as base64 there.
        Some(parameters) => Ok(Payload::json(image_json_body(
            &bytes.to_vec().await?,
            &parameters,
        ))),
        None => Ok(Payload {
            content_type: bytes.content_type().await?,
            body: bytes.into_body(),
        }),
    }
}

/// The body of a `query`: bytes as they are, anything else as JSON.
pub async fn query_payload(payload: &JsValue) -> Result<Payload, InferenceError> {
    if payload.is_undefined() {
        return Err(InferenceError::invalid_input("payload", "is required"));
    }
    if let Some(bytes) = Bytes::from_js(payload, "payload") {
        let bytes = bytes?;
        return Ok(Payload {
            content_type: bytes.content_type().await?,
            body: bytes.into_body(),
        });
    }
    let text = js_sys::JSON::stringify(payload)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| InferenceError::invalid_input("payload", "cannot be serialised to JSON"))?;
    Ok(Payload::json(text))
}

/// Reads optional task parameters and checks they are an object.
pub fn checked_parameters(
    value: &JsValue,
) -> Result<Option<crate::protocol::json::Json>, InferenceError> {
    let parameters = parameters_arg(value)?;
    validate_parameters(parameters.as_ref())?;
    Ok(parameters)
}
