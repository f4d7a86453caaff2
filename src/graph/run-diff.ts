import type { RunSummary, SummaryFile, SummaryProcess, SummarySocket } from "./run-summary.js";

/**
 * The difference between two runs, from their summaries (src/graph/run-summary.ts). Pure: no store,
 * no clock. What changes on every run of the same workload is normalised away first (each rule can be
 * turned off): pids, dates in names, temporary names, ephemeral ports, /proc/PID paths, the run's
 * working directory.
 */

export const NORMALIZE_RULES = ["pids", "dates", "temp", "ports", "proc", "cwd"] as const;
export type NormalizeRule = (typeof NORMALIZE_RULES)[number];

export interface RunDiffOptions {
  /** the rules applied (default: all) */
  rules?: Iterable<NormalizeRule>;
  /**
   * a duration counts as changed when it moved by more than this many seconds and by more than half of
   * the longer one (default 1 s): timing noise between two runs of the same work is not a difference
   */
  durationTolerance?: number;
}

export interface Entry {
  key: string;
  count: number;
  /** what it did: a file's access (read,written,created…), a process's exit */
  detail?: string;
}

export interface Change {
  key: string;
  /** field → [before, after] */
  fields: Record<string, [unknown, unknown]>;
}

export interface Section {
  added: Entry[];
  removed: Entry[];
  changed: Change[];
}

export interface RunDiff {
  a: { id: number; name: string };
  b: { id: number; name: string };
  normalized: NormalizeRule[];
  same: boolean;
  differences: number;
  run: Change[];
  processes: Section;
  executables: Section;
  files: Section;
  directories: Section;
  sockets: Section;
  /** Windows registry keys and values the runs wrote, created or deleted (ProcMon, Sysmon) */
  registry: Section;
  durations: Change[];
}

// ------------------------------------------------------------------ normalisation

const EPHEMERAL_PORT_MIN = 32768;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replace temporary-file names made by mkstemp-like generators with a fixed placeholder. */
function untemp(s: string): string {
  return (
    s
      // mktemp(1): tmp.XXXXXXXXXX
      .replace(/(^|[/\s=])tmp\.[A-Za-z0-9]{6,}/g, "$1tmp.XXXXXX")
      // gcc's /tmp/ccXXXXXX.o, .s, .res, .ld…
      .replace(/(^|[/\s=])cc[A-Za-z0-9]{6}(?=\.[A-Za-z]+\b)/g, "$1ccXXXXXX")
      // sed -i's sedXXXXXX
      .replace(/(^|\/)sed[A-Za-z0-9]{6}(?=$|[\s"'])/g, "$1sedXXXXXX")
      // python tempfile: tmpXXXXXXXX, and its .res-XXXXXXXX style named files
      .replace(/(^|[/\s=])tmp[a-z0-9_]{8}(?=$|[/.\s"'])/g, "$1tmpXXXXXXXX")
      .replace(/\.res-[a-z0-9_]{8}(?=$|[/.\s"'])/g, ".res-XXXXXXXX")
      // a generic mkstemp suffix after a dot, dash or underscore: name.XXXXXX, name-XXXXXXXX (6 to 12
      // random characters: mktemp takes as many as the template has X), with a mixed-case and
      // digit-bearing random tail (mkstemp uses [A-Za-z0-9])
      .replace(/([/\w][\w.-]*?[._-])([A-Za-z0-9]{6,12})(?=$|[/\s"'])/g, (m, pre: string, tail: string) =>
        /[0-9]/.test(tail) && /[A-Za-z]/.test(tail) && /[A-Z]/.test(tail) && /[a-z]/.test(tail)
          ? `${pre}XXXXXX`
          : m,
      )
  );
}

/** Dates and timestamps inside names: ISO dates (with time), compact dates, Unix epochs in s…ns. */
function undate(s: string): string {
  return s
    .replace(
      /(?<!\d)(?:19|20)\d{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])(?:[T_ -]?[0-2]\d[:.-]?[0-5]\d(?:[:.-]?[0-5]\d(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)/g,
      "<date>",
    )
    .replace(/(?<!\d)1[4-9]\d{8}(?:\d{3}){0,3}(?!\d)/g, "<date>");
}

function unproc(s: string): string {
  return s.replace(/\/proc\/\d+(?=\/|$)/g, "/proc/<pid>").replace(/\/task\/\d+(?=\/|$)/g, "/task/<tid>");
}

/** The string normaliser of one run: cwd, proc, temp, dates in that order. */
export function pathNormalizer(cwd: string | null, rules: ReadonlySet<NormalizeRule>): (s: string) => string {
  const base = cwd && cwd !== "/" ? cwd.replace(/\/+$/, "") : null;
  const cwdRe = base ? new RegExp(`${escapeRe(base)}(?=/|$|[\\s"'])`, "g") : null;
  return (s: string) => {
    let t = s;
    if (cwdRe && rules.has("cwd")) t = t.replace(cwdRe, ".");
    if (rules.has("proc")) t = unproc(t);
    if (rules.has("temp")) t = untemp(t);
    if (rules.has("dates")) t = undate(t);
    return t;
  };
}

function normalizeEndpoint(ep: string | null, rules: ReadonlySet<NormalizeRule>): string {
  if (ep == null) return "-";
  if (!rules.has("ports")) return ep;
  const m = /^(.*):(\d+)$/.exec(ep);
  if (m && Number(m[2]) >= EPHEMERAL_PORT_MIN) return `${m[1]}:<ephemeral>`;
  return ep;
}

// ------------------------------------------------------------------ keyed views of a summary

interface ProcView {
  key: string;
  exit: string;
  cwd: string;
  duration: number | null;
}

interface FileView {
  key: string;
  type: string;
  access: string;
  renamedTo: string;
  bytesRead: number;
  bytesWritten: number;
}

interface SummaryView {
  run: { exit: string; status: string; duration: number | null; command: string };
  processes: Map<string, ProcView[]>;
  executables: Map<string, number>;
  files: Map<string, FileView[]>;
  directories: Map<string, string[]>;
  sockets: Map<string, number>;
  registry: Map<string, number>;
}

function exitText(p: SummaryProcess["exit"]): string {
  if (!p) return "-";
  return "code" in p ? `exit ${p.code}` : `signal ${p.signal}${p.coreDumped ? " (core)" : ""}`;
}

function accessText(f: SummaryFile): string {
  const flags: string[] = [];
  for (const k of ["read", "written", "created", "deleted", "executed", "mapped", "truncated"] as const)
    if (f[k]) flags.push(k);
  if (f.probedOnly) flags.push("probed");
  return flags.join(",") || "-";
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function view(s: RunSummary, cwd: string | null, rules: ReadonlySet<NormalizeRule>): SummaryView {
  const rootCwd = cwd ?? s.processes.find((p) => p.parentId == null)?.cwd ?? null;
  const norm = pathNormalizer(rootCwd, rules);
  const pids = !rules.has("pids");

  // a process is its command line and its place in the tree (the chain of its ancestors' command lines)
  const byId = new Map<number, SummaryProcess>();
  for (const p of s.processes) byId.set(p.id, p);
  const label = (p: SummaryProcess): string => {
    const argv = p.argv.map(norm).join(" ");
    const exe = p.exe ? norm(p.exe) : "?";
    return `${exe}${argv ? ` [${argv}]` : ""}${pids ? ` pid ${p.pid}` : ""}`;
  };
  const keyOf = new Map<number, string>();
  const keyFor = (p: SummaryProcess, depth = 0): string => {
    const known = keyOf.get(p.id);
    if (known !== undefined) return known;
    const parent = p.parentId != null && depth < 1000 ? byId.get(p.parentId) : undefined;
    const k = parent ? `${keyFor(parent, depth + 1)} > ${label(p)}` : label(p);
    keyOf.set(p.id, k);
    return k;
  };
  const processes = new Map<string, ProcView[]>();
  for (const p of s.processes) {
    push(processes, keyFor(p), {
      key: keyFor(p),
      exit: exitText(p.exit),
      cwd: p.cwd ? norm(p.cwd) : "-",
      duration: p.duration,
    });
  }

  const executables = new Map<string, number>();
  for (const e of s.executables) bump(executables, norm(e));

  const files = new Map<string, FileView[]>();
  for (const f of s.files) {
    const key = norm(f.path);
    push(files, key, {
      key,
      type: f.type,
      access: accessText(f),
      renamedTo: f.renamedTo ? norm(f.renamedTo) : "-",
      bytesRead: f.bytesRead,
      bytesWritten: f.bytesWritten,
    });
  }

  const directories = new Map<string, string[]>();
  for (const d of s.directories) {
    const flags = [d.created && "created", d.deleted && "deleted", d.listed && "listed"].filter(Boolean);
    push(directories, norm(d.path), flags.join(",") || "-");
  }

  const sockets = new Map<string, number>();
  for (const so of s.sockets as SummarySocket[]) {
    const where = so.path
      ? norm(so.path)
      : `${normalizeEndpoint(so.local, rules)} -> ${normalizeEndpoint(so.remote, rules)}`;
    bump(sockets, `${so.family}${so.protocol ? `/${so.protocol}` : ""} ${so.role} ${where}`);
  }

  // registry names are case-insensitive; reads are left out (ProcMon logs thousands of them)
  const registry = new Map<string, number>();
  for (const k of s.registry ?? []) {
    const flags = [k.created && "created", k.written && "written", k.deleted && "deleted"].filter(Boolean);
    if (flags.length > 0) bump(registry, `${k.key.toLowerCase()} [${flags.join(",")}]`);
  }

  const r = s.run;
  return {
    run: {
      exit: r.exitSignal ? `signal ${r.exitSignal}` : r.exitCode != null ? `exit ${r.exitCode}` : "-",
      status: r.status,
      duration: r.duration,
      command: r.command.map(norm).join(" "),
    },
    processes,
    executables,
    files,
    directories,
    sockets,
    registry,
  };
}

// ------------------------------------------------------------------ comparing

function byKey(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Multisets: a key present n times in one run and m in the other is added / removed |n - m| times. */
function countDiff(
  a: Map<string, number>,
  b: Map<string, number>,
  detailA?: (k: string) => string | undefined,
  detailB?: (k: string) => string | undefined,
): Section {
  const added: Entry[] = [];
  const removed: Entry[] = [];
  for (const [k, n] of a) {
    const m = b.get(k) ?? 0;
    const detail = detailA?.(k);
    if (n > m) removed.push({ key: k, count: n - m, ...(detail ? { detail } : {}) });
  }
  for (const [k, m] of b) {
    const n = a.get(k) ?? 0;
    const detail = detailB?.(k);
    if (m > n) added.push({ key: k, count: m - n, ...(detail ? { detail } : {}) });
  }
  return { added: added.sort(byKey), removed: removed.sort(byKey), changed: [] };
}

function counts<V>(m: Map<string, V[]>): Map<string, number> {
  return new Map([...m].map(([k, v]) => [k, v.length]));
}

/** Items present on both sides: compare their fields (first with first, second with second…). */
function fieldChanges<V extends object>(
  a: Map<string, V[]>,
  b: Map<string, V[]>,
  fields: (keyof V & string)[],
  same: (field: string, x: unknown, y: unknown) => boolean = (_f, x, y) => x === y,
): Change[] {
  const out: Change[] = [];
  for (const [k, as] of a) {
    const bs = b.get(k);
    if (!bs) continue;
    const n = Math.min(as.length, bs.length);
    const changed: Record<string, [unknown, unknown]> = {};
    for (let i = 0; i < n; i++) {
      for (const f of fields) {
        const x = as[i]![f];
        const y = bs[i]![f];
        if (!same(f, x, y) && !(f in changed)) changed[f] = [x, y];
      }
    }
    if (Object.keys(changed).length > 0) out.push({ key: k, fields: changed });
  }
  return out.sort(byKey);
}

function durationChanged(x: number | null, y: number | null, tolerance: number): boolean {
  if (x == null || y == null) return false;
  const d = Math.abs(x - y);
  return d > tolerance && d > Math.max(x, y) / 2;
}

export function diffRunSummaries(
  a: RunSummary,
  b: RunSummary,
  cwdA: string | null,
  cwdB: string | null,
  options: RunDiffOptions = {},
): RunDiff {
  const rules = new Set<NormalizeRule>(options.rules ?? NORMALIZE_RULES);
  const tolerance = options.durationTolerance ?? 1;
  const va = view(a, cwdA, rules);
  const vb = view(b, cwdB, rules);

  const run: Change[] = [];
  const runFields: Record<string, [unknown, unknown]> = {};
  if (va.run.command !== vb.run.command) runFields.command = [va.run.command, vb.run.command];
  if (va.run.exit !== vb.run.exit) runFields.exit = [va.run.exit, vb.run.exit];
  if (va.run.status !== vb.run.status) runFields.status = [va.run.status, vb.run.status];
  if (Object.keys(runFields).length > 0) run.push({ key: "run", fields: runFields });

  const first =
    <V>(m: Map<string, V[]>, f: (v: V) => string) =>
    (k: string) => {
      const v = m.get(k)?.[0];
      return v === undefined ? undefined : f(v);
    };
  const processes = countDiff(
    counts(va.processes),
    counts(vb.processes),
    first(va.processes, (p) => p.exit),
    first(vb.processes, (p) => p.exit),
  );
  processes.changed = fieldChanges(va.processes, vb.processes, ["exit", "cwd"]);
  const files = countDiff(
    counts(va.files),
    counts(vb.files),
    first(va.files, (f) => f.access),
    first(vb.files, (f) => f.access),
  );
  files.changed = fieldChanges(va.files, vb.files, [
    "type",
    "access",
    "renamedTo",
    "bytesRead",
    "bytesWritten",
  ]);
  const directories = countDiff(
    counts(va.directories),
    counts(vb.directories),
    first(va.directories, (d) => d),
    first(vb.directories, (d) => d),
  );
  directories.changed = fieldChanges(
    new Map([...va.directories].map(([k, v]) => [k, v.map((access) => ({ access }))])),
    new Map([...vb.directories].map(([k, v]) => [k, v.map((access) => ({ access }))])),
    ["access"],
  );
  const executables = countDiff(va.executables, vb.executables);
  const sockets = countDiff(va.sockets, vb.sockets);
  const registry = countDiff(va.registry, vb.registry);

  const durations: Change[] = [];
  if (durationChanged(va.run.duration, vb.run.duration, tolerance))
    durations.push({ key: "run", fields: { duration: [va.run.duration, vb.run.duration] } });
  durations.push(
    ...fieldChanges(
      va.processes,
      vb.processes,
      ["duration"],
      (_f, x, y) => !durationChanged(x as number | null, y as number | null, tolerance),
    ),
  );

  const sectionSize = (s: Section) => s.added.length + s.removed.length + s.changed.length;
  const differences =
    run.length +
    sectionSize(processes) +
    sectionSize(executables) +
    sectionSize(files) +
    sectionSize(directories) +
    sectionSize(sockets) +
    sectionSize(registry) +
    durations.length;
  return {
    a: { id: a.run.id, name: a.run.name },
    b: { id: b.run.id, name: b.run.name },
    normalized: NORMALIZE_RULES.filter((r) => rules.has(r)),
    same: differences === 0,
    differences,
    run,
    processes,
    executables,
    files,
    directories,
    sockets,
    registry,
    durations,
  };
}
