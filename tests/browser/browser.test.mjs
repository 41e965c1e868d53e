// The npm package's browser entry in real headless Chromium, talking to the
// local upstream from another origin (as a page talks to the router or to a
// proxy in real life).
//
//   make build                                    # writes pkg/
//   node --test tests/browser/browser.test.mjs
//
// Needs Debian's chromium and the root dev packages (scripts/setup.sh).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startStaticServer } from "../support/static-server.mjs";
import { describePageLog, launchChromium, runReportingPage } from "../support/browser.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const pkgDir = path.join(repoRoot, "pkg");
const fixturePath = path.join(repoRoot, "tests/fixtures/recordings.json");

const MODEL = "google/vit-base-patch16-224";
const MODEL_PATH = `/models/${MODEL}`;

let site;
let upstream;
let browser;
let recording; // { image: Buffer, labels: [{label, score}] }
let pageRun; // { out, consoleMessages, pageErrors, staticRequests }

/** The first recording of this model in file order: its image bytes and answer. */
async function loadRecording() {
  if (!existsSync(fixturePath)) {
    throw new Error(`missing fixture ${path.relative(repoRoot, fixturePath)}`);
  }
  const recordings = JSON.parse(await readFile(fixturePath, "utf8"));
  const first = recordings.find((r) => r.request.url.endsWith(MODEL));
  assert.ok(first, `no recording for ${MODEL} in the fixture`);
  assert.ok(first.request.body?.base64, `the first ${MODEL} recording (${first.id}) has no image body`);
  return {
    id: first.id,
    image: Buffer.from(first.request.body.base64, "base64"),
    labels: JSON.parse(first.response.body.text),
  };
}

before(async () => {
  for (const file of ["index.browser.js", "hf_inference_wasm.js", "hf_inference_wasm_bg.wasm"]) {
    if (!existsSync(path.join(pkgDir, file))) {
      throw new Error(`pkg/${file} is missing: run make build first`);
    }
  }
  recording = await loadRecording();

  const { startUpstream } = await import("../upstream/upstream.mjs");
  upstream = await startUpstream({ port: 0 });
  site = await startStaticServer({
    mounts: { "/pkg/": pkgDir },
    routes: {
      "/": path.join(here, "page.html"),
      "/harness.js": path.join(here, "harness.js"),
      "/image.png": { body: recording.image, type: "image/png" },
    },
  });
  assert.notEqual(new URL(site.url).port, new URL(upstream.url).port, "page and upstream must be cross-origin");

  browser = await launchChromium();
  const report = await runReportingPage(browser.context, `${site.url}/?upstream=${encodeURIComponent(upstream.url)}`, "the page");
  pageRun = { ...report, staticRequests: [...site.requests] };
});

after(async () => {
  await browser?.close();
  await site?.close();
  await upstream?.close();
});

test("classifyImage with a Blob returns the recorded labels and scores exactly", () => {
  const { classify } = pageRun.out;
  assert.ok(classify.ok, `classifyImage rejected: ${JSON.stringify(classify.error)}\n${describePageLog(pageRun)}`);
  // deepStrictEqual on parsed JSON: same labels, same order, scores bit-for-bit (f64).
  assert.deepEqual(classify.result, recording.labels, `expected the answer of recording ${recording.id}`);
  for (const item of classify.result) {
    assert.deepEqual(Object.keys(item).sort(), ["label", "score"]);
  }
});

test("the upstream got the raw image bytes once, as image/png, without Authorization", () => {
  const posts = upstream.requests.filter((r) => r.method === "POST");
  assert.equal(posts.length, 1, `expected one POST, got: ${posts.map((r) => r.path).join(", ")}`);
  const [post] = posts;
  assert.equal(post.path.split("?")[0], MODEL_PATH);
  assert.equal(post.headers["content-type"], "image/png");
  assert.equal(post.body.length, recording.image.length, "body length differs from the image");
  assert.ok(Buffer.compare(post.body, recording.image) === 0, "body bytes differ from the image bytes");

  for (const r of upstream.requests) {
    assert.equal(r.headers.authorization, undefined, `${r.method} ${r.path} carried an Authorization header`);
    const asked = String(r.headers["access-control-request-headers"] ?? "").toLowerCase();
    assert.ok(!asked.includes("authorization"), `${r.method} ${r.path} asked to send Authorization`);
  }
});

test("a refused call rejects with an InferenceError instance (INVALID_INPUT)", () => {
  const { invalid } = pageRun.out;
  assert.equal(invalid.ok, false, `classifyImage(model, 42) resolved: ${JSON.stringify(invalid.result)}`);
  assert.equal(invalid.error.isInferenceError, true, "not an instanceof InferenceError");
  assert.equal(invalid.error.isError, true, "not an instanceof Error");
  assert.equal(invalid.error.code, "INVALID_INPUT");
  assert.equal(invalid.error.message, "image: must be a Blob, an ArrayBuffer or a Uint8Array");
});

test("a token used in a page gives exactly one warning, which never shows the token", () => {
  const warnings = pageRun.consoleMessages.filter((m) => m.type === "warning");
  assert.equal(warnings.length, 1, describePageLog(pageRun));
  assert.match(warnings[0].text, /visible to anyone who can open this page/);
  assert.match(warnings[0].text, /proxy worker/);
  assert.ok(!warnings[0].text.includes("hf_pageVisibleToken"));
});

test("the page loaded the wasm as application/wasm and logged no error", () => {
  const wasm = pageRun.staticRequests.find((r) => r.path === "/pkg/hf_inference_wasm_bg.wasm");
  assert.ok(wasm, "the page never fetched /pkg/hf_inference_wasm_bg.wasm");
  assert.equal(wasm.status, 200);
  assert.equal(wasm.type, "application/wasm");
  assert.deepEqual(pageRun.pageErrors, [], describePageLog(pageRun));
  const errors = pageRun.consoleMessages.filter((m) => m.type === "error");
  assert.deepEqual(errors, [], describePageLog(pageRun));
});
