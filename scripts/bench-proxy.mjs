// Proxy overhead benchmark (`make bench-proxy`): the Rust proxy worker against
// a minimal JS pass-through worker in the same workerd (Miniflare), both to the
// same local upstream, 2,000 requests each after a warm-up, 16 in flight.
// Prints p50 / p99 latency and throughput of each and their ratios, with the
// machine, and writes them to build/bench-proxy.md.

import { startUpstream } from "../tests/upstream/upstream.mjs";
import { COMPATIBILITY_DATE, startProxy } from "../tests/support/proxy.mjs";
import { cpuMs, load as load_, machine, pooled, report, workerdPids } from "./bench-report.mjs";

const REQUESTS = 2000;
// Both workers take about 1,500 requests to reach their steady speed (the
// JIT warming the JS and the wasm alike): the figures are of steady speed.
const WARM_UP = 2000;
const IN_FLIGHT = 16;
const MODEL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";

// The least a proxy can do: add the token, forward, stream the answer back.
const PASS_THROUGH = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers({ authorization: "Bearer " + env.HF_TOKEN });
    const type = request.headers.get("content-type");
    if (type) headers.set("content-type", type);
    return fetch(env.UPSTREAMS + url.pathname, { method: "POST", headers, body: request.body });
  },
};`;

// The fixed costs, measured by workerd's CPU time: a JS worker answering a
// constant, the same printing a log line like the proxy's, and the proxy's
// own `GET /healthz`.
const CONSTANT = `
export default {
  async fetch(request) {
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
};`;
const LINE = JSON.stringify({ method: "GET", path: "/healthz", status: 200, duration_ms: 0, attempts: 0 });
const CONSTANT_LOGGING = CONSTANT.replace("return new Response(", `console.log(${JSON.stringify(LINE)});\n    return new Response(`);

const up = await startUpstream({ port: 0 });
const vars = { HF_TOKEN: "hf_benchmark", ALLOWED_MODELS: MODEL, UPSTREAMS: up.url, RATE_LIMIT_PER_MINUTE: "1000000" };
const proxy = await startProxy({
  vars,
  // The log lines are drained, not kept: keeping them is the test
  // harness's work, done in this process beside the upstream.
  collectLogs: false,
  extraWorkers: [
    { name: "passthrough", modules: true, script: PASS_THROUGH, compatibilityDate: COMPATIBILITY_DATE, bindings: vars },
    { name: "constant", modules: true, script: CONSTANT, compatibilityDate: COMPATIBILITY_DATE },
    { name: "logging", modules: true, script: CONSTANT_LOGGING, compatibilityDate: COMPATIBILITY_DATE },
  ],
});
const workers = Object.fromEntries(
  await Promise.all(["proxy", "passthrough", "constant", "logging"].map(async (name) => [name, await proxy.mf.getWorker(name)])),
);
const pids = workerdPids();
const cpu = { proxy: 0, passthrough: 0 };

const load = (name, count) =>
  load_(workers[name], count, IN_FLIGHT, (i) => [
    `http://proxy.local/models/${MODEL}`,
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: `benchmark request ${i % 50}` }) },
  ]);

// Warm both, then measure in alternating halves so drift hits both alike.
await load("proxy", WARM_UP);
await load("passthrough", WARM_UP);
const halves = { proxy: [], passthrough: [] };
for (const round of [0, 1]) {
  for (const name of round ? ["passthrough", "proxy"] : ["proxy", "passthrough"]) {
    const before = cpuMs(pids);
    halves[name].push(await load(name, REQUESTS / 2));
    cpu[name] += cpuMs(pids) - before;
  }
}

// The fixed costs: 3,000 requests each after 1,000, 8 in flight, in three
// rounds with each worker first, second and third once.
const FIXED = ["proxy", "constant", "logging"];
const fixed = Object.fromEntries(FIXED.map((name) => [name, 0]));
const health = (name, count) => load_(workers[name], count, 8, () => ["http://proxy.local/healthz", {}]);
for (const name of FIXED) await health(name, 1000);
for (const round of [0, 1, 2]) {
  for (const name of [...FIXED.slice(round), ...FIXED.slice(0, round)]) {
    const before = cpuMs(pids);
    await health(name, 1000);
    fixed[name] += cpuMs(pids) - before;
  }
}
await proxy.close();
await up.close();

const perRequest = (ms, count) => (pids.length ? `${Math.round((ms * 1000) / count)} µs` : "not measured");
const p = pooled(halves.proxy);
const t = pooled(halves.passthrough);
report("bench-proxy.md", [
  `Proxy overhead: ${REQUESTS} requests each (after ${WARM_UP} warm-up), ${IN_FLIGHT} in flight, same workerd, same local upstream`,
  `Machine: ${machine()}`,
  "",
  "| worker | p50 | p99 | throughput |",
  "|---|---|---|---|",
  `| Rust proxy | ${p.p50.toFixed(2)} ms | ${p.p99.toFixed(2)} ms | ${p.throughput.toFixed(0)} req/s |`,
  `| JS pass-through | ${t.p50.toFixed(2)} ms | ${t.p99.toFixed(2)} ms | ${t.throughput.toFixed(0)} req/s |`,
  `| ratio (proxy / pass-through) | ${(p.p50 / t.p50).toFixed(2)}x | ${(p.p99 / t.p99).toFixed(2)}x | ${(p.throughput / t.throughput).toFixed(2)}x |`,
  "",
  "workerd's CPU time per request (Miniflare's own share included; /proc, Linux only):",
  "",
  "| worker | CPU per request |",
  "|---|---|",
  `| Rust proxy, POST /models/... | ${perRequest(cpu.proxy, REQUESTS)} |`,
  `| JS pass-through | ${perRequest(cpu.passthrough, REQUESTS)} |`,
  `| Rust proxy, GET /healthz | ${perRequest(fixed.proxy, 3000)} |`,
  `| JS worker answering a constant | ${perRequest(fixed.constant, 3000)} |`,
  `| the same, printing a log line | ${perRequest(fixed.logging, 3000)} |`,
]);
