//! What crosses to JavaScript: errors and results as JSON text, which
//! `JSON.parse` turns into plain objects (numbers keep their upstream text,
//! so scores come out exactly as a direct `JSON.parse` of the answer would).

use crate::prelude::*;
use crate::protocol::error::InferenceError;
use crate::protocol::json::{write_decimal, write_string};
use crate::protocol::response::{GeneratedText, LabelScore};

/// An error as JSON: `{code, message, status?, requestId?, attempts, retryAfterMs?}`,
/// the fields of the JS `InferenceError` (the model is added by JavaScript).
pub fn error_json(err: &InferenceError) -> String {
    let mut out = String::from("{\"code\":");
    write_string(err.code.as_str(), &mut out);
    out.push_str(",\"message\":");
    write_string(&err.message, &mut out);
    if let Some(status) = err.status {
        out.push_str(",\"status\":");
        write_decimal(status.into(), &mut out);
    }
    if let Some(id) = &err.request_id {
        out.push_str(",\"requestId\":");
        write_string(id, &mut out);
    }
    out.push_str(",\"attempts\":");
    write_decimal(err.attempts.into(), &mut out);
    if let Some(ms) = err.retry_after_ms {
        out.push_str(",\"retryAfterMs\":");
        write_decimal(ms, &mut out);
    }
    out.push('}');
    out
}

/// Marks a failed export's output: the error JSON follows it. Outputs of
/// success never start with it (they are JSON or empty). Returning errors in
/// band keeps wasm-bindgen's exception and externref glue out of the build.
pub const ERROR_MARK: char = '\u{1}';

/// An export's output: `result`'s text, or the error JSON after [`ERROR_MARK`].
pub fn outcome(result: Result<String, InferenceError>) -> String {
    result.unwrap_or_else(|err| {
        let mut out = String::from(ERROR_MARK);
        out.push_str(&error_json(&err));
        out
    })
}

/// `[{label, score}]`.
pub fn write_label_scores(list: &[LabelScore], out: &mut String) {
    out.push('[');
    for (i, item) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"label\":");
        write_string(&item.label, out);
        out.push_str(",\"score\":");
        out.push_str(item.score.as_str());
        out.push('}');
    }
    out.push(']');
}

/// One list for a single input (`many == false`), else one list per input.
pub fn per_input(lists: &[Vec<LabelScore>], many: bool) -> String {
    let mut out = String::with_capacity(lists.iter().map(|l| l.len() * 48).sum());
    if many {
        out.push('[');
        for (i, list) in lists.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_label_scores(list, &mut out);
        }
        out.push(']');
    } else if let Some(list) = lists.first() {
        write_label_scores(list, &mut out);
    }
    out
}

/// `{generated_text, details?}`.
pub fn generated_text(result: &GeneratedText) -> String {
    let mut out = String::from("{\"generated_text\":");
    write_string(&result.generated_text, &mut out);
    if let Some(details) = &result.details {
        out.push_str(",\"details\":");
        details.write_to(&mut out);
    }
    out.push('}');
    out
}
