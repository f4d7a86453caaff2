import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { EbpfLogParser } from "./ebpf-line-parser.js";

/** `H\t<offset>\t<pid>\t<arch>…` (the program's header) or its record lines `S\t<ns>\t<tid>\t…` */
const RECORD = /^[SEAPNRFXZ]\t\d+\t-?\d+(\t|$)/;

export const ebpfFormat: SourceFormat = {
  kind: "ebpf",
  detect(head: string[], fileName: string): number {
    let seen = 0;
    let hits = 0;
    for (const l of head) {
      if (l.length === 0 || l.startsWith("Attaching ")) continue;
      if (/^H\t-?\d+\t\d+\t/.test(l)) return 1;
      seen++;
      if (RECORD.test(l)) hits++;
      if (seen >= 100) break;
    }
    const named = /\.ebpf(\.|$)/.test(fileName) ? 0.3 : 0;
    if (seen === 0) return 0;
    return hits === 0 ? 0 : Math.min(1, (0.7 * hits) / seen + named);
  },
  createParser(opts: ParserOptions): LineParser {
    return new EbpfLogParser(opts);
  },
};
