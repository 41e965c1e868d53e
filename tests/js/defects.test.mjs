// Defects of the previous release (the JavaScript client before the Rust
// rewrite), each pinned by a test of the packed package against the local
// upstream: how streams, embedded errors, byte-order marks, 402 answers and
// the proxy's `code` field are read. Every assertion is exact: code, message,
// status, model, request id, attempts, and how many requests reached upstream.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { packageSuite, rejection } from "../support/package-suite.mjs";

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const CREDITS =
  "You have exceeded your monthly included credits for Inference Providers. Subscribe to PRO to get 20x more monthly included credits.";

let hf;
let up;

packageSuite(async (suite) => {
  ({ hf, up } = suite);
});

// Retries on, with waits of a millisecond, so that a retried failure shows
// as several requests without slowing the tests.
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 };
const client = (extra = {}) =>
  new hf.InferenceClient({ endpoint: up.url, chatEndpoint: up.url, retry: FAST_RETRY, ...extra });

const tgiEvent = (id, text) =>
  `data: ${JSON.stringify({ token: { id, text, logprob: -0.5, special: false }, generated_text: null, details: null })}`;
const chatEvent = (content) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: LLAMA, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}`;
const sse = (events) => ({ body: events.join("\n\n") + "\n\n", headers: { "content-type": "text/event-stream" } });
const dataOf = (event) => JSON.parse(event.slice("data: ".length));

/** Every chunk of `stream`, and the error that ended it (or null). */
async function drain(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: null };
}

/** The fields of an InferenceError that the tests pin, all of them. */
function fields(err) {
  assert.ok(err instanceof hf.InferenceError, `not an InferenceError: ${err?.stack ?? err}`);
  const { code, message, status, model, requestId, attempts, retryAfterMs } = err;
  return { code, message, status, model, requestId, attempts, retryAfterMs };
}

describe("an empty data: event", () => {
  test("between TGI chunks is skipped, and the stream ends normally", async () => {
    const events = [tgiEvent(1, "Once"), "data:", tgiEvent(2, " upon"), "data:", tgiEvent(3, " a time")];
    up.fault(sse(events));
    const { chunks, error } = await drain(client().textGenerationStream("gpt2", "x"));
    assert.equal(error, null, `the stream ended with ${error?.code}: ${error?.message}`);
    assert.deepEqual(chunks, [events[0], events[2], events[4]].map(dataOf));
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].finished, true);
  });

  test("arriving on its own between chat chunks, before [DONE], is skipped too", async () => {
    // Paced: each event reaches the client in its own read.
    const events = [chatEvent("Hel"), "data:", chatEvent("lo"), "data:", "data: [DONE]"];
    up.fault({ ...sse(events), streamIntervalMs: 5 });
    const { chunks, error } = await drain(client().chatCompletionStream({ model: LLAMA, messages: [{ role: "user", content: "hi" }] }));
    assert.equal(error, null, `the stream ended with ${error?.code}: ${error?.message}`);
    assert.deepEqual(chunks, [events[0], events[2]].map(dataOf));
  });
});

describe("errors inside 200 answers", () => {
  test("a chat completion whose body is {error: {message, type: server_error}} rejects with upstream's message", async () => {
    up.fault({
      body: JSON.stringify({ error: { message: "The model is overloaded, try again later", type: "server_error" } }),
      headers: { "content-type": "application/json" },
    });
    const err = await rejection(client().chatCompletion({ model: LLAMA, messages: [{ role: "user", content: "hi" }] }));
    assert.deepEqual(fields(err), {
      code: "UPSTREAM_ERROR",
      message: "The model is overloaded, try again later",
      status: 200,
      model: LLAMA,
      requestId: "local-1",
      attempts: 1,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 1, "an answer that came is not sent again");
  });

  test("an error event after a chunk carries the answer's status, x-request-id, attempts and model", async () => {
    const events = [tgiEvent(1, "a"), 'data: {"error":"Input validation error: `max_new_tokens` must be <= 4096","error_type":"validation"}'];
    up.fault({ ...sse(events), headers: { "content-type": "text/event-stream", "x-request-id": "req-stream-7" } });
    const { chunks, error } = await drain(client().textGenerationStream("gpt2", "x", { max_new_tokens: 10000 }));
    assert.deepEqual(chunks, [dataOf(events[0])], "the chunk before the error is delivered");
    assert.deepEqual(fields(error), {
      code: "VALIDATION",
      message: "Input validation error: `max_new_tokens` must be <= 4096",
      status: 200,
      model: "gpt2",
      requestId: "req-stream-7",
      attempts: 1,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 1, "a stream that started is not retried");
  });

  test("an `event: error` whose data is plain text rejects with that text as UPSTREAM_ERROR", async () => {
    const events = [tgiEvent(1, "a"), "event: error\ndata: the model crashed while generating"];
    up.fault(sse(events));
    const { chunks, error } = await drain(client().textGenerationStream("gpt2", "x"));
    assert.deepEqual(chunks, [dataOf(events[0])]);
    assert.deepEqual(fields(error), {
      code: "UPSTREAM_ERROR",
      message: "the model crashed while generating",
      status: 200,
      model: "gpt2",
      requestId: "local-1",
      attempts: 1,
      retryAfterMs: undefined,
    });
  });
});

test("a 200 JSON answer that starts with a UTF-8 byte-order mark is read normally", async () => {
  const labels = [
    { label: "POSITIVE", score: 0.9998 },
    { label: "NEGATIVE", score: 0.0002 },
  ];
  const bom = { body: "\uFEFF" + JSON.stringify([labels]), headers: { "content-type": "application/json" } };
  // The upstream really sends EF BB BF first.
  up.fault(bom);
  const raw = Buffer.from(await (await fetch(`${up.url}/models/${SST2}`, { method: "POST", body: "{}" })).arrayBuffer());
  assert.deepEqual([...raw.subarray(0, 4)], [0xef, 0xbb, 0xbf, 0x5b]);
  up.reset();

  up.fault(bom);
  assert.deepEqual(await client().textClassification(SST2, "I love it"), labels);
  const completion = { id: "c1", object: "chat.completion", created: 1, model: LLAMA, choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }] };
  up.fault({ body: "\uFEFF" + JSON.stringify(completion), headers: { "content-type": "application/json" } });
  assert.deepEqual(await client().chatCompletion({ model: LLAMA, messages: [{ role: "user", content: "hi" }] }), completion);
  assert.equal(up.requests.length, 2);
});

test("a 402 (credits used up) is PAYMENT_REQUIRED with upstream's message, and is not retried", async () => {
  up.fault({ status: 402, body: JSON.stringify({ error: CREDITS }), times: 4 });
  const attempts = [];
  const err = await rejection(
    client({ retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 }, onAttempt: (i) => attempts.push([i.attempt, i.status, i.code, i.delayMs]) }).textClassification(SST2, "hi"),
  );
  assert.deepEqual(fields(err), {
    code: "PAYMENT_REQUIRED",
    message: CREDITS,
    status: 402,
    model: SST2,
    requestId: "local-1",
    attempts: 1,
    retryAfterMs: undefined,
  });
  assert.equal(up.requests.length, 1, "exactly one request upstream");
  assert.deepEqual(attempts, [[1, 402, "PAYMENT_REQUIRED", undefined]]);
});

describe("an error body's code is kept only with the status that code is answered with", () => {
  const budget = JSON.stringify({ error: "the daily budget cap would be passed", code: "BUDGET_EXCEEDED" });
  const forbidden = JSON.stringify({ error: "model not allowed", code: "FORBIDDEN" });

  test("500 with code BUDGET_EXCEEDED is UPSTREAM_ERROR, and is retried", async () => {
    up.fault({ status: 500, body: budget, times: 3 });
    const err = await rejection(client().textClassification(SST2, "hi"));
    assert.deepEqual(fields(err), {
      code: "UPSTREAM_ERROR",
      message: "the daily budget cap would be passed",
      status: 500,
      model: SST2,
      requestId: "local-3",
      attempts: 3,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 3);
  });

  test("402 with code BUDGET_EXCEEDED is BUDGET_EXCEEDED, and is not retried", async () => {
    up.fault({ status: 402, body: budget, times: 3 });
    const err = await rejection(client().textClassification(SST2, "hi"));
    assert.deepEqual(fields(err), {
      code: "BUDGET_EXCEEDED",
      message: "the daily budget cap would be passed",
      status: 402,
      model: SST2,
      requestId: "local-1",
      attempts: 1,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 1);
  });

  test("403 with code FORBIDDEN stays FORBIDDEN", async () => {
    up.fault({ status: 403, body: forbidden, times: 3 });
    const err = await rejection(client().textClassification(SST2, "hi"));
    assert.deepEqual(fields(err), {
      code: "FORBIDDEN",
      message: "model not allowed",
      status: 403,
      model: SST2,
      requestId: "local-1",
      attempts: 1,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 1);
  });

  test("400 with code FORBIDDEN is BAD_REQUEST", async () => {
    up.fault({ status: 400, body: forbidden, times: 3 });
    const err = await rejection(client().textClassification(SST2, "hi"));
    assert.deepEqual(fields(err), {
      code: "BAD_REQUEST",
      message: "model not allowed",
      status: 400,
      model: SST2,
      requestId: "local-1",
      attempts: 1,
      retryAfterMs: undefined,
    });
    assert.equal(up.requests.length, 1);
  });
});

describe("a token echoed by upstream", () => {
  // Found in review: only the text of non-2xx answers was cleared of the
  // token; errors inside a 200 answer or a stream kept it.
  const TOKEN = "hf_echoedTokenNeverShown42";
  const ENDPOINT_TOKEN = "hf_endpointTokenNeverShown7";
  const tokened = () =>
    new hf.InferenceClient({
      token: TOKEN,
      endpoint: [{ url: up.url, token: ENDPOINT_TOKEN }],
      chatEndpoint: up.url,
      retry: false,
    });
  const echo = `bad credentials: Bearer ${TOKEN} and ${ENDPOINT_TOKEN}`;
  const redacted = "bad credentials: Bearer [redacted] and [redacted]";

  test("is redacted from an error inside a 200 answer", async () => {
    up.fault({ body: JSON.stringify({ error: echo }), headers: { "content-type": "application/json" } });
    const err = await rejection(tokened().textClassification(SST2, "x"));
    assert.deepEqual([err.code, err.message, err.status], ["UPSTREAM_ERROR", redacted, 200]);
  });

  test("is redacted from an error inside a stream, and from a 401", async () => {
    up.fault(sse([tgiEvent(1, "a"), `data: ${JSON.stringify({ error: echo })}`]));
    const { chunks, error } = await drain(tokened().textGenerationStream("gpt2", "x"));
    assert.equal(chunks.length, 1);
    assert.deepEqual([error.code, error.message], ["UPSTREAM_ERROR", redacted]);
    up.fault({ status: 401, body: JSON.stringify({ error: echo }) });
    const unauthorized = await rejection(tokened().textGeneration("gpt2", "x"));
    assert.deepEqual([unauthorized.code, unauthorized.message], ["UNAUTHORIZED", redacted]);
  });

  test("is redacted whole when the message is cut inside it", async () => {
    // 1000 characters are kept: cut first, `hf_echoedTok…` would remain.
    const long = `${"x".repeat(990)}${TOKEN} tail`;
    up.fault({ body: JSON.stringify({ error: long }), headers: { "content-type": "application/json" } });
    const err = await rejection(tokened().textClassification(SST2, "x"));
    assert.equal(err.message, `${"x".repeat(990)}[redacted]…`);
    up.fault({ status: 400, body: JSON.stringify({ error: long }) });
    const refused = await rejection(tokened().textClassification(SST2, "x"));
    assert.deepEqual([refused.code, refused.message], ["BAD_REQUEST", `${"x".repeat(990)}[redacted]…`]);
  });

  test("is redacted when it came as a header of the client's or of the call's", async () => {
    const key = "proxyKeyNeverShown9";
    const headered = new hf.InferenceClient({
      endpoint: up.url,
      retry: false,
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    up.fault({ status: 401, body: JSON.stringify({ error: `bad: ${TOKEN}, ${key}` }) });
    const err = await rejection(
      headered.textClassification(SST2, "x", undefined, { headers: { "x-api-key": key } }),
    );
    assert.deepEqual([err.code, err.message], ["UNAUTHORIZED", "bad: [redacted], [redacted]"]);
  });
});

describe("a call that gives up without an answer", () => {
  test("has no status, even when an earlier attempt was answered", async () => {
    // Found in review: the last status seen was kept, so a timeout after a
    // 503 said 503 (and a proxy answered its TIMEOUT with a 503).
    up.fault({ status: 503, body: JSON.stringify({ error: "overloaded" }) });
    up.fault({ stall: true });
    const retry = { ...FAST_RETRY, maxAttempts: 2 };
    const err = await rejection(client({ timeoutMs: 100, retry }).textGeneration("gpt2", "x"));
    assert.deepEqual(fields(err), {
      code: "TIMEOUT",
      message: `no answer from ${up.url}/models/gpt2/v1/completions within 100 ms`,
      status: undefined,
      model: "gpt2",
      requestId: undefined,
      attempts: 2,
      retryAfterMs: undefined,
    });
  });
});

describe("return() on a stream", () => {
  test("while its call is still opening ends the pending next() as done, not ABORTED", async () => {
    // Found in review: a cancel during the opening rejected the pending
    // next() with ABORTED; during reading it ended it as done.
    up.fault({ delayMs: 300 });
    const stream = client().textGenerationStream("gpt2", "x");
    const pending = stream.next();
    while (up.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await stream.return(), { done: true, value: undefined });
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.deepEqual(await stream.next(), { done: true, value: undefined });
    assert.equal(up.requests.length, 1);
  });
});
