//! The crate's Rust API, compiled for wasm32 and run in Node by
//! wasm-bindgen-test against the local upstream (`make test-rust`, which
//! starts it on 127.0.0.1:8080): the README's example as written, then task
//! parameters, call options, failover, chat, streams and errors.
#![cfg(target_arch = "wasm32")]

use futures_util::StreamExt;
use hf_inference_wasm::{
    CallOptions, ChatCompletionRequest, ChatMessage, Endpoint, Error, ErrorCode, RetryOptions,
    TextClassificationParameters, TextGenerationParameters,
};
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const UPSTREAM: &str = "http://127.0.0.1:8080";
const SST2: &str = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const MNLI: &str = "facebook/bart-large-mnli";
const VIT: &str = "google/vit-base-patch16-224";
const LLAMA: &str = "meta-llama/Llama-3.1-8B-Instruct";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> Promise;
}

/// The local upstream's control API (tests/upstream/upstream.mjs).
async fn control(path: &str, body: Option<&str>) -> JsValue {
    let init = js_sys::Object::new();
    let method = if body.is_some() || path.ends_with("reset") {
        "POST"
    } else {
        "GET"
    };
    Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.into()).unwrap();
    }
    let response: web_sys::Response =
        JsFuture::from(fetch_with(&format!("{UPSTREAM}/__control/{path}"), &init))
            .await
            .expect("the local upstream answers: make test-rust starts it on 127.0.0.1:8080")
            .into();
    JsFuture::from(response.json().unwrap()).await.unwrap()
}

async fn reset() {
    control("reset", None).await;
}

async fn fault(spec: &str) {
    control("faults", Some(spec)).await;
}

/// What the upstream received: (path, body text) of each request.
async fn requests() -> Vec<(String, String)> {
    let log = control("requests", None).await;
    js_sys::Array::from(&log)
        .iter()
        .map(|r| {
            let get = |k: &str| {
                Reflect::get(&r, &k.into())
                    .unwrap()
                    .as_string()
                    .unwrap_or_default()
            };
            (get("path"), get("bodyText"))
        })
        .collect()
}

/// How the upstream's answer to each request ended: (path, finished,
/// closedEarly), once every answer has ended one way or the other (read
/// again while one is still being written).
async fn settled_requests() -> Vec<(String, bool, bool)> {
    for _ in 0..500 {
        let log = control("requests", None).await;
        let states: Vec<(String, bool, bool)> = js_sys::Array::from(&log)
            .iter()
            .map(|r| {
                let get = |k: &str| Reflect::get(&r, &k.into()).unwrap();
                (
                    get("path").as_string().unwrap(),
                    get("finished").as_bool().unwrap(),
                    get("closedEarly").as_bool().unwrap(),
                )
            })
            .collect();
        if states
            .iter()
            .all(|(_, finished, closed)| *finished || *closed)
        {
            return states;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    panic!("an answer of the upstream neither finished nor closed early");
}

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

// README:begin
use hf_inference_wasm::{InferenceClient, Label};

async fn readme_example(model: &str, bytes: Vec<u8>) -> Result<(), hf_inference_wasm::Error> {
    let hf = InferenceClient::builder()
        .token("hf_...")
        .endpoint("http://127.0.0.1:8080")
        .build()?;
    let labels: Vec<Label> = hf.text_classification(model, "I love it").await?;
    let ranked: Vec<Label> = hf.zero_shot(model, "text", &["a", "b"]).await?; // sorted by score
    let image: Vec<Label> = hf.classify_image(model, &bytes).await?; // raw bytes on the wire
    let err = hf.text_classification("", "x").await.unwrap_err();
    assert_eq!(err.code().as_str(), "INVALID_INPUT"); // the JS API's codes
    assert!(!labels.is_empty() && ranked.len() == 2 && !image.is_empty());
    Ok(())
}
// README:end

#[wasm_bindgen_test]
async fn the_readme_example_works_as_written() {
    reset().await;
    readme_example("acme/any-model", PNG.to_vec())
        .await
        .unwrap();
    let sent = requests().await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        sent[0],
        (
            "/models/acme/any-model".to_owned(),
            r#"{"inputs":"I love it"}"#.to_owned()
        )
    );
    assert_eq!(
        sent[1],
        (
            "/models/acme/any-model".to_owned(),
            r#"{"inputs":"text","parameters":{"candidate_labels":["a","b"]}}"#.to_owned()
        )
    );
    assert_eq!(sent[2].0, "/models/acme/any-model");
}

#[wasm_bindgen_test]
async fn recorded_answers_come_back_typed_and_sorted() {
    reset().await;
    let hf = InferenceClient::builder()
        .endpoint(UPSTREAM)
        .build()
        .unwrap();
    // The recorded answer to {"inputs": "I like you", "parameters": {}}.
    let labels = hf
        .text_classification(SST2, "I like you")
        .parameters(TextClassificationParameters::default())
        .await
        .unwrap();
    assert_eq!(
        labels,
        [
            Label {
                label: "POSITIVE".into(),
                score: 0.9998695850372314
            },
            Label {
                label: "NEGATIVE".into(),
                score: 0.00013043530634604394
            }
        ]
    );
    let many = hf
        .text_classification_many(SST2, &["I like you", "I hate you"])
        .parameters(TextClassificationParameters {
            top_k: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    // One label each: the upstream's highest for each text.
    assert_eq!(
        many,
        [
            [Label {
                label: "POSITIVE".into(),
                score: 0.9742708670545137
            }],
            [Label {
                label: "NEGATIVE".into(),
                score: 0.9648838441489265
            }]
        ]
    );
    let ranked = hf
        .zero_shot(
            MNLI,
            "Our new feature launch was a massive success!",
            &["marketing", "technical issue"],
        )
        .await
        .unwrap();
    assert_eq!(
        ranked,
        [
            Label {
                label: "marketing".into(),
                score: 0.8915848148609405
            },
            Label {
                label: "technical issue".into(),
                score: 0.10841518513905948
            }
        ]
    );
    // The recorded answer for an image (the recording kept no body, so it
    // answers any image).
    let vit = hf.classify_image(VIT, PNG).await.unwrap();
    assert_eq!(
        vit,
        [
            ("cheetah, chetah, Acinonyx jubatus", 0.9981812238693237),
            ("leopard, Panthera pardus", 0.000663304585032165),
            (
                "jaguar, panther, Panthera onca, Felis onca",
                0.0005421049427241087
            ),
            ("lion, king of beasts, Panthera leo", 0.00010748126805992797),
            ("tiger, Panthera tigris", 5.714610961149447e-05),
        ]
        .map(|(label, score)| Label {
            label: label.into(),
            score
        })
    );
    let sent = requests().await;
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent[0].1, r#"{"inputs":"I like you","parameters":{}}"#);
    // An answer out of order comes back sorted, equal scores in its order.
    fault(r#"{"status":200,"body":"[{\"label\":\"x\",\"score\":0.5},{\"label\":\"y\",\"score\":0.5},{\"label\":\"z\",\"score\":0.9}]"}"#).await;
    let sorted = hf.zero_shot(MNLI, "ties", &["x", "y", "z"]).await.unwrap();
    let order: Vec<(&str, f64)> = sorted.iter().map(|l| (l.label.as_str(), l.score)).collect();
    assert_eq!(order, [("z", 0.9), ("x", 0.5), ("y", 0.5)]);
    assert_eq!(
        sent[1].1,
        r#"{"inputs":["I like you","I hate you"],"parameters":{"top_k":1}}"#
    );
    assert_eq!(
        sent[2].1,
        r#"{"inputs":"Our new feature launch was a massive success!","parameters":{"candidate_labels":["marketing","technical issue"]}}"#
    );
    assert_eq!(sent[3].0, format!("/models/{VIT}"));
}

#[wasm_bindgen_test]
async fn generation_with_parameters_and_call_options() {
    reset().await;
    // A dedicated TGI endpoint takes the legacy form.
    let hf = InferenceClient::builder()
        .endpoints([Endpoint::new(format!("{UPSTREAM}/models/gpt2")).dedicated(true)])
        .build()
        .unwrap();
    fault(r#"{"status":503,"body":"{\"error\":\"Model gpt2 is currently loading\",\"estimated_time\":0.05}"}"#).await;
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    let generated = hf
        .text_generation("gpt2", "The future of AI")
        .parameters(TextGenerationParameters {
            max_length: Some(20),
            temperature: Some(0.7),
            ..Default::default()
        })
        .options(
            CallOptions::new()
                .retry(RetryOptions {
                    base_delay_ms: Some(1),
                    ..Default::default()
                })
                .on_attempt(move |info| {
                    record
                        .borrow_mut()
                        .push((info.attempt, info.status, info.code))
                }),
        )
        .await
        .unwrap();
    assert_eq!(
        generated.generated_text,
        "The future of AI light this of was a from is river it is the the signal and are pattern"
    );
    assert_eq!(
        *seen.borrow(),
        [
            (1, Some(503), Some(ErrorCode::ModelLoading)),
            (2, Some(200), None)
        ]
    );
    // The retry resent the very request.
    let body = r#"{"inputs":"The future of AI","parameters":{"max_length":20,"temperature":0.7}}"#;
    let sent = requests().await;
    assert_eq!(
        sent,
        [
            ("/models/gpt2".to_owned(), body.to_owned()),
            ("/models/gpt2".to_owned(), body.to_owned())
        ]
    );
}

#[wasm_bindgen_test]
async fn a_dead_endpoint_fails_over_to_the_next() {
    reset().await;
    let hf = InferenceClient::builder()
        .endpoints([
            Endpoint::new("http://127.0.0.1:9")
                .name("dead")
                .weight(1e12),
            Endpoint::new(UPSTREAM).name("local"),
        ])
        .retry(RetryOptions {
            base_delay_ms: Some(1),
            ..Default::default()
        })
        .build()
        .unwrap();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    let labels = hf
        .text_classification(SST2, "fine")
        .options(CallOptions::new().on_attempt(move |info| {
            record
                .borrow_mut()
                .push((info.endpoint.clone(), info.attempt, info.status, info.code))
        }))
        .await
        .unwrap();
    // The dead endpoint (all but certain to be picked first at its weight)
    // was tried and failed, then the local one answered.
    assert_eq!(
        *seen.borrow(),
        [
            ("dead".to_owned(), 1, None, Some(ErrorCode::Network)),
            ("local".to_owned(), 2, Some(200), None)
        ]
    );
    assert_eq!(
        labels,
        [
            Label {
                label: "NEGATIVE".into(),
                score: 0.5794622998218983
            },
            Label {
                label: "POSITIVE".into(),
                score: 0.42053770017810166
            }
        ]
    );
    assert_eq!(
        requests().await,
        [(format!("/models/{SST2}"), r#"{"inputs":"fine"}"#.to_owned())]
    );
}

#[wasm_bindgen_test]
async fn chat_and_streams() {
    reset().await;
    let hf = InferenceClient::builder()
        .endpoint(UPSTREAM)
        .chat_endpoint(UPSTREAM)
        .build()
        .unwrap();
    let request =
        ChatCompletionRequest::new(LLAMA, vec![ChatMessage::user("Hello!")]).max_tokens(20);
    let reply = hf.chat_completion(&request).await.unwrap();
    assert_eq!(reply.choices.len(), 1);
    assert!(reply.choices[0]
        .message
        .content
        .as_deref()
        .is_some_and(|c| !c.is_empty()));

    let mut stream = hf.chat_completion_stream(&request, None);
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        text.push_str(
            chunk
                .choices
                .first()
                .and_then(|c| c.delta.content.as_deref())
                .unwrap_or(""),
        );
    }
    assert!(
        chunks >= 12 && !text.is_empty(),
        "{chunks} chunks: {text:?}"
    );

    // Twelve token events, paced so that the answer is still being written
    // when the stream is dropped after three.
    reset().await;
    fault(r#"{"path":"/models/gpt2","streamIntervalMs":50}"#).await;
    let tgi = InferenceClient::builder()
        .endpoints([Endpoint::new(format!("{UPSTREAM}/models/gpt2")).dedicated(true)])
        .build()
        .unwrap();
    let mut tokens = tgi.text_generation_stream("gpt2", "Once upon a time", None, None);
    let mut texts = Vec::new();
    while let Some(chunk) = tokens.next().await {
        texts.push(chunk.unwrap().token.text);
        if texts.len() == 3 {
            break;
        }
    }
    drop(tokens); // dropping the stream cancels the request
    assert_eq!(texts, ["that", " it", " it"]);
    assert_eq!(
        requests().await,
        [(
            "/models/gpt2".to_owned(),
            r#"{"inputs":"Once upon a time","stream":true}"#.to_owned()
        )]
    );
    assert_eq!(
        settled_requests().await,
        [("/models/gpt2".to_owned(), false, true)],
        "(path, finished, closedEarly)"
    );
}

#[wasm_bindgen_test]
async fn errors_are_typed_and_never_show_the_token() {
    reset().await;
    let token = "hf_rustApiTokenNeverShown123";
    let hf = InferenceClient::builder()
        .token(token)
        .endpoint(UPSTREAM)
        .no_retry()
        .build()
        .unwrap();
    fault(&format!(
        r#"{{"status":401,"body":"{{\"error\":\"bad token {token}\"}}","headers":{{"x-request-id":"r-7"}}}}"#
    ))
    .await;
    let err: Error = hf.text_generation("gpt2", "hi").await.unwrap_err();
    assert_eq!(
        (
            err.code(),
            err.message(),
            err.status(),
            err.request_id(),
            err.model(),
            err.attempts()
        ),
        (
            ErrorCode::Unauthorized,
            "bad token [redacted]",
            Some(401),
            Some("r-7"),
            Some("gpt2"),
            1
        )
    );
    let shown = format!("{err} {err:?} {hf:?}");
    assert!(!shown.contains(token), "{shown}");
    assert!(std::error::Error::source(&err).is_none());

    let invalid = InferenceClient::builder()
        .endpoint("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(
        invalid.message(),
        "endpoint: must start with https:// or http://"
    );
    let labels = hf.zero_shot(MNLI, "t", &[]).await.unwrap_err();
    assert_eq!(
        (labels.code(), labels.message()),
        (
            ErrorCode::InvalidInput,
            "candidate_labels: must be a non-empty array of strings"
        )
    );
}

/// The upstream's own JSON answer at `path` to `body`, read without the client.
async fn upstream_answer(path: &str, body: &str) -> JsValue {
    let init = js_sys::Object::new();
    Reflect::set(&init, &"method".into(), &"POST".into()).unwrap();
    Reflect::set(&init, &"body".into(), &body.into()).unwrap();
    let response: web_sys::Response =
        JsFuture::from(fetch_with(&format!("{UPSTREAM}{path}"), &init))
            .await
            .unwrap()
            .into();
    let answer = JsFuture::from(response.json().unwrap()).await.unwrap();
    reset().await;
    answer
}

fn member(value: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(value.clone(), |v, key| {
        let index = key.parse::<u32>();
        match index {
            Ok(i) => Reflect::get_u32(&v, i).unwrap(),
            Err(_) => Reflect::get(&v, &(*key).into()).unwrap(),
        }
    })
}

#[wasm_bindgen_test]
async fn the_routers_tasks_come_back_typed() {
    reset().await;
    let hf = InferenceClient::builder()
        .endpoint(UPSTREAM)
        .build()
        .unwrap();
    let text = "The tower is 324 metres tall, about the same height as an 81-storey building.";
    let summary = hf
        .summarization("facebook/bart-large-cnn", text)
        .parameters(hf_inference_wasm::Parameters::new().set("max_length", 30))
        .await
        .unwrap();
    let sent = requests().await;
    let body = format!(r#"{{"inputs":"{text}","parameters":{{"max_length":30}}}}"#);
    assert_eq!(
        sent,
        [("/models/facebook/bart-large-cnn".to_owned(), body.clone())]
    );
    let expected = upstream_answer("/models/facebook/bart-large-cnn", &body).await;
    assert_eq!(
        Some(summary.summary_text),
        member(&expected, &["0", "summary_text"]).as_string()
    );

    let embeddings = hf
        .feature_extraction_many(
            "sentence-transformers/all-MiniLM-L6-v2",
            &["a cat", "a dog"],
        )
        .await
        .unwrap();
    let path = "/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction";
    let expected = upstream_answer(path, r#"{"inputs":["a cat","a dog"]}"#).await;
    let expected: Vec<Vec<f64>> = serde_wasm_bindgen::from_value(expected).unwrap();
    assert_eq!(embeddings, expected);

    let answer = hf
        .question_answering(
            "deepset/roberta-base-squad2",
            "Where do I live?",
            "I live in Berlin",
        )
        .await
        .unwrap();
    let body = r#"{"inputs":{"question":"Where do I live?","context":"I live in Berlin"}}"#;
    let expected = upstream_answer("/models/deepset/roberta-base-squad2", body).await;
    assert_eq!(
        Some(answer.answer),
        member(&expected, &["answer"]).as_string()
    );

    let generated = hf
        .text_generation("gpt2", "Once upon a time")
        .parameters(TextGenerationParameters {
            max_new_tokens: Some(4),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = r#"{"model":"gpt2","max_tokens":4,"prompt":"Once upon a time"}"#;
    assert_eq!(
        requests().await,
        [("/models/gpt2/v1/completions".to_owned(), body.to_owned())]
    );
    let expected = upstream_answer("/models/gpt2/v1/completions", body).await;
    assert_eq!(
        Some(generated.generated_text),
        member(&expected, &["choices", "0", "text"]).as_string()
    );

    let err = hf
        .question_answering("deepset/roberta-base-squad2", "Where?", " ")
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        (
            ErrorCode::InvalidInput,
            "INVALID_INPUT: input.context: must be a non-empty string"
        )
    );
}

#[wasm_bindgen_test]
async fn providers_resolve_through_the_hub_and_fail_over() {
    reset().await;
    let hf = InferenceClient::builder()
        .router_url(UPSTREAM)
        .hub_url(UPSTREAM)
        .retry(RetryOptions {
            base_delay_ms: Some(1),
            ..Default::default()
        })
        .build()
        .unwrap();
    fault(r#"{"pathPrefix":"/nscale/","status":503,"body":"{\"error\":\"down\"}","times":-1}"#)
        .await;
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    let image = hf
        .text_to_image("black-forest-labs/FLUX.1-schnell", "a lighthouse")
        .options(
            CallOptions::new()
                .providers(["nscale".to_owned(), "together".to_owned()])
                .on_attempt(move |info| {
                    record
                        .borrow_mut()
                        .push((info.provider.clone(), info.status))
                }),
        )
        .await
        .unwrap();
    assert_eq!(image.type_(), "image/png");
    assert_eq!(
        *seen.borrow(),
        [
            (Some("nscale".to_owned()), Some(503)),
            (Some("together".to_owned()), Some(200))
        ]
    );
    let sent: Vec<String> = requests().await.into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        sent,
        [
            "/api/models/black-forest-labs/FLUX.1-schnell",
            "/nscale/v1/images/generations",
            "/together/v1/images/generations"
        ]
    );

    let err = hf
        .text_generation("gpt2", "The future")
        .options(CallOptions::new().provider("auto"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoProvider);
    assert_eq!(
        err.to_string(),
        "NO_PROVIDER: no provider serves gpt2 for text-generation (asked: auto); the Hub maps it for no task at all"
    );
}
