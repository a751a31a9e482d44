# pin.sh: MODE=pin — pin release RELEASE (a pin file, see write_pin); MODE=unpin —
# remove every pin of RELEASE, or with PIN_ID only that pin. Under the host lock.
# Params: ROOT LINK PREFIX TOKEN LAUNCHER MODE RELEASE PIN_ID PIN_SECS PIN_BY
# PIN_REASON HIST (the history line: for pin complete, for unpin its `note` the
# host's to fill).
# Prints `PINNED <id> <created> <expires>` or `UNPINNED <count>`. Exit 5 when the
# release is not there (pin) or the root is missing, 4 if the lock was lost.

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
check_token
ensure_launcher || exit 1
is_release "$RELEASE" || { echo "not a release name" >&2; exit 5; }
case $MODE in
    pin)
        if [ ! -d "$RELEASE" ] || [ -L "$RELEASE" ]; then
            echo "$RELEASE is not a release in $ROOT_ABS" >&2
            exit 5
        fi
        write_pin "$RELEASE" || exit 1
        set -- "$HIST" # hist_append's arguments: the line is complete
        ;;
    unpin)
        _count=0
        _glob='.relman/pins/*.json'
        case $PIN_ID in
            '') ;;
            *[!0-9a-f]*) echo "bad pin id" >&2; exit 2 ;;
            *) _glob=".relman/pins/$PIN_ID.json" ;;
        esac
        # shellcheck disable=SC2086
        for _f in $_glob; do
            if [ ! -f "$_f" ] || [ -L "$_f" ]; then continue; fi
            [ "$(pin_release "$_f")" = "$RELEASE" ] || continue
            rm -f -- "$_f" && _count=$((_count + 1))
        done
        printf 'UNPINNED\t%s\n' "$_count"
        [ "$_count" -gt 0 ] || exit 0
        set -- "$HIST" note "removed $_count pin(s)${PIN_ID:+ (id $PIN_ID)}"
        ;;
    *)
        echo "unknown mode" >&2
        exit 1
        ;;
esac
hist_append "$@" || {
    echo "done, but history.jsonl could not be written" >&2
    exit 1
}
