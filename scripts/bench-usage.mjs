// Accounting overhead benchmark (`make bench-usage`): the proxy worker with
// usage accounting and budgets on (the USAGE Durable Objects: a reservation in
// the client's and the total's object before forwarding, settlement after)
// against the same worker with it off, in the same workerd (Miniflare), to the
// same local upstream: 2,000 requests each after a warm-up, 16 in flight.
// Prints p50 / p99 latency and throughput of each and writes build/bench-usage.md.

import { startUpstream } from "../tests/upstream/upstream.mjs";
import { proxyWorkerOptions, startProxy } from "../tests/support/proxy.mjs";
import { load as load_, machine, report } from "./bench-report.mjs";

const REQUESTS = 2000;
const WARM_UP = 200;
const IN_FLIGHT = 16;
const MODEL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";

const up = await startUpstream({ port: 0 });
const vars = { HF_TOKEN: "hf_benchmark", ALLOWED_MODELS: MODEL, UPSTREAMS: up.url, RATE_LIMIT_PER_MINUTE: "1000000" };
// Budgets far above what the run spends: every request reserves and settles.
const BUDGETS = JSON.stringify({ client: { daily_usd: 100000 }, total: { daily_usd: 100000 } });
const proxy = await startProxy({
  vars: { ...vars, BUDGETS },
  usage: true,
  extraWorkers: [proxyWorkerOptions("off", vars)],
});
const workers = { on: await proxy.mf.getWorker("proxy"), off: await proxy.mf.getWorker("off") };

const load = (name, count) =>
  load_(workers[name], count, IN_FLIGHT, (i) => [
    `http://proxy.local/models/${MODEL}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": `198.51.100.${i % 8}` },
      body: JSON.stringify({ inputs: `benchmark request ${i % 50}` }),
    },
  ]);

// Warm both, then measure in alternating halves so drift hits both alike.
await load("on", WARM_UP);
await load("off", WARM_UP);
const halves = { on: [], off: [] };
for (const round of [0, 1]) {
  for (const name of round ? ["off", "on"] : ["on", "off"]) halves[name].push(await load(name, REQUESTS / 2));
}
await proxy.close();
await up.close();

const merge = ([a, b]) => ({ p50: (a.p50 + b.p50) / 2, p99: Math.max(a.p99, b.p99), throughput: (a.throughput + b.throughput) / 2 });
const on = merge(halves.on);
const off = merge(halves.off);
report("bench-usage.md", [
  `Accounting overhead: ${REQUESTS} requests each (after ${WARM_UP} warm-up), ${IN_FLIGHT} in flight from 8 client addresses, same workerd, same local upstream`,
  `Machine: ${machine()}`,
  "",
  "| proxy | p50 | p99 | throughput |",
  "|---|---|---|---|",
  `| accounting on (BUDGETS, USAGE) | ${on.p50.toFixed(2)} ms | ${on.p99.toFixed(2)} ms | ${on.throughput.toFixed(0)} req/s |`,
  `| accounting off | ${off.p50.toFixed(2)} ms | ${off.p99.toFixed(2)} ms | ${off.throughput.toFixed(0)} req/s |`,
  `| ratio (on / off) | ${(on.p50 / off.p50).toFixed(2)}x | ${(on.p99 / off.p99).toFixed(2)}x | ${(on.throughput / off.throughput).toFixed(2)}x |`,
]);
