/** Two runs side by side: what was added, removed or changed (the diff of `provflow diff`). */
import {
  api,
  type DiffChange,
  type DiffEntry,
  type DiffSection,
  type Run,
  type RunDiff,
  runPath,
} from "./api.js";
import { h } from "./dom.js";
import { count, duration, shortTime } from "./format.js";
import { exitBadge } from "./runs-view.js";

const SECTIONS = ["processes", "executables", "files", "directories", "sockets"];

function fieldText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function runCard(r: Run, side: string): HTMLElement {
  return h(
    `div.card.run-card.${side}`,
    null,
    h(
      "h3",
      null,
      `${side === "a" ? "A" : "B"}: `,
      h("a", { href: `#/run/${r.id}` }, `${r.name} #${r.id}`),
      " ",
      exitBadge(r),
    ),
    h("div.cmd", null, r.command.join(" ")),
    h(
      "div.muted",
      null,
      `${r.host} · ${shortTime(r.start)} · ${duration(r.duration)} · ${count(r.nodeCount)} nodes`,
    ),
  );
}

export async function compareView(root: HTMLElement, a: string, b: string): Promise<void> {
  const [ra, rb, d] = await Promise.all([
    api<Run>(runPath(a)),
    api<Run>(runPath(b)),
    api<RunDiff>(`/api/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`),
  ]);
  const verdict = d.same
    ? h("div.verdict.same", null, "Same after normalisation")
    : h("div.verdict.different", null, `${d.differences} differences`);
  const sections: HTMLElement[] = [];
  if (d.run.length > 0) sections.push(changedTable("run", d.run));
  for (const name of SECTIONS) {
    const s = d[name] as DiffSection | undefined;
    if (s === undefined || s.added.length + s.removed.length + s.changed.length === 0) continue;
    sections.push(
      h(
        "section.card.diff-section",
        { "data-section": name },
        h(
          "h3",
          null,
          name,
          " ",
          h("span.muted", null, `+${s.added.length} −${s.removed.length} ~${s.changed.length}`),
        ),
        h(
          "div.side-by-side",
          null,
          column("removed", "only in A (removed)", "−", s.removed),
          column("added", "only in B (added)", "+", s.added),
        ),
        s.changed.length > 0 ? changedTable(`${name} changed`, s.changed).querySelector("table") : null,
      ),
    );
  }
  const durations = d.durations as DiffChange[] | undefined;
  if (durations !== undefined && durations.length > 0) sections.push(changedTable("durations", durations));
  root.append(h("div.compare-head", null, runCard(ra, "a"), runCard(rb, "b")), verdict, ...sections);
}

function column(side: "added" | "removed", title: string, mark: string, entries: DiffEntry[]): HTMLElement {
  return h(
    `div.col.${side}`,
    null,
    h("h4", null, title),
    entries.map((e) =>
      h(
        `div.diff-row.${side}`,
        { title: e.detail ?? "" },
        `${mark} ${e.key}`,
        e.count > 1 ? h("span.muted", null, ` ×${e.count}`) : null,
      ),
    ),
  );
}

function changedTable(title: string, changes: DiffChange[]): HTMLElement {
  return h(
    "section.card",
    null,
    h("h3", null, title),
    h(
      "table.changed",
      null,
      h(
        "thead",
        null,
        h("tr", null, h("th", null, "what"), h("th", null, "field"), h("th", null, "A"), h("th", null, "B")),
      ),
      h(
        "tbody",
        null,
        changes.flatMap((c) =>
          Object.entries(c.fields).map(([f, [x, y]]) =>
            h(
              "tr.diff-row.changed",
              null,
              h("td", null, c.key),
              h("td", null, f),
              h("td.removed", null, fieldText(x)),
              h("td.added", null, fieldText(y)),
            ),
          ),
        ),
      ),
    ),
  );
}
