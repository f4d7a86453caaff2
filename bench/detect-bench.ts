import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Confusion, crossValidate, scores } from "../src/detect/detect-evaluation.js";
import { detectProfile, resolveSketchConfig, trainModel } from "../src/detect/detect-model.js";
import { runIngest } from "../src/ingest/run-ingest.js";
import { openStore } from "../src/store/open-store.js";
import { measure, row } from "./bench-util.js";
import { ingestFixtures, labelledProfiles, readFixtureLabels, storedProfile } from "./detect-fixtures.js";

const ROOT = resolve(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "test/fixtures/detect");
const FRAP = resolve(ROOT, "../shared/corpus/camflow/frap-dataset");

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

function emptyConfusion(): Confusion {
  return { tp: 0, fp: 0, tn: 0, fn: 0 };
}

function tally(c: Confusion, attack: boolean, flagged: boolean): void {
  if (attack) flagged ? c.tp++ : c.fn++;
  else flagged ? c.fp++ : c.tn++;
}

function confusionRow(what: string, detector: string, c: Confusion): string {
  const s = scores(c);
  return row([
    what,
    detector,
    s.tp,
    s.fp,
    s.tn,
    s.fn,
    s.precision.toFixed(2),
    s.recall.toFixed(2),
    pct(s.fpr),
  ]);
}

const HEAD = [
  "| set | detector | TP | FP | TN | FN | precision | recall | FPR |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];

/**
 * Detection (issue 8): precision, recall and false-positive rate per detector on held-out splits of
 * the labelled captures (test/fixtures/detect, scripts/capture-detect-fixtures.sh) and on the FRAP
 * CamFlow pairs, then the stream detector's throughput and memory for a few configurations. No
 * detector of the papers runs here (StreamSpot's and Unicorn's code and data are not on this
 * machine): their published figures are quoted beside ours, on their own data.
 */
export async function detectBench(): Promise<string[]> {
  const lines = ["### Detection: held-out precision, recall and false-positive rate (`provflow detect`)", ""];
  const dir = mkdtempSync(join(tmpdir(), "pf-detect-bench-"));
  const store = openStore(join(dir, "detect.db"));
  try {
    const labels = readFixtureLabels(FIXTURES);
    const ids = await ingestFixtures(store, FIXTURES, labels);
    const config = resolveSketchConfig({});
    lines.push(...HEAD);
    for (const source of ["strace", "audit"] as const) {
      const ls = labels.filter((l) => l.source === source);
      const lp = await labelledProfiles(store, ls, ids, { config, window: 0 });
      const benign = ls.filter((l) => l.label === "benign").length;
      const what = `${source}: ${benign} benign, ${ls.length - benign} attack runs, 2 folds`;
      const { verdicts } = crossValidate(lp, 2, { config, window: 0 });
      lines.push(confusionRow(what, "behaviour", verdicts.behaviour));
      lines.push(confusionRow(what, "sketch", verdicts.sketch));
      lines.push(confusionRow(what, "either", verdicts.either));
    }
    // a fresh capture, made now by the same script: every run of it is held out (the model learns all
    // the committed benign runs); root, the servers and the tools are needed, else it is left out
    const fresh = join(dir, "fresh");
    const cap = spawnSync("bash", [join(ROOT, "scripts/capture-detect-fixtures.sh"), "2"], {
      env: { ...process.env, PF_DETECT_OUT: fresh },
      stdio: "ignore",
      timeout: 600_000,
    });
    const wrongFresh: string[] = [];
    if (cap.status === 0) {
      const freshLabels = readFixtureLabels(fresh);
      const freshIds = await ingestFixtures(
        store,
        fresh,
        freshLabels.map((l) => ({ ...l })),
        "fresh-",
      );
      for (const source of ["strace", "audit"] as const) {
        const train = await labelledProfiles(
          store,
          labels.filter((l) => l.source === source && l.label === "benign"),
          ids,
          { config, window: 0 },
        );
        const model = trainModel(
          train.map((t) => t.profile),
          { config, window: 0 },
        );
        const ls = freshLabels.filter((l) => l.source === source);
        const test = await labelledProfiles(store, ls, freshIds, { config, window: 0 });
        const c = { behaviour: emptyConfusion(), sketch: emptyConfusion(), either: emptyConfusion() };
        for (const t of test) {
          const rep = detectProfile(model, t.profile, null);
          tally(c.behaviour, t.label === "attack", rep.detectors.behaviour.flagged);
          tally(c.sketch, t.label === "attack", rep.detectors.sketch.flagged);
          tally(c.either, t.label === "attack", rep.flagged);
          if ((t.label === "attack") !== rep.detectors.sketch.flagged)
            wrongFresh.push(
              `${t.profile.name} (${t.label}, sketch ${rep.detectors.sketch.score.toFixed(2)})`,
            );
          if ((t.label === "attack") !== rep.detectors.behaviour.flagged)
            wrongFresh.push(`${t.profile.name} (${t.label}, behaviour ${rep.detectors.behaviour.score})`);
        }
        const benign = ls.filter((l) => l.label === "benign").length;
        const what = `${source}, fresh capture: ${benign} benign, ${ls.length - benign} attack runs, all held out`;
        lines.push(confusionRow(what, "behaviour", c.behaviour));
        lines.push(confusionRow(what, "sketch", c.sketch));
        lines.push(confusionRow(what, "either", c.either));
      }
    } else
      lines.push(
        row([
          "fresh capture",
          "not made (needs root, the database servers and the tools)",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
        ]),
      );
    // the FRAP CamFlow pairs: trained on the normal runs, checked on the exploits and one held-out normal run
    const frap = async (name: string) =>
      (await runIngest({ store, files: [join(FRAP, `${name}.log`)], name, quiet: true })).runId;
    const train = ["mariadb-root-normal-99", "mysql-root-normal-100", "percona-root-normal-36"];
    const test = [
      ["mariadb-root-exploit-0", "attack"],
      ["mysql-root-exploit-0", "attack"],
      ["percona-root-exploit-0", "attack"],
      ["mysql-root-normal-101", "benign"],
    ] as const;
    const profiles = [];
    for (const n of train) profiles.push(await storedProfile(store, await frap(n), { config, window: 0 }));
    const model = trainModel(profiles, { config, window: 0 });
    const c = {
      behaviour: { tp: 0, fp: 0, tn: 0, fn: 0 },
      sketch: { tp: 0, fp: 0, tn: 0, fn: 0 },
      either: { tp: 0, fp: 0, tn: 0, fn: 0 },
    };
    const missed: string[] = [];
    for (const [n, label] of test) {
      const rep = detectProfile(
        model,
        await storedProfile(store, await frap(n), { config, window: 0 }),
        null,
      );
      for (const [k, flagged] of [
        ["behaviour", rep.detectors.behaviour.flagged],
        ["sketch", rep.detectors.sketch.flagged],
        ["either", rep.flagged],
      ] as const) {
        const cc = c[k];
        if (label === "attack") flagged ? cc.tp++ : cc.fn++;
        else flagged ? cc.fp++ : cc.tn++;
      }
      if ((label === "attack") !== rep.flagged) missed.push(`${n} (${label})`);
    }
    const what = "CamFlow FRAP: 3 normal for training; 3 exploits, 1 normal held out";
    lines.push(confusionRow(what, "behaviour", c.behaviour));
    lines.push(confusionRow(what, "sketch", c.sketch));
    lines.push(confusionRow(what, "either", c.either));
    lines.push(
      "",
      `Wrong on the fresh capture: ${wrongFresh.length > 0 ? wrongFresh.join(", ") : "none"}.`,
      "",
      `Wrong on FRAP: ${missed.length > 0 ? missed.join(", ") : "none"}.`,
      "",
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }

  lines.push(
    "### Detection on the stream: `StreamDetector` throughput and memory (the rows `provflow mqtt --detect` hands it)",
    "",
    `Load average before: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} (the machine is shared).`,
    "",
    "| relations (one machine) | sketch size | max nodes | window | relations/s | peak RSS MB | heap retained MB | peer: StreamSpot (paper) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  const script = join(ROOT, "bench/detect-stream-run.ts");
  for (const [repeats, size, maxNodes, window] of [
    [40, 1024, 10_000, 2000],
    [40, 1024, 1_000_000, 2000],
    [200, 1024, 10_000, 2000],
    [200, 256, 10_000, 2000],
  ] as const) {
    let out = "";
    const m = measure([
      "sh",
      "-c",
      `node --expose-gc --import tsx ${script} ${repeats} ${size} ${maxNodes} ${window} > ${dir}.out`,
    ]);
    try {
      out = (await import("node:fs")).readFileSync(`${dir}.out`, "utf8");
    } catch {
      out = "";
    }
    rmSync(`${dir}.out`, { force: true });
    const r = out ? (JSON.parse(out) as { relations: number; rate: number; retainedMb: number }) : null;
    lines.push(
      row([
        (repeats * 5750).toLocaleString("en-US"),
        size,
        maxNodes.toLocaleString("en-US"),
        window,
        r ? Math.round(r.rate).toLocaleString("en-US") : "failed",
        m.peakRssMb.toFixed(0),
        r ? r.retainedMb.toFixed(0) : "-",
        "> 10,000 edges/s (2.1 GHz Xeon), 250 MB for 25M edges",
      ]),
    );
  }
  return lines;
}
