#!/usr/bin/env bash
# Deploy benchmarks (not a test: nothing here asserts a time).
#
#   bench/deploy.sh [RUNS]        (default 5; needs /usr/sbin/sshd, scp, ssh-keygen)
#
# Starts one OpenSSH sshd on 127.0.0.1 (a throwaway host key, client key and deploy
# root in a temporary directory) and measures, RUNS times each, interleaved so load
# drifts hit both sides alike:
#   1. a 256 MiB file: `relman deploy` (whole command: hash, connect, scan, lock,
#      stage, upload, verify on the host, publish, switch) vs OpenSSH `scp` of the
#      same file vs `ssh host 'cat > f'`; the content changes before every relman
#      run so nothing can be hard-linked;
#   2. 50 files of 2 MiB: a full deploy into an empty root vs a delta redeploy with
#      one file changed (time and bytes sent, from --json);
#   3. hashing while receiving vs reading back, over OpenSSH: `ssh host 'tee f |
#      openssl dgst -sha256'` and `ssh host 'cat > f; openssl dgst -sha256 f'` (what
#      relman's upload + verify do) vs the bare `cat > f` of (1).
# Prints medians as Markdown (for BENCHMARKS.md). RELMAN_BIN overrides the binary.
# BENCH_USER=name logs in as that (existing, unlocked) user instead of yourself:
# every exec pays the login shell's start-up (bash reads ~/.bashrc even for
# `ssh host cmd`), so a heavy .bashrc weighs on relman's ~7 round trips and on
# none of scp's (internal-sftp starts no shell); the table shows that cost.
set -euo pipefail

RUNS=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${RELMAN_BIN:-}" ]; then
    (cd "$here" && cargo build --profile profiling --quiet --bin relman)
    RELMAN_BIN=$here/target/profiling/relman
fi
SSHD=/usr/sbin/sshd

work=$(mktemp -d /tmp/relman-bench.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" -C bench-host
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key" -C bench-client
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
user=${BENCH_USER:-$(id -un)}
port=$((20000 + RANDOM % 20000))
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile none
UsePAM no
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
AuthorizedKeysFile $work/client_key.pub
Subsystem sftp internal-sftp
UseDNS no
EOF
"$SSHD" -D -f "$work/sshd_config" -E "$work/sshd.log" &
pid=$!
for _ in $(seq 100); do
    grep -q "Server listening" "$work/sshd.log" 2>/dev/null && break
    sleep 0.05
done
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
root=$work/root
chmod 755 "$work"
[ -n "${BENCH_USER:-}" ] && mkdir -p "$root" && chown "$BENCH_USER" "$root" "$work"

cat >"$work/relman.toml" <<EOF
known_hosts = "$work/known_hosts"
[[hosts]]
name = "h1"
address = "127.0.0.1"
port = $port
user = "$user"
identity = "$work/client_key"
root = "$root"
EOF
export RELMAN_CONFIG=$work/relman.toml
unset SSH_AUTH_SOCK
sshopts=(-i "$work/client_key" -o "UserKnownHostsFile=$work/known_hosts" -o StrictHostKeyChecking=yes
    -o BatchMode=yes -o LogLevel=ERROR)

now() { date +%s.%N; }
# a step's time (ms) from relman's --json
# (none: a step this binary does not time, e.g. `scan` once it went into `lock`)
step_ms() { tr -d ' \n' | { grep -o "\"$1\":[0-9]*" || true; } | head -n1 | cut -d: -f2; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# keep only the live release (outside the timings)
tidy() {
    local live
    live=$(readlink "$root/batch" 2>/dev/null || true)
    for d in "$root"/batch_*; do
        [ -e "$d" ] || continue
        [ "${d##*/}" = "$live" ] || rm -rf "$d"
    done
}

big=$work/big.bin
head -c $((256 << 20)) /dev/urandom >"$big"
: >"$work/t_relman"
: >"$work/t_scp"
: >"$work/t_cat"
: >"$work/t_upload"
: >"$work/t_true"
: >"$work/t_tee"
: >"$work/t_back"
# The hasher the host's verify uses (stage.sh: openssl when present, else sha256sum).
hasher=sha256sum
command -v openssl >/dev/null 2>&1 && hasher='openssl dgst -sha256 -r'
# CPU of the whole machine (all processes: client, sshd, the host's shell), in
# core-seconds busy, from /proc/stat (user+nice+system+irq+softirq ticks).
busy() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8) / 100 }' /proc/stat; }
: >"$work/c_scp"
: >"$work/c_relman"
for i in $(seq "$RUNS"); do
    b0=$(busy)
    t0=$(now)
    scp -q "${sshopts[@]}" -P "$port" "$big" "$user@127.0.0.1:$work/scp.out"
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_scp"
    calc "($(busy) - $b0) / ($t1 - $t0)" >>"$work/c_scp"

    printf '%016d' "$i" | dd of="$big" bs=16 count=1 conv=notrunc status=none
    b0=$(busy)
    t0=$(now)
    "$RELMAN_BIN" deploy --host h1 --json "$big" >"$work/out.json"
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_relman"
    calc "($(busy) - $b0) / ($t1 - $t0)" >>"$work/c_relman"
    calc "$(step_ms upload <"$work/out.json") / 1000" >>"$work/t_upload"
    for st in connect lock scan prepare upload verify publish switch; do
        step_ms "$st" <"$work/out.json" >>"$work/step_$st"
    done
    tidy

    t0=$(now)
    ssh "${sshopts[@]}" -p "$port" "$user@127.0.0.1" true
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_true"

    t0=$(now)
    ssh "${sshopts[@]}" -p "$port" "$user@127.0.0.1" "cat > '$work/cat.out'" <"$big"
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_cat"
    rm -f "$work/cat.out"
    ssh "${sshopts[@]}" -p "$port" "$user@127.0.0.1" "tee '$work/cat.out' | $hasher >/dev/null" <"$big"
    t2=$(now)
    calc "$t2 - $t1" >>"$work/t_tee"
    rm -f "$work/cat.out"
    ssh "${sshopts[@]}" -p "$port" "$user@127.0.0.1" "cat > '$work/cat.out' && $hasher '$work/cat.out' >/dev/null" <"$big"
    calc "$(now) - $t2" >>"$work/t_back"
    rm -f "$work/scp.out" "$work/cat.out"
done
r=$(median <"$work/t_relman")
s=$(median <"$work/t_scp")
c=$(median <"$work/t_cat")
u=$(median <"$work/t_upload")
tr=$(median <"$work/t_true")

# 50 files of 2 MiB: full deploy vs delta redeploy with one file changed.
app=$work/app
mkdir -p "$app/lib"
for n in $(seq -w 1 50); do head -c $((2 << 20)) /dev/urandom >"$app/lib/part-$n.jar"; done
: >"$work/t_full"
: >"$work/t_delta"
for i in $(seq "$RUNS"); do
    rm -rf "$root"
    t0=$(now)
    full_bytes=$("$RELMAN_BIN" deploy --host h1 --json "$app" | sed -n 's/.*"uploaded_bytes": \([0-9]*\).*/\1/p')
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_full"
    head -c $((2 << 20)) /dev/urandom >"$app/lib/part-17.jar"
    t0=$(now)
    delta_bytes=$("$RELMAN_BIN" deploy --host h1 --json "$app" | sed -n 's/.*"uploaded_bytes": \([0-9]*\).*/\1/p')
    t1=$(now)
    calc "$t1 - $t0" >>"$work/t_delta"
done
full=$(median <"$work/t_full")
delta=$(median <"$work/t_delta")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "Machine: $(nproc) cores ($cpu), load $(cut -d' ' -f1-3 /proc/loadavg); $(ssh -V 2>&1); $RUNS runs, medians"
echo
echo "| 256 MiB to one host (loopback) | seconds | MB/s |"
echo "| --- | ---: | ---: |"
printf '| relman deploy (whole command) | %.2f | %.0f |\n' "$r" "$(calc "268.435456 / $r")"
printf '| relman: its upload step alone (one exec) | %.2f | %.0f |\n' "$u" "$(calc "268.435456 / $u")"
printf '| OpenSSH scp | %.2f | %.0f |\n' "$s" "$(calc "268.435456 / $s")"
printf '| OpenSSH ssh host '"'"'cat > f'"'"' | %.2f | %.0f |\n' "$c" "$(calc "268.435456 / $c")"
printf '| **ratio relman deploy / scp** | **%.2f** | |\n' "$(calc "$r / $s")"
printf '| ratio relman upload step / scp | %.2f | |\n' "$(calc "$u / $s")"
printf '| (one `ssh host true`: handshake + login shell) | %.2f | |\n' "$tr"
# What a verified deploy must add to scp's work: the sha256 of every byte (warm
# cache), with the hasher the host's verify uses (openssl when present).
t0=$(now)
if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 "$big" >/dev/null; else sha256sum "$big" >/dev/null; fi
hash=$(calc "$(now) - $t0")
echo
echo "| CPU (whole machine, $(nproc) cores) | cores busy on average |"
echo "| --- | ---: |"
printf '| during scp | %.2f |\n' "$(median <"$work/c_scp")"
printf '| during relman deploy | %.2f |\n' "$(median <"$work/c_relman")"
printf '| sha256 of the 256 MiB alone, as verify hashes (s, one core) | %.2f |\n' "$hash"
tee_s=$(median <"$work/t_tee")
back_s=$(median <"$work/t_back")
echo
echo "| 256 MiB over OpenSSH ssh, loopback | seconds | / bare cat |"
echo "| --- | ---: | ---: |"
printf '| `cat > f` (bare transfer) | %.2f | 1.00 |\n' "$c"
printf '| `tee f \| %s` (hash while receiving) | %.2f | %.2f |\n' "$hasher" "$tee_s" "$(calc "$tee_s / $c")"
printf '| `cat > f; %s f` (read back, as upload + verify) | %.2f | %.2f |\n' "$hasher" "$back_s" "$(calc "$back_s / $c")"
echo
printf 'relman deploy steps (median ms):'
for st in connect lock scan prepare upload verify publish switch; do
    [ -s "$work/step_$st" ] && printf ' %s %s' "$st" "$(median <"$work/step_$st")"
done
echo
echo
echo "| 50 files x 2 MiB, one host | seconds | bytes sent |"
echo "| --- | ---: | ---: |"
printf '| full deploy (empty root) | %.2f | %s |\n' "$full" "$full_bytes"
printf '| delta redeploy, 1 file changed | %.2f | %s |\n' "$delta" "$delta_bytes"
