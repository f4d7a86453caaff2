// Bundles the CLI into dist/provflow.js and the store's worker thread into dist/store-worker.js (ESM,
// Node 20). Native and runtime dependencies stay external.
import { chmodSync, mkdirSync } from "node:fs";
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
