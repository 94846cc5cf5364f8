#!/usr/bin/env bash
# xdp_netns: the uplink program steers pod-CIDR traffic into a real AF_XDP
# socket while the node's own IP keeps working through the kernel.
#
#   netns xsn$$ (node)                          netns xsp$$ (peer)
#  +-------------------------------------+     +---------------------------+
#  | xsa$$ 10.99.0.1/24                  |=====| xsb$$ 10.99.0.2/24        |
#  |  XDP sluice_uplink (native, skb)    |veth | route 10.244.1.0/24       |
#  |  XSK on rx queue 0 <- 10.244.1.0/24 |     |   via 10.99.0.1           |
#  |  kernel <- everything else          |     | ping 10.99.0.1            |
#  +-------------------------------------+     | udp -> 10.244.1.5:9999    |
#                                              +---------------------------+
# For each attach mode: ping the node (ARP + ICMP must be answered by the
# node's kernel), send UDP datagrams carrying a marker to a pod address
# (must arrive on the XSK, checked by the helper parsing the frame), ping
# again, then the helper checks the per-reason counters. Mode "adopt":
# iproute2 attaches uplink.bpf.o (as DPDK's af_xdp PMD does with
# xdp_prog=), the helper takes it over with xdp_steer_adopt(), and the
# program must still be attached after the helper exits. Mode "pmd": the
# same with dpdk-testpmd's af_xdp PMD as the loader and the XSK owner.
#
# usage: xdp_netns.sh PATH/TO/xdp_netns_helper PATH/TO/uplink.bpf.o
# exit: 0 pass, 1 fail, 77 skip (not root, no netns, BPF refused).
set -u

helper=$1
obj=$2
ns_node=xsn$$
ns_peer=xsp$$
if_node=xsa$$
if_peer=xsb$$
tmp=$(mktemp -d /tmp/xdp_netns.XXXXXX)
helper_pid=
pmd_pid=

cleanup() {
	for pid in $helper_pid $pmd_pid; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns del "$ns_node" 2>/dev/null
	ip netns del "$ns_peer" 2>/dev/null
	rm -rf "$tmp"
	# testpmd's runtime dir (telemetry socket) outlives --in-memory
	rm -rf "/var/run/dpdk/xsteer$$"
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$tmp/helper.log" ] && sed 's/^/  helper: /' "$tmp/helper.log"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root"
ip netns add "$ns_node" 2>/dev/null || skip "cannot create a netns"
ip netns add "$ns_peer" || fail "netns $ns_peer"
ip -n "$ns_node" link add "$if_node" type veth peer name "$if_peer" netns "$ns_peer" ||
	fail "veth pair"
ip -n "$ns_node" link set lo up
ip -n "$ns_peer" link set lo up
ip -n "$ns_node" addr add 10.99.0.1/24 dev "$if_node"
ip -n "$ns_peer" addr add 10.99.0.2/24 dev "$if_peer"
ip -n "$ns_node" link set "$if_node" up
ip -n "$ns_peer" link set "$if_peer" up
ip -n "$ns_peer" route add 10.244.1.0/24 via 10.99.0.1

marker=sluice-xdp-steer-marker
for mode in native skb adopt; do
	echo "# mode $mode"
	rm -f "$tmp"/ready "$tmp"/done "$tmp"/helper.log
	# Start every round with an empty ARP cache, so the peer's ARP for the
	# node's host IP crosses the program in this mode too.
	ip -n "$ns_peer" neigh flush dev "$if_peer"
	if [ "$mode" = adopt ]; then
		ip -n "$ns_node" link set dev "$if_node" xdpgeneric obj "$obj" sec xdp ||
			fail "adopt: iproute2 could not attach $obj"
	fi
	# The previous round's XSK leaves the queue asynchronously (the kernel
	# unbinds its umem after the socket's last reference goes): a bind
	# right after can get EBUSY. Retry that, and only that.
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		ip netns exec "$ns_node" "$helper" "$if_node" "$mode" "$tmp/ready" "$tmp/done" 30 \
			>"$tmp/helper.log" 2>&1 &
		helper_pid=$!
		for _ in $(seq 100); do
			[ -f "$tmp/ready" ] && break
			kill -0 "$helper_pid" 2>/dev/null || break
			sleep 0.1
		done
		[ -f "$tmp/ready" ] && break
		grep -q "Device or resource busy" "$tmp/helper.log" || break
		wait "$helper_pid"; helper_pid=
		echo "  (attempt $attempt: queue still busy from the previous round, retrying)"
		sleep 0.3
	done
	if [ ! -f "$tmp/ready" ]; then
		wait "$helper_pid"; rc=$?; helper_pid=
		[ "$rc" = 77 ] && { cat "$tmp/helper.log"; skip "BPF or AF_XDP not available"; }
		fail "$mode: helper did not get ready (rc $rc)"
	fi
	ip netns exec "$ns_node" ip link show "$if_node" | grep -q "xdp" ||
		fail "$mode: no XDP program on $if_node"

	ip netns exec "$ns_peer" ping -c 3 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
		fail "$mode: the node's kernel did not answer ping with the program attached"

	for _ in 1 2 3; do
		ip netns exec "$ns_peer" bash -c "echo $marker > /dev/udp/10.244.1.5/9999" ||
			fail "$mode: send udp"
		grep -q "got marker" "$tmp/helper.log" && break
		sleep 0.3
	done
	for _ in $(seq 50); do
		grep -q "got marker" "$tmp/helper.log" && break
		sleep 0.1
	done
	grep -q "got marker" "$tmp/helper.log" || fail "$mode: marker frame not received on the XSK"

	ip netns exec "$ns_peer" ping -c 2 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
		fail "$mode: ping after steering failed"
	touch "$tmp/done"
	wait "$helper_pid"; rc=$?; helper_pid=
	[ "$rc" = 0 ] || fail "$mode: helper exit $rc"
	sed 's/^/  /' "$tmp/helper.log"
	if [ "$mode" = adopt ]; then
		# Not ours to detach: the loader that attached it does that.
		ip -n "$ns_node" link show "$if_node" | grep -q "prog/xdp" ||
			fail "adopt: xdp_steer_free() detached an adopted program"
		ip -n "$ns_node" link set dev "$if_node" xdpgeneric off
	fi
	# Nothing of ours is left on the link.
	ip -n "$ns_node" link show "$if_node" | grep -q "prog/xdp" &&
		fail "$mode: program still attached after free"
done
# Round "pmd": DPDK 22.11's af_xdp PMD loads and attaches the object itself
# (xdp_prog=) and puts its own XSK in xsks_map; sluice only adopts and
# configures it. testpmd (rxonly, verbose) must receive exactly the one
# marker datagram and none of the ping/ARP/ND traffic on the same link.
if ! command -v dpdk-testpmd >/dev/null; then
	echo "# mode pmd: not run, no dpdk-testpmd (package dpdk)"
	echo "PASS"
	exit 0
fi
echo "# mode pmd"
rm -f "$tmp"/ready "$tmp"/done "$tmp"/helper.log
ip -n "$ns_peer" neigh flush dev "$if_peer"
mkfifo "$tmp/pmd.in"
exec 7<>"$tmp/pmd.in"
# shellcheck disable=SC2046 # eal-mem holds several words or none
ip netns exec "$ns_node" timeout 60 dpdk-testpmd -l 0,1 --no-pci --in-memory \
	--file-prefix "xsteer$$" $(cat /run/sluice/eal-mem 2>/dev/null) \
	--vdev "net_af_xdp0,iface=$if_node,xdp_prog=$obj" \
	-- -i --total-num-mbufs=4096 <"$tmp/pmd.in" >"$tmp/pmd.log" 2>&1 &
pmd_pid=$!
for _ in $(seq 300); do
	ip -n "$ns_node" link show "$if_node" | grep -q "prog/xdp.*sluice_uplink" && break
	kill -0 "$pmd_pid" 2>/dev/null || break
	sleep 0.1
done
ip -n "$ns_node" link show "$if_node" | grep -q "prog/xdp.*sluice_uplink" || {
	kill "$pmd_pid" 2>/dev/null; wait "$pmd_pid"; pmd_pid=; cat "$tmp/pmd.log"
	fail "pmd: testpmd did not attach sluice_uplink"; }
printf 'set fwd rxonly\nset verbose 1\nstart\n' >&7
ip netns exec "$ns_node" "$helper" "$if_node" pmd "$tmp/ready" "$tmp/done" 30 \
	>"$tmp/helper.log" 2>&1 &
helper_pid=$!
for _ in $(seq 100); do
	[ -f "$tmp/ready" ] && break
	kill -0 "$helper_pid" 2>/dev/null || break
	sleep 0.1
done
[ -f "$tmp/ready" ] || fail "pmd: helper could not adopt the PMD's program"
sleep 0.5
ip netns exec "$ns_peer" ping -c 3 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
	fail "pmd: the node's kernel did not answer ping"
ip netns exec "$ns_peer" bash -c "echo $marker > /dev/udp/10.244.1.5/9999" || fail "pmd: send udp"
sleep 1
ip netns exec "$ns_peer" ping -c 2 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
	fail "pmd: ping after steering failed"
touch "$tmp/done"
wait "$helper_pid"; rc=$?; helper_pid=
[ "$rc" = 0 ] || fail "pmd: helper exit $rc"
sed 's/^/  /' "$tmp/helper.log"
printf 'stop\nquit\n' >&7
wait "$pmd_pid"; rc=$?; pmd_pid=
exec 7>&-
# testpmd prints one "sw ptype" line per received packet (verbose 1):
# exactly one, and it is the 66-byte marker datagram (14+20+8+24).
rx=$(grep -c "sw ptype:" "$tmp/pmd.log")
if [ "$rc" != 0 ] || [ "$rx" != 1 ] ||
	! grep "sw ptype:" "$tmp/pmd.log" | grep -q "length=66 .*L4_UDP"; then
	grep -v "^EAL" "$tmp/pmd.log" | tail -40
	fail "pmd: testpmd rc $rc received $rx packets, want exactly the marker"
fi
echo "  testpmd received the marker, and only it"
# The PMD removes the program it attached when the port closes.
ip -n "$ns_node" link show "$if_node" | grep -q "prog/xdp" &&
	fail "pmd: program still attached after testpmd quit"
echo "PASS"
exit 0
