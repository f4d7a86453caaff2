import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { categorizePath } from "../src/graph/file-category.js";
import { diffRunSummaries } from "../src/graph/run-diff.js";
import { buildRunSummary, type RunSummary } from "../src/graph/run-summary.js";
import {
  normalizeRegistryKey,
  normalizeWindowsPath,
  splitWindowsCommandLine,
} from "../src/graph/windows-path.js";
import { runIngest } from "../src/ingest/run-ingest.js";
import { ProcmonCsvParser, splitCsvRecord } from "../src/sources/procmon-csv/procmon-csv-parser.js";
import { detectFormat } from "../src/sources/source-registry.js";
import { parseLogextsLine } from "../src/sources/windbg/logexts-parser.js";
import { parseDetail, parseTimeOfDay, procmonNumber } from "../src/sources/windows/procmon-record.js";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.js";
import { CORPUS, tempDir } from "./helpers/cli.js";

const WIN = join(CORPUS, "windows");
const PP = join(WIN, "procmon-parser");

let dir: string;
let store: SqliteStore;
beforeAll(() => {
  dir = tempDir("provflow-windows-");
  store = openSqliteStore(join(dir, "w.db"));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ingest(file: string): Promise<{ summary: RunSummary; problems: string[] }> {
  const problems: string[] = [];
  const { runId } = await runIngest({
    store,
    files: [file],
    quiet: true,
    onProblem: (p) => problems.push(`${p.file}:${p.line}: ${p.message}`),
  });
  const run = (await store.findRun(runId))!;
  const summary = buildRunSummary(run, await store.getNodes(runId), await store.getEdges(runId));
  return { summary, problems };
}

function parseCsv(text: string): ProvEvent[] {
  const p = new ProcmonCsvParser("t.csv", { host: "h" });
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  return [...p.push(lines, 1), ...p.end()];
}

/** python's csv module over a (possibly zlib-compressed) ProcMon CSV: the oracle for rows. */
function pythonCsv(file: string, script: string): unknown {
  const r = spawnSync(
    "python3",
    [
      "-c",
      `import csv, io, json, sys, zlib, gzip
raw = open(sys.argv[1], 'rb').read()
if raw[:2] == b'\\x1f\\x8b': raw = gzip.decompress(raw)
elif raw[:1] == b'\\x78': raw = zlib.decompress(raw)
rows = list(csv.DictReader(io.StringIO(raw.decode('utf-8-sig'), newline='')))
${script}`,
      file,
    ],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("Windows paths", () => {
  it("normalises drive, \\??\\, UNC and device spellings", () => {
    expect(normalizeWindowsPath("C:\\Windows\\System32\\NTDLL.dll")).toBe("c:/windows/system32/ntdll.dll");
    expect(normalizeWindowsPath("\\??\\C:\\Windows\\")).toBe("c:/windows");
    expect(normalizeWindowsPath("\\\\srv\\Share\\a.txt")).toBe("unc/srv/share/a.txt");
    expect(normalizeWindowsPath("\\Device\\HarddiskVolume2\\x")).toBe("device/harddiskvolume2/x");
    expect(normalizeRegistryKey("\\REGISTRY\\MACHINE\\Software\\X")).toBe("hklm\\software\\x");
  });
  it("splits command lines as CommandLineToArgvW does", () => {
    expect(splitWindowsCommandLine('"C:\\Program Files\\a.exe" x "y z" a\\\\\\"b "c""d"')).toEqual([
      "C:\\Program Files\\a.exe",
      "x",
      "y z",
      'a\\"b',
      'c"d',
    ]);
  });
  it("puts Windows paths in Windows categories", () => {
    expect(categorizePath("C:\\Windows\\System32\\kernel32.dll")).toBe("system32");
    expect(categorizePath("C:\\Users\\bob\\AppData\\Local\\Temp\\x.tmp")).toBe("temporary");
    expect(categorizePath("C:\\Users\\bob\\Documents\\x.docx")).toBe("user-profile");
    expect(categorizePath("C:\\Program Files (x86)\\App\\a.exe")).toBe("program-files");
    expect(categorizePath("\\Device\\HarddiskVolume2\\Windows\\notepad.exe")).toBe("windows");
    expect(categorizePath("\\Device\\NamedPipe\\x")).toBe("pipe");
  });
});

describe("ProcMon CSV pieces", () => {
  it("splits Detail at known keys only, numbers with locale separators", () => {
    const d = parseDetail(
      "Desired Access: Generic Read/Write, Disposition: OpenIf, Options: Synchronous IO Non-Alert, Non-Directory File, Attributes: N, ShareMode: Read, Write, AllocationSize: 0, OpenResult: Created",
    );
    expect(d.get("Options")).toBe("Synchronous IO Non-Alert, Non-Directory File");
    expect(d.get("ShareMode")).toBe("Read, Write");
    expect(d.get("OpenResult")).toBe("Created");
    expect(procmonNumber("3,762,343")).toBe(3762343);
    expect(procmonNumber("4\u00a0697")).toBe(4697);
    expect(parseTimeOfDay("10:05:49.2746117 PM")).toBe((22 * 3600 + 5 * 60 + 49) * 1e6 + 274611);
    expect(parseTimeOfDay("16:53:03,6001516")).toBe((16 * 3600 + 53 * 60 + 3) * 1e6 + 600151);
    expect(parseTimeOfDay("47:57.9")).toBeNull();
  });
  it("reads RFC 4180 records like python's csv module", () => {
    const rec = '"a","b, c","say ""hi""","",x';
    const py = spawnSync(
      "python3",
      ["-c", "import csv,sys,json; print(json.dumps(next(csv.reader([sys.argv[1]]))))", rec],
      {
        encoding: "utf8",
      },
    );
    expect(splitCsvRecord(rec)).toEqual(JSON.parse(py.stdout));
  });

  const HEADER =
    '\ufeff"Time of Day","Process Name","PID","Operation","Path","Result","Detail","Date & Time"';
  const row = (t: string, pid: number, op: string, path: string, detail: string, res = "SUCCESS") =>
    `"${t}","x.exe","${pid}","${op}","${path}","${res}","${detail}","7/12/2020 1:18:10 AM"`;

  it("handles BOM, CRLF, quoted commas, multi-line fields, PID reuse and failures", () => {
    const text = [
      HEADER,
      row(
        "1:18:10.1 AM",
        10,
        "Process Start",
        "",
        "Parent PID: 1, Command line: a.exe x, Current directory: C:\\w\\, Environment: ;\tA=1\r;\tB=2",
      ),
      row(
        "1:18:10.2 AM",
        10,
        "WriteFile",
        "C:\\w\\out, final.txt",
        "Offset: 0, Length: 1,024, Priority: Normal",
      ),
      row(
        "1:18:10.3 AM",
        10,
        "CreateFile",
        "C:\\w\\missing.txt",
        "Desired Access: Generic Read",
        "NAME NOT FOUND",
      ),
      row("1:18:10.4 AM", 10, "Process Exit", "", "Exit Status: 3, User Time: 0.0 seconds"),
      row(
        "1:18:10.5 AM",
        10,
        "Process Start",
        "",
        "Parent PID: 1, Command line: b.exe, Current directory: C:\\",
      ),
      row("1:18:10.6 AM", 10, "SetDispositionInformationFile", "C:\\w\\OUT, FINAL.TXT", "Delete: True"),
      '"1:18:10.7 AM","x.exe","10","ReadFile","C:\\w\\cut.txt","SUCCESS","Offset: 0, Length: 5',
    ].join("\r\n");
    const ev = parseCsv(text);
    const starts = ev.filter((e) => e.kind === "process.start").map((e) => e.pid);
    expect(starts).toEqual([10, 10]);
    const execs = ev.filter((e) => e.kind === "process.exec");
    expect(execs.map((e) => (e as { argv: string[] }).argv)).toEqual([["a.exe", "x"], ["b.exe"]]);
    expect((execs[0] as { env?: string[] }).env).toEqual(["A=1\r", "B=2"]);
    expect(ev.find((e) => e.kind === "process.exit")).toMatchObject({ code: 3 });
    expect(ev.find((e) => e.kind === "access" && e.op === "write")).toMatchObject({
      res: { path: "C:\\w\\out, final.txt" },
      bytes: 1024,
    });
    expect(ev.find((e) => e.kind === "access" && e.op === "open")).toMatchObject({
      ok: false,
      errno: "NAME NOT FOUND",
    });
    expect(ev.find((e) => e.kind === "access" && e.op === "delete")).toBeTruthy();
    const problems = ev.filter((e) => e.kind === "problem");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ at: { line: 8 } });
    expect((problems[0] as { message: string }).message).toMatch(/ends inside a quoted field/);
  });

  it("reports rows it cannot read with their line, and a file that is no ProcMon CSV", () => {
    const ev = parseCsv(
      [
        HEADER,
        row("1:18:10.1 AM", 10, "ReadFile", "C:\\a", "Length: 1"),
        '"1","2"',
        row("bad", 10, "ReadFile", "C:\\a", "Length: 1"),
      ].join("\n"),
    );
    const problems = ev.filter((e) => e.kind === "problem") as Array<{
      at: { line: number };
      message: string;
    }>;
    expect(problems.map((p) => p.at.line)).toEqual([3, 4]);
    expect(problems[0]!.message).toMatch(/2 fields where the header names 8/);
    const none = parseCsv('"a","b"\n"1","2"');
    expect((none[0] as { message: string }).message).toMatch(/not a Process Monitor CSV header/);
  });
});

describe("ProcMon CSV exports", () => {
  it("the Win10 capture: the process tree and files against python's csv module", async () => {
    const file = join(PP, "CompressedLogfileTests64bitUTCCSV.zlib");
    const { summary } = await ingest(file);
    const oracle = pythonCsv(
      file,
      `print(json.dumps({
 'starts': sorted(set((r['PID'], r['Detail'].split('Command line: ')[1].split(', Current directory:')[0]) for r in rows if r['Operation'] == 'Process Start')),
 'written': sorted(set(r['Path'].lower() for r in rows if r['Operation'] == 'WriteFile' and r['Result'] == 'SUCCESS')),
 'exits': sorted(set((r['PID'], r['Detail'].split(',')[0].split(': ')[1]) for r in rows if r['Operation'] == 'Process Exit')),
 'pids': sorted(set(int(r['PID']) for r in rows)),
}))`,
    ) as { starts: [string, string][]; written: string[]; exits: [string, string][]; pids: number[] };
    const started = summary.processes
      .filter((p) => p.argv.length > 0 && p.generation > 0)
      .map((p) => [String(p.pid), p.argv]);
    for (const [pid, cmd] of oracle.starts) {
      expect(started).toContainEqual([pid, splitWindowsCommandLine(cmd)]);
    }
    const written = summary.files.filter((f) => f.written).map((f) => f.path.toLowerCase());
    // every path WriteFile wrote is written (opens for writing and SetEndOfFile add a few more)
    expect(oracle.written.filter((p) => !written.includes(p))).toEqual([]);
    expect(written.length).toBeLessThan(oracle.written.length + 10);
    for (const [pid, code] of oracle.exits) {
      expect(
        summary.processes.some(
          (p) => String(p.pid) === pid && p.exit !== null && "code" in p.exit && p.exit.code === Number(code),
        ),
      ).toBe(true);
    }
    expect(new Set(summary.processes.map((p) => p.pid))).toEqual(new Set(oracle.pids));
    expect(summary.sockets.length).toBe(8);
    expect(summary.registry.some((r) => r.written)).toBe(true);
    expect(summary.filesByCategory.system32?.length).toBeGreaterThan(10);
  });

  it("the Win7 capture with its columns in another order, and UDP", async () => {
    const { summary, problems } = await ingest(join(PP, "sample-Tests32bitUTC-selected-ops.csv"));
    expect(problems.filter((p) => !/after its Process Exit/.test(p))).toEqual([]);
    expect(summary.sockets.some((s) => s.protocol === "UDP")).toBe(true);
    expect(summary.processes.length).toBeGreaterThan(0);
  });
});

describe("ProcMon PML", () => {
  const shape = (s: RunSummary) => ({
    processes: [
      ...new Set(
        s.processes
          .filter((p) => p.exe)
          .map((p) => `${p.pid} ${p.exe} ${p.argv.join(" ")} ${JSON.stringify(p.exit)}`),
      ),
    ].sort(),
    files: s.files
      .filter((f) => !f.probedOnly)
      .map(
        (f) =>
          `${f.path.toLowerCase()} ${f.read ? "r" : ""}${f.written ? "w" : ""}${f.created ? "c" : ""}${f.deleted ? "d" : ""}${f.mapped ? "m" : ""}${f.executed ? "x" : ""}`,
      )
      .sort(),
    sockets: s.sockets
      .map((k) => `${k.protocol} ${k.local} ${k.remote} ${k.bytesSent} ${k.bytesReceived}`)
      .sort(),
    registryWritten: s.registry
      .filter((r) => r.written || r.created || r.deleted)
      .map((r) => r.key.toLowerCase())
      .sort(),
  });
  it.each([
    ["CompressedLogfileTests64bitUTC", "Win10 x64"],
    ["CompressedLogfileTests32bitUTC", "Win7 x86"],
    ["CompressedLogFileUTC64Process", "process class"],
  ])("the %s pair (%s): the PML and its CSV export give the same processes and files", async (name) => {
    const pml = await ingest(join(PP, `${name}PML.zlib`));
    const csv = await ingest(join(PP, `${name}CSV.zlib`));
    expect(pml.summary.run.source).toBe("procmon-pml");
    const a = shape(pml.summary);
    const b = shape(csv.summary);
    expect(a.processes).toEqual(b.processes);
    expect(a.files).toEqual(b.files);
    expect(a.sockets).toEqual(b.sockets);
    expect(a.registryWritten).toEqual(b.registryWritten);
    // and provflow diff, which compares the process tree, files, sockets and registry writes, agrees
    const d = diffRunSummaries(csv.summary, pml.summary, null, null);
    expect(
      d.processes.added.concat(
        d.processes.removed,
        d.files.added,
        d.files.removed,
        d.registry.added,
        d.registry.removed,
      ),
    ).toEqual([]);
  });
  it("reads the computer name from the header, and reports a truncated log", async () => {
    const { summary } = await ingest(join(PP, "CompressedLogFileUTC64ProcessPML.zlib"));
    expect(summary.run.host).toBe("DESKTOP-6PCIALL");
    const whole = inflateSync(readFileSync(join(PP, "CompressedLogFileUTC64ProcessPML.zlib")));
    const cut = join(dir, "cut.pml");
    writeFileSync(cut, whole.subarray(0, 200_000));
    const r = await ingest(cut);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems.join("\n")).toMatch(/byte offset \d+ .*(truncated|no process table)/);
    const bad = join(dir, "bad.pml");
    writeFileSync(bad, Buffer.concat([Buffer.from("PML_"), Buffer.alloc(100)]));
    const b = await ingest(bad);
    expect(b.problems.join("\n")).toMatch(/byte offset 0 .*truncated/);
  });
});

describe("ProcMon XML export", () => {
  it("reads the SPADE capture: processes from the process list", async () => {
    const { summary, problems } = await ingest(join(WIN, "spade-procmon", "Logfile.XML.gz"));
    expect(problems).toEqual([]);
    expect(summary.run.source).toBe("procmon-xml");
    expect(summary.processes.some((p) => p.exe?.endsWith("Explorer.EXE"))).toBe(true);
  });
  it("tells a reused PID apart by ProcessIndex", async () => {
    const xml = `<?xml version="1.0"?><procmon><processlist>
<process><ProcessIndex>1</ProcessIndex><ProcessId>50</ProcessId><ParentProcessId>4</ParentProcessId><CreateTime>0</CreateTime><FinishTime>0</FinishTime><ImagePath>C:\\a.exe</ImagePath><CommandLine>a.exe</CommandLine></process>
<process><ProcessIndex>2</ProcessIndex><ProcessId>50</ProcessId><ParentProcessId>4</ParentProcessId><CreateTime>0</CreateTime><FinishTime>0</FinishTime><ImagePath>C:\\b.exe</ImagePath><CommandLine>b.exe</CommandLine></process>
</processlist><eventlist>
<event><ProcessIndex>1</ProcessIndex><Time_of_Day>1:00:00.0000000 AM</Time_of_Day><PID>50</PID><Operation>WriteFile</Operation><Path>C:\\a.txt</Path><Result>SUCCESS</Result><Detail>Length: 1</Detail></event>
<event><ProcessIndex>2</ProcessIndex><Time_of_Day>1:00:01.0000000 AM</Time_of_Day><PID>50</PID><Operation>WriteFile</Operation><Path>C:\\b.txt</Path><Result>SUCCESS</Result><Detail>Length: 1</Detail></event>
</eventlist></procmon>`;
    const f = join(dir, "reuse.xml");
    writeFileSync(f, xml);
    const { summary } = await ingest(f);
    const execs = summary.processes.filter((p) => p.pid === 50 && p.exe);
    expect(execs.map((p) => p.exe)).toEqual(["C:\\a.exe", "C:\\b.exe"]);
    const ids = new Set(summary.processes.filter((p) => p.pid === 50).map((p) => p.id));
    expect(ids.size).toBeGreaterThanOrEqual(2);
  });
});

describe("Sysmon exports", () => {
  it("NDJSON: the bitsadmin process tree, file creates and registry writes", async () => {
    const { summary } = await ingest(
      join(WIN, "otrf-security-datasets", "cmd_bitsadmin_download_psh_script_2020-10-2302365189.json"),
    );
    expect(summary.run.host).toBe("WORKSTATION5");
    expect(summary.processes.some((p) => /bitsadmin/i.test(p.exe ?? ""))).toBe(true);
    expect(summary.files.some((f) => f.created)).toBe(true);
  });
  it("event XML (python-evtx): parent and child by ProcessGuid, an inbound flow", async () => {
    const { summary, problems } = await ingest(
      join(WIN, "evtx-attack-samples", "powercat_revShell_sysmon_1_3.xml"),
    );
    expect(problems).toEqual([]);
    const ps = summary.processes.find((p) => /powershell/i.test(p.exe ?? ""));
    expect(ps).toBeTruthy();
    expect(summary.sockets).toContainEqual(
      expect.objectContaining({ local: "10.0.2.13:4444", remote: "10.0.2.18:38208" }),
    );
  });
  it("a PID reused by another ProcessGuid is another process", async () => {
    const ev = (id: number, guid: string, pid: number, t: string, extra: Record<string, string> = {}) =>
      JSON.stringify({
        EventID: id,
        Channel: "Microsoft-Windows-Sysmon/Operational",
        UtcTime: t,
        ProcessGuid: guid,
        ProcessId: String(pid),
        ...extra,
      });
    const f = join(dir, "reuse.json");
    writeFileSync(
      f,
      [
        ev(1, "{g1}", 7, "2020-01-01 00:00:00.000", {
          Image: "C:\\a.exe",
          CommandLine: "a.exe",
          ParentProcessGuid: "{p}",
          ParentProcessId: "1",
          ParentImage: "C:\\p.exe",
        }),
        ev(11, "{g1}", 7, "2020-01-01 00:00:01.000", { TargetFilename: "C:\\x.txt" }),
        ev(11, "{g2}", 7, "2020-01-01 00:00:02.000", { Image: "C:\\b.exe", TargetFilename: "C:\\y.txt" }),
      ].join("\n"),
    );
    const { summary } = await ingest(f);
    expect(summary.processes.filter((p) => p.pid === 7 && p.exe).map((p) => p.exe)).toEqual([
      "C:\\a.exe",
      "C:\\b.exe",
    ]);
    expect(summary.processes.find((p) => p.exe === "C:\\a.exe")?.parentId).not.toBeNull();
  });
});

describe("EVTX", () => {
  const EV = () => join(WIN, "evtx-attack-samples");
  const shape = (s: RunSummary) => ({
    processes: s.processes.map((p) => [p.pid, p.exe, p.argv, p.cwd, p.exit, p.start]).sort(),
    files: s.files.map((f) => [f.path, f.created, f.deleted, f.executed, f.mapped]),
    sockets: s.sockets.map((k) => [k.protocol, k.local, k.remote, k.role]),
    registry: s.registry,
  });
  it.each([
    "Sysmon_UACME_23",
    "exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11",
    "powercat_revShell_sysmon_1_3",
    "DE_ProcessHerpaderping_Sysmon_11_10_1_7",
    "sysmon_13_1_12_11_perfmonUACBypass",
  ])("%s.evtx gives what python-evtx's XML of it gives", async (name) => {
    const bin = await ingest(join(EV(), `${name}.evtx`));
    const xml = await ingest(join(EV(), `${name}.xml`));
    expect(bin.problems).toEqual([]);
    expect(bin.summary.processes.length).toBeGreaterThan(0);
    expect(shape(bin.summary)).toEqual(shape(xml.summary));
    // the machine is the one the log names (its first record's Computer), in both
    expect(bin.summary.run.host).toBe(xml.summary.run.host);
    expect(bin.summary.run.host).not.toBe(hostname());
  });
  it("a truncated or foreign file is a problem with its byte offset, not a crash", async () => {
    const whole = readFileSync(join(EV(), "powercat_revShell_sysmon_1_3.evtx"));
    const cut = join(dir, "cut.evtx");
    writeFileSync(cut, whole.subarray(0, 4096 + 20000));
    const r = await ingest(cut);
    expect(r.problems.some((p) => /byte offset 4096 .*truncated/.test(p))).toBe(true);
    const bad = join(dir, "bad.evtx");
    const copy = Buffer.from(whole);
    copy.write("XXXX", 4096 + 512, "latin1");
    writeFileSync(bad, copy);
    const b = await ingest(bad);
    expect(b.problems.some((p) => /byte offset 4608 .*no record signature/.test(p))).toBe(true);
  });
});

describe("logexts", () => {
  it("reads the documented line grammar", () => {
    const c = parseLogextsLine(
      'Thrd 1b34 00D835AD CreateFileW( "C:\\t\\a.txt" , GENERIC_WRITE , 0x00000000 , NULL , CREATE_ALWAYS , 0x80 , NULL ) -> 0x000000F4',
    );
    expect(c).toEqual({
      tid: 0x1b34,
      api: "CreateFileW",
      args: ["C:\\t\\a.txt", "GENERIC_WRITE", "0x00000000", "NULL", "CREATE_ALWAYS", "0x80", "NULL"],
      ret: "0x000000F4",
    });
    expect(parseLogextsLine("Thrd 1b34 00D835AD GetModuleHandleA( NULL) -> 0x00D80000")?.ret).toBe(
      "0x00D80000",
    );
    expect(
      detectFormat(["Thrd 1b34 00D835AD GetModuleHandleA( NULL) -> 0x00D80000"], "x.txt")?.format.kind,
    ).toBe("windbg");
  });
  it("maps CreateFile/WriteFile through the handle table", async () => {
    const f = join(dir, "app.exe.txt");
    writeFileSync(
      f,
      [
        'Thrd 10 00401000 CreateFileA( "C:\\out.txt" , GENERIC_WRITE , 0 , NULL , CREATE_ALWAYS , 0 , NULL ) -> 0x00000054',
        "Thrd 10 00401010 WriteFile( 0x00000054 , 0x0012F000 , 0x00000010 , [0x0012EFF0] , NULL ) -> TRUE",
        'Thrd 10 00401020 CreateProcessA( NULL , "cmd.exe /c dir" , NULL , NULL , FALSE , 0 , NULL , NULL , [0x1] , [0x2] ) -> TRUE',
      ].join("\n"),
    );
    const { summary } = await ingest(f);
    expect(summary.files.find((x) => x.path === "C:\\out.txt")).toMatchObject({
      created: true,
      written: true,
      bytesWritten: 16,
    });
    expect(summary.processes.some((p) => p.argv.join(" ") === "cmd.exe /c dir")).toBe(true);
  });
});

describe("the Windows corpus", () => {
  const files = readdirSync(WIN, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter((p) => /\.(csv|json|xml|gz|zlib|evtx)$/i.test(p));
  it("refuses the ETW trace and the ProcMon configuration with a hint, as input errors", async () => {
    await expect(
      ingest(join(WIN, "evtx-attack-samples", "etw_ad_netlogon_provider_zerologon_mimikatz.etl")),
    ).rejects.toThrow(/ETW trace/);
    await expect(ingest(join(WIN, "spade-procmon", "spade.reporter.ProcMon.pmc"))).rejects.toThrow(
      /Process Monitor configuration/,
    );
  });
  it.each(files)("%s ingests", async (file) => {
    const { summary } = await ingest(file);
    expect(summary.processes.length).toBeGreaterThan(0);
  });
});
