# tests/lin/lib.sh: shell helpers shared by tests/lin/lin_faults.sh and
# perf/kv-bench.sh. Source it; it defines functions only.
#
#   lin_mkcerts DIR IP...      openssl CA + one cert per member (serverAuth
#                              and clientAuth, SANs = the IPs + 127.0.0.1)
#                              + an admin client cert (CN admin)
#   etcd_start NAME DATA CLIENT_URL PEER_URL CLUSTER CERTS HB_MS ELECT_MS [NETNS]
#                              starts one etcd 3.4 member in the background,
#                              client-cert auth on both ports; sets LIN_PID
#                              (disowned: bash reaps it silently)
#   lin_wait_pid PID [SECS]    wait for a process we started to be gone
#   lin_kv_ready URL CERTS [SECS]  until a linearizable range answers 200
#
# Every process is started by us and stopped by PID; nothing here touches
# anything the caller did not create.

lin_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

lin_mkcerts() {
	local dir=$1; shift
	mkdir -p "$dir"
	(
	cd "$dir" || exit 1
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
	openssl req -x509 -new -key ca.key -subj /CN=lin-ca -days 2 -out ca.crt 2>/dev/null
	local sans="IP:127.0.0.1,DNS:localhost" ip
	for ip in "$@"; do sans="$sans,IP:$ip"; done
	local n
	for n in member admin; do
		openssl ecparam -name prime256v1 -genkey -noout -out $n.key 2>/dev/null
		openssl req -new -key $n.key -subj /CN=$n -out $n.csr 2>/dev/null
		if [ $n = member ]; then
			printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" > $n.ext
		else
			printf 'extendedKeyUsage=clientAuth\n' > $n.ext
		fi
		openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 2 -extfile $n.ext -out $n.crt 2>/dev/null
	done
	) || return 1
	[ -s "$dir/admin.crt" ] && [ -s "$dir/member.crt" ]
}

# etcd reads ETCD_UNSUPPORTED_ARCH on arches other than amd64/arm64/ppc64le.
etcd_start() {
	local name=$1 data=$2 curl_=$3 purl=$4 cluster=$5 certs=$6 hb=$7 el=$8 ns=${9:-}
	local -a pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	ETCD_UNSUPPORTED_ARCH=$(dpkg --print-architecture 2>/dev/null) \
	"${pre[@]}" etcd --name "$name" --data-dir "$data" \
		--listen-client-urls "$curl_" --advertise-client-urls "$curl_" \
		--listen-peer-urls "$purl" --initial-advertise-peer-urls "$purl" \
		--initial-cluster "$cluster" --initial-cluster-state new \
		--initial-cluster-token "lin-$$" \
		--cert-file "$certs/member.crt" --key-file "$certs/member.key" \
		--trusted-ca-file "$certs/ca.crt" --client-cert-auth \
		--peer-cert-file "$certs/member.crt" --peer-key-file "$certs/member.key" \
		--peer-trusted-ca-file "$certs/ca.crt" --peer-client-cert-auth \
		--heartbeat-interval "$hb" --election-timeout "$el" \
		--logger zap --log-outputs "$data.log" >/dev/null 2>&1 &
	LIN_PID=$!
	# Out of the job table: bash then reaps it silently when we SIGKILL
	# it (no "Killed" job notices); lin_wait_pid polls the PID.
	disown "$LIN_PID"
}

lin_wait_pid() {
	local pid=$1 secs=${2:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	return 1
}

lin_kv_ready() {
	local url=$1 certs=$2 secs=${3:-30} i
	for ((i = 0; i < secs * 5; i++)); do
		if curl -sf -o /dev/null --max-time 2 --cacert "$certs/ca.crt" \
			--cert "$certs/admin.crt" --key "$certs/admin.key" \
			-X POST -d '{"key":"cmVhZHk="}' "$url/v3/kv/range"; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
