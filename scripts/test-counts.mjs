// Prints vitest's JSON report as the plain "N passed, N failed" line CI reads. A test file that failed
// without a failed test in it (an import error, a failing beforeAll) counts as one failure.
import { existsSync, readFileSync } from "node:fs";

const file = process.argv[2] ?? "test-results/vitest.json";
if (!existsSync(file)) {
  console.log("0 passed, 1 failed");
  console.error(`no test report at ${file}: the test run did not start (type errors or build failure above)`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, "utf8"));
const brokenFiles = (r.testResults ?? []).filter(
  (t) => t.status === "failed" && !(t.assertionResults ?? []).some((a) => a.status === "failed"),
).length;
const failed = (r.numFailedTests ?? 0) + brokenFiles;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests ?? 0} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || (r.numPassedTests ?? 0) === 0 ? 1 : 0);
