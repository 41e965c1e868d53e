// Gzipped size (`gzip -9 -n`) of the browser client: the wasm plus every JS file
// the browser entry loads, found by following its relative imports.
//
//   node scripts/size.mjs              prints the table
//   node scripts/size.mjs --json       prints {files, totalBytes}
//   node scripts/size.mjs --max BYTES  also fails (exit 1) above BYTES
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "pkg");
const ENTRY = "index.browser.js";
const WASM = "hf_inference_wasm_bg.wasm";

/** Relative module specifiers of `import ... from "./x"` / `export ... from "./x"` / `import("./x")`. */
function relativeImports(source) {
  const found = new Set();
  for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) found.add(m[1]);
  return [...found];
}

export function browserFiles() {
  const files = [];
  const queue = [ENTRY];
  while (queue.length) {
    const file = path.posix.normalize(queue.shift());
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(path.join(pkg, file), "utf8");
    for (const spec of relativeImports(source)) queue.push(path.posix.join(path.posix.dirname(file), spec));
  }
  return [...files, WASM];
}

/** Bytes of `gzip -9` of `bytes`, read from stdin: no file name in the header, so every file and the peer's bundle are measured alike. */
export function gzipSize(bytes) {
  return execFileSync("gzip", ["-9", "-n", "-c"], { input: bytes }).length;
}

export function measure() {
  const files = browserFiles().map((file) => {
    const bytes = readFileSync(path.join(pkg, file));
    return { file, bytes: bytes.length, gzip: gzipSize(bytes) };
  });
  return { files, totalBytes: files.reduce((sum, f) => sum + f.gzip, 0) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = measure();
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(result));
  } else {
    console.log("browser client, gzip -9:");
    for (const f of result.files) console.log(`  ${f.file.padEnd(28)} ${String(f.bytes).padStart(8)} B raw ${String(f.gzip).padStart(7)} B gzip`);
    console.log(`  ${"total".padEnd(28)} ${" ".repeat(15)} ${String(result.totalBytes).padStart(7)} B gzip`);
  }
  const max = process.argv.indexOf("--max");
  if (max > 0) {
    const limit = Number(process.argv[max + 1]);
    if (!(result.totalBytes <= limit)) {
      console.error(`size: the browser client is ${result.totalBytes} B gzipped, over the ${limit} B limit`);
      process.exit(1);
    }
    console.log(`size: within the ${limit} B limit`);
  }
}
