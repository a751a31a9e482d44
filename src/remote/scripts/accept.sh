# accept.sh: end the live release's probation early (`relman accept`, SPEC section 7),
# under relman's lock. Params: ROOT LINK PREFIX TOKEN HIST (the `accept` line, its
# `to` left for the host), RELEASE (optional: only if the probation is this release's).
# Prints `NONE` (no probation, or it expired: nothing written) or
# `ACCEPTED <release> <previous> <since> <until> <max> <failures>` (epoch seconds).

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
check_token
_now=$(date -u +%s)
if [ ! -f .relman/probation ] || ! probation_read "$_now"; then
    printf 'NONE\n'
    exit 0
fi
if [ -n "${RELEASE:-}" ] && [ "$PB_REL" != "$RELEASE" ]; then
    echo "the probation is $PB_REL's now, not $RELEASE's: nothing accepted" >&2
    exit 5
fi
probation_count
rm -f .relman/probation || { echo "cannot remove $ROOT_ABS/.relman/probation" >&2; exit 1; }
hist_append "$HIST" to "$PB_REL" || {
    echo "accepted, but history.jsonl could not be written" >&2
    exit 1
}
printf 'ACCEPTED\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PB_REL" "$PB_PREV" "$PB_SINCE" "$PB_UNTIL" "$PB_MAX" "$PB_FAILS"
