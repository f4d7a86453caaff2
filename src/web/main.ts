/** The web UI of `provflow serve`: hash routes #/ (runs), #/run/ID[/graph|/exports], #/compare/A/B. */
import { compareView } from "./compare-view.js";
import { clear, h } from "./dom.js";
import { RunView } from "./run-view.js";
import { runsView } from "./runs-view.js";

const main = document.getElementById("app") as HTMLElement;
let current: RunView | null = null;

async function route(): Promise<void> {
  current?.close();
  current = null;
  clear(main);
  const parts = location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((p) => p !== "");
  document.body.dataset.view = parts[0] ?? "runs";
  try {
    if (parts[0] === "run" && parts[1] !== undefined) {
      current = new RunView(main, decodeURIComponent(parts[1]));
      const tab = parts[2] === "graph" || parts[2] === "exports" ? parts[2] : "batchflow";
      await current.open(tab);
    } else if (parts[0] === "compare" && parts[1] !== undefined && parts[2] !== undefined) {
      await compareView(main, decodeURIComponent(parts[1]), decodeURIComponent(parts[2]));
    } else {
      await runsView(main);
    }
    document.body.dataset.ready = "1";
  } catch (err) {
    main.append(h("div.error", null, (err as Error).message));
  }
}

window.addEventListener("hashchange", () => {
  document.body.dataset.ready = "0";
  void route();
});
void route();
