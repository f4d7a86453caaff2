import { execSync } from "node:child_process";
import { auditLaurelBench } from "./audit-laurel-bench.js";
import { postgresBench } from "./postgres-bench.js";
import { replayBench } from "./replay-bench.js";
import { traceOverheadBench } from "./trace-overhead-bench.js";

/** `npm run bench`: every benchmark, each figure next to the peer's on the same input. */
const only = process.argv[2];
const out: string[] = [
  `## provflow benchmarks — ${new Date().toISOString()}`,
  "",
  `Machine: ${execSync("nproc").toString().trim()} cores, node ${process.version}, ${execSync("strace -V | head -1").toString().trim()}`,
  "",
];
if (!only || only === "replay") out.push(...replayBench(), "");
if (!only || only === "trace") out.push(...traceOverheadBench(), "");
if (!only || only === "audit") out.push(...auditLaurelBench(), "");
if (!only || only === "postgres") out.push(...postgresBench(), "");
if (!only || only === "prov") out.push(...(await import("./prov-ingest-bench.js")).provIngestBench(), "");
if (!only || only === "floor") out.push(...(await import("./floor-bench.js")).floorBench(), "");
if (!only || only === "windows") out.push(...(await import("./procmon-bench.js")).procmonBench(), "");
if (!only || only === "detect") out.push(...(await (await import("./detect-bench.js")).detectBench()), "");
if (!only || only === "mqtt") out.push(...(await (await import("./mqtt-bench.js")).mqttBench()), "");
if (!only || only === "lineage") out.push(...(await (await import("./lineage-bench.js")).lineageBench()), "");
if (!only || only === "server") out.push(...(await (await import("./server-bench.js")).serverBench()), "");
if (!only || only === "ebpf")
  out.push(...(await (await import("./ebpf-overhead-bench.js")).ebpfOverheadBench()), "");
if (!only || only === "export")
  out.push(...(await import("./export-stream-bench.js")).exportStreamBench(), "");
process.stdout.write(`${out.join("\n")}\n`);
