/** The first page: every run with its command, host, time, duration, exit status and counts. */
import { api, type Run } from "./api.js";
import { h } from "./dom.js";
import { count, duration, shortTime } from "./format.js";

export function exitBadge(run: Run): HTMLElement {
  if (run.status === "running") return h("span.badge.running", null, "running");
  if (run.exitSignal !== null) return h("span.badge.bad", null, run.exitSignal);
  if (run.exitCode === null) return h("span.badge.muted", null, run.status);
  return h(`span.badge${run.exitCode === 0 ? ".ok" : ".bad"}`, null, `exit ${run.exitCode}`);
}

export async function runsView(root: HTMLElement): Promise<void> {
  const { runs } = await api<{ runs: Run[] }>("/api/runs");
  const picked = new Set<number>();
  const compare = h("button.primary", { disabled: true, id: "compare-btn" }, "Compare 2 runs");
  compare.addEventListener("click", () => {
    const [a, b] = [...picked].sort((x, y) => x - y);
    location.hash = `#/compare/${a}/${b}`;
  });
  const rows = runs.map((r) =>
    h(
      "tr.run-row",
      { "data-run": r.id },
      h(
        "td",
        null,
        h("input", {
          type: "checkbox",
          title: "pick for compare",
          "data-pick": r.id,
          onclick: (ev: Event) => ev.stopPropagation(),
          onchange: (ev: Event) => {
            if ((ev.target as HTMLInputElement).checked) picked.add(r.id);
            else picked.delete(r.id);
            compare.disabled = picked.size !== 2;
          },
        }),
      ),
      h("td.num", null, r.id),
      h("td", null, h("a", { href: `#/run/${r.id}` }, r.name)),
      h("td.cmd", { title: r.command.join(" ") }, r.command.join(" ")),
      h("td", null, r.host),
      h("td.nowrap", null, shortTime(r.start)),
      h("td.num", null, duration(r.duration)),
      h("td", null, exitBadge(r)),
      h("td.num", null, count(r.stats.processes ?? 0) || ""),
      h("td.num", null, count(r.nodeCount)),
      h("td.num", null, count(r.edgeCount)),
      h("td", null, r.source),
    ),
  );
  for (const row of rows) row.addEventListener("click", () => (location.hash = `#/run/${row.dataset.run}`));
  root.append(
    h(
      "section.card",
      null,
      h("div.card-head", null, h("h2", null, `Runs `, h("span.muted", null, `(${runs.length})`)), compare),
      runs.length === 0
        ? h(
            "p.muted",
            null,
            "No runs yet: record one with ",
            h("code", null, "provflow trace -- COMMAND"),
            ".",
          )
        : h(
            "table.runs",
            null,
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                [
                  "",
                  "id",
                  "name",
                  "command",
                  "host",
                  "start (UTC)",
                  "duration",
                  "exit",
                  "procs",
                  "nodes",
                  "edges",
                  "source",
                ].map((t) => h("th", null, t)),
              ),
            ),
            h("tbody", null, rows),
          ),
    ),
  );
}
