#!/usr/bin/env bash
# Launcher and run-ledger benchmarks (issue 15; not a test: nothing here asserts a time).
#
#   bench/launch.sh [ROUNDS] [JOBS]     (defaults 5 and 40)
#
# Everything runs on this machine through relman's `local` transport (no sshd: what is
# measured is the host's side), in a throwaway deploy root with 8 releases:
#   1. launch's cost per job, under dash and under busybox sh (a PATH of busybox
#      applets, util-linux flock as on the test fleet): JOBS jobs one after the other
#      of each of
#        - `true` run directly (the baseline: one fork+exec),
#        - the previous launcher (git c62b452, which `exec`ed the job) `-- true`,
#        - the launcher as built now (stays the parent, writes the ledger) `-- true`,
#      interleaved, ROUNDS rounds; per-job medians in ms and what each adds to `true`.
#   2. what `launch --tail` costs (issue 15 item 3): the launcher before it (git
#      74a12ca) and now, both `-- true` (the same: no --tail, no fork more), and now
#      with `--tail 20 -- true` (FIFOs, two tees and a keeper) and `--tail 20 -- false`
#      (the tail kept, the newest 20 per release pruned), interleaved likewise.
#   3. `relman list --json` of a root whose ledger holds 10,000 recorded runs vs the
#      same root with none (interleaved, ROUNDS rounds of 5 lists each); wall and CPU
#      (user + system of relman and the scan's shell and tools: GNU time counts the
#      waited-for children). The local transport opens no connection, so a list is a
#      warm refresh's host side plus relman's parsing.
# Prints Markdown (for BENCHMARKS.md) with the load average. RELMAN_BIN overrides the
# binary (default: target/debug/relman, built if missing).
set -euo pipefail

ROUNDS=${1:-5}
JOBS=${2:-40}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${RELMAN_BIN:-}" ]; then
    [ -x "$here/target/debug/relman" ] || (cd "$here" && cargo build --quiet --bin relman)
    RELMAN_BIN=$here/target/debug/relman
fi
work=$(mktemp -d /tmp/relman-bench-launch.XXXXXX)
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# A deploy root with 8 releases and both launchers installed, params filled in as
# src/ops/launcher.rs does.
mkroot() {
    local r=$1 i
    mkdir -p "$r/.relman/bin"
    for i in 1 2 3 4 5 6 7 8; do
        mkdir -p "$r/batch_2026112600000$i"
        echo x >"$r/batch_2026112600000$i/app"
    done
    ln -sfn batch_20261126000008 "$r/batch"
    # params, then ledger.sh and probation.sh in place of the marker (ops/launcher.rs)
    awk -v l="$here/src/remote/scripts/ledger.sh" -v p="$here/src/remote/scripts/probation.sh" '
        $0 == "# relman:params" {
            print "RELMAN_LINK='"'"'batch'"'"'"; print "RELMAN_PREFIX='"'"'batch_'"'"'"
            while ((getline x < l) > 0) print x
            while ((getline x < p) > 0) print x
            next
        }
        { print }' "$here/src/remote/scripts/launch.sh" >"$r/.relman/bin/launch"
    (cd "$here" && git show c62b452:src/remote/scripts/launch.sh) |
        sed "s|^# relman:params\$|RELMAN_LINK='batch'\nRELMAN_PREFIX='batch_'|" >"$r/.relman/bin/launch-old"
    (cd "$here" && git show 74a12ca:src/remote/scripts/launch.sh) |
        sed "s|^# relman:params\$|RELMAN_LINK='batch'\nRELMAN_PREFIX='batch_'|" >"$r/.relman/bin/launch-base"
    chmod 755 "$r/.relman/bin/launch" "$r/.relman/bin/launch-old" "$r/.relman/bin/launch-base"
    # the env --default-signal answer, recorded as lib.sh ensure_launcher does
    if env --default-signal=INT true 2>/dev/null; then echo "yes $(command -v env)"; else echo no; fi \
        >"$r/.relman/bin/env-default-signal"
}

root=$work/root
mkroot "$root"
# The same root with a probation on the live release (6 h left, no rollback: 10^6
# failures allowed) and 360 recorded runs of it (6 h of a job a minute, 1 in 10
# failed): every job start counts that release's failures.
proot=$work/proot
mkroot "$proot"
mkdir -p "$proot/.relman/runs"
nowe=$(date +%s)
echo "relman-probation 1 batch_20261126000008 batch_20261126000007 $((nowe - 3600)) $((nowe + 21600)) 1000000" \
    >"$proot/.relman/probation"
awk -v f="$proot/.relman/runs/batch_20261126000008.jsonl" -v t0="$((nowe - 3000))" 'BEGIN {
    for (k = 0; k < 360; k++) {
        id = sprintf("%d-%d", t0 + k, 30000 + k)
        printf "{\"event\":\"start\",\"id\":\"%s\",\"release\":\"batch_20261126000008\",\"pid\":%d,\"pid_start\":1,\"user\":\"batch\",\"started_at\":\"2026-12-01T00:00:00.000Z\",\"command\":\"java -jar app.jar\",\"trigger\":null}\n", id, 30000 + k >> f
        printf "{\"event\":\"end\",\"id\":\"%s\",\"release\":\"batch_20261126000008\",\"pid\":%d,\"ended_at\":\"2026-12-01T00:00:01.000Z\",\"exit_code\":%d,\"signal\":null}\n", id, 30000 + k, (k % 10 == 3) ? 1 : 0 >> f
    }
}'
bb=$work/bb
mkdir -p "$bb"
for a in $(busybox --list); do ln -s "$(command -v busybox)" "$bb/$a"; done
ln -sf "$(command -v flock)" "$bb/flock"

# one round of JOBS jobs: prints ms per job
job_round() {
    local shell=$1 path=$2 what=$3 t0 t1 i
    t0=$(now)
    case $what in
        direct) for ((i = 0; i < JOBS; i++)); do PATH=$path $true_bin; done ;;
        old) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$root/.relman/bin/launch-old" -- true; done ;;
        new) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$root/.relman/bin/launch" -- true; done ;;
        probation) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$proot/.relman/bin/launch" -- true; done ;;
        base) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$root/.relman/bin/launch-base" -- true; done ;;
        tail) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$root/.relman/bin/launch" --tail 20 -- true; done ;;
        tailfail) for ((i = 0; i < JOBS; i++)); do PATH=$path $shell "$root/.relman/bin/launch" --tail 20 -- false || :; done ;;
    esac
    t1=$(now)
    awk -v a="$t0" -v b="$t1" -v n="$JOBS" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 / n }'
}

echo "## launch's cost per job ($JOBS jobs x $ROUNDS rounds, interleaved; load $(load) at start)"
echo
echo "| shell | \`true\` directly | previous launcher (exec) | launcher now (parent + ledger) | now - direct | now - previous | now, a probation set | probation - now |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for sh in dash busybox; do
    case $sh in
        dash) shell=$(command -v dash) path=$PATH true_bin=$(type -P true) ;;
        busybox) shell="$(command -v busybox) sh" path=$bb true_bin=$bb/true ;;
    esac
    : >"$work/d" && : >"$work/o" && : >"$work/n" && : >"$work/p"
    (cd /tmp && for ((r = 0; r < ROUNDS; r++)); do
        job_round "$shell" "$path" direct >>"$work/d"
        job_round "$shell" "$path" old >>"$work/o"
        job_round "$shell" "$path" new >>"$work/n"
        job_round "$shell" "$path" probation >>"$work/p"
    done)
    d=$(median <"$work/d") o=$(median <"$work/o") n=$(median <"$work/n") pb=$(median <"$work/p")
    printf '| %s | %s ms | %s ms | %s ms | **%s ms** | %s ms | %s ms | %s ms |\n' "$sh" "$d" "$o" "$n" \
        "$(awk -v a="$n" -v b="$d" 'BEGIN { printf "%.2f", a - b }')" \
        "$(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.2f", a - b }')" "$pb" \
        "$(awk -v a="$pb" -v b="$n" 'BEGIN { printf "%.2f", a - b }')"
done
echo
echo "(spread, launcher now, per-round ms: $(tr '\n' ' ' <"$work/n"); load $(load) at the end)"
echo

echo "## launch --tail's cost per job ($JOBS jobs x $ROUNDS rounds, interleaved; load $(load) at start)"
echo
echo "| shell | before --tail (74a12ca) \`-- true\` | now \`-- true\` | now - before | \`--tail 20 -- true\` | \`--tail 20 -- false\` (tail kept) | --tail adds (true) | --tail adds (false) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for sh in dash busybox; do
    case $sh in
        dash) shell=$(command -v dash) path=$PATH ;;
        busybox) shell="$(command -v busybox) sh" path=$bb ;;
    esac
    : >"$work/b" && : >"$work/n" && : >"$work/t" && : >"$work/f"
    (cd /tmp && for ((r = 0; r < ROUNDS; r++)); do
        job_round "$shell" "$path" base >>"$work/b"
        job_round "$shell" "$path" new >>"$work/n"
        job_round "$shell" "$path" tail >>"$work/t"
        job_round "$shell" "$path" tailfail >>"$work/f"
    done)
    b=$(median <"$work/b") n=$(median <"$work/n") t=$(median <"$work/t") f=$(median <"$work/f")
    sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
    printf '| %s | %s ms | %s ms | %s ms | %s ms | %s ms | **%s ms** | **%s ms** |\n' "$sh" "$b" "$n" \
        "$(sub "$n" "$b")" "$t" "$f" "$(sub "$t" "$n")" "$(sub "$f" "$n")"
done
echo
echo "(kept tails after the rounds: $(find "$root/.relman/runs/batch_20261126000008.tails" -type f 2>/dev/null | wc -l), bounded at 20; load $(load) at the end)"
echo

# 10,000 runs over the 8 releases, in the launcher's own record format (one start and
# one end line each; 1,250 per release stays under the 512 KiB rotation threshold):
# 1 in 10 failed, 1 in 50 killed by TERM.
runs=$work/runs
mkroot "$runs"
mkdir -p "$runs/.relman/runs"
awk -v dir="$runs/.relman/runs" 'BEGIN {
    for (k = 0; k < 10000; k++) {
        rel = sprintf("batch_2026112600000%d", k % 8 + 1)
        f = dir "/" rel ".jsonl"
        id = sprintf("%d-%d", 1796000000 + k, 10000 + k % 20000)
        printf "{\"event\":\"start\",\"id\":\"%s\",\"release\":\"%s\",\"pid\":%d,\"pid_start\":%d,\"user\":\"batch\",\"started_at\":\"2026-12-01T%02d:%02d:%02d.000Z\",\"command\":\"java -jar app.jar --job=nightly-%d\",\"trigger\":\"jenkins-nightly-%d\"}\n",
            id, rel, 10000 + k % 20000, 1000 + k, (k / 3600) % 24, (k / 60) % 60, k % 60, k % 97, k >> f
        ex = (k % 10 == 3) ? 1 : 0
        sig = (k % 50 == 7) ? "\"TERM\"" : "null"
        if (sig != "null") ex = 143
        printf "{\"event\":\"end\",\"id\":\"%s\",\"release\":\"%s\",\"pid\":%d,\"ended_at\":\"2026-12-01T%02d:%02d:%02d.500Z\",\"exit_code\":%d,\"signal\":%s}\n",
            id, rel, 10000 + k % 20000, (k / 3600) % 24, (k / 60) % 60, k % 60, ex, sig >> f
    }
}'
cat >"$work/relman.toml" <<EOF
[[hosts]]
name = "none"
address = "local"
root = "$root"
[[hosts]]
name = "runs"
address = "local"
root = "$runs"
EOF
rm -rf "$root/.relman/runs"
export RELMAN_CONFIG=$work/relman.toml
# the ledger really is read: the host's health says 10,000 runs
got=$("$RELMAN_BIN" list --host runs --json | tr -d ' \n' | grep -o '"runs":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s }')
[ "$got" = 10000 ] || { echo "the scan saw $got runs, not 10000" >&2; exit 1; }

for h in none runs; do : >"$work/w_$h" && : >"$work/c_$h"; done
for ((r = 0; r < ROUNDS; r++)); do
    for h in none runs; do
        for _ in 1 2 3 4 5; do
            /usr/bin/time -f '%e %U %S' -o "$work/tm" "$RELMAN_BIN" list --host "$h" --json >/dev/null
            read -r e u s <"$work/tm"
            awk -v e="$e" 'BEGIN { print e * 1000 }' >>"$work/w_$h"
            awk -v u="$u" -v s="$s" 'BEGIN { print (u + s) * 1000 }' >>"$work/c_$h"
        done
    done
done
wn=$(median <"$work/w_none") wr=$(median <"$work/w_runs")
cn=$(median <"$work/c_none") cr=$(median <"$work/c_runs")
echo "## \`relman list\` of one host: 10,000 recorded runs vs none ($ROUNDS x 5 lists each, interleaved; load $(load) at the end)"
echo
echo "| ledger | wall | CPU (relman + scan) |"
echo "|---|---:|---:|"
echo "| none | $wn ms | $cn ms |"
echo "| 10,000 runs (8 releases, $(du -sk "$runs/.relman/runs" | cut -f1) KiB) | $wr ms | $cr ms |"
printf '| **ratio** | **%s** | **%s** |\n' \
    "$(awk -v a="$wr" -v b="$wn" 'BEGIN { printf "%.2fx", a / b }')" \
    "$(awk -v a="$cr" -v b="$cn" 'BEGIN { printf "%.2fx", a / b }')"
echo
echo "The ledger's awk alone over the 10,000 runs (ledger.sh, as the scan runs it):"
(cd "$runs" && : >"$work/a" && for ((r = 0; r < ROUNDS; r++)); do
    t0=$(now)
    sh -c ". '$here/src/remote/scripts/ledger.sh'; ledger_read health" >/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }' >>"$work/a"
done)
echo "$(median <"$work/a") ms (median of $ROUNDS)"
