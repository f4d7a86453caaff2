import { createReadStream } from "node:fs";
import type { ProblemEvent } from "../events/event-types.js";
import { AuditEventGrouper, type AuditGroupItem } from "../sources/audit/audit-event-grouper.js";
import { laurelEventJson } from "../sources/audit/laurel-json.js";
import { readLineBatches } from "../sources/line-batches.js";
import { InputError } from "../util/errors.js";

export interface AuditJsonOptions {
  files: string[];
  out: (chunk: string) => void | Promise<void>;
  onProblem: (p: ProblemEvent) => void;
}

/**
 * Raw audit logs (or stdin) to laurel-style JSON lines, one object per event, written as events
 * close: nothing but the open events is kept.
 */
export async function auditToJsonLines(
  opts: AuditJsonOptions,
): Promise<{ events: number; problems: number }> {
  let events = 0;
  let problems = 0;
  const emit = async (items: AuditGroupItem[]) => {
    let chunk = "";
    for (const it of items) {
      if (it.kind === "problem") {
        problems++;
        opts.onProblem(it);
      } else {
        events++;
        chunk += `${laurelEventJson(it)}\n`;
      }
    }
    if (chunk) await opts.out(chunk);
  };
  for (const file of opts.files) {
    const name = file === "-" ? "<stdin>" : file;
    const grouper = new AuditEventGrouper({ file: name });
    const stream = file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 256 << 10 });
    try {
      for await (const batch of readLineBatches(stream))
        await emit(grouper.push(batch.lines, batch.firstLine));
    } catch (err) {
      throw new InputError(`${name}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    await emit(grouper.end());
  }
  return { events, problems };
}
