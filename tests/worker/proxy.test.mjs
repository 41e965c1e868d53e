// The proxy worker in real workerd (Miniflare) against the local upstream:
// every refusal, the token rules, parity with direct calls, the rate limit,
// the cache, retries, logs. Needs build/worker (make build-worker) and the
// packed package (HF_PKG_TARBALL) for the parity test.

import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { readFile } from "node:fs/promises";

import { startUpstream } from "../upstream/upstream.mjs";
import { startProxy } from "../support/proxy.mjs";
import { installPackedPackage } from "../support/installed-package.mjs";

const TOKEN = "hf_proxyTokenNeverLeaks9f8e7d6c5b";
const CLIENT_SECRET = "Bearer client-side-credential-123";
const MNLI = "facebook/bart-large-mnli";
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const VIT = "google/vit-base-patch16-224";
const APP_ORIGIN = "https://app.example";

let up;
let hf;
let cleanupPackage;
const proxies = [];
/** Every response the suite received from any proxy: status, headers, body. */
const transcript = [];

async function proxyWith(vars, options = {}) {
  const proxy = await startProxy({
    vars: { HF_TOKEN: TOKEN, UPSTREAMS: up.url, CHAT_UPSTREAMS: up.url, ...vars },
    ...options,
  });
  proxies.push(proxy);
  return proxy;
}

const BASE = {
  ALLOWED_MODELS: `gpt2,openai-community/gpt2,${SST2},${VIT},facebook/*,meta-llama/*,google/flan-t5-xxl`,
  ALLOWED_ORIGINS: APP_ORIGIN,
  CACHE_MODELS: MNLI,
  MAX_BODY_BYTES: "300000",
};

/** A fetch to a proxy whose whole answer is kept for the leak check. */
async function call(proxy, path, init = {}) {
  const response = await fetch(`${proxy.url}${path}`, { method: "POST", ...init });
  const text = await response.text();
  const headers = Object.fromEntries(response.headers);
  transcript.push({ status: response.status, headers, text });
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers, text, json };
}

/** A request with the path sent exactly as written (fetch would normalise it). */
function rawCall(proxy, path, body = "{}") {
  const { hostname, port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: "POST", agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        transcript.push({ status: res.statusCode, headers: res.headers, text });
        resolve({ status: res.statusCode, json: JSON.parse(text) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const json = (value) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

let main;

before(async () => {
  up = await startUpstream({ port: 0 });
  main = await proxyWith(BASE);
});

after(async () => {
  // The token never leaks: not in any answer, not in any log line.
  const logs = proxies.flatMap((p) => p.logs);
  for (const proxy of proxies) await proxy.close();
  await up?.close();
  await cleanupPackage?.();
  const everything = JSON.stringify(transcript) + logs.join("\n");
  assert.ok(transcript.length > 50, `the leak check saw only ${transcript.length} answers`);
  assert.ok(!everything.includes(TOKEN), "the token appeared in an answer or a log line");
  assert.ok(!everything.includes("proxyTokenNeverLeaks"), "part of the token appeared");
});

beforeEach(() => up.reset());

/** Asserts a JSON refusal and that nothing reached the upstream. */
function assertRefused(answer, status, code) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.json?.code, code);
  assert.equal(typeof answer.json.error, "string");
  assert.ok(answer.json.error.length > 0);
  assert.equal(up.requests.length, 0, "a refused request reached the upstream");
}

describe("refusals: nothing reaches upstream", () => {
  test("a model outside ALLOWED_MODELS is 403 FORBIDDEN", async () => {
    const answer = await call(main, "/models/mistralai/Mistral-7B-Instruct-v0.2", json({ inputs: "hi" }));
    assertRefused(answer, 403, "FORBIDDEN");
    assert.equal(answer.json.error, "model mistralai/Mistral-7B-Instruct-v0.2 is not allowed by this proxy (ALLOWED_MODELS)");
  });

  test("google/* would allow google models, but this list names one: others are refused", async () => {
    assertRefused(await call(main, "/models/google/gemma-2b", json({ inputs: "hi" })), 403, "FORBIDDEN");
  });

  test("a browser request from a foreign origin is 403, preflight included", async () => {
    const answer = await call(main, "/models/gpt2", { ...json({ inputs: "hi" }), headers: { "content-type": "application/json", origin: "https://evil.example" } });
    assertRefused(answer, 403, "FORBIDDEN");
    assert.equal(answer.json.error, "origin https://evil.example may not call this proxy (add it to ALLOWED_ORIGINS)");
    assert.equal(answer.headers["access-control-allow-origin"], undefined);
    const preflight = await call(main, "/models/gpt2", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    assertRefused(preflight, 403, "FORBIDDEN");
  });

  test("a body over MAX_BODY_BYTES is 413, declared or streamed", async () => {
    const big = JSON.stringify({ inputs: "x".repeat(350_000) });
    assertRefused(await call(main, "/models/gpt2", { headers: { "content-type": "application/json" }, body: big }), 413, "PAYLOAD_TOO_LARGE");
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 35; i++) controller.enqueue(new TextEncoder().encode("y".repeat(10_000)));
        controller.close();
      },
    });
    const chunked = await call(main, "/models/gpt2", { body: stream, duplex: "half", headers: { "content-type": "application/json" } });
    assertRefused(chunked, 413, "PAYLOAD_TOO_LARGE");
  });

  for (const [name, path] of [
    ["an encoded slash", "/models/google%2Fvit-base-patch16-224"],
    ["an encoded dot segment", "/models/google/%2e%2e"],
    ["an empty segment", "/models/google//vit"],
    ["more than one slash", "/models/a/b/c"],
    ["a control character", "/models/gpt%002"],
    ["an id over 96 characters", `/models/${"a".repeat(97)}`],
    ["a space", "/models/gpt%202"],
  ]) {
    test(`a model id with ${name} is 400 INVALID_INPUT`, async () => {
      assertRefused(await rawCall(main, path), 400, "INVALID_INPUT");
    });
  }

  test("dot segments are folded by URL normalisation before the worker: never forwarded as such", async () => {
    // `/models/x/../gpt2` arrives as `/models/gpt2`; `/models/..` as `/`.
    const folded = await rawCall(main, "/models/..", "{}");
    assertRefused(folded, 404, "NOT_FOUND");
  });

  test("an unknown path is 404 and a wrong method 405", async () => {
    assertRefused(await call(main, "/admin", json({})), 404, "NOT_FOUND");
    assertRefused(await call(main, "/models/gpt2", { method: "GET" }), 405, "METHOD_NOT_ALLOWED");
    assertRefused(await call(main, "/healthz", json({})), 405, "METHOD_NOT_ALLOWED");
  });

  test("with CLIENT_KEYS, a request without a listed x-api-key is 401", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: "key-one, key-two" });
    assertRefused(await call(keyed, "/models/gpt2", json({ inputs: "hi" })), 401, "UNAUTHORIZED");
    const wrong = await call(keyed, "/models/gpt2", { ...json({ inputs: "hi" }), headers: { "content-type": "application/json", "x-api-key": "key-three" } });
    assertRefused(wrong, 401, "UNAUTHORIZED");
    const right = await call(keyed, "/models/gpt2", { ...json({ inputs: "hi" }), headers: { "content-type": "application/json", "x-api-key": "key-two" } });
    assert.equal(right.status, 200);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].headers["x-api-key"], undefined, "the client key is not forwarded");
  });

  for (const [name, vars, message] of [
    ["a missing HF_TOKEN", { HF_TOKEN: "" }, "HF_TOKEN is not set: run `wrangler secret put HF_TOKEN`"],
    ["a missing ALLOWED_MODELS", { ALLOWED_MODELS: "" }, 'ALLOWED_MODELS is not set: list the models this proxy serves, e.g. "google/*,gpt2"'],
    ["a malformed MAX_BODY_BYTES", { MAX_BODY_BYTES: "10MB" }, 'MAX_BODY_BYTES must be a whole number from 1 to 104857600 (it is "10MB")'],
    ["a malformed UPSTREAMS", { UPSTREAMS: "[{\"url\": 5}]" }, "UPSTREAMS[0].url must be a string"],
    ["a misspelt UPSTREAMS member", { UPSTREAMS: `[{"url": "https://a.example", "tokenvar": "OTHER"}]` }, 'UPSTREAMS[0] has an unknown member "tokenvar" (known: url, weight, name, tokenVar)'],
  ]) {
    test(`${name} is 500 CONFIG naming the variable`, async () => {
      const broken = await proxyWith({ ...BASE, ...vars });
      const answer = await call(broken, "/models/gpt2", json({ inputs: "hi" }));
      assertRefused(answer, 500, "CONFIG");
      assert.equal(answer.json.error, message);
    });
  }
});

describe("settings wrangler binds as JSON values", () => {
  // wrangler binds a [vars] string as a string and any other TOML value as
  // its JSON value (`RATE_LIMIT_PER_MINUTE = 2` arrives as the number 2);
  // Miniflare's bindings do the same.
  test("a number setting written as a number is read by its text, not dropped for the default", async () => {
    const numeric = await proxyWith({ ...BASE, RATE_LIMIT_PER_MINUTE: 2, UPSTREAM_TIMEOUT_MS: 5000, MAX_BODY_BYTES: 300000 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(numeric, "/models/gpt2", json({ inputs: `n ${i}` }))).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal(up.requests.length, 2);
  });

  for (const [name, vars, message] of [
    ["a fractional number", { MAX_BODY_BYTES: 10.5 }, "MAX_BODY_BYTES must be a whole number from 1 to 104857600 (it is 10.5)"],
    ["a boolean number setting", { RATE_LIMIT_PER_MINUTE: true }, "RATE_LIMIT_PER_MINUTE must be a whole number from 1 to 1000000 (it is a boolean)"],
    ["a list for a string setting", { ALLOWED_MODELS: ["gpt2"] }, "ALLOWED_MODELS must be a string (it is an array)"],
    ["a table for UPSTREAMS", { UPSTREAMS: { url: "https://a.example" } }, "UPSTREAMS must be a string (it is an object)"],
    ["a number for a string setting", { BILL_TO: 42 }, "BILL_TO must be a string (it is a number)"],
  ]) {
    test(`${name} is 500 CONFIG naming the variable`, async () => {
      const broken = await proxyWith({ ...BASE, ...vars });
      const answer = await call(broken, "/models/gpt2", json({ inputs: "hi" }));
      assertRefused(answer, 500, "CONFIG");
      assert.equal(answer.json.error, message);
    });
  }
});

describe("forwarding", () => {
  test("the upstream gets the proxy's token and only content-type and accept from the client", async () => {
    const billed = await proxyWith({ ...BASE, BILL_TO: "acme-org" });
    const answer = await call(billed, "/models/gpt2", {
      body: JSON.stringify({ inputs: "hello" }),
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: CLIENT_SECRET,
        cookie: "session=abc",
        "x-hf-bill-to": "someone-else",
        "x-custom": "1",
      },
    });
    assert.equal(answer.status, 200);
    const sent = up.requests[0].headers;
    assert.equal(sent.authorization, `Bearer ${TOKEN}`);
    assert.equal(sent["content-type"], "application/json");
    assert.equal(sent.accept, "application/json");
    assert.equal(sent["x-hf-bill-to"], "acme-org");
    for (const name of ["cookie", "x-custom", "origin"]) assert.equal(sent[name], undefined, name);
    assert.ok(!JSON.stringify(up.requests).includes("client-side-credential"));
  });

  test("answers keep upstream's status, body and useful headers", async () => {
    const answer = await call(main, `/models/${SST2}`, json({ inputs: "I like you", parameters: {} }));
    const recordings = JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8"));
    const recorded = recordings.find((r) => r.id === "hfhub_router_2025-04/test_text_classification__hf-inference__text-classification#1");
    assert.equal(answer.status, 200);
    assert.equal(answer.text, recorded.response.body.text);
    assert.equal(answer.headers["x-compute-time"], "0.016");
    assert.equal(answer.headers["x-request-id"], recorded.response.headers["x-request-id"]);
    assert.equal(answer.headers["x-cache"], undefined, "not a cached model");
  });

  test("an allowed origin gets CORS headers; the worker's own origin too", async () => {
    const answer = await call(main, "/models/gpt2", { ...json({ inputs: "hi" }), headers: { "content-type": "application/json", origin: APP_ORIGIN } });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.match(answer.headers["access-control-expose-headers"], /x-compute-time/);
    const own = await call(main, "/models/gpt2", { ...json({ inputs: "hi" }), headers: { "content-type": "application/json", origin: main.url } });
    assert.equal(own.status, 200);
    const preflight = await call(main, "/models/gpt2", { method: "OPTIONS", headers: { origin: APP_ORIGIN, "access-control-request-method": "POST" } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(preflight.headers["access-control-allow-methods"], "POST, GET, OPTIONS");
    assert.equal(preflight.headers["access-control-allow-headers"], "content-type, accept, x-api-key");
  });

  test("upstream errors come back with their status and words", async () => {
    up.fault({ status: 400, body: '{"error":"The following `model_kwargs` are not used by the model: [\'watermark\']"}' });
    const failed = await call(main, "/models/gpt2", json({ inputs: "hi", parameters: { watermark: true } }));
    assert.equal(failed.status, 400);
    assert.equal(failed.json.error, "The following `model_kwargs` are not used by the model: ['watermark']");
  });

  test("an upstream error that echoes the token comes back with it redacted", async () => {
    up.fault({ status: 401, body: JSON.stringify({ error: `rejected Authorization: Bearer ${TOKEN}` }) });
    const failed = await call(main, "/models/gpt2", json({ inputs: "hi" }));
    assert.equal(failed.status, 401);
    assert.equal(failed.json.error, "rejected Authorization: Bearer [redacted]");
  });

  test("upstream 503 then 200: the caller gets the 200", async () => {
    up.fault({ status: 503, body: '{"error":"Model gpt2 is currently loading","estimated_time":0.2}' });
    const answer = await call(main, "/models/gpt2", json({ inputs: "hello" }));
    assert.equal(answer.status, 200);
    assert.ok(Array.isArray(answer.json));
    assert.equal(up.requests.length, 2);
  });

  test("an upstream that never answers gives 504 TIMEOUT after UPSTREAM_TIMEOUT_MS per attempt", async () => {
    const impatient = await proxyWith({ ...BASE, UPSTREAM_TIMEOUT_MS: "300" });
    up.fault({ stall: true, times: 3 });
    const answer = await call(impatient, "/models/gpt2", json({ inputs: "hello" }));
    assert.equal(answer.status, 504);
    assert.equal(answer.json.code, "TIMEOUT");
    assert.equal(up.requests.length, 3);
  });

  test("a timeout after an upstream error answer is 504 TIMEOUT, not the earlier status", async () => {
    const impatient = await proxyWith({ ...BASE, UPSTREAM_TIMEOUT_MS: "300" });
    up.fault({ status: 503, body: '{"error":"Model gpt2 is currently loading","estimated_time":0.2}' });
    up.fault({ stall: true, times: 2 });
    const before = impatient.logs.length;
    const answer = await call(impatient, "/models/gpt2", json({ inputs: "hello" }));
    assert.equal(answer.status, 504);
    assert.deepEqual(answer.json, { error: `no answer from ${up.url}/models/gpt2 within 300 ms`, code: "TIMEOUT" });
    assert.equal(answer.headers["content-type"], "application/json");
    assert.equal(answer.headers["retry-after"], undefined);
    assert.equal(up.requests.length, 3);
    await new Promise((r) => setTimeout(r, 100));
    const [line] = impatient.logs.slice(before).map((l) => JSON.parse(l));
    assert.deepEqual([line.status, line.code, line.attempts, line.upstream], [504, "TIMEOUT", 3, up.url]);
  });

  test("a dropped connection after an upstream error answer is 502 NETWORK, not the earlier status", async () => {
    up.fault({ status: 503, body: '{"error":"Model gpt2 is currently loading","estimated_time":0.2}' });
    up.fault({ drop: true, times: 2 });
    const answer = await call(main, "/models/gpt2", json({ inputs: "hello" }));
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.json, { error: `could not reach ${up.url}/models/gpt2: Network connection lost.`, code: "NETWORK" });
    assert.equal(answer.headers["content-type"], "application/json");
    assert.equal(up.requests.length, 3);
  });

  test("GET /healthz", async () => {
    const answer = await call(main, "/healthz", { method: "GET" });
    const { version } = JSON.parse(await readFile(new URL("../../pkg-template/package.json", import.meta.url), "utf8"));
    assert.deepEqual([answer.status, answer.json], [200, { ok: true, version }]);
  });
});

describe("rate limit", () => {
  const burst = async (proxy, headers = {}) => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        call(proxy, "/models/gpt2", { headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ inputs: `burst ${i}` }) }),
      ),
    );
    return answers;
  };

  test("in-isolate bucket: a burst of 100 with a limit of 20 forwards 20; the rest get 429 with Retry-After", async () => {
    const limited = await proxyWith({ ...BASE, RATE_LIMIT_PER_MINUTE: "20" });
    const answers = await burst(limited);
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(ok.length, 20);
    assert.equal(refused.length, 80);
    assert.equal(up.requests.length, 20);
    for (const a of refused) {
      assert.equal(a.json.code, "RATE_LIMITED");
      assert.ok(Number(a.headers["retry-after"]) >= 1, a.headers["retry-after"]);
    }
    // Another address has its own budget; a made-up x-api-key (no CLIENT_KEYS to verify it) does not.
    const send = (headers) => call(limited, "/models/gpt2", { headers: { "content-type": "application/json", ...headers }, body: '{"inputs":"x"}' });
    assert.equal((await send({ "cf-connecting-ip": "203.0.113.9" })).status, 200);
    assert.equal((await send({ "x-api-key": `made-up-${Date.now()}` })).status, 429);
  });

  test("with CLIENT_KEYS, each verified key has its own budget, whatever address it comes from", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: "key-one, key-two", RATE_LIMIT_PER_MINUTE: "2" });
    const send = (key, ip) =>
      call(keyed, "/models/gpt2", { headers: { "content-type": "application/json", "x-api-key": key, "cf-connecting-ip": ip }, body: '{"inputs":"x"}' });
    const statuses = [];
    for (const ip of ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) statuses.push((await send("key-one", ip)).status);
    statuses.push((await send("key-two", "198.51.100.1")).status);
    assert.deepEqual(statuses, [200, 200, 429, 200]);
  });

  test("LIMITER binding: a burst of 100 with a limit of 20 forwards 20", async () => {
    const limited = await proxyWith(BASE, { limiter: { limit: 20, period: 60 } });
    const answers = await burst(limited, { "x-api-key": "binding-client" });
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    assert.deepEqual([ok.length, refused.length, up.requests.length], [20, 80, 20]);
    assert.ok(refused.every((a) => a.json.code === "RATE_LIMITED" && a.headers["retry-after"] === "60"));
  });
});

describe("cache", () => {
  const zeroShot = (text) => json({ inputs: text, parameters: { candidate_labels: ["refund", "faq"] } });

  test("the second identical zero-shot call on a cached model is a HIT; upstream counts one", async () => {
    const first = await call(main, `/models/${MNLI}`, zeroShot("where is my refund?"));
    const second = await call(main, `/models/${MNLI}`, zeroShot("where is my refund?"));
    assert.deepEqual([first.status, first.headers["x-cache"]], [200, "MISS"]);
    assert.deepEqual([second.status, second.headers["x-cache"]], [200, "HIT"]);
    assert.equal(second.text, first.text);
    assert.equal(up.requests.length, 1);
    const other = await call(main, `/models/${MNLI}`, zeroShot("how do I log in?"));
    assert.equal(other.headers["x-cache"], "MISS");
    assert.equal(up.requests.length, 2);
  });

  test("a cached answer keeps none of the headers of the request that stored it", async () => {
    const body = zeroShot("stored from a browser").body;
    const first = await call(main, `/models/${MNLI}`, { body, headers: { "content-type": "application/json", origin: APP_ORIGIN } });
    assert.deepEqual([first.status, first.headers["x-cache"], first.headers["access-control-allow-origin"]], [200, "MISS", APP_ORIGIN]);
    const plain = await call(main, `/models/${MNLI}`, { body, headers: { "content-type": "application/json" } });
    assert.equal(plain.status, 200);
    assert.equal(plain.text, first.text);
    const cors = ["access-control-allow-origin", "access-control-expose-headers", "vary"];
    // Every header but the transport's own (workerd compresses for a client that accepts gzip).
    const transport = ["content-encoding", "content-length", "date", "transfer-encoding"];
    assert.deepEqual(
      Object.fromEntries(Object.entries(plain.headers).filter(([name]) => !transport.includes(name))),
      {
        "cache-control": "public, max-age=300",
        "content-type": "application/json",
        "x-cache": "HIT",
        "x-compute-time": first.headers["x-compute-time"],
        "x-compute-type": "cpu",
        "x-inference-provider": "hf-inference",
        "x-request-id": first.headers["x-request-id"],
      },
    );
    // What the Cache API holds, under the key docs/proxy.md gives: the model,
    // the SHA-256 of the body, content-type and accept (fetch's default */*).
    const sha256 = createHash("sha256").update(body).digest("hex");
    const key = `https://hf-inference-proxy.cache/models/${MNLI}?body=${sha256}&ct=application%2Fjson&accept=%2A%2F%2A`;
    const stored = await (await main.mf.getCaches()).default.match(key);
    assert.ok(stored, `nothing stored under ${key}`);
    assert.equal(await stored.text(), first.text);
    assert.deepEqual(
      // Less `age` and `cf-cache-status`, which the Cache API adds itself.
      Object.fromEntries([...stored.headers].filter(([name]) => ![...transport, "age", "cf-cache-status"].includes(name))),
      {
        "cache-control": "public, max-age=300",
        "content-type": "application/json",
        "x-compute-time": first.headers["x-compute-time"],
        "x-compute-type": "cpu",
        "x-inference-provider": "hf-inference",
        "x-request-id": first.headers["x-request-id"],
      },
    );
    const own = await call(main, `/models/${MNLI}`, { body, headers: { "content-type": "application/json", origin: main.url } });
    assert.deepEqual(
      cors.map((name) => own.headers[name]),
      [main.url, "x-compute-time, x-compute-type, x-request-id, x-inference-provider, x-cache, retry-after", "Origin"],
    );
    assert.equal(own.headers["x-cache"], "HIT");
    assert.equal(up.requests.length, 1);
  });

  test("a model outside CACHE_MODELS is never cached", async () => {
    await call(main, `/models/${SST2}`, json({ inputs: "same text" }));
    const again = await call(main, `/models/${SST2}`, json({ inputs: "same text" }));
    assert.equal(again.headers["x-cache"], undefined);
    assert.equal(up.requests.length, 2);
  });

  test("errors are not cached", async () => {
    up.fault({ status: 400, body: '{"error":"bad"}' });
    const failed = await call(main, `/models/${MNLI}`, zeroShot("an error first"));
    const retried = await call(main, `/models/${MNLI}`, zeroShot("an error first"));
    assert.deepEqual([failed.status, retried.status, retried.headers["x-cache"]], [400, 200, "MISS"]);
  });
});

describe("the client through the proxy", () => {
  before(async () => {
    ({ mod: hf, cleanup: cleanupPackage } = await installPackedPackage());
  });

  test("returns the same results as the client pointed at the upstream, for all five tasks", async () => {
    const direct = new hf.InferenceClient({ endpoint: up.url });
    const proxied = new hf.InferenceClient({ endpoint: main.url });
    const image = new Uint8Array(Buffer.from(JSON.parse(await readFile(new URL("../fixtures/recordings.json", import.meta.url), "utf8")).find((r) => r.request.url.endsWith(VIT) && r.request.body.base64).request.body.base64, "base64"));
    const calls = [
      (c) => c.query("gpt2", { inputs: "The answer to the universe is" }),
      (c) => c.textClassification(SST2, ["I like you", "I hate you"]),
      (c) => c.textGeneration("gpt2", "The future of AI in software development will be", { max_length: 50, temperature: 0.7 }),
      (c) => c.classifyImage(VIT, image),
      (c) => c.zeroShot(MNLI, "Our new feature launch was a massive success!", ["marketing", "customer feedback", "technical issue"]),
    ];
    for (const run of calls) {
      assert.deepEqual(await run(proxied), await run(direct));
    }
    const errors = await Promise.allSettled([proxied.textGeneration("mistralai/Mistral-7B-Instruct-v0.2", "hi")]);
    assert.equal(errors[0].reason.code, "FORBIDDEN");
    assert.equal(errors[0].reason.status, 403);
    assert.equal(errors[0].reason.attempts, 1, "a refusal is not retried");
  });
});

describe("chat and streams", () => {
  const chat = (model, extra = {}) => json({ model, messages: [{ role: "user", content: "hi" }], ...extra });

  test("POST /v1/chat/completions goes to CHAT_UPSTREAMS under the allow-list, model read from the body", async () => {
    const answer = await call(main, "/v1/chat/completions", chat("meta-llama/Llama-3.1-8B-Instruct"));
    assert.equal(answer.status, 200);
    assert.equal(answer.json.object, "chat.completion");
    assert.equal(up.requests[0].path, "/chat/completions");
    assert.equal(up.requests[0].headers.authorization, `Bearer ${TOKEN}`);
    const suffixed = await call(main, "/v1/chat/completions", chat("meta-llama/Llama-3.1-8B-Instruct:hf-inference"));
    assert.equal(suffixed.status, 200, "a provider suffix is judged on its model id");
    up.reset();
    assertRefused(await call(main, "/v1/chat/completions", chat("mistralai/Mistral-7B-Instruct-v0.2")), 403, "FORBIDDEN");
    assertRefused(await call(main, "/v1/chat/completions", { body: "not json", headers: { "content-type": "application/json" } }), 400, "INVALID_INPUT");
    assertRefused(await call(main, "/v1/chat/completions", chat("a/b/c")), 400, "INVALID_INPUT");
    // Invalid UTF-8 is refused, even inside a string where a lenient decoder would put U+FFFD.
    const bytes = Buffer.concat([Buffer.from('{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"'), Buffer.from([0xff]), Buffer.from('"}]}')]);
    const notUtf8 = await call(main, "/v1/chat/completions", { body: bytes, headers: { "content-type": "application/json" } });
    assertRefused(notUtf8, 400, "INVALID_INPUT");
    assert.equal(notUtf8.json.error, "model: the chat request body is not UTF-8 JSON");
    const noModel = await call(main, "/v1/chat/completions", json({ messages: [] }));
    assertRefused(noModel, 400, "INVALID_INPUT");
    assert.equal(noModel.json.error, 'model: the chat request has no "model" string');
    assertRefused(await call(main, "/v1/chat/completions", { method: "GET" }), 405, "METHOD_NOT_ALLOWED");
  });

  test("a stream whose upstream sends a chunk every 200 ms arrives chunk by chunk", async () => {
    up.fault({ streamIntervalMs: 200 });
    const started = performance.now();
    const response = await fetch(`${main.url}/models/google/flan-t5-xxl`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ inputs: "stream me", stream: true }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const arrivals = [];
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const before = (text.match(/\n\n/g) ?? []).length;
      text += decoder.decode(value, { stream: true });
      const events = (text.match(/\n\n/g) ?? []).length;
      for (let i = before; i < events; i++) arrivals.push(performance.now() - started);
    }
    transcript.push({ status: 200, headers: {}, text });
    const total = arrivals.at(-1);
    assert.ok(arrivals.length >= 12, `${arrivals.length} events`);
    assert.ok(total >= (arrivals.length - 1) * 200 * 0.8, `the stream took ${total} ms`);
    assert.ok(arrivals[0] < total / 4, `first chunk at ${arrivals[0]} ms of ${total} ms: buffered`);
    // Spread out, not in one burst at the end.
    const early = arrivals.filter((t) => t < total / 2).length;
    assert.ok(early >= arrivals.length / 3, `${early} of ${arrivals.length} events in the first half`);
  });

  test("the client's streams through the proxy give the same chunks as direct", async () => {
    ({ mod: hf, cleanup: cleanupPackage } = hf ? { mod: hf, cleanup: cleanupPackage } : await installPackedPackage());
    const direct = new hf.InferenceClient({ endpoint: up.url, chatEndpoint: up.url });
    const proxied = new hf.InferenceClient({ endpoint: main.url, chatEndpoint: `${main.url}/v1` });
    const collect = async (stream) => {
      const out = [];
      for await (const chunk of stream) out.push(chunk);
      return out;
    };
    const request = { model: "meta-llama/Llama-3.1-8B-Instruct", max_tokens: 20, messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "What is deep learning?" }] };
    const viaProxy = await collect(proxied.chatCompletionStream(request));
    transcript.push({ status: 200, headers: {}, text: JSON.stringify(viaProxy) });
    assert.deepEqual(viaProxy, await collect(direct.chatCompletionStream(request)));
    assert.ok(viaProxy.length > 5);
    // An error the client gets through the proxy, from an upstream echoing the token: in the leak check too.
    up.fault({ status: 401, body: JSON.stringify({ error: `invalid credentials: Bearer ${TOKEN}` }) });
    const err = await proxied.textGeneration("gpt2", "hi").catch((e) => e);
    transcript.push({ status: err.status, headers: {}, text: JSON.stringify({ ...err, message: err.message }) });
    assert.deepEqual([err.code, err.status, err.message], ["UNAUTHORIZED", 401, "invalid credentials: Bearer [redacted]"]);
    assert.deepEqual(await collect(proxied.textGenerationStream("google/flan-t5-xxl", "hello")), await collect(direct.textGenerationStream("google/flan-t5-xxl", "hello")));
    assert.deepEqual(await proxied.chatCompletion(request), await direct.chatCompletion(request));
  });
});

describe("logs", () => {
  test("one JSON line per request, with model, status, timing, cache and upstream; never the body", async () => {
    const marker = "body-marker-that-must-not-be-logged";
    const before = main.logs.length;
    await call(main, `/models/${MNLI}`, json({ inputs: marker, parameters: { candidate_labels: ["a", "b"] } }));
    await call(main, "/models/not/allowed", json({ inputs: marker }));
    await new Promise((r) => setTimeout(r, 200));
    const lines = main.logs.slice(before).map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    const [served, refused] = lines;
    assert.equal(served.model, MNLI);
    assert.equal(served.status, 200);
    assert.equal(served.cache, "MISS");
    assert.equal(served.upstream, up.url);
    assert.equal(served.attempts, 1);
    assert.equal(typeof served.duration_ms, "number");
    assert.equal(typeof served.compute_time_ms, "number");
    assert.deepEqual([refused.status, refused.code, refused.attempts], [403, "FORBIDDEN", 0]);
    assert.ok(!main.logs.join("\n").includes(marker));
  });
});
