//! The options of a client and of one call: endpoints, retries, timeouts,
//! headers, signals and the attempt observer.

use std::rc::Rc;

use web_sys::AbortSignal;

use crate::policy::retry::RetryConfig;
use crate::protocol::error::{Error, ErrorCode};
use crate::protocol::model::validate_endpoint_url;
use crate::protocol::provider::check_providers;
use crate::protocol::token::Token;

/// One endpoint of a list: a base URL, with its own token, weight and name.
///
/// ```ignore
/// let hf = InferenceClient::builder()
///     .endpoints([
///         Endpoint::new("https://router.huggingface.co/hf-inference").name("router").weight(3.0),
///         Endpoint::new("https://my-proxy.example.com").name("proxy"),
///     ])
///     .build()?;
/// ```
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub(crate) url: String,
    pub(crate) token: Option<String>,
    pub(crate) dedicated: bool,
    pub(crate) weight: f64,
    pub(crate) name: Option<String>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("dedicated", &self.dedicated)
            .field("weight", &self.weight)
            .field("name", &self.name)
            .finish()
    }
}

impl Endpoint {
    /// An endpoint at `url` (task calls go to `{url}/models/{model}`, chat
    /// calls to `{url}/chat/completions`).
    pub fn new(url: impl Into<String>) -> Endpoint {
        Endpoint {
            url: url.into(),
            token: None,
            dedicated: false,
            weight: 1.0,
            name: None,
        }
    }

    /// A token for this endpoint only (it wins over the client's).
    pub fn token(mut self, token: impl Into<String>) -> Endpoint {
        self.token = Some(token.into());
        self
    }

    /// `url` is one model's own endpoint (an Inference Endpoint), called as is.
    pub fn dedicated(mut self, dedicated: bool) -> Endpoint {
        self.dedicated = dedicated;
        self
    }

    /// Relative share of traffic among healthy endpoints (default 1).
    pub fn weight(mut self, weight: f64) -> Endpoint {
        self.weight = weight;
        self
    }

    /// The name attempt reports use (default: the URL).
    pub fn name(mut self, name: impl Into<String>) -> Endpoint {
        self.name = Some(name.into());
        self
    }
}

/// An endpoint once checked: what an attempt to it needs.
#[derive(Clone, Debug)]
pub(crate) struct EndpointTarget {
    pub url: String,
    pub name: String,
    pub token: Option<Token>,
    pub dedicated: bool,
    pub weight: f64,
}

impl EndpointTarget {
    /// Checks `endpoint`; errors name `argument` (`endpoint[1]`) and its
    /// field, or only `argument` for a lone URL (`endpoint`).
    pub fn check(endpoint: &Endpoint, argument: &str, lone: bool) -> Result<EndpointTarget, Error> {
        let url_argument = if lone {
            argument.to_owned()
        } else {
            format!("{argument}.url")
        };
        validate_endpoint_url(&endpoint.url, &url_argument)?;
        if !(endpoint.weight.is_finite() && endpoint.weight > 0.0) {
            return Err(Error::invalid_input(
                &format!("{argument}.weight"),
                "must be a positive number",
            ));
        }
        let token = endpoint
            .token
            .as_deref()
            .map(|t| Token::named(t, &format!("{argument}.token")))
            .transpose()?;
        Ok(EndpointTarget {
            name: endpoint
                .name
                .clone()
                .unwrap_or_else(|| endpoint.url.clone()),
            url: endpoint.url.clone(),
            token,
            dedicated: endpoint.dedicated,
            weight: endpoint.weight,
        })
    }

    /// The default endpoint of a route.
    pub fn default_at(url: &str) -> EndpointTarget {
        EndpointTarget {
            url: url.to_owned(),
            name: url.to_owned(),
            token: None,
            dedicated: false,
            weight: 1.0,
        }
    }
}

/// When failed attempts are tried again. Fields left `None` keep the
/// client's setting, else the defaults: 4 attempts, 500 ms base, 10 s cap,
/// 60 s deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryOptions {
    /// Attempts in all, the first included (1 to 100).
    pub max_attempts: Option<u32>,
    /// Upper bound of the first backoff (full jitter); doubles per retry.
    pub base_delay_ms: Option<u64>,
    /// Upper bound of any backoff; also caps a loading model's estimate.
    pub max_delay_ms: Option<u64>,
    /// Nothing runs past this long after the call began.
    pub deadline_ms: Option<u64>,
}

impl RetryOptions {
    /// Checks the ranges; errors name `argument.field`.
    pub(crate) fn check(&self, argument: &str) -> Result<(), Error> {
        if self.max_attempts.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(Error::invalid_input(
                &format!("{argument}.maxAttempts"),
                "must be a whole number from 1 to 100",
            ));
        }
        if self.deadline_ms == Some(0) {
            return Err(Error::invalid_input(
                &format!("{argument}.deadlineMs"),
                "must be a number of milliseconds",
            ));
        }
        Ok(())
    }

    /// `self` over `base`: the fields given here win.
    fn over(self, base: RetryOptions) -> RetryOptions {
        RetryOptions {
            max_attempts: self.max_attempts.or(base.max_attempts),
            base_delay_ms: self.base_delay_ms.or(base.base_delay_ms),
            max_delay_ms: self.max_delay_ms.or(base.max_delay_ms),
            deadline_ms: self.deadline_ms.or(base.deadline_ms),
        }
    }

    fn config(self) -> RetryConfig {
        let default = RetryConfig::default();
        RetryConfig {
            max_attempts: self.max_attempts.unwrap_or(default.max_attempts),
            base_delay_ms: self.base_delay_ms.unwrap_or(default.base_delay_ms),
            max_delay_ms: self.max_delay_ms.unwrap_or(default.max_delay_ms),
            deadline_ms: self.deadline_ms.unwrap_or(default.deadline_ms),
        }
    }
}

/// Retries on (with these options) or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    On(RetryOptions),
    Off,
}

/// What `on_attempt` is told after every attempt.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptInfo {
    /// The endpoint's name, or its URL.
    pub endpoint: String,
    /// 1 for the first attempt of the call.
    pub attempt: u32,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The failure's code, when the attempt failed.
    pub code: Option<ErrorCode>,
    /// The wait chosen before the next attempt, when there is one.
    pub delay_ms: Option<u64>,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// Upstream's compute time (`x-compute-time`), in milliseconds.
    pub compute_time_ms: Option<u64>,
    /// Upstream's `x-request-id`.
    pub request_id: Option<String>,
    /// The provider that served it (`x-inference-provider`), or the one a
    /// provider list sent it to.
    pub provider: Option<String>,
    /// What a proxy that accounts for usage counted it as costing, in USD
    /// (its `x-usage-cost` header).
    pub cost_usd: Option<f64>,
}

/// Observes attempts; what it does cannot change the call's outcome.
pub(crate) type Observer = Rc<dyn Fn(&AttemptInfo)>;

/// Options of one call; a client's options are their defaults. Signals add
/// up (the client's and the call's both abort), headers are merged by name
/// (the call's win), retry fields given here override the client's.
///
/// ```ignore
/// let options = CallOptions::new().timeout_ms(5_000).retry(RetryOptions {
///     max_attempts: Some(2),
///     ..RetryOptions::default()
/// });
/// hf.text_classification(model, "hi").options(options).await?;
/// ```
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) signals: Vec<AbortSignal>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) retry: Option<Retry>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) on_attempt: Option<Observer>,
    pub(crate) provider: Option<Vec<String>>,
}

impl core::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Header values may hold credentials of the caller's: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("CallOptions")
            .field("signals", &self.signals.len())
            .field("timeout_ms", &self.timeout_ms)
            .field("retry", &self.retry)
            .field("headers", &names)
            .field("on_attempt", &self.on_attempt.is_some())
            .field("provider", &self.provider)
            .finish()
    }
}

impl CallOptions {
    /// No options of its own: the client's apply.
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    /// Aborts the call at once, also while it waits between attempts
    /// (code `ABORTED`).
    pub fn signal(mut self, signal: AbortSignal) -> CallOptions {
        self.signals.push(signal);
        self
    }

    /// Limit of one attempt, in milliseconds (code `TIMEOUT`, retried like
    /// a failure).
    pub fn timeout_ms(mut self, ms: u64) -> CallOptions {
        self.timeout_ms = Some(ms);
        self
    }

    /// Retry settings; fields left `None` keep the client's.
    pub fn retry(mut self, retry: RetryOptions) -> CallOptions {
        self.retry = Some(Retry::On(retry));
        self
    }

    /// One attempt only.
    pub fn no_retry(mut self) -> CallOptions {
        self.retry = Some(Retry::Off);
        self
    }

    /// An extra request header (checked when the call starts).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> CallOptions {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Called after every attempt with what happened.
    pub fn on_attempt(mut self, observer: impl Fn(&AttemptInfo) + 'static) -> CallOptions {
        self.on_attempt = Some(Rc::new(observer));
        self
    }

    /// The provider of the call: `"hf-inference"` (the default of tasks,
    /// never asking the Hub), `"auto"` (the first live provider the Hub maps
    /// the model to for the task), or a provider's name.
    pub fn provider(self, name: impl Into<String>) -> CallOptions {
        self.providers([name.into()])
    }

    /// Providers tried in order: a retryable failure or a 402 from one sends
    /// the next attempt to the next, under the same retry budget.
    pub fn providers(mut self, names: impl IntoIterator<Item = String>) -> CallOptions {
        self.provider = Some(names.into_iter().collect());
        self
    }

    /// Whether no option is set (such a call may share another's request).
    pub(crate) fn is_empty(&self) -> bool {
        self.signals.is_empty()
            && self.timeout_ms.is_none()
            && self.retry.is_none()
            && self.headers.is_empty()
            && self.on_attempt.is_none()
            && self.provider.is_none()
    }

    /// Checks the options; errors name `argument` (`options`, `callOptions`).
    pub(crate) fn check(&self, argument: &str) -> Result<(), Error> {
        if self
            .timeout_ms
            .is_some_and(|ms| ms == 0 || ms > u64::from(u32::MAX))
        {
            return Err(Error::invalid_input(
                &format!("{argument}.timeoutMs"),
                "must be a positive number of milliseconds",
            ));
        }
        if let Some(Retry::On(retry)) = &self.retry {
            retry.check(&format!("{argument}.retry"))?;
        }
        if let Some(names) = &self.provider {
            check_providers(names, &format!("{argument}.provider"))?;
        }
        if let Some(name) = invalid_header(&self.headers) {
            return Err(Error::invalid_input(
                &format!("{argument}.headers.{name}"),
                "is not a valid HTTP header name or value",
            ));
        }
        Ok(())
    }

    /// These options over the client's `defaults`, resolved for a call.
    pub(crate) fn over(&self, defaults: &Resolved) -> Resolved {
        let mut resolved = defaults.clone();
        for signal in &self.signals {
            resolved.signals.push(signal.clone());
        }
        if self.timeout_ms.is_some() {
            resolved.timeout_ms = self.timeout_ms;
        }
        match (self.retry, resolved.retry) {
            (Some(Retry::Off), _) => resolved.retry = Retry::Off,
            (Some(Retry::On(mine)), Retry::On(base)) => resolved.retry = Retry::On(mine.over(base)),
            (Some(Retry::On(mine)), Retry::Off) => resolved.retry = Retry::On(mine),
            (None, _) => {}
        }
        for (name, value) in &self.headers {
            resolved.set_header(name, value);
        }
        if self.on_attempt.is_some() {
            resolved.on_attempt = self.on_attempt.clone();
        }
        if self.provider.is_some() {
            resolved.provider = self.provider.clone();
        }
        resolved
    }
}

/// The name of the first header `fetch` itself would refuse, if any: the
/// runtime's `Headers` refuses what is not a token name or a field value.
fn invalid_header(headers: &[(String, String)]) -> Option<&str> {
    if headers.is_empty() {
        return None;
    }
    let checker = web_sys::Headers::new().ok();
    let refused = |name: &str, value: &str| {
        checker
            .as_ref()
            .is_none_or(|h| h.append(name, value).is_err())
    };
    headers
        .iter()
        .find(|(name, value)| refused(name, value))
        .map(|(name, _)| name.as_str())
}

/// The options a call runs with: the client's, with the call's own over them.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub signals: Vec<AbortSignal>,
    pub timeout_ms: Option<u64>,
    pub retry: Retry,
    /// Names lower-cased; one entry per name.
    pub headers: Vec<(String, String)>,
    pub on_attempt: Option<Observer>,
    pub provider: Option<Vec<String>>,
}

impl Default for Resolved {
    fn default() -> Resolved {
        Resolved {
            signals: Vec::new(),
            timeout_ms: None,
            retry: Retry::On(RetryOptions::default()),
            headers: Vec::new(),
            on_attempt: None,
            provider: None,
        }
    }
}

impl Resolved {
    /// The retry settings of the call.
    pub fn retry_config(&self) -> RetryConfig {
        match self.retry {
            Retry::On(options) => options.config(),
            Retry::Off => RetryConfig::disabled(),
        }
    }

    /// Sets a header, replacing one of the same name (names are
    /// case-insensitive).
    pub fn set_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        // Replaced in place, keeping its place in the request: every header
        // comes through here, so each name has one entry.
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value.to_owned(),
            None => self.headers.push((name, value.to_owned())),
        }
    }
}

/// Micro-batching of single-text `text_classification` calls: those made on
/// one model within `window_ms` go as one request of up to `max_size` texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// How long a batch waits for company after its first text (0 to 10,000 ms).
    pub window_ms: u32,
    /// The most texts in one request (1 to 256).
    pub max_size: usize,
}

impl Default for BatchOptions {
    fn default() -> BatchOptions {
        BatchOptions {
            window_ms: 10,
            max_size: 32,
        }
    }
}

impl BatchOptions {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.window_ms > 10_000 {
            return Err(Error::invalid_input(
                "batch.windowMs",
                "must be a whole number from 0 to 10000",
            ));
        }
        if !(1..=256).contains(&self.max_size) {
            return Err(Error::invalid_input(
                "batch.maxSize",
                "must be a whole number from 1 to 256",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_options_override_the_clients() {
        let mut defaults = Resolved::default();
        defaults.set_header("X-Trace", "t1");
        defaults.retry = Retry::On(RetryOptions {
            max_attempts: Some(5),
            base_delay_ms: Some(10),
            ..RetryOptions::default()
        });
        let call = CallOptions::new()
            .header("x-trace", "t2")
            .header("X-Other", "o")
            .retry(RetryOptions {
                base_delay_ms: Some(1),
                ..RetryOptions::default()
            })
            .timeout_ms(300);
        let resolved = call.over(&defaults);
        assert_eq!(
            resolved.headers,
            [
                ("x-trace".to_owned(), "t2".to_owned()),
                ("x-other".to_owned(), "o".to_owned())
            ]
        );
        let config = resolved.retry_config();
        assert_eq!((config.max_attempts, config.base_delay_ms), (5, 1));
        assert_eq!(resolved.timeout_ms, Some(300));
        assert_eq!(
            CallOptions::new().no_retry().over(&defaults).retry_config(),
            RetryConfig::disabled()
        );
        assert!(CallOptions::new().is_empty() && !call.is_empty());
    }

    #[test]
    fn debug_prints_never_show_a_token() {
        let endpoint = Endpoint::new("https://a").token("hf_secretInEndpoint");
        let builder = crate::InferenceClient::builder()
            .token("hf_secretInBuilder")
            .endpoints([endpoint.clone()]);
        let shown = format!("{endpoint:?} {builder:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn bad_options_are_named() {
        let bad = CallOptions::new().retry(RetryOptions {
            max_attempts: Some(0),
            ..RetryOptions::default()
        });
        assert_eq!(
            bad.check("options").unwrap_err().message(),
            "options.retry.maxAttempts: must be a whole number from 1 to 100"
        );
        let endpoint = Endpoint::new("https://a").weight(0.0);
        assert_eq!(
            EndpointTarget::check(&endpoint, "endpoint[0]", false)
                .unwrap_err()
                .message(),
            "endpoint[0].weight: must be a positive number"
        );
        assert_eq!(
            BatchOptions {
                window_ms: 10,
                max_size: 0
            }
            .check()
            .unwrap_err()
            .message(),
            "batch.maxSize: must be a whole number from 1 to 256"
        );
    }
}
