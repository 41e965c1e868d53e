//! A small JSON value with a parser and a compact writer.
//!
//! Numbers keep their literal text: parameters the caller passes through
//! (`temperature: 0.7`) go back on the wire byte for byte, and the module
//! needs no float formatting, which keeps the WebAssembly build small
//! (DESIGN.md §6: float formatting and serde's machinery dominate the size).
//! Only scores are ever read as `f64`.

use core::fmt;

use super::text::parse_u64;
use crate::prelude::*;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// A parsed JSON document.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written in the source text.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object; members keep their order, a repeated key keeps its last value on lookup.
    Object(Vec<(String, Json)>),
}

/// Why a text is not JSON, with the byte offset where parsing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was expected or found there.
    pub reason: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

impl core::error::Error for JsonError {}

impl JsonError {
    /// `invalid JSON at byte N: reason`, built without `core::fmt`.
    pub fn describe(&self) -> String {
        let mut text = String::from("invalid JSON at byte ");
        write_decimal(self.offset as u64, &mut text);
        text.push_str(": ");
        text.push_str(self.reason);
        text
    }
}

impl Json {
    /// Parses a complete JSON text (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            pos: 0,
        };
        parser.skip_ws();
        let value = parser.value(0)?;
        parser.skip_ws();
        if parser.pos != parser.bytes.len() {
            return Err(parser.error("trailing characters after the JSON value"));
        }
        Ok(value)
    }

    /// The member `key` of an object (the last one when repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `f64`, when this is one (Rust's parser: native code,
    /// tests and the proxy; the browser build reads numbers with [`Json::as_number`]).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The number, as text, when this is one.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Json::Number(text) => Some(Number::from_text(text.as_str())),
            _ => None,
        }
    }

    /// The elements, when this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// Appends the compact JSON text of this value to `out`.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(text) => out.push_str(text),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_to(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write_to(out);
                }
                out.push('}');
            }
        }
    }

    /// The compact JSON text of this value.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

/// A JSON number kept as its text. Comparing and reading it as milliseconds
/// need no float parsing: the WebAssembly build hands the text to
/// JavaScript's own `parseFloat`, exact and already in the runtime, rather
/// than carry Rust's decimal-to-float tables (DESIGN.md §6).
#[derive(Clone, Debug)]
pub struct Number(String);

/// Equal values are equal numbers, however written (`1e-3` and `0.001`).
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.numeric_cmp(other).is_eq()
    }
}

impl Number {
    /// A number from its JSON text (not checked here).
    pub fn from_text(text: impl Into<String>) -> Number {
        Number(text.into())
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest `f64` (Rust's parser; native code and tests).
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// Numeric order, computed on the decimal text.
    pub fn numeric_cmp(&self, other: &Number) -> core::cmp::Ordering {
        compare_decimals(&self.0, &other.0)
    }

    /// The value times 1000, rounded to whole units (seconds to milliseconds),
    /// for non-negative values below about 10^15.
    pub fn thousandths(&self) -> Option<u64> {
        let number = Decimal::read(&self.0)?;
        let (digits, exponent) = (number.digits(), number.exponent);
        if number.negative {
            return None;
        }
        // value = 0.DIGITS × 10^exponent; times 1000 shifts the point by 3.
        let point = exponent + 3;
        if point > 15 {
            return None;
        }
        let mut whole: u64 = 0;
        for i in 0..point.max(0) as usize {
            whole = whole * 10 + u64::from(*digits.get(i).unwrap_or(&0));
        }
        let next = if point >= 0 {
            digits.get(point as usize)
        } else {
            None
        };
        Some(whole + u64::from(next.is_some_and(|d| *d >= 5)))
    }
}

/// Significant digits kept for comparing: far beyond the 17 of any `f64`.
const MAX_DIGITS: usize = 40;

/// A number as `0.DIGITS × 10^exponent` with no leading or trailing zero
/// digit (zero has none). Digits past [`MAX_DIGITS`] are dropped.
struct Decimal {
    negative: bool,
    digits: [u8; MAX_DIGITS],
    len: usize,
    exponent: i64,
}

impl Decimal {
    /// Reads a number text; `None` when it is not one. No allocation: this
    /// runs for every score compared.
    fn read(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => {
                let digits = rest.get(i + 1..)?;
                let (sign, digits) = match digits.strip_prefix('-') {
                    Some(digits) => (-1, digits),
                    None => (1, digits.strip_prefix('+').unwrap_or(digits)),
                };
                // Exponents are clamped: past ±100000 every value is 0 or out of range.
                (
                    rest.get(..i)?,
                    sign * parse_u64(digits)?.min(100_000) as i64,
                )
            }
            None => (rest, 0),
        };
        if !mantissa.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut number = Decimal {
            negative,
            digits: [0; MAX_DIGITS],
            len: 0,
            exponent: 0,
        };
        let (mut integer_digits, mut leading_zeros, mut after_point) = (0i64, 0i64, false);
        for b in mantissa.bytes() {
            match b {
                b'.' if !after_point => after_point = true,
                b'0'..=b'9' => {
                    integer_digits += i64::from(!after_point);
                    if number.len == 0 && b == b'0' {
                        leading_zeros += 1;
                    } else if number.len < MAX_DIGITS {
                        number.digits[number.len] = b - b'0';
                        number.len += 1;
                    }
                }
                _ => return None,
            }
        }
        while number.len > 0 && number.digits[number.len - 1] == 0 {
            number.len -= 1;
        }
        if number.len == 0 {
            number.negative = false;
        } else {
            number.exponent = integer_digits - leading_zeros + exponent;
        }
        Some(number)
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}

/// Compares two JSON number texts numerically (unreadable text sorts lowest).
pub fn compare_decimals(a: &str, b: &str) -> core::cmp::Ordering {
    let (Some(a), Some(b)) = (Decimal::read(a), Decimal::read(b)) else {
        return Decimal::read(a).is_some().cmp(&Decimal::read(b).is_some());
    };
    let sign = |n: &Decimal| match (n.len, n.negative) {
        (0, _) => 0,
        (_, true) => -1,
        (_, false) => 1,
    };
    let (sa, sb) = (sign(&a), sign(&b));
    if sa != sb || sa == 0 {
        return sa.cmp(&sb);
    }
    let magnitude = a
        .exponent
        .cmp(&b.exponent)
        .then_with(|| a.digits().cmp(b.digits()));
    if sa < 0 {
        magnitude.reverse()
    } else {
        magnitude
    }
}

/// Appends `n` in decimal. Numbers are written by hand throughout the crate:
/// `core::fmt` would add its whole machinery to the browser's wasm.
pub fn write_decimal(n: u64, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        out.push(char::from(*digit));
    }
}

/// Appends `s` as a quoted, escaped JSON string.
pub fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    // Runs without anything to escape are copied whole: escapes are ASCII,
    // so every run starts and ends on a character boundary.
    let mut run = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        if escaped.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(escaped);
        }
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, literal: &[u8], value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.bytes.get(self.pos) {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.eat_literal(b"null", Json::Null),
            Some(b't') => self.eat_literal(b"true", Json::Bool(true)),
            Some(b'f') => self.eat_literal(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        // Only ASCII was consumed, so the slice is valid UTF-8.
        let text = core::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default();
        Ok(Json::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = match self.bytes.get(self.pos) {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("expected four hex digits")),
            };
            value = value * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run stops only at ASCII bytes, so it ends on a char boundary.
            out.push_str(
                core::str::from_utf8(&self.bytes[run_start..self.pos]).unwrap_or_default(),
            );
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    self.pos += 1;
                    out.push(escaped);
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    /// Decodes the code point after `\u`, joining surrogate pairs; a lone
    /// surrogate becomes U+FFFD as JavaScript's decoders do.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.bytes[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_back_numbers_verbatim() {
        let text =
            r#"{"a":[1,-0.5,2e-3,1E+10],"b":"x\"y\\\n\u00e9\ud83d\ude00","c":null,"d":true}"#;
        let value = Json::parse(text).unwrap();
        assert_eq!(
            value.get("a").unwrap().as_array().unwrap()[2],
            Json::Number("2e-3".into())
        );
        assert_eq!(value.get("b").unwrap().as_str(), Some("x\"y\\\né😀"));
        assert_eq!(
            value.to_json_string(),
            r#"{"a":[1,-0.5,2e-3,1E+10],"b":"x\"y\\\né😀","c":null,"d":true}"#
        );
    }

    #[test]
    fn refuses_malformed_text_with_offset() {
        for (text, offset) in [
            ("", 0),
            ("[1,]", 3),
            ("{\"a\" 1}", 5),
            ("01", 1),
            ("1.", 2),
            ("\"abc", 4),
            ("[1] x", 4),
            ("nul", 0),
            ("\"\\x\"", 2),
        ] {
            assert_eq!(Json::parse(text).unwrap_err().offset, offset, "{text:?}");
        }
    }

    #[test]
    fn refuses_deep_nesting_instead_of_overflowing() {
        let text = "[".repeat(10_000);
        assert_eq!(Json::parse(&text).unwrap_err().reason, "nesting too deep");
    }

    #[test]
    fn escapes_control_characters() {
        let mut out = String::new();
        write_string("a\u{1}b\t", &mut out);
        assert_eq!(out, "\"a\\u0001b\\t\"");
    }

    #[test]
    fn get_finds_the_last_of_a_repeated_key() {
        let value = Json::parse(r#"{"k":1,"k":2}"#).unwrap();
        assert_eq!(value.get("k"), Some(&Json::Number("2".into())));
        assert_eq!(value.to_json_string(), r#"{"k":1,"k":2}"#);
    }

    #[test]
    fn numbers_compare_on_their_text() {
        use std::cmp::Ordering::*;
        for (a, b, order) in [
            ("0.9998695850372314", "0.00013043530634604394", Greater),
            ("5.714610961149447e-05", "0.0001", Less),
            ("1e-3", "0.001", Equal),
            ("-0", "0", Equal),
            ("-1.5", "-1.25", Less),
            ("-1", "1e-300", Less),
            ("10", "9.99", Greater),
            ("100", "1E2", Equal),
            ("0.1", "0.10000000000000001", Less),
            ("2", "abc", Greater),
            ("123.4", "1.234e2", Equal),
            ("1e+2", "100.0", Equal),
            ("0.00", "-0e5", Equal),
            ("0.05", "5e-2", Equal),
            ("1.", ".5", Greater),
        ] {
            assert_eq!(compare_decimals(a, b), order, "{a} vs {b}");
            assert_eq!(compare_decimals(b, a), order.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn thousandths_read_seconds_as_milliseconds() {
        for (text, ms) in [
            ("0.016", Some(16)),
            ("57", Some(57_000)),
            ("20.0", Some(20_000)),
            ("0.0005", Some(1)),
            ("0.0004", Some(0)),
            ("1.5e1", Some(15_000)),
            ("0", Some(0)),
            ("-1", None),
            ("1e20", None),
        ] {
            assert_eq!(Number::from_text(text).thousandths(), ms, "{text}");
        }
    }

    #[test]
    fn lone_surrogate_becomes_replacement_character() {
        let value = Json::parse(r#""\ud800x""#).unwrap();
        assert_eq!(value.as_str(), Some("\u{FFFD}x"));
    }
}
