/** Display helpers: times are µs since the epoch (UTC), durations in seconds. */
export function isoTime(us: number | null | undefined): string {
  if (us === null || us === undefined) return "";
  const ms = Math.floor(us / 1000);
  const micro = String(Math.round(us - ms * 1000)).padStart(3, "0");
  return `${new Date(ms).toISOString().slice(0, 23)}${micro}Z`;
}

export function shortTime(us: number | null | undefined): string {
  const t = isoTime(us);
  return t === "" ? "" : t.replace("T", " ").slice(0, 19);
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return `${(seconds * 1000).toFixed(1)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Colours by node type (graph view and legends). */
export const TYPE_COLORS: Record<string, string> = {
  process: "#e8743b",
  file: "#4a90d9",
  directory: "#7fb3e6",
  pipe: "#9b59b6",
  socket: "#2ecc71",
  device: "#95a5a6",
  anon: "#bdc3c7",
  user: "#f1c40f",
  machine: "#f39c12",
  packet: "#1abc9c",
  memory: "#c0392b",
  path: "#5dade2",
  address: "#27ae60",
  other: "#7f8c8d",
};
