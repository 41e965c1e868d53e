// The router's tasks of issue 12 in real headless Chromium: the browser entry
// of the package, in a page of one origin, calls the local upstream on another
// (tasks.html). For each task, the request the upstream received (path, body,
// content type, the page's Origin) and the result, compared with the upstream's
// own answer to the same request, fetched from Node afterwards and unwrapped as
// the reference client does (tests/js/tasks.test.mjs does the same in Node);
// then text generation on today's protocol, a provider resolved through the
// Hub, failover over a provider list, and no CORS failure along the way.
//
//   make build
//   node --test tests/browser/
//
// The calls below are written here but run in the page (page.evaluate), where
// `client`, `routed`, `cat`, `CAT`, `WAV`, `hf` and `upstream` are tasks.html's.

import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startStaticServer } from "../support/static-server.mjs";
import { describePageLog, launchChromium, openPage } from "../support/browser.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const pkgDir = path.join(repoRoot, "pkg");
const catPath = path.join(repoRoot, "examples/cat.jpg");

const CAT = await readFile(catPath);
// tasks.html builds the same bytes.
const WAV = Buffer.from([
  ...Buffer.from("RIFF"), 44, 0, 0, 0, ...Buffer.from("WAVEfmt "), 16, 0, 0, 0, 1, 0, 1, 0,
  0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0, ...Buffer.from("data"), 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);
const CAPTIONER = "nlpconnect/vit-gpt2-image-captioning";
const MINILM = "sentence-transformers/all-MiniLM-L6-v2";
const FLUX = "black-forest-labs/FLUX.1-schnell";

let up;
let site;
let browser;
let tab; // { page, consoleMessages, pageErrors }

const log = () => describePageLog(tab);
const b64 = (bytes) => Buffer.from(bytes).toString("base64");

/** How the page hands back a Blob (tasks.html `portable`). */
const blobOf = (bytes, type) => ({ blob: { type, size: bytes.length, base64: b64(bytes) } });

/** Runs `thunk` (its source, closure-free) in the page; its result, failing the test on a rejection. */
async function inPage(thunk) {
  const outcome = await tab.page.evaluate(`settle(${thunk})`);
  assert.ok(outcome.ok, `rejected in the page: ${JSON.stringify(outcome.error)}\n${log()}`);
  return outcome.result;
}

/** The inference requests (not the Hub's) the upstream received; each came from the page's origin. */
function inference() {
  for (const r of up.requests) assert.equal(r.headers.origin, site.url, `${r.method} ${r.path} did not come from the page`);
  return up.requests.filter((r) => !r.hub);
}

/** The one request the upstream received. */
function onlyRequest() {
  const requests = inference();
  assert.equal(up.requests.length, 1, `one request, got: ${up.requests.map((r) => r.path).join(", ")}`);
  return requests[0];
}

/** The upstream's own answer at `path` to `body`, read from Node without the client. */
async function raw(urlPath, body, contentType = "application/json") {
  const response = await fetch(`${up.url}${urlPath}`, { method: "POST", headers: { "content-type": contentType }, body });
  assert.equal(response.status, 200, `the upstream's own answer at ${urlPath}`);
  const type = response.headers.get("content-type") ?? "";
  const answer = type.includes("json") ? await response.json() : Buffer.from(await response.arrayBuffer());
  up.reset();
  return answer;
}

const first = (answer) => answer[0];

before(async () => {
  for (const file of ["index.browser.js", "hf_inference_wasm.js", "hf_inference_wasm_bg.wasm"]) {
    if (!existsSync(path.join(pkgDir, file))) throw new Error(`pkg/${file} is missing: run make build first`);
  }
  const { startUpstream } = await import("../upstream/upstream.mjs");
  up = await startUpstream({ port: 0 });
  site = await startStaticServer({
    mounts: { "/pkg/": pkgDir },
    routes: { "/": path.join(here, "tasks.html"), "/harness.js": path.join(here, "harness.js"), "/cat.jpg": catPath },
  });
  assert.notEqual(new URL(site.url).port, new URL(up.url).port, "page and upstream must be cross-origin");
  browser = await launchChromium();
  tab = await openPage(browser.context, `${site.url}/?upstream=${encodeURIComponent(up.url)}`);
  await tab.page
    .waitForFunction(() => document.body.dataset.result || document.body.dataset.failed, null, { timeout: 60_000 })
    .catch((err) => {
      throw new Error(`tasks.html never got ready: ${err.message}\n${log()}`);
    });
  const failed = await tab.page.evaluate(() => document.body.dataset.failed ?? null);
  if (failed) throw new Error(`tasks.html failed: ${failed}\n${log()}`);
  const ready = JSON.parse(await tab.page.evaluate(() => document.body.dataset.result));
  assert.deepEqual(ready, { ready: true, catBytes: CAT.length, wavBytes: WAV.length });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await up?.close();
});

beforeEach(() => up.reset());

// Each case: the call (run in the page), the path, what the upstream must
// receive (`json`, or `bytes` of `type`), how its own answer is unwrapped.
const CASES = [
  {
    name: "featureExtraction (one text)",
    call: () => client().featureExtraction("sentence-transformers/all-MiniLM-L6-v2", "hello world"),
    path: `/models/${MINILM}/pipeline/feature-extraction`,
    json: { inputs: "hello world" },
  },
  {
    name: "featureExtraction (texts)",
    call: () => client().featureExtraction("sentence-transformers/all-MiniLM-L6-v2", ["a cat", "a dog"]),
    path: `/models/${MINILM}/pipeline/feature-extraction`,
    json: { inputs: ["a cat", "a dog"] },
  },
  {
    name: "sentenceSimilarity",
    call: () =>
      client().sentenceSimilarity("sentence-transformers/all-MiniLM-L6-v2", { source_sentence: "a cat", sentences: ["a cat", "a car"] }),
    path: `/models/${MINILM}/pipeline/sentence-similarity`,
    json: { inputs: { source_sentence: "a cat", sentences: ["a cat", "a car"] } },
  },
  {
    name: "textToImage (a Blob of the image's type and bytes)",
    call: () => client().textToImage("black-forest-labs/FLUX.1-schnell", "an astronaut riding a horse", { num_inference_steps: 4 }),
    path: `/models/${FLUX}`,
    json: { inputs: "an astronaut riding a horse", parameters: { num_inference_steps: 4 } },
    unwrap: (png) => blobOf(png, "image/png"),
  },
  {
    name: "summarization",
    call: () => client().summarization("facebook/bart-large-cnn", "The tower is 324 metres tall, the tallest structure in Paris.", { max_length: 30 }),
    path: "/models/facebook/bart-large-cnn",
    json: { inputs: "The tower is 324 metres tall, the tallest structure in Paris.", parameters: { max_length: 30 } },
    unwrap: first,
  },
  {
    name: "translation (one text)",
    call: () => client().translation("Helsinki-NLP/opus-mt-en-fr", "My name is Wolfgang"),
    path: "/models/Helsinki-NLP/opus-mt-en-fr",
    json: { inputs: "My name is Wolfgang" },
    unwrap: first,
  },
  {
    name: "translation (texts)",
    call: () => client().translation("Helsinki-NLP/opus-mt-en-fr", ["one", "two"]),
    path: "/models/Helsinki-NLP/opus-mt-en-fr",
    json: { inputs: ["one", "two"] },
  },
  {
    name: "tokenClassification",
    call: () => client().tokenClassification("dslim/bert-base-NER", "My name is Sarah Jessica Parker and I live in New York"),
    path: "/models/dslim/bert-base-NER",
    json: { inputs: "My name is Sarah Jessica Parker and I live in New York" },
  },
  {
    name: "questionAnswering",
    call: () =>
      client().questionAnswering("deepset/roberta-base-squad2", { question: "Where do I live?", context: "My name is Wolfgang and I live in Berlin" }),
    path: "/models/deepset/roberta-base-squad2",
    json: { inputs: { question: "Where do I live?", context: "My name is Wolfgang and I live in Berlin" } },
    unwrap: (a) => (Array.isArray(a) ? a[0] : a),
  },
  {
    name: "fillMask",
    call: () => client().fillMask("google-bert/bert-base-uncased", "The goal of life is [MASK]."),
    path: "/models/google-bert/bert-base-uncased",
    json: { inputs: "The goal of life is [MASK]." },
  },
  {
    name: "objectDetection of a Blob (its bytes and type as they are)",
    call: () => client().objectDetection("facebook/detr-resnet-50", cat()),
    path: "/models/facebook/detr-resnet-50",
    bytes: CAT,
    type: "image/jpeg",
  },
  {
    name: "imageSegmentation of an ArrayBuffer (base64 inside JSON)",
    call: () => client().imageSegmentation("facebook/detr-resnet-50-panoptic", CAT.buffer.slice(0)),
    path: "/models/facebook/detr-resnet-50-panoptic",
    json: { inputs: b64(CAT) },
  },
  {
    name: "imageToText of a Uint8Array (the type sniffed)",
    call: () => client().imageToText("nlpconnect/vit-gpt2-image-captioning", CAT),
    path: `/models/${CAPTIONER}`,
    bytes: CAT,
    type: "image/jpeg",
    unwrap: (a) => (Array.isArray(a) ? a[0] : a),
  },
  {
    name: "zeroShotImageClassification ({inputs: {image}, parameters: {candidate_labels}})",
    call: () => client().zeroShotImageClassification("openai/clip-vit-large-patch14", cat(), ["cat", "dog"]),
    path: "/models/openai/clip-vit-large-patch14",
    json: { inputs: { image: b64(CAT) }, parameters: { candidate_labels: ["cat", "dog"] } },
  },
  {
    name: "automaticSpeechRecognition of a Uint8Array (audio/wav sniffed)",
    call: () => client().automaticSpeechRecognition("openai/whisper-large-v3", WAV),
    path: "/models/openai/whisper-large-v3",
    bytes: WAV,
    type: "audio/wav",
  },
  {
    name: "audioClassification of a Blob without a type (audio/wav sniffed)",
    call: () => client().audioClassification("superb/hubert-large-superb-er", new Blob([WAV])),
    path: "/models/superb/hubert-large-superb-er",
    bytes: WAV,
    type: "audio/wav",
  },
];

describe("the router's tasks, in the page", () => {
  for (const c of CASES) {
    test(`${c.name}: ${c.path}`, async () => {
      const result = await inPage(c.call);
      const request = onlyRequest();
      assert.equal(request.path, c.path);
      if (c.json) {
        assert.equal(request.headers["content-type"], "application/json");
        assert.deepEqual(request.json, c.json);
      } else {
        assert.equal(request.headers["content-type"], c.type);
        assert.ok(request.body.equals(c.bytes), `the body is not the input's ${c.bytes.length} bytes (got ${request.body.length})`);
      }
      const answer = c.json ? await raw(c.path, JSON.stringify(c.json)) : await raw(c.path, c.bytes, c.type);
      assert.deepEqual(result, (c.unwrap ?? ((a) => a))(answer));
    });
  }

  test("imageToText gives the recorded vit-gpt2 caption", async () => {
    const recordings = JSON.parse(await readFile(path.join(repoRoot, "tests/fixtures/recordings.json"), "utf8"));
    const recording = recordings.find((r) => r.request.url.endsWith(`/hf-inference/models/${CAPTIONER}`));
    assert.ok(recording, `no recording of ${CAPTIONER}`);
    const result = await inPage(() => client().imageToText("nlpconnect/vit-gpt2-image-captioning", cat()));
    assert.deepEqual(result, JSON.parse(recording.response.body.text)[0]);
    assert.deepEqual(result, { generated_text: "a large brown and white giraffe standing in a field " });
    assert.equal(onlyRequest().headers["content-type"], "image/jpeg");
  });

  test("a free function takes the client options last", async () => {
    const result = await inPage(() => hf.summarization("facebook/bart-large-cnn", "A short text to summarise here.", undefined, { endpoint: upstream }));
    const request = onlyRequest();
    assert.equal(request.path, "/models/facebook/bart-large-cnn");
    assert.deepEqual(result, first(await raw(request.path, request.bodyText)));
  });

  test("imageGeneration posts the OpenAI images request to the chat base and returns the answer as sent", async () => {
    const result = await inPage(() =>
      client().imageGeneration({ model: "black-forest-labs/FLUX.1-schnell", prompt: "a lighthouse", size: "512x512" }),
    );
    const request = onlyRequest();
    const body = { model: FLUX, prompt: "a lighthouse", size: "512x512" };
    assert.equal(request.path, "/v1/images/generations");
    assert.equal(request.headers["content-type"], "application/json");
    assert.deepEqual(request.json, body);
    assert.deepEqual(result, await raw("/v1/images/generations", JSON.stringify(body)));
  });
});

describe("text generation on today's protocol, in the page", () => {
  test("textGeneration posts a completion (max_new_tokens as max_tokens) and returns the continuation", async () => {
    const result = await inPage(() => client().textGeneration("gpt2", "The future of AI", { max_new_tokens: 5, temperature: 0.7 }));
    const request = onlyRequest();
    assert.equal(request.path, "/models/gpt2/v1/completions");
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.bodyText, '{"model":"gpt2","max_tokens":5,"temperature":0.7,"prompt":"The future of AI"}');
    const answer = await raw(request.path, request.bodyText);
    assert.equal(answer.object, "text_completion");
    assert.deepEqual(result, { generated_text: answer.choices[0].text });
  });

  test("textGenerationStream reads the completion's events as TGI chunks", async () => {
    const chunks = await inPage(async () => {
      const seen = [];
      for await (const chunk of client().textGenerationStream("gpt2", "Once upon a time", { max_new_tokens: 3 })) seen.push(chunk);
      return seen;
    });
    const request = onlyRequest();
    assert.equal(request.path, "/models/gpt2/v1/completions");
    assert.deepEqual(request.json, { model: "gpt2", max_tokens: 3, prompt: "Once upon a time", stream: true });
    const replay = await fetch(`${up.url}${request.path}`, { method: "POST", body: request.bodyText });
    const texts = (await replay.text())
      .split("\n\n")
      .map((e) => e.replace(/^data: ?/, ""))
      .filter((d) => d && d !== "[DONE]")
      .map((d) => JSON.parse(d).choices[0].text);
    assert.deepEqual(chunks.map((c) => c.token), texts.map((text) => ({ text, special: false })));
    assert.equal(chunks.at(-1).generated_text, texts.join(""));
    assert.deepEqual(chunks.at(-1).details, { finish_reason: "length", generated_tokens: texts.length });
    assert.ok(chunks.slice(0, -1).every((c) => c.generated_text === null && c.details === null));
  });
});

describe("providers, in the page", () => {
  test("onAttempt reads x-inference-provider, x-request-id and x-compute-time across origins", async () => {
    // No provider option: nothing but the answer's headers can name the provider.
    const attempts = await inPage(async () => {
      const seen = [];
      await client().summarization("facebook/bart-large-cnn", "A short text to summarise here.", undefined, {
        onAttempt: ({ provider, requestId, computeTimeMs }) => seen.push({ provider, requestId, computeTimeMs }),
      });
      return seen;
    });
    const request = onlyRequest();
    const response = await fetch(`${up.url}${request.path}`, { method: "POST", headers: { "content-type": "application/json" }, body: request.bodyText });
    assert.equal(response.headers.get("x-inference-provider"), "hf-inference");
    assert.deepEqual(attempts, [
      { provider: "hf-inference", requestId: "local-1", computeTimeMs: Math.round(Number(response.headers.get("x-compute-time")) * 1000) },
    ]);
  });

  test('provider "auto": the Hub asked cross-origin, together\'s images route, the Blob read from b64_json', async () => {
    const { result, attempts } = await inPage(async () => {
      const attempts = [];
      const blob = await routed().textToImage("black-forest-labs/FLUX.1-schnell", "a lighthouse", { num_inference_steps: 4 }, {
        provider: "auto",
        onAttempt: ({ attempt, provider, status, code, requestId }) => attempts.push({ attempt, provider, status, code, requestId }),
      });
      return { result: await settle(() => blob), attempts };
    });
    const [hub, ...rest] = up.requests;
    assert.equal(hub.hub, true);
    assert.equal(hub.method, "GET");
    assert.equal(`${hub.path}${hub.query}`, `/api/models/${FLUX}?expand[]=inferenceProviderMapping`);
    const sent = inference();
    assert.equal(rest.length, 1);
    assert.equal(sent[0].path, "/together/v1/images/generations");
    assert.equal(sent[0].headers["content-type"], "application/json");
    const body = { steps: 4, prompt: "a lighthouse", response_format: "base64", model: "black-forest-labs/FLUX.1-schnell-Free" };
    assert.deepEqual(sent[0].json, body);
    // The provider and the request id come from x-inference-provider and
    // x-request-id: the page reads them only if the upstream exposes them.
    assert.deepEqual(attempts, [{ attempt: 1, provider: "together", status: 200, code: undefined, requestId: "local-2" }]);
    const answer = await raw("/together/v1/images/generations", JSON.stringify(body));
    assert.ok(result.ok);
    assert.deepEqual(result.result, blobOf(Buffer.from(answer.data[0].b64_json, "base64"), "image/png"));
  });

  test("failover: nscale down, the next attempt goes to together; onAttempt names both", async () => {
    up.fault({ pathPrefix: "/nscale/", status: 503, body: '{"error":"nscale is down"}', times: -1 });
    const { result, attempts } = await inPage(async () => {
      const attempts = [];
      const blob = await routed().textToImage("black-forest-labs/FLUX.1-schnell", "x", undefined, {
        provider: ["nscale", "together"],
        onAttempt: ({ attempt, provider, status, code }) => attempts.push([attempt, provider, status, code]),
      });
      return { result: await settle(() => blob), attempts };
    });
    assert.deepEqual(attempts, [
      [1, "nscale", 503, "UPSTREAM_ERROR"],
      [2, "together", 200, undefined],
    ]);
    const sent = inference();
    assert.deepEqual(
      sent.map((r) => [r.path, r.provider]),
      [
        ["/nscale/v1/images/generations", "nscale"],
        ["/together/v1/images/generations", "together"],
      ],
    );
    // nscale's form is the reference client's: b64_json, where together's is base64.
    assert.deepEqual(sent[0].json, { prompt: "x", response_format: "b64_json", model: FLUX });
    assert.deepEqual(sent[1].json, { prompt: "x", response_format: "base64", model: "black-forest-labs/FLUX.1-schnell-Free" });
    const answer = await raw("/together/v1/images/generations", JSON.stringify(sent[1].json));
    assert.deepEqual(result.result, blobOf(Buffer.from(answer.data[0].b64_json, "base64"), "image/png"));
  });

  test("when every provider fails, the page's error lists each failure", async () => {
    up.fault({ pathPrefix: "/together/", status: 402, body: '{"error":"credits used up"}', times: -1 });
    up.fault({ pathPrefix: "/nscale/", status: 503, body: '{"error":"nscale is down"}', times: -1 });
    const outcome = await tab.page.evaluate(
      `settle(() => routed().textToImage("${FLUX}", "x", undefined, { provider: ["together", "nscale"], retry: { maxAttempts: 2, baseDelayMs: 1 } }))`,
    );
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error.isInferenceError, true);
    assert.equal(outcome.error.code, "UPSTREAM_ERROR");
    assert.deepEqual(outcome.error.failures, [
      { provider: "together", status: 402, code: "PAYMENT_REQUIRED", message: "credits used up" },
      { provider: "nscale", status: 503, code: "UPSTREAM_ERROR", message: "nscale is down" },
    ]);
  });
});

test("no CORS failure: the page logged no error and threw nothing", () => {
  assert.deepEqual(tab.pageErrors, [], log());
  // A refused cross-origin read is a console error ("blocked by CORS policy");
  // so is every answer that is not ok: those of the faults (503, 402) are expected.
  const faulted = /^Failed to load resource: the server responded with a status of (503 \(Service Unavailable\)|402 \(Payment Required\))$/;
  const errors = tab.consoleMessages.filter((m) => m.type === "error" && !faulted.test(m.text));
  assert.deepEqual(errors, [], log());
  assert.ok(!tab.consoleMessages.some((m) => /CORS/i.test(m.text)), log());
});
