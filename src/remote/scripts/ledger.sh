# ledger.sh: reading the run ledger (.relman/runs, written by the launcher, see
# launch.sh). Prepended to scan.sh and runs.sh (script.rs). cwd: the root.
#
# ledger_read MODE [RELEASE]: one awk over the ledger files (each release's
# <release>.jsonl.old, then <release>.jsonl), every line of every file, printing
#   MODE health: per release
#     health <release> <runs> <ok> <failed> <killed> <lost> <running>
#     lastfail <release> <id> <at> <exit code|-> <signal|-> <command, JSON-escaped>
#   MODE runs: per run (of RELEASE only, when given), in ledger order
#     run <id> <release> <pid> <user> <started_at> <ended_at|-> <exit|-> <signal|-> <status> <command, JSON-escaped>
# A run with no end record is running while /proc/<pid>/stat has the start time
# the start record noted (pids are reused), else lost. Lines that are not the
# launcher's (torn by a full disk, edited by hand) are skipped; an end record without
# its start (rotated away) is ignored.
ledger_read() {
    _lm=$1
    _lr=${2:-}
    set --
    if [ -n "$_lr" ]; then
        for _lf in ".relman/runs/$_lr.jsonl.old" ".relman/runs/$_lr.jsonl"; do
            [ -f "$_lf" ] && set -- "$@" "$_lf"
        done
    elif [ -d .relman/runs ]; then
        for _lf in .relman/runs/*.jsonl.old .relman/runs/*.jsonl; do
            [ -f "$_lf" ] && set -- "$@" "$_lf"
        done
    fi
    [ $# -gt 0 ] || return 0
    awk -v mode="$_lm" -- '
function sv(s, k) {
    if (match(s, "\"" k "\":\"[^\"]*\"")) return substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
    return ""
}
function nv(s, k) {
    if (match(s, "\"" k "\":-?[0-9]+")) return substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
    return ""
}
function alive(id,    f, l, a, ok) {
    f = "/proc/" P[id] "/stat"
    ok = 0
    if ((getline l < f) > 0) {
        sub(/.*\) /, "", l)
        split(l, a, " ")
        ok = (PS[id] == 0 || a[20] == PS[id])
    }
    close(f)
    return ok
}
function dash(s) { return s == "" ? "-" : s }
/^\{"event":"(start|end)",.*\}$/ {
    line = $0
    i = index(line, ",\"command\":\"")
    head = i ? substr(line, 1, i - 1) : line
    id = sv(head, "id")
    if (id !~ /^[0-9]+-[0-9]+$/) next
    rel = sv(head, "release")
    if (rel == "" || rel ~ /[^A-Za-z0-9._-]/) next
    if (sv(head, "event") == "start") {
        if (!i || (id in S)) next
        rest = substr(line, i + 12)
        j = index(rest, "\",\"trigger\":")
        if (!j) next
        pid = nv(head, "pid")
        if (pid == "") next
        S[id] = 1; N++; O[N] = id
        R[id] = rel; P[id] = pid; PS[id] = nv(head, "pid_start") + 0
        U[id] = sv(head, "user"); T[id] = sv(head, "started_at")
        C[id] = substr(rest, 1, j - 1)
    } else {
        E[id] = 1; EA[id] = sv(head, "ended_at")
        X[id] = nv(head, "exit_code"); G[id] = sv(head, "signal")
    }
}
END {
    for (k = 1; k <= N; k++) {
        id = O[k]
        rel = R[id]
        if (id in E) {
            if (G[id] != "") st = "killed"
            else if (X[id] == "0") st = "ok"
            else st = "failed"
        } else if (alive(id)) st = "running"
        else st = "lost"
        if (mode == "runs") {
            printf "run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, rel, P[id], dash(U[id]), dash(T[id]),
                dash((id in E) ? EA[id] : ""), dash((id in E) ? X[id] : ""), dash((id in E) ? G[id] : ""), st, C[id]
            continue
        }
        if (!(rel in H)) { H[rel] = 1; HN++; HO[HN] = rel }
        RUNS[rel]++; CNT[rel, st]++
        if (st == "failed" || st == "killed" || st == "lost") {
            at = (st == "lost") ? T[id] : EA[id]
            if (!(rel in LF) || at >= LA[rel]) { LF[rel] = id; LA[rel] = at }
        }
    }
    if (mode == "runs") exit 0
    for (k = 1; k <= HN; k++) {
        rel = HO[k]
        printf "health\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", rel, RUNS[rel], CNT[rel, "ok"], CNT[rel, "failed"],
            CNT[rel, "killed"], CNT[rel, "lost"], CNT[rel, "running"]
        if (rel in LF) {
            id = LF[rel]
            printf "lastfail\t%s\t%s\t%s\t%s\t%s\t%s\n", rel, id, dash(LA[rel]), dash((id in E) ? X[id] : ""),
                dash((id in E) ? G[id] : ""), C[id]
        }
    }
}' "$@"
}
