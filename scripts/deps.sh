#!/usr/bin/env bash
# Install every build and test dependency of sluice from Debian 12's packages.
# Idempotent: packages already present are skipped by apt; safe to run twice.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config clang llvm
  libdpdk-dev dpdk dpdk-dev
  libbpf-dev libxdp-dev xdp-tools
  libjansson-dev libnanomsg-dev libssl-dev libevent-dev
  libcurl4-openssl-dev libmnl-dev libyaml-dev libcmocka-dev
  libnuma-dev libpcap-dev libelf-dev zlib1g-dev
  iproute2 iputils-ping procps python3 python3-scapy socat iperf3 ethtool
  bpftool linux-libc-dev
  podman runc conmon busybox-static containerd
  etcd-server nftables
  curl
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
