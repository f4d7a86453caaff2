/** UTC ISO 8601 with microseconds: 2026-11-23T02:27:14.897700Z (input: µs since the epoch). */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const micro = us - ms * 1000;
  const base = new Date(ms).toISOString(); // 2026-11-23T02:27:14.897Z
  return `${base.slice(0, 23)}${String(Math.round(micro)).padStart(3, "0")}Z`;
}

/** A duration in µs as seconds with 3 decimals ("0.012 s"), or "" when unknown. */
export function secondsText(us: number | null | undefined): string {
  if (us == null || !Number.isFinite(us)) return "";
  return `${(us / 1e6).toFixed(3)} s`;
}
