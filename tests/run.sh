#!/bin/sh
# The README's test command: prepares this machine (tests/setup-hosts.sh installs
# sshd, tmux, busybox, shellcheck, ... and creates the test fleet's users), checks
# the shell scripts with shellcheck, then runs `cargo test --locked` with the
# arguments given (e.g. `tests/run.sh --test fleet cli_link::`).
#
# The tests start real sshd hosts whose deploy users are other users than the one
# running the tests: they run as root. Run by another user, this script re-runs
# itself with sudo (it asks for a password only on a terminal), building and
# fetching as that user first so the build stays theirs (the root run builds into
# target/as-root).
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    sudo_flags=-n
    [ -t 0 ] && sudo_flags=
    if ! command -v sudo >/dev/null 2>&1 ||
        { [ -n "$sudo_flags" ] && ! sudo -n true 2>/dev/null; }; then
        echo "tests/run.sh: run it as root, or as a user who may sudo: the tests install" \
            "packages, create test users and start sshd hosts that log them in" >&2
        exit 1
    fi
    cargo fetch --locked
    # shellcheck disable=SC2086
    exec sudo $sudo_flags env \
        PATH="$PATH" \
        CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
        RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/as-root}" \
        CARGO_NET_OFFLINE=true \
        sh tests/run.sh "$@"
fi

sh tests/setup-hosts.sh

# Every shell script relman sends to hosts, and the tests' own: POSIX sh, clean.
echo "tests/run.sh: shellcheck -s sh src/remote/scripts/*.sh tests/*.sh"
shellcheck -s sh src/remote/scripts/*.sh tests/*.sh

exec cargo test --locked "$@"
