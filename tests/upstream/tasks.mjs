// Synthesised answers of the tasks that issue 12 brings to the local upstream
// (upstream.mjs routes to them): embeddings and sentence similarity, OpenAI-style
// completions, images and embeddings, and the hf-inference tasks of the models in
// MODEL_TASKS. Deterministic: the same request gives the same bytes, content derived
// from a SHA-256 of the input (common.mjs `seeded`). Node built-ins only.

import { createHash } from "node:crypto";

import {
  CANDIDATE_LABELS_ERROR,
  STREAM_MIN_TOKENS,
  asJson,
  canonical,
  computeTime,
  errorAnswer,
  imageBytesOf,
  isBase64Image,
  jsonAnswer,
  parseCandidateLabels,
  pickWords,
  positiveInt,
  seeded,
  sse,
} from "./common.mjs";
import { encodePng } from "./png.mjs";

/** The `created` of every synthesised OpenAI-style answer (chat uses the same). */
export const CREATED = 1700000000;
export const EMBEDDING_DIMS = 16;
export const IMAGE_SIZE = 64;
export const DEFAULT_COMPLETION_TOKENS = 20;
const MAX_COMPLETION_TOKENS = 256;

/** The hf-inference task of each model whose answers this module synthesises at POST /models/{model}. */
export const MODEL_TASKS = Object.freeze({
  "sentence-transformers/all-MiniLM-L6-v2": "feature-extraction",
  "BAAI/bge-large-en-v1.5": "feature-extraction",
  "black-forest-labs/FLUX.1-schnell": "text-to-image",
  "stabilityai/stable-diffusion-xl-base-1.0": "text-to-image",
  "facebook/bart-large-cnn": "summarization",
  "sshleifer/distilbart-cnn-12-6": "summarization",
  "Helsinki-NLP/opus-mt-en-fr": "translation",
  "google-t5/t5-small": "translation",
  "dslim/bert-base-NER": "token-classification",
  "deepset/roberta-base-squad2": "question-answering",
  "google-bert/bert-base-uncased": "fill-mask",
  "FacebookAI/roberta-base": "fill-mask",
  "facebook/detr-resnet-50": "object-detection",
  "facebook/detr-resnet-50-panoptic": "image-segmentation",
  "nvidia/segformer-b0-finetuned-ade-512-512": "image-segmentation",
  "Salesforce/blip-image-captioning-large": "image-to-text",
  "nlpconnect/vit-gpt2-image-captioning": "image-to-text",
  "openai/clip-vit-large-patch14": "zero-shot-image-classification",
  "openai/clip-vit-base-patch32": "zero-shot-image-classification",
  "openai/whisper-large-v3": "automatic-speech-recognition",
  "openai/whisper-tiny": "automatic-speech-recognition",
  "superb/hubert-large-superb-er": "audio-classification",
  "MIT/ast-finetuned-audioset-10-10-0.4593": "audio-classification",
});

const NER_GROUPS = ["PER", "LOC", "ORG", "MISC"];
const CAPITALISED_RUN = /\p{Lu}[\p{L}\p{N}'’-]*(?: \p{Lu}[\p{L}\p{N}'’-]*)*/gu;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
const FUNCTION_WORDS = new Set(
  "I A An The My Our Your His Her Its Their It He She We They You This That These Those In On At Of And But Or If When What Where Who".split(
    " ",
  ),
);
const FILL_WORDS = (
  "life love happiness music time paris london water freedom home peace art science family work nothing"
).split(" ");
const DETECTION_LABELS = ["cat", "dog", "person", "remote", "couch", "bicycle", "car", "bird", "cup", "laptop"];
const SEGMENT_LABELS = {
  panoptic: ["cat", "couch", "remote", "blanket", "wall-other-merged", "sky-other-merged", "floor-wood"],
  ade: ["wall", "floor", "ceiling", "sky", "tree", "building", "person", "table"],
};
const CAPTION_SUBJECTS = ["a cat", "two cats", "a dog", "a small bird", "a red car", "a bowl of fruit", "a man", "a woman"];
const CAPTION_ACTIONS = ["sitting on", "lying on", "standing next to", "looking at", "playing with"];
const CAPTION_PLACES = ["a couch", "a wooden table", "the grass", "a window", "a blanket", "the beach"];
const AUDIO_LABELS = {
  emotion: ["neu", "hap", "ang", "sad"],
  audioset: ["Speech", "Music", "Silence", "Animal", "Vehicle", "Inside, small room", "Singing", "Dog"],
};
const TOP_K = 5;

// ---------------------------------------------------------------------------
// Small helpers

function words(text) {
  return String(text).split(/\s+/).filter(Boolean);
}

function sha(value) {
  return createHash("sha256").update(value).digest("hex");
}

/** The offset in Unicode code points (as Python counts them) of UTF-16 index i of text. */
function codePoints(text, i) {
  return [...text.slice(0, i)].length;
}

/** Scores for n classes: seeded weights, sorted descending, summing to `mass` (1 for a softmax). */
function scores(rand, n, mass = 1) {
  const raw = Array.from({ length: n }, () => Math.exp(4 * rand()));
  const sum = raw.reduce((s, x) => s + x, 0);
  return raw.map((x) => (x / sum) * mass);
}

function ranked(labels, values) {
  return labels.map((label, i) => ({ label, score: values[i] })).sort((a, b) => b.score - a.score);
}

function validation(status, message) {
  return {
    status,
    headers: { "content-type": "application/json", "x-inference-provider": "hf-inference" },
    body: asJson({ error: message, error_type: "validation" }),
  };
}

function binaryAnswer(contentType, bytes, rand) {
  return {
    status: 200,
    headers: {
      "content-type": contentType,
      "x-compute-time": computeTime(rand),
      "x-compute-type": "cpu",
      "x-inference-provider": "hf-inference",
    },
    body: bytes,
  };
}

const NO_INPUTS = "The request body must be a JSON object with an `inputs` field";
const TEXT_INPUTS = "`inputs` must be a string or a list of strings";

/** The JSON body's object, or an error answer. */
function payloadOf(json) {
  if (!json.ok) return { error: errorAnswer(400, "The request body must be JSON") };
  const p = json.value;
  if (!p || typeof p !== "object" || Array.isArray(p) || !("inputs" in p)) return { error: errorAnswer(400, NO_INPUTS) };
  const parameters = p.parameters && typeof p.parameters === "object" && !Array.isArray(p.parameters) ? p.parameters : {};
  return { inputs: p.inputs, parameters };
}

function isStringList(v) {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/**
 * A text task's inputs: a list of strings (one result each) or a string, answered
 * as a one-element list of its result, or with `bare` as its result alone (for
 * results that are lists). `one(text, parameters)` gives { value } or { error }.
 */
function perText(task, model, json, one, bare = false) {
  const { inputs, parameters, error } = payloadOf(json);
  if (error) return error;
  if (typeof inputs !== "string" && !isStringList(inputs)) return errorAnswer(400, TEXT_INPUTS);
  const rand = seeded(`${task}-timing`, model, canonical(inputs), canonical(parameters));
  const list = typeof inputs === "string" ? [inputs] : inputs;
  const results = [];
  for (const text of list) {
    const r = one(text, parameters);
    if (r.error) return r.error;
    results.push(r.value);
  }
  return jsonAnswer(200, bare && typeof inputs === "string" ? results[0] : results, rand);
}

/** Raw bytes, or JSON {inputs: <base64>}: { bytes, parameters } or { error }. */
function binaryInput(body, json, what) {
  if (body.length === 0) return { error: errorAnswer(400, "Request body is empty") };
  if (!json.ok) return { bytes: body, parameters: {} };
  const { inputs, parameters, error } = payloadOf(json);
  if (error) return { error };
  if (typeof inputs !== "string" || inputs.length === 0) {
    return { error: errorAnswer(400, `The request body must be the ${what} bytes, or JSON {"inputs": <base64>}`) };
  }
  return { bytes: imageBytesOf(inputs), parameters };
}

// ---------------------------------------------------------------------------
// Embeddings and sentence similarity

/**
 * A unit-length vector of EMBEDDING_DIMS numbers: a fixed base plus one seeded
 * vector in [-1, 1) per lowercased word, so texts sharing words are closer.
 */
export function embedding(text) {
  const base = seeded("embedding-base");
  const v = Array.from({ length: EMBEDDING_DIMS }, () => base());
  const tokens = String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [String(text)];
  for (const token of tokens) {
    const r = seeded("embedding-word", token);
    for (let i = 0; i < EMBEDDING_DIMS; i++) v[i] += 2 * r() - 1;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** Cosine similarity of two texts' embeddings, rounded to 6 decimals (identical texts give 1). */
export function similarity(a, b) {
  const va = embedding(a);
  const vb = embedding(b);
  let dot = 0;
  for (let i = 0; i < EMBEDDING_DIMS; i++) dot += va[i] * vb[i];
  return Math.round(dot * 1e6) / 1e6;
}

/**
 * POST /models/{m}/pipeline/feature-extraction, /pipeline/sentence-similarity and
 * POST /models/{m} of a feature-extraction model: {inputs: text} -> number[],
 * {inputs: [texts]} -> number[][], {inputs: {source_sentence, sentences}} -> number[].
 */
export function featureExtraction(model, json) {
  const { inputs, error } = payloadOf(json);
  if (error) return error;
  const rand = seeded("feature-extraction-timing", model, canonical(inputs));
  if (typeof inputs === "string") return jsonAnswer(200, embedding(inputs), rand);
  if (isStringList(inputs)) return jsonAnswer(200, inputs.map(embedding), rand);
  if (inputs && typeof inputs === "object" && !Array.isArray(inputs) && "source_sentence" in inputs) {
    if (typeof inputs.source_sentence !== "string") return errorAnswer(400, "`source_sentence` must be a string");
    if (!isStringList(inputs.sentences)) return errorAnswer(400, "`sentences` must be a list of strings");
    return jsonAnswer(
      200,
      inputs.sentences.map((s) => similarity(inputs.source_sentence, s)),
      rand,
    );
  }
  return errorAnswer(400, "`inputs` must be a string, a list of strings or {source_sentence, sentences}");
}

/** POST /{provider}/v1/embeddings: {model, input: string | string[]} -> an OpenAI embeddings list. */
export function embeddingsList(json) {
  const p = json.ok ? json.value : null;
  if (!p || typeof p !== "object" || Array.isArray(p) || typeof p.model !== "string") {
    return validation(422, "Input validation error: `model` must be a string");
  }
  if (typeof p.input !== "string" && !isStringList(p.input)) {
    return validation(422, "Input validation error: `input` must be a string or a list of strings");
  }
  const list = typeof p.input === "string" ? [p.input] : p.input;
  const tokens = list.reduce((n, t) => n + words(t).length, 0);
  return jsonAnswer(
    200,
    {
      object: "list",
      data: list.map((t, index) => ({ object: "embedding", index, embedding: embedding(t) })),
      model: p.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
    seeded("embeddings-timing", canonical(p)),
  );
}

// ---------------------------------------------------------------------------
// Completions (hf-inference's text generation today, and providers')

/**
 * {model, prompt, max_tokens?, stream?, ...} -> a text_completion of max_tokens
 * words (default 20, at most 256) from common.mjs WORDS, each after a space. A stream has at
 * least STREAM_MIN_TOKENS events, then `data: [DONE]`. The words depend on the
 * model and the body but for `stream` and `max_tokens`, so that a shorter answer is
 * the start of a longer one, and a stream says what a plain answer says. `model`
 * is the path's, or the body's where the path has none (it must be a string).
 */
export function completion(model, json) {
  if (!json.ok) return validation(400, "Failed to parse the request body as JSON");
  const p = json.value;
  if (!p || typeof p !== "object" || Array.isArray(p) || typeof p.prompt !== "string") {
    return validation(422, "Input validation error: `prompt` must be a string");
  }
  if (typeof model !== "string") return validation(422, "Input validation error: `model` must be a string");
  if (p.max_tokens !== undefined && p.max_tokens !== null && !positiveInt(p.max_tokens)) {
    return validation(422, "Input validation error: `max_tokens` must be a positive integer");
  }
  const { stream: _stream, stream_options: streamOptions, ...rest } = p;
  const { max_tokens: _max, ...content } = rest;
  const stream = p.stream === true;
  const wanted = positiveInt(p.max_tokens) ?? DEFAULT_COMPLETION_TOKENS;
  const n = Math.min(stream ? Math.max(wanted, STREAM_MIN_TOKENS) : wanted, MAX_COMPLETION_TOKENS);
  const rand = seeded("completion", model, canonical(content));
  const picked = pickWords(rand, n);
  const id = `cmpl-${sha(canonical({ ...rest, model })).slice(0, 24)}`;
  const head = { id, object: "text_completion", created: CREATED, model };
  if (stream) {
    const events = picked.map((w, i) => ({
      ...head,
      choices: [{ index: 0, text: ` ${w}`, logprobs: null, finish_reason: i === picked.length - 1 ? "length" : null }],
    }));
    if (streamOptions?.include_usage === true) {
      const promptTokens = words(p.prompt).length;
      for (const event of events) event.usage = null;
      events.push({ ...head, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n } });
    }
    events.push("[DONE]");
    return sse(events, rand);
  }
  const promptTokens = words(p.prompt).length;
  return jsonAnswer(
    200,
    {
      ...head,
      choices: [{ index: 0, text: picked.map((w) => ` ${w}`).join(""), logprobs: null, finish_reason: "length" }],
      usage: { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n },
    },
    rand,
  );
}

// ---------------------------------------------------------------------------
// Images

/**
 * The IMAGE_SIZE x IMAGE_SIZE RGB PNG of a prompt: a vertical gradient from a
 * top colour to a bottom colour, both from a hash of the prompt (and of `index`,
 * for the second and later images of one request).
 */
export function promptPng(prompt, index = 0) {
  const rand = index === 0 ? seeded("text-to-image", prompt) : seeded("text-to-image", prompt, String(index));
  const top = [rand(), rand(), rand()].map((x) => Math.floor(x * 256));
  const bottom = [rand(), rand(), rand()].map((x) => Math.floor(x * 256));
  const pixels = Buffer.alloc(IMAGE_SIZE * IMAGE_SIZE * 3);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const t = y / (IMAGE_SIZE - 1);
    const row = top.map((c, i) => Math.round(c + (bottom[i] - c) * t));
    for (let x = 0; x < IMAGE_SIZE; x++) pixels.set(row, (y * IMAGE_SIZE + x) * 3);
  }
  return encodePng(IMAGE_SIZE, IMAGE_SIZE, 3, pixels);
}

/** A greyscale IMAGE_SIZE mask: 255 inside a seeded rectangle, 0 elsewhere. */
function maskPng(rand) {
  const x0 = Math.floor(rand() * (IMAGE_SIZE / 2));
  const y0 = Math.floor(rand() * (IMAGE_SIZE / 2));
  const x1 = x0 + 8 + Math.floor(rand() * (IMAGE_SIZE / 2 - 8));
  const y1 = y0 + 8 + Math.floor(rand() * (IMAGE_SIZE / 2 - 8));
  const pixels = Buffer.alloc(IMAGE_SIZE * IMAGE_SIZE);
  for (let y = y0; y < y1; y++) pixels.fill(255, y * IMAGE_SIZE + x0, y * IMAGE_SIZE + x1);
  return encodePng(IMAGE_SIZE, IMAGE_SIZE, 1, pixels);
}

function textToImage(model, json) {
  const { inputs, parameters, error } = payloadOf(json);
  if (error) return error;
  if (typeof inputs !== "string" || inputs.length === 0) return errorAnswer(400, "`inputs` must be a non-empty string");
  return binaryAnswer("image/png", promptPng(inputs), seeded("text-to-image-timing", model, inputs, canonical(parameters)));
}

/**
 * POST /{provider}/v1/images/generations and /v1/images/generations:
 * {model?, prompt, n?, ...} -> {created, data: [{b64_json}]}, n images (1 to 4), the
 * first the PNG that text-to-image gives for the prompt. Sizes are not honoured.
 */
export function imagesGeneration(json) {
  const p = json.ok ? json.value : null;
  if (!p || typeof p !== "object" || Array.isArray(p) || typeof p.prompt !== "string") {
    return validation(422, "Input validation error: `prompt` must be a string");
  }
  const n = Math.min(positiveInt(p.n) ?? 1, 4);
  const data = Array.from({ length: n }, (_, i) => ({ b64_json: promptPng(p.prompt, i).toString("base64") }));
  return jsonAnswer(200, { created: CREATED, data }, seeded("images-timing", canonical(p)));
}

// ---------------------------------------------------------------------------
// Text tasks

function summary(text) {
  return { value: { summary_text: words(text).slice(0, 12).join(" ") } };
}

function translationOf(text) {
  return { value: { translation_text: words(text).reverse().join(" ") } };
}

/**
 * Runs of capitalised words ("New York"), each an entity with code-point offsets,
 * but for a lone capitalised function word ("I", "The", "My", ...).
 */
function entities(model, text) {
  const out = [];
  for (const m of text.matchAll(CAPITALISED_RUN)) {
    if (FUNCTION_WORDS.has(m[0])) continue;
    const rand = seeded("token-classification", model, m[0]);
    const start = codePoints(text, m.index);
    out.push({
      entity_group: NER_GROUPS[Math.floor(rand() * NER_GROUPS.length)],
      score: 0.9 + rand() * 0.0999,
      word: m[0],
      start,
      end: start + [...m[0]].length,
    });
  }
  return { value: out };
}

function maskToken(model) {
  return model.toLowerCase().includes("roberta") ? "<mask>" : "[MASK]";
}

function fillMaskOne(model, text) {
  const mask = maskToken(model);
  if (!text.includes(mask)) return { error: errorAnswer(400, `No mask_token (${mask}) found on the input`) };
  const rand = seeded("fill-mask", model, text);
  const pool = [...FILL_WORDS];
  const picked = [];
  while (picked.length < TOP_K) picked.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
  const values = scores(rand, TOP_K, 0.6 + rand() * 0.35).sort((a, b) => b - a);
  const uncased = model.toLowerCase().includes("uncased");
  const tokenBase = mask === "<mask>" ? 1000 : 2000;
  return {
    value: picked.map((token_str, i) => {
      const sequence = text.replace(mask, token_str);
      return {
        sequence: uncased ? sequence.toLowerCase() : sequence,
        score: values[i],
        token: tokenBase + FILL_WORDS.indexOf(token_str),
        token_str,
      };
    }),
  };
}

function fillMask(model, json) {
  const { inputs, error } = payloadOf(json);
  if (error) return error;
  if (typeof inputs !== "string") return errorAnswer(400, "`inputs` must be a string");
  const r = fillMaskOne(model, inputs);
  return r.error ?? jsonAnswer(200, r.value, seeded("fill-mask-timing", model, inputs));
}

/**
 * {inputs: {question, context}} -> a word of the context, offsets in code points:
 * after the context's last word that the question has (or from its start), the
 * first capitalised word (not a function word like "I") the question has not, else
 * the first such word of three letters or more; failing that, the first capitalised
 * word not opening the context, else its longest word.
 */
function questionAnswering(model, json) {
  const { inputs, error } = payloadOf(json);
  if (error) return error;
  if (!inputs || typeof inputs.question !== "string" || typeof inputs.context !== "string") {
    return errorAnswer(400, "`inputs` must be an object {question, context} of two strings");
  }
  const { question, context } = inputs;
  const asked = new Set(question.toLowerCase().match(WORD) ?? []);
  const found = [...context.matchAll(WORD)];
  const isAsked = (m) => asked.has(m[0].toLowerCase());
  const capitalised = (m) => /^\p{Lu}/u.test(m[0]) && !FUNCTION_WORDS.has(m[0]);
  const after = found.slice(found.findLastIndex(isAsked) + 1).filter((m) => !isAsked(m));
  const pick =
    after.find(capitalised) ??
    after.find((m) => m[0].length >= 3) ??
    found.find((m) => m.index > 0 && capitalised(m) && !isAsked(m)) ??
    found.reduce((best, m) => (best && best[0].length >= m[0].length ? best : m), null);
  const rand = seeded("question-answering", model, question, context);
  const start = pick ? codePoints(context, pick.index) : 0;
  const answer = pick ? pick[0] : "";
  return jsonAnswer(200, { answer, score: 0.5 + rand() * 0.4999, start, end: start + [...answer].length }, rand);
}

// ---------------------------------------------------------------------------
// Image and audio tasks

function objectDetection(model, body, json) {
  const { bytes, error } = binaryInput(body, json, "image");
  if (error) return error;
  const rand = seeded("object-detection", model, bytes);
  const count = 1 + Math.floor(rand() * 4);
  const found = [];
  for (let i = 0; i < count; i++) {
    const xmin = Math.floor(rand() * 320);
    const ymin = Math.floor(rand() * 240);
    found.push({
      label: DETECTION_LABELS[Math.floor(rand() * DETECTION_LABELS.length)],
      score: 0.9 + rand() * 0.0999,
      box: { xmin, ymin, xmax: xmin + 20 + Math.floor(rand() * 300), ymax: ymin + 20 + Math.floor(rand() * 220) },
    });
  }
  return jsonAnswer(200, found.sort((a, b) => b.score - a.score), rand);
}

function imageSegmentation(model, body, json) {
  const { bytes, error } = binaryInput(body, json, "image");
  if (error) return error;
  const rand = seeded("image-segmentation", model, bytes);
  const pool = [...(model.toLowerCase().includes("ade") ? SEGMENT_LABELS.ade : SEGMENT_LABELS.panoptic)];
  const count = 2 + Math.floor(rand() * 3);
  const segments = [];
  for (let i = 0; i < count; i++) {
    const label = pool.splice(Math.floor(rand() * pool.length), 1)[0];
    segments.push({ label, score: 0.9 + rand() * 0.0999, mask: maskPng(rand).toString("base64") });
  }
  return jsonAnswer(200, segments.sort((a, b) => b.score - a.score), rand);
}

function imageToText(model, body, json) {
  const { bytes, error } = binaryInput(body, json, "image");
  if (error) return error;
  const rand = seeded("image-to-text", model, bytes);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const caption = `${pick(CAPTION_SUBJECTS)} ${pick(CAPTION_ACTIONS)} ${pick(CAPTION_PLACES)}`;
  return jsonAnswer(200, [{ generated_text: caption }], rand);
}

/** {inputs: {image: <base64>} or <base64>, parameters: {candidate_labels}} -> [{label, score}], summing to 1. */
function zeroShotImage(model, json) {
  const { inputs, parameters, error } = payloadOf(json);
  if (error) return error;
  const image = inputs && typeof inputs === "object" ? inputs.image : inputs;
  if (typeof image !== "string" || image.length === 0) {
    return errorAnswer(400, "`inputs` must be {image: <base64>} (or the base64 string)");
  }
  const labels = parseCandidateLabels(parameters.candidate_labels);
  if (!labels || labels.length === 0) return errorAnswer(400, CANDIDATE_LABELS_ERROR);
  const rand = seeded("zero-shot-image-classification", model, imageBytesOf(image), canonical(labels));
  return jsonAnswer(200, ranked(labels, scores(rand, labels.length)), rand);
}

function speechRecognition(model, body, json) {
  const { bytes, error } = binaryInput(body, json, "audio");
  if (error) return error;
  const rand = seeded("automatic-speech-recognition", model, bytes);
  const said = pickWords(rand, 6 + Math.floor(rand() * 9)).join(" ");
  return jsonAnswer(200, { text: `${said[0].toUpperCase()}${said.slice(1)}.` }, rand);
}

function audioClassification(model, body, json) {
  const { bytes, parameters, error } = binaryInput(body, json, "audio");
  if (error) return error;
  const labels = model.toLowerCase().includes("superb") ? AUDIO_LABELS.emotion : AUDIO_LABELS.audioset;
  const rand = seeded("audio-classification", model, bytes);
  const k = Math.min(positiveInt(parameters.top_k) ?? TOP_K, labels.length);
  return jsonAnswer(200, ranked(labels, scores(rand, labels.length)).slice(0, k), rand);
}

// ---------------------------------------------------------------------------
// Dispatch

/**
 * The task a body's shape names, for models MODEL_TASKS does not know, or null:
 * {inputs: {question, context}}, {inputs: {source_sentence, sentences}},
 * {inputs: {image}, parameters: {candidate_labels}}.
 */
export function taskFromBody(json) {
  const p = json.ok ? json.value : null;
  const inputs = p && typeof p === "object" ? p.inputs : null;
  if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) return null;
  if (typeof inputs.question === "string" && typeof inputs.context === "string") return "question-answering";
  if ("source_sentence" in inputs && "sentences" in inputs) return "sentence-similarity";
  if (isBase64Image(inputs.image) && p.parameters?.candidate_labels !== undefined) return "zero-shot-image-classification";
  return null;
}

// task -> (model, body, json) -> answer
const TASK_ANSWERS = {
  "feature-extraction": (model, _body, json) => featureExtraction(model, json),
  "sentence-similarity": (model, _body, json) => featureExtraction(model, json),
  "text-to-image": (model, _body, json) => textToImage(model, json),
  summarization: (model, _body, json) => perText("summarization", model, json, summary),
  translation: (model, _body, json) => perText("translation", model, json, translationOf),
  "token-classification": (model, _body, json) =>
    perText("token-classification", model, json, (text) => entities(model, text), true),
  "question-answering": (model, _body, json) => questionAnswering(model, json),
  "fill-mask": (model, _body, json) => fillMask(model, json),
  "object-detection": objectDetection,
  "image-segmentation": imageSegmentation,
  "image-to-text": imageToText,
  "zero-shot-image-classification": (model, _body, json) => zeroShotImage(model, json),
  "automatic-speech-recognition": speechRecognition,
  "audio-classification": audioClassification,
};

/** The synthesised answer of `task` (one of MODEL_TASKS' values, or sentence-similarity). */
export function synthesiseNamedTask(task, model, body, json) {
  const answer = TASK_ANSWERS[task];
  if (!answer) throw new Error(`no synthesised answer for task ${task}`);
  return answer(model, body, json);
}
