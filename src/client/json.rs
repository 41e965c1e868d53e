//! JSON at the JavaScript boundary: the runtime's own `JSON.parse`,
//! `JSON.stringify` and `Response.json()` do the text, serde-wasm-bindgen
//! moves values between JS and serde types. (Measured against serde_json over
//! the body bytes, this keeps float parsing and formatting out of the wasm:
//! docs/architecture.md.)

use js_sys::{Array, Reflect, JSON};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::protocol::document::Document;

impl Document for JsValue {
    fn is_object(&self) -> bool {
        JsValue::is_object(self) && !Array::is_array(self)
    }

    fn elements(&self) -> Option<Vec<JsValue>> {
        let array = self.dyn_ref::<Array>()?;
        let mut elements = Vec::with_capacity(array.length() as usize);
        for element in array.iter() {
            elements.push(element);
        }
        Some(elements)
    }

    fn member(&self, key: &str) -> Option<JsValue> {
        if !JsValue::is_object(self) {
            return None;
        }
        Reflect::get(self, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn entries(&self) -> Vec<(String, JsValue)> {
        if !Document::is_object(self) {
            return Vec::new();
        }
        let pairs = js_sys::Object::entries(self.unchecked_ref());
        let mut entries = Vec::with_capacity(pairs.length() as usize);
        for pair in pairs.iter() {
            let (key, value) = pair_of(&pair);
            entries.push((key.as_string().unwrap_or_default(), value));
        }
        entries
    }

    fn as_text(&self) -> Option<String> {
        self.as_string()
    }

    fn is_text(&self) -> bool {
        self.is_string()
    }

    fn as_number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn as_bool(&self) -> Option<bool> {
        JsValue::as_bool(self)
    }

    fn read<T: DeserializeOwned>(&self) -> Option<T> {
        serde_wasm_bindgen::from_value(self.clone()).ok()
    }

    fn is_nullish(&self) -> bool {
        self.is_null() || self.is_undefined()
    }
}

/// `value` as a plain JS value (objects, not `Map`s), as `JSON.parse` would
/// have made it.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Option<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()
}

/// The key and value of one of `Object.entries`' `[key, value]` pairs, read
/// by `Array`'s indexing (the binding its `iter` uses: no second one).
pub(crate) fn pair_of(entry: &JsValue) -> (JsValue, JsValue) {
    let pair: &Array = entry.unchecked_ref();
    (pair.get_unchecked(0), pair.get_unchecked(1))
}

/// `JSON.stringify(value)`; `None` when it cannot be written (a cycle, a
/// BigInt, or nothing to write).
pub(crate) fn stringify(value: &JsValue) -> Option<js_sys::JsString> {
    JSON::stringify(value).ok().filter(|s| s.is_string())
}

/// `JSON.parse(text)`; `None` when it is not JSON.
pub(crate) fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// A plain JS object written member by member, in order, as serde's derive
/// wrote it for the JS API's answers, errors, chunks and attempt reports:
/// without a serializer per struct and serde-wasm-bindgen's cache of member
/// names (a `HashMap`), which were 3.6 KB of the gzipped client.
pub(crate) struct Members(js_sys::Object);

impl Members {
    /// An empty object.
    pub fn new() -> Members {
        Members(js_sys::Object::new())
    }

    /// Sets member `key`.
    pub fn set(&self, key: &str, value: &JsValue) {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
    }

    /// Sets member `key` to a string.
    pub fn text(&self, key: &str, value: &str) {
        self.set(key, &JsValue::from_str(value));
    }

    /// Sets member `key` to a number.
    pub fn number(&self, key: &str, value: f64) {
        self.set(key, &JsValue::from_f64(value));
    }

    /// Sets member `key` to a string when there is one (a skipped `None`).
    #[cfg(feature = "js")]
    pub fn some_text(&self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(key, value);
        }
    }

    /// Sets member `key` to a number when there is one (a skipped `None`).
    #[cfg(feature = "js")]
    pub fn some_number(&self, key: &str, value: Option<f64>) {
        if let Some(value) = value {
            self.number(key, value);
        }
    }

    /// The object written.
    pub fn into_value(self) -> JsValue {
        self.0.into()
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// An array, for its `sort`.
    type Sortable;

    /// `Array.prototype.sort(compare)`, in place.
    #[wasm_bindgen(method, js_name = sort)]
    fn sort_with(this: &Sortable, compare: &js_sys::Function);
}

/// Sorts `list`, an array of `{score}` objects, highest score first; equal
/// scores keep their order. The platform's sort (stable since ES2019) with
/// the comparison in Rust: any of the standard library's sorts is at least
/// 0.7 KB more of the gzipped browser client (its heap sort 0.9 KB), for
/// lists of a few labels.
pub(crate) fn sort_by_score(list: &Array) {
    let compare = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue, JsValue) -> f64>::new(
        |a: JsValue, b: JsValue| {
            let score = |item: &JsValue| item.member("score").and_then(|s| s.as_f64());
            // NaN (two infinities) counts as equal, as for the sort itself.
            score(&b).unwrap_or(0.0) - score(&a).unwrap_or(0.0)
        },
    );
    list.unchecked_ref::<Sortable>()
        .sort_with(compare.as_ref().unchecked_ref());
}

/// `n` as serde-wasm-bindgen's JSON-compatible serializer writes a `u64`: a
/// number, or `Err` past `Number.MAX_SAFE_INTEGER` (which fails the value
/// that holds it).
#[cfg(feature = "js")]
pub(crate) fn safe_number(n: u64) -> Result<f64, ()> {
    if n <= js_sys::Number::MAX_SAFE_INTEGER as u64 {
        Ok(n as f64)
    } else {
        Err(())
    }
}

/// An optional `u64` as [`safe_number`] writes it.
#[cfg(feature = "js")]
pub(crate) fn safe_some(n: Option<u64>) -> Result<Option<f64>, ()> {
    n.map(safe_number).transpose()
}
