# unlock.sh: break a lock left behind. Params: ROOT LINK PREFIX PID HIST.
# Kills the holder only if it is a relman lock holder (its argv names .relman/lock),
# waits for the kernel to drop the flock, then records `unlock` in history.
# Prints FREE (nothing was held) or UNLOCKED.

resolve_root || { echo "the root $ROOT does not exist" >&2; exit 5; }
cd -P -- "$ROOT_ABS" || exit 1
for _p in .relman .relman/lock .relman/history.jsonl; do
    [ -L "$_p" ] && { echo "$ROOT_ABS/$_p is a symlink: relman will not write through it" >&2; exit 1; }
done
if [ ! -f .relman/lock ] || flock -n -s .relman/lock true; then
    echo FREE
    exit 0
fi
case $PID in '' | *[!0-9]*) echo "the lock file names no holder pid; find the holder with: fuser $ROOT_ABS/.relman/lock" >&2; exit 1 ;; esac
if grep -qa 'relman/lock' "/proc/$PID/cmdline" 2>/dev/null; then
    kill "$PID" 2>/dev/null || { echo "cannot kill the holder (pid $PID): not ours?" >&2; exit 1; }
else
    echo "pid $PID is not a relman lock holder; refusing to kill it" >&2
    exit 1
fi
_i=0
while ! flock -n -s .relman/lock true; do
    _i=$((_i + 1))
    [ "$_i" -gt 50 ] && { echo "the lock is still held after killing pid $PID" >&2; exit 1; }
    sleep 0.1
done
: >.relman/lock
hist_append "$HIST"
echo UNLOCKED
