import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { LabelledProfile } from "../src/detect/detect-evaluation.js";
import { profileRun, type RunProfile, runTriples } from "../src/detect/detect-model.js";
import type { SketchConfig } from "../src/detect/graph-sketch.js";
import { runIngest } from "../src/ingest/run-ingest.js";
import type { GraphStore } from "../src/store/store-types.js";

/**
 * The labelled detection set under test/fixtures/detect/ (scripts/capture-detect-fixtures.sh):
 * `labels.tsv` (name, source, label, workload, technique) and the captured logs, gzipped, in
 * `strace/NAME.log.gz` and `audit/NAME.log.gz`. Shared by the tests and bench/detect-bench.ts.
 */

export interface FixtureLabel {
  name: string;
  source: "strace" | "audit";
  label: "benign" | "attack";
  workload: string;
  technique: string;
}

export function readFixtureLabels(dir: string): FixtureLabel[] {
  const lines = readFileSync(join(dir, "labels.tsv"), "utf8").split("\n").slice(1);
  const out: FixtureLabel[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const [name, source, label, workload, technique] = line.split("\t");
    if (!name || (source !== "strace" && source !== "audit") || (label !== "benign" && label !== "attack"))
      throw new SyntaxError(`${join(dir, "labels.tsv")}: bad line ${JSON.stringify(line)}`);
    out.push({ name, source, label, workload: workload ?? "", technique: technique ?? "" });
  }
  return out;
}

/** Ingests the fixtures of the given labels into the store (decompressed one by one); run ids by name. */
export async function ingestFixtures(
  store: GraphStore,
  dir: string,
  labels: readonly FixtureLabel[],
  /** prefix of the run names (a second set beside the first) */
  prefix = "",
): Promise<Map<string, number>> {
  const tmp = mkdtempSync(join(tmpdir(), "pf-detect-fix-"));
  const ids = new Map<string, number>();
  try {
    const present = new Set(readdirSync(join(dir, "strace")).concat(readdirSync(join(dir, "audit"))));
    for (const l of labels) {
      const gz = `${l.name}.log.gz`;
      if (!present.has(gz)) throw new Error(`fixture ${l.source}/${gz} is missing`);
      const file = join(tmp, `${l.name}.log`);
      writeFileSync(file, gunzipSync(readFileSync(join(dir, l.source, gz))));
      const { runId } = await runIngest({
        store,
        files: [file],
        name: prefix + l.name,
        quiet: true,
        kind: l.source,
      });
      ids.set(l.name, runId);
      rmSync(file);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return ids;
}

/** A stored run's profile. */
export async function storedProfile(
  store: GraphStore,
  runId: number,
  opts: { config: SketchConfig; window: number },
): Promise<RunProfile> {
  const run = await store.findRun(runId);
  if (!run) throw new Error(`no run ${runId}`);
  const [nodes, edges] = await Promise.all([store.getNodes(runId), store.getEdges(runId)]);
  const { triples, dangling } = runTriples(nodes, edges);
  return profileRun(run.name, triples, { ...opts, cwd: run.cwd, dangling });
}

/** The fixtures as labelled profiles, ready for crossValidate. */
export async function labelledProfiles(
  store: GraphStore,
  labels: readonly FixtureLabel[],
  ids: ReadonlyMap<string, number>,
  opts: { config: SketchConfig; window: number },
): Promise<LabelledProfile[]> {
  const out: LabelledProfile[] = [];
  for (const l of labels) {
    const id = ids.get(l.name);
    if (id === undefined) continue;
    out.push({ profile: await storedProfile(store, id, opts), label: l.label, workload: l.workload });
  }
  return out;
}
