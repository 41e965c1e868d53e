//! An incremental server-sent-events parser, and what each event of an
//! inference stream means.
//!
//! Bytes may be split anywhere (inside a line, between `\r` and `\n`, inside a
//! multi-byte character): complete lines are decoded, the rest waits for the
//! next chunk. Lines end with `\n`, `\r\n` or `\r`; `data:` takes an optional
//! single space; several `data:` lines join with `\n`; `:` lines are comments.
//!
//! Written here rather than taken from a crate: the SSE crates on crates.io
//! (eventsource-stream and its kin) parse with `nom` over a `Stream` of
//! `Bytes`, which would bring a parser framework and the `bytes` crate into
//! the browser's wasm for what is forty lines of state machine; this one is
//! fed the chunks of a `ReadableStream` as they come, and tested natively.

use super::document::Document;
use super::error::{embedded, Error, ErrorCode};

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
        self.read_line(&mut line, events);
        // Emptied but kept: its capacity serves the next line.
        line.clear();
        self.line = line;
    }

    fn read_line(&mut self, line: &mut Vec<u8>, events: &mut Vec<SseEvent>) {
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
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
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

/// What one event of an inference stream says, before its data is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind<'a> {
    /// No data (an empty `data:` line, as some servers send between chunks):
    /// nothing to deliver, as the reference client skips it.
    Skip,
    /// `[DONE]`: the stream is over.
    Done,
    /// Data to read as JSON.
    Data(&'a str),
}

/// What an event is, from its data alone.
pub fn event_kind(event: &SseEvent) -> EventKind<'_> {
    match event.data.trim() {
        "" => EventKind::Skip,
        "[DONE]" => EventKind::Done,
        data => EventKind::Data(data),
    }
}

/// The error an event reports, if any, given its data read as JSON (`None`
/// when the data is not JSON): an error object in the data, or an
/// `event: error` whose data is text (UPSTREAM_ERROR with that text). Data
/// that is neither JSON nor an error event is BAD_RESPONSE.
pub fn event_error<D: Document>(event: &SseEvent, parsed: Option<&D>) -> Option<Error> {
    let is_error_event = event.event.as_deref() == Some("error");
    let Some(doc) = parsed else {
        return Some(if is_error_event {
            Error::new(ErrorCode::UpstreamError, event.data.trim())
        } else {
            Error::new(ErrorCode::BadResponse, "a stream event is not JSON")
        });
    };
    if let Some(err) = embedded(doc) {
        return Some(err);
    }
    is_error_event.then(|| Error::new(ErrorCode::UpstreamError, event.data.trim()))
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
    fn event_kinds() {
        let ev = |d: &str| SseEvent {
            event: None,
            data: d.into(),
        };
        assert_eq!(event_kind(&ev("[DONE]")), EventKind::Done);
        assert_eq!(event_kind(&ev("")), EventKind::Skip);
        assert_eq!(event_kind(&ev(" \n ")), EventKind::Skip);
        assert_eq!(event_kind(&ev(" {\"a\":1} ")), EventKind::Data("{\"a\":1}"));
    }

    #[test]
    fn event_errors() {
        let ev = |event: Option<&str>, d: &str| SseEvent {
            event: event.map(str::to_owned),
            data: d.into(),
        };
        let parse = |d: &str| serde_json::from_str::<serde_json::Value>(d).ok();
        let error_of = |e: &SseEvent| event_error(e, parse(&e.data).as_ref());
        assert_eq!(error_of(&ev(None, r#"{"token":{"text":"hi"}}"#)), None);
        assert_eq!(error_of(&ev(None, r#"{"x":1,"error":null}"#)), None);
        for (event, expected_code, expected_message) in [
            (
                ev(
                    None,
                    r#"{"error":"Input validation error: too long","error_type":"validation"}"#,
                ),
                ErrorCode::Validation,
                "Input validation error: too long",
            ),
            (
                ev(
                    None,
                    r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
                ),
                ErrorCode::UpstreamError,
                "overloaded",
            ),
            (
                ev(Some("error"), "upstream closed the generation"),
                ErrorCode::UpstreamError,
                "upstream closed the generation",
            ),
            (
                ev(Some("error"), r#"{"detail":"x"}"#),
                ErrorCode::UpstreamError,
                r#"{"detail":"x"}"#,
            ),
            (
                ev(None, "not json"),
                ErrorCode::BadResponse,
                "a stream event is not JSON",
            ),
        ] {
            let err = error_of(&event).expect("an error");
            assert_eq!(
                (err.code(), err.message()),
                (expected_code, expected_message),
                "{event:?}"
            );
        }
    }
}
