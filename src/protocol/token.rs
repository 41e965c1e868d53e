//! The access token: checked once, sent only as an `Authorization` header,
//! and impossible to print.

use super::error::Error;

/// An access token. Its `Debug` prints `Token([redacted])` and it has no
/// `Display`, so it cannot slip into a message or a log line by formatting.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token; refuses an empty one or one that cannot be a header
    /// value. Errors name `token`.
    pub fn new(token: &str) -> Result<Token, Error> {
        Token::named(token, "token")
    }

    /// [`Token::new`], with errors naming `argument` (`endpoint[1].token`).
    pub fn named(token: &str, argument: &str) -> Result<Token, Error> {
        if token.trim().is_empty() {
            return Err(Error::invalid_input(
                argument,
                "must be a non-empty string (a Hugging Face access token)",
            ));
        }
        if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
            // Say what is wrong without echoing any of the token.
            return Err(Error::invalid_input(
                argument,
                "contains a control or non-ASCII character",
            ));
        }
        Ok(Token(token.trim().to_owned()))
    }

    /// `text` with the token replaced by `[redacted]` wherever it occurs: for
    /// text an upstream sent back, before it is passed on or logged.
    pub fn redact(&self, text: &str) -> String {
        super::text::replaced(text, &self.0, "[redacted]")
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

/// `text` with every one of `secrets` replaced by `[redacted]` (copied only
/// when one occurs in it).
pub fn redact_each(secrets: &[Token], mut text: String) -> String {
    for token in secrets {
        if super::text::contains(&text, &token.0) {
            text = token.redact(&text);
        }
    }
    text
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;

    #[test]
    fn token_never_formats() {
        let token = Token::new("hf_secret123").unwrap();
        assert_eq!(format!("{token:?}"), "Token([redacted])");
        assert_eq!(token.authorization(), "Bearer hf_secret123");
        assert_eq!(
            token.redact(r#"{"error":"bad Bearer hf_secret123 (hf_secret123)"}"#),
            r#"{"error":"bad Bearer [redacted] ([redacted])"}"#
        );
        let err = Token::new("hf_\nsecret").unwrap_err();
        assert_eq!(
            err.message(),
            "token: contains a control or non-ASCII character"
        );
        assert_eq!(Token::new(" ").unwrap_err().code(), ErrorCode::InvalidInput);
        assert_eq!(
            Token::named("", "endpoint[1].token").unwrap_err().message(),
            "endpoint[1].token: must be a non-empty string (a Hugging Face access token)"
        );
    }
}
