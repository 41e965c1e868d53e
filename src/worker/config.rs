//! The proxy's settings, read from the Worker's environment and checked once
//! per isolate (the handler keeps them): a missing or malformed setting is a
//! CONFIG error naming the variable, never a default that opens the proxy.

use crate::client::options::EndpointTarget;
use crate::client::Endpoint;
use crate::protocol::error::{Error, ErrorCode};
use crate::protocol::model::{ROUTER_CHAT, ROUTER_TASKS};
use crate::protocol::token::Token;

use super::keys::ClientKeys;
use super::patterns::ModelPattern;
use super::providers::{ProviderRule, DEFAULT_ALLOWED_PROVIDERS};
use super::usage::budgets::Budgets;
use super::usage::prices::Prices;

/// Where task calls go when `UPSTREAMS` is not set.
pub const DEFAULT_UPSTREAM: &str = ROUTER_TASKS;
/// Where chat calls go when `CHAT_UPSTREAMS` is not set.
pub const DEFAULT_CHAT_UPSTREAM: &str = ROUTER_CHAT;
/// Where provider calls go when `ROUTER_UPSTREAMS` is not set: the router's
/// root, under which each provider has its routes (`/together/v1/...`).
pub const DEFAULT_ROUTER_UPSTREAM: &str = crate::protocol::provider::ROUTER;
/// Where provider mappings are looked up when `HUB_URL` is not set.
pub const DEFAULT_HUB_URL: &str = crate::protocol::provider::HUB;

/// A setting as the Worker's environment holds it. wrangler passes a
/// `[vars]` string as a string, any other TOML value (a number, a boolean, a
/// table) as its JSON value; secrets are always strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    /// A string, as given (blank counts as unset).
    Text(String),
    /// A number, as JavaScript writes it (`10`, `10.5`, `1e+21`).
    Number(String),
    /// Any other value, named by its kind: `a boolean`, `an object`, ...
    Other(&'static str),
}

/// The environment as the settings are read from it.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<Setting>);

impl Vars<'_> {
    /// A setting, strings trimmed; `None` when unset or blank.
    fn get(&self, name: &str) -> Option<Setting> {
        match (self.0)(name)? {
            Setting::Text(text) => {
                let text = text.trim();
                (!text.is_empty()).then(|| Setting::Text(text.to_owned()))
            }
            other => Some(other),
        }
    }

    /// A string setting; `None` when unset. A number or any other value is
    /// malformed, not unset. The value is never shown: a string setting may
    /// be a secret (`HF_TOKEN`, `CLIENT_KEYS`), and this message is the
    /// answer's body.
    fn text(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Setting::Text(text)) => Ok(Some(text)),
            Some(Setting::Number(_)) => Err(config_error(format!(
                "{name} must be a string (it is a number)"
            ))),
            Some(Setting::Other(kind)) => Err(config_error(format!(
                "{name} must be a string (it is {kind})"
            ))),
        }
    }

    /// A whole number setting within `range`, written as a string or a
    /// number, or `default` when unset.
    fn number(
        &self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, Error> {
        let (parsed, shown) = match self.get(name) {
            None => return Ok(default),
            Some(Setting::Text(text)) => (text.parse::<u64>().ok(), format!("{text:?}")),
            Some(Setting::Number(n)) => (n.parse::<u64>().ok(), n),
            Some(Setting::Other(kind)) => (None, kind.to_owned()),
        };
        parsed.filter(|n| range.contains(n)).ok_or_else(|| {
            config_error(format!(
                "{name} must be a whole number from {} to {} (it is {shown})",
                range.start(),
                range.end()
            ))
        })
    }

    /// A secret holding a token.
    fn token(&self, name: &str, unset: impl FnOnce() -> String) -> Result<Token, Error> {
        let secret = self.text(name)?.ok_or_else(|| config_error(unset()))?;
        Token::new(&secret).map_err(|_| config_error(format!("{name} is not a usable token")))
    }

    /// A setting holding one URL (`default` when unset), checked as the
    /// client checks its endpoints; the endpoint sends `token`.
    fn url(&self, name: &str, default: &str, token: &Token) -> Result<EndpointTarget, Error> {
        let value = self.text(name)?.unwrap_or_else(|| default.to_owned());
        let mut target = EndpointTarget::check(&Endpoint::new(value.as_str()), name, true)
            .map_err(|e| config_error(e.message().to_owned()))?;
        target.token = Some(token.clone());
        Ok(target)
    }

    /// `UPSTREAMS`-style settings: a URL, or a JSON array of
    /// `{url, weight?, name?, tokenVar?}`; each endpoint gets its token here
    /// (its `tokenVar`'s, else `token`), once.
    fn upstreams(
        &self,
        name: &str,
        default: &str,
        token: &Token,
    ) -> Result<Vec<EndpointTarget>, Error> {
        let value = self.text(name)?.unwrap_or_else(|| default.to_owned());
        let bad = |problem: &str| config_error(format!("{name}{problem}"));
        // The one check of URL and weight the client's endpoints get too;
        // its INVALID_INPUT is a CONFIG error here.
        let check = |endpoint: &Endpoint, argument: &str, lone: bool| {
            EndpointTarget::check(endpoint, argument, lone)
                .map_err(|e| config_error(e.message().to_owned()))
        };
        if !value.starts_with('[') {
            let target = self
                .url(name, default, token)
                .map_err(|e| bad(&format!(" must be a URL or a JSON array ({})", e.message())))?;
            return Ok(vec![target]);
        }
        let items: Vec<serde_json::Value> = serde_json::from_str(&value)
            .map_err(|e| bad(&format!(" is not a valid JSON array ({e})")))?;
        if items.is_empty() {
            return Err(bad(" must be a non-empty JSON array"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let argument = format!("{name}[{i}]");
                let entry = upstream_entry(item, &argument)?;
                let mut endpoint = Endpoint::new(entry.url).weight(entry.weight);
                if let Some(label) = entry.name {
                    endpoint = endpoint.name(label);
                }
                let mut target = check(&endpoint, &argument, false)?;
                target.token = Some(match entry.token_var {
                    None => token.clone(),
                    Some(var) => self.token(&var, || {
                        format!("{var} is not set (named by {argument}.tokenVar): run `wrangler secret put {var}`")
                    })?,
                });
                Ok(target)
            })
            .collect()
    }
}

/// One entry of an `UPSTREAMS` array, its members' types checked.
struct UpstreamEntry {
    url: String,
    /// NaN when it is no number: the endpoint check refuses it as it
    /// refuses a non-positive one (and its text is never echoed).
    weight: f64,
    name: Option<String>,
    token_var: Option<String>,
}

/// The members an `UPSTREAMS` entry may have.
const UPSTREAM_KEYS: [&str; 4] = ["url", "weight", "name", "tokenVar"];

/// Reads one `UPSTREAMS` entry. A key it does not know (a misspelt
/// `tokenvar`) is refused, not ignored: ignoring it would send that upstream
/// `HF_TOKEN` instead. (By hand, not a serde derive: the derived reader was
/// 4.9 KB of the worker's wasm, measured 2026-12-01.)
fn upstream_entry(item: &serde_json::Value, argument: &str) -> Result<UpstreamEntry, Error> {
    let bad = |problem: &str| config_error(format!("{argument}{problem}"));
    let members = item
        .as_object()
        .ok_or_else(|| bad(" must be an object {url, weight?, name?, tokenVar?}"))?;
    if let Some(key) = members
        .keys()
        .find(|k| !UPSTREAM_KEYS.contains(&k.as_str()))
    {
        return Err(bad(&format!(
            " has an unknown member {key:?} (known: url, weight, name, tokenVar)"
        )));
    }
    let text = |key: &str| match members.get(key) {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| bad(&format!(".{key} must be a string"))),
    };
    Ok(UpstreamEntry {
        url: text("url")?.ok_or_else(|| bad(" needs a \"url\" string"))?,
        weight: members
            .get("weight")
            .map_or(1.0, |w| w.as_f64().unwrap_or(f64::NAN)),
        name: text("name")?,
        token_var: text("tokenVar")?,
    })
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
    /// `ALLOWED_MODELS`.
    pub allowed_models: Vec<ModelPattern>,
    /// `ALLOWED_ORIGINS`.
    pub allowed_origins: OriginRule,
    /// `UPSTREAMS`, each with its token (`HF_TOKEN` unless it names another).
    /// Crate-only, as the client's endpoint type is; the handler that reads
    /// them is built for wasm32 only.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) upstreams: Vec<EndpointTarget>,
    /// `CHAT_UPSTREAMS`, likewise.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) chat_upstreams: Vec<EndpointTarget>,
    /// `ROUTER_UPSTREAMS`, likewise: the router roots of provider routes.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) router_upstreams: Vec<EndpointTarget>,
    /// `HUB_URL`, with `HF_TOKEN` (the Hub answers gated and private models
    /// to a token that may see them).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) hub: EndpointTarget,
    /// `HUB_CACHE_TTL_SECONDS`: how long a Hub answer is kept per isolate.
    pub hub_cache_ttl_seconds: u32,
    /// `ALLOWED_PROVIDERS`.
    pub allowed_providers: ProviderRule,
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
    /// `CLIENT_KEYS`, when set: every request must present one of them.
    pub client_keys: Option<ClientKeys>,
    /// `BILL_TO`.
    pub bill_to: Option<String>,
    /// `PRICES` (the defaults when unset).
    pub prices: Prices,
    /// `BUDGETS`, when set: requests reserve their cost in the `USAGE`
    /// Durable Objects before they are forwarded.
    pub budgets: Option<Budgets>,
    /// `ADMIN_KEY` (a secret), when set: it opens `GET /usage`.
    pub admin_key: Option<AdminKey>,
}

/// The `ADMIN_KEY` secret. Deliberately without a `Debug` that shows it.
#[derive(Clone)]
pub struct AdminKey(pub String);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

fn config_error(message: String) -> Error {
    Error::new(ErrorCode::Config, message)
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
    /// Reads every setting through `get` (the Worker's env; `None` when
    /// unset). Secrets are never part of an error message.
    pub fn from_env(get: &dyn Fn(&str) -> Option<Setting>) -> Result<ProxyConfig, Error> {
        let vars = Vars(get);
        let token = vars.token("HF_TOKEN", || {
            "HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`".to_owned()
        })?;
        let allowed_models = vars
            .text("ALLOWED_MODELS")?
            .and_then(|list| ModelPattern::parse_list(&list))
            .ok_or_else(|| {
                config_error("ALLOWED_MODELS is not set: list the models this proxy serves, e.g. \"google/*,gpt2\"".to_owned())
            })?;
        let client_keys = vars
            .text("CLIENT_KEYS")?
            .map(|value| ClientKeys::parse(&value, &allowed_models))
            .transpose()
            .map_err(config_error)?;
        // Sent as a header on every upstream call: refused here rather than
        // failing each request.
        let bill_to = vars.text("BILL_TO")?;
        if bill_to
            .as_deref()
            .is_some_and(|b| b.chars().any(|c| c.is_control() || !c.is_ascii()))
        {
            return Err(config_error(
                "BILL_TO must be an organisation name (printable ASCII)".to_owned(),
            ));
        }
        let budgets = vars
            .text("BUDGETS")?
            .map(|text| Budgets::parse(&text))
            .transpose()?;
        // A budget for a name no client key has is a typo: it would cap nobody.
        if let Some(budgets) = &budgets {
            let names: Vec<&str> = client_keys.iter().flat_map(ClientKeys::names).collect();
            if let Some(name) = budgets.key_names().find(|name| !names.contains(name)) {
                return Err(config_error(format!(
                    "BUDGETS.keys names {name:?}, which is no client key's name (CLIENT_KEYS)"
                )));
            }
        }
        Ok(ProxyConfig {
            allowed_models,
            allowed_origins: origins(vars.text("ALLOWED_ORIGINS")?)?,
            upstreams: vars.upstreams("UPSTREAMS", DEFAULT_UPSTREAM, &token)?,
            chat_upstreams: vars.upstreams("CHAT_UPSTREAMS", DEFAULT_CHAT_UPSTREAM, &token)?,
            router_upstreams: vars.upstreams(
                "ROUTER_UPSTREAMS",
                DEFAULT_ROUTER_UPSTREAM,
                &token,
            )?,
            hub: vars.url("HUB_URL", DEFAULT_HUB_URL, &token)?,
            hub_cache_ttl_seconds: vars.number("HUB_CACHE_TTL_SECONDS", 300, 1..=86_400)? as u32,
            allowed_providers: ProviderRule::parse(
                vars.text("ALLOWED_PROVIDERS")?
                    .as_deref()
                    .unwrap_or(DEFAULT_ALLOWED_PROVIDERS),
            )
            .map_err(config_error)?,
            max_body_bytes: vars.number("MAX_BODY_BYTES", 10_485_760, 1..=104_857_600)?,
            rate_limit_per_minute: vars.number("RATE_LIMIT_PER_MINUTE", 60, 1..=1_000_000)? as u32,
            upstream_timeout_ms: vars.number("UPSTREAM_TIMEOUT_MS", 30_000, 100..=600_000)?,
            cache_models: vars
                .text("CACHE_MODELS")?
                .and_then(|l| ModelPattern::parse_list(&l))
                .unwrap_or_default(),
            cache_ttl_seconds: vars.number("CACHE_TTL_SECONDS", 300, 1..=31_536_000)? as u32,
            client_keys,
            bill_to,
            prices: vars
                .text("PRICES")?
                .map(|text| Prices::parse(&text))
                .transpose()?
                .unwrap_or_default(),
            budgets,
            admin_key: vars.text("ADMIN_KEY")?.map(AdminKey),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read_settings(vars: &[(&str, Setting)]) -> Result<ProxyConfig, Error> {
        let map: HashMap<String, Setting> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        ProxyConfig::from_env(&|name| map.get(name).cloned())
    }

    fn read(vars: &[(&str, &str)]) -> Result<ProxyConfig, Error> {
        let vars: Vec<(&str, Setting)> = vars
            .iter()
            .map(|(k, v)| (*k, Setting::Text(v.to_string())))
            .collect();
        read_settings(&vars)
    }

    const BASE: [(&str, &str); 2] = [("HF_TOKEN", "hf_secretvalue"), ("ALLOWED_MODELS", "gpt2")];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<ProxyConfig, Error> {
        let mut vars = BASE.to_vec();
        vars.extend_from_slice(extra);
        read(&vars)
    }

    fn with_setting(name: &str, value: Setting) -> Result<ProxyConfig, Error> {
        let mut vars: Vec<(&str, Setting)> = BASE
            .iter()
            .map(|(k, v)| (*k, Setting::Text(v.to_string())))
            .collect();
        vars.push((name, value));
        read_settings(&vars)
    }

    /// What an endpoint target says, its token as the header it sends.
    fn shown(targets: &[EndpointTarget]) -> Vec<(String, String, f64, String)> {
        targets
            .iter()
            .map(|t| {
                (
                    t.url.clone(),
                    t.name.clone(),
                    t.weight,
                    t.token
                        .as_ref()
                        .map(Token::authorization)
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    fn target(url: &str, name: &str, weight: f64, token: &str) -> (String, String, f64, String) {
        (url.into(), name.into(), weight, format!("Bearer {token}"))
    }

    #[test]
    fn defaults() {
        let c = with(&[("MAX_BODY_BYTES", "  "), ("BILL_TO", "")]).unwrap();
        assert_eq!(
            shown(&c.upstreams),
            [target(
                DEFAULT_UPSTREAM,
                DEFAULT_UPSTREAM,
                1.0,
                "hf_secretvalue"
            )]
        );
        assert_eq!(
            shown(&c.chat_upstreams),
            [target(
                DEFAULT_CHAT_UPSTREAM,
                DEFAULT_CHAT_UPSTREAM,
                1.0,
                "hf_secretvalue"
            )]
        );
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
        assert_eq!(
            shown(&c.router_upstreams),
            [target(
                DEFAULT_ROUTER_UPSTREAM,
                DEFAULT_ROUTER_UPSTREAM,
                1.0,
                "hf_secretvalue"
            )]
        );
        assert_eq!(
            shown(std::slice::from_ref(&c.hub)),
            [target(
                DEFAULT_HUB_URL,
                DEFAULT_HUB_URL,
                1.0,
                "hf_secretvalue"
            )]
        );
        assert_eq!(c.hub_cache_ttl_seconds, 300);
        assert_eq!(
            c.allowed_providers,
            ProviderRule::List(vec!["hf-inference".into(), "auto".into()])
        );
    }

    #[test]
    fn provider_settings() {
        let c = with(&[
            ("ALLOWED_PROVIDERS", "together, groq"),
            (
                "ROUTER_UPSTREAMS",
                r#"[{"url":"https://r1.example","name":"r1"},{"url":"https://r2.example","weight":2}]"#,
            ),
            ("HUB_URL", "http://127.0.0.1:9000"),
            ("HUB_CACHE_TTL_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(
            c.allowed_providers,
            ProviderRule::List(vec!["together".into(), "groq".into()])
        );
        assert_eq!(
            shown(&c.router_upstreams),
            [
                target("https://r1.example", "r1", 1.0, "hf_secretvalue"),
                target(
                    "https://r2.example",
                    "https://r2.example",
                    2.0,
                    "hf_secretvalue"
                ),
            ]
        );
        assert_eq!(c.hub.url, "http://127.0.0.1:9000");
        assert_eq!(c.hub_cache_ttl_seconds, 60);
        assert_eq!(
            with(&[("ALLOWED_PROVIDERS", "*")])
                .unwrap()
                .allowed_providers,
            ProviderRule::Any
        );
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
        let missing = |vars: &[(&str, &str)]| read(vars).unwrap_err().message().to_owned();
        assert_eq!(
            missing(&[("ALLOWED_MODELS", "gpt2")]),
            "HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`"
        );
        assert_eq!(
            missing(&[("HF_TOKEN", " "), ("ALLOWED_MODELS", "gpt2")]),
            "HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`"
        );
        let no_models =
            "ALLOWED_MODELS is not set: list the models this proxy serves, e.g. \"google/*,gpt2\"";
        assert_eq!(missing(&[("HF_TOKEN", "hf_x")]), no_models);
        assert_eq!(
            missing(&[("HF_TOKEN", "hf_x"), ("ALLOWED_MODELS", " , ")]),
            no_models
        );
    }

    #[test]
    fn malformed_settings_are_named_and_never_defaulted() {
        for (name, value, message) in [
            (
                "MAX_BODY_BYTES",
                "10MB",
                "MAX_BODY_BYTES must be a whole number from 1 to 104857600 (it is \"10MB\")",
            ),
            (
                "RATE_LIMIT_PER_MINUTE",
                "0",
                "RATE_LIMIT_PER_MINUTE must be a whole number from 1 to 1000000 (it is \"0\")",
            ),
            (
                "UPSTREAM_TIMEOUT_MS",
                "-5",
                "UPSTREAM_TIMEOUT_MS must be a whole number from 100 to 600000 (it is \"-5\")",
            ),
            (
                "CACHE_TTL_SECONDS",
                "forever",
                "CACHE_TTL_SECONDS must be a whole number from 1 to 31536000 (it is \"forever\")",
            ),
            (
                "UPSTREAMS",
                "router.huggingface.co",
                "UPSTREAMS must be a URL or a JSON array (UPSTREAMS: must start with https:// or http://)",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":1}]",
                "UPSTREAMS[0].url must be a string",
            ),
            (
                "UPSTREAMS",
                "[{\"weight\":2}]",
                "UPSTREAMS[0] needs a \"url\" string",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"https://a\",\"tokenvar\":\"B_TOKEN\"}]",
                "UPSTREAMS[0] has an unknown member \"tokenvar\" (known: url, weight, name, tokenVar)",
            ),
            (
                "UPSTREAMS",
                "[\"https://a\"]",
                "UPSTREAMS[0] must be an object {url, weight?, name?, tokenVar?}",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"https://a\",\"name\":7}]",
                "UPSTREAMS[0].name must be a string",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"https://a\",\"tokenVar\":false}]",
                "UPSTREAMS[0].tokenVar must be a string",
            ),
            (
                "UPSTREAMS",
                "[",
                "UPSTREAMS is not a valid JSON array (EOF while parsing a list at line 1 column 1)",
            ),
            (
                "UPSTREAMS",
                "[]",
                "UPSTREAMS must be a non-empty JSON array",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"ftp://a\"}]",
                "UPSTREAMS[0].url: must start with https:// or http://",
            ),
            (
                "CHAT_UPSTREAMS",
                "[{\"url\":\"https://a\",\"weight\":0}]",
                "CHAT_UPSTREAMS[0].weight: must be a positive number",
            ),
            (
                "CHAT_UPSTREAMS",
                "[{\"url\":\"https://a\",\"weight\":\"hf_secretvalue\"}]",
                "CHAT_UPSTREAMS[0].weight: must be a positive number",
            ),
            (
                "UPSTREAMS",
                "[{\"url\":\"https://a\",\"tokenVar\":\"OTHER_TOKEN\"}]",
                "OTHER_TOKEN is not set (named by UPSTREAMS[0].tokenVar): run `wrangler secret put OTHER_TOKEN`",
            ),
            (
                "ALLOWED_ORIGINS",
                "app.example.com",
                "ALLOWED_ORIGINS entries must be origins like https://app.example.com (no path); \"app.example.com\" is not",
            ),
            (
                "ALLOWED_ORIGINS",
                "https://a.com/path",
                "ALLOWED_ORIGINS entries must be origins like https://app.example.com (no path); \"https://a.com/path\" is not",
            ),
            ("CLIENT_KEYS", ",", "CLIENT_KEYS is set but lists no key"),
            (
                "CLIENT_KEYS",
                r#"[{"name":"app","sha256":"supersecretkey"}]"#,
                "CLIENT_KEYS[0].sha256 must be the key's SHA-256 as 64 hex digits (printf %s \"$KEY\" | sha256sum)",
            ),
            (
                "CLIENT_KEYS",
                r#"[{"name":"app","sha256":"9b346041bc9a49574eb2665b2ad2a0a3f9f9cce4e42f5d1f26deb8a256b5966a","models":["google/gemma-2b"]}]"#,
                "CLIENT_KEYS[0].models[0] names google/gemma-2b, which ALLOWED_MODELS does not allow",
            ),
            (
                "ALLOWED_PROVIDERS",
                "together;groq",
                "ALLOWED_PROVIDERS entries must be provider names like together, auto or *; \"together;groq\" is not",
            ),
            (
                "ALLOWED_PROVIDERS",
                ",",
                "ALLOWED_PROVIDERS is set but lists no provider",
            ),
            (
                "ROUTER_UPSTREAMS",
                "router.huggingface.co",
                "ROUTER_UPSTREAMS must be a URL or a JSON array (ROUTER_UPSTREAMS: must start with https:// or http://)",
            ),
            (
                "ROUTER_UPSTREAMS",
                "[{\"url\":\"https://a\",\"weight\":-1}]",
                "ROUTER_UPSTREAMS[0].weight: must be a positive number",
            ),
            (
                "HUB_URL",
                "huggingface.co",
                "HUB_URL: must start with https:// or http://",
            ),
            (
                "HUB_URL",
                "https://huggingface.co/?x=1",
                "HUB_URL: must not contain a query, a fragment or spaces",
            ),
            (
                "HUB_URL",
                "[\"https://huggingface.co\"]",
                "HUB_URL: must start with https:// or http://",
            ),
            (
                "HUB_CACHE_TTL_SECONDS",
                "0",
                "HUB_CACHE_TTL_SECONDS must be a whole number from 1 to 86400 (it is \"0\")",
            ),
        ] {
            let err = with(&[(name, value)]).unwrap_err();
            assert_eq!(
                (err.code(), err.message()),
                (ErrorCode::Config, message),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn numbers_are_read_by_their_text_and_other_kinds_are_malformed() {
        let number = |n: &str| Setting::Number(n.to_owned());
        let c = with_setting("RATE_LIMIT_PER_MINUTE", number("10")).unwrap();
        assert_eq!(c.rate_limit_per_minute, 10);
        let c = with_setting("UPSTREAM_TIMEOUT_MS", number("300")).unwrap();
        assert_eq!(c.upstream_timeout_ms, 300);
        for (name, value, message) in [
            (
                "RATE_LIMIT_PER_MINUTE",
                number("10.5"),
                "RATE_LIMIT_PER_MINUTE must be a whole number from 1 to 1000000 (it is 10.5)",
            ),
            (
                "MAX_BODY_BYTES",
                number("1e+21"),
                "MAX_BODY_BYTES must be a whole number from 1 to 104857600 (it is 1e+21)",
            ),
            (
                "CACHE_TTL_SECONDS",
                Setting::Other("a boolean"),
                "CACHE_TTL_SECONDS must be a whole number from 1 to 31536000 (it is a boolean)",
            ),
            (
                "ALLOWED_MODELS",
                number("5"),
                "ALLOWED_MODELS must be a string (it is a number)",
            ),
            (
                "UPSTREAMS",
                Setting::Other("an array"),
                "UPSTREAMS must be a string (it is an array)",
            ),
            (
                "HF_TOKEN",
                Setting::Other("null"),
                "HF_TOKEN must be a string (it is null)",
            ),
            (
                "CLIENT_KEYS",
                number("1234"),
                "CLIENT_KEYS must be a string (it is a number)",
            ),
            (
                "ALLOWED_PROVIDERS",
                Setting::Other("an array"),
                "ALLOWED_PROVIDERS must be a string (it is an array)",
            ),
            (
                "HUB_URL",
                Setting::Other("a boolean"),
                "HUB_URL must be a string (it is a boolean)",
            ),
        ] {
            let err = with_setting(name, value).unwrap_err();
            assert_eq!(
                (err.code(), err.message()),
                (ErrorCode::Config, message),
                "{name}"
            );
        }
    }

    #[test]
    fn upstream_lists_and_their_tokens() {
        let c = with(&[
            ("UPSTREAMS", r#"[{"url":"https://a.example","weight":3,"name":"a"},{"url":"https://b.example","tokenVar":"B_TOKEN"}]"#),
            ("B_TOKEN", " hf_btoken "),
            ("CHAT_UPSTREAMS", "https://chat.example/v1"),
        ])
        .unwrap();
        assert_eq!(
            shown(&c.upstreams),
            [
                target("https://a.example", "a", 3.0, "hf_secretvalue"),
                target("https://b.example", "https://b.example", 1.0, "hf_btoken"),
            ]
        );
        assert_eq!(
            shown(&c.chat_upstreams),
            [target(
                "https://chat.example/v1",
                "https://chat.example/v1",
                1.0,
                "hf_secretvalue"
            )]
        );
        assert!(c.upstreams.iter().all(|t| !t.dedicated));
        let err = with(&[
            (
                "UPSTREAMS",
                r#"[{"url":"https://b.example","tokenVar":"B_TOKEN"}]"#,
            ),
            ("B_TOKEN", "hf_\u{1}x"),
        ])
        .unwrap_err();
        assert_eq!(err.message(), "B_TOKEN is not a usable token");
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
            .map(|k| keys.find(k, &[0; 32]).map(|key| key.name().to_owned()))
            .collect();
        assert_eq!(
            found,
            [Some("key#0".into()), Some("key#1".into()), None, None, None]
        );
        assert_eq!(format!("{keys:?}"), "ClientKeys([2 redacted])");
        assert!(with(&[("ALLOWED_ORIGINS", "*")])
            .unwrap()
            .allowed_origins
            .allows("https://any.example", "x"));
    }

    #[test]
    fn json_client_keys_are_read_within_allowed_models() {
        // `printf %s key-one | sha256sum`
        let hash = "9b346041bc9a49574eb2665b2ad2a0a3f9f9cce4e42f5d1f26deb8a256b5966a";
        let value = format!(r#"[{{"name":"app","sha256":"{hash}","models":["gpt2"]}}]"#);
        let c = read(&[
            ("HF_TOKEN", "hf_secretvalue"),
            ("ALLOWED_MODELS", "gpt2"),
            ("CLIENT_KEYS", &value),
        ])
        .unwrap();
        let keys = c.client_keys.unwrap();
        let mut digest = [0u8; 32];
        for (byte, i) in digest.iter_mut().zip((0..64).step_by(2)) {
            *byte = u8::from_str_radix(&hash[i..i + 2], 16).unwrap();
        }
        let app = keys.find("key-one", &digest).unwrap();
        assert_eq!((app.name(), app.allows("gpt2")), ("app", true));
        let shown = format!("{keys:?}");
        assert_eq!(shown, "ClientKeys([1 redacted])");
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let c = with(&[
            ("CLIENT_KEYS", "supersecretkey"),
            (
                "UPSTREAMS",
                r#"[{"url":"https://b.example","tokenVar":"B_TOKEN"}]"#,
            ),
            ("B_TOKEN", "hf_othersecret"),
            ("ADMIN_KEY", "adm_secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [
            "hf_secretvalue",
            "supersecretkey",
            "hf_othersecret",
            "adm_secret",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Token([redacted])"), "{shown}");
    }

    #[test]
    fn usage_settings() {
        let c = with(&[
            ("CLIENT_KEYS", "k1,k2"),
            ("PRICES", r#"{"default_request_usd": 0.5}"#),
            ("BUDGETS", r#"{"keys": {"key#1": {"daily_usd": 2}}}"#),
            ("ADMIN_KEY", "adm"),
        ])
        .unwrap();
        assert_eq!(c.prices.default_request, 500_000);
        assert_eq!(c.budgets.unwrap().client_caps(Some("key#1")).len(), 1);
        assert_eq!(c.admin_key.map(|k| k.0), Some("adm".to_owned()));
        let unset = with(&[]).unwrap();
        assert!(unset.budgets.is_none() && unset.admin_key.is_none());
        // A budget for a name no key has is refused, naming the name.
        let err =
            with(&[("BUDGETS", r#"{"keys": {"mobile-app": {"daily_usd": 5}}}"#)]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Config);
        assert!(
            err.message().contains("\"mobile-app\""),
            "{}",
            err.message()
        );
        let err = with(&[("BUDGETS", "{")]).unwrap_err();
        assert!(err.message().contains("BUDGETS"), "{}", err.message());
    }
}
