// Where a call's time goes (`make bench`): sequential `textClassification`
// calls of the client and raw `fetch` + `Response.json()`, alternating, timed
// phase by phase: before `fetch` is called, the `fetch` itself, between its
// answer and `Response.json()`, the body, and after it. Three settings:
//
//   loopback   the local upstream over keep-alive, as bench.mjs measures
//   memory     `fetch` answered from memory: everything stays in the caches
//   cold       from memory, with 8 MB touched before each call, as the
//              loopback's own work does to the caches
//
// The client's phases are found by wrapping the global `fetch` and
// `Response.prototype.json`, which it calls as raw `fetch` does. Prints
// medians in µs and writes build/bench-phases.md. Timings are figures, never
// test assertions.
import * as ours from "../pkg/index.node.js";
import { machine, percentile, report } from "./bench-report.mjs";
import { startUpstream } from "../tests/upstream/upstream.mjs";

const CALLS = Number(process.env.BENCH_CALLS ?? 4000);
const WARM_UP = 300;
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const ANSWER = JSON.stringify([[{ label: "POSITIVE", score: 0.99 }, { label: "NEGATIVE", score: 0.01 }]]);

const realFetch = globalThis.fetch;
const realJson = Response.prototype.json;
let marks = {};
const answeredFromMemory = async () => new Response(ANSWER, { headers: { "content-type": "application/json" } });
let send = realFetch;
globalThis.fetch = function (...args) {
  marks.fetch = performance.now();
  return send.apply(this, args).then((response) => ((marks.answer = performance.now()), response));
};
Response.prototype.json = function () {
  marks.json = performance.now();
  return realJson.call(this).then((doc) => ((marks.body = performance.now()), doc));
};

const cache = new Float64Array(1 << 20); // 8 MB
let touched = 0;
const touchCaches = () => {
  for (let i = 0; i < cache.length; i += 8) touched += cache[i]++; // a read and a write per 64-byte line
};

async function phases(endpoint, cold) {
  const client = new ours.InferenceClient({ endpoint });
  const url = `${endpoint}/models/${SST2}`;
  const runs = {
    client: (i) => client.textClassification(SST2, `phase call ${i % 20}`),
    raw: (i) =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: `phase call ${i % 20}` }) }).then((r) =>
        r.json(),
      ),
  };
  const times = { client: [], raw: [] };
  for (let i = 0; i < WARM_UP + CALLS; i++) {
    for (const name of i % 2 ? ["client", "raw"] : ["raw", "client"]) {
      if (cold) touchCaches();
      marks = {};
      const start = performance.now();
      await runs[name](i);
      const end = performance.now();
      if (i >= WARM_UP) {
        times[name].push([marks.fetch - start, marks.answer - marks.fetch, marks.json - marks.answer, marks.body - marks.json, end - marks.body, end - start]);
      }
    }
  }
  const median = (rows, k) => percentile(rows.map((row) => row[k]).sort((a, b) => a - b), 50) * 1000;
  return Object.fromEntries(Object.entries(times).map(([name, rows]) => [name, [0, 1, 2, 3, 4, 5].map((k) => median(rows, k))]));
}

const up = await startUpstream({ port: 0 });
const results = { loopback: await phases(up.url, false) };
await up.close();
send = answeredFromMemory;
results.memory = await phases("http://127.0.0.1:9", false);
results.cold = await phases("http://127.0.0.1:9", true);
globalThis.fetch = realFetch;
Response.prototype.json = realJson;
if (touched < 0) throw new Error("unreachable: keeps the touching loop's reads");

const us = (x) => x.toFixed(1);
report("bench-phases.md", [
  `Where a call's time goes: ${CALLS} sequential textClassification calls each (after ${WARM_UP}), client and raw fetch + json() alternating; medians in µs`,
  `Machine: ${machine()}`,
  "",
  "| setting | runner | before fetch | fetch | to json() | body | after | whole call |",
  "|---|---|---|---|---|---|---|---|",
  ...Object.entries(results).flatMap(([setting, byRunner]) =>
    Object.entries(byRunner).map(([name, p]) => `| ${setting} | ${name} | ${p.map(us).join(" | ")} |`),
  ),
]);
