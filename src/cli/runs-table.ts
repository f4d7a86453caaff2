import { isoMicros } from "../graph/time-format.js";
import type { RunRecord } from "../store/store-types.js";

function duration(run: RunRecord): string {
  if (run.start === null || run.end === null) return "";
  const s = (run.end - run.start) / 1e6;
  return s < 60 ? `${s.toFixed(3)}s` : `${(s / 60).toFixed(1)}min`;
}

function exit(run: RunRecord): string {
  if (run.exitSignal) return run.exitSignal;
  return run.exitCode === null ? "" : String(run.exitCode);
}

/** The runs as an aligned text table (one line per run). */
export function formatRunsTable(runs: RunRecord[]): string {
  const header = [
    "ID",
    "NAME",
    "SOURCE",
    "STATUS",
    "START",
    "DURATION",
    "EXIT",
    "PROCS",
    "NODES",
    "EDGES",
    "PROBLEMS",
    "COMMAND",
  ];
  const rows = runs.map((r) => [
    String(r.id),
    r.name,
    r.source,
    r.status,
    r.start === null ? "" : isoMicros(r.start),
    duration(r),
    exit(r),
    String(r.stats.processes ?? ""),
    String(r.nodeCount),
    String(r.edgeCount),
    String(r.stats.problems ?? 0),
    r.command.join(" ").slice(0, 80),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[fmt(header), ...rows.map(fmt)].join("\n")}\n`;
}
