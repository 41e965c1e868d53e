// A Vite app using the published package as a user would. The test opens the
// built page with ?upstream=<local upstream URL> and reads document.body.dataset.
import { InferenceClient, InferenceError, zeroShot } from "hf-inference-wasm";

const MODEL = "facebook/bart-large-mnli";
const TEXT = "Our new feature launch was a massive success!";
const LABELS = ["marketing", "customer feedback", "technical issue"];

function describeError(err) {
  return {
    name: err?.name,
    code: err?.code,
    status: err?.status,
    message: String(err?.message ?? err),
    isInferenceError: err instanceof InferenceError,
  };
}

async function attempt(call) {
  try {
    return { ok: true, result: await call() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

async function run() {
  const endpoint = new URLSearchParams(location.search).get("upstream");
  const out = {
    // The free function, with the endpoint in its options.
    zeroShot: await attempt(() => zeroShot(MODEL, TEXT, LABELS, undefined, { endpoint })),
    // The same call through a client.
    client: await attempt(() => new InferenceClient({ endpoint }).zeroShot(MODEL, TEXT, LABELS)),
  };
  document.getElementById("out").textContent = JSON.stringify(out, null, 2);
  document.body.dataset.result = JSON.stringify(out);
}

run().catch((err) => {
  document.body.dataset.failed = String(err?.stack ?? err);
});
