// A tiny static file server for the browser tests (node:http, no dependencies).
//
//   import { startStaticServer } from "../support/static-server.mjs";
//   const site = await startStaticServer({
//     mounts: { "/pkg/": "path/to/pkg", "/": "path/to/dist" },  // URL prefix -> directory
//     routes: { "/": "path/to/page.html",                        // exact path -> file,
//               "/image.png": { body: bytes, type: "image/png" } }, // or in-memory body
//   });
//   site.url       // "http://127.0.0.1:PORT" (no trailing slash)
//   site.requests  // [{ method, path, status, type }] in arrival order
//   await site.close();
//
// Exact routes win over mounts; among mounts the longest prefix wins. A
// directory path serves its index.html. Paths are confined to their mount (no
// `..` escapes). Every answer is `Cache-Control: no-store`, so a rebuilt package
// is always what the browser loads.

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

/** Content types by file extension (lower case, with the dot). */
export const MIME_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
};

/** The content type for a file name (application/octet-stream when unknown). */
export function mimeType(fileName) {
  return MIME_TYPES[path.extname(fileName).toLowerCase()] ?? "application/octet-stream";
}

async function fileIfExists(file) {
  try {
    const info = await stat(file);
    if (info.isDirectory()) {
      const index = path.join(file, "index.html");
      const indexInfo = await stat(index).catch(() => null);
      return indexInfo?.isFile() ? index : null;
    }
    return info.isFile() ? file : null;
  } catch {
    return null;
  }
}

/**
 * Starts the server on `host` (default 127.0.0.1) and `port` (default 0: any
 * free port). Resolves once it listens.
 */
export async function startStaticServer({ mounts = {}, routes = {}, host = "127.0.0.1", port = 0 } = {}) {
  const mountList = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const requests = [];

  async function resolve(urlPath) {
    const route = routes[urlPath];
    if (route !== undefined) {
      if (typeof route === "string") {
        return { body: await readFile(route), type: mimeType(route) };
      }
      return { body: Buffer.from(route.body), type: route.type ?? "application/octet-stream" };
    }
    for (const [prefix, dir] of mountList) {
      if (urlPath !== prefix.slice(0, -1) && !urlPath.startsWith(prefix)) continue;
      const rest = urlPath.slice(prefix.length);
      const file = path.resolve(dir, `.${path.posix.sep}${rest}`);
      if (file !== dir && !file.startsWith(dir + path.sep)) return null;
      const found = await fileIfExists(file);
      if (found) return { body: await readFile(found), type: mimeType(found) };
      return null;
    }
    return null;
  }

  const server = createServer(async (req, res) => {
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
    } catch {
      urlPath = null;
    }
    const entry = { method: req.method, path: urlPath ?? req.url, status: 0, type: null };
    requests.push(entry);
    const send = (status, type, body) => {
      entry.status = status;
      entry.type = type;
      res.writeHead(status, {
        "Content-Type": type,
        "Content-Length": body.length,
        "Cache-Control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return send(405, "text/plain; charset=utf-8", Buffer.from("method not allowed\n"));
      }
      const found = urlPath === null || urlPath.includes("\0") ? null : await resolve(urlPath);
      if (!found) return send(404, "text/plain; charset=utf-8", Buffer.from("not found\n"));
      return send(200, found.type, found.body);
    } catch (err) {
      return send(500, "text/plain; charset=utf-8", Buffer.from(`${err?.message ?? err}\n`));
    }
  });

  await new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const address = server.address();
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    requests,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections?.();
      }),
  };
}
