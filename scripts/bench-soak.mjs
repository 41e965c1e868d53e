// Soak benchmark of the client's resilience (`make bench-soak`):
// 1,000 textClassification calls, 25 in flight, against two local upstreams
// that fault 30 % of requests (429 with and without Retry-After, 503 loading,
// 500, dropped connections, stalls past the timeout); upstream B is killed
// half-way. Prints success rate, latency percentiles, attempts per call and
// calls over their deadline, with the machine it ran on, and writes them to
// build/bench-soak.md.

import { InferenceClient } from "../pkg/index.node.js";
import { startUpstream } from "../tests/upstream/upstream.mjs";
import { machine, percentile, report } from "./bench-report.mjs";

const TOTAL = 1000;
const IN_FLIGHT = 25;
const DEADLINE_MS = 10_000;
const TIMEOUT_MS = 400;
const FAULTS = [
  { status: 429, body: '{"error":"Rate limit reached"}', headers: { "retry-after": "1" } },
  { status: 429, body: '{"error":"Rate limit reached"}' },
  { status: 503, body: '{"error":"Model is currently loading","estimated_time":0.5}' },
  { status: 500, body: '{"error":"Internal error"}' },
  { drop: true },
  { stall: true },
];

const a = await startUpstream({ port: 0 });
const b = await startUpstream({ port: 0 });
a.chaos({ rate: 0.3, seed: 11, faults: FAULTS });
b.chaos({ rate: 0.3, seed: 22, faults: FAULTS });

const client = new InferenceClient({
  endpoint: [
    { url: a.url, name: "A" },
    { url: b.url, name: "B" },
  ],
  timeoutMs: TIMEOUT_MS,
  retry: { maxAttempts: 8, deadlineMs: DEADLINE_MS },
});

const results = [];
let started = 0;
let killedAt = null;

async function one(i) {
  let attempts = 0;
  const t0 = performance.now();
  try {
    await client.textClassification(
      "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
      `soak request ${i}: the service is good today`,
      undefined,
      { onAttempt: () => attempts++ },
    );
    results.push({ ok: true, ms: performance.now() - t0, attempts });
  } catch (err) {
    results.push({ ok: false, ms: performance.now() - t0, attempts, code: err.code });
  }
}

async function worker() {
  while (started < TOTAL) {
    const i = started++;
    if (i === TOTAL / 2 && killedAt === null) {
      killedAt = i;
      b.close(); // in-flight requests to B are cut; later ones are refused
    }
    await one(i);
  }
}

const wall0 = performance.now();
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
const wallMs = performance.now() - wall0;
await a.close();

const latencies = results.map((r) => r.ms).sort((x, y) => x - y);
const ok = results.filter((r) => r.ok).length;
const attempts = results.map((r) => r.attempts);
const overDeadline = results.filter((r) => r.ms > DEADLINE_MS).length;
const failures = {};
for (const r of results.filter((r) => !r.ok)) failures[r.code] = (failures[r.code] ?? 0) + 1;
const injected = a.requests.length + b.requests.length;

report("bench-soak.md", [
  `Soak: ${TOTAL} calls, ${IN_FLIGHT} in flight, 2 upstreams faulting 30 % (B killed after ${killedAt} calls started), ` +
    `timeoutMs ${TIMEOUT_MS}, retry {maxAttempts: 8, deadlineMs: ${DEADLINE_MS}}`,
  `Machine: ${machine()}`,
  "",
  "| figure | value |",
  "|---|---|",
  `| success | ${ok} / ${TOTAL} (${((100 * ok) / TOTAL).toFixed(1)} %) |`,
  `| latency p50 / p99 / max | ${percentile(latencies, 50).toFixed(0)} / ${percentile(latencies, 99).toFixed(0)} / ${latencies.at(-1).toFixed(0)} ms |`,
  `| attempts per call, mean / max | ${(attempts.reduce((s, x) => s + x, 0) / TOTAL).toFixed(2)} / ${Math.max(...attempts)} |`,
  `| calls over the ${DEADLINE_MS} ms deadline | ${overDeadline} |`,
  `| requests seen upstream | ${injected} |`,
  `| failures by code | ${Object.keys(failures).length ? JSON.stringify(failures) : "none"} |`,
  `| wall time | ${(wallMs / 1000).toFixed(1)} s |`,
]);
