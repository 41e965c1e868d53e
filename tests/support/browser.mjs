// Headless Chromium for the browser tests: Debian's chromium driven by
// playwright-core (no browser download, ever).
//
//   import { launchChromium, openPage } from "../support/browser.mjs";
//   const browser = await launchChromium();
//   const { page, consoleMessages, pageErrors } = await openPage(browser.context, url);
//   ...
//   await browser.close();   // closes Chromium and removes its profile directory
//
// The executable is `chromium` from PATH (resolved with `which` at run time), or
// the file named by the CHROMIUM_PATH environment variable.

import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

/** Command-line switches every test browser gets. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium executable, or an Error telling how to install it. */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("chromium not found on PATH: run scripts/setup.sh (installs Debian's chromium)");
  }
}

/**
 * Launches headless Chromium with a fresh persistent profile in a temporary
 * directory. Returns { context, close }.
 */
export async function launchChromium({ args = [], ...options } = {}) {
  process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
  const executablePath = chromiumPath();
  const profileDir = await mkdtemp(path.join(tmpdir(), "hf-wasm-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      headless: true,
      executablePath,
      args: [...CHROMIUM_ARGS, ...args],
      ...options,
    });
  } catch (err) {
    await rm(profileDir, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `url` in a new page of `context`, collecting the console messages
 * ({ type, text }) and uncaught page errors (strings) from the very start.
 */
export async function openPage(context, url, { timeout = 30_000 } = {}) {
  const page = await context.newPage();
  const consoleMessages = [];
  const pageErrors = [];
  page.on("console", (msg) => consoleMessages.push({ type: msg.type(), text: msg.text() }));
  page.on("pageerror", (err) => pageErrors.push(String(err?.stack ?? err)));
  await page.goto(url, { waitUntil: "load", timeout });
  return { page, consoleMessages, pageErrors };
}

/** A readable dump of what a page said, for assertion messages. */
export function describePageLog({ consoleMessages = [], pageErrors = [] }) {
  const lines = [
    ...consoleMessages.map((m) => `console.${m.type}: ${m.text}`),
    ...pageErrors.map((e) => `page error: ${e}`),
  ];
  return lines.length ? lines.join("\n") : "(the page logged nothing)";
}

/**
 * Opens a test page that reports through `document.body.dataset`: `result`
 * (JSON) when done, `failed` (a reason) when not. Resolves to the parsed result
 * with the page's console messages and errors; throws with the page's log.
 */
export async function runReportingPage(context, url, what = "the page") {
  const { page, consoleMessages, pageErrors } = await openPage(context, url);
  const log = () => describePageLog({ consoleMessages, pageErrors });
  try {
    await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.failed, null, {
      timeout: 60_000,
    });
  } catch (err) {
    throw new Error(`${what} never finished: ${err.message}\n${log()}`);
  }
  const failed = await page.evaluate(() => document.body.dataset.failed ?? null);
  if (failed) throw new Error(`${what} failed: ${failed}\n${log()}`);
  const out = JSON.parse(await page.evaluate(() => document.body.dataset.result));
  return { out, consoleMessages, pageErrors };
}
