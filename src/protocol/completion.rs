//! Text generation on today's protocol: an OpenAI-style completion
//! (`/models/{m}/v1/completions` on hf-inference, `/v1/completions` at a
//! provider). Its answer becomes `{generated_text}`, and its stream chunks
//! become TGI's documented chunk shape, so code written against TGI
//! endpoints keeps working.

use serde::Serialize;

use super::answer::bad_response;
use super::document::Document;
use super::error::{embedded, Error};
use super::task::Task;

/// The parameter renamed on the way out: TGI's name, and the completion's.
pub const RENAMED: (&str, &str) = ("max_new_tokens", "max_tokens");

/// The first choice of a completion answer or chunk, when it has one.
fn first_choice<D: Document>(doc: &D) -> Option<D> {
    doc.member("choices")?.elements()?.into_iter().next()
}

/// A choice's text: a completion's `text`, or a chat answer's
/// `message.content` (or a chat chunk's `delta.content`), for providers that
/// serve text generation on their chat route.
fn choice_text<D: Document>(choice: &D) -> Option<String> {
    let chat = || {
        let message = choice
            .member("message")
            .or_else(|| choice.member("delta"))?;
        // A chunk without content (the role, the last one) adds no text.
        Some(
            message
                .member("content")
                .and_then(|c| c.as_text())
                .unwrap_or_default(),
        )
    };
    choice
        .member("text")
        .and_then(|t| t.as_text())
        .or_else(chat)
}

/// A completion answer's text: `choices[0].text` (the continuation only),
/// after `prompt` when the caller asked for `return_full_text`.
pub fn completion_text<D: Document>(doc: &D, full_text_of: Option<&str>) -> Result<String, Error> {
    if let Some(error) = embedded(doc) {
        return Err(error);
    }
    let text = first_choice(doc)
        .as_ref()
        .and_then(choice_text)
        .ok_or_else(|| bad_response(Task::TextGeneration, "a completion ({choices: [{text}]})"))?;
    Ok(match full_text_of {
        Some(prompt) => format!("{prompt}{text}"),
        None => text,
    })
}

/// A token of a TGI stream chunk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TgiToken {
    /// The token's text.
    pub text: String,
    /// Completions do not mark special tokens: always `false`.
    pub special: bool,
}

/// The `details` of a TGI stream's last chunk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TgiDetails {
    /// Why generation stopped (`"length"`, `"stop"`).
    pub finish_reason: String,
    /// Chunks of text generated.
    pub generated_tokens: u32,
}

/// A stream chunk in TGI's shape: `{index, token, generated_text, details}`,
/// the whole text and the details on the last chunk only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TgiChunk {
    /// 1 for the first chunk.
    pub index: u32,
    /// The chunk's text.
    pub token: TgiToken,
    /// The whole text, on the chunk that finishes.
    pub generated_text: Option<String>,
    /// Why it finished, on that chunk.
    pub details: Option<TgiDetails>,
}

/// The state of one completion stream read as TGI chunks.
#[derive(Clone, Debug, Default)]
pub struct CompletionStream {
    index: u32,
    text: String,
}

impl CompletionStream {
    /// A stream whose whole text starts with `prompt` (`return_full_text`).
    pub fn after(prompt: &str) -> CompletionStream {
        CompletionStream {
            index: 0,
            text: prompt.to_owned(),
        }
    }

    /// The TGI chunk of a completion chunk `{choices: [{text, finish_reason}]}`;
    /// `None` for a chunk without a choice (a usage-only chunk).
    pub fn chunk<D: Document>(&mut self, doc: &D) -> Result<Option<TgiChunk>, Error> {
        if let Some(error) = embedded(doc) {
            return Err(error);
        }
        let Some(choice) = first_choice(doc) else {
            return Ok(None);
        };
        let text = choice_text(&choice)
            .ok_or_else(|| bad_response(Task::TextGeneration, "a completion chunk"))?;
        self.index += 1;
        self.text.push_str(&text);
        let finished = choice
            .member("finish_reason")
            .and_then(|r| r.as_text())
            .map(|finish_reason| TgiDetails {
                finish_reason,
                generated_tokens: self.index,
            });
        Ok(Some(TgiChunk {
            index: self.index,
            token: TgiToken {
                text,
                special: false,
            },
            generated_text: finished.as_ref().map(|_| self.text.clone()),
            details: finished,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn the_answer_is_the_continuation_or_the_full_text() {
        let answer = json!({"id": "cmpl-1", "object": "text_completion", "created": 1,
            "model": "gpt2", "choices": [{"index": 0, "text": " far away", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}});
        assert_eq!(completion_text(&answer, None), Ok(" far away".to_owned()));
        assert_eq!(
            completion_text(&answer, Some("Once")),
            Ok("Once far away".to_owned())
        );
        let err = completion_text(&json!([{"generated_text": "x"}]), None).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::BadResponse,
                "the text-generation answer is not a completion ({choices: [{text}]})"
            )
        );
        let chat =
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]});
        assert_eq!(completion_text(&chat, None), Ok("Hi".to_owned()));
        let upstream = completion_text(&json!({"error": "Model too busy"}), None).unwrap_err();
        assert_eq!(upstream.message(), "Model too busy");
    }

    #[test]
    fn stream_chunks_take_tgis_shape() {
        let mut stream = CompletionStream::default();
        let first = stream
            .chunk(&json!({"choices": [{"index": 0, "text": " one", "finish_reason": null}]}))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!({"index": 1, "token": {"text": " one", "special": false},
                "generated_text": null, "details": null})
        );
        assert_eq!(stream.chunk(&json!({"choices": [], "usage": {}})), Ok(None));
        let last = stream
            .chunk(&json!({"choices": [{"text": " two", "finish_reason": "length"}]}))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&last).unwrap(),
            json!({"index": 2, "token": {"text": " two", "special": false},
                "generated_text": " one two",
                "details": {"finish_reason": "length", "generated_tokens": 2}})
        );
        let mut full = CompletionStream::after("Count:");
        let only = full
            .chunk(&json!({"choices": [{"text": " one", "finish_reason": "stop"}]}))
            .unwrap()
            .unwrap();
        assert_eq!(only.generated_text.as_deref(), Some("Count: one"));
        assert_eq!(only.token.text, " one");
        let delta = stream
            .chunk(&json!({"choices": [{"delta": {"content": " three"}, "finish_reason": null}]}))
            .unwrap()
            .unwrap();
        assert_eq!(delta.token.text, " three");
        let bad = stream
            .chunk(&json!({"choices": [{"logprobs": {}}]}))
            .unwrap_err();
        assert_eq!(
            bad.message(),
            "the text-generation answer is not a completion chunk"
        );
    }
}
