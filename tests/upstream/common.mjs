// Helpers shared by the local upstream (upstream.mjs) and its synthesised answers
// (tasks.mjs, hub.mjs): canonical JSON, seeded numbers, answer builders. Node built-ins only.

import { createHash } from "node:crypto";

// Synthesised streams carry at least this many token events.
export const STREAM_MIN_TOKENS = 12;

export const WORDS = (
  "the of and a to in is it that for on with as was at by this be from or an are " +
  "model answer world time light river stone number small large quiet bright early " +
  "later between under over because while again always never often signal pattern"
).split(" ");

/** JSON with sorted keys: a canonical form to hash. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Parses a body as JSON if it looks like JSON; { ok, value }. */
export function parseJsonBody(buf) {
  let i = 0;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  if (i === buf.length) return { ok: false };
  // Only attempt a parse when the first byte can start a JSON text (cheap for images).
  if (!'{["-0123456789tfn'.includes(String.fromCharCode(buf[i]))) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(buf.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}

/**
 * Deterministic numbers in [0, 1) derived from a SHA-256 of the seed parts
 * (same parts -> same sequence).
 */
export function seeded(...parts) {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(typeof p === "string" ? p : Buffer.isBuffer(p) ? p : canonical(p));
    h.update("\u0000");
  }
  const seed = h.digest("hex");
  let counter = 0;
  let block = null;
  let offset = 8;
  return () => {
    if (offset >= 8) {
      block = createHash("sha256").update(`${seed}:${counter++}`).digest();
      offset = 0;
    }
    return block.readUInt32BE(4 * offset++) / 2 ** 32;
  };
}

export function pickWords(rand, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  return out;
}

export function computeTime(rand) {
  return (0.005 + rand() * 0.045).toFixed(3);
}

export function isBase64Image(value) {
  if (typeof value !== "string") return false;
  if (/^data:image\/[\w.+-]+;base64,/.test(value)) return true;
  return value.length >= 64 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(value);
}

export function imageBytesOf(value) {
  return Buffer.from(value.replace(/^data:[^,]*,/, ""), "base64");
}

export function positiveInt(v) {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function asJson(value) {
  return Buffer.from(JSON.stringify(value), "utf8");
}

export function jsonAnswer(status, value, rand, extra = {}) {
  return {
    status,
    headers: {
      "content-type": "application/json",
      "x-compute-time": computeTime(rand),
      "x-compute-type": "cpu",
      "x-inference-provider": "hf-inference",
      ...extra,
    },
    body: asJson(value),
  };
}

export function errorAnswer(status, message) {
  return {
    status,
    headers: { "content-type": "application/json", "x-inference-provider": "hf-inference" },
    body: asJson({ error: message }),
  };
}

export function sse(events, rand) {
  return {
    status: 200,
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-compute-type": "cpu",
      "x-compute-time": computeTime(rand),
      "x-inference-provider": "hf-inference",
    },
    // "data: " with a space, as the router's TGI sends today.
    body: Buffer.from(events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join(""), "utf8"),
  };
}

export const CANDIDATE_LABELS_ERROR =
  "The `candidate_labels` parameter must be a non-empty list or comma-separated string";

/** `candidate_labels` as a list of strings (from a list or a comma-separated string), or null. */
export function parseCandidateLabels(raw) {
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw === "string") return raw.split(",").map((s) => s.trim()).filter(Boolean);
  return null;
}
