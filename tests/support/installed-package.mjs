// The npm package as a user gets it: the tarball of `npm pack ./pkg` (named by
// HF_PKG_TARBALL) installed into a scratch project, imported by its name so
// that Node resolves it through package.json `exports`.
//
//   const { mod, dir, cleanup } = await installPackedPackage();

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The tarball path from HF_PKG_TARBALL, checked. */
export function packedTarball() {
  const tarball = process.env.HF_PKG_TARBALL;
  if (!tarball) {
    throw new Error("HF_PKG_TARBALL is not set: run `make build` and `npm pack ./pkg`, or use `make test`");
  }
  const resolved = path.resolve(tarball);
  if (!existsSync(resolved)) throw new Error(`HF_PKG_TARBALL names a missing file: ${resolved}`);
  return resolved;
}

/** Installs the packed package in a fresh project and imports it by name. */
export async function installPackedPackage() {
  const tarball = packedTarball();
  const dir = await mkdtemp(path.join(tmpdir(), "hf-wasm-node-"));
  await writeFile(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module", dependencies: { "hf-inference-wasm": `file:${tarball}` } }),
  );
  await run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock"], { cwd: dir });
  // Importing from inside the project resolves the name as the user's code would.
  const entry = path.join(dir, "entry.mjs");
  await writeFile(entry, 'export * from "hf-inference-wasm";\n');
  const mod = await import(pathToFileURL(entry).href);
  return { mod, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
