import { execSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { planTracer } from "../src/capture/tracer-command.js";
import { have, measure, median, row } from "./bench-util.js";

const OUT = "/tmp/provflow-bench";
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

interface Workload {
  name: string;
  cwd: string;
  command: string[];
  reset: () => void;
}

function cBuild(): Workload {
  const dir = join(OUT, "cbuild");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const n = 48;
  for (let i = 0; i < n; i++) {
    writeFileSync(
      join(dir, `f${i}.c`),
      `#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\nint f${i}(int x) { char b[64]; snprintf(b, sizeof b, "%d", x * ${i}); return (int)strlen(b) + atoi(b); }\n`,
    );
  }
  writeFileSync(join(dir, "main.c"), `int f0(int);\nint main(void) { return f0(1) > 100; }\n`);
  const objs = Array.from({ length: n }, (_, i) => `f${i}.o`).join(" ");
  writeFileSync(
    join(dir, "Makefile"),
    `all: prog\nprog: main.o ${objs}\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -O1 -c -o $@ $<\nclean:\n\trm -f prog *.o\n`,
  );
  return {
    name: "make -j2 (49 C files)",
    cwd: dir,
    command: ["make", "-s", "-j2"],
    reset: () => execSync("make -s clean", { cwd: dir }),
  };
}

function gitCommit(): Workload {
  const dir = join(OUT, "gitwork");
  const setup = () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(dir, `file${i}.txt`), `line ${i}\n`.repeat(50));
    execSync("git init -q && git config user.email b@example.org && git config user.name bench", {
      cwd: dir,
    });
  };
  setup();
  return {
    name: "git add + commit (300 files)",
    cwd: dir,
    command: ["sh", "-c", "git add -A && git commit -q -m bench"],
    reset: setup,
  };
}

/** Tracing overhead: provflow trace against plain strace with the same options, and ReproZip. */
export function traceOverheadBench(): string[] {
  mkdirSync(OUT, { recursive: true });
  const lines = [
    `### Tracing overhead (median of ${REPEAT} runs, wall seconds)`,
    "",
    row([
      "workload",
      "untraced",
      "strace -o (same options)",
      "provflow trace",
      "provflow / strace",
      "reprozip trace",
      "reprozip / strace",
      "provflow peak RSS MB",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---", "---"]),
  ];
  for (const w of [cBuild(), gitCommit()]) {
    const times: Record<string, number[]> = { plain: [], strace: [], provflow: [], reprozip: [] };
    let rss = 0;
    let rzOk = have("reprozip");
    for (let i = 0; i < REPEAT; i++) {
      w.reset();
      times.plain!.push(measure(w.command, { cwd: w.cwd }).wallS);
      w.reset();
      const log = join(OUT, "overhead.strace");
      const plan = planTracer({ tracer: "strace", log, command: w.command, pid: null });
      times.strace!.push(measure(plan.argv, { cwd: w.cwd }).wallS);
      w.reset();
      const db = join(OUT, "overhead.db");
      rmSync(db, { force: true });
      const m = measure(["node", CLI, "trace", "--db", db, "-q", "--", ...w.command], { cwd: w.cwd });
      if (m.status !== 0) throw new Error(`provflow trace failed on ${w.name}`);
      times.provflow!.push(m.wallS);
      rss = Math.max(rss, m.peakRssMb);
      if (rzOk) {
        w.reset();
        const rzDir = join(OUT, "rz");
        rmSync(rzDir, { recursive: true, force: true });
        // ReproZip can hang after its tracer crashes (clone3): timeout kills its whole process group
        const r = measure(
          [
            "timeout",
            "-s",
            "KILL",
            "120",
            "reprozip",
            "trace",
            "--dont-identify-packages",
            "-d",
            rzDir,
            ...w.command,
          ],
          {
            cwd: w.cwd,
          },
        );
        if (r.status !== 0) rzOk = false;
        else times.reprozip!.push(r.wallS);
      }
    }
    const s = median(times.strace!);
    const p = median(times.provflow!);
    const rz = rzOk && times.reprozip!.length ? median(times.reprozip!) : null;
    lines.push(
      row([
        w.name,
        median(times.plain!).toFixed(2),
        s.toFixed(2),
        p.toFixed(2),
        (p / s).toFixed(2),
        rz === null ? "failed (crashed or hung; clone3)" : rz.toFixed(2),
        rz === null ? "–" : (rz / s).toFixed(2),
        rss.toFixed(0),
      ]),
    );
  }
  return lines;
}
