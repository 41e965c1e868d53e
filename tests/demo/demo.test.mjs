// The demo page end to end in headless Chromium: served by the proxy worker
// (wrangler dev) from build/site/, calling it on the same origin, with the
// local upstream behind it. Asserts what each panel renders, errors, keyboard
// use and that the worker's token never reaches the page; writes screenshots
// of every panel at desktop and phone width to test-output/screenshots/.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { DEMO_MODELS, OFFERED_MODEL, startDemo } from "../../scripts/demo-server.mjs";
import { launchChromium } from "../support/browser.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shots = path.join(repoRoot, "test-output/screenshots");
const TOKEN = "hf_demoWorkerTokenMustNotReachPage42";
const MISSING = "this-model-does-not-exist-123";
const SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const VIT = "google/vit-base-patch16-224";
const MNLI = "facebook/bart-large-mnli";
const MINILM = "sentence-transformers/all-MiniLM-L6-v2";
const FLUX = "black-forest-labs/FLUX.1-schnell";
const BART_CNN = "facebook/bart-large-cnn";
// The offered model's id at together, which serves it for text generation (tests/upstream/hub.mjs).
const OFFERED_AT_TOGETHER = "Qwen/Qwen2.5-7B-Instruct-Turbo";
const GPT2_NO_PROVIDER = "no provider serves gpt2 for text-generation (asked: auto); the Hub maps it for no task at all";
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

let demo;
let browser;
/** Everything the page sent and received, for the token check. */
const traffic = [];
// Reads of response bodies, awaited before the traffic is searched for the token.
const bodyReads = [];
/** Every call the pages made through the proxy (a POST): its path, body, status and x-cache. */
const calls = [];
const pageErrors = [];

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

before(async () => {
  await mkdir(shots, { recursive: true });
  demo = await startDemo({
    token: TOKEN,
    offline: true,
    port: await freePort(),
    vars: { ALLOWED_MODELS: [...DEMO_MODELS, MISSING].join(",") },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  const output = demo?.output.join("\n") ?? "";
  await demo?.close();
  assert.ok(!output.includes(TOKEN), "wrangler printed the token");
});

async function openDemo(viewport) {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("request", (request) => traffic.push({ url: request.url(), headers: request.headers(), body: request.postData() ?? "" }));
  page.on("response", (response) => {
    const entry = { url: response.url(), headers: response.headers(), body: "" };
    traffic.push(entry);
    const request = response.request();
    if (request.method() === "POST" && response.url().startsWith(`${demo.url}/`)) {
      calls.push({ path: new URL(response.url()).pathname, body: request.postData() ?? "", status: response.status(), cache: entry.headers["x-cache"] });
    }
    if (/json|text|javascript|wasm/.test(entry.headers["content-type"] ?? "")) {
      const read = response.body().then(
        (body) => (entry.body = body.toString("latin1")),
        () => (entry.unread = true),
      );
      bodyReads.push(read);
    }
  });
  await page.goto(`${demo.url}/`);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

/** Submits a panel and waits for its result to settle. */
async function submit(page, id) {
  await page.click(`#${id} button[type=submit]`);
  await page.waitForSelector(`#${id} .result[data-state=done], #${id} .result[data-state=error]`, { timeout: 30_000 });
}

const rendered = (page, id) =>
  page.$$eval(`#${id} .bar`, (bars) => bars.map((b) => [b.querySelector(".label").textContent, b.querySelector(".score").textContent]));

const rawShown = (page, id) => page.$eval(`#${id} details pre`, (pre) => JSON.parse(pre.textContent));

/** The local upstream's own answer to a body, asked directly. */
async function upstreamAnswer(model, body, type = "application/json", read = (r) => r.json()) {
  return upstreamAt(`/models/${model}`, body, type, read);
}

/** The same, at any path of the local upstream (a provider route, say). */
async function upstreamAt(route, body, type = "application/json", read = (r) => r.json()) {
  const response = await fetch(`${demo.upstream.url}${route}`, { method: "POST", headers: { "content-type": type, "x-test-direct": "1" }, body });
  return read(response);
}

/** The requests the worker forwarded to the local upstream since `from` (an index of its log). */
const forwardedSince = (from) => demo.upstream.requests.slice(from).filter((r) => !r.headers["x-test-direct"]);

const LATENCY = /^\d+ ms in all · [\d.]+ ms upstream compute$/;

/** A panel's bars, raw JSON and latency line against the upstream's answer, then its screenshot. */
async function checkBars(page, viewportName, id, list, raw) {
  assert.deepEqual(await rendered(page, id), asBars(list));
  assert.deepEqual(await rawShown(page, id), raw);
  assert.match(await page.textContent(`#${id} .latency`), LATENCY);
  await page.locator(`#${id}`).screenshot({ path: path.join(shots, `${viewportName}-${id}.png`) });
}

const asBars = (list) => list.map(({ label, score }) => [label, score.toFixed(4)]);

/** The Hugging Face model a call of the page named (the model the proxy counts it under). */
function calledModel({ path: route, body }) {
  const task = route.match(/^\/(?:hf-inference\/)?models\/(.+?)(?:\/pipeline\/[^/]+)?$/);
  if (task) return decodeURIComponent(task[1]);
  const named = JSON.parse(body).model;
  if (route === "/v1/chat/completions") return named.split(":")[0];
  if (route === "/together/v1/completions") return named === OFFERED_AT_TOGETHER ? OFFERED_MODEL : named;
  throw new Error(`a call the test does not know: ${route}`);
}

/**
 * Per model, the calls the pages made through the proxy so far: `forwarded`
 * (the proxy counts each of them) and `hits` (answered from the proxy's cache,
 * which the proxy does not count yet, docs/proxy.md). A 403 is the proxy's
 * refusal (ALLOWED_MODELS) before anything is forwarded or counted.
 */
function callsByModel() {
  const byModel = new Map();
  for (const call of calls) {
    if (call.status === 403) continue;
    const model = calledModel(call);
    const counts = byModel.get(model) ?? { forwarded: 0, hits: 0 };
    if (call.cache === "HIT") counts.hits += 1;
    else counts.forwarded += 1;
    byModel.set(model, counts);
  }
  return byModel;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const USAGE_FIGURES = { requests: (n) => String(n), compute_seconds: (n) => `${n.toFixed(3)} s`, cost_usd: (n) => `$${n.toFixed(6)}` };

/** What the Usage panel shows: per model, each figure's value and text, and the error line. */
const usageShown = (page) =>
  page.$$eval("#usage .usage-model", (items) =>
    items.map((item) => ({
      model: item.querySelector(".model").textContent,
      errors: item.querySelector(".errors")?.textContent ?? null,
      figures: Object.fromEntries(
        [...item.querySelectorAll(".usage-figure")].map((f) => [
          f.dataset.figure,
          { name: f.querySelector(".name").textContent, value: Number(f.querySelector(".value").dataset.value), text: f.querySelector(".value").textContent },
        ]),
      ),
    })),
  );

/**
 * The Usage panel against `GET /usage/me`, read by the test from the demo's
 * proxy: for each model called, exactly its counts, and as many calls as the
 * requests the pages made through that model. Returns /usage/me's answer.
 */
async function checkUsage(page, name) {
  const called = callsByModel();
  assert.ok(called.size > 0, "no calls through the proxy");
  // The proxy settles a call's counts just after its answer starts.
  const counted = (me, [model, { forwarded, hits }]) => {
    const m = me.models?.[model];
    return m && m.requests === forwarded + m.cache_hits && (m.cache_hits === 0 || m.cache_hits === hits);
  };
  let me;
  for (let i = 0; ; i++) {
    me = await (await fetch(`${demo.url}/usage/me`, { cache: "no-store" })).json();
    if ([...called].every((entry) => counted(me, entry))) break;
    if (i >= 100) assert.fail(`the proxy's counts ${JSON.stringify(me.models)} never matched the calls ${JSON.stringify([...called])}`);
    await sleep(100);
  }
  assert.equal(me.client, "ip:127.0.0.1");
  assert.deepEqual(Object.keys(me.models).sort(), [...called.keys()].sort(), "a model counted that the pages did not call, or the reverse");
  const want = Object.entries(me.models)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, counts]) => ({
      model,
      errors: counts.errors > 0 ? `${counts.errors} call${counts.errors === 1 ? "" : "s"} answered with an error` : null,
      figures: {
        requests: { name: "Calls: ", value: counts.requests, text: USAGE_FIGURES.requests(counts.requests) },
        compute_seconds: { name: "Compute seconds: ", value: counts.compute_seconds, text: USAGE_FIGURES.compute_seconds(counts.compute_seconds) },
        cost_usd: { name: "Estimated cost: ", value: counts.cost_usd, text: USAGE_FIGURES.cost_usd(counts.cost_usd) },
      },
    }));
  // The panel reads /usage/me after each call, and again shortly after.
  await page
    .waitForFunction(
      (want) => {
        const items = [...document.querySelectorAll("#usage .usage-model")];
        return (
          items.length === want.length &&
          want.every(({ model, figures }, i) => items[i].dataset.model === model && Number(items[i].querySelector("[data-figure=requests] .value").dataset.value) === figures.requests.value)
        );
      },
      want,
      { timeout: 10_000 },
    )
    .catch(() => {});
  assert.deepEqual(await usageShown(page), want);
  for (const { model, figures } of want) assert.equal(figures.requests.value, called.get(model).forwarded + me.models[model].cache_hits, model);
  const { requests, compute_seconds, cost_usd } = me.month;
  const models = want.length;
  assert.equal(
    await page.textContent("#usage .usage-summary"),
    `${requests} call${requests === 1 ? "" : "s"} to ${models} model${models === 1 ? "" : "s"} · ${USAGE_FIGURES.compute_seconds(compute_seconds)} compute · ${USAGE_FIGURES.cost_usd(cost_usd)} estimated`,
  );
  assert.equal(await page.getAttribute("#usage .usage-summary", "aria-live"), "polite");
  assert.match(await page.textContent("#usage .note"), /since the demo started/);
  await page.locator("#usage").screenshot({ path: path.join(shots, `${name}-usage.png`) });
  return me;
}

async function runPanels(page, viewportName) {
  // Sentiment.
  const text = await page.inputValue("#sentiment textarea");
  await submit(page, "sentiment");
  const sentiment = (await upstreamAnswer(SST2, JSON.stringify({ inputs: text })))[0];
  await checkBars(page, viewportName, "sentiment", sentiment, sentiment);

  // Text generation, provider "auto": the Hub maps the guide's gpt2 to no
  // provider, so the panel shows NO_PROVIDER (no inference request was made)
  // and offers a served model; taking it runs the guide's parameters through
  // together.
  assert.equal(await page.inputValue("#generation input[name=model]"), "gpt2");
  const prompt = await page.inputValue("#generation textarea");
  const beforeGpt2 = demo.upstream.requests.length;
  await submit(page, "generation");
  assert.equal(await page.getAttribute("#generation .result", "data-state"), "error");
  assert.equal(await page.textContent("#generation .error .code"), "NO_PROVIDER");
  assert.equal(await page.textContent("#generation .error .message"), GPT2_NO_PROVIDER);
  assert.equal(
    await page.textContent("#generation .error .meta"),
    "No inference provider serves this model for this task today.",
  );
  // Only a Hub look-up, if any (the worker may hold gpt2's answer already).
  const gpt2Sent = forwardedSince(beforeGpt2).map((r) => `${r.method} ${r.path}${r.query}`);
  assert.ok(gpt2Sent.every((r) => r === "GET /api/models/gpt2?expand[]=inferenceProviderMapping"), gpt2Sent.join(", "));
  assert.equal(await page.textContent("#generation .offer"), `A model that is served for text generation: Try ${OFFERED_MODEL}`);
  assert.equal(await page.textContent("#generation .offer button"), `Try ${OFFERED_MODEL}`);
  await page.locator("#generation").screenshot({ path: path.join(shots, `${viewportName}-generation-no-provider.png`) });

  const beforeOffer = demo.upstream.requests.length;
  await page.click("#generation .offer button");
  await page.waitForSelector("#generation .result[data-state=done]", { timeout: 30_000 });
  assert.equal(await page.inputValue("#generation input[name=model]"), OFFERED_MODEL);
  assert.equal(await page.evaluate(() => document.activeElement?.name), "model", "the focus is on the model field the offer filled in");
  // Today's protocol at together: a completion of together's id, the guide's
  // parameters passed through; the panel shows the upstream's continuation.
  const sent = forwardedSince(beforeOffer).filter((r) => r.path === "/together/v1/completions" && r.json?.model === OFFERED_AT_TOGETHER);
  assert.equal(sent.length, 1, forwardedSince(beforeOffer).map((r) => r.path).join(", "));
  assert.deepEqual(sent[0].json, { model: OFFERED_AT_TOGETHER, prompt, max_length: 50, temperature: 0.7 });
  const completion = await upstreamAt("/together/v1/completions", sent[0].bodyText);
  assert.equal(await page.textContent("#generation .generated"), completion.choices[0].text);
  assert.deepEqual(await rawShown(page, "generation"), { generated_text: completion.choices[0].text });
  assert.match(await page.textContent("#generation .latency"), /^\d+ ms in all · [\d.]+ ms upstream compute · served by together$/);
  assert.equal(await page.$("#generation .offer"), null, "the offer is gone once taken");
  await page.locator("#generation").screenshot({ path: path.join(shots, `${viewportName}-generation.png`) });

  // Image: the sample button, with a preview.
  await page.click("#image .sample");
  await page.waitForFunction(() => !document.querySelector("#image img").hidden);
  await submit(page, "image");
  const cat = await readFile(path.join(repoRoot, "examples/cat.jpg"));
  const image = await upstreamAnswer(VIT, cat, "image/jpeg");
  assert.deepEqual(await rendered(page, "image"), asBars(image));
  await page.locator("#image").screenshot({ path: path.join(shots, `${viewportName}-image.png`) });

  // Zero-shot with edited labels.
  await page.fill("#zero-shot input[name=labels]", "marketing, customer feedback, technical issue, finance");
  await submit(page, "zero-shot");
  const zsText = await page.inputValue("#zero-shot textarea");
  const old = await upstreamAnswer(MNLI, JSON.stringify({ inputs: zsText, parameters: { candidate_labels: ["marketing", "customer feedback", "technical issue", "finance"] } }));
  const zeroShot = old.labels.map((label, i) => ({ label, score: old.scores[i] })).sort((a, b) => b.score - a.score);
  assert.deepEqual(await rendered(page, "zero-shot"), asBars(zeroShot));
  await page.locator("#zero-shot").screenshot({ path: path.join(shots, `${viewportName}-zero-shot.png`) });

  // Sentence similarity: a bar per sentence, the most similar first.
  const source = await page.inputValue("#similarity input[name=source]");
  const sentences = (await page.inputValue("#similarity textarea")).split("\n");
  assert.equal(sentences.length, 3);
  await submit(page, "similarity");
  const scores = await upstreamAnswer(`${MINILM}/pipeline/sentence-similarity`, JSON.stringify({ inputs: { source_sentence: source, sentences } }));
  const similar = sentences.map((label, i) => ({ label, score: scores[i] })).sort((a, b) => b.score - a.score);
  await checkBars(page, viewportName, "similarity", similar, scores);

  // Text to image: the upstream's PNG, byte for byte, from an object URL.
  const drawPrompt = await page.inputValue("#text-to-image textarea");
  await submit(page, "text-to-image");
  const png = await upstreamAnswer(FLUX, JSON.stringify({ inputs: drawPrompt }), "application/json", async (r) => Buffer.from(await r.arrayBuffer()));
  assert.equal(png.toString("latin1", 1, 4), "PNG");
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  const shown = await page.$eval("#text-to-image .picture img", async (img) => {
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    return { src: img.src, alt: img.alt, width: img.naturalWidth, height: img.naturalHeight, bytes: btoa(String.fromCharCode(...bytes)) };
  });
  assert.ok(shown.src.startsWith(`blob:${demo.url}/`), shown.src);
  assert.deepEqual([shown.width, shown.height], [width, height]);
  assert.equal(shown.bytes, png.toString("base64"));
  assert.equal(shown.alt, `Generated for the prompt: ${drawPrompt}`);
  assert.equal(await page.textContent("#text-to-image figcaption"), `${width} × ${height} · image/png · ${Math.max(1, Math.round(png.length / 1024))} KB`);
  assert.match(await page.textContent("#text-to-image .latency"), LATENCY);
  assert.equal(await page.$("#text-to-image details"), null, "no raw JSON for a picture");
  await page.locator("#text-to-image").screenshot({ path: path.join(shots, `${viewportName}-text-to-image.png`) });

  // Summarization.
  const article = await page.inputValue("#summarization textarea");
  await submit(page, "summarization");
  const [summary] = await upstreamAnswer(BART_CNN, JSON.stringify({ inputs: article }));
  assert.equal(await page.textContent("#summarization .generated"), summary.summary_text);
  assert.deepEqual(await rawShown(page, "summarization"), summary);
  assert.match(await page.textContent("#summarization .latency"), LATENCY);
  await page.locator("#summarization").screenshot({ path: path.join(shots, `${viewportName}-summarization.png`) });

  // Usage: every model the panels called, as /usage/me counts it.
  await checkUsage(page, viewportName);
  await page.screenshot({ path: path.join(shots, `${viewportName}-page.png`), fullPage: true });
}

describe("the demo page through the worker", () => {
  test("each panel renders the upstream's labels and scores (desktop)", async () => {
    const page = await openDemo(VIEWPORTS.desktop);
    assert.equal(await page.isVisible("#offline-banner"), true, "the offline banner is shown");
    await runPanels(page, "desktop");
    await page.close();
  });

  test("each panel works at phone width, without horizontal scrolling", async () => {
    const page = await openDemo(VIEWPORTS.phone);
    await runPanels(page, "phone");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await page.close();
  });

  test("an upstream error shows its code and message in the panel", async () => {
    const page = await openDemo(VIEWPORTS.desktop);
    await page.fill("#sentiment input[name=model]", MISSING);
    await submit(page, "sentiment");
    assert.equal(await page.textContent("#sentiment .error .code"), "NOT_FOUND");
    assert.equal(await page.textContent("#sentiment .error .message"), `Model ${MISSING} does not exist`);
    assert.match(await page.textContent("#sentiment .error"), /does not exist or is not served\. \(HTTP 404\)/);
    await page.fill("#zero-shot input[name=model]", "mistralai/Mistral-7B-Instruct-v0.2");
    await submit(page, "zero-shot");
    assert.equal(await page.textContent("#zero-shot .error .code"), "FORBIDDEN");
    await page.locator("#sentiment").screenshot({ path: path.join(shots, "desktop-error.png") });
    // The missing model was forwarded and counted, as an error; the refused one was not.
    const me = await checkUsage(page, "desktop-error");
    assert.equal(me.models[MISSING].errors, 1);
    assert.equal(me.models["mistralai/Mistral-7B-Instruct-v0.2"], undefined);
    assert.equal(await page.textContent(`#usage .usage-model[data-model="${MISSING}"] .errors`), "1 call answered with an error");
    await page.close();
  });

  test("a dropped image file is previewed and classified", async () => {
    const page = await openDemo(VIEWPORTS.desktop);
    const cat = (await readFile(path.join(repoRoot, "examples/cat.jpg"))).toString("base64");
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], "cat.jpg", { type: "image/jpeg" }));
      document.querySelector("#image .drop").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, cat);
    await page.waitForFunction(() => !document.querySelector("#image img").hidden);
    await submit(page, "image");
    const labels = await rendered(page, "image");
    assert.equal(labels[0][0], "cheetah, chetah, Acinonyx jubatus");
    await page.close();
  });

  test("a new picture replaces the previous one and releases its object URL", async () => {
    const page = await openDemo(VIEWPORTS.phone);
    await submit(page, "text-to-image");
    const first = await page.getAttribute("#text-to-image .picture img", "src");
    await page.fill("#text-to-image textarea", "A lighthouse on a cliff at dusk");
    await submit(page, "text-to-image");
    assert.equal(await page.locator("#text-to-image .picture img").count(), 1);
    const second = await page.getAttribute("#text-to-image .picture img", "src");
    assert.notEqual(second, first);
    const loads = (src) => page.evaluate((url) => fetch(url).then(() => true, () => false), src);
    assert.equal(await loads(first), false, "the first picture's URL was not revoked");
    assert.equal(await loads(second), true);
    await page.close();
  });

  test("works by keyboard alone, every field labelled", async () => {
    const page = await openDemo(VIEWPORTS.desktop);
    const unlabelled = await page.$$eval("main input, main textarea", (fields) => fields.filter((f) => f.labels.length === 0).map((f) => f.name));
    assert.deepEqual(unlabelled, []);
    // Tab onwards from where the last panel left the focus, Enter on a button.
    const pressOn = async (selector, id, state = "done") => {
      const target = await page.$(selector);
      let reached = false;
      for (let i = 0; i < 40 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await page.evaluate((el) => document.activeElement === el, target);
      }
      assert.ok(reached, `Tab never reached ${selector}`);
      await page.keyboard.press("Enter");
      await page.waitForSelector(`#${id} .result[data-state=${state}]`);
    };
    const press = (id, state) => pressOn(`#${id} button[type=submit]`, id, state);
    // Generation: gpt2 is served by no provider; the offer is the next stop.
    await press("generation", "error");
    assert.equal(await page.textContent("#generation .error .code"), "NO_PROVIDER");
    await pressOn("#generation .offer button", "generation");
    assert.equal(await page.evaluate(() => document.activeElement === document.querySelector("#generation input[name=model]")), true);
    assert.ok((await page.textContent("#generation .generated")).length > 0);
    await press("zero-shot");
    assert.equal((await rendered(page, "zero-shot")).length, 3);
    await press("similarity");
    assert.equal((await rendered(page, "similarity")).length, 3);
    await press("text-to-image");
    assert.equal(await page.$eval("#text-to-image .picture img", (img) => img.naturalWidth > 0), true);
    await press("summarization");
    assert.ok((await page.textContent("#summarization .generated")).length > 0);
    await page.close();
  });

  test("the chat panel shows tokens before the stream ends", async () => {
    const page = await openDemo(VIEWPORTS.desktop);
    demo.upstream.fault({ streamIntervalMs: 150 });
    await page.fill("#chat input[name=max_tokens]", "16");
    await page.click("#chat button[type=submit]");
    await page.waitForFunction(() => (document.querySelector("#chat .generated")?.textContent ?? "").trim().split(/\s+/).length >= 2);
    assert.equal(await page.getAttribute("#chat .result", "data-state"), "streaming", "tokens shown while streaming");
    await page.locator("#chat").screenshot({ path: path.join(shots, "desktop-chat-streaming.png") });
    await page.waitForSelector("#chat .result[data-state=done]", { timeout: 30_000 });
    const text = await page.textContent("#chat .generated");
    assert.ok(text.split(/\s+/).length >= 10, text);
    assert.match(await page.textContent("#chat .latency"), /^\d+ chunks · first token after \d+ ms · \d+ ms in all$/);
    await page.locator("#chat").screenshot({ path: path.join(shots, "desktop-chat.png") });
    await page.close();
  });

  test("Stop stops the stream and closes its connection", async () => {
    const page = await openDemo(VIEWPORTS.phone);
    demo.upstream.fault({ streamIntervalMs: 300 });
    const before = demo.upstream.requests.length;
    await page.click("#chat button[type=submit]");
    await page.waitForFunction(() => (document.querySelector("#chat .generated")?.textContent ?? "").length > 0);
    await page.click("#chat button.stop");
    await page.waitForSelector("#chat .result[data-state=stopped]");
    const stoppedText = await page.textContent("#chat .generated");
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await page.textContent("#chat .generated"), stoppedText, "text kept coming after Stop");
    const request = demo.upstream.requests.slice(before).find((r) => r.path === "/chat/completions");
    assert.ok(request, "the chat request reached the upstream");
    for (let i = 0; i < 50 && !request.closedEarly; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(request.closedEarly, true, "the upstream connection stayed open");
    assert.equal(request.finished, false);
    await page.locator("#chat").screenshot({ path: path.join(shots, "phone-chat-stopped.png") });
    await page.close();
  });

  test("the worker's token is in no page resource and no request the page made", async () => {
    await Promise.all(bodyReads);
    // Only a stream stopped mid-way, or a Usage panel's late refresh that
    // the page's closing cut short, may end without a readable body.
    const unread = traffic.filter((t) => t.unread).map((t) => new URL(t.url).pathname);
    const cutShort = ["/v1/chat/completions", "/usage/me"];
    assert.ok(unread.every((p) => cutShort.includes(p)), `unread bodies: ${unread.join(", ")}`);
    assert.ok(traffic.length > 20, `only ${traffic.length} requests and responses seen`);
    const seen = JSON.stringify(traffic);
    assert.ok(!seen.includes(TOKEN), "the token reached the page");
    assert.ok(traffic.every((t) => !t.headers.authorization), "a request carried Authorization");
    // And the upstream did get it, from the worker.
    const forwarded = demo.upstream.requests.filter((r) => !r.headers["x-test-direct"]);
    assert.ok(forwarded.length >= 4, `${forwarded.length} forwarded`);
    assert.ok(forwarded.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));
    assert.deepEqual(pageErrors, []);
  });
});
