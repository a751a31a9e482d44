# check.sh: what relman needs on a host, one `check <what> ok|warn|fail <detail>` per line.
# Params: ROOT LINK PREFIX.

_c() { printf 'check\t%s\t%s\t%s\n' "$1" "$2" "$3"; }
_c sh ok "$(command -v sh)"
for _t in flock sha256sum find od timeout mv ln readlink du dd stat xargs paste grep sed; do
    if command -v "$_t" >/dev/null 2>&1; then _c "$_t" ok "$(command -v "$_t")"; else _c "$_t" fail "missing"; fi
done
_d=$(mktemp -d 2>/dev/null || echo /tmp/relman-check.$$)
mkdir -p "$_d" && ln -s a "$_d/l" && ln -s b "$_d/t" && if mv -fT "$_d/t" "$_d/l" 2>/dev/null; then
    _c "mv -T" ok "atomic link switch available"
else
    _c "mv -T" fail "mv does not support -T: atomic switch impossible"
fi
rm -rf "$_d"
if [ -r /proc/self/cwd ] && [ -d /proc/1 ]; then _c /proc ok "readable"; else _c /proc fail "not readable: jobs can't be seen, prune keeps everything"; fi
# The job scan, as scan and prune run it (a scan of no release: the tools, the
# processes we may not inspect, sudo as the job users).
_jm=$(job_scan_method) || _jm=
case $_jm in
    find) _c "job scan" ok "find -lname -printf over /proc" ;;
    ls) _c "job scan" ok "ls -ld over /proc (find lacks -lname or -printf)" ;;
    *) _c "job scan" fail "neither find -lname -printf nor ls -ld shows /proc links: jobs can't be seen, prune keeps everything" ;;
esac
_js=$(ROOT_ABS=/nonexistent JOB_NAMES='' scan_jobs 2>/dev/null)
_t=$(printf '\t')
case $(printf '%s\n' "$_js" | sed -n 1p) in
    "procs$_t"*"${_t}known") ;;
    *) [ -z "$_jm" ] || _c "job scan" fail "the scan of /proc failed: jobs can't be seen, prune keeps everything" ;;
esac
_hn=0
_hu=
for _l in $(printf '%s\n' "$_js" | sed -n "s/^hidden$_t\([^$_t]*\)$_t\([0-9]*\)${_t}other\$/\1:\2/p"); do
    _u=${_l%:*}
    is_job_user "$_u" || continue
    [ "${SCAN_SUDO:-0}" = 1 ] && continue
    _hn=$((_hn + ${_l##*:}))
    _hu="${_hu:+$_hu, }$_u"
done
if [ "$_hn" -gt 0 ]; then
    _c "hidden jobs" warn "$_hn processes of other users ($_hu) can't be inspected: prune keeps every release (set job_users, or scan_sudo)"
fi
if [ "${SCAN_SUDO:-0}" = 1 ]; then
    for _u in $JOB_USERS; do
        if printf 'echo ok\n' | sudo -n -H -u "$_u" /bin/sh -s 2>/dev/null | grep -qx ok; then
            _c "sudo $_u" ok "the job scan runs as $_u"
        else
            _c "sudo $_u" fail "sudo -n -u $_u /bin/sh refused: $_u's jobs can't be seen, prune keeps every release"
        fi
    done
fi
if resolve_root; then
    if [ -w "$ROOT_ABS" ]; then _c root ok "$ROOT_ABS"; else _c root fail "$ROOT_ABS is not writable"; fi
    cd -P -- "$ROOT_ABS" || exit 1
    # Other users' jobs run .relman/bin/launch in the live release: every directory
    # on the way must let them through, the launcher and the release be readable.
    _lw=
    _p=$ROOT_ABS
    while [ -n "$_p" ]; do
        case $(stat -c %A "$_p" 2>/dev/null) in d????????[xt]) ;; *) _lw="${_lw:+$_lw, }$_p (no o+x)" ;; esac
        _p=${_p%/*}
    done
    for _p in .relman .relman/bin; do
        [ -d "$_p" ] || continue
        case $(stat -c %A "$_p" 2>/dev/null) in d????????[xt]) ;; *) _lw="${_lw:+$_lw, }$ROOT_ABS/$_p (no o+x)" ;; esac
    done
    if [ -f .relman/bin/launch ]; then
        case $(stat -c %A .relman/bin/launch 2>/dev/null) in -??????r?x) ;; *) _lw="${_lw:+$_lw, }$ROOT_ABS/.relman/bin/launch (no o+rx)" ;; esac
    fi
    if [ -d "$LINK" ]; then
        case $(stat -L -c %A "$LINK" 2>/dev/null) in d??????r?[xt]) ;; *) _lw="${_lw:+$_lw, }the live release $(readlink -- "$LINK") (no o+rx)" ;; esac
    fi
    if [ -n "$_lw" ]; then
        _c launcher warn "other users' jobs can't use the launcher: $_lw"
    fi
    if [ -L "$LINK" ]; then
        if [ -d "$LINK" ]; then _c link ok "$LINK -> $(readlink -- "$LINK")"; else _c link warn "$LINK is dangling"; fi
    elif [ -e "$LINK" ]; then
        _c link fail "$LINK is not a symlink"
    else
        _c link warn "no link yet"
    fi
    # Releases a prune moved out of the root but could not remove (another user's files).
    _tn=0
    for _e in .relman/trash/* .relman/trash/.[!.]* .relman/trash/..?*; do
        [ -e "$_e" ] || [ -L "$_e" ] && _tn=$((_tn + 1))
    done
    if [ ! -L .relman/trash ] && [ "$_tn" -gt 0 ]; then
        _c trash warn "$_tn release(s) pruned but not removed, $(find .relman/trash ! -type d 2>/dev/null | wc -l | tr -d ' ') file(s) left in $ROOT_ABS/.relman/trash (not removable by $(id -un)): remove them as their owner or root"
    fi
else
    _c root warn "$ROOT does not exist yet (created on first deploy)"
fi
