import type { RunSummary, SummaryProcess } from "../graph/run-summary.js";

export type SummaryFormat = "txt" | "json" | "xml";

export function formatSummary(summary: RunSummary, format: SummaryFormat): string {
  if (format === "json") return `${JSON.stringify(summary, null, 2)}\n`;
  if (format === "xml") return summaryXml(summary);
  return summaryText(summary);
}

// ------------------------------------------------------------------ tree

interface TreeNode {
  proc: SummaryProcess;
  /** later exec generations of the same process, in order */
  execs: SummaryProcess[];
  children: TreeNode[];
}

/**
 * One tree node per process (its first listed generation: 0, or the first exec when generation 0
 * was left out of the summary), its later exec generations attached, children by fork.
 */
function processTree(procs: SummaryProcess[]): TreeNode[] {
  const nodeOfGen = new Map<number, TreeNode>();
  const heads: TreeNode[] = [];
  // exec generations: same pid, later generation, until the next head of that pid (pid reuse)
  const lastByPid = new Map<number, TreeNode>();
  for (const p of procs) {
    const t = lastByPid.get(p.pid);
    const lastGen = t ? (t.execs.at(-1) ?? t.proc).generation : -1;
    if (t && p.generation > lastGen) {
      t.execs.push(p);
      nodeOfGen.set(p.id, t);
    } else {
      const head: TreeNode = { proc: p, execs: [], children: [] };
      heads.push(head);
      lastByPid.set(p.pid, head);
      nodeOfGen.set(p.id, head);
    }
  }
  const roots: TreeNode[] = [];
  for (const t of heads) {
    const parent = t.proc.parentId !== null ? nodeOfGen.get(t.proc.parentId) : undefined;
    if (parent && parent !== t) parent.children.push(t);
    else roots.push(t);
  }
  return roots;
}

function exitText(p: SummaryProcess): string {
  if (!p.exit) return p.unfinished ? "unfinished" : "no exit seen";
  if ("signal" in p.exit) return `killed by ${p.exit.signal}${p.exit.coreDumped ? " (core dumped)" : ""}`;
  return `exit ${p.exit.code}`;
}

function commandOf(p: SummaryProcess): string {
  return p.argv.length > 0 ? p.argv.join(" ") : (p.exe ?? "?");
}

function durText(s: number | null): string {
  return s === null ? "?" : `${s.toFixed(3)} s`;
}

// ------------------------------------------------------------------ text

function summaryText(s: RunSummary): string {
  const out: string[] = [];
  const r = s.run;
  out.push(`Run ${r.id} ${r.name}  (${r.source}, ${r.status})`);
  out.push(`  command: ${r.command.join(" ")}`);
  out.push(`  host:    ${r.host}`);
  out.push(`  start:   ${r.start ?? "?"}`);
  out.push(`  end:     ${r.end ?? "?"}${r.duration !== null ? `  (${r.duration.toFixed(3)} s)` : ""}`);
  out.push(
    `  exit:    ${r.exitSignal ? `killed by ${r.exitSignal}` : r.exitCode !== null ? String(r.exitCode) : "?"}`,
  );
  const c = s.counts;
  out.push(
    `  counts:  ${c.processes} processes, ${c.generations} exec generations, ${c.threads} threads, ${c.filesTouched} files (+${c.filesProbedOnly} probed only), ${c.directories} directories, ${c.sockets} sockets, ${c.pipes} pipes, ${s.problems} problems`,
  );
  out.push("", "Processes");
  const walk = (t: TreeNode, depth: number) => {
    const last = t.execs[t.execs.length - 1] ?? t.proc;
    const ind = "  ".repeat(depth + 1);
    const end = t.execs.length > 0 ? last : t.proc;
    const dur =
      t.proc.start && end.end
        ? (Date.parse(end.end) - Date.parse(t.proc.start)) / 1000
        : (end.duration ?? null);
    out.push(`${ind}[${t.proc.pid}] ${commandOf(last)}  (${durText(dur)}, ${exitText(end)})`);
    for (const e of t.execs.slice(0, -1)) out.push(`${ind}    exec'd ${commandOf(e)} first`);
    if (t.proc.threads.length > 0 || last.threads.length > 0) {
      out.push(
        `${ind}    threads: ${[...t.proc.threads, ...(last !== t.proc ? last.threads : [])].join(", ")}`,
      );
    }
    for (const ch of t.children) walk(ch, depth + 1);
  };
  for (const t of processTree(s.processes)) walk(t, 0);

  out.push("", "Executables");
  for (const e of s.executables) out.push(`  ${e}`);
  out.push("", `Shared libraries loaded (${s.sharedLibraries.length})`);
  for (const e of s.sharedLibraries) out.push(`  ${e}`);

  out.push("", "Files by category");
  const fileByPath = new Map(s.files.map((f) => [f.path, f]));
  for (const [cat, list] of Object.entries(s.filesByCategory)) {
    if (cat === "shared-library") continue;
    out.push(`  ${cat} (${list.length})`);
    for (const p of list) {
      const f = fileByPath.get(p);
      if (!f) continue;
      const flags: string[] = [];
      if (f.created) flags.push("created");
      if (f.read) flags.push(`read${f.bytesRead ? ` ${f.bytesRead} B` : ""}`);
      if (f.written) flags.push(`written${f.bytesWritten ? ` ${f.bytesWritten} B` : ""}`);
      if (f.truncated) flags.push("truncated");
      if (f.executed) flags.push("executed");
      if (f.mapped) flags.push("mapped");
      if (f.renamedFrom) flags.push(`renamed from ${f.renamedFrom}`);
      if (f.renamedTo) flags.push(`renamed to ${f.renamedTo}`);
      if (f.deleted) flags.push("deleted");
      out.push(`    ${p}  [${flags.join(", ")}]`);
    }
  }
  const dirs = s.directories.filter((d) => d.created || d.deleted);
  if (dirs.length > 0) {
    out.push("", "Directories created or removed");
    for (const d of dirs)
      out.push(
        `  ${d.path}  [${[d.created ? "created" : "", d.deleted ? "deleted" : ""].filter(Boolean).join(", ")}]`,
      );
  }
  out.push("", "Sockets");
  for (const k of s.sockets) {
    const ends = k.remote ? `${k.local ?? "?"} -> ${k.remote}` : (k.local ?? k.path ?? "?");
    out.push(
      `  ${k.protocol} ${ends}  ${k.role}  pids ${k.pids.join(",") || "-"}  sent ${k.bytesSent} B, received ${k.bytesReceived} B`,
    );
    for (const q of k.queries ?? []) out.push(`    query ${q}`);
  }
  const regWritten = s.registry.filter((k) => k.written || k.created || k.deleted);
  if (s.registry.length > 0) {
    out.push(
      "",
      `Registry keys written (${regWritten.length} of ${s.registry.length} keys and values touched)`,
    );
    for (const k of regWritten) {
      const flags = [k.created ? "created" : "", k.written ? "written" : "", k.deleted ? "deleted" : ""];
      out.push(`  ${k.key}  [${flags.filter(Boolean).join(", ")}]  pids ${k.writers.join(",") || "-"}`);
    }
  }
  out.push("", "Pipes between processes");
  for (const p of s.pipes) {
    if (p.writers.length === 0 && p.readers.length === 0) continue;
    out.push(
      `  pipe:[${p.inode}]  ${p.writers.join(",") || "?"} -> ${p.readers.join(",") || "?"}  ${p.bytes} B`,
    );
  }
  out.push("");
  return out.join("\n");
}

// ------------------------------------------------------------------ XML

export function xmlEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === "&") out += "&amp;";
    else if (ch === "<") out += "&lt;";
    else if (ch === ">") out += "&gt;";
    else if (ch === '"') out += "&quot;";
    else if (ch === "'") out += "&apos;";
    else if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || c === 0xfffe || c === 0xffff) {
      out += `\\x${c.toString(16).padStart(2, "0")}`;
    } else if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd";
    else out += ch;
  }
  return out;
}

function attrs(o: Record<string, string | number | boolean | null | undefined>): string {
  let s = "";
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined || v === false) continue;
    s += ` ${k}="${xmlEscape(String(v))}"`;
  }
  return s;
}

function summaryXml(s: RunSummary): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const r = s.run;
  out.push(
    `<provflow-summary${attrs({ run: r.id, name: r.name, source: r.source, host: r.host, start: r.start, end: r.end, exitCode: r.exitCode, exitSignal: r.exitSignal, status: r.status })}>`,
  );
  out.push("  <command>");
  for (const a of r.command) out.push(`    <arg>${xmlEscape(a)}</arg>`);
  out.push("  </command>");
  out.push(`  <counts${attrs({ ...s.counts, problems: s.problems })}/>`);
  out.push("  <processes>");
  const walk = (t: TreeNode, depth: number) => {
    const ind = "  ".repeat(depth + 2);
    const genAttrs = (p: SummaryProcess) => {
      const exit = p.exit ? ("signal" in p.exit ? { signal: p.exit.signal } : { code: p.exit.code }) : {};
      return attrs({
        generation: p.generation,
        exe: p.exe,
        cwd: p.cwd,
        start: p.start,
        end: p.end,
        ...exit,
        unfinished: p.unfinished,
      });
    };
    out.push(`${ind}<process${attrs({ pid: t.proc.pid, ppid: t.proc.ppid })}>`);
    for (const g of [t.proc, ...t.execs]) {
      if (g.argv.length === 0) out.push(`${ind}  <generation${genAttrs(g)}/>`);
      else {
        out.push(`${ind}  <generation${genAttrs(g)}>`);
        for (const a of g.argv) out.push(`${ind}    <arg>${xmlEscape(a)}</arg>`);
        out.push(`${ind}  </generation>`);
      }
    }
    for (const th of t.proc.threads) out.push(`${ind}  <thread tid="${th}"/>`);
    for (const ch of t.children) walk(ch, depth + 1);
    out.push(`${ind}</process>`);
  };
  for (const t of processTree(s.processes)) walk(t, 0);
  out.push("  </processes>");
  out.push("  <executables>");
  for (const e of s.executables) out.push(`    <executable path="${xmlEscape(e)}"/>`);
  out.push("  </executables>");
  out.push("  <files>");
  const fileByPath = new Map(s.files.map((f) => [f.path, f]));
  for (const [cat, list] of Object.entries(s.filesByCategory)) {
    out.push(`    <category${attrs({ name: cat, count: list.length })}>`);
    for (const p of list) {
      const f = fileByPath.get(p);
      if (!f) continue;
      out.push(
        `      <file${attrs({ path: f.path, type: f.type, versions: f.versions, read: f.read, written: f.written, created: f.created, deleted: f.deleted, executed: f.executed, mapped: f.mapped, truncated: f.truncated, renamedTo: f.renamedTo, renamedFrom: f.renamedFrom, bytesRead: f.bytesRead || null, bytesWritten: f.bytesWritten || null })}/>`,
      );
    }
    out.push("    </category>");
  }
  out.push("  </files>");
  out.push("  <directories>");
  for (const d of s.directories)
    out.push(
      `    <directory${attrs({ path: d.path, category: d.category, created: d.created, deleted: d.deleted, listed: d.listed })}/>`,
    );
  out.push("  </directories>");
  out.push("  <sockets>");
  for (const k of s.sockets) {
    const head = `    <socket${attrs({ family: k.family, protocol: k.protocol, local: k.local, remote: k.remote, role: k.role, path: k.path, pids: k.pids.join(" ") || null, bytesSent: k.bytesSent, bytesReceived: k.bytesReceived })}`;
    if (!k.queries?.length) out.push(`${head}/>`);
    else {
      out.push(`${head}>`);
      for (const q of k.queries) out.push(`      <query>${xmlEscape(q)}</query>`);
      out.push("    </socket>");
    }
  }
  out.push("  </sockets>");
  out.push("  <registry>");
  for (const k of s.registry) {
    if (k.probedOnly) continue;
    out.push(
      `    <key${attrs({ name: k.key, read: k.read, written: k.written, created: k.created, deleted: k.deleted, writers: k.writers.join(" ") || null })}/>`,
    );
  }
  out.push("  </registry>");
  out.push("  <pipes>");
  for (const p of s.pipes) {
    out.push(
      `    <pipe${attrs({ inode: p.inode, writers: p.writers.join(" ") || null, readers: p.readers.join(" ") || null, bytes: p.bytes })}/>`,
    );
  }
  out.push("  </pipes>");
  out.push("</provflow-summary>", "");
  return out.join("\n");
}
