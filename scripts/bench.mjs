// `make bench`: the package measured beside its references, in one run.
// Writes a Markdown table to build/bench.md and prints it. Timings are
// figures, never test assertions.
//
// 1. bundle: gzip -9 of the browser client vs @huggingface/inference bundled
//    by esbuild for the browser (minified, the same tasks imported)
// 2. per-call overhead in Node: sequential textClassification calls over
//    keep-alive vs raw fetch + JSON.parse vs @huggingface/inference
// 3. start-up: instantiating the wasm and a first call, in Node and in workerd
// 4. large image: an 8 MB image through the client and through the proxy
// 5. concurrency: de-duplication and micro-batching, counted at the upstream
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { InferenceClient as PeerClient } from "@huggingface/inference";

import * as ours from "../pkg/index.node.js";
import * as floor from "../build/floor/hf_inference_floor.js";
import { machine, percentile, report, workerdPids } from "./bench-report.mjs";
import { gzipSize, measure as measureBundle } from "./size.mjs";
import { startUpstream } from "../tests/upstream/upstream.mjs";
import { startProxy } from "../tests/support/proxy.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The stack's floor (bench/floor/, built by scripts/build-floor.sh).
floor.initSync({ module: readFileSync(path.join(repoRoot, "build/floor/hf_inference_floor_bg.wasm")) });
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const rows = [];
const row = (figure, value, note = "") => rows.push(`| ${figure} | ${value} | ${note} |`);

async function timed(count, call) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
const ms = (x) => `${x.toFixed(3)} ms`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Resident memory of these processes, in bytes (VmRSS). */
function residentBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      // ended
    }
  }
  return total;
}

/** Runs `work` while sampling the resident memory of `pids` every 2 ms: {baseline, peak}. */
async function peakResident(pids, work) {
  const baseline = residentBytes(pids);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pids))), 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return { baseline, peak: Math.max(peak, residentBytes(pids)) };
}

// 1. Bundle size.
const oursBundle = measureBundle().totalBytes;
const peerBuild = await build({
  stdin: {
    contents:
      'import { InferenceClient } from "@huggingface/inference";\n' +
      "const hf = new InferenceClient(globalThis.TOKEN);\n" +
      "globalThis.run = (m, x, l) => Promise.all([hf.textClassification({ model: m, inputs: x }), hf.textGeneration({ model: m, inputs: x }), hf.imageClassification({ model: m, data: x }), hf.zeroShotClassification({ model: m, inputs: x, parameters: { candidate_labels: l } })]);\n",
    resolveDir: repoRoot,
  },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  write: false,
  logLevel: "silent",
});
const peerBundle = gzipSize(peerBuild.outputFiles[0].contents);
const budget = Number(/^SIZE_BUDGET := (\d+)$/m.exec(readFileSync(path.join(repoRoot, "Makefile"), "utf8"))?.[1]);
row("browser bundle, gzip -9", `${oursBundle} B vs peer ${peerBundle} B`, `ratio ${(oursBundle / peerBundle).toFixed(2)}x; ceiling ${budget} B (target 65536, goal 49152)`);

// 2. Per-call overhead, with the client's default options (retries on, 60 s
// deadline, de-duplication on), interleaved call by call with raw fetch +
// JSON.parse and with @huggingface/inference, so that drift and GC pauses hit
// all alike; `retry: false` beside them.
const up = await startUpstream({ port: 0 });
const body = (i) => JSON.stringify({ inputs: `overhead call ${i % 20}` });
const oursClient = new ours.InferenceClient({ endpoint: up.url });
const oursNoRetry = new ours.InferenceClient({ endpoint: up.url, retry: false });
const peer = new PeerClient("hf_bench").endpoint(`${up.url}/models/${SST2}`);
const run = {
  raw: (i) =>
    fetch(`${up.url}/models/${SST2}`, { method: "POST", headers: { "content-type": "application/json" }, body: body(i) })
      .then((r) => r.text())
      .then((t) => JSON.parse(t)),
  ours: (i) => oursClient.textClassification(SST2, `overhead call ${i % 20}`),
  oursNoRetry: (i) => oursNoRetry.textClassification(SST2, `overhead call ${i % 20}`),
  peer: (i) => peer.textClassification({ inputs: `overhead call ${i % 20}` }),
  floor: (i) => floor.textClassification(`${up.url}/models/${SST2}`, `overhead call ${i % 20}`),
  floorChain: (i) => floor.textClassificationChain(`${up.url}/models/${SST2}`, `overhead call ${i % 20}`),
};
const names = Object.keys(run);
for (const name of names) await timed(200, run[name]); // warm-up
const samples = Object.fromEntries(names.map((name) => [name, []]));
// Each call starts one place further along the list: every runner takes every
// position equally often, and none runs twice in a row (with its caches warm).
for (let i = 0; i < CALLS; i++) {
  const start = i % names.length;
  for (const name of [...names.slice(start), ...names.slice(0, start)]) {
    const t0 = performance.now();
    await run[name](i);
    samples[name].push(performance.now() - t0);
    up.reset();
  }
}
const calls = {};
for (const [name, times] of Object.entries(samples)) {
  times.sort((a, b) => a - b);
  calls[name] = { p50: percentile(times, 50), p99: percentile(times, 99) };
}
row(
  `per call, ${CALLS} sequential textClassification (Node), default options`,
  `ours ${ms(calls.ours.p50)} / p99 ${ms(calls.ours.p99)}; raw fetch ${ms(calls.raw.p50)} / ${ms(calls.raw.p99)}; peer ${ms(calls.peer.p50)} / ${ms(calls.peer.p99)}; ours with retry: false ${ms(calls.oursNoRetry.p50)}`,
  `median vs raw ${(calls.ours.p50 / calls.raw.p50).toFixed(2)}x (target 1.05x), peer vs raw ${(calls.peer.p50 / calls.raw.p50).toFixed(2)}x, retry: false vs raw ${(calls.oursNoRetry.p50 / calls.raw.p50).toFixed(2)}x`,
);
row(
  "per call, the stack's floor (bench/floor: one fetch, one json(), the labels read and written back; nothing else), same run",
  `async fn ${ms(calls.floor.p50)}; as a promise chain without Rust futures ${ms(calls.floorChain.p50)}`,
  `async fn vs raw ${(calls.floor.p50 / calls.raw.p50).toFixed(2)}x, chain vs raw ${(calls.floorChain.p50 / calls.raw.p50).toFixed(2)}x`,
);

// 3. Start-up in Node: a fresh process importing the package and calling once.
// (Asynchronously: the upstream it calls lives in this process.)
const startup = JSON.parse(
  (await promisify(execFile)(process.execPath, [
    "--input-type=module",
    "-e",
    `const t0 = performance.now();
     const hf = await import(${JSON.stringify(path.join(repoRoot, "pkg/index.node.js"))});
     const t1 = performance.now();
     await new hf.InferenceClient({ endpoint: ${JSON.stringify(up.url)} }).textClassification(${JSON.stringify(SST2)}, "first");
     console.log(JSON.stringify({ instantiate: t1 - t0, first: performance.now() - t0 }));`,
  ])).stdout,
);
row("start-up in Node (import + instantiate / + first call)", `${ms(startup.instantiate)} / ${ms(startup.first)}`);

// Start-up in workerd: the proxy isolate's first request (wasm instantiated
// at module load) against a warm one.
const proxy = await startProxy({ vars: { HF_TOKEN: "hf_bench", ALLOWED_MODELS: "*", UPSTREAMS: up.url, RATE_LIMIT_PER_MINUTE: "1000000" } });
const viaProxy = () => fetch(`${proxy.url}/models/${SST2}`, { method: "POST", headers: { "content-type": "application/json" }, body: body(0) }).then((r) => r.text());
let t0 = performance.now();
await viaProxy();
const firstProxy = performance.now() - t0;
const warmProxy = await timed(50, viaProxy);
row("start-up in workerd (first request to a fresh proxy / warm p50)", `${ms(firstProxy)} / ${ms(warmProxy.p50)}`);

// 4. An 8 MB image: bytes on the wire and time, direct and through the proxy.
const image = new Uint8Array(8 * 1024 * 1024);
for (let i = 0; i < image.length; i += 4096) image[i] = (i * 2654435761) >>> 24;
image.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
const MODEL = "acme/vision";
const rawImage = () => fetch(`${up.url}/models/${MODEL}`, { method: "POST", headers: { "content-type": "image/png" }, body: image }).then((r) => r.json());
const oursImage = () => oursClient.classifyImage(MODEL, image);
const proxied = new ours.InferenceClient({ endpoint: proxy.url, retry: false });
const proxyImage = () => proxied.classifyImage(MODEL, image);
for (const f of [rawImage, oursImage, proxyImage]) await f();
up.reset();
// Raw and client interleaved image by image, so that drift on a shared machine hits both alike.
const imageTimes = { raw: [], ours: [] };
for (let i = 0; i < 20; i++) {
  for (const [name, send] of i % 2 ? [["ours", oursImage], ["raw", rawImage]] : [["raw", rawImage], ["ours", oursImage]]) {
    const t0 = performance.now();
    await send();
    imageTimes[name].push(performance.now() - t0);
  }
}
const median = (times) => percentile([...times].sort((a, b) => a - b), 50);
const imageRaw = { p50: median(imageTimes.raw) };
const imageOurs = { p50: median(imageTimes.ours) };
// The proxy's memory: the workerd process's resident set while the images stream through it.
const workerd = workerdPids();
let imageProxy;
const proxyMemory = await peakResident(workerd, async () => (imageProxy = await timed(10, proxyImage)));
const sizes = new Set(up.requests.map((r) => r.body.length));
row(
  "8 MB image: bytes on the wire",
  [...sizes].join(", "),
  sizes.size === 1 && sizes.has(image.length) ? "equal to the image's size, every request" : "DIFFERS from the image's size",
);
row(
  "8 MB image: median time",
  `raw fetch ${ms(imageRaw.p50)}; client ${ms(imageOurs.p50)}; client through the proxy ${ms(imageProxy.p50)}`,
  `client vs raw ${(imageOurs.p50 / imageRaw.p50).toFixed(2)}x (goal 1.2x); medians of 20 interleaved, 10 through the proxy`,
);
row(
  "8 MB image through the proxy: worker peak memory",
  workerd.length
    ? `${mib(proxyMemory.peak)} resident (workerd, ${mib(proxyMemory.baseline)} before: +${mib(proxyMemory.peak - proxyMemory.baseline)})`
    : "not measured (no workerd process found under /proc)",
  "peak of the workerd process's VmRSS, sampled every 2 ms over 10 images",
);

// 5. Concurrency: identical calls share one request; distinct ones batch.
up.reset();
await Promise.all(Array.from({ length: 100 }, () => oursClient.textClassification(SST2, "one shared text")));
const deduped = up.requests.length;
up.reset();
const batcher = new ours.InferenceClient({ endpoint: up.url, retry: false, batch: { windowMs: 10, maxSize: 16 } });
await Promise.all(Array.from({ length: 64 }, (_, i) => batcher.textClassification(SST2, `distinct ${i}`)));
row("100 concurrent identical textClassification calls", `${deduped} upstream request(s)`, "in-flight de-duplication, on by default");
row("64 concurrent distinct calls, batch {windowMs: 10, maxSize: 16}", `${up.requests.length} upstream request(s)`, "goal at most 4");

await proxy.close();
await up.close();

report("bench.md", [`Benchmarks (make bench), ${new Date().toISOString().slice(0, 10)}`, `Machine: ${machine()}`, "", "| figure | value | note |", "|---|---|---|", ...rows]);
