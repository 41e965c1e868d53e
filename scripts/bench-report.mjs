// What the benchmark scripts share: the percentile they report, the line
// naming the machine, writing a table to build/ and the terminal, the load
// they put on a worker, and the workerd processes' CPU time.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
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

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces), or null once the process ended. */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return { comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), fields: stat.slice(stat.lastIndexOf(")") + 2).split(" ") };
  } catch {
    return null;
  }
}

/** PIDs of the workerd processes Miniflare started under this one (Linux /proc; [] elsewhere). */
export function workerdPids() {
  if (!existsSync("/proc/self/stat")) return [];
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statFields(entry);
    if (stat) parents.set(Number(entry), { ppid: Number(stat.fields[1]), comm: stat.comm });
  }
  const descends = (pid) => {
    for (let p = parents.get(pid)?.ppid; p; p = parents.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  return [...parents].filter(([pid, info]) => info.comm === "workerd" && descends(pid)).map(([pid]) => pid);
}

let ticksPerSecond;

/** Milliseconds of CPU (user and system) these processes have used (Linux /proc; 0 elsewhere). */
export function cpuMs(pids) {
  if (pids.length === 0) return 0;
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  let ticks = 0;
  for (const pid of pids) {
    const stat = statFields(pid);
    if (stat) ticks += Number(stat.fields[11]) + Number(stat.fields[12]);
  }
  return (ticks * 1000) / ticksPerSecond;
}
