import { auditFormat } from "./audit/audit-source-format.js";
import { camflowFormat } from "./camflow/camflow-source.js";
import { cdmFormat } from "./cdm/cdm-source.js";
import { clingoFormat } from "./clingo/clingo-source.js";
import { dotFormat } from "./dot/dot-source.js";
import { ebpfFormat } from "./ebpf/ebpf-source.js";
import { ltraceFormat } from "./ltrace/ltrace-source-format.js";
import { procmonCsvFormat } from "./procmon-csv/procmon-csv-source.js";
import { procmonPmlFormat } from "./procmon-pml/pml-source.js";
import { procmonXmlFormat } from "./procmon-xml/procmon-xml-source.js";
import { provJsonFormat } from "./prov-json/prov-json-source.js";
import { provJsonLdFormat } from "./prov-jsonld/prov-jsonld-source.js";
import { provNFormat } from "./prov-n/prov-n-source.js";
import { provOFormat } from "./prov-o/prov-o-source.js";
import { provXmlFormat } from "./prov-xml/prov-xml-source.js";
import type { SourceFormat } from "./source-types.js";
import { spadeJsonFormat } from "./spade/spade-json-source.js";
import { straceFormat } from "./strace/strace-source.js";
import { sysmonEvtxFormat, sysmonFormat } from "./sysmon/sysmon-source.js";
import { windbgFormat } from "./windbg/windbg-source.js";

/** Every format `provflow ingest` knows, in the order ties are broken. */
export const sourceFormats: readonly SourceFormat[] = [
  straceFormat,
  ltraceFormat,
  auditFormat,
  camflowFormat,
  provJsonFormat,
  spadeJsonFormat,
  provXmlFormat,
  provJsonLdFormat,
  provNFormat,
  provOFormat,
  cdmFormat,
  clingoFormat,
  dotFormat,
  procmonCsvFormat,
  procmonXmlFormat,
  procmonPmlFormat,
  sysmonFormat,
  sysmonEvtxFormat,
  windbgFormat,
  ebpfFormat,
];

/** Kinds read from JSON: their inputs go through the JSON line reader (long lines in pieces). */
export const JSON_KINDS: ReadonlySet<string> = new Set(["prov", "camflow", "spade"]);

/** `--kind` names of formats whose runs are of another kind (every PROV serialisation is `prov`). */
export const KIND_ALIASES: Readonly<Record<string, SourceFormat>> = {
  "prov-json": provJsonFormat,
  "prov-xml": provXmlFormat,
  "prov-jsonld": provJsonLdFormat,
  "prov-n": provNFormat,
  "prov-o": provOFormat,
  cdm18: cdmFormat,
  provmark: clingoFormat,
  graphviz: dotFormat,
};

export function findFormat(kind: string): SourceFormat | undefined {
  if (Object.hasOwn(KIND_ALIASES, kind)) return KIND_ALIASES[kind];
  return sourceFormats.find((f) => f.kind === kind);
}

/** The format most sure that these first lines are its own, with its confidence. */
export function detectFormat(
  head: string[],
  fileName: string,
): { format: SourceFormat; confidence: number } | null {
  let best: { format: SourceFormat; confidence: number } | null = null;
  for (const format of sourceFormats) {
    const confidence = format.detect(head, fileName);
    if (!best || confidence > best.confidence) best = { format, confidence };
  }
  return best && best.confidence >= 0.3 ? best : null;
}
