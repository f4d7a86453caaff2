import type { Exporter } from "./exporter-types.js";
import { provJsonExporter } from "./prov-json.js";

/** Every export format by name; new formats register here. */
export const exporters = new Map<string, Exporter>([[provJsonExporter.format, provJsonExporter]]);

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
