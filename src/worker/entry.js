// The proxy worker's entry (copied to build/worker/ by scripts/build-worker.sh).
// All the logic is in Rust (src/worker/, on workers-rs: its #[event(fetch)]
// exports `fetch`); this only instantiates the wasm and
// turns a trap into a clean JSON 500, resetting the instance so the next
// request starts from a sound state.
import { initSync, fetch as handleRequest, __wbg_reset_state } from "./hf_inference_worker.js";
import wasmModule from "./hf_inference_worker_bg.wasm";

// The USAGE Durable Object class (src/worker/meter.rs, #[durable_object]).
export { Usage } from "./hf_inference_worker.js";

initSync({ module: wasmModule });

const CRASHED = JSON.stringify({ error: "the proxy failed while handling this request", code: "UPSTREAM_ERROR" });

export default {
  async fetch(request, env, ctx) {
    try {
      return await handleRequest(request, env, ctx);
    } catch (err) {
      if (err instanceof WebAssembly.RuntimeError) __wbg_reset_state();
      console.log(JSON.stringify({ level: "error", message: "request failed inside the worker", error: String(err?.message ?? err).slice(0, 200) }));
      return new Response(CRASHED, { status: 500, headers: { "content-type": "application/json" } });
    }
  },
};
