import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { splitArgs } from "../src/sources/strace/strace-args.js";
import { SyscallInterpreter } from "../src/sources/syscalls/syscall-interpreter.js";
import type { StraceNotice, SyscallRecord } from "../src/sources/syscalls/syscall-record.js";
import { CORPUS } from "./helpers/cli.js";

/** A minimal strace line reader for tests (the real one lives in src/sources/strace/). */
function miniStrace(text: string, ffPid?: number): Array<SyscallRecord | StraceNotice> {
  const out: Array<SyscallRecord | StraceNotice> = [];
  const pending = new Map<string, { body: string; ts: number; line: number }>();
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    let l = lines[n] as string;
    if (l.length === 0) continue;
    const lineNo = n + 1;
    let tid = ffPid ?? 0;
    if (ffPid === undefined) {
      const m = /^(\d+) +/.exec(l);
      if (!m) continue;
      tid = Number(m[1]);
      l = l.slice(m[0].length);
    }
    let ts = lineNo;
    const t = /^(\d+):(\d+):(\d+)\.(\d+) /.exec(l);
    if (t) {
      ts = ((Number(t[1]) * 60 + Number(t[2])) * 60 + Number(t[3])) * 1e6 + Number(t[4]);
      l = l.slice(t[0].length);
    } else {
      const e = /^(\d+)\.(\d+) /.exec(l);
      if (e) {
        ts = Number(e[1]) * 1e6 + Number(e[2]);
        l = l.slice(e[0].length);
      }
    }
    if (l.startsWith("--- ")) {
      const m = /^--- (\w+) (.*) ---$/.exec(l);
      if (m)
        out.push({ type: "signal", tid, ts, signal: m[1] as string, info: m[2] as string, line: lineNo });
      continue;
    }
    if (l.startsWith("+++ ")) {
      const e = /^\+\+\+ exited with (\d+) \+\+\+/.exec(l);
      if (e) out.push({ type: "exited", tid, ts, code: Number(e[1]), line: lineNo });
      const k = /^\+\+\+ killed by (\w+)( \(core dumped\))? \+\+\+/.exec(l);
      if (k) out.push({ type: "killed", tid, ts, signal: k[1] as string, coreDumped: !!k[2], line: lineNo });
      continue;
    }
    let body: string;
    let first = { ts, line: lineNo };
    if (l.startsWith("<... ")) {
      const m = /^<\.\.\. (\w+) resumed>/.exec(l);
      if (!m) continue;
      const key = `${tid}:${m[1]}`;
      const p = pending.get(key);
      if (!p) continue;
      pending.delete(key);
      body = p.body + l.slice(m[0].length);
      first = { ts: p.ts, line: p.line };
    } else if (l.endsWith(" <unfinished ...>")) {
      const m = /^(\w+)\(/.exec(l);
      if (!m) continue;
      pending.set(`${tid}:${m[1]}`, { body: l.slice(0, -" <unfinished ...>".length), ts, line: lineNo });
      continue;
    } else body = l;
    const m = /^(\w+)\(/.exec(body);
    if (!m) continue;
    const name = m[1] as string;
    const eq = body.lastIndexOf(" = ");
    if (eq < 0) continue;
    const close = body.lastIndexOf(")", eq);
    const args = splitArgs(body.slice(name.length + 1, close));
    let rest = body.slice(eq + 3);
    let dur: number | undefined;
    const d = / <(\d+\.\d+)>$/.exec(rest);
    if (d) {
      dur = Math.round(Number(d[1]) * 1e6);
      rest = rest.slice(0, d.index);
    }
    const rec: SyscallRecord = { tid, ts: first.ts, name, args, ret: rest, line: first.line };
    const er = /^(-?\d+|\?) (E[A-Z0-9]+) \(/.exec(rest);
    if (er) {
      rec.ret = er[1] as string;
      rec.errno = er[2];
    }
    if (rec.ret.startsWith("?")) {
      rec.incomplete = rec.errno === undefined;
      rec.ret = "?";
    } else {
      const v = /^(-?0x[0-9a-f]+|-?\d+)/.exec(rec.ret);
      if (v) rec.retval = Number(v[1]);
    }
    if (dur !== undefined) rec.dur = dur;
    out.push(rec);
  }
  return out;
}

type Item = SyscallRecord | StraceNotice;

function run(
  items: Item[],
  opts: { decorations?: boolean; cwd?: string; attach?: boolean } = {},
): ProvEvent[] {
  const it = new SyscallInterpreter({
    file: "t",
    ctx: { host: "h", cwd: opts.cwd },
    decorations: opts.decorations ?? true,
    attach: opts.attach,
  });
  return [...it.feed(items), ...it.end()];
}

function runFile(path: string, opts: { decorations?: boolean; cwd?: string } = {}): ProvEvent[] {
  return run(miniStrace(readFileSync(path, "latin1")), opts);
}

function ofKind<K extends ProvEvent["kind"]>(
  evs: ProvEvent[],
  kind: K,
): Array<Extract<ProvEvent, { kind: K }>> {
  return evs.filter((e): e is Extract<ProvEvent, { kind: K }> => e.kind === kind);
}

/** the ff/ files of a fidelity workload, merged by timestamp (pid from the file name) */
function ffItems(workload: string): Item[] {
  const dir = `${CORPUS}/fidelity/${workload}/ff`;
  const items: Item[] = [];
  for (const f of readdirSync(dir)) {
    items.push(...miniStrace(readFileSync(`${dir}/${f}`, "latin1"), Number(f.split(".")[1])));
  }
  return items.sort((a, b) => a.ts - b.ts);
}

interface Oracle {
  created: string[];
  deleted: string[];
  renamed: Array<[string, string]>;
  dirsCreated: string[];
}

function created(evs: ProvEvent[]): Set<string> {
  const s = new Set<string>();
  for (const e of evs) {
    if (e.kind !== "access" || e.res.type !== "file" || !e.ok) continue;
    if ((e.op === "open" && e.create) || e.op === "create" || e.op === "symlink") s.add(e.res.path);
  }
  return s;
}

/** sed -i and mkstemp pick random names: each capture has its own; compare the rest exactly */
const RANDOM = /\/(sed[A-Za-z0-9]{6}|\.res-[a-z0-9_]{8})$/;

describe("SyscallInterpreter on the fidelity corpus (kernel oracle)", () => {
  for (const w of ["archive", "edit", "pyproc"]) {
    const oracle = JSON.parse(readFileSync(`${CORPUS}/fidelity/${w}/oracle.json`, "utf8")) as Oracle;
    const root = `/tmp/pf-fidelity/${w}`;
    for (const [kind, evs] of [
      ["full.strace (-yy)", runFile(`${CORPUS}/fidelity/${w}/full.strace`)],
      ["ff/ (no -y)", run(ffItems(w), { decorations: false, cwd: root })],
    ] as const) {
      it(`${w} ${kind}: created files and directories match the oracle`, () => {
        const c = [...created(evs)];
        const mine = c.filter((p) => p.startsWith(`${root}/`) && !RANDOM.test(p)).sort();
        expect(mine).toEqual(oracle.created.filter((p) => !RANDOM.test(p)).sort());
        // nothing outside the workload is claimed as created (/dev/null redirections are devices)
        expect(c.filter((p) => !p.startsWith(`${root}/`))).toEqual([]);
        // exactly one random temporary name per random name in the oracle
        expect(c.filter((p) => RANDOM.test(p)).length).toBe(
          oracle.created.filter((p) => RANDOM.test(p)).length,
        );
        const dirs = ofKind(evs, "access")
          .filter((e) => e.op === "mkdir" && e.ok && e.res.type === "file")
          .map((e) => (e.res.type === "file" ? e.res.path : ""));
        expect([...new Set(dirs)].sort()).toEqual([...oracle.dirsCreated].sort());
        const renames = ofKind(evs, "rename")
          .filter((e) => e.ok)
          .map((e) => [RANDOM.test(e.from) ? "R" : e.from, e.to]);
        expect(renames).toEqual(oracle.renamed.map(([a, b]) => [RANDOM.test(a) ? "R" : a, b]));
        expect(ofKind(evs, "problem")).toEqual([]);
      });
    }
  }

  it("archive: 19 processes (grep -c 'vfork\\|clone' on the full log gives 18 children + the root), all exited 0", () => {
    const evs = runFile(`${CORPUS}/fidelity/archive/full.strace`);
    const starts = ofKind(evs, "process.start");
    expect(new Set(starts.map((s) => s.pid)).size).toBe(19);
    expect(starts.filter((s) => s.ppid === null)).toHaveLength(1);
    const exits = ofKind(evs, "process.exit");
    expect(exits).toHaveLength(19);
    expect(exits.every((e) => e.code === 0)).toBe(true);
    // the executed programs of the oracle, as called (dash via /bin/sh → ./archive.sh shebang)
    const exes = new Set(
      ofKind(evs, "process.exec")
        .filter((e) => e.ok)
        .map((e) => e.exe.replace(/^\/bin\//, "/usr/bin/")),
    );
    for (const p of [
      "/usr/bin/find",
      "/usr/bin/gzip",
      "/usr/bin/md5sum",
      "/usr/bin/sort",
      "/usr/bin/tar",
      "/usr/bin/xargs",
    ]) {
      expect(exes.has(p)).toBe(true);
    }
  });

  it("edit dockit.strace (-qq, no +++ lines): exits come from wait4 / exit_group", () => {
    const text = readFileSync(`${CORPUS}/fidelity/edit/dockit.strace`, "latin1");
    expect(text.includes("+++")).toBe(false);
    const evs = run(miniStrace(text));
    const starts = new Set(ofKind(evs, "process.start").map((e) => e.pid));
    const exits = ofKind(evs, "process.exit");
    // 9 children (vfork) + the root shell: every one has an exit, code 0 (the workload ran with set -e)
    expect(starts.size).toBe(10);
    expect(new Set(exits.map((e) => e.pid))).toEqual(starts);
    expect(exits.every((e) => e.code === 0)).toBe(true);
  });
});

/** interpret a few real lines (quoted from the corpus file named in each test) */
function lines(...ls: string[]): ProvEvent[] {
  return run(miniStrace(ls.join("\n")));
}

describe("SyscallInterpreter rules (real lines)", () => {
  it("clone of a process vs clone3 CLONE_THREAD; child lines before the clone returns are attributed", () => {
    // strace-local/pipeline.strace l.59 (a process)
    const p = lines(
      "25898 02:27:14.838410 pipe2([3<pipe:[53435]>, 4<pipe:[53435]>], 0) = 0 <0.000074>",
      "25899 02:27:14.839000 close(3<pipe:[53435]>) = 0 <0.000010>",
      "25898 02:27:14.838590 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f389f23ea10) = 25899 <0.000308>",
    );
    const starts = ofKind(p, "process.start");
    expect(starts.map((s) => [s.pid, s.ppid, s.via])).toEqual([
      [25898, null, "root"],
      [25899, 25898, "clone"],
    ]);
    // the child's close, held until the clone returned, comes after its start and names the pipe
    const close = ofKind(p, "call").find((c) => c.pid === 25899);
    expect(close?.resource).toBe("pipe:[53435]");
    expect(p.indexOf(close as ProvEvent)).toBeGreaterThan(p.indexOf(starts[1] as ProvEvent));

    // strace-local/python-sockets.strace: the server thread 26733 (clone3 with CLONE_THREAD)
    const t = lines(
      "26732 02:27:40.109639 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[55535]> <0.000025>",
      '26733 02:27:40.112671 accept4(3<TCP:[127.0.0.1:40023]>, {sa_family=AF_INET, sin_port=htons(47862), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:40023->127.0.0.1:47862]> <0.005049>',
      "26732 02:27:40.111198 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fcde99a9990, parent_tid=0x7fcde99a9990, exit_signal=0, stack=0x7fcde91a9000, stack_size=0x7fff80, tls=0x7fcde99a96c0} => {parent_tid=[26733]}, 88) = 26733 <0.000054>",
      "26733 02:27:41.000000 +++ exited with 0 +++",
    );
    expect(ofKind(t, "process.start")).toHaveLength(1);
    expect(ofKind(t, "thread.start").map((e) => [e.pid, e.newTid])).toEqual([[26732, 26733]]);
    const acc = ofKind(t, "socket").find((e) => e.op === "accept");
    expect(acc).toMatchObject({ pid: 26732, tid: 26733, address: "127.0.0.1:47862", fd: 4 });
    expect(acc?.res).toEqual({
      type: "socket",
      family: "inet",
      protocol: "TCP",
      local: "127.0.0.1:40023",
      remote: "127.0.0.1:47862",
    });
    // a thread's exit is not the process's
    expect(ofKind(t, "process.exit")).toHaveLength(0);
  });

  it("a tid never announced is started with ppid null at the end", () => {
    const evs = lines(
      "26732 02:27:40.010025 getpid() = 26732 <0.000010>",
      "26999 02:27:40.010100 getpid() = 26999 <0.000010>",
    );
    expect(ofKind(evs, "process.start").map((s) => [s.pid, s.ppid, s.via])).toEqual([
      [26732, null, "root"],
      [26999, null, "unknown"],
    ]);
  });

  it("execve: ok with argv and envCount, failed PATH probes ok:false; cwd from AT_FDCWD", () => {
    // strace-local/python-sockets.strace l.1 and l.1571
    const evs = lines(
      '26732 02:27:40.010025 execve("/root/.pyenv/versions/3.11.7/bin/python3", ["/root/.pyenv/versions/3.11.7/bin/python3", "sock.py"], 0x7fffbc25f760 /* 35 vars */) = 0 <0.000174>',
      '26732 02:27:40.011000 openat(AT_FDCWD</tmp/pfwork>, "sock.py", O_RDONLY|O_CLOEXEC) = 3</tmp/pfwork/sock.py> <0.000017>',
      '26732 02:27:40.138419 execve("/root/.cargo/bin/uname", ["uname", "-s"], 0x7ffdb2c2bae0 /* 35 vars */) = -1 ENOENT (No such file or directory) <0.000041>',
    );
    const ex = ofKind(evs, "process.exec");
    expect(ex[0]).toMatchObject({
      exe: "/root/.pyenv/versions/3.11.7/bin/python3",
      argv: ["/root/.pyenv/versions/3.11.7/bin/python3", "sock.py"],
      envCount: 35,
      ok: true,
    });
    expect(ex[1]).toMatchObject({
      exe: "/root/.cargo/bin/uname",
      argv: ["uname", "-s"],
      ok: false,
      errno: "ENOENT",
    });
    expect(ex[1]?.cwd).toBe("/tmp/pfwork");
  });

  it("exits: +++ exited, +++ killed by, wait4 statuses, SIGCHLD with si_pid", () => {
    // strace-local/signals.strace l.539-544 and l.614-615
    const evs = lines(
      "26200 02:27:18.950000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 26201 <0.000100>",
      "26201 02:27:19.170028 +++ killed by SIGKILL +++",
      "26200 02:27:19.170100 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=26201, si_uid=0, si_status=SIGKILL, si_utime=0, si_stime=0} ---",
      "26200 02:27:19.170156 wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], WNOHANG, NULL) = 26201 <0.000027>",
    );
    expect(ofKind(evs, "process.exit")).toMatchObject([{ pid: 26201, signal: "SIGKILL", coreDumped: false }]);
    expect(ofKind(evs, "process.wait")).toMatchObject([{ pid: 26200, child: 26201, signal: "SIGKILL" }]);
    expect(ofKind(evs, "process.signal")).toMatchObject([
      { pid: 26200, signal: "SIGCHLD", from: 26201, code: "CLD_KILLED" },
    ]);
  });

  it("-qq logs: exit_group code, emitted at the parent's wait4 (fidelity/edit/dockit.strace style)", () => {
    const evs = lines(
      "4488  03:07:02.588777 vfork() = 4489 <0.000417>",
      "4489  03:07:02.595886 exit_group(3)     = ?",
      "4488  03:07:02.596230 wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 4489 <0.006915>",
      "4488  03:07:02.600000 exit_group(0)     = ?",
    );
    const exits = ofKind(evs, "process.exit");
    expect(exits.map((e) => [e.pid, e.code])).toEqual([
      [4489, 3],
      [4488, 0],
    ]);
    // the child's exit carries the exit_group's time, not the wait's
    expect(exits[0]?.at?.line).toBe(2);
  });

  it("open flags, read bytes, fd decorations, devices are never created", () => {
    // fidelity/edit/full.strace
    const evs = lines(
      '4488  03:07:02.596393 openat(AT_FDCWD</tmp/pf-fidelity/edit>, "a/b/f.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</tmp/pf-fidelity/edit/a/b/f.txt> <0.000051>',
      '4488  03:07:02.596706 write(1</tmp/pf-fidelity/edit/a/b/f.txt>, "alpha\\nbeta\\n", 11) = 11 <0.000020>',
      '4488  03:07:02.586603 read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, "\\177ELF\\2\\1\\1\\3"..., 832) = 832 <0.000011>',
      '4488  03:07:02.596400 openat(AT_FDCWD</tmp/pf-fidelity/edit>, "/dev/null", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</dev/null<char 1:3>> <0.000050>',
    );
    const acc = ofKind(evs, "access");
    expect(acc[0]).toMatchObject({
      op: "open",
      res: { type: "file", path: "/tmp/pf-fidelity/edit/a/b/f.txt" },
      read: false,
      write: true,
      create: true,
      truncate: true,
      fd: 3,
      ok: true,
    });
    expect(acc[1]).toMatchObject({ op: "write", bytes: 11, fd: 1 });
    expect(acc[2]).toMatchObject({
      op: "read",
      bytes: 832,
      res: { path: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    });
    expect(acc[3]).toMatchObject({
      res: { type: "device", path: "/dev/null", major: 1, minor: 3, kind: "char" },
      create: false,
    });
    const calls = ofKind(evs, "call");
    expect(calls.map((c) => [c.name, c.resource, c.bytes, c.dur])).toEqual([
      ["openat", "/tmp/pf-fidelity/edit/a/b/f.txt", undefined, 51],
      ["write", "/tmp/pf-fidelity/edit/a/b/f.txt", 11, 20],
      ["read", "/usr/lib/x86_64-linux-gnu/libc.so.6", 832, 11],
      ["openat", "/dev/null", undefined, 50],
    ]);
  });

  it("relative paths: fchdir to a decorated fd (mkdir -p) and chdir (git)", () => {
    // fidelity/edit/full.strace (mkdir -p a/b)
    const a = lines(
      '4489  03:07:02.595477 mkdir("a", 0777)  = 0 <0.000079>',
      '4489  03:07:02.595580 openat(AT_FDCWD</tmp/pf-fidelity/edit>, "a", O_RDONLY|O_NOCTTY|O_NONBLOCK|O_NOFOLLOW|O_DIRECTORY) = 3</tmp/pf-fidelity/edit/a> <0.000011>',
      "4489  03:07:02.595628 fchdir(3</tmp/pf-fidelity/edit/a>) = 0 <0.000009>",
      '4489  03:07:02.595699 mkdir("b", 0777)  = 0 <0.000053>',
    );
    const mk = ofKind(a, "access").filter((e) => e.op === "mkdir");
    // the first mkdir comes before any decoration: no cwd known yet, the path stays relative
    expect(mk.map((e) => (e.res.type === "file" ? e.res.path : ""))).toEqual([
      "a",
      "/tmp/pf-fidelity/edit/a/b",
    ]);
    expect(ofKind(a, "process.chdir")).toMatchObject([{ cwd: "/tmp/pf-fidelity/edit/a" }]);
    // strace-local/git-add-commit.strace l.218, l.283, l.297, l.303
    const g = lines(
      '26117 02:27:18.134295 chdir("/tmp/pfwork/gitrepo") = 0 <0.000011>',
      '26117 02:27:18.137239 mkdir(".git/objects/ce", 0777) = 0 <0.000119>',
      '26117 02:27:18.138085 unlink(".git/objects/ce/tmp_obj_MGi7c0") = 0 <0.000016>',
      '26117 02:27:18.138347 rename("/tmp/pfwork/gitrepo/.git/index.lock", "/tmp/pfwork/gitrepo/.git/index") = 0 <0.000027>',
    );
    const ops = ofKind(g, "access").map((e) => [e.op, e.res.type === "file" ? e.res.path : ""]);
    expect(ops).toEqual([
      ["mkdir", "/tmp/pfwork/gitrepo/.git/objects/ce"],
      ["delete", "/tmp/pfwork/gitrepo/.git/objects/ce/tmp_obj_MGi7c0"],
    ]);
    expect(ofKind(g, "rename")).toMatchObject([
      { from: "/tmp/pfwork/gitrepo/.git/index.lock", to: "/tmp/pfwork/gitrepo/.git/index", ok: true },
    ]);
  });

  it("sockets with -yy decorations: socket, bind, listen, connect, send", () => {
    // strace-local/python-sockets.strace
    const evs = lines(
      "26732 02:27:40.109639 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[55535]> <0.000025>",
      '26732 02:27:40.110318 bind(3<TCP:[55535]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000019>',
      "26732 02:27:40.110615 listen(3<TCP:[127.0.0.1:40023]>, 1) = 0 <0.000014>",
      '26732 02:27:40.116728 connect(5<TCP:[55544]>, {sa_family=AF_INET, sin_port=htons(40023), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000091>',
      '26732 02:27:40.117319 sendto(5<TCP:[127.0.0.1:47862->127.0.0.1:40023]>, "select name, email from users where id = 42;", 44, 0, NULL, 0) = 44 <0.000100>',
    );
    const s = ofKind(evs, "socket");
    expect(s.map((e) => [e.op, e.address, e.bytes])).toEqual([
      ["socket", undefined, undefined],
      ["bind", "127.0.0.1:0", undefined],
      ["listen", undefined, undefined],
      ["connect", "127.0.0.1:40023", undefined],
      ["send", undefined, 44],
    ]);
    expect(s[0]?.res).toEqual({ type: "socket", family: "inet", protocol: "TCP", inode: "55535" });
    expect(s[4]?.res).toMatchObject({ local: "127.0.0.1:47862", remote: "127.0.0.1:40023" });
    expect(ofKind(evs, "call")[4]?.resource).toBe("TCP:[127.0.0.1:47862->127.0.0.1:40023]");
  });

  it("without decorations (ff/): unix socket by sockaddr, bind creates the socket file, pipes via the fd table", () => {
    const py = run(ffItems("pyproc"), { decorations: false, cwd: "/tmp/pf-fidelity/pyproc" });
    const s = ofKind(py, "socket");
    // ff.4815 l.1862-1863, l.1874-1875
    expect(s.find((e) => e.op === "bind")).toMatchObject({
      address: "s.sock",
      res: { family: "unix", local: "s.sock" },
    });
    expect(s.find((e) => e.op === "connect")).toMatchObject({
      address: "s.sock",
      res: { family: "unix", remote: "s.sock" },
    });
    expect(ofKind(py, "access").find((e) => e.op === "create")?.res).toEqual({
      type: "file",
      path: "/tmp/pf-fidelity/pyproc/s.sock",
    });
    // archive ff.4660 l.178 pipe2([3, 4]) then clone 4668 (find: dup2(4, 1), write(1…) = 48) and
    // 4669 (sort: dup2(3, 0), read(0…) = 48): both name the same synthetic pipe
    const ar = run(ffItems("archive"), { decorations: false, cwd: "/tmp/pf-fidelity/archive" });
    const pipe = ofKind(ar, "pipe")[0];
    expect(pipe?.pid).toBe(4660);
    expect(pipe?.fds).toEqual([3, 4]);
    const w = ofKind(ar, "access").find((e) => e.pid === 4668 && e.op === "write");
    const r = ofKind(ar, "access").find((e) => e.pid === 4669 && e.op === "read" && e.res.type === "pipe");
    expect(w).toMatchObject({ bytes: 48, fd: 1, res: pipe?.res });
    expect(r).toMatchObject({ bytes: 48, fd: 0, res: pipe?.res });
    // find's exec dropped no inherited pipe end: fd 1 is still the pipe after execve
    expect(ofKind(ar, "process.exec").find((e) => e.pid === 4668)?.argv).toEqual([
      "find",
      "data",
      "-type",
      "f",
    ]);
  });

  it("pipe2 with decorations", () => {
    // strace-local/pipeline.strace l.58
    const evs = lines("25898 02:27:14.838410 pipe2([3<pipe:[53435]>, 4<pipe:[53435]>], 0) = 0 <0.000074>");
    expect(ofKind(evs, "pipe")).toMatchObject([
      { res: { type: "pipe", inode: "53435" }, fds: [3, 4], call: "pipe2" },
    ]);
  });

  it("incomplete calls: only the call event, ok false; exit_group still records the code", () => {
    // strace-local/signals.strace l.535: `<... clock_nanosleep resumed> <unfinished ...>) = ?` (killed mid-call)
    const recs: Item[] = [
      {
        tid: 26201,
        ts: 1,
        name: "clock_nanosleep",
        args: ["CLOCK_REALTIME", "0", "{tv_sec=30, tv_nsec=0}"],
        ret: "?",
        incomplete: true,
        line: 535,
      },
      {
        tid: 26201,
        ts: 2,
        name: "openat",
        args: ["AT_FDCWD</tmp>", '"x"', "O_WRONLY|O_CREAT"],
        ret: "?",
        incomplete: true,
        line: 536,
      },
      { tid: 26201, ts: 3, name: "exit_group", args: ["2"], ret: "?", incomplete: true, line: 537 },
    ];
    const evs = run(recs);
    expect(ofKind(evs, "access")).toEqual([]);
    expect(ofKind(evs, "call").map((c) => [c.name, c.ok])).toEqual([
      ["clock_nanosleep", false],
      ["openat", false],
      ["exit_group", false],
    ]);
    expect(ofKind(evs, "process.exit")).toMatchObject([{ pid: 26201, code: 2 }]);
  });

  it("problems: an unreadable argv or path is reported with file and line, never thrown", () => {
    const recs: Item[] = [
      {
        tid: 7,
        ts: 1,
        name: "execve",
        args: ['"/bin/ls"', '["ls", garbage', "0x0"],
        ret: "0",
        retval: 0,
        line: 10,
      },
      { tid: 7, ts: 2, name: "unlink", args: ["?!"], ret: "0", retval: 0, line: 11 },
      { tid: 7, ts: 3, name: "frobnicate", args: [], ret: "0", retval: 0, line: 12 },
      { tid: 7, ts: 4, name: "clone", args: [], ret: "", line: 13 },
    ];
    const evs = run(recs);
    expect(ofKind(evs, "problem").map((p) => [p.at.file, p.at.line])).toEqual([
      ["t", 10],
      ["t", 11],
      ["t", 13],
    ]);
    // unknown calls are just calls
    expect(ofKind(evs, "call").map((c) => c.name)).toEqual(["execve", "unlink", "frobnicate", "clone"]);
  });

  it("splitArgs keeps decorations, structs, strings and arrays whole", () => {
    expect(
      splitArgs('5<TCP:[127.0.0.1:47862->127.0.0.1:40023]>, "a, b", [1, 2], {x=1, y=2}, AT_FDCWD</tmp>'),
    ).toEqual([
      "5<TCP:[127.0.0.1:47862->127.0.0.1:40023]>",
      '"a, b"',
      "[1, 2]",
      "{x=1, y=2}",
      "AT_FDCWD</tmp>",
    ]);
  });
});

describe("SyscallInterpreter over the whole strace-local corpus", () => {
  it("threads.strace: 1 process, 4 threads by clone3, one exit", () => {
    const evs = runFile(`${CORPUS}/strace-local/threads.strace`);
    expect(ofKind(evs, "process.start")).toHaveLength(1);
    expect(ofKind(evs, "thread.start")).toHaveLength(4);
    expect(ofKind(evs, "process.exit")).toHaveLength(1);
    // every thread writes /tmp/pfwork/thread_N.txt, attributed to the process with its tid
    const w = ofKind(evs, "access").filter(
      (e) => e.op === "open" && e.res.type === "file" && /thread_\d\.txt$/.test(e.res.path),
    );
    expect(w).toHaveLength(4);
    expect(new Set(w.map((e) => e.pid)).size).toBe(1);
    expect(new Set(w.map((e) => e.tid)).size).toBe(4);
  });

  it("signals.strace: killed by SIGKILL, SIGTERM, SIGSEGV; one process exit per process start", () => {
    const evs = runFile(`${CORPUS}/strace-local/signals.strace`);
    const sig = ofKind(evs, "process.exit")
      .filter((e) => e.signal !== undefined)
      .map((e) => e.signal);
    // grep -c 'killed by' signals.strace → SIGKILL, SIGTERM, SIGPIPE (yes), SIGSEGV
    expect(sig.sort()).toEqual(["SIGKILL", "SIGPIPE", "SIGSEGV", "SIGTERM"]);
    expect(new Set(ofKind(evs, "process.exit").map((e) => e.pid)).size).toBe(
      new Set(ofKind(evs, "process.start").map((e) => e.pid)).size,
    );
    expect(ofKind(evs, "problem")).toEqual([]);
  });
});
