// A Node process that made calls exits as soon as its work is done: the
// client leaves no timer that holds the process (its shared deadline timer is
// unref'd in Node), with retries and their 60 s deadline on by default.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { startUpstream } from "../upstream/upstream.mjs";
import { installPackedPackage } from "../support/installed-package.mjs";

const run = promisify(execFile);
let installed;
let up;

before(async () => {
  installed = await installPackedPackage();
  up = await startUpstream({ port: 0 });
});

after(async () => {
  await up?.close();
  await installed?.cleanup();
});

test("a process exits right after its calls, with the default deadline", async () => {
  const script = path.join(installed.dir, "one-call.mjs");
  await writeFile(
    script,
    `import { InferenceClient } from "hf-inference-wasm";
     const hf = new InferenceClient({ endpoint: process.argv[2] });
     const labels = await hf.textClassification("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "I like you");
     await hf.zeroShot("facebook/bart-large-mnli", "t", ["a", "b"]);
     console.log(JSON.stringify(labels.map((l) => l.label)));
     globalThis.finishedAt = Date.now();
     process.on("exit", () => console.log("exit-after-ms", Date.now() - globalThis.finishedAt));`,
  );
  const started = performance.now();
  const { stdout } = await run(process.execPath, [script, up.url], { cwd: installed.dir, timeout: 30_000 });
  const lines = stdout.trim().split("\n");
  assert.deepEqual(JSON.parse(lines[0]), ["POSITIVE", "NEGATIVE"]);
  const lingered = Number(lines[1].split(" ")[1]);
  // Generous bound that only catches a process held by a timer (60 s before the fix).
  assert.ok(lingered < 5_000, `the process lingered ${lingered} ms after its last call`);
  assert.ok(performance.now() - started < 25_000);
});
