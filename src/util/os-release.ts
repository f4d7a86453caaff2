import { readFileSync } from "node:fs";

/**
 * The distribution a machine runs, from its os-release (`/etc/os-release`, else
 * `/usr/lib/os-release`), as the container image of that distribution and release. `provflow trace`
 * records it on the run's machine agent (`osImage`, `osName`); the dockerfile export starts FROM it.
 */

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m?.[1] || m[2] === undefined) continue;
    out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2").replace(/\\(.)/g, "$1");
  }
  return out;
}

/** The base image of a distribution: `debian:12`, `ubuntu:22.04`, `fedora:39`, … */
export function imageOfOsRelease(text: string): string | null {
  const os = parseOsRelease(text);
  const id = os.ID;
  if (!id) return null;
  const version = os.VERSION_ID ?? os.VERSION_CODENAME ?? "latest";
  switch (id) {
    case "opensuse-leap":
      return `opensuse/leap:${version}`;
    case "opensuse-tumbleweed":
      return "opensuse/tumbleweed";
    case "rhel":
      return `registry.access.redhat.com/ubi${version.split(".")[0]}/ubi`;
    case "centos":
      return `quay.io/centos/centos:stream${version.split(".")[0]}`;
    case "rocky":
      return `rockylinux:${version.split(".")[0]}`;
    case "almalinux":
      return `almalinux:${version.split(".")[0]}`;
    default:
      return `${id}:${version}`;
  }
}

/** This machine's distribution: its image and its pretty name; null without an os-release. */
export function localOs(): { image: string; name: string | null } | null {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const image = imageOfOsRelease(text);
    if (image === null) return null;
    return { image, name: parseOsRelease(text).PRETTY_NAME ?? null };
  }
  return null;
}
