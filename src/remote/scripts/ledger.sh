# ledger.sh: reading the run ledger (.relman/runs, written by the launcher, see
# launch.sh). Prepended to scan.sh and runs.sh (script.rs). cwd: the root.
#
# ledger_read MODE [RELEASE]: the ledger files (each release's <release>.jsonl.old,
# then <release>.jsonl), printing
#   MODE health: per release (every release's files; through the summary cache below)
#     health <release> <runs> <ok> <failed> <killed> <lost> <running>
#     lastfail <release> <id> <at> <exit code|-> <signal|-> <command, JSON-escaped>
#   MODE health-full: the same lines from one awk over every line of every file (what
#     the cache must equal: kept for the tests and the benchmark)
#   MODE runs: per run (of RELEASE only, when given), in ledger order
#     run <id> <release> <pid> <user> <started_at> <ended_at|-> <exit|-> <signal|-> <status> <command, JSON-escaped>
# A run with no end record is running while /proc/<pid>/stat has the start time
# the start record noted (pids are reused) — the job's, or its launcher's
# (launcher_pid: between the job's end and its end record only launch lives) — else
# lost. Lines that are not the
# launcher's (torn by a full disk, edited by hand) are skipped; an end record without
# its start (rotated away) is ignored. The newest failure is the one with the latest
# time (ended_at; started_at for a lost run), of equal times the last in ledger order.
# The awk functions both readers below share: sv/nv (a string or number field of a
# record), up (a pid alive with that start time, from /proc/<pid>/stat field 22),
# dash (empty as "-").
LEDGER_AWK='
function sv(s, k) {
    if (match(s, "\"" k "\":\"[^\"]*\"")) return substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
    return ""
}
function nv(s, k) {
    if (match(s, "\"" k "\":-?[0-9]+")) return substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
    return ""
}
function up(pid, ps,    f, l, a, ok) {
    f = "/proc/" pid "/stat"
    ok = 0
    if ((getline l < f) > 0) {
        sub(/.*\) /, "", l)
        split(l, a, " ")
        ok = (ps == 0 || a[20] == ps)
    }
    close(f)
    return ok
}
function dash(s) { return s == "" ? "-" : s }
'

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
    if [ "$_lm" = health ]; then
        ledger_health "$@"
        return
    fi
    awk -v mode="$_lm" -- "$LEDGER_AWK"'
function alive(id) { return up(P[id], PS[id]) || (LP[id] != "" && up(LP[id], LPS[id])) }
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
        LP[id] = nv(head, "launcher_pid"); LPS[id] = nv(head, "launcher_start") + 0
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

# ---- MODE health through a summary cache ----------------------------------------
# Reading every run on every refresh is O(runs) (BENCHMARKS.md, "A run ledger of
# 10,000 runs"), so each ledger file F gets a summary F.sum (<release>.jsonl.sum,
# <release>.jsonl.old.sum), written by the scan:
#   relman-ledger-sum 2 <inode> <offset> <first line's length/id>
#   r <release> <offset of its first start> <settled runs> <ok> <failed> <killed>
#   f <release> <at> <offset> <id> <exit> <signal> <command>   its newest settled failure
#   s <id> <release> <pid> <pid_start> <user> <started_at> <offset> <command> <launcher pid|> <launcher start>
#     open starts (version 1 had no launcher fields: ignored, read afresh)
#   e <id> <ended_at> <exit> <signal>   ends whose start is not in F (in .old)
#   end <lines>
# covering F's first <offset> bytes (whole lines). It is used while F has that inode,
# that first line and at least that size, and the byte before <offset> is a newline:
# then only the bytes after <offset> are read (tail -c, one fork per file that grew);
# open runs are looked up in /proc on every scan, and an end record matches its start
# in the other file of the release (the .old one) as in the full read. A summary that
# is absent, unreadable, inconsistent, a symlink, not owned by the scanning user
# (runs/ is 1777: another user could plant one) or writable by others is ignored.
# After a rotation the .old file is the former current one (same inode): its
# summary is the former F.sum. Written through mktemp + mv, only when something new
# was read; a read-only or full disk only costs the full read. ls gives the inodes,
# sizes and owners (one fork for all files); names that are not release names get
# no summary (they reach a shell command line). Same lines as MODE health-full.
ledger_health() {
    _ll=
    for _lf in "$@"; do
        case ${_lf#.relman/runs/} in '' | *[!A-Za-z0-9._-]*) continue ;; esac
        _ll="$_ll $_lf"
        for _ls in "$_lf.sum" "${_lf%.old}.sum"; do
            if [ -e "$_ls" ] || [ -L "$_ls" ]; then
                case "$_ll " in *" $_ls "*) ;; *) _ll="$_ll $_ls" ;; esac
            fi
        done
    done
    # shellcheck disable=SC2086 # release names: no blanks, no glob characters
    if [ -n "$_ll" ]; then LC_ALL=C QUOTING_STYLE=literal ls -lind -- $_ll 2>/dev/null; fi |
        LC_ALL=C awk -- "$LEDGER_AWK"'
function status(x, sg) { return sg != "" ? "killed" : (x == "0" ? "ok" : "failed") }
function isnum(s) { return s ~ /^[0-9]+$/ }
# Per file version g: releases (RL, RX: order and index; RF: first start offset;
# RN, RC: settled counts), newest settled failure (F*), open starts (SL, OP, S*),
# ends without their start (EL, EO, E*).
function reg(g, rel, p) {
    if ((g, rel) in RX) return
    RX[g, rel] = ++NRL[g]; RL[g, NRL[g]] = rel; RF[g, rel] = p; RN[g, rel] = 0
    RC[g, rel, "ok"] = 0; RC[g, rel, "failed"] = 0; RC[g, rel, "killed"] = 0
}
function cand(g, rel, at, p, id, x, sg, c) {
    at = at ""
    if (((g, rel) in FO) && (at < FA[g, rel] || (at == FA[g, rel] && p < FO[g, rel]))) return
    FA[g, rel] = at; FO[g, rel] = p; FI[g, rel] = id; FX[g, rel] = x; FZ[g, rel] = sg; FC[g, rel] = c
}
function settle(g, rel, p, id, at, x, sg, c,    st) {
    st = status(x, sg)
    RN[g, rel]++; RC[g, rel, st]++
    if (st != "ok") cand(g, rel, at, p, id, x, sg, c)
}
function opens(g, id, rel, pid, ps, u, t, p, c, lp, lps) {
    SEEN[g, id] = 1
    OP[g, id] = ++SN[g]; SL[g, SN[g]] = id
    SR[g, id] = rel; SP[g, id] = pid; SS[g, id] = ps + 0; SU[g, id] = u; ST[g, id] = t; SO[g, id] = p; SC[g, id] = c
    SLP[g, id] = lp; SLS[g, id] = lps + 0
}
# An open run is running while its job or its launcher lives (see the header).
function alive(g, id) { return up(SP[g, id], SS[g, id]) || (SLP[g, id] != "" && up(SLP[g, id], SLS[g, id])) }
function orphan(g, id, at, x, sg) {
    if (!((g, id) in EO)) { EO[g, id] = 1; EL[g, ++EN[g]] = id }
    EA[g, id] = at; EX[g, id] = x; EG[g, id] = sg
}
# One ledger line at byte offset p, as the full read takes it.
function line(g, l, p,    i, head, id, rel, rest, j, pid, c) {
    if (l !~ /^\{"event":"(start|end)",.*\}$/) return
    i = index(l, ",\"command\":\"")
    head = i ? substr(l, 1, i - 1) : l
    id = sv(head, "id")
    if (id !~ /^[0-9]+-[0-9]+$/) return
    rel = sv(head, "release")
    if (rel == "" || rel ~ /[^A-Za-z0-9._-]/) return
    if (sv(head, "event") == "start") {
        if (!i || ((g, id) in SEEN)) return
        rest = substr(l, i + 12)
        j = index(rest, "\",\"trigger\":")
        if (!j) return
        pid = nv(head, "pid")
        if (pid == "") return
        c = substr(rest, 1, j - 1)
        reg(g, rel, p)
        if ((g, id) in EO) {
            SEEN[g, id] = 1
            delete EO[g, id]
            settle(g, rel, p, id, EA[g, id], EX[g, id], EG[g, id], c)
        } else opens(g, id, rel, pid, nv(head, "pid_start"), sv(head, "user"), sv(head, "started_at"), p, c,
            nv(head, "launcher_pid"), nv(head, "launcher_start"))
    } else if ((g, id) in OP) {
        delete OP[g, id]
        settle(g, SR[g, id], SO[g, id], id, sv(head, "ended_at"), nv(head, "exit_code"), sv(head, "signal"), SC[g, id])
    } else orphan(g, id, sv(head, "ended_at"), nv(head, "exit_code"), sv(head, "signal"))
}
# Loads summary s into version g if it is ours and matches the ledger file
# (inode, size, first line): the offset it covers, else -1.
function load(s, g, ino, sz, fp,    l, a, n, cnt, ok, off) {
    if (!(s in TY) || TY[s] != "-" || EUID == "" || OWN[s] != EUID || PM[s] ~ /^.....w/ || PM[s] ~ /^........w/) return -1
    ok = 0; cnt = 0; off = -1
    if ((getline l < s) > 0 && split(l, a, "\t") == 5 && a[1] == "relman-ledger-sum" && a[2] == "2" &&
        a[3] "" == ino "" && isnum(a[4]) && a[4] + 0 <= sz && a[5] == fp) {
        off = a[4] + 0
        while ((getline l < s) > 0) {
            n = split(l, a, "\t")
            if (a[1] == "end") {
                ok = (n == 2 && a[2] "" == cnt "" && (getline l < s) <= 0)
                break
            }
            cnt++
            if (a[1] == "r" && n == 7 && a[2] ~ /^[A-Za-z0-9._-]+$/ && !((g, a[2]) in RX) && isnum(a[3]) && isnum(a[4]) &&
                isnum(a[5]) && isnum(a[6]) && isnum(a[7]) && a[4] == a[5] + a[6] + a[7]) {
                reg(g, a[2], a[3] + 0)
                RN[g, a[2]] = a[4] + 0
                RC[g, a[2], "ok"] = a[5] + 0; RC[g, a[2], "failed"] = a[6] + 0; RC[g, a[2], "killed"] = a[7] + 0
            } else if (a[1] == "f" && n == 8 && ((g, a[2]) in RX) && !((g, a[2]) in FO) && isnum(a[4]) && a[5] ~ /^[0-9]+-[0-9]+$/) {
                cand(g, a[2], a[3], a[4] + 0, a[5], a[6], a[7], a[8])
            } else if (a[1] == "s" && n == 11 && a[2] ~ /^[0-9]+-[0-9]+$/ && !((g, a[2]) in OP) && ((g, a[3]) in RX) &&
                isnum(a[4]) && isnum(a[5]) && isnum(a[8]) && (a[10] == "" || isnum(a[10])) && isnum(a[11])) {
                opens(g, a[2], a[3], a[4], a[5], a[6], a[7], a[8] + 0, a[9], a[10], a[11])
            } else if (a[1] == "e" && n == 5 && a[2] ~ /^[0-9]+-[0-9]+$/ && !((g, a[2]) in EO)) {
                orphan(g, a[2], a[3], a[4], a[5])
            } else break
        }
    }
    close(s)
    return ok ? off : -1
}
function tabfree(v) { if (index(v, "\t")) BAD = 1; return v }
# Writes version g of file f (its first pos bytes) to f.sum: mktemp, then mv over.
function dump(f, g, ino, pos, fp,    out, i, rel, id, cnt, cmd) {
    BAD = 0; cnt = 0
    out = "relman-ledger-sum\t2\t" ino "\t" pos "\t" fp "\n"
    for (i = 1; i <= NRL[g]; i++) {
        rel = RL[g, i]
        out = out "r\t" rel "\t" RF[g, rel] "\t" RN[g, rel] "\t" RC[g, rel, "ok"] "\t" RC[g, rel, "failed"] "\t" RC[g, rel, "killed"] "\n"
        cnt++
        if ((g, rel) in FO) {
            out = out "f\t" rel "\t" tabfree(FA[g, rel]) "\t" FO[g, rel] "\t" FI[g, rel] "\t" tabfree(FX[g, rel]) "\t" \
                tabfree(FZ[g, rel]) "\t" tabfree(FC[g, rel]) "\n"
            cnt++
        }
    }
    for (i = 1; i <= SN[g]; i++) {
        id = SL[g, i]
        if (!((g, id) in OP)) continue
        out = out "s\t" id "\t" SR[g, id] "\t" SP[g, id] "\t" SS[g, id] "\t" tabfree(SU[g, id]) "\t" tabfree(ST[g, id]) "\t" \
            SO[g, id] "\t" tabfree(SC[g, id]) "\t" SLP[g, id] "\t" SLS[g, id] "\n"
        cnt++
    }
    for (i = 1; i <= EN[g]; i++) {
        id = EL[g, i]
        if (!((g, id) in EO)) continue
        out = out "e\t" id "\t" tabfree(EA[g, id]) "\t" tabfree(EX[g, id]) "\t" tabfree(EG[g, id]) "\n"
        cnt++
    }
    if (BAD) return
    # f is a release-named path under .relman/runs (checked): no quoting needed. What
    # cat does not take (mktemp or the write failed) is drained, so awk never gets
    # SIGPIPE; a failed mv leaves nothing behind.
    cmd = "t=$(mktemp .relman/runs/.sum.XXXXXX 2>/dev/null) || t=; " \
        "if [ -n \"$t\" ] && [ ! -d " f ".sum ] && cat >\"$t\" && mv -f -- \"$t\" " f ".sum; then :; " \
        "else cat >/dev/null; [ -z \"$t\" ] || rm -f -- \"$t\"; fi 2>/dev/null"
    printf("%s%s\n", out, "end\t" cnt) | cmd
    close(cmd)
}
# File number k: its version from its summary plus what follows, or read whole.
function dofile(k, f,    safe, fp, l, g, off, src, cmd, p, e, lim, dumped, whole, id) {
    safe = (f ~ /^\.relman\/runs\/[A-Za-z0-9._-]+$/) && (f in TY) && TY[f] == "-"
    fp = ""
    if (safe) {
        if ((getline l < f) > 0) {
            id = sv(l, "id")
            fp = length(l) "/" (id ~ /^[0-9]+-[0-9]+$/ ? id : "")
        }
        close(f)
    }
    off = -1
    if (safe) {
        src = f ".sum"
        off = load(src, g = ++G, INO[f], SZ[f], fp)
        if (off < 0 && f ~ /\.old$/) {
            src = substr(f, 1, length(f) - 4) ".sum"
            off = load(src, g = ++G, INO[f], SZ[f], fp)
        }
    }
    if (off < 0) { g = ++G; src = "" }
    lim = safe ? SZ[f] : -1
    p = off < 0 ? 0 : off
    dumped = 0
    whole = (off <= 0)
    if (off > 0 && SZ[f] > off) {
        cmd = "exec tail -c +" off " " f
        if ((cmd | getline l) > 0 && l == "") {
            while ((cmd | getline l) > 0) {
                e = p + length(l) + 1
                if (!dumped && e > lim) { dumped = 1; if (EUID != "" && (p > off || src != f ".sum")) dump(f, g, INO[f], p, fp) }
                line(g, l, p)
                p = e
            }
        } else {
            # not where the summary left off: the whole file, afresh
            g = ++G; src = ""; whole = 1; p = 0
        }
        close(cmd)
    }
    if (whole) {
        while ((getline l < f) > 0) {
            e = p + length(l) + 1
            if (safe && !dumped && e > lim) { dumped = 1; if (EUID != "") dump(f, g, INO[f], p, fp) }
            line(g, l, p)
            p = e
        }
        close(f)
    }
    if (safe && !dumped && EUID != "" && (src != f ".sum" || p > off)) dump(f, g, INO[f], p, fp)
    FG[k] = g
}
function best(rel, at, k, p, id, x, sg, c) {
    at = at ""
    if ((rel in LF) && (at < LA[rel] || (at == LA[rel] && (k < LK[rel] || (k == LK[rel] && p < LO[rel]))))) return
    LF[rel] = id; LA[rel] = at; LK[rel] = k; LO[rel] = p; LX[rel] = x; LS[rel] = sg; LC[rel] = c
}
BEGIN {
    NFL = ARGC - 1
    for (k = 1; k < ARGC; k++) FL[k] = ARGV[k]
    ARGC = 1
    EUID = ""
    while ((getline l < "/proc/self/status") > 0)
        if (l ~ /^Uid:/) { split(l, a); EUID = a[3] ""; break }
    close("/proc/self/status")
    if (EUID !~ /^[0-9]+$/) EUID = ""
}
# ls -lin: inode, mode, links, uid, gid, size, ..., name (symlinks skipped)
NF >= 7 && isnum($1) && isnum($4) && isnum($6) && $2 !~ /^l/ {
    TY[$NF] = substr($2, 1, 1); PM[$NF] = $2; INO[$NF] = $1 ""; OWN[$NF] = $4 ""; SZ[$NF] = $6 + 0
}
END {
    for (k = 1; k <= NFL; k++) dofile(k, FL[k])
    # Ends whose start is in another file: the later one wins, as in the full read.
    for (k = 1; k <= NFL; k++) {
        g = FG[k]
        for (i = 1; i <= EN[g]; i++) {
            id = EL[g, i]
            if (!((g, id) in EO)) continue
            GE[id] = 1; GA[id] = EA[g, id]; GX[id] = EX[g, id]; GG[id] = EG[g, id]
        }
    }
    for (k = 1; k <= NFL; k++) {
        g = FG[k]
        for (i = 1; i <= NRL[g]; i++) {
            rel = RL[g, i]
            if (!(rel in H)) { H[rel] = 1; HN++; HO[HN] = rel }
            RUNS[rel] += RN[g, rel]
            CNT[rel, "ok"] += RC[g, rel, "ok"]; CNT[rel, "failed"] += RC[g, rel, "failed"]
            CNT[rel, "killed"] += RC[g, rel, "killed"]
            if ((g, rel) in FO) best(rel, FA[g, rel], k, FO[g, rel], FI[g, rel], FX[g, rel], FZ[g, rel], FC[g, rel])
        }
        for (i = 1; i <= SN[g]; i++) {
            id = SL[g, i]
            if (!((g, id) in OP) || (id in DONE)) continue
            DONE[id] = 1
            rel = SR[g, id]
            RUNS[rel]++
            if (id in GE) {
                st = status(GX[id], GG[id]); at = GA[id]; x = GX[id]; sg = GG[id]
            } else {
                st = alive(g, id) ? "running" : "lost"; at = ST[g, id]; x = ""; sg = ""
            }
            CNT[rel, st]++
            if (st != "ok" && st != "running") best(rel, at, k, SO[g, id], id, x, sg, SC[g, id])
        }
    }
    for (k = 1; k <= HN; k++) {
        rel = HO[k]
        printf "health\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", rel, RUNS[rel], CNT[rel, "ok"], CNT[rel, "failed"],
            CNT[rel, "killed"], CNT[rel, "lost"], CNT[rel, "running"]
        if (rel in LF)
            printf "lastfail\t%s\t%s\t%s\t%s\t%s\t%s\n", rel, LF[rel], dash(LA[rel]), dash(LX[rel]), dash(LS[rel]), LC[rel]
    }
}' "$@"
}
