#!/usr/bin/env bash
# The run ledger's cost in a scan (issue 15: a scan with 10,000 recorded runs within
# 1.2x of one with none; not a test: nothing here asserts a time).
#
#   bench/ledger.sh [ROUNDS] [LISTS]     (defaults 5 and 5)
#
# Everything runs on this machine through relman's `local` transport (no sshd: what is
# measured is the host's side plus relman's parsing), three deploy roots of 8
# releases each:
#   none    no ledger at all;
#   runs    10,000 recorded runs (8 releases x 1,250, the launcher's own record
#           format, under the 512 KiB rotation bound; 1 in 10 failed, 1 in 50 killed),
#           summarized once before the rounds (the warm refresh: what a console or a
#           `list` after the first one does);
#   growing the same 10,000 runs plus one more run (start and end records) appended
#           to the live release's ledger before every list: the summary of that file
#           is extended and rewritten each time (tail -c, mktemp, mv).
# ROUNDS rounds, each LISTS `relman list --host H --json` per root, the roots
# interleaved; medians. Two CPU figures per list:
#   - relman + scan: user + system of relman and everything it waited for (GNU time);
#   - scan (remote CPU): the scan's own shell and every tool it ran, from `times` in a
#     wrapper `sh` first on PATH (the local transport runs `sh -c 'sh -s'`: the wrapper
#     runs the real shell and appends its children's times). Clock ticks, so the
#     per-scan figure is the total over all lists of a root divided by their number.
# Under dash (/bin/sh's tools) and busybox (busybox sh and a PATH of busybox applets).
# Then the ledger part alone, `ledger_read health` (the cache, warm) vs
# `ledger_read health-full` (one awk over every line: what the scan did before).
# Prints Markdown (for BENCHMARKS.md) with the load average. RELMAN_BIN overrides the
# binary (default: target/debug/relman, built if missing).
set -euo pipefail

ROUNDS=${1:-5}
LISTS=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${RELMAN_BIN:-}" ]; then
    [ -x "$here/target/debug/relman" ] || (cd "$here" && cargo build --quiet --bin relman)
    RELMAN_BIN=$here/target/debug/relman
fi
work=$(mktemp -d /tmp/relman-bench-ledger.XXXXXX)
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

mkroot() {
    local r=$1 i
    mkdir -p "$r/.relman"
    for i in 1 2 3 4 5 6 7 8; do
        mkdir -p "$r/batch_2026112600000$i"
        echo x >"$r/batch_2026112600000$i/app"
    done
    ln -sfn batch_20261126000008 "$r/batch"
}
# 10,000 runs as bench/launch.sh writes them (the same figure as before the cache).
fill() {
    mkdir -p "$1/.relman/runs"
    chmod 1777 "$1/.relman/runs"
    awk -v dir="$1/.relman/runs" 'BEGIN {
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
}
# One more run of the live release before a list (list batches).
grow() {
    grow_line >>"$work/growing/.relman/runs/batch_20261126000008.jsonl"
}

for h in none runs growing; do mkroot "$work/$h"; done
fill "$work/runs"
fill "$work/growing"
{
    for h in none runs growing; do
        printf '[[hosts]]\nname = "%s"\naddress = "local"\nroot = "%s"\n' "$h" "$work/$h"
    done
} >"$work/relman.toml"
export RELMAN_CONFIG=$work/relman.toml

bb=$work/bb
mkdir -p "$bb"
for a in $(busybox --list) busybox; do ln -s "$(command -v busybox)" "$bb/$a"; done
# The wrapper `sh` first on PATH: the local transport runs `sh -c 'sh -s'`; with
# BENCH_CAPTURE set, the scan's shell (`sh -s`) keeps the script it was sent (the
# scan exactly as relman sends it, its params filled in) and runs it from there.
wrap=$work/wrap
mkdir -p "$wrap"
cat >"$wrap/sh" <<'EOF'
#!/usr/bin/dash
if [ "${1:-}" = -s ] && [ -n "${BENCH_CAPTURE:-}" ]; then
    cat >"$BENCH_CAPTURE"
    # shellcheck disable=SC2086
    exec $BENCH_SH "$@" <"$BENCH_CAPTURE"
fi
# shellcheck disable=SC2086
exec $BENCH_SH "$@"
EOF
chmod 755 "$wrap/sh"

# CPU seconds of a shell's children from `times` (its 2nd line: user sys), in ms.
times_ms() {
    awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
    } END { printf "%.3f\n", t * 1000 }'
}
# ms per item: total ms / n
per() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.1f\n", t / n }'; }
# One batch of LISTS lists of host h: "wall-ms cpu-ms" per list (wall from the
# clock, CPU of relman and everything it waited for from bash's `times`).
list_batch() {
    local h=$1 t0 t1 c
    t0=$(now)
    c=$( (
        for ((i = 0; i < LISTS; i++)); do
            [ "$h" != growing ] || grow
            PATH=$PATH_RUN "$RELMAN_BIN" list --host "$h" --json >/dev/null
        done
        times
    ) | times_ms)
    t1=$(now)
    echo "$(per "$(((t1 - t0) / 1000000))" "$LISTS") $(per "$c" "$LISTS")"
}
# The scan script of host h alone, SCANS times in one shell; `times` of that shell:
# the host's CPU per scan (the scan's shell and every tool it ran), in ms.
scan_batch() {
    local h=$1
    if [ "$h" = growing ]; then
        for ((i = 0; i < SCANS; i++)); do grow_line; done >"$work/more"
    else
        : >"$work/more"
    fi
    # shellcheck disable=SC2016 # the inner shell's own variables
    (cd "$work/$h" && PATH=$PATH_RUN $BENCH_SH -c '
        led=.relman/runs/batch_20261126000008.jsonl
        i=0
        while [ "$i" -lt "$1" ]; do
            if [ -s "$3" ]; then IFS= read -r a <&3 && IFS= read -r b <&3 && printf "%s\n%s\n" "$a" "$b" >>"$led"; fi
            sh -s <"$2" >/dev/null 2>&1
            i=$((i + 1))
        done 3<"$3"
        times' sh "$SCANS" "$work/scan_$h.sh" "$work/more") | times_ms | xargs -I{} awk -v t={} -v n="$SCANS" 'BEGIN { printf "%.1f\n", t / n }'
}
# One more run of the live release: its start and end records, as the launcher
# appends them (ids at random: list batches run in subshells).
grow_line() {
    local pid=$((RANDOM + 40000))
    local id="$((1798000000 + RANDOM))-$((RANDOM * 32768 + RANDOM))"
    printf '{"event":"start","id":"%s","release":"batch_20261126000008","pid":%d,"pid_start":1,"user":"batch","started_at":"2026-12-02T05:00:00.000Z","command":"java -jar app.jar --job=live","trigger":null}\n{"event":"end","id":"%s","release":"batch_20261126000008","pid":%d,"ended_at":"2026-12-02T05:00:01.000Z","exit_code":0,"signal":null}\n' \
        "$id" "$pid" "$id" "$pid"
}
SCANS=${SCANS:-20}

echo "## \`relman list\` of one host: 10,000 recorded runs vs none ($ROUNDS rounds, interleaved; medians; load $(load) at start)"
echo
echo "Per list: $LISTS lists of a root per round (wall, and CPU of relman + the scan from bash's \`times\`);"
echo "the scan's own CPU: the scan script as relman sent it, $SCANS times in one shell, \`times\` of that shell."
echo
echo "| shell | ledger | wall per list | CPU per list (relman + scan) | CPU per scan (host, \`times\`) |"
echo "|---|---|---:|---:|---:|"
for sh in dash busybox; do
    case $sh in
        dash) export BENCH_SH=dash PATH_RUN=$wrap:$PATH ;;
        busybox) export BENCH_SH="busybox sh" PATH_RUN=$wrap:$bb ;;
    esac
    # Every summary written afresh, by this shell's tools; the scan scripts captured.
    rm -f "$work"/*/.relman/runs/*.sum
    for h in none runs growing; do
        got=$(BENCH_CAPTURE=$work/scan_$h.sh PATH=$PATH_RUN "$RELMAN_BIN" list --host "$h" --json |
            tr -d ' \n' | grep -o '"runs":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
        [ "$h" = none ] || [ "$got" -ge 10000 ] || { echo "the scan of $h saw $got runs, not 10000" >&2; exit 1; }
        [ "$h" != none ] || [ "$got" = 0 ] || { echo "the scan of none saw $got runs" >&2; exit 1; }
        [ "$h" = none ] || [ "$(find "$work/$h/.relman/runs" -name '*.jsonl.sum' | wc -l)" = 8 ] ||
            { echo "$sh: not 8 summaries in $h" >&2; exit 1; }
    done
    for h in none runs growing; do : >"$work/w_$h" && : >"$work/c_$h" && : >"$work/t_$h"; done
    for ((r = 0; r < ROUNDS; r++)); do
        for h in none runs growing; do
            read -r w c < <(list_batch "$h")
            echo "$w" >>"$work/w_$h"
            echo "$c" >>"$work/c_$h"
            scan_batch "$h" >>"$work/t_$h"
        done
    done
    for h in none runs growing; do
        eval "w_$h=$(median <"$work/w_$h") c_$h=$(median <"$work/c_$h") t_$h=$(median <"$work/t_$h")"
    done
    # shellcheck disable=SC2154 # set by the eval above
    {
        echo "| $sh | none | $w_none ms | $c_none ms | $t_none ms |"
        echo "| $sh | 10,000 runs, warm | $w_runs ms | $c_runs ms | $t_runs ms |"
        echo "| $sh | 10,000 runs, one new record per list | $w_growing ms | $c_growing ms | $t_growing ms |"
        echo "| $sh | **warm / none** | **$(ratio "$w_runs" "$w_none")** | **$(ratio "$c_runs" "$c_none")** | **$(ratio "$t_runs" "$t_none")** |"
        echo "| $sh | **growing / none** | $(ratio "$w_growing" "$w_none") | $(ratio "$c_growing" "$c_none") | $(ratio "$t_growing" "$t_none") |"
    }
    echo "(spread, $sh, 10,000 runs warm, CPU per scan per round: $(tr '\n' ' ' <"$work/t_runs"); none: $(tr '\n' ' ' <"$work/t_none"))" >>"$work/spread"
done
echo
cat "$work/spread"
echo
echo "(load $(load) at the end)"
echo

echo "The ledger part alone over the 10,000 runs (ledger.sh in the root, as the scan runs it; median of $ROUNDS, ms wall):"
echo
echo "| shell | \`ledger_read health-full\` (every line) | \`ledger_read health\` (warm cache) |"
echo "|---|---:|---:|"
for sh in dash busybox; do
    case $sh in
        dash) run=(dash) p=$PATH ;;
        busybox) run=(busybox sh) p=$bb ;;
    esac
    for m in health-full health; do
        : >"$work/a_$m"
        for ((r = 0; r < ROUNDS; r++)); do
            t0=$(now)
            (cd "$work/runs" && PATH=$p "${run[@]}" -c ". '$here/src/remote/scripts/ledger.sh'; ledger_read $m" >/dev/null)
            t1=$(now)
            awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }' >>"$work/a_$m"
        done
    done
    echo "| $sh | $(median <"$work/a_health-full") ms | $(median <"$work/a_health") ms |"
done
