# prune.sh: delete the releases a prune plan chose, each one checked again here,
# under the host lock, right before it goes.
# Params: ROOT LINK PREFIX PREFIX_RE TOKEN LAUNCHER, DELETE (release names in the
# order to delete them), PINS (ids of expired pins), STAGING (names of staging dirs),
# HIST (the `prune` history line, its `note` the host's to fill), DRY (0|1).
#
# DRY=1 (`prune --dry-run`, no host lock): the same checks, nothing changed; a release
# that would go is reported `would <name>`, and nothing after the releases is done.
#
# For each release: it must still be a real directory directly in the root (a
# symlink is never followed); its launcher lock (a flock on the release directory,
# and an older launcher's .relman/run/<name>.lock if there is one) is taken
# exclusively without waiting — a job started through `launch` holds it shared, so
# the release is skipped; its jobs (from one scan of every candidate at the start,
# then re-checked for what started since: any job, or jobs that can't be
# determined, keep it); then, still holding the lock, it is renamed into
# .relman/trash (atomic: never a half-deleted release in the root) and removed.
# "deleted" means gone from the root and from the trash. A release moved out of the
# root whose files rm could not all remove (another user's directory inside it) is
# "trashed", with how many files were left and rm's reason; one that could not even
# be moved out is "failed ... move", with what was not writable by whom.
#
# Output, version 1, one tab-separated record per line:
#   relman-prune 1
#   deleted <name>
#   would <name>                                  (DRY=1: would be deleted)
#   kept <name> launched|jobsunknown|notdir       (skipped, with why)
#   kept <name> jobs <pid> [<pid>...]
#   gone <name>                                   (already not there)
#   trashed <name> <files left> <reason>          (out of the root, but files left in .relman/trash)
#   failed <name> move root|release|trash|other <user> <reason>
#                                                 (not moved out of the root: nothing removed)
#   pin <file name>                               (an expired or orphaned pin removed)
#   staging <name>                                (a stale upload removed)
#   warn history                                  (history.jsonl could not be written)
#   done
# Exit 4 if the lock was lost, 5 if the root is missing, 1 on other trouble.

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
if [ "$DRY" != 1 ]; then
    check_token
    ensure_launcher || exit 1
    # Releases an interrupted prune had already moved out of the root.
    [ -d .relman/trash ] && [ ! -L .relman/trash ] && rm -rf -- "$ROOT_ABS/.relman/trash/"* 2>/dev/null
fi
command -v flock >/dev/null 2>&1 || { echo "flock (util-linux) is missing on the host" >&2; exit 1; }
for _n in $DELETE; do
    is_release "$_n" || { echo "refusing to prune a name that is not a release" >&2; exit 1; }
done

printf 'relman-prune\t1\n'
# One walk of /proc for every candidate (not one per candidate: with thousands of
# processes that is most of a prune's time under the lock); each candidate is then
# re-checked right before it goes, cheaply (release_jobs_since, lib.sh), and in full
# (release_jobs) when that cheap check can't tell.
jobs_scan_all "$DELETE"
_deleted=
_skipped=
_failed=
for _n in $DELETE; do
    if [ ! -e "$_n" ] && [ ! -L "$_n" ]; then
        printf 'gone\t%s\n' "$_n"
        continue
    fi
    if [ -L "$_n" ] || [ ! -d "$_n" ]; then
        printf 'kept\t%s\tnotdir\n' "$_n"
        _skipped="${_skipped:+$_skipped, }$_n (not a directory)"
        continue
    fi
    # The launcher's hold: a shared flock on the release directory (fd 8), and for
    # jobs of an older launcher that may still run, on .relman/run/<name>.lock (fd 6)
    # when it exists. Both taken exclusively, without waiting, kept until the rename.
    if ! { command exec 8<"$_n"; } 2>/dev/null || ! flock -n -x 8; then
        exec 8<&-
        printf 'kept\t%s\tlaunched\n' "$_n"
        _skipped="${_skipped:+$_skipped, }$_n (in use by a launched job)"
        continue
    fi
    _lk=.relman/run/$_n.lock
    if [ -e "$_lk" ] || [ -L "$_lk" ]; then
        if [ -L "$_lk" ] || [ ! -f "$_lk" ] || ! { command exec 6<"$_lk"; } 2>/dev/null; then
            exec 8<&-
            printf 'kept\t%s\tlaunched\n' "$_n"
            _skipped="${_skipped:+$_skipped, }$_n (its launcher lock file is unusable)"
            continue
        fi
        if ! flock -n -x 6; then
            exec 6<&- 8<&-
            printf 'kept\t%s\tlaunched\n' "$_n"
            _skipped="${_skipped:+$_skipped, }$_n (in use by a launched job)"
            continue
        fi
    fi
    release_jobs_in "$_n"
    _rc=$?
    if [ "$_rc" -eq 0 ]; then
        release_jobs_since "$_n"
        _rc=$?
        if [ "$_rc" -eq 3 ]; then
            release_jobs "$_n"
            _rc=$?
        fi
    fi
    case $_rc in
        0) ;;
        1)
            exec 6<&- 8<&-
            printf 'kept\t%s\tjobs\t%s\n' "$_n" "$(printf '%s' "$JOB_PIDS" | tr ' ' '\t')"
            _skipped="${_skipped:+$_skipped, }$_n (running job: pid $JOB_PIDS)"
            continue
            ;;
        *)
            exec 6<&- 8<&-
            printf 'kept\t%s\tjobsunknown\n' "$_n"
            _skipped="${_skipped:+$_skipped, }$_n (jobs cannot be checked)"
            continue
            ;;
    esac
    if [ "$DRY" = 1 ]; then
        exec 6<&- 8<&-
        printf 'would\t%s\n' "$_n"
        continue
    fi
    # Out of the root in one rename(2), then removed: nobody ever sees (or lists,
    # or switches to) a half-deleted release, even if this script is cut short;
    # the next prune finishes what is left in .relman/trash.
    _t=.relman/trash/$_n
    _why=
    _err=
    if ! _err=$(mkdir -p .relman/trash 2>&1) || [ -L .relman/trash ]; then
        _why=trash
    elif { [ -e "$_t" ] || [ -L "$_t" ]; } && {
        _err=$(rm -rf -- "${ROOT_ABS:?}/$_t" 2>&1 | sed -n 1p)
        [ -e "$_t" ] || [ -L "$_t" ]
    }; then
        # An earlier copy of this release in the trash that cannot be removed.
        _why=trash
    elif ! _err=$(mv -T -- "$_n" "$_t" 2>&1); then
        if [ ! -w . ]; then
            _why=root
        elif [ ! -w "$_n" ]; then
            _why=release
        else
            _why=other
        fi
    fi
    if [ -n "$_why" ]; then
        # rename(2) failed: nothing was removed. The reason is the error's last part
        # (strerror), cleaned to one plain field.
        _err=$(printf '%s\n' "$_err" | sed -n 1p)
        _err=$(printf '%s' "${_err##*: }" | tr -c 'A-Za-z0-9 ,._()-' ' ' | cut -c1-120)
        printf 'failed\t%s\tmove\t%s\t%s\t%s\n' "$_n" "$_why" "$(id -un 2>/dev/null || id -u)" "${_err:-unknown error}"
        _failed="${_failed:+$_failed, }$_n (cannot move it out of the root)"
        exec 8<&-
        continue
    fi
    # sed reads all of rm's errors (it must not stop rm with a closed pipe) and keeps
    # the first.
    _err=$(rm -rf -- "${ROOT_ABS:?}/$_t" 2>&1 | sed -n 1p)
    rm -f -- "$_lk"
    # The release is out of the root: its run ledger goes with it (launch.sh), the
    # scan's summaries of it (ledger.sh) and its kept output tails (launch --tail; a
    # symlink planted there is removed, not followed).
    rm -f -- ".relman/runs/$_n.jsonl" ".relman/runs/$_n.jsonl.old" ".relman/runs/$_n.jsonl.sum" \
        ".relman/runs/$_n.jsonl.old.sum" 2>/dev/null
    rm -rf -- ".relman/runs/$_n.tails" 2>/dev/null
    if [ -e "$_t" ] || [ -L "$_t" ]; then
        _left=$(find "$ROOT_ABS/$_t" ! -type d 2>/dev/null | wc -l | tr -d ' ')
        _err=$(printf '%s' "${_err##*: }" | tr -c 'A-Za-z0-9 ,._()-' ' ' | cut -c1-120)
        printf 'trashed\t%s\t%s\t%s\n' "$_n" "${_left:-0}" "${_err:-unknown error}"
        _failed="${_failed:+$_failed, }$_n (moved out of the root, ${_left:-0} file(s) left in .relman/trash)"
    else
        printf 'deleted\t%s\n' "$_n"
        _deleted="${_deleted:+$_deleted, }$_n"
    fi
    exec 6<&- 8<&-
done

if [ "$DRY" = 1 ]; then
    printf 'done\n'
    exit 0
fi

# Pins: the expired ones the plan named, and any whose release is gone.
_pins=0
for _id in $PINS; do
    case $_id in '' | *[!A-Za-z0-9_-]*) continue ;; esac
    _f=.relman/pins/$_id.json
    if [ -f "$_f" ] && [ ! -L "$_f" ] && rm -f -- "$_f"; then
        printf 'pin\t%s\n' "$_id.json"
        _pins=$((_pins + 1))
    fi
done
for _f in .relman/pins/*.json; do
    { [ -f "$_f" ] && [ ! -L "$_f" ]; } || continue
    case ${_f##*/} in *[!A-Za-z0-9._-]*) continue ;; esac
    _pr=$(pin_release "$_f")
    is_release "$_pr" || continue
    [ -d "$_pr" ] && continue
    if rm -f -- "$_f"; then
        printf 'pin\t%s\n' "${_f##*/}"
        _pins=$((_pins + 1))
    fi
done

# Staging: uploads that never finished. We hold the lock, so no deploy is running.
_staged=0
for _s in $STAGING; do
    is_release "$_s" || continue
    _sd=.relman/staging/$_s
    { [ -d "$_sd" ] && [ ! -L "$_sd" ]; } || continue
    rm -rf -- "${ROOT_ABS:?}/$_sd" 2>/dev/null
    if [ ! -e "$_sd" ]; then
        printf 'staging\t%s\n' "$_s"
        _staged=$((_staged + 1))
    fi
done

_note=
[ -n "$_deleted" ] && _note="deleted $_deleted"
[ -n "$_skipped" ] && _note="${_note:+$_note; }kept $_skipped"
[ -n "$_failed" ] && _note="${_note:+$_note; }could not delete $_failed"
[ "$_pins" -gt 0 ] && _note="${_note:+$_note; }removed $_pins expired pin(s)"
[ "$_staged" -gt 0 ] && _note="${_note:+$_note; }removed $_staged stale upload(s)"
if [ -n "$_note" ]; then
    hist_append "$HIST" note "$_note" || printf 'warn\thistory\n'
fi
printf 'done\n'
