import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { ProcmonXmlParser } from "./procmon-xml-parser.js";

/** Process Monitor XML exports (`--kind procmon-xml`): a `<procmon>` root with a process and an event list. */
export const procmonXmlFormat: SourceFormat = {
  kind: "procmon-xml",
  detect(head: string[]): number {
    const text = head
      .slice(0, 20)
      .join("\n")
      .replace(/^\uFEFF/, "");
    return /^\s*(?:<\?xml[^>]*\?>\s*)?<procmon>/.test(text) ? 0.95 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProcmonXmlParser(opts.file, opts.ctx);
  },
};
