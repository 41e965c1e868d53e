// What the benchmark scripts share: the percentile they report, the line
// naming the machine, and writing a table to build/ and the terminal.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";

/** The `p`-th percentile of ascending `sorted` values (nearest rank). */
export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** The machine a table was measured on. */
export function machine() {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model?.trim() ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Writes `lines` as build/`name` and prints them. */
export function report(name, lines) {
  const table = lines.join("\n");
  mkdirSync(new URL("../build/", import.meta.url), { recursive: true });
  writeFileSync(new URL(`../build/${name}`, import.meta.url), `${table}\n`);
  console.log(table);
}

/**
 * Sends `count` requests to `worker` (a Miniflare worker), `inFlight` at a
 * time, each `request(i)` = [url, init], every answer read whole and
 * expected 200; answers p50 and p99 latency (ms), throughput (req/s), and
 * the sorted latencies and wall time that `pooled` combines.
 */
export async function load(worker, count, inFlight, request) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const response = await worker.fetch(...request(i));
        await response.text();
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), throughput: (count / wall) * 1000, latencies, wall };
}

/**
 * Several `load` runs of one worker as one: the percentiles of all their
 * latencies together (a pause that stalls one run's requests counts for
 * its share of them, not for the whole), and their requests over their
 * summed wall time.
 */
export function pooled(runs) {
  const latencies = runs.flatMap((run) => run.latencies).sort((a, b) => a - b);
  const wall = runs.reduce((sum, run) => sum + run.wall, 0);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), throughput: (latencies.length / wall) * 1000 };
}
