import type { Step } from "../store/store-types.js";

/**
 * The directly-follows graph of a calls log: for each case (process, by pid), each pair of its
 * consecutive steps' activities `a → b` counted. Steps arrive in start order, and a pid's steps
 * never overlap (one open step per process), so per pid that order is the trace's. Memory: the
 * last activity of each pid and one counter per distinct activity and activity pair.
 */
export interface DirectlyFollowsGraph {
  cases: number;
  events: number;
  /** activity → events */
  activities: Map<string, number>;
  /** "a\u0000b" → times a was directly followed by b */
  edges: Map<string, number>;
  /** activity → cases starting with it */
  starts: Map<string, number>;
  /** activity → cases ending with it */
  ends: Map<string, number>;
}

const SEP = "\u0000";

export function edgeKey(from: string, to: string): string {
  return `${from}${SEP}${to}`;
}

export function splitEdgeKey(key: string): [string, string] {
  const k = key.indexOf(SEP);
  return [key.slice(0, k), key.slice(k + 1)];
}

const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

export async function directlyFollows(
  steps: AsyncIterable<Step[]>,
  activityOf: (s: Step) => string,
): Promise<DirectlyFollowsGraph> {
  const last = new Map<number, string>();
  const g: DirectlyFollowsGraph = {
    cases: 0,
    events: 0,
    activities: new Map(),
    edges: new Map(),
    starts: new Map(),
    ends: new Map(),
  };
  for await (const batch of steps) {
    for (const s of batch) {
      const a = activityOf(s);
      g.events++;
      bump(g.activities, a);
      const prev = last.get(s.pid);
      if (prev === undefined) bump(g.starts, a);
      else bump(g.edges, edgeKey(prev, a));
      last.set(s.pid, a);
    }
  }
  g.cases = last.size;
  for (const a of last.values()) bump(g.ends, a);
  return g;
}
