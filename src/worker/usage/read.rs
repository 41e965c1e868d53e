//! Reading the JSON settings (`PRICES`, `BUDGETS`): each malformed member is
//! a CONFIG error naming the variable and the member's path
//! (`PRICES.compute.cpu must be a number of USD`). A value is never echoed,
//! only its kind: whatever sits in a setting stays out of the answer.

use serde_json::{Map, Value};

use crate::protocol::error::{Error, ErrorCode};

use super::money::{MicroUsd, MAX_USD};

/// A CONFIG error.
pub(super) fn config_error(message: String) -> Error {
    Error::new(ErrorCode::Config, message)
}

/// A setting's text as JSON.
pub(super) fn json(name: &str, text: &str) -> Result<Value, Error> {
    // serde_json's message says where (line, column), never what.
    serde_json::from_str(text).map_err(|e| config_error(format!("{name} is not valid JSON ({e})")))
}

/// The path of a member: `.cpu` for a plain name, `["meta-llama/Llama-3.1-8B"]`
/// for one with other characters (a model id has dots and slashes).
pub(super) fn member(path: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("{path}.{name}")
    } else {
        format!("{path}[{name:?}]")
    }
}

/// What kind of JSON value this is, for a message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `value` as an object whose members are all in `known` (when given): a
/// misspelt member is refused, not ignored, since ignoring it would leave a
/// price or a cap unset.
pub(super) fn object<'a>(
    value: &'a Value,
    path: &str,
    known: Option<&[&str]>,
) -> Result<&'a Map<String, Value>, Error> {
    let members = value.as_object().ok_or_else(|| {
        config_error(format!(
            "{path} must be a JSON object (it is {})",
            kind(value)
        ))
    })?;
    if let Some(known) = known {
        if let Some(key) = members.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(config_error(format!(
                "{path} has an unknown member {key:?} (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(members)
}

/// `value` as a number of USD from 0 to [`MAX_USD`].
pub(super) fn usd(value: &Value, path: &str) -> Result<f64, Error> {
    let usd = value.as_f64().ok_or_else(|| {
        config_error(format!(
            "{path} must be a number of USD (it is {})",
            kind(value)
        ))
    })?;
    if (0.0..=MAX_USD).contains(&usd) {
        Ok(usd)
    } else {
        Err(config_error(format!(
            "{path} must be a number of USD from 0 to {MAX_USD}"
        )))
    }
}

/// `value` as micro-USD (see [`usd`]).
pub(super) fn micro_usd(value: &Value, path: &str) -> Result<MicroUsd, Error> {
    usd(value, path).map(|usd| super::money::micros(usd).unwrap_or(0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that `read` refuses each value with a CONFIG error saying its
    /// message, and refuses text that is no JSON, naming `name`.
    pub(crate) fn assert_refused<T: std::fmt::Debug>(
        name: &str,
        read: impl Fn(&Value) -> Result<T, Error>,
        parse: impl Fn(&str) -> Result<T, Error>,
        cases: &[(Value, &str)],
    ) {
        for (value, message) in cases {
            let error = read(value).unwrap_err();
            assert_eq!(error.code(), ErrorCode::Config);
            assert_eq!(error.message(), *message, "{value}");
        }
        let not_json = parse("{\"a\": ").unwrap_err();
        assert!(not_json
            .message()
            .starts_with(&format!("{name} is not valid JSON")));
    }

    #[test]
    fn members_are_named_by_their_path() {
        assert_eq!(member("PRICES.compute", "cpu"), "PRICES.compute.cpu");
        assert_eq!(
            member("PRICES.compute", "2-a10-g"),
            "PRICES.compute.2-a10-g"
        );
        assert_eq!(
            member("PRICES.models", "meta-llama/Llama-3.1-8B-Instruct"),
            "PRICES.models[\"meta-llama/Llama-3.1-8B-Instruct\"]"
        );
        assert_eq!(member("BUDGETS.keys", ""), "BUDGETS.keys[\"\"]");
    }

    #[test]
    fn values_are_named_by_their_kind_never_shown() {
        let message = |value: Value| usd(&value, "X.y").unwrap_err().message().to_owned();
        assert_eq!(
            message("sk-secret".into()),
            "X.y must be a number of USD (it is a string)"
        );
        assert_eq!(
            message(Value::Null),
            "X.y must be a number of USD (it is null)"
        );
        assert_eq!(
            message((-1).into()),
            "X.y must be a number of USD from 0 to 1000000"
        );
        let error = json("X", "{\"a\": sk-secret}").unwrap_err();
        assert_eq!(error.code(), ErrorCode::Config);
        assert!(error
            .message()
            .starts_with("X is not valid JSON (expected value at line 1"));
        assert!(!error.message().contains("secret"));
    }
}
