// `make demo-node`: the guide's four examples through the built package, in Node.
// With HF_TOKEN set they call the Hugging Face router; otherwise a local
// upstream (recorded and synthesised answers) is started and stopped here.
import * as hf from "../pkg/index.node.js";
import { runGuideExamples } from "../examples/guide.mjs";
import { startUpstream } from "../tests/upstream/upstream.mjs";

const token = process.env.HF_TOKEN?.trim();
let upstream;
let options;
if (token) {
  options = { token };
  console.log("hf-inference-wasm demo: calling the Hugging Face router with HF_TOKEN.\n");
} else {
  upstream = await startUpstream({ port: 0 });
  options = { endpoint: upstream.url };
  console.log(
    `hf-inference-wasm demo: HF_TOKEN is not set, so answers come from the local upstream at ${upstream.url}\n` +
      "(recorded Hugging Face exchanges and synthesised answers; set HF_TOKEN to call the real router).\n",
  );
}

let failures = 0;
try {
  for await (const report of runGuideExamples(hf, options)) {
    console.log(`▸ ${report.title}  (${report.ms.toFixed(0)} ms)`);
    if (report.ok) {
      printResult(report.result);
    } else {
      failures++;
      const e = report.error;
      console.log(`  ${e.code ?? "ERROR"}${e.status ? ` (HTTP ${e.status})` : ""}: ${e.message}`);
    }
    console.log();
  }
} finally {
  await upstream?.close();
  if (upstream) console.log("Local upstream stopped.");
}
process.exitCode = failures && !token ? 1 : 0;

function printResult(result) {
  if (Array.isArray(result)) {
    for (const { label, score } of result) {
      const bar = "█".repeat(Math.round(score * 30));
      console.log(`  ${label.slice(0, 40).padEnd(40)} ${score.toFixed(4)} ${bar}`);
    }
  } else {
    console.log(`  ${JSON.stringify(result.generated_text)}`);
  }
}
