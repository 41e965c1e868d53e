// Renames the wasm's imports from the wasm-bindgen glue, and its exports but
// `memory`, to short names, in the wasm and in the glue alike:
//
//   node scripts/short-names.mjs IN.wasm GLUE.js OUT.wasm
//
// (GLUE.js is rewritten in place.) wasm-bindgen names each import
// `__wbg_<name>_<16 hex digits>`, and each name is written twice, in the
// wasm's import section and as a key of the glue's import object: the
// imports (112 when this was written), whose hashes gzip cannot compress,
// were 3.5 KB of the gzipped
// browser client; the exports, which the glue calls as `wasm.<name>`, 0.4
// KB more. wasm-bindgen has no option to shorten them, and binaryen's
// `--minify-imports` leaves imports of modules other than `env` alone (its
// `-and-modules` form renames every module, the snippets' too, and prints a
// mapping the glue would still need applied), so this script renames them
// with binaryen's own module API (the npm binaryen the build already runs):
// each import is re-added under its new name with the
// same internal name, so every call of it is untouched, and each export
// under its new name. An import name that is not exactly once a key of the
// glue's import object, an export the glue reaches otherwise than as
// `wasm.<name>`, no import from the glue at all, or a hashed name left in
// the glue stops the build. (`memory` keeps its name: callers of
// `initSync` may read the instance's memory.) The imports' module,
// `./hf_inference_wasm_bg.js`, written once per import in the wasm, is named
// `a` as well (105 bytes of the gzipped client); the glue's one key for it
// must be found exactly once.
import { readFileSync, writeFileSync } from "node:fs";
import binaryen from "binaryen";

const [input, glue, output] = process.argv.slice(2);
const MODULE = "./hf_inference_wasm_bg.js";
const SHORT_MODULE = "a";

/** Stops the build with `message`. */
function fail(message) {
  console.error(`short-names: ${message}`);
  process.exit(1);
}

/** `name` for use inside a regular expression (identifiers may hold `$`). */
const literal = (name) => name.replace(/[$^\\.*+?()[\]{}|]/g, "\\$&");

/** `a`..`z`, `A`..`Z`, then two letters: the `n`th short name. */
function shortName(n) {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let name = "";
  do {
    name = letters[n % letters.length] + name;
    n = Math.floor(n / letters.length) - 1;
  } while (n >= 0);
  return name;
}

const module = binaryen.readBinary(readFileSync(input));
const imports = [];
for (let i = 0; i < module.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (info.module === MODULE) imports.push(info);
}
// wasm-bindgen renamed its glue module, or stopped importing from it: renaming
// nothing would pass unnoticed but for the size.
if (imports.length === 0) fail(`no import from ${MODULE} in ${input}`);

let source = readFileSync(glue, "utf8");
// Exports read by destructuring would escape the count of their accesses below.
if (/\}\s*=\s*wasm\b/.test(source)) fail(`${glue} destructures the wasm's exports`);
let next = 0;
for (const info of imports) {
  let name;
  do name = shortName(next++);
  while (["do", "if", "in"].includes(name));
  // The key of the glue's import object: `    __wbg_..._hash: function(`.
  const key = new RegExp(`^(\\s+)${literal(info.base)}(: function\\()`, "gm");
  const found = source.match(key)?.length ?? 0;
  if (found !== 1 || source.split(info.base).length !== 2) fail(`${info.base} is ${found} times a key of ${glue}, expected once`);
  source = source.replace(key, `$1${name}$2`);
  module.removeFunction(info.name);
  module.addFunctionImport(info.name, SHORT_MODULE, name, info.params, info.results);
}

const exports = [];
for (let i = 0; i < module.getNumExports(); i++) {
  const info = binaryen.getExportInfo(module.getExportByIndex(i));
  if (info.name !== "memory") exports.push(info);
}
const add = {
  [binaryen.ExternalFunction]: "addFunctionExport",
  [binaryen.ExternalTable]: "addTableExport",
  [binaryen.ExternalGlobal]: "addGlobalExport",
};
for (const info of exports) {
  let name;
  do name = shortName(next++);
  while (["do", "if", "in"].includes(name));
  // Every member access `.<name>` and string `"<name>"` must be a call.
  const calls = new RegExp(`\\bwasm\\.${literal(info.name)}\\b`, "g");
  const accesses = new RegExp(`\\.${literal(info.name)}\\b|["'\`]${literal(info.name)}["'\`]`, "g");
  const count = (re) => source.match(re)?.length ?? 0;
  if (!add[info.kind] || count(calls) !== count(accesses)) fail(`the export ${info.name} is reached in ${glue} otherwise than as wasm.${info.name}`);
  source = source.replace(calls, `wasm.${name}`);
  module.removeExport(info.name);
  module[add[info.kind]](info.value, name);
}

{
  const key = `"${MODULE}": import0`;
  if (source.split(key).length !== 2) fail(`${key} is not once in ${glue}`);
  source = source.replace(key, `${SHORT_MODULE}: import0`);
}
// Every hashed name of wasm-bindgen's is gone from the glue.
const left = source.match(/\b__wbg_\w+_[0-9a-f]{16}\b/);
if (left) fail(`${left[0]} is left in ${glue}`);

binaryen.setDebugInfo(true);
writeFileSync(output, module.emitBinary());
writeFileSync(glue, source);
