//! What a task call sends: its inputs, checked before any request, and its
//! JSON body (`{"inputs": ..., "parameters": {...}}`), written with serde.

use super::document::Document;
use super::error::Error;
use super::model::validate_chat_model;

/// The tasks, as far as the attempt loop and de-duplication need to tell
/// them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// `query`: any payload, the answer returned as it came.
    Query,
    /// Text classification.
    TextClassification,
    /// Text generation (also streamed).
    TextGeneration,
    /// Image classification.
    ImageClassification,
    /// Zero-shot classification.
    ZeroShot,
    /// An OpenAI chat completion (also streamed).
    Chat,
    /// Feature extraction (embeddings).
    FeatureExtraction,
    /// Sentence similarity.
    SentenceSimilarity,
    /// Text to image.
    TextToImage,
    /// Summarization.
    Summarization,
    /// Translation.
    Translation,
    /// Token classification (named entities).
    TokenClassification,
    /// Extractive question answering.
    QuestionAnswering,
    /// Fill-mask.
    FillMask,
    /// Object detection.
    ObjectDetection,
    /// Image segmentation.
    ImageSegmentation,
    /// Image to text (captions).
    ImageToText,
    /// Zero-shot image classification.
    ZeroShotImageClassification,
    /// Automatic speech recognition.
    SpeechRecognition,
    /// Audio classification.
    AudioClassification,
    /// An OpenAI images request on the chat base (`imageGeneration`).
    ImageGeneration,
}

impl Task {
    /// The task's name in messages (`the zero-shot-classification answer ...`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Query => "query",
            Task::TextClassification => "text-classification",
            Task::TextGeneration => "text-generation",
            Task::ImageClassification => "image-classification",
            Task::ZeroShot => "zero-shot-classification",
            Task::Chat => "chat",
            Task::FeatureExtraction => "feature-extraction",
            Task::SentenceSimilarity => "sentence-similarity",
            Task::TextToImage => "text-to-image",
            Task::Summarization => "summarization",
            Task::Translation => "translation",
            Task::TokenClassification => "token-classification",
            Task::QuestionAnswering => "question-answering",
            Task::FillMask => "fill-mask",
            Task::ObjectDetection => "object-detection",
            Task::ImageSegmentation => "image-segmentation",
            Task::ImageToText => "image-to-text",
            Task::ZeroShotImageClassification => "zero-shot-image-classification",
            Task::SpeechRecognition => "automatic-speech-recognition",
            Task::AudioClassification => "audio-classification",
            Task::ImageGeneration => "image-generation",
        }
    }
}

/// The texts of a call: one, or several sent in one request (answered one
/// result list per text).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Inputs {
    /// One text.
    One(String),
    /// Several texts, in one request.
    Many(Vec<String>),
}

impl Inputs {
    /// How many texts.
    pub fn count(&self) -> usize {
        match self {
            Inputs::One(_) => 1,
            Inputs::Many(texts) => texts.len(),
        }
    }

    /// Whether the caller gave a list (and so gets one result per text).
    pub fn is_many(&self) -> bool {
        matches!(self, Inputs::Many(_))
    }

    /// Checks that there is at least one text and none is blank; errors name
    /// `argument` (`text`, `text[1]`).
    pub fn check(&self, argument: &str) -> Result<(), Error> {
        match self {
            Inputs::One(text) => check_text(text, argument),
            Inputs::Many(texts) if texts.is_empty() => Err(Error::invalid_input(
                argument,
                "must be a non-empty string or a non-empty array of strings",
            )),
            Inputs::Many(texts) => check_each(texts, argument),
        }
    }

    /// Reads a caller's `text` or `text[]` argument (its types: the task
    /// [checks](Inputs::check) the texts); errors name `argument`.
    pub fn read<D: Document>(value: &D, argument: &str) -> Result<Inputs, Error> {
        if let Some(text) = value.as_text() {
            return Ok(Inputs::One(text));
        }
        read_strings(value, argument, "must be a string or an array of strings").map(Inputs::Many)
    }
}

/// The strings of an array, or an error naming `argument` (`not_a_list`
/// says what it must be) or the element that is not a string.
pub(crate) fn read_strings<D: Document>(
    value: &D,
    argument: &str,
    not_a_list: &str,
) -> Result<Vec<String>, Error> {
    let items = value
        .elements()
        .ok_or_else(|| Error::invalid_input(argument, not_a_list))?;
    let mut texts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = item
            .as_text()
            .ok_or_else(|| Error::invalid_input(&format!("{argument}[{i}]"), "must be a string"))?;
        texts.push(text);
    }
    Ok(texts)
}

/// Refuses the first blank text, naming it `argument[i]`.
fn check_each<S: AsRef<str>>(texts: &[S], argument: &str) -> Result<(), Error> {
    match texts.iter().position(|t| t.as_ref().trim().is_empty()) {
        Some(i) => Err(Error::invalid_input(
            &format!("{argument}[{i}]"),
            "must be a non-empty string",
        )),
        None => Ok(()),
    }
}

fn check_text(text: &str, argument: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::invalid_input(argument, "must be a non-empty string"));
    }
    Ok(())
}

/// Checks a generation prompt: one non-empty string.
pub fn check_prompt(prompt: &str) -> Result<(), Error> {
    check_text(prompt, "prompt")
}

/// Checks zero-shot candidate labels: a non-empty list of non-blank texts.
pub fn check_labels<S: AsRef<str>>(labels: &[S]) -> Result<(), Error> {
    if labels.is_empty() {
        return Err(Error::invalid_input(
            "candidate_labels",
            "must be a non-empty array of strings",
        ));
    }
    check_each(labels, "candidate_labels")
}

/// Reads a caller's `candidate_labels` argument (its types: the task
/// [checks](check_labels) the labels).
pub fn read_labels<D: Document>(value: &D) -> Result<Vec<String>, Error> {
    read_strings(value, "candidate_labels", "must be an array of strings")
}

/// Checks an OpenAI chat request (as the caller gave it, or as a typed
/// request serialises) and returns its model: `model` a chat model id,
/// `messages` a non-empty list of objects with a `role` string, and
/// `stream: true` only for a stream.
pub fn check_chat_request<D: Document>(request: &D, stream: bool) -> Result<String, Error> {
    if !request.is_object() {
        return Err(Error::invalid_input(
            "request",
            "must be an OpenAI chat request object {model, messages, ...}",
        ));
    }
    let model = request_model(request)?;
    let messages = request
        .member("messages")
        .and_then(|m| m.elements())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            Error::invalid_input("request.messages", "must be a non-empty array of messages")
        })?;
    for (i, message) in messages.iter().enumerate() {
        if message.member("role").and_then(|r| r.as_text()).is_none() {
            return Err(Error::invalid_input(
                &format!("request.messages[{i}]"),
                "must be an object with a \"role\" string",
            ));
        }
    }
    let asks_stream = request
        .member("stream")
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    if asks_stream && !stream {
        return Err(Error::invalid_input(
            "request.stream",
            "is true: use chatCompletionStream for a stream",
        ));
    }
    Ok(model)
}

/// The `model` of an OpenAI request, checked (a suffix `:provider` allowed).
fn request_model<D: Document>(request: &D) -> Result<String, Error> {
    let model = request
        .member("model")
        .and_then(|m| m.as_text())
        .ok_or_else(|| Error::invalid_input("request.model", "must be a model id string"))?;
    validate_chat_model(&model, "request.model")?;
    Ok(model)
}

/// Checks an OpenAI images request: an object with a `model` id and a
/// non-empty `prompt`.
pub fn check_images_request<D: Document>(request: &D) -> Result<(), Error> {
    if !request.is_object() {
        return Err(Error::invalid_input(
            "request",
            "must be an OpenAI images request object {model, prompt, ...}",
        ));
    }
    request_model(request)?;
    match request.member("prompt").and_then(|p| p.as_text()) {
        Some(prompt) => check_text(&prompt, "request.prompt"),
        None => Err(Error::invalid_input(
            "request.prompt",
            "must be a non-empty string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;
    use serde_json::json;

    fn message<T>(result: Result<T, Error>) -> String {
        let err = result.err().expect("an error");
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        err.message().to_owned()
    }

    #[test]
    fn texts_are_read_and_checked_by_name() {
        assert_eq!(
            Inputs::read(&json!("hi"), "text"),
            Ok(Inputs::One("hi".into()))
        );
        assert_eq!(
            Inputs::read(&json!(["a", "b"]), "text"),
            Ok(Inputs::Many(vec!["a".into(), "b".into()]))
        );
        for (value, expected) in [
            (json!("  "), "text: must be a non-empty string"),
            (json!(["ok", ""]), "text[1]: must be a non-empty string"),
            (
                json!([]),
                "text: must be a non-empty string or a non-empty array of strings",
            ),
            (
                json!({"inputs": "x"}),
                "text: must be a string or an array of strings",
            ),
            (json!(["a", 3]), "text[1]: must be a string"),
        ] {
            let checked = Inputs::read(&value, "text").and_then(|i| i.check("text").map(|()| i));
            assert_eq!(message(checked), expected, "{value}");
        }
    }

    #[test]
    fn labels_and_prompts() {
        assert_eq!(read_labels(&json!(["a", "b"])).unwrap(), ["a", "b"]);
        for (value, expected) in [
            (json!("a"), "candidate_labels: must be an array of strings"),
            (
                json!([]),
                "candidate_labels: must be a non-empty array of strings",
            ),
            (json!(["a", 2]), "candidate_labels[1]: must be a string"),
            (
                json!(["a", " "]),
                "candidate_labels[1]: must be a non-empty string",
            ),
        ] {
            let checked = read_labels(&value).and_then(|l| check_labels(&l).map(|()| l));
            assert_eq!(message(checked), expected, "{value}");
        }
        assert_eq!(
            message(check_prompt(" ")),
            "prompt: must be a non-empty string"
        );
    }

    #[test]
    fn chat_requests_are_checked() {
        let user = json!([{"role": "user", "content": "hi"}]);
        assert_eq!(
            check_chat_request(
                &json!({"model": "gpt2:fireworks-ai", "messages": user}),
                false
            ),
            Ok("gpt2:fireworks-ai".to_owned())
        );
        for (request, stream, expected) in [
            (
                json!([]),
                false,
                "request: must be an OpenAI chat request object {model, messages, ...}",
            ),
            (
                json!({"messages": user}),
                false,
                "request.model: must be a model id string",
            ),
            (
                json!({"model": "a/b/c", "messages": user}),
                false,
                "request.model: has more than one '/' (expected \"owner/name\")",
            ),
            (
                json!({"model": "gpt2", "messages": []}),
                false,
                "request.messages: must be a non-empty array of messages",
            ),
            (
                json!({"model": "gpt2", "messages": [{"content": "x"}]}),
                false,
                "request.messages[0]: must be an object with a \"role\" string",
            ),
            (
                json!({"model": "gpt2", "messages": user, "stream": true}),
                false,
                "request.stream: is true: use chatCompletionStream for a stream",
            ),
        ] {
            assert_eq!(
                message(check_chat_request(&request, stream)),
                expected,
                "{request}"
            );
        }
        let streamed = json!({"model": "gpt2", "messages": user, "stream": true});
        assert!(check_chat_request(&streamed, true).is_ok());
    }
}
