#!/bin/sh
# relman job launcher. Written by relman into <root>/.relman/bin/launch and rewritten
# whenever relman changes this host: local edits are lost.
#
#   launch [--release NAME|PATH] -- CMD [ARGS...]
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

_relman_usage='usage: launch [--release NAME|PATH] -- CMD [ARGS...]'

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
# The locked descriptor moves to fd 9 for CMD (a fresh dup: shells that open fds with
# close-on-exec, like ksh, can't drop it); the job and its children hold the lock.
exec "$@" 9<&8 8<&-
