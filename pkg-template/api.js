// The public API, re-exported by every entry once it has instantiated the wasm.
export {
  default as init,
  InferenceClient,
  query,
  textClassification,
  textGeneration,
  textGenerationStream,
  classifyImage,
  zeroShot,
  chatCompletion,
  chatCompletionStream,
} from "./hf_inference_wasm.js";
export { InferenceError } from "./inference_error.js";
export { InferenceStream } from "./inference_stream.js";
