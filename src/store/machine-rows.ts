import { dropAttrsJson } from "../events/attrs-text.js";
import type { KeyedEdge, KeyedNode, MachinePart } from "./store-types.js";

/**
 * Helpers both stores share for machines' keyed rows (provflow mqtt): merging a second description
 * of a node into the first, and folding a batch into one part per run with one row per key.
 */

/** Source of the runs of machines streaming in (provflow mqtt). */
export const MACHINE_RUN_SOURCE = "mqtt";

function sameValue(a: unknown, b: unknown): boolean {
  return (
    a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b))
  );
}

/**
 * A later description of a node adds to the first, as in the graph builder: new attributes are
 * added; a different value of an attribute already there makes it a list of its values. Returns
 * whether `into` changed.
 */
export function mergeKeyedNode(into: KeyedNode, more: KeyedNode): boolean {
  let changed = false;
  const a = into.attrs;
  dropAttrsJson(a);
  for (const [k, v] of Object.entries(more.attrs)) {
    const old = a[k];
    if (old === undefined) {
      a[k] = v;
      changed = true;
      continue;
    }
    if (sameValue(old, v)) continue;
    const values: unknown[] = Array.isArray(old) ? [...old] : [old];
    let grew = false;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (!values.some((y) => sameValue(x, y))) {
        values.push(x);
        grew = true;
      }
    }
    if (grew) {
      a[k] = values;
      changed = true;
    }
  }
  if (into.type === "other" && more.type !== "other") {
    into.type = more.type;
    changed = true;
  }
  if (!into.label && more.label) {
    into.label = more.label;
    changed = true;
  }
  if (more.start !== null && (into.start === null || more.start < into.start)) {
    into.start = more.start;
    changed = true;
  }
  if (more.end !== null && (into.end === null || more.end > into.end)) {
    into.end = more.end;
    changed = true;
  }
  return changed;
}

/**
 * One part per run (machine), with one node per key (descriptions merged, in first-seen order) and
 * one relation per key (the first): a batch never writes the same key twice.
 */
export function foldParts(parts: readonly MachinePart[]): MachinePart[] {
  const byRun = new Map<number, MachinePart>();
  for (const p of parts) {
    const into = byRun.get(p.runId);
    if (into === undefined) {
      byRun.set(p.runId, { ...p, nodes: [...p.nodes], edges: [...p.edges], problems: [...p.problems] });
      continue;
    }
    into.nodes.push(...p.nodes);
    into.edges.push(...p.edges);
    into.problems.push(...p.problems);
    into.packets += p.packets;
    into.errors += p.errors;
    if (p.seen > into.seen) into.seen = p.seen;
  }
  const out = [...byRun.values()].sort((a, b) => a.runId - b.runId);
  for (const p of out) {
    const nodes = new Map<string, KeyedNode>();
    for (const n of p.nodes) {
      const known = nodes.get(n.key);
      if (known === undefined) nodes.set(n.key, { ...n, attrs: { ...n.attrs } });
      else mergeKeyedNode(known, n);
    }
    p.nodes = [...nodes.values()];
    const edges = new Map<string, KeyedEdge>();
    for (const e of p.edges) if (!edges.has(e.key)) edges.set(e.key, e);
    p.edges = [...edges.values()];
  }
  return out;
}
