import type { ProvEvent } from "../../events/event-types.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { AuditEventGrouper } from "./audit-event-grouper.js";
import { AuditInterpreter } from "./audit-interpreter.js";

/**
 * The raw Linux audit log source (auditd's audit.log, raw or ENRICHED, `ausearch --raw`): the event
 * grouper joins records into events, the interpreter turns events into provenance events.
 */
export class AuditLogParser implements LineParser {
  readonly grouper: AuditEventGrouper;
  readonly interpreter: AuditInterpreter;

  constructor(opts: ParserOptions) {
    this.grouper = new AuditEventGrouper({ file: opts.file });
    this.interpreter = new AuditInterpreter({ file: opts.file, cwd: opts.ctx.cwd });
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    return this.interpreter.feed(this.grouper.push(lines, firstLine));
  }

  end(): ProvEvent[] {
    const out = this.interpreter.feed(this.grouper.end());
    return this.interpreter.end(out);
  }
}

/** whether a line starts like an audit record: `[node=NAME ]type=TYPE msg=audit(DIGITS.DIGITS:DIGITS)` */
export function looksAuditRecord(line: string): boolean {
  let i = 0;
  if (line.startsWith("node=")) {
    i = line.indexOf(" ");
    if (i < 0) return false;
    i++;
  }
  if (!line.startsWith("type=", i)) return false;
  const sp = line.indexOf(" ", i + 5);
  if (sp <= i + 5 || !line.startsWith("msg=audit(", sp + 1)) return false;
  let k = sp + 11;
  let digits = 0;
  while (k < line.length && line.charCodeAt(k) >= 48 && line.charCodeAt(k) <= 57) {
    k++;
    digits++;
  }
  if (digits === 0 || line.charCodeAt(k) !== 46 /* . */) return false;
  const colon = line.indexOf(":", k);
  const close = line.indexOf(")", k);
  return colon > k + 1 && close > colon + 1;
}

export const auditFormat: SourceFormat = {
  kind: "audit",
  detect(head: string[]): number {
    let seen = 0;
    let hits = 0;
    for (const l of head) {
      if (l.length === 0 || l.startsWith("#")) continue;
      seen++;
      if (looksAuditRecord(l)) hits++;
      if (seen >= 100) break;
    }
    if (seen === 0 || hits === 0) return 0;
    const ratio = hits / seen;
    return ratio < 0.5 ? 0 : 0.5 + 0.5 * ratio;
  },
  createParser(opts: ParserOptions): LineParser {
    return new AuditLogParser(opts);
  },
};
