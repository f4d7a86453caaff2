import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { DocContext, ProvRecordMapper } from "../prov-json/prov-json-reader.js";
import { Namespaces } from "../prov-json/prov-json-values.js";

/**
 * Where the readers of the other PROV serialisations (PROV-XML, PROV-JSONLD) hand their records:
 * each record, turned into the shape of a PROV-JSON record, goes to a PROV-JSON mapper with its
 * document context; what the mapper says (events, problems) is collected until `take()`.
 */
export class ProvRecordSink {
  private out: ProvEvent[] = [];
  private readonly cx: DocContext;
  /** problems reported so far */
  problems = 0;
  /** records handed to the mapper */
  records = 0;

  constructor(
    readonly file: string,
    private readonly mapper: ProvRecordMapper,
  ) {
    this.cx = {
      file,
      doc: 1,
      bundle: null,
      ns: Namespaces.standard(),
      problem: (message, at, text) => this.problem(at.line, message, text),
    };
  }

  /** Adds events (the mapper writes here). */
  emit(ev: ProvEvent): void {
    this.out.push(ev);
  }

  /** The events collected since the last call. */
  take(): ProvEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** A record of a PROV-JSON section (`entity`, `used`…) with the names in scope where it was. */
  record(
    section: string,
    id: string,
    rec: Record<string, unknown>,
    line: number,
    ns: Namespaces,
    bundle: string | null,
  ): void {
    const cx = this.cx;
    cx.ns = ns;
    cx.bundle = bundle;
    this.records++;
    const at: SourceLocation = { file: this.file, line };
    this.mapper.record(section, id, rec, at, cx);
  }

  /** A problem at a line (the message says the column when it is known). */
  problem(line: number, message: string, text?: string): void {
    this.problems++;
    const ev: ProvEvent = { kind: "problem", at: { file: this.file, line }, message };
    if (text !== undefined) ev.text = text.length > 200 ? text.slice(0, 200) : text;
    this.out.push(ev);
  }
}

/** Joins line batches (and the pieces of an overlong line, see json-line-batches.ts) back into text. */
export function joinLines(lines: string[], started: boolean, continuation: string): string {
  let text = "";
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    if (line.startsWith(continuation)) text += line.slice(1);
    else text += k === 0 && !started ? line : `\n${line}`;
  }
  return text;
}
