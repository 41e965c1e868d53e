// The wasm's memory over a long run of calls: the browser build's allocator
// (src/js/memory.rs) reuses freed blocks, so after a warm-up the linear memory
// does not grow, whatever the number of calls. Deterministic: page counts, not
// timings.

import { test } from "node:test";
import assert from "node:assert/strict";

import { packageSuite } from "../support/package-suite.mjs";

const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const MNLI = "facebook/bart-large-mnli";

let hf;
let up;
packageSuite(async (suite) => ({ hf, up } = suite));

/** The instance's exports: initSync returns them when the entry has instantiated the wasm already. */
const wasmExports = () => hf.initSync({ module: new Uint8Array(0) });

/** A mix of every kind of call, with inputs that differ from round to round. */
async function round(client, i) {
  await client.textClassification(SST2, [`text ${i}`, `another text ${i} ${"x".repeat(i % 300)}`]);
  await client.zeroShot(MNLI, `zero-shot ${i}`, ["a", "b", `label ${i}`]);
  await client.textGeneration("gpt2", `prompt ${i}`, { max_new_tokens: 5 });
  await client.classifyImage("acme/vision", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, i & 255]));
  await client.textGeneration("does-not-exist/x", "fails").catch(() => {});
  for await (const chunk of client.textGenerationStream("gpt2", `stream ${i}`)) assert.ok(chunk);
}

test("a long run of calls does not grow the wasm's memory", async () => {
  const { memory } = wasmExports();
  assert.ok(memory instanceof WebAssembly.Memory);
  const client = new hf.InferenceClient({ endpoint: up.url, retry: false });
  for (let i = 0; i < 50; i++) await round(client, i);
  const warm = memory.buffer.byteLength;
  for (let i = 50; i < 550; i++) {
    await round(client, i);
    up.reset();
  }
  assert.equal(memory.buffer.byteLength, warm, "3,000 more calls after the warm-up needed no new memory");
});
