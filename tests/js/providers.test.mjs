// Providers behind the router, through the packed package against the local
// upstream as router root and Hub: `provider` resolved through the Hub
// (both of its answer forms, cached), the reference client's routes and
// bodies per provider, NO_PROVIDER, refusals, failover over a list (on 5xx
// and on 402, never back to the provider that answered 402), `failures`,
// `onAttempt` info's `provider`, and chat's `model:provider` suffix.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { packageSuite, rejection } from "../support/package-suite.mjs";

let hf;
let up;
packageSuite(async (s) => ({ hf, up } = s));

const FLUX = "black-forest-labs/FLUX.1-schnell";
const MINILM = "sentence-transformers/all-MiniLM-L6-v2";
const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";

/** A client whose router, Hub and endpoints are the local upstream. */
const client = (extra = {}) =>
  new hf.InferenceClient({ routerUrl: up.url, hubUrl: up.url, retry: { baseDelayMs: 1 }, ...extra });

/** The inference requests (not the Hub's) the upstream received: [path, provider]. */
const inference = () => up.requests.filter((r) => !r.hub).map((r) => [r.path, r.provider]);

/** The upstream's own JSON answer at `path` to `body`. */
async function raw(path, body) {
  const response = await fetch(`${up.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json();
  up.reset();
  return answer;
}

describe("resolution through the Hub", () => {
  test("auto takes the first live mapping: together's images route, its id, the Blob read from b64_json", async () => {
    const blob = await client().textToImage(FLUX, "a lighthouse", { num_inference_steps: 4 }, { provider: "auto" });
    const hub = up.requests.filter((r) => r.hub);
    assert.deepEqual(hub.map((r) => `${r.path}${r.query}`), [`/api/models/${FLUX}?expand[]=inferenceProviderMapping`]);
    const sent = up.requests.find((r) => !r.hub);
    assert.equal(sent.path, "/together/v1/images/generations");
    const body = { steps: 4, prompt: "a lighthouse", response_format: "base64", model: "black-forest-labs/FLUX.1-schnell-Free" };
    assert.deepEqual(sent.json, body);
    const answer = await raw("/together/v1/images/generations", body);
    assert.equal(blob.type, "image/png");
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), Buffer.from(answer.data[0].b64_json, "base64"));
  });

  test("the Hub's list form is read, and its answer is cached per client", async () => {
    const c = client({ provider: "auto" });
    const first = await c.featureExtraction("BAAI/bge-large-en-v1.5", ["a", "b"]);
    await c.featureExtraction("BAAI/bge-large-en-v1.5", ["c"]);
    assert.equal(up.requests.filter((r) => r.hub).length, 1, "one Hub look-up for two calls");
    const sent = up.requests.filter((r) => !r.hub);
    assert.deepEqual(sent.map((r) => r.path), ["/together/v1/embeddings", "/together/v1/embeddings"]);
    assert.deepEqual(sent[0].json, { input: ["a", "b"], model: "BAAI/bge-large-en-v1.5" });
    const answer = await raw("/together/v1/embeddings", { input: ["a", "b"], model: "BAAI/bge-large-en-v1.5" });
    assert.deepEqual(first, answer.data.map((d) => d.embedding));
  });

  test("a named provider: scaleway's embeddings, and together's completions for text generation", async () => {
    await client().featureExtraction(MINILM, "hello", undefined, { provider: "scaleway" });
    assert.deepEqual(up.requests.at(-1).json, { input: "hello", model: MINILM });
    assert.equal(up.requests.at(-1).path, "/scaleway/v1/embeddings");
    up.reset();
    const out = await client().textGeneration("Qwen/Qwen2.5-7B-Instruct", "Once", { max_new_tokens: 3 }, { provider: "together" });
    const sent = up.requests.at(-1);
    assert.equal(sent.path, "/together/v1/completions");
    assert.deepEqual(sent.json, { model: "Qwen/Qwen2.5-7B-Instruct-Turbo", max_tokens: 3, prompt: "Once" });
    const answer = await raw("/together/v1/completions", sent.json);
    assert.deepEqual(out, { generated_text: answer.choices[0].text });
  });

  test("groq serves text generation on its chat route: one user message, the answer's content", async () => {
    up.hub("acme/chat-model", { groq: { providerId: "acme-instant", status: "live", task: "text-generation" } });
    const out = await client().textGeneration("acme/chat-model", "Say hi", { max_new_tokens: 4, temperature: 0 }, { provider: "auto" });
    const sent = up.requests.find((r) => !r.hub);
    assert.equal(sent.path, "/groq/openai/v1/chat/completions");
    const body = { messages: [{ role: "user", content: "Say hi" }], max_tokens: 4, temperature: 0, model: "acme-instant" };
    assert.deepEqual(sent.json, body);
    const answer = await raw("/groq/openai/v1/chat/completions", body);
    assert.deepEqual(out, { generated_text: answer.choices[0].message.content });
  });

  test("hf-inference asks no Hub, and sentence similarity counts as feature extraction there", async () => {
    await client({ provider: "hf-inference" }).summarization("facebook/bart-large-cnn", "A text to shorten.");
    assert.deepEqual(up.requests.map((r) => r.path), ["/hf-inference/models/facebook/bart-large-cnn"]);
    up.reset();
    await client().sentenceSimilarity(MINILM, { source_sentence: "a", sentences: ["b"] }, undefined, { provider: "auto" });
    assert.deepEqual(inference(), [[`/hf-inference/models/${MINILM}/pipeline/sentence-similarity`, "hf-inference"]]);
  });

  test("the guide's gpt2 is served by no provider: NO_PROVIDER before any inference request", async () => {
    const err = await rejection(client().textGeneration("gpt2", "The future", undefined, { provider: "auto" }));
    assert.equal(err.code, "NO_PROVIDER");
    assert.equal(err.message, "no provider serves gpt2 for text-generation (asked: auto); the Hub maps it for no task at all");
    assert.equal(err.model, "gpt2");
    assert.deepEqual(inference(), []);
  });

  test("a model the Hub does not know is NOT_FOUND", async () => {
    const err = await rejection(client().textToImage("nobody/nothing", "x", undefined, { provider: "auto" }));
    assert.deepEqual([err.code, err.status, err.message], ["NOT_FOUND", 404, "the Hub has no model nobody/nothing"]);
  });

  test("refusals: an unsupported pair, a malformed name, a provider with a dedicated endpoint", async () => {
    const pair = await rejection(client().textToImage(FLUX, "x", undefined, { provider: "groq" }));
    assert.deepEqual([pair.code, pair.message], ["INVALID_INPUT", "provider: provider groq is not supported for task text-to-image by this client"]);
    const name = await rejection(client().summarization("facebook/bart-large-cnn", "x", undefined, { provider: ["ok", "Not OK"] }));
    assert.equal(name.message, 'callOptions.provider[1]: must be a provider name such as "hf-inference", "auto" or "together"');
    assert.throws(() => new hf.InferenceClient({ endpoint: [{ url: up.url, dedicated: true }], provider: "auto" }), {
      message: "options.provider: cannot be used with a dedicated endpoint (it serves its own model)",
    });
    assert.deepEqual(up.requests, []);
  });
});

describe("failover between providers", () => {
  test("a provider that is down sends the next attempt to the next one; onAttempt names each", async () => {
    up.fault({ pathPrefix: "/nscale/", status: 503, body: '{"error":"nscale is down"}', times: -1 });
    const seen = [];
    const blob = await client().textToImage(FLUX, "x", undefined, {
      provider: ["nscale", "together"],
      onAttempt: (info) => seen.push([info.attempt, info.provider, info.status, info.code]),
    });
    assert.ok(blob instanceof Blob);
    assert.deepEqual(seen, [[1, "nscale", 503, "UPSTREAM_ERROR"], [2, "together", 200, undefined]]);
    assert.deepEqual(inference(), [["/nscale/v1/images/generations", "nscale"], ["/together/v1/images/generations", "together"]]);
  });

  test("a 402 fails over at once and is never retried on the provider that answered it", async () => {
    up.fault({ pathPrefix: "/together/", status: 402, body: '{"error":"credits used up"}', times: -1 });
    up.fault({ pathPrefix: "/nscale/", status: 503, body: '{"error":"busy"}', times: 1 });
    const c = client();
    const blob = await c.textToImage(FLUX, "x", undefined, { provider: ["together", "nscale"], retry: { maxAttempts: 4, baseDelayMs: 1 } });
    assert.ok(blob instanceof Blob);
    assert.deepEqual(inference().map(([, p]) => p), ["together", "nscale", "nscale"]);
  });

  test("when every provider fails, the error lists each failure", async () => {
    up.fault({ pathPrefix: "/together/", status: 402, body: '{"error":"credits used up"}', times: -1 });
    up.fault({ pathPrefix: "/nscale/", status: 503, body: '{"error":"nscale is down"}', times: -1 });
    const err = await rejection(client().textToImage(FLUX, "x", undefined, { provider: ["together", "nscale"], retry: { maxAttempts: 3, baseDelayMs: 1 } }));
    assert.equal(err.code, "UPSTREAM_ERROR");
    assert.equal(err.attempts, 3);
    assert.deepEqual(err.failures, [
      { provider: "together", status: 402, code: "PAYMENT_REQUIRED", message: "credits used up" },
      { provider: "nscale", status: 503, code: "UPSTREAM_ERROR", message: "nscale is down" },
      { provider: "nscale", status: 503, code: "UPSTREAM_ERROR", message: "nscale is down" },
    ]);
  });

  test("BUDGET_EXCEEDED from a proxy never fails over", async () => {
    up.fault({ pathPrefix: "/together/", status: 402, body: '{"error":"the daily cap","code":"BUDGET_EXCEEDED"}', times: -1 });
    const err = await rejection(client().textToImage(FLUX, "x", undefined, { provider: ["together", "nscale"] }));
    assert.equal(err.code, "BUDGET_EXCEEDED");
    assert.deepEqual(inference().map(([, p]) => p), ["together"]);
  });
});

describe("chat", () => {
  const messages = [{ role: "user", content: "hi" }];
  test("providers become the router's model:provider suffix, tried in order", async () => {
    up.fault({ status: 429, body: '{"error":"slow down"}', times: 1 });
    const seen = [];
    await client().chatCompletion({ model: LLAMA, messages }, { provider: ["groq", "together"], onAttempt: (i) => seen.push(i.provider) });
    const sent = up.requests.map((r) => [r.path, r.json.model]);
    assert.deepEqual(sent, [["/v1/chat/completions", `${LLAMA}:groq`], ["/v1/chat/completions", `${LLAMA}:together`]]);
    assert.deepEqual(seen, ["groq", "together"]);
  });

  test("a suffix in the request wins, and without provider the router chooses", async () => {
    await client({ provider: "together" }).chatCompletion({ model: `${LLAMA}:groq`, messages });
    await client().chatCompletion({ model: LLAMA, messages });
    assert.deepEqual(up.requests.map((r) => r.json.model), [`${LLAMA}:groq`, LLAMA]);
    assert.equal(up.requests.filter((r) => r.hub).length, 0);
  });
});
