import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { type Measured, median, row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
const CAMFLOW = join(SHARED, "corpus/camflow");
const OUT = "/tmp/provflow-bench";
const WORK = join(OUT, "prov-work");
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
const PY = "/usr/bin/python3";

/** At least this many bytes of CamFlow documents (BENCH_PROV_MB overrides, e.g. for a quick look). */
const TARGET_BYTES = Number(process.env.BENCH_PROV_MB ?? 100) * 1e6;

/** What python3-prov refuses whole: 0.3.x's `relation` section, and `cf:address` objects without `$`. */
const PEER_REFUSES = /"relation"\s*:\s*\{|"cf:address"\s*:\s*\{\s*"(?!\$")/;

/**
 * The corpus's CamFlow W3C logs, one document per line: the FRAP dataset's camflowd logs (0.3.5)
 * and the 0.1.7 socket sample (one document on one line, its BOM dropped).
 *
 * So that python3-prov reads exactly what provflow reads, two changes: (1) CamFlow's ids are bare
 * (`AQAAAAAAAEAI…=`, machine ids `717566593`), which python3-prov refuses (every PROV identifier
 * must be a qualified name), so each document's prefix section gains a default namespace
 * (`"default": "http://www.camflow.org/id/"`; provflow's CamFlow reader keys nodes by CamFlow's ids
 * and ignores it); (2) the documents python3-prov refuses whole even then are left out (32 of the
 * 318, 10% of the bytes: those with 0.3.x's `relation` section or `cf:address` objects).
 */
export function corpusDocuments(): string[] {
  const frap = join(CAMFLOW, "frap-dataset");
  const files = readdirSync(frap)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => join(frap, f));
  files.push(join(CAMFLOW, "old-format/camflow-socket-0_1_7.json"));
  const docs: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, "utf8")
      .replace(/^\uFEFF/, "")
      .split("\n")) {
      if (line.trim() === "" || PEER_REFUSES.test(line)) continue;
      if (!line.startsWith('{"prefix":{'))
        throw new Error(`${f}: a document without a leading prefix section`);
      docs.push(`{"prefix":{"default":"http://www.camflow.org/id/",${line.slice('{"prefix":{'.length)}`);
    }
  }
  return docs;
}

/** Replica r's machine id for machine `m`: another machine per replica (replica 0 is the original). */
function machineOf(m: number, r: number): number {
  return r === 0 ? m : (m + Math.imul(r, 0x9e3779b1)) >>> 0;
}

const B64_ID = /"(cf:)?([A-Za-z0-9+/]{43}=)"/g;
const MACHINE_ATTR = /"cf:machine_id":(\d+)/g;
const MACHINE_NODE = /"(\d+)":\{"prov:label":"\[machine\] (\d+)"/g;

/**
 * One replica of a document: the same activity recorded on another machine. CamFlow's ids carry
 * their machine (bytes 20-23 of the 32-byte id), so the ids, the `cf:machine_id` attributes and the
 * machine records all change together: every replica is new nodes and relations, not the same ones
 * described again (which the builder would merge, and which would make the bench measure merging).
 */
function replicate(doc: string, r: number, cache: Map<string, string>): string {
  if (r === 0) return doc;
  return doc
    .replace(B64_ID, (_all, cf: string | undefined, id: string) => {
      let out = cache.get(id);
      if (out === undefined) {
        const b = Buffer.from(id, "base64");
        b.writeUInt32LE(machineOf(b.readUInt32LE(20), r), 20);
        out = b.toString("base64");
        cache.set(id, out);
      }
      return `"${cf ?? ""}${out}"`;
    })
    .replace(MACHINE_ATTR, (_all, m: string) => `"cf:machine_id":${machineOf(Number(m), r)}`)
    .replace(MACHINE_NODE, (_all, m: string) => {
      const n = machineOf(Number(m), r);
      return `"${n}":{"prov:label":"[machine] ${n}"`;
    });
}

interface Input {
  path: string;
  bytes: number;
  documents: number;
  replicas: number;
}

/** Builds (once) the ≥ 100 MB log: the corpus's documents, replica after replica. */
export function buildInput(): Input {
  mkdirSync(OUT, { recursive: true });
  const docs = corpusDocuments();
  const perReplica = docs.reduce((s, d) => s + Buffer.byteLength(d) + 1, 0);
  const replicas = Math.max(1, Math.ceil(TARGET_BYTES / perReplica));
  const path = join(OUT, `camflow-x${replicas}.log`);
  const meta = `${path}.json`;
  const made = { replicas, documents: docs.length * replicas, corpusBytes: perReplica };
  if (existsSync(path) && existsSync(meta) && readFileSync(meta, "utf8") === JSON.stringify(made)) {
    return { path, bytes: statSync(path).size, documents: made.documents, replicas };
  }
  const tmp = `${path}.part`;
  const fd = openSync(tmp, "w");
  try {
    for (let r = 0; r < replicas; r++) {
      const cache = new Map<string, string>();
      const parts: string[] = [];
      for (const d of docs) parts.push(replicate(d, r, cache), "\n");
      writeSync(fd, parts.join(""));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  writeFileSync(meta, JSON.stringify(made));
  return { path, bytes: statSync(path).size, documents: made.documents, replicas };
}

/**
 * The peer: python3-prov reading the same documents in one process, one `ProvDocument.deserialize`
 * per document (per line), counting the records it reads (elements and relations, bundles included).
 */
export const PY_READER = `
import sys, json
from prov.model import ProvDocument
elements = relations = docs = errors = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        docs += 1
        try:
            d = ProvDocument.deserialize(content=line, format="json")
        except Exception:
            errors += 1
            continue
        recs = list(d.get_records())
        for b in d.bundles:
            recs += list(b.get_records())
        for r in recs:
            if r.is_element():
                elements += 1
            elif r.is_relation():
                relations += 1
with open(sys.argv[2], "w") as out:
    json.dump({"documents": docs, "errors": errors, "elements": elements, "relations": relations}, out)
`;

interface PeerCount {
  documents: number;
  errors: number;
  elements: number;
  relations: number;
}

export const hasPythonProv = () => spawnSync(PY, ["-c", "import prov"], { stdio: "ignore" }).status === 0;

function pythonProvVersion(): string {
  const r = spawnSync(PY, ["-c", "import prov; print(prov.__version__)"], { encoding: "utf8" });
  return r.stdout.trim();
}

interface Timed extends Measured {
  cpuS: number;
}

/** Like measure() (bench-util.ts), with the CPU seconds (user + system, every thread) beside. */
function timed(argv: string[]): Timed {
  const out = join(WORK, "time.txt");
  rmSync(out, { force: true });
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", out, ...argv], {
    stdio: "ignore",
    timeout: 1800_000,
    killSignal: "SIGKILL",
  });
  const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(
    existsSync(out) ? (readFileSync(out, "utf8").trim().split("\n").pop() ?? "") : "",
  );
  if (r.error || !m)
    return { wallS: Number.NaN, cpuS: Number.NaN, peakRssMb: Number.NaN, status: r.status ?? 124 };
  return {
    wallS: Number(m[1]),
    cpuS: Number(m[2]) + Number(m[3]),
    peakRssMb: Number(m[4]) / 1024,
    status: r.status ?? 1,
  };
}

/** PROV-JSON / CamFlow ingest into SQLite against python3-prov reading the same documents. */
export function provIngestBench(): string[] {
  const input = buildInput();
  mkdirSync(WORK, { recursive: true });
  const db = join(WORK, "bench.db");
  const runJson = join(WORK, "run.json");
  const pyScript = join(WORK, "prov-read.py");
  const pyCount = join(WORK, "python-prov-count.json");
  writeFileSync(pyScript, PY_READER);
  const withPeer = hasPythonProv();
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
  const sh = (cmd: string) => ["sh", "-c", cmd];
  const oursRuns: Timed[] = [];
  const theirRuns: Timed[] = [];
  // runs alternate (provflow, python3-prov, provflow, …) so that both see the same load
  for (let k = 0; k < repeat; k++) {
    for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    oursRuns.push(
      timed(
        sh(`node ${CLI} ingest --kind camflow --db ${db} --name bench -q --json ${input.path} > ${runJson}`),
      ),
    );
    if (withPeer) theirRuns.push(timed([PY, pyScript, input.path, pyCount]));
  }
  const med = (runs: Timed[]): Timed => ({
    wallS: median(runs.map((r) => r.wallS)),
    cpuS: median(runs.map((r) => r.cpuS)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    status: runs.find((r) => r.status !== 0)?.status ?? 0,
  });
  const ours = med(oursRuns);
  const run = JSON.parse(readFileSync(runJson, "utf8")) as {
    nodeCount: number;
    edgeCount: number;
    stats: Record<string, number>;
  };
  const peer = withPeer ? (JSON.parse(readFileSync(pyCount, "utf8")) as PeerCount) : null;
  const theirs = withPeer ? med(theirRuns) : null;
  // the rate of both is the records of the input (elements + relations) per second, as python3-prov
  // counts them; provflow's own count is every node description and relation it read (those left
  // dangling, whose nodes were in the documents python3-prov refuses, included)
  const st = run.stats;
  const ourRecords =
    (st.provDescriptions ?? 0) +
    (st.provRelations ?? 0) +
    (st.danglingRelations ?? 0) +
    (st.provRelationsWithoutEnd ?? 0);
  const records = peer ? peer.elements + peer.relations : ourRecords;
  const mb = input.bytes / 1e6;
  const lines = [
    "### PROV-JSON / CamFlow → SQLite (`provflow ingest --kind camflow`)",
    "",
    `Input: the corpus's CamFlow W3C logs (FRAP dataset, CamFlow 0.3.5; the 0.1.7 socket sample) as python3-prov ` +
      `reads them (see bench/prov-ingest-bench.ts), ${input.replicas} replicas on other machine ids, ` +
      `${input.documents} documents, ${mb.toFixed(0)} MB, ${records} records ` +
      `(elements + relations${peer ? ", as python3-prov counts them" : ""}; provflow read ${ourRecords}). ` +
      `provflow wrote ${run.nodeCount} nodes and ${run.edgeCount} edges ` +
      `(${st.danglingRelations ?? 0} relations dangling, ${st.problems ?? 0} problems).`,
    "",
    row([
      "tool",
      "wall s",
      "CPU s",
      "elements/s",
      "MB/s",
      "peak RSS MB",
      "provflow / python3-prov (elements/s)",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---"]),
  ];
  const rate = (m: Measured) => records / m.wallS;
  if (theirs && peer) {
    lines.push(
      row([
        `python3-prov ${pythonProvVersion()} (deserialize per document${peer.errors ? `, ${peer.errors} refused` : ""})`,
        theirs.wallS.toFixed(2),
        theirs.cpuS.toFixed(2),
        rate(theirs).toFixed(0),
        (mb / theirs.wallS).toFixed(1),
        theirs.peakRssMb.toFixed(0),
        "1.00",
      ]),
    );
  }
  lines.push(
    row([
      "provflow → SQLite",
      ours.wallS.toFixed(2),
      ours.cpuS.toFixed(2),
      rate(ours).toFixed(0),
      (mb / ours.wallS).toFixed(1),
      ours.peakRssMb.toFixed(0),
      theirs ? `**${(rate(ours) / rate(theirs)).toFixed(1)}×**` : "python3-prov not installed",
    ]),
  );
  if (ours.status !== 0) lines.push("", `provflow exited with status ${ours.status}`);
  lines.push(
    "",
    `Median wall and CPU time of ${repeat} alternating runs each (BENCH_REPEAT), highest peak RSS of those ` +
      "runs. Goal: ≥ 200k elements/s and ≥ 20× python3-prov.",
  );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${provIngestBench().join("\n")}\n`);
}
