import { connect, createServer } from "node:net";

/** A TCP port free on loopback right now (for an embedded broker). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The test broker: Mosquitto on loopback (override with PROVFLOW_TEST_MQTT). */
export const MQTT_URL = process.env.PROVFLOW_TEST_MQTT ?? "mqtt://127.0.0.1:1883";

/**
 * Is the Mosquitto test broker there? With CI=true a missing broker fails the test file loudly;
 * otherwise it warns and resolves false (skip).
 */
export async function mosquittoAvailable(what: string): Promise<boolean> {
  const u = new URL(MQTT_URL);
  const reason = await new Promise<string | null>((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || 1883) });
    const timer = setTimeout(() => {
      s.destroy();
      resolve("timeout");
    }, 3000);
    s.once("connect", () => {
      clearTimeout(timer);
      s.end();
      resolve(null);
    });
    s.once("error", (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
  if (reason === null) return true;
  const msg = `the MQTT broker at ${MQTT_URL} is unreachable (${reason}): ${what}`;
  if (process.env.CI === "true") throw new Error(`${msg} cannot run, and CI=true requires it`);
  console.warn(`SKIPPED: ${msg} skipped (start it: systemctl start mosquitto)`);
  return false;
}

/** CamFlow's id without the `cf:` prefix 0.9 writes and 0.3 does not. */
function key(id: string): string {
  return id.startsWith("cf:") ? id.slice(3) : id;
}

/** The two ends of each PROV-JSON relation section CamFlow writes (and 0.3.x's `relation`). */
const ENDS: Record<string, [string, string]> = {
  used: ["prov:activity", "prov:entity"],
  wasGeneratedBy: ["prov:entity", "prov:activity"],
  wasInformedBy: ["prov:informed", "prov:informant"],
  wasDerivedFrom: ["prov:generatedEntity", "prov:usedEntity"],
  wasAssociatedWith: ["prov:activity", "prov:agent"],
  wasAttributedTo: ["prov:entity", "prov:agent"],
  wasInvalidatedBy: ["prov:entity", "prov:activity"],
  wasStartedBy: ["prov:activity", "prov:trigger"],
  wasEndedBy: ["prov:activity", "prov:trigger"],
  actedOnBehalfOf: ["prov:delegate", "prov:responsible"],
  wasInfluencedBy: ["prov:influencee", "prov:influencer"],
  relation: ["cf:receiver", "cf:sender"],
};

export interface ExpectedCounts {
  documents: number;
  /** distinct node ids described */
  nodes: number;
  /** relations whose two ends are described somewhere in the documents */
  edges: number;
  /** relations with an end never described (they wait) */
  waiting: number;
}

/**
 * What a machine publishing these documents must end up with, computed from the raw JSON alone:
 * nodes are the distinct ids of the entity/activity/agent sections, edges the distinct relations
 * (section and id) whose two ends are among them.
 */
export function expectedCounts(docs: readonly string[]): ExpectedCounts {
  const nodes = new Set<string>();
  const rels = new Map<string, [string, string]>();
  for (const text of docs) {
    const doc = JSON.parse(text) as Record<string, Record<string, Record<string, unknown>>>;
    for (const [section, members] of Object.entries(doc)) {
      if (section === "prefix" || typeof members !== "object" || members === null) continue;
      if (section === "entity" || section === "activity" || section === "agent") {
        for (const id of Object.keys(members)) nodes.add(key(id));
        continue;
      }
      const ends = ENDS[section];
      if (ends === undefined) continue;
      for (const [id, rec] of Object.entries(members)) {
        const from = rec[ends[0]];
        const to = rec[ends[1]];
        if (typeof from !== "string" || typeof to !== "string") continue;
        rels.set(`${section}/${id}`, [key(from), key(to)]);
      }
    }
  }
  let edges = 0;
  for (const [from, to] of rels.values()) if (nodes.has(from) && nodes.has(to)) edges++;
  return { documents: docs.length, nodes: nodes.size, edges, waiting: rels.size - edges };
}
