// The router's tasks added with issue 12, through the packed package against
// the local upstream: for each, the request on the wire (path, body, content
// type) and the result, compared with the upstream's own answer to the same
// request as the reference client (@huggingface/inference 4.13) unwraps it;
// then the refusals before any request, and the answers of the wrong shape.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

import { packageSuite, rejection } from "../support/package-suite.mjs";

let hf;
let up;
packageSuite(async (s) => ({ hf, up } = s));

const CAT = new Uint8Array(await readFile(new URL("../../examples/cat.jpg", import.meta.url)));
// A WAV header and a little silence: the audio tasks' input.
const WAV = new Uint8Array([
  ...Buffer.from("RIFF"), 44, 0, 0, 0, ...Buffer.from("WAVEfmt "), 16, 0, 0, 0, 1, 0, 1, 0,
  0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0, ...Buffer.from("data"), 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

const client = (extra = {}) => new hf.InferenceClient({ endpoint: up.url, chatEndpoint: `${up.url}/v1`, ...extra });

/** The upstream's own answer at `path` to `body`, read without the client. */
async function raw(path, body, contentType = "application/json") {
  const response = await fetch(`${up.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
  const type = response.headers.get("content-type") ?? "";
  const answer = type.includes("json") ? await response.json() : new Uint8Array(await response.arrayBuffer());
  up.reset();
  return answer;
}

/** The one request the upstream received. */
function sent() {
  assert.equal(up.requests.length, 1, "one request");
  return up.requests[0];
}

const b64 = (bytes) => Buffer.from(bytes).toString("base64");

// [task, call, path, the body the upstream must receive (JSON) or the bytes, how the answer is unwrapped]
const JSON_TASKS = [
  ["featureExtraction (one text)", (c) => c.featureExtraction("sentence-transformers/all-MiniLM-L6-v2", "hello world"),
    "/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction", { inputs: "hello world" }, (a) => a],
  ["featureExtraction (texts)", (c) => c.featureExtraction("sentence-transformers/all-MiniLM-L6-v2", ["a cat", "a dog"]),
    "/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction", { inputs: ["a cat", "a dog"] }, (a) => a],
  ["sentenceSimilarity", (c) => c.sentenceSimilarity("sentence-transformers/all-MiniLM-L6-v2", { source_sentence: "a cat", sentences: ["a cat", "a car"] }),
    "/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/sentence-similarity", { inputs: { source_sentence: "a cat", sentences: ["a cat", "a car"] } }, (a) => a],
  ["summarization", (c) => c.summarization("facebook/bart-large-cnn", "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in Paris.", { max_length: 30 }),
    "/models/facebook/bart-large-cnn", { inputs: "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in Paris.", parameters: { max_length: 30 } }, (a) => a[0]],
  ["translation (one text)", (c) => c.translation("Helsinki-NLP/opus-mt-en-fr", "My name is Wolfgang"),
    "/models/Helsinki-NLP/opus-mt-en-fr", { inputs: "My name is Wolfgang" }, (a) => a[0]],
  ["translation (texts)", (c) => c.translation("Helsinki-NLP/opus-mt-en-fr", ["one", "two"]),
    "/models/Helsinki-NLP/opus-mt-en-fr", { inputs: ["one", "two"] }, (a) => a],
  ["tokenClassification", (c) => c.tokenClassification("dslim/bert-base-NER", "My name is Sarah Jessica Parker and I live in New York"),
    "/models/dslim/bert-base-NER", { inputs: "My name is Sarah Jessica Parker and I live in New York" }, (a) => a],
  ["questionAnswering", (c) => c.questionAnswering("deepset/roberta-base-squad2", { question: "Where do I live?", context: "My name is Wolfgang and I live in Berlin" }),
    "/models/deepset/roberta-base-squad2", { inputs: { question: "Where do I live?", context: "My name is Wolfgang and I live in Berlin" } }, (a) => (Array.isArray(a) ? a[0] : a)],
  ["fillMask", (c) => c.fillMask("google-bert/bert-base-uncased", "The goal of life is [MASK]."),
    "/models/google-bert/bert-base-uncased", { inputs: "The goal of life is [MASK]." }, (a) => a],
];

describe("text and JSON tasks", () => {
  for (const [name, call, path, body, unwrap] of JSON_TASKS) {
    test(`${name}: ${path}`, async () => {
      const expected = unwrap(await raw(path, JSON.stringify(body)));
      const result = await call(client());
      const request = sent();
      assert.equal(request.path, path);
      assert.equal(request.headers["content-type"], "application/json");
      assert.deepEqual(request.json, body);
      assert.deepEqual(result, expected);
    });
  }

  test("the free functions take the client options last", async () => {
    const text = "A short text to summarise here.";
    const result = await hf.summarization("facebook/bart-large-cnn", text, { max_length: 20 }, { endpoint: up.url });
    const request = sent();
    assert.equal(request.path, "/models/facebook/bart-large-cnn");
    assert.deepEqual(request.json, { inputs: text, parameters: { max_length: 20 } });
    const expected = await raw("/models/facebook/bart-large-cnn", JSON.stringify(request.json));
    assert.deepEqual(result, expected[0]);
  });
});

describe("media tasks", () => {
  const image = () => new Blob([CAT], { type: "image/jpeg" });
  test("objectDetection sends the image's bytes as they are", async () => {
    const expected = await raw("/models/facebook/detr-resnet-50", CAT, "image/jpeg");
    const result = await client().objectDetection("facebook/detr-resnet-50", image());
    const request = sent();
    assert.equal(request.headers["content-type"], "image/jpeg");
    assert.deepEqual(new Uint8Array(request.body), CAT);
    assert.deepEqual(result, expected);
    assert.equal(typeof result[0].box.xmin, "number");
  });

  test("imageToText reads the recorded list shape as one caption", async () => {
    const expected = await raw("/models/Salesforce/blip-image-captioning-large", CAT, "image/jpeg");
    const result = await client().imageToText("Salesforce/blip-image-captioning-large", CAT);
    assert.equal(sent().headers["content-type"], "image/jpeg");
    assert.deepEqual(result, Array.isArray(expected) ? expected[0] : expected);
  });

  test("imageSegmentation sends the image as base64 inside JSON", async () => {
    const body = { inputs: b64(CAT) };
    const expected = await raw("/models/facebook/detr-resnet-50-panoptic", JSON.stringify(body));
    const result = await client().imageSegmentation("facebook/detr-resnet-50-panoptic", CAT.buffer.slice(0));
    assert.deepEqual(sent().json, body);
    assert.deepEqual(result, expected);
  });

  test("zeroShotImageClassification sends {inputs: {image}, parameters: {candidate_labels}}", async () => {
    const body = { inputs: { image: b64(CAT) }, parameters: { candidate_labels: ["cat", "dog"] } };
    const expected = await raw("/models/openai/clip-vit-large-patch14", JSON.stringify(body));
    const result = await client().zeroShotImageClassification("openai/clip-vit-large-patch14", image(), ["cat", "dog"]);
    assert.deepEqual(sent().json, body);
    assert.deepEqual(result, expected);
  });

  test("automaticSpeechRecognition and audioClassification send the audio with its sniffed type", async () => {
    const transcript = await raw("/models/openai/whisper-large-v3", WAV, "audio/wav");
    assert.deepEqual(await client().automaticSpeechRecognition("openai/whisper-large-v3", WAV), transcript);
    assert.equal(sent().headers["content-type"], "audio/wav");
    up.reset();
    const classes = await raw("/models/superb/hubert-large-superb-er", WAV, "audio/wav");
    assert.deepEqual(await client().audioClassification("superb/hubert-large-superb-er", Buffer.from(WAV)), classes);
  });

  test("textToImage gives a Blob of the image's type", async () => {
    const body = { inputs: "an astronaut riding a horse", parameters: { num_inference_steps: 4 } };
    const expected = await raw("/models/black-forest-labs/FLUX.1-schnell", JSON.stringify(body));
    const blob = await client().textToImage("black-forest-labs/FLUX.1-schnell", body.inputs, body.parameters);
    assert.deepEqual(sent().json, body);
    assert.ok(blob instanceof Blob);
    assert.equal(blob.type, "image/png");
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), expected);
  });

  test("an OpenAI-style {data: [{b64_json}]} answer is read into a Blob too", async () => {
    const png = await raw("/models/black-forest-labs/FLUX.1-schnell", JSON.stringify({ inputs: "x" }));
    up.fault({ body: JSON.stringify({ data: [{ b64_json: b64(png) }] }), headers: { "content-type": "application/json" } });
    const blob = await client().textToImage("black-forest-labs/FLUX.1-schnell", "x");
    assert.equal(blob.type, "image/png");
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), png);
  });
});

describe("imageGeneration", () => {
  test("posts the OpenAI images request to the chat base and returns the answer as sent", async () => {
    const request = { model: "black-forest-labs/FLUX.1-schnell", prompt: "a lighthouse", size: "512x512" };
    const expected = await raw("/v1/images/generations", JSON.stringify(request));
    const result = await client().imageGeneration(request);
    assert.equal(sent().path, "/v1/images/generations");
    assert.deepEqual(sent().json, request);
    assert.deepEqual(result, expected);
  });
});

describe("refused before any request", () => {
  const cases = [
    ["featureExtraction with an empty list", (c) => c.featureExtraction("m/x", []), "text: must be a non-empty string or a non-empty array of strings"],
    ["summarization of a blank text", (c) => c.summarization("m/x", "  "), "text: must be a non-empty string"],
    ["translation of a number", (c) => c.translation("m/x", 3), "text: must be a string or an array of strings"],
    ["textToImage without a prompt", (c) => c.textToImage("m/x"), "prompt: must be a non-empty string"],
    ["questionAnswering without a context", (c) => c.questionAnswering("m/x", { question: "q" }), "input.context: is required"],
    ["questionAnswering of a string", (c) => c.questionAnswering("m/x", "q"), "input: must be an object {question, context}"],
    ["sentenceSimilarity with a blank sentence", (c) => c.sentenceSimilarity("m/x", { source_sentence: "a", sentences: ["b", ""] }), "input.sentences[1]: must be a non-empty string"],
    ["objectDetection of a string", (c) => c.objectDetection("m/x", "cat.jpg"), "image: must be a Blob, an ArrayBuffer or a Uint8Array"],
    ["automaticSpeechRecognition of no bytes", (c) => c.automaticSpeechRecognition("m/x", new Uint8Array(0)), "audio: is empty (0 bytes)"],
    ["audioClassification of a string", (c) => c.audioClassification("m/x", "a.wav"), "audio: must be a Blob, an ArrayBuffer or a Uint8Array"],
    ["zeroShotImageClassification without labels", (c) => c.zeroShotImageClassification("m/x", CAT, []), "candidate_labels: must be a non-empty array of strings"],
    ["fillMask with a bad model", (c) => c.fillMask("a/b/c", "x [MASK]"), "model: has more than one '/' (expected \"owner/name\")"],
    ["imageGeneration without a prompt", (c) => c.imageGeneration({ model: "m/x" }), "request.prompt: must be a non-empty string"],
  ];
  for (const [name, call, message] of cases) {
    test(name, async () => {
      const err = await rejection(call(client()));
      assert.equal(err.code, "INVALID_INPUT");
      assert.equal(err.message, message);
      assert.equal(up.requests.length, 0);
    });
  }
});

describe("answers of another shape", () => {
  test("are BAD_RESPONSE naming what was expected, with the status", async () => {
    up.fault({ body: JSON.stringify([{ label: "x" }]), headers: { "content-type": "application/json" } });
    const err = await rejection(client().tokenClassification("dslim/bert-base-NER", "Ana lives here"));
    assert.equal(err.code, "BAD_RESPONSE");
    assert.equal(err.message, "the token-classification answer is not [{entity_group, score, word, start, end}]");
    assert.equal(err.status, 200);
    assert.equal(err.model, "dslim/bert-base-NER");
  });

  test("an error inside a 200 is upstream's", async () => {
    up.fault({ body: JSON.stringify({ error: "No mask_token ([MASK]) found on the input" }), headers: { "content-type": "application/json" } });
    const err = await rejection(client().fillMask("google-bert/bert-base-uncased", "no mask here"));
    assert.equal(err.code, "UPSTREAM_ERROR");
    assert.equal(err.message, "No mask_token ([MASK]) found on the input");
  });
});
