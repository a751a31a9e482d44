#!/usr/bin/env bash
# Job-scan benchmarks (issue 17, target 3; not a test: nothing here asserts a time).
#
#   bench/jobscan.sh [ROUNDS] [PRUNE]     (defaults 5 and 30; needs python3 to fork the crowd)
#
# Through relman's `local` transport (the host's side of a scan, no sshd), a deploy
# root of 8 releases, then PRUNE+8 releases for prune:
#   1. `relman list --json` with the machine's own processes ("few"), then with a
#      crowd of 2,000 more (`sleep`, 1,000 of them holding 50 open files each), then
#      few again (before and after bracket the load drift; "few" is their median);
#      wall, and CPU (user + system of relman, the scan's shell and its tools: GNU
#      time counts the waited-for children, so this is the host's CPU too);
#   2. where the time goes: the scan's /proc walks alone (GNU find over every
#      cwd/exe/fd link, as lib.sh runs it; one `readlink` per fd link, the least any
#      tool can do; the grep over every cmdline), few vs crowd;
#   3. `relman prune --dry-run --keep 0` of PRUNE candidates with the crowd: the time
#      per candidate (each is re-checked by a scan of all of /proc).
# Prints Markdown with the load average. RELMAN_BIN overrides the binary.
set -euo pipefail

ROUNDS=${1:-5}
PRUNE=${2:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${RELMAN_BIN:-}" ]; then
    [ -x "$here/target/debug/relman" ] || (cd "$here" && cargo build --quiet --bin relman)
    RELMAN_BIN=$here/target/debug/relman
fi
work=$(mktemp -d /tmp/relman-bench-jobscan.XXXXXX)
pids=$work/pids
cleanup() {
    # only the crowd this script started, by pid
    [ -s "$pids" ] && xargs kill <"$pids" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
nproc_now() { printf '%s\n' /proc/[0-9]* | wc -l; }

root=$work/root
mkdir -p "$root" "$work/files"
for i in 1 2 3 4 5 6 7 8; do
    mkdir -p "$root/batch_2026112600000$i"
    echo x >"$root/batch_2026112600000$i/app"
done
ln -sfn batch_20261126000008 "$root/batch"
for i in $(seq 50); do : >"$work/files/f$i"; done
cat >"$work/relman.toml" <<EOF
[[hosts]]
name = "h"
address = "local"
root = "$root"
EOF
export RELMAN_CONFIG=$work/relman.toml

# lists ROUNDS times into $1 (wall ms) and $2 (CPU ms)
lists() {
    local e u s
    for ((r = 0; r < ROUNDS; r++)); do
        /usr/bin/time -f '%e %U %S' -o "$work/tm" "$RELMAN_BIN" list --json >"$work/out.json"
        read -r e u s <"$work/tm"
        awk -v e="$e" 'BEGIN { print e * 1000 }' >>"$1"
        awk -v u="$u" -v s="$s" 'BEGIN { print (u + s) * 1000 }' >>"$2"
    done
    grep -q '"jobs_known": true' "$work/out.json" || grep -q '"hidden_processes"' "$work/out.json"
}
# the walks alone, in ms of CPU (user + system), medians of ROUNDS
walks() {
    local tag=$1 what
    for what in find readlink grep; do
        : >"$work/w_${tag}_$what"
        for ((r = 0; r < ROUNDS; r++)); do
            case $what in
                find) /usr/bin/time -f '%U %S' -o "$work/tm" find /proc/[0-9]*/cwd /proc/[0-9]*/exe /proc/[0-9]*/fd/ \
                    -maxdepth 1 -lname "$root/*" -printf '%p\t%l\n' >/dev/null 2>&1 || true ;;
                readlink) printf '%s\n' /proc/[0-9]*/fd/* >"$work/fds" 2>/dev/null
                    /usr/bin/time -f '%U %S' -o "$work/tm" xargs readlink <"$work/fds" >/dev/null 2>&1 || true ;;
                grep) /usr/bin/time -f '%U %S' -o "$work/tm" grep -l -a -e 'batch_[0-9]' /proc/[0-9]*/cmdline >/dev/null 2>&1 || true ;;
            esac
            awk '{ print ($1 + $2) * 1000 }' "$work/tm" >>"$work/w_${tag}_$what"
        done
    done
    printf '%s' "$(printf '%s\n' /proc/[0-9]*/fd/* 2>/dev/null | wc -l)" >"$work/nfd_$tag"
}

: >"$work/few_w" && : >"$work/few_c" && : >"$work/many_w" && : >"$work/many_c"
load0=$(load)
n_few=$(nproc_now)
lists "$work/few_w" "$work/few_c"
walks few
python3 - "$work/files" "$pids" <<'EOF'
import os, sys
d, pidfile = sys.argv[1], sys.argv[2]
pids = []
for k in range(2000):
    pid = os.fork()
    if pid == 0:
        if k < 1000:
            for i in range(50):
                fd = os.open(os.path.join(d, "f%d" % (i + 1)), os.O_RDONLY)
                os.set_inheritable(fd, True)
        os.execvp("sleep", ["sleep", "3600"])
    pids.append(pid)
open(pidfile, "w").write("\n".join(map(str, pids)) + "\n")
EOF
sleep 1
n_many=$(nproc_now)
lists "$work/many_w" "$work/many_c"
walks crowd

# prune --dry-run of PRUNE candidates (plus the 8: live and previous are protected)
for i in $(seq "$PRUNE"); do
    mkdir -p "$root/batch_20261125$(printf '%06d' "$i")"
    echo x >"$root/batch_20261125$(printf '%06d' "$i")/app"
done
/usr/bin/time -f '%e %U %S' -o "$work/tm" "$RELMAN_BIN" prune --dry-run --keep 0 --json >"$work/prune.json" || true
read -r pe pu ps <"$work/tm"
would=$(grep -o '"would' "$work/prune.json" | wc -l)
deleted=$(tr -d ' \n' <"$work/prune.json" | grep -o '"verdict":"[a-z_]*"' | sort | uniq -c | tr '\n' ' ')
xargs kill <"$pids" 2>/dev/null || true
: >"$pids"
for i in $(seq "$PRUNE"); do rm -rf "$root/batch_20261125$(printf '%06d' "$i")"; done
sleep 1
lists "$work/few_w" "$work/few_c"
load1=$(load)

fw=$(median <"$work/few_w") fc=$(median <"$work/few_c")
mw=$(median <"$work/many_w") mc=$(median <"$work/many_c")
echo "## \`relman list\` of one host: 2,000 more processes vs few ($ROUNDS lists each; few = before and after; load $load0 at start, $load1 at the end)"
echo
echo "| processes | fd links | wall | CPU (relman + scan) |"
echo "|---|---:|---:|---:|"
echo "| few ($n_few) | $(cat "$work/nfd_few") | $fw ms | $fc ms |"
echo "| crowd ($n_many: + 1,000 x 50 open files, + 1,000 sleep) | $(cat "$work/nfd_crowd") | $mw ms | $mc ms |"
printf '| **ratio** | | **%s** | **%s** |\n' \
    "$(awk -v a="$mw" -v b="$fw" 'BEGIN { printf "%.2fx", a / b }')" \
    "$(awk -v a="$mc" -v b="$fc" 'BEGIN { printf "%.2fx", a / b }')"
echo
echo "The /proc walks alone, CPU ms (median of $ROUNDS):"
echo
echo "| walk | few | crowd |"
echo "|---|---:|---:|"
for what in find readlink grep; do
    echo "| $what | $(median <"$work/w_few_$what") | $(median <"$work/w_crowd_$what") |"
done
echo
echo "(find: lib.sh's GNU find over every cwd/exe/fd link; readlink: one readlink(2) per fd link and nothing else, via xargs; grep: every cmdline)"
echo
echo "prune --dry-run --keep 0 with the crowd: $PRUNE + 6 candidates, $pe s wall, $(awk -v u="$pu" -v s="$ps" 'BEGIN { print u + s }') s CPU ($would would-lines; verdicts: $deleted)"
