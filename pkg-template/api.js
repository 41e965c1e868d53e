// The public API. The build bundles this file, with everything it imports
// (the wasm-bindgen glue and its snippets), into the package's one minified
// module, hf_inference_wasm.js; every entry instantiates the wasm, then
// re-exports it. `@SNIPPETS@` is the glue's snippet folder (scripts/build.sh).
export {
  default as init,
  initSync,
  InferenceClient,
  query,
  textClassification,
  textGeneration,
  textGenerationStream,
  classifyImage,
  zeroShot,
  chatCompletion,
  chatCompletionStream,
  imageGeneration,
  featureExtraction,
  sentenceSimilarity,
  textToImage,
  summarization,
  translation,
  tokenClassification,
  questionAnswering,
  fillMask,
  objectDetection,
  imageSegmentation,
  imageToText,
  zeroShotImageClassification,
  automaticSpeechRecognition,
  audioClassification,
} from "./hf_inference_wasm.js";
export { InferenceError } from "@SNIPPETS@/inference_error.js";
export { InferenceStream } from "@SNIPPETS@/inference_stream.js";
