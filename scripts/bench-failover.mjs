// Failover between providers (`make bench-failover`): 300 chatCompletion calls
// over three providers in order (groq, nscale, together) on the local upstream
// as the router: groq answers 429 half the time (seeded), nscale is down (503 on
// every request), together is healthy. Prints the success rate, attempts per
// call and where the attempts went, with the machine it ran on, and writes
// them to build/bench-failover.md.

import { InferenceClient } from "../pkg/index.node.js";
import { startUpstream } from "../tests/upstream/upstream.mjs";
import { machine, report } from "./bench-report.mjs";

const TOTAL = 300;
const IN_FLIGHT = 8;
const PROVIDERS = ["groq", "nscale", "together"];
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";

const up = await startUpstream({ port: 0, seed: 12 });
up.fault([
  { provider: "groq", status: 429, body: '{"error":"Rate limit reached"}', probability: 0.5, times: -1 },
  { provider: "nscale", status: 503, body: '{"error":"Service unavailable"}', times: -1 },
]);

const client = new InferenceClient({
  routerUrl: up.url,
  provider: PROVIDERS,
  retry: { maxAttempts: 4, baseDelayMs: 20 },
});

const results = [];
let started = 0;

async function one(i) {
  const tried = [];
  try {
    await client.chatCompletion(
      { model: MODEL, messages: [{ role: "user", content: `call ${i}` }], max_tokens: 8 },
      { onAttempt: (info) => tried.push(`${info.provider}:${info.status ?? info.code}`) },
    );
    results.push({ ok: true, tried });
  } catch (err) {
    results.push({ ok: false, tried, code: err.code });
  }
}

async function worker() {
  while (started < TOTAL) await one(started++);
}

const wall0 = performance.now();
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
const wallMs = performance.now() - wall0;
await up.close();

const ok = results.filter((r) => r.ok).length;
const attempts = results.map((r) => r.tried.length);
const outcomes = {};
for (const r of results) for (const t of r.tried) outcomes[t] = (outcomes[t] ?? 0) + 1;
const perCall = {};
for (const n of attempts) perCall[n] = (perCall[n] ?? 0) + 1;
const failures = {};
for (const r of results.filter((r) => !r.ok)) failures[r.code] = (failures[r.code] ?? 0) + 1;

report("bench-failover.md", [
  `Failover: ${TOTAL} chat calls, ${IN_FLIGHT} in flight, provider [${PROVIDERS.join(", ")}]: groq 429 half the time, ` +
    "nscale down (503), together healthy; retry {maxAttempts: 4, baseDelayMs: 20}",
  `Machine: ${machine()}`,
  "",
  "| figure | value |",
  "|---|---|",
  `| success | ${ok} / ${TOTAL} (${((100 * ok) / TOTAL).toFixed(1)} %) |`,
  `| attempts per call, mean / max | ${(attempts.reduce((s, x) => s + x, 0) / TOTAL).toFixed(2)} / ${Math.max(...attempts)} |`,
  `| calls by attempts | ${JSON.stringify(perCall)} |`,
  `| attempts by provider:outcome | ${JSON.stringify(outcomes)} |`,
  `| failures by code | ${Object.keys(failures).length ? JSON.stringify(failures) : "none"} |`,
  `| wall time | ${(wallMs / 1000).toFixed(1)} s |`,
]);
