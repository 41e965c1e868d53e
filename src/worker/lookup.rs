//! The Hub look-ups of one isolate: a model's provider mapping fetched from
//! `HUB_URL` (through the attempt loop, with `HF_TOKEN`) and kept in the
//! isolate's [`HubCache`], and a provider's model id mapped back to the
//! allowed model it serves.

use std::rc::Rc;

use futures_util::future::join_all;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::forward::Forward;
use super::handler::{state, Settings};
use super::hub::{read_mappings, HubAnswer, HubCache, EXPAND_QUERY, MAX_LOOKUPS_PER_REQUEST};
use super::log::LogLine;
use super::patterns::any_matches;
use crate::client::transport::now_ms;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::{Error, ErrorCode};

/// A model's provider mapping as the Hub answered it, from the isolate's
/// cache when it holds a fresh answer (`true`) or fetched now (`false`).
/// Non-2xx answers come back as answers; `Err` only when none came
/// (TIMEOUT, NETWORK) or it could not be read.
pub(super) async fn mapping(
    settings: &Settings,
    model: &str,
    retry: RetryConfig,
    line: &mut LogLine,
) -> Result<(HubAnswer, bool), Error> {
    if let Some(answer) = settings.hub_cache.borrow_mut().answer(model, now_ms()) {
        return Ok((answer, true));
    }
    let state = state();
    let forward = Forward {
        upstreams: &settings.hub,
        random: &state.random,
        retry,
        timeout_ms: settings.config.upstream_timeout_ms,
        path: format!("/api/models/{model}?{EXPAND_QUERY}"),
        headers: vec![("accept".to_owned(), "application/json".to_owned())],
        body: JsValue::UNDEFINED,
        whole: true,
    };
    let response = forward.run(line).await?;
    // Already read whole: the answer is a string in JavaScript memory.
    let unread = || {
        Error::new(
            ErrorCode::UpstreamError,
            "the proxy could not read the Hub's answer",
        )
    };
    let text = JsFuture::from(response.text().map_err(|_| unread())?)
        .await
        .map_err(|_| unread())?
        .as_string()
        .unwrap_or_default();
    let content_type = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let status = response.status();
    let mappings = if status == 200 {
        read_mappings(&text).unwrap_or_default()
    } else {
        Vec::new()
    };
    let answer = HubAnswer {
        status,
        content_type,
        body: Rc::from(text),
    };
    settings
        .hub_cache
        .borrow_mut()
        .store(model, answer.clone(), &mappings, now_ms());
    Ok((answer, false))
}

/// Attempts per look-up made to map a provider id back: several may run
/// for one request, each a subrequest of it.
const MAP_BACK_ATTEMPTS: u32 = 2;

/// The allowed model that `provider` serves as `provider_id`: found among
/// the isolate's fresh Hub answers, else after looking up the models
/// [`HubCache::to_look_up`] names (at once, at most
/// [`MAX_LOOKUPS_PER_REQUEST`]). 403 FORBIDDEN when none maps to it; when a
/// look-up failed and none mapped, that failure (the proxy cannot tell).
pub(super) async fn map_back(
    settings: &Settings,
    provider: &str,
    provider_id: &str,
    line: &mut LogLine,
) -> Result<String, Error> {
    let allowed = &settings.config.allowed_models;
    let found = |cache: &mut HubCache| {
        cache
            .model_for(provider, provider_id, now_ms())
            .filter(|model| any_matches(allowed, model))
    };
    if let Some(model) = found(&mut settings.hub_cache.borrow_mut()) {
        return Ok(model);
    }
    let models = settings.hub_cache.borrow().to_look_up(
        allowed,
        provider_id,
        MAX_LOOKUPS_PER_REQUEST,
        now_ms(),
    );
    line.hub_lookups = models.len() as u32;
    let retry = RetryConfig {
        max_attempts: MAP_BACK_ATTEMPTS,
        ..settings.retry
    };
    let looked = join_all(models.iter().map(|model| async move {
        let outcome = mapping(settings, model, retry, &mut LogLine::default()).await;
        (model, outcome)
    }))
    .await;
    if let Some(model) = found(&mut settings.hub_cache.borrow_mut()) {
        return Ok(model);
    }
    let failure = looked.into_iter().find_map(|(model, outcome)| {
        let problem = match outcome {
            Err(error) => error.message().to_owned(),
            Ok((answer, _)) if !super::hub::is_kept(answer.status) => {
                format!("it answered {}", answer.status)
            }
            Ok(_) => return None,
        };
        Some(format!("the Hub look-up of {model} failed ({problem})"))
    });
    Err(match failure {
        Some(failure) => Error::new(
            ErrorCode::UpstreamError,
            format!("the proxy could not map {provider}'s model {provider_id} back to a Hugging Face model: {failure}"),
        )
        .with_status(502),
        None => Error::new(
            ErrorCode::Forbidden,
            format!(
                "{provider}'s model {provider_id} maps back to no model allowed by this proxy (ALLOWED_MODELS); a model allowed only by a pattern maps back once it is looked up at GET /api/models/{{model}}?{EXPAND_QUERY}"
            ),
        )
        .with_status(403),
    })
}
