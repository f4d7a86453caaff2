import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestFixtures, labelledProfiles, readFixtureLabels } from "../../bench/detect-fixtures.js";
import { crossValidate } from "../../src/detect/detect-evaluation.js";
import { resolveSketchConfig } from "../../src/detect/detect-model.js";
import type { DetectReport } from "../../src/detect/detect-types.js";
import { openStore } from "../../src/store/open-store.js";
import type { GraphStore } from "../../src/store/store-types.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

const FIXTURES = join(ROOT, "test/fixtures/detect");
const labels = readFixtureLabels(FIXTURES);

describe("detection on the labelled captures (held-out folds)", () => {
  let store: GraphStore;
  let ids: Map<string, number>;
  beforeAll(async () => {
    store = openStore(join(tempDir(), "fix.db"));
    ids = await ingestFixtures(store, FIXTURES, labels);
  }, 300_000);
  afterAll(async () => {
    await store?.close();
  });

  it("covers every ATT&CK behaviour of the brief, from strace and audit", () => {
    const attacks = labels.filter((l) => l.label === "attack");
    expect(new Set(attacks.map((l) => l.workload))).toEqual(
      new Set(["cred-access", "exfil", "ingress", "persistence", "discovery"]),
    );
    expect(new Set(labels.map((l) => l.source))).toEqual(new Set(["strace", "audit"]));
    expect(labels.filter((l) => l.label === "benign").length).toBeGreaterThanOrEqual(24);
  });

  for (const source of ["strace", "audit"] as const) {
    it(`${source}: every attack flagged and no held-out benign run flagged`, async () => {
      const config = resolveSketchConfig({});
      const lp = await labelledProfiles(
        store,
        labels.filter((l) => l.source === source),
        ids,
        { config, window: 0 },
      );
      const { verdicts, folds } = crossValidate(lp, 2, { config, window: 0 });
      const wrong = folds.flatMap((f) =>
        f.checked
          .filter((c) => (c.label === "attack") !== (c.behaviour || c.sketch))
          .map((c) => `${f.fold}:${c.name}`),
      );
      expect(wrong).toEqual([]);
      expect(verdicts.either.fp).toBe(0);
      expect(verdicts.either.fn).toBe(0);
      expect(verdicts.behaviour.tp).toBeGreaterThan(0);
      expect(verdicts.sketch.tp).toBeGreaterThan(0);
    });
  }
});

describe("provflow detect", () => {
  const dir = tempDir("provflow-detect-");
  const db = join(dir, "d.db");
  const model = join(dir, "model.json");
  const ingest = (name: string, source: string) => {
    const file = join(dir, `${name}.log`);
    writeFileSync(file, gunzipSync(readFileSync(join(FIXTURES, source, `${name}.log.gz`))));
    const r = runCli(["ingest", "--db", db, "-q", "--name", name, file]);
    expect(r.status, r.stderr).toBe(0);
  };
  beforeAll(() => {
    for (const n of ["strace-backup-1", "strace-backup-2", "strace-backup-3", "strace-exfil-0"])
      ingest(n, "strace");
  }, 120_000);

  it("trains a model, exits 0 on a normal run and 1 on an attack, with the evidence in --json", () => {
    const t = runCli(["detect", "train", "--db", db, "strace-backup-1", "strace-backup-2", "-o", model]);
    expect(t.status, t.stderr).toBe(0);
    expect(JSON.parse(readFileSync(model, "utf8")).format).toBe("provflow-detect-model");
    const ok = runCli(["detect", "--db", db, "--model", model, "strace-backup-3"]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/strace-backup-3\): normal/);
    const bad = runCli(["detect", "--db", db, "--model", model, "strace-exfil-0", "--json"]);
    expect(bad.status, bad.stderr).toBe(1);
    const rep = JSON.parse(bad.stdout) as DetectReport;
    expect(rep.flagged).toBe(true);
    // the exfiltration: python connected to the loopback sink, and sent the archive
    const out = rep.findings.find((f) => f.kind === "net" && f.key.includes("out inet 127.0.0.1:"));
    expect(out?.evidence.edges.length).toBe(1);
    expect(out?.evidence.gids.some((g) => g.startsWith("tcp://"))).toBe(true);
    // the evidence's ids are the run's own: `provflow query node` finds them
    const q = runCli(["query", "node", "--db", db, "strace-exfil-0", String(out?.evidence.nodes[1])]);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toContain("127.0.0.1");
  });

  it("--baseline RUN… RUN learns and checks in one go", () => {
    const r = runCli([
      "detect",
      "--db",
      db,
      "--baseline",
      "strace-backup-1",
      "strace-backup-3",
      "strace-exfil-0",
    ]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/strace-exfil-0\): FLAGGED/);
    const u = runCli(["detect", "--db", db, "strace-exfil-0"]);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/--model MODEL or --baseline/);
  });
});
