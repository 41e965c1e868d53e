//! The proxy's settings, read from the Worker's environment and checked on
//! every request: a missing or malformed setting is a CONFIG error naming the
//! variable, never a default that opens the proxy.

use crate::protocol::error::{Error, ErrorCode};
use crate::protocol::model::{validate_endpoint_url, ROUTER_CHAT, ROUTER_TASKS};
use crate::protocol::token::Token;

use super::patterns::ModelPattern;

/// Where task calls go when `UPSTREAMS` is not set.
pub const DEFAULT_UPSTREAM: &str = ROUTER_TASKS;
/// Where chat calls go when `CHAT_UPSTREAMS` is not set.
pub const DEFAULT_CHAT_UPSTREAM: &str = ROUTER_CHAT;

/// One upstream the proxy forwards to.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Base URL.
    pub url: String,
    /// Relative share of traffic.
    pub weight: f64,
    /// What logs call it.
    pub name: String,
    /// Its own token (from the secret named by `tokenVar`), else `HF_TOKEN`.
    pub token: Option<Token>,
}

/// Which browser origins may call the proxy (its own origin always may).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginRule {
    /// Any origin (`*`).
    Any,
    /// These origins, as `scheme://host[:port]`.
    List(Vec<String>),
}

impl OriginRule {
    /// Whether a browser request from `origin` to a worker at `own` is allowed.
    pub fn allows(&self, origin: &str, own: &str) -> bool {
        origin == own
            || match self {
                OriginRule::Any => true,
                OriginRule::List(list) => list.iter().any(|o| o == origin),
            }
    }
}

/// Every setting of the proxy.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// `HF_TOKEN`.
    pub token: Token,
    /// `ALLOWED_MODELS`.
    pub allowed_models: Vec<ModelPattern>,
    /// `ALLOWED_ORIGINS`.
    pub allowed_origins: OriginRule,
    /// `UPSTREAMS`.
    pub upstreams: Vec<Upstream>,
    /// `CHAT_UPSTREAMS`.
    pub chat_upstreams: Vec<Upstream>,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: u64,
    /// `RATE_LIMIT_PER_MINUTE` (used without a `LIMITER` binding).
    pub rate_limit_per_minute: u32,
    /// `UPSTREAM_TIMEOUT_MS`.
    pub upstream_timeout_ms: u64,
    /// `CACHE_MODELS` (empty: nothing cached).
    pub cache_models: Vec<ModelPattern>,
    /// `CACHE_TTL_SECONDS`.
    pub cache_ttl_seconds: u32,
    /// `CLIENT_KEYS`, when set.
    pub client_keys: Option<ClientKeys>,
    /// `BILL_TO`.
    pub bill_to: Option<String>,
}

/// The keys clients must present in `x-api-key`. Debug never prints them.
#[derive(Clone)]
pub struct ClientKeys(Vec<String>);

impl ClientKeys {
    /// Which of the keys `presented` is, if any: every key is compared, each
    /// in constant time, so the answer takes as long whichever matches.
    pub fn position(&self, presented: &str) -> Option<usize> {
        self.0.iter().enumerate().fold(None, |found, (index, key)| {
            let equal = constant_time_eq(key.as_bytes(), presented.as_bytes());
            found.or(equal.then_some(index))
        })
    }
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKeys([{} redacted])", self.0.len())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn config_error(message: String) -> Error {
    Error::new(ErrorCode::Config, message)
}

/// Reads a whole number setting within `range`, or its default when unset.
fn number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, Error> {
    match get(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                config_error(format!(
                    "{name} must be a whole number from {} to {} (it is {value:?})",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

/// Reads `UPSTREAMS`-style settings: a URL, or a JSON array of
/// `{url, weight?, name?, tokenVar?}`.
fn upstreams(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: &str,
) -> Result<Vec<Upstream>, Error> {
    let value = get(name).unwrap_or_else(|| default.to_owned());
    let value = value.trim();
    let bad = |problem: &str| config_error(format!("{name} {problem}"));
    if !value.starts_with('[') {
        validate_endpoint_url(value, name)
            .map_err(|e| bad(&format!("must be a URL or a JSON array ({})", e.message())))?;
        return Ok(vec![Upstream {
            url: value.to_owned(),
            weight: 1.0,
            name: value.to_owned(),
            token: None,
        }]);
    }
    let json: serde_json::Value =
        serde_json::from_str(value).map_err(|e| bad(&format!("is not valid JSON ({e})")))?;
    let items = json
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("must be a non-empty JSON array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let url = item
                .get("url")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad(&format!("[{i}] needs a \"url\" string")))?;
            validate_endpoint_url(url, "url").map_err(|e| bad(&format!("[{i}].{}", e.message())))?;
            let weight = match item.get("weight") {
                None => 1.0,
                Some(w) => w
                    .as_f64()
                    .filter(|w| w.is_finite() && *w > 0.0)
                    .ok_or_else(|| bad(&format!("[{i}].weight must be a positive number")))?,
            };
            let token = match item.get("tokenVar") {
                None => None,
                Some(var) => {
                    let var = var.as_str().ok_or_else(|| bad(&format!("[{i}].tokenVar must be a string")))?;
                    let secret = get(var).ok_or_else(|| {
                        config_error(format!("{var} is not set (named by {name}[{i}].tokenVar): run `wrangler secret put {var}`"))
                    })?;
                    Some(Token::new(&secret).map_err(|_| config_error(format!("{var} is not a usable token")))?)
                }
            };
            Ok(Upstream {
                url: url.to_owned(),
                weight,
                name: item.get("name").and_then(serde_json::Value::as_str).unwrap_or(url).to_owned(),
                token,
            })
        })
        .collect()
}

fn origins(value: Option<String>) -> Result<OriginRule, Error> {
    let Some(value) = value else {
        return Ok(OriginRule::List(Vec::new()));
    };
    let mut list = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin == "*" {
            return Ok(OriginRule::Any);
        }
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.contains('/')) {
            return Err(config_error(format!(
                "ALLOWED_ORIGINS entries must be origins like https://app.example.com (no path); {origin:?} is not"
            )));
        }
        list.push(origin.to_owned());
    }
    Ok(OriginRule::List(list))
}

impl ProxyConfig {
    /// Reads every setting through `get` (the Worker's env; `None` when unset
    /// or empty). Secrets are never part of an error message.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<ProxyConfig, Error> {
        let token = get("HF_TOKEN").ok_or_else(|| {
            config_error("HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`".to_owned())
        })?;
        let token = Token::new(&token)
            .map_err(|_| config_error("HF_TOKEN is not a usable token".to_owned()))?;
        let allowed_models = get("ALLOWED_MODELS")
            .and_then(|list| ModelPattern::parse_list(&list))
            .ok_or_else(|| {
                config_error("ALLOWED_MODELS is not set: list the models this proxy serves, e.g. \"google/*,gpt2\"".to_owned())
            })?;
        let client_keys = match get("CLIENT_KEYS") {
            None => None,
            Some(list) => {
                let keys: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect();
                if keys.is_empty() {
                    return Err(config_error(
                        "CLIENT_KEYS is set but lists no key".to_owned(),
                    ));
                }
                Some(ClientKeys(keys))
            }
        };
        // Sent as a header on every upstream call: refused here rather than
        // failing each request.
        let bill_to = get("BILL_TO").map(|b| b.trim().to_owned());
        if bill_to
            .as_deref()
            .is_some_and(|b| b.chars().any(|c| c.is_control() || !c.is_ascii()))
        {
            return Err(config_error(
                "BILL_TO must be an organisation name (printable ASCII)".to_owned(),
            ));
        }
        Ok(ProxyConfig {
            token,
            allowed_models,
            allowed_origins: origins(get("ALLOWED_ORIGINS"))?,
            upstreams: upstreams(get, "UPSTREAMS", DEFAULT_UPSTREAM)?,
            chat_upstreams: upstreams(get, "CHAT_UPSTREAMS", DEFAULT_CHAT_UPSTREAM)?,
            max_body_bytes: number(get, "MAX_BODY_BYTES", 10_485_760, 1..=104_857_600)?,
            rate_limit_per_minute: number(get, "RATE_LIMIT_PER_MINUTE", 60, 1..=1_000_000)? as u32,
            upstream_timeout_ms: number(get, "UPSTREAM_TIMEOUT_MS", 30_000, 100..=600_000)?,
            cache_models: get("CACHE_MODELS")
                .and_then(|l| ModelPattern::parse_list(&l))
                .unwrap_or_default(),
            cache_ttl_seconds: number(get, "CACHE_TTL_SECONDS", 300, 1..=31_536_000)? as u32,
            client_keys,
            bill_to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<ProxyConfig, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyConfig::from_env(&|name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [("HF_TOKEN", "hf_secretvalue"), ("ALLOWED_MODELS", "gpt2")];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<ProxyConfig, Error> {
        let mut vars = BASE.to_vec();
        vars.extend_from_slice(extra);
        read(&vars)
    }

    #[test]
    fn defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.upstreams[0].url, DEFAULT_UPSTREAM);
        assert_eq!(c.chat_upstreams[0].url, DEFAULT_CHAT_UPSTREAM);
        assert_eq!(
            (
                c.max_body_bytes,
                c.rate_limit_per_minute,
                c.upstream_timeout_ms,
                c.cache_ttl_seconds
            ),
            (10_485_760, 60, 30_000, 300)
        );
        assert_eq!(c.allowed_origins, OriginRule::List(vec![]));
        assert!(c.cache_models.is_empty() && c.client_keys.is_none() && c.bill_to.is_none());
    }

    #[test]
    fn bill_to_must_be_a_header_value() {
        assert_eq!(
            with(&[("BILL_TO", " acme ")]).unwrap().bill_to.as_deref(),
            Some("acme")
        );
        let err = with(&[("BILL_TO", "ac\nme")]).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::Config,
                "BILL_TO must be an organisation name (printable ASCII)"
            )
        );
    }

    #[test]
    fn missing_required_settings_are_named() {
        let err = read(&[("ALLOWED_MODELS", "gpt2")]).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::Config,
                "HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`"
            )
        );
        let err = read(&[("HF_TOKEN", "hf_x")]).unwrap_err();
        assert!(
            err.message().starts_with("ALLOWED_MODELS is not set"),
            "{}",
            err.message()
        );
        let err = read(&[("HF_TOKEN", "hf_x"), ("ALLOWED_MODELS", " , ")]).unwrap_err();
        assert!(err.message().starts_with("ALLOWED_MODELS is not set"));
    }

    #[test]
    fn malformed_settings_are_named_and_never_defaulted() {
        for (name, value, words) in [
            (
                "MAX_BODY_BYTES",
                "10MB",
                "MAX_BODY_BYTES must be a whole number from 1 to 104857600 (it is \"10MB\")",
            ),
            (
                "RATE_LIMIT_PER_MINUTE",
                "0",
                "RATE_LIMIT_PER_MINUTE must be a whole number",
            ),
            (
                "UPSTREAM_TIMEOUT_MS",
                "-5",
                "UPSTREAM_TIMEOUT_MS must be a whole number",
            ),
            (
                "CACHE_TTL_SECONDS",
                "forever",
                "CACHE_TTL_SECONDS must be a whole number",
            ),
            (
                "UPSTREAMS",
                "router.huggingface.co",
                "UPSTREAMS must be a URL or a JSON array",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":1}]",
                "UPSTREAMS [0] needs a \"url\" string",
            ),
            ("UPSTREAMS", "[", "UPSTREAMS is not valid JSON"),
            (
                "UPSTREAMS",
                "[]",
                "UPSTREAMS must be a non-empty JSON array",
            ),
            (
                "CHAT_UPSTREAMS",
                "[{\"url\":\"https://a\",\"weight\":0}]",
                "CHAT_UPSTREAMS [0].weight must be a positive number",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"https://a\",\"tokenVar\":\"OTHER_TOKEN\"}]",
                "OTHER_TOKEN is not set (named by UPSTREAMS[0].tokenVar)",
            ),
            (
                "ALLOWED_ORIGINS",
                "app.example.com",
                "ALLOWED_ORIGINS entries must be origins",
            ),
            (
                "ALLOWED_ORIGINS",
                "https://a.com/path",
                "ALLOWED_ORIGINS entries must be origins",
            ),
            ("CLIENT_KEYS", ",", "CLIENT_KEYS is set but lists no key"),
        ] {
            let err = with(&[(name, value)]).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Config);
            assert!(
                err.message().starts_with(words),
                "{name}={value}: {}",
                err.message()
            );
            assert!(!err.message().contains("hf_secretvalue"));
        }
    }

    #[test]
    fn upstream_lists_and_their_tokens() {
        let c = with(&[
            ("UPSTREAMS", r#"[{"url":"https://a.example","weight":3,"name":"a"},{"url":"https://b.example","tokenVar":"B_TOKEN"}]"#),
            ("B_TOKEN", "hf_btoken"),
        ])
        .unwrap();
        assert_eq!(c.upstreams.len(), 2);
        assert_eq!(
            (c.upstreams[0].name.as_str(), c.upstreams[0].weight),
            ("a", 3.0)
        );
        assert!(c.upstreams[0].token.is_none());
        assert_eq!(
            c.upstreams[1].token.as_ref().unwrap().authorization(),
            "Bearer hf_btoken"
        );
        assert_eq!(c.upstreams[1].name, "https://b.example");
    }

    #[test]
    fn origins_and_keys() {
        let c = with(&[
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("CLIENT_KEYS", "k1, k2"),
        ])
        .unwrap();
        assert!(c
            .allowed_origins
            .allows("http://localhost:5173", "https://proxy.example"));
        assert!(c
            .allowed_origins
            .allows("https://proxy.example", "https://proxy.example"));
        assert!(!c
            .allowed_origins
            .allows("https://evil.example", "https://proxy.example"));
        let keys = c.client_keys.unwrap();
        let found: Vec<_> = ["k1", "k2", "k3", "", "k1 "]
            .iter()
            .map(|k| keys.position(k))
            .collect();
        assert_eq!(found, [Some(0), Some(1), None, None, None]);
        assert_eq!(format!("{keys:?}"), "ClientKeys([2 redacted])");
        assert!(with(&[("ALLOWED_ORIGINS", "*")])
            .unwrap()
            .allowed_origins
            .allows("https://any.example", "x"));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let c = with(&[("CLIENT_KEYS", "supersecretkey")]).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hf_secretvalue") && !shown.contains("supersecretkey"),
            "{shown}"
        );
    }
}
