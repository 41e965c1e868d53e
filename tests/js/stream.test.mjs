// Chat and streams of the packed package in Node, against the local upstream
// replaying recorded exchanges: chatCompletion, chatCompletionStream,
// textGenerationStream, errors inside streams, cancellation.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";

import { packageSuite } from "../support/package-suite.mjs";

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const MESSAGES = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "What is deep learning?" },
];

let hf;
let up;
let recordings;

packageSuite(async (suite) => {
  ({ hf, up } = suite);
  recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
});

const client = (extra = {}) => new hf.InferenceClient({ endpoint: up.url, chatEndpoint: up.url, ...extra });
const recorded = (id) => recordings.find((r) => r.id === id);

/** The JSON chunks of a recorded SSE body, without [DONE]. */
function recordedChunks(id) {
  return recorded(id)
    .response.body.text.split(/\n\n/)
    .map((event) => event.replace(/^data: ?/, "").trim())
    .filter((data) => data && data !== "[DONE]")
    .map((data) => JSON.parse(data));
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function settle(check) {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  return check();
}

test("chatCompletion replays the recorded answer as sent", async () => {
  const rec = recorded("hfhub_router_2025-04/test_chat_completion_no_stream__hf-inference__conversational#1");
  const answer = await client().chatCompletion({ model: LLAMA, stream: false, messages: MESSAGES });
  assert.deepEqual(answer, JSON.parse(rec.response.body.text));
  assert.equal(up.requests[0].path, "/chat/completions");
  assert.deepEqual(up.requests[0].json, { model: LLAMA, stream: false, messages: MESSAGES });
});

test("chatCompletionStream yields the recorded OpenAI chunks in order", async () => {
  const id = "hfhub_router_2025-04/test_chat_completion_with_stream__hf-inference__conversational#1";
  const chunks = await collect(client().chatCompletionStream({ model: LLAMA, max_tokens: 20, messages: MESSAGES }));
  assert.deepEqual(chunks, recordedChunks(id));
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("").startsWith("Deep learning"), true);
  assert.equal(up.requests[0].json.stream, true);
  assert.equal(up.requests[0].headers.accept, "text/event-stream");
  assert.equal(up.requests[0].finished, true);
});

test("textGenerationStream yields the recorded TGI chunks", async () => {
  const id = "hfhub_router_2025-04/TextGeneration_generate_stream_no_details#1";
  const params = { details: true, do_sample: false, max_new_tokens: 1, return_full_text: false, stop: [] };
  // The recorded TGI stream: today's form on a dedicated endpoint.
  const endpoint = [{ url: `${up.url}/models/google/flan-t5-xxl`, dedicated: true }];
  const chunks = await collect(hf.textGenerationStream("google/flan-t5-xxl", "test", params, { endpoint }));
  assert.deepEqual(chunks, recordedChunks(id));
  assert.deepEqual(chunks[0].details, { finish_reason: "length", generated_tokens: 1, seed: null });
});

test("an error inside a 200 stream rejects with its code and upstream's words", async () => {
  const tgi = new hf.InferenceClient({ endpoint: [{ url: `${up.url}/models/meta-llama/Llama-3.2-3B`, dedicated: true }] });
  const stream = tgi.textGenerationStream("meta-llama/Llama-3.2-3B", "Write a short story about a robot that becomes sentient and takes over the world.", { max_new_tokens: 10000 });
  await assert.rejects(collect(stream), (err) => {
    assert.ok(err instanceof hf.InferenceError);
    assert.equal(err.code, "VALIDATION");
    assert.equal(err.message, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 17 `inputs` tokens and 10000 `max_new_tokens`");
    assert.equal(err.model, "meta-llama/Llama-3.2-3B");
    return true;
  });
  assert.equal(up.requests.length, 1, "an error inside a started stream is not retried");
});

test("chunks before an in-stream error are delivered first", async () => {
  const events = [
    'data: {"token":{"id":1,"text":"a","logprob":-1,"special":false},"generated_text":null,"details":null}',
    'data:{"token":{"id":2,"text":"b","logprob":-1,"special":false},"generated_text":null,"details":null}',
    'data: {"error":{"message":"upstream overloaded","type":"server_error"}}',
  ];
  up.fault({ body: events.join("\r\n\r\n") + "\r\n\r\n", headers: { "content-type": "text/event-stream" } });
  const seen = [];
  const err = await (async () => {
    try {
      for await (const chunk of client().textGenerationStream("gpt2", "x")) seen.push(chunk.token.text);
    } catch (e) {
      return e;
    }
  })();
  assert.deepEqual(seen, ["a", "b"]);
  assert.deepEqual([err.code, err.message, String(err)], ["UPSTREAM_ERROR", "upstream overloaded", "InferenceError: upstream overloaded"]);
});

test("a completion stream reaches callers as TGI chunks", async () => {
  const chunks = await collect(client().textGenerationStream("gpt2", "Once upon a time", { max_new_tokens: 3 }));
  const sent = up.requests[0];
  assert.equal(sent.path, "/models/gpt2/v1/completions");
  assert.deepEqual(sent.json, { model: "gpt2", max_tokens: 3, prompt: "Once upon a time", stream: true });
  const replay = await fetch(`${up.url}/models/gpt2/v1/completions`, { method: "POST", body: sent.bodyText });
  const texts = (await replay.text())
    .split("\n\n")
    .map((e) => e.replace(/^data: ?/, ""))
    .filter((d) => d && d !== "[DONE]")
    .map((d) => JSON.parse(d).choices[0].text);
  assert.deepEqual(chunks.map((c) => c.token), texts.map((text) => ({ text, special: false })));
  assert.deepEqual(chunks.map((c) => c.index), texts.map((_, i) => i + 1));
  const last = chunks.at(-1);
  assert.equal(last.generated_text, texts.join(""));
  assert.deepEqual(last.details, { finish_reason: "length", generated_tokens: texts.length });
  assert.ok(chunks.slice(0, -1).every((c) => c.generated_text === null && c.details === null));
});

test("breaking out of the loop closes the upstream connection", async () => {
  up.fault({ streamIntervalMs: 100 });
  let n = 0;
  for await (const chunk of client().textGenerationStream("google/flan-t5-xxl", "a long answer")) {
    assert.equal(typeof chunk.token.text, "string");
    if (++n === 2) break;
  }
  assert.equal(n, 2);
  assert.ok(await settle(() => up.requests[0].closedEarly), "the upstream connection stayed open");
  assert.equal(up.requests[0].finished, false);
});

test("aborting the signal mid-stream rejects with ABORTED and closes the connection", async () => {
  up.fault({ streamIntervalMs: 100 });
  const controller = new AbortController();
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of client().chatCompletionStream({ model: LLAMA, messages: [{ role: "user", content: "count" }] }, { signal: controller.signal })) {
        if (++n === 2) controller.abort();
      }
    })(),
    (err) => err.code === "ABORTED",
  );
  assert.equal(n, 2);
  assert.ok(await settle(() => up.requests[0].closedEarly));
});

test("a stream is retried until it starts: 503 then the stream", async () => {
  up.fault({ status: 503, body: '{"error":"Model is currently loading","estimated_time":0.05}' });
  const infos = [];
  const chunks = await collect(client({ onAttempt: (i) => infos.push(i.code ?? i.status) }).chatCompletionStream({ model: LLAMA, messages: [{ role: "user", content: "hi" }] }));
  assert.ok(chunks.length >= 12);
  assert.deepEqual(infos, ["MODEL_LOADING", 200]);
});

test("a 2xx that is not an event stream is an error, not a silent end", async () => {
  up.fault({ body: '{"generated_text":"whole"}', headers: { "content-type": "application/json" } });
  await assert.rejects(collect(client().textGenerationStream("gpt2", "x")), (err) => err.code === "BAD_RESPONSE" && err.message === "expected an event stream, got application/json" && err.status === 200);
});

test("nothing is sent before the first next(), and bad requests reject it with no request", async () => {
  const stream = client().chatCompletionStream({ model: LLAMA, messages: [{ role: "user", content: "hi" }] });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(up.requests.length, 0);
  await stream.return();
  for (const [request, message] of [
    [{ messages: [{ role: "user", content: "x" }] }, "request.model: must be a model id string"],
    [{ model: LLAMA, messages: [] }, "request.messages: must be a non-empty array of messages"],
    ["hello", "request: must be an OpenAI chat request object {model, messages, ...}"],
  ]) {
    await assert.rejects(collect(client().chatCompletionStream(request)), (err) => err.code === "INVALID_INPUT" && err.message === message);
    await assert.rejects(client().chatCompletion(request), (err) => err.code === "INVALID_INPUT" && err.message === message);
  }
  await assert.rejects(client().chatCompletion({ model: LLAMA, messages: MESSAGES, stream: true }), (err) => err.message === "request.stream: is true: use chatCompletionStream for a stream");
  await assert.rejects(collect(hf.textGenerationStream("gpt2", "", undefined, { endpoint: up.url })), (err) => err.message === "prompt: must be a non-empty string");
  await assert.rejects(collect(hf.chatCompletionStream({ model: LLAMA, messages: MESSAGES }, { chatEndpoint: "nope" })), (err) => err.message === "chatEndpoint: must start with https:// or http://");
  assert.equal(up.requests.length, 0);
});

test("the router's model:provider suffix is sent as is", async () => {
  await client().chatCompletion({ model: `${LLAMA}:fireworks-ai`, messages: [{ role: "user", content: "hi" }] });
  assert.equal(up.requests[0].json.model, `${LLAMA}:fireworks-ai`);
});

test("a stream's bytes are decoded whole: a mark, characters and an invalid byte split between chunks", async () => {
  // Written chunk by chunk, each after a pause, so that the client reads
  // them apart (a pause is what makes that likely; should two reads merge,
  // the cuts they hold go untested, the others still are): the byte-order
  // mark and two characters cut in the middle, and a byte that is no UTF-8.
  const text = (s) => Buffer.from(s, "utf8");
  const chunks = [
    Buffer.from([0xef, 0xbb]),
    Buffer.concat([Buffer.from([0xbf]), text('data: {"choices":[{"delta":{"content":"caf'), Buffer.from([0xc3])]),
    Buffer.concat([Buffer.from([0xa9]), text(' '), Buffer.from([0xf0, 0x9f])]),
    Buffer.concat([Buffer.from([0x98, 0x80]), text(' '), Buffer.from([0x80]), text('"}}]}\n\n')]),
    text("data: [DONE]\n\n"),
  ];
  const server = createServer(async (req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const chunk of chunks) {
      res.write(chunk);
      await new Promise((r) => setTimeout(r, 15));
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const c = new hf.InferenceClient({ chatEndpoint: `http://127.0.0.1:${server.address().port}` });
    const got = await collect(c.chatCompletionStream({ model: LLAMA, messages: MESSAGES }));
    assert.deepEqual(got, [{ choices: [{ delta: { content: "caf\u00e9 \u{1F600} \uFFFD" } }] }]);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
