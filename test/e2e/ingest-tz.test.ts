import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, ROOT, runCli, tempDir } from "../helpers/cli.js";

/**
 * `provflow ingest --tz ZONE`: logs that print the capture machine's local time without a zone
 * (strace -tt, Process Monitor's CSV) give the same UTC times as the log in UTC. The local logs are
 * written by Python's zoneinfo from UTC times: the oracle is the system's tz database.
 */

const hasZoneinfo =
  spawnSync("python3", ["-c", "from zoneinfo import ZoneInfo; ZoneInfo('Europe/Paris')"]).status === 0;
if (process.env.CI === "true" && !hasZoneinfo)
  throw new Error("the --tz tests need python3 with the tz database");

/** Python: UTC µs → local "HH:MM:SS.ffffff" of a zone, one per line */
const TO_LOCAL = `
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
z = ZoneInfo(sys.argv[1])
for line in sys.stdin:
    us = int(line)
    t = datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).astimezone(z)
    print(t.strftime("%H:%M:%S") + ".%06d" % (us % 1_000_000) + " " + t.strftime("%Y-%m-%d %I:%M:%S %p"))
`;

function toLocal(zone: string, utcUs: number[]): { tod: string; procmon: string }[] {
  const r = spawnSync("python3", ["-c", TO_LOCAL, zone], {
    input: `${utcUs.join("\n")}\n`,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`zoneinfo failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => {
      const [tod, ...rest] = l.split(" ");
      return { tod: tod!, procmon: rest.join(" ") };
    });
}

const TOD_RE = /^(\d+\s+)(\d\d):(\d\d):(\d\d)\.(\d{6})/;

function ingest(db: string, name: string, file: string, ...opts: string[]) {
  const r = runCli(["ingest", "--db", db, "-q", "--name", name, ...opts, file]);
  expect(r.status, r.stderr).toBe(0);
}

/** a run's record (times in µs) by its name */
function runNamed(db: string, name: string): { name: string; start: number; end: number } {
  const runs = JSON.parse(runCli(["runs", "--db", db, "--json"]).stdout) as {
    name: string;
    start: number;
    end: number;
  }[];
  const run = runs.find((r) => r.name === name);
  if (run === undefined) throw new Error(`no run named ${name}`);
  return run;
}

function calls(db: string, name: string): string {
  const r = runCli(["calls", "--db", db, "--json", name]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe.runIf(hasZoneinfo)("ingest --tz", () => {
  const dir = tempDir("provflow-tz-");
  const db = join(dir, "tz.db");

  it("strace -tt in Paris's local time across the night its clock goes back gives the UTC log's times", () => {
    // the fidelity workload's log (0.32 s), moved to start 0.1 s before 01:00:00 UTC on 2026-10-25,
    // when Paris goes from 02:59:59 CEST back to 02:00:00 CET
    const lines = readFileSync(join(ROOT, "test/fixtures/fidelity/jobs/full.strace"), "utf8").split("\n");
    const tod = (l: string) => {
      const m = TOD_RE.exec(l);
      return m ? ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1_000_000 + Number(m[5]) : null;
    };
    const first = tod(lines[0]!)!;
    const start = Date.UTC(2026, 9, 25, 0, 59, 59, 900) * 1000;
    const utc = lines.map((l) => {
      const t = tod(l);
      return t === null ? null : start + (t - first);
    });
    const stamps = utc.filter((t): t is number => t !== null);
    const local = toLocal("Europe/Paris", stamps);
    let k = 0;
    const utcLog: string[] = [];
    const localLog: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const t = utc[i];
      if (t === null || t === undefined) {
        utcLog.push(lines[i]!);
        localLog.push(lines[i]!);
        continue;
      }
      const iso = new Date(Math.floor(t / 1000)).toISOString().slice(11, 19);
      utcLog.push(lines[i]!.replace(TOD_RE, `$1${iso}.${String(t % 1_000_000).padStart(6, "0")}`));
      localLog.push(lines[i]!.replace(TOD_RE, `$1${local[k++]!.tod}`));
    }
    // the local log does go back an hour
    expect(localLog[0]).toMatch(/^\d+\s+02:59:59\.9/);
    expect(localLog.some((l) => /^\d+\s+02:00:00\./.test(l))).toBe(true);
    writeFileSync(join(dir, "utc.strace"), utcLog.join("\n"));
    writeFileSync(join(dir, "paris.strace"), localLog.join("\n"));
    ingest(db, "utc", join(dir, "utc.strace"), "--date", "2026-10-25");
    ingest(db, "paris", join(dir, "paris.strace"), "--date", "2026-10-25", "--tz", "Europe/Paris");
    ingest(db, "paris-as-utc", join(dir, "paris.strace"), "--date", "2026-10-25");
    const want = calls(db, "utc");
    expect(want).toContain('"start":"2026-10-25T00:59:59.900');
    expect(want).toContain('"start":"2026-10-25T01:00:00.');
    expect(calls(db, "paris")).toBe(want);
    // without --tz the local times are read as UTC: two hours off, then an hour
    expect(calls(db, "paris-as-utc")).not.toBe(want);
    expect(calls(db, "paris-as-utc")).toContain('"start":"2026-10-25T02:59:59.900');
  });

  it("Process Monitor's CSV, exported in New York, gives zoneinfo's UTC times", () => {
    const csv = join(CORPUS, "windows/procmon-parser/sample-Tests64bitUTC-selected-ops.csv");
    ingest(db, "procmon-local", csv);
    ingest(db, "procmon-ny", csv, "--tz", "America/New_York");
    const local = runNamed(db, "procmon-local");
    const ny = runNamed(db, "procmon-ny");
    // the times read as UTC are New York's wall clock: zoneinfo says when that was
    const r = spawnSync(
      "python3",
      [
        "-c",
        "import sys; from datetime import datetime, timezone; from zoneinfo import ZoneInfo\n" +
          "for a in sys.argv[1:]:\n" +
          "    us = int(a); t = datetime.fromtimestamp(us // 1000000, tz=timezone.utc).replace(tzinfo=ZoneInfo('America/New_York'))\n" +
          "    print(int(t.timestamp()) * 1000000 + us % 1000000)",
        String(local.start),
        String(local.end),
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").map(Number)).toEqual([ny.start, ny.end]);
    expect(ny.start - local.start).toBe(4 * 3600_000_000); // EDT in July
  });

  it("Process Monitor's XML too: every time moves by the zone's offset (Berlin, in winter or summer)", () => {
    const xml = join(CORPUS, "windows/spade-procmon/Logfile.XML.gz");
    ingest(db, "xml-local", xml);
    ingest(db, "xml-berlin", xml, "--tz", "Europe/Berlin");
    const local = runNamed(db, "xml-local");
    const berlin = runNamed(db, "xml-berlin");
    const shift = local.start - berlin.start;
    expect([3600_000_000, 7200_000_000]).toContain(shift);
    const stamps = (name: string) =>
      (JSON.parse(calls(db, name)) as { start: string }[]).map((c) => Date.parse(c.start));
    const a = stamps("xml-local");
    const b = stamps("xml-berlin");
    expect(b).toHaveLength(a.length);
    expect(b.every((t, i) => a[i]! - t === shift / 1000)).toBe(true);
  });

  it("refuses an unknown zone with exit 2 and says what it wants", () => {
    const r = runCli(["ingest", "--db", db, "-q", "--tz", "Mars/Olympus", join(dir, "utc.strace")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--tz: unknown time zone "Mars\/Olympus"/);
  });
});
