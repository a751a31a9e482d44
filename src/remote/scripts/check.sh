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
if ! find /proc/self -maxdepth 0 -lname '*' >/dev/null 2>&1; then _c "find -lname" fail "jobs can't be seen (busybox find?)"; fi
if resolve_root; then
    if [ -w "$ROOT_ABS" ]; then _c root ok "$ROOT_ABS"; else _c root fail "$ROOT_ABS is not writable"; fi
    cd -P -- "$ROOT_ABS" || exit 1
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
