import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { checkTimeZone, localToUtcConverter } from "../src/util/time-zone.js";

/**
 * Local wall-clock times of a capture machine turned into UTC (`ingest --tz`), held against
 * Python's zoneinfo (the system's tz database) on times around every 2026 change of a few zones,
 * including half-hour and 45-minute offsets and a zone whose change is half an hour.
 */

const ZONES = [
  "Europe/Paris",
  "America/New_York",
  "Australia/Lord_Howe",
  "Asia/Kolkata",
  "Pacific/Chatham",
  "America/Sao_Paulo",
];

/** zoneinfo's UTC µs for local times (µs, read as if UTC), with fold=0 and fold=1 */
const ORACLE = `
import json, sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
q = json.loads(sys.stdin.read())
out = {}
for zone, locals_ in q.items():
    z = ZoneInfo(zone)
    rows = []
    for us in locals_:
        naive = datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).replace(tzinfo=None)
        r = []
        for fold in (0, 1):
            t = naive.replace(tzinfo=z, fold=fold)
            r.append(int(t.timestamp()) * 1_000_000 + us % 1_000_000)
        rows.append(r)
    out[zone] = rows
print(json.dumps(out))
`;

function oracle(q: Record<string, number[]>): Record<string, [number, number][]> {
  const r = spawnSync("python3", ["-c", ORACLE], {
    input: JSON.stringify(q),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`zoneinfo oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, [number, number][]>;
}

const MIN = 60_000_000;
const DAY = 86_400_000_000;
const Y2026 = Date.UTC(2026, 0, 1) * 1000;

/** every 10 minutes (+ 7 µs) of 2026's days around a change, and noon of every day of the year */
function localTimes(changes: number[]): number[] {
  const out: number[] = [];
  for (let d = 0; d < 365; d++) out.push(Y2026 + d * DAY + 12 * 60 * MIN + 123_456);
  for (const c of changes)
    for (let t = c - 6 * 60 * MIN; t <= c + 6 * 60 * MIN; t += 10 * MIN) out.push(t + 7);
  return out;
}

/** the days of 2026 whose noon offsets differ from the day before's, as local midnights */
function changeDays(zone: string): number[] {
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
  const out: number[] = [];
  let prev = "";
  for (let d = 0; d < 366; d++) {
    const off = fmt.format(new Date(Date.UTC(2026, 0, 1, 12) + d * 86_400_000));
    if (prev !== "" && off !== prev) out.push(Y2026 + (d - 1) * DAY + DAY / 2, Y2026 + d * DAY);
    prev = off;
  }
  return out;
}

describe("local times to UTC (--tz)", () => {
  it("gives zoneinfo's answer (fold=0) for every time tried, changes included", () => {
    const q: Record<string, number[]> = {};
    for (const z of ZONES) q[z] = localTimes(changeDays(z));
    const want = oracle(q);
    let repeated = 0;
    for (const z of ZONES) {
      const toUtc = localToUtcConverter(z);
      const got = q[z]!.map((t) => toUtc(t));
      expect(got, z).toEqual(want[z]!.map((r) => r[0]));
      repeated += want[z]!.filter((r) => r[0] !== r[1]).length;
    }
    // the tries did go through repeated and skipped hours
    expect(repeated).toBeGreaterThan(10);
  });

  it("keeps a log going forward through the hour a clock is set back", () => {
    // Paris, 2026-10-25: 03:00 CEST becomes 02:00 CET; a log at 02:50, 02:59, then 02:05, 02:40, 03:10
    const at = (h: number, m: number) => Date.UTC(2026, 9, 25, h, m) * 1000;
    const local = [at(2, 50), at(2, 59), at(2, 5), at(2, 40), at(3, 10)];
    const want = oracle({ "Europe/Paris": local })["Europe/Paris"]!;
    const toUtc = localToUtcConverter("Europe/Paris");
    const got: number[] = [];
    let last: number | undefined;
    for (const t of local) {
      last = toUtc(t, last);
      got.push(last);
    }
    expect(got).toEqual([want[0]![0], want[1]![0], want[2]![1], want[3]![1], want[4]![0]]);
    for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    // without the log's previous time, the first reading
    expect(toUtc(at(2, 5))).toBe(want[2]![0]);
  });

  it("takes fixed offsets and UTC, and refuses what is not a zone", () => {
    const t = Date.UTC(2026, 5, 1, 12, 0, 0) * 1000 + 5;
    expect(localToUtcConverter("+02:00")(t)).toBe(t - 120 * MIN);
    expect(localToUtcConverter("UTC-5")(t)).toBe(t + 300 * MIN);
    expect(localToUtcConverter("+0530")(t)).toBe(t - 330 * MIN);
    expect(localToUtcConverter("UTC")(t)).toBe(t);
    expect(checkTimeZone("utc")).toBe("UTC");
    expect(checkTimeZone("UTC+2")).toBe("+02:00");
    expect(checkTimeZone("europe/paris")).toBe("Europe/Paris");
    expect(() => checkTimeZone("Mars/Olympus")).toThrow(/unknown time zone "Mars\/Olympus"/);
    expect(() => checkTimeZone("+15:00")).toThrow(RangeError);
  });
});
