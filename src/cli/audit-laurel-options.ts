import { type Command, Option } from "commander";
import { type LineSink, type LineSinkOptions, openLineSink, parseSize } from "../export/line-sink.js";
import {
  type LabelExeRule,
  type LaurelEnrichOptions,
  loadUserDb,
  parseLabelExe,
} from "../sources/audit/laurel-enrich.js";
import { InputError, UsageError } from "../util/errors.js";

/**
 * The options of the laurel-style JSON output shared by `audit ingest --format laurel` and `audit
 * plugin`: destination (stdout, rotated file, unix socket), line prefix, enrichment, labels, filters.
 */

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
const list = (v: string, prev: string[] | undefined) => [
  ...(prev ?? []),
  ...v.split(",").filter((s) => s !== ""),
];

/** the option names that only mean something for the laurel output (to refuse them with --format graph) */
export const LAUREL_ONLY_OPTIONS = [
  "output",
  "rotateSize",
  "rotateCount",
  "linePrefix",
  "pid",
  "parentInfo",
  "spawnedBy",
  "argvStr",
  "labelKey",
  "labelExe",
  "propagateLabels",
  "filterKey",
  "filterLabel",
  "filterType",
  "filterNullKeys",
  "container",
  "exeHash",
  "resolveIds",
  "passwd",
  "group",
] as const;

export function addLaurelOutputOptions(cmd: Command): Command {
  return cmd
    .option(
      "--output <dest>",
      "laurel output: - (stdout, default), FILE (rotated with --rotate-size), unix:/path",
    )
    .option("--rotate-size <size>", "rotate FILE when it passes this size: 4096, 512k, 10M (default: never)")
    .option("--rotate-count <n>", "rotated files kept: FILE.1 … FILE.N", "5")
    .option("--line-prefix <text>", 'written before every JSON line, e.g. "@cee: " for rsyslog')
    .option(
      "--pid",
      "SYSCALL.PPID {EVENT_ID, comm, exe, ppid}, SYSCALL.PID {EVENT_ID}, OBJ_PID.OPID (from the log)",
    )
    .option("--parent-info", "top-level PARENT_INFO {ID, comm, exe, ppid} (laurel 0.5.1's parent-info)")
    .option("--spawned-by", "SYSCALL.SPAWNED_BY {EVENT_ID, pid, comm, exe}: who started this program")
    .option("--argv-str", "EXECVE.ARGV_STR: the arguments as one space-separated string")
    .option(
      "--label-key <key>",
      "an audit rule key that becomes a label of the process (repeatable)",
      collect,
    )
    .option(
      "--label-exe <regex=label>",
      "label the processes exec'ing a matching executable (repeatable)",
      collect,
    )
    .option("--propagate-labels <labels>", "labels children inherit (comma-separated, or all)")
    .option(
      "--filter-key <key>",
      "drop events whose SYSCALL key is KEY (repeatable, or comma-separated)",
      list,
    )
    .option("--filter-label <label>", "drop events of processes with this label (repeatable)", list)
    .option(
      "--filter-type <type>",
      "drop events holding a record of this type, e.g. PROCTITLE (repeatable)",
      list,
    )
    .option("--filter-null-keys", "drop SYSCALL events without a rule key")
    .option("--container", "CONTAINER_INFO {ID} from cgroup= fields of the log, inherited by children")
    .option("--exe-hash", "SYSCALL.EXE_HASH: SHA-256 of the executable as it is on THIS machine (live use)")
    .option(
      "--resolve-ids",
      "AUID, UID, … OUID, OGID names next to the numbers (this machine's passwd/group)",
    )
    .option("--passwd <file>", "passwd file for --resolve-ids (an archived log's machine)")
    .option("--group <file>", "group file for --resolve-ids");
}

export interface LaurelOutputSetup {
  enrich: LaurelEnrichOptions;
  linePrefix: string;
  dest: string | undefined;
  sinkOptions: LineSinkOptions;
}

/** whether any laurel-only option was given (commander leaves untouched ones at their default) */
export function laurelOptionsGiven(cmd: Command): string[] {
  return LAUREL_ONLY_OPTIONS.filter((k) => cmd.getOptionValueSource(k) === "cli");
}

export function laurelSetup(o: Record<string, unknown>): LaurelOutputSetup {
  let labelExe: LabelExeRule[] = [];
  try {
    labelExe = ((o.labelExe as string[] | undefined) ?? []).map(parseLabelExe);
  } catch (err) {
    throw new UsageError(`--label-exe: ${(err as Error).message}`);
  }
  let userDb = null;
  if (o.resolveIds || o.passwd || o.group) {
    try {
      userDb = loadUserDb((o.passwd as string) ?? "/etc/passwd", (o.group as string) ?? "/etc/group");
    } catch (err) {
      throw new InputError(`--resolve-ids: ${(err as Error).message}`);
    }
  }
  const prop = o.propagateLabels as string | undefined;
  const enrich: LaurelEnrichOptions = {
    pid: Boolean(o.pid),
    parentInfo: Boolean(o.parentInfo),
    spawnedBy: Boolean(o.spawnedBy),
    argvStr: Boolean(o.argvStr),
    labelKeys: (o.labelKey as string[] | undefined) ?? [],
    labelExe,
    propagateLabels: prop === "all" ? true : prop ? prop.split(",").filter((s) => s !== "") : undefined,
    filterKeys: (o.filterKey as string[] | undefined) ?? [],
    filterLabels: (o.filterLabel as string[] | undefined) ?? [],
    filterTypes: (o.filterType as string[] | undefined) ?? [],
    filterNullKeys: Boolean(o.filterNullKeys),
    container: Boolean(o.container),
    exeHash: Boolean(o.exeHash),
    userDb,
  };
  const sinkOptions: LineSinkOptions = {};
  if (o.rotateSize !== undefined) {
    try {
      sinkOptions.rotateSize = parseSize(o.rotateSize as string);
    } catch (err) {
      throw new UsageError(`--rotate-size: ${(err as Error).message}`);
    }
  }
  const count = Number(o.rotateCount);
  if (!Number.isInteger(count) || count < 1) throw new UsageError("--rotate-count needs a number ≥ 1");
  sinkOptions.rotateCount = count;
  const dest = o.output as string | undefined;
  if (sinkOptions.rotateSize && (dest === undefined || dest === "-" || dest.startsWith("unix:")))
    throw new UsageError("--rotate-size needs --output FILE");
  return { enrich, linePrefix: (o.linePrefix as string) ?? "", dest, sinkOptions };
}

/** opens the destination, turning a file that cannot be opened into an input error with its name */
export function openLaurelSink(setup: LaurelOutputSetup, log: (m: string) => void): LineSink {
  try {
    return openLineSink(setup.dest, { ...setup.sinkOptions, log });
  } catch (err) {
    throw new InputError(`--output ${setup.dest}: ${(err as Error).message}`, { cause: err });
  }
}

export function idleOption(): Option {
  return new Option("--idle-flush <ms>", "write the events still open after this long without input").default(
    "1000",
  );
}
