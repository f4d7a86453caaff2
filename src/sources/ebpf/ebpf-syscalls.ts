/**
 * System call numbers of the calls provflow's eBPF program (share/provflow.bt) follows, per
 * architecture: the program is filled in with them, and the parser turns the numbers of its `S`
 * lines back into names. -1: the architecture has no such call (arm64 has only the *at forms).
 */

export type EbpfArch = "x64" | "arm64";

const X64: Record<string, number> = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  pread64: 17,
  pwrite64: 18,
  readv: 19,
  writev: 20,
  pipe: 22,
  dup: 32,
  dup2: 33,
  socket: 41,
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  bind: 49,
  listen: 50,
  socketpair: 53,
  execve: 59,
  fcntl: 72,
  truncate: 76,
  ftruncate: 77,
  chdir: 80,
  fchdir: 81,
  rename: 82,
  mkdir: 83,
  rmdir: 84,
  creat: 85,
  link: 86,
  unlink: 87,
  symlink: 88,
  openat: 257,
  mkdirat: 258,
  unlinkat: 263,
  renameat: 264,
  linkat: 265,
  symlinkat: 266,
  accept4: 288,
  dup3: 292,
  pipe2: 293,
  preadv: 295,
  pwritev: 296,
  renameat2: 316,
  execveat: 322,
  preadv2: 327,
  pwritev2: 328,
  openat2: 437,
  sendfile: 40,
  splice: 275,
  copy_file_range: 326,
  epoll_wait: 232,
  epoll_pwait: 281,
};

const ARM64: Record<string, number> = {
  read: 63,
  write: 64,
  open: -1,
  close: 57,
  pread64: 67,
  pwrite64: 68,
  readv: 65,
  writev: 66,
  pipe: -1,
  dup: 23,
  dup2: -1,
  socket: 198,
  connect: 203,
  accept: 202,
  sendto: 206,
  recvfrom: 207,
  sendmsg: 211,
  recvmsg: 212,
  bind: 200,
  listen: 201,
  socketpair: 199,
  execve: 221,
  fcntl: 25,
  truncate: 45,
  ftruncate: 46,
  chdir: 49,
  fchdir: 50,
  rename: -1,
  mkdir: -1,
  rmdir: -1,
  creat: -1,
  link: -1,
  unlink: -1,
  symlink: -1,
  openat: 56,
  mkdirat: 34,
  unlinkat: 35,
  renameat: 38,
  linkat: 37,
  symlinkat: 36,
  accept4: 242,
  dup3: 24,
  pipe2: 59,
  preadv: 69,
  pwritev: 70,
  renameat2: 276,
  execveat: 281,
  preadv2: 286,
  pwritev2: 287,
  openat2: 437,
  sendfile: 71,
  splice: 76,
  copy_file_range: 285,
  epoll_wait: -1,
  epoll_pwait: 22,
};

const TABLES: Record<EbpfArch, Record<string, number>> = { x64: X64, arm64: ARM64 };

/** The architecture of this machine as the program knows it, or null when it has no table. */
export function ebpfArch(nodeArch: string = process.arch): EbpfArch | null {
  return nodeArch === "x64" || nodeArch === "arm64" ? nodeArch : null;
}

/** name → number for an architecture */
export function syscallNumbers(arch: EbpfArch): Readonly<Record<string, number>> {
  return TABLES[arch];
}

const NAMES = new Map<EbpfArch, Map<number, string>>();

/** number → name for an architecture */
export function syscallName(arch: EbpfArch, nr: number): string | undefined {
  let m = NAMES.get(arch);
  if (m === undefined) {
    m = new Map();
    for (const [name, n] of Object.entries(TABLES[arch])) if (n >= 0) m.set(n, name);
    NAMES.set(arch, m);
  }
  return m.get(nr);
}
