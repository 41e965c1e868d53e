//! The one error type of the crate, its stable codes, and how an upstream
//! answer maps to it.

use core::fmt;

use super::document::Document;
use super::token::{redact_each, Token};

/// What kind of failure happened: the stable `code` string JavaScript sees.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The caller's arguments were refused before any request.
    InvalidInput,
    /// Upstream answered 400.
    BadRequest,
    /// Upstream answered 401.
    Unauthorized,
    /// Upstream answered 402: the account's credits are used up.
    PaymentRequired,
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
    /// The proxy refused: a budget cap would be passed.
    BudgetExceeded,
    /// No provider serves the model for the task (the Hub's mapping).
    NoProvider,
}

impl ErrorCode {
    /// Every code, in the order of the README's table.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::InvalidInput,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::PaymentRequired,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Gone,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Validation,
        ErrorCode::RateLimited,
        ErrorCode::ModelLoading,
        ErrorCode::UpstreamError,
        ErrorCode::Config,
        ErrorCode::Timeout,
        ErrorCode::Aborted,
        ErrorCode::Network,
        ErrorCode::BadResponse,
        ErrorCode::BudgetExceeded,
        ErrorCode::NoProvider,
    ];

    /// The stable string, e.g. `"RATE_LIMITED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::PaymentRequired => "PAYMENT_REQUIRED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Gone => "GONE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::ModelLoading => "MODEL_LOADING",
            ErrorCode::UpstreamError => "UPSTREAM_ERROR",
            ErrorCode::Config => "CONFIG",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::Network => "NETWORK",
            ErrorCode::BadResponse => "BAD_RESPONSE",
            ErrorCode::BudgetExceeded => "BUDGET_EXCEEDED",
            ErrorCode::NoProvider => "NO_PROVIDER",
        }
    }

    /// The code named by `name`, when it is one of ours.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == name)
    }

    /// The code for an HTTP status without looking at the body.
    pub fn from_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            402 => ErrorCode::PaymentRequired,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::Timeout,
            410 => ErrorCode::Gone,
            413 => ErrorCode::PayloadTooLarge,
            422 => ErrorCode::Validation,
            429 => ErrorCode::RateLimited,
            _ if status < 500 => ErrorCode::BadRequest,
            _ => ErrorCode::UpstreamError,
        }
    }

    /// The HTTP status this code is answered with (by the proxy's refusals),
    /// when it has one. A code in an error body is believed only when the
    /// answer's status is this one.
    pub fn answered_with(self) -> Option<u16> {
        Some(match self {
            ErrorCode::InvalidInput => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::PaymentRequired | ErrorCode::BudgetExceeded => 402,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Validation => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Config | ErrorCode::UpstreamError => 500,
            ErrorCode::Network => 502,
            ErrorCode::ModelLoading => 503,
            ErrorCode::Timeout => 504,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call: what went wrong, in upstream's words where it gave some.
///
/// It never holds a credential: nothing that built the request is kept, and
/// upstream text that echoed the client's token is redacted before it gets
/// here, so neither `Display` nor `Debug` can show one.
///
/// ```ignore
/// match hf.text_classification(model, "I love it").await {
///     Err(err) if err.code() == ErrorCode::RateLimited => wait(err.retry_after_ms()),
///     Err(err) => eprintln!("{err}"), // "NOT_FOUND: Model x does not exist"
///     Ok(labels) => show(labels),
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Error(Box<Details>);

/// What an [`Error`] holds, boxed: a `Result` of it stays one pointer wide,
/// which keeps every future that returns one small.
#[derive(Clone, Debug, PartialEq)]
struct Details {
    code: ErrorCode,
    message: String,
    status: Option<u16>,
    model: Option<String>,
    request_id: Option<String>,
    attempts: u32,
    retry_after_ms: Option<u64>,
    failures: Vec<ProviderFailure>,
}

/// One failed attempt of a call over a list of providers.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderFailure {
    /// The provider it went to.
    pub provider: String,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// How it failed.
    pub code: ErrorCode,
    /// Upstream's words (redacted with the call's error).
    pub message: String,
}

impl Error {
    /// An error with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::with_message(code, message.into())
    }

    /// [`Error::new`] past its conversion: the one copy of the error's
    /// construction, whatever type the message came as.
    fn with_message(code: ErrorCode, message: String) -> Error {
        Error(Box::new(Details {
            code,
            message,
            status: None,
            model: None,
            request_id: None,
            attempts: 0,
            retry_after_ms: None,
            failures: Vec::new(),
        }))
    }

    /// An INVALID_INPUT error naming the argument that was wrong:
    /// `"{argument}: {problem}"`.
    pub fn invalid_input(argument: &str, problem: &str) -> Error {
        Error::new(ErrorCode::InvalidInput, format!("{argument}: {problem}"))
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// A message a person can act on (upstream's own text when it gave some).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The HTTP status, when an answer came.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The model called, unless the model id itself was refused.
    pub fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }

    /// Upstream's `x-request-id`, to quote when reporting a problem.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// Attempts made (0 when refused before any request).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// How long upstream asked to wait (`Retry-After`, or a loading model's
    /// `estimated_time`), in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.0.retry_after_ms
    }

    /// The failed attempts of a call over a list of providers, in order
    /// (empty for other calls).
    pub fn failures(&self) -> &[ProviderFailure] {
        &self.0.failures
    }

    /// The same error with the failed attempts of its call.
    pub fn with_failures(mut self, failures: Vec<ProviderFailure>) -> Error {
        self.0.failures = failures;
        self
    }

    /// The same error with the HTTP status it was answered with.
    pub fn with_status(mut self, status: u16) -> Error {
        self.0.status = Some(status);
        self
    }

    /// The same error with the wait upstream asked for.
    pub fn with_retry_after_ms(mut self, ms: Option<u64>) -> Error {
        self.0.retry_after_ms = ms;
        self
    }

    /// Fills in what the call knows and the error does not say yet: its
    /// status, request id and attempts (the larger count wins).
    pub fn with_call_facts(
        mut self,
        status: Option<u16>,
        request_id: Option<&str>,
        attempts: u32,
    ) -> Error {
        self.0.status = self.0.status.or(status);
        if self.0.request_id.is_none() {
            self.0.request_id = request_id.map(str::to_owned);
        }
        self.0.attempts = self.0.attempts.max(attempts);
        self
    }

    /// Names the model the call went to, unless the model id itself was the
    /// problem (its message starts with `model:`).
    pub fn with_model(mut self, model: &str) -> Error {
        if self.0.model.is_none() && !self.0.message.starts_with("model:") {
            self.0.model = Some(model.to_owned());
        }
        self
    }

    /// The same error with every one of `secrets` in its message replaced
    /// by `[redacted]` (upstream text may echo a credential back), then its
    /// message cut to length: redacted first, so no cut leaves part of a
    /// token behind.
    pub fn redacted(mut self, secrets: &[Token]) -> Error {
        let message = core::mem::take(&mut self.0.message);
        self.0.message = truncated(redact_each(secrets, message));
        for failure in &mut self.0.failures {
            let message = core::mem::take(&mut failure.message);
            failure.message = truncated(redact_each(secrets, message));
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for Error {}

/// What an error answer's body says, in the shapes upstream uses:
/// `{"error": "..."}`, `{"error": ["a", "b"]}`, OpenAI's
/// `{"error": {"message", "type"}}`, with `error_type`, `estimated_time`
/// and, from our proxy, `code`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorBody {
    /// `error`: upstream's words.
    pub error: ErrorText,
    /// `message`, used when there is no `error`.
    pub message: Option<String>,
    /// `error_type` (`"validation"` in TGI streams).
    pub error_type: Option<String>,
    /// `estimated_time` of a loading model, in seconds.
    pub estimated_time: Option<f64>,
    /// A code of ours, sent by the proxy's refusals.
    pub code: Option<String>,
}

/// The `error` member of an error body, read from any of its shapes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ErrorText {
    /// Absent or `null`.
    #[default]
    None,
    /// A text, or the strings of a list joined with `"; "`.
    Text(String),
    /// An object: its `message` and `type`.
    Object {
        /// `message`.
        message: Option<String>,
        /// `type` (`"invalid_request_error"`, `"server_error"`, ...).
        kind: Option<String>,
    },
    /// Something else (a number, a list without a string).
    Other,
}

// Read member by member through `Document` rather than by a serde derive:
// the derived reader, with the visitors its loose member types need, was
// 2.5 KB of the wasm (one copy per serde-wasm-bindgen deserializer).
impl ErrorBody {
    /// Reads an error body from a JSON object (`None` for anything else).
    /// A member of another type than expected (OpenAI-style servers send a
    /// numeric `code`) reads as absent, so the rest still counts.
    pub fn read<D: Document>(doc: &D) -> Option<ErrorBody> {
        if !doc.is_object() {
            return None;
        }
        let text = |key: &str| doc.member(key).and_then(|v| v.as_text());
        Some(ErrorBody {
            error: doc
                .member("error")
                .map_or(ErrorText::None, |e| ErrorText::read(&e)),
            message: text("message"),
            error_type: text("error_type"),
            estimated_time: doc.member("estimated_time").and_then(|v| v.as_number()),
            code: text("code"),
        })
    }

    /// Upstream's words: the `error` text (a list joined, an object's
    /// `message`), else `message`.
    pub fn text(&self) -> Option<&str> {
        match &self.error {
            ErrorText::Text(text) => Some(text),
            ErrorText::Object {
                message: Some(m), ..
            } => Some(m),
            _ => self.message.as_deref(),
        }
    }

    /// Whether the body reports an error at all (`error` present, not null).
    pub fn has_error(&self) -> bool {
        !matches!(self.error, ErrorText::None)
    }
}

impl ErrorText {
    fn read<D: Document>(value: &D) -> ErrorText {
        if value.is_nullish() {
            return ErrorText::None;
        }
        if let Some(text) = value.as_text() {
            return ErrorText::Text(text);
        }
        if let Some(items) = value.elements() {
            // The texts joined by "; ", written here: `join` over `String`s
            // would be a second copy of it in the wasm, and collecting `&str`s
            // for `text::joined` measured 100 bytes more gzipped.
            let mut joined: Option<String> = None;
            for part in items.iter().filter_map(Document::as_text) {
                match &mut joined {
                    Some(text) => {
                        text.push_str("; ");
                        text.push_str(&part);
                    }
                    None => joined = Some(part),
                }
            }
            return joined.map_or(ErrorText::Other, ErrorText::Text);
        }
        if value.is_object() {
            let text = |key: &str| value.member(key).and_then(|v| v.as_text());
            return ErrorText::Object {
                message: text("message"),
                kind: text("type"),
            };
        }
        ErrorText::Other
    }
}

/// What an error answer is made of, as the transport read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorAnswer {
    /// Its HTTP status.
    pub status: u16,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// The wait its `Retry-After` asks for, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// Its body as text.
    pub text: String,
    /// Its body read as JSON, when it was JSON of an object.
    pub json: Option<ErrorBody>,
}

/// Longest upstream text kept in a message; HTML error pages can be large.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Maps a non-2xx answer to an error, keeping upstream's message. Its wait
/// is the `Retry-After` of the answer, else a loading model's
/// `estimated_time`. A code of ours in the body is kept only when the status
/// is the one that code is answered with, so a foreign upstream cannot make
/// a 500 look like `BUDGET_EXCEEDED`.
pub fn error_from_answer(answer: &ErrorAnswer) -> Error {
    let status = answer.status;
    let mut code = ErrorCode::from_status(status);
    let mut message = None;
    let mut estimated_ms = None;
    if let Some(body) = &answer.json {
        message = body.text().map(str::to_owned);
        estimated_ms = body
            .estimated_time
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| (s * 1000.0).round() as u64);
        let says_loading = message
            .as_deref()
            .is_some_and(|m| super::text::contains(m, "loading"));
        let own = body.code.as_deref().and_then(ErrorCode::from_name);
        if let Some(own) = own.filter(|c| c.answered_with() == Some(status)) {
            code = own;
        } else if status == 503 && (estimated_ms.is_some() || says_loading) {
            code = ErrorCode::ModelLoading;
        } else if body.error_type.as_deref() == Some("validation") && code == ErrorCode::BadRequest
        {
            // A validation error in a 4xx without a code of its own; a 429
            // or a 402 keeps its own meaning (and its retry or not).
            code = ErrorCode::Validation;
        }
    }
    if message.is_none() && !answer.text.trim().is_empty() && answer.json.is_none() {
        message = Some(answer.text.trim().to_owned());
    }
    let message = message.unwrap_or_else(|| status_line(status));
    Error(Box::new(Details {
        code,
        message: truncated(message),
        status: Some(status),
        model: None,
        request_id: answer.request_id.clone(),
        attempts: 0,
        retry_after_ms: answer.retry_after_ms.or(estimated_ms),
        failures: Vec::new(),
    }))
}

/// `HTTP 429 Too Many Requests`.
fn status_line(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
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
    };
    // Written as a `u32`: `u16`'s own `Display` would be one more integer
    // formatter in the wasm.
    let status = u32::from(status);
    if reason.is_empty() {
        return format!("HTTP {status}");
    }
    format!("HTTP {status} {reason}")
}

fn truncated(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// The error a 2xx answer or a stream event carries instead of a result, if
/// any (see [`embedded_error`]). Most documents have no `error` member:
/// those are not read any further.
pub fn embedded<D: Document>(doc: &D) -> Option<Error> {
    if !doc.is_object() || doc.member("error").is_none_or(|e| e.is_nullish()) {
        return None;
    }
    embedded_error(&ErrorBody::read(doc)?)
}

/// An error upstream reported inside a 2xx answer or a stream event:
/// `{"error": "...", "error_type": "validation"}`, or OpenAI's
/// `{"error": {"message", "type"}}`. `None` when the body carries none.
/// Its message is upstream's whole text: [`Error::redacted`], which every
/// such error goes through, cuts it once the tokens are out of it.
pub fn embedded_error(body: &ErrorBody) -> Option<Error> {
    if !body.has_error() {
        return None;
    }
    let message = body.text().unwrap_or("upstream reported an error");
    let kind = match &body.error {
        ErrorText::Object { kind, .. } => kind.as_deref(),
        _ => None,
    };
    let code = match body.error_type.as_deref().or(kind) {
        Some("validation" | "invalid_request_error") => ErrorCode::Validation,
        _ => ErrorCode::UpstreamError,
    };
    Some(Error::new(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, text: &str) -> ErrorAnswer {
        ErrorAnswer {
            status,
            request_id: Some("req-1".into()),
            retry_after_ms: None,
            text: text.to_owned(),
            json: serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|doc| ErrorBody::read(&doc)),
        }
    }

    fn body(text: &str) -> ErrorBody {
        ErrorBody::read(&serde_json::from_str::<serde_json::Value>(text).unwrap()).unwrap()
    }

    #[test]
    fn every_code_round_trips_through_its_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::from_name("NOPE"), None);
        assert_eq!(ErrorCode::PaymentRequired.as_str(), "PAYMENT_REQUIRED");
    }

    #[test]
    fn loading_503_carries_estimated_time() {
        let err = error_from_answer(&answer(
            503,
            r#"{"error":"Model gpt2 is currently loading","estimated_time":20.5}"#,
        ));
        assert_eq!(err.code(), ErrorCode::ModelLoading);
        assert_eq!(err.message(), "Model gpt2 is currently loading");
        assert_eq!(err.retry_after_ms(), Some(20_500));
        assert_eq!(err.request_id(), Some("req-1"));
        assert_eq!(err.status(), Some(503));
    }

    #[test]
    fn plain_503_is_upstream_error_and_header_wins_over_estimate() {
        let err = error_from_answer(&answer(503, "upstream connect error"));
        assert_eq!(
            (err.code(), err.message()),
            (ErrorCode::UpstreamError, "upstream connect error")
        );
        let mut loading = answer(
            503,
            r#"{"error":"Model gpt2 is currently loading","estimated_time":20}"#,
        );
        loading.retry_after_ms = Some(3000);
        assert_eq!(error_from_answer(&loading).retry_after_ms(), Some(3000));
    }

    #[test]
    fn a_402_is_payment_required_with_upstreams_words() {
        let err = error_from_answer(&answer(
            402,
            r#"{"error":"You have exceeded your monthly included credits for Inference Providers."}"#,
        ));
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::PaymentRequired,
                "You have exceeded your monthly included credits for Inference Providers."
            )
        );
        assert_eq!(
            error_from_answer(&answer(402, "")).message(),
            "HTTP 402 Payment Required"
        );
    }

    #[test]
    fn a_body_code_is_kept_only_with_its_own_status() {
        let config = error_from_answer(&answer(
            500,
            r#"{"error":"HF_TOKEN is not set","code":"CONFIG"}"#,
        ));
        assert_eq!(
            (config.code(), config.message()),
            (ErrorCode::Config, "HF_TOKEN is not set")
        );
        let budget = r#"{"error":"the daily cap is reached","code":"BUDGET_EXCEEDED"}"#;
        assert_eq!(
            error_from_answer(&answer(402, budget)).code(),
            ErrorCode::BudgetExceeded
        );
        // The same body with another status: the status decides.
        for (status, code) in [
            (500, ErrorCode::UpstreamError),
            (429, ErrorCode::RateLimited),
            (503, ErrorCode::UpstreamError),
        ] {
            assert_eq!(error_from_answer(&answer(status, budget)).code(), code);
        }
        let forbidden = r#"{"error":"no","code":"FORBIDDEN"}"#;
        assert_eq!(
            error_from_answer(&answer(403, forbidden)).code(),
            ErrorCode::Forbidden
        );
        assert_eq!(
            error_from_answer(&answer(400, forbidden)).code(),
            ErrorCode::BadRequest
        );
        // A code without a status of its own (BAD_RESPONSE) is never believed.
        let bad = r#"{"error":"x","code":"BAD_RESPONSE"}"#;
        assert_eq!(
            error_from_answer(&answer(500, bad)).code(),
            ErrorCode::UpstreamError
        );
    }

    #[test]
    fn every_proxy_code_has_its_status() {
        for (code, status) in [
            (ErrorCode::InvalidInput, 400),
            (ErrorCode::Unauthorized, 401),
            (ErrorCode::PaymentRequired, 402),
            (ErrorCode::BudgetExceeded, 402),
            (ErrorCode::Forbidden, 403),
            (ErrorCode::NotFound, 404),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::Validation, 422),
            (ErrorCode::RateLimited, 429),
            (ErrorCode::Config, 500),
            (ErrorCode::UpstreamError, 500),
            (ErrorCode::Network, 502),
            (ErrorCode::ModelLoading, 503),
            (ErrorCode::Timeout, 504),
        ] {
            assert_eq!(code.answered_with(), Some(status), "{code}");
            let text = format!(r#"{{"error":"e","code":"{code}"}}"#);
            assert_eq!(error_from_answer(&answer(status, &text)).code(), code);
        }
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::Gone,
            ErrorCode::Aborted,
            ErrorCode::BadResponse,
        ] {
            assert_eq!(code.answered_with(), None, "{code}");
        }
    }

    #[test]
    fn a_validation_error_type_does_not_override_a_specific_status() {
        let body = r#"{"error":"Input validation error","error_type":"validation"}"#;
        for (status, code) in [
            (400, ErrorCode::Validation),
            (422, ErrorCode::Validation),
            (429, ErrorCode::RateLimited),
            (402, ErrorCode::PaymentRequired),
            (500, ErrorCode::UpstreamError),
        ] {
            assert_eq!(
                error_from_answer(&answer(status, body)).code(),
                code,
                "{status}"
            );
        }
    }

    #[test]
    fn empty_body_gets_the_status_line() {
        let err = error_from_answer(&answer(429, ""));
        assert_eq!(
            (err.code(), err.message()),
            (ErrorCode::RateLimited, "HTTP 429 Too Many Requests")
        );
        assert_eq!(error_from_answer(&answer(599, "")).message(), "HTTP 599");
    }

    #[test]
    fn members_of_another_type_read_as_absent() {
        // OpenAI-style servers send a numeric `code`: the body stays readable.
        let numeric = error_from_answer(&answer(
            400,
            r#"{"object":"error","message":"bad input","code":400}"#,
        ));
        assert_eq!(
            (numeric.code(), numeric.message()),
            (ErrorCode::BadRequest, "bad input")
        );
        let embedded = embedded_error(&body(r#"{"error":"overloaded","code":500}"#)).unwrap();
        assert_eq!(
            (embedded.code(), embedded.message()),
            (ErrorCode::UpstreamError, "overloaded")
        );
        let loading = error_from_answer(&answer(
            503,
            r#"{"error":"Model gpt2 is currently loading","estimated_time":"soon","error_type":7}"#,
        ));
        assert_eq!(
            (loading.code(), loading.retry_after_ms()),
            (ErrorCode::ModelLoading, None)
        );
        let whole = error_from_answer(&answer(503, r#"{"error":"loading","estimated_time":20}"#));
        assert_eq!(whole.retry_after_ms(), Some(20_000));
    }

    #[test]
    fn error_lists_and_openai_objects_become_text() {
        assert_eq!(
            error_from_answer(&answer(400, r#"{"error":["a",1,"b"]}"#)).message(),
            "a; b"
        );
        let openai = error_from_answer(&answer(401, r#"{"error":{"message":"bad key"}}"#));
        assert_eq!(
            (openai.code(), openai.message()),
            (ErrorCode::Unauthorized, "bad key")
        );
        // JSON without any words: the status line, not the JSON text.
        assert_eq!(
            error_from_answer(&answer(500, r#"{"detail":1}"#)).message(),
            "HTTP 500 Internal Server Error"
        );
        assert_eq!(
            error_from_answer(&answer(400, r#"{"message":"from message"}"#)).message(),
            "from message"
        );
    }

    #[test]
    fn errors_inside_a_2xx_answer() {
        for (text, code, message) in [
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
            (
                r#"{"error":{"code":5}}"#,
                ErrorCode::UpstreamError,
                "upstream reported an error",
            ),
        ] {
            let err = embedded_error(&body(text)).unwrap();
            assert_eq!((err.code(), err.message()), (code, message), "{text}");
        }
        for none in [r#"{"error":null,"x":1}"#, r#"{"choices":[]}"#] {
            assert_eq!(embedded_error(&body(none)), None, "{none}");
        }
    }

    #[test]
    fn long_bodies_are_truncated() {
        let err = error_from_answer(&answer(502, &"x".repeat(5000)));
        assert_eq!(err.message().chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn a_token_across_the_cut_is_redacted_whole() {
        // Cut before redaction, the message would end in `hf_secret_tok…`.
        let text = format!(
            "{}hf_secret_token_value and more",
            "x".repeat(MAX_MESSAGE_CHARS - 15)
        );
        let err = Error::new(ErrorCode::UpstreamError, text)
            .redacted(&[Token::new("hf_secret_token_value").unwrap()]);
        assert_eq!(
            err.message(),
            format!("{}[redacted] and …", "x".repeat(MAX_MESSAGE_CHARS - 15))
        );
    }

    #[test]
    fn call_facts_model_and_redaction() {
        let err = Error::new(ErrorCode::Network, "could not reach hf_secret")
            .with_call_facts(Some(502), Some("r-1"), 3)
            .with_model("gpt2")
            .redacted(&[Token::new("hf_secret").unwrap()]);
        assert_eq!(err.message(), "could not reach [redacted]");
        assert_eq!(
            (err.status(), err.request_id(), err.attempts(), err.model()),
            (Some(502), Some("r-1"), 3, Some("gpt2"))
        );
        let refused = Error::invalid_input("model", "must be a model id").with_model("x");
        assert_eq!(refused.model(), None);
        assert_eq!(
            refused.to_string(),
            "INVALID_INPUT: model: must be a model id"
        );
    }
}
