import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CORPUS, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";

const HAVE_STRACE = spawnSync("sh", ["-c", "command -v strace"]).status === 0;
const HAVE_DPKG = spawnSync("sh", ["-c", "command -v dpkg"]).status === 0;
const INSTRUCTIONS = new Set(["FROM", "RUN", "COPY", "ADD", "WORKDIR", "ENV", "CMD", "USER", "LABEL", "ARG"]);
/** the only unowned files the exporter may leave out, by what it documents (runtime mounts, ldconfig) */
const MAY_SKIP = new Set([
  "/etc/hostname",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/ld.so.cache",
  "/etc/mtab",
]);
const MERGED = ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"];

/** postgresql-common diverts libpq-dev's /usr/bin/pg_config (both installed: .ci/run installs them) */
const PG_CONFIG_DIVERTED =
  HAVE_DPKG &&
  existsSync("/usr/bin/pg_config") &&
  spawnSync("dpkg-divert", ["--listpackage", "/usr/bin/pg_config"], { encoding: "utf8" }).stdout?.trim() !==
    "";

function requireOrSkip(ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === "true") throw new Error(`${what} is required in CI`);
  console.warn(`skipping dockerfile export tests: ${what} is missing`);
  return false;
}

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions (comments and blank lines dropped); throws on an unknown keyword. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!m?.[1] || !INSTRUCTIONS.has(m[1])) throw new Error(`not a Dockerfile instruction: ${line}`);
    out.push({ keyword: m[1], args: m[2] ?? "" });
  }
  return out;
}

function aptPackages(ins: Instruction[]): Set<string> {
  const run = ins.find((i) => i.keyword === "RUN" && i.args.includes("apt-get install"));
  if (!run) return new Set();
  const after = run.args.split("apt-get install")[1]?.split("&&")[0] ?? "";
  return new Set(after.split(/\s+/).filter((w) => w.length > 0 && !w.startsWith("-")));
}

/** Owners per dpkg -S of a path, its /usr-merge alias and what it resolves to (the test's own look-up). */
function dpkgOwners(path: string): Set<string> {
  const names = [path];
  const alias = (p: string): string | null => {
    for (const d of MERGED) {
      if (p.startsWith(d)) return `/usr${p}`;
      if (p.startsWith(`/usr${d}`)) return p.slice(4);
    }
    return null;
  };
  let real: string | null = null;
  try {
    real = realpathSync(path);
  } catch {
    real = null;
  }
  for (const c of [alias(path), real, real ? alias(real) : null]) if (c && !names.includes(c)) names.push(c);
  const owners = new Set<string>();
  for (const n of names) {
    const r = spawnSync("dpkg", ["-S", n], { encoding: "utf8" });
    for (const line of r.stdout.split("\n")) {
      if (line.startsWith("diversion by ") || !line.endsWith(`: ${n}`)) continue;
      for (const p of line.slice(0, -(n.length + 2)).split(", ")) owners.add(p.replace(/:[a-z0-9]+$/, ""));
    }
  }
  return owners;
}

function osImage(): string {
  const os: Record<string, string> = {};
  for (const l of readFileSync("/etc/os-release", "utf8").split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(l);
    if (m?.[1]) os[m[1]] = (m[2] ?? "").replace(/^"(.*)"$/, "$1");
  }
  return `${os.ID}:${os.VERSION_ID}`;
}

function isTemporary(path: string): boolean {
  return [tmpdir(), "/tmp", "/var/tmp", "/dev/shm"].some((d) => path === d || path.startsWith(`${d}/`));
}

describe("provflow export --format dockerfile", () => {
  const ok = requireOrSkip(HAVE_STRACE && HAVE_DPKG, "strace and dpkg");
  let dir: string;
  let db: string;
  beforeAll(() => {
    dir = tempDir("provflow-docker-");
    db = join(dir, "runs.db");
  });

  it.runIf(ok)("builds a Dockerfile whose packages and copies hold every file a traced run read", () => {
    const work = join(dir, "work");
    runCli(["--version"]);
    spawnSync("mkdir", ["-p", work]);
    writeFileSync(join(work, "data.txt"), "b\na\nc\n");
    const argv = [
      "sh",
      "-c",
      "cat /etc/debian_version /etc/hostname > /dev/null; head -n 1 /etc/passwd; sort data.txt | awk '{print NR, $0}'; ls /usr/share/doc/coreutils > /dev/null; cat /proc/self/status > /dev/null",
    ];
    const t = runCli(["trace", "--db", db, "--name", "docker", "-q", "--", ...argv], { cwd: work });
    expect(t.status, t.stderr).toBe(0);
    const ctx = join(dir, "ctx");
    const e = runCli(["export", "--db", db, "docker", "--format", "dockerfile", "-o", ctx]);
    expect(e.status, e.stderr).toBe(0);
    const text = readFileSync(join(ctx, "Dockerfile"), "utf8");
    const ins = parseDockerfile(text);
    expect(ins[0]).toEqual({ keyword: "FROM", args: osImage() });
    const cmd = ins.filter((i) => i.keyword === "CMD");
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]?.args ?? "null")).toEqual(argv);
    expect(ins.find((i) => i.keyword === "WORKDIR")?.args).toBe(work);
    const packages = aptPackages(ins);

    // every file the run read, executed or mapped (and did not create) is packaged or copied
    const s = cliJson<SummaryJson>(["summary", "--db", db, "docker", "--format", "json"]);
    const files = (s.files as Array<SummaryJson["files"][number] & { mapped: boolean }>).filter(
      (f) => (f.read || f.executed || f.mapped) && !f.created && f.path.startsWith("/"),
    );
    const paths = new Set(files.map((f) => f.path));
    for (const p of ["/etc/debian_version", "/etc/passwd", join(work, "data.txt")])
      expect(paths, p).toContain(p);
    expect([...paths].some((p) => /^\/proc\/\d+\/status$/.test(p))).toBe(true);
    let checked = 0;
    for (const f of files) {
      const p = f.path;
      const inContext = join(ctx, p);
      // the working directory is recreated as WORKDIR: what the run read there is an input, even in /tmp
      if (/^\/(proc|sys|dev|run)(\/|$)/.test(p) || (isTemporary(p) && !p.startsWith(`${work}/`))) {
        expect(existsSync(inContext), `${p} must not be copied`).toBe(false);
        continue;
      }
      checked++;
      const owners = dpkgOwners(p);
      if ([...owners].some((o) => packages.has(o))) continue;
      expect(owners.size, `${p} is owned by ${[...owners]} but none is installed`).toBe(0);
      if (MAY_SKIP.has(p)) {
        expect(text).toContain(`: ${p}\n`);
        continue;
      }
      expect(existsSync(inContext), `${p} is neither packaged nor copied`).toBe(true);
      expect(readFileSync(inContext)).toEqual(readFileSync(p));
    }
    expect(checked).toBeGreaterThan(5);
    // /etc/passwd belongs to no package on Debian: it is in the context, and COPY brings /etc in
    expect(statSync(join(ctx, "etc/passwd")).isFile()).toBe(true);
    expect(ins.some((i) => i.keyword === "COPY" && JSON.parse(i.args)[1] === "/etc/")).toBe(true);
    // data.txt, read by sort in the working directory (a temporary one here), is in the context
    expect(readFileSync(join(ctx, work, "data.txt"), "utf8")).toBe("b\na\nc\n");
    // nothing of the kernel, devices or runtime trees is in the context, nor of the temporary ones
    // but the working directory
    for (const top of readdirSync(ctx)) expect(["proc", "sys", "dev", "run"]).not.toContain(top);
    const copied = (
      JSON.parse(readFileSync(join(ctx, "provflow-context.json"), "utf8")) as { copied: string[] }
    ).copied;
    expect(copied).toContain(join(work, "data.txt"));
    for (const p of copied) if (isTemporary(p)) expect(p.startsWith(`${work}/`), p).toBe(true);
  });

  it.runIf(ok && PG_CONFIG_DIVERTED)(
    "gives a diverted file to the diverting package and a /usr-merge alias to its owner (dpkg-divert as oracle)",
    () => {
      // /usr/bin/pg_config is postgresql-common's, diverting libpq-dev's to pg_config.libpq-dev;
      // sh runs as /usr/bin/sh, which dpkg knows as /bin/sh, diverted by dash to /bin/sh.distrib
      const t = runCli([
        "trace",
        "--db",
        db,
        "--name",
        "divert",
        "-q",
        "--",
        "sh",
        "-c",
        "pg_config --version",
      ]);
      expect(t.status, t.stderr).toBe(0);
      const ctx = join(dir, "divert-ctx");
      expect(runCli(["export", "--db", db, "divert", "--format", "dockerfile", "-o", ctx]).status).toBe(0);
      const report = JSON.parse(readFileSync(join(ctx, "provflow-context.json"), "utf8")) as {
        packaged: Record<string, string>;
      };
      const divertedBy = (path: string): string | null => {
        const r = spawnSync("dpkg-divert", ["--listpackage", path], { encoding: "utf8" });
        return r.stdout.trim() || null;
      };
      const pg = divertedBy("/usr/bin/pg_config");
      expect(pg).not.toBeNull();
      expect(report.packaged["/usr/bin/pg_config"]).toBe(pg);
      const sh = Object.keys(report.packaged).find((p) => p === "/usr/bin/sh" || p === "/bin/sh");
      expect(sh).toBeDefined();
      expect(report.packaged[sh!]).toBe(divertedBy("/bin/sh"));
      // dpkg itself does not know the /usr-merge alias
      if (sh === "/usr/bin/sh") expect(spawnSync("dpkg", ["-S", "/usr/bin/sh"]).status).not.toBe(0);
      const ins = parseDockerfile(readFileSync(join(ctx, "Dockerfile"), "utf8"));
      for (const p of [pg!, divertedBy("/bin/sh")!]) expect(aptPackages(ins)).toContain(p);
    },
  );

  it.runIf(ok)(
    "starts FROM the distribution recorded at trace time; ENV is redacted by default, CMD as traced",
    () => {
      const argv = ["sh", "-c", 'test -n "$DEPLOY_TOKEN" && cat /etc/debian_version'];
      const t = runCli(["trace", "--db", db, "--name", "envrun", "--env", "-q", "--", ...argv], {
        env: { DEPLOY_TOKEN: "hunter2-secret", BUILD_MODE: "release" },
      });
      expect(t.status, t.stderr).toBe(0);
      const ctx = join(dir, "env-ctx");
      expect(runCli(["export", "--db", db, "envrun", "--format", "dockerfile", "-o", ctx]).status).toBe(0);
      const text = readFileSync(join(ctx, "Dockerfile"), "utf8");
      expect(text).not.toContain("hunter2");
      const ins = parseDockerfile(text);
      const env = ins.filter((i) => i.keyword === "ENV").map((i) => i.args);
      expect(env).toContain('BUILD_MODE="release"');
      expect(env.find((e) => e.startsWith("DEPLOY_TOKEN="))).toMatch(/^DEPLOY_TOKEN="\*+"$/);
      expect(JSON.parse(ins.find((i) => i.keyword === "CMD")!.args)).toEqual(argv);
      // the image is the one recorded on the run's machine agent, said so in the Dockerfile
      const nodes = runCli(["export", "--db", db, "envrun", "--format", "jsonl"])
        .stdout.split("\n")
        .filter((l) => l.includes('"type":"machine"'))
        .map((l) => JSON.parse(l) as { attrs: { osImage?: string; osName?: string } });
      expect(nodes[0]?.attrs.osImage).toBe(osImage());
      expect(ins[0]).toEqual({ keyword: "FROM", args: osImage() });
      expect(text).toContain(`# base image: the distribution recorded with the run on `);
    },
  );

  it.runIf(ok)("requires -o DIR", () => {
    const r = runCli(["export", "--db", db, "docker", "--format", "dockerfile"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/-o DIR/);
  });

  it.runIf(ok)(
    "exports a survol strace log from another machine, reporting packaged and missing files",
    () => {
      const log = join(CORPUS, "strace/survol/dockit_sample_shell.strace.log");
      const i = runCli(["ingest", "--db", db, "--name", "survol", "-q", log]);
      expect(i.status, i.stderr).toBe(0);
      const ctx = join(dir, "survol-ctx");
      const e = runCli(["export", "--db", db, "survol", "--format", "dockerfile", "-o", ctx]);
      expect(e.status, e.stderr).toBe(0);
      const ins = parseDockerfile(readFileSync(join(ctx, "Dockerfile"), "utf8"));
      expect(ins[0]?.keyword).toBe("FROM");
      const report = JSON.parse(readFileSync(join(ctx, "provflow-context.json"), "utf8")) as {
        sameMachine: boolean;
        packaged: Record<string, string>;
        copied: string[];
        missing: string[];
      };
      expect(report.sameMachine).toBe(false);
      const packages = aptPackages(ins);
      // packaged: dpkg agrees here; missing: neither on this machine nor owned by a package here
      for (const [p, pkg] of Object.entries(report.packaged)) {
        expect(dpkgOwners(p), p).toContain(pkg);
        expect(packages).toContain(pkg);
      }
      for (const p of report.missing) {
        expect(dpkgOwners(p).size, p).toBe(0);
        expect(existsSync(p) && statSync(p).isFile(), p).toBe(false);
      }
      for (const p of report.copied) expect(readFileSync(join(ctx, p))).toEqual(readFileSync(p));
      const total = Object.keys(report.packaged).length + report.copied.length + report.missing.length;
      expect(total).toBeGreaterThan(10);
      console.info(
        `survol dockit_sample_shell (Fedora): ${Object.keys(report.packaged).length} files packaged here (${packages.size} packages), ` +
          `${report.copied.length} copied, ${report.missing.length} missing: ${report.missing.slice(0, 12).join(" ")}${report.missing.length > 12 ? " …" : ""}`,
      );
    },
  );
});
