import type { Command } from "commander";
import { type AgentScope, runAgent } from "../capture/ebpf-agent.js";
import { normalizePrefix } from "../mqtt/mqtt-topics.js";
import { UsageError } from "../util/errors.js";
import { currentHostInfo } from "../util/host-info.js";
import { loadMqtt } from "./mqtt-command.js";
import { logErr, writeOut } from "./output.js";

/** `--scope all`, `--scope cgroup PATH`, `--scope uid N`, `--scope container ID` */
export function parseScope(words: string[] | undefined): AgentScope {
  const [kind, value, ...rest] = words ?? ["all"];
  if (rest.length > 0) throw new UsageError(`--scope takes one kind and one value, not ${words?.join(" ")}`);
  if (kind === "all" && value === undefined) return { kind: "all" };
  if (value === undefined)
    throw new UsageError(`--scope ${kind} needs a value (cgroup PATH, uid N, container ID)`);
  if (kind === "uid") {
    const uid = Number(value);
    if (!Number.isInteger(uid) || uid < 0) throw new UsageError(`--scope uid needs a user id, not ${value}`);
    return { kind: "uid", uid };
  }
  if (kind === "cgroup") return { kind: "cgroup", path: value };
  if (kind === "container") return { kind: "container", id: value };
  throw new UsageError(`unknown --scope ${kind} (all, cgroup PATH, uid N, container ID)`);
}

function positive(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} needs a positive number, not ${v}`);
  return n;
}

export function agentCommand(cmd: Command): void {
  cmd
    .description(
      "capture continuously with eBPF (all, a cgroup, a uid or a container) and publish CamFlow-style PROV-JSON on PREFIX/provenance/MACHINE",
    )
    .option("--scope <scope...>", "all | cgroup PATH | uid N | container ID", ["all"])
    .requiredOption("--broker <url>", "the broker: mqtt://HOST:1883")
    .option("--machine <id>", "machine id in the topic (default: from /etc/machine-id, as a number)")
    .option("--topic <prefix>", "topic prefix", "camflow")
    .option("--spool <dir>", "keep documents here while the broker is unreachable, send them when it is back")
    .option("--spool-max <mb>", "size of the spool at most, in MB (oldest documents dropped beyond)", "100")
    .option("--interval <ms>", "send a document at least this often", "1000")
    .option("--max-records <n>", "records (nodes and relations) per document at most", "5000")
    .option("--username <name>", "user name at the broker (default with a password: provflow)")
    .option("--password <password>", "password at the broker (default: $PROVFLOW_MQTT_PASSWORD)")
    .option("-q, --quiet", "no messages on stderr")
    .option("--json", "print what was captured and published as JSON on stdout at the end")
    .action(async (o) => {
      const scope = parseScope(o.scope);
      let prefix: string;
      try {
        prefix = normalizePrefix(o.topic);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const host = currentHostInfo();
      const machine: string =
        o.machine ?? String(Number.parseInt((host.machineId ?? "0").slice(0, 8), 16) || 1);
      if (!/^[\w.:-]{1,128}$/.test(machine)) throw new UsageError(`bad machine id ${machine}`);
      const password: string | undefined = o.password ?? process.env.PROVFLOW_MQTT_PASSWORD;
      const log = (msg: string) => {
        if (!o.quiet) logErr(msg);
      };
      let stop: () => void = () => undefined;
      const stopped = new Promise<void>((r) => {
        stop = r;
      });
      const onSignal = () => stop();
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const res = await runAgent({
          scope,
          broker: o.broker,
          machine,
          prefix,
          spoolDir: o.spool,
          spoolMax: positive(o.spoolMax, "--spool-max") * 1024 * 1024,
          interval: positive(o.interval, "--interval"),
          maxRecords: positive(o.maxRecords, "--max-records"),
          host,
          username: o.username ?? (password !== undefined ? "provflow" : undefined),
          password,
          mqtt: await loadMqtt(),
          onLog: log,
          stop: stopped,
          onReady: () =>
            log(`agent: capturing ${o.scope.join(" ")}, publishing on ${prefix}/provenance/${machine}`),
        });
        if (o.json) await writeOut(`${JSON.stringify(res)}\n`);
        log(
          `agent: stopped: ${res.events} events, ${res.documents} documents (${res.published} published, ${res.spooled} spooled, ${res.dropped} dropped), ${res.lost} events lost in the kernel`,
        );
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
