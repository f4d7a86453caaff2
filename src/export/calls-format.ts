import { isoMicros } from "../graph/time-format.js";
import type { Step } from "../store/store-types.js";

export type CallsFormat = "txt" | "csv" | "json";

const CSV_HEADER = "seq,start,end,pid,call,count,resource,bytes,errors,dur_us,ret";

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One readable line: time, pid, call ×count, resource, bytes, errors, summed duration. */
export function stepText(s: Step): string {
  const call = s.count > 1 ? `${s.call} ×${s.count}` : s.call;
  let line = `${isoMicros(s.start)}  ${String(s.pid).padStart(7)}  ${call.padEnd(18)}  ${s.resource || "-"}`;
  if (s.bytes > 0) line += `  ${s.bytes} B`;
  if (s.errors > 0) line += `  ${s.errors} error${s.errors > 1 ? "s" : ""}${s.ret ? ` (${s.ret})` : ""}`;
  if (s.dur > 0) line += `  ${(s.dur / 1e6).toFixed(3)} s`;
  for (const q of s.queries ?? []) line += `\n${" ".repeat(38)}query ${q}`;
  return line;
}

export function stepCsv(s: Step): string {
  return [
    String(s.seq),
    isoMicros(s.start),
    isoMicros(s.end),
    String(s.pid),
    csvField(s.call),
    String(s.count),
    csvField(s.resource),
    String(s.bytes),
    String(s.errors),
    String(s.dur),
    csvField(s.ret ?? ""),
  ].join(",");
}

function stepJson(s: Step): string {
  return JSON.stringify({
    seq: s.seq,
    start: isoMicros(s.start),
    end: isoMicros(s.end),
    pid: s.pid,
    call: s.call,
    count: s.count,
    resource: s.resource,
    bytes: s.bytes,
    errors: s.errors,
    dur: s.dur,
    ret: s.ret,
    ...(s.queries !== undefined ? { queries: s.queries } : {}),
  });
}

/**
 * Streams the calls log: batches of steps in, text chunks out (one chunk per batch), never the
 * whole log in memory. txt: one aligned line per step; csv: RFC 4180 with a header; json: an
 * array written element by element (valid even when empty).
 */
export async function formatSteps(
  steps: AsyncIterable<Step[]>,
  format: CallsFormat,
  out: (chunk: string) => void | Promise<void>,
): Promise<void> {
  let first = true;
  if (format === "csv") await out(`${CSV_HEADER}\r\n`);
  else if (format === "json") await out("[");
  for await (const batch of steps) {
    if (batch.length === 0) continue;
    let chunk = "";
    for (const s of batch) {
      if (format === "txt") chunk += `${stepText(s)}\n`;
      else if (format === "csv") chunk += `${stepCsv(s)}\r\n`;
      else {
        chunk += `${first ? "\n" : ",\n"}${stepJson(s)}`;
        first = false;
      }
    }
    await out(chunk);
  }
  if (format === "json") await out(first ? "]\n" : "\n]\n");
}
