//! A parsed JSON document the core reads typed parts out of. In the client it
//! is the `JsValue` that `Response.json()` (or `JSON.parse`) made; in native
//! tests a `serde_json::Value`. The core's readings of answers and arguments
//! are written once over this trait, so the same code runs in both.

use serde::de::DeserializeOwned;

/// A parsed JSON value.
pub trait Document: Sized + Clone {
    /// Whether it is an object (not an array, not `null`).
    fn is_object(&self) -> bool;

    /// Its elements, when it is an array.
    fn elements(&self) -> Option<Vec<Self>>;

    /// Its member `key`, when it is an object that has one (not `undefined`).
    fn member(&self, key: &str) -> Option<Self>;

    /// Its members in order, when it is an object (else none).
    fn entries(&self) -> Vec<(String, Self)>;

    /// Its text, when it is a string.
    fn as_text(&self) -> Option<String>;

    /// Whether it is a string; implementations override it to look without
    /// copying the text.
    fn is_text(&self) -> bool {
        self.as_text().is_some()
    }

    /// Its value, when it is a number.
    fn as_number(&self) -> Option<f64>;

    /// Its value, when it is a boolean.
    fn as_bool(&self) -> Option<bool>;

    /// Reads it as `T`; `None` when it has another shape.
    fn read<T: DeserializeOwned>(&self) -> Option<T>;

    /// Whether it is `null` or `undefined`.
    fn is_nullish(&self) -> bool;
}

// The proxy reads its settings and the Hub's answers with serde_json.
#[cfg(any(test, feature = "worker"))]
impl Document for serde_json::Value {
    fn is_object(&self) -> bool {
        self.is_object()
    }

    fn elements(&self) -> Option<Vec<Self>> {
        self.as_array().cloned()
    }

    fn member(&self, key: &str) -> Option<Self> {
        self.as_object()?.get(key).cloned()
    }

    fn entries(&self) -> Vec<(String, Self)> {
        self.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn as_text(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn is_text(&self) -> bool {
        self.is_string()
    }

    fn as_number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn as_bool(&self) -> Option<bool> {
        self.as_bool()
    }

    fn read<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self).ok()
    }

    fn is_nullish(&self) -> bool {
        self.is_null()
    }
}
