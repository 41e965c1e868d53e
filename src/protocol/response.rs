//! Typed results, normalised from every answer shape seen on the wire.

use super::error::{embedded_error, ErrorCode, InferenceError};
use super::json::{write_decimal, Json, Number};
use super::text::join;
use crate::prelude::*;

/// One class and its probability.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelScore {
    /// The class name.
    pub label: String,
    /// Its score, between 0 and 1, as upstream wrote it.
    pub score: Number,
}

/// The text a generation call produced.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedText {
    /// The generated text (with the prompt unless `return_full_text` was false).
    pub generated_text: String,
    /// Upstream's `details` object, when asked for with `details: true`.
    pub details: Option<Json>,
}

fn bad_response(task: &str, expected: &str) -> InferenceError {
    InferenceError::new(
        ErrorCode::BadResponse,
        join(&["the ", task, " answer is not ", expected]),
    )
}

/// `the TASK answer has N results for M inputs`.
fn count_mismatch(task: &str, results: usize, inputs: usize) -> String {
    let mut text = join(&["the ", task, " answer has "]);
    write_decimal(results as u64, &mut text);
    text.push_str(" results for ");
    write_decimal(inputs as u64, &mut text);
    text.push_str(" inputs");
    text
}

fn parse_body(body: &str, task: &str) -> Result<Json, InferenceError> {
    Json::parse(body).map_err(|e| {
        InferenceError::new(
            ErrorCode::BadResponse,
            join(&["the ", task, " answer is not JSON (", &e.describe(), ")"]),
        )
    })
}

fn label_score(label: Option<&Json>, score: Option<&Json>) -> Option<LabelScore> {
    Some(LabelScore {
        label: label?.as_str()?.to_owned(),
        score: score?.as_number()?,
    })
}

/// `[{label, score}]`. (Loops rather than `collect::<Option<_>>()`: each
/// such collect is its own generic machinery in the wasm.)
fn label_scores(items: &[Json]) -> Option<Vec<LabelScore>> {
    let mut list = Vec::with_capacity(items.len());
    for item in items {
        list.push(label_score(item.get("label"), item.get("score"))?);
    }
    Some(list)
}

/// Sorts by score, highest first; equal scores keep their order.
fn by_score_desc(mut list: Vec<LabelScore>) -> Vec<LabelScore> {
    // Insertion sort: lists are short, and the standard stable sort would
    // add kilobytes of generic code to the wasm.
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 && list[j - 1].score.numeric_cmp(&list[j].score).is_lt() {
            list.swap(j - 1, j);
            j -= 1;
        }
    }
    list
}

/// Reads a classification answer as one list per input: `[[{label, score}]]`
/// (the router's nested form) or a flat `[{label, score}]` (one input).
fn classification_lists(body: &str, task: &str) -> Result<Vec<Vec<LabelScore>>, InferenceError> {
    let json = parse_body(body, task)?;
    if let Some(err) = embedded_error(&json) {
        return Err(err);
    }
    lists_of(&json, task)
}

/// [`classification_lists`] of an answer already parsed.
fn lists_of(json: &Json, task: &str) -> Result<Vec<Vec<LabelScore>>, InferenceError> {
    let bad = || bad_response(task, "a list of {label, score}");
    let items = json.as_array().ok_or_else(bad)?;
    if items.is_empty() || items.iter().any(|i| i.as_array().is_none()) {
        return Ok(vec![label_scores(items).ok_or_else(bad)?]);
    }
    let mut lists = Vec::with_capacity(items.len());
    for list in items {
        lists.push(label_scores(list.as_array().unwrap_or_default()).ok_or_else(bad)?);
    }
    Ok(lists)
}

/// A text-classification answer: one list per input, as sent.
pub fn parse_text_classification(
    body: &str,
    inputs: usize,
) -> Result<Vec<Vec<LabelScore>>, InferenceError> {
    let lists = classification_lists(body, "text-classification")?;
    if lists.len() != inputs {
        return Err(InferenceError::new(
            ErrorCode::BadResponse,
            count_mismatch("text-classification", lists.len(), inputs),
        ));
    }
    Ok(lists)
}

/// An image-classification answer: `[{label, score}]`.
pub fn parse_image_classification(body: &str) -> Result<Vec<LabelScore>, InferenceError> {
    let mut lists = classification_lists(body, "image-classification")?;
    match lists.len() {
        1 => Ok(lists.remove(0)),
        _ => Err(bad_response(
            "image-classification",
            "a single list of {label, score}",
        )),
    }
}

/// A zero-shot answer: one list per input, each sorted by score, from either
/// the old `{sequence, labels, scores}` form (or a list of them) or the new
/// `[{label, score}]` form.
pub fn parse_zero_shot(body: &str, inputs: usize) -> Result<Vec<Vec<LabelScore>>, InferenceError> {
    const TASK: &str = "zero-shot-classification";
    let json = parse_body(body, TASK)?;
    if let Some(err) = embedded_error(&json) {
        return Err(err);
    }
    let lists = match &json {
        Json::Object(_) => vec![old_zero_shot(&json)?],
        Json::Array(items)
            if items.iter().all(Json::is_object)
                && items.iter().any(|i| i.get("labels").is_some()) =>
        {
            let mut lists = Vec::with_capacity(items.len());
            for item in items {
                lists.push(old_zero_shot(item)?);
            }
            lists
        }
        _ => lists_of(&json, TASK)?,
    };
    if lists.len() != inputs {
        return Err(InferenceError::new(
            ErrorCode::BadResponse,
            count_mismatch(TASK, lists.len(), inputs),
        ));
    }
    Ok(lists.into_iter().map(by_score_desc).collect())
}

fn old_zero_shot(json: &Json) -> Result<Vec<LabelScore>, InferenceError> {
    let bad = || {
        bad_response(
            "zero-shot-classification",
            "{labels, scores} or [{label, score}]",
        )
    };
    let labels = json
        .get("labels")
        .and_then(Json::as_array)
        .ok_or_else(bad)?;
    let scores = json
        .get("scores")
        .and_then(Json::as_array)
        .ok_or_else(bad)?;
    if labels.len() != scores.len() {
        return Err(bad());
    }
    let mut list = Vec::with_capacity(labels.len());
    for (label, score) in labels.iter().zip(scores) {
        list.push(label_score(Some(label), Some(score)).ok_or_else(bad)?);
    }
    Ok(list)
}

/// A text-generation answer: `[{generated_text}]` or `{generated_text}`.
pub fn parse_text_generation(body: &str) -> Result<GeneratedText, InferenceError> {
    const TASK: &str = "text-generation";
    let json = parse_body(body, TASK)?;
    if let Some(err) = embedded_error(&json) {
        return Err(err);
    }
    let item = match json {
        Json::Array(items) => items.into_iter().next(),
        other => Some(other),
    };
    let bad = || bad_response(TASK, "[{generated_text}]");
    let Some(Json::Object(members)) = item else {
        return Err(bad());
    };
    let (mut text, mut details) = (None, None);
    // The parsed answer is owned: its members move out, nothing is copied.
    for (key, value) in members {
        match (key.as_str(), value) {
            ("generated_text", Json::String(s)) => text = Some(s),
            ("details", Json::Null) => details = None,
            ("details", value) => details = Some(value),
            _ => {}
        }
    }
    Ok(GeneratedText {
        generated_text: text.ok_or_else(bad)?,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(label: &str, score: &str) -> LabelScore {
        LabelScore {
            label: label.into(),
            score: Number::from_text(score),
        }
    }

    #[test]
    fn nested_and_flat_classification() {
        let nested = parse_text_classification(
            r#"[[{"label":"A","score":0.9},{"label":"B","score":0.1}]]"#,
            1,
        )
        .unwrap();
        assert_eq!(nested, vec![vec![ls("A", "0.9"), ls("B", "0.1")]]);
        let flat = parse_text_classification(r#"[{"label":"A","score":1e-3}]"#, 1).unwrap();
        assert_eq!(flat, vec![vec![ls("A", "0.001")]]);
        let err = parse_text_classification(r#"[[{"label":"A","score":1}]]"#, 2).unwrap_err();
        assert_eq!(
            err.message,
            "the text-classification answer has 1 results for 2 inputs"
        );
    }

    #[test]
    fn shapes_that_are_wrong_are_bad_responses() {
        for body in [
            "{}",
            "[1]",
            r#"[{"label":1,"score":0.5}]"#,
            "not json",
            r#"[[{"label":"a"}]]"#,
        ] {
            assert_eq!(
                parse_text_classification(body, 1).unwrap_err().code,
                ErrorCode::BadResponse,
                "{body}"
            );
        }
        assert_eq!(
            parse_text_generation("[]").unwrap_err().code,
            ErrorCode::BadResponse
        );
        assert_eq!(
            parse_zero_shot(r#"{"labels":["a"],"scores":[]}"#, 1)
                .unwrap_err()
                .code,
            ErrorCode::BadResponse
        );
    }

    #[test]
    fn zero_shot_both_shapes_sorted() {
        let old = parse_zero_shot(
            r#"{"sequence":"s","labels":["a","b"],"scores":[0.2,0.8]}"#,
            1,
        )
        .unwrap();
        assert_eq!(old, vec![vec![ls("b", "0.8"), ls("a", "0.2")]]);
        let new = parse_zero_shot(
            r#"[{"label":"a","score":0.2},{"label":"b","score":0.8}]"#,
            1,
        )
        .unwrap();
        assert_eq!(new, old);
        let many = parse_zero_shot(
            r#"[{"sequence":"x","labels":["a"],"scores":[1]},{"sequence":"y","labels":["b"],"scores":[1]}]"#,
            2,
        )
        .unwrap();
        assert_eq!(many, vec![vec![ls("a", "1.0")], vec![ls("b", "1.0")]]);
    }

    #[test]
    fn generation_with_and_without_list() {
        assert_eq!(
            parse_text_generation(r#"[{"generated_text":"hi"}]"#)
                .unwrap()
                .generated_text,
            "hi"
        );
        let single = parse_text_generation(
            r#"{"generated_text":"yo","details":{"finish_reason":"length"}}"#,
        )
        .unwrap();
        assert_eq!(
            single
                .details
                .unwrap()
                .get("finish_reason")
                .unwrap()
                .as_str(),
            Some("length")
        );
    }

    #[test]
    fn error_inside_a_200_is_kept() {
        let err = parse_text_generation(
            r#"{"error":"Input validation error","error_type":"validation"}"#,
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::Validation, "Input validation error")
        );
    }
}
