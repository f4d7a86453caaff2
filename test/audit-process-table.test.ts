import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/sources/audit/audit-event-grouper.js";
import { AuditProcessTable } from "../src/sources/audit/audit-process-table.js";
import { syscallName } from "../src/sources/audit/audit-syscall-names.js";
import { LaurelEnricher } from "../src/sources/audit/laurel-enrich.js";
import { LaurelEventOrderer } from "../src/sources/audit/laurel-order.js";
import { CORPUS as SHARED_CORPUS } from "./helpers/cli.js";

const CORPUS = join(SHARED_CORPUS, "audit");

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(log|txt)$/.test(e)) out.push(p);
  }
  return out;
}

/** the events of a log in laurel's order */
function events(path: string): AuditEvent[] {
  const o = new LaurelEventOrderer({ file: path });
  const items = o.push(readFileSync(path, "utf8").split("\n"), 1);
  items.push(...o.end());
  return items.filter((i): i is AuditEvent => i.kind === "audit.event");
}

type Obj = Record<string, unknown>;

/** the facts the kernel wrote in an event's SYSCALL record */
function facts(ev: AuditEvent) {
  const sc = ev.records.find((r) => r.type === "SYSCALL");
  if (!sc) return null;
  const f = sc.fields;
  const arch = f.get("arch") ?? "";
  return {
    pid: Number(f.get("pid")),
    ppid: Number(f.get("ppid")),
    exit: Number(f.get("exit")),
    name: syscallName(arch, Number(f.get("syscall"))) ?? "",
    comm: f.get("comm") ?? null,
  };
}

const FORKS = new Set(["clone", "clone3", "fork", "vfork"]);

describe("log-driven process table: what it says agrees with the kernel's own pid, ppid and exit fields", () => {
  const files = walk(CORPUS);
  it("reads the corpus", () => {
    expect(files.length).toBeGreaterThan(150);
  });
  it("names as parent, self and spawner only events that started that very pid (every corpus log)", () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const path of files) {
      const evs = events(path);
      // events by id (the part with the SYSCALL record when a late record made a second event)
      const byId = new Map<string, AuditEvent>();
      /** child pid → the pids that forked it, per the log */
      const forkers = new Map<number, Set<number>>();
      for (const e of evs) {
        const f = facts(e);
        if (f === null) continue;
        const k = e.node === "" ? e.id : `${e.node} ${e.id}`;
        if (!byId.has(k)) byId.set(k, e);
        if (FORKS.has(f.name) && f.exit > 0) {
          if (!forkers.has(f.exit)) forkers.set(f.exit, new Set());
          forkers.get(f.exit)!.add(f.pid);
        }
      }
      const enr = new LaurelEnricher({ pid: true, spawnedBy: true });
      /** did event `id` start process `pid`: its exec or first event by that pid, or a fork returning it */
      const started = (node: string, id: string, pid: number): boolean => {
        const ev = byId.get(node === "" ? id : `${node} ${id}`);
        const f = ev ? facts(ev) : null;
        if (!f) return false;
        return f.pid === pid || (FORKS.has(f.name) && f.exit === pid);
      };
      for (const ev of evs) {
        const line = enr.json(ev);
        const f = facts(ev);
        if (line === null || f === null) continue;
        const sc = (JSON.parse(line) as Obj).SYSCALL as Obj;
        const where = `${relative(CORPUS, path)} ${ev.id}`;
        const ppid = sc.PPID as Obj | undefined;
        if (ppid && !started(ev.node, ppid.EVENT_ID as string, f.ppid)) wrong.push(`${where}: PPID`);
        const pid = sc.PID as Obj | undefined;
        if (pid && !started(ev.node, pid.EVENT_ID as string, f.pid)) wrong.push(`${where}: PID`);
        const sp = sc.SPAWNED_BY as Obj | undefined;
        if (sp) {
          // the spawner is the parent (fork, fork+exec; the one that forked it when it was orphaned
          // since) or the program this pid ran before (plain exec)
          const p = sp.pid as number;
          if (p !== f.ppid && p !== f.pid && !forkers.get(f.pid)?.has(p))
            wrong.push(`${where}: SPAWNED_BY pid ${p}`);
          if (!started(ev.node, sp.EVENT_ID as string, sp.pid as number)) wrong.push(`${where}: SPAWNED_BY`);
        }
        if (pid) checked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  });
});

describe("process table on real sequences", () => {
  function run(rel: string, opts = {}) {
    const enr = new LaurelEnricher({ pid: true, spawnedBy: true, ...opts });
    const out = new Map<string, Obj>();
    for (const ev of events(join(CORPUS, rel))) {
      const j = enr.json(ev);
      if (j !== null) out.set(ev.id, JSON.parse(j) as Obj);
    }
    return { out, table: enr.table! };
  }
  const sc = (o: Obj | undefined) => (o?.SYSCALL ?? {}) as Obj;

  it("keeps a vforked child's exec although the vfork is logged after it (spade vfork.bin)", () => {
    // 16611 vforks 16612 (event …920.201:14849824, written when the parent resumes, after the child's
    // exec and exit); the child's own events name the exec, the parent's the vfork.bin program
    const { out } = run("spade/unit_tests-vfork.bin.log");
    const childExit = sc(out.get("1507314923.205:14849823"));
    expect(childExit.pid).toBe(16612);
    expect(sc(out.get("1507314920.201:14849824")).exit).toBe(16612);
    expect((childExit.PPID as Obj).EVENT_ID).toBe("1507314920.201:14849785");
    expect((childExit.PPID as Obj).exe).toBe("/home/vinod/SPADE-VINOD/SPADE/unit_tests/tests/vfork.bin");
  });

  it("does not take a thread's clone for a fork (CLONE_THREAD, spade nslookup)", () => {
    // this 2016 kernel writes the thread id as pid: the threads show up as processes of their own, first
    // seen at their own events, never as children forked by the clone
    const { table } = run("spade/input-audit_nslookup.log");
    const clones = ["1465934876.331:23826", "1465934876.331:23829", "1465934876.331:23833"];
    for (const tid of [4269, 4270, 4271]) {
      const p = table.get("", tid);
      if (p !== null) {
        expect(p.origin).toBe("observed");
        expect(clones).not.toContain(p.eventId);
      }
    }
    expect(table.get("", 4269)?.eventId).toBe("1465934876.335:23865");
    expect(table.stats.forks).toBe(1); // bash forking 4268 (…315:23639), the only real fork
  });

  it("follows pid reuse through the fork that creates the new process (laurel's shell-proc-trace-confusion)", () => {
    // pid 2655 ran rm earlier; csh then forks a new 2655 (…357:2638032), whose child execs id
    const { out } = run("laurel/shell-proc-trace-confusion.txt");
    const id = sc(out.get("1697091526.357:2638035"));
    expect(id.ppid).toBe(2655);
    expect(id.PPID).toEqual({
      EVENT_ID: "1697091526.357:2638032",
      comm: "csh",
      exe: "/bin/tcsh",
      ppid: 2542,
    });
    // fork+exec: the spawner of id is the forked csh, not the old rm
    expect((id.SPAWNED_BY as Obj).EVENT_ID).toBe("1697091526.357:2638032");
  });

  it("gives an exec the program it replaces as spawner when there was no fork (laurel's fork-sleep-exec)", () => {
    // 1578540 (a child of uncaring-parent, reparented to init) execs /bin/true
    const { out } = run("laurel/fork-sleep-exec.txt");
    const exec = sc(out.get("1783860945.368:6104008"));
    expect(exec.ppid).toBe(1);
    expect(exec.PPID).toBeUndefined();
    expect(exec.PID).toEqual({ EVENT_ID: "1783860945.368:6104008" });
    expect(exec.SPAWNED_BY).toEqual({
      EVENT_ID: "1783860945.368:6104007",
      pid: 1578540,
      comm: "uncaring-parent",
      exe: "/home/user/bin/uncaring-parent",
    });
  });
});

describe("AuditProcessTable bookkeeping", () => {
  const line = (t: string, serial: number, body: string) =>
    `type=SYSCALL msg=audit(${t}:${serial}): arch=c000003e ${body} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 key=(null)`;
  function feed(table: AuditProcessTable, lines: string[]) {
    const o = new LaurelEventOrderer({ file: "t" });
    const items = o.push(lines, 1);
    items.push(...o.end());
    for (const it of items) if (it.kind === "audit.event") table.observe(it);
  }

  it("forgets an exited process after the grace period, not before", () => {
    const t = new AuditProcessTable({ exitGraceMs: 10_000 });
    feed(t, [
      line("100.000", 1, 'syscall=59 success=yes exit=0 ppid=1 pid=50 comm="sh" exe="/bin/sh"'),
      line("101.000", 2, 'syscall=231 a0=0 ppid=1 pid=50 comm="sh" exe="/bin/sh"'),
      line("105.000", 3, 'syscall=0 success=yes exit=0 ppid=1 pid=60 comm="x" exe="/bin/x"'),
    ]);
    expect(t.get("", 50)?.exitMs).toBe(101_000);
    feed(t, [line("112.000", 4, 'syscall=0 success=yes exit=0 ppid=1 pid=60 comm="x" exe="/bin/x"')]);
    expect(t.get("", 50)).toBeNull();
    expect(t.stats.exits).toBe(1);
  });

  it("keeps one table per node and caps its size", () => {
    const t = new AuditProcessTable({ maxProcesses: 3 });
    const o = new LaurelEventOrderer({ file: "t" });
    const lines: string[] = [];
    for (let i = 0; i < 5; i++)
      lines.push(
        `node=n${i % 2} ${line(`200.00${i}`, 10 + i, `syscall=0 success=yes exit=0 ppid=1 pid=${70 + i} comm="a" exe="/a"`)}`,
      );
    const items = [...o.push(lines, 1), ...o.end()];
    for (const it of items) if (it.kind === "audit.event") t.observe(it);
    expect(t.count).toBe(3);
    expect(t.get("n0", 74)).not.toBeNull();
    expect(t.get("n1", 74)).toBeNull();
  });
});
