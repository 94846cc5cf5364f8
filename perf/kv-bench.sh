#!/usr/bin/env bash
# kv-bench.sh: sluice masters against etcd 3.4, same machine, same run.
#
# Each system runs as 3 members on loopback, with its data directories on the
# same disk, equal Raft timers (heartbeat HB ms, election timeout ELECT ms:
# etcd --heartbeat-interval/--election-timeout, sluice --heartbeat-ms/
# --election-timeout-ms) and the same TLS set-up: one CA (sluice-ctrl init's;
# etcd's member certificate is signed by it too), client-certificate auth on
# the API of both, the same admin client certificate. perf/kvbench sends the
# same /v3/kv/put JSON to both:
#   puts/s, p50, p99 at 1, 16 and 256 closed-loop clients, 256-byte values,
#     clients spread over the 3 members (followers forward to the leader),
#     after 1 s (256 clients: 3 s) of unmeasured warm-up
#   failover: SIGKILL the leader while probers write every 5 ms to every
#     member; time to the first acknowledged write issued after the kill;
#     median of KV_KILLS kills (the member is restarted between kills)
# It starts and stops everything itself (by PID) and prints a table.
#
# Usage: kv-bench.sh [--only sluice|etcd] [--help]
# Env: SLUICE_BUILD (build dir), KV_SECONDS (per level, default 5),
#      KV_KILLS (default 5), KV_HB_MS (50), KV_ELECT_MS (500),
#      KV_CLIENTS ("1 16 256")
set -u

ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	--only) ONLY=${2:-}; shift 2 ;;
	-h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "kv-bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $ONLY in ''|sluice|etcd) ;; *) echo "kv-bench: --only: want sluice or etcd" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/lin/lib.sh"
BUILD=${SLUICE_BUILD:-$HERE/../build}
KVB=$BUILD/perf/kvbench
CTRL=$BUILD/ctrl/sluice-ctrl
SECS=${KV_SECONDS:-5}
KILLS=${KV_KILLS:-5}
HB=${KV_HB_MS:-50}
ELECT=${KV_ELECT_MS:-500}
CLIENTS=${KV_CLIENTS:-1 16 256}

[ -x "$KVB" ] || { echo "kv-bench: $KVB missing (ninja kvbench)" >&2; exit 2; }
TMP=$(mktemp -d "${KV_TMP:-$BUILD}/kv-bench.XXXXXX")
# 20 ports below the kernel's ephemeral range (32768 up), none listening.
port_block_free() {
	local p
	for ((p = $1; p < $1 + 20; p++)); do
		ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && return 1
	done
	return 0
}
BASE=$(( 20000 + ($$ % 600) * 20 ))
for ((try = 0; try < 600; try++)); do
	port_block_free $BASE && break
	BASE=$(( BASE + 20 > 31980 ? 20000 : BASE + 20 ))
done
declare -a PID=(0 0 0 0)
RESULTS=$TMP/results.txt
: > "$RESULTS"

stop_all() {
	local i
	for i in 1 2 3; do
		[ "${PID[$i]}" != 0 ] && kill "${PID[$i]}" 2>/dev/null
	done
	for i in 1 2 3; do
		# etcd can take > 6 s to exit on SIGTERM: wait for the PID before
		# the ports are reused.
		if [ "${PID[$i]}" != 0 ]; then
			lin_wait_pid "${PID[$i]}" 20 || { kill -9 "${PID[$i]}" 2>/dev/null; lin_wait_pid "${PID[$i]}" 10; }
		fi
		PID[$i]=0
	done
}
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT

# ------------------------------------------------------------------ PKI
SLUICE_OK=0
if [ "$ONLY" != etcd ] && [ -x "$CTRL" ]; then
	SM="1=m1,tcp://127.0.0.1:$((BASE+1)),https://127.0.0.1:$((BASE+2))"
	SM="$SM;2=m2,tcp://127.0.0.1:$((BASE+3)),https://127.0.0.1:$((BASE+4))"
	SM="$SM;3=m3,tcp://127.0.0.1:$((BASE+5)),https://127.0.0.1:$((BASE+6))"
	if "$CTRL" init --dir "$TMP/pki" --members "$SM" >"$TMP/init.log" 2>&1; then
		SLUICE_OK=1
	else
		echo "kv-bench: sluice-ctrl init failed; sluice is skipped:" >&2
		tail -3 "$TMP/init.log" >&2
	fi
fi
if [ $SLUICE_OK = 1 ]; then
	# etcd's member certificate from the same CA (serverAuth + clientAuth
	# for its peer port), so both systems do the same TLS work.
	(
	cd "$TMP/pki" || exit 1
	openssl ecparam -name prime256v1 -genkey -noout -out member.key 2>/dev/null
	openssl req -new -key member.key -subj /CN=etcd-member -out member.csr 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > member.ext
	openssl x509 -req -in member.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 2 -extfile member.ext -out member.crt 2>/dev/null
	) || { echo "kv-bench: openssl failed" >&2; exit 1; }
else
	lin_mkcerts "$TMP/pki" 127.0.0.1 || { echo "kv-bench: openssl failed" >&2; exit 1; }
fi
TLS=(--cacert "$TMP/pki/ca.crt" --cert "$TMP/pki/admin.crt" --key "$TMP/pki/admin.key")

# ------------------------------------------------------------------ systems
start_member() { # system i
	local sys=$1 i=$2
	if [ "$sys" = etcd ]; then
		local cl="m1=https://127.0.0.1:$((BASE+11)),m2=https://127.0.0.1:$((BASE+13)),m3=https://127.0.0.1:$((BASE+15))"
		etcd_start m$i "$TMP/etcd-m$i" https://127.0.0.1:$((BASE+10+2*i)) \
			https://127.0.0.1:$((BASE+9+2*i)) "$cl" "$TMP/pki" $HB $ELECT
		PID[$i]=$LIN_PID
	else
		"$CTRL" --role=master --name m$i --data-dir "$TMP/sluice-m$i" \
			--pki-dir "$TMP/pki" --members "$SM" \
			--api-listen 127.0.0.1:$((BASE+2*i)) --no-controllers \
			--heartbeat-ms $HB --election-timeout-ms $ELECT \
			>>"$TMP/sluice-m$i.log" 2>&1 &
		PID[$i]=$!
		disown "${PID[$i]}"
	fi
}
endpoint() { # system i
	if [ "$1" = etcd ]; then echo https://127.0.0.1:$((BASE+10+2*$2));
	else echo https://127.0.0.1:$((BASE+2*$2)); fi
}
endpoints() { echo "$(endpoint $1 1),$(endpoint $1 2),$(endpoint $1 3)"; }

# Index (1..3) of the member that is leader now, or nothing.
leader() {
	local sys=$1 i out
	for i in 1 2 3; do
		[ "${PID[$i]}" = 0 ] && continue
		if [ "$sys" = etcd ]; then
			out=$(curl -s --max-time 2 "${TLS[@]}" -X POST -d '{}' \
				"$(endpoint etcd $i)/v3/maintenance/status") || continue
			python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["header"]["member_id"]==d["leader"] else 1)' "$out" 2>/dev/null && { echo $i; return; }
		else
			out=$(curl -s --max-time 2 "${TLS[@]}" "$(endpoint sluice $i)/cluster/status") || continue
			python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["leader"] and d["leader"]==d["self"] else 1)' "$out" 2>/dev/null && { echo $i; return; }
		fi
	done
}

all_ready() { # system: every member answers a linearizable read
	local i
	for i in 1 2 3; do
		lin_kv_ready "$(endpoint $1 $i)" "$TMP/pki" 30 || return 1
	done
}

bench_system() {
	local sys=$1 i c k L out
	echo "== $sys: starting 3 members (heartbeat $HB ms, election timeout $ELECT ms); load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for i in 1 2 3; do start_member $sys $i; done
	if ! all_ready $sys; then
		echo "kv-bench: $sys did not become ready; member logs:" >&2
		tail -n 5 "$TMP"/$sys-m*.log >&2
		stop_all
		return 1
	fi
	for c in $CLIENTS; do
		out=$("$KVB" put --endpoints "$(endpoints $sys)" "${TLS[@]}" --clients $c \
			--seconds "$SECS" --warmup $((1 + c / 128)) --value-size 256 --label $sys 2>"$TMP/kvb.err")
		echo "$out" | grep -v '^RESULT'
		echo "$out" | grep '^RESULT' >> "$RESULTS"
		# the first errors, if any, say why
		head -n 3 "$TMP/kvb.err"
		echo "$out" | grep -q 'puts_per_s=0 ' && FAILED=1
	done
	for ((k = 1; k <= KILLS; k++)); do
		L=
		for ((i = 0; i < 50; i++)); do
			L=$(leader $sys)
			[ -n "$L" ] && break
			sleep 0.2
		done
		[ -n "$L" ] || { echo "kv-bench: $sys: no leader found" >&2; FAILED=1; break; }
		out=$("$KVB" failover --endpoints "$(endpoints $sys)" "${TLS[@]}" \
			--kill-pid "${PID[$L]}" --warmup 1 --interval-ms 5 --label $sys 2>"$TMP/kvb.err")
		echo "$out" | grep -v '^RESULT'
		echo "$out" | grep '^RESULT' >> "$RESULTS"
		if kill -0 "${PID[$L]}" 2>/dev/null; then
			# kvbench refused to kill (probers not ready): never start
			# a second process on the same data directory.
			echo "kv-bench: $sys: failover probe did not run:" >&2
			tail -n 3 "$TMP/kvb.err" >&2
			FAILED=1
			break
		fi
		lin_wait_pid "${PID[$L]}" 10
		start_member $sys $L
		all_ready $sys || { echo "kv-bench: $sys: m$L did not come back" >&2; FAILED=1; break; }
		sleep 2 # let the restarted member catch up before the next kill
	done
	echo "== $sys: done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	stop_all
}

echo "kv-bench: $(nproc) cores, $(uname -r), etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), ${SECS}s per level"
echo "kv-bench: TLS: one CA, client-certificate auth on both systems' APIs; git $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null)"
[ "$ONLY" != sluice ] && { command -v etcd >/dev/null || { echo "kv-bench: etcd missing (apt-get install etcd-server)" >&2; exit 2; }; }
FAILED=0
if [ "$ONLY" != etcd ]; then
	if [ $SLUICE_OK = 1 ]; then bench_system sluice || FAILED=1; else FAILED=1; fi
fi
if [ "$ONLY" != sluice ]; then bench_system etcd || FAILED=1; fi

# ------------------------------------------------------------------ table
python3 - "$RESULTS" "$HB" "$ELECT" <<'EOF'
import sys, statistics
rows, fo = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    kv = dict(x.split("=", 1) for x in f[2:])
    if f[1] == "put":
        rows[(kv["system"], int(kv["clients"]))] = kv
    else:
        fo.setdefault(kv["system"], []).append(float(kv["ms"]))
print()
print("%-8s %8s %10s %9s %9s %7s" % ("system", "clients", "puts/s", "p50 ms", "p99 ms", "errors"))
for (s, c) in sorted(rows, key=lambda k: (k[1], k[0] != "sluice")):
    r = rows[(s, c)]
    print("%-8s %8d %10s %9s %9s %7s" % (s, c, r["puts_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]))
cl = sorted({c for (_, c) in rows})
for c in cl:
    if ("sluice", c) in rows and ("etcd", c) in rows:
        a, b = float(rows[("sluice", c)]["puts_per_s"]), float(rows[("etcd", c)]["puts_per_s"])
        print("sluice/etcd throughput at %d clients: %.2fx" % (c, a / b if b else float("inf")))
print()
print("failover (SIGKILL leader -> first acked write), heartbeat %s ms, election timeout %s ms:" % (sys.argv[2], sys.argv[3]))
for s, v in fo.items():
    ok = [x for x in v if x >= 0]
    med = "%.0f ms" % statistics.median(ok) if ok else "none"
    print("  %-8s median %s over %d kills (each: %s)" % (s, med, len(v), ", ".join("%.0f" % x for x in v)))
EOF
[ $FAILED = 0 ] || { echo "kv-bench: FAILED: a system did not start or a level made no progress (see above)" >&2; exit 1; }
