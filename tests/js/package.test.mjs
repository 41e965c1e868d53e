// The packed npm package in Node 20, against the local upstream: every export,
// its results, its error codes, and what reaches the wire.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

import { startUpstream } from "../upstream/upstream.mjs";
import { packageSuite, rejection } from "../support/package-suite.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const VIT = "google/vit-base-patch16-224";
const MNLI = "facebook/bart-large-mnli";
const TOKEN = "hf_TestTokenNeverShown1234567890";

let hf; // the installed package's exports
let up;
let recordings;

packageSuite(async (suite) => {
  ({ hf, up } = suite);
  recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
});

const client = (extra = {}) => new hf.InferenceClient({ endpoint: up.url, ...extra });

/** The upstream's own answer to a body, read without the client. */
async function raw(model, body, contentType = "application/json") {
  const response = await fetch(`${up.url}/models/${model}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
  const text = await response.text();
  up.reset();
  return JSON.parse(text);
}

function recording(id) {
  const found = recordings.find((r) => r.id === id);
  assert.ok(found, id);
  return found;
}

/** The first recorded vit request: a real PNG and its recorded answer. */
function recordedImage() {
  const rec = recordings.find((r) => r.request.url.endsWith(VIT) && r.request.body.base64);
  return { bytes: Buffer.from(rec.request.body.base64, "base64"), answer: JSON.parse(rec.response.body.text) };
}

describe("exports", () => {
  test("the package exports the whole API", () => {
    // The values index.d.ts declares (its classes and functions), read from the file itself.
    const declarations = readFileSync(new URL("../../pkg-template/index.d.ts", import.meta.url), "utf8");
    const api = [...new Set([...declarations.matchAll(/^export (?:declare )?(?:class|function) (\w+)/gm)].map((m) => m[1]))];
    assert.ok(api.length >= 13, `index.d.ts declares ${api.length} values`);
    assert.deepEqual(Object.keys(hf).sort(), api.sort(), "exactly the names index.d.ts declares");
    for (const name of api) assert.equal(typeof hf[name], "function", name);
    const err = new hf.InferenceError("m", "NOT_FOUND", { status: 404 });
    assert.ok(err instanceof Error);
    assert.equal(err.name, "InferenceError");
    assert.deepEqual([err.code, err.status, err.attempts], ["NOT_FOUND", 404, 0]);
  });
});

describe("textClassification", () => {
  test("replays the recorded sst-2 answer exactly, flattened to one list", async () => {
    const rec = recording("hfhub_router_2025-04/test_text_classification__hf-inference__text-classification#1");
    const result = await client().textClassification(SST2, "I like you", {});
    assert.deepEqual(result, JSON.parse(rec.response.body.text)[0]);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].path, `/models/${SST2}`);
    assert.equal(up.requests[0].bodyText, '{"inputs":"I like you","parameters":{}}');
  });

  test("the guide's sentiment example", async () => {
    const text = "I love the new features in this software, it's amazing!";
    const expected = (await raw(SST2, JSON.stringify({ inputs: text })))[0];
    assert.deepEqual(await hf.textClassification(SST2, text, undefined, { endpoint: up.url }), expected);
    assert.equal(up.requests[0].headers["content-type"], "application/json");
  });

  test("an array of texts goes in one request and comes back one list per text", async () => {
    const texts = ["I like you", "I hate you", "meh"];
    const expected = await raw(SST2, JSON.stringify({ inputs: texts, parameters: { top_k: 2 } }));
    const result = await client().textClassification(SST2, texts, { top_k: 2 });
    assert.deepEqual(result, expected);
    assert.equal(result.length, 3);
    assert.equal(up.requests.length, 1);
    assert.deepEqual(up.requests[0].json, { inputs: texts, parameters: { top_k: 2 } });
  });
});

describe("textGeneration", () => {
  test("the guide's gpt2 example: a completion, max_length and temperature passed through, the continuation back", async () => {
    const prompt = "The future of AI in software development will be";
    const params = { max_length: 50, temperature: 0.7 };
    const result = await client().textGeneration("gpt2", prompt, params);
    const body = { model: "gpt2", ...params, prompt };
    assert.equal(up.requests[0].path, "/models/gpt2/v1/completions");
    assert.deepEqual(up.requests[0].json, body);
    const answer = await raw("gpt2/v1/completions", JSON.stringify(body));
    assert.deepEqual(result, { generated_text: answer.choices[0].text });
  });

  test("return_full_text puts the prompt first", async () => {
    const { generated_text } = await client().textGeneration("gpt2", "Once", { max_new_tokens: 3, return_full_text: true });
    const answer = await raw("gpt2/v1/completions", JSON.stringify({ model: "gpt2", max_tokens: 3, return_full_text: true, prompt: "Once" }));
    assert.equal(generated_text, `Once${answer.choices[0].text}`);
  });

  test("a dedicated TGI endpoint keeps the legacy form, and its details", async () => {
    up.fault({ body: JSON.stringify([{ generated_text: "x", details: { finish_reason: "length", generated_tokens: 3 } }]), headers: { "content-type": "application/json" } });
    const tgi = new hf.InferenceClient({ endpoint: [{ url: `${up.url}/models/gpt2`, dedicated: true }] });
    assert.deepEqual(await tgi.textGeneration("gpt2", "p", { details: true }), {
      generated_text: "x",
      details: { finish_reason: "length", generated_tokens: 3 },
    });
    assert.deepEqual(up.requests[0].json, { inputs: "p", parameters: { details: true } });
  });
});

describe("classifyImage", () => {
  for (const [kind, make] of [
    ["Uint8Array", (b) => new Uint8Array(b)],
    ["Buffer", (b) => Buffer.from(b)],
    ["ArrayBuffer", (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)],
    ["typed Blob", (b) => new Blob([b], { type: "image/png" })],
    ["untyped Blob", (b) => new Blob([b])],
  ]) {
    test(`raw bytes from a ${kind} with their content type`, async () => {
      const { bytes, answer } = recordedImage();
      const result = await client().classifyImage(VIT, make(bytes));
      assert.deepEqual(result, answer);
      assert.equal(up.requests.length, 1);
      const sent = up.requests[0];
      assert.equal(sent.headers["content-type"], "image/png");
      assert.ok(Buffer.compare(sent.body, bytes) === 0, "the body is the image's bytes, untouched");
    });
  }

  test("a view into a larger buffer sends only its own bytes", async () => {
    const { bytes } = recordedImage();
    const big = new Uint8Array(bytes.length + 20);
    big.set(bytes, 10);
    await client().classifyImage(VIT, big.subarray(10, 10 + bytes.length));
    assert.ok(Buffer.compare(up.requests[0].body, bytes) === 0);
  });

  test("with parameters the image travels as base64 JSON", async () => {
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    await client().classifyImage("acme/vision", bytes, { top_k: 2 });
    assert.equal(up.requests[0].headers["content-type"], "application/json");
    assert.deepEqual(up.requests[0].json, { inputs: Buffer.from(bytes).toString("base64"), parameters: { top_k: 2 } });
  });

  test("base64 is exact for every length and for images larger than one encoding slice", async () => {
    // 0, 1 and 2 bytes past a multiple of 3 (padding "", "==", "="), and
    // 100,001 bytes: more than the 32,768 a slice of the encoder takes.
    for (const length of [1, 2, 3, 4, 5, 100_001]) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 7919 + length) % 256);
      bytes.set([0xff, 0xd8].slice(0, length));
      up.reset();
      await client().classifyImage("acme/vision", bytes, { top_k: 1 });
      assert.equal(up.requests[0].json.inputs, Buffer.from(bytes).toString("base64"), `${length} bytes`);
    }
    // A Blob is read and encoded alike.
    const blob = new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0, 255, 128])], { type: "image/jpeg" });
    up.reset();
    await client().classifyImage("acme/vision", blob, { top_k: 1 });
    assert.equal(up.requests[0].json.inputs, "/9j/AP+A");
  });

  test("unknown bytes go without a content type", async () => {
    await client().classifyImage("acme/vision", new Uint8Array([1, 2, 3, 4]));
    assert.equal(up.requests[0].headers["content-type"], undefined);
  });
});

describe("zeroShot", () => {
  const text = "Our new feature launch was a massive success!";
  const labels = ["marketing", "customer feedback", "technical issue"];

  test("the guide's example: labels sorted by score", async () => {
    const old = await raw(MNLI, JSON.stringify({ inputs: text, parameters: { candidate_labels: labels } }));
    const expected = old.labels.map((label, i) => ({ label, score: old.scores[i] })).sort((a, b) => b.score - a.score);
    const result = await hf.zeroShot(MNLI, text, labels, undefined, { endpoint: up.url });
    assert.deepEqual(result, expected);
    assert.deepEqual(up.requests[0].json, { inputs: text, parameters: { candidate_labels: labels } });
  });

  test("the new [{label, score}] shape is sorted too", async () => {
    up.fault({ body: '[{"label":"b","score":0.1},{"label":"a","score":0.9}]', headers: { "content-type": "application/json" } });
    assert.deepEqual(await client().zeroShot(MNLI, "t", ["a", "b"]), [
      { label: "a", score: 0.9 },
      { label: "b", score: 0.1 },
    ]);
  });

  test("equal scores keep upstream's order, in either shape", async () => {
    up.fault({ body: '[{"label":"x","score":0.5},{"label":"y","score":0.5},{"label":"z","score":0.9},{"label":"w","score":0.5}]' });
    assert.deepEqual((await client().zeroShot(MNLI, "t", ["w", "x", "y", "z"])).map((l) => l.label), ["z", "x", "y", "w"]);
    up.fault({ body: '{"sequence":"t","labels":["x","y","z"],"scores":[0.1,0.1,0.8]}' });
    assert.deepEqual(await client().zeroShot(MNLI, "t", ["x", "y", "z"]), [
      { label: "z", score: 0.8 },
      { label: "x", score: 0.1 },
      { label: "y", score: 0.1 },
    ]);
  });

  test("an array of texts: one request, one sorted list per text, params kept", async () => {
    const texts = ["refund please", "how do I log in?"];
    const result = await client().zeroShot(MNLI, texts, ["refund", "faq"], { multi_label: true });
    assert.equal(result.length, 2);
    for (const list of result) {
      assert.deepEqual(list.map((l) => l.label).sort(), ["faq", "refund"]);
      assert.ok(list[0].score >= list[1].score);
    }
    assert.equal(up.requests.length, 1);
    assert.deepEqual(up.requests[0].json, { inputs: texts, parameters: { multi_label: true, candidate_labels: ["refund", "faq"] } });
  });
});

describe("query", () => {
  test("sends the payload as is and returns parsed JSON", async () => {
    const payload = { inputs: "I like you", parameters: {} };
    const expected = await raw(SST2, JSON.stringify(payload));
    assert.deepEqual(await hf.query(SST2, payload, { endpoint: up.url }), expected);
    assert.deepEqual(up.requests[0].json, payload);
  });

  test("a binary answer comes back as a Blob", async () => {
    up.fault({ body: "RIFF-audio-bytes", headers: { "content-type": "audio/flac" } });
    const result = await client().query("acme/tts", { inputs: "hello" });
    assert.ok(result instanceof Blob);
    assert.equal(result.type, "audio/flac");
    assert.equal(await result.text(), "RIFF-audio-bytes");
  });

  test("bytes are sent raw", async () => {
    const { bytes, answer } = recordedImage();
    assert.deepEqual(await client().query(VIT, new Blob([bytes], { type: "image/png" })), answer);
    assert.ok(Buffer.compare(up.requests[0].body, bytes) === 0);
  });
});

describe("errors", () => {
  const cases = [
    [400, '{"error":"The following `model_kwargs` are not used by the model: [\'watermark\']"}', "BAD_REQUEST", "The following `model_kwargs` are not used by the model: ['watermark']"],
    [401, '{"error":"Invalid credentials in Authorization header"}', "UNAUTHORIZED", "Invalid credentials in Authorization header"],
    [403, '{"error":"model not allowed","code":"FORBIDDEN"}', "FORBIDDEN", "model not allowed"],
    [405, "", "METHOD_NOT_ALLOWED", "HTTP 405 Method Not Allowed"],
    [410, '{"error":"The requested API is no longer supported"}', "GONE", "The requested API is no longer supported"],
    [413, "request entity too large", "PAYLOAD_TOO_LARGE", "request entity too large"],
    [422, "Failed to deserialize the JSON body into the target type", "VALIDATION", "Failed to deserialize the JSON body into the target type"],
    [500, '{"error":"HF_TOKEN is not set on the proxy","code":"CONFIG"}', "CONFIG", "HF_TOKEN is not set on the proxy"],
    [502, "<html>Bad Gateway</html>", "UPSTREAM_ERROR", "<html>Bad Gateway</html>"],
    [503, '{"error":"Model gpt2 is currently loading","estimated_time":12.5}', "MODEL_LOADING", "Model gpt2 is currently loading"],
  ];
  for (const [status, body, code, message] of cases) {
    test(`${status} -> ${code} with upstream's message`, async () => {
      up.fault({ status, body, headers: { "x-request-id": `req-${status}` } });
      const err = await rejection(client({ retry: false }).textGeneration("gpt2", "hi"));
      assert.ok(err instanceof hf.InferenceError);
      assert.ok(err instanceof Error);
      assert.deepEqual(
        { code: err.code, status: err.status, message: err.message, model: err.model, requestId: err.requestId, attempts: err.attempts },
        { code, status, message, model: "gpt2", requestId: `req-${status}`, attempts: 1 },
      );
      assert.equal(err.retryAfterMs, status === 503 ? 12_500 : undefined);
    });
  }

  test("429 carries Retry-After", async () => {
    up.fault({ status: 429, body: '{"error":"Rate limit reached"}', headers: { "retry-after": "3" } });
    const err = await rejection(client({ retry: false }).zeroShot(MNLI, "t", ["a"]));
    assert.deepEqual([err.code, err.message, err.retryAfterMs, err.model], ["RATE_LIMITED", "Rate limit reached", 3000, MNLI]);
  });

  test("the recorded 404 of an unknown model", async () => {
    const err = await rejection(client().textClassification("this-model-does-not-exist-123", "[MASK] world!"));
    assert.deepEqual([err.code, err.status, err.message], ["NOT_FOUND", 404, "Model this-model-does-not-exist-123 does not exist"]);
  });

  test("a 2xx of the wrong shape is BAD_RESPONSE with its status", async () => {
    up.fault({ body: '{"unexpected":true}', headers: { "content-type": "application/json", "x-request-id": "r-9" } });
    const err = await rejection(client().textClassification(SST2, "x"));
    assert.deepEqual(
      [err.code, err.status, err.requestId, err.message],
      ["BAD_RESPONSE", 200, "r-9", "the text-classification answer is not a list of {label, score}"],
    );
  });

  test("a refused connection is NETWORK", async () => {
    const closed = await startUpstream({ port: 0 });
    const url = closed.url;
    await closed.close();
    const err = await rejection(new hf.InferenceClient({ endpoint: url, retry: false }).textGeneration("gpt2", "hi"));
    assert.equal(err.code, "NETWORK");
    assert.match(err.message, /^could not reach http:\/\/127\.0\.0\.1:\d+\/models\/gpt2\/v1\/completions: fetch failed \(ECONNREFUSED\)$/);
  });

  test("a dropped connection is NETWORK", async () => {
    up.fault({ drop: true });
    const err = await rejection(client({ retry: false }).textGeneration("gpt2", "hi"));
    assert.equal(err.code, "NETWORK");
  });

  test("a stalled upstream is TIMEOUT after timeoutMs", async () => {
    up.fault({ stall: true });
    const err = await rejection(client({ timeoutMs: 150, retry: false }).textGeneration("gpt2", "hi"));
    assert.equal(err.code, "TIMEOUT");
    assert.equal(err.message, `no answer from ${up.url}/models/gpt2/v1/completions within 150 ms`);
  });

  test("the caller's signal aborts a call in flight", async () => {
    up.fault({ stall: true });
    const controller = new AbortController();
    const pending = client().textGeneration("gpt2", "hi", undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(pending);
    assert.equal(err.code, "ABORTED");
  });

  test("an already aborted signal sends nothing", async () => {
    const err = await rejection(client({ signal: AbortSignal.abort() }).textGeneration("gpt2", "hi"));
    assert.equal(err.code, "ABORTED");
    assert.equal(up.requests.length, 0);
  });
});

describe("bad arguments are refused before any request", () => {
  const img = new Uint8Array([1, 2, 3]);
  const cases = [
    ["empty model", (c) => c.textClassification("", "x"), "model: must be a non-empty model id such as \"openai-community/gpt2\""],
    ["model not a string", (c) => c.textGeneration(42, "x"), "model: must be a string such as \"openai-community/gpt2\""],
    ["model with two slashes", (c) => c.classifyImage("a/b/c", img), "model: has more than one '/' (expected \"owner/name\")"],
    ["model with ..", (c) => c.query("../admin", {}), "model: has a '.' or '..' segment"],
    ["model with an encoded slash", (c) => c.zeroShot("a%2Fb", "t", ["x"]), "model: contains '%'; only letters, digits, '-', '_', '.' and one '/' are allowed"],
    ["empty text", (c) => c.textClassification(SST2, "  "), "text: must be a non-empty string"],
    ["empty text in an array", (c) => c.textClassification(SST2, ["ok", ""]), "text[1]: must be a non-empty string"],
    ["empty array of texts", (c) => c.zeroShot(MNLI, [], ["a"]), "text: must be a non-empty string or a non-empty array of strings"],
    ["text not a string", (c) => c.textClassification(SST2, { inputs: "x" }), "text: must be a string or an array of strings"],
    ["empty prompt", (c) => c.textGeneration("gpt2", ""), "prompt: must be a non-empty string"],
    ["prompt not a string", (c) => c.textGeneration("gpt2", ["a"]), "prompt: must be a non-empty string"],
    ["no candidate_labels", (c) => c.zeroShot(MNLI, "t"), "candidate_labels: must be an array of strings"],
    ["empty candidate_labels", (c) => c.zeroShot(MNLI, "t", []), "candidate_labels: must be a non-empty array of strings"],
    ["non-string label", (c) => c.zeroShot(MNLI, "t", ["a", 2]), "candidate_labels[1]: must be a string"],
    ["blank label", (c) => c.zeroShot(MNLI, "t", ["a", " "]), "candidate_labels[1]: must be a non-empty string"],
    ["image as a string", (c) => c.classifyImage(VIT, "cat.jpg"), "image: must be a Blob, an ArrayBuffer or a Uint8Array"],
    ["image as an array of numbers", (c) => c.classifyImage(VIT, [1, 2, 3]), "image: must be a Blob, an ArrayBuffer or a Uint8Array"],
    ["empty image", (c) => c.classifyImage(VIT, new Blob([])), "image: is empty (0 bytes)"],
    ["params not an object", (c) => c.textGeneration("gpt2", "x", "max_length=5"), "params: must be an object of task parameters"],
    ["params an array", (c) => c.textClassification(SST2, "x", [1]), "params: must be an object of task parameters"],
    ["payload missing", (c) => c.query("gpt2"), "payload: is required"],
    ["timeoutMs negative", (c) => c.textGeneration("gpt2", "x", undefined, { timeoutMs: -5 }), "callOptions.timeoutMs: must be a positive number of milliseconds"],
    ["signal not a signal", (c) => c.textGeneration("gpt2", "x", undefined, { signal: "stop" }), "callOptions.signal: must be an AbortSignal"],
    ["header not a string", (c) => c.textGeneration("gpt2", "x", undefined, { headers: { "x-a": 1 } }), "callOptions.headers.x-a: must be a string"],
  ];
  for (const [name, call, message] of cases) {
    test(name, async () => {
      const err = await rejection(call(client()));
      assert.ok(err instanceof hf.InferenceError, `${name}: ${err}`);
      assert.deepEqual([err.code, err.message, err.attempts, err.status], ["INVALID_INPUT", message, 0, undefined]);
      // The error names the model called, unless the model id itself was refused.
      assert.equal(typeof err.model, message.startsWith("model:") ? "undefined" : "string", "err.model");
      assert.equal(up.requests.length, 0, "nothing reached the upstream");
    });
  }

  test("free functions reject bad options the same way", async () => {
    const err = await rejection(hf.textClassification(SST2, "x", undefined, { endpoint: "ftp://x" }));
    assert.deepEqual([err.code, err.message], ["INVALID_INPUT", "endpoint: must start with https:// or http://"]);
  });

  test("the constructor throws on bad options", () => {
    for (const [options, message] of [
      [{ token: 42 }, "token: must be a string"],
      [{ token: "" }, "token: must be a non-empty string (a Hugging Face access token)"],
      [{ endpoint: 5 }, "endpoint: must be a URL string or an array of {url, token?, dedicated?}"],
      [{ endpoint: [] }, "endpoint: must not be an empty array"],
      [{ endpoint: [{ url: "https://a", token: 1 }] }, "endpoint[0].token: must be a string"],
      [{ billTo: 3 }, "billTo: must be a string"],
      ["https://x", "options: must be an object"],
      [{ headers: { "bad header": "x" } }, "options.headers.bad header: is not a valid HTTP header name or value"],
      [{ headers: { "x-ok": "line\nbreak" } }, "options.headers.x-ok: is not a valid HTTP header name or value"],
    ]) {
      assert.throws(() => new hf.InferenceClient(options), (err) => err instanceof hf.InferenceError && err.code === "INVALID_INPUT" && err.message === message);
    }
  });
});

describe("the token", () => {
  test("goes only into the Authorization header, never into errors", async () => {
    const withToken = client({ token: TOKEN });
    await withToken.textClassification(SST2, "I like you");
    assert.equal(up.requests[0].headers.authorization, `Bearer ${TOKEN}`);

    up.fault({ status: 401, body: '{"error":"Invalid credentials"}' });
    const errors = [
      await rejection(withToken.textClassification(SST2, "x")),
      await rejection(withToken.textClassification("", "x")),
      await rejection(new hf.InferenceClient({ endpoint: "http://127.0.0.1:9", token: TOKEN, retry: false }).textGeneration("gpt2", "x")),
    ];
    assert.throws(() => new hf.InferenceClient({ token: `${TOKEN}\n` }), (err) => {
      errors.push(err);
      return err.code === "INVALID_INPUT";
    });
    for (const err of errors) {
      const everything = [String(err), err.stack, JSON.stringify(err), JSON.stringify(Object.entries(err))].join("\n");
      assert.ok(!everything.includes(TOKEN) && !everything.includes("TestToken"), `token leaked: ${everything}`);
    }
  });

  test("an endpoint's own token wins; billTo and headers are sent", async () => {
    const c = new hf.InferenceClient({
      token: TOKEN,
      endpoint: [{ url: up.url, token: "hf_endpointToken" }],
      billTo: "acme",
      headers: { "x-trace": "t1" },
    });
    // Header names are case-insensitive: the call's X-Trace replaces the client's x-trace, and a
    // caller's Authorization never replaces the token.
    await c.textGeneration("gpt2", "hi", undefined, { headers: { "X-Trace": "t2", Authorization: "Bearer mine" } });
    const sent = up.requests[0].headers;
    assert.deepEqual([sent.authorization, sent["x-hf-bill-to"], sent["x-trace"]], ["Bearer hf_endpointToken", "acme", "t2"]);
  });

  test("no token, no Authorization header; no warning outside a page", async () => {
    const warnings = [];
    const original = console.warn;
    console.warn = (...args) => warnings.push(args);
    try {
      new hf.InferenceClient({ token: TOKEN });
      await client().textGeneration("gpt2", "hi");
    } finally {
      console.warn = original;
    }
    assert.equal(up.requests[0].headers.authorization, undefined);
    assert.deepEqual(warnings, []);
  });

  test("a dedicated endpoint is called at its own URL", async () => {
    const c = new hf.InferenceClient({ endpoint: [{ url: `${up.url}/models/gpt2`, dedicated: true }] });
    await c.textGeneration("my-endpoint-model", "hi");
    assert.equal(up.requests[0].path, "/models/gpt2");
  });
});
