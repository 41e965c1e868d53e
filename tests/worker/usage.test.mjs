// Usage accounting and budgets (issue 13) in real workerd (Miniflare, with
// the USAGE Durable Objects kept in memory) against the local upstream:
// budgets refuse before forwarding, reservations hold under concurrency,
// x-usage-cost, the fail-closed 503 and the CONFIG 500 naming USAGE, and no
// key or token in any answer or log line. Needs build/worker.

import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";

import { startUpstream } from "../upstream/upstream.mjs";
import { startProxy } from "../support/proxy.mjs";

const TOKEN = "hf_usageTokenNeverLeaks1a2b3c4d5e";
const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const KEYS = { app: "ck_usage_app_5f3e1d", other: "ck_usage_other_8a2c4b" };
const sha256hex = (key) => createHash("sha256").update(key).digest("hex");
const CLIENT_KEYS = JSON.stringify([
  { name: "app", sha256: sha256hex(KEYS.app) },
  { name: "other", sha256: sha256hex(KEYS.other) },
]);
// A chat answer's tokens are not read yet, so it is charged its estimate:
// request_usd, exactly.
const PRICES = JSON.stringify({
  compute: { cpu: 0.00012, cache: 0 },
  models: { [LLAMA]: { request_usd: 0.25 } },
});

let up;
const proxies = [];
const transcript = [];

async function proxyWith(vars, options = { usage: true }) {
  const proxy = await startProxy({
    vars: { HF_TOKEN: TOKEN, UPSTREAMS: up.url, CHAT_UPSTREAMS: up.url, ROUTER_UPSTREAMS: up.url, HUB_URL: up.url, ALLOWED_MODELS: `gpt2,${LLAMA}`, ALLOWED_PROVIDERS: "hf-inference,auto,together", ...vars },
    ...options,
  });
  proxies.push(proxy);
  return proxy;
}

async function call(proxy, path, { key, body, method = "POST" } = {}) {
  const headers = { "content-type": "application/json" };
  if (key) headers["x-api-key"] = key;
  return kept(await fetch(`${proxy.url}${path}`, { method, headers, body: method === "GET" ? undefined : JSON.stringify(body ?? {}) }));
}

/** A response read whole and kept for the leak check. */
async function kept(response) {
  const text = await response.text();
  const answer = { status: response.status, headers: Object.fromEntries(response.headers), text };
  try {
    answer.json = JSON.parse(text);
  } catch {}
  transcript.push(answer);
  return answer;
}

// A provider's chat (billed per token): its tokens are not read yet, so it is
// charged its reservation's estimate.
const chat = (proxy, key) => call(proxy, "/v1/chat/completions", { key, body: { model: `${LLAMA}:together`, messages: [{ role: "user", content: "hi" }] } });

before(async () => {
  up = await startUpstream({ port: 0 });
});

beforeEach(() => up.reset());

after(async () => {
  for (const proxy of proxies) await proxy.close();
  await up.close();
  const everything = JSON.stringify(transcript) + proxies.flatMap((p) => p.logs).join("\n");
  assert.ok(!everything.includes(TOKEN), "the token appeared in an answer or a log line");
  assert.ok(!everything.includes(ADMIN_KEY), "the admin key appeared in an answer or a log line");
  for (const key of Object.values(KEYS)) {
    assert.ok(!everything.includes(key), "a client key appeared in an answer or a log line");
    assert.ok(!everything.toLowerCase().includes(sha256hex(key)), "a client key's hash appeared in an answer or a log line");
  }
});

describe("budgets", () => {
  test("a request over the client's daily cap is 402 BUDGET_EXCEEDED before it is forwarded", async () => {
    const proxy = await proxyWith({ CLIENT_KEYS, PRICES, BUDGETS: JSON.stringify({ client: { daily_usd: 0.5 } }) });
    for (let i = 0; i < 2; i++) {
      const ok = await chat(proxy, KEYS.app);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers["x-usage-cost"], "0.25");
    }
    // Settlement runs after the answer (waitUntil): give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    const before = up.requests.length;
    const refused = await chat(proxy, KEYS.app);
    assert.equal(refused.status, 402, refused.text);
    assert.equal(refused.json.code, "BUDGET_EXCEEDED");
    assert.match(refused.json.error, /daily budget/);
    assert.match(refused.json.error, /0\.5 USD/);
    const wait = Number(refused.headers["retry-after"]);
    assert.ok(wait > 0 && wait <= 86_400, `retry-after ${refused.headers["retry-after"]}`);
    assert.equal(up.requests.length, before, "a refused request reached the upstream");
    // Another client has its own budget.
    assert.equal((await chat(proxy, KEYS.other)).status, 200);
  });

  test("the total cap holds across clients and names the proxy's budget", async () => {
    const proxy = await proxyWith({ CLIENT_KEYS, PRICES, BUDGETS: JSON.stringify({ client: { daily_usd: 1 }, total: { monthly_usd: 0.5 } }) });
    assert.equal((await chat(proxy, KEYS.app)).status, 200);
    assert.equal((await chat(proxy, KEYS.other)).status, 200);
    const refused = await chat(proxy, KEYS.app);
    assert.equal(refused.status, 402);
    assert.match(refused.json.error, /total budget/);
    assert.ok(!refused.text.includes("other"), "the refusal names no other client");
  });

  test("32 concurrent requests against a budget that fits 4 forward at most 5", async () => {
    const proxy = await proxyWith({ CLIENT_KEYS, PRICES, BUDGETS: JSON.stringify({ client: { daily_usd: 1 } }) });
    const answers = await Promise.all(Array.from({ length: 32 }, () => chat(proxy, KEYS.app)));
    const ok = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 402).length;
    assert.equal(ok + refused, 32, JSON.stringify(answers.map((a) => a.status)));
    const forwarded = forwardedTo(up).length;
    const overspendUsd = Math.max(0, forwarded * 0.25 - 1);
    console.log(`# usage: 32 concurrent against a budget for 4: ${ok} forwarded (upstream saw ${forwarded}), ${refused} refused, overspend ${overspendUsd} USD`);
    assert.ok(forwarded <= 5 && ok <= 5, `${forwarded} forwarded`);
    assert.ok(ok >= 1);
  });
});

describe("x-usage-cost", () => {
  test("an hf-inference answer costs its compute time on its hardware", async () => {
    const proxy = await proxyWith({ PRICES });
    const answer = await call(proxy, "/models/gpt2", { body: { inputs: "Hello" } });
    assert.equal(answer.status, 200, answer.text);
    const seconds = Number(answer.headers["x-compute-time"]);
    assert.equal(answer.headers["x-compute-type"], "cpu");
    const cost = Number(answer.headers["x-usage-cost"]);
    assert.ok(Number.isFinite(cost), answer.headers["x-usage-cost"]);
    assert.ok(Math.abs(cost - seconds * 0.00012) <= 2e-6, `${cost} for ${seconds} s of cpu`);
  });

  test("without the USAGE binding and without budgets, answers still carry the estimate", async () => {
    const proxy = await proxyWith({ PRICES }, {});
    const answer = await chat(proxy);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["x-usage-cost"], "0.25");
  });
});

const ADMIN_KEY = "adm_usage_7c1e9b3f5a";
const computed = (answers) => answers.reduce((sum, a) => sum + Math.round(Number(a.headers["x-compute-time"] ?? 0) * 1000), 0) / 1000;
/** The tokens of chat answers, as their `usage` reports them. */
const tokens = (answers, kind) => answers.reduce((sum, a) => sum + a.json.usage[kind], 0);
/** What the upstream saw, but the router's price list. */
const forwardedTo = (upstream) => upstream.requests.filter((r) => r.path !== "/v1/models");
const settle = () => new Promise((r) => setTimeout(r, 300));
const get = async (proxy, path, headers = {}) => kept(await fetch(`${proxy.url}${path}`, { headers }));

describe("reading usage", () => {
  const BUDGETS = JSON.stringify({
    client: { daily_usd: 1, monthly_usd: 10 },
    keys: { app: { daily_usd: 5 } },
    total: { daily_usd: 50, monthly_usd: 500 },
  });
  // together's price of the chat model is nowhere: each is charged its estimate.
  const counters = (answers, cost) => ({
    requests: answers.length, attempts: answers.length, errors: 0, cache_hits: 0, compute_seconds: computed(answers),
    prompt_tokens: tokens(answers, "prompt_tokens"), completion_tokens: tokens(answers, "completion_tokens"),
    cost_usd: cost, cost_estimated: true,
  });

  test("/usage/me is the caller's own totals and what its budgets leave; /usage every client's, paged, behind ADMIN_KEY", async () => {
    const proxy = await proxyWith({ CLIENT_KEYS, PRICES, BUDGETS, ADMIN_KEY });
    const mine = [await chat(proxy, KEYS.app), await chat(proxy, KEYS.app)];
    const theirs = [await chat(proxy, KEYS.other)];
    for (const a of [...mine, ...theirs]) assert.equal(a.status, 200, a.text);
    await settle();
    const me = await call(proxy, "/usage/me", { key: KEYS.app, method: "GET" });
    assert.equal(me.status, 200, me.text);
    const c = counters(mine, 0.5);
    assert.deepEqual(me.json, {
      client: "app",
      day: { ...c, budget_usd: 5, remaining_usd: 4.5 },
      month: { ...c, budget_usd: 10, remaining_usd: 9.5 },
      models: { [LLAMA]: c },
    });
    assert.ok(!me.text.includes("other"), "/usage/me shows no other client");
    // No key: 401, as every route behind CLIENT_KEYS.
    assert.equal((await call(proxy, "/usage/me", { method: "GET" })).status, 401);

    assert.equal((await get(proxy, "/usage")).status, 401);
    assert.equal((await get(proxy, "/usage", { authorization: "Bearer nope" })).status, 401);
    const all = await get(proxy, "/usage", { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json.clients.map((x) => x.client), ["app", "other"]);
    assert.deepEqual(all.json.clients[0], me.json);
    const o = counters(theirs, 0.25);
    assert.deepEqual(all.json.clients[1], {
      client: "other",
      day: { ...o, budget_usd: 1, remaining_usd: 0.75 },
      month: { ...o, budget_usd: 10, remaining_usd: 9.75 },
      models: { [LLAMA]: o },
    });
    const t = counters([...mine, ...theirs], 0.75);
    assert.deepEqual(all.json.total, {
      day: { ...t, budget_usd: 50, remaining_usd: 49.25 },
      month: { ...t, budget_usd: 500, remaining_usd: 499.25 },
    });
    assert.equal(all.json.next_cursor, null);
    const first = await get(proxy, "/usage?limit=1", { authorization: `Bearer ${ADMIN_KEY}` });
    assert.deepEqual([first.json.clients.map((x) => x.client), first.json.next_cursor], [["app"], "app"]);
    const second = await get(proxy, `/usage?limit=1&cursor=${first.json.next_cursor}`, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.deepEqual([second.json.clients.map((x) => x.client), second.json.next_cursor], [["other"], null]);
    assert.equal(forwardedTo(up).length, 3, "reading usage forwards nothing");
  });

  test("without ADMIN_KEY, GET /usage is 404", async () => {
    const proxy = await proxyWith({ PRICES });
    assert.equal((await get(proxy, "/usage", { authorization: "Bearer anything" })).status, 404);
  });
});

describe("tokens", () => {
  const QWEN = "Qwen/Qwen2.5-7B-Instruct";
  // PRICES names its own per-token price of the chat model: 1,000 and 2,000 USD
  // per million, so a token in is 1,000 micro-USD and a token out 2,000.
  const TOKEN_PRICES = JSON.stringify({ models: { [LLAMA]: { input_per_million: 1000, output_per_million: 2000, request_usd: 0.01 } } });
  const usageMe = async (proxy) => (await call(proxy, "/usage/me", { method: "GET" })).json;
  const messages = [{ role: "user", content: "Tell me about the sea" }];

  test("a provider's chat answer counts its usage's tokens, priced per token by PRICES.models", async () => {
    const proxy = await proxyWith({ PRICES: TOKEN_PRICES });
    const answer = await call(proxy, "/v1/chat/completions", { body: { model: `${LLAMA}:together`, messages, max_tokens: 5 } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers["x-usage-cost"], "0.01", "the estimate, as the tokens were not known yet");
    const { prompt_tokens, completion_tokens } = answer.json.usage;
    assert.deepEqual([prompt_tokens, completion_tokens], [5, 5]);
    await settle();
    const me = await usageMe(proxy);
    assert.deepEqual(
      [me.day.prompt_tokens, me.day.completion_tokens, me.day.cost_usd, me.day.cost_estimated],
      [5, 5, 0.015, false],
    );
    assert.equal(up.requests.filter((r) => r.path === "/v1/models").length, 0, "PRICES priced it: the router's list is not asked");
  });

  test("otherwise by the router's GET /v1/models, fetched once per isolate off the request path", async () => {
    const proxy = await proxyWith({ ALLOWED_MODELS: QWEN });
    const ask = (i) => call(proxy, "/together/v1/chat/completions", { body: { model: "Qwen/Qwen2.5-7B-Instruct-Turbo", messages, max_tokens: 4 + i } });
    // Four at once need the list together: one fetches it, the others wait for it.
    const answers = await Promise.all([0, 1, 2, 3].map(ask));
    answers.push(await ask(4));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    await settle();
    const me = await usageMe(proxy);
    // 0.3 USD per million both ways: 0.3 micro-USD a token, rounded up per answer.
    const expected = answers.reduce((sum, a) => sum + Math.ceil(0.3 * a.json.usage.total_tokens), 0) / 1e6;
    assert.deepEqual([me.day.requests, me.day.cost_usd, me.day.cost_estimated], [5, expected, false]);
    assert.equal(me.day.prompt_tokens, tokens(answers, "prompt_tokens"));
    const lists = up.requests.filter((r) => r.path === "/v1/models");
    assert.equal(lists.length, 1, "the list is kept, not asked per request");
    assert.equal(lists[0].method, "GET");
    assert.equal(lists[0].headers.authorization, `Bearer ${TOKEN}`);
  });

  test("a stream is asked for its usage, and the usage chunk is kept from the client that did not ask", async () => {
    const proxy = await proxyWith({ PRICES: TOKEN_PRICES });
    const body = { model: `${LLAMA}:together`, messages, stream: true };
    const answer = await call(proxy, "/v1/chat/completions", { body });
    assert.equal(answer.status, 200, answer.text);
    const sent = up.requests.at(-1);
    assert.deepEqual(sent.json, { ...body, stream_options: { include_usage: true } });
    assert.ok(sent.bodyText.startsWith('{"stream_options":{"include_usage":true},'), "the client's bytes are kept after it");
    // What the client sees: the upstream's stream less its last chunk (no choices, the usage).
    const direct = await (await fetch(`${up.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sent.json) })).text();
    const events = direct.split("\n\n");
    const usageEvent = events.findIndex((e) => e.includes('"choices":[]'));
    const usage = JSON.parse(events[usageEvent].slice("data: ".length)).usage;
    events.splice(usageEvent, 1);
    assert.equal(answer.text, events.join("\n\n"));
    assert.ok(!answer.text.includes('"choices":[]'));
    await settle();
    const me = await usageMe(proxy);
    assert.deepEqual(
      [me.day.prompt_tokens, me.day.completion_tokens, me.day.cost_usd, me.day.cost_estimated],
      [usage.prompt_tokens, usage.completion_tokens, (usage.prompt_tokens * 1000 + usage.completion_tokens * 2000) / 1e6, false],
    );
  });

  test("a stream with stream_options of its own gets include_usage set among them, and the chunk is kept from it", async () => {
    const proxy = await proxyWith({ PRICES: TOKEN_PRICES });
    const body = { model: `${LLAMA}:together`, messages, stream: true, stream_options: { include_usage: false, continuous_usage_stats: true } };
    const answer = await call(proxy, "/v1/chat/completions", { body });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(up.requests.at(-1).json, { ...body, stream_options: { include_usage: true, continuous_usage_stats: true } });
    assert.ok(!answer.text.includes('"choices":[]'), "the usage chunk is kept from the client");
    assert.ok(answer.text.endsWith("data: [DONE]\n\n"));
    await settle();
    const me = await usageMe(proxy);
    assert.deepEqual([me.day.completion_tokens > 0, me.day.cost_estimated], [true, false]);
  });

  test("a client that asked for the usage chunk gets it, as upstream sent it", async () => {
    const proxy = await proxyWith({ PRICES: TOKEN_PRICES });
    const body = { model: `${LLAMA}:together`, messages, stream: true, stream_options: { include_usage: true } };
    const answer = await call(proxy, "/v1/chat/completions", { body });
    const direct = await (await fetch(`${up.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).text();
    assert.equal(answer.text, direct);
    assert.deepEqual(up.requests.at(-2).json, body, "sent as the client wrote it");
    await settle();
    assert.equal((await usageMe(proxy)).day.cost_estimated, false);
  });

  test("a stream the client aborts counts the tokens relayed until then, marked estimated", async () => {
    const proxy = await proxyWith({ PRICES: TOKEN_PRICES });
    up.fault({ streamIntervalMs: 40, times: 1 });
    const abort = new AbortController();
    const response = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST", signal: abort.signal, headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: `${LLAMA}:together`, messages, stream: true }),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while ((text.match(/"content"/g) ?? []).length < 3) text += decoder.decode((await reader.read()).value, { stream: true });
    abort.abort();
    await reader.read().catch(() => {});
    // The relay sees the client gone at its next write.
    await new Promise((r) => setTimeout(r, 600));
    const me = await usageMe(proxy);
    const relayed = me.day.completion_tokens;
    // "Tell me about the sea" is 21 characters: 6 tokens at four characters a token.
    assert.equal(me.day.prompt_tokens, 6);
    assert.ok(relayed >= 3 && relayed < 12, `${relayed} tokens relayed of 12`);
    assert.equal(me.day.cost_usd, (6 * 1000 + relayed * 2000) / 1e6);
    assert.equal(me.day.cost_estimated, true);
    assert.ok(up.requests.at(-1).closedEarly, "the upstream's stream was cancelled too");
  });

  test("a cache hit is counted: a request, no attempt, no cost", async () => {
    const proxy = await proxyWith({ PRICES, CACHE_MODELS: "gpt2" });
    const first = await call(proxy, "/models/gpt2", { body: { inputs: "cache me" } });
    const second = await call(proxy, "/models/gpt2", { body: { inputs: "cache me" } });
    assert.deepEqual([first.headers["x-cache"], second.headers["x-cache"], second.headers["x-usage-cost"]], ["MISS", "HIT", "0"]);
    await settle();
    const me = await usageMe(proxy);
    assert.deepEqual(
      [me.day.requests, me.day.attempts, me.day.cache_hits, me.models.gpt2.cache_hits],
      [2, 1, 1, 1],
    );
    assert.equal(me.day.cost_usd, Number(first.headers["x-usage-cost"]));
  });
});

describe("counts against the upstream's log", () => {
  test("1,000 requests with 30 % injected upstream faults and client aborts: attempts counted equal what the upstream saw", async () => {
    const proxy = await proxyWith({ PRICES, ADMIN_KEY, RATE_LIMIT_PER_MINUTE: "1000000", BUDGETS: JSON.stringify({ total: { daily_usd: 1000 } }) });
    up.fault({ status: 500, body: '{"error":"injected"}', probability: 0.3, times: -1 });
    // Slow answers, and every tenth client gives up after 30 ms.
    up.fault({ delayMs: 80, probability: 0.2, times: -1 });
    const N = 1000;
    let next = 0;
    const statuses = [];
    let aborted = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next++;
          const ip = `198.51.100.${i % 5}`;
          const abort = new AbortController();
          // Node 20's fetch (undici 6) can leave a body read pending forever
          // when the abort comes after the headers (nodejs/undici#4089, seen
          // here on a loaded machine): the abort itself ends the wait.
          const gaveUp = new Promise((_, reject) => abort.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }));
          gaveUp.catch(() => {});
          if (i % 10 === 0) setTimeout(() => abort.abort(), 30);
          // Every fifth is a provider's chat stream, relayed and counted by its tokens.
          const [path, body] =
            i % 5 === 4
              ? ["/v1/chat/completions", { model: `${LLAMA}:together`, messages: [{ role: "user", content: `soak ${i}` }], stream: true }]
              : ["/models/gpt2", { inputs: `soak ${i}` }];
          try {
            const response = await fetch(`${proxy.url}${path}`, { method: "POST", signal: abort.signal, headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify(body) });
            await Promise.race([response.text(), gaveUp]);
            statuses.push(response.status);
          } catch {
            aborted++;
          }
        }
      }),
    );
    await settle();
    await settle();
    const all = await get(proxy, "/usage", { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(all.status, 200, all.text);
    const day = all.json.total.day;
    const failed = statuses.filter((s) => s !== 200).length;
    const seen = forwardedTo(up).length;
    console.log(`# usage soak: ${N} requests (${aborted} aborted by the client), ${seen} upstream attempts seen, ${day.attempts} counted; ${failed} answered with an error, ${day.errors} errors counted; ${day.completion_tokens} completion tokens`);
    assert.ok(aborted > 0, "some clients aborted");
    assert.equal(day.requests, N, "an aborted request is counted too");
    assert.equal(day.attempts, seen, "attempts counted = the upstream's log");
    // An aborted request's own answer is not known to the client.
    assert.ok(day.errors >= failed && day.errors <= failed + aborted, `${day.errors} errors counted`);
    assert.equal(all.json.clients.length, 5);
    assert.equal(all.json.clients.reduce((sum, c) => sum + c.day.attempts, 0), seen);
    assert.equal(all.json.total.day.requests, all.json.clients.reduce((sum, c) => sum + c.day.requests, 0));
  });
});

describe("USAGE failures", () => {
  test("BUDGETS without a USAGE binding is 500 CONFIG naming it", async () => {
    const proxy = await proxyWith({ BUDGETS: JSON.stringify({ client: { daily_usd: 1 } }) }, {});
    const answer = await chat(proxy);
    assert.equal(answer.status, 500);
    assert.equal(answer.json.code, "CONFIG");
    assert.match(answer.json.error, /USAGE/);
    assert.equal(up.requests.length, 0);
  });

  test("with budgets set, a USAGE object that cannot be reached is 503 naming USAGE (fail closed)", async () => {
    const broken = {
      name: "broken",
      modules: true,
      script: "export class Broken { fetch() { throw new Error('storage is down'); } }\nexport default { fetch() { return new Response('') } }",
      durableObjects: { SELF: "Broken" },
      compatibilityDate: "2025-11-01",
    };
    const proxy = await proxyWith(
      { PRICES, BUDGETS: JSON.stringify({ client: { daily_usd: 1 } }) },
      { durableObjects: { USAGE: { className: "Broken", scriptName: "broken" } }, extraWorkers: [broken] },
    );
    const answer = await chat(proxy);
    assert.equal(answer.status, 503, answer.text);
    assert.match(answer.json.error, /USAGE/);
    assert.equal(up.requests.length, 0, "nothing was forwarded");
  });
});
