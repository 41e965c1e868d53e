// A local stand-in for Hugging Face, for tests and benchmarks (DESIGN.md §7): the
// router (https://router.huggingface.co: hf-inference, the providers' routes, the
// OpenAI-compatible /v1) and the Hub's model API, on one port. Node built-ins only.
//
//   const up = await startUpstream({ port: 0, seed: 1 });
//   fetch(`${up.url}/models/gpt2`, { method: "POST", body: ... });
//   up.fault({ status: 429, headers: { "retry-after": "1" }, times: 2 });
//   up.hub("acme/model", { together: { providerId: "acme/m", status: "live", task: "text-to-image" } });
//   up.requests;   // what the client sent
//   await up.close();
//
// Requests are answered from the recorded exchanges in tests/fixtures/recordings.json
// (method + path + body, JSON compared after parsing; first match in file order wins).
// Anything unmatched gets a deterministic answer of the task's shape (same request,
// same bytes). Faults can be queued in-process or over HTTP (POST /__control/faults).
//
// Paths (a leading /hf-inference or /api/inference-proxy[/hf-inference] is stripped
// first, as from the recordings' URLs; up.requests keeps the path as sent):
//   POST /models/{model}                       a task: the recordings' (text-generation in
//                                              the legacy {inputs, parameters} form,
//                                              classification, zero-shot, ...) and the models
//                                              of MODEL_TASKS (tasks.mjs), else by body shape
//   POST /models/{model}/v1/chat/completions   chat, model in the path
//   POST /models/{model}/v1/completions        text generation today: an OpenAI text_completion
//   POST /models/{model}/pipeline/feature-extraction    {inputs: text | texts} -> vectors,
//   POST /models/{model}/pipeline/sentence-similarity   {inputs: {source_sentence, sentences}}
//                                              -> similarities (both routes take both forms)
//   POST /v1/chat/completions                  chat, OpenAI style: the model is the body's
//   POST /chat/completions                     `model` (an `id:provider` suffix names the
//                                              provider). A recording made at
//                                              /models/{that model}/v1/chat/completions (or at
//                                              either of these two paths) with an equal body
//                                              is replayed; otherwise the answer is synthesised.
//   POST /v1/images/generations                OpenAI images: {created, data: [{b64_json}]}
//   POST /images/generations                   (the same, for a chat base without /v1)
//   POST /{provider}/v1/chat/completions       a provider's routes (any provider name):
//   POST /{provider}/openai/v1/chat/completions  chat (groq's path has /openai), completions,
//   POST /{provider}/v1/completions            images and embeddings, the model the body's;
//   POST /{provider}/v1/images/generations     answered with x-inference-provider: {provider}
//   POST /{provider}/v1/embeddings
//   GET  /api/models/{model}?expand[]=inferenceProviderMapping   the Hub (hub.mjs):
//                                              {_id, id, inferenceProviderMapping} from
//                                              HUB_MAPPINGS or up.hub(); unknown: 404
//   GET  /v1/models                            the router's model list with per-token
//                                              prices (hub.mjs routerModels), or
//                                              what up.routerModels(answer) set
//   /__control/faults | requests | reset | hub | health   the control API
//
// `"stream": true` text-generation, completions and chat requests that match no
// recording get a synthesised text/event-stream answer: TGI events
// `data: {"index":..,"token":{..},"generated_text":null,"details":null}` (the last one
// carries `generated_text`), or `text_completion` / `chat.completion.chunk` events then
// `data: [DONE]`. A synthesised stream has at least STREAM_MIN_TOKENS (12) token events,
// even when max_new_tokens / max_tokens ask for fewer, so that pacing tests have
// something to pace.
//
// Fault fields (up.fault(spec), chaos specs, POST /__control/faults):
//   times            how many matching requests it applies to (default 1; -1 or
//                    Infinity: every one)
//   path             only requests to this exact path match (as sent or as stripped)
//   pathPrefix       only requests whose path starts with this (as sent or as
//                    stripped), e.g. "/nscale/" for "this provider is down"
//   provider         only requests of this provider (the log's `provider`: a chat
//                    model's `:provider` suffix included)
//   probability      0..1: applies to each matching request with this probability,
//                    drawn from a PRNG seeded by startUpstream's `seed` (default 1) and
//                    restarted by reset(), so that runs repeat; one draw per matching
//                    request; a request it passes over may be taken by a later fault
//   delayMs          wait before answering
//   status, body     answer this instead of the normal answer (an error fault)
//   headers          extra response headers (for the normal answer too)
//   drop             reset the connection; stall: never answer
//   streamIntervalMs when the answer is text/event-stream: send the headers at once,
//                    then the body one event (a run of bytes ending "\n\n" or "\r\n\r\n")
//                    at a time, streamIntervalMs apart; the bytes are unchanged. Other
//                    answers are unaffected (the fault is used up all the same).
// times, path, pathPrefix and probability are for queued faults; chaos picks its specs
// by its own rate.
//
// Each entry of up.requests (and of GET /__control/requests) has `finished` (the
// whole response was written and ended) and `closedEarly` (the connection or request
// closed before that); both start false; `provider` (hf-inference for /models/...,
// the path's provider, a chat model's `:provider` suffix, else null) and `hub` (true
// for a Hub request). reset() (POST /__control/reset) clears the log, the queued
// faults, chaos, the Hub overrides and the request counter, and restarts the PRNG.

import http from "node:http";
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

import {
  CANDIDATE_LABELS_ERROR,
  STREAM_MIN_TOKENS,
  WORDS,
  asJson,
  canonical,
  errorAnswer,
  imageBytesOf,
  isBase64Image,
  jsonAnswer,
  parseCandidateLabels,
  parseJsonBody,
  pickWords,
  positiveInt,
  seeded,
  sse,
} from "./common.mjs";
import { HUB_MAPPINGS, hubAnswer, hubModel, routerModels as routerModelList, validateHubMapping } from "./hub.mjs";
import {
  MODEL_TASKS,
  completion,
  embeddingsList,
  featureExtraction,
  imagesGeneration,
  synthesiseNamedTask,
  taskFromBody,
} from "./tasks.mjs";

export { HUB_MAPPINGS };

const DEFAULT_RECORDINGS = fileURLToPath(new URL("../fixtures/recordings.json", import.meta.url));
// The seed of the PRNG that decides `probability` faults, unless startUpstream({ seed }) says.
const DEFAULT_SEED = 1;
const MAX_BODY_BYTES = 50 * 1024 * 1024;
const EXPOSE_HEADERS = "x-compute-time, x-compute-type, x-request-id, x-inference-provider, retry-after";
const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": EXPOSE_HEADERS,
};
// Hop-by-hop or framing headers of the recording that no longer describe our bytes.
const DROPPED_RECORDED_HEADERS = new Set(["content-length", "content-encoding", "transfer-encoding", "connection"]);
const CHAT_SUFFIX = "/v1/chat/completions";
const ROUTER_CHAT_PATHS = new Set(["/v1/chat/completions", "/chat/completions"]);
const ROUTER_IMAGES_PATHS = new Set(["/v1/images/generations", "/images/generations"]);
// /models/{model}{suffix}: the route kind.
const MODEL_ROUTES = [
  [CHAT_SUFFIX, "chat"],
  ["/v1/completions", "completions"],
  ["/pipeline/feature-extraction", "pipeline"],
  ["/pipeline/sentence-similarity", "pipeline"],
];
// /{provider}/{route}: the route kind.
const PROVIDER_ROUTES = new Map([
  ["v1/chat/completions", "chat"],
  ["openai/v1/chat/completions", "chat"],
  ["v1/completions", "completions"],
  ["v1/images/generations", "images"],
  ["v1/embeddings", "embeddings"],
]);
// First path segments that are not provider names.
const NOT_PROVIDERS = new Set(["models", "v1", "api", "chat", "images", "__control"]);

const IMAGE_LABELS = [
  "tabby, tabby cat",
  "tiger cat",
  "Egyptian cat",
  "lynx, catamount",
  "Persian cat",
  "Siamese cat, Siamese",
  "cougar, puma, catamount, mountain lion, painter, panther, Felis concolor",
  "snow leopard, ounce, Panthera uncia",
  "tiger, Panthera tigris",
  "lion, king of beasts, Panthera leo",
];
const GENERATION_HINTS = ["gpt", "t5", "llama", "mistral", "gemma", "generation"];

// ---------------------------------------------------------------------------
// Small helpers

/** Strips the known public prefixes so every recording lives in our path space. */
export function normaliseRecordedUrl(url) {
  return normalisePath(new URL(url).pathname).path;
}

/** A request path without /api/inference-proxy and /hf-inference: { path, hfInference (the latter was there) }. */
function normalisePath(pathname) {
  const bare = pathname.replace(/^\/api\/inference-proxy(?=\/)/, "");
  const path = bare.replace(/^\/hf-inference(?=\/)/, "");
  return { path, hfInference: path !== bare };
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

function isTextualContentType(ct) {
  const t = String(ct ?? "").toLowerCase();
  return t.startsWith("text/") || t.includes("json") || t.includes("xml") || t.includes("x-www-form-urlencoded");
}

// ---------------------------------------------------------------------------
// Recordings

function prepareRecordings(list) {
  if (!Array.isArray(list)) throw new Error("recordings file must hold a JSON array");
  return list.map((entry, index) => {
    const reqBody = entry.request?.body ?? {};
    let body;
    if (typeof reqBody.text === "string") {
      const parsed = parseJsonBody(Buffer.from(reqBody.text, "utf8"));
      body = parsed.ok
        ? { kind: "json", value: parsed.value }
        : { kind: "text", bytes: Buffer.from(reqBody.text, "utf8") };
    } else if (typeof reqBody.base64 === "string") {
      body = { kind: "bytes", bytes: Buffer.from(reqBody.base64, "base64") };
    } else {
      body = { kind: "any" };
    }
    const headers = {};
    for (const [name, value] of Object.entries(entry.response?.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!DROPPED_RECORDED_HEADERS.has(lower)) headers[lower] = value;
    }
    const resBody = entry.response?.body ?? {};
    return {
      index,
      id: entry.id,
      method: String(entry.request?.method ?? "POST").toUpperCase(),
      path: normaliseRecordedUrl(entry.request.url),
      body,
      status: entry.response?.status ?? 200,
      headers,
      responseBody:
        typeof resBody.text === "string"
          ? Buffer.from(resBody.text, "utf8")
          : typeof resBody.base64 === "string"
            ? Buffer.from(resBody.base64, "base64")
            : Buffer.alloc(0),
    };
  });
}

/**
 * The first recording (file order) that matches. `pathOk` selects the candidate
 * paths; the body must be JSON-equal or byte-equal. A recording that kept no
 * body (its recorder dropped binary bodies) takes any non-JSON body on its path.
 */
function findRecording(recordings, method, pathOk, body, json) {
  const onPath = recordings.filter((r) => r.method === method && pathOk(r.path));
  for (const r of onPath) {
    switch (r.body.kind) {
      case "any":
        if (!json.ok && body.length > 0) return r;
        break;
      case "json":
        if (json.ok && deepEqual(r.body.value, json.value)) return r;
        break;
      case "text":
        if (r.body.bytes.equals(body)) return r;
        break;
      case "bytes":
        if (r.body.bytes.equals(body)) return r;
        break;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// Synthesised answers (deterministic: same model + input -> same bytes)

function imageClassification(model, imageBytes, parameters) {
  const rand = seeded("image-classification", model, imageBytes);
  const weights = IMAGE_LABELS.map((label) => ({ label, w: rand() ** 3 + 1e-4 }));
  // Some mass stays with the other classes, so the scores sum to less than 1.
  const total = weights.reduce((s, x) => s + x.w, 0) * (1.1 + rand() * 0.4);
  const ranked = weights.map(({ label, w }) => ({ label, score: w / total })).sort((a, b) => b.score - a.score);
  const k = Math.min(positiveInt(parameters?.top_k) ?? 5, IMAGE_LABELS.length);
  return jsonAnswer(200, ranked.slice(0, k), rand);
}

function zeroShotOne(model, sequence, labels, multiLabel) {
  const rand = seeded("zero-shot-classification", model, canonical(sequence), canonical(labels), String(multiLabel));
  const raw = labels.map(() => 0.02 + rand());
  let scores;
  if (multiLabel) {
    scores = raw.map((x) => Math.min(0.999, x / 1.02));
  } else {
    const sum = raw.reduce((s, x) => s + x, 0);
    scores = raw.map((x) => x / sum);
  }
  const pairs = labels.map((label, i) => ({ label, score: scores[i] })).sort((a, b) => b.score - a.score);
  return { sequence, labels: pairs.map((p) => p.label), scores: pairs.map((p) => p.score) };
}

function zeroShot(model, inputs, parameters) {
  const labels = parseCandidateLabels(parameters.candidate_labels);
  if (!labels || labels.length === 0) {
    return errorAnswer(400, CANDIDATE_LABELS_ERROR);
  }
  const multi = parameters.multi_label === true;
  const rand = seeded("zero-shot-timing", model, canonical(inputs), canonical(parameters));
  const value = Array.isArray(inputs)
    ? inputs.map((s) => zeroShotOne(model, s, labels, multi))
    : zeroShotOne(model, inputs, labels, multi);
  return jsonAnswer(200, value, rand);
}

// A few words of each polarity, so that synthesised sentiment reads plausibly
// in the demo; texts with neither get a seeded score.
const POSITIVE_WORDS = /\b(love|loved|like|amazing|great|good|excellent|wonderful|happy|success|best|awesome|enjoy)\b/gi;
const NEGATIVE_WORDS = /\b(hate|hated|bad|terrible|awful|worst|broken|sad|poor|refund|angry|disappointed|not working)\b/gi;

function textClassificationOne(model, text, parameters) {
  const rand = seeded("text-classification", model, canonical(text));
  const lean = (String(text).match(POSITIVE_WORDS)?.length ?? 0) - (String(text).match(NEGATIVE_WORDS)?.length ?? 0);
  const positive = lean > 0 ? 0.9 + rand() * 0.0999 : lean < 0 ? 0.0001 + rand() * 0.0999 : rand();
  const list = [
    { label: "POSITIVE", score: positive },
    { label: "NEGATIVE", score: 1 - positive },
  ].sort((a, b) => b.score - a.score);
  const k = positiveInt(parameters?.top_k);
  return k ? list.slice(0, k) : list;
}

function textClassification(model, inputs, parameters) {
  const rand = seeded("text-classification-timing", model, canonical(inputs));
  const list = Array.isArray(inputs) ? inputs : [inputs];
  return jsonAnswer(200, list.map((t) => textClassificationOne(model, t, parameters)), rand);
}

function generatedWords(model, prompt, parameters, minWords = 1) {
  const rand = seeded("text-generation", model, canonical(prompt), canonical(parameters ?? {}));
  let n = 12;
  const maxNew = positiveInt(parameters?.max_new_tokens);
  const maxLength = positiveInt(parameters?.max_length);
  if (maxNew) n = maxNew;
  else if (maxLength) n = Math.max(1, maxLength - String(prompt).split(/\s+/).filter(Boolean).length);
  return pickWords(rand, Math.min(Math.max(n, minWords), 64));
}

function textGeneration(model, inputs, parameters, stream) {
  const rand = seeded("text-generation-timing", model, canonical(inputs), canonical(parameters ?? {}));
  const full = parameters?.return_full_text !== false;
  const one = (prompt, minWords) => {
    const words = generatedWords(model, prompt, parameters, minWords);
    const continuation = words.join(" ");
    return { words, text: full ? `${String(prompt)} ${continuation}` : continuation };
  };
  if (stream && !Array.isArray(inputs)) {
    const { words, text } = one(inputs, STREAM_MIN_TOKENS);
    const events = words.map((w, i) => ({
      index: i + 1,
      token: { id: 1000 + WORDS.indexOf(w), text: i === 0 ? w : ` ${w}`, logprob: -0.5, special: false },
      generated_text: i === words.length - 1 ? text : null,
      details: null,
    }));
    return sse(events, rand);
  }
  const value = Array.isArray(inputs)
    ? inputs.map((p) => [{ generated_text: one(p).text }])
    : [{ generated_text: one(inputs).text }];
  return jsonAnswer(200, value, rand);
}

function looksLikeGeneration(model, parameters) {
  const id = model.toLowerCase();
  if (GENERATION_HINTS.some((h) => id.includes(h))) return true;
  return Boolean(parameters && ("max_new_tokens" in parameters || "max_length" in parameters));
}

function synthesiseTask(model, body, json, contentType) {
  if (body.length === 0) return errorAnswer(400, "Request body is empty");
  const task = (Object.hasOwn(MODEL_TASKS, model) ? MODEL_TASKS[model] : null) ?? taskFromBody(json);
  if (task) return synthesiseNamedTask(task, model, body, json);
  if (!json.ok) return imageClassification(model, body, undefined);
  const payload = json.value;
  if (!payload || typeof payload !== "object" || Array.isArray(payload) || !("inputs" in payload)) {
    return errorAnswer(400, "The request body must be a JSON object with an `inputs` field");
  }
  const { inputs } = payload;
  const parameters = payload.parameters && typeof payload.parameters === "object" ? payload.parameters : {};
  if (isBase64Image(inputs) || String(contentType ?? "").toLowerCase().startsWith("image/")) {
    if (typeof inputs === "string") return imageClassification(model, imageBytesOf(inputs), parameters);
  }
  if (parameters.candidate_labels !== undefined) return zeroShot(model, inputs, parameters);
  if (looksLikeGeneration(model, parameters)) return textGeneration(model, inputs, parameters, payload.stream === true);
  return textClassification(model, inputs, parameters);
}

function synthesiseChat(pathModel, body, json) {
  if (!json.ok) {
    return {
      status: 400,
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: Buffer.from("Failed to parse the request body as JSON", "utf8"),
    };
  }
  const payload = json.value;
  if (!payload || typeof payload !== "object" || !Array.isArray(payload.messages)) {
    return {
      status: 422,
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: Buffer.from(
        "Failed to deserialize the JSON body into the target type: messages: missing field `messages` or not a sequence",
        "utf8",
      ),
    };
  }
  const model = typeof payload.model === "string" ? payload.model : (pathModel ?? "tgi");
  // Asking for the usage does not change the words.
  const { stream_options: streamOptions, ...seedPayload } = payload;
  const rand = seeded("chat-completion", model, canonical(seedPayload));
  const stream = payload.stream === true;
  const wanted = positiveInt(payload.max_tokens) ?? 16;
  const words = pickWords(rand, Math.min(stream ? Math.max(wanted, STREAM_MIN_TOKENS) : wanted, 64));
  const promptTokens = payload.messages
    .map((m) => (typeof m?.content === "string" ? m.content : canonical(m?.content ?? "")))
    .join(" ")
    .split(/\s+/)
    .filter(Boolean).length;
  const id = `local-chat-${createHash("sha256").update(canonical(seedPayload)).digest("hex").slice(0, 12)}`;
  const created = 1700000000;
  const usage = { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length };
  if (stream) {
    const chunk = (delta, finish) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: "local-upstream",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const events = words.map((w, i) =>
      chunk({ role: "assistant", content: i === 0 ? w : ` ${w}` }, i === words.length - 1 ? "stop" : null),
    );
    if (streamOptions?.include_usage === true) {
      // As OpenAI's API answers it: `usage: null` on every chunk, then one
      // chunk with no choices and the usage.
      for (const event of events) event.usage = null;
      events.push({ ...chunk(null, null), choices: [], usage });
    }
    events.push("[DONE]");
    return sse(events, rand);
  }
  return jsonAnswer(
    200,
    {
      object: "chat.completion",
      id,
      created,
      model,
      system_fingerprint: "local-upstream",
      choices: [
        { index: 0, message: { role: "assistant", content: words.join(" ") }, logprobs: null, finish_reason: "stop" },
      ],
      usage,
    },
    rand,
  );
}

// ---------------------------------------------------------------------------
// Routing

/**
 * { kind, model, provider } for a (normalised) request path, or null. kind is
 * "task", "chat", "completions", "pipeline", "images" or "embeddings"; model is
 * the path's model (null where the body names it); provider is "hf-inference" for
 * /models/..., the path's provider for /{provider}/..., null for the router's own
 * /v1/... routes.
 */
function route(path) {
  if (ROUTER_CHAT_PATHS.has(path)) return { kind: "chat", model: null, provider: null };
  if (ROUTER_IMAGES_PATHS.has(path)) return { kind: "images", model: null, provider: null };
  if (path.startsWith("/models/")) {
    let rest = path.slice("/models/".length);
    let kind = "task";
    for (const [suffix, k] of MODEL_ROUTES) {
      if (rest.endsWith(suffix)) {
        rest = rest.slice(0, -suffix.length);
        kind = k;
        break;
      }
    }
    const segments = rest.split("/");
    if (segments.length > 2 || segments.some((s) => s.length === 0)) return null;
    return { kind, model: rest, provider: "hf-inference" };
  }
  const m = /^\/([A-Za-z0-9][\w.-]*)\/(.+)$/.exec(path);
  const kind = m && !NOT_PROVIDERS.has(m[1]) ? PROVIDER_ROUTES.get(m[2]) : undefined;
  return kind ? { kind, model: null, provider: m[1] } : null;
}

/** The provider a request names: its route's, or the `id:provider` suffix of a router chat's model. */
function requestProvider(r, json) {
  if (!r) return null;
  if (r.provider !== null || r.kind !== "chat") return r.provider;
  const model = json.ok && typeof json.value?.model === "string" ? json.value.model : "";
  const colon = model.lastIndexOf(":");
  return colon > 0 && colon < model.length - 1 ? model.slice(colon + 1) : null;
}

// ---------------------------------------------------------------------------
// Faults

function validateFault(spec) {
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) throw new TypeError("a fault must be an object");
  const known = new Set([
    "times",
    "status",
    "headers",
    "body",
    "delayMs",
    "drop",
    "stall",
    "path",
    "pathPrefix",
    "provider",
    "probability",
    "streamIntervalMs",
  ]);
  for (const key of Object.keys(spec)) if (!known.has(key)) throw new TypeError(`unknown fault field: ${key}`);
  // -1 (JSON has no Infinity) or Infinity: unbounded.
  const times = spec.times === -1 || spec.times === Infinity ? Infinity : (spec.times ?? 1);
  if (times !== Infinity && (!Number.isInteger(times) || times < 1)) {
    throw new TypeError("fault.times must be a positive integer, or -1 / Infinity for unbounded");
  }
  if (
    spec.probability !== undefined &&
    !(typeof spec.probability === "number" && spec.probability >= 0 && spec.probability <= 1)
  ) {
    throw new TypeError("fault.probability must be a number from 0 to 1");
  }
  if (spec.status !== undefined && (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599)) {
    throw new TypeError("fault.status must be an integer HTTP status");
  }
  if (spec.headers !== undefined && (typeof spec.headers !== "object" || spec.headers === null)) {
    throw new TypeError("fault.headers must be an object");
  }
  if (spec.delayMs !== undefined && !(typeof spec.delayMs === "number" && spec.delayMs >= 0)) {
    throw new TypeError("fault.delayMs must be a non-negative number");
  }
  if (
    spec.streamIntervalMs !== undefined &&
    !(typeof spec.streamIntervalMs === "number" && Number.isFinite(spec.streamIntervalMs) && spec.streamIntervalMs >= 0)
  ) {
    throw new TypeError("fault.streamIntervalMs must be a non-negative number");
  }
  for (const key of ["path", "pathPrefix"]) {
    if (spec[key] !== undefined && (typeof spec[key] !== "string" || !spec[key].startsWith("/"))) {
      throw new TypeError(`fault.${key} must be a path starting with /`);
    }
  }
  if (spec.provider !== undefined && typeof spec.provider !== "string") {
    throw new TypeError("fault.provider must be a provider name");
  }
  const headers = {};
  for (const [k, v] of Object.entries(spec.headers ?? {})) headers[k.toLowerCase()] = String(v);
  let body;
  if (spec.body !== undefined) body = typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body);
  return {
    times,
    status: spec.status,
    headers,
    body,
    delayMs: spec.delayMs ?? 0,
    drop: spec.drop === true,
    stall: spec.stall === true,
    path: spec.path,
    pathPrefix: spec.pathPrefix,
    provider: spec.provider,
    probability: spec.probability,
    streamIntervalMs: spec.streamIntervalMs,
  };
}

/**
 * Whether a fault's filters let a request through; `paths` are the path as
 * sent and as normalised, `provider` the request's (as the log records it).
 */
function faultMatches(spec, paths, provider) {
  if (spec.provider !== undefined && spec.provider !== provider) return false;
  if (spec.path !== undefined && !paths.includes(spec.path)) return false;
  if (spec.pathPrefix !== undefined && !paths.some((p) => p.startsWith(spec.pathPrefix))) return false;
  return true;
}

/** A fault as the control API shows it: unbounded counts as -1, JSON having no Infinity. */
function faultForJson(f) {
  const bounded = (n) => (n === Infinity ? -1 : n);
  return { ...f, times: bounded(f.times), remaining: bounded(f.remaining) };
}

/** Splits an SSE body into its events (each ending with its blank line), bytes unchanged. */
export function splitSseEvents(body) {
  const text = body.toString("latin1"); // one char per byte: indices are byte offsets
  const out = [];
  const separator = /\r\n\r\n|\n\n/g;
  let start = 0;
  let m;
  while ((m = separator.exec(text)) !== null) {
    const end = m.index + m[0].length;
    out.push(body.subarray(start, end));
    start = end;
  }
  if (start < body.length) out.push(body.subarray(start));
  return out;
}

function isEventStream(headers) {
  return String(headers["content-type"] ?? "").toLowerCase().startsWith("text/event-stream");
}

// ---------------------------------------------------------------------------
// Server

/**
 * Starts the upstream. Resolves to
 * { url, port, host, close(), requests, reset(), fault(spec), chaos(spec), faults, preflights, recordings }.
 */
export async function startUpstream({
  port = 0,
  host = "127.0.0.1",
  recordingsPath = DEFAULT_RECORDINGS,
  seed = DEFAULT_SEED,
} = {}) {
  const recordings = prepareRecordings(JSON.parse(await readFile(recordingsPath, "utf8")));
  const requests = [];
  const faults = []; // { spec, remaining }
  const hubOverrides = new Map(); // model -> mapping (null: unknown)
  let routerModelsOverride = null; // GET /v1/models's answer, when a test sets one
  // Decides `probability` faults; restarted by reset() so that a run repeats.
  let faultRandom = seeded("fault-probability", String(seed));
  const sockets = new Set();
  const timers = new Set();
  let preflights = 0;
  let counter = 0;
  let closing = false;

  let chaosMode = null; // { rate, specs, random }

  /** The first queued fault that takes this request (`paths`: as sent, as normalised), used up by one. */
  function takeFault(paths, provider) {
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i];
      if (!faultMatches(f.spec, paths, provider)) continue;
      // One draw for each matching request, whatever the probability.
      if (f.spec.probability !== undefined && !(faultRandom() < f.spec.probability)) continue;
      if (--f.remaining <= 0) faults.splice(i, 1);
      return f.spec;
    }
    if (chaosMode && chaosMode.random() < chaosMode.rate) {
      return chaosMode.specs[Math.floor(chaosMode.random() * chaosMode.specs.length)];
    }
    return null;
  }

  /**
   * Random faults for soak tests: each request that no queued fault takes gets,
   * with probability `rate`, one of `faults` (uniformly), from a seeded sequence
   * so that a run can be repeated. `chaos(null)` stops it.
   */
  function chaos(spec) {
    if (spec === null) {
      chaosMode = null;
      return;
    }
    const { rate, seed = 1, faults: list } = spec;
    if (!(rate >= 0 && rate <= 1)) throw new TypeError("chaos.rate must be between 0 and 1");
    if (!Array.isArray(list) || list.length === 0) throw new TypeError("chaos.faults must be a non-empty array");
    chaosMode = { rate, specs: list.map(validateFault), random: seeded("chaos", String(seed)) };
  }

  function fault(spec) {
    const list = Array.isArray(spec) ? spec : [spec];
    const valid = list.map(validateFault); // all or nothing
    for (const s of valid) faults.push({ spec: s, remaining: s.times });
    return faults.length;
  }

  /**
   * Overrides the Hub's inferenceProviderMapping of `model` on this server: an
   * object or a list (answered as given), null (the model is unknown: 404), or
   * undefined (back to HUB_MAPPINGS).
   */
  function hub(model, mapping) {
    validateHubMapping(model, mapping === undefined ? null : mapping);
    if (mapping === undefined) hubOverrides.delete(model);
    else hubOverrides.set(model, mapping === null ? null : structuredClone(mapping));
  }

  function hubMapping(model) {
    if (hubOverrides.has(model)) return hubOverrides.get(model);
    return Object.hasOwn(HUB_MAPPINGS, model) ? HUB_MAPPINGS[model] : undefined;
  }

  /** Sets the answer of GET /v1/models (null: the default, from the mappings). */
  function routerModels(answer) {
    if (answer !== null && (typeof answer !== "object" || Array.isArray(answer))) {
      throw new TypeError("routerModels: the answer must be an object or null");
    }
    routerModelsOverride = answer === null ? null : structuredClone(answer);
  }

  function reset() {
    requests.length = 0;
    faults.length = 0;
    hubOverrides.clear();
    routerModelsOverride = null;
    faultRandom = seeded("fault-probability", String(seed));
    chaosMode = null;
    preflights = 0;
    counter = 0;
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  }

  function send(res, status, headers, body) {
    if (closing || res.destroyed || res.writableEnded || res.socket?.destroyed) return;
    res.writeHead(status, { ...headers, "content-length": String(body.length) });
    res.end(body);
  }

  /**
   * Writes the headers at once, then the body one SSE event at a time, intervalMs
   * apart. Stops (and clears its timer) when the client goes away or close() runs.
   */
  function sendPaced(res, status, headers, body, intervalMs) {
    if (closing || res.destroyed || res.writableEnded || res.socket?.destroyed) return;
    const events = splitSseEvents(body);
    const { "content-length": _dropped, ...rest } = headers;
    res.writeHead(status, rest); // chunked, as a real event stream
    let timer = null;
    const stop = () => {
      if (timer !== null) {
        clearTimeout(timer);
        timers.delete(timer);
        timer = null;
      }
    };
    res.once("close", stop);
    let i = 0;
    const next = () => {
      timer = null;
      if (closing || res.destroyed || res.writableEnded) return;
      if (i >= events.length) {
        res.end();
        return;
      }
      const event = events[i++];
      if (i === events.length) {
        res.end(event);
        return;
      }
      res.write(event);
      const t = setTimeout(() => {
        timers.delete(t);
        next();
      }, intervalMs);
      timers.add(t);
      timer = t;
    };
    if (events.length === 0) res.flushHeaders();
    next();
  }

  /** send(), or sendPaced() when the fault asks for pacing and the answer is an event stream. */
  function answer(res, status, headers, body, f) {
    if (f?.streamIntervalMs !== undefined && isEventStream(headers)) {
      sendPaced(res, status, headers, body, f.streamIntervalMs);
    } else {
      send(res, status, headers, body);
    }
  }

  function sendJson(res, status, value, extra = {}) {
    send(res, status, { ...CORS_HEADERS, "content-type": "application/json", ...extra }, asJson(value));
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
        reject(Object.assign(new Error("too large"), { tooLarge: true }));
        return;
      }
      const chunks = [];
      let size = 0;
      let failed = false;
      req.on("data", (chunk) => {
        if (failed) return;
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          failed = true;
          reject(Object.assign(new Error("too large"), { tooLarge: true }));
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => failed || resolve(Buffer.concat(chunks, size)));
      req.on("error", (err) => failed || ((failed = true), reject(err)));
    });
  }

  function logEntry(req, res, path, query, body, json, provider, isHub) {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
    const textual = isTextualContentType(headers["content-type"]) || json.ok;
    const entry = {
      method: req.method,
      path,
      query,
      headers,
      body,
      bodyText: textual ? body.toString("utf8") : null,
      json: json.ok ? json.value : undefined,
      provider,
      hub: isHub,
      at: Date.now(),
      finished: false,
      closedEarly: false,
    };
    res.once("finish", () => {
      entry.finished = true;
    });
    res.once("close", () => {
      if (!entry.finished && !res.writableFinished) entry.closedEarly = true;
    });
    if (res.destroyed && !res.writableFinished) entry.closedEarly = true;
    requests.push(entry);
    return entry;
  }

  // Served to any origin: the Authorization header is masked, so that a
  // token the upstream received never leaves through the control API.
  function serialisedLog() {
    return requests.map((r) => ({
      method: r.method,
      path: r.path,
      query: r.query,
      headers: r.headers.authorization === undefined ? r.headers : { ...r.headers, authorization: "[masked]" },
      bodyText: r.bodyText,
      bodyLength: r.body.length,
      json: r.json,
      provider: r.provider,
      hub: r.hub,
      at: r.at,
      finished: r.finished,
      closedEarly: r.closedEarly,
    }));
  }

  async function control(req, res, path, body) {
    const json = parseJsonBody(body);
    if (path === "/__control/faults") {
      if (req.method === "GET") {
        return sendJson(res, 200, faults.map((f) => faultForJson({ ...f.spec, remaining: f.remaining })));
      }
      if (req.method !== "POST") return sendJson(res, 405, { error: "Method Not Allowed" }, { allow: "GET, POST" });
      if (!json.ok) return sendJson(res, 400, { error: "fault body must be JSON" });
      try {
        return sendJson(res, 200, { queued: fault(json.value) });
      } catch (err) {
        return sendJson(res, 400, { error: err.message });
      }
    }
    if (path === "/__control/hub") {
      if (req.method === "GET") return sendJson(res, 200, Object.fromEntries(hubOverrides));
      if (req.method !== "POST") return sendJson(res, 405, { error: "Method Not Allowed" }, { allow: "GET, POST" });
      const spec = json.ok ? json.value : null;
      if (!spec || typeof spec !== "object" || Array.isArray(spec)) {
        return sendJson(res, 400, { error: "hub body must be a JSON object {model, mapping}" });
      }
      try {
        hub(spec.model, "mapping" in spec ? spec.mapping : undefined);
      } catch (err) {
        return sendJson(res, 400, { error: err.message });
      }
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/__control/requests") {
      if (req.method !== "GET") return sendJson(res, 405, { error: "Method Not Allowed" }, { allow: "GET" });
      return sendJson(res, 200, serialisedLog());
    }
    if (path === "/__control/reset") {
      if (req.method !== "POST") return sendJson(res, 405, { error: "Method Not Allowed" }, { allow: "POST" });
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/__control/health") {
      return sendJson(res, 200, { ok: true, recordings: recordings.length, requests: requests.length, preflights });
    }
    return sendJson(res, 404, { error: "Not Found" });
  }

  /** The Hub's answer to GET /api/models/...: { status, headers, body }. */
  function hubRequestAnswer(req, path, searchParams, requestId) {
    if (req.method !== "GET") {
      return { ...errorAnswer(405, "Method Not Allowed"), extra: { allow: "GET, OPTIONS" }, plain: true };
    }
    const model = hubModel(path);
    if (model === null) return { ...errorAnswer(404, "Not Found"), plain: true };
    const expand = [...searchParams.getAll("expand[]"), ...searchParams.getAll("expand")];
    const { status, value } = hubAnswer(model, hubMapping(model), expand);
    return { status, headers: { "content-type": "application/json", "x-request-id": requestId }, body: asJson(value) };
  }

  /** The answer without faults: { status, headers, body } (headers without CORS). */
  function normalAnswer(req, r, provider, path, body, json, requestId) {
    if (!r) return { ...errorAnswer(404, "Not Found"), plain: true };
    if (req.method !== "POST") {
      return { ...errorAnswer(405, "Method Not Allowed"), extra: { allow: "POST, OPTIONS" }, plain: true };
    }
    const bodyModel = json.ok && typeof json.value?.model === "string" ? json.value.model : null;
    let pathOk = (p) => p === path;
    if (r.kind === "chat" && ROUTER_CHAT_PATHS.has(path)) {
      // OpenAI style: the model is named by the body, recordings live under /models/{model}.
      const modelPath = bodyModel !== null ? `/models/${bodyModel}${CHAT_SUFFIX}` : null;
      pathOk = (p) => ROUTER_CHAT_PATHS.has(p) || p === modelPath;
    }
    const recording = findRecording(recordings, "POST", pathOk, body, json);
    if (recording) return { status: recording.status, headers: recording.headers, body: recording.responseBody, recording };

    let answer;
    if (r.model && r.model.toLowerCase().includes("does-not-exist")) {
      answer = errorAnswer(404, `Model ${r.model} does not exist`);
    } else {
      switch (r.kind) {
        case "chat":
          answer = synthesiseChat(r.model, body, json);
          break;
        case "completions":
          answer = completion(r.model ?? bodyModel, json);
          break;
        case "pipeline":
          answer = featureExtraction(r.model, json);
          break;
        case "images":
          answer = imagesGeneration(json);
          break;
        case "embeddings":
          answer = embeddingsList(json);
          break;
        default:
          answer = synthesiseTask(r.model, body, json, req.headers["content-type"]);
      }
    }
    answer.headers = { ...answer.headers, "x-request-id": requestId };
    if (provider !== null) answer.headers["x-inference-provider"] = provider;
    return answer;
  }

  async function handle(req, res) {
    const url = new URL(req.url, "http://upstream.invalid");
    const sentPath = url.pathname;
    const { path, hfInference } = normalisePath(sentPath);

    if (req.method === "OPTIONS") {
      preflights++;
      req.resume();
      res.writeHead(204, {
        ...CORS_HEADERS,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": req.headers["access-control-request-headers"] || "*",
        "access-control-max-age": "600",
        "content-length": "0",
      });
      res.end();
      return;
    }

    let body;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err.tooLarge) {
        send(
          res,
          413,
          { ...CORS_HEADERS, "content-type": "application/json", connection: "close" },
          asJson({ error: `Request body exceeds ${MAX_BODY_BYTES} bytes` }),
        );
        res.on("finish", () => req.socket.destroy());
      }
      return;
    }

    if (sentPath.startsWith("/__control/")) return control(req, res, sentPath, body);

    const json = parseJsonBody(body);
    const isHub = path.startsWith("/api/models/") || path === "/api/models";
    const r = isHub ? null : route(path);
    if (r && hfInference && r.provider === null) r.provider = "hf-inference";
    const provider = requestProvider(r, json);
    logEntry(req, res, sentPath, url.search, body, json, provider, isHub);
    const requestId = `local-${++counter}`;

    const f = takeFault(sentPath === path ? [path] : [sentPath, path], provider);
    if (f) {
      if (f.delayMs > 0) await sleep(f.delayMs);
      if (closing) return;
      if (f.stall) return; // never answer: the client aborts or close() destroys the socket
      if (f.drop) {
        const s = req.socket;
        if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
        else s.destroy();
        return;
      }
      if (f.status !== undefined || f.body !== undefined) {
        let payload = f.body;
        let contentType = "application/json";
        if (payload === undefined) payload = JSON.stringify({ error: `Injected fault (status ${f.status ?? 200})` });
        else if (!parseJsonBody(Buffer.from(payload, "utf8")).ok) contentType = "text/plain; charset=utf-8";
        answer(
          res,
          f.status ?? 200,
          { ...CORS_HEADERS, "content-type": contentType, "x-request-id": requestId, ...f.headers },
          Buffer.from(payload, "utf8"),
          f,
        );
        return;
      }
    }

    const normal = isHub
      ? hubRequestAnswer(req, path, url.searchParams, requestId)
      : path === "/v1/models" && req.method === "GET"
        ? { status: 200, headers: { "content-type": "application/json", "x-request-id": requestId }, body: asJson(routerModelsOverride ?? routerModelList()) }
        : normalAnswer(req, r, provider, path, body, json, requestId);
    const headers = { ...normal.headers, ...(normal.extra ?? {}), ...CORS_HEADERS, ...(f?.headers ?? {}) };
    answer(res, normal.status, headers, normal.body, f);
  }

  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    res.on("error", () => {});
    req.on("error", () => {});
    handle(req, res).catch((err) => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: `upstream bug: ${err?.message ?? err}` });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  server.on("clientError", (_err, socket) => socket.destroy());

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const address = server.address();
  const urlHost =
    host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  let closePromise = null;

  function close() {
    if (!closePromise) {
      closing = true;
      closePromise = new Promise((resolve) => {
        server.close(() => resolve());
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    }
    return closePromise;
  }

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host,
    requests,
    close,
    reset,
    fault,
    chaos,
    hub,
    routerModels,
    get faults() {
      return faults.map((f) => ({ ...f.spec, remaining: f.remaining }));
    },
    get preflights() {
      return preflights;
    },
    recordings: recordings.length,
  };
}
