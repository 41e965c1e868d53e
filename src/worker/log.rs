//! The one structured log line per request. It names the model, status,
//! timing, cache and upstream; never the token and never the request body.

use crate::protocol::json::write_string;

/// What a request's log line says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogLine<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request path.
    pub path: &'a str,
    /// The model, once known.
    pub model: Option<&'a str>,
    /// Status answered.
    pub status: u16,
    /// A refusal's or failure's code.
    pub code: Option<&'a str>,
    /// Time from request to response headers.
    pub duration_ms: u64,
    /// `HIT` or `MISS` for cacheable models.
    pub cache: Option<&'a str>,
    /// The upstream's name, when one was called.
    pub upstream: Option<&'a str>,
    /// Upstream attempts made.
    pub attempts: u32,
    /// Upstream's x-compute-time, in milliseconds.
    pub compute_time_ms: Option<f64>,
}

impl LogLine<'_> {
    /// The line as compact JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"method\":");
        write_string(self.method, &mut out);
        out.push_str(",\"path\":");
        write_string(self.path, &mut out);
        let text = |out: &mut String, key: &str, value: Option<&str>| {
            if let Some(value) = value {
                out.push_str(&format!(",\"{key}\":"));
                write_string(value, out);
            }
        };
        text(&mut out, "model", self.model);
        out.push_str(&format!(",\"status\":{}", self.status));
        text(&mut out, "code", self.code);
        out.push_str(&format!(",\"duration_ms\":{}", self.duration_ms));
        text(&mut out, "cache", self.cache);
        text(&mut out, "upstream", self.upstream);
        out.push_str(&format!(",\"attempts\":{}", self.attempts));
        if let Some(ms) = self.compute_time_ms {
            // Whole microseconds: enough precision without float formatting noise.
            out.push_str(&format!(
                ",\"compute_time_ms\":{}",
                (ms * 1000.0).round() / 1000.0
            ));
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::json::Json;

    #[test]
    fn a_full_line_is_json() {
        let line = LogLine {
            method: "POST",
            path: "/models/gpt2",
            model: Some("gpt2"),
            status: 200,
            code: None,
            duration_ms: 42,
            cache: Some("MISS"),
            upstream: Some("router"),
            attempts: 2,
            compute_time_ms: Some(16.0),
        };
        assert_eq!(
            line.to_json(),
            r#"{"method":"POST","path":"/models/gpt2","model":"gpt2","status":200,"duration_ms":42,"cache":"MISS","upstream":"router","attempts":2,"compute_time_ms":16}"#
        );
        let refused = LogLine {
            method: "POST",
            path: "/models/\"x",
            status: 403,
            code: Some("FORBIDDEN"),
            ..LogLine::default()
        };
        let parsed = Json::parse(&refused.to_json()).unwrap();
        assert_eq!(parsed.get("path").unwrap().as_str(), Some("/models/\"x"));
        assert_eq!(parsed.get("code").unwrap().as_str(), Some("FORBIDDEN"));
    }
}
