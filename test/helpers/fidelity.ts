import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CORPUS, ROOT } from "./cli.js";

/**
 * The fidelity workloads and the normalisation shared by the replayed (fidelity.test.ts) and live
 * (ebpf-fidelity.test.ts) comparisons against the kernel's audit oracle.
 */

/** The shared fidelity corpus, and workloads of our own captured the same way (test/fixtures/fidelity). */
export const FIDELITY_DIRS = [join(CORPUS, "fidelity"), join(ROOT, "test/fixtures/fidelity")];

export function fidelityWorkloads(): Array<{ name: string; dir: string; script: string }> {
  return FIDELITY_DIRS.flatMap((base) =>
    readdirSync(base, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== "workloads")
      .map((d) => ({
        name: d.name,
        dir: join(base, d.name),
        script: join(base, "workloads", `${d.name.replace(/@.*/, "")}.sh`),
      })),
  );
}

/**
 * Each capture is a separate run, so the workloads' own random temporary names differ between the
 * oracle and the strace capture: sed -i's `sedXXXXXX` and python tempfile's `.res-XXXXXXXX`
 * (compare-summary.py's noise filter only knows git's). Both sides get the same placeholder.
 */
export function unrandom(path: string): string {
  return path
    .replace(/\/sed[A-Za-z0-9]{6}$/, "/sedXXXXXX")
    .replace(/\/\.res-[a-z0-9_]{8}$/, "/.res-XXXXXXXX");
}

export function normaliseOracle(file: string): string {
  const o = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const paths = (k: string) => ((o[k] as string[] | undefined) ?? []).map(unrandom);
  return JSON.stringify({
    ...o,
    created: paths("created"),
    deleted: paths("deleted"),
    renamed: ((o.renamed as [string, string][]) ?? []).map(([a, b]) => [unrandom(a), unrandom(b)]),
  });
}

/**
 * The capture's audit rules watch rename and renameat2 but not renameat, so the kernel oracle never
 * hears of a rename done with renameat (coreutils mv falls back to it when the target exists). Those
 * renames, as the full strace capture of the same workload shows them, are left out of the comparison.
 */
export function unauditedRenames(workloadDir: string): Set<string> {
  const pairs = new Set<string>();
  const text = readFileSync(join(workloadDir, "full.strace"), "utf8");
  const re = /renameat\(AT_FDCWD<([^>]+)>, "([^"]+)", AT_FDCWD<([^>]+)>, "([^"]+)"\) = 0/g;
  for (const m of text.matchAll(re)) {
    const abs = (dir: string, p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
    pairs.add(`${abs(m[1]!, m[2]!)} -> ${abs(m[3]!, m[4]!)}`);
  }
  return pairs;
}

export function normaliseSummary(text: string, unaudited: Set<string>): string {
  const s = JSON.parse(text) as { files: Array<{ path: string; renamedTo: string | null }> };
  for (const f of s.files) {
    if (f.renamedTo && unaudited.has(`${f.path} -> ${f.renamedTo}`)) f.renamedTo = null;
    f.path = unrandom(f.path);
    if (f.renamedTo) f.renamedTo = unrandom(f.renamedTo);
  }
  return JSON.stringify(s);
}
