// The proxy worker in real workerd (Miniflare) against the local upstream:
// every refusal, the token rules, parity with direct calls, the rate limit,
// the cache, retries, logs; today's task routes, the images gateway, provider
// routes with their model ids mapped back through the Hub, and the Hub route. Needs build/worker (make build-worker) and the
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
const MINILM = "sentence-transformers/all-MiniLM-L6-v2";
const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const FLUX = "black-forest-labs/FLUX.1-schnell";
const QWEN = "Qwen/Qwen2.5-7B-Instruct";
const BGE = "BAAI/bge-large-en-v1.5";
const HUB_QUERY = "?expand[]=inferenceProviderMapping";

/** A client key's SHA-256 in hex, as `printf %s "$KEY" | sha256sum` prints it. */
const sha256hex = (key) => createHash("sha256").update(key).digest("hex");
/** The suite's client keys: none of them, nor their hashes, may appear in an answer or a log line. */
const CLIENT_KEY = {
  app: "ck_app_9d1f7c3a2b5e",
  scoped: "ck_scoped_4e8a0b6c1d7f",
  old: "ck_rotated_old_7b2e9f",
  new: "ck_rotated_new_3c5d1a",
};
const LEGACY_KEYS = ["key-one", "key-two"];

let up;
let hf;
let cleanupPackage;
const proxies = [];
/** Every response the suite received from any proxy: status, headers, body. */
const transcript = [];

async function proxyWith(vars, options = {}) {
  const proxy = await startProxy({
    vars: { HF_TOKEN: TOKEN, UPSTREAMS: up.url, CHAT_UPSTREAMS: up.url, ROUTER_UPSTREAMS: up.url, HUB_URL: up.url, ...vars },
    ...options,
  });
  proxies.push(proxy);
  return proxy;
}

const BASE = {
  ALLOWED_MODELS: `gpt2,openai-community/gpt2,${SST2},${VIT},facebook/*,meta-llama/*,google/flan-t5-xxl,${MINILM},black-forest-labs/*`,
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
function rawCall(proxy, path, body = "{}", method = "POST") {
  const { hostname, port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method, agent: false, headers: { "content-type": "application/json" } }, (res) => {
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

/** Reads a text/event-stream answer, noting when each event arrived (ms after `started`). */
async function readEvents(response, started) {
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
  transcript.push({ status: response.status, headers: {}, text });
  return { text, arrivals };
}

/** Every chunk of a client stream. */
async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

const rawGet = (proxy, path) => rawCall(proxy, path, undefined, "GET");

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
  for (const key of [...Object.values(CLIENT_KEY), ...LEGACY_KEYS]) {
    assert.ok(!everything.includes(key), `the client key ${key.slice(0, 6)}... appeared in an answer or a log line`);
    const hash = sha256hex(key);
    assert.ok(!everything.toLowerCase().includes(hash), `the hash of ${key.slice(0, 6)}... appeared in an answer or a log line`);
  }
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
    ["a malformed ALLOWED_PROVIDERS", { ALLOWED_PROVIDERS: "together groq" }, 'ALLOWED_PROVIDERS entries must be provider names like together, auto or *; "together groq" is not'],
    ["a malformed ROUTER_UPSTREAMS", { ROUTER_UPSTREAMS: "router.huggingface.co" }, "ROUTER_UPSTREAMS must be a URL or a JSON array (ROUTER_UPSTREAMS: must start with https:// or http://)"],
    ["a malformed HUB_URL", { HUB_URL: "https://huggingface.co/?x" }, "HUB_URL: must not contain a query, a fragment or spaces"],
    ["a malformed HUB_CACHE_TTL_SECONDS", { HUB_CACHE_TTL_SECONDS: "1h" }, 'HUB_CACHE_TTL_SECONDS must be a whole number from 1 to 86400 (it is "1h")'],
    // The plain key where its hash belongs: refused, and never echoed.
    ["a client key where its hash belongs", { CLIENT_KEYS: JSON.stringify([{ name: "app", sha256: CLIENT_KEY.app }]) }, `CLIENT_KEYS[0].sha256 must be the key's SHA-256 as 64 hex digits (printf %s "$KEY" | sha256sum)`],
    ["a misspelt CLIENT_KEYS member", { CLIENT_KEYS: JSON.stringify([{ name: "app", sha256: sha256hex(CLIENT_KEY.app), model: ["gpt2"] }]) }, "CLIENT_KEYS[0] has a member other than name, sha256 and models"],
    ["CLIENT_KEYS that is no JSON array", { CLIENT_KEYS: `[{"name": "app", "sha256": "${sha256hex(CLIENT_KEY.app)}"` }, "CLIENT_KEYS is not a valid JSON array (EOF while parsing an object at line 1 column 93)"],
    ["an empty CLIENT_KEYS array", { CLIENT_KEYS: "[]" }, "CLIENT_KEYS must be a non-empty JSON array of {name, sha256, models?}"],
    ["a CLIENT_KEYS name given twice", { CLIENT_KEYS: JSON.stringify([{ name: "app", sha256: sha256hex(CLIENT_KEY.old) }, { name: "app", sha256: sha256hex(CLIENT_KEY.new) }]) }, `CLIENT_KEYS[1].name is also CLIENT_KEYS[0]'s: a name is one client (while its key is rotated, give both hashes as "sha256": [old, new])`],
    ["a client key's model outside ALLOWED_MODELS", { CLIENT_KEYS: JSON.stringify([{ name: "app", sha256: sha256hex(CLIENT_KEY.app), models: ["mistralai/Mistral-7B-Instruct-v0.2"] }]) }, "CLIENT_KEYS[0].models[0] names mistralai/Mistral-7B-Instruct-v0.2, which ALLOWED_MODELS does not allow"],
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
    ["a list for CLIENT_KEYS (its JSON belongs in a string)", { CLIENT_KEYS: [{ name: "app", sha256: sha256hex(CLIENT_KEY.app) }] }, "CLIENT_KEYS must be a string (it is an array)"],
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
    // Miniflare's stand-in for the binding counts in fixed windows aligned to
    // the wall clock's minutes: a burst that straddles one is counted twice
    // over (20, then up to 20 more). Start it with the window well clear of its end.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
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
        // This answer's own cost: a cache hit costs nothing.
        "x-usage-cost": "0",
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
      [main.url, "x-compute-time, x-compute-type, x-request-id, x-inference-provider, x-cache, x-usage-cost, retry-after", "Origin"],
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

describe("the client's new tasks through the proxy", () => {
  test("give what the client pointed at the upstream gets: pipelines, completions, text to image, the images gateway", async () => {
    ({ mod: hf, cleanup: cleanupPackage } = hf ? { mod: hf, cleanup: cleanupPackage } : await installPackedPackage());
    const direct = new hf.InferenceClient({ endpoint: up.url, chatEndpoint: `${up.url}/v1` });
    const proxied = new hf.InferenceClient({ endpoint: main.url, chatEndpoint: `${main.url}/v1` });
    const viaAlias = new hf.InferenceClient({ endpoint: `${main.url}/hf-inference` });
    const image = async (blob) => [blob.type, Buffer.from(await blob.arrayBuffer()).toString("base64")];
    const calls = [
      (c) => c.featureExtraction(MINILM, ["a cat", "a dog"]),
      (c) => c.sentenceSimilarity(MINILM, { source_sentence: "a cat", sentences: ["a dog", "a car"] }),
      (c) => c.textGeneration("gpt2", "The future of AI in software development will be", { max_new_tokens: 12, temperature: 0.7 }),
      (c) => collect(c.textGenerationStream("openai-community/gpt2", "Once upon a time", { max_new_tokens: 12 })),
      (c) => c.summarization("facebook/bart-large-cnn", "The tower is 324 metres tall, about the same height as an 81-storey building."),
      async (c) => image(await c.textToImage(FLUX, "an astronaut riding a horse")),
    ];
    for (const run of calls) {
      const viaProxy = await run(proxied);
      transcript.push({ status: 200, headers: {}, text: JSON.stringify(viaProxy) });
      assert.deepEqual(viaProxy, await run(direct));
      assert.deepEqual(await run(viaAlias), viaProxy);
    }
    const request = { model: FLUX, prompt: "an astronaut riding a horse", size: "512x512" };
    assert.deepEqual(await proxied.imageGeneration(request), await direct.imageGeneration(request));
    const refused = await proxied.imageGeneration({ ...request, model: `${FLUX}:together` }).catch((e) => e);
    assert.deepEqual([refused.code, refused.status, refused.message], ["FORBIDDEN", 403, "provider together is not allowed by this proxy (ALLOWED_PROVIDERS)"]);
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
    const { arrivals } = await readEvents(response, started);
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

/** What reached the upstream: the Hub look-ups and the other requests, by path. */
function reached() {
  return {
    hub: up.requests.filter((r) => r.hub).map((r) => r.path),
    other: up.requests.filter((r) => !r.hub).map((r) => r.path),
  };
}

/** The log lines a proxy printed since `before`, parsed. */
async function linesSince(proxy, before) {
  await new Promise((r) => setTimeout(r, 100));
  return proxy.logs.slice(before).map((l) => JSON.parse(l));
}

describe("task routes of today's protocol", () => {
  test("pipeline routes go to UPSTREAMS under the allow-list, also under /hf-inference; other pipelines are 404", async () => {
    const extraction = await call(main, `/models/${MINILM}/pipeline/feature-extraction`, json({ inputs: ["a cat", "a dog"] }));
    assert.equal(extraction.status, 200, extraction.text);
    assert.ok(Array.isArray(extraction.json) && extraction.json.length === 2 && extraction.json[0].every((x) => typeof x === "number"));
    const similarity = await call(main, `/hf-inference/models/${MINILM}/pipeline/sentence-similarity`, json({ inputs: { source_sentence: "a cat", sentences: ["a dog", "a car"] } }));
    assert.equal(similarity.status, 200, similarity.text);
    assert.equal(similarity.json.length, 2);
    assert.deepEqual(
      up.requests.map((r) => [r.path, r.headers.authorization]),
      [
        [`/models/${MINILM}/pipeline/feature-extraction`, `Bearer ${TOKEN}`],
        // The alias is the same route: forwarded to UPSTREAMS as /models/...
        [`/models/${MINILM}/pipeline/sentence-similarity`, `Bearer ${TOKEN}`],
      ],
    );
    up.reset();
    assertRefused(await call(main, "/models/intfloat/e5-large/pipeline/feature-extraction", json({ inputs: "x" })), 403, "FORBIDDEN");
    const other = await call(main, `/models/${MINILM}/pipeline/text-classification`, json({ inputs: "x" }));
    assertRefused(other, 404, "NOT_FOUND");
    assert.equal(other.json.error, 'no pipeline route "text-classification": this proxy serves /models/{model}/pipeline/feature-extraction and /pipeline/sentence-similarity');
    assertRefused(await call(main, "/hf-inference/models/mistralai/Mistral-7B-Instruct-v0.2", json({ inputs: "x" })), 403, "FORBIDDEN");
  });

  test("a pipeline answer of a cached model is cached under its own route", async () => {
    const cached = await proxyWith({ ...BASE, CACHE_MODELS: MINILM });
    const body = json({ inputs: "cache me" });
    const first = await call(cached, `/models/${MINILM}/pipeline/feature-extraction`, body);
    const second = await call(cached, `/hf-inference/models/${MINILM}/pipeline/feature-extraction`, body);
    // The same body to the model's other routes is another answer.
    const similarity = await call(cached, `/models/${MINILM}/pipeline/sentence-similarity`, body);
    const plain = await call(cached, `/models/${MINILM}`, body);
    assert.deepEqual(
      [first, second, similarity, plain].map((a) => [a.status, a.headers["x-cache"]]),
      [[200, "MISS"], [200, "HIT"], [200, "MISS"], [200, "MISS"]],
    );
    assert.equal(second.text, first.text);
    assert.equal(up.requests.length, 3);
  });

  test("/v1/completions: a completion, and a stream relayed as SSE event by event; never cached", async () => {
    const cached = await proxyWith({ ...BASE, CACHE_MODELS: "gpt2" });
    const request = { model: "gpt2", prompt: "The answer to the universe is", max_tokens: 20 };
    const completion = await call(cached, "/models/gpt2/v1/completions", json(request));
    assert.equal(completion.status, 200, completion.text);
    assert.equal(completion.json.object, "text_completion");
    assert.equal(typeof completion.json.choices[0].text, "string");
    assert.equal(completion.headers["x-cache"], undefined, "a completion samples: never cached");
    assert.equal((await call(cached, "/models/gpt2/v1/completions", json(request))).headers["x-cache"], undefined);
    assert.equal(up.requests.length, 2);
    assert.deepEqual(up.requests[0].json, request);
    up.fault({ streamIntervalMs: 150 });
    const started = performance.now();
    const response = await fetch(`${cached.url}/hf-inference/models/openai-community/gpt2/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ ...request, model: "openai-community/gpt2", stream: true }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const { text, arrivals } = await readEvents(response, started);
    assert.equal(up.requests[2].path, "/models/openai-community/gpt2/v1/completions");
    const events = text.split("\n\n").filter(Boolean);
    assert.equal(events.at(-1), "data: [DONE]");
    assert.ok(events.slice(0, -1).every((e) => JSON.parse(e.slice("data: ".length)).object === "text_completion"), events[0]);
    assert.ok(arrivals.length >= 12, `${arrivals.length} events`);
    const total = arrivals.at(-1);
    assert.ok(arrivals[0] < total / 4, `first event at ${arrivals[0]} ms of ${total} ms: buffered`);
  });
});

describe("ALLOWED_PROVIDERS and the provider a chat or images model names", () => {
  const chat = (model) => json({ model, messages: [{ role: "user", content: "hi" }] });

  test("by default (hf-inference,auto): no suffix, :hf-inference and the router's :fastest pass; another provider is 403 naming it", async () => {
    const before = main.logs.length;
    for (const model of [LLAMA, `${LLAMA}:hf-inference`, `${LLAMA}:fastest`]) {
      const answer = await call(main, "/v1/chat/completions", chat(model));
      assert.equal(answer.status, 200, `${model}: ${answer.text}`);
    }
    assert.deepEqual(up.requests.map((r) => r.json.model), [LLAMA, `${LLAMA}:hf-inference`, `${LLAMA}:fastest`]);
    const lines = await linesSince(main, before);
    assert.deepEqual(lines.map((l) => [l.model, l.provider]), [[LLAMA, "auto"], [`${LLAMA}:hf-inference`, "hf-inference"], [`${LLAMA}:fastest`, "fastest"]]);
    up.reset();
    const refused = await call(main, "/v1/chat/completions", chat(`${LLAMA}:together`));
    assertRefused(refused, 403, "FORBIDDEN");
    assert.equal(refused.json.error, "provider together is not allowed by this proxy (ALLOWED_PROVIDERS)");
    const images = await call(main, "/v1/images/generations", json({ model: `${FLUX}:nscale`, prompt: "a cat" }));
    assertRefused(images, 403, "FORBIDDEN");
    assert.equal(images.json.error, "provider nscale is not allowed by this proxy (ALLOWED_PROVIDERS)");
  });

  test("pinned to listed providers: a model without a suffix (the router's choice) is refused, and so are :fastest and :cheapest", async () => {
    const pinned = await proxyWith({ ...BASE, ALLOWED_PROVIDERS: "together, nscale" });
    assert.equal((await call(pinned, "/v1/chat/completions", chat(`${LLAMA}:together`))).status, 200);
    assert.equal(up.requests[0].json.model, `${LLAMA}:together`, "the suffix is forwarded as sent");
    up.reset();
    const unsuffixed = await call(pinned, "/v1/chat/completions", chat(LLAMA));
    assertRefused(unsuffixed, 403, "FORBIDDEN");
    assert.equal(
      unsuffixed.json.error,
      "provider auto is not allowed by this proxy (ALLOWED_PROVIDERS): a model without a :provider suffix leaves the choice to the router; name one of the allowed providers (together, nscale)",
    );
    const cheapest = await call(pinned, "/v1/chat/completions", chat(`${LLAMA}:cheapest`));
    assertRefused(cheapest, 403, "FORBIDDEN");
    assert.equal(cheapest.json.error, "provider cheapest (the router's choice, judged as auto) is not allowed by this proxy (ALLOWED_PROVIDERS)");
    assertRefused(await call(pinned, "/v1/images/generations", json({ model: FLUX, prompt: "a cat" })), 403, "FORBIDDEN");
    // The model allow-list is judged first, and a bad model is 400 before any provider rule.
    const notAllowed = await call(pinned, "/v1/chat/completions", chat("mistralai/Mistral-7B-Instruct-v0.2:together"));
    assertRefused(notAllowed, 403, "FORBIDDEN");
    assert.equal(notAllowed.json.error, "model mistralai/Mistral-7B-Instruct-v0.2:together is not allowed by this proxy (ALLOWED_MODELS)");
    assertRefused(await call(pinned, "/v1/chat/completions", chat(`${LLAMA}:`)), 400, "INVALID_INPUT");
  });

  test("POST /v1/images/generations goes to a CHAT_UPSTREAMS base's /images/generations, model from the body", async () => {
    const request = { model: FLUX, prompt: "an astronaut riding a horse", size: "512x512" };
    const answer = await call(main, "/v1/images/generations", { ...json(request), headers: { "content-type": "application/json", origin: APP_ORIGIN } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(typeof answer.json.data[0].b64_json, "string");
    assert.equal(answer.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.deepEqual([up.requests[0].path, up.requests[0].json, up.requests[0].headers.authorization], ["/images/generations", request, `Bearer ${TOKEN}`]);
    up.reset();
    assertRefused(await call(main, "/v1/images/generations", json({ model: "stabilityai/sdxl", prompt: "x" })), 403, "FORBIDDEN");
    const noModel = await call(main, "/v1/images/generations", json({ prompt: "x" }));
    assertRefused(noModel, 400, "INVALID_INPUT");
    assert.equal(noModel.json.error, 'model: the images request has no "model" string');
    assertRefused(await call(main, "/v1/images/generations", { method: "GET" }), 405, "METHOD_NOT_ALLOWED");
  });
});

describe("provider routes", () => {
  // Exact ids, but black-forest-labs and BAAI by pattern.
  const PROVIDERS = {
    ...BASE,
    ALLOWED_MODELS: `${LLAMA},${QWEN},${MINILM},black-forest-labs/*,BAAI/*`,
    ALLOWED_PROVIDERS: "hf-inference,auto,together,groq,scaleway,nscale",
  };

  test("a provider call reaches ROUTER_UPSTREAMS at /{provider}/{route} once its model id maps back to an allowed model", async () => {
    const proxy = await proxyWith(PROVIDERS);
    const before = proxy.logs.length;
    const request = { model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", messages: [{ role: "user", content: "hi" }] };
    const answer = await call(proxy, "/together/v1/chat/completions", { ...json(request), headers: { "content-type": "application/json", origin: APP_ORIGIN } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.object, "chat.completion");
    assert.equal(answer.headers["x-inference-provider"], "together");
    assert.equal(answer.headers["access-control-allow-origin"], APP_ORIGIN);
    // The id is no allowed model id itself: every exact id of ALLOWED_MODELS was looked up, at once.
    const { hub, other } = reached();
    assert.deepEqual(hub.sort(), [LLAMA, QWEN, MINILM].map((m) => `/api/models/${m}`).sort());
    assert.ok(up.requests.filter((r) => r.hub).every((r) => r.query === HUB_QUERY && r.method === "GET" && r.headers.authorization === `Bearer ${TOKEN}`));
    assert.deepEqual(other, ["/together/v1/chat/completions"]);
    const sent = up.requests.find((r) => !r.hub);
    assert.deepEqual([sent.json, sent.headers.authorization], [request, `Bearer ${TOKEN}`]);
    // Looked up once per isolate: groq's id of the same model maps back with no look-up.
    up.reset();
    const groq = await call(proxy, "/groq/openai/v1/chat/completions", json({ ...request, model: "llama-3.1-8b-instant" }));
    assert.equal(groq.status, 200, groq.text);
    assert.deepEqual(reached(), { hub: [], other: ["/groq/openai/v1/chat/completions"] });
    const lines = await linesSince(proxy, before);
    assert.deepEqual(
      lines.map((l) => [l.status, l.model, l.provider, l.hub_lookups, l.upstream]),
      [
        [200, LLAMA, "together", 3, up.url],
        [200, LLAMA, "groq", undefined, up.url],
      ],
    );
  });

  test("completions, embeddings (the Hub's list form too) and images map back", async () => {
    const proxy = await proxyWith(PROVIDERS);
    const cases = [
      // Qwen is listed exactly; together's id is another.
      ["/together/v1/completions", { model: "Qwen/Qwen2.5-7B-Instruct-Turbo", prompt: "Once", max_tokens: 5 }, "text_completion"],
      // The provider id is the Hugging Face id, allowed by a pattern: looked up itself (the list form).
      ["/together/v1/embeddings", { model: BGE, input: ["a cat"] }, "list"],
      ["/scaleway/v1/embeddings", { model: MINILM, input: "a cat" }, "list"],
      ["/nscale/v1/images/generations", { model: FLUX, prompt: "a cat", response_format: "b64_json" }, undefined],
    ];
    for (const [path, body, object] of cases) {
      const answer = await call(proxy, path, json(body));
      assert.equal(answer.status, 200, `${path}: ${answer.text}`);
      assert.equal(answer.json.object, object, path);
    }
    assert.deepEqual(
      up.requests.filter((r) => !r.hub).map((r) => [r.path, r.json.model]),
      cases.map(([path, body]) => [path, body.model]),
    );
  });

  test("a model allowed only by a pattern maps back once it has been looked up (its Hub route), not before", async () => {
    const proxy = await proxyWith(PROVIDERS);
    const request = json({ model: "black-forest-labs/FLUX.1-schnell-Free", prompt: "a cat" });
    const before = await call(proxy, "/together/v1/images/generations", request);
    assert.equal(before.status, 403, before.text);
    assert.equal(
      before.json.error,
      "together's model black-forest-labs/FLUX.1-schnell-Free maps back to no model allowed by this proxy (ALLOWED_MODELS); a model allowed only by a pattern maps back once it is looked up at GET /api/models/{model}?expand[]=inferenceProviderMapping",
    );
    // The id itself (a pattern allows it; the Hub does not know it) and the exact ids.
    assert.deepEqual(reached().hub.sort(), [`/api/models/black-forest-labs/FLUX.1-schnell-Free`, ...[LLAMA, QWEN, MINILM].map((m) => `/api/models/${m}`)].sort());
    assert.deepEqual(reached().other, []);
    const looked = await call(proxy, `/api/models/${FLUX}${HUB_QUERY}`, { method: "GET" });
    assert.equal(looked.status, 200);
    up.reset();
    const after = await call(proxy, "/together/v1/images/generations", request);
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(reached(), { hub: [], other: ["/together/v1/images/generations"] });
  });

  test("refusals: a provider not in ALLOWED_PROVIDERS, an id that maps back to nothing allowed, another provider's id, a bad body", async () => {
    const proxy = await proxyWith(PROVIDERS);
    const chat = (model) => json({ model, messages: [{ role: "user", content: "hi" }] });
    const fireworks = await call(proxy, "/fireworks-ai/v1/chat/completions", chat("accounts/fireworks/models/llama-v3p1-8b-instruct"));
    assertRefused(fireworks, 403, "FORBIDDEN");
    assert.equal(fireworks.json.error, "provider fireworks-ai is not allowed by this proxy (ALLOWED_PROVIDERS)");
    assertRefused(await call(main, "/together/v1/chat/completions", chat("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo")), 403, "FORBIDDEN");
    // A model the Hub maps for together but that ALLOWED_MODELS does not list is never looked up.
    up.hub("mistralai/Mixtral-8x7B-Instruct-v0.1", { together: { providerId: "mistralai/Mixtral-8x7B-Instruct-v0.1", status: "live", task: "conversational" } });
    const unlisted = await call(proxy, "/together/v1/chat/completions", chat("mistralai/Mixtral-8x7B-Instruct-v0.1"));
    assert.equal(unlisted.status, 403);
    assert.equal(unlisted.json.code, "FORBIDDEN");
    assert.match(unlisted.json.error, /^together's model mistralai\/Mixtral-8x7B-Instruct-v0\.1 maps back to no model allowed by this proxy \(ALLOWED_MODELS\)/);
    assert.deepEqual(reached().other, [], "nothing but Hub look-ups");
    assert.ok(!reached().hub.includes("/api/models/mistralai/Mixtral-8x7B-Instruct-v0.1"));
    up.reset();
    // groq's route with together's id: the provider is part of the mapping.
    const crossed = await call(proxy, "/groq/openai/v1/chat/completions", chat("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"));
    assertRefused(crossed, 403, "FORBIDDEN");
    for (const [body, message] of [
      [{ body: "not json", headers: { "content-type": "application/json" } }, "model: the provider request body is not UTF-8 JSON"],
      [json({ messages: [] }), 'model: the provider request has no "model" string'],
      [json({ model: "" }), "model: must be the provider's model id: 1 to 256 characters, none of them a control character"],
    ]) {
      const answer = await call(proxy, "/together/v1/chat/completions", body);
      assertRefused(answer, 400, "INVALID_INPUT");
      assert.equal(answer.json.error, message);
    }
    const route = await call(proxy, "/together/v1/models", json({}));
    assertRefused(route, 404, "NOT_FOUND");
    assert.equal(
      route.json.error,
      "no route for /together/v1/models; provider routes are POST /{provider}/v1/chat/completions, /{provider}/v1/completions, /{provider}/v1/embeddings, /{provider}/v1/images/generations and /groq/openai/v1/chat/completions",
    );
    assertRefused(await call(proxy, "/together/openai/v1/chat/completions", json({})), 404, "NOT_FOUND");
    assertRefused(await call(proxy, "/auto/v1/chat/completions", chat(LLAMA)), 404, "NOT_FOUND");
    assertRefused(await call(proxy, "/together/v1/completions", { method: "GET" }), 405, "METHOD_NOT_ALLOWED");
    const keyed = await proxyWith({ ...PROVIDERS, CLIENT_KEYS: "key-one" });
    assertRefused(await call(keyed, "/together/v1/chat/completions", chat("llama-3.1-8b-instant")), 401, "UNAUTHORIZED");
  });

  test("a Hub that fails while an id is mapped back is 502, not a 403 it cannot know", async () => {
    const proxy = await proxyWith(PROVIDERS);
    up.fault({ status: 503, body: '{"error":"Hub unavailable"}', pathPrefix: `/api/models/${LLAMA}`, times: 2 });
    const answer = await call(proxy, "/together/v1/chat/completions", json({ model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", messages: [] }));
    assert.equal(answer.status, 502, answer.text);
    assert.deepEqual(answer.json, {
      error: `the proxy could not map together's model meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo back to a Hugging Face model: the Hub look-up of ${LLAMA} failed (it answered 503)`,
      code: "UPSTREAM_ERROR",
    });
    assert.equal(up.requests.filter((r) => r.path === `/api/models/${LLAMA}`).length, 2, "two attempts");
    assert.deepEqual(reached().other, []);
    // Failures are not kept: the next call looks it up again and goes through.
    up.reset();
    const again = await call(proxy, "/together/v1/chat/completions", json({ model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", messages: [] }));
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(reached(), { hub: [`/api/models/${LLAMA}`], other: ["/together/v1/chat/completions"] });
  });

  test("* allows every provider", async () => {
    const any = await proxyWith({ ...PROVIDERS, ALLOWED_PROVIDERS: "*" });
    up.hub(QWEN, { "fireworks-ai": { providerId: "accounts/fireworks/models/qwen2p5-7b-instruct", status: "live", task: "conversational" } });
    const answer = await call(any, "/fireworks-ai/v1/chat/completions", json({ model: "accounts/fireworks/models/qwen2p5-7b-instruct", messages: [] }));
    assert.equal(answer.status, 200, answer.text);
    assert.equal((await call(any, "/v1/chat/completions", json({ model: `${QWEN}:novita`, messages: [] }))).status, 200);
  });
});

describe("the Hub route", () => {
  const get = (proxy, path, headers = {}) => call(proxy, path, { method: "GET", headers });

  test("GET /api/models/{model}?expand[]=inferenceProviderMapping passes the Hub's JSON through for an allowed model, then from the isolate's cache", async () => {
    const proxy = await proxyWith(BASE);
    const direct = await (await fetch(`${up.url}/api/models/${LLAMA}${HUB_QUERY}`)).json();
    up.reset();
    const first = await get(proxy, `/api/models/${LLAMA}${HUB_QUERY}`, { origin: APP_ORIGIN });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json, direct);
    assert.deepEqual(Object.keys(first.json.inferenceProviderMapping).sort(), ["groq", "hf-inference", "together"]);
    assert.deepEqual([first.headers["content-type"], first.headers["x-cache"], first.headers["access-control-allow-origin"]], ["application/json", "MISS", APP_ORIGIN]);
    assert.deepEqual(
      up.requests.map((r) => [r.method, r.path, r.query, r.headers.authorization]),
      [["GET", `/api/models/${LLAMA}`, HUB_QUERY, `Bearer ${TOKEN}`]],
    );
    // The query as URLSearchParams writes it is the same query.
    const second = await get(proxy, `/api/models/${LLAMA}?expand%5B%5D=inferenceProviderMapping`);
    assert.deepEqual([second.status, second.headers["x-cache"], second.text], [200, "HIT", first.text]);
    assert.equal(up.requests.length, 1);
    // A model the Hub does not know (allowed by a pattern) is the Hub's 404, passed on.
    const unknown = await get(proxy, `/api/models/facebook/no-such-model${HUB_QUERY}`);
    assert.deepEqual([unknown.status, unknown.json], [404, { error: "Repository not found" }]);
    const preflight = await call(proxy, `/api/models/${LLAMA}${HUB_QUERY}`, { method: "OPTIONS", headers: { origin: APP_ORIGIN, "access-control-request-method": "GET", "access-control-request-headers": "x-api-key" } });
    assert.deepEqual([preflight.status, preflight.headers["access-control-allow-origin"]], [204, APP_ORIGIN]);
  });

  test("the answer is kept for HUB_CACHE_TTL_SECONDS", async () => {
    const proxy = await proxyWith({ ...BASE, HUB_CACHE_TTL_SECONDS: "1" });
    assert.equal((await get(proxy, `/api/models/${FLUX}${HUB_QUERY}`)).headers["x-cache"], "MISS");
    assert.equal((await get(proxy, `/api/models/${FLUX}${HUB_QUERY}`)).headers["x-cache"], "HIT");
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await get(proxy, `/api/models/${FLUX}${HUB_QUERY}`)).headers["x-cache"], "MISS");
    assert.equal(up.requests.length, 2);
  });

  test("refusals: a model outside ALLOWED_MODELS, any other /api path or query, another method, a bad id", async () => {
    const refused = await get(main, `/api/models/mistralai/Mistral-7B-Instruct-v0.2${HUB_QUERY}`);
    assertRefused(refused, 403, "FORBIDDEN");
    assert.equal(refused.json.error, "model mistralai/Mistral-7B-Instruct-v0.2 is not allowed by this proxy (ALLOWED_MODELS)");
    const under = "under /api this proxy answers only GET /api/models/{model}?expand[]=inferenceProviderMapping";
    for (const path of [`/api/models/${LLAMA}`, `/api/models/${LLAMA}?expand[]=downloads`, `/api/models/${LLAMA}${HUB_QUERY}&expand[]=downloads`, "/api/whoami-v2", `/api/datasets/${LLAMA}${HUB_QUERY}`]) {
      const answer = await get(main, path);
      assertRefused(answer, 404, "NOT_FOUND");
      assert.equal(answer.json.error, `no route for ${path.split("?")[0]}; ${under}`);
    }
    assertRefused(await call(main, `/api/models/${LLAMA}${HUB_QUERY}`, json({})), 405, "METHOD_NOT_ALLOWED");
    assertRefused(await rawGet(main, `/api/models/a%2Fb${HUB_QUERY}`), 400, "INVALID_INPUT");
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: "key-one" });
    assertRefused(await get(keyed, `/api/models/${LLAMA}${HUB_QUERY}`), 401, "UNAUTHORIZED");
    assert.equal((await get(keyed, `/api/models/${LLAMA}${HUB_QUERY}`, { "x-api-key": "key-one" })).status, 200);
  });
});

describe("client keys", () => {
  // The JSON form: names, hashes (one rotated key with two), a scoped key.
  const KEYS = JSON.stringify([
    { name: "mobile-app", sha256: sha256hex(CLIENT_KEY.app) },
    { name: "google-only", sha256: sha256hex(CLIENT_KEY.scoped).toUpperCase(), models: ["google/*"] },
    { name: "web", sha256: [sha256hex(CLIENT_KEY.old), sha256hex(CLIENT_KEY.new)] },
  ]);
  const MISSING = "a valid client key is required in the x-api-key header";
  const outside = (model) => `model ${model} is not among this client key's models (CLIENT_KEYS)`;
  const send = (proxy, path, key, body = { inputs: "hi" }, headers = {}) =>
    call(proxy, path, { ...json(body), headers: { "content-type": "application/json", ...(key === undefined ? {} : { "x-api-key": key }), ...headers } });

  test("JSON CLIENT_KEYS: a listed key passes under its name; none, a wrong one or the hash itself is 401", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: KEYS });
    const before = keyed.logs.length;
    for (const key of [undefined, "", "ck_not_listed", sha256hex(CLIENT_KEY.app), `${CLIENT_KEY.app} `.repeat(2)]) {
      const refused = await send(keyed, "/models/gpt2", key);
      assertRefused(refused, 401, "UNAUTHORIZED");
      assert.equal(refused.json.error, MISSING);
    }
    const right = await send(keyed, "/models/gpt2", CLIENT_KEY.app);
    assert.equal(right.status, 200, right.text);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].headers["x-api-key"], undefined, "the client key is not forwarded");
    // The scoped key's hash was written in upper case: it is the same hash.
    assert.equal((await send(keyed, `/models/${VIT}`, CLIENT_KEY.scoped)).status, 200);
    const lines = await linesSince(keyed, before);
    assert.deepEqual(
      lines.map((l) => [l.status, l.code, l.client]),
      [...Array(5).fill([401, "UNAUTHORIZED", undefined]), [200, undefined, "mobile-app"], [200, undefined, "google-only"]],
    );
  });

  test("a scoped key is 403 outside its models, naming the model and not the key; ALLOWED_MODELS applies too", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: KEYS });
    const before = keyed.logs.length;
    const task = await send(keyed, "/models/gpt2", CLIENT_KEY.scoped);
    assertRefused(task, 403, "FORBIDDEN");
    assert.equal(task.json.error, outside("gpt2"));
    // Within the key's google/* but not within ALLOWED_MODELS: the proxy's list refuses it first.
    const unlisted = await send(keyed, "/models/google/gemma-2b", CLIENT_KEY.scoped);
    assertRefused(unlisted, 403, "FORBIDDEN");
    assert.equal(unlisted.json.error, "model google/gemma-2b is not allowed by this proxy (ALLOWED_MODELS)");
    // A chat model is judged without its suffix, and named as sent.
    for (const model of [LLAMA, `${LLAMA}:hf-inference`]) {
      const chat = await send(keyed, "/v1/chat/completions", CLIENT_KEY.scoped, { model, messages: [{ role: "user", content: "hi" }] });
      assertRefused(chat, 403, "FORBIDDEN");
      assert.equal(chat.json.error, outside(model));
    }
    const hub = await call(keyed, `/api/models/${LLAMA}${HUB_QUERY}`, { method: "GET", headers: { "x-api-key": CLIENT_KEY.scoped } });
    assertRefused(hub, 403, "FORBIDDEN");
    assert.equal(hub.json.error, outside(LLAMA));
    // The same requests with an unscoped key pass.
    assert.equal((await send(keyed, "/models/gpt2", CLIENT_KEY.app)).status, 200);
    const chat = await send(keyed, "/v1/chat/completions", CLIENT_KEY.app, { model: LLAMA, messages: [{ role: "user", content: "hi" }] });
    assert.equal(chat.status, 200, chat.text);
    const lines = await linesSince(keyed, before);
    assert.deepEqual(
      lines.map((l) => [l.status, l.code ?? null, l.client, l.model]),
      [
        [403, "FORBIDDEN", "google-only", "gpt2"],
        [403, "FORBIDDEN", "google-only", "google/gemma-2b"],
        [403, "FORBIDDEN", "google-only", LLAMA],
        [403, "FORBIDDEN", "google-only", `${LLAMA}:hf-inference`],
        [403, "FORBIDDEN", "google-only", LLAMA],
        [200, null, "mobile-app", "gpt2"],
        [200, null, "mobile-app", LLAMA],
      ],
    );
    for (const answer of [task, hub]) assert.ok(!answer.text.includes("google-only"), answer.text);
  });

  test("on a provider route the scope applies to the Hugging Face model the provider's id maps back to", async () => {
    const keyed = await proxyWith({
      ...BASE,
      ALLOWED_MODELS: `${LLAMA},${QWEN}`,
      ALLOWED_PROVIDERS: "together",
      CLIENT_KEYS: JSON.stringify([
        { name: "qwen-only", sha256: sha256hex(CLIENT_KEY.scoped), models: [QWEN] },
        { name: "mobile-app", sha256: sha256hex(CLIENT_KEY.app) },
      ]),
    });
    const body = { model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", messages: [{ role: "user", content: "hi" }] };
    const refused = await send(keyed, "/together/v1/chat/completions", CLIENT_KEY.scoped, body);
    assert.deepEqual([refused.status, refused.json], [403, { error: outside(LLAMA), code: "FORBIDDEN" }]);
    assert.deepEqual(reached().other, [], "refused before it was forwarded");
    up.reset();
    const served = await send(keyed, "/together/v1/chat/completions", CLIENT_KEY.app, body);
    assert.equal(served.status, 200, served.text);
    assert.deepEqual(reached(), { hub: [], other: ["/together/v1/chat/completions"] });
  });

  test("while a key is rotated its old and new keys are one client: one name, one rate budget", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: KEYS, RATE_LIMIT_PER_MINUTE: "2" });
    const before = keyed.logs.length;
    const statuses = [];
    for (const [key, ip] of [[CLIENT_KEY.old, "198.51.100.1"], [CLIENT_KEY.new, "198.51.100.2"], [CLIENT_KEY.old, "198.51.100.3"], [CLIENT_KEY.app, "198.51.100.1"]]) {
      statuses.push((await send(keyed, "/models/gpt2", key, { inputs: "x" }, { "cf-connecting-ip": ip })).status);
    }
    assert.deepEqual(statuses, [200, 200, 429, 200]);
    const lines = await linesSince(keyed, before);
    assert.deepEqual(lines.map((l) => [l.status, l.client]), [[200, "web"], [200, "web"], [429, "web"], [200, "mobile-app"]]);
  });

  test("the old comma list still works: its keys are key#0, key#1, ... and open every allowed model", async () => {
    const keyed = await proxyWith({ ...BASE, CLIENT_KEYS: LEGACY_KEYS.join(", ") });
    const before = keyed.logs.length;
    assert.equal((await send(keyed, "/models/gpt2", LEGACY_KEYS[1])).status, 200);
    assert.equal((await send(keyed, `/models/${VIT}`, LEGACY_KEYS[0])).status, 200);
    const wrong = await send(keyed, "/models/gpt2", "key-three");
    assert.deepEqual([wrong.status, wrong.json], [401, { error: MISSING, code: "UNAUTHORIZED" }]);
    assert.equal(up.requests.length, 2);
    const lines = await linesSince(keyed, before);
    assert.deepEqual(lines.map((l) => [l.status, l.client]), [[200, "key#1"], [200, "key#0"], [401, undefined]]);
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
