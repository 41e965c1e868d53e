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
    const forwarded = up.requests.length;
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
const settle = () => new Promise((r) => setTimeout(r, 300));
const get = async (proxy, path, headers = {}) => kept(await fetch(`${proxy.url}${path}`, { headers }));

describe("reading usage", () => {
  const BUDGETS = JSON.stringify({
    client: { daily_usd: 1, monthly_usd: 10 },
    keys: { app: { daily_usd: 5 } },
    total: { daily_usd: 50, monthly_usd: 500 },
  });
  const counters = (n, computeSeconds, cost) => ({
    requests: n, attempts: n, errors: 0, cache_hits: 0, compute_seconds: computeSeconds,
    prompt_tokens: 0, completion_tokens: 0, cost_usd: cost,
  });
  const computed = (answers) => answers.reduce((sum, a) => sum + Math.round(Number(a.headers["x-compute-time"] ?? 0) * 1000), 0) / 1000;

  test("/usage/me is the caller's own totals and what its budgets leave; /usage every client's, paged, behind ADMIN_KEY", async () => {
    const proxy = await proxyWith({ CLIENT_KEYS, PRICES, BUDGETS, ADMIN_KEY });
    const mine = [await chat(proxy, KEYS.app), await chat(proxy, KEYS.app)];
    const theirs = [await chat(proxy, KEYS.other)];
    for (const a of [...mine, ...theirs]) assert.equal(a.status, 200, a.text);
    await settle();
    const me = await call(proxy, "/usage/me", { key: KEYS.app, method: "GET" });
    assert.equal(me.status, 200, me.text);
    const c = counters(2, computed(mine), 0.5);
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
    const o = counters(1, computed(theirs), 0.25);
    assert.deepEqual(all.json.clients[1], {
      client: "other",
      day: { ...o, budget_usd: 1, remaining_usd: 0.75 },
      month: { ...o, budget_usd: 10, remaining_usd: 9.75 },
      models: { [LLAMA]: o },
    });
    const t = counters(3, computed([...mine, ...theirs]), 0.75);
    assert.deepEqual(all.json.total, {
      day: { ...t, budget_usd: 50, remaining_usd: 49.25 },
      month: { ...t, budget_usd: 500, remaining_usd: 499.25 },
    });
    assert.equal(all.json.next_cursor, null);
    const first = await get(proxy, "/usage?limit=1", { authorization: `Bearer ${ADMIN_KEY}` });
    assert.deepEqual([first.json.clients.map((x) => x.client), first.json.next_cursor], [["app"], "app"]);
    const second = await get(proxy, `/usage?limit=1&cursor=${first.json.next_cursor}`, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.deepEqual([second.json.clients.map((x) => x.client), second.json.next_cursor], [["other"], null]);
    assert.equal(up.requests.length, 3, "reading usage forwards nothing");
  });

  test("without ADMIN_KEY, GET /usage is 404", async () => {
    const proxy = await proxyWith({ PRICES });
    assert.equal((await get(proxy, "/usage", { authorization: "Bearer anything" })).status, 404);
  });
});

describe("counts against the upstream's log", () => {
  test("300 requests with 30 % injected upstream faults and client aborts: attempts counted equal what the upstream saw", async () => {
    const proxy = await proxyWith({ PRICES, ADMIN_KEY, RATE_LIMIT_PER_MINUTE: "1000000", BUDGETS: JSON.stringify({ total: { daily_usd: 1000 } }) });
    up.fault({ status: 500, body: '{"error":"injected"}', probability: 0.3, times: -1 });
    // Slow answers, and every tenth client gives up after 30 ms.
    up.fault({ delayMs: 80, probability: 0.2, times: -1 });
    const N = 300;
    let next = 0;
    const statuses = [];
    let aborted = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next++;
          const ip = `198.51.100.${i % 5}`;
          const abort = new AbortController();
          if (i % 10 === 0) setTimeout(() => abort.abort(), 30);
          try {
            const response = await fetch(`${proxy.url}/models/gpt2`, { method: "POST", signal: abort.signal, headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify({ inputs: `soak ${i}` }) });
            await response.text();
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
    console.log(`# usage soak: ${N} requests (${aborted} aborted by the client), ${up.requests.length} upstream attempts seen, ${day.attempts} counted; ${failed} answered with an error, ${day.errors} errors counted`);
    assert.ok(aborted > 0, "some clients aborted");
    assert.equal(day.requests, N, "an aborted request is counted too");
    assert.equal(day.attempts, up.requests.length, "attempts counted = the upstream's log");
    // An aborted request's own answer is not known to the client.
    assert.ok(day.errors >= failed && day.errors <= failed + aborted, `${day.errors} errors counted`);
    assert.equal(all.json.clients.length, 5);
    assert.equal(all.json.clients.reduce((sum, c) => sum + c.day.attempts, 0), up.requests.length);
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
