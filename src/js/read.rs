//! Reading the caller's JavaScript arguments and options. Each option is
//! read by name and keeps its JS form until its type is checked here, so a
//! wrong one is refused with a message naming it (`options.retry.maxAttempts:
//! must be a whole number from 1 to 100`); the client's builder checks the
//! ranges the Rust API shares.

use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortSignal, Blob};

use crate::client::json::{safe_number, safe_some, Members};
use crate::client::options::Retry;
use crate::client::tasks::{Bytes, Params};
use crate::client::{
    AttemptInfo, BatchOptions, CallOptions, ClientBuilder, Endpoint, InferenceClient, RetryOptions,
};
use crate::protocol::document::Document;
use crate::protocol::error::Error;

/// The options of a client (and of a free function), as the JS API names
/// them, each kept in its JS form until it is checked below.
///
/// Read member by member with `Reflect.get` rather than by
/// serde-wasm-bindgen into a struct: the struct's deserializer was 4.6 KB of
/// the wasm for eleven lookups (docs/architecture.md).
struct JsOptions {
    token: JsValue,
    endpoint: JsValue,
    chat_endpoint: JsValue,
    bill_to: JsValue,
    dedupe: JsValue,
    batch: JsValue,
    router_url: JsValue,
    hub_url: JsValue,
    call: CallFields,
}

/// The options a call may have of its own (and a client, as their defaults).
struct CallFields {
    signal: JsValue,
    timeout_ms: JsValue,
    retry: JsValue,
    headers: JsValue,
    on_attempt: JsValue,
    provider: JsValue,
}

impl JsOptions {
    fn of(object: &JsValue) -> JsOptions {
        JsOptions {
            token: field(object, "token"),
            endpoint: field(object, "endpoint"),
            chat_endpoint: field(object, "chatEndpoint"),
            bill_to: field(object, "billTo"),
            dedupe: field(object, "dedupe"),
            batch: field(object, "batch"),
            router_url: field(object, "routerUrl"),
            hub_url: field(object, "hubUrl"),
            call: CallFields::of(object),
        }
    }
}

impl CallFields {
    fn of(object: &JsValue) -> CallFields {
        CallFields {
            signal: field(object, "signal"),
            timeout_ms: field(object, "timeoutMs"),
            retry: field(object, "retry"),
            headers: field(object, "headers"),
            on_attempt: field(object, "onAttempt"),
            provider: field(object, "provider"),
        }
    }
}

/// A member of an object argument (`undefined` when absent).
fn field(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn absent(value: &JsValue) -> bool {
    value.is_nullish()
}

/// A plain object (not an array, not a function).
fn is_plain_object(value: &JsValue) -> bool {
    Document::is_object(value)
}

fn string(value: &JsValue, argument: &str) -> Result<Option<String>, Error> {
    if absent(value) {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| Error::invalid_input(argument, "must be a string"))
}

/// An INVALID_INPUT error naming `argument.member` (one `format!` for all).
fn refuse(argument: &str, member: &str, problem: &str) -> Error {
    Error::invalid_input(&format!("{argument}.{member}"), problem)
}

/// Member `key` of `object` as an optional string; errors name `argument.key`.
fn member_string(object: &JsValue, argument: &str, key: &str) -> Result<Option<String>, Error> {
    let value = field(object, key);
    if absent(&value) {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| refuse(argument, key, "must be a string"))
}

/// `value` when it is an options object, `None` when absent.
fn options<'v>(value: &'v JsValue, argument: &str) -> Result<Option<&'v JsValue>, Error> {
    if absent(value) {
        return Ok(None);
    }
    if !is_plain_object(value) {
        return Err(Error::invalid_input(argument, "must be an object"));
    }
    Ok(Some(value))
}

/// A whole number in `low..=high`.
fn whole(value: &JsValue, low: f64, high: f64) -> Option<f64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (low..=high).contains(n))
}

fn endpoints(value: &JsValue, argument: &str) -> Result<Option<(Vec<Endpoint>, bool)>, Error> {
    if absent(value) {
        return Ok(None);
    }
    if let Some(url) = value.as_string() {
        return Ok(Some((vec![Endpoint::new(url)], false)));
    }
    let Some(items) = value.dyn_ref::<Array>() else {
        return Err(Error::invalid_input(
            argument,
            "must be a URL string or an array of {url, token?, dedicated?}",
        ));
    };
    if items.length() == 0 {
        return Err(Error::invalid_input(argument, "must not be an empty array"));
    }
    let mut list = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = format!("{argument}[{i}]");
        if !is_plain_object(&item) {
            return Err(Error::invalid_input(
                &name,
                "must be an object {url, token?}",
            ));
        }
        let url = member_string(&item, &name, "url")?
            .ok_or_else(|| refuse(&name, "url", "is required"))?;
        // Set in place, as `read` does the call options.
        let mut endpoint = Endpoint::new(url);
        endpoint.dedicated = field(&item, "dedicated").is_truthy();
        let weight = field(&item, "weight");
        if !absent(&weight) {
            // Its range is the builder's to check.
            let weight = weight
                .as_f64()
                .ok_or_else(|| refuse(&name, "weight", "must be a positive number"))?;
            endpoint.weight = weight;
        }
        endpoint.name = member_string(&item, &name, "name")?;
        endpoint.token = member_string(&item, &name, "token")?;
        list.push(endpoint);
    }
    Ok(Some((list, true)))
}

fn retry(value: &JsValue, argument: &str) -> Result<RetryOptions, Error> {
    if !is_plain_object(value) {
        return Err(Error::invalid_input(argument, "must be an object"));
    }
    let mut retry = RetryOptions::default();
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        let n = Reflect::get(value, &JsValue::from_str(&key)).unwrap_or(JsValue::UNDEFINED);
        let ms = |low: f64| {
            n.as_f64()
                .filter(|n| *n >= low && *n <= 9e15)
                .map(|n| n.trunc() as u64)
                .ok_or_else(|| refuse(argument, &key, "must be a number of milliseconds"))
        };
        match key.as_str() {
            "maxAttempts" => {
                let n = whole(&n, 1.0, 100.0).ok_or_else(|| {
                    refuse(argument, &key, "must be a whole number from 1 to 100")
                })?;
                retry.max_attempts = Some(n as u32);
            }
            "baseDelayMs" => retry.base_delay_ms = Some(ms(0.0)?),
            "maxDelayMs" => retry.max_delay_ms = Some(ms(0.0)?),
            "deadlineMs" => retry.deadline_ms = Some(ms(1.0)?),
            _ => return Err(refuse(
                argument,
                &key,
                "is not an option (expected maxAttempts, baseDelayMs, maxDelayMs or deadlineMs)",
            )),
        }
    }
    Ok(retry)
}

/// The object `onAttempt` gets: `{endpoint, attempt, status?, code?,
/// delayMs?, durationMs, computeTimeMs?, requestId?, provider?, costUsd?}`;
/// `undefined` when a duration is past `Number.MAX_SAFE_INTEGER`, as
/// serde-wasm-bindgen's serializer left it.
fn attempt_info(info: &AttemptInfo) -> Result<JsValue, ()> {
    let out = Members::new();
    out.text("endpoint", &info.endpoint);
    out.number("attempt", f64::from(info.attempt));
    out.some_number("status", info.status.map(f64::from));
    out.some_text("code", info.code.map(|c| c.as_str()));
    out.some_number("delayMs", safe_some(info.delay_ms)?);
    out.number("durationMs", safe_number(info.duration_ms)?);
    out.some_number("computeTimeMs", safe_some(info.compute_time_ms)?);
    out.some_text("requestId", info.request_id.as_deref());
    out.some_text("provider", info.provider.as_deref());
    out.some_number("costUsd", info.cost_usd);
    Ok(out.into_value())
}

fn observer(function: Function) -> impl Fn(&AttemptInfo) + 'static {
    move |info: &AttemptInfo| {
        let info = attempt_info(info).unwrap_or(JsValue::UNDEFINED);
        // An observer that throws changes nothing.
        let _ = function.call1(&JsValue::UNDEFINED, &info);
    }
}

impl CallFields {
    /// The call options these fields set, their types checked (their ranges
    /// are `CallOptions::check`'s); errors name `argument.field`.
    fn read(&self, argument: &str) -> Result<CallOptions, Error> {
        // Set member by member in place: each of the builder's by-value
        // setters would move the whole struct.
        let mut options = CallOptions::new();
        if !absent(&self.signal) {
            let signal = self
                .signal
                .dyn_ref::<AbortSignal>()
                .ok_or_else(|| refuse(argument, "signal", "must be an AbortSignal"))?;
            options.signals.push(signal.clone());
        }
        if !absent(&self.timeout_ms) {
            let ms = self.timeout_ms.as_f64().ok_or_else(|| {
                refuse(
                    argument,
                    "timeoutMs",
                    "must be a positive number of milliseconds",
                )
            })?;
            // Below 1 (or NaN) truncates to 0, past u32::MAX stays past it:
            // both refused by the check.
            options.timeout_ms = Some(ms.trunc() as u64);
        }
        if self.retry.as_bool() == Some(false) {
            options.retry = Some(Retry::Off);
        } else if !absent(&self.retry) {
            options.retry = Some(Retry::On(retry(&self.retry, &format!("{argument}.retry"))?));
        }
        if !absent(&self.on_attempt) {
            let function = self
                .on_attempt
                .dyn_ref::<Function>()
                .ok_or_else(|| refuse(argument, "onAttempt", "must be a function"))?;
            options.on_attempt = Some(Rc::new(observer(function.clone())));
        }
        if !absent(&self.provider) {
            let argument = format!("{argument}.provider");
            let names = match self.provider.as_string() {
                Some(name) => vec![name],
                None => crate::protocol::task::read_strings(
                    &self.provider,
                    &argument,
                    "must be a provider name or an array of them",
                )?,
            };
            options.provider = Some(names);
        }
        if !absent(&self.headers) {
            if !is_plain_object(&self.headers) {
                return Err(refuse(argument, "headers", "must be an object"));
            }
            for entry in Object::entries(self.headers.unchecked_ref()).iter() {
                let (name, value) = crate::client::json::pair_of(&entry);
                let name = name.as_string().unwrap_or_default();
                let value = value.as_string().ok_or_else(|| {
                    Error::invalid_input(&format!("{argument}.headers.{name}"), "must be a string")
                })?;
                options.headers.push((name, value));
            }
        }
        Ok(options)
    }
}

/// A call's own options (`callOptions`), when it has some, checked.
pub(crate) fn call_options(value: &JsValue) -> Result<Option<CallOptions>, Error> {
    let Some(object) = options(value, "callOptions")? else {
        return Ok(None);
    };
    let options = CallFields::of(object).read("callOptions")?;
    options.check("callOptions")?;
    Ok(Some(options))
}

/// A stream's call options: the caller's, and the stream's own signal that
/// `return()` aborts.
pub(crate) fn stream_options(value: &JsValue, cancel: AbortSignal) -> Result<CallOptions, Error> {
    Ok(call_options(value)?.unwrap_or_default().signal(cancel))
}

thread_local! {
    static TOKEN_WARNING_SHOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A client from the JS options; a token used in a page gets one console
/// warning, however many clients are made.
pub(crate) fn client(value: &JsValue) -> Result<InferenceClient, Error> {
    let Some(object) = options(value, "options")? else {
        return InferenceClient::builder().build();
    };
    let options = JsOptions::of(object);
    let mut builder: ClientBuilder = InferenceClient::builder();
    // Set in place, as `read` does the call options.
    if let Some((list, is_list)) = endpoints(&options.endpoint, "endpoint")? {
        builder.endpoints = Some(list);
        builder.endpoint_is_list = is_list;
    }
    if let Some((list, is_list)) = endpoints(&options.chat_endpoint, "chatEndpoint")? {
        builder.chat_endpoints = Some(list);
        builder.chat_is_list = is_list;
    }
    builder.token = string(&options.token, "token")?;
    builder.router_url = string(&options.router_url, "routerUrl")?;
    builder.hub_url = string(&options.hub_url, "hubUrl")?;
    builder.bill_to = string(&options.bill_to, "billTo")?;
    // Checked by `build`, with the rest.
    builder.options = options.call.read("options")?;
    if options.dedupe.as_bool() == Some(false) {
        builder.dedupe = Some(false);
    }
    if !absent(&options.batch) && options.batch.as_bool() != Some(false) {
        if !is_plain_object(&options.batch) {
            return Err(Error::invalid_input("batch", "must be an object"));
        }
        // Integers in messages: formatting an f64 would bring float
        // formatting into the wasm.
        let number = |value: &JsValue, key: &str, low: u32, high: u32, default: u32| {
            if absent(value) {
                return Ok(default);
            }
            whole(value, f64::from(low), f64::from(high))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    let problem = format!("must be a whole number from {low} to {high}");
                    refuse("batch", key, &problem)
                })
        };
        builder.batch = Some(BatchOptions {
            window_ms: number(
                &field(&options.batch, "windowMs"),
                "windowMs",
                0,
                10_000,
                10,
            )?,
            max_size: number(&field(&options.batch, "maxSize"), "maxSize", 1, 256, 32)? as usize,
        });
    }
    let client = builder.build()?;
    let in_page = Reflect::has(&js_sys::global(), &JsValue::from_str("document")).unwrap_or(false);
    if client.has_token() && in_page && !TOKEN_WARNING_SHOWN.with(|shown| shown.replace(true)) {
        web_sys::console::warn_1(&JsValue::from_str(
            "hf-inference-wasm: the access token given to InferenceClient is visible to anyone who can open this page. \
             Keep it server-side: deploy the proxy worker and set `endpoint` to its URL with no token.",
        ));
    }
    Ok(client)
}

/// The model argument of a task.
pub(crate) fn model(value: &JsValue) -> Result<String, Error> {
    value.as_string().ok_or_else(|| {
        Error::invalid_input(
            "model",
            "must be a string such as \"openai-community/gpt2\"",
        )
    })
}

/// Optional task parameters: a plain object, passed through untouched.
pub(crate) fn params(value: &JsValue) -> Result<Option<Params>, Error> {
    if absent(value) {
        return Ok(None);
    }
    if !is_plain_object(value) {
        return Err(Error::invalid_input(
            "params",
            "must be an object of task parameters",
        ));
    }
    Ok(Some(Params(value.clone())))
}

/// A generation prompt: one string (checked non-blank by the task).
pub(crate) fn prompt(value: &JsValue) -> Result<String, Error> {
    value
        .as_string()
        .ok_or_else(|| Error::invalid_input("prompt", "must be a non-empty string"))
}

/// Binary input: a `Blob`, an `ArrayBuffer` or a `Uint8Array` (a Node
/// `Buffer` is one); `None` for anything else.
pub(crate) fn bytes(value: &JsValue) -> Option<Bytes> {
    if value.is_instance_of::<Blob>() {
        // Read as a member: the string reading every member takes, where
        // `Blob::type_` would bring one more copy of the glue's.
        let own = field(value, "type").as_string().unwrap_or_default();
        return Some(Bytes {
            value: value.clone(),
            blob_type: (!own.is_empty()).then_some(own),
        });
    }
    (value.is_instance_of::<ArrayBuffer>() || value.is_instance_of::<Uint8Array>()).then(|| Bytes {
        value: value.clone(),
        blob_type: None,
    })
}

/// An image argument.
pub(crate) fn image(value: &JsValue) -> Result<Bytes, Error> {
    bytes(value).ok_or_else(|| {
        Error::invalid_input("image", "must be a Blob, an ArrayBuffer or a Uint8Array")
    })
}
