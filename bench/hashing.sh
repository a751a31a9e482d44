#!/usr/bin/env bash
# Hashing while receiving vs reading back (issue 17 target 1; not a test).
#
#   bench/hashing.sh [RUNS]   (default 3; as root: needs /usr/sbin/sshd, openssl)
#
# Starts one sshd on 127.0.0.1 and sends 256 MiB over `ssh host CMD` as the test
# fleet's deploy user (BENCH_USER, default relman-deploy), interleaved:
#   cat > f                          the bare transfer (the baseline);
#   tee f | openssl dgst -sha256     hashed while received (what an upload could do);
#   cat > f; openssl dgst -sha256 f  received, then read back and hashed (what
#                                    relman's upload + verify do today).
# Prints medians and ratios to the baseline as Markdown.
set -euo pipefail
RUNS=${1:-3}
user=${BENCH_USER:-relman-deploy}
work=$(mktemp -d /tmp/relman-hashing.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
ssh-keygen -q -t ed25519 -N '' -f "$work/hk"
ssh-keygen -q -t ed25519 -N '' -f "$work/ck"
port=$((20000 + RANDOM % 20000))
cat >"$work/sshd_config" <<E2
Port $port
ListenAddress 127.0.0.1
HostKey $work/hk
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile $work/ck.pub
E2
mkdir -p /run/sshd
chown "$user" "$work"
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/log" &
pid=$!
for _ in $(seq 100); do
    grep -q "Server listening" "$work/log" 2>/dev/null && break
    sleep 0.05
done
big=$work/big.bin
head -c $((256 << 20)) /dev/urandom >"$big"
o=(-i "$work/ck" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
    -p "$port" "$user@127.0.0.1")
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
: >"$work/t_cat"
: >"$work/t_tee"
: >"$work/t_back"
for _ in $(seq "$RUNS"); do
    t0=$(now)
    ssh "${o[@]}" "cat > '$work/a'" <"$big"
    t1=$(now)
    ssh "${o[@]}" "tee '$work/b' | openssl dgst -sha256 -r >/dev/null" <"$big"
    t2=$(now)
    ssh "${o[@]}" "cat > '$work/c' && openssl dgst -sha256 -r '$work/c' >/dev/null" <"$big"
    t3=$(now)
    calc "$t1 - $t0" >>"$work/t_cat"
    calc "$t2 - $t1" >>"$work/t_tee"
    calc "$t3 - $t2" >>"$work/t_back"
    rm -f "$work/a" "$work/b" "$work/c"
done
c=$(median <"$work/t_cat")
t=$(median <"$work/t_tee")
b=$(median <"$work/t_back")
echo "Machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs, medians"
echo
echo "| 256 MiB over ssh, loopback | seconds | / bare transfer |"
echo "| --- | ---: | ---: |"
printf '| `cat > f` (bare transfer) | %.2f | 1.00 |\n' "$c"
printf '| `tee f \\| openssl dgst -sha256` (hash while receiving) | %.2f | %.2f |\n' "$t" "$(calc "$t / $c")"
printf '| `cat > f; openssl dgst -sha256 f` (read back) | %.2f | %.2f |\n' "$b" "$(calc "$b / $c")"
