import { readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";

/** Who and where we are, for run records and global ids. */
export interface HostInfo {
  host: string;
  machineId: string | null;
  bootId: string | null;
  user: string | null;
  uid: number | null;
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim() || null;
  } catch {
    return null;
  }
}

export function currentHostInfo(): HostInfo {
  let user: string | null = null;
  let uid: number | null = null;
  try {
    const u = userInfo();
    user = u.username;
    uid = u.uid;
  } catch {
    // no passwd entry: keep nulls
  }
  return {
    host: hostname(),
    machineId: readTrimmed("/etc/machine-id"),
    bootId: readTrimmed("/proc/sys/kernel/random/boot_id"),
    user,
    uid,
  };
}
