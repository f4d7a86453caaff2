import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync, inflateSync } from "node:zlib";
import { measure, row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
const CORPUS = [join(SHARED, "corpus/windows"), "/work/shared/corpus/windows"].find((d) => existsSync(d))!;
const OUT = "/tmp/provflow-bench/procmon";
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");

/** At least this many bytes of CSV (BENCH_PROCMON_MB overrides). */
const TARGET_BYTES = Number(process.env.BENCH_PROCMON_MB ?? 200) * 1e6;

/**
 * The largest ProcMon CSV export of the corpus (SPADE's Logfile.CSV, 66 MB gunzipped, 33,792 rows)
 * replicated to TARGET_BYTES: its header once, then its rows again and again (CRLF, BOM kept).
 */
function buildInput(source: string): { file: string; bytes: number; rows: number } {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, "procmon-replicated.csv");
  const raw = readFileSync(join(CORPUS, source));
  const text = raw[0] === 0x1f ? gunzipSync(raw) : inflateSync(raw);
  const nl = text.indexOf(10);
  const header = text.subarray(0, nl + 1);
  const body = text.subarray(nl + 1);
  let rowsPerCopy = 0;
  // records, not lines: fields may hold line breaks; every record here starts a line with `"`
  for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1))
    if (body[i + 1] === 34 || i + 1 === body.length) rowsPerCopy++;
  const fd = openSync(file, "w");
  writeSync(fd, header);
  let bytes = header.length;
  let rows = 0;
  while (bytes < TARGET_BYTES) {
    writeSync(fd, body);
    bytes += body.length;
    rows += rowsPerCopy;
  }
  closeSync(fd);
  return { file, bytes: statSync(file).size, rows };
}

/** `npm run bench -- windows`: ProcMon CSV ingest next to python's csv module on the same file. */
export function procmonBench(): string[] {
  return [
    ...benchOne(
      "spade-procmon/Logfile.CSV.gz",
      "the largest export of the corpus: SPADE's Logfile.CSV, 66 MB, 20 columns, long javac command lines",
    ),
    "",
    ...benchOne(
      "procmon-parser/CompressedLogfileTests64bitUTCCSV.zlib",
      'procmon-parser\'s Win10 "all columns" export, 28 MB, 27 columns, 53,214 rows, 86% registry',
    ),
  ];
}

function benchOne(source: string, what: string): string[] {
  const { file, bytes, rows } = buildInput(source);
  const mb = bytes / 1e6;
  const db = join(OUT, "procmon.db");
  rmSync(db, { force: true });
  const ours = measure(["node", CLI, "ingest", "-q", "--db", db, "--kind", "procmon-csv", file], {
    timeoutS: 1200,
  });
  rmSync(db, { force: true });
  const py = measure(
    [
      "python3",
      "-c",
      "import csv,sys\nn=0\nfor r in csv.reader(open(sys.argv[1], newline='', encoding='utf-8-sig')): n+=1\nprint(n)",
      file,
    ],
    { timeoutS: 1200 },
  );
  const f = (m: { wallS: number }) => (mb / m.wallS).toFixed(1);
  const rps = (m: { wallS: number }) => Math.round(rows / m.wallS).toLocaleString("en-US");
  rmSync(file, { force: true });
  return [
    `### ProcMon CSV ingest (windows): ${source}`,
    "",
    `Input: ${what}, replicated to ${mb.toFixed(0)} MB, ${rows.toLocaleString("en-US")} rows.`,
    "provflow = the whole `provflow ingest` (parse, map, build the graph, write SQLite); python = csv.reader only",
    "(procmon-parser, the other peer, is on PyPI, which this machine cannot reach).",
    "",
    row(["reader", "wall s", "MB/s", "rows/s", "peak RSS MB", "exit"]),
    row(["---", "---", "---", "---", "---", "---"]),
    row([
      "provflow ingest",
      ours.wallS.toFixed(2),
      f(ours),
      rps(ours),
      ours.peakRssMb.toFixed(0),
      ours.status,
    ]),
    row(["python3 csv.reader", py.wallS.toFixed(2), f(py), rps(py), py.peakRssMb.toFixed(0), py.status]),
    "",
    `Ratio (provflow MB/s / python csv MB/s): ${(py.wallS / ours.wallS).toFixed(2)}; goal 100 MB/s.`,
  ];
}
