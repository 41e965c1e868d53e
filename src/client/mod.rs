//! The async client: [`InferenceClient`], built with
//! [`InferenceClient::builder`], calls Hugging Face through the runtime's
//! `fetch` (browsers, Web Workers, Node 20+, Cloudflare Workers), with
//! retries, failover between endpoints, in-flight de-duplication,
//! micro-batching and streams.
//!
//! ```ignore
//! use hf_inference_wasm::{InferenceClient, Label};
//!
//! let hf = InferenceClient::builder().token("hf_...").build()?;
//! let labels: Vec<Label> = hf
//!     .text_classification("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "I love it")
//!     .await?;
//! ```
//!
//! Its futures and streams are `!Send`, as every future that awaits a
//! JavaScript promise is: run them on the page's or worker's own thread
//! (`wasm_bindgen_futures::spawn_local`, or your framework's task spawner).

mod abort;
pub(crate) mod attempts;
mod batch;
pub(crate) mod call;
mod chat;
mod deadline;
mod dedupe;
pub(crate) mod json;
pub(crate) mod options;
mod params;
mod providers;
mod results;
pub(crate) mod stream;
pub(crate) mod tasks;
pub(crate) mod timer;
pub(crate) mod transport;

use std::cell::RefCell;
use std::rc::Rc;

use crate::policy::random::SplitMix64;
use crate::protocol::error::Error;
use crate::protocol::model::validate_endpoint_url;
use crate::protocol::provider;
use crate::protocol::token::Token;

use attempts::Route;
use options::{EndpointTarget, Resolved};

pub use chat::{
    ChatChoice, ChatChunkChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
    ChatDelta, ChatMessage, Usage,
};
pub use options::{AttemptInfo, BatchOptions, CallOptions, Endpoint, RetryOptions};
pub use params::{
    GenerationDetails, ImageClassificationParameters, StreamToken, TextClassificationParameters,
    TextGeneration, TextGenerationParameters, TextGenerationStreamChunk, ZeroShotParameters,
};
pub use results::{
    Answer, BoundingBox, Caption, Detection, Entity, Fill, GeneratedImage, ImageGeneration,
    Parameters, Segment, Summary, Transcription, Translation,
};
pub use stream::ChunkStream;
pub use tasks::{Call, QueryAnswer};

/// A Hugging Face inference client. Cheap to clone: clones share endpoints,
/// their health, and the calls in flight.
///
/// ```ignore
/// let hf = InferenceClient::builder()
///     .endpoint("https://my-proxy.example.com") // no token in a browser page
///     .timeout_ms(15_000)
///     .build()?;
/// let ranked = hf.zero_shot("facebook/bart-large-mnli", "Launch went great", &["marketing", "bug"]).await?;
/// ```
#[derive(Clone)]
pub struct InferenceClient {
    pub(crate) inner: Rc<Inner>,
}

impl core::fmt::Debug for InferenceClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let urls = |route: &Route| -> Vec<String> {
            route.targets.iter().map(|t| t.url.clone()).collect()
        };
        f.debug_struct("InferenceClient")
            .field("endpoints", &urls(&self.inner.tasks))
            .field("chat_endpoints", &urls(&self.inner.chat))
            .field("token", &self.inner.token)
            .finish_non_exhaustive()
    }
}

/// What every clone of a client shares.
pub(crate) struct Inner {
    pub tasks: Route,
    pub chat: Route,
    /// The router's base (provider routes go under it) and the Hub's.
    pub router_url: String,
    pub hub_url: String,
    /// The providers of what the Hub maps, per model (bounded).
    pub hub_cache: providers::HubCache,
    /// A route per list of providers, so their breakers outlive a call.
    pub provider_routes: providers::ProviderRoutes,
    pub token: Option<Token>,
    /// Every token of the client, for redaction.
    pub secrets: call::Secrets,
    pub bill_to: Option<String>,
    pub defaults: Resolved,
    pub dedupe: bool,
    pub batch: Option<BatchOptions>,
    pub random: RefCell<SplitMix64>,
    pub in_flight: Rc<dedupe::InFlight>,
    pub batches: Rc<batch::Batches>,
}

/// Builds an [`InferenceClient`]; every setting is checked by [`build`](ClientBuilder::build).
///
/// ```ignore
/// let hf = InferenceClient::builder()
///     .token("hf_...")
///     .endpoint("http://127.0.0.1:8080")
///     .retry(RetryOptions { max_attempts: Some(5), ..RetryOptions::default() })
///     .build()?;
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    // Set in place by the JS API's reading of its options (`js/read.rs`):
    // each by-value setter would move the whole builder.
    pub(crate) token: Option<String>,
    pub(crate) endpoints: Option<Vec<Endpoint>>,
    pub(crate) endpoint_is_list: bool,
    pub(crate) chat_endpoints: Option<Vec<Endpoint>>,
    pub(crate) chat_is_list: bool,
    pub(crate) router_url: Option<String>,
    pub(crate) hub_url: Option<String>,
    pub(crate) bill_to: Option<String>,
    pub(crate) options: CallOptions,
    pub(crate) dedupe: Option<bool>,
    pub(crate) batch: Option<BatchOptions>,
}

impl core::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("endpoints", &self.endpoints)
            .field("chat_endpoints", &self.chat_endpoints)
            .field("bill_to", &self.bill_to)
            .field("options", &self.options)
            .field("dedupe", &self.dedupe)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A Hugging Face access token, sent as `Authorization: Bearer`. Keep it
    /// out of browser pages: there, point `endpoint` at the proxy instead.
    pub fn token(mut self, token: impl Into<String>) -> ClientBuilder {
        self.token = Some(token.into());
        self
    }

    /// The base of task calls (default
    /// `https://router.huggingface.co/hf-inference`): calls go to
    /// `{url}/models/{model}`.
    pub fn endpoint(mut self, url: impl Into<String>) -> ClientBuilder {
        self.endpoints = Some(vec![Endpoint::new(url)]);
        self.endpoint_is_list = false;
        self
    }

    /// Several task endpoints, chosen by weight among the healthy ones.
    pub fn endpoints(mut self, endpoints: impl IntoIterator<Item = Endpoint>) -> ClientBuilder {
        self.endpoints = Some(endpoints.into_iter().collect());
        self.endpoint_is_list = true;
        self
    }

    /// The OpenAI-compatible base of chat calls (default
    /// `https://router.huggingface.co/v1`): calls go to `{url}/chat/completions`.
    pub fn chat_endpoint(mut self, url: impl Into<String>) -> ClientBuilder {
        self.chat_endpoints = Some(vec![Endpoint::new(url)]);
        self.chat_is_list = false;
        self
    }

    /// Several chat endpoints.
    pub fn chat_endpoints(
        mut self,
        endpoints: impl IntoIterator<Item = Endpoint>,
    ) -> ClientBuilder {
        self.chat_endpoints = Some(endpoints.into_iter().collect());
        self.chat_is_list = true;
        self
    }

    /// The router's base (default `https://router.huggingface.co`): provider
    /// calls go to `{url}/{provider}/...`, and the default `endpoint` and
    /// `chat_endpoint` are `{url}/hf-inference` and `{url}/v1`.
    pub fn router_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.router_url = Some(url.into());
        self
    }

    /// The Hub's base (default `https://huggingface.co`), asked which
    /// providers serve a model for `provider: "auto"` or a provider's name.
    pub fn hub_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.hub_url = Some(url.into());
        self
    }

    /// The default provider of calls (see [`CallOptions::provider`]).
    pub fn provider(mut self, name: impl Into<String>) -> ClientBuilder {
        self.options = self.options.provider(name);
        self
    }

    /// Default providers, tried in order (see [`CallOptions::providers`]).
    pub fn providers(mut self, names: impl IntoIterator<Item = String>) -> ClientBuilder {
        self.options = self.options.providers(names);
        self
    }

    /// The organisation billed for the calls (`X-HF-Bill-To`).
    pub fn bill_to(mut self, organisation: impl Into<String>) -> ClientBuilder {
        self.bill_to = Some(organisation.into());
        self
    }

    /// The default options of every call (a call's own options go over them).
    pub fn options(mut self, options: CallOptions) -> ClientBuilder {
        self.options = options;
        self
    }

    /// The time limit of one attempt, in milliseconds.
    pub fn timeout_ms(mut self, ms: u64) -> ClientBuilder {
        self.options = self.options.timeout_ms(ms);
        self
    }

    /// Retry settings (fields left `None` keep the defaults).
    pub fn retry(mut self, retry: RetryOptions) -> ClientBuilder {
        self.options = self.options.retry(retry);
        self
    }

    /// One attempt per call.
    pub fn no_retry(mut self) -> ClientBuilder {
        self.options = self.options.no_retry();
        self
    }

    /// A header sent with every call.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.options = self.options.header(name, value);
        self
    }

    /// Identical `text_classification`, `zero_shot` and `classify_image`
    /// calls in flight (without options of their own) share one request.
    /// On by default.
    pub fn dedupe(mut self, dedupe: bool) -> ClientBuilder {
        self.dedupe = Some(dedupe);
        self
    }

    /// Micro-batching of single-text `text_classification` calls; off by default.
    pub fn batch(mut self, batch: BatchOptions) -> ClientBuilder {
        self.batch = Some(batch);
        self
    }

    /// Checks every setting and builds the client. Errors are
    /// `INVALID_INPUT` and name the setting (`endpoint[1].url`).
    pub fn build(self) -> Result<InferenceClient, Error> {
        let base = |url: Option<String>, name: &str, default: &str| -> Result<String, Error> {
            let url = url.unwrap_or_else(|| default.to_owned());
            validate_endpoint_url(&url, name)?;
            Ok(url.trim_end_matches('/').to_owned())
        };
        let router_url = base(self.router_url, "routerUrl", provider::ROUTER)?;
        let hub_url = base(self.hub_url, "hubUrl", provider::HUB)?;
        let tasks_default = format!("{router_url}/hf-inference");
        let chat_default = format!("{router_url}/v1");
        let route = |endpoints: Option<Vec<Endpoint>>, is_list: bool, name: &str, default: &str| {
            let targets = match endpoints {
                None => vec![EndpointTarget::default_at(default)],
                Some(list) if list.is_empty() => {
                    return Err(Error::invalid_input(name, "must not be an empty array"))
                }
                Some(list) => {
                    // A loop, not `collect::<Result<_, _>>()`: each such
                    // chain is its own copy of the iterator code in the wasm.
                    let mut targets = Vec::with_capacity(list.len());
                    for (i, endpoint) in list.iter().enumerate() {
                        targets.push(if is_list {
                            EndpointTarget::check(endpoint, &format!("{name}[{i}]"), false)?
                        } else {
                            EndpointTarget::check(endpoint, name, true)?
                        });
                    }
                    targets
                }
            };
            Ok(Route::new(targets))
        };
        let tasks = route(
            self.endpoints,
            self.endpoint_is_list,
            "endpoint",
            &tasks_default,
        )?;
        let chat = route(
            self.chat_endpoints,
            self.chat_is_list,
            "chatEndpoint",
            &chat_default,
        )?;
        let token = self.token.as_deref().map(Token::new).transpose()?;
        if let Some(bill_to) = &self.bill_to {
            let printable = bill_to.bytes().all(|b| (0x20..0x7f).contains(&b));
            if !printable || bill_to.trim().is_empty() {
                return Err(Error::invalid_input(
                    "billTo",
                    "must be an organisation name (printable ASCII)",
                ));
            }
        }
        self.options.check("options")?;
        if self.options.provider.is_some() {
            check_not_dedicated(&tasks, "options.provider")?;
        }
        if let Some(batch) = &self.batch {
            batch.check()?;
        }
        let defaults = self.options.over(&Resolved::default());
        let mut secrets: Vec<Token> = Vec::new();
        if let Some(token) = &token {
            secrets.push(token.clone());
        }
        for route in [&tasks, &chat] {
            for target in &route.targets {
                if let Some(token) = &target.token {
                    secrets.push(token.clone());
                }
            }
        }
        call::add_header_credentials(&defaults.headers, &mut secrets);
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Ok(InferenceClient {
            inner: Rc::new(Inner {
                tasks,
                chat,
                router_url,
                hub_url,
                hub_cache: Default::default(),
                provider_routes: Default::default(),
                token,
                secrets: Rc::new(secrets),
                bill_to: self.bill_to,
                defaults,
                dedupe: self.dedupe.unwrap_or(true),
                batch: self.batch,
                random: RefCell::new(SplitMix64::new(seed)),
                in_flight: Default::default(),
                batches: Default::default(),
            }),
        })
    }
}

/// Refuses a provider together with a dedicated endpoint (an Inference
/// Endpoint serves one model itself): INVALID_INPUT naming `argument`.
pub(crate) fn check_not_dedicated(tasks: &Route, argument: &str) -> Result<(), Error> {
    if tasks.targets.iter().any(|t| t.dedicated) {
        return Err(Error::invalid_input(
            argument,
            "cannot be used with a dedicated endpoint (it serves its own model)",
        ));
    }
    Ok(())
}

impl InferenceClient {
    /// A builder with every setting at its default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Whether the client, one of its endpoints or its `Authorization`
    /// header holds a token (the JS layer warns once when that happens in a
    /// page).
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(crate) fn has_token(&self) -> bool {
        // Not `secrets`: an `x-api-key` for the proxy belongs in a page.
        let inner = &self.inner;
        inner.token.is_some()
            || inner
                .defaults
                .headers
                .iter()
                .any(|(n, _)| n == "authorization")
            || [&inner.tasks, &inner.chat]
                .iter()
                .any(|route| route.targets.iter().any(|t| t.token.is_some()))
    }
}
