// The public API, re-exported by every entry once it has instantiated the wasm.
export { default as init } from "./hf_inference_wasm.js";
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
