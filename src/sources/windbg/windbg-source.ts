import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { LOGEXTS_LINE, LogextsParser } from "./logexts-parser.js";

/** CDB/WinDbg Logger text logs (`--kind windbg`). */
export const windbgFormat: SourceFormat = {
  kind: "windbg",
  detect(head: string[]): number {
    const calls = head.slice(0, 50).filter((l) => LOGEXTS_LINE.test(l)).length;
    return calls === 0 ? 0 : calls >= 2 || head.length <= 2 ? 0.9 : 0.5;
  },
  createParser(opts: ParserOptions): LineParser {
    return new LogextsParser(opts.file, opts.pid ?? opts.topPid);
  },
};
