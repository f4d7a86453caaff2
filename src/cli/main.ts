import { createWriteStream } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { auditCommand, auditPreflight } from "../capture/audit-capture.js";
import { traceCommand } from "../capture/trace-run.js";
import { formatSteps } from "../export/calls-format.js";
import { storeExportInput } from "../export/export-input.js";
import { writableSink } from "../export/export-sink.js";
import { exportFormats, getExporter } from "../export/exporter-registry.js";
import { formatSummary } from "../export/summary-format.js";
import { buildRunSummary } from "../graph/run-summary.js";
import { runIngest } from "../ingest/run-ingest.js";
import { resolveDbPath } from "../store/db-path.js";
import { openStore as openStoreAt } from "../store/open-store.js";
import type { GraphStore, Problem, RunRecord } from "../store/store-types.js";
import { ExitCode, NotFoundError, ProvflowError, UsageError } from "../util/errors.js";
import { currentHostInfo } from "../util/host-info.js";
import { checkTimeZone } from "../util/time-zone.js";
import { agentCommand } from "./agent-command.js";
import { auditToJsonLines } from "./audit-json-lines.js";
import {
  addLaurelOutputOptions,
  idleOption,
  laurelOptionsGiven,
  laurelSetup,
  openLaurelSink,
} from "./audit-laurel-options.js";
import { runAuditPlugin } from "./audit-plugin.js";
import { detectCommand } from "./detect-command.js";
import { diffCommand } from "./diff-command.js";
import { registerLineageCommands } from "./lineage-command.js";
import { mergeCommand } from "./merge-command.js";
import { miningCommand } from "./mining-command.js";
import { registerMqttCommands } from "./mqtt-command.js";
import { installEpipeHandler, logErr, writeOut } from "./output.js";
import { queryCommand } from "./query-command.js";
import { formatRunsTable } from "./runs-table.js";
import { serveCommand } from "./serve-command.js";
import { watchCommand } from "./watch-command.js";

const VERSION = "0.1.0";

/**
 * A SQLite file or a PostgreSQL URL (src/store/open-store.ts). With SQLite, reading commands use it
 * directly and recording commands (trace, ingest) write through a worker thread, so that SQLite works
 * on one core while parsing runs on the other.
 */
function openStore(db: string | undefined, writer = false): GraphStore {
  return openStoreAt(resolveDbPath(db), { writer });
}

async function findRunOrLatest(store: GraphStore, ref?: string): Promise<RunRecord> {
  const run = ref ? await store.findRun(ref) : await store.latestRun();
  if (!run) throw new NotFoundError(ref ? `no run ${ref} in the database` : "the database holds no run yet");
  return run;
}

function problemReporter(quiet: boolean, max = 10) {
  let shown = 0;
  let hidden = 0;
  return {
    onProblem(p: Problem) {
      if (quiet) return;
      if (shown < max) {
        shown++;
        logErr(`${p.file}:${p.line}: ${p.message}${p.text ? `: ${p.text.slice(0, 120)}` : ""}`);
      } else hidden++;
    },
    close(runId: number) {
      if (hidden > 0) logErr(`… and ${hidden} more problems (provflow problems ${runId})`);
    },
  };
}

async function withStore<T>(
  db: string | undefined,
  fn: (store: GraphStore) => Promise<T>,
  writer = false,
): Promise<T> {
  const store = openStore(db, writer);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function dbOption() {
  return new Option(
    "--db <file|url>",
    "SQLite file or postgres:// URL (?schema=NAME) (default: $PROVFLOW_DB or ./provflow.db)",
  );
}

export function buildProgram(): Command {
  const program = new Command("provflow")
    .description("System provenance for Linux: what did this run really do, and what came from what?")
    .version(VERSION)
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();

  program
    .command("trace")
    .description(
      "run CMD under strace (or ltrace, or eBPF) and record its batchflow; exits with CMD's status",
    )
    .addOption(dbOption())
    .option("--name <name>", "name of the run")
    .option("-o, --output <log>", "keep the tracer's log in this file")
    .addOption(
      new Option("--tracer <tracer>", "tracer").choices(["strace", "ltrace", "ebpf"]).default("strace"),
    )
    .option("-p, --pid <pid>", "attach to a running process and its descendants until they end or Ctrl-C")
    .option("--env", "record each exec's environment, its secrets redacted (see --keep-secrets)")
    .option("--keep-secrets", "record environments as they are, secrets included")
    .option("--redact", "also redact secrets in command lines (passwords, tokens, keys) as they are recorded")
    .option("-q, --quiet", "print nothing after the run")
    .option("--json", "print the run record as JSON on stderr after the run")
    .argument("[command...]", "the command to run, after --")
    .passThroughOptions()
    .action(async (command: string[], o) => {
      const pid = o.pid !== undefined ? Number(o.pid) : null;
      if (pid !== null && (!Number.isInteger(pid) || pid <= 0))
        throw new UsageError(`--pid needs a process id, not ${o.pid}`);
      if (pid === null && command.length === 0)
        throw new UsageError("nothing to trace: provflow trace -- CMD [ARGS…] or -p PID");
      if (pid !== null && command.length > 0)
        throw new UsageError("give either a command or --pid, not both");
      const code = await withStore(
        o.db,
        async (store) => {
          const reporter = problemReporter(Boolean(o.quiet));
          const outcome = await traceCommand({
            store,
            host: currentHostInfo(),
            tracer: o.tracer,
            command: pid === null ? command : null,
            pid,
            name: o.name,
            log: o.output,
            env: Boolean(o.env),
            keepSecrets: Boolean(o.keepSecrets),
            redactArgv: Boolean(o.redact),
            onProblem: reporter.onProblem,
          });
          reporter.close(outcome.runId);
          if (outcome.tracerFailed) {
            logErr(
              `${o.tracer} could not trace the command (its own message is above); no events were recorded`,
            );
            return ExitCode.tracer;
          }
          if (!o.quiet) {
            const run = (await store.findRun(outcome.runId))!;
            if (o.json) process.stderr.write(`${JSON.stringify(run)}\n`);
            else process.stderr.write(formatRunsTable([run]));
          }
          return outcome.exitStatus;
        },
        true,
      );
      process.exitCode = code;
    });

  /** --tz: a zone name or offset, or exit 2 saying what it wants */
  const timeZoneOption = (tz: string): string => {
    try {
      return checkTimeZone(tz);
    } catch (err) {
      throw new UsageError(`--tz: ${(err as Error).message}`);
    }
  };
  program
    .command("ingest")
    .description(
      "replay existing logs (strace -o, -ff sets, stderr style; ltrace; raw audit logs; PROV-JSON, CamFlow, SPADE JSON) into a run",
    )
    .addOption(dbOption())
    .option("--name <name>", "name of the run")
    .option(
      "--kind <kind>",
      "force the log kind instead of detecting it (strace, ltrace, audit, prov, camflow, spade, ebpf)",
    )
    .option(
      "--date <yyyy-mm-dd>",
      "date of clock-only timestamps (-t/-tt); default: from a .ini beside the log, else 1970-01-01",
    )
    .option(
      "--tz <zone>",
      "time zone of the machine that wrote logs with local, zoneless times (strace/ltrace -t/-tt, Process Monitor CSV/XML): an IANA name (Europe/Paris) or an offset (+02:00); default UTC",
    )
    .option(
      "--host <host>",
      "machine the log was recorded on (default: from a .ini beside the log, else this one)",
    )
    .option(
      "--cwd <dir>",
      "working directory of the first process, to resolve relative paths of logs without -y",
    )
    .option("-q, --quiet", "no progress, no problem lines")
    .option("--json", "print the run record as JSON on stdout")
    .argument("<files...>", "log files; a -ff prefix or directory; - for stdin")
    .action(async (files: string[], o) => {
      await withStore(
        o.db,
        async (store) => {
          const reporter = problemReporter(Boolean(o.quiet));
          const { runId, stopped } = await runIngest({
            store,
            files,
            name: o.name,
            kind: o.kind,
            date: o.date,
            tz: o.tz === undefined ? undefined : timeZoneOption(o.tz),
            host: o.host,
            cwd: o.cwd,
            quiet: Boolean(o.quiet),
            onProblem: reporter.onProblem,
          });
          reporter.close(runId);
          const run = (await store.findRun(runId))!;
          if (o.json) await writeOut(`${JSON.stringify(run)}\n`);
          else await writeOut(formatRunsTable([run]));
          if (stopped) process.exitCode = ExitCode.interrupted;
        },
        true,
      );
    });

  const audit = program
    .command("audit")
    .description(
      "the Linux audit log as a source; with -- CMD (root): run CMD in an audit session of its own and record what the kernel saw it do",
    )
    .addOption(dbOption())
    .option("--name <name>", "name of the run")
    .option("-o, --log <file>", "keep the capture's raw audit log in this file")
    .option("-q, --quiet", "print nothing after the run")
    .option("--json", "print the run record as JSON on stderr after the run")
    .argument("[command...]", "the command to run, after --")
    .passThroughOptions()
    .action(async (command: string[], o) => {
      if (command.length === 0)
        throw new UsageError(
          "nothing to capture: provflow audit -- CMD [ARGS…] (or provflow audit ingest FILE…)",
        );
      const plan = auditPreflight(command, logErr);
      const code = await withStore(
        o.db,
        async (store) => {
          const reporter = problemReporter(Boolean(o.quiet));
          const outcome = await auditCommand(
            {
              store,
              host: currentHostInfo(),
              command,
              name: o.name,
              log: o.log,
              onProblem: reporter.onProblem,
              onNotice: logErr,
            },
            plan,
          );
          reporter.close(outcome.runId);
          if (!o.quiet) {
            const run = (await store.findRun(outcome.runId))!;
            process.stderr.write(o.json ? `${JSON.stringify(run)}\n` : formatRunsTable([run]));
          }
          return outcome.exitStatus;
        },
        true,
      );
      process.exitCode = code;
    });
  const auditIngest = audit
    .command("ingest")
    .description(
      "read raw audit logs (or - for stdin): into a run of the provenance graph, or as laurel-style JSON lines",
    )
    .addOption(
      new Option("--format <format>", "graph: record a run; laurel: JSON lines (stdout or --output)")
        .choices(["graph", "laurel"])
        .default("graph"),
    )
    .addOption(dbOption())
    .option("--name <name>", "name of the run (graph)")
    .option("-q, --quiet", "no progress, no problem lines")
    .option("--json", "print the run record as JSON on stdout (graph)");
  addLaurelOutputOptions(auditIngest)
    .argument("<files...>", "raw audit logs as auditd writes them; - for stdin")
    .action(async (files: string[], o, cmd: Command) => {
      const reporter = problemReporter(Boolean(o.quiet));
      if (o.format === "laurel") {
        const setup = laurelSetup(o);
        const sink = openLaurelSink(setup, logErr);
        const stats = await auditToJsonLines({
          files,
          out: (chunk) => sink.write(chunk),
          enrich: setup.enrich,
          linePrefix: setup.linePrefix,
          onProblem: (p) =>
            reporter.onProblem({
              file: p.at.file,
              line: p.at.line,
              message: p.message,
              text: p.text ?? null,
            }),
        });
        await sink.close();
        if (stats.problems > 0 && !o.quiet)
          logErr(`${stats.problems} lines could not be read (reported above)`);
        return;
      }
      const laurelOnly = laurelOptionsGiven(cmd);
      if (laurelOnly.length > 0)
        throw new UsageError(
          `--${laurelOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --format laurel`,
        );
      await withStore(
        o.db,
        async (store) => {
          const { runId, stopped } = await runIngest({
            store,
            files,
            name: o.name,
            kind: "audit",
            quiet: Boolean(o.quiet),
            onProblem: reporter.onProblem,
          });
          reporter.close(runId);
          const run = (await store.findRun(runId))!;
          await writeOut(o.json ? `${JSON.stringify(run)}\n` : formatRunsTable([run]));
          if (stopped) process.exitCode = ExitCode.interrupted;
        },
        true,
      );
    });

  addLaurelOutputOptions(
    audit
      .command("plugin")
      .description(
        "auditd plugin: read records from stdin as auditd writes them, write laurel-style JSON lines as events close (docs/audit-plugin.md)",
      ),
  )
    .addOption(idleOption())
    .option("-q, --quiet", "no problem lines on stderr")
    .action(async (o) => {
      const setup = laurelSetup(o);
      const idleMs = Number(o.idleFlush);
      if (!Number.isFinite(idleMs) || idleMs < 0) throw new UsageError("--idle-flush needs milliseconds");
      const reporter = problemReporter(Boolean(o.quiet));
      const stats = await runAuditPlugin({
        input: process.stdin,
        sink: openLaurelSink(setup, logErr),
        enrich: setup.enrich,
        linePrefix: setup.linePrefix,
        idleMs,
        log: logErr,
        onProblem: (p) =>
          reporter.onProblem({ file: p.at.file, line: p.at.line, message: p.message, text: p.text ?? null }),
      });
      if (!o.quiet)
        logErr(
          `plugin stopped: ${stats.events} events written, ${stats.filtered} filtered, ${stats.problems} problems`,
        );
    });

  program
    .command("runs")
    .description("list the recorded runs")
    .addOption(dbOption())
    .option("--json", "JSON array")
    .action(async (o) => {
      await withStore(o.db, async (store) => {
        const runs = await store.listRuns();
        await writeOut(o.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRunsTable(runs));
      });
    });

  program
    .command("summary")
    .description("process tree, executables, libraries, files by category, sockets and pipes of a run")
    .addOption(dbOption())
    .addOption(
      new Option("--format <format>", "output format").choices(["txt", "json", "xml"]).default("txt"),
    )
    .option("--json", "same as --format json")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      await withStore(o.db, async (store) => {
        const run = await findRunOrLatest(store, ref);
        const [nodes, edges] = await Promise.all([store.getNodes(run.id), store.getEdges(run.id)]);
        const summary = buildRunSummary(run, nodes, edges);
        await writeOut(formatSummary(summary, o.json ? "json" : o.format));
      });
    });

  program
    .command("calls")
    .description("the aggregated call log: consecutive calls of a process on a resource folded into one step")
    .addOption(dbOption())
    .addOption(
      new Option("--format <format>", "output format").choices(["txt", "csv", "json"]).default("txt"),
    )
    .option("--json", "same as --format json")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      await withStore(o.db, async (store) => {
        const run = await findRunOrLatest(store, ref);
        await formatSteps(store.iterateSteps(run.id), o.json ? "json" : o.format, writeOut);
      });
    });

  program
    .command("export")
    .description("export a run's provenance graph")
    .addOption(dbOption())
    .addOption(
      new Option("--format <format>", "export format").choices(exportFormats()).makeOptionMandatory(),
    )
    .option("-o, --output <file>", "write here instead of stdout (dockerfile: the context directory)")
    .option("--redact", "redact secrets in command lines and environments")
    .option("--collapse", "dot: one node per file (all versions), one libraries node per process")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      await withStore(o.db, async (store) => {
        const run = await findRunOrLatest(store, ref);
        const exporter = getExporter(o.format);
        if (!exporter) throw new UsageError(`unknown export format ${o.format}`);
        const options = { redact: Boolean(o.redact), collapse: Boolean(o.collapse) };
        if (exporter.directory) {
          if (!o.output)
            throw new UsageError(`--format ${exporter.format} writes a directory: give it with -o DIR`);
          await exporter.write(storeExportInput(store, run, { ...options, outputDir: o.output }), writeOut);
          return;
        }
        const file = o.output ? createWriteStream(o.output) : null;
        await exporter.write(storeExportInput(store, run, options), file ? writableSink(file) : writeOut);
        if (file)
          await new Promise<void>((res, rej) => file.end((err?: Error | null) => (err ? rej(err) : res())));
      });
    });

  program
    .command("problems")
    .description("the lines of a run's inputs that could not be understood, with where they were")
    .addOption(dbOption())
    .option("--json", "JSON array")
    .option("--limit <n>", "at most this many", "1000")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      await withStore(o.db, async (store) => {
        const run = await findRunOrLatest(store, ref);
        const problems = await store.getProblems(run.id, Number(o.limit));
        if (o.json) await writeOut(`${JSON.stringify(problems, null, 2)}\n`);
        else {
          for (const p of problems)
            await writeOut(`${p.file}:${p.line}: ${p.message}${p.text ? `: ${p.text}` : ""}\n`);
          if (run.stats.problems > problems.length) {
            await writeOut(`(${run.stats.problems} problems in all; ${problems.length} kept)\n`);
          }
        }
      });
    });

  queryCommand(program.command("query"), { withStore, findRunOrLatest, dbOption });
  diffCommand(program.command("diff"), { withStore, dbOption });
  detectCommand(program.command("detect"), { withStore, dbOption });
  miningCommand(program.command("mining"), { withStore, findRunOrLatest, dbOption });
  mergeCommand(program.command("merge"), { withStore, dbOption });
  registerMqttCommands(program, { withStore, dbOption });
  registerLineageCommands(program, { withStore, findRunOrLatest, dbOption });
  serveCommand(program.command("serve"), { withStore, dbOption });
  watchCommand(program.command("watch"));
  agentCommand(program.command("agent"));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  installEpipeHandler();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : ExitCode.usage;
      return;
    }
    if (err instanceof ProvflowError) {
      logErr(err.message);
      process.exitCode = err.exitCode;
      return;
    }
    logErr(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 70;
  }
}

await main(process.argv);
