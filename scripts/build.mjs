// Bundles the CLI into dist/provflow.js, the store's worker thread into dist/store-worker.js (ESM,
// Node 20). Native and runtime dependencies stay external.
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/provflow.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
});
chmodSync("dist/provflow.js", 0o755);
// the worker thread of WorkerStore, found beside the CLI bundle (new URL("./store-worker.js", import.meta.url))
await build({
  entryPoints: ["src/store/store-worker.ts"],
  outfile: "dist/store-worker.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
// the web UI of `provflow serve` (src/web: plain TypeScript, sigma + graphology bundled) into dist/web
mkdirSync("dist/web", { recursive: true });
await build({
  entryPoints: ["src/web/main.ts"],
  outfile: "dist/web/app.js",
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  logLevel: "warning",
});
for (const f of ["index.html", "app.css"]) copyFileSync(`src/web/${f}`, `dist/web/${f}`);
