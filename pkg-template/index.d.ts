// Types of the public API of hf-inference-wasm. Result shapes and task
// parameters use the Hugging Face wire names, as @huggingface/inference does.

/**
 * Stable failure codes carried by `InferenceError.code`. Both 402 codes are
 * never retried: PAYMENT_REQUIRED (the account's credits are used up) and
 * BUDGET_EXCEEDED (the proxy refused: a budget cap would be passed).
 */
export type InferenceErrorCode =
  | "INVALID_INPUT"
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "PAYMENT_REQUIRED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "GONE"
  | "PAYLOAD_TOO_LARGE"
  | "VALIDATION"
  | "RATE_LIMITED"
  | "MODEL_LOADING"
  | "UPSTREAM_ERROR"
  | "CONFIG"
  | "TIMEOUT"
  | "ABORTED"
  | "NETWORK"
  | "BAD_RESPONSE"
  | "BUDGET_EXCEEDED"
  | "NO_PROVIDER";

/** Every rejection of this package. Holds no access token. */
export class InferenceError extends Error {
  constructor(message: string, code: InferenceErrorCode, details?: InferenceErrorDetails);
  readonly name: "InferenceError";
  /** What kind of failure: stable, safe to switch on. */
  readonly code: InferenceErrorCode;
  /** The HTTP status, when an answer came. */
  readonly status?: number;
  /** The model called. */
  readonly model?: string;
  /** Upstream's `x-request-id`, to quote when reporting a problem. */
  readonly requestId?: string;
  /** Attempts made (0 when refused before any request). */
  readonly attempts: number;
  /** How long upstream asked to wait (Retry-After or a loading model's estimate). */
  readonly retryAfterMs?: number;
  /** A call over a list of providers: each failed attempt, in order. */
  readonly failures?: ProviderFailure[];
}

/** One failed attempt of a call over a list of providers. */
export interface ProviderFailure {
  provider: string;
  status?: number;
  code: InferenceErrorCode;
  message: string;
}

/** The optional fields an `InferenceError` is built with. */
export interface InferenceErrorDetails {
  status?: number;
  model?: string;
  requestId?: string;
  attempts?: number;
  retryAfterMs?: number;
  failures?: ProviderFailure[];
}

/** One endpoint of a list. */
export interface Endpoint {
  /**
   * Base URL (https:// or http://, no query or credentials); task calls go
   * to `${url}/models/${model}`, chat calls to `${url}/chat/completions`.
   */
  url: string;
  /** A token for this endpoint only (it wins over the client's). */
  token?: string;
  /**
   * `url` is one model's own endpoint (an Inference Endpoint), used as is
   * for task calls. Read as a truth value: any truthy value sets it.
   */
  dedicated?: boolean;
  /** Relative share of traffic among healthy endpoints: a positive number (default 1). */
  weight?: number;
  /** A name for reports (`AttemptInfo.endpoint`; default the URL). */
  name?: string;
}

/**
 * When failed attempts are tried again. Defaults: 4 attempts, 500 ms base,
 * 10 s cap, 60 s deadline. Any other field is refused (INVALID_INPUT).
 */
export interface RetryOptions {
  /** Attempts in all, the first included (a whole number from 1 to 100). */
  maxAttempts?: number;
  /** Upper bound of the first backoff (full jitter); doubles per retry. 0 or more. */
  baseDelayMs?: number;
  /** Upper bound of any backoff; also caps a loading model's estimate. 0 or more. */
  maxDelayMs?: number;
  /** Nothing runs past this long after the call began (at least 1). */
  deadlineMs?: number;
}

/** What `onAttempt` receives after every attempt. */
export interface AttemptInfo {
  /** The endpoint's name, or its URL. */
  endpoint: string;
  /** 1 for the first attempt of the call. */
  attempt: number;
  /** HTTP status, when an answer came. */
  status?: number;
  /** The failure's code, when the attempt failed. */
  code?: InferenceErrorCode;
  /** The wait chosen before the next attempt, when there is one. */
  delayMs?: number;
  /** How long the attempt took. */
  durationMs: number;
  /** Upstream's compute time (x-compute-time), in milliseconds. */
  computeTimeMs?: number;
  /** Upstream's x-request-id. */
  requestId?: string;
  /** The provider that served it (x-inference-provider), or the one a provider list sent it to. */
  provider?: string;
  /** What a proxy that accounts for usage counted the attempt as costing, in USD (its x-usage-cost header). */
  costUsd?: number;
}

/** Options of a single call; a client's options are their defaults. */
export interface CallOptions {
  /** Aborts the call at once, also while waiting between attempts (code ABORTED). */
  signal?: AbortSignal;
  /** Limit of one attempt in milliseconds, 1 to 4294967295 (code TIMEOUT); retried like a failure. */
  timeoutMs?: number;
  /** `false` for a single attempt; fields given override the client's. */
  retry?: false | RetryOptions;
  /**
   * Extra request headers, a plain object of strings (a call's win over the
   * client's by name). `token` and `billTo` win over `authorization` and
   * `x-hf-bill-to` given here.
   */
  headers?: Record<string, string>;
  /** Called after every attempt; what it throws is ignored. */
  onAttempt?: (info: AttemptInfo) => void;
  /**
   * Who serves the call: "hf-inference" (the default of tasks, asking no
   * Hub), "auto" (the first live provider the Hub maps the model to for the
   * task), a provider's name, or a list tried in order (a retryable failure
   * or a 402 from one sends the next attempt to the next). Chat calls take
   * it as the router's `model:provider` suffix (none means the router
   * chooses; a suffix already in `request.model` wins). Not with a
   * `dedicated` endpoint (INVALID_INPUT).
   */
  provider?: string | string[];
}

/** Options of a client (and of the free functions). */
export interface ClientOptions extends CallOptions {
  /**
   * OpenAI-compatible base for chat: calls go to `${url}/chat/completions`.
   * Default `${routerUrl}/v1` (choose a provider with a `model:provider`
   * suffix, or the `provider` option).
   */
  chatEndpoint?: string | Endpoint[];
  /**
   * A Hugging Face access token. Never logged or echoed. In a browser page it
   * is visible to every visitor: use the proxy worker there instead.
   */
  token?: string;
  /** The hf-inference base. Default `${routerUrl}/hf-inference`. */
  endpoint?: string | Endpoint[];
  /** The router's base, where provider routes are (`${routerUrl}/{provider}/...`). Default "https://router.huggingface.co". */
  routerUrl?: string;
  /** The Hub, asked which providers serve a model. Default "https://huggingface.co". */
  hubUrl?: string;
  /** Organisation billed for the calls (X-HF-Bill-To). */
  billTo?: string;
  /**
   * Identical textClassification, zeroShot and classifyImage calls in flight
   * (without call options of their own) share one request; raw image bytes
   * only as the same `Blob` (a byte view may be refilled). Default true;
   * only `false` turns it off.
   */
  dedupe?: boolean;
  /**
   * Micro-batching, off by default: single-text textClassification calls on
   * one model (without call options of their own) made within `windowMs`
   * (0 to 10000, default 10) go as one request of up to `maxSize` texts
   * (1 to 256, default 32); each caller gets its own result, or the batch's
   * error.
   */
  batch?: false | { windowMs?: number; maxSize?: number };
}

/** A class and its probability. */
export interface LabelScore {
  label: string;
  score: number;
}

/** Binary input accepted for images. */
export type BinaryInput = Blob | ArrayBuffer | Uint8Array;

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface TextClassificationParameters {
  /** How many classes to return. */
  top_k?: number;
  function_to_apply?: "sigmoid" | "softmax" | "none";
  [key: string]: JsonValue | undefined;
}

export interface TextGenerationParameters {
  max_new_tokens?: number;
  /** Accepted by gpt2 and other models on the legacy pipeline. */
  max_length?: number;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
  return_full_text?: boolean;
  do_sample?: boolean;
  seed?: number;
  stop?: string[];
  details?: boolean;
  [key: string]: JsonValue | undefined;
}

export interface TextGenerationOutput {
  generated_text: string;
  /** Present when asked for with `details: true`. */
  details?: { [key: string]: JsonValue };
}

export interface ImageClassificationParameters {
  top_k?: number;
  function_to_apply?: "sigmoid" | "softmax" | "none";
  [key: string]: JsonValue | undefined;
}

export interface ZeroShotParameters {
  /** Several labels may be true at once (scores do not sum to 1). */
  multi_label?: boolean;
  /** e.g. "This example is {}." */
  hypothesis_template?: string;
  [key: string]: JsonValue | undefined;
}

/** One message of a chat. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | (string & {});
  content: string | { [key: string]: JsonValue }[] | null;
  [key: string]: JsonValue | undefined;
}

/** An OpenAI chat completion request; the model goes inside. */
export interface ChatCompletionRequest {
  /** A model id, optionally with the router's `:provider` suffix. */
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  [key: string]: JsonValue | undefined;
}

/** What a chat completion and each chunk of a chat stream share (OpenAI wire shape). */
export interface ChatCompletionEnvelope {
  id: string;
  object: string;
  created: number;
  model: string;
  [key: string]: JsonValue | undefined;
}

/** An OpenAI chat completion, as upstream sent it. */
export interface ChatCompletionOutput extends ChatCompletionEnvelope {
  choices: {
    index: number;
    message: { role: string; content: string | null; [key: string]: JsonValue | undefined };
    finish_reason: string | null;
    [key: string]: JsonValue | undefined;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** One chunk of a streamed chat completion (OpenAI wire shape). */
export interface ChatCompletionChunk extends ChatCompletionEnvelope {
  choices: {
    index: number;
    delta: { role?: string; content?: string | null; [key: string]: JsonValue | undefined };
    finish_reason: string | null;
    [key: string]: JsonValue | undefined;
  }[];
}

/** Parameters of the tasks of the router passed through as given. */
export interface TaskParameters {
  [key: string]: JsonValue | undefined;
}

export interface SentenceSimilarityInput {
  source_sentence: string;
  sentences: string[];
}

export interface QuestionAnsweringInput {
  question: string;
  context: string;
}

export interface SummarizationOutput {
  summary_text: string;
  [key: string]: JsonValue | undefined;
}

export interface TranslationOutput {
  translation_text: string;
  [key: string]: JsonValue | undefined;
}

export interface TokenClassificationOutputElement {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
  [key: string]: JsonValue | undefined;
}

export interface QuestionAnsweringOutput {
  answer: string;
  score: number;
  start: number;
  end: number;
  [key: string]: JsonValue | undefined;
}

export interface FillMaskOutputElement {
  sequence: string;
  score: number;
  token: number;
  token_str: string;
  [key: string]: JsonValue | undefined;
}

export interface ObjectDetectionOutputElement {
  label: string;
  score: number;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
  [key: string]: JsonValue | undefined;
}

export interface ImageSegmentationOutputElement {
  label: string;
  /** Some models give none. */
  score?: number | null;
  /** A base64 PNG of the mask. */
  mask: string;
  [key: string]: JsonValue | undefined;
}

export interface ImageToTextOutput {
  generated_text: string;
  [key: string]: JsonValue | undefined;
}

export interface AutomaticSpeechRecognitionOutput {
  text: string;
  [key: string]: JsonValue | undefined;
}

/** An OpenAI images request, posted to `${chatEndpoint}/images/generations`. */
export interface ImageGenerationRequest {
  /** A model id, optionally with the router's `:provider` suffix. */
  model: string;
  prompt: string;
  size?: string;
  n?: number;
  response_format?: "b64_json" | "url";
  [key: string]: JsonValue | undefined;
}

/** An OpenAI images answer, as upstream sent it. */
export interface ImageGenerationOutput {
  created?: number;
  data: { b64_json?: string; url?: string; revised_prompt?: string; [key: string]: JsonValue | undefined }[];
  [key: string]: JsonValue | undefined;
}

/**
 * One chunk of a streamed text generation (TGI wire shape). From a
 * completion route (hf-inference, providers) `token` has `text` and
 * `special` only; a dedicated TGI endpoint also sends `id` and `logprob`.
 */
export interface TextGenerationStreamChunk {
  token: { id?: number; text: string; logprob?: number; special: boolean };
  /** The whole text, on the last chunk only. */
  generated_text: string | null;
  details: { [key: string]: JsonValue } | null;
  [key: string]: JsonValue | undefined;
}

/**
 * A streamed answer: `for await (const chunk of stream)`. Nothing is sent
 * before the first `next()`. Leaving the loop (or `return()`) cancels the
 * request; an error upstream reports inside the stream rejects the iteration
 * with an `InferenceError` after the chunks that came before it.
 */
export class InferenceStream<T> implements AsyncIterableIterator<T> {
  /** Made by the stream methods and functions, never directly. */
  private constructor();
  next(): Promise<IteratorResult<T, undefined>>;
  return(value?: undefined): Promise<IteratorResult<T, undefined>>;
  [Symbol.asyncIterator](): InferenceStream<T>;
}

/** A client; every method rejects with `InferenceError`. */
export class InferenceClient {
  constructor(options?: ClientOptions);
  /** Sends a payload as is: parsed JSON back, text, or a Blob for a binary answer. */
  query(model: string, payload: JsonValue | BinaryInput, callOptions?: CallOptions): Promise<JsonValue | Blob>;
  textClassification(model: string, text: string, params?: TextClassificationParameters, callOptions?: CallOptions): Promise<LabelScore[]>;
  textClassification(model: string, text: string[], params?: TextClassificationParameters, callOptions?: CallOptions): Promise<LabelScore[][]>;
  textGeneration(model: string, prompt: string, params?: TextGenerationParameters, callOptions?: CallOptions): Promise<TextGenerationOutput>;
  classifyImage(model: string, image: BinaryInput, params?: ImageClassificationParameters, callOptions?: CallOptions): Promise<LabelScore[]>;
  /** Labels sorted by score, highest first. */
  zeroShot(model: string, text: string, candidate_labels: string[], params?: ZeroShotParameters, callOptions?: CallOptions): Promise<LabelScore[]>;
  zeroShot(model: string, text: string[], candidate_labels: string[], params?: ZeroShotParameters, callOptions?: CallOptions): Promise<LabelScore[][]>;
  /** Tokens as they are generated (`"stream": true` on the task route). */
  textGenerationStream(model: string, prompt: string, params?: TextGenerationParameters, callOptions?: CallOptions): InferenceStream<TextGenerationStreamChunk>;
  /** An OpenAI chat completion through `chatEndpoint`. */
  chatCompletion(request: ChatCompletionRequest, callOptions?: CallOptions): Promise<ChatCompletionOutput>;
  /** A streamed OpenAI chat completion through `chatEndpoint`. */
  chatCompletionStream(request: ChatCompletionRequest, callOptions?: CallOptions): InferenceStream<ChatCompletionChunk>;
  /** Embeddings: `number[]` for a text, `number[][]` for texts, as sent. */
  featureExtraction(model: string, text: string, params?: TaskParameters, callOptions?: CallOptions): Promise<number[]>;
  featureExtraction(model: string, text: string[], params?: TaskParameters, callOptions?: CallOptions): Promise<number[][]>;
  /** The similarity of `source_sentence` to each of `sentences`. */
  sentenceSimilarity(model: string, input: SentenceSimilarityInput, params?: TaskParameters, callOptions?: CallOptions): Promise<number[]>;
  /** An image from a prompt: a Blob of the image's type. */
  textToImage(model: string, prompt: string, params?: TaskParameters, callOptions?: CallOptions): Promise<Blob>;
  summarization(model: string, text: string, params?: TaskParameters, callOptions?: CallOptions): Promise<SummarizationOutput>;
  /** One output for one text (or a one-element list), a list for several. */
  translation(model: string, text: string | string[], params?: TaskParameters, callOptions?: CallOptions): Promise<TranslationOutput | TranslationOutput[]>;
  tokenClassification(model: string, text: string, params?: TaskParameters, callOptions?: CallOptions): Promise<TokenClassificationOutputElement[]>;
  questionAnswering(model: string, input: QuestionAnsweringInput, params?: TaskParameters, callOptions?: CallOptions): Promise<QuestionAnsweringOutput>;
  fillMask(model: string, text: string, params?: TaskParameters, callOptions?: CallOptions): Promise<FillMaskOutputElement[]>;
  objectDetection(model: string, image: BinaryInput, params?: TaskParameters, callOptions?: CallOptions): Promise<ObjectDetectionOutputElement[]>;
  /** The image goes as base64 inside JSON, as the protocol takes it. */
  imageSegmentation(model: string, image: BinaryInput, params?: TaskParameters, callOptions?: CallOptions): Promise<ImageSegmentationOutputElement[]>;
  imageToText(model: string, image: BinaryInput, params?: TaskParameters, callOptions?: CallOptions): Promise<ImageToTextOutput>;
  zeroShotImageClassification(model: string, image: BinaryInput, candidate_labels: string[], params?: TaskParameters, callOptions?: CallOptions): Promise<LabelScore[]>;
  automaticSpeechRecognition(model: string, audio: BinaryInput, params?: TaskParameters, callOptions?: CallOptions): Promise<AutomaticSpeechRecognitionOutput>;
  audioClassification(model: string, audio: BinaryInput, params?: TaskParameters, callOptions?: CallOptions): Promise<LabelScore[]>;
  /** An OpenAI images request through `chatEndpoint`: the answer as sent. */
  imageGeneration(request: ImageGenerationRequest, callOptions?: CallOptions): Promise<ImageGenerationOutput>;
  /** Releases the client's wasm memory; the client cannot be used after. */
  free(): void;
}

// The free functions: one call each, on a client made from `options` for it
// alone. `dedupe` and `batch` act across the calls of one client, so they do
// nothing useful here (a batch of one still waits `windowMs`): for them,
// make an InferenceClient.
export function query(model: string, payload: JsonValue | BinaryInput, options?: ClientOptions): Promise<JsonValue | Blob>;
export function textClassification(model: string, text: string, params?: TextClassificationParameters, options?: ClientOptions): Promise<LabelScore[]>;
export function textClassification(model: string, text: string[], params?: TextClassificationParameters, options?: ClientOptions): Promise<LabelScore[][]>;
export function textGeneration(model: string, prompt: string, params?: TextGenerationParameters, options?: ClientOptions): Promise<TextGenerationOutput>;
export function classifyImage(model: string, image: BinaryInput, params?: ImageClassificationParameters, options?: ClientOptions): Promise<LabelScore[]>;
export function zeroShot(model: string, text: string, candidate_labels: string[], params?: ZeroShotParameters, options?: ClientOptions): Promise<LabelScore[]>;
export function zeroShot(model: string, text: string[], candidate_labels: string[], params?: ZeroShotParameters, options?: ClientOptions): Promise<LabelScore[][]>;
export function textGenerationStream(model: string, prompt: string, params?: TextGenerationParameters, options?: ClientOptions): InferenceStream<TextGenerationStreamChunk>;
export function chatCompletion(request: ChatCompletionRequest, options?: ClientOptions): Promise<ChatCompletionOutput>;
export function chatCompletionStream(request: ChatCompletionRequest, options?: ClientOptions): InferenceStream<ChatCompletionChunk>;
/** Embeddings: `number[]` for a text, `number[][]` for texts, as sent. */
export function featureExtraction(model: string, text: string, params?: TaskParameters, options?: ClientOptions): Promise<number[]>;
export function featureExtraction(model: string, text: string[], params?: TaskParameters, options?: ClientOptions): Promise<number[][]>;
/** The similarity of `source_sentence` to each of `sentences`. */
export function sentenceSimilarity(model: string, input: SentenceSimilarityInput, params?: TaskParameters, options?: ClientOptions): Promise<number[]>;
/** An image from a prompt: a Blob of the image's type. */
export function textToImage(model: string, prompt: string, params?: TaskParameters, options?: ClientOptions): Promise<Blob>;
export function summarization(model: string, text: string, params?: TaskParameters, options?: ClientOptions): Promise<SummarizationOutput>;
/** One output for one text (or a one-element list), a list for several. */
export function translation(model: string, text: string | string[], params?: TaskParameters, options?: ClientOptions): Promise<TranslationOutput | TranslationOutput[]>;
export function tokenClassification(model: string, text: string, params?: TaskParameters, options?: ClientOptions): Promise<TokenClassificationOutputElement[]>;
export function questionAnswering(model: string, input: QuestionAnsweringInput, params?: TaskParameters, options?: ClientOptions): Promise<QuestionAnsweringOutput>;
export function fillMask(model: string, text: string, params?: TaskParameters, options?: ClientOptions): Promise<FillMaskOutputElement[]>;
export function objectDetection(model: string, image: BinaryInput, params?: TaskParameters, options?: ClientOptions): Promise<ObjectDetectionOutputElement[]>;
/** The image goes as base64 inside JSON, as the protocol takes it. */
export function imageSegmentation(model: string, image: BinaryInput, params?: TaskParameters, options?: ClientOptions): Promise<ImageSegmentationOutputElement[]>;
export function imageToText(model: string, image: BinaryInput, params?: TaskParameters, options?: ClientOptions): Promise<ImageToTextOutput>;
export function zeroShotImageClassification(model: string, image: BinaryInput, candidate_labels: string[], params?: TaskParameters, options?: ClientOptions): Promise<LabelScore[]>;
export function automaticSpeechRecognition(model: string, audio: BinaryInput, params?: TaskParameters, options?: ClientOptions): Promise<AutomaticSpeechRecognitionOutput>;
export function audioClassification(model: string, audio: BinaryInput, params?: TaskParameters, options?: ClientOptions): Promise<LabelScore[]>;
/** An OpenAI images request through `chatEndpoint`: the answer as sent. */
export function imageGeneration(request: ImageGenerationRequest, options?: ClientOptions): Promise<ImageGenerationOutput>;

/**
 * Instantiates the wasm. The entries already do it; call it only to load the
 * `.wasm` from another URL before the first call.
 */
export function init(input?: { module_or_path?: RequestInfo | URL | Response | BufferSource | WebAssembly.Module }): Promise<unknown>;

/**
 * Instantiates the wasm synchronously from its bytes or a compiled module
 * (the Node and Workers entries do this themselves).
 */
export function initSync(input: { module: BufferSource | WebAssembly.Module }): unknown;
