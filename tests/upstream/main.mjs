#!/usr/bin/env node
// Runs the local upstream (a fake Hugging Face router and Hub) from the command line:
//
//   node tests/upstream/main.mjs [--port N] [--host H] [--recordings FILE] [--seed S]
//
// --seed seeds the PRNG of `probability` faults (default 1).
//
// Prints exactly one line, UPSTREAM_URL=http://HOST:PORT, once it listens, and
// closes cleanly on SIGINT / SIGTERM.

import { startUpstream } from "./upstream.mjs";

const USAGE = "usage: node tests/upstream/main.mjs [--port N] [--host H] [--recordings FILE] [--seed S]";

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case "--port": {
        const port = Number(next());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be 0..65535");
        options.port = port;
        break;
      }
      case "--host":
        options.host = next();
        break;
      case "--recordings":
        options.recordingsPath = next();
        break;
      case "--seed":
        options.seed = next();
        break;
      case "-h":
      case "--help":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument: ${arg}`);
    }
  }
  return options;
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}

let upstream;
try {
  upstream = await startUpstream(options);
} catch (err) {
  process.stderr.write(`upstream failed to start: ${err.message}\n`);
  process.exit(1);
}

process.stdout.write(`UPSTREAM_URL=${upstream.url}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await upstream.close();
  process.exit(0);
}
process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());
