/**
 * CamFlow's MQTT topics under a prefix (default `camflow`): each machine publishes its provenance on
 * `PREFIX/provenance/MACHINE_ID`; machines of the older two-topic protocol also announce themselves
 * (retained) on `PREFIX/machines/MACHINE_ID` or `PREFIX/machines`.
 */

export const DEFAULT_TOPIC_PREFIX = "camflow";

/** The prefix as given, without slashes at its ends; refuses wildcards. */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  if (p === "" || /[#+]/.test(p))
    throw new Error(`bad topic prefix ${JSON.stringify(prefix)} (no wildcards)`);
  return p;
}

export function provenanceTopic(prefix: string, machineId: string): string {
  return `${prefix}/provenance/${machineId}`;
}

export function machinesTopic(prefix: string, machineId?: string): string {
  return machineId === undefined ? `${prefix}/machines` : `${prefix}/machines/${machineId}`;
}

/** The subscriptions: provenance (shared in a group: `$share/GROUP/…`), and the announcements. */
export function subscriptions(prefix: string, group?: string): { provenance: string; machines: string[] } {
  const provenance = `${prefix}/provenance/+`;
  return {
    provenance: group === undefined ? provenance : `$share/${group}/${provenance}`,
    machines: [machinesTopic(prefix), `${prefix}/machines/+`],
  };
}

export type TopicKind =
  | { kind: "provenance"; machineId: string }
  | { kind: "machines"; machineId: string | null }
  | { kind: "other" };

export function classifyTopic(prefix: string, topic: string): TopicKind {
  if (topic.startsWith(`${prefix}/provenance/`)) {
    const id = topic.slice(prefix.length + 12);
    if (id !== "" && !id.includes("/")) return { kind: "provenance", machineId: id };
  }
  if (topic === `${prefix}/machines`) return { kind: "machines", machineId: null };
  if (topic.startsWith(`${prefix}/machines/`)) {
    const id = topic.slice(prefix.length + 10);
    if (id !== "" && !id.includes("/")) return { kind: "machines", machineId: id };
  }
  return { kind: "other" };
}

/** The machine id an announcement's payload names (plain id, JSON with machine_id, or a CamFlow machine record). */
export function announcedMachine(text: string): string | null {
  const t = text.trim();
  if (/^[\w.:-]{1,128}$/.test(t)) return t;
  const m =
    /"(?:cf:)?machine_id"\s*:\s*"?(?:cf:)?([\w.:-]+)/.exec(t) ??
    /"\[machine\] (\d+)"/.exec(t) ??
    /"(?:cf:)?(?:machine|id)"\s*:\s*"?(\d+)/.exec(t);
  return m?.[1] ?? null;
}
