import type { Change, RunDiff, Section } from "../graph/run-diff.js";

export type DiffFormat = "txt" | "json";

export function formatRunDiff(diff: RunDiff, format: DiffFormat): string {
  if (format === "json") return `${JSON.stringify(diff, null, 2)}\n`;
  return diffText(diff);
}

function show(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : `${v.toFixed(3)} s`;
  return String(v);
}

function changeLine(c: Change): string {
  const parts = Object.entries(c.fields).map(([f, [x, y]]) => `${f} ${show(x)} → ${show(y)}`);
  return `  ~ ${c.key}: ${parts.join("; ")}\n`;
}

function sectionText(title: string, s: Section): string {
  if (s.added.length + s.removed.length + s.changed.length === 0) return "";
  let out = `${title}:\n`;
  const times = (n: number) => (n > 1 ? ` (×${n})` : "");
  const detail = (d?: string) => (d && d !== "-" ? ` (${d})` : "");
  for (const e of s.removed) out += `  - ${e.key}${detail(e.detail)}${times(e.count)}\n`;
  for (const e of s.added) out += `  + ${e.key}${detail(e.detail)}${times(e.count)}\n`;
  for (const c of s.changed) out += changeLine(c);
  return out;
}

/** A unified-diff-like report: `-` only in A, `+` only in B, `~` in both but different. */
function diffText(d: RunDiff): string {
  let out = `--- run ${d.a.id} (${d.a.name})\n+++ run ${d.b.id} (${d.b.name})\n`;
  out += `normalised: ${d.normalized.join(", ") || "nothing"}\n`;
  if (d.run.length > 0) out += `run:\n${d.run.map(changeLine).join("")}`;
  out += sectionText("processes", d.processes);
  out += sectionText("executables", d.executables);
  out += sectionText("files", d.files);
  out += sectionText("directories", d.directories);
  out += sectionText("sockets", d.sockets);
  out += sectionText("registry", d.registry);
  if (d.durations.length > 0) out += `durations:\n${d.durations.map(changeLine).join("")}`;
  out += d.same ? "same\n" : `${d.differences} difference${d.differences === 1 ? "" : "s"}\n`;
  return out;
}
