import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { have, type Measured, measure, median, row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
const OUT = "/tmp/provflow-bench";
/** the launcher users run (bin/provflow: node with the flags provflow is meant to run with) */
const CLI = resolve(import.meta.dirname, "../bin/provflow");

/** laurel-style JSON lines from a big raw audit log: provflow against laurel 0.5.1, same input, same run. */
export function auditLaurelBench(): string[] {
  mkdirSync(join(OUT, "laurel-work"), { recursive: true });
  const log = join(OUT, "big-audit-mixed.log");
  if (!existsSync(log)) {
    const r = spawnSync("bash", [join(SHARED, "bench/make-big-audit.sh"), "300", log, "mixed"], {
      stdio: "inherit",
    });
    if (r.status !== 0) throw new Error(`could not build ${log}`);
  }
  const mb = statSync(log).size / 1e6;
  const ids = spawnSync("sh", ["-c", `grep -oE 'msg=audit\\([0-9.]+:[0-9]+\\)' ${log} | sort -u | wc -l`], {
    encoding: "utf8",
  });
  const events = Number(ids.stdout.trim());
  const lines = [
    "### Audit log → laurel-style JSON lines (`provflow audit ingest --format laurel`)",
    "",
    row([
      "tool",
      "input MB",
      "events",
      "wall s",
      "events/s",
      "MB/s",
      "peak RSS MB",
      "provflow / laurel (events/s)",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---", "---"]),
  ];
  const sh = (cmd: string) => ["sh", "-c", cmd];
  // runs alternate (provflow, laurel, provflow, …) so that both see the same load; medians are kept
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
  const withLaurel = have("laurel");
  const oursRuns: Measured[] = [];
  const theirRuns: Measured[] = [];
  for (let k = 0; k < repeat; k++) {
    oursRuns.push(measure(sh(`${CLI} audit ingest --format laurel -q ${log} > /dev/null`)));
    if (withLaurel)
      theirRuns.push(
        measure(
          sh(
            `laurel -c ${join(SHARED, "bench/laurel/offline-deterministic.toml")} < ${log} > /dev/null 2>&1`,
          ),
        ),
      );
  }
  const med = (runs: Measured[]): Measured => ({
    wallS: median(runs.map((r) => r.wallS)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    status: runs.find((r) => r.status !== 0)?.status ?? 0,
  });
  const ours = med(oursRuns);
  const theirs = withLaurel ? med(theirRuns) : null;
  const rate = (m: Measured) => events / m.wallS;
  if (theirs) {
    lines.push(
      row([
        "laurel 0.5.1 (deterministic config)",
        mb.toFixed(0),
        events,
        theirs.wallS.toFixed(2),
        rate(theirs).toFixed(0),
        (mb / theirs.wallS).toFixed(1),
        theirs.peakRssMb.toFixed(0),
        "1.00",
      ]),
    );
  }
  lines.push(
    row([
      "provflow",
      mb.toFixed(0),
      events,
      ours.wallS.toFixed(2),
      rate(ours).toFixed(0),
      (mb / ours.wallS).toFixed(1),
      ours.peakRssMb.toFixed(0),
      theirs ? (rate(ours) / rate(theirs)).toFixed(2) : "laurel not installed",
    ]),
  );
  lines.push(
    "",
    `Median wall time of ${repeat} alternating runs each (BENCH_REPEAT), highest peak RSS of those runs.`,
  );
  return lines;
}
