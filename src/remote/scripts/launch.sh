#!/bin/sh
# relman job launcher. Written by relman into <root>/.relman/bin/launch and rewritten
# whenever relman changes this host: local edits are lost.
#
#   launch [--release NAME|PATH] [--tail N] -- CMD [ARGS...]
#
# Runs CMD in one release of this deploy root (the root is two directories above this
# file): the release the link points at, read once, now; or the one --release names,
# by name or by its absolute path <root>/<name>. For as long as CMD runs, the
# release is held by a shared flock on the release directory itself (the descriptor
# stays open in CMD as fd 9, so the hold lasts even if CMD leaves the directory, and
# any user who may read the release can take it): relman prune takes that lock
# exclusively before deleting, so it skips a release in use. CMD
# starts in the release, with RELEASE_DIR (its absolute path) and RELEASE_NAME
# exported, and CMD's exit status is launch's.
#
# --tail N (1-200, opt-in): CMD's stdout and stderr become pipes (FIFOs) read by tee,
# which copies every byte unchanged to launch's own stdout and stderr; when the run
# fails or is killed, its last N lines (of the last 64 KiB) are kept in
# .relman/runs/<release>.tails/<id> (see "The output tail" below).
#
# launch's own failures say "launch: ..." on stderr and exit 2 (bad arguments, or a
# --release that is not a release of this root), 5 (no live release, or the release
# is gone) or 1 (flock missing, the release not readable).
# relman:params
set -u

_relman_die() {
    _relman_code=$1
    shift
    printf 'launch: %s\n' "$*" >&2
    exit "$_relman_code"
}

# _relman_clean TEXT: TEXT without control characters (shown in messages).
_relman_clean() {
    printf '%s' "$1" | tr -d '\000-\037\177'
}

# _relman_is_release NAME: the same test as is_release in lib.sh and
# ReleaseName::parse in model.rs: RELMAN_PREFIX + YYYYMMDDHHMMSS, a real UTC time
# of years 1970-9999 (days the month has, leap years, hours 00-23, minutes and
# seconds 00-59), optionally .N, N a positive integer of at most 9 digits with no
# leading zero. No fork; its variables are its own (_relman_ir_*).
_relman_is_release() {
    case $1 in "$RELMAN_PREFIX"*) ;; *) return 1 ;; esac
    _relman_ir_r=${1#"$RELMAN_PREFIX"}
    _relman_ir_s=${_relman_ir_r%%.*}
    _relman_ir_n=${_relman_ir_r#"$_relman_ir_s"}
    case $_relman_ir_s in '' | *[!0-9]*) return 1 ;; esac
    [ "${#_relman_ir_s}" -eq 14 ] || return 1
    case $_relman_ir_n in
        '') ;;
        .[1-9]*)
            _relman_ir_n=${_relman_ir_n#.}
            case $_relman_ir_n in *[!0-9]*) return 1 ;; esac
            [ "${#_relman_ir_n}" -le 9 ] || return 1
            ;;
        *) return 1 ;;
    esac
    # YYYY MM DD hh mm ss, cut from the left without a fork.
    _relman_ir_y=${_relman_ir_s%??????????}
    _relman_ir_t=${_relman_ir_s#????}
    _relman_ir_mo=${_relman_ir_t%????????}
    _relman_ir_t=${_relman_ir_t#??}
    _relman_ir_d=${_relman_ir_t%??????}
    _relman_ir_t=${_relman_ir_t#??}
    case $_relman_ir_y in 19[7-9]? | [2-9]???) ;; *) return 1 ;; esac
    case $_relman_ir_mo in 0[1-9] | 1[0-2]) ;; *) return 1 ;; esac
    case $_relman_ir_d in 0[1-9] | [12][0-9] | 3[01]) ;; *) return 1 ;; esac
    case $_relman_ir_mo$_relman_ir_d in 0230 | 0231 | 0431 | 0631 | 0931 | 1131) return 1 ;; esac
    # Feb 29 only in leap years (the year has no leading zero: not octal).
    if [ "$_relman_ir_mo$_relman_ir_d" = 0229 ]; then
        [ $((_relman_ir_y % 4)) -eq 0 ] || return 1
        [ $((_relman_ir_y % 100)) -ne 0 ] || [ $((_relman_ir_y % 400)) -eq 0 ] || return 1
    fi
    case $_relman_ir_t in [01][0-9][0-5][0-9][0-5][0-9] | 2[0-3][0-5][0-9][0-5][0-9]) return 0 ;; esac
    return 1
}

_relman_usage='usage: launch [--release NAME|PATH] [--tail N] -- CMD [ARGS...]'

# Where am I: <root>/.relman/bin/launch, possibly reached through a symlink.
_relman_self=$0
if [ -L "$_relman_self" ]; then
    _relman_self=$(readlink -f -- "$_relman_self") || _relman_die 1 "cannot follow the symlink $0"
fi
case $_relman_self in */*) ;; *) _relman_self=./$_relman_self ;; esac
_relman_bin=${_relman_self%/*}
[ -n "$_relman_bin" ] || _relman_bin=/
_relman_root=$(cd -P -- "$_relman_bin/../.." 2>/dev/null && pwd -P) ||
    _relman_die 1 "cannot find the deploy root from $0"

_relman_rel=
_relman_given=0
_relman_tail=
while [ $# -gt 0 ]; do
    case $1 in
        --release)
            [ $# -ge 2 ] || _relman_die 2 "--release needs a value ($_relman_usage)"
            _relman_rel=$2
            _relman_given=1
            shift 2
            ;;
        --release=*)
            _relman_rel=${1#--release=}
            _relman_given=1
            shift
            ;;
        --tail | --tail=*)
            case $1 in
                --tail=*) _relman_tail=${1#--tail=} ;;
                *)
                    [ $# -ge 2 ] || _relman_die 2 "--tail needs a number of lines, 1-200 ($_relman_usage)"
                    _relman_tail=$2
                    shift
                    ;;
            esac
            shift
            case $_relman_tail in
                [1-9] | [1-9][0-9] | 1[0-9][0-9] | 200) ;;
                *) _relman_die 2 "--tail $(_relman_clean "$_relman_tail"): give a number of lines, 1-200" ;;
            esac
            ;;
        --)
            shift
            break
            ;;
        -h | --help)
            printf '%s\n' "$_relman_usage"
            exit 0
            ;;
        -*) _relman_die 2 "unknown option $(_relman_clean "$1") ($_relman_usage)" ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || _relman_die 2 "no command to run ($_relman_usage)"

# ---- A probation (probation.sh) -----------------------------------------------------
# probation.sh's names: is_release is the launcher's own test.
# shellcheck disable=SC2317 # called by probation.sh, baked in at the params marker
is_release() { _relman_is_release "$1"; }
# _relman_guard NOW: enforce a due probation, in a subshell in the root (its cwd,
# descriptors and variables stay its own); says so on stderr when it rolled back.
# A user who may not change the link changes nothing (the failure is in the ledger;
# the next launch by a user who may, or relman's next contact, rolls back).
_relman_guard() {
    case $1 in '' | *[!0-9]*) return 0 ;; esac
    # shellcheck disable=SC2034 # LINK is probation.sh's (baked in at the params marker)
    _relman_g=$(cd -P -- "$_relman_root" 2>/dev/null && LINK=$RELMAN_LINK &&
        probation_enforce "$1" launch 2>/dev/null) || return 0
    case $_relman_g in
        rolledback*)
            set -f
            # shellcheck disable=SC2086 # words: rolledback RELEASE PREVIOUS FAILURES
            set -- $_relman_g
            set +f
            printf 'launch: probation: %s had %s failed, killed or lost runs: rolled back to %s\n' "$2" "$4" "$3" >&2
            ;;
    esac
}
if [ -f "$_relman_root/.relman/probation" ]; then
    _relman_guard "$(date -u +%s 2>/dev/null)"
fi

if [ "$_relman_given" = 1 ]; then
    _relman_v=$_relman_rel
    _relman_shown=$(_relman_clean "$_relman_rel")
    case $_relman_v in
        '') _relman_die 2 "--release is empty" ;;
        */) _relman_v=${_relman_v%/} ;;
    esac
    case /$_relman_v/ in
        */../* | */./*) _relman_die 2 "refused --release '$_relman_shown': '.' and '..' are not allowed" ;;
    esac
    case $_relman_v in
        *//*) _relman_die 2 "refused --release '$_relman_shown': '//' is not allowed" ;;
    esac
    case $_relman_v in
        /*)
            _relman_name=${_relman_v##*/}
            _relman_parent=${_relman_v%/*}
            [ -n "$_relman_parent" ] || _relman_parent=/
            _relman_p=$(cd -P -- "$_relman_parent" 2>/dev/null && pwd -P) || _relman_p=
            [ "$_relman_p" = "$_relman_root" ] ||
                _relman_die 2 "refused --release '$_relman_shown': not a release of $_relman_root"
            ;;
        */*)
            _relman_die 2 "refused --release '$_relman_shown': give a release name or its absolute path"
            ;;
        *) _relman_name=$_relman_v ;;
    esac
    _relman_is_release "$_relman_name" ||
        _relman_die 2 "refused --release '$_relman_shown': not a release name (${RELMAN_PREFIX}YYYYMMDDHHMMSS[.N])"
    _relman_dir=$_relman_root/$_relman_name
    [ ! -L "$_relman_dir" ] ||
        _relman_die 2 "refused --release '$_relman_shown': $_relman_dir is a symlink, not a release"
    [ -d "$_relman_dir" ] ||
        _relman_die 5 "release $_relman_name does not exist in $_relman_root (pruned?)"
else
    # The link, read once: everything after uses the name it gave.
    _relman_link=$_relman_root/$RELMAN_LINK
    [ -L "$_relman_link" ] || _relman_die 5 "no live release: $_relman_link is not a symlink"
    _relman_real=$(cd -P -- "$_relman_link" 2>/dev/null && pwd -P) ||
        _relman_die 5 "no live release: $_relman_link is dangling"
    _relman_name=${_relman_real##*/}
    if [ "${_relman_real%/*}" != "$_relman_root" ] || ! _relman_is_release "$_relman_name"; then
        _relman_die 5 "no live release: $_relman_link does not point at a release of $_relman_root"
    fi
    _relman_dir=$_relman_root/$_relman_name
fi

command -v flock >/dev/null 2>&1 || _relman_die 1 "flock (util-linux) is missing: cannot hold the release"
# The hold is a lock on the release directory itself: no file of its own, so any
# user who may read the release can hold it (dash, bash and busybox sh all open a
# directory with `<`).
{ command exec 8<"$_relman_dir"; } 2>/dev/null ||
    _relman_die 1 "cannot open $_relman_dir to hold it (not readable by $(id -un 2>/dev/null)?)"
flock -s 8 || _relman_die 1 "cannot lock $_relman_dir"
# Held now: prune can't delete the release any more; make sure it didn't just before
# (prune renames a release into .relman/trash while holding the lock).
if [ ! -d "$_relman_dir" ] || [ -L "$_relman_dir" ]; then
    _relman_die 5 "release $_relman_name was removed before it could be held"
fi
cd -P -- "$_relman_dir" || _relman_die 5 "cannot enter $_relman_dir"
RELEASE_DIR=$_relman_dir
RELEASE_NAME=$_relman_name
export RELEASE_DIR RELEASE_NAME
# relman's scripts mark their own processes (lib.sh); a job is not one of them.
unset RELMAN_SELF

# ---- The run ledger (SPEC section 7) ----------------------------------------------
# <root>/.relman/runs/<release>.jsonl: one JSON line when the job starts, one when it
# ends. A line is built whole in a variable and written by ONE printf to a file opened
# with O_APPEND (>>): the shell's printf buffers the line and hands it to one write(2),
# and lines are kept under 4 KiB (command shortened to 1000 characters, at most 2000
# once escaped), so lines of jobs starting at once never tear or interleave.
# Bounded: past 512 KiB the file is renamed to <release>.jsonl.old (replacing the
# older one) under a flock of runs/.rotate, by the launcher that finds it so once its
# job ended, so a release keeps 0.5-1 MiB of runs.
# A ledger that can't be written (full disk, permissions) never stops the job: one
# warning on stderr, the job runs and its status passes through.
_relman_runs=$_relman_root/.relman/runs
_relman_led=$_relman_runs/$_relman_name.jsonl
_relman_warned=
_relman_warn() {
    [ -z "$_relman_warned" ] || return 0
    _relman_warned=1
    printf 'launch: warning: cannot write the run ledger %s (%s): the job runs unrecorded\n' \
        "$_relman_led" "$1" >&2
}
# _relman_append LINE
_relman_append() {
    [ -z "$_relman_warned" ] || return 0
    { printf '%s\n' "$1" >>"$_relman_led"; } 2>/dev/null || _relman_warn 'write failed'
}
# _relman_clock: _relman_ts (RFC 3339 UTC, milliseconds where date has %N) and
# _relman_ep (epoch seconds), one date for both.
_relman_clock() {
    _relman_t=$(date -u '+%Y-%m-%dT%H:%M:%S.%3NZ %s' 2>/dev/null) || _relman_t=
    _relman_ts=${_relman_t% *}
    _relman_ep=${_relman_t##* }
    case $_relman_ts in *.%3NZ) _relman_ts=${_relman_ts%.%3NZ}Z ;; esac
    case $_relman_ep in '' | *[!0-9]*) _relman_ep=0 ;; esac
    case $_relman_ts in
        [0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]*Z) ;;
        *) _relman_ts=1970-01-01T00:00:00Z ;;
    esac
}
# _relman_pstart PID: _relman_ps = the process's start time (/proc/PID/stat field 22,
# clock ticks since boot): with the pid, what tells a live run from a lost one (pids
# are reused). The comm field may hold blanks and parentheses: cut after the last ") ".
_relman_pstart() {
    _relman_ps=0
    { read -r _relman_l <"/proc/$1/stat"; } 2>/dev/null || return 0
    _relman_l=${_relman_l##*) }
    set -f
    # shellcheck disable=SC2086
    set -- $_relman_l
    set +f
    [ $# -lt 20 ] || _relman_ps=${20}
    case $_relman_ps in '' | *[!0-9]*) _relman_ps=0 ;; esac
}

_relman_clock
_relman_id=$_relman_ep-$$
_relman_started=$_relman_ts
# The argv as data: joined by blanks, control characters removed, shortened, then
# JSON-escaped; the scheduler's BUILD_TAG (else JOB_NAME) likewise. awk gets the words
# as operands after "--", never as program text. The same awk names the user (no
# fork of id): the effective uid from /proc/self/status (awk's, the launcher's user),
# its name from /etc/passwd; it prints "USER JSON" (USER empty when not found there,
# e.g. a directory user: then id -un, as before).
_relman_out=$(awk -- 'function esc(s,    o, c, i) {
        gsub(/[\001-\037\177]/, "", s)
        if (length(s) > 1000) s = substr(s, 1, 1000)
        # Backslash and quote one by one: what gsub makes of "\\" differs by awk.
        o = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "\\" || c == "\"") o = o "\\"
            o = o c
        }
        return o
    }
    BEGIN {
        # relman launch runs the job as sh -c <its start marker> relman-job CMD...
        # (ops/launch.rs): the ledger keeps CMD...
        f = 1
        if (ARGC > 5 && ARGV[1] == "sh" && ARGV[2] == "-c" && ARGV[4] == "relman-job" &&
            ARGV[3] ~ /^printf .relman-launch: started/) f = 5
        c = ""
        for (i = f; i < ARGC; i++) c = c (i > f ? " " : "") ARGV[i]
        t = ENVIRON["BUILD_TAG"]
        if (t == "") t = ENVIRON["JOB_NAME"]
        if (length(t) > 200) t = substr(t, 1, 200)
        t = esc(t)
        u = ""
        uid = ""
        while ((getline l < "/proc/self/status") > 0)
            if (l ~ /^Uid:/) { split(l, a); uid = a[3] ""; break }
        close("/proc/self/status")
        if (uid ~ /^[0-9]+$/) {
            while ((getline l < "/etc/passwd") > 0)
                if (split(l, p, ":") >= 3 && p[3] "" == uid) { u = p[1]; break }
            close("/etc/passwd")
        }
        if (u !~ /^[A-Za-z0-9._@-]+$/) u = ""
        printf "%s \"command\":\"%s\",\"trigger\":%s", u, esc(c), (t == "" ? "null" : "\"" t "\"")
        exit 0
    }' "$@" 2>/dev/null) || _relman_out=
_relman_user=${_relman_out%% *}
_relman_cmd=${_relman_out#* }
case $_relman_cmd in '"command":'*) ;; *) _relman_cmd='"command":"","trigger":null' ;; esac
case $_relman_user in '' | *[!A-Za-z0-9._@-]*) _relman_user=$(id -un 2>/dev/null) || _relman_user= ;; esac
case $_relman_user in '' | *[!A-Za-z0-9._@-]*) _relman_user=$(id -u 2>/dev/null) || _relman_user='?' ;; esac

if [ ! -d "$_relman_runs" ]; then
    # Shared by every user whose jobs run here, like /tmp (sticky).
    mkdir -m 1777 "$_relman_runs" 2>/dev/null || [ -d "$_relman_runs" ] || _relman_warn 'cannot create it'
fi

# ---- The output tail (--tail N, opt-in) ---------------------------------------------
# Without --tail nothing here runs (not one fork). With it, in a private directory
# (mktemp -d under runs/, else under $TMPDIR or /tmp): FIFOs o and e become the job's
# stdout and stderr; one tee per stream copies every byte unchanged to launch's own
# stdout (resp. stderr) and into FIFO k, read by the keeper `tail -c 65536`, which
# holds only the last 64 KiB of both streams (in the order tee wrote them) whatever the
# job writes, and leaves them in file t once every writer is done. launch holds k open
# (read-write: on Linux such an open never blocks) until both tees ended, so the
# keeper sees no end early. The tees and the keeper ignore TERM, INT, HUP, QUIT, USR1
# and USR2 (a kill of the whole process group, as relman launch does, must not cut the
# job's last words off): they end when every holder of the job's stdout/stderr has
# closed it, and launch waits for that, as a shell pipeline `job | tee` would; a job
# that leaves a background process holding its output keeps launch until that process
# closes it. If launch's own stdout or stderr is closed by its reader, tee dies of
# SIGPIPE and the job gets SIGPIPE/EPIPE on its next write, as it would writing there
# itself (when SIGPIPE is ignored, tee reports the error and the job's writes go on).
# What the job sees changes, which is why this is opt-in: its stdout/stderr are
# pipes (isatty is false, stdio buffers fully, O_APPEND of a log file is not the job's)
# and stdout and stderr may reorder against each other in the merged tail.
# Anything that can't be set up (no mkfifo/tee/tail, no temporary directory): the job
# runs without a tail and launch warns once.
_relman_tdir=
_relman_tw=
_relman_twarn() {
    [ -z "$_relman_tw" ] && [ -z "$_relman_warned" ] || return 0
    _relman_tw=1
    printf 'launch: warning: --tail: %s: no output tail is kept\n' "$1" >&2
}
# shellcheck disable=SC2317 # called from the EXIT trap
_relman_tclean() {
    [ -z "$_relman_tdir" ] || rm -rf -- "$_relman_tdir" 2>/dev/null
    _relman_tdir=
}
# relman launch's own wrapper (sh -c 'printf "relman-launch: started" ...' relman-job):
# its marker line is not the job's output.
_relman_via=
if [ "$1" = sh ] && [ "${2:-}" = -c ] && [ "${4:-}" = relman-job ]; then _relman_via=1; fi
# _relman_private: the launcher's private directory (_relman_tdir), removed at exit.
# A launcher killed by SIGKILL leaves its directory (.tail.<its pid>.*): the next one
# that makes one removes those whose launcher is gone (a reused pid keeps one;
# another user's stay: runs/ is sticky). No fork unless one is found.
_relman_private() {
    for _relman_x in "$_relman_runs"/.tail.*.*; do
        _relman_f=${_relman_x#"$_relman_runs"/.tail.}
        _relman_f=${_relman_f%%.*}
        case $_relman_f in '' | *[!0-9]*) continue ;; esac
        [ -d "/proc/$_relman_f" ] || [ ! -d "$_relman_x" ] || [ -L "$_relman_x" ] ||
            rm -rf -- "$_relman_x" 2>/dev/null
    done
    _relman_tdir=$(mktemp -d "$_relman_runs/.tail.$$.XXXXXX" 2>/dev/null) ||
        _relman_tdir=$(mktemp -d "${TMPDIR:-/tmp}/relman-tail.XXXXXX" 2>/dev/null) ||
        _relman_tdir=
    # (absolute: the helpers run in /)
    case $_relman_tdir in /*) trap _relman_tclean EXIT ;; *) _relman_tdir= ;; esac
}
_relman_ton=
if [ -n "$_relman_tail" ]; then
    if ! command -v mkfifo >/dev/null 2>&1 || ! command -v tee >/dev/null 2>&1 ||
        ! command -v tail >/dev/null 2>&1; then
        _relman_twarn 'mkfifo, tee or tail is missing'
    else
        _relman_private
        if [ -z "$_relman_tdir" ]; then
            _relman_twarn 'cannot make a temporary directory'
        elif mkfifo "$_relman_tdir/o" "$_relman_tdir/e" "$_relman_tdir/k" 2>/dev/null &&
            { : >"$_relman_tdir/t"; } 2>/dev/null && { command exec 5<>"$_relman_tdir/k"; } 2>/dev/null; then
            # Started with those signals ignored (inherited through exec); the
            # launcher's own traps are set only after this.
            trap '' TERM INT HUP QUIT USR1 USR2
            # In / and without the lock's fd 8: not one of the release's jobs. The
            # keeper's own errors (a full disk) are not the job's: to /dev/null.
            { cd / || :; exec tail -c 65536 <"$_relman_tdir/k" >>"$_relman_tdir/t" 2>/dev/null; } 5>&- 8<&- &
            _relman_tk=$!
            { cd / || :; exec tee -- "$_relman_tdir/k" <"$_relman_tdir/o"; } 5>&- 8<&- &
            _relman_to=$!
            { cd / || :; exec tee -- "$_relman_tdir/k" <"$_relman_tdir/e" >&2; } 5>&- 8<&- &
            _relman_te=$!
            trap - TERM INT HUP QUIT USR1 USR2
            _relman_ton=1
        else
            _relman_twarn 'cannot make its pipes'
        fi
    fi
fi

# ---- bash: waiting without losing the job's status ---------------------------------
# bash's `wait` loses a child's status when a trapped signal arrives as the child
# ends (waitchld reaps it, then a check for the trap jumps out of the builtin before
# the status is recorded): the next `wait` blocks in waitpid(-1) for another child
# (forever, with --tail: the keeper waits for launch) or, with none left, says 0 or
# -1. A group TERM to launch and its job loses it often (measured: 82 of 200 under
# load). So under bash, launch waits in `read` instead (traps still run at once:
# forwarding is unchanged) while bash's SIGCHLD handler reaps the job and records its
# status; `wait` is called only once the job is reaped, when it returns the recorded
# status without calling waitpid. The wake-up is the FIFO w of the private directory:
# the job holds it open as fd 6 (launch reads it on fd 4), so the read ends when the
# job does (EOF); a job that closes fd 6 or leaves a process holding it is checked
# every 50 ms, then every second. Without a FIFO (no mkfifo, no directory), `wait`
# as before. dash and busybox sh record the status before they look at traps.
_relman_wf=
if [ -n "${BASH_VERSION:-}" ] && command -v mkfifo >/dev/null 2>&1; then
    [ -n "$_relman_tdir" ] || _relman_private
    # shellcheck disable=SC2094 # a FIFO: one end each
    if [ -n "$_relman_tdir" ] && mkfifo "$_relman_tdir/w" 2>/dev/null &&
        { command exec 6<>"$_relman_tdir/w" 4<"$_relman_tdir/w"; } 2>/dev/null; then
        _relman_wf=$_relman_tdir/w
    fi
fi
# _relman_reap PID: wait for a helper, again after a trapped signal interrupted wait.
_relman_reap() {
    while :; do
        wait "$1" 2>/dev/null
        [ $? -gt 128 ] && kill -0 "$1" 2>/dev/null || return 0
    done
}
# _relman_tail_end: after the job. A tee whose FIFO the job never opened (it died
# first) still waits in open(): a read-write open and close of the FIFO ends that.
# Then the keeper's end, and when the run failed or was killed the tail is
# kept: control characters other than tab and newline removed, relman launch's marker
# line dropped, the last N lines, written whole (a temporary file renamed) 0666 into
# runs/<release>.tails (1777, like runs/), of which the newest 20 are kept. A tail
# that can't be written changes nothing but one warning.
_relman_tail_end() {
    { command exec 3<>"$_relman_tdir/o" 3>&-; } 2>/dev/null
    { command exec 3<>"$_relman_tdir/e" 3>&-; } 2>/dev/null
    _relman_reap "$_relman_to"
    _relman_reap "$_relman_te"
    exec 5>&-
    _relman_reap "$_relman_tk"
    [ "$_relman_st" != 0 ] || return 0
    _relman_td=$_relman_runs/$_relman_name.tails
    if [ ! -d "$_relman_td" ]; then
        mkdir -m 1777 "$_relman_td" 2>/dev/null || [ -d "$_relman_td" ] || {
            _relman_twarn "cannot create $_relman_td"
            return 0
        }
    fi
    if [ -L "$_relman_td" ]; then
        _relman_twarn "$_relman_td is a symlink"
        return 0
    fi
    _relman_tf=$(mktemp "$_relman_td/.new.XXXXXX" 2>/dev/null) || {
        _relman_twarn "cannot write in $_relman_td"
        return 0
    }
    if tr -d '\000-\010\013-\037\177' <"$_relman_tdir/t" 2>/dev/null |
        LC_ALL=C awk -v n="$_relman_tail" -v via="$_relman_via" '
            via != "" && !seen && $0 == "relman-launch: started" { seen = 1; next }
            { c++; L[c % n] = $0 }
            END { for (i = (c > n ? c - n + 1 : 1); i <= c; i++) print L[i % n] }' >"$_relman_tf" 2>/dev/null &&
        chmod 0666 "$_relman_tf" 2>/dev/null && mv -f -- "$_relman_tf" "$_relman_td/$_relman_id" 2>/dev/null; then
        :
    else
        rm -f -- "$_relman_tf" 2>/dev/null
        _relman_twarn "cannot write $_relman_td/$_relman_id"
        return 0
    fi
    # The newest 20 per release, by when they were written (mtime: to the nanosecond
    # from stat, which GNU and busybox both have; else ls -t, whole seconds on busybox,
    # ties by name), not by the run id: its pid wraps (300 may follow 32700 within one
    # second). The older ones go, those this user may remove (the directory is sticky:
    # another user's stay, and the next of theirs removes them).
    set -- "$_relman_td"/*
    if [ $# -gt 20 ]; then
        if command -v stat >/dev/null 2>&1; then
            LC_ALL=C TZ=UTC0 stat -c '%y %n' -- "$@" 2>/dev/null | LC_ALL=C sort -r
        else
            ls -t -- "$_relman_td" 2>/dev/null
        fi | sed -e 1,20d -e 's|.*/||' |
            while IFS= read -r _relman_f; do
                case $_relman_f in *[!0-9-]* | '') continue ;; esac
                rm -f -- "$_relman_td/$_relman_f" 2>/dev/null
            done
    fi
}

# ---- The job: a child, not exec'd ------------------------------------------------
# Signals to launch are forwarded to the job; launch waits again after a trapped
# signal interrupted `wait`, then exits with the job's status (128+N for signal N).
_relman_job=
_relman_pend=
_relman_got=
# shellcheck disable=SC2317 # called from the traps
_relman_fwd() {
    _relman_got=1
    if [ -n "$_relman_job" ]; then
        kill "-$1" "$_relman_job" 2>/dev/null
    else
        _relman_pend="$_relman_pend $1"
    fi
}
for _relman_s in TERM INT HUP QUIT USR1 USR2; do
    # shellcheck disable=SC2064
    trap "_relman_fwd $_relman_s" "$_relman_s"
done
# stdin: an asynchronous command's stdin is /dev/null unless redirected, so the
# launcher's stdin goes to the job through fd 7. The locked descriptor goes to the
# job as fd 9 (a fresh dup: shells that open fds with close-on-exec, like ksh, can't
# drop it); launch keeps fd 8, so the release stays held by both. dash and busybox sh
# start an asynchronous command with INT and QUIT ignored and can't undo it in sh:
# GNU env --default-signal (coreutils 8.31+) undoes it where it exists. Whether it
# does was probed once by relman when it installed this launcher (ensure_launcher,
# lib.sh) and recorded in .relman/bin/env-default-signal, read here without a fork:
# "yes /abs/path/env" (that env has it: run by its path, so a job user whose PATH
# finds another env still gets this one) or "no". No usable answer (a root set up
# before, the env not executable by this user): probed here, as before.
exec 7<&0
_relman_jobrun() {
    trap - INT QUIT
    if [ -z "${BASH_VERSION:-}" ]; then
        _relman_eds=
        _relman_envp=
        { read -r _relman_eds _relman_envp <"$_relman_root/.relman/bin/env-default-signal"; } 2>/dev/null
        case $_relman_eds:$_relman_envp in
            no:) ;;
            yes:/*) [ -x "$_relman_envp" ] || _relman_eds= ;;
            *) _relman_eds= ;;
        esac
        if [ -z "$_relman_eds" ] && env --default-signal=INT true 2>/dev/null; then
            _relman_eds=yes
            _relman_envp='env'
        fi
        [ "$_relman_eds" != yes ] || exec "$_relman_envp" --default-signal=INT,QUIT -- "$@"
    fi
    exec "$@"
}
if [ -z "$_relman_ton" ]; then
    _relman_jobrun "$@" <&7 7<&- 9<&8 8<&- 4<&- &
else
    # stdout and stderr: the tail's FIFOs (the job opens them: a tee reads each).
    _relman_jobrun "$@" <&7 7<&- 9<&8 8<&- 4<&- 5>&- >"$_relman_tdir/o" 2>"$_relman_tdir/e" &
fi
_relman_job=$!
exec 7<&-
# (bash) the job holds the wake FIFO now: launch lets go of its writing end.
[ -z "$_relman_wf" ] || exec 6>&-
# launch itself leaves the release (it holds it by fd 8): only the job works there.
cd / || :
# Files the launcher creates from here on (the ledger) are shared by every job user.
umask 0111
for _relman_s in $_relman_pend; do kill "-$_relman_s" "$_relman_job" 2>/dev/null; done
# The launcher's own pid and start time too: between the job's end (reaped by the
# wait below) and the end record, the job's pid is gone while launch still lives; a
# run is lost only when both are gone (ledger.sh).
_relman_pstart "$$"
_relman_lps=$_relman_ps
_relman_pstart "$_relman_job"
_relman_jps=$_relman_ps
_relman_append "{\"event\":\"start\",\"id\":\"$_relman_id\",\"release\":\"$_relman_name\",\"pid\":$_relman_job,\"pid_start\":$_relman_ps,\"launcher_pid\":$$,\"launcher_start\":$_relman_lps,\"user\":\"$_relman_user\",\"started_at\":\"$_relman_started\",$_relman_cmd}"

# (bash) Until the job is reaped (its /proc entry gone or another process's), read:
# the job's end is an EOF on fd 4; after one (or when the job closed fd 6), fd 4 is
# the FIFO read-write (a read never ends by itself) and the checks are timed.
if [ -n "$_relman_wf" ]; then
    # _relman_n: timed checks so far (0: fd 4 still tells the job's end).
    _relman_n=0
    while _relman_pstart "$_relman_job" && [ "$_relman_ps" != 0 ] && [ "$_relman_ps" = "$_relman_jps" ]; do
        _relman_wt=1
        [ "$_relman_n" = 0 ] || [ "$_relman_n" -gt 20 ] || _relman_wt=0.05
        # shellcheck disable=SC3045 # bash only: read -t
        read -r -t "$_relman_wt" _relman_x <&4 2>/dev/null
        if [ $? != 1 ] && [ "$_relman_n" = 0 ]; then continue; fi
        if [ "$_relman_n" = 0 ]; then
            exec 4<&-
            { command exec 4<>"$_relman_wf"; } 2>/dev/null || break
        fi
        _relman_n=$((_relman_n + 1))
    done
    exec 4<&-
    # Reaped: `wait` answers from bash's table. In POSIX mode bash deletes the job as
    # it answers, and a trap checked after that would leave the next `wait` nothing
    # (127): without POSIX mode the answer stays for the loop below to ask again.
    # shellcheck disable=SC3028,SC3040 # bash only: SHELLOPTS, set -o posix
    case :$SHELLOPTS: in *:posix:*) _relman_px=1 ;; *) _relman_px= ;; esac
    # shellcheck disable=SC3040
    set +o posix
fi
# wait returns >128 when a trapped signal interrupts it: the job may still run
# (the signal is forwarded already), so wait again. A wait that completed just
# before the trap ran reaped the job: the next wait says 127 (not a child), and the
# first status stands.
_relman_prev=
while :; do
    _relman_got=
    wait "$_relman_job" 2>/dev/null
    _relman_st=$?
    if [ -z "$_relman_got" ]; then
        [ "$_relman_st" != 127 ] || [ -z "$_relman_prev" ] || _relman_st=$_relman_prev
        break
    fi
    [ "$_relman_st" -gt 128 ] || break
    _relman_prev=$_relman_st
done
# shellcheck disable=SC3040
[ -z "${_relman_px:-}" ] || set -o posix

_relman_clock
if [ "$_relman_st" -gt 128 ]; then
    _relman_sig=$(kill -l "$((_relman_st - 128))" 2>/dev/null) || _relman_sig=
    _relman_sig=${_relman_sig#SIG}
    case $_relman_sig in '' | *[!A-Z0-9]*) _relman_sig=$((_relman_st - 128)) ;; esac
    _relman_end="\"exit_code\":null,\"signal\":\"$_relman_sig\""
else
    _relman_end="\"exit_code\":$_relman_st,\"signal\":null"
fi
_relman_append "{\"event\":\"end\",\"id\":\"$_relman_id\",\"release\":\"$_relman_name\",\"pid\":$_relman_job,\"ended_at\":\"$_relman_ts\",$_relman_end}"
# A failed or killed run may make a probation due (probation.sh).
if [ "$_relman_st" != 0 ] && [ -f "$_relman_root/.relman/probation" ]; then
    _relman_guard "$_relman_ep"
fi
[ -z "$_relman_ton" ] || _relman_tail_end
# Rotation, once the job ended (the size check is an exec: kept off the job's start
# path). Every launch still checks once, so the bound holds as before.
if [ -z "$_relman_warned" ] && [ -f "$_relman_led" ]; then
    _relman_sz=$(wc -c <"$_relman_led" 2>/dev/null) || _relman_sz=0
    _relman_sz=${_relman_sz##* }
    case $_relman_sz in *[!0-9]* | '') _relman_sz=0 ;; esac
    if [ "$_relman_sz" -gt 524288 ] && { command exec 6>>"$_relman_runs/.rotate"; } 2>/dev/null; then
        # One launcher rotates; the others append meanwhile (to the old or the new
        # file, both read by the scan). Checked again under the lock.
        if flock -n 6; then
            _relman_sz=$(wc -c <"$_relman_led" 2>/dev/null) || _relman_sz=0
            _relman_sz=${_relman_sz##* }
            case $_relman_sz in *[!0-9]* | '') _relman_sz=0 ;; esac
            [ "$_relman_sz" -le 524288 ] || mv -f -- "$_relman_led" "$_relman_led.old" 2>/dev/null
        fi
        exec 6>&-
    fi
fi
_relman_tclean
exit "$_relman_st"
