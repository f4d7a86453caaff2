import { createReadStream } from "node:fs";
import type { ProblemEvent } from "../events/event-types.js";
import type { AuditGroupItem } from "../sources/audit/audit-event-grouper.js";
import { laurelEventJson } from "../sources/audit/laurel-json.js";
import { LaurelEventOrderer } from "../sources/audit/laurel-order.js";
import { LineSplitter } from "../sources/line-batches.js";
import { InputError } from "../util/errors.js";

export interface AuditJsonOptions {
  files: string[];
  out: (chunk: string) => void | Promise<void>;
  onProblem: (p: ProblemEvent) => void;
}

/**
 * Raw audit logs (or stdin) to laurel-style JSON lines, one object per event, with laurel 0.5.1's event
 * boundaries and order (LaurelEventOrderer), written as events close: nothing but the open events is kept.
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
    const orderer = new LaurelEventOrderer({ file: name });
    const stream = file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 256 << 10 });
    const splitter = new LineSplitter();
    try {
      for await (const chunk of stream) {
        const batch = splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
        if (batch) await emit(orderer.push(batch.lines, batch.firstLine));
      }
    } catch (err) {
      throw new InputError(`${name}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    // a last line without a newline: laurel refuses it, so it is reported, not written
    const tail = splitter.end();
    if (tail)
      for (const [k, line] of tail.lines.entries())
        await emit(orderer.pushUnterminated(line, tail.firstLine + k));
    await emit(orderer.end());
  }
  return { events, problems };
}
