// Orders the wasm's functions so that gzip finds more of them alike within
// its 32 KB window:
//
//   node scripts/order-functions.mjs IN.wasm OUT.wasm
//
// Functions of the same signature and the same number of locals are put
// together, the smaller first; the rest of the module is untouched (every
// call, export and table entry names its function, not its place). The
// order wasm-opt leaves is the order the functions were compiled in, which
// scatters alike functions across the module: build.sh runs this between
// two wasm-opt passes (the second writes the code as wasm-opt -Oz writes
// it), and the gzipped client comes out 1.6 KB smaller
// (docs/architecture.md, "Where the bytes go"). No wasm tool orders by
// anything but name or call count (`--reorder-functions-by-name`,
// `--reorder-functions`, both larger here), so this uses binaryen's module
// API, as short-names.mjs does.
import { readFileSync, writeFileSync } from "node:fs";
import binaryen from "binaryen";

const [input, output] = process.argv.slice(2);

/** Stops the build with `message`. */
function fail(message) {
  console.error(`order-functions: ${message}`);
  process.exit(1);
}

const module = binaryen.readBinary(readFileSync(input));
// Its features come from its target features section (kept by the first
// wasm-opt run); without one it would not validate.
if (module.getFeatures() === binaryen.Features.MVP) fail(`${input} has no target features section`);

const total = module.getNumFunctions();
const defined = [];
for (let i = 0; i < total; i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (info.module) continue; // an import: imports come first, as they are
  // Its size, roughly: the length of its text.
  defined.push({ ...info, size: binaryen.emitText(info.body).length });
}
if (defined.length === 0) fail(`no function defined in ${input}`);

// Array.prototype.sort is stable: ties keep the compiled order. A signature is
// binaryen's type id, the same from run to run for the binaryen package.json
// pins (another version may order the groups, and so the size, otherwise).
const ordered = [...defined].sort(
  (a, b) => a.params - b.params || a.results - b.results || a.vars.length - b.vars.length || a.size - b.size,
);
// Removed and added again in the new order. A function's body belongs to the
// module, not to the function, so it outlives the removal.
for (const f of defined) module.removeFunction(f.name);
for (const f of ordered) module.addFunction(f.name, f.params, f.results, f.vars, f.body);

if (module.getNumFunctions() !== total) fail(`${total} functions before, ${module.getNumFunctions()} after`);
if (!module.validate()) fail(`the reordered module of ${input} does not validate`);
writeFileSync(output, module.emitBinary());
