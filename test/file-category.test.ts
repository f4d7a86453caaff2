import { describe, expect, it } from "vitest";
import { categorizePath, isDataCategory } from "../src/graph/file-category.js";

// paths taken from the corpus logs (strace-local, fidelity)
describe("categorizePath", () => {
  it.each([
    ["/lib/x86_64-linux-gnu/libc.so.6", "shared-library"],
    [
      "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/_socket.cpython-311-x86_64-linux-gnu.so",
      "shared-library",
    ],
    ["/usr/lib/x86_64-linux-gnu/libselinux.so.1", "shared-library"],
    ["/usr/bin/sed", "executable"],
    ["/bin/sh", "executable"],
    ["/usr/sbin/wc", "executable"],
    ["/usr/local/bin/wc", "executable"],
    ["/usr/libexec/git-core/git", "executable"],
    ["/etc/ld.so.cache", "system-config"],
    ["/etc/passwd", "system-config"],
    ["/usr/lib/locale/locale-archive", "system-config"],
    ["/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", "system-config"],
    ["/usr/lib64/gconv/gconv-modules.d/gconv-modules-extra.conf", "system-config"],
    ["/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so", "shared-library"],
    ["/usr/lib/x86_64-linux-gnu/Scrt1.o", "system-data"],
    ["/usr/share/zoneinfo/UTC", "system-config"],
    ["/usr/share/git-core/templates/description", "system-data"],
    ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "system-data"],
    ["/var/lib/dpkg/status", "system-data"],
    ["/proc/self/maps", "kernel"],
    ["/sys/devices/system/cpu/online", "kernel"],
    ["/dev/null", "device"],
    ["/dev/shm/sem.x", "temporary"],
    ["/tmp/pfwork/count.txt", "temporary"],
    ["/var/tmp/x", "temporary"],
    ["/run/user/0/bus", "temporary"],
    ["/run/systemd/resolve/stub-resolv.conf", "runtime"],
    ["/var/run/nscd/socket", "runtime"],
    ["/var/log/syslog", "log-cache"],
    ["/var/cache/man/index.db", "log-cache"],
    ["/root/.pyenv/shims/python3", "user-data"],
    ["/home/u/gitrepo/README", "user-data"],
    ["pipe:[373882]", "pipe"],
    ["UNIX-STREAM:[372817]", "socket"],
    ["TCP:[127.0.0.1:5000]", "socket"],
    ["/srv/data/x", "other"],
  ])("%s → %s", (path, cat) => {
    expect(categorizePath(path)).toBe(cat);
  });

  it("anything else under the run's cwd is user data; the system trees keep their category", () => {
    expect(categorizePath("/srv/work/mk/hello.c", "/srv/work/mk")).toBe("user-data");
    expect(categorizePath("/srv/work/mkother", "/srv/work/mk")).toBe("other");
    expect(categorizePath("/tmp/pf-fidelity/edit/a/b/f.txt", "/tmp/pf-fidelity/edit")).toBe("temporary");
    expect(categorizePath("/etc/hosts", "/")).toBe("system-config");
  });

  it("data categories exclude libraries, configuration, kernel, devices and executables", () => {
    for (const c of ["user-data", "temporary", "system-data", "other"] as const)
      expect(isDataCategory(c)).toBe(true);
    for (const c of ["shared-library", "system-config", "kernel", "device", "executable", "pipe"] as const) {
      expect(isDataCategory(c)).toBe(false);
    }
  });
});
