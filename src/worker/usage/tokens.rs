//! The tokens of chat and completion answers, as the proxy counts them: the
//! `usage` an answer reports; for a stream, the usage upstream is asked to
//! report in a last chunk (`stream_options: {include_usage: true}`, added
//! when the client did not ask, and that chunk then kept from the client);
//! and, for a stream cut short or one that reports nothing, the tokens
//! relayed so far, marked estimated.

use serde_json::Value;

use super::cost::Tokens;
use crate::protocol::document::Document;
use crate::protocol::sse::{event_kind, EventKind, SseEvent, SseParser};

/// The `usage` of a chat or completion answer, or of a stream's chunk
/// (`{prompt_tokens, completion_tokens}`; an embeddings answer has no
/// completion tokens). `None` when it has none, or `usage` is `null`.
pub fn reported<D: Document>(answer: &D) -> Option<Tokens> {
    let usage = answer.member("usage").filter(Document::is_object)?;
    let count = |key: &str| {
        usage
            .member(key)?
            .as_number()
            .filter(|n| n.is_finite() && *n >= 0.0 && n.fract() == 0.0)
            .map(|n| n as u64)
    };
    Some(Tokens {
        prompt: count("prompt_tokens")?,
        completion: count("completion_tokens").unwrap_or(0),
    })
}

/// What a request body says of a stream's usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamUsage {
    /// It does not stream.
    NoStream,
    /// It streams and asks for the usage itself: the last chunk is the
    /// client's, and passed on.
    Asked,
    /// It streams without asking: the proxy asks, and keeps that chunk.
    NotAsked,
}

/// What `body` (a chat or completion request) says of its stream's usage.
pub fn stream_usage<D: Document>(body: &D) -> StreamUsage {
    if body.member("stream").and_then(|s| s.as_bool()) != Some(true) {
        return StreamUsage::NoStream;
    }
    let asked = body
        .member("stream_options")
        .and_then(|o| o.member("include_usage"))
        .and_then(|i| i.as_bool());
    if asked == Some(true) {
        StreamUsage::Asked
    } else {
        StreamUsage::NotAsked
    }
}

/// The member a streaming request that did not ask for its usage gets, put
/// right after its opening brace ([`usage_insertion`]); the comma holds,
/// as such a request has at least its `stream` member.
pub const USAGE_MEMBER: &[u8] = br#""stream_options":{"include_usage":true},"#;

/// Where [`USAGE_MEMBER`] goes in a request body that is a JSON object
/// without `stream_options`: right after its opening brace, which `head`
/// (the body's first bytes) holds after an optional byte-order mark and
/// whitespace. The client's bytes are kept around it, so nothing of the
/// body is parsed again or rewritten. `None` when `head` does not open an
/// object. (A body that has `stream_options` already gets `include_usage`
/// set in them instead: two members of one name would leave it to the
/// upstream's parser which one counts.)
pub fn usage_insertion(head: &[u8]) -> Option<usize> {
    let start = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let brace = start
        + head[start..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    (head[brace] == b'{').then_some(brace + 1)
}

/// A prompt's tokens, estimated from its text when upstream did not count
/// them (a stream cut short): four characters a token, OpenAI's rule of
/// thumb for English, rounded up. The text is every message's content (or
/// its parts' `text`), or a completion's `prompt`.
pub fn prompt_estimate<D: Document>(body: &D) -> u64 {
    let mut chars = 0usize;
    let mut add = |value: &D| {
        if let Some(text) = value.as_text() {
            chars += text.chars().count();
        } else if let Some(parts) = value.elements() {
            for part in parts {
                let text = part.as_text().or_else(|| part.member("text")?.as_text());
                chars += text.map_or(0, |t| t.chars().count());
            }
        }
    };
    if let Some(messages) = body.member("messages").and_then(|m| m.elements()) {
        for message in messages {
            if let Some(content) = message.member("content") {
                add(&content);
            }
        }
    } else if let Some(prompt) = body.member("prompt") {
        add(&prompt);
    }
    chars.div_ceil(4) as u64
}

/// A stream passed on through the proxy, event by event: what it relays,
/// the tokens it relayed, and the usage upstream reported.
#[derive(Debug, Default)]
pub struct StreamTally {
    parser: SseParser,
    /// Keep the usage chunk from the client (the proxy asked for it).
    keep_usage: bool,
    /// The raw bytes of the event under way (only while keeping the usage
    /// chunk: the other events are passed on byte for byte).
    event: Vec<u8>,
    /// Bytes of the line under way, terminator excluded.
    line: usize,
    after_cr: bool,
    relayed: u64,
    reported: Option<Tokens>,
}

impl StreamTally {
    /// A tally at the start of a stream; `keep_usage`: the proxy asked for
    /// the usage chunk, which the client then does not see.
    pub fn new(keep_usage: bool) -> StreamTally {
        StreamTally {
            keep_usage,
            ..StreamTally::default()
        }
    }

    /// Reads the next bytes from upstream; answers what to pass on: `None`
    /// for all of them as they are, else the bytes left once the usage
    /// chunk is taken out (the stream's framing is kept: only whole events
    /// are left out).
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        if !self.keep_usage {
            for event in self.parser.feed(bytes) {
                self.count(&event);
            }
            return None;
        }
        let mut relayed = Vec::with_capacity(bytes.len());
        for &b in bytes {
            self.event.push(b);
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    if self.line == 0 {
                        // A blank line ends the event.
                        self.pass_event(&mut relayed, false);
                    }
                    self.line = 0;
                }
                _ => {
                    self.after_cr = false;
                    self.line += 1;
                }
            }
        }
        Some(relayed)
    }

    /// The end of the stream: what is left to pass on (an event not closed
    /// by a blank line), as [`StreamTally::feed`] answers.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if !self.keep_usage {
            for event in self.parser.finish() {
                self.count(&event);
            }
            return None;
        }
        let mut relayed = Vec::new();
        self.pass_event(&mut relayed, true);
        Some(relayed)
    }

    /// The tokens to count, and whether they are estimated: upstream's own
    /// usage when it came (also when the client went away after it: the
    /// generation was done), else (a stream cut short, or one that
    /// reported none) the tokens relayed so far after a prompt of
    /// `prompt_estimate`.
    pub fn tokens(&self, prompt_estimate: u64) -> (Tokens, bool) {
        match self.reported {
            Some(tokens) => (tokens, false),
            None => (
                Tokens {
                    prompt: prompt_estimate,
                    completion: self.relayed,
                },
                true,
            ),
        }
    }

    /// Tokens relayed so far.
    pub fn relayed(&self) -> u64 {
        self.relayed
    }

    /// Judges the raw event under way: passed on into `relayed` unless it
    /// is the usage chunk the proxy asked for.
    fn pass_event(&mut self, relayed: &mut Vec<u8>, last: bool) {
        let raw = std::mem::take(&mut self.event);
        let mut events = self.parser.feed(&raw);
        if last {
            events.extend(self.parser.finish());
        }
        let mut usage_chunk = false;
        for event in &events {
            usage_chunk |= self.count(event);
        }
        if !usage_chunk {
            relayed.extend_from_slice(&raw);
        }
        // Emptied but kept: its capacity serves the next event.
        self.event = raw;
        self.event.clear();
    }

    /// Counts one event; answers whether it is a usage chunk (usage, and no
    /// choices to deliver: an empty list, or none).
    fn count(&mut self, event: &SseEvent) -> bool {
        let EventKind::Data(data) = event_kind(event) else {
            return false;
        };
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return false;
        };
        if let Some(tokens) = reported(&chunk) {
            self.reported = Some(tokens);
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        self.relayed += choices.map_or(0, |c| c.iter().filter(|c| generated(c)).count()) as u64;
        // TGI's own chunk: one token each.
        if let Some(token) = chunk.get("token") {
            let special = token.get("special").and_then(Value::as_bool) == Some(true);
            self.relayed += u64::from(!special);
        }
        self.reported.is_some()
            && chunk.get("usage").is_some_and(Value::is_object)
            && choices.is_none_or(Vec::is_empty)
    }
}

/// Whether a chunk's choice carries generated output (a chat delta's
/// content, reasoning or tool call; a completion's text): a token each, as
/// providers send them.
fn generated(choice: &Value) -> bool {
    let filled = |v: Option<&Value>| match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    match choice.get("delta") {
        Some(delta) => ["content", "reasoning", "reasoning_content", "tool_calls"]
            .iter()
            .any(|key| filled(delta.get(*key))),
        None => filled(choice.get("text")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(content: &str) -> String {
        json!({"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": null}
        ], "usage": null})
        .to_string()
    }

    const USAGE: &str = r#"{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":3,"total_tokens":24}}"#;

    fn stream(separator: &str) -> String {
        let mut text = String::new();
        for data in [chunk("One"), chunk(" two"), chunk(""), USAGE.to_owned()] {
            text.push_str(&format!("data: {data}{separator}{separator}"));
        }
        text.push_str(&format!("data: [DONE]{separator}{separator}"));
        text
    }

    /// Feeds `text` split at every `step` bytes; answers what was passed on.
    fn relay(tally: &mut StreamTally, text: &str, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in text.as_bytes().chunks(step) {
            match tally.feed(piece) {
                Some(bytes) => out.extend(bytes),
                None => out.extend_from_slice(piece),
            }
        }
        if let Some(bytes) = tally.finish() {
            out.extend(bytes);
        }
        out
    }

    #[test]
    fn an_answer_reports_its_usage() {
        let answer = json!({"choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 12, "total_tokens": 33}});
        assert_eq!(
            reported(&answer),
            Some(Tokens {
                prompt: 21,
                completion: 12
            })
        );
        let embeddings = json!({"data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}});
        assert_eq!(
            reported(&embeddings),
            Some(Tokens {
                prompt: 8,
                completion: 0
            })
        );
        for none in [
            json!({"usage": null}),
            json!({"choices": []}),
            json!({"usage": {"prompt_tokens": -1}}),
            json!({"usage": {"prompt_tokens": 1.5, "completion_tokens": 1}}),
            json!({"usage": {"completion_tokens": 4}}),
            json!([1]),
        ] {
            assert_eq!(reported(&none), None, "{none}");
        }
    }

    #[test]
    fn a_stream_asks_for_its_usage_unless_the_client_did() {
        let read = |v: Value| stream_usage(&v);
        assert_eq!(read(json!({"messages": []})), StreamUsage::NoStream);
        assert_eq!(read(json!({"stream": false})), StreamUsage::NoStream);
        assert_eq!(read(json!({"stream": "true"})), StreamUsage::NoStream);
        assert_eq!(read(json!({"stream": true})), StreamUsage::NotAsked);
        assert_eq!(
            read(json!({"stream": true, "stream_options": {"include_usage": false}})),
            StreamUsage::NotAsked
        );
        assert_eq!(
            read(json!({"stream": true, "stream_options": {"include_usage": true}})),
            StreamUsage::Asked
        );
    }

    #[test]
    fn the_usage_member_goes_right_after_the_opening_brace() {
        let insert = |body: &[u8]| {
            let at = usage_insertion(body)?;
            let mut asked = body[..at].to_vec();
            asked.extend_from_slice(USAGE_MEMBER);
            asked.extend_from_slice(&body[at..]);
            Some(String::from_utf8(asked).unwrap())
        };
        let body = br#"  {"model":"m", "seed": 12345678901234567890, "stream":true}"#;
        assert_eq!(
            insert(body).unwrap(),
            r#"  {"stream_options":{"include_usage":true},"model":"m", "seed": 12345678901234567890, "stream":true}"#
        );
        let asked: Value = serde_json::from_str(&insert(body).unwrap()).unwrap();
        assert_eq!(asked["stream_options"], json!({"include_usage": true}));
        assert_eq!(
            usage_insertion(b"\xEF\xBB\xBF\r\n\t{\"stream\":true}"),
            Some(7)
        );
        for not_object in [&b"[1]"[..], b"nope", b"\"{\"", b"", b"   "] {
            assert_eq!(usage_insertion(not_object), None);
        }
    }

    #[test]
    fn a_prompt_is_estimated_at_four_characters_a_token() {
        let chat = json!({"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": [{"type": "text", "text": "What is deep learning?"}, {"type": "image_url", "image_url": {"url": "x"}}]}
        ]});
        // 28 + 22 characters: 13 tokens (12.5 rounded up).
        assert_eq!(prompt_estimate(&chat), 13);
        assert_eq!(prompt_estimate(&json!({"prompt": "abcde"})), 2);
        assert_eq!(prompt_estimate(&json!({"prompt": ["ab", "cd"]})), 1);
        assert_eq!(prompt_estimate(&json!({"inputs": "x"})), 0);
    }

    #[test]
    fn the_usage_chunk_the_proxy_asked_for_is_kept_from_the_client() {
        for separator in ["\n", "\r\n", "\r"] {
            let text = stream(separator);
            let usage_event = format!("data: {USAGE}{separator}{separator}");
            let expected = text.replace(&usage_event, "");
            for step in [1, 2, 7, 64, text.len()] {
                let mut tally = StreamTally::new(true);
                let out = relay(&mut tally, &text, step);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    expected,
                    "{separator:?} {step}"
                );
                assert_eq!(
                    tally.tokens(99),
                    (
                        Tokens {
                            prompt: 21,
                            completion: 3
                        },
                        false
                    )
                );
                assert_eq!(tally.relayed(), 2);
            }
        }
    }

    #[test]
    fn a_usage_chunk_without_choices_is_kept_too() {
        let text = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
            "data: {\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n",
            "data: [DONE]\n\n",
        );
        let mut tally = StreamTally::new(true);
        assert_eq!(
            String::from_utf8(relay(&mut tally, text, 8)).unwrap(),
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"
        );
        assert_eq!(tally.tokens(0).0.prompt, 4);
    }

    #[test]
    fn a_usage_chunk_the_client_asked_for_is_passed_on() {
        let text = stream("\n");
        let mut tally = StreamTally::new(false);
        assert_eq!(relay(&mut tally, &text, 5), text.as_bytes());
        assert_eq!(tally.tokens(99).0.prompt, 21);
        // A usage carried by a chunk that still delivers content stays.
        let mut tally = StreamTally::new(true);
        let both = r#"data: {"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":2,"completion_tokens":1}}

data: [DONE]

"#;
        assert_eq!(relay(&mut tally, both, 3), both.as_bytes());
        assert_eq!(
            tally.tokens(0),
            (
                Tokens {
                    prompt: 2,
                    completion: 1
                },
                false
            )
        );
    }

    #[test]
    fn a_stream_cut_short_counts_what_was_relayed_as_estimated() {
        let text = stream("\n");
        let cut = &text[..text.find(" two").unwrap() + 40];
        let mut tally = StreamTally::new(true);
        let out = relay(&mut tally, cut, 9);
        assert_eq!(
            out,
            cut.as_bytes(),
            "what came is passed on, the cut event too"
        );
        assert_eq!(
            tally.tokens(13),
            (
                Tokens {
                    prompt: 13,
                    completion: 1
                },
                true
            )
        );
        // Cut short after the usage came: upstream's usage, exact.
        let mut tally = StreamTally::new(true);
        relay(&mut tally, &text, 11);
        assert_eq!(
            tally.tokens(13),
            (
                Tokens {
                    prompt: 21,
                    completion: 3
                },
                false
            )
        );
        // A stream that reported no usage: estimated too.
        let mut tally = StreamTally::new(false);
        relay(
            &mut tally,
            &format!("data: {}\n\ndata: [DONE]\n\n", chunk("a")),
            4,
        );
        assert_eq!(
            tally.tokens(5),
            (
                Tokens {
                    prompt: 5,
                    completion: 1
                },
                true
            )
        );
    }

    #[test]
    fn completions_and_tgi_chunks_count_a_token_each() {
        let text = concat!(
            "data:{\"choices\":[{\"index\":0,\"text\":\" one\"}]}\n\n",
            "data:{\"token\":{\"id\":3,\"text\":\" two\",\"special\":false},\"generated_text\":null}\n\n",
            "data:{\"token\":{\"id\":2,\"text\":\"</s>\",\"special\":true},\"generated_text\":\"x\"}\n\n",
            ": keep-alive\n\n",
            "data:\n\n",
        );
        let mut tally = StreamTally::new(true);
        assert_eq!(relay(&mut tally, text, 6), text.as_bytes());
        assert_eq!(tally.relayed(), 2);
    }
}
