//! An incremental server-sent-events parser, and what each event of an
//! inference stream means.
//!
//! Text may be split anywhere (inside a line, between `\r` and `\n`): complete
//! lines are read, the rest waits for the next chunk. Lines end with `\n`,
//! `\r\n` or `\r`; `data:` takes an optional single space; several `data:`
//! lines join with `\n`; `:` lines are comments.
//!
//! Decoding is the caller's, as the WHATWG EventSource decodes before it
//! parses: the browser client feeds the text of the platform's
//! `TextDecoder` (UTF-8, lossy, the leading byte-order mark dropped, a
//! character split between chunks kept for the next), which keeps the
//! standard library's lossy UTF-8 decoder (1 KB of the wasm) out of the
//! client; the proxy feeds bytes through [`SseParser::feed`], which decodes
//! them the same way with `core::str::from_utf8`'s errors.
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
    line: String,
    after_cr: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// [`SseParser::feed`]'s state: whether bytes came yet (a leading
    /// byte-order mark is dropped), and the first bytes of a character
    /// split between chunks.
    bytes_started: bool,
    partial: Vec<u8>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds the next text, already decoded; returns the events it completes.
    pub fn feed_text(&mut self, text: &str) -> Vec<SseEvent> {
        let mut events = Vec::new();
        // By character rather than by slices of `text`: slicing a `str`
        // links its boundary check's panic, with `char`'s `Debug`.
        for c in text.chars() {
            match c {
                '\n' if self.after_cr => self.after_cr = false,
                '\n' | '\r' => {
                    self.after_cr = c == '\r';
                    self.end_line(&mut events);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(c);
                }
            }
        }
        events
    }

    /// Feeds the next bytes of a UTF-8 stream; returns the events they
    /// complete. They are decoded as the platform's `TextDecoder` does: a
    /// leading byte-order mark dropped, each invalid sequence read as
    /// U+FFFD (as `String::from_utf8_lossy` does), a character split
    /// between chunks joined.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        // Joined to what the last chunk left only when it left something:
        // most chunks are read where they are.
        let joined;
        let mut rest = if self.partial.is_empty() {
            bytes
        } else {
            let mut carried = core::mem::take(&mut self.partial);
            carried.extend_from_slice(bytes);
            joined = carried;
            joined.as_slice()
        };
        if !self.bytes_started {
            if rest.len() < 3 && b"\xEF\xBB\xBF".starts_with(rest) {
                // Too few bytes yet to tell a byte-order mark.
                self.partial = rest.to_vec();
                return Vec::new();
            }
            self.bytes_started = true;
            rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
        }
        let mut events = Vec::new();
        loop {
            match core::str::from_utf8(rest) {
                Ok(text) => {
                    events.extend(self.feed_text(text));
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    events.extend(self.feed_text(core::str::from_utf8(valid).unwrap_or_default()));
                    match error.error_len() {
                        Some(invalid) => {
                            events.extend(self.feed_text("\u{FFFD}"));
                            rest = &after[invalid..];
                        }
                        None => {
                            // The start of a character the next chunk ends.
                            self.partial = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        events
    }

    /// The end of the stream: a last event not closed by a blank line still
    /// counts (some servers end without one), and a character cut short by
    /// the end is U+FFFD.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        // A character cut short, or the start of a byte-order mark and no
        // more: one U+FFFD, as a maximal invalid sequence.
        if !core::mem::take(&mut self.partial).is_empty() {
            self.line.push('\u{FFFD}');
        }
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.dispatch(&mut events);
        events
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let line = core::mem::take(&mut self.line);
        self.read_line(&line, events);
        // Emptied but kept: its capacity serves the next line.
        self.line = line;
        self.line.clear();
    }

    fn read_line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        // `&str` patterns: their prefix checks are the byte comparison the
        // wasm has anyway, where a `char` pattern's are their own code.
        if line.starts_with(":") {
            return; // a comment (keep-alive)
        }
        let (field, value) = match super::text::split_once_at(line, b':') {
            Some((field, value)) => (field, value.strip_prefix(" ").unwrap_or(value)),
            None => (line, ""),
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

    /// The data of `bytes` fed in two chunks cut at `cut`, then finished.
    fn fed_in_two(bytes: &[u8], cut: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut events = p.feed(&bytes[..cut]);
        events.extend(p.feed(&bytes[cut..]));
        events.extend(p.finish());
        events
    }

    #[test]
    fn bytes_are_decoded_as_from_utf8_lossy_wherever_cut() {
        // Invalid sequences of every kind: a lone continuation, a lead
        // without its continuations, an overlong form, a surrogate, a code
        // point past U+10FFFF, and a character cut short by the end.
        let line: &[u8] =
            b"a\x80b\xE2\x82c\xC0\xAFd\xED\xA0\x80e\xF4\x90\x80\x80f\xF0\x9F\x98\x80g";
        let mut bytes = b"data: ".to_vec();
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(b"\n\ndata: \xF0\x9F\x98");
        let expected = [
            String::from_utf8_lossy(line).into_owned(),
            "\u{FFFD}".to_owned(),
        ];
        for cut in 0..=bytes.len() {
            assert_eq!(data(&fed_in_two(&bytes, cut)), expected, "cut at {cut}");
        }
    }

    #[test]
    fn one_leading_byte_order_mark_is_dropped_wherever_cut() {
        let bytes = b"\xEF\xBB\xBFdata: x\n\ndata: y\n\n";
        for cut in 0..=bytes.len() {
            assert_eq!(data(&fed_in_two(bytes, cut)), ["x", "y"], "cut at {cut}");
        }
        let mut p = SseParser::new();
        let mut events = Vec::new();
        for byte in bytes {
            events.extend(p.feed(std::slice::from_ref(byte)));
        }
        events.extend(p.finish());
        assert_eq!(data(&events), ["x", "y"], "fed byte by byte");
        let bytes = b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n";
        for cut in 0..=bytes.len() {
            // The second mark is text: its line's field is not `data`.
            assert_eq!(data(&fed_in_two(bytes, cut)), ["y"], "cut at {cut}");
        }
        // A character cut short at the end of the stream: one U+FFFD.
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"data: \xEF\xBB"), vec![]);
        assert_eq!(data(&p.finish()), ["\u{FFFD}"]);
        // A mark's first bytes, then other bytes: one U+FFFD starting the
        // line, whose field is then not `data`.
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"\xEF"), vec![]);
        assert_eq!(
            p.feed(b"\xBBdata: z\n\ndata: w\n\n"),
            vec![SseEvent {
                event: None,
                data: "w".into()
            }]
        );
        // Text is taken as decoded: a mark in it is a character.
        let mut p = SseParser::new();
        assert_eq!(data(&p.feed_text("\u{FEFF}data: x\n\ndata: y\n\n")), ["y"]);
    }

    #[test]
    fn text_split_anywhere_gives_the_events_of_its_bytes() {
        let text = "data: caf\u{e9}\r\n\r\n: c\revent: e\rdata:\u{1F600}\n\ndata: [DONE]\r\n\r\n";
        let whole = fed_in_two(text.as_bytes(), 0);
        assert_eq!(data(&whole), ["caf\u{e9}", "\u{1F600}", "[DONE]"]);
        assert_eq!(whole[1].event.as_deref(), Some("e"));
        for (cut, _) in text.char_indices() {
            let mut p = SseParser::new();
            let (head, tail) = text.split_at(cut);
            let mut events = p.feed_text(head);
            events.extend(p.feed_text(tail));
            events.extend(p.finish());
            assert_eq!(events, whole, "cut at {cut}");
        }
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
