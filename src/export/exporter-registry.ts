import { csvExporter } from "./csv-graph.js";
import { dockerfileExporter } from "./dockerfile-export.js";
import { edgeListExporter } from "./edge-list.js";
import { ocelExporter, xesExporter } from "./event-logs.js";
import type { Exporter } from "./exporter-types.js";
import { dotExporter } from "./graphviz-dot.js";
import { jsonlExporter } from "./jsonl-graph.js";
import { perfettoExporter } from "./perfetto-trace.js";
import { provJsonExporter } from "./prov-json.js";
import { provNExporter } from "./prov-n.js";
import { provTurtleExporter } from "./prov-turtle.js";
import { provXmlExporter } from "./prov-xml.js";
import { spadeDotExporter, spadeJsonExporter } from "./spade-graph.js";

/** Every export format by name; new formats register here. */
export const exporters = new Map<string, Exporter>([[provJsonExporter.format, provJsonExporter]]);
// the other W3C PROV serializations, holding the same records as PROV-JSON
for (const e of [provNExporter, provXmlExporter, provTurtleExporter]) exporters.set(e.format, e);
// everyday tools: Graphviz, Perfetto / chrome://tracing, spreadsheets, jq, detectors (StreamSpot)
for (const e of [dotExporter, perfettoExporter, csvExporter, jsonlExporter, edgeListExporter])
  exporters.set(e.format, e);
// a Dockerfile and its build context rebuilding the run's environment (writes a directory)
exporters.set(dockerfileExporter.format, dockerfileExporter);
// SPADE's storage formats, and the calls log as process-mining event logs
for (const e of [spadeJsonExporter, spadeDotExporter, xesExporter, ocelExporter]) exporters.set(e.format, e);

export function registerExporter(exporter: Exporter): void {
  exporters.set(exporter.format, exporter);
}

/** The exporter of a format name (case-insensitive), or undefined. */
export function getExporter(format: string): Exporter | undefined {
  return exporters.get(format.toLowerCase());
}

export function exportFormats(): string[] {
  return [...exporters.keys()].sort();
}
