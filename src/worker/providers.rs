//! Inference providers: `ALLOWED_PROVIDERS`, the provider a chat or images
//! request names (its model's `:provider` suffix, or the router's own
//! choice), and the provider routes the proxy serves. Pure functions.

use crate::protocol::error::{Error, ErrorCode};

/// `ALLOWED_PROVIDERS` when unset.
pub const DEFAULT_ALLOWED_PROVIDERS: &str = "hf-inference,auto";

/// The name that stands for the router's own choice of provider.
pub const AUTO: &str = "auto";

/// Suffixes that ask the router to choose (`model:fastest`): judged as `auto`.
pub const ROUTER_POLICIES: [&str; 2] = ["fastest", "cheapest"];

/// Longest provider name accepted.
const MAX_PROVIDER_CHARS: usize = 64;

/// What follows `/{provider}/` on the provider routes served, for every
/// provider (the reference client's routes: completions, images,
/// embeddings, chat).
pub const PROVIDER_ROUTES: [&str; 4] = [
    "v1/chat/completions",
    "v1/completions",
    "v1/embeddings",
    "v1/images/generations",
];

/// groq's chat route, served for groq only.
pub const GROQ_CHAT: &str = "openai/v1/chat/completions";

/// Whether `name` can be a provider name: ASCII letters, digits, `-` and
/// `_`, 1 to 64 of them (so it is safe in a URL path and a log line).
pub fn is_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PROVIDER_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The route `rest` of a provider, as served, or `None` when it is none of
/// the provider routes.
pub fn provider_route(provider: &str, rest: &str) -> Option<&'static str> {
    if provider == "groq" && rest == GROQ_CHAT {
        return Some(GROQ_CHAT);
    }
    PROVIDER_ROUTES.iter().copied().find(|r| *r == rest)
}

/// Which providers requests may reach (`ALLOWED_PROVIDERS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderRule {
    /// `*`: every provider, and the router's choice.
    Any,
    /// These names; `auto` among them allows the router's choice.
    List(Vec<String>),
}

impl ProviderRule {
    /// Reads a comma list of provider names, `auto` and `*`. The error is
    /// the CONFIG message (the value is not secret, so it is shown).
    pub fn parse(list: &str) -> Result<ProviderRule, String> {
        let mut names = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return Ok(ProviderRule::Any);
            }
            if !is_provider_name(name) {
                return Err(format!(
                    "ALLOWED_PROVIDERS entries must be provider names like together, auto or *; {name:?} is not"
                ));
            }
            names.push(name.to_owned());
        }
        if names.is_empty() {
            return Err("ALLOWED_PROVIDERS is set but lists no provider".to_owned());
        }
        Ok(ProviderRule::List(names))
    }

    /// Whether `provider` (a provider name or `auto`) is allowed.
    pub fn allows(&self, provider: &str) -> bool {
        match self {
            ProviderRule::Any => true,
            ProviderRule::List(names) => names.iter().any(|n| n == provider),
        }
    }

    /// Judges a provider route's provider: 403 FORBIDDEN naming it when it
    /// is not allowed.
    pub fn check_route(&self, provider: &str) -> Result<(), Error> {
        if self.allows(provider) {
            return Ok(());
        }
        Err(forbidden(format!(
            "provider {provider} is not allowed by this proxy (ALLOWED_PROVIDERS)"
        )))
    }

    /// Judges the provider a chat or images model (already checked, as
    /// `owner/name[:suffix]`) asks for and returns it: its suffix, or `auto`
    /// when it has none. A router policy (`:fastest`, `:cheapest`) leaves the
    /// choice to the router, as no suffix does, and is judged as `auto`.
    pub fn check_model(&self, model: &str) -> Result<String, Error> {
        let Some((_, suffix)) = model.split_once(':') else {
            return if self.allows(AUTO) {
                Ok(AUTO.to_owned())
            } else {
                Err(forbidden(format!(
                    "provider auto is not allowed by this proxy (ALLOWED_PROVIDERS): a model without a :provider suffix leaves the choice to the router; name one of the allowed providers ({})",
                    self.listed()
                )))
            };
        };
        let judged = if ROUTER_POLICIES.contains(&suffix) {
            AUTO
        } else {
            suffix
        };
        if self.allows(judged) {
            return Ok(suffix.to_owned());
        }
        Err(forbidden(if judged == suffix {
            format!("provider {suffix} is not allowed by this proxy (ALLOWED_PROVIDERS)")
        } else {
            format!("provider {suffix} (the router's choice, judged as auto) is not allowed by this proxy (ALLOWED_PROVIDERS)")
        }))
    }

    fn listed(&self) -> String {
        match self {
            ProviderRule::Any => "*".to_owned(),
            ProviderRule::List(names) => names.join(", "),
        }
    }
}

fn forbidden(message: String) -> Error {
    Error::new(ErrorCode::Forbidden, message).with_status(403)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(list: &str) -> ProviderRule {
        ProviderRule::parse(list).unwrap()
    }

    #[test]
    fn lists_and_their_mistakes() {
        assert_eq!(
            rule(DEFAULT_ALLOWED_PROVIDERS),
            ProviderRule::List(vec!["hf-inference".into(), "auto".into()])
        );
        assert_eq!(
            rule(" together , groq ,"),
            ProviderRule::List(vec!["together".into(), "groq".into()])
        );
        assert_eq!(rule("together, *"), ProviderRule::Any);
        for (list, message) in [
            (
                "together, fal ai",
                "ALLOWED_PROVIDERS entries must be provider names like together, auto or *; \"fal ai\" is not",
            ),
            (
                "together/v1",
                "ALLOWED_PROVIDERS entries must be provider names like together, auto or *; \"together/v1\" is not",
            ),
            (" , ", "ALLOWED_PROVIDERS is set but lists no provider"),
        ] {
            assert_eq!(ProviderRule::parse(list).unwrap_err(), message, "{list}");
        }
    }

    #[test]
    fn provider_routes() {
        assert_eq!(
            provider_route("together", "v1/images/generations"),
            Some("v1/images/generations")
        );
        assert_eq!(
            provider_route("scaleway", "v1/embeddings"),
            Some("v1/embeddings")
        );
        assert_eq!(provider_route("groq", GROQ_CHAT), Some(GROQ_CHAT));
        assert_eq!(provider_route("together", GROQ_CHAT), None);
        for rest in [
            "",
            "v1",
            "v1/models",
            "models/gpt2",
            "v1/chat/completions/x",
        ] {
            assert_eq!(provider_route("together", rest), None, "{rest}");
        }
        assert!(is_provider_name("fireworks-ai") && is_provider_name("hf_inference"));
        for bad in ["", "a.b", "a b", "ä", &"p".repeat(65)] {
            assert!(!is_provider_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn routes_name_the_refused_provider() {
        let list = rule("hf-inference,together");
        assert_eq!(list.check_route("together"), Ok(()));
        let e = list.check_route("groq").unwrap_err();
        assert_eq!(
            (e.code(), e.status(), e.message()),
            (
                ErrorCode::Forbidden,
                Some(403),
                "provider groq is not allowed by this proxy (ALLOWED_PROVIDERS)"
            )
        );
        assert_eq!(rule("*").check_route("groq"), Ok(()));
    }

    #[test]
    fn chat_suffixes_and_the_routers_choice() {
        let default = rule(DEFAULT_ALLOWED_PROVIDERS);
        assert_eq!(
            default
                .check_model("meta-llama/Llama-3.1-8B-Instruct")
                .as_deref(),
            Ok("auto")
        );
        assert_eq!(
            default.check_model("gpt2:hf-inference").as_deref(),
            Ok("hf-inference")
        );
        assert_eq!(
            default.check_model("gpt2:fastest").as_deref(),
            Ok("fastest")
        );
        assert_eq!(default.check_model("gpt2:auto").as_deref(), Ok("auto"));
        let e = default.check_model("gpt2:together").unwrap_err();
        assert_eq!(
            (e.code(), e.status(), e.message()),
            (
                ErrorCode::Forbidden,
                Some(403),
                "provider together is not allowed by this proxy (ALLOWED_PROVIDERS)"
            )
        );
        let pinned = rule("together");
        assert_eq!(
            pinned.check_model("gpt2:together").as_deref(),
            Ok("together")
        );
        assert_eq!(
            pinned.check_model("gpt2").unwrap_err().message(),
            "provider auto is not allowed by this proxy (ALLOWED_PROVIDERS): a model without a :provider suffix leaves the choice to the router; name one of the allowed providers (together)"
        );
        assert_eq!(
            pinned.check_model("gpt2:cheapest").unwrap_err().message(),
            "provider cheapest (the router's choice, judged as auto) is not allowed by this proxy (ALLOWED_PROVIDERS)"
        );
        assert_eq!(rule("*").check_model("gpt2").as_deref(), Ok("auto"));
    }
}
