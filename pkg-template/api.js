// The public API. The build bundles this file, with everything it imports
// (the wasm-bindgen glue included), into the package's one minified module,
// hf_inference_wasm.js; every entry instantiates the wasm, then re-exports it.
export { default as init, initSync } from "./hf_inference_wasm.js";
export {
  InferenceClient,
  queryFn as query,
  textClassificationFn as textClassification,
  textGenerationFn as textGeneration,
  textGenerationStreamFn as textGenerationStream,
  classifyImageFn as classifyImage,
  zeroShotFn as zeroShot,
  chatCompletionFn as chatCompletion,
  chatCompletionStreamFn as chatCompletionStream,
} from "./client.js";
export { InferenceError } from "./inference_error.js";
export { InferenceStream } from "./inference_stream.js";
