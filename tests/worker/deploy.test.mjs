// `wrangler deploy --dry-run` bundles the worker as Cloudflare would upload it
// (no account needed), and reports the bundle's gzipped size.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outdir = path.join(repoRoot, "build/worker-dist");

test("wrangler deploy --dry-run bundles the entry and the worker's wasm", async () => {
  await rm(outdir, { recursive: true, force: true });
  const { stdout } = await run(path.join(repoRoot, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: repoRoot,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true" },
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.match(stdout, /--dry-run: exiting now\./);
  assert.match(stdout, /env\.LIMITER \(60 requests\/60s\)/);
  const files = await readdir(outdir);
  assert.ok(files.includes("entry.js"), files.join(", "));
  const wasmFiles = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasmFiles.length, 1, files.join(", "));
  const bundled = await readFile(path.join(outdir, wasmFiles[0]));
  const built = await readFile(path.join(repoRoot, "build/worker/hf_inference_worker_bg.wasm"));
  assert.ok(Buffer.compare(bundled, built) === 0, "the bundle carries the built wasm");
  const entry = await readFile(path.join(outdir, "entry.js"));
  const gzip = gzipSync(entry, { level: 9 }).length + gzipSync(bundled, { level: 9 }).length;
  console.log(`worker bundle: entry.js ${entry.length} B + wasm ${bundled.length} B; gzip -9 ${gzip} B`);
  const reported = stdout.match(/Total Upload: .*/)?.[0];
  if (reported) console.log(`wrangler: ${reported}`);
});
