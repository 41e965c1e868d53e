// Adds up what every test runner of `make test` reported (cargo test and
// node --test) and prints one closing line: "tests: N passed, N failed".
import { readFileSync } from "node:fs";

const log = readFileSync(process.argv[2], "utf8");
let passed = 0;
let failed = 0;
for (const [, p, f] of log.matchAll(/^test result: \w+\. (\d+) passed; (\d+) failed/gm)) {
  passed += Number(p);
  failed += Number(f);
}
for (const [, p] of log.matchAll(/^# pass (\d+)$/gm)) passed += Number(p);
for (const [, f] of log.matchAll(/^# fail (\d+)$/gm)) failed += Number(f);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
