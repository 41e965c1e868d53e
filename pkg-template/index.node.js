// Node entry: instantiates the wasm synchronously from the package's own file.
import { readFileSync } from "node:fs";
import { initSync } from "./hf_inference_wasm.js";

initSync({ module: readFileSync(new URL("./hf_inference_wasm_bg.wasm", import.meta.url)) });

export * from "./hf_inference_wasm.js";
