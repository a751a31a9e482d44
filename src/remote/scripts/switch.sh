# switch.sh: point the link at TARGET, atomically, if the link is still what the
# operator saw. Params: ROOT LINK PREFIX TOKEN TARGET EXPECT EXPECT_SET HIST
# LAUNCHER (the job launcher, (re)installed first when it differs), FORCE (1: skip
# the checks below that the operator overrides), FILES ("size<TAB>path" lines, the
# files TARGET's manifest lists: each must be there with its size), CHECK_ONLY (1:
# check everything, change nothing, print `OK <current|->`: a fleet's preflight),
# PROBATION (seconds; empty: none), PROBATION_MAX, PHIST (its history line).
# Prints `SWITCHED <from|-> <to>` or `SAME <to>`; with PROBATION, then
# `PROBATION set <previous> <since> <until> <max>` (epoch seconds, host clock) or
# `PROBATION none` (no release live before TARGET to go back to: none set). Without
# PROBATION any probation ends (.relman/probation removed, probation.sh); with it,
# .relman/probation is written before the link moves, so a relman killed at any
# instant leaves the host guarded. Exit 5 on a conflict or a target
# that can't be used, 4 if the lock was lost. The new link is made beside the old one
# and renamed over it (rename(2)), so at every instant the link names a complete release.

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
check_token
is_release "$TARGET" || { echo "not a release name" >&2; exit 5; }
if [ ! -d "$TARGET" ] || [ -L "$TARGET" ]; then
    echo "$TARGET is not a release directory in $ROOT_ABS" >&2
    exit 5
fi
current_release
if [ "$EXPECT_SET" = 1 ] && [ "$CUR" != "$EXPECT" ]; then
    echo "the link moved: expected ${EXPECT:-nothing}, it points at ${CUR:-nothing}" >&2
    exit 5
fi

# probation_prev: _pb_prev, the release a probation of TARGET goes back to: the one
# live now; when TARGET is live already, the previous of its unexpired probation,
# else the `from` of the last switch or deploy to it in history. "" when none
# (or not a release directory).
probation_prev() {
    _pb_prev=
    if [ "$CUR" != "$TARGET" ]; then
        _pb_prev=$CUR
    elif probation_read "$(date -u +%s)" && [ "$PB_REL" = "$TARGET" ]; then
        _pb_prev=$PB_PREV
    elif [ -f .relman/history.jsonl ]; then
        _pb_prev=$(grep -F "\"to\":\"$TARGET\"" .relman/history.jsonl |
            grep -E '^\{"at":"[^"]*","by":"[^"]*","action":"(switch|deploy)","from":"' |
            tail -n 1 | sed -n 's/^{"at":"[^"]*","by":"[^"]*","action":"[a-z]*","from":"\([^"]*\)".*/\1/p')
    fi
    if [ -n "$_pb_prev" ]; then
        if ! is_release "$_pb_prev" || [ ! -d "$_pb_prev" ] || [ -L "$_pb_prev" ] || [ "$_pb_prev" = "$TARGET" ]; then
            _pb_prev=
        fi
    fi
}

# probation_set: writes .relman/probation for TARGET (temp + rename, readable by
# every job user) and its history line; sets _pb_said, the line to print.
probation_set() {
    _pb_said='PROBATION	none'
    [ -n "$_pb_prev" ] || return 0
    _pb_since=$(date -u +%s) || return 1
    # Runs are told apart by their start second (a run's id): on a release live
    # already, a run that failed in this second came before the probation.
    [ "$CUR" != "$TARGET" ] || _pb_since=$((_pb_since + 1))
    _pb_until=$((_pb_since + PROBATION))
    _pb_tmp=.relman/probation.tmp.$$
    { printf 'relman-probation 1 %s %s %s %s %s\n' "$TARGET" "$_pb_prev" "$_pb_since" "$_pb_until" \
        "$PROBATION_MAX" >"$_pb_tmp" && chmod 0644 "$_pb_tmp" && mv -f -- "$_pb_tmp" .relman/probation; } || {
        rm -f -- "$_pb_tmp"
        echo "cannot write $ROOT_ABS/.relman/probation" >&2
        return 1
    }
    _pb_said=$(printf 'PROBATION\tset\t%s\t%s\t%s\t%s' "$_pb_prev" "$_pb_since" "$_pb_until" "$PROBATION_MAX")
}

case ${PROBATION:-} in
    '') ;;
    *[!0-9]* | 0) echo "bad PROBATION" >&2; exit 2 ;;
    *) case ${PROBATION_MAX:-} in '' | *[!0-9]*) echo "bad PROBATION_MAX" >&2; exit 2 ;; esac ;;
esac

if [ "$CUR" = "$TARGET" ]; then
    [ "${CHECK_ONLY:-0}" = 1 ] && { printf 'OK\t%s\n' "$CUR"; exit 0; }
    if [ -n "${PROBATION:-}" ]; then
        probation_prev
        probation_set || exit 1
        if [ -n "$_pb_prev" ]; then
            hist_append "$PHIST" || { echo "probation set, but history.jsonl could not be written" >&2; exit 1; }
        fi
        printf 'SAME\t%s\n%s\n' "$TARGET" "$_pb_said"
        exit 0
    fi
    rm -f .relman/probation
    printf 'SAME\t%s\n' "$TARGET"
    exit 0
fi

# refuse WHY: the target can't be used as the live release (--force overrides).
refuse() {
    echo "refusing $TARGET: $1 (--force to switch anyway)" >&2
    exit 5
}
if [ "${FORCE:-0}" != 1 ]; then
    if [ ! -r "$TARGET" ] || [ ! -x "$TARGET" ]; then
        refuse "$(id -un 2>/dev/null || echo the deploy user) cannot read it ($(stat -c '%A, owner %U' -- "$TARGET" 2>/dev/null))"
    fi
    _empty=1
    for _x in "$TARGET"/* "$TARGET"/.[!.]* "$TARGET"/..?*; do
        if [ -e "$_x" ] || [ -L "$_x" ]; then _empty=0 && break; fi
    done
    [ "$_empty" = 0 ] || refuse "it is empty"
    if [ -n "${FILES:-}" ]; then
        # One stat for every file (xargs batches a long list); only when the sizes
        # differ, a look file by file for the message.
        _want=$(printf '%s\n' "$FILES" | cut -f1)
        _got=$(cd -- "$TARGET" && printf '%s\n' "$FILES" | cut -f2- | tr '\n' '\000' |
            xargs -0 stat -L -c %s -- 2>/dev/null)
        if [ "$_got" != "$_want" ]; then
            _tab=$(printf '\t')
            _n=$(printf '%s\n' "$FILES" | wc -l | tr -d ' ')
            while IFS=$_tab read -r _sz _p; do
                if [ ! -f "$TARGET/$_p" ]; then
                    refuse "incomplete: $_p is missing (its manifest lists $_n files)"
                fi
                _has=$(stat -L -c %s -- "$TARGET/$_p" 2>/dev/null)
                [ "$_has" = "$_sz" ] ||
                    refuse "incomplete: $_p has ${_has:-?} bytes, its manifest says $_sz"
            done <<EOF
$FILES
EOF
            refuse "incomplete: its files do not match its manifest"
        fi
    fi
fi
if [ "${CHECK_ONLY:-0}" = 1 ]; then
    printf 'OK\t%s\n' "${CUR:--}"
    exit 0
fi
ensure_launcher || exit 1
if [ -n "${PROBATION:-}" ]; then
    probation_prev
    probation_set || exit 1
fi
if ! switch_link "$TARGET"; then
    # Not switched: a probation of TARGET written above guards nothing.
    [ -z "${PROBATION:-}" ] || rm -f .relman/probation
    exit 1
fi
[ -n "${PROBATION:-}" ] || rm -f .relman/probation
hist_append "$HIST" from "$CUR" || {
    echo "switched, but history.jsonl could not be written" >&2
    exit 1
}
if [ -n "${PROBATION:-}" ] && [ -n "$_pb_prev" ]; then
    hist_append "$PHIST" || { echo "switched, but history.jsonl could not be written" >&2; exit 1; }
fi
printf 'SWITCHED\t%s\t%s\n' "${CUR:--}" "$TARGET"
[ -z "${PROBATION:-}" ] || printf '%s\n' "$_pb_said"
