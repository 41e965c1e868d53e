//! The Hub's inference provider mapping as the proxy keeps it: the answer of
//! `GET {HUB_URL}/api/models/{model}?expand[]=inferenceProviderMapping`
//! read in both of the shapes the Hub gives, and a per-isolate cache of those
//! answers with the reverse index that maps a provider's model id back to the
//! Hugging Face model it serves. Pure: the clock is passed in.
//!
//! Only allowed models are ever looked up, so every id the index maps back
//! to was allowed when it was stored (the settings, and so the allow-list,
//! are fixed for the life of an isolate).

use std::num::NonZeroUsize;
use std::rc::Rc;

use lru::LruCache;

use super::patterns::{any_matches, ModelPattern};
use crate::protocol::model::validate_model_id;

/// Hub answers kept at most (a few KB each).
pub const MAX_ANSWERS: NonZeroUsize = NonZeroUsize::new(1_000).expect("not zero");
/// Provider ids kept at most in the reverse index.
pub const MAX_PROVIDER_IDS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

/// The query the Hub is asked with, as the reference client asks it.
pub const EXPAND_QUERY: &str = "expand[]=inferenceProviderMapping";

/// Hub look-ups one request may make to map a provider id back.
pub const MAX_LOOKUPS_PER_REQUEST: usize = 16;

/// The URL of a model's provider mapping on a Hub at `base`.
pub fn mapping_url(base: &str, model: &str) -> String {
    format!(
        "{}/api/models/{model}?{EXPAND_QUERY}",
        base.trim_end_matches('/')
    )
}

/// One provider's mapping of a model (the client's type: provider, provider
/// id, status, task).
pub use crate::protocol::provider::Mapping as ProviderMapping;

/// Reads a Hub answer's `inferenceProviderMapping` with the client's reader
/// (`protocol::provider::read_mappings`: an object keyed by provider or a
/// list of entries naming theirs). `None` when the text is not JSON or has
/// no mapping in either shape.
pub fn read_mappings(text: &str) -> Option<Vec<ProviderMapping>> {
    let answer: serde_json::Value = serde_json::from_str(text).ok()?;
    match answer.get("inferenceProviderMapping")? {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            Some(crate::protocol::provider::read_mappings(&answer))
        }
        _ => None,
    }
}

/// A Hub answer, as passed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubAnswer {
    /// Its status.
    pub status: u16,
    /// Its content type ("" without one).
    pub content_type: String,
    /// Its body, as the Hub sent it (the token redacted, should it echo it).
    pub body: Rc<str>,
}

/// A Hub answer as stored: when it came, and the reverse index keys it
/// added (so that a newer answer replaces them).
#[derive(Clone, Debug)]
struct Looked {
    answer: HubAnswer,
    at_ms: u64,
    keys: Vec<String>,
}

/// A provider id mapped back: the model, and when its answer came.
#[derive(Clone, Debug)]
struct Reverse {
    model: String,
    at_ms: u64,
}

/// The key of a provider id in the reverse index (a provider name has no
/// newline: it is checked when the route is read).
fn reverse_key(provider: &str, provider_id: &str) -> String {
    format!("{provider}\n{provider_id}")
}

/// Whether an answer of this status is kept: a 200 and a 404 are the Hub's
/// word on the model; anything else (a 5xx, a 401) says nothing lasting.
pub fn is_kept(status: u16) -> bool {
    matches!(status, 200 | 404)
}

/// The Hub answers of one isolate and the reverse index built from them,
/// each entry good for `ttl_ms`, both bounded (least recently used first out).
#[derive(Debug)]
pub struct HubCache {
    answers: LruCache<String, Looked>,
    reverse: LruCache<String, Reverse>,
    ttl_ms: u64,
}

impl HubCache {
    /// An empty cache whose entries are good for `ttl_ms`.
    pub fn new(ttl_ms: u64) -> HubCache {
        HubCache {
            answers: LruCache::new(MAX_ANSWERS),
            reverse: LruCache::new(MAX_PROVIDER_IDS),
            ttl_ms,
        }
    }

    fn fresh(&self, at_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(at_ms) < self.ttl_ms
    }

    /// The stored answer for `model`, if it is still fresh.
    pub fn answer(&mut self, model: &str, now_ms: u64) -> Option<HubAnswer> {
        let ttl_ms = self.ttl_ms;
        let looked = self.answers.get(model)?;
        if now_ms.saturating_sub(looked.at_ms) < ttl_ms {
            return Some(looked.answer.clone());
        }
        self.answers.pop(model);
        None
    }

    /// Whether `model` was looked up (and kept) within the time to live.
    pub fn knows(&self, model: &str, now_ms: u64) -> bool {
        self.answers
            .peek(model)
            .is_some_and(|looked| self.fresh(looked.at_ms, now_ms))
    }

    /// Keeps the answer for `model` (status 200 or 404; others are not
    /// kept) with the mappings read from it, replacing what an earlier
    /// answer for it added to the reverse index.
    pub fn store(
        &mut self,
        model: &str,
        answer: HubAnswer,
        mappings: &[ProviderMapping],
        now_ms: u64,
    ) {
        if !is_kept(answer.status) {
            return;
        }
        if let Some(earlier) = self.answers.pop(model) {
            for key in earlier.keys {
                if self.reverse.peek(&key).is_some_and(|r| r.model == model) {
                    self.reverse.pop(&key);
                }
            }
        }
        let keys: Vec<String> = mappings
            .iter()
            .map(|m| reverse_key(&m.provider, &m.provider_id))
            .collect();
        for key in &keys {
            self.reverse.put(
                key.clone(),
                Reverse {
                    model: model.to_owned(),
                    at_ms: now_ms,
                },
            );
        }
        self.answers.put(
            model.to_owned(),
            Looked {
                answer,
                at_ms: now_ms,
                keys,
            },
        );
    }

    /// The allowed models to look up when `provider_id` maps back to none
    /// of the fresh answers, in order, at most `max`: the provider id itself
    /// when it is an allowed model id (many providers use the Hugging Face
    /// id), then every exact id of `allowed` (an entry without `*`). None of
    /// them already looked up within the time to live. A model allowed only
    /// by a pattern is never guessed: it maps back once it has been looked
    /// up (its id asked for here, or at `GET /api/models/{model}`).
    pub fn to_look_up(
        &self,
        allowed: &[ModelPattern],
        provider_id: &str,
        max: usize,
        now_ms: u64,
    ) -> Vec<String> {
        let itself = (validate_model_id(provider_id).is_ok() && any_matches(allowed, provider_id))
            .then(|| provider_id.to_owned());
        let mut models: Vec<String> = Vec::new();
        for model in itself
            .into_iter()
            .chain(allowed.iter().filter_map(ModelPattern::exact))
        {
            if models.len() == max {
                break;
            }
            if validate_model_id(&model).is_ok()
                && !self.knows(&model, now_ms)
                && !models.contains(&model)
            {
                models.push(model);
            }
        }
        models
    }

    /// The model that `provider` serves as `provider_id`, among the fresh
    /// answers looked up.
    pub fn model_for(&mut self, provider: &str, provider_id: &str, now_ms: u64) -> Option<String> {
        let key = reverse_key(provider, provider_id);
        let found = self.reverse.get(&key)?.clone();
        if self.fresh(found.at_ms, now_ms) {
            return Some(found.model);
        }
        self.reverse.pop(&key);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> HubAnswer {
        HubAnswer {
            status,
            content_type: "application/json".into(),
            body: Rc::from("{}"),
        }
    }

    fn mapping(provider: &str, id: &str, task: &str) -> ProviderMapping {
        ProviderMapping {
            provider: provider.into(),
            provider_id: id.into(),
            task: task.into(),
            status: "live".into(),
        }
    }

    #[test]
    fn both_shapes_are_read() {
        let object = r#"{"_id":"x","id":"black-forest-labs/FLUX.1-dev","inferenceProviderMapping":{
            "together":{"providerId":"black-forest-labs/FLUX.1-dev","status":"live","task":"text-to-image"},
            "nscale":{"providerId":"flux-dev","status":"staging","task":"text-to-image","adapter":"x"}}}"#;
        let mut read = read_mappings(object).unwrap();
        read.sort_by(|a, b| a.provider.cmp(&b.provider));
        let mut staging = mapping("nscale", "flux-dev", "text-to-image");
        staging.status = "staging".into();
        assert_eq!(
            read,
            [
                staging,
                mapping("together", "black-forest-labs/FLUX.1-dev", "text-to-image")
            ]
        );
        let list = r#"{"id":"m","inferenceProviderMapping":[
            {"provider":"groq","providerId":"llama-3.1-8b-instant","status":"live","task":"conversational"},
            {"provider":"together","providerId":"meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo","status":"live","task":"conversational"}]}"#;
        assert_eq!(
            read_mappings(list).unwrap(),
            [
                mapping("groq", "llama-3.1-8b-instant", "conversational"),
                mapping(
                    "together",
                    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                    "conversational"
                )
            ]
        );
    }

    #[test]
    fn odd_entries_are_left_out_and_odd_answers_have_none() {
        let odd = r#"{"inferenceProviderMapping":[
            {"provider":"a","providerId":5},{"providerId":"no-provider"},{"provider":"b"},
            {"provider":"","providerId":"x"},"text",{"provider":"c","providerId":"c-id"}]}"#;
        assert_eq!(
            read_mappings(odd).unwrap(),
            [ProviderMapping {
                provider: "c".into(),
                provider_id: "c-id".into(),
                task: String::new(),
                status: String::new()
            }]
        );
        assert_eq!(
            read_mappings(r#"{"inferenceProviderMapping":{}}"#),
            Some(vec![])
        );
        for none in [
            "not json",
            "[]",
            r#"{"id":"gpt2"}"#,
            r#"{"inferenceProviderMapping":"x"}"#,
        ] {
            assert_eq!(read_mappings(none), None, "{none}");
        }
    }

    #[test]
    fn the_url_asks_for_the_mapping() {
        assert_eq!(
            mapping_url("https://huggingface.co/", "google/gemma-2b"),
            "https://huggingface.co/api/models/google/gemma-2b?expand[]=inferenceProviderMapping"
        );
    }

    #[test]
    fn provider_ids_map_back_while_fresh() {
        let mut cache = HubCache::new(1_000);
        cache.store(
            "meta-llama/Llama-3.1-8B-Instruct",
            answer(200),
            &[
                mapping(
                    "together",
                    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                    "conversational",
                ),
                mapping("groq", "llama-3.1-8b-instant", "conversational"),
            ],
            10,
        );
        assert_eq!(
            cache
                .model_for("groq", "llama-3.1-8b-instant", 500)
                .as_deref(),
            Some("meta-llama/Llama-3.1-8B-Instruct")
        );
        // The provider counts: the same id under another provider is not it.
        assert_eq!(
            cache.model_for("together", "llama-3.1-8b-instant", 500),
            None
        );
        assert!(cache.knows("meta-llama/Llama-3.1-8B-Instruct", 500));
        assert_eq!(
            cache.answer("meta-llama/Llama-3.1-8B-Instruct", 500),
            Some(answer(200))
        );
        // Past the time to live, neither the answer nor the index holds.
        assert!(!cache.knows("meta-llama/Llama-3.1-8B-Instruct", 1_010));
        assert_eq!(cache.model_for("groq", "llama-3.1-8b-instant", 1_010), None);
        assert!(cache
            .answer("meta-llama/Llama-3.1-8B-Instruct", 1_010)
            .is_none());
    }

    #[test]
    fn a_newer_answer_replaces_what_the_older_mapped() {
        let mut cache = HubCache::new(10_000);
        cache.store(
            "a/m",
            answer(200),
            &[mapping("groq", "old-id", "conversational")],
            0,
        );
        cache.store(
            "a/m",
            answer(200),
            &[mapping("groq", "new-id", "conversational")],
            5,
        );
        assert_eq!(cache.model_for("groq", "old-id", 6), None);
        assert_eq!(cache.model_for("groq", "new-id", 6).as_deref(), Some("a/m"));
        // Another model's entry for the same id is not removed by a's answer.
        cache.store(
            "b/m",
            answer(200),
            &[mapping("groq", "shared", "conversational")],
            7,
        );
        cache.store("a/m", answer(200), &[], 8);
        assert_eq!(cache.model_for("groq", "shared", 9).as_deref(), Some("b/m"));
    }

    #[test]
    fn only_the_hubs_word_on_a_model_is_kept() {
        let mut cache = HubCache::new(10_000);
        for status in [404, 200] {
            cache.store(&format!("m/{status}"), answer(status), &[], 0);
        }
        for status in [401, 429, 500, 503] {
            cache.store(&format!("m/{status}"), answer(status), &[], 0);
            assert!(!cache.knows(&format!("m/{status}"), 1), "{status}");
        }
        assert!(cache.knows("m/404", 1) && cache.knows("m/200", 1));
    }

    #[test]
    fn what_is_looked_up_to_map_an_id_back() {
        let allowed = ModelPattern::parse_list(
            "meta-llama/*, gpt2, black-forest-labs/FLUX.1-schnell, gpt2, bad/../id",
        )
        .unwrap();
        let mut cache = HubCache::new(1_000);
        // The id itself when allowed (here by a pattern), then the exact ids.
        assert_eq!(
            cache.to_look_up(&allowed, "meta-llama/Llama-3.1-8B-Instruct", 16, 0),
            [
                "meta-llama/Llama-3.1-8B-Instruct",
                "gpt2",
                "black-forest-labs/FLUX.1-schnell"
            ]
        );
        // An id no pattern allows, or that is no model id, is not looked up.
        for id in [
            "mistralai/Mistral-7B",
            "accounts/fireworks/models/x",
            "llama-3.1-8b-instant",
        ] {
            assert_eq!(
                cache.to_look_up(&allowed, id, 16, 0),
                ["gpt2", "black-forest-labs/FLUX.1-schnell"],
                "{id}"
            );
        }
        assert_eq!(cache.to_look_up(&allowed, "gpt2", 1, 0), ["gpt2"]);
        // What was looked up within the time to live is not looked up again.
        cache.store("gpt2", answer(404), &[], 0);
        cache.store("black-forest-labs/FLUX.1-schnell", answer(200), &[], 0);
        assert!(cache.to_look_up(&allowed, "x", 16, 999).is_empty());
        assert_eq!(
            cache.to_look_up(&allowed, "x", 16, 1_000),
            ["gpt2", "black-forest-labs/FLUX.1-schnell"]
        );
        let any = ModelPattern::parse_list("*").unwrap();
        assert_eq!(cache.to_look_up(&any, "org/model", 16, 0), ["org/model"]);
    }

    #[test]
    fn both_maps_are_bounded() {
        let mut cache = HubCache::new(u64::MAX);
        for i in 0..(MAX_ANSWERS.get() + 5) {
            let id = format!("id-{i}");
            cache.store(
                &format!("o/m{i}"),
                answer(200),
                &[mapping("p", &id, "t")],
                i as u64,
            );
        }
        assert_eq!(cache.answers.len(), MAX_ANSWERS.get());
        assert!(!cache.knows("o/m0", 0));
        // Its provider ids outlive it, within their own bound and time.
        assert_eq!(cache.model_for("p", "id-0", 0).as_deref(), Some("o/m0"));
        let last = MAX_ANSWERS.get() + 4;
        assert_eq!(
            cache.model_for("p", &format!("id-{last}"), 0),
            Some(format!("o/m{last}"))
        );
        let many: Vec<ProviderMapping> = (0..MAX_PROVIDER_IDS.get() + 1)
            .map(|i| mapping("q", &format!("x{i}"), "t"))
            .collect();
        cache.store("o/big", answer(200), &many, 0);
        assert_eq!(cache.reverse.len(), MAX_PROVIDER_IDS.get());
    }
}
