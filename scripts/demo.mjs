// `make demo`: the demo page and the proxy worker on 127.0.0.1, until Ctrl-C.
// With HF_TOKEN set the worker calls the Hugging Face router; without it, a
// local upstream started here answers, and the page says so.
import { startDemo } from "./demo-server.mjs";

const token = process.env.HF_TOKEN?.trim() || undefined;
const port = Number(process.env.DEMO_PORT ?? 8787);
console.log(token ? "Starting the demo against the Hugging Face router (HF_TOKEN is set)…" : "Starting the demo offline (HF_TOKEN is not set)…");
const demo = await startDemo({ token, port });
if (demo.offline) {
  console.log(`Local upstream at ${demo.upstream.url}: answers are recorded Hugging Face exchanges or synthesised.`);
}
console.log(`\n  Demo: ${demo.url}/\n\nPress Ctrl-C to stop.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping the worker" + (demo.offline ? " and the local upstream…" : "…"));
  await demo.close();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
