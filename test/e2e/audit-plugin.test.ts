import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, CORPUS, tempDir } from "../helpers/cli.js";

/**
 * Drives `provflow audit plugin` the way auditd drives a plugin: a child process whose stdin receives
 * records in the string format, in pieces (cut anywhere, even inside a line) with pauses, and is never
 * closed until the end; SIGHUP after the output file was moved away (logrotate), SIGTERM to stop.
 * The oracle is laurel 0.5.1's own output for the same records (corpus/audit-laurel-out/deterministic).
 */

const REF = join(CORPUS, "audit-laurel-out/deterministic");
const TREE = Array.from({ length: 17 }, (_, i) => `laurel/tree-${String(i).padStart(2, "0")}.txt`);

const raw = (rel: string) => readFileSync(join(CORPUS, "audit", rel), "utf8");
const ref = (rel: string) =>
  readFileSync(join(REF, `${rel}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown);
const parsed = (path: string) =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as unknown)
    : [];

/** an event without the SYSCALL.PID member */
function withoutPid(o: unknown): unknown {
  const e = o as Record<string, Record<string, unknown>>;
  if (!e.SYSCALL) return e;
  const { PID: _, ...sc } = e.SYSCALL;
  return { ...e, SYSCALL: sc };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await sleep(25);
  expect(cond(), what).toBe(true);
}

/** writes text to the child's stdin in uneven pieces, cutting lines, with short pauses */
async function feed(child: ChildProcess, text: string): Promise<void> {
  let i = 0;
  let n = 37;
  while (i < text.length) {
    child.stdin!.write(text.slice(i, i + n));
    i += n;
    n = (n * 7) % 401 || 53;
    await sleep(5);
  }
}

function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, "audit", "plugin", ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

describe("provflow audit plugin (auditd's plugin protocol on stdin)", () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  });

  it("writes each event as it closes, re-opens its output on SIGHUP and flushes what is open on SIGTERM", async () => {
    const dir = tempDir();
    const out = join(dir, "audit.jsonl");
    const p = start(["--output", out, "--idle-flush", "0"]);
    children.push(p.child);

    // the first six events, each ended by its EOE: they come out while stdin stays open
    await feed(p.child, TREE.slice(0, 6).map(raw).join(""));
    const first = TREE.slice(0, 6).flatMap(ref);
    await until(() => parsed(out).length === 6, "six events written while stdin is still open");
    expect(parsed(out)).toEqual(first);

    // logrotate: the file is moved away, then SIGHUP; what follows goes to a new file
    renameSync(out, `${out}.1`);
    p.child.kill("SIGHUP");
    await sleep(100);
    await feed(p.child, `this is not an audit record\n${TREE.slice(6).map(raw).join("")}`);
    const rest = TREE.slice(6).flatMap(ref);
    await until(() => parsed(out).length === rest.length, "the other events reach the new file");
    expect(parsed(`${out}.1`)).toEqual(first);
    expect(parsed(out)).toEqual(rest);

    // a record without EOE stays open (no idle flush here) until SIGTERM writes it
    const open = "linux-audit-parser/line-syscall.txt";
    await feed(p.child, raw(open));
    await sleep(200);
    expect(parsed(out).length).toBe(rest.length);
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(parsed(out)).toEqual([...rest, ...ref(open)]);
    expect(p.stderr()).toContain("this is not an audit record");
  });

  it("writes the last event after a moment without input, then ends cleanly at the end of stdin", async () => {
    const dir = tempDir();
    const out = join(dir, "audit.jsonl");
    const p = start(["--output", out, "--idle-flush", "200", "--pid", "--argv-str"]);
    children.push(p.child);
    const rel = "linux-audit-parser/line-syscall.txt";
    await feed(p.child, raw(rel));
    await until(() => parsed(out).length === 1, "the open event is written after the idle time");
    const ours = parsed(out) as Array<Record<string, Record<string, unknown>>>;
    // laurel's event plus our PID (the process was first seen here)
    expect(ours.map(withoutPid)).toEqual(ref(rel));
    expect(ours[0]!.SYSCALL!.PID).toEqual({ EVENT_ID: ours[0]!.ID });
    // a last line without a newline is read too (laurel refuses it)
    p.child.stdin!.end(raw("laurel/record-adjntpval.txt").trimEnd());
    expect(await p.exited).toBe(0);
    expect(parsed(out).slice(1).map(withoutPid)).toEqual(ref("laurel/record-adjntpval.txt"));
  });
});
