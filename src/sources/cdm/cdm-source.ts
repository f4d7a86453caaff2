import type { ProvEvent } from "../../events/event-types.js";
import { sniffJson } from "../prov-json/prov-json-source.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { CdmMapper } from "./cdm-mapper.js";

/** `com.bbn.tc.schema.avro.cdm18.Subject` → `Subject` */
const DATUM_TYPE = /^com\.bbn\.tc\.schema\.avro\.cdm\d+\.(\w+)$/;

/** A LineParser over CDM JSON, one record a line (SPADE's CDM storage, the DARPA TC data sets). */
export class CdmJsonParser implements LineParser {
  private readonly mapper: CdmMapper;
  private records = 0;
  private problems = 0;

  constructor(
    private readonly file: string,
    host: string,
  ) {
    this.mapper = new CdmMapper(host);
  }

  private problem(out: ProvEvent[], line: number, message: string, raw: string): void {
    this.problems++;
    out.push({ kind: "problem", at: { file: this.file, line }, message, text: raw.slice(0, 200) });
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      const line = firstLine + i;
      const trimmed = raw.trim();
      if (trimmed === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch (e) {
        this.problem(out, line, `not a JSON record: ${(e as Error).message}`, raw);
        continue;
      }
      const datum =
        typeof value === "object" && value !== null && !Array.isArray(value)
          ? (value as Record<string, unknown>).datum
          : undefined;
      const entries = typeof datum === "object" && datum !== null ? Object.entries(datum) : [];
      const m = entries.length === 1 ? DATUM_TYPE.exec(entries[0]![0]) : null;
      const rec = entries[0]?.[1];
      if (!m || typeof rec !== "object" || rec === null || Array.isArray(rec)) {
        this.problem(
          out,
          line,
          "not a CDM record (an object whose datum names one com.bbn.tc.schema record)",
          raw,
        );
        continue;
      }
      this.records++;
      const r = this.mapper.map(m[1]!, rec as Record<string, unknown>, trimmed, { file: this.file, line });
      if (typeof r === "string") this.problem(out, line, r, raw);
      else for (const ev of r) out.push(ev);
    }
    return out;
  }

  end(): ProvEvent[] {
    if (this.records === 0 && this.problems === 0) {
      return [{ kind: "problem", at: { file: this.file, line: 1 }, message: "no CDM record in the input" }];
    }
    return [];
  }
}

export const cdmFormat: SourceFormat = {
  kind: "cdm",
  detect(head: string[]): number {
    const h = sniffJson(head);
    if (h.first !== "{" || (h.firstKey !== "datum" && h.firstKey !== "CDMVersion")) return 0;
    return /"com\.bbn\.tc\.schema\.avro\.cdm\d+\.\w+"/.test(h.text.slice(0, 4096)) ? 0.95 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new CdmJsonParser(opts.file, opts.ctx.host || "localhost");
  },
};
