# session.sh: one shell per SSH connection that runs relman's scripts one after
# another (remote/ssh/shell.rs), so the login shell (and a heavy rc file) starts once
# per connection instead of once per script, and a script costs no channel of its own.
# Run with `sh -c` (bare: its text is in argv and names no root or release).
# stdin, per script: a header line `<bytes> <token>`, then exactly that many bytes,
# the script (a `{ ... }` group: cut short in transit, it is a syntax error that runs
# nothing). The script runs in `sh -s` from the user's home; after it this shell
# writes `\n<token> <status>\n` on stdout and `\n<token>\n` on stderr, which end its
# output there. A bad header ends the session (relman then opens another).
# A header of 0 bytes runs nothing and is answered at once: a ping.
while IFS= read -r _h; do
    _n=${_h%% *}
    _t=${_h#* }
    case $_n in '' | *[!0-9]*) exit 2 ;; esac
    case $_t in '' | *[!0-9A-Za-z-]*) exit 2 ;; esac
    _rc=0
    # `read` took the header byte by byte; dd takes exactly the script (as upload.sh).
    # 0 bytes: a ping (relman checks an idle connection before it sends a script).
    if [ "$_n" -gt 0 ]; then
        dd bs="$_n" count=1 iflag=fullblock 2>/dev/null | sh -s
        _rc=$?
    fi
    printf '\n%s %s\n' "$_t" "$_rc"
    printf '\n%s\n' "$_t" >&2
done
