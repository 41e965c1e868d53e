//! What the native integration tests share: a JSON document as the core
//! reads it (the crate implements `Document` for `serde_json::Value` only in
//! its own unit tests).

use hf_inference_wasm::protocol::document::Document;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A parsed JSON document, as the core reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc(pub Value);

impl Document for Doc {
    fn is_object(&self) -> bool {
        self.0.is_object()
    }

    fn elements(&self) -> Option<Vec<Doc>> {
        self.0
            .as_array()
            .map(|items| items.iter().cloned().map(Doc).collect())
    }

    fn member(&self, key: &str) -> Option<Doc> {
        self.0.as_object()?.get(key).cloned().map(Doc)
    }

    fn entries(&self) -> Vec<(String, Doc)> {
        self.0
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), Doc(v.clone()))).collect())
            .unwrap_or_default()
    }

    fn as_text(&self) -> Option<String> {
        self.0.as_str().map(str::to_owned)
    }

    fn as_number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn as_bool(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn read<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.0).ok()
    }

    fn is_nullish(&self) -> bool {
        self.0.is_null()
    }
}

/// A document parsed from JSON text (`None` when it is not JSON), as
/// `Response.json()` makes one.
pub fn parse(text: &str) -> Option<Doc> {
    serde_json::from_str(text).ok().map(Doc)
}
