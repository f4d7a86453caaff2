import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { readPmlFile } from "./pml-file.js";
import { PmlParser } from "./pml-parser.js";

/** Process Monitor's native logs (`--kind procmon-pml`). */
export const procmonPmlFormat: SourceFormat = {
  kind: "procmon-pml",
  binary: true,
  detect(head: string[]): number {
    return (head[0] ?? "").startsWith("PML_") ? 0.95 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new PmlParser(opts.file);
  },
  readFile: readPmlFile,
  headContext(head: string[]): { host?: string } {
    // the computer name, UTF-16 at 0x0c (the head was decoded as UTF-8: NULs between ASCII letters)
    const first = head[0] ?? "";
    const name = first
      .slice(12, 44)
      .split("\u0000")
      .join("")
      .replace(/[^\w.-].*$/s, "");
    return name ? { host: name } : {};
  },
};
