# netns.sh: netns helpers shared by the dataplane integration tests (sourced).
# Callers keep the names they create in the array MADE_NS and delete them in
# their EXIT trap.

# Turn off tx checksum offload on a netdev: ethtool if present, else the
# legacy ETHTOOL_STXCSUM ioctl (ethtool is not in every base image). dp does
# not complete L4 checksums, so pods must compute them.
tx_csum_off() {
  if command -v ethtool >/dev/null; then ethtool -K "$1" tx off >/dev/null; return; fi
  python3 - "$1" <<'PY'
import ctypes, fcntl, socket, struct, sys
ev = ctypes.create_string_buffer(struct.pack("II", 0x17, 0), 8)  # ETHTOOL_STXCSUM, off
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(ev)) + b"\0" * 16
fcntl.ioctl(socket.socket(), 0x8946, ifr)                        # SIOCETHTOOL
PY
}

# A fresh netns $1 with lo up and IPv6 off (router solicitations would only
# add to dp's drop counters), recorded in MADE_NS.
mkns() {
  ip netns add "$1"; MADE_NS+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# fail_with_logs DIR message...: print "FAIL: <message>" and the last 15
# lines of every DIR/*.log (the caller's scratch directory), then exit 1.
fail_with_logs() {
  local dir=$1; shift
  echo "FAIL: $*" >&2
  for f in "$dir"/*.log; do
    [ -f "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" | tail -15 >&2
  done
  exit 1
}
