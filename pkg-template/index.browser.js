// Browser and bundler entry: fetches and instantiates the wasm next to this
// file before anything is exported, so callers never have to.
import { init } from "./hf_inference_wasm.js";

await init({ module_or_path: new URL("./hf_inference_wasm_bg.wasm", import.meta.url) });

export * from "./hf_inference_wasm.js";
