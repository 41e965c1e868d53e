//! An incremental server-sent-events parser, and what each event of an
//! inference stream means.
//!
//! Bytes may be split anywhere (inside a line, between `\r` and `\n`, inside a
//! multi-byte character): complete lines are decoded, the rest waits for the
//! next chunk. Lines end with `\n`, `\r\n` or `\r`; `data:` takes an optional
//! single space; several `data:` lines join with `\n`; `:` lines are comments.

use super::error::{embedded_error, ErrorCode, InferenceError};
use super::json::Json;
use super::text::{join, utf8_lossy};
use crate::prelude::*;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when there was one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Parser state between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds the next bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    self.end_line(&mut events);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(b);
                }
            }
        }
        events
    }

    /// The end of the stream: a last event not closed by a blank line still
    /// counts (some servers end without one).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.dispatch(&mut events);
        events
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let mut line = core::mem::take(&mut self.line);
        if !self.started {
            self.started = true;
            if line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line[0] == b':' {
            return; // a comment (keep-alive)
        }
        let text = utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {} // id, retry and unknown fields do not matter here
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        if self.has_data {
            events.push(SseEvent {
                event: self.event.take(),
                data: core::mem::take(&mut self.data),
            });
        }
        self.has_data = false;
        self.event = None;
    }
}

/// What one event of an inference stream carries.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    /// A chunk, in its wire shape (an OpenAI chunk or a TGI token).
    Chunk(Json),
    /// `[DONE]`: the stream is over.
    Done,
    /// An error upstream reported inside the stream.
    Error(InferenceError),
}

/// Reads an event's data: `[DONE]`, an error object, or a chunk.
pub fn stream_item(event: &SseEvent) -> StreamItem {
    let data = event.data.trim();
    if data == "[DONE]" {
        return StreamItem::Done;
    }
    let json = match Json::parse(data) {
        Ok(json) => json,
        Err(e) => {
            return StreamItem::Error(InferenceError::new(
                ErrorCode::BadResponse,
                join(&["a stream event is not JSON (", &e.describe(), ")"]),
            ))
        }
    };
    if let Some(err) = embedded_error(&json) {
        return StreamItem::Error(err);
    }
    if event.event.as_deref() == Some("error") {
        return StreamItem::Error(InferenceError::new(ErrorCode::UpstreamError, data));
    }
    StreamItem::Chunk(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn data_with_and_without_space_multiline_and_comments() {
        let mut p = SseParser::new();
        let events = p.feed(b": keep-alive\ndata:{\"a\":1}\n\ndata: line one\ndata:  two\n\nevent: error\ndata: x\n\n");
        assert_eq!(data(&events), ["{\"a\":1}", "line one\n two", "x"]);
        assert_eq!(events[2].event.as_deref(), Some("error"));
        assert_eq!(events[0].event, None);
    }

    #[test]
    fn every_line_ending() {
        for text in [
            "data: a\r\n\r\ndata: b\r\n\r\n",
            "data: a\r\rdata: b\r\r",
            "data: a\n\ndata: b\n\n",
        ] {
            let mut p = SseParser::new();
            assert_eq!(data(&p.feed(text.as_bytes())), ["a", "b"], "{text:?}");
        }
    }

    #[test]
    fn splits_anywhere_including_crlf_and_utf8() {
        let text = "data: caf\u{e9} \u{1F600}\r\n\r\ndata: [DONE]\r\n\r\n".as_bytes();
        for cut in 0..text.len() {
            let mut p = SseParser::new();
            let mut events = p.feed(&text[..cut]);
            events.extend(p.feed(&text[cut..]));
            events.extend(p.finish());
            assert_eq!(
                data(&events),
                ["caf\u{e9} \u{1F600}", "[DONE]"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_last_event_without_blank_line_and_a_bom() {
        let mut p = SseParser::new();
        assert_eq!(
            data(&p.feed(b"\xEF\xBB\xBFdata: first\n\ndata: last")),
            ["first"]
        );
        assert_eq!(data(&p.finish()), ["last"]);
        assert_eq!(p.finish(), vec![]);
    }

    #[test]
    fn empty_data_lines_count_but_events_without_data_do_not() {
        let mut p = SseParser::new();
        assert_eq!(
            data(&p.feed(b"event: ping\n\ndata\n\ndata:\ndata:\n\n")),
            ["", "\n"]
        );
    }

    #[test]
    fn stream_items() {
        let ev = |d: &str| SseEvent {
            event: None,
            data: d.into(),
        };
        assert_eq!(stream_item(&ev("[DONE]")), StreamItem::Done);
        assert_eq!(
            stream_item(&ev(r#"{"token":{"text":"hi"}}"#)),
            StreamItem::Chunk(Json::parse(r#"{"token":{"text":"hi"}}"#).unwrap())
        );
        assert_eq!(
            stream_item(&ev(r#"{"x":1,"error":null}"#)),
            StreamItem::Chunk(Json::parse(r#"{"x":1,"error":null}"#).unwrap())
        );
        let StreamItem::Error(err) = stream_item(&ev(
            r#"{"error":"Input validation error: too long","error_type":"validation"}"#,
        )) else {
            panic!("not an error")
        };
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::Validation, "Input validation error: too long")
        );
        let StreamItem::Error(err) = stream_item(&ev(
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        )) else {
            panic!("not an error")
        };
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::UpstreamError, "overloaded")
        );
        let StreamItem::Error(err) = stream_item(&ev("not json")) else {
            panic!("not an error")
        };
        assert_eq!(err.code, ErrorCode::BadResponse);
    }
}
