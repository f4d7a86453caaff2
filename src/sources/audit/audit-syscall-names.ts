/**
 * Audit `arch=` values and per-architecture syscall numbers → names, for the architectures the audit
 * source meets in practice (x86_64, i386, aarch64). Tables are written in rows of ten starting at the
 * row's first number; "-" marks a number the kernel leaves unused. Numbers from 424 on are shared by
 * all architectures (the kernel unified them).
 */

type Row = readonly [start: number, names: string];

function buildTable(rows: readonly Row[]): Map<number, string> {
  const table = new Map<number, string>();
  for (const [start, names] of rows) {
    let nr = start;
    for (const name of names.split(" ")) {
      if (name !== "-") table.set(nr, name);
      nr++;
    }
  }
  return table;
}

const COMMON_424: readonly Row[] = [
  [
    424,
    "pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick",
  ],
  [
    434,
    "pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd",
  ],
  [
    444,
    "landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node cachestat fchmodat2 map_shadow_stack",
  ],
  [
    454,
    "futex_wake futex_wait futex_requeue statmount listmount lsm_get_self_attr lsm_set_self_attr lsm_list_modules",
  ],
];

/** exported for the table-shape test */
export const X86_64_ROWS: readonly Row[] = [
  [0, "read write open close stat fstat lstat poll lseek mmap"],
  [10, "mprotect munmap brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv"],
  [20, "writev access pipe select sched_yield mremap msync mincore madvise shmget"],
  [30, "shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid"],
  [40, "sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind"],
  [50, "listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve"],
  [60, "exit wait4 kill uname semget semop semctl shmdt msgget msgsnd"],
  [70, "msgrcv msgctl fcntl flock fsync fdatasync truncate ftruncate getdents getcwd"],
  [80, "chdir fchdir rename mkdir rmdir creat link unlink symlink readlink"],
  [90, "chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo"],
  [100, "times ptrace getuid syslog getgid setuid setgid geteuid getegid setpgid"],
  [110, "getppid getpgrp setsid setreuid setregid getgroups setgroups setresuid getresuid setresgid"],
  [
    120,
    "getresgid getpgid setfsuid setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo",
  ],
  [130, "rt_sigsuspend sigaltstack utime mknod uselib personality ustat statfs fstatfs sysfs"],
  [
    140,
    "getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock",
  ],
  [150, "munlock mlockall munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex"],
  [160, "setrlimit chroot sync acct settimeofday mount umount2 swapon swapoff reboot"],
  [
    170,
    "sethostname setdomainname iopl ioperm create_module init_module delete_module get_kernel_syms query_module quotactl",
  ],
  [180, "nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead setxattr lsetxattr"],
  [
    190,
    "fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr",
  ],
  [
    200,
    "tkill time futex sched_setaffinity sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit",
  ],
  [
    210,
    "io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old remap_file_pages getdents64 set_tid_address restart_syscall",
  ],
  [
    220,
    "semtimedop fadvise64 timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres",
  ],
  [
    230,
    "clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver mbind set_mempolicy get_mempolicy",
  ],
  [
    240,
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key",
  ],
  [
    250,
    "keyctl ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat",
  ],
  [260, "fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat"],
  [
    270,
    "pselect6 ppoll unshare set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages",
  ],
  [
    280,
    "utimensat epoll_pwait signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4",
  ],
  [
    290,
    "eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg",
  ],
  [
    300,
    "fanotify_init fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu",
  ],
  [
    310,
    "process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create",
  ],
  [
    320,
    "kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect",
  ],
  [330, "pkey_alloc pkey_free statx io_pgetevents rseq"],
  ...COMMON_424,
];

export const I386_ROWS: readonly Row[] = [
  [0, "restart_syscall exit fork read write open close waitpid creat link"],
  [10, "unlink execve chdir time mknod chmod lchown break oldstat lseek"],
  [20, "getpid mount umount setuid getuid stime ptrace alarm oldfstat pause"],
  [30, "utime stty gtty access nice ftime sync kill rename mkdir"],
  [40, "rmdir dup pipe times prof brk setgid getgid signal geteuid"],
  [50, "getegid acct umount2 lock ioctl fcntl mpx setpgid ulimit oldolduname"],
  [60, "umask chroot ustat dup2 getppid getpgrp setsid sigaction sgetmask ssetmask"],
  [
    70,
    "setreuid setregid sigsuspend sigpending sethostname setrlimit getrlimit getrusage gettimeofday settimeofday",
  ],
  [80, "getgroups setgroups select symlink oldlstat readlink uselib swapon reboot readdir"],
  [90, "mmap munmap truncate ftruncate fchmod fchown getpriority setpriority profil statfs"],
  [100, "fstatfs ioperm socketcall syslog setitimer getitimer stat lstat fstat olduname"],
  [110, "iopl vhangup idle vm86old wait4 swapoff sysinfo ipc fsync sigreturn"],
  [
    120,
    "clone setdomainname uname modify_ldt adjtimex mprotect sigprocmask create_module init_module delete_module",
  ],
  [130, "get_kernel_syms quotactl getpgid fchdir bdflush sysfs personality afs_syscall setfsuid setfsgid"],
  [140, "_llseek getdents _newselect flock msync readv writev getsid fdatasync _sysctl"],
  [
    150,
    "mlock munlock mlockall munlockall sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_yield sched_get_priority_max",
  ],
  [
    160,
    "sched_get_priority_min sched_rr_get_interval nanosleep mremap setresuid getresuid vm86 query_module poll nfsservctl",
  ],
  [
    170,
    "setresgid getresgid prctl rt_sigreturn rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend",
  ],
  [180, "pread64 pwrite64 chown getcwd capget capset sigaltstack sendfile getpmsg putpmsg"],
  [190, "vfork ugetrlimit mmap2 truncate64 ftruncate64 stat64 lstat64 fstat64 lchown32 getuid32"],
  [
    200,
    "getgid32 geteuid32 getegid32 setreuid32 setregid32 getgroups32 setgroups32 fchown32 setresuid32 getresuid32",
  ],
  [210, "setresgid32 getresgid32 chown32 setuid32 setgid32 setfsuid32 setfsgid32 pivot_root mincore madvise"],
  [220, "getdents64 fcntl64 - - gettid readahead setxattr lsetxattr fsetxattr getxattr"],
  [
    230,
    "lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill sendfile64",
  ],
  [
    240,
    "futex sched_setaffinity sched_getaffinity set_thread_area get_thread_area io_setup io_destroy io_getevents io_submit io_cancel",
  ],
  [
    250,
    "fadvise64 - exit_group lookup_dcookie epoll_create epoll_ctl epoll_wait remap_file_pages set_tid_address timer_create",
  ],
  [
    260,
    "timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres clock_nanosleep statfs64 fstatfs64",
  ],
  [
    270,
    "tgkill utimes fadvise64_64 vserver mbind get_mempolicy set_mempolicy mq_open mq_unlink mq_timedsend",
  ],
  [280, "mq_timedreceive mq_notify mq_getsetattr kexec_load waitid - add_key request_key keyctl ioprio_set"],
  [
    290,
    "ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat",
  ],
  [300, "fstatat64 unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll"],
  [
    310,
    "unshare set_robust_list get_robust_list splice sync_file_range tee vmsplice move_pages getcpu epoll_pwait",
  ],
  [
    320,
    "utimensat signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime signalfd4 eventfd2 epoll_create1",
  ],
  [
    330,
    "dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init fanotify_mark",
  ],
  [
    340,
    "prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg setns process_vm_readv process_vm_writev kcmp",
  ],
  [
    350,
    "finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat socket",
  ],
  [360, "socketpair bind connect listen accept4 getsockopt setsockopt getsockname getpeername sendto"],
  [370, "sendmsg recvfrom recvmsg shutdown userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2"],
  [380, "pkey_mprotect pkey_alloc pkey_free statx arch_prctl"],
  ...COMMON_424,
];

/** the generic table (include/uapi/asm-generic/unistd.h) as arm64 uses it */
export const AARCH64_ROWS: readonly Row[] = [
  [0, "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr getxattr lgetxattr"],
  [
    10,
    "fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getcwd lookup_dcookie eventfd2",
  ],
  [
    20,
    "epoll_create1 epoll_ctl epoll_pwait dup dup3 fcntl inotify_init1 inotify_add_watch inotify_rm_watch ioctl",
  ],
  [30, "ioprio_set ioprio_get flock mknodat mkdirat unlinkat symlinkat linkat renameat umount2"],
  [40, "mount pivot_root nfsservctl statfs fstatfs truncate ftruncate fallocate faccessat chdir"],
  [50, "fchdir chroot fchmod fchmodat fchownat fchown openat close vhangup pipe2"],
  [60, "quotactl getdents64 lseek read write readv writev pread64 pwrite64 preadv"],
  [70, "pwritev sendfile pselect6 ppoll signalfd4 vmsplice splice tee readlinkat newfstatat"],
  [
    80,
    "fstat sync fsync fdatasync sync_file_range timerfd_create timerfd_settime timerfd_gettime utimensat acct",
  ],
  [90, "capget capset personality exit exit_group waitid set_tid_address unshare futex set_robust_list"],
  [
    100,
    "get_robust_list nanosleep getitimer setitimer kexec_load init_module delete_module timer_create timer_gettime timer_getoverrun",
  ],
  [
    110,
    "timer_settime timer_delete clock_settime clock_gettime clock_getres clock_nanosleep syslog ptrace sched_setparam sched_setscheduler",
  ],
  [
    120,
    "sched_getscheduler sched_getparam sched_setaffinity sched_getaffinity sched_yield sched_get_priority_max sched_get_priority_min sched_rr_get_interval restart_syscall kill",
  ],
  [
    130,
    "tkill tgkill sigaltstack rt_sigsuspend rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigreturn",
  ],
  [140, "setpriority getpriority reboot setregid setgid setreuid setuid setresuid getresuid setresgid"],
  [150, "getresgid setfsuid setfsgid times setpgid getpgid getsid setsid getgroups setgroups"],
  [160, "uname sethostname setdomainname getrlimit setrlimit getrusage umask prctl getcpu gettimeofday"],
  [170, "settimeofday adjtimex getpid getppid getuid geteuid getgid getegid gettid sysinfo"],
  [180, "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgctl msgrcv msgsnd"],
  [190, "semget semctl semtimedop semop shmget shmctl shmat shmdt socket socketpair"],
  [200, "bind listen accept connect getsockname getpeername sendto recvfrom setsockopt getsockopt"],
  [210, "shutdown sendmsg recvmsg readahead brk munmap mremap add_key request_key keyctl"],
  [220, "clone execve mmap fadvise64 swapon swapoff mprotect msync mlock munlock"],
  [
    230,
    "mlockall munlockall mincore madvise remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages",
  ],
  [240, "rt_tgsigqueueinfo perf_event_open accept4 recvmmsg"],
  [
    260,
    "wait4 prlimit64 fanotify_init fanotify_mark name_to_handle_at open_by_handle_at clock_adjtime syncfs setns sendmmsg",
  ],
  [
    270,
    "process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create",
  ],
  [
    280,
    "bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc",
  ],
  [290, "pkey_free statx io_pgetevents rseq kexec_file_load"],
  ...COMMON_424,
];

const TABLES = new Map<string, Map<number, string>>([
  ["c000003e", buildTable(X86_64_ROWS)],
  ["40000003", buildTable(I386_ROWS)],
  ["c00000b7", buildTable(AARCH64_ROWS)],
]);

/** AUDIT_ARCH_* values (hex, as the SYSCALL record prints them) → the names auditd's ENRICHED format uses */
const ARCH_NAMES = new Map<string, string>([
  ["c000003e", "x86_64"],
  ["40000003", "i386"],
  ["c00000b7", "aarch64"],
  ["40000028", "arm"],
  ["80000015", "ppc64"],
  ["c0000015", "ppc64le"],
  ["80000016", "s390x"],
  ["16", "s390"],
  ["c00000f3", "riscv64"],
  ["400000f3", "riscv32"],
  ["c0000102", "loongarch64"],
]);

/** whether an arch's sockaddr family field is big-endian (ppc64, s390x) */
export function archIsBigEndian(arch: string): boolean {
  const a = arch.toLowerCase();
  return a === "80000015" || a === "80000016" || a === "16";
}

export function archName(arch: string): string | undefined {
  return ARCH_NAMES.get(arch.toLowerCase());
}

/** the syscall's name for an audit `arch=` value, or undefined when the arch or number is unknown */
export function syscallName(arch: string, nr: number): string | undefined {
  const table = TABLES.get(arch) ?? TABLES.get(arch.toLowerCase());
  return table?.get(nr);
}
