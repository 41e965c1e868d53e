//! The pure core against real Hugging Face exchanges (tests/fixtures/recordings.json):
//! every 2xx answer of the five tasks parses into its typed result, every error
//! maps to its code with upstream's message, and the requests we build match
//! the recorded ones.
// Native only: the browser wasm build of the crate has no std to link a test harness against.
#![cfg(not(all(target_arch = "wasm32", not(feature = "worker"))))]

use hf_inference_wasm::policy::random::SplitMix64;
use hf_inference_wasm::protocol::error::{error_from_response, ResponseMeta};
use hf_inference_wasm::protocol::response::{
    parse_image_classification, parse_text_classification, parse_text_generation, parse_zero_shot,
};
use hf_inference_wasm::protocol::sse::{stream_item, SseEvent, SseParser, StreamItem};
use hf_inference_wasm::protocol::task::task_url;
use hf_inference_wasm::{ErrorCode, Json};

const ROUTER: &str = "https://router.huggingface.co/hf-inference";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Task {
    TextClassification,
    TextGeneration,
    ImageClassification,
    ZeroShot,
}

struct Exchange {
    id: String,
    url: String,
    request_body: Option<Json>,
    status: u16,
    response_headers: Json,
    response_body: String,
}

fn load() -> Vec<Exchange> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/recordings.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/recordings.json");
    let json = Json::parse(&text).expect("recordings are JSON");
    json.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let req = e.get("request").unwrap();
            let res = e.get("response").unwrap();
            Exchange {
                id: e.get("id").unwrap().as_str().unwrap().to_owned(),
                url: req.get("url").unwrap().as_str().unwrap().to_owned(),
                request_body: req
                    .get("body")
                    .and_then(|b| b.get("text"))
                    .and_then(Json::as_str)
                    .map(|t| Json::parse(t).unwrap()),
                status: res.get("status").unwrap().as_f64().unwrap() as u16,
                response_headers: res.get("headers").unwrap().clone(),
                response_body: res
                    .get("body")
                    .and_then(|b| b.get("text"))
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// The model id of a task URL (`.../models/{model}`), or None for chat routes.
fn model_of(url: &str) -> Option<&str> {
    let model = url.split("/models/").nth(1)?;
    (!model.contains("/v1/")).then_some(model)
}

fn is_stream(ex: &Exchange) -> bool {
    ex.response_headers
        .get("content-type")
        .and_then(Json::as_str)
        == Some("text/event-stream")
        || ex.request_body.as_ref().and_then(|b| b.get("stream")) == Some(&Json::Bool(true))
}

/// Which of our five tasks an exchange belongs to, by its model.
fn task_of(ex: &Exchange) -> Option<Task> {
    let model = model_of(&ex.url)?;
    let has_inputs = ex
        .request_body
        .as_ref()
        .is_none_or(|b| b.get("inputs").is_some());
    if is_stream(ex) || !has_inputs {
        return None; // streams come with the streaming issue; chat bodies are not task calls
    }
    if model.contains("sst-2") {
        Some(Task::TextClassification)
    } else if model.ends_with("bart-large-mnli") {
        Some(Task::ZeroShot)
    } else if model.ends_with("vit-base-patch16-224") {
        Some(Task::ImageClassification)
    } else if [
        "gpt2",
        "flan-t5-xxl",
        "Mistral-7B-Instruct-v0.2",
        "does-not-exist",
    ]
    .iter()
    .any(|m| model.contains(m))
    {
        Some(Task::TextGeneration)
    } else {
        None
    }
}

fn input_count(ex: &Exchange) -> usize {
    match ex.request_body.as_ref().and_then(|b| b.get("inputs")) {
        Some(Json::Array(items)) => items.len(),
        _ => 1,
    }
}

#[test]
fn every_2xx_answer_of_the_five_tasks_parses() {
    let mut counts = [0usize; 4];
    for ex in load().iter().filter(|e| e.status / 100 == 2) {
        let Some(task) = task_of(ex) else { continue };
        let body = &ex.response_body;
        match task {
            Task::TextClassification => {
                let lists = parse_text_classification(body, input_count(ex))
                    .unwrap_or_else(|e| panic!("{}: {e}", ex.id));
                for list in &lists {
                    assert_eq!(
                        list.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(),
                        ["POSITIVE", "NEGATIVE"],
                        "{}",
                        ex.id
                    );
                }
            }
            Task::ZeroShot => {
                let lists = parse_zero_shot(body, input_count(ex))
                    .unwrap_or_else(|e| panic!("{}: {e}", ex.id));
                for list in &lists {
                    assert!(
                        list.windows(2)
                            .all(|w| w[0].score.to_f64() >= w[1].score.to_f64()),
                        "{} sorted",
                        ex.id
                    );
                    assert!(list.len() >= 3, "{}", ex.id);
                }
            }
            Task::ImageClassification => {
                let list =
                    parse_image_classification(body).unwrap_or_else(|e| panic!("{}: {e}", ex.id));
                assert_eq!(list.len(), 5, "{}", ex.id);
            }
            Task::TextGeneration => {
                parse_text_generation(body).unwrap_or_else(|e| panic!("{}: {e}", ex.id));
            }
        }
        counts[task as usize] += 1;
    }
    // How many recorded answers each task has: a filter that silently skips
    // everything would fail here.
    assert_eq!(
        counts,
        [7, 20, 4, 8],
        "[text-classification, text-generation, image, zero-shot]"
    );
}

#[test]
fn recorded_answers_parse_to_exact_values() {
    let all = load();
    let find = |id: &str| all.iter().find(|e| e.id == id).unwrap();

    let sst2 =
        find("hfhub_router_2025-04/test_text_classification__hf-inference__text-classification#1");
    let lists = parse_text_classification(&sst2.response_body, 1).unwrap();
    assert_eq!(lists[0][0].label, "POSITIVE");
    assert_eq!(lists[0][0].score.to_f64(), 0.9998695850372314);
    assert_eq!(lists[0][1].score.as_str(), "0.00013043530634604394");

    let zs = find("hfjs-tapes/01e7762dd21f");
    let lists = parse_zero_shot(&zs.response_body, 1).unwrap();
    let labels: Vec<_> = lists[0]
        .iter()
        .map(|l| (l.label.as_str(), l.score.to_f64()))
        .collect();
    assert_eq!(
        labels,
        [
            ("refund", 0.8777875304222107),
            ("faq", 0.10522652417421341),
            ("legal", 0.01698593609035015)
        ]
    );

    let vit = find("hfjs-tapes/06fb436e5cb0");
    let list = parse_image_classification(&vit.response_body).unwrap();
    assert_eq!(list[0].label, "cheetah, chetah, Acinonyx jubatus");
    assert_eq!(list[4].score.to_f64(), 5.714610961149447e-05);

    let flan = find("hfhub_router_2025-04/TextGeneration_generate_no_details#1");
    assert_eq!(
        parse_text_generation(&flan.response_body)
            .unwrap()
            .generated_text,
        ""
    );
}

#[test]
fn every_error_maps_to_its_code_and_keeps_upstreams_message() {
    let mut seen = 0;
    for ex in load().iter().filter(|e| e.status >= 400) {
        let meta = ResponseMeta {
            status: ex.status,
            request_id: ex
                .response_headers
                .get("x-request-id")
                .and_then(Json::as_str)
                .map(str::to_owned),
            ..ResponseMeta::default()
        };
        let err = error_from_response(&meta, &ex.response_body);
        let expected_code = match ex.status {
            400 => ErrorCode::BadRequest,
            404 => ErrorCode::NotFound,
            422 => ErrorCode::Validation,
            other => panic!("{}: no expectation for status {other}", ex.id),
        };
        assert_eq!(err.code, expected_code, "{}", ex.id);
        assert_eq!(err.status, Some(ex.status));
        assert_eq!(err.request_id, meta.request_id, "{}", ex.id);
        let upstream_words = match Json::parse(&ex.response_body) {
            Ok(json) => json.get("error").unwrap().as_str().unwrap().to_owned(),
            Err(_) => ex.response_body.trim().to_owned(),
        };
        assert_eq!(err.message, upstream_words, "{}", ex.id);
        seen += 1;
    }
    assert_eq!(seen, 18, "error exchanges in the recordings");
}

/// The bodies the JS client writes are checked against the recorded ones in
/// tests/js/requests.test.mjs; here, the URLs the core builds.
#[test]
fn built_urls_match_the_recorded_ones() {
    let mut checked = 0;
    for ex in load() {
        let (Some(_), Some(model)) = (task_of(&ex), model_of(&ex.url)) else {
            continue;
        };
        if ex.url.starts_with(ROUTER) {
            assert_eq!(task_url(ROUTER, model, false), ex.url, "{}", ex.id);
            checked += 1;
        }
    }
    assert_eq!(checked, 33, "recorded router URLs rebuilt");
}

/// Every event of a stream, parsed from `chunks` in order.
fn parse_in_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| parser.feed(c)).collect();
    events.extend(parser.finish());
    events
}

#[test]
fn recorded_streams_parse_the_same_however_they_are_split() {
    let mut random = SplitMix64::new(2026);
    let mut streams = 0;
    let mut errors = 0;
    for ex in load().iter().filter(|e| {
        e.response_headers
            .get("content-type")
            .and_then(Json::as_str)
            == Some("text/event-stream")
    }) {
        let bytes = ex.response_body.as_bytes();
        let whole = parse_in_chunks(&[bytes]);
        assert!(!whole.is_empty(), "{}", ex.id);
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_in_chunks(&singles), whole, "{} byte by byte", ex.id);
        for _ in 0..50 {
            let mut cuts: Vec<usize> = (0..4)
                .map(|_| (random.next_u64() % (bytes.len() as u64 + 1)) as usize)
                .collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts {
                pieces.push(&bytes[at..cut]);
                at = cut;
            }
            pieces.push(&bytes[at..]);
            assert_eq!(parse_in_chunks(&pieces), whole, "{} split", ex.id);
        }
        let items: Vec<StreamItem> = whole.iter().map(stream_item).collect();
        match items.as_slice() {
            [StreamItem::Error(err)] => {
                let recorded = Json::parse(&whole[0].data).unwrap();
                assert_eq!(err.code, ErrorCode::Validation, "{}", ex.id);
                assert_eq!(
                    err.message,
                    recorded.get("error").unwrap().as_str().unwrap(),
                    "{}",
                    ex.id
                );
                errors += 1;
            }
            items => {
                let (last, chunks) = items.split_last().unwrap();
                assert!(
                    chunks.iter().all(|i| matches!(i, StreamItem::Chunk(_))),
                    "{}",
                    ex.id
                );
                assert!(
                    matches!(last, StreamItem::Chunk(_) | StreamItem::Done),
                    "{}",
                    ex.id
                );
                // TGI streams end with the whole text; OpenAI streams with [DONE]
                // (or, in 2024, with a chunk carrying its finish_reason).
                if let StreamItem::Chunk(last) = last {
                    let finish = last
                        .get("choices")
                        .and_then(Json::as_array)
                        .and_then(|c| c.first())
                        .and_then(|c| c.get("finish_reason"))
                        .and_then(Json::as_str);
                    assert!(
                        last.get("generated_text").and_then(Json::as_str).is_some()
                            || finish.is_some(),
                        "{}",
                        ex.id
                    );
                }
            }
        }
        streams += 1;
    }
    assert_eq!((streams, errors), (20, 3));
}
