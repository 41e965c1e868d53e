// The local upstream (tests/upstream/upstream.mjs): replay, synthesised answers,
// CORS, the request log and fault injection.
//
//   node --test tests/upstream/

import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import http from "node:http";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

import { HUB_MAPPINGS, startUpstream } from "./upstream.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const SST2_BODY =
  '[[{"label":"POSITIVE","score":0.9998695850372314},{"label":"NEGATIVE","score":0.00013043530634604394}]]';
const SST2_REQUEST_ID = "Root=1-67dd50b2-55f457c81f2eace5493d9489;a78504fc-e13b-4ec4-adaa-7769b6c3fb11";
const VIT = "google/vit-base-patch16-224";
const VIT_BODY =
  '[{"label":"brassiere, bra, bandeau","score":0.11767438799142838},' +
  '{"label":"sombrero","score":0.09572819620370865},' +
  '{"label":"cowboy hat, ten-gallon hat","score":0.0900089293718338},' +
  '{"label":"bonnet, poke bonnet","score":0.06615174561738968},' +
  '{"label":"fur coat","score":0.061511047184467316}]';
const VIT_REQUEST_ID = "Root=1-67dd4b51-3226c778696d4eb95019db5e;1688f8bc-61ff-4418-94b3-bbfc2995fd58";
const EXPOSE = "x-compute-time, x-compute-type, x-request-id, x-inference-provider, retry-after";
const HANG_GUARD = { timeout: 15_000 };

let up;

before(async () => {
  up = await startUpstream({ port: 0 });
});
after(async () => {
  await up?.close();
});
beforeEach(() => up.reset());

function post(path, body, headers = {}, init = {}) {
  const isJson = typeof body !== "string" && !(body instanceof Uint8Array);
  return fetch(`${up.url}${path}`, {
    method: "POST",
    headers: { "content-type": isJson ? "application/json" : "text/plain", ...headers },
    body: isJson ? JSON.stringify(body) : body,
    ...init,
  });
}

function rawRequest(method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${up.url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("url and port", () => {
  assert.match(up.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(up.url, `http://127.0.0.1:${up.port}`);
  assert.equal(up.recordings, 92);
});

test("replays the recorded text-classification exchange byte for byte", async () => {
  const res = await post(`/models/${SST2}`, '{"inputs": "I like you", "parameters": {}}', {
    "content-type": "application/json",
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), SST2_BODY);
  assert.equal(res.headers.get("x-request-id"), SST2_REQUEST_ID);
  assert.equal(res.headers.get("x-compute-time"), "0.016");
  assert.equal(res.headers.get("x-compute-type"), "cpu");
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-expose-headers"), EXPOSE);
});

test("a key-order-swapped JSON body still matches the recording", async () => {
  const res = await post(`/models/${SST2}`, { parameters: {}, inputs: "I like you" });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), SST2_BODY);
  assert.equal(res.headers.get("x-request-id"), SST2_REQUEST_ID);
});

test("recordings from the older hosts are served under /models/...", async () => {
  // api-inference.huggingface.co/models/distilbert-base-uncased-finetuned-sst-2-english
  const res = await post("/models/distilbert-base-uncased-finetuned-sst-2-english", { inputs: ["I like you"] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "MiuTWky1u3OlV7JlitniT");
  assert.equal(
    await res.text(),
    '[[{"label":"POSITIVE","score":0.9998695850372314},{"label":"NEGATIVE","score":0.0001304351753788069}]]',
  );
});

test("an unmatched zero-shot request gets the old shape, sorted, deterministic", async () => {
  const body = {
    inputs: "The rover found traces of water on Mars",
    parameters: { candidate_labels: ["cooking", "space", "sports", "politics"] },
  };
  const first = await post("/models/facebook/bart-large-mnli", body);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "application/json");
  assert.equal(first.headers.get("x-compute-type"), "cpu");
  assert.match(first.headers.get("x-compute-time"), /^\d+\.\d{3}$/);
  assert.match(first.headers.get("x-request-id"), /^local-\d+$/);
  const bytes1 = Buffer.from(await first.arrayBuffer());
  const bytes2 = Buffer.from(await (await post("/models/facebook/bart-large-mnli", body)).arrayBuffer());
  assert.deepEqual(bytes1, bytes2, "same input must give the same bytes");

  const answer = JSON.parse(bytes1.toString("utf8"));
  assert.deepEqual(Object.keys(answer), ["sequence", "labels", "scores"]);
  assert.equal(answer.sequence, body.inputs);
  assert.deepEqual([...answer.labels].sort(), ["cooking", "politics", "space", "sports"]);
  assert.equal(answer.scores.length, 4);
  for (let i = 1; i < answer.scores.length; i++) assert.ok(answer.scores[i - 1] >= answer.scores[i], "not sorted");
  const sum = answer.scores.reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `scores sum to ${sum}`);

  // Comma-separated labels and list inputs.
  const list = await (
    await post("/models/facebook/bart-large-mnli", {
      inputs: ["a", "b"],
      parameters: { candidate_labels: "x, y,z", multi_label: true },
    })
  ).json();
  assert.equal(list.length, 2);
  assert.deepEqual(
    list.map((a) => a.sequence),
    ["a", "b"],
  );
  for (const a of list) {
    assert.deepEqual([...a.labels].sort(), ["x", "y", "z"]);
    for (const s of a.scores) assert.ok(s > 0 && s < 1);
  }
});

test("an unmatched array text-classification gets one list per input", async () => {
  const res = await post("/models/some-org/sentiment-model", { inputs: ["good", "bad", "meh"] });
  assert.equal(res.status, 200);
  const answer = await res.json();
  assert.equal(answer.length, 3);
  for (const list of answer) {
    assert.deepEqual(list.map((x) => x.label).sort(), ["NEGATIVE", "POSITIVE"]);
    assert.ok(list[0].score >= list[1].score);
    assert.ok(Math.abs(list[0].score + list[1].score - 1) < 1e-12);
  }
  const single = await (await post("/models/some-org/sentiment-model", { inputs: "bad" })).json();
  assert.equal(single.length, 1);
  assert.deepEqual(single[0], answer[1], "an input answers the same alone or in a list");
});

test("an unmatched generation answers generated_text", async () => {
  const full = await (await post("/models/acme/tiny-llama", { inputs: "Once upon" })).json();
  assert.equal(full.length, 1);
  assert.match(full[0].generated_text, /^Once upon \S/);
  const tail = await (
    await post("/models/acme/tiny-model", {
      inputs: "Once upon",
      parameters: { max_new_tokens: 3, return_full_text: false },
    })
  ).json();
  assert.equal(tail[0].generated_text.split(" ").length, 3);
  assert.ok(!tail[0].generated_text.startsWith("Once upon"));
});

test("an image body of other bytes answers the recording that kept no body", async () => {
  const res = await post(`/models/${VIT}`, new Uint8Array(randomBytes(4096)), { "content-type": "image/png" });
  assert.equal(res.status, 200);
  const answer = await res.json();
  assert.equal(answer[0].label, "cheetah, chetah, Acinonyx jubatus");
  assert.equal(answer[0].score, 0.9981812238693237);
  assert.equal(res.headers.get("x-request-id"), null, "the huggingface.js tapes kept no x-* headers");
});

test("the recorded image bytes answer their own recording", async () => {
  const recorded = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"))
    .find((r) => r.request.url.endsWith(VIT) && r.request.body.base64);
  const res = await post(`/models/${VIT}`, new Uint8Array(Buffer.from(recorded.request.body.base64, "base64")), { "content-type": "image/png" });
  assert.equal(await res.text(), VIT_BODY);
  assert.equal(res.headers.get("x-request-id"), VIT_REQUEST_ID);
});

test("an unmatched image gets a deterministic image-classification answer", async () => {
  const image = new Uint8Array(randomBytes(2048));
  const a = await (await post("/models/acme/cat-classifier", image, { "content-type": "image/jpeg" })).text();
  const b = await (await post("/models/acme/cat-classifier", image, { "content-type": "image/jpeg" })).text();
  assert.equal(a, b);
  const labels = JSON.parse(a);
  assert.equal(labels.length, 5);
  const sum = labels.reduce((s, x) => s + x.score, 0);
  assert.ok(sum <= 1, `scores sum to ${sum}`);
  for (let i = 1; i < labels.length; i++) assert.ok(labels[i - 1].score >= labels[i].score);

  // JSON + base64 with parameters.top_k.
  const viaJson = await (
    await post("/models/acme/cat-classifier", {
      inputs: Buffer.from(image).toString("base64"),
      parameters: { top_k: 2 },
    })
  ).json();
  assert.deepEqual(viaJson, labels.slice(0, 2));
});

test("the does-not-exist recording answers 404", async () => {
  const res = await post("/models/this-model-does-not-exist-123", { inputs: "[MASK] world!" });
  assert.equal(res.status, 404);
  assert.equal(await res.text(), '{"error":"Model this-model-does-not-exist-123 does not exist"}');
  assert.equal(res.headers.get("access-control-allow-origin"), "*");

  const other = await post("/models/acme/does-not-exist-either", { inputs: "x" });
  assert.equal(other.status, 404);
  assert.deepEqual(await other.json(), { error: "Model acme/does-not-exist-either does not exist" });
});

test("errors: JSON without inputs, GET on a model, unknown path", async () => {
  const noInputs = await post("/models/acme/model", { text: "x" });
  assert.equal(noInputs.status, 400);
  assert.equal(typeof (await noInputs.json()).error, "string");

  const get = await fetch(`${up.url}/models/${SST2}`);
  assert.equal(get.status, 405);
  await get.body?.cancel();

  const unknown = await post("/nope", { inputs: "x" });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: "Not Found" });
});

test("chat routes replay recordings, with or without the model in the path", async () => {
  const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
  const rec = recordings.find((r) => r.id.includes("test_chat_completion_no_stream"));
  for (const path of ["/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions", "/v1/chat/completions"]) {
    const res = await post(path, rec.request.body.text, { "content-type": "application/json" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), rec.response.body.text);
  }
  // Unmatched chat: a deterministic chat.completion.
  const res = await post("/chat/completions", { model: "acme/chat", messages: [{ role: "user", content: "hi" }] });
  assert.equal(res.status, 200);
  const answer = await res.json();
  assert.equal(answer.object, "chat.completion");
  assert.equal(answer.model, "acme/chat");
  assert.equal(answer.choices[0].message.role, "assistant");
});

test("fault: status 429 with Retry-After for times:2, then normal", HANG_GUARD, async () => {
  up.fault({ times: 2, status: 429, headers: { "Retry-After": "1" }, body: '{"error":"Too Many Requests"}' });
  for (let i = 0; i < 2; i++) {
    const res = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-expose-headers"), /retry-after/);
    assert.deepEqual(await res.json(), { error: "Too Many Requests" });
  }
  const ok = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), SST2_BODY);
  assert.equal(up.requests.length, 3, "faulted requests are logged too");
});

test("fault: drop resets the connection (fetch TypeError)", HANG_GUARD, async () => {
  up.fault({ drop: true });
  await assert.rejects(post(`/models/${SST2}`, { inputs: "I like you" }), TypeError);
  const ok = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
  assert.equal(ok.status, 200);
  await ok.text();
});

test("fault: delayMs delays the normal answer", HANG_GUARD, async () => {
  up.fault({ delayMs: 300 });
  const t0 = performance.now();
  const res = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
  const body = await res.text();
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 290, `answered after ${elapsed} ms`);
  assert.equal(res.status, 200);
  assert.equal(body, SST2_BODY);
});

test("fault: delayMs with status delays then answers the fault", HANG_GUARD, async () => {
  up.fault({ delayMs: 150, status: 503, body: '{"error":"Model X is currently loading","estimated_time":20.0}' });
  const t0 = performance.now();
  const res = await post("/models/acme/model", { inputs: "x" });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { error: "Model X is currently loading", estimated_time: 20 });
  assert.ok(performance.now() - t0 >= 140);
});

test("fault: stall never answers until the client aborts", HANG_GUARD, async () => {
  up.fault({ stall: true });
  const controller = new AbortController();
  const pending = post(`/models/${SST2}`, { inputs: "I like you" }, {}, { signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(pending, (err) => err.name === "AbortError");
  assert.equal(up.requests.length, 1);
  const ok = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
  assert.equal(ok.status, 200);
  await ok.text();
});

test("fault: a path-restricted fault only hits its path; FIFO order", HANG_GUARD, async () => {
  up.fault({ path: "/models/gpt2", status: 500, body: "boom" });
  up.fault({ status: 502 });
  // The first queued fault does not apply to this path: the second one does.
  const other = await post("/models/acme/model", { inputs: "x" });
  assert.equal(other.status, 502);
  await other.text();
  const normal = await post("/models/acme/model", { inputs: "x" });
  assert.equal(normal.status, 200);
  await normal.text();
  const hit = await post("/models/gpt2", { inputs: "x" });
  assert.equal(hit.status, 500);
  assert.equal(hit.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await hit.text(), "boom");
  assert.deepEqual(up.faults, []);
});

test("fault: queued over HTTP with /__control/faults", HANG_GUARD, async () => {
  const queued = await post("/__control/faults", { times: 1, status: 418, path: "/models/gpt2" });
  assert.equal(queued.status, 200);
  assert.deepEqual(await queued.json(), { queued: 1 });
  const bad = await post("/__control/faults", { times: 0 });
  assert.equal(bad.status, 400);
  await bad.text();
  const res = await post("/models/gpt2", { inputs: "x" });
  assert.equal(res.status, 418);
  await res.text();
  assert.equal(up.requests.length, 1, "control calls are not logged");
});

test("OPTIONS preflight answers 204 with CORS headers and is not logged", async () => {
  const res = await rawRequest("OPTIONS", `/models/${SST2}`, {
    origin: "http://localhost:5173",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers["access-control-allow-origin"], "*");
  assert.equal(res.headers["access-control-allow-methods"], "GET, POST, OPTIONS");
  assert.equal(res.headers["access-control-allow-headers"], "authorization,content-type");
  assert.equal(res.headers["access-control-max-age"], "600");
  assert.equal(res.body.length, 0);

  const bare = await rawRequest("OPTIONS", "/anything");
  assert.equal(bare.status, 204);
  assert.equal(bare.headers["access-control-allow-headers"], "*");

  assert.equal(up.requests.length, 0);
  assert.equal(up.preflights, 2);
});

test("the request log records what the client sent", async () => {
  const before = Date.now();
  const res = await post(
    `/models/${SST2}?wait_for_model=true`,
    '{"inputs":"log me"}',
    { "content-type": "application/json", "X-Custom-Header": "Yes", authorization: "Bearer hf_test" },
  );
  await res.text();
  const image = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  await (await post(`/models/${VIT}`, image, { "content-type": "image/png" })).text();

  assert.equal(up.requests.length, 2);
  const [text, img] = up.requests;
  assert.equal(text.method, "POST");
  assert.equal(text.path, `/models/${SST2}`);
  assert.equal(text.headers["x-custom-header"], "Yes");
  assert.equal(text.headers.authorization, "Bearer hf_test");
  assert.equal(text.headers["content-type"], "application/json");
  assert.ok(Buffer.isBuffer(text.body));
  assert.equal(text.body.toString("utf8"), '{"inputs":"log me"}');
  assert.equal(text.bodyText, '{"inputs":"log me"}');
  assert.deepEqual(text.json, { inputs: "log me" });
  assert.ok(text.at >= before && text.at <= Date.now());

  assert.equal(img.path, `/models/${VIT}`);
  assert.equal(img.headers["content-type"], "image/png");
  assert.deepEqual(img.body, Buffer.from(image));
  assert.equal(img.bodyText, null);
  assert.equal(img.json, undefined);

  const log = await (await fetch(`${up.url}/__control/requests`)).json();
  assert.equal(log.length, 2);
  assert.equal(log[0].bodyText, '{"inputs":"log me"}');
  assert.equal(log[0].bodyLength, 19);
  assert.equal(log[1].bodyText, null);
  assert.equal(log[1].bodyLength, 7);
  assert.equal(log[1].body, undefined);
});

test("reset clears the log, queued faults and the request counter", async () => {
  const requests = up.requests;
  await (await post("/models/acme/model", { inputs: "x" })).text();
  up.fault({ status: 500, times: 5 });
  await rawRequest("OPTIONS", "/models/acme/model");
  up.reset();
  assert.equal(up.requests, requests, "the log array stays the same object");
  assert.equal(up.requests.length, 0);
  assert.deepEqual(up.faults, []);
  assert.equal(up.preflights, 0);
  const res = await post("/models/acme/model", { inputs: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "local-1");
  await res.text();

  // The same over HTTP.
  up.fault({ status: 500 });
  const r = await post("/__control/reset", {});
  assert.deepEqual(await r.json(), { ok: true });
  assert.equal(up.requests.length, 0);
  assert.deepEqual(up.faults, []);
});

test("close() resolves promptly with a stalled request open", HANG_GUARD, async () => {
  const own = await startUpstream({ port: 0 });
  own.fault({ stall: true });
  const pending = fetch(`${own.url}/models/gpt2`, { method: "POST", body: '{"inputs":"x"}' });
  while (own.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
  await own.close();
  await assert.rejects(pending, TypeError);
});

test("CLI prints UPSTREAM_URL and exits cleanly on SIGTERM", HANG_GUARD, async () => {
  const main = fileURLToPath(new URL("./main.mjs", import.meta.url));
  const child = spawn(process.execPath, [main, "--port", "0", "--host", "127.0.0.1", "--seed", "7"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      if (stdout.includes("\n")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`exited early with ${code}`)));
  });
  const match = /^UPSTREAM_URL=(http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout);
  assert.ok(match, `unexpected stdout: ${JSON.stringify(stdout)}`);
  const res = await fetch(`${match[1]}/models/${SST2}`, {
    method: "POST",
    body: '{"inputs": "I like you", "parameters": {}}',
  });
  assert.equal(await res.text(), SST2_BODY);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.kill("SIGTERM");
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.equal(stdout, `UPSTREAM_URL=${match[1]}\n`);
});

// ---------------------------------------------------------------------------
// Streams: synthesised SSE, paced delivery (streamIntervalMs), finished / closedEarly

const TGI_STREAM = { inputs: "Once upon", parameters: { max_new_tokens: 3 }, stream: true };
const CHAT_MESSAGES = [{ role: "user", content: "Say something" }];

/** Splits an SSE text into its events, each with its blank line. */
function sseEvents(text) {
  return text.match(/[\s\S]*?(?:\r\n\r\n|\n\n)|[\s\S]+$/g) ?? [];
}

function dataOf(event) {
  assert.ok(event.startsWith("data: ") && event.endsWith("\n\n"), `not a data event: ${JSON.stringify(event)}`);
  return event.slice("data: ".length, -2);
}

/** Polls until check() is true (or fails after timeoutMs). */
async function until(check, what, timeoutMs = 2000) {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads a response body chunk by chunk: { bytes, times } (ms since t0 at each chunk). */
async function readTimed(res, t0) {
  const reader = res.body.getReader();
  const chunks = [];
  const times = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    times.push(performance.now() - t0);
  }
  return { bytes: Buffer.concat(chunks), times, total: performance.now() - t0 };
}

test("a synthesised TGI stream has at least 12 token events, the last with generated_text", async () => {
  const res = await post("/models/acme/tiny-llama", TGI_STREAM);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const text = await res.text();
  const events = sseEvents(text);
  assert.equal(events.length, 12, "max_new_tokens: 3 is raised to 12 for a stream");
  assert.equal(events.join(""), text);
  const parsed = events.map((e) => JSON.parse(dataOf(e)));
  parsed.forEach((e, i) => {
    assert.deepEqual(Object.keys(e), ["index", "token", "generated_text", "details"]);
    assert.equal(e.index, i + 1);
    assert.equal(e.details, null);
    assert.equal(e.token.special, false);
    assert.equal(typeof e.token.text, "string");
    if (i < parsed.length - 1) assert.equal(e.generated_text, null);
  });
  assert.equal(parsed.at(-1).generated_text, `Once upon ${parsed.map((e) => e.token.text).join("")}`);

  const again = await (await post("/models/acme/tiny-llama", TGI_STREAM)).text();
  assert.equal(again, text, "same input, same bytes");
});

test("chat at /v1/chat/completions and /chat/completions streams chunks ending with data: [DONE]", async () => {
  const body = { model: "acme/chat", messages: CHAT_MESSAGES, stream: true, max_tokens: 4 };
  const texts = [];
  for (const path of ["/v1/chat/completions", "/chat/completions"]) {
    const res = await post(path, body);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    texts.push(text);
    const events = sseEvents(text);
    assert.equal(events.length, 13, "12 chunks (max_tokens: 4 is raised for a stream) and [DONE]");
    assert.equal(events.at(-1), "data: [DONE]\n\n");
    assert.ok(text.endsWith("data: [DONE]\n\n"));
    const chunks = events.slice(0, -1).map((e) => JSON.parse(dataOf(e)));
    for (const [i, c] of chunks.entries()) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.model, "acme/chat");
      assert.equal(c.choices[0].delta.role, "assistant");
      assert.equal(typeof c.choices[0].delta.content, "string");
      assert.equal(c.choices[0].finish_reason, i === chunks.length - 1 ? "stop" : null);
    }
  }
  assert.equal(texts[0], texts[1], "both paths synthesise the same bytes for the same body");
  assert.equal(await (await post("/v1/chat/completions", body)).text(), texts[0], "deterministic");
});

test("stream_options.include_usage: usage null on each chunk, then a chunk with no choices and the usage; the words unchanged", async () => {
  const body = { model: "acme/chat", messages: [{ role: "user", content: "Say something nice" }], stream: true, max_tokens: 4 };
  const plain = sseEvents(await (await post("/v1/chat/completions", body)).text());
  const asked = sseEvents(await (await post("/v1/chat/completions", { ...body, stream_options: { include_usage: true } })).text());
  assert.equal(asked.length, plain.length + 1);
  const chunks = asked.slice(0, -1).map((e) => JSON.parse(dataOf(e)));
  const last = chunks.pop();
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, { prompt_tokens: 3, completion_tokens: 12, total_tokens: 15 });
  assert.deepEqual(
    chunks.map(({ usage, ...c }) => (assert.equal(usage, null), c)),
    plain.slice(0, -1).map((e) => JSON.parse(dataOf(e))),
  );
  const completion = { model: "acme/tiny", prompt: "one two three four", stream: true, max_tokens: 2 };
  const events = sseEvents(await (await post("/together/v1/completions", { ...completion, stream_options: { include_usage: true } })).text());
  const usage = JSON.parse(dataOf(events.at(-2)));
  assert.deepEqual([usage.choices, usage.usage], [[], { prompt_tokens: 4, completion_tokens: 12, total_tokens: 16 }]);
});

test("GET /v1/models lists the router's models with their providers' prices; up.routerModels() overrides it until reset()", async () => {
  const res = await fetch(`${up.url}/v1/models`);
  assert.equal(res.status, 200);
  const list = await res.json();
  assert.equal(list.object, "list");
  const llama = list.data.find((m) => m.id === "meta-llama/Llama-3.1-8B-Instruct");
  assert.deepEqual(llama.providers, [
    { provider: "together", status: "live" },
    { provider: "groq", status: "live", pricing: { input: 0.05, output: 0.08 } },
  ]);
  assert.deepEqual(list.data.find((m) => m.id === "Qwen/Qwen2.5-7B-Instruct").providers, [
    { provider: "together", status: "live", pricing: { input: 0.3, output: 0.3 } },
  ]);
  assert.equal(list.data.find((m) => m.id === "gpt2"), undefined, "hf-inference only: not listed");
  up.routerModels({ object: "list", data: [] });
  assert.deepEqual(await (await fetch(`${up.url}/v1/models`)).json(), { object: "list", data: [] });
  assert.throws(() => up.routerModels([]), /must be an object or null/);
  up.reset();
  assert.deepEqual(await (await fetch(`${up.url}/v1/models`)).json(), list);
});

test("chat at /v1/chat/completions and /chat/completions replays the model's recorded stream", async () => {
  const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
  const rec = recordings.find((r) => r.id.includes("test_chat_completion_with_stream"));
  assert.equal(
    rec.request.url,
    "https://router.huggingface.co/hf-inference/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions",
  );
  for (const path of ["/v1/chat/completions", "/chat/completions"]) {
    const res = await post(path, rec.request.body.text, { "content-type": "application/json" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    assert.equal(text, rec.response.body.text);
    assert.ok(text.endsWith("data: [DONE]\n\n"));
  }
  // The same body naming another model matches no recording: synthesised.
  const other = JSON.parse(rec.request.body.text);
  other.model = "acme/other-chat";
  const text = await (await post("/v1/chat/completions", other)).text();
  assert.notEqual(text, rec.response.body.text);
  assert.equal(JSON.parse(dataOf(sseEvents(text)[0])).model, "acme/other-chat");
  assert.ok(text.endsWith("data: [DONE]\n\n"));
});

test("fault: streamIntervalMs paces a synthesised stream event by event, same bytes", HANG_GUARD, async () => {
  const plain = Buffer.from(await (await post("/models/acme/tiny-llama", TGI_STREAM)).arrayBuffer());
  const events = sseEvents(plain.toString("utf8")).length;
  assert.equal(events, 12);

  up.fault({ streamIntervalMs: 100 });
  const t0 = performance.now();
  const res = await post("/models/acme/tiny-llama", TGI_STREAM);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("content-length"), null, "a paced stream is chunked");
  const { bytes, times, total } = await readTimed(res, t0);

  assert.deepEqual(bytes, plain, "pacing does not change the bytes");
  assert.ok(times[0] < total / 2, `first event at ${times[0]} ms of ${total} ms`);
  assert.ok(total >= (events - 1) * 100 * 0.8, `took ${total} ms for ${events} events`);
  assert.ok(times.length >= events / 2, `only ${times.length} chunks arrived`);
  assert.ok(times.at(-1) - times[0] >= (events - 1) * 100 * 0.8, `spread ${times.at(-1) - times[0]} ms`);
  assert.deepEqual(up.faults, [], "the fault is used up");

  await until(() => up.requests[1].finished, "finished");
  assert.equal(up.requests[1].finished, true);
  assert.equal(up.requests[1].closedEarly, false);
});

test("fault: streamIntervalMs paces a recorded stream with the same bytes", HANG_GUARD, async () => {
  const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
  const rec = recordings.find((r) => r.id === "hfjs-tapes/3694ddcced22");
  up.fault({ streamIntervalMs: 40, path: "/models/google/flan-t5-xxl" });
  const t0 = performance.now();
  const res = await post("/models/google/flan-t5-xxl", rec.request.body.text, { "content-type": "application/json" });
  const { bytes, total } = await readTimed(res, t0);
  assert.equal(bytes.toString("utf8"), rec.response.body.text);
  const events = sseEvents(rec.response.body.text).length;
  assert.equal(events, 5);
  assert.ok(total >= (events - 1) * 40 * 0.8, `took ${total} ms`);
});

test("fault: streamIntervalMs leaves non-stream answers alone and is validated", HANG_GUARD, async () => {
  up.fault({ streamIntervalMs: 1000, times: 2 });
  const t0 = performance.now();
  const res = await post(`/models/${SST2}`, { inputs: "I like you", parameters: {} });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(SST2_BODY.length));
  assert.equal(await res.text(), SST2_BODY);
  assert.ok(performance.now() - t0 < 900);
  assert.equal(up.faults.length, 1);
  assert.equal(up.faults[0].remaining, 1);
  assert.equal(up.faults[0].streamIntervalMs, 1000);

  for (const bad of [-1, "100", Number.NaN, Number.POSITIVE_INFINITY, null]) {
    assert.throws(() => up.fault({ streamIntervalMs: bad }), {
      name: "TypeError",
      message: "fault.streamIntervalMs must be a non-negative number",
    });
  }
  up.fault({ streamIntervalMs: 0, path: "/models/gpt2" });
  assert.equal(up.faults.length, 2);
  const overHttp = await post("/__control/faults", { streamIntervalMs: -5 });
  assert.equal(overHttp.status, 400);
  assert.deepEqual(await overHttp.json(), { error: "fault.streamIntervalMs must be a non-negative number" });
});

test("a client that aborts mid-stream: closedEarly true, finished false; the rest is not sent", HANG_GUARD, async () => {
  up.fault({ streamIntervalMs: 100 });
  const controller = new AbortController();
  const res = await post("/models/acme/tiny-llama", TGI_STREAM, {}, { signal: controller.signal });
  const reader = res.body.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  assert.match(Buffer.from(first.value).toString("utf8"), /^data: \{"index":1,/);
  assert.equal(up.requests.length, 1);
  assert.equal(up.requests[0].finished, false);
  assert.equal(up.requests[0].closedEarly, false);
  controller.abort();
  await assert.rejects(reader.read(), (err) => err.name === "AbortError");

  await until(() => up.requests[0].closedEarly, "closedEarly");
  assert.equal(up.requests[0].closedEarly, true);
  assert.equal(up.requests[0].finished, false);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(up.requests[0].finished, false, "nothing more is written after the client left");

  const log = await (await fetch(`${up.url}/__control/requests`)).json();
  assert.equal(log[0].closedEarly, true);
  assert.equal(log[0].finished, false);
});

test("finished / closedEarly on ordinary answers and on a stall the client aborts", HANG_GUARD, async () => {
  const full = await post("/models/acme/tiny-llama", TGI_STREAM);
  await full.text();
  await until(() => up.requests[0].finished, "finished");
  assert.equal(up.requests[0].finished, true);
  assert.equal(up.requests[0].closedEarly, false);
  assert.equal(Object.getPrototypeOf(up.requests[0]), Object.prototype, "entries stay plain objects");

  up.fault({ stall: true });
  const controller = new AbortController();
  const pending = post(`/models/${SST2}`, { inputs: "x" }, {}, { signal: controller.signal });
  await until(() => up.requests.length === 2, "the stalled request");
  controller.abort();
  await assert.rejects(pending, (err) => err.name === "AbortError");
  await until(() => up.requests[1].closedEarly, "closedEarly");
  assert.equal(up.requests[1].finished, false);

  const log = await (await fetch(`${up.url}/__control/requests`)).json();
  assert.deepEqual(
    log.map((r) => [r.finished, r.closedEarly]),
    [
      [true, false],
      [false, true],
    ],
  );
});

// ---------------------------------------------------------------------------
// Issue 12: the router root (pipelines, completions, the new tasks, providers) and the Hub

const MINILM = "sentence-transformers/all-MiniLM-L6-v2";
const CAT_SAT = [
  0.05499175581085904, -0.2771371200354656, 0.3216043820733999, 0.027615735734030308, 0.2525855920294348,
  0.07047720783589626, 0.03359369025398427, 0.38439970062382667, 0.311836687209802, 0.3103667445213888,
  0.18453653688327862, -0.16105746208155505, -0.20713064918934482, 0.19206554904059028, 0.5100880984535157,
  -0.06910649604030569,
];
const SIMILARITY_BODY = {
  inputs: { source_sentence: "The cat sat", sentences: ["The cat sat", "The cat slept", "Stocks fell sharply"] },
};
const IMAGE_BYTES = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8]);
const AUDIO_BYTES = new Uint8Array(Buffer.from("RIFF$\u0000\u0000\u0000WAVEfmt "));
// The top and bottom rows' colours of the picture of "a red fox".
const FOX_TOP = [222, 187, 45];
const FOX_BOTTOM = [55, 185, 101];
// What the seeded PRNG (seed 1) gives for a probability: 0.5 fault over 200 requests.
const PROBABILITY_COUNT = 104;
const PROBABILITY_HEAD = [200, 503, 503, 200, 503, 200, 503, 200, 503, 503];

/** Asserts the synthesised headers and returns the parsed JSON body. */
async function synthesised(res, provider = "hf-inference") {
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("x-compute-time"), /^\d+\.\d{3}$/);
  assert.equal(res.headers.get("x-compute-type"), "cpu");
  assert.match(res.headers.get("x-request-id"), /^local-\d+$/);
  assert.equal(res.headers.get("x-inference-provider"), provider);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  return res.json();
}

/** Asserts a 422 validation error of the completions, images and embeddings routes. */
async function assertValidation(res, message) {
  assert.equal(res.status, 422);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), { error: `Input validation error: ${message}`, error_type: "validation" });
}

/** A PNG's header and pixels, its chunk CRCs checked with zlib's own crc32. */
function readPng(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  const chunks = [];
  for (let at = 8; at < buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    assert.equal(buf.readUInt32BE(at + 8 + length), zlib.crc32(buf.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunks.push({ type, data });
    at += 12 + length;
  }
  assert.deepEqual(
    chunks.map((c) => c.type),
    ["IHDR", "IDAT", "IEND"],
  );
  const ihdr = chunks[0].data;
  const png = {
    width: ihdr.readUInt32BE(0),
    height: ihdr.readUInt32BE(4),
    bitDepth: ihdr[8],
    colourType: ihdr[9],
  };
  const channels = { 0: 1, 2: 3 }[png.colourType];
  const raw = zlib.inflateSync(chunks[1].data);
  assert.equal(raw.length, png.height * (1 + png.width * channels));
  png.pixel = (x, y) => [...raw.subarray(y * (1 + png.width * channels) + 1 + x * channels).subarray(0, channels)];
  return png;
}

test("feature extraction: a unit vector per text, on both pipeline routes and the /hf-inference prefix", async () => {
  const one = await synthesised(await post(`/models/${MINILM}/pipeline/feature-extraction`, { inputs: "The cat sat" }));
  assert.deepEqual(one, CAT_SAT);
  assert.ok(Math.abs(Math.hypot(...one) - 1) < 1e-12);

  const list = await synthesised(
    await post(`/hf-inference/models/${MINILM}/pipeline/feature-extraction`, { inputs: ["The cat sat", "the CAT, sat!"] }),
  );
  assert.deepEqual(list, [CAT_SAT, CAT_SAT], "words are lowercased, punctuation ignored");
  const viaSimilarityRoute = await synthesised(
    await post(`/models/${MINILM}/pipeline/sentence-similarity`, { inputs: "The cat sat" }),
  );
  assert.deepEqual(viaSimilarityRoute, CAT_SAT);
  // A feature-extraction model answers at /models/{m} as well.
  assert.deepEqual(await synthesised(await post(`/models/${MINILM}`, { inputs: "The cat sat" })), CAT_SAT);
  assert.deepEqual(
    up.requests.map((r) => [r.path, r.provider, r.hub]),
    [
      [`/models/${MINILM}/pipeline/feature-extraction`, "hf-inference", false],
      [`/hf-inference/models/${MINILM}/pipeline/feature-extraction`, "hf-inference", false],
      [`/models/${MINILM}/pipeline/sentence-similarity`, "hf-inference", false],
      [`/models/${MINILM}`, "hf-inference", false],
    ],
  );
});

test("sentence similarity: cosine similarities to the source, 1 for the same sentence, on both routes", async () => {
  for (const route of ["sentence-similarity", "feature-extraction"]) {
    const res = await post(`/models/acme/embedder/pipeline/${route}`, SIMILARITY_BODY);
    assert.deepEqual(await synthesised(res), [1, 0.800532, 0.53364], route);
  }
  // Unknown models take the body's shape at /models/{m} too.
  assert.deepEqual(await synthesised(await post("/models/acme/embedder", SIMILARITY_BODY)), [1, 0.800532, 0.53364]);
  const bytes = await (await post(`/models/${MINILM}/pipeline/sentence-similarity`, SIMILARITY_BODY)).text();
  assert.equal(await (await post(`/models/${MINILM}/pipeline/sentence-similarity`, SIMILARITY_BODY)).text(), bytes);
});

test("feature extraction and similarity: malformed bodies answer 400 {error}", async () => {
  const cases = [
    ["not json", "The request body must be JSON"],
    [{ text: "x" }, "The request body must be a JSON object with an `inputs` field"],
    [{ inputs: 3 }, "`inputs` must be a string, a list of strings or {source_sentence, sentences}"],
    [{ inputs: ["a", 1] }, "`inputs` must be a string, a list of strings or {source_sentence, sentences}"],
    [{ inputs: { source_sentence: 1, sentences: [] } }, "`source_sentence` must be a string"],
    [{ inputs: { source_sentence: "a", sentences: "b" } }, "`sentences` must be a list of strings"],
  ];
  for (const [body, error] of cases) {
    const res = await post(`/models/${MINILM}/pipeline/sentence-similarity`, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { error });
  }
  const get = await fetch(`${up.url}/models/${MINILM}/pipeline/feature-extraction`);
  assert.equal(get.status, 405);
  await get.body?.cancel();
  const other = await post(`/models/${MINILM}/pipeline/summarization`, { inputs: "x" });
  assert.equal(other.status, 404);
  await other.body?.cancel();
});

test("completions: an OpenAI text_completion of max_tokens words, default 20", async () => {
  const body = { model: "gpt2", prompt: "Once upon a time", max_tokens: 5 };
  const answer = await synthesised(await post("/models/gpt2/v1/completions", body));
  assert.equal(
    JSON.stringify(answer),
    '{"id":"cmpl-db3e76d759c931d9f0b0e64a","object":"text_completion","created":1700000000,"model":"gpt2",' +
      '"choices":[{"index":0,"text":" from time number be on","logprobs":null,"finish_reason":"length"}],' +
      '"usage":{"prompt_tokens":4,"completion_tokens":5,"total_tokens":9}}',
  );
  // The path's model is the answer's; the guide's max_length passes through (and is ignored).
  const long = await synthesised(
    await post("/hf-inference/models/openai-community/gpt2/v1/completions", { prompt: "Hi", max_length: 50 }),
  );
  assert.equal(long.model, "openai-community/gpt2");
  assert.equal(long.choices[0].text.split(" ").length, 21, "20 words, each after a space");
  assert.match(long.choices[0].text, /^( [a-z]+){20}$/);
  assert.deepEqual(long.usage, { prompt_tokens: 1, completion_tokens: 20, total_tokens: 21 });

  for (const bad of [{ model: "gpt2" }, { model: "gpt2", prompt: ["a"] }, [1], "null"]) {
    const res = await post("/models/gpt2/v1/completions", bad, { "content-type": "application/json" });
    await assertValidation(res, "`prompt` must be a string");
  }
  const zero = await post("/models/gpt2/v1/completions", { prompt: "x", max_tokens: 0 });
  await assertValidation(zero, "`max_tokens` must be a positive integer");
});

test("completions stream: text_completion events, at least 12, the last with finish_reason, then [DONE]", async () => {
  const res = await post("/models/gpt2/v1/completions", { model: "gpt2", prompt: "Once upon a time", max_tokens: 5, stream: true });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("x-inference-provider"), "hf-inference");
  assert.match(res.headers.get("x-request-id"), /^local-\d+$/);
  const text = await res.text();
  const events = sseEvents(text);
  assert.equal(events.length, 13, "max_tokens: 5 is raised to 12 for a stream, then [DONE]");
  assert.equal(events.join(""), text);
  assert.equal(events.at(-1), "data: [DONE]\n\n");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(dataOf(e)));
  assert.equal(
    dataOf(events[0]),
    '{"id":"cmpl-db3e76d759c931d9f0b0e64a","object":"text_completion","created":1700000000,"model":"gpt2",' +
      '"choices":[{"index":0,"text":" from","logprobs":null,"finish_reason":null}]}',
  );
  chunks.forEach((c, i) => {
    assert.deepEqual(Object.keys(c), ["id", "object", "created", "model", "choices"]);
    assert.match(c.choices[0].text, /^ [a-z]+$/);
    assert.equal(c.choices[0].finish_reason, i === chunks.length - 1 ? "length" : null);
  });
  // A stream of 12 or more tokens says what the plain answer says.
  const plain = await (await post("/models/gpt2/v1/completions", { model: "gpt2", prompt: "Once upon a time", max_tokens: 12 })).json();
  const streamed = sseEvents(
    await (await post("/models/gpt2/v1/completions", { model: "gpt2", prompt: "Once upon a time", max_tokens: 12, stream: true })).text(),
  );
  assert.equal(
    streamed
      .slice(0, -1)
      .map((e) => JSON.parse(dataOf(e)).choices[0].text)
      .join(""),
    plain.choices[0].text,
  );
  assert.equal(plain.choices[0].text.startsWith(" from time number be on "), true);
});

test("fault: streamIntervalMs paces a completions stream", HANG_GUARD, async () => {
  const body = { prompt: "Once", stream: true };
  const plain = Buffer.from(await (await post("/models/gpt2/v1/completions", body)).arrayBuffer());
  up.fault({ streamIntervalMs: 40 });
  const t0 = performance.now();
  const { bytes, times, total } = await readTimed(await post("/models/gpt2/v1/completions", body), t0);
  assert.deepEqual(bytes, plain);
  assert.equal(sseEvents(plain.toString("utf8")).length, 21, "20 tokens and [DONE]");
  assert.ok(total >= 20 * 40 * 0.8, `took ${total} ms`);
  assert.ok(times.length >= 10, `only ${times.length} chunks`);
});

test("text-to-image: a valid 64x64 PNG, colours from the prompt, image/png", async () => {
  const res = await post("/models/black-forest-labs/FLUX.1-schnell", { inputs: "a red fox", parameters: { num_inference_steps: 4 } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.equal(res.headers.get("x-inference-provider"), "hf-inference");
  assert.equal(res.headers.get("x-compute-type"), "cpu");
  assert.match(res.headers.get("x-compute-time"), /^\d+\.\d{3}$/);
  assert.match(res.headers.get("x-request-id"), /^local-\d+$/);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(res.headers.get("content-length"), String(bytes.length));
  const png = readPng(bytes);
  assert.deepEqual([png.width, png.height, png.bitDepth, png.colourType], [64, 64, 8, 2]);
  assert.deepEqual(png.pixel(0, 0), FOX_TOP);
  assert.deepEqual(png.pixel(63, 0), FOX_TOP);
  assert.deepEqual(png.pixel(17, 63), FOX_BOTTOM);

  const sdxl = Buffer.from(
    await (await post("/models/stabilityai/stable-diffusion-xl-base-1.0", { inputs: "a red fox" })).arrayBuffer(),
  );
  assert.deepEqual(sdxl, bytes, "the picture depends on the prompt only");
  const other = readPng(
    Buffer.from(await (await post("/models/stabilityai/stable-diffusion-xl-base-1.0", { inputs: "a blue whale" })).arrayBuffer()),
  );
  assert.notDeepEqual(other.pixel(0, 0), FOX_TOP);

  const bad = await post("/models/black-forest-labs/FLUX.1-schnell", { inputs: ["a"] });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: "`inputs` must be a non-empty string" });
});

test("summarization and translation: one result per input, deterministic", async () => {
  const text =
    "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in Paris.";
  for (const model of ["facebook/bart-large-cnn", "sshleifer/distilbart-cnn-12-6"]) {
    assert.deepEqual(await synthesised(await post(`/models/${model}`, { inputs: text })), [
      { summary_text: "The tower is 324 metres tall, about the same height as an" },
    ]);
  }
  assert.deepEqual(await synthesised(await post("/models/facebook/bart-large-cnn", { inputs: ["Short one.", text] })), [
    { summary_text: "Short one." },
    { summary_text: "The tower is 324 metres tall, about the same height as an" },
  ]);
  for (const model of ["Helsinki-NLP/opus-mt-en-fr", "google-t5/t5-small"]) {
    assert.deepEqual(await synthesised(await post(`/models/${model}`, { inputs: "My name is Wolfgang" })), [
      { translation_text: "Wolfgang is name My" },
    ]);
  }
  assert.deepEqual(
    await synthesised(await post("/models/Helsinki-NLP/opus-mt-en-fr", { inputs: ["good night", "see  you later"] })),
    [{ translation_text: "night good" }, { translation_text: "later you see" }],
  );
  const bad = await post("/models/google-t5/t5-small", { inputs: { text: "x" } });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: "`inputs` must be a string or a list of strings" });
});

test("token classification: runs of capitalised words with code-point offsets", async () => {
  const text = "My name is Wolfgang and I live in New York";
  const entities = await synthesised(await post("/models/dslim/bert-base-NER", { inputs: text }));
  assert.deepEqual(entities, [
    { entity_group: "MISC", score: 0.9270750565721187, word: "Wolfgang", start: 11, end: 19 },
    { entity_group: "MISC", score: 0.9057824295931031, word: "New York", start: 34, end: 42 },
  ]);
  for (const e of entities) assert.equal(text.slice(e.start, e.end), e.word);
  // Offsets count code points, as the Python server does: the emoji is one.
  const [emoji] = await (await post("/models/dslim/bert-base-NER", { inputs: "😀 Paris" })).json();
  assert.deepEqual([emoji.word, emoji.start, emoji.end], ["Paris", 2, 7]);
  const lists = await (await post("/models/dslim/bert-base-NER", { inputs: ["in New York", "nothing here"] })).json();
  assert.deepEqual(lists, [[{ ...entities[1], start: 3, end: 11 }], []]);
});

test("question answering: a span of the context, offsets right", async () => {
  const context = "My name is Wolfgang and I live in Berlin";
  const res = await post("/models/deepset/roberta-base-squad2", { inputs: { question: "Where do I live?", context } });
  const answer = await synthesised(res);
  assert.deepEqual(answer, { answer: "Berlin", score: 0.9741835825666088, start: 34, end: 40 });
  assert.equal(context.slice(answer.start, answer.end), answer.answer);
  const name = await (
    await post("/models/deepset/roberta-base-squad2", {
      inputs: { question: "What is my name?", context: "My name is Clara and I live in Berkeley." },
    })
  ).json();
  assert.deepEqual([name.answer, name.start, name.end], ["Clara", 11, 16]);
  const where = await (
    await post("/models/deepset/roberta-base-squad2", { inputs: { question: "Where?", context: "I live in Paris" } })
  ).json();
  assert.deepEqual([where.answer, where.start, where.end], ["Paris", 10, 15], "a function word is no answer");
  // An unknown model with this body shape answers the same task.
  const shaped = await (await post("/models/acme/qa", { inputs: { question: "Where do I live?", context } })).json();
  assert.deepEqual(Object.keys(shaped), ["answer", "score", "start", "end"]);
  assert.equal(shaped.answer, "Berlin");
  const bad = await post("/models/deepset/roberta-base-squad2", { inputs: "Where?" });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: "`inputs` must be an object {question, context} of two strings" });
});

test("fill-mask: five candidates sorted by score; no mask token is a 400", async () => {
  const bert = await synthesised(
    await post("/models/google-bert/bert-base-uncased", { inputs: "The answer to the universe is [MASK]." }),
  );
  assert.deepEqual(bert, [
    { sequence: "the answer to the universe is water.", score: 0.26693046358645267, token: 2007, token_str: "water" },
    { sequence: "the answer to the universe is home.", score: 0.20007174852272738, token: 2009, token_str: "home" },
    { sequence: "the answer to the universe is love.", score: 0.1299630262512027, token: 2001, token_str: "love" },
    { sequence: "the answer to the universe is peace.", score: 0.09780136858729394, token: 2010, token_str: "peace" },
    { sequence: "the answer to the universe is family.", score: 0.0812915093747065, token: 2013, token_str: "family" },
  ]);
  const roberta = await synthesised(await post("/models/FacebookAI/roberta-base", { inputs: "The goal of life is <mask>." }));
  assert.deepEqual(roberta[0], { sequence: "The goal of life is music.", score: 0.30729142227069056, token: 1003, token_str: "music" });
  assert.equal(roberta.length, 5);
  for (let i = 1; i < 5; i++) assert.ok(roberta[i - 1].score > roberta[i].score);

  for (const [model, mask] of [
    ["google-bert/bert-base-uncased", "[MASK]"],
    ["FacebookAI/roberta-base", "<mask>"],
  ]) {
    const res = await post(`/models/${model}`, { inputs: "No mask here." });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: `No mask_token (${mask}) found on the input` });
  }
});

test("object detection and image-to-text take raw image bytes", async () => {
  const detected = await synthesised(await post("/models/facebook/detr-resnet-50", IMAGE_BYTES, { "content-type": "image/jpeg" }));
  assert.deepEqual(detected, [{ label: "remote", score: 0.9429493124962086, box: { xmin: 79, ymin: 103, xmax: 373, ymax: 334 } }]);
  const caption = await synthesised(
    await post("/models/Salesforce/blip-image-captioning-large", IMAGE_BYTES, { "content-type": "image/jpeg" }),
  );
  assert.deepEqual(caption, [{ generated_text: "a cat lying on a couch" }]);
  // JSON {inputs: <base64>} reads the same bytes.
  const viaJson = await (
    await post("/models/Salesforce/blip-image-captioning-large", { inputs: Buffer.from(IMAGE_BYTES).toString("base64") })
  ).json();
  assert.deepEqual(viaJson, caption);
  const empty = await post("/models/facebook/detr-resnet-50", new Uint8Array(0), { "content-type": "image/jpeg" });
  assert.equal(empty.status, 400);
  assert.deepEqual(await empty.json(), { error: "Request body is empty" });
});

test("image-to-text: the recorded vit-gpt2 exchange is still replayed for any image", async () => {
  const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
  const rec = recordings.find((r) => r.request.url.endsWith("/hf-inference/models/nlpconnect/vit-gpt2-image-captioning"));
  const res = await post("/models/nlpconnect/vit-gpt2-image-captioning", IMAGE_BYTES, { "content-type": "image/jpeg" });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), rec.response.body.text);
  assert.deepEqual(JSON.parse(rec.response.body.text), [
    { generated_text: "a large brown and white giraffe standing in a field " },
  ]);
});

test("image segmentation: labels, scores and masks that are valid greyscale PNGs", async () => {
  const body = { inputs: Buffer.from(IMAGE_BYTES).toString("base64") };
  const segments = await synthesised(await post("/models/nvidia/segformer-b0-finetuned-ade-512-512", body));
  assert.deepEqual(
    segments.map(({ label, score }) => ({ label, score })),
    [
      { label: "floor", score: 0.9897705344583141 },
      { label: "tree", score: 0.9795630792886019 },
      { label: "ceiling", score: 0.971128206904605 },
      { label: "wall", score: 0.9452610762948404 },
    ],
  );
  for (const { mask } of segments) {
    const png = readPng(Buffer.from(mask, "base64"));
    assert.deepEqual([png.width, png.height, png.bitDepth, png.colourType], [64, 64, 8, 0]);
    const values = new Set();
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) values.add(png.pixel(x, y)[0]);
    assert.deepEqual([...values].sort((a, b) => a - b), [0, 255]);
  }
  // Raw bytes are the same image.
  const raw = await (await post("/models/nvidia/segformer-b0-finetuned-ade-512-512", IMAGE_BYTES, { "content-type": "image/jpeg" })).json();
  assert.deepEqual(raw, segments);
  const panoptic = await (await post("/models/facebook/detr-resnet-50-panoptic", body)).json();
  assert.ok(panoptic.length >= 2);
});

test("zero-shot image classification: one score per candidate, sorted, summing to 1", async () => {
  const image = Buffer.from(IMAGE_BYTES).toString("base64");
  const body = { inputs: { image }, parameters: { candidate_labels: ["cat", "dog", "llama"] } };
  const answer = await synthesised(await post("/models/openai/clip-vit-base-patch32", body));
  assert.deepEqual(answer, [
    { label: "llama", score: 0.5205642024926029 },
    { label: "cat", score: 0.28853001454732036 },
    { label: "dog", score: 0.19090578296007663 },
  ]);
  assert.ok(Math.abs(answer.reduce((s, x) => s + x.score, 0) - 1) < 1e-12);
  const large = await (await post("/models/openai/clip-vit-large-patch14", body)).json();
  assert.deepEqual(large.map((x) => x.label).sort(), ["cat", "dog", "llama"]);
  const none = await post("/models/openai/clip-vit-large-patch14", { inputs: { image } });
  assert.equal(none.status, 400);
  assert.deepEqual(await none.json(), {
    error: "The `candidate_labels` parameter must be a non-empty list or comma-separated string",
  });
});

test("speech recognition and audio classification take raw audio of any type", async () => {
  for (const type of ["audio/wav", "audio/flac", "application/octet-stream"]) {
    const res = await post("/models/openai/whisper-large-v3", AUDIO_BYTES, { "content-type": type });
    assert.deepEqual(await synthesised(res), { text: "For river by signal as a small." });
  }
  const emotion = await synthesised(await post("/models/superb/hubert-large-superb-er", AUDIO_BYTES, { "content-type": "audio/wav" }));
  assert.deepEqual(emotion, [
    { label: "sad", score: 0.46073257600697004 },
    { label: "hap", score: 0.3564385933307967 },
    { label: "neu", score: 0.15083212288138242 },
    { label: "ang", score: 0.031996707780850994 },
  ]);
  const audioset = await (
    await post("/models/MIT/ast-finetuned-audioset-10-10-0.4593", AUDIO_BYTES, { "content-type": "audio/wav" })
  ).json();
  assert.deepEqual(
    audioset.map((x) => x.label),
    ["Silence", "Music", "Speech", "Dog", "Animal"],
  );
  for (let i = 1; i < audioset.length; i++) assert.ok(audioset[i - 1].score >= audioset[i].score);
});

test("providers: /{provider}/v1/completions answers like hf-inference's, model the body's, stream too", async () => {
  const body = { model: "Qwen/Qwen2.5-7B-Instruct-Turbo", prompt: "Once upon a time", max_tokens: 5 };
  const hf = await (await post("/models/Qwen/Qwen2.5-7B-Instruct-Turbo/v1/completions", body)).json();
  for (const provider of ["together", "scaleway", "acme-cloud"]) {
    const answer = await synthesised(await post(`/${provider}/v1/completions`, body), provider);
    assert.deepEqual(answer, hf, provider);
  }
  assert.equal(hf.model, "Qwen/Qwen2.5-7B-Instruct-Turbo");
  const stream = await post("/together/v1/completions", { ...body, stream: true });
  assert.equal(stream.headers.get("x-inference-provider"), "together");
  const text = await stream.text();
  assert.ok(text.endsWith("data: [DONE]\n\n"));
  assert.equal(JSON.parse(dataOf(sseEvents(text)[0])).model, "Qwen/Qwen2.5-7B-Instruct-Turbo");
  assert.deepEqual(
    up.requests.map((r) => r.provider),
    ["hf-inference", "together", "scaleway", "acme-cloud", "together"],
  );
  const noModel = await post("/together/v1/completions", { prompt: "x" });
  assert.equal(noModel.headers.get("x-inference-provider"), "together");
  await assertValidation(noModel, "`model` must be a string");
});

test("providers: images (the text-to-image PNG as b64_json) and embeddings (the feature-extraction vectors)", async () => {
  const png = Buffer.from(await (await post("/models/black-forest-labs/FLUX.1-schnell", { inputs: "a red fox" })).arrayBuffer());
  for (const provider of ["together", "nscale"]) {
    const body = { model: "black-forest-labs/FLUX.1-schnell", prompt: "a red fox", response_format: "base64" };
    const answer = await synthesised(await post(`/${provider}/v1/images/generations`, body), provider);
    assert.deepEqual(answer, { created: 1700000000, data: [{ b64_json: png.toString("base64") }] });
  }
  // The OpenAI-compatible gateway, without a provider.
  const two = await (await post("/v1/images/generations", { model: "acme/image", prompt: "a red fox", size: "1024x1024", n: 2 })).json();
  assert.equal(two.created, 1700000000);
  assert.equal(two.data.length, 2);
  assert.equal(two.data[0].b64_json, png.toString("base64"));
  const second = readPng(Buffer.from(two.data[1].b64_json, "base64"));
  assert.deepEqual([second.width, second.height], [64, 64], "sizes are not honoured");
  assert.notDeepEqual(second.pixel(0, 0), FOX_TOP);
  assert.deepEqual(await (await post("/images/generations", { prompt: "a red fox" })).json(), {
    created: 1700000000,
    data: [{ b64_json: png.toString("base64") }],
  });
  await assertValidation(await post("/v1/images/generations", { model: "m" }), "`prompt` must be a string");

  for (const provider of ["together", "scaleway"]) {
    const res = await post(`/${provider}/v1/embeddings`, { model: "BAAI/bge-large-en-v1.5", input: ["The cat sat", "x y"] });
    const answer = await synthesised(res, provider);
    assert.deepEqual(answer.object, "list");
    assert.deepEqual(answer.model, "BAAI/bge-large-en-v1.5");
    assert.deepEqual(answer.data[0], { object: "embedding", index: 0, embedding: CAT_SAT });
    assert.equal(answer.data[1].index, 1);
    assert.deepEqual(answer.usage, { prompt_tokens: 5, total_tokens: 5 });
  }
  const single = await (await post("/scaleway/v1/embeddings", { model: "m", input: "The cat sat" })).json();
  assert.deepEqual(single.data, [{ object: "embedding", index: 0, embedding: CAT_SAT }]);
  const bad = await post("/scaleway/v1/embeddings", { model: "m", input: 3 });
  await assertValidation(bad, "`input` must be a string or a list of strings");
  await assertValidation(await post("/scaleway/v1/embeddings", { input: "x" }), "`model` must be a string");
});

test("providers: chat at /{provider}/v1/chat/completions, groq's /openai path and a model:provider suffix", async () => {
  const body = { model: "llama-3.1-8b-instant", messages: CHAT_MESSAGES, max_tokens: 3 };
  const plain = await (await post("/v1/chat/completions", body)).text();
  for (const [path, provider] of [
    ["/together/v1/chat/completions", "together"],
    ["/groq/openai/v1/chat/completions", "groq"],
  ]) {
    const res = await post(path, body);
    const answer = await synthesised(res, provider);
    assert.equal(JSON.stringify(answer), plain, "the synthesised chat answer");
    assert.equal(answer.object, "chat.completion");
  }
  const suffixed = await post("/v1/chat/completions", { ...body, model: "meta-llama/Llama-3.1-8B-Instruct:groq" });
  assert.equal((await synthesised(suffixed, "groq")).model, "meta-llama/Llama-3.1-8B-Instruct:groq");
  const stream = await post("/together/v1/chat/completions", { ...body, stream: true });
  assert.equal(stream.headers.get("x-inference-provider"), "together");
  assert.ok((await stream.text()).endsWith("data: [DONE]\n\n"));
  assert.deepEqual(
    up.requests.map((r) => r.provider),
    [null, "together", "groq", "groq", "together"],
  );
  // A provider path of no known route, and /models under a provider, are 404s.
  for (const path of ["/together/v1/audio/speech", "/together/models/gpt2"]) {
    const res = await post(path, { inputs: "x" });
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: "Not Found" });
  }
});

test("the recorded exchanges answer under /hf-inference and /api/inference-proxy/hf-inference too", async () => {
  for (const prefix of ["/hf-inference", "/api/inference-proxy/hf-inference"]) {
    const res = await post(`${prefix}/models/${SST2}`, { inputs: "I like you", parameters: {} });
    assert.equal(await res.text(), SST2_BODY, prefix);
    assert.equal(res.headers.get("x-request-id"), SST2_REQUEST_ID);
  }
  assert.deepEqual(
    up.requests.map((r) => [r.path, r.provider]),
    [
      [`/hf-inference/models/${SST2}`, "hf-inference"],
      [`/api/inference-proxy/hf-inference/models/${SST2}`, "hf-inference"],
    ],
  );
});

// ---------------------------------------------------------------------------
// The Hub

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const LLAMA_MAPPING = {
  together: { providerId: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", status: "live", task: "conversational" },
  groq: { providerId: "llama-3.1-8b-instant", status: "live", task: "conversational" },
  "hf-inference": { providerId: "meta-llama/Llama-3.1-8B-Instruct", status: "live", task: "conversational" },
};

function hubGet(model, query = "?expand[]=inferenceProviderMapping") {
  return fetch(`${up.url}/api/models/${model}${query}`);
}

test("hub: the mapping in the object form, with an _id, for either query spelling", async () => {
  const res = await hubGet(LLAMA);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.match(res.headers.get("x-request-id"), /^local-\d+$/);
  const answer = await res.json();
  assert.deepEqual(Object.keys(answer), ["_id", "id", "inferenceProviderMapping"]);
  assert.match(answer._id, /^[0-9a-f]{24}$/);
  assert.equal(answer.id, LLAMA);
  assert.deepEqual(answer.inferenceProviderMapping, LLAMA_MAPPING);
  assert.deepEqual(await (await hubGet(LLAMA, "?expand%5B%5D=inferenceProviderMapping")).json(), answer);
  assert.deepEqual(await (await hubGet(LLAMA, "")).json(), { _id: answer._id, id: LLAMA }, "no expand, no mapping");

  const flux = await (await hubGet("black-forest-labs/FLUX.1-schnell")).json();
  assert.deepEqual(flux.inferenceProviderMapping, {
    together: { providerId: "black-forest-labs/FLUX.1-schnell-Free", status: "live", task: "text-to-image" },
    nscale: { providerId: "black-forest-labs/FLUX.1-schnell", status: "live", task: "text-to-image" },
    "hf-inference": { providerId: "black-forest-labs/FLUX.1-schnell", status: "live", task: "text-to-image" },
  });
  for (const gpt2 of ["gpt2", "openai-community/gpt2"]) {
    assert.deepEqual((await (await hubGet(gpt2)).json()).inferenceProviderMapping, {}, gpt2);
  }
  assert.deepEqual(
    up.requests.map((r) => [r.method, r.path, r.query, r.hub, r.provider]),
    [
      ["GET", `/api/models/${LLAMA}`, "?expand[]=inferenceProviderMapping", true, null],
      ["GET", `/api/models/${LLAMA}`, "?expand%5B%5D=inferenceProviderMapping", true, null],
      ["GET", `/api/models/${LLAMA}`, "", true, null],
      ["GET", "/api/models/black-forest-labs/FLUX.1-schnell", "?expand[]=inferenceProviderMapping", true, null],
      ["GET", "/api/models/gpt2", "?expand[]=inferenceProviderMapping", true, null],
      ["GET", "/api/models/openai-community/gpt2", "?expand[]=inferenceProviderMapping", true, null],
    ],
  );
  const log = await (await fetch(`${up.url}/__control/requests`)).json();
  assert.deepEqual(
    log.map((r) => r.hub),
    [true, true, true, true, true, true],
  );
});

test("hub: the list form, the hf-inference task models, the recorded ones; unknown is 404", async () => {
  assert.deepEqual((await (await hubGet("BAAI/bge-large-en-v1.5")).json()).inferenceProviderMapping, [
    { provider: "together", providerId: "BAAI/bge-large-en-v1.5", status: "live", task: "feature-extraction" },
    { provider: "hf-inference", providerId: "BAAI/bge-large-en-v1.5", status: "staging", task: "feature-extraction" },
  ]);
  const expected = {
    "Qwen/Qwen2.5-7B-Instruct": { together: { providerId: "Qwen/Qwen2.5-7B-Instruct-Turbo", status: "live", task: "text-generation" } },
    "sentence-transformers/all-MiniLM-L6-v2": {
      "hf-inference": { providerId: MINILM, status: "live", task: "feature-extraction" },
      scaleway: { providerId: MINILM, status: "live", task: "feature-extraction" },
    },
    "facebook/bart-large-cnn": { "hf-inference": { providerId: "facebook/bart-large-cnn", status: "live", task: "summarization" } },
    "openai/whisper-tiny": {
      "hf-inference": { providerId: "openai/whisper-tiny", status: "live", task: "automatic-speech-recognition" },
    },
    [SST2]: { "hf-inference": { providerId: SST2, status: "live", task: "text-classification" } },
    "facebook/bart-large-mnli": {
      "hf-inference": { providerId: "facebook/bart-large-mnli", status: "live", task: "zero-shot-classification" },
    },
    [VIT]: { "hf-inference": { providerId: VIT, status: "live", task: "image-classification" } },
    "google/flan-t5-xxl": { "hf-inference": { providerId: "google/flan-t5-xxl", status: "live", task: "text-generation" } },
    "nlpconnect/vit-gpt2-image-captioning": {
      "hf-inference": { providerId: "nlpconnect/vit-gpt2-image-captioning", status: "live", task: "image-to-text" },
    },
  };
  for (const [model, mapping] of Object.entries(expected)) {
    assert.deepEqual((await (await hubGet(model)).json()).inferenceProviderMapping, mapping, model);
    assert.deepEqual(HUB_MAPPINGS[model], mapping);
  }
  assert.ok(Object.isFrozen(HUB_MAPPINGS) && Object.isFrozen(HUB_MAPPINGS[LLAMA].groq));

  for (const model of ["acme/unknown", "constructor", "this-model-does-not-exist-123"]) {
    const res = await hubGet(model);
    assert.equal(res.status, 404, model);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { error: "Repository not found" });
  }
  const deep = await hubGet("a/b/c");
  assert.equal(deep.status, 404);
  assert.deepEqual(await deep.json(), { error: "Not Found" });
  const postHub = await post(`/api/models/${LLAMA}`, {});
  assert.equal(postHub.status, 405);
  assert.equal(postHub.headers.get("allow"), "GET, OPTIONS");
  await postHub.body?.cancel();
});

test("hub: up.hub() and POST /__control/hub override a model per server; reset() clears them", async () => {
  const mapping = [{ provider: "nscale", providerId: "acme/pic-1", status: "live", task: "text-to-image" }];
  up.hub("acme/pic", mapping);
  mapping[0].status = "error"; // the upstream kept its own copy
  assert.deepEqual((await (await hubGet("acme/pic")).json()).inferenceProviderMapping, [
    { provider: "nscale", providerId: "acme/pic-1", status: "live", task: "text-to-image" },
  ]);
  up.hub(LLAMA, null);
  assert.equal((await hubGet(LLAMA)).status, 404);
  up.hub(LLAMA, undefined);
  assert.deepEqual((await (await hubGet(LLAMA)).json()).inferenceProviderMapping, LLAMA_MAPPING);

  const set = await post("/__control/hub", { model: "gpt2", mapping: { together: { providerId: "gpt2-t", status: "live", task: "text-generation" } } });
  assert.deepEqual(await set.json(), { ok: true });
  assert.deepEqual((await (await hubGet("gpt2")).json()).inferenceProviderMapping, {
    together: { providerId: "gpt2-t", status: "live", task: "text-generation" },
  });
  assert.deepEqual(Object.keys(await (await fetch(`${up.url}/__control/hub`)).json()), ["acme/pic", "gpt2"]);
  await post("/__control/hub", { model: "gpt2", mapping: null });
  assert.equal((await hubGet("gpt2")).status, 404);
  await post("/__control/hub", { model: "gpt2" });
  assert.deepEqual((await (await hubGet("gpt2")).json()).inferenceProviderMapping, {});
  assert.equal(up.requests.length, 6, "control requests are not logged");

  for (const [body, error] of [
    [{ model: "", mapping: {} }, "hub: model must be a non-empty string"],
    [{ model: "m", mapping: "x" }, "hub: mapping must be an object, a list or null"],
  ]) {
    const res = await post("/__control/hub", body);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error });
  }
  assert.throws(() => up.hub("m", 3), { name: "TypeError", message: "hub: mapping must be an object, a list or null" });

  up.reset();
  assert.equal((await hubGet("acme/pic")).status, 404);
});

// ---------------------------------------------------------------------------
// Faults: probability (seeded), pathPrefix, unbounded times

/** Sends n requests to path; the statuses in order. */
async function statuses(target, n, path = "/models/acme/model") {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${target.url}${path}`, { method: "POST", body: '{"inputs":"x"}' });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

test("fault: probability applies to matching requests by a seeded PRNG; runs repeat", HANG_GUARD, async () => {
  up.fault({ probability: 0.5, times: -1, status: 503 });
  const first = await statuses(up, 200);
  assert.equal(first.filter((s) => s === 503).length, PROBABILITY_COUNT);
  assert.equal(first.filter((s) => s === 200).length, 200 - PROBABILITY_COUNT);
  assert.deepEqual(first.slice(0, 10), PROBABILITY_HEAD);

  // reset() restarts the PRNG: the same run again.
  up.reset();
  up.fault({ probability: 0.5, times: Infinity, status: 503 });
  assert.deepEqual(await statuses(up, 200), first);

  // Another server with the same seed (the default is 1) repeats it; another seed does not.
  const same = await startUpstream({ port: 0, seed: 1 });
  const other = await startUpstream({ port: 0, seed: 2 });
  try {
    for (const s of [same, other]) s.fault({ probability: 0.5, times: -1, status: 503 });
    assert.deepEqual(await statuses(same, 200), first);
    assert.notDeepEqual(await statuses(other, 200), first);
  } finally {
    await same.close();
    await other.close();
  }

  // times still bounds it; probability 0 never applies, 1 always.
  up.reset();
  up.fault({ probability: 0.5, times: 3, status: 503 });
  const bounded = await statuses(up, 40);
  assert.equal(bounded.filter((s) => s === 503).length, 3);
  assert.deepEqual(up.faults, []);
  up.fault([
    { probability: 0, times: -1, status: 500 },
    { probability: 1, times: 2, status: 429 },
  ]);
  assert.deepEqual(await statuses(up, 3), [429, 429, 200]);
});

test("fault: provider matches a chat model's suffix and a provider route alike", HANG_GUARD, async () => {
  up.fault({ provider: "groq", status: 429, times: -1 });
  const chat = (model) => post("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] });
  assert.equal((await chat("meta-llama/Llama-3.1-8B-Instruct:groq")).status, 429);
  const other = await chat("meta-llama/Llama-3.1-8B-Instruct:together");
  assert.equal(other.status, 200);
  await other.arrayBuffer();
  assert.equal((await post("/groq/openai/v1/chat/completions", { model: "llama-3.1-8b-instant", messages: [{ role: "user", content: "hi" }] })).status, 429);
  assert.throws(() => up.fault({ provider: 3 }), { message: "fault.provider must be a provider name" });
});

test("fault: pathPrefix takes down one provider; times -1 over HTTP shows as -1", HANG_GUARD, async () => {
  const queued = await post("/__control/faults", { pathPrefix: "/nscale/", status: 503, times: -1 });
  assert.deepEqual(await queued.json(), { queued: 1 });
  assert.deepEqual(await (await fetch(`${up.url}/__control/faults`)).json(), [
    { times: -1, status: 503, headers: {}, delayMs: 0, drop: false, stall: false, pathPrefix: "/nscale/", remaining: -1 },
  ]);
  assert.equal(up.faults[0].times, Infinity);
  const images = { model: "black-forest-labs/FLUX.1-schnell", prompt: "a red fox" };
  for (let i = 0; i < 3; i++) {
    const down = await post("/nscale/v1/images/generations", images);
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { error: "Injected fault (status 503)" });
  }
  const ok = await post("/together/v1/images/generations", images);
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  assert.equal(up.faults[0].remaining, Infinity);

  // drop, and a prefix that matches the path as stripped of /hf-inference.
  up.reset();
  up.fault([
    { pathPrefix: "/models/acme/", drop: true, times: 2 },
    { path: `/models/${SST2}`, status: 500 },
  ]);
  await assert.rejects(post("/hf-inference/models/acme/model", { inputs: "x" }), TypeError);
  await assert.rejects(post("/models/acme/model", { inputs: "x" }), TypeError);
  assert.equal((await post("/hf-inference/models/acme/model", { inputs: "x" })).status, 200);
  const stripped = await post(`/hf-inference/models/${SST2}`, { inputs: "x" });
  assert.equal(stripped.status, 500);
  await stripped.arrayBuffer();
  // Hub requests take faults too.
  up.fault({ pathPrefix: "/api/models/", status: 502 });
  const hubDown = await hubGet(LLAMA);
  assert.equal(hubDown.status, 502);
  await hubDown.arrayBuffer();
});

test("fault: probability, pathPrefix and times are validated", () => {
  for (const [spec, message] of [
    [{ probability: 1.5 }, "fault.probability must be a number from 0 to 1"],
    [{ probability: "0.5" }, "fault.probability must be a number from 0 to 1"],
    [{ probability: Number.NaN }, "fault.probability must be a number from 0 to 1"],
    [{ pathPrefix: "nscale/" }, "fault.pathPrefix must be a path starting with /"],
    [{ times: 0 }, "fault.times must be a positive integer, or -1 / Infinity for unbounded"],
    [{ times: -2 }, "fault.times must be a positive integer, or -1 / Infinity for unbounded"],
    [{ times: 1.5 }, "fault.times must be a positive integer, or -1 / Infinity for unbounded"],
  ]) {
    assert.throws(() => up.fault(spec), { name: "TypeError", message }, JSON.stringify(spec));
  }
  assert.deepEqual(up.faults, []);
});
