//! Answers checked in every shape seen on the wire (the classification
//! lists given back as they came, zero-shot's labels read in the answer's
//! order), their typed reading for the Rust API, and the errors upstream
//! reports inside a 2xx answer.

use serde::{Deserialize, Serialize};

use super::document::Document;
use super::error::{embedded, Error, ErrorCode};
use super::task::Task;

/// One class and its probability, as `@huggingface/inference` returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// The class name.
    pub label: String,
    /// Its score, between 0 and 1.
    pub score: f64,
}

/// The text a generation call produced, with upstream's `details` (in the
/// document type it came in) when it sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedText<D> {
    /// The generated text.
    pub generated_text: String,
    /// Upstream's `details` object, when asked for with `details: true`.
    pub details: Option<D>,
}

/// `the TASK answer is not EXPECTED`, as BAD_RESPONSE.
pub fn bad_response(task: Task, expected: &str) -> Error {
    Error::new(
        ErrorCode::BadResponse,
        format!("the {} answer is not {expected}", task.name()),
    )
}

fn count_mismatch(task: Task, results: usize, inputs: usize) -> Error {
    Error::new(
        ErrorCode::BadResponse,
        format!(
            "the {} answer has {results} results for {inputs} inputs",
            task.name()
        ),
    )
}

/// Whether an item is `{label, score}` (other members allowed).
fn is_label<D: Document>(item: &D) -> bool {
    item.member("label").is_some_and(|l| l.is_text())
        && item
            .member("score")
            .is_some_and(|s| s.as_number().is_some())
}

/// The `{label, score}` items of a checked list (see [`text_classification`]),
/// as typed labels.
pub fn labels_of<D: Document>(list: &D) -> Vec<Label> {
    let read = |item: &D| {
        Some(Label {
            label: item.member("label")?.as_text()?,
            score: item.member("score")?.as_number()?,
        })
    };
    list.elements()
        .unwrap_or_default()
        .iter()
        .filter_map(read)
        .collect()
}

// Answers are read through `Document` rather than serde derives: with no
// serde deserializer in the JS build, serde's error texts (and the float
// formatting they bring) stay out of the wasm. Classification lists are
// checked where they are and given back as they came, as the reference
// client does: no label is copied out of the answer and written back.

/// A classification answer as one list per input, each checked and as it
/// came: the router's nested `[[{label, score}]]`, or a flat
/// `[{label, score}]` for one input.
fn lists<D: Document>(doc: &D, task: Task) -> Result<Vec<D>, Error> {
    if let Some(err) = embedded(doc) {
        return Err(err);
    }
    let bad = || bad_response(task, "a list of {label, score}");
    let items = doc.elements().ok_or_else(bad)?;
    let nested = !items.is_empty() && items.iter().all(|i| i.elements().is_some());
    let lists = if nested { items } else { vec![doc.clone()] };
    for list in &lists {
        if !list.elements().is_some_and(|l| l.iter().all(is_label)) {
            return Err(bad());
        }
    }
    Ok(lists)
}

/// A text-classification answer: one list per input, as sent.
pub fn text_classification<D: Document>(doc: &D, inputs: usize) -> Result<Vec<D>, Error> {
    let lists = lists(doc, Task::TextClassification)?;
    if lists.len() != inputs {
        return Err(count_mismatch(
            Task::TextClassification,
            lists.len(),
            inputs,
        ));
    }
    Ok(lists)
}

/// An image-classification answer: `[{label, score}]`.
pub fn image_classification<D: Document>(doc: &D) -> Result<D, Error> {
    let lists = lists(doc, Task::ImageClassification)?;
    match <[D; 1]>::try_from(lists) {
        Ok([list]) => Ok(list),
        Err(_) => Err(bad_response(
            Task::ImageClassification,
            "a single list of {label, score}",
        )),
    }
}

/// A label as the answer holds it (its text not copied out) and its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored<D> {
    /// The label, a string of the document.
    pub label: D,
    /// Its score.
    pub score: f64,
}

impl<D: Document> Scored<D> {
    /// As a typed label.
    pub fn to_label(&self) -> Label {
        Label {
            label: self.label.as_text().unwrap_or_default(),
            score: self.score,
        }
    }
}

/// A `{label, score}` item.
fn scored<D: Document>(item: &D) -> Option<Scored<D>> {
    let label = item.member("label").filter(D::is_text)?;
    let score = item.member("score")?.as_number()?;
    Some(Scored { label, score })
}

/// The old zero-shot shape `{sequence, labels, scores}` as a list.
fn labels_and_scores<D: Document>(item: &D) -> Option<Vec<Scored<D>>> {
    let labels = item.member("labels")?.elements()?;
    let scores = item.member("scores")?.elements()?;
    if labels.len() != scores.len() {
        return None;
    }
    let mut list = Vec::with_capacity(labels.len());
    for (label, score) in labels.into_iter().zip(&scores) {
        if !label.is_text() {
            return None;
        }
        let score = score.as_number()?;
        list.push(Scored { label, score });
    }
    Some(list)
}

/// A zero-shot answer in any of its shapes, as one list per input: the old
/// `{labels, scores}` (or a list of them), or the new `[{label, score}]`.
fn zero_shot_lists<D: Document>(doc: &D) -> Option<Vec<Vec<Scored<D>>>> {
    let Some(items) = doc.elements() else {
        return labels_and_scores(doc).map(|list| vec![list]);
    };
    let old = !items.is_empty() && items.iter().all(|i| i.member("labels").is_some());
    // Loops rather than `collect::<Option<_>>()`: each such chain is its
    // own copy of the iterator code in the wasm.
    let mut lists = Vec::with_capacity(items.len());
    if old {
        for item in &items {
            lists.push(labels_and_scores(item)?);
        }
    } else {
        let mut flat = Vec::with_capacity(items.len());
        for item in &items {
            flat.push(scored(item)?);
        }
        lists.push(flat);
    }
    Some(lists)
}

/// A zero-shot answer: one list per input, in the answer's order, from the
/// old `{sequence, labels, scores}` shape (or a list of them) or the new
/// `[{label, score}]` one. The client sorts each by score with the
/// platform's stable sort (`client::json::sort_by_score`).
pub fn zero_shot<D: Document>(doc: &D, inputs: usize) -> Result<Vec<Vec<Scored<D>>>, Error> {
    if let Some(err) = embedded(doc) {
        return Err(err);
    }
    let lists = zero_shot_lists(doc)
        .ok_or_else(|| bad_response(Task::ZeroShot, "{labels, scores} or [{label, score}]"))?;
    if lists.len() != inputs {
        return Err(count_mismatch(Task::ZeroShot, lists.len(), inputs));
    }
    Ok(lists)
}

/// A text-generation answer: `[{generated_text}]` or `{generated_text}`.
pub fn text_generation<D: Document>(doc: &D) -> Result<GeneratedText<D>, Error> {
    if let Some(err) = embedded(doc) {
        return Err(err);
    }
    let item = match doc.elements() {
        Some(items) => items.into_iter().next(),
        None => Some(doc.clone()),
    };
    let bad = || bad_response(Task::TextGeneration, "[{generated_text}]");
    let item = item.ok_or_else(bad)?;
    let generated_text = item
        .member("generated_text")
        .and_then(|t| t.as_text())
        .ok_or_else(bad)?;
    let details = item.member("details").filter(|d| !d.is_nullish());
    Ok(GeneratedText {
        generated_text,
        details,
    })
}

/// Checks a chat completion: upstream's error if it carries one, else it
/// must have `choices`.
pub fn chat_completion<D: Document>(doc: &D) -> Result<(), Error> {
    if let Some(err) = embedded(doc) {
        return Err(err);
    }
    if doc.member("choices").and_then(|c| c.elements()).is_none() {
        return Err(bad_response(
            Task::Chat,
            "a chat completion ({choices, ...})",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn doc(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn l(label: &str, score: f64) -> Label {
        Label {
            label: label.into(),
            score,
        }
    }

    #[test]
    fn nested_and_flat_classification() {
        let nested = text_classification(
            &doc(r#"[[{"label":"A","score":0.9},{"label":"B","score":0.1}]]"#),
            1,
        )
        .unwrap();
        assert_eq!(
            nested,
            [json!([{"label": "A", "score": 0.9}, {"label": "B", "score": 0.1}])]
        );
        assert_eq!(labels_of(&nested[0]), [l("A", 0.9), l("B", 0.1)]);
        let flat = text_classification(&doc(r#"[{"label":"A","score":1e-3}]"#), 1).unwrap();
        assert_eq!(flat, [json!([{"label": "A", "score": 0.001}])]);
        // The lists are upstream's, members it added included.
        let more = text_classification(&doc(r#"[[{"label":"A","score":1,"id":7}]]"#), 1).unwrap();
        assert_eq!(more, [json!([{"label": "A", "score": 1, "id": 7}])]);
        assert_eq!(labels_of(&more[0]), [l("A", 1.0)]);
        assert_eq!(
            image_classification(&doc(r#"[{"label":"cat","score":0.5}]"#)).unwrap(),
            json!([{"label": "cat", "score": 0.5}])
        );
        let err = text_classification(&doc(r#"[[{"label":"A","score":1}]]"#), 2).unwrap_err();
        assert_eq!(
            err.message(),
            "the text-classification answer has 1 results for 2 inputs"
        );
    }

    #[test]
    fn shapes_that_are_wrong_are_bad_responses() {
        for body in [
            "{}",
            "[1]",
            r#"[{"label":1,"score":0.5}]"#,
            r#"[[{"label":"a"}]]"#,
            r#"[{"label":"a","score":1},[]]"#,
        ] {
            let err = text_classification(&doc(body), 1).unwrap_err();
            assert_eq!(
                (err.code(), err.message()),
                (
                    ErrorCode::BadResponse,
                    "the text-classification answer is not a list of {label, score}"
                ),
                "{body}"
            );
        }
        assert_eq!(
            text_generation(&doc("[]")).unwrap_err().message(),
            "the text-generation answer is not [{generated_text}]"
        );
        assert_eq!(
            zero_shot(&doc(r#"{"labels":["a"],"scores":[]}"#), 1)
                .unwrap_err()
                .code(),
            ErrorCode::BadResponse
        );
        assert_eq!(
            image_classification(&doc(r#"[[],[]]"#))
                .unwrap_err()
                .message(),
            "the image-classification answer is not a single list of {label, score}"
        );
    }

    fn typed(lists: Vec<Vec<Scored<Value>>>) -> Vec<Vec<Label>> {
        lists
            .iter()
            .map(|list| list.iter().map(Scored::to_label).collect())
            .collect()
    }

    #[test]
    fn zero_shot_both_shapes_in_the_answers_order() {
        let old = zero_shot(
            &doc(r#"{"sequence":"s","labels":["a","b"],"scores":[0.2,0.8]}"#),
            1,
        )
        .map(typed)
        .unwrap();
        assert_eq!(old, vec![vec![l("a", 0.2), l("b", 0.8)]]);
        let new = zero_shot(
            &doc(r#"[{"label":"a","score":0.2},{"label":"b","score":0.8}]"#),
            1,
        )
        .map(typed)
        .unwrap();
        assert_eq!(new, old);
        let many = zero_shot(
            &doc(r#"[{"sequence":"x","labels":["a"],"scores":[1]},{"sequence":"y","labels":["b"],"scores":[1]}]"#),
            2,
        )
        .map(typed)
        .unwrap();
        assert_eq!(many, vec![vec![l("a", 1.0)], vec![l("b", 1.0)]]);
        let err = zero_shot(&doc(r#"[{"label":"a","score":1}]"#), 2).unwrap_err();
        assert_eq!(
            err.message(),
            "the zero-shot-classification answer has 1 results for 2 inputs"
        );
    }

    #[test]
    fn generation_with_and_without_list() {
        assert_eq!(
            text_generation(&doc(r#"[{"generated_text":"hi"}]"#)).unwrap(),
            GeneratedText {
                generated_text: "hi".into(),
                details: None
            }
        );
        let single = text_generation(&doc(
            r#"{"generated_text":"yo","details":{"finish_reason":"length"}}"#,
        ))
        .unwrap();
        assert_eq!(single.details, Some(json!({"finish_reason": "length"})));
        let null_details =
            text_generation(&doc(r#"[{"generated_text":"x","details":null}]"#)).unwrap();
        assert_eq!(null_details.details, None);
    }

    #[test]
    fn an_error_inside_a_200_is_kept() {
        let err = text_generation(&doc(
            r#"{"error":"Input validation error","error_type":"validation"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (ErrorCode::Validation, "Input validation error")
        );
    }

    #[test]
    fn a_chat_answer_carrying_an_error_is_upstreams_error() {
        let err = chat_completion(&doc(
            r#"{"error":{"message":"Model is overloaded, try again later","type":"server_error"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::UpstreamError,
                "Model is overloaded, try again later"
            )
        );
        assert_eq!(
            chat_completion(&doc(r#"{"id":"x"}"#))
                .unwrap_err()
                .message(),
            "the chat answer is not a chat completion ({choices, ...})"
        );
        assert_eq!(chat_completion(&doc(r#"{"choices":[]}"#)), Ok(()));
    }
}
