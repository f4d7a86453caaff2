/** Windows FILETIME: 100 ns intervals since 1601-01-01 UTC. */
const EPOCH_DIFF_100NS = 116444736000000000n;

/** A FILETIME as µs since the Unix epoch; null for 0 (ProcMon's "not ended"). */
export function filetimeMicros(ft: bigint): number | null {
  if (ft === 0n) return null;
  return Number((ft - EPOCH_DIFF_100NS) / 10n);
}

/** A FILETIME as ISO 8601 with 7 fraction digits (the form wevtutil writes). */
export function filetimeIso(ft: bigint): string {
  const unix100ns = ft - EPOCH_DIFF_100NS;
  const d = new Date(Number(unix100ns / 10000n));
  if (Number.isNaN(d.getTime())) return "";
  return `${d.toISOString().slice(0, 19)}.${String(unix100ns % 10000000n).padStart(7, "0")}Z`;
}
