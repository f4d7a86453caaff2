import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type AuditRecord,
  execveArgv,
  parseAuditLine,
  proctitleArgv,
} from "../src/sources/audit/audit-record-parser.js";
import { decodeSockaddr } from "../src/sources/audit/audit-sockaddr.js";
import {
  AARCH64_ROWS,
  archIsBigEndian,
  archName,
  I386_ROWS,
  syscallName,
  X86_64_ROWS,
} from "../src/sources/audit/audit-syscall-names.js";
import { CORPUS as SHARED_CORPUS } from "./helpers/cli.js";

const CORPUS = join(SHARED_CORPUS, "audit");

function lines(rel: string): string[] {
  const all = readFileSync(`${CORPUS}/${rel}`, "latin1").split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}

function rec(line: string, n = 1): AuditRecord {
  const r = parseAuditLine(line, n);
  if (r === null || r.kind !== "record") throw new Error(`not a record: ${line.slice(0, 80)}`);
  return r;
}

describe("parseAuditLine", () => {
  it("reads a SYSCALL with node= prefix, header and key=values (laurel/record-execve.txt)", () => {
    const r = rec(lines("laurel/record-execve.txt").find((l) => l.includes("type=SYSCALL"))!);
    expect(r.node).toBe("work");
    expect(r.type).toBe("SYSCALL");
    expect(r.id).toBe("1615114232.375:15558");
    expect([r.sec, r.ms, r.serial]).toEqual([1615114232, 375, 15558]);
    expect(r.ts).toBe(1615114232375000);
    expect(r.fields.get("syscall")).toBe("59");
    expect(r.fields.get("pid")).toBe("10884");
    expect(r.fields.get("ppid")).toBe("10883");
    expect(r.fields.get("key")).toBeNull(); // key=(null)
  });

  it("decodes hex EXECVE arguments and the ENRICHED suffix (laurel/record-perl-reverse-shell.txt)", () => {
    const ls = lines("laurel/record-perl-reverse-shell.txt");
    const sys = rec(ls[0]!);
    expect(sys.fields.get("comm")).toBe("perl");
    expect(sys.fields.get("subj")).toBe("=unconfined");
    expect(sys.enriched?.get("SYSCALL")).toBe("execve");
    expect(sys.enriched?.get("AUID")).toBe("user");
    expect(sys.enriched?.get("ARCH")).toBe("x86_64");
    const ex = rec(ls[1]!);
    const args = execveArgv([ex]);
    expect(args.argc).toBe(3);
    expect(args.argv.slice(0, 2)).toEqual(["perl", "-e"]);
    expect(args.argv[2]!.startsWith('use Socket;$i="10.0.0.1";$p=1234;')).toBe(true);
    expect(args.complete).toBe(true);
    const pt = rec(ls.find((l) => l.includes("type=PROCTITLE"))!);
    const argv = proctitleArgv(pt.fields.get("proctitle"));
    expect(argv[0]).toBe("perl");
    expect(argv[1]).toBe("-e");
  });

  it("joins kernel-split EXECVE fragments a1_len/a1[i] (laurel/record-execve-long.txt)", () => {
    const ls = lines("laurel/record-execve-long.txt");
    const recs = ls.map((l, i) => rec(l, i + 1));
    expect(recs[1]!.argParts?.[0]).toMatchObject({ arg: 1, idx: 0, hex: true });
    const args = execveArgv(recs);
    expect(args.argc).toBe(2);
    expect(args.argv[0]).toBe("/bin/echo");
    // 16384 hex chars over three records (7464 + 7492 + 1428) → 8192 bytes "baaa…aaag"
    expect(args.argv[1]!.length).toBe(8192);
    expect(args.argv[1]!.startsWith("baaaa")).toBe(true);
    expect(args.argv[1]!.endsWith("aaaag")).toBe(true);
    expect(args.complete).toBe(true);
  });

  it("stays linear on a 100 KB argument split in 50 fragments", () => {
    const hex = "41".repeat(2000);
    const parts: string[] = [];
    for (let i = 0; i < 50; i++) parts.push(`type=EXECVE msg=audit(1.000:1): a0[${i}]=${hex}`);
    const head = `type=EXECVE msg=audit(1.000:1): argc=1 a0_len=${hex.length * 50}`;
    const t0 = performance.now();
    const args = execveArgv([head, ...parts].map((l) => rec(l)));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(args.argv[0]!.length).toBe(100_000);
    expect(args.complete).toBe(true);
  });

  it("parses user-space msg='…' with nested quotes (linux-audit-parser/line-user-auth-2.txt)", () => {
    const r = rec(lines("linux-audit-parser/line-user-auth-2.txt")[0]!);
    expect(r.issue).toBeUndefined();
    expect(r.fields.get("pid")).toBe("5519");
    expect(r.msg?.get("op")).toBe("PAM:authentication");
    expect(r.msg?.get("acct")).toBe("system-property('xsl:vendor')/>");
    expect(r.msg?.get("exe")).toBe("/usr/bin/python3.8");
    expect(r.msg?.get("res")).toBe("failed");
    expect(r.enriched?.get("AUID")).toBe("unset");
  });

  it("decodes hex inside user-space msg (linux-audit-parser/line-user-avc-1.txt)", () => {
    const r = rec(lines("linux-audit-parser/line-user-avc-1.txt")[0]!);
    expect(r.msg?.get("exe")).toBe("/usr/bin/dbus-daemon (deleted)");
    expect(r.msg?.get("seqno")).toBe("2"); // "(seqno=2)" in the free text
    expect(r.msg?.get("sauid")).toBe("81");
  });

  it("reads the 2007 PAM form (audit-userspace/auparse-test.log)", () => {
    const r = rec(lines("audit-userspace/auparse-test.log").find((l) => l.startsWith("type=USER_START"))!);
    expect(r.text).toBe("user PAM: session open :");
    expect(r.msg?.get("acct")).toBe("root");
    expect(r.msg?.get("exe")).toBe("/usr/sbin/crond");
    expect(r.msg?.get("terminal")).toBe("cron");
    expect(r.msg?.get("res")).toBe("success");
  });

  it("reads AVC text with a permission set (audit-userspace/auparse-test.log)", () => {
    const r = rec(lines("audit-userspace/auparse-test.log")[0]!);
    expect(r.type).toBe("AVC");
    expect(r.text).toBe("avc: denied for");
    expect(r.perms).toEqual(["read", "write"]);
    expect(r.fields.get("pid")).toBe("13010");
    expect(r.fields.get("name")).toBe("maildrop");
    expect(r.fields.get("tclass")).toBe("dir");
  });

  it("reads old free-text DAEMON_START lines (spade/unit_tests-pipe-1.bin.log)", () => {
    const r = rec(lines("spade/unit_tests-pipe-1.bin.log").find((l) => l.startsWith("type=DAEMON_START"))!);
    expect(r.text).toBe("auditd start,");
    expect(r.fields.get("ver")).toBe("2.3.2");
    expect(r.fields.get("format")).toBe("raw");
    expect(r.issue).toBeUndefined();
  });

  it("decodes TTY data and keeps the bare 'tty' word (linux-audit-parser/line-tty.txt)", () => {
    const r = rec(lines("linux-audit-parser/line-tty.txt")[0]!);
    expect(r.text).toBe("tty");
    expect(r.fields.get("data")).toBe("rpm -qa | grep syslog\r");
    expect(r.fields.get("comm")).toBe("bash");
  });

  it("reads UNKNOWN[n] types and the record with an empty subj= (linux-audit-parser)", () => {
    const u = rec(lines("linux-audit-parser/line-unknown.txt")[0]!);
    expect(u.type).toBe("UNKNOWN[1334]");
    expect(u.fields.get("prog-id")).toBe("45");
    const d = rec(lines("linux-audit-parser/line-daemon-end.txt")[0]!);
    expect(d.fields.get("subj")).toBe("");
    expect(d.fields.get("res")).toBe("success");
  });

  it("flags odd lines but keeps what it can read", () => {
    // go-libaudit/aucoalesce-extracted/ubuntu-16.10-linux-4.8.0.log line 26: truncated SERVICE_START
    const t = lines("go-libaudit/aucoalesce-extracted/ubuntu-16.10-linux-4.8.0.log")[25]!;
    const r = rec(t, 26);
    expect(r.issue).toMatch(/unterminated/);
    expect(r.msg?.get("unit")).toBe("rsyslog");
    // ubuntu-17.04-linux-4.10.0.log line 26: EXECVE with a stray trailing quote
    const e = rec(lines("go-libaudit/aucoalesce-extracted/ubuntu-17.04-linux-4.10.0.log")[25]!, 26);
    expect(e.issue).toMatch(/stray quote/);
    expect(execveArgv([e]).argv).toEqual(["docker", "inspect", "721df12151a7"]);
    // go-libaudit/auparse-audit-rhel7.log line 31: `type=UNKNOWN[1329] msg=?`
    const bad = parseAuditLine(lines("go-libaudit/auparse-audit-rhel7.log")[30]!, 31);
    expect(bad).toMatchObject({ kind: "error", line: 31 });
    expect(parseAuditLine("tests:", 1)).toMatchObject({ kind: "error" });
    expect(parseAuditLine("type=SYSCALL msg=audit(12x.1:2): a=1", 1)).toMatchObject({ kind: "error" });
    expect(parseAuditLine("# comment", 1)).toBeNull();
    expect(parseAuditLine("   ", 1)).toBeNull();
  });

  it("reads a file whose last line has no newline (beats/filebeat-execve-hex-arg.log)", () => {
    const raw = readFileSync(`${CORPUS}/beats/filebeat-execve-hex-arg.log`, "utf8");
    expect(raw.endsWith("\n")).toBe(false);
    const args = execveArgv([rec(raw)]);
    expect(args.argv).toEqual(["sh", "-c", 'echo \\"arg hex encoded\\"']);
  });
});

describe("decodeSockaddr", () => {
  it("decodes inet and inet6 (laurel/record-connect.txt)", () => {
    expect(decodeSockaddr("02002BCB7F0000010000000000000000")).toEqual({
      family: "inet",
      code: 2,
      addr: "127.0.0.1",
      port: 11211,
    });
    expect(decodeSockaddr("0A002BCB000000000000000000000000000000000000000100000000")).toMatchObject({
      family: "inet6",
      addr: "::1",
      port: 11211,
    });
  });

  it("decodes unix paths, netlink and unknown families", () => {
    // go-libaudit/reassembler-normal.log
    const u = decodeSockaddr(
      "01007075626C69632F7069636B7570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    );
    expect(u).toEqual({ family: "unix", code: 1, path: "public/pickup" });
    // linux-audit-parser/line-sockaddr-unix.txt
    const sa = rec(lines("linux-audit-parser/line-sockaddr-unix.txt")[0]!).fields.get("saddr")!;
    expect(decodeSockaddr(sa)?.path).toBe("/tmp/.{FD2DD8D4-F6AA-4D74-A6E1-AEFAB183DEEB}");
    expect(decodeSockaddr("100000000000000000000000")).toEqual({
      family: "netlink",
      code: 16,
      pid: 0,
      groups: 0,
    });
    expect(decodeSockaddr("00000000000000000000000000000000")).toEqual({ family: "other", code: 0 });
    expect(decodeSockaddr("0200ZZ")).toBeNull();
    expect(decodeSockaddr("0001006162")).toEqual({ family: "unix", code: 1, path: "@ab" });
  });

  it("reads a big-endian family (laurel/record-bind-ipv4-bigendian.txt, ppc64 nc -l -p 55555)", () => {
    const ls = lines("laurel/record-bind-ipv4-bigendian.txt");
    expect(archIsBigEndian(rec(ls[0]!).fields.get("arch")!)).toBe(true);
    const sa = rec(ls[1]!).fields.get("saddr")!;
    expect(decodeSockaddr(sa)).toEqual({ family: "inet", code: 2, addr: "0.0.0.0", port: 55555 });
    expect(decodeSockaddr(sa, true)?.port).toBe(55555);
  });
});

describe("syscall names", () => {
  it("has rows of ten names each", () => {
    for (const rows of [X86_64_ROWS, I386_ROWS, AARCH64_ROWS]) {
      for (let i = 0; i < rows.length; i++) {
        const [start, names] = rows[i]!;
        const next = rows[i + 1];
        if (next && next[0] === start + 10) expect(names.split(" ").length, `row ${start}`).toBe(10);
      }
    }
  });

  it("agrees with the ENRICHED SYSCALL= names of every corpus line that has one", () => {
    let checked = 0;
    for (const f of [
      "laurel/record-perl-reverse-shell.txt",
      "laurel/record-avc-apparmor.txt",
      "laurel/tree-00.txt",
      "laurel/record-nscd.txt",
      "laurel/record-adjntpval.txt",
      "laurel/record-service-start.txt",
      "linux-audit-parser/line-syscall.txt",
    ]) {
      for (const l of lines(f)) {
        const r = parseAuditLine(l, 1);
        if (r?.kind !== "record" || r.type !== "SYSCALL" || !r.enriched?.has("SYSCALL")) continue;
        const arch = r.fields.get("arch")!;
        expect(syscallName(arch, Number(r.fields.get("syscall"))), `${f}`).toBe(r.enriched.get("SYSCALL"));
        expect(archName(arch)).toBe(r.enriched.get("ARCH"));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it("names the calls provenance needs", () => {
    const x = (n: number) => syscallName("c000003e", n);
    expect([
      x(0),
      x(1),
      x(2),
      x(3),
      x(22),
      x(32),
      x(33),
      x(41),
      x(42),
      x(43),
      x(44),
      x(45),
      x(49),
      x(50),
    ]).toEqual([
      "read",
      "write",
      "open",
      "close",
      "pipe",
      "dup",
      "dup2",
      "socket",
      "connect",
      "accept",
      "sendto",
      "recvfrom",
      "bind",
      "listen",
    ]);
    expect([
      x(56),
      x(57),
      x(58),
      x(59),
      x(60),
      x(62),
      x(82),
      x(87),
      x(101),
      x(231),
      x(257),
      x(263),
      x(264),
    ]).toEqual([
      "clone",
      "fork",
      "vfork",
      "execve",
      "exit",
      "kill",
      "rename",
      "unlink",
      "ptrace",
      "exit_group",
      "openat",
      "unlinkat",
      "renameat",
    ]);
    expect([x(288), x(292), x(293), x(316), x(322), x(435), x(437), x(165), x(166)]).toEqual([
      "accept4",
      "dup3",
      "pipe2",
      "renameat2",
      "execveat",
      "clone3",
      "openat2",
      "mount",
      "umount2",
    ]);
    const a = (n: number) => syscallName("c00000b7", n);
    expect([
      a(56),
      a(57),
      a(63),
      a(64),
      a(93),
      a(94),
      a(203),
      a(220),
      a(221),
      a(276),
      a(281),
      a(435),
    ]).toEqual([
      "openat",
      "close",
      "read",
      "write",
      "exit",
      "exit_group",
      "connect",
      "clone",
      "execve",
      "renameat2",
      "execveat",
      "clone3",
    ]);
    const i = (n: number) => syscallName("40000003", n);
    expect([i(1), i(2), i(5), i(11), i(120), i(132), i(190), i(252), i(295), i(358), i(362), i(364)]).toEqual(
      [
        "exit",
        "fork",
        "open",
        "execve",
        "clone",
        "getpgid",
        "vfork",
        "exit_group",
        "openat",
        "execveat",
        "connect",
        "accept4",
      ],
    );
    expect(i(222)).toBeUndefined();
    expect(syscallName("deadbeef", 1)).toBeUndefined();
  });

  it("names the calls of SPADE's pipe test (spade/unit_tests-pipe-1.bin.log lines 335-340)", () => {
    const ls = lines("spade/unit_tests-pipe-1.bin.log");
    const names = [334, 338, 339].map((n) => {
      const r = rec(ls[n]!, n + 1);
      return syscallName(r.fields.get("arch")!, Number(r.fields.get("syscall")));
    });
    // pipe → FD_PAIR fd0=3 fd1=4; write 8 bytes to fd 4; read 8 bytes from fd 3
    expect(names).toEqual(["pipe", "write", "read"]);
    expect(rec(ls[335]!).fields.get("fd1")).toBe("4");
  });
});
