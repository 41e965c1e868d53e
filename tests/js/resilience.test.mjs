// Retries, timeouts, cancellation and failover of the packed package in Node,
// scripted through the local upstream's fault injection.

import { test } from "node:test";
import assert from "node:assert/strict";

import { startUpstream } from "../upstream/upstream.mjs";
import { packageSuite, rejection } from "../support/package-suite.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";

let hf;
let up;
let deadUrl;

packageSuite(async (suite) => {
  ({ hf, up } = suite);
  const dead = await startUpstream({ port: 0 });
  deadUrl = dead.url;
  await dead.close(); // nothing listens there any more: connections are refused
});

/** A client whose attempts are collected in `infos`. */
function observed(options = {}) {
  const infos = [];
  const client = new hf.InferenceClient({ endpoint: up.url, onAttempt: (info) => infos.push(info), ...options });
  return { client, infos };
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("429 with Retry-After: 1 then 200 succeeds after at least 1 s", async () => {
  up.fault({ status: 429, body: '{"error":"Rate limit reached"}', headers: { "retry-after": "1" } });
  const { client, infos } = observed({ retry: { baseDelayMs: 10 } });
  const started = performance.now();
  const result = await client.textClassification(SST2, "I like you", {});
  const elapsed = performance.now() - started;
  assert.equal(result[0].label, "POSITIVE");
  assert.ok(elapsed >= 1000, `succeeded after ${elapsed} ms`);
  assert.equal(up.requests.length, 2);
  assert.deepEqual(
    infos.map(({ endpoint, attempt, status, code, delayMs }) => ({ endpoint, attempt, status, code, delayMs })),
    [
      { endpoint: up.url, attempt: 1, status: 429, code: "RATE_LIMITED", delayMs: 1000 },
      { endpoint: up.url, attempt: 2, status: 200, code: undefined, delayMs: undefined },
    ],
  );
  // The recorded answer's x-compute-time is "0.016" seconds.
  assert.equal(infos[1].computeTimeMs, 16);
  assert.equal(infos[1].requestId, "Root=1-67dd50b2-55f457c81f2eace5493d9489;a78504fc-e13b-4ec4-adaa-7769b6c3fb11");
  assert.ok(infos.every((i) => typeof i.durationMs === "number" && i.durationMs >= 0));
});

test("a proxy's x-usage-cost reaches onAttempt as costUsd; anything but a USD amount is ignored", async () => {
  up.fault([
    { status: 503, body: '{"error":"busy"}', headers: { "x-usage-cost": "0.0004" } },
    { headers: { "x-usage-cost": "0.00125" } },
  ]);
  const { client, infos } = observed({ retry: { baseDelayMs: 1 } });
  await client.textClassification(SST2, "I like you");
  assert.deepEqual(infos.map((i) => i.costUsd), [0.0004, 0.00125]);
  for (const odd of ["free", "-1", ""]) {
    up.reset();
    up.fault({ headers: { "x-usage-cost": odd } });
    const seen = observed({});
    await seen.client.textClassification(SST2, "I like you");
    assert.equal(seen.infos[0].costUsd, undefined, JSON.stringify(odd));
  }
});

test("503 loading then 200 succeeds, waiting at least estimated_time", async () => {
  up.fault({ status: 503, body: '{"error":"Model gpt2 is currently loading","estimated_time":0.3}' });
  const { client, infos } = observed({ retry: { baseDelayMs: 1 } });
  const result = await client.textGeneration("gpt2", "hello");
  assert.equal(typeof result.generated_text, "string");
  assert.equal(up.requests.length, 2);
  assert.equal(infos[0].code, "MODEL_LOADING");
  assert.ok(infos[0].delayMs >= 300 && infos[0].delayMs <= 10_000, `delay ${infos[0].delayMs}`);
});

test("an endpoint refusing connections fails over to the next; its breaker then keeps it out", async () => {
  const infos = [];
  const client = new hf.InferenceClient({
    endpoint: [
      { url: deadUrl, name: "A", weight: 1e12 },
      { url: up.url, name: "B", weight: 1 },
    ],
    retry: { baseDelayMs: 1 },
    onAttempt: (info) => infos.push(info),
  });
  for (let call = 0; call < 5; call++) {
    const result = await client.zeroShot("facebook/bart-large-mnli", `call ${call}`, ["a", "b"]);
    assert.equal(result.length, 2);
  }
  const trail = infos.map((i) => `${i.endpoint}:${i.code ?? i.status}`);
  assert.deepEqual(trail, [
    "A:NETWORK", "B:200",
    "A:NETWORK", "B:200",
    "A:NETWORK", "B:200", // three failures in a row open A's breaker
    "B:200",
    "B:200",
  ]);
  assert.equal(up.requests.length, 5);
});

test("a stalled upstream times out, then the retry succeeds", async () => {
  up.fault({ stall: true });
  const { client, infos } = observed({ timeoutMs: 300, retry: { baseDelayMs: 1 } });
  const result = await client.textClassification(SST2, "fine");
  assert.equal(result.length, 2);
  assert.deepEqual(infos.map((i) => i.code ?? i.status), ["TIMEOUT", 200]);
  assert.ok(infos[0].durationMs >= 290, `first attempt lasted ${infos[0].durationMs} ms`);
  assert.equal(up.requests.length, 2);
});

test("an abort during the backoff sleep rejects with ABORTED at once, not after the 5 s wait, and leaves no timer", async () => {
  const before = timers();
  up.fault({ status: 429, headers: { "retry-after": "5" }, body: "{}" });
  const controller = new AbortController();
  let abortedAt;
  let delayMs;
  const { client } = observed({
    onAttempt: (info) => {
      // Checked after the call: a throw in here would be swallowed by the client.
      delayMs = info.delayMs;
      setTimeout(() => {
        abortedAt = performance.now();
        controller.abort();
      }, 50);
    },
  });
  const err = await rejection(client.textGeneration("gpt2", "hi", undefined, { signal: controller.signal }));
  const took = performance.now() - abortedAt;
  assert.equal(delayMs, 5000, "the wait Retry-After asked for");
  assert.equal(err.code, "ABORTED");
  assert.equal(err.attempts, 1);
  assert.equal(err.status, 429);
  // Far under the 5 s wait, with room for a loaded machine.
  assert.ok(took < 1000, `rejected ${took} ms after the abort`);
  assert.equal(up.requests.length, 1);
  assert.equal(timers(), before, "a timer was left behind");
});

for (const status of [400, 401, 404]) {
  test(`${status} is not retried: exactly one request upstream`, async () => {
    up.fault({ status, body: '{"error":"no"}', times: 5 });
    const { client, infos } = observed();
    const err = await rejection(client.textGeneration("gpt2", "hi"));
    assert.equal(err.status, status);
    assert.equal(err.attempts, 1);
    assert.equal(up.requests.length, 1);
    assert.equal(infos.length, 1);
    assert.equal(infos[0].delayMs, undefined);
  });
}

test("retries stop at maxAttempts with the last status", async () => {
  up.fault({ status: 500, body: '{"error":"boom"}', times: 5 });
  const { client, infos } = observed({ retry: { maxAttempts: 3, baseDelayMs: 5 } });
  const err = await rejection(client.textGeneration("gpt2", "hi"));
  assert.deepEqual([err.code, err.status, err.attempts, err.message], ["UPSTREAM_ERROR", 500, 3, "boom"]);
  assert.equal(up.requests.length, 3);
  assert.deepEqual(infos.map((i) => i.attempt), [1, 2, 3]);
  assert.ok(infos[0].delayMs <= 5 && infos[1].delayMs <= 10 && infos[2].delayMs === undefined);
});

test("a wait that would pass the deadline is not taken", async () => {
  up.fault({ status: 429, headers: { "retry-after": "2" }, body: "{}", times: 2 });
  const { client } = observed({ retry: { deadlineMs: 1000 } });
  const started = performance.now();
  const err = await rejection(client.textGeneration("gpt2", "hi"));
  assert.deepEqual([err.code, err.attempts, err.retryAfterMs], ["RATE_LIMITED", 1, 2000]);
  assert.ok(performance.now() - started < 1000);
  assert.equal(up.requests.length, 1);
});

test("the deadline also bounds a single slow attempt", async () => {
  up.fault({ stall: true, times: 3 });
  const { client } = observed({ retry: { deadlineMs: 400, baseDelayMs: 1 } });
  const started = performance.now();
  const err = await rejection(client.textGeneration("gpt2", "hi"));
  const elapsed = performance.now() - started;
  assert.equal(err.code, "TIMEOUT");
  assert.ok(elapsed < 1500, `gave up after ${elapsed} ms`);
});

test("retry options are per client and per call; retry: false makes one attempt", async () => {
  up.fault({ status: 502, body: "bad gateway", times: 2 });
  const { client } = observed({ retry: false });
  const err = await rejection(client.textGeneration("gpt2", "hi"));
  assert.deepEqual([err.code, err.attempts], ["UPSTREAM_ERROR", 1]);
  const ok = await client.textGeneration("gpt2", "hi", undefined, { retry: { maxAttempts: 2, baseDelayMs: 1 } });
  assert.equal(typeof ok.generated_text, "string");
  assert.equal(up.requests.length, 3);
});

test("a dropped connection is retried", async () => {
  up.fault({ drop: true });
  const { client, infos } = observed({ retry: { baseDelayMs: 1 } });
  await client.textGeneration("gpt2", "hi");
  assert.deepEqual(infos.map((i) => i.code ?? i.status), ["NETWORK", 200]);
});

test("an onAttempt that throws does not change the outcome", async () => {
  let calls = 0;
  const onAttempt = () => {
    calls++;
    throw new Error("observer bug");
  };
  const client = new hf.InferenceClient({ endpoint: up.url, retry: { baseDelayMs: 0 }, onAttempt });
  up.fault({ status: 503, body: "{}" });
  assert.equal((await client.textGeneration("gpt2", "hi")).generated_text.length > 0, true);
  assert.equal(calls, 2, "the observer saw the failed attempt and the retry");
  assert.equal(up.requests.length, 2);
});

test("bad retry options are refused by name", async () => {
  for (const [retry, message] of [
    [{ maxAttempts: 0 }, "options.retry.maxAttempts: must be a whole number from 1 to 100"],
    [{ maxAttempt: 3 }, "options.retry.maxAttempt: is not an option (expected maxAttempts, baseDelayMs, maxDelayMs or deadlineMs)"],
    [{ baseDelayMs: -1 }, "options.retry.baseDelayMs: must be a number of milliseconds"],
    [true, "options.retry: must be an object"],
  ]) {
    assert.throws(() => new hf.InferenceClient({ retry }), (e) => e.code === "INVALID_INPUT" && e.message === message);
  }
  assert.throws(() => new hf.InferenceClient({ onAttempt: 3 }), (e) => e.message === "options.onAttempt: must be a function");
  assert.throws(
    () => new hf.InferenceClient({ endpoint: [{ url: up.url, weight: 0 }] }),
    (e) => e.message === "endpoint[0].weight: must be a positive number",
  );
});
