# runs.sh: the runs the launcher recorded (ledger.sh), of RELEASE or of every
# release (RELEASE empty). Params: ROOT, RELEASE (a release name, checked by relman).
# Reads only; one round trip. Output:
#   relman-runs 1
#   run ...            (ledger.sh)
#   end
printf 'relman-runs\t1\n'
if resolve_root && [ -d "$ROOT_ABS" ]; then
    cd -P -- "$ROOT_ABS" || exit 98
    if [ -n "${RELEASE:-}" ] && ! is_release "$RELEASE"; then
        echo "not a release name: $RELEASE" >&2
        exit 2
    fi
    ledger_read runs "${RELEASE:-}"
fi
printf 'end\n'
