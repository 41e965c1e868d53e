//! Conversions between JavaScript values and the core's types.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::protocol::error::InferenceError;
use crate::protocol::json::Json;
use crate::protocol::response::{GeneratedText, LabelScore};
use crate::protocol::task::TextInput;

/// Reads a model id argument: it must be a string (checked further by the core).
pub fn model_arg(value: &JsValue) -> Result<String, InferenceError> {
    value.as_string().ok_or_else(|| {
        InferenceError::invalid_input(
            "model",
            "must be a string such as \"openai-community/gpt2\"",
        )
    })
}

/// Reads `text` or `text[]`.
pub fn text_input_arg(value: &JsValue, argument: &str) -> Result<TextInput, InferenceError> {
    if let Some(text) = value.as_string() {
        return Ok(TextInput::One(text));
    }
    if Array::is_array(value) {
        let strings = string_array(value, argument)?;
        return Ok(TextInput::Many(strings));
    }
    Err(InferenceError::invalid_input(
        argument,
        "must be a string or an array of strings",
    ))
}

/// Reads an array whose every element is a string, naming the first that is not.
pub fn string_array(value: &JsValue, argument: &str) -> Result<Vec<String>, InferenceError> {
    let array: &Array = value
        .dyn_ref()
        .ok_or_else(|| InferenceError::invalid_input(argument, "must be an array of strings"))?;
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_string().ok_or_else(|| {
                InferenceError::invalid_input(&format!("{argument}[{i}]"), "must be a string")
            })
        })
        .collect()
}

/// Whether a value is `undefined` or `null`.
pub fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// Reads optional task parameters: a plain object, serialised by
/// `JSON.stringify` so that numbers keep JavaScript's own formatting.
pub fn parameters_arg(value: &JsValue) -> Result<Option<Json>, InferenceError> {
    if is_absent(value) {
        return Ok(None);
    }
    let refuse = || InferenceError::invalid_input("params", "must be an object of task parameters");
    if !value.is_object() || Array::is_array(value) {
        return Err(refuse());
    }
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            InferenceError::invalid_input(
                "params",
                "cannot be serialised to JSON (a cycle or a BigInt?)",
            )
        })?;
    Json::parse(&text).map(Some).map_err(|_| refuse())
}

fn set(target: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// `[{label, score}]`.
pub fn label_scores_to_js(list: &[LabelScore]) -> JsValue {
    list.iter()
        .map(|item| {
            let object = Object::new();
            set(&object, "label", &JsValue::from_str(&item.label));
            set(
                &object,
                "score",
                &JsValue::from_f64(js_sys::Number::parse_float(item.score.as_str())),
            );
            JsValue::from(object)
        })
        .collect::<Array>()
        .into()
}

/// One list for a single input, a list of lists for an array of inputs.
pub fn per_input_to_js(input: &TextInput, mut lists: Vec<Vec<LabelScore>>) -> JsValue {
    match input {
        TextInput::One(_) => label_scores_to_js(&lists.remove(0)),
        TextInput::Many(_) => lists
            .iter()
            .map(|l| label_scores_to_js(l))
            .collect::<Array>()
            .into(),
    }
}

/// `{generated_text, details?}`.
pub fn generated_text_to_js(result: &GeneratedText) -> JsValue {
    let object = Object::new();
    set(
        &object,
        "generated_text",
        &JsValue::from_str(&result.generated_text),
    );
    if let Some(details) = &result.details {
        set(&object, "details", &json_to_js(details));
    }
    object.into()
}

/// A core JSON value as the equivalent JavaScript value.
pub fn json_to_js(json: &Json) -> JsValue {
    match json {
        Json::Null => JsValue::NULL,
        Json::Bool(b) => JsValue::from_bool(*b),
        Json::Number(text) => JsValue::from_f64(js_sys::Number::parse_float(text)),
        Json::String(s) => JsValue::from_str(s),
        Json::Array(items) => items.iter().map(json_to_js).collect::<Array>().into(),
        Json::Object(members) => {
            let object = Object::new();
            for (key, value) in members {
                set(&object, key, &json_to_js(value));
            }
            object.into()
        }
    }
}
