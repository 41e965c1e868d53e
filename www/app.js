// The demo page: one panel per example of the guide, and embeddings,
// text-to-image and summarization, all calling the proxy worker that served
// this page (same origin, no token in the page). The worker also answers the
// Hub's provider look-ups and the providers' routes, so a call with
// `provider: "auto"` resolves through it.
import { InferenceClient } from "./pkg/index.browser.js";

const origin = location.origin;
const client = new InferenceClient({ endpoint: origin, chatEndpoint: `${origin}/v1`, routerUrl: origin, hubUrl: origin });

// `make demo` writes demo-mode.json when answers come from the local upstream.
const modeKnown = fetch("./demo-mode.json", { cache: "no-store" })
  .then((r) => (r.ok ? r.json() : null))
  .then((mode) => {
    if (mode?.offline) document.getElementById("offline-banner").hidden = false;
  })
  .catch(() => {});

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Scores as labelled bars. */
function bars(list) {
  return el(
    "ul",
    { className: "bars" },
    ...list.map(({ label, score }) => {
      const fill = el("div", { className: "fill" });
      fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
      return el(
        "li",
        { className: "bar" },
        el("span", { className: "label", title: label }, label),
        el("span", { className: "score" }, score.toFixed(4)),
        el("div", { className: "track", role: "presentation" }, fill),
      );
    }),
  );
}

// Usage: what the proxy counted for this page's client (`GET /usage/me`),
// per model, since the demo started (`make demo` starts the proxy with no
// counts, so this month's figures are the demo's). The proxy settles a call's
// counts just after its answer starts, so each call is followed by a few
// reads; only a change of the totals is announced (a polite live region).
const usageSection = document.getElementById("usage");
const usageResult = usageSection.querySelector(".result");
const usageSummary = usageSection.querySelector(".usage-summary");
const USAGE_FIGURES = [
  { key: "requests", name: "Calls", text: (n) => String(n) },
  { key: "compute_seconds", name: "Compute seconds", text: (n) => `${n.toFixed(3)} s` },
  { key: "cost_usd", name: "Estimated cost", text: (n) => `$${n.toFixed(6)}` },
];
let usageShown = "";

/** One model's three figures, each a labelled value and a bar scaled to the largest of that figure. */
function usageModel(model, counts, largest) {
  const figures = USAGE_FIGURES.map(({ key, name, text }) => {
    const value = Number(counts[key] ?? 0);
    const fill = el("div", { className: "fill" });
    fill.style.width = `${largest[key] > 0 ? (value / largest[key]) * 100 : 0}%`;
    const shown = el("span", { className: "value" }, text(value));
    shown.dataset.value = String(value);
    // The bar repeats the value for the eye; screen readers read the value.
    const track = el("div", { className: "track" }, fill);
    track.setAttribute("aria-hidden", "true");
    const row = el("li", { className: "usage-figure" }, el("span", { className: "name" }, `${name}: `), shown, track);
    row.dataset.figure = key;
    return row;
  });
  const errors = Number(counts.errors ?? 0);
  const title = el("h3", { className: "model" }, model);
  const item = el(
    "li",
    { className: "usage-model" },
    title,
    ...(errors > 0 ? [el("p", { className: "meta errors" }, `${plural(errors, "call")} answered with an error`)] : []),
    el("ul", { className: "usage-bars" }, ...figures),
  );
  item.dataset.model = model;
  return item;
}

function showUsage(me) {
  const models = Object.entries(me.models ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const largest = Object.fromEntries(USAGE_FIGURES.map(({ key }) => [key, Math.max(0, ...models.map(([, c]) => Number(c[key] ?? 0)))]));
  const all = me.month ?? {};
  const summary = models.length
    ? `${plural(all.requests ?? 0, "call")} to ${plural(models.length, "model")} · ${USAGE_FIGURES[1].text(all.compute_seconds ?? 0)} compute · ${USAGE_FIGURES[2].text(all.cost_usd ?? 0)} estimated`
    : "No calls counted yet: run a panel above.";
  const key = JSON.stringify([me.models, all]);
  if (key === usageShown) return;
  usageShown = key;
  usageResult.replaceChildren(...(models.length ? [el("ul", { className: "usage-models" }, ...models.map(([m, c]) => usageModel(m, c, largest)))] : []));
  // Set only when it changes: the live region speaks once per change.
  if (usageSummary.textContent !== summary) usageSummary.textContent = summary;
}

// Reads may overlap: an answer older than the one shown is dropped.
let usageAsked = 0;
let usageApplied = 0;
async function refreshUsage() {
  const asked = ++usageAsked;
  try {
    const answer = await fetch(`${origin}/usage/me`, { cache: "no-store" });
    const body = await answer.json().catch(() => null);
    if (asked < usageApplied) return;
    usageApplied = asked;
    if (!answer.ok) {
      const err = Object.assign(new Error(body?.error ?? `HTTP ${answer.status}`), { code: body?.code ?? "ERROR", status: answer.status });
      throw err;
    }
    showUsage(body);
    usageResult.dataset.state = "done";
  } catch (err) {
    usageShown = "";
    const message = err?.status === 404 ? "This proxy does not count usage (no USAGE binding)." : `The usage could not be read: ${err?.message ?? err}`;
    if (usageSummary.textContent !== message) usageSummary.textContent = message;
    usageResult.replaceChildren();
    usageResult.dataset.state = "error";
  } finally {
    usageResult.dataset.reads = String(Number(usageResult.dataset.reads ?? 0) + 1);
  }
}

// After a call: read now and a little later (the counts settle just after
// the answer starts); a newer call restarts the schedule.
const USAGE_READS_MS = [0, 300, 1000, 3000];
let usageTimers = [];
function usageAfterCall() {
  usageTimers.forEach(clearTimeout);
  usageTimers = USAGE_READS_MS.map((ms) => setTimeout(refreshUsage, ms));
}
usageSection.querySelector("button.refresh").addEventListener("click", refreshUsage);
const usageKnown = refreshUsage();

const PLAIN_WORDS = {
  INVALID_INPUT: "The input was refused before anything was sent.",
  BAD_REQUEST: "The model refused these parameters.",
  UNAUTHORIZED: "The proxy or Hugging Face did not accept the credentials.",
  PAYMENT_REQUIRED: "The account behind the proxy has no credits left for this.",
  FORBIDDEN: "The proxy does not allow this model or this page.",
  NOT_FOUND: "This model does not exist or is not served.",
  METHOD_NOT_ALLOWED: "The service does not take this kind of request.",
  GONE: "This service address was retired.",
  PAYLOAD_TOO_LARGE: "The input is too large.",
  VALIDATION: "The model could not take this input.",
  RATE_LIMITED: "Too many requests: wait a little and try again.",
  MODEL_LOADING: "The model is still loading: try again shortly.",
  UPSTREAM_ERROR: "The inference service failed.",
  CONFIG: "The proxy is misconfigured.",
  TIMEOUT: "No answer in time.",
  NETWORK: "The proxy could not be reached.",
  BAD_RESPONSE: "The answer had an unexpected shape.",
  BUDGET_EXCEEDED: "The proxy's spending cap would be passed.",
  NO_PROVIDER: "No inference provider serves this model for this task today.",
};

function errorView(err) {
  const code = err?.code ?? "ERROR";
  return el(
    "div",
    { className: "error", role: "alert" },
    el("p", {}, el("code", { className: "code" }, code), ": ", el("span", { className: "message" }, String(err?.message ?? err))),
    el("p", { className: "meta" }, PLAIN_WORDS[code] ?? "", err?.status ? ` (HTTP ${err.status})` : ""),
  );
}

function metaLine(ms, computeMs, attempts, provider) {
  const parts = [`${Math.round(ms)} ms in all`];
  if (computeMs !== undefined) parts.push(`${Math.round(computeMs * 10) / 10} ms upstream compute`);
  if (attempts > 1) parts.push(`${attempts} attempts`);
  if (provider) parts.push(`served by ${provider}`);
  return el("p", { className: "meta latency" }, parts.join(" · "));
}

function rawJson(value) {
  return el("details", {}, el("summary", {}, "Raw JSON"), el("pre", {}, JSON.stringify(value, null, 2)));
}

/**
 * Wires a panel: `run(form, callOptions)` calls the API, `render(output)` shows
 * it (it may return a promise); JSON outputs are also shown raw. `failed(err,
 * form)` may return more to show under an error; `showProvider` names the
 * provider that answered in the latency line.
 */
function panel(id, run, render, { failed = () => [], showProvider = false } = {}) {
  const section = document.getElementById(id);
  const form = section.querySelector("form");
  const result = section.querySelector(".result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    result.dataset.state = "busy";
    result.replaceChildren(el("p", { className: "status" }, "Working…"));
    let computeMs;
    let attempts = 0;
    let provider;
    const onAttempt = (info) => {
      attempts = info.attempt;
      provider = info.provider;
      if (info.computeTimeMs !== undefined) computeMs = info.computeTimeMs;
      if (info.delayMs !== undefined) {
        const seconds = Math.max(1, Math.round(info.delayMs / 1000));
        result.replaceChildren(el("p", { className: "status" }, `${info.code}: retrying in ${seconds} s…`));
      }
    };
    const started = performance.now();
    try {
      const output = await run(form, { onAttempt });
      const view = await render(output);
      const raw = output instanceof Blob ? [] : [rawJson(output)];
      result.replaceChildren(view, metaLine(performance.now() - started, computeMs, attempts, showProvider && provider), ...raw);
      result.dataset.state = "done";
    } catch (err) {
      result.replaceChildren(errorView(err), ...failed(err, form));
      result.dataset.state = "error";
    } finally {
      button.disabled = false;
      usageAfterCall();
    }
  });
}

const value = (form, name) => form.elements[name].value;

panel(
  "sentiment",
  (form, options) => client.textClassification(value(form, "model").trim(), value(form, "text"), undefined, options),
  bars,
);

// Generation: the provider is whichever the Hub says serves the model
// (`provider: "auto"`). When none does (the guide's gpt2 today), the panel
// offers a model that is served; taking the offer fills it in and runs it,
// leaving the focus on the model field it changed.
const OFFERED = document.getElementById("generation").dataset.offer;
panel(
  "generation",
  (form, options) =>
    client.textGeneration(
      value(form, "model").trim(),
      value(form, "prompt"),
      { max_length: Number(value(form, "max_length")), temperature: Number(value(form, "temperature")) },
      { ...options, provider: "auto" },
    ),
  (output) => el("p", { className: "generated" }, output.generated_text),
  {
    showProvider: true,
    failed: (err, form) => {
      if (err?.code !== "NO_PROVIDER" || !OFFERED || value(form, "model").trim() === OFFERED) return [];
      const take = el("button", { type: "button", className: "offer-take" }, `Try ${OFFERED}`);
      take.addEventListener("click", () => {
        form.elements.model.value = OFFERED;
        form.elements.model.focus();
        form.requestSubmit();
      });
      return [el("p", { className: "offer" }, "A model that is served for text generation: ", take)];
    },
  },
);

// Image panel: file picker, drag and drop, the sample, and a preview.
const imageSection = document.getElementById("image");
const drop = imageSection.querySelector(".drop");
const preview = drop.querySelector("img");
const hint = drop.querySelector(".drop-hint");
let image = null;
function useImage(blob, name) {
  image = blob;
  hint.textContent = `${name} · ${Math.round(blob.size / 1024)} KB · choose or drop another`;
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(blob);
  preview.hidden = false;
}
drop.querySelector("input").addEventListener("change", (e) => e.target.files[0] && useImage(e.target.files[0], e.target.files[0].name));
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith("image/"));
  if (file) useImage(file, file.name);
});
imageSection.querySelector(".sample").addEventListener("click", async () => {
  try {
    const answer = await fetch("./cat.jpg");
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    useImage(await answer.blob(), "cat.jpg (sample)");
  } catch (err) {
    hint.textContent = `The sample image could not be loaded (${err.message}).`;
  }
});
panel("image", (form, options) => client.classifyImage(value(form, "model").trim(), image, undefined, options), bars);

panel(
  "zero-shot",
  (form, options) =>
    client.zeroShot(
      value(form, "model").trim(),
      value(form, "text"),
      value(form, "labels")
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean),
      undefined,
      options,
    ),
  bars,
);

// Similarity: one bar per compared sentence, the most similar first.
let compared = [];
panel(
  "similarity",
  (form, options) => {
    compared = value(form, "sentences")
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    return client.sentenceSimilarity(value(form, "model").trim(), { source_sentence: value(form, "source"), sentences: compared }, undefined, options);
  },
  (scores) => bars(compared.map((label, i) => ({ label, score: scores[i] })).sort((a, b) => b.score - a.score)),
);

// Text to image: the answer is a Blob, shown once decoded; the previous
// picture's object URL is released.
let picture;
let drawn;
panel(
  "text-to-image",
  (form, options) => {
    drawn = value(form, "prompt");
    return client.textToImage(value(form, "model").trim(), drawn, undefined, options);
  },
  async (blob) => {
    if (picture) URL.revokeObjectURL(picture);
    picture = URL.createObjectURL(blob);
    const img = el("img", { src: picture, alt: `Generated for the prompt: ${drawn}` });
    await img.decode().catch(() => {});
    const size = `${img.naturalWidth} × ${img.naturalHeight} · ${blob.type || "image"} · ${Math.max(1, Math.round(blob.size / 1024))} KB`;
    return el("figure", { className: "picture" }, img, el("figcaption", { className: "meta" }, size));
  },
);

panel(
  "summarization",
  (form, options) => client.summarization(value(form, "model").trim(), value(form, "text"), undefined, options),
  (output) => el("p", { className: "generated" }, output.summary_text),
);

// Chat: tokens are written into the page as they arrive; Stop aborts the
// stream, which closes the connection through the worker to upstream.
{
  const section = document.getElementById("chat");
  const form = section.querySelector("form");
  const result = section.querySelector(".result");
  const send = form.querySelector('button[type="submit"]');
  const stop = form.querySelector("button.stop");
  let controller = null;
  stop.addEventListener("click", () => controller?.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    controller = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    const output = el("p", { className: "generated streaming" });
    const meta = el("p", { className: "meta latency" });
    result.replaceChildren(output, meta);
    result.dataset.state = "streaming";
    const started = performance.now();
    let firstTokenMs;
    let chunks = 0;
    const request = {
      model: value(form, "model").trim(),
      messages: [{ role: "user", content: value(form, "message") }],
      max_tokens: Number(value(form, "max_tokens")),
    };
    try {
      for await (const chunk of client.chatCompletionStream(request, { signal: controller.signal })) {
        chunks += 1;
        const piece = chunk.choices?.[0]?.delta?.content ?? "";
        if (piece && firstTokenMs === undefined) firstTokenMs = performance.now() - started;
        output.textContent += piece;
        meta.textContent = `${plural(chunks, "chunk")} · first token after ${Math.round(firstTokenMs ?? 0)} ms`;
      }
      result.dataset.state = "done";
    } catch (err) {
      if (err?.code === "ABORTED") {
        result.append(el("p", { className: "status" }, "Stopped."));
        result.dataset.state = "stopped";
      } else {
        result.append(errorView(err));
        result.dataset.state = "error";
      }
    } finally {
      output.classList.remove("streaming");
      meta.textContent = `${plural(chunks, "chunk")} · first token after ${Math.round(firstTokenMs ?? 0)} ms · ${Math.round(performance.now() - started)} ms in all`;
      send.disabled = false;
      stop.disabled = true;
      controller = null;
      usageAfterCall();
    }
  });
}

Promise.allSettled([modeKnown, usageKnown]).then(() => (document.body.dataset.ready = "true"));
