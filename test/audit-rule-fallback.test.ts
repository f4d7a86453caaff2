import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addExitRule, addSessionRule } from "../src/capture/audit-control.js";
import { CaptureError } from "../src/util/errors.js";
import { tempDir } from "./helpers/cli.js";

/**
 * The rules `provflow audit` and `provflow watch` add, against a stand-in auditctl first on PATH
 * that, like auditctl 3.0 on a newer kernel, does not know some call names, or refuses everything.
 * The real auditctl is exercised by the audit e2e tests; this checks the fallback they rarely hit.
 */

const dir = tempDir();
const calls = join(dir, "calls.log");
const fake = join(dir, "auditctl");
const oldPath = process.env.PATH;

beforeAll(() => {
  // refuses any -S list holding a name of $UNKNOWN (space-separated), or everything with $REFUSE
  writeFileSync(
    fake,
    `#!/bin/sh
echo "$*" >> "${calls}"
[ -n "$REFUSE" ] && { echo "Error sending add rule data request (Operation not permitted)" >&2; exit 1; }
prev=""
for a in "$@"; do
  if [ "$prev" = "-S" ]; then
    for u in $UNKNOWN; do
      case ",$a," in *",$u,"*) echo "Syscall name unknown: $u" >&2; exit 1;; esac
    done
  fi
  prev="$a"
done
exit 0
`,
  );
  chmodSync(fake, 0o755);
  process.env.PATH = `${dir}:${oldPath ?? ""}`;
});

afterAll(() => {
  process.env.PATH = oldPath;
  delete process.env.UNKNOWN;
  delete process.env.REFUSE;
});

const lines = () => readFileSync(calls, "utf8").trim().split("\n");
const reset = (unknown: string, refuse = false) => {
  writeFileSync(calls, "");
  process.env.UNKNOWN = unknown;
  if (refuse) process.env.REFUSE = "1";
  else delete process.env.REFUSE;
};
const x64 = { flag: "b64", arch: "c000003e" } as const;

describe("audit rules when auditctl does not know a call's name", () => {
  it("gives the call by its number on this architecture, and keeps the rule", () => {
    reset("execveat");
    const r = addExitRule(x64, ["execve", "execveat"], "uid=1234", "pf-w", "watch");
    // execveat is 322 on x86_64
    expect(r.args).toEqual([
      "-a",
      "always,exit",
      "-F",
      "arch=b64",
      "-S",
      "execve,322",
      "-F",
      "uid=1234",
      "-k",
      "pf-w",
    ]);
    expect(r.skipped).toEqual([]);
    expect(lines()).toHaveLength(2);
  });

  it("leaves out a call with no number here, and a call the architecture does not have", () => {
    reset("nosuchcall");
    const r = addExitRule(x64, ["execve", "nosuchcall"], "gid=5", "pf-w", "watch");
    expect(r.args[5]).toBe("execve");
    expect(r.skipped).toEqual(["nosuchcall"]);
    // never asked auditctl for a name the architecture's table lacks
    expect(lines()).toEqual(["-a always,exit -F arch=b64 -S execve -F gid=5 -k pf-w"]);
  });

  it("scopes the capture's rule to the session, with every call named or numbered", () => {
    reset("fchmodat2 openat2");
    const r = addSessionRule(x64, 42, "pf-c");
    expect(r.args.slice(-4)).toEqual(["-F", "sessionid=42", "-k", "pf-c"]);
    const list = r.args[5]!.split(",");
    expect(list).toContain("execve");
    expect(list).not.toContain("openat2");
    expect(list).toContain("437"); // openat2 on x86_64
    expect(lines().length).toBeGreaterThanOrEqual(2);
  });

  it("throws a CaptureError naming the rule and auditctl's message when the kernel refuses", () => {
    reset("", true);
    expect(() => addExitRule(x64, ["execve"], "uid=1", "pf-w", "watch")).toThrow(CaptureError);
    expect(() => addExitRule(x64, ["execve"], "uid=1", "pf-w", "watch")).toThrow(
      /refused the watch's rule \(arch=b64\): Error sending add rule data request/,
    );
    expect(() => addExitRule(x64, ["nosuchcall"], "uid=1", "pf-w", "watch")).toThrow(
      /no call this architecture knows/,
    );
  });
});
