//! Inference providers behind the Hugging Face router: the `provider`
//! option, the Hub's mapping of a model to the providers that serve it, the
//! choice among them, and each provider's route for a task (from the
//! reference client, `@huggingface/inference` 4.13.30). A pair this client
//! has no route for is refused rather than guessed.

use super::document::Document;
use super::error::{Error, ErrorCode};
use super::task::Task;

/// The default provider of task calls, asked of no Hub.
pub const HF_INFERENCE: &str = "hf-inference";
/// The first live provider the Hub maps the model to, for the task.
pub const AUTO: &str = "auto";
/// The router's default base.
pub const ROUTER: &str = "https://router.huggingface.co";
/// The Hub's default base.
pub const HUB: &str = "https://huggingface.co";

/// Checks a `provider` option: names (`"hf-inference"`, `"auto"`,
/// `"together"`, ...) of lower-case letters, digits and `-`, at least one.
/// Errors name `argument`.
pub fn check_providers(names: &[String], argument: &str) -> Result<(), Error> {
    if names.is_empty() {
        return Err(Error::invalid_input(
            argument,
            "must be a provider name or a non-empty array of them",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        let good = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !good {
            let named = if names.len() > 1 {
                format!("{argument}[{i}]")
            } else {
                argument.to_owned()
            };
            return Err(Error::invalid_input(
                &named,
                "must be a provider name such as \"hf-inference\", \"auto\" or \"together\"",
            ));
        }
    }
    Ok(())
}

/// Whether `names` asks for hf-inference alone: the client's own endpoint,
/// with no Hub look-up.
pub fn is_hf_inference_only(names: &[String]) -> bool {
    names.iter().all(|n| n == HF_INFERENCE)
}

/// One provider serving a model, as the Hub maps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The provider's name (`together`).
    pub provider: String,
    /// The model's id at that provider.
    pub provider_id: String,
    /// `live` or `staging`.
    pub status: String,
    /// The task it is served for (`text-to-image`, `conversational`).
    pub task: String,
}

/// The mappings of a Hub answer, in its order, from either of its forms:
/// `{"inferenceProviderMapping": {"together": {"providerId", "status",
/// "task"}}}` or a list `[{"provider", "providerId", "status", "task"}]`
/// (bare or under `inferenceProviderMapping`). Entries without a provider
/// and a provider id are left out; a missing status or task reads as "".
pub fn read_mappings<D: Document>(doc: &D) -> Vec<Mapping> {
    let mapping = doc
        .member("inferenceProviderMapping")
        .unwrap_or_else(|| doc.clone());
    let entry = |provider: Option<String>, value: &D| {
        let text = |key: &str| value.member(key).and_then(|v| v.as_text());
        Some(Mapping {
            provider: provider
                .or_else(|| text("provider"))
                .filter(|p| !p.is_empty())?,
            provider_id: text("providerId").filter(|id| !id.is_empty())?,
            status: text("status").unwrap_or_default(),
            task: text("task").unwrap_or_default(),
        })
    };
    // Loops rather than `filter_map().collect()`: each chain is its own
    // copy of the iterator code in the wasm.
    let mut mappings = Vec::new();
    if let Some(list) = mapping.elements() {
        for item in &list {
            if let Some(found) = entry(None, item) {
                mappings.push(found);
            }
        }
    } else {
        for (name, value) in mapping.entries() {
            if let Some(found) = entry(Some(name), &value) {
                mappings.push(found);
            }
        }
    }
    mappings
}

/// The Hub's name of a task, as its mappings name it.
pub fn hub_task(task: Task) -> &'static str {
    match task {
        Task::Chat => "conversational",
        other => other.name(),
    }
}

/// The route of `task` at `provider` under `${routerUrl}/{provider}/`, for
/// the providers other than hf-inference; `None` for a pair this client
/// does not support.
pub fn provider_route(provider: &str, task: Task) -> Option<&'static str> {
    Some(match (provider, task) {
        ("together", Task::TextGeneration) => "v1/completions",
        // Groq serves text generation on its chat route only.
        ("groq", Task::TextGeneration) => "openai/v1/chat/completions",
        ("together" | "nscale", Task::TextToImage) => "v1/images/generations",
        ("together" | "scaleway", Task::FeatureExtraction) => "v1/embeddings",
        _ => return None,
    })
}

/// A pair this client has no route for, as INVALID_INPUT naming both.
pub fn unsupported(provider: &str, task: Task) -> Error {
    Error::invalid_input(
        "provider",
        &format!(
            "provider {provider} is not supported for task {} by this client",
            hub_task(task)
        ),
    )
}

/// Refuses a named provider this client has no route of `task` for (before
/// the Hub is asked anything).
pub fn check_supported(wanted: &[String], task: Task) -> Result<(), Error> {
    match wanted
        .iter()
        .find(|n| *n != AUTO && *n != HF_INFERENCE && provider_route(n, task).is_none())
    {
        Some(named) => Err(unsupported(named, task)),
        None => Ok(()),
    }
}

/// The providers a call goes to, in order, with the model's id at each:
/// `wanted` resolved against the Hub's `mappings` of `model` for `task`.
/// `"hf-inference"` needs no mapping (its id is the model's own); `"auto"`
/// is the first live mapping of the task that this client supports; a name
/// is its own mapping of the task. Providers the model has no mapping at
/// are left out; none left is NO_PROVIDER, naming the model, the task and
/// the tasks it is served for.
pub fn choose(
    wanted: &[String],
    mappings: &[Mapping],
    model: &str,
    task: Task,
) -> Result<Vec<(String, String)>, Error> {
    let hub_name = hub_task(task);
    // On hf-inference the two sentence-transformers tasks are one.
    const SENTENCES: [&str; 2] = ["feature-extraction", "sentence-similarity"];
    let serves = |m: &&Mapping| {
        m.task == hub_name
            || (m.provider == HF_INFERENCE
                && SENTENCES.contains(&m.task.as_str())
                && SENTENCES.contains(&hub_name))
    };
    check_supported(wanted, task)?;
    let mut chosen: Vec<(String, String)> = Vec::new();
    let mut unsupported_pair = None;
    for name in wanted {
        let found = match name.as_str() {
            HF_INFERENCE => Some((HF_INFERENCE.to_owned(), model.to_owned())),
            AUTO => mappings
                .iter()
                .filter(serves)
                .filter(|m| m.status == "live")
                .find(|m| {
                    let ok =
                        m.provider == HF_INFERENCE || provider_route(&m.provider, task).is_some();
                    if !ok && unsupported_pair.is_none() {
                        unsupported_pair = Some(m.provider.clone());
                    }
                    ok
                })
                .map(|m| (m.provider.clone(), m.provider_id.clone())),
            named => mappings
                .iter()
                .filter(serves)
                .find(|m| m.provider == named)
                .map(|m| (m.provider.clone(), m.provider_id.clone())),
        };
        if let Some(found) = found {
            if !chosen.iter().any(|(p, _)| *p == found.0) {
                chosen.push(found);
            }
        }
    }
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    if let Some(provider) = unsupported_pair {
        return Err(unsupported(&provider, task));
    }
    // Loops, not `collect()` and `dedup()`: each is its own copy of the
    // standard library's code in the wasm. Repeats in a row go, as `dedup`.
    let mut served: Vec<&str> = Vec::new();
    for mapping in mappings {
        if served.last() != Some(&mapping.task.as_str()) {
            served.push(&mapping.task);
        }
    }
    let served = if served.is_empty() {
        "no task at all".to_owned()
    } else {
        super::text::joined(&served, ", ")
    };
    Err(Error::new(
        ErrorCode::NoProvider,
        format!(
            "no provider serves {model} for {hub_name} (asked: {}); the Hub maps it for {served}",
            super::text::joined(&super::text::borrowed(wanted), ", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn mapping(provider: &str, id: &str, status: &str, task: &str) -> Mapping {
        Mapping {
            provider: provider.into(),
            provider_id: id.into(),
            status: status.into(),
            task: task.into(),
        }
    }

    #[test]
    fn both_forms_of_the_hub_answer_are_read_in_order() {
        let object = json!({"_id": "x", "inferenceProviderMapping": {
            "fal-ai": {"providerId": "fal/flux", "status": "staging", "task": "text-to-image"},
            "together": {"providerId": "t/flux", "status": "live", "task": "text-to-image"}}});
        assert_eq!(
            read_mappings(&object),
            [
                mapping("fal-ai", "fal/flux", "staging", "text-to-image"),
                mapping("together", "t/flux", "live", "text-to-image")
            ]
        );
        let list = json!([{"provider": "scaleway", "providerId": "bge", "status": "live", "task": "feature-extraction"}]);
        assert_eq!(
            read_mappings(&list),
            [mapping("scaleway", "bge", "live", "feature-extraction")]
        );
        assert_eq!(read_mappings(&json!({"inferenceProviderMapping": {}})), []);
        assert_eq!(read_mappings(&json!({"id": "gpt2"})), []);
    }

    #[test]
    fn auto_takes_the_first_live_supported_mapping_of_the_task() {
        let hub = [
            mapping("fal-ai", "fal/flux", "live", "text-to-image"),
            mapping("nscale", "n/flux", "staging", "text-to-image"),
            mapping("together", "t/flux", "live", "text-to-image"),
        ];
        assert_eq!(
            choose(&names(&["auto"]), &hub, "b/flux", Task::TextToImage),
            Ok(vec![("together".to_owned(), "t/flux".to_owned())])
        );
        assert_eq!(
            choose(
                &names(&["nscale", "hf-inference"]),
                &hub,
                "b/flux",
                Task::TextToImage
            ),
            Ok(vec![
                ("nscale".to_owned(), "n/flux".to_owned()),
                ("hf-inference".to_owned(), "b/flux".to_owned())
            ])
        );
        // Only an unsupported provider is live: named rather than guessed.
        let only_fal = [mapping("fal-ai", "fal/flux", "live", "text-to-image")];
        let err = choose(&names(&["auto"]), &only_fal, "b/flux", Task::TextToImage).unwrap_err();
        assert_eq!(
            err.message(),
            "provider: provider fal-ai is not supported for task text-to-image by this client"
        );
        let err = choose(&names(&["groq"]), &hub, "b/flux", Task::TextToImage).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
    }

    #[test]
    fn a_model_nothing_serves_is_no_provider_naming_what_it_is_served_for() {
        let err = choose(&names(&["auto"]), &[], "gpt2", Task::TextGeneration).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                ErrorCode::NoProvider,
                "no provider serves gpt2 for text-generation (asked: auto); the Hub maps it for no task at all"
            )
        );
        let chat_only = [mapping("together", "t/llama", "live", "conversational")];
        let err = choose(
            &names(&["together"]),
            &chat_only,
            "m/llama",
            Task::TextGeneration,
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "no provider serves m/llama for text-generation (asked: together); the Hub maps it for conversational"
        );
    }

    #[test]
    fn provider_names_are_checked() {
        assert_eq!(
            check_providers(&names(&["together", "auto"]), "provider"),
            Ok(())
        );
        assert_eq!(
            check_providers(&names(&["ok", "Bad Name"]), "provider")
                .unwrap_err()
                .message(),
            "provider[1]: must be a provider name such as \"hf-inference\", \"auto\" or \"together\""
        );
        assert!(check_providers(&[], "provider").is_err());
        assert!(is_hf_inference_only(&names(&["hf-inference"])));
        assert!(!is_hf_inference_only(&names(&["hf-inference", "auto"])));
    }
}
