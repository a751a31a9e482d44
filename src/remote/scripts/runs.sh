# runs.sh: the runs the launcher recorded (ledger.sh), of RELEASE or of every
# release (RELEASE empty), and the output tails `launch --tail` kept of them.
# Params: ROOT, RELEASE (a release name, checked by relman). Reads only; one round
# trip. Output:
#   relman-runs 1
#   run ...            (ledger.sh)
#   tail <release> <id> <line>     (each kept line, in order; the line may hold tabs)
#   end
printf 'relman-runs\t1\n'

# runs_tails: the tails in .relman/runs/<release>.tails/<id> (launch.sh), of RELEASE
# or of every release. runs/ is shared (1777): only regular files under release-named
# directories, with run-id names, none a symlink; at most 200 lines and 64 KiB of each
# (what the launcher writes; a line cut at 4 KiB), control characters other than tab
# removed. One awk.
runs_tails() {
    if [ -n "${RELEASE:-}" ]; then
        set -- ".relman/runs/$RELEASE.tails"
    else
        set -- .relman/runs/*.tails
    fi
    _rt_files=
    for _rt_d; do
        if [ ! -d "$_rt_d" ] || [ -L "$_rt_d" ]; then continue; fi
        _rt_r=${_rt_d#.relman/runs/}
        is_release "${_rt_r%.tails}" || continue
        for _rt_f in "$_rt_d"/*; do
            case ${_rt_f##*/} in [0-9]*-[0-9]*) ;; *) continue ;; esac
            case ${_rt_f##*/} in *[!0-9-]* | *-*-*) continue ;; esac
            if [ ! -f "$_rt_f" ] || [ -L "$_rt_f" ]; then continue; fi
            _rt_files="$_rt_files $_rt_f"
        done
    done
    [ -n "$_rt_files" ] || return 0
    set -f
    # shellcheck disable=SC2086 # names checked above: release names and run ids
    set -- $_rt_files
    set +f
    LC_ALL=C awk '
FNR == 1 {
    n = split(FILENAME, a, "/")
    id = a[n]; rel = a[n - 1]; sub(/\.tails$/, "", rel)
    c = 0; b = 0
}
c < 200 && b < 65536 {
    gsub(/[\001-\010\013-\037\177]/, "", $0)
    if (length($0) > 4096) $0 = substr($0, 1, 4096)
    c++; b += length($0) + 1
    printf "tail\t%s\t%s\t%s\n", rel, id, $0
}' "$@"
}

if resolve_root && [ -d "$ROOT_ABS" ]; then
    cd -P -- "$ROOT_ABS" || exit 98
    if [ -n "${RELEASE:-}" ] && ! is_release "$RELEASE"; then
        echo "not a release name: $RELEASE" >&2
        exit 2
    fi
    ledger_read runs "${RELEASE:-}"
    runs_tails
fi
printf 'end\n'
