import type { GraphNode } from "../graph/prov-types.js";
import type {
  Channel,
  Flow,
  NodeReport,
  PacketReport,
  ProcessRef,
  ProcessReport,
  ProcessSelector,
  RelationRow,
  TypeInventory,
} from "../graph/run-query.js";
import { isoMicros } from "../graph/time-format.js";
import type { RunRecord } from "../store/store-types.js";

/**
 * The answers of `provflow query` as aligned text tables (people) or JSON (programs). JSON times are
 * UTC ISO 8601 with microseconds, as everywhere else.
 */

const iso = (us: number | null | undefined) => (us === null || us === undefined ? null : isoMicros(us));

/** An aligned table: columns padded to their widest cell, the last one left as it is. */
export function textTable(header: string[], rows: string[][], indent = ""): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[fmt(header), ...rows.map(fmt)].join("\n")}\n`;
}

/** One line of text: control characters (newlines in a label) are escaped. */
export function oneLine(s: string, max = 0): string {
  let t = "";
  for (const c of s) {
    const code = c.charCodeAt(0);
    t += code < 0x20 || code === 0x7f ? JSON.stringify(c).slice(1, -1) : c;
  }
  return max > 0 && t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function runHead(run: RunRecord): string {
  return `Run ${run.id} ${oneLine(run.name)}  (${run.source}, ${run.status})\n`;
}

function runJson(run: RunRecord) {
  return { id: run.id, name: run.name, source: run.source };
}

// ---------------------------------------------------------------------------------------------

export function formatTypes(run: RunRecord, inv: TypeInventory, json: boolean): string {
  if (json) return `${JSON.stringify({ run: runJson(run), ...inv }, null, 2)}\n`;
  const n = inv.nodes;
  const r = inv.relations;
  const out: string[] = [runHead(run)];
  out.push(`\nNodes: ${n.total}\n`);
  out.push(
    textTable(
      ["KIND", "TYPE", "SOURCE TYPE", "COUNT"],
      n.byType.map((t) => [t.kind, t.type, oneLine(t.sourceType, 60) || "-", String(t.count)]),
    ),
  );
  out.push(`\nprov:type of nodes (${n.withoutProvType} without)\n`);
  if (n.provTypes.length > 0)
    out.push(
      textTable(
        ["KIND", "PROV:TYPE", "COUNT"],
        n.provTypes.map((t) => [t.of, oneLine(t.value, 80), String(t.count)]),
      ),
    );
  out.push(`\nRelations: ${r.total} (${r.calls} calls)\n`);
  out.push(
    textTable(
      ["RELATION", "OP", "SOURCE TYPE", "COUNT", "CALLS"],
      r.byType.map((t) => [t.type, t.op, oneLine(t.sourceType, 60) || "-", String(t.count), String(t.calls)]),
    ),
  );
  out.push(`\nprov:type of relations (${r.withoutProvType} without)\n`);
  if (r.provTypes.length > 0)
    out.push(
      textTable(
        ["RELATION", "PROV:TYPE", "COUNT"],
        r.provTypes.map((t) => [t.of, oneLine(t.value, 80), String(t.count)]),
      ),
    );
  for (const [what, labels] of [
    ["Node labels", n.labels],
    ["Relation labels (prov:label)", r.labels],
  ] as const) {
    const shown = labels.values.length < labels.distinct ? `, the ${labels.values.length} most frequent` : "";
    out.push(`\n${what}: ${labels.distinct} distinct${shown}\n`);
    if (labels.values.length > 0)
      out.push(
        textTable(
          ["COUNT", "LABEL"],
          labels.values.map((v) => [String(v.count), oneLine(v.value, 200)]),
        ),
      );
  }
  return out.join("");
}

// ---------------------------------------------------------------------------------------------

const procText = (p: ProcessRef | null) => (p === null ? "-" : `${p.pid ?? "?"} ${oneLine(p.name, 48)}`);

export function formatPackets(run: RunRecord, rep: PacketReport, json: boolean): string {
  if (json) {
    const body: Record<string, unknown> = {
      run: runJson(run),
      packets: rep.packets,
      sockets: rep.sockets,
      flows: rep.flows,
    };
    if (rep.channels) body.channels = rep.channels;
    return `${JSON.stringify(body, null, 2)}\n`;
  }
  const out: string[] = [
    runHead(run),
    `${rep.packets} packets, ${rep.sockets} sockets without packets; ${rep.flows.length} flows\n`,
  ];
  if (rep.flows.length > 0)
    out.push(
      `\n${textTable(
        ["VIA", "SENDER", "FROM", "RECEIVER", "TO", "COUNT", "BYTES"],
        rep.flows.map((f: Flow) => [
          f.via,
          procText(f.sender),
          oneLine(f.from ?? "-", 60),
          procText(f.receiver),
          oneLine(f.to ?? "-", 60),
          String(f.count),
          String(f.bytes),
        ]),
      )}`,
    );
  if (rep.channels) {
    out.push("\n");
    for (const c of rep.channels as Channel[]) {
      out.push(
        `${c.via} ${c.ids.join(",")} ${oneLine(c.label, 100)}  ${oneLine(c.from ?? "-")} -> ${oneLine(c.to ?? "-")}\n`,
      );
      out.push(`  senders:   ${c.senders.map(procText).join("; ") || "-"}\n`);
      out.push(`  receivers: ${c.receivers.map(procText).join("; ") || "-"}\n`);
    }
  }
  return out.join("");
}

// ---------------------------------------------------------------------------------------------

export function formatProcesses(
  run: RunRecord,
  sel: ProcessSelector,
  rep: ProcessReport,
  json: boolean,
): string {
  if (json)
    return `${JSON.stringify(
      {
        run: runJson(run),
        selector: sel,
        nodes: rep.nodes,
        processes: rep.processes.map((p) => ({ ...p, start: iso(p.start), end: iso(p.end) })),
      },
      null,
      2,
    )}\n`;
  const out = [runHead(run), `${rep.processes.length} processes (${rep.nodes} nodes)\n`];
  if (rep.processes.length > 0)
    out.push(
      `\n${textTable(
        ["PID", "NAME", "SECCTX", "CGROUPNS", "START", "END", "NODES", "GID"],
        rep.processes.map((p) => [
          p.pid === null ? "?" : String(p.pid),
          oneLine(p.name, 48),
          p.secctx === null ? "-" : `${oneLine(p.secctx, 60)}${p.secctxFromMemory ? " (memory)" : ""}`,
          p.cgroupns ?? "-",
          iso(p.start) ?? "-",
          iso(p.end) ?? "-",
          String(p.ids.length),
          p.gid,
        ]),
      )}`,
    );
  return out.join("");
}

// ---------------------------------------------------------------------------------------------

function nodeJson(n: GraphNode) {
  return { ...n, start: iso(n.start), end: iso(n.end) };
}

function relationJson(r: RelationRow) {
  return { ...r, ts: iso(r.ts), tsEnd: iso(r.tsEnd) };
}

function valueText(v: unknown): string {
  return typeof v === "string" ? oneLine(v, 400) : oneLine(JSON.stringify(v) ?? String(v), 400);
}

function relationTable(rows: RelationRow[], dir: "out" | "in"): string {
  return textTable(
    ["EDGE", "RELATION", "OP", "SOURCE TYPE", "COUNT", "BYTES", "TIME", dir === "out" ? "TO" : "FROM"],
    rows.map((r) => [
      String(r.edge),
      r.type,
      r.op,
      r.sourceType === null ? "-" : oneLine(r.sourceType, 40),
      String(r.count),
      String(r.bytes),
      iso(r.ts) ?? "-",
      `${r.other.id} ${r.other.kind ?? "?"}/${r.other.type ?? "?"} ${oneLine(r.other.label ?? "", 120)}`,
    ]),
    "  ",
  );
}

export function formatNode(run: RunRecord, ref: string, rep: NodeReport, json: boolean): string {
  if (json)
    return `${JSON.stringify(
      {
        run: runJson(run),
        ref,
        matches: rep.matches,
        nodes: rep.nodes.map((d) => ({
          ...nodeJson(d.node),
          out: d.out.map(relationJson),
          in: d.in.map(relationJson),
        })),
      },
      null,
      2,
    )}\n`;
  const out = [runHead(run)];
  if (rep.matches > rep.nodes.length)
    out.push(`${rep.matches} nodes answer to ${oneLine(ref)}; the first ${rep.nodes.length} follow\n`);
  for (const { node: n, out: outs, in: ins } of rep.nodes) {
    out.push(`\nNode ${n.id}  ${n.kind}/${n.type}  version ${n.version}\n`);
    out.push(
      textTable(
        ["", ""],
        [
          ["gid", oneLine(n.gid)],
          ["label", oneLine(n.label)],
          ["start", iso(n.start) ?? "-"],
          ["end", iso(n.end) ?? "-"],
        ],
        "  ",
      )
        .split("\n")
        .slice(1)
        .join("\n"),
    );
    const keys = Object.keys(n.attrs).sort();
    out.push(`Attributes (${keys.length})\n`);
    if (keys.length > 0)
      out.push(
        textTable(
          ["KEY", "VALUE"],
          keys.map((k) => [oneLine(k, 60), valueText(n.attrs[k])]),
          "  ",
        ),
      );
    out.push(`Relations out (${outs.length})\n`);
    if (outs.length > 0) out.push(relationTable(outs, "out"));
    out.push(`Relations in (${ins.length})\n`);
    if (ins.length > 0) out.push(relationTable(ins, "in"));
  }
  return out.join("");
}
