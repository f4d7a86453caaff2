import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { ProcmonCsvParser } from "./procmon-csv-parser.js";

/** The header of a ProcMon CSV export: quoted column names, among them Operation and PID. */
const HEADER_RE =
  /^\uFEFF?"?Time of Day"?,.*"?Operation"?|^\uFEFF?".*","Operation",.*"PID"|^\uFEFF?".*","PID",.*"Operation"/;

/** Process Monitor CSV exports (`--kind procmon-csv`). */
export const procmonCsvFormat: SourceFormat = {
  kind: "procmon-csv",
  detect(head: string[]): number {
    const first = head[0] ?? "";
    if (!HEADER_RE.test(first)) return 0;
    return first.includes("Process Name") ? 0.95 : 0.8;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProcmonCsvParser(opts.file, opts.ctx);
  },
};
