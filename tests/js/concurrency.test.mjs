// In-flight de-duplication and micro-batching of the packed package in Node,
// counted at the local upstream.

import { test } from "node:test";
import assert from "node:assert/strict";

import { packageSuite, rejection } from "../support/package-suite.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const MNLI = "facebook/bart-large-mnli";

let hf;
let up;
packageSuite(async (suite) => ({ hf, up } = suite));

const client = (extra = {}) => new hf.InferenceClient({ endpoint: up.url, ...extra });

test("100 concurrent identical calls reach the upstream as one request", async () => {
  const c = client();
  const results = await Promise.all(Array.from({ length: 100 }, () => c.textClassification(SST2, "the same text")));
  assert.equal(up.requests.length, 1);
  for (const r of results) assert.deepEqual(r, results[0]);
  assert.equal(results[0].length, 2);

  up.reset();
  const zs = await Promise.all(Array.from({ length: 100 }, () => c.zeroShot(MNLI, "same", ["a", "b"])));
  assert.equal(up.requests.length, 1);
  assert.ok(zs.every((r) => JSON.stringify(r) === JSON.stringify(zs[0])));

  up.reset();
  const image = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
  await Promise.all(Array.from({ length: 10 }, () => c.classifyImage("acme/vision", image, { top_k: 2 })));
  assert.equal(up.requests.length, 1, "image calls with parameters (a JSON body) are shared too");

  up.reset();
  const blob = new Blob([image], { type: "image/png" });
  const raw = await Promise.all(Array.from({ length: 10 }, () => c.classifyImage("acme/vision", blob)));
  assert.equal(up.requests.length, 1, "raw bytes of the same Blob are shared");
  assert.ok(
    raw.slice(1).every((r) => r !== raw[0] && JSON.stringify(r) === JSON.stringify(raw[0])),
    "each caller gets its own equal result",
  );

  up.reset();
  await Promise.all([c.classifyImage("acme/vision", blob), c.classifyImage("acme/vision", new Blob([image]))]);
  assert.equal(up.requests.length, 2, "equal bytes in another Blob are another request");
});

test("each caller of a shared call gets its own result: what one does to it no other sees", async () => {
  const c = client();
  const image = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2])], { type: "image/png" });
  const calls = {
    textClassification: () => c.textClassification(SST2, "shared text"),
    zeroShot: () => c.zeroShot(MNLI, "shared text", ["a", "b"]),
    classifyImage: () => c.classifyImage("acme/vision", image),
    tokenClassification: () => c.tokenClassification("dslim/bert-base-NER", "My name is Clara"),
  };
  for (const [task, call] of Object.entries(calls)) {
    up.reset();
    const [first, second, third] = await Promise.all([call(), call(), call()]);
    assert.equal(up.requests.length, 1, `${task}: one request`);
    const before = structuredClone(second);
    assert.deepEqual(first, before, task);
    first[0].label = "changed by the first caller";
    first.push("pushed by the first caller");
    assert.deepEqual(second, before, `${task}: the second caller's result is its own`);
    assert.deepEqual(third, before, `${task}: the third caller's result is its own`);
    assert.notEqual(second, third, task);
  }
});

test("a classification list is upstream's as it came, members it adds included", async () => {
  const c = client();
  const answer = [[{ label: "POSITIVE", score: 0.9, id: 7 }, { label: "NEGATIVE", score: 0.1 }]];
  up.fault({ status: 200, body: JSON.stringify(answer) });
  assert.deepEqual(await c.textClassification(SST2, "with extras"), answer[0]);
  up.fault({ status: 200, body: JSON.stringify(answer[0]) });
  assert.deepEqual(await c.classifyImage("acme/vision", new Blob([new Uint8Array([1])])), answer[0]);
  up.fault({ status: 200, body: JSON.stringify([[{ label: "POSITIVE", score: "high" }]]) });
  const error = await rejection(c.textClassification(SST2, "a score that is not a number"));
  assert.equal(error.code, "BAD_RESPONSE");
  assert.equal(error.message, "the text-classification answer is not a list of {label, score}");
  assert.equal(error.model, SST2);
});

test("a byte view is never shared: the caller may refill it while the first call is out", async () => {
  // Found in review: calls were keyed by the view's identity, so a frame
  // loop refilling one buffer got the first frame's labels back.
  const c = client();
  const frame = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
  up.fault({ delayMs: 300 });
  const first = c.classifyImage("acme/vision", frame);
  while (up.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  frame[9] = 3; // the first call is out, its answer not back yet
  const second = c.classifyImage("acme/vision", frame);
  await Promise.all([first, second]);
  assert.deepEqual(
    up.requests.map((r) => [...r.body.subarray(8)]),
    [
      [1, 2],
      [1, 3],
    ],
  );
});

test("sharing ends with the call: a later identical call asks again", async () => {
  const c = client();
  await c.textClassification(SST2, "again");
  await c.textClassification(SST2, "again");
  assert.equal(up.requests.length, 2);
});

test("different inputs, calls with options of their own, and dedupe: false are not shared", async () => {
  await Promise.all(Array.from({ length: 5 }, (_, i) => client().textClassification(SST2, `text ${i}`)));
  assert.equal(up.requests.length, 5);
  up.reset();
  const c = client();
  await Promise.all(Array.from({ length: 5 }, () => c.textClassification(SST2, "x", undefined, { timeoutMs: 5000 })));
  assert.equal(up.requests.length, 5);
  up.reset();
  const off = client({ dedupe: false });
  await Promise.all(Array.from({ length: 5 }, () => off.textClassification(SST2, "x")));
  assert.equal(up.requests.length, 5);
  up.reset();
  await Promise.all(Array.from({ length: 5 }, () => c.textGeneration("gpt2", "not deterministic")));
  assert.equal(up.requests.length, 5, "generation is never shared");
  up.reset();
  const [first, second] = await Promise.all([c.textClassification(SST2, "same body"), c.textClassification("acme/other-sentiment", "same body")]);
  assert.equal(up.requests.length, 2, "the same body for another model is another call");
  assert.deepEqual(
    up.requests.map((r) => r.path).sort(),
    [`/models/${SST2}`, "/models/acme/other-sentiment"].sort(),
  );
  assert.ok(Array.isArray(first) && Array.isArray(second));
});

test("a shared failure reaches every caller", async () => {
  up.fault({ status: 404, body: '{"error":"Model x does not exist"}' });
  const c = client();
  const errors = await Promise.all(Array.from({ length: 20 }, () => rejection(c.textClassification(SST2, "fails"))));
  assert.equal(up.requests.length, 1);
  for (const err of errors) assert.deepEqual([err.code, err.message, err.model], ["NOT_FOUND", "Model x does not exist", SST2]);
});

test("64 concurrent distinct texts with batch {windowMs: 20, maxSize: 16} reach the upstream as 4 requests", async () => {
  const texts = Array.from({ length: 64 }, (_, i) => `distinct text number ${i}${i % 3 ? " good" : " bad"}`);
  const batched = client({ batch: { windowMs: 20, maxSize: 16 } });
  const results = await Promise.all(texts.map((t) => batched.textClassification(SST2, t)));
  assert.equal(up.requests.length, 4);
  assert.deepEqual(up.requests.map((r) => r.json.inputs.length), [16, 16, 16, 16]);
  assert.deepEqual(up.requests.flatMap((r) => r.json.inputs).sort(), [...texts].sort());
  up.reset();
  const single = client({ dedupe: false });
  for (const [i, t] of texts.entries()) {
    assert.deepEqual(results[i], await single.textClassification(SST2, t), `result of text ${i}`);
  }
});

test("a full batch goes at once, without waiting out its window", async () => {
  const batched = client({ batch: { windowMs: 10000, maxSize: 2 } });
  const started = performance.now();
  const [a, b] = await Promise.all([batched.textClassification(SST2, "first"), batched.textClassification(SST2, "second")]);
  // Far under the 10 s window, with room for a loaded machine.
  assert.ok(performance.now() - started < 5000, `answered after ${performance.now() - started} ms`);
  assert.equal(up.requests.length, 1);
  assert.deepEqual(up.requests[0].json, { inputs: ["first", "second"] });
  assert.deepEqual([a.length, b.length], [2, 2]);
});

test("a batch waits its window for company, then goes; a failed batch fails each caller", async () => {
  const batched = client({ batch: { windowMs: 30, maxSize: 100 }, retry: false });
  const started = performance.now();
  const [a, b] = await Promise.all([batched.textClassification(SST2, "one"), batched.textClassification(SST2, "two")]);
  assert.ok(performance.now() - started >= 25);
  assert.equal(up.requests.length, 1);
  assert.deepEqual(up.requests[0].json, { inputs: ["one", "two"] });
  assert.equal(a.length, 2);
  assert.equal(b.length, 2);

  up.reset();
  up.fault({ status: 500, body: '{"error":"boom"}', times: 5 });
  const errors = await Promise.all(["x", "y", "z"].map((t) => rejection(batched.textClassification(SST2, t))));
  assert.equal(up.requests.length, 1);
  for (const err of errors) assert.deepEqual([err.code, err.message, err.status], ["UPSTREAM_ERROR", "boom", 500]);
});

test("a window of 0 still gathers the calls made in the same tick", async () => {
  // The window's timer is armed even at 0: it fires once the calls queued
  // now have joined (a wait of 0 that returned at once sent each alone).
  const batched = client({ batch: { windowMs: 0, maxSize: 100 } });
  const lists = await Promise.all(["one", "two", "three"].map((t) => batched.textClassification(SST2, t)));
  assert.equal(up.requests.length, 1);
  assert.deepEqual(up.requests[0].json, { inputs: ["one", "two", "three"] });
  assert.deepEqual(lists.map((l) => l.length), [2, 2, 2]);
});

test("bad batch settings are refused by name", () => {
  assert.throws(() => client({ batch: { maxSize: 0 } }), (e) => e.code === "INVALID_INPUT" && e.message === "batch.maxSize: must be a whole number from 1 to 256");
  assert.throws(() => client({ batch: "fast" }), (e) => e.message === "batch: must be an object");
});
