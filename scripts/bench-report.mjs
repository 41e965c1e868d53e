// What the benchmark scripts share: the percentile they report, the line
// naming the machine, and writing a table to build/ and the terminal.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";

/** The `p`-th percentile of ascending `sorted` values (nearest rank). */
export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** The machine a table was measured on. */
export function machine() {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model?.trim() ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Writes `lines` as build/`name` and prints them. */
export function report(name, lines) {
  const table = lines.join("\n");
  mkdirSync(new URL("../build/", import.meta.url), { recursive: true });
  writeFileSync(new URL(`../build/${name}`, import.meta.url), `${table}\n`);
  console.log(table);
}
