/**
 * The web UI's files (dist/web/, built by scripts/build.mjs): only files inside the root are served,
 * whatever the request path says (no `..`, no encoded separators, no NUL, no symlink leading out).
 */
import { createReadStream, existsSync, realpathSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpError } from "./http-error.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** dist/web beside the bundle (dist/provflow.js), or the built one when running from source. */
export function defaultWebRoot(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const beside = join(here, "web");
  if (existsSync(join(beside, "index.html"))) return beside;
  return join(here, "..", "..", "dist", "web");
}

/** The file a request path names inside `root`, or an HttpError (400 bad path, 404 none). */
export function resolveStatic(root: string, urlPath: string): string {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    throw new HttpError(400, "bad path encoding");
  }
  if (rel.includes("\0") || rel.includes("\\")) throw new HttpError(400, "bad path");
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw new HttpError(400, "bad path: .. is not allowed");
  if (parts.length === 0) parts.push("index.html");
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    throw new HttpError(404, "the web UI is not built (npm run build)");
  }
  const file = join(realRoot, ...parts);
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new HttpError(404, `no such file ${urlPath}`);
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    throw new HttpError(404, `no such file ${urlPath}`);
  if (!statSync(real).isFile()) throw new HttpError(404, `no such file ${urlPath}`);
  return real;
}

export function sendStatic(res: ServerResponse, file: string): void {
  const size = statSync(file).size;
  res.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "content-length": size,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  });
  createReadStream(file).pipe(res);
}
