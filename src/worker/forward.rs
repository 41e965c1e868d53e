//! One forwarded request: sent to a route's upstreams through the client's
//! own attempt loop and transport (`client::attempts`, `client::transport`),
//! retried and failed over as the client's calls are, with each upstream's
//! token, and answered with upstream's answer (streamed through) or its final
//! error answer (the token redacted).

use std::cell::RefCell;

use wasm_bindgen::JsValue;

use super::handler::respond;
use super::log::LogLine;
use super::rules::Cors;
use crate::client::attempts::{run, AttemptEnd, Facts, Route as Targets, Setup};
use crate::client::options::EndpointTarget;
use crate::client::transport::{headers_object, send, Outgoing};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::{error_from_answer, Error, ErrorAnswer, ErrorCode};
use crate::protocol::token::{redact_each, Token};

/// A route's upstreams with their health, and the `Authorization` header
/// each one sends, formatted once. Deliberately without `Debug`: the header
/// holds the token.
pub(super) struct Upstreams {
    targets: Targets,
    /// One per target, in the targets' order.
    authorization: Vec<(String, String)>,
}

impl Upstreams {
    /// The upstreams of a setting (`UPSTREAMS`, `HUB_URL`, ...), each with its token.
    pub fn new(targets: &[EndpointTarget]) -> Upstreams {
        Upstreams {
            authorization: targets
                .iter()
                .map(|t| {
                    let value = t.token.as_ref().map(Token::authorization);
                    ("authorization".to_owned(), value.unwrap_or_default())
                })
                .collect(),
            targets: Targets::new(targets.to_vec()),
        }
    }

    /// The `Authorization` header of `target`, one of this route's targets
    /// (the attempt loop plans with references into them).
    fn authorization(&self, target: &EndpointTarget) -> &(String, String) {
        let index = self
            .targets
            .targets
            .iter()
            .position(|t| std::ptr::eq(t, target))
            .expect("an attempt's target is one of its route's");
        &self.authorization[index]
    }
}

/// One forwarded request.
pub(super) struct Forward<'a> {
    pub upstreams: &'a Upstreams,
    pub random: &'a RefCell<SplitMix64>,
    pub retry: RetryConfig,
    /// Per attempt, until the answer's headers (and, for `whole`, its body).
    pub timeout_ms: u64,
    /// What follows each upstream's base: `/models/gpt2`,
    /// `/chat/completions`, `/together/v1/embeddings`, ...
    pub path: String,
    /// The request's own headers, without `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The body, kept in JavaScript memory and resent as is by each attempt;
    /// `undefined` for a GET.
    pub body: JsValue,
    /// Whether a 2xx answer is read whole within the attempt's time limit
    /// (a Hub answer, which the proxy reads and keeps) rather than passed on
    /// as it streams.
    pub whole: bool,
}

impl Forward<'_> {
    /// Forwards under the shared attempt loop; returns the answer to pass
    /// back (a 2xx, or upstream's own final error answer). Fills in the log
    /// line's upstream, attempts and compute time.
    pub async fn run(&self, line: &mut LogLine) -> Result<web_sys::Response, Error> {
        let setup = Setup {
            route: &self.upstreams.targets,
            random: self.random,
            retry: self.retry,
            timeout_ms: Some(self.timeout_ms),
            signals: &[],
            on_attempt: None,
            providers: false,
        };
        let last = RefCell::new((None::<String>, None::<u64>));
        // The request's own headers, borrowed once for every attempt.
        let own: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (&**n, &**v)).collect();
        let outcome = run(setup, |plan| {
            let (name, value) = self.upstreams.authorization(plan.target);
            let headers = headers_object(&own, Some((name, value)));
            let url = format!("{}{}", plan.target.url.trim_end_matches('/'), self.path);
            *last.borrow_mut() = (Some(plan.target.name.clone()), None);
            let secrets = plan.target.token.as_slice();
            let last = &last;
            async move {
                let sent = send(Outgoing {
                    url: &url,
                    headers: &headers,
                    body: &self.body,
                    timeout_ms: plan.timeout_ms,
                    abort_on_timeout: true,
                    signals: &[],
                    cancellable: false,
                })
                .await;
                let incoming = match sent {
                    Ok(incoming) => incoming,
                    Err(error) => return failed(error, Facts::default(), None, None),
                };
                last.borrow_mut().1 = incoming.compute_time_ms();
                let facts = Facts {
                    status: Some(incoming.status),
                    ..Facts::default()
                };
                if incoming.ok() && !self.whole {
                    // Passed on as it streams.
                    return AttemptEnd::Done(incoming.into_response(), facts);
                }
                if incoming.ok() {
                    // Read within the attempt's time limit: a body that
                    // stalls is a timeout, and retried.
                    let text = match incoming.text().await {
                        Ok(text) => redact_each(secrets, text),
                        Err(error) => return failed(error, facts, None, None),
                    };
                    return match rebuilt(incoming.status, &incoming.content_type(), &text) {
                        Some(response) => AttemptEnd::Done(response, facts),
                        None => failed(unbuilt(), facts, None, None),
                    };
                }
                // An error answer (small) is read whole: it says whether and
                // how long to wait, and it is what the caller gets if no
                // attempt does better. An upstream that echoes what it got
                // must not hand its token on.
                match incoming.error_answer(secrets).await {
                    Ok(answer) => {
                        let error = error_from_answer(&answer);
                        let passed_on = upstream_error_response(&answer, &incoming.content_type());
                        failed(error, facts, answer.retry_after_ms, passed_on)
                    }
                    Err(error) => failed(error, facts, None, None),
                }
            }
        })
        .await;
        let (upstream, compute_time_ms) = last.into_inner();
        line.upstream = upstream;
        line.compute_time_ms = compute_time_ms;
        match outcome {
            Ok((response, attempts)) => {
                line.attempts = attempts;
                Ok(response)
            }
            Err(gave_up) => {
                line.attempts = gave_up.error.attempts();
                match gave_up.answer {
                    Some(response) => Ok(response),
                    // No answer came: its status is the refusal's (504 TIMEOUT, 502 NETWORK).
                    None => Err(gave_up.error),
                }
            }
        }
    }
}

fn failed<T>(
    error: Error,
    facts: Facts,
    header_wait_ms: Option<u64>,
    answer: Option<web_sys::Response>,
) -> AttemptEnd<T, web_sys::Response> {
    AttemptEnd::Failed {
        error,
        header_wait_ms,
        facts,
        answer,
    }
}

fn unbuilt() -> Error {
    Error::new(
        ErrorCode::UpstreamError,
        "the proxy could not build its answer",
    )
}

/// An answer rebuilt from its text, with its content type.
fn rebuilt(status: u16, content_type: &str, text: &str) -> Option<web_sys::Response> {
    let headers: Vec<(&str, &str)> = Some(("content-type", content_type))
        .filter(|(_, c)| !c.is_empty())
        .into_iter()
        .collect();
    respond(status, &headers, &Cors::default(), Some(text)).ok()
}

/// Upstream's final error answer, rebuilt from the text already read (its
/// CORS headers are added with the rest of the answer's, later).
fn upstream_error_response(answer: &ErrorAnswer, content_type: &str) -> Option<web_sys::Response> {
    let retry_after = answer
        .retry_after_ms
        .map(|ms| ms.div_ceil(1000).to_string());
    let headers: Vec<(&str, &str)> = [
        ("content-type", Some(content_type).filter(|c| !c.is_empty())),
        ("x-request-id", answer.request_id.as_deref()),
        ("retry-after", retry_after.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect();
    respond(
        answer.status,
        &headers,
        &Cors::default(),
        Some(&answer.text),
    )
    .ok()
}
