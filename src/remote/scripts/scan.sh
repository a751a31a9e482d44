# scan.sh: report one deploy root in relman's line format, version 1 (see wire.rs).
# Params: ROOT LINK PREFIX PREFIX_RE, LIGHT (1: no sizes, no job scan: what a
# switch or rollback needs, fast). Reads only (but for the run ledger's summary
# cache, .relman/runs/*.sum, which ledger.sh keeps); one round trip.

printf 'relman-scan\t1\n'
_now=$(date -u +%s)
printf 'now\t%s\n' "$_now"
if [ ! -e "$ROOT" ] && [ ! -L "$ROOT" ]; then
    printf 'root\tmissing\t\t0\n'
    printf 'end\n'
    exit 0
fi
if [ -L "$ROOT" ] && [ ! -e "$ROOT" ]; then
    printf 'root\tdangling\t%s\t1\n' "$(readlink -- "$ROOT" | hex)"
    printf 'end\n'
    exit 0
fi
if ! resolve_root || [ ! -d "$ROOT_ABS" ]; then
    printf 'root\tnotdir\t\t0\n'
    printf 'end\n'
    exit 0
fi
_isl=0
[ -L "$ROOT" ] && _isl=1
printf 'root\tok\t%s\t%s\n' "$(printf '%s' "$ROOT_ABS" | hex)" "$_isl"
cd -P -- "$ROOT_ABS" || exit 98

# A due probation (probation.sh) is enforced here, at relman's contact, by the user
# relman connects as: the jobs of a user who may not change the link only recorded
# their failures. Before the link is read, so the scan shows what it did. Never
# under relman's own lock (a switch's light scan: the switch ends the probation).
if [ "${LIGHT:-0}" != 1 ] && [ -f .relman/probation ]; then
    probation_enforce "$_now" "$(id -un 2>/dev/null | tr -cd 'A-Za-z0-9._-')" >/dev/null 2>&1 || :
fi

# The link.
if [ -L "$LINK" ]; then
    _t=$(readlink -- "$LINK")
    _th=$(printf '%s' "$_t" | hex)
    _abs=0
    case $_t in /*) _abs=1 ;; esac
    if [ ! -e "$LINK" ]; then
        printf 'link\tdangling\t%s\t%s\n' "$_th" "$_abs"
    else
        _real=$(cd -P -- "$LINK" 2>/dev/null && pwd -P)
        _base=${_real##*/}
        if [ -n "$_real" ] && [ "${_real%/*}" = "$ROOT_ABS" ] && is_release "$_base"; then
            printf 'link\trelease\t%s\t%s\n' "$_base" "$_abs"
        elif [ -n "$_real" ] && [ "${_real%/*}" != "$ROOT_ABS" ]; then
            printf 'link\toutside\t%s\t%s\n' "$_th" "$_abs"
        else
            printf 'link\tnotrelease\t%s\t%s\n' "$_th" "$_abs"
        fi
    fi
elif [ -e "$LINK" ]; then
    printf 'link\tnotsymlink\t\t0\n'
else
    printf 'link\tabsent\t\t0\n'
fi

# Entries: releases are real directories with a release name; the rest is foreign.
JOB_NAMES=
_foreign=0
for _e in * .[!.]* ..?*; do
    [ -e "$_e" ] || [ -L "$_e" ] || continue
    [ "$_e" = "$LINK" ] && continue
    [ "$_e" = .relman ] && continue
    if [ -d "$_e" ] && [ ! -L "$_e" ] && is_release "$_e"; then
        JOB_NAMES="$JOB_NAMES $_e"
    else
        _foreign=$((_foreign + 1))
    fi
done
printf 'foreign\t%s\n' "$_foreign"

if [ -n "$JOB_NAMES" ]; then
    # Sizes in bytes, hard links counted in every release that holds them. du
    # prints "size<TAB>name" in argument order, skipping what it can't read; names
    # are release names (no blanks), so the words pair up without a fork.
    set --
    # shellcheck disable=SC2046,SC2086
    [ "${LIGHT:-0}" = 1 ] || set -- $(du -slb -- $JOB_NAMES 2>/dev/null)
    for _n in $JOB_NAMES; do
        _s='?'
        if [ $# -ge 2 ] && [ "$2" = "$_n" ]; then
            case $1 in '' | *[!0-9]*) ;; *) _s=$1 ;; esac
            shift 2
        fi
        # Usable as the live release: the deploy user may read and enter it, and
        # it holds something (switch and rollback refuse, or skip, what is not).
        _u=unreadable
        if [ -r "$_n" ] && [ -x "$_n" ]; then
            _u=empty
            for _x in "$_n"/* "$_n"/.[!.]* "$_n"/..?*; do
                if [ -e "$_x" ] || [ -L "$_x" ]; then _u=ok && break; fi
            done
        fi
        printf 'release\t%s\t%s\t%s\n' "$_n" "$_s" "$_u"
        if [ -f "$_n/.relman.json" ]; then
            printf 'manifest\t%s\t' "$_n"
            tr '\t\n\r' '   ' <"$_n/.relman.json"
            printf '\n'
        fi
    done
fi

# relman's own state.
if [ -d .relman/staging ]; then
    for _e in .relman/staging/*; do
        [ -e "$_e" ] || continue
        _n=${_e##*/}
        if is_release "$_n"; then printf 'staging\t%s\n' "$_n"; fi
    done
fi
if [ ! -f .relman/lock ]; then
    printf 'lock\tfree\n'
elif ! command -v flock >/dev/null 2>&1; then
    printf 'lock\tunknown\n'
elif flock -n -s .relman/lock true 2>/dev/null; then
    printf 'lock\tfree\n'
else
    printf 'lock\theld\n'
    printf 'lockinfo\t'
    head -c 4096 .relman/lock | tr '\t\n\r' '   '
    printf '\n'
fi
if [ -d .relman/pins ]; then
    for _e in .relman/pins/*.json; do
        [ -f "$_e" ] || continue
        _n=${_e##*/}
        case $_n in *[!A-Za-z0-9._-]*) continue ;; esac
        printf 'pin\t%s\t' "$_n"
        head -c 4096 "$_e" | tr '\t\n\r' '   '
        printf '\n'
    done
fi
if [ -f .relman/history.jsonl ]; then
    tail -n "${HISTORY_LINES:-1000}" .relman/history.jsonl | tr '\t\r' '  ' | sed "s/^/history$(printf '\t')/"
fi
# What a prune moved out of the root but could not remove (another user's files).
if [ -d .relman/trash ] && [ ! -L .relman/trash ]; then
    _n=0
    for _e in .relman/trash/* .relman/trash/.[!.]* .relman/trash/..?*; do
        [ -e "$_e" ] || [ -L "$_e" ] || continue
        _n=$((_n + 1))
    done
    if [ "$_n" -gt 0 ]; then
        _f=$(find .relman/trash ! -type d 2>/dev/null | wc -l | tr -d ' ')
        _b=$(du -sb .relman/trash 2>/dev/null | cut -f1)
        case $_b in '' | *[!0-9]*) _b='?' ;; esac
        printf 'trash\t%s\t%s\t%s\n' "$_n" "${_f:-0}" "$_b"
    fi
fi

# Each release's health from the run ledger (ledger.sh): one awk, no fork per run.
[ "${LIGHT:-0}" = 1 ] || ledger_read health
# The live release's probation, while set and not expired (a probation of a release
# the link no longer names guards nothing: not reported).
if [ "${LIGHT:-0}" != 1 ] && [ -f .relman/probation ] && probation_read "$_now"; then
    probation_link
    if [ "$PB_CUR" = "$PB_REL" ]; then
        probation_count
        printf 'probation\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PB_REL" "$PB_PREV" "$PB_SINCE" "$PB_UNTIL" "$PB_MAX" "$PB_FAILS"
    fi
fi
if [ "${LIGHT:-0}" = 1 ]; then printf 'procs\t0\t0\tunknown\n'; else scan_jobs; fi
printf 'end\n'
