import { type Command, Option } from "commander";
import {
  AccountNames,
  type AuditWatch,
  globToRegExp,
  ProcPoller,
  startAuditWatch,
  type WatchedProcess,
  type WatchFilter,
} from "../capture/process-watch.js";
import { UsageError } from "../util/errors.js";
import { logErr } from "./output.js";

function line(p: WatchedProcess, json: boolean): string {
  if (json) return JSON.stringify(p);
  const who = `${p.user ?? p.uid ?? "?"}:${p.group ?? p.gid ?? "?"}`;
  return `${p.time}  ${who}  pid ${p.pid} (parent ${p.ppid ?? "?"})  ${p.exe ?? "?"}  ${p.argv.join(" ")}${p.cwd ? `  in ${p.cwd}` : ""}`;
}

/**
 * `provflow watch --user U | --group G [--exe PATTERN] [--json]`: new processes of a user or group,
 * one line each (JSON lines with --json) on stdout as they start, until Ctrl-C (or --count / --timeout).
 */
export function watchCommand(watch: Command): Command {
  return watch
    .description("report new processes of a user or group as they start (audit rules, or polling /proc)")
    .option("--user <user>", "user name or uid")
    .option("--group <group>", "group name or gid (real, effective or supplementary)")
    .option("--exe <pattern>", "only executables matching this pattern (* ? [..], path or base name)")
    .option(
      "--json",
      "one JSON object per process (time, source, pid, ppid, uid, user, gid, group, exe, argv, cwd)",
    )
    .addOption(
      new Option("--source <source>", "audit (root), proc (polling), or auto: audit when it can, else proc")
        .choices(["auto", "audit", "proc"])
        .default("auto"),
    )
    .option("--interval <ms>", "proc: polling interval", "200")
    .option("--count <n>", "stop after N processes")
    .option("--timeout <seconds>", "stop after this long")
    .option("-q, --quiet", "no notices on stderr")
    .action(async (o) => {
      if ((o.user === undefined) === (o.group === undefined))
        throw new UsageError("give --user U or --group G");
      const names = new AccountNames();
      const filter: WatchFilter = {};
      if (o.user !== undefined) {
        const uid = names.uidOf(o.user);
        if (uid === null) throw new UsageError(`no user ${o.user}`);
        filter.uid = uid;
      } else {
        const gid = names.gidOf(o.group);
        if (gid === null) throw new UsageError(`no group ${o.group}`);
        filter.gid = gid;
      }
      if (o.exe !== undefined) filter.exe = globToRegExp(o.exe);
      const interval = Number(o.interval);
      if (!Number.isFinite(interval) || interval < 10)
        throw new UsageError(`--interval needs ms >= 10, not ${o.interval}`);
      const count = o.count !== undefined ? Number(o.count) : Number.POSITIVE_INFINITY;
      if (!(count > 0)) throw new UsageError(`--count needs a number > 0, not ${o.count}`);
      const timeout = o.timeout !== undefined ? Number(o.timeout) : null;
      if (timeout !== null && !(timeout > 0))
        throw new UsageError(`--timeout needs seconds > 0, not ${o.timeout}`);
      const notice = (m: string) => {
        if (!o.quiet) logErr(m);
      };

      let reported = 0;
      let finish: (why: string) => void = () => {};
      const finished = new Promise<string>((r) => {
        finish = r;
      });
      const report = (p: WatchedProcess) => {
        if (reported >= count) return;
        reported++;
        process.stdout.write(`${line(p, Boolean(o.json))}\n`);
        if (reported >= count) finish("count");
      };

      let audit: AuditWatch | null = null;
      if (o.source !== "proc") {
        try {
          if (process.getuid?.() !== 0) throw new Error("audit rules need root");
          audit = await startAuditWatch(filter, names, report, notice);
          notice(
            `watching ${o.user !== undefined ? `user ${o.user}` : `group ${o.group}`} through audit (rule: auditctl ${audit.rules[0]?.join(" ")})`,
          );
        } catch (e) {
          if (o.source === "audit") throw e;
          notice(`audit not used (${(e as Error).message}): polling /proc every ${interval} ms`);
        }
      }
      let timer: NodeJS.Timeout | null = null;
      if (audit === null) {
        const poller = new ProcPoller(filter, names);
        poller.scan();
        timer = setInterval(() => {
          for (const p of poller.scan()) report(p);
        }, interval);
        notice(`watching ${o.user !== undefined ? `user ${o.user}` : `group ${o.group}`} by polling /proc`);
      }
      const onSig = (sig: string) => () => finish(sig);
      const onInt = onSig("SIGINT");
      const onTerm = onSig("SIGTERM");
      process.once("SIGINT", onInt);
      process.once("SIGTERM", onTerm);
      process.once("SIGHUP", onTerm);
      const t = timeout !== null ? setTimeout(() => finish("timeout"), timeout * 1000) : null;
      await finished;
      if (t) clearTimeout(t);
      if (timer) clearInterval(timer);
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", onTerm);
      await audit?.stop();
    });
}
