// The proxy worker (build/worker/, made by `make build-worker`) running in
// real workerd through Miniflare, listening on a loopback port.
//
//   const proxy = await startProxy({ vars: { HF_TOKEN, ALLOWED_MODELS, UPSTREAMS } });
//   await fetch(`${proxy.url}/models/gpt2`, { method: "POST", body });
//   proxy.logs          // every line the worker printed (console.log); with
//                       // `collectLogs: false` (the benchmarks) they are drained, not kept
//   await proxy.close();

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WORKER_ENTRY = path.join(repoRoot, "build/worker/entry.js");

/** The wrangler.toml compatibility date, so tests run what deploys. */
export const COMPATIBILITY_DATE = "2025-11-01";

/** Miniflare's options for a worker named `name` running the proxy's build with these vars. */
export function proxyWorkerOptions(name, vars) {
  return {
    name,
    modules: true,
    scriptPath: WORKER_ENTRY,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: vars,
  };
}

/**
 * Starts the proxy with these env vars (strings) and, when `limiter` is given,
 * a `LIMITER` rate-limit binding of `{ limit, period }`; `usage: true` binds
 * the `USAGE` Durable Object namespace (kept in memory).
 */
export async function startProxy({ vars, limiter, usage = false, durableObjects, extraWorkers = [], collectLogs = true } = {}) {
  if (!existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} is missing: run make build-worker first`);
  const logs = [];
  const collect = (stream) => {
    if (!collectLogs) return void stream.resume();
    let pending = "";
    stream.on("data", (chunk) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop();
      logs.push(...lines.filter((l) => l.trim()));
    });
  };
  const proxyWorker = {
    ...proxyWorkerOptions("proxy", vars),
    ...(limiter ? { ratelimits: { LIMITER: { simple: limiter } } } : {}),
    // The USAGE Durable Object namespace, as wrangler.toml binds it (or
    // another binding for it, e.g. to a class that fails).
    ...(durableObjects ? { durableObjects } : usage ? { durableObjects: { USAGE: "Usage" } } : {}),
  };
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [proxyWorker, ...extraWorkers],
    handleRuntimeStdio: (stdout, stderr) => {
      collect(stdout);
      collect(stderr);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { mf, url, logs, close: () => mf.dispose() };
}
