import type { SaxesParser, SaxesTagPlain } from "saxes";
import type { ProvEvent } from "../../events/event-types.js";
import { saxes } from "../prov-xml/prov-xml-reader.js";

/** A field's text is capped: an element of these logs is small, a broken file must not grow one without end. */
const MAX_TEXT_CHARS = 1 << 20;

export interface ElementHandlers {
  open(tag: SaxesTagPlain, line: number): void;
  /** `text` is the text read since the last open or close tag */
  close(tag: SaxesTagPlain, text: string): void;
}

/**
 * The XML reading the Windows XML exports share (ProcMon's `<procmon>`, event XML): saxes fed piece
 * by piece, tags and their text handed to the reader, malformed XML reported once with its line
 * (the rest of that input is then skipped).
 */
export class XmlElementStream {
  private readonly parser: SaxesParser;
  private text = "";
  broken = false;

  constructor(
    private readonly file: string,
    handlers: ElementHandlers,
    private readonly problems: ProvEvent[],
    fragment = false,
  ) {
    const S = saxes().SaxesParser;
    this.parser = new S(fragment ? { fragment: true } : {});
    this.parser.on("opentag", (t) => {
      this.text = "";
      handlers.open(t as SaxesTagPlain, this.parser.line);
    });
    this.parser.on("closetag", (t) => {
      handlers.close(t as SaxesTagPlain, this.text);
      this.text = "";
    });
    this.parser.on("text", (t) => {
      if (this.text.length < MAX_TEXT_CHARS) this.text += t;
    });
    this.parser.on("error", (e) => {
      if (this.broken) return;
      this.broken = true;
      this.problems.push({
        kind: "problem",
        at: { file: this.file, line: this.parser.line },
        message: `malformed XML: ${e.message.split("\n")[0]}; the rest of this input is skipped`,
      });
    });
  }

  write(text: string): void {
    if (this.broken) return;
    try {
      this.parser.write(text);
    } catch {
      // reported by the error handler
    }
  }

  close(): void {
    if (this.broken) return;
    try {
      this.parser.close();
    } catch {
      // reported by the error handler
    }
  }
}
