// `make test-rust`: the crate's Rust API compiled for wasm32 and run in Node by
// wasm-bindgen-test-runner (tests/rust_api.rs), against the local upstream on
// 127.0.0.1:8080 (the address the README's example calls). The upstream runs
// in this process and cargo in a child started asynchronously, so that the
// upstream keeps answering while the test waits.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startUpstream } from "../tests/upstream/upstream.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let up;
try {
  up = await startUpstream({ port: 8080 });
} catch (err) {
  console.error(`test-rust: cannot listen on 127.0.0.1:8080 (${err.code ?? err.message}): the README's Rust example calls that address; free the port and run again`);
  process.exit(1);
}
const child = spawn("cargo", ["test", "--target", "wasm32-unknown-unknown", "--test", "rust_api"], {
  cwd: repoRoot,
  stdio: "inherit",
  env: { ...process.env, CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: "wasm-bindgen-test-runner" },
});
const code = await new Promise((resolve) => child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await up.close();
process.exit(code);
