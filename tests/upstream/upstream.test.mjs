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
import { fileURLToPath } from "node:url";

import { startUpstream } from "./upstream.mjs";

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
  const child = spawn(process.execPath, [main, "--port", "0", "--host", "127.0.0.1"], {
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
