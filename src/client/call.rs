//! One call of the client: its request built for each attempt, sent under
//! the retry policy, and its 2xx answer read as the call needs it.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use web_sys::Blob;

use super::attempts::{run, AttemptEnd, Facts, Plan, Setup};
use super::options::Resolved;
use super::providers::Routed;
use super::transport::{headers_object, send, Incoming, JsonFailure, Outgoing};
use super::Inner;
use crate::protocol::answer::bad_response;
use crate::protocol::error::{error_from_answer, Error, ErrorCode};
use crate::protocol::model::{chat_url, model_url};
use crate::protocol::task::Task;
use crate::protocol::text;
use crate::protocol::token::Token;

/// A request body.
#[derive(Clone)]
pub(crate) enum Body {
    /// JSON text (`application/json`), as the JS string `JSON.stringify`
    /// wrote (it goes to `fetch` without a copy through the wasm).
    Json(js_sys::JsString),
    /// The caller's bytes (a `Uint8Array`, `ArrayBuffer` or `Blob`), sent
    /// untouched with their content type, if known.
    Bytes {
        value: JsValue,
        content_type: Option<String>,
    },
}

impl Body {
    fn value(&self) -> JsValue {
        match self {
            Body::Json(text) => text.into(),
            Body::Bytes { value, .. } => value.clone(),
        }
    }

    fn content_type(&self) -> Option<&str> {
        match self {
            Body::Json(_) => Some("application/json"),
            Body::Bytes { content_type, .. } => content_type.as_deref(),
        }
    }
}

/// How a 2xx answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// As JSON.
    Json,
    /// As its content type says: JSON, text, or a `Blob`.
    AsTyped,
    /// Not at all: it is a stream, read by the caller.
    Stream,
}

/// A 2xx answer as read.
pub(crate) enum Read {
    Json(JsValue),
    Text(String),
    Blob(Blob),
    Unread,
}

/// What a call got: the answer (its headers still readable), what was read
/// of it, and the attempts it took.
pub(crate) struct Answered {
    pub incoming: Incoming,
    pub read: Read,
    pub attempts: u32,
    /// The client's tokens, to redact from what the answer says.
    pub secrets: Secrets,
}

/// Every token a client holds (its own, its endpoints', and credentials
/// among its headers): upstream text that ends up in an error is cleared of
/// each of them. An `Rc<Vec<_>>` rather than an `Rc<[_]>`: building a
/// shared slice from a `Vec` copies it through code of its own per type
/// (with `Rc<[Mapping]>`, 0.7 KB of the gzipped client).
pub(crate) type Secrets = Rc<Vec<Token>>;

/// Adds to `secrets` the credentials a caller put among `headers`
/// (`authorization` without its scheme, `x-api-key`) and `secrets` lacks,
/// to redact them like the client's tokens.
pub(crate) fn add_header_credentials(headers: &[(String, String)], secrets: &mut Vec<Token>) {
    for (name, value) in headers {
        let secret = match name.as_str() {
            "authorization" => text::split_once_at(value, b' ').map_or(value.as_str(), |(_, s)| s),
            "x-api-key" => value,
            _ => continue,
        };
        if let Ok(token) = Token::new(secret) {
            if !secrets.contains(&token) {
                secrets.push(token);
            }
        }
    }
}

impl Answered {
    /// An error about this answer, with its status, request id and
    /// attempts, and no token in its message (upstream's words may echo one).
    pub fn error(&self, error: Error) -> Error {
        error
            .with_call_facts(
                Some(self.incoming.status),
                self.incoming.request_id().as_deref(),
                self.attempts,
            )
            .redacted(&self.secrets)
    }

    /// The JSON document read, if that is how it was read.
    pub fn doc(&self) -> Option<&JsValue> {
        match &self.read {
            Read::Json(doc) => Some(doc),
            _ => None,
        }
    }
}

/// Where on its base a call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// `{endpoint}/models/{model}{suffix}` (`""`, `/pipeline/{task}`,
    /// `/v1/completions`), or a dedicated endpoint's base.
    Model(&'static str),
    /// `{chatEndpoint}/chat/completions`.
    Chat,
    /// `{chatEndpoint}/images/generations`.
    Images,
}

/// Where `task` goes.
pub(crate) fn path_of(task: Task) -> Path {
    match task {
        Task::Chat => Path::Chat,
        Task::ImageGeneration => Path::Images,
        Task::TextGeneration => Path::Model("/v1/completions"),
        Task::FeatureExtraction => Path::Model("/pipeline/feature-extraction"),
        Task::SentenceSimilarity => Path::Model("/pipeline/sentence-similarity"),
        _ => Path::Model(""),
    }
}

/// What a call sends: the task, its model (empty for chat, whose model is
/// in the body), where, and its body (and the legacy body a dedicated
/// endpoint takes instead, when the forms differ).
pub(crate) struct Request<'a> {
    pub task: Task,
    pub model: &'a str,
    pub path: Path,
    pub body: &'a Body,
    pub dedicated_body: Option<&'a Body>,
    pub reading: Reading,
    /// A call over providers: its own route, URL and body per provider.
    pub routed: Option<&'a Routed>,
}

/// Whether a content type is binary (neither text nor JSON nor XML).
fn is_binary(content_type: &str) -> bool {
    !(content_type.is_empty()
        || content_type.starts_with("text/")
        || text::contains(content_type, "json")
        || text::contains(content_type, "xml"))
}

impl Inner {
    /// The client's secrets, plus any credential among this call's own headers.
    fn secrets_of(&self, options: &Resolved) -> Secrets {
        let mut own = Vec::new();
        add_header_credentials(&options.headers, &mut own);
        if own.iter().all(|t| self.secrets.contains(t)) {
            return self.secrets.clone();
        }
        // Duplicates are harmless here: each secret is only redacted.
        for token in self.secrets.iter() {
            own.push(token.clone());
        }
        Rc::new(own)
    }

    /// Sends `request` under the retry policy of `options`. Upstream's words
    /// in its errors come without any of the call's secrets.
    pub(crate) async fn perform(
        &self,
        request: &Request<'_>,
        options: &Resolved,
    ) -> Result<Answered, Error> {
        let chat = !matches!(request.path, Path::Model(_));
        let route = match request.routed {
            Some(routed) => &routed.route,
            None if chat => &self.chat,
            None => &self.tasks,
        };
        let stream = request.reading == Reading::Stream;
        // In order, a later one replacing an earlier: the caller's headers
        // over the content type and `accept`, the organisation billed over
        // the caller's, and (per attempt) the token over any `Authorization`.
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(options.headers.len() + 3);
        if let Some(content_type) = request.body.content_type() {
            headers.push(("content-type", content_type));
        }
        if stream {
            headers.push(("accept", "text/event-stream"));
        }
        for (name, value) in &options.headers {
            headers.push((name, value));
        }
        if let Some(bill_to) = &self.bill_to {
            headers.push(("x-hf-bill-to", bill_to));
        }
        let body = request.body.value();
        let secrets = self.secrets_of(options);
        let observed = options.on_attempt.is_some();
        let setup = Setup {
            route,
            random: &self.random,
            retry: options.retry_config(),
            timeout_ms: options.timeout_ms,
            signals: &options.signals,
            on_attempt: options.on_attempt.as_ref(),
            providers: request.routed.is_some(),
        };
        let outcome = run::<_, (), _, _>(setup, |plan: Plan<'_>| {
            let token = plan.target.token.as_ref().or(self.token.as_ref());
            let authorization = token.map(Token::authorization);
            let authorization = authorization.as_deref().map(|a| ("authorization", a));
            let headers = headers_object(&headers, authorization);
            let target = plan.target;
            let own = request.routed.map(|r| &r.requests[plan.index]);
            let url = match (own, request.path) {
                (Some((url, _)), _) => url.clone(),
                (None, path) => match path {
                    Path::Model(suffix) => {
                        model_url(&target.url, request.model, target.dedicated, suffix)
                    }
                    Path::Chat => chat_url(&target.url),
                    Path::Images => {
                        format!("{}/images/generations", target.url.trim_end_matches('/'))
                    }
                },
            };
            let body = match (own, request.dedicated_body) {
                (Some((_, own)), _) => own.value(),
                (None, Some(legacy)) if target.dedicated => legacy.value(),
                _ => body.clone(),
            };
            let secrets = &secrets;
            async move {
                let sent = send(Outgoing {
                    url: &url,
                    headers: &headers,
                    body: &body,
                    timeout_ms: plan.timeout_ms,
                    // Only an explicit timeout aborts; the deadline alone
                    // ends the attempt without arming an abort (transport.rs).
                    abort_on_timeout: options.timeout_ms.is_some() || stream,
                    signals: &options.signals,
                    cancellable: stream,
                })
                .await;
                let incoming = match sent {
                    Ok(incoming) => incoming,
                    Err(error) => {
                        return AttemptEnd::Failed {
                            error,
                            header_wait_ms: None,
                            facts: Facts::default(),
                            answer: None,
                        }
                    }
                };
                let mut facts = Facts {
                    status: Some(incoming.status),
                    ..Facts::default()
                };
                // Only the observer reads these (an error has its own).
                if observed {
                    facts.request_id = incoming.request_id();
                    facts.compute_time_ms = incoming.compute_time_ms();
                    facts.provider = incoming.header("x-inference-provider");
                    facts.cost_usd = incoming.usage_cost_usd();
                }
                if !incoming.ok() {
                    return match incoming.error_answer(secrets).await {
                        Ok(answer) => AttemptEnd::Failed {
                            error: error_from_answer(&answer),
                            header_wait_ms: answer.retry_after_ms,
                            facts,
                            answer: None,
                        },
                        Err(error) => AttemptEnd::Failed {
                            error: error.with_status(incoming.status),
                            header_wait_ms: None,
                            facts,
                            answer: None,
                        },
                    };
                }
                let read = match request.reading {
                    Reading::Stream => Ok(Read::Unread),
                    Reading::Json => match incoming.json().await {
                        Ok(doc) => Ok(Read::Json(doc)),
                        Err(JsonFailure::NotJson) => Err(bad_response(request.task, "JSON")),
                        Err(JsonFailure::Io(error)) => Err(error),
                    },
                    Reading::AsTyped => {
                        let content_type = incoming.content_type();
                        if is_binary(&content_type) {
                            incoming.blob().await.map(Read::Blob)
                        } else if text::contains(&content_type, "json") {
                            match incoming.json().await {
                                Ok(doc) => Ok(Read::Json(doc)),
                                Err(JsonFailure::NotJson) => Err(Error::new(
                                    ErrorCode::BadResponse,
                                    "the answer is not valid JSON",
                                )),
                                Err(JsonFailure::Io(error)) => Err(error),
                            }
                        } else {
                            incoming.text().await.map(Read::Text)
                        }
                    }
                };
                match read {
                    Ok(read) => AttemptEnd::Done((incoming, read), facts),
                    Err(error) => {
                        let error = if error.code() == ErrorCode::BadResponse {
                            error.with_call_facts(
                                Some(incoming.status),
                                incoming.request_id().as_deref(),
                                0,
                            )
                        } else {
                            error
                        };
                        AttemptEnd::Failed {
                            error,
                            header_wait_ms: None,
                            facts,
                            answer: None,
                        }
                    }
                }
            }
        })
        .await;
        match outcome {
            Ok(((incoming, read), attempts)) => Ok(Answered {
                incoming,
                read,
                attempts,
                secrets,
            }),
            Err(gave_up) => Err(gave_up.error.redacted(&secrets)),
        }
    }
}
