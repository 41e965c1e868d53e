// Cloudflare Workers entry: the bundler hands the .wasm over as a compiled
// WebAssembly.Module, instantiated synchronously.
import wasmModule from "./hf_inference_wasm_bg.wasm";
import { initSync } from "./hf_inference_wasm.js";

initSync({ module: wasmModule });

export * from "./hf_inference_wasm.js";
