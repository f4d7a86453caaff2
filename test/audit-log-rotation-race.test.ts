import { appendFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { AuditCaptureFilter, AuditLogTail } from "../src/capture/audit-log-filter.js";
import { tempDir } from "./helpers/cli.js";

/**
 * auditd writes its last records to a log and then renames it. The follower can find the end of
 * the old file just before that write and see the new file just after the rename. Here the write
 * and the rotation happen exactly in that gap (inside the follower's stat of the path), every
 * time, so a follower that switches files without reading the old one again loses the record.
 */

const gap: { before: (() => void) | null } = { before: null };

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const stat = (async (...args: Parameters<typeof real.stat>) => {
    const act = gap.before;
    gap.before = null;
    act?.();
    return real.stat(...args);
  }) as typeof real.stat;
  return { ...real, default: { ...real, stat }, stat };
});

const idOf = (l: string) => /msg=audit\(([^)]+)\)/.exec(l)?.[1] ?? "";
const rec = (serial: number, key: string) =>
  `type=SYSCALL msg=audit(3.000:${serial}): arch=c000003e syscall=257 success=yes exit=3 pid=5 ses=4294967295 key="${key}"`;

describe("capture log follower: a rotation right after the end was read", () => {
  it("reads the old file's last records before it follows the new one", async () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, `${rec(1, "mine")}\n`);
    const st = statSync(log);
    const tail = new AuditLogTail({
      path: log,
      start: { ino: st.ino, size: st.size },
      filter: new AuditCaptureFilter({ key: "mine", session: 1 }),
      out: join(dir, "kept.log"),
      pollMs: 5,
    });
    let rotated = false;
    gap.before = () => {
      appendFileSync(log, `${rec(2, "mine")}\n${rec(3, "other")}\n${rec(4, "mine")}\n`);
      renameSync(log, `${log}.1`);
      writeFileSync(log, `${rec(5, "mine")}\n`);
      rotated = true;
    };
    const got: string[] = [];
    const reading = (async () => {
      for await (const b of tail.batches()) got.push(...b.lines);
    })();
    while (!rotated) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    tail.finish();
    await reading;
    expect(got.map(idOf)).toEqual(["3.000:2", "3.000:4", "3.000:5"]);
  });
});
