/**
 * Wall-clock times of a capture machine (strace -t/-tt, ltrace -tt, Process Monitor's CSV and XML
 * exports print local time without a zone) turned into UTC: `ingest --tz ZONE` names the capture
 * machine's zone, an IANA name (`Europe/Paris`) or a fixed offset (`+02:00`, `UTC-5`).
 *
 * A local time that happens twice (the hour a clock is set back) is read as the first of the two
 * unless the log has already passed it; one that never happens (the hour a clock skips) as if the
 * clock had not moved yet, as Python's zoneinfo does with fold=0.
 */

/**
 * Converts local wall-clock µs (read as if UTC) to UTC µs since the epoch. A repeated local time
 * is read as its first occurrence, unless that would put it more than a minute before `lastUtcUs`
 * (the log's previous time): a log going through the hour a clock is set back keeps going forward.
 */
export type LocalToUtc = (localUs: number, lastUtcUs?: number) => number;

const HOUR_US = 3_600_000_000;
const OFFSET_RE = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i;

/** A zone name that `localToUtcConverter` takes, or a RangeError saying what is wrong with it. */
export function checkTimeZone(tz: string): string {
  const t = tz.trim();
  if (/^(?:UTC|GMT|Z)$/i.test(t)) return "UTC";
  const m = OFFSET_RE.exec(t);
  if (m) {
    const h = Number(m[2]);
    const min = Number(m[3] ?? 0);
    if (h > 14 || min > 59)
      throw new RangeError(`time zone ${JSON.stringify(tz)}: an offset is at most ±14:00`);
    return `${m[1]}${String(h).padStart(2, "0")}:${String(min).padStart(2, "0")}`;
  }
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: t }).resolvedOptions().timeZone;
  } catch {
    throw new RangeError(
      `unknown time zone ${JSON.stringify(tz)}: give an IANA name (Europe/Paris, America/New_York) or an offset (+02:00, UTC-5)`,
    );
  }
}

/** The converter for a zone checked by `checkTimeZone`; the identity for UTC. */
export function localToUtcConverter(zone: string): LocalToUtc {
  const tz = checkTimeZone(zone);
  if (tz === "UTC") return (us) => us;
  const m = OFFSET_RE.exec(tz);
  if (m) {
    const offsetUs = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000_000;
    return (us) => us - offsetUs;
  }
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  /** the zone's offset (µs) at a UTC instant (ms), to the second */
  const offsetAt = (utcMs: number): number => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(new Date(utcMs)))
      if (part.type !== "literal") p[part.type] = Number(part.value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    const whole = Math.floor(utcMs / 1000) * 1000;
    return (wall - whole) * 1000;
  };
  /** the offsets under which this local time happens: one, two (a repeated time), none (skipped) */
  const valid = (localUs: number): { offsets: number[]; before: number } => {
    const localMs = Math.floor(localUs / 1000);
    // the offsets before and after any change near this local time (zones move by under a day)
    const before = offsetAt(localMs - 86_400_000);
    const after = offsetAt(localMs + 86_400_000);
    const offsets: number[] = [];
    for (const off of before === after ? [before] : [before, after])
      if (offsetAt(Math.floor((localUs - off) / 1000)) === off) offsets.push(off);
    return { offsets, before };
  };
  // one offset per local hour when the whole hour has it, unambiguously (offsets change at most once
  // an hour); else the hour's times are looked at one by one
  const cache = new Map<number, number | null>();
  return (localUs: number, lastUtcUs?: number): number => {
    const hour = Math.floor(localUs / HOUR_US);
    let off = cache.get(hour);
    if (off === undefined) {
      const a = valid(hour * HOUR_US).offsets;
      const b = valid(hour * HOUR_US + HOUR_US - 1).offsets;
      off = a.length === 1 && b.length === 1 && a[0] === b[0] ? a[0]! : null;
      if (cache.size > 100_000) cache.clear();
      cache.set(hour, off);
    }
    if (off !== null) return localUs - off;
    const v = valid(localUs);
    // skipped: as if the clock had not moved yet
    if (v.offsets.length === 0) return localUs - v.before;
    // repeated: the first reading, unless the log's time would then go back (more than a minute)
    const times = v.offsets.map((o) => localUs - o).sort((x, y) => x - y);
    if (lastUtcUs !== undefined) for (const t of times) if (t >= lastUtcUs - 60_000_000) return t;
    return times[0]!;
  };
}
