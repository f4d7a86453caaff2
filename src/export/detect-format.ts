import type { DetectReport, Finding } from "../detect/detect-types.js";

export type DetectFormat = "txt" | "json";

function evidenceText(f: Finding): string {
  const e = f.evidence;
  const parts: string[] = [];
  if (e.edges.length > 0) parts.push(`edge${e.edges.length > 1 ? "s" : ""} ${e.edges.join(", ")}`);
  if (e.nodes.length > 0) parts.push(`node${e.nodes.length > 1 ? "s" : ""} ${e.nodes.join(", ")}`);
  if (e.gids.length > 0) parts.push(e.gids.join(" "));
  return parts.join("; ");
}

/** One finding on one line (the stream's text output), with its evidence. */
export function findingLine(f: Finding, where?: string): string {
  return `${where ? `${where}: ` : ""}[${f.detector}] ${f.kind}: ${f.why}  (${evidenceText(f)})`;
}

/** A run's detection report: a verdict line, a line per detector, then the findings with their evidence. */
export function formatDetectReport(r: DetectReport, format: DetectFormat): string {
  if (format === "json") return `${JSON.stringify(r, null, 2)}\n`;
  const name = r.run ? `run ${r.run.id} (${r.run.name})` : "stream";
  let out = `${name}: ${r.flagged ? "FLAGGED" : "normal"} (${r.edges} relations read${r.dangling > 0 ? `, ${r.dangling} left out: an end is missing` : ""})\n`;
  const b = r.detectors.behaviour;
  const s = r.detectors.sketch;
  out += `  behaviour: ${b.flagged ? "flagged" : "normal"}, ${b.score} new behaviour${b.score === 1 ? "" : "s"} (flagged at ${b.threshold})\n`;
  out += `  sketch:    ${s.flagged ? "flagged" : "normal"}, score ${s.score.toFixed(3)} (distance / threshold of the nearest normal cluster; flagged above 1)\n`;
  for (const f of r.findings) {
    out += `  [${f.detector}] ${f.kind}: ${f.why}\n`;
    out += `      evidence: ${evidenceText(f)}\n`;
  }
  return out;
}
