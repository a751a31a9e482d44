# switch.sh: point the link at TARGET, atomically, if the link is still what the
# operator saw. Params: ROOT LINK PREFIX TOKEN TARGET EXPECT EXPECT_SET HIST_HEAD HIST_TAIL
# LAUNCHER (the job launcher, (re)installed first when it differs).
# Prints `SWITCHED <from|-> <to>` or `SAME <to>`; exit 5 on a conflict, 4 if the lock
# was lost. The new link is made beside the old one and renamed over it (rename(2)),
# so at every instant the link names a complete release.

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
    printf 'SAME\t%s\n' "$TARGET"
    exit 0
fi
ensure_launcher || exit 1
switch_link "$TARGET" || exit 1
if [ -n "$CUR" ]; then _from="\"$CUR\""; else _from=null; fi
printf '%s%s%s\n' "$HIST_HEAD" "$_from" "$HIST_TAIL" >>.relman/history.jsonl || {
    echo "switched, but history.jsonl could not be written" >&2
    exit 1
}
printf 'SWITCHED\t%s\t%s\n' "${CUR:--}" "$TARGET"
