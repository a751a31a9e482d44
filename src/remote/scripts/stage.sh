# stage.sh: the steps of a deploy on one host (ops/deploy), each run under the
# deploy's lock (check_token first). Params: ROOT LINK PREFIX PREFIX_RE TOKEN NAME
# STEP, and per step:
#   prepare   LAUNCHER LIVE DIRS CANDS
#   verify    MODE_EXEC MODE_PLAIN MANIFEST FILES
#   publish   HIST (the `deploy` line, its `from` the host's to fill; empty: no
#             history line, the switch writes it)
#   refuse    HIST (the `refuse` line of a guard, its `from` the host's to fill)
#   unpublish, abort: nothing more
# Lists are one record per line, fields tab-separated; paths are relative to the
# release, checked again here (no empty, `.` or `..` component, no leading /).
#
# A new release is built in .relman/staging/NAME, which is never listed as a
# release; only `publish` renames it into the root, so an interrupted deploy leaves
# at most a staging directory (removed by the next deploy or prune).
#
# Output lines (tab-separated):
#   stale <name|?>                  a stale upload removed (prepare)
#   stale_left <name|?>             one that could not be removed (left for later)
#   F <idx> <size> <mode> <sha|->  facts of a file: sha "-" when its size differs
#                                   from the one expected (not worth reading)
#   M <idx>                         not a regular file
#   OK | PUBLISHED <from|-> | REFUSED <from|-> | WITHDRAWN | ABORTED   the last line
# A write that failed on a full disk says so on stderr, `NOSPACE <root> <bytes free>`,
# and exits 28 (ENOSPC), so relman can tell "the disk filled up" from a bad upload.

_tab=$(printf '\t')

# write_failed WHAT: a write failed. On a full disk (df: under 1 MiB free) that is
# the cause: NOSPACE on stderr, exit 28; else "cannot WHAT", exit 1.
write_failed() {
    # This step's scratch files (.facts.PID.*, .links.PID, .modes.PID) go first.
    rm -f -- "$ROOT_ABS/.relman/staging/".*".$$" "$ROOT_ABS/.relman/staging/.facts.$$".* 2>/dev/null
    _free=$(df -P -k . 2>/dev/null | awk 'NR == 2 { print $4 * 1024 }')
    case $_free in
    '' | *[!0-9]*) _free= ;;
    esac
    if [ -n "$_free" ] && [ "$_free" -lt 1048576 ]; then
        printf 'NOSPACE\t%s\t%s\n' "$ROOT_ABS" "$_free" >&2
        exit 28
    fi
    echo "cannot $1" >&2
    exit 1
}

# check_rel PATH: refuses a path that could leave the release directory.
check_rel() {
    case /$1/ in
        */../* | */./* | *//*)
            echo "unsafe path refused: $1" >&2
            return 1
            ;;
    esac
}

# file_facts: reads "idx<TAB>expected size<TAB>path" lines on stdin (paths relative
# to the cwd) and prints an F or M line for each, in any order. A file is hashed
# only when its size is the expected one ("-": never, stat only). One hashing
# process for all: openssl when the host has it and there is enough to hash (with
# SHA extensions it is several times faster than coreutils' sha256sum), else
# sha256sum.
file_facts() {
    _t=$ROOT_ABS/.relman/staging/.facts.$$
    { : >"$_t.ok" && : >"$_t.bi" && : >"$_t.bp"; } 2>/dev/null || { rm -f -- "$_t".*; return 1; }
    # Every write to these lists is checked: on a full disk a lost line would
    # read as a file "not reported", a cut hash as one that "differs".
    _werr=
    while IFS=$_tab read -r _i _e _p; do
        [ -n "$_i" ] || continue
        if [ -f "./$_p" ] && [ ! -L "./$_p" ]; then
            printf '%s\t%s\t%s\n' "$_i" "$_e" "$_p" >>"$_t.ok" || _werr=1
        else
            printf 'M\t%s\n' "$_i"
        fi
    done
    [ -z "$_werr" ] || { rm -f -- "$_t".*; return 1; }
    if [ -s "$_t.ok" ]; then
        # Paths go through xargs -0 (no argv limit, no quoting rules); the output
        # keeps the input's order, one line per file.
        cut -f3- "$_t.ok" | sed 's|^|./|' | tr '\n' '\000' |
            xargs -0 stat -c '%s %a' -- >"$_t.st" || { rm -f -- "$_t".*; return 1; }
        _sum=0
        _n=0
        exec 4<"$_t.st"
        while IFS=$_tab read -r _i _e _p; do
            read -r _sz _md <&4 || break
            if [ "$_sz" != "$_e" ]; then
                printf 'F\t%s\t%s\t%s\t-\n' "$_i" "$_sz" "$_md"
            else
                printf '%s\t%s\t%s\n' "$_i" "$_sz" "$_md" >>"$_t.bi" || _werr=1
                printf './%s\000' "$_p" >>"$_t.bp" || _werr=1
                _sum=$((_sum + _sz))
                _n=$((_n + 1))
            fi
        done <"$_t.ok"
        exec 4<&-
        [ -z "$_werr" ] || { rm -f -- "$_t".*; return 1; }
        if [ "$_n" -gt 0 ]; then
            # Only the leading hash of each line is used (GNU puts a backslash
            # before it for a name holding one; an old openssl writes
            # `SHA256(name)= hash`).
            if [ "$_sum" -ge 4194304 ] && command -v openssl >/dev/null 2>&1 &&
                xargs -0 openssl dgst -sha256 -r <"$_t.bp" >"$_t.bh" 2>/dev/null &&
                [ "$(($(wc -l <"$_t.bh")))" -eq "$_n" ]; then
                :
            else
                xargs -0 sha256sum -- <"$_t.bp" >"$_t.bh" || { rm -f -- "$_t".*; return 1; }
            fi
            sed -e 's/^\\//' -e 's/^\([0-9a-f]\{64\}\).*/\1/' \
                -e 's/^.*= *\([0-9a-f]\{64\}\)$/\1/' "$_t.bh" >"$_t.bx" || { rm -f -- "$_t".*; return 1; }
            paste "$_t.bi" "$_t.bx" | sed "s/^/F$_tab/"
        fi
    fi
    rm -f -- "$_t".*
}

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
check_token
is_release "$NAME" || { echo "$NAME is not a release name" >&2; exit 5; }
_stage=.relman/staging/$NAME

case $STEP in
prepare)
    ensure_launcher || exit 1
    if [ -e "$NAME" ] || [ -L "$NAME" ]; then
        echo "$NAME already exists in $ROOT_ABS (made meanwhile by another deploy?)" >&2
        exit 5
    fi
    mkdir -p .relman/staging || { echo "cannot create $ROOT_ABS/.relman/staging" >&2; exit 1; }
    # We hold the lock, so no deploy of ours is uploading: every entry here is
    # stale. (An upload receiver whose relman froze may still write into one; what
    # can't be removed now is left for the next time: a staging directory never
    # becomes a release, and its name stays taken.)
    for _e in .relman/staging/* .relman/staging/.[!.]* .relman/staging/..?*; do
        [ -e "$_e" ] || [ -L "$_e" ] || continue
        _n=${_e##*/}
        is_release "$_n" || _n='?'
        if rm -rf -- "$_e" 2>/dev/null; then
            printf 'stale\t%s\n' "$_n"
        else
            printf 'stale_left\t%s\n' "$_n"
        fi
    done
    mkdir -m 755 -- "$_stage" || { echo "cannot create $ROOT_ABS/$_stage" >&2; exit 1; }
    cd -P -- "$_stage" || exit 1
    # Directories of the live release that are symlinks (they lead elsewhere):
    # nothing under them is linked, so no release shares an inode with a file
    # outside its own tree.
    _nl='
'
    _away=
    while IFS= read -r _d; do
        [ -n "$_d" ] || continue
        check_rel "$_d" || exit 1
        mkdir -m 755 -- "./$_d" || { echo "cannot create the directory $_d" >&2; exit 1; }
        if [ -n "$LIVE" ] && [ -L "$ROOT_ABS/$LIVE/$_d" ]; then _away="$_away$_d$_nl"; fi
    done <<EOF
$DIRS
EOF
    if [ -n "$LIVE" ] && [ -n "$CANDS" ]; then
        if ! is_release "$LIVE" || [ ! -d "$ROOT_ABS/$LIVE" ] || [ -L "$ROOT_ABS/$LIVE" ]; then
            echo "the live release $LIVE is not a release directory" >&2
            exit 5
        fi
        _l=$ROOT_ABS/.relman/staging/.links.$$
        : >"$_l" || write_failed "write in $ROOT_ABS/.relman/staging"
        # Hard-link the candidates from the live release; file_facts then proves
        # (size, mode, sha256) which ones relman may keep.
        while IFS=$_tab read -r _i _e _p; do
            [ -n "$_i" ] || continue
            check_rel "$_p" || exit 1
            if [ -n "$_away" ]; then
                _skip=
                while IFS= read -r _d; do
                    case $_p in "$_d"/*) _skip=1 ;; esac
                done <<EOF
$_away
EOF
                [ -z "$_skip" ] || continue
            fi
            _src=$ROOT_ABS/$LIVE/$_p
            if [ -f "$_src" ] && [ ! -L "$_src" ] && ln -- "$_src" "./$_p" 2>/dev/null; then
                printf '%s\t%s\t%s\n' "$_i" "$_e" "$_p" >>"$_l" || write_failed "write in $ROOT_ABS/.relman/staging"
            fi
        done <<EOF
$CANDS
EOF
        file_facts <"$_l" || { rm -f -- "$_l"; write_failed "read the linked files"; }
        rm -f -- "$_l"
    fi
    printf 'OK\n'
    ;;
verify)
    cd -P -- "$_stage" 2>/dev/null || { echo "the staged upload $_stage is missing" >&2; exit 1; }
    # Modes of the uploaded files (linked ones share the live inode: never chmod'ed).
    _l=$ROOT_ABS/.relman/staging/.modes.$$
    for _m in 755 644; do
        if [ "$_m" = 755 ]; then _list=$MODE_EXEC; else _list=$MODE_PLAIN; fi
        : >"$_l" || write_failed "write in $ROOT_ABS/.relman/staging"
        while IFS= read -r _p; do
            [ -n "$_p" ] || continue
            check_rel "$_p" || exit 1
            printf './%s\000' "$_p" >>"$_l" || write_failed "write in $ROOT_ABS/.relman/staging"
        done <<EOF
$_list
EOF
        if [ -s "$_l" ]; then
            xargs -0 chmod "$_m" -- <"$_l" || { rm -f -- "$_l"; echo "cannot set file modes" >&2; exit 1; }
        fi
    done
    rm -f -- "$_l"
    { printf '%s\n' "$MANIFEST" >.relman.json; } 2>/dev/null || write_failed "write the manifest"
    chmod 644 .relman.json || { echo "cannot set the manifest's mode" >&2; exit 1; }
    printf '%s\n' "$FILES" | file_facts || write_failed "read the staged files"
    printf 'OK\n'
    ;;
publish)
    if [ ! -d "$_stage" ] || [ -L "$_stage" ]; then
        echo "the staged release $_stage is missing" >&2
        exit 1
    fi
    if [ -e "$NAME" ] || [ -L "$NAME" ]; then
        echo "$NAME already exists in $ROOT_ABS: not replaced" >&2
        exit 5
    fi
    current_release
    mv -T -- "$_stage" "$NAME" || { echo "cannot move $_stage to $ROOT_ABS/$NAME" >&2; exit 1; }
    if [ -n "$HIST" ]; then
        hist_append "$HIST" from "$CUR" || {
            echo "published, but history.jsonl could not be written" >&2
            exit 1
        }
    fi
    printf 'PUBLISHED\t%s\n' "${CUR:--}"
    ;;
refuse)
    # A guard refused the published release: it stays (for the operator to look
    # at) and the history line marks it bad; the link is not touched.
    if [ ! -d "$NAME" ] || [ -L "$NAME" ]; then
        echo "$NAME is not a release in $ROOT_ABS" >&2
        exit 5
    fi
    current_release
    hist_append "$HIST" from "$CUR" || {
        echo "history.jsonl could not be written: $NAME is not marked bad" >&2
        exit 1
    }
    printf 'REFUSED\t%s\n' "${CUR:--}"
    ;;
unpublish)
    current_release
    if [ "$CUR" = "$NAME" ]; then
        echo "$NAME is live: not withdrawn" >&2
        exit 5
    fi
    if [ -d "$NAME" ] && [ ! -L "$NAME" ]; then
        rm -rf -- "$_stage"
        mv -T -- "$NAME" "$_stage" || { echo "cannot withdraw $NAME" >&2; exit 1; }
    fi
    rm -rf -- "$_stage"
    printf 'WITHDRAWN\n'
    ;;
abort)
    rm -rf -- "$_stage"
    printf 'ABORTED\n'
    ;;
*)
    echo "unknown step $STEP" >&2
    exit 1
    ;;
esac
