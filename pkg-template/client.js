// The JavaScript half of the client. It reads the caller's arguments, writes
// the JSON bodies (JSON.stringify keeps the caller's values as they are) and
// performs every I/O step: fetch, timers, abort signals, reading bodies,
// sharing and batching requests. The wasm core (src/js) checks model ids,
// endpoints and tokens, decides where each attempt goes and whether to wait
// and try again, and reads every answer; its results come back as JSON text.
import { Engine, Events, base64, checkModel, notAStream, sniffImage } from "./hf_inference_wasm.js";
import { InferenceError } from "./inference_error.js";
import { InferenceStream } from "./inference_stream.js";

// Answer kinds, as src/js/codec.rs numbers them (anything else: a chat completion).
const TEXT_CLASSIFICATION = 1;
const TEXT_GENERATION = 2;
const ZERO_SHOT = 4;
const CHAT = 5;
const IMAGE_CLASSIFICATION = 7;

const JSON_TYPE = "application/json";
const NO_BYTES = new Uint8Array(0);
const SNIFF_BYTES = 12;
const MAX_TIMER_MS = 0x7fffffff;
const ABORTED_MESSAGE = "the call was aborted by its signal";

// ---------------------------------------------------------------- errors

/** An `InferenceError` from the core's error JSON (an object or its text). */
function coreError(fields, model) {
  if (typeof fields === "string") fields = JSON.parse(fields);
  return new InferenceError(fields.message, fields.code, { ...fields, model });
}

function invalid(argument, problem) {
  return new InferenceError(`${argument}: ${problem}`, "INVALID_INPUT");
}

/**
 * The output of a core function. A failure comes back as error JSON after
 * "\u0001" (src/js/wire.rs) and is thrown as an `InferenceError`.
 */
function core(output) {
  if (output.charCodeAt(0) !== 1) return output;
  throw coreError(output.slice(1));
}

/**
 * Gives an error its model (unless the model id itself was refused) and the
 * answer's status, request id and attempts, unless it has them.
 */
function tag(error, model, answer) {
  if (error instanceof InferenceError) {
    if (!error.message.startsWith("model:")) error.model ??= model;
    if (answer) {
      error.status ??= answer.status;
      error.requestId ??= requestIdOf(answer);
      error.attempts = Math.max(error.attempts, answer.attempts || 1);
    }
  }
  return error;
}

// ---------------------------------------------------------------- arguments

const absent = (value) => value === undefined || value === null;

function objectArg(value, argument) {
  if (absent(value)) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(argument, "must be an object");
  return value;
}

function optionalString(object, key, argument) {
  const value = object[key];
  if (absent(value)) return undefined;
  if (typeof value !== "string") throw invalid(argument, "must be a string");
  return value;
}

/** `JSON.stringify(value)`, refused by `argument`'s name when it cannot be serialised. */
function stringify(value, argument) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    // a cycle or a BigInt
  }
  if (text === undefined) throw invalid(argument, "cannot be serialised to JSON (a cycle or a BigInt?)");
  return text;
}

/** Model ids the core accepted, so that repeated calls skip the check (bounded). */
const acceptedModels = new Set();

/** Checks a model id in the core (which the proxy shares). */
function checkedModel(model, chat = false) {
  const key = chat ? `chat:${model}` : model;
  if (acceptedModels.has(key)) return;
  core(checkModel(typeof model === "string" ? model : undefined, chat));
  if (acceptedModels.size >= 256) acceptedModels.clear();
  acceptedModels.add(key);
}

/** `text` or `text[]`, none of them empty. */
function textsOf(value, name) {
  if (typeof value === "string") {
    if (!value.trim()) throw invalid(name, "must be a non-empty string");
    return value;
  }
  if (!Array.isArray(value)) throw invalid(name, "must be a string or an array of strings");
  if (value.length === 0) throw invalid(name, "must be a non-empty string or a non-empty array of strings");
  value.forEach((text, i) => {
    if (typeof text !== "string") throw invalid(`${name}[${i}]`, "must be a string");
  });
  value.forEach((text, i) => {
    if (!text.trim()) throw invalid(`${name}[${i}]`, "must be a non-empty string");
  });
  return value;
}

/** Optional task parameters: a plain object, passed through untouched. */
function paramsOf(value) {
  if (absent(value)) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalid("params", "must be an object of task parameters");
  return value;
}

/** `{"inputs": ..., "parameters": {...}}` plus `extra` members; `parameters` left out when absent. */
function taskBody(inputs, params, extra) {
  const body = params === undefined ? { inputs } : { inputs, parameters: params };
  return stringify(extra ? { ...body, ...extra } : body, "params");
}

function addEndpoints(engine, value, argument, chat) {
  if (absent(value)) return;
  if (typeof value === "string") {
    core(engine.addEndpoint(chat, argument, "token", value, undefined, false, 1, undefined));
    return;
  }
  if (!Array.isArray(value)) throw invalid(argument, "must be a URL string or an array of {url, token?, dedicated?}");
  if (value.length === 0) throw invalid(argument, "must not be an empty array");
  value.forEach((item, i) => {
    const name = `${argument}[${i}]`;
    if (absent(item) || typeof item !== "object" || Array.isArray(item)) throw invalid(name, "must be an object {url, token?}");
    const url = optionalString(item, "url", `${name}.url`);
    if (url === undefined) throw invalid(`${name}.url`, "is required");
    let weight = 1;
    if (!absent(item.weight)) {
      weight = item.weight;
      if (!(typeof weight === "number" && Number.isFinite(weight) && weight > 0)) throw invalid(`${name}.weight`, "must be a positive number");
    }
    const label = optionalString(item, "name", `${name}.name`);
    const token = optionalString(item, "token", `${name}.token`);
    core(engine.addEndpoint(chat, `${name}.url`, `${name}.token`, url, token, Boolean(item.dedicated), weight, label));
  });
}

const NO_OPTIONS = { signals: [], headers: [], timeoutMs: undefined, retry: undefined, onAttempt: undefined };

/**
 * Call options read over `defaults` (returned as they are when `value` is
 * absent: callers never mutate them). `retry` stays `false`, or an object
 * whose missing fields take the core's defaults.
 */
function callOptions(value, defaults, argument) {
  if (!objectArg(value, argument)) return defaults;
  const options = { ...defaults, signals: [...defaults.signals], headers: [...defaults.headers] };
  const { signal, timeoutMs, retry, onAttempt, headers } = value;
  if (!absent(signal)) {
    if (!(typeof AbortSignal !== "undefined" && signal instanceof AbortSignal)) throw invalid(`${argument}.signal`, "must be an AbortSignal");
    options.signals.push(signal);
  }
  if (!absent(timeoutMs)) {
    if (!(typeof timeoutMs === "number" && timeoutMs >= 1 && timeoutMs <= 0xffffffff)) {
      throw invalid(`${argument}.timeoutMs`, "must be a positive number of milliseconds");
    }
    options.timeoutMs = Math.trunc(timeoutMs);
  }
  if (retry === false) options.retry = false;
  else if (!absent(retry)) options.retry = retryOptions(retry, options.retry, `${argument}.retry`);
  if (!absent(onAttempt)) {
    if (typeof onAttempt !== "function") throw invalid(`${argument}.onAttempt`, "must be a function");
    options.onAttempt = onAttempt;
  }
  if (objectArg(headers, `${argument}.headers`)) {
    for (const [name, text] of Object.entries(headers)) {
      if (typeof text !== "string") throw invalid(`${argument}.headers.${name}`, "must be a string");
      try {
        new Headers([[name, text]]);
      } catch {
        throw invalid(`${argument}.headers.${name}`, "is not a valid HTTP header name or value");
      }
      // Header names are case-insensitive: a later entry replaces an earlier one.
      const key = name.toLowerCase();
      options.headers = options.headers.filter(([n]) => n !== key);
      options.headers.push([key, text]);
    }
  }
  return options;
}

/** `{maxAttempts?, baseDelayMs?, maxDelayMs?, deadlineMs?}` over `base`; unknown keys are refused. */
function retryOptions(value, base, argument) {
  objectArg(value, argument);
  const retry = { ...(base || {}) };
  for (const key of Object.keys(value)) {
    const name = `${argument}.${key}`;
    const n = value[key];
    if (key === "maxAttempts") {
      if (!(Number.isInteger(n) && n >= 1 && n <= 100)) throw invalid(name, "must be a whole number from 1 to 100");
      retry.maxAttempts = n;
      continue;
    }
    const minimum = { baseDelayMs: 0, maxDelayMs: 0, deadlineMs: 1 }[key];
    if (minimum === undefined) {
      throw invalid(name, "is not an option (expected maxAttempts, baseDelayMs, maxDelayMs or deadlineMs)");
    }
    if (!(typeof n === "number" && n >= minimum && n <= 9e15)) throw invalid(name, "must be a number of milliseconds");
    retry[key] = Math.trunc(n);
  }
  return retry;
}

function batchOptions(value) {
  if (absent(value) || value === false) return undefined;
  objectArg(value, "batch");
  const number = (key, low, high, fallback) => {
    const n = absent(value[key]) ? fallback : value[key];
    if (!(Number.isInteger(n) && n >= low && n <= high)) throw invalid(`batch.${key}`, `must be a whole number from ${low} to ${high}`);
    return n;
  };
  return { windowMs: number("windowMs", 0, 10000, 10), maxSize: number("maxSize", 1, 256, 32) };
}

let tokenWarningShown = false;

/** The state of one client: its core engine, settings, and the calls it shares. */
function newClient(options) {
  const engine = new Engine(Math.random() * 2 ** 53);
  const client = { engine, billTo: undefined, defaults: NO_OPTIONS, dedupe: true, batch: undefined, inFlight: new Map(), batches: new Map() };
  if (!objectArg(options, "options")) return client;
  addEndpoints(engine, options.endpoint, "endpoint", false);
  addEndpoints(engine, options.chatEndpoint, "chatEndpoint", true);
  const token = optionalString(options, "token", "token");
  if (token !== undefined) core(engine.setToken(token));
  client.billTo = optionalString(options, "billTo", "billTo");
  client.defaults = callOptions(options, NO_OPTIONS, "options");
  client.dedupe = options.dedupe !== false;
  client.batch = batchOptions(options.batch);
  const endpoints = [options.endpoint, options.chatEndpoint].flatMap((e) => (Array.isArray(e) ? e : []));
  // A token in a page's script is readable by anyone who opens the page: say so once.
  if ((token !== undefined || endpoints.some((e) => e.token !== undefined)) && "document" in globalThis && !tokenWarningShown) {
    tokenWarningShown = true;
    console.warn(
      "hf-inference-wasm: the access token given to InferenceClient is visible to anyone who can open this page. " +
        "Keep it server-side: deploy the proxy worker and set `endpoint` to its URL with no token.",
    );
  }
  return client;
}

// ---------------------------------------------------------------- I/O

const failure = (code, message) => ({ code, message });

/** `message (cause)` of a fetch error, e.g. `fetch failed (ECONNREFUSED)`. */
function describe(error) {
  const message = typeof error?.message === "string" ? error.message : "the request failed";
  const cause = error?.cause?.code ?? error?.cause?.message;
  return typeof cause === "string" ? `${message} (${cause})` : message;
}

const nothing = () => {};

/** Calls `onAbort` when any signal aborts; returns the function that detaches it. */
function onAnyAbort(signals, onAbort) {
  if (signals.length === 0) return nothing;
  for (const signal of signals) signal.addEventListener("abort", onAbort);
  return () => {
    for (const signal of signals) signal.removeEventListener("abort", onAbort);
  };
}

/** Waits `ms`, or rejects with ABORTED as soon as a signal aborts. No timer or listener outlives it. */
function sleep(ms, signals) {
  return new Promise((resolve, reject) => {
    if (signals.some((s) => s.aborted)) return reject(failure("ABORTED", ABORTED_MESSAGE));
    if (ms <= 0) return resolve();
    const detach = onAnyAbort(signals, () => {
      clearTimeout(timer);
      detach();
      reject(failure("ABORTED", ABORTED_MESSAGE));
    });
    const timer = setTimeout(() => {
      detach();
      resolve();
    }, Math.min(ms, MAX_TIMER_MS));
  });
}

/** The wait a `Retry-After` header asks for: delta-seconds or an HTTP date (a past date: no wait). */
function retryAfterMs(value, now) {
  if (value === undefined) return NaN;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? NaN : Math.max(0, at - now);
}

function isBinary(contentType) {
  return !(contentType === "" || contentType.startsWith("text/") || contentType.includes("json") || contentType.includes("xml"));
}

/** An answer's `x-request-id` (read only when needed: a 2xx answer seldom needs it). */
const requestIdOf = (answer) => answer.requestId ?? answer.headers.get("x-request-id") ?? undefined;

/**
 * One HTTP attempt, as `plan` (from `Engine.call` or `Engine.start`) says.
 * Resolves with the answer, read whole: as bytes for the core to read, or,
 * for a 2xx answer the caller reads (`readsOwn`), as text or a `Blob`. A 2xx
 * stream comes with its body still to read (the caller's signals still abort
 * it; `release` detaches them). Rejects with `{code, message}` when no
 * answer came.
 */
async function attempt(client, plan, options, payload, stream, readsOwn) {
  const { signals } = options;
  if (signals.some((s) => s.aborted)) throw failure("ABORTED", ABORTED_MESSAGE);
  // Header names were checked and lower-cased with the call options; later entries win.
  const headers = new Map();
  if (payload.contentType) headers.set("content-type", payload.contentType);
  if (stream) headers.set("accept", "text/event-stream");
  for (const [name, value] of options.headers) headers.set(name, value);
  if (client.billTo !== undefined) headers.set("x-hf-bill-to", client.billTo);
  if (plan.authorization !== undefined) headers.set("authorization", plan.authorization);

  // An AbortController only when something may abort the attempt: creating
  // one is a good part of a call's cost in Node.
  const controller = plan.timeoutMs === undefined && signals.length === 0 ? undefined : new AbortController();
  let timedOut = false;
  const timer =
    plan.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, Math.min(plan.timeoutMs, MAX_TIMER_MS));
  const release = onAnyAbort(signals, () => controller.abort());
  const failed = (error) => {
    if (timedOut) return failure("TIMEOUT", `no answer from ${plan.url} within ${plan.timeoutMs} ms`);
    if (signals.some((s) => s.aborted)) return failure("ABORTED", ABORTED_MESSAGE);
    return failure("NETWORK", `could not reach ${plan.url}: ${describe(error)}`);
  };
  let handedOver = false;
  try {
    let response;
    try {
      response = await fetch(plan.url, { method: "POST", headers: [...headers], body: payload.body, signal: controller?.signal });
    } catch (error) {
      throw failed(error);
    }
    const get = (name) => response.headers.get(name) ?? undefined;
    const { ok, status } = response;
    const answer = { status, contentType: (get("content-type") ?? "").toLowerCase(), headers: response.headers };
    if (!ok || stream || options.onAttempt) answer.requestId = get("x-request-id");
    if (!ok) answer.retryAfter = get("retry-after");
    if (options.onAttempt) {
      const seconds = Number.parseFloat(get("x-compute-time"));
      if (seconds >= 0) answer.computeTimeMs = Math.round(seconds * 1000);
    }
    if (ok && stream) {
      handedOver = true;
      clearTimeout(timer);
      return { ...answer, url: plan.url, response, controller, release };
    }
    try {
      if (!ok || !readsOwn) answer.bytes = new Uint8Array(await response.arrayBuffer());
      else if (isBinary(answer.contentType)) answer.blob = await response.blob();
      else answer.text = await response.text();
    } catch (error) {
      throw failed(error);
    }
    return answer;
  } finally {
    if (!handedOver) {
      clearTimeout(timer);
      release();
    }
  }
}

/**
 * Sends a call under the core's retry policy, across the route's endpoints.
 * `route` is `{chat, model, kind, input}`: `kind` (0: none) and `input` say
 * how the core reads the 2xx answer. Resolves with the final answer and the
 * text of the result the core read (`result`), or rejects with the last error;
 * `settling`, if given, is called just before either.
 */
async function deliver(client, route, options, payload, stream, settling) {
  const { engine } = client;
  const { chat = false, model, kind = 0, input } = route;
  const retry = options.retry;
  const setting = (key) => (retry === false ? (key === "maxAttempts" ? 0 : NaN) : (retry?.[key] ?? NaN));
  let id;
  let settled = false;
  let lastStatus;
  try {
    let plan = JSON.parse(
      engine.call(
        kind,
        Array.isArray(input) ? input.length : 0,
        chat,
        chat ? "" : model,
        setting("maxAttempts"),
        setting("baseDelayMs"),
        setting("maxDelayMs"),
        setting("deadlineMs"),
        options.timeoutMs ?? NaN,
        Date.now(),
      ),
    );
    id = plan.call;
    for (;;) {
      const started = Date.now();
      let answer;
      let failed;
      try {
        answer = await attempt(client, plan, options, payload, stream, kind === 0);
      } catch (error) {
        if (!error || typeof error.code !== "string" || error instanceof Error) throw error;
        failed = error;
      }
      const ended = Date.now();
      const status = answer?.status ?? 0;
      if (answer) lastStatus = status;
      const verdictText = engine.finish(
        id,
        ended,
        status,
        answer?.bytes ?? NO_BYTES,
        retryAfterMs(answer?.retryAfter, ended),
        answer?.requestId,
        failed?.code ?? "",
        failed?.message ?? "",
      );
      // The verdict, then (after a newline) the result the core read, if any.
      const cut = verdictText.indexOf("\n");
      const verdict = JSON.parse(cut < 0 ? verdictText : verdictText.slice(0, cut));
      settled = verdict.delayMs === undefined;
      if (options.onAttempt) {
        report(options.onAttempt, {
          endpoint: plan.endpoint,
          attempt: verdict.attempt,
          status: answer?.status,
          code: verdict.code,
          delayMs: verdict.delayMs,
          durationMs: ended - started,
          computeTimeMs: answer?.computeTimeMs,
          requestId: answer?.requestId,
        });
      }
      if (verdict.error) {
        const error = coreError(verdict.error, model);
        // A 2xx answer the core could not read: its request id was not read yet.
        if (answer) error.requestId ??= requestIdOf(answer);
        throw error;
      }
      if (settled) {
        answer.attempts = verdict.attempt;
        answer.result = cut < 0 ? undefined : verdictText.slice(cut + 1);
        return answer;
      }
      try {
        await sleep(verdict.delayMs, options.signals);
      } catch (error) {
        throw new InferenceError(error.message, error.code, { status: lastStatus, model, attempts: verdict.attempt });
      }
      plan = JSON.parse(engine.start(id, Date.now()));
    }
  } finally {
    if (!settled && id !== undefined) engine.end(id);
    settling?.();
  }
}

/** Calls `onAttempt` with the fields that are known; an observer that throws changes nothing. */
function report(onAttempt, info) {
  for (const key of Object.keys(info)) if (info[key] === undefined) delete info[key];
  try {
    onAttempt(info);
  } catch {
    // observers cannot change the outcome
  }
}

/** A body for `deliver`: JSON text, or the caller's bytes passed to fetch untouched. */
const jsonPayload = (body) => ({ body, contentType: JSON_TYPE });

/** Binary input: a Blob, an ArrayBuffer or a Uint8Array (a Node Buffer is one); `undefined` for anything else. */
function bytesOf(value, argument) {
  let bytes;
  if (typeof Blob !== "undefined" && value instanceof Blob) bytes = value;
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  else if (value instanceof Uint8Array) bytes = value;
  else return undefined;
  if ((bytes.size ?? bytes.length) === 0) throw invalid(argument, "is empty (0 bytes)");
  return bytes;
}

async function bytesPayload(bytes, argument) {
  let contentType = bytes.type || undefined;
  if (!contentType) {
    let head;
    try {
      head = bytes instanceof Uint8Array ? bytes.subarray(0, SNIFF_BYTES) : new Uint8Array(await bytes.slice(0, SNIFF_BYTES).arrayBuffer());
    } catch {
      throw invalid(argument, "could not be read");
    }
    contentType = sniffImage(head);
  }
  return { body: bytes, contentType };
}

/** Ids of byte bodies, so identical in-flight calls with the same Blob or view can share a request. */
const byteIds = new WeakMap();
let nextByteId = 0;

/**
 * A deterministic call: identical ones in flight share one request, unless
 * the client turned `dedupe` off or the call has options of its own (its
 * signal or observer must not steer another caller's request).
 */
function shared(client, route, options, payload, ownOptions) {
  if (!client.dedupe || ownOptions) return deliver(client, route, options, payload, false);
  let key = payload.body;
  if (typeof key !== "string") {
    if (!byteIds.has(key)) byteIds.set(key, ++nextByteId);
    key = `#${byteIds.get(key)}`;
  }
  // One lookup by body; the entry says which call it is.
  const joined = client.inFlight.get(key);
  if (joined) {
    if (joined.model === route.model && joined.kind === route.kind && joined.contentType === payload.contentType) {
      return joined.pending.catch((error) => {
        throw own(error);
      });
    }
    // The same body for another model or task: not the same call (rare), sent on its own.
    return deliver(client, route, options, payload, false);
  }
  const entry = { model: route.model, kind: route.kind, contentType: payload.contentType, pending: undefined };
  // In the map before the call starts, so that it is gone however early the call settles.
  client.inFlight.set(key, entry);
  entry.pending = deliver(client, route, options, payload, false, () => {
    if (client.inFlight.get(key) === entry) client.inFlight.delete(key);
  });
  return entry.pending;
}

/** The result the core read from a call's answer (parsed for each caller, so no two share objects). */
const result = (answer) => JSON.parse(answer.result);

/** The same error for another caller: callers sharing a request never share an error object. */
const own = (error) => (error instanceof InferenceError ? new InferenceError(error.message, error.code, error) : error);

// ---------------------------------------------------------------- micro-batching

/**
 * Adds `text` to the open batch of `key` (or opens one), and resolves with
 * this text's own result once the batch's one request answers. A batch goes
 * when its window ends or it is full; its failure is every member's.
 */
function batched(client, key, text, send) {
  const { windowMs, maxSize } = client.batch;
  let batch = client.batches.get(key);
  if (!batch) {
    let go;
    const ready = new Promise((resolve) => (go = resolve));
    batch = { texts: [], go };
    let timer;
    if (maxSize > 1) {
      client.batches.set(key, batch);
      timer = setTimeout(go, windowMs);
    }
    const current = batch;
    batch.lists = ready.then(() => {
      clearTimeout(timer);
      if (client.batches.get(key) === current) client.batches.delete(key);
      return send(current.texts);
    });
  }
  const index = batch.texts.push(text) - 1;
  if (batch.texts.length >= maxSize) {
    if (client.batches.get(key) === batch) client.batches.delete(key);
    batch.go();
  }
  return batch.lists.then(
    (lists) => {
      if (index >= lists.length) throw new InferenceError("the batched answer has fewer results than texts", "BAD_RESPONSE");
      return lists[index];
    },
    (error) => {
      throw own(error);
    },
  );
}

// ---------------------------------------------------------------- tasks

/** The call options of one call, over the client's. */
function callOptionsOf(client, value, model) {
  return tagged(() => callOptions(value, client.defaults, "callOptions"), model);
}

/** `run()`, with an error it throws tagged with `model` (also when it returns a promise that rejects). */
function tagged(run, model) {
  let value;
  try {
    value = run();
  } catch (error) {
    throw tag(error, model);
  }
  return value instanceof Promise
    ? value.catch((error) => {
        throw tag(error, model);
      })
    : value;
}

async function textClassification(client, model, text, params, callOptionsValue) {
  checkedModel(model);
  const [inputs, parameters] = tagged(() => [textsOf(text, "text"), paramsOf(params)], model);
  const options = callOptionsOf(client, callOptionsValue, model);
  const ownOptions = !absent(callOptionsValue);
  if (client.batch && typeof inputs === "string" && !ownOptions) {
    const key = `${model}\n${parameters === undefined ? "" : tagged(() => stringify(parameters, "params"), model)}`;
    return batched(client, key, inputs, async (batch) => {
      const body = taskBody(batch, parameters);
      const route = { model, kind: TEXT_CLASSIFICATION, input: batch };
      return result(await deliver(client, route, options, jsonPayload(body), false));
    });
  }
  const body = tagged(() => taskBody(inputs, parameters), model);
  const route = { model, kind: TEXT_CLASSIFICATION, input: inputs };
  return result(await shared(client, route, options, jsonPayload(body), ownOptions));
}

/** A prompt: one non-empty string. */
function promptOf(prompt) {
  if (typeof prompt !== "string" || !prompt.trim()) throw invalid("prompt", "must be a non-empty string");
  return prompt;
}

async function textGeneration(client, model, prompt, params, callOptionsValue) {
  checkedModel(model);
  const body = tagged(() => taskBody(promptOf(prompt), paramsOf(params)), model);
  const options = callOptionsOf(client, callOptionsValue, model);
  return result(await deliver(client, { model, kind: TEXT_GENERATION }, options, jsonPayload(body), false));
}

/** Zero-shot candidate labels: a non-empty array of non-empty strings. */
function labelsOf(labels) {
  if (!Array.isArray(labels)) throw invalid("candidate_labels", "must be an array of strings");
  labels.forEach((label, i) => {
    if (typeof label !== "string") throw invalid(`candidate_labels[${i}]`, "must be a string");
  });
  if (labels.length === 0) throw invalid("candidate_labels", "must be a non-empty array of strings");
  labels.forEach((label, i) => {
    if (!label.trim()) throw invalid(`candidate_labels[${i}]`, "must be a non-empty string");
  });
  return labels;
}

async function zeroShot(client, model, text, labels, params, callOptionsValue) {
  checkedModel(model);
  const body = tagged(() => {
    const inputs = textsOf(text, "text");
    const parameters = paramsOf(params);
    // The labels go into parameters, winning over any candidate_labels there.
    return taskBody(inputs, { ...parameters, candidate_labels: labelsOf(labels) });
  }, model);
  const options = callOptionsOf(client, callOptionsValue, model);
  const route = { model, kind: ZERO_SHOT, input: text };
  return result(await shared(client, route, options, jsonPayload(body), !absent(callOptionsValue)));
}

async function classifyImage(client, model, image, params, callOptionsValue) {
  checkedModel(model);
  const payload = await tagged(async () => {
    const bytes = bytesOf(image, "image");
    if (!bytes) throw invalid("image", "must be a Blob, an ArrayBuffer or a Uint8Array");
    const parameters = paramsOf(params);
    if (parameters === undefined) return bytesPayload(bytes, "image");
    // Parameters only travel in JSON, so the image goes as base64 there.
    const raw = bytes instanceof Uint8Array ? bytes : new Uint8Array(await bytes.arrayBuffer());
    return jsonPayload(taskBody(base64(raw), parameters));
  }, model);
  const options = callOptionsOf(client, callOptionsValue, model);
  const route = { model, kind: IMAGE_CLASSIFICATION };
  return result(await shared(client, route, options, payload, !absent(callOptionsValue)));
}

async function query(client, model, payload, callOptionsValue) {
  checkedModel(model);
  const options = callOptionsOf(client, callOptionsValue, model);
  const body = await tagged(async () => {
    if (payload === undefined) throw invalid("payload", "is required");
    const bytes = bytesOf(payload, "payload");
    if (bytes) return bytesPayload(bytes, "payload");
    return jsonPayload(stringify(payload, "payload"));
  }, model);
  const answer = await deliver(client, { model }, options, body, false);
  if (answer.blob) return answer.blob;
  if (!answer.contentType.includes("json")) return answer.text;
  try {
    return JSON.parse(answer.text);
  } catch {
    throw tag(new InferenceError("the answer is not valid JSON", "BAD_RESPONSE"), model, answer);
  }
}

/** Checks an OpenAI chat request; returns its model and the body to send, with `stream` set as asked. */
function chatRequest(request, stream) {
  if (absent(request) || typeof request !== "object" || Array.isArray(request)) {
    throw invalid("request", "must be an OpenAI chat request object {model, messages, ...}");
  }
  const { model, messages } = request;
  checkedModel(model, true);
  if (!Array.isArray(messages) || messages.length === 0) throw invalid("request.messages", "must be a non-empty array of messages");
  messages.forEach((message, i) => {
    if (typeof message?.role !== "string") throw invalid(`request.messages[${i}]`, 'must be an object with a "role" string');
  });
  if (!stream && request.stream === true) throw invalid("request.stream", "is true: use chatCompletionStream for a stream");
  return { model, body: stringify(stream ? { ...request, stream: true } : request, "request") };
}

async function chatCompletion(client, request, callOptionsValue) {
  const { body, model } = chatRequest(request, false);
  const options = callOptionsOf(client, callOptionsValue, model);
  return result(await deliver(client, { chat: true, model, kind: CHAT }, options, jsonPayload(body), false));
}

// ---------------------------------------------------------------- streams

/**
 * The source behind an `InferenceStream`: `open(signals)` sends the call on
 * the first pull and resolves with its 2xx answer; the body then goes
 * through the core's event parser, one chunk per pull.
 */
function streamSource(open) {
  const cancelled = new AbortController();
  let opening;
  let answer;
  let reader;
  let events;
  let model;
  let ended = false;
  const queue = [];

  const close = () => {
    ended = true;
    queue.length = 0;
    if (reader) {
      reader.cancel().catch(() => {});
      reader = undefined;
      answer.controller.abort();
      answer.release();
    }
    events?.free();
    events = undefined;
  };

  async function start() {
    const opened = await open(cancelled.signal);
    model = opened.model;
    answer = opened.answer;
    if (!answer.contentType.includes("event-stream")) {
      let text = "";
      try {
        text = await answer.response.text();
      } catch {
        // reported as the error below
      }
      answer.release();
      throw tag(coreError(notAStream(answer.contentType, text)), model, answer);
    }
    reader = answer.response.body.getReader();
    events = new Events();
    if (ended) close();
  }

  return {
    async pull() {
      for (;;) {
        if (queue.length) {
          const item = queue.shift();
          if ("chunk" in item) return item.chunk;
          close();
          if (item.error) throw coreError(item.error, model);
          return undefined;
        }
        if (ended) return undefined;
        if (!reader) {
          opening ??= start();
          try {
            await opening;
          } catch (error) {
            if (ended) return undefined;
            ended = true;
            throw error;
          }
          continue;
        }
        let read;
        try {
          read = await reader.read();
        } catch (error) {
          if (ended) return undefined;
          const aborted = answer.signals.some((s) => s.aborted);
          close();
          throw new InferenceError(
            aborted ? ABORTED_MESSAGE : `the stream from ${answer.url} was cut: ${describe(error)}`,
            aborted ? "ABORTED" : "NETWORK",
            { model, status: answer.status, attempts: answer.attempts },
          );
        }
        if (ended) return undefined;
        if (read.done) {
          // The items of a last, unterminated event still come out, one per pull.
          const last = JSON.parse(events.end());
          close();
          queue.push(...last);
          continue;
        }
        queue.push(...JSON.parse(events.push(read.value)));
      }
    },
    cancel() {
      cancelled.abort();
      close();
    },
  };
}

/** Opens a streamed call: validation happens on the first pull, so bad arguments reject it. */
function openStream(client, chat, prepareCall) {
  return new InferenceStream(
    streamSource(async (cancelSignal) => {
      const { model, body, options: callOptions } = prepareCall();
      // The stream's own signal joins the call's (a copy: options may be the client's defaults).
      const options = { ...callOptions, signals: [...callOptions.signals, cancelSignal] };
      const answer = await deliver(client, { chat, model }, options, jsonPayload(body), true);
      answer.signals = options.signals;
      return { model, answer };
    }),
  );
}

function chatCompletionStream(client, request, callOptionsValue) {
  return openStream(client, true, () => {
    const { body, model } = chatRequest(request, true);
    const options = callOptionsOf(client, callOptionsValue, model);
    return { model, body, options };
  });
}

function textGenerationStream(client, model, prompt, params, callOptionsValue) {
  return openStream(client, false, () => {
    checkedModel(model);
    const body = tagged(() => taskBody(promptOf(prompt), paramsOf(params), { stream: true }), model);
    return { model, body, options: callOptionsOf(client, callOptionsValue, model) };
  });
}

// ---------------------------------------------------------------- public API

/** A Hugging Face inference client; see index.d.ts for the options and methods. */
export class InferenceClient {
  #client;

  constructor(options) {
    this.#client = newClient(options);
  }

  query(model, payload, callOptions) {
    return query(this.#client, model, payload, callOptions);
  }

  textClassification(model, text, params, callOptions) {
    return textClassification(this.#client, model, text, params, callOptions);
  }

  textGeneration(model, prompt, params, callOptions) {
    return textGeneration(this.#client, model, prompt, params, callOptions);
  }

  classifyImage(model, image, params, callOptions) {
    return classifyImage(this.#client, model, image, params, callOptions);
  }

  zeroShot(model, text, candidateLabels, params, callOptions) {
    return zeroShot(this.#client, model, text, candidateLabels, params, callOptions);
  }

  chatCompletion(request, callOptions) {
    return chatCompletion(this.#client, request, callOptions);
  }

  chatCompletionStream(request, callOptions) {
    return chatCompletionStream(this.#client, request, callOptions);
  }

  textGenerationStream(model, prompt, params, callOptions) {
    return textGenerationStream(this.#client, model, prompt, params, callOptions);
  }
}

/** Runs one call on a client built from `options`; bad options reject. */
async function once(options, run) {
  return run(newClient(options));
}

/** Opens one stream on a client built from `options`; bad options reject the first pull. */
function onceStream(options, open) {
  let client;
  try {
    client = newClient(options);
  } catch (error) {
    return new InferenceStream({ pull: () => Promise.reject(error), cancel() {} });
  }
  return open(client);
}

export const queryFn = (model, payload, options) => once(options, (c) => query(c, model, payload));
export const textClassificationFn = (model, text, params, options) => once(options, (c) => textClassification(c, model, text, params));
export const textGenerationFn = (model, prompt, params, options) => once(options, (c) => textGeneration(c, model, prompt, params));
export const classifyImageFn = (model, image, params, options) => once(options, (c) => classifyImage(c, model, image, params));
export const zeroShotFn = (model, text, labels, params, options) => once(options, (c) => zeroShot(c, model, text, labels, params));
export const chatCompletionFn = (request, options) => once(options, (c) => chatCompletion(c, request));
export const chatCompletionStreamFn = (request, options) => onceStream(options, (c) => chatCompletionStream(c, request));
export const textGenerationStreamFn = (model, prompt, params, options) =>
  onceStream(options, (c) => textGenerationStream(c, model, prompt, params));
