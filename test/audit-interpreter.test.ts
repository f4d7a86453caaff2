import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { AuditLogParser, auditFormat } from "../src/sources/audit/audit-source-format.js";
import { CORPUS, ROOT } from "./helpers/cli.js";

const FID = join(CORPUS, "fidelity");

function lines(file: string): string[] {
  return readFileSync(file, "utf8").split("\n");
}

/** run a whole log (or some of its lines) through the audit source, in batches of 100 lines */
function run(all: string[], file = "t.log", firstLine = 1): ProvEvent[] {
  const p = new AuditLogParser({ file, ctx: { host: "test" } });
  const out: ProvEvent[] = [];
  for (let i = 0; i < all.length; i += 100) out.push(...p.push(all.slice(i, i + 100), firstLine + i));
  out.push(...p.end());
  return out;
}

function of<K extends ProvEvent["kind"]>(evs: ProvEvent[], kind: K): Extract<ProvEvent, { kind: K }>[] {
  return evs.filter((e): e is Extract<ProvEvent, { kind: K }> => e.kind === kind);
}

describe("audit interpreter on the edit workload (fidelity/edit/audit.log)", () => {
  const evs = run(lines(join(FID, "edit/audit.log")), "edit/audit.log");

  it("reports no problems on a clean capture", () => {
    expect(of(evs, "problem")).toEqual([]);
  });

  it("turns the first execve (line 29) into an exec with the kernel's exe, EXECVE argv and CWD", () => {
    const x = of(evs, "process.exec").find((e) => e.pid === 4577)!;
    expect(x).toMatchObject({
      exe: "/usr/bin/dash",
      argv: ["/bin/sh", "./edit.sh"],
      cwd: "/tmp/pf-fidelity/edit",
      ok: true,
      at: { file: "edit/audit.log", line: 29 },
    });
    // first seen at its exec: started via "unknown" with ppid= of the SYSCALL record
    const s = of(evs, "process.start").find((e) => e.pid === 4577)!;
    expect(s).toMatchObject({ ppid: 2525, via: "unknown" });
  });

  it("exit_group gives process.exit with the code in a0 (line 1427: the script itself)", () => {
    const x = of(evs, "process.exit").find((e) => e.pid === 4577)!;
    expect(x).toMatchObject({ code: 0, at: { line: 1427 } });
  });

  it("sed -i's rename (line 362) goes from the first DELETE to the last CREATE item, made absolute", () => {
    expect(of(evs, "rename")).toEqual([
      expect.objectContaining({
        pid: 4579,
        call: "rename",
        from: "/tmp/pf-fidelity/edit/a/b/sed0J5Obu",
        to: "/tmp/pf-fidelity/edit/a/b/f.txt",
        ok: true,
      }),
      expect.objectContaining({
        pid: 4583,
        call: "renameat2",
        from: "/tmp/pf-fidelity/edit/c/b/f.txt",
        to: "/tmp/pf-fidelity/edit/c/moved.txt",
      }),
    ]);
  });

  it("rm -r's unlinkat relative to a directory fd resolves through the PARENT inode", () => {
    const rm = of(evs, "access").filter((e) => e.pid === 4586 && (e.op === "delete" || e.op === "rmdir"));
    expect(rm.map((e) => [e.op, e.res.type === "file" ? e.res.path : "", e.at?.line])).toEqual([
      ["delete", "/tmp/pf-fidelity/edit/a/b/f.txt", 1410],
      ["rmdir", "/tmp/pf-fidelity/edit/a/b", 1415],
      ["rmdir", "/tmp/pf-fidelity/edit/a", 1420],
    ]);
  });

  it("opens carry flags from a2 and create from the CREATE item; mkdir and symlink are accesses", () => {
    const created = of(evs, "access").filter((e) => e.op === "open" && e.create);
    const paths = created.map((e) => (e.res.type === "file" ? e.res.path : ""));
    expect(paths).toContain("/tmp/pf-fidelity/edit/a/b/f.txt");
    expect(paths).toContain("/tmp/pf-fidelity/edit/joined.txt");
    const mk = of(evs, "access").filter((e) => e.op === "mkdir" && e.ok);
    expect(mk.map((e) => (e.res.type === "file" ? e.res.path : "")).sort()).toEqual([
      "/tmp/pf-fidelity/edit/a",
      "/tmp/pf-fidelity/edit/a/b",
      "/tmp/pf-fidelity/edit/c",
      "/tmp/pf-fidelity/edit/c/b",
    ]);
    const sym = of(evs, "access").filter((e) => e.op === "symlink");
    expect(sym.map((e) => (e.res.type === "file" ? e.res.path : ""))).toEqual([
      "/tmp/pf-fidelity/edit/c/link.txt",
    ]);
  });

  it("every SYSCALL record becomes a call event", () => {
    const text = readFileSync(join(FID, "edit/audit.log"), "utf8");
    const syscalls = text.split("\n").filter((l) => l.startsWith("type=SYSCALL ")).length;
    expect(of(evs, "call").length).toBe(syscalls);
  });
});

describe("audit interpreter: processes, threads and sockets", () => {
  it("clone without CLONE_THREAD (archive line 1106, a0=1200011) starts the child 4758 of 4750", () => {
    const evs = run(lines(join(FID, "archive/audit.log")));
    const s = of(evs, "process.start").filter((e) => e.pid === 4758);
    expect(s[0]).toMatchObject({ ppid: 4750, via: "clone", at: { line: 1106 } });
  });

  it("a clone3 child never seen as a pid (pyproc's thread 4880) does not become a process", () => {
    const evs = run(lines(join(FID, "pyproc/audit.log")));
    expect(of(evs, "process.start").some((e) => e.pid === 4880)).toBe(false);
    // the children that do run are announced by their own records or their clone3
    const wc = of(evs, "process.exec").find((e) => e.argv[0] === "wc")!;
    expect(of(evs, "process.start").find((e) => e.pid === wc.pid)?.ppid).toBe(4877);
  });

  it("bind, connect and accept with a SOCKADDR give unix socket events (pyproc lines 764, 774, 784)", () => {
    const evs = run(lines(join(FID, "pyproc/audit.log")));
    const socks = of(evs, "socket").filter((e) => e.pid === 4877);
    expect(socks.map((e) => [e.op, e.address, e.at?.line])).toEqual([
      ["bind", "s.sock", 764],
      ["connect", "s.sock", 774],
      // the serving thread's accept: audit names the thread group (pid=4877); the peer is unnamed
      ["accept", undefined, 784],
    ]);
  });
});

describe("audit interpreter: one start per process", () => {
  // logs where a child's own events come before its parent's clone/fork/vfork record (laurel's
  // reordered test logs, and the fidelity captures of shell pipelines and vfork)
  const logs = [
    "audit/laurel/shell-proc-trace-confusion.txt",
    "audit/laurel/shell-proc-trace-reordered.txt",
    "fidelity/archive/audit.log",
    "fidelity/edit/audit.log",
    "fidelity/pyproc/audit.log",
  ];
  for (const rel of logs) {
    it(`${rel}: no pid is started again while it runs, nor right after its exit`, () => {
      const evs = run(lines(join(CORPUS, rel)), rel);
      const live = new Set<number>();
      const exited = new Set<number>();
      const twice: number[] = [];
      for (const e of evs) {
        if (e.kind === "process.start") {
          if (live.has(e.pid) || exited.has(e.pid)) twice.push(e.pid);
          live.add(e.pid);
        } else if (e.kind === "process.exit") {
          live.delete(e.pid);
          exited.add(e.pid);
        }
      }
      expect(twice).toEqual([]);
      // and every process the kernel saw run a syscall is there once
      const pids = new Set(
        readFileSync(join(CORPUS, rel), "utf8")
          .split("\n")
          .filter((l) => l.includes("type=SYSCALL "))
          .map((l) => Number(/ pid=(\d+)/.exec(l)?.[1])),
      );
      const started = new Set(of(evs, "process.start").map((e) => e.pid));
      for (const p of pids) expect(started.has(p)).toBe(true);
    });
  }
});

describe("audit interpreter: bad and incomplete input", () => {
  it("a PATH record without its SYSCALL is a problem with file and line, not a throw", () => {
    const file = join(CORPUS, "audit/linux-audit-parser/line-path.txt");
    const evs = run(lines(file), file);
    expect(of(evs, "problem")).toEqual([
      expect.objectContaining({ at: { file, line: 1 }, message: expect.stringContaining("no SYSCALL") }),
    ]);
  });

  it("a corrupt line among good ones is reported at its line and the rest still parses", () => {
    const all = lines(join(FID, "edit/audit.log")).slice(361, 369);
    all.splice(3, 0, "type=PATH msg=audit(garbage");
    const evs = run(all, "x.log", 362);
    expect(of(evs, "problem")).toEqual([expect.objectContaining({ at: { file: "x.log", line: 365 } })]);
    expect(of(evs, "rename")).toHaveLength(1);
  });

  it("an event missing PATH items (go-libaudit out-of-order log) is reported as incomplete", () => {
    const file = join(CORPUS, "audit/go-libaudit/reassembler-out_of_order.log");
    const msgs = of(run(lines(file), file), "problem").map((p) => p.message);
    expect(msgs.some((m) => m.includes("items=2 but 1 PATH records"))).toBe(true);
  });
});

describe("audit format detection", () => {
  it("recognises raw audit logs with and without node=", () => {
    expect(auditFormat.detect(lines(join(FID, "edit/audit.log")).slice(0, 200), "audit.log")).toBeGreaterThan(
      0.9,
    );
    const node = lines(join(CORPUS, "audit/linux-audit-parser/line-path.txt"));
    expect(auditFormat.detect(node, "x")).toBeGreaterThan(0.9);
  });

  it("returns 0 for strace, ltrace and laurel JSON", () => {
    for (const f of ["edit/full.strace", "edit/dockit.strace", "edit/audit.laurel.jsonl"]) {
      expect(auditFormat.detect(lines(join(FID, f)).slice(0, 200), f)).toBe(0);
    }
    expect(
      auditFormat.detect(lines(join(ROOT, "test/fixtures/fidelity/jobs/full.strace")).slice(0, 200), "x"),
    ).toBe(0);
  });
});
