// Starts the demo: the proxy worker under `wrangler dev` on 127.0.0.1, serving
// the demo page (build/site/) and proxying to the Hugging Face router and Hub
// with HF_TOKEN, or, without a token, to a local upstream started here, which
// is the router's task routes, its provider routes and the Hub at once. Used
// by `make demo` (scripts/demo.mjs) and by the demo's browser tests.
import { spawn } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startUpstream } from "../tests/upstream/upstream.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The model the generation panel offers when the Hub says no provider serves
 * the one asked for (the guide's gpt2): served for text generation by together.
 */
export const OFFERED_MODEL = "Qwen/Qwen2.5-7B-Instruct";

/** The models of the page's panels (gpt2 also by its canonical id): the worker's ALLOWED_MODELS in the demo. */
export const DEMO_MODELS = Object.freeze([
  "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
  "gpt2",
  "openai-community/gpt2",
  "google/vit-base-patch16-224",
  "facebook/bart-large-mnli",
  "sentence-transformers/all-MiniLM-L6-v2",
  "black-forest-labs/FLUX.1-schnell",
  "facebook/bart-large-cnn",
  "meta-llama/Llama-3.1-8B-Instruct",
  OFFERED_MODEL,
]);

/**
 * What the demo's proxy counts an answer as costing (its PRICES, the issue's
 * table): hf-inference's compute seconds by hardware (the local upstream
 * answers with `x-compute-type: cpu` and an `x-compute-time`), the chat model
 * per token, and a request's estimate otherwise. The Usage panel shows the
 * estimates; no BUDGETS are set, so nothing is refused for cost.
 */
export const DEMO_PRICES = Object.freeze({
  compute: { cpu: 0.00012, "2-a10-g": 0.0011, cache: 0 },
  default_compute_per_second: 0.00012,
  default_request_usd: 0.001,
  models: { "meta-llama/Llama-3.1-8B-Instruct": { input_per_million: 0.1, output_per_million: 0.2 } },
});

/**
 * The providers the generation panel's `provider: "auto"` may reach through the
 * worker (ALLOWED_PROVIDERS): hf-inference, the router's choice, and together,
 * which serves the offered model.
 */
export const DEMO_PROVIDERS = Object.freeze(["hf-inference", "auto", "together"]);

/**
 * `token`: an HF token (router mode) or undefined (offline, local upstream);
 * `offline: true` uses the local upstream even with a token (tests).
 * `vars`: extra worker settings (ALLOWED_MODELS defaults to DEMO_MODELS,
 * ALLOWED_PROVIDERS to DEMO_PROVIDERS, PRICES to DEMO_PRICES). The USAGE
 * Durable Object of wrangler.toml keeps its counts under a fresh scratch
 * directory, so the Usage panel counts from the demo's start. Resolves to { url, upstream?, offline, output, close() }.
 */
export async function startDemo({ token, offline = !token, port = 8787, vars = {} } = {}) {
  const upstream = offline ? await startUpstream({ port: 0 }) : undefined;
  const scratch = await mkdtemp(path.join(tmpdir(), "hf-wasm-demo-"));
  // The page's own copy, with the banner setting: build/site/ stays as built.
  const site = path.join(scratch, "site");
  await cp(path.join(repoRoot, "build/site"), site, { recursive: true });
  await writeFile(path.join(site, "demo-mode.json"), JSON.stringify({ offline }));
  // Secrets go through a private file, never the command line (wrangler shows
  // --var values; it hides env-file ones).
  // Offline every base is the local upstream: task routes, chat, provider
  // routes (its root is the router's) and the Hub's provider mappings.
  const local = upstream ? { UPSTREAMS: upstream.url, CHAT_UPSTREAMS: upstream.url, ROUTER_UPSTREAMS: upstream.url, HUB_URL: upstream.url } : {};
  const env = {
    HF_TOKEN: token ?? "hf_local_demo_token_not_a_real_one",
    ALLOWED_MODELS: DEMO_MODELS.join(","),
    ALLOWED_PROVIDERS: DEMO_PROVIDERS.join(","),
    PRICES: JSON.stringify(DEMO_PRICES),
    ...local,
    ...vars,
  };
  const envFile = path.join(scratch, "worker.env");
  // A JSON value (PRICES) goes in single quotes, which the env file keeps as
  // written; in double quotes its own quotes would keep their backslashes.
  const quoted = (v) => (v.includes('"') && !/['\n]/.test(v) ? `'${v}'` : JSON.stringify(v));
  await writeFile(envFile, Object.entries(env).map(([k, v]) => `${k}=${quoted(String(v))}`).join("\n") + "\n", { mode: 0o600 });

  const output = [];
  const child = spawn(
    path.join(repoRoot, "node_modules/.bin/wrangler"),
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--env-file", envFile, "--assets", site, "--persist-to", path.join(scratch, "state"), "--show-interactive-dev-session=false", "--log-level", "log"],
    {
      cwd: repoRoot,
      detached: true, // its own process group: stopping the demo stops workerd too
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "log" },
    },
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (text) => output.push(...text.split("\n").filter((l) => l.trim())));
  }
  let exited = false;
  child.on("exit", () => (exited = true));

  const close = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
          resolve();
        }, 5000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        if (exited) resolve();
      });
    }
    await upstream?.close();
    await rm(scratch, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) {
      await close();
      throw new Error(`wrangler dev exited before serving:\n${output.join("\n")}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await close();
      throw new Error(`wrangler dev did not answer on ${url} within 120 s:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, upstream, offline, output, close };
}
