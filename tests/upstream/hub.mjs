// The Hub's model API as the local upstream answers it:
//   GET /api/models/{model}?expand[]=inferenceProviderMapping
// from HUB_MAPPINGS (or a server's overrides, up.hub(model, mapping)); and the
// router's model list with its per-token prices, GET /v1/models, from the same
// mappings and ROUTER_PRICING (or up.routerModels(answer)).

import { createHash } from "node:crypto";

import { MODEL_TASKS } from "./tasks.mjs";

function live(providerId, task) {
  return { providerId, status: "live", task };
}

/** Models of the recordings and their hf-inference task, for the Hub (their answers are as before). */
const RECORDED_MODEL_TASKS = {
  "distilbert/distilbert-base-uncased-finetuned-sst-2-english": "text-classification",
  "distilbert-base-uncased-finetuned-sst-2-english": "text-classification",
  "facebook/bart-large-mnli": "zero-shot-classification",
  "google/vit-base-patch16-224": "image-classification",
  "google/flan-t5-xxl": "text-generation",
  "google/gemma-2b": "text-generation",
  "meta-llama/Llama-3.2-3B": "text-generation",
  "OpenAssistant/oasst-sft-4-pythia-12b-epoch-3.5": "text-generation",
  "mistralai/Mistral-7B-Instruct-v0.2": "conversational",
  "HuggingFaceH4/zephyr-7b-beta": "conversational",
  "meta-llama/Meta-Llama-3-70B-Instruct": "conversational",
};

function deepFreeze(value) {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * model id -> its `inferenceProviderMapping`, in the object form
 * ({provider: {providerId, status, task}}) or, for BAAI/bge-large-en-v1.5, the list
 * form ([{provider, providerId, status, task}]); the Hub has answered both.
 */
export const HUB_MAPPINGS = (() => {
  const table = {
    gpt2: {},
    "openai-community/gpt2": {},
    "meta-llama/Llama-3.1-8B-Instruct": {
      together: live("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "conversational"),
      groq: live("llama-3.1-8b-instant", "conversational"),
      "hf-inference": live("meta-llama/Llama-3.1-8B-Instruct", "conversational"),
    },
    "black-forest-labs/FLUX.1-schnell": {
      together: live("black-forest-labs/FLUX.1-schnell-Free", "text-to-image"),
      nscale: live("black-forest-labs/FLUX.1-schnell", "text-to-image"),
      "hf-inference": live("black-forest-labs/FLUX.1-schnell", "text-to-image"),
    },
    "sentence-transformers/all-MiniLM-L6-v2": {
      "hf-inference": live("sentence-transformers/all-MiniLM-L6-v2", "feature-extraction"),
      scaleway: live("sentence-transformers/all-MiniLM-L6-v2", "feature-extraction"),
    },
    "BAAI/bge-large-en-v1.5": [
      { provider: "together", ...live("BAAI/bge-large-en-v1.5", "feature-extraction") },
      { provider: "hf-inference", providerId: "BAAI/bge-large-en-v1.5", status: "staging", task: "feature-extraction" },
    ],
    "Qwen/Qwen2.5-7B-Instruct": {
      together: live("Qwen/Qwen2.5-7B-Instruct-Turbo", "text-generation"),
    },
  };
  for (const [model, task] of [...Object.entries(MODEL_TASKS), ...Object.entries(RECORDED_MODEL_TASKS)]) {
    table[model] ??= { "hf-inference": live(model, task) };
  }
  return deepFreeze(table);
})();

/** Throws unless `mapping` is null, a list or a plain object (an override's shape). */
export function validateHubMapping(model, mapping) {
  if (typeof model !== "string" || model.length === 0) throw new TypeError("hub: model must be a non-empty string");
  if (mapping !== null && (typeof mapping !== "object" || (Object.getPrototypeOf(mapping) !== Object.prototype && !Array.isArray(mapping)))) {
    throw new TypeError("hub: mapping must be an object, a list or null");
  }
}

/** The model id of a Hub path, or null when it is not /api/models/{name} or /api/models/{owner}/{name}. */
export function hubModel(path) {
  if (!path.startsWith("/api/models/")) return null;
  const rest = path.slice("/api/models/".length);
  const segments = rest.split("/");
  if (segments.length > 2 || segments.some((s) => s.length === 0)) return null;
  try {
    return segments.map(decodeURIComponent).join("/");
  } catch {
    return null; // a malformed escape
  }
}

/**
 * The Hub's answer for `model`: { status, value }. `mapping` is the model's
 * mapping (undefined or null: unknown, 404). `expand` lists the requested fields.
 */
export function hubAnswer(model, mapping, expand) {
  if (mapping === undefined || mapping === null) return { status: 404, value: { error: "Repository not found" } };
  const value = { _id: createHash("sha256").update(`hub:${model}`).digest("hex").slice(0, 24), id: model };
  if (expand.includes("inferenceProviderMapping")) value.inferenceProviderMapping = mapping;
  return { status: 200, value };
}

/**
 * The router's per-token prices (USD per million tokens) that GET /v1/models
 * lists, by model and provider; a provider missing here is listed unpriced, as
 * the router lists some. meta-llama/Llama-3.1-8B-Instruct at together stays
 * unpriced, so that the proxy's tests of reservations charge their estimate.
 */
export const ROUTER_PRICING = deepFreeze({
  "meta-llama/Llama-3.1-8B-Instruct": { groq: { input: 0.05, output: 0.08 } },
  "Qwen/Qwen2.5-7B-Instruct": { together: { input: 0.3, output: 0.3 } },
});

const CHAT_TASKS = new Set(["conversational", "text-generation"]);

/**
 * The router's answer to GET /v1/models: every model of `mappings` that a
 * provider other than hf-inference serves for chat or text generation, with
 * its providers (and their prices, from ROUTER_PRICING).
 */
export function routerModels(mappings = HUB_MAPPINGS) {
  const data = [];
  for (const [id, mapping] of Object.entries(mappings)) {
    const entries = Array.isArray(mapping) ? mapping : Object.entries(mapping).map(([provider, m]) => ({ provider, ...m }));
    const providers = entries
      .filter((m) => m.provider !== "hf-inference" && CHAT_TASKS.has(m.task))
      .map((m) => {
        const pricing = ROUTER_PRICING[id]?.[m.provider];
        return { provider: m.provider, status: m.status, ...(pricing ? { pricing: { ...pricing } } : {}) };
      });
    if (providers.length > 0) data.push({ id, object: "model", created: 1700000000, owned_by: id.split("/")[0], providers });
  }
  return { object: "list", data };
}
