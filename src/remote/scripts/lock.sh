# lock.sh: hold the host's lock for as long as relman keeps this command alive.
# Params: ROOT OWNER (a JSON object without its closing brace) WAIT (seconds),
# OPS_WAIT (seconds to wait for the scripts of an interrupted operation), THEN (1: a
# script to run under the lock comes first on stdin, see below).
# Run with `sh -c`; stdin carries heartbeats (a newline every few seconds). The lock
# is an flock on .relman/lock held by this shell: it ends, and the kernel drops the
# lock, on EOF (relman exited or its connection closed) or after 8 s without a
# heartbeat (the network vanished), so a crashed operator can't leave it behind.
# Answers (one line): LOCKED <root>, BUSY <owner>, ERR <message>, or why the root
# can't be written: READONLY <root> (a read-only file system), NOSPACE <root>
# <bytes free> (the disk is full).
# THEN=1: stdin starts with a script's length in bytes on a line, then its text
# (sent before any heartbeat). Once LOCKED, the holder runs it with `sh -s` from the
# user's home, its output following the LOCKED line, then answers DONE <status>
# <its last line of stderr>: the scan under the lock without a round trip of its
# own (and with nothing in argv, which the job scan greps).
set -u
# Not lib.sh's preamble (a bare script): the same umask, so a root and a .relman
# made here are usable by other users' jobs whatever the deploy user's umask.
umask 022

# unwritable WHAT: says why WHAT (in the root, the cwd) could not be written, and
# exits. A redirection's own error text depends on the shell; touch's, in the C
# locale, says EROFS plainly; a full disk shows in df.
unwritable() {
    _t=.relman
    [ -d "$_t" ] || _t=.
    case $(LC_ALL=C touch -c -- "$_t" 2>&1) in
    *"Read-only file system"*)
        printf 'READONLY\t%s\n' "$(pwd -P)"
        exit 1
        ;;
    esac
    _free=$(df -P -k . 2>/dev/null | awk 'NR == 2 { print $4 * 1024 }')
    case $_free in
    '' | *[!0-9]*) _free= ;;
    esac
    if [ -n "$_free" ] && [ "$_free" -lt 65536 ]; then
        printf 'NOSPACE\t%s\t%s\n' "$(pwd -P)" "$_free"
        exit 1
    fi
    echo "ERR cannot write $1 in $(pwd -P)"
    exit 1
}
cd || exit 97
mkdir -p -- "$ROOT" 2>/dev/null
if [ -L "$ROOT" ] && [ ! -e "$ROOT" ]; then
    echo "ERR the root $ROOT is a symlink to $(readlink -- "$ROOT" | tr -d '\n\r\t'), which does not exist"
    exit 1
fi
[ -d "$ROOT" ] || [ ! -e "$ROOT" ] || { echo "ERR the root $ROOT is not a directory"; exit 1; }
cd -P -- "$ROOT" 2>/dev/null || { echo "ERR cannot enter the root $ROOT"; exit 1; }
# Every change goes through here first: never write through a symlink planted in
# relman's state (it could point anywhere outside the root).
for _p in .relman .relman/lock .relman/lock.ops .relman/history.jsonl .relman/staging \
    .relman/pins .relman/bin .relman/run .relman/trash; do
    [ -L "$_p" ] && { echo "ERR $(pwd -P)/$_p is a symlink: relman will not write through it"; exit 1; }
done
mkdir -p .relman/pins .relman/staging .relman/bin .relman/run 2>/dev/null || unwritable .relman
command -v flock >/dev/null 2>&1 || { echo "ERR flock (util-linux) is missing on the host"; exit 1; }
# `command`: a failed redirection of a plain `exec` ends the shell before it can say why.
{ command exec 9>>.relman/lock; } 2>/dev/null || unwritable .relman/lock
if ! flock -w "$WAIT" 9; then
    printf 'BUSY\t'
    head -c 4096 .relman/lock | tr '\t\n\r' '   '
    printf '\n'
    exit 4
fi
# A remote command outlives its SSH session: scripts of an operation whose relman
# died may still run. They hold .relman/lock.ops shared (check_token); wait for
# them, and write our token before letting any script check it.
{ command exec 8>>.relman/lock.ops; } 2>/dev/null || unwritable .relman/lock.ops
if ! flock -x -w "$OPS_WAIT" 8; then
    printf 'BUSY\t{"by":"an interrupted operation","action":"its last step still runs on the host","since":""}\n'
    exit 4
fi
# Checked: on a full disk the owner (and its token) would be lost, and every step
# after would say the lock was taken by someone else.
{ printf '%s,"pid":%s}\n' "$OWNER" "$$" >.relman/lock; } 2>/dev/null || unwritable .relman/lock
exec 8>&-
printf 'LOCKED\t%s\n' "$(pwd -P)"
if [ "${THEN:-0}" = 1 ]; then
    IFS= read -r _n || exit 0
    case $_n in
    '' | *[!0-9]*)
        printf 'DONE\t97\tno script length on stdin\n'
        : >.relman/lock
        exit 1
        ;;
    esac
    # `read` took the length line byte by byte; dd takes exactly the script (as
    # upload.sh does). Its stdout follows ours; its stderr is kept for DONE.
    exec 3>&1
    _e=$( (cd && dd bs="$_n" count=1 iflag=fullblock 2>/dev/null | sh -s 2>&1 >&3 3>&-) 9>&-)
    _rc=$?
    exec 3>&-
    printf 'DONE\t%s\t%s\n' "$_rc" "$(printf '%s\n' "$_e" | tail -n 1 | tr -d '\t\r')"
fi
while timeout 8 sh -c 'IFS= read -r _l' 9>&-; do :; done
: >.relman/lock
