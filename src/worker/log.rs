//! The one structured log line per request. It names the client (its key's
//! name), the model, status, timing, cache and upstream; never the token,
//! a client key or its hash, and never the request body.

use serde::Serialize;

/// What a request's log line says. The handler fills it in as the request
/// goes (the model once known, the upstream once called) and prints it once.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LogLine {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The client, once its key is verified: the key's name (`mobile-app`,
    /// `key#0`), never the key or its hash. Unset without `CLIENT_KEYS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The model, once known: the Hugging Face id (a provider request's id
    /// mapped back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The provider: a provider route's, or a chat or images model's suffix
    /// (`auto` without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Status answered.
    pub status: u16,
    /// A refusal's or failure's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Time from request to response headers.
    pub duration_ms: u64,
    /// `HIT` or `MISS` for cacheable models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
    /// The upstream's name, when one was called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Upstream attempts made.
    pub attempts: u32,
    /// Upstream's x-compute-time, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_time_ms: Option<u64>,
    /// Hub look-ups made to map a provider id back.
    #[serde(skip_serializing_if = "is_zero")]
    pub hub_lookups: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LogLine {
    /// The line as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_is_json() {
        let line = LogLine {
            method: "POST".into(),
            path: "/models/gpt2".into(),
            client: Some("mobile-app".into()),
            model: Some("gpt2".into()),
            provider: None,
            status: 200,
            code: None,
            duration_ms: 42,
            cache: Some("MISS"),
            upstream: Some("router".into()),
            attempts: 2,
            compute_time_ms: Some(16),
            hub_lookups: 0,
        };
        assert_eq!(
            line.to_json(),
            r#"{"method":"POST","path":"/models/gpt2","client":"mobile-app","model":"gpt2","status":200,"duration_ms":42,"cache":"MISS","upstream":"router","attempts":2,"compute_time_ms":16}"#
        );
        let refused = LogLine {
            method: "POST".into(),
            path: "/models/\"x".into(),
            status: 403,
            code: Some("FORBIDDEN"),
            ..LogLine::default()
        };
        let parsed: serde_json::Value = serde_json::from_str(&refused.to_json()).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"method": "POST", "path": "/models/\"x", "status": 403,
                "code": "FORBIDDEN", "duration_ms": 0, "attempts": 0})
        );
        let mapped = LogLine {
            method: "POST".into(),
            path: "/groq/openai/v1/chat/completions".into(),
            model: Some("meta-llama/Llama-3.1-8B-Instruct".into()),
            provider: Some("groq".into()),
            status: 200,
            hub_lookups: 2,
            ..LogLine::default()
        };
        assert_eq!(
            mapped.to_json(),
            r#"{"method":"POST","path":"/groq/openai/v1/chat/completions","model":"meta-llama/Llama-3.1-8B-Instruct","provider":"groq","status":200,"duration_ms":0,"attempts":0,"hub_lookups":2}"#
        );
    }
}
