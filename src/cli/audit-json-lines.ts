import { createReadStream } from "node:fs";
import type { ProblemEvent } from "../events/event-types.js";
import type { AuditGroupItem } from "../sources/audit/audit-event-grouper.js";
import {
  enrichmentActive,
  LaurelEnricher,
  type LaurelEnrichOptions,
} from "../sources/audit/laurel-enrich.js";
import { laurelEventJson } from "../sources/audit/laurel-json.js";
import { LaurelEventOrderer } from "../sources/audit/laurel-order.js";
import { LineSplitter } from "../sources/line-batches.js";
import { InputError } from "../util/errors.js";

export interface AuditJsonOptions {
  files: string[];
  out: (chunk: string) => void | Promise<void>;
  onProblem: (p: ProblemEvent) => void;
  /** enrichment, labels and filters (laurel-enrich.ts); none by default */
  enrich?: LaurelEnrichOptions;
  /** written before every line (`@cee: ` for rsyslog) */
  linePrefix?: string;
}

export interface AuditJsonStats {
  events: number;
  problems: number;
  /** events dropped by a filter */
  filtered: number;
}

/**
 * Turns what LaurelEventOrderer hands out into text: one line per event (enriched and filtered when
 * asked), problems to `onProblem`. Without enrichment nothing but the JSON of each event is built.
 */
export class LaurelLineFormatter {
  readonly stats: AuditJsonStats = { events: 0, problems: 0, filtered: 0 };
  private readonly enricher: LaurelEnricher | null;
  private readonly prefix: string;

  constructor(
    private readonly onProblem: (p: ProblemEvent) => void,
    enrich: LaurelEnrichOptions | undefined,
    linePrefix = "",
  ) {
    this.enricher = enrich !== undefined && enrichmentActive(enrich) ? new LaurelEnricher(enrich) : null;
    this.prefix = linePrefix;
  }

  format(items: readonly AuditGroupItem[]): string {
    let chunk = "";
    const enr = this.enricher;
    for (const it of items) {
      if (it.kind === "problem") {
        this.stats.problems++;
        this.onProblem(it);
        continue;
      }
      const line = enr === null ? laurelEventJson(it) : enr.json(it);
      if (line === null) {
        this.stats.filtered++;
        continue;
      }
      this.stats.events++;
      chunk += `${this.prefix}${line}\n`;
    }
    return chunk;
  }
}

/**
 * Raw audit logs (or stdin) to laurel-style JSON lines, one object per event, with laurel 0.5.1's event
 * boundaries and order (LaurelEventOrderer), written as events close: nothing but the open events (and
 * the process table, when enrichment asks for one) is kept.
 *
 * Unlike laurel, a last line without a newline is read like any other line (laurel refuses it).
 */
export async function auditToJsonLines(opts: AuditJsonOptions): Promise<AuditJsonStats> {
  const fmt = new LaurelLineFormatter(opts.onProblem, opts.enrich, opts.linePrefix);
  const emit = async (items: AuditGroupItem[]) => {
    const chunk = fmt.format(items);
    if (chunk) await opts.out(chunk);
  };
  for (const file of opts.files) {
    const name = file === "-" ? "<stdin>" : file;
    const orderer = new LaurelEventOrderer({ file: name });
    const stream = file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 64 << 10 });
    const splitter = new LineSplitter();
    try {
      for await (const chunk of stream) {
        const batch = splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
        if (batch) await emit(orderer.push(batch.lines, batch.firstLine));
      }
    } catch (err) {
      throw new InputError(`${name}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    const tail = splitter.end();
    if (tail) await emit(orderer.push(tail.lines, tail.firstLine));
    await emit(orderer.end());
  }
  return fmt.stats;
}
