# relman shared shell functions (POSIX sh). Prepended to every script after its
# parameters (ROOT, LINK, PREFIX, ...), which relman always passes shell-quoted.
# Nothing here prints a name that has not passed is_release, so the output stays
# one record per line whatever the host's directory holds.

LC_ALL=C
export LC_ALL
# Whatever the deploy user's umask: what relman creates is readable by the users
# whose jobs run the releases (a umask 077 root would lock them out of launch).
umask 022
# Marks relman's own processes: every program a script runs inherits it, so the job
# scan never counts a concurrent relman scan (its find, du, grep...) as a job. The
# launcher removes it before it starts a job.
RELMAN_SELF=relman-own-process
export RELMAN_SELF
cd || exit 97

# is_release NAME: true when NAME is a release name, exactly as ReleaseName::parse
# (model.rs) says: PREFIX + YYYYMMDDHHMMSS, a real UTC time of years 1970-9999 (days
# the month has, leap years, hours 00-23, minutes and seconds 00-59), optionally
# .N with N a positive integer of at most 9 digits and no leading zero. No fork;
# its variables are its own (_ir_*), so callers' _n, _s... are left alone.
is_release() {
    case $1 in "$PREFIX"*) ;; *) return 1 ;; esac
    _ir_r=${1#"$PREFIX"}
    _ir_s=${_ir_r%%.*}
    _ir_n=${_ir_r#"$_ir_s"}
    case $_ir_s in '' | *[!0-9]*) return 1 ;; esac
    [ "${#_ir_s}" -eq 14 ] || return 1
    case $_ir_n in
        '') ;;
        .[1-9]*)
            _ir_n=${_ir_n#.}
            case $_ir_n in *[!0-9]*) return 1 ;; esac
            [ "${#_ir_n}" -le 9 ] || return 1
            ;;
        *) return 1 ;;
    esac
    # YYYY MM DD hh mm ss, cut from the left without a fork.
    _ir_y=${_ir_s%??????????}
    _ir_t=${_ir_s#????}
    _ir_mo=${_ir_t%????????}
    _ir_t=${_ir_t#??}
    _ir_d=${_ir_t%??????}
    _ir_t=${_ir_t#??}
    case $_ir_y in 19[7-9]? | [2-9]???) ;; *) return 1 ;; esac
    case $_ir_mo in 0[1-9] | 1[0-2]) ;; *) return 1 ;; esac
    case $_ir_d in 0[1-9] | [12][0-9] | 3[01]) ;; *) return 1 ;; esac
    case $_ir_mo$_ir_d in 0230 | 0231 | 0431 | 0631 | 0931 | 1131) return 1 ;; esac
    # Feb 29 only in leap years (the year has no leading zero: not octal).
    if [ "$_ir_mo$_ir_d" = 0229 ]; then
        [ $((_ir_y % 4)) -eq 0 ] || return 1
        [ $((_ir_y % 100)) -ne 0 ] || [ $((_ir_y % 400)) -eq 0 ] || return 1
    fi
    case $_ir_t in [01][0-9][0-5][0-9][0-5][0-9] | 2[0-3][0-5][0-9][0-5][0-9]) return 0 ;; esac
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

# job_scan_method: how this host's processes' cwd/exe/fd links can be read, probed
# on the links of the probe itself (its cwd is ours): `find` (GNU find with
# -lname and -printf: filters in one process), `ls` (any `ls -ld` that shows a
# link's target, e.g. busybox's), or nothing (prints nothing, fails).
job_scan_method() {
    _jw=$(pwd -P)
    _jp=$(find /proc/self/cwd -maxdepth 0 -lname '/*' -printf '%l\n' 2>/dev/null) &&
        [ "$_jp" = "$_jw" ] && { echo find; return 0; }
    _jp=$(ls -ld /proc/self/cwd 2>/dev/null) && [ "${_jp##* -> }" = "$_jw" ] &&
        { echo ls; return 0; }
    return 1
}

# proc_errors: reads a tool's stderr from a walk over /proc and prints `err <line>`
# for every line that is not a process vanishing or one we may not inspect (both
# expected: `exp`, which is what a status of 1 must be explained by); anything else
# means the walk can't be trusted.
proc_errors() {
    sed -e '/\/proc\/[0-9][0-9]*\/.*Permission denied$/{s/.*/exp/;b' -e '}' \
        -e '/\/proc\/[0-9][0-9]*\/.*No such file or directory$/{s/.*/exp/;b' -e '}' \
        -e "s/^/err$_t/"
}

# proc_links: every cwd, exe and open-file link of every process that points inside
# ROOT_ABS, as `/proc/<pid>/<what> <target>` lines, then `rc <status>`; `err ...`
# lines for unexpected errors. No release name is in any argv (the pattern is the
# root's): a concurrent scan's find or ls is not a process "naming a release".
proc_links() {
    if [ "$1" = find ]; then
        { {
            find /proc/[0-9]*/cwd /proc/[0-9]*/exe /proc/[0-9]*/fd/ -maxdepth 1 \
                -lname "$(glob_escape "$ROOT_ABS")/*" -printf "%p$_t%l\n" 2>&1 1>&3 3>&-
            printf 'rc\t%s\n' "$?" >&3
        } | proc_errors; } 3>&1
    else
        # One ls over every link (the shell expands the fd globs: no fork per fd).
        { {
            ls -ld /proc/[0-9]*/cwd /proc/[0-9]*/exe /proc/[0-9]*/fd/* 2>&1 1>&3 3>&-
            _lr=$?
            [ "$_lr" -eq 2 ] && _lr=1 # GNU ls: 2 when an argument could not be read
            printf 'rc\t%s\n' "$_lr" >&3
        } | proc_errors; } 3>&1 |
            sed -n -e "s|^[^/]* \(/proc/[0-9][0-9]*/[a-z0-9/]*\) -> |\1$_t|p" \
                -e "/^rc$_t/p" -e "/^exp\$/p" -e "/err$_t/p"
    fi
}

# is_job_user USER: USER's processes may use releases (JOB_USERS, `*` for anyone).
is_job_user() {
    [ "$JOB_USERS" = '*' ] && return 0
    case " $JOB_USERS " in *" $1 "*) return 0 ;; esac
    return 1
}

# sh_quote STRING: STRING in single quotes, for a script relman writes itself.
sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# scan_jobs: for the releases named in JOB_NAMES (space-separated) of ROOT_ABS, prints
#   procs <inspected> <hidden> known|unknown
#   hidden <user> <count> self|other   (processes this user may not inspect, by owner)
#   sudo <user> ok|refused|unknown     (SCAN_SUDO=1: the scan run as a job user)
#   job <release> <proc path>          (cwd, exe or an open fd inside the release)
#   jobarg <pid>                       (a command-line argument may name a release)
# then `jobinfo` for every pid found, and `clock`. `unknown` means /proc or the tools
# can't be used: callers must then treat every release as possibly in use. relman's
# own processes (this shell, and whatever carries RELMAN_SELF) are never jobs.
scan_jobs() {
    _t=$(printf '\t')
    _nl='
'
    _seen=0
    _hidden=0
    _hp=
    # Every process but kernel threads (kthreadd, pid 2, and its children) and
    # zombies: one sed over every stat file (`read` in dash costs a syscall per
    # byte: 150 us a process). comm may hold ") "; the greedy match ends at the last.
    # shellcheck disable=SC2013 # pids: no blanks
    for _pid in $(sed -n -e 's/^\([0-9][0-9]*\) (.*) [^Z ] \([0-9][0-9]*\) .*/\1 \2/' \
        -e '/^2 /d' -e '/ 2$/d' -e '/^[0-9][0-9]* [0-9][0-9]*$/s/ .*//p' \
        /proc/[0-9]*/stat 2>/dev/null); do
        if [ -e "/proc/$_pid/cwd" ]; then
            _seen=$((_seen + 1))
        elif [ -e "/proc/$_pid" ]; then # (not gone meanwhile)
            _hidden=$((_hidden + 1))
            _hp="$_hp /proc/$_pid"
        fi
    done
    # Hidden, or exiting (its cwd already released before it is a zombie): those
    # still there, not zombies and not exiting (PF_EXITING, 0x4, in stat's 9th
    # field, flags) whose cwd still can't be read are hidden (one sed over their
    # stat files). An exiting process counted as hidden would keep every release
    # from prune on a busy host.
    if [ -n "$_hp" ]; then
        _hs=
        for _f in $_hp; do _hs="$_hs $_f/stat"; done
        # shellcheck disable=SC2086
        _hl=$(sed -n 's|^\([0-9][0-9]*\) (.*) [^ZX ] [-0-9]* [-0-9]* [-0-9]* [-0-9]* [-0-9]* \([0-9][0-9]*\) .*|\1 \2|p' \
            $_hs 2>/dev/null)
        _hp=
        _hidden=0
        # shellcheck disable=SC2086 # "pid flags" pairs
        set -- $_hl
        while [ $# -ge 2 ]; do
            if [ $(($2 & 4)) -eq 0 ] && [ ! -e "/proc/$1/cwd" ]; then
                _hp="$_hp /proc/$1"
                _hidden=$((_hidden + 1))
            fi
            shift 2
        done
    fi
    _state=known
    _how=
    if [ "$_seen" -eq 0 ] || ! _how=$(job_scan_method); then
        _state=unknown
    fi
    _links=
    if [ "$_state" = known ] && [ -n "${JOB_NAMES# }" ]; then
        _links=$(proc_links "$_how")
        case $_links in *"err$_t"*) _state=unknown ;; esac
        # find/ls exit 1 when some links could not be read: only if it said so.
        case "$_nl$_links$_nl" in
            *"${_nl}rc${_t}0$_nl"*) ;;
            *"${_nl}rc${_t}1$_nl"*)
                case "$_nl$_links$_nl" in *"${_nl}exp$_nl"*) ;; *) _state=unknown ;; esac
                ;;
            *) _state=unknown ;;
        esac
    fi
    printf 'procs\t%s\t%s\t%s\n' "$_seen" "$_hidden" "$_state"
    _me=$(id -un 2>/dev/null) || _me=
    _hid=
    if [ -n "$_hp" ]; then
        # shellcheck disable=SC2086
        _hid=$(stat -c %U $_hp 2>/dev/null | sort | uniq -c | while read -r _c _u; do
            _w=other
            [ "$_u" = "$_me" ] && _w=self
            printf 'hidden\t%s\t%s\t%s\n' "$_u" "$_c" "$_w"
        done)
        [ -n "$_hid" ] && printf '%s\n' "$_hid"
    fi
    [ "$_state" = known ] || return 0
    _jobs=$(printf '%s\n' "$_links" | while IFS= read -r _l; do
        case $_l in /proc/*"$_t"*) ;; *) continue ;; esac
        _p=${_l%%"$_t"*}
        _g=${_l#*"$_t"}
        _r=${_g#"$ROOT_ABS"/}
        [ "$_r" != "$_g" ] || continue
        _n=${_r%%/*}
        is_release "$_n" || continue
        case " $JOB_NAMES " in *" $_n "*) printf 'job\t%s\t%s\n' "$_n" "$_p" ;; esac
    done)
    # Command lines: one grep over every process; the pattern brackets the first
    # character of the prefix so grep's own argv does not match itself.
    _args=
    if [ -n "${JOB_NAMES# }" ]; then
        # shellcheck disable=SC2013 # /proc paths: no blanks
        for _c in $(grep -l -a -e "$PREFIX_RE" /proc/[0-9]*/cmdline 2>/dev/null); do
            _pid=${_c#/proc/}
            _args="$_args ${_pid%/cmdline}"
        done
    fi
    # The job users' processes, seen through `sudo -n -u USER sh` (SCAN_SUDO=1): one
    # run per user who has processes hidden from us.
    _sudo=
    if [ "${SCAN_SUDO:-0}" = 1 ] && [ -n "$_hid" ]; then
        for _u in $JOB_USERS; do
            [ "$_u" != "$_me" ] || continue
            case "$_nl$_hid" in *"${_nl}hidden$_t$_u$_t"*) ;; *) continue ;; esac
            _so=$({
                printf 'ROOT_ABS=%s\nJOB_NAMES=%s\n' "$(sh_quote "$ROOT_ABS")" "$(sh_quote "$JOB_NAMES")"
                printf '%s\n' "$SUDO_SCRIPT"
            } | sudo -n -H -u "$_u" /bin/sh -s 2>/dev/null)
            _sr=$?
            if [ "$_sr" -ne 0 ] && [ -z "$_so" ]; then
                _sudo="${_sudo}sudo$_t$_u${_t}refused$_nl"
                continue
            fi
            case "$_nl$_so" in
                *"${_nl}procs$_t"*"${_t}known$_nl"*"${_nl}end") ;;
                *)
                    _sudo="${_sudo}sudo$_t$_u${_t}unknown$_nl"
                    continue
                    ;;
            esac
            _sudo="${_sudo}sudo$_t$_u${_t}ok$_nl"
            _jobs="$_jobs$_nl$(printf '%s\n' "$_so" | sed -n -e "/^job$_t/p")"
            for _pid in $(printf '%s\n' "$_so" | sed -n "s/^jobarg$_t\([0-9][0-9]*\)\$/\1/p"); do
                _args="$_args $_pid"
            done
        done
    fi
    [ -n "$_sudo" ] && printf '%s' "$_sudo"
    # relman's own processes: this shell (its fds may hold a release: prune's lock),
    # and every process whose environment carries the marker (one grep).
    _pids=$(printf '%s\n' "$_jobs" | sed -n 's|.*/proc/\([0-9]*\)/.*|\1|p')
    _own=" $$ "
    _ef=
    for _pid in $_pids $_args; do _ef="$_ef /proc/$_pid/environ"; done
    if [ -n "$_ef" ]; then
        # shellcheck disable=SC2086
        # shellcheck disable=SC2013 # /proc paths: no blanks
        for _f in $(grep -l -a -F -e "RELMAN_SELF=$RELMAN_SELF" $_ef 2>/dev/null); do
            _f=${_f#/proc/}
            _own="$_own${_f%/environ} "
        done
    fi
    _keep=
    printf '%s\n' "$_jobs" | while IFS= read -r _l; do
        case $_l in job"$_t"*) ;; *) continue ;; esac
        _pid=${_l##*/proc/}
        case $_own in *" ${_pid%%/*} "*) continue ;; esac
        printf '%s\n' "$_l"
    done
    for _pid in $_args; do
        case $_own in *" $_pid "*) continue ;; esac
        case $_keep in *" $_pid "*) continue ;; esac
        printf 'jobarg\t%s\n' "$_pid"
        _keep="$_keep $_pid "
    done
    # shellcheck disable=SC2086
    for _pid in $(printf '%s\n' $_pids $_args | sort -u); do
        case $_own in *" $_pid "*) continue ;; esac
        { IFS= read -r _st <"/proc/$_pid/stat"; } 2>/dev/null || continue
        _st=${_st##*) }
        # shellcheck disable=SC2086
        set -- $_st
        shift 19
        _user=$(stat -c %U "/proc/$_pid" 2>/dev/null) || _user='?'
        _cmd=$(hex <"/proc/$_pid/cmdline" 2>/dev/null)
        printf 'jobinfo\t%s\t%s\t%s\t%s\n' "$_pid" "$_user" "${1:-0}" "$_cmd"
    done
    _btime=
    while read -r _k _v; do [ "$_k" = btime ] && _btime=$_v; done </proc/stat
    printf 'clock\t%s\t%s\n' "$(getconf CLK_TCK 2>/dev/null || echo 100)" "${_btime:-0}"
}

# check_token: stop (exit 4) unless .relman/lock names this operation's token: a
# mutating script never runs without the lock its operation took. First takes
# .relman/lock.ops shared for the rest of the script (fd 7, inherited by what it
# runs): a command outlives its SSH session, so if relman dies now the script may
# go on, and the next operation's lock.sh waits for it before taking over.
check_token() {
    if ! { { command exec 7>>.relman/lock.ops; } 2>/dev/null && flock -s -w 60 7; }; then
        echo "cannot take $ROOT_ABS/.relman/lock.ops" >&2
        exit 4
    fi
    grep -qF "\"token\":\"$TOKEN\"" .relman/lock 2>/dev/null || {
        echo "the host lock was lost (held by another operation now?)" >&2
        exit 4
    }
}

# json_str VALUE: sets JSON_STR to VALUE as a JSON string: `"` and `\` escaped,
# control characters as \n, \t, \r or \u00XX. No fork unless VALUE holds a control
# character. Its variables are its own (_js_*).
json_str() {
    _js_r=$1
    case $_js_r in
        *[\\\"[:cntrl:]]*) ;;
        *)
            JSON_STR="\"$_js_r\""
            return 0
            ;;
    esac
    _js_o=
    while [ -n "$_js_r" ]; do
        _js_t=${_js_r#?}
        _js_c=${_js_r%"$_js_t"}
        _js_r=$_js_t
        case $_js_c in
            \\ | \") _js_o="$_js_o\\$_js_c" ;;
            [[:cntrl:]])
                case $(printf '%d' "'$_js_c") in
                    9) _js_o="$_js_o\\t" ;;
                    10) _js_o="$_js_o\\n" ;;
                    13) _js_o="$_js_o\\r" ;;
                    *) _js_o="$_js_o$(printf '\\u%04x' "'$_js_c")" ;;
                esac
                ;;
            *) _js_o="$_js_o$_js_c" ;;
        esac
    done
    JSON_STR="\"$_js_o\""
}

# hist_append LINE [FIELD VALUE]: appends LINE, one history object relman built
# (ops/history.rs), to .relman/history.jsonl — with FIELD, the field relman left
# null for the host to fill, set to VALUE as a JSON string (kept null when VALUE is
# empty). The only way a script writes history. Fails, appending nothing, when LINE
# has no null FIELD; fails when the file cannot be written.
hist_append() {
    _ha_line=$1
    if [ "$#" -ge 2 ]; then
        _ha_key="\"$2\":null"
        _ha_head=${1%%"$_ha_key"*}
        if [ "$_ha_head" = "$1" ]; then
            echo "history line without a null $2" >&2
            return 1
        fi
        if [ -n "${3-}" ]; then json_str "$3"; else JSON_STR=null; fi
        _ha_line="$_ha_head\"$2\":$JSON_STR${1#*"$_ha_key"}"
    fi
    printf '%s\n' "$_ha_line" >>.relman/history.jsonl
}

# current_release: sets CUR to the release the link points at ("" if none) and
# fails (exit 5) if the link is a real directory or file.
current_release() {
    CUR=
    if [ -L "$LINK" ]; then
        _real=$(cd -P -- "$LINK" 2>/dev/null && pwd -P) || _real=
        if [ -n "$_real" ] && [ "${_real%/*}" = "$ROOT_ABS" ] && is_release "${_real##*/}"; then
            # shellcheck disable=SC2034 # CUR is read by the script lib.sh is prepended to
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
    if ! _mverr=$(mv -fT -- "$_tmp" "$LINK" 2>&1); then
        # busybox mv stats the destination and fails (ELOOP) on a link that leads
        # nowhere (e.g. to itself). Such a link names no release, so no job can
        # be using it: replacing it in two steps loses nothing.
        if [ -L "$LINK" ] && [ ! -e "$LINK" ] && rm -f -- "$LINK" &&
            _mverr=$(mv -f -- "$_tmp" "$LINK" 2>&1); then
            :
        else
            rm -f -- "$_tmp"
            _mverr=$(printf '%s' "$_mverr" | tr -d '\000-\037')
            echo "cannot rename the new link over $LINK: ${_mverr:-mv failed} (the host's mv must support -T for an atomic switch)" >&2
            return 1
        fi
    fi
    [ "$(readlink -- "$LINK")" = "$1" ] || { echo "the link does not read back as $1" >&2; return 1; }
}

# ---- prune, pins and the job launcher (ops/prune.rs, ops/pin.rs, ops/launcher.rs) ----

# ensure_launcher: (re)writes .relman/bin/launch (cwd: the root) from $LAUNCHER when
# it differs. Written beside and renamed over, so a job starting meanwhile reads
# the old or the new launcher, whole. No LAUNCHER param: nothing to do.
# Every user whose job may run a release must reach and run it: .relman and
# .relman/bin (relman's own) get a+rx added, the launcher is 0755, whatever the
# umask they were made under (an earlier relman under umask 077 made them 0700).
ensure_launcher() {
    [ -n "${LAUNCHER:-}" ] || return 0
    _lf=.relman/bin/launch
    mkdir -p .relman/bin 2>/dev/null
    for _d in .relman .relman/bin; do
        [ -d "$_d" ] && [ ! -L "$_d" ] && chmod a+rx "$_d" 2>/dev/null
    done
    # The run ledger's directory, made here because a job user usually may not
    # write .relman: sticky and world-writable (as /tmp), so every job user's
    # launcher can record its runs and none can remove another's files.
    [ -d .relman/runs ] || mkdir -m 1777 .relman/runs 2>/dev/null
    if [ -f "$_lf" ] && [ ! -L "$_lf" ] && [ -x "$_lf" ] &&
        [ "$(cat -- "$_lf" 2>/dev/null)" = "$(printf '%s' "$LAUNCHER")" ]; then
        chmod 755 "$_lf" 2>/dev/null
        ensure_launcher_probe
        return 0
    fi
    # A new launcher: probe again (the host's coreutils may have changed since).
    rm -f -- .relman/bin/env-default-signal 2>/dev/null
    ensure_launcher_probe
    if [ -d "$_lf" ] && [ ! -L "$_lf" ]; then
        echo "$ROOT_ABS/$_lf is a directory: cannot install the job launcher" >&2
        return 1
    fi
    _lt=.relman/bin/.launch.$$
    if printf '%s' "$LAUNCHER" >"$_lt" && chmod 755 "$_lt" && mv -f -- "$_lt" "$_lf"; then
        return 0
    fi
    rm -f -- "$_lt"
    echo "cannot write the job launcher $ROOT_ABS/$_lf" >&2
    return 1
}

# ensure_launcher_probe: records in .relman/bin/env-default-signal (0644) whether
# this host's env has --default-signal: "yes <its absolute path>" or "no", so the
# launcher reads the answer with `read` instead of probing (2 execs) on every job.
# Probed only when no answer is recorded; nothing recorded when env's path is not
# absolute, and a failure to record is no error: the launcher then probes itself.
ensure_launcher_probe() {
    _ls=.relman/bin/env-default-signal
    _lv=
    _le=
    { read -r _lv _le <"$_ls"; } 2>/dev/null
    case $_lv:$_le in no: | yes:/*) return 0 ;; esac
    if env --default-signal=INT true 2>/dev/null; then
        _le=$(command -v env 2>/dev/null) || _le=
        case $_le in /*) _lv="yes $_le" ;; *) return 0 ;; esac
    else
        _lv=no
    fi
    _lp=.relman/bin/.env-default-signal.$$
    if { printf '%s\n' "$_lv" >"$_lp" && chmod 644 "$_lp" && mv -f -- "$_lp" "$_ls"; } 2>/dev/null; then
        return 0
    fi
    rm -f -- "$_lp" 2>/dev/null
    return 0
}

# rfc3339_utc EPOCH: prints EPOCH as YYYY-MM-DDTHH:MM:SSZ with shell arithmetic only
# (busybox and GNU date disagree on how to format a given time).
rfc3339_utc() {
    _days=$(($1 / 86400))
    _secs=$(($1 % 86400))
    _z=$((_days + 719468))
    _era=$((_z / 146097))
    _doe=$((_z - _era * 146097))
    _yoe=$(((_doe - _doe / 1460 + _doe / 36524 - _doe / 146096) / 365))
    _doy=$((_doe - (365 * _yoe + _yoe / 4 - _yoe / 100)))
    _mp=$(((5 * _doy + 2) / 153))
    _d=$((_doy - (153 * _mp + 2) / 5 + 1))
    if [ "$_mp" -lt 10 ]; then _m=$((_mp + 3)); else _m=$((_mp - 9)); fi
    _y=$((_yoe + _era * 400))
    [ "$_m" -le 2 ] && _y=$((_y + 1))
    printf '%04d-%02d-%02dT%02d:%02d:%02dZ\n' "$_y" "$_m" "$_d" \
        $((_secs / 3600)) $((_secs % 3600 / 60)) $((_secs % 60))
}

# write_pin NAME: pins release NAME for PIN_SECS seconds of the host's clock, in
# .relman/pins/$PIN_ID.json (written beside, then renamed: never half a file).
# PIN_BY and PIN_REASON arrive JSON-encoded. Prints `PINNED <id> <created> <expires>`.
write_pin() {
    case $PIN_ID in '' | *[!0-9a-f]*) echo "bad pin id" >&2; return 1 ;; esac
    case $PIN_SECS in '' | *[!0-9]*) echo "bad pin duration" >&2; return 1 ;; esac
    _now=$(date -u +%s) || return 1
    case $_now in '' | *[!0-9]*) echo "the host's date cannot tell the time" >&2; return 1 ;; esac
    _c=$(rfc3339_utc "$_now")
    _e=$(rfc3339_utc $((_now + PIN_SECS)))
    mkdir -p .relman/pins || return 1
    _pt=.relman/pins/.$PIN_ID.tmp
    if printf '{"id":"%s","release":"%s","by":%s,"created_at":"%s","expires_at":"%s","reason":%s}\n' \
        "$PIN_ID" "$1" "$PIN_BY" "$_c" "$_e" "$PIN_REASON" >"$_pt" &&
        mv -f -- "$_pt" ".relman/pins/$PIN_ID.json"; then
        printf 'PINNED\t%s\t%s\t%s\n' "$PIN_ID" "$_c" "$_e"
        return 0
    fi
    rm -f -- "$_pt"
    echo "cannot write a pin file in $ROOT_ABS/.relman/pins" >&2
    return 1
}

# pin_release FILE: the release a pin file names ("" if it can't be read).
pin_release() {
    sed -n 's/.*"release"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1
}

# arg_names ARG NEEDLE: ARG holds NEEDLE followed by its end or by a character that
# can't continue a release name (so batch_1 is not found in batch_10 or batch_1.2).
arg_names() {
    _a=$1
    while :; do
        case $_a in *"$2"*) ;; *) return 1 ;; esac
        _a=${_a#*"$2"}
        case $_a in '' | [!0-9.]*) return 0 ;; esac
    done
}

# cmdline_names PID NAME: an argument of process PID names release NAME by path.
cmdline_names() {
    (
        tr '\000' '\n' 2>/dev/null <"/proc/$1/cmdline" | {
            while IFS= read -r _arg; do
                arg_names "$_arg" "$ROOT_ABS/$2" && exit 0
                [ "${ROOT%/}" != "$ROOT_ABS" ] && arg_names "$_arg" "${ROOT%/}/$2" && exit 0
            done
            exit 1
        }
    )
}

# release_jobs NAME: looks, now, for processes using release NAME of ROOT_ABS (cwd,
# exe or an open file inside it, or an argument naming it). Sets JOB_PIDS (space-
# separated). Returns 0 when there are none, 1 when there are, 2 when they can't be
# determined: the host's processes can't be inspected, or processes of a job user
# (JOB_USERS) are hidden from us and no `sudo` scan saw them (the rule plan::prune
# applies to the scan, applied again here). The caller must then treat NAME as in use.
# The caller's fds 6 and 8 (prune's holds on the release) are not the scan's.
release_jobs() {
    # (closed by exec: a redirection on the call would leave dash's saved copies
    # of them open in every subshell of the scan)
    _rj=$(
        exec 6<&- 8<&-
        JOB_NAMES=$1 scan_jobs 2>/dev/null
    ) || { JOB_PIDS=; return 2; }
    jobs_verdict "$_rj" "$1"
}

# jobs_verdict SCAN NAME: the verdict on NAME from scan_jobs' output SCAN (0 none, 1
# jobs in JOB_PIDS, 2 cannot be determined: the walk was not complete, or a job user
# has hidden processes no working sudo scan saw). The one rule for release_jobs and
# release_jobs_in.
jobs_verdict() {
    JOB_PIDS=
    _rt=$(printf '\t')
    _rn='
'
    case $(printf '%s\n' "$1" | sed -n 1p) in
        "procs$_rt"*"${_rt}known") ;;
        *) return 2 ;;
    esac
    for _u in $(printf '%s\n' "$1" | sed -n "s/^hidden${_rt}\([^$_rt]*\)${_rt}[0-9]*${_rt}other\$/\1/p"); do
        is_job_user "$_u" || continue
        case "$_rn$1$_rn" in *"${_rn}sudo$_rt$_u${_rt}ok$_rn"*) ;; *) return 2 ;; esac
    done
    for _pid in $(printf '%s\n' "$1" |
        sed -n "s|^job${_rt}$2${_rt}/proc/\([0-9][0-9]*\)/.*|\1|p"); do
        JOB_PIDS="$JOB_PIDS $_pid"
    done
    for _pid in $(printf '%s\n' "$1" | sed -n "s/^jobarg$_rt\([0-9][0-9]*\)\$/\1/p"); do
        cmdline_names "$_pid" "$2" && JOB_PIDS="$JOB_PIDS $_pid"
    done
    # shellcheck disable=SC2086 # pids: split on purpose
    JOB_PIDS=$(printf '%s\n' $JOB_PIDS | sort -nu | tr '\n' ' ')
    JOB_PIDS=${JOB_PIDS% }
    [ -z "$JOB_PIDS" ]
}

# Prune's two-step job check (issue 17): one scan of /proc for every candidate, then
# per candidate a cheap re-check of only what could have started using it since.
#
# jobs_scan_all NAMES: the processes now (JOBS_BASE, pids, one a line, taken first:
# a process started during the scan counts as new), then one scan_jobs over NAMES
# (space-separated) into JOBS_ALL, with the caller's fds 6 and 8 closed as in
# release_jobs.
jobs_scan_all() {
    JOBS_BASE=$(printf '%s\n' /proc/[0-9]*)
    JOBS_ALL=$(
        exec 6<&- 8<&-
        JOB_NAMES=$1 scan_jobs 2>/dev/null
    ) || JOBS_ALL=
}

# release_jobs_in NAME: release_jobs' verdict on NAME from JOBS_ALL (0 none, 1 jobs
# in JOB_PIDS, 2 cannot be determined), by the same rules.
release_jobs_in() {
    jobs_verdict "$JOBS_ALL" "$1"
}

# release_jobs_since NAME: right before NAME goes, what may have started using it
# since jobs_scan_all: the cwd and exe of every process (two links each), and the
# open files and argv of the processes that are new since JOBS_BASE — not every fd
# of every process again. 0: nothing; 1: jobs, in JOB_PIDS; 3: this cheap check
# can't tell (the /proc walk failed, or a new process is hidden from us): the
# caller then runs the full release_jobs NAME. relman's own processes (this shell,
# and whatever carries RELMAN_SELF) are never jobs. The caller's fds 6 and 8 are
# closed for the walk.
release_jobs_since() {
    JOB_PIDS=
    _rt=$(printf '\t')
    _new=$({
        printf '%s\n' "$JOBS_BASE"
        echo --
        printf '%s\n' /proc/[0-9]*
    } | awk '$0 == "--" { s = 1; next } !s { B[$0] = 1; next } !($0 in B) { sub("^/proc/", ""); print }')
    _fdd=
    for _pid in $_new; do
        [ "$_pid" = "$$" ] && continue
        if [ ! -e "/proc/$_pid/cwd" ] && [ -e "/proc/$_pid" ]; then
            # hidden (another user's), or exiting: let the full check decide
            [ "$JOB_USERS" = "" ] || return 3
        fi
        _fdd="$_fdd /proc/$_pid/fd/"
    done
    _how=$(job_scan_method) || return 3
    _rl=$(
        exec 6<&- 8<&-
        # shellcheck disable=SC2086 # /proc paths: no blanks
        if [ "$_how" = find ]; then
            { {
                find /proc/[0-9]*/cwd /proc/[0-9]*/exe $_fdd -maxdepth 1 \
                    \( -lname "$(glob_escape "$ROOT_ABS/$1")" -o -lname "$(glob_escape "$ROOT_ABS/$1")/*" \) \
                    -printf "%p$_rt%l\n" 2>&1 1>&3 3>&-
                printf 'rc\t%s\n' "$?" >&3
            } | _t=$_rt proc_errors; } 3>&1
        else
            _fdg=
            for _d in $_fdd; do _fdg="$_fdg $_d*"; done
            { {
                ls -ld /proc/[0-9]*/cwd /proc/[0-9]*/exe $_fdg 2>&1 1>&3 3>&-
                _lr=$?
                [ "$_lr" -eq 2 ] && _lr=1
                printf 'rc\t%s\n' "$_lr" >&3
            } | _t=$_rt proc_errors; } 3>&1 |
                sed -n -e "s|^[^/]* \(/proc/[0-9][0-9]*/[a-z0-9/]*\) -> |\1$_rt|p" \
                    -e "/^rc$_rt/p" -e "/^exp\$/p" -e "/err$_rt/p"
        fi
    )
    case $_rl in *"err$_rt"*) return 3 ;; esac
    case "
$_rl
" in
        *"
rc${_rt}0
"*) ;;
        *"
rc${_rt}1
"*) case "
$_rl
" in *"
exp
"*) ;; *) return 3 ;; esac ;;
        *) return 3 ;;
    esac
    _cand=$(printf '%s\n' "$_rl" | while IFS= read -r _l; do
        case $_l in /proc/*"$_rt"*) ;; *) continue ;; esac
        _g=${_l#*"$_rt"}
        case $_g in "$ROOT_ABS/$1" | "$ROOT_ABS/$1/"*) ;; *) continue ;; esac
        _p=${_l#/proc/}
        printf '%s\n' "${_p%%/*}"
    done)
    if [ -n "$_new" ]; then
        _cf=
        for _pid in $_new; do _cf="$_cf /proc/$_pid/cmdline"; done
        # shellcheck disable=SC2086,SC2013 # /proc paths: no blanks
        for _c in $(grep -l -a -e "$PREFIX_RE" $_cf 2>/dev/null); do
            _pid=${_c#/proc/}
            _pid=${_pid%/cmdline}
            cmdline_names "$_pid" "$1" && _cand="$_cand $_pid"
        done
    fi
    _own=" $$ "
    _ef=
    for _pid in $_cand; do _ef="$_ef /proc/$_pid/environ"; done
    if [ -n "$_ef" ]; then
        # shellcheck disable=SC2086,SC2013 # /proc paths: no blanks
        for _f in $(grep -l -a -F -e "RELMAN_SELF=$RELMAN_SELF" $_ef 2>/dev/null); do
            _f=${_f#/proc/}
            _own="$_own${_f%/environ} "
        done
    fi
    for _pid in $_cand; do
        case $_own in *" $_pid "*) continue ;; esac
        JOB_PIDS="$JOB_PIDS $_pid"
    done
    # shellcheck disable=SC2086 # pids: split on purpose
    JOB_PIDS=$(printf '%s\n' $JOB_PIDS | sort -nu | tr '\n' ' ')
    JOB_PIDS=${JOB_PIDS% }
    [ -z "$JOB_PIDS" ]
}
