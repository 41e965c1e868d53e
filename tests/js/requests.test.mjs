// The request bodies the packed package writes, as the local upstream receives
// them: every recorded JSON task request (tests/fixtures/recordings.json)
// rebuilt from its inputs and parameters and compared with the recorded body,
// key order aside; a few bodies byte for byte; and the bad arguments refused
// with INVALID_INPUT before any request is sent.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

import { packageSuite, rejection } from "../support/package-suite.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const MNLI = "facebook/bart-large-mnli";
const GENERATION_MODELS = ["gpt2", "flan-t5-xxl", "Mistral-7B-Instruct-v0.2", "does-not-exist"];

let hf; // the installed package's exports
let up;

packageSuite(async (s) => ({ hf, up } = s));

const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));

const client = () => new hf.InferenceClient({ endpoint: up.url, chatEndpoint: `${up.url}/v1`, retry: false });
/** A client of one model's dedicated endpoint (an Inference Endpoint running TGI), which takes the legacy body. */
const dedicated = (model) => new hf.InferenceClient({ endpoint: [{ url: `${up.url}/models/${model}`, dedicated: true }], retry: false });

/** The model of a task URL (`.../models/{model}`); undefined for a chat URL. */
function modelOf(url) {
  const model = url.split("/models/")[1];
  return model?.includes("/v1/") ? undefined : model;
}

/**
 * The client method that rebuilds a recorded JSON body, by the model (as
 * `task_of` in tests/recordings.rs); undefined for streams, chat bodies and
 * other tasks.
 */
function taskOf(rec, body) {
  const model = modelOf(rec.request.url);
  const stream = rec.response.headers?.["content-type"] === "text/event-stream" || body.stream === true;
  if (!model || stream || !("inputs" in body)) return undefined;
  if (model.includes("sst-2")) return "textClassification";
  if (model.endsWith("bart-large-mnli")) return "zeroShot";
  if (GENERATION_MODELS.some((m) => model.includes(m))) return "textGeneration";
  return undefined;
}

const CALLS = {
  textClassification: (c, model, { inputs, parameters }) => c.textClassification(model, inputs, parameters),
  textGeneration: (c, model, { inputs, parameters }) => c.textGeneration(model, inputs, parameters),
  zeroShot: (c, model, { inputs, parameters }) => c.zeroShot(model, inputs, parameters.candidate_labels, parameters),
};

/** The recorded JSON task requests our client can rebuild. */
const RECORDED = recordings.flatMap((rec) => {
  const text = rec.request.body?.text;
  const body = text === undefined ? undefined : JSON.parse(text);
  const task = body && taskOf(rec, body);
  // The legacy cassettes sent zero-shot labels as one comma-joined string: skipped.
  if (!task || (task === "zeroShot" && !Array.isArray(body.parameters?.candidate_labels))) return [];
  return [{ id: rec.id, task, model: modelOf(rec.request.url), body }];
});

/** A recorded body without what the recorders' clients added: `options`, `model` and `stream: false`. */
function withoutRecorderExtras({ options, model, ...body }) {
  if (body.stream === false) delete body.stream;
  return body;
}

/** JSON text with object keys sorted at every depth: equal texts for equal values. */
function canonical(value) {
  const sorted = (v) =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
        : v;
  return JSON.stringify(sorted(value));
}

/** The last request the upstream received at `path`. */
function lastSent(path) {
  const sent = up.requests.findLast((r) => r.path === path);
  assert.ok(sent, `a request reached ${path}`);
  return sent;
}

/** Reads a stream to its end; whether it succeeds does not matter here. */
async function drain(stream) {
  try {
    for await (const _chunk of stream);
  } catch {
    // an error answer ends the stream too
  }
}

describe("recorded requests", () => {
  test("37 recorded JSON task requests are checked", () => {
    assert.equal(RECORDED.length, 37);
  });

  for (const { id, task, model, body } of RECORDED) {
    test(`${task}: ${id}`, async () => {
      // Some recordings are error answers: only the request matters.
      // Text generation's recorded form is today's for dedicated endpoints only.
      const c = task === "textGeneration" ? dedicated(model) : client();
      await CALLS[task](c, model, body).catch(() => {});
      const sent = lastSent(`/models/${model}`);
      assert.equal(canonical(sent.json), canonical(withoutRecorderExtras(body)));
    });
  }
});

describe("bodies byte for byte", () => {
  test("textGeneration: a completion, the model first, parameters in the caller's order, max_new_tokens renamed", async () => {
    await client().textGeneration("gpt2", 'The future "AI"', { max_length: 50, max_new_tokens: 8, temperature: 0.7 });
    assert.equal(
      lastSent("/models/gpt2/v1/completions").bodyText,
      '{"model":"gpt2","max_length":50,"max_tokens":8,"temperature":0.7,"prompt":"The future \\"AI\\""}',
    );
  });

  test("textGeneration on a dedicated endpoint: the legacy inputs and parameters", async () => {
    await dedicated("gpt2").textGeneration("gpt2", 'The future "AI"', { max_length: 50, temperature: 0.7 });
    assert.equal(
      lastSent("/models/gpt2").bodyText,
      '{"inputs":"The future \\"AI\\"","parameters":{"max_length":50,"temperature":0.7}}',
    );
  });

  test("textClassification: an array of texts and no parameters", async () => {
    await client().textClassification(SST2, ["a", "b"]);
    assert.equal(lastSent(`/models/${SST2}`).bodyText, '{"inputs":["a","b"]}');
  });

  test("zeroShot: the labels win over candidate_labels in the parameters", async () => {
    await client().zeroShot(MNLI, "t", ["a", "b"], { multi_label: true, candidate_labels: ["old"] });
    assert.equal(
      lastSent(`/models/${MNLI}`).bodyText,
      '{"inputs":"t","parameters":{"multi_label":true,"candidate_labels":["a","b"]}}',
    );
  });

  test("textGenerationStream: a completion with stream true last", async () => {
    await drain(client().textGenerationStream("gpt2", "hi", { max_new_tokens: 5 }));
    assert.equal(lastSent("/models/gpt2/v1/completions").bodyText, '{"model":"gpt2","max_tokens":5,"prompt":"hi","stream":true}');
    await drain(dedicated("gpt2").textGenerationStream("gpt2", "hi", { max_new_tokens: 5 }));
    assert.equal(lastSent("/models/gpt2").bodyText, '{"inputs":"hi","parameters":{"max_new_tokens":5},"stream":true}');
  });

  test("chatCompletionStream: the request as given, stream true appended", async () => {
    const model = "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai";
    await drain(client().chatCompletionStream({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 }));
    assert.equal(
      lastSent("/v1/chat/completions").bodyText,
      `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}`,
    );
  });
});

describe("INVALID_INPUT before any request", () => {
  const user = [{ role: "user" }];
  const cases = [
    ["empty text", (c) => c.textClassification(SST2, ""), "text: must be a non-empty string"],
    [
      "empty array of texts",
      (c) => c.textClassification(SST2, []),
      "text: must be a non-empty string or a non-empty array of strings",
    ],
    ["non-string text", (c) => c.textClassification(SST2, ["a", 3]), "text[1]: must be a string"],
    ["blank text", (c) => c.textClassification(SST2, ["a", " "]), "text[1]: must be a non-empty string"],
    ["no labels", (c) => c.zeroShot(MNLI, "t", []), "candidate_labels: must be a non-empty array of strings"],
    ["blank label", (c) => c.zeroShot(MNLI, "t", ["a", " "]), "candidate_labels[1]: must be a non-empty string"],
    ["labels as a string", (c) => c.zeroShot(MNLI, "t", "a"), "candidate_labels: must be an array of strings"],
    ["params an array", (c) => c.zeroShot(MNLI, "t", ["a"], []), "params: must be an object of task parameters"],
    ["blank prompt", (c) => c.textGeneration("gpt2", "  "), "prompt: must be a non-empty string"],
    [
      "chat request an array",
      (c) => c.chatCompletion([]),
      "request: must be an OpenAI chat request object {model, messages, ...}",
    ],
    ["chat without a model", (c) => c.chatCompletion({ messages: user }), "request.model: must be a model id string"],
    [
      "chat model with two slashes",
      (c) => c.chatCompletion({ model: "a/b/c", messages: user }),
      "request.model: has more than one '/' (expected \"owner/name\")",
    ],
    [
      "chat model with an empty provider",
      (c) => c.chatCompletion({ model: "gpt2:", messages: user }),
      'request.model: has a malformed provider suffix (expected "owner/name:provider")',
    ],
    [
      "chat without messages",
      (c) => c.chatCompletion({ model: "gpt2", messages: [] }),
      "request.messages: must be a non-empty array of messages",
    ],
    [
      "chat message without a role",
      (c) => c.chatCompletion({ model: "gpt2", messages: [{ content: "x" }] }),
      'request.messages[0]: must be an object with a "role" string',
    ],
    [
      "chat asking for a stream",
      (c) => c.chatCompletion({ model: "gpt2", messages: user, stream: true }),
      "request.stream: is true: use chatCompletionStream for a stream",
    ],
  ];
  for (const [name, call, message] of cases) {
    test(name, async () => {
      const err = await rejection(call(client()));
      assert.ok(err instanceof hf.InferenceError, `${name}: ${err}`);
      assert.deepEqual([err.code, err.message], ["INVALID_INPUT", message]);
      assert.equal(up.requests.length, 0, "nothing reached the upstream");
    });
  }
});
