// The packed npm package inside a Vite app, as a frontend developer uses it:
// installed from its tarball, bundled by Vite (the .wasm must come along as an
// asset), then run in headless Chromium against the local upstream.
//
//   make build
//   HF_PKG_TARBALL="$PWD/target/$(npm pack ./pkg --pack-destination target --silent)" \
//     node --test tests/vite/vite.test.mjs
//
// Uses the Vite of the repository's root node_modules (scripts/setup.sh); only
// the tarball is installed in the temporary app.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { startStaticServer } from "../support/static-server.mjs";
import { describePageLog, launchChromium, runReportingPage } from "../support/browser.mjs";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const WASM_NAME = "hf_inference_wasm_bg.wasm";

const MODEL = "facebook/bart-large-mnli";
const TEXT = "Our new feature launch was a massive success!";
const LABELS = ["marketing", "customer feedback", "technical issue"];

let workDir;
let appDir;
let distDir;
let built; // { files: [relative paths], wasmFiles, jsFiles }
let site;
let upstream;
let browser;
let pageRun; // { out, consoleMessages, pageErrors, staticRequests }

async function listFiles(dir, prefix = "") {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else found.push(rel);
  }
  return found;
}

before(async () => {
  const tarballEnv = process.env.HF_PKG_TARBALL;
  if (!tarballEnv) {
    throw new Error(
      "HF_PKG_TARBALL is not set: run make build, then `npm pack ./pkg --pack-destination target` " +
        "and set HF_PKG_TARBALL to the .tgz it wrote",
    );
  }
  const tarball = path.resolve(tarballEnv);
  if (!existsSync(tarball)) throw new Error(`HF_PKG_TARBALL names a missing file: ${tarball}`);

  // A fresh copy of the app, depending on the tarball.
  workDir = await mkdtemp(path.join(tmpdir(), "hf-wasm-vite-"));
  appDir = path.join(workDir, "app");
  distDir = path.join(workDir, "dist");
  await cp(path.join(here, "app"), appDir, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(appDir, "package.json"), "utf8"));
  manifest.dependencies = { ...manifest.dependencies, "hf-inference-wasm": `file:${tarball}` };
  await writeFile(path.join(appDir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock"], {
    cwd: appDir,
    env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1" },
    maxBuffer: 16 * 1024 * 1024,
  });

  // Build with the repository's Vite (resolved from this file: the root node_modules).
  const { build } = await import("vite");
  await build({
    root: appDir,
    configFile: false,
    logLevel: "warn",
    build: { outDir: distDir, emptyOutDir: true },
  });
  const files = await listFiles(distDir);
  built = {
    files,
    wasmFiles: files.filter((f) => f.endsWith(".wasm")),
    jsFiles: files.filter((f) => f.endsWith(".js")),
  };

  const { startUpstream } = await import("../upstream/upstream.mjs");
  upstream = await startUpstream({ port: 0 });
  site = await startStaticServer({ mounts: { "/": distDir } });
  assert.notEqual(new URL(site.url).port, new URL(upstream.url).port, "app and upstream must be cross-origin");

  browser = await launchChromium();
  const report = await runReportingPage(browser.context, `${site.url}/?upstream=${encodeURIComponent(upstream.url)}`, "the app");
  pageRun = { ...report, staticRequests: [...site.requests] };
});

after(async () => {
  await browser?.close();
  await site?.close();
  await upstream?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test("vite bundles the package's wasm as an asset that the built JS references", async () => {
  assert.ok(built.files.includes("index.html"), `no index.html in dist: ${built.files.join(", ")}`);
  assert.equal(built.wasmFiles.length, 1, `expected one .wasm in dist, got: ${built.files.join(", ")}`);
  const [wasmFile] = built.wasmFiles;
  const emitted = await readFile(path.join(distDir, wasmFile));

  const installed = await readFile(path.join(appDir, "node_modules/hf-inference-wasm", WASM_NAME));
  assert.ok(Buffer.compare(emitted, installed) === 0, `dist/${wasmFile} differs from the packed ${WASM_NAME}`);
  const local = path.join(repoRoot, "pkg", WASM_NAME);
  if (existsSync(local)) {
    assert.ok(Buffer.compare(emitted, await readFile(local)) === 0, `dist/${wasmFile} differs from pkg/${WASM_NAME}`);
  }

  const wasmBase = path.posix.basename(wasmFile);
  let referenced = false;
  for (const js of built.jsFiles) {
    if ((await readFile(path.join(distDir, js), "utf8")).includes(wasmBase)) referenced = true;
  }
  assert.ok(referenced, `no built JS file mentions ${wasmBase} (${built.jsFiles.join(", ")})`);
});

function assertZeroShotResult(name, outcome) {
  assert.ok(outcome.ok, `${name} rejected: ${JSON.stringify(outcome.error)}\n${describePageLog(pageRun)}`);
  const result = outcome.result;
  assert.ok(Array.isArray(result), `${name}: not an array: ${JSON.stringify(result)}`);
  assert.equal(result.length, LABELS.length, `${name}: ${JSON.stringify(result)}`);
  for (const item of result) {
    assert.deepEqual(Object.keys(item).sort(), ["label", "score"], `${name}: ${JSON.stringify(item)}`);
    assert.equal(typeof item.label, "string");
    assert.equal(typeof item.score, "number");
    assert.ok(Number.isFinite(item.score), `${name}: score ${item.score}`);
  }
  for (let i = 1; i < result.length; i++) {
    assert.ok(result[i - 1].score >= result[i].score, `${name}: not sorted by score: ${JSON.stringify(result)}`);
  }
  assert.deepEqual(result.map((r) => r.label).sort(), [...LABELS].sort(), `${name}: labels differ`);
}

/** The upstream's own answer to the app's request, as the sorted [{label, score}] list the client promises. */
async function upstreamAnswer() {
  const answer = await fetch(`${upstream.url}/models/${MODEL}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-test-direct": "1" },
    body: JSON.stringify({ inputs: TEXT, parameters: { candidate_labels: LABELS } }),
  }).then((r) => r.json());
  const list = Array.isArray(answer)
    ? answer.flat()
    : answer.labels.map((label, i) => ({ label, score: answer.scores[i] }));
  return list.sort((a, b) => b.score - a.score);
}

test("the built app runs zeroShot (free function and client) in Chromium", async () => {
  assertZeroShotResult("zeroShot()", pageRun.out.zeroShot);
  assertZeroShotResult("client.zeroShot()", pageRun.out.client);
  const expected = await upstreamAnswer();
  assert.deepEqual(pageRun.out.zeroShot.result, expected, "zeroShot() differs from the upstream's answer");
  assert.deepEqual(pageRun.out.client.result, expected, "client.zeroShot() differs from the upstream's answer");
});

test("the upstream got the zero-shot JSON requests, without Authorization", () => {
  const posts = upstream.requests.filter((r) => r.method === "POST" && !r.headers["x-test-direct"]);
  assert.equal(posts.length, 2, `expected two POSTs, got: ${posts.map((r) => r.path).join(", ")}`);
  for (const post of posts) {
    assert.equal(post.path.split("?")[0], `/models/${MODEL}`);
    assert.match(String(post.headers["content-type"]), /^application\/json\b/);
    const body = JSON.parse(post.body.toString("utf8"));
    assert.equal(body.inputs, TEXT);
    assert.deepEqual(body.parameters?.candidate_labels, LABELS);
  }
  for (const r of upstream.requests) {
    assert.equal(r.headers.authorization, undefined, `${r.method} ${r.path} carried an Authorization header`);
  }
});

test("the app fetched its wasm as application/wasm and logged no error", () => {
  const wasm = pageRun.staticRequests.find((r) => r.path === `/${built.wasmFiles[0]}`);
  assert.ok(wasm, `the app never fetched /${built.wasmFiles[0]}`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.type, "application/wasm");
  assert.deepEqual(pageRun.pageErrors, [], describePageLog(pageRun));
  const errors = pageRun.consoleMessages.filter((m) => m.type === "error");
  assert.deepEqual(errors, [], describePageLog(pageRun));
});
