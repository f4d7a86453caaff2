import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { measure, row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
const OUT = "/tmp/provflow-bench";
/** the launcher users run (bin/provflow) */
const CLI = resolve(import.meta.dirname, "../bin/provflow");

/** Replay throughput: a ≥150 MB strace -o log parsed into the SQLite store, end to end. */
export function replayBench(): string[] {
  mkdirSync(OUT, { recursive: true });
  const inputs = [
    { name: "big-make.strace", src: join(SHARED, "corpus/strace-local/make.strace") },
    { name: "big-gitlab.strace", src: join(SHARED, "corpus/strace/gitlab-strace-parser/bench_data.strace") },
  ];
  const lines = [
    "### Replay: strace log → SQLite store (`provflow ingest`)",
    "",
    row([
      "input",
      "MB",
      "wall s",
      "MB/s",
      "peak RSS MB",
      "peer (strace-process-tree, measured here earlier)",
      "ratio",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---"]),
  ];
  for (const input of inputs) {
    const log = join(OUT, input.name);
    if (!existsSync(log)) {
      const r = spawnSync("python3", [join(SHARED, "bench/replicate-strace.py"), input.src, log, "150"], {
        stdio: "inherit",
      });
      if (r.status !== 0) throw new Error(`could not build ${log}`);
    }
    const mb = statSync(log).size / 1e6;
    const db = join(OUT, "replay.db");
    rmSync(db, { force: true });
    rmSync(`${db}-wal`, { force: true });
    const m = measure([CLI, "ingest", "--db", db, "-q", log]);
    if (m.status !== 0) throw new Error(`provflow ingest failed on ${log}`);
    const rate = mb / m.wallS;
    // strace-process-tree (pure Python) was measured on this machine at 17–33 MB/s on the same inputs
    // (research/strace-tools.md §6); it is not packaged for Debian and PyPI is out of reach here.
    lines.push(
      row([
        input.name,
        mb.toFixed(1),
        m.wallS.toFixed(2),
        rate.toFixed(1),
        m.peakRssMb.toFixed(0),
        "17–33 MB/s",
        `${(rate / 33).toFixed(1)}–${(rate / 17).toFixed(1)}×`,
      ]),
    );
    rmSync(db, { force: true });
  }
  return lines;
}
