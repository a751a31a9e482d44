# relman shared shell functions (POSIX sh). Prepended to every script after its
# parameters (ROOT, LINK, PREFIX, ...), which relman always passes shell-quoted.
# Nothing here prints a name that has not passed is_release, so the output stays
# one record per line whatever the host's directory holds.

LC_ALL=C
export LC_ALL
cd || exit 97

# is_release NAME: true when NAME is PREFIX + 14 digits [+ .N]. Rust re-validates.
is_release() {
    case $1 in "$PREFIX"*) ;; *) return 1 ;; esac
    _r=${1#"$PREFIX"}
    _d='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
    # shellcheck disable=SC2254
    case $_r in
        $_d) return 0 ;;
        $_d.[1-9]*)
            case ${_r#*.} in *[!0-9]*) return 1 ;; esac
            return 0 ;;
    esac
    return 1
}

# hex: stdin as lowercase hex on one line (for bytes that may hold anything).
hex() {
    od -An -v -tx1 | tr -d ' \n'
}

# glob_escape STRING: STRING with glob characters escaped, for find -lname.
glob_escape() {
    printf '%s' "$1" | sed 's/[][*?\\]/\\&/g'
}

# resolve_root: sets ROOT_ABS to the root's symlink-free absolute path, or fails.
resolve_root() {
    ROOT_ABS=$(cd -P -- "$ROOT" 2>/dev/null && pwd -P) || return 1
    [ -n "$ROOT_ABS" ]
}

# scan_jobs: for the releases named in JOB_NAMES (space-separated) of ROOT_ABS, prints
#   procs <inspected> <hidden> known|unknown
#   job <release> <proc path>          (cwd, exe or an open fd inside the release)
#   jobarg <release> <pid>             (a command-line argument names the release)
# then `jobinfo` for every pid found. `unknown` means /proc or find can't be used:
# callers must then treat every release as possibly in use.
scan_jobs() {
    _seen=0
    _hidden=0
    for _p in /proc/[0-9]*; do
        _pid=${_p#/proc/}
        { IFS= read -r _st <"$_p/stat"; } 2>/dev/null || continue
        _st=${_st##*) }
        # shellcheck disable=SC2086
        set -- $_st
        # kernel threads (children of kthreadd) and zombies are never jobs
        [ "$_pid" = 2 ] || [ "${2:-}" = 2 ] || [ "${1:-}" = Z ] && continue
        if [ -e "$_p/cwd" ]; then _seen=$((_seen + 1)); else _hidden=$((_hidden + 1)); fi
    done
    if [ "$_seen" -eq 0 ] || ! find /proc/self -maxdepth 0 -lname '*' >/dev/null 2>&1; then
        printf 'procs\t%s\t%s\tunknown\n' "$_seen" "$_hidden"
        return 0
    fi
    printf 'procs\t%s\t%s\tknown\n' "$_seen" "$_hidden"
    _abs=$(glob_escape "$ROOT_ABS")
    _names=$JOB_NAMES
    set --
    for _n in $_names; do
        [ $# -gt 0 ] && set -- "$@" -o
        set -- "$@" '(' -lname "$_abs/$_n" -o -lname "$_abs/$_n/*" ')' -printf "job\t$_n\t%p\n"
    done
    [ $# -gt 0 ] || return 0
    _out=$(find /proc/[0-9]*/cwd /proc/[0-9]*/exe /proc/[0-9]*/fd/ -maxdepth 1 '(' "$@" ')' 2>/dev/null)
    [ -n "$_out" ] && printf '%s\n' "$_out"
    # Command lines: one grep over every process; the pattern brackets the first
    # character of the prefix so grep's own argv does not match itself.
    _pids=$(printf '%s\n' "$_out" | sed -n 's|.*/proc/\([0-9]*\)/.*|\1|p')
    for _c in $(grep -l -a -e "$PREFIX_RE" /proc/[0-9]*/cmdline 2>/dev/null); do
        _pid=${_c#/proc/}
        _pid=${_pid%/cmdline}
        printf 'jobarg\t%s\n' "$_pid"
        _pids="$_pids $_pid"
    done
    for _pid in $(printf '%s\n' $_pids | sort -u); do
        { IFS= read -r _st <"/proc/$_pid/stat"; } 2>/dev/null || continue
        _st=${_st##*) }
        # shellcheck disable=SC2086
        set -- $_st
        shift 19
        _user=$(stat -c %U "/proc/$_pid" 2>/dev/null) || _user=?
        _cmd=$(hex <"/proc/$_pid/cmdline" 2>/dev/null)
        printf 'jobinfo\t%s\t%s\t%s\t%s\n' "$_pid" "$_user" "${1:-0}" "$_cmd"
    done
    _btime=
    while read -r _k _v; do [ "$_k" = btime ] && _btime=$_v; done </proc/stat
    printf 'clock\t%s\t%s\n' "$(getconf CLK_TCK 2>/dev/null || echo 100)" "${_btime:-0}"
}

# check_token: stop (exit 4) unless .relman/lock names this operation's token: a
# mutating script never runs without the lock its operation took.
check_token() {
    grep -qF "\"token\":\"$TOKEN\"" .relman/lock 2>/dev/null || {
        echo "the host lock was lost (held by another operation now?)" >&2
        exit 4
    }
}

# current_release: sets CUR to the release the link points at ("" if none) and
# fails (exit 5) if the link is a real directory or file.
current_release() {
    CUR=
    if [ -L "$LINK" ]; then
        _real=$(cd -P -- "$LINK" 2>/dev/null && pwd -P) || _real=
        if [ -n "$_real" ] && [ "${_real%/*}" = "$ROOT_ABS" ] && is_release "${_real##*/}"; then
            CUR=${_real##*/}
        fi
    elif [ -e "$LINK" ]; then
        echo "$LINK in $ROOT_ABS is not a symlink: refusing to replace it" >&2
        exit 5
    fi
}

# switch_link NAME: atomically point LINK at NAME (relative target). A temporary
# link in the same directory is renamed over LINK; never unlink-then-create.
switch_link() {
    _tmp=".relman-link.$$"
    rm -f -- "$_tmp"
    ln -s -- "$1" "$_tmp" || { echo "cannot create a symlink in $ROOT_ABS" >&2; return 1; }
    if ! mv -fT -- "$_tmp" "$LINK" 2>/dev/null; then
        rm -f -- "$_tmp"
        echo "mv -T failed (the host's mv must support -T for an atomic switch)" >&2
        return 1
    fi
    [ "$(readlink -- "$LINK")" = "$1" ] || { echo "the link does not read back as $1" >&2; return 1; }
}
