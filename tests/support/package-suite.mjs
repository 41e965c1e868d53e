// Shared set-up of the package test files: the packed package installed as a
// user gets it, and a local upstream whose log and faults are reset before
// every test. `ready({ hf, up })` runs once both are there (inside the one
// `before` hook: Node 20 runs several root hooks at the same time).
//
//   let hf, up;
//   packageSuite(async (s) => ({ hf, up } = s));

import { after, before, beforeEach } from "node:test";

import { startUpstream } from "../upstream/upstream.mjs";
import { installPackedPackage } from "./installed-package.mjs";

export function packageSuite(ready) {
  const suite = { hf: undefined, up: undefined };
  let cleanup;
  before(async () => {
    ({ mod: suite.hf, cleanup } = await installPackedPackage());
    suite.up = await startUpstream({ port: 0 });
    await ready(suite);
  });
  after(async () => {
    await suite.up?.close();
    await cleanup?.();
  });
  beforeEach(() => suite.up.reset());
  return suite;
}

/** The rejection of `promise`, failing the test if it resolves. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}
