// Accounting overhead benchmark (`make bench-usage`): the proxy worker with
// usage accounting and budgets on (the USAGE Durable Objects: a reservation in
// the client's and the total's object before forwarding, settlement after),
// with accounting but no budgets (nothing reserved: the counts are recorded
// after the answer), and with it off, in the same workerd (Miniflare), to the
// same local upstream: 2,000 requests each after a warm-up, 16 in flight.
// Prints p50 / p99 latency and throughput of each and writes build/bench-usage.md.

import { startUpstream } from "../tests/upstream/upstream.mjs";
import { proxyWorkerOptions, startProxy } from "../tests/support/proxy.mjs";
import { load as load_, machine, pooled, report } from "./bench-report.mjs";

const REQUESTS = 2000;
// Steady speed takes about 1,500 requests (bench-proxy.mjs).
const WARM_UP = 2000;
const IN_FLIGHT = 16;
const MODEL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";

const up = await startUpstream({ port: 0 });
const vars = { HF_TOKEN: "hf_benchmark", ALLOWED_MODELS: MODEL, UPSTREAMS: up.url, RATE_LIMIT_PER_MINUTE: "1000000" };
// Budgets far above what the run spends: every request reserves and settles.
const BUDGETS = JSON.stringify({ client: { daily_usd: 100000 }, total: { daily_usd: 100000 } });
const proxy = await startProxy({
  vars: { ...vars, BUDGETS },
  usage: true,
  collectLogs: false,
  extraWorkers: [
    proxyWorkerOptions("off", vars),
    // The same Durable Object class, bound from the first worker.
    { ...proxyWorkerOptions("counting", vars), durableObjects: { USAGE: { className: "Usage", scriptName: "proxy" } } },
  ],
});
const workers = {
  on: await proxy.mf.getWorker("proxy"),
  counting: await proxy.mf.getWorker("counting"),
  off: await proxy.mf.getWorker("off"),
};

const load = (name, count) =>
  load_(workers[name], count, IN_FLIGHT, (i) => [
    `http://proxy.local/models/${MODEL}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": `198.51.100.${i % 8}` },
      body: JSON.stringify({ inputs: `benchmark request ${i % 50}` }),
    },
  ]);

// Warm each, then measure in three rounds, each worker first, second and
// third once (a worker always run in the middle measured differently), so
// that drift and order hit all alike.
const NAMES = ["on", "counting", "off"];
for (const name of NAMES) await load(name, WARM_UP);
const rounds = { on: [], counting: [], off: [] };
for (const round of [0, 1, 2]) {
  const count = Math.floor(REQUESTS / 3) + (round < REQUESTS % 3 ? 1 : 0);
  for (const name of [...NAMES.slice(round), ...NAMES.slice(0, round)]) {
    // The objects finish each answer's settlement after it: a second to
    // drain, so that no configuration pays for the one before.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rounds[name].push(await load(name, count));
  }
}
await proxy.close();
await up.close();

const on = pooled(rounds.on);
const counting = pooled(rounds.counting);
const off = pooled(rounds.off);
report("bench-usage.md", [
  `Accounting overhead: ${REQUESTS} requests each (after ${WARM_UP} warm-up), ${IN_FLIGHT} in flight from 8 client addresses, same workerd, same local upstream`,
  `Machine: ${machine()}`,
  "",
  "| proxy | p50 | p99 | throughput |",
  "|---|---|---|---|",
  `| accounting on (BUDGETS, USAGE) | ${on.p50.toFixed(2)} ms | ${on.p99.toFixed(2)} ms | ${on.throughput.toFixed(0)} req/s |`,
  `| accounting without budgets (USAGE) | ${counting.p50.toFixed(2)} ms | ${counting.p99.toFixed(2)} ms | ${counting.throughput.toFixed(0)} req/s |`,
  `| accounting off | ${off.p50.toFixed(2)} ms | ${off.p99.toFixed(2)} ms | ${off.throughput.toFixed(0)} req/s |`,
  `| ratio (on / off) | ${(on.p50 / off.p50).toFixed(2)}x | ${(on.p99 / off.p99).toFixed(2)}x | ${(on.throughput / off.throughput).toFixed(2)}x |`,
  `| ratio (without budgets / off) | ${(counting.p50 / off.p50).toFixed(2)}x | ${(counting.p99 / off.p99).toFixed(2)}x | ${(counting.throughput / off.throughput).toFixed(2)}x |`,
]);
