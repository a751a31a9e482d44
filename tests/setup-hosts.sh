#!/bin/sh
# Prepares this machine to run relman's tests as production runs them: installs the
# programs the tests need (OpenSSH's sshd, tmux, flock, busybox, dash, shellcheck,
# and the build's cc, pkg-config, libssl-dev) and creates the test fleet's users.
# Idempotent; run as root (or with sudo). `tests/run.sh` calls it before `cargo test`.
#
# Users (all with a locked password, logins only by key through the tests' sshd):
#   relman-deploy  a non-root deploy user, login shell dash (/bin/sh)
#   relman-jobs    another user who runs batch jobs (not the deploy user)
#   relman-umask   a deploy user whose umask is 077 (login shell sets it, then dash)
#   relman-bbox    a deploy user whose tools are busybox applets (its login shell puts
#                  a directory of busybox applets first on PATH and runs busybox sh;
#                  util-linux's flock beside them: Debian's busybox has none)
# and /etc/sudoers.d/relman-test: relman-deploy may run /bin/sh as relman-jobs
# without a password (the job scan's `scan_sudo`).
# The wrappers live in /usr/local/lib/relman-test/.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -n sh "$0" "$@"
    fi
    echo "tests/setup-hosts.sh: run as root (it installs packages and creates test users)" >&2
    exit 1
fi

need=
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh-keygen >/dev/null 2>&1 || need="$need openssh-client"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v tmux >/dev/null 2>&1 || need="$need tmux"
command -v flock >/dev/null 2>&1 || need="$need util-linux"
command -v busybox >/dev/null 2>&1 || need="$need busybox"
command -v dash >/dev/null 2>&1 || need="$need dash"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v nc >/dev/null 2>&1 || need="$need netcat-openbsd"
command -v sudo >/dev/null 2>&1 || need="$need sudo"
dpkg -s libssl-dev >/dev/null 2>&1 || need="$need libssl-dev"
# A JDK: tests/fleet/spring_batch.rs compiles and runs a tiny Java main.
command -v javac >/dev/null 2>&1 || need="$need default-jdk-headless"
if [ -n "$need" ]; then
    echo "tests/setup-hosts.sh: installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $need >/dev/null
fi
# sshd (run by the tests, as root) wants its privilege-separation directory.
mkdir -p /run/sshd

lib=/usr/local/lib/relman-test
mkdir -p "$lib/bbox-bin"
# Each file is written beside its place and renamed there: re-running this while
# tests log in as these users never lets them exec a half-written shell.
cat >"$lib/umask077-sh.new" <<'EOF'
#!/bin/sh
# Login shell of relman-umask: a deploy user whose umask is 077.
umask 077
exec /bin/sh "$@"
EOF
cat >"$lib/busybox-sh.new" <<EOF
#!/bin/sh
# Login shell of relman-bbox: a host whose tools are busybox applets (and util-linux's
# flock, which Debian's busybox lacks).
PATH=$lib/bbox-bin
export PATH
exec $lib/bbox-bin/sh "\$@"
EOF
chmod 755 "$lib/umask077-sh.new" "$lib/busybox-sh.new"
mv -f "$lib/umask077-sh.new" "$lib/umask077-sh"
mv -f "$lib/busybox-sh.new" "$lib/busybox-sh"
bb=$(command -v busybox)
for applet in $("$bb" --list); do
    [ "$(readlink "$lib/bbox-bin/$applet")" = "$bb" ] || ln -sf "$bb" "$lib/bbox-bin/$applet"
done
fl=$(command -v flock)
[ "$(readlink "$lib/bbox-bin/flock")" = "$fl" ] || ln -sf "$fl" "$lib/bbox-bin/flock"

mkuser() {
    # mkuser NAME SHELL
    if ! id -u "$1" >/dev/null 2>&1; then
        useradd --create-home --shell "$2" "$1"
    else
        usermod --shell "$2" "$1"
    fi
    # Not locked (sshd without PAM refuses locked accounts), no password either.
    usermod -p '*' "$1"
}
mkuser relman-deploy /bin/sh
mkuser relman-jobs /bin/sh
mkuser relman-umask "$lib/umask077-sh"
mkuser relman-bbox "$lib/busybox-sh"

# relman's `scan_sudo`: the deploy user may run the job scan as the jobs user
# (`sudo -n -H -u relman-jobs /bin/sh -s`), without a password.
mkdir -p /etc/sudoers.d
_sf=/etc/sudoers.d/relman-test
printf '%s\n' "relman-deploy ALL=(relman-jobs) NOPASSWD: /bin/sh" >"$_sf.tmp"
chmod 0440 "$_sf.tmp"
if visudo -cf "$_sf.tmp" >/dev/null; then
    mv -f "$_sf.tmp" "$_sf"
else
    rm -f "$_sf.tmp"
    echo "tests/setup-hosts.sh: the sudoers rule does not check (visudo -cf)" >&2
    exit 1
fi
echo "tests/setup-hosts.sh: ready"
