//! The one error type of the crate, and how an upstream answer maps to it.

use core::fmt;

use crate::prelude::*;

use super::json::{write_decimal, Json, Number};
use super::text::{char_count, contains, join};

/// What kind of failure happened: the stable `.code` string JavaScript sees.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The caller's arguments were refused before any request.
    InvalidInput,
    /// Upstream answered 400.
    BadRequest,
    /// Upstream answered 401.
    Unauthorized,
    /// Upstream answered 403.
    Forbidden,
    /// Upstream answered 404.
    NotFound,
    /// Upstream answered 405.
    MethodNotAllowed,
    /// Upstream answered 410 (the retired api-inference domain).
    Gone,
    /// Upstream answered 413.
    PayloadTooLarge,
    /// Upstream answered 422, or a stream reported a validation error.
    Validation,
    /// Upstream answered 429.
    RateLimited,
    /// Upstream answered 503 while the model loads.
    ModelLoading,
    /// Any other upstream failure.
    UpstreamError,
    /// The proxy is misconfigured.
    Config,
    /// An attempt took longer than its timeout.
    Timeout,
    /// The caller aborted.
    Aborted,
    /// The connection failed.
    Network,
    /// A 2xx answer did not have the task's shape.
    BadResponse,
}

const CODE_NAMES: [(ErrorCode, &str); 17] = [
    (ErrorCode::InvalidInput, "INVALID_INPUT"),
    (ErrorCode::BadRequest, "BAD_REQUEST"),
    (ErrorCode::Unauthorized, "UNAUTHORIZED"),
    (ErrorCode::Forbidden, "FORBIDDEN"),
    (ErrorCode::NotFound, "NOT_FOUND"),
    (ErrorCode::MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (ErrorCode::Gone, "GONE"),
    (ErrorCode::PayloadTooLarge, "PAYLOAD_TOO_LARGE"),
    (ErrorCode::Validation, "VALIDATION"),
    (ErrorCode::RateLimited, "RATE_LIMITED"),
    (ErrorCode::ModelLoading, "MODEL_LOADING"),
    (ErrorCode::UpstreamError, "UPSTREAM_ERROR"),
    (ErrorCode::Config, "CONFIG"),
    (ErrorCode::Timeout, "TIMEOUT"),
    (ErrorCode::Aborted, "ABORTED"),
    (ErrorCode::Network, "NETWORK"),
    (ErrorCode::BadResponse, "BAD_RESPONSE"),
];

impl ErrorCode {
    /// The stable string, e.g. `"RATE_LIMITED"`.
    pub fn as_str(self) -> &'static str {
        CODE_NAMES
            .iter()
            .find(|(code, _)| *code == self)
            .map_or("UPSTREAM_ERROR", |(_, name)| name)
    }

    /// The code named by `name`, when it is one of ours.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        CODE_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(code, _)| *code)
    }

    /// The code for an HTTP status without looking at the body.
    pub fn from_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            410 => ErrorCode::Gone,
            413 => ErrorCode::PayloadTooLarge,
            422 => ErrorCode::Validation,
            429 => ErrorCode::RateLimited,
            408 => ErrorCode::Timeout,
            _ if status < 500 => ErrorCode::BadRequest,
            _ => ErrorCode::UpstreamError,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call: what went wrong, in upstream's words where it gave some.
///
/// Holds no credential: nothing that built the request is kept here.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceError {
    /// The stable code.
    pub code: ErrorCode,
    /// A message a person can act on (upstream's own text when there was one).
    pub message: String,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The model called.
    pub model: Option<String>,
    /// Upstream's `x-request-id`.
    pub request_id: Option<String>,
    /// How many attempts were made (0 when refused before any request).
    pub attempts: u32,
    /// How long upstream asked to wait before trying again.
    pub retry_after_ms: Option<u64>,
}

impl InferenceError {
    /// An error with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> InferenceError {
        InferenceError {
            code,
            message: message.into(),
            status: None,
            model: None,
            request_id: None,
            attempts: 0,
            retry_after_ms: None,
        }
    }

    /// An INVALID_INPUT error naming the argument that was wrong.
    pub fn invalid_input(argument: &str, problem: &str) -> InferenceError {
        InferenceError::new(ErrorCode::InvalidInput, join(&[argument, ": ", problem]))
    }

    /// The same error, with the HTTP status it is answered or was received with.
    pub fn with_status(mut self, status: u16) -> InferenceError {
        self.status = Some(status);
        self
    }
}

impl fmt::Display for InferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl core::error::Error for InferenceError {}

/// The parts of an HTTP answer that errors and results report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseMeta {
    /// HTTP status.
    pub status: u16,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// The wait `retry-after` asks for, in milliseconds (read when the
    /// answer arrives, so an HTTP date is measured against that moment).
    pub retry_after_ms: Option<u64>,
    /// `x-compute-time` in milliseconds (upstream sends seconds).
    pub compute_time_ms: Option<f64>,
}

/// Reads `x-compute-time` (seconds, e.g. `"0.016"`) as whole milliseconds.
pub fn compute_time_ms(value: &str) -> Option<f64> {
    Number::from_text(value.trim())
        .thousandths()
        .map(|ms| ms as f64)
}

/// Longest upstream text kept in a message; HTML error pages can be large.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Maps a non-2xx answer to an error, keeping upstream's message. Its wait
/// is the `Retry-After` of `meta`, else a loading model's `estimated_time`.
pub fn error_from_response(meta: &ResponseMeta, body: &str) -> InferenceError {
    let status = meta.status;
    let mut code = ErrorCode::from_status(status);
    let mut message = None;
    let mut estimated_ms = None;
    if let Ok(json) = Json::parse(body) {
        message = error_message(&json);
        let error_type = json.get("error_type").and_then(Json::as_str);
        estimated_ms = json
            .get("estimated_time")
            .and_then(Json::as_number)
            .and_then(|seconds| seconds.thousandths());
        let says_loading = message.as_deref().is_some_and(|m| contains(m, "loading"));
        if let Some(own) = json
            .get("code")
            .and_then(Json::as_str)
            .and_then(ErrorCode::from_name)
        {
            code = own;
        } else if status == 503 && (estimated_ms.is_some() || says_loading) {
            code = ErrorCode::ModelLoading;
        } else if error_type == Some("validation") {
            code = ErrorCode::Validation;
        }
    } else if !body.trim().is_empty() {
        message = Some(body.trim().to_owned());
    }
    let mut message = message.unwrap_or_else(|| {
        let mut text = String::from("HTTP ");
        write_decimal(status.into(), &mut text);
        text.push(' ');
        text.push_str(reason_phrase(status));
        text
    });
    if char_count(&message) > MAX_MESSAGE_CHARS {
        let cut = message
            .char_indices()
            .nth(MAX_MESSAGE_CHARS)
            .map_or(message.len(), |(i, _)| i);
        message.truncate(cut);
        message.push('…');
    }
    InferenceError {
        code,
        message,
        status: Some(status),
        model: None,
        request_id: meta.request_id.clone(),
        attempts: 0,
        retry_after_ms: meta.retry_after_ms.or(estimated_ms),
    }
}

/// An error upstream reported inside a 2xx answer or a stream event:
/// `{"error": "...", "error_type": "validation"}`, or OpenAI's
/// `{"error": {"message", "type"}}`. `None` when `json` carries none.
pub fn embedded_error(json: &Json) -> Option<InferenceError> {
    let error = json.get("error").filter(|e| !matches!(e, Json::Null))?;
    let message = error_message(json).unwrap_or_else(|| "upstream reported an error".to_owned());
    let error_type = json
        .get("error_type")
        .or_else(|| error.get("type"))
        .and_then(Json::as_str);
    let code = match error_type {
        Some("validation" | "invalid_request_error") => ErrorCode::Validation,
        _ => ErrorCode::UpstreamError,
    };
    Some(InferenceError::new(code, message))
}

/// The text of `error` (a string, or a list of strings joined), else `message`.
fn error_message(json: &Json) -> Option<String> {
    let field = json.get("error").or_else(|| json.get("message"))?;
    match field {
        Json::String(s) => Some(s.clone()),
        Json::Array(items) => {
            let mut joined: Option<String> = None;
            for part in items.iter().filter_map(Json::as_str) {
                match &mut joined {
                    Some(text) => {
                        text.push_str("; ");
                        text.push_str(part);
                    }
                    None => joined = Some(part.to_owned()),
                }
            }
            joined
        }
        // OpenAI-style `{"error": {"message": ...}}`.
        Json::Object(_) => field
            .get("message")
            .and_then(Json::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(status: u16) -> ResponseMeta {
        ResponseMeta {
            status,
            request_id: Some("req-1".into()),
            ..ResponseMeta::default()
        }
    }

    #[test]
    fn compute_time_is_read_in_milliseconds() {
        assert_eq!(compute_time_ms("0.016"), Some(16.0));
        assert_eq!(compute_time_ms("57"), Some(57_000.0));
        assert_eq!(compute_time_ms("-1"), None);
        assert_eq!(compute_time_ms("fast"), None);
    }

    #[test]
    fn every_code_round_trips_through_its_name() {
        for (code, name) in CODE_NAMES {
            assert_eq!(code.as_str(), name);
            assert_eq!(ErrorCode::from_name(name), Some(code));
        }
        assert_eq!(ErrorCode::from_name("NOPE"), None);
    }

    #[test]
    fn loading_503_carries_estimated_time() {
        let err = error_from_response(
            &meta(503),
            r#"{"error":"Model gpt2 is currently loading","estimated_time":20.5}"#,
        );
        assert_eq!(err.code, ErrorCode::ModelLoading);
        assert_eq!(err.message, "Model gpt2 is currently loading");
        assert_eq!(err.retry_after_ms, Some(20_500));
        assert_eq!(err.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn plain_503_is_upstream_error_and_header_wins_over_estimate() {
        let err = error_from_response(&meta(503), "upstream connect error");
        assert_eq!(err.code, ErrorCode::UpstreamError);
        assert_eq!(err.message, "upstream connect error");
        let with_header = ResponseMeta {
            retry_after_ms: Some(3000),
            ..meta(503)
        };
        let loading = r#"{"error":"Model gpt2 is currently loading","estimated_time":20}"#;
        assert_eq!(
            error_from_response(&with_header, loading).retry_after_ms,
            Some(3000)
        );
    }

    #[test]
    fn proxy_codes_are_kept() {
        let err = error_from_response(
            &meta(500),
            r#"{"error":"HF_TOKEN is not set","code":"CONFIG"}"#,
        );
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::Config, "HF_TOKEN is not set")
        );
    }

    #[test]
    fn empty_body_gets_the_status_line() {
        let err = error_from_response(&meta(429), "");
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::RateLimited, "HTTP 429 Too Many Requests")
        );
    }

    #[test]
    fn error_lists_and_openai_objects_become_text() {
        let list = error_from_response(&meta(400), r#"{"error":["a","b"]}"#);
        assert_eq!(list.message, "a; b");
        let openai = error_from_response(&meta(401), r#"{"error":{"message":"bad key"}}"#);
        assert_eq!(
            (openai.code, openai.message.as_str()),
            (ErrorCode::Unauthorized, "bad key")
        );
    }

    #[test]
    fn errors_inside_a_2xx_answer() {
        for (body, code, message) in [
            (
                r#"{"error":"Input validation error","error_type":"validation"}"#,
                ErrorCode::Validation,
                "Input validation error",
            ),
            (
                r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
                ErrorCode::UpstreamError,
                "overloaded",
            ),
            (
                r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
                ErrorCode::Validation,
                "bad",
            ),
        ] {
            let err = embedded_error(&Json::parse(body).unwrap()).unwrap();
            assert_eq!((err.code, err.message.as_str()), (code, message), "{body}");
        }
        for none in [r#"{"error":null,"x":1}"#, "[1]"] {
            assert_eq!(embedded_error(&Json::parse(none).unwrap()), None, "{none}");
        }
    }

    #[test]
    fn long_bodies_are_truncated() {
        let err = error_from_response(&meta(502), &"x".repeat(5000));
        assert_eq!(err.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
