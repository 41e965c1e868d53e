//! Client and call options read from JavaScript objects, checked once.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use super::coalesce::BatchConfig;
use super::convert::is_absent;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::InferenceError;
use crate::protocol::task::{validate_endpoint_url, Token};

/// Where task calls go by default.
pub const DEFAULT_ENDPOINT: &str = "https://router.huggingface.co/hf-inference";
/// Where chat calls go by default (an OpenAI-compatible base).
pub const DEFAULT_CHAT_ENDPOINT: &str = "https://router.huggingface.co/v1";

/// One place to send task calls.
pub struct Endpoint {
    /// Base URL (or the whole URL of a dedicated endpoint).
    pub url: String,
    /// A token for this endpoint only; the client's token otherwise.
    pub token: Option<Token>,
    /// `url` serves one model at its root (an Inference Endpoint).
    pub dedicated: bool,
    /// Relative share of traffic.
    pub weight: f64,
    /// What reports call it (its URL when unnamed).
    pub name: String,
}

impl Endpoint {
    fn at(url: String) -> Endpoint {
        Endpoint {
            name: url.clone(),
            url,
            token: None,
            dedicated: false,
            weight: 1.0,
        }
    }
}

/// Per-call settings; the client's are the defaults of each call.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Signals that abort the call (the client's and the call's).
    pub signals: Vec<AbortSignal>,
    /// Limit of one attempt.
    pub timeout_ms: Option<u64>,
    /// Extra request headers; later entries win.
    pub headers: Vec<(String, String)>,
    /// When and how often to try again.
    pub retry: RetryConfig,
    /// Called with an `AttemptInfo` after every attempt.
    pub on_attempt: Option<Function>,
}

/// Everything a client was built with.
pub struct ClientConfig {
    /// Task endpoints.
    pub endpoints: Vec<Endpoint>,
    /// OpenAI-compatible chat endpoints.
    pub chat_endpoints: Vec<Endpoint>,
    /// The client-wide token.
    pub token: Option<Token>,
    /// `X-HF-Bill-To`.
    pub bill_to: Option<String>,
    /// Defaults of every call.
    pub defaults: CallOptions,
    /// Identical deterministic calls in flight share one request (`dedupe`, default on).
    pub dedupe: bool,
    /// Micro-batching of single-text classification calls (`batch`, off by default).
    pub batch: Option<BatchConfig>,
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn object_arg<'a>(
    value: &'a JsValue,
    argument: &str,
) -> Result<Option<&'a Object>, InferenceError> {
    if is_absent(value) {
        return Ok(None);
    }
    match value.dyn_ref::<Object>() {
        Some(object) if !js_sys::Array::is_array(value) && !value.is_function() => Ok(Some(object)),
        _ => Err(InferenceError::invalid_input(argument, "must be an object")),
    }
}

fn optional_string(
    object: &JsValue,
    key: &str,
    argument: &str,
) -> Result<Option<String>, InferenceError> {
    let value = get(object, key);
    if is_absent(&value) {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| InferenceError::invalid_input(argument, "must be a string"))
}

/// Reads a token without ever putting its value into an error.
fn token_option(object: &JsValue, argument: &str) -> Result<Option<Token>, InferenceError> {
    optional_string(object, "token", argument)?
        .map(Token::new)
        .transpose()
        .map_err(|mut err| {
            err.message = err.message.replacen("token", argument, 1);
            err
        })
}

fn endpoint_list(
    value: &JsValue,
    argument: &str,
    default: &str,
) -> Result<Vec<Endpoint>, InferenceError> {
    if is_absent(value) {
        return Ok(vec![Endpoint::at(default.to_owned())]);
    }
    if let Some(url) = value.as_string() {
        validate_endpoint_url(&url, argument)?;
        return Ok(vec![Endpoint::at(url)]);
    }
    let array: &js_sys::Array = value.dyn_ref().ok_or_else(|| {
        InferenceError::invalid_input(
            argument,
            "must be a URL string or an array of {url, token?, dedicated?}",
        )
    })?;
    if array.length() == 0 {
        return Err(InferenceError::invalid_input(
            argument,
            "must not be an empty array",
        ));
    }
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = format!("{argument}[{i}]");
            object_arg(&item, &name)?.ok_or_else(|| {
                InferenceError::invalid_input(&name, "must be an object {url, token?}")
            })?;
            let url = optional_string(&item, "url", &format!("{name}.url"))?.ok_or_else(|| {
                InferenceError::invalid_input(&format!("{name}.url"), "is required")
            })?;
            validate_endpoint_url(&url, &format!("{name}.url"))?;
            let weight = match get(&item, "weight") {
                w if is_absent(&w) => 1.0,
                w => w
                    .as_f64()
                    .filter(|w| w.is_finite() && *w > 0.0)
                    .ok_or_else(|| {
                        InferenceError::invalid_input(
                            &format!("{name}.weight"),
                            "must be a positive number",
                        )
                    })?,
            };
            Ok(Endpoint {
                name: optional_string(&item, "name", &format!("{name}.name"))?
                    .unwrap_or_else(|| url.clone()),
                url,
                token: token_option(&item, &format!("{name}.token"))?,
                dedicated: get(&item, "dedicated").is_truthy(),
                weight,
            })
        })
        .collect()
}

/// Reads the call options of `value` on top of `defaults`.
pub fn call_options(
    value: &JsValue,
    defaults: &CallOptions,
    argument: &str,
) -> Result<CallOptions, InferenceError> {
    let mut options = defaults.clone();
    if object_arg(value, argument)?.is_none() {
        return Ok(options);
    }
    let signal = get(value, "signal");
    if !is_absent(&signal) {
        let signal = signal.dyn_into::<AbortSignal>().map_err(|_| {
            InferenceError::invalid_input(&format!("{argument}.signal"), "must be an AbortSignal")
        })?;
        options.signals.push(signal);
    }
    let timeout = get(value, "timeoutMs");
    if !is_absent(&timeout) {
        match timeout.as_f64() {
            Some(ms) if ms.is_finite() && ms >= 1.0 && ms <= f64::from(u32::MAX) => {
                options.timeout_ms = Some(ms as u64)
            }
            _ => {
                return Err(InferenceError::invalid_input(
                    &format!("{argument}.timeoutMs"),
                    "must be a positive number of milliseconds",
                ))
            }
        }
    }
    let retry = get(value, "retry");
    if retry.as_bool() == Some(false) {
        options.retry = RetryConfig::disabled();
    } else if !is_absent(&retry) {
        options.retry = retry_config(&retry, options.retry, &format!("{argument}.retry"))?;
    }
    let on_attempt = get(value, "onAttempt");
    if !is_absent(&on_attempt) {
        options.on_attempt = Some(on_attempt.dyn_into::<Function>().map_err(|_| {
            InferenceError::invalid_input(&format!("{argument}.onAttempt"), "must be a function")
        })?);
    }
    let headers = get(value, "headers");
    if let Some(headers) = object_arg(&headers, &format!("{argument}.headers"))? {
        for entry in Object::entries(headers).iter() {
            let pair: js_sys::Array = entry.unchecked_into();
            let name = pair.get(0).as_string().unwrap_or_default();
            let value = pair.get(1).as_string().ok_or_else(|| {
                InferenceError::invalid_input(
                    &format!("{argument}.headers.{name}"),
                    "must be a string",
                )
            })?;
            options
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            options.headers.push((name, value));
        }
    }
    Ok(options)
}

/// Reads `{maxAttempts?, baseDelayMs?, maxDelayMs?, deadlineMs?}` over `base`;
/// an unknown key is refused rather than silently ignored.
fn retry_config(
    value: &JsValue,
    base: RetryConfig,
    argument: &str,
) -> Result<RetryConfig, InferenceError> {
    let object = object_arg(value, argument)?
        .ok_or_else(|| InferenceError::invalid_input(argument, "must be false or an object"))?;
    let mut config = if base.max_attempts == 1 && base.deadline_ms == u64::MAX {
        RetryConfig::default()
    } else {
        base
    };
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        let name = format!("{argument}.{key}");
        let (slot, minimum): (&mut u64, f64) = match key.as_str() {
            "baseDelayMs" => (&mut config.base_delay_ms, 0.0),
            "maxDelayMs" => (&mut config.max_delay_ms, 0.0),
            "deadlineMs" => (&mut config.deadline_ms, 1.0),
            "maxAttempts" => {
                let n = get(value, &key)
                    .as_f64()
                    .filter(|n| n.fract() == 0.0 && (1.0..=100.0).contains(n));
                config.max_attempts = n.ok_or_else(|| {
                    InferenceError::invalid_input(&name, "must be a whole number from 1 to 100")
                })? as u32;
                continue;
            }
            _ => return Err(InferenceError::invalid_input(
                &name,
                "is not an option (expected maxAttempts, baseDelayMs, maxDelayMs or deadlineMs)",
            )),
        };
        let ms = get(value, &key)
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms >= minimum && *ms <= 9.0e15);
        *slot = ms.ok_or_else(|| {
            InferenceError::invalid_input(&name, "must be a number of milliseconds")
        })? as u64;
    }
    Ok(config)
}

/// Reads `batch: {windowMs, maxSize}`.
fn batch_config(value: &JsValue) -> Result<Option<BatchConfig>, InferenceError> {
    if is_absent(value) || value.as_bool() == Some(false) {
        return Ok(None);
    }
    object_arg(value, "batch")?.ok_or_else(|| {
        InferenceError::invalid_input("batch", "must be an object {windowMs, maxSize}")
    })?;
    // Integer bounds: formatting floats would add their whole machinery to the wasm.
    let number = |key: &str, low: u32, high: u32, default: u32| {
        let v = get(value, key);
        let n = if is_absent(&v) {
            Some(f64::from(default))
        } else {
            v.as_f64()
        };
        n.filter(|n| n.fract() == 0.0 && *n >= f64::from(low) && *n <= f64::from(high))
            .map(|n| n as u64)
            .ok_or_else(|| {
                InferenceError::invalid_input(
                    &format!("batch.{key}"),
                    &format!("must be a whole number from {low} to {high}"),
                )
            })
    };
    Ok(Some(BatchConfig {
        window_ms: number("windowMs", 0, 10_000, 10)?,
        max_size: number("maxSize", 1, 256, 32)? as usize,
    }))
}

impl ClientConfig {
    /// Reads `ClientOptions`.
    pub fn from_js(value: &JsValue) -> Result<ClientConfig, InferenceError> {
        if object_arg(value, "options")?.is_none() {
            return Ok(ClientConfig {
                endpoints: endpoint_list(&JsValue::UNDEFINED, "endpoint", DEFAULT_ENDPOINT)?,
                chat_endpoints: endpoint_list(
                    &JsValue::UNDEFINED,
                    "chatEndpoint",
                    DEFAULT_CHAT_ENDPOINT,
                )?,
                token: None,
                bill_to: None,
                defaults: CallOptions::default(),
                dedupe: true,
                batch: None,
            });
        }
        Ok(ClientConfig {
            endpoints: endpoint_list(&get(value, "endpoint"), "endpoint", DEFAULT_ENDPOINT)?,
            chat_endpoints: endpoint_list(
                &get(value, "chatEndpoint"),
                "chatEndpoint",
                DEFAULT_CHAT_ENDPOINT,
            )?,
            token: token_option(value, "token")?,
            bill_to: optional_string(value, "billTo", "billTo")?,
            defaults: call_options(value, &CallOptions::default(), "options")?,
            dedupe: get(value, "dedupe").as_bool() != Some(false),
            batch: batch_config(&get(value, "batch"))?,
        })
    }

    /// Whether any token was given (client-wide or on an endpoint).
    pub fn has_token(&self) -> bool {
        self.token.is_some()
            || self
                .endpoints
                .iter()
                .chain(&self.chat_endpoints)
                .any(|e| e.token.is_some())
    }
}
