import type { NodeKind } from "../graph/prov-types.js";

/** The namespace of provflow's own attributes and types. */
export const PROVFLOW_NS = "https://provflow.dev/ns#";
export const PROV_NS = "http://www.w3.org/ns/prov#";
export const XSD_NS = "http://www.w3.org/2001/XMLSchema#";

/** Prefix of the per-run namespace every node and relation id lives in. */
export const RUN_PREFIX = "run";

/** `urn:provflow:HOST:RUNID:` with the host reduced to URN-safe characters. */
export function runNamespace(host: string, runId: number): string {
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, "_") || "localhost";
  return `urn:provflow:${safeHost}:${runId}:`;
}

/** QName of a node: `run:n123` (the gid, which has `/` and `:`, stays an attribute). */
export function nodeQName(id: number): string {
  return `${RUN_PREFIX}:n${id}`;
}

/** QName of a relation: `run:e45`. */
export function edgeQName(id: number): string {
  return `${RUN_PREFIX}:e${id}`;
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A local name usable after `provflow:`: invalid characters become `_`. */
export function localName(key: string): string {
  if (NCNAME.test(key)) return key;
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, "_");
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/** µs since the epoch → xsd:dateTime in UTC with microseconds: 2023-11-14T22:13:20.123456Z. */
export function xsdDateTime(us: number): string {
  const whole = Math.round(us);
  const seconds = Math.floor(whole / 1_000_000);
  const micros = whole - seconds * 1_000_000;
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(micros).padStart(6, "0")}Z`;
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word: as is when safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (SHELL_SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one copy-pastable command line. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** PROV-JSON section of each node kind. */
export const KIND_SECTION: Record<NodeKind, string> = {
  activity: "activity",
  entity: "entity",
  agent: "agent",
};
