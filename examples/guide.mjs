// The four examples of the guide this project implements, written with
// hf-inference-wasm. `make demo` runs them; copy them into your own code.
//
//   import * as hf from "hf-inference-wasm";
//   const results = await runGuideExamples(hf, { token: process.env.HF_TOKEN });

import { readFile } from "node:fs/promises";

/** Runs the four examples with `options` (a ClientOptions); yields one report per example. */
export async function* runGuideExamples(hf, options) {
  const client = new hf.InferenceClient(options);

  // 1. Sentiment analysis (text classification).
  yield await attempt("Sentiment: distilbert sst-2", () =>
    client.textClassification(
      "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
      "I love the new features in this software, it's amazing!",
    ),
  );

  // 2. Creative text generation with gpt2, max_length and temperature.
  yield await attempt("Text generation: gpt2", () =>
    client.textGeneration("gpt2", "The future of AI in software development will be", {
      max_length: 50,
      temperature: 0.7,
    }),
  );

  // 3. Image classification: the raw bytes of a picture, no base64.
  const image = await readFile(new URL("./cat.jpg", import.meta.url));
  yield await attempt("Image classification: vit-base-patch16-224 on cat.jpg", () =>
    client.classifyImage("google/vit-base-patch16-224", image),
  );

  // 4. Zero-shot classification with candidate labels (free function form).
  yield await attempt("Zero-shot: bart-large-mnli", () =>
    hf.zeroShot(
      "facebook/bart-large-mnli",
      "Our new feature launch was a massive success!",
      ["marketing", "customer feedback", "technical issue"],
      undefined,
      options,
    ),
  );
}

async function attempt(title, call) {
  const started = performance.now();
  try {
    const result = await call();
    return { title, ok: true, result, ms: performance.now() - started };
  } catch (error) {
    return { title, ok: false, error, ms: performance.now() - started };
  }
}
