// index.d.ts against the runtime of the packed package, both ways: every
// class, method, function and parameter it declares is there (and nothing
// else); every property of ClientOptions, CallOptions, RetryOptions and
// Endpoint is really read (a wrong type is refused by its name), and every
// option the runtime refuses by name is declared; every InferenceErrorCode is
// produced for some answer, and no answer produces a code outside the union.
//
// The declarations are parsed from the file's text, so that a property or a
// code added on one side only makes a test fail.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { promisify } from "node:util";

import { packageSuite, rejection } from "../support/package-suite.mjs";
import { packedTarball } from "../support/installed-package.mjs";

const DTS = readFileSync(new URL("../../pkg-template/index.d.ts", import.meta.url), "utf8");
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";

let hf;
let up;

packageSuite(async (suite) => {
  ({ hf, up } = suite);
});

// ---------------------------------------------------------------------------
// Reading index.d.ts

/** The text without comments (none of the declarations holds `/*` or `//` outside one). */
const CODE = DTS.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");

/** The text between the `{` at `open` and its matching `}`. */
function braced(text, open) {
  assert.equal(text[open], "{");
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces from ${open}`);
}

/** `text` split at `separators` outside (), {}, [] and <> (an arrow's `>` is no bracket). */
function splitTop(text, separators) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ("({[<".includes(c)) depth++;
    else if (")}]".includes(c) || (c === ">" && text[i - 1] !== "=")) depth--;
    else if (depth === 0 && separators.includes(c)) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** The members of a `{ ... }` body: [{ name, optional, type }] (index signatures left out). */
function members(body) {
  return splitTop(body, ";")
    .filter((m) => !m.startsWith("["))
    .map((m) => {
      const found = /^(?:readonly\s+)?(\w+)(\?)?\s*:\s*([\s\S]+)$/.exec(m);
      assert.ok(found, `cannot read member ${JSON.stringify(m)}`);
      return { name: found[1], optional: found[2] === "?", type: found[3].trim() };
    });
}

/** Every `export interface`, with its own members and what it extends. */
function interfaces() {
  const out = new Map();
  for (const m of CODE.matchAll(/export interface (\w+)(?:<[^>]*>)?(?: extends ([\w, ]+?))?\s*\{/g)) {
    const body = braced(CODE, m.index + m[0].length - 1);
    out.set(m[1], { extends: m[2] ? m[2].split(",").map((s) => s.trim()) : [], members: members(body) });
  }
  return out;
}

const INTERFACES = interfaces();

/** Every member of an interface, inherited ones included. */
function allMembers(name) {
  const found = INTERFACES.get(name);
  assert.ok(found, `index.d.ts declares no interface ${name}`);
  return [...found.extends.flatMap(allMembers), ...found.members];
}

/** The parameters of a signature's `(...)`: { total, required }. */
function parameters(list) {
  const params = splitTop(list, ",");
  return { total: params.length, required: params.filter((p) => !/^\w+\?\s*:/.test(p)).length };
}

/** The text inside the parentheses that open at `open`. */
function parenthesised(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error("unbalanced parentheses");
}

/**
 * Every `export class`: its methods (by name, or `Symbol.x` for `[Symbol.x]`,
 * each with the largest parameter count of its overloads), its constructor
 * and its fields.
 */
function classes() {
  const out = new Map();
  for (const m of CODE.matchAll(/export (?:declare )?class (\w+)(?:<[^>]*>)?[^{]*\{/g)) {
    const body = braced(CODE, m.index + m[0].length - 1);
    const methods = new Map();
    const fields = [];
    let constructor = { total: 0, required: 0, declared: false };
    for (const member of splitTop(body, ";")) {
      const method = /^(?:private\s+)?(constructor|\[Symbol\.\w+\]|\w+)\s*(?:<[^>]*>)?\(/.exec(member);
      if (method) {
        const params = parameters(parenthesised(member, method[0].length - 1));
        const name = method[1].replace(/^\[(Symbol\.\w+)\]$/, "$1");
        if (name === "constructor") constructor = { ...params, declared: true };
        else methods.set(name, Math.max(methods.get(name) ?? 0, params.total));
        continue;
      }
      const field = /^(?:readonly\s+)?(\w+)\??\s*:/.exec(member);
      assert.ok(field, `cannot read class member ${JSON.stringify(member)}`);
      fields.push(field[1]);
    }
    out.set(m[1], { methods, fields, constructor });
  }
  return out;
}

/** Every `export function`, with the largest parameter count of its overloads. */
function functions() {
  const out = new Map();
  for (const m of CODE.matchAll(/export (?:declare )?function (\w+)\s*\(/g)) {
    const { total } = parameters(parenthesised(CODE, m.index + m[0].length - 1));
    out.set(m[1], Math.max(out.get(m[1]) ?? 0, total));
  }
  return out;
}

/** The members of `InferenceErrorCode`. */
function errorCodes() {
  const found = /export type InferenceErrorCode =([^;]+);/.exec(CODE);
  assert.ok(found, "index.d.ts declares no InferenceErrorCode");
  return [...found[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
}

const CODES = errorCodes();

// ---------------------------------------------------------------------------
// The option interfaces, as "Interface.property" keys

/** The inline object type of a member (`false | { windowMs?: number; ... }`), if it has one. */
function inlineMembers(type) {
  const open = type.indexOf("{");
  return open < 0 ? [] : members(braced(type, open));
}

/**
 * The declared options: "ClientOptions.token", "CallOptions.retry",
 * "RetryOptions.maxAttempts", "Endpoint.url", and the fields of an inline
 * object type ("ClientOptions.batch.windowMs").
 */
function declaredOptions() {
  const keys = [];
  for (const name of ["ClientOptions", "CallOptions", "RetryOptions", "Endpoint"]) {
    for (const member of allMembers(name)) {
      keys.push(`${name}.${member.name}`);
      for (const inner of inlineMembers(member.type)) keys.push(`${name}.${member.name}.${inner.name}`);
    }
  }
  return keys;
}

const DECLARED = declaredOptions();

// ---------------------------------------------------------------------------
// Calling the runtime

/** The InferenceError `run` throws or rejects with (failing the test if it does neither). */
async function refusal(run) {
  let err;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof hf.InferenceError, `expected an InferenceError, got ${err?.stack ?? err}`);
  return err;
}

/** How each kind of option reaches the runtime: a list of [how, run(options), name prefix]. */
const routes = {
  /** Client options: the constructor (throws) and a free function (rejects). */
  client: (options) => [
    ["new InferenceClient", () => new hf.InferenceClient({ endpoint: up.url, ...options })],
    ["free textClassification", () => hf.textClassification(SST2, "hi", undefined, { endpoint: up.url, ...options })],
  ],
  /** Call options: a task method and a stream method (its first next()). */
  call: (options) => [
    ["textClassification callOptions", () => new hf.InferenceClient({ endpoint: up.url }).textClassification(SST2, "hi", undefined, options)],
    ["textGenerationStream callOptions", () => new hf.InferenceClient({ endpoint: up.url }).textGenerationStream("gpt2", "x", undefined, options).next()],
  ],
};

/**
 * The refusals index.d.ts's options earn: for each declared property, a value
 * of the wrong type, the options that carry it, and the exact message (which
 * starts with the option's name as the runtime reports it).
 */
function refusalCases() {
  const cases = new Map(); // "Interface.property" -> [{ how, run, message }]
  const add = (key, route, options, message) => {
    if (!cases.has(key)) cases.set(key, []);
    for (const [how, run] of route(options)) cases.get(key).push({ how, run, message });
  };
  const callProblems = {
    signal: [{}, "must be an AbortSignal"],
    timeoutMs: ["1000", "must be a positive number of milliseconds"],
    retry: ["yes", "must be an object"],
    headers: ["x-trace: 1", "must be an object"],
    onAttempt: ["console.log", "must be a function"],
    provider: [42, "must be a provider name or an array of them"],
  };
  for (const [prop, [bad, problem]] of Object.entries(callProblems)) {
    add(`ClientOptions.${prop}`, routes.client, { [prop]: bad }, `options.${prop}: ${problem}`);
    add(`CallOptions.${prop}`, routes.call, { [prop]: bad }, `callOptions.${prop}: ${problem}`);
  }
  const endpointProblem = "must be a URL string or an array of {url, token?, dedicated?}";
  add("ClientOptions.token", routes.client, { token: 42 }, "token: must be a string");
  add("ClientOptions.endpoint", routes.client, { endpoint: 42 }, `endpoint: ${endpointProblem}`);
  add("ClientOptions.chatEndpoint", routes.client, { chatEndpoint: 42 }, `chatEndpoint: ${endpointProblem}`);
  add("ClientOptions.billTo", routes.client, { billTo: 42 }, "billTo: must be a string");
  add("ClientOptions.routerUrl", routes.client, { routerUrl: 42 }, "routerUrl: must be a string");
  add("ClientOptions.hubUrl", routes.client, { hubUrl: 42 }, "hubUrl: must be a string");
  add("ClientOptions.batch", routes.client, { batch: "on" }, "batch: must be an object");
  add("ClientOptions.batch.windowMs", routes.client, { batch: { windowMs: "10" } }, "batch.windowMs: must be a whole number from 0 to 10000");
  add("ClientOptions.batch.maxSize", routes.client, { batch: { maxSize: "8" } }, "batch.maxSize: must be a whole number from 1 to 256");
  const retryProblems = {
    maxAttempts: ["3", "must be a whole number from 1 to 100"],
    baseDelayMs: ["500", "must be a number of milliseconds"],
    maxDelayMs: ["10s", "must be a number of milliseconds"],
    deadlineMs: [true, "must be a number of milliseconds"],
  };
  for (const [prop, [bad, problem]] of Object.entries(retryProblems)) {
    add(`RetryOptions.${prop}`, routes.client, { retry: { [prop]: bad } }, `options.retry.${prop}: ${problem}`);
    add(`RetryOptions.${prop}`, routes.call, { retry: { [prop]: bad } }, `callOptions.retry.${prop}: ${problem}`);
  }
  const endpointProblems = {
    url: [42, "must be a string"],
    token: [42, "must be a string"],
    weight: ["3", "must be a positive number"],
    name: [{ label: "router" }, "must be a string"],
  };
  for (const [prop, [bad, problem]] of Object.entries(endpointProblems)) {
    for (const list of ["endpoint", "chatEndpoint"]) {
      // The second item: the index in the name is the item's own.
      const options = { [list]: [{ url: up.url }, { url: up.url, [prop]: bad }] };
      add(`Endpoint.${prop}`, routes.client, options, `${list}[1].${prop}: ${problem}`);
    }
  }
  return cases;
}

/**
 * The properties that accept a value of every type, with the reason; each is
 * checked by its documented effect instead.
 */
const ANY_TYPE = {
  "ClientOptions.dedupe": "read as `=== false`: anything else leaves sharing on",
  "Endpoint.dedicated": "read as a truth value",
};

/** `target` behind a Proxy that notes every string key the runtime gets from it. */
function spy(target, seen) {
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "string") seen.add(key);
      return Reflect.get(t, key, receiver);
    },
  });
}

/**
 * The option names the runtime asks its option objects for (read through
 * proxies, independently of index.d.ts): { client, call, endpoint, batch }.
 */
async function namesTheRuntimeReads() {
  const read = { client: new Set(), call: new Set(), endpoint: new Set(), batch: new Set() };
  new hf.InferenceClient(spy({ endpoint: [spy({ url: up.url }, read.endpoint)], batch: spy({}, read.batch) }, read.client));
  await rejection(new hf.InferenceClient({ endpoint: up.url }).query(SST2, undefined, spy({}, read.call)));
  return Object.fromEntries(Object.entries(read).map(([k, v]) => [k, [...v].sort()]));
}

/** How many requests two concurrent identical calls of a client with `dedupe` make. */
async function requestsOfTwinCalls(dedupe) {
  up.reset();
  up.fault({ delayMs: 20, times: 2 }); // the normal answer, late: the calls overlap
  const c = new hf.InferenceClient({ endpoint: up.url, dedupe });
  const [a, b] = await Promise.all([c.textClassification(SST2, "twins"), c.textClassification(SST2, "twins")]);
  assert.deepEqual(a, b);
  assert.notEqual(a, b, "each caller gets its own result objects");
  return up.requests.length;
}

/** The path a call to an endpoint list item `{url: up.url + "/ep", dedicated}` goes to. */
async function pathWithDedicated(dedicated, chat = false) {
  up.reset();
  const answer = chat
    ? { id: "c", object: "chat.completion", created: 1, model: "gpt2", choices: [] }
    : [{ label: "a", score: 1 }];
  up.fault({ body: JSON.stringify(answer), headers: { "content-type": "application/json" } });
  const list = [{ url: `${up.url}/ep`, dedicated }];
  const c = new hf.InferenceClient(chat ? { chatEndpoint: list } : { endpoint: list });
  if (chat) await c.chatCompletion({ model: "gpt2", messages: [{ role: "user", content: "hi" }] });
  else await c.textClassification(SST2, "hi");
  assert.equal(up.requests.length, 1);
  return up.requests[0].path;
}

// ---------------------------------------------------------------------------

describe("classes and functions", () => {
  const CLASSES = classes();
  const FUNCTIONS = functions();

  // What the runtime has that index.d.ts leaves out on purpose.
  const UNDECLARED_MEMBERS = {
    // wasm-bindgen's own: an internal of `free`, and `Symbol.dispose` as an
    // alias of `free` (declaring it would need TypeScript's esnext.disposable lib).
    InferenceClient: ["__destroy_into_raw", "Symbol.dispose"],
  };
  // Function.length where it differs from the declared parameter count.
  const LENGTHS = {
    // `details = {}` is a default value, which Function.length does not count.
    "InferenceError.constructor": 2,
    // Private: the package constructs it with the stream's source.
    "InferenceStream.constructor": 1,
  };

  /** A prototype's own members: names, and `Symbol.x` for well-known symbols. */
  function runtimeMembers(prototype) {
    return Reflect.ownKeys(prototype)
      .filter((key) => key !== "constructor")
      .map((key) => {
        if (typeof key === "string") return key;
        const known = Object.getOwnPropertyNames(Symbol).find((n) => Symbol[n] === key);
        return known ? `Symbol.${known}` : String(key);
      })
      .sort();
  }

  test("index.d.ts declares the classes and functions this test reads", () => {
    assert.deepEqual([...CLASSES.keys()].sort(), ["InferenceClient", "InferenceError", "InferenceStream"]);
    assert.deepEqual([...FUNCTIONS.keys()].sort(), [
      "audioClassification",
      "automaticSpeechRecognition",
      "chatCompletion",
      "chatCompletionStream",
      "classifyImage",
      "featureExtraction",
      "fillMask",
      "imageGeneration",
      "imageSegmentation",
      "imageToText",
      "init",
      "initSync",
      "objectDetection",
      "query",
      "questionAnswering",
      "sentenceSimilarity",
      "summarization",
      "textClassification",
      "textGeneration",
      "textGenerationStream",
      "textToImage",
      "tokenClassification",
      "translation",
      "zeroShot",
      "zeroShotImageClassification",
    ]);
  });

  test("the package exports exactly the declared classes and functions", () => {
    const classes = Object.keys(hf).filter((name) => CLASSES.has(name));
    assert.deepEqual(classes.sort(), [...CLASSES.keys()].sort(), "the classes exported (left) against index.d.ts (right)");
    const others = Object.keys(hf).filter((name) => !CLASSES.has(name));
    assert.deepEqual(others.sort(), [...FUNCTIONS.keys()].sort(), "every other export (left) against the functions index.d.ts declares (right)");
  });

  test("every declared function takes the declared number of parameters", () => {
    for (const [name, total] of FUNCTIONS) {
      assert.equal(typeof hf[name], "function", name);
      assert.equal(hf[name].length, total, `${name}: ${hf[name].length} parameters at run time, ${total} declared`);
    }
  });

  test("every class has exactly the declared methods, each with the declared number of parameters", () => {
    for (const [name, declared] of CLASSES) {
      const runtime = hf[name];
      assert.equal(typeof runtime, "function", name);
      const expectedLength = LENGTHS[`${name}.constructor`] ?? declared.constructor.total;
      assert.equal(runtime.length, expectedLength, `${name}'s constructor`);
      const undeclared = UNDECLARED_MEMBERS[name] ?? [];
      assert.deepEqual(
        runtimeMembers(runtime.prototype).filter((m) => !undeclared.includes(m)),
        [...declared.methods.keys()].sort(),
        `${name}: the methods at run time (left) against index.d.ts (right)`,
      );
      for (const m of undeclared) assert.ok(runtimeMembers(runtime.prototype).includes(m), `${name}.${m} is gone: drop it from UNDECLARED_MEMBERS`);
      for (const [method, total] of declared.methods) {
        const fn = method.startsWith("Symbol.") ? runtime.prototype[Symbol[method.slice(7)]] : runtime.prototype[method];
        assert.equal(fn.length, LENGTHS[`${name}.${method}`] ?? total, `${name}.${method}`);
      }
    }
  });

  test("an InferenceError has exactly the declared fields, and reads every InferenceErrorDetails field", () => {
    const declared = classes().get("InferenceError").fields;
    const details = allMembers("InferenceErrorDetails").map((m) => m.name);
    const given = Object.fromEntries(details.map((d, i) => [d, d === "model" || d === "requestId" ? `v${i}` : 100 + i]));
    const err = new hf.InferenceError("the message", "NOT_FOUND", given);
    assert.deepEqual(Object.keys(err), declared, "own enumerable fields, in the declared order");
    for (const d of details) assert.equal(err[d], given[d], `details.${d} is read`);
    assert.deepEqual([err.name, err.code, err.message], ["InferenceError", "NOT_FOUND", "the message"]);
    assert.equal(new hf.InferenceError("m", "GONE").attempts, 0, "attempts defaults to 0 (declared as a number, not optional)");
    assert.ok(err instanceof Error);
  });

  test("what onAttempt receives has exactly the AttemptInfo fields, the required ones always", async () => {
    const declared = allMembers("AttemptInfo");
    const required = declared.filter((m) => !m.optional).map((m) => m.name);
    const infos = [];
    const c = new hf.InferenceClient({ endpoint: up.url, retry: { baseDelayMs: 1, maxDelayMs: 1 }, onAttempt: (i) => infos.push(i) });
    up.fault([
      { status: 503, body: '{"error":"Model is currently loading","estimated_time":0.001}' },
      { headers: { "x-usage-cost": "0.0002" } }, // as a proxy that accounts for usage answers
    ]);
    await c.textClassification(SST2, "hi"); // a failed attempt, then one answered with x-compute-time
    const closed = await closedPort();
    await rejection(new hf.InferenceClient({ endpoint: `http://127.0.0.1:${closed}`, retry: false, onAttempt: (i) => infos.push(i) }).textClassification(SST2, "hi"));
    assert.equal(infos.length, 3);
    const seen = new Set();
    for (const info of infos) {
      for (const key of Object.keys(info)) {
        assert.ok(declared.some((m) => m.name === key), `onAttempt got ${key}, which AttemptInfo does not declare`);
        seen.add(key);
      }
      for (const key of required) assert.ok(key in info, `${key} is required in AttemptInfo but missing from ${JSON.stringify(info)}`);
    }
    assert.deepEqual([...seen].sort(), declared.map((m) => m.name).sort(), "these three attempts show every field");
    assert.deepEqual(
      infos.map((i) => [i.attempt, i.status, i.code]),
      [
        [1, 503, "MODEL_LOADING"],
        [2, 200, undefined],
        [1, undefined, "NETWORK"],
      ],
      "[attempt, status, code] of the loading answer, its retry, and the closed port",
    );
  });
});

describe("options", () => {
  test("the parsed interfaces are the ones the runtime reads", () => {
    // A guard on the parser itself: the four interfaces, and CallOptions inherited by ClientOptions.
    for (const name of ["ClientOptions", "CallOptions", "RetryOptions", "Endpoint"]) assert.ok(INTERFACES.has(name), name);
    assert.deepEqual(INTERFACES.get("ClientOptions").extends, ["CallOptions"]);
    assert.ok(DECLARED.includes("ClientOptions.timeoutMs") && DECLARED.includes("ClientOptions.batch.maxSize"));
  });

  test("the runtime asks its option objects for exactly the declared properties", async () => {
    const read = await namesTheRuntimeReads();
    const names = (iface) => allMembers(iface).map((m) => m.name).sort();
    assert.deepEqual(read.client, names("ClientOptions"), "client options read (left) against ClientOptions (right)");
    assert.deepEqual(read.endpoint, names("Endpoint"), "an endpoint item");
    const batch = inlineMembers(allMembers("ClientOptions").find((m) => m.name === "batch").type).map((m) => m.name).sort();
    assert.deepEqual(read.batch, batch, "batch");
    // Retry fields are read by the keys given: the runtime's list is in the message for a key it does not know.
    const retry = allMembers("RetryOptions").map((m) => m.name);
    const err = await refusal(() => new hf.InferenceClient({ retry: { maxRetries: 3 } }));
    assert.equal(err.message, `options.retry.maxRetries: is not an option (expected ${retry.slice(0, -1).join(", ")} or ${retry.at(-1)})`);
    // A call asks for every CallOptions name (and today for the client's others too, which it ignores).
    for (const n of names("CallOptions")) assert.ok(read.call.includes(n), `a call never reads callOptions.${n}`);
    for (const n of read.call) assert.ok(names("ClientOptions").includes(n), `a call reads callOptions.${n}, which no options interface declares`);
    const clientOnly = names("ClientOptions").filter((n) => !names("CallOptions").includes(n));
    assert.deepEqual(clientOnly, ["batch", "billTo", "chatEndpoint", "dedupe", "endpoint", "hubUrl", "routerUrl", "token"]);
    const ignored = { token: 42, endpoint: "http://127.0.0.1:1", chatEndpoint: 42, billTo: 42, batch: "on", dedupe: false, hubUrl: 1, routerUrl: 2 };
    assert.deepEqual(Object.keys(ignored).sort(), clientOnly);
    const labels = await new hf.InferenceClient({ endpoint: up.url }).textClassification(SST2, "hi", undefined, ignored);
    // The local upstream's answer for "hi" (seeded by the model and the text).
    assert.deepEqual(labels, [
      { label: "POSITIVE", score: 0.8514804758597165 },
      { label: "NEGATIVE", score: 0.14851952414028347 },
    ]);
    assert.equal(up.requests.length, 1, "the call went to the client's endpoint");
    assert.equal(up.requests[0].headers.authorization, undefined, "with no token");
    assert.equal(up.requests[0].headers["x-hf-bill-to"], undefined, "and no billTo");
  });

  test("every declared option is read: a value of the wrong type is refused by the option's name", async () => {
    const cases = refusalCases();
    const covered = [...cases.keys(), ...Object.keys(ANY_TYPE)].sort();
    assert.deepEqual(covered, [...DECLARED].sort(), "the cases here (left) against the properties index.d.ts declares (right)");
    for (const [key, list] of cases) {
      for (const { how, run, message } of list) {
        up.reset();
        const err = await refusal(run);
        assert.equal(err.code, "INVALID_INPUT", `${key} via ${how}: ${err.message}`);
        assert.equal(err.message, message, `${key} via ${how}`);
        assert.equal(err.attempts, 0, `${key} via ${how}`);
        assert.equal(up.requests.length, 0, `${key} via ${how}: refused before any request`);
      }
    }
  });

  test("dedupe accepts every type: only false turns sharing off", async () => {
    assert.match(ANY_TYPE["ClientOptions.dedupe"], /=== false/);
    for (const value of [undefined, true, 0, "", "false", null, {}, [], 1]) {
      assert.equal(await requestsOfTwinCalls(value), 1, `dedupe: ${JSON.stringify(value)} shares the request`);
    }
    assert.equal(await requestsOfTwinCalls(false), 2, "dedupe: false sends each call");
  });

  test("Endpoint.dedicated accepts every type: a truthy one calls the URL as is, for task calls only", async () => {
    for (const value of [true, 1, "yes", {}, []]) {
      assert.equal(await pathWithDedicated(value), "/ep", `dedicated: ${JSON.stringify(value)}`);
    }
    for (const value of [false, 0, "", null, undefined]) {
      assert.equal(await pathWithDedicated(value), `/ep/models/${SST2}`, `dedicated: ${JSON.stringify(value)}`);
    }
    assert.equal(await pathWithDedicated(true, true), "/ep/chat/completions", "a chat endpoint is never dedicated");
  });

  test("every option the runtime refuses by name is declared in index.d.ts", async () => {
    // Names from index.d.ts, the names the runtime asks for (through
    // proxies), and names other clients use, at every level the runtime
    // reads options from, with values of every type.
    const read = await namesTheRuntimeReads();
    const names = [
      ...new Set([
        ...DECLARED.map((k) => k.split(".").pop()),
        ...Object.values(read).flat(),
        ...["timeout", "maxRetries", "retries", "baseUrl", "endpointUrl", "accessToken", "apiKey", "fetch", "provider", "model"],
        ...["wait_for_model", "use_cache", "cache", "keepalive", "credentials", "mode", "maxAttempt", "delayMs", "windowMS", "size"],
      ]),
    ];
    const values = [42, -1, 0, 1.5, "x", "", true, false, {}, { bogus: 1 }, [], [42], () => {}, Symbol("s")];
    const levels = [
      // [level, options from (name, value), how the runtime reads them]
      ["client", (n, v) => ({ [n]: v }), (o) => new hf.InferenceClient(o)],
      ["free function", (n, v) => ({ [n]: v }), (o) => hf.query(SST2, undefined, o)],
      ["client retry", (n, v) => ({ retry: { [n]: v } }), (o) => new hf.InferenceClient(o)],
      ["client batch", (n, v) => ({ batch: { [n]: v } }), (o) => new hf.InferenceClient(o)],
      ["endpoint item", (n, v) => ({ endpoint: [{ url: up.url, [n]: v }] }), (o) => new hf.InferenceClient(o)],
      ["chatEndpoint item", (n, v) => ({ chatEndpoint: [{ url: up.url, [n]: v }] }), (o) => new hf.InferenceClient(o)],
      // `query` reads its call options before its payload: `undefined` stops every call that passes them.
      ["callOptions", (n, v) => ({ [n]: v }), (o) => new hf.InferenceClient({ endpoint: up.url }).query(SST2, undefined, o)],
      ["callOptions retry", (n, v) => ({ retry: { [n]: v } }), (o) => new hf.InferenceClient({ endpoint: up.url }).query(SST2, undefined, o)],
    ];
    const messages = new Set();
    for (const [, make, run] of levels) {
      for (const name of names) {
        for (const value of values) {
          let err;
          try {
            await run(make(name, value));
          } catch (e) {
            err = e;
          }
          if (err === undefined) continue;
          assert.ok(err instanceof hf.InferenceError, String(err));
          assert.equal(err.code, "INVALID_INPUT", err.message);
          if (err.message !== "payload: is required") messages.add(err.message);
        }
      }
    }
    assert.equal(up.requests.length, 0, "no option object reached upstream");

    const retryKeys = allMembers("RetryOptions").map((m) => m.name);
    const refused = new Set();
    for (const message of messages) {
      const [path] = message.split(": ");
      const notAnOption = /^(?:options|callOptions)\.retry\.(\w+): is not an option \(expected (.+)\)$/.exec(message);
      if (notAnOption) {
        // A misspelt retry field: refused because it is not declared, and the list it gives is RetryOptions'.
        assert.ok(!retryKeys.includes(notAnOption[1]), message);
        assert.deepEqual(notAnOption[2].split(/, | or /), retryKeys, message);
        continue;
      }
      const key = declaredKeyOf(path);
      assert.ok(key !== null && DECLARED.includes(key), `the runtime refuses ${JSON.stringify(path)} (${message}), which index.d.ts does not declare`);
      refused.add(key);
    }
    const everyTypeKeys = Object.keys(ANY_TYPE);
    assert.deepEqual(
      [...refused].sort(),
      DECLARED.filter((k) => !everyTypeKeys.includes(k)).sort(),
      "the options refused by name are the declared ones that do not accept every type",
    );
  });
});

/**
 * The declared option a runtime name stands for: `token` -> ClientOptions.token,
 * `options.retry.maxAttempts` -> RetryOptions.maxAttempts, `callOptions.timeoutMs`
 * -> CallOptions.timeoutMs, `endpoint[1].weight` -> Endpoint.weight, `endpoint[0]` -> ClientOptions.endpoint,
 * `batch.windowMs` -> ClientOptions.batch.windowMs, `options.headers.x-trace` ->
 * ClientOptions.headers (the rest is a header's name); null when it is none.
 */
function declaredKeyOf(path) {
  let m = /^(endpoint|chatEndpoint)\[\d+\]\.(\w+)$/.exec(path);
  if (m) return `Endpoint.${m[2]}`;
  m = /^(endpoint|chatEndpoint)\[\d+\]$/.exec(path); // the item itself is not an object
  if (m) return `ClientOptions.${m[1]}`;
  m = /^(options|callOptions)\.provider\[\d+\]$/.exec(path); // an item of a provider list
  if (m) return `${m[1] === "callOptions" ? "CallOptions" : "ClientOptions"}.provider`;
  m = /^(?:(options|callOptions)\.)?(\w+)(?:\.(.+))?$/.exec(path);
  if (!m) return null;
  const [, prefix, prop, rest] = m;
  const owner = prefix === "callOptions" ? "CallOptions" : "ClientOptions";
  if (prefix === undefined && allMembers("CallOptions").some((c) => c.name === prop)) return null; // call options are named `options.x`
  if (rest === undefined) return `${owner}.${prop}`;
  if (prop === "retry") return `RetryOptions.${rest}`;
  if (prop === "headers") return `${owner}.headers`;
  return `${owner}.${prop}.${rest}`;
}

/** A port nothing listens on. */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("error codes", () => {
  const plain = (status, error = "upstream says no") => ({ status, body: JSON.stringify({ error }) });
  const statusCase = (status, extra = {}) => ({ fault: { ...plain(status), ...extra }, status });
  // How each code comes about, with the status it carries.
  const PRODUCE = {
    INVALID_INPUT: { run: () => new hf.InferenceClient({ endpoint: up.url }).textClassification(SST2, 42), status: undefined },
    BAD_REQUEST: statusCase(400),
    UNAUTHORIZED: statusCase(401),
    PAYMENT_REQUIRED: statusCase(402),
    FORBIDDEN: statusCase(403),
    NOT_FOUND: statusCase(404),
    METHOD_NOT_ALLOWED: statusCase(405),
    GONE: statusCase(410),
    PAYLOAD_TOO_LARGE: statusCase(413),
    VALIDATION: statusCase(422),
    RATE_LIMITED: statusCase(429, { headers: { "retry-after": "7" } }),
    MODEL_LOADING: { fault: { status: 503, body: '{"error":"Model is currently loading","estimated_time":12.5}' }, status: 503 },
    UPSTREAM_ERROR: statusCase(500),
    CONFIG: { fault: { status: 500, body: '{"error":"HF_TOKEN is not set","code":"CONFIG"}' }, status: 500 },
    TIMEOUT: { fault: { stall: true }, callOptions: { timeoutMs: 50 }, status: undefined },
    ABORTED: { fault: { stall: true }, abortAfterMs: 20, status: undefined },
    NETWORK: { closedPort: true, status: undefined },
    BAD_RESPONSE: { fault: { body: '{"labels":["a"]}', headers: { "content-type": "application/json" } }, status: 200 },
    BUDGET_EXCEEDED: { fault: { status: 402, body: '{"error":"the budget cap would be passed","code":"BUDGET_EXCEEDED"}' }, status: 402 },
    // The Hub maps the model to no provider.
    NO_PROVIDER: { hub: {}, callOptions: { provider: "auto" }, status: undefined },
  };

  async function produce(spec) {
    if (spec.run) return refusal(spec.run);
    const endpoint = spec.closedPort ? `http://127.0.0.1:${await closedPort()}` : up.url;
    if (spec.fault) up.fault(spec.fault);
    if (spec.hub) up.hub(SST2, spec.hub);
    const options = { ...spec.callOptions };
    if (spec.abortAfterMs !== undefined) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), spec.abortAfterMs);
      options.signal = controller.signal;
    }
    return refusal(() => new hf.InferenceClient({ endpoint, hubUrl: up.url, retry: false }).textClassification(SST2, "hi", undefined, options));
  }

  test("every InferenceErrorCode is produced by the runtime for some answer", async () => {
    assert.deepEqual(Object.keys(PRODUCE).sort(), [...CODES].sort(), "the cases here (left) against InferenceErrorCode (right)");
    assert.equal(new Set(CODES).size, CODES.length, "no code is listed twice");
    for (const [code, spec] of Object.entries(PRODUCE)) {
      up.reset();
      const err = await produce(spec);
      assert.equal(err.code, code, `${code}: got ${err.code} (${err.message})`);
      assert.equal(err.status, spec.status, code);
      assert.equal(err.model, SST2, code);
    }
  });

  test("the runtime produces no code outside InferenceErrorCode", async (t) => {
    // Every status a client can be answered with, each with every shape of
    // error body, and the code names the wasm holds that are not in the union.
    const wasm = await promisify(execFile)("tar", ["-xzOf", packedTarball(), "package/hf_inference_wasm_bg.wasm"], {
      encoding: "buffer",
      maxBuffer: 64 * 1024 * 1024,
    });
    const candidates = unknownCodeNames(wasm.stdout.toString("latin1"));
    t.diagnostic(`upper-case names next to the codes in the wasm, not in the union: ${JSON.stringify(candidates)}`);
    const bodies = {
      plain: '{"error":"e"}',
      listed: '{"error":["a","b"]}',
      openai: '{"error":{"message":"e","type":"invalid_request_error"}}',
      validation: '{"error":"e","error_type":"validation"}',
      loading: '{"error":"Model x is currently loading","estimated_time":0.01}',
      text: "not json at all",
      empty: "",
    };
    for (const name of [...CODES, ...candidates]) bodies[`code:${name}`] = JSON.stringify({ error: "e", code: name });
    // 3xx are followed or bodiless, 204/205 bodiless; undici itself resends a 421 (and turns a 407 into a network error).
    const statuses = [];
    for (let s = 200; s <= 599; s++) if ((s < 300 || s >= 400) && ![204, 205, 421].includes(s)) statuses.push(s);

    const produced = new Map(); // code -> first answer that produced it
    const note = (code, what) => produced.has(code) || produced.set(code, what);
    const c = new hf.InferenceClient({ endpoint: up.url, retry: false, dedupe: false, onAttempt: (i) => i.code && note(i.code, "onAttempt") });
    const answers = statuses.flatMap((s) => Object.entries(bodies).map(([shape, body]) => ({ s, shape, body })));
    // 200 at a time, one model per answer, so that the calls run at once and each meets its own fault.
    for (let i = 0; i < answers.length; i += 200) {
      await Promise.all(
        answers.slice(i, i + 200).map(({ s, shape, body }, j) => {
          const model = `sweep/s${s}-${i + j}`;
          up.fault({ path: `/models/${model}`, status: s, body });
          return c.textClassification(model, "hi").then(() => undefined, (err) => note(err.code, `${s} ${shape}`));
        }),
      );
    }
    t.diagnostic(`${answers.length} answers produced ${[...produced.keys()].sort().join(", ")}`);
    for (const [code, what] of produced) assert.ok(CODES.includes(code), `the runtime produced ${code} (for ${what}), which InferenceErrorCode lacks`);
    // Only the caller can abort, and NO_PROVIDER is the Hub's mapping (no
    // answer of an inference call): every other code is some answer's.
    for (const code of CODES.filter((c) => c !== "ABORTED" && c !== "NO_PROVIDER")) {
      assert.ok(produced.has(code), `no answer produced ${code}`);
    }
  });
});

/**
 * The upper-case names in `text` (the wasm's bytes) that sit in a run of
 * code names (rustc lays the `as_str` strings end to end) and are none of
 * InferenceErrorCode: what the runtime might answer that the union lacks.
 */
function unknownCodeNames(text) {
  const byLength = [...CODES].sort((a, b) => b.length - a.length);
  const found = new Set();
  const unknown = new Set();
  for (const [run] of text.matchAll(/[A-Z][A-Z_]*[A-Z]/g)) {
    if (!byLength.some((c) => run.includes(c))) continue;
    let rest = "";
    for (let i = 0; i < run.length; ) {
      const code = byLength.find((c) => run.startsWith(c, i));
      if (code) {
        found.add(code);
        if (rest) unknown.add(rest);
        rest = "";
        i += code.length;
      } else {
        rest += run[i++];
      }
    }
    if (rest) unknown.add(rest);
  }
  assert.deepEqual([...found].sort(), [...CODES].sort(), "every InferenceErrorCode is among the wasm's strings");
  return [...unknown].filter((name) => name.length >= 3);
}
