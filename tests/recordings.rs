//! The pure core against real Hugging Face exchanges (tests/fixtures/recordings.json):
//! every 2xx answer of the five tasks (text classification, text generation,
//! image classification, zero-shot, chat) reads into its typed result, every
//! error answer maps to its code with upstream's message, the request bodies
//! and URLs we build match the recorded ones, and every recorded stream reads
//! to the same chunks however its bytes are split or framed.
// Native only: the browser wasm build of the crate has no std to link a test harness against.
#![cfg(not(all(target_arch = "wasm32", not(feature = "worker"))))]

use std::collections::BTreeMap;

use hf_inference_wasm::policy::random::SplitMix64;
use hf_inference_wasm::policy::retry::compute_time_ms;
use hf_inference_wasm::protocol::answer::{
    self, chat_completion, labels_of, text_generation, GeneratedText, Label, Scored,
};
use hf_inference_wasm::protocol::error::{
    embedded, error_from_answer, Error, ErrorAnswer, ErrorBody, ErrorCode,
};
use hf_inference_wasm::protocol::model::{
    chat_url, task_url, validate_endpoint_url, validate_model_id, ROUTER_TASKS,
};
use hf_inference_wasm::protocol::sse::{event_error, event_kind, EventKind, SseEvent, SseParser};
use hf_inference_wasm::protocol::task::{check_chat_request, check_prompt, read_labels, Inputs};
use serde_json::{json, Map, Value};

mod common;
use common::{parse, Doc};

/// The JSON body of a task call as the recordings show it: `{"inputs": ...,
/// "parameters": {...}, "stream": true}`, `parameters` left out when absent
/// and `stream` unless streamed. (The client builds the same object in
/// JavaScript memory; the package tests check its bytes on the wire.)
#[derive(serde::Serialize)]
struct TaskBody<'a> {
    inputs: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

fn inputs_value(inputs: &Inputs) -> Value {
    match inputs {
        Inputs::One(text) => json!(text),
        Inputs::Many(texts) => json!(texts),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Task {
    TextClassification,
    TextGeneration,
    ImageClassification,
    ZeroShot,
    Chat,
}

struct Exchange {
    id: String,
    url: String,
    request_body: Option<Value>,
    status: u16,
    response_headers: Value,
    response_body: String,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.response_headers.get(name).and_then(Value::as_str)
    }

    fn request_member(&self, key: &str) -> Option<&Value> {
        self.request_body.as_ref().and_then(|b| b.get(key))
    }

    fn answer(&self) -> Doc {
        parse(&self.response_body).unwrap_or_else(|| panic!("{}: the answer is JSON", self.id))
    }

    /// The error answer as the transport reads it: its body as text, and as
    /// an error body when it is JSON of an object.
    fn error_answer(&self) -> ErrorAnswer {
        ErrorAnswer {
            status: self.status,
            request_id: self.header("x-request-id").map(str::to_owned),
            retry_after_ms: None,
            text: self.response_body.clone(),
            json: error_body(&self.response_body),
        }
    }
}

fn error_body(text: &str) -> Option<ErrorBody> {
    parse(text).and_then(|doc| ErrorBody::read(&doc))
}

fn load() -> Vec<Exchange> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/recordings.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/recordings.json");
    let json: Value = serde_json::from_str(&text).expect("recordings are JSON");
    json.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let req = &e["request"];
            let res = &e["response"];
            Exchange {
                id: e["id"].as_str().unwrap().to_owned(),
                url: req["url"].as_str().unwrap().to_owned(),
                request_body: req
                    .get("body")
                    .and_then(|b| b.get("text"))
                    .and_then(Value::as_str)
                    .map(|t| serde_json::from_str(t).unwrap()),
                status: u16::try_from(res["status"].as_u64().unwrap()).unwrap(),
                response_headers: res["headers"].clone(),
                response_body: res
                    .get("body")
                    .and_then(|b| b.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// The recorded exchange of this id.
fn exchange<'a>(all: &'a [Exchange], id: &str) -> &'a Exchange {
    all.iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no recorded exchange {id}"))
}

/// The model id of a task URL (`.../models/{model}`), or None for chat routes.
fn model_of(url: &str) -> Option<&str> {
    let model = url.split("/models/").nth(1)?;
    (!model.contains("/v1/")).then_some(model)
}

fn is_event_stream(ex: &Exchange) -> bool {
    ex.header("content-type") == Some("text/event-stream")
}

fn is_stream(ex: &Exchange) -> bool {
    is_event_stream(ex) || ex.request_member("stream") == Some(&Value::Bool(true))
}

/// Which of our five tasks an exchange belongs to: chat by its body, the
/// others by their model. Streams are read by their own test.
fn task_of(ex: &Exchange) -> Option<Task> {
    if is_stream(ex) {
        return None;
    }
    if ex.request_member("messages").is_some() {
        return Some(Task::Chat);
    }
    let model = model_of(&ex.url)?;
    if ex.request_body.is_some() && ex.request_member("inputs").is_none() {
        return None;
    }
    if model.contains("sst-2") {
        Some(Task::TextClassification)
    } else if model.ends_with("bart-large-mnli") {
        Some(Task::ZeroShot)
    } else if model.ends_with("vit-base-patch16-224") {
        Some(Task::ImageClassification)
    } else if [
        // gpt2 also matches nlpconnect/vit-gpt2-image-captioning, whose
        // answer has the same [{generated_text}] shape.
        "gpt2",
        "flan-t5-xxl",
        "Mistral-7B-Instruct-v0.2",
        "does-not-exist",
    ]
    .iter()
    .any(|m| model.contains(m))
    {
        Some(Task::TextGeneration)
    } else {
        None
    }
}

/// The recorded request's inputs, read as the client reads a caller's.
fn inputs_of(ex: &Exchange) -> Inputs {
    let inputs = ex.request_member("inputs").expect("a task body has inputs");
    Inputs::read(&Doc(inputs.clone()), "text").unwrap_or_else(|e| panic!("{}: {e}", ex.id))
}

fn label(label: &str, score: f64) -> Label {
    Label {
        label: label.to_owned(),
        score,
    }
}

/// `[{label, score}]`, read member by member.
fn labels_in(list: &Value) -> Vec<Label> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| label(l["label"].as_str().unwrap(), l["score"].as_f64().unwrap()))
        .collect()
}

/// `{labels, scores}` as labels, in upstream's order.
fn zipped(entry: &Value) -> Vec<Label> {
    let labels = entry["labels"].as_array().unwrap();
    let scores = entry["scores"].as_array().unwrap();
    assert_eq!(labels.len(), scores.len());
    labels
        .iter()
        .zip(scores)
        .map(|(l, s)| label(l.as_str().unwrap(), s.as_f64().unwrap()))
        .collect()
}

/// The typed readings the Rust API makes of the checked answers.
fn text_classification(doc: &Doc, inputs: usize) -> Result<Vec<Vec<Label>>, Error> {
    answer::text_classification(doc, inputs).map(|lists| lists.iter().map(labels_of).collect())
}

fn image_classification(doc: &Doc) -> Result<Vec<Label>, Error> {
    answer::image_classification(doc).map(|list| labels_of(&list))
}

fn zero_shot(doc: &Doc, inputs: usize) -> Result<Vec<Vec<Label>>, Error> {
    answer::zero_shot(doc, inputs).map(|lists| {
        lists
            .iter()
            .map(|list| list.iter().map(Scored::to_label).collect())
            .collect()
    })
}

fn sorted_by_score(list: &[Label]) -> bool {
    list.windows(2).all(|w| w[0].score >= w[1].score)
}

#[test]
fn every_2xx_answer_of_the_five_tasks_reads_to_its_typed_result() {
    let mut counts = [0usize; 5];
    for ex in load().iter().filter(|e| e.status / 100 == 2) {
        let Some(task) = task_of(ex) else { continue };
        let doc = ex.answer();
        let raw = &doc.0;
        assert_eq!(embedded(&doc), None, "{}: no error inside", ex.id);
        match task {
            Task::TextClassification => {
                let count = inputs_of(ex).count();
                // The router's nested `[[{label, score}]]`, or one flat list.
                let expected: Vec<Vec<Label>> = if raw[0].is_array() {
                    raw.as_array().unwrap().iter().map(labels_in).collect()
                } else {
                    vec![labels_in(raw)]
                };
                assert_eq!(expected.len(), count, "{}", ex.id);
                // Each list as upstream sent it, and read as typed labels.
                let lists = answer::text_classification(&doc, count).unwrap();
                let as_sent: Vec<Value> = if raw[0].is_array() {
                    raw.as_array().unwrap().clone()
                } else {
                    vec![raw.clone()]
                };
                let sent: Vec<Value> = lists.iter().map(|d| d.0.clone()).collect();
                assert_eq!(sent, as_sent, "{}", ex.id);
                let lists: Vec<Vec<Label>> = lists.iter().map(labels_of).collect();
                assert_eq!(lists, expected, "{}", ex.id);
                for list in lists {
                    let names: Vec<&str> = list.iter().map(|l| l.label.as_str()).collect();
                    assert_eq!(names, ["POSITIVE", "NEGATIVE"], "{}", ex.id);
                }
            }
            Task::ZeroShot => {
                let count = inputs_of(ex).count();
                let expected: Vec<Vec<Label>> = match raw.as_array() {
                    Some(entries) => entries.iter().map(zipped).collect(),
                    None => vec![zipped(raw)],
                };
                let lists = zero_shot(&doc, count).unwrap_or_else(|e| panic!("{}: {e}", ex.id));
                assert_eq!(lists, expected, "{}", ex.id);
                // One score per candidate label (a list, or the legacy API's
                // comma-separated string).
                let candidates = match &ex.request_member("parameters").unwrap()["candidate_labels"]
                {
                    Value::Array(labels) => labels.len(),
                    labels => labels.as_str().unwrap().split(',').count(),
                };
                for list in &lists {
                    assert_eq!(list.len(), candidates, "{}", ex.id);
                    assert!(sorted_by_score(list), "{}", ex.id);
                }
            }
            Task::ImageClassification => {
                let list =
                    answer::image_classification(&doc).unwrap_or_else(|e| panic!("{}: {e}", ex.id));
                assert_eq!(list.0, *raw, "{}", ex.id);
                let list = labels_of(&list);
                assert_eq!(list, labels_in(raw), "{}", ex.id);
                assert_eq!(list.len(), 5, "{}", ex.id);
            }
            Task::TextGeneration => {
                let first = &raw[0];
                let expected = GeneratedText {
                    generated_text: first["generated_text"].as_str().unwrap().to_owned(),
                    details: first
                        .get("details")
                        .filter(|d| !d.is_null())
                        .cloned()
                        .map(Doc),
                };
                assert_eq!(text_generation(&doc), Ok(expected), "{}", ex.id);
            }
            Task::Chat => {
                assert_eq!(chat_completion(&doc), Ok(()), "{}", ex.id);
            }
        }
        counts[task as usize] += 1;
    }
    // How many recorded answers each task has: a filter that silently skips
    // everything would fail here.
    assert_eq!(
        counts,
        [7, 20, 4, 8, 15],
        "[text-classification, text-generation, image, zero-shot, chat]"
    );
}

#[test]
fn recorded_answers_read_to_exact_values() {
    let all = load();
    let find = |id: &str| exchange(&all, id).answer();

    let sst2 =
        find("hfhub_router_2025-04/test_text_classification__hf-inference__text-classification#1");
    assert_eq!(
        text_classification(&sst2, 1),
        Ok(vec![vec![
            label("POSITIVE", 0.9998695850372314),
            label("NEGATIVE", 0.00013043530634604394),
        ]])
    );
    let err = text_classification(&sst2, 2).unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            ErrorCode::BadResponse,
            "the text-classification answer has 1 results for 2 inputs"
        )
    );

    // One text sent as a list: still one list back.
    let legacy = find("hfhub_legacy_2025-01/text_classification#0");
    assert_eq!(
        text_classification(&legacy, 1),
        Ok(vec![vec![
            label("POSITIVE", 0.9998695850372314),
            label("NEGATIVE", 0.0001304351753788069),
        ]])
    );

    let zs = find("hfjs-tapes/01e7762dd21f");
    assert_eq!(
        zero_shot(&zs, 1),
        Ok(vec![vec![
            label("refund", 0.8777875304222107),
            label("faq", 0.10522652417421341),
            label("legal", 0.01698593609035015),
        ]])
    );

    let multi = find(
        "hfhub_router_2025-04/test_zero_shot_classification_multi_label__hf-inference__zero-shot-classification#1",
    );
    assert_eq!(
        zero_shot(&multi, 1),
        Ok(vec![vec![
            label("scientific discovery", 0.9829296469688416),
            label("space & cosmos", 0.7551906108856201),
            label("microbiology", 0.0005462627159431577),
            label("archeology", 0.0004713202069979161),
            label("robots", 0.000304485292872414),
        ]])
    );

    let vit = find("hfjs-tapes/06fb436e5cb0");
    assert_eq!(
        image_classification(&vit),
        Ok(vec![
            label("cheetah, chetah, Acinonyx jubatus", 0.9981812238693237),
            label("leopard, Panthera pardus", 0.000663304585032165),
            label(
                "jaguar, panther, Panthera onca, Felis onca",
                0.0005421049427241087
            ),
            label("lion, king of beasts, Panthera leo", 0.00010748126805992797),
            label("tiger, Panthera tigris", 5.714610961149447e-05),
        ])
    );

    let flan = find("hfhub_router_2025-04/TextGeneration_generate_no_details#1");
    assert_eq!(
        text_generation(&flan),
        Ok(GeneratedText {
            generated_text: String::new(),
            details: None
        })
    );

    let details = find("hfhub_router_2025-04/TextGeneration_generate_with_details#1");
    assert_eq!(
        text_generation(&details),
        Ok(GeneratedText {
            generated_text: String::new(),
            details: Some(Doc(json!({
                "finish_reason": "length",
                "generated_tokens": 1,
                "seed": null,
                "prefill": [{"id": 0, "text": "<pad>", "logprob": null}],
                "tokens": [{"id": 3, "text": " ", "logprob": -2.0078125, "special": false}]
            })))
        })
    );

    let three = find("hfjs-tapes/e64d5b8d2371");
    assert_eq!(
        text_generation(&three).map(|g| g.generated_text),
        Ok("three".to_owned())
    );

    let caption = find("hfjs-tapes/c67a299acb99");
    assert_eq!(
        text_generation(&caption).map(|g| g.generated_text),
        Ok("a large brown and white giraffe standing in a field ".to_owned())
    );
}

/// The recorded zero-shot answers in the other shapes upstream has used:
/// scores out of order, and the new `[{label, score}]`. Each reads to the
/// same labels and scores, in the answer's order (the client sorts them).
#[test]
fn recorded_zero_shot_answers_in_every_shape_read_the_same() {
    let mut checked = 0;
    for ex in load().iter().filter(|e| e.status == 200) {
        if task_of(ex) != Some(Task::ZeroShot) {
            continue;
        }
        let count = inputs_of(ex).count();
        let expected = zero_shot(&ex.answer(), count).unwrap();
        let entries: Vec<Value> = match &ex.answer().0 {
            Value::Array(entries) => entries.clone(),
            entry => vec![entry.clone()],
        };
        let reversed: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                for key in ["labels", "scores"] {
                    e[key].as_array_mut().unwrap().reverse();
                }
                e
            })
            .collect();
        assert_ne!(reversed, entries, "{}", ex.id);
        // Read in the answer's order (the client sorts them afterwards).
        let backwards: Vec<Vec<Label>> = expected
            .iter()
            .map(|list| list.iter().rev().cloned().collect())
            .collect();
        assert_eq!(
            zero_shot(&Doc(Value::Array(reversed)), count),
            Ok(backwards.clone()),
            "{} reversed",
            ex.id
        );
        if count == 1 {
            // The new shape: one flat list, in reverse order.
            let mut flat: Vec<Value> = expected[0]
                .iter()
                .map(|l| json!({"label": l.label, "score": l.score}))
                .collect();
            flat.reverse();
            assert_eq!(
                zero_shot(&Doc(Value::Array(flat)), 1),
                Ok(backwards),
                "{} as [{{label, score}}]",
                ex.id
            );
        }
        let err = zero_shot(&ex.answer(), count + 1).unwrap_err();
        assert_eq!(
            err.message(),
            format!(
                "the zero-shot-classification answer has {count} results for {} inputs",
                count + 1
            )
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn a_recorded_chat_answer_without_choices_is_a_bad_response() {
    let all = load();
    let ex = exchange(&all, "hfjs-tapes/b09342278dc9");
    let mut answer = ex.answer().0;
    assert_eq!(chat_completion(&Doc(answer.clone())), Ok(()));
    answer.as_object_mut().unwrap().remove("choices");
    let err = chat_completion(&Doc(answer)).unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            ErrorCode::BadResponse,
            "the chat answer is not a chat completion ({choices, ...})"
        )
    );
}

/// Upstream's words in a recorded error body: its `error` text, or the
/// whole body trimmed when it is not JSON.
fn upstream_words(ex: &Exchange) -> String {
    match parse(&ex.response_body) {
        Some(doc) => doc.0["error"].as_str().unwrap().to_owned(),
        None => ex.response_body.trim().to_owned(),
    }
}

#[test]
fn every_error_answer_maps_to_its_code_and_keeps_upstreams_message() {
    let mut seen = BTreeMap::new();
    let mut plain_text = 0;
    for ex in load().iter().filter(|e| e.status >= 400) {
        let answer = ex.error_answer();
        let is_json = ex.header("content-type") == Some("application/json");
        assert_eq!(answer.json.is_some(), is_json, "{}", ex.id);
        if !is_json {
            plain_text += 1;
        }
        let err = error_from_answer(&answer);
        let expected_code = match ex.status {
            400 => ErrorCode::BadRequest,
            404 => ErrorCode::NotFound,
            422 => ErrorCode::Validation,
            other => panic!("{}: no expectation for status {other}", ex.id),
        };
        let message = upstream_words(ex);
        assert_eq!(
            (err.code(), err.message(), err.status()),
            (expected_code, message.as_str(), Some(ex.status)),
            "{}",
            ex.id
        );
        assert_eq!(
            err.request_id(),
            ex.header("x-request-id"),
            "{}: request id",
            ex.id
        );
        assert_eq!(
            (err.attempts(), err.retry_after_ms(), err.model()),
            (0, None, None),
            "{}",
            ex.id
        );
        assert_eq!(err.to_string(), format!("{expected_code}: {message}"));
        *seen.entry(ex.status).or_insert(0) += 1;
    }
    assert_eq!(
        seen,
        BTreeMap::from([(400, 1), (404, 4), (422, 13)]),
        "error exchanges in the recordings"
    );
    assert_eq!(plain_text, 6, "text/plain error bodies");
}

#[test]
fn exact_errors_of_recorded_answers() {
    let all = load();
    let error_of = |id: &str| error_from_answer(&exchange(&all, id).error_answer());

    let validation = error_of("hfhub_router_2025-04/TextGeneration_generate_validation_error#1");
    assert_eq!(
        (validation.code(), validation.message(), validation.request_id()),
        (
            ErrorCode::Validation,
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 1512. Given: 2 `inputs` tokens and 10000 `max_new_tokens`",
            Some("JXgh_Lwucgb8AbjAKAXMn")
        )
    );
    let missing = error_of("hfjs-tapes/0f8ba3099ee7");
    assert_eq!(
        missing.to_string(),
        "NOT_FOUND: Model this-model/does-not-exist-123 does not exist"
    );
    let plain = error_of("hfjs-tapes/ea7f34cdc99e");
    assert_eq!(
        plain.to_string(),
        "VALIDATION: Failed to deserialize the JSON body into the target type: missing field `messages` at line 1 column 75"
    );
    let kwargs = error_of("hfhub_router_2025-04/TextGeneration_generate_non_tgi_endpoint#1");
    assert_eq!(
        (kwargs.code(), kwargs.request_id()),
        (ErrorCode::BadRequest, Some("XMk4gR6bC7lYiuNKaa7dP"))
    );
    assert!(
        kwargs
            .message()
            .starts_with("The following `model_kwargs` are not used by the model"),
        "{kwargs}"
    );
}

/// A code of ours in an error body counts only with the status it is
/// answered with: added to each recorded JSON error body, it is kept at its
/// own status and ignored at any other.
#[test]
fn a_code_in_a_recorded_error_body_is_kept_only_with_its_own_status() {
    // `answered_with` is pinned code by code, literally, in the crate's own
    // test `every_proxy_code_has_its_status`.
    let own_status = ErrorCode::answered_with;
    let mut checked = 0;
    let mut kept = BTreeMap::new();
    for ex in load().iter().filter(|e| e.status >= 400) {
        let Some(Doc(Value::Object(body))) = parse(&ex.response_body) else {
            continue;
        };
        let plain = error_from_answer(&ex.error_answer());
        for code in ErrorCode::ALL {
            // Every status of the table, the body's own (400, 404, 422) among them.
            for status in [
                400, 401, 402, 403, 404, 405, 413, 422, 429, 500, 502, 503, 504,
            ] {
                let mut with_code = body.clone();
                with_code.insert("code".into(), json!(code.as_str()));
                let text = Value::Object(with_code).to_string();
                let answer = ErrorAnswer {
                    status,
                    text: text.clone(),
                    json: error_body(&text),
                    ..ex.error_answer()
                };
                let without = error_from_answer(&ErrorAnswer {
                    status,
                    ..ex.error_answer()
                });
                let err = error_from_answer(&answer);
                let expected = if own_status(code) == Some(status) {
                    *kept.entry((code.as_str(), status)).or_insert(0) += 1;
                    code
                } else {
                    without.code()
                };
                assert_eq!(err.code(), expected, "{} {code} at {status}", ex.id);
                assert_eq!(err.message(), plain.message(), "{} {code}", ex.id);
                assert_eq!(err.status(), Some(status));
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "JSON error bodies");
    // Each code of the table was kept at its status, with each of the bodies.
    let every_body: BTreeMap<(&str, u16), usize> = ErrorCode::ALL
        .iter()
        .filter_map(|code| Some(((code.as_str(), code.answered_with()?), 12)))
        .collect();
    assert_eq!(every_body.len(), 15, "codes with a status of their own");
    assert_eq!(kept, every_body, "(code, status) pairs kept");
}

/// The recorded error bodies under the statuses the router also answers
/// with: each status decides the code, and upstream's words stay. TGI's
/// `error_type: validation` names the code only where the status has no more
/// specific one (a 400).
#[test]
fn recorded_error_bodies_under_other_statuses() {
    let mut checked = 0;
    for ex in load().iter().filter(|e| e.status >= 400) {
        let original = ex.error_answer();
        let validation = original
            .json
            .as_ref()
            .is_some_and(|b| b.error_type.as_deref() == Some("validation"));
        let bad_request = if validation {
            ErrorCode::Validation
        } else {
            ErrorCode::BadRequest
        };
        for (status, code) in [
            (400, bad_request),
            (401, ErrorCode::Unauthorized),
            (402, ErrorCode::PaymentRequired),
            (403, ErrorCode::Forbidden),
            (413, ErrorCode::PayloadTooLarge),
            (429, ErrorCode::RateLimited),
            (500, ErrorCode::UpstreamError),
            (502, ErrorCode::UpstreamError),
            (503, ErrorCode::UpstreamError),
        ] {
            let answer = ErrorAnswer {
                status,
                retry_after_ms: Some(3_000),
                ..original.clone()
            };
            let err = error_from_answer(&answer);
            assert_eq!(
                (err.code(), err.message(), err.retry_after_ms()),
                (code, upstream_words(ex).as_str(), Some(3_000)),
                "{} at {status}",
                ex.id
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 18);
}

/// A recorded error body delivered inside a 2xx answer (as upstream does for
/// some failures) is upstream's error, not a result.
#[test]
fn recorded_error_bodies_inside_a_2xx_answer_are_errors() {
    let mut checked = 0;
    for ex in load().iter().filter(|e| e.status >= 400) {
        let Some(doc) = parse(&ex.response_body) else {
            continue;
        };
        let code = match doc.0["error_type"].as_str() {
            Some("validation") => ErrorCode::Validation,
            _ => ErrorCode::UpstreamError,
        };
        let expected = (code, upstream_words(ex));
        let of = |err: hf_inference_wasm::Error| (err.code(), err.message().to_owned());
        assert_eq!(embedded(&doc).map(of), Some(expected.clone()), "{}", ex.id);
        assert_eq!(
            text_generation(&doc).map_err(of),
            Err(expected.clone()),
            "{}",
            ex.id
        );
        assert_eq!(
            text_classification(&doc, 1).map_err(of),
            Err(expected.clone())
        );
        assert_eq!(zero_shot(&doc, 1).map_err(of), Err(expected.clone()));
        assert_eq!(
            image_classification(&doc).map_err(of),
            Err(expected.clone())
        );
        assert_eq!(chat_completion(&doc).map_err(of), Err(expected));
        checked += 1;
    }
    assert_eq!(checked, 12);
}

/// The members of a recorded task body that belong to the client that
/// recorded it rather than to the protocol: huggingface.js's `options` and
/// `model`, and huggingface_hub's explicit `"stream": false`. Returns the
/// rest, and the members taken out.
fn protocol_part(body: &Value) -> (Value, Vec<String>) {
    let mut rest: Map<String, Value> = body.as_object().unwrap().clone();
    let mut taken = Vec::new();
    for key in ["options", "model"] {
        if rest.remove(key).is_some() {
            taken.push(key.to_owned());
        }
    }
    if rest.get("stream") == Some(&Value::Bool(false)) {
        rest.remove("stream");
        taken.push("stream: false".to_owned());
    }
    (Value::Object(rest), taken)
}

#[test]
fn request_bodies_we_build_match_the_recorded_ones() {
    let mut built = 0;
    let mut taken_out: BTreeMap<String, usize> = BTreeMap::new();
    let mut comma_labels = 0;
    for ex in load() {
        let Some(model) = model_of(&ex.url) else {
            continue;
        };
        let Some(recorded) = ex
            .request_body
            .as_ref()
            .filter(|b| b.get("inputs").is_some())
        else {
            continue; // a binary image, or a chat body sent to the task route
        };
        let (mut expected, taken) = protocol_part(recorded);
        for key in taken {
            *taken_out.entry(key).or_insert(0) += 1;
        }
        let inputs = inputs_of(&ex);
        let parameters = recorded.get("parameters");
        let stream = recorded.get("stream") == Some(&Value::Bool(true));
        let body = if model.ends_with("bart-large-mnli") {
            let mut params = parameters.unwrap().as_object().unwrap().clone();
            let given = params.remove("candidate_labels").unwrap();
            let labels = match read_labels(&Doc(given.clone())) {
                Ok(labels) => labels,
                Err(err) => {
                    // The legacy API took the labels as one comma-separated
                    // string; we always send a list.
                    assert_eq!(
                        err.message(),
                        "candidate_labels: must be an array of strings",
                        "{}",
                        ex.id
                    );
                    let labels: Vec<String> = given
                        .as_str()
                        .unwrap()
                        .split(',')
                        .map(str::to_owned)
                        .collect();
                    expected["parameters"]["candidate_labels"] = json!(labels);
                    comma_labels += 1;
                    labels
                }
            };
            // The labels go into the parameters, in place of any given there.
            params.insert("candidate_labels".to_owned(), json!(labels));
            let with_labels = Value::Object(params);
            serde_json::to_string(&TaskBody {
                inputs: inputs_value(&inputs),
                parameters: Some(&with_labels),
                stream,
            })
        } else {
            if let Inputs::One(prompt) = &inputs {
                assert_eq!(check_prompt(prompt), Ok(()), "{}", ex.id);
            }
            serde_json::to_string(&TaskBody {
                inputs: inputs_value(&inputs),
                parameters,
                stream,
            })
        };
        // The text that goes on the wire, as built: the recorded body as
        // compact JSON (a Value writes its members in key order, and
        // inputs, parameters, stream is the order TaskBody writes).
        assert_eq!(body.unwrap(), expected.to_string(), "{}", ex.id);
        built += 1;
    }
    assert_eq!(built, 46, "recorded task bodies rebuilt");
    assert_eq!(comma_labels, 2, "legacy comma-separated labels");
    assert_eq!(
        taken_out,
        BTreeMap::from([
            ("model".to_owned(), 7),
            ("options".to_owned(), 8),
            ("stream: false".to_owned(), 7),
        ]),
        "members of the recording clients left out"
    );
}

#[test]
fn recorded_chat_requests_are_checked_as_ours_are() {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for ex in load() {
        let Some(body) = ex.request_body.as_ref() else {
            continue;
        };
        if body.get("messages").is_none() && !ex.url.ends_with("/v1/chat/completions") {
            continue;
        }
        let stream = body.get("stream") == Some(&Value::Bool(true));
        let outcome = match check_chat_request(&Doc(body.clone()), stream) {
            Ok(model) => {
                if stream {
                    // The same request as a plain completion is refused.
                    let err = check_chat_request(&Doc(body.clone()), false).unwrap_err();
                    assert_eq!(
                        (err.code(), err.message()),
                        (
                            ErrorCode::InvalidInput,
                            "request.stream: is true: use chatCompletionStream for a stream"
                        ),
                        "{}",
                        ex.id
                    );
                }
                format!("ok {model}")
            }
            Err(err) => {
                assert_eq!(err.code(), ErrorCode::InvalidInput, "{}", ex.id);
                err.message().to_owned()
            }
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, usize> = [
        ("ok HuggingFaceH4/zephyr-7b-beta", 1),
        ("ok google/gemma-2b", 5),
        ("ok meta-llama/Llama-3.1-8B-Instruct", 2),
        ("ok mistralai/Mistral-7B-Instruct-v0.2", 11),
        ("ok tgi", 12),
        ("request.messages: must be a non-empty array of messages", 4),
        ("request.model: must be a model id string", 5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(outcomes, expected);
}

#[test]
fn built_urls_match_the_recorded_ones() {
    let (mut router_tasks, mut other_tasks, mut chats) = (0, 0, 0);
    for ex in load() {
        let (base, path) = ex.url.split_once("/models/").unwrap();
        assert_eq!(validate_endpoint_url(base, "endpoint"), Ok(()), "{}", ex.id);
        let with_slash = format!("{base}/");
        if let Some(model) = path.strip_suffix("/v1/chat/completions") {
            // The per-model chat route of the time: an OpenAI base of its own.
            assert_eq!(validate_model_id(model), Ok(()), "{}", ex.id);
            let chat_base = format!("{}/v1", task_url(base, model, false));
            assert_eq!(chat_url(&chat_base), ex.url, "{}", ex.id);
            assert_eq!(chat_url(&format!("{chat_base}/")), ex.url, "{}", ex.id);
            chats += 1;
            continue;
        }
        let model = path;
        assert_eq!(validate_model_id(model), Ok(()), "{}", ex.id);
        assert_eq!(task_url(base, model, false), ex.url, "{}", ex.id);
        assert_eq!(task_url(&with_slash, model, false), ex.url, "{}", ex.id);
        // A dedicated endpoint is called at its own URL, whatever the model.
        assert_eq!(task_url(&ex.url, "gpt2", true), ex.url, "{}", ex.id);
        if base == ROUTER_TASKS {
            assert_eq!(task_url(ROUTER_TASKS, model, false), ex.url, "{}", ex.id);
            router_tasks += 1;
        } else {
            other_tasks += 1;
        }
    }
    assert_eq!((router_tasks, other_tasks, chats), (42, 14, 36));
}

#[test]
fn recorded_compute_times_read_in_whole_milliseconds() {
    let expected: BTreeMap<&str, u64> = BTreeMap::from([
        ("0.003", 3),
        ("0.016", 16),
        ("0.033", 33),
        ("0.064899795", 65),
        ("0.083", 83),
        ("0.192", 192),
        ("0.215", 215),
        ("0.284", 284),
        ("0.745", 745),
        ("0.850", 850),
        ("1.200", 1_200),
        ("1.856", 1_856),
        ("11.876588403", 11_877),
        ("57", 57_000),
    ]);
    let all = load();
    let mut seen = BTreeMap::new();
    for ex in &all {
        let Some(value) = ex.header("x-compute-time") else {
            continue;
        };
        let seconds: f64 = value.parse().unwrap();
        seen.insert(value, compute_time_ms(seconds));
    }
    let expected: BTreeMap<&str, Option<u64>> =
        expected.into_iter().map(|(k, v)| (k, Some(v))).collect();
    assert_eq!(seen, expected);
}

/// Every event of a stream, parsed from `chunks` in order.
fn parse_in_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| parser.feed(c)).collect();
    events.extend(parser.finish());
    events
}

/// How a stream ended, as the client's event source sees it.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// `[DONE]`.
    Done,
    /// The body ended.
    Eof,
    /// An event reported an error.
    Error(ErrorCode, String),
}

/// What a stream delivered: its chunks, the text they add up to (TGI's
/// `token.text`, OpenAI's `delta.content`), what the last chunk said (TGI's
/// whole `generated_text`, OpenAI's `finish_reason`) and how it ended.
#[derive(Debug, Clone, PartialEq)]
struct Delivered {
    chunks: usize,
    text: String,
    last: Option<String>,
    end: End,
}

/// Reads events as the client's event source does: empty events skipped,
/// `[DONE]` ends, and the first event reporting an error ends with it.
fn deliver(events: &[SseEvent]) -> Delivered {
    let mut delivered = Delivered {
        chunks: 0,
        text: String::new(),
        last: None,
        end: End::Eof,
    };
    for event in events {
        let data = match event_kind(event) {
            EventKind::Skip => continue,
            EventKind::Done => {
                delivered.end = End::Done;
                break;
            }
            EventKind::Data(data) => data,
        };
        let parsed = parse(data);
        if let Some(err) = event_error(event, parsed.as_ref()) {
            delivered.end = End::Error(err.code(), err.message().to_owned());
            break;
        }
        let chunk = parsed.unwrap().0;
        delivered.chunks += 1;
        if let Some(token) = chunk.get("token") {
            delivered.text += token["text"].as_str().unwrap();
            delivered.last = chunk["generated_text"].as_str().map(str::to_owned);
        } else {
            let choice = &chunk["choices"][0];
            delivered.text += choice["delta"]["content"].as_str().unwrap_or_default();
            delivered.last = choice["finish_reason"].as_str().map(str::to_owned);
        }
    }
    delivered
}

const TOO_LONG: &str = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 17 `inputs` tokens and 10000 `max_new_tokens`";
const ONE_PLUS_ONE: &str = " The answer to the equation 1 + 1 is 2.";
const COUNTING: &str = " 1. 2. 3. 4. 5. 6. 7. 8. 9. 10. 11. 12. 13. 14. 15. 16. 17";

/// What each recorded stream delivers, in the order of the recordings: its
/// id, how many events it has, and what they deliver.
fn expected_streams() -> Vec<(&'static str, usize, Delivered)> {
    let ok = |chunks: usize, text: &str, last: &str, end: End| Delivered {
        chunks,
        text: text.to_owned(),
        last: Some(last.to_owned()),
        end,
    };
    let too_long = Delivered {
        chunks: 0,
        text: String::new(),
        last: None,
        end: End::Error(ErrorCode::Validation, TOO_LONG.to_owned()),
    };
    let tgi_chat = ok(15, &format!("{ONE_PLUS_ONE}</s>"), "eos_token", End::Eof);
    let openai_chat = ok(15, ONE_PLUS_ONE, "stop", End::Done);
    let counting = ok(
        50,
        COUNTING,
        &format!("Please answer the following question: complete one two and ____.{COUNTING}"),
        End::Eof,
    );
    vec![
        (
            "hfhub_router_2025-04/TextGeneration_generate_stream_no_details#1",
            1,
            ok(1, " ", "", End::Eof),
        ),
        (
            "hfhub_router_2025-04/test_chat_completion_with_stream__hf-inference__conversational#1",
            21,
            ok(
                20,
                "Deep learning is a subset of machine learning that involves the use of artificial neural networks (ANNs)",
                "length",
                End::Done,
            ),
        ),
        (
            "hfjs-tapes/3694ddcced22",
            5,
            ok(5, "one two three four</s>", "one two three four", End::Eof),
        ),
        ("hfjs-tapes/e9fc55386e8e", 1, too_long.clone()),
        ("hfjs-tapes/e1218ba647f9", 15, tgi_chat.clone()),
        ("hfjs-tapes/916f0fc5de9e", 15, tgi_chat.clone()),
        ("hfjs-tapes/f47947550ea1", 15, tgi_chat.clone()),
        ("hfjs-tapes/b2b10cdcc238", 15, tgi_chat.clone()),
        ("hfjs-tapes/df65224f37b4", 15, tgi_chat.clone()),
        ("hfjs-tapes/02fd98933cbf", 15, tgi_chat.clone()),
        ("hfjs-tapes/a032702acd76", 15, tgi_chat),
        ("hfjs-tapes/39c32cbc7b6b", 16, openai_chat.clone()),
        ("hfjs-tapes/b094997b7e86", 16, openai_chat.clone()),
        ("hfjs-tapes/4304afb3c726", 16, openai_chat.clone()),
        ("hfjs-tapes/34b6121b7652", 16, openai_chat.clone()),
        ("hfjs-tapes/55d57dc676cb", 1, too_long.clone()),
        ("hfjs-tapes/5a02b89bab2c", 50, counting.clone()),
        ("hfjs-tapes/b8028f47ed71", 1, too_long),
        ("hfjs-tapes/6fe778ae21d9", 50, counting),
        ("hfjs-tapes/a17bc698788a", 16, openai_chat),
    ]
}

#[test]
fn recorded_streams_deliver_the_same_however_they_are_split() {
    let mut random = SplitMix64::new(2026);
    let all = load();
    let streams: Vec<&Exchange> = all.iter().filter(|e| is_event_stream(e)).collect();
    let expected = expected_streams();
    assert_eq!(
        streams.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|(id, ..)| *id).collect::<Vec<_>>()
    );
    for (ex, (_, events, delivered)) in streams.iter().zip(&expected) {
        let bytes = ex.response_body.as_bytes();
        let whole = parse_in_chunks(&[bytes]);
        assert_eq!(whole.len(), *events, "{} events", ex.id);
        assert!(whole.iter().all(|e| e.event.is_none()), "{}", ex.id);
        assert_eq!(deliver(&whole), *delivered, "{}", ex.id);
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_in_chunks(&singles), whole, "{} byte by byte", ex.id);
        for _ in 0..50 {
            let mut cuts: Vec<usize> = (0..4)
                .map(|_| (random.next_u64() % (bytes.len() as u64 + 1)) as usize)
                .collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts {
                pieces.push(&bytes[at..cut]);
                at = cut;
            }
            pieces.push(&bytes[at..]);
            assert_eq!(parse_in_chunks(&pieces), whole, "{} split", ex.id);
        }
    }
}

/// The recorded streams framed as other servers frame the same events:
/// CRLF or CR line endings, a byte-order mark, keep-alive comments, empty
/// `data:` events between chunks, `data:` with or without its space, and no
/// blank line after the last event. Each delivers exactly what the recorded
/// framing does.
#[test]
fn recorded_streams_deliver_the_same_however_they_are_framed() {
    let all = load();
    let mut checked = 0;
    for ex in all.iter().filter(|e| is_event_stream(e)) {
        let text = &ex.response_body;
        let expected = deliver(&parse_in_chunks(&[text.as_bytes()]));
        let spaced = if text.starts_with("data: ") {
            text.replace("data: ", "data:")
        } else {
            text.replace("data:", "data: ")
        };
        let padded = text.replace("\n\n", "\n\n: keep-alive\n\ndata:\n\ndata: \n\n");
        let framings = [
            text.replace('\n', "\r\n"),
            text.replace('\n', "\r"),
            format!("\u{feff}{text}"),
            format!(": hello\n\n{padded}"),
            spaced,
            text.trim_end_matches('\n').to_owned(),
        ];
        for framed in &framings {
            assert_eq!(
                deliver(&parse_in_chunks(&[framed.as_bytes()])),
                expected,
                "{} framed as {:?}",
                ex.id,
                &framed[..framed.len().min(40)]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 20);
}

/// A recorded stream cut by an error event after its first chunk: the chunk
/// is delivered, then the error ends the stream. Text after `event: error`
/// is upstream's words; data that is not JSON is a bad answer.
#[test]
fn an_error_event_inside_a_recorded_stream_ends_it() {
    let all = load();
    let ex = exchange(&all, "hfjs-tapes/3694ddcced22");
    let first = ex.response_body.split_inclusive("\n\n").next().unwrap();
    let rest = &ex.response_body[first.len()..];
    for (inserted, end) in [
        (
            "event: error\ndata: upstream closed the generation\n\n",
            End::Error(
                ErrorCode::UpstreamError,
                "upstream closed the generation".into(),
            ),
        ),
        (
            "event: error\ndata: {\"detail\":\"overloaded\"}\n\n",
            End::Error(
                ErrorCode::UpstreamError,
                "{\"detail\":\"overloaded\"}".into(),
            ),
        ),
        (
            "data: {\"error\":{\"message\":\"Model is overloaded\",\"type\":\"server_error\"}}\n\n",
            End::Error(ErrorCode::UpstreamError, "Model is overloaded".into()),
        ),
        (
            "data: <html>502 Bad Gateway</html>\n\n",
            End::Error(ErrorCode::BadResponse, "a stream event is not JSON".into()),
        ),
        ("data: [DONE]\n\n", End::Done),
    ] {
        let text = format!("{first}{inserted}{rest}");
        assert_eq!(
            deliver(&parse_in_chunks(&[text.as_bytes()])),
            Delivered {
                chunks: 1,
                text: "one".into(),
                last: None,
                end,
            },
            "{inserted:?}"
        );
    }
}
