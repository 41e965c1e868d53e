//! The tasks that take one input and give back upstream's answer as it came
//! (once checked): each one's wire form and the shape of its answer, as one
//! table. The client runs all of them through one path, so a task costs a
//! table row rather than code (the wasm's size budget is per kilobyte).
//!
//! Shapes follow `@huggingface/inference` 4.13 on `hf-inference`, including
//! where it unwraps a one-element list; where it refuses a shape the API
//! really answers (image-to-text's recorded `[{generated_text}]`), the real
//! shape is read.

use super::document::Document;
use super::error::{embedded, Error, ErrorCode};
use super::task::{read_strings, Inputs, Task};

/// What the caller gives a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// One non-empty string.
    Text,
    /// A non-empty string, or a non-empty array of them.
    Texts,
    /// An object with these string members (`sentences` an array of strings).
    Object(&'static [&'static str]),
    /// Bytes: a `Uint8Array`, `ArrayBuffer` or `Blob` (an image, audio).
    Media,
}

/// How the input travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `{"inputs": ..., "parameters": {...}}`.
    Json,
    /// The bytes as they are, with their type; as base64 in `{"inputs"}`
    /// when there are parameters (the protocol takes them only in JSON).
    Raw,
    /// Always base64 in JSON: `{"inputs": "<base64>", "parameters"}`.
    Base64,
    /// `{"inputs": {"image": "<base64>"}, "parameters": {"candidate_labels"}}`.
    Base64Image,
}

/// A JSON type a member of an answer must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A number.
    Num,
    /// An object.
    Obj,
}

/// What is given back of a checked answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwrap {
    /// A list of items, as it came.
    List,
    /// One item: the first of a list, or the answer itself when it is one.
    First,
    /// The only item of a one-element list; a longer list as it came.
    FirstIfOne,
}

/// The shape of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Numbers, or arrays of them nested at most `depth` deep.
    Numbers {
        /// 1 for `number[]`.
        depth: u8,
    },
    /// Objects whose members have these types.
    Items {
        /// The members every item has.
        members: &'static [(&'static str, Kind)],
        /// What is given back.
        unwrap: Unwrap,
    },
    /// An image (a binary answer, read into a `Blob`).
    Image,
}

/// One task of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// The task.
    pub task: Task,
    /// What the caller gives.
    pub input: Input,
    /// How it travels.
    pub wire: Wire,
    /// Posted to `/models/{m}/pipeline/{task}` rather than `/models/{m}`.
    pub pipeline_route: bool,
    /// The answer's shape.
    pub shape: Shape,
}

impl Pipeline {
    /// The name of the input in error messages.
    pub fn argument(&self) -> &'static str {
        match (self.input, self.task) {
            (Input::Text, Task::TextToImage) => "prompt",
            (Input::Text | Input::Texts, _) => "text",
            (Input::Object(_), _) => "input",
            (Input::Media, Task::SpeechRecognition | Task::AudioClassification) => "audio",
            (Input::Media, _) => "image",
        }
    }

    /// Checks a text or object input before any request (bytes are checked
    /// as they are read); errors name the argument and member.
    pub fn check_input<D: Document>(&self, value: &D) -> Result<(), Error> {
        let argument = self.argument();
        match self.input {
            Input::Text => check_text(value, argument),
            Input::Texts => Inputs::read(value, argument)?.check(argument),
            Input::Object(members) => {
                if !value.is_object() {
                    let names = super::text::joined(members, ", ");
                    return Err(Error::invalid_input(
                        argument,
                        &format!("must be an object {{{names}}}"),
                    ));
                }
                for name in members {
                    let named = format!("{argument}.{name}");
                    let member = value.member(name);
                    match (*name, member) {
                        ("sentences", Some(list)) => {
                            let texts = Inputs::Many(read_strings(
                                &list,
                                &named,
                                "must be an array of strings",
                            )?);
                            texts.check(&named)?;
                        }
                        (_, Some(text)) => check_text(&text, &named)?,
                        (_, None) => return Err(Error::invalid_input(&named, "is required")),
                    }
                }
                Ok(())
            }
            Input::Media => Ok(()),
        }
    }
}

fn check_text<D: Document>(value: &D, argument: &str) -> Result<(), Error> {
    match value.as_text() {
        Some(text) if !text.trim().is_empty() => Ok(()),
        _ => Err(Error::invalid_input(argument, "must be a non-empty string")),
    }
}

const LABEL: &[(&str, Kind)] = &[("label", Kind::Str), ("score", Kind::Num)];

const fn items(members: &'static [(&'static str, Kind)], unwrap: Unwrap) -> Shape {
    Shape::Items { members, unwrap }
}

const fn row(task: Task, input: Input, wire: Wire, shape: Shape) -> Pipeline {
    Pipeline {
        task,
        input,
        wire,
        pipeline_route: false,
        shape,
    }
}

/// `featureExtraction(model, text | text[])`: `number[]` or `number[][]`, as sent.
pub const FEATURE_EXTRACTION: Pipeline = Pipeline {
    pipeline_route: true,
    ..row(
        Task::FeatureExtraction,
        Input::Texts,
        Wire::Json,
        Shape::Numbers { depth: 3 },
    )
};
/// `sentenceSimilarity(model, {source_sentence, sentences})`: `number[]`.
pub const SENTENCE_SIMILARITY: Pipeline = Pipeline {
    pipeline_route: true,
    ..row(
        Task::SentenceSimilarity,
        Input::Object(&["source_sentence", "sentences"]),
        Wire::Json,
        Shape::Numbers { depth: 1 },
    )
};
/// `textToImage(model, prompt)`: a `Blob` of the image's type.
pub const TEXT_TO_IMAGE: Pipeline = row(Task::TextToImage, Input::Text, Wire::Json, Shape::Image);
/// `summarization(model, text)`: `{summary_text}`.
pub const SUMMARIZATION: Pipeline = row(
    Task::Summarization,
    Input::Text,
    Wire::Json,
    items(&[("summary_text", Kind::Str)], Unwrap::First),
);
/// `translation(model, text | text[])`: `{translation_text}` (a list for several).
pub const TRANSLATION: Pipeline = row(
    Task::Translation,
    Input::Texts,
    Wire::Json,
    items(&[("translation_text", Kind::Str)], Unwrap::FirstIfOne),
);
/// `tokenClassification(model, text)`: `[{entity_group, score, word, start, end}]`.
pub const TOKEN_CLASSIFICATION: Pipeline = row(
    Task::TokenClassification,
    Input::Text,
    Wire::Json,
    items(
        &[
            ("entity_group", Kind::Str),
            ("score", Kind::Num),
            ("word", Kind::Str),
            ("start", Kind::Num),
            ("end", Kind::Num),
        ],
        Unwrap::List,
    ),
);
/// `questionAnswering(model, {question, context})`: `{answer, score, start, end}`.
pub const QUESTION_ANSWERING: Pipeline = row(
    Task::QuestionAnswering,
    Input::Object(&["question", "context"]),
    Wire::Json,
    items(
        &[
            ("answer", Kind::Str),
            ("score", Kind::Num),
            ("start", Kind::Num),
            ("end", Kind::Num),
        ],
        Unwrap::First,
    ),
);
/// `fillMask(model, text)`: `[{sequence, score, token, token_str}]`.
pub const FILL_MASK: Pipeline = row(
    Task::FillMask,
    Input::Text,
    Wire::Json,
    items(
        &[
            ("sequence", Kind::Str),
            ("score", Kind::Num),
            ("token", Kind::Num),
            ("token_str", Kind::Str),
        ],
        Unwrap::List,
    ),
);
/// `objectDetection(model, image)`: `[{label, score, box}]`.
pub const OBJECT_DETECTION: Pipeline = row(
    Task::ObjectDetection,
    Input::Media,
    Wire::Raw,
    items(
        &[
            ("label", Kind::Str),
            ("score", Kind::Num),
            ("box", Kind::Obj),
        ],
        Unwrap::List,
    ),
);
/// `imageSegmentation(model, image)`: `[{label, score, mask}]` (the image as base64).
pub const IMAGE_SEGMENTATION: Pipeline = row(
    Task::ImageSegmentation,
    Input::Media,
    Wire::Base64,
    items(&[("label", Kind::Str), ("mask", Kind::Str)], Unwrap::List),
);
/// `imageToText(model, image)`: `{generated_text}`.
pub const IMAGE_TO_TEXT: Pipeline = row(
    Task::ImageToText,
    Input::Media,
    Wire::Raw,
    items(&[("generated_text", Kind::Str)], Unwrap::First),
);
/// `zeroShotImageClassification(model, image, candidate_labels)`: `[{label, score}]`.
pub const ZERO_SHOT_IMAGE_CLASSIFICATION: Pipeline = row(
    Task::ZeroShotImageClassification,
    Input::Media,
    Wire::Base64Image,
    items(LABEL, Unwrap::List),
);
/// `automaticSpeechRecognition(model, audio)`: `{text}`.
pub const SPEECH_RECOGNITION: Pipeline = row(
    Task::SpeechRecognition,
    Input::Media,
    Wire::Raw,
    items(&[("text", Kind::Str)], Unwrap::First),
);
/// `audioClassification(model, audio)`: `[{label, score}]`.
pub const AUDIO_CLASSIFICATION: Pipeline = row(
    Task::AudioClassification,
    Input::Media,
    Wire::Raw,
    items(LABEL, Unwrap::List),
);

fn has_kind<D: Document>(value: &D, kind: Kind) -> bool {
    match kind {
        Kind::Str => value.is_text(),
        Kind::Num => value.as_number().is_some(),
        Kind::Obj => value.is_object(),
    }
}

fn is_item<D: Document>(value: &D, members: &[(&str, Kind)]) -> bool {
    value.is_object()
        && members
            .iter()
            .all(|(name, kind)| value.member(name).is_some_and(|m| has_kind(&m, *kind)))
}

fn is_numbers<D: Document>(value: &D, depth: u8) -> bool {
    let Some(elements) = value.elements() else {
        return false;
    };
    elements
        .iter()
        .all(|e| e.as_number().is_some() || (depth > 1 && is_numbers(e, depth - 1)))
}

/// What a shape is, in BAD_RESPONSE messages: `[{a, b}]` for a list of
/// items, `{a, b}` for one (written without `format!` and `join`, which
/// would each bring their code into the wasm for this one message).
fn expected(shape: Shape) -> String {
    match shape {
        Shape::Numbers { depth: 1 } => "number[]".to_owned(),
        Shape::Numbers { .. } => "number[] or number[][]".to_owned(),
        Shape::Image => "an image".to_owned(),
        Shape::Items { members, unwrap } => {
            let list = unwrap == Unwrap::List;
            let mut text = String::from(if list { "[{" } else { "{" });
            for (i, (name, _)) in members.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(name);
            }
            text.push_str(if list { "}]" } else { "}" });
            text
        }
    }
}

/// Checks a JSON answer of `pipeline` and gives back what the caller gets:
/// the answer, or its item as the table unwraps it. Upstream's error inside
/// a 2xx answer is that error; any other shape is BAD_RESPONSE.
pub fn read_answer<D: Document>(pipeline: &Pipeline, doc: &D) -> Result<D, Error> {
    if let Some(error) = embedded(doc) {
        return Err(error);
    }
    let bad = || {
        Error::new(
            ErrorCode::BadResponse,
            format!(
                "the {} answer is not {}",
                pipeline.task.name(),
                expected(pipeline.shape)
            ),
        )
    };
    match pipeline.shape {
        Shape::Numbers { depth } => is_numbers(doc, depth).then(|| doc.clone()).ok_or_else(bad),
        Shape::Image => Err(bad()),
        Shape::Items { members, unwrap } => {
            let Some(list) = doc.elements() else {
                // One item where a list was expected is taken as it is.
                return (unwrap == Unwrap::First && is_item(doc, members))
                    .then(|| doc.clone())
                    .ok_or_else(bad);
            };
            if !list.iter().all(|item| is_item(item, members)) {
                return Err(bad());
            }
            match (unwrap, list.len()) {
                (Unwrap::First, 0) => Err(bad()),
                (Unwrap::First, _) | (Unwrap::FirstIfOne, 1) => Ok(list[0].clone()),
                _ => Ok(doc.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(pipeline: &Pipeline, doc: Value) -> Result<Value, String> {
        read_answer(pipeline, &doc).map_err(|e| {
            assert_eq!(e.code(), ErrorCode::BadResponse, "{}", e.message());
            e.message().to_owned()
        })
    }

    #[test]
    fn one_element_lists_are_unwrapped_as_the_reference_client_does() {
        let summary = json!([{"summary_text": "short"}]);
        assert_eq!(
            read(&SUMMARIZATION, summary),
            Ok(json!({"summary_text": "short"}))
        );
        let one = json!([{"translation_text": "bonjour"}]);
        assert_eq!(
            read(&TRANSLATION, one),
            Ok(json!({"translation_text": "bonjour"}))
        );
        let two = json!([{"translation_text": "a"}, {"translation_text": "b"}]);
        assert_eq!(read(&TRANSLATION, two.clone()), Ok(two));
        let answer = json!({"answer": "Paris", "score": 0.9, "start": 0, "end": 5});
        assert_eq!(
            read(&QUESTION_ANSWERING, json!([answer.clone()])),
            Ok(answer.clone())
        );
        assert_eq!(read(&QUESTION_ANSWERING, answer.clone()), Ok(answer));
        // The recorded image-to-text answer is a list; the reference refuses it.
        let caption = json!([{"generated_text": "a giraffe"}]);
        assert_eq!(
            read(&IMAGE_TO_TEXT, caption),
            Ok(json!({"generated_text": "a giraffe"}))
        );
        assert_eq!(
            read(&SPEECH_RECOGNITION, json!({"text": "hello", "chunks": []})),
            Ok(json!({"text": "hello", "chunks": []}))
        );
    }

    #[test]
    fn lists_are_kept_whole_with_their_extra_members() {
        let boxes = json!([{"label": "cat", "score": 0.99, "box": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}}]);
        assert_eq!(read(&OBJECT_DETECTION, boxes.clone()), Ok(boxes));
        let masks = json!([{"label": "sky", "score": null, "mask": "iVBOR"}]);
        assert_eq!(read(&IMAGE_SEGMENTATION, masks.clone()), Ok(masks));
        let nested = json!([[0.1, -0.2], [0.3, 0.4]]);
        assert_eq!(read(&FEATURE_EXTRACTION, nested.clone()), Ok(nested));
        assert_eq!(
            read(&SENTENCE_SIMILARITY, json!([1, 0.5])),
            Ok(json!([1, 0.5]))
        );
    }

    #[test]
    fn other_shapes_are_bad_responses_naming_what_was_expected() {
        for (pipeline, doc, message) in [
            (
                &SENTENCE_SIMILARITY,
                json!([[0.1]]),
                "the sentence-similarity answer is not number[]",
            ),
            (
                &FEATURE_EXTRACTION,
                json!({"embedding": [1]}),
                "the feature-extraction answer is not number[] or number[][]",
            ),
            (
                &FEATURE_EXTRACTION,
                json!([[[["deep"]]]]),
                "the feature-extraction answer is not number[] or number[][]",
            ),
            (
                &TOKEN_CLASSIFICATION,
                json!([{"entity_group": "PER", "score": 1, "word": "Ana", "start": 0}]),
                "the token-classification answer is not [{entity_group, score, word, start, end}]",
            ),
            (
                &FILL_MASK,
                json!({"sequence": "a", "score": 1, "token": 2, "token_str": "a"}),
                "the fill-mask answer is not [{sequence, score, token, token_str}]",
            ),
            (
                &SUMMARIZATION,
                json!([]),
                "the summarization answer is not {summary_text}",
            ),
            (
                &AUDIO_CLASSIFICATION,
                json!([{"label": "neu", "score": "high"}]),
                "the audio-classification answer is not [{label, score}]",
            ),
        ] {
            assert_eq!(read(pipeline, doc), Err(message.to_owned()));
        }
    }

    #[test]
    fn an_error_inside_a_200_is_upstreams() {
        let err = read_answer(
            &FILL_MASK,
            &json!({"error": "No mask_token ([MASK]) found"}),
        )
        .unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (ErrorCode::UpstreamError, "No mask_token ([MASK]) found")
        );
    }
}
