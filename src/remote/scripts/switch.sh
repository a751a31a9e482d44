# switch.sh: point the link at TARGET, atomically, if the link is still what the
# operator saw. Params: ROOT LINK PREFIX TOKEN TARGET EXPECT EXPECT_SET HIST
# LAUNCHER (the job launcher, (re)installed first when it differs), FORCE (1: skip
# the checks below that the operator overrides), FILES ("size<TAB>path" lines, the
# files TARGET's manifest lists: each must be there with its size), CHECK_ONLY (1:
# check everything, change nothing, print `OK <current|->`: a fleet's preflight).
# Prints `SWITCHED <from|-> <to>` or `SAME <to>`; exit 5 on a conflict or a target
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
if [ "$CUR" = "$TARGET" ]; then
    [ "${CHECK_ONLY:-0}" = 1 ] && { printf 'OK\t%s\n' "$CUR"; exit 0; }
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
switch_link "$TARGET" || exit 1
hist_append "$HIST" from "$CUR" || {
    echo "switched, but history.jsonl could not be written" >&2
    exit 1
}
printf 'SWITCHED\t%s\t%s\n' "${CUR:--}" "$TARGET"
