# resolve.sh: the absolute path of the live release; with PIN=1, also pins it in the
# same step, under the host lock, so no prune can come between the two.
# Params: ROOT LINK PREFIX PIN (0|1); with PIN=1 also TOKEN LAUNCHER PIN_ID PIN_SECS
# PIN_BY PIN_REASON HIST (the `pin` history line, its `to` the host's to fill).
# Prints `RESOLVED <absolute path>` then, with PIN=1, `PINNED <id> <created> <expires>`.
# Exit 5 when there is no live release, 4 if the lock was lost.

resolve_root || { echo "no live release: the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
if [ "$PIN" = 1 ]; then
    check_token
    ensure_launcher || exit 1
fi
current_release
if [ -z "$CUR" ] || [ ! -d "$CUR" ] || [ -L "$CUR" ]; then
    echo "no live release: $LINK in $ROOT_ABS does not point at a release" >&2
    exit 5
fi
printf 'RESOLVED\t%s\n' "$ROOT_ABS/$CUR"
[ "$PIN" = 1 ] || exit 0
write_pin "$CUR" || exit 1
hist_append "$HIST" to "$CUR" || {
    echo "pinned, but history.jsonl could not be written" >&2
    exit 1
}
