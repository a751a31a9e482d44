# probation.sh: a host's probation (SPEC section 7): the file .relman/probation and
# the rollback a due probation asks for. One copy, included after ledger.sh by the
# job launcher (ops/launcher.rs bakes both into .relman/bin/launch), by scan.sh (the
# enforcement at relman's next contact), switch.sh and accept.sh (script.rs). cwd:
# the root. Needs is_release (lib.sh; the launcher maps it to its own) and LINK.
#
# .relman/probation: one line, written by switch.sh under relman's lock (temp + mv):
#   relman-probation 1 RELEASE PREVIOUS SINCE UNTIL MAX
# SINCE and UNTIL in epoch seconds (host clock), MAX the failures allowed. Words
# without blanks: read by `read`, no fork, no JSON parser in the shell.

# probation_read NOW: PB_REL PB_PREV PB_SINCE PB_UNTIL PB_MAX from .relman/probation;
# succeeds when the file is well formed and the probation has not expired at NOW.
probation_read() {
    PB_REL=
    PB_PREV=
    PB_SINCE=
    PB_UNTIL=
    PB_MAX=
    { read -r _pb_tag _pb_v PB_REL PB_PREV PB_SINCE PB_UNTIL PB_MAX _pb_rest <.relman/probation; } 2>/dev/null ||
        [ -n "$PB_MAX" ] || return 1
    [ "$_pb_tag $_pb_v" = "relman-probation 1" ] && [ -z "$_pb_rest" ] || return 1
    for _pb_n in "$PB_SINCE" "$PB_UNTIL" "$PB_MAX" "$1"; do
        case $_pb_n in '' | *[!0-9]*) return 1 ;; esac
        [ "${#_pb_n}" -le 12 ] || return 1
    done
    is_release "$PB_REL" && is_release "$PB_PREV" || return 1
    [ "$1" -lt "$PB_UNTIL" ]
}

# probation_count: PB_FAILS, the failed, killed and lost runs of PB_REL started
# since PB_SINCE (a run's id is <start epoch>-<pid>), and PB_IDS, the first 20 ids.
# The runs are ledger.sh's (`ledger_read runs`): the same verdicts as everywhere.
probation_count() {
    # One awk over ledger_read's lines (a shell loop costs ~0.3 ms a run in busybox sh).
    _pb_out=$(ledger_read runs "$PB_REL" | awk -F '\t' -v since="$PB_SINCE" '
$10 ~ /^(failed|killed|lost)$/ && $2 ~ /^[0-9]+-[0-9]+$/ {
    # ledger.sh printed only ids of digits-digits; checked again: ids go into the
    # history line.
    split($2, a, "-")
    if (a[1] + 0 < since + 0) next
    c++
    if (c <= 20) ids = ids " " $2
}
END { printf "%d%s", c, ids }')
    PB_FAILS=${_pb_out%% *}
    case $PB_FAILS in '' | *[!0-9]*) PB_FAILS=0 ;; esac
    PB_IDS=
    case $_pb_out in *' '*) PB_IDS=${_pb_out#* } ;; esac
}

# probation_link: PB_CUR, the release LINK names ("" if none).
probation_link() {
    PB_CUR=
    [ -L "$LINK" ] || return 0
    _pb_real=$(cd -P -- "$LINK" 2>/dev/null && pwd -P) || return 0
    [ "${_pb_real%/*}" = "$(pwd -P)" ] && is_release "${_pb_real##*/}" && PB_CUR=${_pb_real##*/}
    return 0
}

# probation_rollback WHO: the rollback of a due probation (read and counted), run in
# a subshell by probation_enforce (its descriptors end with it). Never waits: the
# host lock (.relman/lock, then .relman/lock.ops, as lock.sh takes them) with
# flock -n, or nothing happens now (an operator holds it: the next failure or start
# tries again). Only a user who may change the link and write relman's state gets
# here; another user changes nothing (never setuid, never sudo). Under the lock,
# compare-and-swap: the link must still name PB_REL, else the probation just ends.
# Then the link to PB_PREV (a release directory) by temp link + rename, history
# `rollback` by WHO@<host> naming the runs, and the probation file removed.
# Status 0: rolled back (PB_DONE=rolledback) or ended (PB_DONE=moved); 1: not now.
probation_rollback() {
    [ -f .relman/lock ] && [ -f .relman/lock.ops ] && [ -f .relman/history.jsonl ] || return 1
    [ -w . ] && [ -w .relman ] && [ -w .relman/history.jsonl ] || return 1
    { command exec 5>>.relman/lock; } 2>/dev/null || return 1
    flock -n 5 2>/dev/null || return 1
    { command exec 4>>.relman/lock.ops; } 2>/dev/null || return 1
    flock -n -x 4 2>/dev/null || return 1
    # Checked again under the lock: a switch may have replaced or ended it.
    probation_read "$PB_NOW" || return 1
    _pb_host=$(uname -n 2>/dev/null | tr -cd 'A-Za-z0-9._-') || _pb_host=
    _pb_by=$1@${_pb_host:-host}
    _pb_at=$(date -u '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null) || _pb_at=1970-01-01T00:00:00Z
    { printf '{"by":"%s","action":"probation rollback","since":"%s","pid":%s}\n' \
        "$_pb_by" "$_pb_at" "$$" >.relman/lock; } 2>/dev/null || return 1
    probation_link
    if [ "$PB_CUR" != "$PB_REL" ]; then
        # The link moved meanwhile (by hand, or a switch without relman): never back.
        rm -f .relman/probation
        : >.relman/lock
        PB_DONE=moved
        return 0
    fi
    if [ ! -d "$PB_PREV" ] || [ -L "$PB_PREV" ]; then
        : >.relman/lock
        return 1
    fi
    _pb_tmp=.relman-link.$$
    rm -f -- "$_pb_tmp"
    if ! ln -s -- "$PB_PREV" "$_pb_tmp" 2>/dev/null || ! mv -fT -- "$_pb_tmp" "$LINK" 2>/dev/null ||
        [ "$(readlink -- "$LINK")" != "$PB_PREV" ]; then
        rm -f -- "$_pb_tmp"
        : >.relman/lock
        return 1
    fi
    printf '{"at":"%s","by":"%s","action":"rollback","from":"%s","to":"%s","note":"probation: %s failed, killed or lost runs of %s, more than %s allowed: %s"}\n' \
        "$_pb_at" "$_pb_by" "$PB_REL" "$PB_PREV" "$PB_FAILS" "$PB_REL" "$PB_MAX" "$PB_IDS" \
        >>.relman/history.jsonl
    rm -f .relman/probation
    : >.relman/lock
    PB_DONE=rolledback
    return 0
}

# probation_enforce NOW WHO: with a probation set and not expired at NOW, past its
# failures: probation_rollback WHO. Prints `rolledback` or `moved` when it did
# something (status 0); status 1 otherwise.
probation_enforce() {
    PB_NOW=$1
    probation_read "$PB_NOW" || return 1
    probation_count
    [ "$PB_FAILS" -gt "$PB_MAX" ] || return 1
    (
        PB_DONE=
        probation_rollback "$2" || exit 1
        printf '%s\t%s\t%s\t%s\n' "$PB_DONE" "$PB_REL" "$PB_PREV" "$PB_FAILS"
    )
}
