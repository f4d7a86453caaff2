import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

/** file URL of tsx's ESM API ("tsx/esm/api", import condition), from the package's export map */
function tsxEsmApi(from: string): string {
  const pkgFile = createRequire(from).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as {
    exports: Record<string, { import: string | { default: string } }>;
  };
  const target = pkg.exports["./esm/api"]?.import;
  const rel = typeof target === "string" ? target : (target?.default ?? "./dist/esm/api/index.mjs");
  return pathToFileURL(join(dirname(pkgFile), rel)).href;
}

/**
 * Starts the worker thread whose entry module is `name` (no extension), beside the calling module `from`
 * (its import.meta.url): `name.js` in the bundle (dist/: each worker is an entry of scripts/build.mjs),
 * `name.ts` through tsx's ESM hooks when the caller runs from the TypeScript sources (tests, tsx).
 */
export function startThread(
  name: string,
  from: string,
  workerData: unknown,
  options: WorkerOptions = {},
): Worker {
  if (!from.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, from), { ...options, workerData });
  const ts = new URL(`./${name}.ts`, from).href;
  const boot = `import(${JSON.stringify(tsxEsmApi(from))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); });`;
  return new Worker(boot, { ...options, eval: true, workerData });
}
