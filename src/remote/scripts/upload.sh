# upload.sh: receive a deploy's files into .relman/staging/NAME (ops/deploy).
# Params: ROOT TOKEN NAME. Run with `sh -c` (stdin carries the data, so the script
# can't come on stdin); it stays short and names no release path, since the job
# scan greps every process's argv.
# Stdin: per file a line `<size> <path>` then exactly <size> bytes; a line `.` ends.
# A big file may come in parts over several receivers at once (plan::upload): a
# line `<size>@<offset> <path>`, the offset a multiple of 1 MiB, the part written
# in place there. A part never unlinks: relman cuts only files that prepare did not
# link, and a part refuses a file with another link (never the live release's).
# `read` takes a line byte by byte from a pipe, and `dd iflag=fullblock` reads
# exactly what it is told, so the framing holds; sizes and hashes are checked by
# stage.sh's verify step. Prints `RECEIVED <n>`.
# Unlike the other mutating scripts it does not hold .relman/lock.ops: it spends
# its life blocked on stdin, and a frozen relman would then keep every later
# operation waiting. It only ever writes inside its own staging directory, which
# never becomes a release without stage.sh's verify and publish (both under the
# token check), so an orphaned receiver can't harm what comes next.
set -u
cd || exit 97
cd -P -- "$ROOT" 2>/dev/null || { echo "cannot enter the root $ROOT" >&2; exit 1; }
_root=$(pwd -P)
# On a full disk (df: under 1 MiB free) a failed write says so: NOSPACE <root>
# <bytes free> on stderr, exit 28 (ENOSPC).
write_failed() {
    _free=$(df -P -k . 2>/dev/null | awk 'NR == 2 { print $4 * 1024 }')
    case $_free in '' | *[!0-9]*) _free= ;; esac
    if [ -n "$_free" ] && [ "$_free" -lt 1048576 ]; then
        printf 'NOSPACE\t%s\t%s\n' "$_root" "$_free" >&2
        exit 28
    fi
    echo "cannot write $1 on the host" >&2
    exit 1
}
grep -qF "\"token\":\"$TOKEN\"" .relman/lock 2>/dev/null || { echo "the host lock was lost" >&2; exit 4; }
cd -P -- ".relman/staging/$NAME" 2>/dev/null || { echo "the staging directory is missing" >&2; exit 1; }
_mb=1048576
_n=0
while IFS= read -r _h; do
    if [ "$_h" = . ]; then printf 'RECEIVED\t%s\n' "$_n"; exit 0; fi
    _s=${_h%% *}
    _p=${_h#* }
    _o=-
    case $_s in *@*) _o=${_s#*@} _s=${_s%%@*} ;; esac
    case $_s in '' | *[!0-9]*) echo "bad upload frame" >&2; exit 1 ;; esac
    case $_o in - | 0) ;; '' | 0* | *[!0-9]*) echo "bad upload frame" >&2; exit 1 ;; esac
    case /$_p/ in */../* | */./* | *//*) echo "unsafe path refused: $_p" >&2; exit 1 ;; esac
    if [ "$_o" != - ]; then
        # A part: at least 1 MiB at a MiB boundary, into a file of ours alone.
        if [ $((_o % _mb)) -ne 0 ] || [ "$_s" -lt "$_mb" ]; then echo "bad upload frame" >&2; exit 1; fi
        if [ -L "./$_p" ] || { [ -e "./$_p" ] && [ "$(stat -c %h -- "./$_p")" != 1 ]; }; then
            echo "refused to write a part into a linked file: $_p" >&2
            exit 1
        fi
        # Both dd share the descriptor `1<>` opened (no truncation): the second
        # goes on where the first stopped.
        {
            dd bs=$_mb seek=$((_o / _mb)) count=$((_s / _mb)) iflag=fullblock conv=notrunc 2>/dev/null &&
                if [ $((_s % _mb)) -gt 0 ]; then
                    dd bs=$((_s % _mb)) count=1 iflag=fullblock conv=notrunc 2>/dev/null
                fi
        } 1<>"./$_p" 2>/dev/null || write_failed "$_p"
        _n=$((_n + 1))
        continue
    fi
    # Never write through a hard link into the live release.
    if [ -e "./$_p" ] || [ -L "./$_p" ]; then rm -f -- "./$_p" || exit 1; fi
    # dd stops short only at the end of the stream, which the next `read` then
    # reports; a write error (disk full) is its exit status. One process per file
    # under 1 MiB, two above.
    if [ "$_s" -eq 0 ]; then
        { : >"./$_p"; } 2>/dev/null
    elif [ "$_s" -lt "$_mb" ]; then
        dd of="./$_p" bs="$_s" count=1 iflag=fullblock 2>/dev/null
    else
        {
            dd bs=$_mb count=$((_s / _mb)) iflag=fullblock 2>/dev/null &&
                if [ $((_s % _mb)) -gt 0 ]; then
                    dd bs=$((_s % _mb)) count=1 iflag=fullblock 2>/dev/null
                fi
        } >"./$_p"
    fi 2>/dev/null || write_failed "$_p"
    _n=$((_n + 1))
done
echo "the upload stream ended early" >&2
exit 1
